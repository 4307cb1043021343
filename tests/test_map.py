"""MAP adaptation and top-C scoring."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError
from speechgmm.gmm import DiagGMM, m_step
from speechgmm.map import map_adapt, score_top_c


@pytest.fixture(scope="module")
def ubm_and_data():
    rng = np.random.default_rng(0)
    bg = np.concatenate([rng.normal(c, 1, (400, 4)) for c in (-3, 0, 3, 6)])
    ubm = DiagGMM(8, max_iter=10, random_state=0, init="split").fit(bg)
    spk = rng.normal(1.0, 0.8, (300, 4))
    return ubm, spk


def test_infinite_relevance_returns_ubm(ubm_and_data):
    ubm, X = ubm_and_data
    g = map_adapt(ubm, ubm.accumulate(X), np.inf, "mwv")
    assert np.allclose(g.means_, ubm.means_)
    assert np.allclose(g.variances_, ubm.variances_)
    assert np.allclose(g.weights_, ubm.weights_)


def test_zero_relevance_is_one_ml_em_step(ubm_and_data):
    ubm, X = ubm_and_data
    st = ubm.accumulate(X)
    g = map_adapt(ubm, st, 0.0, "mwv")
    w, mu, var, dead = m_step(st, ubm.var_floor_)
    live = ~dead
    assert np.allclose(g.means_[live], mu[live])
    assert np.allclose(g.weights_, w)
    assert np.allclose(g.variances_[live], var[live])


def test_large_relevance_moves_means_less(ubm_and_data):
    ubm, X = ubm_and_data
    st = ubm.accumulate(X)
    d = [np.abs(map_adapt(ubm, st, r).means_ - ubm.means_).sum() for r in (1.0, 16.0, 256.0)]
    assert d[0] > d[1] > d[2] > 0


def test_only_means_adapted_by_default(ubm_and_data):
    ubm, X = ubm_and_data
    g = map_adapt(ubm, ubm.accumulate(X), 16.0)
    assert np.array_equal(g.variances_, ubm.variances_)
    assert np.array_equal(g.weights_, ubm.weights_)
    with pytest.raises(ConfigError):
        map_adapt(ubm, ubm.accumulate(X), 16.0, adapt="q")


def test_top_c_equals_full_scoring_when_c_is_k(ubm_and_data):
    ubm, X = ubm_and_data
    models = [map_adapt(ubm, ubm.accumulate(X[:150]), 4.0), map_adapt(ubm, ubm.accumulate(X[150:]), 4.0)]
    got = score_top_c(models, ubm, X[:50], c=ubm.n_components)
    full = np.stack([m.score_samples(X[:50]) - ubm.score_samples(X[:50]) for m in models], 1)
    assert np.allclose(got, full, atol=1e-8)
    approx = score_top_c(models, ubm, X[:50], c=2)
    assert np.max(np.abs(approx - full)) < 1.0  # close but not identical


def test_map_classifier_identifies_speakers():
    rng = np.random.default_rng(1)
    centers = rng.normal(0, 2, (5, 6))
    bg = np.concatenate([rng.normal(rng.normal(0, 2, 6), 1, (200, 6)) for _ in range(20)])
    ubm = DiagGMM(16, max_iter=8, init="split", random_state=0).fit(bg)
    enroll = [rng.normal(c, 1, (60, 6)) for c in centers]
    test = [rng.normal(c, 1, (30, 6)) for c in centers]
    labels = list("abcde")
    clf = GMMClassifier(top_c=5).fit_map(enroll, labels, ubm, relevance_factor=4.0)
    assert clf.predict(test) == labels
