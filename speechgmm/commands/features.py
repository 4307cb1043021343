"""speechgmm features: compute MFCC features into a Kaldi ark/scp."""

from __future__ import annotations

import sys

from speechgmm.commands import _common
from speechgmm.errors import SpeechGMMError

HELP = "compute features for a manifest or wav.scp into OUT.ark + OUT.scp"
DESCRIPTION = """\
Compute MFCC features for every file of INPUT (a CSV/TSV manifest with a 'path' column, a
Kaldi data dir, or a wav.scp) and write them as a Kaldi archive OUT.ark with its index
OUT.scp, keyed by utterance id (the manifest's 'utt'/'id' column, else the path as written;
ids must not be empty or hold spaces).  Relative audio paths resolve against the manifest's
own folder (or --root).  With a Kaldi data dir holding a 'segments' file, each utterance is
a region of a recording of wav.scp, and only that region is read.

Presets (see speechgmm.features.PRESETS):
  default     8 kHz MFCC, 13 cepstra + deltas + delta-deltas, per-utterance mean normalisation
  asr_course  exactly the course's Kaldi features (03-GMM-EM/*/feats.ark)
  speaker     no mean normalisation (keeps speaker/gender cues), with speech detection

Every file is tried; if any is bad, all bad files are listed by name on stderr, the
command exits with status 2 and no output is written.

example:
  speechgmm features data/train.csv -o feats/train.ark --preset asr_course --jobs 2
"""


def add_arguments(p) -> None:
    p.add_argument("input", metavar="INPUT", help="manifest (CSV/TSV with a 'path' column), Kaldi data dir or wav.scp")
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT.ark", help="output archive (OUT.scp is written beside it)"
    )
    from speechgmm.features import PRESETS

    p.add_argument("--preset", default="default", help=f"front-end preset: {', '.join(PRESETS)} (default: default)")
    _common.add_root(p)
    _common.add_jobs(p)


def kaldi_keys(utts, source) -> list:
    """The utterance ids of manifest ``source`` as Kaldi archive keys, unchanged.

    A key cannot be empty or hold whitespace; such ids are refused with one ManifestError
    naming the manifest (they are never renamed: a renamed id could collide with a real one).
    Duplicate ids are refused by :func:`speechgmm.manifest.read_manifest` already.
    """
    from speechgmm.errors import ManifestError

    bad = [repr(u) for u in utts if not u or any(c.isspace() for c in u)]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ManifestError(
            f"{source}: {len(bad)} utterance id(s) empty or with whitespace, which Kaldi archives "
            f"cannot hold: {shown}; give every row an id without spaces (an 'utt' column)"
        )
    return list(utts)


def run(args) -> int:
    from speechgmm.errors import AudioError
    from speechgmm.features import extract_files
    from speechgmm.kaldi import write_feats

    # neither the archive nor its index may replace an input (e.g. -o data/wav.ark next to data/wav.scp); the
    # other files of a Kaldi data dir may (QA: a rerun into data/feats.ark, Kaldi's own layout, was refused)
    from speechgmm.manifest import manifest_files, read_manifest

    inputs = [args.input, *manifest_files(args.input)]
    try:  # and the audio it names (QA: -o through a link to one of them wrote the archive over it)
        inputs += _common.manifest_inputs(args.input, args.root)
    except SpeechGMMError:  # not a manifest, or a broken one: reported with its reason when it is read
        pass
    out = _common.check_output_path(args.output, inputs=inputs)
    _common.check_output_path(out.with_suffix(".scp"), inputs=inputs)
    if out.suffix != ".ark":
        from speechgmm.errors import ConfigError

        raise ConfigError(f"{out}: output must end in .ark (the index is written as {out.with_suffix('.scp').name})")
    cfg = _common.feature_config(args.preset)
    # missing audio files are reported together with the unreadable ones, all by name
    man = read_manifest(args.input, root=args.root, check_files=False)
    keys = kaldi_keys(man.utts, args.input)
    feats, problems = extract_files(man.paths, cfg, jobs=args.jobs, desc="features", errors="collect")
    if problems:
        for msg in problems:
            print(f"speechgmm features: bad file: {msg}", file=sys.stderr)
        n = len(problems)
        raise AudioError(
            f"{args.input}: {n} of {len(feats)} audio file{'s' if len(feats) > 1 else ''} "
            f"{'are' if n > 1 else 'is'} bad (listed above); nothing written"
        )
    scp = write_feats(out, zip(keys, feats))
    n = sum(f.shape[0] for f in feats)
    print(f"wrote {len(feats)} utterances, {n} frames x {cfg.dim} dims to {out} (index {scp})")
    return 0
