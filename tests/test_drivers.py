"""Key drivers: Shapley decomposition of R2 against a brute-force computation over all orderings."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from kpi_xl.metrics import KpiInputError, key_drivers, shapley_r2


def _r2(y, X, cols):
    # Ordinary least squares with an intercept, by numpy's lstsq: independent of the engine's
    # correlation-matrix route.
    A = np.column_stack([np.ones(len(y))] + [X[:, c] for c in cols])
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    return 1.0 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))


def _brute_force_shapley(y, X):
    # The Shapley value as the average marginal R2 gain over all p! orders of entry.
    p = X.shape[1]
    phi = np.zeros(p)
    for order in itertools.permutations(range(p)):
        entered = []
        for j in order:
            phi[j] += _r2(y, X, entered + [j]) - _r2(y, X, entered)
            entered.append(j)
    return phi / math.factorial(p)


def _data(n=120, p=4, seed=3):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1))
    X = rng.normal(size=(n, p)) + 0.6 * base  # correlated attributes
    y = X @ np.linspace(1.5, 0.2, p) + rng.normal(size=n)
    return y, X


def test_shapley_matches_brute_force_over_all_orderings():
    y, X = _data()
    expected = _brute_force_shapley(y, X)
    got = shapley_r2(y, X)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    # Efficiency: the shares add up to the full model's R2.
    assert got.sum() == pytest.approx(_r2(y, X, list(range(X.shape[1]))))


def test_shapley_five_attributes_brute_force():
    y, X = _data(n=60, p=5, seed=11)
    np.testing.assert_allclose(shapley_r2(y, X), _brute_force_shapley(y, X), atol=1e-10)


def test_key_drivers_table_interval_and_quadrants():
    y, X = _data(n=300, p=3, seed=5)
    # Ratings on a 1-5-like scale: support rated low, price high.
    attrs = pd.DataFrame({"support": X[:, 0], "product": X[:, 1] + 3, "price": X[:, 2] + 5})
    kd = key_drivers(y, attrs, n_boot=100)
    assert kd.index[0] == "support"
    assert kd["importance"].sum() == pytest.approx(1.0)
    assert kd.attrs["r2"] == pytest.approx(_r2(y, X, [0, 1, 2]))
    assert kd.attrs["method"] == "shapley-r2"
    assert ((kd["ci_low"] <= kd["importance"]) & (kd["importance"] <= kd["ci_high"])).all()
    perf = kd.loc[["support", "product", "price"], "performance"]
    np.testing.assert_allclose(perf, attrs.mean().to_numpy())
    # Support: most important and the lowest rated -> concentrate here (Martilla & James 1977).
    assert kd.loc["support", "quadrant"] == "Concentrate here"
    assert kd.loc["price", "quadrant"] in ("Possible overkill", "Low priority")
    assert kd["rank"].tolist() == [1, 2, 3]


def test_key_drivers_listwise_and_same_numbers_on_refresh():
    y, X = _data(n=80, p=3)
    attrs = pd.DataFrame(X, columns=["a", "b", "c"]).astype(object)
    attrs.iloc[0, 1] = None
    a = key_drivers(y, attrs, n_boot=30)
    b = key_drivers(y, attrs, n_boot=30)
    assert a.attrs["n_dropped"] == 1 and a.attrs["n"] == 79
    pd.testing.assert_frame_equal(a, b)


def test_key_drivers_bad_input():
    with pytest.raises(KpiInputError, match="2 to 12"):
        key_drivers([1, 2, 3], {"a": [1, 2, 3]})
    with pytest.raises(KpiInputError) as err:
        key_drivers([1, 2, 3, 4, 5], {"a": [1, 2, 3, 4, 5], "b": [1, 2, "x", 4, 5]})
    assert err.value.argument == "b" and err.value.position == 3
    with pytest.raises(KpiInputError, match="too few"):
        key_drivers([1, 2, 3], {"a": [1, 2, 3], "b": [3, 1, 2]})
