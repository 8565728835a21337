"""Service metrics: response and resolution times, SLA attainment, complaints.

Expected values are worked out by hand in the comments; scipy is used only as an independent check of
published interval formulas.
"""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from kpi_xl.metrics import (
    KpiInputError,
    complaint_rate,
    complaint_volume,
    first_response_time,
    resolution_time,
    sla_rate,
)

T0 = "2025-01-06 08:00"


def at(hours: float) -> str:
    """Timestamp text `hours` after T0."""
    return (pd.Timestamp(T0) + pd.Timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


# Five answered tickets after 1, 2, 4, 8 and 15 hours, one unanswered.
CREATED = [T0] * 6
REPLIED = [at(1), at(2), at(4), at(8), at(15), None]


def test_frt_median_mean_p90_by_hand():
    r = first_response_time(CREATED, REPLIED)
    # sorted hours 1, 2, 4, 8, 15: median = 4; mean = 30 / 5 = 6;
    # p90 (linear): rank (5 - 1) * 0.9 = 3.6 -> 8 + 0.6 * (15 - 8) = 12.2
    assert r.metric == "first_response_time"
    assert r.unit == "hours"
    assert r.value == 4.0
    assert r.components["median"] == 4.0
    assert r.components["mean"] == 6.0
    assert r.components["p90"] == pytest.approx(12.2)
    assert r.components["open"] == 1
    assert r.components["n_closed"] == 5
    assert r.n_used == 5
    assert r.n_dropped == 0
    assert first_response_time(CREATED, REPLIED, statistic="mean").value == 6.0
    assert first_response_time(CREATED, REPLIED, statistic="p90").value == pytest.approx(12.2)


def test_open_tickets_are_excluded_not_counted_as_zero():
    # answered after 1, 2, 4 hours, two open: median of (1, 2, 4) = 2.
    # Counting the open ones as 0 would give median of (0, 0, 1, 2, 4) = 1 and mean 7/5 instead of 7/3.
    created = [T0] * 5
    replied = [at(1), at(2), at(4), None, ""]
    r = first_response_time(created, replied)
    assert r.value == 2.0
    assert r.components["mean"] == pytest.approx(7 / 3)
    assert r.components["open"] == 2
    assert r.n_used == 3
    assert any("open ticket(s)" in w for w in r.warnings)


def test_mean_t_interval_by_hand():
    r = first_response_time(CREATED, REPLIED, statistic="mean")
    # deviations from 6: -5, -4, -2, 2, 9 -> squares sum 25 + 16 + 4 + 4 + 81 = 130; s^2 = 130 / 4 = 32.5
    # SE = sqrt(32.5 / 5) = sqrt(6.5) = 2.549510; t(0.975, 4) = 2.776445 -> half-width 7.078592
    # low 6 - 7.0786 < 0 is clipped to 0 (a duration cannot be negative); high 13.078592
    assert r.se == pytest.approx(math.sqrt(6.5))
    assert r.method == "t"
    assert r.ci_low == 0.0
    assert r.ci_high == pytest.approx(6 + 2.7764451 * math.sqrt(6.5), abs=1e-6)


def test_median_order_statistic_interval_n10():
    created = [T0] * 10
    replied = [at(h) for h in range(1, 11)]
    r = first_response_time(created, replied)
    # median of 1..10 = 5.5. Count below the median ~ Binomial(10, 1/2), F(1) = 11/1024 = 0.0107,
    # F(2) = 56/1024 = 0.0547 -> l = 2; F(7) = 968/1024 = 0.9453, F(8) = 1013/1024 = 0.9893 -> u = 9.
    # Interval [x(2), x(9)] = [2, 9], coverage F(8) - F(1) = 1002/1024 = 0.978515625 (Conover's table).
    assert r.value == 5.5
    assert (r.ci_low, r.ci_high) == (2.0, 9.0)
    assert r.components["ci_coverage"] == pytest.approx(1002 / 1024)
    assert r.method == "order-statistic"
    assert r.confidence == 0.95
    assert r.se is None


def test_median_interval_needs_six_tickets():
    # n = 5: P(all 5 above the median) = 1/32 = 0.031 > 0.025, so no rank l >= 1 exists.
    r5 = first_response_time([T0] * 5, [at(h) for h in range(1, 6)])
    assert r5.ci_low is None and r5.ci_high is None and r5.method is None
    assert any("too few" in w for w in r5.warnings)
    # n = 6: F(0) = 1/64 <= 0.025 -> l = 1; F(5) = 63/64 >= 0.975 -> u = 6: [min, max],
    # coverage F(5) - F(0) = 62/64.
    r6 = first_response_time([T0] * 6, [at(h) for h in range(1, 7)])
    assert (r6.ci_low, r6.ci_high) == (1.0, 6.0)
    assert r6.components["ci_coverage"] == pytest.approx(62 / 64)


def _ranks_by_enumeration(n: int, q: float, conf: float) -> tuple[int, int]:
    # Independent oracle. K = number of times below the true quantile ~ Binomial(n, q), F its CDF;
    # x(l) <= quantile <= x(u) exactly when l <= K <= u - 1, probability F(u-1) - F(l-1).
    # Widest l with F(l-1) <= alpha/2, narrowest u with F(u-1) >= 1 - alpha/2.
    cdf = np.cumsum([math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(n + 1)])
    a = (1 - conf) / 2
    lo = max(j for j in range(1, n + 1) if cdf[j - 1] <= a)
    hi = min(j for j in range(1, n + 1) if cdf[j - 1] >= 1 - a)
    return lo, hi


def test_p90_interval_matches_enumerated_ranks_and_needs_36_tickets():
    hours = np.arange(1, 41, dtype=float)
    created = np.full(40, np.datetime64("2025-01-06T08:00"), dtype="datetime64[ns]")
    replied = created + (hours * 3600).astype("timedelta64[s]")
    r = first_response_time(created, replied, statistic="p90")
    # p90 of 1..40 (linear): rank 39 * 0.9 = 35.1 -> 36 + 0.1 * (37 - 36) = 36.1
    assert r.value == pytest.approx(36.1)
    lo, hi = _ranks_by_enumeration(40, 0.9, 0.95)
    assert (r.ci_low, r.ci_high) == (hours[lo - 1], hours[hi - 1])
    # n = 35: P(all 35 below the p90) = 0.9^35 = 0.0250 > 0.025 -> no upper rank; n = 36: 0.9^36 = 0.0225.
    r35 = first_response_time(created[:35], replied[:35], statistic="p90")
    assert r35.ci_high is None
    r36 = first_response_time(created[:36], replied[:36], statistic="p90")
    assert r36.ci_high == 36.0


@pytest.mark.parametrize("statistic, q", [("median", 0.5), ("p90", 0.9)])
@pytest.mark.parametrize("n", [6, 7, 11, 20, 36, 37, 50, 99])
def test_quantile_interval_ranks_match_enumeration(statistic, q, n):
    hours = np.arange(1, n + 1, dtype=float)
    created = np.full(n, np.datetime64("2025-01-06T08:00"), dtype="datetime64[ns]")
    replied = created + (hours * 3600).astype("timedelta64[s]")
    r = first_response_time(created, replied, statistic=statistic)
    cdf = np.cumsum([math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(n + 1)])
    if cdf[0] > 0.025 or cdf[n - 1] < 0.975:
        assert r.ci_low is None
        return
    lo, hi = _ranks_by_enumeration(n, q, 0.95)
    assert (r.ci_low, r.ci_high) == (hours[lo - 1], hours[hi - 1])
    assert r.components["ci_coverage"] == pytest.approx(cdf[hi - 1] - cdf[lo - 1])
    assert r.components["ci_coverage"] >= 0.95


def test_date_forms_are_accepted():
    # 2025-01-06 is Excel serial 45663 (45658 = 2025-01-01); 45663.5 is 12:00 that day.
    created = ["06.01.2025 08:00", dt.datetime(2025, 1, 6, 8, 0), "2025-01-06 08:00"]
    replied = [45663.5, "2025-01-06T10:00:00", pd.Timestamp("2025-01-06 09:30")]
    r = first_response_time(created, replied, statistic="mean")
    # 4 h, 2 h, 1.5 h -> mean 7.5 / 3 = 2.5
    assert r.value == pytest.approx(2.5)
    assert r.n_used == 3


def test_reply_before_creation_is_an_error_naming_the_position():
    created = [T0, T0, T0]
    replied = [at(1), at(-2), at(3)]
    with pytest.raises(KpiInputError) as e:
        first_response_time(created, replied)
    assert e.value.position == 2
    assert e.value.argument == "first_response"
    assert e.value.kind == "invalid"
    assert "position 2" in str(e.value)
    r = first_response_time(created, replied, on_invalid="drop")
    # hours 1 and 3 remain: median 2, one row dropped
    assert r.value == 2.0
    assert r.n_dropped == 1


def test_reply_without_created_date_is_an_error():
    with pytest.raises(KpiInputError) as e:
        first_response_time([T0, None], [at(1), at(2)])
    assert e.value.argument == "created"
    assert e.value.position == 2


def test_unparseable_date_raises_or_is_dropped_not_read_as_open():
    created = [T0, T0, T0]
    replied = [at(1), "soon", at(3)]
    with pytest.raises(KpiInputError) as e:
        first_response_time(created, replied)
    assert e.value.position == 2
    assert "'soon'" in str(e.value)
    r = first_response_time(created, replied, on_invalid="drop")
    assert r.components["open"] == 0
    assert r.n_dropped == 1
    assert r.n_used == 2


def test_blank_rows_are_skipped_and_counted():
    r = first_response_time([T0, None, T0, ""], [at(2), None, at(4), "  "])
    # row 2 blank; row 4 blank created and blank reply -> blank. Hours 2 and 4 -> median 3.
    assert r.value == 3.0
    assert r.n_dropped == 2
    assert r.components["open"] == 0


def test_as_of_cut_off():
    created = [T0, T0, at(1), at(20)]
    replied = [at(2), at(12), None, at(21)]
    r = first_response_time(created, replied, as_of=at(10))
    # Cut-off 18:00 (T0 + 10 h). Ticket 4 was created after it: out of scope.
    # Ticket 2 was answered after the cut-off: still open then. Ticket 3 open.
    # Closed: ticket 1 (2 h). Oldest open: ticket 2, age 10 h at the cut-off (ticket 3: 9 h).
    assert r.value == 2.0
    assert r.components["open"] == 2
    assert r.components["after_as_of"] == 1
    assert r.components["open_oldest_hours"] == 10.0
    assert "after_as_of" not in first_response_time(created, replied).components


def test_all_open_is_empty():
    with pytest.raises(KpiInputError) as e:
        first_response_time([T0, T0], [None, None])
    assert e.value.kind == "empty"


@pytest.mark.parametrize(
    "kwargs",
    [{"statistic": "mode"}, {"confidence": 95}, {"on_invalid": "skip"}, {"as_of": "not a date"}],
)
def test_bad_options(kwargs):
    with pytest.raises(KpiInputError):
        first_response_time(CREATED, REPLIED, **kwargs)


def test_length_mismatch():
    with pytest.raises(KpiInputError, match="6 values"):
        first_response_time(CREATED, REPLIED[:4])


def test_resolution_time():
    created = [T0, T0, T0, T0]
    resolved = [at(4), at(8), at(30), None]
    r = resolution_time(created, resolved)
    # resolved after 4, 8, 30 hours -> median 8, mean 42 / 3 = 14; one unresolved
    assert r.metric == "resolution_time"
    assert r.value == 8.0
    assert r.components["mean"] == 14.0
    assert r.components["open"] == 1
    with pytest.raises(KpiInputError) as e:
        resolution_time([T0], [at(-1)])
    assert e.value.argument == "resolved"


SLA_CREATED = [T0, T0, T0, T0, at(-2), at(6)]
SLA_RESPONDED = [at(1), at(3), at(4), at(6), None, None]


def test_sla_rate_without_as_of_excludes_open():
    r = sla_rate(SLA_CREATED, SLA_RESPONDED, target_hours=4)
    # answered after 1, 3, 4, 6 hours; 4 is exactly on target and counts as met -> 3 / 4; two open
    assert r.value == 0.75
    assert r.components["met"] == 3
    assert r.components["breached"] == 1
    assert r.components["open"] == 2
    assert r.components["open_breached"] == 0
    assert r.n_used == 4
    assert r.method == "wilson"


def test_sla_rate_with_as_of_counts_old_open_tickets_as_breached():
    r = sla_rate(SLA_CREATED, SLA_RESPONDED, target_hours=4, as_of=at(8))
    # At T0 + 8 h the open ticket created at T0 - 2 h is 10 h old (> 4): breached.
    # The one created at T0 + 6 h is 2 h old: may still make it, excluded.
    # 3 met out of 5 judged = 0.6.
    # Wilson 95%, z^2 = 3.841459: denominator 1 + 3.841459/5 = 1.768292;
    # centre (0.6 + 0.384146) / 1.768292 = 0.556552;
    # half 1.959964 * sqrt(0.24/5 + 3.841459/100) / 1.768292 = 0.325827 -> (0.230724, 0.882379)
    assert r.value == 0.6
    assert r.components["open_breached"] == 1
    assert r.components["breached"] == 2
    assert r.components["open"] == 1
    assert r.n_used == 5
    assert r.ci_low == pytest.approx(0.230724, abs=1e-6)
    assert r.ci_high == pytest.approx(0.882379, abs=1e-6)


def test_sla_rate_bad_input():
    with pytest.raises(KpiInputError) as e:
        sla_rate(SLA_CREATED, SLA_RESPONDED, target_hours=0)
    assert e.value.argument == "target_hours"
    with pytest.raises(KpiInputError) as e:
        sla_rate([T0], [None], target_hours=4)
    assert e.value.kind == "empty"


def test_complaint_volume():
    r = complaint_volume(["yes", "no", "y", None, "TRUE", 0])
    # yes, y, TRUE -> 3 complaints among 5 flags; one blank
    assert r.value == 3.0
    assert r.unit == "count"
    assert r.n_used == 5
    assert r.n_dropped == 1
    assert r.components["non_complaints"] == 2.0
    with pytest.raises(KpiInputError) as e:
        complaint_volume(["yes", "maybe"])
    assert e.value.position == 2
    with pytest.raises(KpiInputError) as e:
        complaint_volume([None, ""])
    assert e.value.kind == "empty"


def test_complaint_rate_from_count_with_exact_poisson_interval():
    r = complaint_rate(12, 4000)
    # 12 / 4000 * 1000 = 3 per 1,000. Garwood 95% limits for a count of 12 are 6.2006 and 20.9616
    # (chi2(0.025, 24) / 2, chi2(0.975, 26) / 2), divided by 4 -> 1.5501 and 5.2404 per 1,000.
    assert r.value == 3.0
    assert r.ci_low == pytest.approx(1.55014, abs=1e-5)
    assert r.ci_high == pytest.approx(5.24040, abs=1e-5)
    assert r.method == "poisson-exact"
    assert r.components["base"] == 4000
    assert complaint_rate(12, 4000, per=100).value == pytest.approx(0.3)


def test_complaint_rate_zero_complaints_has_upper_limit():
    r = complaint_rate(0, 1000)
    # chi2 with 2 df is exponential: upper = -ln(0.025) = 3.688879 complaints -> per 1,000 of 1,000
    assert r.value == 0.0
    assert r.ci_low == 0.0
    assert r.ci_high == pytest.approx(3.688879, abs=1e-6)


def test_complaint_rate_from_flag_column():
    r = complaint_rate(["yes", "no", "yes", None], 500)
    # 2 complaints per 500 customers = 4 per 1,000
    assert r.value == 4.0
    assert r.n_dropped == 1


@pytest.mark.parametrize(
    ("complaints", "base", "argument", "kind"),
    [
        (5, 0, "base", "zero-base"),
        (-1, 100, "complaints", "invalid"),
        (2.5, 100, "complaints", "invalid"),
        (5, [100, 200], "base", "invalid"),
        ([None, None], 100, "complaints", "empty"),
    ],
)
def test_complaint_rate_bad_input(complaints, base, argument, kind):
    with pytest.raises(KpiInputError) as e:
        complaint_rate(complaints, base)
    assert e.value.argument == argument
    assert e.value.kind == kind
