"""Every Excel function through xlwings' own Office.js custom-function runtime, compared with the engine.

The runtime (``xlwings.server.custom_functions_meta`` / ``custom_functions_call``, the code xlwings
Server and xlwings Lite run) is only active when ``XLWINGS_ON_SERVER=true`` and a license key are set
*before* xlwings is imported. Setting them in this process would switch xlwings' decorators for every
other test, so the runtime lives in a child process: this file run as a script (``_serve`` at the
bottom) with the two variables in its environment only, answering one JSON request per line.

Payloads are what Excel sends: every argument a 2-D list, omitted optional arguments ``None``, empty
cells ``None`` or ``""``, error cells as Office.js error objects, dates as serial numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pytest

from kpi_xl import metrics as m
from kpi_xl.datasets import load_cdnow_transactions

SHEET_ROWS = 1_048_576
NA = {"type": "Error", "basicType": "Error", "basicValue": "#N/A", "errorType": "NotAvailable"}
DIV0_RESULT = [[{"type": "Error", "errorType": "Div0"}]]
NA_RESULT = [[{"type": "Error", "errorType": "NotAvailable"}]]


class Raised(Exception):
    """The runtime call raised: Excel shows #VALUE! with this message on hover."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class OfficeJs:
    """A child process running the Office.js runtime over kpi_xl.udfs."""

    def __init__(self) -> None:
        env = {**os.environ, "XLWINGS_ON_SERVER": "true", "XLWINGS_LICENSE_KEY": "noncommercial"}
        # The workbook culture each test sends decides the locale, not a setting of this machine.
        env.pop("KPI_XL_LOCALE", None)
        # Closed in close(), after the process: its stderr is read only when the process dies.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )

    def _ask(self, request: dict) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(f"the Office.js runtime process died:\n{self._stderr.read()}")
        return json.loads(line)

    def info(self) -> dict:
        return self._ask({"op": "info"})["ok"]

    def meta(self) -> dict:
        return self._ask({"op": "meta"})["ok"]

    def call(self, func: str, *args, runtime: str = "1.4", culture: str | None = "en-US"):
        """Call ``func`` as Excel would; a scalar argument is sent as the 1x1 matrix Excel sends.
        ``culture`` is the workbook's culture Excel sends with the call (``None``: none sent)."""
        payload = [a if a is None or isinstance(a, list) else [[a]] for a in args]
        request = {"op": "call", "func": func, "args": payload, "runtime": runtime, "culture": culture}
        answer = self._ask(request)
        if "raised" in answer:
            raise Raised(answer["raised"], answer["message"])
        return answer["ok"]

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._stderr.close()


@pytest.fixture(scope="module")
def xl():
    runtime = OfficeJs()
    yield runtime
    runtime.close()


def serial(value: str) -> float:
    """Excel's serial number of a date or date-time written in ISO form (what Office.js sends)."""
    t = pd.Timestamp(value)
    return (t - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)


def col(*values) -> list[list]:
    """A one-column range."""
    return [[v] for v in values]


def scalar(result):
    assert isinstance(result, list) and len(result) == 1 and len(result[0]) == 1, result
    return result[0][0]


def as_frame(result: list[list], index: str | None = None) -> pd.DataFrame:
    """A spilled table (header row + rows) as a DataFrame; empty cells ("") as NaN."""
    header, *rows = result
    frame = pd.DataFrame(rows, columns=header).replace("", np.nan).infer_objects()
    return frame.set_index(index) if index else frame


# -------------------------------------------------------------------------------------------------
# The runtime itself and the function wizard metadata
# -------------------------------------------------------------------------------------------------


def test_child_process_runs_the_officejs_runtime_and_this_process_does_not(xl):
    import xlwings as xw

    info = xl.info()
    assert info["decorators"] == "xlwings.pro.udfs_officejs" and info["office_js"] is True
    # This process imported xlwings without the variables: decorators are no-ops here.
    assert os.environ.get("XLWINGS_ON_SERVER") != "true"
    assert xw.func.__module__ == "xlwings"


def test_metadata_every_function_and_argument_has_a_description(xl):
    from kpi_xl import udfs

    meta = xl.meta()
    functions = {f["name"]: f for f in meta["functions"]}
    assert sorted(functions) == sorted(udfs.__all__)
    for name, f in functions.items():
        description = f["description"]
        assert description.strip() and len(description) <= 255, name
        # xlwings' fallback when a docstring is missing, and the multi-line docstring trap.
        assert not description.startswith("Python function") and "\n" not in description, name
        assert f["result"] == {"dimensionality": "matrix", "type": "any"}
        assert f["parameters"], name
        for p in f["parameters"]:
            doc = p["description"]
            assert doc.strip() and len(doc) <= 255, (name, p["name"])
            assert not doc.startswith("Positional argument"), (name, p["name"])
            # An argument the user may leave out says so in its help text, and only then.
            assert p.get("optional", False) == doc.startswith("Optional."), (name, p["name"], doc)


def test_the_issue_list_of_functions_is_complete(xl):
    # The functions issue 3 lists, in its order.
    issue = [
        "NPS", "NPS_BREAKDOWN", "NPS_CI", "NPS_DIFF", "CSAT", "CES",
        "CHURN", "RETENTION", "REPEAT_RATE", "COHORT_RETENTION",
        "AOV", "CLV", "CLV_RETENTION", "CLV_PREDICT", "P_ALIVE",
        "FRT", "RESOLUTION_TIME", "SLA_RATE", "COMPLAINT_RATE",
        "ENGAGEMENT_RATE", "REFERRAL_CONVERSION", "ADVOCACY_REVENUE_SHARE", "REFUND_RATE", "RETURN_RATE",
        "REDEMPTION_RATE", "PARTICIPATION_RATE", "ADVOCACY_INDEX",
        "KPI_BY_SEGMENT",
    ]  # fmt: skip
    names = {f["name"] for f in xl.meta()["functions"]}
    assert set(issue) <= names


# -------------------------------------------------------------------------------------------------
# Survey
# -------------------------------------------------------------------------------------------------

# A messy survey column as Excel delivers it: a header, numbers stored as text, padded text, both
# kinds of blank (Excel desktop sends "", the web None), a float that is a whole number.
SCORES = [10, "9", " 7 ", None, "", 3, 0, 10.0, 8, None, "6", 9]
# Valid answers: 10, 9, 7, 3, 0, 10, 8, 6, 9 -> n = 9; promoters 10, 9, 10, 9 = 4; detractors 3, 0, 6
# = 3; NPS = 100 * (4 - 3) / 9 = 11.11. Blanks inside the data: 3 (None, "", None).


def test_nps_messy_column_with_header(xl):
    got = scalar(xl.call("NPS", col("Score", *SCORES), None))
    assert got == pytest.approx(100 * (4 - 3) / 9)
    assert got == pytest.approx(m.nps(SCORES).value, rel=1e-12)


def test_nps_whole_column_of_1048576_cells(xl):
    # B:B: header in B1, the data, then empty cells to the last row of the sheet.
    column = col("Score", *SCORES) + [[None] if i % 2 else [""] for i in range(SHEET_ROWS - len(SCORES) - 1)]
    assert len(column) == SHEET_ROWS
    assert scalar(xl.call("NPS", column, None)) == pytest.approx(m.nps(SCORES).value, rel=1e-12)
    # n_dropped counts the blanks inside the data only, not the million empty rows below it.
    breakdown = dict(xl.call("NPS_BREAKDOWN", column, None, None)[1:])
    assert breakdown["n"] == 9 and breakdown["n_dropped"] == 3


def test_nps_error_cell_in_the_data_returns_that_error(xl):
    assert xl.call("NPS", col(10, NA, 3), None) == NA_RESULT
    div0 = {"type": "Error", "basicType": "Error", "basicValue": "#DIV/0!", "errorType": "Div0"}
    assert xl.call("NPS", col(10, div0, 3), None) == DIV0_RESULT


def test_older_office_runtimes_get_the_error_as_text(xl):
    # Before CustomFunctionsRuntime 1.4 Office.js has no typed errors: xlwings sends the text.
    assert xl.call("NPS", col(10, NA, 3), None, runtime="1.3") == [["#N/A"]]


def test_nps_skip_invalid_skips_text_and_error_cells(xl):
    # Valid: 10, 9, 3 -> promoters 2, detractors 1 -> 100 * 1/3; "n/a", #N/A and 11 are skipped.
    got = scalar(xl.call("NPS", col(10, "n/a", NA, 9, 11, 3), True))
    assert got == pytest.approx(100 / 3)
    assert got == pytest.approx(m.nps([10, 9, 3]).value, rel=1e-12)


def test_nps_text_value_is_value_error_naming_the_row(xl):
    with pytest.raises(Raised) as info:
        xl.call("NPS", col("Score", 10, 9, "ten", 3), None)
    # Shown on hover over #VALUE!: the value, its row in the range (header = row 1) and the fix.
    assert info.value.kind == "XlwingsError"
    assert "'ten' in row 4 of the range" in info.value.message
    assert "skip_invalid" in info.value.message and "on_invalid" not in info.value.message


def test_nps_no_data_is_na(xl):
    assert xl.call("NPS", col(None, "", None), None) == NA_RESULT
    assert xl.call("NPS", None, None) == NA_RESULT  # a single empty cell arrives as null


def test_nps_old_office_build_sending_blanks_as_zero_is_refused(xl):
    column = col("Score", *([10, 9] * 50)) + [[0]] * (SHEET_ROWS - 101)
    with pytest.raises(Raised, match="empty cells of the whole column as 0"):
        xl.call("NPS", column, None)


def test_nps_breakdown_spills_counts_shares_and_interval(xl):
    got = xl.call("NPS_BREAKDOWN", col("Score", *SCORES), 0.9, None)
    assert got[0] == ["measure", "value"]
    rows = dict(got[1:])
    r = m.nps(SCORES, confidence=0.9)
    assert (rows["promoters"], rows["passives"], rows["detractors"]) == (4, 2, 3)
    for key in ("pct_promoters", "pct_passives", "pct_detractors"):
        assert rows[key] == pytest.approx(r.components[key], rel=1e-12)
    assert rows["n"] == 9 and rows["n_dropped"] == 3 and rows["confidence"] == 0.9
    assert (rows["nps"], rows["ci_low"], rows["ci_high"]) == pytest.approx(
        (r.value, r.ci_low, r.ci_high), rel=1e-12
    )


def test_nps_ci_spills_two_bounds(xl):
    got = xl.call("NPS_CI", col(*SCORES), None, "wald", None)
    r = m.nps(SCORES, method="wald")
    assert len(got) == 1 and got[0] == pytest.approx([r.ci_low, r.ci_high], rel=1e-12)


def test_nps_diff_spills_difference_and_p_value(xl):
    a, b = [10] * 50 + [0] * 50, [10] * 40 + [0] * 60
    got = xl.call("NPS_DIFF", col("Q2", *a), col("Q1", *b), None, None)
    r = m.nps_diff(a, b)
    assert got[0] == ["difference", "p_value", "ci_low", "ci_high"]
    # NPS_A = 0, NPS_B = -20 -> difference 20 points.
    assert got[1][0] == pytest.approx(20.0)
    assert got[1] == pytest.approx([r.value, r.components["p_value"], r.ci_low, r.ci_high], rel=1e-12)


def test_nps_diff_names_the_sample_with_the_bad_value(xl):
    with pytest.raises(Raised, match=r"scores_b: value 'x' in row 2"):
        xl.call("NPS_DIFF", col(10, 9), col(10, "x"), None, None)


def test_csat_and_ces(xl):
    answers = [5, 5, 4, "4", 4, 5, 4, 3, 2, 1]
    # Seven of ten answers are 4 or 5: 0.7. threshold left out (null) -> top two boxes.
    assert scalar(xl.call("CSAT", col("CSAT", *answers), None, None, None, None)) == pytest.approx(0.7)
    # Threshold 5 on 1-5: three 5s of ten.
    assert scalar(xl.call("CSAT", col(*answers), 5, 1, 5, None)) == pytest.approx(0.3)
    effort = [7, 6, 6, 5, 4, 3, 2, 7]
    # Mean 40/8 = 5; agree (5-7) 5/8 = 0.625; disagree (1-3) 2/8 = 0.25; net 0.375.
    assert scalar(xl.call("CES", col(*effort), None, None, None, None)) == pytest.approx(5.0)
    assert scalar(xl.call("CES", col(*effort), "PCT_AGREE", None, None, None)) == pytest.approx(0.625)
    assert scalar(xl.call("CES", col(*effort), "net", None, None, None)) == pytest.approx(
        m.ces(effort).components["net"]
    )


# -------------------------------------------------------------------------------------------------
# Retention
# -------------------------------------------------------------------------------------------------


def test_churn_and_retention_from_counts(xl):
    # S=1000, N=150, E=1030: lost = 1000 + 150 - 1030 = 120; 120/1000 = 0.12; average base 1015.
    assert scalar(xl.call("CHURN", 1000, 120, None, None, None)) == pytest.approx(0.12)
    assert scalar(xl.call("CHURN", 1000, None, 1030, 150, "average")) == pytest.approx(120 / 1015)
    assert scalar(xl.call("CHURN", "1000", " 120 ", None, None, None)) == pytest.approx(0.12)
    # (E - N) / S = (1030 - 150) / 1000 = 0.88
    assert scalar(xl.call("RETENTION", 1000, 1030, 150)) == pytest.approx(0.88)
    assert xl.call("CHURN", 0, 5, None, None, None) == DIV0_RESULT
    assert xl.call("CHURN", None, 5, None, None, None) == NA_RESULT


STARTS = ["2024-03-01", "2024-06-01", "2025-01-05", "2025-01-15"]
ENDS = [None, "2025-01-10", "2025-01-20", None]


def test_churn_and_retention_from_dates_table_columns_with_headers(xl):
    starts = col("Signup", *(serial(s) for s in STARTS), None)
    ends = col("End", *(None if e is None else serial(e) for e in ENDS), "")
    # January 2025: S = {A, B} (signed up before), B ends on 10 Jan -> churn 1/2, retention 1/2.
    churn = scalar(xl.call("CHURN_FROM_DATES", starts, ends, serial("2025-01-01"), "2025-01-31", None))
    kept = scalar(xl.call("RETENTION_FROM_DATES", starts, ends, "2025-01-01", serial("2025-01-31")))
    assert churn == pytest.approx(0.5) and kept == pytest.approx(0.5)
    expected = m.churn_from_records(STARTS, ENDS, period_start="2025-01-01", period_end="2025-01-31")
    assert churn == pytest.approx(expected.value, rel=1e-12)


def test_churn_from_dates_end_before_start_names_the_row(xl):
    starts = col("Signup", serial("2025-01-05"), serial("2025-01-09"))
    ends = col("End", None, serial("2025-01-02"))
    with pytest.raises(Raised, match="row 3 of the range"):
        xl.call("CHURN_FROM_DATES", starts, ends, "2025-01-01", "2025-01-31", None)


ORDER_IDS = ["a", "a", "b", "b", "c"]
ORDER_DATES = ["2025-01-05", "2025-03-02", "2025-01-09", "2025-02-11", "2025-02-20"]


def test_repeat_rate(xl):
    # Customer 1001 appears as a number and as text: one customer with two orders. 1001 and b
    # bought twice, c once -> 2 of 3. Text ids alone: passed without a header (a Table column).
    ids = col(1001, "1001", "b", "b", "c", None)
    assert scalar(xl.call("REPEAT_RATE", ids, None, None, None)) == pytest.approx(2 / 3)
    # With the dates beside them, the header row is recognised (a date column's "Date" is no date).
    dates = col("Date", *(serial(d) for d in ORDER_DATES), None)
    got = scalar(xl.call("REPEAT_RATE", [["Customer"], *ids], dates, "days", None))
    assert got == pytest.approx(
        m.repeat_purchase_rate([1001, "1001", "b", "b", "c"], ORDER_DATES, count="days").value
    )


def test_cohort_retention_spills_the_table_with_blanks_where_not_observed(xl):
    ids, dates = col("Customer", *ORDER_IDS), col("Date", *(serial(d) for d in ORDER_DATES))
    got = xl.call("COHORT_RETENTION", ids, dates, None, None, None, None)
    # Jan cohort {a, b}: Feb 1/2, Mar 1/2. Feb cohort {c}: Mar 0/1, April not observed yet -> blank.
    assert got == [
        ["cohort", "cohort_size", 0, 1, 2],
        ["2025-01", 2, 1.0, 0.5, 0.5],
        ["2025-02", 1, 1.0, 0.0, ""],
    ]
    expected = m.cohort_retention(ORDER_IDS, ORDER_DATES)
    frame = as_frame(got, "cohort")
    pd.testing.assert_frame_equal(
        frame, expected, check_dtype=False, check_names=False, check_column_type=False
    )


# -------------------------------------------------------------------------------------------------
# Value
# -------------------------------------------------------------------------------------------------


def test_aov_clv_formula_and_retention_clv(xl):
    # (20 + 30 + 70) / 3 = 40; "30" is a number stored as text, the blank is skipped.
    assert scalar(xl.call("AOV", col("Amount", 20, "30", None, 70), None, None)) == pytest.approx(40.0)
    with pytest.raises(Raised, match=r"-30 in row 3 of the range .*set allow_negative to TRUE"):
        xl.call("AOV", col("Amount", 20, -30, 70), None, None)
    # Refunds allowed: (20 - 30 + 70) / 3 = 20.
    assert scalar(xl.call("AOV", col(20, -30, 70), True, None)) == pytest.approx(20.0)
    # $60 x 6 a year x 40% x 3 years = 432.
    assert scalar(xl.call("CLV", 60, 6, 0.4, 3, None)) == pytest.approx(432.0)
    assert scalar(xl.call("CLV", 60, 6, 0.4, 3, 0.1)) == pytest.approx(
        m.clv_formula(60, 6, 0.4, 3, discount_rate=0.1).value, rel=1e-12
    )
    # m = 100, r = 0.8, d = 0.1: 100*0.8/0.3, 100*1.1/0.3, 100/0.3.
    assert scalar(xl.call("CLV_RETENTION", 100, 0.8, 0.1, None)) == pytest.approx(266.6666666666667)
    assert scalar(xl.call("CLV_RETENTION", 100, 0.8, 0.1, "blattberg")) == pytest.approx(366.6666666666667)
    assert scalar(xl.call("CLV_RETENTION", 100, 0.8, 0.1, "ofek")) == pytest.approx(333.3333333333333)
    with pytest.raises(Raised, match="retention"):
        xl.call("CLV_RETENTION", 100, 1.0, 0.1, None)


@pytest.fixture(scope="module")
def cdnow():
    """The CDNOW sample's first 39 weeks, the calibration period of the published BG/NBD fit."""
    tx = load_cdnow_transactions()
    return tx[tx["date"] <= "1997-09-30"].reset_index(drop=True)


def _cdnow_columns(tx):
    return (
        col("customer_id", *tx["customer_id"].tolist()),
        col("date", *(serial(d) for d in tx["date"])),
        col("amount", *tx["amount"].tolist()),
    )


def test_clv_predict_over_cdnow_equals_the_engine(xl, cdnow):
    ids, dates, amounts = _cdnow_columns(cdnow)
    got = xl.call("CLV_PREDICT", ids, dates, amounts, "week", 52, 0.01, None, None, 52 / 12)
    expected = m.predict_clv(
        cdnow["customer_id"],
        cdnow["date"],
        cdnow["amount"],
        time_unit="week",
        horizon=52,
        discount_rate=0.01,
        step=52 / 12,
    ).customers
    assert got[0] == ["customer_id", *expected.columns]
    frame = as_frame(got, "customer_id")
    assert len(frame) == 2357
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, check_names=False, rtol=1e-12)


def test_clv_predict_needs_a_time_unit(xl, cdnow):
    ids, dates, amounts = _cdnow_columns(cdnow.head(50))
    # A required setting left blank is bad input (#VALUE! with the reason), never a silent default.
    with pytest.raises(Raised, match="time_unit is required"):
        xl.call("CLV_PREDICT", ids, dates, amounts, None, 52, None, None, None, None)
    with pytest.raises(Raised, match="time_unit"):
        xl.call("CLV_PREDICT", ids, dates, amounts, "fortnight", 52, None, None, None, None)


def test_p_alive_equals_the_engine(xl, cdnow):
    ids, dates, _ = _cdnow_columns(cdnow)
    got = as_frame(xl.call("P_ALIVE", ids, dates, "week", None), "customer_id")
    summary = m.rfm_summary(cdnow["customer_id"], cdnow["date"], time_unit="week")
    x, tx, age = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    model = m.BetaGeoFitter().fit(x, tx, age, time_unit="week")
    assert got["probability_alive"].to_numpy() == pytest.approx(
        model.probability_alive(x, tx, age), rel=1e-12
    )
    assert (got.index.to_numpy() == summary.index.to_numpy()).all()


def test_clv_predict_with_model_and_interval(xl, cdnow):
    ids, dates, amounts = _cdnow_columns(cdnow)
    got = as_frame(
        xl.call("CLV_PREDICT", ids, dates, amounts, "week", 4, None, None, None, 4, "pareto/nbd", 0.9),
        "customer_id",
    )
    expected = m.predict_clv(
        cdnow["customer_id"], cdnow["date"], cdnow["amount"], time_unit="week", horizon=4, step=4,
        model="pareto/nbd", interval=0.9,
    ).customers  # fmt: skip
    assert list(got.columns)[-3:] == ["clv", "clv_low", "clv_high"]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False, rtol=1e-12)


def test_clv_holdout_spills_the_engine_report(xl):
    tx = load_cdnow_transactions()
    ids = col("customer_id", *tx["customer_id"].tolist())
    dates = col("date", *(serial(d) for d in tx["date"]))
    report = m.clv_holdout(tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week")
    got = xl.call("CLV_HOLDOUT", ids, dates, serial("1997-10-01"), "week", None, None)
    assert got[-1][:3] == ["recommended", report.recommended, report.recommendation]
    models = as_frame(got[:-1], "model")
    expected = report.comparison.astype({"parameters": float, "converged": object})
    pd.testing.assert_frame_equal(models, expected, check_dtype=False, check_names=False, rtol=1e-12)
    freq = as_frame(
        xl.call("CLV_HOLDOUT", ids, dates, "1997-10-01", "week", None, "frequency"), "frequency_cal"
    )
    assert freq.index.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert freq["actual"].to_numpy() == pytest.approx(report.by_frequency["actual"].to_numpy(), rel=1e-12)
    tracking = xl.call("CLV_HOLDOUT", ids, dates, "1997-10-01", "week", None, "tracking")
    assert len(tracking) == 79 and tracking[-1][1] == 4339
    with pytest.raises(Raised, match="view must be"):
        xl.call("CLV_HOLDOUT", ids, dates, "1997-10-01", "week", None, "chart")


def test_clv_schedule_and_by_segment_equal_the_engine(xl, cdnow):
    ids, dates, amounts = _cdnow_columns(cdnow)
    got = as_frame(xl.call("CLV_SCHEDULE", ids, dates, amounts, "month", 3, 0.01, None, None, None), "step")
    pred = m.predict_clv(
        cdnow["customer_id"], cdnow["date"], cdnow["amount"], time_unit="month", horizon=3, discount_rate=0.01
    )
    pd.testing.assert_frame_equal(got, pred.schedule(), check_dtype=False, check_names=False, rtol=1e-12)
    labels = np.where(cdnow["customer_id"] % 2 == 0, "even", " Odd ")
    segs = col("segment", *labels.tolist())
    got = as_frame(
        xl.call("CLV_BY_SEGMENT", ids, dates, amounts, segs, "week", 12, None, None, None, None), "segment"
    )
    expected = m.predict_clv_by_segment(
        cdnow["customer_id"], cdnow["date"], cdnow["amount"], labels, time_unit="week", horizon=12
    ).table
    # " Odd " is grouped and shown trimmed, as segments are everywhere.
    assert sorted(got.index) == ["Odd", "even"] and got.index.tolist() == expected.index.tolist()
    assert got["clv_total"].to_numpy() == pytest.approx(expected["clv_total"].to_numpy(), rel=1e-12)
    assert got["customers"].tolist() == expected["customers"].tolist()


def test_clv_schedule_of_a_customer_or_segment_and_the_total_interval(xl, cdnow):
    ids, dates, amounts = _cdnow_columns(cdnow)
    settings = {"time_unit": "month", "horizon": 3, "discount_rate": 0.01}
    pred = m.predict_clv(cdnow["customer_id"], cdnow["date"], cdnow["amount"], interval=0.9, **settings)
    base = (ids, dates, amounts, "month", 3, 0.01, None, None, None)
    one = as_frame(xl.call("CLV_SCHEDULE", *base, 1, None, None), "step")
    # One customer's discounted values add up to that customer's CLV.
    assert one["discounted_value"].sum() == pytest.approx(pred.customers.loc[1, "clv"], rel=1e-12)
    two = as_frame(xl.call("CLV_SCHEDULE", *base, col("id", 1, 2), None, None), "step")
    assert two["cumulative_discounted_value"].iloc[-1] == pytest.approx(
        pred.customers.loc[[1, 2], "clv"].sum(), rel=1e-12
    )
    labels = np.where(cdnow["customer_id"] % 2 == 0, "even", " Odd ")
    segs = col("segment", *labels.tolist())
    wide = as_frame(xl.call("CLV_SCHEDULE", *base, None, segs, None), "step")
    by = m.predict_clv_by_segment(cdnow["customer_id"], cdnow["date"], cdnow["amount"], labels, **settings)
    assert list(wide.columns) == by.table.index.tolist()
    assert wide.sum().to_numpy() == pytest.approx(by.table["clv_total"].to_numpy(), rel=1e-12)
    odd = as_frame(xl.call("CLV_SCHEDULE", *base, None, segs, "ODD"), "step")
    # Independent figure: the odd customers' orders fitted alone.
    alone = cdnow[cdnow["customer_id"] % 2 == 1]
    expected = m.predict_clv(alone["customer_id"], alone["date"], alone["amount"], **settings)
    pd.testing.assert_frame_equal(odd, expected.schedule(), check_dtype=False, check_names=False, rtol=1e-9)
    mine = as_frame(xl.call("CLV_SCHEDULE", *base, 1, segs, "odd"), "step")
    assert mine["discounted_value"].sum() == pytest.approx(expected.customers.loc[1, "clv"], rel=1e-9)
    with pytest.raises(Raised, match="segment needs segments"):
        xl.call("CLV_SCHEDULE", *base, None, None, "odd")
    with pytest.raises(Raised, match="segment 'west' is not in the data"):
        xl.call("CLV_SCHEDULE", *base, None, segs, "west")
    with pytest.raises(Raised, match="customer 'C9' is not in the prediction"):
        xl.call("CLV_SCHEDULE", *base, "C9", None, None)
    total = xl.call("CLV_PREDICT", *base, None, 0.9, "total")
    got = dict((r[0], r[1]) for r in total[1:])
    assert got["clv"] == pytest.approx(pred.customers["clv"].sum(), rel=1e-12)
    assert (got["clv_low"], got["clv_high"]) == pytest.approx(pred.total_interval, rel=1e-12)
    assert got["clv_low"] < got["clv"] < got["clv_high"] and got["customers"] == 2357
    assert got["interval"] == 0.9 and "Krinsky" in got["interval_method"]
    seg = as_frame(xl.call("CLV_BY_SEGMENT", ids, dates, amounts, segs, "month", 3, 0.01, None, None, None,
                           None, 0.9), "segment")  # fmt: skip
    odd_total = expected.customers["clv"].sum()
    assert seg.loc["Odd", "clv_total"] == pytest.approx(odd_total, rel=1e-9)
    assert seg.loc["Odd", "clv_total_low"] < odd_total < seg.loc["Odd", "clv_total_high"]


REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def test_sbg_survival_derl_and_subscription_clv(xl):
    survivors = col("Active", *REGULAR, None, None)
    model = m.ShiftedBetaGeoFitter().fit(REGULAR)
    got = as_frame(xl.call("SBG_SURVIVAL", survivors, 12), "period")
    expected = model.projection(12)[["survival", "retention", "observed_survival"]]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False, rtol=1e-12)
    assert scalar(xl.call("DERL", survivors, 0.1, 2)) == pytest.approx(model.derl(0.1, 2), rel=1e-12)
    assert scalar(xl.call("SUBSCRIPTION_CLV", survivors, 50, 0.1, None)) == pytest.approx(
        50 * model.discounted_expected_lifetime(0.1), rel=1e-12
    )
    with pytest.raises(Raised, match="90 in row 3 of the range is more than 80 before it"):
        xl.call("SBG_SURVIVAL", col(100, 80, 90), None)


# -------------------------------------------------------------------------------------------------
# Service
# -------------------------------------------------------------------------------------------------

CREATED = [
    "2025-01-06 09:00",
    "2025-01-06 10:30",
    "2025-01-07 08:00",
    "2025-01-07 12:00",
    None,
    "2025-01-08 09:00",
]
REPLIED = ["2025-01-06 11:00", "2025-01-06 10:45", None, "2025-01-07 20:00", None, "2025-01-08 10:00"]
# Answered tickets take 2, 0.25, 8 and 1 hours; the third is open (excluded, never 0); row 5 is blank.


def _tickets():
    created = col("Created", *(None if c is None else serial(c) for c in CREATED))
    replied = col("Replied", *("" if r is None else serial(r) for r in REPLIED))
    return created, replied


def test_first_response_and_resolution_time(xl):
    created, replied = _tickets()
    # Median of 0.25, 1, 2, 8 = 1.5 hours; mean 11.25 / 4 = 2.8125.
    assert scalar(xl.call("FRT", created, replied, None, None, None)) == pytest.approx(1.5)
    assert scalar(xl.call("FRT", created, replied, "mean", None, None)) == pytest.approx(2.8125)
    engine = m.first_response_time(CREATED, REPLIED, statistic="p90")
    assert scalar(xl.call("FRT", created, replied, "p90", None, None)) == pytest.approx(
        engine.value, rel=1e-12
    )
    got = scalar(xl.call("RESOLUTION_TIME", created, replied, "Mean", None, None))
    assert got == pytest.approx(m.resolution_time(CREATED, REPLIED, statistic="mean").value, rel=1e-12)


def test_sla_rate(xl):
    created, replied = _tickets()
    # Within 4 hours: 2, 0.25, 1 of the 4 answered -> 0.75.
    assert scalar(xl.call("SLA_RATE", created, replied, 4, None, None)) == pytest.approx(0.75)
    # As of 8 Jan 12:00 the open ticket (created 7 Jan 08:00) is 28 h old: breached -> 3 of 5.
    got = scalar(xl.call("SLA_RATE", created, replied, 4, serial("2025-01-08 12:00"), None))
    assert got == pytest.approx(0.6)
    assert got == pytest.approx(m.sla_rate(CREATED, REPLIED, target_hours=4, as_of="2025-01-08 12:00").value)


def test_reply_before_creation_is_value_error_and_skip_invalid_drops_it(xl):
    created = col("Created", serial("2025-01-06 09:00"), serial("2025-01-06 10:00"))
    replied = col("Replied", serial("2025-01-06 08:00"), serial("2025-01-06 11:00"))
    with pytest.raises(Raised, match="row 2 of the range"):
        xl.call("FRT", created, replied, None, None, None)
    assert scalar(xl.call("FRT", created, replied, None, None, True)) == pytest.approx(1.0)


def test_complaint_rate_from_a_count_and_from_flags(xl):
    # 12 complaints / 4000 customers x 1000 = 3 per 1,000.
    assert scalar(xl.call("COMPLAINT_RATE", 12, 4000, None, None)) == pytest.approx(3.0)
    # Flags yes, no, TRUE, "", "n" -> 2 complaints per 1000 customers; per 100 -> 0.2.
    flags = col("Complaint", "yes", "no", True, "", "n")
    assert scalar(xl.call("COMPLAINT_RATE", flags, 1000, None, None)) == pytest.approx(2.0)
    assert scalar(xl.call("COMPLAINT_RATE", flags, 1000, 100, None)) == pytest.approx(0.2)
    assert xl.call("COMPLAINT_RATE", 3, 0, None, None) == DIV0_RESULT


# -------------------------------------------------------------------------------------------------
# Advocacy and loyalty
# -------------------------------------------------------------------------------------------------


def test_engagement_rate(xl):
    # Pooled (50 + 30) / (1000 + 500) = 0.05333; mean of 0.05 and 0.06 = 0.055.
    eng, aud = col("Engagements", 50, "30", None), col("Followers", 1000, 500, None)
    assert scalar(xl.call("ENGAGEMENT_RATE", eng, aud, None, None, None)) == pytest.approx(80 / 1500)
    assert scalar(xl.call("ENGAGEMENT_RATE", eng, aud, "reach", "mean", None)) == pytest.approx(0.055)


def test_referrals_revenue_share_refunds_returns(xl):
    # Flags yes, no, FALSE, TRUE -> 2 of 4.
    assert scalar(xl.call("REFERRAL_CONVERSION", col("Bought", "yes", "no", False, True), None, None)) == 0.5
    # 45 conversions of 300 leads.
    assert scalar(xl.call("REFERRAL_CONVERSION", 45, 300, None)) == pytest.approx(0.15)
    # Referred revenue (100 + 50) / total 200 = 0.75.
    share = xl.call(
        "ADVOCACY_REVENUE_SHARE", col("Amount", 100, 50, 50), col("Referred", "yes", "no", "y"), None
    )
    assert scalar(share) == pytest.approx(0.75)
    refunded, amounts = col("Refunded", "yes", "no", "no", "yes"), col("Amount", 100, 50, 25, 25)
    # Count: 2 of 4 orders; value: (100 + 25) / 200 = 0.625.
    assert scalar(xl.call("REFUND_RATE", refunded, None, None, None)) == pytest.approx(0.5)
    assert scalar(xl.call("REFUND_RATE", refunded, amounts, "value", None)) == pytest.approx(0.625)
    # Units (1 + 0 + 2) / (10 + 5 + 5) = 0.15; by value (1*2 + 2*4) / (10*2 + 5*3 + 5*4) = 10/55.
    returned, sold, prices = col("Ret", 1, 0, 2), col("Sold", 10, 5, 5), col("Price", 2, 3, 4)
    assert scalar(xl.call("RETURN_RATE", returned, sold, None, None, None)) == pytest.approx(0.15)
    assert scalar(xl.call("RETURN_RATE", returned, sold, prices, "value", None)) == pytest.approx(10 / 55)


def test_loyalty_rates_and_advocacy_index(xl):
    # Redeemed 100 + 200 of 600 issued = 0.5.
    assert scalar(xl.call("REDEMPTION_RATE", col("Redeemed", 100, 200), 600, None)) == pytest.approx(0.5)
    assert scalar(xl.call("PARTICIPATION_RATE", 350, 1000)) == pytest.approx(0.35)
    # 100 * (0.4 * (40 + 100)/200 + 0.3 * 0.8 + 0.3 * 0.25) = 100 * (0.28 + 0.24 + 0.075) = 59.5
    assert scalar(xl.call("ADVOCACY_INDEX", 40, 0.8, 0.25, None, None, None)) == pytest.approx(59.5)
    assert scalar(xl.call("ADVOCACY_INDEX", 40, 0.8, 0.25, 1, 1, 0)) == pytest.approx(
        m.advocacy_index(40, 0.8, 0.25, weights=(1, 1, 0)).value, rel=1e-12
    )


# -------------------------------------------------------------------------------------------------
# Any metric by segment
# -------------------------------------------------------------------------------------------------

TABLE = [
    ["Region", "Score", "Date", "Comment"],
    ["North", 10, serial("2025-01-05"), "great"],
    ["North", "9", serial("2025-02-11"), NA],  # an error in a column the metric does not read
    ["South", 3, serial("2025-01-20"), ""],
    ["South", "", serial("2025-02-03"), None],
    [None, 0, serial("2025-02-09"), "x"],
    [None, None, None, None],
    ["", "", "", ""],
]


def _table_frame() -> pd.DataFrame:
    """The table as the engine gets it from Python: the two empty rows at the bottom are not data."""
    header, *rows = TABLE
    return pd.DataFrame(rows[:-2], columns=header)


def test_kpi_by_segment_spills_the_engine_table(xl):
    got = xl.call("KPI_BY_SEGMENT", TABLE, "Region", "nps", "Score", None, None, 2, None, None)
    # North: 10, 9 -> 100; South: 3 -> -100 (one blank skipped); (blank): 0 -> -100;
    # Total: 10, 9, 3, 0 -> (2 - 2)/4 = 0.
    frame = as_frame(got)
    assert frame["group"].tolist() == ["(blank)", "North", "South", "Total"]
    assert frame["value"].tolist() == pytest.approx([-100.0, 100.0, -100.0, 0.0])
    expected = m.segment_table(_table_frame(), "nps", columns="Score", by="Region", min_n=2)
    # An empty warning is "" in both; as_frame reads empty cells as NaN.
    pd.testing.assert_frame_equal(frame, expected.replace("", np.nan), check_dtype=False)


def test_kpi_by_segment_by_month_with_options(xl):
    got = xl.call(
        "KPI_BY_SEGMENT", TABLE, None, "csat", ["Score"], "scale=0,10; threshold=9", "Date", None, False, None
    )
    frame = as_frame(got)
    # Jan: 10, 3 -> 1 of 2 at 9 or more; Feb: 9, 0 -> 1 of 2 (the blank score skipped).
    assert frame["group"].tolist() == ["2025-01", "2025-02"]
    assert frame["value"].tolist() == pytest.approx([0.5, 0.5])


def test_kpi_by_segment_unknown_column_and_error_cell(xl):
    with pytest.raises(Raised, match="'Scores' not found in the header row"):
        xl.call("KPI_BY_SEGMENT", TABLE, "Region", "nps", "Scores", None, None, None, None, None)
    broken = [row[:] for row in TABLE]
    broken[3][1] = NA
    assert (
        xl.call("KPI_BY_SEGMENT", broken, "Region", "nps", "Score", None, None, None, None, None) == NA_RESULT
    )


# -------------------------------------------------------------------------------------------------
# The child process: xlwings' Office.js runtime over kpi_xl.udfs
# -------------------------------------------------------------------------------------------------


# -------------------------------------------------------------------------------------------------
# The locale: number and date text by the workbook's culture (issue 10)
# -------------------------------------------------------------------------------------------------


def test_a_thousand_as_text_reads_by_the_workbook_culture(xl):
    # =CHURN("1.000", 120): one thousand customers in a German workbook; ambiguous with no culture.
    assert scalar(xl.call("CHURN", "1.000", 120, None, None, None, culture="de-DE")) == pytest.approx(0.12)
    with pytest.raises(Raised) as info:
        xl.call("CHURN", "1.000", 120, None, None, None, culture=None)
    assert info.value.kind == "XlwingsError"
    assert (
        "customers_start: value '1.000' reads as 1 or as 1000 depending on the locale" in info.value.message
    )
    assert "KPI_XL_LOCALE" in info.value.message
    # In an American workbook "1.000" is one customer, and 120 lost of 1 is refused, never 12%.
    with pytest.raises(Raised, match="more than customers_start"):
        xl.call("CHURN", "1.000", 120, None, None, None, culture="en-US")
    assert scalar(xl.call("CHURN", "1,000", 120, None, None, None, culture="en-US")) == pytest.approx(0.12)


def test_decimal_comma_text_is_read(xl):
    # =NPS("9,0") is a promoter; =CLV("60,5", ...) uses 60.5, as =CLV(60.5, ...) does.
    for culture in ("de-DE", None):
        assert scalar(xl.call("NPS", "9,0", None, culture=culture)) == pytest.approx(100.0)
        got = scalar(xl.call("CLV", "60,5", 6, "0,4", 3, None, culture=culture))
        assert got == pytest.approx(m.clv_formula(60.5, 6, 0.4, 3).value)
    # A German number in an American workbook is named, not misread.
    with pytest.raises(Raised, match="other decimal mark; the locale \\(en\\) reads 1,234.56"):
        xl.call("NPS", "9,0", None, culture="en-US")


def test_a_number_like_first_cell_is_data_not_a_header(xl):
    # =NPS of "9,0", 10, 3: three answers (two promoters, one detractor), not 0 over two.
    got = scalar(xl.call("NPS", col("9,0", 10, 3), None, culture="de-DE"))
    assert got == pytest.approx(m.nps([9, 10, 3]).value)
    breakdown = dict(xl.call("NPS_BREAKDOWN", col("9,0", 10, 3), None, None, culture="de-DE")[1:])
    assert (breakdown["n"], breakdown["n_dropped"]) == (3, 0)
    for first in ("12,50", "1,234.50", "45%"):
        with pytest.raises(Raised, match="in row 1 of the range"):
            xl.call("NPS", col(first, 10, 3), None, culture="de-DE")


def test_text_dates_follow_the_culture(xl):
    # 03/04/2025 is 4 March to an American (inside March: churned) and 3 April to a German (not).
    args = (col("01/01/2025"), col("03/04/2025"), "2025-03-01", "2025-03-31", None)
    assert scalar(xl.call("CHURN_FROM_DATES", *args, culture="en-US")) == pytest.approx(1.0)
    assert scalar(xl.call("CHURN_FROM_DATES", *args, culture="de-DE")) == pytest.approx(0.0)
    with pytest.raises(Raised, match="could be day/month/year or month/day/year"):
        xl.call("CHURN_FROM_DATES", *args, culture=None)


def test_clv_predict_on_too_few_customers_shows_the_reason(xl):
    # Three repeat customers: the Gamma-Gamma model needs ten. The reason reaches the cell's hover
    # text (Office.js can show a reason only with #VALUE!), not a bare #N/A.
    ids = col(*["a", "a", "b", "b", "c", "c", "d"])
    dates = col(*[serial(d) for d in ("2025-01-01", "2025-02-01", "2025-01-05", "2025-03-01",
                                      "2025-01-07", "2025-02-07", "2025-01-09")])  # fmt: skip
    amounts = col(10, 20, 30, 40, 50, 60, 70)
    with pytest.raises(Raised) as info:
        xl.call("CLV_PREDICT", ids, dates, amounts, "week", 52, None, None, None, None)
    assert info.value.message.startswith("#N/A ")
    assert "Gamma-Gamma spend model needs at least 10 customers" in info.value.message


def _serve() -> None:
    """Answer JSON requests on stdin with the runtime's results on stdout, one per line."""
    import asyncio

    import xlwings as xw
    import xlwings.server

    from kpi_xl import udfs
    from kpi_xl.excel import errors

    loop = asyncio.new_event_loop()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "info":
                answer = {"ok": {"decorators": xw.func.__module__, "office_js": errors.OFFICE_JS}}
            elif request["op"] == "meta":
                answer = {"ok": xlwings.server.custom_functions_meta(udfs)}
            else:
                body = {
                    "client": "Office.js",
                    "version": xw.__version__,
                    "runtime": request["runtime"],
                    "func_name": request["func"],
                    "args": request["args"],
                    "caller_address": "[kpi_report.xlsx]Dashboard!B2",
                    "date_format": "m/d/yyyy",
                }
                if request.get("culture"):
                    body["culture_info_name"] = request["culture"]
                answer = {"ok": loop.run_until_complete(xlwings.server.custom_functions_call(body, udfs))}
        except Exception as exc:  # noqa: BLE001 - reported to the test, which decides
            answer = {"raised": type(exc).__name__, "message": str(exc)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
