"""Maximum likelihood with a retry ladder, standard errors, and the base class of every fitter."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtri

from .._clean import require_positive
from .._errors import KpiInputError
from ._inputs import UNIT_PLURAL

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
    upper: dict[str, float] | None = None,
) -> _Fit:
    """Maximise a mean log-likelihood over log-parameters, trying harder only when it has to.

    The ladder: L-BFGS-B (bounded, analytic gradient) from each start in turn until one ends at a
    point whose gradient is below ``_GRAD_TOL``; failing that, Nelder-Mead from the best point so
    far (it needs no gradient and walks out of flat valleys where quasi-Newton steps stall), then
    L-BFGS-B again to polish. The best point found is returned; ``converged`` says whether it is a
    proper interior maximum.
    """
    # A model may cap a parameter lower (``upper``: log-parameter limits), where going further only
    # says the data cannot tell the model from a simpler one and each evaluation gets slow.
    caps = upper or {}
    high = np.array([caps.get(n, _LOG_BOUND) for n in names])
    bounds = [(-_LOG_BOUND, float(h)) for h in high]

    def safe(logp: np.ndarray) -> tuple[float, np.ndarray]:
        # Overflow while exploring far-off parameters must read as "much worse", not as NaN.
        fun, grad = neg_mean_ll(logp)
        if not (np.isfinite(fun) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(logp)
        return fun, grad

    def lbfgs(x0: np.ndarray) -> optimize.OptimizeResult:
        with _one_blas_thread():
            return optimize.minimize(
                safe,
                np.clip(x0, -_LOG_BOUND, high),
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
    at_bound = (best_x <= -_LOG_BOUND + 1e-4) | (best_x >= high - 1e-4)
    if converged and not at_bound.any():
        return _Fit(best_x, True, "converged")
    capped = [n for n, v in zip(names, best_x, strict=True) if n in caps and v >= caps[n] - 1e-4]
    if capped:
        return _Fit(
            best_x,
            False,
            f"parameter(s) {', '.join(capped)} reached the limit of "
            f"{', '.join(f'{math.exp(caps[n]):g}' for n in capped)}: the data do not pin the model down "
            "(its mixing distribution collapses to a single value)",
        )
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


def _log_hessian_values(total_ll: Callable[[np.ndarray], float], logp: np.ndarray) -> np.ndarray:
    """Hessian of the total log-likelihood in log-parameters from values alone (for models without
    an analytic gradient): second central differences with step 1e-4, whose rounding (~1e-16 |LL|
    / 1e-8) and truncation (~1e-8 times the fourth derivative) errors are far below what standard
    errors need."""
    k = logp.size
    h = 1e-4
    hess = np.empty((k, k))
    f0 = total_ll(logp)
    eye = np.eye(k) * h
    for i in range(k):
        hess[i, i] = (total_ll(logp + eye[i]) - 2 * f0 + total_ll(logp - eye[i])) / h**2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                total_ll(logp + eye[i] + eye[j])
                - total_ll(logp + eye[i] - eye[j])
                - total_ll(logp - eye[i] + eye[j])
                + total_ll(logp - eye[i] - eye[j])
            ) / (4 * h**2)
    return hess


@functools.cache
def _scipy_blas_threads() -> Callable[[int], int] | None:
    """The calling thread's thread count setter of the OpenBLAS scipy's wheels ship (and load with
    scipy.optimize), or None where scipy uses another BLAS."""
    folder = os.path.join(os.path.dirname(optimize.__file__), os.pardir, os.pardir, "scipy.libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*")):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """L-BFGS-B on one BLAS thread: each iteration solves a small triangular system, which OpenBLAS
    always splits over threads that then spin (profiled: 470 such solves in a refresh kept a second
    core busy for seconds, and waited for it when the machine was busy). The solve splits the
    right-hand sides, each solved alike, so the result is the same on one thread."""
    setter = _scipy_blas_threads()
    if setter is None:
        yield
        return
    before = setter(1)
    try:
        yield
    finally:
        setter(before)


def _numeric_gradient(total_ll: Callable[[np.ndarray], float], logp: np.ndarray) -> np.ndarray:
    """Central-difference gradient in log-parameters, step 1e-6: error ~1e-16 |LL| / 1e-6, far below
    the optimiser's tolerance on the mean log-likelihood."""
    h = 1e-6
    return np.array([(total_ll(logp + e) - total_ll(logp - e)) / (2 * h) for e in np.eye(logp.size) * h])


def _covariance(
    hessian: np.ndarray,
    theta: np.ndarray,
    names: tuple[str, ...],
) -> tuple[pd.DataFrame, bool]:
    """Covariance of the natural parameters from the observed information (delta method).

    With phi = log(theta), Cov(theta) = D Cov(phi) D where D = diag(theta) and Cov(phi) is the
    inverse of minus the Hessian of the log-likelihood in phi (a rescaled problem has the same
    Hessian in phi). Returns the matrix and whether the information was positive definite (if
    not, the estimates are not identified and the SEs are NaN).
    """
    info = -hessian
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
    # The normal quantile (what scipy.stats.norm.ppf computes), without importing scipy.stats (~0.5 s).
    z = float(ndtri(0.5 + confidence / 2.0))
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
    #: Parameters measured in the model's time unit (the scale of a rate), and in spend's currency;
    #: the others are shapes without a unit.
    time_params: tuple[str, ...] = ()
    money_params: tuple[str, ...] = ()
    #: The unit recency, T and the time parameters are in (None for models without time).
    time_unit: str | None = None

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
        grad_fit: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        value_fit: Callable[[np.ndarray], float] | None = None,
        confidence: float,
        n_customers: float,
        n_patterns: int,
        n_dropped: int,
    ) -> None:
        """Keep a fit: ``logp`` are the natural-scale log-parameters; ``grad_fit`` the gradient, or
        (models without one) ``value_fit`` the total log-likelihood, of the (possibly rescaled)
        problem the optimiser solved, at ``fit.logp``."""
        self.params_ = pd.Series(np.exp(logp), index=list(self.param_names))
        self.log_likelihood_ = log_likelihood
        if grad_fit is not None:
            hessian = _log_hessian(grad_fit, fit.logp)
        else:
            assert value_fit is not None
            with np.errstate(all="ignore"):
                hessian = _log_hessian_values(value_fit, fit.logp)
        self.covariance_, self.identified = _covariance(hessian, np.exp(logp), self.param_names)
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
        table = _summary_table(self.params_, self.covariance_, self.confidence)
        table["unit"] = [self.param_units[name] for name in table.index]
        return table

    @property
    def param_units(self) -> dict[str, str]:
        """Unit of each parameter: the time unit's plural (``"weeks"``) for a rate's scale,
        ``"currency"`` for a spend scale, ``"none (shape)"`` for the rest."""
        plural = UNIT_PLURAL.get(self.time_unit or "", "")
        return {
            name: plural
            if name in self.time_params
            else "currency"
            if name in self.money_params
            else "none (shape)"
            for name in self.param_names
        }

    @property
    def log_likelihood_unit(self) -> str:
        """What the log-likelihood is measured on: it changes with the time unit (a density of
        times in weeks is 7x one in days), so two values compare only when this text is equal."""
        if self.time_unit is None:
            return "natural log"
        return f"natural log, recency and T in {UNIT_PLURAL[self.time_unit]}"

    def as_dict(self) -> dict[str, Any]:
        """Parameters, their standard errors (``se_<name>``), log-likelihood, customers fitted and
        convergence, as plain values for a table, a JSON report or a sheet."""
        if self.params_ is None:
            raise KpiInputError(f"fit the model first ({type(self).__name__}().fit(...))")
        out: dict[str, Any] = {name: float(val) for name, val in self.params_.items()}
        out.update({f"se_{name}": float(val) for name, val in self.standard_errors_.items()})
        out.update({f"unit_{name}": unit for name, unit in self.param_units.items()})
        out.update(
            log_likelihood=self.log_likelihood_,
            log_likelihood_unit=self.log_likelihood_unit,
            n_customers=self.n_customers_,
            converged=self.converged,
            identified=self.identified,
            message=self.message,
        )
        return out

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


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Weighted sum of a column: numpy's own loop, not BLAS. BLAS starts threads for long
    vectors, which costs more than the sum and makes a fit's time erratic on a busy machine."""
    return float(np.einsum("i,i->", a, b))
