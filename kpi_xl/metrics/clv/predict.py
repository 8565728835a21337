"""One call: transactions -> per-customer CLV."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._clean import require_positive, require_share
from .._errors import KpiInputError
from ._discount import _discounted_purchases, _DrawPurchases, _step_purchases, _steps
from ._inputs import (
    check_time_unit,
)
from ._registry import PURCHASE_MODELS, _check_model_name
from .gamma_gamma import GammaGammaFitter
from .summary import rfm_summary


@dataclass(frozen=True)
class ClvSettings:
    """How a CLV prediction was made: units, horizon, discounting and the data window."""

    time_unit: str
    horizon: float
    step: float
    discount_rate: float
    margin: float
    observation_end: pd.Timestamp | None
    n_transactions: int | None
    n_dropped: int | None
    #: The repeat-purchase model ("bg/nbd", "mbg/nbd", "pareto/nbd").
    model: str = "bg/nbd"
    #: Level of the CLV intervals (None: no intervals were computed).
    interval: float | None = None


@dataclass(frozen=True)
class ClvPrediction:
    """Per-customer CLV and the fitted models behind it (what :func:`predict_clv` returns).

    Attributes
    ----------
    customers : DataFrame
        One row per customer: ``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``expected_purchases``, ``probability_alive``, ``expected_average_value``, ``clv``.
    purchase_model : BetaGeoFitter, ModifiedBetaGeoFitter or ParetoNBDFitter
        The fitted repeat-purchase model (parameters, standard errors, log-likelihood, convergence).
    spend_model : GammaGammaFitter
        The fitted Gamma-Gamma model.
    settings : ClvSettings
        Time unit, horizon, step, discount rate, margin and the observation window.
    warnings : tuple of str
        Caveats of either fit, each prefixed with its model's name.
    total_interval : tuple of float or None
        Interval for the sum of all customers' CLV (with ``interval``), from the same parameter
        draws as the per-customer ``clv_low`` / ``clv_high`` columns.
    interval_method : str or None
        How the intervals were made (see :func:`predict_clv`).
    """

    customers: pd.DataFrame
    purchase_model: Any
    spend_model: GammaGammaFitter
    settings: ClvSettings
    warnings: tuple[str, ...]
    total_interval: tuple[float, float] | None = None
    interval_method: str | None = None

    def with_customers(self, customers: pd.DataFrame) -> ClvPrediction:
        """The same prediction with the customer table replaced (e.g. re-indexed by real ids)."""
        return dataclasses.replace(self, customers=customers)

    def select(self, customers: Any = None) -> pd.Index:
        """The ids of ``customers`` in :attr:`customers`' index: None (everyone), one id, a list of
        ids, or a boolean mask. An id is found as given or by its text (trimmed; a whole number
        written ``7``, ``7.0`` or ``"7"`` is the same id), as a face reads it from a cell or a
        command line. An id not in the prediction is bad input naming it.

        >>> import pandas as pd
        >>> pred = ClvPrediction(pd.DataFrame({"clv": [1.0, 2.0]}, index=[7, 12]), None, None, None, ())
        >>> pred.select(" 12").tolist(), pred.select([7.0, "12"]).tolist()
        ([12], [7, 12])
        """
        index = self.customers.index
        if customers is None:
            return index
        if "weight" in self.customers:
            raise KpiInputError(
                "this prediction has one row per purchase pattern, not per customer (the database path "
                "without an interval): predict per customer to pick customers",
                argument="customers",
            )
        if isinstance(customers, (pd.Series, np.ndarray)) and np.asarray(customers).dtype == bool:
            return index[np.asarray(customers)]
        wanted = (
            list(customers) if isinstance(customers, (list, tuple, pd.Index, np.ndarray)) else [customers]
        )
        by_text = {_id_text(v): v for v in index}
        found = []
        for c in wanted:
            key = index[index.get_loc(c)] if c in index else by_text.get(_id_text(c))
            if key is None:
                raise KpiInputError(
                    f"customer {c!r} is not in the prediction (it has no order in the data used)",
                    argument="customers",
                    value=c,
                )
            found.append(key)
        return pd.Index(found, name=index.name)

    def total(self) -> pd.Series:
        """The sum of all customers' CLV (:meth:`totals`) with its interval (when one was asked for),
        the number of customers and how the interval was made.

        >>> import pandas as pd
        >>> pred = ClvPrediction(pd.DataFrame({"clv": [1.0, 2.5], "expected_purchases": [0.1, 0.2]}),
        ...                      None, None, None, ())
        >>> pred.total()[["customers", "clv"]].tolist()
        [2, 3.5]
        """
        low, high = self.total_interval if self.total_interval is not None else (None, None)
        sums = self.totals()
        return pd.Series(
            {
                "customers": sums["customers"],
                "clv": sums["clv_total"],
                "clv_low": low,
                "clv_high": high,
                "interval": None if self.settings is None else self.settings.interval,
                "interval_method": self.interval_method,
            },
            dtype=object,
            name="total",
        )

    def schedule(self, customers: Any = None) -> pd.DataFrame:
        r"""Period-by-period value of the customers' predicted purchases, discounted: the CLV of
        :func:`predict_clv` spread over its steps (a customer, a segment or everyone).

        Step k (of length s, ending at k s) holds the purchases expected in it times expected
        spend and margin; its discounted value divides by :math:`(1+d)^k`, so the discounted
        values add up to the customers' ``clv``.

        Parameters
        ----------
        customers:
            None (everyone), one customer id, a list of ids, or a boolean mask over ``customers``
            (see :meth:`select`). Rows that are purchase patterns (a ``weight`` column: customers
            on the row, as the database path gives them) count once per customer.

        Returns
        -------
        DataFrame
            Indexed by ``step`` 1..n: ``end`` (time at the end of the step, in the time unit),
            ``expected_purchases``, ``value`` (undiscounted), ``discount_factor``,
            ``discounted_value`` and ``cumulative_discounted_value``.

        Examples
        --------
        >>> from kpi_xl.datasets import load_cdnow_transactions
        >>> tx = load_cdnow_transactions()
        >>> pred = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="month",
        ...                    horizon=12, discount_rate=0.01)
        >>> sched = pred.schedule(1)
        >>> total = float(sched["discounted_value"].sum())
        >>> len(sched), bool(abs(total - pred.customers.loc[1, "clv"]) < 1e-9)
        (12, True)
        """
        chosen = self.customers.loc[self.select(customers)]
        st = self.settings
        n_steps = int(round(st.horizon / st.step))
        x, tx, age = (chosen[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        weight = _weights(chosen)
        spend = chosen["expected_average_value"].to_numpy(dtype=float) * st.margin * weight
        purchases = np.array(
            [
                (float(step @ weight), float(step @ spend))
                for step in _step_purchases(self.purchase_model, x, tx, age, n_steps, st.step)
            ]
        ).reshape(n_steps, 2)
        return schedule_frame(purchases[:, 0], purchases[:, 1], st)

    def totals(self) -> dict[str, float]:
        """Totals over the customers: ``customers``, ``clv_total``, ``clv_mean``, ``clv_median``,
        ``clv_max`` and ``expected_purchases_total``. Rows that are patterns (a ``weight`` column:
        customers on the row) count once per customer.

        Examples
        --------
        >>> pred = ClvPrediction(pd.DataFrame({"clv": [1.0, 3.0], "expected_purchases": [0.5, 1.0],
        ...                                    "weight": [3, 1]}), None, None, None, ())
        >>> t = pred.totals()
        >>> t["customers"], t["clv_total"], t["clv_median"], t["expected_purchases_total"]
        (4, 6.0, 1.0, 2.5)
        """
        out = self.customers
        clv = out["clv"].to_numpy(dtype=float)
        w = out["weight"].to_numpy(dtype=np.int64) if "weight" in out else np.ones(len(out), dtype=np.int64)
        order = clv.argsort(kind="stable")
        ranked, cum = clv[order], w[order].cumsum()
        n = int(cum[-1]) if len(cum) else 0

        def kth(k: int) -> float:  # the k-th smallest customer's CLV (1-based)
            return float(ranked[cum.searchsorted(k, side="left")])

        total = float((clv * w).sum())
        return {
            "customers": n,
            "clv_total": total,
            "clv_mean": total / n if n else float("nan"),
            "clv_median": float("nan") if n == 0 else (kth((n + 1) // 2) + kth(n // 2 + 1)) / 2,
            "clv_max": float(clv.max()) if len(clv) else float("nan"),
            "expected_purchases_total": float((out["expected_purchases"].to_numpy(dtype=float) * w).sum()),
        }


def schedule_frame(purchases: np.ndarray, value: np.ndarray, settings: ClvSettings) -> pd.DataFrame:
    """The schedule of :meth:`ClvPrediction.schedule` from each step's expected purchases and value
    (purchases x expected spend x margin, summed over the customers)."""
    k = np.arange(1, len(purchases) + 1)
    factor = (1.0 + settings.discount_rate) ** -k.astype(float)
    value = np.asarray(value, dtype=float)
    out = pd.DataFrame(
        {
            "end": k * settings.step,
            "expected_purchases": np.asarray(purchases, dtype=float),
            "value": value,
            "discount_factor": factor,
            "discounted_value": value * factor,
        },
        index=pd.Index(k, name="step"),
    )
    out["cumulative_discounted_value"] = out["discounted_value"].cumsum()
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
    model: str = "bg/nbd",
    interval: float | None = None,
) -> ClvPrediction:
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
        Required: ``"day"``, ``"week"``, ``"month"``, ``"year"`` (elapsed days), ``"calendar-week"``
        or ``"calendar-month"`` (see :func:`rfm_summary`). The unit of recency, T, ``horizon`` and a
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
    model:
        The repeat-purchase model: ``"bg/nbd"`` (default), ``"mbg/nbd"`` or ``"pareto/nbd"``
        (:func:`clv_holdout` compares them).
    interval:
        Optional level (e.g. 0.9) of an interval for each customer's CLV and for the total:
        columns ``clv_low`` and ``clv_high`` and :attr:`ClvPrediction.total_interval`. Parameter
        uncertainty only, by simulation from the estimates' asymptotic normal distribution given
        by the information matrix (Krinsky & Robb 1986): 200 draws of the log-parameters of both
        models (fixed seed, reproducible), CLV recomputed for each, the interval their
        percentiles. It does not cover the randomness of each customer's own future purchases.

    Returns
    -------
    ClvPrediction
        ``customers``: indexed by ``customer_id``, ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``expected_purchases`` (repeat purchases over the horizon),
        ``probability_alive``, ``expected_average_value`` (Gamma-Gamma spend per purchase, before
        margin), ``clv``; ``purchase_model`` and ``spend_model`` (the fitted BG/NBD and
        Gamma-Gamma models: parameters, SEs, log-likelihood, customers fitted); ``settings`` (time
        unit, horizon, step, discount rate, margin, observation end) and ``warnings``.

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
    >>> len(out.customers)
    2357
    >>> out.customers.loc[1, ["frequency", "recency", "T", "expected_purchases", "clv"]].round(2).tolist()
    [2.0, 30.43, 38.86, 1.56, 36.19]
    """
    unit = check_time_unit(time_unit)
    n_steps, step_len = _steps(horizon, step, unit)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    mult = require_share(margin, "margin")
    if amounts is None:
        raise KpiInputError(
            "amounts are required: CLV needs the spend of each transaction", argument="amounts"
        )
    summary = rfm_summary(customer_ids, dates, amounts, time_unit=unit, observation_end=observation_end)
    return predict_clv_from_summary(
        summary,
        time_unit=unit,
        horizon=horizon,
        discount_rate=d,
        margin=mult,
        step=step,
        model=model,
        interval=interval,
    )


def predict_clv_from_summary(
    summary: pd.DataFrame,
    *,
    time_unit: str | None = None,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    step: float | str = 1.0,
    model: str = "bg/nbd",
    interval: float | None = None,
    weights: Any = None,
) -> ClvPrediction:
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
        Required: the unit the summary is in (see :func:`rfm_summary`).
    horizon, discount_rate, margin, step, model, interval:
        As in :func:`predict_clv`.
    weights:
        Customers per summary row, when the rows are distinct patterns counted elsewhere (a
        database ``GROUP BY frequency, recency, T, monetary_value``): both fits weigh each row by
        its count, so the parameters are those of the customers behind the rows; predictions stay
        per row. Not with ``interval`` (its total sums over rows).

    Returns
    -------
    ClvPrediction
        As :func:`predict_clv`: ``customers`` is the summary with ``expected_purchases``,
        ``probability_alive``, ``expected_average_value`` and ``clv`` added.

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
    >>> direct = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=12)
    >>> out.customers.equals(direct.customers)
    True
    """
    unit, n_steps, step_len, d, mult, name = _checked_settings(
        time_unit, horizon, step, discount_rate, margin, model
    )
    if interval is not None and not 0 < interval < 1:
        raise KpiInputError(
            f"interval must be a level between 0 and 1 (e.g. 0.9), got {interval!r}",
            argument="interval",
            value=interval,
        )
    if weights is not None and interval is not None:
        raise KpiInputError(
            "interval needs one summary row per customer; predict on patterns (weights) without it",
            argument="interval",
        )
    _check_summary(summary, ("frequency", "recency", "T", "monetary_value"), unit, time_unit)
    x, tx, age = (summary[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    m = summary["monetary_value"].to_numpy(dtype=np.float64)
    gg, bg = _fit_models(x, tx, age, weights, x, m, weights, unit, name)
    out = summary.copy()
    out["expected_purchases"] = bg.conditional_expected_purchases(n_steps * step_len, x, tx, age)
    out["probability_alive"] = bg.probability_alive(x, tx, age)
    spend = gg.conditional_expected_average_profit(x, m)
    out["expected_average_value"] = spend
    out["clv"] = spend * mult * _discounted_purchases(bg, x, tx, age, n_steps, step_len, d)
    total_interval = None
    if interval is not None:
        low, high, total_interval = _clv_intervals(
            bg, gg, x, tx, age, m, n_steps, step_len, d, mult, interval
        )
        out["clv_low"], out["clv_high"] = low, high
    return ClvPrediction(
        customers=out,
        purchase_model=bg,
        spend_model=gg,
        settings=_settings(summary.attrs, unit, n_steps * step_len, step_len, d, mult, name, interval),
        warnings=_warnings(bg, gg),
        total_interval=total_interval,
        interval_method=None if interval is None else INTERVAL_METHOD,
    )


def _weights(table: pd.DataFrame) -> np.ndarray:
    """Customers per row: a ``weight`` column when the rows are purchase patterns (the database
    path, :func:`predict_clv_from_summary` with ``weights``), else one."""
    if "weight" in table:
        return table["weight"].to_numpy(dtype=float)
    return np.ones(len(table))


def _id_text(value: Any) -> str:
    """A customer id as text, the way it is matched when a face hands it over as typed."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass(frozen=True)
class ClvPatterns:
    """BG/NBD and Gamma-Gamma fitted on two compressed summaries, with predictions per pattern
    (what :func:`predict_clv_from_patterns` returns).

    A customer with purchase pattern (frequency, recency, T) and spend pair (frequency,
    monetary_value) has ``clv = expected_average_value * margin * discounted_purchases`` (the
    formula of :func:`predict_clv`, whose two factors depend on one summary each), its
    ``expected_purchases`` and ``probability_alive`` from the purchase pattern: a database joins
    the two tables back to its customers and multiplies.

    Attributes
    ----------
    purchases : DataFrame
        The purchase patterns given (``frequency``, ``recency``, ``T``, ``weight``) with
        ``expected_purchases``, ``probability_alive`` and ``discounted_purchases`` (the sum over
        steps of the purchases expected in each step, discounted: CLV per unit of spend and margin).
    spend : DataFrame
        The spend pairs given (``frequency``, ``monetary_value``, ``weight``) with
        ``expected_average_value``.
    purchase_model, spend_model, settings, warnings
        As in :class:`ClvPrediction`.
    """

    purchases: pd.DataFrame
    spend: pd.DataFrame
    purchase_model: Any
    spend_model: GammaGammaFitter
    settings: ClvSettings
    warnings: tuple[str, ...]

    def step_purchases(self) -> np.ndarray:
        """Expected purchases of each purchase pattern in each step: ``(steps, patterns)``."""
        st = self.settings
        x, tx, age = (self.purchases[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        n_steps = int(round(st.horizon / st.step))
        return np.array(list(_step_purchases(self.purchase_model, x, tx, age, n_steps, st.step))).reshape(
            n_steps, x.size
        )


def predict_clv_from_patterns(
    purchases: pd.DataFrame,
    spend: pd.DataFrame,
    *,
    time_unit: str | None = None,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    step: float | str = 1.0,
    model: str = "bg/nbd",
) -> ClvPatterns:
    r"""Predictive CLV fitted on two compressed summaries a database counts: the purchase model on
    distinct (frequency, recency, T) patterns, Gamma-Gamma on distinct (frequency,
    monetary_value) pairs, each with the number of customers on it (``weight``).

    The same fits as :func:`predict_clv_from_summary` on the customers behind the rows (both
    likelihoods are sums over customers of a term that depends on one summary's columns only),
    with far fewer rows: per-customer (frequency, recency, T, monetary_value) rows rarely repeat,
    purchase patterns do. Predictions come per pattern and per pair (see :class:`ClvPatterns`).

    Parameters
    ----------
    purchases:
        ``frequency``, ``recency``, ``T`` (in ``time_unit``) and ``weight`` (customers), one row
        per distinct pattern; its ``attrs`` (``observation_end``, ``n_transactions``,
        ``n_dropped``) are carried into the settings when present.
    spend:
        ``frequency``, ``monetary_value`` and ``weight``, one row per distinct pair (customers
        without a repeat purchase included: Gamma-Gamma counts them as excluded).
    time_unit, horizon, discount_rate, margin, step, model:
        As in :func:`predict_clv`.

    Returns
    -------
    ClvPatterns

    Raises
    ------
    KpiInputError
        As :func:`predict_clv_from_summary`; also weights that do not add up to the same
        customers in both summaries.

    References
    ----------
    Fader, Hardie & Lee (2005a), section 4 (fitting on grouped data); Fader & Hardie (2013), note 025.

    Examples
    --------
    The CDNOW sample: 2,357 customers, 1,218 purchase patterns and 1,004 spend pairs; the total CLV
    of the per-customer prediction comes back from them (to the optimiser's tolerance: the
    likelihood sums the same terms in another order):

    >>> from kpi_xl.datasets import load_cdnow_transactions
    >>> tx = load_cdnow_transactions()
    >>> rfm = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")
    >>> frt = rfm.groupby(["frequency", "recency", "T"]).size().reset_index(name="weight")
    >>> fm = rfm.groupby(["frequency", "monetary_value"]).size().reset_index(name="weight")
    >>> fit = predict_clv_from_patterns(frt, fm, time_unit="week", horizon=12)
    >>> per = rfm.merge(fit.purchases, on=["frequency", "recency", "T"]).merge(
    ...     fit.spend, on=["frequency", "monetary_value"])
    >>> total = (per["expected_average_value"] * per["discounted_purchases"]).sum()
    >>> direct = predict_clv_from_summary(rfm, time_unit="week", horizon=12)
    >>> len(frt), len(fm), bool(abs(total / direct.customers["clv"].sum() - 1) < 1e-7)
    (1218, 1004, True)
    """
    unit, n_steps, step_len, d, mult, name = _checked_settings(
        time_unit, horizon, step, discount_rate, margin, model
    )
    _check_summary(purchases, ("frequency", "recency", "T", "weight"), unit, time_unit, "purchases")
    _check_summary(spend, ("frequency", "monetary_value", "weight"), unit, time_unit, "spend")
    x, tx, age, wp = (
        purchases[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T", "weight")
    )
    xs, m, ws = (spend[c].to_numpy(dtype=np.float64) for c in ("frequency", "monetary_value", "weight"))
    if wp.sum() != ws.sum():
        raise KpiInputError(
            f"the purchase patterns hold {wp.sum():g} customers but the spend pairs {ws.sum():g}; both "
            "summaries must count the same customers",
            argument="spend",
        )
    gg, bg = _fit_models(x, tx, age, wp, xs, m, ws, unit, name)
    per_pattern = purchases.copy()
    per_pattern["expected_purchases"] = bg.conditional_expected_purchases(n_steps * step_len, x, tx, age)
    per_pattern["probability_alive"] = bg.probability_alive(x, tx, age)
    per_pattern["discounted_purchases"] = _discounted_purchases(bg, x, tx, age, n_steps, step_len, d)
    per_pair = spend.copy()
    per_pair["expected_average_value"] = gg.conditional_expected_average_profit(xs, m)
    return ClvPatterns(
        purchases=per_pattern,
        spend=per_pair,
        purchase_model=bg,
        spend_model=gg,
        settings=_settings(purchases.attrs, unit, n_steps * step_len, step_len, d, mult, name, None),
        warnings=_warnings(bg, gg),
    )


def _checked_settings(
    time_unit: Any, horizon: Any, step: Any, discount_rate: Any, margin: Any, model: Any
) -> tuple[str, int, float, float, float, str]:
    unit = check_time_unit(time_unit)
    n_steps, step_len = _steps(horizon, step, unit)
    d = require_positive(discount_rate, "discount_rate", allow_zero=True)
    mult = require_share(margin, "margin")
    return unit, n_steps, step_len, d, mult, _check_model_name(model)


def _check_summary(
    summary: pd.DataFrame, columns: tuple[str, ...], unit: str, time_unit: Any, argument: str = "summary"
) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise KpiInputError(
            f"{argument} has no column {', '.join(map(repr, missing))}; it needs "
            f"{', '.join(columns[:-1])} and {columns[-1]} (see rfm_summary)",
            argument=argument,
        )
    given_unit = summary.attrs.get("time_unit", unit)
    if given_unit != unit:
        raise KpiInputError(
            f"the {argument} is in {given_unit}s but time_unit is {unit!r}; summarise in the unit you "
            "predict in",
            argument="time_unit",
            value=time_unit,
        )


def _fit_models(
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    purchase_weights: Any,
    spend_x: np.ndarray,
    m: np.ndarray,
    spend_weights: Any,
    unit: str,
    name: str,
) -> tuple[GammaGammaFitter, Any]:
    # Gamma-Gamma first: it is the one that most often lacks data (repeat customers), and says so.
    gg = GammaGammaFitter().fit(spend_x, m, weights=spend_weights)
    gg._check_fitted()
    bg = PURCHASE_MODELS[name]().fit(x, tx, age, time_unit=unit, weights=purchase_weights)
    bg._check_fitted()
    return gg, bg


def _settings(
    attrs: dict[str, Any], unit: str, horizon: float, step_len: float, d: float, mult: float, name: str,
    interval: float | None,
) -> ClvSettings:  # fmt: skip
    return ClvSettings(
        time_unit=unit,
        horizon=horizon,
        step=step_len,
        discount_rate=d,
        margin=mult,
        observation_end=attrs.get("observation_end"),
        n_transactions=attrs.get("n_transactions"),
        n_dropped=attrs.get("n_dropped"),
        model=name,
        interval=interval,
    )


def _warnings(bg: Any, gg: GammaGammaFitter) -> tuple[str, ...]:
    return tuple(f"{bg.model_name}: {w}" for w in bg.warnings_) + tuple(
        f"Gamma-Gamma: {w}" for w in gg.warnings_
    )


#: How CLV intervals are made (shown next to them in every face).
INTERVAL_METHOD = (
    "parameter uncertainty: 200 draws from the asymptotic normal distribution of the fitted "
    "log-parameters (observed information matrix; Krinsky & Robb 1986), CLV recomputed per draw"
)
_N_DRAWS = 200
# Customers per block of the draws x customers matrix: bounds memory (200 x 20,000 floats) for
# any number of customers.
_BLOCK = 20_000
# Per-pattern purchases of all the draws are held at once up to as many floats as two blocks.
_HELD = 2 * _N_DRAWS * _BLOCK


def _draw_models(fitter: Any, n: int, rng: np.random.Generator) -> list[Any]:
    """Copies of ``fitter`` with parameters drawn from N(log theta, Cov(log theta))."""
    theta = fitter.params_.to_numpy()
    cov_log = fitter.covariance_.to_numpy() / np.outer(theta, theta)
    draws = np.exp(rng.multivariate_normal(np.log(theta), cov_log, size=n, method="cholesky"))
    out = []
    for values in draws:
        model = type(fitter)()
        model.time_unit = fitter.time_unit
        model._given(tuple(values))
        out.append(model)
    return out


def _clv_intervals(
    purchases: Any,
    spend: GammaGammaFitter,
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    m: np.ndarray,
    n_steps: int,
    step_len: float,
    discount_rate: float,
    margin: float,
    level: float,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Per-customer and total CLV intervals from parameter draws (see :data:`INTERVAL_METHOD`).
    Draws whose Gamma-Gamma q is 1 or less (mean spend undefined), and draws so extreme that a
    model's prediction cannot be computed (its closed form overflows), are left out; fewer than half
    usable is an error."""
    rng = np.random.default_rng(20260101)
    pm = _draw_models(purchases, _N_DRAWS, rng)
    sm = _draw_models(spend, _N_DRAWS, rng)
    usable = [i for i, g in enumerate(sm) if g.params_["q"] > 1]
    qs = [(1 - level) / 2, (1 + level) / 2]
    low, high = np.empty(x.size), np.empty(x.size)
    got: np.ndarray | int = -1
    while isinstance(got, int):
        if got >= 0:
            # A draw that overflows only for later customers: leave it out everywhere, start again (rare).
            usable.remove(got)
        _enough_draws(usable)
        got = _interval_blocks(
            pm, sm, usable, x, tx, age, m, n_steps, step_len, discount_rate, margin, qs, low, high
        )
    _enough_draws(usable)
    totals = got
    t_low, t_high = np.quantile(totals, qs)
    return low, high, (float(t_low), float(t_high))


def _enough_draws(usable: list[int]) -> None:
    if len(usable) < _N_DRAWS // 2:
        raise KpiInputError(
            "the estimates are too uncertain for a CLV interval (in many parameter draws the mean "
            "spend is undefined or the prediction cannot be computed); predict without an interval",
            argument="interval",
        )


def _interval_blocks(
    pm: list[Any],
    sm: list[Any],
    usable: list[int],
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    m: np.ndarray,
    n_steps: int,
    step_len: float,
    discount_rate: float,
    margin: float,
    qs: list[float],
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray | int:
    """Fill ``low`` and ``high`` per customer and return the total CLV of each usable draw; or the
    number of a draw whose prediction cannot be computed for a later block of customers. Draws that
    fail on the first block are removed from ``usable`` here. Each draw's purchases are evaluated
    once per distinct history (:class:`_DrawPurchases`), its spend once per block of customers."""
    totals = np.zeros(len(usable))
    failed: list[int] = []
    everyone = _DrawPurchases(pm[usable[0]], x, tx, age, n_steps, step_len, discount_rate)
    # Each draw is evaluated once per distinct history, held for all customers (draws x patterns);
    # with more distinct histories than that memory allows, once per block of customers.
    if everyone.n_patterns * len(usable) <= _HELD:
        spans = [slice(0, x.size)]
    else:
        spans = [slice(start, start + _BLOCK) for start in range(0, x.size, _BLOCK)]
    for span in spans:
        draws = (
            everyone
            if len(spans) == 1
            else _DrawPurchases(pm[usable[0]], x[span], tx[span], age[span], n_steps, step_len, discount_rate)
        )
        held: list[np.ndarray] = []
        for row, i in enumerate(usable):
            try:
                held.append(draws.per_pattern(pm[i]))
            except KpiInputError:
                if span.start > 0:
                    # Used for the customers of earlier blocks already: those must be redone without it.
                    return i
                failed.append(row)
        if failed:
            for row in reversed(failed):
                del usable[row]
            totals = totals[: len(usable)]
            failed = []
        span_end = min(span.stop, x.size)
        for start in range(span.start, span_end, _BLOCK):
            part = slice(start, min(start + _BLOCK, span_end))
            rows = slice(part.start - span.start, part.stop - span.start)
            block = np.empty((len(usable), part.stop - part.start))
            for row, i in enumerate(usable):
                value = np.asarray(sm[i].conditional_expected_average_profit(x[part], m[part]), dtype=float)
                purchases = draws.per_customer(pm[i], held[row], x[part], tx[part], age[part], rows)
                block[row] = value * margin * purchases
            low[part], high[part] = np.quantile(block, qs, axis=0)
            totals += block.sum(axis=1)
    return totals
