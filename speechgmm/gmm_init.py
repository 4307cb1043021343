"""Initial parameters of a :class:`~speechgmm.gmm.DiagGMM`: pure functions returning ``(w, mu, var)``.

Kaldi keeps initialisation out of the model class too (``gmm-global-init-from-feats``); the
model only knows how to split a component (``DiagGmm::Split``), which is
:func:`split_components` here, shared by binary-splitting initialisation and by the
re-seeding of collapsed components during EM.

Every function takes a bounded sample ``S`` of the training frames (see
:meth:`speechgmm.sources.FeatureSource.sample`) and a ``numpy.random.Generator``; none of
them mutates its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, Optional

import numpy as np

from speechgmm.errors import ConfigError

Params = tuple[np.ndarray, np.ndarray, np.ndarray]


def split_components(weights, means, variances, donors: Sequence[int], slots: Optional[Sequence[int]] = None) -> Params:
    """Split each component ``donors[i]`` into two halves, the second going to ``slots[i]``.

    Each half has half the donor's weight and its variances; their means are the donor's mean
    moved by -/+ half a standard deviation along the donor's largest-variance axis.  ``slots``
    default to new components appended in the order of ``donors`` (the model grows by
    ``len(donors)``); a slot inside the model replaces that component (re-seeding).

    Returns new arrays ``(w, mu, var)``; weights are not renormalised.
    """
    w, mu, var = (np.array(a, dtype=np.float64) for a in (weights, means, variances))
    K = len(w)
    slots = list(range(K, K + len(donors))) if slots is None else list(slots)
    grow = max([K - 1] + slots) + 1 - K
    if grow > 0:
        w = np.concatenate([w, np.zeros(grow)])
        mu = np.concatenate([mu, np.zeros((grow, mu.shape[1]))])
        var = np.concatenate([var, np.zeros((grow, var.shape[1]))])
    for h, k in zip(donors, slots):
        ax = int(np.argmax(var[h]))
        step = np.zeros(mu.shape[1])
        step[ax] = 0.5 * np.sqrt(var[h, ax])
        mu[k], var[k] = mu[h] + step, var[h]
        mu[h] = mu[h] - step
        w[h] = w[k] = w[h] / 2
    return w, mu, var


def reseed_components(weights, means, variances, weak) -> Params:
    """Replace the ``weak`` components (bool mask) one by one by halves of the heaviest others."""
    w, mu, var = weights, means, variances
    weak = np.array(weak, dtype=bool)
    for k in np.flatnonzero(weak):
        h = int(np.argmax(np.where(weak, -1.0, w)))
        w, mu, var = split_components(w, mu, var, [h], [k])
        weak[k] = False
    return w / w.sum(), mu, var


def split_init(mean: np.ndarray, var: np.ndarray, n_components: int, refine: Callable[[Params], Params]) -> Params:
    """Binary splitting 1 -> 2 -> 4 ... -> K from the global ``mean`` and ``var``.

    After each split ``refine(w, mu, var)`` (a few EM iterations over the training data)
    returns the refined parameters.
    """
    w, mu, v = np.ones(1), mean[None].copy(), var[None].copy()
    while len(w) < n_components:
        k = len(w)
        order = np.argsort(-w, kind="stable")[: min(k, n_components - k)]
        w, mu, v = refine(split_components(w, mu, v, order))
    return w, mu, v


def kmeans_means(S: np.ndarray, n_components: int, rng, gm, gv):
    """k-means++ then 10 Lloyd iterations on standardised frames: (means, frame labels)."""
    import warnings

    from scipy.cluster.vq import kmeans2

    sd = np.sqrt(gv)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cent, labels = kmeans2((S - gm) / sd, n_components, iter=10, minit="++", seed=rng)
    return cent * sd + gm, labels


def params_from_means(S: np.ndarray, mu: np.ndarray, gv: np.ndarray, labels=None) -> Params:
    """Weights and variances of the frames nearest each mean (or of the given frame ``labels``)."""
    K = len(mu)
    if labels is None:
        d2 = ((S[:, None, :] - mu[None]) ** 2 / gv).sum(-1) if S.shape[0] * K < 5e7 else None
        labels = d2.argmin(1) if d2 is not None else np.zeros(S.shape[0], int)
    counts = np.bincount(labels, minlength=K).astype(float)
    var = np.tile(gv, (K, 1))
    for k in np.flatnonzero(counts > 1):
        var[k] = S[labels == k].var(0)
    w = np.maximum(counts, 1.0)
    return w / w.sum(), mu, var


def sample_init(S: np.ndarray, n_components: int, init: str, rng, gm, gv, means=None) -> Params:
    """``init="kmeans"`` or ``"random"`` (random frames as means), or the given ``means``."""
    labels = None
    if means is not None:
        mu = np.array(means, dtype=np.float64)
        if mu.shape != (n_components, S.shape[1]):  # checked before use (it was a bare broadcast error)
            raise ConfigError(f"means_init must have shape ({n_components}, {S.shape[1]}), not {mu.shape}")
    elif init == "kmeans":
        mu, labels = kmeans_means(S, n_components, rng, gm, gv)
    else:
        mu = S[rng.choice(S.shape[0], n_components, replace=False)]
    return params_from_means(S, mu, gv, labels)


def check_params(w, mu, var, n_components: int, n_features: int, check_var: bool = True) -> None:
    """ConfigError unless the shapes are (K,), (K, D), (K, D), weights a distribution, variances > 0."""
    K, D = n_components, n_features
    if w.shape != (K,) or mu.shape != (K, D) or var.shape != (K, D):
        raise ConfigError(f"initial parameters must have shapes ({K},), ({K}, {D}), ({K}, {D})")
    if not (np.all(w >= 0) and np.isclose(w.sum(), 1.0)) or (check_var and not np.all(var > 0)):
        raise ConfigError("initial weights must be >= 0 and sum to 1, variances > 0")
