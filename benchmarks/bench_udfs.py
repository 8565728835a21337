"""Benchmark: kpi-xl's Excel functions through xlwings' Office.js runtime vs the engine alone.

Run from the repository root::

    python benchmarks/bench_udfs.py [--repeat 3] [--full-cdnow] [--default-converter]

It times, best of ``--repeat`` runs:

* ``NPS`` over a whole column (``B:B``, 1,048,576 cells) as Excel desktop sends it - a header, the
  answers (numbers, some stored as text, some blank) and empty cells ("") to the bottom of the sheet -
  once with 50,000 answers and once with the column full. "runtime" is
  ``xlwings.server.custom_functions_call``, the call xlwings Server and xlwings Lite make (argument
  conversion, the UDF, result conversion; not the HTTP/JSON transport). "engine" is
  :func:`kpi_xl.metrics.nps` on the answers alone.
* ``CLV_PREDICT`` over the CDNOW transactions (the 39-week calibration window of the sample, and
  with ``--full-cdnow`` the full 69,659-row file), against :func:`kpi_xl.metrics.predict_clv`.
* With ``--default-converter``: the same whole column through a one-line UDF that uses xlwings'
  default converter instead of ``"raw"`` - the cost kpi-xl avoids (tens of seconds; off by default).

This is a report, not a test: nothing is asserted, and the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import types
from collections.abc import Callable

# The runtime exists only when these are set before xlwings is imported (this is a script of its own).
os.environ.setdefault("XLWINGS_ON_SERVER", "true")
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xlwings as xw  # noqa: E402
import xlwings.server  # noqa: E402

from kpi_xl import metrics as m  # noqa: E402
from kpi_xl import udfs  # noqa: E402
from kpi_xl.datasets import load_cdnow_transactions  # noqa: E402

SHEET_ROWS = 1_048_576


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def call(module: types.ModuleType, func: str, *args: object) -> object:
    body = {
        "client": "Office.js",
        "version": xw.__version__,
        "runtime": "1.4",
        "func_name": func,
        "args": [a if a is None or isinstance(a, list) else [[a]] for a in args],
    }
    return asyncio.run(xlwings.server.custom_functions_call(body, module))


def survey_column(n_answers: int, rng: np.random.Generator) -> tuple[list[list], np.ndarray]:
    """A whole column as Office.js sends it, and the answers as the engine would get them."""
    answers = rng.integers(0, 11, n_answers).astype(float)
    answers[rng.random(n_answers) < 0.05] = np.nan  # blank cells among the answers
    cells: list[object] = [None if np.isnan(a) else int(a) for a in answers]
    for i in range(0, n_answers, 10):  # one answer in ten typed as text
        if cells[i] is not None:
            cells[i] = str(cells[i])
    # Excel desktop sends empty cells as "" (Excel on the web as null): the slower of the two.
    column = [["Score"]] + [["" if c is None else c] for c in cells] + [[""]] * (SHEET_ROWS - n_answers - 1)
    return column, answers


def serial(dates: pd.Series) -> list[float]:
    return ((dates - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)).tolist()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full-cdnow", action="store_true", help="also the full CDNOW file (69,659 rows)")
    ap.add_argument("--default-converter", action="store_true", help="also xlwings' default converter")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(2025)
    rows: list[tuple[str, int, float, float | None]] = []

    for n in (50_000, SHEET_ROWS - 1):
        column, answers = survey_column(n, rng)
        t_rt, got = best_of(args.repeat, lambda column=column: call(udfs, "NPS", column, None))
        t_en, want = best_of(args.repeat, lambda answers=answers: m.nps(answers).value)
        assert abs(got[0][0] - want) < 1e-9, (got, want)  # same number both ways, or the timing is moot
        rows.append((f"NPS, B:B with {n:,} answers", SHEET_ROWS, t_rt, t_en))

    if args.default_converter:
        naive = types.ModuleType("naive_udfs")

        @xw.func
        @xw.arg("scores", ndim=2)
        def NPS_DEFAULT(scores):
            """Reads the range with xlwings' default converter."""
            return len(scores)

        naive.NPS_DEFAULT = NPS_DEFAULT
        column, _ = survey_column(50_000, rng)
        t_rt, _ = best_of(1, lambda: call(naive, "NPS_DEFAULT", column))
        rows.append(("reading B:B with xlwings' default converter", SHEET_ROWS, t_rt, None))

    cdnow = load_cdnow_transactions()
    datasets = [("CDNOW sample, 39 weeks", cdnow[cdnow["date"] <= "1997-09-30"])]
    if args.full_cdnow:
        datasets.append(("CDNOW master, all", load_cdnow_transactions(sample=False)))
    for label, tx in datasets:
        ids = [["customer_id"]] + [[v] for v in tx["customer_id"].tolist()]
        dates = [["date"]] + [[v] for v in serial(tx["date"])]
        amounts = [["amount"]] + [[v] for v in tx["amount"].tolist()]
        t_rt, got = best_of(
            args.repeat,
            lambda ids=ids, dates=dates, amounts=amounts: call(
                udfs, "CLV_PREDICT", ids, dates, amounts, "week", 52
            ),
        )
        t_en, want = best_of(
            args.repeat,
            lambda tx=tx: m.predict_clv(
                tx["customer_id"], tx["date"], tx["amount"], time_unit="week", horizon=52
            ),
        )
        assert len(got) - 1 == len(want), (len(got), len(want))
        rows.append(
            (
                f"CLV_PREDICT, {label} ({len(tx):,} orders, {len(want):,} customers)",
                3 * (len(tx) + 1),
                t_rt,
                t_en,
            )
        )

    width = max(len(r[0]) for r in rows)
    print(f"xlwings {xw.__version__}, Office.js runtime 1.4; best of {args.repeat}\n")
    print(f"{'case':<{width}}  {'cells':>10}  {'runtime s':>9}  {'engine s':>9}  {'ratio':>6}")
    for case, cells, t_rt, t_en in rows:
        engine = f"{t_en:9.3f}" if t_en is not None else f"{'-':>9}"
        ratio = f"{t_rt / t_en:6.1f}" if t_en else f"{'-':>6}"
        print(f"{case:<{width}}  {cells:>10,}  {t_rt:9.3f}  {engine}  {ratio}")


if __name__ == "__main__":
    main()
