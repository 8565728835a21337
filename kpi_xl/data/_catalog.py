"""Which metric reads which columns, and running it through the engine on a :class:`Dataset`.

The metrics themselves, their inputs and summary entry points are the engine's catalog
(:mod:`kpi_xl.metrics.catalog`); here the command line's flags become engine options. Nothing here computes
a metric: values, intervals and counts all come from the engine; this module only picks the
rows and columns, passes options, and turns an engine error's position back into a file row.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..metrics import SMALL_SAMPLE_N, KpiInputError, MetricResult, catalog, segments
from ._dataset import Dataset

__all__ = [
    "METRIC_ROLES",
    "at_file_row",
    "RunOptions",
    "metric_catalog",
    "specs_for",
    "run_metric",
    "run_segments",
    "ResultRow",
]


@dataclass(frozen=True)
class RunOptions:
    """Options the user can set for the metrics (CLI flags)."""

    sla_hours: float | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    margin: float = 1.0
    purchases: str = "orders"
    statistic: str = "median"
    confidence: float = 0.95
    min_n: int = SMALL_SAMPLE_N
    csat_scale: tuple[int, int] = (1, 5)
    ces_scale: tuple[int, int] = (1, 7)


#: The CLI's value for each engine keyword option of that name (a metric takes those it has).
_OPTION_FIELDS = {
    "confidence": "confidence",
    "min_n": "min_n",
    "margin": "margin",
    "count": "purchases",
    "statistic": "statistic",
    "target_hours": "sla_hours",
}

#: The command-line flag that gives an engine option with no default.
_FLAGS = {"target_hours": "sla-hours", "period_start": "from", "period_end": "to"}


def _records_period(o: RunOptions, d: Dataset) -> dict[str, Any]:
    end = o.period_to
    if end is None:
        dates = pd.concat([d.values("signup_date"), d.values("churn_date")]).dropna()
        if dates.empty:
            raise KpiInputError(f"{d.name}: no dates to choose a churn period from; give --from and --to")
        end = pd.Timestamp(dates.max()).date()
    start = o.period_from
    if start is None:
        # The twelve months ending on `end`, both days included.
        start = (pd.Timestamp(end) - pd.DateOffset(years=1) + pd.Timedelta(days=1)).date()
    return {"period_start": start, "period_end": end}


def _missing_option(spec: catalog.Metric, options: RunOptions) -> str | None:
    """The flag a metric needs and was not given (the churn period has a default from the data)."""
    for need in spec.needs:
        field_name = _OPTION_FIELDS.get(need)
        if field_name is not None and getattr(options, field_name) is None:
            return _FLAGS.get(need, need)
    return None


def _agrees(spec: catalog.Metric, options: RunOptions) -> bool:
    """Whether a catalog variant is the one the run options ask for (``--purchases days`` takes the
    repeat purchase rate that reads dates)."""
    return all(
        getattr(options, _OPTION_FIELDS[k]) == v for k, v in spec.options.items() if k in _OPTION_FIELDS
    )


#: Every role some metric reads: the only columns worth parsing (an order id column is not).
METRIC_ROLES: tuple[str, ...] = catalog.roles_read()


def metric_catalog() -> list[tuple[str, str, str]]:
    """(name, columns read, description) for ``kpi-xl metric --help`` and error messages."""
    seen: dict[str, tuple[str, str, str]] = {}
    for s in catalog.CATALOG:
        cols = ", ".join(s.roles)
        if s.name in seen:
            seen[s.name] = (s.name, f"{seen[s.name][1]} | {cols}", seen[s.name][2])
        else:
            seen[s.name] = (s.name, cols, s.description)
    return list(seen.values())


def specs_for(
    dataset: Dataset, options: RunOptions, name: str | None = None
) -> tuple[list[catalog.Metric], list[str]]:
    """Metrics computable from ``dataset`` (all of them for a report, or the one named), and notes on
    those left out for a missing option."""
    present = set(dataset.roles)
    notes: list[str] = []
    if name is not None:
        candidates = catalog.variants(name)
        key = candidates[0].name
        usable = [s for s in candidates if set(s.roles) <= present and _agrees(s, options)]
        if not usable:
            need = " or ".join("(" + ", ".join(s.roles) + ")" for s in candidates)
            raise KpiInputError(
                f"{dataset.name}: {key} needs columns for {need}; found columns for "
                f"{', '.join(sorted(present)) or 'nothing recognisable'}. Map them with --map ROLE=HEADER",
                argument="mapping",
            )
        spec = usable[0]
        flag = _missing_option(spec, options)
        if flag:
            raise KpiInputError(f"{key} needs --{flag}", argument=flag.replace("-", "_"))
        _plan_customers(dataset, [spec])
        return [spec], notes
    scored = present & {"nps_score", "csat_score", "ces_score"}
    out: list[catalog.Metric] = []
    names_done: set[str] = set()
    respondents: list[str] = []
    for s in catalog.CATALOG:
        if not set(s.roles) <= present or s.name in names_done or not _agrees(s, options):
            continue
        # A survey file's customer ids and dates describe respondents, not orders; a customer list
        # (ids with signup dates) is not an order log either: order metrics need an order date or
        # an amount beside the ids.
        if scored and s.family != "survey":
            # Said only where the file has an order date or amount (a list of respondents' ids is
            # no order log, nothing to say).
            if present & {"date", "amount"} and s.name not in respondents:
                respondents.append(s.name)
            continue
        if s.family == "orders" and not present & {"date", "amount"}:
            continue
        flag = _missing_option(s, options)
        if flag:
            notes.append(f"{dataset.name}: {s.name} not computed; it needs --{flag}")
            continue
        out.append(s)
        names_done.add(s.name)
    if respondents:
        # Said, not silently dropped: the columns were found (or mapped) for these metrics.
        notes.append(
            f"{dataset.name}: {', '.join(respondents)} not computed: the file holds survey answers, so its "
            f"customer ids, dates and amounts are taken as the respondents'; put the orders in a file of "
            f"their own, or compute one with kpi-xl metric NAME"
        )
    _plan_customers(dataset, out)
    return out, notes


def _plan_customers(dataset: Dataset, specs: list[catalog.Metric]) -> None:
    """Tell a backend dataset which per-customer role sets the metrics to run read (and whether
    one counts purchase days), so that its one per-customer query computes exactly those."""
    from .backend import BackendDataset

    if isinstance(dataset, BackendDataset):
        read = [s for s in specs if s.summary == "customers"]
        sets = tuple(dict.fromkeys(s.roles for s in read))
        dataset.customer_plan = (sets, any(s.options.get("count") == "days" for s in read))


@dataclass
class ResultRow:
    """One line of output: a metric (optionally for one group) from one file."""

    file: str
    metric: str
    result: MetricResult | None
    group: str | None = None
    skipped: int = 0
    columns: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        if self.group is not None:
            out["group"] = self.group
        if self.result is None:
            out.update(metric=self.metric, value=None, unit=None, n=0, n_dropped=self.skipped)
        else:
            out.update(self.result.as_dict())
            # The name the user types (``aov``); the engine's own name stays beside it.
            out["engine_metric"] = out["metric"]
            out["metric"] = self.metric
            # Rows the data layer skipped as invalid are dropped observations too.
            out["n_dropped"] = self.result.n_dropped + self.skipped
        out["n_skipped_invalid"] = self.skipped
        out["columns"] = dict(self.columns)
        out["options"] = {k: _jsonable(v) for k, v in self.options.items()}
        out["note"] = self.note
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dt.date, pd.Timestamp)):
        return str(pd.Timestamp(v).date())
    if isinstance(v, tuple):
        return list(v)
    return v


def _parameters(spec: catalog.Metric) -> list[str]:
    return list(inspect.signature(spec.function).parameters)


def _engine_options(spec: catalog.Metric, options: RunOptions, dataset: Dataset) -> dict[str, Any]:
    """The metric's fixed options and every run option it has a parameter for."""
    params = _parameters(spec)
    opts = dict(spec.options)
    for name, field_name in _OPTION_FIELDS.items():
        if name in params and getattr(options, field_name) is not None:
            opts[name] = getattr(options, field_name)
    if "scale" in params and spec.roles[0] in ("csat_score", "ces_score"):
        opts["scale"] = options.csat_scale if spec.roles[0] == "csat_score" else options.ces_scale
    if "period_start" in spec.needs:
        opts.update(_records_period(options, dataset))
    return opts


def _summarised(dataset: Dataset, spec: catalog.Metric) -> bool:
    from .backend import BackendDataset

    return isinstance(dataset, BackendDataset) and spec.from_summary is not None


def at_file_row(
    exc: KpiInputError, index: pd.Index, dataset: Dataset, argument_roles: Mapping[str, str], what: str
) -> KpiInputError:
    """The engine names a position inside the arrays it was given; name the file row (and column)
    instead, from the error's fields. ``index`` holds the file row of each position;
    ``argument_roles`` maps the engine's argument names to roles."""
    hint = _file_hint(exc)
    if exc.position is None or not 0 < exc.position <= len(index):
        text = exc.message(hint=hint, show_hint=hint is not None)
        return KpiInputError(
            f"{dataset.name}: {what}: {text}", argument=exc.argument, value=exc.value, kind=exc.kind
        )
    row = int(index[exc.position - 1])
    role = argument_roles.get(exc.argument or "")
    header = dataset.columns.get(role) if role else None
    where = f"{dataset.name}, row {row}" + (f", column {header!r}" if header else "")
    text = exc.message(where="", hint=hint, show_hint=hint is not None)
    return KpiInputError(
        f"{where}: {text}", argument=exc.argument, position=row, value=exc.value, kind=exc.kind
    )


def _file_hint(exc: KpiInputError) -> str | None:
    """The engine's hint as the command line says it: the number convention is ``--decimal``; a
    value the engine would skip with ``on_invalid='drop'`` has no option here (invalid cells are
    already skipped and listed), so that hint is left out."""
    if exc.hint is not None and exc.hint.argument == "locale":
        return "give the decimal mark: --decimal , (1.234,56) or --decimal . (1,234.56)"
    return None


def run_metric(dataset: Dataset, spec: catalog.Metric, options: RunOptions) -> ResultRow:
    """Compute one metric on the whole file. A metric with no usable data (kind ``empty`` or
    ``zero-base``) gives a row with the reason; an invalid value raises, naming the file row."""
    opts = _engine_options(spec, options, dataset)
    cols = {r: dataset.columns[r] for r in spec.roles}
    skipped = dataset.skipped(spec.roles)
    try:
        if _summarised(dataset, spec):
            from .backend import summary_frames

            # Distinct order days are counted only for a metric that reads them (the costliest part).
            days = opts.get("count") == "days"
            _, total = summary_frames(dataset, spec.summary, spec.roles, days=days)
            # Blanks listed after the summary: a text id column is checked on the ids it grouped.
            dataset.note_blanks(spec.blank_dropped)
            # The summary holds no row-level data: an engine error has no position to map.
            frame = pd.DataFrame()
            result = spec.from_summary(*(total[c] for c in catalog.SUMMARY_COLUMNS[spec.summary]), **opts)
        else:
            dataset.note_blanks(spec.blank_dropped)
            frame = dataset.rows_for(spec.roles)
            result = spec.function(*(frame[r].to_numpy() for r in spec.roles), **opts)
    except KpiInputError as exc:
        if exc.kind in ("empty", "zero-base"):
            return ResultRow(
                dataset.name,
                spec.name,
                None,
                skipped=skipped,
                columns=cols,
                note=f"not computed: {exc}",
                options=opts,
            )
        roles = dict(zip(_parameters(spec), spec.roles, strict=False))
        raise at_file_row(exc, frame.index, dataset, roles, spec.name) from exc
    return ResultRow(dataset.name, spec.name, result, skipped=skipped, columns=cols, options=opts)


def run_segments(
    dataset: Dataset, spec: catalog.Metric, options: RunOptions, *, by: str | None, period: str | None
) -> tuple[pd.DataFrame, int]:
    """The engine's segment table for one metric, by a column and/or by month, and the number of
    rows left out because a value they need is unusable.

    Rows left out for an unusable value stay in their group's ``n_dropped``; a row whose date
    cannot be read is in the ``(no date)`` group. So the groups add up to the Total, and the Total
    is the number :func:`run_metric` gives on the whole file (same value, n and n_dropped)."""
    date_role = None
    if period is not None:
        date_role = spec.period_role
        if date_role is None or date_role not in dataset.roles:
            raise KpiInputError(
                f"{dataset.name}: --period month needs a date column for {spec.name}"
                + (f" ({date_role})" if date_role else " (this metric has no date to group by)"),
                argument="period",
            )
    opts = _engine_options(spec, options, dataset)
    min_n = opts.pop("min_n", options.min_n)
    carried = [c for c in (date_role, by) if c and c not in spec.roles]
    try:
        if _summarised(dataset, spec):
            table = _summary_table(dataset, spec, by, date_role, min_n, opts)
            dataset.note_blanks(spec.blank_dropped)
        else:
            dataset.note_blanks(spec.blank_dropped)
            frame = dataset.rows_for(spec.roles, carried, marked=True)
            table = segments.segment_table(
                frame,
                spec.function,
                columns=list(spec.roles),
                by=by,
                period=period,
                date=date_role,
                min_n=min_n,
                rejected="_rejected",
                **opts,
            )
    except KpiInputError as exc:
        raise KpiInputError(
            f"{dataset.name}: {spec.name}: {exc}", argument=exc.argument, value=exc.value, kind=exc.kind
        ) from exc
    table["metric"] = spec.name
    return table, dataset.skipped(spec.roles)


def _summary_table(
    dataset: Dataset, spec: catalog.Metric, by: str | None, date_role: str | None, min_n: int, opts: dict
) -> pd.DataFrame:
    """The segment table from DuckDB's summaries: the engine's own :func:`segment_table` runs the
    engine entry point once per group of summary rows (groups already labelled as it labels them),
    and once on the summary of all rows for the Total. Rows left out for an unusable value are
    counted in their group's ``n_dropped``, as on the pandas path."""
    from .backend import rejected_counts, summary_frames

    kind = spec.summary
    days = opts.get("count") == "days"
    groups, total = summary_frames(dataset, kind, spec.roles, by=by, date_role=date_role, days=days)
    cols = list(catalog.SUMMARY_COLUMNS[kind])
    rejected = rejected_counts(dataset, spec.roles, by=by, date_role=date_role)
    parts = []
    for part in (groups, total):
        table = segments.segment_table(
            part, spec.from_summary, columns=cols, by="_group", min_n=min_n, total=False, **opts
        )
        if len(spec.roles) == 1:
            # As segment_table counts on rows: a one-column metric with no result for a group
            # dropped every row of it (all blank), so the groups' counts add up to the total's.
            rows = part.groupby("_group")[list(catalog.SUMMARY_ROWS[kind])].sum().sum(axis=1)
            empty = (table["n"] == 0).to_numpy()
            table.loc[empty, "n_dropped"] = rows.reindex(table.loc[empty, "group"]).to_numpy()
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    if rejected:
        extra = out["group"].map(rejected).fillna(0).astype(int)
        out["n_dropped"] = out["n_dropped"] + extra
        missing = sorted(set(rejected) - set(out["group"]))
        if missing:
            # A group whose every row was rejected has no summary row: it still gets its line.
            lines = [_empty_group(g, spec.name, rejected[g]) for g in missing]
            out = pd.concat([out.iloc[:-1], pd.DataFrame(lines), out.iloc[-1:]], ignore_index=True)
            out = pd.concat(
                [out.iloc[:-1].sort_values("group", kind="stable"), out.iloc[-1:]], ignore_index=True
            )
    return out


def _empty_group(group: str, metric: str, dropped: int) -> dict[str, Any]:
    """A segment-table row for a group with no usable value (as the engine's table shows one)."""
    row: dict[str, Any] = dict.fromkeys(segments.TABLE_COLUMNS, float("nan"))
    row.update(group=group, metric=metric, unit="", n=0, n_dropped=dropped, small_sample=True)
    row["warning"] = "no result: no usable values"
    return row
