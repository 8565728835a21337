"""Segment labels as group codes, under the one label policy of :func:`kpi_xl.metrics.rules.label_groups`
(trimmed, case-insensitive, shown by the most frequent spelling, blanks as "(blank)")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .rules import label_groups


def group_labels(values: Any) -> tuple[np.ndarray, list[str]]:
    """``(codes, names)``: one code per value into ``names``, the groups in order of first appearance.

    >>> codes, names = group_labels(["North", " north", "South", None, "NORTH"])
    >>> codes.tolist(), names
    ([0, 0, 1, 2, 0], ['North', 'South', '(blank)'])
    """
    codes, names = pd.factorize(label_groups(values).to_numpy(dtype=object))
    return codes.astype(np.int64), [str(n) for n in names]
