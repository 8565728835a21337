"""What drives the score: key driver analysis by Shapley decomposition of R2, with bootstrap
intervals, and the importance x performance table."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ._clean import clean_numbers
from ._errors import KpiInputError
from ._intervals import check_confidence

__all__ = ["shapley_r2", "key_drivers", "MAX_DRIVERS"]

#: Exact Shapley needs the R2 of all 2^p attribute subsets; 12 attributes are 4,096 regressions.
MAX_DRIVERS = 12


def _subset_r2(corr: np.ndarray) -> np.ndarray:
    """R2 of the regression of variable 0 on every subset of variables 1..p, indexed by bitmask.

    From the correlation matrix: ``R2(S) = r_S' R_SS^-1 r_S`` (standardised regression), solved in
    one batch per subset size.
    """
    p = corr.shape[0] - 1
    r_y = corr[0, 1:]
    r_xx = corr[1:, 1:]
    out = np.zeros(1 << p)
    for k in range(1, p + 1):
        subsets = np.array(list(combinations(range(p), k)), dtype=np.intp)
        mats = r_xx[subsets[:, :, None], subsets[:, None, :]]
        vecs = r_y[subsets]
        # lstsq-like stability: a singular subset (perfectly collinear attributes) gets a pseudo-inverse.
        try:
            beta = np.linalg.solve(mats, vecs[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            beta = np.einsum("nij,nj->ni", np.linalg.pinv(mats), vecs)
        masks = (1 << subsets).sum(axis=1)
        out[masks] = np.einsum("ni,ni->n", beta, vecs)
    return np.clip(out, 0.0, 1.0)


def _shapley_from_r2(r2: np.ndarray, p: int) -> np.ndarray:
    masks = np.arange(1 << p)
    sizes = np.array([bin(m).count("1") for m in masks])
    fact = [math.factorial(i) for i in range(p + 1)]
    phi = np.zeros(p)
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        s = sizes[without]
        weight = np.array([fact[k] * fact[p - k - 1] for k in s], dtype=np.float64) / fact[p]
        phi[j] = float(np.sum(weight * (r2[without | (1 << j)] - r2[without])))
    return phi


def shapley_r2(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    r"""Shapley value decomposition of the R2 of a linear regression of ``y`` on the columns of ``X``.

    .. math::

        \phi_j = \sum_{S \subseteq P \setminus \{j\}} \frac{|S|!\,(p-|S|-1)!}{p!}
        \left[R^2(S \cup \{j\}) - R^2(S)\right], \qquad \sum_j \phi_j = R^2(P)

    the average gain in R2 from adding attribute *j*, over all orders in which the attributes can
    enter the model (LMG; Lindeman, Merenda & Gold 1980). Exact over all 2^p subsets.

    References
    ----------
    Lipovetsky, S. & Conklin, M. (2001). Analysis of regression in game theory approach. Applied
    Stochastic Models in Business and Industry 17(4), 319-330. Grömping, U. (2007). Estimators of
    relative importance in linear regression based on variance decomposition. The American
    Statistician 61(2), 139-147.

    Examples
    --------
    Two uncorrelated attributes and noise uncorrelated with both: var(y) = 4 + 1 + 0.25, so each
    attribute's share is its own squared correlation with y: 4/5.25 and 1/5.25.

    >>> X = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float)
    >>> y = X @ [2.0, 1.0] + np.array([0.5, -0.5, -0.5, 0.5])
    >>> shapley_r2(y, X).round(4).tolist()
    [0.7619, 0.1905]
    """
    p = X.shape[1]
    data = np.column_stack([y, X])
    sd = data.std(axis=0)
    if np.any(sd == 0):
        raise KpiInputError("a driver or the score does not vary, so its importance is undefined")
    corr = np.corrcoef(data, rowvar=False)
    return _shapley_from_r2(_subset_r2(corr), p)


def key_drivers(
    scores: Any,
    attributes: pd.DataFrame | dict[str, Any],
    *,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 12345,
) -> pd.DataFrame:
    r"""Key driver analysis: each attribute's relative importance for the score (Shapley value
    decomposition of R2, see :func:`shapley_r2`) with a bootstrap interval, its current performance,
    and its place in the importance x performance grid.

    * ``importance`` = phi_j / R2 (shares adding up to 1); ``r2_share`` = phi_j (adding up to R2).
    * Interval: percentile bootstrap of ``importance`` over ``n_boot`` resamples of the respondents
      (Efron & Tibshirani 1993, ch. 13), fixed ``seed`` so a refresh gives the same numbers.
    * ``performance``: the attribute's mean rating; ``performance_pct`` that mean on 0..100 of the
      observed range of all ratings.
    * ``quadrant`` (Martilla & James 1977), split at the mean importance and mean performance:
      "Concentrate here" (important, low performance), "Keep up the good work" (important, high),
      "Low priority" (less important, low), "Possible overkill" (less important, high).

    Rows with any blank are left out (listwise); the count is in ``attrs["n_dropped"]``.

    Parameters
    ----------
    scores:
        The 0-10 (or any numeric) overall score per respondent.
    attributes:
        Attribute ratings, one column per attribute (2 to 12 columns), same rows as ``scores``.
    n_boot:
        Bootstrap resamples (0 for none).

    Returns
    -------
    DataFrame
        Index ``attribute`` (sorted by importance): ``importance``, ``ci_low``, ``ci_high``,
        ``r2_share``, ``performance``, ``performance_pct``, ``quadrant``, ``rank``. ``attrs``:
        ``r2``, ``n``, ``n_dropped``, ``method`` ("shapley-r2"), ``n_boot``, ``confidence``.

    References
    ----------
    Lipovetsky & Conklin (2001); Grömping (2007), see :func:`shapley_r2`. Martilla, J. A. &
    James, J. C. (1977). Importance-Performance Analysis. Journal of Marketing 41(1), 77-79.
    Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap. Chapman & Hall.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a = pd.DataFrame(rng.integers(1, 6, size=(200, 3)), columns=["price", "support", "product"])
    >>> y = 2 * a["support"] + a["product"] + rng.normal(0, 1, 200)
    >>> kd = key_drivers(y, a, n_boot=50)
    >>> kd.index.tolist(), round(float(kd["importance"].sum()), 6)
    (['support', 'product', 'price'], 1.0)
    """
    check_confidence(confidence)
    frame = pd.DataFrame(attributes) if not isinstance(attributes, pd.DataFrame) else attributes
    p = frame.shape[1]
    if not 2 <= p <= MAX_DRIVERS:
        raise KpiInputError(
            f"attributes: give 2 to {MAX_DRIVERS} attribute columns, got {p}", argument="attributes"
        )
    if n_boot < 0:
        raise KpiInputError(f"n_boot must be 0 or more, got {n_boot}", argument="n_boot")
    y_c = clean_numbers(scores, argument="scores", allow_negative=True)
    n_rows = y_c.mask.size
    y = np.full(n_rows, np.nan)
    y[y_c.mask] = y_c.values
    cols = []
    for name in frame.columns:
        c = clean_numbers(frame[name].to_numpy(dtype=object), argument=str(name), allow_negative=True)
        if c.mask.size != n_rows:
            raise KpiInputError(
                f"attribute {name!r} has {c.mask.size} values but scores has {n_rows}", argument=str(name)
            )
        full = np.full(n_rows, np.nan)
        full[c.mask] = c.values
        cols.append(full)
    X = np.column_stack(cols)
    keep = ~np.isnan(y) & ~np.isnan(X).any(axis=1)
    y, X = y[keep], X[keep]
    n = int(keep.sum())
    if n < p + 2:
        raise KpiInputError(
            f"{n} complete row(s) are too few for {p} attributes (need at least {p + 2})",
            argument="scores",
            kind="empty",
        )
    phi = shapley_r2(y, X)
    r2 = float(phi.sum())
    if r2 <= 0:
        raise KpiInputError("the attributes explain none of the score (R2 = 0)", argument="attributes",
                            kind="zero-base")  # fmt: skip
    importance = phi / r2
    low = np.full(p, np.nan)
    high = np.full(p, np.nan)
    if n_boot:
        rng = np.random.default_rng(seed)
        boots = []
        data = np.column_stack([y, X])
        for _ in range(n_boot):
            sample = data[rng.integers(0, n, n)]
            if np.any(sample.std(axis=0) == 0):
                continue
            b = _shapley_from_r2(_subset_r2(np.corrcoef(sample, rowvar=False)), p)
            if b.sum() > 0:
                boots.append(b / b.sum())
        if boots:
            alpha = (1.0 - confidence) / 2.0
            low, high = np.quantile(np.array(boots), [alpha, 1.0 - alpha], axis=0)
    perf = X.mean(axis=0)
    lo, hi = float(X.min()), float(X.max())
    perf_pct = 100.0 * (perf - lo) / (hi - lo) if hi > lo else np.full(p, np.nan)
    imp_cut, perf_cut = importance.mean(), perf.mean()
    quadrant = np.where(
        importance >= imp_cut,
        np.where(perf < perf_cut, "Concentrate here", "Keep up the good work"),
        np.where(perf < perf_cut, "Low priority", "Possible overkill"),
    )
    table = pd.DataFrame(
        {
            "importance": importance,
            "ci_low": low,
            "ci_high": high,
            "r2_share": phi,
            "performance": perf,
            "performance_pct": perf_pct,
            "quadrant": quadrant,
        },
        index=pd.Index([str(c) for c in frame.columns], name="attribute"),
    )
    table = table.sort_values("importance", ascending=False, kind="stable")
    table["rank"] = np.arange(1, p + 1)
    table.attrs.update(
        r2=r2, n=n, n_dropped=int(n_rows - n), method="shapley-r2", n_boot=n_boot, confidence=confidence
    )
    return table
