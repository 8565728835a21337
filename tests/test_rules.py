"""The public value rules (kpi_xl.metrics.rules) and the error with fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpi_xl import metrics as m
from kpi_xl.metrics import Hint, KpiInputError, Problem, rules

# -------------------------------------------------------------------------------------------------
# KpiInputError: fields first, the message built from them
# -------------------------------------------------------------------------------------------------


def test_error_message_is_built_from_its_fields():
    e = KpiInputError(
        argument="scores",
        position=3,
        value=11.0,
        reason="is not a whole-number score from 0 to 10",
        hint=rules.SKIP_INVALID,
        n_more=2,
    )
    assert str(e) == (
        "scores: value 11 at position 3 is not a whole-number score from 0 to 10 (2 more invalid value(s) "
        "follow); fix it, or pass on_invalid='drop' to skip and count invalid values"
    )
    assert (e.argument, e.position, e.value, e.kind, e.n_more) == ("scores", 3, 11.0, "invalid", 2)
    # A face names the place and the option in its own words, from the same fields.
    assert e.message(where="in row 4 of the range", hint="set skip_invalid to TRUE to skip them") == (
        "scores: value 11 in row 4 of the range is not a whole-number score from 0 to 10 (2 more invalid "
        "value(s) follow); fix it, or set skip_invalid to TRUE to skip them"
    )
    assert e.message(where="", show_hint=False).startswith("scores: value 11 is not a whole-number")


def test_old_constructor_still_works_and_the_message_is_the_reason():
    e = KpiInputError("scale must be (low, high) with low < high, got (5, 1)", argument="scale")
    assert str(e) == e.reason == "scale must be (low, high) with low < high, got (5, 1)"
    assert e.kind == "invalid" and e.position is None and e.hint is None
    # Positional messages that already say where are kept as they are (no "at position" twice).
    e = KpiInputError("x: the value at position 2 is blank", argument="x", position=2)
    assert str(e) == "x: the value at position 2 is blank"


def test_error_kinds_are_a_closed_set():
    assert set(rules.ERROR_KINDS) == {"invalid", "empty", "zero-base", "ambiguous"}
    with pytest.raises(ValueError, match="kind must be one of"):
        KpiInputError("x", kind="bad")


def test_with_fields_moves_an_error_to_another_place():
    e = KpiInputError(argument="scores", position=2, value="x", reason="is not a number")
    moved = e.with_fields(position=7, group="North")
    assert str(moved) == "segment 'North': scores: value 'x' at position 7 is not a number"
    assert str(moved) == moved.args[0]
    assert (e.position, e.group) == (2, None)


def test_a_blank_value_is_named_as_the_value():
    e = KpiInputError(argument="dates", position=2, reason="is blank, but this date is required")
    assert str(e) == "dates: the value at position 2 is blank, but this date is required"


def test_the_cleaners_raise_with_fields_not_just_text():
    with pytest.raises(KpiInputError) as info:
        m.nps([9, "ten", 11, 3])
    e = info.value
    assert (e.argument, e.position, e.value, e.n_more) == ("scores", 2, "ten", 1)
    assert e.reason == "is not a whole-number score from 0 to 10"
    assert e.hint == Hint("on_invalid", "drop", "skip and count invalid values")
    with pytest.raises(KpiInputError) as info:
        rules.clean_flags([1, "maybe"], argument="flags")
    assert (info.value.position, info.value.reason) == (2, "is not a yes/no flag (TRUE/FALSE, 1/0, yes/no)")
    with pytest.raises(KpiInputError) as info:
        rules.clean_ids(["a", True], argument="ids")
    assert (info.value.position, info.value.value) == (2, True)
    with pytest.raises(KpiInputError) as info:
        rules.clean_dates(["2025-01-01", "soon"], argument="d")
    assert (info.value.position, info.value.value) == (2, "soon")
    assert info.value.reason.startswith("is not a date")


# -------------------------------------------------------------------------------------------------
# Number text and the locale
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9,0", 9.0),
        ("12,50", 12.5),
        ("60,5", 60.5),
        ("1.234,56", 1234.56),
        ("1,234.50", 1234.5),
        ("1.000.000", 1_000_000.0),
        ("1,000,000", 1_000_000.0),
        ("0,125", 0.125),
        ("0.125", 0.125),
        ("1234.567", 1234.567),
        ("45%", 0.45),
        ("12,5 %", 0.125),
        (" 7 ", 7.0),
        ("-3,25", -3.25),
        ("€ 1.234,50", 1234.5),
        ("(12,00)", -12.0),
        ("2e3", 2000.0),
    ],
)
def test_number_text_with_one_reading_is_read_with_no_locale(text, expected):
    assert rules.read_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "low", "high"), [("1.000", 1, 1000), ("1,000", 1, 1000), ("2,500", 2.5, 2500)]
)
def test_number_text_with_two_readings_is_ambiguous_without_a_locale(text, low, high):
    with pytest.raises(KpiInputError) as info:
        rules.read_number(text, argument="customers_start")
    e = info.value
    assert e.kind == "ambiguous" and e.value == text and e.argument == "customers_start"
    assert e.reason == f"reads as {low:g} or as {high:g} depending on the locale"


def test_the_locale_decides_and_the_other_convention_is_invalid():
    assert rules.read_number("1.000", locale="de") == 1000.0
    assert rules.read_number("1.000", locale="de-DE") == 1000.0
    assert rules.read_number("1.000", locale="en-US") == 1.0
    assert rules.read_number("1,000", locale="en") == 1000.0
    assert rules.read_number("9,5", locale="de") == 9.5
    with pytest.raises(KpiInputError, match="other decimal mark; the locale \\(de\\) reads 1.234,56"):
        rules.read_number("9.5", locale="de")
    with pytest.raises(KpiInputError, match="other decimal mark; the locale \\(en\\) reads 1,234.56"):
        rules.read_number("9,5", locale="en")


def test_locale_names():
    assert [
        rules.locale_of(n) for n in ("de", "de-DE", "de_AT", "fr-FR", "de-CH", "en", "en-GB", "zh-CN")
    ] == [
        "de",
        "de",
        "de",
        "de",
        "en",
        "en",
        "en",
        "en",
    ]
    assert rules.locale_of(None) is None and rules.locale_of("") is None
    assert [rules.date_order_of(n) for n in ("en-US", "en-GB", "de-DE", "en", None)] == [
        "mdy",
        "dmy",
        "dmy",
        None,
        None,
    ]


def test_the_engine_reads_column_text_by_the_same_rules_and_the_locale_in_effect():
    assert m.nps(["9,0", 10, 3]).n_used == 3
    assert m.average_order_value(["12,50", "1.234,56"]).value == pytest.approx((12.5 + 1234.56) / 2)
    with pytest.raises(KpiInputError) as info:
        m.average_order_value(["12,50", "1.000"])
    assert info.value.kind == "ambiguous" and info.value.position == 2
    with rules.use_locale("de"):
        assert m.average_order_value(["12,50", "1.000"]).value == pytest.approx((12.5 + 1000) / 2)
        assert rules.current_locale() == "de"
    assert rules.current_locale() is None
    with pytest.raises(KpiInputError, match="is not a locale"), rules.use_locale("xx-nonsense-1"):
        pass


def test_scalar_counts_read_text_by_the_same_rules():
    # =CHURN("1.000", 120): one thousand to a German user, one to an American; never a silent 1.
    with pytest.raises(KpiInputError) as info:
        m.churn_rate("1.000", 120)
    assert info.value.kind == "ambiguous" and info.value.argument == "customers_start"
    with rules.use_locale("de"):
        assert m.churn_rate("1.000", 120).value == pytest.approx(0.12)
    with rules.use_locale("en"), pytest.raises(KpiInputError, match="more than customers_start"):
        m.churn_rate("1.000", 120)


# -------------------------------------------------------------------------------------------------
# Verdicts and placeholders
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "n/a",
        "N/A",
        "na",
        "NA",
        "-",
        "--",
        "k.A.",
        "k. A.",
        "K.A.",
        "keine Angabe",
        "unbekannt",
        "無",
        "不適用",
        " n/a ",
    ],
)
def test_placeholders_in_english_german_and_chinese(placeholder):
    assert rules.is_placeholder(placeholder)
    v = rules.verdicts([placeholder], "amount")
    assert v.verdict.tolist() == ["placeholder"] and v.reason.tolist() == [""]


def test_placeholders_are_counted_never_invalid_numbers():
    cleaned = rules.clean_numbers([5.0, "n/a", "", "k.A.", 7], argument="amounts", allow_negative=False)
    assert cleaned.values.tolist() == [5.0, 7.0]
    assert (cleaned.n_blank, cleaned.n_placeholder, cleaned.n_invalid, cleaned.n_dropped) == (3, 2, 0, 3)
    r = m.nps([10, "n/a", 9, "keine Angabe"])
    assert (r.n_used, r.n_dropped) == (2, 2)


SCORE = "is not a whole-number score from 0 to 10"
AMOUNT = "is not a finite number that is not negative"
COUNT = "is not a whole number that is not negative"
FLAG = "is not a yes/no flag (TRUE/FALSE, 1/0, yes/no)"
ID = "is not a customer id (use text or a whole number)"
DATE = "is not a date (use a date cell, ISO text like 2025-12-31, or 31.12.2025)"


@pytest.mark.parametrize(
    ("kind", "values", "verdicts", "reason"),
    [
        ("score", [9, "", "n/a", "ten", 11, 9.5],
         ["valid", "blank", "placeholder", "invalid", "invalid", "invalid"], SCORE),
        ("amount", [5, -1, "12,50", None], ["valid", "invalid", "valid", "blank"], AMOUNT),
        ("count", [3, 1.5, "4"], ["valid", "invalid", "valid"], COUNT),
        ("flag", [True, "ja", "maybe", "-"], ["valid", "valid", "invalid", "placeholder"], FLAG),
        ("id", ["K1", 1001, True, "n/a"], ["valid", "valid", "invalid", "placeholder"], ID),
        ("date", ["2025-01-31", "soon", ""], ["valid", "invalid", "blank"], DATE),
        ("label", ["North", "", "unknown"], ["valid", "blank", "placeholder"], None),
    ],
)  # fmt: skip
def test_verdict_per_kind(kind, values, verdicts, reason):
    v = rules.verdicts(values, kind, scale=(0, 10) if kind == "score" else None)
    assert v.verdict.tolist() == verdicts
    reasons = {r for r, verdict in zip(v.reason, verdicts, strict=True) if verdict == "invalid"}
    assert reasons == ({reason} if reason else set())
    assert v.counts()["valid"] == verdicts.count("valid")


def test_the_kind_vocabulary():
    assert rules.KINDS == ("score", "amount", "count", "share", "flag", "date", "id", "text", "label")
    assert rules.VERDICTS == ("valid", "blank", "placeholder", "invalid")
    with pytest.raises(KpiInputError, match="kind must be one of"):
        rules.verdicts([1], "money")


# -------------------------------------------------------------------------------------------------
# Problem and the label policy
# -------------------------------------------------------------------------------------------------


def test_problem_record():
    p = Problem("orders.csv", 4, "Betrag", "n/a", "is a placeholder for no value", "placeholder")
    assert str(p) == "orders.csv, row 4, column 'Betrag': 'n/a' is a placeholder for no value"
    assert p.as_dict() == {
        "source": "orders.csv",
        "row": 4,
        "column": "Betrag",
        "value": "n/a",
        "reason": "is a placeholder for no value",
        "verdict": "placeholder",
    }
    blank = Problem("orders.csv", 5, "Kunde", None, "is blank; every order needs a customer", "blank")
    assert str(blank) == "orders.csv, row 5, column 'Kunde': (blank) is blank; every order needs a customer"
    assert Problem("x", 1, "c", np.float64(2.5), "r").as_dict()["value"] == 2.5


def test_labels_group_trimmed_and_case_insensitively_shown_by_the_most_frequent_spelling():
    labels = ["north", "North", "North ", "\u00a0NORTH", "South", "south", None, "  ", np.nan, "Straße"]
    groups = rules.label_groups(labels)
    # "North" is written 2 times (after trimming), "north" and "NORTH" once: "North" wins.
    assert groups.tolist() == ["North"] * 4 + ["South", "South", "(blank)", "(blank)", "(blank)", "Straße"]


def test_label_ties_go_to_the_first_spelling_seen_and_the_index_is_kept():
    s = pd.Series(["b", "B", "a"], index=[10, 11, 12])
    groups = rules.label_groups(s)
    assert groups.tolist() == ["b", "b", "a"] and groups.index.tolist() == [10, 11, 12]
    # Numbers as labels: 1 and 1.0 and "1" are one segment.
    assert rules.label_groups([1, 1.0, "1"]).tolist() == ["1", "1", "1"]
    assert rules.label_key("\u00a0Nord ") == "nord" and rules.label_key(" ") is None
