"""The value rules, public: what each kind of column accepts, and the verdict on every value.

Every face (Excel functions, the template workbook, the command line) decides with these rules, so
the same cell gives the same number, the same n and the same problem everywhere.

Kinds
    ``score`` (a whole number on a scale), ``amount`` (money, 0 or more), ``count`` (a whole number
    of things, 0 or more), ``share`` (a rate or probability from 0 to 1), ``flag`` (yes/no),
    ``date``, ``id`` (a customer or order id: text or a whole number), ``text`` (free text) and
    ``label`` (a segment label; see :func:`label_groups`).

Verdicts
    Each value is ``valid``, ``blank`` (an empty cell), ``placeholder`` (text that means "no
    answer": ``n/a``, ``k.A.``, ``-``, ``keine Angabe`` ..., see :data:`PLACEHOLDERS`; counted and
    listed as such, never called an invalid number) or ``invalid`` (with a reason).

Number text and the locale
    ``"de"`` reads ``1.234,56``, ``"en"`` reads ``1,234.56`` (a culture name such as ``de-DE`` or
    ``en-US`` names one of the two, see :func:`locale_of`). With no locale known, text is read
    when only one reading exists (``9,5``, ``1.234,56``, ``1,234.50``, ``0.125``) and text that
    reads as 1 or as 1000 (``1.000``, ``1,000``) is an error of its own kind, ``"ambiguous"``:
    never a silent 1. With a locale known, a value in the other convention is invalid (a ``9.5``
    in a German column is not silently 95 or 9.5). ``45%`` is 0.45.

Dates as text
    ISO (``2025-12-31``), ``31.12.2025``, ``2025/12/31``, ``YYYYMMDD``, Excel serials, and
    ``a/b/yyyy`` in the locale's order (``en-US`` month first, ``de`` and ``en-GB`` day first);
    with no locale, the column must show the order (a day above 12), or it is ambiguous.

Examples
--------
>>> read_number("1.234,56"), read_number("9,0"), read_number("1,234.50"), read_number("45%")
(1234.56, 9.0, 1234.5, 0.45)
>>> read_number("1.000", locale="de"), read_number("1.000", locale="en")
(1000.0, 1.0)
>>> verdicts(["9", "", "n/a", "ten", 11], "score", scale=(0, 10)).verdict.tolist()
['valid', 'blank', 'placeholder', 'invalid', 'invalid']
>>> label_groups(["North", " north", "South", None, "NORTH "]).tolist()
['North', 'North', 'South', '(blank)', 'North']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from . import _clean, _text
from ._clean import (
    Cleaned,
    OnInvalid,
    Verdicts,
    check_on_invalid,
    clean_dates,
    clean_flags,
    clean_ids,
    clean_numbers,
    clean_scores,
    ids_cleaned_once,
    require_count,
    require_positive,
    require_share,
)
from ._errors import ERROR_KINDS, SET_LOCALE, SKIP_INVALID, ErrorKind, Hint, KpiInputError, show_value
from ._text import (
    ParsedDates,
    ParsedNumbers,
    current_date_order,
    current_locale,
    date_order_of,
    parse_dates,
    parse_numbers,
    use_locale,
)

__all__ = [
    "Kind",
    "KINDS",
    "NUMBER_KINDS",
    "Verdict",
    "VERDICTS",
    "Locale",
    "PLACEHOLDERS",
    "BLANK_TEXT",
    "BLANK_LABEL",
    "ErrorKind",
    "ERROR_KINDS",
    "Hint",
    "SKIP_INVALID",
    "SET_LOCALE",
    "Problem",
    "Verdicts",
    "Cleaned",
    "OnInvalid",
    "ParsedNumbers",
    "ParsedDates",
    "is_placeholder",
    "placeholder_mask",
    "locale_of",
    "date_order_of",
    "use_locale",
    "current_locale",
    "current_date_order",
    "read_number",
    "read_numbers",
    "parse_numbers",
    "parse_dates",
    "verdicts",
    "expected",
    "label_key",
    "label_groups",
    "show_value",
    "check_on_invalid",
    "clean_numbers",
    "clean_scores",
    "clean_flags",
    "clean_dates",
    "clean_ids",
    "ids_cleaned_once",
    "require_positive",
    "require_count",
    "require_share",
]

#: What a column holds. The one vocabulary for every face (Excel argument kinds, file roles, the
#: template's table columns).
Kind = Literal["score", "amount", "count", "share", "flag", "date", "id", "text", "label"]
KINDS: tuple[str, ...] = get_args(Kind)
#: Kinds whose values are numbers.
NUMBER_KINDS = frozenset({"score", "amount", "count", "share"})

Verdict = Literal["valid", "blank", "placeholder", "invalid"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

#: A number convention: ``"de"`` (1.234,56: decimal comma) or ``"en"`` (1,234.56: decimal point).
Locale = Literal["de", "en"]

#: Text that means "no answer" in exports and survey tools (compared after trimming, case-folded):
#: English, German and Chinese forms, dashes, and what programs write for a missing value.
PLACEHOLDERS = _text.PLACEHOLDERS

#: Placeholders and the empty text: what a file reader treats as no value.
BLANK_TEXT = _text.BLANK_TEXT

#: The group of blank segment labels (one name in every face).
BLANK_LABEL = "(blank)"


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` is text meaning "no answer" (``"n/a"``, ``"k. A."``, ``"-"``, ``"無"`` ...)."""
    return isinstance(value, str) and _text.placeholder_key(value) in PLACEHOLDERS


def placeholder_mask(values: Any) -> np.ndarray:
    """Per value of a 1-D input: is it a placeholder?"""
    arr = _clean._as_1d(values, "values")
    return _clean._placeholder_mask(arr)


def locale_of(name: str | None) -> Locale | None:
    """The number convention of a locale or culture name; ``None`` when unknown or not given.

    >>> locale_of("de-DE"), locale_of("en-US"), locale_of("fr_FR"), locale_of("de-CH"), locale_of("")
    ('de', 'en', 'de', 'en', None)
    """
    return _text.locale_of(name)


def read_number(text: Any, *, locale: str | None = None, argument: str = "value") -> float:
    """One value as a number by the rules above; raises :class:`KpiInputError` (kind
    ``"ambiguous"`` for ``1.000`` with no locale) when it is not one."""
    parsed = read_numbers([text], locale=locale)
    if parsed.verdict[0] == "valid":
        return float(parsed.values[0])
    kind = "ambiguous" if parsed.ambiguous[0] else ("empty" if parsed.verdict[0] == "blank" else "invalid")
    reason = parsed.reason[0] or ("is blank" if parsed.verdict[0] == "blank" else "is not a number")
    raise KpiInputError(argument=argument, value=text, kind=kind, reason=reason)


def read_numbers(values: Any, *, locale: str | None = None) -> Verdicts:
    """Number text and numbers -> floats, with a verdict per value (no range rule applied).

    >>> r = read_numbers(["1.234,56", "1,000", " 7 ", "", "k.A.", True])
    >>> r.values[:3].tolist(), r.verdict.tolist()
    ([1234.56, nan, 7.0], ['valid', 'invalid', 'valid', 'blank', 'placeholder', 'invalid'])
    >>> r.reason[1]
    'reads as 1 or as 1000 depending on the locale'
    """
    return _clean.read_numbers(
        _clean._as_1d(values, "values"), locale=_text.locale_of(locale) if locale else None
    )


def expected(kind: str, *, scale: tuple[float, float] | None = None) -> str:
    """What a value of ``kind`` must be, as reasons say it ("a whole-number score from 0 to 10")."""
    if kind == "score":
        if scale is None:
            raise KpiInputError("a score needs its scale", argument="scale")
        return f"a whole-number score from {scale[0]:g} to {scale[1]:g}"
    return {
        "amount": "a finite number that is not negative",
        "count": "a whole number that is not negative",
        "share": "a share from 0 to 1",
        "flag": "a yes/no flag (TRUE/FALSE, 1/0, yes/no)",
        "date": "a date",
        "id": "a customer id (text or a whole number)",
        "text": "text",
        "label": "a label",
    }[kind]


def verdicts(
    values: Any, kind: str, *, scale: tuple[float, float] | None = None, locale: str | None = None
) -> Verdicts:
    """The verdict on every value of a column of ``kind`` (see the module notes).

    Numbers (``score``, ``amount``, ``count``) are read with :func:`read_numbers` and then checked
    against the kind's range; flags, ids and dates by the engine's cleaners; ``text`` and ``label``
    values are valid unless blank or a placeholder.

    >>> v = verdicts([5, -1, "12,50", "n/a"], "amount")
    >>> v.verdict.tolist(), v.reason[1]
    (['valid', 'invalid', 'valid', 'placeholder'], 'is not a finite number that is not negative')
    """
    if kind not in KINDS:
        raise KpiInputError(
            f"kind must be one of {', '.join(KINDS)}, got {kind!r}", argument="kind", value=kind
        )
    loc = _text.locale_of(locale) if locale else None
    return _clean.verdicts(_clean._as_1d(values, "values"), kind, scale=scale, locale=loc)


@dataclass(frozen=True)
class Problem:
    """One value left out of a number, and why: the record every face lists.

    ``source`` is where the data came from (a file, a sheet, an Excel argument), ``row`` the row
    there as the user counts it (1-based; a file's header is row 1), ``column`` the column's name,
    ``verdict`` ``"blank"``, ``"placeholder"`` or ``"invalid"`` and ``reason`` why it was left out.

    >>> str(Problem("orders.csv", 4, "Betrag", "n/a", "is a placeholder for no value", "placeholder"))
    "orders.csv, row 4, column 'Betrag': 'n/a' is a placeholder for no value"
    """

    source: str
    row: int
    column: str
    value: Any
    reason: str
    verdict: str = "invalid"

    def __str__(self) -> str:
        what = "(blank)" if self.verdict == "blank" else show_value(_plain(self.value))
        return f"{self.source}, row {self.row}, column {self.column!r}: {what} {self.reason}"

    def as_dict(self, source_key: str = "source") -> dict[str, Any]:
        """The record as plain values; ``source_key`` names the source as a face calls it
        (``"file"`` on the command line)."""
        return {
            source_key: self.source,
            "row": self.row,
            "column": self.column,
            "value": _plain(self.value),
            "reason": self.reason,
            "verdict": self.verdict,
        }


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def label_key(value: Any) -> str | None:
    """The grouping key of a segment label: trimmed (spaces, tabs, no-break spaces) and case-folded;
    ``None`` for a blank.

    >>> label_key("\\u00a0North "), label_key("STRASSE"), label_key("  ")
    ('north', 'strasse', None)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value == round(value) and math.isfinite(value):
        value = int(value)
    text = str(value).strip()
    return text.casefold() if text else None


def label_groups(labels: Any, weights: Any = None) -> pd.Series:
    """Each label's group, shown by the group's most frequent spelling (ties: the first seen).

    Labels are grouped after trimming surrounding whitespace (no-break spaces too) and
    case-insensitively (:func:`label_key`); blanks form the group :data:`BLANK_LABEL`. A face that
    counts a segment with a formula counts the same rows (``TRIM`` and Excel's case-insensitive
    ``=``). The result keeps ``labels``' index when it is a Series. ``weights`` counts each label as
    that many rows (distinct labels with their row counts, as a database hands them over).
    """
    series = (
        labels if isinstance(labels, pd.Series) else pd.Series(_clean._as_1d(labels, "labels"), dtype=object)
    )
    codes, distinct = pd.factorize(series.astype(object), use_na_sentinel=True)
    keys = np.array([label_key(v) for v in distinct], dtype=object)
    shown = np.array(
        [
            "" if k is None else (str(v.item() if isinstance(v, np.generic) else v)).strip()
            for v, k in zip(distinct, keys, strict=True)
        ],
        dtype=object,
    )
    for i, v in enumerate(distinct):
        if isinstance(v, float) and keys[i] is not None and v == round(v):
            shown[i] = str(int(v))
    # Rows per spelling (after trimming), then the spelling with the most rows per key; on a tie
    # the first seen (factorize numbers the raw values in order of first appearance).
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[codes >= 0]
    per_raw = np.bincount(codes[codes >= 0], weights=w, minlength=len(distinct))
    rows: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], int] = {}
    for i, k in enumerate(keys):
        if k is not None:
            rows[(k, shown[i])] = rows.get((k, shown[i]), 0) + float(per_raw[i])
            first.setdefault((k, shown[i]), i)
    best: dict[str, tuple[str, str]] = {}
    for pair, n in rows.items():
        k = pair[0]
        if k not in best or n > rows[best[k]] or (n == rows[best[k]] and first[pair] < first[best[k]]):
            best[k] = pair
    group_of = np.array(
        [BLANK_LABEL if k is None else best[k][1] for k in keys] + [BLANK_LABEL], dtype=object
    )
    return pd.Series(group_of[codes], index=series.index, dtype=object)
