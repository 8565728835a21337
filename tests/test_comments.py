"""Comment themes (G2 keyness) and sentiment. Expected values are worked out by hand in the comments."""

import math

import numpy as np
import pytest

from kpi_xl.metrics import KpiInputError, comment_sentiment, comment_terms, comment_themes, log_likelihood_g2


def test_g2_against_hand_computation():
    # a=30 in c=1,000 words, b=10 in d=2,000: E1 = 1000*40/3000 = 13.3333, E2 = 26.6667
    # G2 = 2 (30 ln(30/13.3333) + 10 ln(10/26.6667)) = 2 (24.3279 - 9.8083) = 29.0393
    assert float(log_likelihood_g2(30, 10, 1000, 2000)) == pytest.approx(29.0393, abs=1e-4)
    # A term absent from the reference: 0 ln 0 = 0; G2 = 2 * 5 ln(5 / (100 * 5/200)) = 10 ln 2
    assert float(log_likelihood_g2(5, 0, 100, 100)) == pytest.approx(10 * math.log(2))
    # Equal relative frequency: no keyness at all.
    assert float(log_likelihood_g2(4, 8, 100, 200)) == pytest.approx(0.0, abs=1e-12)


def test_g2_is_vectorised():
    out = log_likelihood_g2([30, 5], [10, 0], [1000, 100], [2000, 100])
    assert out.shape == (2,)
    assert out[1] == pytest.approx(10 * math.log(2))


def _corpus():
    detractors = [
        "Delivery was slow and support never answered",
        "Slow delivery, the parcel arrived damaged",
        "Very slow delivery again",
        "Support never answered my email",
    ]
    promoters = [
        "Great quality and friendly staff",
        "Friendly staff, great prices",
        "Great quality, fast shipping",
        "Fast shipping and great quality",
    ]
    passives = ["It was ok", "Fine, nothing special"]
    comments = detractors + promoters + passives
    scores = [2, 3, 1, 5, 10, 9, 10, 10, 7, 8]
    return comments, scores


def test_themes_counts_shares_and_g2_by_hand():
    comments, scores = _corpus()
    t = comment_themes(comments, scores, language="en", min_count=2, min_g2=0, top=50)
    row = t[(t.group == "detractor") & (t.theme == "slow")].iloc[0]
    # "slow" 3 times, in 3 of 4 detractor comments, never elsewhere.
    assert (row["count"], row["count_others"], row["comments"]) == (3, 0, 3)
    assert row["share_comments"] == pytest.approx(0.75)
    # Word counts after stop words (Snowball English list; "never" kept as a negation):
    # detractors: delivery slow support never answered | slow delivery parcel arrived damaged |
    #             slow delivery ("very", "again" are stop words) | support never answered email
    #             -> 5 + 5 + 2 + 4 = 16
    # others: great quality friendly staff | friendly staff great prices | great quality fast shipping |
    #         fast shipping great quality | ok | fine nothing special -> 4+4+4+4+1+3 = 20
    c, d = 16, 20
    assert row["g2"] == pytest.approx(float(log_likelihood_g2(3, 0, c, d)))
    assert row["g2"] == pytest.approx(2 * 3 * math.log(3 / (c * 3 / (c + d))))
    assert row["example_1"] == "Delivery was slow and support never answered"
    great = t[(t.group == "promoter") & (t.theme == "great")].iloc[0]
    assert (great["count"], great["comments"]) == (4, 4)
    assert great["share_comments"] == 1.0
    # Two-word phrases are themes too, shown in their written form.
    assert "slow delivery" in set(t.loc[t.group == "detractor", "theme"])
    assert set(t.loc[t.group == "promoter", "words"]) == {1, 2}


def test_themes_keep_only_overused_and_significant_terms():
    comments, scores = _corpus()
    t = comment_themes(comments, scores, language="en", min_count=2, min_g2=3.84)
    assert (t["g2"] >= 3.84).all()
    # A theme of one group is used relatively more there than in the others.
    assert "great" not in set(t.loc[t.group == "detractor", "theme"])
    assert t["p_value"].max() < 0.05


def test_themes_by_segment_and_month():
    comments, scores = _corpus()
    seg = ["North", "north ", "North", "South", "North", "South", "NORTH", "South", None, "South"]
    dates = ["2025-01-05"] * 5 + ["2025-02-05"] * 5
    t = comment_themes(comments, scores, segments=seg, dates=dates, language="en", min_count=1, min_g2=0)
    assert list(t.columns[:2]) == ["segment", "month"]
    assert set(t["segment"]) <= {"North", "South", "(blank)"}
    counts = t.attrs["n_comments"]
    assert counts["North / 2025-01"] == {"detractor": 3, "passive": 0, "promoter": 1}


def test_german_and_chinese_terms_use_base_forms_and_words():
    # Snowball German stem: Lieferung and Lieferungen are one term.
    assert comment_terms("Lieferungen", "de") == comment_terms("Lieferung", "de")
    zh = comment_terms("送貨太慢了，客服態度很差", "zh-Hant")
    assert "客服" in zh and "態度" in zh and "客服態度" in zh
    # 了 and 很 are stop words; punctuation breaks phrases.
    assert "了" not in zh and "很" not in zh and "太慢客服" not in zh


def test_auto_language_per_comment():
    t = comment_themes(
        [
            "Die Lieferung war sehr langsam",
            "送貨太慢了",
            "Delivery was slow",
            "Great",
            "Sehr gut, die Lieferung war schnell",
            "很好",
        ],
        [1, 2, 3, 10, 9, 10],
        min_count=1,
        min_g2=0,
    )
    assert t.attrs["languages"] == {"de": 2, "zh-Hant": 2, "en": 2}


def test_comments_are_returned_verbatim_as_text():
    t = comment_themes(["=HYPERLINK(1) slow", "slow"], [1, 10], language="en", min_count=1, min_g2=0)
    assert t.loc[t.group == "detractor", "example_1"].iloc[0] == "=HYPERLINK(1) slow"


def test_bad_input_is_named():
    with pytest.raises(KpiInputError) as err:
        comment_themes(["a", "b"], [1], language="en")
    assert err.value.argument == "scores"
    with pytest.raises(KpiInputError, match="language"):
        comment_themes(["a"], [1], language="fr")
    with pytest.raises(KpiInputError) as err:
        comment_themes(["a", "b"], [1, 11])
    assert err.value.position == 2


def test_sentiment_shares_by_group_with_wilson_interval():
    comments = ["I love it", "great service", "awful", "terrible and slow", "ok", "Die Lieferung war gut"]
    t = comment_sentiment(comments, [10, 9, 1, 2, 8, 10], language="auto")
    assert t.loc["promoter", "n_scored"] == 2 and t.loc["promoter", "not_scored"] == 1
    assert t.loc["promoter", "share_positive"] == 1.0
    assert t.loc["detractor", "share_negative"] == 1.0
    # Wilson 2/2 at 95%: low = 4/(4 + 3.8415) * ... = 0.3424
    assert t.loc["promoter", "positive_ci_low"] == pytest.approx(0.3424, abs=1e-4)
    assert "VADER" in t.attrs["lexicon"]
    assert np.isclose(t.loc["all", "n_scored"], 5)


def test_examples_are_distinct_texts():
    comments = ["slow delivery", "slow delivery", "so slow", "great"]
    t = comment_themes(comments, [1, 2, 3, 10], language="en", min_count=1, min_g2=0, examples=3)
    row = t[(t.group == "detractor") & (t.theme == "slow")].iloc[0]
    assert [row["example_1"], row["example_2"], row["example_3"]] == ["slow delivery", "so slow", ""]
