"""speechgmm segment: who spoke when -- find the speech in long recordings and label it."""

from __future__ import annotations

import sys

from speechgmm.commands import _common

HELP = "find the speech in long recordings and label it over time (default: gender)"
DESCRIPTION = """\
Find the speech in each FILE (a podcast, a meeting, a radio hour: any length and channel
count, at the model's sample rate or above; the audio is streamed, memory stays flat) and label it over time with the
classes of a model (default: the bundled gender model; any 'speechgmm train' model works).

Speech detection follows the room's noise floor and ignores noise bursts; labels come from
per-frame class scores with a sliding mean normalisation over a few seconds of speech,
smoothed by Viterbi decoding with a minimum duration per label.

Output: a table 'path start end label' (seconds) per speech segment, then the speaking
time per label for each file. --json: one JSON object per file (path, duration, segments,
speaking_time). --rttm: NIST RTTM lines for diarization scoring tools. --plot: waveform
with coloured segments (needs: pip install 'speechgmm[plot]').

A file without speech gives no segments (not an error). A bad file is reported on stderr
by name, the others are still processed, and the exit status is 2.

examples:
  speechgmm segment meeting.flac
  speechgmm segment --json --rttm out.rttm show1.wav show2.wav
  speechgmm segment --model digits.npz --min-speech 0.1 --min-pause 0.2 call.wav
  speechgmm segment --model family.npz --open-set dinner.wav
"""


def _seconds(flag: str, text: str) -> float:
    """Parse a duration option (validated by SegmentOptions, so the message is one line)."""
    from speechgmm.errors import ConfigError

    try:
        return float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag} must be a number of seconds, not {text!r}") from None


def add_arguments(p) -> None:
    from speechgmm.segment import MIN_PAUSE, MIN_SPEECH

    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--model", "-m", metavar="MODEL.npz", help="classifier model (default: bundled gender model)")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--rttm", metavar="OUT.rttm", help="also write the segments as NIST RTTM")
    p.add_argument("--plot", metavar="OUT.png", help="waveform with coloured segments (PNG; one panel per file)")
    p.add_argument(
        "--min-speech",
        default=str(MIN_SPEECH),
        metavar="S",
        help=f"shortest run of speech kept, seconds (default {MIN_SPEECH:g}; 0 keeps every one); a run may "
        "hold several labels, so a segment can be shorter",
    )
    p.add_argument(
        "--min-pause",
        default=str(MIN_PAUSE),
        metavar="S",
        help=f"shorter pauses inside speech are bridged, seconds (default {MIN_PAUSE:g}; 0 bridges none)",
    )
    p.add_argument(
        "--open-set",
        action="store_true",
        help="label a segment 'unknown' when no class is close enough, as 'classify --open-set' does a file "
        "(a speaker model: strangers among enrolled voices; threshold stored in the model)",
    )
    p.add_argument(
        "--threshold",
        type=_common.threshold,
        metavar="T",
        help="open-set threshold instead of the model's stored one (implies --open-set; see 'classify --help')",
    )


def _plot_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _check_outputs(args) -> None:
    """Before any work: --rttm / --plot must not clobber an input or each other."""
    from pathlib import Path

    from speechgmm.errors import ConfigError

    if args.rttm and args.plot and Path(args.rttm).resolve() == Path(args.plot).resolve():
        raise ConfigError(f"{args.rttm}: --rttm and --plot name the same file")
    inputs = list(args.files) + [args.model]
    if args.rttm:
        from speechgmm.segment import check_rttm_file_ids

        _common.check_output_path(args.rttm, inputs, ".rttm", flag="--rttm")
        check_rttm_file_ids(args.files)
    if args.plot:
        _common.check_output_path(args.plot, inputs, ".png", flag="--plot")


def _print_json(r, times) -> None:
    _common.print_json(
        {
            "path": r.path,
            "duration": round(r.duration, 3),
            "segments": [{"start": a, "end": b, "label": lab} for a, b, lab in r.segments],
            "speaking_time": {k: round(v, 3) for k, v in times.items()},
        }
    )


def _cell(text) -> str:
    """``text`` for one tab-separated cell: a tab, a newline or another control character in a file name
    (or label) is written as its escape (``\\t``, ``\\n``), so every segment stays one row of 4 cells (a byte
    of a file name that is not UTF-8 as ``\\xff``, as in the RTTM)."""
    from speechgmm.segment import printable

    return printable(text)


def _print_rows(r, times) -> None:
    path = _cell(r.path)
    for a, b, lab in r.segments:
        print(f"{path}\t{a:.2f}\t{b:.2f}\t{_cell(lab)}")
    total = sum(times.values())
    shares = ", ".join(
        f"{_cell(lab)} {v:.1f} s ({100 * v / total:.1f} %)" if total else f"{_cell(lab)} 0.0 s"
        for lab, v in times.items()
    )
    print(f"# {path}: {r.duration:.1f} s, speech {total:.1f} s: {shares}")


def _write_rttm(results, out) -> None:
    from speechgmm._util import atomic_output
    from speechgmm.segment import rttm_lines

    with atomic_output(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for r in results:
                fh.writelines(line + "\n" for line in rttm_lines(r))


def _plot(results, out, problems) -> None:
    if _plot_available():
        from speechgmm.segment import plot_segments

        plot_segments(results, out)
    else:
        problems.append(f"{out}: not written: --plot needs matplotlib: pip install 'speechgmm[plot]'")


def run(args) -> int:
    from speechgmm.errors import SpeechGMMError
    from speechgmm.segment import SegmentOptions, check_rttm_labels, segment

    opt = SegmentOptions(
        min_speech=_seconds("--min-speech", args.min_speech), min_pause=_seconds("--min-pause", args.min_pause)
    )
    _check_outputs(args)
    model = _Named(_common.load_classifier(args.model), args.model)
    open_set = args.open_set or args.threshold is not None
    if open_set:  # before any file is read: a model without a stored threshold is one error, not one per file
        from speechgmm.speakers import UNKNOWN, open_set_rule

        open_set_rule(model.classifier.labels_, model.header, args.threshold, model.name)
    if args.rttm:  # two labels that would be one speaker in the RTTM
        check_rttm_labels(list(model.classifier.labels_) + ([UNKNOWN] if open_set else []), model.name)
    results, problems = [], []
    if not args.json:
        print("path\tstart\tend\tlabel")
    for path in args.files:
        try:
            r = segment(path, model, opt, show_progress=True, open_set=open_set, threshold=args.threshold)
        except SpeechGMMError as exc:
            problems.append(" ".join(str(exc).split()))
            continue
        results.append(r)
        (_print_json if args.json else _print_rows)(r, r.speaking_time())
        sys.stdout.flush()
    if args.rttm and results:
        _write_rttm(results, args.rttm)
    if args.plot and results:
        _plot(results, args.plot, problems)
    for msg in problems:
        print(f"speechgmm segment: error: {msg}", file=sys.stderr)
    return 2 if problems else 0


class _Named:
    """A loaded model that keeps its file name for messages."""

    def __init__(self, mf, name):
        self.classifier, self.feature_config, self.header = mf.classifier, mf.feature_config, mf.header
        self.name = f"model {name}" if name else "the bundled gender model"
