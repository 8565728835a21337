"""The themes, followup, drivers and sample-size commands: same numbers as the engine, readable output."""

import json

import numpy as np
import pandas as pd
import pytest

from kpi_xl import cli
from kpi_xl.metrics import (
    comment_themes,
    customer_value,
    followup_list,
    key_drivers,
    nps_change_sample_size,
    nps_sample_size,
)
from kpi_xl.workbook.demo import demo_tables


def run(argv, capsys):
    code = cli.main([str(a) for a in argv] + ["-q"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    tables = demo_tables()
    for name in ("responses", "orders", "tickets", "customers"):
        tables[name].to_csv(folder / f"{name}.csv", index=False)
    return folder, tables


def test_themes_json_equals_the_engine(demo, capsys):
    folder, tables = demo
    argv = ["themes", folder / "responses.csv", "--format", "json", "--min-count", "2", "--min-g2", "0"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    got = pd.DataFrame(json.loads(out)["themes"])
    r = tables["responses"]
    r = r[pd.to_numeric(r["nps"], errors="coerce").between(0, 10)]  # the file's one bad score is skipped
    want = comment_themes(r["comment"], r["nps"].astype(int), min_count=2, min_g2=0)
    assert len(want) > 5
    assert got["theme"].tolist() == want["theme"].tolist()
    np.testing.assert_allclose(got["g2"], want["g2"])


def test_themes_table_by_segment_with_sentiment(demo, capsys):
    folder, _ = demo
    code, out, _ = run(["themes", folder / "responses.csv", "--by", "segment", "--sentiment"], capsys)
    assert code == 0
    assert "themes" in out and "sentiment (VADER" in out and "segment" in out


def test_themes_csv_keeps_formula_like_comments_as_text(tmp_path, capsys):
    path = tmp_path / "s.csv"
    pd.DataFrame({"score": [1, 2, 10, 9], "comment": ["=cmd slow", "slow", "great", "great"]}).to_csv(
        path, index=False
    )
    code, out, _ = run(["themes", path, "--format", "csv", "--min-count", "1", "--min-g2", "0"], capsys)
    assert code == 0
    assert "'=cmd slow" in out


def test_followup_equals_the_engine_and_lists_unmatched(demo, capsys, tmp_path):
    folder, tables = demo
    survey = tables["responses"].copy()
    row = {"date": pd.Timestamp("2025-12-30"), "customer": "NOT-A-CUSTOMER", "segment": "SMB", "nps": 0}
    survey.loc[len(survey)] = {**dict.fromkeys(survey.columns), **row, "comment": "awful"}
    survey.to_csv(tmp_path / "survey.csv", index=False)
    code, out, _ = run(
        ["followup", tmp_path / "survey.csv", folder / "orders.csv", "--format", "json", "--horizon", "26"],
        capsys,
    )
    assert code == 0
    payload = json.loads(out)
    got = pd.DataFrame(payload["follow-up list"])
    orders = tables["orders"]
    orders = orders[pd.to_numeric(orders["amount"], errors="coerce").notna()]
    value = customer_value(
        orders["customer"], orders["date"], orders["amount"].astype(float), time_unit="week", horizon=26
    )
    s = survey[pd.to_numeric(survey["nps"], errors="coerce").between(0, 10)]
    csat = pd.to_numeric(s["csat"], errors="coerce")
    want = followup_list(
        s["customer"], s["nps"].astype(int), csat=csat, response_dates=s["date"], value=value
    )
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    np.testing.assert_allclose(got["value_at_risk"].astype(float), want["value_at_risk"], rtol=1e-9)
    assert "NOT-A-CUSTOMER" in payload["notes"][0]
    assert payload["revenue at risk (P(alive) < 0.5 or detractor)"][-1]["segment"] == "Total"


def test_drivers_equals_the_engine(tmp_path, capsys):
    rng = np.random.default_rng(4)
    a = pd.DataFrame(rng.integers(1, 6, size=(150, 3)), columns=["price", "support", "product"])
    score = np.clip(np.round(a["support"] * 1.5 + a["product"] * 0.5 + rng.normal(0, 1, 150)), 0, 10)
    a.assign(nps=score.astype(int)).to_csv(tmp_path / "s.csv", index=False)
    code, out, _ = run(
        [
            "drivers",
            tmp_path / "s.csv",
            "--attributes",
            "price,support,product",
            "--boot",
            "20",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    got = pd.DataFrame(json.loads(out)["key drivers"]).set_index("attribute")
    want = key_drivers(score.astype(int), a, n_boot=20)
    np.testing.assert_allclose(got["importance"], want["importance"])
    assert got.index[0] == "support"


def test_sample_size_plain_and_by_segment(demo, capsys):
    folder, _ = demo
    code, out, _ = run(["sample-size", "--margin", "5", "--change", "10", "--format", "json"], capsys)
    assert code == 0
    rows = json.loads(out)["sample size"]
    assert rows[0]["responses"] == nps_sample_size(5)
    assert rows[1]["responses"] == nps_change_sample_size(10)
    code, out, _ = run(["sample-size", folder / "responses.csv", "--by", "segment", "--margin", "10"], capsys)
    assert code == 0 and "Enterprise" in out and "needed" in out


def test_bad_input_exits_2_with_a_message(demo, capsys):
    folder, _ = demo
    code, _, err = run(["sample-size"], capsys)
    assert code == 2 and "--margin" in err
    code, _, err = run(["drivers", folder / "responses.csv", "--attributes", "nope,other"], capsys)
    assert code == 2 and "nope" in err


def test_followup_feedback_engagement_equals_the_engine(demo, capsys):
    from kpi_xl.metrics import feedback_engagement

    folder, tables = demo
    argv = ["followup", folder / "responses.csv", folder / "orders.csv", "--feedback", folder / "tickets.csv"]
    code, out, _ = run([*argv, "--format", "json", "--horizon", "26"], capsys)
    assert code == 0
    got = {r["measure"]: r["value"] for r in json.loads(out)["feedback engagement"]}
    t = tables["tickets"]
    want = feedback_engagement(t["created"], t["first_response"])
    assert got["answer rate"] == pytest.approx(want.value)
    assert got["median hours to answer"] == pytest.approx(want.components["time_to_answer_hours"])
