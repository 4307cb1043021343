#!/usr/bin/env python3
"""Speaker identification and verification with GMM-UBM / MAP adaptation.

The 95 TRAINING speakers train the UBM; the 73 TEST speakers are enrolled on their takes A
(11 digits, ~6 s each) and probed with every take B (~0.6 s):
  MAP   means adapted from the UBM (binary splitting to K=256, 10 EM iterations), relevance
        factor 4, top-5 scoring
  EM    per-speaker GMMs trained by EM alone (K=8), for comparison
identify: every take B among the 73 enrolled speakers; verify: every take B against every enrolled
speaker (target / nontarget trials), score = mean per-frame LLR against the UBM: EER, minDCF, DET curve;
normalise: z-, t- and s-norm of those scores against the 95 training speakers (cohort);
open set: 50 of the test speakers enrolled, probes of all 73: 'unknown' below the threshold calibrated
on leave-one-speaker-out impostor trials of the enrolment; enroll: 10 speakers added to a 60-speaker
model, its time, and equality with training all at once.

Stages (--stage N / --stop-stage N; each writes under --exp DIR, default recipes/speaker_id/exp)
  0. data      data_manifest/asr_course/{train,test}.csv with absolute audio paths -> EXP/data/*.csv
  1. features  preset "speaker" (39-dim MFCC, NO per-utterance CMN -- it removes speaker information --
               and speech detection, speechgmm/vad.py; --preset speaker_any_level: c0 minus its mean, the
               recording level out) -> EXP/features/{train,test}.{ark,scp}, config.json
  2. train     (--tune: the cross-validation below), the UBM, MAP and EM enrolment on takes A
               -> EXP/train/{ubm,map,em}.npz, seconds.json
  3. evaluate  identification, verification (DET curve with --det FILE.png), normalisation, open set
               and enrolment on takes B -> EXP/evaluate/results.json (the --json line)

UBM size, relevance factor, top-C and the open-set score were chosen by cross-validation on the training
speakers only (--tune runs it in stage 2: 2 folds, the UBM on one half of the training speakers, the other
half enrolled on takes A and identified and verified on takes B; for the open set, 10 random two thirds of a
fold's speakers enrolled, probes of all).

usage: python recipes/speaker_id/run.py [--corpus DIR] [--json] [--det FILE.png] [--tune] [--preset P] [--jobs N]
                                        [--stage N] [--stop-stage N] [--exp DIR]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from speechgmm.classifier import GMMClassifier
from speechgmm.errors import ConfigError
from speechgmm.features import FeatureConfig
from speechgmm.kaldi import read_feats, write_feats
from speechgmm.manifest import read_manifest
from speechgmm.map import train_ubm
from speechgmm.modelio import load_model, save_model, save_ubm
from speechgmm.pipeline import manifest_features
from speechgmm.verification import Trial, plot_det, verification_report, verification_scores

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: the shared harness
from _common import (  # noqa: E402
    MANIFESTS,
    Stages,
    check_outside_exp,
    find_corpus,
    format_table,
    output_path,
    recipe_parser,
    run_script,
    write_data,
    write_json,
)

STAGES = ("data", "features", "train", "evaluate")
CONFIG = {
    "preset": "speaker",
    "ubm_components": 256,
    "ubm_iterations": 10,
    "relevance_factor": 4.0,
    "adapt": "m",
    "top_c": 5,
    "em_components": 8,
    "seed": 0,
}
COLUMNS = ["speaker", "take", "digit", "gender"]


def split_takes(man, feats):
    take = man.labels("take")
    spk = man.labels("speaker")
    a = [i for i, t in enumerate(take) if t == "A"]
    b = [i for i, t in enumerate(take) if t == "B"]
    return ([feats[i] for i in a], [spk[i] for i in a]), ([feats[i] for i in b], [spk[i] for i in b])


def identify(clf, X, y):
    return float(np.mean([p == t for p, t in zip(clf.predict(X), y)]))


def tune(train_feats, train_man, jobs):
    """2-fold cross-validation on the training speakers only: the UBM on one half, the other half enrolled
    on takes A and identified (and verified) on takes B; UBM size x relevance factor x top-C."""
    from speechgmm.verification import eer

    spk = np.array(train_man.labels("speaker"))
    take = np.array(train_man.labels("take"))
    perm = np.random.default_rng(CONFIG["seed"]).permutation(sorted(set(spk)))
    halves = [set(perm[::2]), set(perm[1::2])]
    rows = []
    open_set: dict = {}
    for K in (128, 256, 512):
        ubms = [
            train_ubm([x for x, s in zip(train_feats, spk) if s in h], K, CONFIG["ubm_iterations"], CONFIG["seed"])
            for h in halves
        ]
        for r in (2.0, 4.0, 8.0):
            for c in (5, 10):
                acc, err = [], []
                for ubm, h in zip(ubms, halves[::-1]):
                    a = [i for i, s in enumerate(spk) if s in h and take[i] == "A"]
                    b = [i for i, s in enumerate(spk) if s in h and take[i] == "B"]
                    clf = GMMClassifier(top_c=c).fit_map([train_feats[i] for i in a], spk[a].tolist(), ubm, r)
                    totals, frames = clf.score_utterances([train_feats[i] for i in b])
                    S = totals / frames[:, None]
                    if (K, r, c) == (CONFIG["ubm_components"], CONFIG["relevance_factor"], CONFIG["top_c"]):
                        totals_a, frames_a = clf.score_utterances([train_feats[i] for i in a])
                        tune_open_set(open_set, S, spk[b], totals_a / frames_a[:, None], spk[a], clf.labels_)
                    tgt = spk[b][:, None] == np.array(clf.labels_)[None, :]
                    acc.append(float(np.mean(np.array(clf.labels_)[S.argmax(1)] == spk[b])))
                    err.append(eer(S[tgt], S[~tgt]))
                rows.append([K, r, c, float(np.mean(acc)), float(np.mean(err))])
                print(
                    f"  tune: UBM {K:3d}  r={r:g}  top-{c:<2d}  CV identification {rows[-1][3]:.4f}  "
                    f"EER {100 * rows[-1][4]:.2f} %",
                    flush=True,
                )
    for w, runs in open_set.items():
        ok, unk, bal = np.mean(runs, 0)
        print(
            f"  tune: open set, score = margin + {w:g} x t-normalised best: at 10 % of the impostor trials "
            f"{100 * ok:.1f} % enrolled correct, {100 * unk:.1f} % strangers unknown; best balance {100 * bal:.2f} %",
            flush=True,
        )
    return rows


def tune_open_set(out, S, yb, Sa, ya, labels, draws=10):
    """Open set in the cross-validation: ``draws`` random two thirds of the fold's speakers enrolled (their
    columns of the probe scores ``S``), probes of all; the threshold from leave-one-speaker-out impostor trials
    of the enrolled speakers' takes A (scores ``Sa``); ``out[t_weight]`` gets (enrolled correct, strangers
    unknown, best balance in hindsight) per draw."""
    from speechgmm import speakers as sp

    labels = np.array(labels)
    for d in range(draws):
        cols = np.sort(np.random.default_rng(100 + d).choice(len(labels), round(2 * len(labels) / 3), replace=False))
        enrolled = set(labels[cols])
        rows = np.array([y in enrolled for y in ya])
        own = {lab: j for j, lab in enumerate(labels[cols])}
        keep = np.ones((rows.sum(), len(cols)), bool)
        keep[np.arange(rows.sum()), [own[y] for y in ya[rows]]] = False
        known = np.array([y in enrolled for y in yb])
        for w in (0.0, 0.25, 0.5, 0.75, 1.0):
            imp = sp.open_set_scores(Sa[rows][:, cols][keep].reshape(rows.sum(), -1), w)[1]
            thr = sp.calibrate(imp, t_weight=w)["threshold"]
            best, score = sp.open_set_scores(S[:, cols], w)
            right = labels[cols][best] == yb
            ok, unk = np.mean((right & (score >= thr))[known]), np.mean((score < thr)[~known])
            out.setdefault(w, []).append((ok, unk, best_balance(score, right, known)))


def best_balance(score, right, known) -> float:
    """max over thresholds t of min(enrolled probes right with score >= t, stranger probes below t)."""
    hits, strangers = np.sort(score[known & right]), np.sort(score[~known])
    t = np.unique(score)
    ok = (len(hits) - np.searchsorted(hits, t)) / known.sum()
    return float(np.max(np.minimum(ok, np.searchsorted(strangers, t) / len(strangers))))


def speaker_stages(ubm, bg_feats, bg, Xa, ya, Xb, yb, mapc):
    """Normalisation, open-set identification, enrolment (speechgmm.speakers), in stage 3."""
    from speechgmm import speakers as sp

    # z/t/s-norm against the UBM's training speakers (what train-ubm stores as the cohort)
    cohort = sp.Cohort.from_groups(ubm, sp.group_by_label(bg_feats, bg.labels("speaker")))
    S = sp.utterance_llrs(mapc.models_, ubm, Xb, mapc.top_c)
    is_target = np.array(yb)[:, None] == np.array(mapc.labels_)[None, :]
    norms = {
        n: verification_report(M[is_target], M[~is_target])
        for n, M in sp.normalised_scores(mapc, S, Xb, cohort).items()
    }
    # open set: 50 of the speakers enrolled (seed 0), probes of all; threshold calibrated on the enrolment data
    speakers = sorted(set(ya))
    enrolled = set(np.random.default_rng(0).choice(speakers, 50, replace=False).tolist())
    Xe = [x for x, y in zip(Xa, ya) if y in enrolled]
    ye = [y for y in ya if y in enrolled]
    oc = GMMClassifier(top_c=CONFIG["top_c"]).fit_map(Xe, ye, ubm, CONFIG["relevance_factor"], CONFIG["adapt"])
    rec = sp.open_set_record(oc, sp.group_by_label(Xe, ye))
    rep = sp.open_set_report(yb, sp.utterance_llrs(oc.models_, ubm, Xb, oc.top_c), oc.labels_, rec["threshold"])
    best, score = sp.open_set_scores(sp.utterance_llrs(oc.models_, ubm, Xb, oc.top_c))
    known = np.array([y in enrolled for y in yb])
    right = np.array(oc.labels_)[best] == np.array(yb)
    balance = best_balance(score, right, known)
    open_set = {
        "n_enrolled": len(enrolled),
        "threshold": rec["threshold"],
        "enrolled_correct": rep["enrolled_correct"],
        "strangers_unknown": rep["strangers_unknown"],
        "best_balance": float(balance),
    }
    # enroll 10 speakers into a model of 60 (library call, as 'speechgmm enroll' does after reading the files)
    first, more = speakers[:60], speakers[60:70]
    groups = sp.group_by_label(Xa, ya)
    base = GMMClassifier(top_c=CONFIG["top_c"]).fit_map_groups(
        {s: groups[s] for s in first}, ubm, CONFIG["relevance_factor"], CONFIG["adapt"]
    )
    t = time.time()
    new, _, _ = sp.enroll(base, {s: groups[s] for s in more})
    sp.open_set_record(new, {s: groups[s] for s in more})
    enroll_seconds = time.time() - t
    at_once = GMMClassifier(top_c=CONFIG["top_c"]).fit_map_groups(
        {s: groups[s] for s in first + more}, ubm, CONFIG["relevance_factor"], CONFIG["adapt"]
    )
    equal = new.predict(Xb) == at_once.predict(Xb)
    return {
        "norms": norms,
        "open_set": open_set,
        "enroll_seconds": enroll_seconds,
        "enroll_added": len(more),
        "enroll_base": len(first),
        "enroll_equal": bool(equal),
    }


def data_list(st: Stages, name: str):
    return read_manifest(st.need(st.dir(0) / f"{name}.csv"))


def features(st: Stages, name: str):
    """The data list ``name`` and its features (from stage 1's ark), in list order."""
    man = data_list(st, name)
    feats = read_feats(st.need(st.dir(1) / f"{name}.scp"))
    return man, [feats[u] for u in man.utts]


def stage_data(st: Stages, corpus_arg) -> None:
    corpus = find_corpus(corpus_arg)
    for name in ("train", "test"):
        write_data(read_manifest(MANIFESTS / f"{name}.csv", root=corpus), st.dir(0) / f"{name}.csv", COLUMNS)


def stage_features(st: Stages, jobs: int, preset: str = CONFIG["preset"]) -> None:
    cfg = FeatureConfig.preset(preset)
    for name in ("train", "test"):
        man = data_list(st, name)
        write_feats(st.dir(1) / f"{name}.ark", zip(man.utts, manifest_features(man, cfg, jobs=jobs, desc=name)))
    write_json(st.dir(1) / "config.json", cfg.to_dict())


def stage_train(st: Stages, jobs: int, do_tune: bool, out_ubm=None) -> None:
    d = st.dir(2)
    cfg = FeatureConfig.from_dict(json.loads(st.need(st.dir(1) / "config.json").read_text()))
    bg, bg_feats = features(st, "train")
    if do_tune:
        tune(bg_feats, bg, jobs)
    t0 = time.time()
    ubm = train_ubm(bg_feats, CONFIG["ubm_components"], CONFIG["ubm_iterations"], CONFIG["seed"])
    preset = cfg.preset_name() or CONFIG["preset"]
    info = {"label_column": "speaker", "training": dict(CONFIG, preset=preset, recipe="recipes/speaker_id/run.py")}
    save_ubm(d / "ubm.npz", ubm, cfg, info)
    if out_ubm:  # the bundled background model: reproducible bit for bit (fixed date, repo-relative manifest)
        os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
        bundled = dict(info, manifest="data_manifest/asr_course/train.csv", n_files=len(bg))
        bundled["n_speakers"] = len(set(bg.labels("speaker")))
        save_ubm(out_ubm, ubm, cfg, bundled)
    secs = {"ubm": time.time() - t0, "n_background_files": len(bg)}
    te, te_feats = features(st, "test")
    (Xa, ya), _ = split_takes(te, te_feats)
    t1 = time.time()
    mapc = GMMClassifier(top_c=CONFIG["top_c"]).fit_map(Xa, ya, ubm, CONFIG["relevance_factor"], CONFIG["adapt"])
    secs["map"] = time.time() - t1
    save_model(d / "map.npz", mapc, cfg, info)
    t1 = time.time()
    emc = GMMClassifier(
        CONFIG["em_components"], max_iter=20, init="kmeans", random_state=CONFIG["seed"], jobs=jobs
    ).fit(Xa, ya)
    secs["em"] = time.time() - t1
    save_model(d / "em.npz", emc, cfg, info)
    write_json(d / "seconds.json", secs)


def stage_evaluate(st: Stages, jobs: int, det) -> dict:
    mapf = load_model(st.need(st.dir(2) / "map.npz"), kind="classifier")
    mapc, emc = mapf.classifier, load_model(st.need(st.dir(2) / "em.npz"), kind="classifier").classifier
    emc.jobs = jobs
    trained = json.loads(st.need(st.dir(2) / "seconds.json").read_text())
    te, te_feats = features(st, "test")
    (Xa, ya), (Xb, yb) = split_takes(te, te_feats)
    probe_s = float(np.mean([x.shape[0] for x in Xb])) * mapf.feature_config.frame_shift_ms / 1000
    t1 = time.time()
    map_acc = identify(mapc, Xb, yb)
    t_map = trained["map"] + time.time() - t1
    t1 = time.time()
    em_acc = identify(emc, Xb, yb)
    t_em = trained["em"] + time.time() - t1

    # verification: every B take against every enrolled speaker; score = mean per-frame LLR vs the UBM
    totals, frames = mapc.score_utterances(Xb)
    trials = [Trial(lab, i, lab == y) for i, y in enumerate(yb) for lab in mapc.labels_]  # probe i: row i
    llr = verification_scores(mapc, totals, frames, trials)
    is_target = np.array([t.target for t in trials])
    rep = verification_report(llr[is_target], llr[~is_target])
    if det:
        plot_det(
            llr[is_target],
            llr[~is_target],
            det,
            label="GMM-UBM MAP",
            title=f"DET: {len(mapc.labels_)} speakers, {len(yb)} probes of ~{probe_s:.1f} s",
        )
    ubm = load_model(st.need(st.dir(2) / "ubm.npz"), kind="ubm").ubm
    bg, bg_feats = features(st, "train")
    extra = speaker_stages(ubm, bg_feats, bg, Xa, ya, Xb, yb, mapc)

    print(
        f"speaker ID: UBM on {trained['n_background_files']} files of 95 training speakers; "
        f"{len(mapc.labels_)} test speakers enrolled on takes A ({len(ya)} files), "
        f"probes = takes B ({len(yb)} files, mean {probe_s:.2f} s of speech)"
    )
    map_name = f"GMM-UBM MAP (UBM {CONFIG['ubm_components']}, r={CONFIG['relevance_factor']:g}, top-{CONFIG['top_c']})"
    em_name = f"per-speaker EM (K={CONFIG['em_components']})"
    rows = [[map_name, map_acc, f"{t_map:.1f}"], [em_name, em_acc, f"{t_em:.1f}"]]
    print(format_table(rows, ["system", "identification accuracy", "enroll+test s"]))
    print(
        f"verification ({rep['n_target']} target / {rep['n_nontarget']} nontarget trials): "
        f"EER {100 * rep['eer']:.2f} %, minDCF {rep['min_dcf']:.4f} (P_target 0.01, C_miss 10, C_fa 1)"
    )
    print(
        "score normalisation against the 95 training speakers (cohort): "
        + ", ".join(f"{n}-norm EER {100 * r['eer']:.2f} % minDCF {r['min_dcf']:.4f}" for n, r in extra["norms"].items())
    )
    o = extra["open_set"]
    print(
        f"open set: {o['n_enrolled']} speakers enrolled, probes of all {len(mapc.labels_)}: at the stored threshold "
        f"{o['threshold']:.3f}, {100 * o['enrolled_correct']:.2f} % of enrolled probes correct, "
        f"{100 * o['strangers_unknown']:.2f} % of strangers 'unknown' (best balance over thresholds "
        f"{100 * o['best_balance']:.2f} %)"
    )
    print(
        f"enroll: {extra['enroll_added']} speakers added to a {extra['enroll_base']}-speaker model in "
        f"{extra['enroll_seconds']:.2f} s (MAP from the UBM + open-set recalibration); predictions equal training "
        f"all at once: {extra['enroll_equal']}"
    )
    print(f"UBM training {trained['ubm']:.1f} s" + (f"; DET curve saved to {det}" if det else ""))
    res = {
        "map_accuracy": map_acc,
        "em_accuracy": em_acc,
        "eer": rep["eer"],
        "min_dcf": rep["min_dcf"],
        "n_speakers": len(mapc.labels_),
        "n_probes": len(yb),
        "probe_seconds": probe_s,
        "config": CONFIG,
        "norms": extra["norms"],
        "open_set": extra["open_set"],
        "enroll_seconds": extra["enroll_seconds"],
        "enroll_equal": extra["enroll_equal"],
    }
    write_json(st.dir(3) / "results.json", res)
    return res


def main(argv=None) -> int:
    ap = recipe_parser(__doc__, STAGES, "speaker_id")
    ap.add_argument("--det", type=output_path, help="save the DET curve of the verification protocol (PNG)")
    ap.add_argument("--tune", action="store_true", help="first run the cross-validation on the training speakers")
    ap.add_argument(
        "--preset",
        choices=("speaker", "speaker_any_level"),
        default=CONFIG["preset"],
        help="front end of stage 1 (default speaker; speaker_any_level takes the recording level out and "
        "regenerates speechgmm/data/speaker_any_level_ubm.npz with --out-ubm)",
    )
    ap.add_argument(
        "--out-ubm",
        type=output_path,
        metavar="UBM.npz",
        help="also write the UBM (stage 2) here, reproducibly: "
        "--stop-stage 2 --out-ubm speechgmm/data/speaker_ubm.npz regenerates the bundled one",
    )
    args = ap.parse_args(argv)
    st = Stages(args, STAGES)
    check_outside_exp(args, "out_ubm", "det")
    if args.tune and not st.first <= 2 <= st.last:
        raise ConfigError("--tune runs in stage 2 (train), which --stage/--stop-stage leave out")
    if args.out_ubm and not st.first <= 2 <= st.last:
        raise ConfigError("--out-ubm is written in stage 2 (train), which --stage/--stop-stage leave out")
    if args.det and not st.first <= 3 <= st.last:
        raise ConfigError("--det is written in stage 3 (evaluate), which --stage/--stop-stage leave out")
    if st(0):
        stage_data(st, args.corpus)
    if st(1):
        stage_features(st, args.jobs, args.preset)
    if st(2):
        stage_train(st, args.jobs, args.tune, args.out_ubm)
    res = stage_evaluate(st, args.jobs, args.det) if st(3) else None
    return st.finish(res, args.json)


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
