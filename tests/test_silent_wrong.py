"""Nothing silently wrong, no hang, no Python text: exports as users' tools write them.

Totals lines under a table, files mixing two encodings, NUL bytes, inputs that never end, dates
past 2262 (the "open end" 9999-12-31), and arguments that used to put a Python exception into a cell.
Each expected figure is worked out by hand in the test.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from kpi_xl import cli, udfs
from kpi_xl.data import read_table
from kpi_xl.data._read import MIXED_ENCODING, detect_encoding
from kpi_xl.metrics._far import far_dates

ENGINES = ["pandas", "duckdb"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _json(capsys, *argv: str) -> dict:
    import json

    code, out, _ = _run(capsys, *argv, "--format", "json")
    assert code == 0
    return json.loads(out)


def _value(doc: dict, metric: str) -> dict:
    rows = doc["results"] if "results" in doc else doc["metrics"]
    return next(r for r in rows if r.get("metric", metric) == metric)


# --- totals and summary lines ------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_totals_line_under_a_csv_is_not_an_order(tmp_path, capsys, engine):
    path = tmp_path / "orders.csv"
    path.write_text(
        "Bestellnr;Kunde;Datum;Betrag\n1;A;01.01.2025;100,50\n2;B;02.01.2025;111,84\nTotal;;;212,34\n",
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "metric", "aov", str(path), "--engine", engine)
    assert code == 0
    # (100.50 + 111.84) / 2 = 106.17; with the totals line as an order it would be 141.56.
    assert "106.17" in out and "141.56" not in out
    assert "row 4 ('Total'): a totals/summary line under the table, left out" in out + err


def test_an_average_line_under_a_survey_is_not_a_response(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("date,id,segment,nps\n2025-01-01,1,A,9\n2025-01-02,2,A,1\nAverage,,,5\n")
    table = read_table(path)
    assert list(table.frame.index) == [2, 3]
    assert any("Average" in n for n in table.notes)


def test_several_summary_lines_in_an_xlsx_are_all_left_out(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Kunde", "Datum", "Betrag"])
    ws.append(["A", dt.datetime(2025, 1, 1), 10.0])
    ws.append(["B", dt.datetime(2025, 1, 2), 30.0])
    ws.append(["Summe", None, 40.0])
    ws.append(["Durchschnitt:", None, 20.0])
    wb.save(tmp_path / "o.xlsx")
    table = read_table(tmp_path / "o.xlsx")
    assert list(table.frame["Kunde"]) == ["A", "B"]
    assert any("row 4 ('Summe'), row 5 ('Durchschnitt:')" in n for n in table.notes)


def test_a_record_of_a_segment_named_total_is_kept(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("segment,id,date,amount\nA,1,2025-01-01,10\nTotal,2,2025-01-02,30\n")
    assert list(read_table(path).frame["segment"]) == ["A", "Total"]


# --- encodings, NUL bytes, inputs without an end ------------------------------------------------


def _mixed(path: Path) -> Path:
    path.write_bytes(
        b"Segment;Betrag\n"
        + "Bäcker;10\n".encode()
        + "Bäcker;20\n".encode("cp1252")
        + "Müller;30\n".encode()
        + "Café €;40\n".encode("cp1252")
    )
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_a_csv_mixing_utf8_and_cp1252_lines_reads_each_line_right(tmp_path, capsys, engine):
    path = _mixed(tmp_path / "mix.csv")
    assert detect_encoding(path) == MIXED_ENCODING
    code, out, err = _run(
        capsys, "metric", "aov", str(path), "--map", "amount=Betrag", "--by", "Segment", "--engine", engine
    )
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    # Bäcker: (10 + 20) / 2 = 15 in one segment; no "BÃ¤cker".
    assert "15.00" in lines["Bäcker"] and "Café" in lines
    assert "Ã" not in out


def test_pure_cp1252_and_pure_utf8_files_are_still_told_apart(tmp_path):
    (tmp_path / "a.csv").write_bytes("x;y\nBäcker;1\n".encode("cp1252"))
    (tmp_path / "b.csv").write_bytes("x;y\nBäcker;1\n".encode())
    assert detect_encoding(tmp_path / "a.csv") == "cp1252"
    assert detect_encoding(tmp_path / "b.csv") == "utf-8"


def test_a_csv_full_of_nul_bytes_is_refused_naming_the_line(tmp_path, capsys):
    path = tmp_path / "nul.csv"
    with path.open("wb") as fh:
        fh.write(b"date;id;nps\n2025-01-01;1;9\n")
        fh.write(b"\0" * (9 << 20))
    code, _, err = _run(capsys, "metric", "nps", str(path))
    assert code == 2
    assert "nul.csv is not a text (CSV) file: line 3 holds a NUL byte" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_under_a_csv_name_is_refused_without_waiting_for_it(tmp_path):
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    # Nobody writes to the pipe: a reader that opened it would wait forever (the timeout catches that).
    done = subprocess.run(
        [sys.executable, "-m", "kpi_xl.cli", "metric", "nps", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert done.returncode == 2
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


# --- dates past 2262 -----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_open_end_and_typo_dates_are_reported_not_a_traceback(tmp_path, capsys, engine):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,signup_date,churn_date\nA,2024-01-01,9999-12-31\nB,2024-01-01,2925-05-01\n"
        "C,2024-01-01,2025-05-01\nD,2024-01-01,\n"
    )
    code, out, err = _run(capsys, "report", str(path), "--engine", engine)
    assert code == 0
    text = out + err
    assert "'9999-12-31' is a date outside the years 1678-2261" in text
    assert "'2925-05-01' is a date outside the years 1678-2261" in text
    assert "OutOfBounds" not in text


def test_far_dates_in_a_parquet_date_column_are_reported(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    days = pa.array([dt.datetime(2025, 1, 1), dt.datetime(9999, 12, 31), dt.datetime(2025, 2, 1)],
                    pa.timestamp("us"))  # fmt: skip
    pq.write_table(
        pa.table({"customer_id": ["A", "B", "C"], "date": days, "amount": [10.0, 20.0, 30.0]}),
        tmp_path / "o.parquet",
    )
    code, out, err = _run(capsys, "metric", "aov", str(tmp_path / "o.parquet"))
    assert code == 0
    assert "outside the years 1678-2261" in out + err


@pytest.mark.parametrize(
    "far", [2958465.0, dt.datetime(9999, 12, 31), "9999-12-31", "31.12.2925", 99991231.0]
)
def test_excel_functions_report_far_dates_instead_of_wrapping_them_to_1755(far):
    got = udfs.FRT([[45658.0], [far]], [[45659.0], [45660.0]])
    assert isinstance(got, str) and got.startswith("#VALUE!")
    assert "outside the years 1678-2261" in got and "row 2" in got
    assert "datetime.date" not in got and "1755" not in got


def test_far_dates_are_skipped_and_counted_when_asked():
    got = udfs.FRT(
        [[45658.0], [2958465.0], [45658.0]], [[45658.5], [45660.0], [45659.0]], "median", None, True
    )
    # Two tickets left: 12 h and 24 h -> median 18 h.
    assert got == pytest.approx(18.0)


def test_far_dates_helper_by_hand():
    values = np.array([dt.date(2261, 12, 31), dt.date(2262, 1, 1), "1677-01-01", "2025-01-01", 45657], object)
    assert far_dates(values).tolist() == [False, True, True, False, False]


# --- no Python text in a cell --------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: udfs.CSAT([[5], [4]], 4, 1, 1e20),
        lambda: udfs.CSAT([[5], [4]], None, 1, 10**20),
        lambda: udfs.CES([[5], [4]], "mean", 1, 1e20),
        lambda: udfs.CES([[5], [4]], "net", 1e20, 7),
        lambda: udfs.CSAT([[5], [4]], None, 1, 0),
        lambda: udfs.KPI_BY_SEGMENT(
            [["Region", "Score", "Score"], ["A", 9, 1], ["B", 1, 9]], "Region", "nps", "Score"
        ),
    ],
)
def test_bad_arguments_give_a_readable_error_not_python_text(call):
    got = call()
    assert isinstance(got, str) and got.startswith("#VALUE!")
    for python in ("TypeError", "ValueError", "ufunc", "Grouper", "None", "unexpected error"):
        assert python not in got


def test_two_columns_of_one_header_are_named_with_their_letters():
    got = udfs.KPI_BY_SEGMENT([["Region", "Score", "Score"], ["A", 9, 1]], "Region", "nps", "Score")
    assert "2 columns named 'Score' (columns B, C of the range)" in got


def test_a_scale_with_the_bounds_reversed_says_so_without_none():
    got = udfs.CSAT([[5], [4]], None, 1, 0)
    assert "low < high" in got and "1-0" in got


def test_far_date_frame_column_in_segment_tables_is_reported():
    frame = pd.DataFrame({"seg": ["A", "A"], "created": [45658.0, 2958465.0], "resolved": [45659.0, 45660.0]})
    table = [list(frame.columns)] + frame.values.tolist()
    got = udfs.KPI_BY_SEGMENT(table, "seg", "resolution_time", ["created", "resolved"])
    assert isinstance(got, str) and "outside the years 1678-2261" in got


# --- cells a reader of cached values would see as empty ------------------------------------------


def _uncalculated_book(path: Path) -> Path:
    """A book as a script writes it: one formula without a calculated value, one #DIV/0! and one
    #N/A error value (written into the XML as Excel stores them)."""
    import re
    import zipfile

    wb = Workbook()
    ws = wb.active
    ws.append(["date", "id", "nps", "amount"])
    ws.append(["2025-01-01", "A", 9, 10])
    ws.append(["2025-01-02", "B", "=1+8", 20])
    ws.append(["2025-01-03", "C", 7, 5])
    ws.append(["2025-01-04", "D", 10, 7])
    plain = path.with_suffix(".plain.xlsx")
    wb.save(plain)
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(
                    rb'<c r="C4"[^>]*>.*?</c>', b'<c r="C4" t="e"><f>1/0</f><v>#DIV/0!</v></c>', data
                )
                data = re.sub(rb'<c r="D5"[^>]*>.*?</c>', b'<c r="D5" t="e"><v>#N/A</v></c>', data)
            zout.writestr(info, data)
    return path


def test_formulas_never_calculated_and_error_cells_are_listed_as_invalid(tmp_path, capsys):
    book = _uncalculated_book(tmp_path / "scripted.xlsx")
    code, out, err = _run(capsys, "metric", "nps", str(book))
    assert code == 0
    text = out + err
    # Rows 2 and 5 are valid (9 and 10): NPS = (2 promoters - 0 detractors) / 2 = +100.
    assert "+100.0" in text
    assert "row 3, column 'nps': '=1+8 (formula never calculated)'" in text
    assert "row 4, column 'nps': '#DIV/0! (Excel error)'" in text
    assert "1 cell(s) hold formulas that were never calculated (first: C3" in text
    code, out, err = _run(capsys, "metric", "aov", str(book))
    # (10 + 20 + 5) / 3 = 11.67; the #N/A amount is listed, not read as a blank.
    assert "11.67" in out and "row 5, column 'amount': '#N/A (Excel error)'" in out + err


# --- title rows above an Excel table -------------------------------------------------------------


def _titled(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["Customer survey export"])
    ws.append(["Period:", "2025-01-01", "to", "2025-03-31"])
    ws.append([])
    ws.append(["Date", "Customer", "Segment", "NPS score", "Comment"])
    for i in range(10):
        ws.append([dt.datetime(2025, 1, 1 + i), f"C{i}", "SMB", [9, 10, 3, 7, 8][i % 5], "ok"])
    wb.save(path)
    return path


def test_the_header_row_is_found_below_title_lines(tmp_path):
    table = read_table(_titled(tmp_path / "t.xlsx"))
    assert list(table.frame.columns) == ["Date", "Customer", "Segment", "NPS score", "Comment"]
    assert table.frame.index[0] == 5
    assert any("row(s) 1, 2 above the table's header (row 4) ignored" in n for n in table.notes)


def test_the_header_row_can_be_given(tmp_path, capsys):
    book = _titled(tmp_path / "t.xlsx")
    # Scores 9,10,3,7,8 twice: 4 promoters, 2 detractors of 10 -> NPS +20.
    code, out, _ = _run(capsys, "metric", "nps", str(book), "--header-row", "4")
    assert code == 0 and "+20.0" in out
    code, _, err = _run(capsys, "metric", "nps", str(book), "--header-row", "99")
    assert code == 2 and "header row 99 is outside the sheet" in err


# --- title lines above a CSV table (a German cp1252 export with a report title) --------------------

_TITLED_CSV = (
    "Umsatzbericht Filialen\r\nStand: 01.12.2026\r\n\r\n"
    "Kunde;Bestelldatum;Betrag;Segment\r\n"
    "1001;03.01.2026;1.234,56;Bäcker\r\n1002;04.01.2026;99,00;bäcker \r\n"
    "1001;05.02.2026;k.A.;Bäcker\r\n1003;06.02.2026;45,50;Metzger\r\n"
    "Summe;;1.379,06;\r\n"
)


@pytest.mark.parametrize("padded", [False, True])
def test_a_csv_header_is_found_below_title_lines(tmp_path, capsys, padded):
    text = _TITLED_CSV
    if padded:  # Excel's own CSV export pads the title lines with delimiters
        text = text.replace("Filialen\r\n", "Filialen;;;\r\n").replace("2026\r\n\r\n", "2026;;;\r\n;;;\r\n")
    path = tmp_path / "umsatz.csv"
    path.write_bytes(text.encode("cp1252"))
    table = read_table(path)
    assert list(table.frame.columns) == ["Kunde", "Bestelldatum", "Betrag", "Segment"]
    # File lines as an editor shows them: the header is line 4, the first record line 5.
    assert table.frame.index[0] == 5 and table.delimiter == ";"
    assert any("line(s) 1, 2 above the table's header (line 4) ignored" in n for n in table.notes)
    code, out, err = _run(capsys, "metric", "aov", str(path), "--by", "Segment")
    # Bäcker: (1234.56 + 99) / 2 = 666.78 (k.A. left out, line 7); Metzger 45.50; the Summe line left out.
    assert code == 0, err
    assert "666.78" in out and "45.50" in out and "row 7, column 'Betrag': 'k.A.'" in out + err
    code, out, _ = _run(capsys, "metric", "aov", str(path), "--header-row", "4")
    assert code == 0 and "459.69" in out  # (1234.56 + 99 + 45.50) / 3 = 459.687
    # The DuckDB route (files of any size) reads the same table under the title: the same answers,
    # the same file lines named, the Summe line left out, the title lines said.
    code, out, err = _run(capsys, "metric", "aov", str(path), "--by", "Segment", "--engine", "duckdb")
    assert code == 0, err
    assert "666.78" in out and "45.50" in out and "row 7, column 'Betrag': 'k.A.'" in out + err
    assert "line(s) 1, 2 above the table's header (line 4) ignored" in out + err
    assert "row 9 ('Summe')" in out + err
    code, out, err = _run(capsys, "metric", "aov", str(path), "--header-row", "4", "--engine", "duckdb")
    assert code == 0 and "459.69" in out, err
