"""The comment, closed-loop, driver and planning Excel functions through xlwings' Office.js runtime.

Payloads are what Excel sends (2-D lists, a header row, blanks as None or ""); each result is
compared with the engine's own answer on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_udfs_runtime import NA, NA_RESULT, OfficeJs, Raised, as_frame, col, scalar, serial

from kpi_xl import metrics as m


@pytest.fixture(scope="module")
def xl():
    runtime = OfficeJs()
    yield runtime
    runtime.close()


COMMENTS = [
    "Comment",
    "Delivery was slow",
    "slow delivery again",
    None,
    "Great staff",
    "great staff, fast",
    "ok",
]
SCORES = ["Score", 2, 3, 1, 10, 9, 7]


def test_comment_themes_spill_the_engine_table(xl):
    got = as_frame(xl.call("COMMENT_THEMES", col(*COMMENTS), col(*SCORES), 5, "en", None, 1, 0))
    want = m.comment_themes(COMMENTS[1:], SCORES[1:], language="en", top=5, min_count=1, min_g2=0, examples=1)
    assert got["theme"].tolist() == want["theme"].tolist()
    np.testing.assert_allclose(got["g2"], want["g2"])
    assert list(got.columns) == [
        "group",
        "theme",
        "count",
        "comments",
        "share_comments",
        "g2",
        "p_value",
        "example_1",
    ]
    # "slow" by hand: 2 uses in 2 of 2 detractor comments with text.
    slow = got[(got.group == "detractor") & (got.theme == "slow")].iloc[0]
    assert (slow["count"], slow["comments"], slow["share_comments"]) == (2, 2, 1.0)


def test_comment_themes_formula_like_comment_comes_back_as_text(xl):
    comments = col("Comment", '=HYPERLINK("x") slow', "slow", "great")
    got = as_frame(xl.call("COMMENT_THEMES", comments, col("Score", 1, 2, 10), 5, "en", None, 1, 0))
    assert got.loc[got.theme == "slow", "example_1"].iloc[0] == '=HYPERLINK("x") slow'


def test_comment_sentiment(xl):
    got = as_frame(
        xl.call("COMMENT_SENTIMENT", col("c", "I love it", "awful"), col("s", 10, 0), None), "group"
    )
    assert got.loc["promoter", "share_positive"] == 1.0
    assert got.loc["detractor", "share_negative"] == 1.0


RESPONSE_IDS = ["Customer", 1001, "1001", "C7", "X9", None]
RESPONSE_SCORES = ["Score", 9, 3, 2, 0, 5]
VALUE_IDS = ["Customer", "1001", "C7", "D4"]
PREDICTED = ["CLV", 300.0, 900.0, 50.0]
P_ALIVE = ["P alive", 0.9, 0.8, 0.2]


def test_followup_list_joins_by_id_rule_and_ranks(xl):
    got = as_frame(
        xl.call("FOLLOWUP_LIST", col(*RESPONSE_IDS), col(*RESPONSE_SCORES), col(*VALUE_IDS), col(*PREDICTED),
                None, col(*P_ALIVE), None, None, None)
    )  # fmt: skip
    # 1001's latest answer is 3 (the number and the text are one customer); C7 2; X9 does not join.
    assert got["customer_id"].tolist() == ["C7", "1001", "X9"]
    assert got["value_at_risk"].tolist()[:2] == [900.0, 300.0]
    assert got["joined"].tolist() == [True, True, False]


def test_revenue_at_risk_number_and_by_segment(xl):
    args = [col(*VALUE_IDS), col(*PREDICTED), col(*P_ALIVE), col(*RESPONSE_IDS), col(*RESPONSE_SCORES)]
    # Detractors 1001 (300) and C7 (900); D4 lapsing (0.2 < 0.5, 50): 1,250 at risk.
    assert scalar(xl.call("REVENUE_AT_RISK", *args, None, None)) == pytest.approx(1250.0)
    table = as_frame(xl.call("REVENUE_AT_RISK", *args, 0.1, col("Segment", "A", "a ", "B")), "segment")
    assert table.index.tolist() == ["A", "B", "Total"]
    assert table.loc["A", "revenue_at_risk"] == 1200.0 and table.loc["B", "revenue_at_risk"] == 0.0


def test_advocates_and_feedback_engagement(xl):
    got = as_frame(
        xl.call("ADVOCATES", col("Id", "A", "B", "C"), col("Score", 10, 9, 3), col("Referrals", 4, 2, 9),
                col("Converted", 2, 0, 5), None, None, None)
    )  # fmt: skip
    # A: 100 (1 + 1 + 2)/4; B: 100 (0.9 + 0.5 + 0)/4 = 35 (weights 1, 1, 2).
    assert got["customer_id"].tolist() == ["A", "B"]
    assert got["advocacy_score"].tolist() == pytest.approx([100.0, 35.0])
    received = col("In", *[serial("2025-01-06 08:00")] * 4)
    answered = col(
        "Out", serial("2025-01-06 09:00"), serial("2025-01-06 10:00"), serial("2025-01-06 12:00"), None
    )
    pairs = dict(xl.call("FEEDBACK_ENGAGEMENT", received, answered, None, None)[1:])
    assert pairs["answer_rate"] == pytest.approx(0.75)
    assert pairs["time_to_answer_hours_median"] == pytest.approx(2.0)


def test_key_drivers_equals_the_engine(xl):
    rng = np.random.default_rng(2)
    a = pd.DataFrame(rng.integers(1, 6, size=(60, 3)), columns=["Price", "Support", "Product"])
    score = np.clip(np.round(a["Support"] * 1.5 + a["Product"] * 0.5 + rng.normal(0, 1, 60)), 0, 10).astype(
        int
    )
    table = [["Score", "Price", "Support", "Product"]] + [
        [int(s), *map(int, row)] for s, row in zip(score, a.to_numpy(), strict=True)
    ]
    got = as_frame(xl.call("KEY_DRIVERS", table, "Score", "Price, Support, Product", 30, None), "attribute")
    want = m.key_drivers(score, a, n_boot=30)
    np.testing.assert_allclose(got["importance"], want["importance"])
    np.testing.assert_allclose(got["ci_low"], want["ci_low"])
    assert got["quadrant"].tolist() == want["quadrant"].tolist()


def test_sample_sizes(xl):
    assert scalar(xl.call("NPS_SAMPLE_SIZE", 5, 0.5, 0.2, None)) == 935
    assert scalar(xl.call("NPS_CHANGE_SAMPLE_SIZE", 10, 0.5, 0.2, None, None)) == 955
    with pytest.raises(Raised, match="add up"):
        xl.call("NPS_SAMPLE_SIZE", 5, 0.7, 0.5, None)


def test_errors_reach_the_cell_as_excel_errors(xl):
    assert (
        xl.call("COMMENT_THEMES", col("Comment", "slow"), col("Score", NA), None, None, None, None, None)
        == NA_RESULT
    )
    with pytest.raises(Raised, match="2 to 12"):
        xl.call("KEY_DRIVERS", [["Score", "Price"], [1, 2], [3, 4]], "Score", "Price", None, None)
