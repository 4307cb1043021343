"""Pieces shared by the sub-commands."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from speechgmm.errors import ConfigError, ModelFileError

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "gender.npz"


def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise __import__("argparse").ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise __import__("argparse").ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def add_jobs(p) -> None:
    p.add_argument("--jobs", "-j", type=positive_int, default=1, metavar="N",
                   help="worker processes for feature extraction and training (default 1)")


def add_cache(p) -> None:
    p.add_argument("--cache", metavar="DIR",
                   help="write features to a Kaldi archive in DIR and stream them from disk in every EM pass "
                        "(memory stays at one utterance per process: for corpora larger than RAM)")


def add_root(p) -> None:
    p.add_argument("--root", metavar="DIR",
                   help="folder that relative audio paths in the manifest are relative to "
                        "(default: the manifest's own folder)")


def add_dask(p) -> None:
    g = p.add_argument_group("distributed (needs: pip install 'speechgmm[dask]')")
    g.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786)")
    g.add_argument("--dask", choices=["local"], help="start a local Dask cluster (LocalCluster) for this run")
    g.add_argument("--dask-workers", type=positive_int, default=2, metavar="N",
                   help="workers of the local cluster (default 2)")


def dask_client(args):
    """A Dask client if --scheduler/--dask was given, else None."""
    if not (getattr(args, "scheduler", None) or getattr(args, "dask", None)):
        return None
    from speechgmm.distributed import dask_client as make

    return make(scheduler=args.scheduler, local_workers=args.dask_workers if args.dask else None)


def feature_config(preset: str | None, fallback=None):
    from speechgmm.features import FeatureConfig

    if preset:
        return FeatureConfig.preset(preset)
    return fallback or FeatureConfig.preset("default")


def load_classifier(path):
    """Load a classifier model file (the bundled gender model when ``path`` is None)."""
    from speechgmm.modelio import load_model

    if path is None:
        if not DEFAULT_MODEL.is_file():
            raise ModelFileError(f"no --model given and the bundled default model {DEFAULT_MODEL} is missing")
        path = DEFAULT_MODEL
    mf = load_model(path, kind="classifier")
    if mf.feature_config is None:
        raise ModelFileError(f"{path}: model file has no front-end configuration")
    return mf


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=False) + "\n")


def check_output_path(path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p}: output path is a directory")
    return p
