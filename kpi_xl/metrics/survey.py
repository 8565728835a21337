"""Survey metrics: Net Promoter Score, CSAT and Customer Effort Score.

All three drop blanks (counted in ``n_dropped``) and treat a value outside the scale, a fraction
or text as an error that names the value and its position, unless ``on_invalid="drop"``.

Each metric also takes a histogram (``*_from_counts``: score -> number of responses), as a database
or a pivot table gives it. Both forms reduce the answers to responses per score point and compute
the metric from that histogram with one shared function, so they give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._clean import OnInvalid, clean_numbers, clean_scores, require_count
from ._errors import KpiInputError
from ._intervals import mean_result_from_moments, wilson_interval, z_value
from ._result import MetricResult, small_sample_warnings

__all__ = [
    "nps",
    "nps_from_counts",
    "nps_diff",
    "csat",
    "csat_from_counts",
    "satisfaction_mean",
    "satisfaction_mean_from_counts",
    "ces",
    "ces_from_counts",
    "wilson_interval",
    "nps_distribution",
    "satisfaction_index",
]

NpsMethod = Literal["wald", "adjusted-wald"]


def _nps_variance(p: float, d: float, n: float) -> float:
    # Promoter and detractor shares come from one multinomial sample: Cov(p, d) = -pd/n, so
    # Var(p - d) = [p(1-p) + d(1-d) + 2pd] / n = [p + d - (p - d)^2] / n.
    return max(p + d - (p - d) ** 2, 0.0) / n


#: Most score points a survey scale may have (0-100 is the widest in use; 1,001 leaves room).
MAX_SCALE_POINTS = 1001


def _shown(x: Any) -> str:
    """A scale bound or threshold as a message shows it: 5, 4.5, 1e+20 (not a Python repr)."""
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        return str(x)
    return f"{v:.15g}"


def _points(scale: tuple[int, int]) -> np.ndarray:
    """The whole-number score points of a scale, lowest first (one histogram bin each)."""
    lo, hi = scale
    try:
        # math, not numpy: a bound of 1E+20 arrives as a Python int too big for numpy's ufuncs.
        ok = math.isfinite(lo) and math.isfinite(hi) and lo < hi
    except (TypeError, OverflowError):
        ok = False
    if not ok:
        raise KpiInputError(
            f"scale must be two numbers, low < high (e.g. 1-5), got {_shown(lo)}-{_shown(hi)}",
            argument="scale",
            value=scale,
        )
    if math.floor(hi) - math.ceil(lo) + 1 > MAX_SCALE_POINTS:
        raise KpiInputError(
            f"the scale {_shown(lo)}-{_shown(hi)} has more than {MAX_SCALE_POINTS:,} score points; survey "
            "scales are like 1-5, 1-7, 0-10 or 0-100",
            argument="scale",
            value=scale,
        )
    return np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=np.float64)


_CHUNK = 1 << 16
# The fused NPS pass: 128k scores per chunk keep the chunk's copy in the CPU cache and the Python
# loop short (8 turns for a full Excel column).
_FUSED_CHUNK = 1 << 17


def _nps_counts_of_clean_floats(
    values: Any, points: np.ndarray, promoter_min: int, detractor_max: int
) -> tuple[int, int, int, int] | None:
    """(promoters, detractors, n, blanks) of a float64 column in which every value is a whole score
    on the scale or NaN (a blank), validated and counted in one pass over cache-sized chunks; None
    as soon as one value is anything else (a fraction, an infinity, outside the scale), and for
    every other input: the general path (:func:`clean_scores`) then decides, and names the value
    and where it is.

    Each chunk is truncated to int8 once, into one byte per score: the chunk is valid when the
    truncation gives back every value (so no fraction, NaN or infinity). A chunk with NaN in it
    (blank cells of an Excel column) is valid when the NaN are all that differ; their bytes are set
    to the bottom of the scale and taken off its group afterwards. The scale and the promoter and
    detractor counts are then checked and taken once, on the bytes of the whole column: a few calls
    for the column instead of a few per chunk.

    >>> _nps_counts_of_clean_floats(np.array([10.0, 9.0, 8.0, 6.0, 0.0]), np.arange(0.0, 11.0), 9, 6)
    (2, 2, 5, 0)
    >>> _nps_counts_of_clean_floats(np.array([10.0, np.nan, 0.0]), np.arange(0.0, 11.0), 9, 6)
    (1, 1, 2, 1)
    >>> _nps_counts_of_clean_floats(np.array([10.0, 9.5]), np.arange(0.0, 11.0), 9, 6) is None
    True
    """
    if not (isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1):
        return None
    lo, hi = int(points[0]), int(points[-1])
    if values.size == 0 or lo < -128 or hi > 127:
        return None
    size = min(values.size, _FUSED_CHUNK)
    ints, same, flags = np.empty(values.size, np.int8), np.empty(size, np.float64), np.empty(size, bool)
    blanks = 0
    with np.errstate(invalid="ignore"):  # NaN and out-of-range values cast to garbage, caught below
        for start in range(0, values.size, _FUSED_CHUNK):
            chunk = values[start : start + _FUSED_CHUNK]
            n = chunk.size
            t, back, flag = ints[start : start + n], same[:n], flags[:n]
            np.copyto(t, chunk, casting="unsafe")
            np.copyto(back, t)
            np.not_equal(back, chunk, out=flag)
            if flag.any():
                nan = np.isnan(chunk)
                if not np.array_equal(flag, nan):
                    return None
                # Only blanks differ: their garbage bytes become the bottom of the scale.
                blanks += int(np.count_nonzero(nan))
                if lo == 0:
                    np.multiply(t, ~nan, out=t)
                else:
                    np.copyto(t, lo, where=nan)
    if blanks == values.size:
        return None
    if lo == 0:
        # Negative bytes read as unsigned lie above the scale: one maximum checks both ends.
        if ints.view(np.uint8).max() > hi:
            return None
    elif ints.min() < lo or ints.max() > hi:
        return None
    flag = np.empty(values.size, bool)
    promoters = int(np.count_nonzero(np.greater_equal(ints, promoter_min, out=flag)))
    detractors = int(np.count_nonzero(np.less_equal(ints, detractor_max, out=flag)))
    # The blanks' bytes (the bottom of the scale) were counted in its group.
    promoters -= blanks if lo >= promoter_min else 0
    detractors -= blanks if lo <= detractor_max else 0
    return promoters, detractors, int(values.size) - blanks, blanks


def _histogram(values: np.ndarray, points: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Responses (or their weights) per score point; ``values`` are cleaned whole scores."""
    if weights is not None:
        return np.bincount((values - points[0]).astype(np.intp), weights=weights, minlength=points.size)
    # Counted in cache-sized chunks: a full-column copy to integers would cost more than the count.
    hist = np.zeros(points.size, dtype=np.int64)
    offset = points[0]
    for start in range(0, values.size, _CHUNK):
        chunk = values[start : start + _CHUNK]
        hist += np.bincount((chunk - offset if offset else chunk).astype(np.intp), minlength=points.size)
    return hist


def _whole(x: Any) -> int | None:
    """``x`` as an int if it is a whole number (not a flag, not text), else None."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)) and math.isfinite(x) and x == math.floor(x):
        return int(x)
    return None


def _count_histogram(counts: Any, points: np.ndarray, argument: str = "counts") -> np.ndarray:
    """Responses per score point from a mapping score -> number of responses, checked entry by
    entry (a histogram holds at most a few entries per point, so the loop is short)."""
    if isinstance(counts, pd.Series):
        items = list(zip(counts.index, counts.to_numpy(dtype=object), strict=True))
    elif isinstance(counts, Mapping):
        items = list(counts.items())
    else:
        raise KpiInputError(
            f"{argument} must map each score to its number of responses (a dict or a pandas Series), "
            f"got {type(counts).__name__}",
            argument=argument,
        )
    lo, hi = int(points[0]), int(points[-1])
    hist = np.zeros(points.size, dtype=np.int64)
    for pos, (score, n) in enumerate(items, start=1):
        s = _whole(score)
        if s is None or not lo <= s <= hi:
            raise KpiInputError(
                argument=argument,
                position=pos,
                value=score,
                what=f"score {score!r}",
                place=f"(entry {pos})",
                reason=f"is not a whole-number score from {lo} to {hi}",
            )
        c = _whole(n)
        if c is None or c < 0:
            raise KpiInputError(
                argument=argument,
                position=pos,
                value=n,
                what=f"the number of responses {n!r} for score {score!r}",
                place=f"(entry {pos})",
                reason="is not a whole number, 0 or more",
            )
        hist[s - lo] += c
    return hist


def _dropped(n_dropped: Any) -> int:
    return int(require_count(n_dropped, "n_dropped"))


def _moments(hist: np.ndarray, points: np.ndarray) -> tuple[int, float, float]:
    """n, sum and sum of squares of the scores a histogram holds (exact for whole scores)."""
    h = hist.astype(np.float64)
    return int(hist.sum()), float(np.dot(points, h)), float(np.dot(points * points, h))


def nps(
    scores: Any,
    *,
    weights: Any = None,
    confidence: float = 0.95,
    method: NpsMethod = "adjusted-wald",
    promoter_min: int = 9,
    detractor_max: int = 6,
    scale: tuple[int, int] = (0, 10),
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
    argument: str = "scores",
) -> MetricResult:
    r"""Net Promoter Score with its multinomial standard error and confidence interval.

    .. math::

        NPS = 100 (p - d), \quad SE = 100 \sqrt{\frac{p + d - (p - d)^2}{n}}

    where *p* is the share of promoters (9-10), *d* the share of detractors (0-6) and *n* the
    number of valid responses; passives (7-8) count in *n* only. The Wald interval is
    ``NPS ± z·SE``. The adjusted-Wald interval (default) adds 3 to *n* and 3/4 to both the
    promoter and detractor counts before computing the centre and SE; it keeps close to nominal
    coverage at small *n* (Rocks 2016). The reported ``value`` is always the plain NPS, and the
    interval always contains it: where the adjusted interval would miss it (tiny samples), the
    nearer bound is moved to it.

    Parameters
    ----------
    scores:
        Likelihood-to-recommend answers, whole numbers on ``scale`` (default 0-10). Blanks are
        skipped and counted; numbers stored as text are accepted.
    weights:
        Optional non-negative weight per response (same length as ``scores``). Shares become
        weighted shares and *n* the Kish effective sample size ``(Σw)² / Σw²``.
    confidence:
        Confidence level of the interval, default 0.95.
    method:
        ``"adjusted-wald"`` (default) or ``"wald"``.
    promoter_min, detractor_max:
        Breakpoints; defaults are the published 9 and 6.
    scale:
        Inclusive score range, default ``(0, 10)``.
    on_invalid:
        ``"raise"`` (default): an out-of-scale, fractional or text value is an error naming it and
        its position. ``"drop"``: skip and count it.
    min_n:
        Sample size below which the result carries a small-sample warning (default 30).
    argument:
        Name of the scores in error messages (``nps_diff`` uses ``scores_a`` / ``scores_b``).

    Returns
    -------
    MetricResult
        ``value`` in points (-100..100); ``components`` has ``promoters``, ``passives``,
        ``detractors`` (counts, or weighted sums) and ``pct_promoters``, ``pct_passives``,
        ``pct_detractors`` (shares 0..1).

    Raises
    ------
    KpiInputError
        No valid responses (kind ``"empty"``), or an invalid value with ``on_invalid="raise"``.

    References
    ----------
    Reichheld, F. (2003). The One Number You Need to Grow. Harvard Business Review 81(12).
    Rocks, B. (2016). Interval Estimation for the "Net Promoter Score". The American
    Statistician 70(4), 365-372.

    Examples
    --------
    Five responses, two promoters (10, 9), one passive (8), two detractors (6, 0):
    NPS = 100 · (2/5 - 2/5) = 0.

    >>> nps([10, 9, 8, 6, 0]).value
    0.0
    """
    points, z = _nps_checks(scale, promoter_min, detractor_max, method, confidence)
    if weights is None:
        # A column with nothing to clean (the common case, and a whole Excel column's) is validated
        # and counted in the same pass.
        counts = _nps_counts_of_clean_floats(scores, points, promoter_min, detractor_max)
        if counts is not None:
            prom, det, n, blanks = counts
            return _nps_result(
                (float(prom), float(det), float(n)), n, float(n), blanks, z, confidence, method, min_n,
                argument, scale,
            )  # fmt: skip
    cleaned = clean_scores(scores, scale=scale, on_invalid=on_invalid, argument=argument)
    x = cleaned.values
    if weights is None:
        hist = _histogram(x, points)
        n_eff = float(x.size)
    else:
        w_all = clean_numbers(weights, argument="weights", allow_negative=False).values
        if len(w_all) != len(cleaned.mask):
            raise KpiInputError(
                f"weights has {len(w_all)} values but scores has {len(cleaned.mask)}; give one weight "
                "per response (and no blank weights)",
                argument="weights",
            )
        w = w_all[cleaned.mask]
        hist = _histogram(x, points, w)
        n_eff = float(w.sum()) ** 2 / float((w**2).sum()) if w.sum() > 0 else 0.0
    return _nps_result(
        _nps_groups(hist, points, promoter_min, detractor_max), int(x.size), n_eff, cleaned.n_dropped, z,
        confidence, method, min_n, argument, scale,
    )  # fmt: skip


def nps_from_counts(
    counts: Any,
    *,
    n_dropped: int = 0,
    confidence: float = 0.95,
    method: NpsMethod = "adjusted-wald",
    promoter_min: int = 9,
    detractor_max: int = 6,
    scale: tuple[int, int] = (0, 10),
    min_n: int | None = None,
) -> MetricResult:
    r"""Net Promoter Score from the number of responses per score (a histogram).

    The same statistic as :func:`nps` (same formula, interval and components; both compute it
    from responses per score point), for data that is already counted: a pivot table, or a
    database ``GROUP BY score``.

    Parameters
    ----------
    counts:
        Score -> number of responses, as a dict or a pandas Series indexed by score. Scores are
        whole numbers on ``scale``; counts whole numbers, 0 or more. A score may be absent (0).
    n_dropped:
        Responses skipped before counting (blanks), reported in ``n_dropped``.
    confidence, method, promoter_min, detractor_max, scale, min_n:
        As in :func:`nps`.

    Returns
    -------
    MetricResult
        As :func:`nps` returns for the responses the histogram describes.

    Raises
    ------
    KpiInputError
        A score off the scale or not whole, a count not whole or negative (naming the entry), not
        a mapping; no responses at all (kind ``"empty"``).

    References
    ----------
    Reichheld (2003); Rocks (2016), as in :func:`nps`.

    Examples
    --------
    Two 10s, one 9, one 8, one 6: NPS = 100 · (3/5 - 1/5) = 40, as ``nps([10, 10, 9, 8, 6])``.

    >>> nps_from_counts({10: 2, 9: 1, 8: 1, 6: 1}).value
    40.0
    """
    points, z = _nps_checks(scale, promoter_min, detractor_max, method, confidence)
    hist = _count_histogram(counts, points)
    # "No valid scores" reads as from nps, so a group without answers says the same on both forms.
    n = int(hist.sum())
    return _nps_result(
        _nps_groups(hist, points, promoter_min, detractor_max), n, float(n), _dropped(n_dropped), z,
        confidence, method, min_n, "scores", scale,
    )  # fmt: skip


def _nps_checks(
    scale: tuple[int, int], promoter_min: int, detractor_max: int, method: str, confidence: float
) -> tuple[np.ndarray, float]:
    """The options of an NPS checked (before any data): the scale's points and the z quantile."""
    lo, hi = scale
    if not lo <= detractor_max < promoter_min <= hi:
        raise KpiInputError(
            f"breakpoints must satisfy {lo} <= detractor_max < promoter_min <= {hi}, "
            f"got detractor_max={detractor_max}, promoter_min={promoter_min}",
            argument="promoter_min",
        )
    if method not in ("wald", "adjusted-wald"):
        raise KpiInputError(f"method must be 'wald' or 'adjusted-wald', got {method!r}", argument="method")
    return _points(scale), z_value(confidence)


def _nps_groups(
    hist: np.ndarray, points: np.ndarray, promoter_min: int, detractor_max: int
) -> tuple[float, float, float]:
    """(promoters, detractors, all) responses (or weights) of a histogram over the score points."""
    return (
        float(hist[points >= promoter_min].sum()),
        float(hist[points <= detractor_max].sum()),
        float(hist.sum()),
    )


def _nps_result(
    groups: tuple[float, float, float],
    n_used: int,
    n_eff: float,
    n_dropped: int,
    z: float,
    confidence: float,
    method: str,
    min_n: int | None,
    argument: str,
    scale: tuple[int, int],
) -> MetricResult:
    """NPS from the promoters, detractors and all responses (or their weights): the computation
    every form shares."""
    prom, det, total = groups
    if n_used == 0 or total <= 0:
        lo, hi = scale
        raise KpiInputError(
            f"{argument}: no valid {lo}-{hi} scores to compute NPS from ({n_dropped} value(s) skipped)",
            argument=argument,
            kind="empty",
        )
    pas = total - prom - det
    p, d = prom / total, det / total
    value = 100.0 * (p - d)
    if method == "adjusted-wald":
        n_adj = n_eff + 3.0
        pa = (p * n_eff + 0.75) / n_adj
        da = (d * n_eff + 0.75) / n_adj
        centre = pa - da
        se = math.sqrt(_nps_variance(pa, da, n_adj))
    else:
        centre = p - d
        se = math.sqrt(_nps_variance(p, d, n_eff))
    # The adjusted-Wald interval is centred on the adjusted estimate; at very small n (e.g. one
    # detractor) it can miss the observed NPS. The bound is then moved to the observed value, so
    # the interval always contains what is reported (only ever wider, never narrower).
    low = min(max(-1.0, centre - z * se), p - d) * 100.0
    high = max(min(1.0, centre + z * se), p - d) * 100.0
    return MetricResult(
        metric="nps",
        value=value,
        unit="points",
        n_used=n_used,
        n_dropped=n_dropped,
        se=100.0 * se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method=method,
        components={
            "promoters": prom,
            "passives": pas,
            "detractors": det,
            "pct_promoters": p,
            "pct_passives": pas / total,
            "pct_detractors": d,
            "n_effective": n_eff,
        },
        warnings=small_sample_warnings(n_used, min_n),
    )


def nps_diff(
    scores_a: Any,
    scores_b: Any,
    *,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    scale: tuple[int, int] = (0, 10),
) -> MetricResult:
    r"""Difference between two independent NPS samples (A - B) with a two-sided z-test.

    .. math::

        \Delta = NPS_A - NPS_B, \quad SE_\Delta = \sqrt{SE_A^2 + SE_B^2}, \quad
        z = \Delta / SE_\Delta, \quad p = 2(1 - \Phi(|z|))

    with each SE the multinomial (Wald) standard error of :func:`nps`. Typical use: this quarter
    (A) against last quarter (B).

    Returns
    -------
    MetricResult
        ``value`` = NPS_A - NPS_B in points, interval ``Δ ± z·SE``; ``components`` has
        ``nps_a``, ``nps_b``, ``n_a``, ``n_b``, ``z`` and ``p_value``.

    References
    ----------
    Rocks (2016), section 2; MeasuringU, "Comparing Two Net Promoter Scores" (Sauro 2019).

    Examples
    --------
    >>> r = nps_diff([10] * 50 + [0] * 50, [10] * 40 + [0] * 60)
    >>> round(r.value, 1)
    20.0
    """
    a = nps(scores_a, method="wald", on_invalid=on_invalid, scale=scale, argument="scores_a")
    b = nps(scores_b, method="wald", on_invalid=on_invalid, scale=scale, argument="scores_b")
    z = z_value(confidence)
    diff = a.value - b.value
    se = math.sqrt((a.se or 0.0) ** 2 + (b.se or 0.0) ** 2)
    if se > 0:
        zstat = diff / se
        # Both normal tails, 2·Φ(-|z|) = erfc(|z|/√2): math's erfc, so that the first =NPS_DIFF of an
        # Excel server imports no scipy (0.15 s).
        pval = math.erfc(abs(zstat) / math.sqrt(2.0))
    else:
        # Both samples unanimous: no sampling variance, so any difference is certain.
        zstat = 0.0
        pval = 1.0 if diff == 0 else 0.0
    return MetricResult(
        metric="nps_diff",
        value=diff,
        unit="points",
        n_used=a.n_used + b.n_used,
        n_dropped=a.n_dropped + b.n_dropped,
        se=se,
        ci_low=max(-200.0, diff - z * se),
        ci_high=min(200.0, diff + z * se),
        confidence=confidence,
        method="wald",
        components={
            "nps_a": a.value,
            "nps_b": b.value,
            "n_a": a.n_used,
            "n_b": b.n_used,
            "z": zstat,
            "p_value": pval,
        },
        warnings=tuple(f"sample A: {w}" for w in a.warnings) + tuple(f"sample B: {w}" for w in b.warnings),
    )


def csat(
    scores: Any,
    *,
    scale: tuple[int, int] = (1, 5),
    threshold: int | None = None,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Customer Satisfaction Score: the top-box share, with a Wilson interval.

    .. math::

        CSAT = \frac{\#\{\text{score} \ge \text{threshold}\}}{n}

    On the usual 1-5 scale the threshold is 4 (top-2-box: 4s and 5s). The 1-5 *mean* is not
    CSAT; it is reported separately in ``components["mean"]`` (see :func:`satisfaction_mean`).

    Parameters
    ----------
    scores:
        Satisfaction answers, whole numbers on ``scale``.
    scale:
        Inclusive range, default ``(1, 5)``; e.g. ``(1, 7)`` or ``(1, 10)``.
    threshold:
        Lowest score counted as satisfied. Default: the top two boxes (``scale[1] - 1``).
    confidence, on_invalid, min_n:
        As in :func:`nps`.

    Returns
    -------
    MetricResult
        ``value`` is a share in 0..1 (Excel shows it as %); Wilson interval; ``components`` has
        ``satisfied``, ``mean`` and ``threshold``.

    References
    ----------
    Top-2-box CSAT: SoGoSurvey, "Introduction to CSAT"; Wilson, E. B. (1927), JASA 22, 209-212.

    Examples
    --------
    Ten answers with seven 4s or 5s: CSAT = 7/10 = 0.7, Wilson 95% interval 0.397-0.892.

    >>> csat([5, 5, 4, 4, 4, 5, 4, 3, 2, 1]).value
    0.7
    """
    points, thr = _csat_checks(scale, threshold, confidence)
    cleaned = clean_scores(scores, scale=scale, on_invalid=on_invalid)
    return _csat_result(_histogram(cleaned.values, points), points, cleaned.n_dropped, thr, confidence, min_n)


def csat_from_counts(
    counts: Any,
    *,
    n_dropped: int = 0,
    scale: tuple[int, int] = (1, 5),
    threshold: int | None = None,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""CSAT (top-box share) from the number of responses per score: the same result as
    :func:`csat` on the responses the histogram describes.

    Parameters
    ----------
    counts:
        Score -> number of responses (dict or pandas Series); see :func:`nps_from_counts`.
    n_dropped:
        Responses skipped before counting (blanks).
    scale, threshold, confidence, min_n:
        As in :func:`csat`.

    References
    ----------
    As :func:`csat`.

    Examples
    --------
    Seven of ten answers are 4 or 5: CSAT = 7/10, as in the :func:`csat` example.

    >>> csat_from_counts({5: 3, 4: 4, 3: 1, 2: 1, 1: 1}).value
    0.7
    """
    points, thr = _csat_checks(scale, threshold, confidence)
    return _csat_result(_count_histogram(counts, points), points, _dropped(n_dropped), thr, confidence, min_n)


def _csat_checks(scale: tuple[int, int], threshold: int | None, confidence: float) -> tuple[np.ndarray, int]:
    points = _points(scale)
    lo, hi = scale
    thr = hi - 1 if threshold is None else threshold
    if not lo <= thr <= hi:
        raise KpiInputError(
            f"threshold {_shown(thr)} is outside the scale {_shown(lo)}-{_shown(hi)}",
            argument="threshold",
            value=thr,
        )
    z_value(confidence)
    return points, int(thr)


def _csat_result(
    hist: np.ndarray, points: np.ndarray, n_dropped: int, thr: int, confidence: float, min_n: int | None
) -> MetricResult:
    """CSAT from responses per score point: the computation both forms share."""
    n, total, _ = _moments(hist, points)
    if n == 0:
        raise KpiInputError(
            f"no valid {points[0]:g}-{points[-1]:g} scores to compute CSAT from "
            f"({n_dropped} value(s) skipped)",
            argument="scores",
            kind="empty",
        )
    k = float(hist[points >= thr].sum())
    low, high = wilson_interval(k, n, confidence)
    p = k / n
    return MetricResult(
        metric="csat",
        value=p,
        unit="share",
        n_used=n,
        n_dropped=n_dropped,
        se=math.sqrt(p * (1 - p) / n),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="wilson",
        components={"satisfied": k, "mean": total / n, "threshold": thr},
        warnings=small_sample_warnings(n, min_n),
    )


def satisfaction_mean(
    scores: Any,
    *,
    scale: tuple[int, int] = (1, 5),
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Mean satisfaction on the survey scale, with a t interval (``mean ± t·s/√n``).

    Kept apart from :func:`csat` on purpose: a mean of 4.1 and a CSAT of 80% are different
    statistics and must not be labelled alike.

    >>> satisfaction_mean([5, 4, 3]).value
    4.0
    """
    z_value(confidence)
    points = _points(scale)
    cleaned = clean_scores(scores, scale=scale, on_invalid=on_invalid)
    return _satisfaction_result(
        _histogram(cleaned.values, points), points, cleaned.n_dropped, confidence, min_n
    )


def satisfaction_mean_from_counts(
    counts: Any,
    *,
    n_dropped: int = 0,
    scale: tuple[int, int] = (1, 5),
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Mean satisfaction from the number of responses per score, with the t interval of
    :func:`satisfaction_mean` (mean and variance from the histogram's moments:
    :math:`\bar x = \Sigma s c_s / n`, :math:`s^2 = (\Sigma s^2 c_s - n \bar x^2) / (n - 1)`).

    ``counts``: score -> number of responses (see :func:`nps_from_counts`); ``n_dropped``:
    responses skipped before counting.

    >>> satisfaction_mean_from_counts({5: 1, 4: 1, 3: 1}).value
    4.0
    """
    z_value(confidence)
    points = _points(scale)
    return _satisfaction_result(
        _count_histogram(counts, points), points, _dropped(n_dropped), confidence, min_n
    )


def _satisfaction_result(
    hist: np.ndarray, points: np.ndarray, n_dropped: int, confidence: float, min_n: int | None
) -> MetricResult:
    n, total, squares = _moments(hist, points)
    if n == 0:
        raise KpiInputError("no valid scores to average", argument="scores", kind="empty")
    return mean_result_from_moments(
        "satisfaction_mean",
        n,
        total,
        squares,
        unit="score",
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={},
    )


def ces(
    scores: Any,
    *,
    scale: tuple[int, int] = (1, 7),
    agree_threshold: int | None = None,
    higher_is_easier: bool = True,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Customer Effort Score: mean and % agree.

    CES 2.0 (CEB/Gartner) asks for agreement with "[Company] made it easy for me to handle my
    issue" on 1 (strongly disagree) to 7 (strongly agree). Reported:

    * ``value``: the mean score, with a t interval;
    * ``components["pct_agree"]``: share of 5-7 ("easy"), ``pct_disagree``: share of 1-3,
      ``net`` = pct_agree - pct_disagree.

    For the legacy CES 1.0 "how much effort" question on 1-5, where *lower* is better, pass
    ``scale=(1, 5), higher_is_easier=False``: then "agree" (easy) means a score at or below
    ``agree_threshold`` (default 2) and "disagree" at or above 4; the mean stays on the raw scale.

    Parameters
    ----------
    scale:
        Inclusive range, default ``(1, 7)``.
    agree_threshold:
        Boundary of the "easy" boxes. Default: for higher-is-easier the top 3 of 7 (5); for a
        reversed 1-5 scale the bottom 2 (2). Generally: the boxes strictly beyond the midpoint.
    higher_is_easier:
        Direction of the scale.

    References
    ----------
    Dixon, Toman & DeLisi (2013), *The Effortless Experience*; CustomerGauge, "CES 2.0".

    Examples
    --------
    >>> r = ces([7, 6, 6, 5, 4, 3, 2, 7])
    >>> r.value, r.components["pct_agree"], r.components["pct_disagree"]
    (5.0, 0.625, 0.25)
    """
    points, thr = _ces_checks(scale, agree_threshold, higher_is_easier, confidence)
    cleaned = clean_scores(scores, scale=scale, on_invalid=on_invalid)
    return _ces_result(
        _histogram(cleaned.values, points), points, cleaned.n_dropped, thr, higher_is_easier, scale,
        confidence, min_n,
    )  # fmt: skip


def ces_from_counts(
    counts: Any,
    *,
    n_dropped: int = 0,
    scale: tuple[int, int] = (1, 7),
    agree_threshold: int | None = None,
    higher_is_easier: bool = True,
    confidence: float = 0.95,
    min_n: int | None = None,
) -> MetricResult:
    r"""Customer Effort Score from the number of responses per score: the same result as
    :func:`ces` (mean with t interval from the histogram's moments, % agree and % disagree).

    ``counts``: score -> number of responses (see :func:`nps_from_counts`); ``n_dropped``:
    responses skipped before counting; the other options as in :func:`ces`.

    References
    ----------
    As :func:`ces`.

    Examples
    --------
    The :func:`ces` example counted: 7 twice, 6 twice, 5, 4, 3, 2 once each.

    >>> r = ces_from_counts({7: 2, 6: 2, 5: 1, 4: 1, 3: 1, 2: 1})
    >>> r.value, r.components["pct_agree"], r.components["pct_disagree"]
    (5.0, 0.625, 0.25)
    """
    points, thr = _ces_checks(scale, agree_threshold, higher_is_easier, confidence)
    return _ces_result(
        _count_histogram(counts, points), points, _dropped(n_dropped), thr, higher_is_easier, scale,
        confidence, min_n,
    )  # fmt: skip


def _ces_checks(
    scale: tuple[int, int], agree_threshold: int | None, higher_is_easier: bool, confidence: float
) -> tuple[np.ndarray, int]:
    """The options of a CES checked: the scale's points and the agree threshold."""
    z_value(confidence)
    points = _points(scale)
    lo, hi = scale
    mid = (lo + hi) / 2.0
    if higher_is_easier:
        thr = math.floor(mid) + 1 if agree_threshold is None else int(agree_threshold)
    else:
        thr = math.ceil(mid) - 1 if agree_threshold is None else int(agree_threshold)
    if not lo <= thr <= hi:
        raise KpiInputError(
            f"agree_threshold {_shown(thr)} is outside the scale {_shown(lo)}-{_shown(hi)}",
            argument="agree_threshold",
        )
    return points, thr


def _ces_result(
    hist: np.ndarray,
    points: np.ndarray,
    n_dropped: int,
    thr: int,
    higher_is_easier: bool,
    scale: tuple[int, int],
    confidence: float,
    min_n: int | None,
) -> MetricResult:
    """CES from responses per score point: the computation both forms share."""
    lo, hi = scale
    n, total, squares = _moments(hist, points)
    if n == 0:
        raise KpiInputError(
            f"no valid {lo}-{hi} scores to compute CES from ({n_dropped} value(s) skipped)",
            argument="scores",
            kind="empty",
        )
    # "Disagree" mirrors "agree" around the midpoint of the scale.
    mirror = (lo + hi) - thr
    if higher_is_easier:
        agree, disagree = points >= thr, points <= mirror
    else:
        agree, disagree = points <= thr, points >= mirror
    k_agree = float(hist[agree].sum())
    pa = k_agree / n
    pd_ = float(hist[disagree].sum()) / n
    a_low, a_high = wilson_interval(k_agree, n, confidence)
    return mean_result_from_moments(
        "ces",
        n,
        total,
        squares,
        unit="score",
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={
            "pct_agree": pa,
            "pct_agree_low": a_low,
            "pct_agree_high": a_high,
            "pct_disagree": pd_,
            "net": pa - pd_,
            "agree_threshold": thr,
        },
    )


def nps_distribution(
    scores: Any, *, promoter_min: int = 9, detractor_max: int = 6
) -> list[tuple[int, int, int, int]]:
    """Answers per score 0-10, split by NPS group: ``(score, detractors, passives, promoters)``,
    the score's count in its own group's place and 0 in the others (a stacked histogram).

    Only whole scores 0-10 count (blanks and anything else are left out, as :func:`nps` leaves
    them out); the groups are :func:`nps`'s: detractors up to ``detractor_max``, promoters from
    ``promoter_min``, passives between.

    >>> nps_distribution([10, 9, 7, 3, 3, None], detractor_max=6)[3]
    (3, 2, 0, 0)
    >>> nps_distribution([10, 9, 7, 3, 3])[10], nps_distribution([10, 9, 7, 3, 3])[7]
    ((10, 0, 0, 1), (7, 0, 1, 0))
    """
    values = np.asarray(scores, dtype=object)
    numeric = np.array(
        [
            float(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else np.nan
            for v in values
        ]
    )
    out = []
    for k in range(11):
        count = int(np.sum(numeric == k))
        out.append(
            (
                k,
                count if k <= detractor_max else 0,
                count if detractor_max < k < promoter_min else 0,
                count if k >= promoter_min else 0,
            )
        )
    return out


def satisfaction_index(mean: Any, *, scale: tuple[float, float]) -> float:
    r"""A mean satisfaction score rescaled to a 0-100 index, the way the ACSI rescales its answers.

    .. math::

        I = \frac{\bar{x} - \text{low}}{\text{high} - \text{low}} \times 100

    The ACSI rescales its 1-10 answers so (Fornell et al. 1996); it also combines three questions
    with estimated weights, so an index from one question approximates the ACSI, not equals it.

    References
    ----------
    Fornell, C., Johnson, M. D., Anderson, E. W., Cha, J. & Bryant, B. E. (1996), "The American
    Customer Satisfaction Index: nature, purpose, and findings", *Journal of Marketing* 60(4), 7-18.

    >>> satisfaction_index(4.0, scale=(1, 5))
    75.0
    """
    lo, hi = float(scale[0]), float(scale[1])
    if not hi > lo:
        raise KpiInputError(f"scale must run from low to high, got {scale!r}", argument="scale", value=scale)
    return (float(mean) - lo) / (hi - lo) * 100.0
