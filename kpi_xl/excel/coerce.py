"""Excel ranges -> engine inputs: the Excel-specific half of input cleaning, done once, here.

The UDFs receive their ranges *raw* (xlwings' ``"raw"`` converter): exactly what the runtime
delivered, with no per-cell conversion by xlwings. That is deliberate. xlwings' default converter
walks every cell in Python, which on xlwings Server (CPython) costs about 27 µs a cell - half a
minute for a whole column - and it turns error cells into blanks unless told otherwise. Reading raw
puts every Excel quirk in this one module and lets it work on whole arrays:

* **Shapes**: a range arrives as a 2-D list (Office.js), a tuple of tuples (classic COM) or, for a
  single cell, a bare value; it is flattened row by row.
* **Blanks**: ``None``, ``""`` and Pyodide's ``JsNull`` are blanks. Blank rows at the bottom of the
  range (a whole-column reference such as ``B:B``) are trimmed before anything else, so they cost
  nothing and are not counted; blanks *inside* the data are kept for the engine, which skips and
  counts them.
* **Error cells**: Office.js sends ``{"type": "Error", "basicValue": "#N/A", ...}``, classic COM an
  integer error code. Both become the error string (``"#N/A"``); by default the first one stops the
  calculation and the function returns that error (:class:`~kpi_xl.excel.errors.ExcelCellError`).
* **Other cell types**: Office.js data-type values (e.g. ``FormattedNumber``) give their
  ``basicValue``. Date cells arrive as serial numbers (Office.js) or datetimes (classic COM, with a
  tzinfo attached by pywin32); the engine reads serials as Excel dates and a datetime by its
  wall-clock time, so both pass through unchanged.
* **Header row**: if the first row is text that is not a valid value for its column (a header such
  as ``Score`` above the scores), it is skipped, so ``=NPS(B:B)`` works with a header in ``B1``.
* **Old Office.js builds that send blanks as 0**: a whole column with no blank at all that ends in
  0 is refused with a message, because blanks and real zeros cannot be told apart there.

Everything else - text numbers, yes/no flags, date text, out-of-range values, and what is blank or
invalid - is decided by the engine's own cleaners (:mod:`kpi_xl.metrics.rules`), never here.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
from collections.abc import Mapping
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from kpi_xl.metrics import KpiInputError, rules
from kpi_xl.metrics.rules import SET_LOCALE, Kind, clean_flags, show_value

from .errors import EXCEL_ERRORS, OFFICE_JS, ExcelCellError, Layout, register_layout

__all__ = [
    "SHEET_ROWS",
    "COM_ERRORS",
    "Kind",
    "read_columns",
    "read_column",
    "read_table",
    "scalar",
    "is_blank",
    "option",
    "required",
    "number",
    "whole",
    "text",
    "flag",
    "choice",
    "column_or_scalar",
    "names",
    "settings",
]

#: Rows in a worksheet: a range this tall is a whole-column reference such as ``B:B``.
SHEET_ROWS = 1_048_576

#: Error codes classic Excel (COM) sends for error cells, as xlwings' Windows engine maps them.
COM_ERRORS = {
    -2146826281: "#DIV/0!",
    -2146826246: "#N/A",
    -2146826259: "#NAME?",
    -2146826288: "#NULL!",
    -2146826252: "#NUM!",
    -2146826265: "#REF!",
    -2146826273: "#VALUE!",
}

#: What a column holds: the engine's one vocabulary (:data:`kpi_xl.metrics.rules.KINDS`), used here
#: to tell a header from data. Numbers (score, amount, count, share), flags and dates are typed;
#: ids, text and labels take any value.
_TYPED: frozenset[str] = rules.NUMBER_KINDS | {"flag", "date"}
#: Kinds whose text (and TRUE/FALSE) cells are read by the rules here, so that the column reaches
#: the engine as float64 (any column of numbers and blanks only does).
_READ: frozenset[str] = rules.NUMBER_KINDS | {"flag"}


def _is_error_dict(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") == "Error"


# Office.js error cells name their error in errorType; basicValue (the "#N/A" text) is there on
# current builds, the map covers a payload without it.
_ERROR_TYPES = {
    "Div0": "#DIV/0!",
    "NotAvailable": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "Spill": "#SPILL!",
    "Calc": "#CALC!",
    "Field": "#FIELD!",
    "Busy": "#BUSY!",
    "GettingData": "#GETTING_DATA",
    "Connect": "#CONNECT!",
    "Blocked": "#BLOCKED!",
}


def _cell(v: Any, office_js: bool) -> Any:
    """One raw cell value as the engine should see it (blanks None, errors their "#..." string)."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    t = type(v)
    if t.__name__ == "JsNull":
        return None
    if t is dict:
        if v.get("type") == "Error":
            return v.get("basicValue") or _ERROR_TYPES.get(v.get("errorType", ""), "#VALUE!")
        return _cell(v.get("basicValue"), office_js)
    if t is int and not office_js and v in COM_ERRORS:
        return COM_ERRORS[v]
    return v


def _flatten(value: Any, argument: str, stop: int | None = None) -> tuple[list[Any], int, int]:
    """(values row by row, rows, columns) of a raw range, tuple of tuples, 2-D list or single value;
    with ``stop``, of its first ``stop`` rows only (read in place: a whole column is not copied)."""
    if value is None:
        return [], 0, 1
    if (
        stop is not None
        and isinstance(value, (list, tuple))
        and value
        and isinstance(value[0], (list, tuple))
    ):
        rows = min(stop, len(value))
        if len(value[0]) == 1:
            try:
                return [v for (v,) in itertools.islice(value, rows)], rows, 1
            except (ValueError, TypeError):
                raise _ragged(argument) from None
        value = value[:rows]
    elif stop is not None:
        value = value[:stop]
    if isinstance(value, np.ndarray):
        rows, width = (value.shape[0], 1) if value.ndim == 1 else value.shape[:2]
        return value.reshape(-1).tolist(), rows, width
    if not isinstance(value, (list, tuple)):
        return [value], 1, 1
    if not value:
        return [], 0, 1
    if not isinstance(value[0], (list, tuple)):
        return list(value), len(value), 1
    if len(value[0]) == 1:
        # A column (the usual case): unpacking each row checks that it holds exactly one cell.
        try:
            return [v for (v,) in value], len(value), 1
        except (ValueError, TypeError):
            raise _ragged(argument) from None
    widths = set(map(len, value))
    if len(widths) != 1:
        raise _ragged(argument)
    return list(itertools.chain.from_iterable(value)), len(value), widths.pop()


def _ragged(argument: str) -> KpiInputError:
    return KpiInputError(f"{argument}: the rows of the range have different lengths", argument=argument)


_TAIL_BLOCK = 4096


def _empty_tail(rows: Any) -> int:
    """How many rows at the end of a raw range are empty: ``""`` (Excel desktop) or None (Excel on
    the web, COM). A whole column arrives with every row down to the bottom of the sheet; these are
    found a block of rows at a time by one list comparison in C, so none of their cells is looked at
    one by one. Anything else in a cell (spaces, an error, a null object) ends the tail."""
    if not isinstance(rows, (list, tuple)) or not rows or not isinstance(rows[0], (list, tuple)):
        return 0
    kind, width = type(rows[0]), len(rows[0])
    empties = [(row, type(rows)([row] * _TAIL_BLOCK)) for row in (kind([""] * width), kind([None] * width))]
    end, before = len(rows), None
    while end != before:  # a tail mixing "" and None rows (and cells: row by row) takes more turns
        before = end
        for row, block in empties:
            while end > _TAIL_BLOCK and rows[end - _TAIL_BLOCK : end] == block:
                end -= _TAIL_BLOCK
            while end > 1 and (rows[end - 1] == row or all(v == "" or v is None for v in rows[end - 1])):
                end -= 1
    return len(rows) - end


def _rows_to_read(ranges: Mapping[str, Any]) -> dict[str, int | None]:
    """How many rows of each range to read (None: all): up to the last row that is not empty in one
    of them (never below one row, so a range keeps its width). The rows left out are blank in every
    range, as reading them would find."""
    tails = {name: _empty_tail(v) for name, v in ranges.items()}
    if not any(tails.values()):
        return dict.fromkeys(ranges)
    keep = max(1, max(len(v) - tails[name] if tails[name] else _rows_of(v) for name, v in ranges.items()))
    return {name: keep if tails[name] else None for name in ranges}


def _rows_of(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.shape[0] if value.ndim else 1
    return len(value) if isinstance(value, (list, tuple)) else 1


# Type classes of raw cells, one byte per cell, found in one pass over the range: numbers, blanks and
# text are told apart without a look at any value; only the rare rest (Office.js dicts, a null
# object, booleans, datetimes, COM error codes) is visited one by one.
_FLOAT, _INT, _BLANK, _TEXT, _BOOL, _OTHER = range(6)
_CLASS: dict[type, int] = {float: _FLOAT, int: _INT, type(None): _BLANK, str: _TEXT, bool: _BOOL}
_COM_CODES = np.array(sorted(COM_ERRORS), dtype=np.float64)
# An object array holds addresses, and CPython's id() is the address: the types of a million cells
# are then told apart by comparing integers, not by a dict lookup per cell (half the time). Checked
# here, so that an interpreter where it does not hold takes the dict lookups.
_ADDRESSES = bool(np.frombuffer(np.array([str], dtype=object).tobytes(), dtype=np.uintp)[0] == id(str))


class _Pointers:
    """An object array's memory seen as integers through numpy's array interface: no copy (a copy
    of a million pointers is 8 MB of fresh pages to fault in); it keeps the object array alive."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        face = values.__array_interface__
        self.__array_interface__ = {
            "version": 3,
            "shape": values.shape,
            "strides": values.strides,
            "typestr": np.dtype(np.uintp).str,
            "data": (face["data"][0], True),
        }


def _addresses(values: np.ndarray) -> np.ndarray:
    """The address (``id``) of each object of an object array, as integers (see ``_ADDRESSES``); a
    read-only view."""
    return np.asarray(_Pointers(values))


def _small_ints() -> tuple[int, int, int] | None:
    """(address of -5, span to the address of 256, log2 of the step) of the one object CPython keeps
    for each int from -5 to 256, when they lie in one array (checked for each of them) at a
    power-of-two step too short for anything else to lie between them; else None."""
    if not _ADDRESSES:
        return None
    first, step = id(-5), id(-4) - id(-5)
    if not 0 < step < 2 * sys.getsizeof(1) or step & (step - 1):
        return None
    if any(id(i) != first + (i + 5) * step for i in range(-5, 257)):
        return None
    return first, 261 * step, step.bit_length() - 1


# Office.js sends whole numbers as ints, and a score column holds only ints that CPython keeps one
# object for: an int object whose address lies in their array is one of them, and its value is where
# it lies. A column of scores is then converted by integer operations on the addresses, not by a
# look at each cell.
_SMALL_INTS = _small_ints()


# Objects CPython keeps one of, so that a cell holding one is told by its own address, not its type:
# a whole column of "" (Excel desktop's empty cells), None (Excel on the web's), TRUE and FALSE.
_SINGLE: tuple[tuple[Any, int], ...] = ((None, _BLANK), ("", _TEXT), (True, _BOOL), (False, _BOOL))


def _classes(flat: list[Any], values: np.ndarray | None = None) -> np.ndarray:
    """The type class of each cell (``_FLOAT`` ... ``_OTHER``) as int8; ``values`` is ``flat`` as
    an object array when the caller has it. Where most cells hold an object CPython keeps one of
    (blanks, booleans, ``""``, the ints of a score column), those are told by their address and the
    types of the others looked at; elsewhere (floats, text) every cell's type is looked at."""
    n = len(flat)
    if not _ADDRESSES:
        return np.fromiter(map(_CLASS.get, map(type, flat), repeat(_OTHER)), dtype=np.int8, count=n)
    if values is None:
        values = np.fromiter(flat, dtype=object, count=n)
    sample = flat[:: max(1, n // 64)]
    if 2 * sum(map(_is_single, sample)) < len(sample):
        # A few dozen cells spread over the range say which way is shorter; both give the same.
        return _type_classes(flat)
    addresses = _addresses(values)
    cls = np.full(n, _OTHER, dtype=np.int8)
    if _SMALL_INTS is not None:
        first, span, _ = _SMALL_INTS
        cls[addresses - np.uintp(first) <= span] = _INT
    for obj, c in _SINGLE:
        cls[addresses == id(obj)] = c
    rest = np.flatnonzero(cls == _OTHER)
    if rest.size:
        cls[rest] = _type_classes(values[rest])
    return cls


def _is_single(v: Any) -> bool:
    """Whether ``v`` is an object told apart by its address in :func:`_classes`."""
    return any(v is obj for obj, _ in _SINGLE) or (
        type(v) is int and _SMALL_INTS is not None and 0 <= id(v) - _SMALL_INTS[0] <= _SMALL_INTS[1]
    )


def _type_classes(cells: Any) -> np.ndarray:
    """The class of each cell by the address of its type (one integer comparison per class)."""
    types = _addresses(np.fromiter(map(type, cells), dtype=object, count=len(cells)))
    cls = np.full(types.size, _OTHER, dtype=np.int8)
    for t, c in _CLASS.items():
        cls[types == id(t)] = c
    return cls


def _numbers(values: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """The int and float cells of an object array as float64, NaN for every other cell (blanks,
    text, booleans: a flag is never taken for 1.0 here)."""
    numeric = cls <= _INT
    ints = cls == _INT
    if _SMALL_INTS is not None and ints.any():
        first, span, shift = _SMALL_INTS
        offset = _addresses(values) - np.uintp(first)  # below the array: wraps to beyond the span
        small = offset <= span
        small &= ints
        np.right_shift(offset, shift, out=offset)
        numbers = offset.view(np.int64).astype(np.float64)
        numbers -= 5
        np.copyto(numbers, np.nan, where=~small)
        numeric &= ~small
    else:
        numbers = np.full(values.size, np.nan)
    rest = np.flatnonzero(numeric)
    if 2 * rest.size > values.size:
        # Mostly floats (amounts, dates): numpy converts the whole array, the other cells set to
        # None (NaN) meanwhile, so that no text is read as a number and no flag as 1.0.
        other = np.flatnonzero(cls > _INT)
        kept = values[other]
        values[other] = None
        try:
            numbers = values.astype(np.float64)
        finally:
            values[other] = kept
    elif rest.size:
        # A few numbers among text or ints CPython has no single object for: only they are
        # converted, whole ones fastest through int64.
        cells = values[rest]
        whole = not (cls[rest] == _FLOAT).any()
        try:
            numbers[rest] = cells.astype(np.int64 if whole else np.float64)
        except OverflowError:
            numbers[rest] = cells.astype(np.float64)
    return numbers


class _Cells:
    """A flattened range: its values, the type class of each cell, and its blank and error masks."""

    def __init__(
        self, value: Any, argument: str, office_js: bool, stop: int | None = None, distinct: bool = True
    ) -> None:
        """``distinct``: find the distinct texts, for :meth:`read` (columns whose text the rules read)."""
        flat, self.rows, self.width = _flatten(value, argument, stop)
        self.argument = argument
        n = len(flat)
        values = np.fromiter(flat, dtype=object, count=n)
        cls = _classes(flat, values)
        del flat
        if not office_js:
            # Classic Excel sends an error cell as an integer code: those ints are looked at below.
            ints = np.flatnonzero(cls == _INT)
            if ints.size:
                cls[ints[np.isin(values[ints].astype(np.float64), _COM_CODES)]] = _OTHER
        other = np.flatnonzero(cls == _OTHER)
        if other.size:
            kinds = set(map(type, values[other]))
            special = [t for t in kinds if t is dict or t.__name__ == "JsNull" or t is int]
            if special:
                type_of = np.fromiter(map(type, values[other]), dtype=object, count=other.size)
                for i in other[np.isin(type_of, special)]:
                    values[i] = v = _cell(values[i], office_js)
                    cls[i] = _CLASS.get(type(v), _OTHER)
        self.error = np.zeros(n, dtype=bool)
        text = np.flatnonzero(cls == _TEXT)
        #: Per cell, which of the distinct texts (``self.texts``) it holds; -1 where no text.
        self.text_code = np.full(n, -1, dtype=np.int32)
        self.texts = np.empty(0, dtype=object)
        if text.size and distinct:
            # Excel desktop sends every empty cell of a range as "": a whole column is a million of
            # them. Each distinct text is looked at once: spaces only is a blank, "#N/A" an error.
            codes, found = pd.factorize(values[text])
            self.texts = np.asarray(found, dtype=object)
            blank = np.array([not t.strip() for t in self.texts], dtype=bool)[codes]
            values[text[blank]] = None
            cls[text[blank]] = _BLANK
            self.error[text] = np.array([t in EXCEL_ERRORS for t in self.texts], dtype=bool)[codes]
            self.text_code[text] = codes
        elif text.size:
            # No text is read as a value here (ids, labels): each text cell is looked at once, in
            # C, for spaces only (a blank) or an error value; finding the distinct texts of a
            # million ids would cost five times as much.
            cells = values[text]
            blank = np.fromiter(map(str.isspace, cells), dtype=bool, count=text.size)
            blank |= cells == ""
            values[text[blank]] = None
            cls[text[blank]] = _BLANK
            self.error[text] = np.fromiter(map(EXCEL_ERRORS.__contains__, cells), dtype=bool, count=text.size)
        self.blank = cls == _BLANK
        #: The numbers among the cells as float64, NaN for every other cell: converted once, for
        #: finding the blank ones (NaN) and for :meth:`read`.
        self.numbers = _numbers(values, cls)
        if not (cls >= _TEXT).any():
            # Only numbers and blanks (the usual case): the float array is the column.
            self.values = self.numbers
            self.blank = np.isnan(self.numbers)
        else:
            self.values = values
            self.blank |= (cls == _FLOAT) & np.isnan(self.numbers)
        self.cls = cls
        #: (positions, cells) of the cells read by the rules in :meth:`read`.
        self.typed: tuple[np.ndarray, np.ndarray] | None = None

    def last_row(self) -> int:
        """Number of rows up to and including the last row with a value."""
        if not self.values.size:
            return 0
        filled = ~self.blank.reshape(self.rows, self.width).all(axis=1)
        hits = np.flatnonzero(filled)
        return int(hits[-1]) + 1 if hits.size else 0

    def check_blanks_as_zero(self) -> None:
        # Some Office.js desktop builds send empty cells as 0 (office-js issues 4702 and 5262). In a
        # whole column that is unmistakable: a million filled cells ending in 0 at the last row of
        # the sheet. Refuse rather than count a million blanks as zeros.
        if self.rows != SHEET_ROWS or self.blank.any() or not self.values.size:
            return
        last = self.values[-1]
        if isinstance(last, (int, float)) and not isinstance(last, bool) and last == 0:
            raise KpiInputError(
                f"{self.argument}: this Excel sent the empty cells of the whole column as 0, so blanks "
                "cannot be told from real zeros; use an Excel Table column (e.g. Responses[Score]) or an "
                "exact range",
                argument=self.argument,
            )

    def cut(self, start_row: int, stop_row: int) -> None:
        lo, hi = start_row * self.width, stop_row * self.width
        self.values, self.blank, self.error = self.values[lo:hi], self.blank[lo:hi], self.error[lo:hi]
        self.cls, self.numbers, self.text_code = self.cls[lo:hi], self.numbers[lo:hi], self.text_code[lo:hi]

    def first_row_cells(self) -> list[tuple[Any, bool, bool]]:
        """(value, blank, error) of each cell in the first row."""
        n = min(self.width, self.values.size)
        return [(self.values[i], bool(self.blank[i]), bool(self.error[i])) for i in range(n)]

    def read(self, kind: str) -> np.ndarray | None:
        """The cells as float64 (NaN for blanks) when every filled cell is a number, or, in a column
        of numbers or flags, a value the engine's rules read as one (number text; yes/no text and
        TRUE/FALSE for flags: :func:`kpi_xl.metrics.rules.verdicts`, once per distinct value); None
        when any other value is there, so that the engine judges every value and names the bad one.
        The text read by the rules is kept as typed (:attr:`typed`), for an error to quote."""
        if self.values.dtype == np.float64:
            return self.values
        cls = self.cls
        if self.error.any() or (cls == _OTHER).any():
            return None
        bools = np.flatnonzero(cls == _BOOL)
        text = np.flatnonzero(cls == _TEXT)
        if kind not in _READ and (bools.size or text.size):
            return None
        if bools.size:
            as_bool = _read(kind, np.array([False, True], dtype=object))
            if as_bool is None:
                return None
        out = self.numbers
        if text.size:
            codes = self.text_code[text]
            used = np.zeros(self.texts.size, dtype=bool)
            used[codes] = True
            as_text = _read(kind, self.texts[used])
            if as_text is None:
                return None
            read = np.full(self.texts.size, np.nan)
            read[used] = as_text
            out[text] = read[codes]
        if bools.size:
            true = _addresses(self.values)[bools] == id(True) if _ADDRESSES else self.values[bools] == True  # noqa: E712
            out[bools] = as_bool[true.astype(np.intp)]
        self.typed = (text, self.texts[self.text_code[text]])
        self.values = out
        return out


# What the rules read a text cell (or TRUE/FALSE in a flag column) as, remembered per column kind and
# locale: a recalculation reads the same few distinct texts again (a column of scores typed as text
# holds eleven), and each call of the rules costs milliseconds of pandas however few texts it gets.
_READ_CACHE: dict[tuple[Any, ...], Any] = {}
_READ_CACHE_SIZE = 1 << 16
#: A column with more distinct texts than this (amounts typed as text) is read without remembering.
_READ_CACHE_MOST = 1 << 12
_NO_NUMBER = object()


def _read(kind: str, cells: np.ndarray) -> np.ndarray | None:
    """Each cell (distinct texts, or booleans) as the number the engine's rules read it as (flags:
    :func:`kpi_xl.metrics.rules.verdicts`, numbers: :func:`kpi_xl.metrics.rules.read_numbers`); None
    as soon as one reads as no number, for the engine to judge the column and name the cell."""
    if cells.size > _READ_CACHE_MOST:
        read = _read_by_rules(kind, cells)
        return read.values.astype(np.float64) if read.valid.all() else None
    context = (kind, rules.current_locale(), rules.current_date_order())
    keys = [(context, type(v), v) for v in cells]
    known = [_READ_CACHE.get(k) for k in keys]
    if any(v is _NO_NUMBER for v in known):
        return None
    missing = [i for i, v in enumerate(known) if v is None]
    if missing:
        read = _read_by_rules(kind, cells[missing])
        if len(_READ_CACHE) + len(missing) > _READ_CACHE_SIZE:
            _READ_CACHE.clear()
        for i, valid, value in zip(missing, read.valid.tolist(), read.values.tolist(), strict=True):
            known[i] = _READ_CACHE[keys[i]] = float(value) if valid else _NO_NUMBER
        if not read.valid.all():
            return None
    return np.array(known, dtype=np.float64)


def _read_by_rules(kind: str, cells: np.ndarray) -> rules.Verdicts:
    return rules.verdicts(cells, "flag") if kind == "flag" else rules.read_numbers(cells)


# Date text whose order the locale decides (03/04/2025): a value, even where it is ambiguous.
_SLASH_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}$")


def _number_like(v: Any) -> bool:
    """Text that reads as a number in some locale (``9,0``, ``12,50``, ``1,234.50``, ``45%``,
    ``1.000``): never a header, whatever the locale in effect says about it."""
    return any(
        read.verdict[0] == "valid" or read.ambiguous[0]
        for read in (rules.read_numbers([v], locale=loc) for loc in (None, "de", "en"))
    )


def _header_like(kind: str, v: Any) -> bool:
    """Whether ``v`` can be a header above a column of this kind: text that is no value of the kind
    by the engine's rules, and looks like no number."""
    return _header_like_in(kind, v, rules.current_locale(), rules.current_date_order())


@functools.lru_cache(maxsize=1024)
def _header_like_in(kind: str, v: Any, locale: str | None, date_order: str | None) -> bool:
    # The answer depends on the text, the kind and the locale in effect only: remembered, so a
    # function recalculated over the same column asks the rules once (a few ms of pandas calls).
    if _number_like(v) or (kind == "date" and _SLASH_DATE.match(str(v).strip())):
        return False
    return rules.verdicts([v], kind, scale=(0, 10) if kind == "score" else None).verdict[0] == "invalid"


def _has_header(cells: Mapping[str, _Cells], kinds: Mapping[str, str]) -> bool:
    """Is the first row a header: text only, and text that is not a value for its column?"""
    firsts = {name: c.first_row_cells() for name, c in cells.items()}
    texts = [(name, v) for name, row in firsts.items() for v, blank, err in row if not blank]
    if not texts or any(not isinstance(v, str) or v in EXCEL_ERRORS for _, v in texts):
        return False
    typed = [(kinds[name], v) for name, v in texts if kinds[name] in _TYPED]
    if typed:
        return all(_header_like(kind, v) for kind, v in typed)
    # Only id or label columns have text in the first row. For a column of numeric ids a text first
    # cell is a header; for text ids or labels a header cannot be told from a value, so none is
    # assumed (docs: pass such columns without their header, e.g. as a Table column reference).
    for name, c in cells.items():
        if kinds[name] == "id":
            filled = ~c.blank[c.width :]
            cls = c.cls[c.width :][filled]
            other = c.values[c.width :][filled][cls == _OTHER]
            if cls.size and not (cls == _TEXT).any() and not any(isinstance(v, str) for v in other):
                return True
    return False


def read_columns(
    ranges: Mapping[str, Any],
    kinds: Mapping[str, Kind],
    *,
    skip_errors: bool = False,
    office_js: bool = OFFICE_JS,
) -> dict[str, np.ndarray]:
    """Read ranges whose rows belong together (e.g. created and resolved dates of each ticket).

    Parameters
    ----------
    ranges:
        Argument name -> raw range, as the UDF received it. With several ranges, each must be one
        column; they are aligned by row.
    kinds:
        Argument name -> what the column holds (see :data:`Kind`), used to recognise a header row.
    skip_errors:
        ``False`` (default): the first error cell stops the calculation; the function returns that
        error. ``True``: error cells are handed to the engine as invalid values (to be skipped and
        counted with ``on_invalid="drop"``); in id and label columns they become blanks, so an
        ``"#N/A"`` is never taken for a customer id.
    office_js:
        Which runtime delivered the values (decides whether an integer can be a COM error code).

    Returns
    -------
    dict
        Argument name -> 1-D numpy array (float64 when the range held only numbers and blanks,
        object otherwise, blanks as NaN/None), trailing blank rows and a header row removed.
    """
    unknown = {kind for kind in kinds.values() if kind not in rules.KINDS}
    if unknown:
        # A wrapper bug, not bad input: a kind outside the engine's vocabulary would silently skip
        # the header check.
        raise ValueError(f"unknown column kind(s) {sorted(unknown)}; use one of {rules.KINDS}")
    stops = _rows_to_read(ranges)
    cells = {
        name: _Cells(value, name, office_js, stops[name], distinct=kinds[name] in _READ)
        for name, value in ranges.items()
    }
    for c in cells.values():
        c.check_blanks_as_zero()
    if len(cells) > 1:
        for name, c in cells.items():
            if c.width != 1:
                raise KpiInputError(
                    f"{name} must be a single column (it has {c.width}); its rows pair with the other ranges",
                    argument=name,
                )
    stop = max((c.last_row() for c in cells.values()), default=0)
    for c in cells.values():
        c.cut(0, min(stop, c.rows))
    first_row = 1
    if stop and _has_header(cells, kinds):
        first_row = 2
        for c in cells.values():
            c.cut(1, c.rows)
    out: dict[str, np.ndarray] = {}
    for name, c in cells.items():
        # Ids, text and labels keep their cells as they came (an id 7 stays the int 7 in outputs).
        numbers = c.read(kinds[name]) if kinds[name] in _TYPED else None
        # Where text was read as a number here, an error quotes the cell as it was typed.
        layout = Layout(first_row=first_row, width=c.width, typed=c.typed)
        register_layout(name, layout)
        if numbers is not None:
            out[name] = numbers
            continue
        if c.error.any():
            if not skip_errors:
                i = int(np.flatnonzero(c.error)[0])
                raise ExcelCellError(str(c.values[i]), name, layout.where(i + 1))
            if kinds[name] not in _TYPED:
                c.values[c.error] = None
        out[name] = c.values
    return out


def same_rows(columns: Mapping[str, np.ndarray]) -> None:
    """Refuse ranges that pair row by row but hold different numbers of rows (after blank tails and a
    header are taken off), naming both, instead of letting a table be built from them."""
    sizes = {name: len(v) for name, v in columns.items()}
    if len(set(sizes.values())) > 1:
        (a, n), (b, k) = sorted(sizes.items(), key=lambda kv: kv[1])[:: len(sizes) - 1]
        raise KpiInputError(
            f"{a} has {n} row(s) but {b} has {k}; these ranges pair row by row: select the same rows in each",
            argument=a,
        )


def read_column(
    value: Any,
    argument: str,
    kind: Kind = "amount",
    *,
    skip_errors: bool = False,
    office_js: bool = OFFICE_JS,
) -> np.ndarray:
    """One range (any shape, read row by row) as a 1-D array for the engine; see :func:`read_columns`."""
    return read_columns({argument: value}, {argument: kind}, skip_errors=skip_errors, office_js=office_js)[
        argument
    ]


def _column_name(i: int) -> str:
    """Column letters of the i-th (0-based) column of a range: A, B, ..., Z, AA."""
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


def read_table(
    value: Any,
    argument: str,
    *,
    used: list[str],
    labels: list[str] = (),
    skip_errors: bool = False,
    office_js: bool = OFFICE_JS,
) -> pd.DataFrame:
    """A range whose first row holds column names (``Responses[#All]``) as a DataFrame.

    Trailing blank rows are dropped. The index is the row of the range (the header is row 1), so an
    engine message naming a row index names the row the user sees. Only the ``used`` columns are
    checked for error cells (an ``#N/A`` in a column the metric does not read does not matter); a
    used column that does not exist is an error listing the columns there are. With ``skip_errors``,
    error cells are left for the engine to skip as invalid, except in ``labels`` columns (segments),
    where they become blanks rather than a group named "#N/A".
    """
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
        # Office.js hands a one-row range (here: a header without data) over as a flat list.
        value = [value]
    c = _Cells(value, argument, office_js)
    if c.rows < 1:
        raise KpiInputError(
            f"{argument} is empty; select the table with its header row", argument=argument, kind="empty"
        )
    header = [("" if b else str(v).strip()) for v, b, _ in c.first_row_cells()]
    names = [h or f"Column{i + 1}" for i, h in enumerate(header)]
    missing = [u for u in used if u not in names]
    if missing:
        raise KpiInputError(
            f"{argument}: column(s) {', '.join(map(repr, missing))} not found in the header row; it has: "
            f"{', '.join(map(repr, names))}",
            argument=argument,
        )
    twice = [u for u in dict.fromkeys(used) if names.count(u) > 1]
    if twice:
        cols = [_column_name(i) for i, n in enumerate(names) if n == twice[0]]
        raise KpiInputError(
            f"{argument}: the header row has {len(cols)} columns named {twice[0]!r} (columns "
            f"{', '.join(cols)} of the range); rename all but one so it is clear which to use",
            argument=argument,
            value=twice[0],
        )
    c.cut(0, c.last_row())
    body = c.values[c.width :].reshape(-1, c.width)
    error = c.error[c.width :].reshape(-1, c.width)
    for j, name in enumerate(names):
        if name in used and error[:, j].any():
            i = int(np.flatnonzero(error[:, j])[0])
            if not skip_errors:
                raise ExcelCellError(str(body[i, j]), argument, f"row {i + 2}, column {name!r}")
            if name in labels:
                body[error[:, j], j] = None
    return pd.DataFrame(body, columns=names, index=pd.RangeIndex(2, body.shape[0] + 2, name="row"))


def scalar(value: Any, argument: str, *, office_js: bool = OFFICE_JS) -> Any:
    """A single-cell argument: the value, ``None`` if blank; an error cell stops the calculation."""
    if isinstance(value, (list, tuple, np.ndarray)):
        flat, rows, width = _flatten(value, argument)
        if len(flat) != 1:
            raise KpiInputError(
                f"{argument} must be a single cell or value, got a range of {rows} x {width} cells",
                argument=argument,
            )
        value = flat[0]
    v = _cell(value, office_js)
    if isinstance(v, str) and v in EXCEL_ERRORS:
        raise ExcelCellError(v, argument, "the cell")
    return v


def is_blank(value: Any, *, office_js: bool = OFFICE_JS) -> bool:
    """True for an omitted argument or a single empty cell (not for a range, even an empty one)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        flat, _, _ = _flatten(value, "value")
        return len(flat) == 1 and _cell(flat[0], office_js) is None
    return _cell(value, office_js) is None


def option(value: Any, argument: str, default: Any = None, *, office_js: bool = OFFICE_JS) -> Any:
    """An optional argument: its value, or ``default`` when left out or blank."""
    v = scalar(value, argument, office_js=office_js)
    return default if v is None else v


def required(value: Any, argument: str, what: str, *, office_js: bool = OFFICE_JS) -> Any:
    """A required single-cell argument; blank is "no data" (``#N/A``), as the engine treats a blank count."""
    v = scalar(value, argument, office_js=office_js)
    if v is None:
        raise KpiInputError(f"{argument} is blank; enter {what}", argument=argument, kind="empty")
    return v


_REQUIRED = object()


def number(value: Any, argument: str, default: Any = _REQUIRED, *, office_js: bool = OFFICE_JS) -> Any:
    """A numeric argument as float (text numbers accepted); ``default`` when blank, if given."""
    v = scalar(value, argument, office_js=office_js)
    if v is None:
        if default is _REQUIRED:
            raise KpiInputError(f"{argument} is blank; enter a number", argument=argument, kind="empty")
        return default
    read = rules.read_numbers([v])
    verdict = read.verdict[0]
    if verdict == "valid":
        return float(read.values[0])
    if verdict == "placeholder":
        # "n/a" typed where a number belongs says "no value", as a blank cell does.
        if default is _REQUIRED:
            raise KpiInputError(
                argument=argument, value=v, kind="empty", reason="means no value; enter a number"
            )
        return default
    if read.ambiguous[0]:
        raise KpiInputError(
            argument=argument, value=v, kind="ambiguous", reason=read.reason[0], hint=SET_LOCALE
        )
    raise KpiInputError(f"{argument} must be a number, got {show_value(v)}", argument=argument, value=v)


def whole(value: Any, argument: str, default: Any = _REQUIRED, *, office_js: bool = OFFICE_JS) -> Any:
    """A whole-number argument as int (3.0 from Excel is 3); ``default`` when blank, if given."""
    v = number(value, argument, default, office_js=office_js)
    if v is default:
        return v
    if v != round(v):
        raise KpiInputError(f"{argument} must be a whole number, got {v:g}", argument=argument, value=v)
    return int(v)


def text(value: Any, argument: str, default: Any = None, *, office_js: bool = OFFICE_JS) -> Any:
    """A text option, trimmed and lower-cased (the engine checks it); ``default`` when blank."""
    v = scalar(value, argument, office_js=office_js)
    return default if v is None else str(v).strip().lower()


def flag(value: Any, argument: str, default: bool, *, office_js: bool = OFFICE_JS) -> bool:
    """A TRUE/FALSE argument (1/0 and yes/no text accepted); ``default`` when blank."""
    v = scalar(value, argument, office_js=office_js)
    if v is None:
        return default
    cleaned = clean_flags([v], argument=argument, on_invalid="drop")
    if not cleaned.values.size:
        raise KpiInputError(
            f"{argument} must be TRUE or FALSE, got {show_value(v)}", argument=argument, value=v
        )
    return bool(cleaned.values[0])


def choice(
    value: Any, argument: str, default: str, choices: tuple[str, ...], *, office_js: bool = OFFICE_JS
) -> str:
    """A text option from ``choices`` (case and surrounding spaces ignored); ``default`` when blank."""
    v = scalar(value, argument, office_js=office_js)
    if v is None:
        return default
    text = str(v).strip().lower()
    if text not in choices:
        raise KpiInputError(
            f"{argument} must be one of {', '.join(repr(c) for c in choices)}, got {show_value(v)}",
            argument=argument,
            value=v,
        )
    return text


def column_or_scalar(
    value: Any,
    argument: str,
    kind: Kind = "amount",
    *,
    skip_errors: bool = False,
    office_js: bool = OFFICE_JS,
) -> Any:
    """A single cell as its value, anything larger as a column: for arguments the engine takes either
    way (a complaint count or a column of complaint flags; a points total or a column of points)."""
    flat, _, _ = _flatten(value, argument)
    if len(flat) == 1:
        return scalar(flat[0], argument, office_js=office_js)
    return read_column(value, argument, kind, skip_errors=skip_errors, office_js=office_js)


def names(value: Any, argument: str, *, office_js: bool = OFFICE_JS) -> list[str]:
    """Column names given as ``"A, B"`` text or as a reference to header cells."""
    if isinstance(value, (list, tuple, np.ndarray)):
        flat, _, _ = _flatten(value, argument)
        cells = [scalar(v, argument, office_js=office_js) for v in flat]
        found = [str(v).strip() for v in cells if v is not None]
    else:
        text = required(value, argument, "the column name(s)", office_js=office_js)
        found = [part.strip() for part in re.split(r"[,;]", str(text))]
    found = [n for n in found if n]
    if not found:
        raise KpiInputError(f"{argument} is blank; enter the column name(s)", argument=argument, kind="empty")
    return found


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _setting(v: Any) -> Any:
    """A setting typed in a cell: a number, TRUE/FALSE, a list of numbers (``1,7``) or text."""
    if isinstance(v, (bool, int, float)):
        return v
    text = str(v).strip()
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and all(_NUMBER_TEXT.match(p) for p in parts):
        return tuple(float(p) for p in parts)
    return float(text) if _NUMBER_TEXT.match(text) else text


def settings(value: Any, argument: str, *, office_js: bool = OFFICE_JS) -> dict[str, Any]:
    """Name/value settings: ``"name=value; name=value"`` text, or a two-column range (names, values).

    Values are read as numbers, TRUE/FALSE, lists of numbers (``"1,7"``) or text; the function that
    receives them checks the names and the values.
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        # Office.js hands a one-row range over as a flat list.
        nested = len(value) and isinstance(value[0], (list, tuple, np.ndarray))
        flat, _, width = _flatten(value if nested else [value], argument)
        if width != 2:
            raise KpiInputError(
                f"{argument}: give name=value text, or a range of two columns (names, values)",
                argument=argument,
            )
        cells = [scalar(v, argument, office_js=office_js) for v in flat]
        pairs = list(zip(cells[0::2], cells[1::2], strict=True))
    else:
        text = option(value, argument, "", office_js=office_js)
        pairs = []
        for item in filter(None, (p.strip() for p in str(text).split(";"))):
            if "=" not in item:
                raise KpiInputError(f"{argument}: {item!r} is not name=value", argument=argument, value=item)
            name, v = item.split("=", 1)
            pairs.append((name.strip(), v.strip()))
    return {str(k).strip(): _setting(v) for k, v in pairs if k is not None and v is not None}
