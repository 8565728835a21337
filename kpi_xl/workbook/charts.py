"""The dashboard's five charts, drawn by openpyxl from the hidden chart-data sheet.

* NPS distribution: a column per score 0-10 in three series (detractors red, passives amber,
  promoters green), so the breakpoints from the Settings tab show as colours.
* NPS and CSAT by month: two lines, CSAT on a secondary axis (it is a share, NPS is in points).
* NPS by segment: one column per segment; NPS can be negative and those bars must go *down*.
  ``invertIfNegative`` is written explicitly as false: openpyxl leaves it out and LibreOffice
  25.2 then draws negative values as upward bars (research note ``libreoffice.md`` section 4),
  and the value axis crosses at zero (``crosses="autoZero"``), so the bars start at 0.
* Cohort retention by months since the first purchase (from month 1; month 0 is 100% by
  construction): the size-weighted mean of all cohorts and the latest cohorts.
* Top themes of open comments (right-hand column): horizontal bars, the share of detractor comments
  (red) and of promoter comments (green) that mention each of the strongest themes of the group.

All charts plot only visible cells (``plotVisOnly``), so the empty segment slots that refresh
hides never appear as blank categories. Axes are written with ``delete=False``: openpyxl 3.1
otherwise leaves them out in recent Excel versions.
"""

from __future__ import annotations

from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.chart.layout import Layout, ManualLayout
from openpyxl.chart.series import SeriesLabel, StrRef
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.drawing.line import LineProperties
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from .layout import (
    CHART_COHORT_ROW,
    CHART_COHORT_SERIES,
    CHART_DIST_ROW,
    CHART_SEG_ROW,
    CHART_SEGMENTS,
    CHART_THEMES,
    CHART_THEMES_ROW,
    CHART_TREND_ROW,
    COHORT_PERIODS,
    HOLDOUT_BUCKETS,
    HOLDOUT_COL,
    HOLDOUT_FREQ_ROW,
    HOLDOUT_ROW,
    SIDE_COL,
    TREND_MONTHS,
)

__all__ = ["add_dashboard_charts", "add_clv_holdout_chart", "CHART_ANCHORS", "CHART_SIZE_CM"]

#: Top-left cells of the four charts on the dashboard, in the order listed in the module docstring,
#: then the top-themes chart in the closed-loop column on the right (below its cards).
CHART_ANCHORS = ("A15", "F15", "A32", "F32", f"{get_column_letter(SIDE_COL)}15")
#: Width and height of each chart (cm): two side by side span the five card columns.
CHART_SIZE_CM = (16.8, 8.2)

_RED, _AMBER, _GREEN, _BLUE = "C0392B", "E6A23C", "2E8B57", "2F6EBA"
_COHORT_COLOURS = ("1F3A5F", "7FA7D9", "F0A35E", "9DC183")


def _axes(chart: Any, x_title: str | None = None, y_fmt: str | None = None) -> None:
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if x_title:
        chart.x_axis.title = x_title
    if y_fmt:
        chart.y_axis.number_format = y_fmt
        chart.y_axis.numFmt.sourceLinked = False
    chart.y_axis.majorGridlines.spPr = GraphicalProperties(ln=LineProperties(solidFill="D9D9D9"))
    chart.legend.position = "b"


def _size(chart: Any) -> None:
    chart.width, chart.height = CHART_SIZE_CM
    chart.layout = Layout(manualLayout=ManualLayout(x=0.02, y=0.12, w=0.96, h=0.62))


def _solid(series: Any, colour: str) -> None:
    series.graphicalProperties.solidFill = colour
    series.graphicalProperties.line.solidFill = colour
    series.invertIfNegative = False


def add_dashboard_charts(dash: Worksheet, data: Worksheet, lab: dict[str, Any]) -> None:
    """Add the four charts to ``dash``, reading from the chart-data sheet ``data``."""
    t = lab["text"]

    dist = BarChart()
    dist.type, dist.grouping, dist.overlap, dist.gapWidth = "col", "clustered", 100, 40
    dist.title = t["chart_nps_dist"]
    dist.add_data(
        Reference(data, min_col=2, max_col=4, min_row=CHART_DIST_ROW, max_row=CHART_DIST_ROW + 11),
        titles_from_data=True,
    )
    dist.set_categories(Reference(data, min_col=1, min_row=CHART_DIST_ROW + 1, max_row=CHART_DIST_ROW + 11))
    for s, colour in zip(dist.series, (_RED, _AMBER, _GREEN), strict=True):
        _solid(s, colour)
    _axes(dist, t["score"], "0")
    _size(dist)
    dash.add_chart(dist, CHART_ANCHORS[0])

    trend = LineChart()
    trend.title = t["chart_trend"]
    trend.add_data(
        Reference(data, min_col=2, min_row=CHART_TREND_ROW, max_row=CHART_TREND_ROW + TREND_MONTHS),
        titles_from_data=True,
    )
    trend.set_categories(
        Reference(data, min_col=1, min_row=CHART_TREND_ROW + 1, max_row=CHART_TREND_ROW + TREND_MONTHS)
    )
    trend.series[0].graphicalProperties.line.solidFill = _BLUE
    trend.series[0].graphicalProperties.line.width = 28000
    trend.series[0].smooth = False
    _axes(trend, None, "0")
    csat = LineChart()
    csat.add_data(
        Reference(data, min_col=3, min_row=CHART_TREND_ROW, max_row=CHART_TREND_ROW + TREND_MONTHS),
        titles_from_data=True,
    )
    csat.series[0].graphicalProperties.line.solidFill = _GREEN
    csat.series[0].graphicalProperties.line.width = 28000
    csat.series[0].smooth = False
    csat.y_axis.axId = 200
    csat.y_axis.delete = False
    csat.y_axis.number_format = "0%"
    csat.y_axis.numFmt.sourceLinked = False
    csat.y_axis.crosses = "max"
    csat.y_axis.majorGridlines = None
    trend += csat
    _size(trend)
    dash.add_chart(trend, CHART_ANCHORS[1])

    seg = BarChart()
    seg.type, seg.gapWidth = "col", 60
    seg.title = t["chart_segments"]
    seg.add_data(
        Reference(data, min_col=2, min_row=CHART_SEG_ROW, max_row=CHART_SEG_ROW + CHART_SEGMENTS),
        titles_from_data=True,
    )
    seg.set_categories(
        Reference(data, min_col=1, min_row=CHART_SEG_ROW + 1, max_row=CHART_SEG_ROW + CHART_SEGMENTS)
    )
    _solid(seg.series[0], _BLUE)
    _axes(seg, None, "0")
    seg.y_axis.crosses = "autoZero"
    # Category labels sit at the bottom of the plot, not at zero where negative bars would hide them.
    seg.x_axis.tickLblPos = "low"
    seg.legend = None
    _size(seg)
    dash.add_chart(seg, CHART_ANCHORS[2])

    coh = LineChart()
    coh.title = t["chart_cohorts"]
    # Month 0 is 100% by construction; starting at month 1 gives the curves the whole scale.
    last = CHART_COHORT_ROW + COHORT_PERIODS + 1
    for col in range(2, 2 + CHART_COHORT_SERIES):
        series = Series(Reference(data, min_col=col, min_row=CHART_COHORT_ROW + 2, max_row=last))
        label = f"{quote_sheetname(data.title)}!${get_column_letter(col)}${CHART_COHORT_ROW}"
        series.tx = SeriesLabel(strRef=StrRef(label))
        coh.series.append(series)
    coh.set_categories(Reference(data, min_col=1, min_row=CHART_COHORT_ROW + 2, max_row=last))
    for i, s in enumerate(coh.series):
        s.graphicalProperties.line.solidFill = _COHORT_COLOURS[i % len(_COHORT_COLOURS)]
        s.graphicalProperties.line.width = 32000 if i == 0 else 19000
        s.smooth = False
    _axes(coh, t["months_since"], "0%")
    coh.y_axis.scaling.min = 0
    _size(coh)
    dash.add_chart(coh, CHART_ANCHORS[3])

    themes = BarChart()
    themes.type, themes.grouping, themes.overlap, themes.gapWidth = "bar", "clustered", 100, 50
    themes.title = t["chart_themes"]
    last = CHART_THEMES_ROW + 2 * CHART_THEMES
    themes.add_data(
        Reference(data, min_col=2, max_col=3, min_row=CHART_THEMES_ROW, max_row=last), titles_from_data=True
    )
    themes.set_categories(Reference(data, min_col=1, min_row=CHART_THEMES_ROW + 1, max_row=last))
    for s, colour in zip(themes.series, (_RED, _GREEN), strict=True):
        _solid(s, colour)
    _axes(themes, None, "0%")
    # The strongest theme on top: categories read from the top down.
    themes.x_axis.scaling.orientation = "maxMin"
    themes.legend.position = "b"
    themes.width, themes.height = CHART_SIZE_CM[0], 2 * CHART_SIZE_CM[1] + 0.4
    themes.layout = Layout(manualLayout=ManualLayout(x=0.02, y=0.08, w=0.96, h=0.8))
    dash.add_chart(themes, CHART_ANCHORS[4])


def add_clv_holdout_chart(ws: Worksheet, lab: dict[str, Any]) -> None:
    """The holdout check's conditional-expectation chart on the CLV sheet (Fader, Hardie & Lee
    2005, Figure 4): mean repeat purchases in the holdout by purchases before it, actual next to
    the recommended model's prediction, read from the table refresh writes beside it."""
    first, last = HOLDOUT_FREQ_ROW, HOLDOUT_FREQ_ROW + HOLDOUT_BUCKETS
    chart = BarChart()
    chart.type, chart.grouping, chart.gapWidth = "col", "clustered", 60
    chart.title = lab["text"]["chart_clv_holdout"]
    chart.add_data(
        Reference(ws, min_col=HOLDOUT_COL + 2, max_col=HOLDOUT_COL + 3, min_row=first, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=HOLDOUT_COL, min_row=first + 1, max_row=last))
    for s, colour in zip(chart.series, (_BLUE, _AMBER), strict=True):
        _solid(s, colour)
    _axes(chart, None, "0.0")
    _size(chart)
    # Right of the tables, inside the rows the sheet keeps frozen above the customer table.
    ws.add_chart(chart, f"{get_column_letter(HOLDOUT_COL + 9)}{HOLDOUT_ROW}")
