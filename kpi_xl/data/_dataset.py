"""One export, read, mapped and parsed: the values each role holds, ready for the engine.

:func:`load_dataset` is the pandas path: the whole file is read, the role columns are parsed
(:mod:`kpi_xl.metrics.rules`) and checked with the engine's rules (:mod:`._validate`). The DuckDB path
(:mod:`._duck`) produces the same :class:`Dataset` from aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError
from ..metrics.rules import parse_dates, parse_numbers
from ._columns import ROLE_BY_NAME, ColumnMap, map_columns
from ._read import RawTable, read_table
from ._validate import Problems, ValueRules, check_ids, check_values

__all__ = [
    "ReadOptions",
    "Dataset",
    "FrameDataset",
    "ParsedColumn",
    "load_dataset",
    "dataset_from_table",
    "parse_role",
]


@dataclass(frozen=True)
class ReadOptions:
    """How to read and parse files; every field is optional (``None`` = detect).

    ``mapping`` is role -> header; ``extra`` names further columns to carry along untouched
    (segments for ``--by``).
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    date_order: str | None = None
    rules: ValueRules = field(default_factory=ValueRules)
    #: Name the sheet with the file in messages (a run reading several sheets of one workbook).
    sheet_in_name: bool = False
    #: Sheet row (1-based) of an Excel file's header; None: found below any title lines.
    header_row: int | None = None


@dataclass
class Dataset:
    """Parsed role columns of one file, as the metrics need them.

    The pandas path (:class:`FrameDataset`) holds every row; the DuckDB path
    (:class:`kpi_xl.data._duck.DuckDataset`) aggregates in DuckDB and hands over distinct value
    combinations with their counts. Both answer the same questions, so a metric sees the same values.

    Attributes
    ----------
    name:
        File name for messages.
    columns:
        Which header was used for which role, and how it was chosen.
    problems:
        Unusable values found (shared by all files of a run).
    notes:
        How values were read (decimal mark, date formats), for the user to check.
    source:
        What was read and how (format, encoding, delimiter, rows).
    id_labels:
        Per id role, the id text of each code: id columns hold codes (see :func:`check_ids`).
    """

    name: str
    columns: ColumnMap
    problems: Problems
    notes: list[str] = field(default_factory=list)
    source: str = ""
    id_labels: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def roles(self) -> list[str]:
        """Roles this file has a column for."""
        return list(self.columns.columns)

    @property
    def n_rows(self) -> int:
        """Rows of the file (empty rows not counted)."""
        raise NotImplementedError

    def ids(self, role: str, codes: Any) -> np.ndarray:
        """Id text for the codes an id role holds (the engine reads codes; outputs show ids)."""
        codes = np.asarray(codes, dtype=np.float64)
        out = np.full(codes.shape, None, dtype=object)
        ok = ~np.isnan(codes)
        out[ok] = self.id_labels[role][codes[ok].astype(np.int64)]
        return out

    def values(self, role: str) -> pd.Series:
        """The usable values of one role (each distinct value at least once: for ranges, not counts)."""
        raise NotImplementedError

    def _frame(self, cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
        """Values of ``cols`` (roles and carried columns), invalid flags of the roles among them, and
        row multiplicities (``None``: every row once). The index is the file row."""
        raise NotImplementedError

    def _check_roles(self, roles: list[str]) -> None:
        missing = [r for r in roles if r not in self.columns]
        if missing:
            raise KpiInputError(
                f"{self.name}: no column for {', '.join(ROLE_BY_NAME[r].label for r in missing)}; "
                f"map one with --map {missing[0]}=HEADER",
                argument="mapping",
            )

    def rows_for(
        self, roles: Iterable[str], extra: Iterable[str] = (), *, marked: bool = False
    ) -> pd.DataFrame:
        """The rows usable by a metric reading ``roles`` (plus carried columns ``extra``): rows with
        an invalid value in those roles are left out (they were reported); blank values stay for the
        engine to skip and count. Index: the file row of each row.

        With ``marked=True`` every row is kept and a column ``_rejected`` is True for those rows, so
        that a segment table can count them in their group (see
        :func:`kpi_xl.metrics.segment_table`'s ``rejected``)."""
        roles = list(roles)
        self._check_roles(roles)
        cols = roles + [c for c in extra if c not in roles]
        data, invalid, weights = self._frame(cols)
        bad = invalid[roles].any(axis=1).to_numpy() if roles else np.zeros(len(data), bool)
        if marked:
            frame = data.loc[:, cols].assign(_rejected=bad)
            keep = np.ones(len(data), bool)
        else:
            frame = data.loc[~bad, cols]
            keep = ~bad
        if weights is not None:
            # An aggregated row stands for several file rows: repeat it so the engine sees exactly the
            # multiset of values the file holds.
            frame = frame.iloc[np.repeat(np.arange(len(frame)), weights[keep])]
        return frame

    def _blank_cells(self, role: str) -> tuple[np.ndarray, np.ndarray, dict[Any, int] | None]:
        """File rows and raw values of the blank or placeholder cells of one role (the first ones
        when they are many, with ``{raw value: cells}`` counts then; ``None``: all are listed)."""
        raise NotImplementedError

    def note_blanks(self, roles: Iterable[str]) -> None:
        """List the blank and placeholder cells of ``roles`` as values left out (a metric that needs
        these columns counts them in ``n_dropped``; the user sees which cells they are)."""
        for role in roles:
            if role not in self.columns or (self.name, self.columns[role]) in self.problems.blanks_noted:
                continue
            rows, values, counts = self._blank_cells(role)
            self.problems.add_blanks(
                self.name, self.columns[role], rows, values, "counted in n_dropped", counts=counts
            )

    def skipped(self, roles: Iterable[str]) -> int:
        """Rows left out for a metric reading ``roles``."""
        roles = [r for r in roles if r in self.columns]
        if not roles:
            return 0
        _, invalid, weights = self._frame(roles)
        bad = invalid[roles].any(axis=1).to_numpy()
        return int(bad.sum() if weights is None else weights[bad].sum())


@dataclass
class FrameDataset(Dataset):
    """The pandas path: every row of the file, parsed.

    ``data`` has one column per role (float, datetime64 or text) plus carried-along columns under
    their header; the index is the row number as the user sees it. Values the engine would reject
    are NaN/NaT/None there and True in ``invalid``.
    """

    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    invalid: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Per role, the raw cells the reader found blank or a placeholder (file row -> raw value).
    blanks: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.data)

    def _blank_cells(self, role: str) -> tuple[np.ndarray, np.ndarray, dict[Any, int] | None]:
        found = self.blanks.get(role, pd.Series([], dtype=object))
        return found.index.to_numpy(), found.to_numpy(dtype=object), None

    def values(self, role: str) -> pd.Series:
        return self.data.loc[~self.invalid[role].to_numpy(), role]

    def _frame(self, cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
        return self.data, self.invalid, None


@dataclass(frozen=True)
class ParsedColumn:
    """One role column parsed: the values the engine gets, the reason per row ("" = usable), a note
    on how it was read, and for ids the id text of each code."""

    values: pd.Series
    reasons: np.ndarray
    note: str = ""
    labels: np.ndarray | None = None


def parse_role(
    raw: pd.Series, role: str, options: ReadOptions, *, default_decimal: str = "."
) -> ParsedColumn:
    """Parse one column for ``role`` (file-specific parsing here, value rules from the engine)."""
    kind = ROLE_BY_NAME[role].kind
    index = raw.index
    if kind == "id":
        codes, labels, reasons = check_ids(raw.to_numpy(dtype=object))
        return ParsedColumn(pd.Series(codes, index=index, name=role), reasons, labels=labels)
    if kind == "text":
        return ParsedColumn(_as_text(raw), np.full(len(raw), "", dtype=object))
    if kind == "date":
        parsed = parse_dates(raw, order=options.date_order, source=f"column {raw.name!r}")
        return ParsedColumn(pd.Series(parsed.values, index=index, name=role), parsed.reason, parsed.note)
    if kind == "flag":
        values, reasons = check_values(raw.to_numpy(dtype=object), kind, role, options.rules)
        return ParsedColumn(pd.Series(values, index=index, name=role), reasons)
    parsed = parse_numbers(raw, decimal=options.decimal, default_decimal=default_decimal)
    values, reasons = check_values(parsed.values, kind, role, options.rules)
    reasons = np.where(parsed.invalid, parsed.reason, reasons).astype(object)
    values = np.where(parsed.invalid, np.nan, values)
    return ParsedColumn(pd.Series(values, index=index, name=role), reasons, parsed.note)


def _as_text(raw: pd.Series) -> pd.Series:
    """Ids and segments as text; a whole number read from Excel as 17.0 is the id "17"."""

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        text = str(v).strip()
        return text or None

    if pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object:
        stripped = raw.str.strip()
        return stripped.where(stripped.ne("").fillna(False), None).astype(object)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series([None] * len(raw), index=raw.index, dtype=object)
    conv = np.array([one(v) for v in uniques], dtype=object)
    return pd.Series(np.where(codes >= 0, conv[np.maximum(codes, 0)], None), index=raw.index, dtype=object)


def find_header(headers: Iterable[object], header: str, source: str) -> str:
    """The file's header for a column the user named (exact, else ignoring case and spaces)."""
    heads = [str(h) for h in headers]
    if header in heads:
        return header
    found = next((h for h in heads if h.strip().lower() == header.strip().lower()), None)
    if found is None:
        raise KpiInputError(
            f"{source}: no column {header!r}; the columns are: {', '.join(map(repr, heads))}",
            argument="by",
            value=header,
        )
    return found


def default_decimal(fmt: str, delimiter: str | None) -> str:
    """Decimal mark assumed when no value shows it."""
    # A ";"-separated CSV is the signature of a comma-decimal locale (German, French, ...).
    return "," if fmt == "csv" and delimiter == ";" else "."


def dataset_from_table(
    table: RawTable,
    roles: Iterable[str] | None,
    options: ReadOptions,
    *,
    extra: Iterable[str] = (),
    problems: Problems | None = None,
) -> FrameDataset:
    """Map, parse and check a :class:`RawTable` (see :func:`load_dataset`)."""
    problems = problems if problems is not None else Problems()
    cmap = map_columns(table.frame.columns, mapping=options.mapping, roles=roles, source=table.name)
    data: dict[str, pd.Series] = {}
    invalid: dict[str, np.ndarray] = {}
    notes: list[str] = []
    decimal = default_decimal(table.format, table.delimiter)
    rows = table.frame.index.to_numpy()
    labels: dict[str, np.ndarray] = {}
    blanks: dict[str, pd.Series] = {}
    for role, header in cmap.columns.items():
        raw = table.frame[header]
        parsed = parse_role(raw, role, options, default_decimal=decimal)
        bad = parsed.reasons != ""
        blank = pd.isna(parsed.values).to_numpy(dtype=bool) & ~bad
        blanks[role] = pd.Series(raw.to_numpy(dtype=object)[blank], index=rows[blank], dtype=object)
        data[role] = parsed.values
        invalid[role] = bad
        if parsed.labels is not None:
            labels[role] = parsed.labels
        if parsed.note:
            notes.append(f"column {header!r}: {parsed.note}")
        if bad.any():
            problems.add(table.name, header, rows[bad], raw.to_numpy(dtype=object)[bad], parsed.reasons[bad])
    carried = [find_header(table.frame.columns, header, table.name) for header in extra]
    for header, found in zip(extra, carried, strict=True):
        data[header] = _as_text(table.frame[found])
    used = {*cmap.columns.values(), *carried}
    unused = [str(h) for h in table.frame.columns if h not in used]
    if unused:
        notes.append(f"columns not used: {', '.join(map(repr, unused))}")
    frame = pd.DataFrame(data, index=table.frame.index)
    bad_frame = pd.DataFrame(invalid, index=table.frame.index, dtype=bool)
    return FrameDataset(table.name, cmap, problems, notes, table.describe(), labels, frame, bad_frame, blanks)


def load_dataset(
    path: str | Path,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    extra: Iterable[str] = (),
    problems: Problems | None = None,
) -> FrameDataset:
    """Read a file and parse the columns for ``roles`` (default: every role it has a column for).

    Parameters
    ----------
    path:
        CSV, XLSX or Parquet export.
    roles:
        Roles to look for (e.g. ``["customer_id", "date", "amount"]``); roles the file has no
        column for are simply absent (a metric needing them says so).
    options:
        Explicit mapping, sheet, encoding, delimiter, decimal mark, date order, survey scales.
    extra:
        Further columns to carry along as text (segment columns).
    problems:
        Collect row problems into this object (to report several files together).

    Examples
    --------
    A German CSV ``Kunden-ID;Datum;Betrag`` with a row ``K1;31.12.2025;1.234,56`` gives
    ``data["amount"] == 1234.56`` and ``data["date"] == 2025-12-31``, and the notes say which
    column was used for what.
    """
    options = options or ReadOptions()
    table = read_table(
        path,
        sheet=options.sheet,
        encoding=options.encoding,
        delimiter=options.delimiter,
        sheet_in_name=options.sheet_in_name,
        header_row=options.header_row,
    )
    return dataset_from_table(table, roles, options, extra=extra, problems=problems)
