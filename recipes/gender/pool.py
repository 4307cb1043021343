"""The multi-corpus pool for gender detection: files, features, corpus-balanced training, scoring.

Used by ``recipes/gender/run.py`` (the bundled model and ``--loco``).  The pool is the four
shared corpora (``data_manifest/<corpus>/``).  Rules, fixed before any figure was seen:

* **adults only** in training and in the headline figures; speakers under 16
  (``age_group`` child, speechocean762 only) are scored separately;
* the **73 TI test speakers are never trained on** (the bundled model's final figure);
* **test sets** per corpus, the same for the leave-one-corpus-out (LOCO) and the in-corpus
  model: ``asr_course`` the TI test speakers; ``librispeech_sample`` and
  ``speechocean762_sample`` every other speaker of each gender (sorted by id);
  ``asterisk_prompts`` (five voices, one male) every other file of each voice, so its
  in-corpus figure has seen the voices;
* **corpus balance**: each (corpus, gender) contributes at most ``cap`` frames, drawn with a fixed
  seed, so that no corpus dominates a gender model; and within it **speaker balance**: each
  speaker is expected to give as many of them as the others (since 2026-12-05; before, every
  frame had the same chance, so speakers with many files weighed more).
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ("asr_course", "librispeech_sample", "speechocean762_sample", "asterisk_prompts")
GENDERS = ("female", "male")


def pool_rows(corpora: Path):
    """Every pool file: dicts with corpus, utt, path (absolute), speaker, gender, age_group, test (bool)."""
    rows = []
    for part in ("train", "test"):
        for r in csv.DictReader(open(ROOT / "data_manifest" / "asr_course" / f"{part}.csv")):
            rows.append(
                {
                    "corpus": "asr_course",
                    "utt": r["utt"],
                    "path": str(corpora / "asr_course" / r["path"]),
                    "speaker": "ti_" + r["speaker"],
                    "gender": r["gender"],
                    "age_group": "adult",
                    "test": part == "test",
                }
            )
    for name in CORPORA[1:]:
        src = list(csv.DictReader(open(ROOT / "data_manifest" / name / "all.csv")))
        if name == "asterisk_prompts":
            n = {}
            test = []
            for r in src:
                n[r["speaker"]] = n.get(r["speaker"], 0) + 1
                test.append(n[r["speaker"]] % 2 == 0)
        else:
            order = {g: sorted({r["speaker"] for r in src if r["gender"] == g}) for g in GENDERS}
            held = {s for g in GENDERS for s in order[g][1::2]}
            test = [r["speaker"] in held for r in src]
        for r, t in zip(src, test):
            rows.append(
                {
                    "corpus": name,
                    "utt": r["utt"],
                    "path": str(corpora / name / r["path"]),
                    "speaker": r["speaker"],
                    "gender": r["gender"],
                    "age_group": r["age_group"],
                    "test": t,
                }
            )
    return rows


def check_files(rows, corpora: Path) -> None:
    """ConfigError naming the corpus folders that are missing or incomplete: the pool's figures need all
    four corpora (a missing one used to be trained and scored without, its rows quietly dropped)."""
    import os

    from speechgmm.errors import ConfigError

    missing = {}
    for r in rows:
        if not os.path.isfile(r["path"]):
            missing.setdefault(r["corpus"], []).append(r["path"])
    if missing:
        parts = [
            f"{c} not found under {corpora}"
            if not (corpora / c).is_dir()
            else f"{c}: {len(m)} files missing ({m[0]}, ...)"
            for c, m in sorted(missing.items())
        ]
        raise ConfigError(
            f"the gender pool needs all of {', '.join(CORPORA)}: {'; '.join(parts)} "
            "(use --corpus DIR or set SPEECHGMM_CORPORA)"
        )


def features(rows, cfg, jobs: int = 1, cache=None, augment=None):
    """Features of every row (None for a file with no speech), cached under ``cache`` by front end;
    with ``augment=(kind, seed)``, of each row's augmented copy (:func:`speechgmm.augment.augment`,
    row ``i`` being copy index ``i``)."""
    from speechgmm.features import FRONT_END_REVISION, extract_files

    text = f"revision {FRONT_END_REVISION}\n" + cfg.to_json() + "\n".join(r["path"] for r in rows)
    if augment is not None:
        text += f"\naugment {augment[0]} {augment[1]}"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    f = Path(cache) / f"pool-{key}.npz" if cache else None
    if f is not None and f.is_file():
        z = np.load(f)
        return [z[f"a{i}"] if f"a{i}" in z.files else None for i in range(len(rows))]
    paths = [r["path"] for r in rows]
    desc = "pool features" if augment is None else f"pool features, {augment[0]} copies"
    feats, problems = extract_files(paths, cfg, jobs=jobs, errors="collect", desc=desc, augment=augment)
    for msg in problems:  # left out of training and scoring, but said
        print(f"warning: pool file left out: {' '.join(str(msg).split())}", file=sys.stderr)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez(f, **{f"a{i}": a for i, a in enumerate(feats) if a is not None})
    return feats


def balanced_groups(rows, feats, select, cap: int, seed: int = 0, copies=None, by_speaker: bool = True):
    """{gender: [arrays]} of the selected rows, each (corpus, gender) cut to ``cap`` frames; with
    ``copies`` ({kind: features of every row's augmented copy}), each (corpus, gender, kind) adds
    its own ``cap`` frames of the same rows' copies, after the originals (which stay as without).

    With ``by_speaker`` (the rule), a cut cell's frames are drawn so that every speaker is expected to
    give as many as the others (each frame's chance is inversely proportional to its speaker's frames
    in the cell): a speaker with ten files weighs no more than one with one file; speakers with fewer
    frames than their share give nearly all they have.  Without, every frame has the same chance."""
    groups = {g: [] for g in GENDERS}
    cells = {}
    conditions = [("", feats)] + sorted((copies or {}).items())
    for kind, fs in conditions:
        for r, x in zip(rows, fs):
            if x is not None and select(r):
                cells.setdefault((kind, r["corpus"], r["gender"]), []).append((r["speaker"], x))
    order = {kind: i for i, (kind, _) in enumerate(conditions)}
    for (kind, corpus, g), items in sorted(cells.items(), key=lambda kv: (order[kv[0][0]], kv[0][1:])):
        X = np.concatenate([x for _, x in items])
        if len(X) > cap:
            name = f"{corpus}/{g}/{seed}" + (f"/{kind}" if kind else "")
            h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
            p = None
            if by_speaker:
                speakers = np.repeat([s for s, _ in items], [len(x) for _, x in items])
                _, inverse, counts = np.unique(speakers, return_inverse=True, return_counts=True)
                p = 1.0 / counts[inverse]
                p /= p.sum()
            idx = np.sort(np.random.default_rng(h).choice(len(X), cap, replace=False, p=p))
            X = X[idx]
        groups[g].append(X)
    return groups


def train(groups, components: int, iterations: int, seed: int = 0, jobs: int = 1):
    """One GMM per gender by EM (the bundled model's method)."""
    from speechgmm.classifier import GMMClassifier

    clf = GMMClassifier(components, max_iter=iterations, init="kmeans", random_state=seed, jobs=jobs)
    return clf.fit_groups(groups)


def train_map(groups, ubm_components: int, relevance_factor: float, iterations: int, seed: int = 0, jobs: int = 1):
    """GMM-UBM: one UBM on both genders' (corpus-balanced) frames, then the means MAP-adapted per
    gender; scored as top-5 log-likelihood ratios against the UBM."""
    from speechgmm.classifier import GMMClassifier
    from speechgmm.map import train_ubm

    ubm = train_ubm([x for g in GENDERS for x in groups[g]], ubm_components, max_iter=iterations, random_state=seed)
    clf = GMMClassifier(ubm_components, random_state=seed, jobs=jobs)
    return clf.fit_map_groups(groups, ubm, relevance_factor, "m")


def utterance_scores(clf, feats):
    """Per-file total scores, shape (n_files, n_classes) (NaN without features), and frames (n_files,)."""
    totals = np.full((len(feats), len(clf.labels_)), np.nan)
    frames = np.zeros(len(feats), dtype=np.int64)
    ok = [i for i, x in enumerate(feats) if x is not None and len(x)]
    if ok:
        totals[ok], frames[ok] = clf.score_utterances([feats[i] for i in ok])
    return totals, frames


def scores(clf, feats):
    """Per-file (female - male) log-likelihood-ratio per frame (NaN when there are no features)."""
    return llr(clf, *utterance_scores(clf, feats))


def llr(clf, totals, frames):
    """:func:`scores` from :func:`utterance_scores`' totals and frames, when they are needed too."""
    fi, mi = clf.labels_.index("female"), clf.labels_.index("male")
    return (totals[:, fi] - totals[:, mi]) / np.maximum(frames, 1)


def _recalls(rows, sel, pred):
    """Recall per gender over the selected files (nan for a gender without files)."""
    rec = {}
    for g in GENDERS:
        idx = [i for i in sel if rows[i]["gender"] == g]
        rec[g] = float(np.mean([pred.get(i) == g for i in idx])) if idx else float("nan")
    return rec


def _per_speaker(rows, sel, pred):
    """Speaker -> list of per-file correctness over the selected files."""
    spk = {}
    for i in sel:
        spk.setdefault(rows[i]["speaker"], []).append(pred.get(i) == rows[i]["gender"])
    return spk


def report(rows, llr, select):
    """Balanced accuracy (mean of female and male recall), both recalls, worst speaker, files."""
    sel = [i for i, r in enumerate(rows) if select(r)]
    pred = {i: ("female" if llr[i] > 0 else "male") for i in sel if np.isfinite(llr[i])}
    rec = _recalls(rows, sel, pred)
    spk = _per_speaker(rows, sel, pred)
    worst = min(spk, key=lambda s: (np.mean(spk[s]), s)) if spk else ""
    return {
        "balanced": float(np.nanmean([rec[g] for g in GENDERS])),
        "female": rec["female"],
        "male": rec["male"],
        "worst": f"{worst} {np.mean(spk[worst]):.2f}" if worst else "",
        "files": len(sel),
        "no_speech": len(sel) - len(pred),
        "speakers": len(spk),
    }
