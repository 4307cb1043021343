"""speechgmm evaluate: accuracy and confusion matrix on a labelled manifest."""

from __future__ import annotations

import sys

from speechgmm.commands import _common

HELP = "evaluate a model on a labelled manifest (accuracy, confusion matrix)"
DESCRIPTION = """\
Classify every file of MANIFEST with MODEL and compare with its labels: accuracy,
per-class precision/recall and the confusion matrix (rows = true class). The label
column defaults to the one the model was trained on.

How far to trust the posteriors: their cross-entropy against the labels (bits per file;
1 bit is a coin toss between two classes), the mean posterior of the chosen class, and how
many errors had a posterior above 0.99. Raw posteriors (every model but a calibrated one,
such as the bundled gender model) are near 1 also for most errors.

With --json the last line is one JSON object: accuracy, n, labels, confusion, per_class,
posteriors (cross_entropy_bits, mean_posterior, errors, sure_errors, calibrated).

When MANIFEST has labels that are not classes of the model (e.g. speakers never enrolled),
the report is an open-set one at the model's stored threshold ('classify --open-set';
--threshold overrides): the share of probes of enrolled classes labelled correctly, and of
the others labelled 'unknown'.
With --plot the confusion matrix is also saved as a PNG.

example:
  speechgmm evaluate test.csv --model digits.npz --plot confusion.png
"""


def add_arguments(p) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="labelled CSV/TSV manifest, Kaldi data dir or wav.scp")
    p.add_argument("--model", "-m", required=True, metavar="MODEL.npz", help="model file from 'speechgmm train'")
    p.add_argument("--label-column", metavar="COL", help="label column (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--plot", metavar="FILE.png", help="save the confusion matrix as a PNG")
    p.add_argument(
        "--threshold",
        type=_common.threshold,
        metavar="T",
        help="open-set threshold when the manifest has labels not in the model (default: the model's)",
    )
    _common.add_root(p)
    _common.add_jobs(p, "feature extraction and scoring")
    _common.add_dask(p)


def run(args) -> int:
    from speechgmm.metrics import format_report, plot_confusion
    from speechgmm.pipeline import evaluate_manifest

    if args.plot:
        inputs = [args.model, *_common.manifest_inputs(args.manifest, args.root)]
        _common.check_output_path(args.plot, inputs=inputs, suffix=".png", flag="--plot")
    mf = _common.load_classifier(args.model)
    with _common.dask_session(args) as client:
        rep = evaluate_manifest(
            mf,
            args.manifest,
            args.label_column,
            root=args.root,
            jobs=args.jobs,
            client=client,
            threshold=args.threshold,
            closed_set_for="--plot" if args.plot else None,
        )
    if rep.get("open_set"):
        from speechgmm.speakers import format_open_set

        if args.json:
            _common.print_json(rep)
        else:
            print(format_open_set(rep))
        return 0
    if args.threshold is not None:  # it was ignored without a word
        print(
            f"speechgmm evaluate: warning: --threshold ignored: every label of {args.manifest} is in the model, "
            "so the report is a closed-set one",
            file=sys.stderr,
        )
    # the report first: a plot that fails must not lose it
    if args.json:
        _common.print_json(rep)
    else:
        print(format_report(rep))
    if args.plot:
        sys.stdout.flush()  # the report stays ahead of a plotting error (metrics.pyplot names the extra)
        plot_confusion(rep, args.plot, title=f"{args.manifest}: accuracy {rep['accuracy']:.4f}")
        if not args.json:
            print(f"\nconfusion matrix saved to {args.plot}")
    return 0
