"""The DuckDB path: files beyond Excel's size, read and aggregated in an embedded DuckDB.

How it stays equal to the pandas path (:func:`kpi_xl.data.load_dataset`):

1. DuckDB reads the file (CSV as text, Parquet typed), only the columns the metrics need, and
   numbers its rows as the pandas path does. Rows empty in every column are left out, as there.
   The file's text is never held: one pass lists each column's distinct values, a second gives
   every row an integer code per column.
2. The distinct values go through the very same Python parsing and engine value checks as on the
   pandas path (:func:`parse_role`), so a value is read the same way on both paths. Text customer
   ids are the exception that stays in DuckDB: the engine's rule for them is only "strip spaces",
   which DuckDB applies with Python's whitespace set, so a million ids never travel to Python.
3. A metric asks for the roles it reads. When those take few distinct combinations (scores by
   segment, amounts), DuckDB groups the rows and counts them and only the combinations with their
   counts reach pandas; when nearly every row is its own combination (ids with dates), the codes
   come row by row, as numbers. The engine is given exactly the multiset of values the file holds
   (each combination repeated by its count), because its functions take observations, not
   counts. Every number is still computed by the engine.
4. Predictive CLV needs one row per customer and day (the models count purchase periods and sum
   spend per period), so DuckDB sums the amounts per customer and day.

Row numbers in problem messages are the file's rows, as on the pandas path (a CSV's header is row 1).
"""

from __future__ import annotations

import codecs
import functools
import shutil
import sys
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError, catalog
from ..metrics.rules import BLANK_TEXT, label_groups
from ._columns import ROLE_BY_NAME, map_columns
from ._dataset import Dataset, ReadOptions, _as_text, default_decimal, find_header, parse_role
from ._read import (
    SUMMARY_SEARCH_ROWS,
    _check_exists,
    _sample_lines,
    detect_delimiter,
    detect_encoding,
    file_format,
    trailing_summary,
)
from ._validate import Problems

__all__ = ["DuckDataset", "load_duckdb", "clv_transactions_duckdb"]

_CHUNK = 1 << 22


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _drop_summary_lines(con: Any, sql: str, ds: DuckDataset) -> list[str]:
    """The pandas path's rule (:func:`kpi_xl.data._read.trailing_summary`) on the file's last records:
    a totals or average line under the table is deleted from the rows and named in a note."""
    tail = con.execute(
        f"SELECT * FROM (SELECT row_number() OVER () AS _row, * FROM {sql}) t "
        f"WHERE _row IN (SELECT _row FROM codes ORDER BY _row DESC LIMIT {SUMMARY_SEARCH_ROWS + 20})"
        " ORDER BY _row"
    ).df()
    if tail.empty:
        return []
    records = tail.pop("_row").to_numpy(dtype=np.int64)
    tail.index = pd.Index(ds.file_rows(records), name="row")
    kept, notes = trailing_summary(tail.astype(object).where(tail.notna(), None))
    gone = records[~tail.index.isin(kept.index)]
    if gone.size:
        con.execute(f"DELETE FROM codes WHERE _row IN ({', '.join(str(int(r)) for r in gone)})")
    return notes


def _transcode(path: Path, encoding: str, folder: str) -> Path:
    """DuckDB reads UTF-8 (and UTF-16) only: copy another encoding to a UTF-8 file, streaming."""
    target = Path(folder) / (path.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return target


def _empty_lines(path: Path) -> np.ndarray:
    """Line numbers (1-based) of empty lines, which DuckDB skips but which are rows in Excel.

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
    return np.asarray(found, dtype=np.int64)


def _release(con: Any, folder: str) -> None:
    con.close()
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class DuckDataset(Dataset):
    """A file held in DuckDB as value codes per row; see the module notes."""

    con: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    column_index: dict[str, int] = field(default_factory=dict)
    parsed: dict[str, pd.Series] = field(default_factory=dict)
    reasons: dict[str, np.ndarray] = field(default_factory=dict)
    #: Distinct raw values of each role column, by code (not kept for text ids).
    raw: dict[str, pd.Series] = field(default_factory=dict)
    first_data_row: int = 1
    empty_line_gaps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rows: int = 0
    workdir: Any = None
    #: Lookup tables registered in DuckDB (see :func:`_lookup`).
    lookups: set[str] = field(default_factory=set)
    #: Rows fetched from DuckDB as summaries (for tests: bounded by groups and customers, not rows).
    fetched_rows: int = 0
    _cache: dict[tuple[str, ...], tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]] = field(
        default_factory=dict
    )

    @property
    def n_rows(self) -> int:
        return self.rows

    def ids(self, role: str, codes: Any) -> np.ndarray:
        if role not in self.id_labels:
            i = self.column_index[role]
            self.id_labels[role] = np.asarray(
                self.con.execute(f"SELECT key FROM dk{i} ORDER BY code").df()["key"], dtype=object
            )
        return super().ids(role, codes)

    def file_rows(self, row: np.ndarray) -> np.ndarray:
        """DuckDB's record numbers -> the rows the user sees (header and empty lines counted)."""
        row = np.asarray(row, dtype=np.int64)
        return row + self.first_data_row - 1 + np.searchsorted(self.empty_line_gaps, row - 1, side="right")

    def values(self, role: str) -> pd.Series:
        return self.parsed[role][self.reasons[role] == ""]

    def _blank_cells(self, role: str) -> tuple[np.ndarray, np.ndarray, dict[Any, int] | None]:
        i = self.column_index[role]
        blank_k = np.flatnonzero(pd.isna(self.parsed[role]).to_numpy() & (self.reasons[role] == ""))
        if blank_k.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, object), None
        self.con.register("blank_codes", pd.DataFrame({"k": blank_k.astype(np.int64)}))
        counted = self.con.execute(
            f"SELECT k{i} AS k, count(*) AS n FROM codes WHERE k{i} IN (SELECT k FROM blank_codes) GROUP BY 1"
        ).fetchnumpy()
        limit = "" if self.problems.limit is None else f" LIMIT {int(self.problems.limit)}"
        listed = self.con.execute(
            f"SELECT _row, k{i} AS k FROM codes WHERE k{i} IN (SELECT k FROM blank_codes) "
            f"ORDER BY _row{limit}"
        ).fetchnumpy()
        self.con.unregister("blank_codes")
        counts: dict[Any, int] = {}
        for value, n in zip(self.shown(role, counted["k"]), counted["n"], strict=True):
            counts[value] = counts.get(value, 0) + int(n)
        return self.file_rows(listed["_row"]), self.shown(role, listed["k"]), counts

    def shown(self, role: str, codes: Any) -> np.ndarray:
        """The raw cell text of value codes of a role (``None`` for text ids: they stay in DuckDB, see
        :func:`_text_id_codes`, and their blank spelling is not kept)."""
        codes = np.asarray(codes, dtype=np.int64)
        raw = self.raw.get(role)
        if raw is None:
            return np.full(len(codes), None, dtype=object)
        return raw.to_numpy(dtype=object)[codes]

    def skipped(self, roles: Iterable[str]) -> int:
        """Rows left out for a metric reading ``roles``, counted in DuckDB."""
        roles = [r for r in roles if r in self.columns]
        if not roles:
            return 0
        source, _ = _joined(self, roles, [])
        bad = " OR ".join(f"j{n}.bad" for n in range(len(roles)))
        return int(self.con.execute(f"SELECT count(*) {source} WHERE {bad}").fetchall()[0][0])

    def _frame(self, cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
        key = tuple(cols)
        if key not in self._cache:
            codes = [f"k{self.column_index[c]}" for c in cols]
            combos = float(np.prod([len(self.parsed[c]) for c in cols]))
            if combos * 2 < self.rows:
                got = self.con.execute(
                    f"SELECT min(_row) AS _row, {', '.join(codes)}, count(*) AS _n FROM codes "
                    f"GROUP BY {', '.join(codes)} ORDER BY 1"
                ).fetchnumpy()
                weights = np.asarray(got["_n"], dtype=np.int64)
            else:
                # Nearly every row is its own combination (ids with dates or amounts): counting would
                # cost more than it saves, so the codes come row by row.
                got = self.con.execute(
                    f"SELECT _row, {', '.join(codes)} FROM codes ORDER BY _row"
                ).fetchnumpy()
                weights = None
            index = pd.Index(self.file_rows(got["_row"]), name="row")
            data = pd.DataFrame(
                {c: self.parsed[c].to_numpy()[np.asarray(got[k])] for c, k in zip(cols, codes, strict=True)},
                index=index,
            )
            invalid = pd.DataFrame(
                {
                    c: self.reasons[c][np.asarray(got[k])] != ""
                    for c, k in zip(cols, codes, strict=True)
                    if c in self.columns
                },
                index=index,
                dtype=bool,
            )
            self._cache[key] = (data, invalid, weights)
        return self._cache[key]


def _source_sql(path: Path, options: ReadOptions, folder: str) -> tuple[str, str | None, str | None, Path]:
    fmt = file_format(path)
    if fmt == "parquet":
        return f"read_parquet({_literal(str(path))})", None, None, path
    if fmt != "csv":
        raise KpiInputError(
            f"{path.name}: the DuckDB path reads CSV and Parquet files; an Excel sheet holds at most "
            "1,048,576 rows and is read with --engine pandas",
            argument="engine",
        )
    from ..safety import check_text_file

    # As on the pandas path: a workbook or Parquet file saved under a .csv name is refused, not read.
    check_text_file(path)
    encoding = options.encoding or detect_encoding(path)
    lines = _sample_lines(path, encoding)
    if not lines:
        raise KpiInputError(f"{path.name}: the file is empty", argument="file", value=str(path), kind="empty")
    delimiter = options.delimiter or detect_delimiter(lines)
    name = codecs.lookup(encoding).name
    read_path = path
    duck_encoding = "utf-8"
    if name == "utf-16":
        duck_encoding = "utf-16"
    elif name not in ("utf-8", "utf-8-sig"):
        read_path = _transcode(path, encoding, folder)
    sql = (
        f"read_csv({_literal(str(read_path))}, delim={_literal(delimiter)}, header=true, all_varchar=true, "
        f"quote='\"', escape='\"', null_padding=true, strict_mode=false, encoding={_literal(duck_encoding)})"
    )
    return sql, encoding, delimiter, read_path


def load_duckdb(
    path: str | Path,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    extra: Sequence[str] = (),
    problems: Problems | None = None,
    threads: int | None = None,
) -> DuckDataset:
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
    con = duckdb.connect(":memory:")
    # Progress is kpi-xl's to show (on a terminal only); DuckDB's own bar would go to any stream.
    con.execute("SET enable_progress_bar = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    # DuckDB spills to this folder when a file does not fit in memory; it lives as long as the dataset
    # and is removed (connection closed first) when the dataset goes, or at exit.
    folder = tempfile.mkdtemp(prefix="kpi-xl-")
    con.execute(f"SET temp_directory = {_literal(folder)}")
    sql, encoding, delimiter, read_path = _source_sql(path, options, folder)
    try:
        headers = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()]
    except duckdb.Error as exc:
        raise KpiInputError(f"{path.name}: DuckDB cannot read the file: {exc}; try --engine pandas") from exc
    cmap = map_columns(headers, mapping=options.mapping, roles=roles, source=path.name)
    wanted = list(
        dict.fromkeys([*cmap.columns.values(), *(find_header(headers, h, path.name) for h in extra)])
    )
    blank = _empty_row_sql(headers)
    gaps = np.zeros(0, np.int64)
    if encoding is not None and codecs.lookup(encoding).name != "utf-16":
        empty = _empty_lines(read_path)
        # Data lines before each empty line: a record's file row is shifted by the empty lines above.
        gaps = empty - 2 - np.arange(empty.size)
    fmt = file_format(path)
    decimal = default_decimal(fmt, delimiter)
    ds = DuckDataset(
        path.name,
        cmap,
        problems,
        con=con,
        first_data_row=2 if fmt == "csv" else 1,
        empty_line_gaps=gaps,
        workdir=folder,
    )
    weakref.finalize(ds, _release, con, folder)
    index_of = {h: i for i, h in enumerate(wanted)}
    for role, header in cmap.columns.items():
        ds.column_index[role] = index_of[header]
    for h in extra:
        ds.column_index[h] = index_of[find_header(headers, h, path.name)]
    # Two passes over the file, never holding its text: the distinct values of each column, then one
    # integer code per row and column.
    raw_by_col: dict[int, pd.Series] = {}
    text_ids = (
        {ds.column_index[r] for r in cmap.columns if ROLE_BY_NAME[r].kind == "id"} if fmt == "csv" else set()
    )
    try:
        for i, h in enumerate(wanted):
            con.execute(
                f"CREATE TEMP TABLE d{i} AS SELECT raw, CAST(row_number() OVER () - 1 AS INTEGER) AS k "
                f"FROM (SELECT DISTINCT {_ident(h)} AS raw FROM {sql})"
            )
            if i in text_ids:
                # Customer ids stay in DuckDB: only their codes come to Python (see _text_id_codes).
                continue
            raw_by_col[i] = con.execute(f"SELECT raw FROM d{i} ORDER BY k").df()["raw"]
        picked = "".join(f", {_ident(h)} AS c{i}" for i, h in enumerate(wanted))
        joins = " ".join(
            f"LEFT JOIN d{i} ON s.c{i} IS NOT DISTINCT FROM d{i}.raw" for i in range(len(wanted))
        )
        ks = "".join(f", d{i}.k AS k{i}" for i in range(len(wanted)))
        con.execute(
            f"CREATE TEMP TABLE codes AS SELECT s._row, s._empty{ks} FROM "
            f"(SELECT row_number() OVER () AS _row, ({blank}) AS _empty{picked} FROM {sql}) s {joins}"
        )
    except duckdb.Error as exc:
        raise KpiInputError(f"{path.name}: DuckDB cannot read the file: {exc}; try --engine pandas") from exc
    empty_rows = int(con.execute("SELECT count(*) FROM codes WHERE _empty").fetchall()[0][0])
    con.execute("DELETE FROM codes WHERE _empty")
    notes: list[str] = []
    if fmt == "csv":
        notes += _drop_summary_lines(con, sql, ds)
    if read_path != path:
        read_path.unlink()
    ds.rows = int(con.execute("SELECT count(*) FROM codes").fetchall()[0][0])
    for role, header in cmap.columns.items():
        i = ds.column_index[role]
        if i in text_ids:
            ds.parsed[role] = pd.Series(_text_id_codes(con, i))
            ds.reasons[role] = np.full(len(ds.parsed[role]), "", dtype=object)
            continue
        raw = raw_by_col[i]
        ds.raw[role] = raw
        parsed = parse_role(raw, role, options, default_decimal=decimal)
        ds.parsed[role] = parsed.values.reset_index(drop=True)
        ds.reasons[role] = np.asarray(parsed.reasons, dtype=object)
        if parsed.labels is not None:
            ds.id_labels[role] = parsed.labels
        if parsed.note:
            notes.append(f"column {header!r}: {parsed.note}")
        _add_problems(ds, role, header, raw)
    for h in extra:
        ds.parsed[h] = _as_text(raw_by_col[ds.column_index[h]]).reset_index(drop=True)
        ds.reasons[h] = np.full(len(ds.parsed[h]), "", dtype=object)
    unused = [h for h in headers if h not in wanted]
    if unused:
        notes.append(f"columns not used: {', '.join(map(repr, unused))}")
    ds.notes = notes
    kind = fmt.upper()
    detail = f", encoding {encoding}, delimiter {delimiter!r}" if fmt == "csv" else ""
    ds.source = f"{path.name}: {ds.rows:,} rows, {kind}{detail}, read and aggregated with DuckDB" + (
        f", {empty_rows:,} empty row(s) ignored" if empty_rows else ""
    )
    return ds


@functools.cache
def _whitespace() -> tuple[int, ...]:
    """Code points of every character Python's ``str.strip()`` removes (``str.isspace``)."""
    return tuple(c for c in range(sys.maxunicode + 1) if chr(c).isspace())


def _empty_row_sql(columns: Sequence[str]) -> str:
    """True for a row whose every cell is NULL or whitespace (Python's ``str.isspace`` set), the rows
    the pandas path ignores. A row whose first cell starts with a visible character, nearly every
    row, is settled by that one test; only the others are matched in full."""
    cells = [f"CAST({_ident(h)} AS VARCHAR)" for h in columns]
    first = cells[0]
    points = ", ".join(map(str, _whitespace()))
    space_class = "[" + "".join(f"\\x{{{c:x}}}" for c in _whitespace()) + "]*"
    return (
        f"CASE WHEN {first} IS NOT NULL AND {first} <> '' AND unicode(left({first}, 1)) NOT IN ({points}) "
        f"THEN false ELSE regexp_full_match(concat_ws('', {', '.join(cells)}), {_literal(space_class)}) END"
    )


def _id_key_sql(expr: str) -> str:
    """The id of a text cell as :func:`kpi_xl.data._validate.check_ids` reads it: stripped of
    surrounding whitespace (the same characters as Python's ``str.strip``); nothing left, or an export
    placeholder such as ``n/a``, is a blank (NULL). Only a cell that starts or ends with whitespace is
    trimmed, so the usual clean id costs two character lookups."""
    spaces = _whitespace()
    points = ", ".join(map(str, spaces))
    chars = _literal("".join(map(chr, spaces)))
    key = (
        f"CASE WHEN unicode(left({expr}, 1)) IN ({points}) OR unicode(right({expr}, 1)) IN ({points}) "
        f"THEN trim({expr}, {chars}) ELSE {expr} END"
    )
    placeholders = ", ".join(_literal(t) for t in sorted(BLANK_TEXT))
    short = max(len(t) for t in BLANK_TEXT)
    return f"CASE WHEN length({key}) <= {short} AND lower({key}) IN ({placeholders}) THEN NULL ELSE {key} END"


def _text_id_codes(con: Any, i: int) -> np.ndarray:
    """Codes of a text id column, per distinct raw value (NaN for a blank), computed in DuckDB.

    Text ids are never invalid (the engine's rule: text is an id once stripped), so the only work
    is stripping and numbering, which DuckDB does without sending a million ids to Python; the id
    text is fetched only when an output needs it (:meth:`DuckDataset.ids`).
    """
    con.execute(f"CREATE TEMP TABLE dkey{i} AS SELECT k, {_id_key_sql('raw')} AS key FROM d{i}")
    con.execute(
        f"CREATE TEMP TABLE dk{i} AS SELECT key, CAST(row_number() OVER () - 1 AS INTEGER) AS code "
        f"FROM (SELECT DISTINCT key FROM dkey{i} WHERE key IS NOT NULL)"
    )
    got = con.execute(f"SELECT a.k, b.code FROM dkey{i} a JOIN dk{i} b ON a.key = b.key").fetchnumpy()
    size = int(con.execute(f"SELECT count(*) FROM d{i}").fetchall()[0][0])
    codes = np.full(size, np.nan)
    codes[np.asarray(got["k"], dtype=np.int64)] = np.asarray(got["code"], dtype=np.float64)
    # Rows carry their codes by now: the raw spellings are not needed again, the ids (dk) are.
    con.execute(f"DROP TABLE dkey{i}")
    con.execute(f"DROP TABLE d{i}")
    return codes


def _add_problems(ds: DuckDataset, role: str, header: str, raw: pd.Series) -> None:
    reasons = ds.reasons[role]
    bad_k = np.flatnonzero(reasons != "")
    if bad_k.size == 0:
        return
    i = ds.column_index[role]
    ds.con.register("bad_codes", pd.DataFrame({"k": bad_k.astype(np.int64)}))
    counted = ds.con.execute(
        f"SELECT k{i} AS k, count(*) AS n FROM codes WHERE k{i} IN (SELECT k FROM bad_codes) GROUP BY 1"
    ).fetchnumpy()
    limit = "" if ds.problems.limit is None else f" LIMIT {int(ds.problems.limit)}"
    listed = ds.con.execute(
        f"SELECT _row, k{i} AS k FROM codes WHERE k{i} IN (SELECT k FROM bad_codes) ORDER BY _row{limit}"
    ).fetchnumpy()
    ds.con.unregister("bad_codes")
    counts: dict[str, int] = {}
    for k, n in zip(counted["k"], counted["n"], strict=True):
        counts[reasons[k]] = counts.get(reasons[k], 0) + int(n)
    k_listed = np.asarray(listed["k"], dtype=np.int64)
    ds.problems.add(
        ds.name,
        header,
        ds.file_rows(listed["_row"]),
        raw.to_numpy(dtype=object)[k_listed],
        reasons[k_listed],
        counts=counts,
    )


def clv_transactions_duckdb(ds: DuckDataset) -> pd.DataFrame:
    """One row per customer and day with the day's total spend (see the module notes, point 4).

    Rows with an invalid customer, date or amount are left out (reported already). A day with a
    blank amount gets NaN, so the engine reports it exactly as on the pandas path.
    """
    roles = ["customer_id", "date", "amount"]
    ds._check_roles(roles)
    ic, idate, ia = (ds.column_index[r] for r in roles)
    days = ds.parsed["date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    no_day = np.isnat(ds.parsed["date"].to_numpy(dtype="datetime64[ns]"))
    day = pd.array(np.where(no_day, 0, days), dtype="Int32")
    day[no_day] = pd.NA
    ds.con.register(
        "p_date",
        pd.DataFrame(
            {
                "k": np.arange(days.size, dtype=np.int32),
                "day": day,
                "bad": ds.reasons["date"] != "",
            }
        ),
    )
    ds.con.register(
        "p_amount",
        pd.DataFrame(
            {
                "k": np.arange(len(ds.parsed["amount"]), dtype=np.int32),
                "v": ds.parsed["amount"].to_numpy(dtype=np.float64),
                "bad": ds.reasons["amount"] != "",
            }
        ),
    )
    # A day with a blank amount among its orders has no total (NULL -> NaN), as on the pandas path.
    got = ds.con.execute(
        f"SELECT min(c._row) AS _row, c.k{ic} AS kc, pdt.day AS day, "
        "CASE WHEN count(pa.v) < count(*) THEN NULL ELSE sum(pa.v) END AS amount "
        f"FROM codes c JOIN p_date pdt ON c.k{idate} = pdt.k JOIN p_amount pa ON c.k{ia} = pa.k "
        f"WHERE NOT pdt.bad AND NOT pa.bad GROUP BY c.k{ic}, pdt.day ORDER BY 1"
    ).fetchnumpy()
    ds.con.unregister("p_date")
    ds.con.unregister("p_amount")
    kc = np.asarray(got["kc"], dtype=np.int64)
    keep = ds.reasons["customer_id"][kc] == ""
    when = np.ma.masked_array(got["day"]).astype("datetime64[D]").filled(np.datetime64("NaT"))
    amount = np.ma.masked_array(got["amount"]).astype(np.float64).filled(np.nan)
    return pd.DataFrame(
        {
            "customer_id": ds.parsed["customer_id"].to_numpy()[kc[keep]],
            "date": when[keep].astype("datetime64[ns]"),
            "amount": amount[keep],
        },
        index=pd.Index(ds.file_rows(np.asarray(got["_row"])[keep]), name="row"),
    )


# ----------------------------------------------------------------------------------------------
# Summaries: what DuckDB aggregates and hands over instead of rows (see the module notes, point 5)
# ----------------------------------------------------------------------------------------------

#: Columns of each summary kind, after ``_group`` (the engine's catalog defines them).
SUMMARY_COLUMNS = catalog.SUMMARY_COLUMNS


def _lookup(ds: DuckDataset, column: str, period_unit: str | None = None) -> str:
    """Register, once, the parsed value of each distinct raw value of a role or carried column as a
    DuckDB table ``(k, v, bad[, month, period])`` and return its name. NULL ``v`` is a blank.

    Dates give ``v`` as a day number, ``month`` as the ``YYYY-MM`` label segment tables use
    ("(no date)" for a blank) and, for predictive CLV, ``period`` as :func:`rfm_summary` numbers
    periods (its own function does it, so the two cannot drift apart)."""
    from ..metrics.clv.summary import period_index

    i = ds.column_index[column]
    name = f"p{i}" + (f"_{period_unit}" if period_unit else "")
    if name in ds.lookups:
        return name
    parsed = ds.parsed[column]
    frame = pd.DataFrame({"k": np.arange(len(parsed), dtype=np.int32), "bad": ds.reasons[column] != ""})
    if column in ds.columns and ROLE_BY_NAME[column].kind == "date":
        when = parsed.to_numpy(dtype="datetime64[ns]")
        blank = np.isnat(when)
        day = pd.array(when.astype("datetime64[D]").astype(np.int64), dtype="Int64")
        day[blank] = pd.NA
        frame["v"] = day
        frame["month"] = np.where(blank, "(no date)", pd.DatetimeIndex(when).strftime("%Y-%m"))
        if period_unit:
            period = pd.array(period_index(np.where(blank, np.datetime64(0, "ns"), when), period_unit))
            period[blank] = pd.NA
            frame["period"] = period
    elif column in ds.columns:
        frame["v"] = parsed.to_numpy(dtype=np.float64)
    else:
        # A carried segment column: the group segment tables give its label (trimmed, any case, the
        # most frequent spelling; "(blank)" for no value), weighing each distinct value by its rows.
        got = ds.con.execute(f"SELECT k{i} AS k, count(*) AS n FROM codes GROUP BY 1").fetchnumpy()
        rows = np.zeros(len(parsed))
        rows[np.asarray(got["k"], dtype=np.int64)] = np.asarray(got["n"], dtype=np.float64)
        frame["v"] = label_groups(parsed.reset_index(drop=True), weights=rows).to_numpy(dtype=object)
    ds.con.register(name, frame)
    ds.lookups.add(name)
    return name


def _joined(ds: DuckDataset, columns: Sequence[str], checked: Sequence[str], period_unit: str | None = None):
    """FROM and WHERE of a query over the rows whose ``checked`` values are all usable, with the
    lookup of each column joined as ``j0``, ``j1``, ... (in the order of ``columns``)."""
    joins = []
    for n, col in enumerate(columns):
        unit = period_unit if col == "date" else None
        joins.append(f"JOIN {_lookup(ds, col, unit)} j{n} ON c.k{ds.column_index[col]} = j{n}.k")
    where = [f"NOT j{columns.index(col)}.bad" for col in checked]
    return f"FROM codes c {' '.join(joins)}", (" WHERE " + " AND ".join(where)) if where else ""


def summary_frames(
    ds: DuckDataset, kind: str, roles: Sequence[str], *, by: str | None = None, date_role: str | None = None
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The summary a metric is computed from, per group and for all rows: ``(groups, total)``.

    ``kind`` is ``"scores"`` (responses per score value), ``"moments"`` (count, sum, sum of squares
    and blanks of one number), or ``"customers"`` (per customer: order rows, distinct order days,
    revenue; rows with a blank in ``roles`` form one row with a NULL customer). Groups, as segment
    tables label them: ``by``'s value, the month of ``date_role`` (``(no date)`` for a blank or
    unreadable one), or ``"segment | month"``; ``groups`` is None without either. Rows with an
    unusable value in ``roles`` are left out (they were reported; :func:`rejected_counts` counts
    them per group). Every frame has a column ``_group`` and
    :data:`SUMMARY_COLUMNS` of its kind; its length is bounded by groups x (scores or customers).
    """
    ds._check_roles(list(roles))
    columns = list(dict.fromkeys([*roles, *([date_role] if date_role else [])])) + ([by] if by else [])
    source, where = _joined(ds, columns, list(roles))
    blank = " OR ".join(f"j{columns.index(r)}.v IS NULL" for r in roles)
    if kind == "scores":
        select, keys = "j0.v AS score, count(*) AS n", ", score"
    elif kind == "moments":
        select = (
            "count(j0.v) AS n, fsum(j0.v) AS total, fsum(j0.v * j0.v) AS squares, "
            "count(*) - count(j0.v) AS blank"
        )
        keys = ""
    else:
        days = f"count(DISTINCT j{columns.index('date')}.v)" if "date" in roles else "0"
        revenue = f"fsum(j{columns.index('amount')}.v)" if "amount" in roles else "0.0"
        select = (
            f"CASE WHEN {blank} THEN NULL ELSE j0.v END AS customer, count(*) AS orders, "
            f"{days} AS days, {revenue} AS revenue"
        )
        keys = ", customer"
    labels = []
    if by:
        labels.append(f"j{columns.index(by)}.v")
    if date_role:
        labels.append(f"j{columns.index(date_role)}.month")

    def fetch(group: str) -> pd.DataFrame:
        sql = (
            f"SELECT {group} AS _group, {select} {source}{where} GROUP BY _group{keys} ORDER BY _group{keys}"
        )
        frame = ds.con.execute(sql).df()
        ds.fetched_rows += len(frame)
        return frame

    groups = fetch(f"concat_ws(' | ', {', '.join(labels)})") if labels else None
    return groups, fetch("'Total'")


def rejected_counts(
    ds: DuckDataset, roles: Sequence[str], *, by: str | None = None, date_role: str | None = None
) -> dict[str, int]:
    """Rows left out for an unusable value in ``roles``, per group as :func:`summary_frames` labels
    them, and under ``"Total"``."""
    ds._check_roles(list(roles))
    columns = list(dict.fromkeys([*roles, *([date_role] if date_role else [])])) + ([by] if by else [])
    source, _ = _joined(ds, columns, [])
    bad = " OR ".join(f"j{columns.index(r)}.bad" for r in roles)
    labels = ([f"j{columns.index(by)}.v"] if by else []) + (
        [f"j{columns.index(date_role)}.month"] if date_role else []
    )
    group = f"concat_ws(' | ', {', '.join(labels)})" if labels else "'Total'"
    got = ds.con.execute(f"SELECT {group} AS g, count(*) {source} WHERE {bad} GROUP BY 1").fetchall()
    out = {str(g): int(n) for g, n in got}
    if out and labels:
        out["Total"] = sum(out.values())
    return out


def rfm_summary_duckdb(ds: DuckDataset, *, time_unit: str, observation_end: Any = None) -> pd.DataFrame:
    """The per-customer RFM summary of :func:`kpi_xl.metrics.rfm_summary`, computed in DuckDB:
    purchases grouped into periods per customer (amounts summed), then per customer frequency
    (periods - 1), recency (last - first period) and T (period of the observation end - first), both
    in the model's time unit (:func:`~kpi_xl.metrics.clv.summary.period_length`), and
    monetary value (mean total of the repeat periods; 0 without one). Indexed by customer code.

    Rows with an unusable value were reported and are left out; so are rows with some but not all
    of customer, date and amount blank, each blank cell listed (as on the pandas path). What the
    engine would refuse in the rows left (a date after ``observation_end``; nothing at all) is found
    with a query that fetches only those rows, and the engine itself is run on them, so the message
    is its own, with the file row.
    """
    from ..metrics.clv import check_time_unit
    from ..metrics.clv.summary import period_index, period_length

    unit = check_time_unit(time_unit)
    roles = ["customer_id", "date", "amount"]
    source, where = _joined(ds, roles, roles, period_unit=unit)
    nulls = [f"j{n}.v IS NULL" for n in range(3)]
    all_blank = " AND ".join(nulls)
    _note_partial_rows(ds, roles, source, where, nulls)
    bad = np.zeros(0, np.int64)
    tx = f"{source}{where} AND NOT ({' OR '.join(nulls)})"
    max_day, n_tx = ds.con.execute(f"SELECT max(j1.v), count(*) {tx}").fetchall()[0]
    end_day = None if max_day is None else np.datetime64(int(max_day), "D")
    if bad.size == 0 and n_tx and observation_end is not None:
        end_day = _end_day(observation_end)
        # A blank end (NaT) is the engine's to refuse: any transaction row lets it say so.
        limit = -(1 << 62) if np.isnat(end_day) else int(end_day.astype(np.int64))
        late = ds.con.execute(f"SELECT min(c._row) {tx} AND j1.v > ?", [limit]).fetchall()[0][0]
        if late is not None:
            bad = np.asarray([late], dtype=np.int64)
    if bad.size or not n_tx:
        _engine_check(ds, bad, unit, observation_end)
    got = ds.con.execute(
        "WITH pp AS (SELECT j0.v AS customer, j1.period AS period, fsum(j2.v) AS amount "
        f"{tx} GROUP BY customer, period) "
        "SELECT customer, count(*) - 1 AS frequency, max(period) - min(period) AS recency, "
        "min(period) AS first, fsum(amount) AS total, arg_min(amount, period) AS first_amount "
        "FROM pp GROUP BY customer"
    ).fetchnumpy()
    ds.fetched_rows += len(got["customer"])
    dropped = int(ds.con.execute(f"SELECT count(*) {source}{where} AND {all_blank}").fetchall()[0][0])
    end_period = int(period_index(np.array([end_day]), unit)[0])
    length = period_length(unit)
    frequency = np.asarray(got["frequency"], dtype=np.float64)
    first = np.asarray(got["first"], dtype=np.float64)
    repeat_total = np.asarray(got["total"], dtype=np.float64) - np.asarray(
        got["first_amount"], dtype=np.float64
    )
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": np.asarray(got["recency"], dtype=np.float64) / length,
            "T": (end_period - first) / length,
            "monetary_value": np.where(frequency > 0, repeat_total / np.maximum(frequency, 1.0), 0.0),
        },
        index=pd.Index(np.asarray(got["customer"], dtype=np.float64), name="customer_id"),
    )
    out.attrs.update(
        time_unit=unit,
        observation_end=pd.Timestamp(end_day),
        n_transactions=int(n_tx),
        n_dropped=dropped,
    )
    return out


def _note_partial_rows(ds: DuckDataset, roles: list[str], source: str, where: str, nulls: list[str]) -> None:
    """List the blank cells of order rows with some but not all of ``roles`` blank (they are left
    out of CLV; see :func:`kpi_xl.data._open.PARTIAL_ROW`)."""
    from ._open import PARTIAL_ROW

    partial = f"({' OR '.join(nulls)}) AND NOT ({' AND '.join(nulls)})"
    limit = "" if ds.problems.limit is None else f" LIMIT {int(ds.problems.limit)}"
    for n, role in enumerate(roles):
        i = ds.column_index[role]
        cond = f"{source}{where} AND {partial} AND {nulls[n]}"
        listed = ds.con.execute(f"SELECT c._row, c.k{i} AS k {cond} ORDER BY c._row{limit}").fetchnumpy()
        if len(listed["_row"]) == 0:
            continue
        counted = ds.con.execute(f"SELECT c.k{i} AS k, count(*) AS n {cond} GROUP BY 1").fetchnumpy()
        counts: dict[Any, int] = {}
        for value, n_cells in zip(ds.shown(role, counted["k"]), counted["n"], strict=True):
            counts[value] = counts.get(value, 0) + int(n_cells)
        ds.problems.add_blanks(
            ds.name,
            ds.columns[role],
            ds.file_rows(listed["_row"]),
            ds.shown(role, listed["k"]),
            PARTIAL_ROW,
            counts=counts,
        )


def _end_day(observation_end: Any) -> np.datetime64:
    """The observation end as the engine reads it (its own date parsing; NaT for a blank)."""
    from ..metrics.rules import clean_dates

    end, _ = clean_dates([observation_end], argument="observation_end")
    return end.astype("datetime64[D]")[0]


def _engine_check(ds: DuckDataset, rows: np.ndarray, unit: str, observation_end: Any) -> None:
    """Run :func:`rfm_summary` on the few rows it would refuse (all of them, with nothing else when
    there are no transactions) and raise its error at the file row."""
    from ..metrics import rfm_summary
    from ._catalog import at_file_row

    rows = np.asarray(rows, dtype=np.int64)
    ds.con.register("bad_rows", pd.DataFrame({"_row": rows}))
    got = ds.con.execute(
        "SELECT c._row, "
        + ", ".join(f"k{ds.column_index[r]} AS {r}" for r in ("customer_id", "date", "amount"))
        + " FROM codes c WHERE c._row IN (SELECT _row FROM bad_rows) ORDER BY c._row"
    ).fetchnumpy()
    ds.con.unregister("bad_rows")
    values = [
        ds.parsed[r].to_numpy()[np.asarray(got[r], dtype=np.int64)] for r in ("customer_id", "date", "amount")
    ]
    try:
        rfm_summary(*values, time_unit=unit, observation_end=observation_end)
    except KpiInputError as exc:
        index = pd.Index(ds.file_rows(np.asarray(got["_row"], dtype=np.int64)))
        roles = {"customer_ids": "customer_id", "dates": "date", "amounts": "amount"}
        raise at_file_row(exc, index, ds, roles, "clv") from exc
