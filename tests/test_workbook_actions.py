"""The closed-loop tabs of the template (Comments, Follow-up, Advocates, Drivers) and the dashboard's
revenue-at-risk card: the workbook shows the engine's numbers, comments stay text, refresh rewrites them,
and a workbook built before these tabs still refreshes."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from kpi_xl import metrics as m
from kpi_xl.safety import set_text
from kpi_xl.workbook import build_template, refresh_workbook
from kpi_xl.workbook.actions import ADVOCATE_ROWS, THEMES_TOP
from kpi_xl.workbook.demo import demo_tables
from kpi_xl.workbook.labels import labels
from kpi_xl.workbook.layout import DEMO_PERIOD

SHEET = labels("en")["sheet"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("actions") / "kpi_report.xlsm")


@pytest.fixture(scope="module")
def wb(template):
    return load_workbook(template)


def _period_responses() -> pd.DataFrame:
    r = demo_tables()["responses"]
    start, end = (pd.Timestamp(d) for d in DEMO_PERIOD)
    r = r[(r["date"] >= start) & (r["date"] <= end)]
    # The planted invalid NPS (11) is left out by the workbook's checks, as here.
    return r[pd.to_numeric(r["nps"], errors="coerce").between(0, 10)]


def test_comments_tab_shows_the_engines_themes(wb):
    ws = wb[SHEET["comments"]]
    assert ws["A4"].value == "Group" and ws["H4"].value == "Example comment"
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=4 + 3 * THEMES_TOP, max_col=7)]
    rows = [r for r in rows if r[0] is not None]
    r = _period_responses()
    want = m.comment_themes(r["comment"], r["nps"].astype(float), top=THEMES_TOP)
    assert [row[1] for row in rows] == want["theme"].tolist()
    np.testing.assert_allclose([row[5] for row in rows], want["g2"])
    assert {row[0] for row in rows} <= {"Detractors", "Passives", "Promoters"}


def test_drivers_tab_and_planning(wb):
    ws = wb[SHEET["drivers"]]
    names = [ws.cell(row=r, column=1).value for r in range(6, 9)]
    assert names == ["Support rating", "Product rating", "Price rating"]
    r = _period_responses()
    want = m.key_drivers(r["nps"].astype(float), r[["price", "support", "product"]], n_boot=200)
    got = [ws.cell(row=r_, column=2).value for r_ in range(6, 9)]
    np.testing.assert_allclose(got, want["importance"].to_numpy())
    assert ws.cell(row=6, column=7).value == "Concentrate here"
    assert ws["A3"].value.startswith("R2 of the score on the ratings")


def test_followup_tab_ranks_by_value_at_risk_and_keeps_comments_as_text(tmp_path):
    # A detractor comment that looks like a formula (text in the user's cell): it must reach the
    # Follow-up tab as text.
    last = demo_tables()["responses"].index[-1]
    path = tmp_path / "book.xlsm"
    shutil.copy(build_template(tmp_path / "tpl.xlsm"), path)
    wb = load_workbook(path)
    ws = wb[SHEET["responses"]]
    ws.cell(row=last + 2, column=4).value = 0
    set_text(ws.cell(row=last + 2, column=7), '=HYPERLINK("http://x","click")')
    wb.save(path)
    refresh_workbook(path)
    wb = load_workbook(path)
    fu = wb[SHEET["followup"]]
    head = [fu.cell(row=23, column=c).value for c in range(1, 15)]
    assert head[:3] == ["Rank", "Customer", "Reason"]
    body = [[fu.cell(row=r_, column=c).value for c in range(1, 15)] for r_ in range(24, 600)]
    body = [b for b in body if b[0] is not None]
    values = [b[11] for b in body if b[11] is not None]
    assert values == sorted(values, reverse=True)
    cell = next(
        fu.cell(row=24 + i, column=6) for i, b in enumerate(body) if b[5] and "HYPERLINK" in str(b[5])
    )
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x","click")'
    with zipfile.ZipFile(path) as z:
        sheet_xml = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>HYPERLINK" in z.read(n) for n in sheet_xml)
    # Revenue at risk: the segment table's total is the dashboard card.
    total_row = next(r_ for r_ in range(6, 20) if fu.cell(row=r_, column=1).value == "Total")
    risk_total = fu.cell(row=total_row, column=6).value
    assert risk_total > 0
    assert fu.cell(row=total_row, column=6).value == pytest.approx(
        sum(fu.cell(row=r_, column=6).value for r_ in range(6, total_row))
    )


def test_advocates_tab_lists_promoters_by_score(wb):
    ws = wb[SHEET["advocates"]]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=4 + ADVOCATE_ROWS, max_col=8)]
    rows = [r for r in rows if r[0] is not None]
    assert rows and all(r[2] >= 9 for r in rows)
    scores = [r[7] for r in rows]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 100


def test_a_workbook_built_before_the_new_tabs_still_refreshes(template, tmp_path):
    # Remove the four tabs and their names, as in a workbook from the first template.
    old = tmp_path / "old.xlsx"
    wb = load_workbook(template)
    for key in ("comments", "followup", "advocates", "drivers"):
        del wb[SHEET[key]]
        del wb.defined_names[f"kpi_sheet_{key}"]
    wb.save(old)
    report = refresh_workbook(old)
    assert any("built before the Comments, Follow-up, Advocates, Drivers tabs" in n for n in report.notes)
