"""One export, read, mapped and parsed: the values each role holds, ready for the engine.

:func:`load_dataset` is the pandas path: the whole file is read, the role columns are parsed
(:mod:`._parse`) and checked with the engine's rules (:mod:`._validate`). The DuckDB path
(:mod:`._duck`) produces the same :class:`Dataset` from aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import KpiInputError
from ._columns import ROLE_BY_NAME, ColumnMap, map_columns
from ._parse import parse_dates, parse_numbers
from ._read import RawTable, read_table
from ._validate import Problems, ValueRules, check_values

__all__ = ["ReadOptions", "Dataset", "load_dataset", "parse_role"]


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


@dataclass
class Dataset:
    """Parsed role columns of one file.

    Attributes
    ----------
    name:
        File name for messages.
    columns:
        Which header was used for which role, and how it was chosen.
    data:
        One column per role (parsed: float, datetime64, text) plus carried-along columns under
        their own header; index = row numbers as the user sees them. Blank values stay (the engine
        skips and counts them); values the engine rejects are NaN/NaT/None here and marked in
        ``invalid``.
    invalid:
        Per role, True where the file's value was unusable (see ``problems``).
    weights:
        Row multiplicities: 1 on the pandas path; on the DuckDB path one row stands for this many
        identical rows of the file.
    """

    name: str
    columns: ColumnMap
    data: pd.DataFrame
    invalid: pd.DataFrame
    problems: Problems
    notes: list[str] = field(default_factory=list)
    source: str = ""
    weights: np.ndarray | None = None

    def rows_for(self, roles: Iterable[str], extra: Iterable[str] = ()) -> pd.DataFrame:
        """The rows usable by a metric reading ``roles``: rows with an invalid value there are
        left out (they were reported); blank values stay for the engine to skip and count."""
        roles = list(roles)
        missing = [r for r in roles if r not in self.data.columns]
        if missing:
            raise KpiInputError(
                f"{self.name}: no column for {', '.join(ROLE_BY_NAME[r].label for r in missing)}; "
                f"map one with --map {missing[0]}=HEADER",
                argument="mapping",
            )
        bad = self.invalid[roles].any(axis=1).to_numpy() if roles else np.zeros(len(self.data), bool)
        cols = roles + [c for c in extra if c not in roles]
        frame = self.data.loc[~bad, cols]
        if self.weights is not None:
            # The DuckDB path's aggregated rows stand for several file rows: repeat them so the engine
            # sees exactly the multiset of values the file holds.
            frame = frame.loc[frame.index.repeat(self.weights[~bad])]
        return frame

    def skipped(self, roles: Iterable[str]) -> int:
        """Rows left out for a metric reading ``roles``."""
        roles = [r for r in roles if r in self.invalid.columns]
        if not roles:
            return 0
        bad = self.invalid[roles].any(axis=1).to_numpy()
        if self.weights is not None:
            return int(self.weights[bad].sum())
        return int(bad.sum())


def parse_role(
    raw: pd.Series, role: str, options: ReadOptions, *, default_decimal: str = "."
) -> tuple[pd.Series, np.ndarray, str]:
    """Parse one column for ``role``: parsed values, the reason per row ("" = usable), and a note."""
    kind = ROLE_BY_NAME[role].kind
    index = raw.index
    if kind in ("id", "text"):
        return _as_text(raw), np.full(len(raw), "", dtype=object), ""
    if kind == "date":
        parsed = parse_dates(raw, order=options.date_order, source=f"column {raw.name!r}")
        return pd.Series(parsed.values, index=index, name=role), parsed.reason, parsed.note
    if kind == "flag":
        values, reasons = check_values(raw.to_numpy(dtype=object), kind, role, options.rules)
        return pd.Series(values, index=index, name=role), reasons, ""
    parsed = parse_numbers(raw, decimal=options.decimal, default_decimal=default_decimal)
    values, reasons = check_values(parsed.values, kind, role, options.rules)
    reasons = np.where(parsed.invalid, parsed.reason, reasons).astype(object)
    values = np.where(parsed.invalid, np.nan, values)
    return pd.Series(values, index=index, name=role), reasons, parsed.note


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


def _default_decimal(table: RawTable) -> str:
    # A ";"-separated CSV is the signature of a comma-decimal locale (German, French, ...).
    return "," if table.format == "csv" and table.delimiter == ";" else "."


def dataset_from_table(
    table: RawTable,
    roles: Iterable[str] | None,
    options: ReadOptions,
    *,
    extra: Iterable[str] = (),
    problems: Problems | None = None,
) -> Dataset:
    """Map, parse and check a :class:`RawTable` (see :func:`load_dataset`)."""
    problems = problems if problems is not None else Problems()
    cmap = map_columns(table.frame.columns, mapping=options.mapping, roles=roles, source=table.name)
    data: dict[str, pd.Series] = {}
    invalid: dict[str, np.ndarray] = {}
    notes: list[str] = []
    default_decimal = _default_decimal(table)
    rows = table.frame.index.to_numpy()
    for role, header in cmap.columns.items():
        raw = table.frame[header]
        values, reasons, note = parse_role(raw, role, options, default_decimal=default_decimal)
        bad = reasons != ""
        data[role] = values
        invalid[role] = bad
        if note:
            notes.append(f"column {header!r}: {note}")
        if bad.any():
            problems.add(table.name, header, rows[bad], raw.to_numpy(dtype=object)[bad], reasons[bad])
    for header in extra:
        found = next((h for h in table.frame.columns if h == header), None)
        if found is None:
            found = next(
                (h for h in table.frame.columns if str(h).strip().lower() == header.strip().lower()), None
            )
        if found is None:
            raise KpiInputError(
                f"{table.name}: no column {header!r}; the columns are: "
                f"{', '.join(map(repr, map(str, table.frame.columns)))}",
                argument="by",
                value=header,
            )
        data[header] = _as_text(table.frame[found])
    frame = pd.DataFrame(data, index=table.frame.index)
    bad_frame = pd.DataFrame(invalid, index=table.frame.index, dtype=bool)
    return Dataset(table.name, cmap, frame, bad_frame, problems, notes, source=table.describe())


def load_dataset(
    path: str | Path,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    extra: Iterable[str] = (),
    problems: Problems | None = None,
) -> Dataset:
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
    table = read_table(path, sheet=options.sheet, encoding=options.encoding, delimiter=options.delimiter)
    return dataset_from_table(table, roles, options, extra=extra, problems=problems)
