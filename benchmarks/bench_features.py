"""Feature-extraction throughput: speechgmm vs librosa vs kaldi-native-fbank, side by side.

All three compute 13 MFCC + deltas + delta-deltas (39 dims) with the same framing
(8 kHz, 25 ms / 10 ms, 23 mel bands from 20 Hz, 256-point FFT) on the same real corpus
utterances, already decoded into memory (decoding cost is the same for all and reported
separately).  One process, BLAS/OpenMP threads pinned to 1.  Each contender is warmed up
(librosa's numba JIT) and timed best-of-``--repeat``.  Throughput is "x real time": seconds
of audio processed per second of CPU wall time.

- speechgmm: ``speechgmm.features.mfcc`` with the ``asr_course`` preset (incl. CMN).
- librosa: ``librosa.feature.mfcc`` (center=False, hamming window) + two ``librosa.feature.delta``.
- kaldi-native-fbank: ``OnlineMfcc`` (Kaldi options, dither 0) + the same add-deltas as ours.

Run:  python benchmarks/bench_features.py [--files N] [--repeat R]
"""

from __future__ import annotations

import os

# one BLAS/OpenMP thread, set before numpy loads
os.environ.update(
    dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"), "1")
)

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from speechgmm._util import default_corpora
from speechgmm.audio import load_audio
from speechgmm.features import FeatureConfig, add_deltas, extract_file, extract_files, mfcc


def ours(signals, cfg):
    return [mfcc(y, cfg.sr, cfg) for y in signals]


def with_librosa(signals, cfg):
    import librosa

    out = []
    for y in signals:
        M = librosa.feature.mfcc(
            y=y * cfg.scale,
            sr=cfg.sr,
            n_mfcc=cfg.n_mfcc,
            n_fft=cfg.fft_size,
            win_length=cfg.win_length,
            hop_length=cfg.hop_length,
            window="hamming",
            center=False,
            n_mels=cfg.n_mels,
            fmin=cfg.fmin,
            fmax=cfg.sr / 2,
            htk=True,
            lifter=int(cfg.lifter),
        )
        d1 = librosa.feature.delta(M, width=5, order=1, mode="nearest")
        d2 = librosa.feature.delta(M, width=5, order=2, mode="nearest")
        out.append(np.concatenate([M, d1, d2]).T)
    return out


def with_knf(signals, cfg):
    import kaldi_native_fbank as knf

    from _knf import knf_mfcc_options

    opts = knf_mfcc_options(cfg, 0.0)
    out = []
    for y in signals:
        m = knf.OnlineMfcc(opts)
        m.accept_waveform(cfg.sr, y * cfg.scale)
        m.input_finished()
        C = (
            np.array(m.get_frames(list(range(m.num_frames_ready))), dtype=np.float32)
            if hasattr(m, "get_frames")
            else np.array([m.get_frame(i) for i in range(m.num_frames_ready)], np.float32)
        )
        C -= C.mean(axis=0)
        out.append(add_deltas(C, cfg.delta_order, cfg.delta_window))
    return out


def best_time(fn, signals, cfg, repeat):
    fn(signals[:5], cfg)  # warm-up: imports, caches, JIT
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn(signals, cfg)
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpora() / "asr_course")
    ap.add_argument("--files", type=int, default=400, help="number of corpus wavs (default 400)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--jobs", type=int, default=0, help="also time extract_files with this many worker processes (0 = skip)"
    )
    args = ap.parse_args()
    root = args.corpus / "03-GMM-EM" / "train" / "isolated_digits_ti_train_endpt"
    paths = sorted(root.rglob("*.wav"))
    paths = paths[:: max(1, len(paths) // args.files)][: args.files]
    cfg = FeatureConfig.preset("asr_course")

    t0 = time.perf_counter()
    signals = [load_audio(p, sr=cfg.sr)[0] for p in paths]
    t_load = time.perf_counter() - t0
    audio_s = sum(len(y) for y in signals) / cfg.sr
    extract_file(paths[0], cfg)  # warm-up (first-call caches)
    t_file = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for p in paths:
            extract_file(p, cfg)
        t_file = min(t_file, time.perf_counter() - t0)
    print(f"{len(paths)} utterances, {audio_s:.1f} s of 8 kHz audio; 1 process, BLAS threads 1, best of {args.repeat}")
    print(f"decode (soundfile, incl. checks): {audio_s / t_load:8.0f} x real time")
    print(f"speechgmm extract_file (decode + features): {audio_s / t_file:8.0f} x real time")
    if args.jobs > 1:
        t0 = time.perf_counter()
        extract_files(paths, cfg, jobs=args.jobs)
        t_par = time.perf_counter() - t0
        print(
            f"speechgmm extract_files --jobs {args.jobs} (incl. pool start-up): {audio_s / t_par:8.0f} x real time "
            f"({t_file / t_par:.2f}x one process)"
        )
    print()

    rows = []
    for name, fn in (("speechgmm", ours), ("kaldi-native-fbank", with_knf), ("librosa", with_librosa)):
        try:
            t, res = best_time(fn, signals, cfg, args.repeat)
        except ImportError as exc:
            print(f"{name}: not installed ({exc})")
            continue
        frames = sum(r.shape[0] for r in res)
        rows.append((name, t, frames))
    t_ours = rows[0][1]
    print(f"{'front end (MFCC+deltas, 39 dims)':<34}{'time s':>8}{'x real time':>13}{'frames':>9}{'speechgmm is':>16}")
    for name, t, frames in rows:
        ratio = "" if name == "speechgmm" else f"{t / t_ours:6.2f}x faster"
        print(f"{name:<34}{t:8.3f}{audio_s / t:13.0f}{frames:9d}{ratio:>16}")
    goals = {"librosa": 3.0, "kaldi-native-fbank": 1.0}
    for name, t, _ in rows:
        if name in goals:
            r = t / t_ours
            print(f"goal vs {name}: >= {goals[name]:.0f}x -> {r:.2f}x {'met' if r >= goals[name] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
