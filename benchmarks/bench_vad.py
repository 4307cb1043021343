#!/usr/bin/env python3
"""Speech detection: frame accuracy on padded real audio and noise bursts, and speed.

Test material: TI test files (end-pointed digits; every ``--step``-th file), each placed between
pauses of 1-2 s of noise (white or pink) at -60 or -45 dBFS, as an ordinary recording would be.
The truth is known: a frame is speech when its centre falls inside the inserted file.
Conditions: ``-60``, ``-45`` (pauses at that level), ``-45 gain-20`` (the whole file 20 dB
quieter), ``burst`` (-45 pauses plus a 0.3-0.8 s burst of white/pink/brown noise at -25..-10
dBFS in one pause).  Per method and condition: missed speech (share of speech frames
dropped), false alarms (share of pause frames kept) and, for bursts, the share of burst frames
kept.  Speed: seconds per hour of 8 kHz audio, and the cold start (import + first call).

usage: python benchmarks/bench_vad.py [--step 8] [--methods energy,vad,webrtc]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechgmm._util import default_corpora  # noqa: E402
from speechgmm.audio import load_audio  # noqa: E402
from speechgmm.augment import noise_burst, pad_with_pauses  # noqa: E402
from speechgmm.vad import VadConfig, detect_speech  # noqa: E402

SR = 8000
WIN, HOP = 200, 80


def truth(n_samples: int, a: int, b: int) -> np.ndarray:
    n = 1 + (n_samples - WIN) // HOP
    c = np.arange(n) * HOP + WIN // 2
    return (c >= a) & (c < b)


def make_item(y, i, cond):
    """(signal, speech truth, burst truth) for file ``i`` in condition ``cond``."""
    rng = np.random.default_rng([i, 11])
    before, after = rng.uniform(1.0, 2.0, 2)
    level = -60.0 if cond == "-60" else -45.0
    x = pad_with_pauses(y, SR, before, after, level, seed=i, exponent=float(i % 2))
    a = int(round(before * SR))
    b = a + len(y)
    burst = np.zeros(len(x), dtype=bool)
    if cond == "burst":
        n = int(rng.uniform(0.3, 0.8) * SR)
        where = int(rng.uniform(0.05, max(0.06, before - 0.9)) * SR) if i % 2 else b + int(0.1 * SR)
        where = min(where, len(x) - n)
        x[where : where + n] += noise_burst(n, SR, rng.uniform(-25, -10), rng, exponent=float(i % 3))
        burst[where : where + n] = True
    if cond == "-45 gain-20":
        x = x * np.float32(0.1)
    t = truth(len(x), a, b)
    nb = len(t)
    c = np.arange(nb) * HOP + WIN // 2
    return np.clip(x, -1, 1).astype(np.float32), t, burst[c]


def peak_energy_vad(x):
    """The old ``speaker`` preset VAD: frames within 40 dB of the loudest frame."""
    from speechgmm.features import frame_signal

    F = frame_signal(x, WIN, HOP).astype(np.float64)
    F = F - F.mean(axis=1, keepdims=True)
    db = 10 * np.log10(np.maximum((F**2).mean(axis=1), 1e-12))
    return (db >= db.max() - 40) & (db > -60)


def webrtc_vad(x, mode=2):
    import webrtcvad

    v = webrtcvad.Vad(mode)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    n10 = len(pcm) // HOP
    dec = np.array([v.is_speech(pcm[k * HOP : (k + 1) * HOP].tobytes(), SR) for k in range(n10)], dtype=bool)
    n = 1 + (len(x) - WIN) // HOP
    # our frame t spans 10 ms blocks t, t+1, t+2 (25 ms): speech if the middle block is
    idx = np.minimum(np.arange(n) + 1, n10 - 1)
    return dec[idx]


METHODS = {
    "peak-40dB (old speaker preset)": peak_energy_vad,
    "adaptive energy": lambda x: detect_speech(x, SR, VadConfig(min_voiced_frames=0)),
    "adaptive energy + voicing (default)": lambda x: detect_speech(x, SR),
    "webrtcvad mode 2": webrtc_vad,
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=8, help="use every STEP-th TI test file")
    args = ap.parse_args(argv)
    root = default_corpora() / "asr_course"
    rows = list(csv.DictReader(open(ROOT / "data_manifest" / "asr_course" / "test.csv")))[:: args.step]
    ys = [load_audio(root / r["path"], sr=SR)[0] for r in rows]
    conds = ["-60", "-45", "-45 gain-20", "burst"]
    items = {c: [make_item(y, i, c) for i, y in enumerate(ys)] for c in conds}
    methods = dict(METHODS)
    try:
        import webrtcvad  # noqa: F401
    except ImportError:
        methods.pop("webrtcvad mode 2")
        print("(webrtcvad not installed: pip install webrtcvad-wheels)")
    print(f"{len(ys)} TI test files per condition; missed speech / false alarms in pauses [/ burst frames kept]")
    print(f"| method | {' | '.join(conds)} | s per hour | cold start s |")
    print("|---|" + "---|" * (len(conds) + 2))
    hour = np.concatenate([it[0] for it in items["burst"]])
    reps = int(np.ceil(3600 * SR / len(hour)))
    for name, fn in methods.items():
        cells = []
        for c in conds:
            miss = fa = fb = ns = nn = nb = 0
            for x, t, bt in items[c]:
                m = fn(x)
                miss += np.count_nonzero(t & ~m)
                ns += np.count_nonzero(t)
                fa += np.count_nonzero(~t & ~bt & m)
                nn += np.count_nonzero(~t & ~bt)
                fb += np.count_nonzero(bt & m)
                nb += np.count_nonzero(bt)
            cell = f"{miss / ns:.3f} / {fa / nn:.3f}" + (f" / {fb / nb:.3f}" if nb else "")
            cells.append(cell)
        t0 = time.perf_counter()
        fn(hour)
        dt = (time.perf_counter() - t0) * reps
        cold = ""
        if "default" in name:
            code = (
                "import time; t=time.perf_counter(); import numpy as np; from speechgmm.vad import detect_speech; "
                "detect_speech(np.zeros(8000, np.float32) + 1e-3, 8000); print(time.perf_counter()-t)"
            )
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
            cold = f"{float(out.stdout):.3f}"
        print(f"| {name} | {' | '.join(cells)} | {dt:.2f} | {cold} |")


if __name__ == "__main__":
    main()
