"""The metric catalog: each metric once, and every face reads it (no face keeps a list of its own)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from kpi_xl.data._catalog import METRIC_ROLES, metric_catalog
from kpi_xl.data._columns import ROLE_BY_NAME
from kpi_xl.metrics import KpiInputError, catalog, metric_names, segment_table


def test_every_entry_matches_its_engine_function():
    for spec in catalog.CATALOG:
        params = list(inspect.signature(spec.function).parameters.values())
        positional = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert len(positional) >= len(spec.inputs), spec.name
        # Options the entry fixes or needs are keyword parameters of the function.
        names = {p.name for p in params}
        assert set(spec.options) <= names and set(spec.needs) <= names, spec.name
        assert set(spec.kinds) <= set(catalog.KINDS), spec.name
        assert spec.period_role is None or catalog.ROLE_KINDS[spec.period_role] == "date", spec.name
        assert (spec.summary is None) == (spec.from_summary is None), spec.name


def test_the_file_roles_take_their_kind_from_the_catalog():
    for role, kind in catalog.ROLE_KINDS.items():
        assert ROLE_BY_NAME[role].kind == kind
    assert set(METRIC_ROLES) <= set(catalog.ROLE_KINDS)


def test_command_line_and_segment_tables_offer_every_catalog_metric():
    assert [n for n, _, _ in metric_catalog()] == list(dict.fromkeys(m.name for m in catalog.CATALOG))
    assert metric_names() == sorted({m.name for m in catalog.CATALOG})


def test_unknown_metric_lists_the_names():
    with pytest.raises(KpiInputError, match="unknown metric 'nsp'; choose one of: nps, csat"):
        catalog.get("nsp")


def test_units_are_what_the_engine_returns():
    # Small hand-made inputs per kind; each entry's declared unit must be its result's unit.
    data = {
        "nps_score": [10, 9, 3, 7],
        "csat_score": [5, 4, 2, 1],
        "ces_score": [7, 5, 2, 1],
        "amount": [10.0, 20.0, 30.0, 40.0],
        "customer_id": ["a", "a", "b", "c"],
        "date": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-02", "2025-01-03"]),
        "refunded": [1, 0, 0, 0],
        "units_returned": [1, 0, 0, 1],
        "units_sold": [2, 2, 1, 3],
        "referred": [1, 0, 1, 0],
        "converted": [1, 0, 1, 1],
        "created": pd.to_datetime(["2025-01-01 08:00"] * 4),
        "first_response": pd.to_datetime(["2025-01-01 09:00"] * 4),
        "resolved": pd.to_datetime(["2025-01-01 12:00"] * 4),
        "is_complaint": [1, 0, 1, 0],
        "engagements": [10, 20, 30, 40],
        "followers": [100, 100, 100, 100],
        "reach": [200, 200, 200, 200],
        "signup_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
        "churn_date": pd.to_datetime(["2025-02-01", None, None, None]),
    }
    needs = {"target_hours": 2, "period_start": "2025-01-01", "period_end": "2025-12-31"}
    for spec in catalog.CATALOG:
        result = spec.run(*(data[r] for r in spec.roles), **{k: needs[k] for k in spec.needs})
        assert result.unit == spec.unit, spec.name


def test_summary_entry_points_equal_the_row_functions():
    # The DuckDB path's entry point over a summary gives the row function's value, n and n_dropped.
    scores = np.array([10, 9, 9, 3, np.nan, 7])
    rows = catalog.get("nps").run(scores)
    summary = catalog.get("nps").from_summary(pd.Series([10, 9, 3, 7, np.nan]), pd.Series([1, 2, 1, 1, 1]))
    assert (summary.value, summary.n_used, summary.n_dropped) == (rows.value, rows.n_used, rows.n_dropped)
    amounts = np.array([10.0, 20.0, np.nan, 60.0])
    rows = catalog.get("aov").run(amounts)
    summary = catalog.get("aov").from_summary([3], [90.0], [100.0 + 400.0 + 3600.0], [1])
    assert summary.value == pytest.approx(rows.value) == pytest.approx(30.0)
    assert (summary.n_used, summary.n_dropped) == (rows.n_used, rows.n_dropped) == (3, 1)


def test_segment_table_counts_rejected_rows_in_their_group():
    # Rows a reader rejected stay in their group's n_dropped, so the Total is the whole-data metric.
    df = pd.DataFrame(
        {
            "seg": ["a", "a", "b", "b"],
            "score": [10, np.nan, 0, np.nan],
            "bad": [False, True, False, False],
        }
    )
    t = segment_table(df, "nps", columns="score", by="seg", rejected="bad").set_index("group")
    assert t.loc["a", ["n", "n_dropped"]].tolist() == [1, 1]
    assert t.loc["b", ["n", "n_dropped"]].tolist() == [1, 1]
    assert t.loc["Total", ["value", "n", "n_dropped"]].tolist() == [0.0, 2, 2]
