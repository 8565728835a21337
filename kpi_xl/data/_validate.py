"""Row-level validation: which values cannot be used, where they are, and why.

The data layer parses what is file-specific (locale numbers, date formats, header names); whether a
value is acceptable to a metric (a score on the scale, an amount not negative, a yes/no flag) is the
engine's rule, so each distinct value gets the engine's verdict (:func:`kpi_xl.metrics.rules.verdicts`)
with its reason. A value the engine would reject becomes a :class:`~kpi_xl.metrics.Problem` naming
the file, row, column, value and reason, and its row is skipped by the metrics that read that column
(and only by those).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics.rules import Problem, clean_ids, placeholder_mask, verdicts

__all__ = [
    "Problems",
    "ValueRules",
    "check_values",
    "check_ids",
    "blank_verdict",
    "MAX_LISTED",
]

#: Problems listed one by one per file and column; the rest are counted in the summary.
MAX_LISTED = 200


@dataclass
class Problems:
    """Every value left out of a number in a run: invalid values (skipped) and blanks or placeholders
    where a metric needs a value. The first ``limit`` per file, column and verdict are listed (all
    of them with ``limit=None``); every one is counted."""

    listed: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    limit: int | None = MAX_LISTED
    #: (file, column) whose blanks were already listed (several metrics read one column).
    blanks_noted: set[tuple[str, str]] = field(default_factory=set)

    def add(
        self,
        file: str,
        column: str,
        rows: np.ndarray,
        values: np.ndarray,
        reasons: np.ndarray,
        *,
        counts: dict[str, int] | None = None,
        verdicts: np.ndarray | None = None,
    ) -> None:
        """Record values left out; ``counts`` (reason -> number) when ``rows`` lists only some of them;
        ``verdicts`` per value (default: all ``invalid``)."""
        if verdicts is None:
            verdicts = np.full(len(rows), "invalid", dtype=object)
        if counts is None:
            counts = Counter(zip(reasons.tolist(), verdicts.tolist(), strict=True))
        for key, n in counts.items():
            reason, verdict = key if isinstance(key, tuple) else (key, "invalid")
            self.counts[(file, column, reason, verdict)] += n
        if len(rows) == 0:
            return
        for verdict in dict.fromkeys(verdicts.tolist()):
            pick = np.flatnonzero(verdicts == verdict)
            already = sum(
                1 for p in self.listed if (p.source, p.column, p.verdict) == (file, column, verdict)
            )
            room = len(pick) if self.limit is None else max(self.limit - already, 0)
            for i in pick[:room]:
                self.listed.append(Problem(file, int(rows[i]), column, values[i], str(reasons[i]), verdict))

    def merge(self, other: Problems) -> None:
        """Take over what another collector found (a file read on trial, then kept)."""
        for p in other.listed:
            self.listed.append(p)
        self.counts.update(other.counts)
        self.blanks_noted |= other.blanks_noted

    def count_for(self, file: str, column: str) -> int:
        """Invalid values found in one column of one file."""
        return sum(n for (f, c, _, v), n in self.counts.items() if (f, c, v) == (file, column, "invalid"))

    def _invalid(self) -> dict[tuple[str, str, str], int]:
        return {(f, c, r): n for (f, c, r, v), n in self.counts.items() if v == "invalid"}

    @property
    def total(self) -> int:
        """Invalid values skipped (blanks and placeholders are counted in :attr:`blank_total`)."""
        return sum(self._invalid().values())

    @property
    def blank_total(self) -> int:
        """Blank or placeholder values where a metric needs a value."""
        return sum(n for (_, _, _, v), n in self.counts.items() if v != "invalid")

    def summary(self, blanks: bool = False) -> list[str]:
        """One line per file, column and reason: ``orders.csv, column 'Betrag': 3 value(s) skipped: not a
        number`` (with ``blanks``, the blank and placeholder lines instead), sorted by file, column and
        reason so the order never depends on the order a backend returned the values in."""
        items = [(k, n) for k, n in self.counts.items() if (k[3] != "invalid") == blanks]
        verb = "left out" if blanks else "skipped"
        return [
            f"{file}, column {column!r}: {n:,} value(s) {verb}: {reason}"
            for (file, column, reason, _), n in sorted(items, key=lambda kv: kv[0][:3])
        ]

    def as_dicts(self, blanks: bool = False) -> list[dict[str, Any]]:
        """Listed invalid values (with ``blanks``: the listed blanks and placeholders), the source
        named ``file`` as the command line's output calls it."""
        return [p.as_dict(source_key="file") for p in self.listed if (p.verdict != "invalid") == blanks]

    def add_blanks(
        self,
        file: str,
        column: str,
        rows: np.ndarray,
        values: np.ndarray,
        what: str,
        *,
        counts: dict[Any, int] | None = None,
    ) -> None:
        """List blank or placeholder cells of a column a metric needs (once per file and column).
        ``counts`` maps each distinct raw value to its number of cells when ``rows`` lists only some."""
        if (file, column) in self.blanks_noted:
            return
        self.blanks_noted.add((file, column))
        values = np.asarray(values, dtype=object)
        verdicts = np.array([blank_verdict(v) for v in values], dtype=object)
        reason = {"blank": f"is blank; {what}", "placeholder": f"is a placeholder for no value; {what}"}
        reasons = np.array([reason[v] for v in verdicts], dtype=object)
        by_key = None
        if counts is not None:
            by_key = Counter()
            for v, n in counts.items():
                verdict = blank_verdict(v)
                by_key[(reason[verdict], verdict)] += n
        self.add(file, column, np.asarray(rows), values, reasons, verdicts=verdicts, counts=by_key)


def blank_verdict(value: Any) -> str:
    """``blank`` for an empty cell (or only spaces), ``placeholder`` for text exports put for "no
    value" (``n/a``, ``-``, ``null``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "blank"
    if isinstance(value, str) and value.strip():
        return "placeholder"
    return "blank"


@dataclass(frozen=True)
class ValueRules:
    """Options of the engine's value rules that depend on the survey (scales) or the user."""

    nps_scale: tuple[int, int] = (0, 10)
    csat_scale: tuple[int, int] = (1, 5)
    ces_scale: tuple[int, int] = (1, 7)

    def scale(self, role: str) -> tuple[int, int]:
        return {"nps_score": self.nps_scale, "csat_score": self.csat_scale, "ces_score": self.ces_scale}[role]


def check_values(
    values: np.ndarray, kind: str, role: str, rules: ValueRules
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the engine's rule for ``kind`` (``score``, ``amount``, ``count``, ``flag``).

    ``values`` are parsed numbers (NaN for blank), or raw cells for flags. Returns the values the
    engine will see (flags as 1.0/0.0, NaN for blank, placeholder or rejected) and the engine's
    reason per position ("" where accepted, blank or a placeholder). Runs on distinct values only.
    """
    codes, uniques = pd.factorize(
        pd.Series(values, dtype=object if kind == "flag" else None), use_na_sentinel=True
    )
    if len(uniques) == 0:
        return np.full(len(values), np.nan), np.full(len(values), "", dtype=object)
    uniq = np.asarray(uniques, dtype=object if kind == "flag" else np.float64)
    scale = rules.scale(role) if kind == "score" else None
    judged = verdicts(uniq, kind, scale=scale)
    out = np.where(judged.valid, judged.values, np.nan).astype(np.float64)
    safe = np.maximum(codes, 0)
    vals = np.where(codes >= 0, out[safe], np.nan)
    reasons = np.where(codes >= 0, judged.reason[safe], "").astype(object)
    return vals, reasons


def check_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer ids by the engine's rule (:func:`kpi_xl.metrics.rules.clean_ids`): ``1001``,
    ``1001.0`` and ``" 1001"`` are one customer, ``"0012"`` is not 12, TRUE is not an id.

    Returns ``(codes, labels, reasons)``: a float code per position (NaN where blank or rejected),
    the id text of each code, and the reason per position ("" where accepted or blank). The engine
    reads the codes as ids (each code one customer), which is much faster than text.

    The engine's rule for text is "strip surrounding spaces; nothing left is a blank". Text is
    stripped here once per distinct value; when every distinct value is text (every CSV), each
    stripped, non-blank id is its own customer, exactly what :func:`clean_ids` would return (a test
    holds the two together), so a million customers cost no million Python calls. Other cells
    (numbers, booleans, dates from Excel or Parquet) go through :func:`clean_ids` itself.
    """
    raw_codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    n = len(values)
    if len(uniques) == 0:
        return np.full(n, np.nan), np.zeros(0, dtype=object), np.full(n, "", dtype=object)
    uniq = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    is_text = uniq.map(type).eq(str).to_numpy(dtype=bool)
    stripped = uniq.copy()
    text = uniq[is_text].str.strip()
    # Export placeholders ("n/a", "-") and nothing-but-spaces are blanks, as in other columns.
    stripped[is_text] = text.where(~(placeholder_mask(text.to_numpy(dtype=object)) | text.eq("")), None)
    # " K1" and "K1" become one example.
    group, examples = pd.factorize(stripped, use_na_sentinel=True)
    sample = np.asarray(examples, dtype=object)
    reason_e = np.full(len(sample), "", dtype=object)
    if is_text.all():
        codes_e, labels = np.arange(len(sample)), sample
    else:
        codes_e, labels, _, _ = clean_ids(sample, on_invalid="drop")
        judged = verdicts(sample, "id")
        reason_e[codes_e < 0] = judged.reason[codes_e < 0]
    code_e = np.where(codes_e >= 0, codes_e, np.nan).astype(np.float64)
    # Per distinct raw value: its example's code and reason (a blank has neither).
    has = group >= 0
    code_u = np.full(len(uniq), np.nan)
    code_u[has] = code_e[group[has]]
    reason_u = np.full(len(uniq), "", dtype=object)
    reason_u[has] = reason_e[group[has]]
    safe = np.maximum(raw_codes, 0)
    codes = np.where(raw_codes >= 0, code_u[safe], np.nan)
    reasons = np.where(raw_codes >= 0, reason_u[safe], "").astype(object)
    return codes, np.asarray(labels, dtype=object), reasons
