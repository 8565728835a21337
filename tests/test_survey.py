"""Survey metrics against hand calculations, scipy, and a coverage simulation."""

import math

import numpy as np
import pytest
from scipy import stats

from kpi_xl.metrics import KpiInputError, ces, csat, nps, nps_diff, satisfaction_mean, wilson_interval


def test_nps_five_responses_by_hand():
    # 2 promoters (10, 9), 1 passive (8), 2 detractors (6, 0): NPS = 100 * (2/5 - 2/5) = 0.
    r = nps([10, 9, 8, 6, 0], method="wald")
    assert r.value == 0.0
    assert r.n_used == 5 and r.n_dropped == 0
    assert r.components["promoters"] == 2 and r.components["passives"] == 1
    assert r.components["pct_detractors"] == pytest.approx(0.4)
    # Var = [p + d - (p-d)^2]/n = (0.4 + 0.4 - 0)/5 = 0.16 -> SE 0.4 -> 40 points; z=1.959964.
    assert r.se == pytest.approx(40.0)
    assert r.ci_high == pytest.approx(1.959964 * 40.0, rel=1e-6)
    assert r.ci_low == pytest.approx(-1.959964 * 40.0, rel=1e-6)


def test_nps_adjusted_wald_by_hand():
    # Adjusted: n' = 5+3 = 8, p' = (2+0.75)/8 = 0.34375 = d'; Var = (0.6875 - 0)/8 = 0.0859375.
    r = nps([10, 9, 8, 6, 0], method="adjusted-wald")
    assert r.value == 0.0  # the reported value stays the plain NPS
    assert r.se == pytest.approx(100 * math.sqrt(0.0859375))
    assert r.method == "adjusted-wald"
    assert r.small_sample


def test_nps_blanks_and_text_numbers_are_skipped_and_counted():
    r = nps(["10", " 9 ", None, "", float("nan"), 8, 6, "0"])
    assert r.value == 0.0
    assert r.n_used == 5 and r.n_dropped == 3


@pytest.mark.parametrize(
    "bad, pos, shown", [(11, 3, "11"), (-1, 3, "-1"), (9.5, 3, "9.5"), ("ten", 3, "'ten'"), (True, 3, "TRUE")]
)
def test_nps_invalid_values_name_value_and_position(bad, pos, shown):
    # The value quoted as a spreadsheet user sees it: a boolean as TRUE, text in quotes.
    with pytest.raises(KpiInputError) as info:
        nps([10, 9, bad, 7])
    assert info.value.position == pos
    assert f"value {shown} at position 3" in str(info.value)


def test_nps_drop_option_counts_invalid_values():
    r = nps([10, 11, -1, 9.5, "ten", 0], on_invalid="drop")
    # Valid: 10 and 0 -> NPS 0; four invalid values dropped.
    assert r.value == 0.0 and r.n_used == 2 and r.n_dropped == 4


def test_nps_empty_input_is_a_clear_error():
    with pytest.raises(KpiInputError) as info:
        nps([None, "", " "])
    assert info.value.kind == "empty"


def test_nps_weights_equal_duplicated_rows_and_kish_n():
    # Weight 2 on the first response equals listing it twice; effective n by Kish = (4)^2/(4+1+1)=8/3.
    w = nps([10, 6, 8], weights=[2, 1, 1], method="wald")
    d = nps([10, 10, 6, 8], method="wald")
    assert w.value == pytest.approx(d.value)  # 100*(2/4 - 1/4) = 25
    assert w.value == pytest.approx(25.0)
    assert w.components["n_effective"] == pytest.approx(16 / 6)
    with pytest.raises(KpiInputError):
        nps([10, 6], weights=[1])
    with pytest.raises(KpiInputError):
        nps([10, 6], weights=[1, -1])


def test_nps_configurable_breakpoints():
    # R NPS package breaks=c(0,6,8,10) are the defaults; here promoters from 8, detractors to 5.
    r = nps([8, 7, 5, 10], promoter_min=8, detractor_max=5)
    assert r.value == pytest.approx(100 * (2 / 4 - 1 / 4))


def test_nps_diff_by_hand():
    # A: 50 promoters, 50 detractors: NPS 0, Var = (1 - 0)/100 -> SE 10 points.
    # B: 40/60: NPS -20, Var = (1 - 0.04)/100 = 0.0096 -> SE 9.798 points.
    # Diff 20, SE = sqrt(100 + 96) = 14, z = 1.428571, p = 2*(1-Phi(z)) = 0.15313.
    r = nps_diff([10] * 50 + [0] * 50, [10] * 40 + [0] * 60)
    assert r.value == pytest.approx(20.0)
    assert r.se == pytest.approx(14.0)
    assert r.components["z"] == pytest.approx(20 / 14)
    assert r.components["p_value"] == pytest.approx(2 * stats.norm.sf(20 / 14))
    assert r.components["p_value"] == pytest.approx(0.15313, abs=1e-5)


def test_nps_interval_coverage_simulation():
    """The stated 95% interval covers the true NPS close to 95% of the time.

    True shares p=0.45, d=0.25 (NPS 20). 3,000 samples each; Monte-Carlo SE of a coverage
    estimate is sqrt(.95*.05/3000) = 0.004, so +-0.02 bands are ~5 SEs wide.
    Seen when written: n=30 adjusted-Wald 0.951, Wald 0.937; n=500 adjusted-Wald 0.953, Wald 0.955.
    """
    rng = np.random.default_rng(20261122)
    probs = np.array([0.25 / 7] * 7 + [0.30 / 2] * 2 + [0.45 / 2] * 2)
    coverage = {}
    for n in (30, 500):
        for method in ("adjusted-wald", "wald"):
            hits = 0
            for _ in range(3000):
                sample = rng.choice(11, size=n, p=probs).astype(float)
                r = nps(sample, method=method)
                hits += r.ci_low <= 20.0 <= r.ci_high
            coverage[(n, method)] = hits / 3000
    print("NPS 95% interval coverage:", coverage)
    assert 0.935 <= coverage[(30, "adjusted-wald")] <= 0.97
    assert 0.92 <= coverage[(30, "wald")] <= 0.97
    assert 0.93 <= coverage[(500, "adjusted-wald")] <= 0.97
    assert 0.93 <= coverage[(500, "wald")] <= 0.97


def test_csat_top2box_and_wilson_matches_scipy():
    r = csat([5, 5, 4, 4, 4, 5, 4, 3, 2, 1])
    assert r.value == pytest.approx(0.7)  # 7 of 10 are 4 or 5
    ci = stats.binomtest(7, 10).proportion_ci(method="wilson")
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (0.3968, 0.8922)
    assert r.components["mean"] == pytest.approx(3.7)  # (5*3+4*4+3+2+1)/10


def test_csat_other_scale_and_threshold():
    # 1-7 scale, default threshold = 6 (top-2-box): 7, 6 count; 5 does not.
    assert csat([7, 6, 5, 1], scale=(1, 7)).value == pytest.approx(0.5)
    assert csat([7, 6, 5, 1], scale=(1, 7), threshold=5).value == pytest.approx(0.75)
    with pytest.raises(KpiInputError):
        csat([5], threshold=6)
    with pytest.raises(KpiInputError):
        csat([0, 5])  # 0 is outside 1-5


def test_wilson_at_the_edges_stays_inside_0_1():
    low, high = wilson_interval(0, 12)
    assert low == 0.0 and 0 < high < 0.3
    low, high = wilson_interval(12, 12)
    assert high == 1.0 and 0.7 < low < 1


def test_satisfaction_mean_t_interval():
    r = satisfaction_mean([5, 4, 3])
    # mean 4, s = 1, SE = 1/sqrt(3), t(0.975, 2) = 4.302653
    assert r.value == 4.0
    assert r.ci_high - r.value == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)


def test_ces_published_example():
    r = ces([7, 6, 6, 5, 4, 3, 2, 7])
    assert r.value == pytest.approx(5.0)
    assert r.components["pct_agree"] == pytest.approx(0.625)  # 5 of 8 are 5-7
    assert r.components["pct_disagree"] == pytest.approx(0.25)  # 3 and 2
    assert r.components["net"] == pytest.approx(0.375)


def test_ces_legacy_reversed_effort_scale():
    # CES 1.0: 1 = very low effort (good) ... 5 = very high effort. Easy = 1-2, hard = 4-5.
    r = ces([1, 2, 3, 4, 5, 1], scale=(1, 5), higher_is_easier=False)
    assert r.components["pct_agree"] == pytest.approx(3 / 6)
    assert r.components["pct_disagree"] == pytest.approx(2 / 6)
    assert r.value == pytest.approx(16 / 6)
    with pytest.raises(KpiInputError):
        ces([6], scale=(1, 5))


def test_full_column_fast_path_gives_same_answer_as_object_path():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 11, 10_000).astype(float)
    x[::7] = np.nan
    a = nps(x)
    b = nps([None if np.isnan(v) else str(int(v)) for v in x])
    assert a.value == pytest.approx(b.value)
    assert a.n_used == b.n_used and a.n_dropped == b.n_dropped


def test_nps_diff_names_the_sample_with_the_bad_value():
    with pytest.raises(KpiInputError) as info:
        nps_diff([10, 9], [10, 12])
    assert info.value.argument == "scores_b" and "scores_b" in str(info.value)
    with pytest.raises(KpiInputError) as info:
        nps_diff([None], [10])
    assert info.value.argument == "scores_a" and info.value.kind == "empty"


def test_adjusted_interval_always_contains_the_reported_nps():
    # One detractor: adjusted centre = (0.75 - 1.75)/4 = -25 points, and the plain adjusted-Wald
    # interval would end above -100; the reported interval must still contain -100.
    r = nps([3])
    assert r.value == -100.0
    assert r.ci_low == -100.0 and r.ci_high > -100.0
    for scores in ([10], [10, 10, 9], [0, 0, 0, 0, 0, 0, 0, 0]):
        r = nps(scores)
        assert r.ci_low <= r.value <= r.ci_high
