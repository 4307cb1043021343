"""The recipes' shared harness: corpus lookup, the argument parser, stages, tables, data dirs.

This is recipe code, not library code: ``speechgmm`` never imports it.  A recipe puts this
folder on ``sys.path`` with one line and imports what it needs::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recipes/: the harness
    from _common import Stages, find_corpus, recipe_parser, run_script

Stages follow the Kaldi/ESPnet idiom: ``--stage N`` starts at stage N, ``--stop-stage M`` stops after
stage M, and every stage writes its outputs under ``--exp DIR`` (default ``recipes/<name>/exp``), so a
later stage can run alone from what earlier stages left there.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from speechgmm._util import atomic_output, default_corpora
from speechgmm.errors import ConfigError, SpeechGMMError
from speechgmm.options import Float, Int, OneLineParser, argparse_type

#: The checkout's root (the folder holding ``recipes/`` and ``data_manifest/``).
ROOT = Path(__file__).resolve().parents[1]
#: The manifests of the asr_course corpus used by the recipes.
MANIFESTS = ROOT / "data_manifest" / "asr_course"


def find_corpus(corpus=None) -> Path:
    """The ``asr_course`` folder: ``corpus`` may be it or its parent (default: ``default_corpora()``,
    i.e. ``$SPEECHGMM_CORPORA`` or ``../shared/corpora``).

    Raises ConfigError when it cannot be found.
    """
    base = Path(corpus) if corpus else default_corpora()
    for cand in (base / "asr_course", base):
        if (cand / "03-GMM-EM").is_dir():
            return cand
    raise ConfigError(f"asr_course corpus not found under {base} (use --corpus DIR or set SPEECHGMM_CORPORA)")


def count(lo: int = 1, hi: int = 4096):
    """An argparse type: an integer from ``lo`` to ``hi`` (a usage error otherwise; the library's rule)."""
    return argparse_type(Int(lo, hi), "count")


#: An argparse type: a finite number > 0 (the library's rule).
positive = argparse_type(Float(0.0, strict=True), "positive")


def output_path(text):
    """An argparse type: a file to write, neither an existing folder nor under a file, and not one of
    the project's manifests (``--out data_manifest/.../train.csv`` wrote a model over the manifest)."""
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{p}: is a folder; name a file")
    if any(a.exists() and not a.is_dir() for a in p.absolute().parents):
        raise argparse.ArgumentTypeError(f"{p}: a folder on its path is a file")
    if p.exists() and p.resolve().is_relative_to((ROOT / "data_manifest").resolve()):
        raise argparse.ArgumentTypeError(f"{p}: is one of the recipes' manifests (an input); name another file")
    return p


def check_outside_exp(args, *dests: str) -> None:
    """ConfigError when an output option (``dests``: argparse names) points into ``--exp``, where the
    stages keep their outputs (``--out-ubm EXP/data/train.csv`` replaced stage 0's manifest)."""
    exp = Path(args.exp).resolve()
    for dest in dests:
        value = getattr(args, dest, None)
        if value is not None and Path(value).resolve().is_relative_to(exp):
            flag = "--" + dest.replace("_", "-")
            raise ConfigError(f"{flag} {value}: is inside --exp {args.exp}, where the stages keep their outputs")


def folder(text):
    """An argparse type: a folder to create or use (not an existing file, not under one)."""
    p = Path(text)
    if any(a.exists() and not a.is_dir() for a in (p, *p.absolute().parents)):
        raise argparse.ArgumentTypeError(f"{p}: is a file, or under one; name a folder")
    return p


def recipe_parser(doc: str, stages: Sequence[str] = (), name: str = ""):
    """The argument parser every recipe starts from: ``--corpus``, ``--json``, ``--jobs``; with ``stages``
    also ``--stage``, ``--stop-stage`` and ``--exp`` (default ``recipes/<name>/exp``)."""
    ap = OneLineParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="folder holding asr_course/ (default $SPEECHGMM_CORPORA or ../shared/corpora)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object with the results")
    ap.add_argument("--jobs", type=count(1, 64), default=2, help="worker processes (default 2)")
    if stages:
        listing = ", ".join(f"{i} {s}" for i, s in enumerate(stages))
        ap.add_argument("--stage", type=int, default=0, help=f"first stage to run ({listing}; default 0)")
        ap.add_argument(
            "--stop-stage", type=int, default=len(stages) - 1, help=f"last stage to run (default {len(stages) - 1})"
        )
        ap.add_argument(
            "--exp",
            type=folder,
            default=ROOT / "recipes" / name / "exp",
            help=f"folder for every stage's outputs (default recipes/{name}/exp)",
        )
    return ap


class Stages:
    """Which stages to run, from ``--stage`` / ``--stop-stage``; ``stages(i)`` says whether to run stage ``i``
    and announces it.  Out-of-range or reversed bounds raise ConfigError before any work."""

    def __init__(self, args, names: Sequence[str]):
        self.names, self.first, self.last = list(names), args.stage, args.stop_stage
        n = len(self.names)
        for flag, v in (("--stage", self.first), ("--stop-stage", self.last)):
            if not 0 <= v < n:
                raise ConfigError(f"{flag} {v} is not a stage (0..{n - 1}: {', '.join(self.names)})")
        if self.first > self.last:
            raise ConfigError(f"--stage {self.first} is after --stop-stage {self.last}")
        if getattr(args, "corpus", None) and self.first > 0:  # QA: it was ignored without a word
            raise ConfigError(
                f"--corpus is read by stage 0 ({self.names[0]}); from stage {self.first} on the files listed in "
                f"{Path(args.exp) / self.names[0]} are used: leave out --corpus, or start at --stage 0"
            )
        self.exp = Path(args.exp)
        self.t0 = time.time()

    def __call__(self, i: int) -> bool:
        if not self.first <= i <= self.last:
            return False
        print(f"stage {i}: {self.names[i]}", flush=True)
        return True

    def need(self, path: Path) -> Path:
        """``path``, an output of an earlier stage; ConfigError naming the stage to run if it is missing."""
        if not Path(path).exists():
            rel = Path(path).relative_to(self.exp) if Path(path).is_relative_to(self.exp) else Path(path)
            producer = next((i for i, s in enumerate(self.names) if rel.parts and rel.parts[0] == s), None)
            hint = f"; run stage {producer} ({self.names[producer]}) first" if producer is not None else ""
            raise ConfigError(f"{path}: missing{hint}")
        return Path(path)

    def finish(self, result, as_json: bool) -> int:
        """Print the run's time and, with ``--json``, ``result`` plus ``seconds`` as one line."""
        secs = time.time() - self.t0
        print(f"time {secs:.1f} s (stages {self.first}..{self.last}; outputs in {self.exp})")
        if as_json and result is not None:
            print(json.dumps(dict(result, seconds=secs)))
        return 0

    def dir(self, i: int) -> Path:
        """The folder of stage ``i``'s outputs: ``EXP/<stage name>``."""
        return self.exp / self.names[i]


def write_data(man, path: Path, columns: Sequence[str]) -> Path:
    """Write a manifest's rows (``utt``, absolute ``path`` and ``columns``) to a CSV data list, atomically."""
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["utt", "path", *columns])
        for i, (u, p) in enumerate(zip(man.utts, man.paths)):
            w.writerow([u, str(p), *(man.columns[c][i] for c in columns)])
    return path


def write_json(path: Path, obj) -> Path:
    """Write ``obj`` as JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1) + "\n")
    return path


def format_table(rows, headers) -> str:
    """Plain-text table with right-aligned columns (floats shown with 4 decimals)."""

    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join(f"{h:>{w}}" for h, w in zip(headers, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(f"{c:>{w}}" for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def run_script(main, name: str) -> int:
    """Run a script's ``main()``; a :class:`SpeechGMMError` becomes one line on stderr and exit 2."""
    try:
        return int(main() or 0)
    except SpeechGMMError as exc:
        print(f"{name}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
