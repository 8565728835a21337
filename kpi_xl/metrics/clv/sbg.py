r"""Contractual retention: the shifted-beta-geometric (sBG) model (Fader & Hardie 2007, 2010).

For subscriptions renewed period by period: each customer renews with their own constant
probability :math:`1-\theta`, and :math:`\theta \sim \text{Beta}(\alpha, \beta)` across customers.
Because the customers most likely to churn leave first, the cohort's retention rate rises over
time; sBG captures that with two parameters and projects survival, retention, expected remaining
lifetime (DERL) and the value of a subscriber.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1

from .._clean import _as_1d, _blank_mask, clean_dates, require_positive
from .._errors import KpiInputError
from .._result import small_sample_warnings
from ._fit import _Fitter, _maximise, _numeric_gradient
from ._inputs import _columns


def _survivors(survivors: Any) -> np.ndarray:
    whole = {"integer": True, "allow_negative": False, "expected": "a whole number of customers, 0 or more"}
    cols, _ = _columns({"survivors": (survivors, whole)})
    n = cols["survivors"]
    if np.isnan(n).any():
        pos = int(np.flatnonzero(np.isnan(n))[0])
        raise KpiInputError(
            argument="survivors",
            position=pos + 1,
            reason="is blank; give the customers still active after every period, with no gaps",
        )
    if n.size < 3:
        raise KpiInputError(
            f"survivors needs the cohort size and at least 2 later periods to fit 2 parameters; got {n.size} "
            "value(s)",
            argument="survivors",
            kind="empty",
        )
    if n[0] <= 0:
        raise KpiInputError(
            "survivors: the first value is the cohort size at period 0 and must be above 0",
            argument="survivors",
            position=1,
            value=float(n[0]),
        )
    rising = np.flatnonzero(np.diff(n) > 0)
    if rising.size:
        pos = int(rising[0]) + 2
        raise KpiInputError(
            argument="survivors",
            position=pos,
            value=float(n[pos - 1]),
            what=f"{n[pos - 1]:g}",
            reason=f"is more than {n[pos - 2]:g} before it; a cohort can only shrink (count customers of "
            "one starting cohort, not all active customers)",
        )
    return n


def _log_churn_at(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """log P(T = t) = log B(alpha + 1, beta + t - 1) - log B(alpha, beta), t = 1, 2, ..."""
    return betaln(alpha + 1.0, beta + t - 1.0) - betaln(alpha, beta)


def _log_survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """log S(t) = log B(alpha, beta + t) - log B(alpha, beta)."""
    return betaln(alpha, beta + t) - betaln(alpha, beta)


class ShiftedBetaGeoFitter(_Fitter):
    r"""The sBG model of contractual retention (Fader & Hardie 2007).

    With :math:`\theta \sim \text{Beta}(\alpha, \beta)` the churn probability per period:

    .. math::

        P(T = t) = \frac{B(\alpha+1, \beta+t-1)}{B(\alpha, \beta)}, \quad
        S(t) = \frac{B(\alpha, \beta+t)}{B(\alpha, \beta)}, \quad
        r_t = \frac{S(t)}{S(t-1)} = \frac{\beta+t-1}{\alpha+\beta+t-1}

    fitted by maximum likelihood to a cohort's survivors :math:`n_0, n_1, \ldots, n_k`:

    .. math::

        LL = \sum_{t=1}^{k} (n_{t-1} - n_t) \log P(T=t) + n_k \log S(k)

    (Fader & Hardie 2007, eqs. 1, 2, 4 and 6). Both parameters are shapes without a unit; periods
    are the renewal periods of the data (years, months).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer Retention. Journal of
    Interactive Marketing 21(1), 76-90.
    Fader, P. S. & Hardie, B. G. S. (2010). Customer-Base Valuation in a Contractual Setting: The
    Perils of Ignoring Heterogeneity. Marketing Science 29(1), 85-93.

    Examples
    --------
    The paper's "regular" cohort: 1,000 customers, of whom 631, 468, 382, 326, 289, 262, 241 are
    left after years 1-7.

    >>> sbg = ShiftedBetaGeoFitter().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> sbg.params_.round(3).tolist()
    [0.704, 1.182]
    >>> sbg.retention([1, 2, 8]).round(3).tolist()
    [0.627, 0.756, 0.921]
    """

    param_names = ("alpha", "beta")
    model_name = "sBG"

    @property
    def log_likelihood_unit(self) -> str:
        return "natural log, probability of the cohort's churn period counts"

    def fit(self, survivors: Any, *, confidence: float = 0.95) -> ShiftedBetaGeoFitter:
        """Fit to one cohort's survivors.

        Parameters
        ----------
        survivors:
            Customers of one starting cohort still active after each period, starting with the
            cohort size at period 0: ``[n0, n1, ..., nk]`` (whole numbers, never rising, k >= 2).
        confidence:
            Level of the parameter intervals in :attr:`summary`.

        Raises
        ------
        KpiInputError
            Fractions, negatives, blanks between values, a count that rises, a first value of 0,
            fewer than 3 values (kind ``"empty"``).
        """
        if not 0 < confidence < 1:
            raise KpiInputError(
                f"confidence must be between 0 and 1, got {confidence!r}", argument="confidence"
            )
        n = _survivors(survivors)
        self.survivors_ = n
        lost = -np.diff(n)
        t = np.arange(1, n.size, dtype=float)
        k = float(n.size - 1)

        def total_ll(logp: np.ndarray) -> float:
            a, b = np.exp(logp)
            return float(lost @ _log_churn_at(a, b, t) + n[-1] * _log_survival(a, b, np.array(k)))

        def neg_mean_ll(logp: np.ndarray) -> tuple[float, np.ndarray]:
            return -total_ll(logp) / n[0], -_numeric_gradient(total_ll, logp) / n[0]

        fit = _maximise(neg_mean_ll, [np.zeros(2), np.log([0.5, 2.0]), np.log([5.0, 5.0])], self.param_names)
        self._store(
            fit,
            fit.logp,
            total_ll(fit.logp),
            value_fit=total_ll,
            confidence=confidence,
            n_customers=float(n[0]),
            n_patterns=int(n.size),
            n_dropped=0,
        )
        self.warnings_ = small_sample_warnings(int(n[0]), None)
        return self

    @staticmethod
    def _periods(periods: Any) -> np.ndarray:
        t = np.atleast_1d(np.asarray(periods, dtype=float))
        if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t != np.round(t)):
            raise KpiInputError(
                f"periods must be whole numbers of 0 or more, got {periods!r}", argument="periods"
            )
        return t

    def _ab(self) -> tuple[float, float]:
        self._check_fitted()
        a, b = self.params_.to_numpy()
        return float(a), float(b)

    def survival(self, periods: Any) -> np.ndarray:
        """Share of the cohort still active after each of ``periods`` (S(0) = 1)."""
        a, b = self._ab()
        return np.exp(_log_survival(a, b, self._periods(periods)))

    def retention(self, periods: Any) -> np.ndarray:
        """Retention rate of period t, r_t = (beta + t - 1) / (alpha + beta + t - 1), t >= 1."""
        a, b = self._ab()
        t = self._periods(periods)
        if np.any(t < 1):
            raise KpiInputError("retention is defined for periods 1, 2, ...", argument="periods")
        return (b + t - 1.0) / (a + b + t - 1.0)

    def projection(self, periods: int) -> pd.DataFrame:
        """Survival and retention for periods 0 .. ``periods``, with the cohort's survivors fitted
        and, where the data have them, observed.

        Returns
        -------
        DataFrame
            Indexed by ``period``: ``survival`` (model), ``retention`` (model; NaN at 0),
            ``expected_survivors`` (cohort size x survival), ``observed_survivors`` and
            ``observed_survival`` (NaN beyond the data).
        """
        horizon = int(self._periods(periods)[0])
        t = np.arange(horizon + 1, dtype=float)
        surv = self.survival(t)
        ret = np.full(t.size, np.nan)
        ret[1:] = self.retention(t[1:])
        n = getattr(self, "survivors_", None)
        observed = np.full(t.size, np.nan)
        if n is not None:
            upto = min(n.size, t.size)
            observed[:upto] = n[:upto]
        size = float(n[0]) if n is not None else np.nan
        return pd.DataFrame(
            {
                "survival": surv,
                "retention": ret,
                "expected_survivors": size * surv,
                "observed_survivors": observed,
                "observed_survival": observed / size,
            },
            index=pd.Index(t.astype(int), name="period"),
        )

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        r"""Expected discounted lifetime of a new customer, in periods, the first period counted
        at once (Fader & Hardie 2010, eq. 5): :math:`DEL = {}_2F_1(1, \beta; \alpha+\beta; \frac{1}{1+d})`.

        Examples
        --------
        With alpha = beta = 1 and d = 0: S(t) = 1 / (t + 1), and the sum of S(t) diverges; with
        d = 1 it is sum over t of 1/((t+1) 2^t) = 2 log 2 = 1.3863.

        >>> round(ShiftedBetaGeoFitter.from_params(1, 1).discounted_expected_lifetime(1.0), 4)
        1.3863
        """
        a, b = self._ab()
        d = require_positive(discount_rate, "discount_rate", allow_zero=True)
        if d == 0 and a <= 1:
            raise KpiInputError(
                f"with alpha {a:.3g} <= 1 the expected lifetime is infinite without discounting; give a "
                "discount rate above 0",
                argument="discount_rate",
                value=discount_rate,
            )
        return float(hyp2f1(1.0, b, a + b, 1.0 / (1.0 + d)))

    def derl(self, discount_rate: float, renewal: Any) -> Any:
        r"""Discounted expected residual lifetime of a customer about to make renewal n (Fader &
        Hardie 2010, eq. 6), in periods: the sum over t >= n of S(t) / S(n-1) / (1+d)^(t-n), the
        renewal-n period counted at once:

        .. math::

            DERL(d \mid n) = \frac{\beta+n-1}{\alpha+\beta+n-1}\,
                {}_2F_1\!\left(1, \beta+n; \alpha+\beta+n; \frac{1}{1+d}\right)

        Examples
        --------
        Table 3 of the paper, alpha = 3.80, beta = 15.20, d = 0.1, renewals 1 to 5:

        >>> sbg = ShiftedBetaGeoFitter.from_params(3.80, 15.20)
        >>> sbg.derl(0.1, [1, 2, 3, 4, 5]).round(2).tolist()
        [3.31, 3.45, 3.59, 3.72, 3.84]
        """
        a, b = self._ab()
        d = require_positive(discount_rate, "discount_rate", allow_zero=True)
        n = self._periods(renewal)
        if np.any(n < 1):
            raise KpiInputError("renewal counts from 1 (the first renewal decision)", argument="renewal")
        if d == 0 and a <= 1:
            raise KpiInputError(
                f"with alpha {a:.3g} <= 1 the expected residual lifetime is infinite without discounting; "
                "give a discount rate above 0",
                argument="discount_rate",
                value=discount_rate,
            )
        out = (b + n - 1.0) / (a + b + n - 1.0) * hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + d))
        return float(out[0]) if np.ndim(renewal) == 0 else out

    def subscription_clv(self, margin: float, discount_rate: float, *, renewal: int = 0) -> float:
        r"""Expected value of a subscriber paying ``margin`` per period, discounted at
        ``discount_rate`` per period (Fader & Hardie 2010): ``margin * DEL`` for a new customer
        (``renewal=0``, the first payment now), ``margin * DERL(d | n)`` for one about to make
        renewal n (payments from that renewal on, its own at once).

        Examples
        --------
        alpha = beta = 1, margin 50, d = 1: 50 * 2 log 2 = 69.31.

        >>> round(ShiftedBetaGeoFitter.from_params(1, 1).subscription_clv(50, 1.0), 2)
        69.31
        """
        m = require_positive(margin, "margin", allow_zero=True)
        if renewal == 0:
            return m * self.discounted_expected_lifetime(discount_rate)
        return m * float(self.derl(discount_rate, renewal))

    @classmethod
    def from_params(cls, alpha: float, beta: float) -> ShiftedBetaGeoFitter:
        """A model with known parameters, ready to project (no standard errors or likelihood)."""
        model = cls()
        model._given((alpha, beta))
        return model


def cohort_survivors(customer_ids: Any, dates: Any, *, periods: int, as_of: Any = None) -> np.ndarray:
    r"""Survivors per month of the customers whose first purchase is at least ``periods`` months
    before ``as_of``, for fitting :class:`ShiftedBetaGeoFitter` to order data.

    In order data the moment a customer leaves is not observed, so "still a customer k months
    after the first purchase" is read as "bought again in month k or later"; only cohorts observed
    for all K = ``periods`` months count, so no cohort is cut short by the end of the data:

    .. math::

        n_k = \#\{i : f_i \le m_{end} - K,\ l_i - f_i \ge k\}, \quad k = 0, \ldots, K

    with :math:`f_i, l_i` the calendar months of customer i's first and last order and
    :math:`m_{end}` the month of ``as_of`` (default: of the last order).

    Examples
    --------
    a buys in January and March, b in January and February, c in February, d in March. With data
    to March and K = 2 only the January cohort (a, b) is observed for 2 months: n = [2, 2, 1].

    >>> cohort_survivors(["a", "a", "b", "b", "c", "d"],
    ...                  ["2025-01-05", "2025-03-01", "2025-01-20", "2025-02-02", "2025-02-10", "2025-03-03"],
    ...                  periods=2).tolist()
    [2, 2, 1]
    """
    ids = _as_1d(customer_ids, "customer_ids")
    when, blank = clean_dates(dates, argument="dates")
    if ids.size != when.size:
        raise KpiInputError(
            f"give one date per order: customer_ids has {ids.size} values, dates {when.size}",
            argument="dates",
        )
    k = int(periods)
    if k != periods or k < 2:
        raise KpiInputError(
            f"periods must be a whole number of 2 or more, got {periods!r}", argument="periods"
        )
    keep = ~blank & ~_blank_mask(ids)
    if not keep.any():
        raise KpiInputError("no orders with a customer and a date", argument="customer_ids", kind="empty")
    month = when[keep].astype("datetime64[M]").astype(np.int64)
    if as_of is None:
        end = int(month.max())
    else:
        end_date, end_blank = clean_dates([as_of], argument="as_of")
        if end_blank[0]:
            raise KpiInputError("as_of is blank; leave it out to use the last order", argument="as_of")
        end = int(end_date.astype("datetime64[M]").astype(np.int64)[0])
    span = pd.DataFrame({"id": ids[keep], "month": month}).groupby("id")["month"].agg(["min", "max"])
    old = span[span["min"] <= end - k]
    lived = (old["max"] - old["min"]).to_numpy()
    return np.array([(lived >= t).sum() for t in range(k + 1)], dtype=np.int64)
