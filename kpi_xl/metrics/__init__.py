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
sample sizes). ``rules`` holds the value rules every face applies (kinds, verdicts, placeholders,
locale-aware number text, the label policy) and :class:`Problem`, the record of a value left out.

The families are imported when first used (``kpi_xl.metrics.nps`` imports ``survey`` and what it
needs, not the CLV models), so that the command line and the Excel functions start fast; every
name below is reachable as before (``from kpi_xl.metrics import nps``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

# Re-exported (the redundant aliases say so): light modules, imported at once.
from ._errors import Hint as Hint
from ._errors import KpiInputError as KpiInputError
from ._result import SMALL_SAMPLE_N as SMALL_SAMPLE_N
from ._result import MetricResult as MetricResult

# Looked up in this order, cheapest first: a name found early does not import the CLV models.
_FAMILIES = (
    "survey", "retention", "value", "service", "advocacy", "segments",
    "comments", "closed_loop", "drivers", "planning", "clv",
)  # fmt: skip
_MODULES = frozenset(_FAMILIES) | {"catalog", "rules"}
# Names of modules that are not families (their other names stay in the module).
_ELSEWHERE = {"Problem": "rules"}


def _family(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def __getattr__(name: str) -> Any:
    if name.startswith("_") and name != "__all__":
        # A private module asked for before it is imported (``from . import _clean``): the import
        # system loads it once this says it is not there; no family holds private names.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _MODULES:
        return _family(name)
    if name in _ELSEWHERE:
        value = getattr(_family(_ELSEWHERE[name]), name)
        globals()[name] = value
        return value
    if name == "__all__":
        value: Any = [
            "KpiInputError",
            "Hint",
            "Problem",
            "MetricResult",
            "SMALL_SAMPLE_N",
            "catalog",
            "rules",
        ] + [n for f in _FAMILIES for n in _family(f).__all__]
    else:
        for f in _FAMILIES:
            module = _family(f)
            if name in module.__all__:
                value = getattr(module, name)
                break
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__getattr__("__all__")) | _MODULES)
