"""Which metric reads which columns, and running it through the engine on a :class:`Dataset`.

Each :class:`MetricSpec` names an engine function (from :data:`kpi_xl.metrics.segments.METRICS`
where the metric is registered there) and the roles it takes positionally. Nothing here computes
a metric: values, intervals and counts all come from the engine; this module only picks the
rows and columns, passes options, and turns an engine error's position back into a file row.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..metrics import KpiInputError, MetricResult, retention, segments, survey, value
from ..metrics._result import SMALL_SAMPLE_N
from ._dataset import Dataset

__all__ = [
    "METRIC_ROLES",
    "at_file_row",
    "MetricSpec",
    "RunOptions",
    "SPECS",
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


@dataclass(frozen=True)
class MetricSpec:
    """One metric as the command line offers it.

    ``roles`` are the engine function's positional data arguments, in order; ``period_role`` the
    date that ``--period month`` groups by; ``family`` the kind of file it belongs to.
    """

    name: str
    roles: tuple[str, ...]
    family: str
    description: str
    options: Callable[[RunOptions, Dataset], dict[str, Any]] = lambda o, d: {}
    period_role: str | None = None
    needs: str = ""
    function: Callable[..., MetricResult] | None = None

    @property
    def engine(self) -> Callable[..., MetricResult]:
        return self.function or segments.METRICS[self.name]


def _scale(role: str) -> Callable[[RunOptions, Dataset], dict[str, Any]]:
    return lambda o, d: {"scale": o.csat_scale if role == "csat_score" else o.ces_scale}


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


def _sla(o: RunOptions, d: Dataset) -> dict[str, Any]:
    return {"target_hours": o.sla_hours}


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("nps", ("nps_score",), "survey", "Net Promoter Score (0-10 answers)", period_role="date"),
    MetricSpec("csat", ("csat_score",), "survey", "CSAT, top-2-box share", _scale("csat_score"), "date"),
    MetricSpec(
        "satisfaction_mean",
        ("csat_score",),
        "survey",
        "mean satisfaction score",
        _scale("csat_score"),
        "date",
    ),
    MetricSpec(
        "ces", ("ces_score",), "survey", "Customer Effort Score (mean, % agree)", _scale("ces_score"), "date"
    ),
    MetricSpec("aov", ("amount",), "orders", "average order value", period_role="date"),
    MetricSpec("purchase_frequency", ("customer_id",), "orders", "orders per customer", period_role="date"),
    MetricSpec(
        "repeat_purchase_rate",
        ("customer_id", "date"),
        "orders",
        "share of customers buying again",
        lambda o, d: {"count": o.purchases},
        "date",
    ),
    MetricSpec(
        "historical_clv",
        ("customer_id", "amount"),
        "orders",
        "historical CLV (revenue x margin per customer)",
        lambda o, d: {"margin": o.margin},
        "date",
        function=value.historical_clv,
    ),
    MetricSpec("refund_rate", ("refunded",), "orders", "refunded orders / orders", period_role="date"),
    MetricSpec(
        "return_rate",
        ("units_returned", "units_sold"),
        "orders",
        "units returned / units sold",
        period_role="date",
    ),
    MetricSpec(
        "advocacy_revenue_share",
        ("amount", "referred"),
        "orders",
        "revenue from referred customers",
        period_role="date",
    ),
    MetricSpec(
        "referral_conversion", ("converted",), "referrals", "referred leads who purchased", period_role="date"
    ),
    MetricSpec(
        "first_response_time",
        ("created", "first_response"),
        "tickets",
        "hours to first reply",
        lambda o, d: {"statistic": o.statistic},
        "created",
    ),
    MetricSpec(
        "resolution_time",
        ("created", "resolved"),
        "tickets",
        "hours to resolution",
        lambda o, d: {"statistic": o.statistic},
        "created",
    ),
    MetricSpec(
        "sla_rate",
        ("created", "first_response"),
        "tickets",
        "share answered within the SLA target",
        _sla,
        "created",
        needs="sla_hours",
    ),
    MetricSpec(
        "complaint_volume", ("is_complaint",), "tickets", "number of complaints", period_role="created"
    ),
    MetricSpec(
        "engagement_rate",
        ("engagements", "followers"),
        "engagement",
        "engagements / followers",
        lambda o, d: {"basis": "followers"},
        "date",
    ),
    MetricSpec(
        "engagement_rate",
        ("engagements", "reach"),
        "engagement",
        "engagements / reach",
        lambda o, d: {"basis": "reach"},
        "date",
    ),
    MetricSpec(
        "churn", ("signup_date", "churn_date"), "customers", "churn rate over the period", _records_period
    ),
    MetricSpec(
        "retention",
        ("signup_date", "churn_date"),
        "customers",
        "retention rate over the period",
        _records_period,
    ),
)

#: Run options passed to every engine function that has a parameter of that name.
_COMMON = ("confidence", "min_n")


#: Every role some metric reads: the only columns worth parsing (an order id column is not).
METRIC_ROLES: tuple[str, ...] = tuple(dict.fromkeys(r for spec in SPECS for r in spec.roles))


def metric_catalog() -> list[tuple[str, str, str]]:
    """(name, columns read, description) for ``kpi-xl metric --help`` and error messages."""
    seen: dict[str, tuple[str, str, str]] = {}
    for s in SPECS:
        cols = ", ".join(s.roles)
        if s.name in seen:
            seen[s.name] = (s.name, f"{seen[s.name][1]} | {cols}", seen[s.name][2])
        else:
            seen[s.name] = (s.name, cols, s.description)
    return list(seen.values())


def specs_for(
    dataset: Dataset, options: RunOptions, name: str | None = None
) -> tuple[list[MetricSpec], list[str]]:
    """Specs computable from ``dataset`` (all of them for a report, or the one named), and notes on
    those left out for a missing option."""
    present = set(dataset.roles)
    notes: list[str] = []
    if name is not None:
        key = name.strip().lower()
        candidates = [s for s in SPECS if s.name == key]
        if not candidates:
            names = ", ".join(n for n, _, _ in metric_catalog())
            raise KpiInputError(
                f"unknown metric {name!r}; choose one of: {names}", argument="metric", value=name
            )
        usable = [s for s in candidates if set(s.roles) <= present]
        if not usable:
            need = " or ".join("(" + ", ".join(s.roles) + ")" for s in candidates)
            raise KpiInputError(
                f"{dataset.name}: {key} needs columns for {need}; found columns for "
                f"{', '.join(sorted(present)) or 'nothing recognisable'}. Map them with --map ROLE=HEADER",
                argument="mapping",
            )
        spec = usable[0]
        if spec.needs and getattr(options, spec.needs) is None:
            raise KpiInputError(f"{key} needs --{spec.needs.replace('_', '-')}", argument=spec.needs)
        return [spec], notes
    scored = present & {"nps_score", "csat_score", "ces_score"}
    out: list[MetricSpec] = []
    names_done: set[str] = set()
    for s in SPECS:
        if not set(s.roles) <= present or s.name in names_done:
            continue
        # A survey file's customer ids and dates describe respondents, not orders; a customer list
        # (ids with signup dates) is not an order log either: order metrics need an order date or
        # an amount beside the ids.
        if scored and s.family != "survey":
            continue
        if s.family == "orders" and not present & {"date", "amount"}:
            continue
        if s.needs and getattr(options, s.needs) is None:
            notes.append(f"{dataset.name}: {s.name} not computed; it needs --{s.needs.replace('_', '-')}")
            continue
        out.append(s)
        names_done.add(s.name)
    return out, notes


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


def _parameters(spec: MetricSpec) -> list[str]:
    return list(inspect.signature(spec.engine).parameters)


def _engine_options(spec: MetricSpec, options: RunOptions, dataset: Dataset) -> dict[str, Any]:
    opts = dict(spec.options(options, dataset))
    params = _parameters(spec)
    for name in _COMMON:
        if name in params:
            opts[name] = getattr(options, name)
    return opts


def _from_scores(fn: Callable[..., MetricResult]) -> Callable[..., MetricResult]:
    """An engine ``*_from_counts`` over summary rows (score, responses); a NULL score is a blank."""

    def run(score: pd.Series, n: pd.Series, **opts: Any) -> MetricResult:
        blank = score.isna().to_numpy()
        counts = pd.Series(n.to_numpy()[~blank], index=score.to_numpy()[~blank])
        return fn(counts, n_dropped=int(n.to_numpy()[blank].sum()), **opts)

    return run


def _from_moments(n: pd.Series, total: pd.Series, squares: pd.Series, blank: pd.Series, **opts: Any):
    return value.average_order_value_from_moments(
        int(n.sum()), float(total.sum()), float(squares.sum()), n_dropped=int(blank.sum()), **opts
    )


def _from_customers(kind: str) -> Callable[..., MetricResult]:
    """An engine function over per-customer summary rows; the row with no customer counts the
    order rows skipped for a blank."""

    def run(
        customer: pd.Series, orders: pd.Series, days: pd.Series, revenue: pd.Series, **opts: Any
    ) -> MetricResult:
        blank = customer.isna().to_numpy()
        dropped = int(orders.to_numpy()[blank].sum())
        n = orders.to_numpy()[~blank]
        if kind == "purchase_frequency":
            return retention.purchase_frequency_from_counts(n, n_dropped=dropped)
        if kind == "historical_clv":
            return value.historical_clv_from_revenue(
                revenue.to_numpy()[~blank], orders=int(n.sum()), n_dropped=dropped, **opts
            )
        purchases = days.to_numpy()[~blank] if opts.get("count") == "days" else n
        return retention.repeat_purchase_rate_from_counts(purchases, int(n.sum()), n_dropped=dropped, **opts)

    return run


#: Metrics the DuckDB path computes from a summary: the summary kind (see
#: :func:`kpi_xl.data._duck.summary_frames`) and the engine entry point taking it.
SUMMARIES: dict[str, tuple[str, Callable[..., MetricResult]]] = {
    "nps": ("scores", _from_scores(survey.nps_from_counts)),
    "csat": ("scores", _from_scores(survey.csat_from_counts)),
    "satisfaction_mean": ("scores", _from_scores(survey.satisfaction_mean_from_counts)),
    "ces": ("scores", _from_scores(survey.ces_from_counts)),
    "aov": ("moments", _from_moments),
    "purchase_frequency": ("customers", _from_customers("purchase_frequency")),
    "repeat_purchase_rate": ("customers", _from_customers("repeat_purchase_rate")),
    "historical_clv": ("customers", _from_customers("historical_clv")),
}


def _summarised(dataset: Dataset, spec: MetricSpec) -> bool:
    from ._duck import DuckDataset

    return isinstance(dataset, DuckDataset) and spec.name in SUMMARIES


def at_file_row(
    exc: KpiInputError, index: pd.Index, dataset: Dataset, argument_roles: Mapping[str, str], what: str
) -> KpiInputError:
    """The engine names a position inside the arrays it was given; name the file row (and column)
    instead. ``index`` holds the file row of each position; ``argument_roles`` maps the engine's
    argument names to roles."""
    if exc.position is None or not 0 < exc.position <= len(index):
        return KpiInputError(
            f"{dataset.name}: {what}: {exc}", argument=exc.argument, value=exc.value, kind=exc.kind
        )
    row = int(index[exc.position - 1])
    role = argument_roles.get(exc.argument or "")
    header = dataset.columns.get(role) if role else None
    where = f"{dataset.name}, row {row}" + (f", column {header!r}" if header else "")
    # The engine's "at position N" counts inside the arrays it got; the file row replaces it.
    message = re.sub(rf" at position {exc.position}\b", "", str(exc))
    return KpiInputError(
        f"{where}: {message}", argument=exc.argument, position=row, value=exc.value, kind=exc.kind
    )


def run_metric(dataset: Dataset, spec: MetricSpec, options: RunOptions) -> ResultRow:
    """Compute one metric on the whole file. A metric with no usable data (kind ``empty`` or
    ``zero-base``) gives a row with the reason; an invalid value raises, naming the file row."""
    opts = _engine_options(spec, options, dataset)
    cols = {r: dataset.columns[r] for r in spec.roles}
    skipped = dataset.skipped(spec.roles)
    try:
        if _summarised(dataset, spec):
            from ._duck import SUMMARY_COLUMNS, summary_frames

            kind, fn = SUMMARIES[spec.name]
            _, total = summary_frames(dataset, kind, spec.roles)
            # The summary holds no row-level data: an engine error has no position to map.
            frame = pd.DataFrame()
            result = fn(*(total[c] for c in SUMMARY_COLUMNS[kind]), **opts)
        else:
            frame = dataset.rows_for(spec.roles)
            result = spec.engine(*(frame[r].to_numpy() for r in spec.roles), **opts)
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
    dataset: Dataset, spec: MetricSpec, options: RunOptions, *, by: str | None, period: str | None
) -> tuple[pd.DataFrame, int]:
    """The engine's segment table for one metric, by a column and/or by month, and the number of
    rows left out because a value they need is unusable."""
    date_role = None
    if period is not None:
        date_role = spec.period_role
        if date_role is None or date_role not in dataset.roles:
            raise KpiInputError(
                f"{dataset.name}: --period month needs a date column for {spec.name}"
                + (f" ({date_role})" if date_role else " (this metric has no date to group by)"),
                argument="period",
            )
    # Rows with an unusable date cannot be put in a month: they are skipped like any invalid value.
    checked = list(dict.fromkeys([*spec.roles, *([date_role] if date_role else [])]))
    opts = _engine_options(spec, options, dataset)
    min_n = opts.pop("min_n", options.min_n)
    try:
        if _summarised(dataset, spec):
            table = _summary_table(dataset, spec, by, date_role, min_n, opts)
        else:
            frame = dataset.rows_for(checked, [by] if by else [])
            table = segments.segment_table(
                frame,
                spec.engine,
                columns=list(spec.roles),
                by=by,
                period=period,
                date=date_role,
                min_n=min_n,
                **opts,
            )
    except KpiInputError as exc:
        raise KpiInputError(
            f"{dataset.name}: {spec.name}: {exc}", argument=exc.argument, value=exc.value, kind=exc.kind
        ) from exc
    table["metric"] = spec.name
    return table, dataset.skipped(checked)


def _summary_table(
    dataset: Dataset, spec: MetricSpec, by: str | None, date_role: str | None, min_n: int, opts: dict
) -> pd.DataFrame:
    """The segment table from DuckDB's summaries: the engine's own :func:`segment_table` runs the
    engine entry point once per group of summary rows (groups already labelled as it labels them),
    and once on the summary of all rows for the Total."""
    from ._duck import SUMMARY_COLUMNS, summary_frames

    kind, fn = SUMMARIES[spec.name]
    groups, total = summary_frames(dataset, kind, spec.roles, by=by, date_role=date_role)
    cols = list(SUMMARY_COLUMNS[kind])
    parts = []
    for part in (groups, total):
        table = segments.segment_table(part, fn, columns=cols, by="_group", min_n=min_n, total=False, **opts)
        if len(spec.roles) == 1:
            # As segment_table counts on rows: a one-column metric with no result for a group
            # dropped every row of it (all blank), so the groups' counts add up to the total's.
            rows = part.groupby("_group")[_ROW_COUNT[kind]].sum().sum(axis=1)
            empty = (table["n"] == 0).to_numpy()
            table.loc[empty, "n_dropped"] = rows.reindex(table.loc[empty, "group"]).to_numpy()
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


#: Summary columns that add up to the file rows a group holds.
_ROW_COUNT = {"scores": ["n"], "moments": ["n", "blank"], "customers": ["orders"]}
