"""Training and scoring on a Dask cluster (optional extra: ``pip install 'speechgmm[dask]'``).

Design
------
* Files are cut into **shards** (lists of paths).  Feature extraction is a pure function of
  (paths, front-end config) mapped over the shards on the workers; the resulting feature
  lists stay on the workers (persisted futures) for all EM iterations.
* Each EM iteration ships the current parameters to the workers, maps the E-step over the
  shards -- each returns a :class:`~speechgmm.gmm.GMMStats` of size O(K x D), whatever its
  number of frames -- sums them on the client in shard order and runs the M-step there.
* Initialisation runs on the client with exactly the code of local training, from the same
  frames (all of them when the data has at most ``init_frames``, the local sample size),
  so a distributed model equals a local one up to summation order (~1e-12 relative).
* Nothing lives only on a worker: every task is a pure function of its inputs, so if a
  worker dies Dask recomputes its shards from the graph.

The core of speechgmm never imports this module; it imports dask only inside functions.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from speechgmm.errors import AudioError, ConfigError, InsufficientDataError
from speechgmm.gmm import DiagGMM, GMMStats

INIT_FRAMES = 100_000  # same bound as DiagGMM's local initialisation sample


def dask_client(scheduler: Optional[str] = None, local_workers: Optional[int] = None):
    """Connect to ``scheduler``, or start a LocalCluster of ``local_workers`` processes.

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
    return Client(n_workers=int(local_workers or 2), threads_per_worker=1, processes=True,
                  dashboard_address=":0", silence_logs=40)


def make_shards(items: Sequence, shard_size: int) -> List[list]:
    """Consecutive chunks of ``items`` of at most ``shard_size``."""
    items = list(items)
    return [items[i:i + shard_size] for i in range(0, len(items), max(1, int(shard_size)))]


# -- pure task functions (run on workers) -------------------------------------------------

def _item(p):
    """A shard entry: a path, or ``(path, (kind, seed, index))`` for an augmented copy."""
    return (str(p[0]), (str(p[1][0]), int(p[1][1]), int(p[1][2]))) if isinstance(p, (tuple, list)) else str(p)


def augmented_items(paths: Sequence, kinds, seed: int) -> list:
    """``paths`` followed by one augmented-copy entry per path and kind (the order of
    :func:`speechgmm.pipeline.augmented_features`)."""
    return list(paths) + [(p, (kind, seed, i)) for kind in kinds for i, p in enumerate(paths)]


def _extract_shard(paths: List, config: dict):
    """(features or None per path, error messages) for one shard; entries as in :func:`_item`."""
    from speechgmm.features import FeatureConfig, extract_file

    cfg = FeatureConfig.from_dict(config)
    feats, problems = [], []
    for p in paths:
        try:
            feats.append(extract_file(p[0], cfg, p[1]) if isinstance(p, tuple) else extract_file(p, cfg))
        except AudioError as exc:
            feats.append(None)
            problems.append(str(exc))
    return feats, problems


def _shard_features(result) -> List[np.ndarray]:
    return [f for f in result[0] if f is not None]


def _shard_stats(feats: List[np.ndarray], params: dict) -> dict:
    """E-step statistics of one shard as a dict of arrays (O(K x D), independent of frames)."""
    g = DiagGMM.from_dict(params)
    g.n_threads = 1  # Dask runs shards in parallel already: one thread per task
    if not feats:
        K, D = g.means_.shape
        return GMMStats.zeros(K, D).to_dict()
    return g.accumulate(feats).to_dict()


def _shard_frames(feats: List[np.ndarray]) -> int:
    return int(sum(f.shape[0] for f in feats))


def _score_shard(feats_and_problems, clf_params):
    feats, _ = feats_and_problems
    clf = _classifier_from(clf_params)
    good = [f for f in feats if f is not None]
    if not good:
        return np.zeros((0, len(clf.labels_))), np.zeros(0, dtype=np.int64)
    return clf.score_utterances(good)


def _classifier_to(clf) -> dict:
    d = {"labels": clf.labels_, "method": clf.method_, "top_c": clf.top_c, "priors": clf.priors,
         "models": [m.to_dict() for m in clf.models_]}
    if clf.ubm_ is not None:
        d["ubm"] = clf.ubm_.to_dict()
    return d


def _classifier_from(d: dict):
    from speechgmm.classifier import GMMClassifier

    clf = GMMClassifier(top_c=d["top_c"], priors=d["priors"])
    clf.labels_ = list(d["labels"])
    clf.models_ = [DiagGMM.from_dict(m) for m in d["models"]]
    clf.method_ = d["method"]
    clf.ubm_ = DiagGMM.from_dict(d["ubm"]) if "ubm" in d else None
    return clf


# -- client-side drivers -----------------------------------------------------------------------

def extract_shards(client, paths: Sequence, config, shard_size: int = 64):
    """Map feature extraction over shards of ``paths`` on the cluster.

    Returns
    -------
    raw : list of Future
        Per shard: (features-or-None per path, problems).  Persisted on the workers.
    feats : list of Future
        Per shard: the list of good feature arrays (what the E-step consumes).

    Raises
    ------
    AudioError
        After every shard is done, naming the bad files (like local extraction).
    """
    cfg = config.to_dict()
    raw = [client.submit(_extract_shard, [_item(p) for p in sh], cfg, pure=True) for sh in make_shards(paths, shard_size)]
    problems = [m for _, probs in client.gather([client.submit(lambda r: (None, r[1]), f) for f in raw]) for m in probs]
    if problems:
        more = f" (and {len(problems) - 3} more bad files)" if len(problems) > 3 else ""
        raise AudioError(f"{len(problems)} bad audio file(s): " + "; ".join(problems[:3]) + more)
    feats = [client.submit(_shard_features, f, pure=True) for f in raw]
    return raw, feats


def extract_features_distributed(client, paths: Sequence, config, shard_size: int = 64) -> List[np.ndarray]:
    """Features of ``paths`` computed on the cluster and gathered, in order."""
    _, feats = extract_shards(client, paths, config, shard_size)
    return [a for shard in client.gather(feats) for a in shard]


def accumulate_distributed(client, shards, gmm: DiagGMM) -> GMMStats:
    """E-step mapped over feature-shard futures, statistics summed on the client in shard order."""
    params = client.scatter([gmm.to_dict()], broadcast=True, hash=False)[0]
    parts = client.gather([client.submit(_shard_stats, sh, params, pure=False) for sh in shards])
    total = None
    for p in parts:
        st = GMMStats.from_dict(p)
        total = st if total is None else total + st
    return total


def _init_sample(client, shards, limit: int) -> List[np.ndarray]:
    """Gather whole shards from the start until ``limit`` frames (all of them if fewer)."""
    sizes = client.gather([client.submit(_shard_frames, sh, pure=True) for sh in shards])
    if sum(sizes) <= limit:
        return [a for sh in client.gather(list(shards)) for a in sh]
    # large data: a subsample of frames from every shard, deterministic
    take = [client.submit(lambda fs, k: [f[:: max(1, int(np.ceil(len(shards) * sum(x.shape[0] for x in fs) / k)))]
                                         for f in fs], sh, limit) for sh in shards]
    return [a for sh in client.gather(take) for a in sh if len(a)]


def fit_gmm_distributed(client, shards, gmm: DiagGMM, init_frames: int = INIT_FRAMES) -> DiagGMM:
    """Fit ``gmm`` (its hyper-parameters as set) by EM over feature shards on the cluster.

    Parameters
    ----------
    client : dask.distributed.Client
    shards : list of Future, or list of ndarray
        Feature shards on the cluster (from :func:`extract_shards`), or local arrays, which
        are scattered in shards of 64 utterances.
    gmm : DiagGMM
        Unfitted model; initialised on the client as local training would.

    Returns
    -------
    DiagGMM
        Fitted ``gmm``.
    """
    if shards and isinstance(shards[0], np.ndarray):
        shards = client.scatter(make_shards(shards, 64))
    gmm._check_params()
    total_frames = sum(client.gather([client.submit(_shard_frames, sh, pure=True) for sh in shards]))
    K = int(gmm.n_components)
    if total_frames < 2 * K:
        raise InsufficientDataError(f"{total_frames} frames are too few for {K} components (need at least {2 * K})")
    sample = _init_sample(client, shards, init_frames)
    rng = np.random.default_rng(gmm.random_state)
    gmm.n_reseeded_ = 0

    def acc():
        return accumulate_distributed(client, shards, gmm)

    if total_frames <= init_frames:
        gmm._initialise(sample, rng)  # exactly the local initialisation
    else:
        gmm._initialise(sample, rng, accumulate=acc)
    return gmm._run_em(acc)


def train_classifier_distributed(client, paths, labels, config, clf, shard_size: int = 64):
    """Train ``clf`` (EM per class) with features extracted and kept on the cluster."""
    order, shard_sets = _class_shards(client, paths, labels, config, shard_size)
    models, frames = [], {}
    for i, lab in enumerate(order):
        n = sum(client.gather([client.submit(_shard_frames, sh, pure=True) for sh in shard_sets[lab]]))
        frames[lab] = n
        if n < 2 * clf.n_components:
            raise InsufficientDataError(f"class {lab!r} has {n} frames, too few for {clf.n_components} components")
        g = DiagGMM(clf.n_components, max_iter=clf.max_iter, tol=clf.tol, init=clf.init, var_floor=clf.var_floor,
                    hard=clf.hard, random_state=int(clf.random_state) + i)
        models.append(fit_gmm_distributed(client, shard_sets[lab], g))
    clf.labels_, clf.models_, clf.frames_, clf.method_, clf.ubm_, clf._stack = order, models, frames, "em", None, None
    return clf


def _class_shards(client, paths, labels, config, shard_size):
    from speechgmm.classifier import _label_key

    groups = {}
    for p, lab in zip(paths, labels):
        groups.setdefault(str(lab), []).append(p)
    if len(groups) < 2:
        raise InsufficientDataError(f"need at least 2 classes to train a classifier, got {sorted(groups)}")
    order = sorted(groups, key=_label_key)
    return order, {lab: extract_shards(client, groups[lab], config, shard_size)[1] for lab in order}


def fit_map_distributed(client, paths, labels, config, clf, ubm: DiagGMM, relevance_factor: float, adapt: str = "m",
                        shard_size: int = 64):
    """MAP-adapt one model per class from ``ubm``; statistics accumulated on the cluster."""
    from speechgmm.map import map_adapt

    order, shard_sets = _class_shards(client, paths, labels, config, shard_size)
    stats = {lab: accumulate_distributed(client, shard_sets[lab], ubm) for lab in order}
    clf.labels_ = order
    clf.models_ = [map_adapt(ubm, stats[lab], relevance_factor, adapt) for lab in order]
    clf.frames_ = {lab: int(stats[lab].frames) for lab in order}
    clf.ubm_, clf.method_, clf.relevance_factor, clf.adapt, clf._stack = ubm, "map", relevance_factor, adapt, None
    return clf


def train_ubm_distributed(client, paths, config, ubm: DiagGMM, shard_size: int = 64) -> DiagGMM:
    """Fit a UBM on all frames of ``paths`` with features extracted and kept on the cluster."""
    _, shards = extract_shards(client, paths, config, shard_size)
    return fit_gmm_distributed(client, shards, ubm)


def score_distributed(client, clf, config, paths, shard_size: int = 64):
    """Score files on the cluster; same return values as :func:`speechgmm.pipeline.score_files`."""
    params = client.scatter([_classifier_to(clf)], broadcast=True, hash=False)[0]
    cfg = config.to_dict()
    shards = make_shards([str(p) for p in paths], shard_size)
    raw = [client.submit(_extract_shard, sh, cfg, pure=True) for sh in shards]
    scored = client.gather([client.submit(_score_shard, r, params) for r in raw])
    problems_per = client.gather([client.submit(lambda r: [f is None for f in r[0]], r) for r in raw])
    msgs = [m for r in client.gather([client.submit(lambda r: r[1], r) for r in raw]) for m in r]
    good, start = [], 0
    for sh, bad in zip(shards, problems_per):
        good += [start + j for j, b in enumerate(bad) if not b]
        start += len(sh)
    totals = np.concatenate([t for t, _ in scored]) if scored else np.zeros((0, len(clf.labels_)))
    frames = np.concatenate([f for _, f in scored]) if scored else np.zeros(0, int)
    return totals, frames, good, msgs
