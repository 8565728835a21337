"""Placeholder: filled in by the advocacy work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
