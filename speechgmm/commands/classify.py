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
class), mean_scores (per frame), posteriors, frames, speech_seconds (with --open-set also
open_set_score and threshold). A model that stores
a calibration ('speechgmm info' shows it: the bundled gender model's was fitted on corpora
it did not train on, a 'speechgmm train' model's by cross-validation on its training files)
gives calibrated posteriors; other models give the raw ones, which treat every frame as
independent evidence and so read 1.0000 also when wrong.

Models whose front end detects speech (every preset but asr_course) score speech frames
only: pauses and noise are dropped first. A file with no speech ("no speech detected") or
less than 0.2 s of it is reported instead of classified.

With --open-set a file is labelled 'unknown' when no class is close enough: when its
open-set score stays below the model's threshold. The score is the margin of the best
class's mean log-likelihood per frame over the second best, plus half the best one
t-normalised against the other classes (its distance from their mean, in their standard
deviations); the threshold is calibrated at training/enrolment so that 10 % of
leave-one-speaker-out impostor trials pass, and --threshold T overrides it. It tells
strangers' voices from enrolled ones; tones and music that pass speech detection (a
doorbell, a ringtone) are scored as speech and may be named (QA: 5 of 7 two-tone bells).

A bad file is reported on stderr by name; the others are still classified and the exit
status is 2.

examples:
  speechgmm classify examples/*.wav
  speechgmm classify --model digits.npz --json a.wav b.flac
  speechgmm classify --model family.npz --open-set voicemail.wav
"""


def add_arguments(p) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--model", "-m", metavar="MODEL.npz", help="model file (default: bundled gender model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--open-set",
        action="store_true",
        help="label a file 'unknown' when no class is close enough (threshold stored in the model)",
    )
    p.add_argument(
        "--threshold",
        type=_common.threshold,
        metavar="T",
        help="open-set threshold: minimum open-set score (margin of the best class over the second best, "
        "in log-likelihood per frame, plus half the best t-normalised against the other classes; default: "
        "the model's calibrated one; implies --open-set)",
    )
    _common.add_jobs(p, "feature extraction and scoring")
    _common.add_dask(p)


def _table(args, clf, totals, frames, good, post, pred, names, seconds=None) -> None:
    width = max(len(args.files[i]) for i in good)
    heads = "  ".join(f"{lab:>9}" for lab in clf.labels_)
    what = "log-likelihood ratio against the UBM" if clf.method_ == "map" else "log-likelihood"
    print(f"{'file':<{width}}  {'label':>8}  {'posterior':>9}  {heads}   (mean {what} per frame)")
    for row, i in enumerate(good):
        scores = "  ".join(f"{v / frames[row]:9.3f}" for v in totals[row])
        p = f"{'-':>9}" if pred[row] is None else f"{post[row, pred[row]]:9.4f}"
        print(f"{args.files[i]:<{width}}  {names[row]:>8}  {p}  {scores}")


def _json_lines(args, clf, totals, frames, good, post, pred, names, seconds, open_set=None) -> None:
    for row, i in enumerate(good):
        extra = {}
        if open_set is not None:  # the score the decision compared, to choose a --threshold with (QA)
            extra = {"open_set_score": round(float(open_set[0][row]), 4), "threshold": float(open_set[1])}
        _common.print_json(
            {
                "path": args.files[i],
                "label": names[row],
                "scores": {lab: float(v) for lab, v in zip(clf.labels_, totals[row])},
                "mean_scores": {lab: float(v / frames[row]) for lab, v in zip(clf.labels_, totals[row])},
                "posteriors": {lab: float(v) for lab, v in zip(clf.labels_, post[row])},
                "frames": int(frames[row]),
                "speech_seconds": round(float(seconds[row]), 2),
                **extra,
            }
        )


def _open_set_threshold(args, mf):
    """``(threshold, t weight)`` of the open-set score, or None when --open-set / --threshold are not given."""
    if not (args.open_set or args.threshold is not None):
        return None
    from speechgmm.speakers import open_set_rule

    return open_set_rule(mf.classifier.labels_, mf.header, args.threshold, mf.path)


def _drop_short(args, mf, totals, frames, good, problems):
    """Seconds of speech scored per file; files with too little speech move to the problems."""
    import numpy as np

    from speechgmm.vad import MIN_SPEECH_SECONDS, short_speech_message

    # frames scored = speech frames when the front end detects speech (all frames otherwise)
    seconds = np.asarray(frames, dtype=np.float64) * mf.feature_config.frame_shift_ms / 1000.0
    if mf.feature_config.vad and len(good):
        short = seconds < MIN_SPEECH_SECONDS
        problems = list(problems) + [
            short_speech_message(args.files[i], s) for i, s, sh in zip(good, seconds, short) if sh
        ]
        keep = ~short
        totals, frames, seconds = totals[keep], np.asarray(frames)[keep], seconds[keep]
        good = [i for i, k in zip(good, keep) if k]
    return totals, frames, seconds, good, problems


def _predict(clf, totals, frames, good, threshold):
    """Posteriors, predicted class indices and the label names (open-set: 'unknown' when not close, and no
    class index: the closed-set posterior of the best class would read as certainty)."""
    import numpy as np

    if not len(good):
        return np.zeros((0, len(clf.classes_))), [], [], None
    post = clf.posteriors_from_scores(totals, frames)
    index = {lab: i for i, lab in enumerate(clf.classes_)}
    pred = [index[lab] for lab in clf.predict_from_scores(totals, frames)]
    names = [clf.classes_[p] for p in pred]
    if threshold is not None:
        from speechgmm.speakers import UNKNOWN, open_set_predict

        names, scores = open_set_predict(totals / frames[:, None], clf.classes_, *threshold)
        pred = [None if n == UNKNOWN else p for n, p in zip(names, pred)]
        return post, pred, names, (scores, threshold[0])
    return post, pred, names, None


def run(args) -> int:
    from speechgmm.audio import STDIN
    from speechgmm.errors import ConfigError
    from speechgmm.pipeline import score_files

    if args.files.count(STDIN) > 1:
        raise ConfigError(f"'{STDIN}' (standard input) is given {args.files.count(STDIN)} times; it can be read once")
    mf = _common.load_classifier(args.model)
    clf = mf.classifier
    threshold = _open_set_threshold(args, mf)
    with _common.dask_session(args) as client:
        totals, frames, good, problems = score_files(clf, mf.feature_config, args.files, jobs=args.jobs, client=client)
    totals, frames, seconds, good, problems = _drop_short(args, mf, totals, frames, good, problems)
    post, pred, names, open_set = _predict(clf, totals, frames, good, threshold)
    if good and args.json:
        _json_lines(args, clf, totals, frames, good, post, pred, names, seconds, open_set)
    elif good:
        _table(args, clf, totals, frames, good, post, pred, names, seconds)
    for msg in problems:
        print(f"speechgmm classify: error: {msg}", file=sys.stderr)
    return 2 if problems else 0
