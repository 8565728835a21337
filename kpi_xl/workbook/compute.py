"""From the raw cells of the data Tables to every number the owned sheets show, via the engine.

Two steps:

1. :func:`prepare` checks each value against what the workbook's native formulas count, so the
   live formulas and the Python values agree on which rows they use. A value the formulas would
   ignore or miscount is reported as invalid (sheet, row, column, value, why) and left out of
   that column only; the rest of the row is still used. The rules are the engine's (the
   ``kpi_xl.metrics`` cleaners decide what a valid score, amount or date is) plus two that come
   from Excel: a number or date stored as text is invalid (``COUNTIFS`` ignores it), and a yes/no
   column must hold the workbook's own words (``COUNTIFS(..., "yes")`` counts nothing else).
   Rows whose dates contradict each other (a churn before the signup, a reply before the ticket)
   are reported too, because the engine refuses them.
2. :func:`compute` calls the engine (:mod:`kpi_xl.metrics`) for every KPI of every block, month
   and card, and returns a :class:`Results` with plain values. A KPI the engine cannot compute
   for a group (no data, a zero base) is ``None``, shown as an empty cell.

Nothing here knows about cells or formulas; :mod:`kpi_xl.workbook.sheets` places the results.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from .. import metrics as m
from ..metrics import KpiInputError, MetricResult, catalog
from ..metrics.rules import (
    Problem,
    clean_dates,
    clean_numbers,
    clean_scores,
    ids_cleaned_once,
    label_groups,
    placeholder_mask,
)
from .actions import compute_actions
from .benchmarks import BENCHMARKS, INDUSTRIES
from .errors import WorkbookError
from .layout import (
    CARDS,
    CHART_COHORT_SERIES,
    CHART_SEGMENTS,
    COHORT_PERIODS,
    COHORT_ROWS,
    SEGMENT_BLOCKS,
    SETTINGS,
    SLOTS,
    TABLES,
    TREND_MONTHS,
)

__all__ = [
    "Settings",
    "Prepared",
    "Results",
    "read_settings",
    "prepare",
    "compute",
    "MONTH_DAYS",
]

#: Why a blank required cell is listed on the Start tab.
REQUIRED_BLANK = "is blank; the row is left out of the KPIs that need this value"

#: Average month length in days (365.25 / 12), used to turn months into weeks and days.
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class Settings:
    period_start: dt.date
    period_end: dt.date
    currency: str
    nps_promoter_min: int
    nps_detractor_max: int
    csat_scale_max: int
    csat_threshold: int
    ces_scale_max: int
    ces_agree_threshold: int
    sla_target_hours: float
    clv_margin: float
    clv_discount_rate: float
    clv_horizon_months: int
    min_segment_n: int
    confidence: float
    industry: str
    plan_margin: float = 10.0
    plan_change: float = 10.0

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    @property
    def window(self) -> tuple[np.datetime64, np.datetime64]:
        """[start, end) of the reporting period as datetime64 (the end is the day after)."""
        return _d64(self.period_start), _d64(self.period_end) + np.timedelta64(1, "D")

    @property
    def previous_window(self) -> tuple[np.datetime64, np.datetime64]:
        """The period of the same length just before (what "change vs previous period" compares)."""
        s, _ = self.window
        return s - np.timedelta64(self.days, "D"), s


def _d64(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D").astype("datetime64[ns]")


def read_settings(raw: dict[str, Any], where: Callable[[str], str]) -> Settings:
    """Validate the Settings tab. ``raw`` maps setting key -> cell value; ``where(key)`` names the
    cell for messages. A bad setting stops the refresh: every KPI would be wrong with it."""

    def bad(key: str, value: Any, need: str) -> WorkbookError:
        shown = _plain(value)
        return WorkbookError(
            f"setting {where(key)} is {shown!r}; it must be {need}", argument=key, value=value
        )

    out: dict[str, Any] = {}
    for s in SETTINGS:
        v = raw.get(s.key)
        if s.kind == "date":
            if isinstance(v, dt.datetime):
                v = v.date()
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v < 2958466:
                v = (np.datetime64("1899-12-30") + np.timedelta64(int(v), "D")).astype(dt.date)
            if not isinstance(v, dt.date):
                raise bad(s.key, v, "a date")
        elif s.kind in ("int", "hours", "share", "points"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(s.key, v, "a number")
            if s.kind == "int":
                if v != round(v):
                    raise bad(s.key, v, "a whole number")
                v = int(round(v))
            else:
                v = float(v)
        elif s.kind == "industry":
            v = str(v).strip() if v is not None else ""
            if v not in INDUSTRIES:
                raise bad(s.key, v, "one of the industries in the drop-down: " + ", ".join(INDUSTRIES))
        else:
            v = "" if v is None else str(v).strip()
        out[s.key] = v
    checks = (
        ("period_end", out["period_end"] >= out["period_start"], "on or after the first day of the period"),
        ("nps_promoter_min", 1 <= out["nps_promoter_min"] <= 10, "from 1 to 10"),
        (
            "nps_detractor_max",
            0 <= out["nps_detractor_max"] < out["nps_promoter_min"],
            "from 0 to below the promoter score",
        ),
        ("csat_scale_max", 2 <= out["csat_scale_max"] <= 10, "from 2 to 10"),
        ("csat_threshold", 1 <= out["csat_threshold"] <= out["csat_scale_max"], "inside the CSAT scale"),
        ("ces_scale_max", 2 <= out["ces_scale_max"] <= 10, "from 2 to 10"),
        (
            "ces_agree_threshold",
            1 <= out["ces_agree_threshold"] <= out["ces_scale_max"],
            "inside the CES scale",
        ),
        ("sla_target_hours", out["sla_target_hours"] > 0, "more than 0"),
        ("clv_margin", 0 < out["clv_margin"] <= 1, "a share above 0 and at most 100%"),
        ("clv_discount_rate", 0 <= out["clv_discount_rate"] < 1, "a share from 0 up to 100%"),
        ("clv_horizon_months", 1 <= out["clv_horizon_months"] <= 120, "from 1 to 120 months"),
        ("min_segment_n", out["min_segment_n"] >= 1, "1 or more"),
        ("confidence", 0.5 <= out["confidence"] < 1, "a share from 50% up to 100%, e.g. 95%"),
        ("plan_margin", 0 < out["plan_margin"] <= 100, "more than 0 and at most 100 NPS points"),
        ("plan_change", 0 < out["plan_change"] <= 200, "more than 0 and at most 200 NPS points"),
    )
    for key, ok, need in checks:
        if not ok:
            raise bad(key, raw.get(key), need)
    return Settings(**out)


@dataclass
class Prepared:
    """Typed data tables (column keys; NaN/NaT where blank or invalid) and what was rejected."""

    tables: dict[str, pd.DataFrame]
    rows_read: dict[str, int]
    invalid: list[Problem]
    invalid_by_table: dict[str, int]


# The cell tests below run over whole columns of the data tabs (500k orders): builtins mapped over
# the cells (no Python frame per cell), instead of a lambda per cell through Series.map.


def _of_type(s: pd.Series, cls: type | tuple[type, ...]) -> np.ndarray:
    """``isinstance(v, cls)`` for every cell of an object column."""
    return np.fromiter(map(isinstance, s.to_numpy(dtype=object), repeat(cls)), dtype=bool, count=len(s))


def _blank(s: pd.Series) -> np.ndarray:
    values = s.to_numpy(dtype=object)
    out = pd.isna(values)
    text = _of_type(s, str)
    if text.any():
        # Empty or spaces only (what strip() empties), by str's own methods mapped over the cells.
        cells = values[text]
        empty = np.fromiter(map(len, cells), dtype=np.int64, count=cells.size) == 0
        out[text] = empty | np.fromiter(map(str.isspace, cells), dtype=bool, count=cells.size)
    return out


def _is_text(s: pd.Series) -> np.ndarray:
    return _of_type(s, str)


def _is_bool(s: pd.Series) -> np.ndarray:
    return _of_type(s, (bool, np.bool_))


def _text_key(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    t = str(v).strip()
    return t or None


def _as_text(s: pd.Series) -> pd.Series:
    """Ids and labels as trimmed text, blanks missing: a number cell 1001 and a text cell "1001" are
    the same customer (calamine reads the number as 1001.0).

    Each distinct value is converted once (500k order rows hold 50k customer ids). Distinct values
    are found by hashing, which equates True with 1.0 and would merge missing values of other kinds
    (pd.NA, NaT) with None: a column holding any of those is converted cell by cell."""
    arr = s.to_numpy(dtype=object)
    missing = pd.isna(arr)
    odd = {t for t in set(map(type, arr[missing])) if t is not type(None) and not issubclass(t, float)}
    if _is_bool(s).any() or odd:
        return s.map(_text_key).astype(object)
    codes, uniques = pd.factorize(arr)
    uniques = np.asarray(uniques, dtype=object)
    # Missing as NaN, as Series.map gives it (the last slot is for code -1, the missing cells).
    keys = np.full(uniques.size + 1, np.nan, dtype=object)
    # Plain text (most distinct values: order and ticket ids) trimmed in one comprehension; other
    # values one call each.
    text = np.fromiter(map(isinstance, uniques, repeat(str)), dtype=bool, count=uniques.size)
    keys[:-1][text] = [t.strip() or np.nan for t in uniques[text]]
    keys[:-1][~text] = [np.nan if k is None else k for k in map(_text_key, uniques[~text])]
    return pd.Series(keys[codes], index=s.index, dtype=object)


class _Checker:
    """Collects invalid values of one table while its columns are converted."""

    def __init__(self, sheet: str, headers: dict[str, str], rows: np.ndarray) -> None:
        self.sheet, self.headers, self.rows = sheet, headers, rows
        self.found: list[Problem] = []

    def flag(
        self,
        column: str,
        raw: pd.Series,
        mask: np.ndarray,
        why: str | Callable[[Any], str],
        verdict: str = "invalid",
    ) -> None:
        for i in np.flatnonzero(mask):
            v = raw.iloc[i]
            self.found.append(
                Problem(
                    self.sheet,
                    int(self.rows[i]),
                    self.headers[column],
                    _plain(v),
                    why(v) if callable(why) else why,
                    verdict,
                )
            )


def _plain(v: Any) -> Any:
    """A value as the user typed it: calamine reads every number as a float, so 11.0 is shown as 11."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _dates(col: str, raw: pd.Series, chk: _Checker) -> np.ndarray:
    blank = _blank(raw)
    text = _is_text(raw) & ~blank
    boolean = _is_bool(raw)
    chk.flag(col, raw, text, "a date stored as text: the live formulas ignore it; enter it as a date")
    chk.flag(col, raw, boolean, "TRUE/FALSE is not a date")
    keep = raw.where(~(text | boolean), None)
    values, missing = clean_dates(keep.to_numpy(dtype=object), argument=col, on_invalid="drop")
    unreadable = missing & ~blank & ~text & ~boolean
    chk.flag(col, raw, unreadable, "not a date")
    return values


def _numbers(
    col: str, raw: pd.Series, chk: _Checker, cleaner: Callable[[np.ndarray], Any], need: str
) -> np.ndarray:
    # A placeholder ("n/a", "k.A.", "-") means no value: listed as such and left out like a blank
    # (the live formulas skip text as well), never an invalid number.
    placeholder = placeholder_mask(raw.to_numpy(dtype=object)) & ~_blank(raw)
    chk.flag(col, raw, placeholder, "a placeholder for no value: left out, like a blank", "placeholder")
    blank = _blank(raw) | placeholder
    text = _is_text(raw) & ~blank
    chk.flag(col, raw, text, f"text, not a number: the live formulas ignore it; enter {need}")
    keep = raw.where(~text, None).to_numpy(dtype=object)
    cleaned = cleaner(keep)
    out = np.full(raw.size, np.nan)
    out[cleaned.mask] = cleaned.values
    chk.flag(col, raw, ~cleaned.mask & ~blank & ~text, f"not {need}")
    return out


def _flags(col: str, raw: pd.Series, chk: _Checker, yes: str, no: str) -> np.ndarray:
    blank = _blank(raw)
    # COUNTIFS(col, "yes") matches the word ignoring case, nothing else (not TRUE, not 1).
    text = _of_type(raw, str)
    codes, words = pd.factorize(raw.to_numpy(dtype=object)[text])  # each distinct word folded once
    folded = np.array([w.casefold() for w in words], dtype=object)
    is_yes, is_no = np.zeros(raw.size, dtype=bool), np.zeros(raw.size, dtype=bool)
    is_yes[text] = (folded == yes.casefold())[codes]
    is_no[text] = (folded == no.casefold())[codes]
    chk.flag(col, raw, ~blank & ~is_yes & ~is_no, f"not {yes} or {no}: use the drop-down values")
    out = np.full(raw.size, np.nan)
    out[is_yes] = 1.0
    out[is_no] = 0.0
    return out


def prepare(
    raw: dict[str, tuple[pd.DataFrame, np.ndarray]],
    settings: Settings,
    *,
    sheet_names: dict[str, str],
    headers: dict[str, dict[str, str]],
    yes: str,
    no: str,
) -> Prepared:
    """Type-check the raw Tables.

    ``raw[table] = (frame with one column per column key holding the cell values as read,
    sheet row number of each frame row)``. ``headers[table][column]`` is the header shown in the
    workbook, for messages.
    """
    tables: dict[str, pd.DataFrame] = {}
    invalid: list[Problem] = []
    by_table: dict[str, int] = {}
    rows_read: dict[str, int] = {}
    for key, spec in TABLES.items():
        frame, rows = raw[key]
        chk = _Checker(sheet_names[key], headers[key], rows)
        out: dict[str, Any] = {}
        for col in spec.columns:
            s = frame[col.key].astype(object).reset_index(drop=True)
            if col.kind == "date":
                out[col.key] = _dates(col.key, s, chk)
            elif col.kind == "score":
                lo, hi = {
                    "nps": (0, 10),
                    "csat": (1, settings.csat_scale_max),
                    "ces": (1, settings.ces_scale_max),
                }[col.scale]
                out[col.key] = _numbers(
                    col.key,
                    s,
                    chk,
                    lambda a, lo=lo, hi=hi: clean_scores(a, scale=(lo, hi), on_invalid="drop"),
                    f"a whole-number score from {lo} to {hi}",
                )
            elif col.kind == "amount":
                out[col.key] = _numbers(
                    col.key,
                    s,
                    chk,
                    lambda a: clean_numbers(a, allow_negative=False, on_invalid="drop"),
                    "an amount of 0 or more",
                )
            elif col.kind == "count":
                out[col.key] = _numbers(
                    col.key,
                    s,
                    chk,
                    lambda a: clean_numbers(a, integer=True, allow_negative=False, on_invalid="drop"),
                    "a whole number of 0 or more",
                )
            elif col.kind == "flag":
                out[col.key] = _flags(col.key, s, chk, yes, no)
            else:
                out[col.key] = _as_text(s).to_numpy(dtype=object)
        for col in spec.columns:
            if col.required:
                # A row with other values and this cell empty (a blank amount on an order row, a
                # blank customer id) is left out of what needs the cell: listed, not only counted.
                s = frame[col.key].astype(object).reset_index(drop=True)
                chk.flag(col.key, s, _blank(s), REQUIRED_BLANK, "blank")
        df = pd.DataFrame(out)
        _cross_checks(key, df, chk)
        tables[key] = df
        invalid.extend(chk.found)
        by_table[key] = len({i.row for i in chk.found})
        rows_read[key] = len(df)
    return Prepared(tables, rows_read, invalid, by_table)


def _cross_checks(key: str, df: pd.DataFrame, chk: _Checker) -> None:
    """Dates that contradict each other: the engine refuses them, so they are reported and left out."""
    if key == "customers":
        signup, churn = df["signup"].to_numpy(), df["churn"].to_numpy()
        day = lambda a: a.astype("datetime64[D]")  # noqa: E731 - the engine compares whole days
        backwards = ~np.isnat(signup) & ~np.isnat(churn) & (day(churn) < day(signup))
        orphan = np.isnat(signup) & ~np.isnat(churn)
        _drop_pair(df, chk, "churn", backwards, "churn date before the signup date", ("signup", "churn"))
        _drop_pair(df, chk, "churn", orphan, "a churn date without a signup date", ("churn",))
    elif key == "tickets":
        created = df["created"].to_numpy()
        for col, what in (("first_response", "first response"), ("resolved", "resolution")):
            end = df[col].to_numpy()
            backwards = ~np.isnat(created) & ~np.isnat(end) & (end < created)
            orphan = np.isnat(created) & ~np.isnat(end)
            _drop_pair(df, chk, col, backwards, f"{what} before the ticket was created", (col,))
            _drop_pair(df, chk, col, orphan, f"a {what} time without a created time", (col,))


def _drop_pair(
    df: pd.DataFrame, chk: _Checker, col: str, mask: np.ndarray, why: str, clear: tuple[str, ...]
) -> None:
    if not mask.any():
        return
    shown = pd.Series(df[col].to_numpy(), dtype=object).map(lambda v: pd.Timestamp(v).to_pydatetime())
    chk.flag(col, shown, mask, why)
    for c in clear:
        df.loc[mask, c] = pd.NaT


# --- results ----------------------------------------------------------------------------------


@dataclass
class Block:
    """One block of the Segments sheet: groups in slot order, values per (slot or "total", column)."""

    groups: list[str]
    more: int
    values: dict[tuple[int | str, str], Any]


@dataclass
class Card:
    value: Any
    previous: Any
    interval: tuple[float, float] | None
    unit: str


@dataclass
class Results:
    settings: Settings
    blocks: dict[str, Block]
    months: list[np.datetime64]
    trends: list[dict[str, Any]]
    cards: dict[str, Card]
    nps_distribution: list[tuple[int, float, float, float]]
    trend_chart: list[tuple[str, Any, Any]]
    segment_chart: list[tuple[str, Any]]
    cohorts: pd.DataFrame | None
    cohort_chart: list[tuple[str, list[Any]]]
    clv: dict[str, Any]
    retention_projection: dict[str, Any]
    benchmarks: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    #: The closed-loop tabs (Comments, Follow-up, Advocates, Drivers): see :mod:`.actions`.
    actions: dict[str, Any] = field(default_factory=dict)


def _safe(fn: Callable[..., MetricResult], *args: Any, **kw: Any) -> MetricResult | None:
    """The engine's result, or None where the engine says there is nothing to compute."""
    try:
        return fn(*args, **kw)
    except KpiInputError as exc:
        if exc.kind in ("empty", "zero-base"):
            return None
        raise


def _in(dates: np.ndarray, window: tuple[np.datetime64, np.datetime64]) -> np.ndarray:
    return ~np.isnat(dates) & (dates >= window[0]) & (dates < window[1])


def _val(r: MetricResult | None, attr: str = "value") -> Any:
    if r is None:
        return None
    if attr in ("value", "se", "ci_low", "ci_high", "margin_of_error", "n_used"):
        return getattr(r, attr)
    return r.components.get(attr)


class _Engine:
    """The engine calls the sheets need: each metric from the catalog (:mod:`kpi_xl.metrics.catalog`),
    with the workbook's settings given to the options it takes (by their names)."""

    def __init__(self, st: Settings, min_n: int) -> None:
        self.st, self.conf, self.min_n = st, st.confidence, min_n
        self._settings: dict[str, Any] = {
            "confidence": self.conf,
            "min_n": min_n,
            "target_hours": st.sla_target_hours,
        }
        # Settings that belong to one survey question (the role its scores answer).
        self._by_role: dict[str, dict[str, Any]] = {
            "nps_score": {"promoter_min": st.nps_promoter_min, "detractor_max": st.nps_detractor_max},
            "csat_score": {"scale": (1, st.csat_scale_max), "threshold": st.csat_threshold},
            "ces_score": {"scale": (1, st.ces_scale_max), "agree_threshold": st.ces_agree_threshold},
        }

    def run(self, name: str, *columns: Any, variant: dict[str, Any] | None = None, **extra: Any):
        """The catalog metric ``name`` (the variant with ``variant``'s fixed options) on ``columns``,
        or None where the engine says there is nothing to compute."""
        spec = next(s for s in catalog.variants(name) if not variant or dict(s.options) == variant)
        params = inspect.signature(spec.function).parameters
        wanted = {**self._settings, **self._by_role.get(spec.roles[0], {}), **extra}
        return _safe(spec.run, *columns, **{k: v for k, v in wanted.items() if k in params})

    def nps(self, scores: np.ndarray) -> MetricResult | None:
        return self.run("nps", scores)

    def csat(self, scores: np.ndarray) -> MetricResult | None:
        return self.run("csat", scores)

    def satisfaction(self, scores: np.ndarray) -> MetricResult | None:
        return self.run("satisfaction_mean", scores)

    def ces(self, scores: np.ndarray) -> MetricResult | None:
        return self.run("ces", scores)

    def churn(self, signup: np.ndarray, churn: np.ndarray, window: tuple[np.datetime64, np.datetime64]):
        if signup.size == 0:
            return None
        last = (window[1] - np.timedelta64(1, "D")).astype("datetime64[D]")
        return self.run(
            "churn", signup, churn, period_start=window[0].astype("datetime64[D]"), period_end=last
        )

    def aov(self, amounts: np.ndarray) -> MetricResult | None:
        return self.run("aov", amounts)

    def refund(self, flags: np.ndarray) -> MetricResult | None:
        return self.run("refund_rate", flags)

    def repeat(self, customers: np.ndarray) -> MetricResult | None:
        ids = customers[pd.notna(customers)]
        return self.run("repeat_purchase_rate", ids) if ids.size else None

    def frt(self, created: np.ndarray, replied: np.ndarray) -> MetricResult | None:
        return self.run("first_response_time", created, replied) if created.size else None

    def sla(self, created: np.ndarray, replied: np.ndarray) -> MetricResult | None:
        return self.run("sla_rate", created, replied) if created.size else None

    def complaints(self, flags: np.ndarray) -> MetricResult | None:
        return self.run("complaint_volume", flags)

    def complaint_rate(self, flags: np.ndarray, base: int) -> MetricResult | None:
        # Complaints per 1,000 customers takes a count of customers, not a column: not a catalog metric.
        if base == 0 or np.isnan(flags).all():
            return None
        return _safe(m.complaint_rate, flags[~np.isnan(flags)], base, confidence=self.conf)

    def engagement(self, e: pd.DataFrame) -> MetricResult | None:
        total = m.engagements_total(e["likes"].to_numpy(), e["comments"].to_numpy(), e["shares"].to_numpy())
        reach = e["reach"].to_numpy()
        # Rows the native SUMIFS leave out (a blank part, no reach) are left out here as well.
        keep = ~np.isnan(total) & (reach > 0)
        if not keep.any():
            return None
        return self.run("engagement_rate", total[keep], reach[keep], variant={"basis": "reach"}, min_n=None)


def _groups(values: np.ndarray) -> tuple[pd.Series, list[str], int]:
    """Each row's group under the label policy (:func:`kpi_xl.metrics.rules.label_groups`: trimmed,
    any case, blanks in "(blank)"), the groups by size (largest first, ties by name), at most SLOTS,
    and how many were cut."""
    labels = label_groups(pd.Series(values, dtype=object))
    if labels.empty:
        return labels, [], 0
    counts = labels.value_counts()
    order = sorted(counts.index, key=lambda g: (-counts[g], str(g)))
    return labels, [str(g) for g in order[:SLOTS]], max(0, len(order) - SLOTS)


def compute(data: Prepared, st: Settings, *, predict: bool = True) -> Results:
    """Every number of the owned sheets, computed by the engine from the prepared data.

    ``predict=False`` skips the predictive CLV model (the one slow step) and says so in the notes.
    """
    # Many metrics take the same id column (the order log's customers: 49 cleanings of 500,000 ids
    # in a 700k-row book): each column is cleaned once.
    with ids_cleaned_once():
        return _compute(data, st, predict)


def _compute(data: Prepared, st: Settings, predict: bool) -> Results:
    eng = _Engine(st, st.min_segment_n)
    t = data.tables
    resp, cust, orders, tix, social = (
        t[k] for k in ("responses", "customers", "orders", "tickets", "engagement")
    )
    win, prev = st.window, st.previous_window
    notes: list[str] = []

    r_in = resp[_in(resp["date"].to_numpy(), win)]
    o_in = orders[_in(orders["date"].to_numpy(), win)]
    t_in = tix[_in(tix["created"].to_numpy(), win)]

    blocks: dict[str, Block] = {}
    for spec in SEGMENT_BLOCKS:
        if spec.table == "responses":
            labels, groups, more = _groups(r_in["segment"].to_numpy())
            blocks[spec.key] = _survey_block(eng, r_in, labels.to_numpy(), groups, more)
        else:
            labels, groups, more = _groups(cust[spec.dimension].to_numpy())
            blocks[spec.key] = _customer_block(
                eng, labels.to_numpy(), cust, r_in, o_in, t_in, win, groups, more
            )

    months = _months(st.period_end)
    trends = [_trend_month(eng, t, (months[i], months[i + 1])) for i in range(TREND_MONTHS)]

    cards = _cards(eng, t, win, prev)
    clv = _clv(t, st, predict) if predict else {"error": "skipped (refresh without the model)"}
    if "error" in clv:
        notes.append(f"Predictive CLV: {clv['error']}")
    elif "mean" in clv:
        # The card shows the mean: its interval is the total's (same draws) over the customers.
        n, bounds = clv["customers"], clv["total_interval"]
        cards["clv"] = Card(
            clv["mean"], None, None if bounds is None else (bounds[0] / n, bounds[1] / n), "currency"
        )
    cards.setdefault("clv", Card(None, None, None, "currency"))
    actions = compute_actions(t, st, clv, r_in)
    cards["revenue_at_risk"] = Card(actions["revenue_at_risk"], None, None, "currency")
    cards["followup"] = Card(actions["followup_count"], None, None, "count")

    dist = m.nps_distribution(
        r_in["nps"].to_numpy(), promoter_min=st.nps_promoter_min, detractor_max=st.nps_detractor_max
    )
    trend_chart = [
        (pd.Timestamp(months[i]).strftime("%Y-%m"), trends[i]["nps"], trends[i]["csat"])
        for i in range(TREND_MONTHS)
    ]
    survey = blocks["survey"]
    segment_chart = [(g, survey.values[(i, "nps")]) for i, g in enumerate(survey.groups[:CHART_SEGMENTS])]

    cohorts, cohort_chart = _cohorts(orders, st)
    projection = _retention_projection(orders, st)
    bench = _benchmarks(eng, r_in, cards, st)
    return Results(
        settings=st,
        blocks=blocks,
        months=months,
        trends=trends,
        cards=cards,
        nps_distribution=dist,
        trend_chart=trend_chart,
        segment_chart=segment_chart,
        cohorts=cohorts,
        cohort_chart=cohort_chart,
        clv=clv,
        retention_projection=projection,
        benchmarks=bench,
        notes=notes,
        actions=actions,
    )


def _survey_values(eng: _Engine, rows: pd.DataFrame) -> dict[str, Any]:
    n = eng.nps(rows["nps"].to_numpy())
    c = eng.csat(rows["csat"].to_numpy())
    e = eng.ces(rows["ces"].to_numpy())
    nps_n = n.n_used if n else 0
    return {
        "nps_n": nps_n,
        "promoters": _val(n, "promoters") or 0.0,
        "passives": _val(n, "passives") or 0.0,
        "detractors": _val(n, "detractors") or 0.0,
        "nps": _val(n),
        "nps_moe": _val(n, "margin_of_error"),
        "nps_low": _val(n, "ci_low"),
        "nps_high": _val(n, "ci_high"),
        "csat_n": c.n_used if c else 0,
        "csat": _val(c),
        "csat_moe": _val(c, "margin_of_error"),
        "ces_n": e.n_used if e else 0,
        "ces": _val(e),
        "_small": nps_n < eng.min_n,
    }


def _survey_block(eng: _Engine, r_in: pd.DataFrame, seg: np.ndarray, groups: list[str], more: int) -> Block:
    values: dict[tuple[int | str, str], Any] = {}
    for i, g in enumerate(groups):
        for k, v in _survey_values(eng, r_in[seg == g]).items():
            values[(i, k)] = v
    for k, v in _survey_values(eng, r_in).items():
        values[("total", k)] = v
    return Block(groups, more, values)


def _customer_values(
    eng: _Engine, cust: pd.DataFrame, r_in: pd.DataFrame, o_in: pd.DataFrame, t_in: pd.DataFrame, win
) -> dict[str, Any]:
    ch = eng.churn(cust["signup"].to_numpy(), cust["churn"].to_numpy(), win)
    n = eng.nps(r_in["nps"].to_numpy())
    aov = eng.aov(o_in["amount"].to_numpy())
    rep = eng.repeat(o_in["customer"].to_numpy())
    ref = eng.refund(o_in["refunded"].to_numpy())
    sla = eng.sla(t_in["created"].to_numpy(), t_in["first_response"].to_numpy())
    # Customers are rows with an id, as the native COUNTIFS(id, "<>") counts them.
    n_customers = int(pd.notna(cust["customer"]).sum())
    comp = eng.complaint_rate(t_in["complaint"].to_numpy(), n_customers)
    start = (
        _val(ch, "customers_start")
        if ch
        else m.customers_active_at(cust["signup"].to_numpy(), cust["churn"].to_numpy(), win[0])
    )
    return {
        "customers": n_customers,
        "active_start": start,
        "lost": _val(ch, "lost_from_start") if ch else 0,
        "churn": _val(ch),
        "churn_moe": _val(ch, "margin_of_error"),
        "nps_n": n.n_used if n else 0,
        "nps": _val(n),
        "orders": aov.n_used if aov else 0,
        "aov": _val(aov),
        "repeat": _val(rep),
        "refund": _val(ref),
        "tickets": len(t_in),
        "sla": _val(sla),
        "complaints_per_1000": _val(comp),
        "_small": start < eng.min_n,
    }


def _customer_block(eng, dims, cust, r_in, o_in, t_in, win, groups, more) -> Block:
    values: dict[tuple[int | str, str], Any] = {}
    ids = cust["customer"].to_numpy()
    # Rows are matched to a group's customers through positions in the customers' distinct ids,
    # looked up once per table (pandas' isin on text columns costs a set lookup per row and group).
    known = pd.Index(pd.unique(ids[pd.notna(ids)]))
    at = {
        name: known.get_indexer(frame["customer"].to_numpy(dtype=object))
        for name, frame in (("r", r_in), ("o", o_in), ("t", t_in))
    }
    for i, g in enumerate(groups):
        member = np.zeros(len(known) + 1, dtype=bool)  # the last slot: ids not among the customers
        member[known.get_indexer(ids[(dims == g) & pd.notna(ids)])] = True
        sub = cust[dims == g]

        def of(frame: pd.DataFrame, name: str, member=member) -> pd.DataFrame:
            return frame[member[at[name]]]

        for k, v in _customer_values(eng, sub, of(r_in, "r"), of(o_in, "o"), of(t_in, "t"), win).items():
            values[(i, k)] = v
    for k, v in _customer_values(eng, cust, r_in, o_in, t_in, win).items():
        values[("total", k)] = v
    return Block(groups, more, values)


def _months(period_end: dt.date) -> list[np.datetime64]:
    """First days of the TREND_MONTHS months up to the period end, plus the month after."""
    last = np.datetime64(period_end, "M")
    return [
        (last - np.timedelta64(TREND_MONTHS - 1 - i, "M")).astype("datetime64[D]").astype("datetime64[ns]")
        for i in range(TREND_MONTHS + 1)
    ]


def _trend_month(eng: _Engine, t: dict[str, pd.DataFrame], win) -> dict[str, Any]:
    resp, cust, orders, tix, social = (
        t[k] for k in ("responses", "customers", "orders", "tickets", "engagement")
    )
    r = resp[_in(resp["date"].to_numpy(), win)]
    o = orders[_in(orders["date"].to_numpy(), win)]
    k = tix[_in(tix["created"].to_numpy(), win)]
    e = social[_in(social["date"].to_numpy(), win)]
    n = eng.nps(r["nps"].to_numpy())
    c = eng.csat(r["csat"].to_numpy())
    ce = eng.ces(r["ces"].to_numpy())
    aov = eng.aov(o["amount"].to_numpy())
    comp = eng.complaints(k["complaint"].to_numpy())
    er = eng.engagement(e)
    return {
        "month": win[0],
        "nps_n": n.n_used if n else 0,
        "nps": _val(n),
        "nps_moe": _val(n, "margin_of_error"),
        "csat_n": c.n_used if c else 0,
        "csat": _val(c),
        "ces": _val(ce),
        "new_customers": int(_in(cust["signup"].to_numpy(), win).sum()),
        "orders": aov.n_used if aov else 0,
        "revenue": _val(aov, "revenue") or 0.0,
        "aov": _val(aov),
        "refund": _val(eng.refund(o["refunded"].to_numpy())),
        "tickets": len(k),
        "complaints": comp.value if comp else 0.0,
        "frt": _val(eng.frt(k["created"].to_numpy(), k["first_response"].to_numpy())),
        "sla": _val(eng.sla(k["created"].to_numpy(), k["first_response"].to_numpy())),
        "engagement": _val(er),
    }


def _cards(eng: _Engine, t: dict[str, pd.DataFrame], win, prev) -> dict[str, Card]:
    resp, cust, orders, tix, social = (
        t[k] for k in ("responses", "customers", "orders", "tickets", "engagement")
    )

    def one(w) -> dict[str, MetricResult | None]:
        r = resp[_in(resp["date"].to_numpy(), w)]
        o = orders[_in(orders["date"].to_numpy(), w)]
        k = tix[_in(tix["created"].to_numpy(), w)]
        e = social[_in(social["date"].to_numpy(), w)]
        return {
            "nps": eng.nps(r["nps"].to_numpy()),
            "csat": eng.csat(r["csat"].to_numpy()),
            "ces": eng.ces(r["ces"].to_numpy()),
            "churn": eng.churn(cust["signup"].to_numpy(), cust["churn"].to_numpy(), w),
            "aov": eng.aov(o["amount"].to_numpy()),
            "repeat": eng.repeat(o["customer"].to_numpy()),
            "frt": eng.frt(k["created"].to_numpy(), k["first_response"].to_numpy()),
            "sla": eng.sla(k["created"].to_numpy(), k["first_response"].to_numpy()),
            "engagement": eng.engagement(e),
        }

    now, before = one(win), one(prev)
    out = {}
    for key, unit, _native in CARDS:
        if key in ("clv", "revenue_at_risk", "followup"):
            continue
        r = now[key]
        interval = (r.ci_low, r.ci_high) if r is not None and r.ci_low is not None else None
        out[key] = Card(_val(r), _val(before[key]), interval, unit)
    return out


def _cohorts(orders: pd.DataFrame, st: Settings) -> tuple[pd.DataFrame | None, list[tuple[str, list[Any]]]]:
    end = _d64(st.period_end)
    dates = orders["date"].to_numpy()
    keep = (
        ~np.isnat(dates)
        & (dates <= end + np.timedelta64(1, "D") - np.timedelta64(1, "ns"))
        & pd.notna(orders["customer"]).to_numpy()
    )
    if not keep.any():
        return None, []
    table = m.cohort_retention(
        orders["customer"].to_numpy()[keep],
        dates[keep],
        period="month",
        max_periods=COHORT_PERIODS,
        as_of=st.period_end,
    )
    table = table.iloc[-COHORT_ROWS:]
    shares = table.drop(columns="cohort_size")
    series = [("all", m.cohort_average_curve(table))]
    # The latest cohorts with at least 3 observed months, newest last.
    mature = [c for c in table.index if shares.loc[c].notna().sum() >= 4][-(CHART_COHORT_SERIES - 1) :]
    for c in mature:
        series.append((c, [None if pd.isna(v) else float(v) for v in shares.loc[c].to_numpy()]))
    return table, series


#: Months of the retention projection next to the cohort table, and the most calibration months.
PROJECTION_MONTHS = 24
PROJECTION_CALIBRATION = COHORT_PERIODS
#: Share of the order history the holdout check fits on; the rest is predicted.
HOLDOUT_CALIBRATION_SHARE = 2 / 3


def _retention_projection(orders: pd.DataFrame, st: Settings) -> dict[str, Any]:
    """sBG (Fader & Hardie 2007) fitted to the customers still buying k months after their first
    purchase (:func:`kpi_xl.metrics.cohort_survivors`), over as many months as at least
    ``min_segment_n`` customers were observed for (12 at most), projected to 24 months."""
    dates = orders["date"].to_numpy()
    keep = (
        ~np.isnat(dates)
        & (dates < _d64(st.period_end) + np.timedelta64(1, "D"))
        & pd.notna(orders["customer"]).to_numpy()
    )
    if not keep.any():
        return {"error": "no orders up to the end of the reporting period"}
    ids, when = orders["customer"].to_numpy()[keep], dates[keep]
    for months in range(PROJECTION_CALIBRATION, 2, -1):
        survivors = m.cohort_survivors(ids, when, periods=months, as_of=st.period_end)
        if survivors[0] >= st.min_segment_n:
            break
    else:
        return {"error": f"fewer than {st.min_segment_n} customers were observed for 3 months"}
    try:
        model = m.ShiftedBetaGeoFitter().fit(survivors)
    except KpiInputError as exc:
        return {"error": str(exc)}
    if not (model.converged and model.identified):
        return {"error": f"the sBG model could not be fitted: {model.message}"}
    table = model.projection(PROJECTION_MONTHS)
    return {
        "alpha": float(model.params_["alpha"]),
        "beta": float(model.params_["beta"]),
        "customers": int(survivors[0]),
        "months": months,
        "table": table,
    }


def _clv_holdout(o: pd.DataFrame) -> dict[str, Any]:
    """BG/NBD and MBG/NBD fitted on the first two thirds of the order history and checked on the
    last third (:func:`kpi_xl.metrics.clv_holdout`), weekly. Pareto/NBD is left to the command
    line and CLV_HOLDOUT: its fit has no closed-form gradient and can take seconds, too long for a
    refresh."""
    days = o["date"].to_numpy().astype("datetime64[D]")
    first, last = days.min(), days.max()
    start = first + np.timedelta64(int((last - first).astype(int) * HOLDOUT_CALIBRATION_SHARE) + 1, "D")
    try:
        rep = m.clv_holdout(
            o["customer"].to_numpy(),
            days,
            holdout_start=start,
            holdout_end=last,
            time_unit="week",
            models=("bg/nbd", "mbg/nbd"),
        )
    except KpiInputError as exc:
        return {"error": str(exc)}
    return {
        "comparison": rep.comparison,
        "recommended": rep.recommended,
        "recommendation": rep.recommendation,
        "by_frequency": rep.by_frequency,
        "calibration_end": rep.calibration_end,
        "holdout_end": rep.holdout_end,
        "weeks": rep.duration,
    }


def _clv(t: dict[str, pd.DataFrame], st: Settings, predict: bool) -> dict[str, Any]:
    orders, cust = t["orders"], t["customers"]
    end = _d64(st.period_end) + np.timedelta64(1, "D")
    dates = orders["date"].to_numpy()
    # Refunded orders brought no lasting value; orders after the period are in the future of the report.
    use = (
        ~np.isnat(dates)
        & (dates < end)
        & ~np.isnan(orders["amount"].to_numpy())
        & pd.notna(orders["customer"]).to_numpy()
        & (orders["refunded"].to_numpy() != 1.0)
    )
    o = orders[use]
    if o.empty:
        return {"error": "no orders up to the end of the reporting period"}
    hist = m.historical_clv(o["customer"].to_numpy(), o["amount"].to_numpy(), margin=st.clv_margin)
    by_customer = m.historical_clv_by_customer(
        o["customer"].to_numpy(), o["amount"].to_numpy(), margin=st.clv_margin
    )
    monthly_rate = m.convert_discount_rate(
        st.clv_discount_rate, from_periods_per_year=1, to_periods_per_year=12
    )
    settings = {
        "time_unit": "week",
        "horizon": m.length_in_units(st.clv_horizon_months, "month", "week"),
        "step": "month",
        "discount_rate": monthly_rate,
        "observation_end": st.period_end,
        "margin": st.clv_margin,
        "interval": st.confidence,
    }
    ids, dates, amounts = (o[c].to_numpy() for c in ("customer", "date", "amount"))
    try:
        try:
            fitted = m.predict_clv(ids, dates, amounts, **settings)
        except KpiInputError as exc:
            if exc.argument != "interval":
                raise
            # Estimates too uncertain for an interval: the CLV itself is still shown, without one.
            fitted = m.predict_clv(ids, dates, amounts, **{**settings, "interval": None})
    except KpiInputError as exc:
        return {"error": str(exc), "historical": hist.value, "historical_by_customer": by_customer}
    seg = pd.Series(cust["segment"].to_numpy(), index=cust["customer"].to_numpy()).groupby(level=0).first()
    models = (fitted.purchase_model.as_dict(), fitted.spend_model.as_dict(), fitted.warnings)
    pred = fitted.customers.sort_values("clv", ascending=False)
    pred["segment"] = seg.reindex(pred.index.astype(str)).to_numpy()
    # Each segment fitted on its own orders: every order carries its customer's segment (Customers tab).
    # Without intervals: their draws would cost a refresh seconds per segment (the pooled one is shown).
    by_segment = m.predict_clv_by_segment(
        ids,
        dates,
        amounts,
        seg.reindex(pd.Index(ids).astype(str)).to_numpy(dtype=object),
        **{**settings, "interval": None},
    )
    bg, gg, warnings = models
    holdout = _clv_holdout(o)
    total = fitted.total()
    return {
        "holdout": holdout,
        "mean": float(pred["clv"].mean()),
        "total": float(total["clv"]),
        "total_interval": fitted.total_interval,
        "level": st.confidence,
        "customers": len(pred),
        "historical": hist.value,
        "historical_by_customer": by_customer,
        "table": pred,
        "by_segment": by_segment.table,
        "schedules": by_segment.schedules() if by_segment.predictions else None,
        "bgnbd": bg,
        "gamma_gamma": gg,
        "warnings": warnings,
    }


def _benchmarks(
    eng: _Engine, r_in: pd.DataFrame, cards: dict[str, Card], st: Settings
) -> list[dict[str, Any]]:
    sat = eng.satisfaction(r_in["csat"].to_numpy())
    acsi = None if sat is None else m.satisfaction_index(sat.value, scale=(1, st.csat_scale_max))
    churn = cards["churn"].value
    monthly = (
        None
        if churn is None
        else m.convert_churn(churn, from_periods_per_year=365.25 / st.days, to_periods_per_year=12)
    )
    yours = {"nps": cards["nps"].value, "acsi": acsi, "churn_monthly": monthly}
    return [{"benchmark": b, "yours": yours[b.metric]} for b in BENCHMARKS]
