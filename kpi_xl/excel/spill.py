"""Engine results -> 2-D arrays that spill from one cell, with a header row.

A spilled array holds only plain Python values, because both runtimes have a trap for anything else:
a NaN becomes ``#NUM!`` on Office.js and an empty *text* cell on classic Excel (xlwings issue 1910).
So a missing number (a cohort month not observed yet, an interval that does not exist) is sent as
``None``, which both runtimes show as an empty cell, and numpy scalars become Python ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frame", "pairs", "row"]


def _label(v: Any) -> Any:
    # Integer labels (cohort period offsets 0, 1, 2 ...) stay numbers so formulas can match them.
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v)
    return str(v)


def _column(values: pd.Series) -> np.ndarray:
    """One column as an object array of Python scalars with None where the value is missing."""
    kind = values.dtype.kind
    if kind == "M":
        out = np.array(values.dt.to_pydatetime(), dtype=object)
    elif kind in "fiub":
        # astype(object) turns numpy numbers into Python ones.
        out = values.to_numpy().astype(object)
    else:
        out = values.to_numpy(dtype=object).copy()
        generic = np.fromiter((isinstance(v, np.generic) for v in out), dtype=bool, count=out.size)
        for i in np.flatnonzero(generic):
            out[i] = out[i].item()
    out[pd.isna(values).to_numpy()] = None
    return out


def frame(df: pd.DataFrame, *, index: str | None = None) -> list[list[Any]]:
    """``[header, *rows]`` of a DataFrame; with ``index`` the index becomes the first column, so named."""
    if index is not None:
        df = df.reset_index(names=index)
    header = [_label(c) for c in df.columns]
    if df.empty:
        return [header]
    body = np.empty((len(df), len(df.columns)), dtype=object)
    for j in range(len(df.columns)):
        body[:, j] = _column(df.iloc[:, j])
    return [header, *body.tolist()]


def pairs(
    items: Iterable[tuple[str, Any]], header: tuple[str, str] = ("measure", "value")
) -> list[list[Any]]:
    """A two-column table (name, value) under a header row, for a breakdown of one result."""
    return [list(header), *([name, _scalar(v)] for name, v in items)]


def row(values: Iterable[Any]) -> list[list[Any]]:
    """One row of values without a header (e.g. the two bounds of an interval)."""
    return [[_scalar(v) for v in values]]


def _scalar(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
