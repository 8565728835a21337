"""Which sheets the template has, which of them kpi-xl owns, and where everything sits.

This module is the one description of the workbook that build, refresh and the tests share.

Stable identity across languages and renames: sheet names are translated (``Segments`` is
``Segmente`` in German), so nothing finds a sheet by its name. Build writes workbook-level
defined names instead:

* ``kpi_xl_template`` = ``"kpi-xl;<version>;<lang>"`` marks a kpi-xl workbook;
* ``kpi_sheet_<key>`` points at A1 of each sheet (Excel moves it along when a sheet is renamed);
* ``kpi_<setting>`` points at each setting's value cell; the native formulas use these names.

Data tabs are Excel Tables (``tblResponses`` ...); formulas use structured references, so a
Table that grows in Excel needs no formula change. Refresh finds a Table's columns by header
(any supported language), not by position.

Ownership: refresh writes only the sheets in :data:`OWNED` (and on the start sheet only the
status area); it never deletes or recreates a sheet. Settings and the data tabs belong to the
user.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..metrics.rules import Kind

__all__ = [
    "TEMPLATE_VERSION",
    "DEFAULT_TEMPLATE_NAME",
    "MARKER_NAME",
    "SHEETS",
    "OWNED",
    "DATA_SHEETS",
    "ADDED_SHEETS",
    "sheet_anchor",
    "setting_name",
    "Column",
    "TableSpec",
    "TABLES",
    "Setting",
    "DEMO_PERIOD",
    "SETTINGS",
    "SLOTS",
    "CHART_SEGMENTS",
    "TREND_MONTHS",
    "COHORT_ROWS",
    "COHORT_PERIODS",
    "MAX_INVALID_LISTED",
    "NOTES_ROWS",
    "StartLayout",
    "START",
    "SegmentBlock",
    "SEGMENT_BLOCKS",
    "block_row",
    "TRENDS_HEADER_ROW",
    "TREND_COLS",
    "TREND_PY",
    "COHORT_HEADER_ROW",
    "CARDS",
    "CARDS_PER_ROW",
    "CARD_FIRST_ROW",
    "CARD_HEIGHT",
    "card_cell",
    "CHART_DIST_ROW",
    "CHART_TREND_ROW",
    "CHART_SEG_ROW",
    "CHART_COHORT_ROW",
    "CHART_COHORT_SERIES",
    "CHART_THEMES",
    "CHART_THEMES_ROW",
    "SIDE_COL",
    "CARD_WIDTH",
    "SIDE_GAP_WIDTH",
    "DASHBOARD_ROWS",
    "FIRST_CARDS",
    "BENCH_HEADER_ROW",
    "HOLDOUT_ROW",
    "HOLDOUT_COL",
    "HOLDOUT_MODELS",
    "HOLDOUT_BUCKETS",
    "HOLDOUT_FREQ_ROW",
    "PROJECTION_COL",
    "PROJECTION_ROWS",
]

TEMPLATE_VERSION = 1

#: File name of the template; its refresh module is ``workbooks/kpi_report.py`` (xlwings runs
#: ``import kpi_report; kpi_report.main()`` for a book named ``kpi_report.xlsm``).
DEFAULT_TEMPLATE_NAME = "kpi_report.xlsm"

MARKER_NAME = "kpi_xl_template"

#: Sheet keys in tab order. The start sheet comes first (it holds the Refresh button) and the
#: dashboard second, so the dashboard is page 2 of a whole-book print.
SHEETS = (
    "start",
    "dashboard",
    "segments",
    "trends",
    "cohorts",
    "clv",
    "comments",
    "followup",
    "advocates",
    "drivers",
    "benchmarks",
    "settings",
    "responses",
    "customers",
    "orders",
    "tickets",
    "engagement",
    "chartdata",
)
#: The report sheets (between the dashboard and the settings): they print one page wide.
REPORT_SHEETS = SHEETS[SHEETS.index("segments") : SHEETS.index("settings")]

OWNED = frozenset(
    {
        "start", "dashboard", "segments", "trends", "cohorts", "clv", "comments", "followup", "advocates",
        "drivers", "benchmarks", "chartdata",
    }
)  # fmt: skip
DATA_SHEETS = ("responses", "customers", "orders", "tickets", "engagement")
#: Owned sheets added after the first template: a workbook built before them still refreshes (its
#: other sheets), and a note says how to get them.
ADDED_SHEETS = frozenset({"comments", "followup", "advocates", "drivers"})


def sheet_anchor(key: str) -> str:
    """Defined name that finds a sheet whatever it is called."""
    return f"kpi_sheet_{key}"


def setting_name(key: str) -> str:
    """Defined name of a setting's value cell, as used in the native formulas."""
    return f"kpi_{key}"


@dataclass(frozen=True)
class Column:
    """One column of a data Table.

    ``kind`` is the engine's vocabulary (:data:`kpi_xl.metrics.rules.KINDS`): ``"date"`` (with
    ``time``: a date and time), ``"id"``, ``"label"`` (a segment label) and ``"text"`` (any text or
    number), ``"score"`` (a whole number on the scale named by ``scale``: ``"nps"``, ``"csat"`` or
    ``"ces"``, set on the Settings tab), ``"amount"`` (a number >= 0), ``"count"`` (a whole number
    >= 0), ``"flag"`` (the workbook's yes/no words, as offered by the drop-down). ``required``: a
    row with other values needs this one; a blank there is listed on the Start tab.
    """

    key: str
    kind: Kind
    width: float = 14
    scale: str | None = None
    time: bool = False
    required: bool = False
    #: An optional column may be missing from the user's Table (it reads as blank): columns added
    #: after the first template, so a workbook built before them keeps refreshing.
    optional: bool = False


@dataclass(frozen=True)
class TableSpec:
    key: str
    name: str
    columns: tuple[Column, ...]

    def letter(self, key: str) -> str:
        """Column letter of a column in the sheet (Tables start at A1)."""
        return chr(ord("A") + [c.key for c in self.columns].index(key))


TABLES: dict[str, TableSpec] = {
    "responses": TableSpec(
        "responses",
        "tblResponses",
        (
            Column("date", "date", 12),
            Column("customer", "id", 12),
            Column("segment", "label", 14),
            Column("nps", "score", 11, scale="nps"),
            Column("csat", "score", 11, scale="csat"),
            Column("ces", "score", 11, scale="ces"),
            Column("comment", "text", 40),
            # Attribute ratings for the key driver analysis, on the CSAT scale (1..csat_scale_max).
            Column("price", "score", 11, scale="csat", optional=True),
            Column("support", "score", 11, scale="csat", optional=True),
            Column("product", "score", 11, scale="csat", optional=True),
            # When the team answered the comment (closing the loop): feedback engagement, Follow-up tab.
            Column("answered", "date", 17, time=True, optional=True),
        ),
    ),
    "customers": TableSpec(
        "customers",
        "tblCustomers",
        (
            Column("customer", "id", 13, required=True),
            Column("segment", "label", 14),
            Column("region", "label", 14),
            Column("channel", "label", 12),
            Column("signup", "date", 13),
            Column("churn", "date", 13),
            Column("referred_by", "id", 13),
        ),
    ),
    "orders": TableSpec(
        "orders",
        "tblOrders",
        (
            Column("order", "id", 12),
            Column("customer", "id", 12, required=True),
            Column("date", "date", 12, required=True),
            Column("amount", "amount", 12, required=True),
            Column("refunded", "flag", 11),
        ),
    ),
    "tickets": TableSpec(
        "tickets",
        "tblTickets",
        (
            Column("ticket", "id", 11),
            Column("customer", "id", 12),
            Column("created", "date", 17, time=True),
            Column("first_response", "date", 17, time=True),
            Column("resolved", "date", 17, time=True),
            Column("complaint", "flag", 11),
        ),
    ),
    "engagement": TableSpec(
        "engagement",
        "tblEngagement",
        (
            Column("date", "date", 12),
            Column("channel", "label", 13),
            Column("reach", "count", 11),
            Column("followers", "count", 11),
            Column("likes", "count", 9),
            Column("comments", "count", 10),
            Column("shares", "count", 9),
        ),
    ),
}


@dataclass(frozen=True)
class Setting:
    """One row of the Settings tab: its key, the kind of value, and the demo default.

    ``kind``: ``"date"``, ``"text"``, ``"int"`` (whole number), ``"share"`` (0..1, shown as %),
    ``"hours"``, ``"points"`` (NPS points, a number), ``"industry"`` (one of the benchmark industries).
    ``added``: a setting added after the first template; a workbook built before it (no defined
    name) refreshes with the default, and a note says so.
    """

    key: str
    kind: str
    default: object
    added: bool = False


#: Demo data cover 2024-01-01 to 2025-12-31; the demo reporting period is the last quarter.
DEMO_PERIOD = (dt.date(2025, 10, 1), dt.date(2025, 12, 31))

SETTINGS: tuple[Setting, ...] = (
    Setting("period_start", "date", DEMO_PERIOD[0]),
    Setting("period_end", "date", DEMO_PERIOD[1]),
    Setting("currency", "text", "EUR"),
    Setting("nps_promoter_min", "int", 9),
    Setting("nps_detractor_max", "int", 6),
    Setting("csat_scale_max", "int", 5),
    Setting("csat_threshold", "int", 4),
    Setting("ces_scale_max", "int", 7),
    Setting("ces_agree_threshold", "int", 5),
    Setting("sla_target_hours", "hours", 24),
    Setting("clv_margin", "share", 0.30),
    Setting("clv_discount_rate", "share", 0.10),
    Setting("clv_horizon_months", "int", 12),
    Setting("min_segment_n", "int", 30),
    Setting("confidence", "share", 0.95),
    Setting("industry", "industry", "All industries"),
    # Targets of the survey planning block on the Drivers tab (NPS points).
    Setting("plan_margin", "points", 10, added=True),
    Setting("plan_change", "points", 10, added=True),
)

#: Group slots per segment block: the largest groups are shown, the rest counted in a note.
SLOTS = 12
#: Segments shown in the dashboard's bar chart.
CHART_SEGMENTS = 8
TREND_MONTHS = 12
COHORT_ROWS = 24
#: Cohort columns 0..COHORT_PERIODS months after the first purchase.
COHORT_PERIODS = 12
MAX_INVALID_LISTED = 200
NOTES_ROWS = 12


@dataclass(frozen=True)
class StartLayout:
    """Rows of the start sheet (1-based). Refresh writes from ``status_row`` down only."""

    title_row: int = 1
    howto_row: int = 4
    button_rows: tuple[int, int] = (11, 12)
    status_row: int = 14
    tables_row: int = 17
    notes_row: int = 24
    invalid_row: int = 24 + NOTES_ROWS + 2

    @property
    def last_row(self) -> int:
        """Last row refresh may write (header, the listed rows and the '... more' line)."""
        return self.invalid_row + 1 + MAX_INVALID_LISTED + 1


START = StartLayout()


@dataclass(frozen=True)
class SegmentBlock:
    """A block of the Segments sheet: one table of KPIs by the values of one column."""

    key: str
    table: str
    dimension: str
    title: str
    columns: tuple[str, ...]
    #: Columns written by refresh (Python); the others are native formulas.
    python: frozenset[str]


_SURVEY_COLS = (
    "group",
    "nps_n",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_moe",
    "nps_low",
    "nps_high",
    "csat_n",
    "csat",
    "csat_moe",
    "ces_n",
    "ces",
    "flag",
)
_CUSTOMER_COLS = (
    "group",
    "customers",
    "active_start",
    "lost",
    "churn",
    "churn_moe",
    "nps_n",
    "nps",
    "orders",
    "aov",
    "repeat",
    "refund",
    "tickets",
    "sla",
    "complaints_per_1000",
    "flag",
)
_CUSTOMER_PY = frozenset(
    {
        "churn_moe",
        "nps_n",
        "nps",
        "orders",
        "aov",
        "repeat",
        "refund",
        "tickets",
        "sla",
        "complaints_per_1000",
    }
)

SEGMENT_BLOCKS: tuple[SegmentBlock, ...] = (
    SegmentBlock(
        "survey",
        "responses",
        "segment",
        "seg_survey",
        _SURVEY_COLS,
        frozenset({"nps_moe", "nps_low", "nps_high", "csat_moe"}),
    ),
    SegmentBlock(
        "cust_segment", "customers", "segment", "seg_customers_segment", _CUSTOMER_COLS, _CUSTOMER_PY
    ),
    SegmentBlock("cust_region", "customers", "region", "seg_customers_region", _CUSTOMER_COLS, _CUSTOMER_PY),
    SegmentBlock(
        "cust_channel", "customers", "channel", "seg_customers_channel", _CUSTOMER_COLS, _CUSTOMER_PY
    ),
)

#: Rows per block: title, header, the slots, the total, the "more groups" note, a gap.
_BLOCK_HEIGHT = SLOTS + 5
_FIRST_BLOCK_ROW = 4


def block_row(index: int) -> int:
    """Title row of segment block ``index``; the header is the next row, then the slots."""
    return _FIRST_BLOCK_ROW + index * _BLOCK_HEIGHT


TRENDS_HEADER_ROW = 4
TREND_COLS = (
    "month",
    "nps_n",
    "nps",
    "nps_moe",
    "csat_n",
    "csat",
    "ces",
    "new_customers",
    "orders",
    "revenue",
    "aov",
    "refund",
    "tickets",
    "complaints",
    "frt",
    "sla",
    "engagement",
)
TREND_PY = frozenset({"nps_moe", "frt", "sla"})

COHORT_HEADER_ROW = 5

#: Dashboard KPI cards in reading order: key, unit kind, whether the value is a native formula.
CARDS: tuple[tuple[str, str, bool], ...] = (
    ("nps", "points", True),
    ("csat", "share", True),
    ("ces", "score", True),
    ("churn", "share", True),
    ("aov", "currency", True),
    ("repeat", "share", False),
    ("frt", "hours", False),
    ("sla", "share", False),
    ("engagement", "share", True),
    ("clv", "currency", False),
    # The closed loop (right-hand column of the dashboard): predicted CLV at risk, customers to call.
    ("revenue_at_risk", "currency", False),
    ("followup", "count", False),
)
CARDS_PER_ROW = 5
#: Each card is 2 columns wide and 4 rows high: title, value, change, interval.
CARD_FIRST_ROW = 4
CARD_HEIGHT = 5


#: Column of the dashboard's right-hand closed-loop area (cards after the first two rows, themes chart).
SIDE_COL = 12
#: Width of each card column, of the gap column before the closed-loop area, and the last row the
#: dashboard prints.
CARD_WIDTH = 14.5
SIDE_GAP_WIDTH = 2
DASHBOARD_ROWS = 49
#: Cards before the closed-loop ones: a dashboard built by the first template has only these.
FIRST_CARDS = 2 * CARDS_PER_ROW


def card_cell(index: int) -> tuple[int, int]:
    """(row, column) of the title cell of card ``index`` (1-based row and column): two rows of
    ``CARDS_PER_ROW`` cards, then the closed-loop cards stacked in the right-hand column."""
    if index >= 2 * CARDS_PER_ROW:
        return CARD_FIRST_ROW + (index - 2 * CARDS_PER_ROW) * CARD_HEIGHT, SIDE_COL
    r, c = divmod(index, CARDS_PER_ROW)
    return CARD_FIRST_ROW + r * CARD_HEIGHT, 1 + c * 2


#: Chart-data sheet rows: the KPI cards' value and previous value (rows 2..), then the NPS
#: distribution (11 scores), the trend (12 months), the segments and the cohort curves, each
#: block starting with its header row.
# Fixed at the first template's row: the two closed-loop cards use the two spare rows before it, so the
# charts of a workbook built earlier still read the rows they were drawn from.
CHART_DIST_ROW = 2 + 2 * CARDS_PER_ROW + 2
CHART_TREND_ROW = CHART_DIST_ROW + 11 + 2
CHART_SEG_ROW = CHART_TREND_ROW + TREND_MONTHS + 2
CHART_COHORT_ROW = CHART_SEG_ROW + CHART_SEGMENTS + 2
#: Curves in the cohort chart: the size-weighted mean of all cohorts and the latest few cohorts.
CHART_COHORT_SERIES = 4
#: Top themes chart: the strongest detractor themes and promoter themes, one bar each.
CHART_THEMES = 5
CHART_THEMES_ROW = CHART_COHORT_ROW + COHORT_PERIODS + 3

BENCH_HEADER_ROW = 4

#: The holdout check on the CLV sheet, right of the summary: title, note, model table (header and
#: one row per model), recommendation; then the table by calibration frequency, and its chart.
HOLDOUT_ROW = 3
HOLDOUT_COL = 11
HOLDOUT_MODELS = 2
HOLDOUT_BUCKETS = 8
HOLDOUT_FREQ_ROW = HOLDOUT_ROW + HOLDOUT_MODELS + 5
#: The retention projection right of the cohort table (after one blank column), months 0 .. 24.
PROJECTION_COL = COHORT_PERIODS + 5
PROJECTION_ROWS = 25
