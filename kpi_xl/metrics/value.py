"""Placeholder: filled in by the value work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
