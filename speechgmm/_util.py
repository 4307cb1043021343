"""Small shared helpers: atomic file output, progress bars, corpus location.

The recipes' harness (argument parser, stages, tables) is in ``recipes/_common.py``, outside the library.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Optional, TypeVar

T = TypeVar("T")

#: the stop signal ("SIGINT" / "SIGTERM") the command line received, if any (set by speechgmm.cli).  A
#: signal that lands inside a C callback (soundfile reading through cffi) has its exception swallowed
#: there; this record lets the stop still be noticed, at the latest before an output is committed.
STOP: dict = {"signal": None}


class StopRequested(KeyboardInterrupt):
    """A stop signal whose exception was swallowed, noticed later (e.g. before an output is renamed)."""


def is_special(path: os.PathLike | str) -> bool:
    """A device or a FIFO (``/dev/null``, a named pipe, a shell's ``<(...)``): it exists, and is
    neither a regular file nor a folder (symbolic links are followed)."""
    p = Path(path)
    return p.exists() and not p.is_file() and not p.is_dir()


@contextlib.contextmanager
def new_file(directory, prefix: str, suffix: str = "", mode: int = 0o600) -> Iterator[Path]:
    """Create an empty file with a random name in ``directory``, yield its path, and remove it on the way
    out if it is still there (an error, a stop signal; a caller that renames it keeps it).

    The name is recorded before the file is created, so a stop signal at any point, even between the
    creation and the ``yield``, cannot leave it behind (``tempfile.mkstemp`` returns the name only
    after creating the file).  ``mode``: its permissions, less the umask.
    """
    path = None
    try:
        while True:
            path = Path(directory) / f"{prefix}{os.urandom(6).hex()}{suffix}"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
                break
            except FileExistsError:  # another's file: never ours to remove
                path = None
        yield path
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def writable_folder(p: Path) -> None:
    """ConfigError naming the folder unless a file can be created where ``p`` will go."""
    from speechgmm.errors import ConfigError

    folder = p.parent if str(p.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # atomic_output creates the missing folders
    if not folder.is_dir():
        raise ConfigError(f"{p}: cannot write there: {folder} is not a folder")
    try:
        with new_file(folder, ".speechgmm-write-test."):
            pass
    except OSError as exc:
        where = p.parent if str(p.parent) else Path(".")
        what = f"the folder {folder}" if folder == where else f"the folder {where} in {folder}"  # QA: named /proc only
        raise ConfigError(
            f"{p}: cannot {'write to' if folder == where else 'create'} {what} ({exc.strerror or exc})"
        ) from None


def same_file(src, st: os.stat_result) -> bool:
    """Whether the input ``src`` (a path, a manifest's ``AudioRegion``, or a piped entry: the files its
    command names) is the file of ``st``."""
    names = src.named_files() if hasattr(src, "named_files") else [str(getattr(src, "path", src))]
    for name in names:
        try:
            if os.path.samestat(os.stat(name), st):
                return True
        except (OSError, ValueError):
            continue  # missing (reported by its reader)
    return False


def check_output(path, inputs=(), flag: str = "-o", cache_dir=None) -> Path:
    """Check an output path before any work starts: a non-empty path (str or path-like), not a folder,
    not one of ``inputs`` (the same file, whatever the name: links too), not the feature cache folder
    ``cache_dir`` nor in it, in a folder that can be written.
    ``flag`` is what names it in the ConfigError (an option, or a Python argument such as ``output``)."""
    from speechgmm.errors import ConfigError

    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ConfigError(f"{flag}: an output must be a non-empty file name (str or path-like), not {path!r}")
    p = Path(path)
    if str(path) == "-":  # it wrote a file named '-'; standard output holds the report
        raise ConfigError(f"{flag} -: outputs go to files, not standard output; name a file (e.g. /dev/stdout)")
    if p.is_dir():
        raise ConfigError(f"{p}: output path is a directory")
    if str(path).endswith(("/", os.sep)):  # Path() drops the slash: a file would be written
        raise ConfigError(f"{path}: output path ends in '/'; name a file")
    if p.exists():
        st = p.stat()
        if any(src is not None and same_file(src, st) for src in inputs):
            raise ConfigError(f"{p}: output path is an input of this command; choose another {flag}")
    if cache_dir is not None and own_stream(p) is None and not is_special(p):
        # QA: '-o CACHE/features-<hash>.ark' replaced the features by a model; '-o CACHE' failed after training
        cache, out = Path(os.path.realpath(cache_dir)), Path(os.path.realpath(p))
        if out == cache or cache in out.parents:
            where = "is the --cache folder" if out == cache else f"is in the --cache folder {cache_dir}"
            raise ConfigError(f"{p}: output path {where}; choose another {flag}")
    if own_stream(p) is not None or is_special(p):  # written into, through a temporary file elsewhere
        if not os.access(p, os.W_OK):
            raise ConfigError(f"{p}: cannot write to it")
        import tempfile

        writable_folder(Path(tempfile.gettempdir()) / p.name)
    else:
        writable_folder(p)
    return p


@contextlib.contextmanager
def atomic_output(path: os.PathLike | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is left as it was,
    so a crash never leaves a half-written output; so does a stop signal recorded in
    :data:`STOP` (``StopRequested`` is raised).  A symbolic link is followed (its target
    is replaced, the link stays); a device or FIFO (``/dev/null``, a named pipe) is not
    replaced but written into, once the output is complete.

    Parameters
    ----------
    path : path-like
        Final destination.
    suffix : str
        Suffix for the temporary file (some writers, e.g. ``numpy.savez``, add an
        extension unless the name already ends with it).
    """
    path = Path(path)
    fd = own_stream(path)
    if fd is None and path.is_symlink():  # write to what the link names; renaming onto the link would replace it
        path = Path(os.path.realpath(path))
    # a device or a FIFO (/dev/null, a pipe to another program) cannot be replaced by a file, nor can this
    # process's own standard output: they are written into once the output is complete
    special = fd is not None or is_special(path)
    if special:
        import tempfile

        directory = Path(tempfile.gettempdir())  # /dev cannot hold files
    else:
        directory = path.parent if str(path.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
    # normal permissions for the final file (new_file removes it unless it was renamed onto path)
    with new_file(directory, f".{path.name}.", suffix + ".tmp", mode=0o666) as tmp_path:
        yield tmp_path
        if STOP["signal"] is not None:  # stopped: never commit an output, even if the stop went unseen so far
            raise StopRequested()
        if special:
            import shutil

            try:
                if fd is not None:  # through the open file itself, after what was printed to it so far
                    for stream in (sys.stdout, sys.stderr):
                        with contextlib.suppress(Exception):
                            stream.flush()
                target = open(fd, "wb", closefd=False) if fd is not None else open(path, "wb")
                with open(tmp_path, "rb") as src, target as dst:
                    shutil.copyfileobj(src, dst)
            except OSError as exc:  # e.g. /dev/full: name the output, not the temporary file
                raise OSError(exc.errno, exc.strerror, str(path)) from None
        else:
            os.replace(tmp_path, path)


_STANDARD_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}


def own_stream(path) -> Optional[int]:
    """The file descriptor that ``path`` names when it is one of this process's open files (``/dev/stdout``,
    ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``), else None.  Such a path is a link to whatever the
    descriptor holds (a terminal, a pipe, or the file the shell redirected to): writing an output to it
    must go through the descriptor, after what was printed, not replace the file behind it."""
    text = str(path)
    if os.name != "posix":
        return None
    if text in _STANDARD_STREAMS:
        return _STANDARD_STREAMS[text]
    for prefix in ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            return int(text[len(prefix) :])
    # another name for standard output or error (a link to /dev/stdout, ../../dev/stdout): the same open file
    try:
        st = os.stat(text)
    except (OSError, ValueError):
        return None
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if os.path.samestat(st, os.fstat(fd)):
                return fd
    return None


def save_figure(fig, path: os.PathLike | str) -> None:
    """Save a matplotlib figure as a PNG (tight layout, 100 dpi), atomically, and close it.

    A failed write (disk full, folder gone) is a one-line ConfigError naming ``path``, so a
    command that printed its report first keeps it (see :func:`speechgmm.metrics.pyplot`).
    """
    import matplotlib.pyplot as plt

    try:
        with atomic_output(path, suffix=".png") as tmp:
            write_figure(fig, tmp, path)
    except OSError as exc:
        raise _plot_not_saved(path, exc) from None
    finally:
        plt.close(fig)  # also when the temporary file could not be made


def write_figure(fig, tmp, path) -> None:
    """Write ``fig`` as a PNG (tight layout, 100 dpi) into ``tmp``, the temporary file of output ``path``
    (an :func:`atomic_output` of the caller's, e.g. committed with other outputs), and close it; a failed
    write is the one-line ConfigError of :func:`save_figure`."""
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        fig.savefig(tmp, format="png", dpi=100)
    except OSError as exc:
        raise _plot_not_saved(path, exc) from None
    finally:
        plt.close(fig)


def _plot_not_saved(path, exc: OSError):
    from speechgmm.errors import ConfigError

    return ConfigError(f"{path}: plot not saved: {exc.strerror or exc}")


@contextlib.contextmanager
def process_pool(workers: int):
    """A ``ProcessPoolExecutor`` that returns at once when the work is stopped (Ctrl-C, SIGTERM): its workers
    are killed instead of finishing their queue.  (The command then exits without waiting for the pool's
    threads, see :func:`speechgmm.cli.main`: a worker killed while sending a result leaves them waiting
    for the rest of that message.)  On an ordinary error, queued work is cancelled and the running work
    finishes.  A worker killed from outside (the kernel's out-of-memory killer, ``kill -9``) is one
    SpeechGMMError saying so, not the pool's BrokenProcessPool."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(max_workers=workers)
    try:
        yield ex
    except BrokenProcessPool:
        from speechgmm.errors import SpeechGMMError

        ex.shutdown(wait=True, cancel_futures=True)
        raise SpeechGMMError(
            f"one of the {workers} worker processes died (killed by the system, perhaps out of memory); try --jobs 1"
        ) from None
    except KeyboardInterrupt:
        for proc in list((getattr(ex, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def progress(
    iterable: Iterable[T], total: Optional[int] = None, desc: str = "", enabled: Optional[bool] = None
) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm progress bar when stderr is a terminal.

    Quiet (returns ``iterable`` unchanged) when stderr is piped, or when
    ``enabled`` is False.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)


def default_corpora() -> Path:
    """Where the shared corpora live: ``$SPEECHGMM_CORPORA``, else ``../shared/corpora``.

    The relative default is looked up from the current directory first and then
    from the source checkout's root (the folder holding ``speechgmm/``).
    """
    env = os.environ.get("SPEECHGMM_CORPORA")
    if env:
        return Path(env)
    rel = Path("..") / "shared" / "corpora"
    if rel.is_dir():
        return rel.resolve()
    root = Path(__file__).resolve().parent.parent
    return (root / rel).resolve()
