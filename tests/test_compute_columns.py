"""The whole-column cell tests of the refresh (kpi_xl.workbook.compute) give what a per-cell
isinstance test / text key gives, on columns mixing every kind of value calamine reads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kpi_xl.workbook import compute as c

VALUES = [
    "C1001", " C1001 ", "1001", 1001.0, 1001, -0.0, 0.0, 2.5, np.float64(7.0), "", "   ", "\u00a0",
    None, float("nan"), "yes", "No", " YES ", "ja", dt.datetime(2025, 3, 1), np.str_("x"),
]  # fmt: skip


def column(rng: np.random.Generator, extra: list[object] = ()) -> pd.Series:
    pool = VALUES + list(extra)
    return pd.Series([pool[i] for i in rng.integers(0, len(pool), 3_000)], dtype=object)


@pytest.mark.parametrize("extra", [[], [True, False, np.bool_(True)], [pd.NA], [pd.NaT]])
def test_cell_tests_and_text_keys_match_the_per_cell_forms(extra):
    s = column(np.random.default_rng(len(extra)), extra)
    assert c._is_text(s).tolist() == [isinstance(v, str) for v in s]
    assert c._is_bool(s).tolist() == [isinstance(v, (bool, np.bool_)) for v in s]
    assert c._blank(s).tolist() == [bool(pd.isna(v)) or (isinstance(v, str) and not v.strip()) for v in s]
    pd.testing.assert_series_equal(c._as_text(s), s.map(c._text_key).astype(object))
    # True and 1.0 stay apart ("True", "1"): bool cells are keyed cell by cell.
    assert c._as_text(pd.Series([True, 1.0, "1"], dtype=object)).tolist() == ["True", "1", "1"]
