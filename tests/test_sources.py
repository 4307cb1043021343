"""Feature sources: every backend gives the same statistics; labels follow augmented copies;
the shared split rule; the public EM entry point; NaN named by utterance."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError
from speechgmm.gmm import DiagGMM
from speechgmm.gmm_init import reseed_components, split_components
from speechgmm.sources import ArkSource, InMemorySource, build_source, copy_order

from _helpers import ROOT, need_module


def blobs(n=3000, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(k, d))
    return np.concatenate([c + rng.normal(size=(n // k, d)) for c in centres])


@pytest.fixture(scope="module")
def few_files(corpus):
    with open(ROOT / "data_manifest/asr_course/train.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in ("AE", "AC")]
    rows = rows[::4]
    return [corpus / r["path"] for r in rows], [r["gender"] for r in rows]


def _close(a, b, rtol=1e-6):
    for x, y in [(a.n, b.n), (a.f, b.f), (a.s, b.s)]:
        assert np.allclose(x, y, rtol=rtol, atol=rtol * np.abs(x).max())
    assert a.frames == b.frames


def test_memory_and_ark_sources_give_the_same_statistics(few_files, tmp_path):
    from speechgmm.features import FeatureConfig

    paths, labels = few_files
    cfg = FeatureConfig.preset("default")
    mem = build_source(paths, cfg, augment=("noise",), seed=3)
    ark = build_source(paths, cfg, augment=("noise",), seed=3, cache_dir=tmp_path)
    assert isinstance(mem, InMemorySource) and isinstance(ark, ArkSource)
    assert len(mem) == len(ark) == 2 * len(paths) and mem.n_frames() == ark.n_frames()
    g = DiagGMM(4, max_iter=2, random_state=0).fit(mem)
    _close(mem.accumulate(g), ark.accumulate(g))
    # per class, after the split (copies follow their file's label)
    ms, ks = mem.split_by(labels), ark.split_by(labels)
    assert sorted(ms) == sorted(ks) == ["female", "male"]
    for lab in ms:
        assert len(ms[lab]) == len(ks[lab]) == 2 * labels.count(lab)
        _close(ms[lab].accumulate(g), ks[lab].accumulate(g))
    # and the streamed source's keys are the originals' then the copies', per label
    assert ks["male"].stream.keys[-1].endswith("-noise") and not ks["male"].stream.keys[0].endswith("-noise")
    # the initialisation sample is the same draw from either (QA: above 100,000 frames the archive took every
    # n-th frame and memory a random draw, so --cache trained another model), and so is the model
    limit = mem.n_frames() // 3
    a, b = mem.sample(limit, np.random.default_rng(5)), ark.sample(limit, np.random.default_rng(5))
    assert a.shape == (limit, mem.arrays[0].shape[1]) and np.array_equal(a, b)
    import speechgmm.sources as sources

    saved, sources.INIT_FRAMES = sources.INIT_FRAMES, limit
    try:
        for init in ("kmeans", "split"):
            gm, ga = (DiagGMM(4, init=init, max_iter=2, random_state=0).fit(src) for src in (mem, ark))
            assert np.array_equal(gm.var_floor_, ga.var_floor_) and np.allclose(gm.means_, ga.means_, rtol=1e-6)
    finally:
        sources.INIT_FRAMES = saved


def test_dask_source_gives_the_same_statistics(few_files):
    need_module("dask.distributed")
    from speechgmm.distributed import dask_client
    from speechgmm.features import FeatureConfig

    paths, labels = few_files
    cfg = FeatureConfig.preset("default")
    mem = build_source(paths, cfg, augment=("reverb",), seed=1)
    g = DiagGMM(4, max_iter=2, random_state=0).fit(mem)
    c = dask_client(local_workers=2)
    try:
        dsk = build_source(paths, cfg, augment=("reverb",), seed=1, client=c)
        assert dsk.n_frames() == mem.n_frames()
        _close(mem.accumulate(g), dsk.accumulate(g))
        ms, ds = mem.split_by(labels), dsk.split_by(labels)
        for lab in ms:
            assert ms[lab].n_frames() == ds[lab].n_frames()
            _close(ms[lab].accumulate(g), ds[lab].accumulate(g))
        limit = mem.n_frames() // 3  # the same initialisation sample, gathered from the shards
        a, b = mem.sample(limit, np.random.default_rng(5)), dsk.sample(limit, np.random.default_rng(5))
        assert a.shape[0] == limit and np.array_equal(a, b)
        a, b = (
            ms["male"].sample(limit // 2, np.random.default_rng(6)),
            ds["male"].sample(limit // 2, np.random.default_rng(6)),
        )
        assert np.array_equal(a, b)
    finally:
        c.close()


def test_split_by_gives_copies_their_files_label():
    n, kinds = 3, ("noise", "reverb")
    order = copy_order(n, kinds)
    assert order[:3] == [(None, 0), (None, 1), (None, 2)] and order[3] == ("noise", 0) and order[-1] == ("reverb", 2)
    # array j is filled with its (kind number, file) so the grouping can be checked
    arrays = [np.full((2, 2), 10 * (kinds.index(k) + 1 if k else 0) + i, float) for k, i in order]
    src = InMemorySource(arrays, origin=[i for _, i in order], n_files=n)
    groups = src.split_by(["b", "a", "b"])
    assert [a[0, 0] for a in groups["b"].arrays] == [0, 2, 10, 12, 20, 22]
    assert [a[0, 0] for a in groups["a"].arrays] == [1, 11, 21]
    with pytest.raises(ConfigError, match="3 feature files but 9 labels"):
        src.split_by(["a", "b", "b"] * 3)  # the old labels * (1 + len(augment)) is now an error


def test_split_components_halves_along_the_largest_variance():
    w = np.array([0.6, 0.4])
    mu = np.array([[0.0, 0.0], [5.0, 5.0]])
    var = np.array([[1.0, 4.0], [9.0, 1.0]])
    w2, mu2, var2 = split_components(w, mu, var, [0, 1])
    assert w2.tolist() == [0.3, 0.2, 0.3, 0.2] and np.isclose(w2.sum(), 1.0)
    assert mu2.tolist() == [[0.0, -1.0], [3.5, 5.0], [0.0, 1.0], [6.5, 5.0]]  # +-0.5 sd on axes 1 and 0
    assert np.array_equal(var2, np.concatenate([var, var]))
    assert np.array_equal(mu, [[0.0, 0.0], [5.0, 5.0]])  # inputs untouched
    # re-seeding: the weak slot gets half of the heaviest component, weights renormalised
    w3, mu3, var3 = reseed_components(
        np.array([0.7, 0.0, 0.3]), np.zeros((3, 2)), np.ones((3, 2)), np.array([False, True, False])
    )
    assert np.allclose(w3, [0.35, 0.35, 0.3]) and mu3[0, 0] == -0.5 and mu3[1, 0] == 0.5


def test_split_init_grows_by_doubling():
    X = blobs(4000, k=4)
    g = DiagGMM(5, init="split", max_iter=0, random_state=0).fit(X)  # 1 -> 2 -> 4 -> 5
    assert g.weights_.shape == (5,) and np.isclose(g.weights_.sum(), 1.0) and g.n_components == 5


def test_run_em_is_the_public_em_loop():
    """EM driven by any accumulate function (here: statistics of two halves summed, as separate
    processes or machines would) equals fit."""
    X = blobs()
    ref = DiagGMM(3, max_iter=5, tol=0, random_state=0, dtype=np.float64).fit(X)
    init = DiagGMM(3, max_iter=0, random_state=0, dtype=np.float64).fit(X)
    g = DiagGMM(3, max_iter=5, tol=0, dtype=np.float64)
    g.weights_, g.means_, g.variances_ = init.weights_, init.means_, init.variances_
    g.var_floor_ = init.var_floor_
    g.run_em(lambda: g.accumulate(X[:1000]) + g.accumulate(X[1000:]))
    assert g.n_iter_ == 5 and np.allclose(g.means_, ref.means_) and np.allclose(g.variances_, ref.variances_)
    assert np.allclose(g.log_likelihood_history_, ref.log_likelihood_history_)


def test_from_params_and_classes_alias():
    g = DiagGMM.from_params([0.5, 0.5], [[0.0], [1.0]], [[1.0], [1.0]], var_floor=0.01)
    assert g.n_components == 2 and g.var_floor == 0.01 and g.means_.dtype == np.float64
    X = [blobs(600, seed=s) + 3 * s for s in range(4)]
    clf = GMMClassifier(2, max_iter=3).fit(X, ["a", "b", "a", "b"])
    assert clf.classes_ == clf.labels_ == ["a", "b"]
    totals = clf.score_utterances(X)[0]
    assert clf.predict_from_scores(totals) == clf.predict(X)


def test_nan_is_named_by_utterance():
    X = [blobs(600, seed=s) for s in range(4)]
    bad = X[2].copy()
    bad[5, 1] = np.nan
    with pytest.raises(ConfigError, match="utterance 2: features contain NaN"):
        GMMClassifier(2, max_iter=3).fit(X[:2] + [bad] + X[3:], ["a", "b", "a", "b"])
    clf = GMMClassifier(2, max_iter=3).fit(X, ["a", "b", "a", "b"])
    with pytest.raises(ConfigError, match="utterance 1: features contain NaN"):
        clf.predict([X[0], bad])
    with pytest.raises(ConfigError, match="utterance 0: features contain NaN"):
        clf.predict_proba(bad)


def test_cache_that_is_not_a_folder_is_a_one_line_error(tmp_path):
    """``--cache FILE`` (or a folder that cannot be made) is refused naming it, before any extraction,
    not an OSError ("File exists", exit 1)."""
    import soundfile as sf

    from speechgmm.features import FeatureConfig

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(800, np.float32), 8000)
    for bad in (wav, wav / "sub"):
        with pytest.raises(ConfigError, match=rf"^{bad}: cannot use it as the --cache folder"):
            build_source([wav], FeatureConfig.preset("default"), cache_dir=bad)
