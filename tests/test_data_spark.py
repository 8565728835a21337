"""The same aggregation expressions on PySpark local mode give the embedded DuckDB path's numbers:
every catalog metric by segment and by month, and the CLV fit. One SparkSession for the run; a
few hundred rows per table (Spark's time here is its start, not the data).

Needs the ``spark`` extra (``pip install kpi-xl[spark]``) and Java 17; skipped without them."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")
if shutil.which("java") is None:
    pytest.skip("PySpark needs Java (apt: openjdk-17-jre-headless)", allow_module_level=True)

from kpi_xl.data._catalog import RunOptions, run_segments, specs_for  # noqa: E402
from kpi_xl.data.backend import open_table, predict_clv_backend  # noqa: E402
from kpi_xl.datasets import load_cdnow_transactions  # noqa: E402

_COMPARED = ("value", "n", "n_dropped", "se", "ci_low", "ci_high", "small_sample")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kpi-xl-tests")
        # Timestamps read in UTC, as kpi-xl's DuckDB connection reads them.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _tables(folder) -> dict[str, tuple[pd.DataFrame, str]]:
    """Small tables of every family, with text values the rules must judge (blanks, placeholders,
    a negative amount, an off-scale score, a comma decimal), each with a segment column."""
    rng = np.random.default_rng(5)
    n = 240
    day = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 80, n), unit="D")
    orders = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in rng.integers(0, 40, n)],
            "date": day.strftime("%Y-%m-%d"),
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2).astype(str),
            "refunded": rng.choice(["yes", "no", "no", "no"], n),
            "units_sold": rng.integers(1, 5, n).astype(float),
            "units_returned": rng.integers(0, 2, n).astype(float),
            "referred": rng.choice(["yes", "no"], n),
            "channel": rng.choice(["web", " Web", "app", None], n),
        }
    )
    orders.loc[[3, 50], "amount"] = ["-5", "n/a"]
    # An id to strip, and placeholders in upper case (one with the Kelvin sign for "k") or with a
    # run of spaces inside (read as one): blanks.
    orders.loc[[7, 11, 12, 13], "customer_id"] = [" C1 ", "N/A", "\u212a.A.", "n.\u00a0 a."]
    survey = pd.DataFrame(
        {
            "date": day.strftime("%Y-%m-%d"),
            "nps": rng.integers(0, 11, n).astype(str),
            "csat": rng.integers(1, 6, n).astype(str),
            "ces": rng.integers(1, 8, n).astype(str),
            "region": rng.choice(["Nord", "Süd"], n),
        }
    )
    survey.loc[[2, 9], "nps"] = ["11", ""]
    survey.loc[4, "csat"] = "4,5"
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 80 * 24, n), unit="h")
    tickets = pd.DataFrame(
        {
            "created": created,
            "first_response": created + pd.to_timedelta(rng.integers(5, 600, n), unit="min"),
            "resolved": created + pd.to_timedelta(rng.integers(60, 6000, n), unit="min"),
            "is_complaint": rng.choice([1.0, 0.0], n),
            "team": rng.choice(["A", "B"], n),
        }
    )
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    churned = signup + pd.to_timedelta(rng.integers(30, 400, n), unit="D")
    customers = pd.DataFrame(
        {
            "signup_date": signup.strftime("%Y-%m-%d"),
            "churn_date": np.where(rng.random(n) < 0.4, churned.strftime("%Y-%m-%d"), None),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )
    # CLV needs data the models fit: the CDNOW sample (ids as text, as an export holds them).
    cdnow = load_cdnow_transactions()[["customer_id", "date", "amount"]]
    cdnow = cdnow.assign(customer_id=cdnow["customer_id"].astype(str))
    typed = cdnow.assign(date=cdnow["date"].dt.date)
    cdnow = cdnow.assign(date=cdnow["date"].dt.strftime("%Y-%m-%d"))
    return {
        "cdnow": (cdnow, None),
        # The same orders with a typed DATE column (read in place, no lookup joined to every row).
        "cdnow_dates": (typed, None),
        "orders": (orders, "channel"),
        "survey": (survey, "region"),
        "tickets": (tickets, "team"),
        "customers": (customers, "plan"),
    }


@pytest.fixture(scope="module")
def both(spark, tmp_path_factory):
    """Each table in Spark and in an embedded DuckDB, read from the same Parquet file."""
    import ibis

    from kpi_xl.data._duck import connect

    folder = tmp_path_factory.mktemp("spark")
    duck = connect()
    spark_con = ibis.pyspark.connect(spark)
    out = {}
    for name, (frame, segment) in _tables(folder).items():
        path = folder / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        spark.read.parquet(str(path)).createOrReplaceTempView(name)
        duck.read_parquet(str(path), table_name=name)
        out[name] = (spark_con, duck, segment)
    return out


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


@pytest.mark.parametrize("name", ["orders", "survey", "tickets", "customers"])
def test_every_metric_by_segment_and_month_equals_the_embedded_path(both, name):
    spark_con, duck, segment = both[name]
    run = RunOptions(sla_hours=2.0, period_from=pd.Timestamp("2025-01-01").date(), period_to=None)
    on_spark = open_table(spark_con, name, extra=[segment])
    on_duck = open_table(duck, name, extra=[segment])
    assert on_spark.problems.as_dicts() == on_duck.problems.as_dicts()
    specs, _ = specs_for(on_duck, run)
    assert specs
    for spec in specs:
        # The segment table's last row is the whole table (what ``report`` shows).
        period = "month" if spec.period_role else None
        tables = [run_segments(ds, spec, run, by=segment, period=period)[0] for ds in (on_spark, on_duck)]
        assert list(tables[0]["group"]) == list(tables[1]["group"]), spec.name
        assert len(tables[1]) > 2, spec.name
        for a, b in zip(tables[0].to_dict("records"), tables[1].to_dict("records"), strict=True):
            for key in _COMPARED:
                assert _same(a[key], b[key]), (spec.name, a["group"], key, a[key], b[key])


@pytest.mark.parametrize("name", ["cdnow", "cdnow_dates"])
def test_clv_fit_on_spark_equals_the_embedded_path(both, name):
    spark_con, duck, _ = both[name]
    preds = []
    for con in (spark_con, duck):
        ds = open_table(con, name)
        assert ds.judged["date"].how == "cast"
        pred, per_customer = predict_clv_backend(ds, time_unit="week", horizon=12)
        preds.append((pred, con.to_pandas(per_customer)))
    (on_spark, spark_rows), (on_duck, duck_rows) = preds
    # The purchase patterns and the spend pairs each model is fitted on, with their predictions.
    for part in ("purchases", "spend"):
        got, want = getattr(on_spark.patterns, part), getattr(on_duck.patterns, part)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    for model in ("purchase_model", "spend_model"):
        got, want = getattr(on_spark, model), getattr(on_duck, model)
        np.testing.assert_allclose(got.params_.to_numpy(), want.params_.to_numpy(), rtol=1e-9)
    # Every customer gets its pattern's prediction back, in the backend.
    pd.testing.assert_frame_equal(spark_rows, duck_rows, check_exact=False, rtol=1e-12)
    assert len(duck_rows) == on_duck.customers["weight"].sum()
    totals = on_spark.totals()
    assert totals == pytest.approx(on_duck.totals(), rel=1e-12)
    assert totals["clv_total"] == pytest.approx(duck_rows["clv"].sum(), rel=1e-12)
    # Dates as text or typed: the same orders, the same totals.
    as_text, _ = predict_clv_backend(open_table(duck, "cdnow"), time_unit="week", horizon=12)
    assert on_duck.totals() == pytest.approx(as_text.totals(), rel=1e-12)
