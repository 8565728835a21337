"""Any metric by segment and by period: one table of metric x group with n and interval.

The table is computed by calling the metric's own engine function once per group, so a segment
value is by construction the same number the metric gives on that subset; nothing is re-derived.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import catalog
from ._clean import clean_dates
from ._errors import KpiInputError
from ._result import SMALL_SAMPLE_N, MetricResult
from .rules import label_groups

__all__ = ["segment_table", "metric_names", "TABLE_COLUMNS"]

TABLE_COLUMNS = (
    "group",
    "metric",
    "value",
    "unit",
    "n",
    "n_dropped",
    "se",
    "ci_low",
    "ci_high",
    "margin_of_error",
    "small_sample",
    "warning",
)


def metric_names() -> list[str]:
    """Names accepted by :func:`segment_table`, sorted (the metric catalog's names)."""
    return catalog.names()


def _row(
    group: str, metric: str, result: MetricResult | None, min_n: int, error: str = "", dropped: int = 0
) -> dict:
    if result is None:
        return {
            "group": group,
            "metric": metric,
            "value": np.nan,
            "unit": "",
            "n": 0,
            "n_dropped": dropped,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "margin_of_error": np.nan,
            "small_sample": True,
            "warning": error,
        }
    small = result.n_used < min_n
    warning = "; ".join(w for w in result.warnings if "small sample" not in w)
    if small:
        note = f"n={result.n_used} is below the minimum of {min_n}: too small to compare"
        warning = f"{note}; {warning}" if warning else note
    nan = np.nan
    return {
        "group": group,
        "metric": metric,
        "value": result.value,
        "unit": result.unit,
        "n": result.n_used,
        "n_dropped": result.n_dropped,
        "se": nan if result.se is None else result.se,
        "ci_low": nan if result.ci_low is None else result.ci_low,
        "ci_high": nan if result.ci_high is None else result.ci_high,
        "margin_of_error": nan if result.margin_of_error is None else result.margin_of_error,
        "small_sample": small,
        "warning": warning,
    }


def segment_table(
    data: pd.DataFrame,
    metric: str | Callable[..., MetricResult],
    *,
    columns: str | Sequence[str],
    by: str | None = None,
    period: str | None = None,
    date: str | None = None,
    min_n: int = SMALL_SAMPLE_N,
    total: bool = True,
    rejected: str | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Compute one metric per segment and/or per calendar month.

    Parameters
    ----------
    data:
        One row per observation (response, order, ticket, customer ...).
    metric:
        A name from :func:`metric_names` (``"nps"``, ``"csat"``, ``"churn"`` ...) or an engine
        function taking data columns positionally and returning a :class:`MetricResult`.
    columns:
        The data column(s) passed to the metric function, in its positional order; e.g.
        ``"score"`` for NPS, ``["created", "first_reply"]`` for first response time.
    by:
        Segment column. Labels are grouped by :func:`group_labels` (trimmed, any case); blank
        values form the group ``"(blank)"`` rather than vanishing.
    period:
        ``"month"`` to group by calendar month of ``date`` (``"YYYY-MM"``); with ``by`` as well,
        groups are ``"segment | YYYY-MM"``.
    date:
        Date column for ``period``. A blank date puts its row in the group ``"(no date)"``; so does
        an unreadable one with ``on_invalid="drop"`` (with the default it is an error naming it).
    min_n:
        Groups with fewer valid observations are flagged (``small_sample``) and their
        ``warning`` says so; the value is still shown, never hidden.
    total:
        Append a ``"Total"`` row computed on all rows.
    rejected:
        Optional boolean column: True marks a row whose value was rejected before it got here
        (a file reader reported it). Such a row stays in its group, never in the metric, and is
        counted in the group's and the Total's ``n_dropped``, so that the Total matches the
        metric computed on the whole data.
    options:
        Passed to the metric function (e.g. ``scale=(1, 7)``, ``on_invalid="drop"``,
        ``period_start=...``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`, one row per group (sorted), then ``Total``. A group with no
        valid data gets a row with NaN value and the reason in ``warning``; invalid values (with
        the default ``on_invalid="raise"``) raise :class:`KpiInputError` naming the group.

    Examples
    --------
    >>> df = pd.DataFrame({"seg": ["a", "a", "b"], "score": [10, 0, 9]})
    >>> segment_table(df, "nps", columns="score", by="seg")[["group", "value", "n"]].values.tolist()
    [['a', 0.0, 2], ['b', 100.0, 1], ['Total', 33.33333333333333, 3]]
    """
    if isinstance(metric, str):
        spec = catalog.get(metric)
        fn, name = spec.run, spec.name
    else:
        fn, name = metric, getattr(metric, "__name__", "metric")
    cols = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in cols + [c for c in (by, date, rejected) if c] if c not in data.columns]
    if missing:
        raise KpiInputError(
            f"column(s) {', '.join(map(repr, missing))} not found; the data has: "
            f"{', '.join(map(str, data.columns))}",
            argument="columns",
        )
    if min_n < 1:
        raise KpiInputError(f"min_n must be at least 1, got {min_n}", argument="min_n")

    keys: list[pd.Series] = []
    if by is not None:
        # One label policy everywhere (kpi_xl.metrics.rules.label_groups): trimmed, case-insensitive,
        # shown by the most frequent spelling; blanks are the group "(blank)".
        keys.append(label_groups(data[by]))
    if period is not None:
        if period != "month":
            raise KpiInputError(f"period must be 'month', got {period!r}", argument="period")
        if date is None:
            raise KpiInputError("period='month' needs the date column (date=...)", argument="date")
        # With on_invalid="drop" an unreadable date is skipped like any invalid value: its row is in
        # no month ("(no date)") but still in the metric, so the Total is the metric on all rows.
        dates, blank_dates = clean_dates(
            data[date], argument=date, on_invalid=options.get("on_invalid", "raise")
        )
        month = pd.Series(pd.DatetimeIndex(dates).strftime("%Y-%m"), index=data.index)
        keys.append(month.where(~blank_dates, "(no date)"))
    if not keys:
        raise KpiInputError("give a segment column (by=...) and/or period='month'", argument="by")
    group = keys[0] if len(keys) == 1 else keys[0].str.cat(keys[1:], sep=" | ")

    def compute(frame: pd.DataFrame, label: str) -> dict:
        n_rejected = 0
        if rejected is not None:
            bad = frame[rejected].to_numpy(dtype=bool)
            n_rejected = int(bad.sum())
            frame = frame.loc[~bad]
        try:
            if frame.empty and n_rejected:
                raise KpiInputError("no usable values", kind="empty")
            result = fn(*(frame[c] for c in cols), **options)
        except KpiInputError as exc:
            if exc.kind in ("empty", "zero-base"):
                # A one-column metric with no data left dropped every row of the group (blank or
                # invalid): count them, so that the groups' counts add up to the total's.
                dropped = len(frame) if exc.kind == "empty" and len(cols) == 1 else 0
                return _row(label, name, None, min_n, error=f"no result: {exc}", dropped=dropped + n_rejected)
            moved: dict[str, Any] = {"group": label}
            if exc.position is not None and 0 < exc.position <= len(frame):
                # The engine counts positions inside this group; name the row of the whole table
                # (its index label, and its position in the whole column).
                index = frame.index[exc.position - 1]
                moved["index"] = index.item() if isinstance(index, np.generic) else index
                moved["position"] = int(data.index.get_indexer([index])[0]) + 1
            raise exc.with_fields(**moved) from exc
        row = _row(label, name, result, min_n)
        row["n_dropped"] += n_rejected
        return row

    rows = [compute(frame, str(label)) for label, frame in data.groupby(group, sort=True)]
    if total:
        rows.append(compute(data, "Total"))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
