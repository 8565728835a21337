r"""The MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007).

BG/NBD with one change: a customer may also drop out at time 0, right after the first purchase,
so a customer without repeat purchases is not certainly alive (under BG/NBD they are). The
parameters are those of BG/NBD: purchase rate :math:`\lambda \sim \text{Gamma}(r, \alpha)`,
drop-out probability per purchase :math:`p \sim \text{Beta}(a, b)`; ``alpha`` in time units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln, hyp2f1

from ._rfm_model import _RfmModel


class ModifiedBetaGeoFitter(_RfmModel):
    r"""The MBG/NBD model (Batislam, Denizel & Filiztekin 2007).

    For a customer with x repeat purchases, the last at :math:`t_x`, observed for T:

    .. math::

        L = \frac{B(a, b+x+1)}{B(a, b)}\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}(\alpha+T)^{-(r+x)}
            \left[1 + \frac{a}{b+x}\left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]

    Fitted like :class:`BetaGeoFitter` (same attributes, ``summary`` with units), with a numerical
    gradient.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
    models for customer base analysis. International Journal of Research in Marketing 24(3),
    201-209.

    Examples
    --------
    The CDNOW sample: r=0.525, alpha=6.183, a=0.891, b=1.614 (BTYDplus; lifetimes' tests).

    >>> from kpi_xl.datasets import load_cdnow_summary
    >>> d = load_cdnow_summary()
    >>> mbg = ModifiedBetaGeoFitter().fit(d["frequency"], d["recency"], d["T"], time_unit="week")
    >>> mbg.params_.round(3).tolist()
    [0.525, 6.183, 0.891, 1.614]
    """

    param_names = ("r", "alpha", "a", "b")
    time_params = ("alpha",)
    model_name = "MBG/NBD"
    _starts = ((1.0, 1.0, 1.0, 1.0), (0.5, 0.5, 0.5, 2.0), (0.1, 0.1, 0.1, 0.1))

    @staticmethod
    def _loglik_rows(params: np.ndarray, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        head = (
            gammaln(r + x)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + x + 1.0)
            - gammaln(b)
            - gammaln(a + b + x + 1.0)
            - (r + x) * np.log(alpha + age)
        )
        log_odds = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
        return head + np.logaddexp(0.0, log_odds)

    def _odds_gone(self, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.params_.to_numpy()
        with np.errstate(over="ignore"):
            return np.exp(np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + tx)))

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Probability that the customer is still active at T:
        :math:`1 / [1 + \frac{a}{b+x}(\frac{\alpha+T}{\alpha+t_x})^{r+x}]` (also for x = 0).

        Examples
        --------
        r=1, alpha=1, a=1, b=2, x=0, T=3: odds 1/2 * (4/1)^1 = 2, so P(alive) = 1/3.

        >>> mbg = ModifiedBetaGeoFitter.from_params(1, 1, 1, 2, time_unit="week")
        >>> round(mbg.probability_alive(0, 0, 3), 6)
        0.333333
        """
        x, tx, age = self._history(frequency, recency, T)
        return self._predict(1.0 / (1.0 + self._odds_gone(x, tx, age)), frequency, recency, T)

    def conditional_expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> Any:
        r"""Expected repeat purchases in the next ``t`` time units (Batislam et al. 2007, eq. 13):

        .. math::

            E[Y(t) \mid x, t_x, T] = \frac{\frac{a+b+x}{a-1}\left[1 - \left(\frac{\alpha+T}
            {\alpha+T+t}\right)^{r+x} {}_2F_1\!\left(r+x, b+x+1; a+b+x; \frac{t}{\alpha+T+t}\right)
            \right]}{1 + \frac{a}{b+x}\left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}}
        """
        x, tx, age = self._history(frequency, recency, T)
        t_arr = self._horizon_array(t)
        r, alpha, a, b = self.params_.to_numpy()
        with np.errstate(all="ignore"):
            hyp = hyp2f1(r + x, b + x + 1.0, a + b + x, t_arr / (alpha + age + t_arr))
            head = (a + b + x) / (a - 1.0) * (1.0 - hyp * ((alpha + age) / (alpha + age + t_arr)) ** (r + x))
        out = head / (1.0 + self._odds_gone(x, tx, age))
        return self._predict(out, frequency, recency, T, t)

    def expected_purchases_new_customer(self, t: Any) -> Any:
        r"""Expected repeat purchases in ``t`` by a new customer:
        :math:`\frac{b}{a-1}[1 - (\frac{\alpha}{\alpha+t})^r {}_2F_1(r, b+1; a+b; \frac{t}{\alpha+t})]`."""
        self._check_fitted()
        t_arr = self._horizon_array(t)
        r, alpha, a, b = self.params_.to_numpy()
        out = (
            b
            / (a - 1.0)
            * (1.0 - hyp2f1(r, b + 1.0, a + b, t_arr / (alpha + t_arr)) * (alpha / (alpha + t_arr)) ** r)
        )
        return float(out) if np.ndim(out) == 0 else out

    @classmethod
    def from_params(
        cls, r: float, alpha: float, a: float, b: float, *, time_unit: str | None = None
    ) -> ModifiedBetaGeoFitter:
        """A model with known parameters, ready to predict (no standard errors or likelihood)."""
        return cls._from_params((r, alpha, a, b), time_unit)
