"""Dates outside the range kpi-xl computes with (datetime64[ns]: the years 1678 to 2261).

Excel holds dates up to 9999-12-31, and exports use that day as the "open end" of a contract or a
price; a year typo (2925) lands there too. Converting such a date to nanoseconds either raises
(pandas' ``OutOfBoundsDatetime``) or, through a unit conversion, silently wraps it to the 1700s.
Both faces find these values first and report them as invalid with :data:`FAR_REASON`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FAR_REASON", "FIRST_YEAR", "LAST_YEAR", "far_dates", "far_serial", "show_date"]

#: Whole years that datetime64[ns] holds (it runs from 1677-09-21 to 2262-04-11).
FIRST_YEAR, LAST_YEAR = 1678, 2261
#: Why such a date is not used (no position, no value: the caller says where).
FAR_REASON = (
    f"is a date outside the years {FIRST_YEAR}-{LAST_YEAR} that kpi-xl computes with; an open end "
    "such as 9999-12-31 means no date: leave the cell empty"
)
_EXCEL_DAY_ZERO = dt.date(1899, 12, 30)
#: The first Excel serial number in the year after LAST_YEAR.
_FIRST_FAR_SERIAL = (dt.date(LAST_YEAR + 1, 1, 1) - _EXCEL_DAY_ZERO).days
_LAST_SERIAL = 2958466  # 10000-01-01
_YEAR = re.compile(r"(?<![\d])(\d{4})(?![\d])")


def _far_year(year: Any) -> bool:
    return year < FIRST_YEAR or year > LAST_YEAR


def far_serial(serial: np.ndarray) -> np.ndarray:
    """Excel serials (and YYYYMMDD whole numbers) of far dates.

    >>> far_serial(np.array([45657.0, 2958465.0, 99991231.0, 20251231.0])).tolist()
    [False, True, True, False]
    """
    serial = np.asarray(serial, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        whole = serial == np.floor(serial)
        ymd = whole & (serial >= 10000101) & (serial <= 99991231)
        year = np.where(ymd, np.floor(serial / 10000), 2000)
        return ((serial >= _FIRST_FAR_SERIAL) & (serial < _LAST_SERIAL) & ~ymd) | (
            ymd & ((year < FIRST_YEAR) | (year > LAST_YEAR))
        )


def far_dates(values: Any) -> np.ndarray:
    """Which values are dates outside the computable range: date and datetime objects, Excel
    serials, YYYYMMDD numbers, and date text whose four-digit year is out of range.

    >>> far_dates(np.array([dt.date(9999, 12, 31), "2925-01-02", "31.12.9999", "2025-01-01", 45657.0,
    ...                     2958465, None, "n/a"], dtype=object)).tolist()
    [True, True, True, False, False, True, False, False]
    """
    arr = np.asarray(values, dtype=object).ravel()
    out = np.zeros(arr.shape, dtype=bool)
    for i, v in enumerate(arr):
        if isinstance(v, (bool, np.bool_)) or v is None:
            continue
        if isinstance(v, (dt.date, pd.Timestamp)):
            out[i] = _far_year(v.year)
        elif isinstance(v, np.datetime64):
            out[i] = not np.isnat(v) and _far_year(int(str(v.astype("datetime64[Y]"))))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[i] = bool(far_serial(np.array([float(v)]))[0])
        elif isinstance(v, str):
            m = _YEAR.search(v)
            out[i] = m is not None and any(ch in v for ch in "-./") and _far_year(int(m.group(1)))
    return out


def show_date(value: Any) -> str:
    """A date-like value as a message quotes it: ISO for dates (never ``datetime.date(9999, 12, 31)``),
    numbers plainly (``2958465``), text in quotes.

    >>> show_date(dt.date(9999, 12, 31)), show_date(2958465.0), show_date("31.12.9999")
    ('9999-12-31', '2958465', "'31.12.9999'")
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.15g}" if float(f"{value:.15g}") == value else repr(value)
    return repr(value) if isinstance(value, str) else str(value)
