"""Grouping free-text labels (segments) under the one label policy.

Labels are grouped after trimming surrounding whitespace (NBSP included) and case-insensitively
(casefold); each group is shown with its most frequent spelling (ties: first seen); blank labels
form a ``"(blank)"`` group, so the groups add up to the total.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BLANK_LABEL = "(blank)"


def group_labels(values: Any) -> tuple[np.ndarray, list[str]]:
    """``(codes, names)``: one code per value into ``names``, the groups' shown spellings.

    >>> codes, names = group_labels(["North", " north", "South", None, "NORTH"])
    >>> codes.tolist(), names
    ([0, 0, 1, 2, 0], ['North', 'South', '(blank)'])
    """
    s = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series) else values)
    text = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    trimmed = text.str.strip(" \t\r\n\u00a0")
    keys = trimmed.str.casefold()
    keys = keys.where(keys != "", "\0blank")
    codes, uniques = pd.factorize(keys)
    names: list[str] = []
    spelled = trimmed.where(keys != "\0blank", BLANK_LABEL)
    for code in range(len(uniques)):
        forms = spelled[codes == code]
        # value_counts keeps first-seen order among ties (sort is stable), so ties go to the first seen.
        names.append(str(forms.value_counts(sort=True).index[0]))
    return codes.astype(np.int64), names
