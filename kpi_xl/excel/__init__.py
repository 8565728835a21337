"""The Excel face of kpi-xl: what sits between an Excel cell and the metric engine.

* :mod:`kpi_xl.excel.coerce` - Excel ranges (2-D lists, blanks, error cells, date serials, header
  rows, whole columns) -> clean engine inputs;
* :mod:`kpi_xl.excel.errors` - engine errors and error cells -> Excel error values, per runtime;
* :mod:`kpi_xl.excel.spill` - engine results -> 2-D arrays with a header row that spill;
* :mod:`kpi_xl.excel.setup` - registering :mod:`kpi_xl.udfs` with Excel (used by ``install.py``).

The functions users call from cells are in :mod:`kpi_xl.udfs`, the module xlwings registers.
"""
