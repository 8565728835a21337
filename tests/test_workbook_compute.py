"""The workbook's validation of Table cells and its KPI values, on a tiny data set computed by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kpi_xl.workbook import WorkbookError
from kpi_xl.workbook.compute import compute, prepare, read_settings
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import SETTINGS, TABLES

D = dt.datetime


def _settings(**over):
    raw = {s.key: s.default for s in SETTINGS}
    raw.update(period_start=D(2025, 1, 1), period_end=D(2025, 1, 31))
    raw.update(over)
    return read_settings(raw, lambda k: f"Settings!{k}")


def _raw(rows_by_table):
    """Raw frames as calamine returns them (numbers as floats), sheet rows from 2."""
    out = {}
    for key, spec in TABLES.items():
        # Rows may leave out the optional columns at the end (the attribute ratings): blank there.
        rows = [tuple(r) + (None,) * (len(spec.columns) - len(r)) for r in rows_by_table.get(key, [])]
        frame = pd.DataFrame(rows, columns=[c.key for c in spec.columns], dtype=object)
        out[key] = (frame, np.arange(2, len(rows) + 2))
    return out


RESPONSES = [
    # date, customer, segment, nps, csat, ces, comment          sheet row
    (D(2025, 1, 5), "C1", "A", 10.0, 5.0, 7.0, None),  # 2
    (D(2025, 1, 6), "C2", " a", 9.0, 4.0, 6.0, None),  # 3: padded, lower case: segment A
    (D(2025, 1, 7), "C3", "A", 3.0, 2.0, 2.0, "slow"),  # 4
    (D(2025, 1, 8), "C4", "B", 8.0, "4", 5.0, None),  # 5: CSAT typed as text
    (D(2025, 1, 9), "C5", "B", 9.5, 5.0, None, None),  # 6: NPS 9.5
    (D(2025, 1, 10), "C6", "B", 0.0, 1.0, 1.0, None),  # 7
    (D(2024, 12, 31), "C1", "A", 0.0, 1.0, 1.0, None),  # 8: before the period
    ("2025-01-12", "C2", "A", 10.0, 5.0, 7.0, None),  # 9: date typed as text
    (D(2025, 1, 13), "C3", None, 10.0, True, 7.0, None),  # 10: no segment, CSAT TRUE
]
CUSTOMERS = [
    ("C1", "A", "North", "Web", D(2024, 6, 1), None, None),  # active at start
    ("C2", "A", "North", "Web", D(2024, 7, 1), D(2025, 1, 15), None),  # active at start, lost
    ("C3", "B", "South", "Sales", D(2024, 8, 1), D(2024, 12, 20), None),  # gone before the period
    ("C4", "B", "South", "Sales", D(2025, 1, 10), None, "C1"),  # new in the period
    ("C5", "B", "South", "Web", D(2024, 9, 1), D(2024, 8, 1), None),  # churn before signup: invalid
    ("C6", "A", "North", "App", D(2024, 10, 1), D(2025, 2, 10), None),  # active, leaves after
]
ORDERS = [
    ("O1", "C1", D(2025, 1, 3), 100.0, "no"),
    ("O2", "C1", D(2025, 1, 20), 50.0, "YES"),  # COUNTIFS matches "yes" ignoring case
    ("O3", "C2", D(2025, 1, 4), "12,50", "no"),  # amount typed as text
    ("O4", "C4", D(2025, 1, 11), 30.0, "no"),
    ("O5", "C6", D(2024, 12, 30), 999.0, "no"),  # before the period
    ("O6", "C2", D(2025, 1, 25), -5.0, "no"),  # negative amount
    ("O7", "C6", D(2025, 1, 28), 20.0, "maybe"),  # not a drop-down value
]
TICKETS = [
    ("T1", "C1", D(2025, 1, 2, 8), D(2025, 1, 2, 10), D(2025, 1, 3), "yes"),  # 2 h
    ("T2", "C2", D(2025, 1, 3, 9), D(2025, 1, 4, 21), None, "no"),  # 36 h
    ("T3", "C4", D(2025, 1, 5, 10), None, None, "no"),  # open
    ("T4", "C6", D(2025, 1, 6, 10), D(2025, 1, 6, 9), None, "yes"),  # reply before creation
]
ENGAGEMENT = [
    (D(2025, 1, 6), "LinkedIn", 1000.0, 5000.0, 30.0, 5.0, 5.0),
    (D(2025, 1, 13), "LinkedIn", 500.0, 5000.0, 10.0, 0.0, 5.0),
    (D(2025, 1, 20), "LinkedIn", 0.0, 5000.0, 0.0, 0.0, 0.0),  # no reach: left out, like SUMIFS(">0")
    (D(2025, 1, 27), "LinkedIn", 800.0, 5000.0, "12", 1.0, 1.0),  # likes typed as text
]


@pytest.fixture(scope="module")
def case():
    lab = labels("en")
    st = _settings()
    data = prepare(
        _raw(
            {
                "responses": RESPONSES,
                "customers": CUSTOMERS,
                "orders": ORDERS,
                "tickets": TICKETS,
                "engagement": ENGAGEMENT,
            }
        ),
        st,
        sheet_names=dict(lab["sheet"]),
        headers={t: dict(lab["col"][t]) for t in TABLES},
        yes="yes",
        no="no",
    )
    return data, compute(data, st, predict=False)


def test_invalid_values_are_listed_with_sheet_row_column_value_and_reason(case):
    data, _ = case
    found = {(i.source, i.row, i.column, i.value): i.reason for i in data.invalid}
    assert set(found) == {
        ("Responses", 5, "CSAT score", "4"),
        ("Responses", 6, "NPS score", 9.5),
        ("Responses", 9, "Date", "2025-01-12"),
        ("Responses", 10, "CSAT score", True),
        ("Customers", 6, "Churn date", dt.datetime(2024, 8, 1)),
        ("Orders", 4, "Amount", "12,50"),
        ("Orders", 7, "Amount", -5.0),
        ("Orders", 8, "Refunded", "maybe"),
        ("Tickets", 5, "First response", dt.datetime(2025, 1, 6, 9)),
        ("Engagement", 5, "Likes", "12"),
    }
    assert "stored as text" in found[("Responses", 9, "Date", "2025-01-12")]
    assert found[("Responses", 6, "NPS score", 9.5)] == "not a whole-number score from 0 to 10"
    assert (
        "churn date before the signup date" in found[("Customers", 6, "Churn date", dt.datetime(2024, 8, 1))]
    )
    assert "yes or no" in found[("Orders", 8, "Refunded", "maybe")]
    assert data.invalid_by_table == {
        "responses": 4,
        "customers": 1,
        "orders": 3,
        "tickets": 1,
        "engagement": 1,
    }
    assert data.rows_read == {"responses": 9, "customers": 6, "orders": 7, "tickets": 4, "engagement": 4}


def test_survey_kpis_by_segment_by_hand(case):
    _, res = case
    b = res.blocks["survey"]
    # A (" a" is A: trimmed, any case) and B both have 3 responses in January: ties are ordered by
    # name; the response without a segment is the group "(blank)", so the groups add up to the Total.
    assert b.groups == ["A", "B", "(blank)"]
    v = b.values
    # A: 10, 9, 3 -> 2 promoters, 1 detractor of 3: NPS = (2 - 1) / 3 * 100 = 33.33.
    assert v[(0, "nps")] == pytest.approx(100 / 3)
    assert (v[(0, "nps_n")], v[(0, "promoters")], v[(0, "detractors")]) == (3, 2, 1)
    # B: 8, (9.5 invalid), 0 -> no promoter, 1 detractor of 2: NPS = -50.
    assert v[(1, "nps")] == pytest.approx(-50.0)
    # Total: 10, 9, 3, 8, 0, 10 (row 10 has no segment, the text date of row 9 is out): 3 - 2 of 6.
    assert v[("total", "nps")] == pytest.approx(100 / 6)
    assert v[("total", "passives")] == 1
    # CSAT 4-5 of valid 1-5 answers: 5, 4, 2, 5, 1 ("4" text and TRUE are invalid): 3 / 5.
    assert v[("total", "csat")] == pytest.approx(0.6)
    assert v[(0, "csat")] == pytest.approx(2 / 3)
    # CES mean of 7, 6, 2, 5, 1, 7 = 28 / 6.
    assert v[("total", "ces")] == pytest.approx(28 / 6)
    assert v[("total", "ces_n")] == 6
    # Every group is below the minimum of 30: flagged, not hidden.
    assert v[(0, "_small")] and v[("total", "_small")]
    assert v[("total", "nps_moe")] > 0
    # (blank): row 10's 10 -> NPS 100 of 1.
    assert (v[(2, "nps")], v[(2, "nps_n")]) == (100.0, 1)
    assert sum(v[(i, "nps_n")] for i in range(3)) == v[("total", "nps_n")]


def test_customer_kpis_by_segment_by_hand(case):
    _, res = case
    b = res.blocks["cust_segment"]
    assert b.groups == ["A", "B"]
    v = b.values
    # A: C1, C2, C6 active on 1 January; C2 left on 15 January: churn 1/3.
    assert (v[(0, "active_start")], v[(0, "lost")]) == (3, 1)
    assert v[(0, "churn")] == pytest.approx(1 / 3)
    # B: C3 left before, C4 is new, C5's dates are invalid: no starting cohort, no churn rate.
    assert v[(1, "churn")] is None
    assert v[("total", "churn")] == pytest.approx(1 / 3)
    # Orders of A's customers in January with a valid amount: 100, 50 (C1) and 20 (C6).
    assert v[(0, "aov")] == pytest.approx(170 / 3)
    assert v[(0, "orders")] == 3
    assert v[("total", "customers")] == 6


def test_cards_by_hand(case):
    _, res = case
    c = res.cards
    assert c["nps"].value == pytest.approx(100 / 6)
    # Valid January amounts 100, 50, 30, 20: AOV 50.
    assert c["aov"].value == pytest.approx(50.0)
    # January orders with a valid amount or not: C1 x2, C2 x2, C4 x1, C6 x1 -> 2 of 4 repeat.
    assert c["repeat"].value == pytest.approx(0.5)
    # Closed tickets 2 h and 36 h (T3 open, T4's reply is invalid): median 19 h; 1 of 2 within 24 h.
    assert c["frt"].value == pytest.approx(19.0)
    assert c["sla"].value == pytest.approx(0.5)
    # Engagement by reach: (30+5+5 + 10+0+5) / (1000 + 500) = 55 / 1500.
    assert c["engagement"].value == pytest.approx(55 / 1500)
    assert c["churn"].value == pytest.approx(1 / 3)
    # The previous period (December 2024) has one answer, a 0: NPS -100.
    assert c["nps"].previous == pytest.approx(-100.0)


def test_trend_month_by_hand(case):
    _, res = case
    jan = res.trends[-1]
    assert pd.Timestamp(jan["month"]) == pd.Timestamp("2025-01-01")
    # Refund flags in January: no, YES, no, no, no (maybe is invalid): 1 / 5.
    assert jan["refund"] == pytest.approx(0.2)
    assert (jan["tickets"], jan["complaints"]) == (4, 2.0)
    assert jan["new_customers"] == 1
    assert jan["revenue"] == pytest.approx(200.0)


def test_bad_settings_name_the_cell():
    with pytest.raises(WorkbookError, match=r"Settings!period_end is .* on or after"):
        _settings(period_end=D(2024, 12, 1))
    with pytest.raises(WorkbookError, match="csat_threshold"):
        _settings(csat_threshold=7)
    with pytest.raises(WorkbookError, match="one of the industries"):
        _settings(industry="Space travel")
    with pytest.raises(WorkbookError, match="a date"):
        _settings(period_start="soon")


def test_blank_required_cells_and_placeholders_are_listed_as_problems():
    # An order row with a blank amount, one with a blank customer id, one with "n/a" for the amount:
    # each is a Problem on the Start tab list (verdict blank or placeholder), not only a lower n.
    from kpi_xl.metrics import Problem
    from kpi_xl.workbook.compute import REQUIRED_BLANK

    lab = labels("en")
    orders = [
        ("O1", "C1", D(2025, 1, 5), 40.0, "no"),  # 2
        ("O2", "C1", D(2025, 1, 6), None, "no"),  # 3: blank amount
        ("O3", None, D(2025, 1, 7), 20.0, "no"),  # 4: blank customer id
        ("O4", "C2", D(2025, 1, 8), "n/a", "no"),  # 5: placeholder amount
    ]
    data = prepare(
        _raw({"orders": orders}),
        _settings(),
        sheet_names=dict(lab["sheet"]),
        headers={t: dict(lab["col"][t]) for t in TABLES},
        yes="yes",
        no="no",
    )
    assert all(isinstance(p, Problem) for p in data.invalid)
    got = {(p.source, p.row, p.column, p.verdict): p.reason for p in data.invalid}
    assert got == {
        ("Orders", 3, "Amount", "blank"): REQUIRED_BLANK,
        ("Orders", 4, "Customer", "blank"): REQUIRED_BLANK,
        ("Orders", 5, "Amount", "placeholder"): "a placeholder for no value: left out, like a blank",
    }
    # The numbers leave those cells out: AOV over 40 and 20 (the row without a customer still has
    # an amount).
    assert data.tables["orders"]["amount"].dropna().tolist() == [40.0, 20.0]
