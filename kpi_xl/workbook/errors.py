"""The workbook layer's error: a :class:`KpiInputError` about a workbook rather than a value."""

from __future__ import annotations

from ..metrics import KpiInputError

__all__ = ["WorkbookError"]


class WorkbookError(KpiInputError):
    """A workbook cannot be built or refreshed: open in Excel, not a kpi-xl workbook, a missing
    table or column, an invalid setting. The message says what to do about it.

    It is a :class:`KpiInputError`, so the command line reports it like any bad input (exit 2,
    message on stderr, no traceback).
    """
