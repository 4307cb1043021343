"""One GMM per class: an utterance goes to the class whose GMM gives it the highest total
log-likelihood.

Two ways to get the class models:

* ``method="em"``: each class's :class:`~speechgmm.gmm.DiagGMM` is trained by EM on that
  class's frames only;
* ``method="map"``: each class model is MAP-adapted from a universal background model
  (:mod:`speechgmm.map`) and scored as a log-likelihood ratio against it with top-C
  component selection -- the standard for speakers, where each class has little data.

All classes are scored together: their parameters are stacked into one matrix so the
per-frame scores of every class come from one matrix product.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from speechgmm.errors import ConfigError, InsufficientDataError
from speechgmm.gmm import DiagGMM, exp_shifted, log_gaussian_matrices, logsumexp_rows


def _fit_one(args):
    label, arrays, params = args
    return label, DiagGMM(**params).fit(arrays)


class GMMClassifier:
    """Per-class diagonal GMMs.

    Parameters
    ----------
    n_components : int
        Gaussians per class (EM) -- for MAP the UBM decides.
    max_iter, tol, init, var_floor, hard : see :class:`~speechgmm.gmm.DiagGMM`
    random_state : int
        Seed; class ``i`` uses ``random_state + i`` so results do not depend on ``jobs``.
    priors : dict of str to float, optional
        Class priors for :meth:`predict_proba` (default uniform).
    jobs : int
        Processes used to train classes in parallel.
    top_c : int
        Components per frame for MAP scoring.

    Attributes
    ----------
    labels_ : list of str
    models_ : list of DiagGMM, one per label
    ubm_ : DiagGMM or None
        Background model (MAP classifiers only).
    method_ : {"em", "map"}
    frames_ : dict of str to int
        Training frames per class.
    """

    def __init__(self, n_components: int = 8, max_iter: int = 20, tol: float = 1e-4, init: str = "kmeans",
                 random_state: int = 0, var_floor: float = 1e-3, hard: bool = False,
                 priors: Optional[Dict[str, float]] = None, jobs: int = 1, top_c: int = 5):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.var_floor = var_floor
        self.hard = hard
        self.priors = priors
        self.jobs = jobs
        self.top_c = top_c
        self.ubm_: Optional[DiagGMM] = None
        self.method_ = "em"
        self._stack = None

    @staticmethod
    def _group(X: Sequence[np.ndarray], y: Sequence[str]):
        if len(X) != len(y):
            raise ConfigError(f"{len(X)} feature arrays but {len(y)} labels")
        groups: Dict[str, List[np.ndarray]] = {}
        for a, lab in zip(X, y):
            groups.setdefault(str(lab), []).append(a)
        if len(groups) < 2:
            raise InsufficientDataError(f"need at least 2 classes to train a classifier, got {sorted(groups)}")
        return {k: groups[k] for k in sorted(groups, key=_label_key)}

    def fit(self, X: Sequence[np.ndarray], y: Sequence[str]) -> "GMMClassifier":
        """Train one GMM per label by EM.

        Parameters
        ----------
        X : sequence of ndarray, each (n_frames, D)
            One feature matrix per utterance.
        y : sequence of str
            Label of each utterance.
        """
        return self.fit_groups(self._group(X, y))

    def fit_groups(self, groups: Dict[str, Sequence[np.ndarray]]) -> "GMMClassifier":
        """Train one GMM per label from ``{label: arrays}``; the values may be
        :class:`~speechgmm.gmm.FeatureStream` objects (e.g. :class:`speechgmm.kaldi.ArkFeatures`)
        so that training data never has to fit in memory."""
        if len(groups) < 2:
            raise InsufficientDataError(f"need at least 2 classes to train a classifier, got {sorted(groups)}")
        groups = {k: groups[k] for k in sorted(groups, key=_label_key)}
        K = int(self.n_components)
        frames = {lab: int(DiagGMM._count(arrays)[0]) for lab, arrays in groups.items()}
        for lab, arrays in groups.items():
            n = frames[lab]
            if n < 2 * K:
                raise InsufficientDataError(
                    f"class {lab!r} has {n} frames ({len(arrays)} files), too few for {K} components "
                    f"(need at least {2 * K}); use --components {max(1, n // 10)} or add data")
        base = dict(n_components=K, max_iter=self.max_iter, tol=self.tol, init=self.init,
                    var_floor=self.var_floor, hard=self.hard)
        if self.jobs and self.jobs > 1:
            from speechgmm.gmm import _cpu_count

            # the processes share the CPUs: each E-step gets its share of threads
            base["n_threads"] = max(1, _cpu_count() // int(self.jobs))
        work = [(lab, arrays, dict(base, random_state=int(self.random_state) + i))
                for i, (lab, arrays) in enumerate(groups.items())]
        from speechgmm._util import progress

        if self.jobs and self.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=self.jobs) as ex:
                fitted = dict(progress(ex.map(_fit_one, work), total=len(work), desc="train"))
        else:
            fitted = dict(_fit_one(w) for w in progress(work, total=len(work), desc="train"))
        self.labels_ = list(groups)
        self.models_ = [fitted[lab] for lab in self.labels_]
        self.frames_ = frames
        self.method_ = "em"
        self.ubm_ = None
        self._stack = None
        return self

    def fit_map(self, X: Sequence[np.ndarray], y: Sequence[str], ubm: DiagGMM, relevance_factor: float = 16.0,
                adapt: str = "m") -> "GMMClassifier":
        """Derive each class model from ``ubm`` by MAP adaptation (see :func:`speechgmm.map.map_adapt`)."""
        return self.fit_map_groups(self._group(X, y), ubm, relevance_factor, adapt)

    def fit_map_groups(self, groups, ubm: DiagGMM, relevance_factor: float = 16.0, adapt: str = "m") -> "GMMClassifier":
        """:meth:`fit_map` from ``{label: arrays or FeatureStream}``."""
        from speechgmm.map import map_adapt

        groups = {k: groups[k] for k in sorted(groups, key=_label_key)}
        self.labels_ = list(groups)
        stats = {lab: ubm.accumulate(groups[lab]) for lab in self.labels_}
        self.models_ = [map_adapt(ubm, stats[lab], relevance_factor, adapt) for lab in self.labels_]
        self.frames_ = {lab: int(stats[lab].frames) for lab in self.labels_}
        self.ubm_ = ubm
        self.method_ = "map"
        self.relevance_factor = relevance_factor
        self.adapt = adapt
        self._stack = None
        return self

    # -- scoring -----------------------------------------------------------------------------
    def _check(self):
        if not getattr(self, "models_", None):
            raise ConfigError("classifier is not trained")

    def _stacked(self):
        if self._stack is None:
            shift = np.mean([m.means_.mean(0) for m in self.models_], axis=0)
            Ws, bs, seg = [], [], [0]
            for m in self.models_:
                W, b = log_gaussian_matrices(m.weights_, m.means_ - shift, m.variances_)
                Ws.append(W)
                bs.append(b)
                seg.append(seg[-1] + len(b))
            self._stack = (np.concatenate(Ws, 1), np.concatenate(bs), np.array(seg), shift)
        return self._stack

    def frame_scores(self, X: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
        """Per-frame log-likelihood of every class, shape (N, n_classes).

        For MAP classifiers: per-frame log-likelihood ratio against the UBM (top-C).
        """
        self._check()
        X = np.asarray(X)
        D = self.models_[0].means_.shape[1]
        if X.ndim != 2 or X.shape[1] != D:
            raise ConfigError(f"features must have shape (n_frames, {D}), got {X.shape}")
        if self.method_ == "map":
            from speechgmm.map import score_top_c

            step = max(1, chunk_size // max(1, len(self.models_)))
            return np.concatenate([score_top_c(self.models_, self.ubm_, X[i:i + step], self.top_c)
                                   for i in range(0, len(X), step)]) if len(X) else np.zeros((0, len(self.models_)))
        W, b, seg, shift = self._stacked()
        WT = np.ascontiguousarray(W.T)
        out = np.empty((X.shape[0], len(self.models_)))
        for i in range(0, X.shape[0], chunk_size):
            Xc = X[i:i + chunk_size].astype(np.float64) - shift
            # component-major (sum K, n): per-class log-sum-exp reduces over leading rows,
            # element-wise across frames, which vectorises well
            L = WT @ np.concatenate([Xc, Xc * Xc], 1).T
            L += b[:, None]
            for c in range(len(self.models_)):
                blk = L[seg[c]:seg[c + 1]]
                m = blk.max(axis=0)
                blk -= m
                exp_shifted(blk)
                out[i:i + chunk_size, c] = m + np.log(blk.sum(axis=0))
        return out

    def score_utterances(self, Xs: Sequence[np.ndarray]):
        """Total log-likelihood (or LLR for MAP) of each utterance under each class.

        Returns
        -------
        totals : ndarray, shape (n_utts, n_classes)
        frames : ndarray of int, shape (n_utts,)
        """
        Xs = [np.asarray(x) for x in Xs]
        frames = np.array([x.shape[0] for x in Xs], dtype=np.int64)
        if not len(Xs):
            return np.zeros((0, len(self.labels_))), frames
        if np.any(frames == 0):
            raise ConfigError("an utterance has no frames")
        F = self.frame_scores(np.concatenate(Xs))
        starts = np.concatenate([[0], np.cumsum(frames)[:-1]])
        return np.add.reduceat(F, starts, axis=0), frames

    def decision_scores(self, X):
        """Total log-likelihood per class: shape (n_classes,) for one (N, D) array, or
        (n_utts, n_classes) for a list of arrays."""
        if isinstance(X, np.ndarray) and X.ndim == 2:
            return self.score_utterances([X])[0][0]
        return self.score_utterances(X)[0]

    def _log_priors(self):
        if not self.priors:
            return np.full(len(self.labels_), -np.log(len(self.labels_)))
        p = np.array([float(self.priors.get(lab, 0.0)) for lab in self.labels_])
        if p.sum() <= 0:
            raise ConfigError("class priors must be positive")
        with np.errstate(divide="ignore"):
            return np.log(p / p.sum())

    def posteriors_from_scores(self, totals: np.ndarray) -> np.ndarray:
        """Class posteriors from total scores (log-sum-exp normalised), shape like ``totals``."""
        a = np.atleast_2d(totals) + self._log_priors()
        return np.exp(a - logsumexp_rows(a)[:, None])

    def predict_proba(self, Xs) -> np.ndarray:
        """Posterior over classes for each utterance, shape (n_utts, n_classes)."""
        if isinstance(Xs, np.ndarray) and Xs.ndim == 2:
            Xs = [Xs]
        return self.posteriors_from_scores(self.score_utterances(Xs)[0])

    def predict(self, Xs) -> List[str]:
        """Most likely label for each utterance (a list; one element for a single array)."""
        if isinstance(Xs, np.ndarray) and Xs.ndim == 2:
            Xs = [Xs]
        totals = self.score_utterances(Xs)[0] + self._log_priors()
        return [self.labels_[i] for i in totals.argmax(1)]


def _label_key(s: str):
    """Sort labels naturally (digits numerically) but keep it total."""
    return (0, int(s), s) if s.isdigit() else (1, 0, s)
