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
    print(f"time {secs:.1f} s (UBM {t_ubm:.1f} s)" + (f"; DET curve saved to {args.det}" if args.det else ""))
    if args.json:
        print(json.dumps({"map_accuracy": map_acc, "em_accuracy": em_acc, "eer": rep["eer"], "min_dcf": rep["min_dcf"],
                          "n_speakers": len(mapc.labels_), "n_probes": len(yb), "probe_seconds": probe_s,
                          "config": CONFIG, "seconds": secs}))
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
