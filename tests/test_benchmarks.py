"""The benchmark scripts run (small sizes) and print their side-by-side ratios.

Speed is not asserted here (the machine is shared); the README quotes full runs.
"""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def run(*args, timeout=600):
    r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bench_gmm_quick():
    out = run(ROOT / "benchmarks" / "bench_gmm.py", "--quick", "--iters", "1")
    assert "GEMM peak" in out and out.count("|") >= 12


def test_bench_features_small(corpus):
    out = run(ROOT / "benchmarks" / "bench_features.py", "--files", "20", "--repeat", "1")
    assert "librosa" in out and "kaldi" in out


def test_bench_classify(corpus):
    out = run(ROOT / "benchmarks" / "bench_classify.py")
    assert "cold start" in out


def test_bench_dask_small(corpus):
    out = run(ROOT / "benchmarks" / "bench_dask.py", "--frames", "100000", "--shards", "4")
    assert "bytes" in out
