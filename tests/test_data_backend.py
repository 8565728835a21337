"""The Ibis aggregation layer: where backends (and casts) differ, the expressions agree with the
pandas path. One test per difference; the Spark route is in test_data_spark.py."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from kpi_xl import cli
from kpi_xl.data._duck import load_duckdb
from kpi_xl.data.aggregate import PURCHASE_KEYS, SPEND_KEYS, WHITESPACE, _initials
from kpi_xl.data.backend import (
    customer_predictions,
    open_table,
    predict_clv_backend,
    rfm_backend,
    summary_frames,
)
from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import predict_clv, rfm_summary
from kpi_xl.metrics.rules import BLANK_TEXT


def _report(capsys, *argv):
    assert cli.main(["report", *map(str, argv), "--format", "json"]) == 0, capsys.readouterr().err
    return {r["metric"]: r for r in json.loads(capsys.readouterr().out)["results"]}


def _same_results(a, b):
    assert a.keys() == b.keys()
    for name in a:
        for key in ("value", "n", "n_dropped", "se", "ci_low", "ci_high"):
            x, y = a[name][key], b[name][key]
            assert x == pytest.approx(y, rel=1e-12, abs=1e-12) if isinstance(x, float) else x == y, (
                name,
                key,
            )


def test_whitespace_set_is_pythons_whole_range():
    # Ids are stripped of exactly what str.strip removes; none of those lies beyond U+3000.
    assert tuple(c for c in range(sys.maxunicode + 1) if chr(c).isspace()) == WHITESPACE


def test_placeholder_initials_cover_every_lower_case_in_python_and_duckdb():
    # The id check lower-cases only the ids whose first character lower-cases to a placeholder's
    # first one: those characters, over the whole range, by Python's lower and by DuckDB's.
    import duckdb

    firsts = frozenset(p[:1] for p in BLANK_TEXT if p)
    initials = set(_initials(firsts))
    assert {c for c in range(sys.maxunicode + 1) if chr(c).lower()[:1] in firsts} <= initials
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in sorted(firsts))
    by_duckdb = duckdb.sql(
        "SELECT c FROM (SELECT c FROM range(1114112) t(c) WHERE c < 55296 OR c > 57343) "
        f"WHERE left(lower(chr(CAST(c AS INTEGER))), 1) IN ({listed})"
    ).fetchall()
    assert {c for (c,) in by_duckdb} <= initials
    assert {0x4B, 0x6B, 0x212A} <= initials


@pytest.mark.parametrize(
    "values",
    [
        [3.5, -1.0, 2.25],  # odd: the middle one twice
        [4.0, 1.0, 3.0, 2.0],  # even: two different middles
        [2.0, 2.0, 1.0, 5.0, 2.0, 7.0],  # the middles tie
        [0.1, 0.7, 0.2, 0.30000000000000004, 0.3, 1e300, -1e300, 0.3],
    ],
)
def test_middle_values_are_the_two_middle_ranks(values):
    # DuckDB's discrete quantile gives the median's two middle values in the totals' own query
    # (no ranking of every customer): the values numpy's sort puts at ranks (n-1)//2 and n//2.
    import ibis

    from kpi_xl.data.aggregate import middle_values

    con = ibis.duckdb.connect()
    t = con.create_table("v", pd.DataFrame({"x": values}))
    low, high = middle_values(t, t.x)
    got = con.to_pandas(t.aggregate(low=low, high=high)).iloc[0]
    ranked = np.sort(values)
    assert (got["low"], got["high"]) == (ranked[(len(values) - 1) // 2], ranked[len(values) // 2])


def test_nan_in_a_typed_float_column_is_a_blank(tmp_path, capsys):
    # Parquet doubles can hold NaN and NULL; a backend sum would carry NaN, the engine skips both.
    path = tmp_path / "orders.parquet"
    pd.DataFrame({"customer_id": ["a", "b", "c", "a"], "amount": [10.0, np.nan, None, 30.0]}).to_parquet(path)
    by_pandas = _report(capsys, path, "--engine", "pandas")
    by_duckdb = _report(capsys, path, "--engine", "duckdb")
    _same_results(by_pandas, by_duckdb)
    assert by_duckdb["aov"]["value"] == 20.0 and by_duckdb["aov"]["n_dropped"] == 2


def test_decimal_column_reads_as_the_float_pandas_reads(tmp_path, capsys):
    import duckdb

    db = tmp_path / "shop.duckdb"

    raw = duckdb.connect(str(db))
    raw.execute("CREATE TABLE orders (customer_id VARCHAR, amount DECIMAL(12, 2))")
    raw.execute("INSERT INTO orders VALUES ('a', 10.10), ('a', 20.20), ('b', 0.30), ('c', NULL)")
    raw.close()
    path = tmp_path / "orders.csv"
    pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "amount": ["10.10", "20.20", "0.30", ""]}).to_csv(
        path, index=False
    )
    by_table = _report(capsys, "--connect", f"duckdb://{db}", "--table", "orders")
    by_file = _report(capsys, path, "--engine", "pandas")
    _same_results(by_file, by_table)
    assert by_table["aov"]["value"] == pytest.approx(30.6 / 3)


def test_time_zones_read_in_utc_whatever_the_session(tmp_path):
    # 2025-01-31 23:30 at -02:00 is 2025-02-01 01:30 UTC: February, on every session's clock.
    import duckdb

    db = tmp_path / "survey.duckdb"
    raw = duckdb.connect(str(db))
    raw.execute("SET TimeZone = 'America/Sao_Paulo'")
    raw.execute("CREATE TABLE answers (date TIMESTAMPTZ, nps INTEGER)")
    raw.execute("INSERT INTO answers VALUES ('2025-01-31 23:30:00-02', 10), ('2025-01-15 12:00:00+00', 0)")
    raw.close()
    ds = open_table(f"duckdb://{db}", "answers", options=None, roles=["nps_score", "date"])
    groups, _ = summary_frames(ds, "scores", ["nps_score"], date_role="date")
    assert groups.to_dict("list") == {"_group": ["2025-01", "2025-02"], "score": [0.0, 10.0], "n": [1, 1]}


def test_weeks_before_1970_floor_like_the_engine(tmp_path):
    # Negative day numbers: truncating division would put 1969-12-29 (a Monday) in the week of
    # 1970-01-01; the engine's periods come from its own function on the distinct days.
    path = tmp_path / "old.csv"
    pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "date": ["1969-12-20", "1969-12-29", "1970-01-02", "1969-12-31", "1970-01-05"],
            "amount": [5, 6, 7, 8, 9],
        }
    ).to_csv(path, index=False)
    ds = load_duckdb(path, ["customer_id", "date", "amount"])
    summary = rfm_backend(ds, time_unit="week")
    tx = pd.read_csv(path, parse_dates=["date"])
    want = rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")
    for got, keys in ((summary.purchases, PURCHASE_KEYS), (summary.spend, SPEND_KEYS)):
        counted = want.groupby(list(keys)).size()
        assert got.set_index(list(keys))["weight"].to_dict() == counted.to_dict()


def test_summaries_are_sorted_with_blanks_last_and_fits_repeat_exactly(tmp_path):
    tx = load_cdnow_transactions()
    path = tmp_path / "cdnow.csv"
    tx.to_csv(path, index=False)
    fits = []
    for threads in (1, 2):
        ds = load_duckdb(path, ["customer_id", "date", "amount"], threads=threads)
        pred, _ = predict_clv_backend(ds, time_unit="week", horizon=12)
        for table, keys in ((pred.patterns.purchases, PURCHASE_KEYS), (pred.patterns.spend, SPEND_KEYS)):
            rows = table[list(keys)]
            assert rows.equals(rows.sort_values(list(keys), ignore_index=True))
        fits.append((pred.purchase_model.as_dict(), pred.spend_model.as_dict()))
    # The same data gives the same parameters to the last digit, however the threads split it.
    assert fits[0] == fits[1]
    survey = tmp_path / "survey.csv"
    pd.DataFrame({"nps": ["7", "", "10", "7"], "region": ["N", "N", "S", "S"]}).to_csv(survey, index=False)
    _, total = summary_frames(load_duckdb(survey), "scores", ["nps_score"])
    assert total["score"].tolist()[:2] == [7.0, 10.0] and np.isnan(total["score"].iloc[2])


def test_a_cast_the_rules_disagree_with_is_not_used(tmp_path, capsys):
    # DuckDB casts "1_000" to 1000 and "inf" to infinity; the rules reject both. Plain numbers use
    # the cast (checked on every distinct value), these are listed as the pandas path lists them.
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,amount\na,12.5\nb,1_000\nc,inf\nd,nan\ne, 7\n", encoding="utf-8")
    ds = load_duckdb(path)
    assert ds.judged["amount"].how == "cast"
    both = []
    for engine in ("pandas", "duckdb"):
        assert cli.main(["report", str(path), "--engine", engine, "--format", "json"]) == 0
        both.append(json.loads(capsys.readouterr().out))
    assert both[0]["skipped"] == both[1]["skipped"]
    assert [r["row"] for r in both[1]["skipped"]["rows"]] == [3, 4]
    aov = {r["metric"]: r for r in both[1]["results"]}["aov"]
    assert aov["value"] == pytest.approx(19.5 / 2) and aov["n_dropped"] == 3


def test_split_patterns_fit_as_the_customers_behind_them_and_as_lifetimes(tmp_path):
    # BG/NBD on (frequency, recency, T) patterns and Gamma-Gamma on (frequency, spend) pairs counted
    # in DuckDB: the parameters of the engine fitted per customer in memory and of lifetimes fitted
    # on the same summary; every customer's prediction joined back in the database.
    tx = load_cdnow_transactions()
    path = tmp_path / "cdnow.csv"
    tx.to_csv(path, index=False)
    settings = {"time_unit": "week", "horizon": 12, "discount_rate": 0.01, "margin": 0.5}
    ds = load_duckdb(path, ["customer_id", "date", "amount"])
    pred, per_customer = predict_clv_backend(ds, **settings)
    direct = predict_clv(tx["customer_id"], tx["date"], tx["amount"], **settings)
    rfm = direct.customers
    # 1,218 purchase patterns for 2,357 customers; the spend pairs are about the repeat customers
    # (DuckDB's mean spend may differ from pandas' in the last bit, so a pair can split in two).
    assert len(pred.patterns.purchases) == len(rfm.groupby(list(PURCHASE_KEYS)).size()) == 1218
    assert pred.patterns.purchases["weight"].sum() == pred.patterns.spend["weight"].sum() == 2357
    assert len(pred.patterns.spend) <= (rfm["frequency"] > 0).sum() + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own deprecation warnings
        import lifetimes

        lt_bg = lifetimes.BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])
        repeat = rfm[rfm["frequency"] > 0]
        lt_gg = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    for model, lt in (("purchase_model", lt_bg), ("spend_model", lt_gg)):
        got, want = getattr(pred, model), getattr(direct, model)
        np.testing.assert_allclose(got.params_.to_numpy(), want.params_.to_numpy(), rtol=1e-6)
        np.testing.assert_allclose(got.params_.to_numpy(), lt.params_.to_numpy(), rtol=1e-5)
        assert got.log_likelihood_ == pytest.approx(want.log_likelihood_, rel=1e-9)
    assert pred.spend_model.n_excluded_ == direct.spend_model.n_excluded_ == (rfm["frequency"] == 0).sum()
    got = customer_predictions(ds, per_customer)
    want = direct.customers.set_axis(direct.customers.index.astype(str)).sort_index()
    assert got.index.equals(want.index) and list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)
    totals, want_totals = pred.totals(), direct.totals()
    assert totals["customers"] == want_totals["customers"] == 2357
    for key in ("clv_total", "clv_mean", "clv_median", "clv_max", "expected_purchases_total"):
        assert totals[key] == pytest.approx(want_totals[key], rel=1e-6), key
    assert totals["clv_total"] == pytest.approx(got["clv"].sum(), rel=1e-12)
    assert totals["clv_median"] == pytest.approx(float(got["clv"].median()), rel=1e-12)
    assert pred.total()["clv"] == totals["clv_total"] and pred.total()["customers"] == 2357
    pd.testing.assert_frame_equal(pred.schedule(), direct.schedule(), check_exact=False, rtol=1e-6)


def test_clv_to_a_table_in_the_database(tmp_path, capsys):
    import duckdb

    db = tmp_path / "shop.duckdb"
    tx = load_cdnow_transactions()
    raw = duckdb.connect(str(db))
    raw.register("tx", tx.assign(customer_id=tx["customer_id"].astype(str)))
    raw.execute("CREATE TABLE orders AS SELECT * FROM tx")
    raw.close()
    argv = [
        "clv",
        "--connect",
        f"duckdb://{db}",
        "--table",
        "orders",
        "--time-unit",
        "week",
        "--horizon",
        "12",
    ]
    assert cli.main([*argv, "-o", "table:clv_out", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert cli.main([*argv, "-o", str(tmp_path / "clv.csv")]) == 0
    capsys.readouterr()
    raw = duckdb.connect(str(db))
    written = raw.execute("SELECT * FROM clv_out ORDER BY customer_id").df()
    raw.close()
    from_file = pd.read_csv(tmp_path / "clv.csv", dtype={"customer_id": str}).sort_values("customer_id")
    assert len(written) == len(from_file) == info["summary"]["customers"] == tx["customer_id"].nunique()
    np.testing.assert_allclose(written["clv"], from_file["clv"], rtol=1e-12)
    assert written["clv"].sum() == pytest.approx(info["summary"]["clv_total"])


def _ids_file(folder, ids, fmt):
    """An order file with these customer ids (text) and amounts 1, 2, ..."""
    frame = pd.DataFrame({"customer_id": ids, "amount": [float(i + 1) for i in range(len(ids))]})
    path = folder / f"orders.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        path.write_text(
            "customer_id,amount\n" + "".join(f'"{c}",{a:g}\n' for c, a in zip(ids, frame.amount)),
            encoding="utf-8",
        )
    return path


@pytest.mark.parametrize(
    ("fmt", "ids", "strip", "blank"),
    [
        # Clean ids: the per-customer counts grouped by the raw ids are the answer (one query).
        ("csv", ["C1", "C2", "C1", "C3"], False, False),
        ("parquet", ["C1", "C2", "C1", "C3"], False, False),
        # A blank cell in a CSV is NULL: its own group, listed as blank, no id to strip.
        ("csv", ["C1", "", "C1", "C2"], False, True),
        # In Parquet an empty string is text: the one id rule makes it blank (counted again).
        ("parquet", ["C1", "", "C1", "C2"], True, True),
        # Ids to strip and a placeholder: counted again by the stripped id.
        ("csv", [" C1", "C1", "n/a", "C2\u00a0", "C2", "k.A."], True, True),
        ("parquet", [" C1", "C1", "n/a", "C2\u3000", "C2", "K.A."], True, True),
        # Placeholders in any case (the Kelvin sign lower-cases to "k"), beside ids that start as
        # one could ("N1", "e1") but are customers.
        ("csv", ["N1", "\u212a.A.", "N/A", "e1", "N1"], True, True),
    ],
)
def test_ids_are_checked_on_the_ids_the_customers_were_grouped_by(tmp_path, capsys, fmt, ids, strip, blank):
    # The id check (an id to strip? a placeholder?) runs on the distinct raw ids the per-customer
    # query grouped, not on every row; only when one needs the id rule are the rows counted again
    # by the stripped id. Either way the report, and the blank ids it lists, are the pandas path's.
    from kpi_xl.data._catalog import RunOptions, run_metric, specs_for

    path = _ids_file(tmp_path, ids, fmt)
    ds = load_duckdb(path)
    specs, _ = specs_for(ds, RunOptions())
    assert ds.customer_plan == ((("customer_id",), ("customer_id", "amount")), False)
    assert not ds.judged["customer_id"].checked
    for spec in specs:
        run_metric(ds, spec, RunOptions())
    j = ds.judged["customer_id"]
    assert j.checked and (j.cast == "strip") is strip and j.has_blank is blank
    # One per-customer table, or two when the ids had to be counted again.
    assert ds._kept == (2 if strip else 1)
    argv = ["report", str(path), "--format", "json", "--engine"]
    outs = []
    for engine in ("pandas", "duckdb"):
        assert cli.main([*argv, engine]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    by_pandas, by_duckdb = outs
    _same_results(
        {r["metric"]: r for r in by_pandas["results"]}, {r["metric"]: r for r in by_duckdb["results"]}
    )
    assert by_pandas["blank"] == by_duckdb["blank"]
    assert by_duckdb["blank"]["total"] == sum(c.strip().lower() in ("", "n/a", "k.a.") for c in ids)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_placeholder_ids_with_inner_spaces_are_blanks_as_on_the_pandas_path(tmp_path, capsys, fmt):
    # The rulebook reads runs of spaces inside a placeholder as one ("k.  a.", "n.<NBSP>a." are
    # "k. a.", "n. a."): those ids are blanks on the DuckDB route too, not two more customers.
    ids = ["C1", "k.  a.", "C1", "N.\u00a0A.", "C2", "k. a. x"]
    path = _ids_file(tmp_path, ids, fmt)
    outs = []
    for engine in ("pandas", "duckdb"):
        assert cli.main(["report", str(path), "--format", "json", "--engine", engine]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    by_pandas, by_duckdb = outs
    _same_results(
        {r["metric"]: r for r in by_pandas["results"]}, {r["metric"]: r for r in by_duckdb["results"]}
    )
    assert by_pandas["blank"] == by_duckdb["blank"]
    assert by_duckdb["blank"]["total"] == 2
    frequency = {r["metric"]: r for r in by_duckdb["results"]}["purchase_frequency"]
    assert frequency["value"] == pytest.approx(4 / 3)


def test_per_customer_counts_without_checks_equal_the_checked_form():
    # A role set with no role to check is read from plain per-customer aggregates (non-blank
    # counts, a distinct count, a sum) instead of one conditional count per set; on rows with
    # blanks in every role and a group of rows without a customer, both forms agree exactly.
    import ibis

    from kpi_xl.data.aggregate import customer_counts

    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", None, "b", "b", None, "c"],
            "date__day": [1, 1, None, 2, 3, None, None, None],
            "amount": [1.5, None, 2.0, 4.0, None, None, None, 7.25],
        }
    )
    frame["date"] = frame["date__day"]
    for role in ("customer_id", "date", "amount"):
        frame[f"{role}__bad"] = False
    con = ibis.duckdb.connect()
    t = con.create_table("judged", frame)
    sets = [("customer_id",), ("customer_id", "date"), ("customer_id", "amount")]
    plain = customer_counts(t, {f"s{i}": (s, []) for i, s in enumerate(sets)}, ids=True)
    checked = customer_counts(t, {f"s{i}": (s, list(s)) for i, s in enumerate(sets)}, ids=True)
    got, want = (
        con.to_pandas(e).sort_values("customer_id", na_position="last", ignore_index=True)
        for e in (plain, checked)
    )
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    # By hand: customer a has 3 rows, 2 with a date (1 day), 2 with an amount (3.5); 2 rows have no customer.
    a = got.iloc[0]
    assert (a.s0_orders, a.s1_orders, a.s1_days, a.s2_orders, a.s2_revenue) == (3, 2, 1, 2, 3.5)
    assert got.iloc[-1][["s0_orders", "s0_dropped", "s2_dropped"]].tolist() == [0, 2, 2]
    assert pd.isna(got.iloc[-1].s2_revenue)


def test_an_id_column_no_metric_reads_is_not_scanned(tmp_path, capsys):
    # The id check (an id to strip, a placeholder) is a pass over every row: it runs when a metric
    # reads the column, and the stripped ids still group as the pandas path groups them.
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,amount\n1, a,10\n2,a ,20\n3,b,5\n", encoding="utf-8")
    ds = load_duckdb(path)
    assert not ds.judged["order_id"].checked and not ds.judged["customer_id"].checked
    _, total = summary_frames(ds, "customers", ["customer_id"])
    assert ds.judged["customer_id"].checked and ds.judged["customer_id"].cast == "strip"
    assert not ds.judged["order_id"].checked
    assert total["customers"].tolist() == [1, 1] and total["orders"].tolist() == [1, 2]
    _same_results(_report(capsys, path, "--engine", "pandas"), _report(capsys, path, "--engine", "duckdb"))
