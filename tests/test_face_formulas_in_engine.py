"""Formulas that lived in the faces, now engine functions: each checked against an independent figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpi_xl import metrics as m


def test_cohort_average_curve_weights_cohorts_by_size_over_those_observed():
    orders = pd.DataFrame(
        {
            "customer": ["a", "b", "c", "d", "a", "c", "e", "f", "e"],
            "date": pd.to_datetime(
                ["2025-01-05", "2025-01-09", "2025-01-20", "2025-01-30", "2025-02-03", "2025-03-01",
                 "2025-02-10", "2025-02-11", "2025-03-15"]
            ),
        }
    )  # fmt: skip
    table = m.cohort_retention(orders["customer"], orders["date"], period="month", as_of="2025-03-31")
    # January: 4 customers, 1 back in February (a), 1 in March (c); February: 2 customers, 1 back
    # in March (e). Month 1: (4 x 1/4 + 2 x 1/2) / 6 = 2/6; month 2: only January reached it: 1/4.
    curve = m.cohort_average_curve(table)
    assert curve[0] == 1.0 and curve[1] == pytest.approx(2 / 6) and curve[2] == pytest.approx(1 / 4)


def test_customers_active_at_is_the_churn_base():
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, 200), unit="D")
    end = pd.Series(start + pd.to_timedelta(rng.integers(1, 600, 200), unit="D"))
    end[rng.random(200) < 0.4] = pd.NaT
    churn = m.churn_from_records(start, end, period_start="2024-06-01", period_end="2024-06-30")
    assert m.customers_active_at(start, end, "2024-06-01") == churn.components["customers_start"]


def test_discount_rate_conversion_compounds_back():
    monthly = m.convert_discount_rate(0.10, from_periods_per_year=1, to_periods_per_year=12)
    assert (1 + monthly) ** 12 == pytest.approx(1.10, rel=1e-12)
    assert m.convert_discount_rate(monthly, from_periods_per_year=12, to_periods_per_year=1) == pytest.approx(
        0.10
    )
    with pytest.raises(m.KpiInputError, match="rate must be above -1"):
        m.convert_discount_rate(-1.5, from_periods_per_year=1, to_periods_per_year=12)


def test_one_reading_of_a_discount_step_for_every_face():
    assert m.read_step("month") == "month" and m.read_step(" WEEK ") == "week"
    assert (
        m.read_step("4.345", locale="en") == m.read_step("4,345", locale="de") == m.read_step(4.345) == 4.345
    )
    # Without a locale "4,345" could be 4345 or 4.345: refused as ambiguous, never read silently.
    with pytest.raises(m.KpiInputError) as err:
        m.read_step("4,345")
    assert err.value.kind == "ambiguous"
    with pytest.raises(m.KpiInputError, match="discount_step must be a number of time units"):
        m.read_step("fortnight", "discount_step")
    with pytest.raises(m.KpiInputError):
        m.read_step(0)
    # 12 months for a weekly model: 12 x 30.4375 / 7 weeks, a whole number of monthly steps.
    assert m.length_in_units(12, "month", "week") == pytest.approx(12 * 30.4375 / 7)


def test_nps_distribution_counts_what_nps_counts():
    scores = [10, 9, 9, 8, 7, 6, 0, 3, None, 10, 5]
    dist = m.nps_distribution(scores)
    r = m.nps(scores)
    assert sum(d for _, d, _, _ in dist) == r.components["detractors"]
    assert sum(p for _, _, _, p in dist) == r.components["promoters"]
    assert sum(p for _, _, p, _ in dist) == r.components["passives"]


def test_satisfaction_index_rescales_the_scale_ends_to_0_and_100():
    assert m.satisfaction_index(1, scale=(1, 10)) == 0.0 and m.satisfaction_index(10, scale=(1, 10)) == 100.0
    assert m.satisfaction_index(7.5, scale=(1, 10)) == pytest.approx(650 / 9)
