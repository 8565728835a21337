"""Benchmark: the files route beyond Excel (DuckDB through Ibis) against the one-query floor, the
pandas path, and the Spark route, on generated order files (CSV and Parquet).

Every measurement is a fresh process timed from outside (interpreter start included), with its own
peak memory (``os.wait4``):

* ``kpi-xl``: ``python -m kpi_xl.cli report|clv FILE --engine duckdb`` (JSON output kept to check
  the answer);
* the floor: ``python -c "import duckdb; duckdb.sql(QUERY).fetchnumpy()"`` with one hand-written
  query computing what the engine needs (per-customer orders, revenue and squares for ``report``;
  the weekly RFM patterns with their customer counts for ``clv``, followed by kpi-xl's own BG/NBD and
  Gamma-Gamma fits on them, as the issue measured it);
* the pandas path: the same command with ``--engine pandas``;
* with ``--before DIR``: the same command run from another kpi-xl tree (the code before a change).

Runs alternate (kpi-xl, floor, ...) so that a busy machine slows both alike; the median of
``--repeat`` runs is shown. The Spark route (``--spark``) is timed for the record in one process:
session start, the report's order metrics and the CLV fit on a Parquet file registered as a view.

    python -m benchmarks.bench_scale --quick                 # 100k rows, CSV: a minute
    python -m benchmarks.bench_scale --sizes 1m 10m --formats csv parquet --spark
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = {"20k": 20_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}

_REPORT_FLOOR = """
import duckdb
got = duckdb.sql('''SELECT count(*) AS orders, sum(amount) AS revenue, sum(amount * amount) AS squares
FROM {source} GROUP BY customer_id''').fetchnumpy()
import json
print(json.dumps({{"customers": int(len(got["orders"])), "orders": int(got["orders"].sum()),
                  "revenue": float(got["revenue"].sum())}}))
"""

_CLV_FLOOR = """
import duckdb
got = duckdb.sql('''
WITH d AS (SELECT customer_id, CAST(date AS DATE) AS day, sum(amount) AS a FROM {source} GROUP BY 1, 2),
c AS (SELECT customer_id, count(*) - 1 AS f, (max(day) - min(day)) / 7.0 AS r,
      ((SELECT max(day) FROM d) - min(day)) / 7.0 AS t,
      CASE WHEN count(*) > 1 THEN (sum(a) - arg_min(a, day)) / (count(*) - 1) ELSE 0 END AS m
      FROM d GROUP BY 1)
SELECT f, r, t, m, count(*) AS w FROM c GROUP BY ALL ORDER BY ALL''').fetchnumpy()
from kpi_xl.metrics import BetaGeoFitter, GammaGammaFitter
bg = BetaGeoFitter().fit(got["f"], got["r"], got["t"], weights=got["w"], time_unit="week")
gg = GammaGammaFitter().fit(got["f"], got["m"], weights=got["w"])
import json
print(json.dumps({{"r": float(bg.params_["r"]), "alpha": float(bg.params_["alpha"]),
                  "customers": int(got["w"].sum()), "patterns": int(len(got["w"]))}}))
"""


def _source(path: Path) -> str:
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    return f"{reader}('{path}')"


def run_child(argv: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Wall time, peak memory (MB) and stdout of one fresh process, started in the folder of the tree
    its ``PYTHONPATH`` names: ``python -m`` puts the working folder first on the path, so a child
    started in another checkout would import that one's kpi_xl (a --before run measured the tree
    it was started from)."""
    cwd = (env or {}).get("PYTHONPATH") or None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                raise TimeoutError(" ".join(argv))
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "seconds": seconds,
            "peak_mb": usage.ru_maxrss / 1024,
            "code": proc.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace")[-600:],
        }


def _env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree or Path(__file__).resolve().parent.parent)
    # An installed kpi-xl runs from compiled bytecode (pip compiles it; see _compiled): a checkout
    # started under PYTHONDONTWRITEBYTECODE would compile kpi-xl's own modules on every start
    # (about 0.1 s), which no user pays and the floor (site-packages only) never does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _compiled(tree: Path | None) -> None:
    """Compile a tree's kpi_xl package to bytecode once, as installing it does."""
    import compileall

    compileall.compile_dir(str((tree or Path(__file__).resolve().parent.parent) / "kpi_xl"), quiet=1)


def _kpi(command: str, path: Path, engine: str, tree: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "kpi_xl.cli", command, str(path), "--engine", engine, "--quiet"]
    if command == "clv":
        argv += ["--time-unit", "week", "--horizon", "12"]
    return [*argv, "--format", "json"]


def _floor(command: str, path: Path, *, ibis: bool = False) -> list[str]:
    """The one-query floor; with ``ibis``, the same query after ``import ibis``: the least any route
    written in Ibis expressions (issue 14's choice) can take, whatever it computes."""
    code = (_REPORT_FLOOR if command == "report" else _CLV_FLOOR).format(source=_source(path))
    return [sys.executable, "-c", ("import ibis\n" if ibis else "") + code]


def _agree(command: str, kpi: dict[str, Any], floor: dict[str, Any]) -> str:
    """The answer checked against the floor's own figures."""
    try:
        got = json.loads(kpi["stdout"])
        want = json.loads(floor["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "no output"
    if command == "report":
        value = {r["metric"]: r for r in got["results"]}["purchase_frequency"]["value"]
        ok = abs(value - want["orders"] / want["customers"]) < 1e-9 * value
        return f"purchase frequency {'=' if ok else '!='} floor's orders/customers"
    bg = {p["parameter"]: p["estimate"] for p in got["parameters"] if p["model"] == "BG/NBD"}
    ok = abs(bg["r"] / want["r"] - 1) < 1e-5 and abs(bg["alpha"] / want["alpha"] - 1) < 1e-5
    return f"BG/NBD r, alpha {'=' if ok else '!='} floor's fit ({want['patterns']:,} patterns)"


def spark_route(path: Path) -> dict[str, float]:
    """Seconds of the Spark route in one process: session start, the report's order metrics, the
    CLV fit (for the record: local mode on this machine's cores)."""
    import ibis
    from pyspark.sql import SparkSession

    from kpi_xl.data._catalog import RunOptions, run_metric, specs_for
    from kpi_xl.data.backend import open_table, predict_clv_backend

    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    reader = spark.read.parquet if path.suffix == ".parquet" else spark.read.option("header", True).csv
    reader(str(path)).createOrReplaceTempView("orders")
    con = ibis.pyspark.connect(spark)
    t1 = time.perf_counter()
    ds = open_table(con, "orders")
    run = RunOptions()
    for spec in specs_for(ds, run)[0]:
        run_metric(ds, spec, run)
    t2 = time.perf_counter()
    predict_clv_backend(open_table(con, "orders"), time_unit="week", horizon=12)
    t3 = time.perf_counter()
    spark.stop()
    return {"start": t1 - t0, "report": t2 - t1, "clv": t3 - t2}


def steps(path: Path) -> list[dict[str, Any]]:
    """Each step of the DuckDB route in one process: seconds, rows brought to Python, DuckDB's
    memory (its buffer manager, the temporary table included) and the process's peak RSS."""
    import resource

    from kpi_xl.data._catalog import RunOptions, run_metric, specs_for
    from kpi_xl.data._duck import load_duckdb
    from kpi_xl.data._open import CLV_ROLES
    from kpi_xl.data.backend import predict_clv_backend

    out = []

    def mark(step: str, started: float, ds: Any, rows: int) -> None:
        duck = ds.con.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0]
        out.append(
            {
                "step": step,
                "seconds": time.perf_counter() - started,
                "rows_to_python": rows,
                "duckdb_mb": (duck or 0) / 2**20,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )

    t = time.perf_counter()
    ds = load_duckdb(path, CLV_ROLES)
    mark("scan the file once, judge distinct values", t, ds, ds.fetched_rows)
    run = RunOptions()
    ds.fetched_rows = 0
    t = time.perf_counter()
    for spec in specs_for(ds, run)[0]:
        run_metric(ds, spec, run)
    mark("report: order metrics from summaries", t, ds, ds.fetched_rows)
    ds.fetched_rows = 0
    t = time.perf_counter()
    pred, _ = predict_clv_backend(ds, time_unit="week", horizon=12)
    totals = pred.totals()
    fit = pred.patterns
    mark(
        f"clv: RFM in DuckDB, fits on {len(fit.purchases):,} + {len(fit.spend):,} patterns, totals",
        t,
        ds,
        ds.fetched_rows,
    )
    out[-1]["customers"] = int(totals["customers"])
    return out


def measure(
    sizes: list[str],
    formats: list[str],
    commands: list[str],
    repeat: int,
    folder: Path,
    before: Path | None,
    pandas_sizes: list[str] | None = None,
) -> list[dict[str, Any]]:
    from benchmarks.bench_cli import generate

    # Absolute: the children run in their trees' folders.
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for tree in (None, before):
        _compiled(tree)
    rows = []
    for size in sizes:
        csv_path = folder / f"orders_{size}.csv"
        if not csv_path.exists():
            generate(SIZES[size], csv_path)
        for fmt in formats:
            path = csv_path
            if fmt == "parquet":
                path = csv_path.with_suffix(".parquet")
                if not path.exists():
                    import pyarrow.csv as pacsv
                    import pyarrow.parquet as pq

                    pq.write_table(pacsv.read_csv(csv_path), path)
            for command in commands:
                runs: dict[str, list[dict[str, Any]]] = {
                    "kpi": [],
                    "floor": [],
                    "ibis_floor": [],
                    "pandas": [],
                    "before": [],
                }
                for _ in range(repeat):
                    runs["kpi"].append(run_child(_kpi(command, path, "duckdb", None), _env(None)))
                    runs["floor"].append(run_child(_floor(command, path), _env(None)))
                    runs["ibis_floor"].append(run_child(_floor(command, path, ibis=True), _env(None)))
                    if before is not None:
                        runs["before"].append(run_child(_kpi(command, path, "duckdb", before), _env(before)))
                # The pandas path once: it is the comparison, not the subject (minutes at 10M rows:
                # --pandas-sizes leaves it out of the larger sizes).
                if pandas_sizes is None or size in pandas_sizes:
                    runs["pandas"].append(run_child(_kpi(command, path, "pandas", None), _env(None)))
                row = {"rows": SIZES[size], "format": fmt, "command": command, "load": os.getloadavg()[0]}
                for name, got in runs.items():
                    if not got:
                        continue
                    failed = [r for r in got if r["code"] != 0]
                    if failed:
                        row[f"{name}_error"] = failed[0]["stderr"]
                    row[f"{name}_s"] = statistics.median(r["seconds"] for r in got)
                    row[f"{name}_mb"] = max(r["peak_mb"] for r in got)
                row["agree"] = _agree(command, runs["kpi"][0], runs["floor"][0])
                rows.append(row)
                print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    def cell(name: str) -> str:
        s = row.get(f"{name}_s")
        return "-" if s is None else f"{s:7.2f} s {row[f'{name}_mb']:6.0f} MB"

    vs = row["kpi_s"] / row["floor_s"]
    vp = f"{row['kpi_s'] / row['pandas_s']:4.2f}" if "pandas_s" in row else "-"
    before = f"  before {cell('before')}" if "before_s" in row else ""
    return (
        f"{row['rows']:>11,} {row['format']:<7} {row['command']:<6} kpi-xl {cell('kpi')}"
        f"  floor {cell('floor')}  floor+import ibis {cell('ibis_floor')}"
        f"  pandas {cell('pandas')}{before}  kpi/floor {vs:4.2f}"
        f"  kpi/pandas {vp}  {row['agree']}  load {row['load']:.1f}"
    )


def case_files(quick: bool, repeat: int, data: Path, row: Any) -> list[dict[str, Any]]:
    """The ``files`` case of :mod:`benchmarks.run`: the DuckDB route against its one-query floor and
    the pandas path (goal: within 1.5x of the floor, faster than pandas from 1M rows)."""
    sizes = ["20k"] if quick else ["1m", "10m"]
    formats = ["csv"] if quick else ["csv", "parquet"]
    # The pandas path (minutes at 10M rows) once per command at the smallest size: the comparison.
    got = measure(
        sizes, formats, ["report", "clv"], 1 if quick else min(repeat, 3), data / "files", None, sizes[:1]
    )
    out = []
    for r in got:
        vs = r["kpi_s"] / r["floor_s"]
        out.append(
            row(
                "files",
                f"{r['command']} {r['format']}, DuckDB route (fresh process)",
                f"{r['rows']:,} orders",
                r["kpi_s"],
                r["kpi_mb"],
                "pandas path",
                r.get("pandas_s"),
                r.get("pandas_mb"),
                r["agree"] if "kpi_error" not in r else "DIFFER: " + r["kpi_error"][-200:],
                target="<= 1.5x floor",
                ok=vs <= 1.5,
                mem="peak RSS",
                floor="one DuckDB query",
                floor_s=r["floor_s"],
                note=(
                    f"the same query after `import ibis` (the least an Ibis route can take): "
                    f"{r['ibis_floor_s']:.2f} s = {r['ibis_floor_s'] / r['floor_s']:.2f}x the floor"
                ),
            )
        )
    spark = spark_child(data / "files" / f"orders_{sizes[0]}.parquet") if not quick else None
    if spark is not None:
        size = f"{SIZES[sizes[0]]:,} orders"
        for step in ("report", "clv"):
            out.append(
                row(
                    "files",
                    f"{step} parquet, Spark route (local[*], session {spark['start']:.1f} s apart)",
                    size,
                    spark[step],
                    None,
                    "DuckDB route",
                    next(
                        (r["kpi_s"] for r in got if r["command"] == step and r["format"] == "parquet"), None
                    ),
                    None,
                    "equal to the DuckDB route (tests/test_data_spark.py)",
                    target="for the record",
                    note="one process: JVM and session started once",
                )
            )
    return out


def spark_child(path: Path) -> dict[str, float] | None:
    """The Spark route's times (:func:`spark_route`) in a process of its own, or None without
    pyspark and Java."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        return None
    if not path.exists():
        return None
    code = (
        "import json, sys; from pathlib import Path; from benchmarks.bench_scale import spark_route; "
        f"print(json.dumps(spark_route(Path({str(path)!r}))))"
    )
    got = run_child([sys.executable, "-c", code], _env(None))
    if got["code"] != 0:
        return None
    return json.loads(got["stdout"].strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["1m", "10m"], choices=list(SIZES))
    ap.add_argument("--formats", nargs="+", default=["csv", "parquet"], choices=["csv", "parquet"])
    ap.add_argument("--commands", nargs="+", default=["report", "clv"], choices=["report", "clv"])
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per median (default 3)")
    ap.add_argument("--folder", type=Path, default=Path("benchmarks/.data"))
    ap.add_argument("--before", type=Path, help="another kpi-xl tree to time the same commands from")
    ap.add_argument("--spark", action="store_true", help="time the Spark route too (for the record)")
    ap.add_argument("--quick", action="store_true", help="100k rows, CSV, one run: under a minute")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument("--steps", action="store_true", help="time, rows to Python and memory of each step")
    ap.add_argument(
        "--pandas-sizes", nargs="*", choices=list(SIZES), help="time the pandas path at these sizes only"
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.sizes, a.formats, a.repeat, a.spark = ["100k"], ["csv"], 1, False
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if a.steps:
        for size in a.sizes:
            for fmt in a.formats:
                path = a.folder / f"orders_{size}.{fmt}"
                for r in steps(path):
                    print(f"{SIZES[size]:>11,} {fmt:<7} {r['step']:<52} {r['seconds']:7.2f} s "
                          f"{r['rows_to_python']:>10,} rows  DuckDB {r['duckdb_mb']:6.0f} MB  "
                          f"peak RSS {r['peak_rss_mb']:6.0f} MB", flush=True)  # fmt: skip
        return 0
    rows = measure(a.sizes, a.formats, a.commands, a.repeat, a.folder, a.before, a.pandas_sizes)
    if a.spark:
        for size in a.sizes:
            path = a.folder / f"orders_{size}.parquet"
            if path.exists():
                got = spark_route(path)
                rows.append({"rows": SIZES[size], "format": "parquet", "command": "spark", **got})
                print(f"{SIZES[size]:>11,} parquet spark  session {got['start']:.1f} s, report "
                      f"{got['report']:.1f} s, clv {got['clv']:.1f} s", flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
