"""Pieces shared by the sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Optional

from speechgmm._util import check_output, is_special, own_stream
from speechgmm.errors import ModelFileError
from speechgmm.options import ROOT_HELP, THRESHOLD, DaskOptions, RunOptions, add_dataclass_arguments, argparse_type

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "gender.npz"


def positive_int(s: str) -> int:
    """argparse type: an integer >= 1 (as the options' ``Int`` rule)."""
    from speechgmm.options import Int

    try:
        return Int(1, 2**63 - 1).convert(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None


#: argparse type of ``--threshold``: a finite number within +-``MAX_THRESHOLD`` (a margin between two classes'
#: scores; a negative one never says unknown)
threshold = argparse_type(THRESHOLD, "threshold")


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
    p.set_defaults(dask_workers=None)  # None: not given (its default applies with --dask); see check_dask_options


def check_dask_options(args) -> Optional[str]:
    """A usage message when --dask-workers is given without --dask (it used to be ignored), else None."""
    if getattr(args, "dask_workers", None) is not None and not getattr(args, "dask", None):
        return "argument --dask-workers: only with --dask (it sizes the local cluster that --dask starts)"
    return None


def dask_client(args):
    """A Dask client if --scheduler/--dask was given, else None."""
    if not (getattr(args, "scheduler", None) or getattr(args, "dask", None)):
        return None
    from speechgmm.distributed import dask_client as make

    return make(scheduler=args.scheduler, local_workers=args.dask_workers if args.dask else None)  # None: default


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


def json_line(obj) -> str:
    """``obj`` as one line of JSON (the form of every command's --json output)."""
    return json.dumps(obj, sort_keys=False) + "\n"


def print_json(obj) -> None:
    sys.stdout.write(json_line(obj))


def manifest_inputs(manifest, root=None) -> list:
    """:func:`speechgmm.manifest.manifest_inputs` (imported when needed: not on the classify path)."""
    from speechgmm.manifest import manifest_inputs as inputs

    return inputs(manifest, root)


def check_output_path(path, inputs=(), suffix: str = "", flag: str = "-o", cache_dir=None) -> Path:
    """:func:`speechgmm._util.check_output` (before any work starts: not a folder, not one of ``inputs``,
    not in the ``--cache`` folder ``cache_dir``, in a folder that can be written), and a warning on stderr
    when it does not end in ``suffix``.  ``flag`` is the option that names it."""
    p = check_output(path, inputs, flag, cache_dir)
    # /dev/null, a named pipe, /dev/stdout: written into, any name will do (a folder was refused above)
    if suffix and p.suffix.lower() != suffix and not is_special(p) and own_stream(p) is None:
        print(f"speechgmm: warning: {p} does not end in {suffix}", file=sys.stderr)
    return p
