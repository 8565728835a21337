"""Value metrics: average order value, historical CLV and the textbook CLV formulas.

The formula-based CLVs (:func:`clv_formula`, :func:`clv_retention`) take parameters, not
observations, so they carry no interval and report ``n_used = 0``. The probabilistic models
(BG/NBD, Gamma-Gamma) are in the ``clv`` package.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._clean import (
    Cleaned,
    OnInvalid,
    clean_ids,
    clean_numbers,
    require_count,
    require_positive,
    require_share,
)
from ._errors import Hint, KpiInputError
from ._intervals import mean_result, mean_result_from_moments
from ._result import MetricResult

__all__ = [
    "average_order_value",
    "average_order_value_from_moments",
    "historical_clv",
    "historical_clv_from_revenue",
    "historical_clv_from_moments",
    "historical_clv_by_customer",
    "clv_formula",
    "lifespan_from_churn",
    "clv_retention",
    "convert_discount_rate",
]

ClvConvention = Literal["gupta-lehmann", "blattberg", "ofek"]


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise KpiInputError(
            f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}", argument="confidence"
        )


def _clean_amounts(amounts: Any, allow_negative: bool, on_invalid: OnInvalid) -> Cleaned:
    return clean_numbers(
        amounts,
        argument="amounts",
        allow_negative=allow_negative,
        on_invalid=on_invalid,
        expected="a finite amount" if allow_negative else "an amount of 0 or more",
        hint=None if allow_negative else Hint("allow_negative", True, "count refunds as negative amounts"),
    )


def average_order_value(
    amounts: Any,
    *,
    allow_negative: bool = False,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Average order value (AOV) with a t interval of the mean.

    .. math::

        AOV = \frac{1}{n}\sum_{i=1}^{n} a_i, \quad SE = s / \sqrt{n}, \quad
        CI = AOV \pm t_{n-1} \cdot SE

    Parameters
    ----------
    amounts:
        Revenue of each order. Blanks are skipped and counted; numbers stored as text are accepted.
    allow_negative:
        By default a negative amount is an error naming its position (a refund mixed into orders
        lowers AOV silently). ``True`` keeps negative amounts as refunds.
    confidence:
        Confidence level of the interval, default 0.95.
    on_invalid:
        ``"raise"`` (default) or ``"drop"`` (skip and count invalid values).
    min_n:
        Order count below which a small-sample warning is given (default 30).

    Returns
    -------
    MetricResult
        ``value`` in currency; ``components``: ``orders``, ``revenue``.

    Raises
    ------
    KpiInputError
        No valid amounts (kind ``"empty"``); text, inf, or a negative amount unless allowed.

    References
    ----------
    Farris et al. (2010), *Marketing Metrics*, 2nd ed. (average order value = revenue / orders).

    Examples
    --------
    Orders of 20, 30 and 70: AOV = 120 / 3 = 40.

    >>> average_order_value([20, 30, 70]).value
    40.0
    """
    check_confidence(confidence)
    cleaned = _clean_amounts(amounts, allow_negative, on_invalid)
    x = cleaned.values
    return _aov_result(x.size, float(x.sum()), float(np.dot(x, x)), cleaned.n_dropped, confidence, min_n)


def average_order_value_from_moments(
    n: int,
    total: float,
    total_of_squares: float,
    *,
    n_dropped: int = 0,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Average order value from the number of orders, their sum and their sum of squares.

    The same result as :func:`average_order_value` on the orders these moments describe (both
    compute it from the moments), for amounts summed elsewhere (a database, a pivot table):

    .. math::

        AOV = \frac{\Sigma a}{n}, \quad s^2 = \frac{\Sigma a^2 - (\Sigma a)^2 / n}{n - 1}, \quad
        CI = AOV \pm t_{n-1} \cdot s / \sqrt{n}

    Parameters
    ----------
    n:
        Number of orders with an amount (a whole number, 0 or more).
    total, total_of_squares:
        Sum of the amounts and sum of their squares.
    n_dropped:
        Orders skipped before summing (blank amounts).
    confidence, min_n:
        As in :func:`average_order_value`.

    Raises
    ------
    KpiInputError
        ``n`` not a whole number; a sum not finite; a sum of squares below :math:`(\Sigma a)^2/n`
        (no set of amounts has those moments); no orders (kind ``"empty"``).

    References
    ----------
    As :func:`average_order_value`.

    Examples
    --------
    Orders of 20, 30 and 70: n = 3, sum 120, sum of squares 400 + 900 + 4,900 = 6,200; AOV 40.

    >>> average_order_value_from_moments(3, 120, 6_200).value
    40.0
    """
    check_confidence(confidence)
    count = int(require_count(n, "n"))
    sums = []
    for name, v in (("total", total), ("total_of_squares", total_of_squares)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise KpiInputError(f"{name} must be a number, got {v!r}", argument=name, value=v)
        if not math.isfinite(v):
            raise KpiInputError(f"{name} must be a finite number, got {v!r}", argument=name, value=v)
        sums.append(float(v))
    total_, squares = sums
    # Σa² >= (Σa)²/n for any amounts (Cauchy-Schwarz); a little less is rounding, much less a mistake.
    if count and squares < total_ * total_ / count * (1 - 1e-9) - 1e-9:
        raise KpiInputError(
            f"total_of_squares {total_of_squares!r} is less than total²/n = {total_ * total_ / count:g}: "
            "no amounts have these sums; check that it is the sum of the squared amounts",
            argument="total_of_squares",
            value=total_of_squares,
        )
    return _aov_result(count, total_, squares, int(require_count(n_dropped, "n_dropped")), confidence, min_n)


def _aov_result(
    n: int, total: float, squares: float, n_dropped: int, confidence: float, min_n: int | None
) -> MetricResult:
    """AOV from the moments of the amounts: the computation both forms share."""
    if n == 0:
        raise KpiInputError(
            f"no valid amounts to average ({n_dropped} value(s) skipped)",
            argument="amounts",
            kind="empty",
        )
    return mean_result_from_moments(
        "average_order_value",
        n,
        total,
        squares,
        unit="currency",
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={"orders": int(n), "revenue": total},
    )


def _revenue_by_customer(
    customer_ids: Any, amounts: Any, allow_negative: bool, on_invalid: OnInvalid
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(customer ids, orders per customer, revenue per customer, rows dropped)."""
    codes, uniques, _, _ = clean_ids(customer_ids, on_invalid=on_invalid)
    cleaned = _clean_amounts(amounts, allow_negative, on_invalid)
    if codes.size != cleaned.mask.size:
        raise KpiInputError(
            f"customer_ids has {codes.size} values but amounts has {cleaned.mask.size}; give one amount "
            "per order row",
            argument="amounts",
        )
    amount = np.zeros(codes.size)
    amount[cleaned.mask] = cleaned.values
    used = (codes >= 0) & cleaned.mask
    n_dropped = int((~used).sum())
    if not used.any():
        raise KpiInputError(
            f"no order rows with both a customer id and an amount ({n_dropped} row(s) skipped)",
            argument="customer_ids",
            kind="empty",
        )
    # Re-code over the rows used, so a customer whose only rows were skipped is not counted.
    cust, kept = pd.factorize(codes[used])
    orders = np.bincount(cust)
    revenue = np.bincount(cust, weights=amount[used])
    return uniques[kept], orders, revenue, n_dropped


def historical_clv(
    customer_ids: Any,
    amounts: Any,
    *,
    margin: float = 1.0,
    allow_negative: bool = False,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Historical customer value: mean margin-revenue per customer over the rows given.

    .. math::

        CLV_{hist} = \frac{m}{C} \sum_{c=1}^{C} \sum_{i \in c} a_i

    with *C* distinct customers and gross margin *m*. It looks backwards over the window of the
    data (no projection, no discounting); state the window beside it. Interval: t interval of
    the per-customer values.

    Parameters
    ----------
    customer_ids, amounts:
        One row per order, same length. Rows with a blank id or amount are skipped and counted.
    margin:
        Gross margin as a share (0.4 for 40%); default 1.0 gives revenue per customer.
    allow_negative, confidence, on_invalid, min_n:
        As in :func:`average_order_value`; ``min_n`` counts customers.

    Returns
    -------
    MetricResult
        ``value`` in currency; ``n_used`` is the number of customers; ``components``:
        ``customers``, ``orders``, ``revenue`` (before margin), ``margin``.

    References
    ----------
    Fader & Hardie (2014), "What's wrong with this CLV formula?" (historical value is not a
    forecast); bloomloop, "Customer lifetime value".

    Examples
    --------
    a buys 100 and 50, b buys 30; margin 40%: (150 + 30) · 0.4 / 2 = 36.

    >>> historical_clv(["a", "a", "b"], [100, 50, 30], margin=0.4).value
    36.0
    """
    check_confidence(confidence)
    m = require_share(margin, "margin")
    _, orders, revenue, n_dropped = _revenue_by_customer(customer_ids, amounts, allow_negative, on_invalid)
    return _historical_clv_result(revenue, int(orders.sum()), m, n_dropped, confidence, min_n)


def historical_clv_from_revenue(
    revenue_per_customer: Any,
    *,
    orders: int,
    margin: float = 1.0,
    n_dropped: int = 0,
    allow_negative: bool = False,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Historical CLV from each customer's revenue, summed elsewhere (a database ``GROUP BY``
    customer): the same result as :func:`historical_clv` on the order rows behind those sums.

    .. math::

        CLV_{hist} = \frac{m}{C} \sum_{c=1}^{C} R_c

    Parameters
    ----------
    revenue_per_customer:
        Revenue of each customer who has at least one order (one value per customer, no blanks).
    orders:
        Number of order rows behind the revenues (reported in ``components["orders"]``); at least
        one per customer.
    margin:
        Gross margin as a share (0.4 for 40%).
    n_dropped:
        Order rows skipped before summing (a blank id or amount).
    allow_negative, confidence, min_n:
        As in :func:`historical_clv`: a negative revenue is an error unless refunds are allowed.

    Raises
    ------
    KpiInputError
        A blank, non-numeric or (unless allowed) negative revenue, naming its position; fewer
        orders than customers; no customers (kind ``"empty"``).

    References
    ----------
    As :func:`historical_clv`.

    Examples
    --------
    a's revenue 150 (2 orders), b's 30 (1 order), margin 40%: (150 + 30) · 0.4 / 2 = 36.

    >>> historical_clv_from_revenue([150, 30], orders=3, margin=0.4).value
    36.0
    """
    check_confidence(confidence)
    m = require_share(margin, "margin")
    cleaned = _clean_amounts(revenue_per_customer, allow_negative, "drop")
    if not cleaned.mask.all():
        pos = int(np.flatnonzero(~cleaned.mask)[0])
        value = np.asarray(revenue_per_customer, dtype=object).reshape(-1)[pos]
        need = (
            "a finite revenue"
            if allow_negative
            else "a revenue of 0 or more (allow_negative=True for refunds)"
        )
        raise KpiInputError(
            argument="revenue_per_customer",
            position=pos + 1,
            value=value,
            what=f"the value {value!r}",
            reason=f"is not {need}; give each customer's revenue",
        )
    revenue = cleaned.values
    n_orders = int(require_count(orders, "orders"))
    if n_orders < revenue.size:
        raise KpiInputError(
            f"orders is {n_orders} but there are {revenue.size} customers; every customer has at least "
            "one order",
            argument="orders",
            value=orders,
        )
    dropped = int(require_count(n_dropped, "n_dropped"))
    if revenue.size == 0:
        raise KpiInputError(
            f"no order rows with both a customer id and an amount ({dropped} row(s) skipped)",
            argument="revenue_per_customer",
            kind="empty",
        )
    return _historical_clv_result(revenue, n_orders, m, dropped, confidence, min_n)


def historical_clv_from_moments(
    customers: int,
    revenue: float,
    revenue_squares: float,
    *,
    orders: int,
    negative: int = 0,
    margin: float = 1.0,
    n_dropped: int = 0,
    allow_negative: bool = False,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Historical CLV from the customers' revenue moments, summed elsewhere (a database sums each
    customer's revenue, then their count, sum and sum of squares): the same result as
    :func:`historical_clv_from_revenue` on those revenues, without one row per customer.

    .. math::

        CLV_{hist} = \frac{m}{C} \sum_c R_c, \quad s^2 = m^2 \frac{\sum_c R_c^2 - (\sum_c R_c)^2 / C}{C - 1}

    Parameters
    ----------
    customers, revenue, revenue_squares:
        C, :math:`\sum_c R_c` and :math:`\sum_c R_c^2` over the customers with at least one order.
    orders:
        Order rows behind the revenues (at least one per customer).
    negative:
        Customers whose revenue is below 0 (an error unless ``allow_negative``).
    margin, n_dropped, allow_negative, confidence, min_n:
        As in :func:`historical_clv_from_revenue`.

    Raises
    ------
    KpiInputError
        A negative revenue (unless allowed), fewer orders than customers, no customers (kind
        ``"empty"``).

    Examples
    --------
    The :func:`historical_clv_from_revenue` example: revenues 150 and 30, margin 40%: 36.

    >>> historical_clv_from_moments(2, 180.0, 150.0**2 + 30.0**2, orders=3, margin=0.4).value
    36.0
    """
    check_confidence(confidence)
    m = require_share(margin, "margin")
    n = int(require_count(customers, "customers"))
    if negative and not allow_negative:
        raise KpiInputError(
            f"{int(negative)} customer(s) have a revenue below 0; give each customer's revenue, 0 or "
            "more (allow_negative=True for refunds)",
            argument="revenue_per_customer",
        )
    n_orders = int(require_count(orders, "orders"))
    if n_orders < n:
        raise KpiInputError(
            f"orders is {n_orders} but there are {n} customers; every customer has at least one order",
            argument="orders",
            value=orders,
        )
    dropped = int(require_count(n_dropped, "n_dropped"))
    if n == 0:
        raise KpiInputError(
            f"no order rows with both a customer id and an amount ({dropped} row(s) skipped)",
            argument="revenue_per_customer",
            kind="empty",
        )
    return mean_result_from_moments(
        "historical_clv",
        n,
        m * float(revenue),
        m * m * float(revenue_squares),
        unit="currency",
        n_dropped=dropped,
        confidence=confidence,
        min_n=min_n,
        components={"customers": n, "orders": n_orders, "revenue": float(revenue), "margin": m},
    )


def _historical_clv_result(
    revenue: np.ndarray, orders: int, margin: float, n_dropped: int, confidence: float, min_n: int | None
) -> MetricResult:
    """Historical CLV from revenue per customer: the computation both forms share."""
    return mean_result(
        "historical_clv",
        margin * revenue,
        unit="currency",
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={
            "customers": int(revenue.size),
            "orders": orders,
            "revenue": float(revenue.sum()),
            "margin": margin,
        },
    )


def historical_clv_by_customer(
    customer_ids: Any,
    amounts: Any,
    *,
    margin: float = 1.0,
    allow_negative: bool = False,
    on_invalid: OnInvalid = "raise",
) -> pd.DataFrame:
    r"""Historical value of each customer: orders, revenue and margin-revenue (``clv``).

    Same rules as :func:`historical_clv`, whose value is the mean of the ``clv`` column.

    Parameters
    ----------
    customer_ids, amounts, margin, allow_negative, on_invalid:
        As in :func:`historical_clv`.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``; columns ``orders``, ``revenue``, ``clv`` (= margin · revenue);
        sorted by ``clv``, highest first (ties in first-appearance order).
        ``attrs["n_dropped"]``: rows skipped.

    Examples
    --------
    >>> historical_clv_by_customer(["a", "a", "b"], [100, 50, 30], margin=0.4).to_dict("index")
    {'a': {'orders': 2, 'revenue': 150.0, 'clv': 60.0}, 'b': {'orders': 1, 'revenue': 30.0, 'clv': 12.0}}
    """
    m = require_share(margin, "margin")
    ids, orders, revenue, n_dropped = _revenue_by_customer(customer_ids, amounts, allow_negative, on_invalid)
    table = pd.DataFrame(
        {"orders": orders.astype(np.int64), "revenue": revenue, "clv": m * revenue},
        index=pd.Index(ids, name="customer_id"),
    )
    table = table.sort_values("clv", ascending=False, kind="stable")
    table.attrs["n_dropped"] = n_dropped
    return table


def _annuity_factor(periods: float, rate: float) -> float:
    # Σ_{t=1..L} (1+d)^-t = (1 - (1+d)^-L) / d; expm1/log1p keep small d exact, and d = 0 is L.
    if rate == 0:
        return periods
    return -math.expm1(-periods * math.log1p(rate)) / rate


def clv_formula(
    aov: float,
    frequency: float,
    margin: float,
    lifespan: float,
    *,
    discount_rate: float = 0.0,
) -> MetricResult:
    r"""Simple CLV: order value × purchase frequency × margin over an expected lifespan.

    .. math::

        CLV = \sum_{t=1}^{L} \frac{AOV \cdot f \cdot m}{(1+d)^t}
            = AOV \cdot f \cdot m \cdot \frac{1 - (1+d)^{-L}}{d}, \qquad
        CLV_{d=0} = AOV \cdot f \cdot m \cdot L

    Frequency, lifespan and discount rate must use the same period (e.g. orders per year,
    years, annual rate). Margin is booked at the end of each period. The closed form also
    serves a fractional lifespan (e.g. L = 1/churn = 2.5 years).

    Parameters
    ----------
    aov:
        Average order value (currency), 0 or more.
    frequency:
        Orders per customer per period, 0 or more.
    margin:
        Gross margin as a share (0.4 for 40%).
    lifespan:
        Expected customer lifespan in periods, 0 or more (see :func:`lifespan_from_churn`).
    discount_rate:
        Discount rate per period, 0 or more; default 0 (undiscounted).

    Returns
    -------
    MetricResult
        ``value`` in currency; ``components``: ``value_per_period`` (AOV·f·m), ``lifespan``,
        ``discount_rate``, ``undiscounted`` (AOV·f·m·L).

    References
    ----------
    bloomloop, FeverBee and glossary.digital, "Customer lifetime value" ($60 × 6/yr × 40% ×
    3 yr = $432); Fader & Hardie (2014), "What's wrong with this CLV formula?" (a finite L is a
    truncated CLV).

    Examples
    --------
    $60 × 6 orders a year × 40% × 3 years = $432; at 10% a year: 144 · (1 - 1.1^-3)/0.1 = 358.11.

    >>> clv_formula(60, 6, 0.4, 3).value
    432.0
    >>> round(clv_formula(60, 6, 0.4, 3, discount_rate=0.1).value, 2)
    358.11
    """
    a = require_positive(aov, "aov", allow_zero=True)
    f = require_positive(frequency, "frequency", allow_zero=True)
    m = require_share(margin, "margin")
    life = require_positive(lifespan, "lifespan", allow_zero=True)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    per_period = a * f * m
    return MetricResult(
        metric="clv_formula",
        value=per_period * _annuity_factor(life, d),
        unit="currency",
        n_used=0,
        method="discounted-sum" if d > 0 else "undiscounted",
        components={
            "value_per_period": per_period,
            "lifespan": life,
            "discount_rate": d,
            "undiscounted": per_period * life,
        },
    )


def lifespan_from_churn(churn_rate: float) -> float:
    r"""Expected customer lifespan in periods from a constant churn rate per period: :math:`1/c`.

    With a constant churn *c* per period, lifetimes are geometric with mean 1/c periods. The
    lifespan is in the period of the rate: 20% a year gives 5 years; 2% a month gives 50 months.

    Raises
    ------
    KpiInputError
        A rate outside 0..1; 0 (kind ``"zero-base"``: customers never leave, the lifespan is
        unbounded).

    Examples
    --------
    >>> lifespan_from_churn(0.2)
    5.0
    """
    c = require_share(churn_rate, "churn_rate")
    if c == 0:
        raise KpiInputError(
            "churn_rate is 0: customers never leave, so the expected lifespan is unbounded",
            argument="churn_rate",
            value=churn_rate,
            kind="zero-base",
        )
    return 1.0 / c


_CLV_CONVENTIONS = ("gupta-lehmann", "blattberg", "ofek")


def clv_retention(
    margin: float,
    retention: float,
    discount_rate: float,
    *,
    convention: ClvConvention = "gupta-lehmann",
) -> MetricResult:
    r"""Infinite-horizon CLV from a constant margin and retention rate per period.

    Textbooks use three closed forms of :math:`\sum_t m\,r^t/(1+d)^t` that differ in whether
    the first payment is included and when cash is booked (Fader & Hardie 2012):

    * ``"gupta-lehmann"`` (default): :math:`m \cdot r / (1 + d - r)`. First payment excluded,
      margins booked at period end: the value of an existing customer's future (Gupta &
      Lehmann 2003, "margin multiple" r/(1+i-r); Capon; Kotler & Keller).
    * ``"blattberg"``: :math:`m (1 + d) / (1 + d - r)`. First payment at t = 0 included: the
      value of a customer just acquired (Blattberg, Kim & Neslin 2008).
    * ``"ofek"``: :math:`m / (1 + d - r)`. First payment included but discounted one period
      (Ofek 2002; Davis 2007).

    All three assume the same margin every period, forever; name the convention beside the
    number, because they differ by a factor r or (1 + d).

    Parameters
    ----------
    margin:
        Margin per customer per period (currency), 0 or more.
    retention:
        Retention rate per period, from 0 up to (not including) 1.
    discount_rate:
        Discount rate per period, 0 or more.
    convention:
        ``"gupta-lehmann"``, ``"blattberg"`` or ``"ofek"``.

    Returns
    -------
    MetricResult
        ``value`` in currency; ``method`` is the convention; ``components``: ``margin_multiple``
        (value / margin), ``margin``, ``retention``, ``discount_rate``.

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2012). Reconciling and Clarifying CLV Formulas.
    Gupta, S. & Lehmann, D. R. (2003). Customers as assets. *Journal of Interactive Marketing*
    17(1), 9-24.

    Examples
    --------
    m = 100, r = 0.8, d = 0.1: 100 · 0.8 / 0.3 = 266.67; 100 · 1.1 / 0.3 = 366.67; 100 / 0.3 = 333.33.

    >>> [round(clv_retention(100, 0.8, 0.1, convention=c).value, 2)
    ...  for c in ("gupta-lehmann", "blattberg", "ofek")]
    [266.67, 366.67, 333.33]
    """
    if convention not in _CLV_CONVENTIONS:
        raise KpiInputError(
            f"convention must be one of {', '.join(_CLV_CONVENTIONS)}, got {convention!r}",
            argument="convention",
            value=convention,
        )
    m = require_positive(margin, "margin", allow_zero=True)
    r = require_share(retention, "retention", allow_one=False)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    numerator = {"gupta-lehmann": r, "blattberg": 1.0 + d, "ofek": 1.0}[convention]
    multiple = numerator / (1.0 + d - r)
    return MetricResult(
        metric="clv_retention",
        value=m * multiple,
        unit="currency",
        n_used=0,
        method=convention,
        components={"margin_multiple": multiple, "margin": m, "retention": r, "discount_rate": d},
    )


def convert_discount_rate(rate: Any, *, from_periods_per_year: Any, to_periods_per_year: Any) -> float:
    r"""A discount rate for another period length, compounding alike.

    .. math::

        d_{to} = (1 + d_{from})^{f / t} - 1

    where *f* and *t* are the periods per year of the given and the wanted rate (12 monthly, 1
    annual). 10% a year is 0.797% a month, not 0.833%.

    References
    ----------
    Brealey, R. A., Myers, S. C. & Allen, F., *Principles of Corporate Finance*, ch. 2 (effective
    and compounded rates).

    >>> round(convert_discount_rate(0.10, from_periods_per_year=1, to_periods_per_year=12), 6)
    0.007974
    """
    d = float(rate)
    if not math.isfinite(d) or d <= -1:
        raise KpiInputError(f"rate must be above -1, got {rate!r}", argument="rate", value=rate)
    f, t = float(from_periods_per_year), float(to_periods_per_year)
    if not (f > 0 and t > 0):
        raise KpiInputError("periods per year must be above 0", argument="periods_per_year")
    return float(math.expm1((f / t) * math.log1p(d)))
