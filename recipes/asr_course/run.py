#!/usr/bin/env python3
"""Reproduce the nwpuaslp ASR_Course "03-GMM-EM" assignment, then beat it.

Two systems, both tested on the course's 110 test utterances (unseen speakers):
  assignment  the homework exactly: the course's Kaldi features (feats.ark, read with kaldiio),
              one diagonal GMM per digit (11 classes: Z 1-9 O), K=5, 5 EM iterations, highest
              total log-likelihood wins; trained on the course's 330 utterances; mean/min over 5 seeds
  best        speechgmm's own front end from the wavs with its defaults (K=64, k-means++ init,
              20 iterations; chosen by cross-validation on the training speakers, see
              benchmarks/choose_defaults.py), trained on all 2,072 files of the training speakers
              (a superset of the course's 330)

Stages (--stage N / --stop-stage N; each writes under --exp DIR, default recipes/asr_course/exp)
  0. data      the lists data_manifest/asr_course/{course_train,course_test,train}.csv with absolute
               audio paths -> EXP/data/*.csv, and the corpus folder -> EXP/data/corpus
  1. features  the course's Kaldi features of its 330 + 110 utterances, and speechgmm's front end
               (preset "default") of the 2,072 training files and the 110 test files
               -> EXP/features/{course_train,course_test,train,test}.{ark,scp}, config.json
  2. train     10 assignment classifiers (2 inits x 5 seeds) and the best system
               -> EXP/train/assignment_{split,kmeans}_seed{0..4}.npz, best.npz
  3. evaluate  accuracies and errors -> EXP/evaluate/results.json (the --json line)

usage: python recipes/asr_course/run.py [--corpus DIR] [--json] [--jobs N] [--stage N] [--stop-stage N] [--exp DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from speechgmm.classifier import GMMClassifier
from speechgmm.features import FeatureConfig
from speechgmm.kaldi import read_feats, write_feats
from speechgmm.manifest import read_manifest
from speechgmm.modelio import load_model, save_model
from speechgmm.pipeline import DEFAULTS, manifest_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: the shared harness
from _common import MANIFESTS, Stages, find_corpus, format_table, recipe_parser, run_script, write_data, write_json

STAGES = ("data", "features", "train", "evaluate")
SEEDS = [0, 1, 2, 3, 4]
INITS = ("split", "kmeans")
LISTS = {"course_train": "label", "course_test": "label", "train": "digit"}  # list -> its label column


def accuracy(clf, X, y) -> float:
    return float(np.mean([p == t for p, t in zip(clf.predict(X), y)]))


def stage_data(st: Stages, corpus_arg) -> None:
    corpus = find_corpus(corpus_arg)
    d = st.dir(0)
    for name, column in LISTS.items():
        write_data(read_manifest(MANIFESTS / f"{name}.csv", root=corpus), d / f"{name}.csv", [column])
    (d / "corpus").write_text(f"{corpus.resolve()}\n")


def data_list(st: Stages, name: str):
    return read_manifest(st.need(st.dir(0) / f"{name}.csv"))


def stage_features(st: Stages, jobs: int) -> None:
    d = st.dir(1)
    gdir = Path(st.need(st.dir(0) / "corpus").read_text().strip()) / "03-GMM-EM"
    for part in ("train", "test"):
        kaldi = read_feats(gdir / part / "feats.scp")
        utts = data_list(st, f"course_{part}").utts
        write_feats(d / f"course_{part}.ark", ((u, kaldi[u]) for u in utts))
    cfg = FeatureConfig.preset("default")
    for name, src in (("train", "train"), ("test", "course_test")):
        man = data_list(st, src)
        write_feats(d / f"{name}.ark", zip(man.utts, manifest_features(man, cfg, jobs=jobs, desc=name)))
    write_json(d / "config.json", cfg.to_dict())


def features(st: Stages, name: str, man) -> list:
    feats = read_feats(st.need(st.dir(1) / f"{name}.scp"))
    return [feats[u] for u in man.utts]


def stage_train(st: Stages, jobs: int) -> None:
    d = st.dir(2)
    tr = data_list(st, "course_train")
    Xtr, ytr = features(st, "course_train", tr), tr.labels("label")
    for init in INITS:
        for s in SEEDS:
            clf = GMMClassifier(5, max_iter=5, tol=0, init=init, random_state=s).fit(Xtr, ytr)
            save_model(
                d / f"assignment_{init}_seed{s}.npz",
                clf,
                None,
                {
                    "label_column": "label",
                    "training": {
                        "recipe": "recipes/asr_course/run.py",
                        "init": init,
                        "seed": s,
                        "components": 5,
                        "iterations": 5,
                    },
                },
            )
    full = data_list(st, "train")
    cfg = FeatureConfig.from_dict(json.loads(st.need(st.dir(1) / "config.json").read_text()))
    clf = GMMClassifier(
        DEFAULTS["components"],
        max_iter=DEFAULTS["iterations"],
        init=DEFAULTS["init"],
        random_state=DEFAULTS["seed"],
        jobs=jobs,
    )
    clf.fit(features(st, "train", full), full.labels("digit"))
    save_model(d / "best.npz", clf, cfg, {"label_column": "digit", "training": dict(DEFAULTS, method="em")})


def stage_evaluate(st: Stages, jobs: int) -> dict:
    te = data_list(st, "course_test")
    yte = te.labels("label")
    Xte = features(st, "course_test", te)
    results, rows = {}, []
    for init in INITS:
        results[init] = [
            accuracy(load_model(st.need(st.dir(2) / f"assignment_{init}_seed{s}.npz")).classifier, Xte, yte)
            for s in SEEDS
        ]
        rows.append(
            [
                f"assignment: Kaldi feats, K=5, 5 iter, {init} init",
                "330 course utts",
                float(np.mean(results[init])),
                min(results[init]),
            ]
        )
    clf = load_model(st.need(st.dir(2) / "best.npz")).classifier
    clf.jobs = jobs
    pred = clf.predict(features(st, "test", te))
    best = float(np.mean([p == t for p, t in zip(pred, yte)]))
    errors = [f"{u}:{t}->{p}" for u, t, p in zip(te.utts, yte, pred) if t != p]
    rows.append(
        [
            f"best: speechgmm MFCC, K={DEFAULTS['components']}, {DEFAULTS['iterations']} iter, {DEFAULTS['init']} init",
            "2,072 train-speaker files",
            best,
            best,
        ]
    )
    print("ASR_Course 03-GMM-EM: 11 digits, test = the course's 110 utterances (unseen speakers)")
    print(format_table(rows, ["system", "trained on", "accuracy", "min over seeds"]))
    print("published (course): diagonal K=5 0.973-0.982; full covariance 0.991; course DNN 0.9818")
    if errors:
        print("best-system errors: " + ", ".join(errors))
    res = {
        "assignment_accuracy": float(np.mean(results["split"])),
        "assignment_accuracy_min": min(results["split"]),
        "assignment_init": "split",
        "assignment_accuracy_kmeans": float(np.mean(results["kmeans"])),
        "assignment_accuracy_kmeans_min": min(results["kmeans"]),
        "best_accuracy": best,
        "best_errors": errors,
        "n_test": len(yte),
        "seeds": SEEDS,
    }
    write_json(st.dir(3) / "results.json", res)
    return res


def main(argv=None) -> int:
    ap = recipe_parser(__doc__, STAGES, "asr_course")
    args = ap.parse_args(argv)
    st = Stages(args, STAGES)
    if st(0):
        stage_data(st, args.corpus)
    if st(1):
        stage_features(st, args.jobs)
    if st(2):
        stage_train(st, args.jobs)
    res = stage_evaluate(st, args.jobs) if st(3) else None
    return st.finish(res, args.json)


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
