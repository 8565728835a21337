"""Planning the next survey: responses needed for a target NPS margin of error, and to detect a
change between two periods, under the adjusted-Wald interval the engine reports."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._clean import _as_1d
from ._errors import KpiInputError
from ._intervals import z_value
from ._labels import group_labels
from .survey import nps

__all__ = ["nps_sample_size", "nps_change_sample_size", "nps_sample_size_by_segment"]


def _shares(promoters: float, detractors: float, argument: str = "promoters") -> tuple[float, float]:
    p, d = float(promoters), float(detractors)
    if not (0 <= p <= 1 and 0 <= d <= 1 and p + d <= 1):
        raise KpiInputError(
            f"planning shares must be from 0 to 1 and add up to at most 1, got promoters={promoters!r}, "
            f"detractors={detractors!r}",
            argument=argument,
        )
    return p, d


def _variance(p: float, d: float) -> float:
    # Var of one answer coded +1 / 0 / -1: p + d - (p - d)^2 (multinomial, as in kpi_xl.metrics.nps).
    return p + d - (p - d) ** 2


def _points(x: float, argument: str, *, upper: float) -> float:
    v = float(x)
    if not 0 < v <= upper:
        raise KpiInputError(f"{argument} must be more than 0 and at most {upper:g} NPS points, got {x!r}",
                            argument=argument)  # fmt: skip
    return v / 100.0


def nps_sample_size(
    margin: float, *, promoters: float = 0.5, detractors: float = 0.5, confidence: float = 0.95
) -> int:
    r"""Responses needed for an NPS margin of error of at most ``margin`` points (adjusted-Wald).

    .. math::

        n = \left\lceil \frac{z^2\,\sigma^2}{(m/100)^2} - 3 \right\rceil, \quad
        \sigma^2 = p + d - (p - d)^2

    with *p*, *d* the expected promoter and detractor shares (from the last survey; the default
    0.5/0.5 is the worst case, sigma^2 = 1) and *z* the normal quantile. The adjusted-Wald interval
    adds 3 responses (3/4 promoter, 3/4 detractor, 3/2 passive; Rocks 2016), so 3 fewer real
    responses reach the margin, the way Sauro & Lewis (2016, ch. 6) subtract the adjustment from
    the Wald sample size for a proportion. That is the starting point; the result is the smallest
    *n* at which the engine's adjusted-Wald margin (:func:`kpi_xl.metrics.nps`, the planning shares
    shifted by the 3/4 adjustment at that *n*) is within ``margin``, usually the same or one less.

    References
    ----------
    Rocks, B. (2016). Interval Estimation for the "Net Promoter Score". The American Statistician
    70(4), 365-372. Sauro, J. & Lewis, J. R. (2016). Quantifying the User Experience, 2nd ed.,
    Morgan Kaufmann, ch. 6 and 7. MeasuringU, "Confidence intervals for Net Promoter Scores".

    Examples
    --------
    Expected 50% promoters, 20% detractors, margin +/- 5 points at 95%:
    sigma^2 = 0.7 - 0.09 = 0.61; n = 1.95996^2 x 0.61 / 0.05^2 - 3 = 937.3 - 3 -> 935.

    >>> nps_sample_size(5, promoters=0.5, detractors=0.2)
    935
    """
    m = _points(margin, "margin", upper=100)
    p, d = _shares(promoters, detractors)
    z = z_value(confidence)
    n = max(1, math.ceil(z * z * _variance(p, d) / (m * m) - 3.0 - 1e-9))

    def margin_at(k: int) -> float:
        return z * math.sqrt(_variance((p * k + 0.75) / (k + 3), (d * k + 0.75) / (k + 3)) / (k + 3))

    # The closed form uses the planning shares; the engine's interval uses them shifted by 3/4. The
    # two differ by less than a response or two, so a short walk finds the smallest n that holds.
    while n > 1 and margin_at(n - 1) <= m + 1e-12:
        n -= 1
    while margin_at(n) > m + 1e-12:
        n += 1
    return n


def nps_change_sample_size(
    change: float,
    *,
    promoters: float = 0.5,
    detractors: float = 0.5,
    promoters_b: float | None = None,
    detractors_b: float | None = None,
    confidence: float = 0.95,
    power: float = 0.8,
) -> int:
    r"""Responses needed in each of two periods to detect an NPS change of ``change`` points
    (two-sided test at ``confidence``, with probability ``power``).

    .. math::

        n = \left\lceil \frac{(z_{1-\alpha/2} + z_{1-\beta})^2 (\sigma_a^2 + \sigma_b^2)}
        {(\Delta/100)^2} - 3 \right\rceil

    with sigma^2 = p + d - (p - d)^2 per period from the planning shares (period b defaults to
    period a's), alpha = 1 - confidence, 1 - beta = power; 3 subtracted for the adjusted-Wald
    responses, as in :func:`nps_sample_size`. It is the sample size of the two-sample z-test that
    :func:`kpi_xl.metrics.nps_diff` runs.

    References
    ----------
    Sauro & Lewis (2016), ch. 6-7 (sample size for comparing two proportions, adjusted-Wald);
    Rocks (2016); MeasuringU, "Comparing Two Net Promoter Scores".

    Examples
    --------
    Shares 0.5/0.2 in both periods, a 10-point change, 95% confidence, 80% power:
    (1.95996 + 0.84162)^2 x 1.22 / 0.01 = 957.6; minus 3 -> 955 per period.

    >>> nps_change_sample_size(10, promoters=0.5, detractors=0.2)
    955
    """
    delta = _points(change, "change", upper=200)
    if not 0 < power < 1:
        raise KpiInputError(f"power must be between 0 and 1 (e.g. 0.8), got {power!r}", argument="power")
    p, d = _shares(promoters, detractors)
    pb, db = _shares(
        p if promoters_b is None else promoters_b, d if detractors_b is None else detractors_b, "promoters_b"
    )
    z = z_value(confidence) + float(stats.norm.ppf(power))
    return max(1, math.ceil(z * z * (_variance(p, d) + _variance(pb, db)) / (delta * delta) - 3.0 - 1e-9))


def nps_sample_size_by_segment(
    scores: Any, segments: Any, *, margin: float, confidence: float = 0.95
) -> pd.DataFrame:
    """Per segment: the responses so far, the NPS margin of error they give, and the responses
    needed for ``margin`` (from :func:`nps_sample_size` with the segment's own shares).

    Returns
    -------
    DataFrame
        Index ``segment`` (labels grouped by the label policy, blanks as "(blank)"), then
        ``"Total"``: ``n``, ``nps``, ``pct_promoters``, ``pct_detractors``, ``margin_now``,
        ``needed``, ``additional`` (needed - n, at least 0).

    Examples
    --------
    100 answers, 50% promoters and 25% detractors: sigma^2 = 0.75 - 0.0625 = 0.6875; for +/- 10
    points n = 1.95996^2 x 0.6875 / 0.1^2 - 3 = 261.1; at n = 261 the adjusted shares
    (130.5 + 0.75)/264 and (65.25 + 0.75)/264 give a variance of 0.6861 and a margin of
    1.95996 x sqrt(0.6861/264) = 9.992 points, within 10: 261 needed, 161 more.

    >>> t = nps_sample_size_by_segment([10, 10, 0, 8] * 25, ["a"] * 100, margin=10)
    >>> int(t.loc["a", "needed"]), int(t.loc["a", "additional"])
    (261, 161)
    """
    seg = _as_1d(segments, "segments")
    codes, names = group_labels(seg)
    sc = _as_1d(scores, "scores")
    if sc.size != codes.size:
        raise KpiInputError(
            f"segments has {codes.size} values but scores has {sc.size}; give one per response",
            argument="segments",
        )
    rows = {}
    groups = [(n, codes == i) for i, n in enumerate(names)] + [("Total", np.ones(codes.size, bool))]
    for label, mask in groups:
        r = nps(sc[mask], confidence=confidence, on_invalid="drop", min_n=0)
        p, d = r.components["pct_promoters"], r.components["pct_detractors"]
        needed = nps_sample_size(margin, promoters=p, detractors=d, confidence=confidence)
        rows[label] = {
            "n": r.n_used,
            "nps": r.value,
            "pct_promoters": p,
            "pct_detractors": d,
            "margin_now": r.margin_of_error,
            "needed": needed,
            "additional": max(0, needed - r.n_used),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "segment"
    return table
