"""Closed loop: follow-up list, revenue at risk, advocates, feedback engagement (hand-computed)."""

import numpy as np
import pandas as pd
import pytest

from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import (
    KpiInputError,
    advocates,
    customer_value,
    feedback_engagement,
    followup_list,
    id_keys,
    predict_clv,
    revenue_at_risk,
)


def _value():
    return pd.DataFrame(
        {
            "customer_id": [1001, "0012", "C7", 42.0],
            "historical_clv": [500.0, 80.0, 1200.0, 60.0],
            "predicted_clv": [300.0, None, 900.0, 20.0],
            "p_alive": [0.9, 0.3, 0.4, 0.95],
            "segment": ["Retail", "retail ", "B2B", None],
        }
    )


def test_followup_joins_by_id_rule_and_ranks_by_value_at_risk():
    ids = ["1001", "0012", "C7", 42, "C7", "X9", 1001]
    scores = [3, 5, 2, 10, 9, 1, 6]
    comments = ["slow", "rude", "late", "great", "fine now", "never again", "still slow"]
    tickets = pd.DataFrame(
        {
            "customer_id": [1001, 1001, "0012"],
            "created": ["2025-01-02", "2025-02-01", "2025-01-10"],
            "resolved": ["2025-01-03", None, "2025-01-12"],
        }
    )
    out = followup_list(ids, scores, comments=comments, value=_value(), tickets=tickets)
    # C7's latest answer is a 9: not on the list. 1001 (latest 6) with 300 predicted, 0012 with no
    # prediction -> historical 80, X9 does not join.
    assert out["customer_id"].tolist() == ["1001", "0012", "X9"]
    assert out["value_at_risk"].tolist()[:2] == [300.0, 80.0]
    assert out["comment"].tolist()[0] == "still slow"
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["open_tickets"].tolist()[:2] == [1.0, 0.0]
    assert out["last_contact"].iloc[0] == pd.Timestamp("2025-02-01")
    assert out["last_contact"].iloc[1] == pd.Timestamp("2025-01-12")
    assert out["segment"].tolist()[:2] == ["Retail", "retail "]
    assert out.attrs["n_unmatched"] == 1 and out.attrs["unmatched"] == ["X9"]
    assert out["joined"].tolist() == [True, True, False]


def test_followup_low_csat_and_dates_pick_the_latest_answer():
    ids = ["a", "a", "b", "c"]
    csat = [1, 5, 2, 4]
    dates = ["2025-03-01", "2025-01-01", "2025-02-01", "2025-02-01"]
    out = followup_list(ids, csat=csat, response_dates=dates)
    # a's latest (March) is a 1: flagged; b a 2: flagged; c a 4: not.
    assert sorted(out["customer_id"]) == ["a", "b"]
    assert set(out["reason"]) == {"low CSAT"}
    both = followup_list(["z"], [2], csat=[1])
    assert both["reason"].tolist() == ["detractor, low CSAT"]


def test_followup_needs_scores():
    with pytest.raises(KpiInputError, match="NPS scores, the CSAT"):
        followup_list(["a"])
    with pytest.raises(KpiInputError) as err:
        followup_list(["a", "b"], [1, 12])
    assert err.value.position == 2


def test_id_keys_follow_the_one_id_rule():
    assert id_keys([1001, 1001.0, "1001", "0012", None]).tolist() == ["1001", "1001", "1001", "0012", None]
    with pytest.raises(KpiInputError):
        id_keys([True])


def test_revenue_at_risk_by_segment_by_hand():
    v = _value()
    t = revenue_at_risk(
        v["customer_id"], v["predicted_clv"], v["p_alive"], detractor_ids=[1001, "X9"], segments=v["segment"]
    )
    # Retail: 1001 (detractor, 300) + 0012 (lapsing, no prediction = 0): at risk 300 of 300.
    # B2B: C7 lapsing (0.4 < 0.5), 900. (blank): 42, safe.
    assert t.index.tolist() == ["Retail", "B2B", "(blank)", "Total"]
    assert t.loc["Retail", "revenue_at_risk"] == 300.0
    assert t.loc["B2B", "at_risk_lapsing"] == 900.0
    assert t.loc["Total", "revenue_at_risk"] == 1200.0
    assert t.loc["Total", "share"] == pytest.approx(1200 / 1220)
    assert t.loc["Total", "customers_at_risk"] == 3
    assert t.attrs["unmatched"] == ["X9"]


def test_revenue_at_risk_counts_a_customer_once():
    t = revenue_at_risk(["a"], [100.0], [0.1], detractor_ids=["a"])
    parts = t.loc["Total", ["at_risk_detractors", "at_risk_lapsing", "revenue_at_risk"]]
    assert parts.tolist() == [100, 100, 100]
    with pytest.raises(KpiInputError, match="probability"):
        revenue_at_risk(["a"], [1.0], [1.5])


def test_advocates_score_by_hand_and_weights():
    t = advocates(
        ["A", "B", "C", "D"],
        [10, 9, 9, 4],
        referrals_made=[4, 2, 0, 10],
        referrals_converted=[1, 2, 0, 10],
        referral_revenue=[100.0, 300.0, 0.0, 0.0],
        clv=[1000.0, 500.0, 2000.0, 0.0],
    )
    # Among promoters, maxima: made 4, converted 2, revenue 300, clv 2000. Weights 1,1,2,2,1 (sum 7).
    # A: 1.0 + 1.0 + 2*0.5 + 2*(1/3) + 0.5 = 4.1667 -> 59.52
    # B: 0.9 + 0.5 + 2*1 + 2*1 + 0.25 = 5.65 -> 80.71
    # C: 0.9 + 0 + 0 + 0 + 1.0 = 1.9 -> 27.14
    assert t["customer_id"].tolist() == ["B", "A", "C"]
    np.testing.assert_allclose(t["advocacy_score"], [100 * 5.65 / 7, 100 * (4 + 1 / 6) / 7, 100 * 1.9 / 7])
    only_clv = advocates(["A", "B"], [10, 9], clv=[100.0, 300.0], weights={"score": 0})
    assert only_clv["customer_id"].tolist() == ["B", "A"]
    assert only_clv.attrs["weights"] == {"score": 0.0, "clv": 1.0}
    with pytest.raises(KpiInputError, match="unknown part"):
        advocates(["A"], [10], weights={"likes": 1})
    with pytest.raises(KpiInputError, match="more than once"):
        advocates(["A", "A"], [10, 9])


def test_feedback_engagement_rate_and_time():
    received = ["2025-01-06 08:00"] * 5
    answered = ["2025-01-06 09:00", "2025-01-06 10:00", "2025-01-06 12:00", "2025-01-07 08:00", None]
    r = feedback_engagement(received, answered)
    assert r.value == pytest.approx(0.8)
    # Wilson 4/5: centre (0.8 + 1.920730/5)/(1 + 3.841459/5) = 0.6693, half-width 0.2867 -> 0.3755
    assert r.ci_low == pytest.approx(0.3755, abs=1e-4)
    # Times 1, 2, 4, 24 hours: median 3.
    assert r.components["time_to_answer_hours"] == 3.0
    none = feedback_engagement(received[:2], [None, None])
    assert none.value == 0.0 and none.components["time_to_answer_hours"] is None


def test_customer_value_joins_historical_and_predicted():
    tx = load_cdnow_transactions()
    tx = tx[tx["date"] <= "1997-09-30"]
    v = customer_value(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=52)
    ref = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=52).customers
    # Keys are the id rule's text form; values are the engine's own, row for row.
    assert v.loc["1", "predicted_clv"] == pytest.approx(ref.loc[1, "clv"])
    assert v.loc["1", "p_alive"] == pytest.approx(ref.loc[1, "probability_alive"])
    one = tx[tx["customer_id"] == 1]
    assert v.loc["1", "historical_clv"] == pytest.approx(one["amount"].sum())
    assert v.loc["1", "orders"] == len(one)
    assert v.loc["1", "last_order"] == one["date"].max()
    assert len(v) == len(ref)
