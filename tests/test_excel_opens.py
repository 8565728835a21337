"""Will Excel open it? The built and the refreshed book of every language, checked two ways.

1. Microsoft's Open XML SDK validator (npm ``@ooxml-tools/validate``: the SDK compiled to WebAssembly,
   offline). ``.ci/run`` installs it into ``.ci/node``; elsewhere the test looks there or at
   ``KPI_XL_OOXML_VALIDATE`` (the package's ``dist/npm/index.js``) and is skipped, saying why, when
   Node.js 20+ or the package is missing. No finding is allowed: the one openpyxl used to cause (the
   order of ``<font>`` children) is fixed in the writer.
2. :func:`kpi_xl.workbook.lint.lint_workbook`, for the repair triggers the validator cannot see. Each
   check is shown to fire on a book with that defect, so a clean result means something.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kpi_xl.workbook import build_template, refresh_workbook
from kpi_xl.workbook.labels import LANGUAGES, labels
from kpi_xl.workbook.lint import lint_workbook, x14_extensions
from kpi_xl.workbook.package import fonts_in_schema_order

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "tools" / "ooxml_validate.mjs"
DEFAULT_ENTRY = (
    ROOT / ".ci" / "node" / "node_modules" / "@ooxml-tools" / "validate" / "dist" / "npm" / "index.js"
)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    """``{"en built": path, "en refreshed": path, ...}`` for every template language."""
    out = {}
    for lang in LANGUAGES:
        folder = tmp_path_factory.mktemp(lang.replace("-", ""))
        built = build_template(folder / "kpi_report.xlsm", lang=lang)
        refreshed = folder / "refreshed.xlsm"
        shutil.copy(built, refreshed)
        refresh_workbook(refreshed, predict=False)
        out[f"{lang} built"], out[f"{lang} refreshed"] = built, refreshed
    # A dashboard built before the closed-loop cards, which refresh adds (merged cells, column widths).
    from test_workbook_refresh import _without_closed_loop_cards

    old = _without_closed_loop_cards(out["en built"], out["en built"].with_name("old.xlsm"))
    refresh_workbook(old, predict=False)
    out["en old, refreshed"] = old
    return out


def _validator() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (CI installs it with the validator: .ci/run)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    major = re.match(r"v(\d+)", version)
    if not major or int(major.group(1)) < 20:
        pytest.skip(f"the validator needs Node.js 20 or newer, this is {version.strip() or 'unknown'}")
    entry = Path(os.environ.get("KPI_XL_OOXML_VALIDATE", DEFAULT_ENTRY))
    if not entry.exists():
        pytest.skip(
            f"@ooxml-tools/validate is not installed at {entry} (.ci/run installs it: "
            "npm install --prefix .ci/node @ooxml-tools/validate)"
        )
    return node, entry


def test_the_sdk_validator_finds_nothing_in_any_built_or_refreshed_book(books):
    node, entry = _validator()
    done = subprocess.run(
        [node, str(SCRIPT), str(entry), *map(str, books.values())],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    by_book = {key: found[str(path)] for key, path in books.items()}
    assert by_book == {key: [] for key in books}


def test_the_lint_finds_nothing_in_any_built_or_refreshed_book(books):
    assert {key: lint_workbook(path) for key, path in books.items()} == {key: [] for key in books}


def test_fonts_are_written_in_schema_order(books):
    styles = zipfile.ZipFile(books["en built"]).read("xl/styles.xml")
    assert fonts_in_schema_order(styles) == styles
    # The writer really reorders (openpyxl puts <name> first).
    assert b"<font><name" not in styles and b"<font><b" in styles


# --- the lint fires on each defect ----------------------------------------------------------------


def _edit(src: Path, dst: Path, part: str, change) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, change(data) if info.filename == part else data)
    return dst


def _sheet_part(book: Path, name: str) -> str:
    from kpi_xl.workbook.package import Package

    return Package(book).sheets[name]


def test_lint_finds_a_table_header_that_is_not_its_column_name(books, tmp_path):
    src = books["en built"]
    bad = tmp_path / "b.xlsm"
    shutil.copy(src, bad)
    wb = load_workbook(bad, keep_vba=True)
    ws = wb[labels("en")["sheet"]["responses"]]
    ws["A1"] = 42  # the header "Date" becomes a number; the Table still calls the column "Date"
    ws["B1"] = "Segment"  # and a second "Segment" header
    wb.save(bad)
    found = "\n".join(lint_workbook(bad))
    assert "header cell A1 holds no text" in found
    assert "header cell B1 says 'Segment' but the column is named 'Customer'" in found


def test_lint_finds_long_validation_texts_bad_names_and_missing_prefixes(books, tmp_path):
    src = books["en built"]
    part = _sheet_part(src, labels("en")["sheet"]["responses"])
    long_list = '"' + ",".join(f"choice{i}" for i in range(40)) + '"'

    def validation(xml: bytes) -> bytes:
        rule = (
            f'<dataValidations count="1"><dataValidation type="list" sqref="Z1:Z9" prompt="{"p" * 300}">'
            f"<formula1>{long_list}</formula1></dataValidation></dataValidations>"
        ).encode()
        xml = re.sub(rb"<dataValidations\b.*?</dataValidations>", b"", xml, flags=re.S)
        return re.sub(
            rb"(</sheetData>(?:<sheetCalcPr[^>]*/>)?(?:<sheetProtection[^>]*/>)?)",
            rb"\1" + rule,
            xml,
            count=1,
        )

    step = _edit(src, tmp_path / "v.xlsm", part, validation)

    def names(xml: bytes) -> bytes:
        return xml.replace(
            b"</definedNames>", b'<definedName name="A1">Start!$A$1</definedName></definedNames>'
        )

    step = _edit(step, tmp_path / "n.xlsm", "xl/workbook.xml", names)

    def formula(xml: bytes) -> bytes:
        return xml.replace(
            b"</sheetData>", b'<row r="9000"><c r="A9000"><f>IFS(1=1,2)</f></c></row></sheetData>', 1
        )

    step = _edit(step, tmp_path / "f.xlsm", part, formula)
    found = "\n".join(lint_workbook(step))
    assert "the validation's prompt has 300 characters" in found
    assert f"the validation list typed into the rule has {len(long_list) - 2} characters" in found
    assert "defined name 'A1': not a valid Excel name" in found
    assert "IFS needs the prefix _xlfn." in found


def test_lint_finds_a_countifs_criterion_longer_than_excel_takes(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["A1"] = "x" * 300
    ws["B1"] = '=COUNTIFS(C:C,"="&$A1)'
    ws["A2"] = "short"
    ws["B2"] = '=COUNTIFS(C:C,"="&$A2)'
    wb.save(tmp_path / "c.xlsx")
    assert lint_workbook(tmp_path / "c.xlsx") == [
        "Sheet!B1: the criterion from A1 has 301 characters; COUNTIFS, SUMIFS and AVERAGEIFS answer #VALUE! "
        "above 255"
    ]


def test_x14_extensions_of_the_users_sheets_survive_a_refresh(books, tmp_path):
    """A cross-sheet validation (written by Excel in the x14 extension list) on a data tab and on the
    start tab is kept by the refresh."""
    src = books["en built"]
    ext = (
        b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
        b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b'<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
        b'<x14:dataValidation type="list"><x14:formula1><xm:f>Settings!$A$1:$A$3</xm:f></x14:formula1>'
        b"<xm:sqref>Z2</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
    )

    def add(xml: bytes) -> bytes:
        return xml.replace(b"</worksheet>", ext + b"</worksheet>") if b"<extLst>" not in xml else xml

    book = src
    for key in ("responses", "start"):
        part = _sheet_part(book, labels("en")["sheet"][key])
        book = _edit(book, tmp_path / f"{key}.xlsm", part, add)
    before = x14_extensions(book)
    assert len(before) == 2
    refresh_workbook(book, predict=False)
    assert x14_extensions(book) == before


def test_a_segment_name_longer_than_a_countifs_criterion_leaves_no_repair_trigger(books, tmp_path):
    """Excel's COUNTIFS refuses criteria over 255 characters; a 300-character segment must still be
    counted by the live formulas (the template compares labels without COUNTIFS criteria)."""
    book = tmp_path / "long.xlsm"
    shutil.copy(books["en built"], book)
    wb = load_workbook(book, keep_vba=True)
    ws = wb[labels("en")["sheet"]["responses"]]
    header = [c.value for c in ws[1]]
    col = header.index("Segment") + 1
    for r in range(2, ws.max_row + 1):
        if ws.cell(row=r, column=col).value == "SMB":
            ws.cell(row=r, column=col).value = "L" * 300
    wb.save(book)
    refresh_workbook(book, predict=False)
    segments = load_workbook(book)[labels("en")["sheet"]["segments"]]
    assert "L" * 300 in [c.value for c in segments["A"]]
    assert lint_workbook(book) == []
