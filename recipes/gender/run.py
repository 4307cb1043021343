#!/usr/bin/env python3
"""Gender detection on unseen speakers, and the bundled default model.

Stages
  0. data      data_manifest/asr_course/{train,test}.csv (95 / 73 speakers, disjoint)
  1. features  speechgmm front end (preset "default": 39-dim MFCC with per-utterance CMN --
               CMN keeps the model usable on other microphones; on this corpus it cost
               ~0.2 points in cross-validation, within noise)
  2. train     one GMM per gender (male / female), K=64, k-means++ init, 20 iterations, seed 0,
               on all 2,072 files of the training speakers
  3. evaluate  on all 1,606 files of the 73 test speakers

--out writes the model (the bundled default model is speechgmm/data/gender.npz:
`python recipes/gender/run.py --out speechgmm/data/gender.npz` regenerates it bit for bit).

usage: python recipes/gender/run.py [--corpus DIR] [--json] [--out MODEL.npz] [--jobs N]
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "recipes"))  # the shared harness, recipes/_common.py

from speechgmm.classifier import GMMClassifier  # noqa: E402
from speechgmm.features import FeatureConfig  # noqa: E402
from speechgmm.manifest import read_manifest  # noqa: E402
from speechgmm.metrics import classification_report  # noqa: E402
from speechgmm.modelio import save_model  # noqa: E402
from speechgmm.pipeline import manifest_features  # noqa: E402

from _common import find_corpus, format_table, recipe_parser, run_script  # noqa: E402

CONFIG = {"preset": "default", "components": 64, "iterations": 20, "init": "kmeans", "seed": 0}


def main(argv=None) -> int:
    ap = recipe_parser(__doc__)
    ap.add_argument("--out", help="also save the trained model here")
    args = ap.parse_args(argv)
    t0 = time.time()
    corpus = find_corpus(args.corpus)
    man = ROOT / "data_manifest" / "asr_course"
    tr = read_manifest(man / "train.csv", root=corpus)
    te = read_manifest(man / "test.csv", root=corpus)
    # the front end this model has always had: the "default" preset as it was before speech detection
    cfg = FeatureConfig.preset(CONFIG["preset"]).replace(vad=False, vad_method="peak")
    clf = GMMClassifier(CONFIG["components"], max_iter=CONFIG["iterations"], init=CONFIG["init"],
                        random_state=CONFIG["seed"], jobs=args.jobs)
    clf.fit(manifest_features(tr, cfg, jobs=args.jobs), tr.labels("gender"))
    t_train = time.time() - t0
    pred = clf.predict(manifest_features(te, cfg, jobs=args.jobs))
    rep = classification_report(te.labels("gender"), pred, clf.labels_)
    if args.out:
        # reproducible file: fixed date unless SOURCE_DATE_EPOCH says otherwise; manifest named relative to the repo
        os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
        save_model(args.out, clf, cfg, {
            "label_column": "gender", "manifest": "data_manifest/asr_course/train.csv", "manifest_sha256": tr.sha256,
            "n_files": len(tr), "training": dict(CONFIG, method="em", recipe="recipes/gender/run.py")})
    secs = time.time() - t0
    rows = [[lab, rep["per_class"][lab]["support"], rep["per_class"][lab]["recall"], rep["per_class"][lab]["precision"]]
            for lab in rep["labels"]]
    print(f"gender: train {len(tr)} files / 95 speakers -> test {len(te)} files / 73 unseen speakers")
    print(format_table(rows, ["gender", "test files", "recall", "precision"]))
    print(f"accuracy {rep['accuracy']:.4f} ({round(rep['accuracy'] * rep['n'])}/{rep['n']}); "
          f"K={CONFIG['components']}, preset {CONFIG['preset']}; time {secs:.1f} s (training {t_train:.1f} s)")
    if args.out:
        print(f"model saved to {args.out}")
    if args.json:
        print(json.dumps({"accuracy": rep["accuracy"], "n": rep["n"],
                          "recall": {k: v["recall"] for k, v in rep["per_class"].items()},
                          "confusion": rep["confusion"], "labels": rep["labels"], "config": CONFIG, "seconds": secs}))
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
