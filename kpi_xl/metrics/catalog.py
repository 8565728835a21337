"""The metric catalog: every metric that takes data columns, once, and what each face needs to know.

Each :class:`Metric` names its engine function, the inputs it takes positionally (the *role* of
each column and the *kind* of value it holds, see :data:`KINDS`), the date its ``--period month``
groups by, its unit, a one-line description, and the entry point that computes it from a summary
(``*_from_counts``) where one exists. The command line (which columns to look for, what ``report``
computes), ``KPI_BY_SEGMENT``, :func:`kpi_xl.metrics.segment_table`, the DuckDB path and the
workbook's refresh all read this table; none keeps a list of its own.

Adding a metric costs three things: the engine function (with its docstring and tests), one
:class:`Metric` entry here, and its Excel wrapper in :mod:`kpi_xl.udfs`.

Examples
--------
>>> spec = get("nps")
>>> spec.roles, spec.kinds, spec.period_role, spec.unit
(('nps_score',), ('score',), 'date', 'points')
>>> spec.function([10, 9, 7, 3]).value
25.0
>>> [m.name for m in CATALOG if m.family == "tickets"]
['first_response_time', 'resolution_time', 'sla_rate', 'complaint_volume']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import advocacy, retention, rules, service, survey, value
from ._errors import KpiInputError
from ._result import MetricResult

__all__ = [
    "KINDS",
    "ROLE_KINDS",
    "Input",
    "Metric",
    "CATALOG",
    "SUMMARY_COLUMNS",
    "get",
    "variants",
    "names",
    "roles_read",
]

#: Kinds of value an input holds: the value rules' one vocabulary (``kpi_xl.metrics.rules``).
KINDS = rules.KINDS

#: The kind of every role a metric reads (and of ``order_id``, which files carry but no metric reads).
ROLE_KINDS: dict[str, str] = {
    "customer_id": "id",
    "order_id": "id",
    "created": "date",
    "first_response": "date",
    "resolved": "date",
    "signup_date": "date",
    "churn_date": "date",
    "date": "date",
    "amount": "amount",
    "nps_score": "score",
    "csat_score": "score",
    "ces_score": "score",
    "is_complaint": "flag",
    "refunded": "flag",
    "referred": "flag",
    "converted": "flag",
    "units_sold": "count",
    "units_returned": "count",
    "engagements": "count",
    "followers": "count",
    "reach": "count",
}

#: Roles whose blank means something (no churn yet, no reply yet): a blank there is data, not a gap.
_MEANINGFUL_BLANK = frozenset({"churn_date", "first_response", "resolved"})


@dataclass(frozen=True)
class Input:
    """One positional data argument of a metric's engine function.

    ``blank_dropped`` is True where a blank value is left out of the metric and counted in
    ``n_dropped`` (a blank score, a blank amount); False where a blank is meaningful (a blank churn
    date is a customer still active, a blank reply time a ticket not yet answered).
    """

    role: str
    kind: str
    blank_dropped: bool = True


def _inputs(*roles: str) -> tuple[Input, ...]:
    return tuple(Input(r, ROLE_KINDS[r], r not in _MEANINGFUL_BLANK) for r in roles)


@dataclass(frozen=True)
class Metric:
    """One metric as every face offers it.

    Attributes
    ----------
    name:
        The name users type (``nps``, ``aov``).
    function:
        The engine function; its leading positional arguments are the data columns of ``inputs``.
    inputs:
        Role and kind of each positional data argument, in order.
    family:
        The kind of file or table it belongs to (survey, orders, tickets, customers, referrals,
        engagement): ``report`` computes a survey's metrics from a survey, not its order metrics.
    unit:
        Unit of the value (``points``, ``share``, ``currency``, ``hours``, ``count``, ``score``).
    description:
        One line for help texts.
    period_role:
        The date role ``--period month`` groups by (``None``: the metric has its own period).
    options:
        Fixed keyword options that make this entry what it is (``basis="reach"``).
    needs:
        Keyword options with no default that the user must give (``target_hours``).
    summary:
        The summary kind the DuckDB path aggregates for it (``scores``, ``moments``, ``customers``;
        columns in :data:`SUMMARY_COLUMNS`), with ``from_summary`` the engine entry point over it.
    """

    name: str
    function: Callable[..., MetricResult]
    inputs: tuple[Input, ...]
    family: str
    unit: str
    description: str
    period_role: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    summary: str | None = None
    from_summary: Callable[..., MetricResult] | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(i.role for i in self.inputs)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(i.kind for i in self.inputs)

    @property
    def blank_dropped(self) -> tuple[str, ...]:
        """Roles whose blanks this metric leaves out (and counts in ``n_dropped``)."""
        return tuple(i.role for i in self.inputs if i.blank_dropped)

    def run(self, *columns: Any, **options: Any) -> MetricResult:
        """The engine function on ``columns`` with this entry's fixed options and ``options``."""
        return self.function(*columns, **{**self.options, **options})


# --- summary entry points: the engine's *_from_counts over the DuckDB path's summary rows ----------

#: Columns of each summary kind (after the group label ``_group``).
SUMMARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "scores": ("score", "n"),
    "moments": ("n", "total", "squares", "blank"),
    "customers": ("customers", "orders", "days", "rows", "revenue", "squares", "negative"),
}

#: Summary columns that add up to the rows a group holds.
SUMMARY_ROWS: dict[str, tuple[str, ...]] = {
    "scores": ("n",),
    "moments": ("n", "blank"),
    "customers": ("rows",),
}


def _from_scores(fn: Callable[..., MetricResult]) -> Callable[..., MetricResult]:
    """An engine ``*_from_counts`` over summary rows (score, responses); a NULL score is a blank."""

    def run(score: pd.Series, n: pd.Series, **opts: Any) -> MetricResult:
        blank = pd.isna(np.asarray(score, dtype=np.float64))
        counts = pd.Series(np.asarray(n)[~blank], index=np.asarray(score, dtype=np.float64)[~blank])
        return fn(counts, n_dropped=int(np.asarray(n)[blank].sum()), **opts)

    return run


def _from_moments(n: Any, total: Any, squares: Any, blank: Any, **opts: Any) -> MetricResult:
    return value.average_order_value_from_moments(
        int(np.sum(n)), float(np.sum(total)), float(np.sum(squares)), n_dropped=int(np.sum(blank)), **opts
    )


def _from_customers(kind: str) -> Callable[..., MetricResult]:
    """An engine function over counts of counts: each summary row holds the ``customers`` with
    the same ``orders`` and purchase ``days``, with their order ``rows``, the sum and sum of
    squares of their revenue and how many have a negative one; a row with no customer holds the
    order ``rows`` left out for a blank."""

    def run(
        customers: Any,
        orders: Any,
        days: Any,
        rows: Any,
        revenue: Any,
        squares: Any,
        negative: Any,
        **opts: Any,
    ) -> MetricResult:
        w = np.asarray(customers, dtype=np.int64)
        has = w > 0
        dropped = int(np.asarray(rows, dtype=np.int64)[~has].sum())
        w, n = w[has], np.asarray(orders, dtype=np.int64)[has]
        if kind == "purchase_frequency":
            return retention.purchase_frequency_from_counts(n, n_dropped=dropped, weights=w)
        if kind == "historical_clv":
            return value.historical_clv_from_moments(
                int(w.sum()),
                float(np.sum(np.asarray(revenue, dtype=np.float64)[has])),
                float(np.sum(np.asarray(squares, dtype=np.float64)[has])),
                orders=int(n @ w),
                negative=int(np.sum(np.asarray(negative)[has])),
                n_dropped=dropped,
                **opts,
            )
        purchases = np.asarray(days, dtype=np.int64)[has] if opts.get("count") == "days" else n
        return retention.repeat_purchase_rate_from_counts(
            purchases, int(n @ w), n_dropped=dropped, weights=w, **opts
        )

    return run


def _m(
    name: str,
    function: Callable[..., MetricResult],
    roles: tuple[str, ...],
    family: str,
    unit: str,
    description: str,
    period_role: str | None = "date",
    **rest: Any,
) -> Metric:
    return Metric(name, function, _inputs(*roles), family, unit, description, period_role, **rest)


CATALOG: tuple[Metric, ...] = (
    _m("nps", survey.nps, ("nps_score",), "survey", "points", "Net Promoter Score (0-10 answers)",
       summary="scores", from_summary=_from_scores(survey.nps_from_counts)),
    _m("csat", survey.csat, ("csat_score",), "survey", "share", "CSAT, top-2-box share",
       summary="scores", from_summary=_from_scores(survey.csat_from_counts)),
    _m("satisfaction_mean", survey.satisfaction_mean, ("csat_score",), "survey", "score",
       "mean satisfaction score", summary="scores",
       from_summary=_from_scores(survey.satisfaction_mean_from_counts)),
    _m("ces", survey.ces, ("ces_score",), "survey", "score", "Customer Effort Score (mean, % agree)",
       summary="scores", from_summary=_from_scores(survey.ces_from_counts)),
    _m("aov", value.average_order_value, ("amount",), "orders", "currency", "average order value",
       summary="moments", from_summary=_from_moments),
    _m("purchase_frequency", retention.purchase_frequency, ("customer_id",), "orders", "count",
       "orders per customer", summary="customers", from_summary=_from_customers("purchase_frequency")),
    # Counting order rows needs no date: a row with an unreadable date is still an order.
    _m("repeat_purchase_rate", retention.repeat_purchase_rate, ("customer_id",), "orders", "share",
       "share of customers buying again", options={"count": "orders"}, summary="customers",
       from_summary=_from_customers("repeat_purchase_rate")),
    _m("repeat_purchase_rate", retention.repeat_purchase_rate, ("customer_id", "date"), "orders", "share",
       "share of customers buying again on another day", options={"count": "days"}, summary="customers",
       from_summary=_from_customers("repeat_purchase_rate")),
    _m("historical_clv", value.historical_clv, ("customer_id", "amount"), "orders", "currency",
       "historical CLV (revenue x margin per customer)", summary="customers",
       from_summary=_from_customers("historical_clv")),
    _m("refund_rate", advocacy.refund_rate, ("refunded",), "orders", "share", "refunded orders / orders"),
    _m("return_rate", advocacy.return_rate, ("units_returned", "units_sold"), "orders", "share",
       "units returned / units sold"),
    _m("advocacy_revenue_share", advocacy.advocacy_revenue_share, ("amount", "referred"), "orders", "share",
       "revenue from referred customers"),
    _m("referral_conversion", advocacy.referral_conversion, ("converted",), "referrals", "share",
       "referred leads who purchased"),
    _m("first_response_time", service.first_response_time, ("created", "first_response"), "tickets",
       "hours", "hours to first reply", "created"),
    _m("resolution_time", service.resolution_time, ("created", "resolved"), "tickets", "hours",
       "hours to resolution", "created"),
    _m("sla_rate", service.sla_rate, ("created", "first_response"), "tickets", "share",
       "share answered within the SLA target", "created", needs=("target_hours",)),
    _m("complaint_volume", service.complaint_volume, ("is_complaint",), "tickets", "count",
       "number of complaints", "created"),
    _m("engagement_rate", advocacy.engagement_rate, ("engagements", "followers"), "engagement", "share",
       "engagements / followers", options={"basis": "followers"}),
    _m("engagement_rate", advocacy.engagement_rate, ("engagements", "reach"), "engagement", "share",
       "engagements / reach", options={"basis": "reach"}),
    _m("churn", retention.churn_from_records, ("signup_date", "churn_date"), "customers", "share",
       "churn rate over the period", None, needs=("period_start", "period_end")),
    _m("retention", retention.retention_from_records, ("signup_date", "churn_date"), "customers", "share",
       "retention rate over the period", None, needs=("period_start", "period_end")),
)  # fmt: skip


def names() -> list[str]:
    """Every metric name, sorted (a name with several variants once)."""
    return sorted({m.name for m in CATALOG})


def variants(name: str) -> list[Metric]:
    """The catalog entries of one metric name (``engagement_rate`` has one per audience); an unknown
    name is an error listing the known ones."""
    key = str(name).strip().lower()
    found = [m for m in CATALOG if m.name == key]
    if not found:
        raise KpiInputError(
            f"unknown metric {name!r}; choose one of: {', '.join(dict.fromkeys(m.name for m in CATALOG))}",
            argument="metric",
            value=name,
        )
    return found


def get(name: str) -> Metric:
    """The (first) catalog entry of a metric name."""
    return variants(name)[0]


def roles_read(name: str | None = None) -> tuple[str, ...]:
    """Roles a metric reads, its period date included (every metric's, without a name)."""
    specs = CATALOG if name is None else variants(name)
    out = [r for m in specs for r in (*m.roles, *((m.period_role,) if m.period_role else ()))]
    return tuple(dict.fromkeys(out))
