"""``kpi-xl clv`` on CDNOW and a German export, and the wiring of ``template`` / ``refresh`` to the
workbook layer (with stand-ins, and end to end with the real functions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_data_messy as messy

import kpi_xl.workbook
from kpi_xl import cli
from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import predict_clv


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    tx = load_cdnow_transactions()
    path = tmp_path_factory.mktemp("clv") / "cdnow.csv"
    tx[["customer_id", "date", "amount"]].to_csv(path, index=False)
    direct = predict_clv(
        tx["customer_id"].astype(str), tx["date"], tx["amount"], time_unit="week", horizon=12
    )
    return path, direct


def test_clv_prints_parameters_with_standard_errors_and_log_likelihood(cdnow, capsys, tmp_path):
    path, direct = cdnow
    target = tmp_path / "clv.csv"
    argv = ["clv", path, "--customer", "customer_id", "--date", "date", "--amount", "amount",
            "--time-unit", "week", "--horizon", "12", "-o", target]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    bg = direct.purchase_model.as_dict()
    line = next(x for x in out.splitlines() if x.startswith("BG/NBD") and " r " in x)
    assert f"{bg['r']:.4g}" in line and f"{bg['se_r']:.3g}" in line
    assert (
        f"BG/NBD log-likelihood {bg['log_likelihood']:.2f} (natural log, recency and T in weeks) "
        "on 2,357 customers (converged)"
    ) in out
    # Each parameter says its unit: alpha is a time scale, r a shape.
    alpha_line = next(x for x in out.splitlines() if x.startswith("BG/NBD") and " alpha " in x)
    assert alpha_line.rstrip().endswith("weeks") and line.rstrip().endswith("none (shape)")
    gg = direct.spend_model.as_dict()
    assert f"Gamma-Gamma log-likelihood {gg['log_likelihood']:.2f}" in out
    assert f"Per-customer predictions written to {target}" in out
    written = pd.read_csv(target, dtype={"customer_id": str}).set_index("customer_id")
    assert len(written) == 2357
    # The CLI hands the engine customer codes, so customers reach the optimiser in another order; its
    # fit stops within its tolerance, which moves the 7th significant digit, not more.
    np.testing.assert_allclose(written["clv"], direct.customers.loc[written.index, "clv"], rtol=1e-6)
    np.testing.assert_allclose(
        written["probability_alive"], direct.customers.loc[written.index, "probability_alive"], rtol=1e-6
    )
    assert list(written.index) == list(direct.customers.index)  # sorted by id, as the engine sorts text ids


def test_clv_json_and_xlsx(cdnow, capsys, tmp_path):
    path, direct = cdnow
    target = tmp_path / "clv.xlsx"
    argv = ["clv", path, "--time-unit", "week", "--horizon", "12", "-o", target, "--format", "json"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)
    params = {(p["model"], p["parameter"]): p for p in payload["parameters"]}
    assert params[("BG/NBD", "alpha")]["estimate"] == pytest.approx(
        direct.purchase_model.params_["alpha"], rel=1e-6
    )
    assert params[("Gamma-Gamma", "q")]["se"] == pytest.approx(
        direct.spend_model.standard_errors_["q"], rel=1e-5
    )
    assert payload["summary"]["clv_total"] == pytest.approx(direct.customers["clv"].sum(), rel=1e-6)
    assert payload["columns"] == {"customer_id": "customer_id", "date": "date", "amount": "amount"}
    # The xlsx is read back with the same fast reader users' files go through.
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("CLV").to_python()
    assert rows[0][0] == "customer_id" and rows[0][-1] == "clv" and len(rows) == 2358


def test_clv_on_a_german_export_with_bad_rows(tmp_path, capsys):
    # The CDNOW sample written the German way, plus two unusable rows.
    tx = load_cdnow_transactions()
    lines = ["Kunden-ID;Datum;Betrag"]
    for c, d, a in zip(tx.customer_id, tx.date, tx.amount, strict=True):
        lines.append(f"{c};{d:%d.%m.%Y};" + f"{a:.2f}".replace(".", ","))
    lines += ["9999;31.06.1998;10,00", "9998;01.06.1998;zehn"]  # rows 6921 and 6922
    path = tmp_path / "bestellungen.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    code, out, err = run(["clv", path, "--time-unit", "week", "--horizon", "12", "--format", "json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    direct = predict_clv(
        tx["customer_id"].astype(str), tx["date"], tx["amount"], time_unit="week", horizon=12
    )
    assert payload["summary"]["customers"] == 2357
    assert payload["summary"]["clv_total"] == pytest.approx(direct.customers["clv"].sum(), rel=1e-6)
    assert {(p["row"], p["value"]) for p in payload["skipped"]["rows"]} == {
        (6921, "31.06.1998"),
        (6922, "zehn"),
    }


def test_clv_errors_exit_2(cdnow, tmp_path, capsys):
    path, _ = cdnow
    code, _, err = run(
        ["clv", path, "--time-unit", "week", "--horizon", "12", "-o", tmp_path / "x.txt"], capsys
    )
    assert code == 2 and "predictions go to a .csv or .xlsx file" in err
    code, _, err = run(["clv", path, "--time-unit", "week", "--horizon", "10", "--step", "4"], capsys)
    assert code == 2 and "not a whole number of steps" in err
    argv = ["clv", path, "--time-unit", "week", "--horizon", "12", "--observation-end", "1998-01-01"]
    code, _, err = run(argv, capsys)
    # A purchase after the observation end: the engine names it, the CLI names the file row.
    assert code == 2 and "cdnow.csv, row" in err and "after observation_end" in err
    survey = messy.write_survey_de(tmp_path)
    code, _, err = run(["clv", survey, "--time-unit", "week", "--horizon", "12"], capsys)
    assert code == 2 and "--customer COLUMN" in err and "--amount COLUMN" in err


# ----------------------------------------------------------------------------------------------
# template / refresh wiring
# ----------------------------------------------------------------------------------------------


class _Report:
    def summary(self):
        return "refreshed stand-in"

    def as_dict(self):
        return {"rows_read": {"Orders": 3}}


def test_template_and_refresh_call_the_workbook_functions(tmp_path, capsys, monkeypatch):
    calls = []

    def build(path, *, lang, empty, overwrite):
        calls.append(("build", Path(path), lang, empty, overwrite))
        return Path(path)

    def refresh(path, *, predict):
        calls.append(("refresh", Path(path), predict))
        return _Report()

    monkeypatch.setattr(kpi_xl.workbook, "build_template", build)
    monkeypatch.setattr(kpi_xl.workbook, "refresh_workbook", refresh)
    book = tmp_path / "Bericht.xlsm"
    assert run(["template", "-o", book, "--lang", "de", "--empty", "--force"], capsys)[0] == 0
    code, out, _ = run(["refresh", book, "--no-predict"], capsys)
    assert code == 0 and out.strip() == "refreshed stand-in"
    code, out, _ = run(["refresh", book, "--format", "json"], capsys)
    assert json.loads(out) == {"rows_read": {"Orders": 3}}
    assert calls == [
        ("build", book, "de", True, True),
        ("refresh", book, False),
        ("refresh", book, True),
    ]
    monkeypatch.chdir(tmp_path)
    run(["template"], capsys)
    assert calls[-1] == ("build", Path(kpi_xl.workbook.DEFAULT_TEMPLATE_NAME), "en", False, False)


def test_template_then_refresh_end_to_end(tmp_path, capsys):
    book = tmp_path / "kpi.xlsx"
    code, out, err = run(["template", "-o", book], capsys)
    assert code == 0, err
    assert book.exists() and out.startswith(f"wrote {book}")
    code, out, err = run(["refresh", book, "--no-predict"], capsys)
    assert code == 0, err
    assert out.startswith("refreshed kpi.xlsx")
    # A second template over the same file needs --force; the workbook layer says so (exit 2).
    code, _, err = run(["template", "-o", book], capsys)
    assert code == 2 and "--force" in err and "Traceback" not in err


def test_refresh_errors_exit_2(tmp_path, capsys):
    code, _, err = run(["refresh", tmp_path / "missing.xlsm"], capsys)
    assert code == 2 and "missing.xlsm" in err
    code, _, err = run(["refresh", messy.write_orders_de(tmp_path)], capsys)
    assert code == 2 and ".xlsx and .xlsm" in err
    code, _, err = run(["template", "-o", tmp_path / "x.xlsx", "--lang", "fr"], capsys)
    assert code == 2 and "fr" in err


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_clv_lists_every_blank_cell_of_a_partial_row_in_one_run(tmp_path, capsys, engine):
    # The CDNOW sample plus three order rows missing one value each: a blank amount, an amount
    # "n/a" and a blank customer id. One run lists all three (a placeholder is called one), leaves
    # the rows out, and predicts from the rest exactly as from the sample alone.
    tx = load_cdnow_transactions()
    lines = ["Kunden-ID;Datum;Betrag"]
    for c, d, a in zip(tx.customer_id, tx.date, tx.amount, strict=True):
        lines.append(f"{c};{d:%d.%m.%Y};" + f"{a:.2f}".replace(".", ","))
    n = len(lines)
    lines += ["1;01.06.1997;", "2;02.06.1997;n/a", ";03.06.1997;10,00"]  # rows n+1 .. n+3
    path = tmp_path / "bestellungen.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["clv", path, "--time-unit", "week", "--horizon", "12", "--format", "json", "--engine", engine]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)
    got = {(p["row"], p["column"], p["verdict"]) for p in payload["blank"]["rows"]}
    assert got == {
        (n + 1, "Betrag", "blank"),
        (n + 2, "Betrag", "placeholder"),
        (n + 3, "Kunden-ID", "blank"),
    }
    assert payload["skipped"]["total"] == 0
    direct = predict_clv(
        tx["customer_id"].astype(str), tx["date"], tx["amount"], time_unit="week", horizon=12
    )
    assert payload["summary"]["clv_total"] == pytest.approx(direct.customers["clv"].sum(), rel=1e-6)
