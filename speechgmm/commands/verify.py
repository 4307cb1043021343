"""speechgmm verify: score verification trials, EER / minDCF / DET curve."""

from __future__ import annotations

import sys
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

Score normalisation (MAP models; Auckenthaler et al. 2000), against a cohort of other
speakers: z-norm subtracts the mean and divides by the std of the claimed model's scores on
cohort files; t-norm those of the test file's scores on cohort models; s-norm averages the
two. The cohort is the UBM's training speakers, stored by 'train-ubm' when its manifest has
a 'speaker' column, or --cohort MANIFEST. --norm picks the scores written by -o and --det
(default s whenever a cohort is available); EER and minDCF are printed for every norm.

example:
  speechgmm verify --model spk.npz --trials trials.txt --det det.png
"""


def add_arguments(p) -> None:
    p.add_argument("--model", "-m", required=True, metavar="MODEL.npz", help="classifier model file")
    p.add_argument(
        "--trials",
        required=True,
        metavar="TRIALS",
        help="trial list: 'label file target|nontarget' per line, or a CSV with a header",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--det", metavar="FILE.png", help="save a DET curve")
    p.add_argument(
        "-o",
        "--output",
        metavar="SCORES",
        help="write 'label file key score' per trial (a CSV table label,path,target,score when a label or "
        "path holds a space or comma)",
    )
    p.add_argument(
        "--norm",
        choices=["none", "z", "t", "s"],
        default=None,
        help="score normalisation against a cohort (default: s whenever a cohort is available, else none)",
    )
    p.add_argument(
        "--cohort",
        metavar="MANIFEST",
        help="cohort speakers (a manifest with a 'speaker' column; default: the UBM's training speakers "
        "stored in the model); its relative paths are relative to --root if given",
    )
    _common.add_root(p, "the trials file")
    _common.add_jobs(p)


def _cohort(args, mf):
    """The cohort for score normalisation: --cohort if given, else the one stored in the model."""
    clf = mf.classifier
    if not args.cohort:
        from speechgmm.speakers import warn_cohort_overlap

        cohort = getattr(clf, "cohort_", None)
        if cohort is not None:
            warn_cohort_overlap(f"{args.model} (the cohort stored with its UBM)", cohort.speakers, clf.labels_)
        return cohort
    from speechgmm.speakers import cohort_from_manifest

    return cohort_from_manifest(clf, args.cohort, mf.feature_config, root=args.root, jobs=args.jobs)


def _write_scores(out, trials, scores) -> None:
    from speechgmm._util import atomic_output

    rows = [(t.label, str(t.path), "target" if t.target else "nontarget", f"{s:.6f}") for t, s in zip(trials, scores)]
    with atomic_output(out) as tmp:
        if any(c.isspace() or c == "," for r in rows for c in r[0] + r[1]):
            import csv
            import io

            # a label or path with a space or comma (QA: the lines could not be split again): a CSV table, which
            # is still a trials file (the form that can hold such paths) with a score column
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["label", "path", "target", "score"])
            w.writerows(rows)
            tmp.write_text(buf.getvalue())
        else:
            tmp.write_text("".join(" ".join(r) + "\n" for r in rows))


def _print_report(args, trials, rep, reports, norm) -> None:
    if args.json:
        _common.print_json(rep)
        return
    print(f"trials {len(trials)} ({rep['n_target']} target, {rep['n_nontarget']} nontarget)")
    print(f"{'norm':<6} {'EER':>8} {'minDCF':>8}   (minDCF: P_target=0.01, C_miss=10, C_fa=1)")
    for name, r in reports.items():
        mark = "  <- used for -o/--det" if name == norm and (args.output or args.det) else ""
        print(f"{name:<6} {100 * r['eer']:7.2f}% {r['min_dcf']:8.4f}{mark}")


def _plot(args, scores, is_t, norm) -> None:
    from speechgmm.verification import plot_det

    sys.stdout.flush()
    plot_det(scores[is_t], scores[~is_t], args.det, title=f"DET: {Path(args.model).name} ({norm}-norm)")
    if not args.json:
        print(f"DET curve saved to {args.det}")


def _check_outputs(args, trials) -> None:
    """Before any work: -o and --det never replace an input (the trial list, the model, the trials' and
    the cohort's audio, the cohort manifest) nor each other."""
    from speechgmm.errors import ConfigError

    if args.output and args.det and Path(args.output).resolve() == Path(args.det).resolve():
        raise ConfigError(f"{args.output}: -o and --det name the same file")
    inputs = [args.trials, args.model, *(t.path for t in trials)]
    if args.cohort:
        inputs += _common.manifest_inputs(args.cohort, args.root)
    for out, suffix, flag in ((args.output, "", "-o"), (args.det, ".png", "--det")):
        if out:
            _common.check_output_path(out, inputs=inputs, suffix=suffix, flag=flag)


def run(args) -> int:
    import numpy as np

    from speechgmm.features import extract_files
    from speechgmm.speakers import resolve_norm, verify_norms
    from speechgmm.verification import (
        check_trials,
        read_trials,
        trial_files,
        verification_report,
        verification_scores,
    )

    trials = read_trials(args.trials, args.root)
    _check_outputs(args, trials)
    mf = _common.load_classifier(args.model)
    clf = mf.classifier
    check_trials(trials, clf.labels_, args.trials)
    files = trial_files(trials)
    cohort = _cohort(args, mf)
    norm = resolve_norm(clf, cohort, args.norm)
    feats, _ = extract_files(files, mf.feature_config, jobs=args.jobs, desc="verify")
    totals, frames = clf.score_utterances(feats)
    norm, by_norm = verify_norms(clf, totals, frames, feats, cohort, norm)
    is_t = np.array([t.target for t in trials])
    reports = {}
    for name, tot in by_norm.items():
        sc = verification_scores(clf, tot, frames, trials)
        reports[name] = verification_report(sc[is_t], sc[~is_t])
    scores = verification_scores(clf, by_norm[norm], frames, trials)
    rep = dict(reports[norm], norm=norm, by_norm=reports)
    if args.output:
        _write_scores(args.output, trials, scores)
    # the report first: a DET plot that cannot be saved (no matplotlib, disk full) must not lose it
    _print_report(args, trials, rep, reports, norm)
    if args.det:
        _plot(args, scores, is_t, norm)
    return 0
