"""Verification metrics: EER, minimum detection cost, DET curve.

Scores are higher-is-more-target (e.g. log-likelihood ratios).
"""
from __future__ import annotations

import os
from typing import Dict

import numpy as np

#: NIST SRE 2008 operating point used for minDCF
P_TARGET, C_MISS, C_FA = 0.01, 10.0, 1.0


def error_rates(target: np.ndarray, nontarget: np.ndarray):
    """Miss and false-alarm rates at every threshold between sorted scores.

    Returns
    -------
    p_miss, p_fa : ndarray, shape (n_trials + 1,)
        At threshold index i, trials with the i lowest scores are rejected.
    thresholds : ndarray, shape (n_trials + 1,)
    """
    t = np.asarray(target, np.float64)
    n = np.asarray(nontarget, np.float64)
    if t.size == 0 or n.size == 0:
        raise ValueError("need at least one target and one non-target score")
    scores = np.concatenate([t, n])
    is_t = np.concatenate([np.ones(t.size), np.zeros(n.size)])
    order = np.argsort(scores, kind="mergesort")
    is_t = is_t[order]
    p_miss = np.concatenate([[0.0], np.cumsum(is_t) / t.size])
    p_fa = np.concatenate([[1.0], 1.0 - np.cumsum(1 - is_t) / n.size])
    s = scores[order]
    thresholds = np.concatenate([[s[0] - 1.0], s])
    return p_miss, p_fa, thresholds


def eer(target, nontarget) -> float:
    """Equal error rate (fraction), from the ROC convex hull crossing (as in Bosaris' rocch)."""
    p_miss, p_fa, _ = error_rates(target, nontarget)
    # find where miss and false alarm cross; interpolate linearly between the two points
    d = p_miss - p_fa
    i = int(np.flatnonzero(d >= 0)[0])
    if i == 0 or d[i] == 0:
        return float(p_miss[i] if d[i] == 0 else (p_miss[i] + p_fa[i]) / 2)
    # segment between i-1 (d<0) and i (d>=0)
    x0, x1 = p_miss[i - 1], p_miss[i]
    y0, y1 = p_fa[i - 1], p_fa[i]
    a = (y0 - x0) / ((x1 - x0) - (y1 - y0))
    return float(x0 + a * (x1 - x0))


def min_dcf(target, nontarget, p_target: float = P_TARGET, c_miss: float = C_MISS, c_fa: float = C_FA) -> float:
    """Minimum normalised detection cost over thresholds (normalised by the cost of the
    best trivial system, min(c_miss p_target, c_fa (1 - p_target)))."""
    p_miss, p_fa, _ = error_rates(target, nontarget)
    dcf = c_miss * p_target * p_miss + c_fa * (1 - p_target) * p_fa
    return float(dcf.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def verification_report(target, nontarget) -> Dict[str, float]:
    return {"eer": eer(target, nontarget), "min_dcf": min_dcf(target, nontarget),
            "n_target": int(np.size(target)), "n_nontarget": int(np.size(nontarget)),
            "dcf_p_target": P_TARGET, "dcf_c_miss": C_MISS, "dcf_c_fa": C_FA}


def plot_det(target, nontarget, path: os.PathLike | str, label: str = "", title: str = "DET curve") -> None:
    """Save a DET curve (miss vs false-alarm probability on normal-deviate axes) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    from speechgmm._util import atomic_output

    p_miss, p_fa, _ = error_rates(target, nontarget)
    lo = 0.001
    x = norm.ppf(np.clip(p_fa, lo, 1 - lo))
    y = norm.ppf(np.clip(p_miss, lo, 1 - lo))
    ticks = np.array([0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40]) / 100
    fig, ax = plt.subplots(figsize=(5, 5))
    e = eer(target, nontarget)
    ax.plot(x, y, label=(label + " " if label else "") + f"EER {100 * e:.2f}%")
    ax.plot([norm.ppf(e)], [norm.ppf(e)], "o", color="black", ms=4)
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_xlim(norm.ppf(lo), norm.ppf(0.45))
    ax.set_ylim(norm.ppf(lo), norm.ppf(0.45))
    ax.set_xlabel("false alarm probability (%)")
    ax.set_ylabel("miss probability (%)")
    ax.grid(True, alpha=0.4)
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
