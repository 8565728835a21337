"""Value metrics against hand calculations, scipy's t interval, explicit sums and CDNOW."""

import importlib.resources
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kpi_xl.metrics import (
    KpiInputError,
    average_order_value,
    clv_formula,
    clv_retention,
    historical_clv,
    historical_clv_by_customer,
    lifespan_from_churn,
)
from kpi_xl.metrics._text import use_locale

# ---------------------------------------------------------------- average order value


def test_aov_is_mean_order_amount_with_t_interval():
    # (20 + 30 + 70) / 3 = 40; deviations -20, -10, 30 -> s^2 = (400 + 100 + 900) / 2 = 700;
    # SE = sqrt(700 / 3) = 15.2753; t(0.975, 2) = 4.302653 -> 40 ± 65.723.
    r = average_order_value([20, 30, 70])
    assert r.value == 40.0
    assert r.unit == "currency"
    assert r.se == pytest.approx(math.sqrt(700 / 3))
    assert r.ci_low == pytest.approx(40 - 4.302653 * math.sqrt(700 / 3), rel=1e-6)
    assert r.ci_high == pytest.approx(40 + 4.302653 * math.sqrt(700 / 3), rel=1e-6)
    assert r.components == {"orders": 3, "revenue": 120.0}
    assert r.method == "t"


def test_aov_interval_matches_scipy():
    x = [12.5, 40, 33.1, 8, 99.9, 21, 64, 18.25]
    r = average_order_value(x, confidence=0.9)
    low, high = stats.t.interval(0.9, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_aov_blanks_and_text_numbers():
    r = average_order_value(["20", None, " 30 ", "", 70.0])
    assert r.value == 40.0
    assert r.n_used == 3 and r.n_dropped == 2


def test_aov_negative_amount_is_an_error_naming_the_position():
    with pytest.raises(KpiInputError, match="-5 at position 2") as info:
        average_order_value([10, -5, 20])
    assert info.value.position == 2
    assert "allow_negative" in str(info.value)


def test_aov_hint_to_allow_refunds_only_for_a_negative_amount():
    # Text in the other locale's format or a word is not made valid by allowing refunds: the error
    # offers only to skip it; a negative amount (text or number) offers both.
    for bad in ("zehn", "1.234,50", float("-inf")):
        with use_locale("en-US"), pytest.raises(KpiInputError) as info:
            average_order_value([10, bad, 20])
        assert "allow_negative" not in str(info.value) and "skip" in str(info.value)
    for bad in (-5, "-5"):
        with pytest.raises(KpiInputError, match="allow_negative"):
            average_order_value([10, bad, 20])


def test_aov_negative_amounts_allowed_as_refunds():
    # (10 - 5 + 20) / 3 = 25 / 3
    assert average_order_value([10, -5, 20], allow_negative=True).value == pytest.approx(25 / 3)


def test_aov_single_order_has_no_interval_and_empty_input_is_empty():
    r = average_order_value([42])
    assert r.value == 42.0 and r.se is None and r.ci_low is None
    with pytest.raises(KpiInputError) as info:
        average_order_value([None, ""])
    assert info.value.kind == "empty"
    with pytest.raises(KpiInputError, match="confidence"):
        average_order_value([1, 2], confidence=95)


# ---------------------------------------------------------------- historical CLV


def test_historical_clv_is_mean_margin_revenue_per_customer():
    # a: 100 + 50 = 150, b: 30; margin 40% -> 60 and 12; mean 36.
    # s = sqrt((24^2 + 24^2) / 1) = 33.941; SE = s / sqrt(2) = 24.
    r = historical_clv(["a", "a", "b"], [100, 50, 30], margin=0.4)
    assert r.value == pytest.approx(36.0)
    assert r.se == pytest.approx(24.0)
    assert r.n_used == 2
    assert r.components == {"customers": 2, "orders": 3, "revenue": 180.0, "margin": 0.4}


def test_historical_clv_by_customer_table_sorted_highest_first():
    t = historical_clv_by_customer(["b", "a", "a", "c"], [30, 100, 50, 200], margin=0.5)
    assert list(t.index) == ["c", "a", "b"]
    assert t.index.name == "customer_id"
    assert t.loc["a"].tolist() == [2, 150.0, 75.0]  # orders, revenue, clv = 0.5 * 150
    # The scalar is the mean of the column: (100 + 75 + 15) / 3.
    assert historical_clv(["b", "a", "a", "c"], [30, 100, 50, 200], margin=0.5).value == pytest.approx(
        t["clv"].mean()
    )


def test_historical_clv_skips_rows_missing_an_id_or_amount():
    # Row 2 has no id, row 3 no amount: only a=100 and b=30 remain -> (100 + 30) / 2 = 65.
    r = historical_clv(["a", None, "a", "b"], [100, 999, None, 30])
    assert r.value == pytest.approx(65.0)
    assert r.n_dropped == 2
    t = historical_clv_by_customer(["a", None, "a", "b"], [100, 999, None, 30])
    assert t.attrs["n_dropped"] == 2


def test_historical_clv_refunds_net_out_when_allowed():
    # a: 100 - 40 = 60, b: 20 -> 40.
    with pytest.raises(KpiInputError, match="position 2"):
        historical_clv(["a", "a", "b"], [100, -40, 20])
    assert historical_clv(["a", "a", "b"], [100, -40, 20], allow_negative=True).value == pytest.approx(40.0)


def test_historical_clv_input_errors():
    with pytest.raises(KpiInputError, match="customer_ids has 2 values but amounts has 3"):
        historical_clv(["a", "b"], [1, 2, 3])
    with pytest.raises(KpiInputError, match="margin must be a share"):
        historical_clv(["a"], [10], margin=40)
    with pytest.raises(KpiInputError, match="'ten' at position 1"):
        historical_clv(["a"], ["ten"])
    with pytest.raises(KpiInputError) as info:
        historical_clv([None], [10])
    assert info.value.kind == "empty"


def test_cdnow_aov_and_historical_value_per_customer():
    # metrics.md: AOV $35.89 and 2.955 orders per customer -> about 35.89 * 2.955 = 106.1 per customer.
    path = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_master.txt"
    with path.open() as f:
        df = pd.read_csv(f, sep=r"\s+", dtype={"customer_id": str, "date": str})
    aov = average_order_value(df["dollar_value"])
    assert round(aov.value, 2) == 35.89
    assert aov.n_used == 69659
    clv = historical_clv(df["customer_id"], df["dollar_value"])
    assert clv.components["customers"] == 23570
    assert clv.value == pytest.approx(aov.value * 69659 / 23570)
    assert round(clv.value, 2) == 106.08


# ---------------------------------------------------------------- CLV formula


def test_clv_formula_undiscounted_is_aov_times_frequency_margin_lifespan():
    # $60 x 6/yr x 40% x 3 yr = 144 per year x 3 = $432.
    r = clv_formula(60, 6, 0.4, 3)
    assert r.value == pytest.approx(432.0)
    assert r.components["value_per_period"] == pytest.approx(144.0)
    assert r.n_used == 0 and r.ci_low is None


def test_clv_formula_discounted_equals_the_explicit_sum():
    # 144/1.1 + 144/1.1^2 + 144/1.1^3 = 130.909 + 119.008 + 108.189 = 358.106
    r = clv_formula(60, 6, 0.4, 3, discount_rate=0.1)
    assert r.value == pytest.approx(sum(144 / 1.1**t for t in (1, 2, 3)))
    assert r.value == pytest.approx(358.106, abs=1e-3)
    assert r.components["undiscounted"] == pytest.approx(432.0)
    long = clv_formula(50, 2, 0.3, 25, discount_rate=0.07)
    assert long.value == pytest.approx(sum(30 / 1.07**t for t in range(1, 26)))


def test_clv_formula_fractional_lifespan_and_small_discount_rates():
    # L = 2.5 undiscounted: 144 x 2.5 = 360; a tiny rate approaches the undiscounted value.
    assert clv_formula(60, 6, 0.4, 2.5).value == pytest.approx(360.0)
    assert clv_formula(60, 6, 0.4, 2.5, discount_rate=1e-12).value == pytest.approx(360.0, rel=1e-9)
    # Between the integer lifespans 2 and 3 at 10%.
    v = clv_formula(60, 6, 0.4, 2.5, discount_rate=0.1).value
    assert (
        clv_formula(60, 6, 0.4, 2, discount_rate=0.1).value
        < v
        < clv_formula(60, 6, 0.4, 3, discount_rate=0.1).value
    )


@pytest.mark.parametrize(
    "args, kwargs, argument",
    [
        ((-60, 6, 0.4, 3), {}, "aov"),
        ((60, "six", 0.4, 3), {}, "frequency"),
        ((60, 6, 40, 3), {}, "margin"),
        ((60, 6, 0.4, -1), {}, "lifespan"),
        ((60, 6, 0.4, 3), {"discount_rate": -0.1}, "discount_rate"),
    ],
)
def test_clv_formula_rejects_bad_parameters(args, kwargs, argument):
    with pytest.raises(KpiInputError) as info:
        clv_formula(*args, **kwargs)
    assert info.value.argument == argument


def test_lifespan_is_one_over_churn():
    # 20% churn a year -> 5 years; with it, $60 x 6 x 40% x 5 = $720.
    assert lifespan_from_churn(0.2) == pytest.approx(5.0)
    assert clv_formula(60, 6, 0.4, lifespan_from_churn(0.2)).value == pytest.approx(720.0)
    with pytest.raises(KpiInputError) as info:
        lifespan_from_churn(0)
    assert info.value.kind == "zero-base"
    with pytest.raises(KpiInputError):
        lifespan_from_churn(1.5)


# ---------------------------------------------------------------- retention-based CLV


def _sum(terms):
    return math.fsum(terms)


def test_clv_retention_gupta_lehmann_excludes_the_first_payment():
    # m r / (1 + d - r) = 100 x 0.8 / 0.3 = 266.67 = sum_{t=1..2000} m r^t / (1+d)^t
    r = clv_retention(100, 0.8, 0.1)
    assert r.value == pytest.approx(800 / 3)
    assert round(r.value, 2) == 266.67
    assert r.value == pytest.approx(_sum(100 * 0.8**t / 1.1**t for t in range(1, 2001)))
    assert r.method == "gupta-lehmann"
    assert r.components["margin_multiple"] == pytest.approx(8 / 3)  # Gupta-Lehmann's 2.67


def test_clv_retention_blattberg_includes_the_payment_at_time_zero():
    # m (1 + d) / (1 + d - r) = 110 / 0.3 = 366.67 = sum_{t=0..1999} m r^t / (1+d)^t
    r = clv_retention(100, 0.8, 0.1, convention="blattberg")
    assert round(r.value, 2) == 366.67
    assert r.value == pytest.approx(_sum(100 * 0.8**t / 1.1**t for t in range(0, 2000)))


def test_clv_retention_ofek_discounts_the_first_payment_one_period():
    # m / (1 + d - r) = 100 / 0.3 = 333.33 = sum_{t=1..2000} m r^(t-1) / (1+d)^t
    r = clv_retention(100, 0.8, 0.1, convention="ofek")
    assert round(r.value, 2) == 333.33
    assert r.value == pytest.approx(_sum(100 * 0.8 ** (t - 1) / 1.1**t for t in range(1, 2001)))


@pytest.mark.parametrize(
    "args, kwargs, argument",
    [
        ((100, 1.0, 0.1), {}, "retention"),
        ((100, -0.1, 0.1), {}, "retention"),
        ((100, 0.8, -0.1), {}, "discount_rate"),
        ((-100, 0.8, 0.1), {}, "margin"),
        ((100, 0.8, 0.1), {"convention": "kotler"}, "convention"),
    ],
)
def test_clv_retention_validates_retention_discount_and_convention(args, kwargs, argument):
    with pytest.raises(KpiInputError) as info:
        clv_retention(*args, **kwargs)
    assert info.value.argument == argument
