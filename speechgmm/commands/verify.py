"""speechgmm verify: score verification trials, EER / minDCF / DET curve."""
from __future__ import annotations

from pathlib import Path

from speechgmm.commands import _common

HELP = "score verification trials (claimed label vs test file): EER, minDCF, DET curve"
DESCRIPTION = """\
Score each trial of TRIALS with MODEL (a classifier from 'speechgmm train', best a MAP one
from '--ubm'): the score is the log-likelihood ratio of the claimed class's model against
the UBM (MAP models) or against the best competing class (EM models), per frame.

TRIALS has one trial per line, whitespace- or comma-separated:
    <enrolled label> <test audio file> <target|nontarget>
Relative paths are relative to the trials file's folder (or --root).

Prints EER and minDCF (NIST SRE 2008 operating point: P_target=0.01, C_miss=10, C_fa=1,
normalised); --det saves a DET curve (probit axes); -o writes per-trial scores.

example:
  speechgmm verify --model spk.npz --trials trials.txt --det det.png
"""


def add_arguments(p) -> None:
    p.add_argument("--model", "-m", required=True, metavar="MODEL.npz", help="classifier model file")
    p.add_argument("--trials", required=True, metavar="TRIALS", help="trial list: label, file, target/nontarget")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--det", metavar="FILE.png", help="save a DET curve")
    p.add_argument("-o", "--output", metavar="SCORES", help="write 'label file key score' per trial")
    _common.add_root(p)
    _common.add_jobs(p)


def read_trials(path, root=None):
    """[(label, Path, is_target)] from a trial list; ManifestError on a malformed line."""
    from speechgmm.errors import ManifestError

    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such trials file")
    base = Path(root) if root else path.parent
    trials = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.replace(",", " ").split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 3 or parts[2].lower() not in ("target", "nontarget"):
            raise ManifestError(f"{path}:{n}: expected '<label> <file> target|nontarget', got {line.strip()!r}")
        f = Path(parts[1])
        trials.append((parts[0], f if f.is_absolute() else base / f, parts[2].lower() == "target"))
    if not trials:
        raise ManifestError(f"{path}: no trials")
    return trials


def run(args) -> int:
    import numpy as np

    from speechgmm._util import atomic_output
    from speechgmm.errors import ManifestError
    from speechgmm.features import extract_files
    from speechgmm.verification import plot_det, verification_report

    mf = _common.load_classifier(args.model)
    clf = mf.classifier
    trials = read_trials(args.trials, args.root)
    unknown = sorted({t[0] for t in trials} - set(clf.labels_))
    if unknown:
        raise ManifestError(f"{args.trials}: labels not in the model: {', '.join(unknown[:5])}")
    missing = sorted({str(t[1]) for t in trials if not t[1].is_file()})
    if missing:
        raise ManifestError(f"{args.trials}: {len(missing)} audio file(s) not found: {', '.join(missing[:5])}")
    files = sorted({t[1] for t in trials})
    feats, _ = extract_files(files, mf.feature_config, jobs=args.jobs, desc="verify")
    totals, frames = clf.score_utterances(feats)
    index = {f: i for i, f in enumerate(files)}
    col = {lab: i for i, lab in enumerate(clf.labels_)}
    per_frame = totals / frames[:, None]
    scores = []
    for lab, f, _ in trials:
        row = per_frame[index[f]]
        if clf.method_ == "map":
            s = row[col[lab]]  # already an LLR against the UBM
        else:  # EM models: claimed class against the best other class
            others = np.delete(row, col[lab])
            s = row[col[lab]] - (others.max() if len(others) else 0.0)
        scores.append(float(s))
    scores = np.array(scores)
    is_t = np.array([t[2] for t in trials])
    if is_t.all() or not is_t.any():
        raise ManifestError(f"{args.trials}: needs both target and nontarget trials")
    rep = verification_report(scores[is_t], scores[~is_t])
    if args.output:
        with atomic_output(args.output) as tmp:
            tmp.write_text("".join(f"{lab} {f} {'target' if t else 'nontarget'} {s:.6f}\n"
                                   for (lab, f, t), s in zip(trials, scores)))
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
