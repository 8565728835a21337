"""Turning user input into clean numeric arrays, once, with the same rules everywhere.

Rules (shared by every metric and by the Excel face, which calls these after flattening a range):

* Blanks are skipped and counted: ``None``, ``NaN``, ``pd.NA``/``NaT``, empty or whitespace-only text.
* Numbers stored as text are numbers: ``"9"``, ``" 10 "``, ``"7.0"``.
* Anything else that is not a valid value (``"ten"``, ``True``, 11 on a 0-10 scale, 9.5 where an
  integer score is needed, inf) is an error by default that names the value and its 1-based
  position; with ``on_invalid="drop"`` it is skipped and counted instead.

Everything is vectorised: a clean float64 array takes a fast path with no Python loop over values.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ._errors import SET_DATE_LOCALE, SET_LOCALE, SKIP_INVALID, Hint, KpiInputError, show_value
from ._far import FAR_REASON, far_dates, far_serial, show_date
from ._text import PLACEHOLDERS, current_date_order, current_locale, placeholder_key, read_number_text

__all__ = [
    "Cleaned",
    "clean_numbers",
    "clean_scores",
    "clean_flags",
    "clean_dates",
    "check_on_invalid",
    "require_positive",
    "require_count",
    "clean_ids",
    "ids_cleaned_once",
    "require_share",
    "read_scalar",
    "Verdicts",
    "read_numbers",
    "verdicts",
]

OnInvalid = Literal["raise", "drop"]


@dataclass(frozen=True)
class Cleaned:
    """Clean values plus what was skipped.

    ``mask`` marks, over the original input, which positions were kept; ``values`` holds the kept
    values in input order.
    """

    values: np.ndarray
    mask: np.ndarray
    n_blank: int
    n_invalid: int
    #: Of ``n_blank``, how many were placeholders for "no answer" (``n/a``, ``k.A.``, ``-`` ...).
    n_placeholder: int = 0

    @property
    def n_dropped(self) -> int:
        return self.n_blank + self.n_invalid


def check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ("raise", "drop"):
        raise KpiInputError(
            f"on_invalid must be 'raise' or 'drop', got {show_value(on_invalid)}", argument="on_invalid"
        )


def _as_1d(values: Any, argument: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        arr = values.to_numpy()
    elif isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        if hasattr(values, "__iter__") and not isinstance(values, (str, bytes, dict)):
            arr = np.asarray(list(values), dtype=object)
        else:
            arr = np.asarray([values], dtype=object)
    else:
        arr = np.asarray(values, dtype=object) if len(values) else np.asarray([], dtype=float)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return arr


# What pandas' one C pass over an object array (``infer_dtype``) says its non-blank values are. A
# column of one kind (all text, all numbers, all dates: the usual case) needs no test per value;
# only mixed columns are tested value by value.
_NUMBERS = frozenset({"floating", "integer", "mixed-integer-float", "decimal"})
_NOT_TEXT_OR_FLAG = _NUMBERS | {"datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "empty"}


_BOOLS = (bool, np.bool_)


def _isinstance(arr: np.ndarray, cls: type | tuple[type, ...]) -> np.ndarray:
    """``isinstance(v, cls)`` for every value: the builtin mapped over the array, no Python frame per
    value (3x faster than a comprehension on a million cells)."""
    return np.fromiter(map(isinstance, arr, repeat(cls)), dtype=bool, count=len(arr))


def _kind(arr: np.ndarray) -> str:
    return infer_dtype(arr, skipna=True)


def _is_text(arr: np.ndarray) -> np.ndarray:
    kind = _kind(arr)
    if kind == "string":
        return ~pd.isna(arr)
    if kind in _NOT_TEXT_OR_FLAG or kind == "boolean" or not arr.size:
        return np.zeros(arr.shape, dtype=bool)
    return _isinstance(arr, str)


def _is_number(arr: np.ndarray) -> np.ndarray:
    """Numbers (not booleans, not NaN: NaN is a blank) in an object array."""
    kind = _kind(arr)
    if kind in _NUMBERS:
        return ~pd.isna(arr)
    if kind in _NOT_TEXT_OR_FLAG or kind in ("string", "boolean") or not arr.size:
        return np.zeros(arr.shape, dtype=bool)
    return _isinstance(arr, (int, float, np.integer, np.floating)) & ~_isinstance(arr, _BOOLS) & ~pd.isna(arr)


def _is_bool(arr: np.ndarray) -> np.ndarray:
    kind = _kind(arr)
    if kind == "boolean":
        return ~pd.isna(arr)
    if kind in _NOT_TEXT_OR_FLAG or kind == "string" or not arr.size:
        return np.zeros(arr.shape, dtype=bool)
    return _isinstance(arr, _BOOLS)


def _blank_mask(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "fc":
        return np.isnan(arr)
    if arr.dtype.kind in "iub":
        return np.zeros(arr.shape, dtype=bool)
    blank = pd.isna(arr)
    if arr.dtype.kind in "US":
        return blank | (np.char.strip(arr) == "")
    if _kind(arr) == "string":
        # Text only: whether a value is spaces only is decided once per distinct value.
        codes, distinct = pd.factorize(arr, use_na_sentinel=True)
        spaces = np.array([not v.strip() for v in distinct] + [False], dtype=bool)
        return blank | spaces[codes]
    is_str = _is_text(arr)
    if is_str.any():
        idx = np.flatnonzero(is_str)
        blank[idx[np.array([not v.strip() for v in arr[idx]], dtype=bool)]] = True
    return blank


def _placeholder_mask(arr: np.ndarray) -> np.ndarray:
    """Text meaning "no answer" (:data:`kpi_xl.metrics.rules.PLACEHOLDERS`), decided per distinct text."""
    if arr.dtype.kind in "fciub" or arr.dtype.kind == "M" or not arr.size:
        return np.zeros(arr.shape, dtype=bool)
    is_str = _is_text(arr) if arr.dtype.kind == "O" else np.ones(arr.shape, dtype=bool)
    out = np.zeros(arr.shape, dtype=bool)
    if is_str.any():
        idx = np.flatnonzero(is_str)
        codes, distinct = pd.factorize(arr[idx].astype(object))
        hit = np.array([placeholder_key(str(v)) in PLACEHOLDERS for v in distinct] + [False], dtype=bool)
        out[idx] = hit[codes]
    return out


def _to_float(
    arr: np.ndarray, locale: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(floats, not_number, ambiguous, reason)``: float values (NaN where not convertible), a mask
    of entries that were not numbers, of number text that reads two ways, and the reason per
    position for text that is no number ("" elsewhere). Text is read by the locale rules of
    :func:`kpi_xl.metrics.rules.read_numbers`, once per distinct text."""
    none = np.zeros(arr.shape, dtype=bool)
    reasons = np.full(arr.shape, "", dtype=object)
    if arr.dtype.kind == "f":
        return arr.astype(np.float64, copy=False), none, none, reasons
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64), none, none, reasons
    if arr.dtype.kind == "b":
        return np.full(arr.shape, np.nan), ~none, none, reasons
    arr = arr.astype(object, copy=False)
    is_bool = _is_bool(arr)
    is_str = _is_text(arr)
    ambiguous = none.copy()
    text_ok = np.zeros(arr.shape, dtype=bool)
    text_val = np.full(arr.shape, np.nan)
    if is_bool.any() or is_str.any():
        arr = arr.copy()
        arr[is_bool] = None
        idx = np.flatnonzero(is_str)
        stripped = np.array([v.strip() for v in arr[idx]], dtype=object)
        filled = stripped != ""
        idx = idx[filled]
        if idx.size:
            codes, distinct = pd.factorize(stripped[filled])
            vals, ok, amb, why = read_number_text(pd.Series(np.asarray(distinct, dtype=object)), locale)
            text_val[idx], text_ok[idx], ambiguous[idx], reasons[idx] = (
                vals[codes],
                ok[codes],
                amb[codes],
                why[codes],
            )
        arr[np.flatnonzero(is_str)] = None
    out = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan, copy=True
    )
    out[text_ok] = text_val[text_ok]
    blank_text = is_str & ~text_ok & (reasons == "")
    bad = is_bool | (np.isnan(out) & ~pd.isna(arr) & ~is_str) | (is_str & ~text_ok & ~blank_text)
    reasons[is_bool] = ""
    return out, bad, ambiguous, reasons


def clean_numbers(
    values: Any,
    *,
    argument: str = "values",
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    allow_negative: bool = True,
    on_invalid: OnInvalid = "raise",
    expected: str | None = None,
    locale: str | None = None,
    hint: Hint | None = None,
) -> Cleaned:
    """Clean a 1-D input of numbers.

    Parameters
    ----------
    values:
        Sequence, numpy array or pandas Series; 2-D input is flattened row by row.
    argument:
        Name used in error messages.
    lo, hi:
        Inclusive bounds; values outside are invalid.
    integer:
        Require whole numbers (survey scores).
    allow_negative:
        When False, negative values are invalid (amounts, counts, durations).
    on_invalid:
        ``"raise"`` (default) raises :class:`KpiInputError` for the first invalid value;
        ``"drop"`` skips and counts invalid values.
    expected:
        Phrase for the error message, e.g. ``"an integer score from 0 to 10"``.
    hint:
        An option of the caller that would make a negative value valid (``allow_negative=True``),
        named before the one that skips it; given only where the rejected value is a negative number
        (text in the other locale's format, say, is not made valid by it).
    locale:
        ``"de"`` or ``"en"``: how number text is read (:mod:`kpi_xl.metrics.rules`); ``None``
        (default) reads text that has one reading only and rejects ``"1.000"`` as ambiguous.
    """
    check_on_invalid(on_invalid)
    arr = _as_1d(values, argument)
    blank = _blanks_if_valid(arr, lo, hi, integer, allow_negative) if arr.dtype == np.float64 else None
    if blank is not None:
        n_blank = int(np.count_nonzero(blank))
        if not n_blank:
            # Nothing to drop: the values are the input itself, read-only so no caller can change it.
            view = arr.view()
            view.flags.writeable = False
            return Cleaned(values=view, mask=np.ones(arr.size, dtype=bool), n_blank=0, n_invalid=0)
        keep = ~blank
        return Cleaned(values=arr[keep], mask=keep, n_blank=n_blank, n_invalid=0)
    if expected is None:
        expected = _expected(lo, hi, integer, allow_negative)
    checked = _number_verdicts(arr, lo, hi, integer, allow_negative, expected, locale or current_locale())
    nums, blank, placeholder, invalid, ambiguous, reasons = checked
    n_invalid = int(invalid.sum())
    if n_invalid and on_invalid == "raise":
        pos = int(np.flatnonzero(invalid)[0])
        made_valid = (hint, SKIP_INVALID) if hint and -np.inf < nums[pos] < 0 else SKIP_INVALID
        raise KpiInputError(
            argument=argument,
            position=pos + 1,
            value=arr[pos],
            kind="ambiguous" if ambiguous[pos] else "invalid",
            reason=reasons[pos],
            hint=SET_LOCALE if ambiguous[pos] else made_valid,
            n_more=n_invalid - 1,
        )
    keep = ~blank & ~placeholder & ~invalid
    return Cleaned(
        values=nums[keep],
        mask=keep,
        n_blank=int(blank.sum() + placeholder.sum()),
        n_invalid=n_invalid,
        n_placeholder=int(placeholder.sum()),
    )


def _expected(lo: float | None, hi: float | None, integer: bool, allow_negative: bool) -> str:
    parts = ["a whole number" if integer else "a finite number"]
    if lo is not None and hi is not None:
        parts.append(f"from {lo:g} to {hi:g}")
    elif not allow_negative or (lo is not None and lo >= 0):
        parts.append("that is not negative")
    return " ".join(parts)


def _number_verdicts(
    arr: np.ndarray,
    lo: float | None,
    hi: float | None,
    integer: bool,
    allow_negative: bool,
    expected: str,
    locale: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(numbers, blank, placeholder, invalid, ambiguous, reason)`` per position of a column of numbers."""
    blank = _blank_mask(arr)
    placeholder = _placeholder_mask(arr) & ~blank
    nums, not_number, ambiguous, reasons = _to_float(arr, locale)
    filled = ~blank & ~placeholder
    # Text the reader could not take says why (ambiguous, the other decimal mark); anything
    # else that is no number, or out of range, is "not <expected>".
    text_reason = filled & not_number & (reasons != "") & (ambiguous | (reasons != "is not a number"))
    invalid = not_number & filled
    with np.errstate(invalid="ignore"):
        invalid |= filled & ~np.isfinite(nums) & ~not_number
        if lo is not None:
            invalid |= filled & (nums < lo)
        if hi is not None:
            invalid |= filled & (nums > hi)
        if integer:
            invalid |= filled & np.isfinite(nums) & (nums != np.round(nums))
        if not allow_negative:
            invalid |= filled & (nums < 0)
    out_reasons = np.full(arr.shape, "", dtype=object)
    out_reasons[invalid] = f"is not {expected}"
    out_reasons[text_reason] = reasons[text_reason]
    return nums, blank, placeholder, invalid, ambiguous & invalid, out_reasons


_CHUNK = 65536


def _blanks_if_valid(
    arr: np.ndarray, lo: float | None, hi: float | None, integer: bool, allow_negative: bool
) -> np.ndarray | None:
    """The blank (NaN) mask of a float64 array whose other values are all valid (finite, in range,
    whole if required); None when one is not, or when every value is blank (the general path then
    names the value, or says there is none). Checked in cache-sized chunks: a clean column (the
    usual case) then costs about as much as reading it twice, instead of a dozen full-size
    temporary masks."""
    if arr.size == 0:
        return None
    bounds = [b for b in (lo, None if allow_negative else 0.0) if b is not None]
    low = max(bounds) if bounds else None
    buf = np.empty(min(arr.size, _CHUNK))
    differ = np.empty(buf.size, dtype=bool)
    blank = np.zeros(arr.size, dtype=bool)
    n_blank = 0
    for start in range(0, arr.size, _CHUNK):
        chunk = arr[start : start + _CHUNK]
        # min/max are NaN when a value is NaN, so this also finds blanks and infinities.
        mn, mx = chunk.min(), chunk.max()
        blanks = 0
        if math.isnan(mn):
            # Blank cells (NaN): the bounds of the other values, and the blanks counted.
            nan = np.isnan(chunk, out=blank[start : start + chunk.size])
            blanks = int(np.count_nonzero(nan))
            if blanks == chunk.size:
                n_blank += blanks
                continue
            mn, mx = np.fmin.reduce(chunk), np.fmax.reduce(chunk)
        if not (math.isfinite(mn) and math.isfinite(mx)):
            return None
        if (low is not None and mn < low) or (hi is not None and mx > hi):
            return None
        if integer:
            whole = np.trunc(chunk, out=buf[: chunk.size])
            # NaN differs from itself, so a chunk is whole when only its blanks differ.
            ne = np.not_equal(whole, chunk, out=differ[: chunk.size])
            if int(np.count_nonzero(ne)) != blanks:
                return None
        n_blank += blanks
    return None if n_blank == arr.size else blank


def clean_scores(
    values: Any,
    *,
    scale: tuple[int, int],
    argument: str = "scores",
    on_invalid: OnInvalid = "raise",
    locale: str | None = None,
) -> Cleaned:
    """Survey scores: whole numbers inside ``scale`` (inclusive)."""
    lo, hi = scale
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise KpiInputError(
            f"scale must be (low, high) with low < high, got {show_value(scale)}", argument="scale"
        )
    return clean_numbers(
        values,
        argument=argument,
        lo=lo,
        hi=hi,
        integer=True,
        on_invalid=on_invalid,
        expected=f"a whole-number score from {lo:g} to {hi:g}",
        locale=locale,
    )


FLAG_EXPECTED = "a yes/no flag (TRUE/FALSE, 1/0, yes/no)"
DATE_EXPECTED = "a date (use a date cell, ISO text like 2025-12-31, or 31.12.2025)"
ID_EXPECTED = "a customer id (use text or a whole number)"

_TRUE_TEXT = {"1", "true", "yes", "y", "x", "ja", "wahr", "t"}
_FALSE_TEXT = {"0", "false", "no", "n", "nein", "falsch", "f"}


def clean_flags(values: Any, *, argument: str = "flags", on_invalid: OnInvalid = "raise") -> Cleaned:
    """Yes/no columns: booleans, 1/0, and the text forms yes/no, true/false, y/n, x, ja/nein.

    Blanks are skipped and counted like everywhere else. Values come back as float 1.0 / 0.0.
    """
    check_on_invalid(on_invalid)
    arr = _as_1d(values, argument)
    if arr.dtype.kind == "b":
        return Cleaned(arr.astype(float), np.ones(arr.shape, bool), 0, 0)
    blank = _blank_mask(arr)
    placeholder = _placeholder_mask(arr) & ~blank
    blank |= placeholder
    out = np.full(arr.shape, np.nan)
    if arr.dtype.kind in "iuf":
        nums = arr.astype(float)
        ok = (nums == 0) | (nums == 1)
        out[ok] = nums[ok]
    else:
        s = pd.Series(arr, dtype=object)
        is_bool = _is_bool(arr)
        out[is_bool] = s[is_bool].astype(float).to_numpy()
        is_num = _is_number(arr)
        nums = s[is_num].astype(float).to_numpy()
        idx = np.flatnonzero(is_num)
        ok = (nums == 0) | (nums == 1)
        out[idx[ok]] = nums[ok]
        is_str = _is_text(arr)
        if is_str.any():
            text = s[is_str].str.strip().str.lower()
            mapped = text.map(lambda t: 1.0 if t in _TRUE_TEXT else (0.0 if t in _FALSE_TEXT else np.nan))
            out[np.flatnonzero(is_str)] = mapped.to_numpy(dtype=float)
    invalid = ~blank & np.isnan(out)
    n_invalid = int(invalid.sum())
    if n_invalid and on_invalid == "raise":
        pos = int(np.flatnonzero(invalid)[0])
        raise KpiInputError(
            argument=argument,
            position=pos + 1,
            value=arr[pos],
            reason=f"is not {FLAG_EXPECTED}",
            hint=SKIP_INVALID,
            n_more=n_invalid - 1,
        )
    keep = ~blank & ~invalid
    return Cleaned(out[keep], keep, int(blank.sum()), n_invalid, int(placeholder.sum()))


# Excel's day zero: serial 1 is 1900-01-01 but Excel counts a fictitious 1900-02-29, so for every
# date after February 1900 the epoch is 1899-12-30.
_EXCEL_EPOCH = np.datetime64("1899-12-30")


def clean_dates(
    values: Any, *, argument: str = "dates", allow_blank: bool = True, on_invalid: OnInvalid = "raise"
) -> tuple[np.ndarray, np.ndarray]:
    """Parse dates: datetimes, ISO text, ``31.12.2025``-style text, or Excel serial numbers.

    Returns ``(datetime64[ns] array with NaT for blanks, blank mask)``. Blanks are allowed where a
    date is optional (a churn date, a resolution time); anything unparseable raises (or, with
    ``on_invalid="drop"``, becomes NaT and is reported as blank by the caller's counts).
    """
    check_on_invalid(on_invalid)
    arr = _as_1d(values, argument)
    if arr.dtype.kind == "M":
        out = arr.astype("datetime64[ns]")
        return out, np.isnat(out)
    blank = _blank_mask(arr)
    blank |= _placeholder_mask(arr)
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    # A column of serial numbers (an Excel range of dates, read as floats) is read as it is; only
    # a column of other values is looked at as objects.
    numeric = arr.dtype.kind in "iuf"
    s = None if numeric else pd.Series(arr, dtype=object)
    is_num = ~blank if numeric else _is_number(arr) & ~blank
    if is_num.any():
        serial = arr[is_num].astype(np.float64) if numeric else s[is_num].astype(float).to_numpy()
        # Serials past 2261 would wrap around to the 1700s in nanoseconds: they stay NaT (far dates).
        far = far_serial(serial)
        ok = np.isfinite(serial) & (serial >= 1) & ~far & (serial < 2958466)
        idx = np.flatnonzero(is_num)
        days = np.round(serial[ok] * 86400.0).astype("int64")
        out[idx[ok]] = (_EXCEL_EPOCH + days.astype("timedelta64[s]")).astype("datetime64[ns]")
        # Whole numbers like 19970101 are far past any Excel serial (9999-12-31 is 2958465): read
        # them as YYYYMMDD, the compact form many exports (and the CDNOW data) use.
        ymd = np.isfinite(serial) & (serial >= 10000101) & (serial <= 99991231) & (serial == np.round(serial))
        ymd &= ~far
        if ymd.any():
            text = pd.Series(serial[ymd].astype(np.int64).astype(str))
            out[idx[ymd]] = pd.to_datetime(text, format="%Y%m%d", errors="coerce").to_numpy(
                dtype="datetime64[ns]"
            )
    rest = ~blank & ~is_num
    ambiguous = np.zeros(arr.shape, dtype=bool)
    if s is not None and rest.any():
        out[np.flatnonzero(rest)], ambiguous[np.flatnonzero(rest)] = _parse_date_objects(s[rest])
    bad = ~blank & np.isnat(out)
    if bad.any() and on_invalid == "raise":
        far = np.flatnonzero(bad)[far_dates(arr[bad])]
        if far.size:
            pos = int(far[0])
            raise KpiInputError(
                argument=argument,
                position=pos + 1,
                value=show_date(arr[pos]),
                reason=FAR_REASON,
                n_more=int(far.size) - 1,
            )
    if bad.any():
        if on_invalid == "raise":
            pos = int(np.flatnonzero(bad)[0])
            raise KpiInputError(
                argument=argument,
                position=pos + 1,
                value=arr[pos],
                kind="ambiguous" if ambiguous[pos] else "invalid",
                reason=AMBIGUOUS_DATE if ambiguous[pos] else f"is not {DATE_EXPECTED}",
                hint=SET_DATE_LOCALE if ambiguous[pos] else None,
                n_more=int(bad.sum()) - 1,
            )
        blank = blank | bad
    if not allow_blank and blank.any():
        pos = int(np.flatnonzero(blank)[0])
        raise KpiInputError(
            argument=argument,
            position=pos + 1,
            value=arr[pos] if _placeholder_mask(arr[pos : pos + 1])[0] else None,
            reason="is blank, but this date is required",
        )
    return out, blank


_DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%Y/%m/%d")
_SLASH_DATE = r"^(\d{1,2})/(\d{1,2})/(\d{4})$"
AMBIGUOUS_DATE = "could be day/month/year or month/day/year"


def _parse_date_objects(sub: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Datetime-like objects and date text -> ``(datetime64[ns], ambiguous)``; NaT where nothing fits.

    Text is tried as ISO 8601 first, then 31.12.2025 and 2025/12/31. ``a/b/yyyy`` is read in the
    order of the locale in effect (en-US month first, de and en-GB day first); with no locale, in the
    order the column shows (a first number above 12 is a day, a second one above 12 is a day), and
    where neither says it (01/02/2025 in a column with no other evidence) the text is ambiguous.
    """
    is_str = _is_text(sub.to_numpy(dtype=object))
    result = pd.Series(pd.NaT, index=sub.index, dtype="datetime64[ns]")
    ambiguous = pd.Series(False, index=sub.index)
    if (~is_str).any():
        objs = sub[~is_str]
        result[objs.index] = _datetimes(objs)
    if is_str.any():
        text = sub[is_str].str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        for fmt in _DATE_FORMATS:
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        todo = parsed.isna()
        if todo.any():
            parts = text[todo].str.extract(_SLASH_DATE)
            slash = parts[0].notna()
            if slash.any():
                parts = parts[slash]
                first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
                order = current_date_order()
                if order is None:
                    shows_dmy, shows_mdy = bool((first > 12).any()), bool((second > 12).any())
                    order = (
                        "dmy"
                        if shows_dmy and not shows_mdy
                        else ("mdy" if shows_mdy and not shows_dmy else None)
                    )
                if order is None:
                    # Each value by itself: a part above 12 is the day; equal parts read the same.
                    day_first = (first > 12) | (first == second)
                    month_first = (second > 12) & ~day_first
                    ambiguous[parts.index[~day_first & ~month_first]] = True
                else:
                    day_first = pd.Series(order == "dmy", index=parts.index)
                    month_first = ~day_first
                day, month = parts[0].where(day_first, parts[1]), parts[1].where(day_first, parts[0])
                stamp = parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
                read = day_first | month_first
                parsed[parts.index[read]] = pd.to_datetime(stamp[read], format="%Y-%m-%d", errors="coerce")
        result[text.index] = _in_range(parsed).astype("datetime64[ns]")
    return result.to_numpy(dtype="datetime64[ns]"), ambiguous.to_numpy(dtype=bool)


def _datetimes(objs: pd.Series) -> pd.Series:
    """Date and datetime objects -> datetime64[ns] (NaT where not a date): in one pandas call, and
    value by value only for what that call could not place (e.g. naive and time-zone-aware
    stamps mixed)."""
    try:
        parsed = pd.to_datetime(objs, errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_localize(None)
        parsed = parsed.astype("datetime64[ns]")
    except (ValueError, TypeError):
        parsed = pd.Series(pd.NaT, index=objs.index, dtype="datetime64[ns]")
    missed = (parsed.isna() & objs.notna()).to_numpy()
    if missed.any():
        again = pd.to_datetime(objs[missed].map(_naive), errors="coerce")
        parsed[missed] = _in_range(again).astype("datetime64[ns]").to_numpy()
    return parsed


def _in_range(stamps: pd.Series) -> pd.Series:
    """NaT for stamps outside datetime64[ns] (1677-2262): pandas reads text like "-1" as the year -1,
    and Excel holds dates up to 9999; such a value is no usable date, and converting it would raise
    instead of reporting it."""
    return stamps.where((stamps >= pd.Timestamp.min) & (stamps <= pd.Timestamp.max))


def _naive(v: Any) -> Any:
    # Timezone-aware stamps (some exports) are compared as wall-clock times.
    tz = getattr(v, "tzinfo", None)
    return v.replace(tzinfo=None) if tz is not None else v


def _reject_bool(x: Any, argument: str) -> None:
    # TRUE/FALSE from a sheet is not the number 1/0 here: a flag where a count belongs is a mistake.
    if isinstance(x, (bool, np.bool_)):
        raise KpiInputError(f"{argument} must be a number, got {show_value(x)}", argument=argument, value=x)


def read_scalar(x: Any, argument: str) -> float:
    """A scalar argument as a float; number text is read by the locale rules (``"1.000"`` with no
    locale is ambiguous, never a silent 1)."""
    _reject_bool(x, argument)
    if isinstance(x, str):
        read = read_numbers(np.array([x], dtype=object))
        if read.ambiguous[0]:
            raise KpiInputError(
                argument=argument, value=x, kind="ambiguous", reason=read.reason[0], hint=SET_LOCALE
            )
        if read.verdict[0] != "valid":
            raise KpiInputError(
                f"{argument} must be a number, got {show_value(x)}", argument=argument, value=x
            )
        return float(read.values[0])
    try:
        return float(x)
    except (TypeError, ValueError):
        raise KpiInputError(f"{argument} must be a number, got {show_value(x)}", argument=argument, value=x)


def require_positive(x: float, argument: str, *, allow_zero: bool = False) -> float:
    """A scalar that must be a finite number > 0 (or >= 0)."""
    v = read_scalar(x, argument)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = "0 or more" if allow_zero else "more than 0"
        kind = "zero-base" if v == 0 else "invalid"
        raise KpiInputError(
            f"{argument} must be {need}, got {show_value(x)}", argument=argument, value=x, kind=kind
        )
    return v


def require_count(x: Any, argument: str, *, allow_zero: bool = True) -> float:
    """A scalar count: a whole number >= 0 (or > 0; a zero denominator is kind "zero-base")."""
    v = require_positive(x, argument, allow_zero=allow_zero)
    if v != math.floor(v):
        raise KpiInputError(
            f"{argument} must be a whole number (a count), got {show_value(x)}", argument=argument, value=x
        )
    return v


def require_share(x: float, argument: str, *, allow_one: bool = True) -> float:
    """A scalar rate in [0, 1] (or [0, 1))."""
    v = read_scalar(x, argument)
    if not np.isfinite(v) or v < 0 or v > 1 or (v == 1 and not allow_one):
        rng = "from 0 to 1" if allow_one else "from 0 up to (not including) 1"
        raise KpiInputError(
            f"{argument} must be a share {rng} (e.g. 0.8 for 80%), got {show_value(x)}",
            argument=argument,
            value=x,
        )
    return v


_BAD_ID = object()


def _id_key(v: Any) -> Any:
    # A number and the same digits stored as text are one customer (Excel reads 1001 as 1001.0,
    # a CSV import may keep "1001"); text keeps its leading zeros, so "0012" is not 12.
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, (bool, np.bool_)):
        return _BAD_ID
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return _BAD_ID
        return str(int(v)) if v == round(v) else repr(float(v))
    return _BAD_ID


# Id columns of text cleaned inside :func:`ids_cleaned_once`: (a copy of the column, the result).
_IdResult = tuple[np.ndarray, np.ndarray, int, int]
_CLEANED_IDS: contextvars.ContextVar[list[tuple[np.ndarray, _IdResult]] | None] = contextvars.ContextVar(
    "kpi_xl_cleaned_ids", default=None
)
_CLEANED_IDS_KEPT = 8


@contextlib.contextmanager
def ids_cleaned_once() -> Iterator[None]:
    """Inside the block, :func:`clean_ids` cleans a column of text ids once: given the same values
    again (compared value by value with a copy kept of the first: a few milliseconds for 500,000
    ids, where cleaning them takes 0.1 s), it returns the first result. A report that computes many
    metrics over one order log (the template's refresh cleans its id columns 49 times) wraps its
    computation in it. The last eight columns are kept, until the block ends.

    >>> with ids_cleaned_once():
    ...     first = clean_ids(["A1", " A1", None])
    ...     again = clean_ids(["A1", " A1", None])
    >>> again[0].tolist(), again[1].tolist(), again[0] is first[0]
    ([0, 0, -1], ['A1'], False)
    """
    token = _CLEANED_IDS.set([])
    try:
        yield
    finally:
        _CLEANED_IDS.reset(token)


def _same_text_ids(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two columns of text-or-missing values hold the same text at the same places (any
    missing value is missing: None and NaN are one blank to :func:`clean_ids`)."""
    if a.shape != b.shape:
        return False
    try:
        equal = np.asarray(a == b, dtype=bool)
    except (TypeError, ValueError):  # pd.NA compares to NA, which is neither true nor false
        return False
    if equal.all():
        return True
    differ = ~equal
    return bool((pd.isna(a[differ]) & pd.isna(b[differ])).all())


def _remembered_text_ids(arr: np.ndarray) -> _IdResult:
    kept = _CLEANED_IDS.get()
    if kept is None:
        return _clean_text_ids(arr)
    for i, (values, result) in enumerate(kept):
        if _same_text_ids(arr, values):
            kept.append(kept.pop(i))
            codes, uniques, n_blank, n_invalid = result
            # Copies: a caller may change what it is given.
            return codes.copy(), uniques.copy(), n_blank, n_invalid
    result = _clean_text_ids(arr)
    kept.append((arr.copy(), result))
    del kept[:-_CLEANED_IDS_KEPT]
    codes, uniques, n_blank, n_invalid = result
    return codes.copy(), uniques.copy(), n_blank, n_invalid


def _clean_text_ids(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """:func:`clean_ids` of an object column whose values are all text or missing (the usual id
    column): the same rule decided once per distinct text after one hashing pass over the column
    (text has no invalid id). The missing cells are set aside first: without them pandas hashes the
    column as text, 3-4x faster than as objects (500,000 order rows are cleaned several times a
    refresh)."""
    present = ~pd.isna(arr)
    raw_codes, distinct = pd.factorize(arr[present])
    keys = np.array([v.strip() for v in distinct], dtype=object)
    skip = np.array([not k or placeholder_key(k) in PLACEHOLDERS for k in keys], dtype=bool)
    key_codes = np.full(keys.size, -1, dtype=np.int64)
    key_codes[~skip], uniques = pd.factorize(keys[~skip])
    codes = np.full(arr.shape, -1, dtype=np.int64)
    codes[present] = key_codes[raw_codes]
    return codes, np.asarray(uniques, dtype=object), int((codes < 0).sum()), 0


def clean_ids(
    values: Any, *, argument: str = "customer_ids", on_invalid: OnInvalid = "raise"
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Customer ids as integer codes: ``(codes with -1 for skipped rows, unique ids, n_blank, n_invalid)``.

    Blanks are skipped and counted; a TRUE/FALSE, an inf or a date is not an id and is invalid.
    """
    check_on_invalid(on_invalid)
    arr = _as_1d(values, argument)
    if arr.dtype.kind == "O" and arr.size and _kind(arr) == "string":
        return _remembered_text_ids(arr)
    blank = _blank_mask(arr)
    blank |= _placeholder_mask(arr)
    if arr.dtype.kind in "iu":
        codes, uniques = pd.factorize(arr)
        return codes.astype(np.int64), np.asarray(uniques), 0, 0
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr) | blank):
        vals = arr[~blank]
        keys = vals.astype(np.int64) if np.all(vals == np.round(vals)) else vals
        codes = np.full(arr.shape, -1, dtype=np.int64)
        sub_codes, uniques = pd.factorize(keys)
        codes[~blank] = sub_codes
        return codes, np.asarray(uniques), int(blank.sum()), 0
    # Each distinct value is turned into its id once (a column of 500,000 orders has a few
    # thousand customers). Booleans are set apart first: hashing makes True and 1 one value.
    is_bool = _is_bool(arr)
    present = ~blank & ~is_bool
    raw_codes, distinct = pd.factorize(arr[present], use_na_sentinel=True)
    distinct_keys = np.array([_id_key(v) for v in distinct], dtype=object)
    bad_distinct = np.array([k is _BAD_ID for k in distinct_keys], dtype=bool)
    invalid = is_bool.copy()
    invalid[np.flatnonzero(present)[bad_distinct[raw_codes]]] = True
    n_invalid = int(invalid.sum())
    if n_invalid and on_invalid == "raise":
        pos = int(np.flatnonzero(invalid)[0])
        raise KpiInputError(
            argument=argument,
            position=pos + 1,
            value=arr[pos],
            reason=f"is not {ID_EXPECTED}",
            hint=SKIP_INVALID,
            n_more=n_invalid - 1,
        )
    # Distinct raw values can share an id (1001, "1001", 1001.0). pandas lists distinct values in
    # order of first appearance, so the ids are numbered in that order too.
    good = ~bad_distinct
    key_codes = np.full(distinct_keys.size, -1, dtype=np.int64)
    key_codes[good], uniques = pd.factorize(distinct_keys[good])
    codes = np.full(arr.shape, -1, dtype=np.int64)
    codes[present] = key_codes[raw_codes]
    return codes, np.asarray(uniques, dtype=object), int(blank.sum()), n_invalid


@dataclass(frozen=True)
class Verdicts:
    """The verdict on each value of a column: ``values`` (floats for number kinds and flags, NaN
    where not valid; datetime64 for dates; integer codes for ids, -1 where not valid; the text
    for text and labels), ``verdict`` and ``reason`` per value (reason "" unless invalid), and
    ``ambiguous`` marking number text that reads two ways (``1.000`` with no locale)."""

    values: np.ndarray
    verdict: np.ndarray
    reason: np.ndarray
    ambiguous: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.verdict == "valid"

    def counts(self) -> dict[str, int]:
        """How many values got each verdict."""
        return {v: int((self.verdict == v).sum()) for v in ("valid", "blank", "placeholder", "invalid")}


def _verdict_array(blank: np.ndarray, placeholder: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    out = np.full(blank.shape, "valid", dtype=object)
    out[invalid] = "invalid"
    out[blank] = "blank"
    out[placeholder] = "placeholder"
    return out


def read_numbers(arr: np.ndarray, *, locale: str | None = None) -> Verdicts:
    """Numbers and number text with a verdict each; no range rule (see :func:`verdicts`)."""
    return verdicts(arr, "number", locale=locale)


def verdicts(
    arr: np.ndarray, kind: str, *, scale: tuple[float, float] | None = None, locale: str | None = None
) -> Verdicts:
    """The verdict on each value for a column of ``kind`` (:data:`kpi_xl.metrics.rules.KINDS`, or
    ``"number"``: any finite number), by the same rules the cleaners apply."""
    arr = _as_1d(arr, "values")
    locale = locale or current_locale()
    none = np.zeros(arr.shape, dtype=bool)
    if kind in ("number", "score", "amount", "count", "share"):
        lo, hi = (
            scale if kind == "score" and scale is not None else ((0, 1) if kind == "share" else (None, None))
        )
        if kind == "score" and scale is None:
            raise KpiInputError("a score column needs its scale", argument="scale")
        expected = {
            "number": "a finite number",
            "score": f"a whole-number score from {lo:g} to {hi:g}" if lo is not None else "",
            "amount": "a finite number that is not negative",
            "count": "a whole number that is not negative",
            "share": "a share from 0 to 1",
        }[kind]
        nums, blank, placeholder, invalid, ambiguous, reasons = _number_verdicts(
            arr, lo, hi, kind in ("score", "count"), kind == "number", expected, locale
        )
        values = np.where(invalid | blank | placeholder, np.nan, nums)
        return Verdicts(values, _verdict_array(blank, placeholder, invalid), reasons, ambiguous)
    blank = _blank_mask(arr)
    placeholder = _placeholder_mask(arr) & ~blank
    reasons = np.full(arr.shape, "", dtype=object)
    if kind == "flag":
        cleaned = clean_flags(arr, on_invalid="drop")
        values = np.full(arr.shape, np.nan)
        values[cleaned.mask] = cleaned.values
        invalid = ~cleaned.mask & ~blank & ~placeholder
        reasons[invalid] = f"is not {FLAG_EXPECTED}"
    elif kind == "date":
        values, missing = clean_dates(arr, on_invalid="drop")
        invalid = missing & ~blank & ~placeholder
        reasons[invalid] = f"is not {DATE_EXPECTED}"
    elif kind == "id":
        values, _, _, _ = clean_ids(arr, on_invalid="drop")
        invalid = (values < 0) & ~blank & ~placeholder
        reasons[invalid] = f"is not {ID_EXPECTED}"
    elif kind in ("text", "label"):
        values = arr
        invalid = none
    else:
        raise KpiInputError(f"unknown kind {kind!r}", argument="kind", value=kind)
    return Verdicts(values, _verdict_array(blank, placeholder, invalid), reasons, none)
