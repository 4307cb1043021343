"""Pieces shared by the sub-commands."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from speechgmm.errors import ConfigError, ModelFileError
from speechgmm.options import ROOT_HELP, DaskOptions, RunOptions, add_dataclass_arguments

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "gender.npz"


def positive_int(s: str) -> int:
    """argparse type: an integer >= 1 (as the options' ``Int`` rule)."""
    from speechgmm.options import Int

    try:
        return Int(1, 2 ** 63 - 1).convert(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None


def add_jobs(p, what: str = "feature extraction") -> None:
    """``--jobs/-j``; ``what`` says what the processes do in this command (e.g. "feature extraction and
    training")."""
    add_dataclass_arguments(p, RunOptions, only=["jobs"], help={"jobs": f"worker processes for {what}"})


def add_cache(p) -> None:
    add_dataclass_arguments(p, RunOptions, only=["cache_dir"])


def add_root(p, what: str = "the manifest") -> None:
    """``--root DIR``; ``what`` names the file whose relative audio paths it resolves."""
    add_dataclass_arguments(p, RunOptions, only=["root"], help={"root": ROOT_HELP.format(what=what)})


def add_dask(p) -> None:
    g = p.add_argument_group("distributed (needs: pip install 'speechgmm[dask]')")
    add_dataclass_arguments(g, DaskOptions)


def dask_client(args):
    """A Dask client if --scheduler/--dask was given, else None."""
    if not (getattr(args, "scheduler", None) or getattr(args, "dask", None)):
        return None
    from speechgmm.distributed import dask_client as make

    return make(scheduler=args.scheduler, local_workers=args.dask_workers if args.dask else None)


@contextlib.contextmanager
def dask_session(args):
    """``with dask_session(args) as client:`` -- a Dask client for --scheduler/--dask (closed on
    exit), or None when the command runs locally."""
    client = dask_client(args)
    try:
        yield client
    finally:
        if client is not None:
            client.close()


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
