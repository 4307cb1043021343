"""End-to-end steps on manifests: features -> train -> save, and evaluation.

The command line and the recipes call these; they only glue the library's parts
(:mod:`~speechgmm.manifest`, :mod:`~speechgmm.features`, :mod:`~speechgmm.gmm`,
:mod:`~speechgmm.classifier`, :mod:`~speechgmm.modelio`) together.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from speechgmm.errors import ConfigError, raise_bad_files, too_few_frames
from speechgmm.options import RELEVANCE_FACTOR, TrainOptions, UbmOptions

#: Training defaults of ``speechgmm train`` under their command-line names (held by
#: :class:`~speechgmm.options.TrainOptions`; chosen by cross-validation on the corpus's
#: training speakers, see benchmarks/choose_defaults.py and the README).
DEFAULTS = {"components": TrainOptions.n_components, "iterations": TrainOptions.max_iter, "init": TrainOptions.init,
            "seed": TrainOptions.random_state, "ubm_components": TrainOptions.ubm_components,
            "relevance_factor": RELEVANCE_FACTOR}


@dataclass
class TrainSummary:
    """What :func:`train_from_manifest` / :func:`train_ubm_from_manifest` did."""

    output: str
    files: int
    seconds: float
    method: str = "ubm"
    labels: Optional[List[str]] = None
    frames: Optional[Dict[str, int]] = None


def manifest_features(man, config, jobs: int = 1, client=None, desc: str = "features") -> List[np.ndarray]:
    """Features of every file of a manifest (raising one AudioError naming all bad files)."""
    if client is not None:
        from speechgmm.distributed import extract_features_distributed

        return extract_features_distributed(client, man.paths, config)
    from speechgmm.features import extract_files

    return extract_files(man.paths, config, jobs=jobs, desc=desc)[0]


def augmented_features(man, config, kinds, seed: int, jobs: int = 1) -> List[np.ndarray]:
    """Features of one augmented copy of every file per kind (:mod:`speechgmm.augment`),
    kind after kind, each in manifest order."""
    from speechgmm.features import extract_files

    out: List[np.ndarray] = []
    for kind in kinds:
        out += extract_files(man.paths, config, jobs=jobs, desc=f"features ({kind})", augment=(kind, seed))[0]
    return out


def cache_features(man, config, cache_dir, jobs: int = 1, batch: int = 256, augment=(), seed: int = 0):
    """Extract a manifest's features into ``cache_dir/features.ark`` (+ .scp), batch by batch.

    Memory holds one batch of ``batch`` files at most.  Utterance keys are ``u00000000``,
    ``u00000001``, ... in manifest order, then ``u00000000-noise``, ... for each kind of
    ``augment`` copies.  Every file is tried; if any is bad, one AudioError names them and no
    archive is left behind.

    Returns
    -------
    keys : list of str
    scp : Path
    """
    from pathlib import Path

    from speechgmm.features import extract_files
    from speechgmm.kaldi import write_feats

    base = [f"u{i:08d}" for i in range(len(man))]
    keys = base + [f"{k}-{kind}" for kind in augment for k in base]
    problems: List[str] = []

    def items():
        for kind in (None,) + tuple(augment):
            for i in range(0, len(man), batch):
                feats, probs = extract_files(man.paths[i:i + batch], config, jobs=jobs, errors="collect",
                                             desc=f"features{f' ({kind})' if kind else ''} {i}/{len(man)}",
                                             augment=None if kind is None else (kind, seed), first_index=i)
                problems.extend(probs)
                for k, f in zip(base[i:i + batch], feats):
                    if f is not None:
                        yield (k if kind is None else f"{k}-{kind}"), f
            if problems:  # bad files are named once, after the clean pass
                break
        raise_bad_files(problems)

    d = Path(cache_dir).resolve()
    d.mkdir(parents=True, exist_ok=True)
    scp = write_feats(d / "features.ark", items())
    return keys, scp


def _cached_groups(keys, labels, scp):
    from speechgmm.kaldi import ArkFeatures

    by: Dict[str, List[str]] = {}
    for k, lab in zip(keys, labels):
        by.setdefault(str(lab), []).append(k)
    return {lab: ArkFeatures(scp, ks) for lab, ks in by.items()}


def train_ubm(feats, n_components: int, iterations: int, seed: int, init: str = "split", client=None):
    """Fit a background DiagGMM on all frames of ``feats`` (arrays or a feature stream)."""
    return fit_ubm(feats, UbmOptions(n_components=n_components, max_iter=iterations, init=init, random_state=seed),
                   client=client)


def fit_ubm(feats, options: UbmOptions, client=None):
    """Fit the background DiagGMM that ``options`` describes on all frames of ``feats``."""
    from speechgmm.gmm import DiagGMM

    n = DiagGMM._count(feats)[0] if client is None else sum(f.shape[0] for f in feats)
    if n < 2 * options.n_components:
        raise too_few_frames(n, options.n_components, "the UBM data")
    ubm = DiagGMM(options.n_components, max_iter=options.max_iter, tol=options.tol, init=options.init,
                  random_state=options.random_state)
    if client is not None:
        from speechgmm.distributed import fit_gmm_distributed

        return fit_gmm_distributed(client, list(feats), ubm)
    return ubm.fit(feats)


def _front_end(options: TrainOptions):
    """(front end, UBM or None): ``--ubm``'s model and front end, else ``--preset``'s."""
    from speechgmm.features import FeatureConfig
    from speechgmm.modelio import load_model

    if options.ubm is None:
        return FeatureConfig.preset(options.preset or "default"), None
    mf = load_model(options.ubm, kind="ubm")
    cfg = mf.feature_config or FeatureConfig.preset(options.preset or "default")
    if options.preset and FeatureConfig.preset(options.preset) != cfg:
        raise ConfigError(f"--preset {options.preset} differs from the front end the UBM {options.ubm} was trained "
                          "with")
    return cfg, mf.ubm


def train_from_manifest(manifest, output, options: Optional[TrainOptions] = None, *, root=None, jobs: int = 1,
                        cache_dir=None, client=None) -> TrainSummary:
    """Read a manifest, extract features, train a classifier as ``options`` say and save it atomically.

    With ``cache_dir``, features go to a Kaldi archive there and EM streams them from disk
    (memory: one utterance and one E-step chunk per process, whatever the corpus size); with a
    Dask ``client`` they stay on the cluster's workers.  ``options.augment`` (kinds of
    :mod:`speechgmm.augment`) adds one noisy and/or reverberant copy of every training file.
    """
    from speechgmm.classifier import GMMClassifier
    from speechgmm.manifest import read_manifest
    from speechgmm.modelio import save_model

    options = options or TrainOptions()
    t0 = time.time()
    man = read_manifest(manifest, root=root)
    labels = man.labels(options.label_column)
    cfg, ubm = _front_end(options)
    augment, seed = options.augment, options.random_state
    labels = labels * (1 + len(augment))  # the copies follow the originals, kind after kind
    clf = GMMClassifier(n_components=options.n_components, max_iter=options.max_iter, tol=options.tol,
                        init=options.init, random_state=seed, jobs=jobs)
    mo = options.map
    if client is not None:
        from speechgmm import distributed as dist
        from speechgmm.gmm import DiagGMM

        items = dist.augmented_items(man.paths, augment, seed)
        if options.method == "map":
            if ubm is None:
                u = options.ubm_options()
                ubm = dist.train_ubm_distributed(client, items, cfg, DiagGMM(
                    u.n_components, max_iter=u.max_iter, tol=u.tol, init=u.init, random_state=u.random_state))
            clf = dist.fit_map_distributed(client, items, labels, cfg, clf, ubm, mo.relevance_factor, mo.adapt)
        else:
            clf = dist.train_classifier_distributed(client, items, labels, cfg, clf)
    elif cache_dir is not None:
        from speechgmm.kaldi import ArkFeatures

        keys, scp = cache_features(man, cfg, cache_dir, jobs=jobs, augment=augment, seed=seed)
        groups = _cached_groups(keys, labels, scp)
        if options.method == "map":
            if ubm is None:
                ubm = fit_ubm(ArkFeatures(scp, keys), options.ubm_options())
            clf.fit_map_groups(groups, ubm, relevance_factor=mo.relevance_factor, adapt=mo.adapt)
        else:
            clf.fit_groups(groups)
    else:
        feats = manifest_features(man, cfg, jobs=jobs)
        if augment:
            feats = feats + augmented_features(man, cfg, augment, seed, jobs=jobs)
        if options.method == "map":
            if ubm is None:
                ubm = fit_ubm(feats, options.ubm_options())
            clf.fit_map(feats, labels, ubm, relevance_factor=mo.relevance_factor, adapt=mo.adapt)
        else:
            clf.fit(feats, labels)
    info = {"label_column": options.label_column, "manifest": str(man.source), "manifest_sha256": man.sha256,
            "n_files": len(man), "training": options.record()}
    save_model(output, clf, cfg, info)
    return TrainSummary(output=str(output), files=len(man), seconds=time.time() - t0, method=options.method,
                        labels=clf.labels_, frames=clf.frames_)


def train_ubm_from_manifest(manifest, output, options: Optional[UbmOptions] = None, *, root=None, jobs: int = 1,
                            cache_dir=None, client=None) -> TrainSummary:
    """Train a universal background model on every file of a manifest (labels ignored); save it atomically."""
    from speechgmm.features import FeatureConfig
    from speechgmm.manifest import read_manifest
    from speechgmm.modelio import save_ubm

    options = options or UbmOptions()
    t0 = time.time()
    cfg = FeatureConfig.preset(options.preset)
    man = read_manifest(manifest, root=root)
    kinds, seed = options.augment, options.random_state
    if client is not None:
        from speechgmm.distributed import augmented_items, train_ubm_distributed
        from speechgmm.gmm import DiagGMM

        gmm = DiagGMM(options.n_components, max_iter=options.max_iter, tol=options.tol, init=options.init,
                      random_state=seed)
        ubm = train_ubm_distributed(client, augmented_items(man.paths, kinds, seed), cfg, gmm)
    else:
        if cache_dir is not None:
            from speechgmm.kaldi import ArkFeatures

            keys, scp = cache_features(man, cfg, cache_dir, jobs=jobs, augment=kinds, seed=seed)
            feats = ArkFeatures(scp, keys)
        else:
            feats = manifest_features(man, cfg, jobs=jobs)
            if kinds:
                feats = feats + augmented_features(man, cfg, kinds, seed, jobs=jobs)
        ubm = fit_ubm(feats, options)
    save_ubm(output, ubm, cfg, {"manifest": str(man.source), "manifest_sha256": man.sha256, "n_files": len(man),
                                "training": {"iterations": options.max_iter, "init": options.init, "seed": seed,
                                             "augment": list(kinds)}})
    return TrainSummary(output=str(output), files=len(man), seconds=time.time() - t0)


def score_files(clf, config, paths, jobs: int = 1, client=None):
    """Score audio files; bad files are collected, not fatal.

    Returns
    -------
    totals : ndarray, shape (n_good, n_classes)
    frames : ndarray, shape (n_good,)
    good : list of int
        Indices into ``paths`` of the files that were scored.
    problems : list of str
        One message per bad file.
    """
    if client is not None:
        from speechgmm.distributed import score_distributed

        return score_distributed(client, clf, config, paths)
    from speechgmm.features import extract_files

    feats, problems = extract_files(paths, config, jobs=jobs, desc="scoring", errors="collect")
    good = [i for i, f in enumerate(feats) if f is not None]
    totals, frames = clf.score_utterances([feats[i] for i in good])
    return totals, frames, good, problems


def evaluate_manifest(model_file, manifest_path, label_column: Optional[str] = None, root=None, jobs: int = 1,
                      client=None) -> dict:
    """Classify every file of a labelled manifest with a loaded model; classification report."""
    from speechgmm.errors import ManifestError
    from speechgmm.manifest import read_manifest
    from speechgmm.metrics import classification_report

    t0 = time.time()
    man = read_manifest(manifest_path, root=root)
    col = label_column or model_file.header.get("label_column") or "label"
    truth = man.labels(col)
    clf = model_file.classifier
    unknown = sorted(set(truth) - set(clf.labels_))
    if unknown:
        raise ManifestError(f"{man.source}: labels {', '.join(unknown[:5])} of column {col!r} are not classes of the "
                            f"model ({', '.join(clf.labels_)})")
    totals, frames, good, problems = score_files(clf, model_file.feature_config, man.paths, jobs=jobs, client=client)
    raise_bad_files(problems)
    pred = [clf.labels_[i] for i in (totals + clf._log_priors()).argmax(1)]
    rep = classification_report(truth, pred, clf.labels_)
    rep["label_column"] = col
    rep["seconds"] = time.time() - t0
    return rep
