"""Property-based tests (hypothesis): arbitrary messy input never crashes a face or bends an invariant.

* Every Excel function, called through xlwings' own Office.js custom-function runtime (one child
  process for the whole run, the harness of ``test_udfs_runtime.py``) with arbitrary 2-D ranges of
  mixed cells - numbers, numeric text, both kinds of blank, booleans, Excel error values, date
  serials, huge and tiny floats, NaN and infinities, unicode text - returns a number, a spilled
  array or an Excel error value: never an uncaught exception, never kpi-xl's own "could not
  compute" safety net (which would mean a bug), never a NaN or infinity in a cell.
* Engine invariants on arbitrary valid input: NPS within [-100, 100]; every interval contains its
  estimate; rates within [0, 1]; CLV never decreasing in margin or retention; segment counts add
  up to the total.
* The command line on arbitrary CSV text and arbitrary workbooks: exit 0 or 2, never a traceback.

Runs are reproducible and bounded: a fixed seed (``derandomize=True``), no example database, and
a fixed number of examples per property. The number of examples each property ran is printed at
the end of the test run (section "kpi-xl properties").
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections import Counter

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_udfs_runtime import OfficeJs, Raised

from kpi_xl import cli, udfs
from kpi_xl import metrics as m
from kpi_xl.metrics import KpiInputError

EXAMPLES: Counter[str] = Counter()


def bounded(n: int) -> settings:
    """Fixed seed, no example database, ``n`` examples, no deadline (CI machines vary in speed)."""
    return settings(
        derandomize=True,
        database=None,
        max_examples=n,
        deadline=None,
        # capsys and tmp_path_factory are read afresh in every example.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


#: File-system faults put in a refresh's way: cases tried, refreshes that ended cleanly (a result or
#: a clear refusal), and books whose data changed (must stay 0).
FAULTS: Counter[str] = Counter()


class _Summary:
    """Prints the examples run per property after the test run (registered by the fixture below)."""

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.section("kpi-xl properties")
        for name, n in sorted(EXAMPLES.items()):
            terminalreporter.write_line(f"{name}: {n} examples")
        terminalreporter.write_line(f"{len(EXAMPLES)} properties, {sum(EXAMPLES.values())} examples")
        if FAULTS:
            terminalreporter.write_line(
                f"file-system faults: {FAULTS['tried']} cases tried ({FAULTS['refused']} refused clearly, "
                f"{FAULTS['refreshed']} refreshed), {FAULTS['tried'] - FAULTS['crashed']} survived, "
                f"data lost: {FAULTS['lost']}"
            )


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("kpi-xl-property-summary"):
        manager.register(_Summary(), "kpi-xl-property-summary")


# --------------------------------------------------------------------------------------------------
# Cells as Office.js sends them
# --------------------------------------------------------------------------------------------------

ERROR_TYPES = {
    "#N/A": "NotAvailable",
    "#DIV/0!": "Div0",
    "#VALUE!": "Value",
    "#REF!": "Ref",
    "#NAME?": "Name",
    "#NUM!": "Num",
    "#NULL!": "Null",
}


def error_cell(code: str) -> dict:
    return {"type": "Error", "basicType": "Error", "basicValue": code, "errorType": ERROR_TYPES[code]}


EXTREME = [
    1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 1e-300, -0.0, 2**53 + 1, -(2**63),
    1e20, 2958465, 99991231, 9.000000000000002,
]  # fmt: skip
ODD_TEXT = [
    " 7 ", "1e3", "1,5", "1.234,56", "１２", "0x10", "NaN", "nan", "inf", "-inf", "-0", "10%", "€12,50",
    "TRUE", "false", "#N/A", "#DIV/0!", "=1+1", "2025-01-31", "31.12.2025", "1/2/2025", "\u00a09", "٣",
    "ja", "yes", "n", "",
    # Regression cases of issue 15: placeholders, locale number text a header guess must not swallow,
    # text dates whose order depends on the locale, far dates.
    "k.A.", "keine Angabe", "-", "1.000", "1,000", "12,50", "1,234.50", "45%", "03/04/2025",
    "9999-12-31", "31.12.9999", "2925-01-02",
]  # fmt: skip
SERIALS = st.floats(36526, 47483, allow_nan=False)  # 2000-01-01 .. 2029-12-31 as Excel serials
NUMBERS = st.one_of(
    st.integers(0, 11),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EXTREME),
)
ANY_CELL = st.one_of(
    NUMBERS,
    NUMBERS.map(str),
    st.sampled_from(ODD_TEXT),
    st.sampled_from([None, ""]),
    st.booleans(),
    st.sampled_from(list(ERROR_TYPES)).map(error_cell),
    SERIALS,
    st.text(max_size=10),
)
# What each kind of column usually holds, so that many calls get past the first bad cell.
TYPICAL = {
    "score": st.integers(0, 10),
    "date": SERIALS,
    "id": st.one_of(st.integers(1, 8), st.sampled_from(["a", "b", "c", "d"])),
    "amount": st.floats(0, 500, allow_nan=False),
    "flag": st.sampled_from(["yes", "no", True, False, "y", "n", 1, 0]),
    "count": st.integers(0, 1000),
}
COLUMN_KIND = {
    "scores": "score",
    "scores_a": "score",
    "scores_b": "score",
    "start_dates": "date",
    "end_dates": "date",
    "order_dates": "date",
    "dates": "date",
    "created": "date",
    "first_response": "date",
    "resolved": "date",
    "responded": "date",
    "customer_ids": "id",
    "amounts": "amount",
    "unit_prices": "amount",
    "converted": "flag",
    "refunded_flags": "flag",
    "referred_flags": "flag",
    "complaints": "flag",
    "engagements": "count",
    "audience": "count",
    "units_returned": "count",
    "units_sold": "count",
    "points_redeemed": "count",
    "points_issued": "count",
}
TOKENS = [
    0, 1, 2, 0.5, 0.9, 0.95, 4, 5, 7, 9, 10, 12, 52, 100, 1000, -1, 45658, 45688.5, True, False,
    "week", "month", "day", "year", "quarter", "mean", "median", "p90", "count", "value", "orders", "days",
    "reach", "followers", "pooled", "average", "start", "gupta-lehmann", "blattberg", "ofek", "wald",
    "adjusted-wald", "net", "pct_agree", "nps", "csat", "ces", "aov", "churn", "sla_rate", "Region",
    "Score", "Date", "Comment", "scale=0,10; threshold=9", "2025-01-01", "nonsense",
]  # fmt: skip
HEADERS = ["Region", "Score", "Date", "Comment", "Amount", "Customer"]


def column(kind: str | None, n: int) -> st.SearchStrategy:
    """A one-column range of ``n`` cells, with or without a header cell on top."""
    cell = st.one_of(TYPICAL[kind], ANY_CELL) if kind else ANY_CELL
    body = st.lists(cell, min_size=n, max_size=n)
    header = st.sampled_from([[], ["Header"], [kind or "x"]])
    return st.tuples(header, body).map(lambda hb: [[v] for v in hb[0] + hb[1]])


def grid(n: int) -> st.SearchStrategy:
    """A table: a header row of plausible names, then ``n`` rows of mixed cells."""
    width = st.integers(1, 4)
    return width.flatmap(
        lambda w: st.tuples(
            st.lists(st.sampled_from(HEADERS), min_size=w, max_size=w),
            st.lists(
                st.lists(st.one_of(TYPICAL["score"], ANY_CELL), min_size=w, max_size=w),
                min_size=n,
                max_size=n,
            ),
        ).map(lambda t: [t[0], *t[1]])
    )


def argument(name: str, n: int) -> st.SearchStrategy:
    scalar = st.one_of(st.sampled_from(TOKENS), ANY_CELL).map(lambda v: [[v]])
    if name == "table":
        return st.one_of(grid(n), scalar)
    if name in COLUMN_KIND:
        return st.one_of(column(COLUMN_KIND[name], n), column(None, n), scalar, st.none())
    return st.one_of(st.none(), scalar, st.sampled_from([[[1, 2]], [[1], [2]]]))


def call_args(fn) -> st.SearchStrategy:
    names = list(inspect.signature(fn).parameters)
    return st.integers(1, 12).flatmap(lambda n: st.tuples(*(argument(p, n) for p in names)))


@pytest.fixture(scope="module")
def xl():
    runtime = OfficeJs()
    yield runtime
    runtime.close()


def _is_error_value(v) -> bool:
    return isinstance(v, dict) and v.get("type") == "Error" and v.get("errorType") in ERROR_TYPES.values()


def _check_excel_result(name: str, args, got) -> None:
    assert isinstance(got, list) and got and all(isinstance(r, list) for r in got), (name, args, got)
    width = len(got[0])
    assert width and all(len(r) == width for r in got), (name, "ragged spill", got)
    for row in got:
        for v in row:
            if isinstance(v, float):
                assert math.isfinite(v), (name, args, "a NaN or infinity in a cell", got)
            else:
                assert v is None or isinstance(v, (bool, int, str)) or _is_error_value(v), (name, args, v)


@pytest.mark.parametrize("name", udfs.__all__)
@bounded(150)
@given(data=st.data())
def test_every_excel_function_answers_any_range_with_a_value_or_an_excel_error(xl, name, data):
    fn = getattr(udfs, name)
    args = data.draw(call_args(fn), label="arguments")
    runtime = data.draw(st.sampled_from(["1.4", "1.3"]), label="runtime")
    EXAMPLES[f"Excel function {name} (Office.js runtime)"] += 1
    try:
        got = xl.call(name, *args, runtime=runtime)
    except Raised as raised:
        # A reason for #VALUE! (xlwings shows it on hover): an error value with a message.
        assert raised.kind == "XlwingsError", (name, args, raised)
        assert not raised.message.startswith("kpi-xl could not compute"), (name, args, raised.message)
        assert "Traceback" not in raised.message and raised.message.strip()
        return
    _check_excel_result(name, args, got)


# --------------------------------------------------------------------------------------------------
# Engine invariants
# --------------------------------------------------------------------------------------------------

UNITS = {"points", "share", "score", "currency", "hours", "count", "index"}


def check_result(r: m.MetricResult) -> None:
    """What every result promises: a finite value, its interval around it, sane counts."""
    assert r.unit in UNITS
    assert r.value is not None and math.isfinite(r.value), r
    assert r.n_used >= 0 and r.n_dropped >= 0
    if r.se is not None:
        assert r.se >= 0 or math.isnan(r.se), r
    if r.ci_low is not None and r.ci_high is not None:
        assert r.ci_low <= r.value <= r.ci_high, (r.metric, r.value, r.ci_low, r.ci_high)
    if r.unit == "share":
        assert 0 <= r.value <= 1, r
        for bound in (r.ci_low, r.ci_high):
            assert bound is None or 0 <= bound <= 1, r


SCORES = st.lists(
    st.one_of(st.integers(0, 10), st.none(), st.integers(0, 10).map(str)), min_size=1, max_size=60
)
CONFIDENCE = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999])


@bounded(300)
@given(scores=SCORES, confidence=CONFIDENCE, method=st.sampled_from(["wald", "adjusted-wald"]))
def test_nps_is_within_100_points_and_inside_its_interval(scores, confidence, method):
    EXAMPLES["engine: NPS in [-100, 100], interval contains it"] += 1
    if all(s is None for s in scores):
        with pytest.raises(KpiInputError):
            m.nps(scores, confidence=confidence, method=method)
        return
    r = m.nps(scores, confidence=confidence, method=method)
    check_result(r)
    assert -100 <= r.value <= 100
    assert r.ci_low >= -100 and r.ci_high <= 100
    valid = [int(s) for s in scores if s is not None]
    # Recount by hand: promoters 9-10, detractors 0-6.
    promoters, detractors = sum(s >= 9 for s in valid), sum(s <= 6 for s in valid)
    assert r.value == pytest.approx(100 * (promoters - detractors) / len(valid), abs=1e-9)
    assert r.n_used == len(valid) and r.n_dropped == len(scores) - len(valid)


@bounded(200)
@given(a=SCORES, b=SCORES, confidence=CONFIDENCE)
def test_nps_difference_is_within_200_points_and_inside_its_interval(a, b, confidence):
    EXAMPLES["engine: NPS difference in [-200, 200], interval contains it"] += 1
    if all(s is None for s in a) or all(s is None for s in b):
        return
    r = m.nps_diff(a, b, confidence=confidence)
    check_result(r)
    assert -200 <= r.value <= 200
    assert r.value == pytest.approx(m.nps(a).value - m.nps(b).value, abs=1e-9)


SHARE_CASES = {
    "CSAT share": lambda d: m.csat(d.draw(st.lists(st.integers(1, 5), min_size=1, max_size=50))),
    "CSAT share on 0-10 with a threshold": lambda d: m.csat(
        d.draw(st.lists(st.integers(0, 10), min_size=1, max_size=50)),
        scale=(0, 10),
        threshold=d.draw(st.integers(0, 10)),
    ),
    "churn rate": lambda d: (
        lambda s: (
            m.churn_rate(s, d.draw(st.integers(0, s)), base=d.draw(st.sampled_from(["start", "average"])))
            if d.draw(st.booleans())
            else m.churn_rate(s, customers_end=d.draw(st.integers(0, s)), new_customers=0)
        )
    )(d.draw(st.integers(1, 10**6))),
    "retention rate": lambda d: (lambda s, new: m.retention_rate(s, d.draw(st.integers(new, s + new)), new))(
        d.draw(st.integers(1, 10**5)), d.draw(st.integers(0, 10**4))
    ),
    "repeat purchase rate": lambda d: m.repeat_purchase_rate(
        d.draw(st.lists(st.sampled_from(["a", "b", "c", 1, 2, "1"]), min_size=1, max_size=40))
    ),
    "referral conversion rate": lambda d: m.referral_conversion(
        d.draw(st.lists(st.sampled_from(["yes", "no", True, False, 1, 0]), min_size=1, max_size=40))
    ),
    "refund rate": lambda d: m.refund_rate(d.draw(st.lists(st.booleans(), min_size=1, max_size=40))),
    "participation rate": lambda d: (lambda c: m.participation_rate(d.draw(st.integers(0, c)), c))(
        d.draw(st.integers(1, 10**6))
    ),
    "active member rate": lambda d: (lambda c: m.active_member_rate(d.draw(st.integers(0, c)), c))(
        d.draw(st.integers(1, 10**6))
    ),
    "return rate": lambda d: (lambda sold: m.return_rate([d.draw(st.integers(0, s)) for s in sold], sold))(
        d.draw(st.lists(st.integers(1, 50), min_size=1, max_size=20))
    ),
    "advocacy revenue share": lambda d: (
        lambda n: m.advocacy_revenue_share(
            d.draw(st.lists(st.floats(0.01, 1000), min_size=n, max_size=n)),
            d.draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        )
    )(d.draw(st.integers(1, 30))),
    "redemption rate": lambda d: (lambda issued: m.redemption_rate([d.draw(st.integers(0, issued))], issued))(
        d.draw(st.integers(1, 10**6))
    ),
}


@pytest.mark.parametrize("case", sorted(SHARE_CASES))
@bounded(60)
@given(data=st.data())
def test_rates_are_within_0_and_1_and_inside_their_interval(case, data):
    EXAMPLES[f"engine: {case} in [0, 1], interval contains it"] += 1
    try:
        r = SHARE_CASES[case](data)
    except KpiInputError as exc:
        # Only "no data" or "a base of 0" may stop a valid input, never "invalid".
        assert exc.kind in ("empty", "zero-base"), exc
        return
    check_result(r)
    assert r.unit == "share"


TICKETS = st.lists(
    st.tuples(st.floats(0, 1000, allow_nan=False), st.one_of(st.none(), st.floats(0, 500, allow_nan=False))),
    min_size=1,
    max_size=40,
)


@bounded(150)
@given(tickets=TICKETS, statistic=st.sampled_from(["median", "mean", "p90"]), target=st.floats(0.5, 48))
def test_service_times_and_sla_are_inside_their_intervals(tickets, statistic, target):
    EXAMPLES["engine: service times and SLA rate, intervals contain them"] += 1
    t0 = pd.Timestamp("2025-01-01")
    created = [t0 + pd.Timedelta(hours=c) for c, _ in tickets]
    replied = [None if w is None else t0 + pd.Timedelta(hours=c + w) for c, w in tickets]
    as_of = t0 + pd.Timedelta(hours=2000)
    for fn in (m.first_response_time, m.resolution_time):
        try:
            r = fn(created, replied, statistic=statistic)
        except KpiInputError as exc:
            assert exc.kind == "empty" and all(w is None for _, w in tickets)
            continue
        check_result(r)
        assert r.value >= 0
    check_result(m.sla_rate(created, replied, target_hours=target, as_of=as_of))


@bounded(200)
@given(
    amounts=st.lists(st.one_of(st.floats(0, 10**6, allow_nan=False), st.none()), min_size=1, max_size=50),
    confidence=CONFIDENCE,
)
def test_average_order_value_is_inside_its_interval(amounts, confidence):
    EXAMPLES["engine: AOV between the smallest and largest order, interval contains it"] += 1
    valid = [a for a in amounts if a is not None]
    if not valid:
        return
    r = m.average_order_value(amounts, confidence=confidence)
    check_result(r)
    assert min(valid) - 1e-9 * max(valid) <= r.value <= max(valid) * (1 + 1e-12) + 1e-9


MARGINS = st.floats(0, 10**4, allow_nan=False)
RATES = st.floats(0, 0.99, allow_nan=False)


@bounded(200)
@given(
    aov=st.floats(0, 10**4),
    frequency=st.floats(0, 100),
    margins=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted),
    lifespan=st.floats(0.1, 50),
    discount=RATES,
)
def test_clv_formula_never_decreases_with_margin(aov, frequency, margins, lifespan, discount):
    EXAMPLES["engine: CLV formula monotone in margin"] += 1
    low, high = (m.clv_formula(aov, frequency, g, lifespan, discount_rate=discount) for g in margins)
    check_result(low)
    assert low.value <= high.value


@bounded(200)
@given(
    margins=st.tuples(MARGINS, MARGINS).map(sorted),
    retentions=st.tuples(RATES, RATES).map(sorted),
    discount=st.floats(0, 1),
    convention=st.sampled_from(["gupta-lehmann", "blattberg", "ofek"]),
)
def test_retention_clv_never_decreases_with_margin_or_retention(margins, retentions, discount, convention):
    EXAMPLES["engine: retention CLV monotone in margin and retention"] += 1

    def clv(g, r):
        return m.clv_retention(g, r, discount, convention=convention).value

    assert clv(margins[0], retentions[0]) <= clv(margins[1], retentions[0])
    assert clv(margins[0], retentions[0]) <= clv(margins[0], retentions[1])
    assert clv(margins[1], retentions[0]) <= clv(margins[1], retentions[1])


@pytest.fixture(scope="module")
def cdnow_summary():
    from kpi_xl.datasets import load_cdnow_transactions

    tx = load_cdnow_transactions()
    tx = tx[tx["date"] <= "1997-09-30"]
    return m.rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")


@bounded(8)
@given(margins=st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted), horizon=st.sampled_from([4, 26, 52]))
def test_predicted_clv_never_decreases_with_margin(cdnow_summary, margins, horizon):
    EXAMPLES["engine: predicted CLV (BG/NBD + Gamma-Gamma) monotone in margin"] += 1
    low, high = (
        m.predict_clv_from_summary(cdnow_summary, time_unit="week", horizon=horizon, margin=g).customers[
            "clv"
        ]
        for g in margins
    )
    assert (low.to_numpy() <= high.to_numpy()).all()


SEGMENT_LABELS = st.one_of(
    st.sampled_from(["North", "South", " North ", "", "  ", None, "Nörd", "北", "=1+1", 7, 7.0, True]),
    st.text(max_size=6),
)


@bounded(150)
@given(
    rows=st.lists(
        st.tuples(
            SEGMENT_LABELS,
            st.one_of(st.integers(0, 10), st.none(), st.just("n/a")),
            st.one_of(st.none(), SERIALS.map(lambda s: pd.Timestamp("1899-12-30") + pd.Timedelta(days=s))),
        ),
        min_size=1,
        max_size=60,
    ),
    metric=st.sampled_from(["nps", "csat", "ces", "satisfaction_mean"]),
    by_month=st.booleans(),
)
def test_segment_counts_add_up_to_the_total(rows, metric, by_month):
    EXAMPLES["engine: segment counts add up to the total"] += 1
    frame = pd.DataFrame(rows, columns=["segment", "score", "date"])
    scale = {"nps": (0, 10), "csat": (0, 10), "ces": (0, 10), "satisfaction_mean": (0, 10)}[metric]
    options = {"scale": scale, "on_invalid": "drop"}
    kwargs = {"period": "month", "date": "date"} if by_month else {}
    table = m.segment_table(frame, metric, columns="score", by="segment", min_n=1, **options, **kwargs)
    groups, total = table[table["group"] != "Total"], table[table["group"] == "Total"].iloc[0]
    assert groups["n"].sum() == total["n"]
    assert groups["n_dropped"].sum() == total["n_dropped"]
    assert total["n"] + total["n_dropped"] == len(frame)
    assert table["group"].is_unique
    for _, row in table.iterrows():
        if row["n"]:
            assert row["ci_low"] <= row["value"] <= row["ci_high"] or math.isnan(row["ci_low"])


# --------------------------------------------------------------------------------------------------
# The command line on arbitrary files
# --------------------------------------------------------------------------------------------------

CSV_CELL = st.one_of(
    st.integers(-5, 12).map(str),
    st.sampled_from(["", "n/a", "1,5", "12,50 €", "2025-01-31", "31.12.2025", "=1+1", '"quoted"', "x;y"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
)


@bounded(120)
@given(
    header=st.lists(
        st.sampled_from(["Customer", "NPS", "Date", "Amount", "CSAT", "Segment", "x", ""]),
        min_size=1,
        max_size=5,
    ),
    body=st.lists(st.lists(CSV_CELL, min_size=0, max_size=6), max_size=15),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
)
def test_the_command_line_answers_any_csv_with_results_or_a_clear_error(
    tmp_path_factory, capsys, header, body, delimiter, encoding
):
    EXAMPLES["command line: report on arbitrary CSV text"] += 1
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    text = "\n".join(delimiter.join(r) for r in [header, *body]) + "\n"
    path.write_bytes(text.encode(encoding, errors="replace"))
    code = cli.main(["report", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("kpi-xl report: error: ") and err.strip()


WORKBOOK_CELL = st.one_of(
    st.integers(-5, 12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "n/a", "=1+1", "yes", "no", " 9 ", "bell\x07"]),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8),
    st.none(),
)


@bounded(60)
@given(
    header=st.lists(
        st.sampled_from(["Customer", "NPS", "Date", "Amount", "Score", "Region"]), min_size=1, max_size=4
    ),
    body=st.lists(st.lists(WORKBOOK_CELL, min_size=1, max_size=4), max_size=12),
    title_rows=st.integers(0, 2),
)
def test_the_command_line_answers_any_workbook_with_results_or_a_clear_error(
    tmp_path_factory, capsys, header, body, title_rows
):
    EXAMPLES["command line: report on arbitrary workbooks"] += 1
    path = tmp_path_factory.mktemp("xlsx") / "export.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(title_rows):
        ws.append([f"Export {i}"])
    ws.append(header)
    for row in body:
        ws.append([v.replace("\x07", "") if isinstance(v, str) else v for v in row])
    wb.save(path)
    code = cli.main(["report", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert "Traceback" not in err


@bounded(80)
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=6))
def test_a_damaged_workbook_is_read_or_refused_never_a_crash(tmp_path_factory, capsys, cut, flips):
    EXAMPLES["command line: report on cut and bit-flipped workbooks"] += 1
    folder = tmp_path_factory.mktemp("flip")
    good = folder / "good.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Customer", "NPS"])
    for i, s in enumerate([10, 9, 7, 3, 0, 10]):
        wb.active.append([f"c{i}", s])
    wb.save(good)
    data = bytearray(good.read_bytes())
    for where, xor in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= xor
    bad = folder / "bad.xlsx"
    bad.write_bytes(bytes(data[: max(1, int(len(data) * (1 - cut / 4)))]))
    code = cli.main(["report", str(bad), "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------------
# Issue 15: the generators that would have found what an adversary found
# --------------------------------------------------------------------------------------------------

BASE_LABELS = ["SMB", "Retail", "Bäcker", "Enterprise", "北區"]


def _decorated(label: str) -> st.SearchStrategy:
    """A spelling of ``label`` users produce: any case, padded with spaces, tabs or no-break spaces."""
    pad = st.text(alphabet=" \t\u00a0", max_size=2)
    case = st.sampled_from([str, str.lower, str.upper, str.title])
    return st.tuples(pad, case, pad).map(lambda t: t[0] + t[1](label) + t[2])


@bounded(120)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(BASE_LABELS).flatmap(lambda b: st.tuples(st.just(b), _decorated(b))),
                  st.integers(0, 10)),
        min_size=1,
        max_size=50,
    )
)  # fmt: skip
def test_label_variants_in_case_and_space_are_one_segment(rows):
    """One label policy: "SMB", "smb " and "\u00a0Smb" are one group, counted once, in the Total."""
    EXAMPLES["issue 15: case/space label variants form one segment"] += 1
    frame = pd.DataFrame([(shown, score) for (_, shown), score in rows], columns=["segment", "score"])
    table = m.segment_table(frame, "nps", columns="score", by="segment", min_n=1)
    groups = table[table["group"] != "Total"]
    want = Counter(base.casefold() for (base, _), _ in rows)
    assert sorted(g.strip().casefold() for g in groups["group"]) == sorted(want)
    assert dict(zip((g.strip().casefold() for g in groups["group"]), groups["n"], strict=True)) == want
    assert groups["n"].sum() == table[table["group"] == "Total"].iloc[0]["n"] == len(rows)


SUMMARY_LINE = st.tuples(
    st.sampled_from(["Total", "TOTAL", "Summe", "Gesamt", "Average", "Durchschnitt:", "Grand total", "合計"]),
    st.integers(0, 3),
    st.floats(0, 1e6, allow_nan=False).map(lambda v: f"{v:.2f}"),
)


@bounded(100)
@given(
    amounts=st.lists(st.integers(1, 99_999).map(lambda c: c / 100), min_size=2, max_size=30),
    summaries=st.lists(SUMMARY_LINE, min_size=0, max_size=3),
    delimiter=st.sampled_from([",", ";"]),
    blank_after=st.booleans(),
)
def test_totals_lines_under_an_export_are_left_out_and_no_record_is(
    tmp_path_factory, amounts, summaries, delimiter, blank_after
):
    """Every record is read (data lost: none) and no summary line is read as a record."""
    from kpi_xl.data import read_table

    EXAMPLES["issue 15: trailing totals/summary lines left out"] += 1
    d = delimiter
    lines = [d.join(["order", "customer", "date", "amount"])]
    lines += [d.join([f"O{i}", f"C{i % 4}", "2025-01-15", f"{a:.2f}"]) for i, a in enumerate(amounts)]
    if blank_after:
        lines.append("")
    for word, at, value in summaries:
        # The word in one of the first three columns, the figure in the amount column, the rest empty.
        cells = [""] * 3 + [value]
        cells[min(at, 2)] = word
        lines.append(d.join(cells))
    path = tmp_path_factory.mktemp("totals") / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_table(path)
    assert list(table.frame["order"]) == [f"O{i}" for i in range(len(amounts))]
    assert [float(v) for v in table.frame["amount"]] == amounts
    assert sum("totals/summary line" in n for n in table.notes) == (1 if summaries else 0)


@bounded(100)
@given(
    lines=st.lists(
        st.tuples(
            st.text(alphabet="abcXYZ äöüßéèñÄÖÜ", min_size=1, max_size=12).filter(lambda t: t.strip()),
            st.sampled_from(["utf-8", "cp1252"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_lines_in_utf8_and_cp1252_mixed_are_each_read_as_written(tmp_path_factory, lines):
    """Each line decodes in the encoding it was written in ("Bäcker" stays one segment). The alphabet
    holds no character whose cp1252 byte could continue a UTF-8 sequence, the case where the bytes
    themselves are ambiguous."""
    from kpi_xl.data import read_table

    EXAMPLES["issue 15: UTF-8 and cp1252 lines mixed in one file"] += 1
    data = b"segment;n\n" + b"".join(f"{t};{i}\n".encode(enc) for i, (t, enc) in enumerate(lines))
    path = tmp_path_factory.mktemp("mixed") / "m.csv"
    path.write_bytes(data)
    table = read_table(path)
    assert list(table.frame["segment"]) == [t for t, _ in lines]


@bounded(60)
@given(
    cells=st.lists(
        st.one_of(
            st.integers(0, 10).map(lambda v: ("value", v)),
            st.sampled_from(["=1+8", "=A2*2", "=SUM(C2:C3)"]).map(lambda f: ("formula", f)),
            st.sampled_from(["#N/A", "#DIV/0!", "#VALUE!"]).map(lambda e: ("error", e)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_formulas_without_values_and_error_cells_are_never_read_as_blank(tmp_path_factory, cells):
    import re
    import zipfile

    from kpi_xl.data import read_table

    EXAMPLES["issue 15: formula cells without values, error cells"] += 1
    folder = tmp_path_factory.mktemp("formulas")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "nps"])
    for i, (kind, v) in enumerate(cells):
        ws.append([f"C{i}", v if kind != "error" else 0])
    wb.save(folder / "plain.xlsx")
    errors = {f"B{i + 2}": v for i, (kind, v) in enumerate(cells) if kind == "error"}
    with zipfile.ZipFile(folder / "plain.xlsx") as zin, zipfile.ZipFile(folder / "s.xlsx", "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                for ref, code in errors.items():
                    cell = f'<c r="{ref}" t="e"><v>{code}</v></c>'.encode()
                    data = re.sub(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', cell, data)
            zout.writestr(info, data)
    table = read_table(folder / "s.xlsx")
    got = list(table.frame["nps"]) if "nps" in table.frame else []
    assert len(got) == len(cells)
    for (kind, v), seen in zip(cells, got, strict=True):
        if kind == "value":
            assert seen == v
        elif kind == "formula":
            assert seen == f"{v} (formula never calculated)"
        else:
            assert seen == f"{v} (Excel error)"


FAR_DATE = st.one_of(
    st.integers(2262, 9999).map(lambda y: dt.date(y, 12, 31)),
    st.integers(1000, 1677).map(lambda y: f"{y}-06-30"),
    st.integers(2262, 9999).map(lambda y: f"31.12.{y}"),
    st.integers(2262, 9999).map(lambda y: float((dt.date(y, 1, 1) - dt.date(1899, 12, 30)).days)),
)
NEAR_DATE = st.dates(dt.date(1990, 1, 1), dt.date(2200, 12, 31))


@bounded(150)
@given(values=st.lists(st.one_of(FAR_DATE.map(lambda v: ("far", v)), NEAR_DATE.map(lambda v: ("near", v))),
                       min_size=1, max_size=30))  # fmt: skip
def test_far_dates_are_reported_never_wrapped_or_raised(values):
    """Dates past 2261 or before 1678 (the open end 9999-12-31, a typo like 2925) are invalid with a
    reason; every other date comes through exactly (no wrap into the 1700s)."""
    EXAMPLES["issue 15: far dates"] += 1
    raw = [v for _, v in values]
    out, missing = m.rules.clean_dates(raw, on_invalid="drop")
    for (kind, v), got, gone in zip(values, out, missing, strict=True):
        if kind == "far":
            assert gone and pd.isna(got)
        else:
            assert not gone and pd.Timestamp(got).date() == v
    if any(kind == "far" for kind, _ in values):
        with pytest.raises(KpiInputError, match="outside the years 1678-2261"):
            m.rules.clean_dates(raw)
        got = udfs.FRT([[v] for v in raw], [[45658.0]] * len(raw))
        assert isinstance(got, str) and "outside the years 1678-2261" in got


# --- file-system faults around a refresh -----------------------------------------------------------


@pytest.fixture(scope="module")
def fault_template(tmp_path_factory):
    from kpi_xl.workbook import build_template

    return build_template(tmp_path_factory.mktemp("fault-template") / "kpi_report.xlsm", lang="en")


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A 3 MB tmpfs (room for one book, not for the new copy and its backup), or None where mounting
    is not permitted (the full-disk fault is then skipped, and counted as not tried)."""
    import os
    import shutil
    import subprocess

    where = tmp_path_factory.mktemp("small-disk")
    if getattr(os, "geteuid", lambda: 1)() != 0 or not shutil.which("mount"):
        yield None
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)], check=False)
    yield where if done.returncode == 0 else None
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _data_parts(path) -> dict[str, bytes]:
    """The parts holding the user's data (data tabs and their Tables), which no refresh may change."""
    import zipfile

    from kpi_xl.workbook.labels import labels
    from kpi_xl.workbook.layout import TABLES
    from kpi_xl.workbook.package import Package

    pkg = Package(path)
    names = labels("en")["sheet"]
    parts = [pkg.sheets[names[k]] for k in TABLES]
    with zipfile.ZipFile(path) as z:
        return {p: z.read(p) for p in parts}


FAULT_KINDS = ["read-only book", "read-only folder", "link", "full disk", "leftovers", "none"]


@bounded(12)
@given(faults=st.lists(st.sampled_from(FAULT_KINDS), min_size=1, max_size=3, unique=True))
def test_a_refresh_under_file_system_faults_refuses_clearly_or_succeeds_and_loses_nothing(
    fault_template, small_disk, tmp_path_factory, capsys, faults
):
    import os
    import shutil
    import stat
    from pathlib import Path

    EXAMPLES["issue 15: file-system faults around a refresh"] += 1
    if "full disk" in faults and small_disk is None:
        faults = [f for f in faults if f != "full disk"] or ["none"]
    if "full disk" in faults:
        for left in Path(small_disk).iterdir():
            left.unlink()
        folder = Path(small_disk)
    else:
        folder = tmp_path_factory.mktemp("fault")
    book = folder / "kpi_report.xlsm"
    shutil.copy(fault_template, book)
    before = _data_parts(book)
    original = book.read_bytes()
    target = book
    if "link" in faults:
        other = tmp_path_factory.mktemp("link")
        target = other / "report.xlsm"
        target.symlink_to(book)
    if "leftovers" in faults:
        (folder / f".kpi-xl-{book.name}.x1y2z3.xlsm").write_bytes(b"partial")
    if "full disk" in faults:
        room = shutil.disk_usage(folder).free
        (folder / "filler").write_bytes(b"\0" * max(room - book.stat().st_size // 2, 0))
    if "read-only book" in faults:
        book.chmod(0o444)
    if "read-only folder" in faults:
        folder.chmod(0o555)
    FAULTS["tried"] += 1
    try:
        code = cli.main(["refresh", str(target), "--no-predict"])
    except BaseException:
        FAULTS["crashed"] += 1
        raise
    finally:
        folder.chmod(0o755)
        book.chmod(0o644)
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    refused = {"read-only book", "read-only folder", "full disk"} & set(faults)
    if refused:
        assert code == 2, (faults, err)
        assert "refresh" in err or "read-only" in err or "full" in err
        FAULTS["refused"] += 1
        unchanged = book.read_bytes() == original
    else:
        assert code == 0, (faults, err)
        FAULTS["refreshed"] += 1
        unchanged = _data_parts(book) == before
        assert not any(p.name.startswith(".kpi-xl-") for p in folder.iterdir())
    if "link" in faults:
        assert target.is_symlink()
    if not unchanged:
        FAULTS["lost"] += 1
    assert unchanged and stat.S_ISREG(os.stat(book).st_mode)
