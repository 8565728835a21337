"""Each engine entry point taking counts, sums or a summary gives exactly the result of the
row-level function on the rows behind them, and refuses bad counts with a clear message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import (
    KpiInputError,
    average_order_value,
    average_order_value_from_moments,
    ces,
    ces_from_counts,
    csat,
    csat_from_counts,
    historical_clv,
    historical_clv_from_moments,
    historical_clv_from_revenue,
    nps,
    nps_from_counts,
    predict_clv,
    predict_clv_from_summary,
    purchase_frequency,
    purchase_frequency_from_counts,
    repeat_purchase_rate,
    repeat_purchase_rate_from_counts,
    rfm_summary,
    satisfaction_mean,
    satisfaction_mean_from_counts,
)

RNG = np.random.default_rng(5)


def _with_blanks(values, n_blank):
    return list(values) + [None] * n_blank


def _assert_same(a, b):
    """Identical results: value, n, n_dropped, se, interval, components, warnings."""
    assert a == b, (a, b)


# ---- survey: hand-checked histograms ----------------------------------------------------------


def test_nps_from_counts_hand_checked():
    # 4 promoters (10, 10, 9, 9), 1 passive (7), 3 detractors (6, 3, 0) of 8: 100 (4/8 - 3/8) = 12.5.
    got = nps_from_counts({10: 2, 9: 2, 7: 1, 6: 1, 3: 1, 0: 1}, n_dropped=2)
    assert got.value == 12.5
    assert got.n_used == 8 and got.n_dropped == 2
    assert got.components["promoters"] == 4 and got.components["detractors"] == 3
    _assert_same(got, nps([10, 10, 9, 9, 7, 6, 3, 0, None, ""]))


def test_csat_and_mean_from_counts_hand_checked():
    # 1-5 answers: 5 x3, 4 x4, 3, 2, 1: 7 of 10 satisfied; mean (15 + 16 + 3 + 2 + 1) / 10 = 3.7.
    counts = pd.Series([3, 4, 1, 1, 1], index=[5, 4, 3, 2, 1])
    got = csat_from_counts(counts)
    assert got.value == 0.7 and got.components["mean"] == pytest.approx(3.7)
    mean = satisfaction_mean_from_counts(counts)
    # s² = (Σx² - n·mean²)/(n-1) = (75 + 64 + 9 + 4 + 1 - 10·13.69)/9 = 16.1/9
    assert mean.value == pytest.approx(3.7)
    assert mean.se == pytest.approx(np.sqrt(16.1 / 9) / np.sqrt(10))


def test_ces_from_counts_hand_checked():
    # 7 x2, 6 x2, 5, 4, 3, 2: mean 40/8 = 5, agree 5/8, disagree 2/8.
    got = ces_from_counts({7: 2, 6: 2, 5: 1, 4: 1, 3: 1, 2: 1})
    assert (got.value, got.components["pct_agree"], got.components["pct_disagree"]) == (5.0, 0.625, 0.25)


# ---- survey: equal to the row-level function on random data -----------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 40, 5_000])
def test_survey_counts_equal_rows(n):
    for fn, fn_counts, scale, opts in (
        (nps, nps_from_counts, (0, 10), {}),
        (nps, nps_from_counts, (0, 10), {"method": "wald", "confidence": 0.9}),
        (csat, csat_from_counts, (1, 5), {}),
        (csat, csat_from_counts, (1, 7), {"threshold": 5}),
        (satisfaction_mean, satisfaction_mean_from_counts, (1, 5), {}),
        (ces, ces_from_counts, (1, 7), {}),
        (ces, ces_from_counts, (1, 5), {"higher_is_easier": False}),
    ):
        scores = RNG.integers(scale[0], scale[1] + 1, n)
        rows = fn(_with_blanks(scores, 3), scale=scale, **opts)
        counts = pd.Series(scores).value_counts()
        _assert_same(fn_counts(counts, n_dropped=3, scale=scale, **opts), rows)
        # A dict with float keys and zero counts is the same histogram.
        as_dict = {float(k): int(v) for k, v in counts.items()}
        as_dict.setdefault(float(scale[1]), 0)
        _assert_same(fn_counts(as_dict, n_dropped=3, scale=scale, **opts), rows)


def test_survey_counts_empty_is_empty():
    for fn in (nps_from_counts, csat_from_counts, satisfaction_mean_from_counts, ces_from_counts):
        with pytest.raises(KpiInputError) as err:
            fn({}, n_dropped=4)
        assert err.value.kind == "empty"


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ({11: 3}, "score 11 .entry 1. is not a whole-number score from 0 to 10"),
        ({9: 1, 8.5: 2}, "score 8.5 .entry 2."),
        ({"9": 1}, "score '9' .entry 1."),
        ({True: 1}, "score True"),
        ({9: -1}, "number of responses -1 for score 9 .entry 1. is not a whole number, 0 or more"),
        ({9: 1.5}, "number of responses 1.5"),
        ({9: None}, "number of responses None"),
        ({9: float("nan")}, "number of responses nan"),
    ],
)
def test_bad_counts_name_the_entry(counts, match):
    with pytest.raises(KpiInputError, match=match) as err:
        nps_from_counts(counts)
    assert err.value.kind == "invalid" and err.value.argument == "counts"


def test_counts_must_be_a_mapping_and_n_dropped_a_count():
    with pytest.raises(KpiInputError, match="must map each score"):
        csat_from_counts([5, 4, 3])
    with pytest.raises(KpiInputError, match="n_dropped"):
        csat_from_counts({5: 1}, n_dropped=-1)
    with pytest.raises(KpiInputError, match="n_dropped"):
        nps_from_counts({5: 1}, n_dropped=1.5)


def test_options_are_checked_as_on_rows():
    with pytest.raises(KpiInputError, match="breakpoints"):
        nps_from_counts({9: 1}, promoter_min=5, detractor_max=6)
    with pytest.raises(KpiInputError, match="threshold"):
        csat_from_counts({5: 1}, threshold=9)
    with pytest.raises(KpiInputError, match="confidence"):
        ces_from_counts({5: 1}, confidence=1.5)


# ---- AOV from moments ---------------------------------------------------------------------------


def test_aov_from_moments_hand_checked():
    # 20, 30, 70: mean 40, s² = (6200 - 120²/3) / 2 = 700, SE = √(700/3) = 15.275.
    got = average_order_value_from_moments(3, 120, 6_200, n_dropped=1)
    assert got.value == 40.0 and got.se == pytest.approx(np.sqrt(700 / 3))
    assert got.n_dropped == 1 and got.components == {"orders": 3, "revenue": 120.0}


def test_aov_from_moments_equals_rows():
    amounts = np.round(RNG.gamma(2.0, 30.0, 10_000), 2)
    rows = average_order_value(_with_blanks(amounts, 5), confidence=0.9)
    moments = average_order_value_from_moments(
        amounts.size, float(amounts.sum()), float(np.dot(amounts, amounts)), n_dropped=5, confidence=0.9
    )
    _assert_same(moments, rows)
    # One order: no interval, on both.
    _assert_same(average_order_value_from_moments(1, 25.0, 625.0), average_order_value([25.0]))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((2.5, 10, 50), "n must be a whole number"),
        ((-1, 10, 50), "n must be 0 or more"),
        ((2, float("nan"), 50), "total must be a finite number"),
        ((2, "10", 50), "total must be a number"),
        ((2, 10, 40), "total_of_squares 40 is less than total²/n = 50"),
    ],
)
def test_aov_bad_moments(args, match):
    with pytest.raises(KpiInputError, match=match):
        average_order_value_from_moments(*args)


def test_aov_no_orders_is_empty():
    with pytest.raises(KpiInputError) as err:
        average_order_value_from_moments(0, 0.0, 0.0, n_dropped=3)
    assert err.value.kind == "empty" and "3 value(s) skipped" in str(err.value)


# ---- historical CLV from revenue ----------------------------------------------------------------


def test_historical_clv_from_revenue_equals_rows():
    ids = RNG.integers(0, 300, 2_000)
    amounts = np.round(RNG.gamma(2.0, 30.0, ids.size), 2)
    rows = historical_clv(list(ids) + [None, 5], list(amounts) + [10.0, None], margin=0.3)
    frame = pd.DataFrame({"c": ids, "a": amounts})
    # Revenue per customer in first-appearance order, as the row-level function sums it.
    revenue = frame.groupby("c", sort=False)["a"].sum()
    got = historical_clv_from_revenue(revenue, orders=ids.size, margin=0.3, n_dropped=2)
    assert got.value == pytest.approx(rows.value, rel=1e-12)
    assert got.se == pytest.approx(rows.se, rel=1e-9)
    assert (got.n_used, got.n_dropped) == (rows.n_used, rows.n_dropped)
    assert got.components["customers"] == rows.components["customers"]
    assert got.components["orders"] == rows.components["orders"] == ids.size
    # The same revenues in the same order: exactly the same result.
    a_rows = historical_clv(["a", "a", "b"], [100, 50, 30], margin=0.4)
    _assert_same(historical_clv_from_revenue([150.0, 30.0], orders=3, margin=0.4), a_rows)


def test_historical_clv_from_revenue_bad_input():
    with pytest.raises(KpiInputError, match="value None at position 2 is not a revenue"):
        historical_clv_from_revenue([10, None], orders=2)
    with pytest.raises(KpiInputError, match="value -5 at position 1 is not a revenue of 0 or more"):
        historical_clv_from_revenue([-5, 10], orders=2)
    with pytest.raises(KpiInputError, match="orders is 1 but there are 2 customers"):
        historical_clv_from_revenue([5, 10], orders=1)
    with pytest.raises(KpiInputError) as err:
        historical_clv_from_revenue([], orders=0)
    assert err.value.kind == "empty"


# ---- repeat purchase and purchase frequency ----------------------------------------------------


def test_repeat_and_frequency_from_counts_equal_rows():
    ids = RNG.integers(0, 400, 3_000)
    days = RNG.integers(0, 60, ids.size)
    dates = pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D")
    ids_b, dates_b = list(ids) + [None, 7], list(dates) + [dates[0], None]
    frame = pd.DataFrame({"c": ids, "d": dates})
    orders = frame.groupby("c").size()
    purchase_days = frame.groupby("c")["d"].nunique()
    _assert_same(repeat_purchase_rate_from_counts(orders, n_dropped=2), repeat_purchase_rate(ids_b, dates_b))
    _assert_same(
        repeat_purchase_rate_from_counts(purchase_days, ids.size, count="days", n_dropped=2),
        repeat_purchase_rate(ids_b, dates_b, count="days"),
    )
    _assert_same(purchase_frequency_from_counts(orders, n_dropped=1), purchase_frequency(list(ids) + [None]))


def test_counts_of_counts_equal_rows():
    # What a database sends instead of one row per customer: each distinct (orders, days) with its
    # customers, and the revenue moments; the row-level functions on the order rows behind them.
    ids = RNG.integers(0, 400, 3_000)
    days = RNG.integers(0, 60, ids.size)
    amounts = np.round(RNG.gamma(2.0, 30.0, ids.size), 2)
    dates = pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D")
    frame = pd.DataFrame({"c": ids, "d": dates, "a": amounts})
    per = frame.groupby("c").agg(orders=("d", "size"), days=("d", "nunique"), revenue=("a", "sum"))
    buckets = per.groupby(["orders", "days"]).size().reset_index(name="customers")
    o, d, w = (buckets[c].to_numpy() for c in ("orders", "days", "customers"))
    _assert_same(repeat_purchase_rate_from_counts(o, weights=w), repeat_purchase_rate(ids, dates))
    _assert_same(
        repeat_purchase_rate_from_counts(d, int(o @ w), count="days", weights=w),
        repeat_purchase_rate(ids, dates, count="days"),
    )
    _assert_same(purchase_frequency_from_counts(o, weights=w), purchase_frequency(ids))
    revenue = per["revenue"].to_numpy()
    got = historical_clv_from_moments(
        revenue.size, revenue.sum(), revenue @ revenue, orders=ids.size, margin=0.3
    )
    rows = historical_clv(ids, amounts, margin=0.3)
    assert got.value == pytest.approx(rows.value, rel=1e-12) and got.se == pytest.approx(rows.se, rel=1e-9)
    assert (got.n_used, got.components["orders"]) == (rows.n_used, rows.components["orders"])
    with pytest.raises(KpiInputError, match="1 customer\\(s\\) have a revenue below 0"):
        historical_clv_from_moments(2, 5.0, 125.0, orders=2, negative=1)
    with pytest.raises(KpiInputError, match="weights must be 2 whole numbers"):
        purchase_frequency_from_counts([1, 2], weights=[1.5, 2])


def test_repeat_from_counts_hand_checked():
    # a 3 orders, b 1, c 2: 2 of 3 repeat; 6 orders / 3 customers = 2.
    got = repeat_purchase_rate_from_counts([3, 1, 2])
    assert got.value == pytest.approx(2 / 3) and got.components["purchase_frequency"] == 2.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: repeat_purchase_rate_from_counts([2, 0]), "value 0 at position 2 is not a whole number"),
        (lambda: repeat_purchase_rate_from_counts([2, 1.5]), "value 1.5 at position 2"),
        (lambda: repeat_purchase_rate_from_counts([2, None]), "value None at position 2"),
        (lambda: repeat_purchase_rate_from_counts([2, 1], 4), "must be equal to the 3 purchases"),
        (lambda: repeat_purchase_rate_from_counts([2, 1], count="days"), "needs orders_total"),
        (lambda: repeat_purchase_rate_from_counts([2, 1], 2, count="days"), "at least the 3"),
        (lambda: repeat_purchase_rate_from_counts([2], count="weeks"), "count must be"),
        (lambda: purchase_frequency_from_counts(["x"]), "value 'x' at position 1"),
    ],
)
def test_bad_purchase_counts(call, match):
    with pytest.raises(KpiInputError, match=match):
        call()


def test_no_customers_is_empty():
    for call in (lambda: repeat_purchase_rate_from_counts([]), lambda: purchase_frequency_from_counts([])):
        with pytest.raises(KpiInputError) as err:
            call()
        assert err.value.kind == "empty"


# ---- predictive CLV from a summary ---------------------------------------------------------------


def test_predict_clv_from_summary_equals_predict_clv():
    tx = load_cdnow_transactions()
    options = {"horizon": 52, "step": 52 / 12, "discount_rate": 0.01, "margin": 0.3}
    rows = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", **options)
    rfm = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")
    got = predict_clv_from_summary(rfm, time_unit="week", **options)
    pd.testing.assert_frame_equal(got.customers, rows.customers)
    assert got.settings == rows.settings and got.warnings == rows.warnings
    assert got.purchase_model.as_dict() == rows.purchase_model.as_dict()


def test_predict_clv_from_summary_bad_input():
    tx = load_cdnow_transactions()
    rfm = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")
    with pytest.raises(KpiInputError, match="no column 'monetary_value'"):
        predict_clv_from_summary(rfm.drop(columns="monetary_value"), time_unit="week", horizon=12)
    with pytest.raises(KpiInputError, match="summary is in weeks but time_unit is 'day'"):
        predict_clv_from_summary(rfm, time_unit="day", horizon=12)
    with pytest.raises(KpiInputError, match="time_unit"):
        predict_clv_from_summary(rfm, horizon=12)
    bad = rfm.copy()
    bad.iloc[0, bad.columns.get_loc("recency")] = bad["T"].iloc[0] + 5
    with pytest.raises(KpiInputError):
        predict_clv_from_summary(bad, time_unit="week", horizon=12)
