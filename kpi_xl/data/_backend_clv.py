"""CLV predictions whose customers stay in the backend (see
:func:`kpi_xl.data.backend.predict_clv_backend`); a module of its own so that reading a file does
not import the CLV models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import KpiInputError
from ..metrics.clv.predict import ClvPrediction, schedule_frame
from . import aggregate

__all__ = ["BackendClvPrediction"]


@dataclass(frozen=True)
class BackendClvPrediction(ClvPrediction):
    """A CLV prediction whose customers stay in the backend: ``customers`` holds the purchase
    patterns (with ``weight``), ``patterns`` the engine's fit on them
    (:class:`kpi_xl.metrics.clv.ClvPatterns`) and ``per_customer`` every customer's prediction as an
    Ibis expression. Totals and the schedule are summed over the customers in the backend; only
    sums and two median values come back."""

    patterns: Any = None
    per_customer: Any = None
    dataset: Any = None

    def totals(self) -> dict[str, float]:
        """As :meth:`kpi_xl.metrics.ClvPrediction.totals`, over the customers in the backend."""
        import ibis

        ds, t = self.dataset, self.per_customer
        aggs = {"n": t.count(), "total": aggregate._sum(t, t.clv), "top": t.clv.max()}
        middle = aggregate.middle_values(t, t.clv)
        if middle is not None:
            aggs.update(low=middle[0], high=middle[1])
        got = ds.fetch(t.aggregate(**aggs)).iloc[0]
        n = int(got["n"])
        median = float("nan")
        if n and middle is not None:
            # The two middle customers by CLV, as the engine averages them.
            median = (float(got["low"]) + float(got["high"])) / 2
        elif n:
            # The two middle customers by CLV (the same one when n is odd), as the engine averages
            # them; ranked by a window (Spark's OFFSET is not one Ibis compiles).
            k = (n - 1) // 2
            ranked = t.select("clv").mutate(_i=ibis.row_number().over(order_by="clv"))
            two = ds.fetch(ranked.filter(ranked._i.between(k, k + 1)).order_by("_i"))["clv"]
            median = (float(two.iloc[0]) + float(two.iloc[1 if n % 2 == 0 else 0])) / 2
        p = self.patterns.purchases
        return {
            "customers": n,
            "clv_total": float(got["total"]) if n else 0.0,
            "clv_mean": float(got["total"]) / n if n else float("nan"),
            "clv_median": median,
            "clv_max": float(got["top"]) if n else float("nan"),
            "expected_purchases_total": float(
                (p["expected_purchases"].to_numpy(dtype=float) * p["weight"].to_numpy(dtype=float)).sum()
            ),
        }

    def total(self) -> pd.Series:
        """As :meth:`kpi_xl.metrics.ClvPrediction.total` (no interval on this path)."""
        t = self.totals()
        return pd.Series(
            {"customers": t["customers"], "clv": t["clv_total"], "clv_low": None, "clv_high": None,
             "interval": None, "interval_method": None},
            dtype=object,
            name="total",
        )  # fmt: skip

    def schedule(self, customers: Any = None) -> pd.DataFrame:
        """The schedule of all customers (:meth:`kpi_xl.metrics.ClvPrediction.schedule`): each step's
        expected purchases from the purchase patterns, its value (purchases x expected spend x
        margin) summed over the customers in the backend."""
        import ibis

        if customers is not None:
            raise KpiInputError(
                "a schedule per customer needs the per-customer predictions: write them with -o, "
                "or read the data with --engine pandas",
                argument="customers",
            )
        fit, ds = self.patterns, self.dataset
        steps = fit.step_purchases()
        weight = fit.purchases["weight"].to_numpy(dtype=float)
        pk = aggregate.PURCHASE_KEYS
        frame = fit.purchases[list(pk)].rename(columns={k: f"{k}_p" for k in pk})
        for k, step in enumerate(steps):
            frame[f"step{k}"] = step
        frame.attrs = {}
        lk = ibis.memtable(frame)
        per = self.per_customer
        t = per.inner_join(lk, [per[k] == lk[f"{k}_p"] for k in pk])
        spend = t.expected_average_value * ibis.literal(float(self.settings.margin), "float64")
        got = ds.fetch(
            t.aggregate(**{f"v{k}": aggregate._sum(t, t[f"step{k}"] * spend) for k in range(len(steps))})
        )
        value = np.array([float(got[f"v{k}"].iloc[0]) for k in range(len(steps))])
        return schedule_frame(steps @ weight, value, self.settings)
