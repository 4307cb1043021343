"""speechgmm features: compute MFCC features into a Kaldi ark/scp."""
from __future__ import annotations

import re
import sys

from speechgmm.commands import _common

HELP = "compute features for a manifest or wav.scp into OUT.ark + OUT.scp"
DESCRIPTION = """\
Compute MFCC features for every file of INPUT (a CSV/TSV manifest with a 'path' column, a
Kaldi data dir, or a wav.scp) and write them as a Kaldi archive OUT.ark with its index
OUT.scp, keyed by utterance id (the manifest's 'utt'/'id' column, else derived from the
path).  Relative audio paths resolve against the manifest's own folder (or --root).

Presets (see speechgmm.features.PRESETS):
  default     8 kHz MFCC, 13 cepstra + deltas + delta-deltas, per-utterance mean normalisation
  asr_course  exactly the course's Kaldi features (03-GMM-EM/*/feats.ark)
  speaker     no mean normalisation (keeps speaker/gender cues) and an energy VAD

Every file is tried; if any is bad, all bad files are listed by name on stderr, the
command exits with status 2 and no output is written.

example:
  speechgmm features data/train.csv -o feats/train.ark --preset asr_course --jobs 2
"""


def add_arguments(p) -> None:
    p.add_argument("input", metavar="INPUT", help="manifest (CSV/TSV with a 'path' column), Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="OUT.ark", help="output archive (OUT.scp is written beside it)")
    p.add_argument("--preset", default="default", help="front-end preset: default, asr_course, speaker (default: default)")
    _common.add_root(p)
    _common.add_jobs(p)


def kaldi_keys(utts) -> list:
    """Utterance ids usable as Kaldi archive keys (no whitespace), still unique.

    Whitespace runs become ``_``; if that makes two keys equal, ``-2``, ``-3``... are appended.
    """
    out, seen = [], set()
    for u in utts:
        k = re.sub(r"\s+", "_", str(u).strip()) or "utt"
        base, n = k, 1
        while k in seen:
            n += 1
            k = f"{base}-{n}"
        seen.add(k)
        out.append(k)
    return out


def run(args) -> int:
    from speechgmm.errors import AudioError
    from speechgmm.features import extract_files
    from speechgmm.kaldi import write_feats
    from speechgmm.manifest import read_manifest

    out = _common.check_output_path(args.output)
    if out.suffix != ".ark":
        from speechgmm.errors import ConfigError

        raise ConfigError(f"{out}: output must end in .ark (the index is written as {out.with_suffix('.scp').name})")
    cfg = _common.feature_config(args.preset)
    # missing audio files are reported together with the unreadable ones, all by name
    man = read_manifest(args.input, root=args.root, check_files=False)
    feats, problems = extract_files(man.paths, cfg, jobs=args.jobs, desc="features", errors="collect")
    if problems:
        for msg in problems:
            print(f"speechgmm features: bad file: {msg}", file=sys.stderr)
        n = len(problems)
        raise AudioError(f"{args.input}: {n} of {len(feats)} audio file{'s are' if n > 1 else ' is'} bad "
                         f"(listed above); nothing written")
    scp = write_feats(out, zip(kaldi_keys(man.utts), feats))
    n = sum(f.shape[0] for f in feats)
    print(f"wrote {len(feats)} utterances, {n} frames x {cfg.dim} dims to {out} (index {scp})")
    return 0
