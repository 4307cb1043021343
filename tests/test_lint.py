"""The code passes the project's lint rules and is formatted (``[tool.ruff]`` in pyproject.toml).

Run by the README's test command, so ``.ci/run`` checks both on every submission.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from _helpers import ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff")
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def _has_ruff():
    try:
        r = _ruff("--version")
    except FileNotFoundError:
        r = None
    if r is None or r.returncode != 0:
        pytest.fail("ruff is not installed; it is in the test extra: pip install -e '.[test]'")


def test_ruff_check_passes():
    r = _ruff("check", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format_leaves_every_file_unchanged():
    r = _ruff("format", "--check", ".")
    assert r.returncode == 0, r.stdout + r.stderr
