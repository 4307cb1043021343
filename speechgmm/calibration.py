"""Calibrated class posteriors from a classifier's scores.

A GMM classifier's raw posterior treats every frame as independent evidence, so the total
log-likelihood of a few hundred frames gives posteriors of 1.0000 also when the answer is
wrong (on corpora the bundled gender model never saw, 89 % of its errors had a raw
posterior above 0.99).  Calibration replaces the total by a scaled mean:

    log-odds_k = scale * frames**exponent * (total_k / frames) + log prior_k

so the evidence grows with the frame count as ``frames**exponent`` (``exponent=1``,
``scale=1`` is the raw posterior; ``exponent=0`` ignores duration).  ``scale`` is fitted
by minimising the cross-entropy of held-out files' posteriors (:func:`fit_calibration`);
it changes the posteriors only, not which class has the highest score (with uniform priors).

Examples
--------
>>> import numpy as np
>>> cal = Calibration(scale=0.5, exponent=0.0)
>>> cal.log_odds(np.array([[-100.0, -110.0]]), np.array([100]))   # mean scores -1.0 and -1.1
array([[-0.5 , -0.55]])
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

from speechgmm.errors import ConfigError

#: a posterior above this is "sure": evaluate and the gender recipe count the errors made with it
SURE = 0.99

#: the exponents a calibration may use: frames**exponent, from "duration does not matter" to "every frame counts"
EXPONENT_RANGE = (0.0, 1.0)

#: the exponent ``speechgmm train`` and the gender recipe use: chosen for the bundled gender model from
#: 0 / 0.25 / 0.5 / 0.75 / 1 by the cross-entropy of held-out corpora (0.411 / 0.408 / 0.419 / 0.444 / 0.485 bits)
EXPONENT = 0.25

#: folds of the cross-validation that calibrates the posteriors of ``speechgmm train`` models
CV_FOLDS = 2


def _check(scale, exponent) -> Optional[str]:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        return f"calibration scale must be a finite number > 0, not {scale!r}"
    lo, hi = EXPONENT_RANGE
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not lo <= exponent <= hi:
        return f"calibration exponent must be a number in [{lo:g}, {hi:g}], not {exponent!r}"
    return None


class Calibration(NamedTuple):
    """``log-odds = scale * frames**exponent * mean score per frame`` (see the module)."""

    scale: float
    exponent: float

    def log_odds(self, totals: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Calibrated scores, shape (n_utts, n_classes), from total scores and frame counts (n_utts,)."""
        problem = _check(self.scale, self.exponent)  # a negative scale would flip every decision
        totals = np.atleast_2d(np.asarray(totals, dtype=np.float64))
        n = np.asarray(frames, dtype=np.float64).reshape(-1)
        if not problem and (len(n) != len(totals) or not np.all(np.isfinite(n))):
            problem = f"need one finite frame count per row of scores ({len(totals)}), got {len(n)}"
        if problem:
            raise ConfigError(problem)
        return totals * (self.scale * np.maximum(n, 1.0) ** (self.exponent - 1.0))[:, None]

    def to_header(self) -> dict:
        return {"scale": float(self.scale), "exponent": float(self.exponent)}

    @classmethod
    def from_header(cls, record) -> Calibration:
        """The calibration a model header stores; ConfigError says what is wrong."""
        if not isinstance(record, dict):
            raise ConfigError(f"calibration must be a record of scale and exponent, not {record!r}")
        scale, exponent = record.get("scale"), record.get("exponent")
        problem = _check(scale, exponent)
        if problem:
            raise ConfigError(problem)
        return cls(float(scale), float(exponent))


def cross_entropy(log_odds: np.ndarray, truth: np.ndarray) -> float:
    """Mean cross-entropy in bits of softmax(log_odds) (n, n_classes) against class indices ``truth`` (n,)."""
    a = np.asarray(log_odds, dtype=np.float64)
    m = a.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - a[np.arange(len(a)), truth]) / math.log(2.0))


def fit_calibration(totals: np.ndarray, frames: np.ndarray, truth: np.ndarray, exponent: float) -> Calibration:
    """The scale that minimises the cross-entropy of held-out utterances' calibrated posteriors.

    Parameters
    ----------
    totals : ndarray, shape (n_utts, n_classes)
        Total scores of utterances the model did not train on (e.g. corpora left out).
    frames : ndarray, shape (n_utts,)
        Frames scored per utterance.
    truth : ndarray of int, shape (n_utts,)
        The true class index of each utterance.
    exponent : float
        In ``EXPONENT_RANGE``: how the evidence grows with the frame count.

    Returns
    -------
    Calibration
    """
    from scipy.optimize import minimize_scalar

    problem = _check(1.0, exponent)
    totals = np.atleast_2d(np.asarray(totals, dtype=np.float64))
    truth = np.asarray(truth, dtype=np.intp).reshape(-1)
    if problem or len(totals) == 0 or not np.all(np.isfinite(totals)) or len(truth) != len(totals):
        raise ConfigError(problem or "calibration needs finite scores of at least one utterance, one truth each")
    if truth.min() < 0 or truth.max() >= totals.shape[1]:
        top = totals.shape[1] - 1
        raise ConfigError(f"truth must be class indices in 0 .. {top}, got {truth.min()} .. {truth.max()}")
    unit = Calibration(1.0, float(exponent)).log_odds(totals, frames)
    res = minimize_scalar(lambda ls: cross_entropy(math.exp(ls) * unit, truth), bounds=(-12.0, 6.0), method="bounded")
    return Calibration(float(math.exp(res.x)), float(exponent))


def posterior_quality(log_odds: np.ndarray, truth: np.ndarray, sure: float = SURE) -> dict:
    """How well posteriors fit the truth.

    Parameters
    ----------
    log_odds : ndarray, shape (n_utts, n_classes)
        Unnormalised log posteriors (e.g. :meth:`GMMClassifier.class_log_odds`).
    truth : ndarray of int, shape (n_utts,)
        True class indices.
    sure : float
        Posterior above which an error counts as made with certainty.

    Returns
    -------
    dict
        ``cross_entropy_bits`` (mean per utterance), ``mean_posterior`` (of the chosen class),
        ``errors`` and ``sure_errors`` (errors whose posterior is above ``sure``), counts.
    """
    a = np.atleast_2d(np.asarray(log_odds, dtype=np.float64))
    truth = np.asarray(truth, dtype=np.intp)
    if not len(a):
        return {"cross_entropy_bits": float("nan"), "mean_posterior": float("nan"), "errors": 0, "sure_errors": 0}
    post = np.exp(a - a.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    wrong = post.argmax(1) != truth
    return {
        "cross_entropy_bits": cross_entropy(a, truth),
        "mean_posterior": float(post.max(1).mean()),
        "errors": int(wrong.sum()),
        "sure_errors": int((wrong & (post.max(1) > sure)).sum()),
    }


#: posterior bins of :func:`reliability` (the chosen class's posterior; two classes start at 0.5)
RELIABILITY_EDGES = (0.5, 0.7, 0.9, 0.99, 0.999, 1.0)


def reliability(log_odds: np.ndarray, truth: np.ndarray, edges=RELIABILITY_EDGES) -> list[dict]:
    """How often a posterior is right, by bins of the chosen class's posterior (a reliability table).

    Parameters
    ----------
    log_odds : ndarray, shape (n_utts, n_classes)
        Unnormalised log posteriors.
    truth : ndarray of int, shape (n_utts,)
    edges : sequence of float
        Bin edges; bin ``i`` holds posteriors in ``(edges[i], edges[i + 1]]`` (the first bin
        includes its lower edge).

    Returns
    -------
    list of dict, one per bin
        ``lo``, ``hi``, ``files``, ``mean_posterior`` and ``right`` (the share of right answers;
        NaN for an empty bin).

    Examples
    --------
    >>> t = reliability(np.log([[0.6, 0.4], [0.95, 0.05], [0.2, 0.8]]), np.array([1, 0, 1]))
    >>> [(b["files"], b["right"]) for b in t if b["files"]]
    [(1, 0.0), (1, 1.0), (1, 1.0)]
    """
    a = np.atleast_2d(np.asarray(log_odds, dtype=np.float64))
    post = np.exp(a - a.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    top = post.max(1) if len(a) else np.zeros(0)
    right = post.argmax(1) == np.asarray(truth, dtype=np.intp) if len(a) else np.zeros(0, bool)
    out = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (top > lo) & (top <= hi) if i else (top >= lo) & (top <= hi)
        n = int(sel.sum())
        out.append(
            {
                "lo": float(lo),
                "hi": float(hi),
                "files": n,
                "mean_posterior": float(top[sel].mean()) if n else float("nan"),
                "right": float(right[sel].mean()) if n else float("nan"),
            }
        )
    return out


def calibration_folds(labels, groups=None, n_folds: int = CV_FOLDS) -> tuple[Optional[np.ndarray], str]:
    """The cross-validation fold of each training file, for calibrating a model's posteriors.

    With ``groups`` (e.g. the speaker of each file) whole groups alternate between folds, so a
    fold's model is scored on speakers it never heard, as a user's files will be; the groups are
    ordered by their most frequent label first, so that every label's groups alternate.  Without
    groups (or when a label would miss a fold), the files of each label alternate.

    Parameters
    ----------
    labels : sequence of str, length n_files
        The class of each file.
    groups : sequence of str, length n_files, optional
        The group (speaker) of each file.
    n_folds : int
        Number of folds (>= 2).

    Returns
    -------
    folds : ndarray of int, shape (n_files,), or None
        Fold index of each file; None when some label has fewer than ``n_folds`` files.
    how : str
        How the files were split (e.g. ``"2-fold by speaker"``), or why they could not be.

    Examples
    --------
    >>> calibration_folds(["a", "a", "b", "b"], ["s1", "s2", "s3", "s4"])[0]
    array([0, 1, 0, 1])
    """
    labels = [str(v) for v in labels]
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ConfigError(f"n_folds must be an integer >= 2, not {n_folds!r}")
    if not labels:
        raise ConfigError("calibration folds need at least one file")
    if groups is not None and len(groups) != len(labels):
        raise ConfigError(f"{len(labels)} labels but {len(groups)} groups: one group per file")
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    if min(len(v) for v in by_label.values()) < n_folds:
        small = min(by_label, key=lambda k: len(by_label[k]))
        return None, f"class {small!r} has {len(by_label[small])} file(s), fewer than the {n_folds} folds"
    if groups is not None:
        groups = [str(g) for g in groups]
        counts: dict[str, dict[str, int]] = {}  # group -> label -> files
        for g, lab in zip(groups, labels):
            counts.setdefault(g, {}).setdefault(lab, 0)
            counts[g][lab] += 1
        order = sorted(counts, key=lambda g: (max(counts[g], key=counts[g].get), g))
        fold_of = {g: k % n_folds for k, g in enumerate(order)}
        folds = np.array([fold_of[g] for g in groups], dtype=np.intp)
        if all(len({folds[i] for i in idx}) == n_folds for idx in by_label.values()):
            return folds, f"{n_folds}-fold by speaker"
    folds = np.empty(len(labels), dtype=np.intp)
    for idx in by_label.values():
        folds[idx] = np.arange(len(idx)) % n_folds
    return folds, f"{n_folds}-fold by file"
