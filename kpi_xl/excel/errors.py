"""How a failure reaches an Excel cell: engine errors and input error cells -> Excel error values.

The rules (documented for users in ``docs/excel-functions.md``):

* :class:`~kpi_xl.metrics.KpiInputError` of kind ``"empty"`` (no data) is ``#N/A``, kind
  ``"zero-base"`` (a denominator of 0) is ``#DIV/0!``, kinds ``"invalid"`` (bad input) and
  ``"ambiguous"`` (``"1.000"`` with no locale, see :mod:`kpi_xl.excel.culture`) are ``#VALUE!`` with
  the engine's reason, formatted from the error's fields with the row of the range and the Excel
  argument to change. A model given too few customers (``insufficient``) shows its reason too.
* An Excel error found in an input cell (``#N/A`` from a failed lookup, ``#DIV/0!`` ...) is passed
  on unchanged, as ``SUM`` and ``AVERAGE`` do, so the user sees the cause they already know.
* Any other exception is a kpi-xl bug: it is logged with its traceback and shown as ``#VALUE!`` with
  one line naming it; the traceback never lands in a cell.

How the value is delivered depends on the runtime, because the two do different things with what a
function returns or raises (``shared/research/xlwings.md`` section 1.5):

* **Office.js** (xlwings Lite, xlwings Server): a returned ``"#N/A"`` or ``"#DIV/0!"`` string becomes a
  real error cell. A *raised* exception becomes ``#VALUE!`` with its message shown when the user
  hovers over the cell's error flag, which is the only way that runtime shows a reason; so bad
  input raises :class:`xlwings.XlwingsError` (xlwings Server shows the message of that exception
  type even in production, other exceptions only as "Internal Server Error").
* **Classic** (Windows, COM): a raised exception would put the Python traceback in the cell, and a
  returned error string stays text. So nothing is raised: the cell shows ``#N/A`` or ``#DIV/0!`` as
  text, and ``#VALUE! <reason>`` for bad input.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import xlwings as xw

from kpi_xl.metrics import KpiInputError
from kpi_xl.metrics.rules import use_locale

from .culture import excel_locale

__all__ = [
    "EXCEL_ERRORS",
    "ERROR_BY_KIND",
    "OFFICE_JS",
    "ExcelCellError",
    "Layout",
    "register_layout",
    "excel_message",
    "error_result",
    "excel_function",
]

logger = logging.getLogger(__name__)

#: Error values an Excel cell can hold (the classic seven and the dynamic-array era ones).
EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#PYTHON!",
    }
)

#: KpiInputError.kind -> the Excel error a user expects for it.
ERROR_BY_KIND = {"invalid": "#VALUE!", "ambiguous": "#VALUE!", "empty": "#N/A", "zero-base": "#DIV/0!"}

# xlwings picks its decorators once, at import, from XLWINGS_ON_SERVER (xlwings Server, and xlwings
# Lite's Pyodide runtime); the Office.js ones live in xlwings.pro.udfs_officejs. Asking which module
# xw.func came from answers "which runtime will call these functions" exactly as xlwings decided it.
OFFICE_JS: bool = getattr(xw.func, "__module__", "") == "xlwings.pro.udfs_officejs"

# Longest reason shown: the classic function wizard and cell comments cut at 255 characters, and a
# hover message longer than that is not read anyway.
_MAX_MESSAGE = 255


class ExcelCellError(Exception):
    """An input cell holds an Excel error value; the function returns that same error."""

    def __init__(self, code: str, argument: str, where: str) -> None:
        super().__init__(f"{argument}: the cell in {where} holds {code}")
        self.code = code
        self.argument = argument
        self.where = where


@dataclass(frozen=True)
class Layout:
    """Where the values handed to the engine sat in the user's range.

    ``first_row`` is the 1-based row of the range that the first value came from (2 when a header
    row was skipped); ``width`` is the number of columns the values were read across, row by row.
    """

    first_row: int = 1
    width: int = 1
    #: (0-based positions, cells) of text cells that the reader turned into numbers (number text,
    #: yes/no) before the engine saw them: an error there quotes the cell as typed, not the number.
    typed: Any = field(default=None, compare=False, repr=False)

    def typed_cell(self, position: int) -> Any:
        """The cell behind a 1-based position as typed, when it was text read as a number; else None."""
        if self.typed is None:
            return None
        positions, cells = self.typed
        i = int(np.searchsorted(positions, position - 1))
        return cells[i] if i < len(positions) and positions[i] == position - 1 else None

    def where(self, position: int) -> str:
        """'row r' or 'row r, column c' of the range for a 1-based position in the values."""
        index = position - 1 + (self.first_row - 1) * self.width
        row, col = divmod(index, self.width)
        return f"row {row + 1}" if self.width == 1 else f"row {row + 1}, column {col + 1}"


# Layouts of the ranges the current function call has read, by argument name. A context variable
# rather than a global, because classic async UDFs run on threads and Office.js calls on an event
# loop: each call sees only its own ranges.
_LAYOUTS: contextvars.ContextVar[dict[str, Layout] | None] = contextvars.ContextVar(
    "kpi_xl_layouts", default=None
)


def register_layout(argument: str, layout: Layout) -> None:
    """Remember where ``argument``'s values came from, so an error can name the row (coerce calls this)."""
    layouts = _LAYOUTS.get()
    if layouts is not None:
        layouts[argument] = layout


#: How the Excel functions ask for a locale (the engine's hint names a Python context manager).
LOCALE_HINT = "set KPI_XL_LOCALE (e.g. de-DE or en-US) in xlwings.conf or the environment"


def excel_message(
    exc: KpiInputError, *, layouts: dict[str, Layout] | None = None, parameters: frozenset[str] = frozenset()
) -> str:
    """The engine's error in a spreadsheet user's words, built from its fields.

    The position inside the values becomes the row (and column) of the range the user passed; in a
    table (``KPI_BY_SEGMENT``) the row of the table. The engine's hint becomes the Excel argument
    that does the same (``on_invalid='drop'`` is ``skip_invalid`` set to TRUE) when the function
    has it, and is left out when it has not; a locale hint names the setting.
    """
    where: str | None = None
    group_where = ""
    layout = (layouts or {}).get(exc.argument or "")
    if exc.index is not None:
        # KPI_BY_SEGMENT: the table's index is the row of the range; a position inside the segment
        # means nothing on the sheet.
        group_where, where = f" (row {exc.index} of the table)", ""
    elif exc.position is not None and layout is not None:
        where = f"in {layout.where(exc.position)} of the range"
        typed = layout.typed_cell(exc.position)
        if typed is not None:
            exc = exc.with_fields(value=typed)
    hints: list[str] | None = None
    if exc.hints:
        hints = []
        for h in exc.hints:
            option = "skip_invalid" if h.argument == "on_invalid" else h.argument
            if h.argument == "locale":
                hints.append(LOCALE_HINT)
            elif option in parameters:
                hints.append(f"set {option} to TRUE to {h.effect}")
    message = exc.message(where=where, hint=hints, group_where=group_where)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1].rstrip() + "…"
    return message


def error_result(code: str, message: str = "", *, office_js: bool = OFFICE_JS, explain: bool = False) -> str:
    """What a function hands back to Excel for an error ``code`` with an optional reason.

    Office.js: ``#VALUE!`` with a reason raises :class:`xlwings.XlwingsError` (shown on hover);
    everything else is returned as the error string, which xlwings turns into an error cell.
    Classic: returned as text, ``"#VALUE! reason"`` when there is a reason.

    ``explain``: the reason matters more than the code (data were given, but too few for the
    method). Classic shows ``"#N/A reason"``; Office.js, which cannot attach a reason to ``#N/A``,
    raises so that the reason is shown on hover (the cell shows ``#VALUE!``).
    """
    if explain and message:
        if office_js:
            raise xw.XlwingsError(f"{code} {message}")
        return f"{code} {message}"
    if code == "#VALUE!" and message:
        if office_js:
            raise xw.XlwingsError(message)
        return f"#VALUE! {message}"
    return code


_F = TypeVar("_F", bound=Callable[..., Any])


def excel_function(fn: _F) -> _F:
    """Make ``fn`` safe to call from a cell: every failure becomes an Excel error value.

    Apply it directly above the function (below the ``@xw.func``/``@xw.arg`` decorators):
    ``functools.wraps`` keeps the name, docstring and signature xlwings reads for registration.
    """
    parameters = frozenset(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _LAYOUTS.set({})
        try:
            with use_locale(excel_locale()):
                return fn(*args, **kwargs)
        except ExcelCellError as exc:
            return error_result(exc.code)
        except KpiInputError as exc:
            code = ERROR_BY_KIND.get(exc.kind, "#VALUE!")
            message = excel_message(exc, layouts=_LAYOUTS.get(), parameters=parameters)
            return error_result(code, message, explain=exc.insufficient)
        except Exception:  # noqa: BLE001 - a bug must still not put a traceback in a cell
            logger.exception("kpi-xl: %s failed", fn.__name__)
            # Python's own words (a class name, a numpy message) mean nothing in a cell; the log has them.
            return error_result(
                "#VALUE!",
                f"kpi-xl could not compute {fn.__name__}: an unexpected error inside kpi-xl (the details "
                "are in the xlwings log); please report it with the inputs that cause it",
            )
        finally:
            _LAYOUTS.reset(token)

    return wrapper  # type: ignore[return-value]
