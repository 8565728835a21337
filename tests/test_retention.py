"""Retention metrics against hand calculations, scipy's Wilson interval and the CDNOW master data."""

import datetime as dt
import importlib.resources
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kpi_xl.metrics import (
    KpiInputError,
    annual_churn,
    churn_from_records,
    churn_rate,
    cohort_retention,
    convert_churn,
    monthly_churn,
    purchase_frequency,
    repeat_purchase_rate,
    retention_from_records,
    retention_rate,
)


def _wilson(k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


# ---------------------------------------------------------------- retention and churn from counts


def test_retention_rate_is_end_minus_new_over_start():
    # S=1000, N=150, E=1030: CRR = (1030 - 150) / 1000 = 880 / 1000 = 0.88.
    r = retention_rate(1000, 1030, 150)
    assert r.value == pytest.approx(0.88)
    assert r.unit == "share" and r.n_used == 1000
    assert r.components["retained"] == 880
    assert r.components["lost"] == 120  # 1000 + 150 - 1030
    assert r.components["churn_start"] == pytest.approx(0.12)
    low, high = _wilson(880, 1000)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert r.method == "wilson"


def test_retention_rate_accepts_counts_stored_as_text():
    assert retention_rate("1000", "1030.0", " 150 ").value == pytest.approx(0.88)


def test_retention_rate_zero_start_is_zero_base():
    with pytest.raises(KpiInputError) as info:
        retention_rate(0, 10, 10)
    assert info.value.kind == "zero-base"
    assert info.value.argument == "customers_start"


def test_retention_rate_rejects_more_new_than_end_customers():
    # N=200 > E=150 would give a negative retention: inconsistent counts.
    with pytest.raises(KpiInputError, match=r"new_customers \(200\) is more than customers_end \(150\)"):
        retention_rate(100, 150, 200)


def test_retention_rate_rejects_end_above_start_plus_new():
    with pytest.raises(KpiInputError, match=r"customers_end \(300\)"):
        retention_rate(100, 300, 150)


@pytest.mark.parametrize("bad", [-5, 10.5, True, "ten", float("inf"), [1, 2]])
def test_counts_must_be_whole_non_negative_numbers(bad):
    with pytest.raises(KpiInputError) as info:
        retention_rate(bad, 100, 10)
    assert info.value.argument == "customers_start"
    assert info.value.kind == "invalid"


@pytest.mark.parametrize("blank", [None, "", "  ", float("nan")])
def test_blank_count_is_empty(blank):
    with pytest.raises(KpiInputError) as info:
        retention_rate(1000, blank, 150)
    assert info.value.kind == "empty"
    assert info.value.argument == "customers_end"


def test_churn_rate_start_base_is_lost_over_start():
    # lost = S + N - E = 1000 + 150 - 1030 = 120; start base 120 / 1000 = 0.12.
    r = churn_rate(1000, customers_end=1030, new_customers=150)
    assert r.value == pytest.approx(0.12)
    assert r.components["lost"] == 120
    low, high = _wilson(120, 1000)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))
    # Start-based churn is the complement of CRR for the same counts.
    assert r.value == pytest.approx(1 - retention_rate(1000, 1030, 150).value)


def test_churn_rate_average_base_is_lost_over_mean_of_start_and_end():
    # Average base (1000 + 1030) / 2 = 1015; 120 / 1015 = 0.118226...
    r = churn_rate(1000, customers_end=1030, new_customers=150, base="average")
    assert r.value == pytest.approx(120 / 1015)
    assert round(r.value, 3) == 0.118
    assert r.components["average_base"] == 1015
    assert r.components["churn_start"] == pytest.approx(0.12)
    assert r.ci_low is None and r.se is None  # not a share of a fixed cohort


def test_churn_rate_with_lost_given_directly():
    r = churn_rate(1000, 120)
    assert r.value == pytest.approx(0.12)
    assert r.components["customers_end"] is None and r.components["churn_average"] is None
    with pytest.raises(KpiInputError, match="needs customers_end") as info:
        churn_rate(1000, 120, base="average")
    assert info.value.kind == "empty"


def test_churn_rate_derives_the_missing_count():
    # lost=120, E=1030 -> N = E + lost - S = 150; lost=120, N=150 -> E = S + N - lost = 1030.
    r = churn_rate(1000, 120, customers_end=1030)
    assert r.components["new_customers"] == 150
    r = churn_rate(1000, 120, new_customers=150, base="average")
    assert r.components["customers_end"] == 1030
    assert r.value == pytest.approx(120 / 1015)


def test_churn_rate_rejects_counts_that_disagree():
    # 1000 + 150 - 100 = 1050, not 1030.
    with pytest.raises(KpiInputError, match="1000 \\+ 150 - 100 = 1050, but customers_end is 1030"):
        churn_rate(1000, 100, customers_end=1030, new_customers=150)


def test_churn_rate_rejects_more_lost_than_starting_customers():
    with pytest.raises(KpiInputError, match=r"customers lost \(120\) is more than customers_start \(100\)"):
        churn_rate(100, 120)
    # Derived: lost = 100 + 200 - 180 = 120 > 100.
    with pytest.raises(KpiInputError, match="more than customers_start"):
        churn_rate(100, customers_end=180, new_customers=200)


def test_churn_rate_needs_lost_or_end_and_new():
    with pytest.raises(KpiInputError, match="give customers_lost"):
        churn_rate(1000, customers_end=1030)


def test_churn_rate_zero_start_and_bad_base():
    with pytest.raises(KpiInputError) as info:
        churn_rate(0, 0, customers_end=5, new_customers=5)
    assert info.value.kind == "zero-base"
    with pytest.raises(KpiInputError, match="base must be"):
        churn_rate(1000, 120, base="end")


# ---------------------------------------------------------------- churn and retention from records

# Period: 2025-01-01 .. 2025-01-31, both days included.
_RECORDS = [
    ("2024-03-01", None),  # A: in S, still active -> in E
    ("2024-06-01", "2025-01-10"),  # B: in S, lost
    ("2025-01-05", "2025-01-20"),  # C: new, lost inside the period
    ("2025-01-15", None),  # D: new, in E
    ("2024-01-01", "2024-12-31"),  # F: ended the day before the period: outside
    ("2024-05-01", "2025-01-01"),  # G: ended on period_start: was in S, lost
    ("2024-07-01", "2025-01-31"),  # H: ended on period_end (inclusive): in S, lost
    ("2025-01-01", None),  # I: signed up on period_start: new, not in S; in E
    ("2025-01-31", "2025-02-05"),  # J: signed up on period_end, ends after: new, in E
    ("2025-02-03", None),  # K: signed up after the period: outside
    ("2024-12-31", "2025-02-01"),  # L: in S, ends after the period: in E
    (None, None),  # padding row: skipped and counted
]
_STARTS = [s for s, _ in _RECORDS]
_ENDS = [e for _, e in _RECORDS]
_PERIOD = {"period_start": "2025-01-01", "period_end": "2025-01-31"}


def test_records_classify_start_new_lost_and_end_customers():
    # S = {A,B,G,H,L} = 5, lost from S = {B,G,H} = 3, N = {C,D,I,J} = 4, lost new = {C} = 1,
    # E = {A,D,I,J,L} = 5 (= 5 - 3 + 4 - 1), outside = {F,K} = 2, one blank row dropped.
    r = churn_from_records(_STARTS, _ENDS, **_PERIOD)
    c = r.components
    assert (c["customers_start"], c["lost_from_start"], c["new_customers"], c["lost_new"]) == (5, 3, 4, 1)
    assert (c["customers_end"], c["outside_period"]) == (5, 2)
    assert r.n_dropped == 1


def test_churn_from_records_start_base_is_lost_from_start_over_start():
    # 3 / 5 = 0.6, Wilson interval of 3 out of 5.
    r = churn_from_records(_STARTS, _ENDS, **_PERIOD)
    assert r.value == pytest.approx(0.6)
    assert r.n_used == 5
    low, high = _wilson(3, 5)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert r.small_sample


def test_churn_from_records_average_base_counts_all_lost_over_mean_size():
    # all lost = 3 + 1 = 4; (S + E)/2 = (5 + 5)/2 = 5; 4 / 5 = 0.8.
    r = churn_from_records(_STARTS, _ENDS, base="average", **_PERIOD)
    assert r.value == pytest.approx(0.8)
    assert r.n_used == 9  # S + N
    assert r.ci_low is None


def test_retention_from_records_is_cohort_share_of_start_still_active_at_end():
    # |S ∩ E| / |S| = {A, L} / 5 = 0.4; aggregate (E - N)/S = (5 - 4)/5 = 0.2 undercounts.
    r = retention_from_records(_STARTS, _ENDS, **_PERIOD)
    assert r.value == pytest.approx(0.4)
    assert r.components["crr_counts"] == pytest.approx(0.2)
    low, high = _wilson(2, 5)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_records_accept_dates_serials_and_times_of_day():
    # Same period as above; H's end on the last day at 15:00 is still inside (whole days).
    starts = [dt.date(2024, 3, 1), 45444, "2024-07-01", pd.Timestamp("2025-01-15")]  # 45444 = 2024-06-01
    ends = [None, "10.01.2025", "2025-01-31 15:00:00", None]
    r = churn_from_records(starts, ends, **_PERIOD)
    # S = {1, 2, 3} (4 is new), lost from S = {2, 3}: 2/3.
    assert r.value == pytest.approx(2 / 3)
    assert r.components["new_customers"] == 1


def test_records_end_before_start_names_the_position():
    with pytest.raises(KpiInputError, match="position 2 is before the signup date") as info:
        churn_from_records(["2024-01-01", "2024-05-01"], [None, "2024-04-30"], **_PERIOD)
    assert info.value.position == 2
    assert info.value.argument == "end_dates"


def test_records_end_date_without_signup_names_the_position():
    with pytest.raises(KpiInputError, match="position 2 is blank") as info:
        churn_from_records(["2024-01-01", None], [None, "2025-01-05"], **_PERIOD)
    assert info.value.position == 2


def test_records_unreadable_date_names_value_and_position():
    with pytest.raises(KpiInputError, match="'soon' at position 3") as info:
        retention_from_records(["2024-01-01", "2024-01-02", "2024-01-03"], [None, None, "soon"], **_PERIOD)
    assert info.value.position == 3


def test_records_without_a_starting_cohort_are_zero_base():
    with pytest.raises(KpiInputError) as info:
        churn_from_records(["2025-01-05"], [None], **_PERIOD)
    assert info.value.kind == "zero-base"


def test_records_bad_period_and_lengths():
    with pytest.raises(KpiInputError, match="before period_start"):
        churn_from_records(_STARTS, _ENDS, period_start="2025-02-01", period_end="2025-01-31")
    with pytest.raises(KpiInputError, match="period_start must be a date"):
        churn_from_records(_STARTS, _ENDS, period_start="January", period_end="2025-01-31")
    with pytest.raises(KpiInputError, match="start_dates has 2 values but end_dates has 1"):
        churn_from_records(["2024-01-01", "2024-01-02"], [None], **_PERIOD)
    with pytest.raises(KpiInputError) as info:
        churn_from_records([None, None], [None, None], **_PERIOD)
    assert info.value.kind == "empty"


# ---------------------------------------------------------------- churn period conversion


def test_annual_churn_compounds_monthly_churn():
    # 1 - 0.95^12 = 1 - 0.540360 = 0.459640
    assert annual_churn(0.05) == pytest.approx(0.4596399, abs=1e-7)
    # 1 - 0.5^(1/12) = 1 - 0.943874 = 0.056126
    assert monthly_churn(0.5) == pytest.approx(0.0561257, abs=1e-7)


def test_convert_churn_round_trips_and_handles_the_ends():
    m = 0.0123
    assert monthly_churn(annual_churn(m)) == pytest.approx(m, rel=1e-12)
    # Quarterly 10% -> monthly: 1 - 0.9^(1/3) = 0.034511
    assert convert_churn(0.1, from_periods_per_year=4, to_periods_per_year=12) == pytest.approx(
        0.0345106, abs=1e-7
    )
    assert convert_churn(0.0, from_periods_per_year=12, to_periods_per_year=1) == 0.0
    assert convert_churn(1.0, from_periods_per_year=12, to_periods_per_year=1) == 1.0


@pytest.mark.parametrize("rate", [1.2, -0.1, "a lot"])
def test_convert_churn_rejects_rates_outside_zero_to_one(rate):
    with pytest.raises(KpiInputError):
        annual_churn(rate)


def test_convert_churn_rejects_non_positive_periods():
    with pytest.raises(KpiInputError, match="from_periods_per_year"):
        convert_churn(0.1, from_periods_per_year=0, to_periods_per_year=1)


# ---------------------------------------------------------------- repeat purchase and frequency


def test_repeat_purchase_rate_is_customers_with_more_than_one_order_over_customers():
    # a: 3 orders, b: 1, c: 2 -> 2 of 3 customers repeat; 6 orders / 3 customers = 2.
    r = repeat_purchase_rate(["a", "a", "b", "c", "a", "c"])
    assert r.value == pytest.approx(2 / 3)
    assert r.components == {"customers": 3, "repeat_customers": 2, "orders": 6, "purchase_frequency": 2.0}
    low, high = _wilson(2, 3)
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_repeat_purchase_by_days_counts_two_orders_on_one_day_once():
    # x orders twice on 1 Mar (one purchase day), y on 1 and 2 Mar (two days).
    ids = ["x", "x", "y", "y"]
    dates = ["2025-03-01", "2025-03-01 17:30:00", "2025-03-01", "2025-03-02"]
    assert repeat_purchase_rate(ids, dates, count="orders").value == 1.0
    r = repeat_purchase_rate(ids, dates, count="days")
    assert r.value == 0.5
    assert r.components["purchase_days"] == 3


def test_ids_as_numbers_and_as_text_are_one_customer_but_leading_zeros_are_kept():
    # 1001, "1001", 1001.0 -> one customer with 3 orders; "0012" and 12 are two customers.
    r = repeat_purchase_rate([1001, "1001", 1001.0, "0012", 12])
    assert r.components["customers"] == 3
    assert r.components["repeat_customers"] == 1


def test_repeat_purchase_blank_ids_and_dates_are_skipped_and_counted():
    r = repeat_purchase_rate(
        ["a", None, "a", " ", "b"], ["2025-01-01", "2025-01-02", None, None, "2025-01-03"]
    )
    # Only rows 1 and 5 are complete: a and b with one order each.
    assert r.value == 0.0
    assert r.n_dropped == 3
    assert r.components["orders"] == 2


def test_repeat_purchase_invalid_id_names_position_or_is_dropped():
    with pytest.raises(KpiInputError, match="TRUE at position 2") as info:
        repeat_purchase_rate(["a", True, "a"])
    assert info.value.position == 2
    r = repeat_purchase_rate(["a", True, "a"], on_invalid="drop")
    assert r.value == 1.0 and r.n_dropped == 1


def test_repeat_purchase_argument_errors():
    with pytest.raises(KpiInputError, match="needs order_dates"):
        repeat_purchase_rate(["a", "b"], count="days")
    with pytest.raises(KpiInputError, match="count must be"):
        repeat_purchase_rate(["a", "b"], count="visits")
    with pytest.raises(KpiInputError, match="customer_ids has 2 values but order_dates has 1"):
        repeat_purchase_rate(["a", "b"], ["2025-01-01"])
    with pytest.raises(KpiInputError) as info:
        repeat_purchase_rate([None, ""])
    assert info.value.kind == "empty"


def test_purchase_frequency_is_orders_over_distinct_customers():
    # 6 orders / 3 customers = 2; numeric ids from an Excel range arrive as floats.
    r = purchase_frequency(np.array([1.0, 1.0, 2.0, 3.0, 1.0, 3.0, np.nan]))
    assert r.value == 2.0
    assert r.n_used == 6 and r.n_dropped == 1
    assert r.components == {"orders": 6, "customers": 3}


# ---------------------------------------------------------------- cohort retention


def test_cohort_table_by_hand_with_right_censoring():
    # a: Jan, Mar; b: Jan, Jan, Feb; c: Feb. Last month with data: March.
    # Jan cohort {a, b}: month 1 (Feb) b -> 1/2, month 2 (Mar) a -> 1/2.
    # Feb cohort {c}: month 1 (Mar) nobody -> 0/1; month 2 (Apr) not observed -> NaN, not 0.
    t = cohort_retention(
        ["a", "a", "b", "b", "b", "c"],
        ["2025-01-05", "2025-03-02", "2025-01-09", "2025-01-30", "2025-02-11", "2025-02-20"],
    )
    assert list(t.columns) == ["cohort_size", 0, 1, 2]
    assert list(t.index) == ["2025-01", "2025-02"]
    assert t["cohort_size"].tolist() == [2, 1]
    assert t.loc["2025-01", [0, 1, 2]].tolist() == [1.0, 0.5, 0.5]
    assert t.loc["2025-02", [0, 1]].tolist() == [1.0, 0.0]
    assert math.isnan(t.loc["2025-02", 2])
    assert t.attrs["last_period"] == "2025-03"


def test_cohort_as_of_later_makes_zero_cells_observable():
    # Observed through April: Jan month 3 (Apr) and Feb month 2 (Apr) are real zeros now.
    t = cohort_retention(
        ["a", "a", "b", "c"], ["2025-01-05", "2025-03-02", "2025-01-09", "2025-02-20"], as_of="2025-04-30"
    )
    assert t.loc["2025-01", [0, 1, 2, 3]].tolist() == [1.0, 0.0, 0.5, 0.0]
    assert t.loc["2025-02", [0, 1, 2]].tolist() == [1.0, 0.0, 0.0]
    assert math.isnan(t.loc["2025-02", 3])


def test_cohort_as_of_ignores_later_orders_and_counts_them():
    # Cut at 28 Feb: a's March order is ignored; Jan cohort month 1: nobody -> 0/2.
    t = cohort_retention(
        ["a", "a", "b", "c"], ["2025-01-05", "2025-03-02", "2025-01-09", "2025-02-20"], as_of="2025-02-28"
    )
    assert list(t.columns) == ["cohort_size", 0, 1]
    assert t.loc["2025-01", 1] == 0.0
    assert t.attrs["n_after_as_of"] == 1


def test_cohort_quarters_and_max_periods():
    # Q1 cohort {a, b}; a buys again in Q3 -> quarter 2 = 1/2; max_periods=1 keeps quarters 0 and 1.
    t = cohort_retention(["a", "b", "a"], ["2025-01-10", "2025-02-10", "2025-08-01"], period="quarter")
    assert list(t.index) == ["2025Q1"]
    assert t.loc["2025Q1", [0, 1, 2]].tolist() == [1.0, 0.0, 0.5]
    t = cohort_retention(
        ["a", "b", "a"], ["2025-01-10", "2025-02-10", "2025-08-01"], period="quarter", max_periods=1
    )
    assert list(t.columns) == ["cohort_size", 0, 1]


def test_cohort_errors():
    with pytest.raises(KpiInputError, match="period must be"):
        cohort_retention(["a"], ["2025-01-01"], period="day")
    with pytest.raises(KpiInputError, match="max_periods"):
        cohort_retention(["a"], ["2025-01-01"], max_periods=-1)
    with pytest.raises(KpiInputError, match="'31/02/2025' at position 2") as info:
        cohort_retention(["a", "b"], ["2025-01-01", "31/02/2025"])
    assert info.value.position == 2
    with pytest.raises(KpiInputError, match="has 2 values but order_dates has 1"):
        cohort_retention(["a", "b"], ["2025-01-01"])
    with pytest.raises(KpiInputError) as info:
        cohort_retention(["a"], ["2025-03-01"], as_of="2025-01-31")
    assert info.value.kind == "empty"


# ---------------------------------------------------------------- CDNOW master (real data)


@pytest.fixture(scope="module")
def cdnow():
    path = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_master.txt"
    with path.open() as f:
        df = pd.read_csv(f, sep=r"\s+", dtype={"customer_id": str, "date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df


def test_cdnow_monthly_cohorts_match_published_shares(cdnow):
    # Reference figures from research/metrics.md (CDNOW master, monthly, any purchase in month k).
    t = cohort_retention(cdnow["customer_id"], cdnow["date"])
    assert t["cohort_size"].tolist() == [7846, 8476, 7248]
    assert (t[0] == 1.0).all()
    jan, feb, mar = t.loc["1997-01"], t.loc["1997-02"], t.loc["1997-03"]
    assert [round(jan[k], 3) for k in (1, 2, 3, 6)] == [0.147, 0.123, 0.103, 0.092]
    assert [round(feb[k], 3) for k in (1, 2, 3)] == [0.155, 0.116, 0.092]
    assert [round(mar[k], 3) for k in (1, 2, 3)] == [0.142, 0.104, 0.104]
    # Data end in June 1998: Jan-97 is observed to month 17, Mar-97 only to month 15.
    assert t.columns[-1] == 17
    assert not math.isnan(jan[17]) and not math.isnan(mar[15])
    assert math.isnan(mar[16]) and math.isnan(mar[17])


def test_cdnow_repeat_purchase_rate_by_purchase_days(cdnow):
    # 48.86% of 23,570 customers bought on more than one day (metrics.md).
    r = repeat_purchase_rate(cdnow["customer_id"], cdnow["date"], count="days")
    assert r.components["customers"] == 23570
    assert round(r.value, 4) == 0.4886
    assert r.components["orders"] == 69659
    assert r.components["purchase_frequency"] == pytest.approx(2.955, abs=5e-4)
