"""The kpi-xl metric engine: pure functions over arrays and DataFrames.

Every number kpi-xl shows comes from here. No xlwings, no openpyxl. Scalar metrics return a
:class:`MetricResult`; table-shaped metrics (cohorts, per-customer CLV, segment tables) return
pandas DataFrames. Bad input raises :class:`KpiInputError`, which names the value and where it was.

Modules, one per family: ``survey`` (NPS, CSAT, CES), ``retention`` (churn, retention, cohorts,
repeat purchase), ``value`` (AOV, CLV formulas), ``clv`` (BG/NBD, Gamma-Gamma),
``service`` (response and resolution times, SLA, complaints), ``advocacy`` (engagement,
referrals, refunds and returns, loyalty, advocacy index), ``segments`` (any metric by segment
or period), ``catalog`` (every metric once: its function, inputs, unit, period and summary entry),
``comments`` (themes and sentiment of open comments), ``closed_loop`` (follow-up list, revenue at
risk, advocates, feedback engagement), ``drivers`` (key driver analysis), ``planning`` (survey
sample sizes).
"""

from . import (
    advocacy,
    catalog,
    closed_loop,
    clv,
    comments,
    drivers,
    planning,
    retention,
    segments,
    service,
    survey,
    value,
)
from ._errors import KpiInputError
from ._result import SMALL_SAMPLE_N, MetricResult
from .advocacy import *  # noqa: F403
from .closed_loop import *  # noqa: F403
from .clv import *  # noqa: F403
from .comments import *  # noqa: F403
from .drivers import *  # noqa: F403
from .planning import *  # noqa: F403
from .retention import *  # noqa: F403
from .segments import *  # noqa: F403
from .service import *  # noqa: F403
from .survey import *  # noqa: F403
from .value import *  # noqa: F403

__all__ = ["KpiInputError", "MetricResult", "SMALL_SAMPLE_N", "catalog"] + [
    name
    for module in (survey, retention, value, clv, service, advocacy, segments)
    + (comments, closed_loop, drivers, planning)
    for name in module.__all__
]
