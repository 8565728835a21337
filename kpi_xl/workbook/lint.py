"""Checks for what makes Excel "repair" a workbook that a schema validator cannot see.

Microsoft's Open XML SDK validator (run by the test suite, ``tests/test_excel_opens.py``) checks each
part against the schema. Excel also refuses, or silently repairs, relations between parts and limits
the schema does not state. :func:`lint_workbook` checks those on a file:

* a Table's header cells hold text equal to the Table's column names, which are unique (Excel
  compares them case-insensitively) and as many as the Table's columns;
* data validation: a list typed into the rule (``"a,b,c"``) and the input and error messages hold at
  most 255 characters, their titles at most 32;
* defined names are valid names (not a cell address, no spaces, at most 255 characters) and unique in
  their scope;
* a formula's text literals hold at most 255 characters, functions newer than Excel 2007 carry their
  ``_xlfn.`` prefix, and a COUNTIFS/SUMIFS/AVERAGEIFS criterion taken from a cell of the same sheet
  holds at most 255 characters (Excel answers ``#VALUE!`` for a longer one);
* at most 250 custom number formats (Excel's own limit is between 200 and 250 by version).

:func:`x14_extensions` counts the ``x14`` extension elements of each part (cross-sheet validation and
conditional formats live there; openpyxl drops them when it loads a book), so that a refreshed book can
be compared with the book it came from.
"""

from __future__ import annotations

import re
from pathlib import Path

from defusedxml import ElementTree as SafeET
from openpyxl.utils import get_column_letter, range_boundaries

from .package import Package

__all__ = ["lint_workbook", "x14_extensions", "FUTURE_FUNCTIONS"]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHARED_STRINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
_XM = "http://schemas.microsoft.com/office/excel/2006/main"

#: Functions Excel added after 2007: stored in a file as ``_xlfn.NAME`` (Excel shows a #NAME? error,
#: or repairs the book, for the bare name). The statistical renames of Excel 2010 and the newer ones.
FUTURE_FUNCTIONS = frozenset(
    {
        "AGGREGATE", "BETA.DIST", "BETA.INV", "BINOM.DIST", "BINOM.INV", "CEILING.MATH", "CEILING.PRECISE",
        "CHISQ.DIST", "CHISQ.DIST.RT", "CHISQ.INV", "CHISQ.INV.RT", "CHISQ.TEST", "CONCAT",
        "CONFIDENCE.NORM", "CONFIDENCE.T", "COVARIANCE.P", "COVARIANCE.S", "DAYS", "EXPON.DIST",
        "F.DIST", "F.DIST.RT", "F.INV", "F.INV.RT", "F.TEST", "FILTER", "FLOOR.MATH", "FLOOR.PRECISE",
        "FORMULATEXT", "GAMMA.DIST", "GAMMA.INV", "GAMMALN.PRECISE", "IFNA", "IFS", "ISFORMULA",
        "ISOWEEKNUM", "LAMBDA", "LET", "LOGNORM.DIST", "LOGNORM.INV", "MAXIFS", "MINIFS", "MODE.MULT",
        "MODE.SNGL", "NEGBINOM.DIST", "NETWORKDAYS.INTL", "NORM.DIST", "NORM.INV", "NORM.S.DIST",
        "NORM.S.INV", "PERCENTILE.EXC", "PERCENTILE.INC", "PERCENTRANK.EXC", "PERCENTRANK.INC",
        "POISSON.DIST", "QUARTILE.EXC", "QUARTILE.INC", "RANDARRAY", "RANK.AVG", "RANK.EQ", "SEQUENCE",
        "SHEET", "SHEETS", "SORT", "SORTBY", "STDEV.P", "STDEV.S", "SWITCH", "T.DIST", "T.DIST.2T",
        "T.DIST.RT", "T.INV", "T.INV.2T", "T.TEST", "TEXTJOIN", "UNIQUE", "VAR.P", "VAR.S",
        "WEIBULL.DIST", "WORKDAY.INTL", "XLOOKUP", "XMATCH", "Z.TEST",
    }
)  # fmt: skip
_CRITERIA_FUNCTIONS = re.compile(r"\b(?:COUNTIFS?|SUMIFS?|AVERAGEIFS?)\(", re.I)
_STRING = re.compile(r'"(?:[^"]|"")*"')
_FUNCTION = re.compile(r"(?<![\w.])((?:_xlfn\.)?[A-Z][A-Z0-9.]*)\(", re.I)
# A same-sheet cell: not after "!" (another sheet), "[" or a letter (a Table column, a name).
_LOCAL_CELL = re.compile(r"(?<![!\w\[.$])\$?([A-Z]{1,3})\$?([0-9]{1,7})(?![\w(\[])")
_NAME = re.compile(r"^[A-Za-z_\\][A-Za-z0-9_.\\?]*$")
_LOOKS_LIKE_CELL = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*|[Rr]|[Cc])$")
MAX_TEXT = 255
MAX_TITLE = 32
MAX_CUSTOM_FORMATS = 250


def _q(tag: str) -> str:
    return f"{{{_MAIN}}}{tag}"


def _text(el) -> str:
    """Text of a shared-string item or an inline string (rich-text runs joined)."""
    return "".join(t.text or "" for t in el.iter(_q("t")))


def _shared_strings(pkg: Package) -> list[str]:
    part = next((t for typ, t in pkg.workbook_rels.values() if typ == _SHARED_STRINGS_REL), None)
    if part is None or not pkg.has(part):
        return []
    return [_text(si) for si in SafeET.fromstring(pkg.read(part)).iter(_q("si"))]


def _cells(root, shared: list[str]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """``{"A1": (kind, text)}`` of the values (kind "text" or "number") and ``{"B2": formula}``."""
    values: dict[str, tuple[str, str]] = {}
    formula_cells: dict[str, str] = {}
    for c in root.iter(_q("c")):
        ref = c.get("r", "")
        f = c.find(_q("f"))
        if f is not None and f.text:
            formula_cells[ref] = f.text
            continue
        t = c.get("t", "n")
        v = c.find(_q("v"))
        if t == "s" and v is not None and v.text is not None:
            i = int(v.text)
            values[ref] = ("text", shared[i] if 0 <= i < len(shared) else "")
        elif t == "inlineStr":
            is_ = c.find(_q("is"))
            values[ref] = ("text", _text(is_) if is_ is not None else "")
        elif t == "str" and v is not None:
            values[ref] = ("text", v.text or "")
        elif v is not None and v.text is not None:
            values[ref] = ("number" if t == "n" else t, v.text)
    return values, formula_cells


def _check_formula(where: str, formula: str, values: dict[str, tuple[str, str]]) -> list[str]:
    out = []
    for lit in _STRING.findall(formula):
        if len(lit) - 2 > MAX_TEXT:
            out.append(
                f"{where}: a text of {len(lit) - 2} characters in the formula (Excel allows {MAX_TEXT})"
            )
    bare = _STRING.sub('""', formula)
    for name in _FUNCTION.findall(bare):
        if name.upper() in FUTURE_FUNCTIONS:
            out.append(f"{where}: {name} needs the prefix _xlfn. in the file")
    if _CRITERIA_FUNCTIONS.search(bare):
        for col, row in _LOCAL_CELL.findall(bare):
            kind, text = values.get(f"{col}{row}", ("", ""))
            # "=" and escapes are added in front of the cell's text to make it an exact criterion.
            if kind == "text" and len(text) + 1 > MAX_TEXT:
                out.append(
                    f"{where}: the criterion from {col}{row} has {len(text) + 1} characters; COUNTIFS, "
                    f"SUMIFS and AVERAGEIFS answer #VALUE! above {MAX_TEXT}"
                )
    return out


def _check_validation(where: str, dv, formula1: str | None) -> list[str]:
    out = []
    for attr, limit in (
        ("prompt", MAX_TEXT),
        ("error", MAX_TEXT),
        ("promptTitle", MAX_TITLE),
        ("errorTitle", MAX_TITLE),
    ):
        text = dv.get(attr) or ""
        if len(text) > limit:
            out.append(f"{where}: the validation's {attr} has {len(text)} characters (at most {limit})")
    if dv.get("type") == "list" and formula1 and formula1.startswith('"') and len(formula1) - 2 > MAX_TEXT:
        out.append(
            f"{where}: the validation list typed into the rule has {len(formula1) - 2} characters "
            f"(at most {MAX_TEXT}; put the choices in cells and refer to them)"
        )
    return out


def _check_table(pkg: Package, sheet: str, part: str, ref: str, values) -> list[str]:
    root = SafeET.fromstring(pkg.read(part))
    name = root.get("displayName") or root.get("name") or part
    where = f"{sheet}: Table {name}"
    columns = [tc.get("name", "") for tc in root.iter(_q("tableColumn"))]
    c0, r0, c1, _ = range_boundaries(ref)
    out = []
    if len(columns) != c1 - c0 + 1:
        out.append(f"{where}: {len(columns)} columns declared for a range {c1 - c0 + 1} wide ({ref})")
    folded = [c.casefold() for c in columns]
    for c in sorted({c for c in columns if folded.count(c.casefold()) > 1}):
        out.append(f"{where}: the column name {c!r} is used twice (Excel compares them without case)")
    if root.get("headerRowCount", "1") == "0":
        return out
    for j, column in enumerate(columns[: c1 - c0 + 1]):
        cell = f"{get_column_letter(c0 + j)}{r0}"
        kind, text = values.get(cell, ("", ""))
        if kind != "text":
            out.append(f"{where}: header cell {cell} holds no text (the column is named {column!r})")
        elif text != column:
            out.append(f"{where}: header cell {cell} says {text!r} but the column is named {column!r}")
    return out


def _check_names(pkg: Package) -> list[str]:
    wb = SafeET.fromstring(pkg.read(pkg.workbook_part))
    seen: set[tuple[str | None, str]] = set()
    out = []
    for dn in wb.iter(_q("definedName")):
        name = dn.get("name", "")
        key = (dn.get("localSheetId"), name.casefold())
        if key in seen:
            out.append(f"defined name {name!r}: defined twice in the same scope")
        seen.add(key)
        bare = name[len("_xlnm.") :] if name.startswith("_xlnm.") else name
        if not _NAME.match(bare) or _LOOKS_LIKE_CELL.match(bare) or len(name) > MAX_TEXT:
            out.append(f"defined name {name!r}: not a valid Excel name")
    return out


def _check_formats(pkg: Package) -> list[str]:
    if pkg.styles_part is None:
        return []
    n = len(SafeET.fromstring(pkg.read(pkg.styles_part)).findall(f"{_q('numFmts')}/{_q('numFmt')}"))
    return (
        [f"styles: {n} custom number formats (Excel keeps at most {MAX_CUSTOM_FORMATS})"]
        if n > MAX_CUSTOM_FORMATS
        else []
    )


def lint_workbook(path: str | Path) -> list[str]:
    """What would make Excel repair or refuse the workbook, beyond its schema; one line per finding
    (an empty list when there is none)."""
    pkg = Package(path)
    shared = _shared_strings(pkg)
    out = _check_names(pkg) + _check_formats(pkg)
    for sheet, part in pkg.sheets.items():
        root = SafeET.fromstring(pkg.read(part))
        values, formula_cells = _cells(root, shared)
        for table in pkg.tables(sheet):
            out += _check_table(pkg, sheet, table.part, table.ref, values)
        for dv in root.iter(_q("dataValidation")):
            f1 = dv.find(_q("formula1"))
            out += _check_validation(
                f"{sheet}!{dv.get('sqref', '')}", dv, f1.text if f1 is not None else None
            )
        for dv in root.iter(f"{{{_X14}}}dataValidation"):
            f1 = dv.find(f"{{{_X14}}}formula1/{{{_XM}}}f")
            sq = dv.find(f"{{{_XM}}}sqref")
            where = f"{sheet}!{sq.text if sq is not None else ''}"
            out += _check_validation(where, dv, f1.text if f1 is not None else None)
        for ref, formula in formula_cells.items():
            out += _check_formula(f"{sheet}!{ref}", formula, values)
    return out


def x14_extensions(path: str | Path) -> dict[str, int]:
    """Number of ``x14`` extension elements per part that has any (worksheets, styles)."""
    pkg = Package(path)
    out: dict[str, int] = {}
    for part in [*pkg.sheets.values(), *([pkg.styles_part] if pkg.styles_part else [])]:
        n = len(re.findall(rb"<x14:[A-Za-z]+[\s/>]", pkg.read(part)))
        if n:
            out[part] = n
    return out
