"""Advocacy and loyalty metrics: engagement, referrals, refunds and returns, loyalty rates, CAI.

Expected values are worked out by hand in the comments. Wilson intervals use z = 1.959964,
z^2 = 3.841459.
"""

import math

import numpy as np
import pytest

from kpi_xl.metrics import (
    KpiInputError,
    active_member_rate,
    advocacy_index,
    advocacy_revenue_share,
    engagement_rate,
    engagements_total,
    participation_rate,
    redemption_rate,
    referral_conversion,
    referral_conversion_from_counts,
    refund_rate,
    return_rate,
)

# --- engagement ---------------------------------------------------------------------------------


def test_engagements_total_sums_parts():
    # post 1: 10 + 2 + 1 + 3 + 4 = 20; post 2: 4 + 1 + 0 + 0 + 5 = 10
    out = engagements_total([10, 4], [2, 1], [1, 0], saves=[3, 0], clicks=[4, 5])
    assert out.tolist() == [20.0, 10.0]
    assert engagements_total([10, 4], [2, 1], [1, 0]).tolist() == [13.0, 5.0]


def test_engagements_total_blank_part_gives_unknown_total_not_zero():
    out = engagements_total([10, 4], [2, None], [1, 0])
    assert out[0] == 13.0
    assert np.isnan(out[1])


def test_engagements_total_bad_input():
    with pytest.raises(KpiInputError) as e:
        engagements_total([10, 4], [2, -1], [1, 0])
    assert e.value.argument == "comments"
    assert e.value.position == 2
    with pytest.raises(KpiInputError, match="likes has 2"):
        engagements_total([10, 4], [2], [1, 0])


def test_engagement_rate_pooled_and_mean_by_hand():
    e, a = [30, 10, 20], [1000, 250, 500]
    r = engagement_rate(e, a)
    # pooled: 60 / 1750 = 6/175 = 0.0342857
    # residuals e - R a: 30 - 34.2857 = -30/7, 10 - 8.5714 = 10/7, 20 - 17.1429 = 20/7
    # sum of squares (900 + 100 + 400) / 49 = 200/7; / (n (n-1) = 6) = 100/21; sqrt = 2.182179;
    # / mean audience 1750/3 = 583.333 -> SE = 0.00374088
    assert r.value == pytest.approx(6 / 175)
    assert r.se == pytest.approx(math.sqrt(100 / 21) / (1750 / 3))
    assert r.method == "ratio-t"
    assert r.components["basis"] == "followers"
    assert r.components["aggregation"] == "pooled"
    assert r.components["engagements"] == 60.0
    assert r.components["audience"] == 1750.0
    m = engagement_rate(e, a, method="mean", basis="reach")
    # per-post rates 0.03, 0.04, 0.04 -> mean 0.11 / 3 = 0.036667
    # deviations -1/150, 1/300, 1/300 -> squares 4/90000 + 1/90000 + 1/90000 = 6/90000; / 2 -> s^2 = 1/30000
    # SE = sqrt(1/30000 / 3) = 1/300; t(0.975, 2) = 4.302653
    assert m.value == pytest.approx(0.11 / 3)
    assert m.se == pytest.approx(1 / 300)
    assert m.ci_high == pytest.approx(0.11 / 3 + 4.302653 / 300, abs=1e-7)
    assert m.method == "t"
    assert m.components["basis"] == "reach"


def test_engagement_rate_audience_zero():
    with pytest.raises(KpiInputError) as e:
        engagement_rate([5, 3, 2], [100, 0, 50])
    assert e.value.kind == "zero-base"
    assert e.value.position == 2
    r = engagement_rate([5, 3, 2], [100, 0, 50], on_invalid="drop")
    # (5 + 2) / (100 + 50) = 7/150
    assert r.value == pytest.approx(7 / 150)
    assert r.n_used == 2
    assert r.n_dropped == 1


def test_engagement_rate_half_filled_rows_are_counted_and_warned():
    totals = engagements_total([10, 4, 6], [2, None, 1], [1, 0, 1])
    # post 2 has an unknown total: skipped; (13 + 8) / (200 + 100) = 0.07
    r = engagement_rate(totals, [200, 300, 100])
    assert r.value == pytest.approx(0.07)
    assert r.n_used == 2
    assert r.n_dropped == 1
    assert any("skipped" in w for w in r.warnings)


def test_engagement_rate_single_post_has_no_interval():
    r = engagement_rate([10], [200])
    assert r.value == 0.05
    assert r.ci_low is None and r.se is None and r.method is None


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"basis": "impressions"}, "basis"),
        ({"method": "median"}, "method"),
        ({"confidence": 1.0}, "confidence"),
    ],
)
def test_engagement_rate_bad_options(kwargs, argument):
    with pytest.raises(KpiInputError) as e:
        engagement_rate([1, 2], [10, 20], **kwargs)
    assert e.value.argument == argument


def test_engagement_rate_bad_values():
    with pytest.raises(KpiInputError) as e:
        engagement_rate([1, "lots"], [10, 20])
    assert e.value.position == 2
    with pytest.raises(KpiInputError, match="engagements has 2"):
        engagement_rate([1, 2], [10, 20, 30])
    with pytest.raises(KpiInputError) as e:
        engagement_rate([None], [None])
    assert e.value.kind == "empty"


# --- referrals ------------------------------------------------------------------------------------


def test_referral_conversion_wilson_by_hand():
    r = referral_conversion([1, 0, 0, "yes", "no", True, 0, 0, None])
    # 3 of 8 leads (one blank): p = 0.375
    # denominator 1 + 3.841459/8 = 1.480182; centre (0.375 + 3.841459/16) / 1.480182 = 0.415551
    # half 1.959964 * sqrt(0.375 * 0.625 / 8 + 3.841459/256) / 1.480182 = 0.278707 -> (0.136844, 0.694258)
    assert r.value == 0.375
    assert r.n_used == 8
    assert r.n_dropped == 1
    assert r.method == "wilson"
    assert r.ci_low == pytest.approx(0.136844, abs=1e-6)
    assert r.ci_high == pytest.approx(0.694258, abs=1e-6)
    assert r.components == {"conversions": 3.0, "leads": 8}


def test_referral_conversion_from_counts_matches_flags():
    a = referral_conversion_from_counts(3, 8)
    b = referral_conversion([1, 1, 1, 0, 0, 0, 0, 0])
    assert (a.value, a.ci_low, a.ci_high) == (b.value, b.ci_low, b.ci_high)
    assert a.components == {"conversions": 3.0, "leads": 8.0}


@pytest.mark.parametrize(
    ("conversions", "leads", "argument", "kind"),
    [
        (9, 8, "conversions", "invalid"),
        (2.5, 8, "conversions", "invalid"),
        (-1, 8, "conversions", "invalid"),
        (0, 0, "leads", "zero-base"),
        (1, "many", "leads", "invalid"),
    ],
)
def test_referral_conversion_from_counts_bad_input(conversions, leads, argument, kind):
    with pytest.raises(KpiInputError) as e:
        referral_conversion_from_counts(conversions, leads)
    assert e.value.argument == argument
    assert e.value.kind == kind


def test_referral_conversion_bad_flags():
    with pytest.raises(KpiInputError) as e:
        referral_conversion([1, 0, 2])
    assert e.value.position == 3
    with pytest.raises(KpiInputError) as e:
        referral_conversion([None, ""])
    assert e.value.kind == "empty"


def test_advocacy_revenue_share():
    r = advocacy_revenue_share([100, 50, 250], ["no", "yes", "yes"])
    # (50 + 250) / 400 = 0.75; value-weighted: no interval
    assert r.value == 0.75
    assert r.components == {"referred_revenue": 300.0, "total_revenue": 400.0}
    assert r.ci_low is None and r.method is None
    assert r.n_used == 3


def test_advocacy_revenue_share_net_of_refunds():
    r = advocacy_revenue_share([100, -20, 50, None], [1, 1, 0, 1])
    # referred net 100 - 20 = 80 of total 130; the row with a flag but no amount is skipped and warned
    assert r.value == pytest.approx(80 / 130)
    assert r.n_dropped == 1
    assert any("skipped" in w for w in r.warnings)


def test_advocacy_revenue_share_bad_total():
    with pytest.raises(KpiInputError) as e:
        advocacy_revenue_share([0, 0], [1, 0])
    assert e.value.kind == "zero-base"
    with pytest.raises(KpiInputError) as e:
        advocacy_revenue_share([10, -30], [1, 0])
    assert e.value.kind == "invalid"
    with pytest.raises(KpiInputError) as e:
        advocacy_revenue_share([10, "ten"], [1, 0])
    assert e.value.position == 2


# --- refunds and returns --------------------------------------------------------------------------


def test_refund_rate_count_basis():
    r = refund_rate([0, 1, 0, 1])
    # 2 / 4 = 0.5; Wilson: denominator 1 + 3.841459/4 = 1.960365, centre 0.5,
    # half 1.959964 * sqrt(0.25/4 + 3.841459/64) / 1.960365 = 0.349961 -> (0.150039, 0.849961)
    assert r.value == 0.5
    assert r.ci_low == pytest.approx(0.150039, abs=1e-6)
    assert r.ci_high == pytest.approx(0.849961, abs=1e-6)
    assert r.components["basis"] == "count"


def test_refund_rate_value_basis():
    r = refund_rate([0, 1, 0, 1], [100, 50, 30, 20], basis="value")
    # refunded 50 + 20 = 70 of 200 = 0.35; no interval for a value share
    assert r.value == 0.35
    assert r.components["basis"] == "value"
    assert r.components["refunded_value"] == 70.0
    assert r.components["sales_value"] == 200.0
    assert r.components["refunded_orders"] == 2.0
    assert r.components["orders"] == 4
    assert r.ci_low is None


def test_refund_rate_bases_are_never_mixed():
    with pytest.raises(KpiInputError) as e:
        refund_rate([0, 1], [10, 20])
    assert e.value.argument == "amounts"
    with pytest.raises(KpiInputError) as e:
        refund_rate([0, 1], basis="value")
    assert e.value.argument == "amounts"


def test_refund_rate_bad_input():
    with pytest.raises(KpiInputError) as e:
        refund_rate([0, 1], [0, 0], basis="value")
    assert e.value.kind == "zero-base"
    with pytest.raises(KpiInputError) as e:
        refund_rate([0, 1], [10, -5], basis="value")
    assert e.value.position == 2
    with pytest.raises(KpiInputError) as e:
        refund_rate([0, 1], basis="net")
    assert e.value.argument == "basis"
    with pytest.raises(KpiInputError) as e:
        refund_rate([])
    assert e.value.kind == "empty"


def test_return_rate_units_and_value():
    r = return_rate([3, 1], [40, 10])
    # 4 / 50 = 0.08; Wilson: denominator 1 + 3.841459/50 = 1.076829;
    # centre (0.08 + 3.841459/100) / 1.076829 = 0.109966;
    # half 1.959964 * sqrt(0.08 * 0.92 / 50 + 3.841459/10000) / 1.076829 = 0.078416 -> (0.031550, 0.188382)
    assert r.value == 0.08
    assert r.ci_low == pytest.approx(0.031550, abs=1e-6)
    assert r.ci_high == pytest.approx(0.188382, abs=1e-6)
    assert r.components["basis"] == "count"
    v = return_rate([3, 1], [40, 10], [10, 50], basis="value")
    # (3*10 + 1*50) / (40*10 + 10*50) = 80 / 900
    assert v.value == pytest.approx(80 / 900)
    assert v.components["returned_value"] == 80.0
    assert v.components["sold_value"] == 900.0
    assert v.ci_low is None


def test_return_rate_above_one_is_reported_with_warning_and_no_interval():
    r = return_rate([5, 2], [3, 2])
    # 7 returned of 5 sold = 1.4 (returns of earlier sales)
    assert r.value == pytest.approx(1.4)
    assert r.ci_low is None
    assert any("more was returned than sold" in w for w in r.warnings)


def test_return_rate_bad_input():
    with pytest.raises(KpiInputError) as e:
        return_rate([1.5, 1], [4, 4])
    assert e.value.argument == "units_returned"
    assert e.value.position == 1
    with pytest.raises(KpiInputError) as e:
        return_rate([0, 0], [0, 0])
    assert e.value.kind == "zero-base"
    with pytest.raises(KpiInputError) as e:
        return_rate([1], [4], [10])
    assert e.value.argument == "unit_prices"
    with pytest.raises(KpiInputError) as e:
        return_rate([1, 2], [4, 5], [10], basis="value")
    assert "unit_prices has 1" in str(e.value)


def test_return_rate_skips_partial_rows():
    r = return_rate([1, None, 2], [10, 5, None])
    # only row 1 is complete: 1 / 10
    assert r.value == 0.1
    assert r.n_dropped == 2
    assert any("2 row(s) skipped" in w for w in r.warnings)


# --- loyalty ---------------------------------------------------------------------------------------


def test_redemption_rate_scalars_and_columns():
    assert redemption_rate(3000, 12000).value == 0.25
    r = redemption_rate([1000, 500, None], [4000, 2000])
    # (1000 + 500) / (4000 + 2000) = 0.25; 4 values summed, 1 blank
    assert r.value == 0.25
    assert r.n_used == 4
    assert r.n_dropped == 1
    assert r.components == {"points_redeemed": 1500.0, "points_issued": 6000.0}


def test_redemption_rate_may_exceed_one_with_warning():
    r = redemption_rate(1500, 1000)
    assert r.value == 1.5
    assert any("issued earlier" in w for w in r.warnings)


def test_redemption_rate_bad_input():
    with pytest.raises(KpiInputError) as e:
        redemption_rate(10, 0)
    assert e.value.kind == "zero-base"
    with pytest.raises(KpiInputError) as e:
        redemption_rate(-10, 100)
    assert e.value.argument == "points_redeemed"
    with pytest.raises(KpiInputError) as e:
        redemption_rate([None], 100)
    assert e.value.kind == "empty"


def test_participation_and_active_member_rates():
    p = participation_rate(350, 1000)
    a = active_member_rate(3, 4)
    assert p.value == 0.35
    assert p.n_used == 1000
    # 3 / 4: Wilson denominator 1.960365, centre (0.75 + 3.841459/8) / 1.960365 = 0.627527,
    # half 1.959964 * sqrt(0.1875/4 + 3.841459/64) / 1.960365 = 0.326885 -> (0.300642, 0.954413)
    assert a.value == 0.75
    assert a.ci_low == pytest.approx(0.300642, abs=1e-6)
    assert a.ci_high == pytest.approx(0.954413, abs=1e-6)
    assert a.components == {"active_members": 3.0, "members": 4.0}


def test_participation_and_active_member_bad_input():
    with pytest.raises(KpiInputError) as e:
        participation_rate(1200, 1000)
    assert e.value.argument == "members"
    with pytest.raises(KpiInputError) as e:
        participation_rate(0, 0)
    assert e.value.kind == "zero-base"
    with pytest.raises(KpiInputError) as e:
        active_member_rate(5, 4)
    assert e.value.argument == "active_members"


# --- advocacy index -------------------------------------------------------------------------------


def test_advocacy_index_by_hand():
    r = advocacy_index(40, 0.8, 0.1)
    # NPS 40 -> (40 + 100) / 200 = 0.7; 100 * (0.4 * 0.7 + 0.3 * 0.8 + 0.3 * 0.1) = 100 * 0.55 = 55
    assert r.value == pytest.approx(55.0)
    assert r.unit == "index"
    assert r.components["nps_normalised"] == pytest.approx(0.7)
    assert r.ci_low is None
    # equal weights: 100 * (0.7 + 0.8 + 0.1) / 3 = 53.333; weights need not sum to 1
    assert advocacy_index(40, 0.8, 0.1, weights=(1, 1, 1)).value == pytest.approx(160 / 3)
    assert advocacy_index(40, 0.8, 0.1, weights=(2, 2, 2)).value == pytest.approx(160 / 3)
    # zero weight on NPS: 100 * (0.8 + 0.1) / 2 = 45
    assert advocacy_index(-100, 0.8, 0.1, weights=(0, 1, 1)).value == pytest.approx(45.0)


def test_advocacy_index_ends_of_scale():
    assert advocacy_index(-100, 0, 0).value == 0.0
    assert advocacy_index(100, 1, 1).value == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "argument"),
    [
        ((150, 0.8, 0.1), {}, "nps"),
        (("high", 0.8, 0.1), {}, "nps"),
        ((40, 80, 0.1), {}, "csat"),
        ((40, 0.8, -0.1), {}, "referral_rate"),
        ((40, 0.8, 0.1), {"weights": (0, 0, 0)}, "weights"),
        ((40, 0.8, 0.1), {"weights": (0.5, -0.2, 0.7)}, "weights"),
        ((40, 0.8, 0.1), {"weights": (0.5, 0.5)}, "weights"),
    ],
)
def test_advocacy_index_bad_input(args, kwargs, argument):
    with pytest.raises(KpiInputError) as e:
        advocacy_index(*args, **kwargs)
    assert e.value.argument == argument


def test_advocacy_index_warns_when_nps_looks_like_a_fraction():
    r = advocacy_index(0.35, 0.8, 0.1)
    assert any("looks like a fraction" in w for w in r.warnings)
    assert advocacy_index(35, 0.8, 0.1).warnings == ()
