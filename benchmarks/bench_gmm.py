#!/usr/bin/env python3
"""EM speed: speechgmm.DiagGMM vs scikit-learn GaussianMixture(covariance_type="diag").

For each (N, D, K) both run from the same initial parameters; the per-iteration time is
(time of a fit with 1 + n iterations - time of a fit with 1 iteration) / n, so set-up costs
cancel.  Each measurement runs in a fresh subprocess, which also reports its peak memory
(ru_maxrss).  Achieved GFLOP/s count the two matrix products of an iteration
(8 N D K flops) and are compared with this machine's measured GEMM peak.

usage: python benchmarks/bench_gmm.py [--quick] [--iters N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

CASES = [(200_000, 39, 64), (200_000, 39, 256), (1_000_000, 39, 64)]


def data(N, D, K, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (K, D))
    X = centers[rng.integers(0, K, N)] + rng.normal(0, 1, (N, D))
    w0 = np.full(K, 1.0 / K)
    mu0 = X[rng.choice(N, K, replace=False)]
    var0 = np.tile(X.var(0), (K, 1))
    return X, w0, mu0, var0


def worker(impl, N, D, K, iters, dtype):
    X, w0, mu0, var0 = data(N, D, K)
    if dtype == "float32":
        X = X.astype(np.float32)

    def fit(n):
        t = time.perf_counter()
        if impl == "speechgmm":
            from speechgmm.gmm import DiagGMM

            DiagGMM(
                K,
                max_iter=n,
                tol=0,
                weights_init=w0,
                means_init=mu0,
                variances_init=var0,
                dtype=np.float32 if dtype == "float32" else np.float64,
            ).fit(X)
        else:
            import warnings

            from sklearn.mixture import GaussianMixture

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                GaussianMixture(
                    K,
                    covariance_type="diag",
                    max_iter=n,
                    tol=0,
                    init_params="random",
                    weights_init=w0,
                    means_init=mu0,
                    precisions_init=1 / var0,
                    reg_covar=1e-6,
                ).fit(X)
        return time.perf_counter() - t

    fit(1)  # warm-up (first-call costs: imports, BLAS start-up)
    t1 = fit(1)
    tn = fit(1 + iters)
    per_iter = max(tn - t1, 1e-9) / iters
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB
    print(json.dumps({"per_iter": per_iter, "peak_mb": rss, "data_mb": X.nbytes / 2**20}))


def gemm_peak(dtype, n=3000, reps=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    a @ a
    t = min(_timeit(lambda: a @ a) for _ in range(reps))
    return 2 * n**3 / t / 1e9


def _timeit(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def run(impl, case, iters, dtype):
    out = subprocess.run(
        [sys.executable, __file__, "--worker", impl, *map(str, case), str(iters), dtype],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (N / 10)")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        impl, N, D, K, iters, dtype = args.worker
        worker(impl, int(N), int(D), int(K), int(iters), dtype)
        return 0
    import sklearn

    p32, p64 = gemm_peak(np.float32), gemm_peak(np.float64)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )
    print(f"measured GEMM peak: float32 {p32:.1f} GFLOP/s, float64 {p64:.1f} GFLOP/s")
    hdr = (
        f"{'N':>9} {'D':>3} {'K':>4} | {'sklearn s/it':>12} {'ours f64':>9} {'ours f32':>9} | "
        f"{'x f64':>6} {'x f32':>6} | {'GFLOP/s f32':>11} {'% peak':>6} | {'peak MB sk/ours32':>17}"
    )
    print(hdr)
    print("-" * len(hdr))
    for N, D, K in CASES:
        if args.quick:
            N //= 10
        sk = run("sklearn", (N, D, K), args.iters, "float64")
        o64 = run("speechgmm", (N, D, K), args.iters, "float64")
        o32 = run("speechgmm", (N, D, K), args.iters, "float32")
        gf = 8 * N * D * K / o32["per_iter"] / 1e9
        print(
            f"{N:>9} {D:>3} {K:>4} | {sk['per_iter']:12.3f} {o64['per_iter']:9.3f} {o32['per_iter']:9.3f} | "
            f"{sk['per_iter'] / o64['per_iter']:6.1f} {sk['per_iter'] / o32['per_iter']:6.1f} | "
            f"{gf:11.1f} {100 * gf / p32:5.0f}% | {sk['peak_mb']:8.0f}/{o32['peak_mb']:<8.0f}",
            flush=True,
        )
    print("x = scikit-learn time per EM iteration / speechgmm time (same data, same initial parameters, same machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
