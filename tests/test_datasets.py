"""The shipped CDNOW data: sizes, columns, first rows, and agreement between the files."""

import warnings
from importlib import resources

import numpy as np
import pandas as pd

from kpi_xl.datasets import load_cdnow_summary, load_cdnow_summary_with_transactions, load_cdnow_transactions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value


def test_cdnow_summary():
    d = load_cdnow_summary()
    assert d.shape == (2357, 3)
    assert d.index.name == "customer_id" and list(d.index[:3]) == [1, 2, 3]
    assert list(d.columns) == ["frequency", "recency", "T"]
    assert d.iloc[:3].to_numpy().tolist() == [[2, 30.43, 38.86], [1, 1.71, 38.86], [0, 0.0, 38.86]]
    assert d["frequency"].dtype.kind == "i"
    # 946 repeat customers; the calibration period is 39 weeks (273 days / 7 = 39.0).
    assert (d["frequency"] > 0).sum() == 946
    assert d["T"].max() <= 39.0
    assert (d["recency"] <= d["T"]).all()


def test_cdnow_summary_with_transactions_matches_lifetimes_loader():
    d = load_cdnow_summary_with_transactions()
    assert list(d.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert d.iloc[:2].to_numpy().tolist() == [[2, 30.43, 38.86, 22.35], [1, 1.71, 38.86, 11.77]]
    assert (d.loc[d["frequency"] == 0, "monetary_value"] == 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = load_cdnow_summary_data_with_monetary_value()
    pd.testing.assert_frame_equal(d, theirs, check_names=False)
    pd.testing.assert_frame_equal(d[["frequency", "recency", "T"]], load_cdnow_summary())


def test_cdnow_sample_transactions():
    tx = load_cdnow_transactions()
    assert tx.shape == (6919, 5)
    assert list(tx.columns) == ["customer_id", "date", "cds", "amount", "master_id"]
    assert tx["date"].dtype.kind == "M"
    first = tx.iloc[0]
    assert (first["customer_id"], first["date"], first["cds"], first["amount"], first["master_id"]) == (
        1,
        pd.Timestamp("1997-01-01"),
        2,
        29.33,
        4,
    )
    assert tx["customer_id"].nunique() == 2357 == tx["master_id"].nunique()
    assert tx["date"].min() == pd.Timestamp("1997-01-01") and tx["date"].max() == pd.Timestamp("1998-06-30")
    assert (tx["amount"] >= 0).all()


def test_cdnow_master_transactions_contain_the_sample():
    master = load_cdnow_transactions(sample=False)
    assert master.shape == (69659, 4)
    assert list(master.columns) == ["customer_id", "date", "cds", "amount"]
    assert master["customer_id"].nunique() == 23570
    # Every sample row is a master row of the same customer (master_id), date, CDs and amount.
    sample = load_cdnow_transactions().rename(
        columns={"customer_id": "sample_id", "master_id": "customer_id"}
    )
    keys = ["customer_id", "date", "cds", "amount"]
    joined = sample.merge(master.drop_duplicates(keys), on=keys, how="left", indicator=True)
    assert (joined["_merge"] == "both").all()


def test_summary_files_agree_with_the_transactions():
    # FHL's summary is the sample's first 39 weeks counted in days / 7: customer 1 bought on
    # 1997-01-01, 01-18 and 08-02 -> x=2, t_x = 213/7 = 30.43, T = 272/7 = 38.86.
    tx = load_cdnow_transactions()
    one = tx[(tx["customer_id"] == 1) & (tx["date"] <= "1997-09-30")]
    days = (one["date"] - one["date"].min()).dt.days
    assert len(one) - 1 == 2
    assert round(days.max() / 7, 2) == 30.43
    assert round((pd.Timestamp("1997-09-30") - one["date"].min()).days / 7, 2) == 38.86
    # Mean repeat spend: (29.73 + 14.96) / 2 = 22.345 -> 22.35 in the file (rounded half up).
    assert np.isclose(one["amount"].iloc[1:].mean(), 22.345)


def test_loaders_read_package_files_and_document_themselves():
    folder = resources.files("kpi_xl.datasets")
    for name in (
        "CDNOW_master.txt",
        "CDNOW_sample.txt",
        "cdnow_customers_summary.csv",
        "cdnow_customers_summary_with_transactions.csv",
        "ATTRIBUTION.md",
    ):
        assert folder.joinpath(name).is_file(), name
    attribution = folder.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "MIT" in attribution and "Cameron Davidson-Pilon" in attribution and "Fader" in attribution
    for loader in (load_cdnow_summary, load_cdnow_summary_with_transactions, load_cdnow_transactions):
        doc = " ".join(loader.__doc__.split())
        assert "Source:" in doc, loader.__name__
        # The "First rows" shown in the docstring are what the loader returns.
        for line in repr(loader().head(3)).splitlines():
            assert " ".join(line.split()) in doc, (loader.__name__, line)
