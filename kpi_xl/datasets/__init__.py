"""Real customer data shipped with kpi-xl, one loader per data set.

The CDNOW data (Fader & Hardie) as shipped by lifetimes 0.11.3 (MIT); see ``ATTRIBUTION.md`` in this
folder for the source and licence. Files are read with :mod:`importlib.resources`, so the loaders
work from an installed wheel as well as from a checkout.

CDNOW is the data set of the BG/NBD paper (Fader, Hardie & Lee 2005, Marketing Science 24(2)):
the customers of the online music retailer CDNOW who made their first purchase in the first
quarter of 1997, followed until the end of June 1998.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import pandas as pd

__all__ = [
    "load_cdnow_summary",
    "load_cdnow_summary_with_transactions",
    "load_cdnow_transactions",
    "load_donations",
]


def _path(name: str) -> Traversable:
    return resources.files(__name__).joinpath(name)


def load_cdnow_summary() -> pd.DataFrame:
    """The CDNOW 1/10 sample as Fader, Hardie & Lee (2005) fitted it: one row per customer.

    Source: ``cdnow_customers_summary.csv`` from lifetimes 0.11.3 (Fader & Hardie's CDNOW data).
    Size: 2,357 customers. Calibration period: 39 weeks, 1997-01-01 to 1997-09-30; times are in
    **weeks** (days / 7, rounded to 2 decimals).

    Columns (index ``customer_id``, 1..2357, the sample id of :func:`load_cdnow_transactions`):

    * ``frequency`` - repeat purchases (x), int
    * ``recency`` - weeks from first to last purchase (t_x), float
    * ``T`` - weeks from first purchase to 1997-09-30, float

    First rows::

                     frequency  recency      T
        customer_id
        1                    2    30.43  38.86
        2                    1     1.71  38.86
        3                    0     0.00  38.86

    The BG/NBD fit on it gives r=0.243, alpha=4.414, a=0.793, b=2.426, log-likelihood -9582.4
    (Fader, Hardie & Lee 2005, section 5).
    """
    with _path("cdnow_customers_summary.csv").open("r", encoding="ascii") as f:
        df = pd.read_csv(f)
    df = df.rename(columns={"ID": "customer_id"}).set_index("customer_id")
    return df


def load_cdnow_summary_with_transactions() -> pd.DataFrame:
    """The CDNOW summary with mean repeat spend, for the Gamma-Gamma model.

    Source: ``cdnow_customers_summary_with_transactions.csv`` from lifetimes 0.11.3 (Fader & Hardie's
    CDNOW data). Size: 2,357 customers, 946 of them with a repeat purchase. Times in **weeks** over
    the same 39-week calibration period as :func:`load_cdnow_summary`; spend in US dollars.

    Columns (index ``customer_id``, renamed from the file's ``ID, x, t_x, T, zbar``):

    * ``frequency`` - repeat purchases (x), int
    * ``recency`` - weeks from first to last purchase (t_x), float
    * ``T`` - weeks from first purchase to the end of calibration, float
    * ``monetary_value`` - mean spend per repeat purchase (z-bar), 0 without repeat purchases

    First rows::

                     frequency  recency      T  monetary_value
        customer_id
        1                    2    30.43  38.86           22.35
        2                    1     1.71  38.86           11.77
        3                    0     0.00  38.86            0.00

    The Gamma-Gamma fit on the 946 repeat customers gives p=6.25, q=3.74, v=15.44, log-likelihood
    -4055.9 (Fader & Hardie 2013, note 025).
    """
    with _path("cdnow_customers_summary_with_transactions.csv").open("r", encoding="ascii") as f:
        df = pd.read_csv(f)
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return df.set_index("customer_id")


def load_cdnow_transactions(sample: bool = True) -> pd.DataFrame:
    """CDNOW purchase records, one row per customer and purchase day.

    Source: ``CDNOW_sample.txt`` and ``CDNOW_master.txt`` from lifetimes 0.11.3 (Fader & Hardie's
    CDNOW data). Transactions run from 1997-01-01 to 1998-06-30.

    Parameters
    ----------
    sample:
        ``True`` (default): the 1/10 sample, 6,919 rows, 2,357 customers - the one the published
        BG/NBD and Gamma-Gamma estimates use. ``False``: the full cohort, 69,659 rows, 23,570
        customers.

    Returns
    -------
    DataFrame
        Columns ``customer_id`` (int; in the sample, the sample id 1..2357 used by the summary
        loaders), ``date`` (datetime64), ``cds`` (number of CDs bought, int), ``amount`` (US
        dollars, float). The sample also has ``master_id``, the customer's id in the full data.

    First rows of the sample::

           customer_id       date  cds  amount  master_id
        0            1 1997-01-01    2   29.33          4
        1            1 1997-01-18    2   29.73          4
        2            1 1997-08-02    1   14.96          4
    """
    if sample:
        with _path("CDNOW_sample.txt").open("r", encoding="ascii") as f:
            df = pd.read_csv(
                f, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "amount"]
            )
        df = df[["customer_id", "date", "cds", "amount", "master_id"]]
    else:
        with _path("CDNOW_master.txt").open("r", encoding="ascii") as f:
            df = pd.read_csv(f, sep=r"\s+")
        df.columns = ["customer_id", "date", "cds", "amount"]
    df["date"] = pd.to_datetime(df["date"].astype(str), format="%Y%m%d")
    return df


def load_donations() -> pd.DataFrame:
    """Repeat donations to a US non-profit, the data set of the BG/BB paper, in compressed form.

    Source: ``donations.csv`` from lifetimes 0.11.3 (MIT), the data of Fader, Hardie & Shang (2010),
    "Customer-Base Analysis in a Discrete-Time Noncontractual Setting", Marketing Science 29(6):
    the 11,104 people who first donated in 1995, followed over the six annual donation
    opportunities 1996-2001. Size: 22 rows, one per distinct (frequency, recency) pattern.

    Columns: ``frequency`` (years with a repeat donation, x), ``recency`` (the last such year,
    t_x, 0 without one), ``periods`` (opportunities observed, n = 6), ``weights`` (donors with the
    pattern). First rows::

           frequency  recency  periods  weights
        0          0        0        6     3464
        1          1        1        6     1091
        2          1        2        6      277

    The BG/BB fit on it gives alpha=1.204, beta=0.750, gamma=0.657, delta=2.783 (the paper).
    """
    with _path("donations.csv").open("r", encoding="ascii") as f:
        return pd.read_csv(f)
