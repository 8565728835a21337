"""Files beyond Excel's size in an embedded DuckDB (through Ibis), and tables in any Ibis backend.

A file is scanned once: DuckDB reads the columns the metrics need (a CSV as text, Parquet typed)
into a temporary table with the file's row numbers, and everything else - the distinct values the
engine's rules judge, the aggregations, the few rows named in problem messages - runs on that
table (:mod:`kpi_xl.data.backend`). DuckDB spills the table to a temporary folder when it does not
fit in memory, so what Python holds is bounded by distinct values, customers and patterns.

What is read from the file in Python is a bounded sample (the delimiter, a byte-order mark); the
encoding is UTF-8 unless DuckDB finds an invalid byte, then the file is read as cp1252, as the pandas
path decides (:func:`kpi_xl.data.detect_encoding`). Empty lines, which DuckDB skips but which are rows
in Excel, are located only when a row number has to be shown.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError
from ._columns import map_columns
from ._dataset import ReadOptions, default_decimal, find_header
from ._read import (
    SUMMARY_SEARCH_ROWS,
    _check_exists,
    _sample_lines,
    csv_header_row,
    detect_delimiter,
    detect_encoding,
    file_format,
    trailing_summary,
)
from ._validate import Problems
from .aggregate import WHITESPACE
from .backend import BackendDataset, judge, plain_types

__all__ = ["DuckDataset", "load_duckdb", "connect"]

#: The DuckDB path's datasets are backend datasets on an embedded DuckDB.
DuckDataset = BackendDataset

_CHUNK = 1 << 22

#: The table a CSV is read into (``src`` is a view over it with the record numbers).
_ROWS = "src_rows"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _transcode(path: Path, encoding: str, folder: str, skip_lines: int = 0) -> Path:
    """DuckDB reads UTF-8 (and UTF-16) only: copy another encoding to a UTF-8 file, streaming,
    leaving out the ``skip_lines`` lines above the header (a title, a "Stand: ..." line)."""
    target = Path(folder) / (path.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            text = decoder.decode(chunk)
            while skip_lines and text:
                cut = text.find("\n")
                text = "" if cut < 0 else text[cut + 1 :]
                skip_lines -= cut >= 0
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return target


def _empty_lines(path: Path, stop_after: int | None = None) -> tuple[np.ndarray, bool, int]:
    """Line numbers (1-based) of empty lines, which DuckDB skips but which are rows in Excel, read
    up to the chunk holding line ``stop_after`` (the whole file without it): ``(lines, whole file
    read, lines read)``.

    Empty lines are rare, so chunks without one are only counted (at C speed), not split.
    """
    found: list[int] = []
    lines_before = 0  # complete lines before the current chunk
    carry = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            whole, carry = data[:cut], data[cut:]
            if lines_before == 0 and whole.startswith((b"\n", b"\r\n")):
                found.append(1)
            if b"\n\n" in whole or b"\n\r\n" in whole:
                for i, line in enumerate(whole.split(b"\n")[:-1]):
                    if line in (b"", b"\r") and not (lines_before == 0 and i == 0):
                        found.append(lines_before + i + 1)
            lines_before += whole.count(b"\n")
            if stop_after is not None and lines_before >= stop_after:
                return np.asarray(found, dtype=np.int64), False, lines_before
    return np.asarray(found, dtype=np.int64), True, lines_before


class _CsvRows:
    """DuckDB's record numbers -> the file rows the user sees: the header is row 1 and empty lines
    (which DuckDB skips) count. The file is searched for empty lines only when a row is shown, and
    only as far as the last row shown (problem rows are the first ones)."""

    def __init__(self, path: Path | None, offset: int = 0) -> None:
        self.path = path
        #: Lines above the header, left out of the copy DuckDB read (``path``).
        self.offset = offset
        self.gaps: np.ndarray | None = None if path is not None else np.zeros(0, np.int64)
        self.complete = path is None
        self.covered = 0

    def __call__(self, row: np.ndarray) -> np.ndarray:
        row = np.asarray(row, dtype=np.int64)
        need = int(row.max()) + 2 if row.size else 0
        while self.gaps is None or (not self.complete and self.covered < need + self.gaps.size):
            target = max(need + (0 if self.gaps is None else self.gaps.size) + 1, 2 * self.covered)
            empty, self.complete, self.covered = _empty_lines(self.path, target)
            # Data lines before each empty line: a record's file row is shifted by the empty lines above.
            self.gaps = empty - 2 - np.arange(empty.size)
        return row + 1 + self.offset + np.searchsorted(self.gaps, row - 1, side="right")


def _release(con: Any, folder: str | None) -> None:
    con.disconnect()
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def connect(threads: int | None = None, folder: str | None = None) -> Any:
    """An embedded DuckDB through Ibis, set up as kpi-xl reads with it: no progress bar of its own
    (kpi-xl shows one on a terminal), UTC for timestamps with a time zone (the pandas path reads
    them so), spilling to ``folder``."""
    import ibis

    con = ibis.duckdb.connect()
    _setup_duckdb(con, threads, folder)
    return con


def _setup_duckdb(con: Any, threads: int | None = None, folder: str | None = None) -> None:
    raw = con.con
    raw.execute("SET enable_progress_bar = false")
    raw.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        raw.execute(f"SET threads = {int(threads)}")
    if folder is not None:
        raw.execute(f"SET temp_directory = {_literal(folder)}")


#: DuckDB's CSV read buffer (its default is 32 MiB). Each buffer is a batch of the order-keeping
#: insert into the rows table; with 8 MiB ones that insert took 1.2 s instead of 1.6 s for 10M order
#: rows (0.13 s instead of 0.2 s for 1M), as fast as an insert that keeps no order, and no slower on
#: a file of 300-byte lines. Lines up to DuckDB's longest (2 MB) still fit in one.
_CSV_BUFFER = 8 << 20


def _csv_sql(path: Path, delimiter: str, encoding: str) -> str:
    return (
        f"read_csv({_literal(str(path))}, delim={_literal(delimiter)}, header=true, all_varchar=true, "
        f"quote='\"', escape='\"', null_padding=true, strict_mode=false, encoding={_literal(encoding)}, "
        f"buffer_size={_CSV_BUFFER})"
    )


def _source(
    path: Path, options: ReadOptions, folder: str
) -> tuple[str, str | None, str | None, Path, int, list[str]]:
    """The DuckDB table function reading the file, its encoding and delimiter, the path read, the
    lines above the header left out of it, and the note naming them."""
    fmt = file_format(path)
    if fmt == "parquet":
        return f"read_parquet({_literal(str(path))}, file_row_number=true)", None, None, path, 0, []
    if fmt != "csv":
        raise KpiInputError(
            f"{path.name}: the DuckDB path reads CSV and Parquet files; an Excel sheet holds at most "
            "1,048,576 rows and is read with --engine pandas",
            argument="engine",
        )
    from ..safety import check_text_file

    # As on the pandas path: a workbook or Parquet file saved under a .csv name is refused, not read.
    check_text_file(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    encoding = options.encoding
    if encoding is None:
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8"
    lines = _sample_lines(path, encoding)
    if not lines:
        raise KpiInputError(f"{path.name}: the file is empty", argument="file", value=str(path), kind="empty")
    delimiter = options.delimiter or detect_delimiter(lines)
    header_at, notes = csv_header_row(path, encoding, delimiter, options.header_row)
    name = codecs.lookup(encoding).name
    read_path, duck_encoding = path, "utf-8"
    if header_at:
        # A title above the table: DuckDB reads a UTF-8 copy without the lines above the header
        # (the rows shown in messages are still the file's lines).
        try:
            read_path = _transcode(path, encoding, folder, header_at)
        except UnicodeDecodeError:
            encoding = detect_encoding(path)
            read_path = _transcode(path, encoding, folder, header_at)
    elif name == "utf-16":
        duck_encoding = "utf-16"
    elif name not in ("utf-8", "utf-8-sig"):
        read_path = _transcode(path, encoding, folder)
    return _csv_sql(read_path, delimiter, duck_encoding), encoding, delimiter, read_path, header_at, notes


def _all_blank_sql(columns: Sequence[str]) -> str:
    """True where every one of ``columns`` is NULL or whitespace (Python's ``str.isspace`` set)."""
    space_class = "[" + "".join(f"\\x{{{c:x}}}" for c in WHITESPACE) + "]*"
    points = ", ".join(map(str, WHITESPACE))
    # A cell that starts with a visible character (nearly every one) is settled without a regex:
    # first by comparing bytes (an empty or blank cell starts below "!" or at U+0085 or above, where
    # every other space lies; DuckDB skips whole row groups whose text lies between), then by the
    # first character.
    low, high = _literal("!"), _literal(chr(min(c for c in WHITESPACE if c > 32)))
    return " AND ".join(
        f"({c} IS NULL OR ((CAST({c} AS VARCHAR) < {low} OR CAST({c} AS VARCHAR) >= {high}) AND "
        f"ascii(CAST({c} AS VARCHAR)) IN (0, {points}) AND "
        f"regexp_full_match(CAST({c} AS VARCHAR), {_literal(space_class)})))"
        for c in columns
    )


def load_duckdb(
    path: str | Path,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    extra: Sequence[str] = (),
    problems: Problems | None = None,
    threads: int | None = None,
) -> BackendDataset:
    """Read a CSV or Parquet file through DuckDB (see the module notes); same arguments as
    :func:`kpi_xl.data.load_dataset`, same answers.

    Examples
    --------
    ``load_duckdb("orders_10m.csv").rows_for(["amount"])`` gives the amounts as the engine needs
    them: each distinct amount repeated by its count, indexed by the first file row holding it.
    """
    import duckdb

    path = Path(path)
    _check_exists(path)
    options = options or ReadOptions()
    problems = problems if problems is not None else Problems()
    # DuckDB spills to this folder when a file does not fit in memory; it lives as long as the dataset
    # and is removed (connection closed first) when the dataset goes, or at exit.
    folder = tempfile.mkdtemp(prefix="kpi-xl-")
    con = connect(threads, folder)
    raw = con.con
    try:
        sql, encoding, delimiter, read_path, skipped, title_notes = _source(path, options, folder)
        try:
            headers = _headers(raw, sql)
        except duckdb.InvalidInputException as exc:
            if encoding != "utf-8" or options.encoding or "unicode" not in str(exc).lower():
                raise
            # Not UTF-8 after all (DuckDB met an invalid byte): the file is read as the pandas path
            # reads it (cp1252, or line by line when UTF-8 and cp1252 lines are mixed), through a
            # UTF-8 copy. Only here is the whole file read in Python.
            encoding = detect_encoding(path)
            read_path = _transcode(path, encoding, folder, skipped)
            sql = _csv_sql(read_path, delimiter, "utf-8")
            headers = _headers(raw, sql)
    except duckdb.Error as exc:
        _release(con, folder)
        raise KpiInputError(f"{path.name}: DuckDB cannot read the file: {exc}; try --engine pandas") from exc
    except BaseException:
        _release(con, folder)
        raise
    cmap = map_columns(headers, mapping=options.mapping, roles=roles, source=path.name)
    wanted = list(
        dict.fromkeys([*cmap.columns.values(), *(find_header(headers, h, path.name) for h in extra)])
    )
    fmt = file_format(path)
    ds = BackendDataset(path.name, cmap, problems, con=con)
    weakref.finalize(ds, _release, con, folder)
    index_of = {h: i for i, h in enumerate(wanted)}
    for role, header in cmap.columns.items():
        ds.column_index[role] = index_of[header]
    for h in extra:
        ds.column_index[h] = index_of[find_header(headers, h, path.name)]
    picked = ", ".join(f"{_ident(h)} AS c{i}" for i, h in enumerate(wanted)) or "NULL AS _none"
    # A CSV is read once, as text, into a table; a Parquet file is typed and columnar, and
    # DuckDB reads only the columns and row groups a query needs: a view over it costs no copy
    # of the rows (time and memory), each query scans what it reads.
    if fmt == "parquet":
        create = f"CREATE TEMP VIEW src AS SELECT file_row_number + 1 AS _row, {picked} FROM "
    else:
        # The record number is the table's rowid (insertion order is the file's, and a DELETE leaves
        # the other rows' ids as they were): a row_number() window would read the file on one thread.
        create = f"CREATE TEMP TABLE {_ROWS} AS SELECT {picked} FROM "
    try:
        try:
            raw.execute(create + sql)
        except duckdb.InvalidInputException as exc:
            # An invalid byte past the part DuckDB sniffed: read as above.
            if encoding != "utf-8" or options.encoding or "unicode" not in str(exc).lower():
                raise
            encoding = detect_encoding(path)
            read_path = _transcode(path, encoding, folder, skipped)
            sql = _csv_sql(read_path, delimiter, "utf-8")
            raw.execute(create + sql)
        if fmt == "csv":
            raw.execute(f"CREATE TEMP VIEW src AS SELECT rowid + 1 AS _row, * FROM {_ROWS}")
        # Records as DuckDB numbered them, before any row is left out (the file's tail is matched to them).
        records = int(raw.execute("SELECT count(*) FROM src").fetchall()[0][0])
        empty_rows = _drop_empty_rows(raw, sql, headers, wanted) if fmt == "csv" else 0
    except duckdb.Error as exc:
        raise KpiInputError(f"{path.name}: DuckDB cannot read the file: {exc}; try --engine pandas") from exc
    ds.row_map = _CsvRows(
        read_path if encoding and codecs.lookup(encoding).name != "utf-16" else None, skipped
    )
    if fmt == "parquet":
        ds.row_map = None
    notes: list[str] = list(title_notes)
    if fmt == "csv":
        # The copy DuckDB read is UTF-8 when the file was transcoded.
        how = (read_path, "utf-8" if read_path != path else encoding or "utf-8", delimiter or ",", headers)
        notes += _drop_summary_lines(raw, sql, ds, records, *how, empty_rows=empty_rows)
    ds.src = plain_types(con.table("src"))
    ds.rows = int(raw.execute("SELECT count(*) FROM src").fetchall()[0][0])
    judge(ds, options, extra=extra, default_decimal=default_decimal(fmt, delimiter))
    unused = [h for h in headers if h not in wanted]
    ds.notes = [*notes, *ds.notes]
    if unused:
        ds.notes.append(f"columns not used: {', '.join(map(repr, unused))}")
    if read_path != path and not skipped:
        # (A copy without the title lines stays until the dataset goes: rows are counted in it.)
        read_path.unlink()
        # The copy is gone; a row shown later is counted in the original's lines (same line breaks).
        if isinstance(ds.row_map, _CsvRows):
            ds.row_map.path = path
    detail = f", encoding {encoding}, delimiter {delimiter!r}" if fmt == "csv" else ""
    ds.source = f"{path.name}: {ds.rows:,} rows, {fmt.upper()}{detail}, read and aggregated with DuckDB" + (
        f", {empty_rows:,} empty row(s) ignored" if empty_rows else ""
    )
    return ds


def _tail_records(path: Path, encoding: str, delimiter: str, n: int, width: int) -> list[list[str]] | None:
    """The last ``n`` records of a CSV, read from its last bytes only (a bounded sample); None when
    the sample cannot be read as whole records of at most ``width`` cells."""
    name = codecs.lookup(encoding).name
    if name == "utf-16":
        return None  # a two-byte encoding cannot be cut at any byte
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = max(size - (1 << 18), 0)
        fh.seek(start)
        data = fh.read()
    text = data.decode(
        encoding if start == 0 else codecs.lookup(encoding).name.replace("-sig", ""), "replace"
    )
    if start:
        # The sample starts inside a line: from the first line break on.
        text = text[text.find("\n") + 1 :]
    try:
        records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
    except csv.Error:
        return None
    if start == 0:
        records = records[1:]  # the header
    if any(len(r) > width for r in records):
        return None
    return records[-n:]


def _drop_summary_lines(
    raw: Any,
    sql: str,
    ds: BackendDataset,
    records: int,
    path: Path,
    encoding: str,
    delimiter: str,
    headers: list[str],
    *,
    empty_rows: int = 0,
) -> list[str]:
    """The pandas path's rule (:func:`kpi_xl.data._read.trailing_summary`) on the file's last records:
    a totals or average line under the table is deleted from the rows and named in a note. The last
    records are read from the end of the file (every column: the rule looks at all of them); only
    when that sample is not plain records is the file scanned again for them."""
    n = SUMMARY_SEARCH_ROWS + 20
    # The last n rows kept lie among the last n + empty_rows records: a filter on the record number
    # spares sorting every row for them.
    got = raw.execute(
        f"SELECT _row FROM src WHERE _row > {records - n - empty_rows} ORDER BY _row DESC LIMIT {n}"
    ).fetchall()
    if not got:
        return []
    kept = np.asarray([r[0] for r in got])
    # The records under the last kept one too (empty rows, already left out): the tail is the file's end.
    tail_records = _tail_records(path, encoding, delimiter, n + records - int(kept.max()), len(headers))
    if tail_records is not None and len(tail_records) >= min(n, records):
        width = len(headers)
        tail = pd.DataFrame([r + [""] * (width - len(r)) for r in tail_records], columns=headers)
        tail.insert(0, "_row", np.arange(records - len(tail_records) + 1, records + 1))
        tail = tail[tail["_row"].isin(kept)]
        tail = tail.replace("", None)
    else:
        tail = raw.execute(
            f"SELECT * FROM (SELECT row_number() OVER () AS _row, * FROM {sql}) t "
            f"WHERE _row IN ({', '.join(str(int(r)) for r in kept)}) ORDER BY _row"
        ).df()
    records_at = tail.pop("_row").to_numpy(dtype=np.int64)
    tail = tail.astype(object).where(tail.notna(), None)
    # Record numbers first: the file rows (which need the empty lines counted) only for a note.
    tail.index = pd.Index(records_at, name="row")
    left, notes = trailing_summary(tail)
    if notes:
        tail.index = pd.Index(ds.file_rows(records_at), name="row")
        left, notes = trailing_summary(tail)
    gone = records_at[~tail.index.isin(left.index)]
    if gone.size:
        raw.execute(f"DELETE FROM {_ROWS} WHERE rowid + 1 IN ({', '.join(str(int(r)) for r in gone)})")
    return notes


def _headers(raw: Any, sql: str) -> list[str]:
    described = raw.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    return [str(r[0]) for r in described if str(r[0]) != "file_row_number"]


def _drop_empty_rows(raw: Any, sql: str, headers: Sequence[str], wanted: Sequence[str]) -> int:
    """Remove the rows empty in every column (the pandas path ignores them). The columns read are
    checked first; only when some row is blank in all of them is the file read again, with every
    column, to tell an empty row from one whose other columns hold something."""
    cols = [f"c{i}" for i in range(len(wanted))] or ["NULL"]
    blank = _all_blank_sql(cols)
    if not int(raw.execute(f"SELECT count(*) FROM src WHERE {blank}").fetchall()[0][0]):
        return 0
    every = _all_blank_sql([_ident(h) for h in headers])
    raw.execute(
        "CREATE TEMP TABLE empty_rows AS SELECT _row FROM "
        f"(SELECT row_number() OVER () AS _row, ({every}) AS e FROM {sql}) WHERE e"
    )
    n = int(raw.execute("SELECT count(*) FROM empty_rows").fetchall()[0][0])
    raw.execute(f"DELETE FROM {_ROWS} WHERE rowid + 1 IN (SELECT _row FROM empty_rows)")
    raw.execute("DROP TABLE empty_rows")
    return n
