"""The template workbook as built: sheets, Tables, button, names, formulas, labels, benchmarks, demo data."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from kpi_xl.metrics import nps
from kpi_xl.workbook import DEFAULT_TEMPLATE_NAME, WorkbookError, build_template
from kpi_xl.workbook.benchmarks import BENCHMARKS, DIRECTION, INDUSTRIES, TOLERANCE
from kpi_xl.workbook.build import build_workbook
from kpi_xl.workbook.demo import demo_tables
from kpi_xl.workbook.labels import LANGUAGES, labels
from kpi_xl.workbook.layout import (
    DATA_SHEETS,
    MARKER_NAME,
    OWNED,
    SETTINGS,
    SHEETS,
    TABLES,
    setting_name,
    sheet_anchor,
)

# Functions Excel 2010 and LibreOffice 7.4 both know, and all the template may use.
ALLOWED_FUNCTIONS = {
    "COUNTIFS",
    "SUMIFS",
    "AVERAGEIFS",
    "IF",
    "IFERROR",
    "OR",
    "AND",
    "DATE",
    "YEAR",
    "MONTH",
    "SUBSTITUTE",
    # Segment rows: labels trimmed and compared in any case (Excel 2010 and LibreOffice both have these).
    "SUMPRODUCT",
    "ISNUMBER",
    "TRIM",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("build") / DEFAULT_TEMPLATE_NAME)


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _keys(v, prefix + k + ".")
    return out


def test_every_language_has_the_same_labels():
    en = _keys(labels("en"))
    for lang in LANGUAGES:
        assert _keys(labels(lang)) == en, lang
        assert len(labels(lang)["text"]["howto"]) == 5  # "how to use it in five lines"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_headers_and_sheet_names_are_safe_in_formulas(lang):
    lab = labels(lang)
    for table, spec in TABLES.items():
        headers = [lab["col"][table][c.key] for c in spec.columns]
        assert len(set(h.casefold() for h in headers)) == len(headers)
        for h in headers:
            # Characters Excel would require escaping inside a structured reference.
            assert not re.search(r"[\[\]#'@\-/*+=<>^&,.:;{}$\"]", h), (lang, h)
    names = list(lab["sheet"].values())
    assert len(set(names)) == len(names)
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)


def test_unknown_language_is_refused(tmp_path):
    with pytest.raises(WorkbookError, match="unknown language 'fr'"):
        build_template(tmp_path / "x.xlsm", lang="fr")


def test_benchmarks_all_have_a_source_and_a_year():
    assert len(BENCHMARKS) >= 10
    for b in BENCHMARKS:
        assert b.source and b.url.startswith("http") and b.period
        assert re.search(r"(19|20)\d\d", b.period), b
        assert b.metric in TOLERANCE and b.metric in DIRECTION
        assert b.industry in INDUSTRIES
    # The ACSI national figure and the Recurly churn median, as recorded in research/metrics.md.
    acsi = {(b.industry, b.period): b.value for b in BENCHMARKS if b.metric == "acsi"}
    assert acsi[("All industries", "Q4 2023")] == 77.8
    churn = {b.industry: b.value for b in BENCHMARKS if b.metric == "churn_monthly"}
    assert churn["Subscription: all"] == pytest.approx(0.0548)


def test_demo_data_are_reproducible_and_realistic():
    a, b = demo_tables(), demo_tables()
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key])
    total = sum(len(f) for f in a.values())
    assert 3000 <= total <= 12000  # "a few thousand rows"
    resp = a["responses"]
    # SMB is built to have a negative NPS, so the dashboard shows a bar below zero.
    smb = resp.loc[resp["segment"] == "SMB", "nps"]
    assert nps(smb, on_invalid="drop").value < 0
    # The three planted invalid cells.
    assert (resp["nps"] == 11).sum() == 1
    assert (resp["csat"] == "n/a").sum() == 1
    assert (a["orders"]["amount"] == "12,50").sum() == 1
    # German flags use the German words.
    assert set(demo_tables(yes="ja", no="nein")["orders"]["refunded"]) == {"ja", "nein"}


def test_sheets_tables_names_and_marker(built):
    wb = load_workbook(built, keep_vba=True)
    lab = labels("en")
    assert wb.sheetnames == [lab["sheet"][k] for k in SHEETS]
    assert wb[lab["sheet"]["chartdata"]].sheet_state == "hidden"
    assert wb.defined_names[MARKER_NAME].attr_text == '"kpi-xl;1;en"'
    for key in SHEETS:
        assert list(wb.defined_names[sheet_anchor(key)].destinations) == [(lab["sheet"][key], "$A$1")]
    for s in SETTINGS:
        sheet, _ = next(iter(wb.defined_names[setting_name(s.key)].destinations))
        assert sheet == lab["sheet"]["settings"]
    for key in DATA_SHEETS:
        ws = wb[lab["sheet"][key]]
        spec = TABLES[key]
        table = ws.tables[spec.name]
        assert [c.name for c in table.tableColumns] == [lab["col"][key][c.key] for c in spec.columns]
    assert OWNED.isdisjoint(DATA_SHEETS) and "settings" not in OWNED


def test_data_validation_on_the_columns_that_need_it(built):
    wb = load_workbook(built)
    lab = labels("en")
    ws = wb[lab["sheet"]["responses"]]
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert rules["D2:D1048576"].type == "whole" and rules["D2:D1048576"].formula2 == "10"  # NPS 0-10
    assert rules["E2:E1048576"].formula2 == setting_name("csat_scale_max")  # follows the Settings tab
    assert rules["A2:A1048576"].type == "date"
    orders = {str(dv.sqref): dv for dv in wb[lab["sheet"]["orders"]].data_validations.dataValidation}
    assert orders["E2:E1048576"].type == "list" and orders["E2:E1048576"].formula1 == '"yes,no"'
    settings = {str(dv.sqref): dv for dv in wb[lab["sheet"]["settings"]].data_validations.dataValidation}
    assert any(dv.type == "list" and "$E$4" in dv.formula1 for dv in settings.values())  # industry list


def test_macro_enabled_file_with_the_refresh_button(built):
    with zipfile.ZipFile(built) as z:
        names = set(z.namelist())
        types = z.read("[Content_Types].xml").decode()
        vml = z.read("xl/drawings/vmlDrawing1.vml").decode()
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
        rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        vba = z.read("xl/vbaProject.bin")
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    assert "xl/vbaProject.bin" in names
    # The project's macro that the button calls: RunPython "import <book>; <book>.main()".
    assert b"SampleCall" in vba
    assert 'ObjectType="Button"' in vml and "<x:FmlaMacro>[0]!SampleCall</x:FmlaMacro>" in vml
    assert ">Refresh<" in vml
    assert "<legacyDrawing" in sheet1 and "vmlDrawing1.vml" in rels


def test_xlsx_template_has_no_macros(tmp_path):
    out = build_template(tmp_path / "plain.xlsx", empty=True)
    with zipfile.ZipFile(out) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
        assert "macroEnabled" not in z.read("[Content_Types].xml").decode()


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "book.xlsm"
    build_template(target, empty=True)
    before = target.read_bytes()
    with pytest.raises(WorkbookError, match="already exists"):
        build_template(target)
    assert target.read_bytes() == before
    build_template(target, overwrite=True)
    assert (tmp_path / "book (backup).xlsm").read_bytes() == before
    assert target.read_bytes() != before


def test_bad_extension_is_refused(tmp_path):
    with pytest.raises(WorkbookError, match=r"\.xlsm .* or an \.xlsx"):
        build_template(tmp_path / "book.csv")


def test_formulas_use_only_portable_functions():
    wb, expected = build_workbook(lang="de")
    found = set()
    for (sheet, coord), _ in expected.items():
        ws = wb[labels("de")["sheet"][sheet]]
        text = ws[coord].value
        assert text.startswith("=")
        body = re.sub(r'"[^"]*"', '""', text)
        found |= set(re.findall(r"([A-Z][A-Z0-9.]*)\(", body))
    assert found <= ALLOWED_FUNCTIONS, found - ALLOWED_FUNCTIONS
    assert {"COUNTIFS", "SUMIFS", "AVERAGEIFS", "IFERROR"} <= found


def test_every_formula_cell_has_an_engine_value():
    wb, expected = build_workbook()
    lab = labels("en")
    formulas = {
        (key, c.coordinate)
        for key in OWNED
        for row in wb[lab["sheet"][key]].iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    }
    assert formulas == set(expected)
    # No formula anywhere else: the user's sheets are plain data.
    for key in ("settings", *DATA_SHEETS):
        ws = wb[lab["sheet"][key]]
        assert not any(
            isinstance(c.value, str) and c.value.startswith("=") for row in ws.iter_rows() for c in row
        )


def test_dashboard_is_one_landscape_page_and_bars_go_down():
    wb, _ = build_workbook()
    dash = wb[labels("en")["sheet"]["dashboard"]]
    assert dash.page_setup.orientation == "landscape"
    assert dash.sheet_properties.pageSetUpPr.fitToPage
    assert dash.page_setup.fitToWidth == 1 and dash.page_setup.fitToHeight == 1
    charts = dash._charts
    assert len(charts) == 5  # four KPI charts and the top-themes chart
    bars = [c for c in charts if c.tagname == "barChart"]
    for chart in bars:
        for s in chart.series:
            assert s.invertIfNegative is False
    seg = bars[1]
    assert seg.y_axis.crosses == "autoZero"
    assert all(c.visible_cells_only for c in charts)


def test_empty_template_has_empty_tables(tmp_path):
    out = build_template(tmp_path / "empty.xlsm", empty=True, lang="zh-Hant")
    wb = load_workbook(out)
    lab = labels("zh-Hant")
    for key in DATA_SHEETS:
        ws = wb[lab["sheet"][key]]
        assert ws.max_row <= 2
        assert all(c.value is None for c in ws[2])
    assert wb[lab["sheet"]["start"]]["A1"].value == lab["text"]["title"]
