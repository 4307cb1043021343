"""Shared fixtures.

Tests that need the shared corpus use the ``corpus`` fixture.  The corpus is
looked up in ``$SPEECHGMM_CORPORA`` (default ``../shared/corpora``).  In CI
(``CI`` set) a missing corpus is a failure; elsewhere those tests are skipped
with the reason.  Plain helpers (``ROOT``, ``run_cli``) are in ``_helpers.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from speechgmm._util import default_corpora

from _helpers import run_cli


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


@pytest.fixture
def cli():
    return run_cli
