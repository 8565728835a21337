"""Generated messy exports (German CSV with ;, BOM, comma decimals, cp1252, bad rows) and what the data
layer makes of them. The writers are reused by the CLI and DuckDB tests (same folder, plain import).

Every expected number is worked out by hand in a comment next to the file it belongs to.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kpi_xl.data import ReadOptions, load_dataset

# --------------------------------------------------------------------------------------------
# German orders export: UTF-8 with BOM, ";" delimiter, CRLF line ends, comma decimals,
# dd.mm.yyyy dates (one ISO), a euro sign, an empty line and three bad values.
# --------------------------------------------------------------------------------------------

ORDERS_DE_LINES = [
    "Kunden-ID;Bestelldatum;Betrag;Kanal",  # row 1
    "K-001;03.01.2025;1.234,56;Online",  # row 2
    "K-001;15.02.2025;100,00;Online",  # row 3
    "K-002;31.01.2025;50,5;Filiale",  # row 4
    "K-003;01.02.2025;20;Filiale",  # row 5
    "K-003;01.02.2025;30,00;Online",  # row 6
    "K-004;10.03.2025;abc;Online",  # row 7: amount is not a number
    "K-005;31.02.2025;10,00;Filiale",  # row 8: 31 February is not a date
    "",  # row 9: empty line, ignored
    "K-006;2025-03-12;-5,00;Online",  # row 10: a negative amount (the engine's rule: 0 or more)
    "K-002;12.03.2025;€ 7,50;Filiale",  # row 11
]

# Amounts usable: rows 2,3,4,5,6,8,11 -> 1234.56 + 100 + 50.5 + 20 + 30 + 10 + 7.5 = 1452.56 over 7.
ORDERS_DE_AOV = 1452.56 / 7
# Customer ids (never invalid): 9 orders, 6 customers -> 1.5 orders per customer.
ORDERS_DE_FREQUENCY = 9 / 6
# Repeat purchase counts order rows per id (no date needed, so row 8's bad date does not drop its
# order): K-001, K-002, K-003 twice, K-004, K-005 and K-006 once: 3 of 6 customers bought again,
# over the same 9 orders and 6 customers as the purchase frequency.
ORDERS_DE_REPEAT = 3 / 6
# Historical CLV reads ids and amounts (rows 7 and 10 skipped): K-001 1334.56, K-002 58,
# K-003 50, K-005 10 -> 1452.56 / 4 customers.
ORDERS_DE_HCLV = 1452.56 / 4
# AOV by channel: Online rows 2,3,6 -> 1364.56 / 3; Filiale rows 4,5,8,11 -> 88 / 4 = 22.
ORDERS_DE_AOV_BY_CHANNEL = {"Filiale": 22.0, "Online": 1364.56 / 3, "Total": 1452.56 / 7}
# AOV by month: Jan rows 2,4 -> 1285.06 / 2; Feb rows 3,5,6 -> 150 / 3; Mar row 11 -> 7.5; row 8's
# date is unreadable, so its order is in no month: "(no date)" 10.0. The Total is the AOV of the
# whole file (1452.56 / 7), as `metric aov` gives it: a bad date does not change the amounts' mean.
ORDERS_DE_AOV_BY_MONTH = {
    "2025-01": 1285.06 / 2,
    "2025-02": 50.0,
    "2025-03": 7.5,
    "(no date)": 10.0,
    "Total": 1452.56 / 7,
}


def write_orders_de(folder: Path, name: str = "bestellungen.csv") -> Path:
    path = folder / name
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(ORDERS_DE_LINES).encode("utf-8") + b"\r\n")
    return path


# --------------------------------------------------------------------------------------------
# German survey export: cp1252 (Süd as 0xFC), ";" delimiter, comma decimals, no BOM.
# --------------------------------------------------------------------------------------------

SURVEY_DE_LINES = [
    "Datum;Weiterempfehlung;Zufriedenheit;Region",  # row 1
    "01.03.2025;10;5;Nord",  # row 2
    "02.03.2025;9;4;Süd",  # row 3
    "03.03.2025;8;3;Nord",  # row 4
    "04.03.2025;6;2;Süd",  # row 5
    "05.03.2025;0;1;Nord",  # row 6
    "06.03.2025;10;5;Süd",  # row 7
    "07.03.2025;;4;Süd",  # row 8: no NPS answer
    "08.03.2025;11;5;Nord",  # row 9: NPS 11 is off the 0-10 scale
    "09.03.2025;9,0;4,5;Süd",  # row 10: NPS 9,0 is 9; CSAT 4,5 is not a whole score
    "10.04.2025;n/a;4;Nord",  # row 11: "n/a" means no answer
]

# NPS over rows 2-7 and 10: 10, 9, 8, 6, 0, 10, 9 -> 4 promoters, 2 detractors, n = 7:
# 100 * (4 - 2) / 7 = 28.571...; dropped: 2 blanks (rows 8, 11) + 1 invalid (row 9) = 3.
SURVEY_DE_NPS = 100 * 2 / 7
# CSAT over every row but 10: 5,4,3,2,1,5,4,5,4 -> 6 of 9 are 4 or 5.
SURVEY_DE_CSAT = 6 / 9
# Mean satisfaction of the same nine answers: 33 / 9.
SURVEY_DE_SAT_MEAN = 33 / 9
# NPS by region: Nord rows 2,4,6 -> 10, 8, 0 -> (1 - 1) / 3 = 0; Süd rows 3,5,7,10 -> 9,6,10,9
# -> (3 - 1) / 4 = 50.
SURVEY_DE_NPS_BY_REGION = {"Nord": 0.0, "Süd": 50.0, "Total": 100 * 2 / 7}


def write_survey_de(folder: Path, name: str = "umfrage.csv") -> Path:
    path = folder / name
    path.write_bytes("\r\n".join(SURVEY_DE_LINES).encode("cp1252") + b"\r\n")
    return path


# --------------------------------------------------------------------------------------------
# English ticket export (ISO timestamps) and customer records, for the service and churn metrics.
# --------------------------------------------------------------------------------------------

TICKETS_LINES = [
    "ticket,created,first_reply_at,resolved_at,is_complaint",
    "T1,2025-01-01 09:00,2025-01-01 10:00,2025-01-01 12:00,no",
    "T2,2025-01-01 10:00,2025-01-01 13:00,2025-01-02 10:00,yes",
    "T3,2025-01-02 08:00,,,no",
    "T4,2025-01-02 09:00,2025-01-02 09:30,2025-01-02 11:00,ja",
]
# First reply after 1 h, 3 h and 0.5 h (T3 is open): median 1 h. Resolution 3 h, 24 h, 2 h: median
# 3 h. Complaints: "yes" and "ja" -> 2. Within a 2-hour SLA: 1 h and 0.5 h -> 2 of 3.
TICKETS_FRT_MEDIAN = 1.0
TICKETS_RESOLUTION_MEDIAN = 3.0
TICKETS_COMPLAINTS = 2
TICKETS_SLA_2H = 2 / 3


def write_tickets(folder: Path, name: str = "tickets.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(TICKETS_LINES) + "\n", encoding="utf-8")
    return path


CUSTOMERS_LINES = [
    "customer_id,signup_date,churn_date",
    "A,2024-03-01,",
    "B,2024-06-01,2025-01-10",
    "C,2025-01-05,2025-01-20",
    "D,2025-01-15,",
]
# January 2025: S = {A, B}, lost from S = {B} -> churn 1/2, retention 1/2.
CUSTOMERS_CHURN_JAN = 0.5


def write_customers(folder: Path, name: str = "customers.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(CUSTOMERS_LINES) + "\n", encoding="utf-8")
    return path


def write_orders_xlsx(folder: Path, name: str = "bestellungen.xlsx") -> Path:
    """The German orders as an Excel user would keep them: a title above the table, real date and
    number cells, one amount typed as German text, one bad value."""
    import openpyxl

    path = folder / name
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Bestellungen"
    ws["B1"] = "Export Januar-März 2025"  # a title above the table, then an empty row
    rows = [
        ("Kunden-ID", "Bestelldatum", "Betrag", "Kanal"),  # row 3 (row 2 stays empty)
        ("K-001", dt.date(2025, 1, 3), 1234.56, "Online"),  # row 4
        ("K-001", dt.date(2025, 2, 15), "100,00", "Online"),  # row 5: German text number
        ("K-002", dt.date(2025, 1, 31), 50.5, "Filiale"),  # row 6
        ("K-003", 45689, 20, "Filiale"),  # row 7: Excel serial 45689 = 2025-02-01
        ("K-004", dt.date(2025, 3, 10), "abc", "Online"),  # row 8: bad amount
    ]
    for r, values in enumerate(rows, start=3):
        for c, v in enumerate(values, start=2):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


# --------------------------------------------------------------------------------------------
# What the data layer makes of them (pandas path)
# --------------------------------------------------------------------------------------------


def test_german_orders_columns_values_and_problems(tmp_path):
    ds = load_dataset(write_orders_de(tmp_path))
    assert ds.columns.columns == {"customer_id": "Kunden-ID", "date": "Bestelldatum", "amount": "Betrag"}
    assert all(how == "recognised header" for how in ds.columns.how.values())
    assert "encoding utf-8-sig" in ds.source and "delimiter ';'" in ds.source and "1 empty row" in ds.source
    amounts = ds.data["amount"]
    assert amounts[2] == 1234.56 and amounts[4] == 50.5 and amounts[11] == 7.5
    assert ds.data["date"][2] == pd.Timestamp("2025-01-03") and ds.data["date"][10] == pd.Timestamp(
        "2025-03-12"
    )
    found = {(p.row, p.column, p.value) for p in ds.problems.listed}
    assert found == {(7, "Betrag", "abc"), (10, "Betrag", "-5,00"), (8, "Bestelldatum", "31.02.2025")}
    reasons = {p.row: p.reason for p in ds.problems.listed}
    assert reasons[7] == "is not a number"
    assert reasons[8] == "is not a real calendar date"
    assert "not negative" in reasons[10]  # the engine's own words for its rule
    assert any("decimal comma" in n for n in ds.notes)


def test_rows_for_skips_a_row_only_for_the_metrics_reading_the_bad_column(tmp_path):
    ds = load_dataset(write_orders_de(tmp_path))
    assert list(ds.rows_for(["amount"]).index) == [2, 3, 4, 5, 6, 8, 11]
    assert list(ds.rows_for(["customer_id", "date"]).index) == [2, 3, 4, 5, 6, 7, 10, 11]
    assert ds.skipped(["amount"]) == 2 and ds.skipped(["customer_id"]) == 0
    assert ds.skipped(["amount", "date"]) == 3


def test_cp1252_survey_with_placeholders_and_comma_scores(tmp_path):
    ds = load_dataset(write_survey_de(tmp_path), extra=["Region"])
    assert "encoding cp1252" in ds.source
    assert ds.columns["nps_score"] == "Weiterempfehlung" and ds.columns["csat_score"] == "Zufriedenheit"
    assert ds.data.loc[3, "Region"] == "Süd"
    nps = ds.data["nps_score"]
    assert nps[10] == 9.0 and np.isnan(nps[8]) and np.isnan(nps[11])  # "9,0" is 9; "" and "n/a" are blank
    assert not ds.invalid.loc[11, "nps_score"]  # a placeholder is a blank, not a problem
    problems = {(p.row, p.column): p.reason for p in ds.problems.listed}
    assert problems == {
        (9, "Weiterempfehlung"): "is not a whole-number score from 0 to 10",
        (10, "Zufriedenheit"): "is not a whole-number score from 1 to 5",
    }


def test_survey_scale_option_changes_the_rule(tmp_path):
    from kpi_xl.data import ValueRules

    ds = load_dataset(write_survey_de(tmp_path), options=ReadOptions(rules=ValueRules(csat_scale=(1, 7))))
    # 4,5 is still not a whole number on a 1-7 scale; nothing else changes.
    assert [p.row for p in ds.problems.listed if p.column == "Zufriedenheit"] == [10]


def test_excel_table_below_a_title_row_with_typed_cells(tmp_path):
    ds = load_dataset(write_orders_xlsx(tmp_path))
    assert "sheet 'Bestellungen'" in ds.source
    assert list(ds.data.index) == [4, 5, 6, 7, 8]  # the sheet's own row numbers
    # The title in row 1 is not the header; the output says it was ignored.
    assert "row(s) 1 above the table's header (row 3) ignored" in ds.source
    assert ds.columns["amount"] == "Betrag"
    assert ds.data["amount"][4] == 1234.56 and ds.data["amount"][5] == 100.0
    assert ds.data["date"][7] == pd.Timestamp("2025-02-01")
    assert [(p.row, p.column, p.value) for p in ds.problems.listed] == [(8, "Betrag", "abc")]


def test_explicit_mapping_wins_and_is_reported(tmp_path):
    path = write_orders_de(tmp_path)
    ds = load_dataset(path, options=ReadOptions(mapping={"amount": "betrag", "customer_id": "Kanal"}))
    assert ds.columns["amount"] == "Betrag" and ds.columns.how["amount"] == "given"
    assert ds.columns["customer_id"] == "Kanal"
    assert any("'Kanal' (given)" in line for line in ds.columns.describe())


@pytest.mark.parametrize("limit, listed", [(None, 3), (1, 2)])
def test_problem_listing_limit_counts_everything(tmp_path, limit, listed):
    from kpi_xl.data import Problems

    problems = Problems(limit=limit)
    load_dataset(write_orders_de(tmp_path), problems=problems)
    assert problems.total == 3
    # Betrag has two problems and Bestelldatum one: a limit of one per column lists two.
    assert len(problems.listed) == listed


def test_customer_ids_follow_the_engines_rule(tmp_path):
    import openpyxl

    path = tmp_path / "ids.xlsx"
    wb = openpyxl.Workbook()
    for row in (
        ["Kunden-ID", "Betrag"],
        [1001, 5],
        ["1001", 6],
        [" 1001 ", 7],
        ["0012", 8],
        [12, 9],
        [True, 10],
    ):
        wb.active.append(row)
    wb.save(path)
    ds = load_dataset(path)
    codes = ds.data["customer_id"]
    # 1001 (a number cell), "1001" and " 1001 " are one customer; "0012" keeps its zeros, so it is
    # not 12; TRUE is not an id at all.
    assert codes[2] == codes[3] == codes[4]
    assert codes[5] != codes[6]
    assert list(ds.ids("customer_id", codes[[2, 5, 6]])) == ["1001", "0012", "12"]
    [problem] = ds.problems.listed
    assert (problem.row, problem.column, problem.value) == (7, "Kunden-ID", True)
    assert problem.reason.startswith("is not a customer id")


def test_text_id_shortcut_agrees_with_the_engines_clean_ids():
    from kpi_xl.data._validate import check_ids
    from kpi_xl.metrics._clean import clean_ids

    rng = np.random.default_rng(3)
    pool = ["K1", " K1", "K1 ", "k1", "0012", "12", "12.0", "Müller", "\u00a0M\u00fcller", "A B", "", "  "]
    values = rng.choice(np.array(pool, dtype=object), 500)
    codes, labels, reasons = check_ids(values)
    engine_codes, engine_labels, n_blank, n_invalid = clean_ids(values, on_invalid="drop")
    blank = engine_codes < 0
    assert n_invalid == 0 and (np.isnan(codes) == blank).all() and (reasons == "").all()
    # The same customers (equal codes exactly where the engine's codes are equal) and the same ids.
    same_ours = codes[~blank][:, None] == codes[~blank][None, :]
    same_engine = engine_codes[~blank][:, None] == engine_codes[~blank][None, :]
    assert (same_ours == same_engine).all()
    assert list(labels[codes[~blank].astype(int)]) == list(engine_labels[engine_codes[~blank]])


def test_problem_summary_order_does_not_follow_the_order_values_came_in():
    """A backend returns grouped values in any order (DuckDB's group order moves with its threads):
    the summary lines are sorted by file, column and reason, whichever came first."""
    from kpi_xl.data import Problems

    def summary(counts):
        problems = Problems()
        rows = np.array([], dtype=np.int64)
        none = np.array([], dtype=object)
        problems.add("b.csv", "Betrag", rows, none, none, counts=counts)
        problems.add("a.csv", "Datum", rows, none, none, counts={"is not a real calendar date": 1})
        return problems.summary()

    one = summary({"is not a number": 1, "is negative": 2})
    other = summary({"is negative": 2, "is not a number": 1})
    assert (
        one
        == other
        == [
            "a.csv, column 'Datum': 1 value(s) skipped: is not a real calendar date",
            "b.csv, column 'Betrag': 2 value(s) skipped: is negative",
            "b.csv, column 'Betrag': 1 value(s) skipped: is not a number",
        ]
    )
