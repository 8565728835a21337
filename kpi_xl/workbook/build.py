"""Build the template workbook: ``build_template(path, lang="en", empty=False)``.

Every tab is produced by openpyxl. The only part openpyxl cannot write from scratch is the VBA
project behind the Refresh button; it is a build asset, ``vbaProject.bin``, taken unchanged from
xlwings' own ``quickstart.xlsm`` (xlwings 0.37.8, BSD 3-clause licence, copyright Zoomer
Analytics GmbH; the notice is in ``VBA_PROJECT_LICENSE.txt`` next to this file). Its one macro,
``Module1.SampleCall``, runs ``RunPython "import <workbook name>; <workbook name>.main()"``,
which is exactly what the xlwings ribbon's *Run main* does. openpyxl carries that project into the
file through its ``vba_archive`` mechanism, together with a small VML drawing that is the Form
button on the start sheet (``[0]!SampleCall``). A refresh never loads the book into openpyxl: it
rewrites only the owned sheets' cells and copies every other part, the VBA project and the button
included, byte for byte (:mod:`kpi_xl.workbook.package`).

Run ``python -m kpi_xl.workbook.build [PATH] [--lang de] [--empty]`` to regenerate
``workbooks/kpi_report.xlsm``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
import time
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Border, PatternFill, Side
from openpyxl.styles import Font as _Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from ..safety import set_text
from .actions import build_action_sheets
from .benchmarks import BENCHMARKS, INDUSTRIES
from .charts import add_clv_holdout_chart, add_dashboard_charts
from .compute import compute, prepare, read_settings
from .demo import demo_tables
from .errors import WorkbookError
from .labels import LANGUAGES, labels
from .layout import (
    BENCH_HEADER_ROW,
    CARD_WIDTH,
    CARDS,
    CHART_COHORT_ROW,
    CHART_DIST_ROW,
    CHART_SEG_ROW,
    CHART_THEMES_ROW,
    CHART_TREND_ROW,
    COHORT_HEADER_ROW,
    COHORT_PERIODS,
    COHORT_ROWS,
    DASHBOARD_ROWS,
    DEFAULT_TEMPLATE_NAME,
    HOLDOUT_COL,
    HOLDOUT_FREQ_ROW,
    HOLDOUT_ROW,
    MARKER_NAME,
    PROJECTION_COL,
    REPORT_SHEETS,
    SEGMENT_BLOCKS,
    SETTINGS,
    SHEETS,
    SIDE_COL,
    SIDE_GAP_WIDTH,
    SLOTS,
    START,
    TABLES,
    TEMPLATE_VERSION,
    TREND_COLS,
    TREND_PY,
    TRENDS_HEADER_ROW,
    block_row,
    card_cell,
    setting_name,
    sheet_anchor,
)
from .package import fonts_in_schema_order, rewrite_part
from .sheets import (
    CLV_COLUMNS,
    CLV_SCHEDULE_COL,
    CLV_TABLE_ROW,
    DATE_FORMATS,
    DATETIME_FORMATS,
    FORMATS,
    Context,
    Status,
    place,
)

__all__ = ["build_template", "build_workbook", "default_template_path", "BuildSink", "main"]


def Font(**kw: Any) -> _Font:
    """A font with an explicit family, so LibreOffice does not fall back to a serif face."""
    return _Font(name="Calibri", **kw)


_TITLE = Font(size=16, bold=True, color="1F3A5F")
_H2 = Font(size=12, bold=True, color="1F3A5F")
_HEAD = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F3A5F")
_PY_HEAD_FILL = PatternFill("solid", fgColor="7F8C9A")
_PY_FONT = Font(color="5F6B78", italic=True)
_NOTE = Font(italic=True, color="5F6B78")
_CARD_FILL = PatternFill("solid", fgColor="F2F5F9")
_CARD_VALUE = Font(size=20, bold=True, color="1F3A5F")
_THIN = Side(style="thin", color="C8D1DC")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_AMBER_FILL = PatternFill("solid", fgColor="FCE9C4")
_GREEN_FILL = PatternFill("solid", fgColor="CDEBD6")
_RED_FILL = PatternFill("solid", fgColor="F6CFCB")
_SELECTED_FILL = PatternFill("solid", fgColor="E3ECF8")

#: The Refresh button: an Excel Form control (legacy VML drawing) that calls the VBA project's
#: SampleCall. Anchor = left column, offset, top row, offset, right column, offset, bottom row,
#: offset (0-based cells): here B11 to D13, i.e. covering B11:C12.
_BUTTON_VML = """<xml xmlns:v="urn:schemas-microsoft-com:vml" \
xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">
 <o:shapelayout v:ext="edit">
  <o:idmap v:ext="edit" data="1"/>
 </o:shapelayout>
 <v:shapetype id="_x0000_t201" coordsize="21600,21600" o:spt="201" path="m,l,21600r21600,l21600,xe">
  <v:stroke joinstyle="miter"/>
  <v:path shadowok="f" o:extrusionok="f" strokeok="f" fillok="f" o:connecttype="rect"/>
  <o:lock v:ext="edit" shapetype="t"/>
 </v:shapetype>
 <v:shape id="_x0000_s1025" type="#_x0000_t201" style="position:absolute;margin-left:60pt;margin-top:150pt;\
width:150pt;height:30pt;z-index:1;mso-wrap-style:tight" o:button="t" fillcolor="buttonFace [67]" \
strokecolor="windowText [64]" o:insetmode="auto">
  <v:fill color2="buttonFace [67]" o:detectmouseclick="t"/>
  <o:lock v:ext="edit" rotation="t"/>
  <v:textbox style="mso-direction-alt:auto" o:singleclick="f">
   <div style="text-align:center"><font face="Calibri" size="240" color="#000000"><b>{caption}</b></font>\
</div>
  </v:textbox>
  <x:ClientData ObjectType="Button">
   <x:Anchor>{anchor}</x:Anchor>
   <x:PrintObject>False</x:PrintObject>
   <x:AutoFill>False</x:AutoFill>
   <x:FmlaMacro>[0]!SampleCall</x:FmlaMacro>
   <x:TextHAlign>Center</x:TextHAlign>
   <x:TextVAlign>Center</x:TextVAlign>
  </x:ClientData>
 </v:shape>
</xml>
"""
VML_PATH = "xl/drawings/vmlDrawing1.vml"

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>\
<Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>\
<Override PartName="/xl/vbaProject.bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>"""


def default_template_path() -> Path:
    """``workbooks/kpi_report.xlsm`` in the source checkout (next to the ``kpi_xl`` package)."""
    return Path(__file__).resolve().parents[2] / "workbooks" / DEFAULT_TEMPLATE_NAME


def _vba_archive(caption: str) -> zipfile.ZipFile:
    """The parts openpyxl copies into a macro-enabled file: the VBA project and the button."""
    buf = io.BytesIO()
    archive = zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED)
    archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
    archive.writestr("_rels/.rels", _ROOT_RELS)
    archive.writestr(
        "xl/vbaProject.bin", resources.files(__package__).joinpath("vbaProject.bin").read_bytes()
    )
    r0, r1 = START.button_rows
    anchor = f"1, 0, {r0 - 1}, 0, 3, 0, {r1}, 0"
    archive.writestr(VML_PATH, _BUTTON_VML.format(caption=_xml_text(caption), anchor=anchor))
    return archive


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BuildSink:
    """Writes placed cells into openpyxl sheets and records the engine's value of each formula.

    Used by build and by the file refresh (the workbook is then the loaded user file).
    """

    def __init__(self, sheets: dict[str, Any]) -> None:
        self.sheets = sheets
        self.expected: dict[tuple[str, str], Any] = {}

    def _cell(self, sheet: str, row: int, col: int) -> Any:
        return self.sheets[sheet].cell(row=row, column=col)

    def formula(
        self, sheet: str, row: int, col: int, text: str, expected: Any, fmt: str | None = None
    ) -> None:
        cell = self._cell(sheet, row, col)
        cell.value = "=" + text
        if fmt:
            cell.number_format = fmt
        self.expected[(sheet, cell.coordinate)] = expected

    def value(self, sheet: str, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        cell = self._cell(sheet, row, col)
        set_text(cell, value)
        if fmt:
            cell.number_format = fmt

    def rows(self, sheet: str, row: int, col: int, values, fmts=None) -> None:
        ws = self.sheets[sheet]
        for i, line in enumerate(values):
            for j, v in enumerate(line):
                cell = ws.cell(row=row + i, column=col + j)
                set_text(cell, v)
                if fmts and j < len(fmts) and fmts[j]:
                    cell.number_format = fmts[j]

    def clear(self, sheet: str, first_row: int, last_col: int, last_row: int | None = None) -> None:
        ws = self.sheets[sheet]
        for r in range(first_row, (last_row or ws.max_row) + 1):
            for c in range(1, last_col + 1):
                ws.cell(row=r, column=c).value = None

    def hide_rows(self, sheet: str, first: int, last: int, hidden: bool) -> None:
        ws = self.sheets[sheet]
        for r in range(first, last + 1):
            ws.row_dimensions[r].hidden = hidden


def _frame_rows(frame: pd.DataFrame, spec) -> list[list[Any]]:
    """DataFrame -> lists of plain Python values for openpyxl: dates as ``date`` (or ``datetime``
    where the column keeps the time of day), numbers, text, and None for blanks."""
    cols = []
    for col in spec.columns:
        s = frame[col.key]
        if col.kind == "date" and pd.api.types.is_datetime64_any_dtype(s):
            stamps = [None if pd.isna(v) else v.to_pydatetime() for v in s]
            cols.append([v.date() if v is not None and not col.time else v for v in stamps])
        else:
            cols.append(
                [
                    None
                    if v is None or (isinstance(v, float) and np.isnan(v))
                    else (v.item() if isinstance(v, np.generic) else v)
                    for v in s.to_numpy(dtype=object)
                ]
            )
    return [list(r) for r in zip(*cols, strict=True)]


def _headers(lab: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {t: dict(lab["col"][t]) for t in TABLES}


def build_workbook(
    *, lang: str = "en", empty: bool = False, macro: bool = True
) -> tuple[Workbook, dict[tuple[str, str], Any]]:
    """The template as an openpyxl Workbook, and the engine's value of every native formula cell
    (``{(sheet key, coordinate): value}``)."""
    lab = labels(lang)
    wb = Workbook()
    ws0 = wb.active
    sheets: dict[str, Any] = {}
    for i, key in enumerate(SHEETS):
        ws = ws0 if i == 0 else wb.create_sheet()
        ws.title = lab["sheet"][key]
        # Code names match the VBA project's document modules (ThisWorkbook, Sheet1, Sheet2).
        ws.sheet_properties.codeName = f"Sheet{i + 1}"
        sheets[key] = ws
        wb.defined_names[sheet_anchor(key)] = DefinedName(
            sheet_anchor(key), attr_text=f"{quote_sheetname(ws.title)}!$A$1"
        )
    wb.code_name = "ThisWorkbook"
    wb.defined_names[MARKER_NAME] = DefinedName(MARKER_NAME, attr_text=f'"kpi-xl;{TEMPLATE_VERSION};{lang}"')
    sheets["chartdata"].sheet_state = "hidden"
    if macro:
        wb.vba_archive = _vba_archive(lab["text"]["button"])
        sheets["start"].legacy_drawing = VML_PATH

    settings_raw = _build_settings(wb, sheets["settings"], lab, lang, empty)
    frames = (
        {k: pd.DataFrame({c.key: [] for c in spec.columns}) for k, spec in TABLES.items()}
        if empty
        else demo_tables(yes=lab["yes"], no=lab["no"], lang=lang)
    )
    raw = {}
    for key, spec in TABLES.items():
        frame = frames[key][[c.key for c in spec.columns]]
        _build_table(sheets[key], spec, frame, lab, lang)
        raw[key] = (frame, np.arange(2, len(frame) + 2))

    _build_start(sheets["start"], lab)
    _build_segments(sheets["segments"], lab)
    _build_trends(sheets["trends"], lab, lang)
    _build_cohorts(sheets["cohorts"], lab)
    _build_clv(sheets["clv"], lab)
    build_action_sheets(
        sheets, lab, {"title": _TITLE, "note": _NOTE, "h2": _H2, "header": _header_row, "widths": _widths}
    )
    _build_benchmarks(sheets["benchmarks"], lab)
    for key in REPORT_SHEETS:
        # A report sheet prints one page wide (its tables side by side were cut into strips).
        _print_one_page_wide(sheets[key])
    _build_chartdata(sheets["chartdata"], lab)
    _build_dashboard(sheets["dashboard"], lab, lang)
    add_dashboard_charts(sheets["dashboard"], sheets["chartdata"], lab)

    settings = read_settings(settings_raw, lambda k: k)
    ctx = Context(lang, lab, {k: ws.title for k, ws in sheets.items()}, _headers(lab), lab["yes"], lab["no"])
    data = prepare(raw, settings, sheet_names=ctx.sheet_names, headers=ctx.headers, yes=ctx.yes, no=ctx.no)
    res = compute(data, settings)
    status = Status(
        refreshed=dt.datetime.now().replace(microsecond=0),
        rows_read=data.rows_read,
        invalid_by_table=data.invalid_by_table,
        invalid=data.invalid,
        notes=res.notes,
    )
    sink = BuildSink(sheets)
    place(sink, ctx, res, status)
    wb.active = 0
    return wb, sink.expected


def _print_one_page_wide(ws: Any) -> None:
    """Printed landscape on A4, one page wide, as many pages down as the sheet needs."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def build_template(
    path: str | os.PathLike[str] | None = None,
    *,
    lang: str = "en",
    empty: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write the template workbook and return its path.

    Parameters
    ----------
    path:
        Where to write; default ``workbooks/kpi_report.xlsm``. ``.xlsm`` gets the Refresh button
        (a VBA macro calling xlwings); ``.xlsx`` is the same workbook without macros (refresh it
        with the xlwings ribbon's *Run main* or ``kpi-xl refresh``).
    lang:
        ``"en"`` (default), ``"de"`` or ``"zh-Hant"``: labels, sheet names, number and date
        formats, chart titles.
    empty:
        No demo data: the data tabs hold empty Tables ready for pasting.
    overwrite:
        Replace an existing file. The previous file is kept as ``<name> (backup).<ext>``.
        Without it an existing file is an error (so a workbook with your data is never lost).

    Raises
    ------
    WorkbookError
        Unknown language, unsupported extension, an existing file without ``overwrite``, or the
        file is open in Excel or LibreOffice.
    """
    from .refresh import backup_path, check_not_open

    target = Path(path) if path is not None else default_template_path()
    if target.suffix.lower() not in (".xlsm", ".xlsx"):
        raise WorkbookError(
            f"the template must be an .xlsm (with the Refresh button) or an .xlsx file, got {target.name!r}",
            argument="path",
            value=str(target),
        )
    if lang not in LANGUAGES:
        labels(lang)
    if target.exists():
        if not overwrite:
            raise WorkbookError(
                f"{target} already exists; pass overwrite (kpi-xl template --force) to replace it "
                "(the old file is kept as a backup)",
                argument="path",
                value=str(target),
            )
        check_not_open(target)
    wb, _ = build_workbook(lang=lang, empty=empty, macro=target.suffix.lower() == ".xlsm")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kpi-xl-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        rewrite_part(tmp, "xl/styles.xml", fonts_in_schema_order)
        if target.exists():
            shutil.copymode(target, tmp)
            shutil.copy2(target, backup_path(target))
        else:
            # mkstemp creates the file private (0600); a new workbook gets the usual permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


# --- static content of each sheet ---------------------------------------------------------------


def _header_row(ws: Any, row: int, col: int, texts: list[str], python: set[int] = frozenset()) -> None:
    for j, text in enumerate(texts):
        cell = ws.cell(row=row, column=col + j, value=text)
        cell.font = _HEAD
        cell.fill = _PY_HEAD_FILL if j in python else _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _widths(ws: Any, widths: dict[str, float]) -> None:
    for letter, w in widths.items():
        ws.column_dimensions[letter].width = w


def _build_settings(wb: Workbook, ws: Any, lab: dict[str, Any], lang: str, empty: bool) -> dict[str, Any]:
    t = lab["text"]
    ws["A1"] = t["settings_title"]
    ws["A1"].font = _TITLE
    _header_row(ws, 3, 1, [t["setting"], t["value"], t["note"]])
    ind_col = 5
    _header_row(ws, 3, ind_col, [lab["setting"]["industry"][0]])
    for i, name in enumerate(INDUSTRIES):
        ws.cell(row=4 + i, column=ind_col, value=name)
    ind_range = f"${get_column_letter(ind_col)}$4:${get_column_letter(ind_col)}${3 + len(INDUSTRIES)}"
    raw: dict[str, Any] = {}
    today = dt.date.today()
    for i, s in enumerate(SETTINGS):
        r = 4 + i
        label, note = lab["setting"][s.key]
        ws.cell(row=r, column=1, value=label)
        value = s.default
        if empty and s.key == "period_start":
            value = dt.date(today.year, 1, 1)
        elif empty and s.key == "period_end":
            value = dt.date(today.year, 12, 31)
        cell = ws.cell(row=r, column=2, value=value)
        cell.fill = _CARD_FILL
        cell.border = _BOX
        ws.cell(row=r, column=3, value=note).font = _NOTE
        ref = f"{quote_sheetname(ws.title)}!$B${r}"
        wb.defined_names[setting_name(s.key)] = DefinedName(setting_name(s.key), attr_text=ref)
        if s.kind == "date":
            cell.number_format = DATE_FORMATS[lang]
            dv = DataValidation(
                type="date", operator="between", formula1="DATE(1990,1,1)", formula2="DATE(2100,12,31)"
            )
        elif s.kind == "int":
            dv = DataValidation(type="whole", operator="between", formula1="0", formula2="1000")
        elif s.kind in ("share",):
            cell.number_format = "0%" if s.key != "clv_discount_rate" else "0.0%"
            dv = DataValidation(type="decimal", operator="between", formula1="0", formula2="1")
        elif s.kind in ("hours", "points"):
            dv = DataValidation(type="decimal", operator="greaterThan", formula1="0")
        elif s.kind == "industry":
            dv = DataValidation(type="list", formula1=f"{quote_sheetname(ws.title)}!{ind_range}")
        else:
            dv = None
        if dv is not None:
            dv.error, dv.errorTitle, dv.showErrorMessage = note, label, True
            dv.add(cell.coordinate)
            ws.add_data_validation(dv)
        raw[s.key] = dt.datetime.combine(value, dt.time()) if isinstance(value, dt.date) else value
    _widths(ws, {"A": 38, "B": 16, "C": 58, "D": 3, "E": 34})
    ws.freeze_panes = "A4"
    return raw


def _build_table(ws: Any, spec, frame: pd.DataFrame, lab: dict[str, Any], lang: str) -> None:
    headers = [lab["col"][spec.key][c.key] for c in spec.columns]
    ws.append(headers)
    rows = _frame_rows(frame, spec)
    for r in rows:
        ws.append(r)
    last = max(2, len(rows) + 1)
    end_col = get_column_letter(len(spec.columns))
    table = Table(displayName=spec.name, ref=f"A1:{end_col}{last}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    yes, no = lab["yes"], lab["no"]
    for j, col in enumerate(spec.columns, start=1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = col.width
        full = f"{letter}2:{letter}1048576"
        if col.kind == "date":
            fmt = DATETIME_FORMATS[lang] if col.time else DATE_FORMATS[lang]
            for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=j, max_col=j):
                cell.number_format = fmt
            dv = DataValidation(
                type="date", operator="between", formula1="DATE(1990,1,1)", formula2="DATE(2100,12,31)"
            )
        elif col.kind == "score":
            top = {"nps": "10", "csat": setting_name("csat_scale_max"), "ces": setting_name("ces_scale_max")}[
                col.scale
            ]
            low = "0" if col.scale == "nps" else "1"
            dv = DataValidation(type="whole", operator="between", formula1=low, formula2=top)
        elif col.kind == "amount":
            dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0")
        elif col.kind == "count":
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
        elif col.kind == "flag":
            dv = DataValidation(type="list", formula1=f'"{yes},{no}"')
        else:
            continue
        dv.showErrorMessage = True
        dv.errorStyle = "warning"
        dv.errorTitle = lab["col"][spec.key][col.key]
        dv.add(full)
        ws.add_data_validation(dv)
    ws.freeze_panes = "A2"


def _build_start(ws: Any, lab: dict[str, Any]) -> None:
    t = lab["text"]
    ws["A1"] = t["title"]
    ws["A1"].font = Font(size=20, bold=True, color="1F3A5F")
    ws["A2"] = t["subtitle"]
    ws["A2"].font = _NOTE
    ws.cell(row=START.howto_row, column=1, value=t["howto_title"]).font = _H2
    for i, line in enumerate(t["howto"]):
        ws.cell(row=START.howto_row + 1 + i, column=1, value=line)
    ws.cell(row=START.status_row, column=1, value=t["status_title"]).font = _H2
    ws.cell(row=START.status_row + 1, column=1, value=t["last_refreshed"])
    ws.cell(row=START.status_row + 1, column=2, value=t["never"])
    _header_row(ws, START.tables_row - 1, 1, [t["table"], t["rows"], t["invalid_rows"]])
    ws.cell(row=START.notes_row, column=1, value=t["notes"]).font = _H2
    ws.cell(row=START.invalid_row, column=1, value=t["invalid_title"]).font = _H2
    _header_row(
        ws,
        START.invalid_row + 1,
        1,
        [t[k] for k in ("inv_sheet", "inv_row", "inv_column", "inv_value", "inv_why")],
    )
    _widths(ws, {"A": 22, "B": 20, "C": 18, "D": 16, "E": 70})
    _print_one_page_wide(ws)
    # Down to the last row the invalid-values list can take, so a printout has the list the how-to
    # points to (pages left empty are not printed).
    ws.print_area = f"A1:E{START.last_row}"


def _build_segments(ws: Any, lab: dict[str, Any]) -> None:
    t, k = lab["text"], lab["kpi"]
    ws["A1"] = t["segments_title"]
    ws["A1"].font = _TITLE
    ws["A2"] = t["live"]
    ws["A2"].font = _NOTE
    for i, spec in enumerate(SEGMENT_BLOCKS):
        top = block_row(i)
        ws.cell(row=top, column=1, value=t[spec.title]).font = _H2
        names = [t["group"]] + [k[c] for c in spec.columns[1:]]
        python = {j for j, c in enumerate(spec.columns) if c in spec.python}
        _header_row(ws, top + 1, 1, names, python)
        ws.row_dimensions[top + 1].height = 45
        for j, c in enumerate(spec.columns, start=1):
            if c in spec.python:
                for r in range(top + 2, top + 3 + SLOTS):
                    ws.cell(row=r, column=j).font = _PY_FONT
        total = top + 2 + SLOTS
        for j in range(1, len(spec.columns) + 1):
            ws.cell(row=total, column=j).font = Font(bold=True, italic=spec.columns[j - 1] in spec.python)
            ws.cell(row=total, column=j).border = Border(top=_THIN)
        flag = get_column_letter(len(spec.columns))
        ws.conditional_formatting.add(
            f"{flag}{top + 2}:{flag}{total}",
            FormulaRule(formula=[f"LEN({flag}{top + 2})>0"], fill=_AMBER_FILL),
        )
        ws.cell(row=total + 1, column=1).font = _NOTE
    widths = {"A": 18}
    widths.update({get_column_letter(j): 11 for j in range(2, 17)})
    _widths(ws, widths)
    ws.freeze_panes = "B4"


def _build_trends(ws: Any, lab: dict[str, Any], lang: str) -> None:
    t, k = lab["text"], lab["kpi"]
    ws["A1"] = t["trends_title"]
    ws["A1"].font = _TITLE
    ws["A2"] = t["live"]
    ws["A2"].font = _NOTE
    names = [t["month"]] + [k[c] for c in TREND_COLS[1:]]
    _header_row(ws, TRENDS_HEADER_ROW, 1, names, {j for j, c in enumerate(TREND_COLS) if c in TREND_PY})
    ws.row_dimensions[TRENDS_HEADER_ROW].height = 45
    for j, c in enumerate(TREND_COLS, start=1):
        if c in TREND_PY:
            for r in range(TRENDS_HEADER_ROW + 1, TRENDS_HEADER_ROW + 13):
                ws.cell(row=r, column=j).font = _PY_FONT
    _widths(ws, {get_column_letter(j): (12 if j == 1 else 11) for j in range(1, len(TREND_COLS) + 1)})
    ws.freeze_panes = f"B{TRENDS_HEADER_ROW + 1}"


def _build_cohorts(ws: Any, lab: dict[str, Any]) -> None:
    t = lab["text"]
    ws["A1"] = t["cohorts_title"]
    ws["A1"].font = _TITLE
    ws.cell(row=COHORT_HEADER_ROW - 1, column=3, value=t["months_after"]).font = _NOTE
    _header_row(
        ws,
        COHORT_HEADER_ROW,
        1,
        [t["cohort"], t["cohort_size"]] + [str(i) for i in range(COHORT_PERIODS + 1)],
    )
    first, last = COHORT_HEADER_ROW + 1, COHORT_HEADER_ROW + COHORT_ROWS
    area = f"C{first}:{get_column_letter(3 + COHORT_PERIODS)}{last}"
    ws.conditional_formatting.add(
        area,
        ColorScaleRule(
            start_type="num",
            start_value=0,
            start_color="F7FBFF",
            mid_type="num",
            mid_value=0.15,
            mid_color="9ECAE1",
            end_type="num",
            end_value=0.5,
            end_color="08519C",
        ),
    )
    _widths(ws, {"A": 14, "B": 11, **{get_column_letter(j): 7.5 for j in range(3, 4 + COHORT_PERIODS)}})
    ws.cell(row=COHORT_HEADER_ROW - 2, column=PROJECTION_COL, value=t["retention_projection"]).font = _H2
    _header_row(ws, COHORT_HEADER_ROW, PROJECTION_COL, t["retention_projection_header"])
    _widths(ws, {get_column_letter(PROJECTION_COL + j): 13 for j in range(4)})
    ws.freeze_panes = f"C{first}"


def _build_clv(ws: Any, lab: dict[str, Any]) -> None:
    t, k = lab["text"], lab["kpi"]
    ws["A1"] = t["clv_title"]
    ws["A1"].font = _TITLE
    ws["A3"] = t["clv_summary"]
    ws["A3"].font = _H2
    ws["D3"] = t["clv_by_segment"]
    ws["D3"].font = _H2
    _header_row(ws, 4, 4, [k["segment"], k["customers"], k["clv"], f"{k['clv']} Σ", k["note"]])
    ws.cell(row=CLV_TABLE_ROW - 1, column=1, value=t["clv_predictive"]).font = _H2
    ws.cell(row=CLV_TABLE_ROW - 1, column=CLV_SCHEDULE_COL, value=t["clv_schedule"]).font = _H2
    # Refresh writes the segment names into this header; the build styles it.
    _header_row(ws, CLV_TABLE_ROW, CLV_SCHEDULE_COL, [*t["clv_schedule_header"], *[None] * SLOTS])
    # Two-line headers (e.g. "Predicted CLV (avg) Σ") need the height: no application grows a row for them.
    for row in (4, CLV_TABLE_ROW):
        ws.row_dimensions[row].height = 30
    _header_row(ws, CLV_TABLE_ROW, 1, [k[c] for c in CLV_COLUMNS])
    ws.cell(row=HOLDOUT_ROW, column=HOLDOUT_COL, value=t["clv_holdout"]).font = _H2
    _header_row(ws, HOLDOUT_ROW + 2, HOLDOUT_COL, t["clv_holdout_header"])
    _header_row(ws, HOLDOUT_FREQ_ROW, HOLDOUT_COL, t["clv_holdout_by_frequency"])
    add_clv_holdout_chart(ws, lab)
    _widths(ws, {"A": 30, "B": 16, "C": 12, "D": 14, "E": 12, "F": 14, "G": 14, "H": 14, "I": 14, "J": 14})
    _widths(ws, {get_column_letter(HOLDOUT_COL + j): 13 for j in range(8)})
    ws.freeze_panes = f"A{CLV_TABLE_ROW + 1}"


def _build_benchmarks(ws: Any, lab: dict[str, Any]) -> None:
    t, k = lab["text"], lab["kpi"]
    ws["A1"] = t["benchmarks_title"]
    ws["A1"].font = _TITLE
    names = [
        t[c]
        for c in (
            "bm_metric",
            "bm_industry",
            "bm_value",
            "bm_unit",
            "bm_period",
            "bm_source",
            "bm_yours",
            "bm_gap",
            "bm_status",
            "bm_note",
        )
    ]
    _header_row(ws, BENCH_HEADER_ROW, 1, names)
    metric_label = {"nps": k["nps"], "acsi": f"ACSI ({k['acsi']})", "churn_monthly": k["monthly_churn"]}
    unit = {"nps": "points (-100..100)", "acsi": "index (0..100)", "churn_monthly": "% per month"}
    for i, b in enumerate(BENCHMARKS):
        r = BENCH_HEADER_ROW + 1 + i
        ws.cell(row=r, column=1, value=metric_label[b.metric])
        ws.cell(row=r, column=2, value=b.industry)
        c = ws.cell(row=r, column=3, value=b.value)
        c.number_format = FORMATS["share"] if b.metric == "churn_monthly" else "0.0"
        ws.cell(row=r, column=4, value=unit[b.metric])
        ws.cell(row=r, column=5, value=b.period)
        src = ws.cell(row=r, column=6, value=b.source)
        src.hyperlink = b.url
        src.font = Font(color="2F6EBA", underline="single")
        ws.cell(row=r, column=10, value=b.note).font = _NOTE
    last = BENCH_HEADER_ROW + len(BENCHMARKS)
    status = f"I{BENCH_HEADER_ROW + 1}:I{last}"
    for word, fill in (
        (t["status_green"], _GREEN_FILL),
        (t["status_amber"], _AMBER_FILL),
        (t["status_red"], _RED_FILL),
    ):
        ws.conditional_formatting.add(status, CellIsRule(operator="equal", formula=[f'"{word}"'], fill=fill))
    ws.conditional_formatting.add(
        f"A{BENCH_HEADER_ROW + 1}:F{last}",
        FormulaRule(
            formula=[f"$B{BENCH_HEADER_ROW + 1}={setting_name('industry')}"],
            fill=_SELECTED_FILL,
            font=Font(bold=True),
        ),
    )
    ws.cell(row=last + 2, column=1, value=t["bm_footer"]).font = _NOTE
    _widths(ws, {"A": 26, "B": 30, "C": 11, "D": 17, "E": 19, "F": 60, "G": 11, "H": 10, "I": 16, "J": 48})
    ws.freeze_panes = f"A{BENCH_HEADER_ROW + 1}"


def _build_chartdata(ws: Any, lab: dict[str, Any]) -> None:
    t = lab["text"]
    ws.append(["KPI", "value", "previous"])
    ws.cell(row=CHART_DIST_ROW, column=1, value=t["score"])
    for j, key in enumerate(("series_detractors", "series_passives", "series_promoters"), start=2):
        ws.cell(row=CHART_DIST_ROW, column=j, value=t[key])
    ws.cell(row=CHART_TREND_ROW, column=1, value=t["month"])
    ws.cell(row=CHART_TREND_ROW, column=2, value=t["series_nps"])
    ws.cell(row=CHART_TREND_ROW, column=3, value=t["series_csat"])
    ws.cell(row=CHART_SEG_ROW, column=1, value=lab["kpi"]["segment"])
    ws.cell(row=CHART_SEG_ROW, column=2, value=t["series_nps"])
    ws.cell(row=CHART_COHORT_ROW, column=1, value=t["months_since"])
    ws.cell(row=CHART_THEMES_ROW, column=1, value=t["th_theme"])
    ws.cell(row=CHART_THEMES_ROW, column=2, value=t["group_detractor"])
    ws.cell(row=CHART_THEMES_ROW, column=3, value=t["group_promoter"])


def _build_dashboard(ws: Any, lab: dict[str, Any], lang: str) -> None:
    t, k = lab["text"], lab["kpi"]
    ws["A1"] = t["dashboard_title"]
    ws["A1"].font = Font(size=20, bold=True, color="1F3A5F")
    ws["A2"] = t["period"]
    ws["C2"] = t["to"]
    ws["C2"].alignment = Alignment(horizontal="center")
    for i, (key, _unit, _native) in enumerate(CARDS):
        row, col = card_cell(i)
        ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + 1)
        ws.merge_cells(start_row=row + 1, start_column=col, end_row=row + 1, end_column=col + 1)
        title = ws.cell(row=row, column=col, value=k[key])
        title.font = Font(bold=True, color="FFFFFF")
        title.fill = _HEAD_FILL
        title.alignment = Alignment(horizontal="center")
        value = ws.cell(row=row + 1, column=col)
        value.font = _CARD_VALUE
        value.alignment = Alignment(horizontal="center", vertical="center")
        ws.cell(row=row + 2, column=col, value=t["vs_previous"]).font = Font(size=8, color="5F6B78")
        ws.cell(row=row + 2, column=col + 1).alignment = Alignment(horizontal="right")
        ws.cell(row=row + 3, column=col).font = Font(size=8, color="5F6B78")
        ws.cell(row=row + 3, column=col + 1).font = Font(size=8)
        ws.cell(row=row + 3, column=col + 1).alignment = Alignment(horizontal="right")
        for r in range(row, row + 4):
            for c in (col, col + 1):
                ws.cell(row=r, column=c).fill = _CARD_FILL if r > row else _HEAD_FILL
                ws.cell(row=r, column=c).border = _BOX
        ws.row_dimensions[row + 1].height = 30
    _widths(ws, {get_column_letter(j): CARD_WIDTH for j in range(1, SIDE_COL - 1)})
    # The closed-loop column on the right: a narrow gap, then cards and the top-themes chart.
    _widths(
        ws,
        {
            get_column_letter(SIDE_COL - 1): SIDE_GAP_WIDTH,
            **{get_column_letter(j): CARD_WIDTH for j in range(SIDE_COL, SIDE_COL + 6)},
        },
    )
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_area = f"A1:{get_column_letter(SIDE_COL + 5)}{DASHBOARD_ROWS}"
    ws.sheet_view.showGridLines = False


def main(argv: list[str] | None = None) -> int:
    """``python -m kpi_xl.workbook.build [PATH] [--lang L] [--empty]``: (re)generate the template."""
    ap = argparse.ArgumentParser(
        description="Build the kpi-xl template workbook (replaces an existing file, keeping a backup)."
    )
    ap.add_argument("path", nargs="?", default=str(default_template_path()))
    ap.add_argument("--lang", default="en", choices=LANGUAGES)
    ap.add_argument("--empty", action="store_true", help="no demo data")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        out = build_template(a.path, lang=a.lang, empty=a.empty, overwrite=True)
    except WorkbookError as exc:
        print(f"kpi-xl: {exc}", file=sys.stderr)
        return 2
    print(f"built {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
