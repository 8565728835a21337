"""Predicted CLV fitted per segment, in one call.

Each segment gets its own repeat-purchase and spend models (segments differ in how often and how
much their customers buy, which one pooled fit would average away). A customer belongs to the
segment of their first transaction (the acquisition segment), so a customer is counted once. A
segment too small to fit is listed with the reason instead of a number; a segment below the
usual small-sample size is fitted but flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._clean import _as_1d, clean_dates, clean_ids, require_positive, require_share
from .._errors import KpiInputError
from .._labels import group_labels
from .._result import SMALL_SAMPLE_N
from ..rules import BLANK_LABEL, label_key
from ._discount import _steps
from ._inputs import check_time_unit
from ._registry import _check_model_name
from .predict import ClvPrediction, predict_clv
from .summary import rfm_summary


@dataclass(frozen=True)
class SegmentClv:
    """What :func:`predict_clv_by_segment` returns.

    Attributes
    ----------
    table : DataFrame
        One row per segment (largest first): ``customers``, ``clv_total``, ``clv_mean``,
        ``clv_total_low`` / ``clv_total_high`` (with ``interval``), the purchase and spend
        model parameters, ``small`` (fewer than ``min_customers`` customers: the estimate is
        shown but uncertain) and ``status`` ("fitted", or why it is not).
    predictions : dict
        Segment -> :class:`ClvPrediction` of the segments that could be fitted.
    """

    table: pd.DataFrame
    predictions: dict[str, ClvPrediction]

    def segment(self, label: Any) -> str:
        """The segment a label names, under the label policy (trimmed, case-insensitive; a blank or
        ``"(blank)"`` is the blank segment). A label that is no segment, or a segment that could not
        be fitted, is bad input saying which segments there are, or why.

        >>> out = SegmentClv(pd.DataFrame({"status": ["fitted"]}, index=pd.Index(["North"])), {})
        >>> out.segment(" NORTH ")
        'North'
        """
        key = label_key(label) or label_key(BLANK_LABEL)
        found = [name for name in self.table.index if label_key(name) == key]
        if not found:
            raise KpiInputError(
                f"segment {label!r} is not in the data; the segments are "
                + ", ".join(map(repr, self.table.index)),
                argument="segment",
                value=label,
            )
        name = found[0]
        if self.table.loc[name, "status"] != "fitted":
            raise KpiInputError(
                f"segment {name!r} has no CLV: {self.table.loc[name, 'status']}",
                argument="segment",
                value=label,
                kind="empty",
            )
        return name

    @property
    def customers(self) -> pd.DataFrame:
        """Every fitted segment's per-customer predictions in one table, with a ``segment`` column
        (segments as in :attr:`table`, customers in their segment's order)."""
        parts = [
            self.predictions[name].customers.assign(segment=name)
            for name in self.table.index
            if name in self.predictions
        ]
        return pd.concat(parts) if parts else pd.DataFrame({"segment": []})

    def schedule(self, segment: Any = None, customers: Any = None) -> pd.DataFrame:
        """The per-step CLV schedule (:meth:`ClvPrediction.schedule`) from the segments' own fits:
        of one ``segment`` (all its customers or the ``customers`` given), or of ``customers``
        wherever they are (each valued by their segment's fit; the steps add up). Without either,
        all fitted segments together.

        >>> from kpi_xl.datasets import load_cdnow_transactions
        >>> tx = load_cdnow_transactions()
        >>> seg = (tx["customer_id"] % 2).map({0: "even", 1: "odd"})
        >>> out = predict_clv_by_segment(tx["customer_id"], tx["date"], tx["amount"], seg,
        ...                              time_unit="week", horizon=12)
        >>> total = out.schedule("Odd")["discounted_value"].sum()
        >>> bool(abs(total - out.table.loc["odd", "clv_total"]) < 1e-9)
        True
        """
        if segment is not None:
            return self.predictions[self.segment(segment)].schedule(customers)
        if customers is None:
            parts = [self.predictions[name].schedule() for name in self.predictions]
        else:
            wanted = (
                list(customers) if isinstance(customers, (list, tuple, pd.Index, np.ndarray)) else [customers]
            )
            parts = []
            for pred in self.predictions.values():
                mine = [c for c in wanted if _has(pred, c)]
                if mine:
                    parts.append(pred.schedule(mine))
                    wanted = [c for c in wanted if c not in mine]
            if wanted:
                raise KpiInputError(
                    f"customer {wanted[0]!r} is in no fitted segment (no order in the data used, or "
                    "their segment could not be fitted)",
                    argument="customers",
                    value=wanted[0],
                )
        if not parts:
            raise KpiInputError("no segment could be fitted, so there is no schedule", argument="segment")
        out = parts[0].copy()
        for col in ("expected_purchases", "value", "discounted_value"):
            out[col] = sum(p[col] for p in parts)
        out["cumulative_discounted_value"] = out["discounted_value"].cumsum()
        return out

    def schedules(self, column: str = "discounted_value") -> pd.DataFrame:
        """One column of each fitted segment's schedule side by side (steps as rows, segments as
        columns in :attr:`table`'s order), e.g. the discounted value per month of each segment."""
        return pd.DataFrame(
            {
                name: self.predictions[name].schedule()[column]
                for name in self.table.index
                if name in self.predictions
            }
        )


def predict_clv_by_segment(
    customer_ids: Any,
    dates: Any,
    amounts: Any,
    segments: Any,
    *,
    time_unit: str | None = None,
    horizon: float,
    discount_rate: float = 0.0,
    observation_end: Any = None,
    margin: float = 1.0,
    step: float | str = 1.0,
    model: str = "bg/nbd",
    interval: float | None = None,
    min_customers: int = SMALL_SAMPLE_N,
) -> SegmentClv:
    """Fit and predict CLV separately for each segment; the settings are :func:`predict_clv`'s, and
    ``min_customers`` the size below which a segment is flagged ``small``.

    Segment labels follow the one label policy (trimmed, case-insensitive, shown in their most
    frequent spelling; blanks are the segment "(blank)"); a customer's segment is the label of
    their earliest transaction.

    Raises
    ------
    KpiInputError
        ``segments`` of another length than the log; anything :func:`predict_clv` rejects for the
        whole log (a bad time unit, horizon ...). A segment's own fit failing (too few repeat
        customers) is not an error: its row says why.

    Examples
    --------
    >>> from kpi_xl.datasets import load_cdnow_transactions
    >>> tx = load_cdnow_transactions()
    >>> seg = (tx["customer_id"] % 2).map({0: "even", 1: "odd"})
    >>> out = predict_clv_by_segment(tx["customer_id"], tx["date"], tx["amount"], seg,
    ...                              time_unit="week", horizon=12)
    >>> out.table.index.tolist(), int(out.table["customers"].sum())
    (['odd', 'even'], 2357)
    """
    ids = _as_1d(customer_ids, "customer_ids")
    labels = _as_1d(segments, "segments")
    when, _ = clean_dates(dates, argument="dates")
    if labels.size != ids.size or when.size != ids.size:
        raise KpiInputError(
            f"give one segment per transaction: customer_ids has {ids.size} values, dates {when.size}, "
            f"segments {labels.size}",
            argument="segments",
        )
    amt = np.asarray(amounts, dtype=object) if not isinstance(amounts, pd.Series) else amounts.to_numpy()
    # Every input error is the whole log's, raised with its position, before any segment is fitted.
    unit = check_time_unit(time_unit)
    _steps(horizon, step, unit)
    require_positive(discount_rate, "discount_rate", allow_zero=True)
    require_share(margin, "margin")
    _check_model_name(model)
    rfm_summary(ids, when, amt, time_unit=unit, observation_end=observation_end)
    settings = {
        "time_unit": unit,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "observation_end": observation_end,
        "margin": margin,
        "step": step,
        "model": model,
        "interval": interval,
    }
    codes, names = group_labels(labels)
    # Customers under the one id rule (3 and "3 " are one customer, as in predict_clv); -1 marks
    # the blank rows predict_clv skips.
    id_codes = clean_ids(ids, argument="customer_ids")[0]
    # The acquisition segment: the label of each customer's earliest (dated) transaction.
    order = pd.DataFrame({"id": id_codes, "when": when, "code": codes}).sort_values("when", kind="stable")
    first = order[order["id"] >= 0].drop_duplicates("id").set_index("id")["code"]
    customer_code = first.reindex(id_codes).to_numpy()
    predictions: dict[str, ClvPrediction] = {}
    rows = []
    for code, name in enumerate(names):
        rows_in = customer_code == code
        n_customers = int(pd.unique(id_codes[rows_in]).size)
        if n_customers == 0:
            continue
        row: dict[str, Any] = {
            "segment": name,
            "customers": n_customers,
            "small": n_customers < min_customers,
        }
        try:
            pred = predict_clv(ids[rows_in], when[rows_in], amt[rows_in], **settings)
        except KpiInputError as exc:
            # The log and the settings passed as a whole above: what fails here is this segment's
            # fit (too few repeat customers, no convergence), which the row reports.
            row.update(status=f"not fitted: {exc}", clv_total=np.nan, clv_mean=np.nan)
            rows.append(row)
            continue
        predictions[name] = pred
        clv = pred.customers["clv"]
        row.update(status="fitted", clv_total=float(clv.sum()), clv_mean=float(clv.mean()))
        if pred.total_interval is not None:
            row["clv_total_low"], row["clv_total_high"] = pred.total_interval
        row.update(pred.purchase_model.params_.to_dict())
        row.update({f"spend_{k}": v for k, v in pred.spend_model.params_.items()})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("segment").sort_values("customers", ascending=False, kind="stable")
    return SegmentClv(table=table, predictions=predictions)


def _has(pred: ClvPrediction, customer: Any) -> bool:
    try:
        pred.select(customer)
    except KpiInputError:
        return False
    return True
