"""EER / minDCF / DET."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from speechgmm.verification import eer, min_dcf, plot_det


def test_eer_hand_checked():
    # threshold between 1.0 and 1.5 rejects 1 of 3 targets and accepts 1 of 3 nontargets
    assert eer([1.0, 2.0, 3.0], [0.0, 0.5, 1.5]) == pytest.approx(1 / 3)
    assert eer([3, 4], [1, 2]) == 0.0
    assert eer([1], [2]) == 1.0


def test_eer_gaussian_matches_analytic():
    rng = np.random.default_rng(0)
    t, n = rng.normal(2, 1, 100_000), rng.normal(0, 1, 100_000)
    assert eer(t, n) == pytest.approx(norm.cdf(-1), abs=0.004)


def test_min_dcf_bounds_and_perfect():
    assert min_dcf([5, 6], [0, 1]) == 0.0
    rng = np.random.default_rng(1)
    v = min_dcf(rng.normal(0, 1, 1000), rng.normal(0, 1, 1000))
    assert 0.9 <= v <= 1.0  # useless scores cost about as much as the trivial system


def test_min_dcf_hand_checked():
    # DCF = 10 * 0.01 * p_miss + 1 * 0.99 * p_fa, normalised by min(0.1, 0.99) = 0.1
    # accept all: 0.99 -> 9.9; threshold in (0, 5): p_miss .5, p_fa 1 -> 10.4;
    # threshold in (5, 10): p_miss .5, p_fa 0 -> 0.5; reject all: 1.0   => minimum 0.5
    assert min_dcf([0.0, 10.0], [5.0]) == pytest.approx(0.5)


def test_det_png(tmp_path):
    rng = np.random.default_rng(2)
    p = tmp_path / "det.png"
    plot_det(rng.normal(2, 1, 300), rng.normal(0, 1, 3000), p)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
