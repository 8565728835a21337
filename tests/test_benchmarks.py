"""The benchmark suite's quick mode: every comparison runs and kpi-xl gives the anchor's answer.

Times are not checked here (a test must not depend on the machine's speed); ``benchmarks/run.py``
reports them, and ``benchmarks/RESULTS.md`` holds the last full run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_quick_suite_runs_and_every_answer_agrees(tmp_path):
    cases = ["nps", "udf", "startup", "clv", "clv_family", "scale", "actions"]
    if shutil.which("soffice"):
        cases += ["segments", "refresh"]
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--cases", *cases, "--json", str(out)]
        + ["--data", str(tmp_path / "data")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.exists(), done.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert {r["case"] for r in rows} == set(cases)
    for r in rows:
        assert "FAILED" not in r["measure"] and "timed out" not in r["measure"], r
        assert "DIFFER" not in r["agree"], r
        assert r["kpi_s"] > 0
    clv = next(r for r in rows if r["measure"].startswith("BG/NBD"))
    assert "LL rel. diff" in clv["agree"]
    if "refresh" in cases:
        refresh = next(r for r in rows if r["case"] == "refresh")
        have, total = (int(x.replace(",", "")) for x in refresh["agree"].split(" formula")[0].split(" of "))
        assert have == total > 500
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("bad", [["--cases", "nope"]])
def test_unknown_case_is_refused(bad):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *bad], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr
