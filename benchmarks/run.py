"""The benchmark suite: kpi-xl against what a user would pick instead, same data, same answer.

Run from the repository root::

    python -m benchmarks.run                  # full sizes (about five minutes on 2 cores)
    python -m benchmarks.run --quick          # small sizes, under a minute: do the answers agree?
    python -m benchmarks.run --write benchmarks/RESULTS.md

Measurements (kpi-xl / the anchor):

``nps``       NPS of 1,048,576 scores (a full Excel column): the engine / the bare numpy floor
              (counting promoters and detractors in a clean float64 array).
``udf``       Every Excel function that takes a column, over whole columns (``B:B``) through
              xlwings' Office.js custom-function runtime / its floor: a one-line raw UDF taking
              the same ranges (xlwings' own cost), one look at every cell (flattening the ranges
              into object arrays) and the engine on the values as clean arrays
              (``benchmarks/udf_floors.py``).
``startup``   Fresh processes: ``kpi-xl --help`` / the bare interpreter; a cold Office.js
              runtime answering its first ``=NPS(...)`` / the same runtime answering a one-line
              UDF (importing xlwings, which imports pandas, included in both).
``segments``  NPS, CSAT and CES by segment of a 100k-answer sheet: the engine (reading the xlsx
              with calamine, and from memory) / LibreOffice recalculating the same sheet's
              COUNTIFS/AVERAGEIFS block headlessly (``../shared/tools/recalc.py``).
``clv``       BG/NBD + Gamma-Gamma fit and every prediction for the 23,570 CDNOW customers /
              lifetimes 0.11.3; log-likelihoods must agree to 1e-6 (relative). Also the RFM
              summary of the 69,659 CDNOW transactions.
``clv_family`` Pareto/NBD and MBG/NBD (CDNOW sample; MBG/NBD on the master at full size), BG/BB
              (donations) and the 39 + 39-week holdout check (CDNOW sample) / lifetimes 0.11.3:
              fit and predictions, which must agree to 1e-4 (relative). sBG has no lifetimes peer.
``scale``     BG/NBD + Gamma-Gamma on 250k, 500k and 1M synthetic customers with the same distinct
              (frequency, recency, T) patterns / lifetimes (one run per size): time, and memory of
              the fit on customers, of the compression to patterns, and of the fit on patterns.
``files``     ``kpi-xl report`` and ``kpi-xl clv`` on 1M and 10M generated orders, CSV and Parquet, on
              the DuckDB route (Ibis), fresh processes / the one-query floor (interpreter, import
              duckdb, one hand-written query; for clv plus kpi-xl's fits) and the pandas path
              (``benchmarks/bench_scale.py``, which also times the Spark route; --quick: 20k rows).
``refresh``   ``kpi-xl refresh`` of the template holding 100k responses, 50k customers, 500k orders
              and 50k tickets: time and peak memory of read, compute, write / LibreOffice
              recalculating the same book's native formulas (whose values must equal the engine's).
              Its floor, in a fresh process like ``refresh_workbook`` itself: calamine reading the
              data tabs, writing the cells refresh writes as sheet XML, and copying the package.
``build``     Building the template.

Each case runs in a fresh Python process (with one BLAS thread, unless ``OPENBLAS_NUM_THREADS``
is set), so its peak resident memory (RSS) is its own. Times are
medians of ``--repeat`` runs (kpi-xl, its floor and the anchor alternate, so all see the same
machine load); "alloc" memory is tracemalloc's peak of one extra run (numpy and Python
allocations, not the interpreter), "RSS" the process's peak resident set. Ratios are kpi-xl's
time / the floor's and kpi-xl's time / the anchor's, from the same run: below 1 against the
anchor, kpi-xl is faster. Each row carries the 1-minute load average at the start and end of its
case. Generated data go to ``--data`` and are reused.
This is a report, not a test; ``tests/test_benchmarks.py`` runs ``--quick`` for the agreement
checks only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECALC = REPO.parent / "shared" / "tools" / "recalc.py"
CASES = (
    "nps", "udf", "startup", "segments", "clv", "clv_family", "scale", "files", "refresh", "build", "actions",
)  # fmt: skip
SHEET_ROWS = 1_048_576
NOTES_MARKER = "<!-- analysis: kept as it is by benchmarks/run.py --write -->"

# Sizes: full, quick.
REFRESH_SIZES = {
    "full": {"responses": 100_000, "customers": 50_000, "orders": 500_000, "tickets": 50_000},
    "quick": {"responses": 5_000, "customers": 2_500, "orders": 25_000, "tickets": 2_500},
}
SURVEY_ROWS = {"full": 100_000, "quick": 5_000}
SCALE_SIZES = {"full": (250_000, 500_000, 1_000_000), "quick": (20_000, 40_000, 80_000)}


# --- measuring -----------------------------------------------------------------------------------


def median_times(repeat: int, *fns: Callable[[], Any]) -> tuple[list[float], list[Any]]:
    """Median wall time of each function over ``repeat`` rounds (the functions alternate within a
    round), and each one's last result."""
    times: list[list[float]] = [[] for _ in fns]
    results: list[Any] = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], results


def alloc_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak of memory allocated (numpy and Python objects) while ``fn`` runs, in MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def rss_mb() -> float:
    """This process's peak resident set so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_rss_mb() -> float:
    """Largest peak resident set among the finished child processes (and theirs), in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class PhaseMemory:
    """Peak resident memory per stretch of time, sampled from the kernel's high-water mark.

    The mark (VmHWM) is read and reset every few milliseconds, so a short spike is still seen; a
    sample is credited to the phase running when it was taken (phases are passed as start times).
    Linux only; elsewhere it reports nothing."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _hwm_mb() -> float | None:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    @staticmethod
    def _reset() -> None:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            mb = self._hwm_mb()
            if mb is not None:
                self.samples.append((time.perf_counter(), mb))
            self._reset()
            self._stop.wait(self.every)

    def __enter__(self) -> PhaseMemory:
        self._reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self, phases: list[tuple[str, float, float]]) -> dict[str, float]:
        """Peak MB in each (name, start, end) window. A sample holds the peak since the one
        before it, so the first sample after a window's end belongs to that window too."""
        out = {}
        for name, start, end in phases:
            inside = [mb for t, mb in self.samples if start < t <= end]
            after = next((mb for t, mb in self.samples if t > end), None)
            values = inside + ([after] if after is not None else [])
            out[name] = max(values) if values else float("nan")
        return out


def row(
    case: str,
    measure: str,
    size: str,
    kpi_s: float,
    kpi_mb: float | None,
    peer: str,
    peer_s: float | None,
    peer_mb: float | None,
    agree: str,
    target: str = "",
    ok: bool | None = None,
    mem: str = "alloc",
    note: str = "",
    floor: str = "-",
    floor_s: float | None = None,
) -> dict[str, Any]:
    return {
        "case": case,
        "measure": measure,
        "size": size,
        "kpi_s": kpi_s,
        "kpi_mb": kpi_mb,
        "peer": peer,
        "peer_s": peer_s,
        "peer_mb": peer_mb,
        "ratio": (peer_s / kpi_s) if peer_s and kpi_s else None,
        "floor": floor,
        "floor_s": floor_s,
        "vs_floor": (kpi_s / floor_s) if floor_s and kpi_s else None,
        "vs_peer": (kpi_s / peer_s) if peer_s and kpi_s else None,
        "agree": agree,
        "target": target,
        "ok": ok,
        "mem": mem,
        "note": note,
    }


# --- the cases -----------------------------------------------------------------------------------


def case_nps(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    import numpy as np

    from kpi_xl.metrics import nps

    scores = np.random.default_rng(2026).integers(0, 11, SHEET_ROWS).astype(np.float64)

    def floor() -> float:
        return (np.count_nonzero(scores >= 9) - np.count_nonzero(scores <= 6)) / scores.size * 100

    def engine() -> float:
        return nps(scores).value

    (t_kpi, t_floor), (v_kpi, v_floor) = median_times(max(repeat, 15), engine, floor)
    ratio = t_kpi / t_floor
    return [
        row(
            "nps",
            "NPS of a full column of clean float64 scores",
            "1,048,576 scores",
            t_kpi,
            alloc_peak_mb(engine),
            "-",
            None,
            None,
            f"same NPS ({v_kpi:.6f})" if abs(v_kpi - v_floor) < 1e-9 else f"DIFFER {v_kpi} vs {v_floor}",
            "engine within 2x of the floor",
            ratio <= 2,
            note=f"floor alloc {alloc_peak_mb(floor):.1f} MB",
            floor="numpy: 2 counts, no validation",
            floor_s=t_floor,
        )
    ]


def case_udf(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    # xlwings' custom-function runtime exists only when these are set before it is imported.
    os.environ.setdefault("XLWINGS_ON_SERVER", "true")
    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    import numpy as np

    from benchmarks import udf_floors
    from benchmarks.bench_udfs import call
    from kpi_xl import udfs

    trivial = udf_floors.trivial_module()
    # Each round is one call of about 0.1 s: a median of fewer than five moves with one collector or
    # page-fault pause (one round of `--repeat 3` gave =NPS(B:B) 0.11 s, five rounds 71-78 ms).
    rounds = 1 if quick else max(5, repeat)
    # --quick checks the answers on 20,000-row ranges; the full run reads whole columns.
    rows, sizes = (20_000, (5_000,)) if quick else (SHEET_ROWS, (50_000, SHEET_ROWS - 1))
    out = []
    for n in sizes:
        for case in udf_floors.cases(n, np.random.default_rng(2025), rows):
            # Every function over full columns; =NPS alone also with 50,000 answers in B:B.
            if n == 50_000 and case.func != "NPS":
                continue
            r = udf_floors.measure(case, call, udfs, trivial, median_times, rounds)
            t_trivial, t_flat, t_engine = r["parts"]
            out.append(
                row(
                    "udf",
                    f"={case.func}(B:B{', C:C' if len(case.columns) > 1 else ''}) through xlwings' "
                    "Office.js runtime",
                    f"{rows:,} cells, {n:,} values",
                    r["kpi_s"],
                    None,
                    "-",
                    None,
                    None,
                    "same as the engine" if r["same"] else f"DIFFER {r['got']} vs {r['want']}",
                    "within 2x of the floor",
                    r["kpi_s"] <= 2 * r["floor_s"],
                    note=f"floor = trivial raw UDF {_fmt_s(t_trivial)} + flattening the ranges "
                    f"{_fmt_s(t_flat)} + engine on clean arrays {_fmt_s(t_engine)}; xlwings' share of "
                    f"kpi-xl's call {100 * t_trivial / r['kpi_s']:.0f}%",
                    floor="raw UDF + flatten + engine",
                    floor_s=r["floor_s"],
                )
            )
    return out


_TRIVIAL_SERVER = """
import asyncio, os, sys, time, types
os.environ["XLWINGS_ON_SERVER"] = "true"
os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
import xlwings as xw
import xlwings.server
if sys.argv[1] == "kpi":
    from kpi_xl import udfs as module
    func = "NPS"
else:
    module = types.ModuleType("trivial")

    @xw.func
    @xw.arg("a", "raw")
    def NPS(a):
        return len(a)

    module.NPS, func = NPS, "NPS"
column = [["Score"]] + [[i % 11] for i in range(1000)]
body = {"client": "Office.js", "version": xw.__version__, "runtime": "1.4", "func_name": func,
        "args": [column]}
print(asyncio.run(xlwings.server.custom_functions_call(body, module)))
"""


def _fresh(argv: list[str]) -> float:
    """Wall seconds of a fresh Python process running ``argv`` (interpreter start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], capture_output=True, check=True, cwd=REPO)
    return time.perf_counter() - start


def case_startup(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    rounds = 1 if quick else max(3, repeat)
    (t_help, t_bare), _ = median_times(
        rounds, lambda: _fresh(["-m", "kpi_xl.cli", "--help"]), lambda: _fresh(["-c", "pass"])
    )
    (t_cold, t_trivial), _ = median_times(
        rounds,
        lambda: _fresh(["-c", _TRIVIAL_SERVER, "kpi"]),
        lambda: _fresh(["-c", _TRIVIAL_SERVER, "trivial"]),
    )
    return [
        row(
            "startup",
            "`kpi-xl --help` in a fresh process",
            "-",
            t_help,
            None,
            "-",
            None,
            None,
            "-",
            "under 0.3 s",
            t_help < 0.3,
            floor="`python -c pass`",
            floor_s=t_bare,
        ),
        row(
            "startup",
            "Cold Office.js runtime: import xlwings and kpi_xl.udfs, first =NPS(A1:A1001)",
            "1,001 cells",
            t_cold,
            None,
            "-",
            None,
            None,
            "-",
            "under 1 s",
            t_cold < 1,
            floor="import xlwings + a one-line UDF",
            floor_s=t_trivial,
        ),
    ]


def _lo_convert(src: Path, out_dir: Path, timeout: int) -> float:
    """Wall seconds for LibreOffice to open, recalculate (forced) and save ``src`` as xlsx."""
    sys.path.insert(0, str(RECALC.parent))
    try:
        import recalc
    finally:
        sys.path.pop(0)
    start = time.perf_counter()
    rc, log = recalc.convert(str(src), str(out_dir), "xlsx:Calc MS Excel 2007 XML", timeout)
    seconds = time.perf_counter() - start
    if not (out_dir / (src.stem + ".xlsx")).exists():
        raise RuntimeError(f"LibreOffice produced nothing (rc={rc}): {log[-300:]}")
    return seconds


def case_segments(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    import numpy as np
    import pandas as pd
    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    from benchmarks.data import SEGMENTS, survey_frame, survey_sheet
    from kpi_xl.metrics import segment_table

    n = SURVEY_ROWS["quick" if quick else "full"]
    path = data / f"survey_{n}.xlsx"
    if not path.exists():
        survey_sheet(path, n)

    def kpis(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
        out = {}
        for metric in ("nps", "csat", "ces"):
            table = segment_table(frame, metric, columns=metric, by="segment", total=False)
            out[metric] = dict(zip(table["group"], table["value"], strict=True))
        return out

    def from_file() -> dict[str, dict[str, float]]:
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Responses").to_python()
        grid = np.array(rows[1:], dtype=object)
        # Typed as a reader would: the score columns as numbers, empty cells ("") as blanks.
        cols = {"segment": grid[:, 0]}
        for j, key in enumerate(("nps", "csat", "ces"), start=1):
            cols[key] = np.array([np.nan if v == "" else v for v in grid[:, j]], dtype=float)
        return kpis(pd.DataFrame(cols))

    memory = pd.DataFrame(survey_frame(n))
    lo_times = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        t_file = []
        for _ in range(max(1, repeat // 2)):
            lo_times.append(_lo_convert(path, out_dir, 900))
            start = time.perf_counter()
            got = from_file()
            t_file.append(time.perf_counter() - start)
        (t_mem,), (got_mem,) = median_times(repeat, lambda: kpis(memory))
        lo_mb = children_rss_mb()
        ws = load_workbook(out_dir / (path.stem + ".xlsx"), data_only=True)["KPIs"]
        lo = {r[0]: r for r in ws.iter_rows(min_row=2, max_row=len(SEGMENTS) + 1, values_only=True)}
    worst = 0.0
    for i, metric in ((4, "nps"), (5, "csat"), (6, "ces")):
        for seg in SEGMENTS:
            for mine in (got, got_mem):
                worst = max(worst, abs(float(lo[seg][i]) - float(mine[metric][seg])))
    agree = f"same to {worst:.0e}" if worst < 1e-9 else f"DIFFER by {worst:g}"
    t_lo, t_read = statistics.median(lo_times), statistics.median(t_file)
    size = f"{n:,} answers, {len(SEGMENTS)} segments"
    return [
        row(
            "segments",
            "NPS, CSAT, CES by segment: read the xlsx (calamine) + engine",
            size,
            t_read,
            alloc_peak_mb(from_file),
            "LibreOffice recalculating the COUNTIFS sheet",
            t_lo,
            lo_mb,
            agree,
            "engine >= 10x faster than LibreOffice",
            t_lo / t_read >= 10,
            note="LibreOffice memory is its process's RSS",
        ),
        row(
            "segments",
            "NPS, CSAT, CES by segment: engine on the answers in memory",
            size,
            t_mem,
            alloc_peak_mb(lambda: kpis(memory)),
            "LibreOffice recalculating the COUNTIFS sheet",
            t_lo,
            lo_mb,
            agree,
            "engine >= 10x faster than LibreOffice",
            t_lo / t_mem >= 10,
        ),
    ]


def _quiet_lifetimes():
    import warnings

    warnings.filterwarnings("ignore")
    import lifetimes
    from lifetimes.utils import summary_data_from_transaction_data

    return lifetimes, summary_data_from_transaction_data


def _lifetimes_ll(lbg: Any, lgg: Any, f: Any, r: Any, T: Any, m: Any) -> tuple[float, float]:
    """lifetimes' own total log-likelihoods (BG/NBD, Gamma-Gamma) at its own optimum, on the
    unscaled data: what kpi-xl's ``log_likelihood_`` is compared with."""
    import numpy as np

    f, r, T, m = (np.asarray(v, dtype=float) for v in (f, r, T, m))
    rep = (f > 0) & (m > 0)
    bg_params = np.log(lbg.params_[["r", "alpha", "a", "b"]].to_numpy())
    gg_params = np.log(lgg.params_[["p", "q", "v"]].to_numpy())
    bg = -lbg._negative_log_likelihood(bg_params, f, r, T, np.ones(f.size), 0) * f.size
    gg = -lgg._negative_log_likelihood(gg_params, f[rep], m[rep], np.ones(rep.sum()), 0) * rep.sum()
    return float(bg), float(gg)


def case_clv(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    import numpy as np

    from kpi_xl.datasets import load_cdnow_transactions
    from kpi_xl.metrics import BetaGeoFitter, GammaGammaFitter, rfm_summary

    lifetimes, lt_summary = _quiet_lifetimes()
    tx = load_cdnow_transactions(sample=quick)
    label = f"CDNOW {'sample' if quick else 'master'}"

    def kpi_rfm():
        return rfm_summary(tx["customer_id"], tx["date"], tx["amount"], time_unit="week")

    def lt_rfm():
        # kpi-xl's "week" is elapsed days / 7 with purchases on distinct days (FHL 2005): lifetimes'
        # daily summary scaled by 7, not its calendar-week buckets.
        return lt_summary(tx, "customer_id", "date", monetary_value_col="amount", freq="D", freq_multiplier=7)

    (t_rfm, t_lt_rfm), (summary, lt_s) = median_times(max(1, repeat // 2), kpi_rfm, lt_rfm)
    same_rfm = np.allclose(
        summary[["frequency", "recency", "T"]].to_numpy(),
        lt_s.loc[summary.index, ["frequency", "recency", "T"]].to_numpy(),
    )
    # Series for both libraries (lifetimes' CLV needs them; kpi-xl then returns Series too).
    f, r, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    rep = (f > 0) & (m > 0)

    def kpi_models():
        bg = BetaGeoFitter().fit(f, r, T, time_unit="week")
        gg = GammaGammaFitter().fit(f, m)
        return (
            bg,
            gg,
            bg.conditional_expected_purchases(52, f, r, T),
            bg.probability_alive(f, r, T),
            gg.conditional_expected_average_profit(f, m),
            gg.customer_lifetime_value(bg, f, r, T, m, horizon=12 * 4.345, step=4.345, discount_rate=0.01),
        )

    def lt_models():
        bg = lifetimes.BetaGeoFitter().fit(f, r, T)
        gg = lifetimes.GammaGammaFitter().fit(f[rep], m[rep])
        return (
            bg,
            gg,
            bg.conditional_expected_number_of_purchases_up_to_time(52, f, r, T),
            bg.conditional_probability_alive(f, r, T),
            gg.conditional_expected_average_profit(f, m),
            gg.customer_lifetime_value(bg, f, r, T, m, time=12, discount_rate=0.01, freq="W"),
        )

    (t_kpi, t_lt), (mine, theirs) = median_times(repeat, kpi_models, lt_models)
    bg, gg = mine[0], mine[1]
    lbg, lgg = theirs[0], theirs[1]
    lt_bg_ll, lt_gg_ll = _lifetimes_ll(lbg, lgg, f, r, T, m)
    rel_bg = abs(bg.log_likelihood_ - lt_bg_ll) / abs(lt_bg_ll)
    rel_gg = abs(gg.log_likelihood_ - lt_gg_ll) / abs(lt_gg_ll)
    pred = max(
        float(
            np.max(
                np.abs(np.asarray(a, float) - np.asarray(b, float))
                / np.maximum(np.abs(np.asarray(b, float)), 1e-12)
            )
        )
        for a, b in zip(mine[2:], theirs[2:], strict=True)
    )
    ok_ll = rel_bg <= 1e-6 and rel_gg <= 1e-6
    agree = f"LL rel. diff BG/NBD {rel_bg:.0e}, GG {rel_gg:.0e}; predictions within {pred:.0e}"
    return [
        row(
            "clv",
            "RFM summary from transactions (weeks)",
            f"{label}: {len(tx):,} transactions",
            t_rfm,
            alloc_peak_mb(kpi_rfm),
            "lifetimes summary_data_from_transaction_data",
            t_lt_rfm,
            alloc_peak_mb(lt_rfm),
            "same frequency, recency, T" if same_rfm else "DIFFER",
        ),
        row(
            "clv",
            "BG/NBD + Gamma-Gamma: fit, and every prediction for every customer",
            f"{label}: {f.size:,} customers",
            t_kpi,
            alloc_peak_mb(kpi_models),
            "lifetimes 0.11.3",
            t_lt,
            alloc_peak_mb(lt_models),
            agree if ok_ll else "DIFFER: " + agree,
            ">= 3x faster; log-likelihoods equal to 1e-6",
            ok_ll and t_lt / t_kpi >= 3,
            note="predictions: expected purchases (52 weeks), P(alive), expected spend, 12-month CLV",
        ),
    ]


def _max_rel(pairs: list[tuple[Any, Any]]) -> float:
    """Largest relative difference over pairs of prediction arrays (values below 1e-6 compared
    absolutely: a 1e-9 expected purchase differs relatively for no reason that matters)."""
    import numpy as np

    out = 0.0
    for a, b in pairs:
        a, b = np.asarray(a, float), np.asarray(b, float)
        out = max(out, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6))))
    return out


def case_clv_family(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    from kpi_xl.datasets import load_cdnow_summary, load_cdnow_transactions, load_donations
    from kpi_xl.metrics import (
        BetaGeoBetaBinomFitter,
        ModifiedBetaGeoFitter,
        ParetoNBDFitter,
        clv_holdout,
        rfm_summary,
    )

    lifetimes, _ = _quiet_lifetimes()
    from lifetimes.utils import calibration_and_holdout_data

    rows = []
    sample = load_cdnow_summary()
    if quick:
        big, big_label = sample, "CDNOW sample"
    else:
        tx = load_cdnow_transactions(sample=False)
        tx = tx[tx["date"] <= "1997-09-30"]
        big = rfm_summary(tx["customer_id"], tx["date"], time_unit="week", observation_end="1997-09-30")
        big_label = "CDNOW master"
    for name, ours, theirs, d, label, tol in (
        ("Pareto/NBD", ParetoNBDFitter, lifetimes.ParetoNBDFitter, sample, "CDNOW sample", 1e-10),
        ("MBG/NBD", ModifiedBetaGeoFitter, lifetimes.ModifiedBetaGeoFitter, big, big_label, 1e-7),
    ):
        f, r, T = d["frequency"], d["recency"], d["T"]

        def kpi(ours=ours, f=f, r=r, T=T):
            m = ours().fit(f, r, T, time_unit="week")
            return m, m.conditional_expected_purchases(39, f, r, T), m.probability_alive(f, r, T)

        def lt(theirs=theirs, f=f, r=r, T=T, tol=tol):
            m = theirs().fit(f, r, T, tol=tol)
            return (
                m,
                m.conditional_expected_number_of_purchases_up_to_time(39, f, r, T),
                m.conditional_probability_alive(f, r, T),
            )

        (t_kpi, t_lt), (mine, other) = median_times(repeat, kpi, lt)
        diff = _max_rel(list(zip(mine[1:], other[1:], strict=True)))
        agree = f"predictions within {diff:.0e}"
        rows.append(
            row(
                "clv_family",
                f"{name}: fit, expected purchases (39 weeks) and P(alive)",
                f"{label}: {len(f):,} customers",
                t_kpi,
                None,
                "lifetimes 0.11.3",
                t_lt,
                None,
                agree if diff <= 1e-4 else "DIFFER: " + agree,
                "predictions equal to 1e-4",
            )  # fmt: skip
        )
    don = load_donations()
    args = (don["frequency"], don["recency"], don["periods"])

    def kpi_bgbb():
        m = BetaGeoBetaBinomFitter().fit(*args, weights=don["weights"])
        return m, m.conditional_expected_purchases(5, *args), m.probability_alive(*args, periods=1)

    def lt_bgbb():
        m = lifetimes.BetaGeoBetaBinomFitter().fit(*args, weights=don["weights"])
        return (
            m,
            m.conditional_expected_number_of_purchases_up_to_time(5, *args),
            m.conditional_probability_alive(1, *args),
        )

    (t_kpi, t_lt), (mine, other) = median_times(repeat, kpi_bgbb, lt_bgbb)
    diff = _max_rel(list(zip(mine[1:], other[1:], strict=True)))
    agree = f"predictions within {diff:.0e}"
    rows.append(
        row(
            "clv_family",
            "BG/BB: fit, expected transactions (5 periods) and P(alive)",
            "donations: 11,104 donors in 22 patterns",
            t_kpi,
            None,
            "lifetimes 0.11.3",
            t_lt,
            None,
            agree if diff <= 1e-4 else "DIFFER: " + agree,
            "predictions equal to 1e-4",
        )  # fmt: skip
    )
    tx = load_cdnow_transactions()

    def kpi_holdout():
        return clv_holdout(tx["customer_id"], tx["date"], holdout_start="1997-10-01", time_unit="week",
                           models=("bg/nbd",))  # fmt: skip

    def lt_holdout():
        s = calibration_and_holdout_data(
            tx[["customer_id", "date", "amount"]], "customer_id", "date", calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30", freq="D", freq_multiplier=7, monetary_value_col="amount",
        )  # fmt: skip
        bg = lifetimes.BetaGeoFitter().fit(s["frequency_cal"], s["recency_cal"], s["T_cal"])
        return bg.conditional_expected_number_of_purchases_up_to_time(
            s["duration_holdout"], s["frequency_cal"], s["recency_cal"], s["T_cal"]
        )

    (t_kpi, t_lt), (mine, other) = median_times(repeat, kpi_holdout, lt_holdout)
    diff = _max_rel([(mine.customers["predicted_bg/nbd"], other)])
    agree = f"holdout predictions within {diff:.0e}"
    rows.append(
        row(
            "clv_family",
            "Holdout check (39 + 39 weeks): split, BG/NBD fit, holdout predictions",
            "CDNOW sample: 6,919 transactions",
            t_kpi,
            None,
            "lifetimes calibration_and_holdout_data + fit",
            t_lt,
            None,
            agree if diff <= 1e-4 else "DIFFER: " + agree,
            "predictions equal to 1e-4",
            note="kpi-xl also gives errors, buckets and tracking",
        )  # fmt: skip
    )
    return rows


def case_scale(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    import numpy as np
    import pandas as pd

    from benchmarks.data import clv_customers
    from kpi_xl.metrics import BetaGeoFitter, GammaGammaFitter
    from kpi_xl.metrics.clv._inputs import _compress

    lifetimes, _ = _quiet_lifetimes()
    sizes = SCALE_SIZES["quick" if quick else "full"]
    base = clv_customers(sizes[0])
    out = []
    for n in sizes:
        # n customers = the base customers n / base times over, shuffled: the distinct
        # (frequency, recency, T) patterns, and (frequency, spend) pairs, stay exactly the same.
        order = np.random.default_rng(n).permutation(n)
        cols = {k: np.tile(v, n // sizes[0])[order] for k, v in base.items()}
        f, r, T, m = (cols[k] for k in ("frequency", "recency", "T", "monetary_value"))

        def fit(f=f, r=r, T=T, m=m):
            return BetaGeoFitter().fit(f, r, T, time_unit="week"), GammaGammaFitter().fit(f, m)

        def predict(models, f=f, r=r, T=T, m=m):
            bg, gg = models
            return (
                bg.conditional_expected_purchases(52, f, r, T),
                bg.probability_alive(f, r, T),
                # One year of weeks, discounted monthly (12 steps of 30.4375 days).
                gg.customer_lifetime_value(
                    bg, f, r, T, m, horizon=365.25 / 7, step="month", discount_rate=0.01
                ),
            )

        def both(f=f, r=r, T=T, m=m):
            models = fit(f, r, T, m)
            return models, predict(models, f, r, T, m)

        def lt(f=f, r=r, T=T, m=m):
            fs, rs, Ts, ms = (pd.Series(v) for v in (f, r, T, m))
            bg = lifetimes.BetaGeoFitter().fit(fs, rs, Ts)
            rep = (fs > 0) & (ms > 0)
            gg = lifetimes.GammaGammaFitter().fit(fs[rep], ms[rep])
            bg.conditional_expected_number_of_purchases_up_to_time(52, fs, rs, Ts)
            bg.conditional_probability_alive(fs, rs, Ts)
            gg.customer_lifetime_value(bg, fs, rs, Ts, ms, time=12, discount_rate=0.01, freq="W")
            return bg, gg

        (t_all,), ((models, _),) = median_times(repeat if n < 1_000_000 else max(1, repeat // 2), both)
        # lifetimes once per size (seconds to minutes), in the same run.
        (t_lt,), (lt_models,) = median_times(1, lt)
        lt_mb = None if quick else alloc_peak_mb(lt)
        ll_bg, ll_gg = _lifetimes_ll(*lt_models, f, r, T, m)
        rel = max(
            abs(models[0].log_likelihood_ - ll_bg) / abs(ll_bg),
            abs(models[1].log_likelihood_ - ll_gg) / abs(ll_gg),
        )
        patterns, weights = _compress((f, r, T), np.ones(n))
        n_patterns = patterns[0].size

        def fit_on_patterns(patterns=patterns, weights=weights):
            x, tx, age = patterns
            return BetaGeoFitter().fit(x, tx, age, weights=weights, time_unit="week")

        mem_all, mem_fit = alloc_peak_mb(both), alloc_peak_mb(fit)
        mem_compress = alloc_peak_mb(lambda f=f, r=r, T=T: _compress((f, r, T), np.ones(f.size)))
        mem_patterns = alloc_peak_mb(fit_on_patterns)
        agree = f"LL rel. diff {rel:.0e}" if rel <= 1e-6 else f"DIFFER: LL rel. diff {rel:.0e}"
        out.append(
            row(
                "scale",
                "BG/NBD + Gamma-Gamma fit and predictions (synthetic, weeks)",
                f"{n:,} customers, {n_patterns:,} patterns",
                t_all,
                mem_all,
                "lifetimes 0.11.3 (one run)",
                t_lt,
                lt_mb,
                agree,
                "1M customers: fit + predict < 5 s" if n == 1_000_000 else "",
                t_all < 5 if n == 1_000_000 else None,
                note=(
                    f"alloc peak MB: fit {mem_fit:.0f}, of which compressing customers to patterns "
                    f"{mem_compress:.0f}; the fit on the patterns alone {mem_patterns:.1f}; fit and "
                    f"predictions {mem_all:.0f} (the predictions are {n:,}-row outputs)"
                ),
            )
        )
    return out


def _refresh_child(path: str) -> None:
    """In a fresh process: refresh ``path``, print timings and peak RSS per phase as JSON."""
    from kpi_xl.workbook import refresh_workbook

    start, cpu = time.perf_counter(), time.process_time()
    with PhaseMemory() as mem:
        report = refresh_workbook(path)
    end, cpu = time.perf_counter(), time.process_time() - cpu
    phases, t = [], start
    # The report's timings are consecutive; what is not in them (checks, lock) comes first.
    steps = list(report.timings.items())
    lead = (end - start) - sum(s for _, s in steps)
    phases.append(("checks", t, t + lead))
    t += lead
    for name, seconds in steps:
        phases.append((name, t, t + seconds))
        t += seconds
    print(
        json.dumps(
            {
                "timings": {"checks": lead, **report.timings},
                "peaks": mem.peaks(phases),
                "rss": rss_mb(),
                "rows": report.rows_read,
                "seconds": end - start,
                "cpu": cpu,
            }
        )
    )


def _sheet_xml(rows: list[list[Any]]) -> bytes:
    """A sheet's ``<sheetData>`` holding these values (numbers, inline text, dates as serials)."""
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i + 1) for i in range(max((len(r) for r in rows), default=0))]
    out = ["<sheetData>"]
    for r, line in enumerate(rows, start=1):
        cells = []
        for c, v in enumerate(line):
            if v is None or v == "":
                continue
            ref = f"{letters[c]}{r}"
            if isinstance(v, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v!r}</v></c>')
            elif isinstance(v, dt.date):
                d = v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
                serial = (d - dt.datetime(1899, 12, 30)).total_seconds() / 86_400
                cells.append(f'<c r="{ref}" s="1"><v>{serial!r}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        if cells:
            out.append(f'<row r="{r}">{"".join(cells)}</row>')
    out.append("</sheetData>")
    return "".join(out).encode()


def _refresh_floor_child(path: str, job: str) -> None:
    """In a fresh process, timed like :func:`_refresh_child`: calamine reading the data tabs, the
    cells refresh writes serialised as sheet XML and deflated, and the package copied."""
    import pickle
    import zlib

    from python_calamine import CalamineWorkbook

    work = pickle.loads(Path(job).read_bytes())
    start = time.perf_counter()
    book = CalamineWorkbook.from_path(path)
    rows = sum(len(book.get_sheet_by_name(name).to_python()) for name in work["data"])
    read = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.xlsm"
        shutil.copyfile(path, copy)
        with copy.open("ab") as fh:  # the new parts' compressed bytes, as a package writer adds them
            for sheet in work["owned"].values():
                z = zlib.compressobj(6, zlib.DEFLATED, -15)
                fh.write(z.compress(_sheet_xml(sheet)) + z.flush())
        end = time.perf_counter()
    print(json.dumps({"read": read - start, "write": end - read, "seconds": end - start, "rows": rows}))


def case_refresh(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    from openpyxl.utils import range_boundaries
    from python_calamine import CalamineWorkbook

    from benchmarks.data import report_workbook
    from kpi_xl.workbook import expected_values

    sizes = REFRESH_SIZES["quick" if quick else "full"]
    path = data / ("report_{responses}_{customers}_{orders}_{tickets}.xlsm".format(**sizes))
    if not path.exists():
        report_workbook(path, **sizes)
    runs, cli, floors = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "kpi_report.xlsm"
        job = Path(tmp) / "floor.pickle"
        for i in range(max(1, repeat // 2)):
            shutil.copy(path, book)
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.run", "--refresh-child", str(book)],
                capture_output=True,
                text=True,
                cwd=REPO,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if i == 0:
                _floor_job(path, book, job)
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.run", "--refresh-floor-child", str(path), str(job)],
                capture_output=True,
                text=True,
                cwd=REPO,
                check=True,
            )
            floors.append(json.loads(done.stdout.strip().splitlines()[-1]))
            shutil.copy(path, book)
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "kpi_xl.cli", "refresh", str(book)], capture_output=True, check=True
            )
            cli.append(time.perf_counter() - start)
        # The anchor: LibreOffice recalculating the refreshed book's native formulas.
        lo_dir = Path(tmp) / "lo"
        lo_dir.mkdir()
        t_lo = _lo_convert(book, lo_dir, 1800)
        lo_mb = children_rss_mb()
        want = expected_values(book)
        # LibreOffice's values, read back with calamine (the result holds every data row too).
        result = CalamineWorkbook.from_path(str(lo_dir / (book.stem + ".xlsx")))
        grids: dict[str, list[list[Any]]] = {}
        wrong = 0
        for (sheet, coord), value in want.items():
            if sheet not in grids:
                grids[sheet] = result.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            c0, r0, _, _ = range_boundaries(coord)
            g = grids[sheet]
            v = g[r0 - 1][c0 - 1] if r0 - 1 < len(g) and c0 - 1 < len(g[r0 - 1]) else None
            if value in (None, ""):
                wrong += v not in (None, "")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                wrong += not (isinstance(v, (int, float)) and abs(v - value) <= 1e-9 * max(1.0, abs(value)))
            elif isinstance(value, dt.date):
                # calamine gives a date for a date cell at midnight, the engine a datetime.
                if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                    v = dt.datetime.combine(v, dt.time())
                wrong += v != value
            else:
                wrong += v != value
    med = {k: statistics.median(r["timings"][k] for r in runs) for k in runs[0]["timings"]}
    peaks = {k: max(r["peaks"][k] for r in runs) for k in runs[0]["peaks"]}
    total = statistics.median(r["seconds"] for r in runs)
    floor = {k: statistics.median(f[k] for f in floors) for k in ("read", "write", "seconds")}
    t_cli = statistics.median(cli)
    cpu = statistics.median(r["cpu"] for r in runs)
    read = med["load"] + med["read"]
    write = med["write"] + med["save"]
    size = "{responses:,} responses, {customers:,} customers, {orders:,} orders, {tickets:,} tickets".format(
        **sizes
    )
    split = (
        f"checks {med['checks']:.1f} s; read {read:.1f} s (peak {max(peaks['load'], peaks['read']):.0f} MB); "
        f"compute {med['compute']:.1f} s (peak {peaks['compute']:.0f} MB); write {write:.1f} s "
        f"(peak {max(peaks['write'], peaks['save']):.0f} MB); `kpi-xl refresh` end to end {t_cli:.1f} s"
    )
    return [
        row(
            "refresh",
            "Headless refresh of the template (kpi-xl refresh)",
            size,
            t_cli,
            max(max(r["peaks"].values()) for r in runs),
            "LibreOffice recalculating the book's native formulas",
            t_lo,
            lo_mb,
            f"{len(want) - wrong} of {len(want)} formula cells equal the engine",
            "under 20 s end to end",
            t_cli < 20 and wrong == 0,
            mem="RSS",
            note=f"{split}; refresh_workbook alone {total:.1f} s ({cpu:.1f} s of CPU), "
            f"{total / floor['seconds']:.1f}x its floor ({floor['seconds']:.1f} s: calamine reading the data "
            f"tabs {floor['read']:.1f} s, writing the same cells as sheet XML and copying the package "
            f"{floor['write']:.2f} s), measured the same way (in-process, each in a fresh process)",
            floor="read + write + copy (fresh process)",
            floor_s=floor["seconds"],
        )
    ]


def _floor_job(original: Path, refreshed: Path, job: Path) -> None:
    """What the refresh floor reads and writes: the original's data tab names, and the cells of
    every sheet refresh owns as the refreshed book holds them."""
    import pickle

    from python_calamine import CalamineWorkbook

    from kpi_xl.workbook.layout import DATA_SHEETS, OWNED
    from kpi_xl.workbook.refresh import _load

    _, _, names = _load(original)
    book = CalamineWorkbook.from_path(str(refreshed))
    owned = {
        names[k]: book.get_sheet_by_name(names[k]).to_python(skip_empty_area=False)
        for k in sorted(OWNED)
        if k in names
    }
    job.write_bytes(pickle.dumps({"data": [names[k] for k in DATA_SHEETS], "owned": owned}))


def case_build(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    from kpi_xl.workbook import build_template

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "kpi_report.xlsm"
        (t_build,), _ = median_times(repeat, lambda: build_template(target, overwrite=True))
        mem = alloc_peak_mb(lambda: build_template(target, overwrite=True))
        cold = []
        for _ in range(max(1, repeat // 2)):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "kpi_xl.cli", "template", "-o", str(target), "--force"],
                capture_output=True,
                check=True,
            )
            cold.append(time.perf_counter() - start)
    t_cold = statistics.median(cold)
    return [
        row(
            "build",
            "Build the template (demo data, formulas, charts, VBA button)",
            "en, 8,633 demo rows",
            t_build,
            mem,
            "-",
            None,
            None,
            "-",
            "under 3 s",
            t_build < 3 and t_cold < 3,
            note=f"`kpi-xl template` in a fresh process (imports included): {t_cold:.2f} s",
        )
    ]


def case_files(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    """Files beyond Excel on the DuckDB route against the one-query floor and the pandas path (see
    ``benchmarks/bench_scale.py``, which also times the Spark route and an earlier tree)."""
    from benchmarks.bench_scale import case_files as files

    return files(quick, repeat, data, row)


def case_actions(quick: bool, repeat: int, data: Path) -> list[dict[str, Any]]:
    """Comment themes over 100,000 comments and the follow-up join over 1,000,000 orders (see
    ``benchmarks/bench_actions.py``)."""
    from benchmarks.bench_actions import case_actions as actions

    return actions(quick, repeat, data, row)


RUNNERS = {
    "nps": case_nps,
    "udf": case_udf,
    "startup": case_startup,
    "segments": case_segments,
    "clv": case_clv,
    "clv_family": case_clv_family,
    "scale": case_scale,
    "refresh": case_refresh,
    "build": case_build,
    "files": case_files,
    "actions": case_actions,
}


# --- the report ----------------------------------------------------------------------------------


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.2f} ms" if s < 0.1 else f"{s:.2f} s"


def _fmt_mb(mb: float | None, kind: str) -> str:
    if mb is None:
        return "-"
    return f"{mb:.1f} MB {kind}" if mb < 10 else f"{mb:.0f} MB {kind}"


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    head = (
        "| measurement | size | kpi-xl time | kpi-xl memory | floor | floor time | kpi-xl / floor | anchor "
        "| anchor time | anchor memory | kpi-xl / anchor | answers | target | load |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        vs_floor = f"{r['vs_floor']:.1f}x" if r.get("vs_floor") is not None else "-"
        vs_peer = f"{r['vs_peer']:.2f}x" if r.get("vs_peer") is not None else "-"
        target = (
            r["target"] + (" ✅" if r["ok"] else " ❌" if r["ok"] is False else "") if r["target"] else ""
        )
        anchor_mem = "RSS" if r["case"] in ("segments", "refresh") else "alloc"
        lines.append(
            f"| {r['measure']} | {r['size']} | {_fmt_s(r['kpi_s'])} | {_fmt_mb(r['kpi_mb'], r['mem'])} | "
            f"{r.get('floor', '-')} | {_fmt_s(r.get('floor_s'))} | {vs_floor} | "
            f"{r['peer']} | {_fmt_s(r['peer_s'])} | {_fmt_mb(r['peer_mb'], anchor_mem)} | {vs_peer} | "
            f"{r['agree']} | {target} | {r.get('load', '')} |"
        )
    notes = [f"- {r['measure']} ({r['size']}): {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines) + ("\n\nNotes:\n" + "\n".join(notes) if notes else "")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = f", {int(fh.readline().split()[1]) / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for name in ("numpy", "pandas", "scipy", "openpyxl", "python_calamine", "xlwings", "lifetimes"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name.replace('_', '-'))}")
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            continue
    lo = ""
    soffice = shutil.which("soffice")
    if soffice:
        done = subprocess.run([soffice, "--version"], capture_output=True, text=True, check=False)
        lo = "; " + " ".join(done.stdout.split()[:2])
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}; "
        f"Python {platform.python_version()}; " + ", ".join(versions) + lo
    )


def run_case(name: str, quick: bool, repeat: int, data: Path, timeout: float) -> list[dict[str, Any]]:
    """One case in a fresh Python process; its rows, or one row saying why it failed."""
    argv = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--case",
        name,
        "--repeat",
        str(repeat),
        "--data",
        str(data),
    ]
    if quick:
        argv.append("--quick")
    # One BLAS thread for both sides unless told otherwise: neither kpi-xl nor lifetimes does matrix
    # algebra big enough to gain from threads, and on a busy 2-core machine OpenBLAS's idle-spinning
    # threads made a 20 ms CLV fit take 20-290 ms at random (see RESULTS.md).
    env = {**os.environ}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    load_before = os.getloadavg()[0]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return [row(name, f"{name}: timed out after {timeout:.0f} s", "", 0.0, None, "-", None, None, "-")]
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [row(name, f"{name}: FAILED ({why[:200]})", "", 0.0, None, "-", None, None, "-")]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    # The machine is shared: the load says how far the absolute times are to be trusted.
    load = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
    return [{**r, "load": load} for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: checks that the answers agree")
    ap.add_argument("--repeat", type=int, default=None, help="runs per median (default 5, --quick 1)")
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    ap.add_argument("--data", type=Path, default=REPO / "benchmarks" / ".data", help="generated data")
    ap.add_argument("--write", type=Path, help="also write the table, date and machine to this file")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--refresh-child", help=argparse.SUPPRESS)
    ap.add_argument("--refresh-floor-child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    repeat = a.repeat if a.repeat is not None else (1 if a.quick else 5)
    if a.refresh_child:
        _refresh_child(a.refresh_child)
        return 0
    if a.refresh_floor_child:
        _refresh_floor_child(*a.refresh_floor_child)
        return 0
    if a.case:
        a.data.mkdir(parents=True, exist_ok=True)
        rows = RUNNERS[a.case](a.quick, repeat, a.data)
        print(json.dumps(rows))
        return 0
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name in a.cases:
        t = time.perf_counter()
        rows += run_case(name, a.quick, repeat, a.data, a.timeout)
        print(f"{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    minutes = (time.perf_counter() - started) / 60
    if a.write:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        command = f"python -m benchmarks.run {'--quick ' if a.quick else ''}--write {a.write}"
        mode = "--quick" if a.quick else "full sizes"
        # The hand-written analysis below the marker (before/after, profiles of misses) is kept.
        kept = ""
        if a.write.exists() and NOTES_MARKER in a.write.read_text():
            kept = a.write.read_text()[a.write.read_text().index(NOTES_MARKER) :]
        a.write.write_text(
            f"# Benchmark results\n\n`{command}` ({mode}, medians of {repeat}), {stamp}, "
            f"{minutes:.0f} min.\n\nMachine: {machine()}.\n\n{text}\n\n{kept}"
        )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1, default=str))
    failed = [r for r in rows if "FAILED" in r["measure"] or "DIFFER" in str(r["agree"])]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
