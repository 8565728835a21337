"""Choosing the pandas or the DuckDB path for a file, and the transaction log for predictive CLV."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from ..metrics import KpiInputError
from ._dataset import Dataset, ReadOptions, load_dataset
from ._read import EXCEL_MAX_ROWS, _check_exists, _sample_lines, detect_encoding, file_format
from ._validate import Problems

__all__ = ["choose_engine", "estimate_rows", "open_dataset", "clv_inputs", "CLV_ROLES"]

CLV_ROLES = ("customer_id", "date", "amount")


def estimate_rows(path: str | Path) -> int:
    """Data rows of a CSV (estimated from the length of its first lines) or a Parquet file (exact)."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt != "csv":
        return 0
    lines = _sample_lines(path, detect_encoding(path) if path.stat().st_size < (1 << 26) else "utf-8")
    if len(lines) < 2:
        return max(len(lines) - 1, 0)
    mean = sum(len(line.encode("utf-8")) + 1 for line in lines) / len(lines)
    return int(path.stat().st_size / mean) - 1


def choose_engine(path: str | Path, engine: str = "auto") -> str:
    """``"pandas"`` or ``"duckdb"``: with ``"auto"``, DuckDB for CSV/Parquet files with more rows than
    an Excel sheet holds (1,048,576), pandas otherwise."""
    if engine not in ("auto", "pandas", "duckdb"):
        raise KpiInputError(f"engine must be auto, pandas or duckdb, got {engine!r}", argument="engine")
    if engine != "auto":
        return engine
    _check_exists(Path(path))
    if file_format(path) == "xlsx":
        return "pandas"
    return "duckdb" if estimate_rows(path) > EXCEL_MAX_ROWS else "pandas"


def open_dataset(
    path: str | Path,
    roles: Iterable[str] | None = None,
    options: ReadOptions | None = None,
    *,
    engine: str = "auto",
    extra: Sequence[str] = (),
    problems: Problems | None = None,
) -> Dataset:
    """Read a file on the path :func:`choose_engine` picks; both give the same answers."""
    if choose_engine(path, engine) == "duckdb":
        from ._duck import load_duckdb

        return load_duckdb(path, roles, options, extra=extra, problems=problems)
    return load_dataset(path, roles, options, extra=extra, problems=problems)


def clv_inputs(
    path: str | Path,
    options: ReadOptions | None = None,
    *,
    engine: str = "auto",
    problems: Problems | None = None,
) -> tuple[Dataset, pd.DataFrame]:
    """The transaction log for :func:`kpi_xl.metrics.predict_clv`: columns ``customer_id``, ``date``,
    ``amount``, indexed by file row. On the DuckDB path it has one row per customer and day with the
    day's total (what the models use); rows with an unusable value are left out and reported."""
    ds = open_dataset(path, CLV_ROLES, options, engine=engine, problems=problems)
    missing = [r for r in CLV_ROLES if r not in ds.columns]
    if missing:
        flags = {"customer_id": "--customer", "date": "--date", "amount": "--amount"}
        raise KpiInputError(
            f"{ds.name}: cannot tell which column is the {', '.join(missing)}; name it with "
            + ", ".join(f"{flags[m]} COLUMN" for m in missing),
            argument="mapping",
        )
    from ._duck import DuckDataset, clv_transactions_duckdb

    if isinstance(ds, DuckDataset):
        frame = clv_transactions_duckdb(ds)
    else:
        frame = ds.rows_for(CLV_ROLES)
    return ds, frame[list(CLV_ROLES)]
