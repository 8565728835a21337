"""Benchmark: time and peak memory of ``kpi-xl report`` and ``kpi-xl clv`` on generated order files,
on the pandas path and the DuckDB path, and the ratio DuckDB / pandas.

Not a test: run it by hand.

    python benchmarks/bench_cli.py                       # 100k, 1M and 10M order rows
    python benchmarks/bench_cli.py --sizes 100k 1m       # quicker
    python benchmarks/bench_cli.py --sizes 100k --keep   # keep the generated files (in --folder)

Each measurement runs in a fresh Python process (``kpi_xl.cli.main``), so peak memory is that
process's maximum resident set size and includes the interpreter and imports (~150 MB). Each size
is one CSV shaped like a shop's order export (order id, customer, date, amount, channel, region,
product, status), with customers, dates and amounts drawn from the BG/NBD and Gamma-Gamma models
with the published CDNOW parameters over 78 weeks (see :func:`generate`). It is kept in ``--folder``
and reused while it exists (deleted after the run unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
WEEKS = 78
START = np.datetime64("2024-01-01")


def generate(rows: int, path: Path, seed: int = 2026) -> None:
    """Write exactly ``rows`` orders drawn from the BG/NBD + Gamma-Gamma process with the published
    CDNOW parameters (purchase rates, dropout, spend), so that the models have something to fit.

    Customers make a first purchase in the first 12 weeks, then repeat purchases as a Poisson process
    until they drop out (after each repeat purchase, with probability p) or the 78 weeks end. The
    customer count is set for about three orders each; surplus repeat orders are dropped at random,
    and a shortfall is made up with one-purchase customers.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    customers = max(rows // 3, 1)
    first = rng.integers(0, 12 * 7, customers)
    window = (WEEKS * 7 - first) / 7.0
    lam = rng.gamma(0.243, 1 / 4.414, customers)
    p = rng.beta(0.793, 2.426, customers)
    max_repeats = rng.geometric(np.clip(p, 1e-9, 1))
    arrivals = rng.poisson(lam * window)
    repeats = np.minimum(arrivals, max_repeats)
    # The first `repeats` of `arrivals` uniform times in the window: sort each customer's times.
    owner = np.repeat(np.arange(customers), arrivals)
    times = rng.random(owner.size) * window[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    keep = rank < repeats[owner]
    owner, times = owner[keep], times[keep]
    surplus = customers + owner.size - rows
    if surplus > 0:
        kept = np.sort(rng.choice(owner.size, owner.size - surplus, replace=False))
        owner, times = owner[kept], times[kept]
    elif surplus < 0:
        extra = -surplus
        first = np.concatenate([first, rng.integers(0, 12 * 7, extra)])
        customers += extra
    cust = np.concatenate([np.arange(customers), owner])
    day = np.concatenate([first, first[owner] + (times * 7).astype(np.int64)])
    spend_scale = rng.gamma(3.74, 1 / 15.44, customers)
    amount = np.round(rng.gamma(6.25, 1 / spend_scale[cust]), 2)
    order = np.argsort(day, kind="stable")
    # The columns a shop export carries besides the three the models need: the pandas path reads
    # them all, the DuckDB path only the columns it uses.
    channels = np.array(["web", "app", "store", "phone"])
    regions = np.array(["Nord", "Süd", "Ost", "West", "Mitte"])
    statuses = np.array(["shipped", "delivered", "returned", "cancelled"])
    table = pa.table(
        {
            "order_id": pa.array(np.char.add("O", np.arange(rows).astype(str))),
            "customer_id": pa.array(np.char.add("C", cust[order].astype(str))),
            "date": pa.array((START + day[order].astype("timedelta64[D]")).astype("datetime64[D]")),
            "amount": pa.array(amount[order]),
            "channel": pa.array(channels[rng.integers(0, channels.size, rows)]),
            "region": pa.array(regions[rng.integers(0, regions.size, rows)]),
            "product": pa.array(np.char.add("SKU-", rng.integers(1000, 9999, rows).astype(str))),
            "status": pa.array(statuses[rng.choice(statuses.size, rows, p=[0.2, 0.7, 0.07, 0.03])]),
        }
    )
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp)
    tmp.replace(path)


def child(argv: list[str]) -> None:
    """Run one kpi-xl command in this process and print its time and peak memory as JSON."""
    from kpi_xl import cli

    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            code = cli.main(argv)
        finally:
            sys.stdout = stdout
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"code": code, "seconds": seconds, "peak_mb": peak_kb / 1024}))


def measure(argv: list[str], timeout: float) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        return {
            "code": done.returncode,
            "seconds": float("nan"),
            "peak_mb": float("nan"),
            "error": done.stderr[-400:],
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="file sizes to run"
    )
    parser.add_argument("--commands", nargs="+", default=["report", "clv"], choices=["report", "clv"])
    parser.add_argument("--engines", nargs="+", default=["pandas", "duckdb"], choices=["pandas", "duckdb"])
    parser.add_argument(
        "--folder", type=Path, default=Path("benchmarks/.data"), help="where generated files go"
    )
    parser.add_argument("--keep", action="store_true", help="keep generated files after the run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement (default 3600)")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)

    rows_out = []
    print(f"{'rows':>10}  {'command':<7} {'engine':<7} {'seconds':>9} {'peak MB':>9}", flush=True)
    for size in args.sizes:
        n = SIZES[size]
        path = args.folder / f"orders_{size}.csv"
        if not path.exists():
            t = time.perf_counter()
            generate(n, path)
            size_mb = path.stat().st_size / 1e6
            print(f"generated {path} ({size_mb:,.0f} MB) in {time.perf_counter() - t:.1f} s", flush=True)
        for command in args.commands:
            argv = ["report", str(path)] if command == "report" else [
                "clv", str(path), "--time-unit", "week", "--horizon", "12"]  # fmt: skip
            got = {}
            for engine in args.engines:
                r = measure([*argv, "--engine", engine, "--quiet"], args.timeout)
                got[engine] = r
                note = "" if r["code"] == 0 else f"  FAILED (exit {r['code']}): {r.get('error', '')}"
                print(
                    f"{n:>10,}  {command:<7} {engine:<7} {r['seconds']:>9.2f} {r['peak_mb']:>9.0f}{note}",
                    flush=True,
                )
                rows_out.append({"rows": n, "command": command, "engine": engine, **r})
            if {"pandas", "duckdb"} <= set(got):
                p, d = got["pandas"], got["duckdb"]
                print(f"{'':>10}  {command:<7} {'ratio':<7} {d['seconds'] / p['seconds']:>9.2f} "
                      f"{d['peak_mb'] / p['peak_mb']:>9.2f}   (DuckDB / pandas)", flush=True)  # fmt: skip
        if not args.keep:
            path.unlink()
    (args.folder / "results.json").write_text(json.dumps(rows_out, indent=2))


if __name__ == "__main__":
    main()
