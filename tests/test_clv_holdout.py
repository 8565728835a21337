"""Holdout validation and model comparison on CDNOW (39 + 39 weeks), against lifetimes.

Independent figures: lifetimes 0.11.3's ``calibration_and_holdout_data`` (the split) and its
fitters' conditional expectations (the per-customer predictions); the tracking curve recomputed
customer by customer with lifetimes' unconditional expectation; the error measures by hand.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import KpiInputError, calibration_holdout_summary, clv_holdout, compare_purchase_models

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes
    from lifetimes.utils import calibration_and_holdout_data

COLUMNS = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]


@pytest.fixture(scope="module")
def tx():
    return load_cdnow_transactions()


@pytest.fixture(scope="module")
def report(tx):
    return clv_holdout(tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week")


@pytest.fixture(scope="module")
def lt_split(tx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calibration_and_holdout_data(
            tx[["customer_id", "date", "amount"]],
            "customer_id",
            "date",
            calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30",
            freq="D",
            freq_multiplier=7,
            monetary_value_col="amount",
        )


def test_split_equals_lifetimes_calibration_and_holdout_data(report, lt_split, tx):
    ours = report.customers
    assert ours.index.equals(lt_split.index) and len(ours) == 2357
    np.testing.assert_allclose(ours[COLUMNS].to_numpy(), lt_split[COLUMNS].to_numpy(), rtol=1e-12)
    assert report.duration == 39.0 and report.time_unit == "week"
    assert report.calibration_end == pd.Timestamp("1997-09-30")
    assert report.holdout_end == pd.Timestamp("1998-06-30")
    alone = calibration_holdout_summary(
        tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week"
    )
    pd.testing.assert_frame_equal(alone, ours[COLUMNS])


@pytest.mark.parametrize(
    ("name", "cls", "tol"),
    [
        ("bg/nbd", lifetimes.BetaGeoFitter, 1e-7),
        ("mbg/nbd", lifetimes.ModifiedBetaGeoFitter, 1e-7),
        # lifetimes' default tolerance stops Pareto/NBD short of the maximum; a tight one reaches it.
        ("pareto/nbd", lifetimes.ParetoNBDFitter, 1e-10),
    ],
)
def test_holdout_predictions_equal_lifetimes(report, lt_split, name, cls, tol):
    s = lt_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt = cls().fit(s["frequency_cal"], s["recency_cal"], s["T_cal"], tol=tol)
    expected = lt.conditional_expected_number_of_purchases_up_to_time(
        s["duration_holdout"], s["frequency_cal"], s["recency_cal"], s["T_cal"]
    )
    np.testing.assert_allclose(report.customers[f"predicted_{name}"], expected, rtol=1e-4, atol=1e-9)


def test_errors_buckets_and_tracking_by_hand(report, tx):
    c = report.customers
    actual = c["frequency_holdout"]
    for name, row in report.comparison.iterrows():
        err = c[f"predicted_{name}"] - actual
        assert row["mae"] == pytest.approx(err.abs().mean())
        assert row["rmse"] == pytest.approx(np.sqrt((err**2).mean()))
        assert row["bias"] == pytest.approx(err.mean())
        assert row["aic"] == pytest.approx(8 - 2 * row["log_likelihood"])
        assert row["bic"] == pytest.approx(4 * np.log(2357) - 2 * row["log_likelihood"])
    # FHL 2005a Figure 4: 0 .. 6 and 7+ repeat purchases in calibration.
    fb = report.by_frequency
    assert fb.index.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert fb["customers"].sum() == 2357 and fb.loc["0", "customers"] == 1411
    assert fb.loc["7+", "actual"] == pytest.approx(actual[c["frequency_cal"] >= 7].mean())
    # Tracking: 78 weeks; the actual curve ends at every repeat purchase day of the 2,357 customers.
    tr = report.tracking
    assert tr.index.tolist() == list(range(1, 79))
    assert tr["holdout"].sum() == 39 and not tr.loc[39, "holdout"] and tr.loc[40, "holdout"]
    assert tr["actual"].iloc[-1] == c["frequency_cal"].sum() + actual.sum()
    assert tr.loc[39, "actual"] == c["frequency_cal"].sum()
    # Predicted: sum over customers of lifetimes' E[X(t - s_i)], s_i the first purchase in weeks.
    first = tx.groupby("customer_id")["date"].min()
    s_i = ((first - first.min()).dt.days / 7).to_numpy()
    lt = lifetimes.BetaGeoFitter()
    lt.params_ = report.models["bg/nbd"].params_.copy()
    for week in (1, 20, 39, 78):
        since = np.clip(week - s_i, 0, None)
        expected = np.where(
            since > 0, lt.expected_number_of_purchases_up_to_time(np.maximum(since, 1e-12)), 0
        ).sum()
        assert tr.loc[week, "predicted_bg/nbd"] == pytest.approx(expected, rel=1e-6)


def test_model_comparison_and_recommendation(report, lt_split):
    comp = report.comparison
    assert comp.index.tolist() == ["bg/nbd", "mbg/nbd", "pareto/nbd"]
    # The published calibration log-likelihoods: BG/NBD -9582.4, Pareto/NBD -9595.0.
    assert round(comp.loc["bg/nbd", "log_likelihood"], 1) == -9582.4
    assert round(comp.loc["pareto/nbd", "log_likelihood"], 1) == -9595.0
    assert comp["converged"].all() and (comp["actual_total"] == 1882).all()
    assert report.recommended in comp.index
    assert report.recommendation.startswith(report.recommended + ":")
    assert "RMSE" in report.recommendation and "BIC" in report.recommendation
    table, best, why = compare_purchase_models(
        lt_split["frequency_cal"], lt_split["recency_cal"], lt_split["T_cal"], time_unit="week"
    )
    assert best == table["bic"].idxmin() and "lowest BIC" in why
    np.testing.assert_allclose(table["log_likelihood"], comp["log_likelihood"], rtol=1e-9)


def test_holdout_bad_input(tx):
    ids, dates = tx["customer_id"], tx["date"]
    with pytest.raises(KpiInputError, match="no transaction before holdout_start") as e:
        clv_holdout(ids, dates, holdout_start="1990-01-01", time_unit="week")
    assert e.value.kind == "empty"
    with pytest.raises(KpiInputError, match="has no days"):
        clv_holdout(ids, dates, holdout_start="1999-01-01", time_unit="week")
    with pytest.raises(KpiInputError, match="after holdout_end"):
        clv_holdout(ids, dates, holdout_start="1997-10-01", holdout_end="1998-01-01", time_unit="week")
    with pytest.raises(KpiInputError, match="model must be one of"):
        clv_holdout(ids, dates, holdout_start="1997-10-01", time_unit="week", models=("gamma",))
    with pytest.raises(KpiInputError, match="time_unit is required"):
        clv_holdout(ids, dates, holdout_start="1997-10-01")
