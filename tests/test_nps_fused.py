"""NPS of a float column validated and counted in one pass: same answer and same errors as the
general cleaning path, on a full Excel column and on every kind of value that must fall back."""

from __future__ import annotations

import numpy as np
import pytest

from kpi_xl.metrics import KpiInputError, nps
from kpi_xl.metrics.survey import _nps_counts_of_clean_floats

POINTS = np.arange(0.0, 11.0)


def test_full_column_from_known_counts():
    # 1,048,576 answers: 400,000 promoters (9-10), 348,576 passives (7-8), 300,000 detractors.
    # NPS = 100 * (400,000 - 300,000) / 1,048,576 = 9.5367431640625 exactly.
    rng = np.random.default_rng(7)
    scores = np.concatenate([
        rng.choice([9.0, 10.0], 400_000), rng.choice([7.0, 8.0], 348_576), rng.integers(0, 7, 300_000),
    ]).astype(np.float64)  # fmt: skip
    rng.shuffle(scores)
    r = nps(scores)
    assert r.value == 9.5367431640625
    assert (r.components["promoters"], r.components["detractors"], r.n_used) == (400_000, 300_000, 1_048_576)
    # The list goes through the general cleaning path: every figure the same.
    general = nps(scores[:1000].tolist())
    assert nps(scores[:1000]) == general


@pytest.mark.parametrize(
    "bad",
    [np.nan, 9.5, 6.000000001, 11.0, -1.0, np.inf, -np.inf, 1e20, 128.0, -129.0, 255.0, 256.0],
)
def test_any_value_that_is_not_a_whole_score_falls_back(bad):
    x = np.full(300_000, 8.0)
    x[200_001] = bad  # in the second chunk
    if np.isnan(bad):
        # A blank: counted by the pass itself, as the general path counts it.
        assert _nps_counts_of_clean_floats(x, POINTS, 9, 6) == (0, 0, 299_999, 1)
        assert nps(x).n_dropped == 1
    else:
        assert _nps_counts_of_clean_floats(x, POINTS, 9, 6) is None
        with pytest.raises(KpiInputError) as err:
            nps(x)
        assert err.value.position == 200_002
        assert nps(x, on_invalid="drop").n_dropped == 1


def test_same_result_as_the_general_path_on_other_scales_and_breakpoints():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 5_000).astype(np.float64)
    fused = nps(x, scale=(1, 5), promoter_min=5, detractor_max=3, method="wald", confidence=0.9)
    general = nps(x.tolist(), scale=(1, 5), promoter_min=5, detractor_max=3, method="wald", confidence=0.9)
    assert fused == general
    assert _nps_counts_of_clean_floats(x, np.arange(1.0, 6.0), 5, 3) == (
        int((x == 5).sum()), int((x <= 3).sum()), 5_000, 0,
    )  # fmt: skip


def test_inputs_the_pass_does_not_take():
    assert _nps_counts_of_clean_floats(np.array([], dtype=float), POINTS, 9, 6) is None
    assert _nps_counts_of_clean_floats(np.array([9, 10]), POINTS, 9, 6) is None  # ints: general path
    assert _nps_counts_of_clean_floats(np.ones((2, 2)), POINTS, 9, 6) is None
    assert _nps_counts_of_clean_floats(np.array([300.0]), np.arange(0.0, 301.0), 9, 6) is None
    assert _nps_counts_of_clean_floats(np.array([-0.0, 10.0]), POINTS, 9, 6) == (1, 1, 2, 0)
    assert _nps_counts_of_clean_floats(np.full(3, np.nan), POINTS, 9, 6) is None  # no answer: general path


def test_blanks_among_the_scores_as_the_general_path_counts_them():
    # An Excel column read as floats: blank cells are NaN, in some chunks only, one chunk all blank.
    rng = np.random.default_rng(11)
    x = rng.integers(0, 11, 400_000).astype(np.float64)
    x[rng.random(x.size) < 0.05] = np.nan
    x[131_072:262_144] = np.nan
    counts = _nps_counts_of_clean_floats(x, POINTS, 9, 6)
    kept = x[~np.isnan(x)]
    assert counts == (int((kept >= 9).sum()), int((kept <= 6).sum()), kept.size, x.size - kept.size)
    general = nps(x.astype(object))  # an object column takes the general cleaning path
    assert nps(x) == general
    assert general.n_dropped == x.size - kept.size
    with pytest.raises(KpiInputError) as err:
        x[300_000] = 10.5
        nps(x)
    assert err.value.position == 300_001


def test_blanks_on_a_scale_that_does_not_start_at_zero():
    # The blanks' bytes are set to the bottom of the scale (1 here, a detractor) and taken off again.
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 300_000).astype(np.float64)
    x[rng.random(x.size) < 0.1] = np.nan
    kept = x[~np.isnan(x)]
    counts = _nps_counts_of_clean_floats(x, np.arange(1.0, 6.0), 5, 3)
    assert counts == (int((kept == 5).sum()), int((kept <= 3).sum()), kept.size, x.size - kept.size)
    assert nps(x, scale=(1, 5), promoter_min=5, detractor_max=3) == nps(
        x.astype(object), scale=(1, 5), promoter_min=5, detractor_max=3
    )
