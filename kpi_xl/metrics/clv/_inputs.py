"""Input checks and pattern compression shared by the CLV fitters and their predict methods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._clean import clean_numbers
from .._errors import KpiInputError

#: Length of each model time unit in days, as the literature measures time: elapsed days / 7 for
#: weeks (Fader, Hardie & Lee 2005; CLVTools), a month the average calendar month (365.25 / 12), a
#: year 365.25 days. The calendar units bucket dates (Monday-Sunday weeks, calendar months) and
#: count whole buckets; their model time is still measured in weeks or months of these lengths.
DAYS_PER_UNIT: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 30.4375,
    "year": 365.25,
    "calendar-week": 7.0,
    "calendar-month": 30.4375,
}

#: What each time unit is called in outputs (the unit of alpha, of a horizon, of recency and T).
UNIT_PLURAL: dict[str, str] = {
    "day": "days",
    "week": "weeks",
    "month": "months",
    "year": "years",
    "calendar-week": "calendar weeks",
    "calendar-month": "calendar months",
}

_UNIT_CHOICES = "'day', 'week', 'month', 'year', 'calendar-week' or 'calendar-month'"

#: The units as the template's languages write them (plurals too), so a German or Chinese
#: workbook can say =CLV_PREDICT(...; "Woche"; ...) as it says everything else in its language.
UNIT_WORDS: dict[str, str] = {
    "days": "day", "weeks": "week", "months": "month", "years": "year",
    "calendar-weeks": "calendar-week", "calendar-months": "calendar-month",
    "tag": "day", "tage": "day", "woche": "week", "wochen": "week", "monat": "month",
    "monate": "month", "jahr": "year", "jahre": "year", "kalenderwoche": "calendar-week",
    "kalenderwochen": "calendar-week", "kalendermonat": "calendar-month", "kalendermonate": "calendar-month",
    "日": "day", "天": "day", "週": "week", "周": "week", "月": "month", "年": "year",
}  # fmt: skip


def check_time_unit(time_unit: Any) -> str:
    """The canonical time unit: one of :data:`DAYS_PER_UNIT`, or its word in English, German or
    Chinese (:data:`UNIT_WORDS`), case and surrounding spaces ignored.

    >>> check_time_unit("Woche"), check_time_unit(" Months "), check_time_unit("週")
    ('week', 'month', 'week')
    """
    if time_unit is None:
        raise KpiInputError(
            f"time_unit is required: say whether recency and T are measured in {_UNIT_CHOICES} "
            "(a model fitted in weeks and read in months is off by 4x)",
            argument="time_unit",
        )
    unit = time_unit.strip().lower().replace("_", "-") if isinstance(time_unit, str) else None
    unit = UNIT_WORDS.get(unit, unit) if unit is not None else None
    if unit not in DAYS_PER_UNIT:
        raise KpiInputError(
            f"time_unit must be {_UNIT_CHOICES}, got {time_unit!r}",
            argument="time_unit",
            value=time_unit,
        )
    return unit


def _columns(
    specs: dict[str, tuple[Any, dict[str, Any]]], *, skip_blank_rows: bool = True
) -> tuple[dict[str, np.ndarray], int]:
    """Clean several aligned per-customer columns with :func:`clean_numbers`.

    For fitting, rows blank in every column (trailing empty rows of an Excel range) are skipped
    and counted. For predictions (``skip_blank_rows=False``) every row must be complete, because
    the output is aligned row by row with the input. A row blank in some columns only is always
    an error naming the column and the row.
    """
    cleaned = {name: clean_numbers(values, argument=name, **rules) for name, (values, rules) in specs.items()}
    sizes = {name: c.mask.size for name, c in cleaned.items()}
    if len(set(sizes.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in sizes.items())
        raise KpiInputError(f"give one value per customer in every column: {described} values")
    if all(c.n_dropped == 0 for c in cleaned.values()):
        # Nothing blank: the cleaned columns are the values themselves (no copies of a million rows).
        return {name: c.values for name, c in cleaned.items()}, 0
    kept = np.vstack([c.mask for c in cleaned.values()])
    all_blank = ~kept.any(axis=0)
    partial = ~kept.all(axis=0) & (~all_blank | (not skip_blank_rows))
    if partial.any():
        pos = int(np.flatnonzero(partial)[0])
        name = next(n for n, c in cleaned.items() if not c.mask[pos])
        raise KpiInputError(
            argument=name, position=pos + 1, reason="is blank; every customer needs " + ", ".join(cleaned)
        )
    out = {}
    for name, c in cleaned.items():
        full = np.full(c.mask.size, np.nan)
        full[c.mask] = c.values
        out[name] = full[~all_blank]
    return out, int(all_blank.sum())


def _rfm_arrays(
    frequency: Any, recency: Any, T: Any, *, skip_blank_rows: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    cols, n_blank = _columns(
        {
            "frequency": (
                frequency,
                {"integer": True, "allow_negative": False, "expected": "a whole number of 0 or more"},
            ),
            "recency": (recency, {"allow_negative": False}),
            "T": (T, {"allow_negative": False}),
        },
        skip_blank_rows=skip_blank_rows,
    )
    x, tx, age = cols["frequency"], cols["recency"], cols["T"]
    _check_rfm_consistency(x, tx, age)
    return x, tx, age, n_blank


def _customers(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer histories to predict for: scalars or aligned columns, every row complete."""
    x, tx, age, _ = _rfm_arrays(
        np.atleast_1d(frequency), np.atleast_1d(recency), np.atleast_1d(T), skip_blank_rows=False
    )
    return x, tx, age


def _check_rfm_consistency(x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> None:
    # Small tolerance: recency and T often arrive rounded to 2 decimals (as in the CDNOW summary).
    bad = tx > age * (1 + 1e-9) + 1e-9
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise KpiInputError(
            argument="recency",
            position=pos + 1,
            value=float(tx[pos]),
            reason=f"is larger than T {age[pos]:g}: the last purchase cannot come after the end of "
            "observation",
        )
    bad = (x == 0) & (tx != 0)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise KpiInputError(
            argument="recency",
            position=pos + 1,
            value=float(tx[pos]),
            reason="must be 0 when frequency is 0 (a customer with no repeat purchase has recency 0)",
        )


def _weights(weights: Any, n_rows: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_rows)
    w = clean_numbers(weights, argument="weights", allow_negative=False)
    if w.n_blank or w.values.size != n_rows:
        raise KpiInputError(
            f"weights must give one count per row ({n_rows} rows), with no blanks; got "
            f"{w.values.size} values and {w.n_blank} blank(s)",
            argument="weights",
        )
    return w.values


def _distinct_rows(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of aligned 1-D columns (in order of first appearance) and, per input row, the
    index of its distinct row. Hash-based (``pandas.factorize``), so linear in the number of rows."""
    n = cols[0].size
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for c in cols:
        codes, uniques = pd.factorize(c)
        if span * max(len(uniques), 1) >= 2**62:
            # The combined key would overflow int64: renumber what it holds so far, compactly.
            key, seen = pd.factorize(key)
            span = len(seen)
        # In place: one key array for any number of customers, not one per step.
        key *= len(uniques)
        key += codes
        del codes
        span *= max(len(uniques), 1)
    inverse, distinct = pd.factorize(key)
    first = np.empty(len(distinct), dtype=np.intp)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    return [c[first] for c in cols], inverse


def _compress(cols: tuple[np.ndarray, ...], weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows with the summed weight of the rows they stand for (zero-weight rows dropped)."""
    keep = weights > 0
    if keep.all():
        distinct, inverse = _distinct_rows(*cols)
        counts = np.bincount(inverse, weights=weights, minlength=distinct[0].size)
    else:
        distinct, inverse = _distinct_rows(*(c[keep] for c in cols))
        counts = np.bincount(inverse, weights=weights[keep], minlength=distinct[0].size)
    return distinct, counts


def _as_output(values: np.ndarray, like: Any) -> Any:
    """Return a Series when the customer input was one (keeping its index), else an array or float."""
    if isinstance(like, pd.Series) and values.ndim == 1 and values.size == like.size:
        return pd.Series(values, index=like.index)
    if values.ndim == 0:
        return float(values)
    return values


def _scalar_if(out: np.ndarray, *inputs: Any) -> np.ndarray:
    """Scalar inputs give a 0-d result (returned as a float)."""
    if all(np.ndim(v) == 0 and not isinstance(v, pd.Series) for v in inputs):
        return out.reshape(())
    return out


def check_fit_data(model_name: str, x: np.ndarray, age: np.ndarray, w: np.ndarray) -> None:
    """Refuse compressed RFM data a purchase model cannot be fitted to: no customers, no repeat
    purchase (the drop-out process is not identified) or every T = 0."""
    if w.sum() <= 0:
        raise KpiInputError(
            f"no customers to fit the {model_name} model to", argument="frequency", kind="empty"
        )
    if not (x > 0).any():
        raise KpiInputError(
            "no customer made a repeat purchase, so the drop-out process cannot be estimated",
            argument="frequency",
            kind="empty",
            insufficient=True,
        )
    if age.max() <= 0:
        raise KpiInputError(
            "every customer has T = 0 (first purchase at the end of observation): nothing to fit",
            argument="T",
            kind="empty",
            insufficient=True,
        )
