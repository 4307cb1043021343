"""Speakers: choosing EM or MAP, enrolling new classes, open-set decisions, score normalisation.

* :func:`choose_method` -- ``train --method auto``: per-class EM when every class has enough
  frames for its components, MAP from a UBM otherwise (and always for a speaker column).
* :func:`enroll` -- add or replace classes of a MAP model, adapted from the model's own UBM;
  the other classes are not touched, so the result equals training all classes at once.
* :func:`utterance_llrs` -- mean per-frame log-likelihood ratio of each utterance against
  each class (MAP models), with top-C scoring that evaluates only each frame's C best
  components of every model.
* Score normalisation against a cohort (Auckenthaler et al. 2000): z-norm (the model's
  scores on cohort utterances), t-norm (the test utterance's scores on cohort models) and
  s-norm, their mean.
* Open-set identification: the margin of the best class's score over the second best, plus
  :data:`OPEN_SET_T_WEIGHT` times the best score t-normalised against the other enrolled classes
  (their mean and spread on the same utterance); below a threshold calibrated on leave-one-speaker-out
  impostor trials of the enrolment data (it lets :data:`OPEN_SET_FALSE_ACCEPT` of them through) the
  answer is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from speechgmm.errors import ConfigError, InsufficientDataError, ManifestError, SpeechGMMWarning
from speechgmm.gmm import DiagGMM, GMMStats

#: ``--method auto`` uses MAP when the smallest class has fewer frames than this per component.
#: Digits, default front end, K=64, subsampled training sets: MAP wins at 6.6 frames per
#: component (0.883 vs 0.818), EM from 10.2 up (0.978 vs 0.928); README "Choosing EM or MAP".
MIN_FRAMES_PER_COMPONENT = 8
#: label columns that name speakers: ``--method auto`` picks MAP and the ``speaker`` front end
SPEAKER_COLUMNS = ("speaker", "spk", "speaker_id", "speakerid", "spkid")

#: ``--ubm bundled``: the background model that ships with speechgmm (``speaker`` front end, 256 Gaussians,
#: the 95 TI training speakers; ``recipes/speaker_id/run.py --stop-stage 2 --out-ubm`` regenerates it).
#: ``train --method auto`` (the default) uses it for a speaker column without ``--ubm``: a UBM of the enrolled
#: speakers themselves rejects strangers far worse (README "Recognise speakers").
BUNDLED_UBM = "bundled"
BUNDLED_UBM_PATH = Path(__file__).resolve().parent / "data" / "speaker_ubm.npz"
#: the bundled background model of each speaker front end (``--ubm bundled`` with ``--preset P``; the same
#: speakers and recipe, ``recipes/speaker_id/run.py --preset P --stop-stage 2 --out-ubm``)
BUNDLED_UBMS = {
    "speaker": BUNDLED_UBM_PATH,
    "speaker_any_level": BUNDLED_UBM_PATH.with_name("speaker_any_level_ubm.npz"),
}
#: a speaker enrolled with less speech than this (seconds of frames after VAD) is refused
MIN_ENROL_SECONDS = 1.0
#: the label of an open-set rejection
UNKNOWN = "unknown"
#: score normalisations of ``verify --norm``
NORMS = ("none", "z", "t", "s")


def is_speaker_column(column: Optional[str]) -> bool:
    return bool(column) and column.strip().lower() in SPEAKER_COLUMNS


def speaker_column(columns, exclude: Optional[str] = None) -> Optional[str]:
    """The first of ``columns`` that names speakers (:data:`SPEAKER_COLUMNS`), other than ``exclude``; None if none."""
    return next((c for c in columns if is_speaker_column(c) and c != exclude), None)


def choose_method(frames: dict[str, int], n_components: int, label_column: Optional[str] = None) -> tuple[str, str]:
    """``(method, reason)`` for ``train --method auto`` from the frames of each class."""
    if is_speaker_column(label_column):
        return "map", f"label column {label_column!r} names speakers: GMM-UBM/MAP is the method for speakers"
    lab, n = min(frames.items(), key=lambda kv: kv[1])
    per = n / max(1, int(n_components))
    if per < MIN_FRAMES_PER_COMPONENT:
        return "map", (
            f"class {lab!r} has {n} frames, {per:.1f} per component for K={n_components} "
            f"(< {MIN_FRAMES_PER_COMPONENT}): MAP from a UBM"
        )
    return "em", (
        f"every class has at least {MIN_FRAMES_PER_COMPONENT} frames per component "
        f"(smallest: {lab!r}, {n} frames, {per:.1f} per component for K={n_components}): per-class EM"
    )


# -- scoring ----------------------------------------------------------------------------------


def llr_frames(models: Sequence[DiagGMM], ubm: DiagGMM, X: np.ndarray, c: int = 5) -> np.ndarray:
    """Per-frame top-C log-likelihood ratios (N, n_models) against ``ubm`` (:func:`speechgmm.map.score_top_c`)."""
    from speechgmm.map import score_top_c

    return score_top_c(models, ubm, X, c)


def utterance_llrs(models: Sequence[DiagGMM], ubm: DiagGMM, feats: Sequence[np.ndarray], c: int = 5) -> np.ndarray:
    """Mean per-frame LLR of each utterance (rows) under each model (columns)."""
    feats = [np.asarray(x) for x in feats]
    if not feats:
        return np.zeros((0, len(models)))
    n = np.array([len(x) for x in feats])
    if np.any(n == 0):
        raise ConfigError("an utterance has no frames")
    F = llr_frames(models, ubm, np.concatenate(feats), c)
    return np.add.reduceat(F, np.concatenate([[0], np.cumsum(n)[:-1]]), axis=0) / n[:, None]


# -- score normalisation ----------------------------------------------------------------------


def _mean_std(a: np.ndarray, axis: int):
    mu = a.mean(axis)
    sd = a.std(axis)
    return mu, np.maximum(sd, 1e-6)


def znorm_params(scores_on_cohort: np.ndarray):
    """Per-model z-norm mean and std from its scores on cohort utterances (n_cohort_utts, n_models)."""
    if scores_on_cohort.shape[0] < 2:
        raise InsufficientDataError("z-norm needs at least 2 cohort utterances")
    return _mean_std(scores_on_cohort, 0)


def normalise(
    S: np.ndarray, norm: str, z: Optional[tuple[np.ndarray, np.ndarray]] = None, T: Optional[np.ndarray] = None
) -> np.ndarray:
    """Normalised scores of ``S`` (n_utts, n_models).

    ``z``: per-model (mean, std) of :func:`znorm_params`; ``T``: the same utterances' scores on
    cohort models (n_utts, n_cohort).  ``norm`` is ``none``, ``z``, ``t`` or ``s`` (mean of z and t).
    """
    if norm not in NORMS:
        raise ConfigError(f"norm must be one of {', '.join(NORMS)}, not {norm!r}")
    if norm == "none":
        return S
    if norm in ("z", "s") and z is None:
        raise ConfigError(f"{norm}-norm needs cohort utterances")
    if norm in ("t", "s") and (T is None or T.shape[1] < 2):
        raise ConfigError(f"{norm}-norm needs at least 2 cohort models")
    Sz = (S - z[0]) / z[1] if z is not None else None
    if norm == "z":
        return Sz
    mu, sd = _mean_std(T, 1)
    St = (S - mu[:, None]) / sd[:, None]
    return St if norm == "t" else (Sz + St) / 2


# -- open-set identification ------------------------------------------------------------------


#: weight of the t-normalised best score in the open-set score (0: the margin alone, the rule of model
#: files calibrated before it existed).  2-fold cross-validation on the TI training speakers, best balance
#: of enrolled probes correct and strangers rejected: margin alone 90.5 %, weight 0.25 / 0.5 / 0.75 / 1
#: 91.4 / 91.6 / 91.4 / 91.2 %; README "Recognise speakers"
OPEN_SET_T_WEIGHT = 0.5


#: The t part of the open-set score is used only with at least this many enrolled classes.  An impostor
#: trial of the calibration sees one class fewer than a probe, and with few classes the spread of the
#: others is a poor estimate: in 2-fold cross-validation on the TI training speakers (30 random draws of N
#: enrolled speakers per fold), the mean of enrolled probes correct and strangers unknown was, for the
#: margin alone / margin + 0.5 x t: N=4 92.9 / 72.2 %, N=6 92.5 / 91.2 %, N=10 92.0 / 91.7 %, N=12
#: 91.7 / 91.5 %, N=15 91.6 / 91.8 %, N=20 91.7 / 92.0 %, N=30 90.7 / 91.3 % (README "Recognise speakers").
OPEN_SET_T_MIN_CLASSES = 15


def open_set_t_weight(n_classes: int) -> float:
    """The weight of the t part for a model of ``n_classes`` calibrated now (:data:`OPEN_SET_T_MIN_CLASSES`)."""
    return OPEN_SET_T_WEIGHT if n_classes >= OPEN_SET_T_MIN_CLASSES else 0.0


def open_set_score_name(t_weight: float) -> str:
    """The open-set score's description in the model header (``info`` shows it)."""
    margin = "margin of the best class over the second best (mean LLR per frame)"
    return f"{margin} + {t_weight:g} x the best t-normalised against the other classes" if t_weight else margin


def open_set_scores(
    S: np.ndarray, t_weight: float = OPEN_SET_T_WEIGHT, chosen: Optional[np.ndarray] = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(best, score)`` per utterance from raw scores ``S`` (n_utts, n_classes): the best class, and its
    margin over the second best plus ``t_weight`` times its t-normalised score against the other classes
    ``(best - mean(others)) / std(others)``.  Both parts are relative to the utterance's own competing
    scores, so they do not move with its overall level (raw log-likelihoods or LLRs give the same).
    The t part needs two other classes: with two classes the score is the margin alone.

    ``chosen`` (n_utts,) scores the given class of each utterance instead of its best (``segment``: the
    label the decoder gave a segment); where it is the best class, the score is the same, elsewhere the
    margin is negative."""
    S = np.atleast_2d(np.asarray(S, np.float64))
    if S.shape[1] < 2:
        raise ConfigError("open-set decisions need at least 2 enrolled classes")
    best = S.argmax(1) if chosen is None else np.asarray(chosen, np.int64)
    rows = np.arange(len(S))
    top = S[rows, best]
    others = S[np.arange(S.shape[1])[None, :] != best[:, None]].reshape(len(S), -1)
    score = top - others.max(1)
    if t_weight and S.shape[1] >= 3:
        mu, sd = _mean_std(others, 1)
        score = score + t_weight * (top - mu) / sd
    return best, score


#: ``classify --open-set``: the stored threshold lets this fraction of the leave-one-speaker-out impostor
#: trials through.  Chosen by 2-fold cross-validation on the TI training speakers for the balance of
#: enrolled probes correct and strangers rejected (the best balance lay at 10-12 % of the impostor
#: trials; 3 % rejected 97 % of strangers but kept only 73-76 % of enrolled probes); README "Recognise speakers"
OPEN_SET_FALSE_ACCEPT = 0.10
#: the fewest impostor trials (one per enrolment file) a threshold is calibrated from
MIN_IMPOSTOR_TRIALS = 10


#: utterances are scored for open-set calibration in batches of about this many frames (bounded memory)
_BATCH_FRAMES = 200_000


def impostor_trials(clf, groups: dict[str, Sequence[np.ndarray]], t_weight: float = OPEN_SET_T_WEIGHT) -> np.ndarray:
    """Open-set scores of leave-one-speaker-out impostor trials on enrolment data ``{label: [features]}``:
    each utterance scored against every class of ``clf`` but its own, as a stranger would be."""
    return impostor_scores(clf, ((lab, x) for lab in groups for x in groups[lab]), t_weight)[0]


def impostor_scores(clf, items, t_weight: float = OPEN_SET_T_WEIGHT) -> tuple[np.ndarray, list[str]]:
    """``(scores, labels)`` of the impostor trials of ``(label, features)`` pairs (an iterable, read once,
    scored in batches: an archive or a cluster's arrays need not fit in memory); utterances without
    frames or of labels that ``clf`` lacks are skipped."""
    col = {lab: i for i, lab in enumerate(clf.labels_)}
    scores: list[np.ndarray] = []
    labels: list[str] = []
    batch: list[tuple[int, np.ndarray]] = []

    def flush():
        if batch:
            S = utterance_llrs(clf.models_, clf.ubm_, [x for _, x in batch], clf.top_c)
            keep = np.ones_like(S, bool)
            keep[np.arange(len(S)), [j for j, _ in batch]] = False
            scores.append(open_set_scores(S[keep].reshape(len(S), -1), t_weight)[1])
            batch.clear()

    frames = 0
    for lab, x in items:
        x = np.asarray(x)
        if lab not in col or not len(x):
            continue
        batch.append((col[lab], x))
        labels.append(lab)
        frames += len(x)
        if frames >= _BATCH_FRAMES:
            flush()
            frames = 0
    flush()
    return (np.concatenate(scores) if scores else np.zeros(0)), labels


def calibrate(
    impostor: np.ndarray, false_accept: float = OPEN_SET_FALSE_ACCEPT, t_weight: float = OPEN_SET_T_WEIGHT
) -> dict[str, object]:
    """The header record of an open-set threshold: the score (:func:`open_set_scores` with ``t_weight``)
    that ``false_accept`` of the impostor trials reach or exceed."""
    trials = np.asarray(impostor, np.float64)
    imp = np.sort(trials)
    if len(imp) < MIN_IMPOSTOR_TRIALS:
        raise InsufficientDataError(
            f"open-set calibration needs at least {MIN_IMPOSTOR_TRIALS} impostor trials, got {len(imp)}"
        )
    thr = float(np.quantile(imp, 1.0 - false_accept, method="higher"))
    thr = float(np.nextafter(thr, np.inf))  # strictly above that trial
    return {
        "score": open_set_score_name(t_weight),
        "t_weight": float(t_weight),
        "threshold": thr,
        "false_accept": float(false_accept),
        "impostor_trials": int(len(imp)),
        "impostor_scores": [round(float(v), 5) for v in trials],  # in the given order (enroll pairs them with labels)
    }


def open_set_predict(
    S: np.ndarray, labels: Sequence[str], threshold: float, t_weight: float = OPEN_SET_T_WEIGHT
) -> tuple[list[str], np.ndarray]:
    """Labels (``unknown`` below ``threshold``) and open-set scores of utterances with raw LLRs ``S``."""
    best, score = open_set_scores(S, t_weight)
    return [labels[b] if s >= threshold else UNKNOWN for b, s in zip(best, score)], score


# -- enrolment --------------------------------------------------------------------------------


def check_enrolment(frames: dict[str, int], frame_shift_ms: float, where: str = "") -> None:
    """Refuse classes with less than :data:`MIN_ENROL_SECONDS` of speech (one error naming them)."""
    need = int(round(MIN_ENROL_SECONDS * 1000.0 / frame_shift_ms))
    short = sorted(lab for lab, n in frames.items() if n < need)
    if short:
        secs = ", ".join(f"{lab!r} ({frames[lab] * frame_shift_ms / 1000:.2f} s)" for lab in short[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        raise InsufficientDataError(
            f"{where + ': ' if where else ''}less than {MIN_ENROL_SECONDS:g} s of speech "
            f"to enrol {secs}{more}; add recordings of "
            f"{'this speaker' if len(short) == 1 else 'these speakers'}"
        )


def enroll(clf, groups: dict[str, Sequence[np.ndarray]]):
    """Add (or replace) the classes of ``groups`` ``{label: feature arrays}`` in the MAP classifier
    ``clf``, adapted from its UBM with its relevance factor and ``adapt``; other classes are not
    touched.  Returns ``(new classifier, added labels, replaced labels)``; ``clf`` is unchanged."""
    from speechgmm.map import map_adapt

    if getattr(clf, "method_", "em") != "map" or getattr(clf, "ubm_", None) is None:
        raise ConfigError(
            "is an EM model without a UBM: enrol needs a MAP model; train one with "
            "'speechgmm train --method map' (or '--ubm U.npz') and enrol into that"
        )
    ubm = clf.ubm_
    _check_feature_dims(groups, ubm.means_.shape[1])
    new = {
        lab: map_adapt(ubm, ubm.accumulate(list(arrays)), clf.relevance_factor, clf.adapt)
        for lab, arrays in groups.items()
    }
    return _with_classes(clf, groups, new)


def _check_feature_dims(groups: dict[str, Sequence[np.ndarray]], D: int) -> None:
    """Raise ConfigError unless every array of ``groups`` is (frames, ``D``)."""
    for lab, arrays in groups.items():
        for a in arrays:
            if np.asarray(a).ndim != 2 or np.asarray(a).shape[1] != D:
                raise ConfigError(f"features of {lab!r} have shape {np.asarray(a).shape}, the model expects {D} dims")


def _with_classes(clf, groups: dict[str, Sequence[np.ndarray]], new: dict):
    """``(copy of clf with the adapted models new {label: DiagGMM} added or replacing, added, replaced)``."""
    import copy

    from speechgmm.classifier import _label_key

    models = dict(zip(clf.labels_, clf.models_))
    replaced = sorted((lab for lab in new if lab in models), key=_label_key)
    added = sorted((lab for lab in new if lab not in models), key=_label_key)
    models.update(new)
    frames = dict(clf.frames_)
    frames.update({lab: int(sum(np.asarray(a).shape[0] for a in arrays)) for lab, arrays in groups.items()})
    out = copy.copy(clf)
    out.labels_ = sorted(models, key=_label_key)
    out.models_ = [models[lab] for lab in out.labels_]
    out.frames_ = {lab: frames[lab] for lab in out.labels_}
    if clf.priors:
        out.priors = dict(clf.priors)
        for lab in added:
            out.priors[lab] = float(np.mean(list(clf.priors.values())))
    # the calibration scale stays: it discounts per-frame evidence of the same front end, UBM and relevance
    # factor (TI, 50 + 23 speakers: 0.184 bits per probe kept, 0.185 refitted on all 73, 0.967 raw)
    out.calibration_ = clf.calibration_
    if clf.calibration_ is not None and len(out.labels_) >= 2 * len(clf.labels_):
        import warnings

        warnings.warn(
            f"the posteriors' calibration scale was fitted with {len(clf.labels_)} classes and is kept for "
            f"{len(out.labels_)}: with twice the classes or more it can be far off (2 TI speakers' 13.4 against 1.8 "
            "for 4 trained at once); to recalibrate, train all classes at once with 'speechgmm train'",
            SpeechGMMWarning,
            stacklevel=2,
        )
    out._stack = None
    return out, added, replaced


# -- cohorts ----------------------------------------------------------------------------------
#: cohort utterances kept per cohort speaker for z-norm (the shortest ones: test probes are short)
COHORT_UTTS_PER_SPEAKER = 2


class Cohort:
    """Other speakers' data for score normalisation, summarised against a UBM.

    ``n`` (C, K) and ``f`` (C, K, D): each cohort speaker's zeroth and first order UBM statistics
    (cohort models for t-norm are MAP-adapted from them, means only); ``utts``: a few of their
    utterances' features (z-norm); ``speakers``: their labels.
    """

    def __init__(self, speakers: list[str], n: np.ndarray, f: np.ndarray, utts: list[np.ndarray]):
        self.speakers, self.n, self.f, self.utts = list(speakers), n, f, list(utts)

    @classmethod
    def from_groups(
        cls, ubm: DiagGMM, groups: dict[str, Sequence[np.ndarray]], utts_per_speaker: int = COHORT_UTTS_PER_SPEAKER
    ) -> Cohort:
        return cls.from_items(ubm, ((s, a) for s in sorted(groups) for a in groups[s]), utts_per_speaker)

    @classmethod
    def from_items(cls, ubm: DiagGMM, items, utts_per_speaker: int = COHORT_UTTS_PER_SPEAKER) -> Cohort:
        """A cohort from ``(speaker, features)`` pairs, read once (in memory: one speaker's run of
        consecutive utterances, and the few shortest utterances kept per speaker)."""
        stats: dict[str, GMMStats] = {}
        short: dict[str, list[np.ndarray]] = {}
        run: list[np.ndarray] = []
        who = None

        def flush():
            if run:
                st = ubm.accumulate(list(run))
                stats[who] = stats[who] + st if who in stats else st
                keep = sorted(short.get(who, []) + [np.asarray(a, np.float32) for a in run if len(a)], key=len)
                short[who] = keep[:utts_per_speaker]
                run.clear()

        for spk, a in items:
            if spk != who:
                flush()
                who = spk
            run.append(a)
        flush()
        speakers = sorted(stats)
        if len(speakers) < 2:
            raise InsufficientDataError(f"a cohort needs at least 2 speakers, got {speakers}")
        return cls(
            speakers,
            np.stack([stats[s].n for s in speakers]).astype(np.float32),
            np.stack([stats[s].f for s in speakers]).astype(np.float32),
            [u for s in speakers for u in short[s]],
        )

    def models(self, ubm: DiagGMM, relevance_factor: float) -> list[DiagGMM]:
        from speechgmm.map import map_adapt

        out = []
        for n, f in zip(self.n, self.f):
            n = n.astype(np.float64)
            f = f.astype(np.float64)
            st = GMMStats(n, f, np.zeros_like(f))
            out.append(map_adapt(ubm, st, relevance_factor, "m"))
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        lengths = np.array([len(u) for u in self.utts], np.int64)
        feats = (
            np.concatenate(self.utts).astype(np.float32) if self.utts else np.zeros((0, self.f.shape[2]), np.float32)
        )
        return {
            "cohort_n": self.n,
            "cohort_f": self.f,
            "cohort_feats": feats,
            "cohort_lengths": lengths,
            "cohort_speakers": np.array(self.speakers, dtype=str),
        }

    @classmethod
    def from_arrays(cls, arrays, where: str = "model") -> Optional[Cohort]:
        from speechgmm.errors import ModelFileError

        if "cohort_n" not in arrays:
            return None
        try:
            n, f = np.asarray(arrays["cohort_n"]), np.asarray(arrays["cohort_f"])
            feats, lengths = np.asarray(arrays["cohort_feats"]), np.asarray(arrays["cohort_lengths"])
            speakers = [str(s) for s in np.asarray(arrays["cohort_speakers"])]
        except KeyError as exc:
            raise ModelFileError(f"{where}: damaged model file (missing array {exc.args[0]})") from None
        if not (_cohort_shapes_ok(n, f, feats, lengths, speakers) and _cohort_values_ok(n, f, feats, lengths)):
            raise ModelFileError(f"{where}: damaged model file (inconsistent cohort arrays)")
        utts = np.split(feats, np.cumsum(lengths)[:-1]) if len(lengths) else []
        return cls(speakers, n, f, utts)


def _cohort_shapes_ok(n, f, feats, lengths, speakers) -> bool:
    """Whether stored cohort arrays have consistent dimensions."""
    return (
        n.ndim == 2
        and f.ndim == 3
        and f.shape[:2] == n.shape
        and len(speakers) == len(n)
        and feats.ndim == 2
        and feats.shape[1] == f.shape[2]
        and lengths.ndim == 1
    )


def _cohort_values_ok(n, f, feats, lengths) -> bool:
    """Whether stored cohort arrays hold valid values (positive lengths covering ``feats``, finite, n >= 0)."""
    return bool(
        np.all(lengths > 0)
        and lengths.sum() == len(feats)
        and all(np.all(np.isfinite(a)) for a in (n, f, feats))
        and np.all(n >= 0)
    )


def normalised_scores(
    clf, S: np.ndarray, feats: Sequence[np.ndarray], cohort: Optional[Cohort], norms: Sequence[str] = NORMS
) -> dict[str, np.ndarray]:
    """``{norm: scores}`` of utterances ``feats`` (raw mean-frame LLRs ``S``, (n_utts, n_classes))
    normalised against ``cohort`` (z: the classes' scores on cohort utterances; t: the utterances'
    scores on cohort models; s: their mean)."""
    out = {"none": S}
    if cohort is None or not set(norms) - {"none"}:
        return out
    ubm = clf.ubm_
    cm = cohort.models(ubm, clf.relevance_factor)
    T = utterance_llrs(cm, ubm, feats, clf.top_c)
    z = znorm_params(utterance_llrs(clf.models_, ubm, cohort.utts, clf.top_c))
    for norm in norms:
        if norm != "none":
            out[norm] = normalise(S, norm, z, T)
    return out


def group_by_label(feats: Sequence[np.ndarray], labels: Sequence[str]) -> dict[str, list[np.ndarray]]:
    groups: dict[str, list[np.ndarray]] = {}
    for x, lab in zip(feats, labels):
        groups.setdefault(str(lab), []).append(x)
    return groups


def open_set_record(clf, groups: dict[str, Sequence[np.ndarray]], previous: Optional[dict] = None) -> Optional[dict]:
    """The header record of the open-set threshold of ``clf`` (None with fewer than 3 classes):
    impostor trials of ``groups`` (enrolment data) plus those stored in ``previous``."""
    return open_set_record_items(clf, ((lab, x) for lab in groups for x in groups[lab]), previous, set(groups))


#: when a model gets no open-set threshold (one place for train's note and classify's error)
NO_OPEN_SET_WHY = (
    f"it is calibrated from at least {MIN_IMPOSTOR_TRIALS} impostor trials of a MAP model of at least 3 classes: "
    f"each training file scored against the other classes, and at enrol, each new file; trials are kept until "
    f"there are enough"
)


def pending_trials_note(n: int) -> str:
    """How many impostor trials a record of too few to calibrate has stored so far ('' for none)."""
    return f"; {n} of {MIN_IMPOSTOR_TRIALS} impostor trials stored so far" if n else ""


def open_set_record_items(clf, items, previous: Optional[dict] = None, replaced=()) -> Optional[dict]:
    """:func:`open_set_record` from ``(label, features)`` pairs (an iterable, read once); the impostor
    trials stored in ``previous`` are kept except those of the ``replaced`` labels (and so is its score:
    a model calibrated on the margin alone stays so)."""
    if getattr(clf, "method_", "em") != "map" or len(clf.labels_) < 3:
        return None
    keep = bool(previous and previous.get("impostor_scores"))
    t_weight = stored_t_weight(previous) if keep else open_set_t_weight(len(clf.labels_))
    imp, imp_labels = impostor_scores(clf, items, t_weight)
    if keep:
        imp, imp_labels = _with_previous_impostors(imp, imp_labels, set(replaced), previous)
    if len(imp) < MIN_IMPOSTOR_TRIALS:
        # too few to calibrate: kept for the next enrolment (QA: a family model of mum and dad never got a
        # threshold through enroll, and the first trials of a small one were lost)
        if not len(imp):
            return None
        rec = {
            "score": open_set_score_name(t_weight),
            "t_weight": float(t_weight),
            "impostor_trials": int(len(imp)),
            "impostor_scores": [round(float(v), 5) for v in imp],
        }
    else:
        rec = calibrate(imp, t_weight=t_weight)
    rec["impostor_labels"] = imp_labels
    rec["impostor_paired"] = True  # impostor_scores[i] is the trial of impostor_labels[i]
    return rec


#: the label of a stored impostor trial whose speaker is not known (records written before 2026-12-07
#: stored their scores sorted, apart from their labels)
UNPAIRED = ""


def _with_previous_impostors(imp: np.ndarray, imp_labels: list, replaced: set, previous: dict):
    """``(scores, labels)`` of the impostor trials ``imp`` preceded by those of ``previous`` whose
    label is not in ``replaced``.  A record whose scores are not paired with their labels (written before
    ``impostor_paired``: the scores sorted, the labels in file order) keeps all its trials, as
    :data:`UNPAIRED`: which of them were the replaced speakers' cannot be told (dropping by position had
    dropped the highest scores, lowering the threshold at every re-enrolment; QA 2026-12-07)."""
    scores = [float(v) for v in previous["impostor_scores"]]
    labels = list(previous.get("impostor_labels") or [])
    if not (previous.get("impostor_paired") and len(labels) == len(scores)):
        labels = [UNPAIRED] * len(scores)
    kept = [(v, lab) for v, lab in zip(scores, labels) if lab not in replaced]
    return (
        np.concatenate([np.array([v for v, _ in kept], np.float64), imp]),
        [lab for _, lab in kept] + list(imp_labels),
    )


def enroll_from_manifest(
    model_path,
    manifest_path,
    output,
    label_column: Optional[str] = None,
    preset: Optional[str] = None,
    root=None,
    jobs: int = 1,
) -> dict[str, object]:
    """``speechgmm enroll``: add/replace the classes of a manifest in a MAP model file; write ``output``."""
    import time

    from speechgmm.features import extract_files
    from speechgmm.manifest import read_manifest, warn_about_labels
    from speechgmm.modelio import load_model, save_model

    t0 = time.time()
    mf = load_model(model_path, kind="classifier")
    clf = mf.classifier
    cfg = _enrolment_front_end(mf, model_path, preset)
    col = label_column or mf.header.get("label_column") or "label"
    man = read_manifest(manifest_path, root=root)
    labels = man.labels(col)  # a missing column is named first
    check_label_column(mf.header.get("label_column"), col, model_path)
    warn_about_labels(man, col, labels, known=[lab for lab in clf.labels_ if lab not in set(labels)])
    check_open_set_labels(labels, man.source)
    feats = extract_files(man.paths, cfg, jobs=jobs, desc="enroll")[0]
    groups = group_by_label(feats, labels)
    check_enrolment(
        {lab: int(sum(len(x) for x in xs)) for lab, xs in groups.items()}, cfg.frame_shift_ms, str(man.source)
    )
    new, added, replaced = enroll(clf, groups)
    info = _enrolled_header(mf.header, col, man, added, replaced)
    rec = open_set_record(new, groups, mf.header.get("open_set"))
    if rec is not None:
        info["open_set"] = rec
    save_model(output, new, cfg, info)
    return {
        "output": str(output),
        "added": added,
        "replaced": replaced,
        "files": len(man),
        "n_classes": len(new.labels_),
        "threshold": rec.get("threshold") if rec else None,
        "impostor_trials": rec["impostor_trials"] if rec else 0,
        "seconds": time.time() - t0,
    }


def check_label_column(model_column: Optional[str], col: str, model_path) -> None:
    """ConfigError when the label column ``col`` of a manifest names speakers and the model's own
    ``model_column`` does not, or the other way round (a gender column enrolled into or evaluated
    against speakers would read 'male', 'female' as speakers)."""
    if model_column and is_speaker_column(model_column) != is_speaker_column(col):
        kind = "speakers" if is_speaker_column(model_column) else "no speakers"
        raise ConfigError(
            f"{model_path}: its classes come from the label column {model_column!r} ({kind}); "
            f"--label-column {col!r} names other things; use a column like {model_column!r}"
        )


def _enrolment_front_end(mf, model_path, preset: Optional[str]):
    """The front end of model file ``mf`` to enrol with; ConfigError for an EM model, a missing
    front end or a ``--preset`` that differs from it."""
    from speechgmm.features import FeatureConfig

    clf = mf.classifier
    if clf.method_ != "map" or clf.ubm_ is None:
        raise ConfigError(
            f"{model_path}: is an EM model without a UBM, so classes cannot be added to it; retrain all "
            f"classes with 'speechgmm train --method map' (or '--ubm U.npz'), then enrol into that model"
        )
    cfg = mf.feature_config
    if cfg is None:
        raise ConfigError(f"{model_path}: model file has no front-end configuration")
    if preset is not None and FeatureConfig.preset(preset) != cfg:
        raise ConfigError(
            f"--preset {preset} differs from the front end of {model_path}; enrolment must use the "
            f"model's own front end (leave out --preset)"
        )
    return cfg


def _enrolled_header(header: dict, col: str, man, added: list, replaced: list) -> dict:
    """The header of the enrolled model: ``header``'s entries (less those save_model or the open-set
    record rewrite; the label column is the model's, or ``col`` if it had none) and one more ``enrolled``
    entry for manifest ``man`` read from column ``col``."""
    info = {
        k: v
        for k, v in header.items()
        if k not in ("format", "format_version", "speechgmm_version", "created", "features", "open_set")
    }
    # the model's own column stays its default (evaluate, verify); an enrolment read from another is noted
    info["label_column"] = header.get("label_column") or col
    info["enrolled"] = list(header.get("enrolled") or []) + [
        {
            "manifest": str(man.source),
            "label_column": col,
            "manifest_sha256": man.sha256,
            "n_files": len(man),
            "added": added,
            "replaced": replaced,
        }
    ]
    return info


def default_norm(clf, cohort: Optional[Cohort]) -> str:
    """``verify``'s default: s-norm whenever a cohort is available (MAP models), else none."""
    return "s" if cohort is not None and getattr(clf, "method_", "em") == "map" else "none"


def cohort_from_manifest(
    clf, manifest_path, config, label_column: Optional[str] = None, root=None, jobs: int = 1
) -> Cohort:
    """A cohort from a labelled manifest (``verify --cohort``): its speakers' statistics under the model's UBM."""
    from speechgmm.features import extract_files
    from speechgmm.manifest import read_manifest

    if getattr(clf, "method_", "em") != "map":
        raise ConfigError("score normalisation against a cohort needs a MAP model (with a UBM)")
    man = read_manifest(manifest_path, root=root)
    col = label_column or speaker_column(man.columns)
    if col is None:  # a label column of digits or genders would pass for speakers and give wrong norms
        raise ManifestError(
            f"{manifest_path}: a cohort needs a speaker column ({', '.join(SPEAKER_COLUMNS)}); "
            f"it has {', '.join(sorted(man.columns)) or 'none'}"
        )
    labels = man.labels(col)
    _check_cohort(manifest_path, man.paths, labels, clf.labels_)
    feats = extract_files(man.paths, config, jobs=jobs, desc="cohort")[0]
    return Cohort.from_groups(clf.ubm_, group_by_label(feats, labels))


#: ``verify --cohort`` with fewer speakers is warned about (the mean and spread of a speaker's cohort scores
#: come from one score per cohort speaker)
FEW_COHORT_SPEAKERS = 10


def _check_cohort(source, paths, labels, model_labels) -> None:
    """Before any audio is read: a cohort of at least 2 speakers, none sharing a file with another
    (identical cohort models have no spread: t-norm divided by it gave scores of +-3e6); a warning
    when cohort speakers are also classes of the model (their own models then sit in the cohort)."""
    import warnings

    from speechgmm.errors import SpeechGMMWarning

    speakers = sorted(set(labels))
    if len(speakers) < 2:
        raise ManifestError(
            f"{source}: a cohort needs at least 2 speakers, it has {len(speakers)} ({', '.join(speakers)})"
        )
    owner: dict[str, str] = {}
    for p, lab in zip(paths, labels):
        key = str(p)
        if owner.setdefault(key, lab) != lab:
            raise ManifestError(f"{source}: {key} is listed for cohort speakers {owner[key]!r} and {lab!r}")
    if len(speakers) < FEW_COHORT_SPEAKERS:
        warnings.warn(
            f"{source}: a cohort of {len(speakers)} speakers gives unsteady normalisation statistics (QA: with 2, "
            f"s-norm doubled the EER of no normalisation); use {FEW_COHORT_SPEAKERS} or more, or --norm none",
            SpeechGMMWarning,
            stacklevel=2,
        )
    warn_cohort_overlap(source, speakers, model_labels)


def warn_cohort_overlap(source, speakers, model_labels) -> None:
    """Warn when cohort ``speakers`` are also classes of the model (their own models then sit in the
    cohort): for ``--cohort`` and for the cohort stored with the UBM (QA: only the first was warned about)."""
    import warnings

    from speechgmm.errors import SpeechGMMWarning

    both = sorted(set(speakers) & set(model_labels))
    if both:
        warnings.warn(
            f"{source}: cohort speakers {', '.join(both[:5])}{', ...' if len(both) > 5 else ''} are also classes "
            "of the model; a cohort of other speakers normalises better",
            SpeechGMMWarning,
            stacklevel=3,
        )


# -- training hooks (pipeline.train_from_manifest) ----------------------------------------------


def ubm_path(value, preset: Optional[str] = None):
    """The file of ``--ubm VALUE``: for ``bundled``, the bundled UBM of ``preset`` (:data:`BUNDLED_UBMS`;
    the ``speaker`` one without a preset or for a preset that has none), else ``VALUE`` itself."""
    return BUNDLED_UBMS.get(preset or "speaker", BUNDLED_UBM_PATH) if value == BUNDLED_UBM else value


def speaker_defaults(options):
    """``options`` for a label column that names speakers, without ``--ubm``: with ``--method auto`` and a
    front end with a bundled background model (no ``--preset``, ``speaker`` or ``speaker_any_level``:
    :data:`BUNDLED_UBMS`), MAP from it; otherwise
    the ``speaker`` front end when no ``--preset`` is given (mean normalisation removes speaker information),
    and ``--method map`` trains a UBM on the same manifest."""
    if options.ubm is not None or not is_speaker_column(options.label_column):
        return options
    bundled = BUNDLED_UBMS.get(options.preset or "speaker")
    if options.method == "auto" and bundled is not None and bundled.is_file():
        return options.replace(ubm=BUNDLED_UBM)
    return options.replace(preset="speaker") if options.preset is None else options


def resolve_method(options, frames: Optional[dict[str, int]]):
    """``(options, reason)``: ``method="auto"`` replaced by :func:`choose_method`'s choice; ``frames``
    (per class) may be None when they are not counted (Dask), then only the column decides."""
    if options.method != "auto":
        why = "--ubm given" if options.ubm else f"--method {options.method} given"
        if options.ubm == BUNDLED_UBM:
            why = (
                f"label column {options.label_column!r} names speakers: MAP from the bundled background model "
                "(95 other speakers; a UBM of the enrolled speakers themselves rejects strangers worse)"
                if is_speaker_column(options.label_column)
                else "--ubm bundled given"
            )
        return options, why
    if frames is None:
        if is_speaker_column(options.label_column):
            method, reason = choose_method({}, options.n_components, options.label_column)
        else:
            method, reason = "em", "frames per class are not counted on a Dask cluster: per-class EM"
    else:
        method, reason = choose_method(frames, options.n_components, options.label_column)
    changes = {"method": method}
    if method == "map" and options.ubm is None and frames:
        # the UBM trained here on the same data: at least MIN_FRAMES_PER_COMPONENT frames per Gaussian
        total = sum(frames.values())
        k = options.ubm_components
        while k > 1 and total < MIN_FRAMES_PER_COMPONENT * k:
            k //= 2
        if k != options.ubm_components:
            changes["ubm_components"] = k
            reason += f"; a {k}-component UBM for its {total} frames"
        else:
            reason += f"; the UBM (--ubm-components {k}) is trained on this manifest"
        reason += ", and its size, not --components, sets the models' size"
    return options.replace(**changes), reason


def ignored_options(options, ubm_given: bool) -> list[str]:
    """A message for each flag that ``options`` (method resolved) sets away from its default and that
    its method does not use: ``-k 8`` with a speaker column trained 256-component MAP models without
    a word."""
    from speechgmm.options import MapOptions, TrainOptions

    changed = set()
    for given, default in ((options, TrainOptions()), (options.map, MapOptions())):
        changed |= {n for n in _TRAIN_FLAGS if n in default.__dict__ and getattr(given, n) != getattr(default, n)}
    if options.method == "map":
        why = {"n_components": "the UBM's size sets the models' size"}
        if ubm_given:  # no EM runs here
            why.update(dict.fromkeys(("max_iter", "init", "ubm_components"), "the UBM is given, not trained here"))
    else:
        why = dict.fromkeys(("ubm_components", "relevance_factor", "adapt"), "only for --method map")
    unused = [n for n in _TRAIN_FLAGS if n in changed and n in why]
    return [f"{_TRAIN_FLAGS[n]} ignored: {why[n]} (method {options.method})" for n in unused]


#: the command-line flag of each training option that :func:`ignored_options` looks at
_TRAIN_FLAGS = {
    "n_components": "--components",
    "max_iter": "--iterations",
    "init": "--init",
    "ubm_components": "--ubm-components",
    "relevance_factor": "--relevance-factor",
    "adapt": "--adapt",
}


def map_extras(clf, ubm, feats=None, labels=None) -> dict[str, object]:
    """After MAP training: the UBM's cohort goes with the classifier (``clf.cohort_``); with the
    training features ``feats`` (arrays, or any iterable of them read once, in ``labels``' order) the
    open-set threshold is calibrated (header ``open_set``)."""
    info: dict[str, object] = {}
    if getattr(clf, "method_", "em") != "map":
        return info
    clf.cohort_ = getattr(ubm, "cohort_", None)
    if feats is not None:
        rec = open_set_record_items(clf, zip(map(str, labels), feats))
        if rec is not None:
            info["open_set"] = rec
    return info


# -- open-set use (classify --open-set, evaluate) ---------------------------------------------


def stored_t_weight(rec: Optional[dict]) -> float:
    """The t weight of a stored open-set record (also one of too few trials to calibrate yet): 0 (the margin
    alone) in files calibrated before the t part existed, :data:`OPEN_SET_T_WEIGHT` when there is no record
    (``--threshold`` alone)."""
    if not isinstance(rec, dict) or (rec.get("threshold") is None and "t_weight" not in rec):
        return OPEN_SET_T_WEIGHT
    w = rec.get("t_weight", 0.0)  # a record of too few trials to calibrate yet has its own
    return float(w) if isinstance(w, (int, float)) and not isinstance(w, bool) and np.isfinite(w) else 0.0


def check_open_set_labels(labels: Sequence[str], source) -> None:
    """ConfigError when a class is named :data:`UNKNOWN`, the open-set answer for "none of them"
    (the two could not be told apart, and the class was taken for a rejection)."""
    if UNKNOWN in labels:
        raise ConfigError(
            f"{source}: has a class named {UNKNOWN!r}, which open-set identification answers for files of "
            f"none of the classes; rename that class"
        )


def open_set_rule(labels: Sequence[str], header: dict, threshold: Optional[float], model_path) -> tuple[float, float]:
    """``(threshold, t weight)`` of the open-set decisions of ``classify --open-set`` and ``segment
    --open-set`` with a model of classes ``labels`` and file header ``header`` (``threshold``: the user's
    ``--threshold``, or None for the stored one); a one-line ConfigError when there is none."""
    check_open_set_labels(labels, model_path)
    return open_set_threshold(header, threshold, model_path), stored_t_weight(header.get("open_set"))


def open_set_threshold(header: dict, threshold: Optional[float], model_path) -> float:
    """The threshold of ``classify --open-set``: ``--threshold`` if given, else the model's stored one."""
    if threshold is not None:
        from speechgmm.options import THRESHOLD

        if isinstance(threshold, (str, bytes)):  # the command line gives a float (QA: "2" was taken)
            raise ConfigError(f"--threshold: expected a number, got {threshold!r}")
        try:
            return THRESHOLD.convert(threshold)
        except ValueError as exc:
            raise ConfigError(f"--threshold: {exc}") from None
    rec = header.get("open_set") or {}
    thr = rec.get("threshold") if isinstance(rec, dict) else None
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not np.isfinite(thr):
        raise ConfigError(
            f"{model_path}: the model has no stored open-set threshold ({NO_OPEN_SET_WHY}); give --threshold T "
            f"(an open-set score: the margin in log-likelihood per frame of the best class over the second, plus "
            f"{OPEN_SET_T_WEIGHT:g} x the t-normalised best score from {OPEN_SET_T_MIN_CLASSES} classes on; e.g. 2.0)"
        )
    return float(thr)


def open_set_report(
    truth: Sequence[str], S: np.ndarray, labels: Sequence[str], threshold: float, t_weight: float = OPEN_SET_T_WEIGHT
) -> dict[str, object]:
    """Open-set figures of utterances with true labels ``truth`` and per-frame scores ``S``:
    enrolled probes correct (right label, not ``unknown``), strangers labelled ``unknown``."""
    pred, score = open_set_predict(S, labels, threshold, t_weight)
    known = np.array([t in set(labels) for t in truth])
    pred, truth = np.array(pred), np.array(truth)
    n_known, n_str = int(known.sum()), int((~known).sum())
    closed = [labels[i] for i in np.asarray(S).argmax(1)]
    return {
        "threshold": float(threshold),
        "n_enrolled_probes": n_known,
        "n_stranger_probes": n_str,
        "enrolled_correct": float(np.mean(pred[known] == truth[known])) if n_known else None,
        "enrolled_rejected": float(np.mean(pred[known] == UNKNOWN)) if n_known else None,
        "closed_set_accuracy": float(np.mean(np.array(closed)[known] == truth[known])) if n_known else None,
        "strangers_unknown": float(np.mean(pred[~known] == UNKNOWN)) if n_str else None,
        "stranger_labels": sorted(set(truth[~known].tolist())),
    }


def format_open_set(rep: dict[str, object]) -> str:
    def pct(v):
        return "-" if v is None else f"{100 * v:.2f} %"

    return (
        f"open set (threshold {rep['threshold']:.3f}): {rep['n_enrolled_probes']} probes of enrolled classes, "
        f"{pct(rep['enrolled_correct'])} correct ({pct(rep['enrolled_rejected'])} said unknown; closed-set "
        f"accuracy {pct(rep['closed_set_accuracy'])}); {rep['n_stranger_probes']} probes of "
        f"{len(rep['stranger_labels'])} classes not in the model, {pct(rep['strangers_unknown'])} said unknown"
    )


def verify_norms(
    clf,
    totals: np.ndarray,
    frames: np.ndarray,
    feats: Sequence[np.ndarray],
    cohort: Optional[Cohort],
    norm: Optional[str],
) -> tuple[str, dict[str, np.ndarray]]:
    """``verify --norm``: ``(norm used, {norm: totals})`` for every norm the cohort allows; the
    normalised per-frame scores come back multiplied by ``frames`` so that they stand in for
    :meth:`~speechgmm.classifier.GMMClassifier.score_utterances` totals."""
    norm = resolve_norm(clf, cohort, norm)
    f = np.asarray(frames, np.float64)[:, None]
    mats = normalised_scores(clf, np.asarray(totals) / f, feats, cohort)
    return norm, {k: v * f for k, v in mats.items()}


def resolve_norm(clf, cohort: Optional[Cohort], norm: Optional[str]) -> str:
    """The normalisation ``verify`` uses (``norm``, or the default), checked before any work."""
    if norm is None:
        norm = default_norm(clf, cohort)
    if norm not in NORMS:
        raise ConfigError(f"--norm must be one of {', '.join(NORMS)}, not {norm!r}")
    if norm != "none" and getattr(clf, "method_", "em") != "map":
        raise ConfigError(f"--norm {norm} needs a MAP model (with a UBM); this is an EM model: use --norm none")
    if norm != "none" and cohort is None:
        raise ConfigError(
            f"--norm {norm} needs a cohort: give --cohort MANIFEST (other speakers, with a 'speaker' "
            f"column), or train the model with --ubm from 'speechgmm train-ubm' on a manifest with a "
            f"'speaker' column"
        )
    return norm
