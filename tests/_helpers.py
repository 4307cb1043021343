"""Helpers shared by test modules (imported as ``from _helpers import ROOT, run_cli``; fixtures live in conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The checkout's root (the folder holding ``speechgmm/``, ``tests/``, ``recipes/``).
ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd=None, input=None, timeout: float = 600, env=None) -> subprocess.CompletedProcess:
    """Run ``python -m speechgmm ARGS`` in a subprocess; return the completed process."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(
        [sys.executable, "-m", "speechgmm", *map(str, args)],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=e,
    )


def write_two_speaker_manifest(corpus, path) -> None:
    """A small labelled manifest: take A of TI training speakers AE and AC, with absolute audio paths."""
    import csv

    rows = [
        r
        for r in csv.DictReader(open(ROOT / "data_manifest/asr_course/train.csv"))
        if r["speaker"] in ("AE", "AC") and r["take"] == "A"
    ]
    write_manifest(path, rows, corpus)


def write_manifest(path, rows, corpus=None) -> Path:
    """Write manifest ``rows`` (dicts with the same keys) as a CSV; with ``corpus``, each ``path`` is made
    absolute under it."""
    import csv

    rows = [dict(r, path=str(Path(corpus) / r["path"])) if corpus is not None else r for r in rows]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return Path(path)


def ti_train_manifest(path, rows: slice) -> Path:
    """A gender manifest of TI training files ``rows`` (a slice of ``data_manifest/asr_course/train.csv``)."""
    lines = (ROOT / "data_manifest" / "asr_course" / "train.csv").read_text().splitlines()
    Path(path).write_text("\n".join(lines[:1] + lines[1:][rows]) + "\n")
    return Path(path)


def cached_train(corpus, manifest, out, cache, iterations: int, *extra: str, **popen) -> subprocess.Popen:
    """Start ``speechgmm train MANIFEST --cache CACHE`` (gender, K=4) in the background; stdout/stderr piped."""
    cmd = [sys.executable, "-m", "speechgmm", "train", str(manifest), "--root", str(corpus)]
    cmd += ["--label-column", "gender", "-o", str(out), "--cache", str(cache), "-k", "4"]
    cmd += ["--iterations", str(iterations), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def small_map_train_argv(manifest, out, iterations: int) -> list:
    """``train`` argv for a tiny MAP gender classifier (UBM K=2, K=2), for tests of options and enrolment."""
    argv = ["train", str(manifest), "-o", str(out), "--label-column", "gender", "--method", "map"]
    return argv + ["--ubm-components", "2", "-k", "2", "--iterations", str(iterations)]


def need_module(name: str):
    """``pytest.importorskip(name)``, except in CI (``CI`` set), where the test extra must have installed it:
    a missing module there fails the test instead of skipping it."""
    import importlib

    import pytest

    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


def rewrite_model(path, out, change_header=None, drop=()):
    """Copy the model file ``path`` to ``out`` with its JSON header changed in place by
    ``change_header(header)`` and the arrays named in ``drop`` left out (damaged or odd files for tests)."""
    import json

    import numpy as np

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    h = json.loads(arrays["header"].tobytes())
    if change_header:
        change_header(h)
    arrays["header"] = np.frombuffer(json.dumps(h).encode(), np.uint8)
    np.savez(out, **arrays)
    return out
