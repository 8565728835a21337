"""The Excel face without a runtime: UDFs as plain functions, and the coercion, error and spill layers.

Without ``XLWINGS_ON_SERVER`` (and not on Windows) xlwings' decorators do nothing, so ``kpi_xl.udfs``
functions are called directly here, with the values classic Excel (COM) hands over: tuples of tuples,
a bare value for one cell, integer error codes, dates carrying a tzinfo. Errors come back as the
classic runtime shows them: ``"#N/A"``, ``"#DIV/0!"`` and ``"#VALUE! <reason>"`` text.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import re

import numpy as np
import pandas as pd
import pytest
import xlwings as xw

from kpi_xl import metrics as m
from kpi_xl import udfs
from kpi_xl.excel import coerce, errors, spill
from kpi_xl.excel.culture import excel_locale
from kpi_xl.excel.errors import ExcelCellError, KpiInputError, Layout
from kpi_xl.metrics import Hint, rules

COM_NA = -2146826246  # what COM sends for a #N/A cell
COM_DIV0 = -2146826281


def rows(*values):
    """A one-column range as classic COM delivers it: a tuple of 1-tuples."""
    return tuple((v,) for v in values)


def test_plain_mode_is_classic_mode():
    # No Office.js runtime in this process: the decorators are no-ops, errors come back as text.
    assert errors.OFFICE_JS is False
    assert not hasattr(udfs.NPS, "__xlfunc__")


# Reserved identifiers of VBA (MS-VBAL 3.3.5.2) and the loop/statement words VBA refuses as names.
VBA_RESERVED = {
    "abs", "addressof", "and", "any", "array", "as", "attribute", "boolean", "byref", "byte", "byval",
    "call", "case", "cbool", "cbyte", "ccur", "cdate", "cdbl", "cdec", "cdecl", "cint", "circle", "clng",
    "clnglng", "clngptr", "close", "const", "csng", "cstr", "currency", "cvar", "cverr", "date", "debug",
    "decimal", "declare", "defbool", "defbyte", "defcur", "defdate", "defdbl", "defdec", "defint",
    "deflng", "deflnglng", "deflngptr", "defobj", "defsng", "defstr", "defvar", "dim", "do", "doevents",
    "double", "each", "else", "elseif", "empty", "end", "endif", "enum", "eqv", "erase", "error", "event",
    "exit", "false", "fix", "for", "friend", "function", "get", "global", "gosub", "goto", "if", "imp",
    "implements", "in", "input", "inputb", "int", "integer", "is", "lbound", "len", "lenb", "let", "like",
    "lineinput", "lock", "long", "longlong", "longptr", "loop", "lset", "me", "mod", "new", "next", "not",
    "nothing", "null", "on", "open", "option", "optional", "or", "paramarray", "preserve", "print",
    "private", "pset", "public", "put", "raiseevent", "redim", "rem", "resume", "return", "rset", "scale",
    "seek", "select", "set", "sgn", "shared", "single", "spc", "static", "step", "stop", "string", "sub",
    "tab", "then", "to", "true", "type", "typeof", "ubound", "unlock", "until", "variant", "wend", "while",
    "with", "withevents", "write", "xor",
}  # fmt: skip


def test_argument_names_are_valid_vba_identifiers():
    # Classic "Import Functions" writes a VBA function per UDF with the Python parameter names; one
    # reserved word (e.g. "step") and the whole module fails to compile in Excel.
    for name in udfs.__all__:
        assert name.lower() not in VBA_RESERVED, name
        for param in inspect.signature(getattr(udfs, name)).parameters:
            assert param.lower() not in VBA_RESERVED, (name, param)
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,254}", param), (name, param)


def test_every_function_has_a_short_one_line_docstring_with_an_example():
    for name in udfs.__all__:
        doc = getattr(udfs, name).__doc__
        assert doc and len(doc) <= 255 and "\n" not in doc, name
        assert "Example: =" in doc or "e.g." in doc, name


# -------------------------------------------------------------------------------------------------
# UDFs with classic-style input and output
# -------------------------------------------------------------------------------------------------


def test_nps_from_com_tuples_with_header_text_numbers_and_blanks():
    # Valid: 10, 9, 7, 6, 0 -> promoters 2, detractors 2 -> NPS 0; header and blanks skipped.
    assert udfs.NPS(rows("Score", 10.0, "9", None, " 7 ", 6.0, "", 0.0)) == pytest.approx(0.0)
    # One promoter, one passive: 100 * (1 - 0) / 2 = 50.
    assert udfs.NPS(rows(10.0, 8.0)) == pytest.approx(50.0)


def test_nps_single_cell_arrives_as_a_bare_value():
    assert udfs.NPS(9.0) == pytest.approx(100.0)
    assert udfs.NPS(None) == "#N/A"


def test_com_error_code_in_data_is_passed_on_as_that_error():
    assert udfs.NPS(rows(10.0, COM_NA, 3.0)) == "#N/A"
    assert udfs.AOV(rows(10.0, COM_DIV0)) == "#DIV/0!"
    # skip_invalid: the error cell is skipped and counted like any invalid value.
    assert udfs.NPS(rows(10.0, COM_NA, 3.0), True) == pytest.approx(0.0)


def test_bad_value_is_value_error_text_with_the_reason_in_classic():
    got = udfs.NPS(rows("Score", 10.0, 11.0))
    assert got.startswith("#VALUE! scores: value 11 in row 3 of the range is not a whole-number score")
    assert "set skip_invalid to TRUE" in got


def test_zero_base_and_no_data():
    # Churn needs customers at the start: 0 is #DIV/0!, a blank count is #N/A (no data).
    assert udfs.CHURN(0.0, 5.0) == "#DIV/0!"
    assert udfs.CHURN(None, 5.0) == "#N/A"
    assert udfs.CSAT(rows(None, "", None)) == "#N/A"


def test_error_cell_in_a_single_cell_argument():
    assert udfs.CHURN(1000.0, COM_NA) == "#N/A"
    assert udfs.CLV(60.0, {"type": "Error", "errorType": "Div0"}, 0.4, 3.0) == "#DIV/0!"


def test_range_given_for_a_single_value_argument():
    got = udfs.CLV(rows(60.0, 70.0), 6.0, 0.4, 3.0)
    assert got == "#VALUE! aov must be a single cell or value, got a range of 2 x 1 cells"


def test_com_dates_with_a_tzinfo_count_by_their_wall_clock_day():
    # pywin32 returns date cells as timezone-aware datetimes; Excel's value is the wall-clock time.
    # B signed up at midnight on 1 July (UTC: 30 June 23:00): a new customer of July, not one of
    # the starting cohort, so July churn is 0 of S = {A}, not 1 of 2.
    bst = dt.timezone(dt.timedelta(hours=1))
    starts = rows("Signup", dt.datetime(2025, 6, 1, tzinfo=bst), dt.datetime(2025, 7, 1, tzinfo=bst))
    ends = rows("End", None, dt.datetime(2025, 7, 10, tzinfo=bst))
    assert udfs.CHURN_FROM_DATES(starts, ends, "2025-07-01", "2025-07-31") == 0.0


def test_dates_as_excel_serials():
    # 45663.375 = 2025-01-06 09:00; 45663.5 = 12:00 -> 3 hours.
    assert udfs.FRT(rows(45663.375), rows(45663.5)) == pytest.approx(3.0)


def test_optional_arguments_left_blank_use_their_defaults():
    # Classic passes an empty cell as None: the default applies (top-2-box on 1-5).
    answers = rows(5.0, 4.0, 3.0, 1.0)
    assert udfs.CSAT(answers, None, None, None, None) == pytest.approx(0.5)
    assert udfs.CSAT(answers, 5.0) == pytest.approx(0.25)


def test_text_option_is_case_insensitive_and_checked():
    effort = rows(7.0, 6.0, 2.0, 5.0)
    # Agree (5-7): 3 of 4.
    assert udfs.CES(effort, " Pct_Agree ") == pytest.approx(0.75)
    assert udfs.CES(effort, "median").startswith("#VALUE! measure must be one of 'mean', 'pct_agree', 'net'")


def test_nps_breakdown_and_ci_spill_plain_lists():
    got = udfs.NPS_BREAKDOWN(rows(10.0, 9.0, 8.0, 6.0, 0.0))
    assert got[0] == ["measure", "value"]
    values = dict(got[1:])
    # 2 promoters, 1 passive, 2 detractors of 5: NPS 0.
    assert (values["promoters"], values["passives"], values["detractors"], values["nps"]) == (2, 1, 2, 0.0)
    r = m.nps([10, 9, 8, 6, 0])
    assert udfs.NPS_CI(rows(10.0, 9.0, 8.0, 6.0, 0.0)) == [[r.ci_low, r.ci_high]]


def test_kpi_by_segment_from_a_com_table():
    table = (("Team", "Score"), ("A", 10.0), ("A", 0.0), ("B", 9.0), (None, None))
    got = udfs.KPI_BY_SEGMENT(table, "Team", "NPS", "Score", None, None, 1.0)
    header, *body = got
    assert header == list(m.TABLE_COLUMNS)
    # A: 10, 0 -> 0; B: 9 -> 100; Total: 10, 0, 9 -> 100 * (2 - 1) / 3.
    assert [(r[0], r[2]) for r in body] == [("A", 0.0), ("B", 100.0), ("Total", pytest.approx(100 / 3))]


def test_kpi_by_segment_options_are_checked_against_the_metric():
    table = (("Team", "Created", "Replied"), ("A", 45663.375, 45663.5))
    got = udfs.KPI_BY_SEGMENT(table, "Team", "sla_rate", "Created, Replied")
    assert got == '#VALUE! sla_rate needs the option(s) target_hours: add options "target_hours=..."'
    got = udfs.KPI_BY_SEGMENT(table, "Team", "sla_rate", "Created, Replied", "target_hour=4")
    assert got.startswith(
        "#VALUE! options: target_hour is not a setting of sla_rate; its settings are: as_of,"
    )
    # 3 hours to reply, target 4: 1 of 1 within target; options also as a two-column range.
    for options in ("target_hours=4", (("target_hours", 4.0),)):
        header, *body = udfs.KPI_BY_SEGMENT(table, "Team", "sla_rate", "Created, Replied", options, None, 1)
        assert body[0][:3] == ["A", "sla_rate", 1.0]


def test_kpi_by_segment_skip_invalid_for_a_metric_without_it():
    table = (("Team", "Start", "End"), ("A", 45000.0, None))
    options = "period_start=2023-01-01; period_end=2023-12-31"
    got = udfs.KPI_BY_SEGMENT(table, "Team", "churn", "Start, End", options, None, None, None, True)
    assert got == "#VALUE! skip_invalid is not available for churn: it has no invalid values to skip"


def test_unexpected_failure_is_value_error_text_and_logged(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(m, "nps", broken)
    with caplog.at_level(logging.ERROR, logger="kpi_xl.excel.errors"):
        got = udfs.NPS(rows(10.0))
    assert got.startswith("#VALUE! kpi-xl could not compute NPS: an unexpected error inside kpi-xl")
    assert "ZeroDivisionError" not in got and "boom" not in got
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


# -------------------------------------------------------------------------------------------------
# coerce: ranges -> engine inputs
# -------------------------------------------------------------------------------------------------


def test_numeric_range_takes_the_float_fast_path_and_trims_trailing_blanks():
    # Classic COM sends every number as a float (an int there is an error code).
    values = coerce.read_column([[1.0], [None], [2.5]] + [[None]] * 10, "x")
    assert values.dtype == np.float64
    assert np.array_equal(values, [1.0, np.nan, 2.5], equal_nan=True)


def test_number_text_is_read_by_the_rules_and_an_error_quotes_the_cell_as_typed():
    # Text the rules read as numbers reaches the engine as floats (one float array, the fast path);
    # a value that is then out of range is named as the user typed it, with its row.
    column = [["Score"], [9], ["7"], [None], [" 10 "], [""]]
    values = coerce.read_column(column, "scores", "score")
    assert values.dtype == np.float64
    assert np.array_equal(values, [9.0, 7.0, np.nan, 10.0], equal_nan=True)
    got = udfs.NPS(rows("Score", 9.0, "11", 3.0))
    assert got.startswith("#VALUE! scores: value '11' in row 3 of the range is not a whole-number score")
    # A number typed as a number is quoted as a number.
    assert udfs.NPS(rows("Score", 9.0, 11.0)).startswith("#VALUE! scores: value 11 in row 3")
    # Text the rules do not read as a number leaves the column to the engine, which names it.
    assert udfs.NPS(rows(9.0, "n/a", "ten", 3.0)).startswith("#VALUE! scores: value 'ten' in row 3")
    assert udfs.NPS(rows(9.0, "n/a", "ten", 3.0), True) == pytest.approx(0.0)


def test_whole_numbers_of_any_size_read_as_python_reads_them_as_floats():
    # Office.js sends whole numbers as ints; beyond int64 (10**30) and beyond 2**53 they are read
    # exactly as float() reads them, with number text next to them.
    cells = [["Amount"], [10**30], [2**53 + 1], [None], [7], ["8"]]
    values = coerce.read_column(cells, "amounts", "amount")
    assert values.dtype == np.float64
    assert np.array_equal(values, [1e30, float(2**53 + 1), np.nan, 7.0, 8.0], equal_nan=True)
    assert np.array_equal(coerce.read_column([[1], [2**53 + 1]], "a"), [1.0, float(2**53 + 1)])


def test_flags_read_as_booleans_yes_no_text_and_numbers_as_the_engine_reads_them():
    cells = [True, False, None, "yes", "Nein", 1, 0.0, True]
    values = coerce.read_column([[v] for v in cells], "refunded_flags", "flag")
    assert values.dtype == np.float64
    assert np.array_equal(values, [1, 0, np.nan, 1, 0, 1, 0, 1], equal_nan=True)
    assert udfs.REFUND_RATE([[v] for v in cells]) == pytest.approx(m.refund_rate(cells).value)
    # A TRUE where a number belongs is not 1: the engine names it.
    assert udfs.AOV(rows(10.0, True, 3.0)).startswith("#VALUE! amounts: value TRUE in row 2")
    # A flag that is no flag is named as typed.
    assert udfs.REFUND_RATE(rows(True, "maybe")).startswith("#VALUE! refunded_flags: value 'maybe' in row 2")


def test_cell_types_are_told_apart_the_same_without_object_addresses(monkeypatch):
    # The classes of the cells come from the addresses of their types where CPython allows it, by
    # a dict lookup per cell elsewhere: both give the same classes and the same values.
    cells = [1.5, 2, None, "x", True, {"type": "Double", "basicValue": 3}, float("nan"), "", False]
    fast = coerce._classes(cells)
    monkeypatch.setattr(coerce, "_ADDRESSES", False)
    assert coerce._classes(cells).tolist() == fast.tolist()
    flags = [[True], [None], ["no"], [False], [1.0]]
    assert np.array_equal(coerce.read_column(flags, "f", "flag"), [1, np.nan, 0, 0, 1], equal_nan=True)
    monkeypatch.setattr(coerce, "_ADDRESSES", True)
    assert np.array_equal(coerce.read_column(flags, "f", "flag"), [1, np.nan, 0, 0, 1], equal_nan=True)


def test_trailing_blank_text_rows_are_trimmed_internal_blanks_kept():
    values = coerce.read_column([["a"], [""], ["b"], [""], ["  "], [None]], "x", "text")
    assert values.tolist() == ["a", None, "b"]


def test_two_dimensional_range_is_read_row_by_row_and_positions_name_row_and_column():
    token = errors._LAYOUTS.set({})
    try:
        values = coerce.read_column([["Q1", "Q2"], [10, 9], [3, "x"]], "scores")
        assert values.tolist() == [10, 9, 3, "x"]
        # The header row was skipped: position 4 of the values is row 3, column 2 of the range.
        assert errors._LAYOUTS.get()["scores"].where(4) == "row 3, column 2"
    finally:
        errors._LAYOUTS.reset(token)


@pytest.mark.parametrize(
    ("kind", "first", "header"),
    [
        ("amount", "Score", True),
        ("amount", "9", False),  # a number stored as text is data
        ("flag", "Complaint", True),
        ("flag", "yes", False),
        ("date", "Created", True),
        ("date", "2025-01-31", False),
    ],
)
def test_header_is_text_that_is_no_valid_value_of_the_column(kind, first, header):
    rest = {"amount": [1.0, 2.0], "flag": ["no", "yes"], "date": [45658.0, 45659.0]}[kind]
    values = coerce.read_column(rows(first, *rest), "x", kind)
    assert len(values) == (2 if header else 3)


@pytest.mark.parametrize("first", ["9,0", "12,50", "1,234.50", "45%", "1.000", "1,000", "-3,5", "€ 12,50"])
@pytest.mark.parametrize("locale", [None, "de", "en-US"])
def test_a_header_guess_never_swallows_a_number_like_first_cell(first, locale, monkeypatch):
    # In any locale: what reads as a number somewhere is a value (read, or rejected with its row),
    # never a header dropped without a count.
    if locale:
        monkeypatch.setenv("KPI_XL_LOCALE", locale)
    else:
        monkeypatch.delenv("KPI_XL_LOCALE", raising=False)
    try:
        score = rules.read_number(first, locale=locale)
    except KpiInputError:
        score = None
    with rules.use_locale(excel_locale()):  # as every Excel function reads its ranges
        values = coerce.read_column(rows(first, 10.0, 3.0), "scores", "score")
    # The first cell is data: handed on as typed, or as the number the rules read from it.
    assert len(values) == 3 and (values[0] == first if score is None else values[0] == score)
    got = udfs.NPS(rows(first, 10.0, 3.0))
    # Either read as a score in this locale (9,0 is a 9) and counted, or a #VALUE! naming row 1;
    # never the NPS of the two other answers.
    if score is not None and score == int(score) and 0 <= score <= 10:
        assert got == pytest.approx(m.nps([score, 10, 3]).value)
    else:
        assert str(got).startswith("#VALUE! scores: value") and "in row 1 of the range" in got


def test_header_of_id_columns():
    # Numeric ids under a text cell: the text is a header.
    assert coerce.read_column(rows("Customer", 1001.0, 1002.0), "ids", "id").tolist() == [1001.0, 1002.0]
    # Text ids: a header cannot be told from an id, so nothing is dropped (documented).
    assert len(coerce.read_column(rows("Customer", "C-1", "C-2"), "ids", "id")) == 3
    # Beside a date column the header row is recognised from the dates.
    cols = coerce.read_columns(
        {"ids": rows("Customer", "C-1"), "dates": rows("Date", 45658.0)}, {"ids": "id", "dates": "date"}
    )
    assert cols["ids"].tolist() == ["C-1"]


def test_aligned_columns_trim_to_the_longest_and_must_be_single_columns():
    cols = coerce.read_columns(
        {"a": rows(1.0, 2.0, None, None), "b": rows(1.0, 2.0, 3.0, None)}, {"a": "amount", "b": "amount"}
    )
    assert len(cols["a"]) == len(cols["b"]) == 3
    with pytest.raises(KpiInputError, match="b must be a single column"):
        coerce.read_columns({"a": rows(1.0), "b": ((1.0, 2.0),)}, {"a": "amount", "b": "amount"})


def test_error_cells_stop_or_become_invalid_values():
    with pytest.raises(ExcelCellError) as info:
        coerce.read_column(rows("Score", 1.0, COM_NA), "scores")
    assert info.value.code == "#N/A" and info.value.where == "row 3"
    kept = coerce.read_column(rows(1.0, COM_NA), "scores", skip_errors=True)
    assert kept.tolist() == [1.0, "#N/A"]  # left for the engine to skip and count as invalid
    ids = coerce.read_column(rows("a", COM_NA), "ids", "id", skip_errors=True)
    assert ids.tolist() == ["a", None]  # never a customer called "#N/A"


def test_office_js_values():
    na = {"type": "Error", "errorType": "NotAvailable"}  # a payload without basicValue
    formatted = {"type": "FormattedNumber", "basicValue": 45658.0, "numberFormat": "m/d/yyyy"}

    class JsNull:  # Pyodide's stand-in for JavaScript null
        pass

    values = coerce.read_column([[formatted], [JsNull()], [na]], "x", skip_errors=True, office_js=True)
    assert values.tolist() == [45658.0, None, "#N/A"]
    # In Office.js an integer is a number, never a COM error code.
    assert coerce.read_column([[COM_NA]], "x", office_js=True).tolist() == [float(COM_NA)]


def test_whole_column_of_zeros_from_an_old_office_build_is_refused():
    column = [[10]] * 5 + [[0]] * (coerce.SHEET_ROWS - 5)
    with pytest.raises(KpiInputError, match="sent the empty cells of the whole column as 0"):
        coerce.read_column(column, "scores")
    # The same data with real blanks below it is fine.
    assert len(coerce.read_column([[10]] * 5 + [[None]] * (coerce.SHEET_ROWS - 5), "scores")) == 5


def test_read_table():
    table = (("Team", "Score", "Note"), ("A", 10.0, COM_NA), (COM_NA, 9.0, None), (None, None, None))
    with pytest.raises(ExcelCellError, match="row 3, column 'Team'"):
        coerce.read_table(table, "table", used=["Team", "Score"])
    frame = coerce.read_table(table, "table", used=["Team", "Score"], labels=["Team"], skip_errors=True)
    # Index = row of the range (header is row 1); the error in the unused Note column does not matter.
    assert frame.index.tolist() == [2, 3]
    assert frame.loc[2, "Team"] == "A" and pd.isna(frame.loc[3, "Team"])
    with pytest.raises(KpiInputError, match="'Region' not found in the header row; it has: 'Team', 'Score'"):
        coerce.read_table(table, "table", used=["Region"])


def test_scalar_helpers():
    assert coerce.number(" 0.9 ", "confidence") == 0.9
    assert coerce.number(None, "confidence", 0.95) == 0.95
    with pytest.raises(KpiInputError, match="confidence must be a number, got TRUE"):
        coerce.number(True, "confidence")
    with pytest.raises(KpiInputError, match="horizon is blank") as info:
        coerce.number("", "horizon")
    assert info.value.kind == "empty"
    assert coerce.whole(3.0, "max_periods") == 3 and coerce.whole(None, "max_periods", None) is None
    with pytest.raises(KpiInputError, match="whole number"):
        coerce.whole(2.5, "max_periods")
    assert coerce.flag("yes", "total", False) is True and coerce.flag(None, "total", True) is True
    assert coerce.text(" Median ", "statistic") == "median"
    assert coerce.is_blank(None) and coerce.is_blank([[""]]) and not coerce.is_blank([[None], [None]])
    assert coerce.column_or_scalar([[12]], "complaints") == 12
    # A column of flags reaches the engine as the rules read them (yes 1, no 0).
    assert coerce.column_or_scalar(rows("yes", "no"), "complaints", "flag").tolist() == [1.0, 0.0]


def test_settings_and_names():
    assert coerce.settings("scale=1,7; threshold = 6; method=wald; flag=TRUE", "options") == {
        "scale": (1.0, 7.0),
        "threshold": 6.0,
        "method": "wald",
        "flag": True,
    }
    # A two-column range, and one row of it as Office.js flattens it.
    assert coerce.settings((("target_hours", 4.0), ("as_of", "2025-01-31")), "options") == {
        "target_hours": 4.0,
        "as_of": "2025-01-31",
    }
    assert coerce.settings(["target_hours", 4], "options", office_js=True) == {"target_hours": 4}
    assert coerce.settings(None, "options") == {}
    with pytest.raises(KpiInputError, match="'scale' is not name=value"):
        coerce.settings("scale", "options")
    with pytest.raises(KpiInputError, match="two columns"):
        coerce.settings((("a", 1.0, 2.0),), "options")
    assert coerce.names(" Created ; Replied ", "value_columns") == ["Created", "Replied"]
    assert coerce.names((("Created", "Replied"),), "value_columns") == ["Created", "Replied"]
    with pytest.raises(KpiInputError, match="value_columns is blank") as info:
        coerce.names(None, "value_columns")
    assert info.value.kind == "empty"


# -------------------------------------------------------------------------------------------------
# errors: messages and delivery per runtime
# -------------------------------------------------------------------------------------------------


def test_excel_message_rewrites_positions_and_python_hints():
    # The fields the engine gives (no message text is parsed).
    exc = KpiInputError(
        argument="scores",
        position=3,
        value="x",
        reason="is not a number",
        hint=Hint("on_invalid", "drop", "skip and count invalid values"),
    )
    layouts = {"scores": Layout(first_row=2, width=1)}
    got = errors.excel_message(exc, layouts=layouts, parameters=frozenset({"skip_invalid"}))
    assert got == (
        "scores: value 'x' in row 4 of the range is not a number; fix it, or set skip_invalid to TRUE to "
        "skip and count invalid values"
    )
    # A function without skip_invalid: the hint is dropped, not left pointing at nothing.
    assert errors.excel_message(exc, layouts=layouts).endswith("is not a number; fix it")


def test_segment_table_errors_name_the_row_of_the_table():
    table = (("Team", "Score"), ("A", 10.0), ("A", "ten"))
    got = udfs.KPI_BY_SEGMENT(table, "Team", "nps", "Score")
    # The position inside segment A (2) means nothing on the sheet; the table row (3) does.
    assert got.startswith(
        "#VALUE! segment 'A' (row 3 of the table): scores: value 'ten' is not a whole-number"
    )


def test_numpy_reprs_in_engine_messages_become_plain_numbers():
    # A reply before its ticket: the engine shows both raw values (here Excel serials).
    got = udfs.FRT(rows(45663.375), rows(45663.3))
    assert "(first_response=45663.3, created=45663.375)" in got and "np." not in got
    assert "the ticket in row 1 of the range" in got


def test_long_messages_are_cut_at_255_characters():
    got = errors.excel_message(KpiInputError("x" * 400))
    assert len(got) == 255 and got.endswith("…")


def test_error_result_per_runtime():
    assert errors.error_result("#N/A", office_js=True) == "#N/A"
    assert errors.error_result("#VALUE!", "bad", office_js=False) == "#VALUE! bad"
    with pytest.raises(xw.XlwingsError, match="^bad$"):
        errors.error_result("#VALUE!", "bad", office_js=True)


def test_layout_where():
    assert Layout().where(1) == "row 1"
    assert Layout(first_row=2, width=3).where(4) == "row 3, column 1"


# -------------------------------------------------------------------------------------------------
# spill: results -> 2-D lists
# -------------------------------------------------------------------------------------------------


def test_spill_frame_uses_python_values_and_blanks_for_missing():
    df = pd.DataFrame(
        {0: [1.0, np.nan], 1: [np.int64(2), np.int64(3)], "when": pd.to_datetime(["2025-01-01", None])},
        index=pd.Index(["x", "y"], name="k"),
    )
    got = spill.frame(df, index="cohort")
    assert got == [
        ["cohort", 0, 1, "when"],
        ["x", 1.0, 2, dt.datetime(2025, 1, 1)],
        ["y", None, 3, None],
    ]
    assert all(type(v) in (str, float, int, dt.datetime, type(None)) for row in got for v in row)


def test_spill_pairs_and_row():
    assert spill.pairs([("n", np.int64(3)), ("se", None), ("x", float("nan"))]) == [
        ["measure", "value"],
        ["n", 3],
        ["se", None],
        ["x", None],
    ]
    assert spill.row([np.float64(1.5), None]) == [[1.5, None]]


# -------------------------------------------------------------------------------------------------
# The locale of the Excel functions (kpi_xl.excel.culture)
# -------------------------------------------------------------------------------------------------


def test_locale_from_the_environment_then_xlwings_conf(monkeypatch):
    from kpi_xl.excel import culture

    monkeypatch.delenv("KPI_XL_LOCALE", raising=False)
    monkeypatch.setattr(culture, "_conf_setting", lambda: None)
    # No setting and no Office.js call in progress: no locale, "1.000" is ambiguous.
    assert culture.excel_locale() is None
    got = udfs.CHURN("1.000", 120)
    assert got.startswith("#VALUE! customers_start: value '1.000' reads as 1 or as 1000")
    assert "set KPI_XL_LOCALE" in got
    # xlwings.conf's KPI_XL_LOCALE key...
    monkeypatch.setattr(culture, "_conf_setting", lambda: "de-DE")
    assert culture.excel_locale() == "de-DE"
    assert udfs.CHURN("1.000", 120) == pytest.approx(0.12)
    assert udfs.CLV("60,5", 6, "0,4", 3) == pytest.approx(m.clv_formula(60.5, 6, 0.4, 3).value)
    # ...and the environment variable before it.
    monkeypatch.setenv("KPI_XL_LOCALE", "en-US")
    assert culture.excel_locale() == "en-US"
    assert udfs.CHURN("1,000", 120) == pytest.approx(0.12)
    assert udfs.NPS("9,0").startswith("#VALUE! scores: value '9,0'")


def test_a_locale_setting_that_is_no_locale_says_where_it_was_set(monkeypatch):
    monkeypatch.setenv("KPI_XL_LOCALE", "Klingon")
    got = udfs.NPS(rows(10.0, 9.0))
    assert got.startswith(
        "#VALUE! KPI_XL_LOCALE: value 'Klingon' (in the environment variable) is not a locale"
    )


def test_the_classic_runtime_shows_a_models_reason_for_too_few_customers():
    # Four customers, three with a repeat purchase: the Gamma-Gamma spend model needs ten.
    ids = rows("a", "a", "b", "b", "c", "c", "d")
    dates = rows(*[45658.0, 45689.0, 45662.0, 45717.0, 45664.0, 45695.0, 45666.0])
    amounts = rows(10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0)
    got = udfs.CLV_PREDICT(ids, dates, amounts, "week", 52)
    assert got.startswith("#N/A ") and "Gamma-Gamma spend model needs at least 10 customers" in got
    # An empty range is still a plain #N/A: nothing to explain.
    assert udfs.NPS(rows(None, None)) == "#N/A"
