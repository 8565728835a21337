"""Per-customer RFM summary (frequency, recency, T, mean repeat spend) from a transaction log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._clean import _as_1d, _blank_mask, clean_dates, clean_ids, clean_numbers
from .._errors import KpiInputError
from ._inputs import (
    DAYS_PER_UNIT,
    check_time_unit,
)


def period_index(dates: np.ndarray, unit: str) -> np.ndarray:
    """Integer number of the period each date falls in: its day for the elapsed-time units, its
    Monday-based week for ``"calendar-week"``, its month for ``"calendar-month"``. Purchases in one
    period count once; :func:`period_length` turns period differences into model time."""
    if unit == "calendar-month":
        return dates.astype("datetime64[M]").astype(np.int64)
    days = dates.astype("datetime64[D]").astype(np.int64)
    if unit == "calendar-week":
        # Day 0 (1970-01-01) is a Thursday; shifting by 3 makes every week start on a Monday,
        # the same Monday-Sunday weeks as pandas' "W" periods.
        return (days + 3) // 7
    return days


def period_length(unit: str) -> float:
    """Periods of :func:`period_index` per model time unit: 7 days a week, 30.4375 a month, 365.25
    a year for elapsed time; 1 for calendar buckets (whole weeks or months)."""
    return 1.0 if unit.startswith("calendar-") else DAYS_PER_UNIT[unit]


def rfm_summary(
    customer_ids: Any,
    dates: Any,
    amounts: Any = None,
    *,
    time_unit: str | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    r"""Per-customer frequency, recency, age and mean repeat spend from a transaction log.

    Time is measured as the literature measures it (Fader, Hardie & Lee 2005a; CLVTools): purchases
    are grouped by day (several orders on one day count once, their amounts summed) and times are
    elapsed days divided by the length of ``time_unit`` (7 for ``"week"``, 30.4375 for ``"month"``,
    365.25 for ``"year"``). Per customer, with d the day of a purchase and L that length:

    .. math::

        \text{frequency} &= \#\{\text{days with a purchase}\} - 1 \\
        \text{recency} &= (d_\text{last} - d_\text{first}) / L \\
        T &= (d_\text{observation\_end} - d_\text{first}) / L \\
        \text{monetary\_value} &= \text{mean over repeat days of the day's total spend}

    With ``"calendar-week"`` (Monday-Sunday) or ``"calendar-month"`` purchases are instead grouped
    into those buckets (orders in one bucket count once) and recency and T are whole buckets.

    ``monetary_value`` is 0 for customers without a repeat purchase. The first purchase is left out
    of frequency and monetary value because the BG/NBD and Gamma-Gamma models describe *repeat*
    behaviour. This is lifetimes' ``summary_data_from_transaction_data(..., freq="D",
    freq_multiplier=7)`` for ``"week"``, and its ``freq="W"`` for ``"calendar-week"``.

    Parameters
    ----------
    customer_ids:
        Customer of each transaction (any hashable values: numbers or text).
    dates:
        Date of each transaction: date cells, ISO text, ``31.12.2025`` text or Excel serials. A time
        of day is ignored.
    amounts:
        Optional spend of each transaction (0 or more; net refunds into the order first). Without
        it, there is no ``monetary_value`` column.
    time_unit:
        Required: ``"day"``, ``"week"``, ``"month"``, ``"year"`` (elapsed days / 1, 7, 30.4375,
        365.25), or ``"calendar-week"`` (Monday-Sunday buckets), ``"calendar-month"``.
    observation_end:
        Last day of the observation window; default the latest transaction date. A transaction
        after it is an error (filter the log first), not silently dropped.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), float columns ``frequency``, ``recency``, ``T`` and,
        with amounts, ``monetary_value``. ``attrs`` holds ``time_unit``, ``observation_end``,
        ``n_transactions`` and ``n_dropped`` (fully blank rows skipped).

    Raises
    ------
    KpiInputError
        Missing or unknown ``time_unit``; inputs of different lengths; a blank customer id or date
        in a row that has other values; an unparseable date; a negative or non-numeric amount; a
        transaction after ``observation_end``; no transactions at all (kind ``"empty"``).

    References
    ----------
    Fader, Hardie & Lee (2005a), section 2 (the x, t_x, T summary); lifetimes 0.11.3,
    ``lifetimes.utils.summary_data_from_transaction_data``.

    Examples
    --------
    Customer A buys on Monday 6 Jan 2025 ($10) and Wednesday 8 Jan ($5), then on Monday 20 Jan
    ($20); observation ends Monday 3 Feb. In weeks: two repeat days, frequency 2, recency 14/7 = 2,
    T 28/7 = 4, monetary value (5 + 20) / 2 = $12.50 (the first day's $10 is left out).

    >>> rfm_summary(["A", "A", "A"], ["2025-01-06", "2025-01-08", "2025-01-20"], [10, 5, 20],
    ...             time_unit="week", observation_end="2025-02-03").loc["A"].tolist()
    [2.0, 2.0, 4.0, 12.5]

    In calendar weeks, 6 and 8 Jan are one purchase week: periods 0 and 2, frequency 1, recency 2,
    T 4, monetary value $20 (the first week's $15 is left out).

    >>> rfm_summary(["A", "A", "A"], ["2025-01-06", "2025-01-08", "2025-01-20"], [10, 5, 20],
    ...             time_unit="calendar-week", observation_end="2025-02-03").loc["A"].tolist()
    [1.0, 2.0, 4.0, 20.0]
    """
    unit = check_time_unit(time_unit)
    ids = _as_1d(customer_ids, "customer_ids")
    when, date_blank = clean_dates(dates, argument="dates")
    # The one id rule (trimmed text, 3 and "3 " and 3.0 one customer; placeholders are blanks).
    id_codes, id_uniques, _, _ = clean_ids(ids, argument="customer_ids")
    id_blank = id_codes < 0
    sizes = {"customer_ids": ids.size, "dates": when.size}
    if amounts is not None:
        cleaned = clean_numbers(
            amounts,
            argument="amounts",
            allow_negative=False,
            expected="an amount of 0 or more (net refunds into their order before modelling)",
        )
        sizes["amounts"] = cleaned.mask.size
        amt = np.full(cleaned.mask.size, np.nan)
        amt[cleaned.mask] = cleaned.values
        amt_blank = ~cleaned.mask
    else:
        amt = np.zeros(ids.size)
        amt_blank = np.ones(ids.size, dtype=bool)
    if len(set(sizes.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in sizes.items())
        raise KpiInputError(f"give one value per transaction in every column: {described} values")
    all_blank = id_blank & date_blank & amt_blank
    for name, blank in (
        ("customer_ids", id_blank),
        ("dates", date_blank),
        ("amounts", amt_blank if amounts is not None else np.zeros(ids.size, dtype=bool)),
    ):
        partial = blank & ~all_blank
        if partial.any():
            pos = int(np.flatnonzero(partial)[0])
            raw = _as_1d({"customer_ids": customer_ids, "dates": dates, "amounts": amounts}[name], name)
            placeholder = not _blank_mask(raw[pos : pos + 1])[0]
            raise KpiInputError(
                argument=name,
                position=pos + 1,
                value=raw[pos] if placeholder else None,
                reason=("is a placeholder for no value" if placeholder else "is blank")
                + " but the transaction has other values; every transaction needs a customer, "
                "a date" + (" and an amount" if amounts is not None else ""),
            )
    keep = ~all_blank
    if not keep.any():
        raise KpiInputError("no transactions to summarise", argument="customer_ids", kind="empty")
    ids, when, amt = ids[keep], when[keep], amt[keep]
    rows = np.flatnonzero(keep)

    day = when.astype("datetime64[D]")
    if observation_end is None:
        end_day = day.max()
    else:
        end, end_blank = clean_dates([observation_end], argument="observation_end")
        if end_blank[0]:
            raise KpiInputError(
                "observation_end is blank; leave it out to use the last transaction date",
                argument="observation_end",
            )
        end_day = end.astype("datetime64[D]")[0]
        late = day > end_day
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise KpiInputError(
                argument="dates",
                position=int(rows[i]) + 1,
                value=str(day[i]),
                what=str(day[i]),
                reason=f"is after observation_end {end_day} ({int(late.sum())} transaction(s) are); filter "
                "them out or move observation_end",
            )

    codes = id_codes[keep]
    id_uniques = _whole_number_ids(id_uniques, ids)
    try:
        # Customers in id order where the ids can be ordered (mixed numbers and text cannot:
        # first-seen order then).
        rank = np.argsort(np.argsort(id_uniques, kind="stable"), kind="stable")
        uniques = id_uniques[np.argsort(id_uniques, kind="stable")]
        codes = rank[codes]
    except TypeError:
        uniques = id_uniques
    period = period_index(day, unit)
    end_period = int(period_index(np.array([end_day]), unit)[0])

    length = period_length(unit)
    order = np.lexsort((period, codes))
    c, p, a = codes[order], period[order], amt[order]
    new_pair = np.ones(c.size, dtype=bool)
    new_pair[1:] = (c[1:] != c[:-1]) | (p[1:] != p[:-1])
    pair_start = np.flatnonzero(new_pair)
    pair_c, pair_p = c[pair_start], p[pair_start]
    pair_amt = np.add.reduceat(a, pair_start)
    new_cust = np.ones(pair_c.size, dtype=bool)
    new_cust[1:] = pair_c[1:] != pair_c[:-1]
    cust_start = np.flatnonzero(new_cust)
    cust_end = np.append(cust_start[1:], pair_c.size) - 1
    first_p = pair_p[cust_start]
    frequency = (cust_end - cust_start).astype(float)
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (pair_p[cust_end] - first_p) / length,
            "T": (end_period - first_p) / length,
        },
        index=pd.Index(np.asarray(uniques)[pair_c[cust_start]], name="customer_id"),
    )
    if amounts is not None:
        repeat_amt = pair_amt.copy()
        repeat_amt[cust_start] = 0.0
        repeat_total = np.add.reduceat(repeat_amt, cust_start)
        out["monetary_value"] = np.where(frequency > 0, repeat_total / np.maximum(frequency, 1.0), 0.0)
    out.attrs.update(
        time_unit=unit,
        observation_end=pd.Timestamp(end_day),
        n_transactions=int(keep.sum()),
        n_dropped=int(all_blank.sum()),
    )
    return out


def _whole_number_ids(uniques: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The id keys as integers when the ids were given as numbers (Excel sends 1001.0, a list
    may hold 1001) and every key is a whole number; ids given as text stay text (the id rule
    reads 1001, 1001.0 and "1001" alike, so a column mixing them shows the text "1001")."""
    if uniques.dtype.kind in "iu" or ids.dtype.kind != "O":
        return uniques
    if any(isinstance(v, str) for v in pd.unique(ids)):
        return uniques
    try:
        numbers = [int(k) for k in uniques]
    except (TypeError, ValueError):
        return uniques
    if any(str(n) != k or abs(n) >= 2**63 for n, k in zip(numbers, uniques, strict=True)):
        return uniques
    return np.asarray(numbers, dtype=np.int64)
