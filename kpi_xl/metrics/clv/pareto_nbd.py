r"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While active a customer buys as a Poisson process with rate :math:`\lambda`; their lifetime is
exponential with rate :math:`\mu` (they can drop out at any moment, not only after a purchase
as in BG/NBD). Across customers :math:`\lambda \sim \text{Gamma}(r, \alpha)` and
:math:`\mu \sim \text{Gamma}(s, \beta)`; ``alpha`` and ``beta`` are in the model's time unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, hyp2f1

from ._rfm_model import _RfmModel


def _log_a0(params: np.ndarray, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
    r"""log A_0 of Fader & Hardie's note 008 (eq. 22), on the log scale.

    With :math:`\alpha \ge \beta`, :math:`A_0 = F(t_x) - F(T)` where
    :math:`F(t) = {}_2F_1(r+s+x, s+1; r+s+x+1; \frac{\alpha-\beta}{\alpha+t}) / (\alpha+t)^{r+s+x}`;
    with :math:`\alpha < \beta` the roles swap (:math:`r+x` for :math:`s+1`, :math:`\beta` for
    :math:`\alpha`). ``F(t_x) >= F(T)``, so the difference is taken as ``a1 + log1p(-exp(a2 - a1))``.
    """
    r, alpha, s, beta = params
    if alpha >= beta:
        big, second = alpha, s + 1.0
    else:
        big, second = beta, r + x
    gap = abs(alpha - beta)
    rsx = r + s + x
    a1 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + tx))) - rsx * np.log(big + tx)
    a2 = np.log(hyp2f1(rsx, second, rsx + 1.0, gap / (big + age))) - rsx * np.log(big + age)
    return a1 + np.log1p(-np.exp(a2 - a1))


class ParetoNBDFitter(_RfmModel):
    r"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; Fader & Hardie note 008).

    For a customer with x repeat purchases, the last at :math:`t_x`, observed for T:

    .. math::

        L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)} \left[\frac{1}{(\alpha+T)^{r+x}(\beta+T)^s}
            + \frac{s}{r+s+x} A_0\right]

    (note 008, eq. 22). Fitted like :class:`BetaGeoFitter` (maximum likelihood over the logarithms
    of ``r, alpha, s, beta`` on distinct patterns), with a numerical gradient; the same
    attributes (``params_``, ``standard_errors_``, ``summary`` with units, ``log_likelihood_`` ...).

    References
    ----------
    Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting Your Customers: Who Are They
    and What Will They Do Next? Management Science 33(1), 1-24.
    Fader, P. S. & Hardie, B. G. S. (2005). A Note on Deriving the Pareto/NBD Model and Related
    Expressions (note 008), http://brucehardie.com/notes/008/

    Examples
    --------
    The CDNOW sample (2,357 customers, 39 weeks): r=0.553, alpha=10.58, s=0.606, beta=11.67,
    LL -9595.0, as CLVTools reports.

    >>> from kpi_xl.datasets import load_cdnow_summary
    >>> d = load_cdnow_summary()
    >>> pnbd = ParetoNBDFitter().fit(d["frequency"], d["recency"], d["T"], time_unit="week")
    >>> [float(f"{v:.3g}") for v in pnbd.params_], round(pnbd.log_likelihood_, 1)
    ([0.553, 10.6, 0.606, 11.7], -9595.0)
    """

    param_names = ("r", "alpha", "s", "beta")
    time_params = ("alpha", "beta")
    model_name = "Pareto/NBD"
    _starts = ((1.0, 1.0, 1.0, 1.0), (0.5, 0.2, 0.5, 0.2), (0.1, 0.1, 0.1, 0.1))
    # s beyond 20 (drop-out rates with a coefficient of variation under 22%) is a Pareto/NBD whose
    # drop-out heterogeneity is vanishing; such a fit runs off towards infinity, and the
    # hypergeometric function slows down by orders of magnitude on the way, so the search stops
    # there and says so (published fits have s below 5: CDNOW 0.61).
    _upper = {"s": 20.0}

    @staticmethod
    def _loglik_rows(params: np.ndarray, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
        gone = np.log(s) - np.log(r + s + x) + _log_a0(params, x, tx, age)
        return head + np.logaddexp(alive, gone)

    def _log_odds_gone(self, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        params = self.params_.to_numpy()
        r, alpha, s, beta = params
        # At t_x = T, A_0 = 0 and the log-odds are -inf: no time to have left since the last purchase.
        with np.errstate(all="ignore"):
            return (
                np.log(s)
                - np.log(r + s + x)
                + (r + x) * np.log(alpha + age)
                + s * np.log(beta + age)
                + _log_a0(params, x, tx, age)
            )

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Probability that the customer is still active at T (note 008, eq. 18):

        .. math::

            P(\text{alive}) = \left[1 + \frac{s}{r+s+x}(\alpha+T)^{r+x}(\beta+T)^s A_0\right]^{-1}

        Examples
        --------
        CLVTools' check on CDNOW's fit: x=26, t_x=30.86, T=31 gives 0.9979.

        >>> m = ParetoNBDFitter.from_params(0.5534, 10.5802, 0.6061, 11.6562, time_unit="week")
        >>> round(m.probability_alive(26, 30.86, 31), 4)
        0.9979
        """
        x, tx, age = self._history(frequency, recency, T)
        out = 1.0 / (1.0 + np.exp(self._log_odds_gone(x, tx, age)))
        return self._predict(out, frequency, recency, T)

    def conditional_expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Expected repeat purchases in the next ``t`` time units (note 008, eq. 21):

        .. math::

            E[Y(t) \mid x, t_x, T] = \frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}
                \left[1 - \left(\frac{\beta+T}{\beta+T+t}\right)^{s-1}\right] P(\text{alive})

        (the limit :math:`\frac{r+x}{\alpha+T}(\beta+T)\log\frac{\beta+T+t}{\beta+T}` at s = 1).
        """
        x, tx, age = self._history(frequency, recency, T)
        t_arr = self._horizon_array(t)
        r, alpha, s, beta = self.params_.to_numpy()
        alive = 1.0 / (1.0 + np.exp(self._log_odds_gone(x, tx, age)))
        ratio = np.log((beta + age + t_arr) / (beta + age))
        # (1 - exp(-(s-1) L)) / (s-1), written with expm1 so s near 1 stays accurate.
        shape = ratio if s == 1 else -np.expm1(-(s - 1.0) * ratio) / (s - 1.0)
        out = (r + x) * (beta + age) / (alpha + age) * shape * alive
        return self._predict(out, frequency, recency, T, t)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        r"""Expected repeat purchases in ``t`` by a new customer (note 008, eq. 17):
        :math:`E[X(t)] = \frac{r\beta}{\alpha(s-1)}[1 - (\frac{\beta}{\beta+t})^{s-1}]`."""
        self._check_fitted()
        t_arr = self._horizon_array(t)
        r, alpha, s, beta = self.params_.to_numpy()
        ratio = np.log((beta + t_arr) / beta)
        shape = ratio if s == 1 else -np.expm1(-(s - 1.0) * ratio) / (s - 1.0)
        out = r * beta / alpha * shape
        return float(out) if out.ndim == 0 else out

    @classmethod
    def from_params(
        cls, r: float, alpha: float, s: float, beta: float, *, time_unit: str | None = None
    ) -> ParetoNBDFitter:
        """A model with known parameters, ready to predict (no standard errors or likelihood)."""
        return cls._from_params((r, alpha, s, beta), time_unit)
