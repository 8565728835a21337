"""A source held in an Ibis backend (DuckDB embedded, PySpark, a warehouse), judged by the engine's
value rules on its distinct values and aggregated there.

How it gives the pandas path's answers (:func:`kpi_xl.data.load_dataset`) without the rows:

1. The source is an Ibis table (``src``) with one column per role (and per carried segment column) under the
   names ``c0``, ``c1``, ... and a row number ``_row`` (the file row for files; see
   :mod:`kpi_xl.data._duck`).
2. Each column's *distinct* values are fetched and judged by the very same Python parsing and rules
   as on the pandas path (:func:`parse_role`); the judgement goes back to the backend as a small
   lookup table (value read, listed as a problem or not, month, CLV period) joined on the raw value.
   Two cases skip the lookup: text customer ids, whose only rule is "strip spaces, a placeholder is
   blank" (:func:`kpi_xl.data.aggregate.id_key`, so millions of ids never travel), and typed numbers
   the rules read as they are (only the few rejected values are named in the backend).
3. The aggregations (:mod:`kpi_xl.data.aggregate`) run on the judged table; only summaries come back
   (responses per score, moments, per-customer counts, RFM patterns). Metrics without a summary entry
   point get distinct value combinations with counts, or rows as codes when nearly every row is its
   own combination (ticket timestamps).

Row numbers in problem messages are the source's rows (for a CSV, the line numbers the user sees).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError
from ..metrics.rules import BLANK_TEXT, label_groups
from . import aggregate
from ._columns import ROLE_BY_NAME, map_columns
from ._dataset import Dataset, ReadOptions, _as_text, find_header, parse_role
from ._validate import Problems

__all__ = [
    "BackendDataset",
    "Judged",
    "open_table",
    "summary_frames",
    "SUMMARY_COLUMNS",
    "predict_clv_backend",
]

#: Columns of each summary kind, after ``_group`` (the engine's catalog defines them).
SUMMARY_COLUMNS = aggregate.SUMMARY_COLUMNS

#: Per-customer role sets the order metrics read (purchase frequency; repeat purchase rate;
#: historical CLV): their counts come from one query.
_CUSTOMER_SETS = (("customer_id",), ("customer_id", "date"), ("customer_id", "amount"))


@dataclass
class Judged:
    """One column's distinct raw values (``raw``, at most one blank) and what the rules made of them:
    ``values`` (what the engine reads), ``reasons`` ("" = usable). ``how`` says how the backend
    gets the values: ``"key"`` (text ids, stripped in the backend), ``"same"`` (typed numbers read
    as they are), ``"cast"`` (the backend's cast to ``cast`` gives the rules' value for every
    distinct value: checked, not assumed) or ``"lookup"`` (a join with the judgement)."""

    raw: pd.Series
    values: pd.Series
    reasons: np.ndarray
    how: str = "lookup"
    cast: str | None = None
    #: Whether any cell is blank or a placeholder (else no query lists them).
    has_blank: bool = True
    #: Segment columns: each distinct value's group label (the engine's label policy).
    labels: pd.Series | None = None
    #: Rows holding a rejected value (counted when the problems are listed).
    n_bad: int = 0
    #: Text ids: whether the check (an id to strip? a blank?) has run. It runs when a metric first
    #: reads the column, so an id column no metric reads costs nothing; the per-customer counts run
    #: it on the distinct ids they grouped instead of every row (:func:`_customer_table`).
    checked: bool = True

    @property
    def bad_raw(self) -> pd.Series:
        return self.raw[self.reasons != ""]


@dataclass
class BackendDataset(Dataset):
    """A source in an Ibis backend, judged on distinct values; see the module notes."""

    con: Any = None
    src: Any = None
    column_index: dict[str, int] = field(default_factory=dict)
    judged: dict[str, Judged] = field(default_factory=dict)
    rows: int = 0
    #: Maps the backend's row numbers to the rows the user sees (files: header and empty lines).
    row_map: Callable[[np.ndarray], np.ndarray] | None = None
    #: Rows fetched as summaries (for tests: bounded by groups and customers, not rows).
    fetched_rows: int = 0
    _cache: dict[tuple[str, ...], tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]] = field(
        default_factory=dict
    )
    _lookups: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    #: Per-customer counts kept in the backend, by the query that made them.
    _summaries: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _kept: int = 0
    #: Per-customer CLV predictions as an Ibis expression, once computed (see predict_clv_backend).
    predictions: Any = None
    #: The per-customer role sets the metrics of this run read and whether one counts purchase days
    #: (:func:`kpi_xl.data._catalog.specs_for` sets it): one per-customer query computes exactly
    #: those. None: every order metric's role set.
    customer_plan: tuple[tuple[tuple[str, ...], ...], bool] | None = None

    @property
    def n_rows(self) -> int:
        return self.rows

    @property
    def backend(self) -> str:
        return self.con.name

    def file_rows(self, row: Any) -> np.ndarray:
        row = np.asarray(row, dtype=np.int64)
        return row if self.row_map is None else self.row_map(row)

    def fetch(self, expr: Any) -> pd.DataFrame:
        """Run an expression and count the rows it brings back."""
        with _quiet():
            frame = self.con.to_pandas(expr)
        self.fetched_rows += len(frame)
        return frame

    def scalar(self, expr: Any) -> Any:
        """Run an expression giving one value."""
        with _quiet():
            return self.con.execute(expr)

    def values(self, role: str) -> pd.Series:
        j = self.judged[role]
        if j.how == "key":
            t = self.table([role])
            keys = self.fetch(t.select(v=t[role]).filter(lambda t: t.v.notnull()).distinct())
            return keys["v"]
        return j.values[j.reasons == ""]

    def ids(self, role: str, codes: Any) -> np.ndarray:
        if self.judged[role].how == "key":
            self.ids_sorted(role)
        return super().ids(role, codes)

    # -- the judged table --------------------------------------------------------------------

    def _lookup(self, column: str, unit: str | None) -> Any:
        """The judgement of each distinct raw value of ``column`` as a backend table
        ``(r, k, v, bad[, day, month, period])`` (``k``: position among the distinct values)."""
        key = (column, unit)
        if key not in self._lookups:
            j = self.judged[column]
            frame = pd.DataFrame({"k": np.arange(len(j.raw), dtype=np.int64), "bad": j.reasons != ""})
            frame.insert(0, "r", j.raw.to_numpy())
            if column in self.columns and ROLE_BY_NAME[column].kind == "date":
                when = pd.to_datetime(j.values).to_numpy(dtype="datetime64[ns]")
                blank = np.isnat(when)
                frame["v"] = when
                day = pd.array(when.astype("datetime64[D]").astype(np.int64), dtype="Int64")
                day[blank] = pd.NA
                frame["day"] = day
                frame["month"] = np.where(blank, "(no date)", pd.DatetimeIndex(when).strftime("%Y-%m"))
                if unit:
                    from ..metrics.clv.summary import period_index

                    period = pd.array(period_index(np.where(blank, np.datetime64(0, "ns"), when), unit))
                    period[blank] = pd.NA
                    frame["period"] = period
            elif column in self.columns:
                frame["v"] = j.values.to_numpy(dtype=np.float64)
            else:
                # A carried segment column: the group label segment tables give it.
                frame["v"] = j.labels.to_numpy(dtype=object)
            self._lookups[key] = frame
        return self._lookups[key]

    def column_name(self, column: str) -> str:
        """The judged table's name for a role (itself) or a carried column (``x<i>``)."""
        return column if column in self.columns else f"x{self.column_index[column]}"

    def table(
        self, columns: Sequence[str], *, unit: str | None = None, months: bool = False, raw_ids: bool = False
    ) -> Any:
        """The judged table (see :mod:`kpi_xl.data.aggregate`) for ``columns`` (roles and carried
        columns, named by :meth:`column_name`): per column its value, ``__bad`` and, for dates,
        ``__day`` (days since 1970), with ``__month`` (``months``) and ``__period`` (CLV periods in
        ``unit``) where asked for. With ``raw_ids``, a text id column not yet checked (see
        :meth:`_settled`) gives its ids as they are, unchecked: for a caller that groups by them and
        checks the distinct ids it grouped instead of every row."""
        import ibis

        t = self.src
        out: dict[str, Any] = {"_row": t._row}
        for col in dict.fromkeys(columns):
            i = self.column_index[col]
            raw = t[f"c{i}"]
            j = self.judged[col]
            if not (raw_ids and j.how == "key"):
                j = self._settled(col)
            name = self.column_name(col)
            out[f"{name}__raw"] = raw
            bad = j.bad_raw
            # NULL isin (...) is NULL: a blank is never a rejected value.
            flagged = raw.isin(bad.tolist()).coalesce(False) if len(bad) else ibis.literal(False)
            if j.how == "key":
                out[name] = aggregate.id_key(raw, sorted(BLANK_TEXT)) if j.cast == "strip" else raw
                out[f"{name}__bad"] = ibis.literal(False)
            elif j.how == "same":
                out[name] = aggregate.plain_number(raw)
                out[f"{name}__bad"] = flagged
            elif j.how == "cast" and j.cast == "float64":
                out[name] = aggregate.plain_number(raw.try_cast("float64"))
                out[f"{name}__bad"] = flagged
            elif j.how == "cast":
                when = raw.try_cast(j.cast)
                # A rejected date reads as no date: it is in no month and no period.
                when = ibis.ifelse(flagged, ibis.null(j.cast), when)
                out[name] = when
                out[f"{name}__bad"] = flagged
                day = (when if j.cast == "date" else when.date()).epoch_days()
                out[f"{name}__day"] = day
                if months or (unit and col == "date"):
                    # Months and periods of the distinct days, from the engine's own functions.
                    days = self._days(col, unit if col == "date" else None)
                    lk = ibis.memtable(days.rename(columns={c: f"{c}{i}" for c in days.columns}))
                    t = t.left_join(lk, day == lk[f"dayk{i}"])
                    out[f"{name}__month"] = t[f"month{i}"].coalesce("(no date)")
                    if f"period{i}" in lk.columns:
                        out[f"{name}__period"] = t[f"period{i}"]
            else:
                frame = self._lookup(col, unit if col == "date" else None)
                lk = ibis.memtable(frame.rename(columns={c: f"{c}{i}" for c in frame.columns}))
                t = t.left_join(lk, t[f"c{i}"] == lk[f"r{i}"])
                null = np.flatnonzero(j.raw.isna().to_numpy())
                for part in frame.columns.drop("r"):
                    got = t[f"{part}{i}"]
                    value = frame[part].iloc[int(null[0])] if null.size else None
                    if value is not None and not pd.isna(value):
                        # A blank raw value matches nothing in a join: it takes its own judgement.
                        got = got.coalesce(ibis.literal(value.item() if hasattr(value, "item") else value))
                    out[name if part == "v" else f"{name}__{part}"] = got
                out[f"{name}__bad"] = out[f"{name}__bad"].coalesce(False)
        return t.select(**out)

    def _days(self, column: str, unit: str | None) -> pd.DataFrame:
        """Month label and CLV period of each distinct day of a date column read by cast."""
        from ..metrics.clv.summary import period_index

        j = self.judged[column]
        when = pd.to_datetime(j.values[j.reasons == ""]).dropna().to_numpy(dtype="datetime64[ns]")
        day = np.unique(when.astype("datetime64[D]"))
        frame = pd.DataFrame({"dayk": day.astype(np.int64), "month": pd.DatetimeIndex(day).strftime("%Y-%m")})
        if unit:
            frame["period"] = period_index(day.astype("datetime64[ns]"), unit)
        return frame

    def pick(self, t: Any, column: str) -> Any:
        """The column of judged table ``t`` to fetch for ``column``: a lookup's position, else the value."""
        name = self.column_name(column)
        return t[f"{name}__k"] if self.judged[column].how == "lookup" else t[name]

    def decode(self, column: str, got: pd.Series) -> np.ndarray:
        """Fetched values of :meth:`pick` as the engine reads them."""
        j = self.judged[column]
        if j.how == "lookup":
            return j.values.to_numpy()[got.to_numpy(dtype=np.int64)]
        if j.how == "key":
            return got.to_numpy(dtype=object)
        if j.how == "cast" and j.cast != "float64":
            return pd.to_datetime(got).to_numpy(dtype="datetime64[ns]")
        return got.to_numpy(dtype=np.float64)

    # -- what the metrics ask for ------------------------------------------------------------

    def skipped(self, roles: Iterable[str]) -> int:
        """Rows left out for a metric reading ``roles``, counted in the backend."""
        import ibis

        roles = [r for r in roles if r in self.columns]
        with_bad = [r for r in roles if self.judged[r].n_bad]
        # Usually no column read has a rejected value, or one has: its count is known already.
        if len(with_bad) <= 1:
            return self.judged[with_bad[0]].n_bad if with_bad else 0
        t = self.table(roles)
        bad = ibis.or_(*(t[f"{r}__bad"] for r in roles))
        return int(self.scalar(t.filter(bad).count()))

    def _frame(self, cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
        key = tuple(cols)
        if key in self._cache:
            return self._cache[key]
        t = self.table(cols)
        picked, flags = {}, {}
        for c in cols:
            picked[f"p{len(picked)}"] = self.pick(t, c)
            if c in self.columns and self.judged[c].how != "key":
                flags[f"b{len(flags)}"] = t[f"{self.column_name(c)}__bad"]
        combos = float(np.prod([max(len(self.judged[c].raw), 1) for c in cols]))
        if combos * 2 < self.rows and all(self.judged[c].how != "key" for c in cols):
            grouped = t.group_by(**picked, **flags).aggregate(_row=t._row.min(), _n=t.count())
            got = self.fetch(aggregate.sorted_by(grouped, ["_row"]))
            weights = got["_n"].to_numpy(dtype=np.int64)
        else:
            # Nearly every row is its own combination (ids with dates or amounts): counting would
            # cost more than it saves, so the values come row by row.
            got = self.fetch(aggregate.sorted_by(t.select(_row=t._row, **picked, **flags), ["_row"]))
            weights = None
        index = pd.Index(self.file_rows(got["_row"].to_numpy()), name="row")
        data, invalid = {}, {}
        flag_of = iter(flags)
        for c, p in zip(cols, picked, strict=True):
            j = self.judged[c]
            if j.how == "key":
                codes = pd.Index(self.ids_sorted(c)).get_indexer(got[p].to_numpy(dtype=object))
                data[c] = np.where(codes >= 0, codes, np.nan).astype(np.float64)
                invalid[c] = np.zeros(len(got), bool)
                continue
            data[c] = self.decode(c, got[p])
            if c in self.columns:
                invalid[c] = got[next(flag_of)].to_numpy(dtype=bool)
        frame = pd.DataFrame(data, index=index)
        self._cache[key] = (frame, pd.DataFrame(invalid, index=index, dtype=bool), weights)
        return self._cache[key]

    def _blank_cells(self, role: str) -> tuple[np.ndarray, np.ndarray, dict[Any, int] | None]:
        """Blank and placeholder cells of a role: the first rows (file rows, raw text) and every
        raw spelling's count."""
        if not self._settled(role).has_blank:
            return np.zeros(0, np.int64), np.zeros(0, dtype=object), None
        t = self.table([role])
        name = self.column_name(role)
        cells = t.filter(t[name].isnull() & ~t[f"{name}__bad"])
        return _listed(self, cells, f"{name}__raw")

    def _settled(self, column: str) -> Judged:
        """The judgement of ``column``, with a text id column's check run first (see :func:`judge`)."""
        j = self.judged[column]
        if not j.checked:
            self.check_ids(column, self.src, self.src[f"c{self.column_index[column]}"])
        return j

    def check_ids(self, column: str, table: Any, ids: Any) -> bool:
        """Settle a text id column from ``ids`` (a column of ``table``): the column's rows, or the
        distinct raw ids a query grouped them by (far fewer than rows, same answer). Is any id one
        the one id rule changes (:func:`kpi_xl.data.aggregate.id_needs_key`: a space to strip, empty,
        a placeholder from the rulebook's list)? Then the backend strips ids (``cast="strip"``);
        most id columns hold none, and are their own key. Returns whether ids need stripping."""
        j = self.judged[column]
        needs = aggregate.id_needs_key(ids, sorted(BLANK_TEXT))
        blank = table.count(where=ids.isnull())
        got = self.fetch(table.aggregate(strip=table.count(where=needs), null=blank))
        strip, null = int(got["strip"].iloc[0]), int(got["null"].iloc[0] or 0)
        j.cast, j.has_blank, j.checked = ("strip" if strip else None), bool(strip or null), True
        return bool(strip)

    def ids_sorted(self, role: str) -> np.ndarray:
        """The ids of a text id column, sorted (their positions are the codes the engine reads)."""
        if role not in self.id_labels:
            self.id_labels[role] = np.asarray(sorted(self.values(role)), dtype=object)
        return self.id_labels[role]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Ibis 12 warns about pandas 3 and DuckDB 2 deprecations inside its own code; a user of
    kpi-xl can do nothing about them, so they are not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"ibis\.")
        warnings.filterwarnings("ignore", message=r".*(infer_string|fetch_arrow_table|DataFrame\.attrs)")
        yield


# ----------------------------------------------------------------------------------------------
# Judging a source: distinct values through the engine's rules
# ----------------------------------------------------------------------------------------------

_SAME_KINDS = ("score", "amount", "count", "number")


def _distinct(ds: BackendDataset, i: int, casts: Sequence[str] = ()) -> pd.DataFrame:
    """Distinct raw values of column ``i`` (``r``; timestamps with a time zone read in UTC), and what
    the backend's cast of each to each of ``casts`` gives."""
    distinct = ds.src.select(r=ds.src[f"c{i}"]).distinct()
    # Cast after DISTINCT: each distinct value once, not every row (a third of the query's time).
    got = ds.fetch(distinct.mutate(**{f"as_{c}": distinct.r.try_cast(c) for c in casts}))
    got = got.reset_index(drop=True)
    for col in got.columns:
        if isinstance(got[col].dtype, pd.DatetimeTZDtype):
            got[col] = got[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return got


def _cast_agrees(values: pd.Series, reasons: np.ndarray, cast: pd.Series, kind: str) -> bool:
    """Whether the backend's cast gives the rules' value for every usable distinct value (blanks
    included); rejected values are flagged by value, so what the cast makes of them does not matter."""
    ok = reasons == ""
    if kind == "date":
        want = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")[ok]
        got = pd.to_datetime(cast).to_numpy(dtype="datetime64[ns]")[ok]
        return bool(np.array_equal(want, got, equal_nan=True))
    want = values.to_numpy(dtype=np.float64)[ok]
    got = pd.to_numeric(cast, errors="coerce").to_numpy(dtype=np.float64)[ok]
    return bool(np.array_equal(want, got, equal_nan=True))


def plain_types(src: Any) -> Any:
    """Decimal columns as float64, as pandas reads them (the rules parse floats, not decimals)."""
    decimals = {c: src[c].cast("float64") for c, t in src.schema().items() if t.is_decimal()}
    return src.mutate(**decimals) if decimals else src


def judge(
    ds: BackendDataset, options: ReadOptions, *, extra: Sequence[str] = (), default_decimal: str = "."
) -> None:
    """Judge every role column (and carried column) on its distinct values and list the problems."""
    notes: list[str] = []
    schema = ds.src.schema()
    for role, header in ds.columns.columns.items():
        i = ds.column_index[role]
        dtype = schema[f"c{i}"]
        kind = ROLE_BY_NAME[role].kind
        if kind == "id" and dtype.is_string():
            # A text id's only rule is "strip spaces, a placeholder is blank", applied in the
            # backend; whether any id needs it is checked when a metric first reads the column
            # (BackendDataset.check_ids), which an unread column skips.
            empty = pd.Series([], dtype=object)
            ds.judged[role] = Judged(empty, empty, np.zeros(0, dtype=object), "key", checked=False)
            continue
        casts: tuple[str, ...] = ()
        if dtype.is_string() and kind in _SAME_KINDS:
            casts = ("float64",)
        elif dtype.is_string() and kind == "date":
            casts = ("date", "timestamp")
        got = _distinct(ds, i, casts)
        raw = got["r"].rename(header)
        parsed = parse_role(raw, role, options, default_decimal=default_decimal)
        values = parsed.values.reset_index(drop=True)
        reasons = np.asarray(parsed.reasons, dtype=object)
        how, cast = "lookup", None
        typed_number = kind in _SAME_KINDS and dtype.is_numeric() and not dtype.is_boolean()
        if typed_number and _cast_agrees(values, reasons, raw, kind):
            # A typed number the rules read as it is needs no lookup, only its rejected values.
            how = "same"
        typed_date = kind == "date" and dtype.is_date() and not (reasons != "").any()
        if typed_date and _cast_agrees(values, reasons, raw, kind):
            # A typed date column (Parquet, a warehouse) the rules read as it is, no date rejected:
            # its day numbers are read in place, no lookup joined to every row.
            how, cast = "cast", "date"
        for c in casts:
            # Text the backend's own cast reads as the rules do (plain numbers, ISO dates): no join.
            if _cast_agrees(values, reasons, got[f"as_{c}"], "date" if kind == "date" else kind):
                how, cast = "cast", c
                break
        blank = bool((pd.isna(values).to_numpy() & (reasons == "")).any())
        ds.judged[role] = Judged(raw, values, reasons, how, cast, has_blank=blank)
        if parsed.labels is not None:
            ds.id_labels[role] = parsed.labels
        if parsed.note:
            notes.append(f"column {header!r}: {parsed.note}")
        _add_problems(ds, role, header)
    for h in extra:
        col = ds.src[f"c{ds.column_index[h]}"]
        # In order of first appearance with their rows: the label policy shows a group by its most
        # frequent spelling, ties to the first seen.
        got = ds.fetch(ds.src.group_by(r=col).aggregate(n=ds.src.count(), first=ds.src._row.min()))
        got = got.sort_values("first", kind="stable", ignore_index=True)
        raw = got["r"].astype(object).where(got["r"].notna(), None)
        text = _as_text(raw).reset_index(drop=True)
        labels = label_groups(text, weights=got["n"].to_numpy(dtype=np.float64)).reset_index(drop=True)
        ds.judged[h] = Judged(raw, text, np.full(len(raw), "", dtype=object), labels=labels)
    ds.notes = notes


def _add_problems(ds: BackendDataset, role: str, header: str) -> None:
    """List the rows holding a rejected value (the first ``limit``) and count every one."""
    import ibis

    j = ds.judged[role]
    bad = j.bad_raw
    if bad.empty:
        return
    i = ds.column_index[role]
    src = ds.src
    reason_of = dict(zip(range(len(bad)), j.reasons[j.reasons != ""], strict=True))
    lk = ibis.memtable(pd.DataFrame({"r_bad": bad.to_numpy(), "k_bad": np.arange(len(bad), dtype=np.int64)}))
    hit = src.inner_join(lk, src[f"c{i}"] == lk.r_bad)
    counted = ds.fetch(hit.group_by("k_bad").aggregate(n=hit.count()))
    listed = hit.select("_row", "k_bad")
    if ds.problems.limit is not None:
        listed = aggregate.sorted_by(listed, ["_row"]).limit(int(ds.problems.limit))
    got = ds.fetch(aggregate.sorted_by(listed, ["_row"]))
    counts: dict[str, int] = {}
    j.n_bad = int(counted["n"].sum())
    for k, n in zip(counted["k_bad"], counted["n"], strict=True):
        counts[reason_of[int(k)]] = counts.get(reason_of[int(k)], 0) + int(n)
    k_listed = got["k_bad"].to_numpy(dtype=np.int64)
    ds.problems.add(
        ds.name,
        header,
        ds.file_rows(got["_row"].to_numpy()),
        bad.to_numpy(dtype=object)[k_listed],
        np.asarray([reason_of[int(k)] for k in k_listed], dtype=object),
        counts=counts,
    )


# ----------------------------------------------------------------------------------------------
# Summaries for the engine's entry points
# ----------------------------------------------------------------------------------------------


def summary_frames(
    ds: BackendDataset,
    kind: str,
    roles: Sequence[str],
    *,
    by: str | None = None,
    date_role: str | None = None,
    days: bool = True,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The summary a metric is computed from, per group and for all rows: ``(groups, total)``.

    ``kind`` is ``"scores"`` (responses per score value), ``"moments"`` (count, sum, sum of squares
    and blanks of one number), or ``"customers"`` (per customer: order rows, distinct order days,
    revenue; the order rows with a blank in ``roles`` form one row with a NULL customer). Groups,
    as segment tables label them: ``by``'s value, the month of ``date_role``, or ``"segment |
    month"`` (``(no date)`` for a blank or unreadable date); ``groups`` is None without either.
    ``days=False`` leaves the distinct order days out (0) when the metric does not read them. Rows
    with an unusable value in ``roles`` are left out (they were reported; :func:`rejected_counts`
    counts them per group). Every frame has a column ``_group`` and
    :data:`SUMMARY_COLUMNS` of its kind, sorted; its length is bounded by groups x (scores or
    customers), never by rows.
    """
    ds._check_roles(list(roles))
    grouped = by is not None or date_role is not None
    if kind == "customers":
        frames = [
            _customers(ds, tuple(roles), by, date_role, g, days)
            for g in ((True, False) if grouped else (False,))
        ]
        return (frames[0], frames[1]) if grouped else (None, frames[0])
    frames = [
        _scores_or_moments(ds, kind, roles, by, date_role, g)
        for g in ((True, False) if grouped else (False,))
    ]
    return (frames[0], frames[1]) if grouped else (None, frames[0])


def rejected_counts(
    ds: BackendDataset, roles: Sequence[str], *, by: str | None = None, date_role: str | None = None
) -> dict[str, int]:
    """Rows left out for an unusable value in ``roles``, per group as :func:`summary_frames` labels
    them, and under ``"Total"``."""
    import ibis

    ds._check_roles(list(roles))
    if not any(ds.judged[r].n_bad for r in roles):
        return {}
    grouped = by is not None or date_role is not None
    t = _labelled(ds, [*roles, *([date_role] if date_role else [])], by, date_role, grouped)
    bad = t.filter(ibis.or_(*(t[f"{r}__bad"] for r in roles)))
    got = ds.fetch(bad.group_by("_group").aggregate(n=bad.count()))
    out = {str(g): int(n) for g, n in zip(got["_group"], got["n"], strict=True)}
    if out and grouped:
        out["Total"] = sum(out.values())
    return out


def _labelled(
    ds: BackendDataset,
    columns: Sequence[str],
    by: str | None,
    date_role: str | None,
    grouped: bool,
    *,
    raw_ids: bool = False,
):
    import ibis

    t = ds.table([*columns, *([by] if by else [])], months=grouped and date_role is not None, raw_ids=raw_ids)
    if not grouped:
        return t.mutate(_group=ibis.literal("Total"))
    labels = ([t[ds.column_name(by)]] if by else []) + ([t[f"{date_role}__month"]] if date_role else [])
    return t.mutate(_group=labels[0] if len(labels) == 1 else ibis.literal(" | ").join(labels))


def _scores_or_moments(ds, kind, roles, by, date_role, grouped: bool) -> pd.DataFrame:
    checked = list(roles)
    t = _labelled(ds, [*roles, *([date_role] if date_role else [])], by, date_role, grouped)
    if kind == "scores":
        expr = aggregate.score_counts(t, roles[0], checked, ["_group"])
    else:
        expr = aggregate.moments(t, roles[0], checked, ["_group"])
    frame = ds.fetch(expr)
    if kind == "moments":
        frame = frame.astype({"n": np.int64, "blank": np.int64})
        frame[["total", "squares"]] = frame[["total", "squares"]].astype(np.float64).fillna(0.0)
    return frame[["_group", *SUMMARY_COLUMNS[kind]]]


def _customers(ds, roles: tuple[str, ...], by, date_role, grouped: bool, days: bool) -> pd.DataFrame:
    """Counts of counts of one role set (see :data:`kpi_xl.metrics.catalog.SUMMARY_COLUMNS`): the
    per-customer counts of the role sets the run's order metrics read come from one query, kept in
    the backend (purchase frequency, repeat rate and historical CLV read the same customers), and
    each set is counted again there by distinct (orders, days): a few hundred rows reach Python,
    not one per customer."""
    days = days and "date" in roles
    if ds.customer_plan is None:
        sets, with_days = [s for s in _CUSTOMER_SETS if all(r in ds.columns for r in s)], days
    else:
        sets, with_days = list(ds.customer_plan[0]), ds.customer_plan[1] or days
    if roles not in sets:
        sets.append(roles)
    key = ("customers", by, date_role, grouped, tuple(sets), with_days)
    if key not in ds._summaries:
        ds._summaries[key] = _customer_table(ds, sets, by, date_role, grouped, with_days)
    per = ds._summaries[key]
    s = f"s{sets.index(roles)}"
    amount = "amount" in roles
    groups = ["_group"] if grouped else []
    # Purchase frequency and the repeat rate by orders read the same counts: counted once.
    counted = (*key, s, days, amount)
    if counted not in ds._summaries:
        expr = aggregate.counts_of_counts(per, s, groups, days=days, amount=amount)
        ds._summaries[counted] = ds.fetch(expr)
    got = ds._summaries[counted].copy()
    if not grouped:
        got["_group"] = "Total"
    orders = got["_o"].to_numpy(dtype=np.int64)
    customers = np.where(orders > 0, got["customers"].to_numpy(dtype=np.int64), 0)
    zero = np.zeros(len(got))
    frame = pd.DataFrame(
        {
            "_group": got["_group"].to_numpy(dtype=object),
            "customers": customers,
            "orders": orders,
            "days": got["_d"].to_numpy(dtype=np.int64),
            "rows": orders * customers,
            "revenue": got["revenue"].fillna(0.0).to_numpy(dtype=np.float64) if amount else zero,
            "squares": got["squares"].fillna(0.0).to_numpy(dtype=np.float64) if amount else zero,
            "negative": got["negative"].to_numpy(dtype=np.int64) if amount else zero.astype(np.int64),
        }
    )
    frame = frame[customers > 0]
    # Order rows without a customer for this metric (a blank among its roles), per group: one row
    # with no customer each.
    dropped = (
        got.assign(dropped=got["dropped"].fillna(0).astype(np.int64))
        .groupby("_group", sort=True)["dropped"]
        .sum()
    )
    dropped = dropped[dropped > 0]
    blank = pd.DataFrame(
        {"_group": dropped.index.to_numpy(dtype=object), "customers": 0, "orders": 0, "days": 0,
         "rows": dropped.to_numpy(dtype=np.int64), "revenue": 0.0, "squares": 0.0, "negative": 0}
    )  # fmt: skip
    out = pd.concat([frame, blank], ignore_index=True) if len(blank) else frame.reset_index(drop=True)
    return out.sort_values("_group", kind="stable", ignore_index=True)


def _customer_table(
    ds: BackendDataset, sets: list[tuple[str, ...]], by, date_role, grouped: bool, days: bool
) -> Any:
    """The per-customer counts of ``sets`` (:func:`kpi_xl.data.aggregate.customer_counts`), kept
    in the backend. A text id column not yet checked is grouped by its raw ids and the check runs
    on the distinct ids grouped (a customer's few rows each make one), not on every row; only when
    some id needs stripping or is a placeholder are the rows counted again by the stripped id."""
    columns = list(dict.fromkeys([r for s in sets for r in s] + ([date_role] if date_role else [])))
    # Only a role holding a rejected value needs its rows checked (no flag is true otherwise).
    named = {f"s{n}": (s, [r for r in s if not ds.judged[r].bad_raw.empty]) for n, s in enumerate(sets)}
    j = ds.judged["customer_id"]
    unchecked = j.how == "key" and not j.checked

    def counted(raw_ids: bool) -> Any:
        if grouped:
            t = _labelled(ds, columns, by, date_role, grouped, raw_ids=raw_ids)
        else:
            # One report on the whole file: no group label to carry through the customers' hash table.
            t = ds.table(columns, raw_ids=raw_ids)
        expr = aggregate.customer_counts(t, named, ["_group"] if grouped else [], days=days, ids=raw_ids)
        return _kept(ds, expr, "kpi_xl_customers")

    per = counted(unchecked)
    if unchecked and ds.check_ids("customer_id", per, per.customer_id):
        per = counted(False)
    return per


# ----------------------------------------------------------------------------------------------
# Predictive CLV: the RFM summary in the backend, the fits on its distinct patterns in Python
# ----------------------------------------------------------------------------------------------

CLV_ROLES = ("customer_id", "date", "amount")


def clv_transactions(ds: BackendDataset) -> pd.DataFrame:
    """One row per customer and day with the day's total spend, indexed by the first file row of
    the day: the log :func:`kpi_xl.metrics.predict_clv` reads (it sums spend per period anyway).

    Rows with an invalid customer, date or amount are left out (reported already). A day with a
    blank amount gets NaN, so the engine reports it exactly as on the pandas path."""
    import ibis

    ds._check_roles(list(CLV_ROLES))
    t = ds.table(CLV_ROLES)
    t = t.filter(~t.customer_id__bad & ~t.date__bad & ~t.amount__bad)
    days = t.group_by(["customer_id", "date__day"]).aggregate(
        _row=t._row.min(),
        amount=ibis.ifelse(t.amount.count() < t.count(), ibis.null("float64"), aggregate._sum(t, t.amount)),
    )
    got = ds.fetch(aggregate.sorted_by(days, ["_row"]))
    key = ds.judged["customer_id"]
    if key.how == "key":
        codes = pd.Index(ds.ids_sorted("customer_id")).get_indexer(got["customer_id"].to_numpy(dtype=object))
        customer = np.where(codes >= 0, codes, np.nan).astype(np.float64)
    else:
        customer = got["customer_id"].to_numpy(dtype=np.float64)
    day = got["date__day"].to_numpy(dtype=np.float64)
    when = np.where(np.isnan(day), np.iinfo(np.int64).min, np.nan_to_num(day)).astype(np.int64)
    when = when.astype("datetime64[D]")
    return pd.DataFrame(
        {
            "customer_id": customer,
            "date": when.astype("datetime64[ns]"),
            "amount": got["amount"].to_numpy(dtype=np.float64),
        },
        index=pd.Index(ds.file_rows(got["_row"].to_numpy()), name="row"),
    )


@dataclass
class ClvSummary:
    """The RFM summary computed in the backend: ``per_customer`` stays there (an Ibis expression
    indexed by ``customer_id``); what crossed to Python is its distinct ``purchases`` patterns
    (frequency, recency, T) and ``spend`` pairs (frequency, monetary_value), each with the customers
    on it (``weight``) and sorted; ``purchases.attrs`` holds the engine's time unit, observation
    end, transactions and dropped rows."""

    per_customer: Any
    purchases: pd.DataFrame
    spend: pd.DataFrame


def rfm_backend(ds: BackendDataset, *, time_unit: str, observation_end: Any = None) -> ClvSummary:
    """The per-customer RFM summary of :func:`kpi_xl.metrics.rfm_summary`, computed in the backend,
    with the distinct patterns each model is fitted on fetched
    (:func:`kpi_xl.data.aggregate.rfm_patterns`).

    Rows with an unusable value were reported and are left out; so are rows with some but not all
    of customer, date and amount blank, each blank cell listed (as on the pandas path). What the
    engine would refuse in the rows left (a date after ``observation_end``; nothing at all) is found
    with a query that fetches only those rows, and the engine itself is run on them, so the message
    is its own, with the file row.
    """
    from ..metrics.clv import check_time_unit

    unit = check_time_unit(time_unit)
    ds._check_roles(list(CLV_ROLES))
    j = ds.judged["customer_id"]
    if j.how == "key" and not j.checked:
        # The id check runs on the distinct ids the RFM summary grouped, not on every row: the
        # summary counted by the raw ids is the answer unless some id needs the one id rule.
        t, usable, any_blank, all_blank, got, per = _rfm_table(ds, unit, observation_end, raw_ids=True)
        # Without a summary (no transaction, a blank end) the engine refuses below, as it would anyway.
        if per is None or ds.check_ids("customer_id", per, per.customer_id):
            t, usable, any_blank, all_blank, got, per = _rfm_table(ds, unit, observation_end)
    else:
        t, usable, any_blank, all_blank, got, per = _rfm_table(ds, unit, observation_end)
    if int(got["partial"]):
        _note_partial_rows(ds, usable.filter(any_blank & ~all_blank))
    bad = np.zeros(0, np.int64)
    n_tx = int(got["n_tx"])
    end_day = None if pd.isna(got["max_day"]) else np.datetime64(int(got["max_day"]), "D")
    if n_tx and observation_end is not None:
        end_day = _end_day(observation_end)
        # A blank end (NaT) is the engine's to refuse: any transaction row lets it say so.
        limit = -(1 << 62) if np.isnat(end_day) else int(end_day.astype(np.int64))
        tx = usable.filter(~any_blank)
        late = ds.scalar(tx.filter(tx.date__day > limit)._row.min())
        if late is not None and not pd.isna(late):
            bad = np.asarray([int(late)], dtype=np.int64)
    if bad.size or not n_tx:
        _engine_check(ds, t, bad, unit, observation_end)
    purchases, spend = (
        ds.fetch(aggregate.rfm_patterns(per, keys)).astype(
            {**dict.fromkeys(keys, np.float64), "weight": np.int64}
        )
        for keys in (aggregate.PURCHASE_KEYS, aggregate.SPEND_KEYS)
    )
    purchases.attrs.update(
        time_unit=unit,
        observation_end=pd.Timestamp(end_day),
        n_transactions=n_tx,
        n_dropped=int(got["dropped"]),
    )
    spend.attrs["time_unit"] = unit
    return ClvSummary(per, purchases, spend)


def _rfm_table(
    ds: BackendDataset, unit: str, observation_end: Any, *, raw_ids: bool = False
) -> tuple[Any, Any, Any, Any, pd.Series, Any]:
    """The judged table of the CLV roles, its usable rows, their blank conditions (any, all), the
    statistics of one pass over them (partial rows, last day, transactions, dropped rows) and the
    per-customer RFM summary, kept in the backend (see :func:`rfm_backend`)."""
    import ibis

    from ..metrics.clv.summary import period_index, period_length

    # The statistics read no period: their table has no join with the periods of the distinct days.
    t = ds.table(CLV_ROLES, raw_ids=raw_ids)
    usable = t.filter(~t.customer_id__bad & ~t.date__bad & ~t.amount__bad)
    nulls = [usable[r].isnull() for r in CLV_ROLES]
    all_blank, any_blank = ibis.and_(*nulls), ibis.or_(*nulls)
    stats = usable.aggregate(
        partial=usable.count(where=any_blank & ~all_blank),
        max_day=usable.date__day.max(where=~any_blank),
        n_tx=usable.count(where=~any_blank),
        dropped=usable.count(where=all_blank),
    )
    got = ds.fetch(stats).iloc[0]
    end_day = None if pd.isna(got["max_day"]) else np.datetime64(int(got["max_day"]), "D")
    if observation_end is not None:
        end_day = _end_day(observation_end)
    # No transactions, or a blank end: the engine refuses (rfm_backend); there is no summary to make.
    per = None
    if int(got["n_tx"]) and end_day is not None and not np.isnat(end_day):
        end_period = int(period_index(np.array([end_day]).astype("datetime64[ns]"), unit)[0])
        periods = aggregate.customer_periods(ds.table(CLV_ROLES, unit=unit, raw_ids=raw_ids))
        per = aggregate.rfm_per_customer(periods, end_period, period_length(unit))
        # Computed once and kept: the patterns are counted from it and predictions joined back to
        # it on exact values, so a sum must not be recomputed in another order (Spark's is not fixed).
        per = _kept(ds, per, "kpi_xl_rfm")
    return t, usable, any_blank, all_blank, got, per


def _note_partial_rows(ds: BackendDataset, partial: Any) -> None:
    """List the blank cells of order rows with some but not all of customer, date and amount blank
    (they are left out of CLV; see :data:`kpi_xl.data._open.PARTIAL_ROW`)."""
    from ._open import PARTIAL_ROW

    for role in CLV_ROLES:
        cells = partial.filter(partial[role].isnull())
        rows, values, counts = _listed(ds, cells, f"{role}__raw")
        ds.problems.add_blanks(ds.name, ds.columns[role], rows, values, PARTIAL_ROW, counts=counts)


def _listed(ds: BackendDataset, cells: Any, raw: str) -> tuple[np.ndarray, np.ndarray, dict[Any, int]]:
    """The first ``problems.limit`` rows of ``cells`` (file rows, raw values) and every raw value's count."""
    listed = aggregate.sorted_by(cells.select("_row", v=cells[raw]), ["_row"])
    if ds.problems.limit is not None:
        listed = listed.limit(int(ds.problems.limit))
    got = ds.fetch(listed)
    counted = ds.fetch(cells.group_by(v=cells[raw]).aggregate(n=cells.count()))
    counts: dict[Any, int] = {}
    for value, n in zip(counted["v"].astype(object), counted["n"], strict=True):
        key = None if pd.isna(value) else value
        counts[key] = counts.get(key, 0) + int(n)
    values = got["v"].astype(object).where(got["v"].notna(), None).to_numpy(dtype=object)
    return ds.file_rows(got["_row"].to_numpy()), values, counts


def _kept(ds: BackendDataset, expr: Any, name: str) -> Any:
    """``expr`` materialised in the backend as a temporary table (a cached DataFrame where the
    backend has no temporary tables)."""
    ds._kept += 1
    try:
        with _quiet():
            return ds.con.create_table(f"{name}_{ds._kept}", expr, temp=True)
    except Exception:  # a backend without temporary tables (or without the right to create them)
        # Ibis registers the small lookup tables (memtables) an expression reads when it runs
        # one, not when it caches one (Ibis 12, PySpark): register them first.
        register = getattr(ds.con, "_register_in_memory_tables", None)
        if register is not None:
            register(expr)
        return expr.cache()


def _end_day(observation_end: Any) -> np.datetime64:
    """The observation end as the engine reads it (its own date parsing; NaT for a blank)."""
    from ..metrics.rules import clean_dates

    end, _ = clean_dates([observation_end], argument="observation_end")
    return end.astype("datetime64[D]")[0]


def _engine_check(ds: BackendDataset, t: Any, rows: np.ndarray, unit: str, observation_end: Any) -> None:
    """Run :func:`rfm_summary` on the few rows it would refuse (all of them, with nothing else when
    there are no transactions) and raise its error at the file row."""
    from ..metrics.clv import rfm_summary
    from ._catalog import at_file_row

    picked = t.filter(t._row.isin([int(r) for r in rows]))
    picked = picked.select("_row", **{r: ds.pick(picked, r) for r in CLV_ROLES})
    got = ds.fetch(aggregate.sorted_by(picked, ["_row"]))
    values = [ds.decode(r, got[r]) for r in CLV_ROLES]
    try:
        rfm_summary(*values, time_unit=unit, observation_end=observation_end)
    except KpiInputError as exc:
        index = pd.Index(ds.file_rows(got["_row"].to_numpy(dtype=np.int64)))
        roles = {"customer_ids": "customer_id", "dates": "date", "amounts": "amount"}
        raise at_file_row(exc, index, ds, roles, "clv") from exc


#: Per-customer output columns of predictive CLV, in the engine's order.
PREDICTION_COLUMNS = (
    "frequency", "recency", "T", "monetary_value", "expected_purchases", "probability_alive",
    "expected_average_value", "clv",
)  # fmt: skip


def predict_clv_backend(
    ds: BackendDataset, *, time_unit: str, observation_end: Any = None, **settings: Any
) -> tuple[Any, Any]:
    """Predictive CLV with the fits on distinct patterns: :func:`rfm_backend`, then the engine's
    :func:`kpi_xl.metrics.predict_clv_from_patterns` (the purchase model on (frequency, recency, T)
    patterns, Gamma-Gamma on (frequency, monetary value) pairs, weighted by their customers), whose
    predictions per pattern are joined back to every customer in the backend.

    Returns ``(prediction, per_customer)``: a :class:`BackendClvPrediction` (its ``customers`` are
    the purchase patterns; its totals and schedule are summed over the customers in the backend)
    and the per-customer predictions as an Ibis expression (``None`` with ``interval``: the
    prediction is then per customer, fetched)."""
    from ..metrics.clv import predict_clv_from_patterns, predict_clv_from_summary
    from ._backend_clv import BackendClvPrediction

    summary = rfm_backend(ds, time_unit=time_unit, observation_end=observation_end)
    if settings.get("interval") is not None:
        # Intervals draw per customer (their total sums over customers): the per-customer summary
        # comes to Python, bounded by customers.
        per = customer_predictions(ds, summary.per_customer)
        per.attrs = dict(summary.purchases.attrs)
        try:
            pred = predict_clv_from_summary(per, time_unit=time_unit, **settings)
        except KpiInputError as exc:
            raise KpiInputError(f"{ds.name}: clv: {exc}", argument=exc.argument, kind=exc.kind) from exc
        return pred, None
    settings.pop("interval", None)
    try:
        fit = predict_clv_from_patterns(summary.purchases, summary.spend, time_unit=time_unit, **settings)
    except KpiInputError as exc:
        raise KpiInputError(f"{ds.name}: clv: {exc}", argument=exc.argument, kind=exc.kind) from exc
    per_customer = _joined_back(summary.per_customer, fit)
    pred = BackendClvPrediction(
        customers=fit.purchases,
        purchase_model=fit.purchase_model,
        spend_model=fit.spend_model,
        settings=fit.settings,
        warnings=fit.warnings,
        patterns=fit,
        per_customer=per_customer,
        dataset=ds,
    )
    return pred, aggregate.sorted_by(per_customer, ["customer_id"])


def _joined_back(per: Any, fit: Any) -> Any:
    """Each customer's predictions from its purchase pattern and spend pair (exact float keys: the
    patterns were read from this very table), ``clv = expected_average_value * margin *
    discounted_purchases`` as :class:`kpi_xl.metrics.clv.ClvPatterns` defines it."""
    import ibis

    def upload(frame: pd.DataFrame, keys: Sequence[str], values: Sequence[str], tag: str) -> Any:
        table = frame[[*keys, *values]].rename(columns={k: f"{k}_{tag}" for k in keys})
        table.attrs = {}
        return ibis.memtable(table)

    pk, sk = aggregate.PURCHASE_KEYS, aggregate.SPEND_KEYS
    purchases = upload(
        fit.purchases, pk, ("expected_purchases", "probability_alive", "discounted_purchases"), "p"
    )
    spend = upload(fit.spend, sk, ("expected_average_value",), "s")
    joined = per.inner_join(purchases, [per[k] == purchases[f"{k}_p"] for k in pk])
    joined = joined.inner_join(spend, [joined[k] == spend[f"{k}_s"] for k in sk])
    margin = ibis.literal(float(fit.settings.margin), "float64")
    clv = (joined.expected_average_value * margin) * joined.discounted_purchases
    return joined.select("customer_id", *PREDICTION_COLUMNS[:-1], clv=clv)


def customer_predictions(ds: BackendDataset, per_customer: Any) -> pd.DataFrame:
    """Fetch per-customer predictions (for a file output), indexed by customer id as text."""
    frame = ds.fetch(per_customer)
    ids = frame.pop("customer_id")
    if ds.judged["customer_id"].how != "key":
        ids = pd.Series(ds.ids("customer_id", ids.to_numpy(dtype=np.float64)), dtype=object)
    frame.index = pd.Index(ids.to_numpy(dtype=object), name="customer_id")
    # Sorted by id text, as kpi_xl.data.with_customer_ids sorts on the pandas path.
    return frame.sort_index(kind="stable")


def write_table(ds: BackendDataset, name: str, expr: Any) -> None:
    """Create (or replace) table ``name`` in the backend from ``expr``: results stay where the data is."""
    try:
        with _quiet():
            ds.con.create_table(name, expr, overwrite=True)
    except Exception as exc:  # each backend raises its own error types
        raise KpiInputError(f"cannot write table {name!r}: {exc}", argument="output", value=name) from exc


# ----------------------------------------------------------------------------------------------
# A table in any Ibis backend
# ----------------------------------------------------------------------------------------------


def open_table(
    connection: Any,
    table: str,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    extra: Sequence[str] = (),
    problems: Problems | None = None,
) -> BackendDataset:
    """A table where it lives, read as a file is: its columns mapped to roles (headers recognised
    or ``options.mapping``), its values judged on their distinct values, and every aggregation run
    in its backend. ``connection`` is an Ibis connection URL (``duckdb:///shop.ddb``,
    ``snowflake://...``, ``bigquery://project/dataset``, ``pyspark://``: see the README) or an
    Ibis backend; ``table`` its name (``schema.table`` where the backend has schemas).

    Row numbers in problem messages count the table's rows in the backend's order (a table has no
    row order of its own).
    """
    import ibis

    options = options or ReadOptions()
    problems = problems if problems is not None else Problems()
    con = connection
    if isinstance(connection, str):
        try:
            con = ibis.connect(connection)
        except Exception as exc:  # any backend's driver error (missing package, bad URL, refused)
            raise KpiInputError(f"cannot connect to {connection!r}: {exc}", argument="connect") from exc
    if con.name == "duckdb":
        from ._duck import _setup_duckdb

        _setup_duckdb(con)
    *database, name = table.split(".")
    try:
        tbl = con.table(name, database=".".join(database) or None)
    except Exception as exc:  # each backend has its own "no such table"
        raise KpiInputError(
            f"no table {table!r} in {con.name}: {exc}", argument="table", value=table
        ) from exc
    headers = list(tbl.columns)
    cmap = map_columns(headers, mapping=options.mapping, roles=roles, source=table)
    wanted = list(dict.fromkeys([*cmap.columns.values(), *(find_header(headers, h, table) for h in extra)]))
    src = plain_types(
        tbl.select(_row=ibis.row_number() + 1, **{f"c{i}": tbl[h] for i, h in enumerate(wanted)})
    )
    ds = BackendDataset(table, cmap, problems, con=con, src=src)
    index_of = {h: i for i, h in enumerate(wanted)}
    for role, header in cmap.columns.items():
        ds.column_index[role] = index_of[header]
    for h in extra:
        ds.column_index[h] = index_of[find_header(headers, h, table)]
    ds.rows = int(ds.scalar(tbl.count()))
    judge(ds, options, extra=extra)
    ds.source = f"table {table}: {ds.rows:,} rows, aggregated in {con.name}"
    return ds
