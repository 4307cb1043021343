"""Shared fixtures.

Tests that need the shared corpus use the ``corpus`` fixture.  The corpus is
looked up in ``$SPEECHGMM_CORPORA`` (default ``../shared/corpora``).  In CI
(``CI`` set) a missing corpus is a failure; elsewhere those tests are skipped
with the reason.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from speechgmm._util import default_corpora

ROOT = Path(__file__).resolve().parent.parent


def _corpus_dir() -> Path:
    return default_corpora() / "asr_course"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Path of ``asr_course`` (the folder holding ``03-GMM-EM``)."""
    d = _corpus_dir()
    if not (d / "03-GMM-EM" / "train" / "wav.scp").is_file():
        msg = f"corpus not found at {d} (set SPEECHGMM_CORPORA)"
        if os.environ.get("CI"):
            pytest.fail(msg + " -- corpus tests must run in CI")
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def gmm_dir(corpus: Path) -> Path:
    return corpus / "03-GMM-EM"


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


@pytest.fixture
def cli():
    return run_cli
