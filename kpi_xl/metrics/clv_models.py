r"""Predictive CLV: BG/NBD (how many repeat purchases) and Gamma-Gamma (what each one is worth).

The pipeline is the one of Fader, Hardie & Lee (2005a, 2005b):

1. :func:`rfm_summary` turns a transaction log into one row per customer: ``frequency`` (repeat
   purchase periods), ``recency`` (first to last purchase period), ``T`` (first purchase period to
   the end of observation) and ``monetary_value`` (mean spend per repeat purchase period).
2. :class:`BetaGeoFitter` fits the BG/NBD model to (frequency, recency, T) and predicts repeat
   purchases and the probability that a customer is still active.
3. :class:`GammaGammaFitter` fits the Gamma-Gamma model to (frequency, monetary_value) of repeat
   customers and predicts each customer's expected spend per purchase.
4. :func:`predict_clv` does all of it in one call and discounts the predicted cash flows.

**The time unit is always explicit.** ``frequency`` counts *distinct periods* with a purchase, and
``recency``, ``T``, prediction horizons and the BG/NBD rate parameter ``alpha`` are all measured in
the model's time unit: ``"day"``, ``"week"`` (Monday to Sunday, as pandas' ``"W"`` periods) or
``"month"`` (calendar month). Where a month has to be converted to days or weeks (a discount step
of ``"month"`` on a weekly model) a month is 30.4375 days (365.25 / 12). There is no default unit:
mixing units silently is the best-known way to get CLV wrong by a factor of 4 or 30 (lifetimes
issues #137 and #194: 360 *weeks* projected where 12 months were meant).

Fitting works on distinct (frequency, recency, T) patterns with a count as weight, so its cost
grows with the number of distinct patterns, not the number of customers (Fader & Hardie fit the
CDNOW data the same way). Everything is numpy/scipy; lifetimes is used only in the tests, as a
reference implementation.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005a). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value (note 025).
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model
(note 021).
Davidson-Pilon, C. lifetimes 0.11.3 (MIT), the Python implementation these results are tested
against.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import digamma, gammaln, hyp2f1

from ._clean import _as_1d, _blank_mask, clean_dates, clean_numbers, require_positive, require_share
from ._errors import KpiInputError
from ._result import small_sample_warnings

__all__ = ["rfm_summary", "BetaGeoFitter", "GammaGammaFitter", "predict_clv", "predict_clv_from_summary"]

#: Length of each model time unit in days. A month is the average calendar month, 365.25 / 12.
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 30.4375}

#: Gamma-Gamma has three parameters; with fewer repeat customers than this the maximum-likelihood
#: estimate is driven by a handful of people and its spend predictions are not worth showing.
MIN_REPEAT_CUSTOMERS = 10

# Log-parameters are kept inside +-_LOG_BOUND (about 1e-13 .. 3e13): wide enough for any real data
# set, narrow enough that exp() never overflows while the optimiser explores. A fit that ends on
# the bound has run off to a degenerate corner and is reported as not converged.
_LOG_BOUND = 30.0
# A failed fit whose log-parameter passed +-20 (a parameter beyond 5e8 or below 2e-9) was heading
# for a degenerate corner; the message says so instead of listing optimiser messages.
_DRIFT_LOG = 20.0
# Largest |gradient| of the mean log-likelihood (per log-parameter) accepted as a maximum.
_GRAD_TOL = 1e-5
# The optimiser stopped, but the likelihood is flat in some direction (e.g. BG/NBD's a and b when
# every repeat customer bought last at T): where it stopped is arbitrary, and so would predictions be.
_NOT_IDENTIFIED = (
    "the likelihood is flat in some direction, so at least one parameter is not pinned down by these "
    "data (no standard errors)"
)


# ----------------------------------------------------------------------------------------------
# Input checks shared by the fitters and predict methods
# ----------------------------------------------------------------------------------------------


def _check_time_unit(time_unit: Any) -> str:
    if time_unit is None:
        raise KpiInputError(
            "time_unit is required: say whether frequency, recency and T are counted in 'day', "
            "'week' or 'month' periods (a model fitted in weeks and read in months is off by 4x)",
            argument="time_unit",
        )
    unit = time_unit.strip().lower() if isinstance(time_unit, str) else None
    if unit not in DAYS_PER_UNIT:
        raise KpiInputError(
            f"time_unit must be 'day', 'week' or 'month', got {time_unit!r}",
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
            f"{name}: the value at position {pos + 1} is blank; every customer needs " + ", ".join(cleaned),
            argument=name,
            position=pos + 1,
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
            f"recency {tx[pos]:g} at position {pos + 1} is larger than T {age[pos]:g}: the last purchase "
            "cannot come after the end of observation",
            argument="recency",
            position=pos + 1,
            value=float(tx[pos]),
        )
    bad = (x == 0) & (tx != 0)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise KpiInputError(
            f"recency {tx[pos]:g} at position {pos + 1} must be 0 when frequency is 0 (a customer with "
            "no repeat purchase has recency 0)",
            argument="recency",
            position=pos + 1,
            value=float(tx[pos]),
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


# ----------------------------------------------------------------------------------------------
# Maximum likelihood with a retry ladder
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """Outcome of :func:`_maximise`: log-parameters, convergence and how the search ended."""

    logp: np.ndarray
    converged: bool
    message: str


def _maximise(
    neg_mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: list[np.ndarray],
    names: tuple[str, ...],
) -> _Fit:
    """Maximise a mean log-likelihood over log-parameters, trying harder only when it has to.

    The ladder: L-BFGS-B (bounded, analytic gradient) from each start in turn until one ends at a
    point whose gradient is below ``_GRAD_TOL``; failing that, Nelder-Mead from the best point so
    far (it needs no gradient and walks out of flat valleys where quasi-Newton steps stall), then
    L-BFGS-B again to polish. The best point found is returned; ``converged`` says whether it is a
    proper interior maximum.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)

    def safe(logp: np.ndarray) -> tuple[float, np.ndarray]:
        # Overflow while exploring far-off parameters must read as "much worse", not as NaN.
        fun, grad = neg_mean_ll(logp)
        if not (np.isfinite(fun) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(logp)
        return fun, grad

    def lbfgs(x0: np.ndarray) -> optimize.OptimizeResult:
        return optimize.minimize(
            safe,
            np.clip(x0, -_LOG_BOUND, _LOG_BOUND),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
        )

    def is_maximum(logp: np.ndarray) -> bool:
        fun, grad = safe(logp)
        return bool(np.isfinite(fun) and np.max(np.abs(grad)) < _GRAD_TOL)

    tried: list[str] = []
    best_x: np.ndarray | None = None
    best_fun = np.inf

    def keep_best(label: str, res: optimize.OptimizeResult) -> bool:
        nonlocal best_x, best_fun
        tried.append(f"{label}: {res.message}")
        if np.isfinite(res.fun) and res.fun < best_fun:
            best_x, best_fun = np.asarray(res.x, dtype=float), float(res.fun)
        return best_x is not None and is_maximum(best_x)

    with np.errstate(all="ignore"):
        converged = False
        for i, x0 in enumerate(starts):
            converged = keep_best(f"L-BFGS-B from start {i + 1}", lbfgs(x0))
            if converged:
                break
        if not converged and best_x is not None:
            nelder_mead = optimize.minimize(
                lambda p: safe(p)[0],
                best_x,
                method="Nelder-Mead",
                bounds=bounds,
                # A few hundred simplex steps per parameter are enough to leave a flat valley; the
                # polish below does the fine work, and a hopeless fit must not run for minutes.
                options={"maxfev": 400 * len(names), "xatol": 1e-8, "fatol": 1e-14},
            )
            keep_best("Nelder-Mead", nelder_mead)
            converged = keep_best("L-BFGS-B polish", lbfgs(best_x))
    if best_x is None:
        return _Fit(
            np.full(len(names), np.nan),
            False,
            "the log-likelihood could not be evaluated at any starting point (" + "; ".join(tried) + ")",
        )
    at_bound = np.abs(best_x) >= _LOG_BOUND - 1e-6
    if converged and not at_bound.any():
        return _Fit(best_x, True, "converged")
    drifting = [n for n, v in zip(names, best_x, strict=True) if abs(v) >= _DRIFT_LOG]
    if drifting:
        return _Fit(
            best_x,
            False,
            f"parameter(s) {', '.join(drifting)} ran off towards 0 or infinity: the data do not pin the "
            "model down (too few customers, too few repeat purchases, or no variation to explain)",
        )
    return _Fit(best_x, False, "no maximum found (" + "; ".join(tried) + ")")


def _log_hessian(grad: Callable[[np.ndarray], np.ndarray], logp: np.ndarray) -> np.ndarray:
    """Hessian of the total log-likelihood in log-parameters, by central differences of the
    analytic gradient (accurate to ~1e-8, plenty for standard errors)."""
    k = logp.size
    h = 1e-5 * np.maximum(1.0, np.abs(logp))
    hess = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = h[j]
        hess[:, j] = (grad(logp + step) - grad(logp - step)) / (2 * h[j])
    return (hess + hess.T) / 2


def _covariance(
    grad_total_ll: Callable[[np.ndarray], np.ndarray],
    logp: np.ndarray,
    theta: np.ndarray,
    names: tuple[str, ...],
) -> tuple[pd.DataFrame, bool]:
    """Covariance of the natural parameters from the observed information (delta method).

    With phi = log(theta), Cov(theta) = D Cov(phi) D where D = diag(theta) and Cov(phi) is the
    inverse of minus the Hessian of the log-likelihood in phi (``grad_total_ll`` at ``logp``; a
    rescaled problem has the same Hessian in phi). Returns the matrix and whether the information
    was positive definite (if not, the estimates are not identified and the SEs are NaN).
    """
    info = -_log_hessian(grad_total_ll, logp)
    try:
        ok = bool(np.all(np.isfinite(info)))
        if ok:
            np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        ok = False
    cov_log = np.linalg.inv(info) if ok else np.full_like(info, np.nan)
    cov = cov_log * np.outer(theta, theta)
    return pd.DataFrame(cov, index=list(names), columns=list(names)), ok


def _summary_table(params: pd.Series, cov: pd.DataFrame, confidence: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    se = np.sqrt(np.diag(cov.to_numpy()))
    est = params.to_numpy()
    # Interval on the log scale, mapped back: always positive, like the parameters themselves.
    half = z * se / est
    return pd.DataFrame(
        {"estimate": est, "se": se, "ci_low": est * np.exp(-half), "ci_high": est * np.exp(half)},
        index=params.index,
    )


class _Fitter:
    """What both fitters share: fitted state, the parameter table and the check before predicting."""

    param_names: tuple[str, ...] = ()
    model_name = ""

    def __init__(self) -> None:
        self.params_: pd.Series | None = None
        self.converged = False
        self.identified = False
        self.message = "not fitted"
        self.warnings_: tuple[str, ...] = ()

    def _store(
        self,
        fit: _Fit,
        logp: np.ndarray,
        log_likelihood: float,
        grad_fit: Callable[[np.ndarray], np.ndarray],
        *,
        confidence: float,
        n_customers: float,
        n_patterns: int,
        n_dropped: int,
    ) -> None:
        """Keep a fit: ``logp`` are the natural-scale log-parameters, ``grad_fit`` the gradient of
        the (possibly rescaled) problem the optimiser solved, at ``fit.logp``."""
        self.params_ = pd.Series(np.exp(logp), index=list(self.param_names))
        self.log_likelihood_ = log_likelihood
        self.covariance_, self.identified = _covariance(grad_fit, fit.logp, np.exp(logp), self.param_names)
        self.standard_errors_ = pd.Series(
            np.sqrt(np.diag(self.covariance_.to_numpy())), index=self.params_.index
        )
        self.converged = fit.converged
        self.message = _NOT_IDENTIFIED if fit.converged and not self.identified else fit.message
        self.confidence = confidence
        self.n_customers_ = n_customers
        self.n_patterns_ = n_patterns
        self.n_dropped_ = n_dropped

    def _given(self, values: tuple[float, ...]) -> None:
        """Parameters set by hand: usable for prediction, without standard errors or a likelihood."""
        checked = [require_positive(v, name) for v, name in zip(values, self.param_names, strict=True)]
        self.params_ = pd.Series(checked, index=list(self.param_names), dtype=float)
        nan = np.full((len(checked), len(checked)), np.nan)
        self.covariance_ = pd.DataFrame(nan, index=self.params_.index, columns=self.params_.index)
        self.standard_errors_ = pd.Series(np.nan, index=self.params_.index)
        self.log_likelihood_ = float("nan")
        self.converged = self.identified = True
        self.message = "parameters given, not fitted"
        self.confidence = 0.95
        self.n_customers_, self.n_patterns_, self.n_dropped_ = 0.0, 0, 0

    @property
    def summary(self) -> pd.DataFrame:
        """Parameter table: ``estimate``, ``se``, ``ci_low``, ``ci_high`` (interval on the log scale,
        so it stays positive). Available even when the fit failed, to see where it went."""
        if self.params_ is None:
            raise KpiInputError(f"fit the model first ({type(self).__name__}().fit(...))")
        return _summary_table(self.params_, self.covariance_, self.confidence)

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise KpiInputError(f"fit the model first ({type(self).__name__}().fit(...))")
        if not self.converged:
            raise KpiInputError(
                f"the {self.model_name} fit did not converge ({self.message}); its predictions would be wrong"
            )
        if not self.identified:
            raise KpiInputError(
                f"the {self.model_name} fit cannot be used: {self.message}; its predictions would depend "
                "on where the optimiser happened to stop"
            )


# ----------------------------------------------------------------------------------------------
# RFM summary from a transaction log
# ----------------------------------------------------------------------------------------------


def _period_index(dates: np.ndarray, unit: str) -> np.ndarray:
    """Integer period number of each date: days, Monday-based weeks, or calendar months."""
    if unit == "month":
        return dates.astype("datetime64[M]").astype(np.int64)
    days = dates.astype("datetime64[D]").astype(np.int64)
    if unit == "week":
        # Day 0 (1970-01-01) is a Thursday; shifting by 3 makes every week start on a Monday,
        # the same Monday-Sunday weeks as pandas' "W" periods that lifetimes uses.
        return (days + 3) // 7
    return days


def rfm_summary(
    customer_ids: Any,
    dates: Any,
    amounts: Any = None,
    *,
    time_unit: str | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    r"""Per-customer frequency, recency, age and mean repeat spend from a transaction log.

    Purchases are first grouped into periods of ``time_unit`` (several orders on one day, in one
    week or one month count once, their amounts summed). Then, per customer, with periods numbered
    in that unit:

    .. math::

        \text{frequency} &= \#\{\text{periods with a purchase}\} - 1 \\
        \text{recency} &= \text{last purchase period} - \text{first purchase period} \\
        T &= \text{period of observation\_end} - \text{first purchase period} \\
        \text{monetary\_value} &= \text{mean over repeat periods of the period's total spend}

    ``monetary_value`` is 0 for customers without a repeat period. The first purchase is left out
    of frequency and monetary value because the BG/NBD and Gamma-Gamma models describe *repeat*
    behaviour. This is exactly lifetimes' ``summary_data_from_transaction_data(..., freq=...)``
    with ``freq`` ``"D"`` or ``"W"``; for ``"month"``, periods are calendar months and recency and T
    are whole months.

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
        Required: ``"day"``, ``"week"`` (Monday-Sunday) or ``"month"`` (calendar month).
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
    Customer A buys on Monday 6 Jan 2025 ($10) and Wednesday 8 Jan ($5), the same week, then on
    Monday 20 Jan ($20); observation ends Monday 3 Feb. In weeks: purchase periods 0 and 2 -> one
    repeat period, frequency 1, recency 2, T 4, monetary value $20 (the first week's $15 is left
    out).

    >>> rfm_summary(["A", "A", "A"], ["2025-01-06", "2025-01-08", "2025-01-20"], [10, 5, 20],
    ...             time_unit="week", observation_end="2025-02-03").loc["A"].tolist()
    [1.0, 2.0, 4.0, 20.0]
    """
    unit = _check_time_unit(time_unit)
    ids = _as_1d(customer_ids, "customer_ids")
    when, date_blank = clean_dates(dates, argument="dates")
    id_blank = _blank_mask(ids)
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
            raise KpiInputError(
                f"{name}: the value at position {pos + 1} is blank but the transaction has other "
                "values; every transaction needs a customer, a date"
                + (" and an amount" if amounts is not None else ""),
                argument=name,
                position=pos + 1,
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
                f"dates: {day[i]} at position {rows[i] + 1} is after observation_end {end_day} "
                f"({int(late.sum())} transaction(s) are); filter them out or move observation_end",
                argument="dates",
                position=int(rows[i]) + 1,
                value=str(day[i]),
            )

    try:
        codes, uniques = pd.factorize(ids, sort=True)
    except TypeError:
        # Mixed id types (numbers and text) cannot be ordered; keep first-seen order instead.
        codes, uniques = pd.factorize(ids, sort=False)
    period = _period_index(day, unit)
    end_period = int(_period_index(np.array([end_day]), unit)[0])

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
            "recency": (pair_p[cust_end] - first_p).astype(float),
            "T": (end_period - first_p).astype(float),
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


# ----------------------------------------------------------------------------------------------
# BG/NBD
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BgnbdData:
    """BG/NBD fitting data, grouped so each likelihood evaluation costs as little as possible.

    The gamma-function terms depend on the frequency alone, so they are summed over its few
    distinct values; only the mixture term, which needs recency and T, is evaluated per pattern.
    Customers without a repeat purchase contribute just ``-r log(alpha + T)`` to that term.
    """

    ux: np.ndarray  # distinct frequencies
    wx: np.ndarray  # customers per distinct frequency
    age0: np.ndarray  # T of non-repeat patterns
    w0: np.ndarray
    x1: np.ndarray  # repeat patterns
    tx1: np.ndarray
    age1: np.ndarray
    w1: np.ndarray

    @classmethod
    def build(cls, x: np.ndarray, tx: np.ndarray, age: np.ndarray, w: np.ndarray) -> _BgnbdData:
        ux, inverse = np.unique(x, return_inverse=True)
        repeat = x > 0
        (age0,), w0 = _compress((age[~repeat],), w[~repeat])
        return cls(
            ux=ux,
            wx=np.bincount(inverse, weights=w, minlength=ux.size),
            age0=age0,
            w0=w0,
            x1=x[repeat],
            tx1=tx[repeat],
            age1=age[repeat],
            w1=w[repeat],
        )

    def rescaled(self, scale: float) -> _BgnbdData:
        """The same data with every time divided by ``scale``."""
        return dataclasses.replace(self, age0=self.age0 / scale, tx1=self.tx1 / scale, age1=self.age1 / scale)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Weighted sum of a column: numpy's own loop, not BLAS. BLAS starts threads for long
    vectors, which costs more than the sum and makes a fit's time erratic on a busy machine."""
    return float(np.einsum("i,i->", a, b))


def _bgnbd_loglik(logp: np.ndarray, d: _BgnbdData) -> tuple[float, np.ndarray]:
    """Total BG/NBD log-likelihood (FHL 2005a, eq. 6) and its gradient in the log-parameters."""
    r, alpha, a, b = np.exp(logp)
    ux, wx = d.ux, d.wx
    log_alpha = math.log(alpha)
    psi_ab = digamma(a + b) - digamma(a + b + ux)
    ll = _dot(
        wx,
        gammaln(r + ux)
        - gammaln(r)
        + r * log_alpha
        + gammaln(a + b)
        + gammaln(b + ux)
        - gammaln(b)
        - gammaln(a + b + ux),
    )
    g_r = _dot(wx, digamma(r + ux) - digamma(r) + log_alpha)
    g_alpha = float(wx.sum()) * r / alpha
    g_a = _dot(wx, psi_ab)
    g_b = _dot(wx, psi_ab + digamma(b + ux) - digamma(b))

    log_at0 = np.log(alpha + d.age0)
    ll -= r * _dot(d.w0, log_at0)
    g_r -= _dot(d.w0, log_at0)
    g_alpha -= r * _dot(d.w0, 1.0 / (alpha + d.age0))

    rx = r + d.x1
    log_at = np.log(alpha + d.age1)
    log_ar = np.log(alpha + d.tx1)
    bx1 = b + d.x1 - 1.0
    alive = -rx * log_at  # still active at T
    dropped = math.log(a) - np.log(bx1) - rx * log_ar  # dropped out right after the last purchase
    mix = np.logaddexp(alive, dropped)
    share_dropped = np.exp(dropped - mix)
    share_alive = 1.0 - share_dropped
    w1 = d.w1
    ll += _dot(w1, mix)
    g_r -= _dot(w1, share_alive * log_at + share_dropped * log_ar)
    g_alpha -= _dot(w1, rx * (share_alive / (alpha + d.age1) + share_dropped / (alpha + d.tx1)))
    g_a += _dot(w1, share_dropped) / a
    g_b -= _dot(w1, share_dropped / bx1)
    return float(ll), np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])


class BetaGeoFitter(_Fitter):
    r"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005a).

    While active, a customer buys as a Poisson process with rate :math:`\lambda`; after each
    purchase they drop out for good with probability :math:`p`. Across customers
    :math:`\lambda \sim \text{Gamma}(r, \alpha)` and :math:`p \sim \text{Beta}(a, b)`. For a
    customer with x repeat purchases, the last at :math:`t_x`, observed for T periods:

    .. math::

        L = \frac{B(a, b+x)}{B(a, b)} \frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}
            \left[ (\alpha+T)^{-(r+x)} + \delta_{x>0} \frac{a}{b+x-1} (\alpha+t_x)^{-(r+x)} \right]

    (equation 6 of the paper, evaluated on the log scale with ``gammaln`` and ``logaddexp``).
    Parameters are fitted by maximum likelihood over their logarithms (so they stay positive),
    on distinct (x, t_x, T) patterns weighted by how many customers share them.

    ``alpha`` and every time (recency, T, horizons) are in the fitted ``time_unit``.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : Series
        ``r``, ``alpha``, ``a``, ``b``.
    standard_errors_ : Series
        From the observed information (numerical Hessian of the analytic gradient), delta method;
        NaN when the information matrix is not positive definite (see ``identified``).
    covariance_ : DataFrame
        Covariance matrix of the parameters.
    log_likelihood_ : float
        Maximised log-likelihood (sum over customers).
    converged : bool
        True when the optimiser ended at an interior maximum (gradient ~0, no parameter running
        off to 0 or infinity).
    identified : bool
        True when the information matrix is positive definite, i.e. the data pin every parameter
        down. Predictions raise unless the model is both converged and identified.
    message : str
        How the optimisation ended.
    time_unit : str
        The unit of recency, T and alpha.
    n_customers_, n_patterns_, n_dropped_ : float, int, int
        Customers fitted (sum of weights), distinct patterns, fully blank rows skipped.
    warnings_ : tuple of str
        Caveats, e.g. a small sample.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way:
    An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

    Examples
    --------
    The CDNOW sample (2,357 customers, 39 weeks), as in the paper:

    >>> from kpi_xl.datasets import load_cdnow_summary
    >>> d = load_cdnow_summary()
    >>> bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"], time_unit="week")
    >>> bg.params_.round(3).tolist(), round(bg.log_likelihood_, 1)
    ([0.243, 4.414, 0.793, 2.426], -9582.4)
    """

    param_names = ("r", "alpha", "a", "b")
    model_name = "BG/NBD"

    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        time_unit: str | None = None,
        weights: Any = None,
        confidence: float = 0.95,
    ) -> BetaGeoFitter:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T:
            One value per customer (or per pattern, with ``weights``): repeat purchases (whole
            number), time from first to last purchase, time from first purchase to the end of
            observation, in ``time_unit``. Blank rows are skipped and counted.
        time_unit:
            Required: ``"day"``, ``"week"`` or ``"month"`` - the unit recency and T are in.
        weights:
            Optional number of customers per row (Fader and Hardie's compressed form).
        confidence:
            Level of the parameter intervals in :attr:`summary`.

        Returns
        -------
        BetaGeoFitter
            ``self``, fitted; check :attr:`converged`.

        Raises
        ------
        KpiInputError
            Missing time unit; invalid values (negative, fractional frequency, recency > T,
            recency without a repeat purchase); no customers, no repeat purchaser, or every
            customer observed for zero time (kind ``"empty"``).
        """
        self.time_unit = _check_time_unit(time_unit)
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        x, tx, age, n_blank = _rfm_arrays(frequency, recency, T)
        w = _weights(weights, x.size)
        (x, tx, age), w = _compress((x, tx, age), w)
        if w.sum() <= 0:
            raise KpiInputError("no customers to fit the BG/NBD model to", argument="frequency", kind="empty")
        if not (x > 0).any():
            raise KpiInputError(
                "no customer made a repeat purchase, so the drop-out process cannot be estimated",
                argument="frequency",
                kind="empty",
            )
        if age.max() <= 0:
            raise KpiInputError(
                "every customer has T = 0 (first purchase at the end of observation): nothing to fit",
                argument="T",
                kind="empty",
            )
        # Fit on times divided by the largest T so alpha starts near 1 whatever the unit; the
        # likelihood only shifts by a constant (-x*log(scale) per customer) and alpha rescales.
        scale = float(age.max())
        data = _BgnbdData.build(x, tx, age, w)
        scaled = data.rescaled(scale)
        total = float(w.sum())

        def neg_mean_ll(logp: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = _bgnbd_loglik(logp, scaled)
            return -ll / total, -grad / total

        starts = [np.zeros(4), np.full(4, np.log(0.1)), np.log([0.5, 0.5, 0.5, 2.0])]
        fit = _maximise(neg_mean_ll, starts, self.param_names)
        logp = fit.logp + np.array([0.0, math.log(scale), 0.0, 0.0])
        self._store(
            fit,
            logp,
            _bgnbd_loglik(logp, data)[0],
            lambda lp: _bgnbd_loglik(lp, scaled)[1],
            confidence=confidence,
            n_customers=total,
            n_patterns=int(x.size),
            n_dropped=n_blank,
        )
        self.warnings_ = small_sample_warnings(int(round(total)), None)
        return self

    def log_likelihood(self, frequency: Any, recency: Any, T: Any, *, weights: Any = None) -> float:
        """Log-likelihood of these customers under the model's parameters (e.g. on a holdout
        sample, or to compare two models fitted in the same time unit).

        Examples
        --------
        r=1, alpha=1, a=1, b=2. A customer with x=0, T=2 has likelihood (1/(1+2))^1 = 1/3; one
        with x=1, t_x=1, T=2 has B(1,3)/B(1,2) * [3^-2 + 1/2 * 2^-2] = 2/3 * 17/72 = 17/108.
        Total: log(1/3 * 17/108) = log(17/324).

        >>> bg = BetaGeoFitter.from_params(1, 1, 1, 2, time_unit="week")
        >>> round(bg.log_likelihood([0, 1], [0, 1], [2, 2]), 6) == round(math.log(17 / 324), 6)
        True
        """
        self._check_fitted()
        x, tx, age, _ = _rfm_arrays(frequency, recency, T)
        (x, tx, age), w = _compress((x, tx, age), _weights(weights, x.size))
        return _bgnbd_loglik(np.log(self.params_.to_numpy()), _BgnbdData.build(x, tx, age, w))[0]

    def _params(self) -> tuple[float, float, float, float]:
        self._check_fitted()
        r, alpha, a, b = self.params_.to_numpy()
        return float(r), float(alpha), float(a), float(b)

    def _purchases_head(self, t: Any, x: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Numerator of equation (10): expected purchases in t if certainly still active, times
        P(active). Depends on frequency and T only, so callers evaluate it on distinct pairs."""
        r, alpha, a, b = self._params()
        ap, bp, cp = r + x, b + x, a + b + x - 1.0
        z = t / (alpha + age + t)
        with np.errstate(all="ignore"):
            log_hyp = np.log(hyp2f1(ap, bp, cp, z))
            # Where 2F1 overflows, Euler's transformation gives the same value on a safer scale.
            euler = np.log(hyp2f1(cp - ap, cp - bp, cp, z)) + (cp - ap - bp) * np.log1p(-z)
            log_hyp = np.where(np.isfinite(log_hyp), log_hyp, euler)
            head = (
                cp
                / (a - 1.0)
                * -np.expm1(log_hyp + (r + x) * (np.log(alpha + age) - np.log(alpha + age + t)))
            )
        bad = ~np.isfinite(head)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            xb, ageb, tb = (np.broadcast_to(v, head.shape).ravel()[i] for v in (x, age, t))
            raise KpiInputError(
                f"expected purchases cannot be computed for frequency {xb:g}, T {ageb:g}, t {tb:g}: "
                "the hypergeometric function overflows",
                argument="frequency",
                value=float(xb),
            )
        return head

    def _odds_dropped(self, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Odds that a customer has already dropped out: a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)."""
        r, alpha, a, b = self._params()
        with np.errstate(over="ignore"):
            return np.where(
                x > 0,
                np.exp(
                    math.log(a)
                    - np.log(b + np.maximum(x, 1.0) - 1.0)
                    + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
                ),
                0.0,
            )

    def conditional_expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Expected repeat purchases in the next ``t`` periods for customers with this history.

        Equation (10) of Fader, Hardie & Lee (2005a):

        .. math::

            E[X(t) \mid x, t_x, T] = \frac{\frac{a+b+x-1}{a-1}\left[1 - \left(\frac{\alpha+T}
            {\alpha+T+t}\right)^{r+x} {}_2F_1\!\left(r+x, b+x; a+b+x-1; \frac{t}{\alpha+T+t}
            \right)\right]}{1 + \delta_{x>0}\frac{a}{b+x-1}\left(\frac{\alpha+T}{\alpha+t_x}
            \right)^{r+x}}

        ``t`` is in the model's ``time_unit`` (weeks for a weekly model). It may be a scalar or an
        array broadcastable against the customers. Computed once per distinct history.

        Examples
        --------
        Customer 1 of the CDNOW sample (x=2, t_x=30.43, T=38.86 weeks), next 39 weeks:

        >>> from kpi_xl.datasets import load_cdnow_summary
        >>> d = load_cdnow_summary()
        >>> bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"], time_unit="week")
        >>> round(bg.conditional_expected_purchases(39, 2, 30.43, 38.86), 4)
        1.2259
        """
        self._check_fitted()
        x, tx, age = _customers(frequency, recency, T)
        t_arr = self._horizon_array(t)
        if t_arr.size == 1:
            (ux, uage), inverse = _distinct_rows(x, age)
            head = self._purchases_head(t_arr.reshape(()), ux, uage)[inverse]
        else:
            head = self._purchases_head(t_arr, x, age)
        out = head / (1.0 + self._odds_dropped(x, tx, age))
        return _as_output(_scalar_if(out, frequency, recency, T, t), frequency)

    @staticmethod
    def _horizon_array(t: Any) -> np.ndarray:
        t_arr = np.asarray(t, dtype=float) if not isinstance(t, pd.Series) else t.to_numpy(dtype=float)
        if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
            raise KpiInputError(f"t must be a finite time of 0 or more, got {t!r}", argument="t", value=t)
        return t_arr

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Probability that a customer with this history is still active (Fader, Hardie & Lee 2008,
        note 021):

        .. math::

            P(\text{alive} \mid x, t_x, T) = \frac{1}{1 + \delta_{x>0} \frac{a}{b+x-1}
            \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}}

        A customer without repeat purchases is alive with probability 1 under BG/NBD (drop-out
        can only happen right after a purchase).

        Examples
        --------
        With r=1, alpha=1, a=1, b=2 and x=1, t_x=1, T=3: odds of having dropped out are
        1/(2+1-1) * (4/2)^2 = 2, so P(alive) = 1/3.

        >>> bg = BetaGeoFitter.from_params(1, 1, 1, 2, time_unit="week")
        >>> round(bg.probability_alive(1, 1, 3), 6)
        0.333333
        """
        self._check_fitted()
        x, tx, age = _customers(frequency, recency, T)
        out = 1.0 / (1.0 + self._odds_dropped(x, tx, age))
        return _as_output(_scalar_if(out, frequency, recency, T), frequency)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        r"""Expected repeat purchases in ``t`` periods by a customer who has just made a first
        purchase (equation 9 of the paper):

        .. math::

            E[X(t)] = \frac{a+b-1}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^r
            {}_2F_1\!\left(r, b; a+b-1; \frac{t}{\alpha+t}\right)\right]

        ``t`` is in the model's ``time_unit``.
        """
        # Equation (10) with x = t_x = T = 0 is equation (9).
        out = self._purchases_head(self._horizon_array(t), 0.0, 0.0)
        return float(out) if out.ndim == 0 else out

    @classmethod
    def from_params(
        cls, r: float, alpha: float, a: float, b: float, *, time_unit: str | None = None
    ) -> BetaGeoFitter:
        """A model with known parameters (from an earlier fit, a workbook or a what-if), ready to
        predict; it has no standard errors or log-likelihood."""
        model = cls()
        model.time_unit = _check_time_unit(time_unit)
        model._given((r, alpha, a, b))
        return model


def _scalar_if(out: np.ndarray, *inputs: Any) -> np.ndarray:
    """Scalar inputs give a 0-d result (returned as a float)."""
    if all(np.ndim(v) == 0 and not isinstance(v, pd.Series) for v in inputs):
        return out.reshape(())
    return out


# ----------------------------------------------------------------------------------------------
# Gamma-Gamma
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GammaGammaData:
    """Gamma-Gamma fitting data, grouped like :class:`_BgnbdData`: the gamma-function terms and the
    sum of log spend are taken per distinct frequency; only log(v + x m) is needed per pattern."""

    ux: np.ndarray  # distinct frequencies
    wx: np.ndarray  # customers per distinct frequency
    log_m_x: np.ndarray  # weighted sum of log spend per distinct frequency
    x: np.ndarray
    m: np.ndarray
    w: np.ndarray

    @classmethod
    def build(cls, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _GammaGammaData:
        ux, inverse = np.unique(x, return_inverse=True)
        return cls(
            ux=ux,
            wx=np.bincount(inverse, weights=w, minlength=ux.size),
            log_m_x=np.bincount(inverse, weights=w * np.log(m), minlength=ux.size),
            x=x,
            m=m,
            w=w,
        )


def _gamma_gamma_loglik(logp: np.ndarray, d: _GammaGammaData) -> tuple[float, np.ndarray]:
    """Total Gamma-Gamma log-likelihood (note 025, eq. 1a) and its gradient in log-parameters."""
    p, q, v = np.exp(logp)
    ux, wx = d.ux, d.wx
    pux = p * ux
    log_v = math.log(v)
    psi = digamma(pux + q)
    log_vxm = np.log(v + d.x * d.m)
    ll = (
        _dot(wx, gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * log_v + pux * np.log(ux))
        + _dot(pux, d.log_m_x)
        - float(d.log_m_x.sum())
        - _dot(d.w, (p * d.x + q) * log_vxm)
    )
    g_p = _dot(wx, ux * (psi - digamma(pux) + np.log(ux))) + _dot(ux, d.log_m_x) - _dot(d.w, d.x * log_vxm)
    g_q = _dot(wx, psi - digamma(q) + log_v) - _dot(d.w, log_vxm)
    g_v = float(wx.sum()) * q / v - _dot(d.w, (p * d.x + q) / (v + d.x * d.m))
    return float(ll), np.array([g_p * p, g_q * q, g_v * v])


class GammaGammaFitter(_Fitter):
    r"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; note 025).

    A customer's transaction values are Gamma(p, :math:`\nu`) around their own mean
    :math:`p/\nu`; across customers :math:`\nu \sim \text{Gamma}(q, v)`. Given x repeat
    transactions with mean :math:`\bar z` the likelihood is

    .. math::

        L = \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)} \frac{v^q\, \bar z^{\,px-1} x^{px}}
            {(v + x\bar z)^{px+q}}

    and the expected mean spend of a customer is a weighted average of the population mean
    :math:`pv/(q-1)` and their own :math:`\bar z` (equation 5 of note 025). The model assumes
    spend is independent of purchase frequency; :attr:`frequency_monetary_correlation_` reports the
    correlation seen in the data and a warning is raised when it is 0.3 or more in size.

    Attributes (after :meth:`fit`)
    ------------------------------
    params_ : Series
        ``p``, ``q``, ``v``.
    standard_errors_, covariance_, log_likelihood_, converged, identified, message, summary
        As in :class:`BetaGeoFitter`.
    n_customers_ : float
        Repeat customers fitted (sum of weights).
    n_excluded_ : float
        Customers left out because they have no repeat purchase or a mean repeat spend of 0.
    frequency_monetary_correlation_ : float
        Weighted Pearson correlation of frequency and monetary value among fitted customers.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for
    Customer Base Analysis. Journal of Marketing Research 42(4), 415-430.
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
    http://brucehardie.com/notes/025/

    Examples
    --------
    The 946 repeat customers of the CDNOW sample:

    >>> from kpi_xl.datasets import load_cdnow_summary_with_transactions
    >>> d = load_cdnow_summary_with_transactions()
    >>> gg = GammaGammaFitter().fit(d["frequency"], d["monetary_value"])
    >>> gg.params_.round(2).tolist(), round(gg.log_likelihood_, 1), gg.n_excluded_
    ([6.25, 3.74, 15.45], -4055.9, 1411.0)
    """

    param_names = ("p", "q", "v")
    model_name = "Gamma-Gamma"

    @staticmethod
    def _repeat_customers(
        frequency: Any, monetary_value: Any, weights: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
        """Distinct (frequency, spend) rows of repeat customers with spend > 0, their weights, the
        number of customers excluded, and the fully blank rows skipped."""
        cols, n_blank = _columns(
            {
                "frequency": (
                    frequency,
                    {"integer": True, "allow_negative": False, "expected": "a whole number of 0 or more"},
                ),
                "monetary_value": (monetary_value, {"allow_negative": False}),
            }
        )
        x, m = cols["frequency"], cols["monetary_value"]
        w = _weights(weights, x.size)
        usable = (x > 0) & (m > 0)
        (x, m), w_kept = _compress((x[usable], m[usable]), w[usable])
        return x, m, w_kept, float(w[~usable].sum()), n_blank

    def fit(
        self, frequency: Any, monetary_value: Any, *, weights: Any = None, confidence: float = 0.95
    ) -> GammaGammaFitter:
        """Fit by maximum likelihood on the repeat customers.

        Parameters
        ----------
        frequency:
            Repeat purchases per customer (whole numbers of 0 or more).
        monetary_value:
            Mean spend per repeat purchase (0 or more), e.g. :func:`rfm_summary`'s column. Customers
            with frequency 0 or monetary value 0 are excluded and counted in :attr:`n_excluded_`.
        weights:
            Optional number of customers per row.
        confidence:
            Level of the parameter intervals in :attr:`summary`.

        Raises
        ------
        KpiInputError
            Invalid values (negative, fractional frequency), or fewer than 10 repeat customers
            with positive spend (kind ``"empty"``).
        """
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        x, m, w, self.n_excluded_, n_blank = self._repeat_customers(frequency, monetary_value, weights)
        total = float(w.sum())
        if total < MIN_REPEAT_CUSTOMERS:
            raise KpiInputError(
                f"the Gamma-Gamma spend model needs at least {MIN_REPEAT_CUSTOMERS} customers with a "
                f"repeat purchase and spend above 0; there are {total:g} ({self.n_excluded_:g} excluded)",
                argument="frequency",
                kind="empty",
            )
        # Fit on spend divided by its mean so v starts near the right size whatever the currency;
        # the likelihood shifts by -log(scale) per customer and v rescales.
        scale = _dot(w, m) / total
        data = _GammaGammaData.build(x, m, w)
        scaled = _GammaGammaData.build(x, m / scale, w)

        def neg_mean_ll(logp: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = _gamma_gamma_loglik(logp, scaled)
            return -ll / total, -grad / total

        starts = [np.zeros(3), np.log([1.0, 2.0, 1.0]), np.log([5.0, 5.0, 5.0])]
        fit = _maximise(neg_mean_ll, starts, self.param_names)
        logp = fit.logp + np.array([0.0, 0.0, math.log(scale)])
        self._store(
            fit,
            logp,
            _gamma_gamma_loglik(logp, data)[0],
            lambda lp: _gamma_gamma_loglik(lp, scaled)[1],
            confidence=confidence,
            n_customers=total,
            n_patterns=int(x.size),
            n_dropped=n_blank,
        )
        mean_x, mean_m = _dot(w, x) / total, _dot(w, m) / total
        cov_xm = _dot(w, (x - mean_x) * (m - mean_m))
        sd = math.sqrt(_dot(w, (x - mean_x) ** 2) * _dot(w, (m - mean_m) ** 2))
        self.frequency_monetary_correlation_ = cov_xm / sd if sd > 0 else float("nan")
        warns = list(small_sample_warnings(int(round(total)), None))
        # |r| >= 0.3 is the usual threshold for a "moderate" correlation: beyond it the independence
        # assumption is visibly wrong and spend predictions for heavy buyers are biased.
        if abs(self.frequency_monetary_correlation_) >= 0.3:
            warns.append(
                f"frequency and spend per purchase are correlated (r = "
                f"{self.frequency_monetary_correlation_:.2f}); the Gamma-Gamma model assumes they are not"
            )
        if self.params_["q"] <= 1:
            warns.append("q <= 1: the population mean spend is undefined, so spend cannot be predicted")
        self.warnings_ = tuple(warns)
        return self

    def log_likelihood(self, frequency: Any, monetary_value: Any, *, weights: Any = None) -> float:
        """Log-likelihood of these customers' mean spend under the model's parameters. Like
        :meth:`fit`, it uses only customers with frequency > 0 and monetary value > 0.

        Examples
        --------
        p=1, q=2, v=10 and one customer with x=1, mean spend 10:
        Gamma(3)/(Gamma(1) Gamma(2)) * 10^2 * 10^0 * 1^1 / (10 + 10)^3 = 2 * 100 / 8000 = 0.025.

        >>> gg = GammaGammaFitter.from_params(1, 2, 10)
        >>> round(gg.log_likelihood([1], [10]), 6) == round(math.log(0.025), 6)
        True
        """
        self._check_fitted()
        x, m, w = self._repeat_customers(frequency, monetary_value, weights)[:3]
        return _gamma_gamma_loglik(np.log(self.params_.to_numpy()), _GammaGammaData.build(x, m, w))[0]

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> Any:
        r"""Expected spend per future transaction for customers with this history (note 025, eq. 5):

        .. math::

            E[Z \mid p, q, v, x, \bar z] = \frac{q-1}{px+q-1}\cdot\frac{pv}{q-1}
                + \frac{px}{px+q-1}\,\bar z

        A customer without repeat purchases gets the population mean :math:`pv/(q-1)`.

        Examples
        --------
        With p=2, q=3, v=10: population mean 2*10/2 = 10; a customer with x=2 and mean spend 20
        gets weight 4/(4+2) = 2/3 on their own mean: 1/3*10 + 2/3*20 = 16.6667.

        >>> gg = GammaGammaFitter.from_params(2, 3, 10)
        >>> round(gg.conditional_expected_average_profit(2, 20), 4)
        16.6667
        """
        self._check_fitted()
        p, q, v = (float(val) for val in self.params_.to_numpy())
        if q <= 1:
            raise KpiInputError(
                f"the fitted Gamma-Gamma q is {q:.3g} (<= 1): the population mean spend is undefined, "
                "so expected spend cannot be computed",
                argument="monetary_value",
            )
        cols, _ = _columns(
            {
                "frequency": (
                    np.atleast_1d(frequency) if not isinstance(frequency, pd.Series) else frequency,
                    {"integer": True, "allow_negative": False, "expected": "a whole number of 0 or more"},
                ),
                "monetary_value": (
                    np.atleast_1d(monetary_value)
                    if not isinstance(monetary_value, pd.Series)
                    else monetary_value,
                    {"allow_negative": False},
                ),
            },
            skip_blank_rows=False,
        )
        x, m = cols["frequency"], cols["monetary_value"]
        own = p * x / (p * x + q - 1.0)
        out = (1.0 - own) * (p * v / (q - 1.0)) + own * m
        return _as_output(_scalar_if(out, frequency, monetary_value), frequency)

    def customer_lifetime_value(
        self,
        bgnbd: BetaGeoFitter,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        *,
        horizon: float,
        step: float | str = 1.0,
        discount_rate: float = 0.0,
        margin: float = 1.0,
    ) -> Any:
        r"""Discounted value of each customer's predicted purchases over ``horizon``.

        The horizon is cut into ``n = horizon / step`` steps; step k's cash flow is the purchases
        expected in it times the expected spend per purchase and the margin, discounted as if
        received at the end of the step:

        .. math::

            CLV = \sum_{k=1}^{n} \frac{\text{margin}\cdot E[Z \mid x, \bar z]\,\big(E[X(k s) \mid x,
            t_x, T] - E[X((k-1) s) \mid x, t_x, T]\big)}{(1 + d)^k}

        with s the step and d ``discount_rate`` per step. Only *future repeat* purchases count (the
        first purchase is history). This is lifetimes' ``customer_lifetime_value``: its
        ``time=12, discount_rate=0.01, freq="W"`` (12 months, monthly discounting, 4.345 weeks a
        month) is ``horizon=12 * 4.345, step=4.345, discount_rate=0.01`` here on a weekly model.

        Parameters
        ----------
        bgnbd:
            A fitted :class:`BetaGeoFitter`; ``horizon`` and a numeric ``step`` are in its time unit.
        frequency, recency, T, monetary_value:
            Customer histories (as from :func:`rfm_summary`).
        horizon:
            Length of the projection in the model's time unit, e.g. 52 weeks.
        step:
            Length of one discounting step, in the model's time unit (default 1) or as a unit name
            (``"day"``, ``"week"``, ``"month"``; a month is 30.4375 days).
        discount_rate:
            Discount rate per step (0.01 = 1% per step).
        margin:
            Share of spend that is profit, 0..1 (default 1: CLV in revenue).
        """
        self._check_fitted()
        bgnbd._check_fitted()
        n_steps, step_len = _steps(horizon, step, bgnbd.time_unit)
        d = require_positive(discount_rate, "discount_rate", allow_zero=True)
        mult = require_share(margin, "margin")
        spend = np.asarray(self.conditional_expected_average_profit(frequency, monetary_value), dtype=float)
        x, tx, age = _customers(frequency, recency, T)
        if x.size != spend.size:
            raise KpiInputError(
                f"frequency, recency and T have {x.size} customers but monetary_value has {spend.size}",
                argument="monetary_value",
            )
        clv = spend.reshape(-1) * mult * _discounted_purchases(bgnbd, x, tx, age, n_steps, step_len, d)
        return _as_output(_scalar_if(clv, frequency, recency, T, monetary_value), frequency)

    @classmethod
    def from_params(cls, p: float, q: float, v: float) -> GammaGammaFitter:
        """A model with known parameters (from an earlier fit, a workbook or a what-if), ready to
        predict; it has no standard errors or log-likelihood."""
        model = cls()
        model._given((p, q, v))
        return model


def _steps(horizon: Any, step: Any, time_unit: str) -> tuple[int, float]:
    """Number of whole discounting steps in the horizon, and the step length in model units."""
    h = require_positive(horizon, "horizon")
    if isinstance(step, str):
        unit = step.strip().lower()
        if unit not in DAYS_PER_UNIT:
            raise KpiInputError(
                f"step must be a number of {time_unit}s or 'day', 'week' or 'month', got {step!r}",
                argument="step",
                value=step,
            )
        s = DAYS_PER_UNIT[unit] / DAYS_PER_UNIT[time_unit]
    else:
        s = require_positive(step, "step")
    n = h / s
    n_round = round(n)
    if n_round < 1 or abs(n - n_round) > 1e-9 * max(1.0, n):
        raise KpiInputError(
            f"horizon {h:g} is not a whole number of steps of {s:g} {time_unit}s; use a horizon of "
            f"{max(n_round, 1) * s:g} or another step",
            argument="horizon",
            value=horizon,
        )
    return int(n_round), s


def _discounted_purchases(
    bgnbd: BetaGeoFitter,
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    n_steps: int,
    step_len: float,
    discount_rate: float,
) -> np.ndarray:
    """Sum over steps of the purchases expected in each step, discounted per step.

    Equation (10) is head(t) / (1 + odds of having dropped out) with only the head depending on
    t, so the discounted sum of step differences is taken over the heads, on distinct
    (frequency, T) pairs, and divided by (1 + odds) once per customer.
    """
    (ux, uage), inverse = _distinct_rows(x, age)
    total = np.zeros(ux.size)
    previous = np.zeros(ux.size)
    # A loop over steps (12 for a monthly year), never over customers.
    for k in range(1, n_steps + 1):
        cumulative = bgnbd._purchases_head(k * step_len, ux, uage)
        total += (cumulative - previous) / (1.0 + discount_rate) ** k
        previous = cumulative
    return total[inverse] / (1.0 + bgnbd._odds_dropped(x, tx, age))


# ----------------------------------------------------------------------------------------------
# One call: transactions -> per-customer CLV
# ----------------------------------------------------------------------------------------------


def _fitted_params(fitter: BetaGeoFitter | GammaGammaFitter) -> dict[str, Any]:
    out: dict[str, Any] = {name: float(val) for name, val in fitter.params_.items()}
    out.update({f"se_{name}": float(val) for name, val in fitter.standard_errors_.items()})
    out.update(
        log_likelihood=fitter.log_likelihood_,
        n_customers=fitter.n_customers_,
        converged=fitter.converged,
        identified=fitter.identified,
        message=fitter.message,
    )
    return out


def predict_clv(
    customer_ids: Any,
    dates: Any,
    amounts: Any,
    *,
    time_unit: str | None = None,
    horizon: float,
    discount_rate: float = 0.0,
    observation_end: Any = None,
    margin: float = 1.0,
    step: float | str = 1.0,
) -> pd.DataFrame:
    r"""Predicted customer lifetime value from a transaction log: RFM, BG/NBD and Gamma-Gamma.

    Steps: :func:`rfm_summary` in ``time_unit`` periods; :class:`BetaGeoFitter` on all customers;
    :class:`GammaGammaFitter` on the repeat customers; then per customer

    .. math::

        CLV = \sum_{k=1}^{n} \frac{\text{margin}\cdot E[Z]\,(E[X(ks)] - E[X((k-1)s)])}{(1+d)^k},
        \quad n = \text{horizon} / s

    (see :meth:`GammaGammaFitter.customer_lifetime_value`): future repeat purchases only,
    booked at the end of each step of length s and discounted at rate d per step.

    Parameters
    ----------
    customer_ids, dates, amounts:
        The transaction log, one row per order (see :func:`rfm_summary`).
    time_unit:
        Required: ``"day"``, ``"week"`` or ``"month"``. The unit of recency, T, ``horizon`` and a
        numeric ``step``. Weekly periods suit most retail data.
    horizon:
        Projection length in ``time_unit``, e.g. 52 (weeks) for a year.
    discount_rate:
        Discount rate per step, e.g. 0.01 for 1% a month with ``step="month"``. Default 0.
    observation_end:
        End of the observation window (default: last transaction date).
    margin:
        Share of spend that is profit, 0..1. Default 1 (CLV in revenue).
    step:
        Discounting step: a number of ``time_unit`` periods (default 1) or ``"day"``, ``"week"``,
        ``"month"`` (30.4375 days). ``horizon`` must be a whole number of steps. To reproduce
        lifetimes' ``customer_lifetime_value(time=12, discount_rate=0.01, freq="W")`` use
        ``time_unit="week", horizon=12 * 4.345, step=4.345, discount_rate=0.01``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``expected_purchases`` (repeat purchases over the horizon), ``probability_alive``,
        ``expected_average_value`` (Gamma-Gamma spend per purchase, before margin), ``clv``.
        ``attrs`` holds ``"bgnbd"`` and ``"gamma_gamma"`` (parameters, SEs, log-likelihood,
        customers fitted), ``"settings"`` (time unit, horizon, step, discount rate, margin,
        observation end) and ``"warnings"``.

    Raises
    ------
    KpiInputError
        Anything :func:`rfm_summary` rejects; missing amounts; a bad horizon, step, discount rate
        or margin; fewer than 10 repeat customers for Gamma-Gamma; a model fit that does not
        converge or does not pin its parameters down.

    References
    ----------
    Fader, Hardie & Lee (2005a, 2005b); Fader & Hardie (2013), note 025.

    Examples
    --------
    The CDNOW sample's first 39 weeks, one year ahead (52 weeks), discounted 1% a month:

    >>> from kpi_xl.datasets import load_cdnow_transactions
    >>> tx = load_cdnow_transactions()
    >>> tx = tx[tx["date"] <= "1997-09-30"]
    >>> out = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week",
    ...                   horizon=52, step=52 / 12, discount_rate=0.01, observation_end="1997-09-30")
    >>> len(out)
    2357
    >>> out.loc[1, ["frequency", "recency", "T", "expected_purchases", "clv"]].round(2).tolist()
    [2.0, 30.0, 39.0, 1.54, 35.87]
    """
    unit = _check_time_unit(time_unit)
    n_steps, step_len = _steps(horizon, step, unit)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    mult = require_share(margin, "margin")
    if amounts is None:
        raise KpiInputError(
            "amounts are required: CLV needs the spend of each transaction", argument="amounts"
        )
    summary = rfm_summary(customer_ids, dates, amounts, time_unit=unit, observation_end=observation_end)
    return predict_clv_from_summary(
        summary, time_unit=unit, horizon=horizon, discount_rate=d, margin=mult, step=step
    )


def predict_clv_from_summary(
    summary: pd.DataFrame,
    *,
    time_unit: str | None = None,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    step: float | str = 1.0,
) -> pd.DataFrame:
    r"""Predicted customer lifetime value from a per-customer RFM summary: BG/NBD and Gamma-Gamma.

    The second half of :func:`predict_clv` (which is :func:`rfm_summary` followed by this), for a
    summary computed elsewhere, e.g. by a database over a log too large to load: same fits, same
    formula, same output.

    Parameters
    ----------
    summary:
        One row per customer with columns ``frequency``, ``recency``, ``T`` (in ``time_unit``) and
        ``monetary_value``, as :func:`rfm_summary` defines them. Its ``attrs`` (``observation_end``,
        ``n_transactions``, ``n_dropped``) are carried into the settings when present.
    time_unit:
        Required: ``"day"``, ``"week"`` or ``"month"``, the unit the summary is in.
    horizon, discount_rate, margin, step:
        As in :func:`predict_clv`.

    Returns
    -------
    DataFrame
        As :func:`predict_clv`: the summary with ``expected_purchases``, ``probability_alive``,
        ``expected_average_value`` and ``clv`` added, and the fits in ``attrs``.

    Raises
    ------
    KpiInputError
        A missing column; a summary in another time unit than ``time_unit``; anything the fitters
        reject (inconsistent frequency, recency and T; too few repeat customers); a bad horizon,
        step, discount rate or margin.

    References
    ----------
    Fader, Hardie & Lee (2005a, 2005b); Fader & Hardie (2013), note 025.

    Examples
    --------
    The CDNOW sample summarised in weeks, then predicted; the same table as :func:`predict_clv`:

    >>> from kpi_xl.datasets import load_cdnow_transactions
    >>> tx = load_cdnow_transactions()
    >>> rfm = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")
    >>> out = predict_clv_from_summary(rfm, time_unit="week", horizon=12)
    >>> out.equals(predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=12))
    True
    """
    unit = _check_time_unit(time_unit)
    n_steps, step_len = _steps(horizon, step, unit)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    mult = require_share(margin, "margin")
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in summary.columns]
    if missing:
        raise KpiInputError(
            f"summary has no column {', '.join(map(repr, missing))}; it needs frequency, recency, T and "
            "monetary_value per customer (see rfm_summary)",
            argument="summary",
        )
    given_unit = summary.attrs.get("time_unit", unit)
    if given_unit != unit:
        raise KpiInputError(
            f"the summary is in {given_unit}s but time_unit is {unit!r}; summarise in the unit you "
            "predict in",
            argument="time_unit",
            value=time_unit,
        )
    x, tx, age = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    m = summary["monetary_value"].to_numpy(dtype=np.float64)
    # Gamma-Gamma first: it is the one that most often lacks data (repeat customers), and says so.
    gg = GammaGammaFitter().fit(x, m)
    gg._check_fitted()
    bg = BetaGeoFitter().fit(x, tx, age, time_unit=unit)
    bg._check_fitted()
    out = summary.copy()
    out["expected_purchases"] = bg.conditional_expected_purchases(n_steps * step_len, x, tx, age)
    out["probability_alive"] = bg.probability_alive(x, tx, age)
    spend = gg.conditional_expected_average_profit(x, m)
    out["expected_average_value"] = spend
    out["clv"] = spend * mult * _discounted_purchases(bg, x, tx, age, n_steps, step_len, d)
    out.attrs = {
        "bgnbd": _fitted_params(bg),
        "gamma_gamma": {**_fitted_params(gg), "n_excluded": gg.n_excluded_},
        "settings": {
            "time_unit": unit,
            "horizon": n_steps * step_len,
            "step": step_len,
            "discount_rate": d,
            "margin": mult,
            "observation_end": summary.attrs.get("observation_end"),
            "n_transactions": summary.attrs.get("n_transactions"),
            "n_dropped": summary.attrs.get("n_dropped"),
        },
        "warnings": tuple(f"BG/NBD: {w}" for w in bg.warnings_)
        + tuple(f"Gamma-Gamma: {w}" for w in gg.warnings_),
    }
    return out
