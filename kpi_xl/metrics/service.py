"""Placeholder: filled in by the service work (see kpi_xl/metrics/__init__.py)."""

__all__: list[str] = []
