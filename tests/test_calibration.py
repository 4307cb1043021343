"""Calibrated posteriors: the formula, the fit, the model file, and classify's output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from speechgmm.calibration import Calibration, cross_entropy, fit_calibration
from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError, ModelFileError
from speechgmm.features import FeatureConfig
from speechgmm.modelio import load_model, save_model

from _helpers import ROOT, rewrite_model, run_cli


def two_classes(seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(c, 1, (50, 39)) for c in (0.0, 0.2) for _ in range(6)]
    return GMMClassifier(2, max_iter=5).fit(X, ["a"] * 6 + ["b"] * 6), X


def test_two_class_posterior_is_the_logistic_of_the_scaled_mean_margin():
    clf, X = two_classes()
    totals, frames = clf.score_utterances(X)
    raw = clf.posteriors_from_scores(totals, frames)
    clf.calibration_ = Calibration(0.7, 0.25)
    post = clf.posteriors_from_scores(totals, frames)
    margin = (totals[:, 0] - totals[:, 1]) / frames
    assert np.allclose(post[:, 0], 1 / (1 + np.exp(-0.7 * frames**0.25 * margin)))
    assert np.allclose(clf.predict_proba(X), post)
    # the ranking is the model's; only the confidence changes, and it is lower than the raw one here
    assert clf.predict_from_scores(totals, frames) == clf.predict_from_scores(totals)
    assert np.all(post.max(1) < raw.max(1) + 1e-12) and np.any(post.max(1) < raw.max(1) - 1e-3)
    # without frames (or without a calibration) the raw posterior
    assert np.allclose(clf.posteriors_from_scores(totals), raw)


def test_exponent_one_and_scale_one_is_the_raw_posterior():
    clf, X = two_classes()
    totals, frames = clf.score_utterances(X)
    raw = clf.posteriors_from_scores(totals, frames)
    clf.calibration_ = Calibration(1.0, 1.0)
    assert np.allclose(clf.posteriors_from_scores(totals, frames), raw)


def test_training_again_drops_the_calibration():
    clf, X = two_classes()
    clf.calibration_ = Calibration(0.5, 0.0)
    clf.fit(X, ["a"] * 6 + ["b"] * 6)
    assert clf.calibration_ is None


def test_fit_recovers_the_scale_of_logistic_data():
    rng = np.random.default_rng(1)
    n = rng.integers(50, 2000, 4000).astype(float)
    margin = rng.normal(0, 1.0, 4000)
    true_scale, exponent = 0.8, 0.25
    p_a = 1 / (1 + np.exp(-true_scale * n**exponent * margin))
    truth = (rng.random(4000) >= p_a).astype(int)  # class 0 ("a") with probability p_a
    totals = np.stack([margin * n, np.zeros_like(n)], 1)
    cal = fit_calibration(totals, n, truth, exponent)
    assert cal.exponent == exponent and abs(cal.scale - true_scale) < 0.08
    # the fit is the minimum: other scales give a larger cross-entropy
    best = cross_entropy(cal.log_odds(totals, n), truth)
    for s in (cal.scale / 2, cal.scale * 2):
        assert cross_entropy(Calibration(s, exponent).log_odds(totals, n), truth) > best


@pytest.mark.parametrize(
    "args",
    [
        (np.zeros((0, 2)), np.zeros(0), np.zeros(0, int), 0.5),
        (np.array([[np.nan, 0.0]]), np.array([10]), np.array([0]), 0.5),
        (np.array([[1.0, 0.0]]), np.array([10]), np.array([0]), 1.5),
        (np.array([[1.0, 0.0]]), np.array([10]), np.array([0]), math.nan),
        (np.array([[1.0, 0.0]]), np.array([10]), np.array([0, 1]), 0.5),
    ],
)
def test_fit_refuses_bad_input(args):
    with pytest.raises(ConfigError):
        fit_calibration(*args)


def test_model_file_keeps_the_calibration(tmp_path):
    clf, X = two_classes()
    clf.calibration_ = Calibration(0.6482, 0.25)
    p = save_model(tmp_path / "m.npz", clf, FeatureConfig(), {"label_column": "label"})
    back = load_model(p).classifier
    assert back.calibration_ == Calibration(0.6482, 0.25)
    assert np.allclose(back.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "record", [{"scale": -1.0, "exponent": 0.25}, {"scale": 1.0, "exponent": 2}, {"scale": None}, [0.5, 0.25], "x"]
)
def test_damaged_calibration_is_refused_naming_the_file(tmp_path, record):
    clf, _ = two_classes()
    clf.calibration_ = Calibration(0.5, 0.25)
    p = save_model(tmp_path / "m.npz", clf, FeatureConfig(), {"label_column": "label"})
    bad = rewrite_model(p, tmp_path / "badcal.npz", lambda h: h.update(calibration=record))
    with pytest.raises(ModelFileError, match=r"badcal.npz: damaged model file \(calibration"):
        load_model(bad)


def test_bundled_model_prints_calibrated_posteriors():
    """classify --json: the posterior is the calibration of the mean scores it prints, not the raw one."""
    cal = load_model(ROOT / "speechgmm" / "data" / "gender.npz").classifier.calibration_
    assert cal is not None
    files = [ROOT / "examples" / f for f in ("male_AH_1A.wav", "female_AK_3A.wav", "wideband_16k.wav")]
    r = run_cli("classify", "--json", *files)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        d = json.loads(line)
        m, n = d["mean_scores"], d["frames"]
        margin = m["female"] - m["male"]
        want = 1 / (1 + math.exp(-cal.scale * n**cal.exponent * margin))
        assert d["posteriors"]["female"] == pytest.approx(want, rel=1e-9, abs=1e-12)
        raw = 1 / (1 + math.exp(-max(-700.0, min(700.0, n * margin))))
        assert abs(d["posteriors"]["female"] - 0.5) < abs(raw - 0.5)
    info = run_cli("info", ROOT / "speechgmm" / "data" / "gender.npz")
    assert f"calibrated: log-odds = {cal.scale:g} x frames^{cal.exponent:g}" in info.stdout


def test_enrolling_keeps_the_calibration():
    """The calibration scale discounts per-frame evidence of the same front end and UBM: enrolled classes keep it."""
    from speechgmm.map import train_ubm
    from speechgmm.speakers import enroll

    rng = np.random.default_rng(0)
    X = [rng.normal(c, 1, (200, 39)) for c in (0.0, 0.3, 0.6)]
    ubm = train_ubm(X, 4, max_iter=3)
    clf = GMMClassifier(4).fit_map(X[:2], ["a", "b"], ubm, 4.0)
    clf.calibration_ = Calibration(0.5, 0.25)
    out, added, _ = enroll(clf, {"c": [X[2]]})
    assert added == ["c"] and out.calibration_ == clf.calibration_ == Calibration(0.5, 0.25)
    raw = GMMClassifier(4).fit_map(X[:2], ["a", "b"], ubm, 4.0)
    assert enroll(raw, {"c": [X[2]]})[0].calibration_ is None


def test_evaluate_reports_how_far_to_trust_the_posteriors(tmp_path):
    """evaluate's posterior figures are those of classify's posteriors on the same files."""
    names = ["female_AK_3A.wav", "female_AP_8A.wav", "male_AH_1A.wav", "male_AT_5A.wav"]
    man = tmp_path / "m.csv"
    man.write_text("path,gender\n" + "".join(f"{ROOT / 'examples' / n},{n.split('_')[0]}\n" for n in names))
    r = run_cli("evaluate", man, "--model", ROOT / "speechgmm" / "data" / "gender.npz", "--json")
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout.strip().splitlines()[-1])["posteriors"]
    c = run_cli("classify", "--json", *[ROOT / "examples" / n for n in names])
    post = [json.loads(line)["posteriors"][n.split("_")[0]] for line, n in zip(c.stdout.splitlines(), names)]
    assert q["calibrated"] is True and q["errors"] == sum(p < 0.5 for p in post)
    assert q["cross_entropy_bits"] == pytest.approx(-np.mean(np.log2(post)), rel=1e-6)
    assert q["mean_posterior"] == pytest.approx(np.mean([max(p, 1 - p) for p in post]), rel=1e-9)
    text = run_cli("evaluate", man, "--model", ROOT / "speechgmm" / "data" / "gender.npz")
    assert "posteriors (calibrated): cross-entropy" in text.stdout


def test_posterior_quality_counts_sure_errors():
    from speechgmm.calibration import posterior_quality

    lo = np.array([[10.0, 0.0], [0.0, 10.0], [1.0, 0.0], [0.0, 0.5]])
    q = posterior_quality(lo, np.array([0, 0, 1, 1]))
    assert q["errors"] == 2 and q["sure_errors"] == 1  # the second (posterior 0.99995) and third (0.73) are wrong
    assert q["cross_entropy_bits"] == pytest.approx(cross_entropy(lo, np.array([0, 0, 1, 1])))


# -- speechgmm train: posteriors calibrated by cross-validation on the training files --------------


def test_folds_alternate_speakers_within_each_class():
    from speechgmm.calibration import calibration_folds

    labels = ["f", "f", "m", "m", "f", "m", "f", "m"]
    spk = ["s1", "s1", "s2", "s2", "s3", "s4", "s5", "s6"]
    folds, how = calibration_folds(labels, spk)
    assert how == "2-fold by speaker"
    by_spk = {}
    for s, f in zip(spk, folds):
        by_spk.setdefault(s, set()).add(int(f))
    assert all(len(v) == 1 for v in by_spk.values())  # a speaker's files stay together
    for lab in "fm":
        assert {int(f) for f, x in zip(folds, labels) if x == lab} == {0, 1}  # each class in each fold
    # digits: every speaker says every class; speakers still alternate
    folds, how = calibration_folds(["1", "2"] * 4, [s for s in ("a", "b", "c", "d") for _ in range(2)])
    assert how == "2-fold by speaker" and list(folds) == [0, 0, 1, 1, 0, 0, 1, 1]


def test_folds_fall_back_to_files_or_say_why_not():
    from speechgmm.calibration import calibration_folds

    folds, how = calibration_folds(["a", "a", "b", "b"], ["s1", "s1", "s2", "s2"])  # one speaker per class
    assert how == "2-fold by file" and list(folds) == [0, 1, 0, 1]
    folds, how = calibration_folds(["a", "a", "a", "b"], None)
    assert folds is None and "class 'b' has 1 file(s)" in how


def _gender_rows(speakers):
    import csv

    rows = list(csv.DictReader(open(ROOT / "data_manifest/asr_course/train.csv")))
    return [r for r in rows if r["speaker"] in speakers and r["take"] == "A"]


def test_train_calibrates_posteriors_by_cross_validation(corpus, tmp_path):
    """The CV-calibrated model gives better posteriors on unseen speakers than the raw one, with the
    same labels; --calibration none keeps the raw ones."""
    from _helpers import write_manifest

    train = write_manifest(tmp_path / "train.csv", _gender_rows({"AE", "AJ", "AL", "AC", "AG", "AI"}), corpus)
    test = write_manifest(tmp_path / "test.csv", _gender_rows({"DL", "DN", "BH", "BI"}), corpus)
    models = {}
    for how in ("cv", "none"):
        models[how] = tmp_path / f"{how}.npz"
        argv = ["train", train, "--label-column", "gender", "-k", "4", "-o", models[how], "--calibration", how]
        r = run_cli(*argv)
        assert r.returncode == 0, r.stderr
        assert ("posteriors calibrated by 2-fold by speaker cross-validation" in r.stdout) == (how == "cv"), r.stdout
    h = load_model(models["cv"]).header
    assert h["training"]["calibration"] == "cv" and h["training"]["calibration_cv"]["fitted"]
    assert load_model(models["cv"]).classifier.calibration_.exponent == 0.25
    assert load_model(models["none"]).classifier.calibration_ is None
    assert "(fitted by 2-fold by speaker cross-validation on" in run_cli("info", models["cv"]).stdout
    report = {}
    for how, m in models.items():
        r = run_cli("evaluate", test, "--model", m, "--json")
        assert r.returncode == 0, r.stderr
        report[how] = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["cv"]["accuracy"] == report["none"]["accuracy"]  # uniform priors: the labels do not change
    assert report["cv"]["posteriors"]["calibrated"] and not report["none"]["posteriors"]["calibrated"]
    assert report["cv"]["posteriors"]["cross_entropy_bits"] < 0.5 * report["none"]["posteriors"]["cross_entropy_bits"]


def test_train_without_enough_files_per_class_says_why_it_is_not_calibrated(corpus, tmp_path):
    from _helpers import write_manifest

    rows = _gender_rows({"AE", "AC"})
    rows = [r for r in rows if r["speaker"] == "AE"] + [r for r in rows if r["speaker"] == "AC"][:1]
    train = write_manifest(tmp_path / "train.csv", rows, corpus)
    r = run_cli("train", train, "--label-column", "gender", "-k", "2", "-o", tmp_path / "m.npz")
    assert r.returncode == 0, r.stderr
    assert "posteriors not calibrated: class 'female' has 1 file(s)" in r.stdout or "class 'male' has 1" in r.stdout
    assert load_model(tmp_path / "m.npz").classifier.calibration_ is None
    assert "posteriors   raw (not calibrated: class" in run_cli("info", tmp_path / "m.npz").stdout


def test_train_warns_when_cross_validation_is_no_better_than_chance(corpus, tmp_path):
    """QA: a model too large for its data (auto MAP, a 256-Gaussian UBM for 4 speakers per fold) was
    calibrated to posteriors of 0.5000 for every file, without a word; the same data at K=4 is not."""
    import csv

    from _helpers import write_manifest

    by_speaker: dict = {}
    for r in csv.DictReader(open(ROOT / "data_manifest/asr_course/train.csv")):
        by_speaker.setdefault((r["gender"], r["speaker"]), []).append(r)
    keys = [k for g in ("female", "male") for k in sorted(k for k in by_speaker if k[0] == g)[:4]]
    rows = [r for k in keys for r in by_speaker[k][:8]]  # 8 speakers, 8 files each
    train = write_manifest(tmp_path / "train.csv", rows, corpus)
    r = run_cli("train", train, "--label-column", "gender", "-k", "1000", "-o", tmp_path / "big.npz")
    assert r.returncode == 0, r.stderr
    ce = load_model(tmp_path / "big.npz").header["training"]["calibration_cv"]["cross_entropy_bits"]["calibrated"]
    assert ce >= 0.95 and "no better than chance" in r.stderr and "posterior will be near 1/2" in r.stderr
    r = run_cli("train", train, "--label-column", "gender", "-k", "4", "-o", tmp_path / "small.npz")
    assert r.returncode == 0 and "no better than chance" not in r.stderr, r.stderr
