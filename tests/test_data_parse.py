"""Locale-aware numbers and dates, and header recognition."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kpi_xl.data import map_columns, normalise_header, parse_dates, parse_numbers
from kpi_xl.metrics import KpiInputError


def _nums(values, **kw):
    return parse_numbers(pd.Series(values, dtype=object), **kw)


def test_german_numbers():
    r = _nums(["1.234,56", "12,5", "-3,00", "1.000.000", "0,125"])
    assert r.decimal == ","
    assert r.values.tolist() == [1234.56, 12.5, -3.0, 1_000_000.0, 0.125]
    assert not r.invalid.any()


def test_english_numbers():
    r = _nums(["1,234.56", "12.5", "1,000,000", "2e3"])
    assert r.decimal == "."
    assert r.values.tolist() == [1234.56, 12.5, 1_000_000.0, 2000.0]


def test_currency_spaces_apostrophes_minus_and_parentheses():
    r = _nums(["€ 1.234,50", "1 234,50 EUR", "1\u00a0234,50", "(12,00)", "\u22127,25", "-€3,00"])
    assert r.values.tolist() == [1234.5, 1234.5, 1234.5, -12.0, -7.25, -3.0]
    swiss = _nums(["1'234.50", "CHF 12.05"])
    assert swiss.values.tolist() == [1234.5, 12.05]


def test_ambiguous_column_follows_the_files_convention_and_says_so():
    # "1.234" alone could be 1.234 or 1234: a ;-separated CSV reads it the German way.
    de = _nums(["1.234", "2.500"], default_decimal=",")
    assert de.values.tolist() == [1234.0, 2500.0]
    assert "not visible" in de.note
    en = _nums(["1.234", "2.500"], default_decimal=".")
    assert en.values.tolist() == [1.234, 2.5]


def test_a_value_in_the_other_convention_is_invalid_not_a_thousand_times_off():
    r = _nums(["12,5", "3,25", "7.5"])
    assert r.decimal == ","
    assert np.isnan(r.values[2]) and r.invalid.tolist() == [False, False, True]
    assert "other decimal mark" in r.reason[2]


def test_explicit_decimal_mark():
    assert _nums(["1.234"], decimal=".").values.tolist() == [1.234]
    assert _nums(["1.234"], decimal=",").values.tolist() == [1234.0]
    with pytest.raises(KpiInputError, match="decimal must be"):
        _nums(["1"], decimal=";")


def test_blanks_and_placeholders_are_blank_not_invalid():
    r = _nums(["", "  ", "n/a", "#N/A", "NULL", "-", None, float("nan"), "5"])
    assert r.blank.tolist() == [True] * 8 + [False]
    assert not r.invalid.any()


def test_typed_cells_pass_through_and_other_types_are_invalid():
    r = _nums([1.5, 2, True, dt.date(2025, 1, 1), "3,5"])
    assert r.values[:2].tolist() == [1.5, 2.0] and r.values[4] == 3.5
    assert r.invalid.tolist() == [False, False, True, True, False]
    numeric = parse_numbers(pd.Series([1.0, np.nan, 3.0]))
    assert numeric.blank.tolist() == [False, True, False]


def _dates(values, **kw):
    return parse_dates(pd.Series(values, dtype=object), **kw)


def test_date_formats():
    r = _dates(
        [
            "31.12.2025",  # German
            "1.2.25",  # German, short year
            "2025-12-31",  # ISO
            "2025-12-31T14:30:00",  # ISO with a time
            "2025/12/31",  # year first with slashes
            "45657",  # Excel serial as text: 2024-12-31
            "19970101",  # YYYYMMDD as in CDNOW
            45658.5,  # Excel serial cell with a time: 2025-01-01 12:00
            dt.date(2025, 6, 1),  # a date cell
        ]
    )
    got = [str(pd.Timestamp(v)) for v in r.values]
    assert got == [
        "2025-12-31 00:00:00",
        "2025-02-01 00:00:00",
        "2025-12-31 00:00:00",
        "2025-12-31 14:30:00",
        "2025-12-31 00:00:00",
        "2024-12-31 00:00:00",
        "1997-01-01 00:00:00",
        "2025-01-01 12:00:00",
        "2025-06-01 00:00:00",
    ]
    assert not r.invalid.any()


def test_iso_offsets_are_converted_to_utc():
    r = _dates(["2025-06-01T10:00:00+02:00", "2025-06-01T10:00:00Z"])
    assert [str(pd.Timestamp(v)) for v in r.values] == ["2025-06-01 08:00:00", "2025-06-01 10:00:00"]


def test_slash_dates_take_their_order_from_the_column():
    day_first = _dates(["13/01/2025", "02/03/2025"])
    assert [str(pd.Timestamp(v).date()) for v in day_first.values] == ["2025-01-13", "2025-03-02"]
    month_first = _dates(["01/13/2025", "02/03/2025"])
    assert [str(pd.Timestamp(v).date()) for v in month_first.values] == ["2025-01-13", "2025-02-03"]
    given = _dates(["02/03/2025"], order="mdy")
    assert str(pd.Timestamp(given.values[0]).date()) == "2025-02-03"


def test_slash_dates_that_could_be_either_are_an_error_not_a_guess():
    with pytest.raises(KpiInputError, match="could be day/month/year or month/day/year.*--date-order"):
        _dates(["01/02/2025", "03/04/2025"])
    with pytest.raises(KpiInputError, match="both day/month and month/day"):
        _dates(["13/01/2025", "01/13/2025"])


def test_invalid_dates_say_why():
    r = _dates(["31.02.2025", "soon", "2025", True, "", "n/a"])
    assert r.invalid.tolist() == [True, True, True, True, False, False]
    assert r.blank.tolist()[4:] == [True, True]
    assert r.reason[0] == "is not a real calendar date"
    assert r.reason[1].startswith("is not a date")
    assert "plain number" in r.reason[2]  # a year is not a date serial
    assert r.reason[3] == "is not a date"


def test_datetime_column_passes_through():
    s = pd.Series(pd.to_datetime(["2025-01-01", None]))
    r = parse_dates(s)
    assert r.blank.tolist() == [False, True] and not r.invalid.any()


def test_german_and_english_headers_are_recognised():
    de = map_columns(["Kunden-ID", "Bestelldatum", "Betrag", "Bewertung", "Weiterempfehlung"])
    assert de.columns == {
        "customer_id": "Kunden-ID",
        "date": "Bestelldatum",
        "amount": "Betrag",
        "nps_score": "Weiterempfehlung",
        "csat_score": "Bewertung",
    }
    en = map_columns(["Customer ID", "Order Date", "Revenue", "NPS"])
    assert en.columns == {
        "customer_id": "Customer ID",
        "date": "Order Date",
        "amount": "Revenue",
        "nps_score": "NPS",
    }


def test_header_normalisation():
    assert normalise_header(" Kunden-ID ") == normalise_header("kunden_id") == "kundenid"
    assert normalise_header("Kündigungsdatum") == normalise_header("Kuendigungsdatum") == "kuendigungsdatum"
    assert normalise_header("Gelöst am") == "geloestam"


def test_a_ticket_file_keeps_created_as_a_ticket_date_not_an_order_date():
    m = map_columns(["created", "first_reply_at", "resolved_at", "date"])
    assert m.columns["created"] == "created" and m.columns["date"] == "date"
    assert m.columns["first_response"] == "first_reply_at" and m.columns["resolved"] == "resolved_at"


def test_earlier_synonym_wins_when_two_headers_fit():
    m = map_columns(["Datum", "Bestelldatum"])
    assert m.columns["date"] == "Datum"  # "date"/"Datum" come before "Bestelldatum" in the list


def test_explicit_mapping_errors():
    with pytest.raises(
        KpiInputError, match=r"no column 'Umsatz' \(given for amount\); the columns are: 'a', 'b'"
    ):
        map_columns(["a", "b"], mapping={"amount": "Umsatz"})
    with pytest.raises(KpiInputError, match="unknown column role 'betrag'"):
        map_columns(["a"], mapping={"betrag": "a"})


def test_a_column_is_used_for_one_role_only():
    m = map_columns(["Betrag"], mapping={"customer_id": "Betrag"})
    assert m.columns == {"customer_id": "Betrag"}
