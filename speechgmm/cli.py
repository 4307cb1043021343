"""The ``speechgmm`` command line.

Each sub-command lives in its own module under :mod:`speechgmm.commands` and
defines ``HELP`` (one line), ``DESCRIPTION`` (the ``--help`` text),
``add_arguments(parser)`` and ``run(args) -> int``.  Command modules import heavy
dependencies inside ``run`` so that start-up stays fast.

Errors caused by the user's input (:class:`speechgmm.errors.SpeechGMMError`)
are printed as one line on stderr with exit status 2; no traceback is shown.
Set ``SPEECHGMM_DEBUG=1`` to see tracebacks.  Warnings are one line too
(``speechgmm CMD: warning: ...``).  SIGTERM is handled like SIGINT: the work stops,
half-written outputs are removed, exit status 143 (130 for SIGINT).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import warnings
from typing import Optional

from speechgmm import __version__
from speechgmm._util import STOP
from speechgmm.errors import SpeechGMMError
from speechgmm.options import OneLineParser

# sub-command name -> module under speechgmm.commands
COMMANDS = {
    "features": "features",
    "train": "train",
    "classify": "classify",
    "evaluate": "evaluate",
    "info": "info",
    "train-ubm": "train_ubm",
    "verify": "verify",
    "segment": "segment",
    "enroll": "enroll",
}


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The command-line parser; with ``only`` (a command name), only that command gets its
    options (the others are listed, for the top-level help): the classify cold start does not
    pay for building every command's options."""
    parser = OneLineParser(
        prog="speechgmm",
        description="Classify speech with Gaussian mixture models: MFCC features, one GMM per class, "
        "highest total log-likelihood wins.",
        epilog="Run 'speechgmm COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"speechgmm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = {}  # name -> its parser (usage errors found at the top level are reported by it)
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(f"speechgmm.commands.{modname}")
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.commands[name] = p
        if only is None or only == name:
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def _refuse_empty_values(command_parser, args) -> None:
    """A usage error for an empty argument (``classify ""``, ``-m ""``): no option or file name of
    speechgmm can be empty, and ``Path("")`` would quietly read as the current folder."""
    if command_parser is None:
        return
    for action in command_parser._actions:
        value = getattr(args, action.dest, None)
        if value == "" or (isinstance(value, list) and "" in value):
            name = action.option_strings[0] if action.option_strings else action.metavar or action.dest
            command_parser.error(f"argument {name}: '' (an empty path or value)")


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanups (atomic outputs, pools) run as for Ctrl-C."""


_MAIN_PID = os.getpid()

# The signal that asked this command to stop, if any.  A signal that lands inside a C callback
# (soundfile reading through cffi, for example) has its exception swallowed there, and the read then
# fails with a misleading error, or succeeds and the command would carry on; this record lets either be
# reported as the stop it really is (and keeps atomic outputs from being committed).
_STOP = STOP


def _swallow_stop_in_callbacks() -> None:
    """Once a stop signal came, keep "Exception ignored in ..." tracebacks off stderr: the stop's own
    exception inside a cffi callback, and what it leaves behind, such as a ``ZipFile`` that ``numpy.savez``
    was writing when the stop came, whose ``__del__`` then fails to close it (QA: a traceback after
    "terminated (SIGTERM)").  The output it was writing is removed all the same (``atomic_output``)."""
    sys.unraisablehook = lambda unraisable: None


def _stop_now(name: str) -> None:
    """Record the stop signal and end worker pools at once instead of letting them finish their queue."""
    import multiprocessing
    import threading

    def quiet(hook_args):  # a pool's manager thread may trip over the futures we cancel (CPython 3.11)
        if not issubclass(hook_args.exc_type, Exception) or hook_args.thread is threading.main_thread():
            threading.__excepthook__(hook_args)

    if _STOP["signal"] is None:
        _STOP["signal"] = name
        _swallow_stop_in_callbacks()
        threading.excepthook = quiet
        _quiet_dask_logs()
    for child in multiprocessing.active_children():
        child.terminate()


def _quiet_dask_logs() -> None:
    """After a stop, Dask's client, its comms and asyncio log the cluster's shutdown ("Task exception was never
    retrieved ... AllExit", "Batched Comm Closed" with tracebacks; QA): the stop's own message says it all."""
    import logging

    if "distributed" not in sys.modules:
        return
    for name in ("distributed", "asyncio", "tornado", *logging.root.manager.loggerDict):
        if name.split(".")[0] in ("distributed", "asyncio", "tornado"):
            logging.getLogger(name).disabled = True


def _on_sigint(signum, frame):
    if os.getpid() == _MAIN_PID:
        _stop_now("SIGINT")
    raise KeyboardInterrupt()


def _on_sigterm(signum, frame):
    if os.getpid() != _MAIN_PID:  # a forked worker process: end as SIGTERM would have ended it
        audio = sys.modules.get("speechgmm.audio")
        if audio is not None:  # with the wav.scp commands it is running
            audio.kill_commands()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _stop_now("SIGTERM")
    raise _Terminated()


@contextlib.contextmanager
def _signals_and_warnings(prog: dict):
    """SIGTERM -> _Terminated, SIGINT -> KeyboardInterrupt, and warnings as one line, for the duration of one
    command; ``prog["name"]`` is the prefix of messages ("speechgmm", then "speechgmm CMD" once parsed)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog['name']}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)

    global _MAIN_PID
    _MAIN_PID = os.getpid()
    _STOP["signal"] = None
    handlers = {signal.SIGTERM: _on_sigterm}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # leave a caller's own handler alone
        handlers[signal.SIGINT] = _on_sigint
    previous = {}
    try:
        for signum, handler in handlers.items():
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        pass
    import threading

    hooks = (sys.unraisablehook, threading.excepthook)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        if _STOP["signal"] is not None:  # objects a stop left half-done are collected while their noise is kept quiet
            import gc

            gc.collect()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook, threading.excepthook = hooks
        _STOP["signal"] = None  # the next command (or library call) in this process starts unstopped


def main(argv: Optional[list[str]] = None) -> int:
    prog = {"name": "speechgmm"}
    with _signals_and_warnings(prog):  # from the start: Ctrl-C while the parser is built is a stop too
        try:
            words = sys.argv[1:] if argv is None else argv
            parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
            args, extra = parser.parse_known_args(argv)
            if extra:  # reported by the command's own parser: its name, and the help that explains it
                parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
            _refuse_empty_values(parser.commands.get(args.command), args)
            from speechgmm.commands._common import check_dask_options

            orphan = check_dask_options(args)
            if orphan:
                parser.commands.get(args.command, parser).error(orphan)
        except KeyboardInterrupt as exc:
            code = _stopped(prog["name"], exc)
        else:
            if getattr(args, "_run", None):
                prog["name"] = f"speechgmm {args.command}"
                code = _run(args)
            else:
                parser.print_help(sys.stderr)
                code = 2
        stopped = _STOP["signal"]
    if stopped is not None and argv is None:
        # stopped from the shell, outputs cleaned up: leave now.  A pool thread still waiting for a
        # worker killed mid-message would otherwise hold the interpreter's exit forever.
        _flush_stdout()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)
    return code


def _stopped(prog: str, exc: KeyboardInterrupt) -> int:
    """The one line and the exit status of a command stopped by SIGTERM (143) or Ctrl-C (130)."""
    if isinstance(exc, _Terminated) or _STOP["signal"] == "SIGTERM":
        print(f"{prog}: terminated (SIGTERM)", file=sys.stderr)
        return 143
    print(f"{prog}: interrupted", file=sys.stderr)
    return 130


def _flush_stdout() -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()


def _check_source_date_epoch() -> None:
    """SOURCE_DATE_EPOCH before any work (:func:`speechgmm.modelio.source_date_epoch`; QA: an internal error
    after training).  NumPy reads it too (``numpy.f2py`` at import), so an empty value is removed here."""
    from speechgmm.modelio import source_date_epoch

    if source_date_epoch() is None:
        os.environ.pop("SOURCE_DATE_EPOCH", None)


def _run(args) -> int:
    debug = os.environ.get("SPEECHGMM_DEBUG") not in (None, "", "0")
    try:
        try:
            _check_source_date_epoch()
            code = int(args._run(args) or 0)
            if _STOP["signal"] is not None:  # a stop swallowed inside a C callback, and the command carried on
                raise _Terminated() if _STOP["signal"] == "SIGTERM" else KeyboardInterrupt()
            return code
        except Exception as exc:  # an error that a stop signal caused is reported as that stop
            if _STOP["signal"] == "SIGTERM":
                raise _Terminated() from exc
            if _STOP["signal"] == "SIGINT":
                raise KeyboardInterrupt() from exc
            raise
    except SpeechGMMError as exc:
        if debug:
            raise
        _flush_stdout()  # what was printed (e.g. a report before a failed plot) comes before the error
        print(f"speechgmm {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return _stopped(f"speechgmm {args.command}", exc)
    except BrokenPipeError:
        # e.g. `speechgmm classify ... | head`: not an error of ours
        sys.stdout = None  # type: ignore[assignment]  # nothing left to flush at exit
        return 0
    except MemoryError:
        print(f"speechgmm {args.command}: error: out of memory", file=sys.stderr)
        return 1
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"speechgmm {args.command}: error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 2  # a file that cannot be read or written (permissions, a full disk): named, as bad input is
    except Exception as exc:  # a bug of ours: still one line, but say so
        if debug:
            raise
        print(
            f"speechgmm {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(set SPEECHGMM_DEBUG=1 for a traceback and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
