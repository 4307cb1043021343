"""modelio: one reader and one writer per object, and the header checks of issue 13 (item 11)."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ModelFileError
from speechgmm.features import FeatureConfig
from speechgmm.gmm import DiagGMM
from speechgmm.modelio import (
    classifier_from_arrays,
    classifier_to_arrays,
    front_end_from_header,
    gmm_from_arrays,
    gmm_to_arrays,
    load_model,
    save_model,
    save_ubm,
    ubm_from_arrays,
    ubm_to_arrays,
)

from _helpers import rewrite_model


def _data():
    rng = np.random.default_rng(1)
    X = [rng.normal(c, 1, (80, 39)) for c in (0, 2, 4) for _ in range(3)]
    return X, ["a"] * 3 + ["b"] * 3 + ["c"] * 3


@pytest.fixture(scope="module")
def em_clf():
    X, y = _data()
    return GMMClassifier(2, max_iter=3).fit(X, y)


@pytest.fixture(scope="module")
def map_clf():
    X, y = _data()
    ubm = DiagGMM(4, max_iter=3, tol=0, init="split", random_state=0).fit(X)
    return GMMClassifier(priors={"a": 0.5, "b": 0.25, "c": 0.25}).fit_map(X, y, ubm, relevance_factor=4.0, adapt="mw")


_rewrite = rewrite_model


def test_gmm_reader_round_trip_and_checks():
    X, _ = _data()
    g = DiagGMM(3, max_iter=2, random_state=0).fit(np.concatenate(X))
    arrays = gmm_to_arrays(g, "x")
    assert sorted(arrays) == ["x_means", "x_variances", "x_weights"]
    h = gmm_from_arrays(arrays, "x", n_features=39)
    assert np.array_equal(h.means_, g.means_) and np.array_equal(h.score_samples(X[0]), g.score_samples(X[0]))
    with pytest.raises(ModelFileError, match="inconsistent shapes"):
        gmm_from_arrays(arrays, "x", where="f.npz", n_features=40)
    with pytest.raises(ModelFileError, match="missing array y_weights"):
        gmm_from_arrays(arrays, "y")
    bad = dict(arrays, x_variances=-arrays["x_variances"])
    with pytest.raises(ModelFileError, match="variances be > 0"):
        gmm_from_arrays(bad, "x")


@pytest.mark.parametrize("which", ["em_clf", "map_clf"])
def test_classifier_reader_round_trip(request, which):
    clf = request.getfixturevalue(which)
    header, arrays = classifier_to_arrays(clf)
    back = classifier_from_arrays(header, arrays)
    X, y = _data()
    assert back.labels_ == clf.labels_ and back.method_ == clf.method_ and back.priors == clf.priors
    assert np.array_equal(back.decision_scores(X), clf.decision_scores(X))
    assert back.predict(X) == clf.predict(X)


def test_ubm_reader_round_trip():
    X, _ = _data()
    ubm = DiagGMM(4, max_iter=2, tol=0, init="split", random_state=0).fit(X)
    header, arrays = ubm_to_arrays(ubm)
    assert header["kind"] == "ubm" and header["n_components"] == 4
    back = ubm_from_arrays(header, arrays)
    assert np.array_equal(back.var_floor_, ubm.var_floor_) and back.var_floor == ubm.var_floor
    assert np.array_equal(back.score_samples(X[0]), ubm.score_samples(X[0]))


def test_front_end_reader():
    assert front_end_from_header({}) is None
    fc = FeatureConfig.preset("speaker")
    assert front_end_from_header({"features": fc.to_dict()}) == fc


# -- issue 13, item 11: bad headers give one-line ModelFileErrors -------------------------------------


@pytest.mark.parametrize(
    "priors,needle",
    [
        (["a", "b"], "priors"),  # not a mapping
        ({"a": "x", "b": 1, "c": 1}, "prior of 'a'"),  # not a number
        ({"a": -1.0, "b": 1, "c": 1}, "prior of 'a'"),  # negative
        ({"a": 0, "b": 0, "c": 0}, "priors must not all be 0"),
        ({"zz": 1.0}, "priors"),  # not a label of the model
    ],
)
def test_bad_priors_are_refused(em_clf, tmp_path, priors, needle):
    p = save_model(tmp_path / "m.npz", em_clf, FeatureConfig())
    bad = _rewrite(p, tmp_path / "bad.npz", lambda h: h.update(priors=priors))
    with pytest.raises(ModelFileError, match=needle) as e:
        load_model(bad)
    assert "bad.npz" in str(e.value) and "\n" not in str(e.value)


def test_unknown_method_is_refused(em_clf, tmp_path):
    p = save_model(tmp_path / "m.npz", em_clf, FeatureConfig())
    bad = _rewrite(p, tmp_path / "bad.npz", lambda h: h.update(method="svm"))
    with pytest.raises(ModelFileError, match="unknown method 'svm'"):
        load_model(bad)


def test_fewer_labels_than_class_arrays_is_refused(em_clf, tmp_path):
    p = save_model(tmp_path / "m.npz", em_clf, FeatureConfig())
    bad = _rewrite(p, tmp_path / "bad.npz", lambda h: h.update(labels=["a", "b"]))
    with pytest.raises(ModelFileError, match="2 labels but 3 class models"):
        load_model(bad)


def test_bad_top_c_is_refused(map_clf, tmp_path):
    p = save_model(tmp_path / "m.npz", map_clf, FeatureConfig())
    bad = _rewrite(p, tmp_path / "bad.npz", lambda h: h.update(top_c="five"))
    with pytest.raises(ModelFileError, match="top_c"):
        load_model(bad)


def test_front_end_option_of_a_newer_version(em_clf, tmp_path):
    p = save_model(tmp_path / "m.npz", em_clf, FeatureConfig())

    def newer(h):
        h["speechgmm_version"] = "9.3.0"
        h["features"]["voice_quality"] = True

    with pytest.raises(ModelFileError, match=r"written by a newer speechgmm \(9\.3\.0\).*upgrade") as e:
        load_model(_rewrite(p, tmp_path / "new.npz", newer))
    assert "damaged" not in str(e.value)
    # the same unknown option from this version is damage, not news
    same = _rewrite(p, tmp_path / "same.npz", lambda h: h["features"].update(voice_quality=True))
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(same)


def test_newer_format_version_says_upgrade(em_clf, tmp_path):
    p = save_model(tmp_path / "m.npz", em_clf, FeatureConfig())
    bad = _rewrite(p, tmp_path / "v2.npz", lambda h: h.update(format_version=2, speechgmm_version="1.0.0"))
    with pytest.raises(ModelFileError, match=r"version 2 \(written by a newer speechgmm \(1\.0\.0\); upgrade\)"):
        load_model(bad)


def test_a_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_bad_ubm_var_floor_is_refused(tmp_path):
    X, _ = _data()
    ubm = DiagGMM(2, max_iter=2, random_state=0).fit(X)
    p = save_ubm(tmp_path / "u.npz", ubm, FeatureConfig())
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["ubm_var_floor"] = np.full(39, np.nan)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="ubm_var_floor"):
        load_model(tmp_path / "bad.npz")
