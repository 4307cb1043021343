"""End-to-end steps on manifests: features -> train -> save, and evaluation.

The command line and the recipes call these; they only glue the library's parts
(:mod:`~speechgmm.manifest`, :mod:`~speechgmm.features`, :mod:`~speechgmm.gmm`,
:mod:`~speechgmm.classifier`, :mod:`~speechgmm.modelio`) together.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from speechgmm.errors import InsufficientDataError


#: Training defaults of ``speechgmm train``, chosen by cross-validation on the corpus's
#: training speakers (see benchmarks/choose_defaults.py and the README).
DEFAULTS = {"components": 64, "iterations": 20, "init": "kmeans", "seed": 0, "ubm_components": 256,
            "relevance_factor": 4.0}


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

    from speechgmm.errors import AudioError
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
        if problems:
            more = f" (and {len(problems) - 3} more bad files)" if len(problems) > 3 else ""
            raise AudioError(f"{len(problems)} bad audio file(s): " + "; ".join(problems[:3]) + more)

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


def train_ubm(feats: List[np.ndarray], n_components: int, iterations: int, seed: int, init: str = "split",
              client=None):
    """Fit a background DiagGMM on all frames of ``feats``."""
    from speechgmm.gmm import DiagGMM

    from speechgmm.gmm import DiagGMM as _G

    n = _G._count(feats)[0] if client is None else sum(f.shape[0] for f in feats)
    if n < 2 * n_components:
        raise InsufficientDataError(f"{n} frames are too few for a {n_components}-component UBM")
    ubm = DiagGMM(n_components, max_iter=iterations, tol=0, init=init, random_state=seed)
    if client is not None:
        from speechgmm.distributed import fit_gmm_distributed

        return fit_gmm_distributed(client, list(feats), ubm)
    return ubm.fit(feats)


def train_from_manifest(manifest_path, output, label_column: str = "label", components: int = DEFAULTS["components"],
                        iterations: int = DEFAULTS["iterations"], init: str = DEFAULTS["init"],
                        preset: Optional[str] = None, seed: int = 0, jobs: int = 1, root=None,
                        method: str = "em", ubm_path=None, ubm_components: int = DEFAULTS["ubm_components"],
                        relevance_factor: float = DEFAULTS["relevance_factor"], adapt: str = "m", client=None,
                        cache_dir=None, augment=()) -> Dict[str, Any]:
    """Read a manifest, extract features, train a classifier and save it atomically.

    With ``cache_dir``, features go to a Kaldi archive there and EM streams them from disk
    (memory: one utterance and one E-step chunk per process, whatever the corpus size).
    ``augment`` (kinds of :mod:`speechgmm.augment`) adds one noisy and/or reverberant copy of
    every training file (multi-condition training).

    Returns a summary dict (labels, frames per class, seconds, output path).
    """
    from speechgmm.classifier import GMMClassifier
    from speechgmm.features import FeatureConfig
    from speechgmm.manifest import read_manifest
    from speechgmm.modelio import load_model, save_model

    t0 = time.time()
    man = read_manifest(manifest_path, root=root)
    labels = man.labels(label_column)
    ubm = None
    if ubm_path is not None:
        method = "map"
        mf = load_model(ubm_path, kind="ubm")
        ubm = mf.ubm
        cfg = mf.feature_config or FeatureConfig.preset(preset or "default")
        if preset and FeatureConfig.preset(preset) != cfg:
            from speechgmm.errors import ConfigError

            raise ConfigError(f"--preset {preset} differs from the front end the UBM {ubm_path} was trained with")
    else:
        cfg = FeatureConfig.preset(preset or "default")
    augment = tuple(augment or ())
    labels = labels * (1 + len(augment))  # the copies follow the originals, kind after kind
    clf = GMMClassifier(n_components=components, max_iter=iterations, tol=1e-4, init=init, random_state=seed, jobs=jobs)
    if client is not None:
        from speechgmm import distributed as dist
        from speechgmm.gmm import DiagGMM

        items = dist.augmented_items(man.paths, augment, seed)
        if method == "map":
            if ubm is None:
                ubm = dist.train_ubm_distributed(client, items, cfg, DiagGMM(
                    ubm_components, max_iter=iterations, tol=0, init="split", random_state=seed))
            clf = dist.fit_map_distributed(client, items, labels, cfg, clf, ubm, relevance_factor, adapt)
        else:
            clf = dist.train_classifier_distributed(client, items, labels, cfg, clf)
    elif cache_dir is not None:
        from speechgmm.kaldi import ArkFeatures

        keys, scp = cache_features(man, cfg, cache_dir, jobs=jobs, augment=augment, seed=seed)
        groups = _cached_groups(keys, labels, scp)
        if method == "map":
            if ubm is None:
                ubm = train_ubm(ArkFeatures(scp, keys), ubm_components, iterations, seed)
            clf.fit_map_groups(groups, ubm, relevance_factor=relevance_factor, adapt=adapt)
        else:
            clf.fit_groups(groups)
    else:
        feats = manifest_features(man, cfg, jobs=jobs)
        if augment:
            feats = feats + augmented_features(man, cfg, augment, seed, jobs=jobs)
        if method == "map":
            if ubm is None:
                ubm = train_ubm(feats, ubm_components, iterations, seed)
            clf.fit_map(feats, labels, ubm, relevance_factor=relevance_factor, adapt=adapt)
        else:
            clf.fit(feats, labels)
    info = {"label_column": label_column, "manifest": str(man.source), "manifest_sha256": man.sha256,
            "n_files": len(man), "training": {"method": method, "components": components, "iterations": iterations,
                                              "init": init, "seed": seed, "relevance_factor": relevance_factor,
                                              "adapt": adapt, "ubm": str(ubm_path) if ubm_path else None,
                                              "augment": list(augment)}}
    save_model(output, clf, cfg, info)
    return {"output": str(output), "labels": clf.labels_, "frames": clf.frames_, "files": len(man),
            "seconds": time.time() - t0, "method": method}


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
                      client=None) -> Dict[str, Any]:
    """Classify every file of a labelled manifest with a loaded model; classification report."""
    from speechgmm.errors import AudioError, ManifestError
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
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise AudioError(f"{len(problems)} bad audio file(s): " + "; ".join(problems[:3]) + more)
    pred = [clf.labels_[i] for i in (totals + clf._log_priors()).argmax(1)]
    rep = classification_report(truth, pred, clf.labels_)
    rep["label_column"] = col
    rep["seconds"] = time.time() - t0
    return rep
