"""The ``kpi-xl`` command: report, metric, output formats, exit codes and help.

Expected values are worked out by hand next to the generated files in ``test_data_messy.py``, or
taken from the engine called directly on the same data (the CLI must add nothing to a number).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import test_data_messy as messy

from kpi_xl import cli
from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import average_order_value, historical_clv, purchase_frequency, repeat_purchase_rate


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def results(out: str) -> dict[str, dict]:
    return {r["metric"]: r for r in json.loads(out)["results"]}


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    tx = load_cdnow_transactions()
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    tx[["customer_id", "date", "amount", "cds"]].to_csv(path, index=False)
    return path, tx


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------


def test_report_on_cdnow_equals_the_engine(cdnow_csv, capsys):
    path, tx = cdnow_csv
    code, out, err = run(["report", path, "--format", "json"], capsys)
    assert code == 0 and err == ""
    got = results(out)
    assert set(got) == {"aov", "purchase_frequency", "repeat_purchase_rate", "historical_clv"}
    ids = tx["customer_id"].astype(str).to_numpy()
    expected = {
        "aov": average_order_value(tx["amount"]),
        "purchase_frequency": purchase_frequency(ids),
        "repeat_purchase_rate": repeat_purchase_rate(ids, tx["date"]),
        "historical_clv": historical_clv(ids, tx["amount"]),
    }
    for name, res in expected.items():
        assert got[name]["value"] == pytest.approx(res.value, rel=1e-12), name
        assert got[name]["n"] == res.n_used
        if res.ci_low is not None:
            assert got[name]["ci_low"] == pytest.approx(res.ci_low, rel=1e-12)
    # The CDNOW sample: 6,919 purchase records of 2,357 customers.
    assert got["purchase_frequency"]["value"] == pytest.approx(6919 / 2357)
    assert got["repeat_purchase_rate"]["n"] == 2357
    info = json.loads(out)["files"][0]
    assert info["columns"] == {"customer_id": "customer_id", "date": "date", "amount": "amount"}
    assert info["rows"] == 6919


def test_report_on_german_exports_hand_computed(tmp_path, capsys):
    orders = messy.write_orders_de(tmp_path)
    survey = messy.write_survey_de(tmp_path)
    code, out, err = run(["report", orders, survey, "--format", "json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    got = {(r["file"], r["metric"]): r for r in payload["results"]}
    assert got[("bestellungen.csv", "aov")]["value"] == pytest.approx(messy.ORDERS_DE_AOV)
    assert got[("bestellungen.csv", "aov")]["n"] == 7
    # 2 amounts skipped as invalid count as dropped.
    assert got[("bestellungen.csv", "aov")]["n_dropped"] == 2
    assert got[("bestellungen.csv", "aov")]["n_skipped_invalid"] == 2
    assert got[("bestellungen.csv", "purchase_frequency")]["value"] == pytest.approx(
        messy.ORDERS_DE_FREQUENCY
    )
    assert got[("bestellungen.csv", "repeat_purchase_rate")]["value"] == pytest.approx(messy.ORDERS_DE_REPEAT)
    assert got[("bestellungen.csv", "historical_clv")]["value"] == pytest.approx(messy.ORDERS_DE_HCLV)
    assert got[("umfrage.csv", "nps")]["value"] == pytest.approx(messy.SURVEY_DE_NPS)
    assert got[("umfrage.csv", "nps")]["n"] == 7 and got[("umfrage.csv", "nps")]["n_dropped"] == 3
    assert got[("umfrage.csv", "csat")]["value"] == pytest.approx(messy.SURVEY_DE_CSAT)
    assert got[("umfrage.csv", "satisfaction_mean")]["value"] == pytest.approx(messy.SURVEY_DE_SAT_MEAN)
    # Which column was used for what, and how the files were read.
    files = {f["file"]: f for f in payload["files"]}
    assert files["bestellungen.csv"]["columns"]["amount"] == "Betrag"
    assert "utf-8-sig" in files["bestellungen.csv"]["read"] and "cp1252" in files["umfrage.csv"]["read"]
    # Every skipped value with file, row, column, value and reason.
    rows = {(p["file"], p["row"], p["column"], p["value"]) for p in payload["skipped"]["rows"]}
    assert rows == {
        ("bestellungen.csv", 7, "Betrag", "abc"),
        ("bestellungen.csv", 10, "Betrag", "-5,00"),
        ("bestellungen.csv", 8, "Bestelldatum", "31.02.2025"),
        ("umfrage.csv", 9, "Weiterempfehlung", "11"),
        ("umfrage.csv", 10, "Zufriedenheit", "4,5"),
    }
    assert payload["skipped"]["total"] == 5


def test_report_table_is_readable_and_names_columns_and_skips(tmp_path, capsys):
    code, out, err = run(["report", messy.write_orders_de(tmp_path)], capsys)
    assert code == 0 and err == ""
    assert "customer id <- 'Kunden-ID' (recognised header)" in out
    assert "column 'Betrag': decimal comma (1.234,56)" in out
    line = next(x for x in out.splitlines() if x.startswith("aov"))
    assert "207.51" in line  # 1452.56 / 7
    assert "Skipped 3 value(s) that cannot be used:" in out
    assert "bestellungen.csv, row 7, column 'Betrag': 'abc' is not a number" in out


def test_report_csv_output_and_messages_on_stderr(tmp_path, capsys):
    code, out, err = run(["report", messy.write_survey_de(tmp_path), "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    nps = next(r for r in rows if r["metric"] == "nps")
    assert float(nps["value"]) == pytest.approx(messy.SURVEY_DE_NPS)
    assert nps["unit"] == "points" and nps["n"] == "7"
    # The CSV stays machine-readable: what was read and skipped goes to stderr.
    assert "Weiterempfehlung" in err and "row 9" in err


def test_report_service_churn_and_options(tmp_path, capsys):
    tickets = messy.write_tickets(tmp_path)
    customers = messy.write_customers(tmp_path)
    code, out, err = run(
        ["report", tickets, customers, "--sla-hours", "2", "--from", "2025-01-01", "--to", "2025-01-31",
         "--format", "json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    got = {r["metric"]: r for r in json.loads(out)["results"]}
    assert got["first_response_time"]["value"] == pytest.approx(messy.TICKETS_FRT_MEDIAN)
    assert got["resolution_time"]["value"] == pytest.approx(messy.TICKETS_RESOLUTION_MEDIAN)
    assert got["complaint_volume"]["value"] == messy.TICKETS_COMPLAINTS
    assert got["sla_rate"]["value"] == pytest.approx(messy.TICKETS_SLA_2H)
    assert got["churn"]["value"] == pytest.approx(messy.CUSTOMERS_CHURN_JAN)
    assert got["retention"]["value"] == pytest.approx(1 - messy.CUSTOMERS_CHURN_JAN)
    assert got["churn"]["options"]["period_start"] == "2025-01-01"
    # A customer list is not an order log: no purchase metrics from it.
    assert "purchase_frequency" not in got


def test_report_says_which_order_metrics_a_survey_file_does_not_give(tmp_path, capsys):
    # A survey export with an amount per answer: the report computes the survey's metrics and says
    # which order metrics it left out and why; `kpi-xl metric aov` computes one on request.
    path = tmp_path / "answers.csv"
    path.write_text("Kunde;Datum;Betrag;Empfehlung\nK1;01.02.2026;10,50;9\nK2;02.02.2026;20,00;3\n")
    maps = ["--map", "customer_id=Kunde", "--map", "date=Datum", "--map", "amount=Betrag"]
    code, out, _ = run(["report", str(path), *maps, "--map", "nps_score=Empfehlung"], capsys)
    assert code == 0
    assert "answers.csv: aov, " in out and "not computed: the file holds survey answers" in out
    code, out, _ = run(["metric", "aov", str(path), *maps, "--format", "json"], capsys)
    assert code == 0
    assert results(out)["aov"]["value"] == pytest.approx((10.5 + 20.0) / 2)


def test_report_says_what_needs_an_option(tmp_path, capsys):
    code, out, _ = run(["report", messy.write_tickets(tmp_path)], capsys)
    assert code == 0
    assert "sla_rate not computed; it needs --sla-hours" in out


def test_report_default_churn_period_is_the_last_twelve_months(tmp_path, capsys):
    code, out, _ = run(["report", messy.write_customers(tmp_path), "--format", "json"], capsys)
    assert code == 0
    churn = results(out)["churn"]
    # The latest date in the file is 2025-01-20: the period is 2024-01-21 .. 2025-01-20.
    assert churn["options"] == {"period_start": "2024-01-21", "period_end": "2025-01-20", "confidence": 0.95,
                                "min_n": 30}  # fmt: skip


def test_problem_file_lists_every_skipped_value(tmp_path, capsys):
    target = tmp_path / "problems.csv"
    code, _, _ = run(["report", messy.write_orders_de(tmp_path), "--problems", target], capsys)
    assert code == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert {(r["row"], r["column"], r["value"]) for r in rows} == {
        ("7", "Betrag", "abc"),
        ("10", "Betrag", "-5,00"),
        ("8", "Bestelldatum", "31.02.2025"),
    }
    assert all(r["file"] == "bestellungen.csv" and r["reason"] for r in rows)


def test_output_file(tmp_path, capsys):
    target = tmp_path / "out.json"
    code, out, _ = run(["report", messy.write_survey_de(tmp_path), "--format", "json", "-o", target], capsys)
    assert code == 0 and out == ""
    assert results(target.read_text(encoding="utf-8"))["nps"]["value"] == pytest.approx(messy.SURVEY_DE_NPS)


# ----------------------------------------------------------------------------------------------
# metric
# ----------------------------------------------------------------------------------------------


def _groups(out: str) -> dict[str, dict]:
    return {g["group"]: g for g in json.loads(out)["groups"]}


def test_metric_by_segment(tmp_path, capsys):
    path = messy.write_orders_de(tmp_path)
    code, out, err = run(["metric", "aov", path, "--by", "Kanal", "--format", "json"], capsys)
    assert code == 0, err
    got = _groups(out)
    for group, value in messy.ORDERS_DE_AOV_BY_CHANNEL.items():
        assert got[group]["value"] == pytest.approx(value), group
    assert got["Online"]["small_sample"] is True  # n = 3 < 30, flagged, still shown


def test_metric_by_month_puts_rows_without_a_usable_date_in_no_month(tmp_path, capsys):
    path = messy.write_orders_de(tmp_path)
    code, out, err = run(["metric", "aov", path, "--period", "month", "--format", "json"], capsys)
    assert code == 0, err
    got = _groups(out)
    assert set(got) == set(messy.ORDERS_DE_AOV_BY_MONTH)
    for group, value in messy.ORDERS_DE_AOV_BY_MONTH.items():
        assert got[group]["value"] == pytest.approx(value), group


def test_metric_nps_by_region_with_umlauts(tmp_path, capsys):
    path = messy.write_survey_de(tmp_path)
    code, out, err = run(["metric", "nps", path, "--by", "region", "--format", "json"], capsys)
    assert code == 0, err
    got = _groups(out)
    for group, value in messy.SURVEY_DE_NPS_BY_REGION.items():
        assert got[group]["value"] == pytest.approx(value), group


def test_metric_single_value_table(tmp_path, capsys):
    code, out, _ = run(["metric", "nps", messy.write_survey_de(tmp_path)], capsys)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("nps"))
    assert "+28.6" in line  # 100 * 2 / 7


def test_metric_by_segment_csv(tmp_path, capsys):
    argv = ["metric", "csat", messy.write_survey_de(tmp_path), "--by", "Region", "--format", "csv"]
    code, out, err = run(argv, capsys)
    assert code == 0
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(out))}
    # CSAT by region (row 10 skipped: 4,5 is not a whole score). Nord rows 2,4,6,9,11: 5,3,1,5,4
    # -> 3 of 5; Süd rows 3,5,7,8: 4,2,5,4 -> 3 of 4.
    assert float(rows["Nord"]["value"]) == pytest.approx(3 / 5)
    assert float(rows["Süd"]["value"]) == pytest.approx(3 / 4)
    # The skipped row stays in its group's dropped (row 10 is Süd), so the groups add up to the Total.
    assert "1 row(s) with an unusable value are counted in their group's dropped" in err
    assert int(rows["Süd"]["n_dropped"]) == 1 and int(rows["Total"]["n_dropped"]) == 1


# ----------------------------------------------------------------------------------------------
# Errors: exit code 2, the message on stderr, no traceback
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "nothere.csv"], "nothere.csv: file not found"),
        (["metric", "nsp", "{orders}"], "unknown metric 'nsp'; choose one of: nps, csat"),
        (["metric", "nps", "{orders}"], "nps needs columns for (nps_score)"),
        (["report", "{orders}", "--map", "amount=Umsatz"], "no column 'Umsatz' (given for amount)"),
        (["metric", "aov", "{orders}", "--by", "Land"], "no column 'Land'"),
        (["report", "{orders}", "--strict"], "3 value(s) cannot be used (--strict)"),
        (["metric", "sla_rate", "{tickets}"], "sla_rate needs --sla-hours"),
        (["report", "{orders}", "--confidence", "95"], "--confidence must be between 0 and 1"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, argv, message):
    files = {
        "{orders}": str(messy.write_orders_de(tmp_path)),
        "{tickets}": str(messy.write_tickets(tmp_path)),
    }
    code, out, err = run([files.get(a, a) for a in argv], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_engine_error_names_the_file_row_and_column(tmp_path, capsys):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "created,first_reply_at\n2025-01-01 09:00,2025-01-01 10:00\n2025-01-01 10:00,2025-01-01 08:00\n",
        encoding="utf-8",
    )
    code, _, err = run(["metric", "first_response_time", path], capsys)
    assert code == 2
    # The reply comes before the ticket was created, in the file's row 3.
    assert "tickets.csv, row 3, column 'first_reply_at'" in err


def test_argument_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["clv", "x.csv", "--horizon", "12"])  # --time-unit is required
    assert info.value.code == 2
    assert "--time-unit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["report", "x.csv", "--csat-scale", "5-1"])
    assert info.value.code == 2


@pytest.mark.parametrize("command", ["report", "metric", "clv", "template", "refresh"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"kpi-xl {command}" in out


def test_metric_help_lists_every_metric(capsys):
    with pytest.raises(SystemExit):
        cli.main(["metric", "--help"])
    out = capsys.readouterr().out
    for name in (
        "nps",
        "csat",
        "ces",
        "aov",
        "repeat_purchase_rate",
        "first_response_time",
        "churn",
        "engagement_rate",
    ):
        assert name in out


def test_console_script_runs_and_is_quiet_off_a_terminal(tmp_path):
    path = messy.write_survey_de(tmp_path)
    exe = Path(sys.executable).with_name("kpi-xl")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "kpi_xl.cli"]
    done = subprocess.run(
        [*argv, "report", str(path), "--format", "csv"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    # No progress bar or escape codes when stderr is not a terminal.
    assert "\x1b[" not in done.stderr and "━" not in done.stderr
    bad = subprocess.run(
        [*argv, "report", str(tmp_path / "none.csv")], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "file not found" in bad.stderr and "Traceback" not in bad.stderr


def test_progress_display_runs_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_progress_wanted", lambda args: True)
    code, out, _ = run(["report", messy.write_orders_de(tmp_path), "--format", "json"], capsys)
    assert code == 0
    assert results(out)["aov"]["value"] == pytest.approx(messy.ORDERS_DE_AOV)


def test_metric_on_cdnow_by_month_equals_the_engines_segment_table(cdnow_csv, capsys):
    from kpi_xl.metrics import segment_table

    path, tx = cdnow_csv
    code, out, err = run(["metric", "aov", path, "--period", "month", "--format", "json"], capsys)
    assert code == 0, err
    got = _groups(out)
    expected = segment_table(tx, "aov", columns="amount", period="month", date="date")
    assert len(got) == len(expected) == 19  # January 1997 to June 1998, and the total
    for row in expected.itertuples():
        assert got[row.group]["value"] == pytest.approx(row.value, rel=1e-12), row.group
        assert got[row.group]["n"] == row.n


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_report_on_cdnow_as_excel_and_parquet_equals_csv(cdnow_csv, capsys, tmp_path, suffix):
    path, tx = cdnow_csv
    other = tmp_path / f"cdnow{suffix}"
    frame = tx[["customer_id", "date", "amount"]]
    if suffix == ".xlsx":
        frame.to_excel(other, index=False, engine="openpyxl")
    else:
        frame.to_parquet(other)
    want = results(run(["report", path, "--format", "json"], capsys)[1])
    code, out, err = run(["report", other, "--format", "json"], capsys)
    assert code == 0, err
    got = results(out)
    assert set(got) == set(want)
    for name in want:
        for key in ("value", "n", "n_dropped", "ci_low", "ci_high"):
            expected = want[name][key]
            assert got[name][key] == (expected if expected is None else pytest.approx(expected, rel=1e-12))


def test_metric_reads_a_generic_score_column_as_the_score_it_asks_for(tmp_path, capsys):
    # "Bewertung" (rating) says nothing about which survey it is; asked for NPS, it is the NPS answer.
    path = tmp_path / "umfrage.csv"
    path.write_bytes(
        "Kunden-ID;Datum;Bewertung;Region\nK1;31.12.2025;10;Nord\nK2;30.12.2025;9;Nord\n"
        "K3;29.12.2025;zehn;Süd\nK4;28.12.2025;3;Süd\nK6;15.11.2025;7;Nord\n".encode("utf-8-sig")
    )
    code, out, err = run(["metric", "nps", path, "--by", "Region", "--format", "json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["columns"]["nps_score"] == "Bewertung"
    got = _groups(out)
    # Nord: 10, 9, 7 -> 100 * (2 - 0) / 3; Süd: 3 -> -100 ('zehn' skipped and reported).
    assert got["Nord"]["value"] == pytest.approx(200 / 3)
    assert got["Süd"]["value"] == pytest.approx(-100.0)
    assert got["Süd"]["ci_low"] <= -100.0 <= got["Süd"]["ci_high"]
    assert "zehn" in err or "zehn" in out


# ----------------------------------------------------------------------------------------------
# One meaning of -o and --format; the same numbers in every command; every value left out listed
# ----------------------------------------------------------------------------------------------

ORDERS_WITH_GAPS = [
    "Kunden-ID;Datum;Betrag",  # row 1
    "K1;01.01.2025;10,00",  # row 2
    "K1;01.02.2025;",  # row 3: blank amount
    "K2;03.01.2025;n/a",  # row 4: placeholder amount
    ";04.01.2025;5,00",  # row 5: blank customer id
    "K2;05.02.2025;abc",  # row 6: not a number
    "K3;06.01.2025;7,50",  # row 7
]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_report_lists_every_value_left_out(tmp_path, capsys, engine):
    path = tmp_path / "bestellungen.csv"
    path.write_text("\n".join(ORDERS_WITH_GAPS) + "\n", encoding="utf-8")
    code, out, err = run(["report", path, "--format", "json", "--engine", engine], capsys)
    assert code == 0, err
    payload = json.loads(out)
    skipped = {(p["row"], p["column"], p["verdict"]) for p in payload["skipped"]["rows"]}
    blank = {(p["row"], p["column"], p["verdict"]) for p in payload["blank"]["rows"]}
    assert skipped == {(6, "Betrag", "invalid")}
    assert blank == {(3, "Betrag", "blank"), (4, "Betrag", "placeholder"), (5, "Kunden-ID", "blank")}
    # AOV: 10, 5, 7.5 (rows 2, 5, 7); dropped: rows 3, 4 (blank, n/a) and 6 (invalid).
    aov = results(out)["aov"]
    assert (aov["value"], aov["n"], aov["n_dropped"]) == (pytest.approx(22.5 / 3), 3, 3)


def test_the_total_of_a_segment_table_is_the_whole_file_metric(tmp_path, capsys):
    survey = messy.write_survey_de(tmp_path)
    orders = messy.write_orders_de(tmp_path)
    for path, name, argv in (
        (survey, "nps", ["--by", "Region"]),
        (survey, "csat", ["--period", "month"]),
        (orders, "aov", ["--period", "month"]),
        (orders, "aov", ["--by", "Kanal"]),
        (orders, "repeat_purchase_rate", ["--by", "Kanal"]),
    ):
        for engine in ("pandas", "duckdb"):
            _, out, _ = run(["metric", name, path, "--format", "json", "--engine", engine], capsys)
            whole = results(out)[name]
            _, out, _ = run(["metric", name, path, *argv, "--format", "json", "--engine", engine], capsys)
            groups = _groups(out)
            total = groups.pop("Total")
            assert (total["value"], total["n"], total["n_dropped"]) == (
                pytest.approx(whole["value"]),
                whole["n"],
                whole["n_dropped"],
            ), (name, argv, engine)
            if name != "repeat_purchase_rate":  # customers can be in several segments
                assert (
                    sum(g["n"] + g["n_dropped"] for g in groups.values()) == total["n"] + total["n_dropped"]
                )


def test_output_file_is_written_in_the_format_its_extension_names(tmp_path, capsys):
    path = messy.write_survey_de(tmp_path)
    code, out, err = run(["metric", "nps", path, "-o", tmp_path / "nps.json"], capsys)
    assert code == 0 and out == ""
    value = results((tmp_path / "nps.json").read_text(encoding="utf-8"))["nps"]["value"]
    assert value == pytest.approx(messy.SURVEY_DE_NPS)
    code, _, err = run(["report", path, "-o", tmp_path / "report.xlsx"], capsys)
    assert code == 0, err
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(tmp_path / "report.xlsx"))
    assert book.sheet_names == ["results", "left out", "read"]
    rows = book.get_sheet_by_name("results").to_python()
    nps = next(r for r in rows if r[2] == "nps")
    assert nps[3] == pytest.approx(messy.SURVEY_DE_NPS)
    left_out = book.get_sheet_by_name("left out").to_python()
    assert {(r[1], r[5]) for r in left_out[1:] if r[2] == "Weiterempfehlung"} == {
        (9, "invalid"),
        (8, "blank"),
        (11, "placeholder"),
    }
    code, _, _ = run(["metric", "nps", path, "--by", "Region", "-o", tmp_path / "by.csv"], capsys)
    assert code == 0
    assert list(csv.DictReader(io.StringIO((tmp_path / "by.csv").read_text(encoding="utf-8"))))[0]["group"]
    for argv, message in (
        (["-o", tmp_path / "nps.md"], "name the file .txt (table), .json, .csv or .xlsx"),
        (["--format", "json", "-o", tmp_path / "nps.csv"], "--format json but -o 'nps.csv' names csv"),
        (["--format", "xlsx"], "--format xlsx writes a file: give it with -o FILE.xlsx"),
    ):
        code, _, err = run(["metric", "nps", path, *argv], capsys)
        assert code == 2 and message in err
    assert not (tmp_path / "nps.md").exists()


def _survey_and_orders_workbook(path: Path) -> Path:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Umfrage"
    ws.append(["Datum", "Bewertung", "Segment"])
    for i, score in enumerate([10, 9, 3, 7, 0, 8, 11]):  # row 8: 11 is off the 0-10 scale
        ws.append([dt.datetime(2025, 3, i + 1), score, "Nord"])
    orders = wb.create_sheet("Bestellungen")
    orders.append(["Kunden-ID", "Datum", "Betrag"])
    orders.append(["K1", dt.datetime(2025, 1, 1), 10.5])
    orders.append(["K2", dt.datetime(2025, 1, 2), None])  # row 3: blank amount
    notes = wb.create_sheet("Notizen")
    notes.append(["Hallo", "Welt"])
    notes.append(["a", "b"])
    wb.save(path)
    return path


def test_report_reads_every_sheet_and_a_generic_score_header(tmp_path, capsys):
    path = _survey_and_orders_workbook(tmp_path / "export.xlsx")
    code, out, err = run(["report", path, "--format", "json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    files = {f["file"]: f for f in payload["files"]}
    assert set(files) == {"export.xlsx [Umfrage]", "export.xlsx [Bestellungen]"}
    # "Bewertung" holds 0-10 answers: report reads it as the NPS question, as `metric nps` does.
    assert files["export.xlsx [Umfrage]"]["columns"]["nps_score"] == "Bewertung"
    assert "read as NPS" in files["export.xlsx [Umfrage]"]["how"]["nps_score"]
    got = {(r["file"], r["metric"]): r for r in payload["results"]}
    nps = got[("export.xlsx [Umfrage]", "nps")]
    # 10, 9 promoters; 3, 0 detractors; 7, 8 passives: 0 of 6; the 11 skipped.
    assert (nps["value"], nps["n"], nps["n_dropped"]) == (0.0, 6, 1)
    _, out_metric, _ = run(["metric", "nps", path, "--format", "json"], capsys)
    assert results(out_metric)["nps"]["value"] == nps["value"]
    assert got[("export.xlsx [Bestellungen]", "aov")]["value"] == 10.5
    assert "export.xlsx: sheet 'Notizen' not read: no column kpi-xl recognises" in payload["notes"]
    assert {(p["file"], p["row"]) for p in payload["skipped"]["rows"]} == {("export.xlsx [Umfrage]", 8)}
    assert {(p["file"], p["row"]) for p in payload["blank"]["rows"]} == {("export.xlsx [Bestellungen]", 3)}
    # One metric reads the first sheet and names the others.
    code, out, _ = run(["metric", "nps", path], capsys)
    assert "not read: 'Bestellungen', 'Notizen' (--sheet NAME)" in out
