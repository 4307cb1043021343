"""speechgmm features: compute MFCC features into a Kaldi ark/scp."""
from __future__ import annotations

from speechgmm.commands import _common

HELP = "compute features for a manifest or wav.scp into OUT.ark + OUT.scp"
DESCRIPTION = """\
Compute MFCC features for every file of INPUT (a CSV/TSV manifest with a 'path' column, a
Kaldi data dir, or a wav.scp) and write them as a Kaldi archive OUT.ark with its index
OUT.scp, keyed by utterance id (the manifest's 'utt'/'id' column, else its path).

If any file is bad, all bad files are reported by name and nothing is written.

example:
  speechgmm features data/train.csv -o feats/train.ark --preset asr_course --jobs 2
"""


def add_arguments(p) -> None:
    p.add_argument("input", metavar="INPUT", help="manifest (CSV/TSV with a 'path' column), Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="OUT.ark", help="output archive (OUT.scp is written beside it)")
    p.add_argument("--preset", default="default", help="front-end preset: default, asr_course, speaker (default: default)")
    _common.add_root(p)
    _common.add_jobs(p)


def run(args) -> int:
    from speechgmm.features import extract_files
    from speechgmm.kaldi import write_feats
    from speechgmm.manifest import read_manifest

    out = _common.check_output_path(args.output)
    cfg = _common.feature_config(args.preset)
    man = read_manifest(args.input, root=args.root)
    feats, _ = extract_files(man.paths, cfg, jobs=args.jobs, desc="features")
    scp = write_feats(out, zip(man.utts, feats))
    n = sum(f.shape[0] for f in feats)
    print(f"wrote {len(feats)} utterances, {n} frames x {cfg.dim} dims to {out} (index {scp})")
    return 0
