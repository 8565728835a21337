"""The zip-package writer behind the headless refresh: what it changes, and everything it must not."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from kpi_xl.workbook import WorkbookError, build_template, refresh_workbook
from kpi_xl.workbook import refresh as refresh_module
from kpi_xl.workbook.package import Package, SheetEditor, StyleBook, write_copy

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _raw_members(path: Path) -> dict[str, bytes]:
    """Each member's stored (compressed) bytes, read straight from the zip."""
    out = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as fh:
        for info in z.infolist():
            fh.seek(info.header_offset)
            name_len, extra_len = struct.unpack("<HH", fh.read(30)[26:30])
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            out[info.filename] = fh.read(info.compress_size)
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("pkg") / "kpi_report.xlsm")


def test_refresh_copies_every_part_it_does_not_own_byte_for_byte(template, tmp_path):
    book = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, book)
    before = _raw_members(book)
    pkg = Package(book)
    owned = {
        pkg.sheets[n]
        for n in (
            "Start", "Dashboard", "Segments", "Trends", "Cohorts", "CLV", "Comments", "Follow-up",
            "Advocates", "Drivers", "Benchmarks",
        )
    }  # fmt: skip
    owned.add(pkg.sheets["Chart data"])
    refresh_workbook(book)
    after = _raw_members(book)
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None  # every CRC checks out
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    # The owned sheets, the number formats and the workbook part (fullCalcOnLoad) may change;
    # the data tabs, VBA project, button, charts, Tables and everything else may not.
    assert changed <= owned | {"xl/styles.xml", "xl/workbook.xml"}
    for name in ("xl/vbaProject.bin", "xl/drawings/vmlDrawing1.vml", "xl/charts/chart1.xml"):
        assert after[name] == before[name]
    assert all(after[pkg.sheets[n]] == before[pkg.sheets[n]] for n in ("Responses", "Orders", "Settings"))


def _one_sheet(tmp_path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Report"
    ws["A1"] = "title"
    ws["A1"].font = Font(bold=True)
    ws["B2"] = 1
    path = tmp_path / "one.xlsx"
    wb.save(path)
    return path


def _edit(path: Path, out: Path, edit) -> Path:
    pkg = Package(path)
    styles = StyleBook(pkg.read(pkg.styles_part))
    part = pkg.sheets["Report"]
    sheet = SheetEditor(pkg.read(part), styles)
    edit(sheet)
    parts = {part: sheet.to_bytes()}
    if styles.changed:
        parts[pkg.styles_part] = styles.to_bytes()
    write_copy(pkg, out, parts)
    return out


def test_values_formats_and_text_are_written_as_openpyxl_reads_them(tmp_path):
    def edit(sheet: SheetEditor) -> None:
        sheet.put(1, 1, 0.25, "0.0%")  # keeps A1's bold font, switches its number format
        sheet.put(2, 2, "a < b & c", None)
        sheet.put(2, 3, True)
        sheet.put(3, 1, dt.date(2025, 1, 31))  # a date in a General cell gets a date format
        sheet.put(3, 2, "B2*2", formula=True)
        sheet.put(4, 1, "bell\x07 and _x0041_")  # a control character and a literal escape
        sheet.put(5, 3, float("nan"))  # no cell form: stays empty

    out = _edit(_one_sheet(tmp_path), tmp_path / "out.xlsx", edit)
    ws = load_workbook(out)["Report"]
    assert ws["A1"].value == 0.25 and ws["A1"].number_format == "0.0%" and ws["A1"].font.bold
    assert ws["B2"].value == "a < b & c" and ws["C2"].value is True
    # 2025-01-31 is Excel serial 45688 (2025-01-01 is 45658, plus 30 days).
    assert ws["A3"].value == dt.datetime(2025, 1, 31) and ws["A3"].is_date
    assert ws["B3"].value == "=B2*2"
    assert ws["C5"].value is None
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>45688</v>" in xml
    # ECMA-376 escapes: BEL as _x0007_, a literal "_x0041_" protected as _x005F_x0041_.
    assert "bell_x0007_ and _x005F_x0041_" in xml
    assert re.search(r'<dimension ref="A1:C4"\s*/>', xml)


def test_rows_are_hidden_and_old_values_cleared_keeping_formats(tmp_path):
    def first(sheet: SheetEditor) -> None:
        for r in range(1, 6):
            sheet.put(r, 1, f"row {r}", None)
            sheet.put(r, 2, r * 1.5, "0.00")

    def second(sheet: SheetEditor) -> None:
        sheet.clear(3, 2)
        sheet.put_rows(3, 1, [["new", 9.0]], [None, None])
        sheet.hide_rows(4, 6, True)

    a = _edit(_one_sheet(tmp_path), tmp_path / "a.xlsx", first)
    b = _edit(a, tmp_path / "b.xlsx", second)
    ws = load_workbook(b)["Report"]
    assert [ws.cell(row=r, column=1).value for r in range(1, 6)] == ["row 1", "row 2", "new", None, None]
    assert [ws.cell(row=r, column=2).value for r in range(1, 6)] == [1.5, 3.0, 9.0, None, None]
    assert ws["B3"].number_format == "0.00" and ws["B5"].number_format == "0.00"
    assert [bool(ws.row_dimensions[r].hidden) for r in range(3, 7)] == [False, True, True, True]


def test_shared_formulas_become_one_formula_per_cell(tmp_path):
    path = _one_sheet(tmp_path)
    xml = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>2</v></c></row>'
        '<row r="2"><c r="A2"><f t="shared" si="0"/><v>4</v></c></row>'
        '<row r="3"><c r="A3"><f t="shared" si="0"/><v>6</v></c></row>'
        "</sheetData></worksheet>"
    ).encode()
    styles = StyleBook(Package(path).read("xl/styles.xml"))
    sheet = SheetEditor(xml, styles)
    sheet.put(1, 1, "C1+1", formula=True)  # the shared formula's master is overwritten
    out = sheet.to_bytes().decode()
    assert "<f>C1+1</f>" in out and "<f>B2*2</f><v>4</v>" in out and "<f>B3*2</f><v>6</v>" in out
    assert "shared" not in out


def test_calculation_chain_dropped_and_recalculation_on_opening(tmp_path):
    path = _one_sheet(tmp_path)
    # As Excel saves a book: a calcChain part, and calcPr without fullCalcOnLoad.
    src = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(
                    b'<calcPr calcId="124519" fullCalcOnLoad="1" />', b'<calcPr calcId="191029"/>'
                )
                assert b'calcId="191029"' in data
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/calcChain" Target="calcChain.xml"/></Relationships>',
                )
            elif info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
                    b'officedocument.spreadsheetml.calcChain+xml"/></Types>',
                )
            zout.writestr(info, data)
        zout.writestr("xl/calcChain.xml", f'<calcChain xmlns="{MAIN}"><c r="B2" i="1"/></calcChain>')
    out = tmp_path / "out.xlsx"
    write_copy(Package(src), out, {})
    with zipfile.ZipFile(out) as z:
        assert "xl/calcChain.xml" not in z.namelist()
        assert b"calcChain" not in z.read("xl/_rels/workbook.xml.rels")
        assert b"calcChain" not in z.read("[Content_Types].xml")
        assert b'<calcPr calcId="191029" fullCalcOnLoad="1"/>' in z.read("xl/workbook.xml")
    assert load_workbook(out)["Report"]["B2"].value == 1


def test_formulas_on_the_users_own_sheets_are_recalculated_on_opening(template, tmp_path):
    book = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, book)
    wb = load_workbook(book, keep_vba=True)
    wb.create_sheet("My notes")["A1"] = "=Segments!A6"
    wb.save(book)
    # As a spreadsheet application saves it: the formula with its (soon stale) result.
    parts = {}
    pkg = Package(book)
    part = pkg.sheets["My notes"]
    parts[part] = pkg.read(part).replace(b"<f>Segments!A6</f><v />", b"<f>Segments!A6</f><v>old</v>")
    assert b"<v>old</v>" in parts[part]
    write_copy(pkg, tmp_path / "saved.xlsm", parts)
    shutil.move(tmp_path / "saved.xlsm", book)
    refresh_workbook(book)
    with zipfile.ZipFile(book) as z:
        xml = z.read(part).decode()
    assert "<f>Segments!A6</f>" in xml and "old" not in xml


def test_a_failed_write_leaves_the_book_and_folder_untouched(template, tmp_path, monkeypatch):
    book = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, book)
    before = book.read_bytes()

    def boom(package, destination, replace):
        Path(destination).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(refresh_module, "write_copy", boom)
    with pytest.raises(OSError, match="disk full"):
        refresh_workbook(book)
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpi_report.xlsm"]


def test_a_file_that_is_not_a_zip_package_is_refused(tmp_path):
    fake = tmp_path / "report.xlsm"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WorkbookError):
        refresh_workbook(fake)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_book_saved_by_libreoffice_refreshes_and_reopens(template, tmp_path):
    import subprocess

    profile = tmp_path / "profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsm:Calc MS Excel 2007 VBA XML",
            "--outdir",
            str(tmp_path / "lo"),
            str(template),
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    book = tmp_path / "lo" / "kpi_report.xlsm"
    report = refresh_workbook(book)
    assert report.rows_read["Responses"] == 1500
    wb = load_workbook(book, keep_vba=True)
    assert wb["Segments"]["A6"].value is not None
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None and "xl/vbaProject.bin" in z.namelist()
