"""Placing results into the owned sheets: native formulas where Excel can compute, values elsewhere.

:func:`place` is the one function that decides what goes into which cell. Build (openpyxl) and
both refresh paths (the package writer for a file, xlwings for the open book in Excel) call it with
a different :class:`Sink`, so the three can never drift apart.

Every native formula is handed to the sink together with the value the engine computed for the
same cell (``expected``). Build keeps that map, and the LibreOffice test recalculates the book and
compares every formula cell with it: that is how "the live formulas equal the engine" is checked.

Formulas use only functions Excel 2010 and LibreOffice 7.4 both know (COUNTIFS, SUMIFS,
AVERAGEIFS, SUMPRODUCT, ISNUMBER, TRIM, SUBSTITUTE, IF, IFERROR, OR, AND, DATE, YEAR, MONTH),
structured references to the data Tables and the ``kpi_*`` defined names of the Settings tab. No
dynamic-array functions. A segment row counts its rows with SUMPRODUCT over the trimmed label
(Excel's ``=`` ignores case), so it groups labels as the engine does; the rest use COUNTIFS.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..metrics import SMALL_SAMPLE_N
from ..metrics.rules import BLANK_LABEL, Problem
from .actions import place_actions
from .benchmarks import DIRECTION, TOLERANCE
from .compute import MONTH_DAYS, Results
from .layout import (
    BENCH_HEADER_ROW,
    CARDS,
    CHART_COHORT_ROW,
    CHART_COHORT_SERIES,
    CHART_DIST_ROW,
    CHART_SEG_ROW,
    CHART_SEGMENTS,
    CHART_TREND_ROW,
    COHORT_HEADER_ROW,
    COHORT_PERIODS,
    COHORT_ROWS,
    HOLDOUT_BUCKETS,
    HOLDOUT_COL,
    HOLDOUT_FREQ_ROW,
    HOLDOUT_MODELS,
    HOLDOUT_ROW,
    MAX_INVALID_LISTED,
    NOTES_ROWS,
    PROJECTION_COL,
    PROJECTION_ROWS,
    SEGMENT_BLOCKS,
    SLOTS,
    START,
    TABLES,
    TREND_COLS,
    TREND_MONTHS,
    TREND_PY,
    TRENDS_HEADER_ROW,
    block_row,
    card_cell,
    setting_name,
)

__all__ = [
    "Sink",
    "Context",
    "Status",
    "place",
    "FORMATS",
    "CLV_TABLE_ROW",
    "CLV_COLUMNS",
    "CLV_SCHEDULE_COL",
    "card_data_row",
]

#: Number formats (the file stores them in Excel's invariant syntax; Excel and LibreOffice show
#: the user's own decimal separator). Dates differ by language.
FORMATS = {
    "points": "0.0",
    "share": "0.0%",
    "score": "0.00",
    "currency": "#,##0.00",
    "hours": "0.0",
    "count": "#,##0",
    "int": "0",
    "change_points": "+0.0;-0.0;0.0",
    "change_share": "+0.0%;-0.0%;0.0%",
    "change_score": "+0.00;-0.00;0.00",
    "change_currency": "+#,##0.00;-#,##0.00;0.00",
    "change_hours": "+0.0;-0.0;0.0",
    "change_count": "+#,##0;-#,##0;0",
}
DATE_FORMATS = {"en": "yyyy-mm-dd", "de": "dd.mm.yyyy", "zh-Hant": "yyyy/m/d"}
DATETIME_FORMATS = {"en": "yyyy-mm-dd hh:mm", "de": "dd.mm.yyyy hh:mm", "zh-Hant": "yyyy/m/d hh:mm"}
MONTH_FORMATS = {"en": "[$-409]mmm yyyy", "de": "[$-407]mmm yyyy", "zh-Hant": 'yyyy"年"m"月"'}

#: Number format of each KPI column key of the Segments and Trends sheets.
COLUMN_FORMATS = {
    "nps_n": "count",
    "promoters": "count",
    "passives": "count",
    "detractors": "count",
    "nps": "points",
    "nps_moe": "points",
    "nps_low": "points",
    "nps_high": "points",
    "csat_n": "count",
    "csat": "share",
    "csat_moe": "share",
    "ces_n": "count",
    "ces": "score",
    "customers": "count",
    "active_start": "count",
    "lost": "count",
    "churn": "share",
    "churn_moe": "share",
    "orders": "count",
    "aov": "currency",
    "repeat": "share",
    "refund": "share",
    "tickets": "count",
    "sla": "share",
    "complaints_per_1000": "points",
    "new_customers": "count",
    "revenue": "currency",
    "complaints": "count",
    "frt": "hours",
    "engagement": "share",
}

CLV_TABLE_ROW = 24
CLV_COLUMNS = (
    "customer",
    "segment",
    "frequency",
    "recency",
    "age",
    "p_alive",
    "exp_purchases",
    "exp_value",
    "clv_value",
    "clv_low",
    "clv_high",
)
#: Summary rows at the top of the CLV sheet (A4 down), then the interval note two rows below.
CLV_SUMMARY_ROWS = 14
#: The per-month schedule by segment, right of the customer table (one blank column): a header of
#: Month, the segments' sum and each segment, then one row per month of the longest horizon allowed.
CLV_SCHEDULE_COL = len(CLV_COLUMNS) + 2
CLV_SCHEDULE_ROWS = 120


class Sink(Protocol):
    """Where placed cells go. Rows and columns are 1-based; ``sheet`` is a sheet key."""

    def formula(
        self, sheet: str, row: int, col: int, text: str, expected: Any, fmt: str | None = None
    ) -> None: ...

    def value(self, sheet: str, row: int, col: int, value: Any, fmt: str | None = None) -> None: ...

    def rows(
        self,
        sheet: str,
        row: int,
        col: int,
        values: Sequence[Sequence[Any]],
        fmts: Sequence[str | None] | None = None,
    ) -> None:
        """A block of values (one list per row), written in one go."""
        ...

    def clear(self, sheet: str, first_row: int, last_col: int, last_row: int | None = None) -> None:
        """Empty the previous, possibly longer output: columns 1..last_col from ``first_row`` down to
        the first row with none of them filled (refresh writes its blocks without gaps), at most to
        ``last_row``. The user's notes below it, after a blank row, survive."""
        ...

    def hide_rows(self, sheet: str, first: int, last: int, hidden: bool) -> None: ...


@dataclass(frozen=True)
class Context:
    """What placing needs to know about this particular workbook."""

    lang: str
    lab: dict[str, Any]
    sheet_names: dict[str, str]
    headers: dict[str, dict[str, str]]
    yes: str
    no: str

    def sheet_ref(self, key: str) -> str:
        return "'" + self.sheet_names[key].replace("'", "''") + "'!"

    def col(self, table: str, key: str) -> str:
        return f"{TABLES[table].name}[{self.headers[table][key]}]"


@dataclass(frozen=True)
class Status:
    """The start sheet's status block."""

    refreshed: dt.datetime
    rows_read: dict[str, int]
    invalid_by_table: dict[str, int]
    invalid: list[Problem]
    notes: list[str]


def _col_letter(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _none_column(values: Any) -> list[Any]:
    """:func:`_none` of every value of a number column, in one pass (a CLV table has 50,000 rows)."""
    arr = np.asarray(values, dtype=float)
    out = arr.astype(object)
    out[~np.isfinite(arr)] = None
    return out.tolist()


def _none(v: Any) -> Any:
    """NaN and missing results become empty cells, never a number."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


# --- formula text --------------------------------------------------------------------------

_S = setting_name
CURRENT = (_S("period_start"), f"{_S('period_end')}+1")
PREVIOUS = (f"2*{_S('period_start')}-{_S('period_end')}-1", _S("period_start"))


def _month_window(row: int) -> tuple[str, str]:
    return f"$A{row}", f"DATE(YEAR($A{row}),MONTH($A{row})+1,1)"


class _Label(str):
    """A criterion matching a segment label the way the engine groups labels (trimmed, any case;
    the ``(blank)`` group matches blank cells). ``COUNTIFS`` cannot trim its range, so a criteria
    list holding one is written as ``SUMPRODUCT`` (Excel 2010 and LibreOffice; no dynamic arrays)."""


#: A COUNTIFS criterion: an optional comparison, a literal, and an optional ``&expression``.
_CRITERION = re.compile(r'^"(>=|<=|<>|>|<|=)?([^"]*)"(?:&(.+))?$', re.S)


def _factor(rng: str, crit: str) -> str:
    """One COUNTIFS criterion over ``rng`` as a 0/1 array for SUMPRODUCT, counting the same cells:
    comparisons count numbers only (COUNTIFS skips text there), a word matches ignoring case."""
    if isinstance(crit, _Label):
        # TRIM removes spaces only; a no-break space (typed literally: CHAR(160) is another
        # character on a Mac) becomes a space first, as the engine strips both.
        return f'(TRIM(SUBSTITUTE({rng},"\u00a0"," "))=IF({crit}="{BLANK_LABEL}","",{crit}))'
    m = _CRITERION.match(crit)
    if m is None:
        raise ValueError(f"criterion not translatable to SUMPRODUCT: {crit}")
    op, literal, expr = m.group(1) or "=", m.group(2), m.group(3)
    if op == "<>" and not literal and expr is None:
        return f'({rng}<>"")'
    if expr is None and not _is_number(literal):
        return f'({rng}{op}"{literal}")'
    value = f"({expr})" if expr is not None else literal
    return f"ISNUMBER({rng})*({rng}{op}{value})"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _mask(pairs: list[tuple[str, str]]) -> str:
    return "*".join(_factor(r, c) for r, c in pairs)


class _F:
    """Builds criteria lists and COUNTIFS/SUMIFS/AVERAGEIFS text against the workbook's Tables (as
    SUMPRODUCT where a criterion is a segment label, see :class:`_Label`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def c(self, table: str, key: str) -> str:
        return self.ctx.col(table, key)

    def window(self, table: str, key: str, w: tuple[str, str]) -> list[tuple[str, str]]:
        r = self.c(table, key)
        return [(r, f'">="&{w[0]}'), (r, f'"<"&({w[1]})')]

    @staticmethod
    def countifs(pairs: list[tuple[str, str]]) -> str:
        if any(isinstance(c, _Label) for _, c in pairs):
            return f"SUMPRODUCT({_mask(pairs)})"
        return "COUNTIFS(" + ",".join(f"{r},{c}" for r, c in pairs) + ")"

    @staticmethod
    def sumifs(target: str, pairs: list[tuple[str, str]]) -> str:
        if any(isinstance(c, _Label) for _, c in pairs):
            # The comma form treats text in the target as 0, as SUMIFS does.
            return f"SUMPRODUCT({_mask(pairs)},{target})"
        return f"SUMIFS({target}," + ",".join(f"{r},{c}" for r, c in pairs) + ")"

    @staticmethod
    def averageifs(target: str, pairs: list[tuple[str, str]]) -> str:
        if any(isinstance(c, _Label) for _, c in pairs):
            # No match divides by 0: #DIV/0!, the error AVERAGEIFS gives (callers wrap it in IFERROR).
            return f"SUMPRODUCT({_mask(pairs)},{target})/SUMPRODUCT({_mask(pairs)})"
        return f"AVERAGEIFS({target}," + ",".join(f"{r},{c}" for r, c in pairs) + ")"

    def nps_valid(self) -> list[tuple[str, str]]:
        r = self.c("responses", "nps")
        return [(r, '">=0"'), (r, '"<=10"')]

    def nps_prom(self) -> list[tuple[str, str]]:
        r = self.c("responses", "nps")
        return [(r, f'">="&{_S("nps_promoter_min")}'), (r, '"<=10"')]

    def nps_det(self) -> list[tuple[str, str]]:
        r = self.c("responses", "nps")
        return [(r, '">=0"'), (r, f'"<="&{_S("nps_detractor_max")}')]

    def csat_valid(self) -> list[tuple[str, str]]:
        r = self.c("responses", "csat")
        return [(r, '">=1"'), (r, f'"<="&{_S("csat_scale_max")}')]

    def csat_sat(self) -> list[tuple[str, str]]:
        r = self.c("responses", "csat")
        return [(r, f'">="&{_S("csat_threshold")}'), (r, f'"<="&{_S("csat_scale_max")}')]

    def ces_valid(self) -> list[tuple[str, str]]:
        r = self.c("responses", "ces")
        return [(r, '">=1"'), (r, f'"<="&{_S("ces_scale_max")}')]

    def amount_valid(self) -> list[tuple[str, str]]:
        return [(self.c("orders", "amount"), '">=0"')]

    def flag(self, table: str, key: str, word: str) -> list[tuple[str, str]]:
        return [(self.c(table, key), f'"{word}"')]

    def engagement_complete(self) -> list[tuple[str, str]]:
        # Rows the engine would skip (a blank part, no reach) stay out of both sums.
        return [
            (self.c("engagement", "likes"), '">=0"'),
            (self.c("engagement", "comments"), '">=0"'),
            (self.c("engagement", "shares"), '">=0"'),
            (self.c("engagement", "reach"), '">0"'),
        ]

    # whole-KPI expressions over a window and extra criteria --------------------------------

    def nps(self, base: list[tuple[str, str]]) -> str:
        n = self.countifs(base + self.nps_valid())
        prom, det = self.countifs(base + self.nps_prom()), self.countifs(base + self.nps_det())
        return f'IF({n}=0,"",({prom}-{det})/{n}*100)'

    def csat(self, base: list[tuple[str, str]]) -> str:
        n = self.countifs(base + self.csat_valid())
        return f'IF({n}=0,"",{self.countifs(base + self.csat_sat())}/{n})'

    def ces(self, base: list[tuple[str, str]]) -> str:
        return f'IFERROR({self.averageifs(self.c("responses", "ces"), base + self.ces_valid())},"")'

    def aov(self, base: list[tuple[str, str]]) -> str:
        return f'IFERROR({self.averageifs(self.c("orders", "amount"), base + self.amount_valid())},"")'

    def refund(self, base: list[tuple[str, str]]) -> str:
        yes = self.countifs(base + self.flag("orders", "refunded", self.ctx.yes))
        no = self.countifs(base + self.flag("orders", "refunded", self.ctx.no))
        return f'IF({yes}+{no}=0,"",{yes}/({yes}+{no}))'

    def engagement(self, base: list[tuple[str, str]]) -> str:
        full = base + self.engagement_complete()
        reach = self.sumifs(self.c("engagement", "reach"), full)
        parts = "+".join(self.sumifs(self.c("engagement", k), full) for k in ("likes", "comments", "shares"))
        return f'IF({reach}=0,"",({parts})/{reach})'

    def active_start(self, extra: list[tuple[str, str]], w: tuple[str, str]) -> str:
        """Customers signed up before the window and not churned before it (the churn base S)."""
        signup, churn = self.c("customers", "signup"), self.c("customers", "churn")
        before = extra + [(signup, f'"<"&{w[0]}')]
        gone = before + [(churn, f'"<"&{w[0]}')]
        return f"({self.countifs(before)}-{self.countifs(gone)})"

    def lost(self, extra: list[tuple[str, str]], w: tuple[str, str]) -> str:
        signup, churn = self.c("customers", "signup"), self.c("customers", "churn")
        return self.countifs(
            extra + [(signup, f'"<"&{w[0]}'), (churn, f'">="&{w[0]}'), (churn, f'"<"&({w[1]})')]
        )

    def churn(self, extra: list[tuple[str, str]], w: tuple[str, str]) -> str:
        s = self.active_start(extra, w)
        return f'IF({s}=0,"",{self.lost(extra, w)}/{s})'


def _guard(cond: list[str], expr: str) -> str:
    """``IF(OR(conditions),"",expr)``: an empty cell instead of a number where there is none."""
    if not cond:
        return expr
    test = cond[0] if len(cond) == 1 else "OR(" + ",".join(cond) + ")"
    return f'IF({test},"",{expr})'


# --- placing ---------------------------------------------------------------------------------


def card_data_row(key: str) -> int:
    """Row of a KPI card's value/previous pair on the chart-data sheet."""
    return 2 + [c[0] for c in CARDS].index(key)


def place(sink: Sink, ctx: Context, res: Results, status: Status) -> None:
    """Write every dynamic cell of the owned sheets: formulas (with expected values) and values."""
    f = _F(ctx)
    _place_start(sink, ctx, status)
    _place_segments(sink, ctx, f, res)
    _place_trends(sink, ctx, f, res)
    _place_chartdata(sink, ctx, f, res)
    _place_dashboard(sink, ctx, res)
    _place_cohorts(sink, ctx, res)
    _place_clv(sink, ctx, res)
    _place_benchmarks(sink, ctx, f, res)
    place_actions(sink, ctx, res.actions, {**FORMATS, "date": DATE_FORMATS[ctx.lang]})


def _place_start(sink: Sink, ctx: Context, st: Status) -> None:
    t = ctx.lab["text"]
    sink.value("start", START.status_row + 1, 2, st.refreshed, DATETIME_FORMATS[ctx.lang])
    rows = [[ctx.sheet_names[k], st.rows_read.get(k, 0), st.invalid_by_table.get(k, 0)] for k in TABLES]
    sink.rows("start", START.tables_row, 1, rows, [None, FORMATS["count"], FORMATS["count"]])
    notes = list(st.notes)
    if len(notes) > NOTES_ROWS:
        notes = notes[: NOTES_ROWS - 1] + [f"... {len(st.notes) - NOTES_ROWS + 1} more"]
    sink.rows("start", START.notes_row + 1, 1, [[n] for n in notes] + [[None]] * (NOTES_ROWS - len(notes)))
    first = START.invalid_row + 2
    sink.clear("start", first, 5, START.last_row)
    shown = st.invalid[:MAX_INVALID_LISTED]
    body: list[list[Any]] = [[i.source, i.row, i.column, _cell_text(i.value), i.reason] for i in shown]
    if len(st.invalid) > MAX_INVALID_LISTED:
        body.append([t["inv_more"].format(n=len(st.invalid) - MAX_INVALID_LISTED), None, None, None, None])
    if not st.invalid:
        body.append([t["none_invalid"], None, None, None, None])
    sink.rows("start", first, 1, body)


def _cell_text(v: Any) -> Any:
    """Show an invalid value as it was typed; dates as ISO text so a bad date is recognisable."""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    return v


def _place_segments(sink: Sink, ctx: Context, f: _F, res: Results) -> None:
    small = ctx.lab["text"]["small_n"]
    for b_index, spec in enumerate(SEGMENT_BLOCKS):
        block = res.blocks[spec.key]
        first = block_row(b_index) + 2
        cols = {k: i + 1 for i, k in enumerate(spec.columns)}
        L = {k: _col_letter(i) for k, i in cols.items()}
        for slot in [*range(SLOTS), "total"]:
            r = first + (SLOTS if slot == "total" else slot)
            is_total = slot == "total"
            label = (
                ctx.lab["text"]["total"]
                if is_total
                else (block.groups[slot] if slot < len(block.groups) else None)
            )
            sink.value("segments", r, 1, label)
            present = is_total or label is not None
            cond = [] if is_total else [f'$A{r}=""']
            for key in spec.columns[1:]:
                c = cols[key]
                fmt = FORMATS[COLUMN_FORMATS[key]] if key in COLUMN_FORMATS else None
                v = block.values.get((slot, key)) if present else None
                if key in spec.python:
                    sink.value("segments", r, c, _none(v), fmt)
                    continue
                if key == "flag":
                    n_col = L["nps_n"] if spec.table == "responses" else L["active_start"]
                    text = _guard(cond, f'IF({n_col}{r}<{_S("min_segment_n")},"{small}","")')
                    want = (small if block.values.get((slot, "_small")) else None) if present else None
                    sink.formula("segments", r, c, text, want)
                    continue
                text = _segment_formula(f, spec, key, r, L, cond, is_total)
                sink.formula("segments", r, c, text, _none(v) if present else None, fmt)
        note = ctx.lab["text"]["more_groups"].format(n=block.more) if block.more else None
        sink.value("segments", first + SLOTS + 1, 1, note)


def _segment_formula(
    f: _F, spec, key: str, r: int, L: dict[str, str], cond: list[str], is_total: bool
) -> str:
    # A segment row counts the rows whose label groups with its own (trimmed, any case; blanks in
    # "(blank)"), as the engine groups them.
    dim = [] if is_total else [(f.c(spec.table, spec.dimension), _Label(f"$A{r}"))]
    if spec.table == "responses":
        base = dim + f.window("responses", "date", CURRENT)
        exprs = {
            "nps_n": f.countifs(base + f.nps_valid()),
            "promoters": f.countifs(base + f.nps_prom()),
            "detractors": f.countifs(base + f.nps_det()),
            "passives": f"{L['nps_n']}{r}-{L['promoters']}{r}-{L['detractors']}{r}",
            "nps": _guard(
                [f"{L['nps_n']}{r}=0"], f"({L['promoters']}{r}-{L['detractors']}{r})/{L['nps_n']}{r}*100"
            ),
            "csat_n": f.countifs(base + f.csat_valid()),
            "csat": _guard([f"{L['csat_n']}{r}=0"], f"{f.countifs(base + f.csat_sat())}/{L['csat_n']}{r}"),
            "ces_n": f.countifs(base + f.ces_valid()),
            "ces": _guard(
                [f"{L['ces_n']}{r}=0"], f.averageifs(f.c("responses", "ces"), base + f.ces_valid())
            ),
        }
    else:
        exprs = {
            "customers": f.countifs(dim + [(f.c("customers", "customer"), '"<>"')]),
            "active_start": f.active_start(dim, CURRENT),
            "lost": f.lost(dim, CURRENT),
            "churn": _guard([f"{L['active_start']}{r}=0"], f"{L['lost']}{r}/{L['active_start']}{r}"),
        }
    return _guard(cond, exprs[key])


def _place_trends(sink: Sink, ctx: Context, f: _F, res: Results) -> None:
    month_fmt = MONTH_FORMATS[ctx.lang]
    L = {k: _col_letter(i + 1) for i, k in enumerate(TREND_COLS)}
    for i in range(TREND_MONTHS):
        r = TRENDS_HEADER_ROW + 1 + i
        row = res.trends[i]
        if i == 0:
            end = _S("period_end")
            month = f"DATE(YEAR({end}),MONTH({end})-{TREND_MONTHS - 1},1)"
        else:
            month = f"DATE(YEAR($A{r - 1}),MONTH($A{r - 1})+1,1)"
        sink.formula("trends", r, 1, month, pd.Timestamp(row["month"]).to_pydatetime(), month_fmt)
        w = _month_window(r)
        rw = f.window("responses", "date", w)
        ow = f.window("orders", "date", w)
        tw = f.window("tickets", "created", w)
        exprs = {
            "nps_n": f.countifs(rw + f.nps_valid()),
            "nps": _guard(
                [f"{L['nps_n']}{r}=0"],
                f"({f.countifs(rw + f.nps_prom())}-{f.countifs(rw + f.nps_det())})/{L['nps_n']}{r}*100",
            ),
            "csat_n": f.countifs(rw + f.csat_valid()),
            "csat": _guard([f"{L['csat_n']}{r}=0"], f"{f.countifs(rw + f.csat_sat())}/{L['csat_n']}{r}"),
            "ces": f.ces(rw),
            "new_customers": f.countifs(f.window("customers", "signup", w)),
            "orders": f.countifs(ow + f.amount_valid()),
            "revenue": f.sumifs(f.c("orders", "amount"), ow + f.amount_valid()),
            "aov": _guard([f"{L['orders']}{r}=0"], f"{L['revenue']}{r}/{L['orders']}{r}"),
            "refund": f.refund(ow),
            "tickets": f.countifs(tw),
            "complaints": f.countifs(tw + f.flag("tickets", "complaint", ctx.yes)),
            "engagement": f.engagement(f.window("engagement", "date", w)),
        }
        for j, key in enumerate(TREND_COLS[1:], start=2):
            fmt = FORMATS[COLUMN_FORMATS[key]]
            if key in TREND_PY:
                sink.value("trends", r, j, _none(row[key]), fmt)
            else:
                sink.formula("trends", r, j, exprs[key], _none(row[key]), fmt)


def _card_formulas(f: _F, key: str, w: tuple[str, str]) -> str | None:
    rw = f.window("responses", "date", w)
    return {
        "nps": lambda: f.nps(rw),
        "csat": lambda: f.csat(rw),
        "ces": lambda: f.ces(rw),
        "churn": lambda: f.churn([], w),
        "aov": lambda: f.aov(f.window("orders", "date", w)),
        "engagement": lambda: f.engagement(f.window("engagement", "date", w)),
    }.get(key, lambda: None)()


def _place_chartdata(sink: Sink, ctx: Context, f: _F, res: Results) -> None:
    for key, unit, native in CARDS:
        r = card_data_row(key)
        card = res.cards[key]
        sink.value("chartdata", r, 1, ctx.lab["kpi"][key])
        for col, w, v in ((2, CURRENT, card.value), (3, PREVIOUS, card.previous)):
            if native:
                sink.formula("chartdata", r, col, _card_formulas(f, key, w), _none(v), FORMATS[unit])
            else:
                sink.value("chartdata", r, col, _none(v), FORMATS[unit])
    # NPS distribution: three series so detractors, passives and promoters get their own colour.
    nps = f.c("responses", "nps")
    cur = f.window("responses", "date", CURRENT)
    for i, (score, det, pas, pro) in enumerate(res.nps_distribution):
        r = CHART_DIST_ROW + 1 + i
        sink.value("chartdata", r, 1, score)
        count = f.countifs(cur + [(nps, f'">="&$A{r}'), (nps, f'"<="&$A{r}')])
        dmax, pmin = _S("nps_detractor_max"), _S("nps_promoter_min")
        sink.formula("chartdata", r, 2, f"IF($A{r}<={dmax},{count},0)", det)
        sink.formula("chartdata", r, 3, f"IF(AND($A{r}>{dmax},$A{r}<{pmin}),{count},0)", pas)
        sink.formula("chartdata", r, 4, f"IF($A{r}>={pmin},{count},0)", pro)
    trend = [[label, _none(n), _none(c)] for label, n, c in res.trend_chart]
    sink.rows("chartdata", CHART_TREND_ROW + 1, 1, trend, [None, FORMATS["points"], FORMATS["share"]])
    seg = [[g, _none(v)] for g, v in res.segment_chart]
    seg += [[None, None]] * (CHART_SEGMENTS - len(seg))
    sink.rows("chartdata", CHART_SEG_ROW + 1, 1, seg, [None, FORMATS["points"]])
    # Empty slots are hidden: charts skip hidden rows, so no blank bars or categories appear.
    n_seg = len(res.segment_chart)
    sink.hide_rows("chartdata", CHART_SEG_ROW + 1, CHART_SEG_ROW + CHART_SEGMENTS, False)
    if n_seg < CHART_SEGMENTS:
        sink.hide_rows("chartdata", CHART_SEG_ROW + 1 + n_seg, CHART_SEG_ROW + CHART_SEGMENTS, True)
    labels = [
        ctx.lab["text"]["series_avg_retention"] if name == "all" else name for name, _ in res.cohort_chart
    ]
    labels += [None] * (CHART_COHORT_SERIES - len(labels))
    sink.rows("chartdata", CHART_COHORT_ROW, 2, [labels])
    curves = [curve for _, curve in res.cohort_chart]
    body = []
    for k in range(COHORT_PERIODS + 1):
        body.append(
            [k]
            + [_none(c[k]) if k < len(c) else None for c in curves]
            + [None] * (CHART_COHORT_SERIES - len(curves))
        )
    sink.rows("chartdata", CHART_COHORT_ROW + 1, 1, body, [None] + [FORMATS["share"]] * CHART_COHORT_SERIES)


def _place_dashboard(sink: Sink, ctx: Context, res: Results) -> None:
    date_fmt = DATE_FORMATS[ctx.lang]
    st = res.settings
    sink.formula(
        "dashboard", 2, 2, _S("period_start"), dt.datetime.combine(st.period_start, dt.time()), date_fmt
    )
    sink.formula("dashboard", 2, 4, _S("period_end"), dt.datetime.combine(st.period_end, dt.time()), date_fmt)
    data = ctx.sheet_ref("chartdata")
    pct = f"{st.confidence * 100:g}%"
    for i, (key, unit, _native) in enumerate(CARDS):
        row, col = card_cell(i)
        card = res.cards[key]
        dr = card_data_row(key)
        # A reference to an empty cell would show 0: a KPI without data must stay blank instead.
        value = f'IF({data}$B${dr}="","",{data}$B${dr})'
        sink.formula("dashboard", row + 1, col, value, _none(card.value), FORMATS[unit])
        change = None
        if card.value is not None and card.previous is not None:
            change = card.value - card.previous
        sink.formula(
            "dashboard",
            row + 2,
            col + 1,
            f'IF(OR({data}$B${dr}="",{data}$C${dr}=""),"",{data}$B${dr}-{data}$C${dr})',
            change,
            FORMATS[f"change_{unit}"],
        )
        sink.value("dashboard", row + 3, col, ctx.lab["text"]["interval"].format(p=pct))
        sink.value("dashboard", row + 3, col + 1, _interval_text(card.interval, unit, ctx.lang))


def _number(x: float, unit: str, lang: str) -> str:
    if unit == "share":
        s = f"{x * 100:.1f}%"
    elif unit in ("currency",):
        s = f"{x:,.2f}"
    elif unit == "score":
        s = f"{x:.2f}"
    else:
        s = f"{x:.1f}"
    if lang == "de":
        s = s.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return s


def _interval_text(interval: tuple[float, float] | None, unit: str, lang: str) -> str | None:
    if interval is None:
        return None
    return f"{_number(interval[0], unit, lang)} – {_number(interval[1], unit, lang)}"


def _place_cohorts(sink: Sink, ctx: Context, res: Results) -> None:
    body: list[list[Any]] = []
    table = res.cohorts
    if table is not None:
        for cohort, row in table.iterrows():
            shares = [_none(row.get(k)) for k in range(COHORT_PERIODS + 1)]
            body.append([cohort, int(row["cohort_size"])] + shares)
    body += [[None] * (COHORT_PERIODS + 3)] * (COHORT_ROWS - len(body))
    fmts = [None, FORMATS["count"]] + [FORMATS["share"]] * (COHORT_PERIODS + 1)
    sink.rows("cohorts", COHORT_HEADER_ROW + 1, 1, body, fmts)
    _place_projection(sink, ctx, res)


def _place_projection(sink: Sink, ctx: Context, res: Results) -> None:
    """The sBG retention projection beside the cohort table: a note with the fit, then per month
    the observed share still buying, the model's survival and retention."""
    t = ctx.lab["text"]
    proj = res.retention_projection
    body: list[list[Any]] = []
    if "error" in proj:
        note = t["retention_projection_not_available"].format(why=proj["error"])
    else:
        note = t["retention_projection_note"].format(
            alpha=proj["alpha"], beta=proj["beta"], customers=proj["customers"], months=proj["months"]
        )
        for month, row in proj["table"].iterrows():
            body.append(
                [int(month), _none(row["observed_survival"]), _none(row["survival"]), _none(row["retention"])]
            )
    sink.value("cohorts", COHORT_HEADER_ROW - 1, PROJECTION_COL, note)
    body += [[None] * 4] * (PROJECTION_ROWS - len(body))
    share = FORMATS["share"]
    sink.rows(
        "cohorts", COHORT_HEADER_ROW + 1, PROJECTION_COL, body[:PROJECTION_ROWS], ["0", share, share, share]
    )


def _place_clv(sink: Sink, ctx: Context, res: Results) -> None:
    k, t = ctx.lab["kpi"], ctx.lab["text"]
    clv = res.clv
    cur = res.settings.currency
    summary: list[list[Any]] = []
    note = None
    if "error" in clv:
        summary.append([t["clv_not_available"].format(why=clv["error"]), None])
    else:
        bg, gg = clv["bgnbd"], clv["gamma_gamma"]
        level = f"{clv['level'] * 100:g}%"
        bounds = clv["total_interval"] or (None, None)
        note = t["clv_interval_note"].format(level=level) if clv["total_interval"] else None
        summary += [
            [f"{k['clv']} ({cur})", clv["mean"]],
            [f"{k['clv']} × {clv['customers']} ({cur})", clv["total"]],
            [t["clv_interval_low"].format(level=level, cur=cur), _none(bounds[0])],
            [t["clv_interval_high"].format(level=level, cur=cur), _none(bounds[1])],
            [f"{k['clv_hist']} ({cur})", clv["historical"]],
        ]
        summary += [[f"BG/NBD {p}", _none(bg[p])] for p in ("r", "alpha", "a", "b")]
        summary += [[f"Gamma-Gamma {p}", _none(gg[p])] for p in ("p", "q", "v")]
        summary.append(["BG/NBD log-likelihood", _none(bg["log_likelihood"])])
    sink.rows("clv", 4, 1, [[k["customers"], clv.get("customers")]], [None, FORMATS["count"]])
    summary = (summary + [[None, None]] * CLV_SUMMARY_ROWS)[: CLV_SUMMARY_ROWS - 1]
    sink.rows("clv", 5, 1, summary, [None, "#,##0.00"])
    sink.value("clv", 5 + CLV_SUMMARY_ROWS, 1, note)
    _place_clv_segments(sink, ctx, clv)
    _place_holdout(sink, ctx, clv.get("holdout", {"error": clv.get("error", "")}))
    sink.clear("clv", CLV_TABLE_ROW + 1, len(CLV_COLUMNS))
    if "table" in clv:
        tab = clv["table"]
        none = np.full(len(tab), np.nan)
        bands = (tab["clv_low"], tab["clv_high"]) if "clv_low" in tab else (none, none)
        numbers = (
            "frequency",
            "recency",
            "T",
            "probability_alive",
            "expected_purchases",
            "expected_average_value",
        )
        columns = [
            [str(cid) for cid in tab.index],
            [_none(seg) for seg in tab["segment"]],
            *(_none_column(c) for c in (*(tab[k] for k in numbers), tab["clv"], *bands)),
        ]
        body = [list(line) for line in zip(*columns, strict=True)]
        cash = FORMATS["currency"]
        fmts = [None, None, "0", "0.0", "0.0", "0.000", "0.00", cash, cash, cash, cash]
        sink.rows("clv", CLV_TABLE_ROW + 1, 1, body, fmts)


def _place_clv_segments(sink: Sink, ctx: Context, clv: dict[str, Any]) -> None:
    """Each segment fitted on its own (:func:`kpi_xl.metrics.predict_clv_by_segment`): customers, mean
    and total CLV, small or not fitted (and why); and the discounted CLV per month of each segment
    beside the customer table."""
    t = ctx.lab["text"]
    cash = FORMATS["currency"]
    by_seg: list[list[Any]] = []
    table = clv.get("by_segment")
    if table is not None:
        for seg, row in table.head(SLOTS).iterrows():
            fitted = row["status"] == "fitted"
            why = "" if fitted else str(row["status"]).removeprefix("not fitted: ")
            flag = t["clv_not_fitted"].format(why=why) if not fitted else None
            if fitted and row["small"]:
                flag = t["clv_small"].format(n=SMALL_SAMPLE_N)
            by_seg.append([seg, int(row["customers"]), _none(row["clv_mean"]), _none(row["clv_total"]), flag])
    by_seg += [[None] * 5] * (SLOTS - len(by_seg))
    sink.rows("clv", 5, 4, by_seg, [None, FORMATS["count"], cash, cash, None])
    sink.value("clv", 5 + SLOTS, 4, t["clv_segment_note"] if table is not None else None)
    months = clv.get("schedules")
    width = SLOTS + 2
    head: list[Any] = [None] * width
    body: list[list[Any]] = []
    if months is not None:
        names = list(months.columns[:SLOTS])
        month, total = t["clv_schedule_header"]
        head = [month, total, *names, *[None] * (SLOTS - len(names))]
        for step, row in months.iterrows():
            values = [_none(row[n]) for n in names]
            body.append([int(step), float(row.sum()), *values, *[None] * (SLOTS - len(names))])
    body += [[None] * width] * (CLV_SCHEDULE_ROWS - len(body))
    sink.rows("clv", CLV_TABLE_ROW, CLV_SCHEDULE_COL, [head])
    sink.rows("clv", CLV_TABLE_ROW + 1, CLV_SCHEDULE_COL, body, ["0", *[cash] * (SLOTS + 1)])


def _place_holdout(sink: Sink, ctx: Context, rep: dict[str, Any]) -> None:
    """The holdout check beside the CLV summary: the split, one row per model (log-likelihood,
    BIC, holdout MAE, RMSE, bias, totals), the recommendation, and mean holdout purchases by
    purchases before, actual and predicted by the recommended model (the chart reads these)."""
    t = ctx.lab["text"]
    models: list[list[Any]] = []
    buckets: list[list[Any]] = []
    if "error" in rep:
        note = t["clv_holdout_not_available"].format(why=rep["error"])
        advice = None
    else:
        note = t["clv_holdout_note"].format(
            cal_end=rep["calibration_end"].date(), weeks=rep["weeks"], end=rep["holdout_end"].date()
        )
        advice = t["clv_holdout_recommended"].format(why=rep["recommendation"])
        for name, r in rep["comparison"].iterrows():
            models.append(
                [name, _none(r["log_likelihood"]), _none(r["bic"]), _none(r["mae"]), _none(r["rmse"]),
                 _none(r["bias"]), _none(r["predicted_total"]), _none(r["actual_total"])]
            )  # fmt: skip
        best = f"predicted_{rep['recommended']}"
        for bucket, r in rep["by_frequency"].iterrows():
            buckets.append([str(bucket), int(r["customers"]), _none(r["actual"]), _none(r.get(best))])
    sink.value("clv", HOLDOUT_ROW + 1, HOLDOUT_COL, note)
    models += [[None] * 8] * (HOLDOUT_MODELS - len(models))
    fmts = [None, "0.0", "0.0", "0.000", "0.000", "0.000", "#,##0.0", "#,##0"]
    sink.rows("clv", HOLDOUT_ROW + 3, HOLDOUT_COL, models, fmts)
    sink.value("clv", HOLDOUT_ROW + 3 + HOLDOUT_MODELS, HOLDOUT_COL, advice)
    buckets += [[None] * 4] * (HOLDOUT_BUCKETS - len(buckets))
    sink.rows("clv", HOLDOUT_FREQ_ROW + 1, HOLDOUT_COL, buckets, [None, FORMATS["count"], "0.00", "0.00"])


def _place_benchmarks(sink: Sink, ctx: Context, f: _F, res: Results) -> None:
    t = ctx.lab["text"]
    data = ctx.sheet_ref("chartdata")
    rw = f.window("responses", "date", CURRENT)
    mean = f.averageifs(f.c("responses", "csat"), rw + f.csat_valid())
    acsi = f'IFERROR(({mean}-1)/({_S("csat_scale_max")}-1)*100,"")'
    churn = f"{data}$B${card_data_row('churn')}"
    yours = {
        "nps": f'IF({data}$B${card_data_row("nps")}="","",{data}$B${card_data_row("nps")})',
        "acsi": acsi,
        "churn_monthly": (
            f'IF({churn}="","",1-(1-{churn})^({MONTH_DAYS}/({_S("period_end")}-{_S("period_start")}+1)))'
        ),
    }
    for i, item in enumerate(res.benchmarks):
        b = item["benchmark"]
        r = BENCH_HEADER_ROW + 1 + i
        fmt = FORMATS["share"] if b.metric == "churn_monthly" else FORMATS["points"]
        mine = _none(item["yours"])
        sink.formula("benchmarks", r, 7, yours[b.metric], mine, fmt)
        gap = None if mine is None else mine - b.value
        sink.formula("benchmarks", r, 8, f'IF(G{r}="","",G{r}-C{r})', gap, fmt)
        d, tol = DIRECTION[b.metric], TOLERANCE[b.metric]
        green, amber, red = t["status_green"], t["status_amber"], t["status_red"]
        status = None
        if gap is not None:
            status = green if d * gap >= 0 else (amber if d * gap >= -tol else red)
        text = f'IF(H{r}="","",IF({d}*H{r}>=0,"{green}",IF({d}*H{r}>=-{tol},"{amber}","{red}")))'
        sink.formula("benchmarks", r, 9, text, status)
