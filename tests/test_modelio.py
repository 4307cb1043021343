"""Model files: round trip, no pickle, atomic writes, damaged and foreign files."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError, ModelFileError
from speechgmm.features import FeatureConfig
from speechgmm.gmm import DiagGMM
from speechgmm.modelio import load_model, save_model, save_ubm

from _helpers import rewrite_model


def toy_classifier():
    rng = np.random.default_rng(0)
    X = [rng.normal(c, 1, (60, 39)) for c in (0, 3) for _ in range(5)]
    y = ["a"] * 5 + ["b"] * 5
    return GMMClassifier(2, max_iter=3).fit(X, y), X


@pytest.fixture
def model(tmp_path):
    clf, X = toy_classifier()
    p = save_model(tmp_path / "m.npz", clf, FeatureConfig(), {"label_column": "label"})
    return p, clf, X


def test_round_trip_scores_identical(model):
    p, clf, X = model
    mf = load_model(p)
    assert mf.kind == "classifier"
    assert mf.classifier.labels_ == ["a", "b"]
    assert mf.feature_config == FeatureConfig()
    assert np.allclose(mf.classifier.decision_scores(X), clf.decision_scores(X))
    assert mf.header["label_column"] == "label"
    assert mf.header["format_version"] == 1


def test_no_pickle_needed(model):
    p, _, _ = model
    with np.load(p, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    clf, _ = toy_classifier()
    target = tmp_path / "m.npz"
    save_model(target, clf, FeatureConfig())
    before = target.read_bytes()
    import numpy.lib.format as fmt

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fmt, "write_array", boom)
    with pytest.raises(RuntimeError):
        save_model(target, clf, FeatureConfig())
    assert target.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]


def test_truncated_file(model, tmp_path):
    p, _, _ = model
    bad = tmp_path / "cut.npz"
    bad.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(ModelFileError, match="cut.npz"):
        load_model(bad)


def test_bit_flips_never_crash_uncontrolled(model, tmp_path):
    p, _, _ = model
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(1)
    for trial in range(40):
        d = bytearray(data)
        for pos in rng.integers(0, len(d), 3):
            d[pos] ^= 0xFF
        f = tmp_path / f"flip{trial}.npz"
        f.write_bytes(bytes(d))
        try:
            mf = load_model(f)
        except ModelFileError:
            continue
        # if it loads, it must be valid and give finite scores
        X = np.zeros((5, 39))
        assert np.all(np.isfinite(mf.classifier.decision_scores(X)))


@pytest.mark.parametrize("kind", ["text", "npy", "zip", "npz_other", "missing"])
def test_foreign_files(tmp_path, kind):
    f = tmp_path / "foreign.npz"
    if kind == "text":
        f.write_text("hello")
    elif kind == "npy":
        np.save(f, np.arange(3))
        f = tmp_path / "foreign.npz.npy"
    elif kind == "zip":
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("x.txt", "hi")
    elif kind == "npz_other":
        np.savez(f, a=np.arange(3))
    else:
        f = tmp_path / "nothing.npz"
    with pytest.raises(ModelFileError):
        load_model(f)


def test_nan_in_parameters_rejected(model, tmp_path):
    p, _, _ = model
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["c0_means"] = arrays["c0_means"].copy()
    arrays["c0_means"][0, 0] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(bad)


@pytest.mark.parametrize("mean, variance", [(1e300, None), (1e200, None), (None, 1e-300)])
def test_parameters_out_of_range_rejected(model, tmp_path, mean, variance):
    """Finite parameters whose scores overflow (NaN scores, NaN in --json, a label from NaN) are refused."""
    p, _, X = model
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    for c in ("c0", "c1"):
        if mean is not None:
            arrays[f"{c}_means"] = np.full_like(arrays[f"{c}_means"], mean)
        if variance is not None:
            arrays[f"{c}_variances"] = np.full_like(arrays[f"{c}_variances"], variance)
    bad = tmp_path / "huge.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match=r"huge.npz: damaged model file \(c0: .*out of range"):
        load_model(bad)


def test_future_version_rejected(model, tmp_path):
    p, _, _ = model
    bad = _with_header(p, tmp_path, "v99.npz", format_version=99)
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(bad)


def test_ubm_round_trip_and_kind_check(tmp_path):
    X = np.random.default_rng(0).normal(size=(500, 39))
    ubm = DiagGMM(4, random_state=0).fit(X)
    p = save_ubm(tmp_path / "ubm.npz", ubm, FeatureConfig.preset("speaker"))
    mf = load_model(p, kind="ubm")
    assert np.allclose(mf.ubm.score_samples(X), ubm.score_samples(X))
    with pytest.raises(ModelFileError, match="expected a 'classifier'"):
        load_model(p, kind="classifier")


def test_identical_models_give_identical_bytes(tmp_path):
    clf, _ = toy_classifier()
    a = save_model(tmp_path / "a.npz", clf, FeatureConfig(), {"created": "fixed"})
    b = save_model(tmp_path / "b.npz", clf, FeatureConfig(), {"created": "fixed"})
    assert a.read_bytes() == b.read_bytes()


def _with_header(p, tmp_path, name, **changes):
    def change(h):
        for key, value in changes.items():
            h[key] = dict(h["features"], **value) if key == "features" else value

    return rewrite_model(p, tmp_path / name, change)


@pytest.mark.parametrize(
    "name, changes, match",
    [
        # passed `info` and failed in classify with "invalid speech-detector settings", without the file
        ("shift.npz", {"features": {"vad": True, "frame_shift_ms": 30.0}}, r"front end: .*frame_shift_ms"),
        ("frames.npz", {"frames": {"a": -1, "b": 5}}, r"bad frame counts"),  # `info` showed "-1..5 per class"
        ("frames_nan.npz", {"frames": {"a": "x", "b": 5}}, r"bad frame counts"),
        # QA: `info` gave an internal error, `classify --open-set` said "no stored threshold", `enroll` failed inside
        ("thr_text.npz", {"open_set": {"threshold": "abc"}}, r"open-set record: invalid threshold 'abc'"),
        ("thr_nan.npz", {"open_set": {"threshold": float("nan")}}, r"open-set record: invalid threshold 'nan'"),
        (
            "imp_text.npz",
            {"open_set": {"threshold": 1.0, "impostor_scores": [0.5, "x"]}},
            r"open-set record: invalid impostor_scores",
        ),
        ("rec_list.npz", {"open_set": [1.0]}, r"open-set record: not an object"),
        (
            "pairs.npz",
            {"open_set": {"impostor_scores": [0.1, 0.2], "impostor_labels": ["a"], "impostor_paired": True}},
            r"open-set record: impostor labels and scores differ",
        ),
    ],
)
def test_inconsistent_headers_are_damaged_files(model, tmp_path, name, changes, match):
    p, _, _ = model
    bad = _with_header(p, tmp_path, name, **changes)
    with pytest.raises(ModelFileError, match=rf"{name}: damaged model file \({match}"):
        load_model(bad)


@pytest.mark.parametrize("features", [None, {}])
def test_info_says_a_model_without_front_end_has_none(model, tmp_path, features):
    """QA: info printed an empty 'front end' line for such a file, which classify refuses."""
    from _helpers import run_cli

    p, _, _ = model
    bare = rewrite_model(p, tmp_path / "bare.npz", lambda h: h.update(features=features))
    r = run_cli("info", bare)
    assert r.returncode == 0 and "front end    none: the model file has no front-end configuration" in r.stdout
    assert "front end    preset" in run_cli("info", p).stdout or "front end    (no preset)" in run_cli("info", p).stdout


def test_save_refuses_a_front_end_that_does_not_match_the_models(tmp_path):
    """QA: a 39-dimensional model saved with a 13-dimensional front end was written, then read back as
    'damaged model file'."""
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((80, 39)) for _ in range(4)]
    clf = GMMClassifier(n_components=2, max_iter=2).fit(X, ["a", "a", "b", "b"])
    with pytest.raises(ConfigError, match="13-dimensional features but the models have 39"):
        save_model(tmp_path / "m.npz", clf, FeatureConfig(delta_order=0))
    assert not (tmp_path / "m.npz").exists()
    with pytest.raises(ConfigError, match="must be a FeatureConfig"):
        save_model(tmp_path / "m.npz", clf, "default")
    save_model(tmp_path / "m.npz", clf, FeatureConfig())
    assert load_model(tmp_path / "m.npz").feature_config == FeatureConfig()
