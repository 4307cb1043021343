"""Options of the training commands, each default and each constraint held once.

Kaldi registers an options struct on the command line (``MleDiagGmmOptions::Register``); here
each option is a dataclass field whose metadata gives its flag, metavar, help text and rule:

* the library takes the dataclasses (``pipeline.train_from_manifest(manifest, out, TrainOptions(...))``);
* :func:`add_dataclass_arguments` registers the same fields as ``argparse`` flags, with the
  ``(default X)`` of ``--help`` taken from the field;
* one table of rules (:class:`Int`, :class:`Float`, :class:`Choice`, ...) checks a value both
  when a flag is parsed (before any work starts) and in ``__post_init__`` (library use).  A bad
  value gives one line: ``--relevance-factor: expected a finite number >= 0, got 'nan'``.

Field names are the library's (``n_components``, ``max_iter``, ``random_state``, ...); flag
spellings are the command line's contract (``--components``, ``--iterations``, ``--seed``, ...).

Seeds must lie in 0 .. 2**32 - 1 (as scikit-learn's ``random_state``); a negative ``--seed``
is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from speechgmm.errors import ConfigError

#: MAP relevance factor r (Reynolds et al. 2000): the default of ``train --method map``, of
#: :class:`MapOptions` and of the library's MAP functions.  4.0 was best in cross-validation
#: on the corpus's training speakers (benchmarks/choose_defaults.py).
RELEVANCE_FACTOR = 4.0
#: the largest relevance factor accepted (see MapOptions)
MAX_RELEVANCE_FACTOR = 1e6

MAX_COMPONENTS = 1 << 16
MAX_ITER = 100_000
MAX_JOBS = 256
MAX_SEED = 2**32 - 1
#: the largest open-set threshold (``--threshold``), either sign: an open-set score is a margin in
#: log-likelihood per frame plus a t-normalised part, a few units in practice; beyond this every file
#: would be (or never be) 'unknown', which is a typo rather than a setting
MAX_THRESHOLD = 1000.0
#: the largest EM tolerance (``--tol``): a gain per frame above it stops EM after its first iteration
MAX_TOL = 1000.0


# -- rules: parse a flag's text, check a value -------------------------------------------------


class Rule:
    """One constraint: ``convert(value)`` returns the checked value or raises ValueError(message)."""

    expect = "a value"

    def convert(self, value):  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, value):
        raise ValueError(f"expected {self.expect}, got {value!r}")

    def metavar(self) -> Optional[str]:
        return None


class Int(Rule):
    def __init__(self, lo: int = 1, hi: int = MAX_COMPONENTS):
        self.lo, self.hi = lo, hi
        self.expect = f"a positive integer (at most {hi})" if lo == 1 else f"an integer from {lo} to {hi}"

    def convert(self, value):
        given = value
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                self.fail(given)
        elif isinstance(value, bool) or not hasattr(value, "__index__"):
            self.fail(given)
        value = int(value)
        if not self.lo <= value <= self.hi:
            self.fail(given)
        return value


class Float(Rule):
    """A finite number >= ``lo``, or > ``lo`` when ``strict``, and <= ``hi`` if given (NaN and infinities
    are refused)."""

    def __init__(self, lo: float = 0.0, strict: bool = False, hi: Optional[float] = None):
        self.lo, self.strict, self.hi = lo, strict, hi
        self.expect = f"a finite number {'>' if strict else '>='} {lo:g}" + ("" if hi is None else f" and <= {hi:g}")

    def convert(self, value):
        if isinstance(value, bool):
            self.fail(value)
        try:
            v = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            self.fail(value)
        too_big = self.hi is not None and v > self.hi
        if not math.isfinite(v) or v < self.lo or (self.strict and v == self.lo) or too_big:
            self.fail(value)
        return v


#: ``--threshold`` of classify / evaluate and ``threshold=`` of the Python API (one rule, one message)
THRESHOLD = Float(-MAX_THRESHOLD, hi=MAX_THRESHOLD)


class Choice(Rule):
    def __init__(self, choices: Sequence[str] | Callable[[], Sequence[str]], optional: bool = False):
        self._choices, self.optional = choices, optional

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._choices() if callable(self._choices) else self._choices)

    @property
    def expect(self):
        return f"one of {', '.join(self.choices)}"

    def convert(self, value):
        if value is None and self.optional:
            return None
        if value not in self.choices:
            self.fail(value)
        return value

    def metavar(self):
        return "{" + ",".join(self.choices) + "}"


class Letters(Rule):
    """A non-empty combination of the letters in ``letters`` (e.g. MAP's ``adapt``: m, w, v)."""

    def __init__(self, letters: str):
        self.letters = letters
        self.expect = f"a combination of the letters {', '.join(letters)}"

    def convert(self, value):
        if (
            not isinstance(value, str)
            or not value
            or not set(value) <= set(self.letters)
            or len(set(value)) != len(value)
        ):
            self.fail(value)
        return value


class Kinds(Rule):
    """Augmentation kinds: ``"noise,reverb"`` or a sequence -> tuple (:func:`speechgmm.augment.parse_kinds`)."""

    expect = "augmentation kinds"

    def convert(self, value):
        from speechgmm.augment import parse_kinds

        if value is None:
            return ()
        text = value if isinstance(value, str) else ",".join(map(str, value))
        try:
            return parse_kinds(text)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


#: rules that a flag and a Python argument of the same meaning share (one rule, one message)
SEED = Int(0, MAX_SEED)
JOBS = Int(1, MAX_JOBS)
AUGMENT = Kinds()


def check_argument(name: str, rule: Rule, value):
    """``rule.convert(value)`` for the Python argument ``name``; a ConfigError naming it."""
    try:
        return rule.convert(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


class Text(Rule):
    """Any string, or None when ``optional``."""

    def __init__(self, optional: bool = True):
        self.optional = optional
        self.expect = "a string"

    def convert(self, value):
        if value is None and self.optional:
            return None
        if isinstance(value, str) and value:
            return value
        if hasattr(value, "__fspath__"):
            return str(value.__fspath__())
        self.fail(value)


class Address(Text):
    """A Dask scheduler address: ``[tcp|tls|ws|wss|ucx]://host:port`` or ``host:port``
    (``inproc://...`` as is), or None.  Checked here, before any work: Dask's own parser
    fails late, with a bare ValueError."""

    SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")

    def __init__(self):
        super().__init__(optional=True)
        self.expect = "a scheduler address such as tcp://host:8786"

    def convert(self, value):
        value = super().convert(value)
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        if not sep:
            scheme, rest = "tcp", value
        if scheme not in self.SCHEMES:
            raise ValueError(f"{value}: unknown address scheme {scheme!r} (one of {', '.join(self.SCHEMES)})")
        if scheme == "inproc":
            return value
        host, colon, port = rest.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value}: not HOST:PORT with a port from 1 to 65535 (e.g. tcp://host:8786)")
        return value


class Folder(Text):
    """An existing folder (``--root``), or None."""

    def __init__(self):
        super().__init__(optional=True)
        self.expect = "an existing folder"

    def convert(self, value):
        import os

        value = super().convert(value)
        if value is not None and not os.path.isdir(value):
            raise ValueError(f"{value}: is not a folder" if os.path.exists(value) else f"{value}: no such folder")
        return value


def _presets():
    from speechgmm.features import PRESETS

    return sorted(PRESETS)


def opt(
    default=dataclasses.MISSING,
    rule: Optional[Rule] = None,
    *,
    flag: Optional[str] = None,
    short: Optional[str] = None,
    metavar: Optional[str] = None,
    help: str = "",
    default_text: Optional[str] = None,
    default_factory=dataclasses.MISSING,
):
    """A dataclass field with its command-line flag (None: library only), help and rule.

    ``default_text`` replaces the ``(default X)`` appended to ``help``; ``""`` appends nothing.
    """
    meta = dict(rule=rule, flag=flag, short=short, metavar=metavar, help=help, default_text=default_text)
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def _label(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or f.name


def validate(obj) -> None:
    """Apply every field's rule to ``obj`` (a dataclass); ConfigError naming the option."""
    for f in dataclasses.fields(obj):
        rule = f.metadata.get("rule")
        if rule is None:
            continue
        try:
            setattr(obj, f.name, rule.convert(getattr(obj, f.name)))
        except ValueError as exc:
            raise ConfigError(f"{_label(f)}: {exc}") from None


class _Options:
    def __post_init__(self):
        validate(self)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides):
        """Build from parsed arguments (flags registered by :func:`add_dataclass_arguments`)."""
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get("flag") and hasattr(args, f.name):
                kw[f.name] = getattr(args, f.name)
            elif isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
                kw[f.name] = f.default_factory.from_args(args)
        kw.update(overrides)
        return cls(**kw)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


ROOT_HELP = "folder that relative audio paths in {what} are relative to (default: {what}'s own folder)"


# -- the options ---------------------------------------------------------------------------------


@dataclass
class MapOptions(_Options):
    """MAP adaptation of class models from a UBM (Kaldi's ``MapDiagGmmOptions``)."""

    relevance_factor: float = opt(
        RELEVANCE_FACTOR,
        # 0: maximum likelihood where the class has frames; from about 1e6 on every component of any real
        # enrolment stays at the UBM's, a model no better than chance (1e308 was accepted)
        Float(0.0, hi=MAX_RELEVANCE_FACTOR),
        flag="--relevance-factor",
        metavar="R",
        help="MAP relevance factor (default {default:g}: best in cross-validation on the corpus's training speakers)",
    )
    adapt: str = opt(
        "m",
        Letters("mwv"),
        flag="--adapt",
        metavar="PARAMS",
        help="parameters to adapt: m, mw, mwv, ... (default {default})",
    )


def _seed_field():
    """``--seed``, shared by every options object that trains."""
    return opt(0, SEED, flag="--seed", metavar="SEED", help="random seed")


def _augment_field(
    help: str = "also train on a noisy, reverberant, MP3-coded and/or telephone-band copy of every file "
    "(noise, reverb, codec, telephone; comma-separated)",
):
    """``--augment``, shared by every options object that trains."""
    return opt((), AUGMENT, flag="--augment", metavar="KINDS", default_text="", help=help)


@dataclass
class UbmOptions(_Options):
    """A universal background model: ``train-ubm`` (binary splitting, then EM without a stopping rule)."""

    n_components: int = opt(256, Int(), flag="--components", short="-k", metavar="K", help="Gaussians")
    max_iter: int = opt(10, Int(1, MAX_ITER), flag="--iterations", metavar="N", help="EM iterations after splitting")
    init: str = opt("split", Choice(("split", "kmeans", "random")), flag="--init", help="initialisation")
    preset: str = opt(
        "speaker", Choice(_presets), flag="--preset", help="front end", default_text="(default: speaker, no CMN)"
    )
    random_state: int = _seed_field()
    augment: tuple[str, ...] = _augment_field()
    tol: float = opt(
        0.0,
        Float(0.0, hi=MAX_TOL),
        help="EM stops when the log-likelihood gain per frame is below tol (0: run every iteration)",
    )


@dataclass
class TrainOptions(_Options):
    """``train``: one GMM per class by EM, or MAP-adapted from a UBM (``method="map"``); ``method="auto"``
    chooses from the data (:func:`speechgmm.speakers.choose_method`)."""

    label_column: str = opt(
        "label",
        Text(optional=False),
        flag="--label-column",
        metavar="COL",
        help="column holding the class label",
        default_text="(default: label)",
    )
    n_components: int = opt(64, Int(), flag="--components", short="-k", metavar="K", help="Gaussians per class")
    max_iter: int = opt(20, Int(1, MAX_ITER), flag="--iterations", metavar="N", help="EM iterations")
    init: str = opt("kmeans", Choice(("kmeans", "split", "random")), flag="--init", help="initialisation")
    preset: Optional[str] = opt(
        None,
        Choice(_presets, optional=True),
        flag="--preset",
        help="front end",
        default_text="(default: default, or the UBM's with --ubm)",
    )
    random_state: int = _seed_field()
    augment: tuple[str, ...] = _augment_field(
        "multi-condition training: also train on a noisy, reverberant, MP3-coded and/or telephone-band copy of "
        "every file (noise, reverb, codec, telephone; comma-separated, e.g. noise,reverb); helps when the audio "
        "to classify is noisier, more reverberant, more compressed or more band-limited than the training audio"
    )
    tol: float = opt(1e-4, Float(0.0, hi=MAX_TOL), help="EM stops when the log-likelihood gain per frame is below tol")
    method: str = opt(
        "auto",
        Choice(("auto", "em", "map")),
        flag="--method",
        default_text="",
        help="auto (default): per-class EM when every class has enough frames for its components, "
        "else MAP from a UBM, and always MAP for a speaker column; em; or map",
    )
    ubm: Optional[str] = opt(
        None,
        Text(),
        flag="--ubm",
        metavar="UBM.npz",
        default_text="",
        help="background model from 'speechgmm train-ubm', or 'bundled' (95 TI training speakers, speaker "
        "front end; the default for a speaker column with --method auto) (implies --method map)",
    )
    ubm_components: int = opt(
        UbmOptions.n_components,
        Int(),
        flag="--ubm-components",
        metavar="K",
        help="size of the UBM trained here when --method map has no --ubm",
    )
    calibration: str = opt(
        "cv",
        Choice(("cv", "none")),
        flag="--calibration",
        help="cv: calibrate the posteriors by 2-fold cross-validation (over speakers when the manifest has a "
        "speaker column; costs about one more training); none: raw posteriors",
    )
    map: MapOptions = opt(default_factory=MapOptions)

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.map, MapOptions):
            raise ConfigError(f"map: expected MapOptions, got {self.map!r}")
        if self.ubm is not None:
            if self.method == "em":  # was silently overridden: "method map: --ubm given"
                raise ConfigError("--ubm: adapts the classes from that UBM (MAP), which --method em excludes; drop one")
            self.method = "map"  # --ubm implies --method map

    def ubm_options(self) -> UbmOptions:
        """The UBM that ``train --method map`` trains when no ``--ubm`` is given: split init, no
        stopping rule, the class models' iterations and seed."""
        return UbmOptions(
            n_components=self.ubm_components,
            max_iter=self.max_iter,
            init="split",
            preset=self.preset or "default",
            random_state=self.random_state,
            augment=self.augment,
        )

    def record(self) -> dict[str, Any]:
        """The training record stored in a model file's header.  The MAP options (``relevance_factor``,
        ``adapt``) are None for ``method="em"``: not used, so not recorded (QA: 'adapt=mwv' in the header of
        an EM model)."""
        em = self.method == "em"
        return {
            "method": self.method,
            "components": self.n_components,
            "iterations": self.max_iter,
            "init": self.init,
            "seed": self.random_state,
            "relevance_factor": None if em else self.map.relevance_factor,
            "adapt": None if em else self.map.adapt,
            "ubm": str(self.ubm) if self.ubm else None,
            "augment": list(self.augment),
            "calibration": self.calibration,
        }


@dataclass
class RunOptions(_Options):
    """Where the data is and how the work runs (not stored with the model)."""

    root: Optional[str] = opt(
        None, Folder(), flag="--root", metavar="DIR", default_text="", help=ROOT_HELP.format(what="the manifest")
    )
    jobs: int = opt(1, JOBS, flag="--jobs", short="-j", metavar="N", help="worker processes for feature extraction")
    cache_dir: Optional[str] = opt(
        None,
        Text(),
        flag="--cache",
        metavar="DIR",
        default_text="",
        help="write features to a Kaldi archive in DIR and stream them from disk in every "
        "EM pass (memory stays at one utterance per process: for corpora larger "
        "than RAM)",
    )

    def pipeline_kwargs(self) -> dict:
        """The keyword arguments of :func:`speechgmm.pipeline.train_from_manifest` (and the UBM's) these hold."""
        return {"root": self.root, "jobs": self.jobs, "cache_dir": self.cache_dir}


@dataclass
class DaskOptions(_Options):
    """A Dask cluster to run on (``pip install 'speechgmm[dask]'``)."""

    scheduler: Optional[str] = opt(
        None,
        Address(),
        flag="--scheduler",
        metavar="ADDRESS",
        default_text="",
        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786)",
    )
    dask: Optional[str] = opt(
        None,
        Choice(("local",), optional=True),
        flag="--dask",
        default_text="",
        help="start a local Dask cluster (LocalCluster) for this run",
    )
    dask_workers: int = opt(
        2, Int(1, MAX_JOBS), flag="--dask-workers", metavar="N", help="workers of the local cluster"
    )


# -- argparse registration (Kaldi's Register) ----------------------------------------------------


def argparse_type(rule: Rule, name: str = "value"):
    """``rule`` as an argparse ``type=``: its message is the usage error (``--jobs: expected a positive
    integer (at most 256), got '0'``), before any work starts.  The recipes' flags use it too."""

    def convert(text):
        try:
            return rule.convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def _arg_type(f: dataclasses.Field):
    return argparse_type(f.metadata["rule"], f.name)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit status 2), like every other error.  A
    value such as ``-1e9`` or ``-inf`` is a negative number, not an option (Python 3.11's argparse knew
    only ``-5`` and ``-.5``: ``--threshold -1e9`` was "expected one argument"), so it reaches the
    option's check.  The command line's parser, and the recipes'."""

    _NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._NEGATIVE

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _help(f: dataclasses.Field, default, override: Optional[str]) -> str:
    text = override if override is not None else f.metadata.get("help", "")
    if "{default" in text:
        return text.format(default=default)
    tail = f.metadata.get("default_text")
    if tail is None:
        tail = f"(default {default})"
    return f"{text} {tail}".strip()


def add_dataclass_arguments(
    parser,
    cls,
    *,
    only: Optional[Iterable[str]] = None,
    skip: Iterable[str] = (),
    help: Optional[dict[str, str]] = None,
) -> None:
    """Register the flagged fields of options class ``cls`` on ``parser`` (a parser or argument group).

    The flag's ``dest`` is the field name, its default the field's default, and its value is
    checked by the field's rule (so a bad value is refused before any work starts).
    """
    only = None if only is None else set(only)
    for f in dataclasses.fields(cls):
        flag = f.metadata.get("flag")
        if not flag or f.name in skip or (only is not None and f.name not in only):
            continue
        default = f.default
        rule = f.metadata["rule"]
        names = [flag] + ([f.metadata["short"]] if f.metadata.get("short") else [])
        parser.add_argument(
            *names,
            dest=f.name,
            default=default,
            type=_arg_type(f),
            metavar=f.metadata.get("metavar") or rule.metavar(),
            help=_help(f, default, (help or {}).get(f.name)),
        )


def defaults(cls) -> dict[str, Any]:
    """``{field name: default}`` of an options class."""
    out = {}
    for f in dataclasses.fields(cls):
        out[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return out
