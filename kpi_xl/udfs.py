"""kpi-xl's Excel functions: register this module (``kpi_xl.udfs``) with xlwings and call them from cells.

Every function is a thin wrapper: read the ranges (:mod:`kpi_xl.excel.coerce`), call the engine
(:mod:`kpi_xl.metrics`), hand back a number or a spilled table (:mod:`kpi_xl.excel.spill`). A failure
is an Excel error value, never a traceback (:mod:`kpi_xl.excel.errors`). The user reference is
``docs/excel-functions.md``.

One module serves both runtimes - classic xlwings (Windows, "Import Functions") and Office.js
(xlwings Lite and Server) - because it keeps to the decorator features both implement alike
(``shared/research/xlwings.md`` section 1.5): ``@xw.func(category=...)``, ``@xw.arg(name, "raw",
doc=...)``, positional parameters with defaults, docstrings of at most 255 characters (the wizard's
limit). Deliberately absent: ``expand=``, ``async_mode=``, ``call_in_wizard=``, ``vba=``, a parameter
named ``caller``, keyword-only parameters, and type annotations on these wrappers - both runtimes read
an annotation as a converter (``float | None`` breaks registration), so the typed API is the engine's.
Without Excel (``XLWINGS_ON_SERVER`` unset, not on Windows) the decorators do nothing and these are
plain Python functions.
"""

# Help texts (docstrings and doc=) are one line each: Excel shows them verbatim, so no wrapping.
# ruff: noqa: E501

from __future__ import annotations

import inspect

import pandas as pd
import xlwings as xw

from kpi_xl import metrics as m
from kpi_xl.excel import coerce, spill
from kpi_xl.excel.errors import excel_function
from kpi_xl.metrics import KpiInputError
from kpi_xl.metrics.rules import Kind

__all__ = [
    "NPS",
    "NPS_BREAKDOWN",
    "NPS_CI",
    "NPS_DIFF",
    "CSAT",
    "CES",
    "CHURN",
    "RETENTION",
    "CHURN_FROM_DATES",
    "RETENTION_FROM_DATES",
    "REPEAT_RATE",
    "COHORT_RETENTION",
    "AOV",
    "CLV",
    "CLV_RETENTION",
    "CLV_PREDICT",
    "P_ALIVE",
    "CLV_HOLDOUT",
    "CLV_SCHEDULE",
    "CLV_BY_SEGMENT",
    "SBG_SURVIVAL",
    "DERL",
    "SUBSCRIPTION_CLV",
    "FRT",
    "RESOLUTION_TIME",
    "SLA_RATE",
    "COMPLAINT_RATE",
    "ENGAGEMENT_RATE",
    "REFERRAL_CONVERSION",
    "ADVOCACY_REVENUE_SHARE",
    "REFUND_RATE",
    "RETURN_RATE",
    "REDEMPTION_RATE",
    "PARTICIPATION_RATE",
    "ADVOCACY_INDEX",
    "KPI_BY_SEGMENT",
]

#: Function-wizard category in classic Excel (ignored by Office.js).
CATEGORY = "kpi-xl"

SKIP_DOC = (
    "Optional. TRUE skips text, out-of-range values and error cells in the data (counted as skipped); "
    "FALSE (default) stops at the first one with an error naming its row."
)
CONFIDENCE_DOC = "Optional. Confidence level of the interval, default 0.95."


def _skip(skip_invalid: object) -> bool:
    return coerce.flag(skip_invalid, "skip_invalid", False)


def _on_invalid(skip: bool) -> str:
    """The engine's on_invalid for the Excel skip_invalid flag."""
    return "drop" if skip else "raise"


# --------------------------------------------------------------------------------------------------
# Survey: NPS, CSAT, CES
# --------------------------------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg(
    "scores",
    "raw",
    doc="0-10 answers to 'How likely are you to recommend us?'. A column, a Table column or B:B.",
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def NPS(scores, skip_invalid=False):
    """Net Promoter Score, -100 to 100: % promoters (9-10) minus % detractors (0-6). Blanks are skipped. Example: =NPS(Responses[Score])"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(scores, "scores", "score", skip_errors=skip)
    return m.nps(values, on_invalid=_on_invalid(skip)).value


@xw.func(category=CATEGORY)
@xw.arg("scores", "raw", doc="0-10 recommend answers (a column, a Table column or B:B).")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def NPS_BREAKDOWN(scores, confidence=0.95, skip_invalid=False):
    """Spills the NPS breakdown: counts and shares of promoters, passives, detractors, n, skipped, NPS and its interval. Example: =NPS_BREAKDOWN(Responses[Score])"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(scores, "scores", "score", skip_errors=skip)
    conf = coerce.number(confidence, "confidence", 0.95)
    r = m.nps(values, confidence=conf, on_invalid=_on_invalid(skip))
    c = r.components
    return spill.pairs(
        [
            ("promoters", c["promoters"]),
            ("passives", c["passives"]),
            ("detractors", c["detractors"]),
            ("pct_promoters", c["pct_promoters"]),
            ("pct_passives", c["pct_passives"]),
            ("pct_detractors", c["pct_detractors"]),
            ("n", r.n_used),
            ("n_dropped", r.n_dropped),
            ("nps", r.value),
            ("ci_low", r.ci_low),
            ("ci_high", r.ci_high),
            ("confidence", r.confidence),
        ]
    )


@xw.func(category=CATEGORY)
@xw.arg("scores", "raw", doc="0-10 recommend answers (a column, a Table column or B:B).")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@xw.arg("method", "raw", doc="Optional. 'adjusted-wald' (default, accurate for small samples) or 'wald'.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def NPS_CI(scores, confidence=0.95, method="adjusted-wald", skip_invalid=False):
    """Confidence interval of the NPS: spills two cells, low and high, in NPS points. Example: =NPS_CI(Responses[Score], 0.9)"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(scores, "scores", "score", skip_errors=skip)
    r = m.nps(
        values,
        confidence=coerce.number(confidence, "confidence", 0.95),
        method=coerce.text(method, "method", "adjusted-wald"),
        on_invalid=_on_invalid(skip),
    )
    return spill.row([r.ci_low, r.ci_high])


@xw.func(category=CATEGORY)
@xw.arg("scores_a", "raw", doc="0-10 answers of sample A, e.g. this quarter.")
@xw.arg("scores_b", "raw", doc="0-10 answers of sample B, e.g. last quarter (independent of A).")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def NPS_DIFF(scores_a, scores_b, confidence=0.95, skip_invalid=False):
    """NPS of A minus NPS of B with a two-sided z-test: spills difference, p_value, ci_low, ci_high under a header. p < 0.05: a real change. Example: =NPS_DIFF(Q2[Score], Q1[Score])"""
    skip = _skip(skip_invalid)
    on_invalid = _on_invalid(skip)
    a = coerce.read_column(scores_a, "scores_a", "score", skip_errors=skip)
    b = coerce.read_column(scores_b, "scores_b", "score", skip_errors=skip)
    r = m.nps_diff(a, b, confidence=coerce.number(confidence, "confidence", 0.95), on_invalid=on_invalid)
    return [
        ["difference", "p_value", "ci_low", "ci_high"],
        *spill.row([r.value, r.components["p_value"], r.ci_low, r.ci_high]),
    ]


@xw.func(category=CATEGORY)
@xw.arg("scores", "raw", doc="Satisfaction answers, whole numbers on the scale (default 1-5).")
@xw.arg(
    "threshold",
    "raw",
    doc="Optional. Lowest score counted as satisfied; default the top two boxes (4 on 1-5).",
)
@xw.arg("scale_min", "raw", doc="Optional. Lowest point of the scale, default 1.")
@xw.arg("scale_max", "raw", doc="Optional. Highest point of the scale, default 5.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def CSAT(scores, threshold=None, scale_min=1, scale_max=5, skip_invalid=False):
    """CSAT: share of satisfied answers (top two boxes: 4 or 5 on 1-5), 0 to 1; format as %. Example: =CSAT(Survey[CSAT])"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(scores, "scores", "score", skip_errors=skip)
    scale = (coerce.whole(scale_min, "scale_min", 1), coerce.whole(scale_max, "scale_max", 5))
    return m.csat(
        values,
        scale=scale,
        threshold=coerce.whole(threshold, "threshold", None),
        on_invalid=_on_invalid(skip),
    ).value


_CES_MEASURES = ("mean", "pct_agree", "net")


@xw.func(category=CATEGORY)
@xw.arg("scores", "raw", doc="Answers to 'The company made it easy to handle my issue', 1-7 (CES 2.0).")
@xw.arg(
    "measure",
    "raw",
    doc="Optional. 'mean' (default), 'pct_agree' (share of 5-7) or 'net' (% agree minus % disagree).",
)
@xw.arg("scale_min", "raw", doc="Optional. Lowest point of the scale, default 1.")
@xw.arg("scale_max", "raw", doc="Optional. Highest point of the scale, default 7.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def CES(scores, measure="mean", scale_min=1, scale_max=7, skip_invalid=False):
    """Customer Effort Score (CES 2.0, 1-7, higher = easier): the mean, or the share agreeing (5-7), or the net. Example: =CES(Tickets[Effort])"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(scores, "scores", "score", skip_errors=skip)
    what = coerce.choice(measure, "measure", "mean", _CES_MEASURES)
    scale = (coerce.whole(scale_min, "scale_min", 1), coerce.whole(scale_max, "scale_max", 7))
    r = m.ces(values, scale=scale, on_invalid=_on_invalid(skip))
    return r.value if what == "mean" else r.components[what]


# --------------------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------------------

BASE_DOC = (
    "Optional. 'start' (default): lost / customers at start; 'average': lost / average of start and end."
)


@xw.func(category=CATEGORY)
@xw.arg("customers_start", "raw", doc="Customers at the start of the period.")
@xw.arg(
    "customers_lost",
    "raw",
    doc="Optional. Customers lost in the period; leave out to derive it from customers_end and new_customers.",
)
@xw.arg(
    "customers_end", "raw", doc="Optional. Customers at the end of the period (needed for base 'average')."
)
@xw.arg("new_customers", "raw", doc="Optional. Customers acquired during the period.")
@xw.arg("base", "raw", doc=BASE_DOC)
@excel_function
def CHURN(customers_start, customers_lost=None, customers_end=None, new_customers=None, base="start"):
    """Churn rate from period counts: lost / customers at start (or average base), 0 to 1. From signup and end dates use CHURN_FROM_DATES. Example: =CHURN(1000, 120)"""
    return m.churn_rate(
        coerce.required(customers_start, "customers_start", "the number of customers at the start"),
        coerce.option(customers_lost, "customers_lost"),
        customers_end=coerce.option(customers_end, "customers_end"),
        new_customers=coerce.option(new_customers, "new_customers"),
        base=coerce.text(base, "base", "start"),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("customers_start", "raw", doc="Customers at the start of the period.")
@xw.arg("customers_end", "raw", doc="Customers at the end of the period.")
@xw.arg("new_customers", "raw", doc="Customers acquired during the period.")
@excel_function
def RETENTION(customers_start, customers_end, new_customers):
    """Customer retention rate from counts: (end - new) / start, 0 to 1. From signup and end dates use RETENTION_FROM_DATES. Example: =RETENTION(1000, 1030, 150) is 0.88"""
    return m.retention_rate(
        coerce.required(customers_start, "customers_start", "the number of customers at the start"),
        coerce.required(customers_end, "customers_end", "the number of customers at the end"),
        coerce.required(new_customers, "new_customers", "the number of new customers"),
    ).value


START_DATES_DOC = "Signup date of each customer (one row per customer)."
END_DATES_DOC = "End (churn) date of each customer, same rows; blank = still active."
PERIOD_START_DOC = "First day of the period (a date cell, or text like 2025-01-01)."
PERIOD_END_DOC = "Last day of the period, included."


def _records(start_dates, end_dates):
    cols = coerce.read_columns(
        {"start_dates": start_dates, "end_dates": end_dates}, {"start_dates": "date", "end_dates": "date"}
    )
    return cols["start_dates"], cols["end_dates"]


@xw.func(category=CATEGORY)
@xw.arg("start_dates", "raw", doc=START_DATES_DOC)
@xw.arg("end_dates", "raw", doc=END_DATES_DOC)
@xw.arg("period_start", "raw", doc=PERIOD_START_DOC)
@xw.arg("period_end", "raw", doc=PERIOD_END_DOC)
@xw.arg("base", "raw", doc=BASE_DOC)
@excel_function
def CHURN_FROM_DATES(start_dates, end_dates, period_start, period_end, base="start"):
    """Churn rate over a period from customer records: share of customers active at the start who ended in the period. Example: =CHURN_FROM_DATES(C[Signup], C[End], "2025-01-01", "2025-03-31")"""
    start, end = _records(start_dates, end_dates)
    return m.churn_from_records(
        start,
        end,
        period_start=coerce.required(period_start, "period_start", "the first day of the period"),
        period_end=coerce.required(period_end, "period_end", "the last day of the period"),
        base=coerce.text(base, "base", "start"),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("start_dates", "raw", doc=START_DATES_DOC)
@xw.arg("end_dates", "raw", doc=END_DATES_DOC)
@xw.arg("period_start", "raw", doc=PERIOD_START_DOC)
@xw.arg("period_end", "raw", doc=PERIOD_END_DOC)
@excel_function
def RETENTION_FROM_DATES(start_dates, end_dates, period_start, period_end):
    """Retention over a period from customer records: share of customers active at the start still active at the end. Example: =RETENTION_FROM_DATES(C[Signup], C[End], "2025-01-01", "2025-03-31")"""
    start, end = _records(start_dates, end_dates)
    return m.retention_from_records(
        start,
        end,
        period_start=coerce.required(period_start, "period_start", "the first day of the period"),
        period_end=coerce.required(period_end, "period_end", "the last day of the period"),
    ).value


IDS_DOC = "Customer id of each order (one row per order), e.g. Orders[Customer]."
ORDER_DATES_DOC = "Date of each order, same rows."


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("order_dates", "raw", doc="Optional. Date of each order, same rows (needed for count 'days').")
@xw.arg(
    "count",
    "raw",
    doc="Optional. 'orders' (default): each order row is a purchase; 'days': orders on one day count once.",
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def REPEAT_RATE(customer_ids, order_dates=None, count="orders", skip_invalid=False):
    """Repeat purchase rate: share of customers who bought more than once, 0 to 1. Example: =REPEAT_RATE(Orders[Customer])"""
    skip = _skip(skip_invalid)
    if coerce.is_blank(order_dates):
        ids, dates = coerce.read_column(customer_ids, "customer_ids", "id", skip_errors=skip), None
    else:
        cols = coerce.read_columns(
            {"customer_ids": customer_ids, "order_dates": order_dates},
            {"customer_ids": "id", "order_dates": "date"},
            skip_errors=skip,
        )
        ids, dates = cols["customer_ids"], cols["order_dates"]
    return m.repeat_purchase_rate(
        ids, dates, count=coerce.text(count, "count", "orders"), on_invalid=_on_invalid(skip)
    ).value


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("order_dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg("period", "raw", doc="Optional. 'month' (default), 'quarter' or 'week'.")
@xw.arg("max_periods", "raw", doc="Optional. Show periods 0 to this number only.")
@xw.arg(
    "as_of", "raw", doc="Optional. Last day observed; later orders are ignored. Default: the latest order."
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def COHORT_RETENTION(
    customer_ids, order_dates, period="month", max_periods=None, as_of=None, skip_invalid=False
):
    """Spills the cohort table: per first-purchase cohort its size and the share buying again 0, 1, 2... periods later. Not yet observed = blank. Example: =COHORT_RETENTION(Orders[Customer], Orders[Date])"""
    skip = _skip(skip_invalid)
    cols = coerce.read_columns(
        {"customer_ids": customer_ids, "order_dates": order_dates},
        {"customer_ids": "id", "order_dates": "date"},
        skip_errors=skip,
    )
    table = m.cohort_retention(
        cols["customer_ids"],
        cols["order_dates"],
        period=coerce.text(period, "period", "month"),
        max_periods=coerce.whole(max_periods, "max_periods", None),
        as_of=coerce.option(as_of, "as_of"),
        on_invalid=_on_invalid(skip),
    )
    return spill.frame(table, index="cohort")


# --------------------------------------------------------------------------------------------------
# Value: AOV and CLV
# --------------------------------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg("amounts", "raw", doc="Revenue of each order, e.g. Orders[Amount].")
@xw.arg(
    "allow_negative",
    "raw",
    doc="Optional. FALSE (default): a negative amount is an error; TRUE keeps refunds as negative amounts.",
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def AOV(amounts, allow_negative=False, skip_invalid=False):
    """Average order value: revenue / orders. Blanks are skipped. Example: =AOV(Orders[Amount])"""
    skip = _skip(skip_invalid)
    values = coerce.read_column(amounts, "amounts", "amount", skip_errors=skip)
    return m.average_order_value(
        values,
        allow_negative=coerce.flag(allow_negative, "allow_negative", False),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("aov", "raw", doc="Average order value (currency).")
@xw.arg("frequency", "raw", doc="Orders per customer per period (e.g. per year).")
@xw.arg("margin", "raw", doc="Gross margin as a share, e.g. 0.4 for 40%.")
@xw.arg(
    "lifespan", "raw", doc="Expected customer lifespan in the same periods (e.g. years); 1/churn if unknown."
)
@xw.arg("discount_rate", "raw", doc="Optional. Discount rate per period, default 0.")
@excel_function
def CLV(aov, frequency, margin, lifespan, discount_rate=0):
    """Customer lifetime value, simple formula: AOV x frequency x margin over the lifespan, discounted per period. Example: =CLV(60, 6, 0.4, 3) is 432"""
    return m.clv_formula(
        coerce.number(aov, "aov"),
        coerce.number(frequency, "frequency"),
        coerce.number(margin, "margin"),
        coerce.number(lifespan, "lifespan"),
        discount_rate=coerce.number(discount_rate, "discount_rate", 0.0),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("margin", "raw", doc="Margin per customer per period (currency).")
@xw.arg("retention", "raw", doc="Retention rate per period, 0 to below 1 (e.g. 0.8).")
@xw.arg("discount_rate", "raw", doc="Discount rate per period (e.g. 0.1).")
@xw.arg(
    "convention",
    "raw",
    doc="Optional. 'gupta-lehmann' (default, m*r/(1+d-r), first payment excluded), 'blattberg' (m(1+d)/(1+d-r)) or 'ofek' (m/(1+d-r)).",
)
@excel_function
def CLV_RETENTION(margin, retention, discount_rate, convention="gupta-lehmann"):
    """Retention-based CLV with a constant margin, retention and discount rate per period; name the convention beside it. Example: =CLV_RETENTION(100, 0.8, 0.1) is 266.67"""
    return m.clv_retention(
        coerce.number(margin, "margin"),
        coerce.number(retention, "retention"),
        coerce.number(discount_rate, "discount_rate"),
        convention=coerce.text(convention, "convention", "gupta-lehmann"),
    ).value


TIME_UNIT_DOC = (
    "Required. 'day', 'week', 'month' or 'year' (elapsed days / 1, 7, 30.4375, 365.25), or "
    "'calendar-week', 'calendar-month': the model's time unit; horizon is counted in it."
)
OBS_END_DOC = "Optional. Last day of the observation window; default the latest order date."
MODEL_DOC = "Optional. Repeat-purchase model: 'bg/nbd' (default), 'mbg/nbd' or 'pareto/nbd'."
SURVIVORS_DOC = "Customers of one cohort still active after each period, the cohort size first (e.g. 1000, 631, 468, ...)."


def _transactions(customer_ids, dates, amounts=None):
    ranges = {"customer_ids": customer_ids, "dates": dates}
    kinds: dict[str, Kind] = {"customer_ids": "id", "dates": "date"}
    if amounts is not None:
        ranges["amounts"], kinds["amounts"] = amounts, "amount"
    return coerce.read_columns(ranges, kinds)


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg("amounts", "raw", doc="Amount of each order, same rows.")
@xw.arg("time_unit", "raw", doc=TIME_UNIT_DOC)
@xw.arg("horizon", "raw", doc="Projection length in time units, e.g. 52 (weeks) for one year.")
@xw.arg(
    "discount_rate",
    "raw",
    doc="Optional. Discount rate per discount_step, default 0 (e.g. 0.01 a month with discount_step 'month').",
)
@xw.arg("margin", "raw", doc="Optional. Share of spend that is profit, 0 to 1; default 1 (CLV in revenue).")
@xw.arg("observation_end", "raw", doc=OBS_END_DOC)
@xw.arg(
    "discount_step",
    "raw",
    doc="Optional. How often cash is discounted: every this many time units (default 1), or 'day', 'week', 'month'.",
)
@xw.arg("model", "raw", doc=MODEL_DOC)
@xw.arg(
    "interval",
    "raw",
    doc="Optional. Level of an interval for each CLV, e.g. 0.9: adds clv_low and clv_high (parameter uncertainty, information-matrix draws).",
)
@xw.arg(
    "view",
    "raw",
    doc="Optional. 'customers' (default: one row per customer) or 'total' (the sum of all CLV with its interval and how it was made).",
)
@excel_function
def CLV_PREDICT(
    customer_ids,
    dates,
    amounts,
    time_unit,
    horizon,
    discount_rate=0,
    margin=1,
    observation_end=None,
    discount_step=1,
    model="bg/nbd",
    interval=None,
    view="customers",
):
    """Spills predicted CLV per customer (BG/NBD + Gamma-Gamma): frequency, recency, T, spend, expected purchases, P(alive), CLV. Example: =CLV_PREDICT(Orders[Customer], Orders[Date], Orders[Amount], "week", 52)"""
    if amounts is None:
        # A single empty cell arrives as None (Office.js): no amounts is no data, #N/A as for the ids.
        raise KpiInputError(
            "amounts is empty: give the amount of each order", argument="amounts", kind="empty"
        )
    which = coerce.choice(view, "view", "customers", ("customers", "total"))
    tx = _transactions(customer_ids, dates, amounts)
    # Not called "step": Step is a VBA keyword, and classic Excel writes a VBA wrapper with these names.
    step_value = coerce.option(discount_step, "discount_step", 1.0)
    out = m.predict_clv(
        tx["customer_ids"],
        tx["dates"],
        tx["amounts"],
        time_unit=coerce.text(time_unit, "time_unit"),
        horizon=coerce.number(horizon, "horizon"),
        discount_rate=coerce.number(discount_rate, "discount_rate", 0.0),
        observation_end=coerce.option(observation_end, "observation_end"),
        margin=coerce.number(margin, "margin", 1.0),
        step=m.read_step(step_value, "discount_step"),
        model=coerce.text(model, "model", "bg/nbd"),
        interval=coerce.number(interval, "interval", None),
    )
    if which == "total":
        return spill.pairs(out.total().items())
    return spill.frame(out.customers, index="customer_id")


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg("time_unit", "raw", doc=TIME_UNIT_DOC)
@xw.arg("observation_end", "raw", doc=OBS_END_DOC)
@excel_function
def P_ALIVE(customer_ids, dates, time_unit, observation_end=None):
    """Spills each customer's probability of still being active (BG/NBD model fitted to the orders), with frequency, recency and T. Example: =P_ALIVE(Orders[Customer], Orders[Date], "week")"""
    tx = _transactions(customer_ids, dates)
    unit = coerce.text(time_unit, "time_unit")
    summary = m.rfm_summary(
        tx["customer_ids"],
        tx["dates"],
        time_unit=unit,
        observation_end=coerce.option(observation_end, "observation_end"),
    )
    x, tx_, age = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = m.BetaGeoFitter().fit(x, tx_, age, time_unit=unit)
    if not model.converged:
        raise KpiInputError(f"the BG/NBD model could not be fitted to these orders: {model.message}")
    out = summary[["frequency", "recency", "T"]].copy()
    out["probability_alive"] = model.probability_alive(x, tx_, age)
    return spill.frame(out, index="customer_id")


def _clv_settings(time_unit, horizon, discount_rate, margin, observation_end, discount_step):
    return {
        "time_unit": coerce.text(time_unit, "time_unit"),
        "horizon": coerce.number(horizon, "horizon"),
        "discount_rate": coerce.number(discount_rate, "discount_rate", 0.0),
        "margin": coerce.number(margin, "margin", 1.0),
        "observation_end": coerce.option(observation_end, "observation_end"),
        "step": m.read_step(coerce.option(discount_step, "discount_step", 1.0), "discount_step"),
    }


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg("amounts", "raw", doc="Amount of each order, same rows.")
@xw.arg("time_unit", "raw", doc=TIME_UNIT_DOC)
@xw.arg("horizon", "raw", doc="Projection length in time units, e.g. 12 (months) for one year.")
@xw.arg("discount_rate", "raw", doc="Optional. Discount rate per discount_step, default 0.")
@xw.arg("margin", "raw", doc="Optional. Share of spend that is profit, 0 to 1; default 1 (CLV in revenue).")
@xw.arg("observation_end", "raw", doc=OBS_END_DOC)
@xw.arg(
    "discount_step",
    "raw",
    doc="Optional. Length of a step: this many time units (default 1), or 'day', 'week', 'month'.",
)
@xw.arg(
    "customer",
    "raw",
    doc="Optional. A customer id (or a range of ids): the schedule of that customer alone (of those customers together).",
)
@xw.arg(
    "segments",
    "raw",
    doc="Optional. Segment of each order, same rows: each segment fitted alone; spills the discounted value per step of each segment, or with segment one segment's schedule.",
)
@xw.arg(
    "segment",
    "raw",
    doc="Optional. With segments: the segment whose schedule to spill (any case, spaces trimmed).",
)
@excel_function
def CLV_SCHEDULE(
    customer_ids,
    dates,
    amounts,
    time_unit,
    horizon,
    discount_rate=0,
    margin=1,
    observation_end=None,
    discount_step=1,
    customer=None,
    segments=None,
    segment=None,
):
    """Spills predicted CLV step by step: expected purchases, value, discount factor, discounted and cumulative value; all customers, one customer or a segment. Example: =CLV_SCHEDULE(Orders[Customer], Orders[Date], Orders[Amount], "month", 12, 0.01)"""
    settings = _clv_settings(time_unit, horizon, discount_rate, margin, observation_end, discount_step)
    who = None if coerce.is_blank(customer) else list(coerce.read_column(customer, "customer", "id"))
    name = coerce.option(segment, "segment")
    if coerce.is_blank(segments):
        if name is not None:
            raise KpiInputError("segment needs segments: the segment of each order", argument="segment")
        tx = _transactions(customer_ids, dates, amounts)
        out = m.predict_clv(tx["customer_ids"], tx["dates"], tx["amounts"], **settings)
        return spill.frame(out.schedule(who), index="step")
    tx = coerce.read_columns(
        {"customer_ids": customer_ids, "dates": dates, "amounts": amounts, "segments": segments},
        {"customer_ids": "id", "dates": "date", "amounts": "amount", "segments": "label"},
    )
    out = m.predict_clv_by_segment(tx["customer_ids"], tx["dates"], tx["amounts"], tx["segments"], **settings)
    if name is None and who is None:
        return spill.frame(out.schedules(), index="step")
    return spill.frame(out.schedule(name, who), index="step")


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg("amounts", "raw", doc="Amount of each order, same rows.")
@xw.arg(
    "segments",
    "raw",
    doc="Segment of each order, same rows; a customer counts in the segment of their first order.",
)
@xw.arg("time_unit", "raw", doc=TIME_UNIT_DOC)
@xw.arg("horizon", "raw", doc="Projection length in time units, e.g. 52 (weeks) for one year.")
@xw.arg("discount_rate", "raw", doc="Optional. Discount rate per discount_step, default 0.")
@xw.arg("margin", "raw", doc="Optional. Share of spend that is profit, 0 to 1; default 1 (CLV in revenue).")
@xw.arg("observation_end", "raw", doc=OBS_END_DOC)
@xw.arg(
    "discount_step",
    "raw",
    doc="Optional. Length of a step: this many time units (default 1), or 'day', 'week', 'month'.",
)
@xw.arg("model", "raw", doc=MODEL_DOC)
@xw.arg(
    "interval",
    "raw",
    doc="Optional. Level of an interval for each segment's total CLV, e.g. 0.9: adds clv_total_low and clv_total_high (parameter uncertainty, information-matrix draws).",
)
@excel_function
def CLV_BY_SEGMENT(
    customer_ids,
    dates,
    amounts,
    segments,
    time_unit,
    horizon,
    discount_rate=0,
    margin=1,
    observation_end=None,
    discount_step=1,
    model="bg/nbd",
    interval=None,
):
    """Spills predicted CLV fitted separately per segment: customers, total and mean CLV, model parameters, a small-segment flag and why a segment could not be fitted. Example: =CLV_BY_SEGMENT(A2:A99, B2:B99, C2:C99, D2:D99, "week", 52)"""
    tx = coerce.read_columns(
        {"customer_ids": customer_ids, "dates": dates, "amounts": amounts, "segments": segments},
        {"customer_ids": "id", "dates": "date", "amounts": "amount", "segments": "label"},
    )
    settings = _clv_settings(time_unit, horizon, discount_rate, margin, observation_end, discount_step)
    settings["model"] = coerce.text(model, "model", "bg/nbd")
    settings["interval"] = coerce.number(interval, "interval", None)
    out = m.predict_clv_by_segment(tx["customer_ids"], tx["dates"], tx["amounts"], tx["segments"], **settings)
    return spill.frame(out.table, index="segment")


HOLDOUT_VIEWS = ("models", "frequency", "tracking")


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc=IDS_DOC)
@xw.arg("dates", "raw", doc=ORDER_DATES_DOC)
@xw.arg(
    "holdout_start",
    "raw",
    doc="First day of the holdout: models are fitted on the orders before it and predict the orders from it on.",
)
@xw.arg("time_unit", "raw", doc=TIME_UNIT_DOC)
@xw.arg("holdout_end", "raw", doc="Optional. Last day of the holdout; default the latest order date.")
@xw.arg(
    "view",
    "raw",
    doc="Optional. 'models' (default: errors, LL, AIC, BIC, recommendation), 'frequency' (by calibration frequency) or 'tracking' (cumulative by period).",
)
@excel_function
def CLV_HOLDOUT(customer_ids, dates, holdout_start, time_unit, holdout_end=None, view="models"):
    """Spills a holdout check of BG/NBD, MBG/NBD and Pareto/NBD: predicted vs actual repeat purchases, MAE, RMSE, bias, AIC/BIC and which model to use. Example: =CLV_HOLDOUT(Orders[Customer], Orders[Date], "1997-10-01", "week")"""
    tx = _transactions(customer_ids, dates)
    which = coerce.text(view, "view", "models").strip().lower()
    if which not in HOLDOUT_VIEWS:
        raise KpiInputError(
            f"view must be 'models', 'frequency' or 'tracking', got {which!r}", argument="view", value=which
        )
    start = coerce.option(holdout_start, "holdout_start")
    if start is None:
        raise KpiInputError(
            "holdout_start is required: the first day of the holdout", argument="holdout_start"
        )
    report = m.clv_holdout(
        tx["customer_ids"],
        tx["dates"],
        holdout_start=start,
        holdout_end=coerce.option(holdout_end, "holdout_end"),
        time_unit=coerce.text(time_unit, "time_unit"),
    )
    if which == "frequency":
        return spill.frame(report.by_frequency, index="frequency_cal")
    if which == "tracking":
        return spill.frame(report.tracking, index="period")
    table = spill.frame(report.comparison, index="model")
    width = len(table[0])
    return [*table, ["recommended", report.recommended, report.recommendation] + [None] * (width - 3)]


def _sbg(survivors):
    counts = coerce.read_column(survivors, "survivors", "count")
    model = m.ShiftedBetaGeoFitter().fit(counts)
    if not (model.converged and model.identified):
        raise KpiInputError(f"the sBG model could not be fitted to these survivors: {model.message}")
    return model


@xw.func(category=CATEGORY)
@xw.arg("survivors", "raw", doc=SURVIVORS_DOC)
@xw.arg(
    "periods", "raw", doc="Optional. Project to this period; default 10 (or the data's last period if later)."
)
@excel_function
def SBG_SURVIVAL(survivors, periods=10):
    """Spills the shifted-beta-geometric projection of a cohort: survival and retention per period, fitted and observed (Fader & Hardie 2007). Example: =SBG_SURVIVAL(B2:B9, 12)"""
    model = _sbg(survivors)
    horizon = coerce.number(periods, "periods", 10.0)
    n = max(int(horizon), len(model.survivors_) - 1)
    if horizon != int(horizon) or horizon < 1:
        raise KpiInputError(
            f"periods must be a whole number of 1 or more, got {horizon:g}", argument="periods"
        )
    proj = model.projection(n)
    return spill.frame(proj[["survival", "retention", "observed_survival"]], index="period")


@xw.func(category=CATEGORY)
@xw.arg("survivors", "raw", doc=SURVIVORS_DOC)
@xw.arg("discount_rate", "raw", doc="Discount rate per period, e.g. 0.1.")
@xw.arg("renewal", "raw", doc="Optional. The renewal the customer is about to make, 1 or more; default 1.")
@excel_function
def DERL(survivors, discount_rate, renewal=1):
    """Discounted expected residual lifetime, in periods, of a subscriber about to renew (sBG fitted to the cohort; Fader & Hardie 2010). Example: =DERL(B2:B9, 0.1, 1)"""
    model = _sbg(survivors)
    return float(
        model.derl(coerce.number(discount_rate, "discount_rate"), coerce.number(renewal, "renewal", 1.0))
    )


@xw.func(category=CATEGORY)
@xw.arg("survivors", "raw", doc=SURVIVORS_DOC)
@xw.arg("margin", "raw", doc="Margin a subscriber brings per period.")
@xw.arg("discount_rate", "raw", doc="Discount rate per period, e.g. 0.1.")
@xw.arg(
    "renewal", "raw", doc="Optional. 0 (default) for a new subscriber, n for one about to make renewal n."
)
@excel_function
def SUBSCRIPTION_CLV(survivors, margin, discount_rate, renewal=0):
    """Expected discounted value of a subscriber: margin x expected discounted lifetime under the sBG model fitted to the cohort (Fader & Hardie 2010). Example: =SUBSCRIPTION_CLV(B2:B9, 50, 0.1)"""
    model = _sbg(survivors)
    n = coerce.number(renewal, "renewal", 0.0)
    if n != int(n) or n < 0:
        raise KpiInputError(f"renewal must be a whole number of 0 or more, got {n:g}", argument="renewal")
    return model.subscription_clv(
        coerce.number(margin, "margin"), coerce.number(discount_rate, "discount_rate"), renewal=int(n)
    )


# --------------------------------------------------------------------------------------------------
# Service
# --------------------------------------------------------------------------------------------------

CREATED_DOC = "Date and time each ticket was created, e.g. Tickets[Created]."
AS_OF_DOC = "Optional. Cut-off date and time; tickets created later are ignored, replies after it count as not yet sent."
STATISTIC_DOC = "Optional. 'median' (default), 'mean' or 'p90' (90th percentile)."


def _tickets(created, ended, ended_name, skip):
    cols = coerce.read_columns(
        {"created": created, ended_name: ended}, {"created": "date", ended_name: "date"}, skip_errors=skip
    )
    return cols["created"], cols[ended_name]


@xw.func(category=CATEGORY)
@xw.arg("created", "raw", doc=CREATED_DOC)
@xw.arg(
    "first_response",
    "raw",
    doc="Date and time of the first reply, same rows; blank = not answered yet (excluded, never 0).",
)
@xw.arg("statistic", "raw", doc=STATISTIC_DOC)
@xw.arg("as_of", "raw", doc=AS_OF_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def FRT(created, first_response, statistic="median", as_of=None, skip_invalid=False):
    """First response time in hours (median by default) from ticket creation to first reply; open tickets are excluded. Example: =FRT(Tickets[Created], Tickets[Replied])"""
    skip = _skip(skip_invalid)
    c, e = _tickets(created, first_response, "first_response", skip)
    return m.first_response_time(
        c,
        e,
        statistic=coerce.text(statistic, "statistic", "median"),
        as_of=coerce.option(as_of, "as_of"),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("created", "raw", doc=CREATED_DOC)
@xw.arg(
    "resolved", "raw", doc="Date and time each ticket was resolved, same rows; blank = still open (excluded)."
)
@xw.arg("statistic", "raw", doc=STATISTIC_DOC)
@xw.arg("as_of", "raw", doc=AS_OF_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def RESOLUTION_TIME(created, resolved, statistic="median", as_of=None, skip_invalid=False):
    """Resolution time in hours (median, mean or p90) from ticket creation to resolution; open tickets are excluded. Example: =RESOLUTION_TIME(Tickets[Created], Tickets[Resolved], "p90")"""
    skip = _skip(skip_invalid)
    c, e = _tickets(created, resolved, "resolved", skip)
    return m.resolution_time(
        c,
        e,
        statistic=coerce.text(statistic, "statistic", "median"),
        as_of=coerce.option(as_of, "as_of"),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("created", "raw", doc=CREATED_DOC)
@xw.arg("responded", "raw", doc="Date and time of the response, same rows; blank = not answered yet.")
@xw.arg("target_hours", "raw", doc="The SLA target in hours, e.g. 4.")
@xw.arg(
    "as_of", "raw", doc="Optional. Cut-off; with it, an open ticket older than the target counts as breached."
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def SLA_RATE(created, responded, target_hours, as_of=None, skip_invalid=False):
    """SLA attainment: share of tickets answered within target_hours, 0 to 1. Example: =SLA_RATE(Tickets[Created], Tickets[Replied], 4)"""
    skip = _skip(skip_invalid)
    c, e = _tickets(created, responded, "responded", skip)
    return m.sla_rate(
        c,
        e,
        target_hours=coerce.number(target_hours, "target_hours"),
        as_of=coerce.option(as_of, "as_of"),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg(
    "complaints",
    "raw",
    doc="Number of complaints (one cell), or a yes/no column flagging each contact that was a complaint.",
)
@xw.arg("base", "raw", doc="Customers or orders in the same period (more than 0).")
@xw.arg("per", "raw", doc="Optional. Rate per this many of the base, default 1000.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def COMPLAINT_RATE(complaints, base, per=1000, skip_invalid=False):
    """Complaints per 1,000 customers or orders (or per 'per'). Example: =COMPLAINT_RATE(12, 4000) is 3"""
    skip = _skip(skip_invalid)
    return m.complaint_rate(
        coerce.column_or_scalar(complaints, "complaints", "flag", skip_errors=skip),
        coerce.required(base, "base", "the number of customers or orders"),
        per=coerce.number(per, "per", 1000.0),
        on_invalid=_on_invalid(skip),
    ).value


# --------------------------------------------------------------------------------------------------
# Advocacy and loyalty
# --------------------------------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg("engagements", "raw", doc="Engagements per post (likes + comments + shares ...).")
@xw.arg("audience", "raw", doc="Followers (or reach) per post, same rows; more than 0.")
@xw.arg("basis", "raw", doc="Optional. What audience holds: 'followers' (default) or 'reach'.")
@xw.arg(
    "method",
    "raw",
    doc="Optional. 'pooled' (default): total engagements / total audience; 'mean': average of the per-post rates.",
)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def ENGAGEMENT_RATE(engagements, audience, basis="followers", method="pooled", skip_invalid=False):
    """Engagement rate of posts: engagements / audience, as a share (format as %). Example: =ENGAGEMENT_RATE(Posts[Engagements], Posts[Followers])"""
    skip = _skip(skip_invalid)
    cols = coerce.read_columns(
        {"engagements": engagements, "audience": audience},
        {"engagements": "count", "audience": "count"},
        skip_errors=skip,
    )
    return m.engagement_rate(
        cols["engagements"],
        cols["audience"],
        basis=coerce.text(basis, "basis", "followers"),
        method=coerce.text(method, "method", "pooled"),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg(
    "converted",
    "raw",
    doc="A yes/no column (one row per referred lead: did it buy?), or the number of conversions when leads is given.",
)
@xw.arg("leads", "raw", doc="Optional. Number of referred leads; give it when converted is a count.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def REFERRAL_CONVERSION(converted, leads=None, skip_invalid=False):
    """Referral conversion rate: referred leads who purchased / referred leads, 0 to 1. Example: =REFERRAL_CONVERSION(Leads[Bought]) or =REFERRAL_CONVERSION(45, 300)"""
    leads_value = coerce.option(leads, "leads")
    if leads_value is not None:
        return m.referral_conversion_from_counts(
            coerce.required(converted, "converted", "the number of conversions"), leads_value
        ).value
    skip = _skip(skip_invalid)
    flags = coerce.read_column(converted, "converted_flags", "flag", skip_errors=skip)
    return m.referral_conversion(flags, on_invalid=_on_invalid(skip)).value


@xw.func(category=CATEGORY)
@xw.arg("amounts", "raw", doc="Revenue of each order or customer.")
@xw.arg("referred_flags", "raw", doc="Same rows: yes/no, was the customer referred?")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def ADVOCACY_REVENUE_SHARE(amounts, referred_flags, skip_invalid=False):
    """Share of revenue from referred customers: referred revenue / total revenue, 0 to 1. Example: =ADVOCACY_REVENUE_SHARE(Orders[Amount], Orders[Referred])"""
    skip = _skip(skip_invalid)
    cols = coerce.read_columns(
        {"amounts": amounts, "referred_flags": referred_flags},
        {"amounts": "amount", "referred_flags": "flag"},
        skip_errors=skip,
    )
    return m.advocacy_revenue_share(
        cols["amounts"], cols["referred_flags"], on_invalid=_on_invalid(skip)
    ).value


BASIS_DOC = "Optional. 'count' (default): share of orders or units; 'value': share of money. Never mixed."


@xw.func(category=CATEGORY)
@xw.arg("refunded_flags", "raw", doc="One row per order: yes/no, was it refunded?")
@xw.arg("amounts", "raw", doc="Optional. Order amounts, same rows (needed for basis 'value').")
@xw.arg("basis", "raw", doc=BASIS_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def REFUND_RATE(refunded_flags, amounts=None, basis="count", skip_invalid=False):
    """Refund rate: refunded orders / orders, or refunded value / sales value with basis 'value'. Example: =REFUND_RATE(Orders[Refunded])"""
    skip = _skip(skip_invalid)
    if coerce.is_blank(amounts):
        flags = coerce.read_column(refunded_flags, "refunded_flags", "flag", skip_errors=skip)
        values = None
    else:
        cols = coerce.read_columns(
            {"refunded_flags": refunded_flags, "amounts": amounts},
            {"refunded_flags": "flag", "amounts": "amount"},
            skip_errors=skip,
        )
        flags, values = cols["refunded_flags"], cols["amounts"]
    return m.refund_rate(
        flags, values, basis=coerce.text(basis, "basis", "count"), on_invalid=_on_invalid(skip)
    ).value


@xw.func(category=CATEGORY)
@xw.arg("units_returned", "raw", doc="Units returned per row (product, order or period).")
@xw.arg("units_sold", "raw", doc="Units sold, same rows.")
@xw.arg("unit_prices", "raw", doc="Optional. Price per unit, same rows (needed for basis 'value').")
@xw.arg("basis", "raw", doc=BASIS_DOC)
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def RETURN_RATE(units_returned, units_sold, unit_prices=None, basis="count", skip_invalid=False):
    """Return rate: units returned / units sold (or by value with basis 'value'). Example: =RETURN_RATE(Sales[Returned], Sales[Sold])"""
    skip = _skip(skip_invalid)
    ranges = {"units_returned": units_returned, "units_sold": units_sold}
    kinds: dict[str, Kind] = {"units_returned": "count", "units_sold": "count"}
    if not coerce.is_blank(unit_prices):
        ranges["unit_prices"], kinds["unit_prices"] = unit_prices, "amount"
    cols = coerce.read_columns(ranges, kinds, skip_errors=skip)
    return m.return_rate(
        cols["units_returned"],
        cols["units_sold"],
        cols.get("unit_prices"),
        basis=coerce.text(basis, "basis", "count"),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("points_redeemed", "raw", doc="Points redeemed: a total, or a column of values to sum.")
@xw.arg("points_issued", "raw", doc="Points issued (including expired): a total, or a column to sum.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def REDEMPTION_RATE(points_redeemed, points_issued, skip_invalid=False):
    """Loyalty redemption rate: points redeemed / points issued; can exceed 1 in a period. Example: =REDEMPTION_RATE(B2, B3)"""
    skip = _skip(skip_invalid)
    return m.redemption_rate(
        coerce.column_or_scalar(points_redeemed, "points_redeemed", "count", skip_errors=skip),
        coerce.column_or_scalar(points_issued, "points_issued", "count", skip_errors=skip),
        on_invalid=_on_invalid(skip),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("members", "raw", doc="Loyalty programme members.")
@xw.arg("customers", "raw", doc="Customers in the same base (at least members).")
@excel_function
def PARTICIPATION_RATE(members, customers):
    """Loyalty participation rate: members / customers, 0 to 1. Example: =PARTICIPATION_RATE(350, 1000) is 0.35"""
    return m.participation_rate(
        coerce.required(members, "members", "the number of members"),
        coerce.required(customers, "customers", "the number of customers"),
    ).value


@xw.func(category=CATEGORY)
@xw.arg("nps", "raw", doc="NPS, -100 to 100 (e.g. a cell with =NPS(...)).")
@xw.arg("csat", "raw", doc="CSAT as a share 0 to 1 (e.g. =CSAT(...)).")
@xw.arg("referral_rate", "raw", doc="Referral rate as a share 0 to 1.")
@xw.arg("weight_nps", "raw", doc="Optional. Weight of NPS, default 0.4.")
@xw.arg("weight_csat", "raw", doc="Optional. Weight of CSAT, default 0.3.")
@xw.arg("weight_referral", "raw", doc="Optional. Weight of the referral rate, default 0.3.")
@excel_function
def ADVOCACY_INDEX(nps, csat, referral_rate, weight_nps=0.4, weight_csat=0.3, weight_referral=0.3):
    """Customer Advocacy Index 0-100 (kpi-xl's weighted composite, not an industry standard): NPS rescaled to 0-1, CSAT and referral rate. Example: =ADVOCACY_INDEX(40, 0.8, 0.25)"""
    return m.advocacy_index(
        coerce.number(nps, "nps"),
        coerce.number(csat, "csat"),
        coerce.number(referral_rate, "referral_rate"),
        weights=(
            coerce.number(weight_nps, "weight_nps", 0.4),
            coerce.number(weight_csat, "weight_csat", 0.3),
            coerce.number(weight_referral, "weight_referral", 0.3),
        ),
    ).value


# --------------------------------------------------------------------------------------------------
# Any metric by segment
# --------------------------------------------------------------------------------------------------


def _check_options(fn, name: str, opts: dict[str, object], skip: bool) -> None:
    """Options typed in a cell must be the metric's settings, and its required ones must be there."""
    params = inspect.signature(fn).parameters
    # on_invalid is skip_invalid and min_n an argument of KPI_BY_SEGMENT itself, not options.
    settings = [
        p
        for p in params.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("on_invalid", "min_n")
    ]
    known = {p.name for p in settings}
    unknown = sorted(set(opts) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise KpiInputError(
            f"options: {', '.join(unknown)} is not a setting of {name}; its settings are: {listed}",
            argument="options",
        )
    missing = [p.name for p in settings if p.default is inspect.Parameter.empty and p.name not in opts]
    if missing:
        example = "; ".join(f"{p}=..." for p in missing)
        raise KpiInputError(
            f'{name} needs the option(s) {", ".join(missing)}: add options "{example}"', argument="options"
        )
    if skip and "on_invalid" not in params:
        raise KpiInputError(f"skip_invalid is not available for {name}: it has no invalid values to skip")


@xw.func(category=CATEGORY)
@xw.arg("table", "raw", doc="The data with its header row, e.g. Responses[#All] or A1:D500.")
@xw.arg(
    "segment_column", "raw", doc="Header of the segment column (e.g. 'Region'); blank to group by month only."
)
@xw.arg(
    "metric",
    "raw",
    doc="Metric name: nps, csat, ces, aov, repeat_purchase_rate, first_response_time, sla_rate, refund_rate, churn ...",
)
@xw.arg(
    "value_columns",
    "raw",
    doc="Header(s) of the metric's data column(s), e.g. 'Score', or 'Created, Replied' for first_response_time.",
)
@xw.arg(
    "options",
    "raw",
    doc="Optional. Metric settings as 'name=value; ...', e.g. 'target_hours=4' or 'scale=1,7'.",
)
@xw.arg("month_column", "raw", doc="Optional. Header of a date column: group by its calendar month too.")
@xw.arg("min_n", "raw", doc="Optional. Groups with fewer answers are flagged small_sample; default 30.")
@xw.arg("total", "raw", doc="Optional. TRUE (default) adds a Total row.")
@xw.arg("skip_invalid", "raw", doc=SKIP_DOC)
@excel_function
def KPI_BY_SEGMENT(
    table,
    segment_column,
    metric,
    value_columns,
    options=None,
    month_column=None,
    min_n=30,
    total=True,
    skip_invalid=False,
):
    """Spills a metric per segment (and/or month): value, n, interval, small-sample flag, one row per group plus Total. Example: =KPI_BY_SEGMENT(Responses[#All], "Region", "nps", "Score")"""
    skip = _skip(skip_invalid)
    segment = coerce.option(segment_column, "segment_column")
    segment = None if segment is None else str(segment).strip()
    month = coerce.option(month_column, "month_column")
    month = None if month is None else str(month).strip()
    columns = coerce.names(value_columns, "value_columns")
    name = str(coerce.required(metric, "metric", "a metric name, e.g. nps")).strip().lower()
    opts = coerce.settings(options, "options")
    if name in m.catalog.names():
        _check_options(m.catalog.get(name).function, name, opts, skip)
    if skip:
        opts["on_invalid"] = "drop"
    used = [c for c in (segment, month) if c] + columns
    frame = coerce.read_table(
        table, "table", used=used, labels=[segment] if segment else [], skip_errors=skip
    )
    result = m.segment_table(
        frame,
        name,
        columns=columns,
        by=segment,
        period="month" if month else None,
        date=month,
        min_n=coerce.whole(min_n, "min_n", 30),
        total=coerce.flag(total, "total", True),
        **opts,
    )
    return spill.frame(result)


# --------------------------------------------------------------------------------------------------
# From scores to actions: comment themes, the closed loop, key drivers, survey planning
# --------------------------------------------------------------------------------------------------

__all__ += [
    "COMMENT_THEMES",
    "COMMENT_SENTIMENT",
    "FOLLOWUP_LIST",
    "REVENUE_AT_RISK",
    "ADVOCATES",
    "FEEDBACK_ENGAGEMENT",
    "KEY_DRIVERS",
    "NPS_SAMPLE_SIZE",
    "NPS_CHANGE_SAMPLE_SIZE",
]

COMMENTS_DOC = "Open comments, one per answer (a column or Table column), same rows as the scores."
ANSWER_SCORES_DOC = "0-10 recommend score of each answer, same rows."
LANGUAGE_DOC = "Optional. 'en', 'de', 'zh-Hant' or 'auto' (default: guessed per comment)."
_THEME_COLUMNS = ["group", "theme", "count", "comments", "share_comments", "g2", "p_value", "example_1"]


def _comment_columns(comments, scores, segments=None):
    ranges = {"comments": comments, "scores": scores}
    kinds: dict[str, Kind] = {"comments": "text", "scores": "score"}
    if segments is not None:
        ranges["segments"], kinds["segments"] = segments, "label"
    return coerce.read_columns(ranges, kinds)


@xw.func(category=CATEGORY)
@xw.arg("comments", "raw", doc=COMMENTS_DOC)
@xw.arg("scores", "raw", doc=ANSWER_SCORES_DOC)
@xw.arg("top", "raw", doc="Optional. Themes per NPS group, default 5.")
@xw.arg("language", "raw", doc=LANGUAGE_DOC)
@xw.arg("segments", "raw", doc="Optional. Segment of each answer: themes within each segment.")
@xw.arg("min_count", "raw", doc="Optional. Uses a theme needs, default 3.")
@xw.arg(
    "min_g2",
    "raw",
    doc="Optional. Log-likelihood G2 a theme needs, default 3.84 (p < 0.05); 10.83 is p < 0.001.",
)
@excel_function
def COMMENT_THEMES(comments, scores, top=5, language="auto", segments=None, min_count=3, min_g2=3.84):
    """Spills the words and phrases detractors, passives and promoters use distinctively often (G2 keyness): count, share of comments, G2, an example. Example: =COMMENT_THEMES(Responses[Comment], Responses[Score])"""
    cols = _comment_columns(comments, scores, None if coerce.is_blank(segments) else segments)
    table = m.comment_themes(
        cols["comments"],
        cols["scores"],
        segments=cols.get("segments"),
        language=coerce.text(language, "language", "auto").replace("zh-hant", "zh-Hant"),
        top=coerce.whole(top, "top", 5),
        min_count=coerce.whole(min_count, "min_count", 3),
        min_g2=coerce.number(min_g2, "min_g2", 3.84),
        examples=1,
    )
    shown = (["segment"] if "segment" in table.columns else []) + _THEME_COLUMNS
    return spill.frame(table[shown])


@xw.func(category=CATEGORY)
@xw.arg("comments", "raw", doc=COMMENTS_DOC)
@xw.arg("scores", "raw", doc=ANSWER_SCORES_DOC)
@xw.arg("language", "raw", doc=LANGUAGE_DOC)
@excel_function
def COMMENT_SENTIMENT(comments, scores, language="auto"):
    """Spills the share of positive, neutral and negative comments by NPS group (VADER lexicon, English comments) with intervals. Example: =COMMENT_SENTIMENT(Responses[Comment], Responses[Score])"""
    cols = _comment_columns(comments, scores)
    lang = coerce.text(language, "language", "auto").replace("zh-hant", "zh-Hant")
    return spill.frame(m.comment_sentiment(cols["comments"], cols["scores"], language=lang), index="group")


@xw.func(category=CATEGORY)
@xw.arg("response_ids", "raw", doc="Customer id of each survey answer, e.g. Responses[Customer].")
@xw.arg("scores", "raw", doc=ANSWER_SCORES_DOC)
@xw.arg("customer_ids", "raw", doc="Customer id of each row of the value table (one row per customer).")
@xw.arg("predicted_clv", "raw", doc="Predicted CLV of each customer, same rows as customer_ids.")
@xw.arg("historical_clv", "raw", doc="Optional. Revenue to date of each customer, same rows.")
@xw.arg("p_alive", "raw", doc="Optional. Probability each customer is still active, same rows.")
@xw.arg("csat", "raw", doc="Optional. CSAT answer of each survey answer (1-5), same rows as response_ids.")
@xw.arg("csat_max", "raw", doc="Optional. CSAT answers up to this are followed up too; default 2.")
@xw.arg("top", "raw", doc="Optional. Rows to show, default all.")
@excel_function
def FOLLOWUP_LIST(
    response_ids,
    scores,
    customer_ids,
    predicted_clv,
    historical_clv=None,
    p_alive=None,
    csat=None,
    csat_max=2,
    top=None,
):
    """Spills who to call back first: detractors (and low CSAT) with their CLV and P(alive), ranked by value at risk; ids not in the value table last. Example: =FOLLOWUP_LIST(Responses[Customer], Responses[Score], CLV[Customer], CLV[CLV])"""
    answers = {"response_ids": response_ids, "scores": scores}
    kinds: dict[str, Kind] = {"response_ids": "id", "scores": "score"}
    if not coerce.is_blank(csat):
        answers["csat"], kinds["csat"] = csat, "score"
    a = coerce.read_columns(answers, kinds)
    ranges = {"customer_ids": customer_ids, "predicted_clv": predicted_clv}
    vkinds: dict[str, Kind] = {"customer_ids": "id", "predicted_clv": "amount"}
    for name, rng, kind in (("historical_clv", historical_clv, "amount"), ("p_alive", p_alive, "share")):
        if not coerce.is_blank(rng):
            ranges[name], vkinds[name] = rng, kind
    v = coerce.read_columns(ranges, vkinds)
    coerce.same_rows(v)
    value = pd.DataFrame({"customer_id": v.pop("customer_ids"), **v})
    out = m.followup_list(
        a["response_ids"],
        a["scores"],
        csat=a.get("csat"),
        csat_max=coerce.whole(csat_max, "csat_max", 2),
        value=value,
    )
    out = out.drop(columns=["comment", "response_date", "open_tickets", "last_contact"])
    n = coerce.whole(top, "top", len(out))
    return spill.frame(out.head(n))


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc="Customer id of each row of the value table (one row per customer).")
@xw.arg("predicted_clv", "raw", doc="Predicted CLV of each customer, same rows.")
@xw.arg("p_alive", "raw", doc="Probability each customer is still active, same rows (blank: not known).")
@xw.arg(
    "response_ids",
    "raw",
    doc="Customer id of each survey answer; a customer whose latest answer is 0-6 is a detractor.",
)
@xw.arg("scores", "raw", doc=ANSWER_SCORES_DOC)
@xw.arg("threshold", "raw", doc="Optional. P(alive) below which a customer's CLV is at risk; default 0.5.")
@xw.arg(
    "segments",
    "raw",
    doc="Optional. Segment of each customer (same rows as customer_ids): spills a table by segment.",
)
@excel_function
def REVENUE_AT_RISK(customer_ids, predicted_clv, p_alive, response_ids, scores, threshold=0.5, segments=None):
    """Predicted CLV of detractors and of customers with P(alive) below threshold; with segments, spills the table by segment. Example: =REVENUE_AT_RISK(CLV[Customer], CLV[CLV], CLV[P alive], Responses[Customer], Responses[Score])"""
    ranges = {"customer_ids": customer_ids, "predicted_clv": predicted_clv, "p_alive": p_alive}
    kinds: dict[str, Kind] = {"customer_ids": "id", "predicted_clv": "amount", "p_alive": "share"}
    by = not coerce.is_blank(segments)
    if by:
        ranges["segments"], kinds["segments"] = segments, "label"
    v = coerce.read_columns(ranges, kinds)
    a = coerce.read_columns(
        {"response_ids": response_ids, "scores": scores}, {"response_ids": "id", "scores": "score"}
    )
    table = m.revenue_at_risk(
        v["customer_ids"],
        v["predicted_clv"],
        v["p_alive"],
        detractor_ids=m.detractor_ids(a["response_ids"], a["scores"]),
        segments=v.get("segments"),
        threshold=coerce.number(threshold, "threshold", 0.5),
    )
    if not by:
        return table.loc["Total", "revenue_at_risk"]
    return spill.frame(table, index="segment")


@xw.func(category=CATEGORY)
@xw.arg("customer_ids", "raw", doc="Customer id, one row per customer.")
@xw.arg(
    "scores", "raw", doc="Latest 0-10 score of each customer, same rows; only promoters (9-10) are ranked."
)
@xw.arg("referrals_made", "raw", doc="Optional. Customers each one referred, same rows.")
@xw.arg("referrals_converted", "raw", doc="Optional. Referred customers who bought, same rows.")
@xw.arg("referral_revenue", "raw", doc="Optional. Revenue the referred customers brought, same rows.")
@xw.arg("clv", "raw", doc="Optional. Each customer's (predicted) CLV, same rows.")
@xw.arg("top", "raw", doc="Optional. Rows to show, default all.")
@excel_function
def ADVOCATES(
    customer_ids,
    scores,
    referrals_made=None,
    referrals_converted=None,
    referral_revenue=None,
    clv=None,
    top=None,
):
    """Spills promoters ranked by advocacy score 0-100: score/10 and each part over its maximum, weighted 1,1,2,2,1 (score, referrals, converted, revenue, CLV). Example: =ADVOCATES(C[Id], C[Score], C[Referrals])"""
    ranges = {"customer_ids": customer_ids, "scores": scores}
    kinds: dict[str, Kind] = {"customer_ids": "id", "scores": "score"}
    parts = {"referrals_made": (referrals_made, "count"), "referrals_converted": (referrals_converted, "count"),
             "referral_revenue": (referral_revenue, "amount"), "clv": (clv, "amount")}  # fmt: skip
    for name, (rng, kind) in parts.items():
        if not coerce.is_blank(rng):
            ranges[name], kinds[name] = rng, kind
    cols = coerce.read_columns(ranges, kinds)
    out = m.advocates(cols.pop("customer_ids"), cols.pop("scores"), **cols)
    return spill.frame(out.head(coerce.whole(top, "top", len(out))))


@xw.func(category=CATEGORY)
@xw.arg("received", "raw", doc="Date-time each review or feedback came in.")
@xw.arg("answered", "raw", doc="Date-time it was answered, same rows; blank while unanswered.")
@xw.arg("statistic", "raw", doc="Optional. Time to answer as 'median' (default), 'mean' or 'p90'.")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@excel_function
def FEEDBACK_ENGAGEMENT(received, answered, statistic="median", confidence=0.95):
    """Spills the share of feedback answered (with interval) and the time to answer in hours (with interval). Example: =FEEDBACK_ENGAGEMENT(Reviews[Received], Reviews[Answered])"""
    cols = coerce.read_columns(
        {"received": received, "answered": answered}, {"received": "date", "answered": "date"}
    )
    stat = coerce.choice(statistic, "statistic", "median", ("median", "mean", "p90"))
    r = m.feedback_engagement(
        cols["received"],
        cols["answered"],
        statistic=stat,
        confidence=coerce.number(confidence, "confidence", 0.95),
    )
    c = r.components
    return spill.pairs(
        [
            ("answer_rate", r.value),
            ("ci_low", r.ci_low),
            ("ci_high", r.ci_high),
            ("answered", c["answered"]),
            ("received", c["received"]),
            (f"time_to_answer_hours_{stat}", c["time_to_answer_hours"]),
            ("time_ci_low", c["time_ci_low"]),
            ("time_ci_high", c["time_ci_high"]),
        ]
    )


@xw.func(category=CATEGORY)
@xw.arg("table", "raw", doc="The answers with their header row, e.g. Responses[#All].")
@xw.arg("score_column", "raw", doc="Header of the 0-10 score column, e.g. 'Score'.")
@xw.arg(
    "attribute_columns",
    "raw",
    doc="Headers of 2 to 12 attribute rating columns, e.g. 'Price, Support, Product'.",
)
@xw.arg("n_boot", "raw", doc="Optional. Bootstrap resamples for the interval, default 200 (0: none).")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@excel_function
def KEY_DRIVERS(table, score_column, attribute_columns, n_boot=200, confidence=0.95):
    """Spills each attribute's importance (Shapley share of R2) with bootstrap interval, mean rating and importance x performance quadrant. Example: =KEY_DRIVERS(Responses[#All], "Score", "Price, Support")"""
    score = str(coerce.required(score_column, "score_column", "the score column's header")).strip()
    attrs = coerce.names(attribute_columns, "attribute_columns")
    frame = coerce.read_table(table, "table", used=[score, *attrs])
    out = m.key_drivers(
        frame[score], frame[attrs], n_boot=coerce.whole(n_boot, "n_boot", 200),
        confidence=coerce.number(confidence, "confidence", 0.95),
    )  # fmt: skip
    return spill.frame(out, index="attribute")


@xw.func(category=CATEGORY)
@xw.arg("margin", "raw", doc="Target margin of error in NPS points, e.g. 5 for +/- 5.")
@xw.arg(
    "promoters",
    "raw",
    doc="Optional. Expected share of promoters, 0 to 1; default 0.5 (worst case with detractors 0.5).",
)
@xw.arg("detractors", "raw", doc="Optional. Expected share of detractors, 0 to 1; default 0.5.")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@excel_function
def NPS_SAMPLE_SIZE(margin, promoters=0.5, detractors=0.5, confidence=0.95):
    """Responses needed for an NPS margin of error of at most margin points (adjusted-Wald, Rocks 2016; Sauro & Lewis 2016). Example: =NPS_SAMPLE_SIZE(5, 0.45, 0.25)"""
    return m.nps_sample_size(
        coerce.number(margin, "margin"),
        promoters=coerce.number(promoters, "promoters", 0.5),
        detractors=coerce.number(detractors, "detractors", 0.5),
        confidence=coerce.number(confidence, "confidence", 0.95),
    )


@xw.func(category=CATEGORY)
@xw.arg("change", "raw", doc="NPS change to detect between two periods, in points, e.g. 10.")
@xw.arg("promoters", "raw", doc="Optional. Expected share of promoters, 0 to 1; default 0.5.")
@xw.arg("detractors", "raw", doc="Optional. Expected share of detractors, 0 to 1; default 0.5.")
@xw.arg("confidence", "raw", doc=CONFIDENCE_DOC)
@xw.arg("power", "raw", doc="Optional. Chance of detecting a real change of that size, default 0.8.")
@excel_function
def NPS_CHANGE_SAMPLE_SIZE(change, promoters=0.5, detractors=0.5, confidence=0.95, power=0.8):
    """Responses needed in each of two periods to detect an NPS change of change points (two-sided test, adjusted-Wald). Example: =NPS_CHANGE_SAMPLE_SIZE(10, 0.45, 0.25)"""
    return m.nps_change_sample_size(
        coerce.number(change, "change"),
        promoters=coerce.number(promoters, "promoters", 0.5),
        detractors=coerce.number(detractors, "detractors", 0.5),
        confidence=coerce.number(confidence, "confidence", 0.95),
        power=coerce.number(power, "power", 0.8),
    )
