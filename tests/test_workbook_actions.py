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
from kpi_xl.workbook import WorkbookError, build_template, refresh_workbook
from kpi_xl.workbook.actions import ADVOCATE_ROWS, THEMES_BY_TOP, THEMES_TOP
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


# --- a small book whose figures are worked out by hand ------------------------------------------

#: Twelve answers in the reporting period: segment North in October, South in November; in each,
#: three detractors write the same two words and three promoters two others (every comment has
#: text, so all twelve are feedback); four comments were answered after 24, 36, 72 and 54 hours.
_HAND = [
    # date, customer, segment, NPS, comment, answered
    ("2025-10-06", "C00001", "North", 2, "slow delivery", "2025-10-07 12:00"),
    ("2025-10-07", "C00002", "North", 3, "slow delivery", "2025-10-08 00:00"),
    ("2025-10-08", "C00003", "North", 1, "slow delivery", None),
    ("2025-10-09", "C00004", "North", 10, "great staff", "2025-10-12 00:00"),
    ("2025-10-10", "C00005", "North", 9, "great staff", None),
    ("2025-10-13", "C00006", "North", 10, "great staff", None),
    ("2025-11-03", "C00007", "South", 0, "wrong invoice", "2025-11-05 06:00"),
    ("2025-11-04", "C00008", "South", 4, "wrong invoice", None),
    ("2025-11-05", "C00009", "South", 5, "wrong invoice", None),
    ("2025-11-06", "C00010", "South", 9, "fast app", None),
    ("2025-11-07", "C00011", "South", 10, "fast app", None),
    ("2025-11-10", "C00012", "South", 10, "fast app", None),
]


@pytest.fixture(scope="module")
def hand_book(template, tmp_path_factory) -> Path:
    """The template with the twelve answers above as its Responses, the planning targets set to
    20 and 15 points on the Settings tab, refreshed."""
    path = tmp_path_factory.mktemp("hand") / "book.xlsm"
    shutil.copy(template, path)
    wb = load_workbook(path, keep_vba=True)
    ws = wb[SHEET["responses"]]
    head = [c.value for c in ws[1]]
    ws.delete_rows(2, ws.max_row)
    for i, (day, cust, seg, score, text, answered) in enumerate(_HAND, start=2):
        ws.cell(row=i, column=1).value = pd.Timestamp(day).to_pydatetime()
        for col, v in ((2, cust), (3, seg), (4, score), (7, text)):
            ws.cell(row=i, column=col).value = v
        ws.cell(row=i, column=head.index("Feedback answered") + 1).value = (
            None if answered is None else pd.Timestamp(answered).to_pydatetime()
        )
    table = ws.tables["tblResponses"]
    table.ref = f"A1:{table.ref.split(':')[1].rstrip('0123456789')}{len(_HAND) + 1}"
    settings = wb[SHEET["settings"]]
    for r in range(4, 40):
        label = settings.cell(row=r, column=1).value
        if label == labels("en")["setting"]["plan_margin"][0]:
            settings.cell(row=r, column=2).value = 20
        elif label == labels("en")["setting"]["plan_change"][0]:
            settings.cell(row=r, column=2).value = 15
    wb.save(path)
    refresh_workbook(path, predict=False)
    return path


def test_themes_by_segment_and_by_month_worked_by_hand(hand_book):
    # In each segment (and month) the detractors' words are used 3 times in 6 detractor words, never
    # in the 6 promoter words: E = 6 x 3 / 12 = 1.5, G2 = 2 x 3 x ln(3 / 1.5) = 6 ln 2 = 4.1589
    # (>= 3.84); the two-word phrase: 3 of 3 against 0 of 3, the same G2. Every detractor comment
    # mentions them: share 100%.
    ws = load_workbook(hand_book)[SHEET["comments"]]
    head_row = next(r for r in range(30, 60) if ws.cell(row=r, column=1).value == "By")
    assert [ws.cell(row=head_row, column=c).value for c in range(1, 9)] == [
        "By", "Segment or month", "Group", "Theme", "Share of group's comments", "Uses", "G2",
        "Example comment",
    ]  # fmt: skip
    rows = [[ws.cell(row=r, column=c).value for c in range(1, 9)] for r in range(head_row + 1, head_row + 40)]
    rows = [r for r in rows if r[0] is not None]
    want = {
        ("Segment", "North"): ({"slow", "delivery", "slow delivery"}, {"great", "staff", "great staff"}),
        ("Segment", "South"): ({"wrong", "invoice", "wrong invoice"}, {"fast", "app", "fast app"}),
        ("Month", "2025-10"): ({"slow", "delivery", "slow delivery"}, {"great", "staff", "great staff"}),
        ("Month", "2025-11"): ({"wrong", "invoice", "wrong invoice"}, {"fast", "app", "fast app"}),
    }
    assert len(rows) == 4 * 2 * THEMES_BY_TOP
    for (by, label), (det, pro) in want.items():
        for group, themes in (("Detractors", det), ("Promoters", pro)):
            got = [r for r in rows if r[:3] == [by, label, group]]
            assert {r[3] for r in got} == themes
            for r in got:
                assert r[4] == 1.0 and r[5] == 3
                assert r[6] == pytest.approx(6 * np.log(2))
                assert r[3].split()[0] in r[7]


def test_feedback_engagement_worked_by_hand(hand_book):
    # 12 comments, 4 answered: 1/3. Wilson 95%: centre (p + z^2/2n) / (1 + z^2/n), half-width
    # z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n). Hours to answer 24, 36, 54, 72: median 45 h = 1.875 days.
    ws = load_workbook(hand_book)[SHEET["followup"]]
    block = {ws.cell(row=r, column=10).value: ws.cell(row=r, column=14).value for r in range(6, 14)}
    z, n, p = 1.959963984540054, 12, 1 / 3
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert block["Feedback received"] == 12 and block["Answered"] == 4
    assert block["Share answered"] == pytest.approx(1 / 3)
    assert block["Share answered: interval low"] == pytest.approx(centre - half)
    assert block["Share answered: interval high"] == pytest.approx(centre + half)
    assert block["Median time to answer (days)"] == pytest.approx(45 / 24)
    # Four times give no distribution-free 95% interval of the median: even the widest, from the
    # smallest to the largest, covers it with probability 1 - 2 x 0.5^4 = 87.5%. Left blank.
    assert block["Time to answer: interval low"] is None and block["Time to answer: interval high"] is None


def test_planning_targets_are_settings_the_refresh_uses(hand_book):
    # Change target 15 points, shares 6/12 promoters and 6/12 detractors: variance
    # p + d - (p - d)^2 = 1 per period; n = (1.95996 + 0.84162)^2 x 2 / 0.15^2 - 3 = 694.7 -> 695.
    wb = load_workbook(hand_book)
    ws = wb[SHEET["drivers"]]
    cells = {(r, c): ws.cell(row=r, column=c).value for r in range(1, 60) for c in (1, 5)}
    note = next(v for (r, c), v in cells.items() if c == 1 and isinstance(v, str) and "margin of error" in v)
    assert "+/- 20 points" in note and "change of 15 points" in note
    row = next(
        r for (r, c), v in cells.items() if c == 1 and v == "Responses per period to detect a 15-point change"
    )
    assert cells[(row, 5)] == 695
    assert "'Planning: NPS margin of error'" in cells[(row + 1, 1)]
    head = next(r for (r, c), v in cells.items() if c == 1 and v == "Segment" and r > 12)
    plan = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=5).value for r in range(head + 1, head + 4)}
    scores = [x[3] for x in _HAND]
    want = m.nps_sample_size_by_segment(scores, [x[2] for x in _HAND], margin=20)
    assert plan == {"North": want.loc["North", "needed"], "South": want.loc["South", "needed"],
                    "Total": want.loc["Total", "needed"]}  # fmt: skip
    assert want.loc["Total", "needed"] == m.nps_sample_size(20, promoters=0.5, detractors=0.5)
    # The values typed on the Settings tab are the user's: a second refresh keeps them.
    refresh_workbook(hand_book, predict=False)
    settings = load_workbook(hand_book)[SHEET["settings"]]
    typed = {settings.cell(row=r, column=1).value: settings.cell(row=r, column=2).value for r in range(4, 40)}
    assert typed["Planning: NPS margin of error"] == 20
    assert typed["Planning: NPS change to detect"] == 15


def test_a_planning_target_out_of_range_stops_the_refresh_naming_the_setting(hand_book, tmp_path):
    path = tmp_path / "bad.xlsm"
    shutil.copy(hand_book, path)
    wb = load_workbook(path, keep_vba=True)
    settings = wb[SHEET["settings"]]
    for r in range(4, 40):
        if settings.cell(row=r, column=1).value == "Planning: NPS margin of error":
            settings.cell(row=r, column=2).value = 0
    wb.save(path)
    with pytest.raises(WorkbookError, match="NPS margin of error.*more than 0 and at most 100 NPS points"):
        refresh_workbook(path, predict=False)


def test_a_responses_table_without_the_answered_column_shows_no_engagement_figures(template, tmp_path):
    # A book whose Responses table predates the column: "nothing answered" is unknown, not 0%.
    path = tmp_path / "old.xlsm"
    shutil.copy(template, path)
    wb = load_workbook(path, keep_vba=True)
    ws = wb[SHEET["responses"]]
    table = ws.tables["tblResponses"]
    assert table.tableColumns[-1].name == "Feedback answered"
    ws.delete_cols(len(table.tableColumns))
    table.tableColumns.pop()
    end = int(table.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    table.ref = table.autoFilter.ref = f"A1:J{end}"
    wb.save(path)
    refresh_workbook(path, predict=False)
    fu = load_workbook(path)[SHEET["followup"]]
    assert [fu.cell(row=r, column=14).value for r in range(6, 14)] == [None] * 8
    assert fu.cell(row=14, column=10).value.startswith(
        "Add a column 'Feedback answered' to the Responses table"
    )
