"""End-to-end steps on manifests: features -> train -> save, and evaluation.

The command line and the recipes call these; they only glue the library's parts
(:mod:`~speechgmm.manifest`, :mod:`~speechgmm.features`, :mod:`~speechgmm.gmm`,
:mod:`~speechgmm.classifier`, :mod:`~speechgmm.modelio`) together.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from speechgmm.errors import ConfigError, SpeechGMMWarning, need_two_classes, raise_bad_files
from speechgmm.options import RELEVANCE_FACTOR, RunOptions, TrainOptions, UbmOptions

#: Training defaults of ``speechgmm train`` under their command-line names (held by
#: :class:`~speechgmm.options.TrainOptions`; chosen by cross-validation on the corpus's
#: training speakers, see benchmarks/choose_defaults.py and the README).
DEFAULTS = {
    "components": TrainOptions.n_components,
    "iterations": TrainOptions.max_iter,
    "init": TrainOptions.init,
    "seed": TrainOptions.random_state,
    "ubm_components": TrainOptions.ubm_components,
    "relevance_factor": RELEVANCE_FACTOR,
}


@dataclass
class TrainSummary:
    """What :func:`train_from_manifest` / :func:`train_ubm_from_manifest` did."""

    output: str
    files: int
    seconds: float
    method: str = "ubm"
    labels: Optional[list[str]] = None
    frames: Optional[dict[str, int]] = None
    method_reason: Optional[str] = None
    calibration: Optional[dict] = None
    #: the stored open-set record (threshold, impostor trials) of a MAP model; {} for a MAP model that has
    #: none (too few classes or enrolment files); None for other models
    open_set: Optional[dict] = None


def manifest_features(man, config, jobs: int = 1, desc: str = "features") -> list[np.ndarray]:
    """Features of every file of a manifest in memory (raising one AudioError naming all bad files)."""
    from speechgmm.features import extract_files

    return extract_files(man.paths, config, jobs=jobs, desc=desc)[0]


def fit_ubm(data, options: UbmOptions, flag: str = "--components"):
    """Fit the background DiagGMM that ``options`` describes on all frames of ``data`` (arrays or a feature
    source); ``flag``: the option that sets its size, named when the data are too few."""
    from speechgmm.map import train_ubm  # not on the classify path (cold start)

    size = (options.n_components, options.max_iter, options.random_state)
    return train_ubm(data, *size, init=options.init, tol=options.tol, flag=flag)


def _front_end(options: TrainOptions):
    """(front end, UBM or None): ``--ubm``'s model and front end, else ``--preset``'s."""
    from speechgmm.features import FeatureConfig
    from speechgmm.modelio import load_model

    if options.ubm is None:
        return FeatureConfig.preset(options.preset or "default"), None
    from speechgmm.speakers import ubm_path

    mf = load_model(ubm_path(options.ubm, options.preset), kind="ubm")
    cfg = mf.feature_config or FeatureConfig.preset(options.preset or "default")
    if options.preset and FeatureConfig.preset(options.preset) != cfg:
        raise ConfigError(
            f"--preset {options.preset} differs from the front end the UBM {options.ubm} was trained with"
        )
    return cfg, mf.ubm


def _checked_call(manifest, output, options, options_type, run: RunOptions, more_inputs=()):
    """The checks the command line makes before any work, for the Python caller of a training function: the
    argument types, and an ``output`` that is no input (the manifest, its files, its audio; ``more_inputs``),
    not in the feature cache folder (``run.cache_dir``), and can be written.  Returns ``options`` (the defaults
    for None)."""
    from speechgmm._util import check_output
    from speechgmm.manifest import manifest_inputs

    if not isinstance(manifest, (str, os.PathLike)) or str(manifest) == "":
        raise ConfigError(f"manifest must be a non-empty path (str or path-like), not {manifest!r}")
    if options is None:
        options = options_type()
    elif not isinstance(options, options_type):
        raise ConfigError(f"options must be a {options_type.__name__}, not {type(options).__name__}")
    check_output(output, [*manifest_inputs(manifest, run.root), *more_inputs], "output", run.cache_dir)
    return options


def _ubm_inputs(options) -> list:
    """The background models a training run reads (``options.ubm``, and the bundled one), which no output
    may replace."""
    from speechgmm.speakers import BUNDLED_UBMS, ubm_path

    ubm = getattr(options, "ubm", None)
    mine = [ubm_path(ubm, getattr(options, "preset", None))] if isinstance(ubm, (str, os.PathLike)) else []
    return [*BUNDLED_UBMS.values(), *mine]


def train_from_manifest(
    manifest, output, options: Optional[TrainOptions] = None, *, root=None, jobs: int = 1, cache_dir=None, client=None
) -> TrainSummary:
    """Read a manifest, extract features, train a classifier as ``options`` say and save it atomically.

    With ``cache_dir``, features go to a Kaldi archive there and EM streams them from disk
    (memory: one utterance and one E-step chunk per process, whatever the corpus size); with a
    Dask ``client`` they stay on the cluster's workers.  ``options.augment`` (kinds of
    :mod:`speechgmm.augment`) adds one noisy and/or reverberant copy of every training file.
    """
    from speechgmm import speakers
    from speechgmm.classifier import GMMClassifier
    from speechgmm.manifest import read_manifest, warn_about_labels
    from speechgmm.modelio import save_model
    from speechgmm.sources import build_source, original_arrays

    run = RunOptions(root=root, jobs=jobs, cache_dir=cache_dir)  # checked as the command line's --root, ...
    root, jobs, cache_dir = run.root, run.jobs, run.cache_dir
    options = _checked_call(manifest, output, options, TrainOptions, run, _ubm_inputs(options))
    options = speakers.speaker_defaults(options)
    t0 = time.time()
    man = read_manifest(manifest, root=root)
    labels = man.labels(options.label_column)
    warn_about_labels(man, options.label_column, labels)
    if len(set(labels)) < 2:  # before any audio is read
        raise need_two_classes(set(labels), f"{manifest} (label column {options.label_column!r})")
    speaker_of = _speakers(man, options.label_column) if options.calibration == "cv" else None  # checked now
    cfg, ubm = _front_end(options)
    originals = None  # the training features, for open-set calibration (MAP)
    augment, seed = options.augment, options.random_state
    clf = GMMClassifier(
        n_components=options.n_components,
        max_iter=options.max_iter,
        tol=options.tol,
        init=options.init,
        random_state=seed,
        jobs=jobs,
        relevance_factor=options.map.relevance_factor,
        adapt=options.map.adapt,
    )
    source = build_source(man.paths, cfg, augment=augment, seed=seed, jobs=jobs, cache_dir=cache_dir, client=client)
    groups = source.split_by(labels)
    if len(groups) < 2:  # a classifier, whichever the method
        raise need_two_classes(groups)
    class_frames = {lab: int(g.n_frames()) for lab, g in groups.items()}
    options, reason = speakers.resolve_method(options, class_frames)
    for message in speakers.ignored_options(options, ubm is not None):
        warnings.warn(message, SpeechGMMWarning, stacklevel=2)
    if options.method == "map" and speakers.is_speaker_column(options.label_column):
        speakers.check_enrolment(class_frames, cfg.frame_shift_ms, str(manifest))  # as enroll does
    if options.method == "map" and ubm is None:
        ubm = fit_ubm(source, options.ubm_options(), flag="--ubm-components")
    fit = (lambda c, g: c.fit_map_groups(g, ubm)) if options.method == "map" else (lambda c, g: c.fit_groups(g))
    fit(clf, groups)
    if options.method == "map":
        originals = original_arrays(source, len(man))  # the augmented copies follow the originals
    info = {
        "label_column": options.label_column,
        "manifest": str(man.source),
        "manifest_sha256": man.sha256,
        "n_files": len(man),
        "training": dict(options.record(), method_reason=reason),
    }
    calibrated = None
    if options.calibration == "cv":
        clf.calibration_, calibrated = cv_calibration(
            lambda: clf.clone(), fit, source, labels[: len(man)], speaker_of, len(man)
        )
        info["training"]["calibration_cv"] = calibrated
    info.update(
        speakers.map_extras(
            clf, ubm if ubm is not None else clf.ubm_, originals, labels[: len(man)] if originals is not None else None
        )
    )
    save_model(output, clf, cfg, info)
    return TrainSummary(
        output=str(output),
        files=len(man),
        seconds=time.time() - t0,
        method=options.method,
        labels=clf.labels_,
        frames=clf.frames_,
        method_reason=reason,
        calibration=calibrated,
        open_set=info.get("open_set", {}) if getattr(clf, "method_", "em") == "map" else None,
    )


def _speakers(man, label_column: str):
    """The speaker of each file, when the manifest has a speaker column other than the label column."""
    from speechgmm.speakers import speaker_column

    col = speaker_column(man.columns, exclude=label_column)
    why = "the speakers split the files for the cross-validated calibration (or give --calibration none)"
    return man.labels(col, needed_for=why) if col else None


def cv_calibration(make, fit, source, labels, groups, n_files: int):
    """Calibrate a classifier's posteriors by cross-validation on its own training files.

    Each fold's files are scored by a model (``fit(make(), {label: source})``, the same kind and
    hyper-parameters as the final one) trained on the other folds, and the calibration's scale
    (:func:`speechgmm.calibration.fit_calibration`, exponent :data:`~speechgmm.calibration.EXPONENT`)
    is fitted on those held-out scores.  Folds follow ``groups`` (speakers) when given
    (:func:`~speechgmm.calibration.calibration_folds`).  Augmented copies of a file stay in its fold.

    Returns ``(Calibration or None, record)``: the record says how the files were split, and the
    held-out cross-entropy in bits per file before and after, or why no calibration was fitted.
    """
    from speechgmm.calibration import CV_FOLDS, EXPONENT, calibration_folds, cross_entropy, fit_calibration
    from speechgmm.errors import InsufficientDataError
    from speechgmm.sources import original_arrays

    folds, how = calibration_folds(labels, groups, CV_FOLDS)
    if folds is None:
        return None, {"fitted": False, "why": how}
    models = []
    for f in range(CV_FOLDS):
        parts = source.split_by([f"{'held' if k == f else 'train'}\t{lab}" for k, lab in zip(folds, labels)])
        groups_f = {key.split("\t", 1)[1]: part for key, part in parts.items() if key.startswith("train\t")}
        try:
            models.append(fit(make(), groups_f))
        except InsufficientDataError as exc:
            return None, {"fitted": False, "why": f"a cross-validation fold's model could not be trained: {exc}"}
    classes = models[0].classes_
    if any(m.classes_ != classes for m in models):  # pragma: no cover - every label is in every fold
        return None, {"fitted": False, "why": "the folds' models have different classes"}
    index = {lab: i for i, lab in enumerate(classes)}
    totals, frames = np.empty((n_files, len(classes))), np.empty(n_files)
    for i, X in enumerate(original_arrays(source, n_files)):
        t, n = models[folds[i]].score_utterances([X])  # the model that did not train on file i
        totals[i], frames[i] = t[0], n[0]
    truth = np.array([index[str(lab)] for lab in labels], dtype=np.intp)
    cal = fit_calibration(totals, frames, truth, EXPONENT)
    raw, calibrated = cross_entropy(totals, truth), cross_entropy(cal.log_odds(totals, frames), truth)
    return cal, {
        "fitted": True,
        "how": how,
        "files": int(n_files),
        "cross_entropy_bits": {"raw": round(raw, 4), "calibrated": round(calibrated, 4)},
    }


def train_ubm_from_manifest(
    manifest, output, options: Optional[UbmOptions] = None, *, root=None, jobs: int = 1, cache_dir=None, client=None
) -> TrainSummary:
    """Train a universal background model on every file of a manifest (labels ignored); save it atomically."""
    from speechgmm.features import FeatureConfig
    from speechgmm.manifest import read_manifest
    from speechgmm.modelio import save_ubm
    from speechgmm.sources import build_source, original_arrays

    run = RunOptions(root=root, jobs=jobs, cache_dir=cache_dir)  # checked as the command line's --root, ...
    root, jobs, cache_dir = run.root, run.jobs, run.cache_dir
    options = _checked_call(manifest, output, options, UbmOptions, run)
    t0 = time.time()
    cfg = FeatureConfig.preset(options.preset)
    man = read_manifest(manifest, root=root)
    kinds, seed = options.augment, options.random_state
    source = build_source(man.paths, cfg, augment=kinds, seed=seed, jobs=jobs, cache_dir=cache_dir, client=client)
    ubm = fit_ubm(source, options)
    from speechgmm.speakers import Cohort, speaker_column

    spk = speaker_column(man.columns)
    if spk is not None and len(set(man.labels(spk))) > 1:
        # its speakers become the cohort of score normalisation (verify --norm), whatever the backend
        ubm.cohort_ = Cohort.from_items(ubm, zip(man.labels(spk), original_arrays(source, len(man))))
    save_ubm(
        output,
        ubm,
        cfg,
        {
            "manifest": str(man.source),
            "manifest_sha256": man.sha256,
            "n_files": len(man),
            "training": {"iterations": options.max_iter, "init": options.init, "seed": seed, "augment": list(kinds)},
        },
    )
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


def evaluate_manifest(
    model_file,
    manifest_path,
    label_column: Optional[str] = None,
    root=None,
    jobs: int = 1,
    client=None,
    threshold: Optional[float] = None,
    closed_set_for: Optional[str] = None,
) -> dict:
    """Classify every file of a labelled manifest with a loaded model; classification report.

    When the manifest has labels that are not classes of the model, the report is an open-set
    one (:func:`speechgmm.speakers.open_set_report`) at the model's stored threshold (or ``threshold``),
    unless ``closed_set_for`` names what needs a closed-set report (e.g. ``"--plot"``): then that is a
    ConfigError, before any file is scored."""
    from speechgmm.calibration import posterior_quality
    from speechgmm.errors import ManifestError
    from speechgmm.manifest import read_manifest
    from speechgmm.metrics import classification_report

    t0 = time.time()
    man = read_manifest(manifest_path, root=root)
    col = label_column or model_file.header.get("label_column") or "label"
    truth = man.labels(col)
    clf = model_file.classifier
    unknown = sorted(set(truth) - set(clf.labels_))
    if unknown:  # strangers, or the wrong column ('gender' against speakers)?
        from speechgmm.speakers import check_label_column

        check_label_column(model_file.header.get("label_column"), col, model_file.path)
        if closed_set_for:
            raise ConfigError(
                f"{closed_set_for} needs a closed-set report, but {man.source} has labels that are not classes of "
                f"the model ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}): leave out {closed_set_for}"
            )
    open_set = None
    if unknown:
        from speechgmm.speakers import check_open_set_labels, is_speaker_column, open_set_threshold

        check_open_set_labels(clf.labels_, model_file.path)
        try:
            open_set = open_set_threshold(model_file.header, threshold, model_file.path)
        except ConfigError:
            # strangers are a speaker model's business; for other models the labels are spelt otherwise
            speakers = is_speaker_column(model_file.header.get("label_column")) or "open_set" in model_file.header
            hint = "the model has no open-set threshold (give --threshold T)" if speakers else "is it the right column?"
            raise ManifestError(
                f"{man.source}: labels {', '.join(unknown[:5])} of column {col!r} are not classes of "
                f"the model ({', '.join(clf.labels_[:10])}{', ...' if len(clf.labels_) > 10 else ''}); {hint}"
            ) from None
    totals, frames, good, problems = score_files(clf, model_file.feature_config, man.paths, jobs=jobs, client=client)
    raise_bad_files(problems)
    if open_set is not None:
        from speechgmm.speakers import open_set_report, stored_t_weight

        t_weight = stored_t_weight(model_file.header.get("open_set"))
        rep = open_set_report(truth, totals / frames[:, None], clf.labels_, open_set, t_weight)
        rep.update(label_column=col, open_set=True, seconds=time.time() - t0)
        return rep
    pred = clf.predict_from_scores(totals, frames)
    rep = classification_report(truth, pred, clf.labels_)
    rep["posteriors"] = dict(
        posterior_quality(clf.class_log_odds(totals, frames), np.array([clf.labels_.index(t) for t in truth])),
        calibrated=clf.calibration_ is not None,
    )
    rep["label_column"] = col
    rep["seconds"] = time.time() - t0
    return rep
