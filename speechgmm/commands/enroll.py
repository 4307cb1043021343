"""speechgmm enroll: add classes (speakers) to a MAP model without retraining the others."""

from __future__ import annotations

from speechgmm.commands import _common

HELP = "add or replace classes (e.g. speakers) of a MAP model, adapted from its own UBM"
DESCRIPTION = """\
Add the classes of MANIFEST to MODEL, or replace those with the same label, and write the
result to OUT. Each class is MAP-adapted from the model's own UBM with the model's relevance
factor; the classes already in the model are not touched, so the class models equal training
all classes at once with the same UBM. The open-set threshold ('classify --open-set') is
recalibrated with leave-one-speaker-out impostor trials of the new classes, next to the old
classes' trials as they were stored (their files are not in MODEL), so it can differ a little
from the threshold of training all at once; the posteriors'
calibration scale of MODEL (if any) is kept for the new classes ('speechgmm info' shows both).

MODEL must be a MAP model ('speechgmm train --method map', '--ubm U.npz', or the default
'--method auto' with a speaker column). Every class needs at least 1 s of speech.
Features are computed with the model's front end.

examples:
  speechgmm enroll family.npz new_voices.csv -o family2.npz
  speechgmm enroll spk.npz grandma.csv --label-column speaker -o spk2.npz
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.npz", help="MAP classifier to enrol into (not modified)")
    p.add_argument(
        "manifest", metavar="MANIFEST", help="CSV/TSV manifest, Kaldi data dir or wav.scp of the new classes"
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="model file to write")
    p.add_argument(
        "--label-column",
        default=None,
        metavar="COL",
        help="column holding the class label (default: the model's label column)",
    )
    p.add_argument("--preset", default=None, help="front end; must be the model's (default: the model's front end)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    _common.add_root(p)
    _common.add_jobs(p)


def run(args) -> int:
    from speechgmm.speakers import NO_OPEN_SET_WHY, enroll_from_manifest, pending_trials_note

    inputs = [args.model, *_common.manifest_inputs(args.manifest, args.root)]
    _common.check_output_path(args.output, inputs=inputs, suffix=".npz")
    s = enroll_from_manifest(
        args.model,
        args.manifest,
        args.output,
        label_column=args.label_column,
        preset=args.preset,
        root=args.root,
        jobs=args.jobs,
    )
    added, replaced = s["added"], s["replaced"]
    parts = []
    if added:
        parts.append(f"added {len(added)} ({', '.join(added[:8])}{', ...' if len(added) > 8 else ''})")
    if replaced:
        parts.append(f"replaced {len(replaced)} ({', '.join(replaced[:8])}{', ...' if len(replaced) > 8 else ''})")
    thr = s.get("threshold")
    print(
        f"enrolled {' and '.join(parts)} from {s['files']} files; the model now has {s['n_classes']} classes"
        + (
            f"; open-set threshold {thr:.3f}"
            if thr is not None
            else f"; no open-set threshold stored ({NO_OPEN_SET_WHY}{pending_trials_note(s['impostor_trials'])})"
        )
        + f", in {s['seconds']:.2f} s -> {s['output']}"
    )
    if args.json:
        _common.print_json(s)
    return 0
