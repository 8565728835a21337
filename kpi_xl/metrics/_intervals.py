"""Intervals shared by the metric families: the normal quantile, Wilson, and share results."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._errors import KpiInputError
from ._result import MetricResult, small_sample_warnings

__all__ = [
    "z_value",
    "check_confidence",
    "wilson_interval",
    "share_result",
    "mean_result",
    "mean_result_from_moments",
]


def check_confidence(confidence: float) -> None:
    """Confidence levels are strictly between 0 and 1."""
    if not 0 < confidence < 1:
        raise KpiInputError(
            f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}", argument="confidence"
        )


# ndtri(0.5 + c/2) of the usual levels, to the bit (tests/test_cli_imports.py checks them against
# scipy): the first NPS of a cold Excel server then imports no scipy (a third of its start).
_Z = {
    0.8: 1.2815515655446004,
    0.9: 1.6448536269514722,
    0.95: 1.959963984540054,
    0.98: 2.3263478740408408,
    0.99: 2.5758293035489004,
    0.999: 3.2905267314919255,
}


def z_value(confidence: float) -> float:
    """Two-sided standard-normal quantile for ``confidence`` (1.959964 at 0.95)."""
    check_confidence(confidence)
    if confidence in _Z:
        return _Z[confidence]
    # scipy.special is what scipy.stats.norm.ppf calls; imported here, not at the top, because
    # importing scipy.stats costs about 0.5 s of every command's start.
    from scipy.special import ndtri

    return float(ndtri(0.5 + confidence / 2.0))


def t_quantile(confidence: float, df: float) -> float:
    """Two-sided Student-t quantile for ``confidence`` with ``df`` degrees of freedom (the same
    function ``scipy.stats.t.ppf`` calls), e.g. 2.776445 at 0.95 and 4 degrees of freedom.

    >>> round(t_quantile(0.95, 4), 6)
    2.776445
    """
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + confidence / 2.0))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval for a binomial proportion.

    .. math::

        \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Stays inside [0, 1] and behaves at p = 0 or 1, unlike the normal interval (Wilson 1927;
    Newcombe 1998). Equals ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.

    >>> [round(v, 4) for v in wilson_interval(7, 10)]
    [0.3968, 0.8922]
    """
    if n <= 0:
        raise KpiInputError("a proportion needs at least one observation", argument="n", kind="empty")
    # As floats: a count typed as 1E+308 is a Python int whose 2n would not convert back to a float.
    successes, n = float(successes), float(n)
    z = z_value(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At p = 0 or 1 the bound equals the estimate exactly; rounding must not push it past it.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def share_result(
    metric: str,
    k: float,
    n: float,
    *,
    n_used: int | None = None,
    n_dropped: int,
    confidence: float,
    min_n: int | None,
    components: dict[str, Any],
    warnings: tuple[str, ...] = (),
) -> MetricResult:
    """A proportion k/n of countable units (customers, tickets, orders, leads) with its Wilson interval.

    ``n_used`` defaults to ``n`` (it differs when rows are not the units, e.g. order rows per customer).
    """
    n_used = int(n) if n_used is None else n_used
    p = k / n
    low, high = wilson_interval(k, n, confidence)
    return MetricResult(
        metric=metric,
        value=p,
        unit="share",
        n_used=n_used,
        n_dropped=n_dropped,
        se=math.sqrt(p * (1.0 - p) / n),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="wilson",
        components=components,
        warnings=warnings + small_sample_warnings(n_used, min_n),
    )


def mean_result(
    metric: str,
    x: np.ndarray,
    *,
    unit: str,
    n_dropped: int,
    confidence: float,
    min_n: int | None,
    components: dict[str, Any],
) -> MetricResult:
    """A mean with the t interval ``mean ± t(n-1)·s/√n`` (no interval for a single value).

    Computed from the moments of ``x`` (:func:`mean_result_from_moments`), so a caller holding only
    counts or sums (a histogram, a DuckDB aggregate) gets the same result from the same formula.
    """
    return mean_result_from_moments(
        metric,
        x.size,
        float(x.sum()),
        float(np.dot(x, x)),
        unit=unit,
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components=components,
    )


def mean_result_from_moments(
    metric: str,
    n: int,
    total: float,
    total_of_squares: float,
    *,
    unit: str,
    n_dropped: int,
    confidence: float,
    min_n: int | None,
    components: dict[str, Any],
) -> MetricResult:
    r"""A mean and its t interval from the count, sum and sum of squares of the observations.

    .. math::

        \bar x = \frac{\Sigma x}{n}, \quad s^2 = \frac{\Sigma x^2 - (\Sigma x)^2 / n}{n - 1}, \quad
        CI = \bar x \pm t_{n-1} \, s / \sqrt{n}

    No interval for a single value. ``s²`` is clamped at 0: for equal values rounding can leave
    a tiny negative difference, which is no variance at all.

    >>> r = mean_result_from_moments("m", 3, 120.0, 6_200.0, unit="currency", n_dropped=0,
    ...                              confidence=0.95, min_n=None, components={})
    >>> r.value, round(r.se, 4)
    (40.0, 15.2753)
    """
    mean = total / n
    se = low = high = None
    if n > 1:
        variance = max(total_of_squares - total * total / n, 0.0) / (n - 1)
        se = math.sqrt(variance) / math.sqrt(n)
        tq = t_quantile(confidence, n - 1)
        low, high = mean - tq * se, mean + tq * se
    return MetricResult(
        metric=metric,
        value=mean,
        unit=unit,
        n_used=int(n),
        n_dropped=n_dropped,
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence if se is not None else None,
        method="t" if se is not None else None,
        components=components,
        warnings=small_sample_warnings(int(n), min_n),
    )
