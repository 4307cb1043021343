"""The gender recipe's multi-corpus pool and its leave-one-corpus-out protocol (quick subset)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from _helpers import ROOT, run_cli

_spec = importlib.util.spec_from_file_location("gender_pool", ROOT / "recipes" / "gender" / "pool.py")
pool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pool)
CORPORA, pool_rows = pool.CORPORA, pool.pool_rows


def _recipe(*args):
    """Run the gender recipe with ``args`` and ``--json``: (the finished process, its JSON results)."""
    r = subprocess.run(
        [sys.executable, ROOT / "recipes" / "gender" / "run.py", *map(str, args), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr
    return r, json.loads(r.stdout.strip().splitlines()[-1])


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
    args = ["--loco", "--quick", "--components", 6, "--iterations", 4, "--seed", 3, "--jobs", 1]
    r, res = _recipe(*args, "--corpus", corpus.parent)
    assert set(res["loco"]) == set(CORPORA) == set(res["in_corpus"]) == set(res["inner"])
    assert res["config"]["components"] == 6 and res["config"]["seed"] == 3  # over --quick's K=8, seed 0
    assert res["config"]["iterations"] == 4  # over --quick's 5
    # the inner protocol (training parts only) comes first, one row per corpus
    assert r.stdout.count("(inner)") == 4 and r.stdout.index("inner protocol") < r.stdout.index("(LOCO)")
    assert all(res["inner"][c]["files"] > 0 and 0 <= res["inner"][c]["balanced"] <= 1 for c in CORPORA)
    for c in CORPORA:
        for kind in ("loco", "in_corpus"):
            rep = res[kind][c]
            assert 0 <= rep["balanced"] <= 1 and rep["files"] > 0 and rep["worst"]
    # LOCO and in-corpus figures printed side by side, children apart
    # (and the LOCO models' posteriors, raw and calibrated, in a second table)
    assert r.stdout.count("(LOCO)") == 8 and r.stdout.count("(in-corpus)") == 4
    assert res["calibration"]["exponent"] == 0.25 and res["calibration"]["scale"] > 0
    post = res["loco_posteriors"]
    assert set(post) == set(CORPORA)
    # calibrated posteriors fit the corpora left out better than the raw ones (which say 1.0000 when wrong)
    bits = {kind: sum(p[kind]["cross_entropy_bits"] for p in post.values()) for kind in ("raw", "calibrated")}
    assert bits["calibrated"] < bits["raw"]
    # the reliability table of the calibrated posteriors covers 0.5-1 and counts every LOCO error once
    bins = res["loco_reliability"]
    assert bins[0]["lo"] == 0.5 and bins[-1]["hi"] == 1.0 and "posterior" in r.stdout and "right" in r.stdout
    wrong = sum(round(b["files"] * (1 - b["right"])) for b in bins if b["files"])
    assert wrong == sum(p["calibrated"]["errors"] for p in post.values()) > 0
    assert all(b["lo"] <= b["mean_posterior"] <= b["hi"] for b in bins if b["files"])
    assert "children under 16" in r.stdout
    # a real signal even on the small subset: the in-corpus TI test figure is well above chance
    assert res["in_corpus"]["asr_course"]["balanced"] > 0.8


def test_map_and_cvn_alternatives_quick(corpus, tmp_path):
    """--method map --no-cvn trains a GMM-UBM on a mean-normalised front end (the bundled model's has
    variance normalisation too), says so, and records it in the model file; --ubm-components wins over
    --quick's size (QA: it was replaced by 16 without a word); --cepstra sets the front end's cepstra."""
    from speechgmm.modelio import load_model

    out = tmp_path / "g.npz"
    args = ["--quick", "--method", "map", "--no-cvn", "--ubm-components", "12", "--cepstra", "10"]
    r, res = _recipe(*args, "--jobs", 1, "--corpus", corpus.parent, "--out", out)
    assert "(means only), 10 cepstra, GMM-UBM K=12" in r.stdout
    assert res["config"]["method"] == "map" and res["config"]["cvn"] is False
    mf = load_model(out)
    assert not mf.feature_config.cvn and mf.classifier.method_ == "map"
    assert mf.feature_config.n_mfcc == 10 and mf.classifier.ubm_.means_.shape[1] == 30  # --cepstra 10, deltas
    assert mf.classifier.ubm_.n_components == res["config"]["ubm_components"] == 12
    assert mf.header["training"]["method"] == "map"
    assert res["in_corpus"]["asr_course"]["balanced"] > 0.8  # a real signal on the small subset


def test_gender_preset_is_the_bundled_models_front_end():
    """`--preset gender` trains on the bundled model's features (the recipe builds them as default + cvn)."""
    from speechgmm.commands._common import load_classifier
    from speechgmm.features import FeatureConfig

    mf = load_classifier(None)
    assert mf.feature_config == FeatureConfig.preset("gender") and mf.header["training"]["preset"] == "gender"
    assert FeatureConfig.preset("gender") == FeatureConfig.preset("default").replace(cvn=True)
    # info names the preset a front end equals (QA: it showed 'preset=default' over a cvn front end)
    assert "front end    preset 'gender': cmn=True, cvn=True" in run_cli("info", str(mf.path)).stdout
    assert FeatureConfig.preset("default").replace(n_mels=24).preset_name() is None


def test_augmented_copies_join_the_training_frames_and_leave_the_originals_as_they_were():
    """--augment: each (corpus, gender, copy) adds its own capped frames after the originals, whose draw
    is the one without copies (so a run with copies differs from the bundled run by the copies alone)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [
        {"corpus": c, "gender": g, "speaker": f"{c}{g}{i}"}
        for c in ("a", "b")
        for g in ("female", "male")
        for i in range(3)
    ]
    feats = [rng.standard_normal((40, 2)) for _ in rows]
    copies = {"noise": [x + 100 for x in feats]}
    plain = pool.balanced_groups(rows, feats, lambda r: True, 50, seed=1)
    more = pool.balanced_groups(rows, feats, lambda r: True, 50, seed=1, copies=copies)
    for g in ("female", "male"):
        assert len(plain[g]) == 2 and len(more[g]) == 4  # two corpora; and their copies
        for a, b in zip(plain[g], more[g][:2]):
            assert np.array_equal(a, b) and len(a) == 50  # capped: 120 frames per cell
        assert all(len(x) == 50 and x.min() > 50 for x in more[g][2:])  # the copies' own draw


def test_training_frames_are_drawn_evenly_over_speakers():
    """A speaker with ten files gives about as many of a cell's capped frames as one with a single file (the
    rule); with by_speaker=False every frame has the same chance, so the first gives ten times as many."""
    import numpy as np

    rows = [{"corpus": "a", "gender": "female", "speaker": "many"} for _ in range(10)]
    rows += [{"corpus": "a", "gender": "female", "speaker": "one"}]
    feats = [np.zeros((100, 1)) for _ in range(10)] + [np.ones((100, 1))]
    share = {}
    for even in (True, False):
        (X,) = pool.balanced_groups(rows, feats, lambda r: True, 200, seed=0, by_speaker=even)["female"]
        share[even] = float(X.mean())  # the single-file speaker's share of the 200 frames
        assert len(X) == 200
    assert 0.35 < share[True] < 0.5 and share[False] < 0.2, share


def test_augment_and_channels_quick(corpus):
    """--augment trains on copies too and records them; --channels scores the inner protocol and the test
    sets through copies drawn with their own seed, and prints a line per channel."""
    r, res = _recipe("--quick", "--augment", "noise", "--channels", "codec", "--jobs", 1, "--corpus", corpus.parent)
    assert res["config"]["augment"] == ["noise"] and set(res["channels"]) == {"codec"}
    assert set(res["inner"]["codec"]) == set(CORPORA)
    assert 0.5 < res["channels"]["codec"]["accuracy"] <= 1 and "through the codec channel" in r.stdout
    bad = subprocess.run(
        [sys.executable, ROOT / "recipes" / "gender" / "run.py", "--quick", "--augment", "noise,hiss"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "hiss" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
