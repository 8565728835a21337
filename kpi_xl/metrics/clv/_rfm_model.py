"""What the continuous-time repeat-purchase models fitted without an analytic gradient share.

Pareto/NBD and MBG/NBD take the same (frequency, recency, T) customer histories as BG/NBD, are
fitted the same way (distinct patterns with weights, times divided by the largest T so the time
scale parameters start near 1, the retry ladder of :func:`_maximise`), and answer the same
questions (expected purchases, P(alive)). Only the per-pattern log-likelihood and the prediction
formulas differ; each model supplies those.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import KpiInputError
from .._result import small_sample_warnings
from ._fit import _Fitter, _maximise, _numeric_gradient
from ._inputs import (
    _as_output,
    _compress,
    _customers,
    _rfm_arrays,
    _scalar_if,
    _weights,
    check_fit_data,
    check_time_unit,
)


class _RfmModel(_Fitter):
    """Base of the (x, t_x, T) models: fit, log-likelihood, checks and from_params."""

    #: Starting points of the optimiser in log-parameters, on the rescaled time axis.
    _starts: tuple[tuple[float, ...], ...] = ()
    #: Upper limits of some parameters on the rescaled axis (see :func:`_maximise`).
    _upper: dict[str, float] = {}

    @staticmethod
    def _loglik_rows(params: np.ndarray, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Log-likelihood of each history under natural-scale ``params``."""
        raise NotImplementedError

    def _time_shift(self, scale: float) -> np.ndarray:
        """Log-parameter shift that maps a fit on times / scale back to the original time axis."""
        return np.array([math.log(scale) if n in self.time_params else 0.0 for n in self.param_names])

    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        *,
        time_unit: str | None = None,
        weights: Any = None,
        confidence: float = 0.95,
    ) -> _RfmModel:
        """Fit by maximum likelihood; arguments, checks and errors as :meth:`BetaGeoFitter.fit`.

        Returns ``self``, fitted; check :attr:`converged`.
        """
        self.time_unit = check_time_unit(time_unit)
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        x, tx, age, n_blank = _rfm_arrays(frequency, recency, T)
        (x, tx, age), w = _compress((x, tx, age), _weights(weights, x.size))
        check_fit_data(self.model_name, x, age, w)
        scale = float(age.max())
        txs, ages = tx / scale, age / scale
        total = float(w.sum())

        def scaled_ll(logp: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                return float(np.einsum("i,i->", w, self._loglik_rows(np.exp(logp), x, txs, ages)))

        def neg_mean_ll(logp: np.ndarray) -> tuple[float, np.ndarray]:
            return -scaled_ll(logp) / total, -_numeric_gradient(scaled_ll, logp) / total

        upper = {n: math.log(v) for n, v in self._upper.items()}
        fit = _maximise(neg_mean_ll, [np.log(s) for s in self._starts], self.param_names, upper)
        logp = fit.logp + self._time_shift(scale)
        with np.errstate(all="ignore"):
            ll = float(np.einsum("i,i->", w, self._loglik_rows(np.exp(logp), x, tx, age)))
        self._store(
            fit,
            logp,
            ll,
            value_fit=scaled_ll,
            confidence=confidence,
            n_customers=total,
            n_patterns=int(x.size),
            n_dropped=n_blank,
        )
        self.warnings_ = small_sample_warnings(int(round(total)), None)
        return self

    def log_likelihood(self, frequency: Any, recency: Any, T: Any, *, weights: Any = None) -> float:
        """Log-likelihood of these customers under the model's parameters (e.g. a holdout sample)."""
        self._check_fitted()
        x, tx, age, _ = _rfm_arrays(frequency, recency, T)
        (x, tx, age), w = _compress((x, tx, age), _weights(weights, x.size))
        with np.errstate(all="ignore"):
            return float(np.einsum("i,i->", w, self._loglik_rows(self.params_.to_numpy(), x, tx, age)))

    def _predict(self, values: np.ndarray, frequency: Any, recency: Any, T: Any, *extra: Any) -> Any:
        return _as_output(_scalar_if(values, frequency, recency, T, *extra), frequency)

    @staticmethod
    def _horizon_array(t: Any) -> np.ndarray:
        t_arr = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
            raise KpiInputError(f"t must be a finite time of 0 or more, got {t!r}", argument="t", value=t)
        return t_arr

    def _history(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        return _customers(frequency, recency, T)

    @classmethod
    def _from_params(cls, values: tuple[float, ...], time_unit: str | None) -> Any:
        model = cls()
        model.time_unit = check_time_unit(time_unit)
        model._given(values)
        return model
