"""Predicted CLV: model choice, per-period schedule, intervals and per-segment fits.

Independent figures: lifetimes' ``customer_lifetime_value`` with its Pareto/NBD fitter, the
models' own conditional expectations step by step (schedule), and a delta-method standard error
computed here by numerical differentiation (intervals).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import (
    BetaGeoFitter,
    GammaGammaFitter,
    KpiInputError,
    predict_clv,
    predict_clv_by_segment,
    predict_clv_from_summary,
    rfm_summary,
)
from kpi_xl.metrics.clv._discount import _discounted_purchases

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes

CAL_END = "1997-09-30"


@pytest.fixture(scope="module")
def cal():
    tx = load_cdnow_transactions()
    return tx[tx["date"] <= CAL_END]


def test_pareto_nbd_clv_matches_lifetimes(cal):
    # lifetimes' customer_lifetime_value(time=12, discount_rate=0.01, freq="W") is 12 monthly steps
    # of 4.345 weeks, 1% a month, with any model that has a conditional expectation.
    out = predict_clv(
        cal["customer_id"], cal["date"], cal["amount"], time_unit="week", horizon=12 * 4.345, step=4.345,
        discount_rate=0.01, observation_end=CAL_END, model="pareto/nbd",
    )  # fmt: skip
    assert out.settings.model == "pareto/nbd" and out.purchase_model.model_name == "Pareto/NBD"
    c = out.customers
    f, r, T, m = (c[k] for k in ("frequency", "recency", "T", "monetary_value"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pnbd = lifetimes.ParetoNBDFitter().fit(f, r, T, tol=1e-10)
        gg = lifetimes.GammaGammaFitter().fit(f[f > 0], m[f > 0])
        expected = gg.customer_lifetime_value(pnbd, f, r, T, m, time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(c["clv"], expected, rtol=1e-4)


def test_schedule_adds_up_and_follows_the_model_step_by_step(cal):
    out = predict_clv(
        cal["customer_id"], cal["date"], cal["amount"], time_unit="month", horizon=12, step=1,
        discount_rate=0.02, margin=0.3, observation_end=CAL_END,
    )  # fmt: skip
    c = out.customers
    everyone = out.schedule()
    assert everyone.index.tolist() == list(range(1, 13)) and everyone["end"].tolist() == list(range(1, 13))
    assert everyone["discounted_value"].sum() == pytest.approx(c["clv"].sum(), rel=1e-10)
    assert everyone["cumulative_discounted_value"].iloc[-1] == pytest.approx(c["clv"].sum(), rel=1e-10)
    # Customer 1, step by step: E[X(k)] - E[X(k-1)] from the fitted model, times spend x margin / 1.02^k.
    bg = out.purchase_model
    row = c.loc[1]
    cum = [0.0] + [
        bg.conditional_expected_purchases(k, row["frequency"], row["recency"], row["T"]) for k in range(1, 13)
    ]
    step = np.diff(cum)
    one = out.schedule(1)
    np.testing.assert_allclose(one["expected_purchases"], step, rtol=1e-10)
    np.testing.assert_allclose(one["value"], step * row["expected_average_value"] * 0.3, rtol=1e-10)
    np.testing.assert_allclose(one["discount_factor"], 1.02 ** -np.arange(1, 13), rtol=1e-12)
    assert one["discounted_value"].sum() == pytest.approx(row["clv"], rel=1e-10)
    segment = out.schedule([1, 2, 3])
    assert segment["discounted_value"].sum() == pytest.approx(c.loc[[1, 2, 3], "clv"].sum(), rel=1e-10)
    with pytest.raises(KpiInputError, match="customer 999999 is not in the prediction"):
        out.schedule(999999)


def test_intervals_bracket_the_estimate_and_agree_with_the_delta_method(cal):
    settings = dict(time_unit="week", horizon=26, step=13, discount_rate=0.02, observation_end=CAL_END)
    out = predict_clv(cal["customer_id"], cal["date"], cal["amount"], interval=0.9, **settings)
    c = out.customers
    assert (c["clv_low"] <= c["clv"] * (1 + 1e-9)).all() and (c["clv"] <= c["clv_high"] * (1 + 1e-9)).all()
    low, high = out.total_interval
    total = c["clv"].sum()
    assert low < total < high
    assert "Krinsky" in out.interval_method and out.settings.interval == 0.9
    # Delta method on the total: gradient in the 7 log-parameters by central differences.
    x, r, T, m = (c[k].to_numpy() for k in ("frequency", "recency", "T", "monetary_value"))
    bg, gg = out.purchase_model, out.spend_model
    theta = np.concatenate([bg.params_, gg.params_])

    def total_clv(logp):
        b = BetaGeoFitter.from_params(*np.exp(logp[:4]), time_unit="week")
        g = GammaGammaFitter.from_params(*np.exp(logp[4:]))
        spend = np.asarray(g.conditional_expected_average_profit(x, m))
        return float((spend * _discounted_purchases(b, x, r, T, 2, 13.0, 0.02)).sum())

    logp = np.log(theta)
    grad = np.array([(total_clv(logp + e) - total_clv(logp - e)) / 2e-5 for e in np.eye(7) * 1e-5])
    cov = np.zeros((7, 7))
    cov[:4, :4] = bg.covariance_.to_numpy() / np.outer(theta[:4], theta[:4])
    cov[4:, 4:] = gg.covariance_.to_numpy() / np.outer(theta[4:], theta[4:])
    half = stats.norm.ppf(0.95) * np.sqrt(grad @ cov @ grad)
    # 200 draws estimate a 90% interval's half-width to roughly +-10%.
    assert (high - low) / 2 == pytest.approx(half, rel=0.2)


def test_per_segment_fits(cal):
    ids = cal["customer_id"]
    labels = np.where(ids < 15, "tiny", np.where(ids % 2 == 0, " Even", "odd"))
    labels = np.where((ids % 2 == 0) & (ids > 2000), "EVEN ", labels)  # same segment, other spelling
    out = predict_clv_by_segment(
        ids, cal["date"], cal["amount"], labels, time_unit="week", horizon=12, observation_end=CAL_END,
        min_customers=100,
    )  # fmt: skip
    t = out.table
    assert t["customers"].sum() == ids.nunique()
    assert set(t.index) == {"Even", "odd", "tiny"}
    # Each segment's row is predict_clv on that segment's customers alone.
    odd = ids[(ids >= 15) & (ids % 2 == 1)]
    rows = cal[cal["customer_id"].isin(odd)]
    alone = predict_clv(rows["customer_id"], rows["date"], rows["amount"], time_unit="week", horizon=12,
                        observation_end=CAL_END)  # fmt: skip
    assert t.loc["odd", "clv_total"] == pytest.approx(alone.customers["clv"].sum(), rel=1e-9)
    assert t.loc["odd", "r"] == pytest.approx(alone.purchase_model.params_["r"], rel=1e-9)
    # 14 customers: flagged small; too few repeat customers for Gamma-Gamma: not fitted, says why.
    assert bool(t.loc["tiny", "small"]) and not bool(t.loc["odd", "small"])
    assert t.loc["tiny", "status"].startswith("not fitted: ") and np.isnan(t.loc["tiny", "clv_total"])
    assert "tiny" not in out.predictions and t.loc["odd", "status"] == "fitted"
    with pytest.raises(KpiInputError, match="time_unit is required"):
        predict_clv_by_segment(ids, cal["date"], cal["amount"], labels, horizon=12)
    with pytest.raises(KpiInputError, match="one segment per transaction"):
        predict_clv_by_segment(ids, cal["date"], cal["amount"], labels[:5], time_unit="week", horizon=12)


def test_per_segment_customers_follow_the_one_id_rule(cal):
    # The same customers typed as numbers in some rows and as padded text in others (an Excel
    # range mixing 1001 and "1001 "): one customer each, so the segments count and fit exactly as
    # with clean ids.
    ids = cal["customer_id"].to_numpy()
    labels = np.where(ids % 2 == 0, "even", "odd")
    mixed = np.where(np.arange(ids.size) % 3 == 0, [f"{i} " for i in ids], ids.astype(object))
    clean = predict_clv_by_segment(ids, cal["date"], cal["amount"], labels, time_unit="week", horizon=12)
    messy = predict_clv_by_segment(mixed, cal["date"], cal["amount"], labels, time_unit="week", horizon=12)
    assert messy.table["customers"].to_dict() == clean.table["customers"].to_dict()
    assert messy.table["customers"].sum() == len(set(ids))
    # Text ids sort in another order, so the optimiser sees the customers in another order and
    # stops within its tolerance: the 8th significant digit may move, not more.
    np.testing.assert_allclose(messy.table["clv_total"], clean.table["clv_total"], rtol=1e-7)


def test_model_and_interval_arguments_are_checked(cal):
    args = (cal["customer_id"], cal["date"], cal["amount"])
    with pytest.raises(KpiInputError, match="model must be one of"):
        predict_clv(*args, time_unit="week", horizon=12, model="gamma")
    with pytest.raises(KpiInputError, match="interval must be a level between 0 and 1"):
        predict_clv(*args, time_unit="week", horizon=12, interval=90)
    summary = rfm_summary(*args, time_unit="week")
    assert list(summary.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert pd.api.types.is_float_dtype(summary["T"])


def test_segment_schedules_come_from_each_segments_own_fit(cal):
    ids = cal["customer_id"]
    labels = np.where(ids < 15, "tiny", np.where(ids % 2 == 0, "Even", "odd"))
    settings = {
        "time_unit": "week",
        "horizon": 12,
        "step": 4,
        "discount_rate": 0.01,
        "observation_end": CAL_END,
    }
    out = predict_clv_by_segment(ids, cal["date"], cal["amount"], labels, **settings)
    alone = {}
    for name, keep in (("odd", (ids >= 15) & (ids % 2 == 1)), ("Even", (ids >= 15) & (ids % 2 == 0))):
        rows = cal[keep.to_numpy()]
        alone[name] = predict_clv(rows["customer_id"], rows["date"], rows["amount"], **settings)
    # A segment's schedule is the schedule of that segment fitted alone; the label is matched trimmed
    # and case-insensitively.
    odd = out.schedule(" ODD")
    pd.testing.assert_frame_equal(odd, alone["odd"].schedule(), rtol=1e-9)
    assert odd["discounted_value"].sum() == pytest.approx(out.table.loc["odd", "clv_total"], rel=1e-9)
    # Customers from two segments: each valued by their own segment's fit, the steps added.
    both = out.schedule(customers=[17, "16"])
    expected = alone["odd"].schedule(17)["discounted_value"] + alone["Even"].schedule(16)["discounted_value"]
    np.testing.assert_allclose(both["discounted_value"], expected, rtol=1e-9)
    assert both["cumulative_discounted_value"].iloc[-1] == pytest.approx(
        alone["odd"].customers.loc[17, "clv"] + alone["Even"].customers.loc[16, "clv"], rel=1e-9
    )
    wide = out.schedules()
    assert list(wide.columns) == ["odd", "Even"] and len(wide) == 3
    np.testing.assert_allclose(wide["Even"], alone["Even"].schedule()["discounted_value"], rtol=1e-9)
    everyone = out.customers
    assert len(everyone) == ids[ids >= 15].nunique() and set(everyone["segment"]) == {"odd", "Even"}
    with pytest.raises(KpiInputError, match="segments are 'odd', 'Even', 'tiny'"):
        out.schedule("west")
    with pytest.raises(KpiInputError, match="segment 'tiny' has no CLV: not fitted"):
        out.schedule("Tiny")
    with pytest.raises(KpiInputError, match="customer 3 is in no fitted segment"):
        out.schedule(customers=[3])


def test_customers_are_found_as_typed_and_the_total_carries_its_interval(cal):
    out = predict_clv(
        cal["customer_id"], cal["date"], cal["amount"], time_unit="week", horizon=12, interval=0.8,
        observation_end=CAL_END,
    )  # fmt: skip
    pd.testing.assert_frame_equal(out.schedule(" 7"), out.schedule(7))
    pd.testing.assert_frame_equal(out.schedule(7.0), out.schedule(7))
    with pytest.raises(KpiInputError, match="customer 'C7' is not in the prediction"):
        out.schedule("C7")
    total = out.total()
    assert total["customers"] == 2357 and total["clv"] == pytest.approx(out.customers["clv"].sum(), rel=1e-12)
    assert (total["clv_low"], total["clv_high"]) == out.total_interval
    assert total["clv_low"] < total["clv"] < total["clv_high"] and total["interval"] == 0.8
    assert "Krinsky" in total["interval_method"]


def test_schedule_of_purchase_patterns_counts_each_customer(cal):
    # The database path predicts once per distinct (frequency, recency, T, spend) with the customers on it
    # as weights: its schedule must be the per-customer one.
    rfm = rfm_summary(
        cal["customer_id"], cal["date"], cal["amount"], time_unit="week", observation_end=CAL_END
    )
    keys = ["frequency", "recency", "T", "monetary_value"]
    patterns = rfm.groupby(keys).size().rename("weight").reset_index()
    patterns.attrs = dict(rfm.attrs)
    settings = {"time_unit": "week", "horizon": 12}
    per = predict_clv_from_summary(rfm, **settings)
    pat = predict_clv_from_summary(patterns[keys], weights=patterns["weight"].to_numpy(), **settings)
    pat = pat.with_customers(pat.customers.assign(weight=patterns["weight"].to_numpy()))
    pd.testing.assert_frame_equal(pat.schedule(), per.schedule(), rtol=1e-7)
    assert pat.total()["customers"] == 2357
    assert pat.total()["clv"] == pytest.approx(per.customers["clv"].sum(), rel=1e-7)
    with pytest.raises(KpiInputError, match="one row per purchase pattern"):
        pat.schedule(7)


@pytest.mark.parametrize("model", ["bg/nbd", "mbg/nbd"])
@pytest.mark.parametrize("held", [True, False])
def test_interval_draws_per_pattern_equal_the_draws_per_customer(cal, model, held, monkeypatch):
    # The interval evaluates each parameter draw once per distinct history; here every draw is
    # evaluated customer by customer (the models' own discounted sum per customer), with the same
    # seed and draws, and the per-customer and total quantiles taken by hand. Without held
    # patterns (a log with too many distinct histories) blocks of 500 customers are evaluated.
    from kpi_xl.metrics.clv import predict as predict_module

    if not held:
        monkeypatch.setattr(predict_module, "_HELD", 0)
        monkeypatch.setattr(predict_module, "_BLOCK", 500)
    settings = dict(time_unit="week", horizon=26, step=13, discount_rate=0.02, observation_end=CAL_END)
    out = predict_clv(cal["customer_id"], cal["date"], cal["amount"], interval=0.9, model=model, **settings)
    c = out.customers
    x, r, T, m = (c[k].to_numpy() for k in ("frequency", "recency", "T", "monetary_value"))
    rng = np.random.default_rng(20260101)
    pm = predict_module._draw_models(out.purchase_model, 200, rng)
    sm = predict_module._draw_models(out.spend_model, 200, rng)
    clv = np.array(
        [
            np.asarray(g.conditional_expected_average_profit(x, m))
            * _discounted_purchases(b, x, r, T, 2, 13.0, 0.02)
            for b, g in zip(pm, sm)
            if g.params_["q"] > 1
        ]
    )
    low, high = np.quantile(clv, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(c["clv_low"], low, rtol=1e-12, atol=0)
    np.testing.assert_allclose(c["clv_high"], high, rtol=1e-12, atol=0)
    np.testing.assert_allclose(out.total_interval, np.quantile(clv.sum(axis=1), [0.05, 0.95]), rtol=1e-12)
