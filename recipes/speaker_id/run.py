#!/usr/bin/env python3
"""Speaker identification and verification with GMM-UBM / MAP adaptation.

Stages
  0. data       data_manifest/asr_course/{train,test}.csv
  1. features   preset "speaker" (39-dim MFCC, NO per-utterance CMN -- it removes speaker
                information -- and an energy VAD)
  2. UBM        one GMM (binary splitting to K=256, 10 EM iterations) on all 95 TRAINING speakers
  3. enroll     the 73 TEST speakers on their takes A (11 digits, ~6 s each):
                  MAP   means adapted from the UBM, relevance factor 4, top-5 scoring
                  EM    per-speaker GMMs trained by EM alone (K=8), for comparison
  4. identify   every take B (~0.6 s probes) among the 73 enrolled speakers
  5. verify     every take B against every enrolled speaker (target / nontarget trials):
                EER, minDCF, DET curve (recipes/speaker_id/det.png with --det)
  6. normalise  z-, t- and s-norm of those scores against the 95 training speakers (cohort)
  7. open set   50 of the test speakers enrolled, probes of all 73: 'unknown' below the
                threshold calibrated on leave-one-speaker-out impostor trials of the enrolment
  8. enroll     10 speakers added to a 60-speaker model; time, and equality with training all

UBM size and relevance factor were chosen by cross-validation on the training speakers
(--tune runs it: A->B identification among the training speakers).

usage: python recipes/speaker_id/run.py [--corpus DIR] [--json] [--det FILE.png] [--tune] [--jobs N]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from speechgmm._util import find_corpus, format_table, recipe_parser, run_script  # noqa: E402
from speechgmm.classifier import GMMClassifier  # noqa: E402
from speechgmm.features import FeatureConfig  # noqa: E402
from speechgmm.manifest import read_manifest  # noqa: E402
from speechgmm.pipeline import manifest_features, train_ubm  # noqa: E402
from speechgmm.verification import Trial, plot_det, verification_report, verification_scores  # noqa: E402

CONFIG = {"preset": "speaker", "ubm_components": 256, "ubm_iterations": 10, "relevance_factor": 4.0, "adapt": "m",
          "top_c": 5, "em_components": 8, "seed": 0}


def split_takes(man, feats):
    take = man.labels("take")
    spk = man.labels("speaker")
    a = [i for i, t in enumerate(take) if t == "A"]
    b = [i for i, t in enumerate(take) if t == "B"]
    return ([feats[i] for i in a], [spk[i] for i in a]), ([feats[i] for i in b], [spk[i] for i in b])


def identify(clf, X, y):
    return float(np.mean([p == t for p, t in zip(clf.predict(X), y)]))


def tune(train_feats, train_man, jobs):
    """CV on the training speakers: UBM on all of them, enroll A, identify B."""
    (Xa, ya), (Xb, yb) = split_takes(train_man, train_feats)
    rows = []
    for K in (64, 128, 256, 512):
        ubm = train_ubm(train_feats, K, CONFIG["ubm_iterations"], CONFIG["seed"])
        for r in (4.0, 8.0, 16.0):
            clf = GMMClassifier(top_c=CONFIG["top_c"]).fit_map(Xa, ya, ubm, relevance_factor=r)
            rows.append([K, r, identify(clf, Xb, yb)])
            print(f"  tune: UBM {K:3d}  r={r:4.0f}  A->B accuracy {rows[-1][2]:.4f}", flush=True)
    return rows


def speaker_stages(ubm, bg_feats, bg, Xa, ya, Xb, yb, mapc):
    """Stages 6-8: score normalisation, open-set identification, enrolment (speechgmm.speakers)."""
    from speechgmm import speakers as sp

    # 6. z/t/s-norm against the UBM's training speakers (what train-ubm stores as the cohort)
    cohort = sp.Cohort.from_groups(ubm, sp.group_by_label(bg_feats, bg.labels("speaker")))
    S = sp.utterance_llrs(mapc.models_, ubm, Xb, mapc.top_c)
    is_target = np.array(yb)[:, None] == np.array(mapc.labels_)[None, :]
    norms = {n: verification_report(M[is_target], M[~is_target])
             for n, M in sp.normalised_scores(mapc, S, Xb, cohort).items()}
    # 7. open set: 50 of the speakers enrolled (seed 0), probes of all; threshold calibrated on the enrolment data
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
    balance = max(min(np.mean((right & (score >= t))[known]), np.mean((score < t)[~known])) for t in np.unique(score))
    open_set = {"n_enrolled": len(enrolled), "threshold": rec["threshold"], "enrolled_correct": rep["enrolled_correct"],
                "strangers_unknown": rep["strangers_unknown"], "best_balance": float(balance)}
    # 8. enroll 10 speakers into a model of 60 (library call, as 'speechgmm enroll' does after reading the files)
    first, more = speakers[:60], speakers[60:70]
    groups = sp.group_by_label(Xa, ya)
    base = GMMClassifier(top_c=CONFIG["top_c"]).fit_map_groups({s: groups[s] for s in first}, ubm,
                                                               CONFIG["relevance_factor"], CONFIG["adapt"])
    t = time.time()
    new, _, _ = sp.enroll(base, {s: groups[s] for s in more})
    sp.open_set_record(new, {s: groups[s] for s in more})
    enroll_seconds = time.time() - t
    at_once = GMMClassifier(top_c=CONFIG["top_c"]).fit_map_groups({s: groups[s] for s in first + more}, ubm,
                                                                  CONFIG["relevance_factor"], CONFIG["adapt"])
    equal = new.predict(Xb) == at_once.predict(Xb)
    return {"norms": norms, "open_set": open_set, "enroll_seconds": enroll_seconds, "enroll_added": len(more),
            "enroll_base": len(first), "enroll_equal": bool(equal)}


def main(argv=None) -> int:
    ap = recipe_parser(__doc__)
    ap.add_argument("--det", help="save the DET curve of the verification protocol (PNG)")
    ap.add_argument("--tune", action="store_true", help="first run the cross-validation on the training speakers")
    args = ap.parse_args(argv)
    t0 = time.time()
    corpus = find_corpus(args.corpus)
    man = ROOT / "data_manifest" / "asr_course"
    bg = read_manifest(man / "train.csv", root=corpus)
    te = read_manifest(man / "test.csv", root=corpus)
    cfg = FeatureConfig.preset(CONFIG["preset"])
    bg_feats = manifest_features(bg, cfg, jobs=args.jobs)
    if args.tune:
        tune(bg_feats, bg, args.jobs)
    ubm = train_ubm(bg_feats, CONFIG["ubm_components"], CONFIG["ubm_iterations"], CONFIG["seed"])
    t_ubm = time.time() - t0
    (Xa, ya), (Xb, yb) = split_takes(te, manifest_features(te, cfg, jobs=args.jobs))
    probe_s = float(np.mean([x.shape[0] for x in Xb])) * cfg.frame_shift_ms / 1000

    t1 = time.time()
    mapc = GMMClassifier(top_c=CONFIG["top_c"]).fit_map(Xa, ya, ubm, CONFIG["relevance_factor"], CONFIG["adapt"])
    map_acc = identify(mapc, Xb, yb)
    t_map = time.time() - t1
    t1 = time.time()
    emc = GMMClassifier(CONFIG["em_components"], max_iter=20, init="kmeans", random_state=CONFIG["seed"],
                        jobs=args.jobs).fit(Xa, ya)
    em_acc = identify(emc, Xb, yb)
    t_em = time.time() - t1

    # verification: every B take against every enrolled speaker; score = mean per-frame LLR vs the UBM
    totals, frames = mapc.score_utterances(Xb)
    trials = [Trial(lab, i, lab == y) for i, y in enumerate(yb) for lab in mapc.labels_]  # probe i: row i
    llr = verification_scores(mapc, totals, frames, trials)
    is_target = np.array([t.target for t in trials])
    rep = verification_report(llr[is_target], llr[~is_target])
    if args.det:
        plot_det(llr[is_target], llr[~is_target], args.det, label="GMM-UBM MAP",
                 title=f"DET: {len(mapc.labels_)} speakers, {len(yb)} probes of ~{probe_s:.1f} s")
    extra = speaker_stages(ubm, bg_feats, bg, Xa, ya, Xb, yb, mapc)
    secs = time.time() - t0

    print(f"speaker ID: UBM on {len(bg)} files of 95 training speakers; {len(mapc.labels_)} test speakers enrolled on "
          f"takes A ({len(ya)} files), probes = takes B ({len(yb)} files, mean {probe_s:.2f} s of speech)")
    print(format_table([
        [f"GMM-UBM MAP (UBM {CONFIG['ubm_components']}, r={CONFIG['relevance_factor']:g}, top-{CONFIG['top_c']})",
         map_acc, f"{t_map:.1f}"],
        [f"per-speaker EM (K={CONFIG['em_components']})", em_acc, f"{t_em:.1f}"],
    ], ["system", "identification accuracy", "enroll+test s"]))
    print(f"verification ({rep['n_target']} target / {rep['n_nontarget']} nontarget trials): "
          f"EER {100 * rep['eer']:.2f} %, minDCF {rep['min_dcf']:.4f} (P_target 0.01, C_miss 10, C_fa 1)")
    print("score normalisation against the 95 training speakers (cohort): " + ", ".join(
        f"{n}-norm EER {100 * r['eer']:.2f} % minDCF {r['min_dcf']:.4f}" for n, r in extra["norms"].items()))
    o = extra["open_set"]
    print(f"open set: {o['n_enrolled']} speakers enrolled, probes of all {len(mapc.labels_)}: at the stored threshold "
          f"{o['threshold']:.3f}, {100 * o['enrolled_correct']:.2f} % of enrolled probes correct, "
          f"{100 * o['strangers_unknown']:.2f} % of strangers 'unknown' (best balance over thresholds "
          f"{100 * o['best_balance']:.2f} %)")
    print(f"enroll: {extra['enroll_added']} speakers added to a {extra['enroll_base']}-speaker model in "
          f"{extra['enroll_seconds']:.2f} s (MAP from the UBM + open-set recalibration); predictions equal training "
          f"all at once: {extra['enroll_equal']}")
    print(f"time {secs:.1f} s (UBM {t_ubm:.1f} s)" + (f"; DET curve saved to {args.det}" if args.det else ""))
    if args.json:
        print(json.dumps({"map_accuracy": map_acc, "em_accuracy": em_acc, "eer": rep["eer"], "min_dcf": rep["min_dcf"],
                          "n_speakers": len(mapc.labels_), "n_probes": len(yb), "probe_seconds": probe_s,
                          "config": CONFIG, "seconds": secs, "norms": extra["norms"], "open_set": extra["open_set"],
                          "enroll_seconds": extra["enroll_seconds"], "enroll_equal": extra["enroll_equal"]}))
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
