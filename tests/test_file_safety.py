"""The user's file and the user's choices: what a refresh may and may not do to the book and beside it.

Read-only books and folders, links, notes below the refreshed areas, Tables the user resized, rows
pasted after a gap, leftovers of a killed refresh and a full disk. Each case checks that the book
(or its data) is not lost and that the message says what happened and what to do.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries
from python_calamine import CalamineWorkbook

from kpi_xl import cli
from kpi_xl.workbook import build_template, refresh_workbook
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.sheets import CLV_TABLE_ROW

SHEET = labels("en")["sheet"]
POSIX = pytest.mark.skipif(os.name != "posix", reason="file modes and links as on POSIX")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "kpi_report.xlsm")


@pytest.fixture
def book(template, tmp_path) -> Path:
    out = tmp_path / "kpi_report.xlsm"
    shutil.copy(template, out)
    return out


def _grid(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _cli(book: Path, capsys) -> tuple[int, str]:
    code = cli.main(["refresh", str(book), "--no-predict"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@POSIX
def test_a_read_only_book_is_refused_and_left_as_it_was(book, capsys):
    before = book.read_bytes()
    book.chmod(0o444)
    code, err = _cli(book, capsys)
    assert code == 2
    assert "read-only" in err and "kpi_report.xlsm" in err and "chmod u+w" in err
    assert book.read_bytes() == before
    assert stat.S_IMODE(book.stat().st_mode) == 0o444
    assert sorted(p.name for p in book.parent.iterdir()) == ["kpi_report.xlsm"]


@POSIX
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing owners needs root")
def test_a_book_of_another_user_keeps_its_owner_when_an_administrator_refreshes_it(book):
    os.chown(book, 65534, 65534)
    refresh_workbook(book, predict=False)
    assert (book.stat().st_uid, book.stat().st_gid) == (65534, 65534)


@POSIX
def test_a_linked_book_is_refreshed_through_the_link_and_the_link_stays(book, tmp_path):
    link_dir = tmp_path / "desktop"
    link_dir.mkdir()
    link = link_dir / "report.xlsm"
    link.symlink_to(book)
    before = book.read_bytes()
    report = refresh_workbook(link, predict=False)
    assert link.is_symlink() and link.resolve() == book.resolve()
    assert book.read_bytes() != before
    # The backup is beside the real book, not beside the link.
    assert report.backup == book.with_name("kpi_report (backup).xlsm")
    assert sorted(p.name for p in link_dir.iterdir()) == ["report.xlsm"]


def test_notes_below_the_refreshed_areas_survive(book):
    wb = load_workbook(book, keep_vba=True)
    wb[SHEET["start"]]["A300"] = "my note on the start tab"
    wb[SHEET["clv"]]["A5000"] = "my note far below the CLV table"
    wb.save(book)
    refresh_workbook(book, predict=True)
    refresh_workbook(book, predict=True)
    assert _grid(book, SHEET["start"])[299][0] == "my note on the start tab"
    clv = _grid(book, SHEET["clv"])
    assert clv[4999][0] == "my note far below the CLV table"
    # The CLV table itself is still written in full (one row per customer, then the gap).
    first_blank = next(i for i in range(CLV_TABLE_ROW, len(clv)) if clv[i][0] in ("", None))
    assert first_blank - CLV_TABLE_ROW > 100


def test_a_shorter_output_still_clears_the_previous_longer_one(book):
    """Without predictions the CLV table is empty: the previous table is cleared to its end."""
    refresh_workbook(book, predict=True)
    refresh_workbook(book, predict=False)
    clv = _grid(book, SHEET["clv"])
    assert all(v in ("", None) for r in clv[CLV_TABLE_ROW : CLV_TABLE_ROW + 2000] for v in r[:9])


def _table(wb, key: str):
    ws = wb[SHEET[key]]
    return ws, next(iter(ws.tables.values()))


def test_a_table_the_user_made_smaller_is_not_grown_back(book):
    refresh_workbook(book, predict=False)
    wb = load_workbook(book, keep_vba=True)
    ws, table = _table(wb, "responses")
    c0, r0, c1, r1 = range_boundaries(table.ref)
    new_ref = f"{table.ref.split(':')[0]}:{table.ref.split(':')[1].rstrip('0123456789')}{r1 - 100}"
    table.ref = new_ref
    table.autoFilter.ref = new_ref
    wb.save(book)
    report = refresh_workbook(book, predict=False)
    assert report.rows_read[SHEET["responses"]] == 1500 - 100
    assert any("smaller than at the last refresh" in n and "not counted" in n for n in report.notes)
    wb = load_workbook(book)
    assert _table(wb, "responses")[1].ref == new_ref


def test_rows_pasted_after_a_blank_row_are_named_not_counted_silently(book):
    wb = load_workbook(book, keep_vba=True)
    ws, table = _table(wb, "responses")
    last = range_boundaries(table.ref)[3]
    for i in range(3):
        ws.cell(row=last + 2 + i, column=1).value = "2025-12-30"
        ws.cell(row=last + 2 + i, column=2).value = f"C9{i}"
    wb.save(book)
    report = refresh_workbook(book, predict=False)
    assert report.rows_read[SHEET["responses"]] == 1500
    note = next(n for n in report.notes if "after a blank row" in n)
    assert f"3 row(s) with data from row {last + 2}" in note


def test_leftovers_of_a_killed_refresh_are_removed_by_the_next_one(book):
    left = [
        book.with_name(f".kpi-xl-{book.name}.abc123.xlsm"),
        book.with_name(f".kpi-xl-{book.name}.abc123.xlsm.backup"),
        book.with_name(".kpi-xl-q1w2e3r4.xlsm"),  # the name earlier versions used
    ]
    other = book.with_name(".kpi-xl-other.xlsm.zz.xlsm")  # another book's refresh: not ours
    for p in [*left, other]:
        p.write_bytes(b"partial")
    refresh_workbook(book, predict=False)
    assert not any(p.exists() for p in left)
    assert other.exists()


@POSIX
@pytest.mark.skipif(sys.platform == "darwin", reason="folder modes as on Linux")
def test_a_read_only_folder_is_refused_with_a_way_forward(book, capsys):
    before = book.read_bytes()
    book.parent.chmod(0o555)
    try:
        code, err = _cli(book, capsys)
    finally:
        book.parent.chmod(0o755)
    assert code == 2
    assert "read-only" in err and "Copy the book to a folder you can write to" in err
    assert book.read_bytes() == before


def _mount_tmpfs(where: Path, size: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=False)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB file system (tmpfs): room for the book, not for the new copy and the backup."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    if not _mount_tmpfs(where, "3m"):
        pytest.skip("mounting a small tmpfs needs root and a mount the sandbox permits")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_gives_a_clear_message_and_the_book_survives(template, small_disk, capsys):
    book = small_disk / "kpi_report.xlsm"
    shutil.copy(template, book)
    filler = small_disk / "filler"
    room = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(room - book.stat().st_size // 2, 0))
    before = book.read_bytes()
    code, err = _cli(book, capsys)
    assert code == 2
    assert "disk" in err and "full" in err and "unchanged" in err
    assert book.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "kpi_report.xlsm"]


def test_a_deleted_data_tab_is_named_in_the_users_words(book, capsys):
    wb = load_workbook(book, keep_vba=True)
    del wb[SHEET["orders"]]
    wb.save(book)
    code, err = _cli(book, capsys)
    assert code == 2
    assert "the 'Orders' tab was deleted, so nothing was refreshed" in err
    assert "kpi_sheet_orders" not in err and "#REF!" not in err
    assert "kpi-xl template" in err


def test_a_score_formatted_as_a_date_is_read_as_excel_reads_it(book, tmp_path):
    """COUNTIFS reads a number whatever its format; the engine reads the same number, so the
    engine's values equal those of the unformatted book, and a note says what was done."""
    from kpi_xl.workbook import expected_values

    plain = tmp_path / "plain.xlsm"
    wb = load_workbook(book, keep_vba=True)
    wb.save(plain)  # the same round trip, without the date format
    ws = wb[SHEET["responses"]]
    header = [c.value for c in ws[1]]
    col = header.index("NPS score") + 1
    for r in range(2, ws.max_row + 1):
        ws.cell(row=r, column=col).number_format = "yyyy-mm-dd"
    wb.save(book)
    assert expected_values(book, predict=False) == expected_values(plain, predict=False)
    report = refresh_workbook(book, predict=False)
    assert any("formatted as dates" in n and "'NPS score'" in n for n in report.notes)
