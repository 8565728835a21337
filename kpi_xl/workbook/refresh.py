"""Refresh a kpi-xl workbook: read its data Tables, recompute through the engine, write the owned sheets.

Two entry points run the same code (:func:`kpi_xl.workbook.sheets.place`):

* :func:`refresh_workbook` (``kpi-xl refresh BOOK``) works on a file, headless. It finds the
  sheets, defined names and Tables in the file's XML parts (:mod:`.package`), reads the cell
  values with python-calamine (fast, and it returns the values Excel last calculated), and
  writes a copy of the zip package in which only the owned sheets' cells (and the range of a
  Table whose data were appended just below it) change: every other part - the data tabs, the
  VBA project, the button, charts, defined names, data validation, conditional formats and every
  sheet it does not own - is copied byte for byte. It writes to a temporary file in the same
  folder, copies the previous file to ``<name> (backup).<ext>``, then swaps the new file in, so
  a crash leaves the user's file intact. It refuses when the book is open (an Excel ``~$`` or
  LibreOffice ``.~lock`` file sits next to it), is being refreshed by another run (the lock of
  :func:`kpi_xl.safety.refresh_lock`), is not a kpi-xl workbook, or fails the checks of
  :func:`kpi_xl.safety.check_workbook_file` (damaged, encrypted, hostile or over the size limits).
* :func:`refresh_book` works on the workbook open in Excel, through xlwings: the Refresh button
  and the ribbon's *Run main* call ``workbooks/kpi_report.py: main()``, which calls it. It reads
  the Tables of the open book and writes values into the owned sheets; the native formulas are
  already there and Excel recalculates them.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, unescape

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from ..metrics.rules import NUMBER_KINDS, Problem
from ..safety import check_workbook_file, excel_text, lock_path, refresh_lock
from .compute import compute, prepare, read_settings
from .errors import WorkbookError
from .labels import LANGUAGES, header_aliases, labels
from .layout import (
    ADDED_SHEETS,
    CARD_WIDTH,
    CARDS,
    DASHBOARD_ROWS,
    FIRST_CARDS,
    MARKER_NAME,
    SETTINGS,
    SHEETS,
    SIDE_COL,
    SIDE_GAP_WIDTH,
    START,
    TABLES,
    Setting,
    card_cell,
    setting_name,
    sheet_anchor,
)
from .package import Package, PackageError, PartsSink, table_with_ref, without_cached_values, write_copy
from .sheets import FORMATS, Context, Status, place

__all__ = [
    "RefreshReport",
    "refresh_workbook",
    "refresh_book",
    "expected_values",
    "check_not_open",
    "backup_path",
    "lock_files",
    "check_writable",
]


@dataclass
class RefreshReport:
    """What a refresh read, rejected and wrote.

    ``rows_read`` and ``invalid_rows`` are per data table (keyed by sheet name); ``invalid`` lists
    every rejected value as (sheet, row, column, value, why); ``timings`` are seconds per step.
    """

    path: Path | None
    backup: Path | None
    language: str
    rows_read: dict[str, int]
    invalid_rows: dict[str, int]
    invalid: list[Problem]
    notes: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every value was valid."""
        return not self.invalid

    def summary(self) -> str:
        """A few lines for a terminal: rows read, invalid values, notes, time taken."""
        name = self.path.name if self.path else "the open workbook"
        lines = [f"refreshed {name} in {sum(self.timings.values()):.1f} s"]
        for sheet, n in self.rows_read.items():
            bad = self.invalid_rows.get(sheet, 0)
            lines.append(f"  {sheet:<16} {n:>9,} rows" + (f", {bad} with invalid values" if bad else ""))
        if self.invalid:
            lines.append(
                f"{len(self.invalid)} invalid value(s), left out of the KPIs (the rest of each row is used):"
            )
            lines += [f"  {i.source}!{i.column} row {i.row}: {i.value!r}: {i.reason}" for i in self.invalid]
        lines += [f"note: {n}" for n in self.notes]
        if self.backup:
            lines.append(f"previous version kept as {self.backup.name}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--format json``)."""
        return {
            "path": str(self.path) if self.path else None,
            "backup": str(self.backup) if self.backup else None,
            "language": self.language,
            "rows_read": self.rows_read,
            "invalid_rows": self.invalid_rows,
            "invalid": [
                {
                    "sheet": i.source,
                    "row": i.row,
                    "column": i.column,
                    "value": _jsonable(i.value),
                    "why": i.reason,
                    "verdict": i.verdict,
                }
                for i in self.invalid
            ],
            "notes": self.notes,
            "timings": self.timings,
        }


def _jsonable(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def lock_files(path: Path) -> list[Path]:
    """Lock files Excel (``~$name``) and LibreOffice (``.~lock.name#``) keep while a book is open."""
    names = {f"~${path.name}", f"~${path.name[2:]}", f".~lock.{path.name}#"}
    return [path.with_name(n) for n in sorted(names) if path.with_name(n).exists()]


def check_not_open(path: Path) -> None:
    """Refuse to touch a workbook that is open in Excel or LibreOffice."""
    found = lock_files(path)
    if found:
        raise WorkbookError(
            f"{path.name} is open in Excel or LibreOffice (lock file {found[0].name}); close it first, or "
            "click Refresh inside Excel. If nothing has it open, the lock file is left over from a crash: "
            "delete it.",
            argument="path",
            value=str(path),
        )


def backup_path(path: Path) -> Path:
    """Where the previous version of ``path`` is kept: ``<name> (backup).<ext>`` beside it."""
    return path.with_name(f"{path.stem} (backup){path.suffix}")


def _marker_lang(text: str | None, where: str) -> str:
    m = re.fullmatch(r'=?"?kpi-xl;(\d+);([A-Za-z-]+)"?', (text or "").strip())
    if not m:
        raise WorkbookError(
            f"{where} is not a kpi-xl workbook (it has no {MARKER_NAME} name); "
            "build one with kpi-xl template",
            argument="path",
            value=where,
        )
    lang = m.group(2)
    return lang if lang in LANGUAGES else "en"


def _header_map(table: str, headers: Sequence[Any], where: str) -> dict[str, int]:
    """Column key -> 0-based position inside the Table, found by header in any language."""
    aliases = header_aliases(table)
    found: dict[str, int] = {}
    for i, h in enumerate(headers):
        key = aliases.get(" ".join(str(h).split()).casefold()) if h is not None else None
        if key and key not in found:
            found[key] = i
    missing = [c.key for c in TABLES[table].columns if c.key not in found and not c.optional]
    if missing:
        lab = labels("en")["col"][table]
        raise WorkbookError(
            f"{where}: the Table has no column {', '.join(repr(lab[k]) for k in missing)}; its headers are "
            f"{', '.join(repr(h) for h in headers)}. Rename the column back (any of the template's languages "
            "works) or rebuild the template.",
            argument=table,
        )
    return found


#: Column kinds whose cells Excel's formulas read as numbers, whatever their format.
_NUMBER_KINDS = NUMBER_KINDS


def _dates_as_numbers(
    table: str, key: str, col: np.ndarray, rows: np.ndarray, sheet: str, date1904: bool, notes: list[str]
) -> None:
    """A number cell formatted as a date reaches Python as a date, but COUNTIFS and SUMIFS read its
    number: read it as that number too (in place), so the engine and the native formulas count the same
    cells, and say so (the format is most likely a mistake)."""
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel

    # 0 formatted as a date arrives as a time of day (00:00), a duration format as a timedelta.
    kinds = (dt.date, dt.datetime, dt.time, dt.timedelta)
    is_date = np.fromiter(map(isinstance, col, repeat(kinds)), dtype=bool, count=col.size)
    if not is_date.any():
        return
    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
    first = int(np.flatnonzero(is_date)[0])
    shown = col[first]
    for i in np.flatnonzero(is_date):
        v = col[i]
        if isinstance(v, dt.timedelta):
            serial = v.total_seconds() / 86400
        elif isinstance(v, dt.time):
            serial = (v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6) / 86400
        else:
            serial = to_excel(v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time()), epoch)
        col[i] = int(serial) if serial == int(serial) else serial
    n = int(is_date.sum())
    label = labels("en")["col"][table][key]
    notes.append(
        f"{sheet}: {n:,} cell(s) of the column {label!r} are formatted as dates (first: row {rows[first]}, "
        f"shown as {shown}); read as their numbers ({col[first]:g}), as Excel's formulas read "
        "them. Format the column as a number."
    )


def _frame(
    table: str,
    body: list[list[Any]],
    first_row: int,
    positions: dict[str, int],
    *,
    sheet: str = "",
    date1904: bool = False,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Raw cell values by column key, without wholly blank rows, and each row's sheet row number.

    Column by column over one object array: a data tab can hold a million cells, and a call per
    cell (``DataFrame.map``) costs seconds there."""
    width = max(positions.values(), default=-1) + 1
    lengths = {len(r) for r in body}
    if lengths and min(lengths) >= width and len(lengths) == 1:
        grid = np.array(body, dtype=object).reshape(len(body), -1)
    else:
        grid = np.array([list(r[:width]) + [None] * (width - len(r)) for r in body], dtype=object)
        grid = grid.reshape(len(body), width)
    keep = np.zeros(len(body), dtype=bool)
    cols: dict[str, np.ndarray] = {}
    for key, p in positions.items():
        col = grid[:, p].copy()
        # Blank: empty, missing, or text of spaces only (what Excel shows as an empty cell). The
        # readers (calamine, xlwings) give plain str: one type test per cell finds the text, and
        # each distinct text is trimmed once.
        blank = pd.isna(col)
        text = np.flatnonzero(np.fromiter(map(isinstance, col, repeat(str)), dtype=bool, count=col.size))
        if text.size:
            codes, distinct = pd.factorize(col[text])
            blank[text] |= np.array([not v.strip() for v in distinct], dtype=bool)[codes]
        col[blank] = None
        keep |= ~blank
        cols[key] = col
    rows = np.arange(first_row, first_row + len(body))[keep]
    kinds = {c.key: c.kind for c in TABLES[table].columns}
    for key in cols:
        if kinds.get(key) in _NUMBER_KINDS and notes is not None:
            kept = cols[key][keep]
            _dates_as_numbers(table, key, kept, rows, sheet, date1904, notes)
            cols[key] = np.empty(len(body), dtype=object)
            cols[key][keep] = kept
    frame = pd.DataFrame({k: pd.Series(v[keep], dtype=object) for k, v in cols.items()})
    # An optional column the Table does not have (a workbook built before it existed) is all blank.
    return frame.reindex(columns=[c.key for c in TABLES[table].columns]).astype(object), rows


def _report(path, backup, lang, ctx: Context, data, res, timings) -> RefreshReport:
    return RefreshReport(
        path=path,
        backup=backup,
        language=lang,
        rows_read={ctx.sheet_names[k]: n for k, n in data.rows_read.items()},
        invalid_rows={ctx.sheet_names[k]: n for k, n in data.invalid_by_table.items()},
        invalid=data.invalid,
        notes=res.notes,
        timings=timings,
    )


# --- the file path (zip package + calamine) -----------------------------------------------------


def _what_is_missing(name: str, lang: str) -> str:
    """A defined name of the template in the user's words: the tab or the setting it finds."""
    lab = labels(lang)
    for key in SHEETS:
        if name == sheet_anchor(key):
            return f"the {lab['sheet'][key]!r} tab"
    for setting in SETTINGS:
        if name == setting_name(setting.key):
            return f"the setting {lab['setting'][setting.key][0]!r} on the {lab['sheet']['settings']!r} tab"
    return f"a part of the template (the defined name {name})"


def _destination(pkg: Package, name: str, where: str, lang: str = "en") -> tuple[str, str]:
    dest = pkg.destination(name) if name in pkg.names else None
    if dest is None or dest[0] not in pkg.sheets:
        what = _what_is_missing(name, lang)
        raise WorkbookError(
            f"{where}: {what} was deleted, so nothing was refreshed. Bring it "
            f"back with Undo in Excel, or open the previous version ({backup_path(Path(where)).name}, if "
            "there is one) and copy your data from it; or build a new template (kpi-xl template -o "
            "new.xlsm) and paste your data into its tabs.",
            argument=name,
        )
    return dest


def _load(path: Path) -> tuple[Package, str, dict[str, str]]:
    try:
        pkg = Package(path)
    except PackageError as exc:
        raise WorkbookError(
            f"{path.name} cannot be read as an Excel workbook: {exc}", argument="path", value=str(path)
        )
    lang = _marker_lang(pkg.names.get(MARKER_NAME), path.name)
    names = {
        k: _destination(pkg, sheet_anchor(k), path.name, lang)[0]
        for k in SHEETS
        if k not in ADDED_SHEETS or sheet_anchor(k) in pkg.names
    }
    return pkg, lang, names


def _added_sheets_note(names: dict[str, str], lang: str) -> list[str]:
    missing = [labels(lang)["sheet"][k] for k in SHEETS if k in ADDED_SHEETS and k not in names]
    if not missing:
        return []
    return [
        f"This workbook was built before the {', '.join(missing)} tabs; build a new template (kpi-xl "
        "template) and paste your data into it to get them."
    ]


def _settings_note(missing: list[Setting], lang: str, names: dict[str, str]) -> list[str]:
    """Settings a workbook predates (see :class:`Setting`) are read as their defaults; a note says
    so where the tab that uses them is there."""
    if not missing or "drivers" not in names:
        return []
    lab = labels(lang)
    shown = ", ".join(f"{lab['setting'][s.key][0]!r} ({s.default})" for s in missing)
    return [
        f"This workbook was built before the settings {shown}; their defaults are used. Build a new "
        f"template (kpi-xl template) to change them on the {lab['sheet']['settings']} tab."
    ]


def _coords(cell: str) -> tuple[int, int]:
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    col, row = coordinate_from_string(cell)
    return row, column_index_from_string(col)


def _rows_read_before(start: list[list[Any]]) -> dict[str, int]:
    """Rows per data tab the previous refresh read, as it wrote them on the start sheet."""
    out: dict[str, int] = {}
    for r in range(START.tables_row - 1, min(START.tables_row - 1 + len(TABLES), len(start))):
        line = start[r]
        if len(line) > 1 and isinstance(line[0], str) and isinstance(line[1], (int, float)):
            out[line[0]] = int(line[1])
    return out


def _read_file(path: Path, pkg: Package, lang: str, names: dict[str, str]):
    """Settings and raw Table data from the file's cached values (calamine), and the new range of
    each Table that has rows appended just below it (table part -> range)."""
    from openpyxl.utils import range_boundaries
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    grids: dict[str, list[list[Any]]] = {}

    def grid(sheet: str) -> list[list[Any]]:
        if sheet not in grids:
            grids[sheet] = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        return grids[sheet]

    def at(sheet: str, row: int, col: int) -> Any:
        g = grid(sheet)
        v = g[row - 1][col - 1] if row - 1 < len(g) and col - 1 < len(g[row - 1]) else None
        return None if v == "" else v

    raw_settings = {}
    where = {}
    missing = [s for s in SETTINGS if s.added and setting_name(s.key) not in pkg.names]
    notes = _settings_note(missing, lang, names)
    for s in SETTINGS:
        if s in missing:
            raw_settings[s.key], where[s.key] = s.default, s.key
            continue
        sheet, cell = _destination(pkg, setting_name(s.key), path.name, lang)
        raw_settings[s.key] = at(sheet, *_coords(cell))
        where[s.key] = f"{sheet}!{cell} ({labels(lang)['setting'][s.key][0]})"
    previous = _rows_read_before(grid(names["start"]))
    raw: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    headers: dict[str, dict[str, str]] = {}
    grown: dict[str, str] = {}
    for key, spec in TABLES.items():
        found = pkg.tables(names[key])
        table = next((t for t in found if spec.name in (t.display_name, t.name)), None)
        if table is None:
            raise WorkbookError(
                f"{path.name}: sheet {names[key]!r} has no Table named {spec.name}; paste your data into the "
                "Table of the template (Excel: Insert > Table, named " + spec.name + ")",
                argument=key,
            )
        c0, r0, c1, r1 = range_boundaries(table.ref)
        g = grid(names[key])

        def filled(i: int, g: list[list[Any]] = g, c0: int = c0, c1: int = c1) -> bool:
            return any(v not in ("", None) for v in g[i][c0 - 1 : c1])

        # Whole sheet rows (no copy of each row's slice): the Table's columns are picked by position.
        body = g[r0:r1]
        # Rows typed or pasted directly below the Table that Excel did not pull into it.
        extra = r1
        while extra < len(g) and filled(extra):
            extra += 1
        before = previous.get(names[key])
        where_rows = f"rows {r1 + 1}-{extra}" if extra > r1 + 1 else f"row {extra}"
        # Rows with data inside the Table, counted only when rows below it make the question arise.
        inside = sum(1 for i in range(r0, min(r1, len(g))) if filled(i)) if extra > r1 and before else 0
        if extra > r1 and before is not None and inside < before:
            # Fewer rows inside than the last refresh read, and rows right below: the user made the
            # Table smaller on purpose. Their choice stands; the rows below are only named.
            notes.append(
                f"Table {spec.name} is smaller than at the last refresh ({inside:,} rows with data, then "
                f"{before:,}); {where_rows} below it are not counted. If they are data, resize the Table "
                "(Table Design > Resize Table) to include them."
            )
        elif extra > r1:
            body = body + g[r1:extra]
            grown[table.part] = (
                f"{table.ref.split(':')[0]}:{table.ref.split(':')[1].rstrip('0123456789')}{extra}"
            )
            notes.append(f"Table {spec.name} extended to row {extra} to include the rows added below it.")
        later = [i + 1 for i in range(extra, len(g)) if filled(i)]
        if later:
            notes.append(
                f"{names[key]}: {len(later):,} row(s) with data from row {later[0]} on are below the Table "
                f"{spec.name} after a blank row and were not counted; if they are data, delete the blank "
                "row(s) between them and the Table, or resize the Table to include them."
            )
        head = g[r0 - 1][c0 - 1 : c1] if r0 - 1 < len(g) else []
        positions = _header_map(key, head, f"{path.name}, sheet {names[key]!r}")
        headers[key] = {k: str(head[p]) for k, p in positions.items()}
        raw[key] = _frame(
            key,
            body,
            r0 + 1,
            {k: p + c0 - 1 for k, p in positions.items()},
            sheet=names[key],
            date1904=pkg.date1904,
            notes=notes,
        )
    return raw_settings, where, raw, headers, notes, grown


def _compute_file(path: Path, pkg: Package, lang: str, names: dict[str, str], predict: bool):
    t = time.perf_counter()
    raw_settings, where, raw, headers, notes, grown = _read_file(path, pkg, lang, names)
    timings = {"read": time.perf_counter() - t}
    t = time.perf_counter()
    settings = read_settings(raw_settings, lambda k: where[k])
    lab = labels(lang)
    ctx = Context(lang, lab, names, headers, lab["yes"], lab["no"])
    data = prepare(raw, settings, sheet_names=names, headers=headers, yes=ctx.yes, no=ctx.no)
    res = compute(data, settings, predict=predict)
    res.notes[:0] = notes + _added_sheets_note(names, lang)
    timings["compute"] = time.perf_counter() - t
    return ctx, data, res, timings, grown


def refresh_workbook(path: str | os.PathLike[str], *, predict: bool = True) -> RefreshReport:
    """Refresh a kpi-xl workbook file in place (headless), keeping a backup of the previous version.

    Parameters
    ----------
    path:
        A ``.xlsm`` or ``.xlsx`` built by :func:`kpi_xl.workbook.build_template` (in any language).
    predict:
        Fit the predictive CLV model (default). ``False`` skips the one slow step.

    Returns
    -------
    RefreshReport
        Rows read per table, every invalid value (sheet, row, column, value, why), notes, timings
        and the backup's path. The same list of invalid values is written to the start sheet.

    Raises
    ------
    WorkbookError
        The file is missing, open in Excel/LibreOffice, being refreshed by another run, damaged,
        encrypted or over the size limits, not a kpi-xl workbook, lacks a Table or a column, or a
        setting is invalid. The file is not changed.
    """
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"{path} does not exist", argument="path", value=str(path))
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise WorkbookError(
            f"{path.name}: refresh works on .xlsx and .xlsm workbooks, "
            f"not {path.suffix or 'a file without an extension'}",
            argument="path",
            value=str(path),
        )
    # A book reached through a link: the real book is refreshed and the link stays a link.
    path = Path(os.path.realpath(path))
    check_not_open(path)
    check_writable(path)
    # One refresh of a book at a time: a second one refuses instead of racing for the same file.
    try:
        with refresh_lock(path, error=WorkbookError):
            _remove_leftovers(path)
            return _refresh_locked(path, predict)
    except OSError as exc:
        # Reading was checked before (check_writable, check_workbook_file): what fails here is writing
        # the lock, the new book or the backup.
        if exc.errno not in _NO_ROOM | _NOT_ALLOWED:
            raise
        raise _write_error(path, exc) from None


def _refresh_locked(path: Path, predict: bool) -> RefreshReport:
    check_workbook_file(path, error=WorkbookError)
    t = time.perf_counter()
    pkg, lang, names = _load(path)
    load_time = time.perf_counter() - t
    ctx, data, res, timings, grown = _compute_file(path, pkg, lang, names, predict)
    timings = {"load": load_time, **timings}
    t = time.perf_counter()
    try:
        sink = PartsSink(pkg, names)
        if _add_closed_loop_cards(sink, ctx):
            res.notes.append(_CARDS_ADDED)
        status = Status(
            dt.datetime.now().replace(microsecond=0),
            data.rows_read,
            data.invalid_by_table,
            data.invalid,
            res.notes,
        )
        place(sink, ctx, res, status)
        parts = sink.parts()
        print_area = _dashboard_print_area(pkg, names["dashboard"])
        if print_area is not None:
            parts[pkg.workbook_part] = print_area
        parts.update({part: table_with_ref(pkg.read(part), ref) for part, ref in grown.items()})
        # The user's own sheets (not the template's): their formulas are recomputed on opening.
        for sheet in pkg.sheets.keys() - set(names.values()):
            stripped = without_cached_values(pkg.read(pkg.sheets[sheet]))
            if stripped is not None:
                parts[pkg.sheets[sheet]] = stripped
    except PackageError as exc:
        raise WorkbookError(f"{path.name}: {exc}", argument="path", value=str(path))
    timings["write"] = time.perf_counter() - t
    t = time.perf_counter()
    backup = _save_atomically(pkg, parts, path)
    timings["save"] = time.perf_counter() - t
    return _report(path, backup, lang, ctx, data, res, timings)


_CARDS_ADDED = (
    "The Dashboard gained the revenue-at-risk and call-back cards; the top-themes chart comes with a new "
    "template (kpi-xl template)."
)


def _add_closed_loop_cards(sink: PartsSink, ctx: Context) -> bool:
    """On a dashboard built before the closed-loop cards (the first one's title cell is empty): give
    them the formats, merged cells and titles of the first card and the column widths of a new
    template, so refresh fills cards, not bare cells. True if it did."""
    ed = sink.editor("dashboard")
    row, col = card_cell(FIRST_CARDS)
    if ed.has_value(row, col):
        return False
    r0, c0 = card_cell(0)
    for i in range(FIRST_CARDS, len(CARDS)):
        row, col = card_cell(i)
        for dr in range(4):
            for dc in range(2):
                ed.set_style(row + dr, col + dc, ed.style_of(r0 + dr, c0 + dc))
        for r in (row, row + 1):
            ed.merge(f"{get_column_letter(col)}{r}:{get_column_letter(col + 1)}{r}")
        ed.put(row, col, ctx.lab["kpi"][CARDS[i][0]])
        ed.put(row + 2, col, ctx.lab["text"]["vs_previous"])
    ed.column_width(SIDE_COL - 1, SIDE_GAP_WIDTH)
    for j in range(SIDE_COL, SIDE_COL + 6):
        ed.column_width(j, CARD_WIDTH)
    return True


def _dashboard_print_area(pkg: Package, sheet: str) -> bytes | None:
    """The workbook part with the dashboard's print area widened to the closed-loop column, when it is
    still the first template's (cards A..J only); None when there is nothing to change (a print area
    the user set stays)."""
    xml = pkg.read(pkg.workbook_part).decode("utf-8")
    quoted = "'" + sheet.replace("'", "''") + "'"
    first = {f"{q}!$A$1:$J${DASHBOARD_ROWS}" for q in (quoted, sheet)}
    for m in _PRINT_AREA.finditer(xml):
        if unescape(m.group(1)) in first:
            new = f"{quoted}!$A$1:${get_column_letter(SIDE_COL + 5)}${DASHBOARD_ROWS}"
            return (xml[: m.start(1)] + escape(new) + xml[m.end(1) :]).encode("utf-8")
    return None


_PRINT_AREA = re.compile(r"<(?:[\w.-]+:)?definedName\b[^>]*?_xlnm\.Print_Area[^>]*>([^<]*)<")


def check_writable(path: Path) -> None:
    """Refuse, before any work, a book the user cannot or chose not to let anyone change.

    The permission bits are read as the user's intent: a book marked read-only (``chmod 444``, the
    read-only attribute) or a folder without write permission is refused even for an administrator,
    who could write it anyway. A book owned by another account is refused unless this process can
    give the new file the same owner: the swap would otherwise make it ours."""
    st = path.stat()
    if not os.access(path, os.R_OK):
        raise WorkbookError(
            f"{path.name} cannot be read (no permission); ask its owner for access or refresh a copy.",
            argument="path",
            value=str(path),
        )
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise WorkbookError(
            f"{path.name} is read-only (its file permissions do not allow changes), so it was not refreshed. "
            "Make it writable (Windows: Properties > untick Read-only; macOS/Linux: chmod u+w) or refresh "
            "a copy.",
            argument="path",
            value=str(path),
        )
    folder = path.parent
    dst = folder.stat()
    if not dst.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        folder, os.W_OK | os.X_OK
    ):
        raise WorkbookError(
            f"the folder {folder} is read-only, and a refresh writes the new book and its backup beside the "
            f"old one; {path.name} was not changed. Copy the book to a folder you can write to and refresh "
            "it there.",
            argument="path",
            value=str(path),
        )
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid() and os.geteuid() != 0:
        raise WorkbookError(
            f"{path.name} belongs to another user account; refreshing it would replace it with a file of "
            "yours. Ask its owner to refresh it, or refresh a copy.",
            argument="path",
            value=str(path),
        )


_NO_ROOM = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


def _write_error(path: Path, exc: OSError) -> WorkbookError:
    """An operating-system failure while writing, in the user's words (the book is unchanged)."""
    if exc.errno in _NO_ROOM:
        what = (
            f"the disk holding {path.parent} is full; free some space (a refresh needs about twice the "
            "book's size: the new book and the backup) and refresh again"
        )
    elif exc.errno in _NOT_ALLOWED:
        what = (
            f"kpi-xl may not write in {path.parent} (read-only folder or drive, or no permission); copy the "
            "book to a folder you can write to and refresh it there"
        )
    else:
        what = f"writing beside it failed ({exc.strerror or exc}); check the folder and refresh again"
    return WorkbookError(
        f"{path.name} was not refreshed and is unchanged: {what}.", argument="path", value=str(path)
    )


def _temp_prefix(path: Path) -> str:
    """Temporary files of one book's refresh are named after it, so a refresh of another book in the
    same folder never takes them for its own leftovers."""
    return f".kpi-xl-{path.name}."


def _remove_leftovers(path: Path) -> None:
    """Delete what a refresh of this book killed mid-save left beside it (under the book's lock, so
    no running refresh owns them): the temporary new book and the backup copy."""
    prefix = _temp_prefix(path)
    for left in path.parent.iterdir():
        if left.name.startswith(prefix) and left.name.endswith((path.suffix, path.suffix + ".backup")):
            left.unlink(missing_ok=True)
    # Leftovers of versions that named them ".kpi-xl-<random><suffix>": removed when no refresh runs
    # in the folder (no other lock beside ours).
    ours = lock_path(path).name
    others = [p for p in path.parent.iterdir() if p.name.startswith(".~kpi-xl.") and p.name != ours]
    if any(p.name.endswith(".lock") for p in others):
        return
    for left in path.parent.iterdir():
        if re.fullmatch(r"\.kpi-xl-[A-Za-z0-9_]{8}\.xls[xm](\.backup)?", left.name):
            left.unlink(missing_ok=True)


def _save_atomically(pkg: Package, parts: dict[str, bytes], path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write_copy(pkg, tmp, parts)
        shutil.copymode(path, tmp)
        st = path.stat()
        if hasattr(os, "chown") and st.st_uid != os.geteuid():
            # An administrator refreshing a user's book: the user keeps owning it.
            os.chown(tmp, st.st_uid, st.st_gid)
        # Re-check: the book may have been opened while we were computing.
        check_not_open(path)
        backup = backup_path(path)
        # The backup is swapped in whole too: a refresh killed while copying leaves the previous backup.
        copy = tmp + ".backup"
        shutil.copy2(path, copy)
        _fsync(copy)
        _fsync(tmp)
        os.replace(copy, backup)
        os.replace(tmp, path)
    finally:
        for left in (tmp, tmp + ".backup"):
            if os.path.exists(left):
                os.unlink(left)
    return backup


def _fsync(name: str) -> None:
    """Flush a file to disk before it replaces another, so a power cut cannot leave an empty file."""
    with open(name, "rb+") as fh:
        os.fsync(fh.fileno())


def expected_values(path: str | os.PathLike[str], *, predict: bool = True) -> dict[tuple[str, str], Any]:
    """The engine's value of every native formula cell of a workbook, ``{(sheet name, "B7"): value}``.

    Computed from the workbook's current data and settings exactly as a refresh would, without
    writing anything. Tests recalculate the book in LibreOffice and compare with this map.
    """
    path = Path(path)
    pkg, lang, names = _load(path)
    ctx, data, res, _, _ = _compute_file(path, pkg, lang, names, predict)
    sink = _FormulaValues()
    status = Status(dt.datetime.now(), data.rows_read, data.invalid_by_table, data.invalid, res.notes)
    place(sink, ctx, res, status)
    return {(names[k], coord): v for (k, coord), v in sink.expected.items()}


class _FormulaValues:
    """A sink that only keeps the engine's value of each formula cell."""

    def __init__(self) -> None:
        self.expected: dict[tuple[str, str], Any] = {}

    def formula(self, sheet, row, col, text, expected, fmt=None) -> None:
        from openpyxl.utils import get_column_letter

        self.expected[(sheet, f"{get_column_letter(col)}{row}")] = expected

    def value(self, sheet, row, col, value, fmt=None) -> None:
        return None

    def rows(self, sheet, row, col, values, fmts=None) -> None:
        return None

    def clear(self, sheet, first_row, last_col, last_row=None) -> None:
        return None

    def hide_rows(self, sheet, first, last, hidden) -> None:
        return None


# --- the open-book path (xlwings) ---------------------------------------------------------------


class XlwingsSink:
    """Collects values for the open workbook and writes them in few calls.

    Formula cells are left alone: the template's native formulas are already in the book and
    Excel recalculates them. Number formats were set when the template was built.
    """

    def __init__(self, sheets: dict[str, Any]) -> None:
        self.sheets = sheets
        self._cells: dict[str, dict[tuple[int, int], Any]] = {}
        self._blocks: list[tuple[str, int, int, list[list[Any]]]] = []
        self._clears: list[tuple[str, int, int]] = []
        self._hidden: list[tuple[str, int, int, bool]] = []
        #: Cells whose formula is written all the same: a block the book predates (see
        #: _add_closed_loop_cards_open).
        self.new_formula_cells: set[tuple[str, int, int]] = set()
        self._formulas: list[tuple[str, int, int, str]] = []

    def formula(self, sheet, row, col, text, expected, fmt=None) -> None:
        if (sheet, row, col) in self.new_formula_cells:
            self._formulas.append((sheet, row, col, text))

    def value(self, sheet, row, col, value, fmt=None) -> None:
        # Excel reads text written into a cell like typed input: "=..." would become a formula.
        self._cells.setdefault(sheet, {})[(row, col)] = excel_text(value)

    def rows(self, sheet, row, col, values, fmts=None) -> None:
        if values:
            self._blocks.append((sheet, row, col, [[excel_text(v) for v in line] for line in values]))

    def clear(self, sheet, first_row, last_col, last_row=None) -> None:
        self._clears.append((sheet, first_row, last_col, last_row))

    def hide_rows(self, sheet, first, last, hidden) -> None:
        self._hidden.append((sheet, first, last, hidden))

    def flush(self) -> None:
        for sheet, first, last_col, last_row in self._clears:
            ws = self.sheets[sheet]
            last = ws.used_range.last_cell.row
            if last_row is not None:
                last = min(last, last_row)
            if last < first:
                continue
            values = ws.range((first, 1), (last, last_col)).options(ndim=2).value
            # The previous output ends at its first empty row (see Sink.clear); below it are the user's.
            end = next((first + i for i, r in enumerate(values) if all(v in (None, "") for v in r)), last + 1)
            if end > first:
                ws.range((first, 1), (end - 1, last_col)).clear_contents()
        for sheet, cells in self._cells.items():
            ws = self.sheets[sheet]
            # One write per run of adjacent cells in a row.
            for (row, col), run in _runs(cells):
                ws.range((row, col)).value = [run]
        for sheet, row, col, values in self._blocks:
            width = max(len(v) for v in values)
            self.sheets[sheet].range((row, col)).value = [v + [None] * (width - len(v)) for v in values]
        for sheet, first, last, hidden in self._hidden:
            # Row height 0 hides a row in every xlwings backend; 15 points is Excel's default height.
            self.sheets[sheet].range(f"{first}:{last}").row_height = 0 if hidden else 15
        for sheet, row, col, text in self._formulas:
            self.sheets[sheet].range((row, col)).formula = "=" + text


def _add_closed_loop_cards_open(sink: XlwingsSink, ctx: Context) -> bool:
    """:func:`_add_closed_loop_cards` for the book open in Excel: the first card's cells copied
    (formats and merged cells), then its contents replaced; the cards' formulas are written too."""
    ws = sink.sheets["dashboard"]
    row, col = card_cell(FIRST_CARDS)
    if ws.range((row, col)).value not in (None, ""):
        return False
    r0, c0 = card_cell(0)
    first = ws.range((r0, c0), (r0 + 3, c0 + 1))
    for i in range(FIRST_CARDS, len(CARDS)):
        row, col = card_cell(i)
        block = ws.range((row, col), (row + 3, col + 1))
        first.copy(block)
        block.clear_contents()
        ws.range((row, col)).value = ctx.lab["kpi"][CARDS[i][0]]
        ws.range((row + 2, col)).value = ctx.lab["text"]["vs_previous"]
        unit = CARDS[i][1]
        ws.range((row + 1, col)).number_format = FORMATS[unit]
        ws.range((row + 2, col + 1)).number_format = FORMATS[f"change_{unit}"]
        sink.new_formula_cells |= {("dashboard", row + 1, col), ("dashboard", row + 2, col + 1)}
    ws.range((1, SIDE_COL - 1)).column_width = SIDE_GAP_WIDTH
    for j in range(SIDE_COL, SIDE_COL + 6):
        ws.range((1, j)).column_width = CARD_WIDTH
    # The print area widened as in _dashboard_print_area (only while it is the first template's).
    area = ws.page_setup.print_area or ""
    if area.split("!")[-1].replace("$", "") == f"A1:J{DASHBOARD_ROWS}":
        ws.page_setup.print_area = f"$A$1:${get_column_letter(SIDE_COL + 5)}${DASHBOARD_ROWS}"
    return True


def _runs(cells: dict[tuple[int, int], Any]):
    for row, col in sorted(cells):
        if (row, col - 1) in cells:
            continue
        run, c = [], col
        while (row, c) in cells:
            run.append(cells[(row, c)])
            c += 1
        yield (row, col), run


def refresh_book(book: Any, *, predict: bool = True) -> RefreshReport:
    """Refresh the workbook open in Excel (an ``xlwings.Book``): what the Refresh button runs.

    Reads the Tables and Settings of the open book, computes through the engine and writes the
    owned sheets' values, in the book itself (save it afterwards as usual).
    """
    t = time.perf_counter()
    marker = None
    try:
        marker = book.names[MARKER_NAME].refers_to
    except Exception:  # noqa: BLE001 - xlwings raises different errors per platform for a missing name
        marker = None
    lang = _marker_lang(marker, book.name)
    lab = labels(lang)

    def named_range(name: str) -> Any:
        try:
            return book.names[name].refers_to_range
        except Exception:  # noqa: BLE001 - see above
            raise WorkbookError(
                f"{book.name}: the defined name {name} is missing; rebuild the template", argument=name
            )

    def has_name(name: str) -> bool:
        try:
            return book.names[name] is not None
        except Exception:  # noqa: BLE001 - see above
            return False

    sheets = {
        k: named_range(sheet_anchor(k)).sheet
        for k in SHEETS
        if k not in ADDED_SHEETS or has_name(sheet_anchor(k))
    }
    names = {k: s.name for k, s in sheets.items()}
    raw_settings, where = {}, {}
    missing = [s for s in SETTINGS if s.added and not has_name(setting_name(s.key))]
    notes = _settings_note(missing, lang, names)
    for s in SETTINGS:
        if s in missing:
            raw_settings[s.key], where[s.key] = s.default, s.key
            continue
        rng = named_range(setting_name(s.key))
        raw_settings[s.key] = rng.value
        where[s.key] = f"{rng.sheet.name}!{rng.address.replace('$', '')} ({lab['setting'][s.key][0]})"
    raw, headers = {}, {}
    for key, spec in TABLES.items():
        try:
            table = sheets[key].tables[spec.name]
        except Exception:  # noqa: BLE001
            raise WorkbookError(
                f"{book.name}: sheet {names[key]!r} has no Table named {spec.name}", argument=key
            )
        head = table.header_row_range.value
        head = head if isinstance(head, list) else [head]
        positions = _header_map(key, head, f"{book.name}, sheet {names[key]!r}")
        headers[key] = {k: str(head[p]) for k, p in positions.items()}
        body_range = table.data_body_range
        body: list[list[Any]] = []
        first = table.header_row_range.row + 1
        if body_range is not None:
            values = body_range.options(ndim=2).value
            body = [list(r) for r in values]
            first = body_range.row
        raw[key] = _frame(key, body, first, positions, sheet=names[key], notes=notes)
    timings = {"read": time.perf_counter() - t}
    t = time.perf_counter()
    settings = read_settings(raw_settings, lambda k: where[k])
    ctx = Context(lang, lab, names, headers, lab["yes"], lab["no"])
    data = prepare(raw, settings, sheet_names=names, headers=headers, yes=ctx.yes, no=ctx.no)
    res = compute(data, settings, predict=predict)
    res.notes[:0] = notes + _added_sheets_note(names, lang)
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    sink = XlwingsSink(sheets)
    if _add_closed_loop_cards_open(sink, ctx):
        res.notes.append(_CARDS_ADDED)
    status = Status(
        dt.datetime.now().replace(microsecond=0),
        data.rows_read,
        data.invalid_by_table,
        data.invalid,
        res.notes,
    )
    place(sink, ctx, res, status)
    sink.flush()
    timings["write"] = time.perf_counter() - t
    return _report(None, None, lang, ctx, data, res, timings)
