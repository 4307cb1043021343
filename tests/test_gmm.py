"""DiagGMM: EM properties, statistics algebra, agreement with scikit-learn, robustness."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError, InsufficientDataError
from speechgmm.gmm import DiagGMM, GMMStats, e_step, log_gaussian_matrices, m_step


def blobs(n=3000, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 5, (k, d))
    lab = rng.integers(0, k, n)
    return centers[lab] + rng.normal(0, 1, (n, d)) * rng.uniform(0.5, 2, (k, d))[lab]


@pytest.fixture(scope="module")
def mfcc_frames(gmm_dir):
    from speechgmm.kaldi import read_feats

    feats = read_feats(gmm_dir / "train" / "feats.scp")
    return [feats[k] for k in sorted(feats)[:120]]


@pytest.mark.parametrize("init", ["kmeans", "random", "split"])
def test_loglik_never_decreases_on_real_mfcc(mfcc_frames, init):
    g = DiagGMM(8, max_iter=15, tol=0, init=init, random_state=0, dtype=np.float64).fit(mfcc_frames)
    h = np.array(g.log_likelihood_history_)
    assert len(h) == 15
    assert g.n_iter_ == 15
    assert np.all(np.diff(h) >= -1e-7), np.diff(h)
    assert h[-1] > h[0]


def test_float32_loglik_monotone_within_tolerance(mfcc_frames):
    g = DiagGMM(16, max_iter=10, tol=0, init="split", random_state=0).fit(mfcc_frames)
    assert np.all(np.diff(g.log_likelihood_history_) >= -1e-4)


def test_weights_sum_to_one_and_variances_floored(mfcc_frames):
    g = DiagGMM(32, max_iter=10, init="kmeans", random_state=1, var_floor=0.05).fit(mfcc_frames)
    assert np.isclose(g.weights_.sum(), 1.0)
    assert np.all(g.weights_ >= 0)
    X = np.concatenate(mfcc_frames)
    assert np.allclose(g.var_floor_, 0.05 * X.var(0), rtol=0.05)
    assert np.all(g.variances_ >= g.var_floor_ * (1 - 1e-12))


def test_variance_floor_binds_on_degenerate_dimension():
    X = blobs()
    X[:, 2] = 1.0  # a constant dimension: ML variance 0
    X[:10, 2] = 1.001
    g = DiagGMM(3, max_iter=10, random_state=0, var_floor=1e-3).fit(X)
    assert np.all(np.isfinite(g.means_))
    assert np.all(g.variances_[:, 2] >= g.var_floor_[2])
    assert np.isfinite(g.score(X))


def test_chunked_accumulation_equals_one_shot():
    X = blobs(5000)
    g = DiagGMM(4, max_iter=3, random_state=0, dtype=np.float64).fit(X)
    once = e_step(X, g.weights_, g.means_, g.variances_, dtype=np.float64)
    g.chunk_size = 333
    chunked = g.accumulate([X[:1234], X[1234:]])
    for a, b in [(once.n, chunked.n), (once.f, chunked.f), (once.s, chunked.s)]:
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9)
    assert np.isclose(once.loglik, chunked.loglik)
    assert chunked.frames == 5000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_accumulation_equals_serial_and_is_repeatable(mfcc_frames, dtype):
    g = DiagGMM(16, max_iter=3, random_state=0, dtype=dtype, chunk_size=500, n_threads=1).fit(mfcc_frames)
    serial = g.accumulate(mfcc_frames)
    g.n_threads = 3
    a, *more = [g.accumulate(mfcc_frames) for _ in range(6)]
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for x, y in [(serial.n, a.n), (serial.f, a.f), (serial.s, a.s)]:
        # A sum's rounding error scales with the size of its terms, not of its result: first-order
        # statistics of centred features cancel to near 0, so the tolerance is relative to each
        # component's largest statistic (measured: 6e-5 on 0.23 with terms of order 1e4, float32).
        scale = np.abs(x).max(axis=-1, keepdims=True) if x.ndim == 2 else np.abs(x)
        assert np.all(np.abs(x - y) <= rtol * scale + rtol)
    assert np.isclose(serial.loglik, a.loglik, rtol=rtol)
    assert serial.frames == a.frames
    # chunk statistics are summed in chunk order, in buffers of one layout: thread timing
    # cannot change the result
    for b in more:
        assert a.loglik == b.loglik
        assert np.array_equal(a.f, b.f)
        assert np.array_equal(a.s, b.s)
        assert np.array_equal(a.n, b.n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_posteriors_never_subnormal(dtype):
    from speechgmm.gmm import _exp_floor, exp_shifted, logsumexp_rows

    a = np.array([[0.0, -50.0, -90.0, -200.0, -720.0, -1e4, -np.inf]], dtype=dtype)
    e = exp_shifted(a.copy(), _exp_floor(dtype, 64))
    tiny = np.finfo(dtype).tiny
    assert np.all(e >= tiny * 64)
    assert e[0, 0] == 1.0
    assert np.isclose(e[0, 1], np.exp(-50.0), rtol=1e-5)  # normal values are untouched
    # logsumexp is unchanged to within rounding
    assert np.isclose(logsumexp_rows(a.astype(np.float64))[0], np.log1p(np.exp(-50.0)), rtol=1e-12)
    # the E-step on frames far from every component but one gives normal posteriors only
    X = np.concatenate([blobs(2000, seed=1), blobs(10, seed=2) + 40]).astype(dtype)
    g = DiagGMM(3, max_iter=5, random_state=0, dtype=dtype).fit(X)
    st = g.accumulate(X)
    assert np.all(np.isfinite(st.f))
    assert np.isclose(st.n.sum(), len(X))


def test_merge_of_accumulators_equals_accumulator_over_both():
    X = blobs(4000)
    g = DiagGMM(3, max_iter=2, random_state=0, dtype=np.float64).fit(X)
    a, b = g.accumulate(X[:1500]), g.accumulate(X[1500:])
    both = g.accumulate(X)
    merged = a + b
    assert np.allclose(merged.n, both.n)
    assert np.allclose(merged.f, both.f)
    assert np.allclose(merged.s, both.s)
    assert sum([a, b]).frames == 4000
    r = GMMStats.from_dict(merged.to_dict())
    assert np.array_equal(r.s, merged.s)
    assert r.loglik == merged.loglik


def test_update_from_stats_is_the_m_step():
    X = blobs(2000)
    g = DiagGMM(3, max_iter=1, tol=0, random_state=0, dtype=np.float64).fit(X)
    st = g.accumulate(X)
    w, mu, var, dead = m_step(st, g.var_floor_)
    assert not dead.any()
    g.update(st)
    assert np.allclose(g.weights_, w)
    assert np.allclose(g.means_, mu)
    assert np.allclose(g.variances_, var)
    # posterior-weighted mean computed by hand
    post = g.predict_proba(X)
    assert post.shape == (2000, 3)
    assert np.allclose(post.sum(1), 1)


def test_log_gaussian_matrices_match_direct_density():
    rng = np.random.default_rng(0)
    w = np.array([0.2, 0.8])
    mu = rng.normal(size=(2, 3))
    var = rng.uniform(0.5, 2, (2, 3))
    X = rng.normal(size=(5, 3))
    W, b = log_gaussian_matrices(w, mu, var)
    got = np.hstack([X, X**2]) @ W + b
    direct = np.log(w) + np.array(
        [[-0.5 * np.sum(np.log(2 * np.pi * var[k]) + (x - mu[k]) ** 2 / var[k]) for k in range(2)] for x in X]
    )
    assert np.allclose(got, direct)


def test_agrees_with_sklearn_from_identical_init(mfcc_frames):
    from sklearn.mixture import GaussianMixture

    X = np.concatenate(mfcc_frames).astype(np.float64)
    init = DiagGMM(8, max_iter=0, init="kmeans", random_state=3).fit(X)
    ours = DiagGMM(
        8,
        max_iter=25,
        tol=0,
        weights_init=init.weights_,
        means_init=init.means_,
        variances_init=init.variances_,
        var_floor=1e-9,
    ).fit(X)
    sk = GaussianMixture(
        8,
        covariance_type="diag",
        max_iter=25,
        tol=0,
        reg_covar=0,
        weights_init=init.weights_,
        means_init=init.means_,
        precisions_init=1 / init.variances_,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X)
    assert abs(ours.score(X) - sk.score(X)) < 1e-3
    assert np.allclose(ours.score_samples(X[:50]), sk.score_samples(X[:50]), atol=1e-2)


def test_deterministic_given_seed(mfcc_frames):
    a = DiagGMM(8, max_iter=5, init="kmeans", random_state=7).fit(mfcc_frames)
    b = DiagGMM(8, max_iter=5, init="kmeans", random_state=7).fit(mfcc_frames)
    c = DiagGMM(8, max_iter=5, init="kmeans", random_state=8).fit(mfcc_frames)
    assert np.array_equal(a.means_, b.means_)
    assert np.array_equal(a.variances_, b.variances_)
    assert not np.allclose(a.means_, c.means_)


def test_split_init_grows_to_non_power_of_two():
    g = DiagGMM(6, max_iter=2, init="split", random_state=0).fit(blobs(3000, k=6))
    assert g.means_.shape == (6, 4)
    assert np.isclose(g.weights_.sum(), 1)


def test_collapsed_component_is_reseeded_not_nan():
    X = blobs(2000, k=2)
    far = np.full((1, 4), 1e4)
    g = DiagGMM(
        3,
        max_iter=5,
        tol=0,
        weights_init=[0.5, 0.49, 0.01],
        means_init=np.vstack([X[:2].copy(), far]),
        variances_init=np.ones((3, 4)),
    ).fit(X)
    assert g.n_reseeded_ >= 1
    assert np.all(np.isfinite(g.means_))
    assert np.all(g.weights_ > 0)
    assert np.isfinite(g.score(X))


def test_hard_em_assigns_each_frame_fully():
    X = blobs(3000)
    g = DiagGMM(3, max_iter=10, hard=True, random_state=0).fit(X)
    st = g.accumulate(X)
    assert np.isclose(st.n.sum(), 3000)
    assert np.all(np.mod(st.n, 1) == 0)
    assert np.all(np.diff(g.log_likelihood_history_) >= -1e-6)


def test_too_few_frames():
    with pytest.raises(InsufficientDataError, match="too few"):
        DiagGMM(8).fit(np.random.default_rng(0).normal(size=(10, 3)))


def test_bad_inputs():
    with pytest.raises(ConfigError):
        DiagGMM(2).fit(np.zeros(10))
    bad = np.ones((20, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        DiagGMM(2).fit(bad)
    with pytest.raises(ConfigError, match="init"):
        DiagGMM(2, init="magic").fit(np.ones((20, 2)))
    with pytest.raises(ConfigError, match="not fitted"):
        DiagGMM(2).score(np.ones((3, 2)))


def test_bic_aic_prefer_true_k():
    X = blobs(4000, k=3, seed=5)
    bics = [DiagGMM(k, random_state=0).fit(X).bic(X) for k in (1, 3, 8)]
    assert bics[1] < bics[0]
    assert bics[1] < bics[2]
    g = DiagGMM(3, random_state=0).fit(X)
    assert g.aic(X) < g.bic(X)


def test_round_trip_dict():
    X = blobs()
    g = DiagGMM(3, random_state=0).fit(X)
    h = DiagGMM.from_dict(g.to_dict())
    assert np.allclose(h.score_samples(X), g.score_samples(X))


def test_streamed_features_give_the_same_em(gmm_dir, monkeypatch):
    """EM over an ArkFeatures stream (one utterance in memory at a time) equals EM over a list."""
    from speechgmm.kaldi import ArkFeatures, read_feats

    monkeypatch.chdir(gmm_dir)  # the course scp holds paths relative to 03-GMM-EM/
    stream = ArkFeatures("train/feats.scp")
    arrays = list(read_feats("train/feats.scp").values())
    assert len(stream) == len(arrays) == 330
    init = DiagGMM(8, max_iter=0, random_state=0).fit(arrays)
    kw = dict(weights_init=init.weights_, means_init=init.means_, variances_init=init.variances_, max_iter=4, tol=0)
    a, b = DiagGMM(8, **kw).fit(arrays), DiagGMM(8, **kw).fit(stream)
    assert np.allclose(a.means_, b.means_)
    assert np.allclose(a.log_likelihood_history_, b.log_likelihood_history_)
    c = DiagGMM(8, init="split", max_iter=3, random_state=0).fit(stream)
    assert np.all(np.diff(c.log_likelihood_history_) > -1e-4)


def test_threaded_accumulate_reports_bad_stream_arrays():
    from speechgmm.gmm import FeatureStream

    X = blobs(3000)

    class Stream(FeatureStream):
        def __init__(self, arrays):
            self.arrays = arrays

        def __iter__(self):
            return iter(self.arrays)

        def __len__(self):
            return len(self.arrays)

    g = DiagGMM(3, max_iter=2, random_state=0, chunk_size=256, n_threads=2).fit(X)
    bad_nan = X[:300].copy()
    bad_nan[7, 1] = np.nan
    for bad, msg in [(X[:300, :3], "dimensions"), (bad_nan, "NaN")]:
        with pytest.raises(ConfigError, match=msg):
            g.accumulate(Stream([X[:1000], X[1000:2000], bad, X[2000:]]))
    # and the model still works afterwards (no thread or buffer left in a bad state)
    st = g.accumulate(Stream([X[:1500], X[1500:]]))
    assert st.frames == 3000
    assert np.isclose(st.n.sum(), 3000)


def test_empty_arrays_accumulate_to_zero_statistics():
    g = DiagGMM(2, random_state=0, max_iter=2).fit(blobs())
    st = g.accumulate(np.zeros((0, g.means_.shape[1])))  # was KeyError 'XX'
    assert st.frames == 0 and st.n.sum() == 0


def test_scoring_refuses_non_finite_and_empty_features():
    X = blobs()
    g = DiagGMM(2, random_state=0, max_iter=2).fit(X)
    bad = X[:3].copy()
    bad[1, 0] = np.nan
    for f in (g.score_samples, g.score, g.predict_proba, g.predict, g.bic):
        with pytest.raises(ConfigError, match="NaN or infinite"):
            f(bad)
    with pytest.raises(ConfigError, match="no frames"):
        g.score(X[:0])  # was nan with numpy warnings


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(n_components=None), "n_components"),
        (dict(n_components=2.5), "n_components"),
        (dict(max_iter=float("nan")), "max_iter"),
        (dict(tol=float("nan")), "tol"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(chunk_size=-1), "chunk_size"),
        (dict(random_state=-1), "random_state"),
        (dict(random_state=1.5), "random_state"),
        (dict(dtype=np.int32), "dtype"),
    ],
)
def test_bad_hyper_parameters_are_config_errors(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        DiagGMM(**{"n_components": 2, **kw}).fit(blobs())


@pytest.mark.parametrize("scale", [1e18, 1e20, 1e160])
def test_features_too_large_are_refused_not_diverged(scale):
    # Features whose squares overflow the float32 statistics used to end in "EM diverged ...; use fewer
    # components", which sends the user the wrong way: the data, not the model size, is the problem.
    X = blobs() * scale
    with pytest.raises(ConfigError, match=r"features too large.*rescale"):
        DiagGMM(2, random_state=0, max_iter=2).fit(X)
    with pytest.raises(ConfigError, match=r"utterance 1: features too large"):
        GMMClassifier(n_components=2, random_state=0, max_iter=2).fit([blobs(), X], ["a", "b"])
    g = DiagGMM(2, random_state=0, max_iter=2).fit(blobs())
    with pytest.raises(ConfigError, match="features too large"):
        g.score_samples(X)
    clf = GMMClassifier(n_components=2, random_state=0, max_iter=2).fit([blobs(), blobs() + 3], ["a", "b"])
    with pytest.raises(ConfigError, match="utterance 0: features too large"):
        clf.predict([X])


def test_large_but_representable_features_still_train():
    X = blobs() * 1e12 + 1e12  # e.g. raw power values: large, but their float32 statistics are finite
    g = DiagGMM(2, random_state=0, max_iter=5).fit(X)
    assert np.all(np.isfinite(g.means_)) and np.all(np.isfinite(g.score_samples(X)))
