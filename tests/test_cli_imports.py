"""Start-up: what importing the command line and the engine pulls in (checked, not timed).

Each check runs in a fresh interpreter, because this test process has long imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "openpyxl", "duckdb", "pyarrow", "xlwings")


def imported_after(code: str) -> list[str]:
    """The HEAVY modules (and scipy.stats, kpi_xl's CLV models) loaded once ``code`` has run in a fresh
    process."""
    watched = HEAVY + ("scipy.stats", "kpi_xl.metrics.clv")
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_command_line_imports_no_engine_or_reader():
    assert imported_after("import kpi_xl.cli") == []


def test_parsing_a_command_imports_nothing_heavy():
    code = "import kpi_xl.cli as c; c.build_parser().parse_args(['template', '-o', 'x.xlsm'])"
    assert imported_after(code) == []


@pytest.mark.parametrize("command", ["report", "metric", "clv"])
def test_help_of_a_command_lists_roles_without_scipy_or_duckdb(command):
    # The help lists the metric catalog and its roles, which import the engine (pandas), but not
    # scipy, DuckDB or openpyxl.
    code = (
        "import contextlib, io, kpi_xl.cli as c\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        f"    c.main([{command!r}, '--help'])\n"
        "assert 'order_id' in out.getvalue()"
    )
    assert set(imported_after(code)) <= {"pandas", "pyarrow"}


def test_the_engine_imports_a_family_when_it_is_used():
    assert imported_after("import kpi_xl.metrics") == []
    # NPS needs survey (pandas for its column cleaning), not scipy.stats nor the CLV models.
    got = imported_after("from kpi_xl.metrics import nps; nps([10, 9, 3, 8])")
    assert not {"scipy.stats", "kpi_xl.metrics.clv", "duckdb", "openpyxl"} & set(got)
    assert "kpi_xl.metrics.clv" in imported_after("from kpi_xl.metrics import BetaGeoFitter")


def test_lazy_engine_names_are_the_same_objects():
    import kpi_xl.metrics as m
    from kpi_xl.metrics import clv, survey

    assert m.nps is survey.nps and m.BetaGeoFitter is clv.BetaGeoFitter
    assert {"nps", "predict_clv", "KpiInputError", "catalog"} <= set(m.__all__)
    assert {"nps", "survey", "catalog"} <= set(dir(m))
    with pytest.raises(AttributeError, match="no attribute 'no_such_metric'"):
        m.no_such_metric  # noqa: B018


def test_usual_z_values_are_scipys_to_the_bit():
    from scipy.special import ndtri

    from kpi_xl.metrics._intervals import _Z, z_value

    for c, z in _Z.items():
        assert z == float(ndtri(0.5 + c / 2.0)) == z_value(c)
    assert z_value(0.97) == float(ndtri(0.985))


def test_a_cold_excel_servers_first_nps_imports_no_scipy():
    got = imported_after("from kpi_xl.metrics import nps; nps([10, 9, 3, 8, None, 7.0])")
    assert "scipy" not in got and "kpi_xl.metrics.clv" not in got


def test_the_file_checks_import_no_openpyxl():
    # A CSV is checked without openpyxl; the defusedxml check runs where workbooks go to openpyxl.
    assert "openpyxl" not in imported_after("import kpi_xl.safety")
    assert "openpyxl" in imported_after("import kpi_xl.workbook")
