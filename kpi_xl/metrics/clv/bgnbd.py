"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005a)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, hyp2f1

from .._errors import KpiInputError
from .._result import small_sample_warnings
from ._fit import _dot, _Fitter, _maximise
from ._inputs import (
    _as_output,
    _compress,
    _customers,
    _distinct_rows,
    _rfm_arrays,
    _scalar_if,
    _weights,
    check_fit_data,
    check_time_unit,
)


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
    time_params = ("alpha",)

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
            Required: the unit recency and T are in: ``"day"``, ``"week"``, ``"month"``, ``"year"``,
            ``"calendar-week"`` or ``"calendar-month"`` (see :func:`rfm_summary`).
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
        self.time_unit = check_time_unit(time_unit)
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        x, tx, age, n_blank = _rfm_arrays(frequency, recency, T)
        w = _weights(weights, x.size)
        (x, tx, age), w = _compress((x, tx, age), w)
        check_fit_data("BG/NBD", x, age, w)
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
            ap, bp, cp, z = np.broadcast_arrays(ap, bp, cp, z)
            hyp = hyp2f1(ap, bp, cp, z)
            log_abs = np.log(np.abs(hyp))
            negative = hyp < 0
            # Where 2F1 overflows, Euler's transformation gives the same value on a safer scale:
            # 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z) (evaluated there only:
            # 2F1 is most of the cost of a CLV interval's draws).
            over = ~np.isfinite(hyp)
            if over.any():
                ao, bo, co, zo = ap[over], bp[over], cp[over], z[over]
                euler = hyp2f1(co - ao, co - bo, co, zo)
                log_abs[over] = np.log(np.abs(euler)) + (co - ao - bo) * np.log1p(-zo)
                negative[over] = euler < 0
            # 2F1 is negative where c = a + b + x - 1 < 0 (x = 0 with a + b < 1, a valid fit): the
            # closed form holds there too, only its logarithm does not.
            scaled = log_abs + (r + x) * (np.log(alpha + age) - np.log(alpha + age + t))
            head = cp / (a - 1.0) * np.where(negative, 1.0 + np.exp(scaled), -np.expm1(scaled))
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
        model.time_unit = check_time_unit(time_unit)
        model._given((r, alpha, a, b))
        return model
