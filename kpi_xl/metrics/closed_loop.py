"""Closing the loop: who to call back first, revenue at risk, advocates, and feedback engagement.

Every join here is by customer id under the engine's one id rule (:func:`clean_ids`): a number and
the same digits as text are one customer (1001, 1001.0, "1001"), text keeps leading zeros, blanks
are skipped and counted. Customers that do not join are counted and listed, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._clean import (
    OnInvalid,
    _as_1d,
    _id_key,
    clean_dates,
    clean_ids,
    clean_numbers,
    clean_scores,
    require_share,
)
from ._errors import KpiInputError
from ._intervals import check_confidence, share_result
from ._labels import group_labels
from ._result import MetricResult
from .comments import nps_groups
from .service import first_response_time

__all__ = [
    "id_keys",
    "customer_value",
    "followup_list",
    "detractor_ids",
    "revenue_at_risk",
    "advocates",
    "ADVOCACY_WEIGHTS",
    "referral_summary",
    "feedback_engagement",
]


def id_keys(values: Any, *, argument: str = "customer_ids", on_invalid: OnInvalid = "raise") -> np.ndarray:
    """Customer ids as join keys (text), ``None`` where blank: the same id in any spelling the id
    rule accepts gives the same key.

    >>> id_keys([1001, "1001", 1001.0, " 0012 ", None]).tolist()
    ['1001', '1001', '1001', '0012', None]
    """
    codes, uniques, _, _ = clean_ids(values, argument=argument, on_invalid=on_invalid)
    keys = np.array([_id_key(u) for u in uniques] + [None], dtype=object)
    return keys[codes]


def _numbers(values: Any, argument: str, n: int, *, allow_negative: bool = False) -> np.ndarray:
    cleaned = clean_numbers(values, argument=argument, allow_negative=allow_negative)
    if cleaned.mask.size != n:
        raise KpiInputError(
            f"{argument} has {cleaned.mask.size} values but customer_ids has {n}; give one per row",
            argument=argument,
        )
    out = np.full(n, np.nan)
    out[cleaned.mask] = cleaned.values
    return out


def customer_value(
    customer_ids: Any,
    dates: Any,
    amounts: Any,
    *,
    time_unit: str,
    horizon: float,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    observation_end: Any = None,
) -> pd.DataFrame:
    r"""Each customer's historical and predicted value from an order log, keyed for joins.

    ``historical_clv`` is margin x revenue to date (:func:`kpi_xl.metrics.historical_clv_by_customer`);
    ``predicted_clv`` and ``p_alive`` come from BG/NBD + Gamma-Gamma
    (:func:`kpi_xl.metrics.predict_clv`, same arguments); ``last_order`` is the latest order date.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (join key, see :func:`id_keys`): ``orders``, ``historical_clv``,
        ``predicted_clv``, ``p_alive``, ``last_order``.
    """
    from . import predict_clv
    from .value import historical_clv_by_customer

    hist = historical_clv_by_customer(customer_ids, amounts, margin=margin)
    pred = predict_clv(
        customer_ids, dates, amounts, time_unit=time_unit, horizon=horizon, discount_rate=discount_rate,
        observation_end=observation_end, margin=margin,
    ).customers  # fmt: skip
    keys = id_keys(customer_ids)
    when, _ = clean_dates(dates, argument="dates")
    last = pd.Series(when).groupby(keys).max()
    out = pd.DataFrame(
        {"orders": hist["orders"].to_numpy(), "historical_clv": hist["clv"].to_numpy()},
        index=pd.Index([_id_key(v) for v in hist.index], name="customer_id"),
    )
    pred.index = pd.Index([_id_key(v) for v in pred.index], name="customer_id")
    out["predicted_clv"] = pred["clv"].reindex(out.index)
    out["p_alive"] = pred["probability_alive"].reindex(out.index)
    out["last_order"] = last.reindex(out.index).to_numpy()
    return out


def _value_table(value: pd.DataFrame | None, argument: str = "value") -> pd.DataFrame:
    if value is None:
        return pd.DataFrame(index=pd.Index([], name="customer_id"))
    if "customer_id" in value.columns:
        ids = value["customer_id"]
    else:
        ids = pd.Series(value.index, index=value.index)
    keys = id_keys(ids.to_numpy(dtype=object), argument=f"{argument}.customer_id")
    table = value.drop(columns=["customer_id"], errors="ignore").copy()
    table.index = pd.Index(keys, name="customer_id")
    table = table[table.index.notna()]
    dup = table.index.duplicated()
    if dup.any():
        raise KpiInputError(
            f"{argument}: customer id {table.index[dup][0]!r} appears more than once; "
            "give one row per customer",
            argument=argument,
            value=table.index[dup][0],
        )
    for col in ("historical_clv", "predicted_clv", "p_alive", "open_tickets"):
        if col in table.columns:
            table[col] = _numbers(table[col].to_numpy(dtype=object), f"{argument}.{col}", len(table))
    return table


def _latest(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Positions of each customer's latest row (by ``order``, ties: the later row)."""
    frame = pd.DataFrame({"key": keys, "order": order, "pos": np.arange(keys.size)})
    frame = frame[frame["key"].notna()].sort_values(["order", "pos"], kind="stable")
    return frame.groupby("key", sort=False)["pos"].last().to_numpy()


def followup_list(
    customer_ids: Any,
    scores: Any = None,
    *,
    csat: Any = None,
    csat_max: int = 2,
    csat_scale: tuple[int, int] = (1, 5),
    comments: Any = None,
    response_dates: Any = None,
    value: pd.DataFrame | None = None,
    tickets: pd.DataFrame | None = None,
    detractor_max: int = 6,
    on_invalid: OnInvalid = "raise",
) -> pd.DataFrame:
    r"""Who to call back first: detractors and low-CSAT answers with the customer's value, ranked by
    value at risk.

    A customer is on the list when their latest answer (by ``response_dates``, else the last row)
    is a detractor (0..``detractor_max``) or a CSAT of ``csat_max`` or less. Per customer:

    .. math::

        \text{value at risk} = \text{predicted CLV if known, else historical CLV}

    the value the customer is expected to bring and would take away if lost (recovery effort
    prioritised by CLV: Reichheld 2003; Kumar & Reinartz 2018, ch. 6). The list is sorted by
    value at risk, highest first; customers without a value (no join) come last.

    Parameters
    ----------
    customer_ids:
        Customer id of each survey answer.
    scores, csat:
        The 0-10 NPS answer and/or the CSAT answer on ``csat_scale`` of each row (at least one).
    comments, response_dates:
        Optional comment and date of each answer, shown on the list.
    value:
        One row per customer: ``customer_id`` (column or index) and any of ``historical_clv``,
        ``predicted_clv``, ``p_alive``, ``segment`` (e.g. :func:`customer_value`'s output).
    tickets:
        Support tickets: ``customer_id``, ``created``, optional ``resolved`` (blank = open).
        Gives ``open_tickets`` and ``last_contact`` (the latest ticket created or resolved).

    Returns
    -------
    DataFrame
        ``rank``, ``customer_id``, ``reason``, ``score``, ``csat``, ``comment``, ``response_date``,
        ``historical_clv``, ``predicted_clv``, ``p_alive``, ``value_at_risk``, ``open_tickets``,
        ``last_contact``, ``joined``. ``attrs``: ``n_flagged``, ``n_unmatched`` and ``unmatched``
        (flagged customers missing from ``value``), ``n_skipped`` (answers without an id).

    References
    ----------
    Reichheld, F. (2003), HBR 81(12); Kumar, V. & Reinartz, W. (2018). Customer Relationship
    Management, 3rd ed., Springer, ch. 6 (customer value-based prioritisation).

    Examples
    --------
    >>> v = pd.DataFrame({"customer_id": ["A", "B"], "predicted_clv": [50.0, 900.0]})
    >>> out = followup_list(["A", "B", "C", "D"], [2, 3, 10, 1], value=v)
    >>> out[["customer_id", "value_at_risk", "joined"]].values.tolist()
    [['B', 900.0, True], ['A', 50.0, True], ['D', nan, False]]
    """
    if scores is None and csat is None:
        raise KpiInputError("give the NPS scores, the CSAT answers or both", argument="scores")
    keys = id_keys(customer_ids, on_invalid=on_invalid)
    n = keys.size
    flagged = np.zeros(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    score_col = np.full(n, np.nan)
    csat_col = np.full(n, np.nan)
    if scores is not None:
        groups = nps_groups(scores, detractor_max=detractor_max, on_invalid=on_invalid)
        _check(n, groups.size, "scores")
        det = groups == "detractor"
        flagged |= det
        reasons[det] = "detractor"
        score_col = _scores(scores, (0, 10), on_invalid, "scores")
    if csat is not None:
        csat_col = _scores(csat, csat_scale, on_invalid, "csat")
        _check(n, csat_col.size, "csat")
        low = csat_col <= csat_max
        flagged |= low
        reasons[low] = np.where(reasons[low] == "", "low CSAT", reasons[low] + ", low CSAT")
    if response_dates is not None:
        when, _ = clean_dates(response_dates, argument="response_dates", on_invalid=on_invalid)
        _check(n, when.size, "response_dates")
        order = when.astype("datetime64[ns]").astype(np.int64)
    else:
        when = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        order = np.arange(n)
    answered = ~np.isnan(score_col) | ~np.isnan(csat_col)
    latest = _latest(np.where(answered, keys, None), order)
    latest = latest[flagged[latest]]
    texts = (
        np.array(["" if v is None or v != v else str(v) for v in _as_1d(comments, "comments")], dtype=object)
        if comments is not None
        else np.full(n, "", dtype=object)
    )
    _check(n, texts.size, "comments")
    out = pd.DataFrame(
        {
            "customer_id": keys[latest],
            "reason": reasons[latest],
            "score": score_col[latest],
            "csat": csat_col[latest],
            "comment": texts[latest],
            "response_date": when[latest],
        }
    )
    table = _value_table(value)
    joined = out["customer_id"].isin(table.index).to_numpy()
    for col in ("historical_clv", "predicted_clv", "p_alive", "segment"):
        out[col] = table[col].reindex(out["customer_id"]).to_numpy() if col in table.columns else np.nan
    if "segment" not in table.columns:
        out = out.drop(columns="segment")
    predicted = out["predicted_clv"].to_numpy(dtype=np.float64)
    out["value_at_risk"] = np.where(np.isnan(predicted), out["historical_clv"], predicted)
    open_t, last_contact = _ticket_summary(tickets, out["customer_id"].to_numpy())
    out["open_tickets"] = open_t
    out["last_contact"] = last_contact
    out["joined"] = joined
    out = out.sort_values(["value_at_risk", "response_date"], ascending=[False, False], na_position="last",
                          kind="stable").reset_index(drop=True)  # fmt: skip
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    unmatched = out.loc[~out["joined"], "customer_id"].tolist()
    out.attrs.update(
        n_flagged=len(out), n_unmatched=len(unmatched), unmatched=unmatched,
        n_skipped=int((keys == None).sum()),  # noqa: E711 - elementwise on an object array
    )  # fmt: skip
    return out


def detractor_ids(
    customer_ids: Any,
    scores: Any,
    *,
    response_dates: Any = None,
    detractor_max: int = 6,
    on_invalid: OnInvalid = "raise",
) -> list[str]:
    """Customers whose latest NPS answer (by ``response_dates``, else the last row) is a detractor,
    as join keys (:func:`id_keys`), in order of first appearance.

    >>> detractor_ids(["a", "b", "a", "c"], [3, 9, 10, 0])
    ['c']
    """
    table = followup_list(
        customer_ids,
        scores,
        response_dates=response_dates,
        detractor_max=detractor_max,
        on_invalid=on_invalid,
    )
    keys = set(table["customer_id"])
    return [k for k in dict.fromkeys(id_keys(customer_ids, on_invalid=on_invalid).tolist()) if k in keys]


def _scores(values: Any, scale: tuple[int, int], on_invalid: OnInvalid, argument: str) -> np.ndarray:
    cleaned = clean_scores(values, scale=scale, on_invalid=on_invalid, argument=argument)
    out = np.full(cleaned.mask.size, np.nan)
    out[cleaned.mask] = cleaned.values
    return out


def _check(n: int, m: int, argument: str) -> None:
    if n != m:
        raise KpiInputError(
            f"{argument} has {m} values but customer_ids has {n}; give one per answer", argument=argument
        )


def _ticket_summary(tickets: pd.DataFrame | None, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if tickets is None:
        return np.full(keys.size, np.nan), np.full(keys.size, np.datetime64("NaT"), dtype="datetime64[ns]")
    for col in ("customer_id", "created"):
        if col not in tickets.columns:
            raise KpiInputError(f"tickets needs a column {col!r}", argument="tickets")
    t_keys = id_keys(tickets["customer_id"].to_numpy(dtype=object), argument="tickets.customer_id")
    created, _ = clean_dates(tickets["created"].to_numpy(dtype=object), argument="tickets.created")
    if "resolved" in tickets.columns:
        resolved, open_ = clean_dates(tickets["resolved"].to_numpy(dtype=object), argument="tickets.resolved")
    else:
        resolved, open_ = (
            np.full(created.size, np.datetime64("NaT"), dtype="datetime64[ns]"),
            np.ones(created.size, dtype=bool),
        )
    frame = pd.DataFrame({"key": t_keys, "open": open_, "last": np.fmax(created, resolved)})
    grouped = frame[frame["key"].notna()].groupby("key")
    opened = grouped["open"].sum().reindex(keys).fillna(0).to_numpy(dtype=np.float64)
    last = grouped["last"].max().reindex(keys).to_numpy(dtype="datetime64[ns]")
    return opened, last


def revenue_at_risk(
    customer_ids: Any,
    predicted_clv: Any,
    p_alive: Any,
    *,
    detractor_ids: Any = None,
    segments: Any = None,
    threshold: float = 0.5,
) -> pd.DataFrame:
    r"""Revenue at risk: the predicted CLV of customers who are detractors or whose probability of
    still being active fell below ``threshold``, in total and by segment.

    .. math::

        \text{at risk} = \sum_{i \in D \cup L} \widehat{CLV}_i,\quad
        L = \{i : P(\text{alive})_i < \text{threshold}\}

    with *D* the detractors (each customer counted once, even if in both). ``share`` is the at-risk
    CLV over the total predicted CLV of the segment.

    Parameters
    ----------
    customer_ids, predicted_clv, p_alive:
        One row per customer (e.g. the columns of :func:`customer_value`). ``p_alive`` may be blank
        (then only detractor status counts).
    detractor_ids:
        Customer ids of detractors (e.g. ``followup_list(...)["customer_id"]`` or the ids of
        answers 0-6); ids that are not in ``customer_ids`` are counted and listed in ``attrs``.
    segments:
        Optional segment per customer; labels grouped by the label policy, blanks as "(blank)".
    threshold:
        P(alive) below which a customer counts as lapsing (default 0.5).

    Returns
    -------
    DataFrame
        Index ``segment`` (each segment, then ``"Total"``): ``customers``, ``predicted_clv``,
        ``at_risk_detractors``, ``at_risk_lapsing``, ``revenue_at_risk``, ``customers_at_risk``,
        ``share``. ``attrs``: ``n_unmatched``, ``unmatched``.

    References
    ----------
    Fader, Hardie & Lee (2005), P(alive) from BG/NBD; Reichheld (2003), detractors.

    Examples
    --------
    A detractor worth 100, a lapsing customer (P(alive) 0.2) worth 50, a safe one worth 850:
    at risk 150 of 1000 = 15%.

    >>> t = revenue_at_risk(["a", "b", "c"], [100, 50, 850], [0.9, 0.2, 0.8], detractor_ids=["a"])
    >>> t.loc["Total", ["revenue_at_risk", "share"]].tolist()
    [150.0, 0.15]
    """
    t = require_share(threshold, "threshold")
    keys = id_keys(customer_ids)
    n = keys.size
    clv = _numbers(predicted_clv, "predicted_clv", n)
    alive = _numbers(p_alive, "p_alive", n)
    if np.any((alive < 0) | (alive > 1)):
        pos = int(np.flatnonzero((alive < 0) | (alive > 1))[0])
        raise KpiInputError(
            argument="p_alive", position=pos + 1, value=alive[pos], reason="is not a probability from 0 to 1"
        )
    det_keys = set()
    if detractor_ids is not None:
        det_keys = {k for k in id_keys(detractor_ids, argument="detractor_ids") if k is not None}
    is_det = np.array([k in det_keys for k in keys], dtype=bool)
    lapsing = alive < t
    value = np.nan_to_num(clv)
    risky = is_det | lapsing
    if segments is not None:
        codes, names = group_labels(_as_1d(segments, "segments"))
        _check(n, codes.size, "segments")
    else:
        codes, names = np.zeros(n, dtype=np.int64), []
    rows = {}
    for label, in_seg in [(name, codes == i) for i, name in enumerate(names)] + [("Total", np.ones(n, bool))]:
        total = float(value[in_seg].sum())
        at_risk = float(value[in_seg & risky].sum())
        rows[label] = {
            "customers": int(in_seg.sum()),
            "predicted_clv": total,
            "at_risk_detractors": float(value[in_seg & is_det].sum()),
            "at_risk_lapsing": float(value[in_seg & lapsing].sum()),
            "revenue_at_risk": at_risk,
            "customers_at_risk": int((in_seg & risky).sum()),
            "share": at_risk / total if total > 0 else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "segment"
    unmatched = sorted(det_keys - set(keys.tolist()))
    table.attrs.update(n_unmatched=len(unmatched), unmatched=unmatched, threshold=t)
    return table


#: Default weights of the advocacy score's parts (see :func:`advocates`).
ADVOCACY_WEIGHTS: Mapping[str, float] = {
    "score": 1.0,
    "referrals_made": 1.0,
    "referrals_converted": 2.0,
    "referral_revenue": 2.0,
    "clv": 1.0,
}


def advocates(
    customer_ids: Any,
    scores: Any,
    *,
    referrals_made: Any = None,
    referrals_converted: Any = None,
    referral_revenue: Any = None,
    clv: Any = None,
    weights: Mapping[str, float] | None = None,
    promoter_min: int = 9,
) -> pd.DataFrame:
    r"""Promoters ranked by an advocacy score: how likely to recommend, how much they have referred,
    how many referrals bought, the revenue those brought, and their own value.

    Each part is scaled to 0..1 among the promoters, then weighted:

    .. math::

        s_i = 100 \cdot \frac{\sum_k w_k x_{ik}}{\sum_k w_k}, \quad
        x_{i,\text{score}} = \frac{\text{score}_i}{10}, \quad
        x_{ik} = \frac{v_{ik}}{\max_j v_{jk}} \; (0 \text{ when the maximum is } 0)

    over the parts given (a part not given is left out of both sums). Default weights
    (:data:`ADVOCACY_WEIGHTS`): score 1, referrals made 1, referrals converted 2, referral revenue 2,
    CLV 1: what a customer's referrals bring counts double what they say (customer referral value,
    Kumar, Petersen & Leone 2007). The score is a ranking aid, not a published index: change the
    weights to fit the programme.

    Parameters
    ----------
    customer_ids, scores:
        One row per customer: id and latest 0-10 score. Rows with a blank score are skipped.
    referrals_made, referrals_converted, referral_revenue, clv:
        Optional per-customer numbers (0 or more) in the same rows.
    weights:
        Part name -> weight (0 or more), overriding the defaults.

    Returns
    -------
    DataFrame
        Promoters only, highest score first: ``rank``, ``customer_id``, ``score``, the parts
        given, ``advocacy_score`` (0..100). ``attrs["weights"]`` holds the weights used.

    References
    ----------
    Kumar, V., Petersen, J. A. & Leone, R. P. (2007). How Valuable Is Word of Mouth? Harvard
    Business Review 85(10), 139-146. Reichheld (2003).

    Examples
    --------
    Two promoters: A (10, 4 referrals of which 2 bought), B (9, 2 referrals, 0 bought); a detractor
    C is left out. A: 100 (1 + 1 + 2)/4 = 100; B: 100 (0.9 + 0.5 + 0)/4 = 35.

    >>> t = advocates(["A", "B", "C"], [10, 9, 3], referrals_made=[4, 2, 9], referrals_converted=[2, 0, 5])
    >>> t[["customer_id", "advocacy_score"]].values.tolist()
    [['A', 100.0], ['B', 35.0]]
    """
    w = dict(ADVOCACY_WEIGHTS)
    if weights is not None:
        unknown = set(weights) - set(w)
        if unknown:
            raise KpiInputError(
                f"weights: unknown part {sorted(unknown)[0]!r}; the parts are {', '.join(w)}",
                argument="weights",
            )
        w.update({k: float(v) for k, v in weights.items()})
    if any(v < 0 or v != v for v in w.values()):
        raise KpiInputError("weights must be 0 or more", argument="weights")
    keys = id_keys(customer_ids)
    n = keys.size
    s = _scores(scores, (0, 10), "raise", "scores")
    _check(n, s.size, "scores")
    present = keys != None  # noqa: E711 - elementwise on an object array
    dup = pd.Series(keys[present]).duplicated()
    if dup.any():
        bad = keys[present][dup.to_numpy()][0]
        raise KpiInputError(
            f"customer_ids: {bad!r} appears more than once; give one row per customer (their latest score)",
            argument="customer_ids", value=bad,
        )  # fmt: skip
    promoters = present & (s >= promoter_min)
    parts = {"score": s}
    given = {"referrals_made": referrals_made, "referrals_converted": referrals_converted,
             "referral_revenue": referral_revenue, "clv": clv}  # fmt: skip
    for name, col in given.items():
        if col is not None:
            parts[name] = np.nan_to_num(_numbers(col, name, n))
    out = pd.DataFrame({"customer_id": keys[promoters]})
    num = np.zeros(int(promoters.sum()))
    den = 0.0
    for name, col in parts.items():
        v = col[promoters]
        out[name] = v
        if name == "score":
            x = v / 10.0
        else:
            top = v.max() if v.size else 0.0
            x = v / top if top > 0 else np.zeros_like(v)
        num += w[name] * x
        den += w[name]
    if den == 0:
        raise KpiInputError("the weights of the parts given are all 0", argument="weights", kind="zero-base")
    out["advocacy_score"] = 100.0 * num / den
    out = out.sort_values("advocacy_score", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.attrs["weights"] = {k: w[k] for k in parts}
    return out


def referral_summary(
    customer_ids: Any, referred_by: Any, order_customer_ids: Any, order_amounts: Any
) -> pd.DataFrame:
    """Per referrer: customers they referred, how many of those bought, and the revenue those brought.

    A referred customer *converted* when they placed at least one order; ``referral_revenue`` is the
    sum of the referred customers' orders. Ids follow the id rule (:func:`id_keys`); a referrer id
    that is not itself a customer is still counted (it is listed in ``attrs["unknown_referrers"]``).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (the referrer's key): ``referrals_made``, ``referrals_converted``,
        ``referral_revenue``.

    Examples
    --------
    A referred B and C; B bought twice (30 + 20), C never; D referred E, who bought 10.

    >>> t = referral_summary(["A", "B", "C", "D", "E"], [None, "A", "A", None, "D"],
    ...                      ["B", "B", "E", "A"], [30, 20, 10, 99])
    >>> t.to_dict("index")["A"]
    {'referrals_made': 2, 'referrals_converted': 1, 'referral_revenue': 50.0}
    """
    keys = id_keys(customer_ids)
    ref = id_keys(referred_by, argument="referred_by")
    _check(keys.size, ref.size, "referred_by")
    o_keys = id_keys(order_customer_ids, argument="order_customer_ids")
    amounts = _numbers(order_amounts, "order_amounts", o_keys.size)
    revenue = pd.Series(np.nan_to_num(amounts)).groupby(o_keys).sum()
    frame = pd.DataFrame({"customer": keys, "referrer": ref}).dropna()
    frame["bought"] = frame["customer"].isin(revenue.index)
    frame["revenue"] = revenue.reindex(frame["customer"]).fillna(0.0).to_numpy()
    grouped = frame.groupby("referrer", sort=False)
    out = pd.DataFrame(
        {
            "referrals_made": grouped.size().astype(np.int64),
            "referrals_converted": grouped["bought"].sum().astype(np.int64),
            "referral_revenue": grouped["revenue"].sum().astype(np.float64),
        }
    )
    out.index.name = "customer_id"
    out.attrs["unknown_referrers"] = sorted(set(out.index) - set(keys[keys != None].tolist()))  # noqa: E711
    return out


def feedback_engagement(
    received: Any,
    answered: Any,
    *,
    statistic: str = "median",
    as_of: Any = None,
    confidence: float = 0.95,
    on_invalid: OnInvalid = "raise",
    min_n: int | None = None,
) -> MetricResult:
    r"""Feedback engagement: the share of reviews or feedback that got an answer, and the time to
    answer.

    .. math::

        \text{answer rate} = \frac{\#\{\text{answered}\}}{\#\{\text{received}\}}, \quad
        \text{time to answer}_i = t^{\text{answer}}_i - t^{\text{received}}_i \text{ (hours)}

    The rate carries a Wilson interval; the time to answer is summarised exactly as the service
    metric :func:`kpi_xl.metrics.first_response_time` does (median by default, with its
    distribution-free interval; mean with a t interval), over answered items.

    Returns
    -------
    MetricResult
        ``value`` = answer rate (share); ``components``: ``answered``, ``received``,
        ``time_to_answer_hours``, ``time_ci_low``, ``time_ci_high``, ``time_statistic``.

    References
    ----------
    Wilson (1927); as :func:`kpi_xl.metrics.first_response_time` for the time.

    Examples
    --------
    Four reviews, three answered after 1, 2 and 4 hours: rate 3/4, median time 2 hours.

    >>> r = feedback_engagement(["2025-01-06 08:00"] * 4,
    ...                         ["2025-01-06 09:00", "2025-01-06 10:00", "2025-01-06 12:00", None])
    >>> r.value, r.components["time_to_answer_hours"]
    (0.75, 2.0)
    """
    check_confidence(confidence)
    try:
        time: MetricResult | None = first_response_time(
            received, answered, statistic=statistic, as_of=as_of, confidence=confidence,  # type: ignore[arg-type]
            on_invalid=on_invalid, min_n=min_n,
        )  # fmt: skip
    except KpiInputError as exc:
        if exc.kind != "empty":
            raise
        time = None  # nothing answered yet: the rate is 0, there is no time to answer
    if time is None:
        got, blank = clean_dates(received, argument="received", on_invalid=on_invalid)
        n_answered, n_received, n_dropped = 0, int((~blank).sum()), int(blank.sum())
        if n_received == 0:
            raise KpiInputError(
                "no feedback received (every date is blank)", argument="received", kind="empty"
            )
    else:
        n_answered = int(time.components["n_closed"])
        n_received = n_answered + int(time.components["open"])
        n_dropped = time.n_dropped
    return share_result(
        "feedback_answer_rate",
        n_answered,
        n_received,
        n_dropped=n_dropped,
        confidence=confidence,
        min_n=min_n,
        components={
            "answered": n_answered,
            "received": n_received,
            "time_to_answer_hours": None if time is None else time.value,
            "time_ci_low": None if time is None else time.ci_low,
            "time_ci_high": None if time is None else time.ci_high,
            "time_statistic": statistic,
        },
        # The open-ticket caveat of the service metric is this metric's subject, not a caveat here.
        warnings=() if time is None else tuple(w for w in time.warnings if "open ticket" not in w),
    )
