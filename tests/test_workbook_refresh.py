"""Refreshing the template: the report, what survives, what is refused, and the Excel (xlwings) path."""

from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.utils import get_column_letter, range_boundaries

import kpi_xl.workbook.refresh as refresh_module
from kpi_xl.metrics import nps
from kpi_xl.workbook import WorkbookError, build_template, refresh_book, refresh_workbook
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import (
    CARD_WIDTH,
    CARDS,
    CHART_SEG_ROW,
    CHART_SEGMENTS,
    FIRST_CARDS,
    SEGMENT_BLOCKS,
    SIDE_COL,
    SIDE_GAP_WIDTH,
    SLOTS,
    START,
    block_row,
    card_cell,
)
from kpi_xl.workbook.package import fonts_in_schema_order, rewrite_part

LAB = labels("en")
SHEET = LAB["sheet"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "kpi_report.xlsm")


@pytest.fixture
def book(template, tmp_path) -> Path:
    out = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, out)
    return out


def _zip_part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def _values(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_refresh_reports_invalid_rows_on_the_start_sheet_and_in_the_report(book):
    report = refresh_workbook(book)
    assert report.rows_read == {
        "Responses": 1500,
        "Customers": 1200,
        "Orders": 4403,
        "Tickets": 900,
        "Engagement": 315,
    }
    got = {(i.source, i.column, i.value) for i in report.invalid}
    assert got == {
        ("Responses", "NPS score", 11),
        ("Responses", "CSAT score", "n/a"),
        ("Orders", "Amount", "12,50"),
    }
    wb = load_workbook(book)
    start = wb[SHEET["start"]]
    first = START.invalid_row + 2
    listed = [[start.cell(row=r, column=c).value for c in range(1, 6)] for r in range(first, first + 4)]
    for inv in report.invalid:
        assert [inv.source, inv.row, inv.column, inv.value, inv.reason] in listed
    # The row numbers point at the bad cells.
    for inv in report.invalid:
        ws = wb[inv.source]
        header = [c.value for c in ws[1]]
        assert ws.cell(row=inv.row, column=header.index(inv.column) + 1).value == inv.value
    assert listed[3] == [None] * 5
    assert isinstance(start.cell(row=START.status_row + 1, column=2).value, dt.datetime)
    assert [start.cell(row=START.tables_row, column=c).value for c in (1, 2, 3)] == ["Responses", 1500, 2]
    text = report.summary()
    assert "Responses!NPS score row" in text and "3 invalid value(s)" in text
    assert report.as_dict()["invalid"][0]["why"]
    assert set(report.timings) == {"load", "read", "compute", "write", "save"}


def test_preservation_user_sheet_data_vba_and_button_survive_two_refreshes(book):
    vba_before = _zip_part(book, "xl/vbaProject.bin")
    vml_before = _zip_part(book, "xl/drawings/vmlDrawing1.vml")
    wb = load_workbook(book, keep_vba=True)
    notes = wb.create_sheet("My notes")
    notes["A1"], notes["B2"], notes["C3"] = "Quarterly review", 42, f"=COUNTA('{SHEET['orders']}'!A:A)"
    resp = wb[SHEET["responses"]]
    header = [c.value for c in resp[1]]
    seg_col, nps_col, date_col = (header.index(h) + 1 for h in ("Segment", "NPS score", "Date"))
    # Edit: every SMB answer in the reporting period becomes a 10.
    edited = []
    for r in range(2, resp.max_row + 1):
        d = resp.cell(row=r, column=date_col).value
        if (
            resp.cell(row=r, column=seg_col).value == "SMB"
            and d is not None
            and d >= dt.datetime(2025, 10, 1)
        ):
            resp.cell(row=r, column=nps_col).value = 10
            edited.append(r)
    # Append three answers right below the Table (Excel would not always pull them in).
    last = resp.max_row
    new_rows = [[dt.datetime(2025, 12, 30), "C09999", "Partner", 9, 5, 7, "new partner"]] * 3
    for i, row in enumerate(new_rows, start=1):
        for j, v in enumerate(row, start=1):
            resp.cell(row=last + i, column=j).value = v
    wb.save(book)
    user_before = _values(load_workbook(book)["My notes"])
    data_before = _values(load_workbook(book)[SHEET["responses"]])

    first = refresh_workbook(book)
    after_first = book.read_bytes()
    second = refresh_workbook(book)
    assert (book.parent / "kpi_report (backup).xlsm").read_bytes() == after_first

    wb = load_workbook(book, keep_vba=True)
    assert wb.sheetnames[-1] == "My notes" and _values(wb["My notes"]) == user_before
    assert _values(wb[SHEET["responses"]]) == data_before
    assert _zip_part(book, "xl/vbaProject.bin") == vba_before
    assert _zip_part(book, "xl/drawings/vmlDrawing1.vml") == vml_before
    assert b"legacyDrawing" in _zip_part(book, "xl/worksheets/sheet1.xml")
    assert wb.code_name == "ThisWorkbook"
    assert len(wb[SHEET["dashboard"]]._charts) == 5
    assert wb[SHEET["responses"]].data_validations.dataValidation
    # The Table now includes the appended rows, and refresh says so.
    table = wb[SHEET["responses"]].tables["tblResponses"]
    assert range_boundaries(table.ref)[3] == last + 3
    assert any("tblResponses extended" in n for n in first.notes)
    assert first.rows_read["Responses"] == second.rows_read["Responses"] == 1503

    # Owned sheets reflect the new data: the new segment appears, SMB's interval is recomputed.
    seg = wb[SHEET["segments"]]
    top = block_row(0) + 2
    groups = [seg.cell(row=r, column=1).value for r in range(top, top + SLOTS)]
    assert "Partner" in groups
    smb_row = top + groups.index("SMB")
    frame = pd.DataFrame(
        [[c.value for c in row] for row in wb[SHEET["responses"]].iter_rows(min_row=2)], columns=header
    )
    period = (frame["Date"] >= dt.datetime(2025, 10, 1)) & (frame["Date"] < dt.datetime(2026, 1, 1))
    smb = frame.loc[period & (frame["Segment"] == "SMB"), "NPS score"]
    want = nps(smb, on_invalid="drop")
    assert want.value == 100.0 and len(edited) == want.n_used
    cols = SEGMENT_BLOCKS[0].columns
    assert seg.cell(row=smb_row, column=cols.index("nps_moe") + 1).value == pytest.approx(
        want.margin_of_error
    )
    assert seg.cell(row=smb_row, column=cols.index("nps_high") + 1).value == pytest.approx(want.ci_high)
    # The owned sheets are the same after the second refresh as after the first.
    again = load_workbook(io_bytes(after_first))
    for key in ("segments", "trends", "cohorts", "clv", "chartdata", "benchmarks"):
        assert _values(again[SHEET[key]]) == _values(wb[SHEET[key]]), key


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


def test_segment_chart_rows_are_hidden_when_there_are_fewer_segments(book):
    refresh_workbook(book)
    wb = load_workbook(book)
    ws = wb[SHEET["chartdata"]]
    shown = [
        ws.cell(row=r, column=1).value for r in range(CHART_SEG_ROW + 1, CHART_SEG_ROW + CHART_SEGMENTS + 1)
    ]
    n = sum(v is not None for v in shown)
    assert n == 4  # the demo has four segments
    hidden = [
        bool(ws.row_dimensions[r].hidden)
        for r in range(CHART_SEG_ROW + 1, CHART_SEG_ROW + CHART_SEGMENTS + 1)
    ]
    assert hidden == [False] * n + [True] * (CHART_SEGMENTS - n)


@pytest.mark.parametrize("lock", ["~$kpi_report.xlsm", ".~lock.kpi_report.xlsm#"])
def test_refuses_a_book_that_is_open(book, lock):
    before = book.read_bytes()
    (book.parent / lock).write_text("someone")
    with pytest.raises(WorkbookError, match=f"open in Excel or LibreOffice.*{re.escape(lock)}"):
        refresh_workbook(book)
    assert book.read_bytes() == before
    assert not (book.parent / "kpi_report (backup).xlsm").exists()


def test_refuses_a_workbook_that_is_not_a_kpi_xl_workbook(tmp_path):
    other = tmp_path / "budget.xlsx"
    wb = Workbook()
    wb.active["A1"] = "budget"
    wb.save(other)
    with pytest.raises(WorkbookError, match="budget.xlsx is not a kpi-xl workbook"):
        refresh_workbook(other)
    with pytest.raises(WorkbookError, match="does not exist"):
        refresh_workbook(tmp_path / "missing.xlsm")
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(WorkbookError, match=r"\.xlsx and \.xlsm"):
        refresh_workbook(tmp_path / "notes.csv")


def test_columns_are_found_by_header_in_any_language(book):
    wb = load_workbook(book, keep_vba=True)
    ws = wb[SHEET["orders"]]
    # A German header is understood; a header nobody knows is reported with the expected name.
    ws["D1"] = "Betrag"
    ws.tables["tblOrders"].tableColumns[3].name = "Betrag"
    wb.save(book)
    report = refresh_workbook(book)
    assert any(i.column == "Betrag" and i.value == "12,50" for i in report.invalid)
    wb = load_workbook(book, keep_vba=True)
    ws = wb[SHEET["orders"]]
    ws["D1"] = "Sum"
    ws.tables["tblOrders"].tableColumns[3].name = "Sum"
    wb.save(book)
    before = book.read_bytes()
    with pytest.raises(WorkbookError, match="the Table has no column 'Amount'"):
        refresh_workbook(book)
    assert book.read_bytes() == before


def test_invalid_setting_stops_the_refresh_and_names_the_cell(book):
    wb = load_workbook(book, keep_vba=True)
    wb[SHEET["settings"]]["B7"] = 11  # promoters from 11 on a 0-10 scale
    wb.save(book)
    with pytest.raises(
        WorkbookError, match=r"Settings!B7 \(NPS: promoters score at least\) is 11; it must be"
    ):
        refresh_workbook(book)


def test_a_failed_save_leaves_the_file_untouched(book, monkeypatch):
    before = book.read_bytes()

    def boom(package, destination, replace):
        Path(destination).write_bytes(b"half a file")
        raise OSError("disk full")

    # Refresh writes the new package with write_copy (openpyxl's save is not on this path).
    monkeypatch.setattr(refresh_module, "write_copy", boom)
    with pytest.raises(OSError, match="disk full"):
        refresh_workbook(book)
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == ["kpi_report.xlsm"]


# --- the Excel path: refresh_book on a stand-in for an open xlwings Book ------------------------


class _Range:
    """The part of xlwings.Range that refresh_book uses, over an openpyxl sheet."""

    def __init__(self, sheet, r0, c0, r1=None, c1=None, ndim=None):
        self.sheet, self._ws = sheet, sheet.ws
        self.r0, self.c0, self.r1, self.c1 = r0, c0, r1 or r0, c1 or c0
        self.ndim = ndim

    row = property(lambda self: self.r0)
    address = property(lambda self: f"${_letter(self.c0)}${self.r0}")
    last_cell = property(lambda self: _Range(self.sheet, self.r1, self.c1))

    def options(self, ndim=None):
        return _Range(self.sheet, self.r0, self.c0, self.r1, self.c1, ndim)

    @property
    def value(self):
        grid = [
            [self._ws.cell(row=r, column=c).value for c in range(self.c0, self.c1 + 1)]
            for r in range(self.r0, self.r1 + 1)
        ]
        if self.ndim == 2:
            return grid
        if len(grid) == 1 and len(grid[0]) == 1:
            return grid[0][0]
        return grid[0] if len(grid) == 1 else grid

    @value.setter
    def value(self, rows):
        if not isinstance(rows, list):  # one value into one cell
            rows = [[rows]]
        for i, line in enumerate(rows):
            for j, v in enumerate(line):
                cell = self._ws.cell(row=self.r0 + i, column=self.c0 + j)
                # The covered cells of a merged range hold nothing (Excel clears them silently).
                if not (isinstance(cell, MergedCell) and v is None):
                    cell.value = v

    def clear_contents(self):
        self.value = [[None] * (self.c1 - self.c0 + 1)] * (self.r1 - self.r0 + 1)

    def copy(self, destination):
        """Formats and merged cells (and values) to ``destination``'s top-left, as Range.copy does."""
        dr, dc = destination.r0 - self.r0, destination.c0 - self.c0
        for r in range(self.r0, self.r1 + 1):
            for c in range(self.c0, self.c1 + 1):
                src, dst = self._ws.cell(row=r, column=c), self._ws.cell(row=r + dr, column=c + dc)
                dst._style = copy.copy(src._style)
                dst.value = src.value
        for rng in list(self._ws.merged_cells.ranges):
            if (
                self.r0 <= rng.min_row
                and rng.max_row <= self.r1
                and self.c0 <= rng.min_col
                and rng.max_col <= self.c1
            ):
                self._ws.merge_cells(
                    start_row=rng.min_row + dr, start_column=rng.min_col + dc,
                    end_row=rng.max_row + dr, end_column=rng.max_col + dc,
                )  # fmt: skip

    @property
    def formula(self):
        return self.value

    @formula.setter
    def formula(self, text):
        self._ws.cell(row=self.r0, column=self.c0).value = text

    @property
    def number_format(self):
        return self._ws.cell(row=self.r0, column=self.c0).number_format

    @number_format.setter
    def number_format(self, code):
        self._ws.cell(row=self.r0, column=self.c0).number_format = code

    @property
    def column_width(self):
        return self._ws.column_dimensions[_letter(self.c0)].width

    @column_width.setter
    def column_width(self, width):
        self._ws.column_dimensions[_letter(self.c0)].width = width

    @property
    def row_height(self):
        return None

    @row_height.setter
    def row_height(self, h):
        for r in range(self.r0, self.r1 + 1):
            self._ws.row_dimensions[r].hidden = h == 0


def _letter(c):
    from openpyxl.utils import get_column_letter

    return get_column_letter(c)


class _Table:
    def __init__(self, sheet, ref):
        c0, r0, c1, r1 = range_boundaries(ref)
        self.header_row_range = _Range(sheet, r0, c0, r0, c1)
        self.data_body_range = _Range(sheet, r0 + 1, c0, r1, c1) if r1 > r0 else None


class _Sheet:
    def __init__(self, ws):
        self.ws, self.name = ws, ws.title
        self.tables = {t.displayName: _Table(self, t.ref) for t in ws.tables.values()}

    def range(self, a, b=None):
        if isinstance(a, str):
            r0, r1 = (int(x) for x in a.split(":"))
            return _Range(self, r0, 1, r1, self.ws.max_column)
        return _Range(self, a[0], a[1], *(b if b else (None, None)))

    @property
    def page_setup(self):
        return _PageSetup(self.ws)

    @property
    def used_range(self):
        return _Range(self, 1, 1, self.ws.max_row, self.ws.max_column)


class _PageSetup:
    """xlwings' Sheet.page_setup: the print area as Excel gives it ("$A$1:$J$49", no sheet name)."""

    def __init__(self, ws):
        self._ws = ws

    @property
    def print_area(self):
        area = self._ws.print_area
        return area.split("!")[-1] if area else None

    @print_area.setter
    def print_area(self, area):
        self._ws.print_area = area.replace("$", "")


class _Name:
    def __init__(self, book, dn):
        self.refers_to = "=" + dn.attr_text
        dests = list(dn.destinations)
        if dests:
            sheet, cell = dests[0]
            c0, r0, _, _ = range_boundaries(cell.replace("$", ""))
            self.refers_to_range = _Range(book.sheets[sheet], r0, c0)


class _Book:
    def __init__(self, path):
        self.wb = load_workbook(path, keep_vba=True)
        self.name = Path(path).name
        self.sheets = {ws.title: _Sheet(ws) for ws in self.wb.worksheets}
        self.names = {name: _Name(self, dn) for name, dn in self.wb.defined_names.items()}


def test_excel_path_writes_the_same_values_as_the_file_path(book, tmp_path):
    other = tmp_path / "copy" / "kpi_report.xlsm"
    other.parent.mkdir()
    shutil.copy(book, other)
    open_book = _Book(book)
    report = refresh_book(open_book)
    open_book.wb.save(tmp_path / "via_excel.xlsm")
    file_report = refresh_workbook(other)
    assert report.rows_read == file_report.rows_read
    assert [(i.source, i.row, i.column, i.value) for i in report.invalid] == [
        (i.source, i.row, i.column, i.value) for i in file_report.invalid
    ]
    a, b = load_workbook(tmp_path / "via_excel.xlsm"), load_workbook(other)
    for key in ("start", "segments", "trends", "cohorts", "clv", "chartdata", "dashboard", "benchmarks"):
        va, vb = _values(a[SHEET[key]]), _values(b[SHEET[key]])
        if key == "start":  # the refresh time differs
            va[START.status_row][1] = vb[START.status_row][1] = None
        for ra, rb in zip(va, vb, strict=True):
            for x, y in zip(ra, rb, strict=True):
                if isinstance(x, float) and isinstance(y, float):
                    assert x == pytest.approx(y, rel=1e-12)
                else:
                    assert x == y, (key, x, y)


def test_excel_path_refuses_a_book_without_the_marker(tmp_path):
    wb = Workbook()
    path = tmp_path / "other.xlsx"
    wb.save(path)
    with pytest.raises(WorkbookError, match="other.xlsx is not a kpi-xl workbook"):
        refresh_book(_Book(path))


def test_numbers_read_back_match_the_engine_on_the_segment_sheet(book):
    """The Python-written cells of the Segments sheet are the engine's values for each group."""
    refresh_workbook(book)
    wb = load_workbook(book)
    frame = pd.DataFrame([[c.value for c in row] for row in wb[SHEET["responses"]].iter_rows(min_row=2)])
    frame.columns = [c.value for c in wb[SHEET["responses"]][1]]
    period = (frame["Date"] >= dt.datetime(2025, 10, 1)) & (frame["Date"] < dt.datetime(2026, 1, 1))
    seg = wb[SHEET["segments"]]
    top = block_row(0) + 2
    cols = SEGMENT_BLOCKS[0].columns
    for r in range(top, top + 4):
        group = seg.cell(row=r, column=1).value
        scores = frame.loc[period & (frame["Segment"] == group), "NPS score"].to_numpy(dtype=object)
        want = nps(np.array([s for s in scores if s != 11], dtype=object), on_invalid="drop")
        assert seg.cell(row=r, column=cols.index("nps_low") + 1).value == pytest.approx(want.ci_low)


# --- a dashboard built before the closed-loop cards ---------------------------------------------


def _without_closed_loop_cards(template: Path, out: Path) -> Path:
    """The template as the first version built it: no revenue-at-risk or call-back card (no merged
    cells, formats or titles there), no widths for the right-hand columns, print area A1:J49."""
    from openpyxl.styles.cell_style import StyleArray

    wb = load_workbook(template, keep_vba=True)
    ws = wb[SHEET["dashboard"]]
    for i in range(FIRST_CARDS, len(CARDS)):
        row, col = card_cell(i)
        for r in (row, row + 1):
            ws.unmerge_cells(start_row=r, start_column=col, end_row=r, end_column=col + 1)
        for r in range(row, row + 4):
            for c in (col, col + 1):
                ws.cell(row=r, column=c).value = None
                ws.cell(row=r, column=c)._style = StyleArray()
    for j in range(SIDE_COL - 1, SIDE_COL + 6):
        del ws.column_dimensions[get_column_letter(j)]
    ws.print_area = "A1:J49"
    wb.save(out)
    # As the template's writer does: the font children in the schema's order (openpyxl's is not).
    rewrite_part(out, "xl/styles.xml", fonts_in_schema_order)
    return out


def _looks_like_the_first_card(ws) -> None:
    r0, c0 = card_cell(0)
    merged = {str(m) for m in ws.merged_cells.ranges}
    for i in range(FIRST_CARDS, len(CARDS)):
        row, col = card_cell(i)
        assert ws.cell(row=row, column=col).value == LAB["kpi"][CARDS[i][0]]
        assert ws.cell(row=row + 2, column=col).value == LAB["text"]["vs_previous"]
        for r in (row, row + 1):
            assert f"{get_column_letter(col)}{r}:{get_column_letter(col + 1)}{r}" in merged
        for dr in range(4):
            for dc in range(2):
                new, first = ws.cell(row=row + dr, column=col + dc), ws.cell(row=r0 + dr, column=c0 + dc)
                # Font, fill, border, alignment (the number format is the card's own).
                same = ("fontId", "fillId", "borderId", "alignmentId")
                assert [getattr(new._style, k) for k in same] == [getattr(first._style, k) for k in same], (
                    i,
                    dr,
                    dc,
                )
        value = ws.cell(row=row + 1, column=col)
        assert str(value.value).startswith("=IF(") and "Chart data" in value.value
        assert value.number_format == {"currency": "#,##0.00", "count": "#,##0"}[CARDS[i][1]]
    assert ws.column_dimensions[get_column_letter(SIDE_COL)].width == CARD_WIDTH
    assert ws.column_dimensions[get_column_letter(SIDE_COL - 1)].width == SIDE_GAP_WIDTH


def test_an_old_dashboard_gets_the_closed_loop_cards_formatted_like_the_others(template, tmp_path):
    old = _without_closed_loop_cards(template, tmp_path / "old.xlsm")
    report = refresh_workbook(old, predict=False)
    assert any("gained the revenue-at-risk and call-back cards" in n for n in report.notes)
    wb = load_workbook(old)
    ws = wb[SHEET["dashboard"]]
    _looks_like_the_first_card(ws)
    assert ws.print_area == f"'{SHEET['dashboard']}'!$A$1:$Q$49"
    # Once added, a second refresh leaves them alone (and says nothing).
    again = refresh_workbook(old, predict=False)
    assert not any("gained" in n for n in again.notes)
    _looks_like_the_first_card(load_workbook(old)[SHEET["dashboard"]])


def test_an_old_dashboard_refreshed_in_excel_gets_the_same_cards(template, tmp_path):
    old = _without_closed_loop_cards(template, tmp_path / "old.xlsm")
    open_book = _Book(old)
    report = refresh_book(open_book, predict=False)
    assert any("gained the revenue-at-risk and call-back cards" in n for n in report.notes)
    open_book.wb.save(tmp_path / "via_excel.xlsm")
    ws = load_workbook(tmp_path / "via_excel.xlsm")[SHEET["dashboard"]]
    _looks_like_the_first_card(ws)
    assert ws.print_area == f"'{SHEET['dashboard']}'!$A$1:$Q$49"
