r"""The BG/BB model for discrete-time repeat transactions (Fader, Hardie & Shang 2010).

For settings where a transaction can only happen at discrete opportunities (a yearly donation
drive, an annual event, a weekly market): at each opportunity an active customer transacts with
probability :math:`p`, and becomes inactive for good before it with probability :math:`\theta`.
Across customers :math:`p \sim \text{Beta}(\alpha, \beta)` and :math:`\theta \sim
\text{Beta}(\gamma, \delta)`. Histories are (x, t_x, n): transactions in n opportunities, the
last at opportunity t_x. No time unit: everything is counted in opportunities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, gammaln, logsumexp

from .._errors import KpiInputError
from .._result import small_sample_warnings
from ._fit import _Fitter, _maximise, _numeric_gradient
from ._inputs import _as_output, _columns, _compress, _scalar_if, _weights


def _histories(
    frequency: Any, recency: Any, n_periods: Any, *, skip_blank_rows: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    whole = {"integer": True, "allow_negative": False, "expected": "a whole number of 0 or more"}
    cols, n_blank = _columns(
        {"frequency": (frequency, whole), "recency": (recency, whole), "n_periods": (n_periods, whole)},
        skip_blank_rows=skip_blank_rows,
    )
    x, tx, n = cols["frequency"], cols["recency"], cols["n_periods"]
    for bad, what, name, values in (
        (tx > n, "larger than n_periods: the last transaction cannot come after the last opportunity",
         "recency", tx),
        ((x > 0) & (tx < x), "smaller than frequency: x transactions need at least x opportunities",
         "recency", tx),
        ((x == 0) & (tx != 0), "not 0 although frequency is 0 (no transaction, no last one)", "recency", tx),
    ):  # fmt: skip
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise KpiInputError(
                argument=name, position=pos + 1, value=float(values[pos]), reason=f"is {what}"
            )
    return x, tx, n, n_blank


def _bgbb_loglik_rows(params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Log-likelihood of each history (Fader, Hardie & Shang 2010, eq. 5): alive through all n
    opportunities, plus, for each i = 0 .. n - t_x - 1, active through t_x + i and gone after it."""
    alpha, beta, gamma, delta = params
    base = betaln(alpha, beta) + betaln(gamma, delta)
    alive = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n)
    width = int((n - tx).max()) if n.size else 0
    i = np.arange(width)[None, :]
    terms = betaln(alpha + x[:, None], beta + tx[:, None] - x[:, None] + i) + betaln(
        gamma + 1.0, delta + tx[:, None] + i
    )
    terms = np.where(i < (n - tx)[:, None], terms, -np.inf)
    gone = logsumexp(np.column_stack([alive, terms]), axis=1)
    return gone - base


class BetaGeoBetaBinomFitter(_Fitter):
    r"""The BG/BB model (Fader, Hardie & Shang 2010).

    .. math::

        L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}\frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
          + \sum_{i=0}^{n-t_x-1} \frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
            \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    Fitted by maximum likelihood over the logarithms of the four parameters, on distinct
    (x, t_x, n) patterns with weights (a numerical gradient); the same attributes as
    :class:`BetaGeoFitter` (``params_``, ``standard_errors_``, ``summary`` ...). All four
    parameters are shapes without a unit; times are counted in opportunities.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-Base Analysis in a Discrete-Time
    Noncontractual Setting. Marketing Science 29(6), 1086-1108.

    Examples
    --------
    The donations data (11,104 donors, 6 opportunities), as in the paper:

    >>> from kpi_xl.datasets import load_donations
    >>> d = load_donations()
    >>> bgbb = BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    >>> bgbb.params_.round(3).tolist()
    [1.204, 0.75, 0.657, 2.783]
    """

    param_names = ("alpha", "beta", "gamma", "delta")
    model_name = "BG/BB"

    @property
    def log_likelihood_unit(self) -> str:
        return "natural log, probability of the observed (x, t_x, n) histories"

    def fit(
        self, frequency: Any, recency: Any, n_periods: Any, *, weights: Any = None, confidence: float = 0.95
    ) -> BetaGeoBetaBinomFitter:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency:
            Opportunities with a repeat transaction (x), whole numbers.
        recency:
            The opportunity of the last one (t_x; 0 without one).
        n_periods:
            Opportunities observed (n).
        weights:
            Optional number of customers per row.
        confidence:
            Level of the parameter intervals in :attr:`summary`.

        Raises
        ------
        KpiInputError
            Invalid values (fractions, negatives, t_x > n, t_x < x, t_x without a transaction), or no
            customers or no repeat transaction (kind ``"empty"``).
        """
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        x, tx, n, n_blank = _histories(frequency, recency, n_periods)
        (x, tx, n), w = _compress((x, tx, n), _weights(weights, x.size))
        total = float(w.sum())
        if total <= 0:
            raise KpiInputError("no customers to fit the BG/BB model to", argument="frequency", kind="empty")
        if not (x > 0).any():
            raise KpiInputError(
                "no customer made a repeat transaction, so the drop-out process cannot be estimated",
                argument="frequency",
                kind="empty",
                insufficient=True,
            )

        def total_ll(logp: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                return float(np.einsum("i,i->", w, _bgbb_loglik_rows(np.exp(logp), x, tx, n)))

        def neg_mean_ll(logp: np.ndarray) -> tuple[float, np.ndarray]:
            return -total_ll(logp) / total, -_numeric_gradient(total_ll, logp) / total

        starts = [np.zeros(4), np.log([0.5, 0.5, 0.5, 2.0]), np.log([2.0, 2.0, 2.0, 2.0])]
        fit = _maximise(neg_mean_ll, starts, self.param_names)
        self._store(
            fit,
            fit.logp,
            total_ll(fit.logp),
            value_fit=total_ll,
            confidence=confidence,
            n_customers=total,
            n_patterns=int(x.size),
            n_dropped=n_blank,
        )
        self.warnings_ = small_sample_warnings(int(round(total)), None)
        return self

    def log_likelihood(self, frequency: Any, recency: Any, n_periods: Any, *, weights: Any = None) -> float:
        """Log-likelihood of these histories under the model's parameters.

        Examples
        --------
        All parameters 1 and one customer with x=1, t_x=1, n=1: B(2,1)/B(1,1) * B(1,2)/B(1,1)
        = 1/2 * 1/2 = 1/4.

        >>> round(BetaGeoBetaBinomFitter.from_params(1, 1, 1, 1).log_likelihood([1], [1], [1]), 6)
        -1.386294
        """
        self._check_fitted()
        x, tx, n, _ = _histories(frequency, recency, n_periods)
        (x, tx, n), w = _compress((x, tx, n), _weights(weights, x.size))
        with np.errstate(all="ignore"):
            return float(np.einsum("i,i->", w, _bgbb_loglik_rows(self.params_.to_numpy(), x, tx, n)))

    def _history(self, frequency: Any, recency: Any, n_periods: Any) -> tuple[np.ndarray, ...]:
        self._check_fitted()
        x, tx, n, _ = _histories(
            np.atleast_1d(frequency), np.atleast_1d(recency), np.atleast_1d(n_periods), skip_blank_rows=False
        )
        return x, tx, n

    @staticmethod
    def _future(periods: Any) -> float:
        m = float(periods)
        if not (m >= 0 and m == int(m)):
            raise KpiInputError(
                f"future periods must be a whole number of 0 or more, got {periods!r}",
                argument="periods",
                value=periods,
            )
        return m

    def probability_alive(self, frequency: Any, recency: Any, n_periods: Any, *, periods: int = 0) -> Any:
        r"""Probability that the customer is still active at opportunity n + ``periods`` (Fader,
        Hardie & Shang 2010, eq. A10; ``periods=1``: active for the next opportunity):

        .. math::

            P = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
                \frac{B(\gamma, \delta+n+m)}{B(\gamma,\delta)} / L

        Examples
        --------
        The paper's donors after 6 opportunities, active in the 7th: never gave again (0, 0) 0.11,
        (2, 4) 0.59, gave every year (6, 6) 0.93.

        >>> bgbb = BetaGeoBetaBinomFitter.from_params(1.204, 0.750, 0.657, 2.783)
        >>> bgbb.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6], periods=1).round(2).tolist()
        [0.11, 0.59, 0.93]
        """
        x, tx, n = self._history(frequency, recency, n_periods)
        m = self._future(periods)
        alpha, beta, gamma, delta = params = self.params_.to_numpy()
        log_num = (
            betaln(alpha + x, beta + n - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n + m)
            - betaln(gamma, delta)
        )
        out = np.exp(log_num - _bgbb_loglik_rows(params, x, tx, n))
        return _as_output(_scalar_if(out, frequency, recency, n_periods), frequency)

    def conditional_expected_purchases(
        self, periods: Any, frequency: Any, recency: Any, n_periods: Any
    ) -> Any:
        r"""Expected transactions in the next ``periods`` opportunities (eq. 13 of the paper):

        .. math::

            \frac{1}{L}\frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}\frac{\delta}{\gamma-1}
            \frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}\left[\frac{\Gamma(1+\delta+n)}
            {\Gamma(\gamma+\delta+n)} - \frac{\Gamma(1+\delta+n+n^*)}{\Gamma(\gamma+\delta+n+n^*)}\right]
        """
        x, tx, n = self._history(frequency, recency, n_periods)
        m = self._future(periods)
        alpha, beta, gamma, delta = params = self.params_.to_numpy()
        log_head = (
            betaln(alpha + x + 1.0, beta + n - x)
            - betaln(alpha, beta)
            + gammaln(gamma + delta)
            - gammaln(1.0 + delta)
            - _bgbb_loglik_rows(params, x, tx, n)
        )
        bracket = np.exp(gammaln(1.0 + delta + n) - gammaln(gamma + delta + n)) - np.exp(
            gammaln(1.0 + delta + n + m) - gammaln(gamma + delta + n + m)
        )
        out = np.exp(log_head) * delta / (gamma - 1.0) * bracket
        return _as_output(_scalar_if(out, frequency, recency, n_periods), frequency)

    def expected_purchases_new_customer(self, periods: Any) -> float:
        r"""Expected transactions in the first n opportunities (eq. 8 of the paper):
        :math:`\frac{\alpha}{\alpha+\beta}\frac{\delta}{\gamma-1}\left[1 - \frac{\Gamma(\gamma+\delta)}
        {\Gamma(\gamma+\delta+n)}\frac{\Gamma(1+\delta+n)}{\Gamma(1+\delta)}\right]`."""
        self._check_fitted()
        n = self._future(periods)
        alpha, beta, gamma, delta = self.params_.to_numpy()
        ratio = np.exp(
            gammaln(gamma + delta) - gammaln(gamma + delta + n) + gammaln(1 + delta + n) - gammaln(1 + delta)
        )
        return float(alpha / (alpha + beta) * delta / (gamma - 1.0) * (1.0 - ratio))

    @classmethod
    def from_params(cls, alpha: float, beta: float, gamma: float, delta: float) -> BetaGeoBetaBinomFitter:
        """A model with known parameters, ready to predict (no standard errors or likelihood)."""
        model = cls()
        model._given((alpha, beta, gamma, delta))
        return model
