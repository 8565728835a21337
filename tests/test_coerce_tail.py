"""Whole columns (B:B) with their empty rows to the bottom of the sheet: the trailing empty rows are
dropped before any cell is read, and what the functions get is what reading every cell gave."""

from __future__ import annotations

import numpy as np
import pytest

from kpi_xl.excel import coerce
from kpi_xl.excel.coerce import SHEET_ROWS, _empty_tail
from kpi_xl.metrics import KpiInputError


def whole_column(values, empty):
    return [["Score"]] + [[v] for v in values] + [[empty]] * (SHEET_ROWS - len(values) - 1)


@pytest.mark.parametrize("empty", ["", None])
def test_tail_of_a_whole_column(empty):
    col = whole_column([9, "", 7, None, "8"], empty)
    assert _empty_tail(col) == SHEET_ROWS - 6
    got = coerce.read_column(col, "scores", "score", office_js=True)
    assert got.tolist()[:1] == [9] and len(got) == 5  # header removed, blanks inside kept


def test_only_empty_and_null_end_the_tail():
    assert _empty_tail([[1], [""], [" "], [""], [None]]) == 2  # spaces are a cell to read
    assert _empty_tail([[1, ""], ["", ""], [None, None]]) == 2
    assert _empty_tail(((1.0,), (None,), (None,))) == 2  # COM: tuples
    assert _empty_tail([[""], [""]]) == 1  # never the first row: the range keeps its width
    assert _empty_tail([1, 2, ""]) == 0 and _empty_tail(np.array([[1.0], [np.nan]])) == 0


def test_ranges_stay_aligned_by_row():
    created = [["Created"]] + [[45000.0 + i] for i in range(10)] + [[""]] * 100
    replied = [["Replied"]] + [[45000.5 + i] for i in range(7)] + [[""]] * 103
    got = coerce.read_columns({"c": created, "r": replied}, {"c": "date", "r": "date"}, office_js=True)
    assert len(got["c"]) == len(got["r"]) == 10
    assert got["r"][7:].tolist() == [None] * 3 or np.isnan(got["r"][7:].astype(float)).all()


def test_a_full_column_of_zeros_is_still_refused():
    # Office.js builds that send empty cells as 0: a full column ending in 0 (no empty tail to drop).
    col = [["Score"]] + [[7]] * 10 + [[0]] * (SHEET_ROWS - 11)
    with pytest.raises(KpiInputError, match="empty cells of the whole column as 0"):
        coerce.read_column(col, "scores", "score", office_js=True)


def test_an_unknown_kind_is_a_wrapper_bug_not_a_silent_skip():
    with pytest.raises(ValueError, match="unknown column kind"):
        coerce.read_column([["Score"], [9]], "scores", "number", office_js=True)
