"""Verification: trial lists, scores, and metrics (EER, minimum detection cost, DET curve).

Scores are higher-is-more-target (e.g. log-likelihood ratios).

Trial lists
-----------
Either one trial per line, whitespace- or comma-separated (``#`` starts a comment line)::

    <enrolled label> <test audio file> <target|nontarget>

or a CSV/TSV table with a header row holding ``label``, ``path`` and ``target`` (or
``key``) columns, in any order, separated by commas, semicolons or tabs.  Only the table
form can hold paths with spaces or separators; quote such a field as in any CSV::

    label,path,target
    alice,"recordings/take 2, final.wav",target
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from speechgmm.errors import ManifestError

KEYS = ("target", "nontarget")
#: column names of a trials table; the key column may be called either name
TRIAL_COLUMNS = ("label", "path")
KEY_COLUMNS = ("target", "key")


class Trial(NamedTuple):
    """One verification trial: is ``path`` (a file, or any sortable key) spoken by ``label``?"""

    label: str
    path: Any
    target: bool


def _trial_key(path: Path, n: int, value: str) -> bool:
    if value.lower() not in KEYS:
        raise ManifestError(f"{path}:{n}: the key must be target or nontarget, got {value!r}")
    return value.lower() == "target"


def _is_table(first_line: str) -> bool:
    from speechgmm.manifest import SEPARATORS, _split

    return any(set(TRIAL_COLUMNS) <= set(_split(first_line, sep)) for sep in SEPARATORS)


def _read_trial_table(path: Path, base: Path) -> list[tuple[int, Trial]]:
    from speechgmm.manifest import read_rows

    header, rows = read_rows(path, required="path", what="trials table")
    key = next((c for c in KEY_COLUMNS if c in header), None)
    if key is None:
        raise ManifestError(f"{path}: a trials table needs a 'target' (or 'key') column (columns: {', '.join(header)})")
    li, pi, ki = header.index("label"), header.index("path"), header.index(key)
    for n, r in rows:
        empty = [c for c, i in (("label", li), ("path", pi)) if not r[i].strip()]
        if empty:
            raise ManifestError(f"{path}:{n}: empty {empty[0]!r}")
    return [(n, Trial(r[li].strip(), _join(base, r[pi]), _trial_key(path, n, r[ki]))) for n, r in rows]


def _join(base: Path, f: str) -> Path:
    p = Path(os.path.expanduser(f))
    return p if p.is_absolute() else base / p


def _read_trial_lines(path: Path, base: Path, lines: list[str]) -> list[tuple[int, Trial]]:
    trials = []
    for n, line in enumerate(lines, 1):
        parts = line.replace(",", " ").split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 3:
            raise ManifestError(
                f"{path}:{n}: expected '<label> <file> target|nontarget', got {line.strip()!r} "
                "(paths with spaces or commas need a CSV table with a header: label,path,target)"
            )
        trials.append((n, Trial(parts[0], _join(base, parts[1]), _trial_key(path, n, parts[2]))))
    return trials


def read_trials(path: os.PathLike | str, root: os.PathLike | str | None = None) -> list[Trial]:
    """Trials of a trial list (either form of the module docstring).

    Relative paths resolve against ``root``, else the trials file's folder.  ManifestError
    naming ``file:line`` for a malformed line; also for a list without trials.
    """
    path = Path(path)
    if path.is_dir():
        raise ManifestError(f"{path}: is a directory, not a trials file")
    if not path.is_file():
        raise ManifestError(f"{path}: no such trials file")
    base = Path(root) if root else path.parent
    from speechgmm.manifest import same_audio, text_lines

    lines = text_lines(path, "trials file")
    table = bool(lines) and _is_table(lines[0])
    numbered = _read_trial_table(path, base) if table else _read_trial_lines(path, base, lines)
    if not numbered:
        raise ManifestError(f"{path}: no trials")
    seen: dict[tuple, int] = {}
    for n, t in numbered:  # a trial counted twice, or once as target and once not, skews EER and minDCF
        first = seen.setdefault((t.label, same_audio(t.path)), n)  # ./a.wav and a.wav are one file (QA)
        if first != n:
            raise ManifestError(f"{path}:{n}: repeats the trial of line {first} ({t.label} {t.path})")
    return [t for _, t in numbered]


def check_trials(trials: Sequence[Trial], labels: Sequence[str], source) -> None:
    """Before any scoring: one ManifestError naming every label the model lacks, every folder and every
    missing audio file together, or a list without both target and nontarget trials."""
    from speechgmm.manifest import _some, unreadable_paths

    problems = []
    unknown = sorted({t.label for t in trials} - set(labels))
    if unknown:
        problems.append(
            f"{len(unknown)} label(s) not in the model: {_some(unknown)} (the model has: {_some(sorted(labels))})"
        )
    problems += unreadable_paths(sorted({str(t.path) for t in trials if not Path(t.path).is_file()}))
    if problems:  # all of them at once (QA: fixing the labels first only to be told of a missing file)
        raise ManifestError(f"{source}: " + "; ".join(problems))
    if len({t.target for t in trials}) < 2:
        raise ManifestError(f"{source}: needs both target and nontarget trials")


def trial_files(trials: Sequence[Trial]) -> list:
    """The distinct files of ``trials``, sorted: the rows that :func:`verification_scores` expects."""
    return sorted({t.path for t in trials})


def verification_scores(clf, totals: np.ndarray, frames: np.ndarray, trials: Sequence[Trial]) -> np.ndarray:
    """Score of each trial: the per-frame log-likelihood ratio of the claimed class.

    Parameters
    ----------
    clf : GMMClassifier
        For MAP models (``method_ == "map"``) the class scores are already ratios against
        the UBM; for EM models the claimed class is compared with the best other class.
    totals : ndarray, shape (n_files, n_classes)
        Log-likelihood of each file of :func:`trial_files` ``(trials)`` (in that order) under
        each class, as :meth:`GMMClassifier.score_utterances` returns.
    frames : ndarray, shape (n_files,)
        Frames of each file.
    trials : sequence of Trial

    Returns
    -------
    ndarray, shape (n_trials,), float64
    """
    index = {f: i for i, f in enumerate(trial_files(trials))}
    col = {lab: i for i, lab in enumerate(clf.labels_)}
    per_frame = np.asarray(totals, np.float64) / np.asarray(frames, np.float64)[:, None]
    rows = per_frame[[index[t.path] for t in trials]]
    cols = np.array([col[t.label] for t in trials], dtype=np.intp)
    own = rows[np.arange(len(trials)), cols]
    if clf.method_ == "map" or rows.shape[1] < 2:  # MAP: already an LLR against the UBM
        return own
    others = rows.copy()
    others[np.arange(len(trials)), cols] = -np.inf
    return own - others.max(axis=1)


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


def verification_report(target, nontarget) -> dict[str, float]:
    return {
        "eer": eer(target, nontarget),
        "min_dcf": min_dcf(target, nontarget),
        "n_target": int(np.size(target)),
        "n_nontarget": int(np.size(nontarget)),
        "dcf_p_target": P_TARGET,
        "dcf_c_miss": C_MISS,
        "dcf_c_fa": C_FA,
    }


def plot_det(target, nontarget, path: os.PathLike | str, label: str = "", title: str = "DET curve") -> None:
    """Save a DET curve (miss vs false-alarm probability on normal-deviate axes) as a PNG.

    Raises ConfigError (one line, naming ``path``) without matplotlib or when the file cannot be written.
    """
    from scipy.stats import norm

    from speechgmm._util import save_figure
    from speechgmm.metrics import pyplot

    plt = pyplot(path)

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
    save_figure(fig, path)
