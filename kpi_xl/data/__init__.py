"""Reading real exports for the command line: CSV, XLSX and Parquet, from a few rows to millions.

* :func:`read_table` reads a file as it is (CSV encoding and delimiter detected; XLSX through
  python-calamine; Parquet through pyarrow), with row numbers as the user sees them.
* :func:`map_columns` finds which column holds what (English and German headers, or an explicit
  mapping) and says how it chose.
* :func:`parse_numbers` and :func:`parse_dates` read locale-formatted values (``1.234,56``,
  ``31.12.2025``, ISO dates, Excel serials).
* :func:`load_dataset` does all three and checks each value with the engine's rules, listing every
  unusable value as a :class:`~kpi_xl.metrics.Problem` (file, row, column, value, reason).
* :func:`load_duckdb` is the DuckDB path for files beyond Excel's size and :func:`open_table` reads a
  table in any Ibis backend (DuckDB, Spark, a warehouse): values are judged on their distinct values,
  the aggregations (:mod:`kpi_xl.data.aggregate`) run in the backend, and only summaries reach
  pandas; :func:`open_dataset` picks the path for a file.

No number is computed here: metrics come from :mod:`kpi_xl.metrics`.
"""

from ..metrics.rules import ParsedDates, ParsedNumbers, parse_dates, parse_numbers
from ._columns import ROLES, ColumnMap, Role, map_columns, normalise_header
from ._dataset import Dataset, FrameDataset, ReadOptions, load_dataset
from ._duck import DuckDataset, load_duckdb
from ._open import choose_engine, clv_inputs, open_dataset, with_customer_ids
from ._read import EXCEL_MAX_ROWS, RawTable, detect_delimiter, detect_encoding, read_table
from ._validate import Problems, ValueRules
from .backend import BackendDataset, open_table

__all__ = [
    "ROLES",
    "Role",
    "ColumnMap",
    "map_columns",
    "normalise_header",
    "Dataset",
    "FrameDataset",
    "DuckDataset",
    "BackendDataset",
    "open_table",
    "ReadOptions",
    "load_dataset",
    "load_duckdb",
    "open_dataset",
    "choose_engine",
    "clv_inputs",
    "with_customer_ids",
    "ParsedDates",
    "ParsedNumbers",
    "parse_dates",
    "parse_numbers",
    "EXCEL_MAX_ROWS",
    "RawTable",
    "detect_delimiter",
    "detect_encoding",
    "read_table",
    "Problems",
    "ValueRules",
]
