"""Crash safety of ``kpi-xl refresh``: killed at any moment, the workbook and its backup survive whole.

A refresh runs in a child process and is killed with SIGKILL (no cleanup, no ``finally``):

* at every named step of the save, for certain: the child announces each step on its stdout and
  waits there when told to (test-side wrappers around the functions the refresh calls - the
  product has no test hooks), and the parent kills it on hearing the step: lock taken, parts of
  the new file written one by one, new file complete, backup copied, flushed to disk, backup
  swapped in, book swapped in;
* at fixed fractions of a full run, wherever the refresh happens to be (reading, computing,
  writing): how many of these land before the child finishes depends on the machine, so they are
  counted, not required.

After every kill the book must open, hold the user's data byte for byte, and be either the previous
version or the complete new one; the backup must open and be either the previous backup or the
previous book. Then a new refresh must succeed despite the lock the killed one left behind. The
number of kill points tried and the data lost (none) are printed at the end of the test run.

Also: two refreshes of one book at once (the second refuses, naming the first), a book open in
Excel (refused, not a byte or a timestamp changed), and the stale-lock rules.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from kpi_xl import cli
from kpi_xl.safety import check_workbook_file, lock_path
from kpi_xl.workbook import WorkbookError, build_template, refresh_workbook
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import TABLES
from kpi_xl.workbook.package import Package
from kpi_xl.workbook.refresh import backup_path

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")

SHEET = labels("en")["sheet"]
CHILD = r"""
import os, shutil, sys, time, zipfile
import kpi_xl.workbook.refresh as refresh

book, stop = sys.argv[1], sys.argv[2]
count = {}


def mark(step):
    # Announce the step; at the step the parent asked for, wait to be killed.
    print(step, flush=True)
    if step == stop:
        time.sleep(600)


def around(owner, name, before=None, after=None):
    real = getattr(owner, name)

    def step(args, label):
        if callable(label):
            return label(args)
        count[label] = count.get(label, 0) + 1
        return f"{label} {count[label]}"

    def wrapper(*args, **kwargs):
        if before:
            mark(step(args, before))
        out = real(*args, **kwargs)
        if after:
            mark(step(args, after))
        return out

    setattr(owner, name, wrapper)


def which(args):
    return "backup" if "backup" in os.path.basename(str(args[1])) else "book"


around(refresh, "check_workbook_file", before=lambda a: "lock taken")
around(zipfile.ZipFile, "writestr", after="new part written")
around(refresh, "write_copy", after=lambda a: "new file complete")
around(shutil, "copy2", after=lambda a: "backup copied")
around(refresh, "_fsync", after="flushed")
def swapped(args):
    return which(args) + " swapped in"


around(os, "replace", before=lambda a: "swapping in the " + which(a), after=swapped)
print("ready", flush=True)
refresh.refresh_workbook(book, predict=False)
mark("done")
"""
# The steps announced by a full run, in order (checked against a real run below).
STEPS = (
    "lock taken",
    "new part written 1",
    "new part written 3",
    "new file complete",
    "backup copied",
    "flushed 1",
    "flushed 2",
    "swapping in the backup",
    "backup swapped in",
    "swapping in the book",
    "book swapped in",
)
FRACTIONS = (0.1, 0.35, 0.6, 0.8, 0.9, 0.95)

TALLY: dict[str, int] = {"kill points tried": 0, "at named steps": 0, "at fractions of a run": 0}
TALLY["killed before the book was swapped"] = 0
TALLY.update({"killed after the book was swapped": 0, "workbooks with data lost": 0})
TALLY["temporary files left behind (hidden, harmless)"] = 0


class _Summary:
    """Prints the tally after the test run (a pytest plugin registered by the fixture below)."""

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.section("kpi-xl crash safety")
        for key, n in TALLY.items():
            terminalreporter.write_line(f"{key}: {n}")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("kpi-xl-crash-summary"):
        manager.register(_Summary(), "kpi-xl-crash-summary")


@pytest.fixture(scope="module")
def start(tmp_path_factory) -> Path:
    """A refreshed template with a backup: the state every crash run starts from."""
    folder = tmp_path_factory.mktemp("start")
    book = build_template(folder / "kpi_report.xlsm")
    refresh_workbook(book, predict=False)
    assert backup_path(book).exists()
    return book


def _data_parts(book: Path) -> dict[str, bytes]:
    """The XML parts of the data tabs (the user's data), which a refresh copies byte for byte."""
    pkg = Package(book)
    return {key: pkg.read(pkg.sheets[SHEET[key]]) for key in TABLES}


def _opens(path: Path) -> None:
    """The file is a whole workbook: every part unpacks with its checksum, openpyxl opens it, and the
    responses sheet reads in full."""
    check_workbook_file(path)
    wb = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
    assert SHEET["responses"] in wb.sheetnames
    wb.close()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET["responses"]).to_python()
    assert len(rows) == 1501


def _fresh(start: Path, folder: Path) -> Path:
    folder.mkdir()
    book = folder / start.name
    shutil.copy2(start, book)
    shutil.copy2(backup_path(start), backup_path(book))
    return book


def _child(book: Path, stop: str = "") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(book), stop],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _steps(start: Path, folder: Path) -> tuple[float, list[str]]:
    """One full refresh in the child: its duration and the steps it announced."""
    book = _fresh(start, folder)
    proc = _child(book)
    t0 = time.monotonic()
    # Read through the same buffer as "ready" was (communicate() would skip what it holds).
    out = proc.stdout.read()
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return time.monotonic() - t0, out.splitlines()


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the child; True if it was still running (a real crash point)."""
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return running


def _check_after_kill(book: Path, original: bytes, old_backup: bytes, data: dict[str, bytes]) -> None:
    now = book.read_bytes()
    swapped = now != original
    _opens(book)
    lost = _data_parts(book) != data
    TALLY["workbooks with data lost"] += lost
    assert not lost
    backup = backup_path(book)
    assert backup.exists()
    _opens(backup)
    # The backup is the previous backup (killed before it was swapped) or the previous book.
    assert backup.read_bytes() in (old_backup, original)
    if swapped:
        # A swapped book is the whole new version, and its backup is the book as it was.
        assert backup.read_bytes() == original
    TALLY["killed after the book was swapped" if swapped else "killed before the book was swapped"] += 1
    TALLY["temporary files left behind (hidden, harmless)"] += sum(
        p.name.startswith(".kpi-xl-") for p in book.parent.iterdir()
    )


def _recover(book: Path, data: dict[str, bytes]) -> bool:
    """A new refresh after the kill succeeds; True if it had to get past the killed one's lock."""
    lock = lock_path(book)
    left = lock.exists()
    if left and lock.stat().st_size == 0:
        # Killed between creating the lock and writing its process id into it: the lock says
        # nothing, so it is respected for a minute, then counts as left behind.
        with pytest.raises(WorkbookError, match="lock file is still empty"):
            refresh_workbook(book, predict=False)
        old = time.time() - 120
        os.utime(lock, (old, old))
    report = refresh_workbook(book, predict=False)
    assert report.rows_read[SHEET["responses"]] == 1500
    assert not lock.exists()
    _opens(book)
    assert _data_parts(book) == data
    return left


def test_a_refresh_killed_at_each_step_of_the_save_loses_nothing(start, tmp_path):
    original = start.read_bytes()
    old_backup = backup_path(start).read_bytes()
    data = _data_parts(start)
    _, announced = _steps(start, tmp_path / "steps")
    assert all(step in announced for step in STEPS), announced
    assert sorted(STEPS, key=announced.index) == list(STEPS), announced
    # A few children at a time, each on its own copy, each stopped and killed at its own step.
    for batch in (STEPS[i : i + 4] for i in range(0, len(STEPS), 4)):
        running = {step: _fresh(start, tmp_path / step.replace(" ", "-")) for step in batch}
        procs = {step: _child(book, stop=step) for step, book in running.items()}
        for step, proc in procs.items():
            line = ""
            while line != step:
                line = proc.stdout.readline().strip()
                assert line and line != "done", f"the refresh never announced {step!r}: {proc.stderr.read()}"
            assert _kill(proc)
        for book in running.values():
            TALLY["kill points tried"] += 1
            TALLY["at named steps"] += 1
            _check_after_kill(book, original, old_backup, data)
            # Every kill leaves the lock behind: the process it names is gone, so the next refresh runs.
            assert lock_path(book).exists()
            assert _recover(book, data)


def test_a_refresh_killed_at_fractions_of_a_run_loses_nothing(start, tmp_path):
    original = start.read_bytes()
    old_backup = backup_path(start).read_bytes()
    data = _data_parts(start)
    duration, _ = _steps(start, tmp_path / "timing")
    for i, fraction in enumerate(FRACTIONS):
        book = _fresh(start, tmp_path / f"run{i}")
        proc = _child(book)
        time.sleep(fraction * duration)
        if not _kill(proc):
            continue
        TALLY["kill points tried"] += 1
        TALLY["at fractions of a run"] += 1
        _check_after_kill(book, original, old_backup, data)
        _recover(book, data)


def test_two_refreshes_at_once_the_second_refuses(start, tmp_path, capsys):
    book = _fresh(start, tmp_path / "two")
    first = _child(book)
    try:
        deadline = time.monotonic() + 120
        # The lock is created empty and then gets the owner's pid: wait for the pid, since on a busy
        # machine the first run can be seen between the two steps (then the message says "still empty").
        while not (lock_path(book).exists() and lock_path(book).stat().st_size):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.0005)
        with pytest.raises(
            WorkbookError, match=f"being refreshed by another kpi-xl run \\(process {first.pid} on"
        ):
            refresh_workbook(book, predict=False)
        code = cli.main(["refresh", str(book), "--no-predict"])
        err = capsys.readouterr().err
        if lock_path(book).exists():
            assert code == 2 and "is being refreshed by another kpi-xl run" in err
    finally:
        assert first.wait(timeout=300) == 0, first.stderr.read()
        first.stdout.close()
        first.stderr.close()
    assert not lock_path(book).exists()
    refresh_workbook(book, predict=False)
    _opens(book)


def test_a_book_open_in_excel_is_refused_and_nothing_is_written(start, tmp_path, capsys):
    book = _fresh(start, tmp_path / "open")
    (book.parent / f"~${book.name}").write_bytes(b"\x05someone")
    listing = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in book.parent.iterdir()}
    code = cli.main(["refresh", str(book)])
    err = capsys.readouterr().err
    assert code == 2 and "is open in Excel or LibreOffice" in err
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in book.parent.iterdir()} == listing


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lock(book: Path, **info) -> Path:
    path = lock_path(book)
    path.write_text(json.dumps({"started": "2026-01-01T09:00:00", "token": "x", **info}), encoding="utf-8")
    return path


def test_a_lock_left_by_a_process_that_is_gone_is_removed(start, tmp_path):
    book = _fresh(start, tmp_path / "stale")
    _lock(book, pid=_dead_pid(), host=socket.gethostname())
    refresh_workbook(book, predict=False)
    assert not lock_path(book).exists()


def test_a_lock_of_a_running_process_or_another_machine_is_respected(start, tmp_path):
    book = _fresh(start, tmp_path / "held")
    before = book.read_bytes()
    # This very process is running: its lock is live.
    _lock(book, pid=os.getpid(), host=socket.gethostname())
    with pytest.raises(WorkbookError, match=f"process {os.getpid()} on {socket.gethostname()}"):
        refresh_workbook(book, predict=False)
    # Another machine (a book on a network share): its processes cannot be checked from here.
    _lock(book, pid=_dead_pid(), host="another-pc")
    with pytest.raises(WorkbookError, match="on another-pc, started 2026-01-01T09:00:00.*delete it"):
        refresh_workbook(book, predict=False)
    assert book.read_bytes() == before
    assert lock_path(book).exists()


def test_an_empty_lock_is_stale_only_when_older_than_a_minute(start, tmp_path):
    # A refresh killed between creating its lock and writing into it leaves it empty.
    book = _fresh(start, tmp_path / "empty")
    path = lock_path(book)
    path.write_bytes(b"")
    with pytest.raises(WorkbookError, match="being refreshed by another kpi-xl run"):
        refresh_workbook(book, predict=False)
    old = time.time() - 120
    os.utime(path, (old, old))
    refresh_workbook(book, predict=False)
    assert not path.exists()


def test_the_lock_is_released_when_a_refresh_fails(start, tmp_path):
    book = _fresh(start, tmp_path / "fails")
    wb = openpyxl.load_workbook(book, keep_vba=True)
    wb[SHEET["settings"]]["B7"] = 11  # promoters from 11 on a 0-10 scale: the refresh stops
    wb.save(book)
    with pytest.raises(WorkbookError, match="Settings!B7"):
        refresh_workbook(book, predict=False)
    assert not lock_path(book).exists()
