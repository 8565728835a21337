"""Service metrics: first response time, resolution time, SLA attainment, complaint volume and rate.

Durations are calendar hours between two timestamps (not business hours). Dates may be datetimes,
ISO text, ``31.12.2025``-style text or Excel serial numbers (see :func:`~kpi_xl.metrics._clean.clean_dates`).

A ticket with a creation date but no reply (or no resolution) is *open*: it is right-censored, so it
is left out of the duration statistics and counted in ``components["open"]``; it is never counted as
a duration of zero. A row with neither date is blank (skipped and counted in ``n_dropped``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._clean import (
    OnInvalid,
    _as_1d,
    _blank_mask,
    check_on_invalid,
    clean_dates,
    clean_flags,
    require_count,
    require_positive,
)
from ._errors import Hint, KpiInputError, show_value
from ._intervals import check_confidence, share_result, t_quantile
from ._result import MetricResult, small_sample_warnings

__all__ = [
    "first_response_time",
    "resolution_time",
    "sla_rate",
    "complaint_volume",
    "complaint_rate",
]

Statistic = Literal["median", "mean", "p90"]

_HOUR_NS = 3_600_000_000_000


@dataclass(frozen=True)
class _Tickets:
    """Tickets split by status; ``hours`` are the closed tickets' durations in input order."""

    hours: np.ndarray
    open_age_hours: np.ndarray | None
    n_open: int
    n_dropped: int
    n_after_as_of: int


def _as_of_time(as_of: Any) -> np.datetime64:
    dates, _ = clean_dates(as_of, argument="as_of", allow_blank=False)
    if dates.size != 1:
        raise KpiInputError(f"as_of must be one date, got {dates.size} values", argument="as_of")
    return dates[0]


def _dropped_dates(raw: np.ndarray, missing: np.ndarray, on_invalid: OnInvalid) -> np.ndarray:
    """Positions clean_dates reported as missing because their value was unparseable and dropped.

    With on_invalid="drop", clean_dates returns an unparseable date as missing. An unparseable reply
    date must be dropped, not read as "no reply yet", so true blanks are told apart here. A datetime
    array cannot hold an unparseable value, and with "raise" clean_dates has already refused one.
    """
    if on_invalid == "raise" or raw.dtype.kind == "M":
        return np.zeros(raw.shape, dtype=bool)
    return missing & ~_blank_mask(raw)


def _tickets(created: Any, ended: Any, *, end_argument: str, as_of: Any, on_invalid: OnInvalid) -> _Tickets:
    check_on_invalid(on_invalid)
    raw_created = _as_1d(created, "created")
    raw_ended = _as_1d(ended, end_argument)
    if raw_created.size != raw_ended.size:
        raise KpiInputError(
            f"created has {raw_created.size} values but {end_argument} has {raw_ended.size}; "
            "give one pair of dates per ticket",
            argument=end_argument,
        )
    c, c_missing = clean_dates(raw_created, argument="created", on_invalid=on_invalid)
    e, e_missing = clean_dates(raw_ended, argument=end_argument, on_invalid=on_invalid)
    c_bad = _dropped_dates(raw_created, c_missing, on_invalid)
    e_bad = _dropped_dates(raw_ended, e_missing, on_invalid)
    c_blank = c_missing & ~c_bad
    e_blank = e_missing & ~e_bad

    orphan = c_blank & ~e_missing
    backwards = ~c_missing & ~e_missing & (e < c)
    for mask, argument, raw, problem in (
        (orphan, "created", raw_created, f"has a {end_argument} date but no created date"),
        (backwards, end_argument, raw_ended, f"has a {end_argument} date before its created date"),
    ):
        if mask.any() and on_invalid == "raise":
            pos = int(np.flatnonzero(mask)[0])
            raise KpiInputError(
                argument=argument,
                position=pos + 1,
                value=raw[pos],
                what="the ticket",
                reason=(
                    f"{problem} ({end_argument}={show_value(raw_ended[pos])}, "
                    f"created={show_value(raw_created[pos])})"
                ),
                hint=Hint("on_invalid", "drop", "skip and count such tickets"),
            )
    dropped = c_bad | e_bad | orphan | backwards | (c_blank & e_blank)
    valid = ~dropped
    after = np.zeros(c.shape, dtype=bool)
    cutoff = None
    if as_of is not None:
        cutoff = _as_of_time(as_of)
        after = valid & (c > cutoff)
        # A reply stamped after the cut-off had not happened yet at the cut-off: the ticket was open.
        e = np.where(~e_missing & (e > cutoff), np.datetime64("NaT"), e)
        e_missing = np.isnat(e)
    in_scope = valid & ~after
    is_open = in_scope & e_missing
    closed = in_scope & ~e_missing
    hours = (e[closed] - c[closed]).astype(np.int64) / _HOUR_NS
    open_age = None if cutoff is None else (cutoff - c[is_open]).astype(np.int64) / _HOUR_NS
    return _Tickets(
        hours=hours,
        open_age_hours=open_age,
        n_open=int(is_open.sum()),
        n_dropped=int(dropped.sum()),
        n_after_as_of=int(after.sum()),
    )


def _quantile_interval(
    sorted_x: np.ndarray, q: float, confidence: float
) -> tuple[float, float, float] | None:
    """Distribution-free interval for the q-quantile from two order statistics.

    The number of observations below the true quantile is Binomial(n, q), so
    ``P(X_(l) <= xi_q <= X_(u)) = F(u - 1) - F(l - 1)`` with F the binomial CDF. The ranks
    ``l = F^-1(alpha/2)`` and ``u = F^-1(1 - alpha/2) + 1`` are the innermost ones leaving at most
    alpha/2 in each tail, so the coverage is at least ``confidence``. Returns
    ``(low, high, coverage)``, or None when n is too small for both ranks to exist.
    """
    from scipy import stats  # here, not at the top: importing it costs about 0.5 s of every start

    n = sorted_x.size
    alpha = 1.0 - confidence
    lo_rank = int(stats.binom.ppf(alpha / 2.0, n, q))
    hi_rank = int(stats.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1
    if lo_rank < 1 or hi_rank > n:
        return None
    coverage = float(stats.binom.cdf(hi_rank - 1, n, q) - stats.binom.cdf(lo_rank - 1, n, q))
    return float(sorted_x[lo_rank - 1]), float(sorted_x[hi_rank - 1]), coverage


def _duration_result(
    metric: str,
    what: str,
    t: _Tickets,
    *,
    statistic: str,
    confidence: float,
    min_n: int | None,
    as_of_given: bool,
) -> MetricResult:
    x = t.hours
    n = x.size
    if n == 0:
        raise KpiInputError(
            f"no ticket has a {what} yet ({t.n_open} open, {t.n_dropped} skipped); "
            f"{metric} needs at least one answered ticket",
            argument=what,
            kind="empty",
        )
    sorted_x = np.sort(x)
    median = float(np.median(sorted_x))
    p90 = float(np.percentile(sorted_x, 90))
    mean = float(x.mean())
    components: dict[str, Any] = {
        "mean": mean,
        "median": median,
        "p90": p90,
        "open": t.n_open,
        "n_closed": n,
    }
    if as_of_given:
        components["after_as_of"] = t.n_after_as_of
        if t.open_age_hours is not None and t.open_age_hours.size:
            components["open_oldest_hours"] = float(t.open_age_hours.max())
    warnings: tuple[str, ...] = ()
    if t.n_open:
        warnings += (
            f"{t.n_open} open ticket(s) without a {what} are excluded, not counted as 0; the statistic "
            "describes closed tickets only and understates waiting times if many are still open",
        )
    se: float | None = None
    low: float | None = None
    high: float | None = None
    method: str | None = None
    if statistic == "mean":
        value = mean
        if n > 1:
            se = float(x.std(ddof=1)) / math.sqrt(n)
            tq = t_quantile(confidence, n - 1)
            low, high, method = max(0.0, mean - tq * se), mean + tq * se, "t"
    else:
        q, value = (0.5, median) if statistic == "median" else (0.9, p90)
        interval = _quantile_interval(sorted_x, q, confidence)
        if interval is None:
            warnings += (
                f"{n} closed ticket(s) are too few for a distribution-free {confidence:.0%} interval "
                f"for the {statistic}",
            )
        else:
            low, high, components["ci_coverage"] = interval
            method = "order-statistic"
    return MetricResult(
        metric=metric,
        value=value,
        unit="hours",
        n_used=n,
        n_dropped=t.n_dropped,
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence if method is not None else None,
        method=method,
        components=components,
        warnings=warnings + small_sample_warnings(n, min_n),
    )


def _check_statistic(statistic: str) -> None:
    if statistic not in ("median", "mean", "p90"):
        raise KpiInputError(
            f"statistic must be 'median', 'mean' or 'p90', got {statistic!r}", argument="statistic"
        )


def first_response_time(
    created: Any,
    first_response: Any,
    *,
    statistic: Statistic = "median",
    as_of: Any = None,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""First response time (FRT) in calendar hours: from ticket creation to the first reply.

    .. math::

        FRT_i = t^{\text{first reply}}_i - t^{\text{created}}_i \quad \text{(hours)}

    summarised over answered tickets by the median (default), the mean or the 90th percentile.
    Response times are right-skewed, so the median and p90 describe the typical and the long wait
    better than the mean (Plain reports quantiles 0.5 and 0.9).

    Intervals:

    * ``"mean"``: t interval ``mean ± t(n-1)·s/√n`` (lower end clipped at 0);
    * ``"median"`` and ``"p90"``: distribution-free order-statistic interval ``[X_(l), X_(u)]``,
      where the count of times below the true quantile is Binomial(n, q) and the ranks are chosen
      so that the coverage (in ``components["ci_coverage"]``) is at least ``confidence``. It needs
      enough tickets: at 95%, 6 for the median and 36 for p90; below that no interval is given and
      a warning says so.

    ``p90`` is ``numpy.percentile(x, 90)`` with numpy's default linear interpolation (Excel's
    ``PERCENTILE.INC``).

    Parameters
    ----------
    created:
        Ticket creation timestamps.
    first_response:
        Timestamp of the first public agent reply, one per ticket; blank while unanswered. Pass the
        reply that stops the clock by your own rules (e.g. not automated replies; Zendesk counts the
        next agent comment when an agent created the ticket).
    statistic:
        ``"median"`` (default), ``"mean"`` or ``"p90"``.
    as_of:
        Optional cut-off (report date). Tickets created after it are left out (counted in
        ``components["after_as_of"]``); a reply stamped after it counts as not yet given, so the ticket
        is open; ``components["open_oldest_hours"]`` gives the age of the oldest open ticket.
    confidence:
        Confidence level of the interval, default 0.95.
    on_invalid:
        ``"raise"`` (default): an unparseable date, a reply before its ticket was created, or a reply
        without a created date is an error naming the position. ``"drop"``: skip and count such rows.
    min_n:
        Closed tickets below which the result carries a small-sample warning (default 30).

    Returns
    -------
    MetricResult
        ``value`` in hours; ``n_used`` = answered tickets; ``n_dropped`` = blank and dropped rows;
        ``components``: ``mean``, ``median``, ``p90``, ``open``, ``n_closed`` (and ``after_as_of``,
        ``open_oldest_hours`` with ``as_of``; ``ci_coverage`` for quantile intervals).

    Raises
    ------
    KpiInputError
        No answered ticket (kind ``"empty"``), mismatched lengths, or an invalid row.

    References
    ----------
    Zendesk, "Calculating first reply time" (support article 4408821871642); Plain, "First response
    time". Order-statistic interval: Conover, W. J. (1999), *Practical Nonparametric Statistics*,
    3rd ed., section 3.2; Hahn & Meeker (1991), *Statistical Intervals*, section 5.2.

    Examples
    --------
    Four tickets created at 08:00; replies at 09:00, 10:00 and 12:00, one still unanswered:
    times 1, 2 and 4 hours, median 2, one open ticket excluded.

    >>> created = ["2025-01-06 08:00"] * 4
    >>> replied = ["2025-01-06 09:00", "2025-01-06 10:00", "2025-01-06 12:00", None]
    >>> r = first_response_time(created, replied)
    >>> r.value, r.components["open"]
    (2.0, 1)
    """
    _check_statistic(statistic)
    check_confidence(confidence)
    t = _tickets(created, first_response, end_argument="first_response", as_of=as_of, on_invalid=on_invalid)
    return _duration_result(
        "first_response_time",
        "first_response",
        t,
        statistic=statistic,
        confidence=confidence,
        min_n=min_n,
        as_of_given=as_of is not None,
    )


def resolution_time(
    created: Any,
    resolved: Any,
    *,
    statistic: Statistic = "median",
    as_of: Any = None,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Resolution time in calendar hours: from ticket creation to resolution.

    .. math::

        RT_i = t^{\text{resolved}}_i - t^{\text{created}}_i \quad \text{(hours)}

    Pass the first time the ticket was solved for *first resolution time*, or the final solve/close
    (after any reopening) for *full resolution time*; the two answer different questions (Zendesk).
    Unresolved tickets are open: excluded and counted, never zero. Statistics, intervals and
    parameters are those of :func:`first_response_time`.

    References
    ----------
    Zendesk, "Understanding duration metrics" (support article 4408834848154).

    Examples
    --------
    Three tickets resolved after 4, 8 and 30 hours: median 8, mean 14.

    >>> created = ["2025-01-06 08:00", "2025-01-06 08:00", "2025-01-06 08:00"]
    >>> resolved = ["2025-01-06 12:00", "2025-01-06 16:00", "2025-01-07 14:00"]
    >>> resolution_time(created, resolved).value, resolution_time(created, resolved, statistic="mean").value
    (8.0, 14.0)
    """
    _check_statistic(statistic)
    check_confidence(confidence)
    t = _tickets(created, resolved, end_argument="resolved", as_of=as_of, on_invalid=on_invalid)
    return _duration_result(
        "resolution_time",
        "resolved",
        t,
        statistic=statistic,
        confidence=confidence,
        min_n=min_n,
        as_of_given=as_of is not None,
    )


def sla_rate(
    created: Any,
    responded: Any,
    *,
    target_hours: float,
    as_of: Any = None,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""SLA attainment: the share of tickets answered within ``target_hours``, with a Wilson interval.

    .. math::

        SLA = \frac{\#\{\text{answered with } t^{\text{responded}} - t^{\text{created}} \le T\}}
                   {\#\{\text{answered}\} + \#\{\text{open and older than } T \text{ at as\_of}\}}

    A reply exactly at the target counts as met. Without ``as_of``, open tickets are excluded and
    counted (``components["open"]``). With ``as_of``, an open ticket already older than the target
    at the cut-off has certainly breached and counts as a breach (``components["open_breached"]``);
    a younger open ticket may still meet the target and stays excluded. Pass resolution timestamps
    for a resolution SLA.

    Parameters
    ----------
    created, responded:
        Ticket creation and response timestamps, one pair per ticket (``responded`` blank while open).
    target_hours:
        The SLA target in hours, more than 0.
    as_of, confidence, on_invalid, min_n:
        As in :func:`first_response_time`.

    Returns
    -------
    MetricResult
        ``value`` a share 0..1; ``n_used`` = tickets judged (answered plus breached open ones);
        ``components``: ``met``, ``breached`` (all breaches), ``open_breached``, ``open`` (excluded),
        ``target_hours`` (and ``after_as_of`` with ``as_of``).

    References
    ----------
    Zendesk, "Understanding duration metrics" (SLA targets on reply and resolution times);
    Wilson, E. B. (1927), JASA 22, 209-212.

    Examples
    --------
    Target 4 hours; answered after 1, 3 and 6 hours, one open ticket created 10 hours before the
    cut-off: met 2, breached 1 + 1 open, SLA = 2/4 = 0.5.

    >>> created = ["2025-01-06 08:00"] * 4
    >>> responded = ["2025-01-06 09:00", "2025-01-06 11:00", "2025-01-06 14:00", None]
    >>> sla_rate(created, responded, target_hours=4, as_of="2025-01-06 18:00").value
    0.5
    """
    target = require_positive(target_hours, "target_hours")
    check_confidence(confidence)
    t = _tickets(created, responded, end_argument="responded", as_of=as_of, on_invalid=on_invalid)
    met = int((t.hours <= target).sum())
    closed_breached = t.hours.size - met
    open_breached = 0 if t.open_age_hours is None else int((t.open_age_hours > target).sum())
    n = t.hours.size + open_breached
    if n == 0:
        raise KpiInputError(
            f"no ticket can be judged against the SLA yet ({t.n_open} open, {t.n_dropped} skipped)",
            argument="responded",
            kind="empty",
        )
    components: dict[str, Any] = {
        "met": met,
        "breached": closed_breached + open_breached,
        "open_breached": open_breached,
        "open": t.n_open - open_breached,
        "target_hours": target,
    }
    if as_of is not None:
        components["after_as_of"] = t.n_after_as_of
    warnings: tuple[str, ...] = ()
    if components["open"]:
        warnings += (f"{components['open']} open ticket(s) not yet past the target are excluded",)
    return share_result(
        "sla_rate",
        met,
        n,
        n_used=n,
        n_dropped=t.n_dropped,
        confidence=confidence,
        min_n=min_n,
        components=components,
        warnings=warnings,
    )


def complaint_volume(is_complaint: Any, *, on_invalid: OnInvalid = "raise") -> MetricResult:
    r"""Complaint volume: the number of contacts flagged as complaints.

    .. math::

        \text{volume} = \#\{\text{rows flagged yes}\}

    What counts as a complaint, and deduplicating several contacts about one complaint, is up to the
    data: no authoritative definition exists, so flag the rows by your own rule. Flags are
    TRUE/FALSE, 1/0, yes/no (see :func:`~kpi_xl.metrics._clean.clean_flags`); blanks are skipped
    and counted.

    Returns
    -------
    MetricResult
        ``value`` the count (unit ``"count"``); ``n_used`` = flagged rows read; ``components``:
        ``complaints`` and ``non_complaints``. No interval: this is a count of the rows given.

    Raises
    ------
    KpiInputError
        A value that is not a yes/no flag, or no flags at all (kind ``"empty"``).

    Examples
    --------
    >>> complaint_volume(["yes", "no", "yes", None, "no"]).value
    2.0
    """
    cleaned = clean_flags(is_complaint, argument="is_complaint", on_invalid=on_invalid)
    if cleaned.values.size == 0:
        raise KpiInputError(
            f"no yes/no flags to count complaints from ({cleaned.n_dropped} value(s) skipped)",
            argument="is_complaint",
            kind="empty",
        )
    k = float(cleaned.values.sum())
    return MetricResult(
        metric="complaint_volume",
        value=k,
        unit="count",
        n_used=int(cleaned.values.size),
        n_dropped=cleaned.n_dropped,
        components={"complaints": k, "non_complaints": float(cleaned.values.size - k)},
    )


def complaint_rate(
    complaints: Any,
    base: Any,
    *,
    per: float = 1000,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
) -> MetricResult:
    r"""Complaints per ``per`` (default 1,000) customers or orders, with an exact Poisson interval.

    .. math::

        \text{rate} = \frac{k}{B} \cdot \text{per}, \qquad
        \left[\tfrac12\chi^2_{2k,\,\alpha/2},\ \tfrac12\chi^2_{2k+2,\,1-\alpha/2}\right]
        \cdot \frac{\text{per}}{B}

    with *k* complaints and *B* the base (customers, orders or tickets in the same period). The
    normalisation is a design choice, not an industry standard: state the base when reporting.
    Complaints are events (a customer can complain twice), so the rate may exceed ``per`` and the
    interval is the exact (Garwood) interval for a Poisson count, not a binomial one.

    Parameters
    ----------
    complaints:
        Either a single count (a whole number >= 0) or a column of yes/no flags, one per contact,
        whose yes values are counted.
    base:
        Number of customers or orders, a whole number more than 0 (0 is kind ``"zero-base"``).
    per:
        Scale of the rate, default 1000.
    confidence:
        Confidence level, default 0.95.
    on_invalid:
        For a flag column: ``"raise"`` (default) or ``"drop"`` invalid flags.

    Returns
    -------
    MetricResult
        ``value`` complaints per ``per`` base units (unit ``"count"``); ``n_used`` = the base;
        ``n_dropped`` = skipped flags; ``components``: ``complaints``, ``base``, ``per``.

    References
    ----------
    Garwood, F. (1936). Fiducial limits for the Poisson distribution. Biometrika 28, 437-442.

    Examples
    --------
    12 complaints from 4,000 customers: 12 / 4000 · 1000 = 3 per 1,000 customers.

    >>> complaint_rate(12, 4000).value
    3.0
    """
    check_confidence(confidence)
    if np.ndim(complaints) == 0:
        k = require_count(complaints, "complaints")
        n_dropped = 0
    else:
        cleaned = clean_flags(complaints, argument="complaints", on_invalid=on_invalid)
        if cleaned.values.size == 0:
            raise KpiInputError(
                f"no yes/no flags to count complaints from ({cleaned.n_dropped} value(s) skipped)",
                argument="complaints",
                kind="empty",
            )
        k = float(cleaned.values.sum())
        n_dropped = cleaned.n_dropped
    b = require_count(base, "base", allow_zero=False)
    scale = require_positive(per, "per")
    # chi2.ppf(q, 2k) / 2 is gammaincinv(k, q), the function scipy.stats.chi2.ppf calls (scipy.special
    # imports in a fraction of scipy.stats' 0.5 s).
    from scipy.special import gammaincinv

    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(gammaincinv(k, alpha / 2.0))
    high = float(gammaincinv(k + 1.0, 1.0 - alpha / 2.0))
    factor = scale / b
    return MetricResult(
        metric="complaint_rate",
        value=k * factor,
        unit="rate",
        n_used=int(b),
        n_dropped=n_dropped,
        se=math.sqrt(k) * factor,
        ci_low=low * factor,
        ci_high=high * factor,
        confidence=confidence,
        method="poisson-exact",
        components={"complaints": k, "base": b, "per": scale},
    )
