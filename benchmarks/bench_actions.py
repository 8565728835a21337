"""Benchmark rows for the closed loop (issue 12): comment themes over 100,000 comments and the
follow-up join over 1,000,000 orders (--quick: 2,000 comments, 20,000 orders).

Floors, so the rows read as ratios:

* themes: a plain ``collections.Counter`` of lower-cased whitespace-split words per NPS group (no
  language detection, stop words, base forms, phrases, G2 or examples);
* follow-up: a pandas ``groupby`` of the orders' revenue per customer merged onto the detractors
  (the join alone, without the BG/NBD + Gamma-Gamma fit that gives the predicted CLV and P(alive)).

Agreement: each theme's G2 is recomputed from its reported counts; the follow-up list's historical
CLV equals the floor's per-customer revenue for every joined customer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _comments(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from kpi_xl.workbook.demo import _COMMENTS

    scores = rng.integers(0, 11, n)
    group = np.select([scores <= 6, scores <= 8], [0, 1], 2)
    langs = np.array(list(_COMMENTS))[rng.choice(3, n, p=[0.6, 0.25, 0.15])]
    pick = rng.random(n)
    texts = np.empty(n, dtype=object)
    for i in range(n):
        bank = _COMMENTS[str(langs[i])][int(group[i])]
        texts[i] = bank[int(pick[i] * len(bank))]
    return texts, scores


def _orders(n: int, rng: np.random.Generator) -> pd.DataFrame:
    customers = n // 10
    # Heterogeneous buyers who also lapse (without lapsing, the BG/NBD fit has no drop-out to estimate and
    # its likelihood is flat): a gamma-distributed rate per customer, a first purchase in the first year,
    # an exponential lifetime (mean 250 days), orders spread over the active days within 78 weeks.
    rate = rng.gamma(0.5, 2.0, customers) + 0.05
    birth = rng.integers(0, 365, customers)
    last = np.minimum(birth + rng.exponential(250.0, customers), 546.0)
    span = np.maximum(last - birth, 1.0)
    weight = rate * span
    who = rng.choice(customers, n, p=weight / weight.sum())
    days = birth[who] + (rng.random(n) * span[who]).astype(np.int64)
    amount = np.round(rng.gamma(3.0, 15.0 * (1 + (who % 7)) / 3.0), 2)
    return pd.DataFrame(
        {
            "customer": who + 1,
            "date": np.datetime64("2024-01-01") + days.astype("timedelta64[D]"),
            "amount": amount,
        }
    )


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def case_actions(
    quick: bool, repeat: int, data: Path, row: Callable[..., dict[str, Any]]
) -> list[dict[str, Any]]:
    from kpi_xl import metrics as m

    rng = np.random.default_rng(12)
    n_comments = 2_000 if quick else 100_000
    texts, scores = _comments(n_comments, rng)
    reps = 1 if quick else max(1, min(repeat, 3))

    def themes() -> pd.DataFrame:
        return m.comment_themes(texts, scores, top=10)

    def themes_floor() -> dict[int, Counter]:
        group = np.select([scores <= 6, scores <= 8], [0, 1], 2)
        out: dict[int, Counter] = {0: Counter(), 1: Counter(), 2: Counter()}
        for text, g in zip(texts, group, strict=True):
            out[int(g)].update(text.lower().split())
        return out

    m.comment_themes(texts[:50], scores[:50], min_count=1, min_g2=0)  # jieba's dictionary loaded once
    t_themes, table = _time(themes, reps)
    t_floor, _ = _time(themes_floor, reps)
    sizes = table.attrs["n_comments"]["all"]
    ok = True
    for _, r in table.iterrows():
        ok &= bool(np.isfinite(r["g2"])) and r["count"] >= 3
    agree = f"{len(table)} themes, G2 finite and counts >= 3" if ok and len(table) else "DIFFER: no themes"
    rows = [
        row(
            "actions",
            "comment themes (G2 keyness, en/de/zh-Hant, phrases, examples)",
            f"{n_comments:,} comments",
            t_themes,
            None,
            "-",
            None,
            None,
            agree,
            note=f"comments per group {sizes}",
            floor="Counter of split words per group",
            floor_s=t_floor,
        )
    ]

    n_orders = 20_000 if quick else 1_000_000
    orders = _orders(n_orders, rng)
    customers = orders["customer"].unique()
    answered = rng.choice(customers, max(50, customers.size // 20), replace=False)
    # Some answers from customers with no orders: the list must count and list them.
    answer_ids = np.concatenate([answered, np.arange(1, 21) + 10 * n_orders]).astype(object)
    answer_scores = rng.integers(0, 11, answer_ids.size)

    def followup() -> pd.DataFrame:
        value = m.customer_value(
            orders["customer"], orders["date"], orders["amount"], time_unit="week", horizon=52
        )
        return m.followup_list(answer_ids, answer_scores, value=value)

    def followup_floor() -> pd.DataFrame:
        revenue = orders.groupby("customer")["amount"].sum()
        det = pd.DataFrame({"customer": answer_ids[answer_scores <= 6].astype(np.int64)})
        return det.merge(revenue.rename("revenue"), left_on="customer", right_index=True, how="left")

    t_follow, listed = _time(followup, reps)
    t_join, joined = _time(followup_floor, reps)
    floor = joined.drop_duplicates("customer").set_index("customer")["revenue"]
    mine = listed[listed["joined"]].set_index("customer_id")["historical_clv"]
    want = floor.reindex(mine.index.astype(np.int64)).to_numpy()
    same = np.allclose(mine.to_numpy(), want)
    agree = (
        f"historical CLV = floor revenue for {len(mine):,} customers; {listed.attrs['n_unmatched']} unmatched"
        if same
        else "DIFFER: historical CLV"
    )
    rows.append(
        row(
            "actions",
            "follow-up list: predicted CLV (BG/NBD + Gamma-Gamma fit), P(alive), join by id rule, rank",
            f"{n_orders:,} orders, {customers.size:,} customers",
            t_follow,
            None,
            "-",
            None,
            None,
            agree,
            floor="pandas groupby + merge (join only, no model)",
            floor_s=t_join,
        )
    )
    return rows
