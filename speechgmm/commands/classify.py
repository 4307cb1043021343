"""speechgmm classify: label audio files with a trained model."""
from __future__ import annotations

import sys

from speechgmm.commands import _common

HELP = "classify audio files (default model: the bundled gender model)"
DESCRIPTION = """\
Classify each FILE with a model from 'speechgmm train' (default: the gender model bundled
with speechgmm). Audio of any sample rate / channel count is converted to the model's
front end (resampled, channels averaged).

Output: a table (file, label, posterior, per-class average log-likelihood per frame), or
with --json one JSON object per line: path, label, scores (total log-likelihood per
class), mean_scores (per frame), posteriors, frames.

A bad file is reported on stderr by name; the others are still classified and the exit
status is 2.

examples:
  speechgmm classify examples/*.wav
  speechgmm classify --model digits.npz --json a.wav b.flac
"""


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--model", "-m", metavar="MODEL.npz", help="model file (default: bundled gender model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _common.add_jobs(p)
    _common.add_dask(p)


def run(args) -> int:
    import numpy as np

    from speechgmm.pipeline import score_files

    mf = _common.load_classifier(args.model)
    clf = mf.classifier
    client = _common.dask_client(args)
    try:
        totals, frames, good, problems = score_files(clf, mf.feature_config, args.files, jobs=args.jobs, client=client)
    finally:
        if client is not None:
            client.close()
    post = clf.posteriors_from_scores(totals) if len(good) else np.zeros((0, len(clf.labels_)))
    if not args.json and good:
        width = max(len(args.files[i]) for i in good)
        heads = "  ".join(f"{lab:>9}" for lab in clf.labels_)
        print(f"{'file':<{width}}  {'label':>8}  {'posterior':>9}  {heads}   (mean log-likelihood per frame)")
    for row, i in enumerate(good):
        best = int(np.argmax(totals[row] + clf._log_priors()))
        label = clf.labels_[best]
        if args.json:
            _common.print_json({
                "path": args.files[i], "label": label,
                "scores": {lab: float(v) for lab, v in zip(clf.labels_, totals[row])},
                "mean_scores": {lab: float(v / frames[row]) for lab, v in zip(clf.labels_, totals[row])},
                "posteriors": {lab: float(v) for lab, v in zip(clf.labels_, post[row])},
                "frames": int(frames[row])})
        else:
            scores = "  ".join(f"{v / frames[row]:9.3f}" for v in totals[row])
            print(f"{args.files[i]:<{width}}  {label:>8}  {post[row, best]:9.4f}  {scores}")
    for msg in problems:
        print(f"speechgmm classify: error: {msg}", file=sys.stderr)
    return 2 if problems else 0
