"""Discounting steps and discounted expected purchases over a horizon."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._clean import require_positive
from .._errors import KpiInputError
from ._inputs import (
    DAYS_PER_UNIT,
    UNIT_PLURAL,
    _distinct_rows,
)
from .bgnbd import BetaGeoFitter

#: Step lengths that can be named instead of given as a number of model time units.
STEP_NAMES = ("day", "week", "month", "year")


def _steps(horizon: Any, step: Any, time_unit: str) -> tuple[int, float]:
    """Number of whole discounting steps in the horizon, and the step length in model units."""
    h = require_positive(horizon, "horizon")
    if isinstance(step, str):
        unit = step.strip().lower()
        if unit not in STEP_NAMES:
            raise KpiInputError(
                f"step must be a number of {UNIT_PLURAL[time_unit]} or 'day', 'week', 'month' or 'year', "
                f"got {step!r}",
                argument="step",
                value=step,
            )
        s = DAYS_PER_UNIT[unit] / DAYS_PER_UNIT[time_unit]
    else:
        s = require_positive(step, "step")
    n = h / s
    n_round = round(n)
    if n_round < 1 or abs(n - n_round) > 1e-9 * max(1.0, n):
        raise KpiInputError(
            f"horizon {h:g} is not a whole number of steps of {s:g} {UNIT_PLURAL[time_unit]}; use a "
            "horizon of "
            f"{max(n_round, 1) * s:g} or another step",
            argument="horizon",
            value=horizon,
        )
    return int(n_round), s


def _discounted_purchases(
    bgnbd: BetaGeoFitter,
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    n_steps: int,
    step_len: float,
    discount_rate: float,
) -> np.ndarray:
    """Sum over steps of the purchases expected in each step, discounted per step.

    Equation (10) is head(t) / (1 + odds of having dropped out) with only the head depending on
    t, so the discounted sum of step differences is taken over the heads, on distinct
    (frequency, T) pairs, and divided by (1 + odds) once per customer.
    """
    (ux, uage), inverse = _distinct_rows(x, age)
    total = np.zeros(ux.size)
    previous = np.zeros(ux.size)
    # A loop over steps (12 for a monthly year), never over customers.
    for k in range(1, n_steps + 1):
        cumulative = bgnbd._purchases_head(k * step_len, ux, uage)
        total += (cumulative - previous) / (1.0 + discount_rate) ** k
        previous = cumulative
    return total[inverse] / (1.0 + bgnbd._odds_dropped(x, tx, age))
