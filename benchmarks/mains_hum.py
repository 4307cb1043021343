#!/usr/bin/env python3
"""Gender and digits on TI test files under mains hum, with and without the front end's hum notches.

Every ``--step``-th TI test file is placed between 1 s pauses of -55 dBFS pink noise and gets a
mains buzz over its whole length: 50 or 60 Hz (alternating per file, 0.1-0.2 Hz off the nominal
frequency, as the mains drifts) with harmonics 2-8 at 1/k of the fundamental's amplitude and random
phases, at a hum-to-speech power ratio of -20, -10, 0 and +10 dB (the speech's RMS over the file
itself); a copy that would clip is scaled down to a peak of 0.99, as a recorder's gain would be.
Each copy is written to a WAV file and goes through ``speechgmm.features.extract_files``,
the path of ``classify`` and ``evaluate``: once as the front end runs it (strong hum, see
``speechgmm.audio.mains_hum``, is notched out in every preset with speech detection), and once with
the notches switched off (hum found, warned about, left in).  Models: the bundled gender model and a
digit model trained with the CLI defaults on the TI training speakers (or ``--digits MODEL``).

usage: python benchmarks/mains_hum.py [--step 4] [--digits M.npz] [--jobs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechgmm import audio  # noqa: E402
from speechgmm._util import default_corpora  # noqa: E402
from speechgmm.augment import pad_with_pauses  # noqa: E402
from speechgmm.features import extract_files  # noqa: E402
from speechgmm.manifest import read_manifest  # noqa: E402
from speechgmm.modelio import load_model  # noqa: E402

RATIOS_DB = (None, -20.0, -10.0, 0.0, 10.0)  # hum power over speech power; None: no hum
SR = 8000


def buzz(n: int, sr: int, i: int, mains: float) -> np.ndarray:
    """Unit-RMS mains buzz for file ``i``: ``mains`` (50 or 60 Hz) and harmonics 2-8 at 1/k, random phases."""
    rng = np.random.default_rng([i, 11])
    f0 = mains + rng.uniform(0.1, 0.2) * rng.choice([-1.0, 1.0])
    t = np.arange(n) / sr
    x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 9))
    return x / np.sqrt(np.mean(x**2))


def hummed(y: np.ndarray, i: int, ratio_db, mains: float = 50.0) -> np.ndarray:
    x = pad_with_pauses(y, SR, 1.0, 1.0, -55.0, seed=i, exponent=1.0).astype(np.float64)
    if ratio_db is not None:
        x += buzz(len(x), SR, i, mains) * np.sqrt(np.mean(np.square(y, dtype=np.float64))) * 10 ** (ratio_db / 20)
    return (x * min(1.0, 0.99 / np.max(np.abs(x)))).astype(np.float32)  # a recorder's gain: no clipping


def accuracy(mf, paths, truth, jobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feats, _ = extract_files(paths, mf.feature_config, jobs=jobs, errors="collect")
    ok = [k for k, x in enumerate(feats) if x is not None and len(x)]
    pred = mf.classifier.predict([feats[k] for k in ok]) if ok else []
    return sum(p == truth[k] for p, k in zip(pred, ok)) / len(truth), len(truth) - len(ok)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--step", type=int, default=4)
    ap.add_argument("--digits", type=Path, default=None, help="digit model (default: trained here, CLI defaults)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    corpus = (args.corpus or default_corpora()) / "asr_course"
    man = read_manifest(ROOT / "data_manifest" / "asr_course" / "test.csv", root=corpus)
    rows = list(range(0, len(man), args.step))
    tmp = Path(tempfile.mkdtemp(prefix="hum-"))
    models = {"gender": load_model(ROOT / "speechgmm" / "data" / "gender.npz")}
    digits = args.digits
    if digits is None:
        digits = tmp / "digits.npz"
        cmd = [sys.executable, "-m", "speechgmm", "train", str(ROOT / "data_manifest/asr_course/train.csv")]
        cmd += ["--root", str(corpus), "--label-column", "digit", "-o", str(digits), "--jobs", str(args.jobs)]
        subprocess.run(cmd, check=True, capture_output=True)
    models["digit"] = load_model(digits)
    t0 = time.time()
    signals = [audio.load_audio(man.paths[k], sr=SR)[0] for k in rows]
    print(f"{len(rows)} TI test files (every {args.step}th), 1 s pauses of -55 dBFS pink noise, mains buzz over all")
    heads = [f"{t} {s}" for t in models for s in ("notched", "left in")]
    print(f"{'hum / speech (dB)':>18} " + " ".join(f"{h:>22}" for h in heads))
    for ratio in RATIOS_DB:
        paths = []
        for n, (i, y) in enumerate(zip(rows, signals)):
            p = tmp / f"{'clean' if ratio is None else int(ratio)}_{i}.wav"
            sf.write(p, hummed(y, i, ratio, 50.0 if n % 2 == 0 else 60.0), SR, subtype="FLOAT")
            paths.append(p)
        cells = []
        for task, mf in models.items():
            truth = [man.labels(task)[k] for k in rows]
            for notched in (True, False):
                if notched:
                    acc, lost = accuracy(mf, paths, truth, args.jobs)
                else:
                    with mock.patch.object(audio.HumFilter, "found", classmethod(lambda cls, y, sr: None)):
                        acc, lost = accuracy(mf, paths, truth, args.jobs)
                cells.append(f"{acc:.4f}" + (f" ({lost} no speech)" if lost else ""))
        label = "no hum" if ratio is None else f"{ratio:+.0f}"
        print(f"{label:>18} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    print(f"time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
