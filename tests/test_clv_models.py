"""BG/NBD, Gamma-Gamma, RFM summaries and predicted CLV.

Golden values: the published CDNOW estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013) and
lifetimes 0.11.3 fitted in the test on the same data. Hand-computed cases check the formulas.
"""

import doctest
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from kpi_xl.datasets import load_cdnow_summary_with_transactions, load_cdnow_transactions
from kpi_xl.metrics import (
    BetaGeoFitter,
    GammaGammaFitter,
    KpiInputError,
    clv,
    predict_clv,
    rfm_summary,
)
from kpi_xl.metrics.clv import bgnbd, gamma_gamma, predict, summary

with warnings.catch_warnings():
    # lifetimes imports pkg_resources and sets a pandas option that pandas 3 deprecates.
    warnings.simplefilter("ignore")
    import lifetimes
    from lifetimes.utils import summary_data_from_transaction_data

# lifetimes' customer_lifetime_value(time=12, discount_rate=0.01, freq="W") steps through 12 months
# of 4.345 weeks each, discounting 1% per month.
LT_WEEKS_PER_MONTH = 4.345
CALIBRATION_END = "1997-09-30"


def sig3(v: float) -> float:
    """Round to 3 significant digits."""
    return float(f"{v:.3g}")


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary_with_transactions()


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="week")


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGammaFitter().fit(cdnow["frequency"], cdnow["monetary_value"])


@pytest.fixture(scope="module")
def lt_bg(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def lt_gg(cdnow):
    repeat = cdnow[cdnow["frequency"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])


# ---------------------------------------------------------------------------------------------
# Published estimates
# ---------------------------------------------------------------------------------------------


def test_bgnbd_matches_published_cdnow_estimates(bg):
    # Fader, Hardie & Lee (2005), section 5: r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4.
    assert bg.converged, bg.message
    r, alpha, a, b = bg.params_.tolist()
    assert [sig3(r), sig3(alpha), sig3(a), sig3(b)] == [0.243, 4.41, 0.793, 2.43]
    assert bg.params_.round(3).tolist() == [0.243, 4.414, 0.793, 2.426]
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert bg.n_customers_ == 2357
    assert bg.time_unit == "week"


def test_gamma_gamma_matches_published_cdnow_estimates(gg):
    # Fader & Hardie (2013) note 025: p=6.25, q=3.74, v=15.44, LL=-4055.9 on 946 repeat customers.
    assert gg.converged, gg.message
    p, q, v = gg.params_.tolist()
    assert [sig3(p), sig3(q), sig3(v)] == [6.25, 3.74, 15.4]
    assert v == pytest.approx(15.44, abs=0.01)
    assert gg.log_likelihood_ == pytest.approx(-4055.9, abs=0.05)
    assert gg.n_customers_ == 946 and gg.n_excluded_ == 2357 - 946
    # metrics.md: the correlation between frequency and spend among repeat buyers is 0.1139.
    assert gg.frequency_monetary_correlation_ == pytest.approx(0.1139, abs=5e-5)
    assert not any("correlated" in w for w in gg.warnings_)


def test_standard_errors_match_lifetimes(bg, gg, lt_bg, lt_gg):
    # Both use the observed information in log-parameters and the delta method.
    np.testing.assert_allclose(bg.standard_errors_.to_numpy(), lt_bg.standard_errors_.to_numpy(), rtol=1e-3)
    np.testing.assert_allclose(gg.standard_errors_.to_numpy(), lt_gg.standard_errors_.to_numpy(), rtol=1e-3)
    table = bg.summary
    assert list(table.columns) == ["estimate", "se", "ci_low", "ci_high", "unit"]
    assert (table["ci_low"] < table["estimate"]).all() and (table["estimate"] < table["ci_high"]).all()
    # Log-scale interval: estimate * exp(+-1.96 se / estimate); for r: 0.2426 * exp(+-1.96*0.01256/0.2426).
    r, se_r = table.loc["r", "estimate"], table.loc["r", "se"]
    assert table.loc["r", "ci_high"] == pytest.approx(r * math.exp(1.959964 * se_r / r))


def test_parameters_match_lifetimes(bg, gg, lt_bg, lt_gg):
    np.testing.assert_allclose(bg.params_.to_numpy(), lt_bg.params_.to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(gg.params_.to_numpy(), lt_gg.params_.to_numpy(), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Per-customer predictions against lifetimes (fitted in the test on the same data)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [1.0, 12.0, 39.0, 52.0])
def test_conditional_expected_purchases_match_lifetimes(bg, lt_bg, cdnow, t):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = bg.conditional_expected_purchases(t, f, r, T)
    theirs = lt_bg.conditional_expected_number_of_purchases_up_to_time(t, f, r, T)
    assert isinstance(ours, pd.Series) and ours.index.equals(cdnow.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-4)


def test_expected_purchases_for_customer_1_as_published(bg):
    # metrics.md: E[X(39) | x=2, t_x=30.43, T=38.86] = 1.2259.
    assert bg.conditional_expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.2259, abs=5e-5)


def test_probability_alive_matches_lifetimes(bg, lt_bg, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = bg.probability_alive(f, r, T)
    theirs = lt_bg.conditional_probability_alive(f.to_numpy(), r.to_numpy(), T.to_numpy())
    np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=1e-4)
    assert (ours[f == 0] == 1.0).all()


def test_expected_purchases_new_customer_matches_lifetimes(bg, lt_bg):
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        bg.expected_purchases_new_customer(t), lt_bg.expected_number_of_purchases_up_to_time(t), rtol=1e-4
    )


def test_expected_average_profit_matches_lifetimes(gg, lt_gg, cdnow):
    f, m = cdnow["frequency"], cdnow["monetary_value"]
    ours = gg.conditional_expected_average_profit(f, m)
    theirs = lt_gg.conditional_expected_average_profit(f, m)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-4)


def test_clv_matches_lifetimes_and_published_first_customers(bg, gg, lt_bg, lt_gg, cdnow):
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "monetary_value"))
    ours = gg.customer_lifetime_value(
        bg, f, r, T, m, horizon=12 * LT_WEEKS_PER_MONTH, step=LT_WEEKS_PER_MONTH, discount_rate=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lt_gg.customer_lifetime_value(lt_bg, f, r, T, m, time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-4)
    # metrics.md, lifetimes run: 36.2785, 4.6375, 8.3441, 8.3441, 8.3441 for customers 1-5.
    np.testing.assert_allclose(ours.iloc[:5], [36.2785, 4.6375, 8.3441, 8.3441, 8.3441], atol=5e-5)


def test_predict_clv_from_transactions_matches_lifetimes_pipeline():
    tx = load_cdnow_transactions()
    tx = tx[tx["date"] <= CALIBRATION_END]
    out = predict_clv(
        tx["customer_id"],
        tx["date"],
        tx["amount"],
        time_unit="week",
        horizon=12 * LT_WEEKS_PER_MONTH,
        step=LT_WEEKS_PER_MONTH,
        discount_rate=0.01,
        observation_end=CALIBRATION_END,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = summary_data_from_transaction_data(
            tx,
            "customer_id",
            "date",
            "amount",
            observation_period_end=CALIBRATION_END,
            freq="D",
            freq_multiplier=7,
        ).sort_index()
        f, r, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
        lbg = lifetimes.BetaGeoFitter().fit(f, r, T)
        repeat = summary[f > 0]
        lgg = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        horizon = 12 * LT_WEEKS_PER_MONTH
        expected = pd.DataFrame(
            {
                "frequency": f,
                "recency": r,
                "T": T,
                "monetary_value": m,
                "expected_purchases": lbg.conditional_expected_number_of_purchases_up_to_time(
                    horizon, f, r, T
                ),
                "probability_alive": lbg.conditional_probability_alive(f, r, T),
                "expected_average_value": lgg.conditional_expected_average_profit(f, m),
                "clv": lgg.customer_lifetime_value(lbg, f, r, T, m, time=12, discount_rate=0.01, freq="W"),
            }
        )
    table = out.customers
    assert list(table.columns) == list(expected.columns)
    assert table.index.equals(expected.index) and len(table) == 2357
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(out.purchase_model.params_, lbg.params_, rtol=1e-5)
    np.testing.assert_allclose(out.spend_model.params_, lgg.params_, rtol=1e-5)
    assert out.spend_model.n_excluded_ == (f == 0).sum()
    assert out.settings.time_unit == "week"
    assert out.settings.observation_end == pd.Timestamp(CALIBRATION_END)


def test_margin_scales_clv_and_step_names_convert_units(bg, gg, cdnow):
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "monetary_value"))
    full = gg.customer_lifetime_value(bg, f, r, T, m, horizon=52, step=4, discount_rate=0.01)
    half = gg.customer_lifetime_value(bg, f, r, T, m, horizon=52, step=4, discount_rate=0.01, margin=0.5)
    np.testing.assert_allclose(half, full * 0.5)
    # A month is 30.4375 days = 4.348214 weeks.
    named = gg.customer_lifetime_value(
        bg, f, r, T, m, horizon=12 * 30.4375 / 7, step="month", discount_rate=0.01
    )
    numeric = gg.customer_lifetime_value(
        bg, f, r, T, m, horizon=12 * 30.4375 / 7, step=30.4375 / 7, discount_rate=0.01
    )
    np.testing.assert_allclose(named, numeric)


def test_undiscounted_clv_is_purchases_times_spend(bg, gg, cdnow):
    # With no discounting the steps telescope: CLV = E[Z] * E[X(horizon)].
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "monetary_value"))
    clv = gg.customer_lifetime_value(bg, f, r, T, m, horizon=52, step=13)
    expected = gg.conditional_expected_average_profit(f, m) * bg.conditional_expected_purchases(52, f, r, T)
    np.testing.assert_allclose(clv, expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Formulas by hand
# ---------------------------------------------------------------------------------------------


def test_probability_alive_by_hand():
    bg = BetaGeoFitter.from_params(1, 1, 1, 2, time_unit="week")
    # x=1, t_x=1, T=3: odds dropped = a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) = 1/2 * (4/2)^2 = 2 -> 1/3.
    assert bg.probability_alive(1, 1, 3) == pytest.approx(1 / 3)
    # No repeat purchase: BG/NBD customers can only drop out right after a purchase.
    assert bg.probability_alive(0, 0, 3) == 1.0
    # Last purchase at T: odds = 1/2 * 1 = 0.5 -> 2/3.
    assert bg.probability_alive(1, 3, 3) == pytest.approx(2 / 3)


def test_expected_purchases_by_hand():
    # r=1, alpha=1, a=2, b=2; x=0, T=0 (a brand-new customer) must equal the new-customer curve
    # E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].
    # At t=1: z=1/2, 2F1(1, 2; 3; 1/2) = -2 * (ln(1 - z) + z) / z^2 = 8 ln 2 - 4 = 1.545177;
    # E = 3 * (1 - 1/2 * 1.545177) = 0.682234.
    bg = BetaGeoFitter.from_params(1, 1, 2, 2, time_unit="week")
    hand = 3 * (1 - 0.5 * (8 * math.log(2) - 4))
    assert bg.expected_purchases_new_customer(1.0) == pytest.approx(hand, rel=1e-12)
    assert bg.conditional_expected_purchases(1.0, 0, 0, 0) == pytest.approx(hand, rel=1e-12)
    assert bg.conditional_expected_purchases(0.0, 3, 2, 5) == 0.0


def _gauss_series(a: float, b: float, c: float, z: float, terms: int = 2000) -> float:
    """2F1(a, b; c; z) as its defining power series (|z| < 1; c not 0, -1, -2, ...)."""
    term = total = 1.0
    for k in range(terms):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
    return total


@pytest.mark.parametrize("t", [1.0, 8.0, 52.0])
def test_expected_purchases_where_a_plus_b_is_below_1(t):
    # A valid fit with a + b < 1 (seen fitting a 325-customer CDNOW segment, and in most interval
    # draws of small segments): for x = 0 the 2F1 of equation (10) has c = a + b - 1 < 0 and is
    # negative. FHL 2005 eq. (10) evaluated term by term with the Gauss series, no logarithms.
    r, alpha, a, b = 0.2615, 5.0906, 0.1808, 0.7621
    bg = BetaGeoFitter.from_params(r, alpha, a, b, time_unit="week")
    for age in (1.0, 30.0, 77.57):
        z = t / (alpha + age + t)
        hyp = _gauss_series(r, b, a + b - 1, z)
        if t == 52.0:
            assert hyp < 0  # the case a logarithm of 2F1 cannot take
        hand = (a + b - 1) / (a - 1) * (1 - ((alpha + age) / (alpha + age + t)) ** r * hyp)
        assert bg.conditional_expected_purchases(t, 0, 0, age) == pytest.approx(hand, rel=1e-10)
    hand_new = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * _gauss_series(r, b, a + b - 1, t / (alpha + t)))
    )
    assert bg.expected_purchases_new_customer(t) == pytest.approx(hand_new, rel=1e-10)


def test_clv_interval_of_a_small_segment_with_a_plus_b_near_1():
    # One CDNOW customer in seven (about 337 customers): the fit's a + b is close to 1, so many of
    # the interval's parameter draws fall below it; the interval must still come out and hold the
    # estimate (it failed with "the hypergeometric function overflows" before).
    tx = load_cdnow_transactions()
    part = tx[tx["customer_id"] % 7 == 4]
    pred = predict_clv(
        part["customer_id"], part["date"], part["amount"], time_unit="week", horizon=52, interval=0.9
    )
    low, high = pred.total_interval
    assert low < pred.customers["clv"].sum() < high
    assert (pred.customers["clv_low"] <= pred.customers["clv"] + 1e-9).all()
    assert (pred.customers["clv"] <= pred.customers["clv_high"] + 1e-9).all()


def test_expected_average_profit_by_hand():
    gg = GammaGammaFitter.from_params(2, 3, 10)
    # Population mean p v / (q - 1) = 2*10/2 = 10; weight on own mean p x / (p x + q - 1) = 4/6.
    assert gg.conditional_expected_average_profit(2, 20) == pytest.approx(10 / 3 + 40 / 3)
    assert gg.conditional_expected_average_profit(0, 0) == pytest.approx(10.0)


def test_log_likelihoods_by_hand():
    bg = BetaGeoFitter.from_params(1, 1, 1, 2, time_unit="week")
    # x=0, T=2: (1/3)^1.  x=1, t_x=1, T=2: B(1,3)/B(1,2) * [3^-2 + 1/2 * 2^-2] = 2/3 * 17/72 = 17/108.
    assert bg.log_likelihood([0, 1], [0, 1], [2, 2]) == pytest.approx(math.log(1 / 3 * 17 / 108), rel=1e-12)
    gg = GammaGammaFitter.from_params(1, 2, 10)
    # x=1, mean 10: Gamma(3)/(Gamma(1)Gamma(2)) * 10^2 * 10^0 * 1 / 20^3 = 0.025; frequency-0 rows ignored.
    assert gg.log_likelihood([1, 0], [10, 0]) == pytest.approx(math.log(0.025), rel=1e-12)


def test_clv_by_hand():
    bg = BetaGeoFitter.from_params(1, 1, 2, 2, time_unit="week")
    gg = GammaGammaFitter.from_params(2, 3, 10)
    # New customer (x=0, T=0), 2 steps of 1 week at 10%: spend 10 (population mean);
    # E1 = E[X(1)], E2 = E[X(2)]; CLV = 10 * (E1 / 1.1 + (E2 - E1) / 1.1^2).
    e1 = bg.expected_purchases_new_customer(1.0)
    e2 = bg.expected_purchases_new_customer(2.0)
    hand = 10 * (e1 / 1.1 + (e2 - e1) / 1.21)
    assert gg.customer_lifetime_value(bg, 0, 0, 0, 0, horizon=2, discount_rate=0.1) == pytest.approx(hand)


def central_difference(f, x, h=1e-5):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])


def test_analytic_gradients_match_finite_differences(cdnow):
    f, r, T, m = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    bg_data = bgnbd._BgnbdData.build(f, r, T, np.ones(f.size))
    rep = f > 0
    gg_data = gamma_gamma._GammaGammaData.build(f[rep], m[rep], np.ones(rep.sum()))
    cases = [
        (bgnbd._bgnbd_loglik, bg_data, np.log([0.24, 4.4, 0.79, 2.4])),
        (bgnbd._bgnbd_loglik, bg_data, np.log([1.3, 0.5, 2.0, 0.7])),
        (gamma_gamma._gamma_gamma_loglik, gg_data, np.log([6.2, 3.7, 15.4])),
        (gamma_gamma._gamma_gamma_loglik, gg_data, np.log([0.5, 1.5, 2.0])),
    ]
    for loglik, data, logp in cases:
        numeric = central_difference(lambda p, loglik=loglik, data=data: loglik(p, data)[0], logp)
        # Log-likelihoods of ~-1e4 built from terms of ~1e5 leave ~1e-5 of rounding in the differences.
        np.testing.assert_allclose(loglik(logp, data)[1], numeric, rtol=1e-5, atol=1e-4)


def test_docstring_examples_hold():
    attempted = 0
    for module in (clv, summary, bgnbd, gamma_gamma, predict):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 10


# ---------------------------------------------------------------------------------------------
# Compression and recovery
# ---------------------------------------------------------------------------------------------


def test_compressed_rows_with_weights_fit_like_raw_rows(cdnow):
    counts = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    assert len(counts) < len(cdnow)
    raw = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="week")
    packed = BetaGeoFitter().fit(
        counts["frequency"], counts["recency"], counts["T"], time_unit="week", weights=counts["n"]
    )
    assert packed.log_likelihood_ == pytest.approx(raw.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(packed.params_, raw.params_, rtol=1e-6)
    np.testing.assert_allclose(packed.standard_errors_, raw.standard_errors_, rtol=1e-4)
    assert packed.n_customers_ == raw.n_customers_ == 2357
    assert packed.n_patterns_ == raw.n_patterns_ == len(counts)
    # Same parameters, same data: the log-likelihood is identical however the rows are packed.
    assert raw.log_likelihood(
        counts["frequency"], counts["recency"], counts["T"], weights=counts["n"]
    ) == pytest.approx(raw.log_likelihood(cdnow["frequency"], cdnow["recency"], cdnow["T"]), rel=1e-12)

    spend = (
        cdnow[cdnow["frequency"] > 0].groupby(["frequency", "monetary_value"]).size().reset_index(name="n")
    )
    gg_raw = GammaGammaFitter().fit(cdnow["frequency"], cdnow["monetary_value"])
    gg_packed = GammaGammaFitter().fit(spend["frequency"], spend["monetary_value"], weights=spend["n"])
    assert gg_packed.log_likelihood_ == pytest.approx(gg_raw.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(gg_packed.params_, gg_raw.params_, rtol=1e-6)


def simulate_bgnbd(n, r, alpha, a, b, rng):
    """Customers' (x, t_x, T) drawn from the BG/NBD process, vectorised over purchase number."""
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(20, 52, n)
    x, tx, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        clock = clock + rng.exponential(1 / lam)
        bought = active & (clock <= T)
        x[bought] += 1
        tx[bought] = clock[bought]
        active = bought & (rng.random(n) >= p)
    return x, tx, T


def test_fitter_recovers_simulated_parameters():
    truth = np.array([0.5, 5.0, 0.8, 2.5])
    x, tx, T = simulate_bgnbd(20_000, *truth, np.random.default_rng(20250101))
    fit = BetaGeoFitter().fit(x, tx, T, time_unit="day")
    assert fit.converged
    z = (fit.params_.to_numpy() - truth) / fit.standard_errors_.to_numpy()
    assert np.all(np.abs(z) < 3.5), z


# ---------------------------------------------------------------------------------------------
# RFM summaries
# ---------------------------------------------------------------------------------------------


WEEK_LOG = (
    ["A", "A", "A", "B"],
    ["2025-01-06", "2025-01-08", "2025-01-20", "2025-02-02"],
    [10, 5, 20, 7],
)


def test_rfm_summary_weekly_is_elapsed_days_over_7_by_hand():
    # FHL 2005: purchases counted on distinct days, times in days / 7. A buys on days 0, 2 and 14 of
    # a window ending on day 28: frequency 2, recency 14/7 = 2, T 28/7 = 4, mean repeat spend (5+20)/2.
    # B buys once on day 27: T = 1/7 week.
    out = rfm_summary(*WEEK_LOG, time_unit="week", observation_end="2025-02-03")
    assert out.loc["A"].tolist() == [2.0, 2.0, 4.0, 12.5]
    assert out.loc["B"].tolist() == pytest.approx([0.0, 0.0, 1 / 7, 0.0])
    assert out.attrs["time_unit"] == "week" and out.attrs["n_transactions"] == 4
    # The same days in years and months: 14 / 365.25 and 28 / 30.4375.
    assert rfm_summary(*WEEK_LOG, time_unit="year", observation_end="2025-02-03").loc["A", "recency"] == (
        pytest.approx(14 / 365.25)
    )
    assert rfm_summary(*WEEK_LOG, time_unit="month", observation_end="2025-02-03").loc["A", "T"] == (
        pytest.approx(28 / 30.4375)
    )


def test_rfm_summary_calendar_weeks_by_hand():
    # Mon 6 Jan ($10) and Wed 8 Jan ($5) share a Monday-Sunday week; Mon 20 Jan ($20) is two weeks
    # later. B buys once on Sun 2 Feb, the last day of the week before observation_end (Mon 3 Feb).
    out = rfm_summary(*WEEK_LOG, time_unit="calendar-week", observation_end="2025-02-03")
    assert out.loc["A"].tolist() == [1.0, 2.0, 4.0, 20.0]
    assert out.loc["B"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert out.attrs["time_unit"] == "calendar-week"


def test_rfm_summary_daily_and_monthly_by_hand():
    ids = [1, 1, 1, 2]
    dates = ["2025-01-31", "2025-01-31 18:30", "2025-02-01", "2025-03-15"]
    amounts = [4, 6, 30, 9]
    daily = rfm_summary(ids, dates, amounts, time_unit="day", observation_end="2025-03-31")
    # Days: Jan 31 (10 in total) then Feb 1 (30): one repeat day, recency 1, T = Jan 31 -> Mar 31 = 59.
    assert daily.loc[1].tolist() == [1.0, 1.0, 59.0, 30.0]
    assert daily.loc[2].tolist() == [0.0, 0.0, 16.0, 0.0]
    monthly = rfm_summary(ids, dates, amounts, time_unit="calendar-month", observation_end="2025-03-31")
    # Calendar months: January then February: recency 1 month, T = January -> March = 2 months.
    assert monthly.loc[1].tolist() == [1.0, 1.0, 2.0, 30.0]
    assert monthly.loc[2].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_rfm_summary_without_amounts_and_with_blank_rows():
    out = rfm_summary(
        ["x", "x", None, "y"], ["2025-01-01", "2025-01-03", None, "2025-01-02"], time_unit="day"
    )
    assert list(out.columns) == ["frequency", "recency", "T"]
    assert out.loc["x"].tolist() == [1.0, 2.0, 2.0]
    assert out.attrs["n_dropped"] == 1 and out.attrs["n_transactions"] == 3


@pytest.mark.parametrize("sample", [True, False])
@pytest.mark.parametrize("end", [None, CALIBRATION_END])
@pytest.mark.parametrize(
    ("unit", "freq", "multiplier"), [("day", "D", 1), ("week", "D", 7), ("calendar-week", "W", 1)]
)
def test_rfm_summary_equals_lifetimes(sample, end, unit, freq, multiplier):
    tx = load_cdnow_transactions(sample=sample)
    if end is not None:
        tx = tx[tx["date"] <= end]
    ours = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit=unit, observation_end=end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = summary_data_from_transaction_data(
            tx,
            "customer_id",
            "date",
            "amount",
            observation_period_end=end,
            freq=freq,
            freq_multiplier=multiplier,
        ).sort_index()
    pd.testing.assert_frame_equal(ours, theirs, check_names=False, rtol=1e-12)


def test_rfm_summary_reproduces_the_published_weekly_summary():
    # The FHL summary counts days and divides by 7 (2 decimals); x is the number of repeat days.
    tx = load_cdnow_transactions()
    tx = tx[tx["date"] <= CALIBRATION_END]
    weekly = rfm_summary(
        tx["customer_id"], tx["date"], tx["amount"], time_unit="week", observation_end=CALIBRATION_END
    )
    published = load_cdnow_summary_with_transactions()
    assert (weekly["frequency"] == published["frequency"]).all()
    np.testing.assert_allclose(weekly["recency"], published["recency"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(weekly["T"], published["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(weekly["monetary_value"], published["monetary_value"], atol=0.005 + 1e-9)


def test_bgnbd_from_raw_cdnow_transactions_weekly_matches_the_paper():
    # Issue 11: from the raw transactions, weekly, 39-week calibration ending 1997-09-30, the fit
    # is FHL 2005's r=0.243, alpha=4.414, a=0.793, b=2.426, LL -9582.4 (CLVTools: -9582.429).
    tx = load_cdnow_transactions()
    tx = tx[tx["date"] <= CALIBRATION_END]
    s = rfm_summary(tx["customer_id"], tx["date"], time_unit="week", observation_end=CALIBRATION_END)
    fit = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"], time_unit="week")
    assert [sig3(v) for v in fit.params_] == [0.243, 4.41, 0.793, 2.43]
    np.testing.assert_allclose(fit.params_, [0.2425945, 4.4136019, 0.7929199, 2.4258881], rtol=2e-5)
    assert fit.log_likelihood_ == pytest.approx(-9582.429, abs=0.01)
    assert fit.summary["unit"].tolist() == ["none (shape)", "weeks", "none (shape)", "none (shape)"]
    assert fit.log_likelihood_unit == "natural log, recency and T in weeks"
    # In days alpha scales by 7 and the log-likelihood by -x log 7 per customer: a different number.
    daily = BetaGeoFitter().fit(s["frequency"], s["recency"] * 7, s["T"] * 7, time_unit="day")
    assert daily.params_["alpha"] == pytest.approx(7 * fit.params_["alpha"], rel=1e-4)
    expected = fit.log_likelihood_ - s["frequency"].sum() * math.log(7)
    assert daily.log_likelihood_ == pytest.approx(expected, abs=0.01)
    assert daily.log_likelihood_unit == "natural log, recency and T in days"


# ---------------------------------------------------------------------------------------------
# Time-unit safety and bad input
# ---------------------------------------------------------------------------------------------


def test_time_unit_is_required_everywhere(cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    with pytest.raises(KpiInputError, match="time_unit is required") as e:
        BetaGeoFitter().fit(f, r, T)
    assert e.value.argument == "time_unit" and e.value.kind == "invalid"
    with pytest.raises(KpiInputError, match="time_unit is required"):
        rfm_summary([1], ["2025-01-01"])
    with pytest.raises(KpiInputError, match="time_unit is required"):
        predict_clv([1], ["2025-01-01"], [5], horizon=52)
    with pytest.raises(KpiInputError, match="amounts are required"):
        predict_clv([1], ["2025-01-01"], None, time_unit="week", horizon=52)
    with pytest.raises(KpiInputError, match="time_unit is required"):
        BetaGeoFitter.from_params(1, 1, 1, 1)
    with pytest.raises(KpiInputError, match="'year', 'calendar-week' or 'calendar-month', got 'fortnight'"):
        BetaGeoFitter().fit(f, r, T, time_unit="fortnight")


def test_bad_transactions_raise_with_position():
    with pytest.raises(KpiInputError, match=r"amounts: value -5 at position 2") as e:
        rfm_summary([1, 1], ["2025-01-01", "2025-01-02"], [10, -5], time_unit="day")
    assert e.value.position == 2
    with pytest.raises(KpiInputError, match=r"2025-02-01 at position 3 is after observation_end 2025-01-31"):
        rfm_summary(
            [1, 1, 2],
            ["2025-01-01", "2025-01-02", "2025-02-01"],
            time_unit="day",
            observation_end="2025-01-31",
        )
    with pytest.raises(KpiInputError, match="dates: the value at position 2 is blank"):
        rfm_summary([1, 1], ["2025-01-01", None], [1, 2], time_unit="day")
    with pytest.raises(KpiInputError, match="customer_ids: the value at position 1 is blank"):
        rfm_summary([" ", 1], ["2025-01-01", "2025-01-02"], time_unit="day")
    with pytest.raises(KpiInputError, match="dates: value 'soon' at position 1 is not a date"):
        rfm_summary([1], ["soon"], time_unit="day")
    with pytest.raises(KpiInputError, match="customer_ids has 2, dates has 1"):
        rfm_summary([1, 2], ["2025-01-01"], time_unit="day")
    with pytest.raises(KpiInputError, match="no transactions") as e:
        rfm_summary([None], [None], time_unit="day")
    assert e.value.kind == "empty"


def test_bad_customer_summaries_raise():
    with pytest.raises(KpiInputError, match="recency: value 5 at position 2 is larger than T 4"):
        BetaGeoFitter().fit([1, 2], [1, 5], [3, 4], time_unit="week")
    with pytest.raises(KpiInputError, match="recency: value 1 at position 1 must be 0 when frequency is 0"):
        BetaGeoFitter().fit([0, 2], [1, 3], [3, 4], time_unit="week")
    with pytest.raises(KpiInputError, match="frequency: value 1.5 at position 1 is not a whole number"):
        BetaGeoFitter().fit([1.5, 2], [1, 3], [3, 4], time_unit="week")
    with pytest.raises(KpiInputError, match="T: the value at position 2 is blank"):
        BetaGeoFitter().fit([1, 2], [1, 3], [3, None], time_unit="week")
    with pytest.raises(KpiInputError, match="no customer made a repeat purchase") as e:
        BetaGeoFitter().fit([0, 0], [0, 0], [3, 4], time_unit="week")
    assert e.value.kind == "empty"
    with pytest.raises(KpiInputError, match="weights must give one count per row"):
        BetaGeoFitter().fit([1, 2], [1, 3], [3, 4], time_unit="week", weights=[1])
    with pytest.raises(KpiInputError, match="monetary_value: value -3 at position 1"):
        GammaGammaFitter().fit([1], [-3])


def test_fully_blank_rows_are_skipped_and_counted(cdnow):
    f = list(cdnow["frequency"]) + [None, ""]
    r = list(cdnow["recency"]) + [None, " "]
    T = list(cdnow["T"]) + [None, None]
    fit = BetaGeoFitter().fit(f, r, T, time_unit="week")
    assert fit.n_dropped_ == 2 and fit.n_customers_ == 2357
    assert fit.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)


def test_too_few_repeat_customers_for_gamma_gamma():
    with pytest.raises(KpiInputError, match="at least 10 customers") as e:
        GammaGammaFitter().fit([1, 2, 0, 3, 1], [10, 20, 0, 0, 5])
    # 3 usable customers; the 0-frequency one and the 0-spend one are excluded.
    assert "there are 3 (2 excluded)" in str(e.value) and e.value.kind == "empty"
    tx_ids = [1, 1, 2, 3]
    with pytest.raises(KpiInputError, match="at least 10 customers"):
        predict_clv(
            tx_ids,
            ["2025-01-01", "2025-01-09", "2025-01-02", "2025-01-03"],
            [5, 6, 7, 8],
            time_unit="week",
            horizon=4,
        )


def test_prediction_settings_are_checked(bg, gg):
    with pytest.raises(KpiInputError, match="horizon 10 is not a whole number of steps of 4 weeks"):
        gg.customer_lifetime_value(bg, 1, 1, 2, 10, horizon=10, step=4)
    with pytest.raises(KpiInputError, match="margin must be a share"):
        gg.customer_lifetime_value(bg, 1, 1, 2, 10, horizon=12, margin=1.5)
    with pytest.raises(KpiInputError, match="discount_rate must be 0 or more"):
        gg.customer_lifetime_value(bg, 1, 1, 2, 10, horizon=12, discount_rate=-0.1)
    with pytest.raises(
        KpiInputError, match="step must be a number of weeks or 'day', 'week', 'month' or 'year'"
    ):
        gg.customer_lifetime_value(bg, 1, 1, 2, 10, horizon=12, step="fortnight")
    with pytest.raises(KpiInputError, match="t must be a finite time of 0 or more"):
        bg.conditional_expected_purchases(-1, 1, 1, 2)
    with pytest.raises(KpiInputError, match="fit the model first"):
        BetaGeoFitter().probability_alive(1, 1, 2)
    with pytest.raises(KpiInputError, match="q is 0.8"):
        GammaGammaFitter.from_params(2, 0.8, 10).conditional_expected_average_profit(1, 10)


def test_a_fit_that_does_not_converge_is_flagged_and_refuses_to_predict():
    # Ten customers who all spend exactly 10 on every purchase: no spread in spend, so p and q
    # run off to infinity.
    gg = GammaGammaFitter().fit([1, 2, 3, 4, 5] * 2, [10] * 10)
    assert not gg.converged
    assert "ran off towards 0 or infinity" in gg.message
    with pytest.raises(KpiInputError, match="did not converge"):
        gg.conditional_expected_average_profit(1, 10)
    # The parameter table still shows where the search ended.
    assert gg.summary.loc["p", "estimate"] > 1e8


def test_a_fit_that_does_not_identify_the_parameters_refuses_to_predict():
    # Every repeat customer bought last at T: x=1, t_x=T. The drop-out terms cancel,
    # B(a, b+1)/B(a, b) * (1 + a/b) = b/(a+b) * (a+b)/b = 1, so a and b are not identified at all
    # and P(alive) would be whatever the optimiser's starting point implies.
    bg = BetaGeoFitter().fit([1] * 20 + [0] * 20, [10] * 20 + [0] * 20, [10] * 40, time_unit="week")
    assert not bg.identified
    assert np.isnan(bg.standard_errors_["a"])
    with pytest.raises(KpiInputError, match="not pinned down"):
        bg.probability_alive(1, 10, 10)


def test_predictions_refuse_blank_rows_instead_of_misaligning(bg, gg):
    with pytest.raises(KpiInputError, match="frequency: the value at position 2 is blank"):
        bg.probability_alive([1, None], [1, None], [2, None])
    with pytest.raises(KpiInputError, match="monetary_value: the value at position 1 is blank"):
        gg.conditional_expected_average_profit(pd.Series([1, 2]), pd.Series([None, 5.0]))


def test_scalar_and_array_inputs(bg):
    one = bg.probability_alive(2, 30.43, 38.86)
    assert isinstance(one, float)
    many = bg.probability_alive([2, 0], [30.43, 0], [38.86, 38.86])
    assert isinstance(many, np.ndarray) and many[0] == pytest.approx(one) and many[1] == 1.0


def test_rfm_summary_applies_the_one_id_rule():
    # 3, "3 " and 3.0 are one customer (the id rule: trimmed, a number and its digits as text
    # alike), as in every other face; a placeholder amount is named, not called blank.
    dates = ["2025-01-01", "2025-01-15", "2025-02-01", "2025-01-10", "2025-03-01"]
    out = rfm_summary([3, "3 ", 3.0, 7, 7], dates, [10, 20, 30, 5, 7], time_unit="day")
    assert out.index.tolist() == ["3", "7"]
    assert out.loc["3"].tolist() == [2.0, 31.0, 59.0, 25.0]
    # Ids given as numbers stay numbers (Excel sends 3.0).
    assert rfm_summary([3.0, 3, 7.0], dates[:3], [1, 2, 3], time_unit="day").index.tolist() == [3, 7]
    text = rfm_summary(["0012", "12", "A7"], dates[:3], [1, 2, 3], time_unit="day")
    assert sorted(text.index.tolist()) == ["0012", "12", "A7"]
    with pytest.raises(KpiInputError, match=r"'n/a' at position 2 is a placeholder for no value"):
        rfm_summary([1, 1], dates[:2], [5, "n/a"], time_unit="day")


def test_time_units_in_the_templates_languages():
    # A German or Chinese workbook writes the unit in its language: the same fit and prediction.
    tx = load_cdnow_transactions()
    part = tx[tx["customer_id"] % 7 == 0]
    args = (part["customer_id"], part["date"], part["amount"])
    english = predict_clv(*args, time_unit="month", horizon=12, step="month").customers["clv"]
    for unit, step in (("Monat", "Monat"), (" Monate ", "monat"), ("月", "月")):
        other = predict_clv(*args, time_unit=unit, horizon=12, step=step).customers["clv"]
        np.testing.assert_array_equal(other.to_numpy(), english.to_numpy())
    weekly = predict_clv(*args, time_unit="week", horizon=52).customers["clv"]
    for unit in ("Woche", "Wochen", "週", "weeks"):
        other = predict_clv(*args, time_unit=unit, horizon=52).customers["clv"]
        np.testing.assert_array_equal(other.to_numpy(), weekly.to_numpy())
    with pytest.raises(KpiInputError, match="time_unit must be"):
        predict_clv(*args, time_unit="Stunde", horizon=12)


def test_fits_on_one_blas_thread_equal_the_fits_on_all(cdnow, bg, monkeypatch):
    # The optimiser runs on one BLAS thread of scipy's OpenBLAS (a speed matter: its triangular
    # solves spin threads); the fit must be the very same as on every thread, and the calling
    # thread's setting is given back afterwards.
    import contextlib

    from kpi_xl.metrics.clv import _fit

    setter = _fit._scipy_blas_threads()
    if setter is None:
        pytest.skip("scipy uses a BLAS other than the OpenBLAS its wheels ship")
    before = setter(3)
    try:
        again = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="week")
        assert setter(3) == 3
        monkeypatch.setattr(_fit, "_one_blas_thread", contextlib.nullcontext)
        threaded = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], time_unit="week")
    finally:
        setter(before)
    assert (
        again.params_.to_numpy().tolist()
        == threaded.params_.to_numpy().tolist()
        == bg.params_.to_numpy().tolist()
    )
    assert again.covariance_.to_numpy().tolist() == threaded.covariance_.to_numpy().tolist()
