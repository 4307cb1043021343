"""Dask: distributed training equals local training; the core never imports dask."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from _helpers import ROOT, need_module, run_cli

need_module("dask.distributed")


def test_core_does_not_import_dask():
    code = (
        "import sys, speechgmm.gmm, speechgmm.classifier, speechgmm.cli, speechgmm.pipeline, speechgmm.features; "
        "speechgmm.cli.build_parser(); print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture(scope="module")
def client():
    from speechgmm.distributed import dask_client

    c = dask_client(local_workers=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def paths_labels(corpus):
    import csv

    with open(ROOT / "data_manifest/asr_course/train.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in ("AE", "AC", "AJ", "AG")]
    return [corpus / r["path"] for r in rows], [r["gender"] for r in rows]


@pytest.mark.parametrize(
    "init,dtype,rtol", [("kmeans", np.float32, 1e-5), ("split", np.float32, 1e-5), ("kmeans", np.float64, 1e-9)]
)
def test_distributed_em_equals_local(client, paths_labels, init, dtype, rtol):
    """Same statistics summed in a different order: float64 agrees to 1e-9, float32 (the default,
    where chunks group frames differently) to ~1e-6."""
    from speechgmm.distributed import DaskSource
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.gmm import DiagGMM

    paths, _ = paths_labels
    cfg = FeatureConfig.preset("default")
    local_feats = extract_files(paths, cfg)[0]
    local = DiagGMM(8, max_iter=6, tol=0, init=init, random_state=0, dtype=dtype).fit(local_feats)
    source = DaskSource.extract(client, paths, cfg, shard_size=10)
    dist = DiagGMM(8, max_iter=6, tol=0, init=init, random_state=0, dtype=dtype).fit(source)
    for a, b in [(local.weights_, dist.weights_), (local.means_, dist.means_), (local.variances_, dist.variances_)]:
        assert np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(a).max())  # relative to the parameters' scale
    assert np.allclose(local.log_likelihood_history_, dist.log_likelihood_history_, rtol=rtol)


def test_statistics_are_small_whatever_the_frames(client, paths_labels):
    from speechgmm.distributed import _shard_stats
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.gmm import DiagGMM

    feats = extract_files(paths_labels[0][:20], FeatureConfig())[0]
    g = DiagGMM(4, max_iter=1).fit(feats)
    small = _shard_stats(feats[:2], g.to_dict())
    big = _shard_stats(feats * 5, g.to_dict())
    size = lambda d: sum(np.asarray(v).nbytes for v in d.values())  # noqa: E731
    assert size(small) == size(big) == (4 + 2 * 4 * 39) * 8 + 16


def test_cli_train_with_local_dask_cluster(tmp_path, paths_labels):
    import csv

    paths, labels = paths_labels
    m = tmp_path / "m.csv"
    with open(m, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(zip(paths, labels))
    a, b = tmp_path / "local.npz", tmp_path / "dask.npz"
    assert run_cli("train", m, "-o", a, "-k", "4", "--iterations", "4").returncode == 0
    r = run_cli("train", m, "-o", b, "-k", "4", "--iterations", "4", "--dask", "local", "--dask-workers", "2")
    assert r.returncode == 0, r.stderr
    from speechgmm.modelio import load_model

    ma, mb = load_model(a).classifier, load_model(b).classifier
    assert ma.labels_ == mb.labels_
    for x, y in zip(ma.models_, mb.models_):
        assert np.allclose(x.means_, y.means_, rtol=1e-5, atol=1e-5 * np.abs(x.means_).max())
    r = run_cli("evaluate", m, "--model", b, "--json", "--dask", "local")
    assert r.returncode == 0, r.stderr
    rl = run_cli("evaluate", m, "--model", b, "--json")
    assert json.loads(r.stdout.splitlines()[-1])["confusion"] == json.loads(rl.stdout.splitlines()[-1])["confusion"]


def test_lost_worker_shards_are_recomputed(paths_labels):
    """Kill a worker holding feature shards: Dask rebuilds them from the graph, result unchanged."""
    import os

    from dask.distributed import wait

    from speechgmm.distributed import DaskSource, dask_client
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.gmm import DiagGMM

    paths, _ = paths_labels
    cfg = FeatureConfig.preset("default")
    local = DiagGMM(4, max_iter=4, tol=0, random_state=0).fit(extract_files(paths, cfg)[0])
    c = dask_client(local_workers=2)
    try:
        source = DaskSource.extract(c, paths, cfg, shard_size=8)
        shards = source.shards
        wait(shards)
        holders = c.who_has(shards)
        victim = next(iter(holders[shards[0].key]))
        try:
            c.run(os._exit, 1, workers=[victim])  # hard crash; the nanny starts a fresh, empty worker
        except Exception:
            pass
        import time

        deadline = time.time() + 30
        while victim in c.scheduler_info()["workers"] and time.time() < deadline:
            time.sleep(0.1)
        assert victim not in c.scheduler_info()["workers"], "the worker did not die"
        dist = DiagGMM(4, max_iter=4, tol=0, random_state=0).fit(source)
    finally:
        c.close()
    assert np.allclose(local.means_, dist.means_, rtol=1e-5, atol=1e-5 * np.abs(local.means_).max())
    assert np.allclose(local.variances_, dist.variances_, rtol=1e-5, atol=1e-5 * np.abs(local.variances_).max())


def test_augmented_training_on_the_cluster_equals_local(client, paths_labels, tmp_path):
    """--augment with Dask: the copies are made on the workers from (seed, index, kind), so the
    cluster trains on exactly the local copies."""
    from speechgmm.modelio import load_model
    from speechgmm.options import TrainOptions
    from speechgmm.pipeline import train_from_manifest

    paths, labels = paths_labels
    man = tmp_path / "m.csv"
    man.write_text("path,gender\n" + "".join(f"{p},{g}\n" for p, g in zip(paths, labels)))
    opts = TrainOptions(label_column="gender", n_components=4, max_iter=4, augment=("noise", "reverb"))
    train_from_manifest(man, tmp_path / "local.npz", opts)
    train_from_manifest(man, tmp_path / "dask.npz", opts, client=client)
    a, b = load_model(tmp_path / "local.npz").classifier, load_model(tmp_path / "dask.npz").classifier
    assert a.frames_ == b.frames_
    for m, n in zip(a.models_, b.models_):
        assert np.allclose(m.means_, n.means_, rtol=1e-4, atol=1e-4 * np.abs(m.means_).max())
        assert np.allclose(m.weights_, n.weights_, rtol=1e-4, atol=1e-6)


def test_warnings_of_the_workers_are_said_by_the_client(tmp_path, paths_labels):
    """Under Dask a file's warning (here: stereo channels that cancel out) came from the worker, raw
    ("features.py:780: SpeechGMMWarning: ..." and its source line), or not at all from a remote worker."""
    import csv

    import soundfile as sf

    paths, labels = paths_labels
    x, sr = sf.read(str(paths[0]), dtype="float32")
    flipped = tmp_path / "opposite phase.wav"
    sf.write(str(flipped), np.stack([x, -x], axis=1), sr, subtype="FLOAT")
    m = tmp_path / "m.csv"
    with open(m, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(zip([flipped, *paths[1:]], labels))
    for command in (["train", m, "-o", tmp_path / "d.npz", "-k", "2", "--iterations", "2"], ["evaluate", m]):
        if command[0] == "evaluate":
            command += ["--model", tmp_path / "d.npz"]
        r = run_cli(*command, "--dask", "local", "--dask-workers", "1")
        assert r.returncode == 0, r.stderr
        said = [line for line in r.stderr.splitlines() if "cancel out" in line]
        assert said == [
            f"speechgmm {command[0]}: warning: {flipped}: the 2 channels cancel out when averaged "
            "(opposite phase); using channel 1 alone"
        ], r.stderr
        assert "SpeechGMMWarning" not in r.stderr


def test_ctrl_c_on_a_dask_run_says_interrupted_and_nothing_else(corpus, tmp_path):
    """Ctrl-C during 'train --dask local' also printed Dask's shutdown: "Task exception was never retrieved
    ... AllExit" and "Batched Comm Closed", with tracebacks (QA: 2 of 3 runs; 4 of 4 here before the fix)."""
    import os
    import signal
    import time

    out = tmp_path / "never.npz"
    argv = [
        sys.executable,
        "-m",
        "speechgmm",
        "train",
        str(ROOT / "data_manifest/asr_course/train.csv"),
        "--root",
        str(corpus),
        "--label-column",
        "gender",
        "-o",
        str(out),
        "--dask",
        "local",
        "--dask-workers",
        "2",
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(6)  # the cluster is up and extracting 2,000 files' features (about a minute of work)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "speechgmm train: interrupted", err
    assert not [line for line in err.splitlines() if not line.startswith("speechgmm train: ")], err
    assert not out.exists()
