"""Reading files: encoding and delimiter detection, row numbers, formats, and the errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from kpi_xl.data import detect_delimiter, detect_encoding, read_table
from kpi_xl.metrics import KpiInputError


def test_encoding_utf8_with_and_without_bom(tmp_path):
    with_bom = tmp_path / "a.csv"
    with_bom.write_bytes(b"\xef\xbb\xbfName;Betrag\nM\xc3\xbcller;1\n")
    plain = tmp_path / "b.csv"
    plain.write_bytes(b"Name;Betrag\nM\xc3\xbcller;1\n")
    assert detect_encoding(with_bom) == "utf-8-sig"
    assert detect_encoding(plain) == "utf-8"
    # The BOM must not end up in the first header.
    assert list(read_table(with_bom).frame.columns) == ["Name", "Betrag"]
    assert read_table(plain).frame.iloc[0, 0] == "Müller"


def test_cp1252_detected_even_when_the_first_non_ascii_byte_is_far_down(tmp_path):
    path = tmp_path / "late.csv"
    body = b"".join(b"K%d;1\n" % i for i in range(200_000))  # ~2 MB of ASCII before the euro sign
    path.write_bytes(b"Kunde;Betrag\n" + body + b"M\xfcller \x80;2\n")
    assert detect_encoding(path) == "cp1252"
    table = read_table(path)
    assert table.frame.iloc[-1, 0] == "Müller €"


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("Kunde\tBetrag\nK1\t2,5\n".encode("utf-16"))
    table = read_table(path)
    assert table.encoding == "utf-16" and table.delimiter == "\t"
    assert table.frame.to_dict("records") == [{"Kunde": "K1", "Betrag": "2,5"}]


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["Kunde;Datum;Betrag", "K1;01.01.2025;1.234,56", "K2;02.01.2025;12,5"], ";"),
        (["customer,date,amount", "K1,2025-01-01,1234.56", 'K2,2025-01-02,"1,234.00"'], ","),
        (["customer\tamount", "K1\t3"], "\t"),
        (["a|b|c", "1|2|3"], "|"),
        # One column of German decimals: "," is not a delimiter (the header has no comma).
        (["Betrag", "12,5", "3,25"], ";"),
    ],
)
def test_delimiter_detection(lines, expected):
    assert detect_delimiter(lines) == expected


def test_row_numbers_count_the_header_and_empty_lines(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,x\n\n2,y\n,\n3,z\n", encoding="utf-8")
    table = read_table(path)
    # Row 1 is the header; row 3 is an empty line and row 5 has only empty cells: both ignored,
    # and the rows after them keep the numbers Excel shows.
    assert list(table.frame["a"]) == ["1", "2", "3"]
    assert list(table.frame.index) == [2, 4, 6]
    assert table.empty_rows == 2


def test_parquet_rows_count_from_one(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"customer_id": [1, 2], "amount": [3.5, 4.0]}).to_parquet(path)
    table = read_table(path)
    assert table.format == "parquet"
    assert list(table.frame.index) == [1, 2]
    assert table.frame["amount"].tolist() == [3.5, 4.0]


def test_xlsx_is_read_with_calamine_not_openpyxl(tmp_path, monkeypatch):
    import openpyxl

    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Kunden-ID", "Betrag", None])
    wb.active.append(["K1", 2.5, None])
    wb.active.append([None, None, "note without a header"])
    wb.save(path)

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl must not be used to read exports")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    table = read_table(path)
    assert list(table.frame.columns) == ["Kunden-ID", "Betrag", "Column C"]
    assert table.frame.loc[2, "Betrag"] == 2.5
    assert table.frame.loc[3, "Column C"] == "note without a header"


def test_xlsx_named_sheet_and_unknown_sheet(tmp_path):
    import openpyxl

    path = tmp_path / "two.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Info"
    wb.active.append(["nothing here"])
    ws = wb.create_sheet("Daten")
    ws.append(["Betrag"])
    ws.append([7])
    wb.save(path)
    assert read_table(path, sheet="Daten").frame["Betrag"].tolist() == [7]
    with pytest.raises(KpiInputError, match="no sheet named 'Orders'.*Info, Daten"):
        read_table(path, sheet="Orders")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "file not found"),
        ("data.json", b"{}", "cannot tell the file type"),
        ("empty.csv", b"", "the file is empty"),
        ("broken.parquet", b"not parquet", "cannot read as Parquet"),
        ("broken.xlsx", b"not a zip", "cannot open as a workbook"),
    ],
)
def test_bad_files_are_clear_input_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KpiInputError, match=message):
        read_table(path)


def test_malformed_csv_names_the_delimiter(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a;b\n1;2\n3;4;5;6\n", encoding="utf-8")
    with pytest.raises(KpiInputError, match="not a well-formed CSV with delimiter ';'"):
        read_table(path)


def test_explicit_encoding_that_does_not_fit(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"a;b\n\xff\xfe;1\n")
    with pytest.raises(KpiInputError, match="cannot decode the file as utf-8"):
        read_table(path, encoding="utf-8")
