"""Survey planning: NPS sample sizes against hand calculations and the engine's own interval."""

import pytest

from kpi_xl.metrics import (
    KpiInputError,
    nps,
    nps_change_sample_size,
    nps_sample_size,
    nps_sample_size_by_segment,
)

Z95 = 1.959963984540054


def test_worst_case_margin_by_hand():
    # sigma^2 = 1 (p = d = 0.5): n = 1.959964^2 / 0.05^2 - 3 = 1536.6 - 3 = 1533.6 -> about 1534
    n = nps_sample_size(5)
    assert abs(n - (Z95**2 / 0.05**2 - 3)) < 1.5


def test_margin_matches_the_engine_interval():
    # 400 answers, 50% promoters, 25% detractors: the engine's adjusted-Wald margin m; planning
    # for m with the same shares must give back 400.
    r = nps([10] * 200 + [0] * 100 + [8] * 100)
    assert nps_sample_size(r.margin_of_error, promoters=0.5, detractors=0.25) == 400
    # And one response fewer would not reach it.
    smaller = nps([10] * 200 + [0] * 100 + [8] * 99)
    assert smaller.margin_of_error > r.margin_of_error


def test_change_by_hand():
    # p = 0.4, d = 0.3 in A (sigma^2 = 0.7 - 0.01 = 0.69); B: p = 0.5, d = 0.2 (0.61).
    # 90% confidence, 90% power: (1.644854 + 1.281552)^2 = 8.563850; x 1.30 / 0.1^2 = 1113.3
    # minus 3 -> 1110.3 -> 1111
    n = nps_change_sample_size(
        10, promoters=0.4, detractors=0.3, promoters_b=0.5, detractors_b=0.2, confidence=0.9, power=0.9
    )
    assert n == 1111


def test_by_segment_table():
    scores = [10, 10, 0, 8] * 25 + [10, 0] * 30
    segs = ["North"] * 100 + ["south"] * 30 + ["South "] * 30
    t = nps_sample_size_by_segment(scores, segs, margin=10)
    assert t.index.tolist() == ["North", "south", "Total"]
    assert t.loc["North", "n"] == 100 and t.loc["south", "n"] == 60
    assert t.loc["North", "needed"] == 261
    # South: p = d = 0.5. Closed form 3.841459 / 0.01 - 3 = 381.1, but the adjusted shares are
    # smaller: at n = 380, (190 + 0.75)/383 = 0.498042 each, variance 0.996084, margin
    # 1.959964 sqrt(0.996084/383) = 0.099954 <= 0.1; at 379: 1.959964 sqrt(0.996073/382) = 0.100084.
    assert t.loc["south", "needed"] == 380
    assert t.loc["south", "additional"] == 380 - 60


def test_bad_planning_input():
    with pytest.raises(KpiInputError, match="margin"):
        nps_sample_size(0)
    with pytest.raises(KpiInputError, match="add up"):
        nps_sample_size(5, promoters=0.7, detractors=0.5)
    with pytest.raises(KpiInputError, match="power"):
        nps_change_sample_size(5, power=1.2)
