"""The template's holdout check (CLV sheet) and retention projection (Cohorts sheet): the cells hold
what the engine computes from the demo orders, with the split and the fit said in words."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from kpi_xl import metrics as m
from kpi_xl.workbook import build_template
from kpi_xl.workbook.layout import (
    CARDS,
    COHORT_HEADER_ROW,
    HOLDOUT_COL,
    HOLDOUT_FREQ_ROW,
    HOLDOUT_ROW,
    PROJECTION_COL,
    card_cell,
)
from kpi_xl.workbook.sheets import CLV_SCHEDULE_COL


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = build_template(tmp_path_factory.mktemp("tpl") / "kpi_report.xlsx")
    return openpyxl.load_workbook(path)


def _orders(book, *, for_value):
    """The Orders sheet as the user sees it, with the rows a model uses: a customer and a date up
    to the period end; for value also a numeric amount, not refunded (the demo data hold
    deliberately bad cells)."""
    rows = list(book["Orders"].iter_rows(min_row=2, values_only=True))
    header = [c.value for c in book["Orders"][1]]
    names = {"Order ID": "order", "Customer": "customer", "Order date": "date", "Amount": "amount"}
    o = pd.DataFrame(rows, columns=header).rename(columns=names).rename(columns=str.lower)
    usable = o["customer"].map(lambda v: isinstance(v, str) and v.strip() != "") & o["date"].map(
        lambda v: isinstance(v, dt.datetime) and v <= dt.datetime(2025, 12, 31)
    )
    if for_value:
        usable &= o["amount"].map(lambda v: isinstance(v, (int, float)) and v >= 0) & (o["refunded"] != "yes")
    out = o[usable].copy()
    out["date"] = pd.to_datetime(out["date"])
    return out


def _cells(ws, row, col, n_rows, n_cols):
    return [
        [ws.cell(row=r, column=c).value for c in range(col, col + n_cols)] for r in range(row, row + n_rows)
    ]


def test_clv_sheet_holds_the_engine_holdout_check(book):
    ws = book["CLV"]
    orders = _orders(book, for_value=True)
    days = orders["date"].to_numpy().astype("datetime64[D]")
    first, last = days.min(), days.max()
    # The template calibrates on the first two thirds of the order history.
    start = first + np.timedelta64(int((last - first).astype(int) * 2 / 3) + 1, "D")
    rep = m.clv_holdout(
        orders["customer"], days, holdout_start=start, time_unit="week", models=("bg/nbd", "mbg/nbd")
    )
    assert ws.cell(row=HOLDOUT_ROW + 1, column=HOLDOUT_COL).value.startswith(
        f"Fitted to the orders up to {rep.calibration_end.date()}"
    )
    rows = _cells(ws, HOLDOUT_ROW + 3, HOLDOUT_COL, 2, 8)
    for row, (name, r) in zip(rows, rep.comparison.iterrows(), strict=True):
        assert row[0] == name
        assert row[1:6] == pytest.approx([r.log_likelihood, r.bic, r.mae, r.rmse, r.bias], rel=1e-9)
        assert row[7] == r.actual_total
    advice = ws.cell(row=HOLDOUT_ROW + 5, column=HOLDOUT_COL).value
    assert advice == f"Recommended: {rep.recommendation}"
    buckets = _cells(ws, HOLDOUT_FREQ_ROW + 1, HOLDOUT_COL, 8, 4)
    best = f"predicted_{rep.recommended}"
    assert [b[0] for b in buckets] == list(rep.by_frequency.index)
    assert [b[2] for b in buckets] == pytest.approx(rep.by_frequency["actual"].tolist(), rel=1e-9)
    assert [b[3] for b in buckets] == pytest.approx(rep.by_frequency[best].tolist(), rel=1e-9)
    assert len(ws._charts) == 1


def test_cohorts_sheet_holds_the_sbg_projection(book):
    ws = book["Cohorts"]
    orders = _orders(book, for_value=False)
    survivors = m.cohort_survivors(orders["customer"], orders["date"], periods=12, as_of="2025-12-31")
    sbg = m.ShiftedBetaGeoFitter().fit(survivors)
    note = ws.cell(row=COHORT_HEADER_ROW - 1, column=PROJECTION_COL).value
    assert note.startswith(
        f"alpha {sbg.params_['alpha']:.3f}, beta {sbg.params_['beta']:.3f}: {survivors[0]} customers"
    )
    rows = _cells(ws, COHORT_HEADER_ROW + 1, PROJECTION_COL, 25, 4)
    assert [r[0] for r in rows] == list(range(25))
    assert [r[2] for r in rows] == pytest.approx(sbg.survival(np.arange(25)).tolist(), rel=1e-9)
    assert [r[1] for r in rows[:13]] == pytest.approx((survivors / survivors[0]).tolist(), rel=1e-9)
    assert all(r[1] is None for r in rows[13:])
    assert rows[0][3] is None and rows[5][3] == pytest.approx(sbg.retention(5)[0], rel=1e-9)


def test_clv_sheet_shows_intervals_segments_fitted_alone_and_their_schedules(book):
    ws = book["CLV"]
    orders = _orders(book, for_value=True)
    customers = pd.DataFrame(
        list(book["Customers"].iter_rows(min_row=2, values_only=True)),
        columns=[c.value for c in book["Customers"][1]],
    )
    seg = customers.groupby(customers.columns[0])["Segment"].first()
    labels = seg.reindex(orders["customer"].astype(str)).to_numpy(dtype=object)
    # The template's settings: weekly models, 12 monthly steps, 10% a year as a monthly rate, margin 30%.
    settings = {
        "time_unit": "week", "horizon": m.length_in_units(12, "month", "week"), "step": "month",
        "discount_rate": 1.1 ** (1 / 12) - 1, "observation_end": "2025-12-31", "margin": 0.3,
        "interval": 0.95,
    }  # fmt: skip
    pooled = m.predict_clv(orders["customer"], orders["date"], orders["amount"], **settings)
    # The total and its interval, next to it; the interval holds the estimate.
    total, low, high = (ws.cell(row=r, column=2).value for r in (6, 7, 8))
    assert total == pytest.approx(pooled.customers["clv"].sum(), rel=1e-9)
    assert (low, high) == pytest.approx(pooled.total_interval, rel=1e-9) and low < total < high
    assert "Krinsky & Robb 1986" in ws.cell(row=19, column=1).value
    # Per customer: CLV, low, high in the table (largest CLV first).
    first = [ws.cell(row=25, column=c).value for c in (1, 9, 10, 11)]
    row = pooled.customers.loc[first[0]]
    assert first[1:] == pytest.approx([row["clv"], row["clv_low"], row["clv_high"]], rel=1e-9)
    # Each segment fitted on its own orders: the block equals fitting that segment's orders alone.
    # (The segments without intervals: their draws would cost a refresh seconds per segment.)
    alone_settings = {**settings, "interval": None}
    by = m.predict_clv_by_segment(
        orders["customer"], orders["date"], orders["amount"], labels, **alone_settings
    )
    block = _cells(ws, 5, 4, len(by.table), 5)
    assert [b[0] for b in block] == by.table.index.tolist()
    fitted = [name for name in by.table.index if name in by.predictions]
    name = fitted[0]
    mine = orders[labels == name]
    alone = m.predict_clv(mine["customer"], mine["date"], mine["amount"], **alone_settings)
    got = next(b for b in block if b[0] == name)
    assert got[3] == pytest.approx(alone.customers["clv"].sum(), rel=1e-9)
    assert all((b[4] or "").startswith("not fitted: ") for b in block if b[0] not in fitted)
    # The schedule per month: each segment's column is that segment's discounted value per step.
    col = CLV_SCHEDULE_COL
    head = [ws.cell(row=24, column=c).value for c in range(col, col + 2 + len(fitted))]
    assert head == ["Month", "Σ segments", *fitted]
    months = _cells(ws, 25, col, 12, 2 + len(fitted))
    assert [r[0] for r in months] == list(range(1, 13))
    j = head.index(name)
    assert [r[j] for r in months] == pytest.approx(alone.schedule()["discounted_value"].tolist(), rel=1e-9)
    assert sum(r[j] for r in months) == pytest.approx(got[3], rel=1e-9)
    assert ws.cell(row=37, column=col).value is None
    # The Dashboard card shows the mean CLV with the mean's interval (the total's over the customers).
    n = len(pooled.customers)
    assert ws.cell(row=4, column=2).value == n
    row, col = card_cell([c[0] for c in CARDS].index("clv"))
    mean_low, mean_high = (v / n for v in pooled.total_interval)
    assert book["Dashboard"].cell(row=row + 3, column=col + 1).value == f"{mean_low:,.2f} – {mean_high:,.2f}"
