"""The template in a real spreadsheet application: LibreOffice recalculates every native formula, which
must give no error and exactly the engine's value; the dashboard is rendered to a picture.

Uses ``../shared/tools/recalc.py`` (relative to the repository root). Skipped only when LibreOffice
(``soffice``) is not installed; CI installs ``libreoffice-calc`` and ``poppler-utils``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from kpi_xl.workbook import build_template, expected_values, refresh_workbook
from kpi_xl.workbook.labels import labels

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".." / "shared" / "tools"

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None and shutil.which("libreoffice") is None,
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc",
)


@pytest.fixture(scope="module")
def recalc():
    sys.path.insert(0, str(TOOLS.resolve()))
    try:
        import recalc as tool
    finally:
        sys.path.pop(0)
    return tool


def _same(got, want) -> bool:
    if want is None or want == "":
        return got in (None, "")
    if isinstance(want, (dt.datetime, dt.date)):
        return got == want
    if isinstance(want, str):
        return got == want
    return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def _check_against_engine(recalc, path: Path) -> int:
    """Recalculate in LibreOffice; each formula cell must be error-free and equal the engine."""
    out, errors, lint, n = recalc.recalc(str(path), str(path.with_suffix(".recalc.xlsx")))
    assert errors == [], errors[:5]
    assert lint == [], lint[:5]
    want = expected_values(path)
    assert len(want) == n, "every formula cell must have an engine value to compare with"
    wb = load_workbook(out, data_only=True)
    wrong = [
        (sheet, coord, wb[sheet][coord].value, value)
        for (sheet, coord), value in want.items()
        if not _same(wb[sheet][coord].value, value)
    ]
    assert wrong == [], wrong[:10]
    return n


@pytest.mark.parametrize(("lang", "empty"), [("en", False), ("de", False), ("zh-Hant", False), ("en", True)])
def test_every_native_formula_equals_the_engine_in_libreoffice(recalc, tmp_path, lang, empty):
    path = build_template(tmp_path / "kpi_report.xlsm", lang=lang, empty=empty)
    assert _check_against_engine(recalc, path) > 500


def test_formulas_follow_user_edits_and_a_refresh(recalc, tmp_path):
    path = build_template(tmp_path / "kpi_report.xlsm")
    sheet = labels("en")["sheet"]
    wb = load_workbook(path, keep_vba=True)
    resp = wb[sheet["responses"]]
    # Two answers become invalid in new ways and an SMB detractor becomes a promoter.
    resp["D2"], resp["E3"] = 9.5, "5"
    for r in range(2, resp.max_row + 1):
        if resp.cell(row=r, column=3).value == "SMB" and resp.cell(row=r, column=1).value >= dt.datetime(
            2025, 12, 1
        ):
            resp.cell(row=r, column=4).value = 10
            break
    wb[sheet["settings"]]["B17"] = 10  # minimum segment size 10
    wb.save(path)
    report = refresh_workbook(path)
    assert {(i.column, i.value) for i in report.invalid} >= {("NPS score", 9.5), ("CSAT score", "5")}
    # 9.5 in January 2024 lies outside every window the formulas look at, so they still agree.
    _check_against_engine(recalc, path)


def test_segment_rows_group_padded_mixed_case_and_blank_labels_as_the_engine(recalc, tmp_path):
    # One policy in live formulas and refreshed values: " smb" and "Smb " are SMB, blanks are the
    # "(blank)" row, and the segment rows add up to the Total.
    path = build_template(tmp_path / "kpi_report.xlsm")
    sheet = labels("en")["sheet"]
    wb = load_workbook(path, keep_vba=True)
    resp, cust = wb[sheet["responses"]], wb[sheet["customers"]]
    spellings = [" smb", "Smb ", None, "\u00a0smb", "  "]
    changed = 0
    for r in range(2, resp.max_row + 1):
        in_period = resp.cell(row=r, column=1).value >= dt.datetime(2025, 12, 1)
        if resp.cell(row=r, column=3).value == "SMB" and in_period and changed < len(spellings):
            resp.cell(row=r, column=3).value = spellings[changed]
            changed += 1
    cust["B2"], cust["B3"] = None, " enterprise"
    assert changed == len(spellings)
    wb.save(path)
    refresh_workbook(path)
    _check_against_engine(recalc, path)
    seg = load_workbook(path)[sheet["segments"]]
    labels_shown = [seg.cell(row=r, column=1).value for r in range(1, seg.max_row + 1)]
    assert "(blank)" in labels_shown and "smb" not in labels_shown and " smb" not in labels_shown


def test_an_old_dashboard_refreshed_gets_cards_whose_formulas_equal_the_engine(recalc, tmp_path):
    # The closed-loop cards a refresh adds to a dashboard built without them (test_workbook_refresh):
    # their formulas recalculate without error to the engine's revenue at risk and call-back count.
    from test_workbook_refresh import _without_closed_loop_cards

    old = _without_closed_loop_cards(build_template(tmp_path / "tpl.xlsm"), tmp_path / "old.xlsm")
    refresh_workbook(old)
    _check_against_engine(recalc, old)
    dashboard = labels("en")["sheet"]["dashboard"]
    want = expected_values(old)
    assert want[(dashboard, "L5")] > 0 and want[(dashboard, "L10")] > 0


def _ppm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P6"
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][: w * h * 3], dtype=np.uint8).reshape(h, w, 3)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_dashboard_renders_on_one_page_with_charts_and_a_downward_bar(recalc, tmp_path):
    path = build_template(tmp_path / "kpi_report.xlsm")
    # The charts as they are after refresh has rewritten the file (two openpyxl round trips).
    refresh_workbook(path)
    refresh_workbook(path)
    # Page 1 is the start sheet (fitted to one page), page 2 the dashboard.
    opts = json.dumps({"PageRange": {"type": "string", "value": "2"}})
    rc, log = recalc.convert(str(path), str(tmp_path), f"pdf:calc_pdf_Export:{opts}", 180)
    pdf = tmp_path / "kpi_report.pdf"
    assert pdf.exists(), log
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for words in ("Customer KPI dashboard", "NPS distribution", "NPS by segment", "Cohort retention", "SMB"):
        assert words in text
    subprocess.run(
        ["pdftoppm", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "dash")], check=True
    )
    img = _ppm(next(tmp_path.glob("dash*.ppm")))
    h, w, _ = img.shape
    assert w > h  # landscape
    ink = (img < 235).any(axis=2).mean()
    assert ink > 0.05, f"the page is nearly blank ({ink:.1%} ink)"

    def near(colour: str) -> np.ndarray:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)])
        return (np.abs(img.astype(int) - rgb) <= 30).all(axis=2)

    # Detractor, passive and promoter bars in their colours.
    for colour in ("C0392B", "E6A23C", "2E8B57"):
        assert near(colour).sum() > 50, colour
    # NPS by segment sits in the lower left quarter: blue columns, SMB negative.
    blue = near("2F6EBA")
    blue[: h // 2, :] = False
    blue[:, w // 2 :] = False
    cols = np.flatnonzero(blue.any(axis=0))
    bars = np.split(cols, np.flatnonzero(np.diff(cols) > 2) + 1)
    assert len(bars) == 4
    spans = [
        (np.flatnonzero(blue[:, b].any(axis=1)).min(), np.flatnonzero(blue[:, b].any(axis=1)).max())
        for b in bars
    ]
    bottoms = sorted(bottom for _, bottom in spans)
    zero = np.median(bottoms[1:])  # the three positive bars end on the zero line
    negative = [s for s in spans if s[1] > zero + 3]
    assert len(negative) == 1, spans
    top, bottom = negative[0]
    assert abs(top - zero) <= 3, "the negative bar must start at zero and go down"
