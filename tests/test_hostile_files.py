"""Hostile and broken files: each one refused with a clear message and exit code 2, nothing read from it.

Every file here is made by the test: a small survey workbook (six NPS answers) and copies of it that
are cut short, renamed, encrypted, padded into bombs or rewritten to evade the checks. None of the
refused files ever reaches the workbook reader (python-calamine aborts the whole process, with no
Python exception, on a sheet with one cell at A1 and one at XFD1048576: it allocates the rectangle).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kpi_xl import cli
from kpi_xl.safety import MAX_CELLS_ENV, MAX_UNCOMPRESSED_ENV, check_workbook_file, sniff
from kpi_xl.workbook import build_template

SHEET = "xl/worksheets/sheet1.xml"
# NPS of 10, 9, 7, 3, 0, 10: promoters 3, detractors 2 -> 100 * (3 - 2) / 6 = +16.7.
SCORES = [10, 9, 7, 3, 0, 10]
NPS_TEXT = "+16.7"


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(path: Path, capsys, *phrases: str) -> str:
    """``kpi-xl report PATH`` exits 2 with every phrase in its one-line message, and no traceback."""
    code, out, err = run(["report", path], capsys)
    assert code == 2, (out, err)
    assert out == "" and "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err
    return err


@pytest.fixture
def survey(tmp_path) -> Path:
    path = tmp_path / "survey.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Customer", "NPS"])
    for i, score in enumerate(SCORES):
        ws.append([f"c{i}", score])
    wb.save(path)
    return path


def rezip(src: Path, dst: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of a zip with some parts replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info.filename, change[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
        for name, data in change.items():
            if name not in zin.namelist() and data is not None:
                zout.writestr(name, data)
    return dst


def sheet_xml(src: Path) -> bytes:
    with zipfile.ZipFile(src) as z:
        return z.read(SHEET)


def with_cells(src: Path, dst: Path, extra: bytes) -> Path:
    """The survey with ``extra`` XML added at the end of its sheetData."""
    return rezip(src, dst, {SHEET: sheet_xml(src).replace(b"</sheetData>", extra + b"</sheetData>")})


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal valid compound file ([MS-CFB] version 3, 512-byte sectors) holding ``streams``.

    Each stream takes at least 4,096 bytes of sectors so that it lives in ordinary sectors (no mini
    stream).
    Layout: header, sector 0 the FAT, sector 1 the directory, then the streams.
    """
    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    names = list(streams)
    assert len(names) <= 3
    data = [streams[n].ljust(max(4096, -(-len(streams[n]) // 512) * 512), b"\0") for n in names]
    fat = [fat_sector, end]
    starts = []
    for blob in data:
        first = len(fat)
        count = len(blob) // 512
        starts.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [end]
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (
            raw.ljust(64, b"\0")
            + struct.pack("<HBB3I", len(raw), kind, 1, left, right, child)
            + b"\0" * 16
            + struct.pack("<IQQII", 0, 0, 0, start, size)
            + b"\0" * 4
        )

    # Root entry; its child is the first stream, the others hang off it as right siblings.
    directory = entry("Root Entry", 5, no_stream, no_stream, 1 if names else no_stream, end, 0)
    for i, (name, start) in enumerate(zip(names, starts, strict=True)):
        right = i + 2 if i + 1 < len(names) else no_stream
        directory += entry(name, 2, no_stream, right, no_stream, start, len(streams[name]))
    directory = directory.ljust(512, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<109I", 0, *([free] * 108))
    )
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + directory + b"".join(data)


def encrypted_workbook() -> bytes:
    """What Excel writes for a workbook saved with a password ([MS-OFFCRYPTO] 2.3.4, agile encryption):
    a compound file with an EncryptionInfo stream (version 4.4, XML descriptor) and the encrypted
    package (here random-looking bytes, since nothing may be decrypted anyway)."""
    info = (
        struct.pack("<HHI", 4, 4, 0x40)
        + b'<?xml version="1.0"?><encryption xmlns="http://schemas.microsoft.com/office/2006/encryption"/>'
    )
    package = struct.pack("<Q", 5000) + bytes((i * 7919) % 251 for i in range(5000))
    return compound_file({"EncryptionInfo": info, "EncryptedPackage": package})


# --------------------------------------------------------------------------------------------------
# The good file, for contrast
# --------------------------------------------------------------------------------------------------


def test_the_survey_workbook_itself_reads(survey, capsys):
    code, out, err = run(["report", survey], capsys)
    assert code == 0, err
    assert NPS_TEXT in out
    assert sniff(survey) == "zip" and check_workbook_file(survey) == "zip"


# --------------------------------------------------------------------------------------------------
# Not what the name says
# --------------------------------------------------------------------------------------------------


def test_a_picture_named_xlsx(tmp_path, capsys):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    refused(path, capsys, "orders.xlsx: cannot open as a workbook", "a PNG image", "starts with 'PK'")


def test_random_bytes_named_xlsx(tmp_path, capsys):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(bytes((i * 31 + 7) % 256 for i in range(4000)))
    refused(path, capsys, "not an Excel workbook (it starts with the bytes 07 26 45 64")


def test_a_word_document_named_xlsx(survey, tmp_path, capsys):
    doc = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(doc, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    refused(doc, capsys, "a zip archive but not a workbook (it looks like a Word document)")


def test_an_empty_file(tmp_path, capsys):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"")
    refused(path, capsys, "it is empty (0 bytes)")


def test_a_csv_renamed_xlsx(tmp_path, capsys):
    path = tmp_path / "survey.xlsx"
    path.write_text("Customer;NPS\nc1;10\nc2;3\n", encoding="utf-8")
    refused(path, capsys, "it is a text (CSV) file, not an Excel workbook; rename it to survey.csv")


def test_an_xlsx_renamed_csv(survey, tmp_path, capsys):
    path = tmp_path / "survey.csv"
    shutil.copy(survey, path)
    refused(path, capsys, "survey.csv is an Excel workbook", "rename it to survey.xlsx")


def test_a_web_page_named_xls(tmp_path, capsys):
    # Many banking and shop systems export an HTML table with an .xls name.
    path = tmp_path / "export.xls"
    path.write_text("<html><body><table><tr><td>NPS</td></tr><tr><td>10</td></tr></table></body></html>")
    refused(path, capsys, "it is a web page (HTML)", "save it as an Excel Workbook (.xlsx)")


def test_an_excel_2003_xml_spreadsheet_named_xlsx(tmp_path, capsys):
    path = tmp_path / "old.xlsx"
    path.write_text(
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>'
    )
    refused(path, capsys, "it is an XML file (perhaps an Excel 2003 XML Spreadsheet)")


def test_an_xls_renamed_xlsx(tmp_path, capsys):
    # An Excel 97-2003 file is a compound file whose workbook is the stream "Workbook".
    path = tmp_path / "old.xlsx"
    path.write_bytes(compound_file({"Workbook": b"\x09\x08\x10\x00\x00\x06\x05\x00"}))
    assert sniff(path) == "ole2"
    refused(path, capsys, "it is an old Excel 97-2003 workbook (.xls format) with a .xlsx extension")


def test_an_xlsx_renamed_xls(survey, tmp_path, capsys):
    path = tmp_path / "survey.xls"
    shutil.copy(survey, path)
    refused(path, capsys, "it is a newer Excel workbook (.xlsx format) named .xls; rename it to survey.xlsx")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) makes the real .xls")
def test_a_real_xls_is_read_and_refresh_refuses_it(survey, tmp_path, capsys):
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(tmp_path / "xls"),
            str(survey),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    xls = tmp_path / "xls" / "survey.xls"
    assert sniff(xls) == "ole2"
    # The data layer reads Excel 97-2003 files (python-calamine): the same six answers, the same NPS.
    code, out, err = run(["report", xls], capsys)
    assert code == 0, err
    assert NPS_TEXT in out
    # A report workbook must be .xlsm/.xlsx: refresh refuses an .xls and leaves it alone.
    before = xls.read_bytes()
    code, out, err = run(["refresh", xls], capsys)
    assert code == 2 and "refresh works on .xlsx and .xlsm workbooks, not .xls" in err
    assert xls.read_bytes() == before


# --------------------------------------------------------------------------------------------------
# Cut short, damaged, locked
# --------------------------------------------------------------------------------------------------


def test_a_truncated_workbook(survey, tmp_path, capsys):
    data = survey.read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    refused(path, capsys, "it is damaged or incomplete (truncated)", "get a fresh copy")


def test_a_workbook_with_a_damaged_part(survey, tmp_path, capsys):
    # Flip bytes inside the compressed sheet: the zip directory is fine, the part's CRC is not.
    data = bytearray(survey.read_bytes())
    with zipfile.ZipFile(survey) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 20, start + 40):
        data[i] ^= 0x5A
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(data))
    refused(path, capsys, f"it is damaged: its part {SHEET} cannot be unpacked")


def test_a_password_protected_workbook(tmp_path, capsys):
    path = tmp_path / "salaries.xlsx"
    path.write_bytes(encrypted_workbook())
    assert sniff(path) == "encrypted"
    refused(path, capsys, "it is password-protected (encrypted)", "remove the password")


def test_a_zip_with_password_protected_entries(survey, tmp_path, capsys):
    # Bit 0 of an entry's flags marks it encrypted (zip's own, weak, password protection).
    data = bytearray(survey.read_bytes())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        while at >= 0:
            data[at + flag_at] |= 1
            at = data.find(sig, at + 4)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(bytes(data))
    refused(path, capsys, "a zip archive with password-protected entries")


# --------------------------------------------------------------------------------------------------
# XML attacks
# --------------------------------------------------------------------------------------------------

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)


def test_an_entity_expansion_bomb_in_the_shared_strings(survey, tmp_path, capsys):
    # "Billion laughs": nine levels of ten references each expand to 10^9 "lol"s (3 GB) from 1 KB.
    strings = (
        LAUGHS
        + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
    )
    path = rezip(survey, tmp_path / "laughs.xlsx", {"xl/sharedStrings.xml": strings})
    refused(
        path,
        capsys,
        "it contains an XML document type declaration (in xl/sharedStrings.xml)",
        "billion laughs",
    )


def test_an_entity_declaration_padded_past_the_first_chunk(survey, tmp_path, capsys):
    # The declaration is looked for everywhere in every part, not only in its first bytes.
    body = sheet_xml(survey)
    padded = b"<!--" + b" " * (5 << 20) + b"-->" + LAUGHS.replace(b'<?xml version="1.0"?>', b"") + body
    path = rezip(survey, tmp_path / "padded.xlsx", {SHEET: padded})
    refused(path, capsys, f"it contains an XML document type declaration (in {SHEET})")


def test_an_external_entity_in_a_utf16_part(survey, tmp_path, capsys):
    # An XML part may be UTF-16; the check reads it as text, not as bytes with NULs in between.
    xxe = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    path = rezip(survey, tmp_path / "xxe.xlsx", {"docProps/custom.xml": xxe.encode("utf-16")})
    refused(path, capsys, "it contains an XML document type declaration (in docProps/custom.xml)")


# --------------------------------------------------------------------------------------------------
# Zip bombs and huge sheets
# --------------------------------------------------------------------------------------------------


def test_a_zip_bomb_over_the_uncompressed_limit_and_raising_it(survey, tmp_path, capsys, monkeypatch):
    # 8 MB of zeros in a comment part compress to 8 KB: a thousand to one.
    path = rezip(
        survey, tmp_path / "bomb.xlsx", {"docProps/padding.xml": b"<p>" + b"0" * (8 << 20) + b"</p>"}
    )
    assert path.stat().st_size < 64 << 10
    monkeypatch.setenv(MAX_UNCOMPRESSED_ENV, "4")
    refused(
        path,
        capsys,
        "it declares 8 MB when unpacked, more than the limit of 4 MB",
        f"raise the limit with the environment variable {MAX_UNCOMPRESSED_ENV}, e.g.",
        f"{MAX_UNCOMPRESSED_ENV}=9",
    )
    monkeypatch.setenv(MAX_UNCOMPRESSED_ENV, "9")
    code, out, err = run(["report", path], capsys)
    assert code == 0 and NPS_TEXT in out, err


def test_a_zip_declaring_gigabytes_is_refused_without_unpacking(survey, tmp_path, capsys):
    # The central directory claims 4 GB for the sheet; nothing is inflated to find out.
    data = bytearray(survey.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_len]) == SHEET.encode():
            struct.pack_into("<I", data, at + 24, 0xFFFF0000)
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "claims.xlsx"
    path.write_bytes(bytes(data))
    refused(path, capsys, "it declares 4,096 MB when unpacked, more than the limit of 2,048 MB")


def test_a_part_that_inflates_past_its_declared_size(survey, tmp_path, capsys):
    # A 50 MB part whose headers claim 2 KB: a reader trusting the header would be surprised. The
    # check unpacks at most the declared size and then finds the checksum wrong.
    path = rezip(
        survey, tmp_path / "liar.xlsx", {"docProps/padding.xml": b"<p>" + b"1" * (50 << 20) + b"</p>"}
    )
    data = bytearray(path.read_bytes())
    for sig, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(sig)
        while at >= 0:
            if bytes(data[at + name_at : at + name_at + 20]) == b"docProps/padding.xml":
                struct.pack_into("<I", data, at + size_at, 2048)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))
    refused(path, capsys, "it is damaged: its part docProps/padding.xml cannot be unpacked")


def test_a_sheet_with_one_cell_at_a1_and_one_at_xfd1048576(survey, tmp_path, capsys):
    # Two cells, 17 billion in the rectangle the reader would allocate (it would abort the process).
    path = with_cells(survey, tmp_path / "far.xlsx", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    refused(
        path,
        capsys,
        "has a sheet (xl/worksheets/sheet1.xml) spanning 17,179,869,184 cells",
        "more than the limit of 33,554,432 cells",
        f"environment variable {MAX_CELLS_ENV}",
    )


def test_far_cells_written_without_addresses(survey, tmp_path, capsys):
    # Cells without r="..." are placed next to the one before: 6,000 of them make row 8 wide, and
    # 6,000 address-less rows below it make the sheet long: rows 1-6,008 x columns 1-6,000 =
    # 36,048,000 cells from 200 KB of XML.
    wide = b"<row>" + b"<c><v>1</v></c>" * 6000 + b"</row>"
    long = b"<row><c><v>1</v></c></row>" * 6000
    path = with_cells(survey, tmp_path / "sly.xlsx", wide + long)
    refused(path, capsys, "spanning 36,048,000 cells")


def test_far_cells_with_spaced_single_quoted_or_prefixed_addresses(survey, tmp_path, capsys):
    for i, cell in enumerate(
        (
            b"<row r='9'><c r = 'XFD9'><v>1</v></c></row><row r='1048576'><c r='A1048576'/></row>",
            b'<row r="9"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'r="XFD1048576"><x:v>1</x:v></x:c></row>',
            b'<row r="9"><c\n\tr="XFD1048576"><v>1</v></c></row>',
            b'<row r="9"><c r="A1048576 "><v>1</v></c><c r="XFD9"><v>1</v></c></row>',
        )
    ):
        path = with_cells(survey, tmp_path / f"odd{i}.xlsx", cell)
        refused(path, capsys, "more than the limit of 33,554,432 cells")


def test_a_wide_sheet_is_measured_cell_by_cell_and_read(tmp_path, capsys, monkeypatch):
    # 40 columns (AN) go past the quick test's 26, so every address is read: 7 rows x 40 = 280 cells.
    path = tmp_path / "wide.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Customer", "NPS", *(f"note {i}" for i in range(38))])
    for i, score in enumerate(SCORES):
        ws.append([f"c{i}", score, *range(38)])
    wb.save(path)
    assert check_workbook_file(path) == "zip"
    code, out, err = run(["report", path], capsys)
    assert code == 0 and NPS_TEXT in out, err
    monkeypatch.setenv(MAX_CELLS_ENV, "279")
    refused(path, capsys, "spanning 280 cells", "limit of 279 cells")


def test_a_cell_address_spelled_with_a_character_reference(survey, tmp_path, capsys):
    path = with_cells(survey, tmp_path / "ref.xlsx", b'<row r="9"><c r="&#88;FD1048576"><v>1</v></c></row>')
    refused(path, capsys, "spells a cell address with a character reference")


def test_a_sheet_in_utf16_with_a_far_cell(survey, tmp_path, capsys):
    xml = (
        sheet_xml(survey)
        .decode("utf-8")
        .replace("</sheetData>", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
    )
    path = rezip(survey, tmp_path / "wide16.xlsx", {SHEET: xml.encode("utf-16")})
    refused(path, capsys, "spanning 17,179,869,184 cells")


def test_a_genuinely_big_sheet_over_a_lowered_cell_limit(survey, tmp_path, capsys, monkeypatch):
    # 6 answers + header in columns A:B -> 7 rows x 2 columns = 14 cells.
    monkeypatch.setenv(MAX_CELLS_ENV, "13")
    refused(survey, capsys, "spanning 14 cells", "limit of 13 cells", f"{MAX_CELLS_ENV}=14")
    monkeypatch.setenv(MAX_CELLS_ENV, "14")
    code, out, err = run(["report", survey], capsys)
    assert code == 0 and NPS_TEXT in out, err


def test_a_limit_set_to_nonsense_is_a_clear_error(survey, capsys, monkeypatch):
    monkeypatch.setenv(MAX_CELLS_ENV, "lots")
    refused(survey, capsys, f"the environment variable {MAX_CELLS_ENV} must be a whole number")


def test_an_ods_with_a_million_repeated_rows_of_a_thousand_cells(tmp_path, capsys):
    # OpenDocument repeats a row or a cell by a count: one short row expands to a billion cells.
    content = (
        b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        b'<table:table table:name="t"><table:table-row><table:table-cell office:value-type="string">'
        b"<text:p>NPS</text:p></table:table-cell></table:table-row>"
        b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        b'table:number-columns-repeated="1000" office:value-type="float" office:value="9"/></table:table-row>'
        b"</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    path = tmp_path / "bomb.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
    # Rows 1 (header) + 1,000,000 repeated, 1,000 columns wide.
    refused(path, capsys, "has a sheet (content.xml) spanning 1,000,001,000 cells")


# --------------------------------------------------------------------------------------------------
# The same refusals for the report workbook, which stays untouched
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "kpi_report.xlsm")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda good: good.read_bytes()[: len(good.read_bytes()) // 3], "damaged or incomplete (truncated)"),
        (lambda good: encrypted_workbook(), "password-protected (encrypted)"),
        (lambda good: compound_file({"Workbook": b"\x09\x08"}), "old Excel 97-2003 workbook"),
        (lambda good: b"Datum;NPS\n01.02.2025;10\n", "text (CSV) file"),
    ],
    ids=["truncated", "password", "xls", "csv"],
)
def test_refresh_refuses_a_broken_report_workbook_and_writes_nothing(
    template, tmp_path, capsys, make, message
):
    book = tmp_path / "kpi_report.xlsm"
    book.write_bytes(make(template))
    before = book.read_bytes()
    code, out, err = run(["refresh", book], capsys)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpi_report.xlsm"]


def test_refresh_refuses_an_entity_bomb_in_a_data_sheet(template, tmp_path, capsys):
    book = tmp_path / "kpi_report.xlsm"
    part = "xl/worksheets/sheet3.xml"
    with zipfile.ZipFile(template) as z:
        xml = z.read(part)
    rezip(template, book, {part: LAUGHS + xml})
    before = book.read_bytes()
    code, out, err = run(["refresh", book], capsys)
    assert code == 2 and "XML document type declaration" in err, err
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpi_report.xlsm"]
