"""The small frozen result object every scalar metric returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["MetricResult", "SMALL_SAMPLE_N"]

#: Below this many observations an interval is wide enough that comparisons between segments are
#: rarely meaningful; results carry a warning and segment tables flag the row. Users can override
#: it per call (``min_n``).
SMALL_SAMPLE_N = 30


@dataclass(frozen=True)
class MetricResult:
    """One metric value with the statistics users expect beside it.

    Attributes
    ----------
    metric:
        Machine name of the metric (``"nps"``, ``"csat"`` ...).
    value:
        The estimate, in the unit named by ``unit``.
    unit:
        ``"points"`` (NPS, -100..100), ``"share"`` (a rate in 0..1, shown as % in Excel),
        ``"score"`` (a mean on the survey scale), ``"currency"``, ``"hours"``, ``"count"``,
        ``"index"`` (0..100), ``"rate"`` (events per ``components["per"]`` units, e.g. per 1,000).
    n_used:
        Observations the value is computed from.
    n_dropped:
        Observations skipped (blanks, and invalid values when ``on_invalid="drop"``).
    se:
        Standard error of ``value`` where the statistic has one.
    ci_low, ci_high:
        Confidence interval bounds (same unit as ``value``).
    confidence:
        Confidence level of the interval (e.g. 0.95).
    method:
        How the interval was computed (``"wald"``, ``"adjusted-wald"``, ``"wilson"``, ``"t"``).
    components:
        Named parts of the result (counts and shares of a breakdown, the alternative bases of a
        churn rate, ...), read-only.
    warnings:
        Human-readable caveats, e.g. a sample too small for the interval to be useful.
    """

    metric: str
    value: float
    unit: str
    n_used: int
    n_dropped: int = 0
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    method: str | None = None
    components: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", MappingProxyType(dict(self.components)))

    @property
    def margin_of_error(self) -> float | None:
        """Half the width of the interval (``None`` when there is no interval)."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2.0

    @property
    def small_sample(self) -> bool:
        """True when a warning about the sample size was raised."""
        return any("small sample" in w for w in self.warnings)

    def as_dict(self) -> dict[str, object]:
        """Flat dict for tables, JSON and CSV output (components prefixed by nothing)."""
        out: dict[str, object] = {
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "n": self.n_used,
            "n_dropped": self.n_dropped,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "margin_of_error": self.margin_of_error,
            "confidence": self.confidence,
            "method": self.method,
        }
        out.update(self.components)
        out["warnings"] = "; ".join(self.warnings)
        return out


def small_sample_warnings(n: int, min_n: int | None) -> tuple[str, ...]:
    """The standard small-sample caveat, or nothing."""
    threshold = SMALL_SAMPLE_N if min_n is None else min_n
    if n < threshold:
        return (f"small sample: n={n} is below {threshold}; the interval is too wide to rely on",)
    return ()
