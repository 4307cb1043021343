"""Features on a Dask cluster (optional extra: ``pip install 'speechgmm[dask]'``).

Design
------
* :class:`DaskSource` is a :class:`~speechgmm.sources.FeatureSource`: training on a cluster is
  the same code as local training (:meth:`DiagGMM.fit <speechgmm.gmm.DiagGMM.fit>`,
  :meth:`GMMClassifier.fit_groups <speechgmm.classifier.GMMClassifier.fit_groups>`,
  :func:`speechgmm.map.train_ubm`); only the E-step sum runs elsewhere.
* Files are cut into **shards** (lists of paths).  Feature extraction is a pure function of
  (paths, front-end config) mapped over the shards on the workers; the resulting feature
  lists stay on the workers (persisted futures) for all EM iterations.  ``split_by`` regroups
  them per class on the workers (features are extracted once).
* Each EM iteration ships the current parameters to the workers, maps the E-step over the
  shards -- each returns a :class:`~speechgmm.gmm.GMMStats` of size O(K x D), whatever its
  number of frames -- and sums them on the client in shard order; the M-step runs there.
* Initialisation runs on the client from the same sample as local training (the same draw of
  frames, :func:`~speechgmm.sources.sample_indices`, each shard sending its share; all frames when
  the data has at most :data:`~speechgmm.sources.INIT_FRAMES`, and then the split
  initialisation's EM passes run on the client too), so a distributed model equals a local one
  up to summation order (float32 statistics: about 1e-6 relative after a few iterations).
* Nothing lives only on a worker: every task is a pure function of its inputs, so if a
  worker dies Dask recomputes its shards from the graph.

The core of speechgmm never imports this module; it imports dask only inside functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from speechgmm.errors import AudioError, ConfigError, SpeechGMMWarning, raise_bad_files
from speechgmm.gmm import DiagGMM, GMMStats
from speechgmm.options import DaskOptions
from speechgmm.sources import (
    InMemorySource,
    _label_groups,
    accumulate_arrays,
    pick_frames,
    sample_arrays,
    sample_indices,
)


def dask_client(scheduler: Optional[str] = None, local_workers: Optional[int] = None):
    """Connect to ``scheduler``, or start a LocalCluster of ``local_workers`` processes (None: the
    ``--dask-workers`` default, :class:`~speechgmm.options.DaskOptions`).

    The client owns a local cluster it started: ``client.close()`` stops it.
    """
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError("Dask is not installed: pip install 'speechgmm[dask]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    return Client(
        n_workers=int(local_workers or DaskOptions.dask_workers),
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=40,
    )


def make_shards(items: Sequence, shard_size: int) -> list[list]:
    """Consecutive chunks of ``items`` of at most ``shard_size``."""
    items = list(items)
    return [items[i : i + shard_size] for i in range(0, len(items), max(1, int(shard_size)))]


# -- pure task functions (run on workers) -------------------------------------------------


def _item(p):
    """A shard entry: a path, or ``(path, (kind, seed, index))`` for an augmented copy."""
    from speechgmm.manifest import portable

    return (portable(p[0]), (str(p[1][0]), int(p[1][1]), int(p[1][2]))) if isinstance(p, (tuple, list)) else portable(p)


def _extract_shard(paths: list, config: dict):
    """(features or None per path, error messages, warning messages) for one shard; entries as in
    :func:`_item`.  speechgmm's warnings (clipping, hum, opposite channels, ...) go back to the client,
    which says them as the command line does (QA: a worker printed them raw, with its source line, and a
    remote worker's stderr is not the user's)."""
    import warnings

    from speechgmm.features import FeatureConfig, extract_file

    cfg = FeatureConfig.from_dict(config)
    feats, problems = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpeechGMMWarning)
        for p in paths:
            try:
                feats.append(extract_file(p[0], cfg, p[1]) if isinstance(p, tuple) else extract_file(p, cfg))
            except AudioError as exc:
                feats.append(None)
                problems.append(str(exc))
    said = []
    for w in caught:
        if issubclass(w.category, SpeechGMMWarning):
            said.append(str(w.message))
        else:  # not ours: as it would have been shown
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return feats, problems, said


def _shard_messages(result) -> tuple[list[str], list[str]]:
    """The error and warning messages of an :func:`_extract_shard` result."""
    return result[1], result[2]


def say_warnings(messages) -> None:
    """The workers' warnings (:func:`_extract_shard`) on the client, each once."""
    import warnings

    for m in dict.fromkeys(messages):
        warnings.warn(m, SpeechGMMWarning, stacklevel=3)


def _shard_features(result) -> list[np.ndarray]:
    return [f for f in result[0] if f is not None]


def _shard_stats(feats: list[np.ndarray], params: dict) -> dict:
    """E-step statistics of one shard as a dict of arrays (O(K x D), independent of frames)."""
    g = DiagGMM.from_dict(params)
    g.n_threads = 1  # Dask runs shards in parallel already: one thread per task
    if not feats:
        K, D = g.means_.shape
        return GMMStats.zeros(K, D).to_dict()
    return accumulate_arrays(g, feats, sum(f.shape[0] for f in feats)).to_dict()


def _shard_frames(feats: list[np.ndarray]) -> int:
    return int(sum(f.shape[0] for f in feats))


def _pick(positions, *shards) -> list[np.ndarray]:
    """Arrays ``shards[s][k]`` for ``(s, k)`` in ``positions`` (regrouping shards per class)."""
    return [shards[s][k] for s, k in positions]


def _score_shard(raw, clf_params):
    """(totals, frames, ok flag per file, problems, warnings) of one shard of extracted files."""
    from speechgmm.modelio import classifier_from_arrays

    feats, problems, warned = raw
    clf = classifier_from_arrays(*clf_params)
    good = [f for f in feats if f is not None]
    totals, frames = clf.score_utterances(good) if good else (np.zeros((0, len(clf.labels_))), np.zeros(0, np.int64))
    return totals, frames, [f is not None for f in feats], problems, warned


# -- the feature source ------------------------------------------------------------------------


class DaskSource:
    """Feature arrays in shards on a Dask cluster (a :class:`~speechgmm.sources.FeatureSource`).

    Parameters
    ----------
    client : dask.distributed.Client
    shards : list of Future
        Each resolves to a list of feature arrays; they stay on the workers.
    sizes : list of int
        Number of arrays in each shard.
    origin, n_files : see :class:`~speechgmm.sources.InMemorySource`
    shard_size : int
        Arrays per shard when ``split_by`` regroups them.
    """

    local = False  # lives on a cluster: never sent to worker processes

    def __init__(
        self,
        client,
        shards,
        sizes,
        *,
        origin: Optional[Sequence[int]] = None,
        n_files: Optional[int] = None,
        shard_size: int = 64,
    ):
        self.client, self.shards, self.sizes = client, list(shards), [int(n) for n in sizes]
        n = sum(self.sizes)
        self.origin = list(range(n)) if origin is None else [int(i) for i in origin]
        self.n_files = int(n_files) if n_files is not None else n
        self.shard_size = int(shard_size)
        self._shard_n: Optional[list[int]] = None
        self._all: Optional[list[np.ndarray]] = None

    @classmethod
    def extract(cls, client, items: Sequence, config, *, shard_size: int = 64, origin=None, n_files=None):
        """Extract the features of ``items`` (paths, or ``(path, (kind, seed, index))`` for
        augmented copies) on the cluster, ``shard_size`` files per task.

        Raises one :class:`~speechgmm.errors.AudioError` naming the bad files, after every shard is done.
        """
        cfg = config.to_dict()
        groups = make_shards([_item(p) for p in items], shard_size)
        raw = [client.submit(_extract_shard, sh, cfg, pure=True) for sh in groups]
        said = client.gather([client.submit(_shard_messages, f, pure=True) for f in raw])
        say_warnings([m for _, warned in said for m in warned])
        raise_bad_files([m for probs, _ in said for m in probs])
        feats = [client.submit(_shard_features, f, pure=True) for f in raw]
        return cls(client, feats, [len(sh) for sh in groups], origin=origin, n_files=n_files, shard_size=shard_size)

    def __len__(self) -> int:
        return sum(self.sizes)

    def shard_frames(self) -> list[int]:
        """Frames in each shard (counted on the workers once)."""
        if self._shard_n is None:
            counts = self.client.gather([self.client.submit(_shard_frames, sh, pure=True) for sh in self.shards])
            self._shard_n = [int(n) for n in counts]
        return self._shard_n

    def n_frames(self) -> int:
        return sum(self.shard_frames())

    def _gather_all(self) -> list[np.ndarray]:
        if self._all is None:
            self._all = [a for sh in self.client.gather(list(self.shards)) for a in sh]
        return self._all

    def gather(self) -> list[np.ndarray]:
        """Every array, gathered to the client in source order (used for small data: open-set calibration, cohorts)."""
        return list(self._gather_all())

    def sample(self, max_frames: int, rng) -> np.ndarray:
        """The frames of :func:`~speechgmm.sources.sample_indices`, as in memory: all of them (gathered) if at
        most ``max_frames``, else each shard sends the client its share of the drawn frames."""
        idx = sample_indices(self.n_frames(), max_frames, rng)
        if idx is None:
            return sample_arrays(self._gather_all(), max_frames, rng)
        ends = np.cumsum(self.shard_frames())
        cuts = np.searchsorted(idx, ends)
        parts, lo, start = [], 0, 0
        for sh, end, hi in zip(self.shards, ends, cuts):
            if hi > lo:
                parts.append(self.client.submit(pick_frames, sh, idx[lo:hi] - start, pure=True))
            lo, start = hi, int(end)
        return np.concatenate([a for part in self.client.gather(parts) for a in part])

    def init_source(self, max_frames: int):
        """Where split initialisation runs its EM passes: on the client for small data (exactly the
        local computation), else on the cluster."""
        return InMemorySource(self._gather_all()) if self.n_frames() <= max_frames else self

    def accumulate(self, gmm, hard=None) -> GMMStats:
        """E-step mapped over the shards; statistics summed on the client in shard order."""
        params = gmm.to_dict()
        if hard is not None:
            params["hard"] = bool(hard)
        params = self.client.scatter([params], broadcast=True, hash=False)[0]
        parts = self.client.gather([self.client.submit(_shard_stats, sh, params, pure=False) for sh in self.shards])
        total = None
        for p in parts:
            st = GMMStats.from_dict(p)
            total = st if total is None else total + st
        return total

    def split_by(self, labels) -> dict[str, DaskSource]:
        """One source per label; its shards are regrouped from these on the workers."""
        where = [(s, k) for s, n in enumerate(self.sizes) for k in range(n)]
        out = {}
        for lab, idx in _label_groups(self.origin, self.n_files, labels).items():
            parts = make_shards(idx, self.shard_size)
            shards = []
            for part in parts:
                need = sorted({where[j][0] for j in part})
                pos = [(need.index(where[j][0]), where[j][1]) for j in part]
                shards.append(self.client.submit(_pick, pos, *[self.shards[s] for s in need], pure=True))
            out[lab] = DaskSource(self.client, shards, [len(p) for p in parts], shard_size=self.shard_size)
        return out


def score_distributed(client, clf, config, paths, shard_size: int = 64):
    """Score files on the cluster; same return values as :func:`speechgmm.pipeline.score_files`."""
    from speechgmm.modelio import classifier_to_arrays

    params = client.scatter([classifier_to_arrays(clf)], broadcast=True, hash=False)[0]
    cfg = config.to_dict()
    shards = make_shards([_item(p) for p in paths], shard_size)
    raw = [client.submit(_extract_shard, sh, cfg, pure=True) for sh in shards]
    results = client.gather([client.submit(_score_shard, r, params) for r in raw])
    say_warnings([m for r in results for m in r[4]])
    ok = [flag for r in results for flag in r[2]]
    totals = np.concatenate([r[0] for r in results]) if results else np.zeros((0, len(clf.labels_)))
    frames = np.concatenate([r[1] for r in results]) if results else np.zeros(0, int)
    return totals, frames, [i for i, f in enumerate(ok) if f], [m for r in results for m in r[3]]
