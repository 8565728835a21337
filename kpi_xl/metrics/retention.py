"""Retention metrics: retention and churn rates, period conversion, repeat purchase, cohort tables.

Two kinds of input are served:

* **Aggregate counts** (customers at the start S, at the end E, new in the period N), as a finance
  or CRM report gives them: :func:`retention_rate`, :func:`churn_rate`.
* **Customer or order records** (one row per customer with signup and churn dates, or one row per
  order with a customer id): :func:`churn_from_records`, :func:`retention_from_records`,
  :func:`repeat_purchase_rate`, :func:`purchase_frequency`, :func:`cohort_retention`.

The aggregate formulas cannot tell a starting customer who left from a new customer who joined and
left in the same period; the record-based functions can, and report both.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._clean import (
    OnInvalid,
    clean_dates,
    clean_ids,
    clean_numbers,
    read_scalar,
    require_count,
    require_share,
)
from ._errors import KpiInputError
from ._intervals import share_result
from ._result import MetricResult, small_sample_warnings

__all__ = [
    "retention_rate",
    "churn_rate",
    "churn_from_records",
    "retention_from_records",
    "convert_churn",
    "annual_churn",
    "monthly_churn",
    "repeat_purchase_rate",
    "repeat_purchase_rate_from_counts",
    "purchase_frequency",
    "purchase_frequency_from_counts",
    "cohort_retention",
    "cohort_average_curve",
    "customers_active_at",
]

ChurnBase = Literal["start", "average"]

_INCONSISTENT_HINT = (
    "the aggregate formula cannot separate starting customers who left from new customers who "
    "joined and left in the same period; check the counts, or use churn_from_records with dates"
)


def _is_blank_scalar(x: Any) -> bool:
    if isinstance(x, str):
        return not x.strip()
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _count(x: Any, argument: str) -> int:
    """A scalar count of customers: a whole number, 0 or more (text numbers accepted)."""
    if np.ndim(x) != 0:
        raise KpiInputError(f"{argument} must be a single number, got {x!r}", argument=argument, value=x)
    if _is_blank_scalar(x):
        raise KpiInputError(
            f"{argument} is blank; give the number of customers", argument=argument, kind="empty"
        )
    if isinstance(x, (bool, np.bool_)):
        raise KpiInputError(
            f"{argument} must be a whole number of customers, got {x!r}", argument=argument, value=x
        )
    v = read_scalar(x, argument)
    if not math.isfinite(v) or v < 0 or v != round(v):
        raise KpiInputError(
            f"{argument} must be a whole number of customers, 0 or more, got {x!r}",
            argument=argument,
            value=x,
        )
    return int(v)


def _require_start(s: int, what: str) -> None:
    if s == 0:
        raise KpiInputError(
            f"customers_start is 0: {what} is undefined without customers at the start of the period",
            argument="customers_start",
            value=0,
            kind="zero-base",
        )


def _check_base(base: str) -> None:
    if base not in ("start", "average"):
        raise KpiInputError(f"base must be 'start' or 'average', got {base!r}", argument="base")


def retention_rate(
    customers_start: Any,
    customers_end: Any,
    new_customers: Any,
    *,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Customer retention rate from period counts.

    .. math::

        CRR = \frac{E - N}{S}

    with *S* customers at the start of the period, *E* at the end and *N* acquired during it. The
    interval is the Wilson interval of ``E - N`` retained out of a cohort of *S*.

    Parameters
    ----------
    customers_start, customers_end, new_customers:
        Whole numbers, 0 or more (numbers stored as text are accepted).
    confidence:
        Confidence level of the interval, default 0.95.
    min_n:
        Cohort size below which the result carries a small-sample warning (default 30).

    Returns
    -------
    MetricResult
        ``value`` is a share in 0..1; ``components`` has ``customers_start``, ``customers_end``,
        ``new_customers``, ``retained`` (E - N), ``lost`` (S + N - E) and ``churn_start``
        (1 - CRR).

    Raises
    ------
    KpiInputError
        S = 0 (kind ``"zero-base"``); a blank count (kind ``"empty"``); a negative or fractional
        count; N > E (retention would be negative) or E > S + N (more customers at the end than
        could exist): both mean the counts do not describe one period.

    References
    ----------
    Farris, Bendle, Pfeifer & Reibstein (2010), *Marketing Metrics*, 2nd ed., ch. 5 (retention
    and churn); Vena, "Average customer retention rate by industry".

    Examples
    --------
    1,000 customers at the start, 150 new, 1,030 at the end: CRR = (1030 - 150) / 1000 = 0.88.

    >>> retention_rate(1000, 1030, 150).value
    0.88
    """
    s = _count(customers_start, "customers_start")
    e = _count(customers_end, "customers_end")
    n = _count(new_customers, "new_customers")
    _require_start(s, "retention")
    if n > e:
        raise KpiInputError(
            f"new_customers ({n}) is more than customers_end ({e}), which makes retention negative; "
            + _INCONSISTENT_HINT,
            argument="new_customers",
            value=n,
        )
    if e > s + n:
        raise KpiInputError(
            f"customers_end ({e}) is more than customers_start + new_customers ({s} + {n}); "
            "the counts do not describe one period",
            argument="customers_end",
            value=e,
        )
    retained = e - n
    return share_result(
        "retention_rate",
        retained,
        s,
        n_dropped=0,
        confidence=confidence,
        min_n=min_n,
        components={
            "customers_start": s,
            "customers_end": e,
            "new_customers": n,
            "retained": retained,
            "lost": s + n - e,
            "churn_start": 1.0 - retained / s,
        },
    )


def churn_rate(
    customers_start: Any,
    customers_lost: Any = None,
    *,
    customers_end: Any = None,
    new_customers: Any = None,
    base: ChurnBase = "start",
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Customer churn rate from period counts, on a start or an average base.

    .. math::

        \text{lost} = S + N - E, \quad
        churn_{start} = \frac{\text{lost}}{S}, \quad
        churn_{average} = \frac{\text{lost}}{(S + E)/2}

    The start base is the complement of :func:`retention_rate`; the average base dampens the
    effect of strong growth or decline within the period. Give ``customers_lost`` directly, or
    let it be derived from ``customers_end`` and ``new_customers``; any two of lost, E and N
    determine the third, and when all three are given they must agree.

    Parameters
    ----------
    customers_start:
        Customers at the start of the period (S), a whole number above 0.
    customers_lost:
        Customers lost during the period; optional when E and N are given.
    customers_end, new_customers:
        Customers at the end (E) and acquired during the period (N). The average base needs E.
    base:
        ``"start"`` (default) or ``"average"``; ``value`` uses this base, ``components`` carry both.
    confidence, min_n:
        As in :func:`retention_rate`. Only the start base has an interval (Wilson, lost out of a
        cohort of S); the average base is not a share of a fixed group, so it has none.

    Returns
    -------
    MetricResult
        ``value`` is a share; ``components`` has ``churn_start``, ``churn_average``,
        ``average_base`` ((S + E)/2), ``lost``, ``customers_start``, ``customers_end`` and
        ``new_customers`` (``None`` where the inputs do not determine them).

    Raises
    ------
    KpiInputError
        S = 0 (kind ``"zero-base"``); fewer than two of lost, E, N; counts that contradict each
        other; lost > S (start-based churn above 100%: new customers who also left are mixed in).

    References
    ----------
    Farris et al. (2010), *Marketing Metrics*, ch. 5; Recurly, "Churn rate benchmarks" (monthly
    reporting, voluntary vs involuntary churn).

    Examples
    --------
    S = 1000, N = 150, E = 1030: lost = 1000 + 150 - 1030 = 120; start base 120 / 1000 = 12.0%;
    average base 120 / ((1000 + 1030) / 2) = 120 / 1015 = 11.8%.

    >>> r = churn_rate(1000, customers_end=1030, new_customers=150)
    >>> r.value, round(r.components["churn_average"], 4)
    (0.12, 0.1182)
    """
    _check_base(base)
    s = _count(customers_start, "customers_start")
    lost = None if customers_lost is None else _count(customers_lost, "customers_lost")
    e = None if customers_end is None else _count(customers_end, "customers_end")
    n = None if new_customers is None else _count(new_customers, "new_customers")
    _require_start(s, "churn")
    if lost is None:
        if e is None or n is None:
            raise KpiInputError(
                "give customers_lost, or both customers_end and new_customers to derive it",
                argument="customers_lost",
                kind="empty",
            )
        lost = s + n - e
        if lost < 0:
            raise KpiInputError(
                f"customers_end ({e}) is more than customers_start + new_customers ({s} + {n}); "
                "the counts do not describe one period",
                argument="customers_end",
                value=e,
            )
    elif e is not None and n is not None:
        if s + n - lost != e:
            raise KpiInputError(
                f"the counts disagree: customers_start + new_customers - customers_lost = "
                f"{s} + {n} - {lost} = {s + n - lost}, but customers_end is {e}",
                argument="customers_end",
                value=e,
            )
    elif e is not None:
        n = e + lost - s
        if n < 0:
            raise KpiInputError(
                f"customers_end ({e}) is more than customers_start - customers_lost ({s} - {lost}) "
                "would allow without new customers, which must then be negative; check the counts",
                argument="customers_end",
                value=e,
            )
    elif n is not None:
        e = s + n - lost
        if e < 0:
            raise KpiInputError(
                f"customers_lost ({lost}) is more than customers_start + new_customers ({s} + {n})",
                argument="customers_lost",
                value=lost,
            )
    if lost > s:
        raise KpiInputError(
            f"customers lost ({lost}) is more than customers_start ({s}), a churn above 100%; "
            + _INCONSISTENT_HINT,
            argument="customers_lost",
            value=lost,
        )
    avg_base = None if e is None else (s + e) / 2.0
    churn_avg = None if avg_base is None else lost / avg_base
    components: dict[str, Any] = {
        "churn_start": lost / s,
        "churn_average": churn_avg,
        "average_base": avg_base,
        "lost": lost,
        "customers_start": s,
        "customers_end": e,
        "new_customers": n,
    }
    if base == "start":
        return share_result(
            "churn_rate", lost, s, n_dropped=0, confidence=confidence, min_n=min_n, components=components
        )
    if churn_avg is None:
        raise KpiInputError(
            "base='average' needs customers_end, or new_customers so it can be derived",
            argument="customers_end",
            kind="empty",
        )
    return MetricResult(
        metric="churn_rate",
        value=churn_avg,
        unit="share",
        n_used=s,
        components=components,
        warnings=small_sample_warnings(s, min_n),
    )


def _one_date(x: Any, argument: str) -> np.datetime64:
    try:
        parsed, _ = clean_dates([x], argument=argument, allow_blank=False)
    except KpiInputError:
        raise KpiInputError(
            f"{argument} must be a date (a date cell, ISO text like 2025-12-31, or 31.12.2025), got {x!r}",
            argument=argument,
            value=x,
        )
    return parsed[0].astype("datetime64[D]")


def _record_counts(start_dates: Any, end_dates: Any, period_start: Any, period_end: Any) -> dict[str, int]:
    """Who was active at the start, joined, left and was active at the end of an inclusive period."""
    ps = _one_date(period_start, "period_start")
    pe = _one_date(period_end, "period_end")
    if pe < ps:
        raise KpiInputError(
            f"period_end ({pe}) is before period_start ({ps})", argument="period_end", value=period_end
        )
    start, start_blank = clean_dates(start_dates, argument="start_dates")
    end, end_blank = clean_dates(end_dates, argument="end_dates")
    if start.size != end.size:
        raise KpiInputError(
            f"start_dates has {start.size} values but end_dates has {end.size}; give one end date (or a "
            "blank) per customer",
            argument="end_dates",
        )
    orphan = start_blank & ~end_blank
    if orphan.any():
        pos = int(np.flatnonzero(orphan)[0]) + 1
        raise KpiInputError(
            argument="start_dates",
            position=pos,
            what="the signup date",
            reason="is blank but the customer has an end date",
        )
    # Rows blank in both columns are padding (a selected range longer than the data).
    used = ~start_blank
    n_dropped = int((~used).sum())
    if not used.any():
        raise KpiInputError(
            f"no customers with a signup date ({n_dropped} blank row(s) skipped)",
            argument="start_dates",
            kind="empty",
        )
    # Whole days: a churn timestamp at 15:00 on the last day is still inside the period.
    s_day = start.astype("datetime64[D]")
    e_day = end.astype("datetime64[D]")
    backwards = used & ~end_blank & (e_day < s_day)
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise KpiInputError(
            argument="end_dates",
            position=i + 1,
            value=pd.Timestamp(e_day[i]).date(),
            what=f"the end date {e_day[i]}",
            reason=f"is before the signup date {s_day[i]}",
        )
    s_num = s_day.astype("int64")
    # A blank end date means still active: use a day after any period end.
    e_num = np.where(end_blank, np.iinfo(np.int64).max, e_day.astype("int64"))
    p0, p1 = ps.astype("int64"), pe.astype("int64")
    in_s = used & (s_num < p0) & (e_num >= p0)
    in_n = used & (s_num >= p0) & (s_num <= p1)
    left = e_num <= p1
    in_e = used & (s_num <= p1) & ~left
    counts = {
        "customers_start": int(in_s.sum()),
        "new_customers": int(in_n.sum()),
        "customers_end": int(in_e.sum()),
        "lost_from_start": int((in_s & left).sum()),
        "lost_new": int((in_n & left).sum()),
        "outside_period": int((used & ~in_s & ~in_n).sum()),
        "n_dropped": n_dropped,
    }
    if counts["customers_start"] == 0:
        raise KpiInputError(
            f"no customer was active on period_start ({ps}); churn and retention are undefined "
            "without a starting cohort",
            argument="period_start",
            value=period_start,
            kind="zero-base",
        )
    return counts


def _record_components(c: dict[str, int]) -> dict[str, Any]:
    s, e, n = c["customers_start"], c["customers_end"], c["new_customers"]
    lost = c["lost_from_start"] + c["lost_new"]
    return {
        "customers_start": s,
        "new_customers": n,
        "customers_end": e,
        "lost_from_start": c["lost_from_start"],
        "lost_new": c["lost_new"],
        "outside_period": c["outside_period"],
        "churn_start": c["lost_from_start"] / s,
        "churn_average": lost / ((s + e) / 2.0),
        "retention_start": 1.0 - c["lost_from_start"] / s,
        "crr_counts": (e - n) / s,
    }


def churn_from_records(
    start_dates: Any,
    end_dates: Any,
    *,
    period_start: Any,
    period_end: Any,
    base: ChurnBase = "start",
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Churn rate over an inclusive period from one row per customer (signup date, end date).

    Each customer is active from the signup date until the end (churn) date; a blank end date
    means still active. With the period [P0, P1], both days included:

    * S, the starting cohort: signed up before P0 and not ended before P0;
    * N, new: signed up on a day in [P0, P1];
    * lost from S: members of S whose end date is in [P0, P1]; lost new: members of N likewise;
    * E: signed up by P1 and not ended by P1.

    .. math::

        churn_{start} = \frac{\text{lost from } S}{S} = \frac{|S \setminus E|}{|S|}, \quad
        churn_{average} = \frac{\text{lost from } S + \text{lost new}}{(S + E)/2}

    The start base is a share of a fixed cohort and gets a Wilson interval; the average base has
    no interval. Unlike the aggregate :func:`churn_rate`, new customers who leave within the
    period are counted separately and never inflate the start-based rate.

    Parameters
    ----------
    start_dates, end_dates:
        One pair per customer, same length: date cells, ISO text, ``31.12.2025`` text or Excel
        serials. Rows blank in both are skipped and counted; a blank end date means active.
        Times of day are ignored (dates are whole days).
    period_start, period_end:
        First and last day of the period, both included.
    base:
        ``"start"`` (default) or ``"average"``.
    confidence, min_n:
        Interval level (default 0.95) and the cohort size below which a small-sample warning is
        given (default 30).

    Returns
    -------
    MetricResult
        ``value`` is a share; ``n_used`` is S (start base) or S + N (average base);
        ``components``: ``customers_start``, ``new_customers``, ``customers_end``,
        ``lost_from_start``, ``lost_new``, ``outside_period`` (ended before the period or signed
        up after it), ``churn_start``, ``churn_average``, ``retention_start`` and ``crr_counts``
        ((E - N)/S, what the aggregate formula would report for the same data).

    Raises
    ------
    KpiInputError
        An end date before its signup date or an unreadable date (naming the position); a blank
        signup with an end date; lengths that differ; period_end before period_start; no customer
        active at period_start (kind ``"zero-base"``); no rows (kind ``"empty"``).

    References
    ----------
    Farris et al. (2010), *Marketing Metrics*, ch. 5; cohort form of retention |S ∩ E| / |S|.

    Examples
    --------
    Period January 2025. A: since 2024, still active. B: since 2024, left 10 Jan. C: joined
    5 Jan, left 20 Jan. D: joined 15 Jan. So S = {A, B}, N = {C, D}, E = {A, D}, lost from S = 1,
    lost new = 1: start-based churn = 1/2; average base = 2 / ((2 + 2)/2) = 1.0.

    >>> starts = ["2024-03-01", "2024-06-01", "2025-01-05", "2025-01-15"]
    >>> ends = [None, "2025-01-10", "2025-01-20", None]
    >>> churn_from_records(starts, ends, period_start="2025-01-01", period_end="2025-01-31").value
    0.5
    """
    _check_base(base)
    c = _record_counts(start_dates, end_dates, period_start, period_end)
    components = _record_components(c)
    s = c["customers_start"]
    if base == "start":
        return share_result(
            "churn_from_records",
            c["lost_from_start"],
            s,
            n_dropped=c["n_dropped"],
            confidence=confidence,
            min_n=min_n,
            components=components,
        )
    n_used = s + c["new_customers"]
    return MetricResult(
        metric="churn_from_records",
        value=components["churn_average"],
        unit="share",
        n_used=n_used,
        n_dropped=c["n_dropped"],
        components=components,
        warnings=small_sample_warnings(n_used, min_n),
    )


def retention_from_records(
    start_dates: Any,
    end_dates: Any,
    *,
    period_start: Any,
    period_end: Any,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Retention rate of the starting cohort over an inclusive period, from customer records.

    .. math::

        retention = \frac{|S \cap E|}{|S|} = 1 - churn_{start}

    with S, E and the counting rules of :func:`churn_from_records` (same arguments; there is no
    ``base``, because retention is defined on the starting cohort only). The Wilson interval is
    that of the retained share of S. ``components["crr_counts"]`` is (E - N)/S, which is lower
    whenever new customers left within the period.

    Parameters
    ----------
    start_dates, end_dates, period_start, period_end, confidence, min_n:
        As in :func:`churn_from_records`.

    Returns
    -------
    MetricResult
        ``value`` is a share; ``n_used`` is S; ``components`` as in :func:`churn_from_records`.

    Raises
    ------
    KpiInputError
        As in :func:`churn_from_records`.

    References
    ----------
    Farris et al. (2010), *Marketing Metrics*, ch. 5; Vena, "Average customer retention rate by
    industry" (CRR = (E - N)/S and its cohort form).

    Examples
    --------
    The four customers of :func:`churn_from_records`: A of S = {A, B} is retained, so 1/2;
    the aggregate (E - N)/S = (2 - 2)/2 = 0 misses that C was a new customer who left.

    >>> starts = ["2024-03-01", "2024-06-01", "2025-01-05", "2025-01-15"]
    >>> ends = [None, "2025-01-10", "2025-01-20", None]
    >>> r = retention_from_records(starts, ends, period_start="2025-01-01", period_end="2025-01-31")
    >>> r.value, r.components["crr_counts"]
    (0.5, 0.0)
    """
    c = _record_counts(start_dates, end_dates, period_start, period_end)
    s = c["customers_start"]
    return share_result(
        "retention_from_records",
        s - c["lost_from_start"],
        s,
        n_dropped=c["n_dropped"],
        confidence=confidence,
        min_n=min_n,
        components=_record_components(c),
    )


def _periods_per_year(x: Any, argument: str) -> float:
    if isinstance(x, (bool, np.bool_)):
        v = math.nan
    else:
        v = read_scalar(x, argument)
    if not math.isfinite(v) or v <= 0:
        raise KpiInputError(
            f"{argument} must be a number of periods per year above 0 (12 for monthly), got {x!r}",
            argument=argument,
            value=x,
        )
    return v


def convert_churn(rate: Any, *, from_periods_per_year: Any, to_periods_per_year: Any) -> float:
    r"""Convert a churn rate between period lengths, assuming a constant churn per period.

    .. math::

        c_{to} = 1 - (1 - c_{from})^{f / t}

    where *f* and *t* are the periods per year of the source and the target rate (12 monthly,
    4 quarterly, 1 annual). Monthly and annual rates are not interchangeable: 5% a month is
    46% a year, not 60%.

    Parameters
    ----------
    rate:
        The churn rate to convert, a share from 0 to 1.
    from_periods_per_year, to_periods_per_year:
        Periods per year of the given rate and of the rate wanted, above 0.

    References
    ----------
    Recurly, "Churn rate benchmarks" (annual = 1 - (1 - monthly)^12).

    Examples
    --------
    Quarterly 10% to monthly: 1 - 0.9^(4/12) = 0.0345.

    >>> round(convert_churn(0.10, from_periods_per_year=4, to_periods_per_year=12), 4)
    0.0345
    """
    c = require_share(rate, "rate")
    f = _periods_per_year(from_periods_per_year, "from_periods_per_year")
    t = _periods_per_year(to_periods_per_year, "to_periods_per_year")
    # -expm1(k·log1p(-c)) is 1 - (1-c)^k without losing the digits of small rates.
    return float(-math.expm1((f / t) * math.log1p(-c))) if c < 1 else 1.0


def annual_churn(monthly_rate: Any) -> float:
    r"""Annual churn from a monthly churn rate: :math:`1 - (1 - m)^{12}`.

    >>> round(annual_churn(0.05), 4)
    0.4596
    """
    return convert_churn(monthly_rate, from_periods_per_year=12, to_periods_per_year=1)


def monthly_churn(annual_rate: Any) -> float:
    r"""Monthly churn from an annual churn rate: :math:`1 - (1 - a)^{1/12}`.

    >>> round(monthly_churn(0.4596), 4)
    0.05
    """
    return convert_churn(annual_rate, from_periods_per_year=1, to_periods_per_year=12)


def _check_same_length(n_a: int, n_b: int, a: str, b: str) -> None:
    if n_a != n_b:
        raise KpiInputError(f"{a} has {n_a} values but {b} has {n_b}; give one per row", argument=b)


def _orders_per_customer(
    customer_ids: Any, order_dates: Any, count: str, on_invalid: OnInvalid
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-customer (orders, purchases by ``count``), rows used and rows dropped."""
    if count not in ("orders", "days"):
        raise KpiInputError(f"count must be 'orders' or 'days', got {count!r}", argument="count")
    codes, uniques, _, _ = clean_ids(customer_ids, on_invalid=on_invalid)
    used = codes >= 0
    if order_dates is None:
        if count == "days":
            raise KpiInputError(
                "count='days' needs order_dates, to count distinct purchase days", argument="order_dates"
            )
        day = None
    else:
        dates, date_blank = clean_dates(order_dates, argument="order_dates", on_invalid=on_invalid)
        _check_same_length(codes.size, dates.size, "customer_ids", "order_dates")
        used &= ~date_blank
        day = dates.astype("datetime64[D]").astype("int64")
    n_dropped = int((~used).sum())
    if not used.any():
        raise KpiInputError(
            f"no orders with a customer id ({n_dropped} row(s) skipped)",
            argument="customer_ids",
            kind="empty",
        )
    c = codes[used]
    # Codes of dropped rows may leave gaps; re-factorize so every customer counted has an order.
    c, _ = pd.factorize(c)
    orders = np.bincount(c)
    if count == "days":
        pairs = np.unique(c.astype(np.int64) * (1 << 32) + (day[used] - day[used].min()))
        purchases = np.bincount(pairs >> 32, minlength=orders.size)
    else:
        purchases = orders
    return orders, purchases, int(used.sum()), n_dropped


def repeat_purchase_rate(
    customer_ids: Any,
    order_dates: Any = None,
    *,
    count: Literal["orders", "days"] = "orders",
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Share of customers who purchased more than once, from one row per order.

    .. math::

        RPR = \frac{\#\{\text{customers with} > 1 \text{ purchase}\}}{\#\{\text{customers who purchased}\}}

    A purchase is an order row (``count="orders"``) or a distinct calendar day with at least one
    order (``count="days"``, the convention of BTYD models such as lifetimes: two orders on one
    day are one purchase). The window is the rows you pass. Interval: Wilson, over customers.

    Parameters
    ----------
    customer_ids:
        Customer id of each order (text or whole numbers; ``"1001"`` and 1001 are the same id,
        ``"0012"`` and 12 are not). Blank rows are skipped and counted.
    order_dates:
        Date of each order, same length; required for ``count="days"``. When given, rows with a
        blank date are skipped and counted.
    count:
        ``"orders"`` (default) or ``"days"``.
    confidence, on_invalid, min_n:
        Interval level; what to do with an invalid id or date (``"raise"`` names it and its
        position, ``"drop"`` skips and counts it); small-sample threshold (default 30).

    Returns
    -------
    MetricResult
        ``value`` is a share; ``n_used`` is the number of customers; ``components``:
        ``customers``, ``repeat_customers``, ``orders``, ``purchase_frequency`` (orders per
        customer), and with ``count="days"`` also ``purchase_days``.

    References
    ----------
    Wall Street Prep, "Repeat purchase rate"; Fader, Hardie & Lee (2005), *Marketing Science*
    24(2) (purchases counted per distinct period).

    Examples
    --------
    Customers a (3 orders), b (1), c (2): 2 of 3 purchased more than once, 6 orders / 3 = 2 per
    customer.

    >>> r = repeat_purchase_rate(["a", "a", "b", "c", "a", "c"])
    >>> round(r.value, 4), r.components["purchase_frequency"]
    (0.6667, 2.0)
    """
    orders, purchases, n_orders, n_dropped = _orders_per_customer(
        customer_ids, order_dates, count, on_invalid
    )
    return _repeat_result(purchases, n_orders, count, n_dropped, confidence, min_n)


def _per_customer_counts(values: Any, argument: str) -> np.ndarray:
    """Counts per customer: whole numbers, 1 or more (a customer here has bought), no blanks."""
    cleaned = clean_numbers(values, argument=argument, lo=1, integer=True, on_invalid="drop")
    if not cleaned.mask.all():
        pos = int(np.flatnonzero(~cleaned.mask)[0])
        value = np.asarray(values, dtype=object).reshape(-1)[pos]
        raise KpiInputError(
            argument=argument,
            position=pos + 1,
            value=value,
            what=f"the value {value!r}",
            reason="is not a whole number of purchases, 1 or more; give a count for each customer who bought",
        )
    return cleaned.values.astype(np.int64)


def repeat_purchase_rate_from_counts(
    purchases_per_customer: Any,
    orders_total: int | None = None,
    *,
    count: Literal["orders", "days"] = "orders",
    n_dropped: int = 0,
    confidence: float = 0.95,
    min_n: int | None = None,
    weights: Any = None,
) -> MetricResult:
    r"""Repeat purchase rate from each customer's number of purchases, counted elsewhere (a
    database ``GROUP BY`` customer): the same result as :func:`repeat_purchase_rate` on the order
    rows behind the counts.

    .. math::

        RPR = \frac{\#\{c : P_c > 1\}}{C}

    Parameters
    ----------
    purchases_per_customer:
        Purchases of each customer who bought (whole numbers, 1 or more): order rows with
        ``count="orders"``, distinct purchase days with ``count="days"``.
    orders_total:
        Order rows behind the counts, for ``components["orders"]`` and the purchase frequency.
        With ``count="orders"`` it is the sum of the counts (the default; if given it must equal
        it); with ``count="days"`` it is required and at least the number of purchase days.
    count:
        What a purchase is, as in :func:`repeat_purchase_rate`.
    n_dropped:
        Order rows skipped before counting (a blank id or date).
    confidence, min_n:
        As in :func:`repeat_purchase_rate`.
    weights:
        Customers per count, when the counts are distinct values counted elsewhere (a database's
        counts of counts: ``GROUP BY purchases``); default one customer each.

    Raises
    ------
    KpiInputError
        A count that is not a whole number of at least 1 (naming its position); an ``orders_total``
        that does not fit the counts; no customers (kind ``"empty"``).

    References
    ----------
    As :func:`repeat_purchase_rate`.

    Examples
    --------
    The :func:`repeat_purchase_rate` example counted: a 3 orders, b 1, c 2: 2 of 3 customers.

    >>> round(repeat_purchase_rate_from_counts([3, 1, 2]).value, 4)
    0.6667

    Counts of counts: 5 customers with 1 purchase, 3 with 2, 2 with 4: (3 + 2) / 10 = 0.5.

    >>> repeat_purchase_rate_from_counts([1, 2, 4], weights=[5, 3, 2]).value
    0.5
    """
    if count not in ("orders", "days"):
        raise KpiInputError(f"count must be 'orders' or 'days', got {count!r}", argument="count")
    purchases = _per_customer_counts(purchases_per_customer, "purchases_per_customer")
    w = _customer_weights(weights, purchases.size)
    in_counts = int(purchases @ w)
    if orders_total is None:
        if count == "days":
            raise KpiInputError(
                "count='days' needs orders_total: purchase days do not tell how many orders there were",
                argument="orders_total",
            )
        n_orders = in_counts
    else:
        n_orders = int(require_count(orders_total, "orders_total"))
        if (count == "orders" and n_orders != in_counts) or n_orders < in_counts:
            need = "equal to" if count == "orders" else "at least"
            raise KpiInputError(
                f"orders_total {orders_total!r} must be {need} the {in_counts} purchases counted",
                argument="orders_total",
                value=orders_total,
            )
    dropped = int(require_count(n_dropped, "n_dropped"))
    if w.sum() == 0:
        raise KpiInputError(
            f"no orders with a customer id ({dropped} row(s) skipped)",
            argument="purchases_per_customer",
            kind="empty",
        )
    return _repeat_result(purchases, n_orders, count, dropped, confidence, min_n, w)


def _customer_weights(weights: Any, size: int) -> np.ndarray:
    """Customers per count: whole numbers of 0 or more, one per count (default 1 each)."""
    if weights is None:
        return np.ones(size, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != size or not np.all(np.isfinite(w)) or (w < 0).any() or (w != np.round(w)).any():
        raise KpiInputError(
            f"weights must be {size} whole numbers of customers, 0 or more, one per count",
            argument="weights",
        )
    return w.astype(np.int64)


def _repeat_result(
    purchases: np.ndarray,
    n_orders: int,
    count: str,
    n_dropped: int,
    confidence: float,
    min_n: int | None,
    weights: np.ndarray | None = None,
) -> MetricResult:
    """Repeat purchase rate from purchases per customer: the computation both forms share."""
    w = np.ones(purchases.size, dtype=np.int64) if weights is None else weights
    customers = int(w.sum())
    repeat = int(w[purchases > 1].sum())
    components: dict[str, Any] = {
        "customers": customers,
        "repeat_customers": repeat,
        "orders": n_orders,
        "purchase_frequency": n_orders / customers,
    }
    if count == "days":
        components["purchase_days"] = int(purchases @ w)
    return share_result(
        "repeat_purchase_rate",
        repeat,
        customers,
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components=components,
    )


def purchase_frequency(customer_ids: Any, *, on_invalid: OnInvalid = "raise") -> MetricResult:
    r"""Purchase frequency: orders per customer over the rows given (one row per order).

    .. math::

        f = \frac{\text{orders}}{\text{distinct customers}}

    The time window is the rows you pass; state it beside the number (6 orders per customer per
    year is not per month). Use it as ``frequency`` in :func:`kpi_xl.metrics.clv_formula` when
    the window is one period.

    Parameters
    ----------
    customer_ids:
        Customer id of each order, as in :func:`repeat_purchase_rate`; blank rows are skipped and
        counted.
    on_invalid:
        ``"raise"`` (default) names an invalid id and its position; ``"drop"`` skips and counts it.

    Returns
    -------
    MetricResult
        ``value`` in orders per customer (unit ``"count"``); ``n_used`` is the number of orders;
        ``components``: ``orders``, ``customers``.

    Examples
    --------
    >>> purchase_frequency(["a", "a", "b", "c", "a", "c"]).value
    2.0
    """
    orders, _, n_orders, n_dropped = _orders_per_customer(customer_ids, None, "orders", on_invalid)
    return _frequency_result(n_orders, int(orders.size), n_dropped)


def purchase_frequency_from_counts(
    orders_per_customer: Any, *, n_dropped: int = 0, weights: Any = None
) -> MetricResult:
    r"""Purchase frequency from each customer's number of orders, counted elsewhere: the same
    result as :func:`purchase_frequency` on the order rows behind the counts,
    :math:`f = \Sigma_c O_c / C`.

    Parameters
    ----------
    orders_per_customer:
        Orders of each customer who bought (whole numbers, 1 or more).
    n_dropped:
        Order rows skipped before counting (a blank id).
    weights:
        Customers per count (counts of counts, as :func:`repeat_purchase_rate_from_counts`).

    Raises
    ------
    KpiInputError
        A count that is not a whole number of at least 1 (naming its position); no customers
        (kind ``"empty"``).

    Examples
    --------
    a 3 orders, b 1, c 2: 6 / 3 = 2 orders per customer; 5 customers with 1 order and 3 with 2:
    11 / 8 = 1.375.

    >>> purchase_frequency_from_counts([3, 1, 2]).value
    2.0
    >>> purchase_frequency_from_counts([1, 2], weights=[5, 3]).value
    1.375
    """
    orders = _per_customer_counts(orders_per_customer, "orders_per_customer")
    w = _customer_weights(weights, orders.size)
    dropped = int(require_count(n_dropped, "n_dropped"))
    if w.sum() == 0:
        raise KpiInputError(
            f"no orders with a customer id ({dropped} row(s) skipped)",
            argument="orders_per_customer",
            kind="empty",
        )
    return _frequency_result(int(orders @ w), int(w.sum()), dropped)


def _frequency_result(n_orders: int, customers: int, n_dropped: int) -> MetricResult:
    """Orders per customer: the computation both forms share."""
    return MetricResult(
        metric="purchase_frequency",
        value=n_orders / customers,
        unit="count",
        n_used=n_orders,
        n_dropped=n_dropped,
        components={"orders": n_orders, "customers": customers},
    )


_PERIOD_FREQ = {"month": "M", "quarter": "Q", "week": "W"}


def cohort_retention(
    customer_ids: Any,
    order_dates: Any,
    *,
    period: Literal["month", "quarter", "week"] = "month",
    max_periods: int | None = None,
    as_of: Any = None,
    on_invalid: OnInvalid = "raise",
) -> pd.DataFrame:
    r"""Cohort retention table: share of each first-purchase cohort that bought again k periods later.

    .. math::

        R(c, k) = \frac{\#\{\text{customers of cohort } c \text{ with an order in period } c + k\}}
                       {\#\{\text{customers of cohort } c\}}

    A customer's cohort is the period of the first order. "Active" means at least one order in
    the period (period-k activity, not "has not churned yet"), so the curve can rise again.
    Period 0 is 1.0 by construction.

    Right censoring: a cell whose period c + k lies after the last observed period (the period
    of ``as_of``, else of the latest order) has not happened yet and is NaN, never 0.

    Parameters
    ----------
    customer_ids, order_dates:
        One row per order, same length. Rows with a blank id or date are skipped and counted
        (``attrs["n_dropped"]``).
    period:
        ``"month"`` (default), ``"quarter"`` or ``"week"`` (weeks end on Sunday).
    max_periods:
        Keep columns 0..max_periods only.
    as_of:
        Last observed day. Orders after it are ignored (counted in ``attrs["n_after_as_of"]``); its
        period is the last column that is filled. If that period is not complete, its shares are
        lower than they will be: pass the last day of a complete period.
    on_invalid:
        ``"raise"`` (default) or ``"drop"`` for invalid ids and dates.

    Returns
    -------
    pandas.DataFrame
        Index ``cohort`` (text labels such as ``"1997-01"``, ``"1997Q1"``), column
        ``cohort_size`` (customers), then integer columns 0, 1, 2, ... with shares in 0..1.
        ``attrs``: ``period``, ``last_period``, ``n_dropped``, ``n_after_as_of``.

    References
    ----------
    Fader & Hardie (2007), "How to project customer retention", *J. Interactive Marketing*
    21(1); cohort layout as in CDNOW analyses (Jan-97 cohort: 7,846 customers, 14.7% in month 1).

    Examples
    --------
    a buys in Jan and Mar, b in Jan and Feb, c in Feb; data end in March. Jan cohort {a, b}:
    Feb 1/2, Mar 1/2. Feb cohort {c}: Mar 0/1; its month 2 (April) is not observed yet.

    >>> t = cohort_retention(["a", "a", "b", "b", "c"],
    ...                      ["2025-01-05", "2025-03-02", "2025-01-09", "2025-02-11", "2025-02-20"])
    >>> print(t)  # doctest: +NORMALIZE_WHITESPACE
             cohort_size    0    1    2
    cohort
    2025-01            2  1.0  0.5  0.5
    2025-02            1  1.0  0.0  NaN
    """
    if period not in _PERIOD_FREQ:
        raise KpiInputError(
            f"period must be 'month', 'quarter' or 'week', got {period!r}", argument="period", value=period
        )
    freq = _PERIOD_FREQ[period]
    if max_periods is not None and (
        isinstance(max_periods, (bool, np.bool_))
        or not isinstance(max_periods, (int, np.integer, float, np.floating))
        or not math.isfinite(max_periods)
        or max_periods < 0
        or max_periods != round(max_periods)
    ):
        raise KpiInputError(
            f"max_periods must be a whole number, 0 or more, got {max_periods!r}",
            argument="max_periods",
            value=max_periods,
        )
    codes, _, _, _ = clean_ids(customer_ids, on_invalid=on_invalid)
    dates, date_blank = clean_dates(order_dates, argument="order_dates", on_invalid=on_invalid)
    _check_same_length(codes.size, dates.size, "customer_ids", "order_dates")
    used = (codes >= 0) & ~date_blank
    n_dropped = int((~used).sum())
    n_after = 0
    if as_of is not None:
        cutoff = _one_date(as_of, "as_of")
        after = used & (dates.astype("datetime64[D]") > cutoff)
        n_after = int(after.sum())
        used &= ~after
    if not used.any():
        raise KpiInputError(
            f"no orders with a customer id and a date ({n_dropped} row(s) skipped, {n_after} after as_of)",
            argument="customer_ids",
            kind="empty",
        )
    cust, _ = pd.factorize(codes[used])
    per = pd.DatetimeIndex(dates[used]).to_period(freq).asi8
    last = pd.DatetimeIndex([cutoff]).to_period(freq).asi8[0] if as_of is not None else per.max()
    first = np.full(cust.max() + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cust, per)
    lo = first.min()
    width = int(last - lo) + 1
    k = per - first[cust]
    # One count per customer and period offset, however many orders fall in that period.
    pair = np.unique(cust.astype(np.int64) * width + k)
    pair_cust, pair_k = pair // width, pair % width
    counts = np.bincount((first[pair_cust] - lo) * width + pair_k, minlength=width * width)
    counts = counts.reshape(width, width)
    sizes = counts[:, 0]
    rows = np.flatnonzero(sizes)
    shares = counts[rows] / sizes[rows, None]
    observable = np.arange(width)[None, :] <= (width - 1 - rows)[:, None]
    shares = np.where(observable, shares, np.nan)
    n_cols = width if max_periods is None else min(width, int(max_periods) + 1)
    labels = pd.PeriodIndex.from_ordinals(lo + rows, freq=freq).astype(str)
    table = pd.DataFrame(shares[:, :n_cols], index=pd.Index(labels, name="cohort"), columns=range(n_cols))
    table.insert(0, "cohort_size", sizes[rows].astype(np.int64))
    table.attrs.update(
        {
            "period": period,
            "last_period": str(pd.PeriodIndex.from_ordinals([last], freq=freq)[0]),
            "n_dropped": n_dropped,
            "n_after_as_of": n_after,
        }
    )
    return table


def cohort_average_curve(table: pd.DataFrame) -> list[float | None]:
    r"""The all-cohort retention curve of a :func:`cohort_retention` table, each cohort weighted by
    its size over the cohorts observed at that period.

    .. math::

        R_k = \frac{\sum_{c \text{ observed at } k} n_c\, r_{c,k}}{\sum_{c \text{ observed at } k} n_c}

    where :math:`n_c` is the size of cohort *c* and :math:`r_{c,k}` its share still buying in period
    *k*. Cohorts too young to have reached period *k* are left out of both sums (not counted as 0),
    so the curve does not bend down for want of time. ``None`` where no cohort reached *k*.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2010), "Customer-base valuation in a contractual setting: the
    perils of ignoring heterogeneity", *Marketing Science* 29(1), 85-93 (pooled survival curves).

    Examples
    --------
    Cohort A (100 customers) keeps 50% then 40%; cohort B (300) keeps 30% and is not yet observed
    in period 2: R_0 = 1, R_1 = (100 x 0.5 + 300 x 0.3) / 400 = 0.35, R_2 = 0.4.

    >>> t = pd.DataFrame({"cohort_size": [100, 300], 0: [1.0, 1.0], 1: [0.5, 0.3], 2: [0.4, None]})
    >>> [round(v, 4) for v in cohort_average_curve(t)]
    [1.0, 0.35, 0.4]
    """
    shares = table.drop(columns="cohort_size").to_numpy(dtype=np.float64)
    sizes = table["cohort_size"].to_numpy(dtype=np.float64)
    observed = ~np.isnan(shares)
    weighted = np.where(observed, np.nan_to_num(shares) * sizes[:, None], 0.0).sum(axis=0)
    base = np.where(observed, sizes[:, None], 0.0).sum(axis=0)
    return [float(w / b) if b > 0 else None for w, b in zip(weighted, base, strict=True)]


def customers_active_at(start_dates: Any, end_dates: Any, day: Any) -> int:
    """Customers active on ``day``: signed up before it and not ended (churned) before it; a blank
    end date is a customer still active, a blank start date is no customer.

    This is the starting base *S* of :func:`churn_from_records` (its ``customers_start``), for a
    day where no churn rate is computed.

    >>> customers_active_at(["2024-01-01", "2024-06-01", "2025-02-01"], [None, "2024-12-01", None],
    ...                     "2025-01-01")
    1
    """
    start, _ = clean_dates(start_dates, argument="start_dates", on_invalid="drop")
    end, _ = clean_dates(end_dates, argument="end_dates", on_invalid="drop")
    (when,), _ = clean_dates([day], argument="day")
    s, e, d = (a.astype("datetime64[D]") for a in (start, end, np.asarray([when])))
    return int(np.sum(~np.isnat(s) & (s < d[0]) & (np.isnat(e) | (e >= d[0]))))
