"""The one place input is cleaned: blanks, text numbers, flags, dates, ids, scalar checks."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kpi_xl.metrics import KpiInputError, complaint_rate
from kpi_xl.metrics._clean import (
    clean_dates,
    clean_flags,
    clean_ids,
    clean_numbers,
    ids_cleaned_once,
    require_count,
    require_positive,
    require_share,
)


def test_numbers_blanks_text_and_invalid():
    c = clean_numbers([1, " 2 ", None, "", "  ", float("nan"), pd.NA, 3.5])
    assert c.values.tolist() == [1.0, 2.0, 3.5]
    assert c.n_blank == 5 and c.n_invalid == 0
    with pytest.raises(KpiInputError, match="value 'abc' at position 2"):
        clean_numbers([1, "abc"])
    with pytest.raises(KpiInputError, match="position 1"):
        clean_numbers([True, 2])
    with pytest.raises(KpiInputError, match="inf"):
        clean_numbers([1, float("inf")])
    with pytest.raises(KpiInputError, match="not negative"):
        clean_numbers([1, -2], allow_negative=False)
    assert clean_numbers([1, "x", -1], allow_negative=False, on_invalid="drop").n_invalid == 2


def test_flags_text_forms():
    c = clean_flags([True, "yes", " N ", 1, 0.0, None, "x", "ja", "Nein"])
    assert c.values.tolist() == [1, 1, 0, 1, 0, 1, 1, 0]
    assert c.n_blank == 1
    with pytest.raises(KpiInputError, match="'maybe' at position 2"):
        clean_flags([1, "maybe"])
    with pytest.raises(KpiInputError):
        clean_flags([2])


def test_dates_every_form():
    values = [
        "2025-01-31",
        "31.12.2025",
        45000,  # Excel serial: 2023-03-15
        dt.datetime(2025, 3, 1, 12),
        pd.Timestamp("2025-02-01", tz="UTC"),
        None,
        "",
        "2025-01-01 10:30",
        19970101,  # YYYYMMDD as a number (CDNOW, many exports)
    ]
    out, blank = clean_dates(values)
    got = [None if np.isnat(v) else str(v)[:16] for v in out]
    assert got == [
        "2025-01-31T00:00",
        "2025-12-31T00:00",
        "2023-03-15T00:00",
        "2025-03-01T12:00",
        "2025-02-01T00:00",
        None,
        None,
        "2025-01-01T10:30",
        "1997-01-01T00:00",
    ]
    assert blank.tolist() == [False] * 5 + [True, True, False, False]
    with pytest.raises(KpiInputError, match="'soon' at position 2"):
        clean_dates(["2025-01-01", "soon"])
    with pytest.raises(KpiInputError, match="blank"):
        clean_dates(["2025-01-01", None], allow_blank=False)


def test_ids_number_and_text_forms_are_one_customer():
    codes, uniques, n_blank, n_invalid = clean_ids([1001, "1001", 1001.0, "0012", 12, None, " A7 "])
    assert codes[0] == codes[1] == codes[2]
    assert codes[3] != codes[4]  # leading zeros kept: "0012" is not 12
    assert codes[5] == -1 and n_blank == 1 and n_invalid == 0
    with pytest.raises(KpiInputError, match="TRUE|True"):
        clean_ids(["a", True])


def test_text_ids_by_hand_and_as_any_other_column():
    # A column of text and missing cells only (the usual id column) takes a shorter path: the same
    # rule. By hand: "A1", " A1" and "A1\xa0" are one customer (trimmed), "a1" another (ids are
    # case-sensitive), "n/a", "k. A." and spaces are blanks, as are None and NaN.
    col = ["A1", " A1", "n/a", "a1", None, "A1\xa0", "  ", "k. A.", float("nan"), "0012", "a1"]
    codes, uniques, n_blank, n_invalid = clean_ids(col)
    assert uniques.tolist() == ["A1", "a1", "0012"]
    assert codes.tolist() == [0, 0, -1, 1, -1, 0, -1, -1, -1, 2, 1]
    assert (n_blank, n_invalid) == (5, 0)
    # A number after the column sends it down the value-by-value path: the text rows agree.
    codes2, uniques2, n_blank2, _ = clean_ids([*col, 7.0])
    assert codes2[:-1].tolist() == codes.tolist() and uniques2.tolist() == ["A1", "a1", "0012", "7"]
    assert n_blank2 == n_blank


def test_ids_cleaned_once_give_what_cleaning_gives_and_never_a_stale_result():
    col = np.array(["A1", " A1", "n/a", "B2", None, "B2 ", np.nan], dtype=object)
    want = clean_ids(col)
    with ids_cleaned_once():
        first = clean_ids(col)
        first[0][:] = 99  # what a caller does with its result is not remembered
        again = clean_ids(col.copy())
        col[0] = "C3"  # the same array changed in place: cleaned again, not remembered
        changed = clean_ids(col)
    assert again[0].tolist() == want[0].tolist() == [0, 0, -1, 1, -1, 1, -1]
    assert again[1].tolist() == want[1].tolist() == ["A1", "B2"]
    assert again[2:] == want[2:] == (3, 0)
    # By hand: C3, A1 (row 2), blank, B2, blank, B2, blank.
    assert changed[0].tolist() == [0, 1, -1, 2, -1, 2, -1] and changed[1].tolist() == ["C3", "A1", "B2"]


def test_scalar_checks_reject_booleans_and_say_why():
    with pytest.raises(KpiInputError, match="must be a number, got TRUE"):
        require_positive(True, "customers")
    with pytest.raises(KpiInputError):
        require_share(True, "retention")
    with pytest.raises(KpiInputError) as info:
        require_positive(0, "customers_start")
    assert info.value.kind == "zero-base"
    with pytest.raises(KpiInputError, match="whole number"):
        require_count(2.5, "leads")
    assert require_share(0.8, "r") == 0.8


def test_complaint_rate_is_a_rate_per_1000():
    # 3 complaints over 1,500 orders -> 2.0 per 1,000 orders.
    r = complaint_rate(3, 1500)
    assert r.value == pytest.approx(2.0)
    assert r.unit == "rate" and r.components["per"] == 1000
