"""Feature sources: where training features live, and how E-step statistics are summed over them.

Training needs four things from its data, and nothing else (as Kaldi's ``gmm-global-acc-stats``
runs in ``nj`` jobs without the model code knowing):

* ``n_frames()`` -- the number of frames;
* ``sample(max_frames, rng)`` -- a bounded initialisation sample, one (n, D) float64 array;
* ``accumulate(gmm)`` -- the E-step statistics (:class:`~speechgmm.gmm.GMMStats`) summed over all frames;
* ``split_by(labels)`` -- one source per label, given one label per *original* file.

Three implementations, one training code (:meth:`DiagGMM.fit <speechgmm.gmm.DiagGMM.fit>`,
:meth:`GMMClassifier.fit_groups <speechgmm.classifier.GMMClassifier.fit_groups>`,
:func:`speechgmm.map.train_ubm`):

* :class:`InMemorySource` -- a list of arrays, summed by the threaded chunk engine below;
* :class:`ArkSource` -- a Kaldi archive streamed from disk, one utterance in memory at a time;
* :class:`speechgmm.distributed.DaskSource` -- shards kept on the workers of a Dask cluster.

:func:`build_source` extracts a manifest's features for training on any of them, and is the one
place that orders augmented copies: the originals, then one copy of every file per kind, kind
after kind, each in file order.  Every source remembers which original file each of its
arrays comes from, so ``split_by`` gives the copies their file's label.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import Optional, Protocol, runtime_checkable

import numpy as np

from speechgmm.errors import ConfigError, InsufficientDataError, SpeechGMMError, raise_bad_files
from speechgmm.gmm import FeatureStream, GMMStats, chunk_statistics, feature_problem

#: Frames in the initialisation sample of every fit (k-means runs on at most this many).
INIT_FRAMES = 100_000


@runtime_checkable
class FeatureSource(Protocol):
    """What training needs from its data (see the module docstring)."""

    def n_frames(self) -> int: ...

    def sample(self, max_frames: int, rng) -> np.ndarray: ...

    def accumulate(self, gmm) -> GMMStats: ...

    def split_by(self, labels) -> dict[str, FeatureSource]: ...


def as_source(X) -> FeatureSource:
    """``X`` itself if it is a feature source, else an :class:`InMemorySource` (array or list of
    arrays) or a streamed source (a :class:`~speechgmm.gmm.FeatureStream`)."""
    if isinstance(X, FeatureSource):
        return X
    if isinstance(X, FeatureStream):
        return StreamSource(X)
    return InMemorySource(X)


# -- the one ordering of augmented copies ---------------------------------------------------------


def copy_order(n_files: int, kinds=()) -> list[tuple]:
    """``(kind, file index)`` of every training item: the originals (kind ``None``), then one copy
    of every file per augmentation kind, kind after kind."""
    return [(kind, i) for kind in (None, *kinds) for i in range(n_files)]


def _label_groups(origin: Sequence[int], n_files: int, labels) -> dict[str, list[int]]:
    """Item indices per label (items in order); ``labels`` has one label per original file."""
    labels = [str(lab) for lab in labels]
    if len(labels) != n_files:
        raise ConfigError(f"{n_files} feature files but {len(labels)} labels")
    groups: dict[str, list[int]] = {}
    for j, i in enumerate(origin):
        groups.setdefault(labels[i], []).append(j)
    return groups


def _name(names, i: int) -> str:
    return str(names[i]) if names is not None else f"utterance {i}"


# -- the chunked, threaded E-step over local arrays ------------------------------------------------


def cpu_count() -> int:
    """CPUs available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _chunks(arrays: Iterable[np.ndarray], D: int, C: int, names=None, check_finite: bool = False):
    """Chunks of at most ``C`` frames; short utterances are batched (per-call overhead would dominate)."""
    pending: list[np.ndarray] = []
    n_pending = 0
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[1] != D:
            raise ConfigError(f"{_name(names, i)}: features have shape {a.shape}, the model {D} dimensions")
        problem = feature_problem(a) if check_finite else None
        if problem:
            raise ConfigError(f"{_name(names, i)}: {problem}")
        if a.shape[0] >= C:
            for k in range(0, a.shape[0], C):
                yield a[k : k + C]
            continue
        pending.append(a)
        n_pending += a.shape[0]
        if n_pending >= C:
            x = np.concatenate(pending)
            pending, n_pending = [], 0
            for k in range(0, x.shape[0], C):
                yield x[k : k + C]
    if n_pending:  # (arrays of 0 frames alone make no chunk)
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finds the loaded BLAS libraries once (3 ms); a limit then costs 35 us


def one_blas_thread():
    """Context: the BLAS runs on one thread.  Used around every E-step: chunks get a thread each
    (:func:`_threaded_sum`), and a single chunk's small GEMMs gain little from BLAS threads on an
    idle machine but lose several times over on a busy one (OpenBLAS threads spin waiting for
    cores: 9,235 frames, K=64, 10 iterations took 1.3-4.9 s instead of 0.7-0.9 s at load 6)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _threaded_sum(chunks: Iterable[np.ndarray], stats_of, total: GMMStats, n_threads: int) -> GMMStats:
    """Sum ``stats_of(chunk, buffers)`` over ``chunks`` on ``n_threads`` threads.

    numpy's element-wise kernels release the GIL, so with one BLAS thread per Python thread
    every part of the E-step (GEMMs, exp, reductions) runs on all cores, not only the GEMMs.
    At most ``2 * n_threads`` chunks are in flight (memory stays O(threads x chunk x K)), and
    the per-chunk statistics are added in chunk order, so the result does not depend on
    thread timing.
    """
    import collections
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def task(x):
        if not hasattr(local, "work"):
            local.work = {}
        return stats_of(x, local.work)

    inflight: collections.deque = collections.deque()
    with one_blas_thread(), ThreadPoolExecutor(max_workers=n_threads) as ex:
        for x in chunks:
            inflight.append(ex.submit(task, x))
            if len(inflight) >= 2 * n_threads:
                total = total + inflight.popleft().result()
        while inflight:
            total = total + inflight.popleft().result()
    return total


def accumulate_arrays(
    gmm, arrays: Iterable[np.ndarray], n_frames: Optional[int] = None, hard=None, names=None, check_finite: bool = False
) -> GMMStats:
    """E-step statistics of ``gmm`` over ``arrays``, chunk by chunk, in chunk order.

    Threads: ``gmm.n_threads`` (default all CPUs), or 1 when ``n_frames`` (if known) is under two chunks.
    """
    stats_of, total = chunk_statistics(gmm, hard)
    C = int(gmm.chunk_size)
    T = max(1, int(gmm.n_threads if gmm.n_threads is not None else cpu_count()))
    if n_frames is not None and n_frames < 2 * C:
        T = 1
    chunks = _chunks(arrays, gmm.means_.shape[1], C, names, check_finite)
    if T == 1:
        work: dict = {}
        with one_blas_thread():
            for x in chunks:
                total = total + stats_of(x, work)
        return total
    return _threaded_sum(chunks, stats_of, total, T)


def sample_indices(n_frames: int, max_frames: int, rng) -> Optional[np.ndarray]:
    """The initialisation sample of every feature source, whatever holds the frames: None (all frames) if
    there are at most ``max_frames``, else ``max_frames`` indices into the frames in order, drawn by ``rng``
    and sorted.  One draw for all sources, so that memory, ``--cache`` and Dask start EM alike."""
    if n_frames <= max_frames:
        return None
    return np.sort(rng.choice(n_frames, max_frames, replace=False))


def pick_frames(arrays, indices: np.ndarray) -> list[np.ndarray]:
    """The frames at the sorted ``indices`` into the frames of ``arrays`` taken in order (float64); one pass,
    so ``arrays`` may be a stream."""
    out, j, offset = [], 0, 0
    for a in arrays:
        end = offset + a.shape[0]
        k = int(np.searchsorted(indices, end))
        if k > j:
            out.append(np.asarray(a[indices[j:k] - offset], dtype=np.float64))
            j = k
        offset = end
    return out


def sample_arrays(arrays: Sequence[np.ndarray], max_frames: int, rng) -> np.ndarray:
    """All frames of ``arrays`` if at most ``max_frames``, else ``max_frames`` drawn by ``rng`` (in order;
    :func:`sample_indices`)."""
    idx = sample_indices(sum(a.shape[0] for a in arrays), max_frames, rng)
    if idx is None:
        return np.asarray(np.concatenate(arrays) if len(arrays) > 1 else arrays[0], dtype=np.float64)
    return np.concatenate(pick_frames(arrays, idx))


# -- in memory -----------------------------------------------------------------------------------


class InMemorySource:
    """Feature arrays in memory (one per utterance).

    Parameters
    ----------
    arrays : ndarray (N, D) or sequence of them
        Checked here: 2-D, equal dimensions, finite (an error names the utterance).
    origin : sequence of int, optional
        Index of the original file of each array (default: each array is its own file).
    n_files : int, optional
        Number of original files (default: ``max(origin) + 1``).
    names : sequence of str, optional
        Name of each array for error messages (default ``utterance <index>``).
    """

    local = True  # picklable to worker processes

    def __init__(
        self,
        arrays,
        *,
        origin: Optional[Sequence[int]] = None,
        n_files: Optional[int] = None,
        names: Optional[Sequence[str]] = None,
    ):
        arrays = [arrays] if isinstance(arrays, np.ndarray) else list(arrays)
        D = None
        for i, a in enumerate(arrays):
            arrays[i] = a = np.asarray(a)
            if a.ndim != 2:
                raise ConfigError(
                    f"{_name(names, i)}: expected 2-D feature arrays (frames x dims), got shape {a.shape}"
                )
            if D is not None and a.shape[1] != D:
                raise ConfigError(f"{_name(names, i)}: feature arrays have different dimensions ({D} and {a.shape[1]})")
            D = a.shape[1]
            problem = feature_problem(a)
            if problem:
                raise ConfigError(f"{_name(names, i)}: {problem}")
        if not arrays:
            raise InsufficientDataError("no feature arrays given")
        self.arrays = arrays
        self.origin = list(range(len(arrays))) if origin is None else [int(i) for i in origin]
        self.n_files = int(n_files) if n_files is not None else max(self.origin) + 1
        self.names = list(names) if names is not None else None

    def __len__(self) -> int:
        return len(self.arrays)

    def n_frames(self) -> int:
        return int(sum(a.shape[0] for a in self.arrays))

    def sample(self, max_frames: int, rng) -> np.ndarray:
        return sample_arrays(self.arrays, max_frames, rng)

    def accumulate(self, gmm, hard=None) -> GMMStats:
        return accumulate_arrays(gmm, self.arrays, self.n_frames(), hard, self.names)

    def split_by(self, labels) -> dict[str, InMemorySource]:
        return {
            lab: InMemorySource(
                [self.arrays[j] for j in idx], names=None if self.names is None else [self.names[j] for j in idx]
            )
            for lab, idx in _label_groups(self.origin, self.n_files, labels).items()
        }


# -- streamed from disk -----------------------------------------------------------------------------


class _Subset(FeatureStream):
    """The arrays of a stream at the given indices (read by iterating the whole stream)."""

    def __init__(self, stream, indices):
        self.stream, self.indices = stream, sorted(indices)

    def __len__(self):
        return len(self.indices)

    def __iter__(self):
        want = set(self.indices)
        return (a for i, a in enumerate(self.stream) if i in want)


class StreamSource:
    """Arrays read on demand from a re-iterable :class:`~speechgmm.gmm.FeatureStream`.

    Every pass reads the stream again: memory holds one array and one E-step chunk per thread.
    Arrays are checked (shape, finite values) as they are read; errors name the utterance.
    """

    local = True

    def __init__(
        self,
        stream,
        *,
        origin: Optional[Sequence[int]] = None,
        n_files: Optional[int] = None,
        names: Optional[Sequence[str]] = None,
    ):
        if len(stream) == 0:
            raise InsufficientDataError("no feature arrays given")
        self.stream = stream
        self.origin = list(range(len(stream))) if origin is None else [int(i) for i in origin]
        self.n_files = int(n_files) if n_files is not None else max(self.origin) + 1
        self.names = list(names) if names is not None else None
        self._n: Optional[int] = None

    def __len__(self) -> int:
        return len(self.stream)

    def n_frames(self) -> int:
        """Frames, counted in one checking pass over the stream (then remembered)."""
        if self._n is None:
            N, D = 0, None
            for i, a in enumerate(self.stream):
                if a.ndim != 2 or (D is not None and a.shape[1] != D):
                    raise ConfigError(
                        f"{_name(self.names, i)}: feature arrays must be 2-D with equal dimensions, got shape {a.shape}"
                    )
                problem = feature_problem(a)
                if problem:
                    raise ConfigError(f"{_name(self.names, i)}: {problem}")
                D, N = a.shape[1], N + a.shape[0]
            self._n = N
        return self._n

    def sample(self, max_frames: int, rng) -> np.ndarray:
        """The frames of :func:`sample_indices`, as in memory, read in one pass (memory: the sample)."""
        idx = sample_indices(self.n_frames(), max_frames, rng)
        if idx is None:
            return np.concatenate([np.asarray(a, dtype=np.float64) for a in self.stream])
        return np.concatenate(pick_frames(self.stream, idx))

    def accumulate(self, gmm, hard=None) -> GMMStats:
        return accumulate_arrays(gmm, self.stream, None, hard, self.names, check_finite=True)

    def _subset(self, idx: list[int]) -> StreamSource:
        return StreamSource(
            _Subset(self.stream, idx), names=None if self.names is None else [self.names[j] for j in idx]
        )

    def split_by(self, labels) -> dict[str, StreamSource]:
        return {lab: self._subset(idx) for lab, idx in _label_groups(self.origin, self.n_files, labels).items()}


class ArkSource(StreamSource):
    """Features in a Kaldi archive (``.ark`` + ``.scp``), streamed from disk in every EM pass.

    Models can be trained on corpora larger than RAM; it pickles as (scp, keys), so worker
    processes read the archive themselves.

    Parameters
    ----------
    scp : path-like
        Index written by :func:`speechgmm.kaldi.write_feats` (or Kaldi).
    keys : sequence of str, optional
        Subset and order of utterances (default: all, in scp order); they name utterances in errors.
    origin, n_files : see :class:`InMemorySource`
    """

    def __init__(self, scp, keys=None, *, origin: Optional[Sequence[int]] = None, n_files: Optional[int] = None):
        from speechgmm.kaldi import ArkFeatures

        feats = ArkFeatures(scp, keys)
        super().__init__(feats, origin=origin, n_files=n_files, names=feats.keys)
        self.scp = feats.scp

    def _subset(self, idx: list[int]) -> ArkSource:
        return ArkSource(self.scp, [self.stream.keys[j] for j in idx])


def original_arrays(source, n_files: int):
    """The arrays of the first ``n_files`` utterances of a training source (the original files; augmented
    copies follow them), lazily: a list in memory, one array at a time from an archive, or gathered from
    a Dask cluster."""
    import itertools

    if isinstance(source, InMemorySource):
        return source.arrays[:n_files]
    if isinstance(source, StreamSource):
        return itertools.islice(iter(source.stream), n_files)
    return source.gather()[:n_files]


# -- building a training source from audio files ------------------------------------------------------


def build_source(
    paths, config, *, augment=(), seed: int = 0, jobs: int = 1, cache_dir=None, client=None
) -> FeatureSource:
    """Extract the features of ``paths`` (and of their augmented copies) for training.

    The one place that extracts a manifest's training features, for every backend:
    ``client`` -> a :class:`~speechgmm.distributed.DaskSource` (features stay on the workers);
    ``cache_dir`` -> an :class:`ArkSource` (``cache_dir/features-<hash>.ark``, written once, then reused);
    else an :class:`InMemorySource`.  ``augment`` (kinds of :mod:`speechgmm.augment`) adds one
    copy of every file per kind, in the order of :func:`copy_order`.  Every file is tried; if
    any is bad, one :class:`~speechgmm.errors.AudioError` names them.

    Parameters
    ----------
    paths : sequence of path-like
        Audio files (e.g. ``manifest.paths``); ``split_by`` then takes one label per path.
    config : FeatureConfig or str
        Front end, or a preset name.
    augment : sequence of str, or str
        Kinds, as ``--augment`` takes them (``"noise,reverb"`` or ``["noise", "reverb"]``).
    seed : int
        Seed of the augmented copies (0 .. 2**32 - 1).
    jobs : int
        Processes for local feature extraction (at least 1).
    """
    from speechgmm.features import as_config
    from speechgmm.manifest import portable
    from speechgmm.options import AUGMENT, JOBS, SEED, check_argument

    if isinstance(paths, (str, bytes, os.PathLike)):  # QA: "wav.scp" was taken as 7 one-letter paths
        raise ConfigError(f"paths must be a sequence of audio paths, not one path ({paths!r}); use [{paths!r}]")
    config = as_config(config)
    # the rules of --augment, --seed and --jobs (QA: augment='noise' was split into letters, seed=-1 gave
    # numpy's "expected non-negative integer", jobs=-1 was taken)
    kinds = check_argument("augment", AUGMENT, augment)
    seed, jobs = check_argument("seed", SEED, seed), check_argument("jobs", JOBS, jobs)
    paths = [portable(p) for p in paths]  # a segments row stays an AudioRegion
    order = copy_order(len(paths), kinds)
    origin = [i for _, i in order]
    if client is not None:
        from speechgmm.distributed import DaskSource

        items = [paths[i] if kind is None else (paths[i], (kind, seed, i)) for kind, i in order]
        return DaskSource.extract(client, items, config, origin=origin, n_files=len(paths))
    if cache_dir is not None:
        keys, scp = _cache_features(paths, config, cache_dir, jobs, kinds, seed)
        return ArkSource(scp, keys, origin=origin, n_files=len(paths))
    from speechgmm.features import extract_files

    feats: list[np.ndarray] = []
    for kind in (None, *kinds):
        feats += extract_files(
            paths,
            config,
            jobs=jobs,
            desc="features" if kind is None else f"features ({kind})",
            augment=None if kind is None else (kind, seed),
        )[0]
    names = [paths[i] if kind is None else f"{paths[i]} ({kind} copy)" for kind, i in order]
    return InMemorySource(feats, origin=origin, n_files=len(paths), names=names)


def _cache_key(paths, config, kinds, seed: int) -> str:
    """What a feature cache holds, as a short hash: the files (absolute path, size, modification
    time), the front end, and the augmentation kinds with their seed (the seed matters only then)."""
    import hashlib
    import json

    from speechgmm.audio import PipedAudio

    def stat(f):
        try:
            st = os.stat(f)
            return [st.st_size, st.st_mtime_ns]
        except OSError:
            return [None, None]

    files = []
    for p in paths:
        f = getattr(p, "path", p)  # an AudioRegion (a segments row) is its recording plus the region
        if isinstance(f, PipedAudio):  # a wav.scp command: its text, and the files it names
            name, state = f"{f.cwd}: {f.command}", [x for w in f.files() for x in (w, *stat(w))]
        else:
            name, state = os.path.abspath(f), stat(f)
        where = "" if f is p else f" {p.start!r} {p.end!r}" + ("" if p.channel is None else f" channel {p.channel}")
        files.append([name + where, *state])
    from speechgmm.features import FRONT_END_REVISION

    what = {
        "cache": 1,
        "front_end_revision": FRONT_END_REVISION,
        "files": files,
        "front_end": json.loads(config.to_json()),
        "augment": list(kinds),
        "seed": int(seed) if kinds else None,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


def _locked(lock_path):
    """Context manager holding an exclusive ``flock`` on ``lock_path`` (waits, saying so, if another
    run holds it); no lock where ``fcntl`` does not exist."""
    import contextlib

    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def hold():
        with open(lock_path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                import warnings

                from speechgmm.errors import SpeechGMMWarning

                warnings.warn(
                    f"{lock_path.parent}: another run is writing these features; waiting for it",
                    SpeechGMMWarning,
                    stacklevel=4,
                )
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    return hold()


def _file_digest(path) -> str:
    """BLAKE2b (16 bytes, hex) of a file's bytes, read in 1 MiB blocks: the feature cache's check that an
    archive is the one it wrote (about 1 GB/s; a size and an entry count miss bytes changed in place)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(2**20):
            h.update(block)
    return h.hexdigest()


def _cache_problem(ark, scp, done, keys) -> Optional[str]:
    """None if a finished archive holds exactly ``keys``, points into ``ark`` and has the checksum it was
    written with; else ``""`` (not finished, or by an older version: silently rebuilt) or what is damaged."""
    import json

    from speechgmm.kaldi import read_two_column

    try:
        meta = json.loads(done.read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(meta, dict) or "ark_blake2b" not in meta or meta.get("n") != len(keys):
        return ""
    try:
        if meta.get("ark_bytes") != ark.stat().st_size:
            return f"{ark.stat().st_size} bytes, {meta.get('ark_bytes')} when it was written"
        index = read_two_column(scp)
        if meta["ark_blake2b"] != _file_digest(ark):
            return "its checksum differs from the one recorded when it was written"
    except (OSError, SpeechGMMError) as exc:
        return f"cannot read it ({getattr(exc, 'strerror', None) or exc})"
    prefix = f"{ark}:"
    if list(index) != list(keys) or not all(loc.startswith(prefix) for loc in index.values()):
        return f"its index {scp.name} does not match it"
    return None


def _cache_features(paths, config, cache_dir, jobs: int, kinds, seed: int, batch: int = 256):
    """Write the features to ``cache_dir/features-<hash>.ark`` (+ .scp), ``batch`` files at a time,
    or reuse that archive if an earlier run wrote it.

    The hash (:func:`_cache_key`) covers the files, the front end and the augmentation, so a run
    with other data or settings gets its own archive.  Runs sharing a folder take turns on a lock
    file (``features-<hash>.lock``): one writes, the others wait and then reuse; a finished archive
    is never rewritten while another run may be reading it.  ``features-<hash>.json``, written last,
    marks it finished and records the archive's size and checksum (:func:`_file_digest`), checked at
    every reuse: a damaged archive is extracted again, with a warning naming it.  Keys: ``u00000000``,
    ``u00000001``, ... in file order, then ``u00000000-noise``, ... for each kind.  Bad files are named
    once, after the originals' pass;
    no archive is left behind then.
    """
    import json
    from pathlib import Path

    from speechgmm._util import atomic_output
    from speechgmm.features import extract_files
    from speechgmm.kaldi import write_feats

    base = [f"u{i:08d}" for i in range(len(paths))]
    keys = [base[i] if kind is None else f"{base[i]}-{kind}" for kind, i in copy_order(len(paths), kinds)]
    problems: list[str] = []

    def items():
        for kind in (None, *kinds):
            for i in range(0, len(paths), batch):
                feats, probs = extract_files(
                    paths[i : i + batch],
                    config,
                    jobs=jobs,
                    errors="collect",
                    desc=f"features{f' ({kind})' if kind else ''} {i}/{len(paths)}",
                    augment=None if kind is None else (kind, seed),
                    first_index=i,
                )
                problems.extend(probs)
                for k, f in zip(base[i : i + batch], feats):
                    if f is not None:
                        yield (k if kind is None else f"{k}-{kind}"), f
            raise_bad_files(problems)  # after the originals' pass

    d = Path(cache_dir).resolve()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, or under a file, or a folder that cannot be made
        why = "a file, not a folder" if d.exists() else (exc.strerror or str(exc))
        raise ConfigError(f"{cache_dir}: cannot use it as the --cache folder ({why})") from None
    stem = f"features-{_cache_key(paths, config, kinds, seed)}"
    ark, scp, done = d / f"{stem}.ark", d / f"{stem}.scp", d / f"{stem}.json"
    with _locked(d / f"{stem}.lock"):
        problem = _cache_problem(ark, scp, done, keys)
        if problem is None:
            return keys, scp
        if problem:
            import warnings

            from speechgmm.errors import SpeechGMMWarning

            warnings.warn(f"{ark}: the cached features are damaged ({problem}); extracting them again",
                          SpeechGMMWarning, stacklevel=3)  # fmt: skip
        done.unlink(missing_ok=True)
        write_feats(ark, items())
        meta = {"n": len(keys), "ark_bytes": ark.stat().st_size, "ark_blake2b": _file_digest(ark)}
        with atomic_output(done) as tmp:
            tmp.write_text(json.dumps(meta) + "\n")
    return keys, scp
