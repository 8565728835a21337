"""Nothing in a user's file is ever executed or evaluated by kpi-xl.

* The package holds no code that could run text as code or revive objects from bytes: no eval, exec,
  compile, pickle, marshal, shelve, pandas eval/query, numpy pickles, shell commands, formula
  evaluators (the workbook's formulas are read as the values Excel last calculated).
* openpyxl parses workbook XML through defusedxml, checked when kpi-xl's workbook part is imported:
  without it kpi-xl refuses to start, with a message saying why.
* Column names from a file reach DuckDB's SQL only quoted: a header written as SQL stays a name.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import openpyxl.xml
import pytest

from kpi_xl import cli
from kpi_xl.safety import check_openpyxl_is_defused

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [*(REPO / "kpi_xl").rglob("*.py"), REPO / "install.py", REPO / "workbooks" / "kpi_report.py"]
)

# Calls that run text as code.
CODE_RUNNERS = {"eval", "exec", "compile", "__import__", "execfile", "breakpoint"}
# Modules that revive objects from bytes (running their code) or evaluate spreadsheet formulas.
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    "jsonpickle",
    "yaml",
    "formulas",
    "pycel",
    "koala",
    "xlcalculator",
    "code",
    "codeop",
}
# Methods that evaluate expressions or unpickle: pandas eval/query, read_pickle, numpy pickles.
UNSAFE_METHODS = {"eval", "query", "read_pickle", "unsafe_load", "load_model"}
SHELL_CALLS = {("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execvp"), ("os", "spawnl")}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [
                f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in CODE_RUNNERS:
                found.append(f"{where} calls {f.id}()")
            if isinstance(f, ast.Attribute):
                # re.compile is a regular expression, not code: only eval/exec as attributes count.
                if f.attr in UNSAFE_METHODS or f.attr in CODE_RUNNERS - {"compile"}:
                    found.append(f"{where} calls .{f.attr}()")
                owner = f.value.id if isinstance(f.value, ast.Name) else ""
                if (owner, f.attr) in SHELL_CALLS or owner in UNSAFE_MODULES:
                    found.append(f"{where} calls {owner}.{f.attr}()")
            for kw in node.keywords:
                unsafe_kw = kw.arg in ("shell", "allow_pickle") and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                )
                if unsafe_kw:
                    found.append(f"{where} passes {kw.arg}={ast.unparse(kw.value)}")
    return found


def test_the_scan_would_see_each_kind_of_code_runner(tmp_path):
    # The scanner itself, on a file that does everything the package must not.
    bad = tmp_path / "probe.py"
    sample = (
        "import pickle\nfrom yaml import load\nimport os, subprocess\n"
        "eval('1')\nexec('x = 1')\npickle.loads(b'')\ndf.query('a > 1')\nos.system('ls')\n"
        "subprocess.run('ls', shell=True)\nnp.load('x.npy', allow_pickle=True)\npd.read_pickle('x')\n"
    )
    bad.write_text(sample, encoding="utf-8")
    kinds = _findings(bad)
    # Two imports, eval, exec, pickle.loads, query, os.system, shell=True, allow_pickle=True, read_pickle.
    assert len(kinds) == 10, kinds


def test_no_code_in_the_package_runs_text_or_revives_objects():
    assert len(SOURCES) > 30
    found = [f for path in SOURCES for f in _findings(path)]
    assert found == []


def test_openpyxl_parses_through_defusedxml_here():
    assert openpyxl.xml.DEFUSEDXML is True
    check_openpyxl_is_defused()


@pytest.mark.parametrize(
    "setup",
    [
        # openpyxl's own switch to turn defusedxml off.
        "import os; os.environ['OPENPYXL_DEFUSEDXML'] = 'False'",
        # defusedxml not installed.
        "import sys; sys.modules['defusedxml'] = None",
    ],
    ids=["switched-off", "not-installed"],
)
def test_kpi_xl_refuses_to_start_without_defusedxml(setup):
    code = f"{setup}\nimport kpi_xl.workbook"
    env = {k: v for k, v in os.environ.items() if k != "OPENPYXL_DEFUSEDXML"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert "ImportError: kpi-xl refuses to run: openpyxl is not parsing XML through defusedxml" in done.stderr


def test_a_header_written_as_sql_stays_a_column_name(tmp_path, capsys):
    # On the DuckDB path every header is an identifier in generated SQL; quoted, it cannot escape.
    target = tmp_path / "pwned.csv"
    evil = f"x\"\" ); COPY (SELECT 42) TO '{target}'; --"
    src = tmp_path / "survey.csv"
    src.write_text(f'Customer,NPS,"{evil}"\nc1,10,a\nc2,9,b\nc3,0,c\n', encoding="utf-8")
    code = cli.main(["report", str(src), "--engine", "duckdb", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    # NPS of 10, 9, 0: promoters 2, detractors 1 -> 100 * 1 / 3.
    assert '"value": 33.33333333333333' in out or '"value": 33.333333333333336' in out, out
    assert not target.exists()
