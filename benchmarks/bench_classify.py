#!/usr/bin/env python3
"""Scoring speed and cold start.

1. Scoring: speechgmm's stacked scoring (all classes' GMMs in one matrix product) against
   scikit-learn GaussianMixture.score_samples called once per class model with the SAME
   parameters -- over each utterance separately (how a per-file classifier calls it) and
   over all frames at once.  Also checks both give the same totals.
2. Cold start: wall time of `speechgmm classify FILE` with the bundled model in a fresh
   process (median of 15), next to `python -c pass` and `import numpy`.

usage: python benchmarks/bench_classify.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # recipes/_common.py: the harness
from _common import find_corpus

ROOT = Path(__file__).resolve().parent.parent


def sk_model(g):
    from sklearn.mixture import GaussianMixture

    m = GaussianMixture(g.n_components, covariance_type="diag")
    m.weights_, m.means_, m.covariances_ = g.weights_, g.means_, g.variances_
    m.precisions_cholesky_ = 1 / np.sqrt(g.variances_)
    return m


def wall(cmd, n=7):
    """Median wall time of ``cmd`` over ``n`` fresh processes, after one untimed run.  Python's
    bytecode cache is on, as in an installed package (pip compiles it at install time): the
    warm-up writes it for an editable checkout, and PYTHONDONTWRITEBYTECODE is dropped, which
    otherwise makes every start compile the package again (about 0.04 s here)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=env)
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=env)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=None)
    args = ap.parse_args()
    from speechgmm.classifier import GMMClassifier
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.manifest import read_manifest

    corpus = find_corpus(args.corpus)
    man = ROOT / "data_manifest" / "asr_course"
    tr = read_manifest(man / "course_train.csv", root=corpus)
    te = read_manifest(man / "test.csv", root=corpus)
    cfg = FeatureConfig.preset("default")
    Xtr = extract_files(tr.paths, cfg)[0]
    Xte = extract_files(te.paths, cfg)[0]
    n_frames = sum(x.shape[0] for x in Xte)
    print(f"scoring {len(Xte)} utterances ({n_frames} frames, 39 dims) against 11 digit GMMs")
    print(
        f"{'K':>4} | {'speechgmm s':>11} | {'sklearn per utt s':>17} {'x':>6} | "
        f"{'sklearn all frames s':>20} {'x':>6} | max |diff|"
    )
    for K in (16, 64):
        clf = GMMClassifier(K, max_iter=5, init="kmeans").fit(Xtr, tr.labels("label"))
        clf.score_utterances(Xte[:5])
        t = time.perf_counter()
        ours, _ = clf.score_utterances(Xte)
        t_ours = time.perf_counter() - t
        sks = [sk_model(g) for g in clf.models_]
        t = time.perf_counter()
        per = np.array([[m.score_samples(x).sum() for m in sks] for x in Xte])
        t_per = time.perf_counter() - t
        t = time.perf_counter()
        allf = np.concatenate(Xte)
        cols = [m.score_samples(allf) for m in sks]
        starts = np.concatenate([[0], np.cumsum([x.shape[0] for x in Xte])[:-1]])
        tot = np.add.reduceat(np.stack(cols, 1), starts, axis=0)
        t_all = time.perf_counter() - t
        diff = max(np.abs(ours - per).max(), np.abs(ours - tot).max())
        print(
            f"{K:>4} | {t_ours:11.3f} | {t_per:17.3f} {t_per / t_ours:6.1f} | "
            f"{t_all:20.3f} {t_all / t_ours:6.1f} | {diff:.2e}"
        )
    wav = "examples/male_AH_1A.wav"
    base = wall([sys.executable, "-c", "pass"], n=15)
    numpy_only = wall([sys.executable, "-c", "import numpy"], n=15)
    cold = wall([sys.executable, "-m", "speechgmm", "classify", wav], n=15)
    librosa_mfcc = "import librosa; librosa.feature.mfcc(y=__import__('numpy').zeros(8000, 'float32'), sr=8000)"
    imp = wall([sys.executable, "-c", librosa_mfcc], n=3)
    print(
        f"cold start: speechgmm classify {wav} (bundled model): {cold:.3f} s wall (median of 15); "
        f"python -c pass {base:.3f} s; python -c 'import numpy' {numpy_only:.3f} s; "
        f"for reference, importing librosa + first mfcc call {imp:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
