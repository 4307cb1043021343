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

    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def _check_outputs(args) -> None:
    """Before any work: --rttm / --plot must not clobber an input or each other; --plot needs matplotlib."""
    from pathlib import Path

    from speechgmm.errors import ConfigError

    if args.rttm and args.plot and Path(args.rttm).resolve() == Path(args.plot).resolve():
        raise ConfigError(f"{args.rttm}: --rttm and --plot name the same file")
    if args.plot and not _plot_available():
        raise ConfigError(f"{args.plot}: --plot needs matplotlib: pip install 'speechgmm[plot]'")
    inputs = list(args.files) + [args.model]
    if args.rttm:
        from speechgmm.segment import check_rttm_file_ids

        _common.check_output_path(args.rttm, inputs, ".rttm", flag="--rttm")
        check_rttm_file_ids(args.files)
    if args.plot:
        _common.check_output_path(args.plot, inputs, ".png", flag="--plot")


class _Stdout:
    """Standard output of the table (or JSON lines).  When it goes away (``| head`` closed the pipe, the shell
    closed it: ``>&-``, a full disk: ``> /dev/full``), printing stops and the work goes on, so that the outputs
    to files (--rttm, --plot) are still written; :attr:`problem` then says why (None after a closed pipe:
    its reader had all it wanted)."""

    def __init__(self):
        self.stopped = False
        self.problem = None
        if sys.stdout is None:  # closed before the start (Python then has no sys.stdout)
            self._stop("standard output is closed: the table was not printed")

    def write(self, text: str) -> None:
        if self.stopped:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()  # line by line: an RTTM to /dev/stdout goes after it
        except BrokenPipeError:
            self._stop(None)
        except (OSError, ValueError) as exc:  # ValueError: closed by the program itself
            why = getattr(exc, "strerror", None) or " ".join(str(exc).split())
            self._stop(f"standard output: {why}: the table was not printed in full")

    def _stop(self, problem) -> None:
        import os

        self.stopped, self.problem = True, problem
        # what is still buffered, and Python's flush at exit, go nowhere instead of failing again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        try:
            os.fstat(1)
            os.dup2(devnull, 1)
        except OSError:  # descriptor 1 closed: keep it taken, so that no output file opens as it
            if devnull != 1:
                os.dup2(devnull, 1)
        finally:
            if devnull != 1:
                os.close(devnull)


def _json_line(r, times) -> str:
    return _common.json_line(
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


def _rows(r, times) -> str:
    path = _cell(r.path)
    rows = [f"{path}\t{a:.2f}\t{b:.2f}\t{_cell(lab)}\n" for a, b, lab in r.segments]
    total = sum(times.values())
    shares = ", ".join(
        f"{_cell(lab)} {v:.1f} s ({100 * v / total:.1f} %)" if total else f"{_cell(lab)} 0.0 s"
        for lab, v in times.items()
    )
    return "".join(rows) + f"# {path}: {r.duration:.1f} s, speech {total:.1f} s: {shares}\n"


def _write_outputs(args, results) -> None:
    """--rttm and --plot, committed together once both are complete: a stop (Ctrl-C, SIGTERM) or an error
    while either is written leaves every output path as it was."""
    import contextlib

    from speechgmm._util import atomic_output
    from speechgmm.segment import rttm_lines

    with contextlib.ExitStack() as outputs:
        if args.rttm:
            tmp = outputs.enter_context(atomic_output(args.rttm))
            with open(tmp, "w", encoding="utf-8") as fh:
                for r in results:
                    fh.writelines(line + "\n" for line in rttm_lines(r))
        if args.plot:
            from speechgmm._util import write_figure
            from speechgmm.segment import segment_figure

            tmp = outputs.enter_context(atomic_output(args.plot, suffix=".png"))
            write_figure(segment_figure(results), tmp, args.plot)


def run(args) -> int:
    from speechgmm.audio import STDIN
    from speechgmm.errors import ConfigError, SpeechGMMError
    from speechgmm.segment import SegmentOptions, check_rttm_labels, segment

    opt = SegmentOptions(
        min_speech=_seconds("--min-speech", args.min_speech), min_pause=_seconds("--min-pause", args.min_pause)
    )
    if STDIN in args.files:  # read three times (length, blocks, plot), and streamed: before anything is printed
        raise ConfigError(f"{STDIN}: segment reads files, not standard input; save the audio to a file first")
    _check_outputs(args)
    model = _Named(_common.load_classifier(args.model), args.model)
    open_set = args.open_set or args.threshold is not None
    if open_set:  # before any file is read: a model without a stored threshold is one error, not one per file
        from speechgmm.speakers import UNKNOWN, open_set_rule

        open_set_rule(model.classifier.labels_, model.header, args.threshold, model.name)
    if args.rttm:  # two labels that would be one speaker in the RTTM
        check_rttm_labels(list(model.classifier.labels_) + ([UNKNOWN] if open_set else []), model.name)
    out = _Stdout()
    results, problems = [], []
    if not args.json:
        out.write("path\tstart\tend\tlabel\n")
    for path in args.files:
        try:
            r = segment(path, model, opt, show_progress=True, open_set=open_set, threshold=args.threshold)
        except SpeechGMMError as exc:
            problems.append(" ".join(str(exc).split()))
            continue
        results.append(r)
        out.write((_json_line if args.json else _rows)(r, r.speaking_time()))
    if results and (args.rttm or args.plot):
        _write_outputs(args, results)
    if out.problem:
        problems.append(out.problem)
    for msg in problems:
        print(f"speechgmm segment: error: {msg}", file=sys.stderr)
    return 2 if problems else 0


class _Named:
    """A loaded model that keeps its file name for messages."""

    def __init__(self, mf, name):
        self.classifier, self.feature_config, self.header = mf.classifier, mf.feature_config, mf.header
        self.name = f"model {name}" if name else "the bundled gender model"
