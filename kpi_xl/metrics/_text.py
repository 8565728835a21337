"""Locale-aware numbers and dates, as exports write them.

Numbers: ``1234.56``, ``1,234.56`` (English), ``1234,56``, ``1.234,56`` (German), with currency
signs or codes, spaces or apostrophes as thousands marks, a Unicode minus or accounting
parentheses for negatives. The decimal mark is decided once per column from the values that are
unambiguous (``12,5`` or ``1.234,56`` say comma; ``12.5`` or ``1,234.56`` say dot). A column
where no value decides it (every value like ``1.234``) follows the file's convention: comma for a
``;``-separated CSV, dot otherwise; the choice is reported. Values written in the other convention
than the column's are invalid, never silently read a thousand times too large.

Dates: date cells, ISO text (``2025-12-31``, with a time, ``T`` and an offset, which is converted to
UTC), German ``31.12.2025`` (and ``31.12.25``), ``2025/12/31``, ``YYYYMMDD`` integers (as in CDNOW),
Excel serial numbers, and ``d/m/y`` or ``m/d/y`` once the column shows which (a day above 12);
if no value decides it, the order must be given.

Parsing works on the distinct values of a column (``pandas.factorize``), so a million rows with a few
thousand distinct dates cost a few thousand parses. Blank cells, and the placeholders exports use
for "no value" (``NA``, ``N/A``, ``#N/A``, ``NULL``, ``-``), are blanks, never errors.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._errors import KpiInputError
from ._far import FAR_REASON, FIRST_YEAR, LAST_YEAR, far_dates, far_serial

__all__ = [
    "ParsedNumbers",
    "ParsedDates",
    "parse_numbers",
    "parse_dates",
    "read_number_text",
    "blank_text_mask",
    "placeholder_key",
    "locale_of",
    "date_order_of",
    "BLANK_TEXT",
    "PLACEHOLDERS",
    "current_locale",
    "current_date_order",
    "use_locale",
]

#: Text that means "no answer" (compared by :func:`placeholder_key`: trimmed, inner spaces
#: collapsed, case-folded): what exports and survey tools write in English, German and Chinese,
#: dashes, and what programs write for a missing value.
PLACEHOLDERS = frozenset(
    {
        # English, and programs
        "na", "n/a", "n.a.", "n. a.", "#n/a", "null", "none", "nan", "nat", "unknown", "not available",
        "not applicable", "no answer",
        # German
        "k.a.", "k. a.", "k.a", "keine angabe", "keine angaben", "unbekannt", "entfällt", "n.v.",
        # Chinese (traditional and simplified)
        "無", "无", "不適用", "不适用", "未知", "不詳", "不详",
        # dashes
        "-", "--", "–", "—", "?",
    }
)  # fmt: skip

#: Placeholders and the empty text: what the file readers treat as no value.
BLANK_TEXT = PLACEHOLDERS | {""}


def placeholder_key(text: str) -> str:
    """Text as placeholders are compared: trimmed, inner runs of spaces as one, case-folded."""
    return " ".join(text.split()).casefold()


# Languages that write a decimal comma (1.234,56), and regions of them that write a decimal point.
_COMMA_LANGUAGES = frozenset(
    {
        "de", "fr", "es", "it", "nl", "pt", "ru", "pl", "cs", "sk", "sv", "da", "nb", "nn", "no", "fi", "tr",
        "el", "hu", "ro", "bg", "hr", "sl", "sr", "uk", "lt", "lv", "et", "id", "vi", "ca", "eu", "gl", "is",
    }
)  # fmt: skip
_POINT_LANGUAGES = frozenset(
    {"en", "zh", "ja", "ko", "he", "iw", "th", "hi", "ms", "ta", "te", "bn", "ur", "ar", "fa", "sw", "tl"}
)
_POINT_REGIONS = frozenset({"de-ch", "de-li", "fr-ch", "it-ch", "rm-ch", "es-mx", "es-us", "es-pr"})
# Cultures that write slash dates month first.
_MONTH_FIRST = frozenset({"en-us", "en-ph", "es-us", "en-as", "en-gu", "en-mh", "en-pr", "en-um", "en-vi"})


def _culture(name: str) -> tuple[str, str]:
    full = name.strip().replace("_", "-").lower().split(".")[0]
    return full, full.split("-")[0]


def locale_of(name: str | None) -> str | None:
    """``"de"`` (decimal comma) or ``"en"`` (decimal point) for a locale or culture name."""
    if not name or not str(name).strip():
        return None
    full, language = _culture(str(name))
    if full in _POINT_REGIONS:
        return "en"
    if language in _COMMA_LANGUAGES:
        return "de"
    if language in _POINT_LANGUAGES:
        return "en"
    return None


# The locale of the calculation in progress, set by a face around its call (the Excel functions:
# from the user's setting or the workbook's culture). A context variable, so concurrent calls
# (threads, Office.js' event loop) each see their own.
_LOCALE: contextvars.ContextVar[str | None] = contextvars.ContextVar("kpi_xl_locale", default=None)


def current_locale() -> str | None:
    """The number convention in effect (``"de"``, ``"en"`` or ``None``), see :func:`use_locale`."""
    return locale_of(_LOCALE.get())


def current_date_order() -> str | None:
    """How ``a/b/yyyy`` text is read in the locale in effect (``"dmy"``, ``"mdy"`` or ``None``)."""
    return date_order_of(_LOCALE.get())


@contextlib.contextmanager
def use_locale(name: str | None) -> Iterator[None]:
    """Read number and date text by ``name`` (``"de"``, ``"en-US"`` ...) inside the block."""
    if name is not None and str(name).strip() and locale_of(name) is None:
        raise KpiInputError(
            argument="locale",
            value=name,
            reason="is not a locale (use de, en, or a culture name such as de-DE or en-US)",
        )
    token = _LOCALE.set(name)
    try:
        yield
    finally:
        _LOCALE.reset(token)


def date_order_of(name: str | None) -> str | None:
    """``"mdy"`` or ``"dmy"``: how a culture writes ``a/b/yyyy``; ``None`` when not known (bare
    ``"en"``, which is written both ways)."""
    if not name or not str(name).strip():
        return None
    full, language = _culture(str(name))
    if full in _MONTH_FIRST:
        return "mdy"
    if full == "en":
        return None
    return "dmy" if locale_of(name) is not None else None


_CURRENCY_LEAD = re.compile(r"^([+-]?)\s*(?:[€$£¥]|eur|usd|gbp|chf)\s*", re.IGNORECASE)
_CURRENCY_TAIL = re.compile(r"\s*(?:[€$£¥]|eur|usd|gbp|chf)$", re.IGNORECASE)
_GROUP_SPACE = re.compile(r"(?<=\d)[\s\u00a0\u202f'’](?=\d)")
_PAREN_NEG = re.compile(r"^\((.*)\)$")

# Numbers with an unambiguous decimal mark (the other mark can only be a thousands separator).
_COMMA_DECIMAL = re.compile(
    r"^[+-]?(?:\d{1,3}(?:\.\d{3})+,\d+|\d*,\d{1,2}|\d*,\d{4,}|\d{4,},\d{3}|0,\d+|\d{1,3}(?:\.\d{3}){2,})$"
)
_DOT_DECIMAL = re.compile(
    r"^[+-]?(?:\d{1,3}(?:,\d{3})+\.\d+|\d*\.\d{1,2}|\d*\.\d{4,}|\d{4,}\.\d{3}|0\.\d+|\d{1,3}(?:,\d{3}){2,}"
    r"|\d+(?:\.\d+)?[eE][+-]?\d+)$"
)
_VALID = {
    ",": re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)?(?:,\d+)?$"),
    ".": re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?$"),
}
_EXAMPLE = {",": "1.234,56", ".": "1,234.56"}


def blank_text_mask(text: pd.Series) -> np.ndarray:
    """True where a text value means "no value" (empty, or a placeholder)."""
    return text.map(placeholder_key).isin(BLANK_TEXT).to_numpy(dtype=bool)


@dataclass(frozen=True)
class ParsedNumbers:
    """``values`` (float, NaN where blank or invalid), the ``blank`` and ``invalid`` masks, why each
    invalid value failed (``reason``, aligned, "" elsewhere), and the decimal mark used."""

    values: np.ndarray
    blank: np.ndarray
    invalid: np.ndarray
    reason: np.ndarray
    decimal: str | None
    note: str = ""


@dataclass(frozen=True)
class ParsedDates:
    """``values`` (datetime64[ns], NaT where blank or invalid), masks, reasons, and a note on the
    formats found."""

    values: np.ndarray
    blank: np.ndarray
    invalid: np.ndarray
    reason: np.ndarray
    note: str = ""


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


#: Text of digits, marks and signs only: each step of :func:`_clean_number_text` leaves it as it is
#: (no space, parenthesis, minus sign, currency or group space to take out).
_BARE_NUMBER = r"[0-9.,+-]*"


def _clean_number_text(text: pd.Series) -> pd.Series:
    """Number text without surrounding spaces, currency, group spaces; a parenthesised or U+2212
    minus as ``-``. Most export values are bare numbers, which no step changes: the replacements
    (a Python call per value and step) run on the others only."""
    bare = text.str.fullmatch(_BARE_NUMBER).to_numpy(dtype=bool, na_value=False)
    if bare.all():
        return text
    if bare.any():
        out = text.copy()
        out[~bare] = _clean_number_steps(text[~bare])
        return out
    return _clean_number_steps(text)


def _clean_number_steps(text: pd.Series) -> pd.Series:
    t = text.str.strip().str.replace("\u2212", "-", regex=False)
    neg = t.str.match(_PAREN_NEG)
    t = t.where(~neg, "-" + t.str.slice(1, -1).str.strip())
    # A sign written before the currency sign ("-€12") stays in front of the number.
    t = t.str.replace(_CURRENCY_LEAD, r"\1", regex=True).str.replace(_CURRENCY_TAIL, "", regex=True)
    return t.str.strip().str.replace(_GROUP_SPACE, "", regex=True)


def _decide_decimal(text: pd.Series, default: str) -> tuple[str, str, int, int]:
    comma = int(text.str.match(_COMMA_DECIMAL).sum())
    dot = int(text.str.match(_DOT_DECIMAL).sum())
    if comma > dot:
        return ",", f"decimal comma ({_EXAMPLE[',']})", comma, dot
    if dot > comma:
        return ".", f"decimal point ({_EXAMPLE['.']})", comma, dot
    if comma == dot and comma > 0:
        return (
            default,
            f"mixed decimal marks; read as {_EXAMPLE[default]} (the file's convention)",
            comma,
            dot,
        )
    return (
        default,
        f"decimal mark not visible in the values; read as {_EXAMPLE[default]} (the file's convention)",
        0,
        0,
    )


def parse_numbers(
    values: pd.Series, *, decimal: str | None = None, default_decimal: str = "."
) -> ParsedNumbers:
    """Numbers from an export column, locale-aware.

    Parameters
    ----------
    values:
        One column as read (text from a CSV; numbers, text or other cells from XLSX/Parquet).
    decimal:
        ``","`` or ``"."`` to fix the decimal mark; default: decided from the values.
    default_decimal:
        Used when no value shows the mark (e.g. every value is like ``1.234``).

    Examples
    --------
    >>> parse_numbers(pd.Series(["1.234,56", "12,5", "", "x"])).values.tolist()
    [1234.56, 12.5, nan, nan]
    """
    if decimal not in (None, ",", "."):
        raise KpiInputError(f"decimal must be ',' or '.', got {decimal!r}", argument="decimal", value=decimal)
    n = len(values)
    kind = values.dtype.kind
    if kind in "iuf":
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        blank = np.isnan(out)
        return ParsedNumbers(out, blank, np.zeros(n, bool), np.full(n, "", dtype=object), None)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object))
    u_val = np.full(len(u), np.nan)
    u_blank = np.zeros(len(u), bool)
    u_reason = np.full(len(u), "", dtype=object)
    if isinstance(values.dtype, pd.StringDtype):
        # A text column (every CSV): each distinct value is a string, no call per value to say so.
        is_num, is_str = np.zeros(len(u), bool), np.ones(len(u), bool)
    else:
        is_num = u.map(_is_number).to_numpy(dtype=bool)
        is_str = u.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    u_val[is_num] = u[is_num].astype(np.float64).to_numpy()
    u_blank[is_num] = np.isnan(u_val[is_num])
    other = ~is_num & ~is_str
    u_reason[other] = "is not a number"
    mark = decimal
    note = ""
    if is_str.any():
        text = u[is_str].astype(str)
        blank_t = blank_text_mask(text)
        cleaned = _clean_number_text(text)
        candidates = cleaned[~blank_t]
        if mark is None:
            mark, note, _, _ = _decide_decimal(candidates, default_decimal)
            if not candidates.str.contains(r"[.,]", regex=True).any():
                note = ""
        else:
            note = f"decimal mark given: {_EXAMPLE[mark]}"
        ok = cleaned.str.match(_VALID[mark]) & cleaned.str.contains(r"\d", regex=True) & ~blank_t
        thousands = "." if mark == "," else ","
        plain = cleaned.str.replace(thousands, "", regex=False).str.replace(mark, ".", regex=False)
        parsed = pd.to_numeric(plain.where(ok, None), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        idx = np.flatnonzero(is_str)
        u_val[idx] = parsed
        u_blank[idx] = blank_t
        bad = ~blank_t & ~ok.to_numpy(dtype=bool)
        other_mark = "." if mark == "," else ","
        looks_other = cleaned.str.match(_VALID[other_mark]).to_numpy(dtype=bool)
        u_reason[idx[bad & looks_other]] = (
            f"is written with the other decimal mark; this column uses {_EXAMPLE[mark]}"
        )
        u_reason[idx[bad & ~looks_other]] = "is not a number"
    full_val = np.where(codes >= 0, u_val[np.maximum(codes, 0)], np.nan) if len(u) else np.full(n, np.nan)
    blank = (codes < 0) | (u_blank[np.maximum(codes, 0)] if len(u) else np.ones(n, bool))
    reason = u_reason[np.maximum(codes, 0)] if len(u) else np.full(n, "", dtype=object)
    reason = np.where(codes < 0, "", reason)
    invalid = reason != ""
    return ParsedNumbers(full_val, blank, invalid.astype(bool), reason.astype(object), mark, note)


# One mark followed by exactly three digits after one to three digits not starting with 0: a
# thousands separator in one convention, a decimal mark in the other (1.000 is 1 or 1000).
_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$")
_PERCENT = re.compile(r"\s*%$")


def _plain_number(cleaned: pd.Series, mark: str) -> np.ndarray:
    thousands = "." if mark == "," else ","
    plain = cleaned.str.replace(thousands, "", regex=False).str.replace(mark, ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def read_number_text(
    text: pd.Series, locale: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Number text (no blanks, no placeholders) value by value: ``(values, ok, ambiguous, reason)``.

    ``locale`` ``"de"`` or ``"en"`` fixes the decimal mark and a value in the other convention is
    invalid; with ``None`` each value is read when only one reading exists and is ambiguous when
    it reads two ways (``1.000``). ``45%`` is 0.45. See :mod:`kpi_xl.metrics.rules`.
    """
    n = len(text)
    reason = np.full(n, "", dtype=object)
    cleaned = _clean_number_text(text.astype(str))
    percent = cleaned.str.contains(_PERCENT, regex=True).to_numpy(dtype=bool)
    if percent.any():
        cleaned = cleaned.str.replace(_PERCENT, "", regex=True).str.strip()
    has_digit = cleaned.str.contains(r"\d", regex=True).to_numpy(dtype=bool)
    comma_ok = cleaned.str.match(_VALID[","]).to_numpy(dtype=bool) & has_digit
    dot_ok = cleaned.str.match(_VALID["."]).to_numpy(dtype=bool) & has_digit
    ambiguous = np.zeros(n, dtype=bool)
    values = np.full(n, np.nan)
    if locale in ("de", "en"):
        mark = "," if locale == "de" else "."
        ok = comma_ok if mark == "," else dot_ok
        other = (dot_ok if mark == "," else comma_ok) & ~ok
        values[ok] = _plain_number(cleaned[ok], mark)
        reason[other] = (
            f"is written with the other decimal mark; the locale ({locale}) reads {_EXAMPLE[mark]}"
        )
    else:
        ambiguous = cleaned.str.match(_AMBIGUOUS).to_numpy(dtype=bool)
        # Where both readings are valid and the text has a mark, the mark is the decimal one
        # (0,125 or 0.125: a thousands group never follows a lone 0).
        comma = (
            comma_ok & ~ambiguous & (~dot_ok | cleaned.str.contains(",", regex=False).to_numpy(dtype=bool))
        )
        dot = dot_ok & ~ambiguous & ~comma
        values[comma] = _plain_number(cleaned[comma], ",")
        values[dot] = _plain_number(cleaned[dot], ".")
        ok = comma | dot
        if ambiguous.any():
            a, b = _plain_number(cleaned[ambiguous], "."), _plain_number(cleaned[ambiguous], ",")
            reason[ambiguous] = [
                f"reads as {min(x, y):g} or as {max(x, y):g} depending on the locale"
                for x, y in zip(a, b, strict=True)
            ]
    ok = ok & np.isfinite(values)
    reason[~ok & (reason == "")] = "is not a number"
    values[percent] = values[percent] / 100.0
    values[~ok] = np.nan
    return values, ok, ambiguous, reason


# Excel's day zero: serial 1 is 1900-01-01 but Excel counts a fictitious 1900-02-29, so for every date
# after February 1900 the epoch is 1899-12-30 (the engine's clean_dates uses the same rule).
_EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")
_MAX_SERIAL = 2958466  # 10000-01-01
_MIN_TEXT_SERIAL = 10000  # 1927-05-18


def _four_digit_year(year: pd.Series) -> pd.Series:
    """Two-digit years as pandas' %y reads them: 00-68 -> 20xx, 69-99 -> 19xx."""
    short = year.str.len() == 2
    century = np.where(pd.to_numeric(year, errors="coerce").fillna(0).to_numpy() < 69, "20", "19")
    return year.where(~short, pd.Series(century, index=year.index) + year)


_ISO = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_DOTTED = re.compile(r"^\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_SLASH_YMD = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_DIGITS = re.compile(r"^\d+(?:[.,]\d+)?$")


def _serials_to_dates(serial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Excel serials (or YYYYMMDD integers) -> datetime64[ns]; second array marks unusable values."""
    out = np.full(serial.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    ymd = (serial >= 10000101) & (serial <= 99991231) & (serial == np.floor(serial)) & ~far_serial(serial)
    if ymd.any():
        as_text = pd.Series(serial[ymd].astype(np.int64).astype(str))
        out[ymd] = pd.to_datetime(as_text, format="%Y%m%d", errors="coerce").to_numpy(dtype="datetime64[ns]")
    ser = ~ymd & np.isfinite(serial) & (serial >= 1) & (serial < _MAX_SERIAL) & ~far_serial(serial)
    if ser.any():
        secs = np.round(serial[ser] * 86400.0).astype(np.int64)
        out[ser] = _EXCEL_EPOCH + secs.astype("timedelta64[s]").astype("timedelta64[ns]")
    return out, np.isnat(out)


def _slash_order(text: pd.Series, order: str | None, source: str) -> str:
    parts = text.str.extract(_SLASH)
    first = pd.to_numeric(parts[0]).to_numpy()
    second = pd.to_numeric(parts[1]).to_numpy()
    day_first = bool((first > 12).any())
    month_first = bool((second > 12).any())
    if order is not None:
        return order
    if day_first and month_first:
        raise KpiInputError(
            f"{source}: dates like {text[first > 12].iloc[0]!r} and {text[second > 12].iloc[0]!r} "
            "use both day/month and month/day order; fix the column or give the order (--date-order)",
            argument="date_order",
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    raise KpiInputError(
        f"{source}: dates like {text.iloc[0]!r} could be day/month/year or month/day/year and no value "
        "shows which; give the order (--date-order dmy or --date-order mdy)",
        argument="date_order",
        value=text.iloc[0],
    )


def parse_dates(values: pd.Series, *, order: str | None = None, source: str = "dates") -> ParsedDates:
    """Dates from an export column (see the module notes for the formats).

    Parameters
    ----------
    values:
        One column as read.
    order:
        ``"dmy"`` or ``"mdy"`` for ``a/b/yyyy`` dates when the values do not show it.
    source:
        Column/file name for messages.

    Examples
    --------
    >>> s = pd.Series(["31.12.2025", "2025-12-31", "45657", "19970101", ""])
    >>> [str(d)[:10] for d in parse_dates(s).values]
    ['2025-12-31', '2025-12-31', '2024-12-31', '1997-01-01', 'NaT']
    """
    if order not in (None, "dmy", "mdy"):
        raise KpiInputError(f"date order must be 'dmy' or 'mdy', got {order!r}", argument="date_order")
    n = len(values)
    kind = values.dtype.kind
    if kind == "M":
        naive = values if values.dt.tz is None else values.dt.tz_convert("UTC").dt.tz_localize(None)
        # In the column's own unit first: a Parquet date of 9999-12-31 does not fit nanoseconds.
        own = naive.to_numpy()
        years = own.astype("datetime64[Y]").astype(np.int64) + 1970
        far = ~np.isnat(own) & ((years < FIRST_YEAR) | (years > LAST_YEAR))
        out = np.where(far, np.datetime64("NaT"), own).astype("datetime64[ns]")
        reason = np.where(far, FAR_REASON, "").astype(object)
        return ParsedDates(out, np.isnat(out) & ~far, far, reason)
    if kind in "iuf":
        serial = values.to_numpy(dtype=np.float64, na_value=np.nan)
        blank = np.isnan(serial)
        out, bad = _serials_to_dates(serial)
        invalid = bad & ~blank
        reason = np.where(invalid, "is not an Excel date serial or YYYYMMDD date", "").astype(object)
        reason[invalid & far_serial(serial)] = FAR_REASON
        return ParsedDates(out, blank, invalid, reason)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniques, dtype=object))
    m = len(u)
    u_out = np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]")
    u_blank = np.zeros(m, bool)
    u_reason = np.full(m, "", dtype=object)
    formats: list[str] = []
    # Dates past 2261 (9999-12-31, a typo like 2925) are set apart before any conversion to
    # nanoseconds, which would raise or wrap around.
    far = far_dates(u.to_numpy())
    u_reason[far] = FAR_REASON
    is_dt = u.map(lambda v: isinstance(v, (dt.date, np.datetime64))).to_numpy(dtype=bool) & ~far
    if is_dt.any():
        u_out[is_dt] = pd.to_datetime(u[is_dt].map(pd.Timestamp)).to_numpy(dtype="datetime64[ns]")
        u_blank[is_dt] = np.isnat(u_out[is_dt])
        formats.append("date cells")
    is_num = u.map(_is_number).to_numpy(dtype=bool) & ~far
    if is_num.any():
        serial = u[is_num].astype(np.float64).to_numpy()
        conv, bad = _serials_to_dates(serial)
        idx = np.flatnonzero(is_num)
        u_out[idx] = conv
        u_blank[idx] = np.isnan(serial)
        u_reason[idx[bad & ~np.isnan(serial)]] = "is not an Excel date serial or YYYYMMDD date"
        formats.append("Excel serials")
    is_str = u.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool) & ~far
    if is_str.any():
        idx_all = np.flatnonzero(is_str)
        text = u[is_str].astype(str).str.strip().reset_index(drop=True)
        blank_t = blank_text_mask(text)
        u_blank[idx_all[blank_t]] = True
        parsed = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
        claimed = blank_t.copy()

        def take(mask: np.ndarray, fn, label: str) -> None:
            sel = mask & ~claimed
            if sel.any():
                parsed[sel] = fn(text[sel])
                claimed[sel] = True
                formats.append(label)

        def iso(t: pd.Series) -> np.ndarray:
            has_tz = t.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
            res = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
            if (~has_tz).any():
                res[~has_tz] = pd.to_datetime(t[~has_tz], format="ISO8601", errors="coerce")
            if has_tz.any():
                conv = pd.to_datetime(t[has_tz], format="ISO8601", errors="coerce", utc=True)
                res[has_tz] = conv.dt.tz_localize(None)
            return res.to_numpy(dtype="datetime64[ns]")

        def dotted(t: pd.Series) -> np.ndarray:
            parts = t.str.split(" ", n=1, expand=True)
            day = parts[0].str.split(".", expand=True)
            year = _four_digit_year(day[2])
            stamp = year + "-" + day[1].str.zfill(2) + "-" + day[0].str.zfill(2)
            if parts.shape[1] > 1:
                stamp = stamp + (" " + parts[1]).fillna("")
            return pd.to_datetime(stamp, format="ISO8601", errors="coerce").to_numpy(dtype="datetime64[ns]")

        def slash(t: pd.Series) -> np.ndarray:
            how = _slash_order(t, order, source)
            parts = t.str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?: (.*))?$")
            day, month = (parts[0], parts[1]) if how == "dmy" else (parts[1], parts[0])
            year = _four_digit_year(parts[2])
            stamp = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + (" " + parts[3]).fillna("")
            formats.append("day/month/year" if how == "dmy" else "month/day/year")
            return pd.to_datetime(stamp, format="ISO8601", errors="coerce").to_numpy(dtype="datetime64[ns]")

        def digits(t: pd.Series) -> np.ndarray:
            # A copy: pandas may hand out a read-only view (e.g. of one value), which the next line writes to.
            serial = pd.to_numeric(t.str.replace(",", ".", regex=False), errors="coerce").to_numpy(
                np.float64, copy=True
            )
            # As text, a small number is far more likely a year or a count than a date in 1900-1927.
            serial[serial < _MIN_TEXT_SERIAL] = np.nan
            return _serials_to_dates(serial)[0]

        take(text.str.match(_ISO).to_numpy(dtype=bool), iso, "ISO dates")
        take(text.str.match(_DOTTED).to_numpy(dtype=bool), dotted, "dd.mm.yyyy dates")
        take(
            text.str.match(_SLASH_YMD).to_numpy(dtype=bool),
            lambda t: pd.to_datetime(
                t.str.replace("/", "-", regex=False), format="ISO8601", errors="coerce"
            ).to_numpy(dtype="datetime64[ns]"),
            "yyyy/mm/dd dates",
        )
        take(text.str.match(_SLASH).to_numpy(dtype=bool), slash, "slash dates")
        is_digits = text.str.match(_DIGITS).to_numpy(dtype=bool) & ~claimed
        take(is_digits, digits, "Excel serials or YYYYMMDD text")
        u_out[idx_all] = parsed
        bad = ~blank_t & np.isnat(parsed)
        u_reason[idx_all[bad & claimed]] = "is not a real calendar date"
        u_reason[idx_all[bad & is_digits]] = "is a plain number, not an Excel date serial or YYYYMMDD date"
        u_reason[idx_all[bad & ~claimed]] = "is not a date (use 2025-12-31, 31.12.2025 or a date cell)"
    other = ~is_dt & ~is_num & ~is_str & ~far
    u_reason[other] = "is not a date"
    safe = np.maximum(codes, 0)
    if m:
        out = np.where(codes >= 0, u_out[safe], np.datetime64("NaT"))
        blank = (codes < 0) | u_blank[safe]
        reason = np.where(codes < 0, "", u_reason[safe]).astype(object)
    else:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        blank = np.ones(n, bool)
        reason = np.full(n, "", dtype=object)
    formats = [f for f in formats if f != "slash dates"]
    return ParsedDates(
        out.astype("datetime64[ns]"), blank, reason != "", reason, ", ".join(dict.fromkeys(formats))
    )
