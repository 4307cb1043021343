"""The benchmark scripts run (small sizes) and print their side-by-side ratios.

Speed is not asserted here (the machine is shared); the README quotes full runs.
"""

from __future__ import annotations

import subprocess
import sys

from _helpers import ROOT


def run(*args, timeout=600):
    r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bench_gmm_quick():
    out = run(ROOT / "benchmarks" / "bench_gmm.py", "--quick", "--iters", "1")
    assert "GEMM peak" in out
    assert out.count("|") >= 12


def test_bench_features_small(corpus):
    out = run(ROOT / "benchmarks" / "bench_features.py", "--files", "20", "--repeat", "1")
    assert "librosa" in out
    assert "kaldi" in out


def test_bench_classify(corpus):
    out = run(ROOT / "benchmarks" / "bench_classify.py")
    assert "cold start" in out


def test_bench_dask_small(corpus):
    out = run(ROOT / "benchmarks" / "bench_dask.py", "--frames", "100000", "--shards", "4")
    assert "bytes" in out


def test_channel_robustness_small(corpus):
    channels = "clean;gain -20 dB;mp3 22 kbps"
    out = run(
        ROOT / "benchmarks" / "channel_robustness.py", "--files", "300", "--components", "8", "--channels", channels
    )
    rows = [line.split() for line in out.splitlines() if line.startswith(("gender", " digit", "digit"))]
    assert len(rows) == 10  # 5 systems x 2 tasks
    for r in rows:
        clean, gain, mp3 = (float(x) for x in r[-3:])
        assert 0 <= mp3 <= 1
        if "CMN" in r and "no" not in r and "--augment" not in r:  # the default front end
            # a gain only shifts c0, which the mean normalisation removes
            assert abs(clean - gain) <= 0.01, r


def test_mains_hum_small(corpus):
    """Hum as loud as the speech: the front end's notches keep files that, left in, give "no speech"."""
    out = run(ROOT / "benchmarks" / "mains_hum.py", "--step", "40", "--jobs", "2")
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip().startswith(("no", "-", "+"))}
    clean = [float(x) for x in rows["no"].split()[2:]]
    assert len(clean) == 4 and clean[0] == clean[1] and clean[2] == clean[3]  # no hum: nothing notched
    loud = rows["+0"].split()
    assert "no speech" in rows["+0"] and float(loud[1]) > float(loud[2]) + 0.3, rows["+0"]
