"""GMMClassifier: stacked scoring equals per-model scoring, posteriors, training checks, real digits."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import InsufficientDataError


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(c, 1, (40, 5)) for c in (0, 2, 4) for _ in range(6)]
    y = [lab for lab in ("a", "b", "c") for _ in range(6)]
    return X, y


def test_stacked_scores_equal_per_model_scores():
    X, y = data()
    clf = GMMClassifier(3, max_iter=5).fit(X, y)
    totals, frames = clf.score_utterances(X)
    direct = np.array([[m.score_samples(x).sum() for m in clf.models_] for x in X])
    assert np.allclose(totals, direct, rtol=1e-9, atol=1e-6)
    assert list(frames) == [40] * 18
    assert np.allclose(clf.decision_scores(X[0]), direct[0])


def test_predict_and_posteriors():
    X, y = data()
    clf = GMMClassifier(2, max_iter=5).fit(X, y)
    Xt, yt = data(seed=1)
    assert clf.predict(Xt) == yt
    P = clf.predict_proba(Xt)
    assert P.shape == (18, 3)
    assert np.allclose(P.sum(1), 1)
    assert np.all(np.isfinite(P))
    # totals of thousands of nats apart: still finite, no overflow
    assert P.max() == 1.0


def test_priors_shift_decisions():
    X, y = data()
    clf = GMMClassifier(2, max_iter=5).fit(X, y)
    mid = [np.full((1, 5), 1.0)]  # between classes a and b
    base = clf.predict_proba(mid)[0]
    clf.priors = {"a": 1e-6, "b": 1.0, "c": 1.0}
    shifted = clf.predict_proba(mid)[0]
    assert shifted[0] < base[0]


def test_jobs_do_not_change_the_result():
    X, y = data()
    a = GMMClassifier(2, max_iter=5, random_state=3, jobs=1).fit(X, y)
    b = GMMClassifier(2, max_iter=5, random_state=3, jobs=2).fit(X, y)
    assert all(np.array_equal(m.means_, n.means_) for m, n in zip(a.models_, b.models_))


def test_too_little_data_names_the_class():
    X, y = data()
    X = X + [np.zeros((3, 5))]
    y = y + ["tiny"]
    with pytest.raises(InsufficientDataError, match="class 'tiny' has 3 frames"):
        GMMClassifier(4).fit(X, y)


def test_needs_two_classes():
    X, _ = data()
    with pytest.raises(InsufficientDataError, match="at least 2 classes"):
        GMMClassifier(2).fit(X, ["a"] * len(X))


def test_course_digits_from_kaldi_features(gmm_dir):
    """The homework protocol on the course's own features: well above chance, near published results."""
    from speechgmm.kaldi import read_feats, read_text

    tr, te = read_feats(gmm_dir / "train" / "feats.scp"), read_feats(gmm_dir / "test" / "feats.scp")
    ytr, yte = read_text(gmm_dir / "train" / "text"), read_text(gmm_dir / "test" / "text")
    clf = GMMClassifier(5, max_iter=5, tol=0, init="split").fit([tr[k] for k in tr], [ytr[k] for k in tr])
    acc = np.mean([p == yte[k] for p, k in zip(clf.predict([te[k] for k in te]), te)])
    assert acc >= 0.97


def test_odd_inputs_get_config_errors_not_numpy_errors():
    from speechgmm.errors import ConfigError

    X, y = data()
    clf = GMMClassifier(2, max_iter=2).fit(X, y)
    for call in (clf.predict, clf.predict_proba, clf.decision_scores):
        with pytest.raises(ConfigError, match=r"shape \(n_frames, 5\)"):
            call(np.zeros(5))  # one frame as a 1-D array (was an IndexError)
        with pytest.raises(ConfigError, match="utterance 1: features must have shape"):
            call([X[0], X[1][:, :4]])  # was numpy's concatenate error
    for priors in ({"a": -1.0, "b": 1.0, "c": 1.0}, {"a": float("nan"), "b": 1.0, "c": 1.0}):
        clf.priors = priors
        with pytest.raises(ConfigError, match="priors"):  # was NaN posteriors
            clf.predict_proba(X[:2])
    clf.priors = None
    for k in (2.5, 0, None, "2"):  # 2.5 trained 2 components
        with pytest.raises(ConfigError, match="n_components must be an integer >= 1"):
            GMMClassifier(k, max_iter=2).fit(X, y)
    with pytest.raises(ConfigError, match="top_c"):
        GMMClassifier(top_c=0).fit_map(X, y, clf.models_[0]).predict(X[:1])  # was a zero-size reduction error


def test_map_class_without_frames_is_refused():
    X, y = data()
    ubm = GMMClassifier(2, max_iter=2).fit(X, y).models_[0]
    with pytest.raises(InsufficientDataError, match="class 'b' has no frames"):
        GMMClassifier().fit_map([X[0], np.zeros((0, 5))], ["a", "b"], ubm)  # was KeyError 'XX'


def test_clone_copies_every_hyper_parameter_and_no_fitted_state():
    import inspect

    names = [n for n in inspect.signature(GMMClassifier.__init__).parameters if n != "self"]
    values = dict(
        n_components=3, max_iter=7, tol=0.01, init="random", random_state=5, var_floor=0.01, hard=True,
        priors={"a": 0.3, "b": 0.7}, jobs=2, top_c=2, relevance_factor=8.0, adapt="mv",
    )  # fmt: skip
    assert set(values) == set(names)  # a new hyper-parameter must be added here (and is then cloned)
    rng = np.random.default_rng(0)
    clf = GMMClassifier(**values).fit([rng.normal(0, 1, (50, 2)), rng.normal(3, 1, (50, 2))], ["a", "b"])
    twin = clf.clone()
    assert {n: getattr(twin, n) for n in names} == values
    assert not getattr(twin, "models_", None) and twin.calibration_ is None
