"""``kpi-xl clv --holdout-start``, ``--model``, ``--interval`` and ``kpi-xl retention``: the command
line prints what the engine computes (the engine's own figures are tested against lifetimes and
the papers in test_clv_holdout.py and test_clv_family.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kpi_xl import cli
from kpi_xl.datasets import load_cdnow_transactions
from kpi_xl.metrics import ShiftedBetaGeoFitter, clv_holdout, predict_clv


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    tx = load_cdnow_transactions()
    path = tmp_path_factory.mktemp("clv") / "cdnow.csv"
    tx[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return path, tx


@pytest.fixture(scope="module")
def engine_report(cdnow):
    _, tx = cdnow
    return clv_holdout(tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week")


def test_holdout_json_is_the_engine_report(cdnow, engine_report, capsys, tmp_path):
    path, _ = cdnow
    target = tmp_path / "holdout.csv"
    argv = ["clv", path, "--time-unit", "week", "--horizon", "12", "--holdout-start", "1997-10-01",
            "--format", "json", "-o", target]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["holdout_length"] == 39 and payload["calibration_end"] == "1997-09-30"
    got = pd.DataFrame(payload["comparison"]).set_index("model")
    pd.testing.assert_frame_equal(got, engine_report.comparison, check_exact=False, rtol=1e-6)
    assert payload["recommended"] == engine_report.recommended
    assert len(payload["tracking"]) == 78 and payload["tracking"][-1]["actual"] == 4339
    written = pd.read_csv(target).set_index("customer_id")
    assert len(written) == 2357 and written["frequency_holdout"].sum() == 1882


def test_holdout_table_says_units_and_why(cdnow, capsys):
    path, _ = cdnow
    code, out, err = run(
        ["clv", path, "--time-unit", "week", "--horizon", "12", "--holdout-start", "1997-10-01"], capsys
    )
    assert code == 0, err
    assert "holdout to 1998-06-30 (39 weeks)" in out
    assert "recommended: " in out
    assert "recency and T in weeks" in out and "7+" in out and "78*" in out


def test_clv_with_model_and_interval(cdnow, capsys):
    path, _ = cdnow
    argv = ["clv", path, "--time-unit", "month", "--horizon", "6", "--model", "mbg/nbd", "--interval", "0.8",
            "--format", "json"]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert {p["model"] for p in payload["parameters"]} == {"MBG/NBD", "Gamma-Gamma"}
    low, high = payload["summary"]["clv_total_interval"]
    assert low < payload["summary"]["clv_total"] < high
    assert payload["summary"]["interval_level"] == 0.8 and "Krinsky" in payload["summary"]["interval_method"]
    assert payload["settings"]["model"] == "mbg/nbd"


def test_clv_schedule(cdnow, capsys):
    path, tx = cdnow
    argv = ["clv", path, "--time-unit", "month", "--horizon", "3", "--discount-rate", "0.01", "--schedule",
            "--format", "json"]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)
    steps = payload["schedule"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert steps[-1]["cumulative_discounted_value"] == pytest.approx(
        payload["summary"]["clv_total"], rel=1e-9
    )
    code, out, err = run(argv[:-2], capsys)
    assert code == 0 and "CLV schedule, all customers" in out and "end (months)" in out


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    """CDNOW with a region per customer: two spellings of North, a blank and a small segment."""
    tx = load_cdnow_transactions()
    ids = tx["customer_id"]
    tx["region"] = np.where(ids % 3 == 0, "North", np.where(ids % 3 == 1, " north ", "South"))
    tx.loc[ids % 97 == 5, "region"] = "Tiny"
    tx.loc[ids % 50 == 7, "region"] = ""
    path = tmp_path_factory.mktemp("clv") / "regions.csv"
    tx[["customer_id", "date", "amount", "region"]].to_csv(path, index=False)
    return path, tx


def test_clv_by_segment_fits_each_segment_alone(regions, capsys, tmp_path):
    path, tx = regions
    target = tmp_path / "by.csv"
    argv = ["clv", path, "--time-unit", "week", "--horizon", "12", "--by", "REGION", "--interval", "0.9",
            "--format", "json", "-o", target]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    got = pd.DataFrame(json.loads(out)["segments"]).set_index("segment")
    # Labels grouped trimmed and case-insensitively; blanks are their own group; all customers counted.
    # (" north " is on more orders than "North": the group shows the trimmed spelling of the most rows.)
    assert set(got.index) == {"north", "South", "Tiny", "(blank)"}
    assert got["customers"].sum() == tx["customer_id"].nunique()
    assert bool(got.loc["Tiny", "small"]) and not bool(got.loc["north", "small"])
    # Independent figure: South fitted on South's orders alone.
    south = tx[tx["region"] == "South"]
    alone = predict_clv(south["customer_id"], south["date"], south["amount"], time_unit="week", horizon=12,
                        interval=0.9)  # fmt: skip
    assert got.loc["South", "clv_total"] == pytest.approx(alone.customers["clv"].sum(), rel=1e-6)
    assert (got.loc["South", "clv_total_low"], got.loc["South", "clv_total_high"]) == pytest.approx(
        alone.total_interval, rel=1e-6
    )
    assert (
        got.loc["South", "clv_total_low"] < got.loc["South", "clv_total"] < got.loc["South", "clv_total_high"]
    )
    written = pd.read_csv(target).set_index("customer_id")
    assert set(written["segment"]) <= set(got.index) and "clv_low" in written
    assert written.loc[alone.customers.index, "clv"].to_numpy() == pytest.approx(
        alone.customers["clv"].to_numpy(), rel=1e-6
    )
    code, out, err = run(argv[:-4] + ["--schedule"], capsys)
    assert code == 0, err
    assert "each segment fitted on its own" in out and "90% interval" in out and "Krinsky" in out
    assert "Tiny: not fitted: " in out and "Discounted CLV per step (weeks) by segment" in out


def test_clv_schedule_of_a_customer_and_of_a_segment(regions, capsys):
    path, tx = regions
    base = ["clv", path, "--time-unit", "week", "--horizon", "12", "--format", "json"]
    code, out, err = run(base + ["--schedule-customer", "7"], capsys)
    assert code == 0, err
    steps = pd.DataFrame(json.loads(out)["schedule"])
    pooled = predict_clv(tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=12)
    assert steps["discounted_value"].sum() == pytest.approx(pooled.customers.loc[7, "clv"], rel=1e-9)
    code, out, err = run(base + ["--by", "region", "--schedule-segment", "SOUTH"], capsys)
    assert code == 0, err
    south = tx[tx["region"] == "South"]
    alone = predict_clv(south["customer_id"], south["date"], south["amount"], time_unit="week", horizon=12)
    steps = pd.DataFrame(json.loads(out)["schedule"])
    assert steps["cumulative_discounted_value"].iloc[-1] == pytest.approx(
        alone.customers["clv"].sum(), rel=1e-6
    )
    code, out, err = run(base[:-2] + ["--by", "region", "--schedule-customer", "2"], capsys)
    assert code == 0, err
    assert "CLV schedule, customer 2" in out
    assert f"{alone.customers.loc[2, 'clv']:,.2f}" in out.split("CLV schedule, customer 2")[1]
    code, _, err = run(base + ["--schedule-segment", "South"], capsys)
    assert code == 2 and "--schedule-segment NAME needs --by COLUMN" in err
    code, _, err = run(base + ["--by", "region", "--schedule-segment", "tiny"], capsys)
    assert code == 2 and "segment 'Tiny' has no CLV: not fitted" in err
    code, _, err = run(base + ["--schedule-customer", "no-such"], capsys)
    assert code == 2 and "customer 'no-such' is not in the prediction" in err


def test_retention_command(capsys):
    survivors = [1000, 631, 468, 382, 326, 289, 262, 241]
    code, out, err = run(
        ["retention", *survivors, "--margin", "100", "--discount-rate", "0.1", "--format", "json"], capsys
    )
    assert code == 0, err
    payload = json.loads(out)
    sbg = ShiftedBetaGeoFitter().fit(survivors)
    params = {p["parameter"]: p["estimate"] for p in payload["parameters"]}
    assert params == pytest.approx(sbg.params_.to_dict(), rel=1e-9)
    assert [round(params["alpha"], 3), round(params["beta"], 3)] == [0.704, 1.182]
    assert payload["value_new_subscriber"] == pytest.approx(100 * sbg.discounted_expected_lifetime(0.1))
    assert payload["derl"]["3"] == pytest.approx(sbg.derl(0.1, 3))
    assert len(payload["projection"]) == 11 and payload["projection"][1]["observed_survivors"] == 631
    code, out, err = run(["retention", *survivors], capsys)
    assert code == 0 and "about to renew for the 1. time" in out and "observed" in out
    code, _, err = run(["retention", 100, 80, 90], capsys)
    assert code == 2 and "at position 3 is more than 80" in err
