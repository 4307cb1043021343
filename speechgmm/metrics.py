"""Classification metrics: accuracy, confusion matrix, per-class precision/recall, and a
confusion-matrix PNG (matplotlib, imported only when plotting)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from speechgmm.errors import ConfigError

#: how to get the plotting dependency (one place for the hint)
PLOT_EXTRA = "pip install 'speechgmm[plot]'"


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts, shape (n_labels, n_labels): row = true label, column = predicted label."""
    index = {lab: i for i, lab in enumerate(labels)}
    M = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        M[index[t], index[p]] += 1
    return M


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    """Accuracy, confusion matrix and per-class precision / recall / support.

    Returns
    -------
    dict
        ``accuracy`` (float), ``n`` (int), ``labels`` (list), ``confusion`` (list of lists,
        rows = true), ``per_class`` ({label: {precision, recall, support}}).
    """
    labels = list(labels)
    extra = sorted(set(y_true) - set(labels))
    labels += extra
    M = confusion_matrix(y_true, y_pred, labels)
    n = int(M.sum())
    tp = np.diag(M).astype(float)
    col, row = M.sum(0), M.sum(1)
    per = {}
    for i, lab in enumerate(labels):
        per[lab] = {
            "precision": float(tp[i] / col[i]) if col[i] else 0.0,
            "recall": float(tp[i] / row[i]) if row[i] else 0.0,
            "support": int(row[i]),
        }
    return {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "n": n,
        "labels": labels,
        "confusion": M.tolist(),
        "per_class": per,
    }


def format_report(rep: dict[str, object]) -> str:
    """Plain-text rendering of :func:`classification_report`."""
    labels: list[str] = rep["labels"]  # type: ignore[assignment]
    M = np.array(rep["confusion"])
    w = max(5, max(len(s) for s in labels) + 1, len(str(M.max())) + 1)
    lines = [
        f"accuracy {rep['accuracy']:.4f} ({int(np.trace(M))}/{rep['n']})",
        "",
        f"{'class':<{w}} precision  recall  support",
    ]
    for lab in labels:
        p = rep["per_class"][lab]  # type: ignore[index]
        lines.append(f"{lab:<{w}} {p['precision']:9.4f} {p['recall']:7.4f} {p['support']:8d}")
    lines += ["", "confusion (rows = true, columns = predicted)", " " * w + "".join(f"{lab:>{w}}" for lab in labels)]
    for lab, row in zip(labels, M):
        lines.append(f"{lab:<{w}}" + "".join(f"{v:>{w}d}" for v in row))
    q = rep.get("posteriors")
    if q:
        from speechgmm.calibration import SURE

        kind = "calibrated" if q["calibrated"] else "raw, uncalibrated"
        lines += [
            "",
            f"posteriors ({kind}): cross-entropy {q['cross_entropy_bits']:.3f} bits per file, mean posterior "
            f"{q['mean_posterior']:.4f}; {q['sure_errors']} of {q['errors']} errors with a posterior above {SURE:g}",
        ]
    return "\n".join(lines)


def pyplot(path):
    """``matplotlib.pyplot`` on the Agg backend; without matplotlib, a one-line ConfigError that names
    ``path`` and the extra to install (commands print their report before plotting, so it is kept)."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(f"{path}: plot not saved: matplotlib is not installed ({PLOT_EXTRA})") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(rep: dict[str, object], path: os.PathLike | str, title: str = "") -> None:
    """Save the confusion matrix as a PNG (written atomically).

    Raises ConfigError (one line, naming ``path``) without matplotlib or when the file cannot be written.
    """
    plt = pyplot(path)
    labels = rep["labels"]
    M = np.array(rep["confusion"])
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n, 1.0 + 0.45 * n))
    ax.imshow(M, cmap="Blues")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if M[i, j]:
                ax.text(
                    j,
                    i,
                    str(M[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if M[i, j] > M.max() / 2 else "black",
                )
    ax.set_title(title or f"accuracy {rep['accuracy']:.4f}")
    from speechgmm._util import save_figure

    save_figure(fig, path)
