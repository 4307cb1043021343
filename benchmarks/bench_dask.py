#!/usr/bin/env python3
"""One EM iteration on >= 1M frames: local vs a Dask LocalCluster, and what crosses the network.

Frames are real corpus MFCC (all training speakers, ~115k frames) tiled to the requested
count and split into shards that stay on the workers.  Per iteration the client sends the
parameters and receives one statistics object per shard; their serialised size is measured
for two frame counts to show it is O(K x D), independent of the number of frames.

usage: python benchmarks/bench_dask.py [--frames 1000000] [--components 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))  # recipes/_common.py: the harness
from _common import find_corpus

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--components", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, default=8)
    args = ap.parse_args()
    from speechgmm.distributed import DaskSource, _shard_stats, dask_client
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.gmm import DiagGMM
    from speechgmm.manifest import read_manifest

    corpus = find_corpus(args.corpus)
    man = read_manifest(ROOT / "data_manifest/asr_course/train.csv", root=corpus)
    base = np.concatenate(extract_files(man.paths, FeatureConfig.preset("default"), jobs=2)[0])
    reps = int(np.ceil(args.frames / len(base)))
    X = np.tile(base, (reps, 1))[: args.frames]
    shards = np.array_split(X, args.shards)
    gmm = DiagGMM(args.components, max_iter=1, tol=0, random_state=0).fit(base)
    gmm.accumulate(shards[:1])  # warm-up
    t = time.perf_counter()
    local = gmm.accumulate(shards)
    t_local = time.perf_counter() - t
    client = dask_client(local_workers=args.workers)
    try:
        source = DaskSource(client, client.scatter([[s] for s in shards]), [1] * len(shards))  # shards on the workers
        source.accumulate(gmm)  # warm-up
        t = time.perf_counter()
        dist = source.accumulate(gmm)
        t_dist = time.perf_counter() - t
    finally:
        client.close()
    rel = float(np.max(np.abs(local.s - dist.s) / np.maximum(np.abs(local.s), 1e-300)))
    assert rel < 1e-5, rel  # float32 GEMMs with 1 vs 2 BLAS threads round differently
    params_bytes = len(pickle.dumps(gmm.to_dict()))
    sizes = {}
    for n in (10_000, len(shards[0])):
        sizes[n] = len(pickle.dumps(_shard_stats([X[:n]], gmm.to_dict())))
    K, D = gmm.means_.shape
    print(f"E-step over {len(X):,} frames x {D} dims, K={K}, {args.shards} shards")
    print(f"  local (1 process, BLAS threads)   {t_local:7.3f} s")
    print(
        f"  LocalCluster ({args.workers} workers x 1 thread) {t_dist:7.3f} s   "
        f"(ratio local/dask {t_local / t_dist:.2f})"
    )
    print(
        f"  statistics per shard: {sizes[10_000]:,} bytes for 10,000 frames, {sizes[len(shards[0])]:,} bytes for "
        f"{len(shards[0]):,} frames  (K(2D+1) doubles = {K * (2 * D + 1) * 8:,} bytes)"
    )
    print(
        f"  per iteration: parameters out {params_bytes:,} bytes (broadcast once per worker), "
        f"statistics back {args.shards} x {sizes[len(shards[0])]:,} bytes; frames never move"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
