"""The gender recipe's multi-corpus pool and its leave-one-corpus-out protocol (quick subset)."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "recipes" / "gender"))

from pool import CORPORA, pool_rows  # noqa: E402


def test_pool_rules(corpus):
    rows = pool_rows(corpus.parent)
    assert {r["corpus"] for r in rows} == set(CORPORA)
    ti_test = {r["speaker"] for r in rows if r["corpus"] == "asr_course" and r["test"]}
    assert len(ti_test) == 73
    for c in ("librispeech_sample", "speechocean762_sample"):
        test = {r["speaker"] for r in rows if r["corpus"] == c and r["test"]}
        train = {r["speaker"] for r in rows if r["corpus"] == c and not r["test"]}
        assert test and train and not (test & train)  # speaker-disjoint
    ast = [r for r in rows if r["corpus"] == "asterisk_prompts"]
    assert {r["speaker"] for r in ast if r["test"]} == {r["speaker"] for r in ast if not r["test"]}
    kids = [r for r in rows if r["age_group"] == "child"]
    assert kids and {r["corpus"] for r in kids} == {"speechocean762_sample"}


def test_loco_quick(corpus):
    r = subprocess.run([sys.executable, ROOT / "recipes" / "gender" / "run.py", "--loco", "--quick", "--jobs", "1",
                        "--corpus", str(corpus.parent), "--json"], capture_output=True, text=True, cwd=ROOT,
                       timeout=1800)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(res["loco"]) == set(CORPORA) == set(res["in_corpus"])
    for c in CORPORA:
        for kind in ("loco", "in_corpus"):
            rep = res[kind][c]
            assert 0 <= rep["balanced"] <= 1 and rep["files"] > 0 and rep["worst"]
    # LOCO and in-corpus figures printed side by side, children apart
    assert r.stdout.count("(LOCO)") == 4 and r.stdout.count("(in-corpus)") == 4
    assert "children under 16" in r.stdout
    # a real signal even on the small subset: the in-corpus TI test figure is well above chance
    assert res["in_corpus"]["asr_course"]["balanced"] > 0.8
