"""Refresh module of ``kpi_report.xlsm`` (the xlwings quickstart convention: same name as the workbook).

The workbook's Refresh button runs the VBA macro ``SampleCall``, which calls
``RunPython "import kpi_report; kpi_report.main()"``; the xlwings ribbon's *Run main* does the same.
Both land in :func:`main`, which refreshes the open workbook through
:func:`kpi_xl.workbook.refresh_book`: the same code as ``kpi-xl refresh kpi_report.xlsm``.

Keep this file next to the workbook and keep the two names alike: a copy named
``my_report.xlsm`` needs a copy of this file named ``my_report.py``.
"""

from __future__ import annotations

import xlwings as xw

from kpi_xl.metrics import KpiInputError
from kpi_xl.workbook import refresh_book


def main() -> None:
    """Refresh the workbook that called: read its Tables, recompute, write the report sheets."""
    book = xw.Book.caller()
    try:
        report = refresh_book(book)
    except KpiInputError as exc:
        # A problem with the workbook or its settings: say what to fix, without a traceback.
        book.app.alert(str(exc), title="kpi-xl: refresh stopped")
        return
    bad = len(report.invalid)
    book.app.status_bar = f"kpi-xl: refreshed from {sum(report.rows_read.values()):,} rows" + (
        f"; {bad} invalid value(s) listed on the start sheet" if bad else ""
    )


if __name__ == "__main__":
    xw.Book("kpi_report.xlsm").set_mock_caller()
    main()
