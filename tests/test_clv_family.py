"""Pareto/NBD, MBG/NBD, BG/BB and sBG: published estimates, and lifetimes as the reference.

Independent figures: CLVTools' and lifetimes' CDNOW fits (Pareto/NBD: Schmittlein et al. 1987 as
CLVTools reports it; MBG/NBD: BTYDplus), Fader, Hardie & Shang (2010) for BG/BB on the donations
data, Fader & Hardie (2007) for sBG on the "regular" and "high end" cohorts, and Fader & Hardie
(2010), Table 3, for DERL. Predictions are checked against lifetimes 0.11.3's own fitters.
"""

import warnings

import numpy as np
import pytest

from kpi_xl.datasets import load_cdnow_summary, load_donations
from kpi_xl.metrics import (
    BetaGeoBetaBinomFitter,
    KpiInputError,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    ShiftedBetaGeoFitter,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes


def sig3(v: float) -> float:
    return float(f"{v:.3g}")


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def donations():
    return load_donations()


def lt_fit(cls, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls().fit(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Pareto/NBD
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pnbd(cdnow):
    return ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="week")


def test_pareto_nbd_matches_published_cdnow_estimates(pnbd):
    # CLVTools test_correctness_pnbd: r=0.553, alpha=10.578, s=0.606, beta=11.669, LL -9595.0,
    # SEs 0.0476 / 0.8427 / 0.1873 / 6.2105.
    assert pnbd.converged and pnbd.identified
    assert [sig3(v) for v in pnbd.params_] == [0.553, 10.6, 0.606, 11.7]
    # beta is the least pinned-down parameter (SE 6.2): optimisers stop within 2e-3 of each other.
    np.testing.assert_allclose(pnbd.params_, [0.553, 10.578, 0.606, 11.669], atol=2e-3)
    assert round(pnbd.log_likelihood_, 1) == -9595.0
    np.testing.assert_allclose(pnbd.standard_errors_, [0.0476, 0.8427, 0.1873, 6.2105], rtol=2e-3)
    assert pnbd.summary["unit"].tolist() == ["none (shape)", "weeks", "none (shape)", "weeks"]


def test_pareto_nbd_predictions_match_lifetimes(pnbd, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    # lifetimes' default tolerance stops 2.5e-5 short of the maximum; at 1e-10 it reaches it.
    lt = lt_fit(lifetimes.ParetoNBDFitter, f, r, T, tol=1e-10)
    # Same parameters: the formulas agree to rounding.
    same = ParetoNBDFitter.from_params(*lt.params_, time_unit="week")
    np.testing.assert_allclose(
        same.conditional_expected_purchases(39, f, r, T),
        lt.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        same.probability_alive(f, r, T), lt.conditional_probability_alive(f, r, T), rtol=1e-9
    )
    np.testing.assert_allclose(
        same.expected_purchases_new_customer(np.array([1.0, 39.0, 78.0])),
        lt.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0, 78.0])),
        rtol=1e-9,
    )
    # Each fitted by its own optimiser: per-customer predictions within 1e-4.
    np.testing.assert_allclose(
        pnbd.conditional_expected_purchases(39, f, r, T),
        lt.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        pnbd.probability_alive(f, r, T), lt.conditional_probability_alive(f, r, T), rtol=1e-4
    )


def test_pareto_nbd_p_alive_published_and_edge_cases():
    # CLVTools: x=26, t_x=30.86, T=31 -> 0.9979. A last purchase at T: certainly alive.
    m = ParetoNBDFitter.from_params(0.5534, 10.5802, 0.6061, 11.6562, time_unit="week")
    assert round(m.probability_alive(26, 30.86, 31), 4) == 0.9979
    assert m.probability_alive(3, 10, 10) == 1.0
    # alpha < beta takes the other branch of A_0; s = 1 the limit of the expectation.
    other = ParetoNBDFitter.from_params(0.5, 2.0, 0.8, 9.0, time_unit="week")
    lt = lifetimes.ParetoNBDFitter()
    lt.params_ = other.params_.copy()
    assert other.probability_alive(2, 5, 20) == pytest.approx(
        lt.conditional_probability_alive(2, 5, 20), rel=1e-9
    )
    near = ParetoNBDFitter.from_params(0.5, 2.0, 1 + 1e-9, 9.0, time_unit="week")
    one = ParetoNBDFitter.from_params(0.5, 2.0, 1.0, 9.0, time_unit="week")
    assert one.conditional_expected_purchases(10, 2, 5, 20) == pytest.approx(
        near.conditional_expected_purchases(10, 2, 5, 20), rel=1e-7
    )


# ---------------------------------------------------------------------------------------------
# MBG/NBD
# ---------------------------------------------------------------------------------------------


def test_mbgnbd_matches_published_estimates_and_lifetimes(cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    mbg = ModifiedBetaGeoFitter().fit(f, r, T, time_unit="week")
    assert mbg.converged and mbg.identified
    # BTYDplus / lifetimes' tests: r=0.525, alpha=6.183, a=0.891, b=1.614.
    assert mbg.params_.round(3).tolist() == [0.525, 6.183, 0.891, 1.614]
    lt = lt_fit(lifetimes.ModifiedBetaGeoFitter, f, r, T)
    np.testing.assert_allclose(mbg.params_, lt.params_, rtol=1e-5)
    np.testing.assert_allclose(
        mbg.conditional_expected_purchases(39, f, r, T),
        lt.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        mbg.probability_alive(f, r, T), lt.conditional_probability_alive(f, r, T), rtol=1e-4
    )
    np.testing.assert_allclose(
        mbg.expected_purchases_new_customer(np.array([1.0, 39.0])),
        lt.expected_number_of_purchases_up_to_time(np.array([1.0, 39.0])),
        rtol=1e-4,
    )


# ---------------------------------------------------------------------------------------------
# BG/BB
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bgbb(donations):
    d = donations
    return BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])


def test_bgbb_matches_published_donations_estimates(bgbb, donations):
    # Fader, Hardie & Shang (2010): alpha=1.204, beta=0.750, gamma=0.657, delta=2.783.
    assert bgbb.converged and bgbb.identified
    assert bgbb.params_.round(3).tolist() == [1.204, 0.75, 0.657, 2.783]
    assert bgbb.n_customers_ == 11104
    # P(alive in the 7th opportunity) at (0,0), (2,4), (6,6): 0.11, 0.59, 0.93; sum over donors of
    # the expected donations in the next 5 opportunities: 12,884.2 (lifetimes' tests).
    got = bgbb.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6], periods=1)
    assert np.round(got, 2).tolist() == [0.11, 0.59, 0.93]
    d = donations
    total = (
        bgbb.conditional_expected_purchases(5, d["frequency"], d["recency"], d["periods"]) * d["weights"]
    ).sum()
    assert total == pytest.approx(12884.2, abs=0.1)
    assert bgbb.summary["unit"].tolist() == ["none (shape)"] * 4


def test_bgbb_predictions_match_lifetimes(bgbb, donations):
    d = donations
    f, r, n, w = d["frequency"], d["recency"], d["periods"], d["weights"]
    lt = lt_fit(lifetimes.BetaGeoBetaBinomFitter, f, r, n, weights=w)
    np.testing.assert_allclose(bgbb.params_, lt.params_, rtol=1e-5)
    np.testing.assert_allclose(
        bgbb.conditional_expected_purchases(5, f, r, n),
        lt.conditional_expected_number_of_purchases_up_to_time(5, f, r, n),
        rtol=1e-4,
    )
    for m in (0, 1, 3):
        np.testing.assert_allclose(
            bgbb.probability_alive(f, r, n, periods=m),
            lt.conditional_probability_alive(m, f, r, n),
            rtol=1e-4,
        )
    by_x = lt.expected_number_of_transactions_in_first_n_periods(6)["model"]
    assert bgbb.expected_purchases_new_customer(6) == pytest.approx(
        (by_x * by_x.index).sum() / by_x.sum(), rel=1e-4
    )


def test_bgbb_bad_histories():
    with pytest.raises(KpiInputError, match="recency: value 7 at position 2 is larger than n_periods") as e:
        BetaGeoBetaBinomFitter().fit([1, 2], [1, 7], [6, 6])
    assert e.value.argument == "recency" and e.value.position == 2
    with pytest.raises(KpiInputError, match="smaller than frequency"):
        BetaGeoBetaBinomFitter().fit([3], [2], [6])
    with pytest.raises(KpiInputError, match="no customer made a repeat transaction"):
        BetaGeoBetaBinomFitter().fit([0, 0], [0, 0], [6, 6])


# ---------------------------------------------------------------------------------------------
# sBG and DERL
# ---------------------------------------------------------------------------------------------

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(("survivors", "expected"), [(REGULAR, [0.704, 1.182]), (HIGH_END, [0.668, 3.806])])
def test_sbg_matches_fader_hardie_2007(survivors, expected):
    sbg = ShiftedBetaGeoFitter().fit(survivors)
    assert sbg.converged and sbg.identified
    assert sbg.params_.round(3).tolist() == expected
    # Retention r_t = (beta + t - 1) / (alpha + beta + t - 1) and S(t) its running product.
    a, b = sbg.params_
    t = np.arange(1, 13)
    np.testing.assert_allclose(sbg.retention(t), (b + t - 1) / (a + b + t - 1), rtol=1e-12)
    np.testing.assert_allclose(sbg.survival(t), np.cumprod((b + t - 1) / (a + b + t - 1)), rtol=1e-12)
    proj = sbg.projection(12)
    assert proj.index.tolist() == list(range(13))
    assert proj["observed_survivors"].iloc[:8].tolist() == survivors
    assert proj["observed_survivors"].iloc[8:].isna().all()
    # The fit tracks the calibration years closely (the paper's Figure 3): within 2 points.
    assert np.abs(proj["survival"].iloc[:8] - proj["observed_survival"].iloc[:8]).max() < 0.02


def test_sbg_log_likelihood_by_hand():
    # n = [10, 6, 5]: 4 churn in period 1, 1 in period 2, 5 survive period 2. alpha = beta = 1:
    # P(T=1) = 1/2, P(T=2) = 1/6, S(2) = 1/3.
    sbg = ShiftedBetaGeoFitter().fit([10, 6, 5])
    a, b = sbg.params_
    p1, p2, s2 = a / (a + b), a / (a + b) * b / (a + b + 1), b / (a + b) * (b + 1) / (a + b + 1)
    assert sbg.log_likelihood_ == pytest.approx(4 * np.log(p1) + np.log(p2) + 5 * np.log(s2), rel=1e-12)


@pytest.mark.parametrize(
    ("alpha", "beta", "expected"),
    [(3.80, 15.20, [3.31, 3.45, 3.59, 3.72, 3.84]), (0.067, 0.267, [7.68, 9.46, 9.86, 10.06, 10.19])],
)
def test_derl_matches_fader_hardie_2010_table_3(alpha, beta, expected):
    sbg = ShiftedBetaGeoFitter.from_params(alpha, beta)
    # The paper's parameters are rounded (0.067 stands for 0.0666...): agree to the last digit.
    np.testing.assert_allclose(sbg.derl(0.1, [1, 2, 3, 4, 5]), expected, atol=0.011)
    if alpha == 3.80:
        assert np.round(sbg.derl(0.1, [1, 2, 3, 4, 5]), 2).tolist() == expected


def test_derl_and_clv_equal_the_discounted_survival_sums():
    # DERL(d | n) = sum over t >= n of S(t) / S(n - 1) / (1 + d)^(t - n): the renewal-n payment at
    # once, each later one discounted; DEL = sum over t >= 0 of S(t) / (1 + d)^t.
    sbg = ShiftedBetaGeoFitter.from_params(0.704, 1.182)
    d = 0.1
    t = np.arange(0, 4000)
    surv = sbg.survival(t)
    assert sbg.discounted_expected_lifetime(d) == pytest.approx((surv / (1 + d) ** t).sum(), rel=1e-9)
    n = 3
    tail = np.arange(n, 4000)
    manual = (sbg.survival(tail) / sbg.survival(n - 1) / (1 + d) ** (tail - n)).sum()
    assert sbg.derl(d, n) == pytest.approx(manual, rel=1e-9)
    assert sbg.subscription_clv(40, d) == pytest.approx(40 * sbg.discounted_expected_lifetime(d))
    assert sbg.subscription_clv(40, d, renewal=n) == pytest.approx(40 * manual, rel=1e-9)


def test_sbg_bad_input():
    with pytest.raises(KpiInputError, match="at position 3 is more than") as e:
        ShiftedBetaGeoFitter().fit([100, 80, 85, 70])
    assert e.value.position == 3 and e.value.argument == "survivors"
    with pytest.raises(KpiInputError, match="at least 2 later periods") as e:
        ShiftedBetaGeoFitter().fit([100, 80])
    assert e.value.kind == "empty"
    with pytest.raises(KpiInputError, match="cohort size at period 0"):
        ShiftedBetaGeoFitter().fit([0, 0, 0])
    with pytest.raises(KpiInputError, match="whole number"):
        ShiftedBetaGeoFitter().fit([100, 80.5, 70])
    with pytest.raises(KpiInputError, match="infinite without discounting"):
        ShiftedBetaGeoFitter.from_params(0.7, 1.2).derl(0, 1)
    with pytest.raises(KpiInputError, match="renewal counts from 1"):
        ShiftedBetaGeoFitter.from_params(3.8, 15.2).derl(0.1, 0)
