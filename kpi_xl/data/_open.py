"""Choosing the pandas or the DuckDB path for a file, and the transaction log for predictive CLV."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..metrics import KpiInputError
from ._dataset import Dataset, ReadOptions, load_dataset
from ._read import EXCEL_MAX_ROWS, _check_exists, file_format
from ._validate import Problems

if TYPE_CHECKING:  # the CLV models (scipy) are imported when a CLV is predicted, not by every command
    from ..metrics import ClvPrediction

__all__ = [
    "choose_engine",
    "estimate_rows",
    "open_dataset",
    "clv_inputs",
    "predict_clv_file",
    "with_customer_ids",
    "CLV_ROLES",
]

CLV_ROLES = ("customer_id", "date", "amount")
_PROBE = 1 << 16


def estimate_rows(path: str | Path) -> int:
    """Data rows of a Parquet file (exact) or a CSV (estimated from line lengths sampled at its
    start, middle and end, so a file whose lines grow longer is not underestimated)."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt != "csv":
        return 0
    size = path.stat().st_size
    lengths: list[int] = []
    with path.open("rb") as fh:
        for offset in sorted({0, max(size // 2 - _PROBE, 0), max(size - _PROBE, 0)}):
            fh.seek(offset)
            lines = fh.read(_PROBE).split(b"\n")
            # The first piece may start mid-line (except at 0) and the last may be cut: drop them.
            lines = lines[(1 if offset else 0) : -1]
            lengths += [len(line) + 1 for line in lines]
    if not lengths:
        return 0
    return max(int(size / (sum(lengths) / len(lengths))) - 1, 0)


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
    """The transaction log for :func:`kpi_xl.metrics.predict_clv`: columns ``customer_id`` (codes:
    :func:`with_customer_ids` puts the ids back on the predictions), ``date``, ``amount``, indexed by
    file row. On the DuckDB path it has one row per customer and day with the day's total (what the
    models use); rows with an unusable value are left out and reported."""
    ds = open_dataset(path, CLV_ROLES, options, engine=engine, problems=problems)
    _clv_dataset(ds)
    from .backend import BackendDataset, clv_transactions

    frame = clv_transactions(ds) if isinstance(ds, BackendDataset) else ds.rows_for(CLV_ROLES)
    return ds, frame[list(CLV_ROLES)]


def _clv_dataset(ds: Dataset) -> None:
    missing = [r for r in CLV_ROLES if r not in ds.columns]
    if missing:
        flags = {"customer_id": "--customer", "date": "--date", "amount": "--amount"}
        raise KpiInputError(
            f"{ds.name}: cannot tell which column is the {', '.join(missing)}; name it with "
            + ", ".join(f"{flags[m]} COLUMN" for m in missing),
            argument="mapping",
        )


def predict_clv_file(
    path: str | Path,
    options: ReadOptions | None = None,
    *,
    engine: str = "auto",
    problems: Problems | None = None,
    time_unit: str,
    horizon: float,
    step: float | str = 1.0,
    discount_rate: float = 0.0,
    observation_end: Any = None,
    margin: float = 1.0,
    model: str = "bg/nbd",
    interval: float | None = None,
) -> tuple[Dataset, ClvPrediction]:
    """Per-customer CLV predictions for a transaction file (see :func:`kpi_xl.metrics.predict_clv`),
    indexed by customer id, with the dataset read.

    On the pandas path the engine gets the transaction log. On the DuckDB path (and for a table
    opened with :func:`kpi_xl.data.open_table`, given as ``path``) the backend computes the RFM
    summary and only its distinct (frequency, recency, T) patterns and (frequency, spend) pairs
    reach the engine (:func:`kpi_xl.data.backend.predict_clv_backend`): the prediction's
    ``customers`` then holds one row per purchase pattern with the customers on it in ``weight``,
    its totals and schedule are summed in the backend, and ``dataset.predictions`` joins the
    predictions back to every customer there. An engine error names the file row."""
    from ..metrics.clv import predict_clv
    from ._catalog import at_file_row
    from .backend import BackendDataset, predict_clv_backend

    if isinstance(path, BackendDataset):
        ds = path
    else:
        ds = open_dataset(path, CLV_ROLES, options, engine=engine, problems=problems)
    _clv_dataset(ds)
    settings = {
        "horizon": horizon,
        "step": step,
        "discount_rate": discount_rate,
        "margin": margin,
        "model": model,
        "interval": interval,
    }
    if isinstance(ds, BackendDataset):
        out, ds.predictions = predict_clv_backend(
            ds, time_unit=time_unit, observation_end=observation_end, **settings
        )
        return ds, out
    log = _without_partial_rows(ds, ds.rows_for(CLV_ROLES))
    try:
        out = predict_clv(
            log["customer_id"].to_numpy(),
            log["date"].to_numpy(),
            log["amount"].to_numpy(),
            time_unit=time_unit,
            observation_end=observation_end,
            **settings,
        )
    except KpiInputError as exc:
        roles = {"customer_ids": "customer_id", "dates": "date", "amounts": "amount"}
        raise at_file_row(exc, log.index, ds, roles, "clv") from exc
    return ds, out.with_customers(with_customer_ids(ds, out.customers))


#: Why an order row with some of customer, date and amount blank is left out of CLV.
PARTIAL_ROW = "the order is left out of CLV, which needs its customer, date and amount"


def _without_partial_rows(ds: Dataset, log: pd.DataFrame) -> pd.DataFrame:
    """Order rows with some but not all of customer, date and amount blank (or a placeholder) cannot
    be placed: every such cell is listed, and the rows are left out, so one run names them all.
    (Rows blank in all three are no transaction; the engine skips and counts them.)"""
    blank = log[list(CLV_ROLES)].isna().to_numpy()
    partial = blank.any(axis=1) & ~blank.all(axis=1)
    if not partial.any():
        return log
    rows = set(log.index[partial].tolist())
    for role in CLV_ROLES:
        cell_rows, values, _ = ds._blank_cells(role)
        keep = [i for i, r in enumerate(cell_rows) if int(r) in rows]
        ds.problems.add_blanks(ds.name, ds.columns[role], cell_rows[keep], values[keep], PARTIAL_ROW)
    return log.loc[~partial]


def with_customer_ids(ds: Dataset, table: pd.DataFrame) -> pd.DataFrame:
    """Per-customer table indexed by the customers' ids (the engine was given their codes), sorted
    by id as :func:`kpi_xl.metrics.predict_clv` sorts text ids."""
    out = table.copy()
    out.index = pd.Index(ds.ids("customer_id", table.index.to_numpy()), name="customer_id")
    out = out.sort_index(kind="stable")
    out.attrs = table.attrs
    return out
