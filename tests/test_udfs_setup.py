"""Registering the Excel functions (kpi_xl.excel.setup): Excel found or not, the add-in, xlwings.conf."""

from __future__ import annotations

import subprocess

import pytest
import xlwings as xw

from kpi_xl.excel import setup


class Recorder:
    """Stands in for subprocess.run and print."""

    def __init__(self, returncode: int = 0) -> None:
        self.returncode = returncode
        self.commands: list[list[str]] = []
        self.lines: list[str] = []

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode)

    def out(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def windows_with_excel(monkeypatch):
    monkeypatch.setattr(
        setup, "_windows_excel", lambda: r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE"
    )


def test_without_excel_says_so_and_succeeds():
    rec = Recorder()
    assert setup.register(platform="linux", run=rec.run, out=rec.out) == 0
    assert rec.commands == []
    assert "Excel was not found on this machine" in rec.text and "Everything else" in rec.text


def test_windows_installs_addin_writes_config_keeps_user_keys_and_names_the_last_step(
    windows_with_excel, tmp_path
):
    conf = tmp_path / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir()
    conf.write_text('"LICENSE_KEY","abc"\n"INTERPRETER_WIN","C:\\old\\python.exe"\n"Show Console","True"\n')
    rec = Recorder()
    python = r"C:\Users\ana\kpi\.venv\Scripts\python.exe"
    code = setup.register(platform="win32", python=python, config_file=conf, run=rec.run, out=rec.out)
    assert code == 0
    # The add-in of the installed (pinned) xlwings, installed by the Python Excel will run.
    assert rec.commands == [[python, "-c", "from xlwings.cli import main; main()", "addin", "install"]]
    assert setup.read_config(conf) == {
        "LICENSE_KEY": "abc",
        "INTERPRETER_WIN": python,
        "SHOW CONSOLE": "True",
        "UDF MODULES": "kpi_xl.udfs",
    }
    # The user's lines are kept as they were, in place; the stale interpreter is replaced.
    lines = conf.read_text().splitlines()
    assert lines[0] == '"LICENSE_KEY","abc"' and lines[2] == '"Show Console","True"'
    assert "Import Functions" in rec.text and "Trust access to the VBA project object model" in rec.text


def test_macos_writes_the_mac_interpreter_and_points_to_xlwings_lite(monkeypatch, tmp_path):
    monkeypatch.setattr(setup, "_mac_excel", lambda: "/Applications/Microsoft Excel.app")
    conf = tmp_path / "xlwings.conf"
    rec = Recorder()
    assert (
        setup.register(
            platform="darwin", python="/usr/bin/python3", config_file=conf, run=rec.run, out=rec.out
        )
        == 0
    )
    assert setup.read_config(conf) == {"UDF MODULES": "kpi_xl.udfs", "INTERPRETER_MAC": "/usr/bin/python3"}
    assert "xlwings Lite" in rec.text and "Import Functions" not in rec.text


def test_addin_install_failure_is_reported_and_nothing_written(windows_with_excel, tmp_path):
    conf = tmp_path / "xlwings.conf"
    rec = Recorder(returncode=1)
    assert setup.register(platform="win32", config_file=conf, run=rec.run, out=rec.out) == 1
    assert "Installing the xlwings add-in failed" in rec.text and "addin install" in rec.text
    assert not conf.exists()


def test_xlwings_version_must_match_the_pin(windows_with_excel, monkeypatch, tmp_path):
    monkeypatch.setattr(setup, "pinned_xlwings_version", lambda: "0.1.0")
    rec = Recorder()
    assert setup.register(platform="win32", config_file=tmp_path / "c.conf", run=rec.run, out=rec.out) == 1
    assert rec.commands == []
    assert f"xlwings {xw.__version__} is installed but kpi-xl needs exactly 0.1.0" in rec.text


def test_the_pin_comes_from_the_package_metadata():
    # pyproject.toml pins xlwings exactly; the venv has that version installed.
    assert setup.pinned_xlwings_version() == xw.__version__


def test_find_excel_on_linux_is_none():
    assert setup.find_excel("linux") is None


def test_write_config_creates_the_file_and_replaces_duplicates(tmp_path):
    conf = tmp_path / "sub" / "xlwings.conf"
    setup.write_config(conf, {"UDF Modules": "kpi_xl.udfs"})
    assert conf.read_text() == '"UDF MODULES","kpi_xl.udfs"\n'
    conf.write_text('"udf modules","a"\nnot a setting\n"UDF MODULES","b"\n')
    setup.write_config(conf, {"UDF MODULES": "kpi_xl.udfs"})
    assert conf.read_text() == '"UDF MODULES","kpi_xl.udfs"\nnot a setting\n'
