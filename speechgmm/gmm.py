"""Diagonal-covariance Gaussian mixture models trained by EM.

Three separate things, as in Kaldi's ``diag-gmm`` / ``mle-diag-gmm``:

* the **model** :class:`DiagGMM` (``weights_``, ``means_``, ``variances_``),
* the **sufficient statistics** :class:`GMMStats` (occupancy ``n``, first order ``f`` =
  sum gamma x, second order ``s`` = sum gamma x^2), produced by :func:`e_step` /
  :meth:`DiagGMM.accumulate` and summed with ``+`` across chunks, files, processes or
  machines -- where the frames live and how the sum is taken is a feature source's job
  (:mod:`speechgmm.sources`),
* the **update** :func:`m_step`, a pure function from statistics to parameters.

Initialisation lives in :mod:`speechgmm.gmm_init`; the one EM loop is :meth:`DiagGMM.run_em`.

Per-frame component log-densities are one matrix product: with ``W, b =
log_gaussian_matrices(w, mu, var)``, ``log w_k N(x | mu_k, var_k) = [x, x**2] @ W + b``;
the statistics are one more: ``gamma.T @ [1, x, x**2]``.  Data is processed in chunks, so
memory is O(chunk_size x K) whatever the number of frames.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from speechgmm import gmm_init
from speechgmm.errors import ConfigError, InsufficientDataError, too_few_frames

_LOG2PI = float(np.log(2 * np.pi))


# --- statistics ------------------------------------------------------------------------


@dataclasses.dataclass
class GMMStats:
    """Zeroth, first and second order statistics of a GMM over some frames (float64).

    Attributes
    ----------
    n : ndarray, shape (K,)
        Occupancy, sum over frames of the posterior gamma_k(x).
    f : ndarray, shape (K, D)
        sum gamma_k(x) x.
    s : ndarray, shape (K, D)
        sum gamma_k(x) x**2.
    loglik : float
        Total log-likelihood of the frames under the model that produced the posteriors.
    frames : int
        Number of frames accumulated.
    """

    n: np.ndarray
    f: np.ndarray
    s: np.ndarray
    loglik: float = 0.0
    frames: int = 0

    def __post_init__(self):
        # QA: statistics of inconsistent shapes were accepted, then failed inside update() or set a model of
        # K components to K' weights
        n, f, sq = (np.asarray(a, dtype=np.float64) for a in (self.n, self.f, self.s))
        if n.ndim != 1 or f.ndim != 2 or f.shape != sq.shape or f.shape[0] != n.shape[0]:
            raise ConfigError(
                f"statistics need n of shape (K,) and f, s of shape (K, D); got {n.shape}, {f.shape}, {sq.shape}"
            )
        self.n, self.f, self.s = n, f, sq

    @classmethod
    def zeros(cls, n_components: int, n_features: int) -> GMMStats:
        return cls(np.zeros(n_components), np.zeros((n_components, n_features)), np.zeros((n_components, n_features)))

    def __add__(self, other: GMMStats) -> GMMStats:
        if isinstance(other, (int, float)) and other == 0:  # so that sum(list_of_stats) works
            return self
        if not isinstance(other, GMMStats):
            raise ConfigError(f"cannot add GMMStats and {type(other).__name__}")
        if self.f.shape != other.f.shape:
            raise ValueError(f"cannot add statistics of shapes {self.f.shape} and {other.f.shape}")
        return GMMStats(
            self.n + other.n, self.f + other.f, self.s + other.s, self.loglik + other.loglik, self.frames + other.frames
        )

    __radd__ = __add__

    def __eq__(self, other):  # identity only; use np.allclose on the arrays to compare values
        return self is other

    def to_dict(self) -> dict[str, np.ndarray]:
        """Arrays only (for npz files or sending between processes)."""
        return {
            "n": self.n,
            "f": self.f,
            "s": self.s,
            "loglik": np.float64(self.loglik),
            "frames": np.int64(self.frames),
        }

    @classmethod
    def from_dict(cls, d) -> GMMStats:
        return cls(
            np.asarray(d["n"], float),
            np.asarray(d["f"], float),
            np.asarray(d["s"], float),
            float(d["loglik"]),
            int(d["frames"]),
        )

    @property
    def nbytes(self) -> int:
        return self.n.nbytes + self.f.nbytes + self.s.nbytes + 16


# --- pure functions ----------------------------------------------------------------------


def log_gaussian_matrices(weights: np.ndarray, means: np.ndarray, variances: np.ndarray):
    """Matrices turning [x, x**2] into per-component log(weight * density).

    Parameters
    ----------
    weights : ndarray, shape (K,)
    means, variances : ndarray, shape (K, D)

    Returns
    -------
    W : ndarray, shape (2 D, K), float64
        ``W[:D] = (means / variances).T``, ``W[D:] = (-0.5 / variances).T``.
    b : ndarray, shape (K,), float64
        ``log w_k - 0.5 (D log 2 pi + sum log var_k + sum mu_k**2 / var_k)``.

    Notes
    -----
    ``np.hstack([X, X**2]) @ W + b`` gives the (N, K) matrix of
    ``log w_k + log N(x_n | mu_k, diag var_k)``.  Several GMMs can be scored at once by
    concatenating their ``W`` and ``b`` along the component axis.
    """
    w = np.asarray(weights, np.float64)
    mu = np.asarray(means, np.float64)
    var = np.asarray(variances, np.float64)
    prec = 1.0 / var
    W = np.concatenate([(mu * prec).T, (-0.5 * prec).T], axis=0)
    with np.errstate(divide="ignore"):
        logw = np.log(w)
    b = logw - 0.5 * (mu.shape[1] * _LOG2PI + np.log(var).sum(1) + (mu * mu * prec).sum(1))
    return W, b


def exp_shifted(a: np.ndarray, floor: float = None) -> np.ndarray:
    """``exp(a)`` in place for ``a <= 0`` (log-domain values minus their maximum).

    Entries below ``floor`` (default: the log of the smallest normal number of the dtype,
    plus 2) are raised to it first.  Their true exponentials are subnormal or zero, and on
    x86 CPUs producing or using subnormals is 10-100x slower than normal arithmetic (measured
    here: ``np.exp`` of float64 values near -720 ran 70x slower); the change to any sum they
    enter is below 1e-300 relative (1e-36 in float32).
    """
    if floor is None:
        floor = _exp_floor(a.dtype, 1)
    # against a row rather than a scalar: numpy's SIMD loop for maximum is used only when
    # both operands are arrays (measured 3x faster than the scalar form)
    row = np.full((1,) * (a.ndim - 1) + (a.shape[-1],), floor, dtype=a.dtype) if a.ndim else floor
    np.maximum(a, row, out=a)
    return np.exp(a, out=a)


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a), axis=1)) computed stably; shape (N,)."""
    m = a.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(exp_shifted(a - m[:, None]).sum(axis=1))


def _xx(X: np.ndarray, shift: np.ndarray, dtype) -> np.ndarray:
    """[X - shift, (X - shift)**2] as one (N, 2D) array of ``dtype``."""
    X = np.asarray(X)
    D = X.shape[1]
    out = np.empty((X.shape[0], 2 * D), dtype=dtype)
    np.subtract(X, shift.astype(dtype), out=out[:, :D], casting="unsafe")
    np.multiply(out[:, :D], out[:, :D], out=out[:, D:])
    return out


def e_step(X: np.ndarray, weights, means, variances, hard: bool = False, shift=None, dtype=np.float32) -> GMMStats:
    """Statistics of frames ``X`` under the GMM (one chunk; see :meth:`DiagGMM.accumulate`).

    Parameters
    ----------
    X : ndarray, shape (N, D)
    weights, means, variances : GMM parameters, shapes (K,), (K, D), (K, D)
    hard : bool
        Viterbi (hard) EM: each frame counts fully for its best component, and ``loglik``
        is the best-component log-likelihood.
    shift : ndarray, shape (D,), optional
        Computations are done on ``X - shift`` (reducing float32 cancellation); the returned
        statistics are in the original coordinates.  Default: the mean of ``means``.
    dtype : numpy dtype
        Precision of the two big matrix products (float32 is about twice as fast);
        statistics are returned in float64.

    Returns
    -------
    GMMStats
    """
    means = np.asarray(means, np.float64)
    shift = means.mean(0) if shift is None else np.asarray(shift, np.float64)
    return _stats_chunk(X, *_scoring_matrices(weights, means, variances, shift, dtype), shift, hard, dtype)


def _exp_floor(dtype, K: int) -> float:
    """Smallest exponent whose exp, divided by up to K, stays a normal number of ``dtype``."""
    return float(np.log(np.finfo(dtype).tiny)) + float(np.log(max(K, 1))) + 2.0


def _scoring_matrices(weights, means, variances, shift, dtype):
    """``(WT, b)``, shapes (K, 2D) and (K, 1), with ``WT @ [x - shift, (x - shift)**2] + b``
    the per-component log-densities ``log w_k N(x | mu_k, var_k)``."""
    W, b = log_gaussian_matrices(weights, means - shift, variances)
    return np.ascontiguousarray(W.T, dtype=dtype), b.astype(dtype)[:, None]


def _stats_chunk(X, WT, b, shift, hard, dtype, work=None) -> GMMStats:
    """E-step statistics of one chunk given the scoring matrices of :func:`_scoring_matrices`.

    Two GEMMs over the frames' ``Z = [x - c, (x - c)**2]`` (N, 2D): the component
    log-densities ``WT @ Z.T + b`` and the statistics ``gamma @ Z`` (first and second order,
    in the shifted coordinates); ``c`` (the mean of the component means) keeps float32 squares
    accurate.  ``work`` is an optional dict of reusable buffers (avoids re-allocating, and
    page-faulting, two large arrays per chunk).
    """
    N, D = X.shape
    K = WT.shape[0]
    if work is not None and work.get("n", 0) >= N and work["XX"].dtype == dtype:
        XX, L = work["XX"][:N], work["L"][:, :N]
    else:
        # buffers sized to the chunk capacity, so that every chunk of a run, whichever thread
        # computes it, has the same memory layout (BLAS rounding can depend on the layout)
        cap = max(N, work.get("cap", 0)) if work is not None else N
        XX, L = np.empty((cap, 2 * D), dtype=dtype), np.empty((K, cap), dtype=dtype)
        if work is not None:
            work.update(n=cap, XX=XX, L=L)
        XX, L = XX[:N], L[:, :N]
    np.subtract(X, shift.astype(dtype), out=XX[:, :D], casting="unsafe")
    np.multiply(XX[:, :D], XX[:, :D], out=XX[:, D:])
    # component-major layout (K, N): the reductions over components become element-wise
    # operations between K long rows, which vectorise far better than short row reductions.
    # (Folding b into the GEMM with a column of ones was measured 20 % slower: 2D + 1 = 79
    # columns suit the BLAS kernels worse than 78.)
    np.matmul(WT, XX.T, out=L)
    L += b
    if hard:
        best = L.argmax(axis=0)
        cols = np.arange(N)
        ll = float(L[best, cols].astype(np.float64).sum())
        L[:] = 0.0
        L[best, cols] = 1.0
    else:
        # one exp per entry, in place: gamma = exp(L - max) / sum over components
        m = L.max(axis=0)
        L -= m
        # Clamped so that no posterior is subnormal, even after the division by up to K:
        # subnormal posteriors made the statistics GEMM 15x slower on an Intel Xeon.
        exp_shifted(L, _exp_floor(dtype, K))
        tot = L.sum(axis=0)
        ll = float(np.sum(m, dtype=np.float64) + np.sum(np.log(tot), dtype=np.float64))
        L /= tot
    n = (L @ np.ones(N, dtype=dtype)).astype(np.float64)  # a GEMV: faster than a strided sum
    FS = (L @ XX).astype(np.float64)
    fc, sc = FS[:, :D], FS[:, D:]
    # back to original coordinates: x = xc + c
    f = fc + n[:, None] * shift
    s = sc + 2 * fc * shift + n[:, None] * shift**2
    return GMMStats(n, f, s, ll, int(N))


def m_step(stats: GMMStats, var_floor: np.ndarray, min_occupancy: float = 1e-10):
    """Maximum-likelihood parameters from statistics (pure).

    Parameters
    ----------
    stats : GMMStats
    var_floor : ndarray, shape (D,)
        Absolute variance floor per dimension.
    min_occupancy : float
        Components with less occupancy are reported in ``dead`` (their parameters are
        copied from the global statistics, never NaN).

    Returns
    -------
    weights : ndarray, shape (K,)
    means, variances : ndarray, shape (K, D)
    dead : ndarray of bool, shape (K,)
    """
    n = stats.n
    dead = n <= min_occupancy
    tot = n.sum()
    if tot <= 0:
        raise InsufficientDataError("no data was accumulated")
    safe = np.where(dead, 1.0, n)
    means = stats.f / safe[:, None]
    variances = stats.s / safe[:, None] - means**2
    if dead.any():
        gm = stats.f.sum(0) / tot
        gv = stats.s.sum(0) / tot - gm**2
        means[dead] = gm
        variances[dead] = gv
    variances = np.maximum(variances, var_floor)
    weights = np.where(dead, 0.0, n) / tot
    return weights, means, variances, dead


def chunk_statistics(gmm: DiagGMM, hard: Optional[bool] = None):
    """The E-step of a fitted ``gmm`` for one chunk of frames, for a feature source's engine.

    Returns
    -------
    stats_of : callable ``(X, work) -> GMMStats``
        Statistics of the chunk ``X`` (N, D); ``work`` is a per-thread dict of reusable buffers.
    zero : GMMStats
        Zero statistics of the model's shape, to sum the chunks' onto.
    """
    gmm._check_fitted()
    hard = gmm.hard if hard is None else hard
    K, D = gmm.means_.shape
    shift = gmm.means_.mean(0)
    WT, b = _scoring_matrices(gmm.weights_, gmm.means_, gmm.variances_, shift, gmm.dtype)
    C, dtype = int(gmm.chunk_size), gmm.dtype

    def stats_of(x, work):
        work.setdefault("cap", C)
        return _stats_chunk(x, WT, b, shift, hard, dtype, work)

    return stats_of, GMMStats.zeros(K, D)


# --- data larger than memory -------------------------------------------------------------


class FeatureStream:
    """Base class of re-iterable feature arrays read on demand (see :class:`speechgmm.sources.ArkSource`).

    :meth:`DiagGMM.fit` and :meth:`DiagGMM.accumulate` accept one in place of a list of
    arrays; each EM pass iterates it again, so only one array (and one E-step chunk) is in
    memory at a time.  Subclasses implement ``__iter__`` (yielding ``(n_frames, D)`` arrays,
    the same ones in the same order every time) and ``__len__`` (number of arrays).
    """

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError


# --- the model ---------------------------------------------------------------------------


#: the largest feature magnitude accepted: beyond it, the squares summed over frames in the float32
#: statistics overflow (EM at 1e18 ended "diverged"); MFCCs, filterbanks and log energies are far smaller
MAX_FEATURE = 1e15


def feature_problem(X: np.ndarray) -> Optional[str]:
    """Why the features ``X`` cannot be modelled (NaN / infinite / too large values), or None.

    The one check, and the one message, for every place that takes features from a caller.
    """
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)) or X.dtype == bool:
        return f"features must be real numbers, not {X.dtype} values"
    if X.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        peak = float(np.max(np.abs(X)))
    if not np.isfinite(peak):
        return "features contain NaN or infinite values"
    if peak > MAX_FEATURE:
        return f"features too large (values up to {peak:.3g}, at most {MAX_FEATURE:.0e} supported): rescale them"
    return None


def _is_int(v, low: int) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low


def _is_number(v, low: float) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and low <= v < np.inf


def _is_seed(v) -> bool:
    return v is None or isinstance(v, (np.random.Generator, np.random.SeedSequence)) or (_is_int(v, 0) and v < 2**32)


def _is_float_dtype(v) -> bool:
    try:
        return np.dtype(v) in (np.float32, np.float64)
    except TypeError:
        return False


#: hyper-parameter of DiagGMM -> (check, what it must be)
_HYPER_RULES = {
    "n_components": (lambda v: _is_int(v, 1), "an integer >= 1"),
    "max_iter": (lambda v: _is_int(v, 0), "an integer >= 0"),
    "tol": (lambda v: _is_number(v, 0), "a finite number >= 0"),
    "var_floor": (lambda v: _is_number(v, 0) and v > 0, "a finite number > 0"),
    "chunk_size": (lambda v: _is_int(v, 1), "an integer >= 1"),
    "split_iter": (lambda v: _is_int(v, 0), "an integer >= 0"),
    "min_weight": (lambda v: _is_number(v, 0), "a finite number >= 0"),
    "n_threads": (lambda v: v is None or _is_int(v, 0), "None or an integer >= 0"),
    "random_state": (_is_seed, "None or an integer in 0 .. 2**32 - 1"),
    "dtype": (_is_float_dtype, "numpy.float32 or numpy.float64"),
    "hard": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),  # "no" was taken as True (QA)
}


def hyper_problem(name: str, value) -> Optional[str]:
    """What is wrong with ``value`` for the :class:`DiagGMM` hyper-parameter ``name`` (None if nothing)."""
    ok, what = _HYPER_RULES[name]
    return None if ok(value) else f"{name} must be {what}, not {value!r}"


#: Bound on ``sum(means**2 / variances)`` of a component (its squared distance from the origin, in its
#: standard deviations; a few hundred in a trained model): beyond it, scores overflow to NaN.
MAX_SQUARED_DISTANCE = 1e30


def params_problem(w: np.ndarray, mu: np.ndarray, var: np.ndarray, n_features: Optional[int] = None) -> Optional[str]:
    """What is wrong with GMM parameters ``w`` (K,), ``mu`` (K, D), ``var`` (K, D), or None: the one check of
    :meth:`DiagGMM.from_params` and of model files (:mod:`speechgmm.modelio`)."""
    for name, a in (("weights", w), ("means", mu), ("variances", var)):
        if not np.all(np.isfinite(a)):
            return f"{name} contain NaN/inf"
    K = w.shape[0] if w.ndim == 1 else -1
    if K < 1 or mu.ndim != 2 or mu.shape[0] != K or var.shape != mu.shape:
        return f"inconsistent shapes: weights {w.shape}, means {mu.shape}, variances {var.shape}"
    if n_features is not None and mu.shape[1] != n_features:
        return f"inconsistent shapes: means of {mu.shape[1]} dimensions, {n_features} expected"
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6 or np.any(var <= 0):
        return "weights must be >= 0 and sum to 1, variances be > 0"
    with np.errstate(over="ignore"):
        distance = np.sum(np.square(mu, dtype=np.float64) / var, axis=1)
    if not np.all(distance < MAX_SQUARED_DISTANCE):  # also inf
        return "means and variances out of range (the scores would overflow)"
    return None


class DiagGMM:
    """Gaussian mixture with diagonal covariances, trained by (soft or hard) EM.

    The data may be an array, a list of arrays (one per utterance) or any
    :class:`~speechgmm.sources.FeatureSource` (a Kaldi archive streamed from disk, shards on a
    Dask cluster): training is the same code for all of them, only the E-step sum differs.

    Parameters
    ----------
    n_components : int
        Number of Gaussians K.
    max_iter : int
        Maximum EM iterations.
    tol : float
        Stop when the average log-likelihood per frame improves by less than this (0 = run
        all ``max_iter`` iterations).
    init : {"kmeans", "random", "split"}
        ``kmeans``: k-means++ then 10 Lloyd iterations on a sample of up to 100k frames;
        ``random``: K random frames as means; ``split``: binary splitting 1 -> 2 -> 4 ... -> K
        with ``split_iter`` EM iterations after each split (:mod:`speechgmm.gmm_init`).
    random_state : int or None
        Seed (initialisation only; EM itself is deterministic).
    weights_init, means_init, variances_init : array-like, optional
        Initial parameters (override ``init`` for what they give).
    var_floor : float
        Variance floor, relative to the global variance of each dimension.
    hard : bool
        Viterbi (hard-assignment) EM instead of soft EM.
    chunk_size : int
        Frames per E-step chunk (memory is O(chunk_size x K)).
    dtype : numpy dtype
        Precision of the E-step matrix products (float32 default; statistics are float64).
    split_iter : int
        EM iterations after each split for ``init="split"``.
    min_weight : float
        A component whose occupancy falls below ``min_weight * N / K`` frames is re-seeded by
        splitting the heaviest component.
    n_threads : int or None
        Threads for the E-step (None: all CPUs available to the process).  Each runs the whole
        chunk computation with a one-thread BLAS; results do not depend on the number of threads.

    Attributes
    ----------
    weights_ : ndarray, shape (K,)
    means_ : ndarray, shape (K, D)
    variances_ : ndarray, shape (K, D)
    converged_ : bool
    n_iter_ : int
    log_likelihood_history_ : list of float
        Average log-likelihood per frame at each EM iteration (before its update).
    var_floor_ : ndarray, shape (D,)
        Absolute variance floor used.
    n_reseeded_ : int
        Number of component re-seeds performed.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((2000, 3))
    >>> gmm = DiagGMM(4, random_state=0).fit(X)
    >>> gmm.means_.shape
    (4, 3)
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        max_iter: int = 100,
        tol: float = 1e-3,
        init: str = "kmeans",
        random_state: Optional[int] = None,
        weights_init=None,
        means_init=None,
        variances_init=None,
        var_floor: float = 1e-3,
        hard: bool = False,
        chunk_size: int = 8192,
        dtype=np.float32,
        split_iter: int = 3,
        min_weight: float = 1e-3,
        n_threads: Optional[int] = None,
    ):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.weights_init = weights_init
        self.means_init = means_init
        self.variances_init = variances_init
        self.var_floor = var_floor
        self.hard = hard
        self.chunk_size = chunk_size
        self.dtype = dtype
        self.split_iter = split_iter
        self.min_weight = min_weight
        self.n_threads = n_threads
        self.log_likelihood_history_: list[float] = []
        self.converged_ = False
        self.n_iter_ = 0
        self.n_reseeded_ = 0

    @classmethod
    def from_params(cls, weights, means, variances, *, var_floor_=None, **hyper) -> DiagGMM:
        """A fitted model with the given parameters (float64) and hyper-parameters ``hyper``.

        ``weights`` (K,) >= 0 summing to 1, ``means`` (K, D), ``variances`` (K, D) > 0, all finite;
        a one-line ConfigError otherwise (QA: NaN means or negative variances gave NaN scores)."""
        w, mu, var = (np.asarray(a, dtype=np.float64) for a in (weights, means, variances))
        problem = params_problem(w, mu, var)
        if problem:
            raise ConfigError(f"DiagGMM.from_params: {problem}")
        g = cls(len(w), **hyper)
        g._set_params(w, mu, var)
        if var_floor_ is not None:
            g.var_floor_ = np.asarray(var_floor_, dtype=np.float64)
        return g

    def _set_params(self, w, mu, var) -> None:
        self.weights_, self.means_, self.variances_ = (np.asarray(a, dtype=np.float64) for a in (w, mu, var))

    def _check_params(self):
        problems = [p for p in (hyper_problem(name, getattr(self, name)) for name in _HYPER_RULES) if p]
        if problems:
            raise ConfigError("; ".join(problems))
        if self.init not in ("kmeans", "random", "split"):
            raise ConfigError(f"init must be 'kmeans', 'random' or 'split', not {self.init!r}")

    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise ConfigError("this DiagGMM is not fitted yet; call fit() first")

    # -- statistics and update ------------------------------------------------------------
    def accumulate(self, X, hard: Optional[bool] = None) -> GMMStats:
        """E-step over ``X`` (an array, a sequence of arrays or a feature source), chunk by chunk.

        Returns
        -------
        GMMStats
            Statistics in float64; sum them over any split of the data.
        """
        from speechgmm.sources import as_source

        self._check_fitted()
        return as_source(X).accumulate(self, hard=hard)

    def update(self, stats: GMMStats) -> DiagGMM:
        """M-step: set the parameters from ``stats`` (K components, as many as the statistics have);
        re-seed collapsed components."""
        if not isinstance(stats, GMMStats):  # QA: an array reached an AttributeError
            raise ConfigError(f"update() takes the GMMStats of accumulate(), not {type(stats).__name__}")
        K = len(stats.n)
        if hasattr(self, "means_") and stats.f.shape != self.means_.shape:
            raise ConfigError(
                f"statistics of {K} components x {stats.f.shape[1]} dimensions do not fit this model's "
                f"{self.means_.shape[0]} x {self.means_.shape[1]}"
            )
        if not (np.all(np.isfinite(stats.n)) and np.all(np.isfinite(stats.f)) and np.all(np.isfinite(stats.s))):
            raise InsufficientDataError("the statistics are not finite (NaN or inf): EM diverged, or they are wrong")
        floor = getattr(self, "var_floor_", None)
        if floor is None:
            tot = stats.n.sum()
            gm = stats.f.sum(0) / tot
            floor = self.var_floor * np.maximum(stats.s.sum(0) / tot - gm**2, 1e-10)
            self.var_floor_ = floor
        w, mu, var, _ = m_step(stats, floor)
        weak = stats.n < self.min_weight * max(stats.n.sum(), 1.0) / K
        if weak.any() and K > 1 and not weak.all():
            w, mu, var = gmm_init.reseed_components(w, mu, var, weak)
            self.n_reseeded_ += int(weak.sum())
        self.weights_, self.means_, self.variances_ = w, mu, var
        return self

    # -- training ------------------------------------------------------------------------------
    def fit(self, X, y=None) -> DiagGMM:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : ndarray (N, D), sequence of such arrays (e.g. one per utterance), or FeatureSource
            Training frames; a sequence is never concatenated except for a bounded
            initialisation sample.

        Returns
        -------
        self
        """
        from speechgmm.sources import as_source

        self._check_params()
        source = as_source(X)
        N, K = source.n_frames(), int(self.n_components)
        if N < 2 * K:
            raise too_few_frames(N, K)
        self.n_reseeded_ = 0
        self._initialise(source, np.random.default_rng(self.random_state))
        return self.run_em(lambda: source.accumulate(self))

    def _initialise(self, source, rng) -> None:
        """Initial parameters (:mod:`speechgmm.gmm_init`) from a bounded sample of ``source``."""
        from speechgmm.sources import INIT_FRAMES

        K = int(self.n_components)
        given = (self.weights_init, self.means_init, self.variances_init)
        S = source.sample(INIT_FRAMES, rng)
        gm, gv = S.mean(0), np.maximum(S.var(0), 1e-10)
        self.var_floor_ = self.var_floor * gv
        if all(a is not None for a in given):
            w, mu, var = (np.array(a, dtype=np.float64) for a in given)
        elif self.init == "split" and self.means_init is None:
            init_source = getattr(source, "init_source", lambda m: source)(INIT_FRAMES)
            w, mu, var = gmm_init.split_init(gm, gv, K, lambda p: self._refine(p, init_source))
        else:
            w, mu, var = gmm_init.sample_init(S, K, self.init, rng, gm, gv, self.means_init)
            w, var = (
                np.array(a, dtype=np.float64) if a is not None else b
                for a, b in ((self.weights_init, w), (self.variances_init, var))
            )
        gmm_init.check_params(w, mu, var, K, S.shape[1], check_var=self.variances_init is not None)
        self.weights_, self.means_, self.variances_ = w, mu, np.maximum(var, self.var_floor_)

    def _refine(self, params, source):
        """``split_iter`` EM iterations from ``params`` over ``source`` (split initialisation)."""
        self.weights_, self.means_, self.variances_ = params
        for _ in range(self.split_iter):
            self.update(source.accumulate(self))
        return self.weights_, self.means_, self.variances_

    def run_em(self, accumulate: Callable[[], GMMStats]) -> DiagGMM:
        """EM iterations from the current parameters: the one EM loop of speechgmm.

        ``accumulate()`` returns the E-step statistics of all training data under the current
        parameters (e.g. ``lambda: source.accumulate(gmm)``, summed over a cluster's shards or
        several processes' partial statistics); the M-step is :meth:`update`.
        """
        self.log_likelihood_history_ = []
        self.converged_ = False
        self.n_iter_ = 0
        prev = -np.inf
        for it in range(int(self.max_iter)):
            stats = accumulate()
            ll = stats.loglik / stats.frames
            self.log_likelihood_history_.append(ll)
            self.update(stats)
            self.n_iter_ = it + 1
            if self.tol > 0 and abs(ll - prev) < self.tol:
                self.converged_ = True
                break
            prev = ll
        if not np.all(np.isfinite(self.means_)) or not np.all(np.isfinite(self.variances_)):
            raise InsufficientDataError("EM diverged (non-finite parameters); use fewer components")
        return self

    # -- scoring ---------------------------------------------------------------------------------
    def component_loglik(self, X: np.ndarray) -> np.ndarray:
        """Per-frame, per-component ``log w_k N(x | mu_k, var_k)``, shape (N, K)."""
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.means_.shape[1]:
            raise ConfigError(f"expected features of shape (N, {self.means_.shape[1]}), got {X.shape}")
        problem = feature_problem(X)
        if problem:
            raise ConfigError(problem)
        shift = self.means_.mean(0)
        W, b = log_gaussian_matrices(self.weights_, self.means_ - shift, self.variances_)
        out = np.empty((X.shape[0], len(b)), dtype=np.float64)
        for i in range(0, X.shape[0], self.chunk_size):
            XX = _xx(X[i : i + self.chunk_size], shift, np.float64)
            out[i : i + self.chunk_size] = XX @ W + b
        return out

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Per-frame log-likelihood log p(x), shape (N,)."""
        return logsumexp_rows(self.component_loglik(X))

    def score(self, X: np.ndarray, y=None) -> float:
        """Average log-likelihood per frame."""
        ll = self.score_samples(X)
        if not len(ll):
            raise ConfigError("features have no frames")
        return float(ll.mean())

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Component posteriors, shape (N, K); rows sum to 1."""
        lp = self.component_loglik(X)
        return np.exp(lp - logsumexp_rows(lp)[:, None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most likely component per frame, shape (N,)."""
        return self.component_loglik(X).argmax(1)

    def _n_parameters(self) -> int:
        K, D = self.means_.shape
        return (K - 1) + 2 * K * D

    def bic(self, X: np.ndarray) -> float:
        """Bayesian information criterion on X (lower is better)."""
        X = np.asarray(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X: np.ndarray) -> float:
        """Akaike information criterion on X (lower is better)."""
        X = np.asarray(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # -- serialisation ------------------------------------------------------------------------------
    _HYPER = (
        "n_components",
        "max_iter",
        "tol",
        "init",
        "random_state",
        "var_floor",
        "hard",
        "chunk_size",
        "split_iter",
        "min_weight",
    )

    def to_dict(self) -> dict[str, object]:
        """Parameters (float64 arrays) and hyper-parameters (JSON-able); no pickle needed."""
        self._check_fitted()
        d: dict[str, object] = {k: getattr(self, k) for k in self._HYPER}
        d["dtype"] = np.dtype(self.dtype).name
        d.update(
            weights=self.weights_,
            means=self.means_,
            variances=self.variances_,
            converged=bool(self.converged_),
            n_iter=int(self.n_iter_),
            log_likelihood_history=[float(v) for v in self.log_likelihood_history_],
        )
        return d

    @classmethod
    def from_dict(cls, d) -> DiagGMM:
        hyper = {k: d[k] for k in cls._HYPER if k in d and k != "n_components"}
        if "dtype" in d:
            hyper["dtype"] = np.dtype(str(d["dtype"])).type
        g = cls.from_params(d["weights"], d["means"], d["variances"], **hyper)
        g.converged_ = bool(d.get("converged", False))
        g.n_iter_ = int(d.get("n_iter", 0))
        g.log_likelihood_history_ = list(d.get("log_likelihood_history", []))
        return g

    def __repr__(self):
        return f"DiagGMM(n_components={self.n_components}, init={self.init!r}, random_state={self.random_state})"
