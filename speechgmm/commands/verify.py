"""speechgmm verify: score verification trials, EER / minDCF / DET curve."""
from __future__ import annotations

from pathlib import Path

from speechgmm.commands import _common

HELP = "score verification trials (claimed label vs test file): EER, minDCF, DET curve"
DESCRIPTION = """\
Score each trial of TRIALS with MODEL (a classifier from 'speechgmm train', best a MAP one
from '--ubm'): the score is the log-likelihood ratio of the claimed class's model against
the UBM (MAP models) or against the best competing class (EM models), per frame.

TRIALS has one trial per line, whitespace- or comma-separated ('#' starts a comment):
    <enrolled label> <test audio file> <target|nontarget>
or is a CSV/TSV table with a header holding 'label', 'path' and 'target' (or 'key')
columns (comma, semicolon or tab separated); only a table can hold paths with spaces or
commas, quoted as in any CSV:
    label,path,target
    alice,"takes/take 2, final.wav",target
Relative paths are relative to the trials file's folder (or --root).  Labels that the
model does not have and missing audio files are all named before any scoring.

Prints EER and minDCF (NIST SRE 2008 operating point: P_target=0.01, C_miss=10, C_fa=1,
normalised); --det saves a DET curve (probit axes); -o writes per-trial scores.

example:
  speechgmm verify --model spk.npz --trials trials.txt --det det.png
"""


def add_arguments(p) -> None:
    p.add_argument("--model", "-m", required=True, metavar="MODEL.npz", help="classifier model file")
    p.add_argument("--trials", required=True, metavar="TRIALS",
                   help="trial list: 'label file target|nontarget' per line, or a CSV with a header")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--det", metavar="FILE.png", help="save a DET curve")
    p.add_argument("-o", "--output", metavar="SCORES", help="write 'label file key score' per trial")
    _common.add_root(p, "the trials file")
    _common.add_jobs(p)


def run(args) -> int:
    import numpy as np

    from speechgmm._util import atomic_output
    from speechgmm.features import extract_files
    from speechgmm.verification import (
        check_trials,
        plot_det,
        read_trials,
        trial_files,
        verification_report,
        verification_scores,
    )

    for out in (args.output, args.det):  # before any work: never clobber an input, never lose the scores
        if out:
            _common.check_output_path(out, inputs=(args.trials, args.model))
    mf = _common.load_classifier(args.model)
    clf = mf.classifier
    trials = read_trials(args.trials, args.root)
    check_trials(trials, clf.labels_, args.trials)
    files = trial_files(trials)
    feats, _ = extract_files(files, mf.feature_config, jobs=args.jobs, desc="verify")
    totals, frames = clf.score_utterances(feats)
    scores = verification_scores(clf, totals, frames, trials)
    is_t = np.array([t.target for t in trials])
    rep = verification_report(scores[is_t], scores[~is_t])
    if args.output:
        with atomic_output(args.output) as tmp:
            tmp.write_text("".join(f"{t.label} {t.path} {'target' if t.target else 'nontarget'} {s:.6f}\n"
                                   for t, s in zip(trials, scores)))
    if args.det:
        plot_det(scores[is_t], scores[~is_t], args.det, title=f"DET: {Path(args.model).name}")
    if args.json:
        _common.print_json(rep)
    else:
        print(f"trials {len(trials)} ({rep['n_target']} target, {rep['n_nontarget']} nontarget)")
        print(f"EER     {100 * rep['eer']:.2f} %")
        print(f"minDCF  {rep['min_dcf']:.4f}  (P_target=0.01, C_miss=10, C_fa=1)")
        if args.det:
            print(f"DET curve saved to {args.det}")
    return 0
