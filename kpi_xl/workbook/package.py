"""The workbook file as what it is, a zip package of XML parts: read its sheets, defined names and
Tables without loading any cell, and write a copy in which only a few parts change.

The headless refresh works at this level. Loading and saving a whole workbook with openpyxl costs
seconds per 100,000 data rows that the refresh never changes (47 s to load and 49 s to save the
template holding 700,000 data rows, 87% of a 110 s refresh; see ``benchmarks/RESULTS.md``), and
the round trip through openpyxl's object model drops whatever openpyxl does not model (cached
formula values, pivot caches, slicers, threaded comments, ...). Here:

* reading takes the sheet list and defined names from ``xl/workbook.xml`` and each Table's range
  from its table part; cell values come from python-calamine (in :mod:`.refresh`);
* writing rewrites only the ``<sheetData>`` of the owned sheets (every other element of those
  sheets - column widths, merged cells, conditional formats, the chart drawing, the button's
  legacy drawing, page setup - is kept as it was), appends the number formats the new cells
  need to ``styles.xml``, moves the range of a Table that grew, and copies every other member of
  the zip byte for byte, compressed bytes included;
* like Excel after an edit, it drops ``xl/calcChain.xml`` (the calculation order of formula
  cells, which Excel rebuilds; left in place it would list cells that no longer hold formulas)
  and sets ``fullCalcOnLoad`` so Excel recalculates the native formulas on opening, as it does for
  files openpyxl writes.

New text cells are inline strings (``t="inlineStr"``), so ``sharedStrings.xml`` is never
rewritten either; Excel turns them into shared strings on its next save.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import posixpath
import re
import struct
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

import numpy as np
import pandas as pd
from defusedxml import ElementTree as SafeET
from openpyxl.formula.translate import Translator
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_REVERSE, is_date_format
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel
from openpyxl.workbook.defined_name import DefinedName

__all__ = [
    "Package",
    "PackageError",
    "TablePart",
    "SheetEditor",
    "StyleBook",
    "PartsSink",
    "table_with_ref",
    "without_cached_values",
    "write_copy",
]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_DOC = _REL + "/officeDocument"
_TABLE_REL = _REL + "/table"
_CALC_CHAIN_REL = _REL + "/calcChain"
_STYLES_REL = _REL + "/styles"

# An element name with an optional namespace prefix, as a regex fragment.
_P = r"(?:[A-Za-z_][\w.-]*:)?"
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class PackageError(Exception):
    """The file is not a readable xlsx/xlsm package, or lacks a part every workbook has."""


@dataclass(frozen=True)
class TablePart:
    """An Excel Table: its names, its range (``A1:G1500``, header row included) and its part."""

    name: str
    display_name: str
    ref: str
    part: str


def _attrs(tag: str) -> list[tuple[str, str]]:
    """Attributes of a start tag, in order, values unescaped."""
    entities = {"&quot;": '"', "&apos;": "'"}
    return [
        (m.group(1), unescape(m.group(2) if m.group(2) is not None else m.group(3), entities))
        for m in _ATTR.finditer(tag)
    ]


def _attr_text(attrs: Iterable[tuple[str, str]]) -> str:
    return "".join(f' {k}="{_escape_attr(v)}"' for k, v in attrs)


def _escape_attr(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


# Characters XML 1.0 cannot carry; OOXML writes them as _xHHHH_ (ECMA-376 Part 1, 22.9.2.19), and a
# literal "_xHHHH_" in the text is protected the same way, as _x005F_xHHHH_.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x")


def _escape_text(s: str) -> str:
    if _SPECIAL.search(s) is None:
        return s
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", s)


def _join(base: str, target: str) -> str:
    """Resolve a relationship target against the folder of the part that holds it."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


class Package:
    """A workbook file opened as a zip package, for reading its structure (not its cells)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with zipfile.ZipFile(self.path) as z:
                self.infos = z.infolist()
                self._members = {i.filename: i for i in self.infos}
                self._cache: dict[str, bytes] = {}
                self._zip = z
                self._read_structure()
        except (zipfile.BadZipFile, KeyError, SafeET.ParseError, UnicodeDecodeError) as exc:
            raise PackageError(f"not an Excel workbook package ({exc})") from exc
        finally:
            self._zip = None

    # -- reading parts ------------------------------------------------------------------------

    def read(self, part: str) -> bytes:
        """The uncompressed bytes of a part (cached: the structure parts are read once)."""
        if part not in self._cache:
            if part not in self._members:
                raise PackageError(f"the package has no part {part}")
            if self._zip is not None:
                self._cache[part] = self._zip.read(part)
            else:
                with zipfile.ZipFile(self.path) as z:
                    self._cache[part] = z.read(part)
        return self._cache[part]

    def has(self, part: str) -> bool:
        return part in self._members

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, resolved target part) of a part; empty if it has none."""
        path = _rels_path(part)
        if not self.has(path):
            return {}
        root = SafeET.fromstring(self.read(path))
        out = {}
        for rel in root.iter(f"{{{_PKG_REL}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            out[rel.get("Id", "")] = (rel.get("Type", ""), _join(part, rel.get("Target", "")))
        return out

    def _read_structure(self) -> None:
        root_rels = self._rels("")
        main = next((t for typ, t in root_rels.values() if typ == _OFFICE_DOC), "xl/workbook.xml")
        self.workbook_part = main
        wb = SafeET.fromstring(self.read(main))
        self.workbook_rels = self._rels(main)
        pr = wb.find(f"{{{_MAIN}}}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
        self.sheets: dict[str, str] = {}
        for sheet in wb.iter(f"{{{_MAIN}}}sheet"):
            rid = sheet.get(f"{{{_REL}}}id")
            if rid in self.workbook_rels:
                self.sheets[sheet.get("name", "")] = self.workbook_rels[rid][1]
        self.names: dict[str, str] = {}
        for dn in wb.iter(f"{{{_MAIN}}}definedName"):
            # Names scoped to one sheet (localSheetId) are not the workbook's names.
            if dn.get("localSheetId") is None and dn.get("name"):
                self.names[dn.get("name")] = dn.text or ""
        self.styles_part = next((t for typ, t in self.workbook_rels.values() if typ == _STYLES_REL), None)
        self.calc_chain = next((t for typ, t in self.workbook_rels.values() if typ == _CALC_CHAIN_REL), None)

    # -- what refresh asks ----------------------------------------------------------------------

    def destination(self, name: str) -> tuple[str, str] | None:
        """``(sheet, "B7")`` a defined name points at, or None when the name is missing or ``#REF!``."""
        if name not in self.names:
            return None
        dests = list(DefinedName(name, attr_text=self.names[name]).destinations)
        if not dests:
            return None
        sheet, cell = dests[0]
        return sheet, cell.replace("$", "")

    def tables(self, sheet: str) -> list[TablePart]:
        """The Excel Tables on a sheet."""
        part = self.sheets[sheet]
        out = []
        for typ, target in self._rels(part).values():
            if typ != _TABLE_REL or not self.has(target):
                continue
            root = SafeET.fromstring(self.read(target))
            name = root.get("name") or root.get("displayName") or ""
            out.append(TablePart(name, root.get("displayName") or name, root.get("ref", ""), target))
        return out


# ----------------------------------------------------------------------------------------------
# Styles: the number formats new cells need
# ----------------------------------------------------------------------------------------------


def _section(xml: str, tag: str) -> re.Match[str] | None:
    return re.search(rf"<({_P}){tag}\b([^>]*?)(?:/>|>(.*?)</{_P}{tag}>)", xml, re.S)


_XF = re.compile(rf"<{_P}xf\b[^>]*?(?:/>|>.*?</{_P}xf>)", re.S)


class StyleBook:
    """``styles.xml``: finds or adds the cell format (xf) that is an existing one with another
    number format, which is what setting ``cell.number_format`` does in openpyxl."""

    def __init__(self, xml: bytes) -> None:
        self.xml = xml.decode("utf-8")
        xfs = _section(self.xml, "cellXfs")
        if xfs is None:
            raise PackageError("styles.xml has no cellXfs")
        self.prefix = xfs.group(1)
        self.xfs = _XF.findall(xfs.group(3) or "")
        self._keys = {self._key(x): i for i, x in reversed(list(enumerate(self.xfs)))}
        self.formats: dict[str, int] = dict(BUILTIN_FORMATS_REVERSE)
        self._custom_ids = [163]
        fmts = _section(self.xml, "numFmts")
        if fmts is not None:
            for tag in re.findall(rf"<{_P}numFmt\b[^>]*>", fmts.group(3) or ""):
                a = dict(_attrs(tag))
                if "numFmtId" in a and "formatCode" in a:
                    self.formats.setdefault(a["formatCode"], int(a["numFmtId"]))
                    self._custom_ids.append(int(a["numFmtId"]))
        self.new_formats: list[tuple[int, str]] = []
        self.new_xfs: list[str] = []
        self._cache: dict[tuple[int, str], int] = {}

    @staticmethod
    def _key(xf: str) -> tuple[Any, ...]:
        start = re.match(r"<[^>]*?/?>", xf)
        head = start.group() if start else xf
        return tuple(sorted(_attrs(head))), xf[len(head) :]

    @property
    def changed(self) -> bool:
        return bool(self.new_xfs)

    def number_format(self, xf: int) -> int:
        """The numFmtId of a cell format (0, General, for an unknown index)."""
        if xf >= len(self.xfs):
            return 0
        start = re.match(r"<[^>]*?/?>", self.xfs[xf])
        return int(dict(_attrs(start.group())).get("numFmtId", 0)) if start else 0

    def is_date(self, xf: int) -> bool:
        """Whether a cell format shows a date or time."""
        fid = self.number_format(xf)
        code = BUILTIN_FORMATS.get(fid) or next((c for c, i in self.formats.items() if i == fid), "General")
        return is_date_format(code)

    def with_format(self, base: int, code: str) -> int:
        """Index of a cell format like ``base`` but with number format ``code`` (added if new)."""
        key = (base, code)
        if key in self._cache:
            return self._cache[key]
        fid = self.formats.get(code)
        if fid is None:
            fid = max(self._custom_ids) + 1
            self._custom_ids.append(fid)
            self.formats[code] = fid
            self.new_formats.append((fid, code))
        src = self.xfs[base] if base < len(self.xfs) else self.xfs[0]
        if self.number_format(base if base < len(self.xfs) else 0) == fid:
            index = base if base < len(self.xfs) else 0
        else:
            start = re.match(r"<[^>]*?/?>", src)
            head, rest = start.group(), src[start.end() :]
            attrs = [(k, v) for k, v in _attrs(head) if k not in ("numFmtId", "applyNumberFormat")]
            close = "/>" if head.endswith("/>") else ">"
            xf = f'<{self.prefix}xf numFmtId="{fid}"{_attr_text(attrs)} applyNumberFormat="1"{close}{rest}'
            index = self._keys.get(self._key(xf))
            if index is None:
                index = len(self.xfs)
                self.xfs.append(xf)
                self.new_xfs.append(xf)
                self._keys[self._key(xf)] = index
        self._cache[key] = index
        return index

    def to_bytes(self) -> bytes:
        xml = self.xml
        p = self.prefix
        if self.new_formats:
            items = "".join(
                f'<{p}numFmt numFmtId="{i}" formatCode="{_escape_attr(c)}"/>' for i, c in self.new_formats
            )
            fmts = _section(xml, "numFmts")
            if fmts is None:
                # numFmts is the first element of a style sheet.
                at = re.search(rf"<{_P}styleSheet\b[^>]*>", xml).end()
                block = f'<{p}numFmts count="{len(self.new_formats)}">{items}</{p}numFmts>'
            else:
                at = fmts.start()
                body = (fmts.group(3) or "") + items
                count = len(re.findall(rf"<{_P}numFmt\b", body))
                block = f'<{fmts.group(1)}numFmts count="{count}">{body}</{fmts.group(1)}numFmts>'
                xml = xml[: fmts.start()] + xml[fmts.end() :]
            xml = xml[:at] + block + xml[at:]
        if self.new_xfs:
            xfs = _section(xml, "cellXfs")
            attrs = _attr_text((k, v) for k, v in _attrs(xfs.group(2)) if k != "count")
            body = (xfs.group(3) or "") + "".join(self.new_xfs)
            block = f'<{p}cellXfs count="{len(self.xfs)}"{attrs}>{body}</{p}cellXfs>'
            xml = xml[: xfs.start()] + block + xml[xfs.end() :]
        return xml.encode("utf-8")


# ----------------------------------------------------------------------------------------------
# Worksheets: rewriting cells inside <sheetData>
# ----------------------------------------------------------------------------------------------

#: Elements of a worksheet that come after ``mergeCells`` (ECMA-376 Part 1, 18.3.1.99, CT_Worksheet).
_AFTER_MERGE_CELLS = (
    "phoneticPr", "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions", "pageMargins",
    "pageSetup", "headerFooter", "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors",
    "smartTags", "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects",
    "controls", "webPublishItems", "tableParts", "extLst",
)  # fmt: skip
_ROW_NUMBER = re.compile(r'\sr\s*=\s*["\'](\d+)')
_CELL_COLUMN = re.compile(r'(?:^|\s)r\s*=\s*["\']([A-Z]+)\d+')
_ONLY_NUMBER = re.compile(r'\s*r="\d+"\s*')
_CELL_STYLE = re.compile(r'<[^>]*?\ss\s*=\s*["\'](\d+)')
_DATE_DEFAULTS = {"datetime": "yyyy-mm-dd h:mm:ss", "date": "yyyy-mm-dd", "time": "h:mm:ss"}


@dataclass
class _Row:
    attrs: list[tuple[str, str]]
    cells: dict[int, str]
    extra: str = ""


def _cell_value(v: Any, epoch: Any) -> tuple[str, str | None, str | None]:
    """(kind, XML text of the value, date kind for the default format) of a Python value."""
    if isinstance(v, str):
        return "s", v, None
    if v is None:
        return "none", None, None
    if isinstance(v, (bool, np.bool_)):
        return "b", "1" if v else "0", None
    if isinstance(v, (int, np.integer)):
        return "n", str(int(v)), None
    if isinstance(v, (float, np.floating)):
        # 16 significant digits, as openpyxl writes them. NaN and infinities have no cell form (the
        # sheets turn them into empty cells before this).
        return ("n", f"{v:.16g}", None) if math.isfinite(v) else ("none", None, None)
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v).to_pydatetime()
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        kind = "datetime" if isinstance(v, dt.datetime) else ("date" if isinstance(v, dt.date) else "time")
        if isinstance(v, (dt.datetime, dt.time)) and v.tzinfo is not None:
            v = v.replace(tzinfo=None)
        return "n", f"{to_excel(v, epoch):.16g}", kind
    raise TypeError(f"cannot write a {type(v).__name__} into a cell: {v!r}")


class SheetEditor:
    """One worksheet part with its ``<sheetData>`` open for writing; everything else is kept."""

    def __init__(self, xml: bytes, styles: StyleBook, date1904: bool = False) -> None:
        text = xml.decode("utf-8")
        m = re.search(rf"<({_P})sheetData\b[^>]*?(/?)>", text)
        if m is None:
            raise PackageError("a worksheet part has no sheetData")
        p = self.p = m.group(1)
        self.styles = styles
        self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        self.head = text[: m.start()]
        if m.group(2):
            body, self.tail = "", text[m.end() :]
        else:
            close = f"</{p}sheetData>"
            end = text.index(close, m.end())
            body, self.tail = text[m.end() : end], text[end + len(close) :]
        self._row_re = re.compile(rf"<{re.escape(p)}row\b([^>]*?)(/?)>")
        # The column letters are captured directly when r is the cell's first attribute (as every
        # writer puts it); otherwise they are searched among the attributes.
        self._cell_re = re.compile(
            rf"<{re.escape(p)}c\b(?:\s+r=\"([A-Z]+)\d+\")?([^>]*?)(?:/>|>(.*?)</{re.escape(p)}c>)", re.S
        )
        self.rows: dict[int, _Row | str] = {}
        # Rows cannot nest, so each row runs from its start tag to the next one (or the end).
        starts = [m.start() for m in re.finditer(rf"<{re.escape(p)}row\b", body)] + [len(body)]
        last = 0
        for a, b in zip(starts, starts[1:], strict=False):
            raw = body[a:b].rstrip()
            num = _ROW_NUMBER.search(raw, 0, raw.find(">") + 1)
            last = int(num.group(1)) if num else last + 1
            # A row without its number is numbered by position: keep it parsed so it is written with one.
            self.rows[last] = raw if num else self._parse(raw, last)
        if re.search(r"""\bt\s*=\s*["']shared""", body):
            self._unshare()
        self.bounds: list[int] | None = None

    # -- parsing ---------------------------------------------------------------------------------

    def _parse(self, raw: str, number: int) -> _Row:
        start = self._row_re.match(raw)
        head = start.group(1)
        attrs = [] if _ONLY_NUMBER.fullmatch(head) else [(k, v) for k, v in _attrs(head) if k != "r"]
        cells: dict[int, str] = {}
        extra = ""
        if not start.group(2):
            inner = raw[start.end() : raw.rindex("<")]
            col = 0
            used = 0
            for c in self._cell_re.finditer(inner):
                letters = c.group(1)
                if letters is None:
                    ref = _CELL_COLUMN.search(c.group(2))
                    letters = ref.group(1) if ref else None
                col = column_index_from_string(letters) if letters else col + 1
                cell = c.group()
                used += len(cell)
                if not letters:
                    cell = f'<{self.p}c r="{get_column_letter(col)}{number}"' + cell[len(self.p) + 2 :]
                cells[col] = cell
            # Anything in the row besides its cells (an extLst) is kept after them.
            extra = self._cell_re.sub("", inner).strip() if used != len(inner) else ""
        return _Row([("r", str(number)), *attrs], cells, extra)

    def _row(self, number: int, create: bool = True) -> _Row | None:
        row = self.rows.get(number)
        if isinstance(row, str):
            row = self.rows[number] = self._parse(row, number)
        elif row is None and create:
            row = self.rows[number] = _Row([("r", str(number))], {})
        return row

    def _unshare(self) -> None:
        """Turn shared formulas into one formula per cell (as openpyxl does on loading), so a cell
        written here never leaves the cells that shared its formula without one."""
        f_re = re.compile(rf"<{re.escape(self.p)}f\b([^>]*?)(?:/>|>(.*?)</{re.escape(self.p)}f>)", re.S)
        masters: dict[str, tuple[str, str]] = {}
        found: list[tuple[_Row, int, re.Match[str]]] = []
        for number in list(self.rows):
            row = self._row(number)
            for col, cell in row.cells.items():
                f = f_re.search(cell)
                if f and dict(_attrs(f.group(1))).get("t") == "shared":
                    found.append((row, col, f))
                    if f.group(2):
                        coord = f"{get_column_letter(col)}{row.attrs[0][1]}"
                        masters[dict(_attrs(f.group(1))).get("si", "")] = ("=" + unescape(f.group(2)), coord)
        for row, col, f in found:
            si = dict(_attrs(f.group(1))).get("si", "")
            if si not in masters:
                continue
            text, origin = masters[si]
            coord = f"{get_column_letter(col)}{row.attrs[0][1]}"
            formula = Translator(text, origin=origin).translate_formula(coord)[1:]
            cell = row.cells[col]
            row.cells[col] = cell.replace(f.group(), f"<{self.p}f>{_escape_text(formula)}</{self.p}f>", 1)

    @staticmethod
    def _style(cell: str) -> int:
        s = _CELL_STYLE.match(cell)
        return int(s.group(1)) if s else 0

    def _grow(self, row: int, col: int) -> None:
        if self.bounds is None:
            self.bounds = [row, col, row, col]
        else:
            b = self.bounds
            b[0], b[1], b[2], b[3] = min(b[0], row), min(b[1], col), max(b[2], row), max(b[3], col)

    # -- writing ---------------------------------------------------------------------------------

    def put(self, row: int, col: int, value: Any, fmt: str | None = None, *, formula: bool = False) -> None:
        """Write a value (or, with ``formula``, formula text without the "=") into a cell, keeping
        its cell format and, if ``fmt`` is given, switching its number format to ``fmt``."""
        r = self.rows.get(row)
        if not isinstance(r, _Row):
            r = self._row(row)
        old = r.cells.get(col)
        s = 0 if old is None else self._style(old)
        p = self.p
        ref = f"{get_column_letter(col)}{row}"
        if formula:
            kind, text, date_kind = "f", value, None
        else:
            kind, text, date_kind = _cell_value(value, self.epoch)
        if fmt:
            s = self.styles.with_format(s, fmt)
        elif date_kind and not self.styles.is_date(s):
            # openpyxl gives a date written into a General cell a date format; so does this.
            s = self.styles.with_format(s, _DATE_DEFAULTS[date_kind])
        sa = f' s="{s}"' if s else ""
        if kind == "none":
            if s:
                r.cells[col] = f'<{p}c r="{ref}"{sa}/>'
            else:
                r.cells.pop(col, None)
            return
        self._grow(row, col)
        if kind == "f":
            r.cells[col] = f'<{p}c r="{ref}"{sa}><{p}f>{_escape_text(text)}</{p}f></{p}c>'
        elif kind == "s":
            r.cells[col] = (
                f'<{p}c r="{ref}"{sa} t="inlineStr"><{p}is><{p}t xml:space="preserve">'
                f"{_escape_text(text)}</{p}t></{p}is></{p}c>"
            )
        elif kind == "b":
            r.cells[col] = f'<{p}c r="{ref}"{sa} t="b"><{p}v>{text}</{p}v></{p}c>'
        else:
            r.cells[col] = f'<{p}c r="{ref}"{sa}><{p}v>{text}</{p}v></{p}c>'

    def put_rows(
        self, row: int, col: int, values: Sequence[Sequence[Any]], fmts: Sequence[str | None] | None
    ) -> None:
        """Write a block of values (one list per row): :meth:`put` for each, with the common
        cases (text, finite floats) done inline, since a block can be 50,000 rows of CLV."""
        p = self.p
        width = max((len(line) for line in values), default=0)
        if not width:
            return
        letters = [get_column_letter(col + j) for j in range(width)]
        formats = [(fmts[j] if fmts and j < len(fmts) else None) for j in range(width)]
        style: dict[tuple[int, int], int] = {}
        for i, line in enumerate(values):
            number = row + i
            r = self.rows.get(number)
            if not isinstance(r, _Row):
                r = self._row(number)
            cells = r.cells
            for j, v in enumerate(line):
                kind = type(v)
                if kind is not str and (kind is not float or not math.isfinite(v)):
                    self.put(number, col + j, v, formats[j])
                    continue
                old = cells.get(col + j)
                s0 = 0 if old is None else self._style(old)
                s = style.get((s0, j))
                if s is None:
                    s = style[(s0, j)] = self.styles.with_format(s0, formats[j]) if formats[j] else s0
                sa = f' s="{s}"' if s else ""
                if kind is str:
                    cells[col + j] = (
                        f'<{p}c r="{letters[j]}{number}"{sa} t="inlineStr"><{p}is><{p}t xml:space="preserve">'
                        f"{_escape_text(v)}</{p}t></{p}is></{p}c>"
                    )
                else:
                    cells[col + j] = f'<{p}c r="{letters[j]}{number}"{sa}><{p}v>{v:.16g}</{p}v></{p}c>'
        self._grow(row, col)
        self._grow(row + len(values) - 1, col + width - 1)

    def clear(self, first_row: int, last_col: int, last_row: int | None = None) -> None:
        """Empty columns 1..last_col of the block a previous refresh wrote (cell formats stay): from
        ``first_row`` down to the row before the first one with none of those columns filled, and no
        further than ``last_row``. What the user typed below, after a blank row, is kept."""
        p = self.p
        filled = re.compile(rf"<{re.escape(p)}(?:v|f|is)\b")
        end = first_row
        while last_row is None or end <= last_row:
            row = self._row(end, create=False)
            if row is None or not any(c <= last_col and filled.search(x) for c, x in row.cells.items()):
                break
            end += 1
        for number in range(first_row, end):
            row = self._row(number)
            for col in [c for c in row.cells if c <= last_col]:
                s = self._style(row.cells[col])
                if s:
                    row.cells[col] = f'<{p}c r="{get_column_letter(col)}{number}" s="{s}"/>'
                else:
                    del row.cells[col]

    # -- formats (for a sheet built by an earlier template that lacks a newer block) ---------------

    def style_of(self, row: int, col: int) -> int:
        """The cell format index of a cell (0 where the cell does not exist)."""
        r = self._row(row, create=False)
        cell = None if r is None else r.cells.get(col)
        return 0 if cell is None else self._style(cell)

    def has_value(self, row: int, col: int) -> bool:
        r = self._row(row, create=False)
        cell = None if r is None else r.cells.get(col)
        return cell is not None and re.search(rf"<{re.escape(self.p)}(?:v|f|is)\b", cell) is not None

    def set_style(self, row: int, col: int, style: int) -> None:
        """Give a cell the cell format ``style``, keeping its value."""
        r = self._row(row)
        old = r.cells.get(col)
        if old is None:
            r.cells[col] = f'<{self.p}c r="{get_column_letter(col)}{row}" s="{style}"/>'
            return
        head = re.match(r"<[^>]*?/?>", old).group()
        close = "/>" if head.endswith("/>") else ">"
        attrs = [(k, v) for k, v in _attrs(head) if k != "s"] + [("s", str(style))]
        r.cells[col] = f"<{self.p}c{_attr_text(attrs)}{close}" + old[len(head) :]

    def merge(self, ref: str) -> None:
        """Merge the range ``ref`` ("L4:M4") unless it is merged already."""
        p = self.p
        block = re.search(rf"<({_P})mergeCells\b([^>]*?)(?:/>|>(.*?)</{_P}mergeCells>)", self.tail, re.S)
        item = f'<{p}mergeCell ref="{ref}"/>'
        if block is None:
            later = re.search(
                rf"<{re.escape(p)}(?:{'|'.join(_AFTER_MERGE_CELLS)})\b|</{re.escape(p)}worksheet>", self.tail
            )
            at = later.start() if later else len(self.tail)
            self.tail = self.tail[:at] + f'<{p}mergeCells count="1">{item}</{p}mergeCells>' + self.tail[at:]
            return
        refs = re.findall(r"""\sref\s*=\s*["']([^"']*)""", block.group(3) or "")
        if ref in refs:
            return
        attrs = _attr_text((k, v) for k, v in _attrs(block.group(2)) if k != "count")
        new = f'<{p}mergeCells count="{len(refs) + 1}"{attrs}>{block.group(3) or ""}{item}</{p}mergeCells>'
        self.tail = self.tail[: block.start()] + new + self.tail[block.end() :]

    def column_width(self, col: int, width: float) -> None:
        """Set the width of a column the sheet gives no width (a width the user chose stays)."""
        p = self.p
        cols = re.search(rf"<({_P})cols\b[^>]*>(.*?)</{_P}cols>", self.head, re.S)
        items = re.findall(rf"<{_P}col\b[^>]*?(?:/>|>.*?</{_P}col>)", cols.group(2), re.S) if cols else []
        spans = [dict(_attrs(re.match(r"<[^>]*?/?>", c).group())) for c in items]
        if any(int(a.get("min", 0)) <= col <= int(a.get("max", 0)) for a in spans):
            return
        new = f'<{p}col min="{col}" max="{col}" width="{width:g}" customWidth="1"/>'
        ordered = sorted(
            [*zip(spans, items, strict=True), ({"min": str(col)}, new)], key=lambda x: int(x[0].get("min", 0))
        )
        body = "".join(c for _, c in ordered)
        if cols is None:
            self.head += f"<{p}cols>{body}</{p}cols>"
        else:
            self.head = self.head[: cols.start(2)] + body + self.head[cols.end(2) :]

    def hide_rows(self, first: int, last: int, hidden: bool) -> None:
        for number in range(first, last + 1):
            row = self._row(number, create=hidden)
            if row is None:
                continue
            row.attrs = [(k, v) for k, v in row.attrs if k != "hidden"] + (
                [("hidden", "1")] if hidden else []
            )

    def to_bytes(self) -> bytes:
        p = self.p
        head = self.head
        if self.bounds is not None:
            dim = re.search(rf"(<{_P}dimension\b[^>]*?\sref\s*=\s*[\"'])([^\"']*)([\"'])", head)
            if dim:
                b = self.bounds
                try:
                    c0, r0, c1, r1 = range_boundaries(dim.group(2))
                    b = [min(b[0], r0), min(b[1], c0), max(b[2], r1 or r0), max(b[3], c1 or c0)]
                except (ValueError, TypeError):
                    pass
                ref = f"{get_column_letter(b[1])}{b[0]}:{get_column_letter(b[3])}{b[2]}"
                head = head[: dim.start(2)] + ref + head[dim.end(2) :]
        out = [head, f"<{p}sheetData>"]
        for number in sorted(self.rows):
            row = self.rows[number]
            if isinstance(row, str):
                out.append(row)
                continue
            # "spans" is only a hint of the columns in use, and would be stale.
            attrs = _attr_text((k, v) for k, v in row.attrs if k != "spans")
            if row.cells or row.extra:
                cells = "".join(row.cells[c] for c in sorted(row.cells))
                out.append(f"<{p}row{attrs}>{cells}{row.extra}</{p}row>")
            elif len(row.attrs) > 1:
                out.append(f"<{p}row{attrs}/>")
        out += [f"</{p}sheetData>", self.tail]
        return "".join(out).encode("utf-8")


class PartsSink:
    """The :class:`kpi_xl.workbook.sheets.Sink` over a package: placed cells go into the owned
    sheets' XML (a formula's engine value is not kept: refresh writes the formula, Excel computes it)."""

    def __init__(self, package: Package, sheet_names: dict[str, str]) -> None:
        if package.styles_part is None:
            raise PackageError("the workbook has no styles part")
        self.package = package
        self.sheet_names = sheet_names
        self.styles = StyleBook(package.read(package.styles_part))
        self.editors: dict[str, SheetEditor] = {}

    def _sheet(self, key: str) -> SheetEditor:
        if key not in self.editors:
            part = self.package.sheets[self.sheet_names[key]]
            self.editors[key] = SheetEditor(self.package.read(part), self.styles, self.package.date1904)
        return self.editors[key]

    def formula(
        self, sheet: str, row: int, col: int, text: str, expected: Any, fmt: str | None = None
    ) -> None:
        self._sheet(sheet).put(row, col, text, fmt, formula=True)

    def value(self, sheet: str, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        self._sheet(sheet).put(row, col, value, fmt)

    def rows(
        self,
        sheet: str,
        row: int,
        col: int,
        values: Sequence[Sequence[Any]],
        fmts: Sequence[str | None] | None = None,
    ) -> None:
        self._sheet(sheet).put_rows(row, col, values, fmts)

    def clear(self, sheet: str, first_row: int, last_col: int, last_row: int | None = None) -> None:
        self._sheet(sheet).clear(first_row, last_col, last_row)

    def hide_rows(self, sheet: str, first: int, last: int, hidden: bool) -> None:
        self._sheet(sheet).hide_rows(first, last, hidden)

    def editor(self, sheet: str) -> SheetEditor:
        """The editor of an owned sheet, for changes beyond cell values (formats, merges, widths)."""
        return self._sheet(sheet)

    def parts(self) -> dict[str, bytes]:
        """The rewritten parts: the owned sheets written to, and styles if formats were added."""
        out = {self.package.sheets[self.sheet_names[k]]: ed.to_bytes() for k, ed in self.editors.items()}
        if self.styles.changed:
            out[self.package.styles_part] = self.styles.to_bytes()
        return out


_FORMULA_CELL = re.compile(rf"<({_P})c\b([^>]*?)(?<!/)>((?:(?!</{_P}c>).)*?<{_P}f\b.*?)</{_P}c>", re.S)
_CACHED = re.compile(rf"<{_P}v\b[^>]*?(?:/>|>.*?</{_P}v>)", re.S)
_RESULT_TYPE = re.compile(r"""\st\s*=\s*["'][^"']*["']""")


def without_cached_values(xml: bytes) -> bytes | None:
    """A worksheet whose formula cells lose their cached results, or None if it has no formulas.

    For the user's own sheets: a formula there may read a cell refresh rewrote, and LibreOffice
    (unlike Excel, which obeys ``fullCalcOnLoad``) shows a formula's cached result until told to
    recalculate; a formula without one it computes on opening."""
    text = xml.decode("utf-8")
    if not re.search(rf"<{_P}f\b", text):
        return None

    def strip(m: re.Match[str]) -> str:
        p = m.group(1)
        return f"<{p}c{_RESULT_TYPE.sub('', m.group(2))}>{_CACHED.sub('', m.group(3))}</{p}c>"

    return _FORMULA_CELL.sub(strip, text).encode("utf-8")


def table_with_ref(xml: bytes, ref: str) -> bytes:
    """A table part with a new range (and its AutoFilter's), for a Table that grew."""
    text = xml.decode("utf-8")
    for tag in ("table", "autoFilter"):
        m = re.search(rf"(<{_P}{tag}\b[^>]*?\sref\s*=\s*[\"'])([^\"']*)", text)
        if m:
            text = text[: m.start(2)] + ref + text[m.end(2) :]
    return text.encode("utf-8")


# ----------------------------------------------------------------------------------------------
# Writing the copy
# ----------------------------------------------------------------------------------------------

_LATER_THAN_CALCPR = (
    "oleSize",
    "customWorkbookViews",
    "pivotCaches",
    "smartTagPr",
    "smartTagTypes",
    "webPublishing",
    "fileRecoveryPr",
    "webPublishObjects",
    "extLst",
)


def _recalculate_on_open(
    package: Package, workbook: bytes | None = None
) -> tuple[dict[str, bytes], set[str]]:
    """Parts to change so Excel recomputes every formula on opening: ``fullCalcOnLoad`` set, the
    calculation chain (and its relationship and content type) removed. ``workbook``: the workbook
    part as changed by the caller, if it was."""
    replace: dict[str, bytes] = {}
    drop: set[str] = set()
    xml = (workbook or package.read(package.workbook_part)).decode("utf-8")
    calc = re.search(rf"<({_P})calcPr\b([^>]*?)(/?)>", xml)
    if calc is not None:
        attrs = _attrs(calc.group(2))
        if dict(attrs).get("fullCalcOnLoad") not in ("1", "true"):
            attrs = [(k, v) for k, v in attrs if k != "fullCalcOnLoad"] + [("fullCalcOnLoad", "1")]
            tag = f"<{calc.group(1)}calcPr{_attr_text(attrs)}{calc.group(3)}>"
            replace[package.workbook_part] = (xml[: calc.start()] + tag + xml[calc.end() :]).encode("utf-8")
    else:
        root = re.search(rf"<({_P})workbook\b", xml)
        p = root.group(1) if root else ""
        later = re.search(
            rf"<{re.escape(p)}(?:{'|'.join(_LATER_THAN_CALCPR)})\b|</{re.escape(p)}workbook>", xml
        )
        if later is not None:
            tag = f'<{p}calcPr fullCalcOnLoad="1"/>'
            replace[package.workbook_part] = (xml[: later.start()] + tag + xml[later.start() :]).encode(
                "utf-8"
            )
    chain = package.calc_chain
    if chain is not None and package.has(chain):
        drop.add(chain)
        rels = _rels_path(package.workbook_part)
        text = package.read(rels).decode("utf-8")
        text = re.sub(rf"<{_P}Relationship\b[^>]*?Type\s*=\s*[\"'][^\"']*/calcChain[\"'][^>]*?/>", "", text)
        replace[rels] = text.encode("utf-8")
        types = package.read("[Content_Types].xml").decode("utf-8")
        types = re.sub(
            rf"<{_P}Override\b[^>]*?PartName\s*=\s*[\"']/{re.escape(chain)}[\"'][^>]*?/>", "", types
        )
        replace["[Content_Types].xml"] = types.encode("utf-8")
    return replace, drop


#: The order the schema (CT_Font, as the Open XML SDK validates it) gives the children of ``<font>``.
#: openpyxl writes them in another order; Excel reads either, the validator reports every such font.
_FONT_CHILDREN = (
    "b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz", "color",
    "name", "family", "charset", "scheme",
)  # fmt: skip
_FONT = re.compile(r"(<(?:[\w.-]+:)?font\b[^>]*?(?<!/)>)(.*?)(</(?:[\w.-]+:)?font>)", re.S)
_EMPTY_ELEMENT = re.compile(r"\s*(<(?:[\w.-]+:)?([\w]+)\b[^>]*?/>)\s*")


def fonts_in_schema_order(xml: bytes) -> bytes:
    """``styles.xml`` with the children of every ``<font>`` (fonts and differential formats) in
    schema order; a font holding anything but empty child elements is left as it is.

    >>> fonts_in_schema_order(b'<fonts><font><name val="Calibri"/><b val="1"/><sz val="11"/></font></fonts>')
    b'<fonts><font><b val="1"/><sz val="11"/><name val="Calibri"/></font></fonts>'
    """

    def order(m: re.Match[str]) -> str:
        kids = list(_EMPTY_ELEMENT.finditer(m.group(2)))
        if sum(len(k.group(0)) for k in kids) != len(m.group(2)):
            return m.group(0)
        rank = {n: i for i, n in enumerate(_FONT_CHILDREN)}
        kids.sort(key=lambda k: rank.get(k.group(2), len(rank)))
        return m.group(1) + "".join(k.group(1) for k in kids) + m.group(3)

    return _FONT.sub(order, xml.decode("utf-8")).encode("utf-8")


def rewrite_part(path: str | Path, part: str, change: Callable[[bytes], bytes]) -> None:
    """Replace one part of a package file in place (through a copy swapped in whole)."""
    package = Package(path)
    new = change(package.read(part))
    tmp = Path(str(path) + ".part")
    try:
        write_copy(package, tmp, {part: new}, recalculate=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_copy(
    package: Package, destination: str | Path, replace: dict[str, bytes], *, recalculate: bool = True
) -> None:
    """Write the package to ``destination`` with the ``replace`` parts swapped in (or added), set
    to recalculate on opening; every other member is copied byte for byte (compressed bytes
    included). ``recalculate=False`` leaves the calculation settings as they are."""
    extra, drop = (
        _recalculate_on_open(package, replace.get(package.workbook_part)) if recalculate else ({}, set())
    )
    replace = {**replace, **extra}
    with (
        open(package.path, "rb") as src,
        open(destination, "wb") as out,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for info in package.infos:
            name = info.filename
            if name in drop:
                continue
            if name in replace:
                new = zipfile.ZipInfo(name, date_time=info.date_time)
                new.external_attr = info.external_attr
                z.writestr(new, replace[name], compress_type=zipfile.ZIP_DEFLATED)
            else:
                _copy_raw(src, info, z, out)
        for name in replace.keys() - {i.filename for i in package.infos}:
            z.writestr(name, replace[name])


def _copy_raw(src: Any, info: zipfile.ZipInfo, z: zipfile.ZipFile, out: Any) -> None:
    """Append a member with its compressed bytes as they are: no inflating, no deflating."""
    src.seek(info.header_offset)
    header = src.read(30)
    if header[:4] != b"PK\x03\x04":
        raise PackageError(f"damaged zip member {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    src.seek(info.header_offset + 30 + name_len + extra_len)
    data = src.read(info.compress_size)
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = info.compress_type
    new.external_attr = info.external_attr
    new.CRC, new.compress_size, new.file_size = info.CRC, info.compress_size, info.file_size
    # The sizes go into the local header, so no data descriptor follows (bit 3 off); bit 11 (UTF-8
    # names) is set again by the header itself.
    new.flag_bits = info.flag_bits & ~0x08 & ~0x800
    new.header_offset = out.tell()
    out.write(new.FileHeader())
    out.write(data)
    # zipfile writes the central directory from its member list at start_dir when it closes.
    z.filelist.append(new)
    z.NameToInfo[new.filename] = new
    z.start_dir = out.tell()
    z._didModify = True
