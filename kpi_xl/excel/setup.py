"""Registering the Excel functions (:mod:`kpi_xl.udfs`) with Excel, for ``install.py``.

What :func:`register` does, and why each step is needed (``shared/research/xlwings.md`` 1.2-1.4):

1. Looks for Excel (Windows: the registry; macOS: the application bundle). Without Excel it says so
   plainly and stops with success: nothing else in kpi-xl needs Excel.
2. Checks that the installed xlwings is the version kpi-xl pins. The add-in loads a DLL of its own
   version from the Python environment, so a mismatch is the classic "it worked yesterday" failure.
3. Runs ``xlwings addin install`` with this Python, which copies that same version's add-in into
   Excel's start-up folder.
4. Writes two keys into the user's ``~/.xlwings/xlwings.conf``: ``UDF MODULES = kpi_xl.udfs`` and the
   interpreter (this Python), keeping every other key the user has. ``xlwings addin install`` never
   replaces an interpreter left by an older environment, so the key is written here explicitly.
5. Prints the one step that cannot be automated without lowering Excel's macro security: clicking
   *Import Functions* on the xlwings tab (Windows). On macOS classic UDFs do not exist; the add-in
   still serves *Run main*, and the functions come through xlwings Lite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

import xlwings as xw

__all__ = [
    "UDF_MODULE",
    "find_excel",
    "pinned_xlwings_version",
    "read_config",
    "write_config",
    "register",
]

UDF_MODULE = "kpi_xl.udfs"

_MAC_EXCEL = Path("/Applications/Microsoft Excel.app")
_WINDOWS_APP_PATH = r"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\excel.exe"

IMPORT_STEP = (
    "One step left, in Excel (once per workbook): open a macro-enabled workbook that references the "
    "xlwings add-in - workbooks/kpi_report.xlsm, or one made with 'xlwings quickstart' - and click "
    "'Import Functions' on the xlwings tab. Excel asks for this once: File > Options > Trust Center > "
    "Trust Center Settings > Macro Settings > tick 'Trust access to the VBA project object model'. "
    "Then type =NPS(...) in any cell; see docs/excel-functions.md."
)
MAC_STEP = (
    "On macOS Excel runs no classic Python functions (UDFs): the add-in serves the ribbon's 'Run main' "
    "and the report's refresh button. To use =NPS(...) and the other functions on a Mac or in Excel "
    "on the web, follow the xlwings Lite route in docs/excel-functions.md."
)
NO_EXCEL = (
    "Excel was not found on this machine, so the Excel functions were not registered. Everything "
    "else (engine, command line, template workbook) is set up. On a machine with Excel, run "
    "'python install.py' again, or use the xlwings Lite route in docs/excel-functions.md."
)


def _windows_excel() -> str | None:
    import winreg  # Windows only; imported here so the module loads everywhere.

    for hive in (winreg.HKEY_LOCAL_MACHINE, winreg.HKEY_CURRENT_USER):
        try:
            with winreg.OpenKey(hive, _WINDOWS_APP_PATH) as key:
                return str(winreg.QueryValue(key, None))
        except OSError:
            continue
    return None


def _mac_excel() -> str | None:
    return str(_MAC_EXCEL) if _MAC_EXCEL.exists() else None


def find_excel(platform: str = sys.platform) -> str | None:
    """Where Excel is installed (the program's path), or ``None`` when this machine has none."""
    if platform.startswith("win"):
        return _windows_excel()
    if platform == "darwin":
        return _mac_excel()
    return None


def pinned_xlwings_version() -> str | None:
    """The xlwings version kpi-xl's package metadata pins (``xlwings==X``), if installed as a package."""
    try:
        requirements = metadata.requires("kpi-xl") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.match(r"^xlwings\s*==\s*([\w.]+)\s*(;.*)?$", requirement)
        if match:
            return match.group(1)
    return None


_LINE = re.compile(r'^\s*"([^"]*)"\s*,\s*"([^"]*)"\s*$')


def read_config(path: Path) -> dict[str, str]:
    """Keys (upper-cased) and values of an xlwings.conf file; missing file -> empty."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _LINE.match(line)
        if match:
            out[match.group(1).upper()] = match.group(2)
    return out


def write_config(path: Path, settings: Mapping[str, str]) -> None:
    """Set ``settings`` in an xlwings.conf file (``"KEY","value"`` lines), keeping every other line.

    Keys match case-insensitively, as xlwings reads them; a key already there is replaced in place,
    a new one appended. The file is written to a temporary name and swapped in, so an interrupted
    write never leaves a half file that would break xlwings for every workbook.
    """
    wanted = {k.upper(): v for k, v in settings.items()}
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    done: set[str] = set()
    out = []
    for line in lines:
        match = _LINE.match(line)
        key = match.group(1).upper() if match else None
        if key in wanted:
            if key not in done:
                out.append(f'"{key}","{wanted[key]}"')
                done.add(key)
            continue
        out.append(line)
    out.extend(f'"{k}","{v}"' for k, v in wanted.items() if k not in done)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _xlwings_command(python: str, *args: str) -> list[str]:
    # xlwings has no "python -m xlwings"; its console script is xlwings.cli:main, which reads
    # sys.argv[1:] - exactly the arguments after "-c <code>".
    return [python, "-c", "from xlwings.cli import main; main()", *args]


def register(
    *,
    platform: str = sys.platform,
    python: str = sys.executable,
    config_file: Path | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    out: Callable[[str], None] = print,
) -> int:
    """Set up the Excel functions where Excel exists; return a process exit code (0 = fine).

    Parameters
    ----------
    platform, python:
        The operating system (``sys.platform`` style) and the interpreter Excel should run.
    config_file:
        The user's xlwings.conf; default ``~/.xlwings/xlwings.conf``.
    run, out:
        How commands are run and messages printed (replaced in tests).
    """
    excel = find_excel(platform)
    if excel is None:
        out(NO_EXCEL)
        return 0
    out(f"Excel found: {excel}")
    pinned, installed = pinned_xlwings_version(), xw.__version__
    if pinned is not None and pinned != installed:
        out(
            f"xlwings {installed} is installed but kpi-xl needs exactly {pinned} (the Excel add-in "
            f"must match the Python package). Run: {python} -m pip install xlwings=={pinned}"
        )
        return 1
    command = _xlwings_command(python, "addin", "install")
    result = run(command)
    if result.returncode != 0:
        out(
            "Installing the xlwings add-in failed (see the message above). Close Excel and run this again, "
            f"or by hand: {' '.join(command)}"
        )
        return 1
    conf = config_file or Path(xw.USER_CONFIG_FILE)
    interpreter_key = "INTERPRETER_MAC" if platform == "darwin" else "INTERPRETER_WIN"
    write_config(conf, {"UDF MODULES": UDF_MODULE, interpreter_key: python})
    out(
        f"xlwings {installed} add-in installed; {conf} now has UDF MODULES = {UDF_MODULE} "
        f"and {interpreter_key}."
    )
    out(MAC_STEP if platform == "darwin" else IMPORT_STEP)
    return 0
