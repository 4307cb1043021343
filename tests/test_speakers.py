"""Speakers (speechgmm.speakers): method choice, enrolment, open-set decisions, score normalisation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from speechgmm import speakers as sp
from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError, InsufficientDataError, ModelFileError
from speechgmm.features import FeatureConfig, extract_file
from speechgmm.gmm import DiagGMM
from speechgmm.map import score_top_c
from speechgmm.speakers import BUNDLED_UBM_PATH

from _helpers import need_module, write_manifest

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "data_manifest" / "asr_course"


def _rows(name, speakers):
    return [r for r in csv.DictReader(open(MAN / name)) if r["speaker"] in speakers]


@pytest.fixture(scope="module")
def data(corpus):
    """Real audio: a UBM (K=32) on 8 training speakers; 10 test speakers' A takes and B takes."""
    cfg = FeatureConfig.preset("speaker")
    bg_spk = sorted({r["speaker"] for r in csv.DictReader(open(MAN / "train.csv"))})[:8]
    te_spk = sorted({r["speaker"] for r in csv.DictReader(open(MAN / "test.csv"))})[:10]
    bg = [extract_file(corpus / r["path"], cfg) for r in _rows("train.csv", bg_spk)]
    ubm = DiagGMM(32, max_iter=5, tol=0, init="split", random_state=0).fit(bg)
    a, b = {}, {}
    for r in _rows("test.csv", te_spk):
        (a if r["take"] == "A" else b).setdefault(r["speaker"], []).append(extract_file(corpus / r["path"], cfg))
    bg_groups = {}
    for r, x in zip(_rows("train.csv", bg_spk), bg):
        bg_groups.setdefault(r["speaker"], []).append(x)
    return {"ubm": ubm, "A": a, "B": b, "bg": bg_groups}


def _map(groups, ubm):
    X = [x for lab in groups for x in groups[lab]]
    y = [lab for lab in groups for _ in groups[lab]]
    return GMMClassifier(top_c=5).fit_map(X, y, ubm, relevance_factor=4.0)


def test_top_c_scoring_equals_a_direct_evaluation(data):
    """score_top_c (frames grouped by selected component) against a plain per-frame evaluation."""
    from speechgmm.map import top_c

    ubm = data["ubm"]
    models = _map(data["A"], ubm).models_
    X = np.concatenate(data["B"][sorted(data["B"])[0]])[:300]
    for c in (1, 5, 32):
        idx, ubm_ll = top_c(ubm, X, c)
        ref = np.empty((len(X), len(models)))
        for j, g in enumerate(models):
            lp = g.component_loglik(X)  # (N, K): log w_k + log N(x; mu_k, var_k)
            sel = np.take_along_axis(lp, idx, 1)
            ref[:, j] = np.log(np.exp(sel - sel.max(1, keepdims=True)).sum(1)) + sel.max(1) - ubm_ll
        got = sp.llr_frames(models, ubm, X, c)
        assert np.allclose(got, ref, atol=1e-8)
        assert np.allclose(score_top_c(models, ubm, X, c, chunk=37), got, atol=1e-10)


def test_choose_method():
    assert sp.choose_method({"a": 10_000, "b": 9_000}, 64, "digit")[0] == "em"
    method, why = sp.choose_method({"a": 10_000, "b": 300}, 64, "label")
    assert method == "map" and "'b'" in why and "300" in why
    assert sp.choose_method({"a": 10**6, "b": 10**6}, 64, "speaker")[0] == "map"
    assert sp.choose_method({"a": 10**6, "b": 10**6}, 64, "Speaker")[0] == "map"
    # the boundary: MIN_FRAMES_PER_COMPONENT frames per component is enough for EM
    k = 16
    assert sp.choose_method({"a": sp.MIN_FRAMES_PER_COMPONENT * k, "b": 10**6}, k)[0] == "em"
    assert sp.choose_method({"a": sp.MIN_FRAMES_PER_COMPONENT * k - 1, "b": 10**6}, k)[0] == "map"


def test_options_the_method_does_not_use_are_named():
    """``train --label-column speaker -k 8`` trained 256-component MAP models and said nothing."""
    from speechgmm.options import MapOptions, TrainOptions

    o = TrainOptions(label_column="speaker", n_components=8, max_iter=3, method="map")
    given, here = sp.ignored_options(o, ubm_given=True), sp.ignored_options(o, ubm_given=False)
    assert [m.split()[0] for m in given] == ["--components", "--iterations"] and "UBM is given" in given[1]
    assert [m.split()[0] for m in here] == ["--components"]  # a UBM trained here runs the iterations
    em = TrainOptions(method="em", ubm_components=8, map=MapOptions(relevance_factor=3.0))
    assert [m.split()[0] for m in sp.ignored_options(em, ubm_given=False)] == ["--ubm-components", "--relevance-factor"]
    defaults = TrainOptions(method="em"), TrainOptions(method="map")
    assert sp.ignored_options(defaults[0], False) == sp.ignored_options(defaults[1], True) == []


def test_enroll_equals_training_all_at_once(data):
    ubm, A = data["ubm"], data["A"]
    labels = sorted(A)
    first = {lab: A[lab] for lab in labels[:7]}
    more = {lab: A[lab] for lab in labels[7:]}
    base = _map(first, ubm)
    enrolled, added, replaced = sp.enroll(base, more)
    at_once = _map(A, ubm)
    assert added == labels[7:] and replaced == []
    assert enrolled.labels_ == at_once.labels_
    for g, h in zip(enrolled.models_, at_once.models_):
        assert np.allclose(g.means_, h.means_, atol=1e-10) and np.allclose(g.weights_, h.weights_)
    probes = [x for lab in sorted(data["B"]) for x in data["B"][lab]]
    assert enrolled.predict(probes) == at_once.predict(probes)
    assert np.allclose(enrolled.score_utterances(probes)[0], at_once.score_utterances(probes)[0], atol=1e-8)
    # the classes already in the model are the same objects, untouched; the input model is unchanged
    assert base.labels_ == labels[:7]
    for lab, g in zip(base.labels_, base.models_):
        assert enrolled.models_[enrolled.labels_.index(lab)] is g


def test_enrolling_twice_the_classes_or_more_warns_about_the_kept_calibration(data):
    """QA: a 2-speaker model's calibration scale (13.4) was kept for 4 speakers (1.8 when trained at once)."""
    from speechgmm.calibration import Calibration

    labels = sorted(data["A"])
    base = _map({lab: data["A"][lab] for lab in labels[:3]}, data["ubm"])
    base.calibration_ = Calibration(scale=2.0, exponent=0.25)
    with pytest.warns(UserWarning, match="fitted with 3 classes and is kept for 6"):
        sp.enroll(base, {lab: data["A"][lab] for lab in labels[3:6]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp.enroll(base, {lab: data["A"][lab] for lab in labels[3:5]})  # 5 < 2 x 3: no warning


def test_enroll_replaces_a_class(data):
    ubm, A = data["ubm"], data["A"]
    base = _map(A, ubm)
    lab = sorted(A)[0]
    other = A[sorted(A)[1]]
    out, added, replaced = sp.enroll(base, {lab: other})
    assert added == [] and replaced == [lab] and out.labels_ == base.labels_
    assert np.allclose(out.models_[0].means_, out.models_[1].means_)
    assert not np.allclose(base.models_[0].means_, base.models_[1].means_)


def test_enroll_into_em_model_says_what_to_do(data):
    A = data["A"]
    X = [x for lab in sorted(A)[:3] for x in A[lab]]
    y = [lab for lab in sorted(A)[:3] for _ in A[lab]]
    em = GMMClassifier(2, max_iter=2).fit(X, y)
    with pytest.raises(ConfigError, match="--method map"):
        sp.enroll(em, {"new": A[sorted(A)[4]]})


def test_enroll_wrong_dimensions(data):
    base = _map(data["A"], data["ubm"])
    with pytest.raises(ConfigError, match="dims"):
        sp.enroll(base, {"x": [np.zeros((200, 13))]})


def test_short_speaker_is_named():
    sp.check_enrolment({"long": 100, "also": 500}, 10.0)
    with pytest.raises(InsufficientDataError, match=r"'tiny' \(0.99 s\)") as e:
        sp.check_enrolment({"long": 500, "tiny": 99}, 10.0, "enroll.csv")
    assert "enroll.csv" in str(e.value) and "'long'" not in str(e.value)


def test_open_set_scores_and_threshold():
    S = np.array([[5.0, 0.0, 0.1, -0.1], [0.2, 0.1, 0.0, 0.15]])
    best, margin = sp.open_set_scores(S, t_weight=0.0)
    assert list(best) == [0, 0] and np.allclose(margin, [4.9, 0.05])
    # the default adds half the best score t-normalised against the other classes (population std)
    t = np.array([(5.0 - 0.0) / np.std([0.0, 0.1, -0.1]), (0.2 - 0.25 / 3) / np.std([0.1, 0.0, 0.15])])
    _, score = sp.open_set_scores(S)
    assert sp.OPEN_SET_T_WEIGHT == 0.5 and np.allclose(score, margin + 0.5 * t)
    # relative to the utterance's own scores: a shift of a row (raw log-likelihoods vs LLRs) changes nothing
    assert np.allclose(sp.open_set_scores(S + np.array([[100.0], [-7.0]]))[1], score)
    # two classes leave no others to t-normalise against: the margin alone
    assert np.allclose(sp.open_set_scores(S[:, :2])[1], [5.0, 0.1])
    labels, _ = sp.open_set_predict(S, list("abcd"), threshold=1.0)
    assert labels == ["a", sp.UNKNOWN]
    assert sp.open_set_predict(S, list("abcd"), threshold=1.0, t_weight=0.0)[0] == ["a", sp.UNKNOWN]
    with pytest.raises(ConfigError, match="2 enrolled"):
        sp.open_set_scores(S[:, :1])
    rec = sp.calibrate(np.arange(100.0), false_accept=0.03)
    assert 96.0 < rec["threshold"] < 97.0 + 1e-9 and rec["impostor_trials"] == 100
    assert np.mean(np.arange(100.0) >= rec["threshold"]) <= 0.03
    with pytest.raises(InsufficientDataError, match="10 impostor"):
        sp.calibrate(np.arange(5.0))


def test_calibration_on_enrolment_data_rejects_strangers(data):
    ubm, A, B = data["ubm"], data["A"], data["B"]
    labels = sorted(A)
    enrolled = {lab: A[lab] for lab in labels[:7]}
    clf = _map(enrolled, ubm)
    impostor = sp.impostor_trials(clf, enrolled)
    assert len(impostor) == sum(len(v) for v in enrolled.values())
    thr = sp.calibrate(impostor)["threshold"]
    known = [x for lab in labels[:7] for x in B[lab]]
    strangers = [x for lab in labels[7:] for x in B[lab]]
    _, s_known = sp.open_set_scores(sp.utterance_llrs(clf.models_, ubm, known))
    _, s_str = sp.open_set_scores(sp.utterance_llrs(clf.models_, ubm, strangers))
    # a UBM of 32 Gaussians on 8 speakers is weak; the stored threshold still rejects most strangers
    assert np.mean(s_str < thr) > 0.8 and np.mean(s_known >= thr) > np.mean(s_str >= thr) + 0.2


def test_open_set_records_keep_their_score():
    """A model file calibrated on the margin alone (no ``t_weight``) keeps that score when used or enrolled
    into; a new record stores the weight; a model of 3 classes (impostor trials see only 2) uses the margin."""
    assert sp.stored_t_weight({"threshold": 0.8, "impostor_scores": [0.1]}) == 0.0
    assert sp.stored_t_weight({"threshold": 2.3, "t_weight": 0.5}) == 0.5
    assert sp.stored_t_weight(None) == sp.stored_t_weight({}) == sp.OPEN_SET_T_WEIGHT
    rec = sp.calibrate(np.arange(20.0))
    assert rec["t_weight"] == sp.OPEN_SET_T_WEIGHT and "t-normalised" in rec["score"]
    assert "t-normalised" not in sp.calibrate(np.arange(20.0), t_weight=0.0)["score"]


def test_enrolling_into_a_margin_model_keeps_the_margin(data):
    ubm, A = data["ubm"], data["A"]
    labels = sorted(A)
    first = {lab: A[lab] for lab in labels[:5]}
    clf = _map(first, ubm)
    old = sp.calibrate(sp.impostor_trials(clf, first, t_weight=0.0), t_weight=0.0)
    old.pop("t_weight")  # as written before the t part existed
    old["impostor_labels"] = [lab for lab in first for _ in first[lab]]
    new, _, _ = sp.enroll(clf, {labels[5]: A[labels[5]]})
    rec = sp.open_set_record(new, {labels[5]: A[labels[5]]}, old)
    assert rec["t_weight"] == 0.0 and rec["impostor_trials"] == sum(len(A[lab]) for lab in labels[:6])
    added = sp.impostor_trials(new, {labels[5]: A[labels[5]]}, t_weight=0.0)
    want = sp.calibrate(np.concatenate([old["impostor_scores"], added]), t_weight=0.0)
    assert rec["threshold"] == want["threshold"]
    three = _map({lab: A[lab] for lab in labels[:3]}, ubm)
    assert sp.open_set_record(three, {lab: A[lab] for lab in labels[:3]})["t_weight"] == 0.0
    # the t part needs OPEN_SET_T_MIN_CLASSES enrolled classes: 6 speakers get the margin alone, 20 the t part
    assert sp.open_set_record(new, {lab: A[lab] for lab in labels[:6]})["t_weight"] == 0.0
    twenty = {f"{lab}-{k}": A[lab][k::2] for lab in labels for k in (0, 1)}
    assert len(twenty) >= sp.OPEN_SET_T_MIN_CLASSES
    assert sp.open_set_record(_map(twenty, ubm), twenty)["t_weight"] == sp.OPEN_SET_T_WEIGHT


def test_re_enrolling_the_same_files_keeps_the_threshold(data):
    """QA: the stored impostor scores were sorted but their labels were not, so replacing a speaker dropped
    the trials at that speaker's positions (the highest scores): every re-enrolment of the same files
    lowered the threshold (1.316 -> 0.835 -> 0.699, strangers 'unknown' 100 % -> 69 %)."""
    ubm, A = data["ubm"], data["A"]
    labels = sorted(A)
    groups = {lab: A[lab] for lab in labels[:6]}
    clf = _map(groups, ubm)
    rec = sp.open_set_record(clf, groups)
    assert rec["impostor_paired"] and len(rec["impostor_labels"]) == len(rec["impostor_scores"])
    again = rec
    for lab in (labels[5], labels[0], labels[3]):  # the last, the first and a middle speaker
        new, added, replaced = sp.enroll(clf, {lab: A[lab]})
        assert replaced == [lab]
        again = sp.open_set_record(new, {lab: A[lab]}, again)
        assert again["threshold"] == pytest.approx(rec["threshold"], abs=1e-4), lab
        assert sorted(again["impostor_scores"]) == pytest.approx(sorted(rec["impostor_scores"]), abs=1e-4)
        assert sorted(again["impostor_labels"]) == sorted(rec["impostor_labels"])
    # a record of before the pairing (scores sorted, labels in file order) keeps all its trials
    old = dict(rec, impostor_scores=sorted(rec["impostor_scores"]))
    old.pop("impostor_paired")
    kept = sp.open_set_record(clf, {labels[5]: A[labels[5]]}, old)
    assert kept["impostor_trials"] == rec["impostor_trials"] + len(A[labels[5]])
    assert kept["impostor_labels"].count(sp.UNPAIRED) == rec["impostor_trials"]


def test_few_speakers_keep_their_probes(data):
    """With 4 enrolled speakers the stored record (the margin alone) accepts far more of their probes than the
    t part would, whose spread comes from 2 competing classes in a calibration trial (CV: 95 % against 47 %)."""
    ubm, A, B = data["ubm"], data["A"], data["B"]
    labels = sorted(A)
    stored, t_part = [], []
    for first in range(7):
        enrolled = {lab: A[lab] for lab in labels[first : first + 4]}
        clf = _map(enrolled, ubm)
        rec = sp.open_set_record(clf, enrolled)
        assert rec["t_weight"] == 0.0
        S = sp.utterance_llrs(clf.models_, ubm, [x for lab in enrolled for x in B[lab]])
        y = [lab for lab in enrolled for _ in B[lab]]
        thr_t = sp.calibrate(sp.impostor_trials(clf, enrolled, sp.OPEN_SET_T_WEIGHT))["threshold"]
        for out, thr, w in ((stored, rec["threshold"], 0.0), (t_part, thr_t, sp.OPEN_SET_T_WEIGHT)):
            out += [g == t for g, t in zip(sp.open_set_predict(S, clf.labels_, thr, w)[0], y)]
    # this fixture's UBM (32 Gaussians, 8 speakers) is weak, so neither figure is high
    assert np.mean(stored) > 0.4 and np.mean(stored) > np.mean(t_part) + 0.15, (np.mean(stored), np.mean(t_part))


def test_stored_threshold_lets_the_chosen_share_of_impostor_trials_through():
    rng = np.random.default_rng(0)
    imp = rng.normal(size=400)
    rec = sp.calibrate(imp)
    assert rec["false_accept"] == sp.OPEN_SET_FALSE_ACCEPT
    share = np.mean(imp >= rec["threshold"])
    assert sp.OPEN_SET_FALSE_ACCEPT - 0.01 < share <= sp.OPEN_SET_FALSE_ACCEPT


def test_impostor_trials_in_batches_equal_one_batch(data, monkeypatch):
    """Calibration reads the enrolment data once, in batches (an archive or a cluster's arrays need not fit
    in memory); the batches give the same trials as one pass over everything."""
    enrolled = {lab: data["A"][lab] for lab in sorted(data["A"])[:5]}
    clf = _map(enrolled, data["ubm"])
    whole = sp.impostor_trials(clf, enrolled)
    monkeypatch.setattr(sp, "_BATCH_FRAMES", 100)
    items = iter([(lab, x) for lab in enrolled for x in enrolled[lab]])  # an iterator: read once
    parts, labels = sp.impostor_scores(clf, items)
    assert len(parts) == len(whole) == len(labels) == sum(len(v) for v in enrolled.values())
    assert np.allclose(parts, whole, rtol=1e-9, atol=1e-9)
    assert labels == [lab for lab in enrolled for _ in enrolled[lab]]


def test_cohort_from_a_stream_equals_from_groups(data):
    groups = data["bg"]
    a = sp.Cohort.from_groups(data["ubm"], groups)
    # the same utterances, one at a time, speakers interleaved (as a manifest may list them)
    items = [(s, x) for i in range(max(map(len, groups.values()))) for s in groups for x in groups[s][i : i + 1]]
    b = sp.Cohort.from_items(data["ubm"], iter(items))
    assert a.speakers == b.speakers == sorted(groups)
    assert np.allclose(a.n, b.n, rtol=1e-5, atol=1e-4) and np.allclose(a.f, b.f, rtol=1e-4, atol=1e-3)
    assert [u.shape for u in a.utts] == [u.shape for u in b.utts]


def test_speaker_front_end_keeps_the_weak_speech_of_end_pointed_files(corpus):
    """The ``speaker`` preset detects speech adaptively: on end-pointed TI files (speech from end to end) it
    keeps nearly every frame, where the older peak VAD (40 dB below the loudest frame) dropped weak sounds."""
    cfg = FeatureConfig.preset("speaker")
    assert cfg.vad and cfg.vad_method == "adaptive" and not cfg.cmn
    rows = _rows("test.csv", {"AH", "AK", "AP"})[::4]
    n = {k: 0 for k in ("none", "adaptive", "peak")}
    for r in rows:
        n["none"] += len(extract_file(corpus / r["path"], cfg.replace(vad=False)))
        n["adaptive"] += len(extract_file(corpus / r["path"], cfg))
        n["peak"] += len(extract_file(corpus / r["path"], cfg.replace(vad_method="peak")))
    assert n["adaptive"] >= 0.9 * n["none"] and n["adaptive"] > n["peak"]


def test_normalise_formulas():
    rng = np.random.default_rng(0)
    S, Zc, T = rng.normal(size=(4, 3)), rng.normal(size=(20, 3)), rng.normal(size=(4, 6))
    z = sp.znorm_params(Zc)
    assert np.allclose(sp.normalise(S, "z", z), (S - Zc.mean(0)) / Zc.std(0))
    t = (S - T.mean(1, keepdims=True)) / T.std(1, keepdims=True)
    assert np.allclose(sp.normalise(S, "t", None, T), t)
    assert np.allclose(sp.normalise(S, "s", z, T), ((S - Zc.mean(0)) / Zc.std(0) + t) / 2)
    assert sp.normalise(S, "none") is S
    with pytest.raises(ConfigError, match="cohort"):
        sp.normalise(S, "s", None, T)
    with pytest.raises(ConfigError, match="norm must be"):
        sp.normalise(S, "q", z, T)


def test_cohort_round_trip_and_norms(data):
    ubm = data["ubm"]
    clf = _map(data["A"], ubm)
    coh = sp.Cohort.from_groups(ubm, data["bg"])
    back = sp.Cohort.from_arrays(coh.to_arrays())
    assert back.speakers == coh.speakers and len(back.utts) == 2 * len(coh.speakers)
    assert all(np.array_equal(u, v) for u, v in zip(back.utts, coh.utts))
    probes = [x for lab in sorted(data["B"]) for x in data["B"][lab]]
    S = sp.utterance_llrs(clf.models_, ubm, probes)
    out = sp.normalised_scores(clf, S, probes, back)
    assert set(out) == set(sp.NORMS) and all(np.all(np.isfinite(v)) for v in out.values())
    assert sp.normalised_scores(clf, S, probes, None).keys() == {"none"}
    arrays = coh.to_arrays()
    arrays["cohort_lengths"] = arrays["cohort_lengths"][:-1]
    with pytest.raises(ModelFileError, match="cohort"):
        sp.Cohort.from_arrays(arrays, "m.npz")


# -- command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spk_files(
    corpus,
    tmp_path_factory,
):
    from _helpers import run_cli

    d = tmp_path_factory.mktemp("spk")
    bg_spk = sorted({r["speaker"] for r in csv.DictReader(open(MAN / "train.csv"))})[:6]
    te_spk = sorted({r["speaker"] for r in csv.DictReader(open(MAN / "test.csv"))})[:8]
    te = _rows("test.csv", te_spk)
    files = {
        "bg": write_manifest(d / "bg.csv", _rows("train.csv", bg_spk)),
        "first": write_manifest(d / "first.csv", [r for r in te if r["take"] == "A" and r["speaker"] in te_spk[:6]]),
        "more": write_manifest(d / "more.csv", [r for r in te if r["take"] == "A" and r["speaker"] in te_spk[6:]]),
        "all": write_manifest(d / "all.csv", [r for r in te if r["take"] == "A"]),
        "probes": write_manifest(d / "probes.csv", [r for r in te if r["take"] == "B"]),
        "short": write_manifest(
            d / "short.csv",
            [r for r in te if r["take"] == "A" and r["speaker"] == te_spk[6]]
            + [r for r in te if r["take"] == "A" and r["speaker"] == te_spk[7]][:1],
        ),
        "dir": d,
        "speakers": te_spk,
    }
    r = run_cli(
        "train-ubm", files["bg"], "--root", corpus, "-o", d / "ubm.npz", "--components", "16", "--iterations", "3"
    )
    assert r.returncode == 0, r.stderr
    for name in ("first", "all"):
        r = run_cli(
            "train",
            files[name],
            "--root",
            corpus,
            "--label-column",
            "speaker",
            "--ubm",
            d / "ubm.npz",
            "-o",
            d / f"{name}.npz",
        )
        assert r.returncode == 0, r.stderr
    r = run_cli(
        "train",
        files["first"],
        "--root",
        corpus,
        "--label-column",
        "speaker",
        "--method",
        "em",
        "--components",
        "2",
        "--iterations",
        "2",
        "-o",
        d / "em.npz",
    )
    assert r.returncode == 0, r.stderr
    return files


def test_enroll_cli_equals_training_all_at_once(spk_files, corpus, cli):
    from speechgmm.modelio import load_model

    d = spk_files["dir"]
    r = cli("enroll", d / "first.npz", spk_files["more"], "--root", corpus, "-o", d / "enrolled.npz")
    assert r.returncode == 0, r.stderr
    assert "added 2" in r.stdout and "8 classes" in r.stdout
    a, b = load_model(d / "enrolled.npz").classifier, load_model(d / "all.npz").classifier
    assert a.labels_ == b.labels_ == spk_files["speakers"]
    for g, h in zip(a.models_, b.models_):
        assert np.allclose(g.means_, h.means_, atol=1e-9)
    first = load_model(d / "first.npz").classifier
    for lab, g in zip(first.labels_, first.models_):
        assert np.array_equal(a.models_[a.labels_.index(lab)].means_, g.means_)
    # the calibration scale of the model enrolled into stays, and info says where it came from
    assert first.calibration_ is not None and a.calibration_ == first.calibration_
    info = cli("info", d / "enrolled.npz").stdout
    assert "kept when classes were enrolled" in info and "enrolled     2 added from" in info, info
    outs = [
        cli("evaluate", spk_files["probes"], "--root", corpus, "--model", d / m, "--json")
        for m in ("enrolled.npz", "all.npz")
    ]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr
    assert (
        outs[0].stdout.splitlines()[-1] == outs[1].stdout.splitlines()[-1]
        or __import__("json").loads(outs[0].stdout.splitlines()[-1])["accuracy"]
        == __import__("json").loads(outs[1].stdout.splitlines()[-1])["accuracy"]
    )


def test_enrolling_from_another_column_keeps_the_models_column(spk_files, corpus, cli, tmp_path):
    """QA: after 'enroll --label-column spk', the model's column was 'spk', and 'evaluate' on a manifest of
    the model's own 'speaker' column failed with "no column 'spk'"."""
    from speechgmm.modelio import load_model

    d = spk_files["dir"]
    rows = [{"path": r["path"], "spk": r["speaker"]} for r in csv.DictReader(open(spk_files["more"]))]
    man = write_manifest(tmp_path / "spk.csv", rows)
    r = cli("enroll", d / "first.npz", man, "--root", corpus, "--label-column", "spk", "-o", tmp_path / "e.npz")
    assert r.returncode == 0, r.stderr
    h = load_model(tmp_path / "e.npz").header
    assert h["label_column"] == "speaker" and h["enrolled"][-1]["label_column"] == "spk"
    r = cli("evaluate", spk_files["probes"], "--root", corpus, "--model", tmp_path / "e.npz")
    assert r.returncode == 0 and "accuracy" in r.stdout.lower(), r.stdout + r.stderr


def test_enroll_cli_bad_input(spk_files, corpus, cli):
    d = spk_files["dir"]
    r = cli("enroll", d / "em.npz", spk_files["more"], "--root", corpus, "-o", d / "x.npz")
    assert r.returncode == 2 and "EM model without a UBM" in r.stderr and "--method map" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("enroll", d / "first.npz", spk_files["more"], "--root", corpus, "--preset", "default", "-o", d / "x.npz")
    assert r.returncode == 2 and "differs from the front end" in r.stderr
    r = cli("enroll", d / "first.npz", spk_files["short"], "--root", corpus, "-o", d / "x.npz")
    short = spk_files["speakers"][7]
    assert r.returncode == 2 and f"'{short}'" in r.stderr and "1 s of speech" in r.stderr
    assert f"'{spk_files['speakers'][6]}'" not in r.stderr
    assert not (d / "x.npz").exists()
    # train applies enroll's rule (it accepted the 0.6 s speaker that enroll refuses)
    r = cli("train", spk_files["short"], "--root", corpus, "--label-column", "speaker", "-o", d / "x.npz")
    assert r.returncode == 2 and f"'{short}'" in r.stderr and "1 s of speech" in r.stderr, r.stderr
    assert not (d / "x.npz").exists()
    before = (d / "first.npz").read_bytes()
    r = cli("enroll", d / "first.npz", spk_files["more"], "--root", corpus, "-o", d / "first.npz")
    assert r.returncode == 2 and "first.npz" in r.stderr and (d / "first.npz").read_bytes() == before
    # a gender column into a speaker model would add the classes 'female' and 'male'
    r = cli(
        "enroll", d / "first.npz", spk_files["more"], "--root", corpus, "--label-column", "gender", "-o", d / "x.npz"
    )
    assert r.returncode == 2 and "'speaker' (speakers)" in r.stderr and "'gender'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (d / "x.npz").exists()
    # a column the manifest lacks is named as such (it used to be "names other things")
    r = cli("enroll", d / "first.npz", spk_files["more"], "--root", corpus, "--label-column", "nope", "-o", d / "x.npz")
    assert r.returncode == 2 and "'nope'" in r.stderr and "other things" not in r.stderr, r.stderr


def test_a_class_named_unknown_is_refused_where_open_set_answers_unknown(spk_files, corpus, cli, tmp_path):
    """``unknown`` is the open-set answer for strangers: a class of that name could not be told from a rejection
    (classify even showed it as rejected when it was the best class)."""
    import copy

    from speechgmm.modelio import load_model, save_model

    d = spk_files["dir"]
    rows = [dict(r, speaker="unknown") for r in csv.DictReader(open(spk_files["more"]))]
    man = write_manifest(tmp_path / "unknown.csv", rows)
    r = cli("enroll", d / "first.npz", man, "--root", corpus, "-o", tmp_path / "x.npz")
    assert r.returncode == 2 and "class named 'unknown'" in r.stderr and not (tmp_path / "x.npz").exists(), r.stderr
    mf = load_model(d / "first.npz")
    clf = copy.copy(mf.classifier)
    clf.labels_ = ["unknown", *clf.labels_[1:]]
    head = {k: v for k, v in mf.header.items() if k not in ("format", "format_version", "speechgmm_version")}
    save_model(tmp_path / "renamed.npz", clf, mf.feature_config, {k: v for k, v in head.items() if k != "features"})
    r = cli("classify", "--open-set", "--model", tmp_path / "renamed.npz", ROOT / "examples" / "male_AH_1A.wav")
    assert r.returncode == 2 and "class named 'unknown'" in r.stderr and r.stdout == "", r.stderr


def test_evaluate_refuses_a_gender_column_against_a_speaker_model(spk_files, corpus, cli):
    """Its 'male' and 'female' were taken for two unenrolled speakers: an open-set report, exit 0."""
    d = spk_files["dir"]
    args = ("evaluate", spk_files["probes"], "--root", corpus, "--model", d / "first.npz")
    r = cli(*args, "--label-column", "gender")
    assert r.returncode == 2 and "'speaker' (speakers)" in r.stderr and "'gender'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli(*args)  # its own column: the probes of the two speakers not in first.npz are strangers
    assert r.returncode == 0 and "not in the model" in r.stdout, r.stderr
    # an open-set report has no confusion matrix: --plot wrote nothing, without a word
    r = cli(*args, "--plot", d / "conf.png")
    assert r.returncode == 2 and "--plot needs a closed-set report" in r.stderr and not (d / "conf.png").exists()


def test_train_auto_picks_map_for_speakers_and_records_why(spk_files, corpus, cli):
    from speechgmm.modelio import load_model

    d = spk_files["dir"]
    out = {}
    for method in ("auto", "map"):  # auto is the default
        r = cli(
            "train",
            spk_files["first"],
            "--root",
            corpus,
            "--label-column",
            "speaker",
            "--method",
            method,
            "--ubm-components",
            "16",
            "--iterations",
            "2",
            "-o",
            d / f"{method}.npz",
        )
        assert r.returncode == 0, r.stderr
        out[method] = r.stdout, load_model(d / f"{method}.npz")
    stdout, mf = out["auto"]
    assert "method map: label column 'speaker' names speakers" in stdout
    assert mf.classifier.method_ == "map" and mf.header["training"]["method"] == "map"
    assert "names speakers" in mf.header["training"]["method_reason"]
    assert mf.feature_config.cmn is False and mf.feature_config.vad is True  # the speaker front end
    assert mf.header["open_set"]["threshold"] > 0
    # no --ubm: the speakers are adapted from the bundled background model, not from a UBM of themselves
    assert "bundled background model" in mf.header["training"]["method_reason"]
    bundled = load_model(BUNDLED_UBM_PATH, kind="ubm")
    assert mf.feature_config == bundled.feature_config
    assert np.array_equal(mf.classifier.ubm_.means_, bundled.ubm.means_)
    assert mf.classifier.ubm_.n_components == 256 and mf.header["training"]["ubm"] == "bundled"
    # --method map: the UBM is trained on the same manifest (16 Gaussians, as asked), same front end
    stdout, own = out["map"]
    assert own.classifier.method_ == "map" and own.classifier.ubm_.n_components == 16
    assert "bundled" not in stdout and own.feature_config == bundled.feature_config


def test_train_never_writes_over_the_bundled_ubm(spk_files, corpus, cli):
    before = BUNDLED_UBM_PATH.read_bytes()
    r = cli("train", spk_files["first"], "--root", corpus, "--label-column", "speaker", "-o", BUNDLED_UBM_PATH)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and str(BUNDLED_UBM_PATH.name) in r.stderr
    assert BUNDLED_UBM_PATH.read_bytes() == before


def test_train_auto_keeps_em_with_enough_frames_and_map_with_few(spk_files, corpus, cli):
    from speechgmm.modelio import load_model

    d = spk_files["dir"]
    # 8 speakers' A takes by gender: ~2,000 frames per class; K=4 -> EM, K=512 -> MAP
    r = cli(
        "train",
        spk_files["all"],
        "--root",
        corpus,
        "--label-column",
        "gender",
        "-k",
        "4",
        "--iterations",
        "2",
        "-o",
        d / "g_em.npz",
    )
    assert r.returncode == 0, r.stderr
    assert "method em: every class has at least" in r.stdout
    assert load_model(d / "g_em.npz").classifier.method_ == "em"
    r = cli(
        "train",
        spk_files["all"],
        "--root",
        corpus,
        "--label-column",
        "gender",
        "-k",
        "512",
        "--ubm-components",
        "8",
        "--iterations",
        "2",
        "-o",
        d / "g_map.npz",
    )
    assert r.returncode == 0, r.stderr
    assert "method map: class" in r.stdout and "per component for K=512" in r.stdout
    # QA: -k 512 gave 8-component models with no word that -k did not apply
    assert "the UBM (--ubm-components 8) is trained on this manifest" in r.stdout
    assert "not --components, sets the models' size" in r.stdout
    mf = load_model(d / "g_map.npz")
    assert mf.classifier.method_ == "map" and mf.feature_config.cmn is True  # not a speaker column: default front end


def test_classify_open_set(spk_files, corpus, cli):
    d = spk_files["dir"]
    probes = [corpus / r["path"] for r in csv.DictReader(open(spk_files["probes"]))]
    known = [p for p in probes if f"/{spk_files['speakers'][0]}/" in str(p)][:2]
    r = cli("classify", "--model", d / "first.npz", "--open-set", "--json", *known)
    assert r.returncode == 0, r.stderr
    lines = [__import__("json").loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 2 and all(x["label"] in (spk_files["speakers"][0], "unknown") for x in lines)
    r = cli("classify", "--model", d / "first.npz", "--threshold", "1000", *known)
    assert r.returncode == 0 and r.stdout.count("unknown") == 2
    # an 'unknown' row shows no posterior (the best class's closed-set 1.0000 would read as certainty)
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert [row[1:3] for row in rows] == [["unknown", "-"]] * 2, r.stdout
    r = cli("classify", "--model", d / "first.npz", "--threshold", "-1000", *known)
    assert r.returncode == 0 and "unknown" not in r.stdout
    assert all(0 <= float(line.split()[2]) <= 1 for line in r.stdout.splitlines()[1:]), r.stdout
    # a model without a stored threshold (EM) and no --threshold: one clear error, before work
    r = cli("classify", "--model", d / "em.npz", "--open-set", *known)
    assert r.returncode == 2 and "no stored open-set threshold" in r.stderr and "--threshold" in r.stderr


def test_evaluate_reports_open_set_for_labels_not_in_the_model(spk_files, corpus, cli):
    d = spk_files["dir"]
    r = cli("evaluate", spk_files["probes"], "--root", corpus, "--model", d / "first.npz", "--json")
    assert r.returncode == 0, r.stderr
    rep = __import__("json").loads(r.stdout.splitlines()[-1])
    assert rep["open_set"] and rep["n_enrolled_probes"] == 66 and rep["n_stranger_probes"] == 22
    assert rep["stranger_labels"] == spk_files["speakers"][6:]
    assert 0 <= rep["enrolled_correct"] <= rep["closed_set_accuracy"] <= 1 and 0 <= rep["strangers_unknown"] <= 1
    r = cli("evaluate", spk_files["probes"], "--root", corpus, "--model", d / "first.npz", "--threshold=-1000")
    assert r.returncode == 0 and "0.00 % said unknown" in r.stdout
    r = cli("evaluate", spk_files["probes"], "--root", corpus, "--model", d / "em.npz")
    assert r.returncode == 2 and "not classes of the model" in r.stderr and "--threshold" in r.stderr


def _trials(spk_files, corpus, path):
    rows = list(csv.DictReader(open(spk_files["probes"])))[::3]
    with open(path, "w") as fh:
        for r in rows:
            for s in spk_files["speakers"][:6]:
                fh.write(f"{s} {corpus / r['path']} {'target' if s == r['speaker'] else 'nontarget'}\n")
    return path


def test_verify_norms_with_the_ubm_cohort(spk_files, corpus, cli):
    import json

    d = spk_files["dir"]
    trials = _trials(spk_files, corpus, d / "trials.txt")
    r = cli("verify", "--model", d / "first.npz", "--trials", trials, "--json", "-o", d / "scores_s.txt")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout.splitlines()[-1])
    assert rep["norm"] == "s" and set(rep["by_norm"]) == {"none", "z", "t", "s"}  # the UBM's speakers: a cohort
    assert all(0 <= v["eer"] <= 0.5 for v in rep["by_norm"].values())
    r = cli("verify", "--model", d / "first.npz", "--trials", trials, "--norm", "none", "-o", d / "scores_n.txt")
    assert r.returncode == 0, r.stderr
    s_scores = [float(x.split()[-1]) for x in open(d / "scores_s.txt")]
    n_scores = [float(x.split()[-1]) for x in open(d / "scores_n.txt")]
    assert len(s_scores) == len(n_scores) and not np.allclose(s_scores, n_scores)
    # an explicit cohort manifest gives the same s-norm as the stored one (same speakers, same files)
    r = cli(
        "verify",
        "--model",
        d / "first.npz",
        "--trials",
        trials,
        "--cohort",
        spk_files["bg"],
        "--root",
        corpus,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["eer"] == pytest.approx(rep["eer"], abs=1e-9)


def test_verify_norm_bad_input(spk_files, corpus, cli):
    d = spk_files["dir"]
    trials = _trials(spk_files, corpus, d / "trials2.txt")
    r = cli("verify", "--model", d / "em.npz", "--trials", trials, "--norm", "s")
    assert r.returncode == 2 and "needs a MAP model" in r.stderr
    r = cli(
        "verify",
        "--model",
        d / "auto.npz" if (d / "auto.npz").exists() else d / "first.npz",
        "--trials",
        trials,
        "--norm",
        "q",
    )
    assert r.returncode == 2 and "--norm" in r.stderr
    with open(d / "bad_trials.txt", "w") as fh:
        fh.write(open(trials).read() + f"nobody {corpus / 'x.wav'} target\nghost {corpus / 'y.wav'} nontarget\n")
    r = cli("verify", "--model", d / "first.npz", "--trials", d / "bad_trials.txt")
    assert r.returncode == 2 and "nobody" in r.stderr and "ghost" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cohort_needs_a_speaker_column_and_takes_its_aliases(spk_files, corpus, cli):
    # a cohort manifest without a speaker column used its 'label' column (digits) as the speakers: exit 0
    # with wrong z/t/s figures; one whose column is 'spk' or 'speaker_id' was refused ("no column 'label'")
    import json

    d = spk_files["dir"]
    trials = _trials(spk_files, corpus, d / "trials3.txt")
    rows = list(csv.DictReader(open(spk_files["bg"])))
    digits = write_manifest(d / "cohort_digits.csv", [{"path": r["path"], "label": r["digit"]} for r in rows])
    r = cli("verify", "--model", d / "first.npz", "--trials", trials, "--cohort", digits, "--root", corpus)
    assert r.returncode == 2 and "cohort_digits.csv: a cohort needs a speaker column" in r.stderr, r.stderr
    spk = write_manifest(d / "cohort_spk.csv", [{"path": r["path"], "spk": r["speaker"]} for r in rows])
    both = []
    for cohort in (spk_files["bg"], spk):
        argv = ["verify", "--model", d / "first.npz", "--trials", trials, "--cohort", cohort, "--root", corpus]
        r = cli(*argv, "--json")
        assert r.returncode == 0, r.stderr
        both.append(json.loads(r.stdout.splitlines()[-1])["eer"])
    assert both[0] == pytest.approx(both[1], abs=1e-12)


def test_degenerate_cohorts_are_refused_before_any_audio_is_read(spk_files, corpus, cli):
    """Two cohort speakers on the same files made t-norm divide by a spread of ~1e-7 (scores of +-3e6, exit 0);
    a cohort of one speaker was refused without naming the manifest; cohort speakers that are classes of
    the model now get a warning."""
    d = spk_files["dir"]
    trials = _trials(spk_files, corpus, d / "trials4.txt")
    rows = list(csv.DictReader(open(spk_files["bg"])))[:6]
    argv = ["verify", "--model", d / "first.npz", "--trials", trials, "--root", corpus, "--norm", "t", "--cohort"]
    same = write_manifest(
        d / "cohort_same.csv",
        [{"utt": f"{s}{i}", "path": r["path"], "speaker": s} for s in "XY" for i, r in enumerate(rows)],
    )
    r = cli(*argv, same)
    assert r.returncode == 2 and "cohort_same.csv:" in r.stderr and "'X' and 'Y'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    one = write_manifest(d / "cohort_one.csv", [{"path": r["path"], "speaker": "X"} for r in rows])
    r = cli(*argv, one)
    assert r.returncode == 2 and "cohort_one.csv: a cohort needs at least 2 speakers" in r.stderr, r.stderr
    te = [r for r in csv.DictReader(open(spk_files["first"]))][:12]
    own = write_manifest(d / "cohort_own.csv", [{"path": r["path"], "speaker": r["speaker"]} for r in te])
    r = cli(*argv, own)
    assert r.returncode == 0 and "are also classes of the model" in r.stderr, r.stderr
    # a small cohort is warned about (QA: 2 speakers, s-norm 17.8 % EER against 8.9 % with none); ten are not
    assert "gives unsteady normalisation statistics" in r.stderr, r.stderr
    train = list(csv.DictReader(open(MAN / "train.csv")))
    ten = sorted({r["speaker"] for r in train})[:10]
    rows10 = [next(r for r in train if r["speaker"] == s and r["take"] == t) for s in ten for t in "AB"]
    r = cli(*argv, write_manifest(d / "cohort_ten.csv", rows10))
    assert r.returncode == 0 and "unsteady" not in r.stderr, r.stderr


def test_train_ubm_keeps_a_cohort_from_any_speaker_column(spk_files, corpus, cli):
    from speechgmm.modelio import load_model

    d = spk_files["dir"]
    rows = list(csv.DictReader(open(spk_files["bg"])))
    man = write_manifest(d / "bg_spk.csv", [{"path": r["path"], "spk": r["speaker"]} for r in rows[:40]])
    r = cli("train-ubm", man, "--root", corpus, "-o", d / "ubm_spk.npz", "--components", "4", "--iterations", "1")
    assert r.returncode == 0, r.stderr
    assert load_model(d / "ubm_spk.npz", kind="ubm").ubm.cohort_ is not None  # was none for 'spk'


def _header(path):
    from speechgmm.modelio import load_model

    return load_model(path).header


@pytest.mark.parametrize("backend", ["cache", "dask"])
def test_cache_and_dask_training_keep_the_cohort_and_the_open_set_threshold(spk_files, corpus, cli, tmp_path, backend):
    """train-ubm stores its speakers as the cohort, and train calibrates the open-set threshold, with --cache
    and on Dask as in memory (they were missing there)."""
    from speechgmm.modelio import load_model

    if backend == "dask":
        need_module("dask.distributed")
    d = spk_files["dir"]
    extra = ("--cache", tmp_path / "cache") if backend == "cache" else ("--dask", "local", "--dask-workers", "1")
    ubm_args = ("--components", "16", "--iterations", "3")
    r = cli("train-ubm", spk_files["bg"], "--root", corpus, "-o", tmp_path / "ubm.npz", *ubm_args, *extra)
    assert r.returncode == 0, r.stderr
    mem, other = load_model(d / "ubm.npz").ubm, load_model(tmp_path / "ubm.npz").ubm
    assert other.cohort_ is not None and other.cohort_.speakers == mem.cohort_.speakers
    # the UBMs differ only by summation order: statistics agree to far below their scale
    assert np.abs(other.cohort_.f - mem.cohort_.f).max() <= 1e-4 * np.abs(mem.cohort_.f).max()
    assert [len(u) for u in other.cohort_.utts] == [len(u) for u in mem.cohort_.utts]
    args = ("--root", corpus, "--label-column", "speaker", "--ubm", d / "ubm.npz")
    r = cli("train", spk_files["first"], *args, "-o", tmp_path / "first.npz", *extra)
    assert r.returncode == 0, r.stderr
    want, got = _header(d / "first.npz")["open_set"], _header(tmp_path / "first.npz")["open_set"]
    assert got["impostor_trials"] == want["impostor_trials"] == 66
    assert got["threshold"] == pytest.approx(want["threshold"], rel=1e-4, abs=1e-4)
    assert load_model(tmp_path / "first.npz").classifier.cohort_ is not None


def test_info_shows_the_open_set_threshold_and_the_cohort(spk_files, cli):
    d = spk_files["dir"]
    thr = _header(d / "first.npz")["open_set"]["threshold"]
    out = cli("info", d / "first.npz").stdout
    assert f"open set     threshold {thr:.4f}" in out
    assert "cohort       6 speakers, 12 utterances" in out
    # the class models have the UBM's 16 Gaussians; train's unused -k (64) is not shown as theirs
    assert "components   16 per class" in out and "components=" not in out
    out = cli("info", d / "ubm.npz").stdout
    assert "cohort       6 speakers" in out and "open set" not in out
    out = cli("info", d / "em.npz").stdout
    assert "open set" not in out and "cohort" not in out
    assert "components   2 per class" in out and "components=2" in out  # EM: -k is what was trained


def test_a_model_of_too_few_enrolment_files_says_why_it_has_no_threshold(spk_files, corpus, cli):
    """3 speakers with 3 files each (9 impostor trials): train said nothing about the missing threshold,
    and classify --open-set blamed "fewer than 3 classes" (QA) for a model of 3."""
    d = spk_files["dir"]
    rows = [r for r in _rows("test.csv", spk_files["speakers"][:3]) if r["take"] == "A"]
    three = [r for s in spk_files["speakers"][:3] for r in [x for x in rows if x["speaker"] == s][:3]]
    man = write_manifest(d / "three.csv", three)

    def train(manifest, out):
        return cli("train", manifest, "--root", corpus, "--label-column", "speaker", "--ubm", d / "ubm.npz", "-o", out)

    r = train(man, d / "3.npz")
    assert r.returncode == 0, r.stderr
    assert "no open-set threshold stored" in r.stdout and "at least 10 impostor trials" in r.stdout, r.stdout
    assert "9 of 10 impostor trials stored so far" in r.stdout, r.stdout
    r = cli("classify", "--model", d / "3.npz", "--open-set", corpus / three[0]["path"])
    assert r.returncode == 2 and "10 impostor trials" in r.stderr and "--threshold" in r.stderr, r.stderr
    r = train(spk_files["first"], d / "6.npz")
    assert r.returncode == 0 and "open-set threshold " in r.stdout and "impostor trials" in r.stdout, r.stdout


def test_the_python_api_bounds_the_threshold_as_the_command_line_does():
    """One rule (options.THRESHOLD) for --threshold and the API's threshold=: 1e30 made every file 'unknown'."""
    from speechgmm.errors import ConfigError
    from speechgmm.speakers import open_set_threshold

    assert open_set_threshold({}, -1000, "m.npz") == -1000.0
    for bad in (1e30, -1000.5, float("nan"), float("inf"), True):
        with pytest.raises(ConfigError, match=r"--threshold: expected a finite number >= -1000 and <= 1000"):
            open_set_threshold({}, bad, "m.npz")
    with pytest.raises(ConfigError, match="--threshold: expected a number, got '2'"):
        open_set_threshold({}, "2", "m.npz")  # QA: segment_file(threshold="2") had been taken


def test_a_small_model_keeps_its_impostor_trials_until_it_can_calibrate(data):
    """QA: 3 speakers of one file each got no threshold (3 trials), so their trials were lost, and the
    model enrolled into twice ended with 20 trials where training all at once had 28; now a record of too
    few trials is kept, used by no one, and completed by the next enrolment."""
    ubm, A = data["ubm"], data["A"]
    labels = sorted(A)
    one_file = {lab: A[lab][:1] for lab in labels[:3]}
    clf = _map(one_file, ubm)
    pending = sp.open_set_record(clf, one_file)
    assert pending["impostor_trials"] == 3 and "threshold" not in pending
    assert sp.stored_t_weight(pending) == pending["t_weight"] == 0.0
    with pytest.raises(ConfigError, match="no stored open-set threshold"):
        sp.open_set_threshold({"open_set": pending}, None, "m.npz")
    more = {lab: A[lab][:4] for lab in labels[3:5]}
    new, _, _ = sp.enroll(clf, more)
    rec = sp.open_set_record(new, more, pending)
    assert rec["impostor_trials"] == 3 + 8 and rec["threshold"] > 0
    assert rec["impostor_scores"][:3] == pending["impostor_scores"]  # the first three were kept


def test_verify_warns_when_the_stored_cohort_holds_the_models_speakers(spk_files, corpus, cli, tmp_path):
    """QA: models of the UBM's own training speakers were normalised against a cohort holding them without a
    word, where the same speakers given as --cohort were warned about."""
    d = spk_files["dir"]
    rows = list(csv.DictReader(open(spk_files["bg"])))
    three = sorted({r["speaker"] for r in rows})[:3]
    man = write_manifest(tmp_path / "bg3.csv", [r for r in rows if r["speaker"] in three])
    r = cli(
        "train", man, "--root", corpus, "--label-column", "speaker", "--ubm", d / "ubm.npz", "-o", tmp_path / "3.npz"
    )
    assert r.returncode == 0, r.stderr
    trials = tmp_path / "t.txt"
    trials.write_text("".join(f"{s} {corpus / r['path']} target\n" for s in three[:1] for r in rows[:2]))
    trials.write_text(trials.read_text() + f"{three[1]} {corpus / rows[0]['path']} nontarget\n")
    r = cli("verify", "--model", tmp_path / "3.npz", "--trials", trials)
    assert r.returncode == 0, r.stderr
    assert f"3.npz (the cohort stored with its UBM): cohort speakers {', '.join(three)} are also classes" in r.stderr
    r = cli("verify", "--model", d / "first.npz", "--trials", _trials(spk_files, corpus, tmp_path / "t2.txt"))
    assert r.returncode == 0 and "are also classes" not in r.stderr, r.stderr
