"""The Python API refuses bad arguments with speechgmm's own one-line errors (QA round, 2026-12-03):
before, each case below gave a bare numpy/Python exception, NaN, or a silently wrong result."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.audio import load_audio
from speechgmm.calibration import Calibration, calibration_folds, fit_calibration
from speechgmm.classifier import GMMClassifier
from speechgmm.errors import AudioError, ConfigError
from speechgmm.features import FeatureConfig
from speechgmm.gmm import DiagGMM
from speechgmm.map import train_ubm

from _helpers import ROOT

EXAMPLE = ROOT / "examples" / "male_AH_1A.wav"  # 0.42 s


def two_classes():
    rng = np.random.default_rng(0)
    return [rng.normal(c, 1, (200, 3)) for c in (0.0, 2.0)], ["a", "b"]


def test_feature_config_refuses_what_the_front_end_cannot_compute():
    with pytest.raises(ConfigError, match="scale must be"):
        FeatureConfig(scale=1e20)  # gave non-finite features after overflow warnings
    with pytest.raises(ConfigError, match="fmax_pitch must be above 40 Hz"):
        FeatureConfig(pitch=True, fmin_pitch=10, fmax_pitch=20)  # was a bare ValueError in mfcc
    cfg = FeatureConfig(sr=np.int64(8000), remove_dc=np.bool_(True), fmin=np.float32(20))
    assert FeatureConfig.from_dict(__import__("json").loads(cfg.to_json())) == cfg  # to_json raised TypeError


def test_scores_of_the_wrong_shape_or_not_finite_are_refused():
    X, y = two_classes()
    clf = GMMClassifier(2, max_iter=2).fit(X, y)
    for totals in (np.zeros((2, 1)), np.zeros((2, 3)), np.full((2, 2), np.nan)):
        with pytest.raises(ConfigError, match=r"expected finite total scores of shape \(n_utts, 2\)"):
            clf.posteriors_from_scores(totals)  # (n, 1) gave 0.5 / 0.5, NaN gave NaN
    clf.calibration_ = Calibration(0.5, 0.25)
    with pytest.raises(ConfigError, match="one finite frame count per row"):
        clf.posteriors_from_scores(np.zeros((2, 2)), np.array([10]))
    clf.calibration_ = Calibration(-1.0, 0.25)  # flipped every decision
    with pytest.raises(ConfigError, match="calibration scale must be a finite number > 0"):
        clf.predict(X)


def test_calibration_fit_and_folds_check_their_input():
    totals, frames = np.zeros((3, 2)), np.full(3, 50)
    for truth in ([5, 0, 1], [-1, 0, 1]):
        with pytest.raises(ConfigError, match=r"truth must be class indices in 0 \.\. 1"):
            fit_calibration(totals, frames, truth, 0.25)
    with pytest.raises(ConfigError, match="one finite frame count per row"):
        fit_calibration(totals, frames[:2], [0, 1, 0], 0.25)
    with pytest.raises(ConfigError, match="at least one file"):
        calibration_folds([])
    with pytest.raises(ConfigError, match="one group per file"):
        calibration_folds(["a", "b"], ["s1"])
    for n in (0, 1, True):
        with pytest.raises(ConfigError, match="n_folds must be an integer >= 2"):
            calibration_folds(["a", "a", "b", "b"], n_folds=n)


def test_classifier_hyper_parameters_and_priors_are_checked():
    X, y = two_classes()
    assert GMMClassifier(2, max_iter=2, random_state=2**32 - 1).fit(X, y)  # the second class's seed overflowed
    for kw, msg in [
        (dict(random_state=None), "random_state must be an integer"),
        (dict(random_state="x"), "random_state must be an integer"),
        (dict(jobs="2"), "jobs must be an integer"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            GMMClassifier(2, max_iter=2, **kw).fit(X, y)
    clf = GMMClassifier(2, max_iter=2, priors={"a": 0.5, "b": 0.5, "zzz": 3}).fit(X, y)
    with pytest.raises(ConfigError, match="priors name labels the model does not have: zzz"):
        clf.predict(X)
    twin = clf.clone()
    twin.priors["a"] = 0.9
    assert clf.priors["a"] == 0.5  # clone() shared the dict


def test_relevance_factor_must_be_a_number():
    X, y = two_classes()
    ubm = train_ubm(X, 4, max_iter=2)
    for r in (np.nan, "3", -1, True):
        with pytest.raises(ConfigError, match="relevance_factor must be a number >= 0"):
            GMMClassifier(4).fit_map(X, y, ubm, r)  # NaN gave NaN models and posteriors


@pytest.mark.parametrize("dtype", [str, complex, bool])
def test_features_must_be_real_numbers(dtype):
    X, _ = two_classes()
    with pytest.raises(ConfigError, match="features must be real numbers"):
        DiagGMM(2).fit(X[0].astype(dtype))
    with pytest.raises(ConfigError, match="features must be real numbers"):
        DiagGMM(2, max_iter=2).fit(X[0]).score_samples(X[0].astype(dtype))


def test_regions_beyond_the_audio_or_of_the_wrong_type():
    with pytest.raises(AudioError, match=r"region starts at 10 s, beyond the end of the audio \(0.420 s\)"):
        load_audio(EXAMPLE, region=(10, 20))  # was "not a readable audio file (Internal psf_fseek() failed.)"
    with pytest.raises(AudioError, match=r"region ends at 1e\+09 s, beyond the end"):
        load_audio(EXAMPLE, region=(0, 1e9))  # returned the whole file
    for region in (("0", "0.1"), (False, True)):
        with pytest.raises(ConfigError, match="region must be"):
            load_audio(EXAMPLE, region=region)
    y, sr = load_audio(EXAMPLE, region=(0.1, 0.43))  # within the rounding tolerance of the end
    assert abs(len(y) / sr - 0.32) < 0.002


def test_initial_means_of_the_wrong_shape_are_named():
    X, _ = two_classes()
    with pytest.raises(ConfigError, match=r"means_init must have shape \(2, 3\), not \(2, 5\)"):
        DiagGMM(2, means_init=np.zeros((2, 5))).fit(X[0])


@pytest.mark.parametrize("path", [None, b"examples/x.wav", 3, ""])
def test_audio_paths_of_the_wrong_type(path):
    from speechgmm import segment_file
    from speechgmm.features import extract_file

    for f in (load_audio, extract_file, segment_file):  # bare TypeErrors, or "." read as a folder
        with pytest.raises(ConfigError, match="an audio path must be a non-empty file name"):
            f(path)


def test_gmm_parameters_given_by_hand_are_checked():
    """QA: from_params took NaN means, negative variances and 2 weights for 1 mean, and scored NaN."""
    ok = DiagGMM.from_params([1.0], [[0.0, 0.0]], [[1.0, 1.0]])
    assert np.isfinite(ok.score(np.zeros((3, 2))))
    for w, mu, var, what in (
        ([1.0], [[0.0, 0.0]], [[-1.0, 1.0]], "variances be > 0"),
        ([1.0], [[np.nan, 0.0]], [[1.0, 1.0]], "means contain NaN"),
        ([0.5, 0.5], [[0.0, 0.0]], [[1.0, 1.0]], "inconsistent shapes"),
        ([0.7], [[0.0, 0.0]], [[1.0, 1.0]], "sum to 1"),
        ([1.0], [[1e200, 0.0]], [[1e-200, 1.0]], "out of range"),
    ):
        with pytest.raises(ConfigError, match=what):
            DiagGMM.from_params(w, mu, var)
    with pytest.raises(ConfigError, match="hard must be True or False"):
        DiagGMM(2, hard="no").fit(np.random.default_rng(0).standard_normal((50, 2)))


def test_front_end_arguments_of_the_wrong_type_are_named():
    from speechgmm import build_source, extract_file

    with pytest.raises(ConfigError, match="must be a FeatureConfig or a preset name.*not dict"):
        extract_file(EXAMPLE, {"sr": 8000})  # was an AttributeError inside the front end
    with pytest.raises(ConfigError, match="unknown preset 'defualt'"):
        extract_file(EXAMPLE, "defualt")
    assert np.array_equal(extract_file(EXAMPLE, "speaker"), extract_file(EXAMPLE, FeatureConfig.preset("speaker")))
    with pytest.raises(ConfigError, match=r"not one path \('wav.scp'\)"):
        build_source("wav.scp", FeatureConfig())  # had been read as 7 one-letter paths


def test_integer_pcm_is_scaled_like_a_wav_reader_and_bools_are_refused():
    from speechgmm.features import mfcc

    y, sr = load_audio(EXAMPLE, 8000)
    pcm = np.round(y * 32767).astype(np.int16)
    as_float = mfcc(pcm.astype(np.float32) / 32768, sr, "gender")
    assert np.allclose(mfcc(pcm, sr, "gender"), as_float, atol=1e-4)  # int16 went in 32768x too loud
    u8 = (pcm.astype(np.int32) // 256 + 128).astype(np.uint8)  # 8-bit WAV samples: unsigned around 128
    assert np.allclose(mfcc(u8, sr, "gender"), mfcc((u8.astype(np.float32) - 128) / 128, sr, "gender"), atol=1e-4)
    with pytest.raises(ConfigError, match="samples must be numbers, not bool"):
        mfcc(pcm > 0, sr)
    as_list = np.array(pcm.tolist())  # int64 holding 16-bit values: had been 'all silence, -182.6 dBFS'
    assert as_list.dtype == np.int64 and np.allclose(mfcc(as_list, sr, "gender"), as_float, atol=1e-4)


def test_update_takes_statistics_only():
    X, _ = two_classes()
    gmm = DiagGMM(2, max_iter=2).fit(X[0])
    with pytest.raises(ConfigError, match="update\\(\\) takes the GMMStats of accumulate\\(\\), not ndarray"):
        gmm.update(np.zeros(3))
    assert gmm.update(gmm.accumulate(X[0])) is gmm


def test_augment_arguments_are_checked_and_config_errors_are_value_errors():
    from speechgmm import extract_file

    for bad, msg in (
        ("noise", "augment must be a tuple"),
        (123, "augment must be a tuple"),
        (("noise", -1, 0), "augmentation seed must be a whole number >= 0, not -1"),
        (("noise", "x", 0), "augmentation seed must be a whole number >= 0, not 'x'"),
        (("echo", 0, 0), "unknown augmentation 'echo'"),
    ):
        with pytest.raises(ConfigError, match=msg):
            extract_file(EXAMPLE, augment=bad)  # were numpy's or Python's unpacking errors
    with pytest.raises(ValueError):  # a ConfigError is also a ValueError
        extract_file(EXAMPLE, augment="noise")
    assert extract_file(EXAMPLE, augment=("noise", 0, 0)).shape == extract_file(EXAMPLE).shape


def test_statistics_must_fit_the_model_and_each_other():
    from speechgmm.errors import InsufficientDataError
    from speechgmm.gmm import GMMStats

    X, _ = two_classes()
    gmm = DiagGMM(4, max_iter=2).fit(X[0])
    small = DiagGMM(2, max_iter=2).fit(X[0]).accumulate(X[0])
    with pytest.raises(ConfigError, match="statistics of 2 components x 3 dimensions do not fit this model's 4 x 3"):
        gmm.update(small)  # had left n_components 4 with 2 weights
    with pytest.raises(ConfigError, match=r"n of shape \(K,\) and f, s of shape \(K, D\)"):
        GMMStats(np.ones(2), np.ones((3, 3)), np.ones((3, 3)))
    nan = gmm.accumulate(X[0])
    nan.f[0, 0] = np.nan
    with pytest.raises(InsufficientDataError, match="not finite"):
        gmm.update(nan)  # had set NaN weights
    with pytest.raises(ConfigError, match="cannot add GMMStats and NoneType"):
        small + None
    assert sum([small, small]).frames == 2 * small.frames


def test_build_source_checks_augment_seed_and_jobs_as_their_flags_do_naming_the_argument():
    """QA: augment='noise' was split into letters ("unknown augmentation 'n'"), seed=-1 gave numpy's
    "expected non-negative integer", jobs=-1 was accepted."""
    from speechgmm import build_source

    for kw, message in [
        (dict(augment=["nois"]), r"^augment: unknown augmentation 'nois'"),
        (dict(augment=["noise"], seed=-1), r"^seed: expected an integer from 0 to 4294967295, got -1$"),
        (dict(seed=2.5), r"^seed: expected an integer"),
        (dict(jobs=-1), r"^jobs: expected a positive integer \(at most 256\), got -1$"),
        (dict(jobs=0), r"^jobs: expected a positive integer"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build_source([EXAMPLE], "default", **kw)
    # a string of kinds is read as --augment reads it, as TrainOptions(augment=...) does
    a, b = build_source([EXAMPLE], "default", augment="noise"), build_source([EXAMPLE], "default", augment=["noise"])
    assert len(a) == len(b) == 2 and all(np.array_equal(x, y) for x, y in zip(a.arrays, b.arrays))


def test_fit_map_takes_a_ubm_file_and_fit_groups_refuses_what_is_not_a_mapping(tmp_path):
    """QA: fit_map(X, y, 'ubm.npz') gave AttributeError "'str' object has no attribute '_check_fitted'";
    fit_groups([X1, X2]) a TypeError "list indices must be integers"."""
    from speechgmm.errors import ModelFileError
    from speechgmm.modelio import save_ubm

    rng = np.random.default_rng(0)
    X, y = [rng.normal(c, 1, (200, 39)) for c in (0.0, 2.0)], ["a", "b"]  # the front end's 39 dimensions
    ubm = DiagGMM(2, random_state=0).fit(X)
    save_ubm(tmp_path / "ubm.npz", ubm, FeatureConfig(), {})
    by_path = GMMClassifier().fit_map(X, y, tmp_path / "ubm.npz")
    by_model = GMMClassifier().fit_map(X, y, ubm)
    assert all(np.allclose(m.means_, n.means_) for m, n in zip(by_path.models_, by_model.models_))
    assert by_path.fit_map_groups({"a": X[0]}, str(tmp_path / "ubm.npz")).classes_ == ["a"]
    with pytest.raises(ModelFileError, match="no such model file"):
        GMMClassifier().fit_map(X, y, tmp_path / "gone.npz")
    for bad in (None, 3, ""):
        with pytest.raises(ConfigError, match=r"^ubm must be a DiagGMM or the path of a UBM file"):
            GMMClassifier().fit_map(X, y, bad)
    for fit in (lambda g: GMMClassifier(2).fit_groups(g), lambda g: GMMClassifier().fit_map_groups(g, ubm)):
        with pytest.raises(ConfigError, match=r"^groups must be a mapping \{label: data\}, not list; .*fit\(X, y\)"):
            fit([X[0], X[1]])
