"""Excel functions over whole columns through xlwings' Office.js runtime, each against its floor.

The floor of a call is what no implementation can avoid: xlwings' own cost of a call that takes the
same ranges raw (a one-line UDF that returns the number of rows), plus one look at every cell
(flattening each range into a 1-D object array), plus the engine on the values already as clean
typed arrays. kpi-xl's time is the whole call: argument conversion, the function, the result.

Columns are built as Excel desktop sends a full column (``B:B``): a header, the values, and empty
cells (``""``) to the bottom of the sheet. Used by ``benchmarks.run`` (case ``udf``).
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SHEET_ROWS = 1_048_576
_SERIAL_DAY0 = np.datetime64("1899-12-30", "ns")


@dataclass
class ColumnCase:
    """One Excel function called with full columns."""

    func: str
    columns: list[list[list[Any]]]
    extra: tuple[Any, ...]
    engine: Callable[[], Any]
    result: Callable[[Any], float]
    want: Callable[[Any], float]


def _column(header: str | None, cells: list[Any], rows: int) -> list[list[Any]]:
    """A column of ``rows`` cells: the header (None: none, as for ids, which a header cannot be
    told from), the cells, then empty cells to the last row."""
    head = [] if header is None else [[header]]
    return head + [[c] for c in cells] + [[""]] * (rows - len(cells) - len(head))


def _serial(days: np.ndarray) -> np.ndarray:
    return _SERIAL_DAY0 + (days * 86_400e9).astype("timedelta64[ns]")


def trivial_module() -> types.ModuleType:
    """One raw UDF per number of range arguments, returning only the number of rows: xlwings' cost."""
    import xlwings as xw

    mod = types.ModuleType("trivial_udfs")

    @xw.func
    @xw.arg("a", "raw")
    def TRIVIAL1(a):
        return len(a)

    @xw.func
    @xw.arg("a", "raw")
    @xw.arg("b", "raw")
    def TRIVIAL2(a, b):
        return len(a) + len(b)

    mod.TRIVIAL1, mod.TRIVIAL2 = TRIVIAL1, TRIVIAL2
    return mod


def flatten(columns: list[list[list[Any]]]) -> int:
    """The cheapest look at every cell: each range as a 1-D object array."""
    return sum(
        np.fromiter(itertools.chain.from_iterable(c), dtype=object, count=len(c) * len(c[0])).size
        for c in columns
    )


def cases(n: int, rng: np.random.Generator, rows: int = SHEET_ROWS) -> list[ColumnCase]:
    """Every Excel function that takes a column, with ``n`` values in columns of ``rows`` cells
    (a whole column by default; the rest empty)."""
    from kpi_xl import metrics as m

    def _column_of(header: str | None, cells: list[Any]) -> list[list[Any]]:
        return _column(header, cells, rows)

    def scores(hi: int, lo: int = 0) -> tuple[list[Any], np.ndarray]:
        # Numbers as Excel sends them; one answer in ten typed as text, 5% blank.
        x = rng.integers(lo, hi + 1, n).astype(float)
        blank = rng.random(n) < 0.05
        cells: list[Any] = ["" if b else int(v) for v, b in zip(x, blank, strict=True)]
        for i in range(0, n, 10):
            if cells[i] != "":
                cells[i] = str(cells[i])
        return cells, x[~blank]

    nps_cells, nps_x = scores(10)
    nps_b_cells, nps_b_x = scores(10)
    csat_cells, csat_x = scores(5, 1)
    ces_cells, ces_x = scores(7, 1)
    amounts = np.round(rng.gamma(2.0, 40.0, n), 2)
    ids = np.array([f"C{i:07d}" for i in rng.integers(0, n // 3 + 1, n)], dtype=object)
    # Whole seconds, so that the serials read back as the same instants on both sides.
    created = 45_000.0 + rng.integers(0, 300 * 86_400, n) / 86_400
    replied = created + rng.integers(60, 5 * 86_400, n) / 86_400
    flags = rng.random(n) < 0.1
    created_dt, replied_dt = _serial(created), _serial(replied)
    value = lambda r: r.value  # noqa: E731
    first = lambda r: r[0][0] if isinstance(r, list) else r  # noqa: E731
    return [
        ColumnCase("NPS", [_column_of("Score", nps_cells)], (), lambda: m.nps(nps_x), first, value),
        ColumnCase(
            "NPS_BREAKDOWN", [_column_of("Score", nps_cells)], (), lambda: m.nps(nps_x),
            lambda r: dict(r)["nps"], value,
        ),
        ColumnCase(
            "NPS_CI", [_column_of("Score", nps_cells)], (), lambda: m.nps(nps_x), first, lambda r: r.ci_low,
        ),
        ColumnCase(
            "NPS_DIFF", [_column_of("A", nps_cells), _column_of("B", nps_b_cells)], (),
            lambda: m.nps_diff(nps_x, nps_b_x), lambda r: r[1][0], lambda r: r.value,
        ),
        ColumnCase("CSAT", [_column_of("CSAT", csat_cells)], (), lambda: m.csat(csat_x), first, value),
        ColumnCase("CES", [_column_of("CES", ces_cells)], (), lambda: m.ces(ces_x), first, value),
        ColumnCase(
            "AOV", [_column_of("Amount", amounts.tolist())], (), lambda: m.average_order_value(amounts),
            first, value,
        ),
        ColumnCase(
            "REPEAT_RATE", [_column_of(None, ids.tolist())], (),
            lambda: m.repeat_purchase_rate(ids), first, value,
        ),
        ColumnCase(
            "FRT", [_column_of("Created", created.tolist()), _column_of("Replied", replied.tolist())], (),
            lambda: m.first_response_time(created_dt, replied_dt), first, value,
        ),
        ColumnCase(
            "REFUND_RATE", [_column_of("Refunded", flags.tolist())], (), lambda: m.refund_rate(flags),
            first, value,
        ),
        ColumnCase(
            "ADVOCACY_REVENUE_SHARE",
            [_column_of("Amount", amounts.tolist()), _column_of("Referred", flags.tolist())], (),
            lambda: m.advocacy_revenue_share(amounts, flags), first, value,
        ),
    ]  # fmt: skip


def measure(
    case: ColumnCase,
    call: Callable[..., Any],
    udfs: types.ModuleType,
    trivial: types.ModuleType,
    timer: Callable[..., tuple[list[float], list[Any]]],
    repeat: int,
) -> dict[str, Any]:
    """kpi-xl's call and its floor's three parts, alternating within each round (``timer``)."""
    args = [*case.columns, *case.extra]
    trivial_func = f"TRIVIAL{len(case.columns)}"
    runs = (
        lambda: call(udfs, case.func, *args),
        lambda: call(trivial, trivial_func, *case.columns),
        lambda: flatten(case.columns),
        case.engine,
    )
    # One call of each first: a function's first call in a process imports its engine family
    # (scipy for an interval or a p-value), a cost of the cold start (case ``startup``), not of
    # each recalculation; the floor's engine call, made after kpi-xl's, never paid it.
    for run in runs:
        run()
    (t_kpi, t_trivial, t_flat, t_engine), (got, _, _, want) = timer(repeat, *runs)
    got_v, want_v = case.result(got), case.want(want)
    same = isinstance(got_v, float) and abs(got_v - want_v) <= 1e-9 * max(1.0, abs(want_v))
    return {
        "func": case.func,
        "kpi_s": t_kpi,
        "floor_s": t_trivial + t_flat + t_engine,
        "parts": (t_trivial, t_flat, t_engine),
        "same": same,
        "got": got_v,
        "want": want_v,
    }


__all__ = ["ColumnCase", "cases", "flatten", "measure", "trivial_module", "SHEET_ROWS"]
