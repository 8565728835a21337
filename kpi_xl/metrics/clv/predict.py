"""One call: transactions -> per-customer CLV."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._clean import require_positive, require_share
from .._errors import KpiInputError
from ._discount import _discounted_purchases, _steps
from ._inputs import (
    check_time_unit,
)
from .bgnbd import BetaGeoFitter
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


@dataclass(frozen=True)
class ClvPrediction:
    """Per-customer CLV and the fitted models behind it (what :func:`predict_clv` returns).

    Attributes
    ----------
    customers : DataFrame
        One row per customer: ``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``expected_purchases``, ``probability_alive``, ``expected_average_value``, ``clv``.
    purchase_model : BetaGeoFitter
        The fitted BG/NBD model (parameters, standard errors, log-likelihood, convergence).
    spend_model : GammaGammaFitter
        The fitted Gamma-Gamma model.
    settings : ClvSettings
        Time unit, horizon, step, discount rate, margin and the observation window.
    warnings : tuple of str
        Caveats of either fit, each prefixed with its model's name.
    """

    customers: pd.DataFrame
    purchase_model: BetaGeoFitter
    spend_model: GammaGammaFitter
    settings: ClvSettings
    warnings: tuple[str, ...]

    def with_customers(self, customers: pd.DataFrame) -> ClvPrediction:
        """The same prediction with the customer table replaced (e.g. re-indexed by real ids)."""
        return dataclasses.replace(self, customers=customers)


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
    horizon, discount_rate, margin, step:
        As in :func:`predict_clv`.

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
    unit = check_time_unit(time_unit)
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
    return ClvPrediction(
        customers=out,
        purchase_model=bg,
        spend_model=gg,
        settings=ClvSettings(
            time_unit=unit,
            horizon=n_steps * step_len,
            step=step_len,
            discount_rate=d,
            margin=mult,
            observation_end=summary.attrs.get("observation_end"),
            n_transactions=summary.attrs.get("n_transactions"),
            n_dropped=summary.attrs.get("n_dropped"),
        ),
        warnings=tuple(f"BG/NBD: {w}" for w in bg.warnings_)
        + tuple(f"Gamma-Gamma: {w}" for w in gg.warnings_),
    )
