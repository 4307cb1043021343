"""pytest set-up at the checkout's root: the doctests of ``speechgmm/`` (``--doctest-modules`` in pyproject).

Test fixtures are in ``tests/conftest.py``.  Here: which library modules doctest collection must not import,
and the folder doctests run in (so ``examples/...`` paths in docstrings resolve).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# importing speechgmm/__main__.py would run the command line
collect_ignore = ["speechgmm/__main__.py"]
# the Dask backend is an optional extra (pip install speechgmm[dask])
if importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None:
    collect_ignore.append("speechgmm/distributed.py")


@pytest.fixture(autouse=True)
def _doctests_run_in_the_checkout(request, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(ROOT)
