"""The template workbook: layout, build, refresh, benchmarks, charts and demo data.

``build_template(path, lang="en", empty=False)`` writes the report workbook
(``workbooks/kpi_report.xlsm`` by default; ``python -m kpi_xl.workbook.build`` regenerates it);
``refresh_workbook(path)`` recomputes a saved one headlessly; ``refresh_book(book)`` recomputes
the one open in Excel (what the Refresh button runs).
"""

from typing import Any

from ..safety import check_openpyxl_is_defused

# Refuse to start before openpyxl (imported below) could parse any workbook XML without defusedxml.
check_openpyxl_is_defused()

from .errors import WorkbookError  # noqa: E402
from .layout import DEFAULT_TEMPLATE_NAME  # noqa: E402
from .refresh import RefreshReport, expected_values, refresh_book, refresh_workbook  # noqa: E402

__all__ = [
    "DEFAULT_TEMPLATE_NAME",
    "RefreshReport",
    "WorkbookError",
    "build_template",
    "default_template_path",
    "expected_values",
    "refresh_book",
    "refresh_workbook",
]


def __getattr__(name: str) -> Any:
    # build is imported on first use, so ``python -m kpi_xl.workbook.build`` runs it only once.
    if name in ("build_template", "default_template_path"):
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
