"""Segment labels as integer codes, under the one label policy (:func:`kpi_xl.metrics.rules.label_groups`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .rules import BLANK_LABEL, label_groups

__all__ = ["BLANK_LABEL", "group_labels"]


def group_labels(values: Any) -> tuple[np.ndarray, list[str]]:
    """``(codes, names)``: one code per value into ``names``, the groups' shown spellings, numbered
    in order of first appearance.

    >>> codes, names = group_labels(["North", " north", "South", None, "NORTH"])
    >>> codes.tolist(), names
    ([0, 0, 1, 2, 0], ['North', 'South', '(blank)'])
    """
    codes, names = pd.factorize(label_groups(values))
    return codes.astype(np.int64), [str(n) for n in names]
