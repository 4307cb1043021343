"""GMM-UBM: MAP adaptation from a universal background model, and top-C scoring.

Following Reynolds, Quatieri & Dunn (2000): a class model is derived from the UBM with
the UBM's posteriors on the class's data,

    alpha_k = n_k / (n_k + r)
    mu_k'   = alpha_k E_k[x]   + (1 - alpha_k) mu_k
    var_k'  = alpha_k E_k[x^2] + (1 - alpha_k)(var_k + mu_k^2) - mu_k'^2
    w_k'    = normalise(alpha_k n_k / T + (1 - alpha_k) w_k)

with relevance factor ``r``; ``r -> inf`` returns the UBM, ``r = 0`` the ML estimate of
one EM step from the UBM.  Scoring is the log-likelihood ratio against the UBM, evaluating
each frame on its top-C UBM components only.
"""

from __future__ import annotations

import numpy as np

from speechgmm.errors import ConfigError, too_few_frames
from speechgmm.gmm import DiagGMM, GMMStats, exp_shifted, logsumexp_rows
from speechgmm.options import RELEVANCE_FACTOR  # the one default of r (also the command line's)


def train_ubm(
    source,
    n_components: int,
    max_iter: int = 10,
    random_state: int = 0,
    init: str = "split",
    tol: float = 0.0,
    flag: str = "--components",
) -> DiagGMM:
    """Fit a universal background model on all frames of ``source`` (arrays or a feature source).

    By default EM runs all ``max_iter`` iterations (``tol=0``) after binary splitting.  The one UBM
    trainer of ``train --method map``, ``train-ubm`` and the recipes, whatever the backend.  ``flag``
    is the option that the error for too few frames tells the user to lower.
    """
    from speechgmm.sources import as_source

    source = as_source(source)
    n = source.n_frames()
    if n < 2 * n_components:
        raise too_few_frames(n, n_components, "the UBM data", flag)
    return DiagGMM(n_components, max_iter=max_iter, tol=tol, init=init, random_state=random_state).fit(source)


def map_adapt(ubm: DiagGMM, stats: GMMStats, relevance_factor: float = RELEVANCE_FACTOR, adapt: str = "m") -> DiagGMM:
    """MAP-adapt ``ubm`` to data summarised by ``stats`` (computed with ``ubm.accumulate``).

    Parameters
    ----------
    ubm : DiagGMM
        Fitted background model (K components, D dims).
    stats : GMMStats
        Statistics of the class's frames under the UBM.
    relevance_factor : float
        r >= 0; ``np.inf`` keeps the UBM.
    adapt : str
        Which parameters to adapt: any of ``"m"`` (means), ``"w"`` (weights), ``"v"``
        (variances), e.g. ``"m"`` or ``"mwv"``.

    Returns
    -------
    DiagGMM
        A new model with the adapted parameters.
    """
    r = relevance_factor
    if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not r >= 0:
        raise ConfigError(f"relevance_factor must be a number >= 0 (inf: the UBM itself), not {relevance_factor!r}")
    if not isinstance(adapt, str) or not set(adapt) <= set("mwv") or not adapt:
        raise ConfigError(f"adapt must combine the letters m, w, v, not {adapt!r}")
    n = stats.n
    if np.isinf(relevance_factor):
        alpha = np.zeros_like(n)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(n > 0, n / (n + relevance_factor), 0.0)
    safe = np.where(n > 0, n, 1.0)[:, None]
    ex, ex2 = stats.f / safe, stats.s / safe
    a = alpha[:, None]
    mu0, var0, w0 = ubm.means_, ubm.variances_, ubm.weights_
    mu = a * ex + (1 - a) * mu0 if "m" in adapt else mu0.copy()
    if "v" in adapt:
        var = a * ex2 + (1 - a) * (var0 + mu0**2) - mu**2
        floor = getattr(ubm, "var_floor_", None)
        var = np.maximum(var, floor if floor is not None else 1e-6 * var0.min(0))
    else:
        var = var0.copy()
    if "w" in adapt:
        T = max(n.sum(), 1e-300)
        w = alpha * n / T + (1 - alpha) * w0
        w = w / w.sum()
    else:
        w = w0.copy()
    return DiagGMM.from_params(w, mu, var, var_floor=ubm.var_floor, var_floor_=getattr(ubm, "var_floor_", None))


def top_c(ubm: DiagGMM, X: np.ndarray, c: int = 5):
    """Indices of each frame's ``c`` best UBM components and the UBM per-frame log-likelihood.

    Returns
    -------
    idx : ndarray of int, shape (N, c)
    ubm_ll : ndarray, shape (N,)
    """
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
        raise ConfigError(f"top_c must be a positive integer, not {c!r}")
    lp = ubm.component_loglik(X)
    K = lp.shape[1]
    c = min(int(c), K)
    idx = np.argpartition(-lp, c - 1, axis=1)[:, :c] if c < K else np.tile(np.arange(K), (len(lp), 1))
    return idx, logsumexp_rows(lp)


def score_top_c(models, ubm: DiagGMM, X: np.ndarray, c: int = 5, chunk: int = 0) -> np.ndarray:
    """Per-frame log-likelihood ratios of MAP-adapted models against the UBM, top-C approximation.

    Each frame's likelihood under a model sums only over that frame's ``c`` best UBM
    components, and only those are evaluated: the frames are grouped by selected component
    and each group is one small matrix product per component, O(N c M D) instead of
    O(N K M D) for all components of all models.

    Parameters
    ----------
    models : list of DiagGMM
        Adapted from ``ubm`` (same K and component order).
    ubm : DiagGMM
    X : ndarray, shape (N, D)
    c : int
        Components per frame; ``c = K`` gives exact scoring.
    chunk : int
        Frames per block (memory O(chunk c M)); 0: about 2**21 scores per block.

    Returns
    -------
    ndarray, shape (N, n_models)
    """
    X = np.asarray(X, np.float64)
    M = len(models)
    if not len(X):
        return np.zeros((0, M))
    mu0 = ubm.means_
    P = 1.0 / np.stack([m.variances_ for m in models])  # (M, K, D) precisions
    D0 = np.stack([m.means_ for m in models]) - mu0[None]  # model means about the UBM's
    B = D0 * P
    const = (
        np.log(np.stack([m.weights_ for m in models])) + 0.5 * np.log(P / (2 * np.pi)).sum(-1) - 0.5 * (D0 * B).sum(-1)
    )  # (M, K)
    out = np.empty((len(X), M))
    chunk = int(chunk) or max(256, (1 << 21) // max(1, min(int(c), ubm.n_components) * M))
    for i in range(0, len(X), chunk):
        x = X[i : i + chunk]
        idx, ubm_ll = top_c(ubm, x, c)
        n, cc = idx.shape
        flat = idx.ravel()
        order = np.argsort(flat, kind="stable")
        ks, starts = np.unique(flat[order], return_index=True)
        ends = np.append(starts[1:], len(flat))
        L = np.empty((n * cc, M))
        for k, a, b in zip(ks, starts, ends):
            sel = order[a:b]
            d = x[sel // cc] - mu0[k]  # (n_k, D)
            # log N(x; mu_mk, var_mk) with x - mu_mk = d - D0_mk, for every model m at once
            L[sel] = const[:, k] + d @ B[:, k, :].T - 0.5 * ((d * d) @ P[:, k, :].T)
        L = L.reshape(n, cc, M)
        m = L.max(1)
        out[i : i + chunk] = m + np.log(exp_shifted(L - m[:, None, :]).sum(1)) - ubm_ll[:, None]
    return out
