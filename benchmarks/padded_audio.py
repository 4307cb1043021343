#!/usr/bin/env python3
"""Accuracy on end-pointed vs padded TI test files (pauses around the speech, as users record).

Every TI test file (or every ``--step``-th) is scored as is, and with 1-2 s of noise before and
after it at -60 dBFS (a quiet room) and at -45 dBFS (room tone); white or pink noise, drawn per
file from a fixed seed.  The last condition is the -45 dBFS file as a low-bit-rate MP3 (about 22
kbps at 8 kHz, decoded with its delay: digital silence in front), as a voice recorder or phone
app might save it.  Models: a digit model trained with the CLI defaults on the TI training
speakers (``speechgmm train data_manifest/asr_course/train.csv --label-column digit``; trained
here unless ``--digits MODEL`` is given) and the bundled gender model (or ``--gender MODEL``).

usage: python benchmarks/padded_audio.py [--step 1] [--digits M.npz] [--gender M.npz] [--jobs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechgmm._util import default_corpora  # noqa: E402
from speechgmm.audio import load_audio  # noqa: E402
from speechgmm.augment import mp3_round_trip, pad_with_pauses  # noqa: E402
from speechgmm.errors import AudioError  # noqa: E402
from speechgmm.features import mfcc  # noqa: E402
from speechgmm.manifest import read_manifest  # noqa: E402
from speechgmm.modelio import load_model  # noqa: E402

CONDITIONS = ("end-pointed", "pauses -60 dBFS", "pauses -45 dBFS", "pauses -45 dBFS, MP3 22 kbps")


def padded(y, sr, i, cond):
    if cond == "end-pointed":
        return y
    rng = np.random.default_rng([i, 5])
    before, after = rng.uniform(1.0, 2.0, 2)
    x = pad_with_pauses(y, sr, before, after, -60.0 if "-60" in cond else -45.0, seed=i, exponent=float(i % 2))
    return mp3_round_trip(x, sr, 0.9, align=False) if "MP3" in cond else x


def accuracy(mf, signals, truth):
    clf, cfg = mf.classifier, mf.feature_config
    feats, ok = [], []
    for k, y in enumerate(signals):
        try:
            feats.append(mfcc(y, cfg.sr, cfg))
            ok.append(k)
        except AudioError:
            pass
    pred = clf.predict(feats)
    right = sum(p == truth[k] for p, k in zip(pred, ok))
    return right / len(truth), len(truth) - len(ok)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--digits", help="digit model (default: train one with the CLI defaults; 'none' skips digits)")
    ap.add_argument("--gender", help="gender model (default: the bundled one)")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.time()
    corpus = default_corpora() / "asr_course"
    man = ROOT / "data_manifest" / "asr_course"
    tmp = tempfile.TemporaryDirectory()
    digits = args.digits
    if digits == "none":
        digits = None
    elif not digits:
        digits = str(Path(tmp.name) / "digits.npz")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "speechgmm",
                "train",
                str(man / "train.csv"),
                "--label-column",
                "digit",
                "--root",
                str(corpus),
                "-o",
                digits,
                "--jobs",
                str(args.jobs),
            ],
            check=True,
            cwd=ROOT,
        )
    gender = args.gender or str(ROOT / "speechgmm" / "data" / "gender.npz")
    te = read_manifest(man / "test.csv", root=corpus)
    idx = list(range(0, len(te), args.step))
    ys = [load_audio(te.paths[i], sr=8000)[0] for i in idx]
    models = {}
    if digits:
        models["digits (CLI defaults)"] = (load_model(digits), [te.labels("digit")[i] for i in idx])
    models["gender (" + ("bundled" if not args.gender else Path(gender).name) + ")"] = (
        load_model(gender),
        [te.labels("gender")[i] for i in idx],
    )
    print(f"{len(idx)} TI test files (73 unseen speakers); accuracy [files with no speech detected]")
    print("| model | " + " | ".join(CONDITIONS) + " |")
    print("|---|" + "---|" * len(CONDITIONS))
    for name, (mf, truth) in models.items():
        cells = []
        for cond in CONDITIONS:
            acc, bad = accuracy(mf, [padded(y, 8000, i, cond) for i, y in zip(idx, ys)], truth)
            cells.append(f"{acc:.4f}" + (f" [{bad}]" if bad else ""))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
