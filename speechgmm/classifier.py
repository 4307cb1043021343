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

import os
from collections.abc import Sequence
from typing import Optional

import numpy as np

from speechgmm.errors import ConfigError, InsufficientDataError, need_two_classes, too_few_frames
from speechgmm.gmm import DiagGMM, exp_shifted, feature_problem, hyper_problem, log_gaussian_matrices, logsumexp_rows
from speechgmm.options import RELEVANCE_FACTOR


def _fit_one(args):
    label, source, params = args
    return label, DiagGMM(**params).fit(source)


def _as_ubm(ubm) -> DiagGMM:
    """The background model ``ubm``: a DiagGMM, or the path of a UBM file (``speechgmm train-ubm``, read by
    :func:`speechgmm.modelio.load_model`); a ConfigError naming the argument otherwise (QA: a path gave
    AttributeError "'str' object has no attribute '_check_fitted'")."""
    if isinstance(ubm, DiagGMM):
        return ubm
    if isinstance(ubm, (str, os.PathLike)) and str(ubm):
        from speechgmm.modelio import load_model

        return load_model(ubm, kind="ubm").ubm
    raise ConfigError(f"ubm must be a DiagGMM or the path of a UBM file (speechgmm train-ubm), not {ubm!r:.80}")


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
        Processes used to train classes in parallel (local feature sources only).
    top_c : int
        Components per frame for MAP scoring.
    relevance_factor : float
        MAP relevance factor r (:func:`speechgmm.map.map_adapt`; default
        :data:`speechgmm.options.RELEVANCE_FACTOR`).
    adapt : str
        MAP: which parameters to adapt, any of ``"m"``, ``"w"``, ``"v"``.

    Attributes
    ----------
    classes_ : list of str
        Class labels, sorted naturally; ``labels_`` is the same list.
    models_ : list of DiagGMM, one per class
    ubm_ : DiagGMM or None
        Background model (MAP classifiers only).
    method_ : {"em", "map"}
    frames_ : dict of str to int
        Training frames per class.
    calibration_ : speechgmm.calibration.Calibration or None
        How posteriors are calibrated (None: raw posteriors from the total scores). Training
        resets it; the gender recipe sets the bundled model's.
    """

    def __init__(
        self,
        n_components: int = 8,
        *,
        max_iter: int = 20,
        tol: float = 1e-4,
        init: str = "kmeans",
        random_state: int = 0,
        var_floor: float = 1e-3,
        hard: bool = False,
        priors: Optional[dict[str, float]] = None,
        jobs: int = 1,
        top_c: int = 5,
        relevance_factor: float = RELEVANCE_FACTOR,
        adapt: str = "m",
    ):
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
        self.relevance_factor = relevance_factor
        self.adapt = adapt
        self.ubm_: Optional[DiagGMM] = None
        self.method_ = "em"
        self.calibration_ = None
        self._stack = None

    def clone(self) -> GMMClassifier:
        """A new, unfitted classifier with the same hyper-parameters (e.g. for cross-validation)."""
        import copy
        import inspect

        names = [n for n in inspect.signature(GMMClassifier.__init__).parameters if n != "self"]
        return GMMClassifier(**{n: copy.deepcopy(getattr(self, n)) for n in names})  # no shared priors dict

    @property
    def labels_(self) -> list[str]:
        """The class labels (alias of ``classes_``)."""
        return self.classes_

    @labels_.setter
    def labels_(self, value):
        self.classes_ = [str(x) for x in value]
        self._stack = None

    def _set_fitted(self, classes, models, frames, method: str, ubm: Optional[DiagGMM] = None) -> GMMClassifier:
        """Set the fitted state (every training and loading path goes through here)."""
        self.classes_ = [str(x) for x in classes]
        self.models_ = list(models)
        self.frames_ = dict(frames)
        self.method_ = method
        self.ubm_ = ubm
        self.calibration_ = None
        self._stack = None
        return self

    @staticmethod
    def _sources(groups, minimum: int = 2) -> dict[str, object]:
        """``{label: FeatureSource}`` in natural label order, at least ``minimum`` classes."""
        from collections.abc import Mapping

        from speechgmm.sources import as_source

        if not isinstance(groups, Mapping):  # QA: a list gave "list indices must be integers"
            raise ConfigError(
                f"groups must be a mapping {{label: data}}, not {type(groups).__name__}; "
                "for arrays and their labels use fit(X, y)"
            )
        if len(groups) < minimum:
            raise need_two_classes(groups) if minimum == 2 else InsufficientDataError("no class to adapt")
        return {str(k): as_source(groups[k]) for k in sorted(groups, key=lambda k: _label_key(str(k)))}

    @staticmethod
    def _split(X: Sequence[np.ndarray], y: Sequence[str]):
        """``{label: InMemorySource}`` of utterances ``X`` with labels ``y`` (at least two classes)."""
        from speechgmm.sources import InMemorySource

        for name, seq in (("X", X), ("y", y)):
            if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
                raise ConfigError(f"{name} must be a sequence (one entry per utterance), not {type(seq).__name__}")
        bad = [i for i, lab in enumerate(y) if lab is None or (isinstance(lab, str) and not lab.strip())]
        if bad:  # None trained a class called 'None' (QA)
            raise ConfigError(f"labels must be non-empty; y[{bad[0]}] is {y[bad[0]]!r} ({len(bad)} such label(s))")
        if len(X) != len(y):
            raise ConfigError(f"{len(X)} feature arrays but {len(y)} labels")
        if len(set(map(str, y))) < 2:
            raise need_two_classes(set(map(str, y)))
        return InMemorySource(X).split_by(y)

    def fit(self, X: Sequence[np.ndarray], y: Sequence[str]) -> GMMClassifier:
        """Train one GMM per label by EM.

        Parameters
        ----------
        X : sequence of ndarray, each (n_frames, D)
            One feature matrix per utterance.
        y : sequence of str
            Label of each utterance.
        """
        return self.fit_groups(self._split(X, y))

    def fit_groups(self, groups) -> GMMClassifier:
        """Train one GMM per label by EM from ``{label: data}``, the data being arrays or any
        :class:`~speechgmm.sources.FeatureSource` (e.g. ``build_source(...).split_by(labels)``),
        so that training data never has to fit in memory or on one machine."""
        problem = hyper_problem("n_components", self.n_components)  # before any work (int() truncated 2.5)
        seed = self.random_state
        if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and 0 <= seed < 2**32):
            problem = problem or f"random_state must be an integer in 0 .. 2**32 - 1 (one seed per class), not {seed!r}"
        if not (isinstance(self.jobs, (int, np.integer)) and not isinstance(self.jobs, bool) and self.jobs >= 0):
            problem = problem or f"jobs must be an integer >= 0, not {self.jobs!r}"
        if problem:
            raise ConfigError(problem)
        sources = self._sources(groups)
        K = self.n_components
        frames = {lab: int(src.n_frames()) for lab, src in sources.items()}
        for lab, n in frames.items():
            if n < 2 * K:
                raise too_few_frames(n, K, f"class {lab!r}")
        base = dict(
            n_components=K,
            max_iter=self.max_iter,
            tol=self.tol,
            init=self.init,
            var_floor=self.var_floor,
            hard=self.hard,
        )
        work = [
            (lab, src, dict(base, random_state=(int(self.random_state) + i) % 2**32))
            for i, (lab, src) in enumerate(sources.items())
        ]
        fitted = dict(self._run(work))
        return self._set_fitted(sources, [fitted[lab] for lab in sources], frames, "em")

    def _run(self, work):
        """``_fit_one`` over ``work``: in ``jobs`` processes when every source can be sent to one."""
        from speechgmm._util import progress

        if not (self.jobs and self.jobs > 1 and all(getattr(src, "local", False) for _, src, _ in work)):
            return [_fit_one(w) for w in progress(work, total=len(work), desc="train")]
        from speechgmm._util import process_pool
        from speechgmm.sources import cpu_count

        # the processes share the CPUs: each E-step gets its share of threads
        work = [(lab, src, dict(p, n_threads=max(1, cpu_count() // int(self.jobs)))) for lab, src, p in work]
        with process_pool(self.jobs) as ex:
            return list(progress(ex.map(_fit_one, work), total=len(work), desc="train"))

    def fit_map(
        self,
        X: Sequence[np.ndarray],
        y: Sequence[str],
        ubm: DiagGMM | str | os.PathLike,
        relevance_factor: Optional[float] = None,
        adapt: Optional[str] = None,
    ) -> GMMClassifier:
        """Derive each class model from ``ubm`` (a DiagGMM, or the path of a UBM file) by MAP adaptation
        (see :func:`speechgmm.map.map_adapt`)."""
        return self.fit_map_groups(self._split(X, y), ubm, relevance_factor, adapt)

    def fit_map_groups(
        self,
        groups,
        ubm: DiagGMM | str | os.PathLike,
        relevance_factor: Optional[float] = None,
        adapt: Optional[str] = None,
    ) -> GMMClassifier:
        """:meth:`fit_map` from ``{label: data}`` (arrays or feature sources).

        One class is enough here (class models are adapted independently and scored against the
        UBM, e.g. to enrol one speaker).  ``relevance_factor`` and ``adapt``, when given, replace
        the constructor's values.
        """
        from speechgmm.map import map_adapt

        ubm = _as_ubm(ubm)
        if relevance_factor is not None:
            self.relevance_factor = relevance_factor
        if adapt is not None:
            self.adapt = adapt
        sources = self._sources(groups, minimum=1)
        stats = {lab: src.accumulate(ubm) for lab, src in sources.items()}
        for lab, st in stats.items():
            if st.frames == 0:
                raise InsufficientDataError(f"class {lab!r} has no frames")
        models = [map_adapt(ubm, stats[lab], self.relevance_factor, self.adapt) for lab in sources]
        return self._set_fitted(sources, models, {lab: int(st.frames) for lab, st in stats.items()}, "map", ubm)

    # -- scoring -----------------------------------------------------------------------------
    def _check(self):
        if not getattr(self, "models_", None):
            raise ConfigError("classifier is not trained")

    def _check_shape(self, X: np.ndarray, where: str = "") -> None:
        """ConfigError unless ``X`` is (n_frames, D) for the models' D (``where``: e.g. ``"utterance 3: "``)."""
        D = self.models_[0].means_.shape[1]
        if X.ndim != 2 or X.shape[1] != D:
            raise ConfigError(f"{where}features must have shape (n_frames, {D}), got {X.shape}")

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
        self._check_shape(X)
        problem = feature_problem(X)
        if problem:
            raise ConfigError(problem)
        return self._frame_scores(X, chunk_size)

    def _frame_scores(self, X: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
        """:meth:`frame_scores` of features already checked (shape, values)."""
        if self.method_ == "map":
            from speechgmm.map import score_top_c

            return score_top_c(self.models_, self.ubm_, X, self.top_c)  # blocks of frames, bounded memory
        W, b, seg, shift = self._stacked()
        WT = np.ascontiguousarray(W.T)
        out = np.empty((X.shape[0], len(self.models_)))
        for i in range(0, X.shape[0], chunk_size):
            Xc = X[i : i + chunk_size].astype(np.float64) - shift
            # component-major (sum K, n): per-class log-sum-exp reduces over leading rows,
            # element-wise across frames, which vectorises well
            L = WT @ np.concatenate([Xc, Xc * Xc], 1).T
            L += b[:, None]
            for c in range(len(self.models_)):
                blk = L[seg[c] : seg[c + 1]]
                m = blk.max(axis=0)
                blk -= m
                exp_shifted(blk)
                out[i : i + chunk_size, c] = m + np.log(blk.sum(axis=0))
        return out

    def score_utterances(self, Xs: Sequence[np.ndarray]):
        """Total log-likelihood (or LLR for MAP) of each utterance under each class.

        Returns
        -------
        totals : ndarray, shape (n_utts, n_classes)
        frames : ndarray of int, shape (n_utts,)
        """
        self._check()
        if isinstance(Xs, (str, bytes)) or not hasattr(Xs, "__iter__"):
            raise ConfigError(f"expected a sequence of feature arrays (n_frames, D), not {type(Xs).__name__}")
        if isinstance(Xs, np.ndarray) and Xs.ndim < 2:
            self._check_shape(Xs)  # one frame as a 1-D array is not a list of utterances
        Xs = [np.asarray(x) for x in Xs]
        for i, x in enumerate(Xs):
            self._check_shape(x, f"utterance {i}: ")
        frames = np.array([x.shape[0] for x in Xs], dtype=np.int64)
        if not len(Xs):
            return np.zeros((0, len(self.classes_))), frames
        for i, x in enumerate(Xs):
            what = "has no frames" if x.shape[0] == 0 else feature_problem(x)
            if what:
                raise ConfigError(f"utterance {i}: {what}")
        F = self._frame_scores(np.concatenate(Xs))  # every utterance was checked above
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
            return np.full(len(self.classes_), -np.log(len(self.classes_)))
        if not isinstance(self.priors, dict):
            raise ConfigError(f"class priors must be a dict of label -> prior, not {self.priors!r}")
        unknown = sorted(map(str, set(self.priors) - set(self.classes_)))
        if unknown:  # a misspelt label would otherwise get no prior, and the class it meant a prior of 0
            raise ConfigError(f"class priors name labels the model does not have: {', '.join(unknown)}")
        p = np.array([float(self.priors.get(lab, 0.0)) for lab in self.classes_])
        if not (np.all(np.isfinite(p)) and np.all(p >= 0) and p.sum() > 0):
            raise ConfigError(f"class priors must be finite and >= 0, not all 0, got {self.priors}")
        with np.errstate(divide="ignore"):
            return np.log(p / p.sum())

    def class_log_odds(self, totals: np.ndarray, frames: Optional[np.ndarray] = None) -> np.ndarray:
        """Unnormalised log posteriors, shape (n_utts, n_classes): total scores (n_utts, n_classes) plus
        log priors, calibrated when the model has ``calibration_`` and ``frames`` (n_utts,) are given."""
        a = np.atleast_2d(np.asarray(totals, dtype=np.float64))
        if a.ndim != 2 or a.shape[1] != len(self.classes_) or not np.all(np.isfinite(a)):
            raise ConfigError(
                f"expected finite total scores of shape (n_utts, {len(self.classes_)}), one per class, "
                f"got shape {a.shape}" + ("" if np.all(np.isfinite(a)) else " with NaN or infinite values")
            )
        if self.calibration_ is not None and frames is not None:
            a = self.calibration_.log_odds(a, frames)
        return a + self._log_priors()

    def predict_from_scores(self, totals: np.ndarray, frames: Optional[np.ndarray] = None) -> list[str]:
        """Most likely label (with the class priors) for each row of total scores (from
        :meth:`score_utterances`); one label for a single row. ``frames`` (n_utts,): frames
        scored per row, for a calibrated model's priors."""
        return [self.classes_[i] for i in self.class_log_odds(totals, frames).argmax(1)]

    def posteriors_from_scores(self, totals: np.ndarray, frames: Optional[np.ndarray] = None) -> np.ndarray:
        """Class posteriors, shape (n_utts, n_classes), from total scores (n_utts, n_classes) and the
        frames scored per row (n_utts,): calibrated when the model has ``calibration_`` and
        ``frames`` are given, else log-sum-exp normalised totals."""
        a = self.class_log_odds(totals, frames)
        return np.exp(a - logsumexp_rows(a)[:, None])

    def predict_proba(self, Xs) -> np.ndarray:
        """Posterior over classes for each utterance, shape (n_utts, n_classes)."""
        if isinstance(Xs, np.ndarray) and Xs.ndim == 2:
            Xs = [Xs]
        return self.posteriors_from_scores(*self.score_utterances(Xs))

    def predict(self, Xs) -> list[str]:
        """Most likely label for each utterance (a list; one element for a single array)."""
        if isinstance(Xs, np.ndarray) and Xs.ndim == 2:
            Xs = [Xs]
        return self.predict_from_scores(*self.score_utterances(Xs))


def _label_key(s: str):
    """Sort labels naturally (digits numerically) but keep it total."""
    return (0, int(s), s) if s.isdigit() else (1, 0, s)
