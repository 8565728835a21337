"""How a range's cells are told apart and converted: the shortcuts that look at an object's address
instead of its type or value (blanks, booleans, "", the ints CPython keeps one object for) give what
looking at each cell gives, and a cell is never converted to a number outside the engine's rules."""

from __future__ import annotations

import numpy as np
import pytest

from kpi_xl import udfs
from kpi_xl.excel import coerce
from kpi_xl.metrics import rules

# Ints on both sides of the range CPython keeps one object for (-5 to 256), made at run time so that
# the ones outside it are separate objects; floats, booleans, blanks, text.
CELLS = [int("-6"), -5, 0, 7, 256, int("257"), 10**20, 2.5, -0.0, None, "", " ", True, False, "12", "x"]
CLASSES = [1] * 7 + [0, 0, 2, 3, 3, 4, 4, 3, 3]


def test_classes_by_address_are_the_classes_by_type(monkeypatch):
    assert coerce._classes(CELLS).tolist() == CLASSES
    # With the address shortcuts off, every cell's type is looked up: the same classes.
    monkeypatch.setattr(coerce, "_ADDRESSES", False)
    assert coerce._classes(CELLS).tolist() == CLASSES


@pytest.mark.parametrize("by_address", [True, False])
@pytest.mark.parametrize("cells", [CELLS, CELLS[:7] * 3 + [1.5], [1.5, 2.25, 3, "y", None] * 3])
def test_numbers_are_the_numeric_cells_only(cells, by_address, monkeypatch):
    # Mostly small ints, mostly floats, a mix: each number cell is its value; text, booleans and
    # blanks are NaN (a flag is no 1.0, "12" is not read here: the rules read text). The same with
    # the small-int shortcut off (an interpreter that does not keep them in one array).
    if not by_address:
        monkeypatch.setattr(coerce, "_SMALL_INTS", None)
    values = np.array(cells, dtype=object)
    got = coerce._numbers(values, coerce._classes(cells))
    want = [
        float(v) if type(v) in (int, float) else np.nan  # noqa: E721 (bool is no number here)
        for v in cells
    ]
    assert np.array_equal(got, want, equal_nan=True)
    assert values.tolist() == cells  # the cells are left as they came


def test_score_column_of_small_and_other_ints_reads_every_value():
    # A score column with text and ints: the values reach the engine as the numbers typed; an int
    # off the scale is named by the engine, quoted as typed.
    col = [["Score"], [10], ["9"], [""], [0], [int("7")], [None], [6]]
    got = coerce.read_column(col, "scores", "score", office_js=True)
    assert np.array_equal(got, [10, 9, np.nan, 0, 7, np.nan, 6], equal_nan=True)
    assert udfs.NPS(col) == 0.0  # promoters 10, 9; detractors 0, 6; of 5
    assert udfs.NPS([[9], [int("300")], [True]]).startswith("#VALUE! scores: value 300 in row 2")


def test_text_among_floats_is_handed_to_the_engine_as_typed():
    # A column of floats with one word: the cells the engine judges are the cells as typed.
    col = [[12.5], [3.0], ["abc"], [7.25]]
    values = coerce.read_column(col, "amounts", "amount", office_js=True)
    assert values.dtype == object and values.tolist() == [12.5, 3.0, "abc", 7.25]
    assert udfs.AOV(col).startswith("#VALUE! amounts: value 'abc' in row 3")
    # A TRUE among amounts stays TRUE for the engine to name, not 1.0.
    values = coerce.read_column([[1.5], [True], [2.5]], "amounts", "amount", office_js=True)
    assert values.dtype == object and values[1] is True


def test_text_read_again_by_the_locale_in_effect():
    # What the rules read a text as is remembered per locale: the same column reads as the locale in
    # effect says each time, and an ambiguous text is left for the engine to name every time.
    col = [["Amount"], ["1.000"], [2], ["7,5"]]
    for _ in range(2):
        with rules.use_locale("de"):
            assert coerce.read_column(col, "amounts", "amount", office_js=True).tolist() == [1000, 2, 7.5]
        with rules.use_locale("en"):
            values = coerce.read_column(col, "amounts", "amount", office_js=True)
            assert values.dtype == object  # "7,5" is no en number: the engine names it
        # The Excel functions read by KPI_XL_LOCALE (unset here): the ambiguous text is named.
        assert udfs.AOV(col).startswith("#VALUE! amounts: value '1.000' in row 2")


def test_text_cells_told_apart_alike_with_and_without_the_distinct_texts():
    # Ids and labels skip finding the distinct texts: blanks (spaces only, "") and error values are
    # the same cells either way.
    col = [["C1"], ["  "], ["#N/A"], [""], ["C2"], ["\t"], ["C1"], [" x "], ["#DIV/0!"], [3]]
    by_distinct = coerce._Cells(col, "ids", True)
    by_cell = coerce._Cells(col, "ids", True, distinct=False)
    assert by_cell.blank.tolist() == by_distinct.blank.tolist() == [0, 1, 0, 1, 0, 1, 0, 0, 0, 0]
    assert by_cell.error.tolist() == by_distinct.error.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    assert by_cell.values.tolist() == by_distinct.values.tolist()
    assert udfs.REPEAT_RATE(col).startswith("#N/A")  # the first error cell stops the calculation
    ids = coerce.read_column(col, "ids", "id", skip_errors=True, office_js=True)
    assert ids.tolist() == ["C1", None, None, None, "C2", None, "C1", " x ", None, 3]


def test_many_distinct_texts_are_read_without_being_remembered():
    # Amounts typed as text, 5,000 different ones: read by the rules, not kept in memory.
    before = len(coerce._READ_CACHE)
    col = [["Amount"]] + [[f"{i}.25"] for i in range(5_000)]
    values = coerce.read_column(col, "amounts", "amount", office_js=True)
    assert np.array_equal(values, np.arange(5_000) + 0.25)
    assert len(coerce._READ_CACHE) <= before
