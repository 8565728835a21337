"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; note 025)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from .._clean import require_positive, require_share
from .._errors import KpiInputError
from .._result import small_sample_warnings
from ._discount import _discounted_purchases, _steps
from ._fit import _dot, _Fitter, _maximise
from ._inputs import (
    _as_output,
    _columns,
    _compress,
    _customers,
    _scalar_if,
    _weights,
)
from .bgnbd import BetaGeoFitter

#: Gamma-Gamma has three parameters; with fewer repeat customers than this the maximum-likelihood
#: estimate is driven by a handful of people and its spend predictions are not worth showing.
MIN_REPEAT_CUSTOMERS = 10


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
    money_params = ("v",)

    @property
    def log_likelihood_unit(self) -> str:
        """The density of mean spend: measured in the currency of ``monetary_value``."""
        return "natural log, spend in currency units"

    def __init__(self) -> None:
        super().__init__()
        self.n_excluded_ = 0.0
        self.frequency_monetary_correlation_ = float("nan")

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
                insufficient=True,
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

    def as_dict(self) -> dict[str, Any]:
        """As :meth:`BetaGeoFitter.as_dict`, plus ``n_excluded`` (customers without a repeat purchase
        or with zero spend, left out of the fit)."""
        return {**super().as_dict(), "n_excluded": self.n_excluded_}

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
