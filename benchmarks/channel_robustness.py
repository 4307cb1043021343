#!/usr/bin/env python3
"""Does a front-end choice hold up when the recording channel changes?

The corpus is one recording setup; users' audio is not.  This trains gender and digit
classifiers on clean training audio and tests them on audio passed through simulated
channels, for front ends with per-utterance cepstral mean normalisation (CMN, the default),
mean and variance normalisation (CMVN), and neither; and for CMN with multi-condition
training (``speechgmm train --augment noise,reverb``: a noisy and a reverberant copy of every
training file, drawn independently of the test conditions below; ``--augment codec``: an MP3
copy at 22-49 kbps):

- ``clean``: unchanged;
- ``gain -20 dB``: a quieter recording;
- ``bright mic``: first-order tilt ``y[n] = x[n] - 0.7 x[n-1]`` (thin, close-talking sound);
- ``muffled``: 2nd-order Butterworth low-pass at 1.5 kHz (a cheap headset, a mic in a pocket);
- ``telephone``: 4th-order Butterworth band-pass 300-3400 Hz;
- ``noise 20 dB``: white noise at 20 dB SNR (seeded);
- ``reverb``: a synthetic room impulse response, RT60 0.3 s (seeded exponentially decaying noise);
- ``mp3``: encoded and decoded by libsndfile's MP3 codec (LAME / mpg123) at a constant bit rate of about
  22 kbps, the decoder's padding included, as a user's mp3 file would be.

By default the split is 2-fold cross-validation over the TRAINING speakers (speaker-disjoint
halves), so the result may inform the defaults without touching the test speakers;
``--split test`` trains on all training speakers and tests on the test speakers instead.

usage: python benchmarks/channel_robustness.py [--corpus DIR] [--split cv|test] [--components K] [--files N]
                                              [--systems 'A;B'] [--channels 'A;B']
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

from speechgmm.audio import load_audio
from speechgmm.augment import augment, mp3_round_trip
from speechgmm.classifier import GMMClassifier
from speechgmm.errors import AudioError
from speechgmm.features import FeatureConfig, mfcc
from speechgmm.manifest import read_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # recipes/_common.py: the harness
from _common import find_corpus, format_table

ROOT = Path(__file__).resolve().parent.parent

SR = 8000


def _rms(y):
    return float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))


def _same_level(y, ref):
    """``y`` rescaled to the RMS of ``ref`` (a channel's colour, not its loudness), clipped to [-1, 1]."""
    return np.clip(y * (_rms(ref) / max(_rms(y), 1e-12)), -1, 1).astype(np.float32)


def _reverb_ir(rt60=0.3, seed=0):
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    ir = np.random.default_rng(seed).standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir[0] = 1.0  # direct path
    return ir / np.sqrt(np.sum(ir**2))


CHANNELS = {
    "clean": lambda y, i: y,
    "gain -20 dB": lambda y, i: (y * 0.1).astype(np.float32),
    "bright mic": lambda y, i: _same_level(signal.lfilter([1.0, -0.7], [1.0], y), y),
    "muffled": lambda y, i: _same_level(signal.sosfilt(signal.butter(2, 1500, "low", fs=SR, output="sos"), y), y),
    "telephone": lambda y, i: _same_level(
        signal.sosfilt(signal.butter(4, [300, 3400], "bandpass", fs=SR, output="sos"), y), y
    ),
    "noise 20 dB": lambda y, i: np.clip(
        y + np.random.default_rng(i).standard_normal(len(y)) * _rms(y) * 0.1, -1, 1
    ).astype(np.float32),
    "reverb": lambda y, i: _same_level(signal.fftconvolve(y, _reverb_ir())[: len(y)], y),
    "mp3 22 kbps": lambda y, i: mp3_round_trip(y, SR, 0.9, align=False),
}

#: (front end, training-data augmentation) per row
SYSTEMS = {
    "CMN (default preset)": (FeatureConfig.preset("default"), ()),
    "CMN + --augment noise,reverb": (FeatureConfig.preset("default"), ("noise", "reverb")),
    "CMN + --augment codec": (FeatureConfig.preset("default"), ("codec",)),
    "CMVN": (FeatureConfig(cvn=True), ()),
    "no CMN": (FeatureConfig(cmn=False), ()),
}


def _parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="folder holding asr_course/ (default $SPEECHGMM_CORPORA or ../shared/corpora)")
    ap.add_argument("--split", choices=["cv", "test"], default="cv")
    ap.add_argument("--components", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--files", type=int, default=0, help="use every n-th training file to get about this many (quick runs)"
    )
    ap.add_argument("--systems", help=f"';'-separated subset of: {'; '.join(SYSTEMS)} (default: all)")
    ap.add_argument("--channels", help=f"';'-separated subset of: {'; '.join(CHANNELS)} (default: all)")
    return ap


def _training_data(args, corpus, man):
    """The training manifest (every n-th file with --files), its signals and gender/digit labels."""
    tr = read_manifest(man / "train.csv", root=corpus)
    if args.files:
        tr = tr.subset(list(range(0, len(tr.paths), max(1, len(tr.paths) // args.files))))
    signals = [load_audio(p, sr=SR)[0] for p in tr.paths]
    labels = {t: np.array(tr.labels(t)) for t in ("gender", "digit")}
    return tr, signals, labels


def _cv_split(tr, signals, labels):
    """2-fold speaker-disjoint cross-validation over the training speakers."""
    speakers = sorted(set(tr.labels("speaker")))
    half = {s: i % 2 for i, s in enumerate(speakers)}
    fold = np.array([half[s] for s in tr.labels("speaker")])
    folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in (0, 1)]
    return signals, labels, folds, "2-fold CV over the 95 training speakers"


def _test_split(corpus, man, signals, labels):
    """All training speakers against the test speakers."""
    te = read_manifest(man / "test.csv", root=corpus)
    test_signals = [load_audio(p, sr=SR)[0] for p in te.paths]
    test_labels = {t: np.array(te.labels(t)) for t in labels}
    folds = [(np.arange(len(signals)), np.arange(len(test_signals)))]
    return test_signals, test_labels, folds, "training speakers -> 73 unseen test speakers"


def _mfcc(y, cfg):
    """Features, or None when the front end finds no speech (a 0.2 s end-pointed word can look
    like steady noise to the speech detector)."""
    try:
        return mfcc(y, SR, cfg)
    except AudioError:
        return None


def _subset(text, table, what):
    """The entries of ``table`` named in ';'-separated ``text`` (all if None), in table order."""
    if not text:
        return dict(table)
    names = [t.strip() for t in text.split(";") if t.strip()]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(table)})")
    return {k: v for k, v in table.items() if k in names}


def _accuracies(args, task, labels, test_labels, folds, train_X, copies, test_X):
    """Accuracy per channel of one task's classifiers over the folds, formatted."""
    correct = {name: 0 for name in test_X}
    total = 0
    for tr_idx, te_idx in folds:
        clf = GMMClassifier(args.components, max_iter=20, init="kmeans", random_state=0, jobs=args.jobs)
        pairs = [(x[i], labels[task][i]) for x in [train_X, *copies] for i in tr_idx if x[i] is not None]
        clf.fit([x for x, _ in pairs], [label for _, label in pairs])
        total += len(te_idx)
        for name in test_X:
            # a file in which no speech is found counts as wrong
            ok = [i for i in te_idx if test_X[name][i] is not None]
            pred = np.array(clf.predict([test_X[name][i] for i in ok]))
            correct[name] += int(np.sum(pred == test_labels[task][ok]))
    return [f"{correct[n] / total:.4f}" for n in test_X]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    systems = _subset(args.systems, SYSTEMS, "system")
    channels = _subset(args.channels, CHANNELS, "channel")
    corpus = find_corpus(args.corpus)
    man = ROOT / "data_manifest" / "asr_course"
    tr, signals, labels = _training_data(args, corpus, man)
    if args.split == "cv":
        test_signals, test_labels, folds, where = _cv_split(tr, signals, labels)
    else:
        test_signals, test_labels, folds, where = _test_split(corpus, man, signals, labels)
    distorted = {name: [f(y, i) for i, y in enumerate(test_signals)] for name, f in channels.items()}

    t0 = time.time()
    rows = []
    for fe_name, (cfg, kinds) in systems.items():
        train_X = [_mfcc(y, cfg) for y in signals]
        copies = [[_mfcc(augment(y, SR, kind, seed=0, index=i), cfg) for i, y in enumerate(signals)] for kind in kinds]
        test_X = {name: [_mfcc(y, cfg) for y in ys] for name, ys in distorted.items()}
        lost = {name: sum(x is None for x in xs) for name, xs in test_X.items() if any(x is None for x in xs)}
        if lost:
            print(f"  {fe_name}: test files with no speech detected (counted wrong): {lost}", file=sys.stderr)
        for task in ("gender", "digit"):
            acc = _accuracies(args, task, labels, test_labels, folds, train_X, copies, test_X)
            rows.append([task, fe_name] + acc)
            print(f"  {task} / {fe_name} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"accuracy under simulated channels; {where}; K={args.components}, 20 EM iterations")
    print(format_table(rows, ["task", "front end"] + list(channels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
