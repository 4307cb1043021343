"""In-process tests of the training pipeline and its options (no subprocesses)."""

from __future__ import annotations

import argparse
import csv
import hashlib
import math

import numpy as np
import pytest

from speechgmm.errors import ConfigError
from speechgmm.modelio import load_model
from speechgmm.options import (
    RELEVANCE_FACTOR,
    MapOptions,
    RunOptions,
    TrainOptions,
    UbmOptions,
    add_dataclass_arguments,
)
from speechgmm.pipeline import TrainSummary, train_from_manifest, train_ubm_from_manifest

from _helpers import ROOT, write_manifest


@pytest.fixture(scope="module")
def manifest(corpus, tmp_path_factory):
    """Real recordings of four speakers (two per gender), all digits, take A."""
    rows = [
        r
        for r in csv.DictReader(open(ROOT / "data_manifest/asr_course/train.csv"))
        if r["speaker"] in ("AE", "AC", "AJ", "AG") and r["take"] == "A"
    ]
    d = tmp_path_factory.mktemp("pipeline")
    return write_manifest(d / "m.csv", rows), corpus


def _sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


@pytest.fixture(autouse=True)
def _fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # bit-identical files for identical models


def test_train_in_process_returns_a_summary(manifest, tmp_path):
    man, root = manifest
    opts = TrainOptions(label_column="gender", n_components=4, max_iter=4)
    s = train_from_manifest(man, tmp_path / "m.npz", opts, root=root)
    assert isinstance(s, TrainSummary) and s.method == "em" and s.labels == ["female", "male"]
    assert s.files == 44 and sum(s.frames.values()) > 1000 and s.output == str(tmp_path / "m.npz")
    mf = load_model(tmp_path / "m.npz")
    assert "per-class EM" in mf.header["training"].pop("method_reason")  # --method auto chose EM
    cv = mf.header["training"].pop("calibration_cv")
    assert cv["fitted"] and cv["how"] == "2-fold by speaker" and cv["files"] == 44 and s.calibration == cv
    assert cv["cross_entropy_bits"]["calibrated"] < cv["cross_entropy_bits"]["raw"]
    assert mf.header["training"] == {
        "method": "em",
        "components": 4,
        "iterations": 4,
        "init": "kmeans",
        "seed": 0,
        "relevance_factor": None,  # MAP options: not used by EM, not recorded
        "adapt": None,
        "ubm": None,
        "augment": [],
        "calibration": "cv",
    }
    assert mf.header["label_column"] == "gender" and mf.header["n_files"] == 44


@pytest.mark.parametrize("method", ["em", "map"])
def test_memory_and_cache_give_identical_models(manifest, tmp_path, method):
    man, root = manifest
    opts = TrainOptions(
        label_column="gender", n_components=2, max_iter=3, method=method, ubm_components=4, augment=("noise",)
    )
    train_from_manifest(man, tmp_path / "mem.npz", opts, root=root)
    train_from_manifest(man, tmp_path / "disk.npz", opts, root=root, cache_dir=tmp_path / "cache")
    a, b = (load_model(tmp_path / f).classifier for f in ("mem.npz", "disk.npz"))
    assert a.method_ == b.method_ == method and a.frames_ == b.frames_
    if method == "em":
        assert _sha(tmp_path / "mem.npz") == _sha(tmp_path / "disk.npz")
    else:  # the UBM's float32 E-step sums group frames differently in memory and streamed from disk
        for m, n in zip(a.models_ + [a.ubm_], b.models_ + [b.ubm_]):
            assert np.allclose(m.means_, n.means_, rtol=1e-4, atol=1e-4)


def test_train_ubm_memory_and_cache_agree(manifest, tmp_path):
    man, root = manifest
    opts = UbmOptions(n_components=4, max_iter=2, preset="default")
    s = train_ubm_from_manifest(man, tmp_path / "u1.npz", opts, root=root)
    train_ubm_from_manifest(man, tmp_path / "u2.npz", opts, root=root, cache_dir=tmp_path / "c", jobs=2)
    ubm, streamed = (load_model(tmp_path / f, kind="ubm").ubm for f in ("u1.npz", "u2.npz"))
    assert s.files == 44 and np.allclose(ubm.means_, streamed.means_, rtol=1e-4, atol=1e-4)
    assert ubm.n_components == 4
    # --ubm: the class models are MAP-adapted from it, with its front end
    spk = TrainOptions(label_column="speaker", ubm=str(tmp_path / "u1.npz"))
    t = train_from_manifest(man, tmp_path / "spk.npz", spk, root=root)
    assert t.method == "map" and t.labels == ["AC", "AE", "AG", "AJ"]
    clf = load_model(tmp_path / "spk.npz").classifier
    assert np.array_equal(clf.ubm_.means_, ubm.means_)


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls,field,flag,values",
    [
        (MapOptions, "relevance_factor", "--relevance-factor", [math.nan, math.inf, -math.inf, -1.0, "x"]),
        (TrainOptions, "n_components", "--components", [0, -1, 1 << 20, 2.5, math.nan, "six", True]),
        (TrainOptions, "max_iter", "--iterations", [0, -3, 10**9]),
        (TrainOptions, "random_state", "--seed", [-5, 2**32, 1.5]),
        (TrainOptions, "tol", "tol", [math.nan, -1e-3, math.inf]),
        (TrainOptions, "init", "--init", ["kmean", None]),
        (TrainOptions, "method", "--method", ["ml"]),
        (TrainOptions, "preset", "--preset", ["fast"]),
        (TrainOptions, "augment", "--augment", ["noise,snow", "noise,noise"]),
        (MapOptions, "adapt", "--adapt", ["", "x", "mm", "MW"]),
        (UbmOptions, "n_components", "--components", [0]),
        (RunOptions, "jobs", "--jobs", [0, 10**6]),
    ],
)
def test_bad_option_values_give_one_line_naming_the_option(cls, field, flag, values):
    for v in values:
        with pytest.raises(ConfigError) as e:
            cls(**{field: v})
        msg = str(e.value)
        assert msg.startswith(f"{flag}: ") and "\n" not in msg, msg


def test_good_option_values_are_kept():
    o = TrainOptions(n_components=8, random_state=2**32 - 1, augment="reverb,noise", map=MapOptions(0.0, "mwv"))
    assert o.augment == ("reverb", "noise") and o.map.relevance_factor == 0.0 and o.random_state == 2**32 - 1
    assert MapOptions(relevance_factor=1e6).relevance_factor == 1e6  # the largest: about the UBM itself
    with pytest.raises(ConfigError, match="--relevance-factor"):
        MapOptions(relevance_factor=1e30)  # a model equal to its UBM, at chance, was trained without a word
    assert TrainOptions(ubm="u.npz").method == "map"  # --ubm implies --method map
    assert TrainOptions(ubm="u.npz", method="map").method == "map"
    with pytest.raises(ConfigError, match=r"^--ubm: .*--method em excludes"):
        TrainOptions(ubm="u.npz", method="em")  # was silently turned into map
    assert UbmOptions().tol == 0.0 and TrainOptions().tol == 1e-4  # the UBM runs every iteration


def test_one_default_for_the_relevance_factor():
    assert MapOptions().relevance_factor == TrainOptions().map.relevance_factor == RELEVANCE_FACTOR == 4.0


def test_flags_and_help_defaults_come_from_the_options():
    p = argparse.ArgumentParser()
    add_dataclass_arguments(p, TrainOptions)
    add_dataclass_arguments(p, MapOptions)
    help_text = " ".join(p.format_help().split())
    for flag, default in [
        ("--components K, -k K", "(default 64)"),
        ("--iterations N", "(default 20)"),
        ("--relevance-factor R", "(default 4:"),
        ("--ubm-components K", "(default 256)"),
    ]:
        assert flag in help_text and default in help_text, flag
    assert "--preset {asr_course,default,gender,speaker,speaker_any_level}" in help_text
    args = p.parse_args(["-k", "3", "--seed", "7", "--relevance-factor", "2.5", "--augment", "noise", "--ubm", "u"])
    o = TrainOptions.from_args(args)
    got = (o.n_components, o.random_state, o.map.relevance_factor, o.augment, o.method)
    assert got == (3, 7, 2.5, ("noise",), "map")
    with pytest.raises(SystemExit):
        p.parse_args(["--relevance-factor", "nan"])


def test_cli_validates_options_before_reading_anything(tmp_path, capsys):
    """The manifest does not exist: the error must still be the bad option's."""
    from speechgmm.cli import main

    for args, needle in [(["--relevance-factor", "nan"], "--relevance-factor"), (["--seed", "-5"], "--seed")]:
        with pytest.raises(SystemExit) as e:
            main(["train", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "x.npz"), *args])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err and "missing.csv" not in err, err
    assert not (tmp_path / "x.npz").exists()
