#!/usr/bin/env python3
"""Choose training defaults by 2-fold cross-validation over the TRAINING speakers only.

The 95 training speakers of asr_course are split into two speaker-disjoint halves; each
configuration is trained on one half and tested on the other (and vice versa).  The test
speakers are never touched.  Prints mean accuracy per (task, preset, K, init).

usage: python benchmarks/choose_defaults.py [--corpus DIR] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from speechgmm._util import default_corpora
from speechgmm.classifier import GMMClassifier
from speechgmm.features import FeatureConfig, extract_files

ROOT = Path(__file__).resolve().parent.parent


def _speaker_folds(rows):
    """Fold (0 or 1) of each row: alternate sorted training speakers, speaker-disjoint halves."""
    speakers = sorted({r["speaker"] for r in rows})
    fold = {s: i % 2 for i, s in enumerate(speakers)}
    return np.array([fold[r["speaker"]] for r in rows])


def _cv_accuracy(feats, y, f, K, init, jobs):
    """Mean accuracy of the 2-fold cross-validation of one configuration."""
    accs = []
    for k in (0, 1):
        tr, te = np.flatnonzero(f != k), np.flatnonzero(f == k)
        clf = GMMClassifier(K, max_iter=20, init=init, random_state=0, jobs=jobs)
        clf.fit([feats[i] for i in tr], [y[i] for i in tr])
        pred = clf.predict([feats[i] for i in te])
        accs.append(np.mean([p == y[i] for p, i in zip(pred, te)]))
    return np.mean(accs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    root = (args.corpus or default_corpora()) / "asr_course"
    rows = list(csv.DictReader(open(ROOT / "data_manifest/asr_course/train.csv")))
    f = _speaker_folds(rows)
    Ks = [4, 8, 16] if args.quick else [4, 8, 16, 32, 64]
    print(f"{'task':<8} {'preset':<8} {'init':<7} {'K':>3} {'cv_acc':>7} {'s':>5}")
    for preset in ("default", "speaker"):
        cfg = FeatureConfig.preset(preset)
        feats = extract_files([root / r["path"] for r in rows], cfg, jobs=args.jobs)[0]
        for task in ("digit", "gender"):
            y = [r[task] for r in rows]
            for init in ("split", "kmeans"):
                for K in Ks:
                    t0 = time.time()
                    acc = _cv_accuracy(feats, y, f, K, init, args.jobs)
                    print(
                        f"{task:<8} {preset:<8} {init:<7} {K:>3} {acc:7.4f} {time.time() - t0:5.1f}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
