"""Advocacy and loyalty metrics: engagement, referrals, refunds and returns, loyalty programme rates,
and kpi-xl's Customer Advocacy Index.

Proportions of countable units (orders, leads, members) carry a Wilson interval; value-weighted
shares (revenue, refunded value, points) carry none, because money and points are not independent
trials. Order-count and value bases are never mixed: each result says its basis in ``components``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ._clean import (
    Cleaned,
    OnInvalid,
    clean_flags,
    clean_numbers,
    read_scalar,
    require_count,
    require_positive,
    require_share,
)
from ._errors import Hint, KpiInputError
from ._intervals import check_confidence, share_result, t_quantile
from ._result import MetricResult, small_sample_warnings

__all__ = [
    "engagements_total",
    "engagement_rate",
    "referral_conversion",
    "referral_conversion_from_counts",
    "advocacy_revenue_share",
    "refund_rate",
    "return_rate",
    "redemption_rate",
    "participation_rate",
    "active_member_rate",
    "advocacy_index",
]


def _full(cleaned: Cleaned) -> np.ndarray:
    """The cleaned values back at their input positions, NaN where skipped."""
    out = np.full(cleaned.mask.shape, np.nan)
    out[cleaned.mask] = cleaned.values
    return out


def _check_lengths(sizes: dict[str, int]) -> None:
    if len(set(sizes.values())) > 1:
        given = ", ".join(f"{name} has {size}" for name, size in sizes.items())
        raise KpiInputError(f"the columns must have one value per row, but {given}", argument=list(sizes)[-1])


def _rows(columns: dict[str, Cleaned]) -> tuple[list[np.ndarray], int, tuple[str, ...]]:
    """Rows where every column holds a value: ``(arrays, n_dropped, warnings)``.

    A row with some but not all values is skipped like a blank row, counted, and reported in a
    warning, so a half-filled row is never lost silently.
    """
    _check_lengths({name: c.mask.size for name, c in columns.items()})
    masks = np.vstack([c.mask for c in columns.values()])
    keep = masks.all(axis=0)
    partial = int((masks.any(axis=0) & ~keep).sum())
    warnings: tuple[str, ...] = ()
    if partial:
        names = " and ".join(columns)
        warnings = (f"{partial} row(s) skipped because not all of {names} had a value",)
    return [_full(c)[keep] for c in columns.values()], int(keep.size - keep.sum()), warnings


def _require_base(total: float, what: str, argument: str) -> None:
    if total == 0:
        raise KpiInputError(f"{what} is 0, so the rate is undefined", argument=argument, kind="zero-base")


def _check_choice(value: str, argument: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise KpiInputError(f"{argument} must be one of {options}, got {value!r}", argument=argument)


def _flag_share(
    metric: str,
    flags: Cleaned,
    argument: str,
    empty_what: str,
    names: tuple[str, str],
    extra: dict[str, Any],
    confidence: float,
    min_n: int | None,
) -> MetricResult:
    """Share of yes flags among the units flagged (leads, orders), with its Wilson interval."""
    n = int(flags.values.size)
    if n == 0:
        raise KpiInputError(
            f"no {empty_what} ({flags.n_dropped} value(s) skipped)", argument=argument, kind="empty"
        )
    k = float(flags.values.sum())
    return share_result(
        metric,
        k,
        n,
        n_used=n,
        n_dropped=flags.n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={**extra, names[0]: k, names[1]: n},
    )


def engagements_total(
    likes: Any,
    comments: Any,
    shares: Any,
    saves: Any = None,
    clicks: Any = None,
    *,
    on_invalid: OnInvalid = "raise",
) -> np.ndarray:
    r"""Engagements per post: likes + comments + shares (+ saves) (+ clicks).

    Pass ``saves`` and ``clicks`` only when your definition of an engagement includes them; say
    which in your report, since vendors differ (NapoleonCat, SocialTalk).

    Parameters
    ----------
    likes, comments, shares, saves, clicks:
        Counts per post, same length, not negative. A post with a blank in any part given has an
        unknown total: it comes back blank (NaN), which :func:`engagement_rate` skips and counts,
        instead of being summed as if the blank were 0.
    on_invalid:
        ``"raise"`` (default): a negative or non-numeric count is an error naming the column and
        position. ``"drop"``: that post's total becomes blank.

    Returns
    -------
    numpy.ndarray
        One float total per post, NaN where the total is unknown.

    Examples
    --------
    >>> engagements_total([10, 4], [2, 1], [1, 0]).tolist()
    [13.0, 5.0]
    """
    parts = {"likes": likes, "comments": comments, "shares": shares, "saves": saves, "clicks": clicks}
    columns = {
        name: _full(clean_numbers(v, argument=name, allow_negative=False, on_invalid=on_invalid))
        for name, v in parts.items()
        if v is not None
    }
    _check_lengths({name: col.size for name, col in columns.items()})
    return np.sum(list(columns.values()), axis=0)


def engagement_rate(
    engagements: Any,
    audience: Any,
    *,
    basis: Literal["followers", "reach"] = "followers",
    method: Literal["pooled", "mean"] = "pooled",
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Engagement rate of a set of posts, by followers (ER) or by reach (ERR).

    .. math::

        ER_{\text{pooled}} = \frac{\sum_i e_i}{\sum_i a_i}, \qquad
        ER_{\text{mean}} = \frac1n \sum_i \frac{e_i}{a_i}

    with *e* the engagements and *a* the audience (followers at posting time, or reach) of post *i*.
    The two differ when audiences differ: pooled weights each post by its audience, the mean weights
    posts equally (LiveDune offers both). Rates can exceed 1 (a viral post, or several engagements
    per person reached).

    Intervals treat the posts as the sampled units: for ``"mean"`` the t interval of the per-post
    rates; for ``"pooled"`` the ratio-estimator (linearisation) standard error
    ``SE = sqrt(sum((e_i - R a_i)^2) / (n (n - 1))) / mean(a)`` (Cochran 1977, section 6.4) with a
    t(n-1) quantile. Both need two or more posts.

    Parameters
    ----------
    engagements:
        Engagements per post (one column of totals, e.g. from :func:`engagements_total`).
    audience:
        Followers or reach per post; more than 0.
    basis:
        ``"followers"`` (default) or ``"reach"``: which denominator ``audience`` holds. Reported in
        ``components["basis"]``; never compare rates across bases.
    method:
        ``"pooled"`` (default) or ``"mean"``.
    confidence, min_n:
        As in :func:`~kpi_xl.metrics.nps`.
    on_invalid:
        ``"raise"`` (default): a negative or non-numeric value, or an audience of 0, is an error
        naming its position (an audience of 0 is kind ``"zero-base"``). ``"drop"``: skip and count it.

    Returns
    -------
    MetricResult
        ``value`` a rate (unit ``"share"``); ``n_used`` = posts; ``components``: ``basis``,
        ``aggregation``, ``engagements``, ``audience`` (totals).

    References
    ----------
    NapoleonCat, "What is engagement rate (ER)"; SocialTalk, "How to calculate engagement";
    LiveDune, "ER, ERR and other formulas". Cochran, W. G. (1977), *Sampling Techniques*, 3rd ed.

    Examples
    --------
    Two posts: 30 engagements on 1,000 followers and 10 on 250. Pooled ER = 40 / 1250 = 0.032;
    mean ER = (0.03 + 0.04) / 2 = 0.035.

    >>> engagement_rate([30, 10], [1000, 250]).value
    0.032
    >>> round(engagement_rate([30, 10], [1000, 250], method="mean").value, 6)
    0.035
    """
    _check_choice(basis, "basis", ("followers", "reach"))
    _check_choice(method, "method", ("pooled", "mean"))
    check_confidence(confidence)
    eng = clean_numbers(engagements, argument="engagements", allow_negative=False, on_invalid=on_invalid)
    aud = clean_numbers(audience, argument="audience", allow_negative=False, on_invalid=on_invalid)
    a_full = _full(aud)
    zero = a_full == 0
    if zero.any():
        if on_invalid == "raise":
            pos = int(np.flatnonzero(zero)[0])
            raise KpiInputError(
                argument="audience",
                position=pos + 1,
                value=0,
                kind="zero-base",
                reason="leaves that post without a base",
                hint=Hint("on_invalid", "drop", "skip and count such posts"),
            )
        aud = Cleaned(
            values=aud.values[aud.values != 0],
            mask=aud.mask & ~zero,
            n_blank=aud.n_blank,
            n_invalid=aud.n_invalid + int(zero.sum()),
        )
    (e, a), n_dropped, warnings = _rows({"engagements": eng, "audience": aud})
    n = e.size
    if n == 0:
        raise KpiInputError(
            f"no post has both engagements and an audience ({n_dropped} row(s) skipped)",
            argument="engagements",
            kind="empty",
        )
    if method == "pooled":
        value = float(e.sum() / a.sum())
        se = (
            math.sqrt(float(((e - value * a) ** 2).sum()) / (n * (n - 1))) / float(a.mean())
            if n > 1
            else None
        )
    else:
        rates = e / a
        value = float(rates.mean())
        se = float(rates.std(ddof=1)) / math.sqrt(n) if n > 1 else None
    low = high = None
    if se is not None:
        tq = t_quantile(confidence, n - 1)
        low, high = max(0.0, value - tq * se), value + tq * se
    return MetricResult(
        metric="engagement_rate",
        value=value,
        unit="share",
        n_used=n,
        n_dropped=n_dropped,
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence if se is not None else None,
        method=None if se is None else ("ratio-t" if method == "pooled" else "t"),
        components={
            "basis": basis,
            "aggregation": method,
            "engagements": float(e.sum()),
            "audience": float(a.sum()),
        },
        warnings=warnings + small_sample_warnings(n, min_n),
    )


def referral_conversion(
    converted_flags: Any,
    *,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Referral conversion rate: referred leads who purchased / referred leads, with a Wilson interval.

    .. math::

        \text{conversion} = \frac{\#\{\text{referred leads who purchased}\}}{\#\{\text{referred leads}\}}

    One flag per referred lead (deduplicated, inside your attribution window): yes if the lead
    purchased. Blanks are skipped and counted.

    References
    ----------
    Keevee, "Referral program metrics"; Wilson, E. B. (1927), JASA 22, 209-212.

    Examples
    --------
    Three of eight referred leads bought: 3 / 8 = 0.375.

    >>> referral_conversion([1, 0, 0, 1, 0, 1, 0, 0]).value
    0.375
    """
    check_confidence(confidence)
    cleaned = clean_flags(converted_flags, argument="converted_flags", on_invalid=on_invalid)
    return _flag_share(
        "referral_conversion",
        cleaned,
        "converted_flags",
        "referred leads to compute a conversion rate from",
        ("conversions", "leads"),
        {},
        confidence,
        min_n,
    )


def _counts_share(
    metric: str,
    k: Any,
    n: Any,
    k_name: str,
    n_name: str,
    *,
    confidence: float,
    min_n: int | None,
) -> MetricResult:
    """A share from two scalar counts, ``k <= n``, with a Wilson interval."""
    check_confidence(confidence)
    kv = require_count(k, k_name)
    nv = require_count(n, n_name, allow_zero=False)
    if kv > nv:
        raise KpiInputError(
            f"{k_name} ({k!r}) cannot be more than {n_name} ({n!r})", argument=k_name, value=k
        )
    return share_result(
        metric,
        kv,
        nv,
        n_used=int(nv),
        n_dropped=0,
        confidence=confidence,
        min_n=min_n,
        components={k_name: kv, n_name: nv},
    )


def referral_conversion_from_counts(
    conversions: Any, leads: Any, *, confidence: float = 0.95, min_n: int | None = None
) -> MetricResult:
    r"""Referral conversion rate from totals: ``conversions / leads``, with a Wilson interval.

    ``conversions`` is a whole number from 0 to ``leads``; ``leads`` a whole number more than 0
    (0 is kind ``"zero-base"``). See :func:`referral_conversion`.

    Examples
    --------
    >>> referral_conversion_from_counts(30, 120).value
    0.25
    """
    return _counts_share(
        "referral_conversion", conversions, leads, "conversions", "leads", confidence=confidence, min_n=min_n
    )


def advocacy_revenue_share(
    amounts: Any, referred_flags: Any, *, on_invalid: OnInvalid = "raise"
) -> MetricResult:
    r"""Share of revenue that came from referred customers.

    .. math::

        \text{share} = \frac{\sum_{i \text{ referred}} r_i}{\sum_i r_i}

    over order (or customer) rows with revenue *r* and a yes/no "referred" flag. Use revenue net of
    refunds: refund rows may be negative, but total revenue must be more than 0. No interval: this is
    a value-weighted share, not a proportion of independent units.

    Parameters
    ----------
    amounts:
        Revenue per row.
    referred_flags:
        Yes/no per row: did the revenue come from a referred customer (inside the attribution window).
    on_invalid:
        ``"raise"`` (default) or ``"drop"`` for non-numeric amounts and non-flag values.

    Returns
    -------
    MetricResult
        ``value`` a share (unit ``"share"``); ``components``: ``referred_revenue``,
        ``total_revenue``.

    References
    ----------
    Keevee, "Referral program metrics" (revenue attributed to advocacy).

    Examples
    --------
    Orders of 100, 50 and 250, the 50 and 250 from referred customers: 300 / 400 = 0.75.

    >>> advocacy_revenue_share([100, 50, 250], ["no", "yes", "yes"]).value
    0.75
    """
    amt = clean_numbers(amounts, argument="amounts", on_invalid=on_invalid)
    flg = clean_flags(referred_flags, argument="referred_flags", on_invalid=on_invalid)
    (r, f), n_dropped, warnings = _rows({"amounts": amt, "referred_flags": flg})
    if r.size == 0:
        raise KpiInputError(
            f"no rows with both an amount and a referred flag ({n_dropped} row(s) skipped)",
            argument="amounts",
            kind="empty",
        )
    total = float(r.sum())
    if total <= 0:
        raise KpiInputError(
            f"total revenue is {total:g}; a revenue share needs a total above 0",
            argument="amounts",
            value=total,
            kind="zero-base" if total == 0 else "invalid",
        )
    referred = float(r[f == 1.0].sum())
    share = referred / total
    if not 0.0 <= share <= 1.0:
        warnings += (
            f"referred revenue ({referred:g}) is outside 0..total ({total:g}) because of negative "
            "(refund) rows; check the attribution",
        )
    return MetricResult(
        metric="advocacy_revenue_share",
        value=share,
        unit="share",
        n_used=int(r.size),
        n_dropped=n_dropped,
        components={"referred_revenue": referred, "total_revenue": total},
        warnings=warnings,
    )


def refund_rate(
    refunded_flags: Any,
    amounts: Any = None,
    *,
    basis: Literal["count", "value"] = "count",
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Refund rate by order count or by value; the two bases are never mixed.

    .. math::

        \text{count basis} = \frac{\#\{\text{refunded orders}\}}{\#\{\text{orders}\}}, \qquad
        \text{value basis} = \frac{\sum_{\text{refunded}} v_i}{\sum_i v_i}

    One row per order: a yes/no flag for a refunded order and, for the value basis, the order's sales
    value. A flagged order counts with its full value, so flag full refunds (cancellations before
    shipment are not refunds). The count basis carries a Wilson interval; the value basis none.

    Parameters
    ----------
    refunded_flags:
        Yes/no per order.
    amounts:
        Sales value per order, not negative; required for ``basis="value"`` and refused for
        ``basis="count"`` (so a value column is never silently ignored).
    basis:
        ``"count"`` (default) or ``"value"``, reported in ``components["basis"]``.
    confidence, on_invalid, min_n:
        As in :func:`~kpi_xl.metrics.csat`.

    Returns
    -------
    MetricResult
        ``value`` a share; ``n_used`` = orders; ``components``: ``basis``, ``refunded_orders``,
        ``orders`` and, for the value basis, ``refunded_value`` and ``sales_value``.

    References
    ----------
    heatmap.com, "Refund rate" (order basis); count.co, "Refund rate" (value basis).

    Examples
    --------
    Four orders worth 100, 50, 30 and 20; the 50 and the 20 refunded. Count basis 2/4 = 0.5; value
    basis 70/200 = 0.35.

    >>> flags = [0, 1, 0, 1]
    >>> refund_rate(flags).value, refund_rate(flags, [100, 50, 30, 20], basis="value").value
    (0.5, 0.35)
    """
    _check_choice(basis, "basis", ("count", "value"))
    check_confidence(confidence)
    _check_basis_input(basis, amounts, "amounts", "sales value per order")
    flg = clean_flags(refunded_flags, argument="refunded_flags", on_invalid=on_invalid)
    if basis == "count":
        return _flag_share(
            "refund_rate",
            flg,
            "refunded_flags",
            "orders to compute a refund rate from",
            ("refunded_orders", "orders"),
            {"basis": "count"},
            confidence,
            min_n,
        )
    amt = clean_numbers(amounts, argument="amounts", allow_negative=False, on_invalid=on_invalid)
    (f, v), n_dropped, warnings = _rows({"refunded_flags": flg, "amounts": amt})
    if f.size == 0:
        raise KpiInputError(
            f"no orders with both a refund flag and an amount ({n_dropped} row(s) skipped)",
            argument="amounts",
            kind="empty",
        )
    refunded, sales = float(v[f == 1.0].sum()), float(v.sum())
    _require_base(sales, "the total sales value", "amounts")
    return MetricResult(
        metric="refund_rate",
        value=refunded / sales,
        unit="share",
        n_used=int(f.size),
        n_dropped=n_dropped,
        components={
            "basis": "value",
            "refunded_orders": float(f.sum()),
            "orders": int(f.size),
            "refunded_value": refunded,
            "sales_value": sales,
        },
        warnings=warnings,
    )


def _check_basis_input(basis: str, column: Any, argument: str, meaning: str) -> None:
    """The value column is required for the value basis and refused otherwise, never ignored."""
    if basis == "value" and column is None:
        raise KpiInputError(f"basis='value' needs {argument} ({meaning})", argument=argument)
    if basis == "count" and column is not None:
        raise KpiInputError(
            f"{argument} is only used with basis='value'; pass basis='value' for the share of value, "
            f"or leave {argument} out for the count basis",
            argument=argument,
        )


def return_rate(
    units_returned: Any,
    units_sold: Any,
    unit_prices: Any = None,
    *,
    basis: Literal["count", "value"] = "count",
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Return rate in units or by value; the two bases are never mixed.

    .. math::

        \text{count basis} = \frac{\sum_i u^{\text{returned}}_i}{\sum_i u^{\text{sold}}_i}, \qquad
        \text{value basis} = \frac{\sum_i u^{\text{returned}}_i p_i}{\sum_i u^{\text{sold}}_i p_i}

    over rows (products, orders or periods) with whole units returned and sold and, for the value
    basis, a unit price *p*. Returns lag sales, so match periods (cohort by order date). When more
    units come back than were sold the rate is above 1: it is reported with a warning and no
    interval. Otherwise the count basis carries a Wilson interval that treats units as independent
    trials; the value basis carries none.

    Parameters
    ----------
    units_returned, units_sold:
        Whole units per row, not negative.
    unit_prices:
        Price per unit per row, not negative; required for ``basis="value"``, refused for
        ``basis="count"``.
    basis:
        ``"count"`` (units, default) or ``"value"``, as in :func:`refund_rate`.
    confidence, on_invalid, min_n:
        As in :func:`~kpi_xl.metrics.csat`.

    Returns
    -------
    MetricResult
        ``value`` a share; ``n_used`` = rows; ``components``: ``basis``, ``units_returned``,
        ``units_sold`` and, for the value basis, ``returned_value`` and ``sold_value``.

    References
    ----------
    Nostradamus, "Benchmarks: ratio of returns" (unit basis); heatmap.com, "Refund rate".

    Examples
    --------
    Two products: 3 of 40 units and 1 of 10 units returned: 4 / 50 = 0.08. At unit prices 10 and
    50 the value basis is (30 + 50) / (400 + 500) = 80 / 900.

    >>> return_rate([3, 1], [40, 10]).value
    0.08
    >>> round(return_rate([3, 1], [40, 10], [10, 50], basis="value").value, 6)
    0.088889
    """
    _check_choice(basis, "basis", ("count", "value"))
    check_confidence(confidence)
    _check_basis_input(basis, unit_prices, "unit_prices", "price per unit per row")
    units = {
        name: clean_numbers(v, argument=name, integer=True, allow_negative=False, on_invalid=on_invalid)
        for name, v in (("units_returned", units_returned), ("units_sold", units_sold))
    }
    if basis == "value":
        units["unit_prices"] = clean_numbers(
            unit_prices, argument="unit_prices", allow_negative=False, on_invalid=on_invalid
        )
    arrays, n_dropped, warnings = _rows(units)
    r, s = arrays[0], arrays[1]
    if r.size == 0:
        raise KpiInputError(
            f"no rows with both units returned and units sold ({n_dropped} row(s) skipped)",
            argument="units_sold",
            kind="empty",
        )
    returned, sold = float(r.sum()), float(s.sum())
    components: dict[str, Any] = {"basis": basis, "units_returned": returned, "units_sold": sold}
    if basis == "value":
        part, whole = float((r * arrays[2]).sum()), float((s * arrays[2]).sum())
        _require_base(whole, "the value sold", "unit_prices")
        components.update(returned_value=part, sold_value=whole)
    else:
        part, whole = returned, sold
        _require_base(whole, "units_sold", "units_sold")
    if part > whole:
        warnings += (
            "more was returned than sold in these rows (returns lag sales: match periods by order "
            "date); the rate is above 1 and has no interval",
        )
    elif basis == "count":
        return share_result(
            "return_rate",
            returned,
            sold,
            n_used=int(r.size),
            n_dropped=n_dropped,
            confidence=confidence,
            min_n=min_n,
            components=components,
            warnings=warnings,
        )
    return MetricResult(
        metric="return_rate",
        value=part / whole,
        unit="share",
        n_used=int(r.size),
        n_dropped=n_dropped,
        components=components,
        warnings=warnings,
    )


def redemption_rate(
    points_redeemed: Any, points_issued: Any, *, on_invalid: OnInvalid = "raise"
) -> MetricResult:
    r"""Loyalty redemption rate: points redeemed / points issued.

    .. math::

        \text{redemption rate} = \frac{\sum \text{points redeemed}}{\sum \text{points issued}}

    Each argument is a single total or a column of values, summed separately (they need not be
    paired row by row). Count expired points in ``points_issued`` (Customer Insight Group). Over a
    single period the rate can exceed 1, because members redeem points issued in earlier periods;
    that is allowed and comes with a warning (some vendors, e.g. Emarsys, cap at 100%; kpi-xl does
    not, so the number stays true). No interval: points are not independent units.

    Returns
    -------
    MetricResult
        ``value`` a share (may exceed 1); ``n_used`` = values summed from both arguments;
        ``components``: ``points_redeemed``, ``points_issued``.

    Raises
    ------
    KpiInputError
        Negative or non-numeric points, no values (kind ``"empty"``), or no points issued (kind
        ``"zero-base"``).

    References
    ----------
    Customer Insight Group, "Loyalty redemption rates"; Emarsys, "Reporting: loyalty engagement".

    Examples
    --------
    >>> redemption_rate(3000, 12000).value
    0.25
    """
    totals: dict[str, float] = {}
    n_used = n_dropped = 0
    for name, v in (("points_redeemed", points_redeemed), ("points_issued", points_issued)):
        cleaned = clean_numbers(v, argument=name, allow_negative=False, on_invalid=on_invalid)
        if cleaned.values.size == 0:
            raise KpiInputError(
                f"{name} has no values ({cleaned.n_dropped} skipped)", argument=name, kind="empty"
            )
        totals[name] = float(cleaned.values.sum())
        n_used += int(cleaned.values.size)
        n_dropped += cleaned.n_dropped
    _require_base(totals["points_issued"], "points_issued", "points_issued")
    value = totals["points_redeemed"] / totals["points_issued"]
    warnings: tuple[str, ...] = ()
    if value > 1:
        warnings = (
            "more points were redeemed than issued in this period: members redeemed points issued "
            "earlier; a cumulative rate (all points redeemed / all points ever issued) stays at or below 1",
        )
    return MetricResult(
        metric="redemption_rate",
        value=value,
        unit="share",
        n_used=n_used,
        n_dropped=n_dropped,
        components=totals,
        warnings=warnings,
    )


def participation_rate(
    members: Any, customers: Any, *, confidence: float = 0.95, min_n: int | None = None
) -> MetricResult:
    r"""Loyalty participation rate: enrolled members / customers, with a Wilson interval.

    .. math::

        \text{participation} = \frac{\text{members}}{\text{customers}}

    Whole-number counts for the same customer base and date; ``members`` cannot exceed
    ``customers``, and ``customers`` of 0 is kind ``"zero-base"``.

    References
    ----------
    Emarsys, "Reporting: loyalty engagement".

    Examples
    --------
    >>> participation_rate(350, 1000).value
    0.35
    """
    return _counts_share(
        "participation_rate", members, customers, "members", "customers", confidence=confidence, min_n=min_n
    )


def active_member_rate(
    active_members: Any, members: Any, *, confidence: float = 0.95, min_n: int | None = None
) -> MetricResult:
    r"""Active-member rate: members who earned or redeemed in the period / members, with a Wilson interval.

    .. math::

        \text{active rate} = \frac{\text{active members}}{\text{members}}

    Define "active" and the period explicitly when reporting. Whole-number counts;
    ``active_members`` cannot exceed ``members``.

    References
    ----------
    Emarsys, "Reporting: loyalty engagement" (loyalty engagement rate).

    Examples
    --------
    >>> active_member_rate(140, 350).value
    0.4
    """
    return _counts_share(
        "active_member_rate",
        active_members,
        members,
        "active_members",
        "members",
        confidence=confidence,
        min_n=min_n,
    )


def advocacy_index(
    nps: float, csat: float, referral_rate: float, *, weights: Any = (0.4, 0.3, 0.3)
) -> MetricResult:
    r"""Customer Advocacy Index (CAI), kpi-xl's 0-100 composite of NPS, CSAT and referral rate.

    .. math::

        CAI = 100 \cdot \frac{w_1 \frac{NPS + 100}{200} + w_2\, CSAT + w_3\, R}{w_1 + w_2 + w_3}

    This is kpi-xl's own composite, **not an industry standard**: use it to track one programme over
    time, not to compare with other companies' "advocacy" scores. Each input is first put on 0..1:

    * NPS (-100..100 points) is shifted and scaled, ``(NPS + 100) / 200``, so -100 -> 0, 0 -> 0.5,
      +100 -> 1;
    * CSAT is already a share in 0..1 (e.g. from :func:`~kpi_xl.metrics.csat`);
    * the referral rate (e.g. referred purchases / all purchases, or
      :func:`referral_conversion`) is a share in 0..1.

    The weighted mean of the three is scaled to 0..100. Weights are relative (they need not sum to 1).

    Parameters
    ----------
    nps:
        NPS in points, -100 to 100 (not a fraction).
    csat:
        CSAT as a share 0..1 (0.8 for 80%).
    referral_rate:
        A share 0..1.
    weights:
        Three non-negative weights for (NPS, CSAT, referral rate), not all 0; default (0.4, 0.3, 0.3).

    Returns
    -------
    MetricResult
        ``value`` on 0..100 (unit ``"index"``), no interval; ``components``: ``nps_normalised``,
        ``csat``, ``referral_rate`` (the three 0..1 inputs) and ``weight_nps``, ``weight_csat``,
        ``weight_referral`` (weights rescaled to sum to 1).

    Examples
    --------
    NPS 40, CSAT 0.8, referral rate 0.1: 100 · (0.4 · 0.7 + 0.3 · 0.8 + 0.3 · 0.1) = 55.

    >>> round(advocacy_index(40, 0.8, 0.1).value, 9)
    55.0
    """
    try:
        nps_v = read_scalar(nps, "nps")
    except KpiInputError as exc:
        if exc.kind == "ambiguous":
            raise
        raise KpiInputError(f"nps must be a number of points, got {nps!r}", argument="nps", value=nps)
    if not -100.0 <= nps_v <= 100.0:
        raise KpiInputError(f"nps must be from -100 to 100 points, got {nps!r}", argument="nps", value=nps)
    csat_v = require_share(csat, "csat")
    ref_v = require_share(referral_rate, "referral_rate")
    w = np.asarray(weights, dtype=object).reshape(-1)
    if w.size != 3:
        raise KpiInputError(
            f"weights must be three numbers (NPS, CSAT, referral rate), got {weights!r}", argument="weights"
        )
    w_v = np.array([require_positive(x, "weights", allow_zero=True) for x in w])
    if w_v.sum() == 0:
        raise KpiInputError("weights must not all be 0", argument="weights", value=weights)
    w_v = w_v / w_v.sum()
    parts = np.array([(nps_v + 100.0) / 200.0, csat_v, ref_v])
    warnings: tuple[str, ...] = ()
    if nps_v != 0 and -1.0 <= nps_v <= 1.0:
        warnings = (
            f"nps={nps_v:g} looks like a fraction; NPS is read in points (-100..100), so 0.35 means "
            "0.35 points, not 35",
        )
    return MetricResult(
        metric="advocacy_index",
        value=100.0 * float(w_v @ parts),
        unit="index",
        n_used=3,
        components={
            "nps_normalised": float(parts[0]),
            "csat": csat_v,
            "referral_rate": ref_v,
            "weight_nps": float(w_v[0]),
            "weight_csat": float(w_v[1]),
            "weight_referral": float(w_v[2]),
        },
        warnings=warnings,
    )
