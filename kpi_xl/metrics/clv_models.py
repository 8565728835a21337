"""Placeholder: filled in by the clv_models work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
