"""Placeholder: filled in by the segments work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
