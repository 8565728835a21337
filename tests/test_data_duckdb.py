"""The DuckDB path gives the same answers as the pandas path, and only summaries reach pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import test_data_messy as messy

from kpi_xl import cli
from kpi_xl.data import _open, load_dataset
from kpi_xl.data._duck import load_duckdb
from kpi_xl.data._open import choose_engine, clv_inputs, with_customer_ids
from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import KpiInputError, predict_clv

_COMPARED = ("value", "n", "n_dropped", "n_skipped_invalid", "se", "ci_low", "ci_high", "warnings", "note")


def _report(capsys, engine, *argv):
    code = cli.main(["report", *map(str, argv), "--engine", engine, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def _assert_reports_equal(capsys, *files, extra=()):
    by_pandas = _report(capsys, "pandas", *files, *extra)
    by_duckdb = _report(capsys, "duckdb", *files, *extra)
    assert [r["metric"] for r in by_pandas["results"]] == [r["metric"] for r in by_duckdb["results"]]
    for p, d in zip(by_pandas["results"], by_duckdb["results"], strict=True):
        for key in _COMPARED:
            assert _same(p[key], d[key]), (p["file"], p["metric"], key, p[key], d[key])
    # The same skipped values, at the same rows, for the same reasons.
    assert by_pandas["skipped"]["rows"] == by_duckdb["skipped"]["rows"]
    assert by_pandas["skipped"]["summary"] == by_duckdb["skipped"]["summary"]
    assert [f["columns"] for f in by_pandas["files"]] == [f["columns"] for f in by_duckdb["files"]]
    return by_pandas, by_duckdb


def test_german_exports_equal_on_both_paths(tmp_path, capsys):
    p, d = _assert_reports_equal(capsys, messy.write_orders_de(tmp_path), messy.write_survey_de(tmp_path))
    assert len(p["results"]) == 7
    assert "DuckDB" in d["files"][0]["read"]
    # Empty line and CRLF: the bad rows keep the numbers the user sees (7, 8, 10).
    assert sorted(r["row"] for r in d["skipped"]["rows"] if r["file"] == "bestellungen.csv") == [7, 8, 10]


def test_tickets_and_customers_equal_on_both_paths(tmp_path, capsys):
    files = (messy.write_tickets(tmp_path), messy.write_customers(tmp_path))
    p, _ = _assert_reports_equal(
        capsys, *files, extra=("--sla-hours", "2", "--from", "2025-01-01", "--to", "2025-01-31")
    )
    assert {r["metric"] for r in p["results"]} >= {"first_response_time", "sla_rate", "churn", "retention"}


def test_cdnow_master_equal_on_both_paths(tmp_path, capsys):
    path = tmp_path / "cdnow_master.csv"
    load_cdnow_transactions(sample=False).to_csv(path, index=False)
    p, _ = _assert_reports_equal(capsys, path)
    got = {r["metric"]: r for r in p["results"]}
    # CDNOW master: 69,659 purchase records of 23,570 customers; the repeat rate of order rows.
    assert got["purchase_frequency"]["value"] == pytest.approx(69659 / 23570)
    assert got["repeat_purchase_rate"]["n"] == 23570


def test_parquet_equal_on_both_paths(tmp_path, capsys):
    path = tmp_path / "orders.parquet"
    tx = load_cdnow_transactions()
    tx["customer_id"] = tx["customer_id"].astype(str)
    tx.loc[5, "amount"] = np.nan
    tx[["customer_id", "date", "amount"]].to_parquet(path)
    _assert_reports_equal(capsys, path)


@pytest.mark.parametrize(
    "argv",
    [
        ["aov", "{orders}", "--by", "Kanal"],
        ["aov", "{orders}", "--period", "month"],
        ["repeat_purchase_rate", "{orders}", "--by", "Kanal", "--period", "month"],
        ["nps", "{survey}", "--by", "Region"],
        ["csat", "{survey}", "--period", "month"],
    ],
)
def test_segment_tables_equal_on_both_paths(tmp_path, capsys, argv):
    files = {
        "{orders}": str(messy.write_orders_de(tmp_path)),
        "{survey}": str(messy.write_survey_de(tmp_path)),
    }
    argv = [files.get(a, a) for a in argv]
    tables = []
    for engine in ("pandas", "duckdb"):
        assert cli.main(["metric", *argv, "--engine", engine, "--format", "json"]) == 0
        tables.append(json.loads(capsys.readouterr().out)["groups"])
    assert [g["group"] for g in tables[0]] == [g["group"] for g in tables[1]]
    for a, b in zip(*tables, strict=True):
        for key in ("value", "n", "n_dropped", "se", "ci_low", "ci_high", "small_sample", "warning"):
            assert _same(a[key], b[key]), (a["group"], key)


def _orders_with_same_day_repeats(folder):
    """CDNOW sample with every third record split into two orders on the same day (amounts 40/60%),
    so the DuckDB path really sums several orders per customer and day."""
    tx = load_cdnow_transactions()[["customer_id", "date", "amount"]]
    split = tx.iloc[::3].copy()
    tx.loc[split.index, "amount"] = (split["amount"] * 0.4).round(2)
    split["amount"] = (split["amount"] - tx.loc[split.index, "amount"]).round(2)
    both = pd.concat([tx, split]).sort_values(["customer_id", "date"], kind="stable")
    path = folder / "orders.csv"
    both.to_csv(path, index=False)
    return path


def test_clv_predictions_equal_on_both_paths(tmp_path):
    path = _orders_with_same_day_repeats(tmp_path)
    outs = []
    for engine in ("pandas", "duckdb"):
        ds, log = clv_inputs(path, engine=engine)
        out = predict_clv(log["customer_id"], log["date"], log["amount"], time_unit="week", horizon=12)
        outs.append(out.with_customers(with_customer_ids(ds, out.customers)))
    (by_pandas, bg_pandas), (by_duckdb, bg_duckdb) = ((o.customers, o.purchase_model) for o in outs)
    assert list(by_pandas.index) == list(by_duckdb.index)
    for col in by_pandas.columns:
        # Day totals summed by DuckDB differ from the engine's sums in the last bit, and the fits stop
        # within the optimiser's tolerance: equal to 6 significant digits.
        np.testing.assert_allclose(by_duckdb[col], by_pandas[col], rtol=1e-6, atol=1e-10, err_msg=col)
    assert bg_duckdb.log_likelihood_ == pytest.approx(bg_pandas.log_likelihood_)


def test_clv_log_from_duckdb_is_one_row_per_customer_and_day(tmp_path):
    path = _orders_with_same_day_repeats(tmp_path)
    _, log = clv_inputs(path, engine="duckdb")
    tx = load_cdnow_transactions()
    # 6,919 customer-days in the CDNOW sample, however many orders each holds.
    assert len(log) == len(tx.groupby(["customer_id", "date"]))
    assert log["amount"].sum() == pytest.approx(tx["amount"].sum())


def test_only_distinct_combinations_reach_pandas(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "survey.csv"
    pd.DataFrame({"nps": rng.integers(0, 11, 50_000), "region": rng.choice(["N", "S", "W"], 50_000)}).to_csv(
        path, index=False
    )
    ds = load_duckdb(path, extra=["region"])
    assert ds.n_rows == 50_000
    data, _, weights = ds._frame(["nps_score", "region"])
    assert len(data) == 33  # 11 scores x 3 regions
    assert weights.sum() == 50_000
    pandas_ds = load_dataset(path)
    expected = pandas_ds.rows_for(["nps_score"])["nps_score"].value_counts().sort_index()
    got = ds.rows_for(["nps_score"])["nps_score"].value_counts().sort_index()
    pd.testing.assert_series_equal(got, expected)


def test_engine_error_row_is_a_real_file_row_on_the_duckdb_path(tmp_path, capsys):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "created,first_reply_at\n2025-01-01 09:00,2025-01-01 10:00\n\n2025-01-01 10:00,2025-01-01 08:00\n",
        encoding="utf-8",
    )
    for engine in ("pandas", "duckdb"):
        assert cli.main(["metric", "first_response_time", str(path), "--engine", engine]) == 2
        assert "tickets.csv, row 4, column 'first_reply_at'" in capsys.readouterr().err


def test_auto_engine_uses_duckdb_beyond_excel_rows(tmp_path, monkeypatch):
    small = messy.write_orders_de(tmp_path)
    assert choose_engine(small) == "pandas"
    monkeypatch.setattr(_open, "EXCEL_MAX_ROWS", 5)
    assert choose_engine(small) == "duckdb"
    assert choose_engine(messy.write_orders_xlsx(tmp_path)) == "pandas"  # a sheet never exceeds Excel's size
    parquet = tmp_path / "p.parquet"
    pd.DataFrame({"amount": range(10)}).to_parquet(parquet)
    assert _open.estimate_rows(parquet) == 10 and choose_engine(parquet) == "duckdb"


def test_estimated_rows_of_a_csv_are_close(tmp_path):
    path = tmp_path / "n.csv"
    pd.DataFrame({"customer_id": np.arange(20_000), "amount": np.arange(20_000) * 1.5}).to_csv(
        path, index=False
    )
    assert abs(_open.estimate_rows(path) - 20_000) < 2_000


def test_duckdb_path_refuses_excel_files(tmp_path):
    with pytest.raises(KpiInputError, match="reads CSV and Parquet"):
        load_duckdb(messy.write_orders_xlsx(tmp_path))


def test_text_ids_stripped_in_duckdb_as_in_python(tmp_path, capsys):
    # Ids with surrounding spaces (plain, tab, no-break, ideographic), placeholders and zeros.
    ids = ["K1", " K1", "K1\t", "\u00a0K1", "K2\u3000", "0012", "12", "n/a", "  ", "K3", "K3", "K2"]
    path = tmp_path / "ids.csv"
    path.write_text(
        "customer_id,amount\n" + "".join(f'"{c}",{i + 1}\n' for i, c in enumerate(ids)), encoding="utf-8"
    )
    p, _ = _assert_reports_equal(capsys, path)
    got = {r["metric"]: r for r in p["results"]}
    # Customers K1 (4 orders), K2 (2), 0012, 12, K3 (2): 10 orders of 5 customers; 2 blank ids.
    assert got["purchase_frequency"]["value"] == pytest.approx(10 / 5)
    assert got["purchase_frequency"]["n_dropped"] == 2


def test_rows_blank_in_every_column_are_ignored_as_on_the_pandas_path(tmp_path, capsys):
    # Empty and whitespace-only rows (ASCII, no-break and ideographic spaces) are no rows; cells that
    # start with a space or a letter beyond ASCII are values (the blank test compares bytes first).
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,amount\nK1,5\n,\n \u00a0, \t\n\u00c41,7\n\u3000K2,3\n\u3000,\u0085\nK1,2\n",
        encoding="utf-8",
    )
    assert "3 empty row(s) ignored" in load_duckdb(path).source
    p, _ = _assert_reports_equal(capsys, path)
    got = {r["metric"]: r for r in p["results"]}
    # K1 (2 orders), \u00c41, K2: 4 orders of 3 customers.
    assert got["purchase_frequency"]["value"] == pytest.approx(4 / 3)


def test_duckdb_ids_come_back_as_text_for_outputs(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text(
        "customer_id,date,amount\n K1 ,2025-01-01,5\nK1,2025-01-02,6\n0012,2025-01-01,7\n", encoding="utf-8"
    )
    for engine in ("pandas", "duckdb"):
        ds, log = clv_inputs(path, engine=engine)
        assert sorted(ds.ids("customer_id", log["customer_id"])) == ["0012", "K1", "K1"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_a_workbook_named_csv_is_refused_on_both_paths(tmp_path, engine):
    fake = tmp_path / "orders.csv"
    fake.write_bytes(messy.write_orders_xlsx(tmp_path).read_bytes())
    with pytest.raises(KpiInputError, match="orders.csv is an Excel workbook"):
        _open.open_dataset(fake, engine=engine)


# ---- the summary path: segments, months, CLV, and only summaries fetched -------------------------


def _shop_orders(folder, rows=3_000, seed=11):
    """Orders with messy segments (" web", "web", blank), blank ids, dates and amounts, same-day
    repeats, a negative amount (invalid) and three months."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, 400, rows).astype(object)
    day = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 85, rows), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in cust],
            "date": day.strftime("%Y-%m-%d"),
            "amount": np.round(rng.gamma(2.0, 25.0, rows), 2).astype(str),
            "channel": rng.choice(["web", " web", "app", "store", ""], rows),
        }
    )
    frame.loc[rng.choice(rows, 30, replace=False), "customer_id"] = ""
    # A channel whose orders have no amount: no AOV there, every row dropped.
    frame.loc[frame["channel"] == "store", "amount"] = ""
    frame.loc[rng.choice(rows, 20, replace=False), "date"] = ""
    frame.loc[rng.choice(rows, 25, replace=False), "amount"] = ""
    frame.loc[rng.choice(rows, 3, replace=False), "amount"] = "-5"
    path = folder / "shop.csv"
    frame.to_csv(path, index=False)
    return path


def _survey(folder, rows=4_000, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "date": (
                pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 70, rows), unit="D")
            ).strftime("%Y-%m-%d"),
            "nps": rng.integers(0, 11, rows).astype(str),
            "csat": rng.integers(1, 6, rows).astype(str),
            "ces": rng.integers(1, 8, rows).astype(str),
            "region": rng.choice(["Nord", "Süd", " Süd", ""], rows),
        }
    )
    frame.loc[rng.choice(rows, 40, replace=False), "nps"] = ""
    # A region where nobody answered the NPS question: no result, every row dropped.
    frame.loc[frame["region"] == "Nord", "nps"] = ""
    frame.loc[rng.choice(rows, 2, replace=False), "csat"] = "9"
    frame.loc[rng.choice(rows, 15, replace=False), "date"] = ""
    path = folder / "survey.csv"
    frame.to_csv(path, index=False)
    return path


_GROUPINGS = [["--by", "{by}"], ["--period", "month"], ["--by", "{by}", "--period", "month"]]


@pytest.mark.parametrize("grouping", _GROUPINGS)
@pytest.mark.parametrize(
    ("metric", "extra"),
    [
        ("aov", []),
        ("purchase_frequency", []),
        ("repeat_purchase_rate", []),
        ("repeat_purchase_rate", ["--purchases", "days"]),
        ("historical_clv", ["--margin", "0.3"]),
    ],
)
def test_order_summaries_by_segment_and_month_equal_pandas(tmp_path, capsys, metric, extra, grouping):
    path = _shop_orders(tmp_path)
    argv = [metric, str(path), *extra, *(a.replace("{by}", "channel") for a in grouping)]
    _assert_tables_equal(capsys, argv)


@pytest.mark.parametrize("grouping", _GROUPINGS)
@pytest.mark.parametrize("metric", ["nps", "csat", "satisfaction_mean", "ces"])
def test_survey_summaries_by_segment_and_month_equal_pandas(tmp_path, capsys, metric, grouping):
    path = _survey(tmp_path)
    _assert_tables_equal(capsys, [metric, str(path), *(a.replace("{by}", "region") for a in grouping)])


def _assert_tables_equal(capsys, argv):
    tables = []
    for engine in ("pandas", "duckdb"):
        assert cli.main(["metric", *argv, "--engine", engine, "--format", "json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        tables.append(payload)
    p, d = tables
    assert [g["group"] for g in p["groups"]] == [g["group"] for g in d["groups"]]
    assert p["groups"][-1]["group"] == "Total" and len(p["groups"]) > 2
    for a, b in zip(p["groups"], d["groups"], strict=True):
        for key in ("value", "n", "n_dropped", "se", "ci_low", "ci_high", "small_sample", "warning"):
            assert _same(a[key], b[key]), (a["group"], key, a[key], b[key])
    assert p["skipped"] == d["skipped"]


def test_report_on_messy_shop_orders_equal_on_both_paths(tmp_path, capsys):
    p, _ = _assert_reports_equal(capsys, _shop_orders(tmp_path), _survey(tmp_path))
    assert {r["metric"] for r in p["results"]} >= {"aov", "historical_clv", "nps", "ces"}


def test_duckdb_path_fetches_summaries_not_rows(tmp_path):
    from kpi_xl.data._catalog import RunOptions, run_metric, run_segments, specs_for

    rng = np.random.default_rng(1)
    rows = 60_000
    path = tmp_path / "big.csv"
    pd.DataFrame(
        {
            "customer_id": rng.integers(0, 500, rows),
            "date": (
                pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, rows), unit="D")
            ).strftime("%Y-%m-%d"),
            "amount": np.round(rng.gamma(2.0, 25.0, rows), 2),
            "nps": rng.integers(0, 11, rows),
            "channel": rng.choice(["web", "app", "store"], rows),
        }
    ).to_csv(path, index=False)
    run = RunOptions()
    survey = load_duckdb(path, ["nps_score", "date"], extra=["channel"])
    orders = load_duckdb(path, ["customer_id", "date", "amount"], extra=["channel"])
    for ds, names, per_group in ((survey, ["nps"], 12), (orders, ["aov", "purchase_frequency",
                                 "repeat_purchase_rate", "historical_clv"], 501)):  # fmt: skip
        for name in names:
            (spec,), _ = specs_for(ds, run, name)
            ds.fetched_rows = 0
            run_metric(ds, spec, run)
            # The total: one row per score (and blanks) or per customer (and blanks), never per order.
            assert ds.fetched_rows <= per_group, name
            ds.fetched_rows = 0
            table, _ = run_segments(ds, spec, run, by="channel", period="month")
            # 3 channels x 3 months, and the total.
            assert len(table) == 10
            assert ds.fetched_rows <= 10 * per_group, name
        # No row-level frame was built.
        assert ds._cache == {}


def test_clv_command_equal_on_both_paths(tmp_path, capsys):
    path = _orders_with_same_day_repeats(tmp_path)
    outs = []
    for engine in ("pandas", "duckdb"):
        target = tmp_path / f"clv_{engine}.csv"
        argv = ["clv", str(path), "--time-unit", "week", "--horizon", "12", "--margin", "0.3"]
        assert cli.main([*argv, "--engine", engine, "-o", str(target), "--format", "json"]) == 0
        outs.append((json.loads(capsys.readouterr().out), pd.read_csv(target)))
    (p_info, p_out), (d_info, d_out) = outs
    assert list(p_out["customer_id"]) == list(d_out["customer_id"])
    for col in p_out.columns.drop("customer_id"):
        np.testing.assert_allclose(d_out[col], p_out[col], rtol=1e-6, atol=1e-10, err_msg=col)
    assert json.dumps(p_info, sort_keys=True, default=str).count("log_likelihood") > 0


def test_clv_summary_from_duckdb_is_rfm_summary(tmp_path):
    from kpi_xl.data.aggregate import PURCHASE_KEYS, SPEND_KEYS
    from kpi_xl.data.backend import customer_predictions, rfm_backend
    from kpi_xl.metrics import rfm_summary

    path = _orders_with_same_day_repeats(tmp_path)
    for unit in ("day", "week", "month"):
        ds = load_duckdb(path, ["customer_id", "date", "amount"])
        summary = rfm_backend(ds, time_unit=unit, observation_end="1998-07-01")
        got = customer_predictions(ds, summary.per_customer)
        pandas_ds = load_dataset(path, ["customer_id", "date", "amount"])
        log = pandas_ds.rows_for(["customer_id", "date", "amount"])
        expected = with_customer_ids(
            pandas_ds,
            rfm_summary(
                log["customer_id"], log["date"], log["amount"], time_unit=unit, observation_end="1998-07-01"
            ),
        )
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
        assert summary.purchases.attrs == expected.attrs
        # The patterns are the summary's distinct (frequency, recency, T) and (frequency, spend)
        # rows, each with the customers on it, sorted.
        for patterns, keys in ((summary.purchases, PURCHASE_KEYS), (summary.spend, SPEND_KEYS)):
            counted = got.groupby(list(keys)).size().reset_index(name="weight")
            pd.testing.assert_frame_equal(patterns.reset_index(drop=True), counted, check_dtype=False)
            assert patterns["weight"].sum() == len(expected) > len(patterns)


@pytest.mark.parametrize("messy", [False, True])
def test_clv_ids_are_checked_on_the_customers_summarised(tmp_path, messy):
    # The id check runs on the distinct raw ids the RFM summary grouped, not on every row; ids to
    # strip or placeholders (messy) make the summary be counted again by the stripped id. Either
    # way it is the engine's rfm_summary on the pandas path's log, and the blank ids are listed.
    from kpi_xl.data.backend import customer_predictions, rfm_backend
    from kpi_xl.metrics import rfm_summary

    path = _orders_with_same_day_repeats(tmp_path)
    if messy:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        ids = frame["customer_id"].to_numpy(dtype=object)
        ids[::7] = [f" {c}\u00a0" for c in ids[::7]]
        ids[3::50] = "n/a"
        frame["customer_id"] = ids
        frame.to_csv(path, index=False)
    ds = load_duckdb(path, ["customer_id", "date", "amount"])
    summary = rfm_backend(ds, time_unit="week")
    j = ds.judged["customer_id"]
    assert j.checked and (j.cast == "strip") is messy and j.has_blank is messy
    assert ds._kept == (2 if messy else 1)
    got = customer_predictions(ds, summary.per_customer)
    pandas_ds = load_dataset(path, ["customer_id", "date", "amount"])
    log = pandas_ds.rows_for(["customer_id", "date", "amount"])
    log = log[log["customer_id"].notna()]
    expected = with_customer_ids(
        pandas_ds, rfm_summary(log["customer_id"], log["date"], log["amount"], time_unit="week")
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert not any(" " in c or c == "n/a" for c in got.index)
    blanks = ds.problems.summary(blanks=True)
    assert bool(blanks) is messy


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        # Rows missing some of customer, date and amount are all listed in one run (then left out;
        # here too little is left to fit the models).
        (
            ["K1,2025-01-01,5", ",2025-01-02,6", "K2,,7"],
            [],
            "tx.csv, row 3, column 'customer_id': (blank) is blank; the order is left out of CLV",
        ),
        (
            ["K1,2025-01-01,5", ",2025-01-02,6", "K2,,7"],
            [],
            "tx.csv, row 4, column 'date': (blank) is blank; the order is left out of CLV",
        ),
        (
            ["K1,2025-01-01,5", "K2,2025-01-02,n/a", "K2,,7"],
            [],
            "tx.csv, row 3, column 'amount': 'n/a' is a placeholder for no value; the order is left out",
        ),
        (["K1,2025-01-01,5", "K1,2025-03-02,6"], ["--observation-end", "2025-02-01"], "row 3, column 'date'"),
        ([",,", " , , "], [], "no transactions to summarise"),
    ],
)
def test_clv_errors_name_the_same_row_on_both_paths(tmp_path, capsys, lines, extra, message):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,amount\n" + "\n".join(lines) + "\n", encoding="utf-8")
    errors = []
    for engine in ("pandas", "duckdb"):
        argv = ["clv", str(path), "--time-unit", "week", "--horizon", "4", *extra, "--engine", engine]
        assert cli.main(argv) == 2
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1]
    assert message in errors[0]
