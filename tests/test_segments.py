"""Any metric by segment and period: the table equals the metric on each subset."""

import numpy as np
import pandas as pd
import pytest

from kpi_xl.metrics import KpiInputError, csat, metric_names, nps, segment_table


@pytest.fixture
def responses():
    return pd.DataFrame(
        {
            "segment": ["SMB", "SMB", "SMB", "Enterprise", "Enterprise", None, " "],
            "date": [
                "2025-01-05",
                "2025-01-20",
                "2025-02-03",
                "2025-01-11",
                "2025-02-28",
                "2025-02-01",
                "2025-02-02",
            ],
            "nps": [10, 9, 3, 7, 10, 0, ""],
            "csat": [5, 4, 2, 5, 5, 1, 4],
        }
    )


def test_nps_by_segment_by_hand(responses):
    t = segment_table(responses, "nps", columns="nps", by="segment", min_n=2)
    rows = t.set_index("group")
    # SMB: 10, 9, 3 -> 2 promoters, 1 detractor of 3 -> 100*(2-1)/3 = 33.33
    assert rows.loc["SMB", "value"] == pytest.approx(100 / 3)
    # Enterprise: 7, 10 -> 100*(1-0)/2 = 50
    assert rows.loc["Enterprise", "value"] == pytest.approx(50.0)
    # Blank segments (None and " ") form one visible group; its only valid score is 0 -> -100.
    assert rows.loc["(blank)", "value"] == pytest.approx(-100.0)
    assert rows.loc["(blank)", "n"] == 1 and rows.loc["(blank)", "n_dropped"] == 1
    assert (
        bool(rows.loc["(blank)", "small_sample"])
        and "below the minimum of 2" in rows.loc["(blank)", "warning"]
    )
    assert not bool(rows.loc["SMB", "small_sample"])
    # Total equals the metric over all rows; segment counts add up to the total.
    assert rows.loc["Total", "value"] == pytest.approx(nps(responses["nps"]).value)
    assert rows.drop("Total")["n"].sum() == rows.loc["Total", "n"]


def test_every_row_equals_the_engine_on_that_subset(responses):
    t = segment_table(responses, "csat", columns="csat", by="segment").set_index("group")
    r = csat(responses.loc[responses.segment == "SMB", "csat"])
    assert t.loc["SMB", "value"] == r.value
    assert (t.loc["SMB", "ci_low"], t.loc["SMB", "ci_high"]) == (r.ci_low, r.ci_high)
    assert t.loc["SMB", "margin_of_error"] == pytest.approx(r.margin_of_error)


def test_by_month_and_segment_by_month(responses):
    t = segment_table(responses, "csat", columns="csat", period="month", date="date").set_index("group")
    # January: 5, 4, 5 -> 3/3 satisfied; February: 2, 5, 1, 4 -> 2/4.
    assert t.loc["2025-01", "value"] == 1.0
    assert t.loc["2025-02", "value"] == 0.5
    t2 = segment_table(responses, "csat", columns="csat", by="segment", period="month", date="date")
    assert "SMB | 2025-02" in set(t2.group)


def test_group_with_no_valid_data_is_shown_not_hidden():
    df = pd.DataFrame({"seg": ["a", "a", "b"], "score": [10, 9, None]})
    t = segment_table(df, "nps", columns="score", by="seg").set_index("group")
    assert np.isnan(t.loc["b", "value"]) and "no result" in t.loc["b", "warning"]


def test_invalid_value_names_segment_and_row(responses):
    responses.loc[4, "nps"] = 11
    with pytest.raises(KpiInputError) as info:
        segment_table(responses, "nps", columns="nps", by="segment")
    assert "Enterprise" in str(info.value) and "row index 4" in str(info.value) and "11" in str(info.value)
    # With on_invalid="drop" the value is skipped and counted instead.
    t = segment_table(responses, "nps", columns="nps", by="segment", on_invalid="drop").set_index("group")
    assert t.loc["Enterprise", "n_dropped"] == 1


def test_unknown_metric_and_missing_column_are_clear(responses):
    with pytest.raises(KpiInputError, match="unknown metric 'npz'"):
        segment_table(responses, "npz", columns="nps", by="segment")
    with pytest.raises(KpiInputError, match="'score' not found"):
        segment_table(responses, "nps", columns="score", by="segment")
    with pytest.raises(KpiInputError):
        segment_table(responses, "nps", columns="nps")


def test_registry_lists_the_core_metrics():
    assert {"nps", "csat", "ces"} <= set(metric_names())


def test_churn_by_segment_from_customer_records():
    customers = pd.DataFrame(
        {
            "segment": ["A", "A", "A", "B", "B"],
            "signup": ["2024-06-01", "2024-07-01", "2025-01-10", "2024-05-01", "2024-05-02"],
            "churned": [None, "2025-01-15", None, "2025-01-20", None],
        }
    )
    t = segment_table(
        customers,
        "churn",
        columns=["signup", "churned"],
        by="segment",
        period_start="2025-01-01",
        period_end="2025-01-31",
    ).set_index("group")
    # A: 2 active at start, 1 lost -> 0.5; B: 2 at start, 1 lost -> 0.5; total 2 of 4 -> 0.5.
    assert t.loc["A", "value"] == pytest.approx(0.5)
    assert t.loc["B", "value"] == pytest.approx(0.5)
    assert t.loc["Total", "value"] == pytest.approx(0.5)


def test_service_metric_by_month():
    tickets = pd.DataFrame(
        {
            "created": ["2025-01-01 08:00", "2025-01-02 08:00", "2025-02-01 08:00"],
            "first_reply": ["2025-01-01 10:00", None, "2025-02-01 09:00"],
        }
    )
    t = segment_table(
        tickets, "first_response_time", columns=["created", "first_reply"], period="month", date="created"
    ).set_index("group")
    # January: one answered ticket after 2 h (the open one is excluded, not zero); February: 1 h.
    assert t.loc["2025-01", "value"] == pytest.approx(2.0)
    assert t.loc["2025-02", "value"] == pytest.approx(1.0)
