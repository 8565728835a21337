"""Placeholder: filled in by the retention work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
