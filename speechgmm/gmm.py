"""Diagonal-covariance Gaussian mixture models trained by EM.

Three separate things, as in Kaldi's ``diag-gmm`` / ``mle-diag-gmm``:

* the **model** :class:`DiagGMM` (``weights_``, ``means_``, ``variances_``),
* the **sufficient statistics** :class:`GMMStats` (occupancy ``n``, first order ``f`` =
  sum gamma x, second order ``s`` = sum gamma x^2), produced by :func:`e_step` /
  :meth:`DiagGMM.accumulate` and summed with ``+`` across chunks, files, processes or
  machines,
* the **update** :func:`m_step`, a pure function from statistics to parameters.

Per-frame component log-densities are one matrix product: with ``W, b =
log_gaussian_matrices(w, mu, var)``, ``log w_k N(x | mu_k, var_k) = [x, x**2] @ W + b``;
the statistics are one more: ``gamma.T @ [1, x, x**2]``.  Data is processed in chunks, so
memory is O(chunk_size x K) whatever the number of frames.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from speechgmm.errors import ConfigError, InsufficientDataError

ArrayList = Union[np.ndarray, Sequence[np.ndarray]]
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

    @classmethod
    def zeros(cls, n_components: int, n_features: int) -> "GMMStats":
        return cls(np.zeros(n_components), np.zeros((n_components, n_features)), np.zeros((n_components, n_features)))

    def __add__(self, other: "GMMStats") -> "GMMStats":
        if other == 0:  # so that sum(list_of_stats) works
            return self
        if self.f.shape != other.f.shape:
            raise ValueError(f"cannot add statistics of shapes {self.f.shape} and {other.f.shape}")
        return GMMStats(self.n + other.n, self.f + other.f, self.s + other.s, self.loglik + other.loglik, self.frames + other.frames)

    __radd__ = __add__

    def __eq__(self, other):  # identity only; use np.allclose on the arrays to compare values
        return self is other

    def to_dict(self) -> Dict[str, np.ndarray]:
        """Arrays only (for npz files or sending between processes)."""
        return {"n": self.n, "f": self.f, "s": self.s, "loglik": np.float64(self.loglik), "frames": np.int64(self.frames)}

    @classmethod
    def from_dict(cls, d) -> "GMMStats":
        return cls(np.asarray(d["n"], float), np.asarray(d["f"], float), np.asarray(d["s"], float), float(d["loglik"]), int(d["frames"]))

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
    s = sc + 2 * fc * shift + n[:, None] * shift ** 2
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
    variances = stats.s / safe[:, None] - means ** 2
    if dead.any():
        gm = stats.f.sum(0) / tot
        gv = stats.s.sum(0) / tot - gm ** 2
        means[dead] = gm
        variances[dead] = gv
    variances = np.maximum(variances, var_floor)
    weights = np.where(dead, 0.0, n) / tot
    return weights, means, variances, dead


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _threaded_sum(chunks: Iterable[np.ndarray], stats_of, total: GMMStats, n_threads: int) -> GMMStats:
    """Sum ``stats_of(chunk, buffers)`` over ``chunks`` on ``n_threads`` threads.

    numpy's element-wise kernels release the GIL, so with one BLAS thread per Python thread
    every part of the E-step (GEMMs, exp, reductions) runs on all cores, not only the GEMMs.
    At most ``2 * n_threads`` chunks are in flight (memory stays O(threads x chunk x K)), and
    the per-chunk statistics are added in chunk order, so the result does not depend on
    thread timing.
    """
    import collections
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    local = threading.local()

    def task(x):
        if not hasattr(local, "work"):
            local.work = {}
        return stats_of(x, local.work)

    inflight: "collections.deque" = collections.deque()
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=n_threads) as ex:
        for x in chunks:
            inflight.append(ex.submit(task, x))
            if len(inflight) >= 2 * n_threads:
                total = total + inflight.popleft().result()
        while inflight:
            total = total + inflight.popleft().result()
    return total


# --- data larger than memory -------------------------------------------------------------

class FeatureStream:
    """Base class of re-iterable feature sources read on demand.

    :meth:`DiagGMM.fit` and :meth:`DiagGMM.accumulate` accept one in place of a list of
    arrays; each EM pass iterates it again, so only one array (and one E-step chunk) is in
    memory at a time.  Subclasses implement ``__iter__`` (yielding ``(n_frames, D)`` arrays,
    the same ones in the same order every time) and ``__len__`` (number of arrays).  See
    :class:`speechgmm.kaldi.ArkFeatures`.
    """

    def __iter__(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError


# --- the model ---------------------------------------------------------------------------

class DiagGMM:
    """Gaussian mixture with diagonal covariances, trained by (soft or hard) EM.

    Parameters
    ----------
    n_components : int
        Number of Gaussians K.
    max_iter : int
        EM iterations (after initialisation).
    tol : float
        Stop when the average log-likelihood per frame improves by less than ``tol``;
        ``tol=0`` always runs ``max_iter`` iterations.
    init : {"kmeans", "random", "split"}
        ``kmeans``: k-means++ seeding and Lloyd iterations (scipy.cluster.vq.kmeans2);
        ``random``: K random frames as means, global variance;
        ``split``: binary mixture splitting 1 -> 2 -> 4 ... -> K along the
        largest-variance axis with ``split_iter`` EM iterations after each split.
    random_state : int or None
        Seed; results are deterministic for a given seed.
    weights_init, means_init, variances_init : array-like, optional
        Initial parameters (skip ``init`` for the ones given).
    var_floor : float
        Variance floor as a fraction of the global variance of each dimension.
    hard : bool
        Hard (Viterbi) EM: each frame is assigned to its most likely component.
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
        chunk computation with a one-thread BLAS; results do not depend on the number of threads
        beyond float rounding.

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

    def __init__(self, n_components: int = 1, max_iter: int = 100, tol: float = 1e-3, init: str = "kmeans",
                 random_state: Optional[int] = None, weights_init=None, means_init=None, variances_init=None,
                 var_floor: float = 1e-3, hard: bool = False, chunk_size: int = 8192, dtype=np.float32,
                 split_iter: int = 3, min_weight: float = 1e-3, n_threads: Optional[int] = None):
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
        self.log_likelihood_history_: List[float] = []
        self.converged_ = False
        self.n_iter_ = 0
        self.n_reseeded_ = 0

    # -- validation ----------------------------------------------------------------------
    def _check_params(self):
        if int(self.n_components) < 1:
            raise ConfigError(f"n_components must be >= 1, got {self.n_components}")
        if self.init not in ("kmeans", "random", "split"):
            raise ConfigError(f"init must be 'kmeans', 'random' or 'split', not {self.init!r}")
        if int(self.max_iter) < 0 or self.tol < 0:
            raise ConfigError("max_iter and tol must be >= 0")
        if not (self.var_floor > 0):
            raise ConfigError("var_floor must be > 0")

    @staticmethod
    def _as_list(X: ArrayList) -> List[np.ndarray]:
        if isinstance(X, FeatureStream):
            if len(X) == 0:
                raise InsufficientDataError("no feature arrays given")
            return X  # validated array by array as it is read
        if isinstance(X, np.ndarray):
            arrays = [X]
        else:
            arrays = list(X)
        out = []
        D = None
        for a in arrays:
            a = np.asarray(a)
            if a.ndim != 2:
                raise ConfigError(f"expected 2-D feature arrays (frames x dims), got shape {a.shape}")
            if D is None:
                D = a.shape[1]
            elif a.shape[1] != D:
                raise ConfigError(f"feature arrays have different dimensions ({D} and {a.shape[1]})")
            if a.shape[0] and not np.all(np.isfinite(a)):
                raise ConfigError("features contain NaN or infinite values")
            out.append(a)
        if not out:
            raise InsufficientDataError("no feature arrays given")
        return out

    @staticmethod
    def _count(arrays):
        """(total frames, dims) -- one pass over a stream, checking every array."""
        N, D = 0, None
        for a in arrays:
            if a.ndim != 2 or (D is not None and a.shape[1] != D):
                raise ConfigError(f"feature arrays must be 2-D with equal dimensions, got shape {a.shape}")
            if isinstance(arrays, FeatureStream) and not np.all(np.isfinite(a)):
                raise ConfigError("features contain NaN or infinite values")
            D = a.shape[1]
            N += a.shape[0]
        return N, D

    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise ConfigError("this DiagGMM is not fitted yet; call fit() first")

    # -- statistics ------------------------------------------------------------------------
    def accumulate(self, X: ArrayList, hard: Optional[bool] = None) -> GMMStats:
        """E-step over ``X`` (an array or a sequence of arrays), chunk by chunk.

        Returns
        -------
        GMMStats
            Statistics in float64; sum them over any split of the data.
        """
        self._check_fitted()
        hard = self.hard if hard is None else hard
        K, D = self.means_.shape
        total = GMMStats.zeros(K, D)
        shift = self.means_.mean(0)
        WT, bb = _scoring_matrices(self.weights_, self.means_, self.variances_, shift, self.dtype)
        arrays = self._as_list(X)
        stream = isinstance(arrays, FeatureStream)
        C = int(self.chunk_size)

        def chunks():
            pending: List[np.ndarray] = []
            n_pending = 0
            for a in arrays:
                if a.ndim != 2 or a.shape[1] != D:
                    raise ConfigError(f"features have shape {a.shape}, the model {D} dimensions")
                if stream and not np.all(np.isfinite(a)):
                    raise ConfigError("features contain NaN or infinite values")
                if a.shape[0] >= C:
                    for i in range(0, a.shape[0], C):
                        yield a[i:i + C]
                    continue
                # short utterances are batched into chunks: per-call overhead would dominate otherwise
                pending.append(a)
                n_pending += a.shape[0]
                if n_pending >= C:
                    x = np.concatenate(pending)
                    pending, n_pending = [], 0
                    for i in range(0, x.shape[0], C):
                        yield x[i:i + C]
            if pending:
                yield np.concatenate(pending) if len(pending) > 1 else pending[0]

        def stats_of(x, work):
            work.setdefault("cap", C)
            return _stats_chunk(x, WT, bb, shift, hard, self.dtype, work)

        T = self._threads(arrays)
        if T == 1:
            work: dict = {}
            for x in chunks():
                total = total + stats_of(x, work)
            return total
        return _threaded_sum(chunks(), stats_of, total, T)

    def _threads(self, arrays) -> int:
        """Threads for the E-step: 1 for small inputs, else ``n_threads`` (default: all CPUs)."""
        T = self.n_threads if self.n_threads is not None else _cpu_count()
        T = max(1, int(T))
        if T > 1 and not isinstance(arrays, FeatureStream):
            if sum(a.shape[0] for a in arrays) < 2 * int(self.chunk_size):
                return 1
        return T

    def update(self, stats: GMMStats) -> "DiagGMM":
        """M-step: set the parameters from ``stats``; re-seed collapsed components."""
        K = self.n_components
        floor = getattr(self, "var_floor_", None)
        if floor is None:
            tot = stats.n.sum()
            gm = stats.f.sum(0) / tot
            floor = self.var_floor * np.maximum(stats.s.sum(0) / tot - gm ** 2, 1e-10)
            self.var_floor_ = floor
        w, mu, var, _ = m_step(stats, floor)
        weak = stats.n < self.min_weight * max(stats.n.sum(), 1.0) / K
        if weak.any() and K > 1 and not weak.all():
            w, mu, var = self._reseed(w, mu, var, weak)
        self.weights_, self.means_, self.variances_ = w, mu, var
        return self

    def _reseed(self, w, mu, var, weak):
        """Replace weak components by halves of the heaviest ones (split along largest-variance axis)."""
        w, mu, var = w.copy(), mu.copy(), var.copy()
        for k in np.flatnonzero(weak):
            h = int(np.argmax(np.where(weak, -1.0, w)))
            ax = int(np.argmax(var[h]))
            step = np.zeros(mu.shape[1])
            step[ax] = 0.5 * np.sqrt(var[h, ax])
            mu[k], var[k] = mu[h] + step, var[h]
            mu[h] = mu[h] - step
            w[h] = w[k] = w[h] / 2
            weak[k] = False
            self.n_reseeded_ += 1
        return w / w.sum(), mu, var

    # -- initialisation --------------------------------------------------------------------
    def _sample(self, arrays: List[np.ndarray], rng, max_frames: int = 100_000) -> np.ndarray:
        if isinstance(arrays, FeatureStream):
            # one pass, every step-th frame: bounded memory, deterministic
            N = sum(a.shape[0] for a in arrays)
            step = max(1, -(-N // max_frames))
            return np.concatenate([np.asarray(a[::step], dtype=np.float64) for a in arrays])
        N = sum(a.shape[0] for a in arrays)
        X = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        if N > max_frames:
            X = X[np.sort(rng.choice(N, max_frames, replace=False))]
        return np.asarray(X, dtype=np.float64)

    def _initialise(self, arrays: List[np.ndarray], rng, accumulate=None) -> None:
        """Set initial parameters from ``arrays`` (a bounded sample is drawn from them).

        ``accumulate`` (no arguments -> GMMStats over the full training data) is used by
        split initialisation for its EM passes; default: accumulate over ``arrays``.
        """
        K = int(self.n_components)
        given = [x is not None for x in (self.weights_init, self.means_init, self.variances_init)]
        S = self._sample(arrays, rng)
        D = S.shape[1]
        gm, gv = S.mean(0), np.maximum(S.var(0), 1e-10)
        self.var_floor_ = self.var_floor * gv
        if all(given):
            w, mu, var = (np.array(a, dtype=np.float64) for a in (self.weights_init, self.means_init, self.variances_init))
        elif self.init == "split" and not given[1]:
            self._split_init(accumulate or (lambda: self.accumulate(arrays)), K, gm, gv)
            w, mu, var = self.weights_, self.means_, self.variances_
        else:
            if given[1]:
                mu = np.array(self.means_init, dtype=np.float64)
                labels = None
            elif self.init == "kmeans":
                from scipy.cluster.vq import kmeans2

                sd = np.sqrt(gv)
                Z = (S - gm) / sd
                with np.errstate(all="ignore"):
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        cent, labels = kmeans2(Z, K, iter=10, minit="++", seed=rng)
                mu = cent * sd + gm
            else:
                mu = S[rng.choice(S.shape[0], K, replace=False)]
                labels = None
            if labels is None:
                d2 = ((S[:, None, :] - mu[None]) ** 2 / gv).sum(-1) if S.shape[0] * K < 5e7 else None
                labels = d2.argmin(1) if d2 is not None else np.zeros(S.shape[0], int)
            counts = np.bincount(labels, minlength=K).astype(float)
            var = np.tile(gv, (K, 1))
            for k in np.flatnonzero(counts > 1):
                var[k] = S[labels == k].var(0)
            w = np.maximum(counts, 1.0)
            w = w / w.sum()
            if given[0]:
                w = np.array(self.weights_init, dtype=np.float64)
            if given[2]:
                var = np.array(self.variances_init, dtype=np.float64)
        if w.shape != (K,) or mu.shape != (K, D) or var.shape != (K, D):
            raise ConfigError(f"initial parameters must have shapes ({K},), ({K}, {D}), ({K}, {D})")
        if not (np.all(w >= 0) and np.isclose(w.sum(), 1.0)) or (given[2] and not np.all(var > 0)):
            raise ConfigError("initial weights must be >= 0 and sum to 1, variances > 0")
        self.weights_, self.means_, self.variances_ = w, mu, np.maximum(var, self.var_floor_)

    def _split_init(self, accumulate, K, gm, gv):
        """Binary splitting: grow 1 -> 2 -> 4 ... -> K, EM after each split."""
        self.weights_, self.means_, self.variances_ = np.ones(1), gm[None].copy(), gv[None].copy()
        k = 1
        while k < K:
            n_split = min(k, K - k)
            order = np.argsort(-self.weights_, kind="stable")[:n_split]
            w, mu, var = list(self.weights_), list(self.means_), list(self.variances_)
            for h in order:
                ax = int(np.argmax(self.variances_[h]))
                step = np.zeros(len(gm))
                step[ax] = 0.5 * np.sqrt(self.variances_[h, ax])
                mu.append(self.means_[h] + step)
                var.append(self.variances_[h].copy())
                w.append(self.weights_[h] / 2)
                mu[h] = self.means_[h] - step
                w[h] = self.weights_[h] / 2
            self.weights_, self.means_, self.variances_ = np.array(w), np.array(mu), np.array(var)
            k = len(w)
            n_comp = self.n_components
            self.n_components = k
            try:
                for _ in range(self.split_iter):
                    self.update(accumulate())
            finally:
                self.n_components = n_comp

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: ArrayList, y=None) -> "DiagGMM":
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : ndarray, shape (N, D), or sequence of such arrays (e.g. one per utterance)
            Training frames; a sequence is never concatenated except for a bounded
            initialisation sample.

        Returns
        -------
        self
        """
        self._check_params()
        arrays = self._as_list(X)
        N, _ = self._count(arrays)
        K = int(self.n_components)
        if N < 2 * K:
            raise InsufficientDataError(
                f"{N} frames are too few for {K} components (need at least {2 * K}); use fewer components"
            )
        rng = np.random.default_rng(self.random_state)
        self.n_reseeded_ = 0
        self._initialise(arrays, rng)
        return self._run_em(lambda: self.accumulate(arrays))

    def _run_em(self, accumulate) -> "DiagGMM":
        """EM iterations from the current parameters; ``accumulate()`` returns the E-step
        statistics over all training data (locally, or summed over a cluster's shards)."""
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
    def _component_loglik(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.means_.shape[1]:
            raise ConfigError(f"expected features of shape (N, {self.means_.shape[1]}), got {X.shape}")
        shift = self.means_.mean(0)
        W, b = log_gaussian_matrices(self.weights_, self.means_ - shift, self.variances_)
        out = np.empty((X.shape[0], len(b)), dtype=np.float64)
        for i in range(0, X.shape[0], self.chunk_size):
            XX = _xx(X[i:i + self.chunk_size], shift, np.float64)
            out[i:i + self.chunk_size] = XX @ W + b
        return out

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Per-frame log-likelihood log p(x), shape (N,)."""
        return logsumexp_rows(self._component_loglik(X))

    def score(self, X: np.ndarray, y=None) -> float:
        """Average log-likelihood per frame."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Component posteriors, shape (N, K); rows sum to 1."""
        lp = self._component_loglik(X)
        return np.exp(lp - logsumexp_rows(lp)[:, None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most likely component per frame, shape (N,)."""
        return self._component_loglik(X).argmax(1)

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
    _HYPER = ("n_components", "max_iter", "tol", "init", "random_state", "var_floor", "hard", "chunk_size", "split_iter", "min_weight")

    def to_dict(self) -> Dict[str, object]:
        """Parameters (float64 arrays) and hyper-parameters (JSON-able); no pickle needed."""
        self._check_fitted()
        d: Dict[str, object] = {k: getattr(self, k) for k in self._HYPER}
        d["dtype"] = np.dtype(self.dtype).name
        d.update(weights=self.weights_, means=self.means_, variances=self.variances_,
                 converged=bool(self.converged_), n_iter=int(self.n_iter_),
                 log_likelihood_history=[float(v) for v in self.log_likelihood_history_])
        return d

    @classmethod
    def from_dict(cls, d) -> "DiagGMM":
        g = cls(**{k: d[k] for k in cls._HYPER if k in d})
        if "dtype" in d:
            g.dtype = np.dtype(str(d["dtype"])).type
        g.weights_ = np.asarray(d["weights"], dtype=np.float64)
        g.means_ = np.asarray(d["means"], dtype=np.float64)
        g.variances_ = np.asarray(d["variances"], dtype=np.float64)
        g.n_components = len(g.weights_)
        g.converged_ = bool(d.get("converged", False))
        g.n_iter_ = int(d.get("n_iter", 0))
        g.log_likelihood_history_ = list(d.get("log_likelihood_history", []))
        return g

    def __repr__(self):
        return f"DiagGMM(n_components={self.n_components}, init={self.init!r}, random_state={self.random_state})"
