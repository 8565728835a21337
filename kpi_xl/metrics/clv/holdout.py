r"""Holdout validation and model choice for the repeat-purchase models, in one call.

Fit on a calibration period, predict the holdout period that follows, and compare with what the
customers actually did, the way Fader, Hardie & Lee (2005a, section 5) validate BG/NBD:

* per customer: predicted vs actual repeat purchases in the holdout;
* by calibration frequency (0, 1, ..., 7+ repeat purchases): mean predicted vs mean actual, the
  conditional-expectation figure of the paper (their Figure 4);
* over time: cumulative repeat purchases of the whole cohort, actual vs predicted, period by
  period through calibration and holdout (the tracking plot, their Figure 2);
* errors: MAE, RMSE and bias (mean predicted minus actual) of the per-customer predictions;
* model choice: log-likelihood, AIC, BIC and holdout errors side by side, and a recommendation
  that says why.

The calibration/holdout split is lifetimes' ``calibration_and_holdout_data``: calibration up to
the day before ``holdout_start``, holdout from it to ``holdout_end``; customers whose first
purchase falls in the holdout are not in the calibration sample and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._clean import _as_1d, _blank_mask, clean_dates
from .._errors import KpiInputError
from ._inputs import check_time_unit
from ._registry import PURCHASE_MODELS, _check_model_name
from .summary import period_index, period_length, rfm_summary

#: Calibration-frequency buckets of the conditional-expectation table: 0 .. 6 and "7+" as in FHL
#: 2005a, Figure 4.
MAX_FREQUENCY_BUCKET = 7


def _day(value: Any, argument: str) -> np.datetime64:
    when, blank = clean_dates([value], argument=argument)
    if blank[0]:
        raise KpiInputError(f"{argument} is blank; give a date", argument=argument)
    return when.astype("datetime64[D]")[0]


@dataclass(frozen=True)
class _Split:
    """Calibration summary, holdout counts and the days of every repeat purchase (for tracking)."""

    summary: pd.DataFrame
    first_period: np.ndarray  # per calibration customer, in model time since the cohort start
    repeat_times: np.ndarray  # every repeat purchase of calibration customers, same axis
    calibration_end: np.datetime64
    holdout_end: np.datetime64
    duration: float
    n_periods: int  # periods from the cohort's first purchase to the holdout end, rounded up
    calibration_length: float  # time from the cohort's first purchase to the end of calibration


def _split(customer_ids: Any, dates: Any, holdout_start: Any, holdout_end: Any, unit: str) -> _Split:
    ids = _as_1d(customer_ids, "customer_ids")
    when, date_blank = clean_dates(dates, argument="dates")
    if ids.size != when.size:
        raise KpiInputError(
            f"give one date per transaction: customer_ids has {ids.size} values, dates {when.size}",
            argument="dates",
        )
    keep = ~(_blank_mask(ids) & date_blank)
    start = _day(holdout_start, "holdout_start")
    cal_end = start - np.timedelta64(1, "D")
    day = when.astype("datetime64[D]")
    valid = keep & ~date_blank
    end = day[valid].max() if holdout_end is None and valid.any() else None
    end = _day(holdout_end, "holdout_end") if holdout_end is not None else end
    if end is None or end < start:
        raise KpiInputError(
            f"the holdout period from {start} has no days: the last transaction is on "
            f"{day[valid].max() if valid.any() else 'no date'}; choose an earlier holdout_start",
            argument="holdout_start",
            value=str(start),
            kind="empty",
        )
    in_cal = keep & (date_blank | (day <= cal_end))
    if not (in_cal & ~date_blank).any():
        raise KpiInputError(
            f"no transaction before holdout_start {start}: nothing to calibrate on",
            argument="holdout_start",
            value=str(start),
            kind="empty",
        )
    summary = rfm_summary(ids[in_cal], when[in_cal], time_unit=unit, observation_end=cal_end)
    late = keep & ~date_blank & (day > end)
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise KpiInputError(
            argument="dates",
            position=i + 1,
            value=str(day[i]),
            what=str(day[i]),
            reason=f"is after holdout_end {end}; filter the log or move holdout_end",
        )
    length = period_length(unit)
    period = period_index(day[valid], unit)
    codes = summary.index.get_indexer(ids[valid])
    known = codes >= 0
    # Distinct (customer, period) purchases of calibration customers: the first of each customer
    # is not a repeat purchase; the rest are, in calibration or holdout.
    pairs = np.unique(np.column_stack([codes[known], period[known]]), axis=0)
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    cal_end_p = int(period_index(np.array([cal_end]), unit)[0])
    end_p = int(period_index(np.array([end]), unit)[0])
    holdout_counts = np.bincount(pairs[~first & (pairs[:, 1] > cal_end_p), 0], minlength=len(summary)).astype(
        float
    )
    start_p = int(pairs[first, 1].min())
    table = summary.rename(columns={"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal"})
    table["frequency_holdout"] = holdout_counts
    duration = (end_p - cal_end_p) / length
    table["duration_holdout"] = duration
    return _Split(
        summary=table,
        first_period=(pairs[first, 1] - start_p) / length,
        repeat_times=(pairs[~first, 1] - start_p) / length,
        calibration_end=cal_end,
        holdout_end=end,
        duration=duration,
        n_periods=int(math.ceil((end_p - start_p + 1) / length - 1e-9)),
        calibration_length=(cal_end_p - start_p + 1) / length,
    )


def calibration_holdout_summary(
    customer_ids: Any,
    dates: Any,
    *,
    holdout_start: Any,
    time_unit: str | None = None,
    holdout_end: Any = None,
) -> pd.DataFrame:
    """Per-customer calibration summary and holdout repeat purchases.

    Calibration is every transaction before ``holdout_start`` (summarised as :func:`rfm_summary`
    does, observation ending the day before); the holdout runs from ``holdout_start`` to
    ``holdout_end`` (default the last transaction). Customers first seen in the holdout are left
    out.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency_cal``, ``recency_cal``, ``T_cal``,
        ``frequency_holdout`` (distinct purchase days - or calendar buckets - in the holdout),
        ``duration_holdout`` (its length in ``time_unit``). lifetimes'
        ``calibration_and_holdout_data(..., freq="D", freq_multiplier=7)`` for ``"week"``.

    Examples
    --------
    A buys on 1, 8 and 20 Jan; the holdout starts 15 Jan and ends 28 Jan: one repeat purchase
    (8 Jan) in calibration, recency 1 week, T 13/7 weeks; one in the holdout, 2 weeks long.

    >>> calibration_holdout_summary(["A", "A", "A"], ["2025-01-01", "2025-01-08", "2025-01-20"],
    ...     holdout_start="2025-01-15", holdout_end="2025-01-28", time_unit="week").round(3).loc["A"].tolist()
    [1.0, 1.0, 1.857, 1.0, 2.0]
    """
    unit = check_time_unit(time_unit)
    return _split(customer_ids, dates, holdout_start, holdout_end, unit).summary


def _information_criteria(model: Any, n: float) -> tuple[float, float]:
    k = len(model.param_names)
    ll = model.log_likelihood_
    return 2 * k - 2 * ll, k * math.log(n) - 2 * ll


def _recommend(table: pd.DataFrame) -> tuple[str, str]:
    """The model to use and why: the lowest holdout RMSE when a holdout was predicted (what a CLV
    needs is to predict what customers will do), else the lowest BIC (fit for the parameters
    spent); a tie within 1% of RMSE goes to the lower BIC, the simpler explanation of the data."""
    usable = table[table["converged"]]
    if usable.empty:
        return "", "no model converged on these data; no recommendation"
    by_bic = usable["bic"].idxmin()
    if "rmse" not in usable or usable["rmse"].isna().all():
        runner = usable["bic"].drop(by_bic)
        gap = (
            f", {runner.min() - usable.at[by_bic, 'bic']:.1f} below {runner.idxmin()}" if len(runner) else ""
        )
        return by_bic, f"{by_bic}: lowest BIC ({usable.at[by_bic, 'bic']:.1f}{gap}); no holdout was predicted"
    by_rmse = usable["rmse"].idxmin()
    best = usable.at[by_rmse, "rmse"]
    close = usable.index[usable["rmse"] <= best * 1.01]
    if by_bic in close:
        if by_bic == by_rmse:
            return by_bic, (
                f"{by_bic}: lowest holdout RMSE ({best:.4f}) and lowest BIC ({usable.at[by_bic, 'bic']:.1f})"
            )
        return by_bic, (
            f"{by_bic}: holdout RMSE within 1% of the best ({usable.at[by_bic, 'rmse']:.4f} vs {best:.4f} "
            f"for {by_rmse}) and lowest BIC ({usable.at[by_bic, 'bic']:.1f}): the best fit for its "
            "parameters predicts the holdout as well"
        )
    return by_rmse, (
        f"{by_rmse}: lowest holdout RMSE ({best:.4f}, vs {usable.at[by_bic, 'rmse']:.4f} for {by_bic}, "
        f"which has the lowest BIC); predicting unseen purchases is what a CLV relies on"
    )


@dataclass(frozen=True)
class HoldoutReport:
    """What :func:`clv_holdout` returns.

    Attributes
    ----------
    customers : DataFrame
        Per calibration customer: ``frequency_cal``, ``recency_cal``, ``T_cal``,
        ``frequency_holdout`` (actual), ``duration_holdout`` and ``predicted_<model>`` for each
        model (expected repeat purchases in the holdout).
    by_frequency : DataFrame
        Indexed by calibration frequency (``"0"`` .. ``"6"``, ``"7+"``): ``customers``, ``actual``
        (mean holdout purchases) and ``predicted_<model>`` (mean prediction).
    tracking : DataFrame
        Indexed by ``period`` 1 .. K since the cohort's first purchase: ``actual`` cumulative
        repeat purchases and ``predicted_<model>`` (sum over customers of the expected purchases
        of a new customer since their first purchase), ``holdout`` (True for holdout periods).
    comparison : DataFrame
        Per model: ``parameters``, ``log_likelihood``, ``aic``, ``bic``, ``mae``, ``rmse``,
        ``bias`` (mean predicted minus actual), ``predicted_total``, ``actual_total``,
        ``converged``.
    models : dict
        Model name -> fitted model (calibration data).
    recommended : str
        The recommended model's name ("" when none converged).
    recommendation : str
        Why.
    time_unit, calibration_end, holdout_end, duration :
        The split: the unit of every time, the last calibration day, the last holdout day and the
        holdout's length in ``time_unit``.
    """

    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    comparison: pd.DataFrame
    models: dict[str, Any]
    recommended: str
    recommendation: str
    time_unit: str
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp
    duration: float


def clv_holdout(
    customer_ids: Any,
    dates: Any,
    *,
    holdout_start: Any,
    time_unit: str | None = None,
    holdout_end: Any = None,
    models: tuple[str, ...] = ("bg/nbd", "mbg/nbd", "pareto/nbd"),
) -> HoldoutReport:
    r"""Fit each repeat-purchase model on the calibration period and validate it on the holdout.

    For each customer the prediction is the conditional expectation of the model's repeat
    purchases over the holdout's length given the calibration history (FHL 2005a, eq. 10 for
    BG/NBD); the tracking curve at period t sums over customers the unconditional expectation
    :math:`E[X(t - s_i)]` for a customer whose first purchase was at :math:`s_i` (their eq. 9).
    Errors per model, over the n calibration customers, with :math:`e_i` = predicted - actual:

    .. math::

        MAE = \frac{1}{n}\sum |e_i|, \quad RMSE = \sqrt{\frac{1}{n}\sum e_i^2}, \quad
        bias = \frac{1}{n}\sum e_i

    and, with k parameters and log-likelihood LL on the calibration data,
    :math:`AIC = 2k - 2LL`, :math:`BIC = k \ln n - 2LL`.

    Parameters
    ----------
    customer_ids, dates:
        The transaction log (one row per order).
    holdout_start:
        First day of the holdout; calibration is every day before it.
    time_unit:
        Required, as :func:`rfm_summary`.
    holdout_end:
        Last day of the holdout; default the last transaction date.
    models:
        Names from ``"bg/nbd"``, ``"mbg/nbd"``, ``"pareto/nbd"`` (default all three).

    Returns
    -------
    HoldoutReport

    Raises
    ------
    KpiInputError
        A bad date or time unit; no transactions before ``holdout_start`` or no days after it;
        a transaction after ``holdout_end``; an unknown model name; what the fitters reject.

    References
    ----------
    Fader, Hardie & Lee (2005a), section 5 and Figures 2-4; lifetimes 0.11.3,
    ``calibration_and_holdout_data``.

    Examples
    --------
    CDNOW, 39 weeks of calibration and 39 of holdout, BG/NBD only:

    >>> from kpi_xl.datasets import load_cdnow_transactions
    >>> tx = load_cdnow_transactions()
    >>> rep = clv_holdout(tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week",
    ...                   models=("bg/nbd",))
    >>> rep.duration, int(rep.customers["frequency_holdout"].sum())
    (39.0, 1882)
    """
    unit = check_time_unit(time_unit)
    names = list(dict.fromkeys(_check_model_name(m) for m in models))
    if not names:
        raise KpiInputError("give at least one model", argument="models", kind="empty")
    split = _split(customer_ids, dates, holdout_start, holdout_end, unit)
    table = split.summary.copy()
    x, tx, age = (table[c].to_numpy(dtype=float) for c in ("frequency_cal", "recency_cal", "T_cal"))
    actual = table["frequency_holdout"].to_numpy()
    n = float(x.size)
    fitted: dict[str, Any] = {}
    rows = []
    # The tracking grid: the end of each period since the cohort's first purchase.
    grid = np.arange(1, split.n_periods + 1, dtype=float)
    starts, start_counts = np.unique(split.first_period, return_counts=True)
    tracking = pd.DataFrame(
        {"actual": np.searchsorted(np.sort(split.repeat_times), grid, side="left").astype(float)},
        index=pd.Index(grid.astype(int), name="period"),
    )
    tracking["holdout"] = grid > split.calibration_length + 1e-9
    for name in names:
        model = PURCHASE_MODELS[name]().fit(x, tx, age, time_unit=unit)
        fitted[name] = model
        col = f"predicted_{name}"
        if model.converged and model.identified:
            table[col] = np.asarray(
                model.conditional_expected_purchases(split.duration, x, tx, age), dtype=float
            )
            since = np.clip(grid[:, None] - starts[None, :], 0.0, None)
            expected = np.asarray(model.expected_purchases_new_customer(since), dtype=float)
            tracking[col] = expected @ start_counts
        else:
            table[col] = np.nan
            tracking[col] = np.nan
        err = table[col].to_numpy() - actual
        aic, bic = _information_criteria(model, n)
        rows.append(
            {
                "model": name,
                "parameters": len(model.param_names),
                "log_likelihood": model.log_likelihood_,
                "aic": aic,
                "bic": bic,
                "mae": float(np.mean(np.abs(err))),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "bias": float(np.mean(err)),
                "predicted_total": float(np.sum(table[col])),
                "actual_total": float(actual.sum()),
                "converged": bool(model.converged and model.identified),
            }
        )
    comparison = pd.DataFrame(rows).set_index("model")
    recommended, why = _recommend(comparison)
    bucket = np.minimum(x, MAX_FREQUENCY_BUCKET).astype(int)
    labels = [str(b) if b < MAX_FREQUENCY_BUCKET else f"{MAX_FREQUENCY_BUCKET}+" for b in bucket]
    pred_cols = [f"predicted_{m}" for m in names]
    by_frequency = (
        table.assign(bucket=labels)
        .groupby("bucket", sort=False)
        .agg(
            customers=("frequency_holdout", "size"),
            actual=("frequency_holdout", "mean"),
            **{c: (c, "mean") for c in pred_cols},
        )  # fmt: skip
    )
    order = [str(b) for b in range(MAX_FREQUENCY_BUCKET)] + [f"{MAX_FREQUENCY_BUCKET}+"]
    by_frequency = by_frequency.reindex([b for b in order if b in by_frequency.index])
    by_frequency.index.name = "frequency_cal"
    return HoldoutReport(
        customers=table,
        by_frequency=by_frequency,
        tracking=tracking,
        comparison=comparison,
        models=fitted,
        recommended=recommended,
        recommendation=why,
        time_unit=unit,
        calibration_end=pd.Timestamp(split.calibration_end),
        holdout_end=pd.Timestamp(split.holdout_end),
        duration=split.duration,
    )


def compare_purchase_models(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    time_unit: str | None = None,
    models: tuple[str, ...] = ("bg/nbd", "mbg/nbd", "pareto/nbd"),
) -> tuple[pd.DataFrame, str, str]:
    """Fit each model to one (frequency, recency, T) summary and compare log-likelihood, AIC and
    BIC (no holdout: use :func:`clv_holdout` for holdout errors too).

    Returns
    -------
    (DataFrame, str, str)
        The table (per model: ``parameters``, ``log_likelihood``, ``aic``, ``bic``, ``converged``),
        the recommended model (lowest BIC) and why.
    """
    unit = check_time_unit(time_unit)
    rows = []
    for name in dict.fromkeys(_check_model_name(m) for m in models):
        model = PURCHASE_MODELS[name]().fit(frequency, recency, T, time_unit=unit)
        aic, bic = _information_criteria(model, model.n_customers_)
        rows.append(
            {
                "model": name,
                "parameters": len(model.param_names),
                "log_likelihood": model.log_likelihood_,
                "log_likelihood_unit": model.log_likelihood_unit,
                "aic": aic,
                "bic": bic,
                "converged": bool(model.converged and model.identified),
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    recommended, why = _recommend(table)
    return table, recommended, why
