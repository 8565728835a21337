"""Discounting steps and discounted expected purchases over a horizon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._clean import require_positive
from .._errors import KpiInputError
from ._inputs import (
    DAYS_PER_UNIT,
    UNIT_PLURAL,
    UNIT_WORDS,
    _distinct_rows,
)
from .bgnbd import BetaGeoFitter

#: Step lengths that can be named instead of given as a number of model time units.
STEP_NAMES = ("day", "week", "month", "year")


def read_step(value: Any, argument: str = "step", *, locale: str | None = None) -> float | str:
    """A discounting step as a user gives it, read once for every face: one of :data:`STEP_NAMES`
    (any case, surrounding spaces), or a positive number of time units (a number, or number text
    read by :func:`kpi_xl.metrics.rules.read_number` in ``locale``: ``4,5`` is 4.5 anywhere,
    ``4.345`` needs a known locale). Anything else is bad input naming the step.

    >>> read_step(" Month "), read_step("4,5"), read_step("4.345", locale="en"), read_step(2)
    ('month', 4.5, 4.345, 2.0)
    """
    from ..rules import read_number

    if isinstance(value, str):
        name = value.strip().lower()
        name = UNIT_WORDS.get(name, name)
        if name in STEP_NAMES:
            return name
        try:
            number = read_number(value, argument=argument, locale=locale)
        except KpiInputError as exc:
            if exc.kind == "ambiguous":
                raise
            raise KpiInputError(
                f"{argument} must be a number of time units or 'day', 'week', 'month' or 'year', "
                f"got {value!r}",
                argument=argument,
                value=value,
            ) from None
        return require_positive(number, argument)
    return require_positive(value, argument)


def length_in_units(n: Any, unit: str, time_unit: str) -> float:
    """``n`` days, weeks, months or years as a number of ``time_unit`` (a month is 30.4375 days,
    a year 365.25, as the models count): a horizon of 12 months for a weekly model.

    >>> round(length_in_units(12, "month", "week"), 4)
    52.1786
    """
    for u in (unit, time_unit):
        if u not in DAYS_PER_UNIT:
            raise KpiInputError(
                f"unit must be one of {', '.join(DAYS_PER_UNIT)}, got {u!r}", argument="time_unit", value=u
            )
    return require_positive(n, "n") * DAYS_PER_UNIT[unit] / DAYS_PER_UNIT[time_unit]


def _steps(horizon: Any, step: Any, time_unit: str) -> tuple[int, float]:
    """Number of whole discounting steps in the horizon, and the step length in model units."""
    h = require_positive(horizon, "horizon")
    if isinstance(step, str):
        unit = step.strip().lower()
        unit = UNIT_WORDS.get(unit, unit)
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


def _cumulative_purchases(model: Any, x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> Any:
    """Expected repeat purchases of each customer up to ``t`` (any of the repeat-purchase models), as
    a function of t evaluated on distinct histories and returned per customer.

    BG/NBD's equation (10) is head(t) / (1 + odds of having dropped out) with only the head
    depending on t and on (frequency, T) alone, so it is evaluated on distinct (frequency, T)
    pairs; the other models on distinct (frequency, recency, T) rows.
    """
    if isinstance(model, BetaGeoFitter):
        (ux, uage), inverse = _distinct_rows(x, age)
        scale = 1.0 / (1.0 + model._odds_dropped(x, tx, age))
        return lambda t: model._purchases_head(t, ux, uage)[inverse] * scale
    (ux, utx, uage), inverse = _distinct_rows(x, tx, age)
    return lambda t: np.asarray(model.conditional_expected_purchases(t, ux, utx, uage), dtype=float)[inverse]


def _step_purchases(
    model: Any, x: np.ndarray, tx: np.ndarray, age: np.ndarray, n_steps: int, step_len: float
) -> Iterator[np.ndarray]:
    """Per step k = 1 .. n_steps, each customer's expected purchases within the step. A loop over
    steps (12 for a monthly year), never over customers."""
    cumulative = _cumulative_purchases(model, x, tx, age)
    previous = np.zeros(x.size)
    for k in range(1, n_steps + 1):
        current = cumulative(k * step_len)
        yield current - previous
        previous = current


def _discounted_purchases(
    model: Any,
    x: np.ndarray,
    tx: np.ndarray,
    age: np.ndarray,
    n_steps: int,
    step_len: float,
    discount_rate: float,
) -> np.ndarray:
    """Sum over steps of the purchases expected in each step, discounted per step (booked at the
    end of the step): sum_k (E[X(ks)] - E[X((k-1)s)]) / (1 + d)^k."""
    total = np.zeros(x.size)
    for k, step in enumerate(_step_purchases(model, x, tx, age, n_steps, step_len), start=1):
        total += step / (1.0 + discount_rate) ** k
    return total


class _DrawPurchases:
    """:func:`_discounted_purchases` for many parameter draws of one model (a CLV interval's
    draws), each draw evaluated once per distinct history of all the customers, not once per
    customer: the same sum, reordered. BG/NBD's head of equation (10) depends on (frequency, T)
    only and its denominator, the same at every step, is applied per customer afterwards
    (``sum_k (h_k - h_(k-1)) s / (1 + d)^k = s sum_k (h_k - h_(k-1)) / (1 + d)^k``); the other
    models are evaluated on distinct (frequency, recency, T) rows."""

    def __init__(
        self, model: Any, x: np.ndarray, tx: np.ndarray, age: np.ndarray, n_steps: int, step_len: float,
        discount_rate: float,
    ) -> None:  # fmt: skip
        self.head_only = isinstance(model, BetaGeoFitter)
        self.patterns, self.inverse = _distinct_rows(x, age) if self.head_only else _distinct_rows(x, tx, age)
        self.n_steps, self.step_len, self.discount_rate = n_steps, step_len, discount_rate
        self.n_patterns = int(self.patterns[0].size)

    def per_pattern(self, model: Any) -> np.ndarray:
        """This draw's discounted purchases per distinct history (before BG/NBD's denominator)."""
        total = np.zeros(self.n_patterns)
        previous = np.zeros(self.n_patterns)
        for k in range(1, self.n_steps + 1):
            t = k * self.step_len
            if self.head_only:
                current = model._purchases_head(t, *self.patterns)
            else:
                current = np.asarray(model.conditional_expected_purchases(t, *self.patterns), dtype=float)
            total += (current - previous) / (1.0 + self.discount_rate) ** k
            previous = current
        return total

    def per_customer(
        self, model: Any, values: np.ndarray, x: np.ndarray, tx: np.ndarray, age: np.ndarray, rows: slice
    ) -> np.ndarray:
        """A draw's discounted purchases of the customers ``rows`` (of those it was built on), from
        its :meth:`per_pattern` ``values``; ``x``, ``tx``, ``age`` are those customers'."""
        out = values[self.inverse[rows]]
        if self.head_only:
            out = out / (1.0 + model._odds_dropped(x, tx, age))
        return out
