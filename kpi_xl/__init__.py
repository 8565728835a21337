"""kpi-xl: customer KPIs for Excel users (engine, Excel functions, template workbook, command line)."""

__version__ = "0.1.0"
