"""Files from strangers: what a file really is, limits on what reading it may cost, text that must stay text.

kpi-xl opens whatever exports users are sent, and writes user text into workbooks. This module is the
one place that decides whether a file may be read at all, and how user text is written:

* :func:`sniff` says what a file is from its first bytes, whatever its name says: a zip archive
  (``.xlsx``/``.xlsm``/``.ods``), an old Excel 97-2003 compound file (``.xls``), a password-protected
  (encrypted) Office file, text (CSV), a web page, Parquet, something else.
* :func:`check_workbook_file` refuses, with a message saying what the file is and what to do, a file
  that is not the workbook its name promises, a truncated or damaged zip, an encrypted workbook, an
  XML part with a document type declaration (the carrier of entity-expansion "billion laughs"
  bombs; Excel never writes one), and anything over the :class:`Limits` on uncompressed size and on
  the cells of one sheet (zip bombs, and tiny sheets with one cell at ``A1`` and one at
  ``XFD1048576``, which would make the reader allocate 17 billion cells). Every limit message names
  the limit and the environment variable that raises it.
* :func:`check_openpyxl_is_defused` checks that openpyxl parses XML through defusedxml (it does when
  defusedxml is installed and ``OPENPYXL_DEFUSEDXML`` is not switched off), and fails loudly
  otherwise. Importing :mod:`kpi_xl.workbook`, the part that hands workbooks to openpyxl, runs it;
  this module itself does not import openpyxl (checking a CSV needs none of it).
* :func:`set_text` and :func:`excel_text` write user text so that it stays text: a value starting with
  ``=``, ``+``, ``-``, ``@``, tab or carriage return is stored as a string cell (openpyxl data type
  ``"s"``, with Excel's quote prefix so that editing the cell keeps it text) or, for a workbook open in
  Excel, behind Excel's own text marker ``'``. Formula injection from an imported file is never
  written as a formula.
* :func:`refresh_lock` keeps two refreshes of one workbook from running at once: a lock file created
  atomically (``O_CREAT | O_EXCL``) beside the book and removed when the refresh ends. A lock left
  behind by a refresh that was killed is stale when its process is gone: see :func:`refresh_lock`.

Nothing here (nor anywhere in kpi-xl) executes or evaluates anything from a user's file: no eval,
no pickle, no formula evaluation. Workbook formulas are read as their cached values.

References: OWASP, "CSV Injection" (formula triggers ``= + - @``, tab, carriage return); Microsoft,
[MS-CFB] compound file format and [MS-OFFCRYPTO] 2.3.4 (an encrypted OOXML file is a compound file
with the streams ``EncryptionInfo`` and ``EncryptedPackage``); ECMA-376 Part 2 (OPC zip packages).
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import json
import os
import re
import socket
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .metrics import KpiInputError

__all__ = [
    "MAX_UNCOMPRESSED_ENV",
    "MAX_CELLS_ENV",
    "FORMULA_TRIGGERS",
    "Limits",
    "sniff",
    "check_workbook_file",
    "check_text_file",
    "check_openpyxl_is_defused",
    "formula_like",
    "excel_text",
    "csv_text",
    "set_text",
    "write_frame_xlsx",
    "refresh_lock",
    "lock_path",
]

#: Environment variables that raise (or lower) the limits; values in megabytes and in cells.
MAX_UNCOMPRESSED_ENV = "KPI_XL_MAX_UNCOMPRESSED_MB"
MAX_CELLS_ENV = "KPI_XL_MAX_CELLS"

#: First characters that make Excel read typed or imported text as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Stream names of an encrypted OOXML package inside its compound file, as stored (UTF-16LE).
_ENCRYPTED_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_CHUNK = 1 << 22
_OTHER_FORMATS = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)
_MAX_ZIP_MEMBERS = 10_000


def check_openpyxl_is_defused() -> None:
    """Raise ImportError unless openpyxl parses workbook XML through defusedxml.

    openpyxl uses defusedxml when it is installed and the environment variable
    ``OPENPYXL_DEFUSEDXML`` is not set to anything but ``True``; without it, openpyxl's parser
    would expand XML entities from a hostile file.
    """
    import openpyxl.xml
    import openpyxl.xml.functions as xml_functions

    parsers = [xml_functions.iterparse]
    if not openpyxl.xml.LXML:
        # With lxml, openpyxl's fromstring is lxml's with resolve_entities=False.
        parsers.append(xml_functions.fromstring)
    unsafe = [p for p in parsers if not getattr(p, "__module__", "").startswith("defusedxml")]
    if not openpyxl.xml.DEFUSEDXML or unsafe:
        raise ImportError(
            "kpi-xl refuses to run: openpyxl is not parsing XML through defusedxml, so a hostile workbook "
            "could expand XML entities without bound. Install defusedxml (pip install defusedxml) and do "
            f"not set OPENPYXL_DEFUSEDXML (it is {os.environ.get('OPENPYXL_DEFUSEDXML', 'not set')!r})."
        )


# --- limits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What reading one workbook may cost.

    ``max_uncompressed`` bounds the bytes a workbook's zip archive unpacks to (all its parts
    together; default 2 GiB, ``KPI_XL_MAX_UNCOMPRESSED_MB``); ``max_cells`` bounds the rectangle of
    one sheet, from its first to its last cell (default 33,554,432 = a full sheet of 1,048,576 rows
    by 32 columns, ``KPI_XL_MAX_CELLS``). The reader holds that whole rectangle in memory, so a
    sheet with one cell at A1 and one at XFD1048576 counts as 17 billion cells.
    """

    max_uncompressed: int = 2048 << 20
    max_cells: int = 1 << 25

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, or what the environment variables set."""
        default = cls()
        return cls(
            max_uncompressed=_env_int(MAX_UNCOMPRESSED_ENV, default.max_uncompressed >> 20) << 20,
            max_cells=_env_int(MAX_CELLS_ENV, default.max_cells),
        )


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise KpiInputError(
            f"the environment variable {name} must be a whole number of at least 1, got {text!r}",
            argument=name,
            value=text,
        )
    return int(text)


# --- what a file is ---------------------------------------------------------------------------------


def sniff(path: str | os.PathLike[str]) -> str:
    """What the file is from its content: ``"zip"``, ``"ole2"`` (an Excel 97-2003 ``.xls`` or another
    compound file), ``"encrypted"`` (a password-protected Office file), ``"parquet"``, ``"html"``,
    ``"xml"``, ``"text"`` (CSV and other plain text), ``"empty"`` or ``"binary"``.

    Examples
    --------
    A CSV export renamed ``orders.xlsx`` sniffs as ``"text"``; a real ``.xlsx`` as ``"zip"``.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head:
        return "empty"
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head.startswith(_OLE2_MAGIC):
        return "encrypted" if _has_encrypted_streams(path) else "ole2"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = _as_text(head)
    if text is None:
        return "binary"
    start = text.lstrip()[:512].lower()
    if start.startswith(("<!doctype html", "<html", "<table", "<meta", "<head", "<body")):
        return "html"
    if start.startswith("<?xml") or start.startswith("<"):
        return "html" if "<html" in start else "xml"
    return "text"


def _has_encrypted_streams(path: Path) -> bool:
    """True when the compound file has the streams of an encrypted OOXML package.

    The directory entries hold stream names in UTF-16LE; searching the file for both names finds
    them wherever the directory sectors lie, without a compound-file parser.
    """
    found = [False, False]
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            window = tail + chunk
            for i, name in enumerate(_ENCRYPTED_STREAMS):
                found[i] = found[i] or name in window
            if all(found):
                return True
            tail = window[-64:]
    return False


def _as_text(head: bytes) -> str | None:
    """The start of the file as text, or None when it is binary (NUL or control bytes)."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return head.decode(enc, errors="replace")
    if b"\x00" in head:
        return None
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    if controls > len(head) // 100:
        return None
    return head.decode("utf-8", errors="replace")


def _other_format(head: bytes) -> str | None:
    return next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)


# --- workbook checks --------------------------------------------------------------------------------

_ZIP_WORKBOOKS = {".xlsx", ".xlsm", ".xlsb", ".ods"}
_SAVE_AS = "open it in Excel and save it as an Excel Workbook (.xlsx)"


def check_workbook_file(
    path: str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    error: type[KpiInputError] = KpiInputError,
) -> str:
    """Refuse a workbook that is not what its name says, damaged, encrypted, hostile or too big.

    Parameters
    ----------
    path:
        A ``.xlsx``, ``.xlsm``, ``.xlsb``, ``.ods`` or ``.xls`` file.
    limits:
        Default: :meth:`Limits.from_env`.
    error:
        The exception class raised (a :class:`KpiInputError`; the workbook layer passes its own).

    Returns
    -------
    str
        What :func:`sniff` found (``"zip"`` or ``"ole2"``).

    Raises
    ------
    KpiInputError
        (or ``error``) with a message naming the file, what it is, and what to do. Checked: an empty
        file; a text, CSV, web page, XML, PDF, image or Parquet file with a workbook name; an
        encrypted (password-protected) file; an ``.xls`` named ``.xlsx`` and the other way round; a
        truncated or damaged zip (every part is unpacked once, which checks its CRC); a zip that is
        not a workbook (e.g. a Word document); encrypted zip entries; more than 10,000 parts; more
        unpacked bytes than ``limits.max_uncompressed``; an XML part declaring a document type or
        entities; a sheet whose cell rectangle exceeds ``limits.max_cells``.

    Examples
    --------
    ``check_workbook_file("orders.xlsx")`` on a CSV saved under that name raises: *orders.xlsx: cannot
    open as a workbook: it is a text (CSV) file, not an Excel workbook; rename it to orders.csv ...*
    """
    path = Path(path)
    limits = limits or Limits.from_env()
    name, suffix = path.name, path.suffix.lower()
    kind = sniff(path)

    def refuse(message: str) -> KpiInputError:
        return error(f"{name}: cannot open as a workbook: it {message}", argument="file", value=str(path))

    if kind == "empty":
        raise refuse("is empty (0 bytes): it was not saved completely, or the download failed; get it again")
    if kind == "encrypted":
        raise refuse(
            "is password-protected (encrypted), so kpi-xl cannot read it. Open it in Excel with the "
            "password, remove the password (File > Info > Protect Workbook > Encrypt with Password, clear "
            "it), save, and try again"
        )
    if kind == "ole2":
        if suffix == ".xls":
            return kind
        raise refuse(
            f"is an old Excel 97-2003 workbook (.xls format) with a {suffix or 'missing'} extension; "
            f"{_SAVE_AS}, or rename it to {path.stem}.xls"
        )
    if kind == "zip":
        if suffix == ".xls":
            raise refuse(
                f"is a newer Excel workbook (.xlsx format) named .xls; rename it to {path.stem}.xlsx"
            )
        _check_zip(path, limits, refuse)
        return kind
    if kind == "text":
        raise refuse(
            f"is a text (CSV) file, not an Excel workbook; rename it to {path.stem}.csv and read it as CSV"
        )
    if kind == "html":
        raise refuse(f"is a web page (HTML) saved with a workbook name, not an Excel workbook; {_SAVE_AS}")
    if kind == "xml":
        raise refuse(
            "is an XML file (perhaps an Excel 2003 XML Spreadsheet), not an Excel workbook; " + _SAVE_AS
        )
    if kind == "parquet":
        raise refuse(f"is a Parquet file, not an Excel workbook; rename it to {path.stem}.parquet")
    with path.open("rb") as fh:
        head = fh.read(16)
    what = _other_format(head) or f"not an Excel workbook (it starts with the bytes {head[:8].hex(' ')})"
    raise refuse(f"is {what}; an Excel workbook (.xlsx) is a zip archive, which starts with 'PK'")


def check_text_file(path: str | os.PathLike[str], *, error: type[KpiInputError] = KpiInputError) -> None:
    """Refuse a workbook, an encrypted Office file or a Parquet file given a CSV name (it would read as
    garbage text), with a message saying what the file is.

    Examples
    --------
    ``check_text_file("orders.csv")`` on an .xlsx saved under that name raises: *orders.csv is an
    Excel workbook (.xlsx, .xlsm or .ods), not a text (CSV) file; rename it to orders.xlsx*.
    """
    path = Path(path)
    kind = sniff(path)
    what = {
        "zip": f"an Excel workbook (.xlsx, .xlsm or .ods), not a text (CSV) file; rename it to {path.stem}"
        ".xlsx",
        "ole2": f"an old Excel 97-2003 workbook, not a text (CSV) file; rename it to {path.stem}.xls",
        "encrypted": "a password-protected (encrypted) Office file, not a text (CSV) file",
        "parquet": f"a Parquet file, not a text (CSV) file; rename it to {path.stem}.parquet",
    }.get(kind)
    if what is not None:
        raise error(f"{path.name} is {what}", argument="file", value=str(path))


def _check_zip(path: Path, limits: Limits, refuse) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise refuse(
            "is damaged or incomplete (truncated): its zip directory cannot be read "
            f"({exc}). It was probably cut off while downloading, copying or saving; get a fresh copy"
        )
    with archive:
        members = archive.infolist()
        if len(members) > _MAX_ZIP_MEMBERS:
            raise refuse(
                f"has {len(members):,} parts; a workbook has far fewer (at most {_MAX_ZIP_MEMBERS:,})"
            )
        names = {m.filename for m in members}
        if not (names & {"xl/workbook.xml", "xl/workbook.bin", "content.xml"}):
            raise refuse(f"is a zip archive but not a workbook ({_zip_kind(names)}); {_SAVE_AS}")
        if any(m.flag_bits & 0x1 for m in members):
            raise refuse("is a zip archive with password-protected entries; kpi-xl cannot read it")
        declared = sum(m.file_size for m in members)
        if declared > limits.max_uncompressed:
            raise refuse(_size_message(declared, limits, "declares"))
        total = 0
        for member in members:
            total = _check_member(archive, member, total, limits, refuse)


def _zip_kind(names: set[str]) -> str:
    if any(n.startswith("word/") for n in names):
        return "it looks like a Word document"
    if any(n.startswith("ppt/") for n in names):
        return "it looks like a PowerPoint presentation"
    return "it has no xl/workbook.xml"


def _size_message(size: int, limits: Limits, verb: str) -> str:
    return (
        f"{verb} {size / 2**20:,.0f} MB when unpacked, more than the limit of "
        f"{limits.max_uncompressed / 2**20:,.0f} MB (a zip bomb, or a very large workbook). If the file is "
        f"genuine, raise the limit with the environment variable {MAX_UNCOMPRESSED_ENV}, e.g. "
        f"{MAX_UNCOMPRESSED_ENV}={max(2 * limits.max_uncompressed >> 20, (size >> 20) + 1)}"
    )


# The fast test of a sheet part, on text whose tabs and line breaks were turned into spaces: a cell
# or row address r="..." that could widen the sheet beyond 26 columns or 999,999 rows, or spelled in a
# way this test does not read (space around "=", single quotes, character references); a cell without
# an address or not starting with one; a prefixed element name. Excel, LibreOffice and openpyxl write
# none of these for ordinary sheets, so the exact (slower) scan runs only for wide or long ones.
# Three searches, not one with three branches (half the time: each stops at every address, and the
# parts of a 700k-row book hold millions); a character reference only where the text has an "&".
_WIDE = re.compile(rb" r=\"(?:[A-Za-z]{2}|[A-Za-z]?[0-9]{7})")
_REFERENCE_IN_ADDRESS = re.compile(rb" r=\"[^\"]*&")
_SPACED_OR_QUOTED = re.compile(rb" r(?: *=(?: +|')| +=)")
_CELL_WITHOUT_ADDRESS = re.compile(rb"<c(?:>|/>| (?!r=\"))")
_ODD_SPELLING = re.compile(rb" r(?:=\"[^\"]*&| *=(?: +|')| +=)")
_ADDRESSED_COLUMN = re.compile(rb"<c r=\"([A-Za-z]{1,3})[0-9]")
_ADDRESSED_ROW = re.compile(rb"<c r=\"[A-Za-z]{1,3}([0-9]{1,9})\"")
_PREFIXED = re.compile(rb":(?:c|row)[ />]")
_SPACES = bytes.maketrans(b"\t\n\r", b"   ")
_FAST_AREA = 26 * 999_999
_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"(?:^|\s)r\s*=\s*([\"'])([^\"']*)\1")
_CELL = re.compile(rb"([A-Za-z]{0,3})([0-9]{1,9})")
_DTD = (b"<!DOCTYPE", b"<!ENTITY")
_BINARY_PARTS = (".bin", ".png", ".jpeg", ".jpg", ".gif", ".emf", ".wmf", ".tif", ".tiff")
_ODS_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(table-row|table|(?:covered-)?table-cell)(?=[\s/>])([^>]*?)(/?)>")
_ODS_ROWS_REPEATED = re.compile(rb"number-rows-repeated\s*=\s*[\"'](\d+)")
_ODS_COLS_REPEATED = re.compile(rb"number-columns-repeated\s*=\s*[\"'](\d+)")
_MAX_CARRY = 64 << 20


def _unpacked(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[tuple[int, bytes]]:
    """(bytes unpacked, the chunk as UTF-8) for one part; UTF-16 XML parts are re-encoded."""
    decoder = None
    with archive.open(member) as fh:
        first = True
        while chunk := fh.read(_CHUNK):
            if first:
                first = False
                if chunk.startswith((codecs.BOM_UTF16_LE, b"<\0")):
                    decoder = codecs.getincrementaldecoder("utf-16-le")()
                elif chunk.startswith((codecs.BOM_UTF16_BE, b"\0<")):
                    decoder = codecs.getincrementaldecoder("utf-16-be")()
            yield len(chunk), (decoder.decode(chunk).encode("utf-8") if decoder else chunk)


def _tags(archive: zipfile.ZipFile, member: zipfile.ZipInfo, refuse) -> Iterator[bytes]:
    """The part's text in pieces that end just before a "<", so that no tag is cut in two."""
    carry = b""
    for _, chunk in _unpacked(archive, member):
        window = carry + chunk
        cut = window.rfind(b"<")
        cut = cut if cut > 0 else len(window)
        carry = window[cut:]
        if len(carry) > _MAX_CARRY:
            raise refuse(f"has an XML tag longer than 64 MB in {member.filename}; kpi-xl does not read it")
        yield window[:cut]
    yield carry


def _check_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, total: int, limits: Limits, refuse
) -> int:
    """Unpack one part, checking its CRC and the running size, and scan it if it is XML; the new total."""
    scan = not member.filename.lower().endswith(_BINARY_PARTS)
    first = True
    unusual = False
    carry = b""
    try:
        for n, chunk in _unpacked(archive, member):
            total += n
            if total > limits.max_uncompressed:
                raise refuse(_size_message(total, limits, "unpacks to at least"))
            if first:
                first = False
                scan = scan and chunk.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"
            if not scan:
                continue
            window = carry + chunk
            if any(d in window for d in _DTD):
                raise refuse(
                    f"contains an XML document type declaration (in {member.filename}), which Excel "
                    "never writes and which can carry an entity-expansion ('billion laughs') attack; kpi-xl "
                    "does not read it. If you trust the file, open it in Excel and save it again"
                )
            # Up to the last "<", so that no tag is judged cut in two; the rest goes with the next chunk.
            cut = window.rfind(b"<")
            cut = cut if cut > 0 else len(window)
            unusual = unusual or _unusual(window[:cut])
            carry = window[cut:]
            if len(carry) > _MAX_CARRY:
                raise refuse(
                    f"has an XML tag longer than 64 MB in {member.filename}; kpi-xl does not read it"
                )
        unusual = unusual or _unusual(carry)
        if member.filename == "content.xml":
            _check_area(_ods_area(archive, member, refuse), member.filename, limits, refuse)
        elif scan and (unusual or limits.max_cells < _FAST_AREA):
            _check_area(_sheet_area(archive, member, refuse), member.filename, limits, refuse)
    except KpiInputError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise refuse(f"is damaged: its part {member.filename} cannot be unpacked ({exc}); get a fresh copy")
    return total


def _unusual(text: bytes) -> bool:
    spaced = text.translate(_SPACES) if any(c in text for c in (b"\t", b"\n", b"\r")) else text
    if b"&" in spaced and _REFERENCE_IN_ADDRESS.search(spaced) is not None:
        return True
    searches = (_WIDE, _SPACED_OR_QUOTED, _CELL_WITHOUT_ADDRESS, _PREFIXED)
    return any(p.search(spaced) is not None for p in searches)


def _sheet_area(archive: zipfile.ZipFile, member: zipfile.ZipInfo, refuse) -> int:
    """The rectangle from the first to the last cell of a sheet part (the slow path)."""
    area = _addressed_area(archive, member, refuse)
    return _placed_area(archive, member, refuse) if area is None else area


def _addressed_area(archive: zipfile.ZipFile, member: zipfile.ZipInfo, refuse) -> int | None:
    """The rectangle when every cell carries its address as Excel writes it (``<c r="AB12"``), read
    in bulk; None when some cell does not (then :func:`_placed_area` places them one by one)."""
    top = left = 1 << 62
    bottom = right = 0
    for text in _tags(archive, member, refuse):
        spaced = text.translate(_SPACES)
        if any(p.search(spaced) for p in (_ODD_SPELLING, _CELL_WITHOUT_ADDRESS, _PREFIXED)):
            return None
        digits = _ADDRESSED_ROW.findall(text)
        if len(digits) != text.count(b'<c r="'):
            return None  # an address not spelled like A1 (padded, with $ ...): place cells one by one
        if not digits:
            continue
        cols = [_column_number(c) for c in set(_ADDRESSED_COLUMN.findall(text))]
        rows = np.array(digits).astype(np.int64)
        top, bottom = min(top, int(rows.min())), max(bottom, int(rows.max()))
        left, right = min(left, min(cols)), max(right, max(cols))
    return (bottom - top + 1) * (right - left + 1) if bottom else 0


def _placed_area(archive: zipfile.ZipFile, member: zipfile.ZipInfo, refuse) -> int:
    """The rectangle with cells placed as the reader places them: by a cell's address, else next to
    the cell before it in its row (the row by its number, else the row after the one before)."""
    top = left = 1 << 62
    bottom = right = 0
    row = col = 0
    for text in _tags(archive, member, refuse):
        for name, attrs in _TAG.findall(text):
            address = _R_ATTR.search(attrs)
            value = address.group(2).strip() if address else b""
            if b"&" in value:
                raise refuse(
                    f"spells a cell address with a character reference in {member.filename}, which Excel "
                    "never writes; kpi-xl does not read it"
                )
            if name == b"row":
                row, col = (int(value) if value.isdigit() else row + 1), 0
                continue
            m = _CELL.fullmatch(value)
            if m and m.group(1):
                row, col = int(m.group(2)), _column_number(m.group(1))
            else:
                col += 1
            top, bottom, left, right = min(top, row), max(bottom, row), min(left, col), max(right, col)
    return (bottom - top + 1) * (right - left + 1) if bottom else 0


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _ods_area(archive: zipfile.ZipFile, member: zipfile.ZipInfo, refuse) -> int:
    """The largest cell rectangle of the tables in an ODS ``content.xml``, with repeated rows and
    cells (``number-rows-repeated``, ``number-columns-repeated``) counted as the reader expands them."""
    area = rows = bottom = right = 0
    repeat, col, row_right = 1, 0, 0
    for text in _tags(archive, member, refuse):
        for closing, name, attrs, empty in _ODS_TAG.findall(text):
            if name == b"table":
                if not closing:
                    rows = bottom = right = 0
                continue
            if name == b"table-row" and not closing:
                r = _ODS_ROWS_REPEATED.search(attrs)
                repeat, col, row_right = (int(r.group(1)) if r else 1), 0, 0
            elif name != b"table-row" and not closing:
                c = _ODS_COLS_REPEATED.search(attrs)
                col += int(c.group(1)) if c else 1
                if b"value-type" in attrs or not empty:
                    row_right = col
            if name == b"table-row" and (closing or empty):
                rows += repeat
                if row_right:
                    bottom, right = rows, max(right, row_right)
                    area = max(area, bottom * right)
                repeat, row_right = 1, 0
    return area


def _check_area(area: int, part: str, limits: Limits, refuse) -> None:
    if area > limits.max_cells:
        raise refuse(
            f"has a sheet ({part}) spanning {area:,} cells from its first to its last cell, more than the "
            f"limit of {limits.max_cells:,} cells (a huge or booby-trapped sheet). If the file is genuine, "
            f"raise the limit with the environment variable {MAX_CELLS_ENV}, e.g. {MAX_CELLS_ENV}={area}"
        )


# --- text that stays text ---------------------------------------------------------------------------

_ILLEGAL_XML = re.compile(r"[\000-\010\013\014\016-\037]")


def formula_like(values: Any) -> np.ndarray:
    """Boolean mask of the values that are text starting with a formula trigger (vectorised).

    Examples
    --------
    >>> formula_like(["=1+1", "+49 30", "ok", 5, "@SUM(A1)"]).tolist()
    [True, True, False, False, True]
    """
    s = pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
    text = s.map(lambda v: v if isinstance(v, str) else "")
    return text.str.startswith(FORMULA_TRIGGERS).to_numpy(dtype=bool)


def excel_text(value: Any) -> Any:
    """A value for a cell of a workbook open in Excel (xlwings): formula-like text gets Excel's text
    marker ``'`` in front (Excel stores the text without it); anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def csv_text(value: Any) -> Any:
    """A value for a CSV file that a spreadsheet may open: formula-like text gets a ``'`` in front
    (OWASP's CSV-injection advice), so ``=HYPERLINK(...)`` from an export is shown, never run.

    Numbers, and text that is only a signed number (``-12.5``), are returned unchanged.

    >>> [csv_text(v) for v in ["=1+1", "-12.5", "@SUM(A1)", "ok", -3]]
    ["'=1+1", '-12.5', "'@SUM(A1)", 'ok', -3]
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _NUMBER_TEXT.match(value):
        return "'" + value
    return value


def set_text(cell: Any, value: Any) -> None:
    """Put ``value`` into an openpyxl cell so that text is never written as a formula.

    Text starting with a formula trigger is kept as a string cell (data type ``"s"``) with Excel's
    quote prefix, so editing it in Excel keeps it text; characters XML cannot hold (control
    characters other than tab, line feed and carriage return) become U+FFFD instead of failing the
    save. Other values are assigned as they are.
    """
    if isinstance(value, str):
        value = _ILLEGAL_XML.sub("\ufffd", value)
        cell.value = value
        if value.startswith(FORMULA_TRIGGERS):
            cell.data_type = "s"
            cell.quotePrefix = True
        return
    cell.value = value


def write_frame_xlsx(frame: pd.DataFrame, path: str | os.PathLike[str], *, sheet_name: str) -> None:
    """``frame.to_excel(path, index=False)`` with every text cell kept as text (see :func:`set_text`)."""
    write_frames_xlsx({sheet_name: frame}, path)


def write_frames_xlsx(frames: dict[str, pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """One sheet per frame (sheet name -> frame), every text cell kept as text (see :func:`set_text`)."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet_name, frame in frames.items():
            frame = frame.copy()
            text_columns = [
                c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
            ]
            for c in text_columns:
                frame[c] = frame[c].map(lambda v: _ILLEGAL_XML.sub("\ufffd", v) if isinstance(v, str) else v)
            frame.to_excel(writer, index=False, sheet_name=sheet_name)
            ws = writer.sheets[sheet_name]
            for j, column in enumerate(frame.columns, start=1):
                if isinstance(column, str) and column.startswith(FORMULA_TRIGGERS):
                    set_text(ws.cell(row=1, column=j), column)
                if column in text_columns:
                    for i in np.flatnonzero(formula_like(frame[column].to_numpy())):
                        set_text(ws.cell(row=int(i) + 2, column=j), frame[column].iloc[i])


# --- one refresh at a time ---------------------------------------------------------------------------


def lock_path(book: str | os.PathLike[str]) -> Path:
    """The lock file of a refresh of ``book``: ``.~kpi-xl.<name>.lock`` beside it."""
    book = Path(book)
    return book.with_name(f".~kpi-xl.{book.name}.lock")


def _process_alive(pid: int) -> bool | None:
    """True/False for a process of this machine; None where that cannot be told (Windows)."""
    if os.name == "nt":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _stale(path: Path, info: dict[str, Any] | None) -> bool:
    """A lock whose refresh is certainly gone: its process has ended on this machine, or it was left
    empty by a refresh killed while creating it (and is older than a minute)."""
    if info is None:
        try:
            age = dt.datetime.now().timestamp() - path.stat().st_mtime
        except OSError:
            return False
        return age > 60
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    return _process_alive(info["pid"]) is False


def _create(path: Path, info: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh)
    return True


def _break_stale(path: Path, seen: dict[str, Any] | None) -> None:
    """Remove a stale lock, safely against other processes doing the same.

    Only the process that creates ``<lock>.break`` (atomically) may remove the lock, and only if the
    lock still holds what was judged stale; a fresh lock made meanwhile by a live refresh is kept.
    """
    breaker = path.with_name(path.name + ".break")
    if not _create(breaker, {"pid": os.getpid(), "host": socket.gethostname()}):
        return
    try:
        if _read_lock(path) == seen and _stale(path, seen):
            path.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


@contextlib.contextmanager
def refresh_lock(
    book: str | os.PathLike[str], *, error: type[KpiInputError] = KpiInputError
) -> Iterator[Path]:
    """Hold the refresh lock of ``book`` for the ``with`` block, or refuse at once.

    The lock is the file :func:`lock_path` created with ``O_CREAT | O_EXCL`` (atomic: of two
    processes creating it, exactly one succeeds), holding the process id, the machine and the start
    time; it is removed when the block ends, however it ends, unless another process has replaced it.

    Stale locks: a refresh killed outright (power cut, ``kill -9``) cannot remove its lock. The next
    refresh removes it by itself when the lock's process is no longer running on this machine (or the
    lock is empty and over a minute old), and goes ahead. A lock from another machine (a book on a
    network share) or, on Windows, from any process is never judged stale automatically: the message
    names the machine, process and start time, and says to delete the lock file if that refresh is
    no longer running.

    Raises
    ------
    KpiInputError
        (or ``error``) when another refresh holds the lock.
    """
    book = Path(book)
    path = lock_path(book)
    token = uuid.uuid4().hex
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now().replace(microsecond=0).isoformat(),
        "token": token,
    }
    if not _create(path, info):
        seen = _read_lock(path)
        if _stale(path, seen):
            _break_stale(path, seen)
        if not _create(path, info):
            holder = _read_lock(path)
            who = (
                f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                f"{holder.get('started', '?')}"
                if holder
                else "its lock file is still empty: it is starting, or was killed as it started; an empty "
                "lock counts as left behind once it is a minute old"
            )
            raise error(
                f"{book.name} is being refreshed by another kpi-xl run ({who}); wait for it to finish and "
                f"try again. If no refresh is running, its lock file {path.name} was left behind: delete it",
                argument="path",
                value=str(book),
            )
    try:
        yield path
    finally:
        if (_read_lock(path) or {}).get("token") == token:
            path.unlink(missing_ok=True)
