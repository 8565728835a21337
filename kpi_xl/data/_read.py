"""Reading exports: CSV (delimiter and encoding detected), XLSX (python-calamine) and Parquet.

Every reader returns a :class:`RawTable`: the values as the file holds them (CSV cells stay text, so
that locale-aware parsing happens once, in :mod:`kpi_xl.metrics.rules`), the original headers, and an
index of row numbers as the user sees them, so that a message can say "row 17".

Row numbers: for CSV and XLSX the header is row 1 (XLSX: the sheet's own row numbers, so a table
starting lower down keeps its real rows); for Parquet, which has no header row, row 1 is the first
record. A CSV record spanning several lines (a quoted line break) counts as one row, as it does when
Excel opens the file.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError

__all__ = [
    "RawTable",
    "read_table",
    "sheet_names",
    "detect_encoding",
    "MIXED_ENCODING",
    "SUMMARY_WORDS",
    "trailing_summary",
    "detect_delimiter",
    "file_format",
    "EXCEL_MAX_ROWS",
]

#: Rows in one Excel worksheet; files beyond it cannot be opened in Excel and go through DuckDB.
EXCEL_MAX_ROWS = 1_048_576

_DELIMITERS = (";", ",", "\t", "|")
_SAMPLE_BYTES = 1 << 16
_CHUNK_BYTES = 1 << 22
_HEADER_SEARCH_ROWS = 50
_NUMBER_LIKE = re.compile(r"\s*[-+]?[\d.,\s]*\d[\d.,\s]*$")


@dataclass
class RawTable:
    """One table read from a file, before any value parsing.

    Attributes
    ----------
    path:
        The file read.
    format:
        ``"csv"``, ``"xlsx"`` or ``"parquet"``.
    frame:
        The values, one column per header (original header text), indexed by row number.
    encoding, delimiter:
        What was detected (or given) for CSV; ``None`` for other formats.
    sheet:
        The worksheet read (XLSX).
    empty_rows:
        Completely empty rows that were ignored (they hold no observation).
    """

    path: Path
    format: str
    frame: pd.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    empty_rows: int = 0
    notes: list[str] = field(default_factory=list)
    #: Name the sheet with the file (``orders.xlsx [Returns]``) when a run reads several sheets of it.
    sheet_in_name: bool = False

    @property
    def name(self) -> str:
        return f"{self.path.name} [{self.sheet}]" if self.sheet_in_name and self.sheet else self.path.name

    def describe(self) -> str:
        """One line saying what was read and how."""
        parts = [f"{self.name}: {len(self.frame):,} rows, {self.format.upper()}"]
        if self.format == "csv":
            shown = {"\t": "tab", ";": "';'", ",": "','", "|": "'|'"}.get(
                self.delimiter or "", self.delimiter
            )
            parts.append(f"encoding {self.encoding}, delimiter {shown}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet!r}")
        if self.empty_rows:
            parts.append(f"{self.empty_rows:,} empty row(s) ignored")
        return ", ".join(parts + self.notes)


def file_format(path: str | Path) -> str:
    """``"csv"``, ``"xlsx"`` or ``"parquet"`` from the file name; anything else is bad input."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise KpiInputError(
        f"{Path(path).name}: cannot tell the file type from {suffix or 'a name without extension'!r}; "
        "kpi-xl reads .csv/.txt/.tsv, .xlsx/.xlsm/.xlsb/.xls/.ods and .parquet files",
        argument="file",
        value=str(path),
    )


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise KpiInputError(f"{path}: file not found", argument="file", value=str(path), kind="empty")
    if path.is_dir():
        raise KpiInputError(f"{path}: is a folder, not a file", argument="file", value=str(path))
    if not path.is_file():
        # A pipe or a device never ends, or ends when its writer decides: reading it could hang.
        raise KpiInputError(
            f"{path.name} is not a regular file (it is a pipe, socket or device, whose reading may never "
            "end); save the export to a file first and give that file",
            argument="file",
            value=str(path),
        )


#: The encoding :func:`detect_encoding` reports for a file whose lines are partly UTF-8, partly cp1252
#: (exports appended to by different programs). Each line is read in its own encoding: UTF-8 where the
#: bytes are UTF-8, cp1252 for the bytes that are not.
MIXED_ENCODING = "utf-8+cp1252"
_MIXED_ERRORS = "kpi-xl-cp1252"


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Error handler: a byte that is not UTF-8 is read as cp1252 (its five unassigned bytes as Latin-1,
    as Windows itself shows them)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    b = exc.object[exc.start : exc.start + 1]
    try:
        return b.decode("cp1252"), exc.start + 1
    except UnicodeDecodeError:
        return b.decode("latin-1"), exc.start + 1


def _mixed_codec(name: str) -> codecs.CodecInfo | None:
    # Python hands search functions the name with every character but letters, digits and "."
    # turned into "_".
    if re.sub(r"[^a-z0-9.]", "_", name.lower()) != "utf_8_cp1252":
        return None
    utf8 = codecs.lookup("utf-8")

    class Decoder(codecs.BufferedIncrementalDecoder):
        def _buffer_decode(self, data, errors, final):  # noqa: ANN001 - the codecs protocol
            return codecs.utf_8_decode(data, _MIXED_ERRORS, final)

    class Reader(codecs.StreamReader):
        def decode(self, data, errors="strict"):  # noqa: ANN001 - the codecs protocol
            return codecs.utf_8_decode(data, _MIXED_ERRORS, False)

    return codecs.CodecInfo(
        name=MIXED_ENCODING,
        encode=utf8.encode,
        decode=lambda data, errors="strict": (bytes(data).decode("utf-8", _MIXED_ERRORS), len(data)),
        incrementalencoder=utf8.incrementalencoder,
        incrementaldecoder=Decoder,
        streamreader=Reader,
        streamwriter=utf8.streamwriter,
    )


codecs.register_error(_MIXED_ERRORS, _cp1252_bytes)
codecs.register(_mixed_codec)

# A valid UTF-8 sequence of two to four bytes; any other byte of 0x80 and above is not UTF-8.
_UTF8_MULTI = re.compile(rb"[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3}")
_HIGH = re.compile(rb"[\x80-\xFF]")


def detect_encoding(path: str | Path) -> str:
    """``"utf-8-sig"`` (BOM), ``"utf-16"`` (BOM), ``"utf-8"`` if the whole file decodes, ``"cp1252"`` if
    no line is UTF-8, else :data:`MIXED_ENCODING` (some lines UTF-8, some cp1252: each read as written).

    The whole file is checked in pieces of 4 MB (time and memory bounded by the file's size), because a
    cp1252 export is often plain ASCII until the first umlaut or euro sign, thousands of rows in. A NUL
    byte (binary data, not text) stops the check with an error naming its line.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        utf8 = other = False
        lines = 0
        carry = b""
        while True:
            chunk = fh.read(_CHUNK_BYTES)
            data = carry + chunk
            # Pieces end at a line break, so no character is cut in two (a line longer than a piece
            # is checked in pieces; at worst its last character is judged twice).
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if cut == 0 and len(data) > _CHUNK_BYTES:
                cut = len(data) - 3
            piece, carry = data[:cut], data[cut:]
            nul = piece.find(b"\0")
            if nul >= 0:
                line = lines + piece.count(b"\n", 0, nul) + 1
                raise KpiInputError(
                    f"{path.name} is not a text (CSV) file: line {line:,} holds a NUL byte (binary data). "
                    "If it is a UTF-16 export without a byte-order mark, give --encoding utf-16; otherwise "
                    "export the data again as CSV",
                    argument="file",
                    value=str(path),
                )
            lines += piece.count(b"\n")
            if _HIGH.search(piece):
                try:
                    piece.decode("utf-8")
                    utf8 = True
                except UnicodeDecodeError:
                    other = True
                    utf8 = utf8 or bool(_UTF8_MULTI.search(piece))
                    if utf8 and _HIGH.search(_UTF8_MULTI.sub(b"", piece)):
                        # Both kinds seen; the rest of the file cannot change the answer.
                        return MIXED_ENCODING
            if not chunk:
                break
    if other:
        return MIXED_ENCODING if utf8 else "cp1252"
    return "utf-8"


def _sample_lines(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as fh:
        raw = fh.read(_SAMPLE_BYTES)
        complete = len(raw) < _SAMPLE_BYTES
    text = raw.decode(encoding, errors="replace")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        # The sample ends mid-line; a cut line would look like a short record.
        lines = lines[:-1]
    return [line for line in lines if line.strip()][:200]


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the header into several fields and most rows into as many.

    Candidates are ``;``, ``,``, tab and ``|``. German exports use ``;`` because ``,`` is their
    decimal mark, so a column of ``12,5`` never makes ``,`` look consistent: the header then has
    fewer fields than the rows. A file whose rows do not match its header under any candidate still
    gets the best one, so that reading it fails with a message naming the bad line. A single-column
    file gets the first candidate it does not contain.
    """
    best: tuple[float, int, str] | None = None
    for delim in _DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delim))
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        body = rows[1:] or rows
        share = sum(len(r) == width for r in body) / len(body)
        key = (share, width, delim)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is not None:
        return best[2]
    # The first line splits under no candidate: a single column, or a title line above the table
    # ("Umsatzbericht"). A title is followed by a header: judge each candidate by the width most
    # lines share, where the first line that wide is a header (no field a number: "12,5" split at
    # "," is a German decimal, not two columns).
    for delim in _DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delim))
        widths = [len(r) for r in rows]
        usual = max(set(widths), key=widths.count)
        if usual < 2 or any(_NUMBER_LIKE.match(v) for v in rows[widths.index(usual)]):
            continue
        key = (widths.count(usual) / len(widths), usual, delim)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is not None:
        return best[2]
    sample = "\n".join(lines)
    for delim in _DELIMITERS:
        if delim not in sample:
            return delim
    return ","


def _given_header(path: Path, header_row: int, n_rows: int, within: str) -> int:
    """The 0-based index of a header row the user gave (1-based, ``--header-row``), which must lie
    among the ``n_rows`` rows searched (``within`` names them)."""
    if header_row < 1 or header_row > n_rows:
        raise KpiInputError(
            f"{path.name}: header row {header_row} is outside {within}",
            argument="header_row",
            value=header_row,
        )
    return header_row - 1


def csv_header_row(
    path: Path, encoding: str, delimiter: str, header_row: int | None = None
) -> tuple[int, list[str]]:
    """The 0-based line of a CSV's header and a note naming the lines above it: ``header_row``
    (1-based) when given, else the first line with two or more filled fields, so a title, a
    "Stand: ..." line or a blank line typed above the table is not taken for the header."""
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        head = [line for _, line in zip(range(_HEADER_SEARCH_ROWS), fh, strict=False)]
    rows = list(csv.reader(head, delimiter=delimiter))
    if header_row is not None:
        header_at = _given_header(path, header_row, len(rows), f"the first {len(rows)} lines of the file")
    else:
        # Every CSV field is text, so a sheet's test (the first text row as wide as the rows
        # below) cannot tell a header from data here; a title line is told by its one filled
        # field ("Umsatzbericht", "Stand: 01.12.2026;;;") above a wider table.
        filled = [sum(_filled(v) for v in r) for r in rows]
        wide = [i for i, n in enumerate(filled) if n >= 2]
        header_at = wide[0] if wide else 0
    above = [i + 1 for i in range(header_at) if any(_filled(v) for v in rows[i])]
    notes = (
        [f"line(s) {', '.join(map(str, above))} above the table's header (line {header_at + 1}) ignored"]
        if above
        else []
    )
    return header_at, notes


def _read_csv(
    path: Path, encoding: str | None, delimiter: str | None, header_row: int | None = None
) -> RawTable:
    from ..safety import check_text_file

    check_text_file(path)
    enc = encoding or detect_encoding(path)
    try:
        codecs.lookup(enc)
    except LookupError:
        raise KpiInputError(f"unknown encoding {enc!r}", argument="encoding", value=enc)
    lines = _sample_lines(path, enc)
    if not lines:
        raise KpiInputError(f"{path.name}: the file is empty", argument="file", value=str(path), kind="empty")
    delim = delimiter or detect_delimiter(lines)
    if delimiter is not None and len(delimiter) != 1:
        raise KpiInputError(f"the delimiter must be one character, got {delimiter!r}", argument="delimiter")
    header_at, title_notes = csv_header_row(path, enc, delim, header_row)
    try:
        frame = pd.read_csv(
            path,
            sep=delim,
            skiprows=header_at,
            encoding=enc,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            engine="c",
        )
    except UnicodeDecodeError as exc:
        raise KpiInputError(
            f"{path.name}: cannot decode the file as {enc} ({exc.reason} at byte {exc.start}); "
            "give the encoding explicitly (--encoding)",
            argument="encoding",
            value=enc,
        )
    except pd.errors.ParserError as exc:
        raise KpiInputError(
            f"{path.name}: not a well-formed CSV with delimiter {delim!r}: {exc}; "
            "give the delimiter explicitly (--delimiter) if it was guessed wrong",
            argument="file",
            value=str(path),
        )
    except pd.errors.EmptyDataError:
        raise KpiInputError(f"{path.name}: the file is empty", argument="file", value=str(path), kind="empty")
    # Row numbers as Excel shows the file: the header is row 1 unless title lines stand above it.
    frame.index = pd.RangeIndex(header_at + 2, header_at + 2 + len(frame), name="row")
    frame, empty = _drop_empty_rows(frame)
    frame, notes = trailing_summary(frame)
    notes = title_notes + notes
    if enc == MIXED_ENCODING:
        notes.append(
            "lines in two encodings (UTF-8 and cp1252, as when two programs wrote the file): each read in "
            "its own"
        )
    return RawTable(path, "csv", frame, encoding=enc, delimiter=delim, empty_rows=empty, notes=notes)


def _drop_empty_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    if frame.empty:
        return frame, 0
    filled = np.zeros(len(frame), dtype=bool)
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
            filled |= (s.notna() & s.str.strip().ne("")).to_numpy(dtype=bool)
        elif s.dtype == object:
            filled |= s.map(_filled).to_numpy(dtype=bool)
        else:
            filled |= s.notna().to_numpy()
    n = int((~filled).sum())
    return (frame.loc[filled] if n else frame), n


#: First cells of the summary lines spreadsheets and reporting tools put under a table (English, German,
#: French, Spanish, Chinese), compared casefolded, without a trailing ":".
SUMMARY_WORDS = frozenset(
    {
        "total", "totals", "grand total", "sum", "subtotal", "sub-total", "average", "avg", "mean",
        "median", "count", "min", "max", "minimum", "maximum",
        "summe", "gesamt", "gesamtsumme", "zwischensumme", "endsumme", "insgesamt", "durchschnitt",
        "mittelwert", "anzahl",
        "totaux", "somme", "moyenne", "suma", "promedio", "totale", "media",
        "合計", "合计", "總計", "总计", "小計", "小计", "平均", "總和", "总和",
    }
)  # fmt: skip
SUMMARY_SEARCH_ROWS = 10


def _summary_label(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    word = " ".join(v.split()).rstrip(":").strip().casefold()
    return word if word in SUMMARY_WORDS else None


def trailing_summary(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Leave out the totals/average lines under a table ("Total;;;52879,43", "Average,,,5"): counted as
    records they would be an order or a response of their own. A line counts as one when it is among
    the last lines, its first filled cell (in any column) is a summary word, and it fills
    fewer cells than the lines above it (a record with a segment named "Total" fills its row)."""
    if len(frame) < 2 or frame.shape[1] < 2:
        return frame, []
    tail = frame.iloc[-SUMMARY_SEARCH_ROWS:]
    filled = np.array([[_filled(v) for v in row] for row in tail.itertuples(index=False)], dtype=bool)
    counts = filled.sum(axis=1)
    dropped: list[tuple[int, str]] = []
    for i in range(len(tail) - 1, -1, -1):
        first = int(np.argmax(filled[i])) if counts[i] else -1
        word = _summary_label(tail.iat[i, first]) if first >= 0 else None
        above = counts[:i] if i else frame.iloc[: -len(tail)].notna().sum(axis=1).to_numpy()
        if word is None or not len(above) or counts[i] >= np.median(above):
            break
        dropped.append((int(tail.index[i]), " ".join(str(tail.iat[i, first]).split())))
    if not dropped:
        return frame, []
    rows = sorted(r for r, _ in dropped)
    shown = ", ".join(f"row {r} ({label!r})" for r, label in sorted(dropped))
    note = f"{shown}: a totals/summary line under the table, left out (not a record)"
    return frame.drop(index=rows), [note]


def _column_letter(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


def sheet_names(path: str | Path) -> list[str]:
    """The worksheets of an Excel file, in workbook order (``[]`` for other formats)."""
    path = Path(path)
    _check_exists(path)
    if file_format(path) != "xlsx":
        return []
    from python_calamine import CalamineWorkbook

    from ..safety import check_workbook_file

    check_workbook_file(path)
    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception as exc:  # calamine raises its own error types for corrupt or locked files
        raise KpiInputError(
            f"{path.name}: cannot open as a workbook: {exc}", argument="file", value=str(path)
        )


_CELL_XML = re.compile(r"<(?:[\w.-]+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:[\w.-]+:)?c>)", re.S)
_FORMULA_XML = re.compile(r"<(?:[\w.-]+:)?f\b[^>]*?(?:/>|>(.*?)</(?:[\w.-]+:)?f>)", re.S)
_VALUE_XML = re.compile(r"<(?:[\w.-]+:)?v\b[^>]*?>(.*?)</(?:[\w.-]+:)?v>", re.S)
_REF_ATTR = re.compile(r"""\br\s*=\s*["']([A-Za-z]{1,3})([0-9]+)["']""")
_ERROR_ATTR = re.compile(r"""\bt\s*=\s*["']e["']""")


def _sheet_part(archive: Any, sheet: str) -> str | None:
    """The zip member of a worksheet, from the workbook part and its relationships."""
    from xml.sax.saxutils import unescape

    try:
        wb = archive.read("xl/workbook.xml").decode("utf-8")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    except KeyError:
        return None
    for tag in re.findall(r"<(?:[\w.-]+:)?sheet\b[^>]*>", wb):
        name = re.search(r"""\bname\s*=\s*["']([^"']*)["']""", tag)
        rid = re.search(r"""\br:id\s*=\s*["']([^"']*)["']""", tag) or re.search(
            r"""\b\w+:id\s*=\s*["']([^"']*)["']""", tag
        )
        if name and rid and unescape(name.group(1), {"&quot;": '"', "&apos;": "'"}) == sheet:
            for rel in re.findall(r"<(?:[\w.-]+:)?Relationship\b[^>]*>", rels):
                if re.search(rf"""\bId\s*=\s*["']{re.escape(rid.group(1))}["']""", rel):
                    target = re.search(r"""\bTarget\s*=\s*["']([^"']*)["']""", rel)
                    if target:
                        t = target.group(1)
                        return t.lstrip("/") if t.startswith("/") else "xl/" + t
    return None


def uncalculated_cells(path: Path, sheet: str) -> dict[tuple[int, int], str]:
    """Cells that a reader of cached values sees as empty although they are not: Excel error values
    (``#N/A``, ``#DIV/0!``) and formulas without a calculated value (books written by a program and
    never opened in Excel). ``{(row, column): what to show}``, 1-based.

    The worksheet is streamed in pieces; only pieces that hold a formula or an error are parsed, so
    an export without formulas costs one pass of decompression."""
    import zipfile

    out: dict[tuple[int, int], str] = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return out
    with archive:
        part = _sheet_part(archive, sheet)
        if part is None or part not in archive.namelist():
            return out
        carry = ""
        with archive.open(part) as fh:
            while True:
                chunk = fh.read(_CHUNK_BYTES)
                text = carry + chunk.decode("utf-8", errors="replace")
                cut = text.rfind("</row>") + len("</row>") if chunk else len(text)
                if cut < len("</row>") and chunk:
                    carry = text
                    continue
                piece, carry = text[:cut], text[cut:]
                if "<f" in piece or 't="e"' in piece or "t='e'" in piece:
                    _scan_cells(piece, out)
                if not chunk:
                    break
    return out


def _scan_cells(piece: str, out: dict[tuple[int, int], str]) -> None:
    from xml.sax.saxutils import unescape

    from openpyxl.utils.cell import column_index_from_string

    for m in _CELL_XML.finditer(piece):
        attrs, inner = m.group(1), m.group(2) or ""
        ref = _REF_ATTR.search(attrs)
        if ref is None:
            continue
        where = (int(ref.group(2)), column_index_from_string(ref.group(1).upper()))
        value = _VALUE_XML.search(inner)
        cached = unescape(value.group(1)) if value else ""
        if _ERROR_ATTR.search(attrs):
            out[where] = f"{cached or '#VALUE!'} (Excel error)"
            continue
        f = _FORMULA_XML.search(inner)
        if f is not None and not cached:
            text = unescape(f.group(1) or "").strip()
            out[where] = f"={text} (formula never calculated)" if text else "(formula never calculated)"


def _header_guess(rows: list[list[Any]], filled: list[int]) -> int:
    """The 0-based row of a sheet's header: the first row of text cells, filled across at least half
    the table's width and as wide as most of the rows below it. A title, a note or a "Period: ...
    to ..." line typed above the table is narrower than the data under it, so it is not taken."""
    need = max(min(2, max(filled)), max(filled) // 2)
    fallback = None
    for i, n in enumerate(filled):
        if n < need:
            continue
        fallback = i if fallback is None else fallback
        below = [m for m in filled[i + 1 : i + 21] if m]
        texts = all(isinstance(v, str) for v in rows[i] if _filled(v))
        if texts and (not below or n >= np.median(below)):
            return i
    return fallback if fallback is not None else 0


def _read_xlsx(path: Path, sheet: str | None, header_row: int | None = None) -> RawTable:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        raise KpiInputError(
            "reading Excel files needs python-calamine: pip install 'kpi-xl[files]'", argument="file"
        )
    from ..safety import check_workbook_file

    # What the file really is, and whether reading it is safe and affordable, before calamine sees it.
    check_workbook_file(path)
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt or locked files
        raise KpiInputError(
            f"{path.name}: cannot open as a workbook: {exc}", argument="file", value=str(path)
        )
    names = list(book.sheet_names)
    if sheet is None:
        chosen = names[0]
    elif sheet in names:
        chosen = sheet
    else:
        raise KpiInputError(
            f"{path.name}: no sheet named {sheet!r}; the workbook has: {', '.join(names)}",
            argument="sheet",
            value=sheet,
        )
    rows: list[list[Any]] = book.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    hidden = uncalculated_cells(path, chosen) if path.suffix.lower() in (".xlsx", ".xlsm") else {}
    for (r, c), shown in hidden.items():
        # Seen by calamine as empty; kept as text that no rule reads, so it is listed as invalid.
        if r <= len(rows) and c <= len(rows[r - 1]) and rows[r - 1][c - 1] in ("", None):
            rows[r - 1][c - 1] = shown
    filled = [sum(_filled(v) for v in r) for r in rows[:_HEADER_SEARCH_ROWS]]
    if not any(filled):
        raise KpiInputError(f"{path.name}: sheet {chosen!r} is empty", argument="file", kind="empty")
    if header_row is not None:
        header_at = _given_header(path, header_row, len(rows), f"the sheet {chosen!r} (rows 1-{len(rows)})")
    else:
        header_at = _header_guess(rows[:_HEADER_SEARCH_ROWS], filled)
    notes = []
    above = [i + 1 for i in range(header_at) if filled[i]]
    if above:
        notes.append(
            f"row(s) {', '.join(map(str, above))} above the table's header (row {header_at + 1}) ignored"
        )
    width = max(len(r) for r in rows)
    header = list(rows[header_at]) + [""] * (width - len(rows[header_at]))
    body = [list(r) + [""] * (width - len(r)) for r in rows[header_at + 1 :]]
    data = np.array(body, dtype=object).reshape(len(body), width) if body else np.empty((0, width), object)
    # calamine gives "" for an empty cell; the rest of kpi-xl reads blanks as missing values.
    if data.size:
        data[np.vectorize(lambda v: isinstance(v, str) and v == "", otypes=[bool])(data)] = None
    keep = [j for j in range(width) if _filled(header[j]) or (data.size and pd.notna(data[:, j]).any())]
    names_out = [
        str(header[j]).strip() if _filled(header[j]) else f"Column {_column_letter(j)}" for j in keep
    ]
    names_out = _unique(names_out)
    frame = pd.DataFrame(data[:, keep] if data.size else None, columns=names_out, dtype=object)
    frame.index = pd.RangeIndex(header_at + 2, header_at + 2 + len(frame), name="row")
    frame, empty = _drop_empty_rows(frame)
    frame, summary = trailing_summary(frame)
    errors = sorted(k for k, v in hidden.items() if v.endswith("(Excel error)"))
    formulas = sorted(k for k, v in hidden.items() if v.endswith("(formula never calculated)"))
    if errors:
        notes.append(
            f"{len(errors):,} cell(s) hold Excel errors such as #N/A or #DIV/0! (first: "
            f"{_column_letter(errors[0][1] - 1)}{errors[0][0]}): listed as invalid where a metric reads them"
        )
    if formulas:
        notes.append(
            f"{len(formulas):,} cell(s) hold formulas that were never calculated (first: "
            f"{_column_letter(formulas[0][1] - 1)}{formulas[0][0]}; the file was written by a program): "
            "listed as invalid where a metric reads them; open and save the file in Excel or LibreOffice "
            "to calculate them"
        )
    return RawTable(path, "xlsx", frame, sheet=chosen, empty_rows=empty, notes=notes + summary)


def _unique(names: list[str]) -> list[str]:
    """Repeated headers numbered as pandas numbers them in a CSV (``Amount``, ``Amount.1``), so that
    every column has a name of its own."""
    used: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 0
        while candidate in used:
            k += 1
            candidate = f"{name}.{k}"
        used.add(candidate)
        out.append(candidate)
    return out


def _filled(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return bool(v.strip())
    return not (isinstance(v, float) and np.isnan(v))


def _read_parquet(path: Path, columns: list[str] | None = None) -> RawTable:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path, columns=columns).to_pandas()
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise KpiInputError(f"{path.name}: cannot read as Parquet: {exc}", argument="file", value=str(path))
    frame = frame.reset_index(drop=True)
    frame.index = pd.RangeIndex(1, 1 + len(frame), name="row")
    return RawTable(path, "parquet", frame)


def read_table(
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet_in_name: bool = False,
    header_row: int | None = None,
) -> RawTable:
    """Read one export into a :class:`RawTable`.

    Parameters
    ----------
    path:
        A ``.csv``/``.txt``/``.tsv``, ``.xlsx``/``.xlsm``/``.xlsb``/``.xls``/``.ods`` or ``.parquet`` file.
    sheet:
        Worksheet name for Excel files (default: the first sheet).
    encoding, delimiter:
        Override the CSV detection (see :func:`detect_encoding`, :func:`detect_delimiter`).
    header_row:
        The sheet row or CSV line (1-based) holding the column headers; default: found (the
        first row of text as wide as the table, below any title lines).

    Raises
    ------
    KpiInputError
        Missing or unreadable file, unknown type, empty file.

    Examples
    --------
    A German export ``Kunden-ID;Datum;Betrag`` saved by Excel with a BOM reads with
    ``encoding="utf-8-sig"`` and ``delimiter=";"``; its cells stay text (``"1.234,56"``) until
    :func:`kpi_xl.data.parse_numbers` turns them into numbers.
    """
    path = Path(path)
    _check_exists(path)
    fmt = file_format(path)
    if fmt == "csv":
        return _read_csv(path, encoding, delimiter, header_row)
    if fmt == "xlsx":
        table = _read_xlsx(path, sheet, header_row)
        table.sheet_in_name = sheet_in_name
        return table
    return _read_parquet(path)
