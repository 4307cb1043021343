#!/usr/bin/env python3
"""Gender detection that generalises across corpora, and the bundled default model.

Data: the multi-corpus pool (``data_manifest/``: asr_course, librispeech_sample,
speechocean762_sample, asterisk_prompts); rules in ``recipes/gender/pool.py`` (adults only,
TI test speakers never trained on, fixed per-corpus test sets, corpus-balanced training).

Default run (the bundled model)
  1. features  preset "gender": 39-dim MFCC, speech detection (speechgmm.vad), then mean and
               variance normalisation over speech frames (the "default" preset with cvn=True)
  2. train     one GMM per gender, K=128, 20 iterations, seed 0, on every adult of the pool
               except the 73 TI test speakers, at most CAP frames per (corpus, gender), drawn evenly
               over its speakers
  3. calibrate the posteriors: log-odds = scale x frames**0.25 x mean LLR per frame, the scale fitted on the
               inner protocol's held-out files (each corpus's training part scored by a model trained on the
               other corpora's training parts); stored in the model
  4. evaluate  the TI test speakers (1,606 files) and each corpus's test set; with --loco also how sure the
               LOCO models are, raw and calibrated, and how often a calibrated posterior is right (by bins)
  --out M.npz  writes the model: ``python recipes/gender/run.py --out speechgmm/data/gender.npz``
               regenerates the bundled model bit for bit.

Alternatives measured against it (README, "Will it work on my audio?"): ``--no-cvn`` (mean
normalisation only: the bundled rule until 2026-12-03), ``--method map`` (GMM-UBM: one UBM of
``--ubm-components`` on the pool, gender models MAP-adapted with ``--relevance-factor``),
``--no-speaker-balance`` (training frames drawn evenly over the frames of a corpus and gender, not over
its speakers: the rule until 2026-12-05), ``--components``, ``--augment`` (noisy, reverberant, MP3 or
telephone copies of the training files) and ``--seed`` for the spread of the random draw;
``--channels`` also scores every file through such copies (drawn with their own seed).  Every run
prints the inner protocol first (training parts only: each corpus's training part scored by a model of the other
corpora's training parts; the calibration is fitted on the same scores): compare candidates there,
then look at LOCO.

--loco  leave-one-corpus-out: for each corpus, a model trained on the other three is tested
        on that corpus's test set, next to the in-corpus model (trained on everything but the
        test set).  Per corpus: balanced accuracy (mean of female and male recall; adults),
        female recall, male recall, worst speaker; children (under 16) separately.

usage: python recipes/gender/run.py [--loco] [--quick] [--preset P] [--components K] [--seed N] [--no-cvn]
                                   [--no-speaker-balance] [--method em|map] [--augment KINDS] [--channels KINDS]
                                   [--out MODEL.npz] [--cache DIR] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "recipes"))  # the shared harness, recipes/_common.py
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from pool import (  # noqa: E402
    CORPORA,
    GENDERS,
    balanced_groups,
    check_files,
    features,
    llr,
    pool_rows,
    report,
    scores,
    train,
    train_map,
    utterance_scores,
)

from speechgmm.calibration import (  # noqa: E402
    EXPONENT,
    SURE,
    Calibration,
    fit_calibration,
    posterior_quality,
    reliability,
)
from speechgmm.errors import ConfigError  # noqa: E402
from speechgmm.features import FeatureConfig  # noqa: E402
from speechgmm.modelio import save_model  # noqa: E402
from speechgmm.options import Kinds, argparse_type  # noqa: E402

from _common import (  # noqa: E402
    count,
    find_corpus,
    folder,
    format_table,
    output_path,
    positive,
    recipe_parser,
    run_script,
)

CONFIG = {
    # the gender preset (speechgmm.features.PRESETS): the default front end with variance normalisation.
    # It and K=128 were chosen by the inner protocol, worst corpus then mean, averaged over
    # seeds 0-2 (README, "What else was tried"): 0.899 / 0.925, against 0.892 / 0.924 with K=64, and
    # 0.887 / 0.917 and 0.873 / 0.908 for K=128 and K=64 with mean normalisation only (the rule until
    # 2026-12-03)
    "preset": "gender",
    "components": 128,
    "iterations": 20,
    "init": "kmeans",
    "seed": 0,
    "cap": 20000,
    # the frames of a (corpus, gender) are drawn evenly over its speakers, not over its frames (pool.py;
    # chosen by the inner protocol over seeds 0-2 on 2026-12-05: mean / worst corpus 0.928 / 0.899 against
    # 0.922 / 0.894, ahead at every seed on both)
    "speaker_balance": True,
}
#: posteriors: log-odds = scale x frames**exponent x mean LLR per frame; the exponent was chosen by the inner
#: protocol (README, "How sure is it?"), the scale is fitted on it at every run
CALIBRATION_EXPONENT = EXPONENT  # speechgmm.calibration.EXPONENT, which speechgmm train uses too
#: --quick (tests): a few speakers per corpus and gender, small models
QUICK = {"components": 8, "iterations": 5, "cap": 5000, "speakers": 4}
#: --channels: the seed of the test copies, never a training seed (--seed is the training copies')
CHANNEL_SEED = 1000
#: --method map (GMM-UBM); recorded in the model's header only when used
MAP = {"ubm_components": 128, "relevance_factor": 4.0, "ubm_iterations": 10}


def _quick_subset(rows, n):
    """The first n speakers of each (corpus, gender, test split, age group) cell."""
    keep, seen = [], {}
    for r in rows:
        k = (r["corpus"], r["gender"], r["test"], r["age_group"])
        s = seen.setdefault(k, [])
        if r["speaker"] not in s and len(s) < n:
            s.append(r["speaker"])
        if r["speaker"] in s:
            keep.append(r)
    return keep


def adult(r):
    return r["age_group"] == "adult"


HEAD = ["corpus", "test files", "speakers", "balanced acc", "female recall", "male recall", "worst speaker"]


def _line(c, rep):
    return [c, rep["files"], rep["speakers"], rep["balanced"], rep["female"], rep["male"], rep["worst"]]


def evaluate_only(args, rows) -> int:
    """Score a model file on each corpus's test set (adults) and the children."""
    from speechgmm.modelio import load_model

    mf = load_model(args.evaluate)
    if mf.kind != "classifier" or set(GENDERS) - set(mf.classifier.labels_):
        raise ConfigError(f"{args.evaluate}: not a gender model (its classes must include {', '.join(GENDERS)})")
    feats = features(rows, mf.feature_config, jobs=args.jobs, cache=args.cache)
    llr = scores(mf.classifier, feats)
    res = {c: report(rows, llr, lambda r, c=c: r["corpus"] == c and r["test"] and adult(r)) for c in CORPORA}
    res["children"] = report(rows, llr, lambda r: r["age_group"] == "child")
    print(f"gender model {args.evaluate} on each corpus's test set (adults)")
    print(format_table([_line(c, res[c]) for c in CORPORA], HEAD))
    ch = res["children"]
    print(
        f"children under 16 (speechocean762, {ch['files']} files): female recall {ch['female']:.3f}, "
        f"male recall {ch['male']:.3f}"
    )
    if args.json:
        print(json.dumps(res))
    return 0


KINDS = argparse_type(Kinds(), "kinds")


def _parser():
    ap = recipe_parser(__doc__)
    ap.add_argument("--loco", action="store_true", help="leave-one-corpus-out table (with in-corpus figures)")
    ap.add_argument("--quick", action="store_true", help="small subset and models (for tests)")
    ap.add_argument("--preset", default=CONFIG["preset"], help=f"front end (default: {CONFIG['preset']})")
    cap_help = f"frames per (corpus, gender) (default {CONFIG['cap']})"
    ap.add_argument("--cap", type=count(1, 10**8), default=None, help=cap_help)
    ap.add_argument("--components", type=count(1, 4096), help=f"Gaussians per gender (default {CONFIG['components']})")
    it_help = f"EM iterations per model (default {CONFIG['iterations']})"
    ap.add_argument("--iterations", type=count(1, 10000), help=it_help)
    seed_help = f"seed of the frame draw and of EM (default {CONFIG['seed']})"
    ap.add_argument("--seed", type=count(0, 2**32 - 1), help=seed_help)
    cvn_help = "normalise the variance too, over speech frames (the gender preset does); --no-cvn: the means only"
    ap.add_argument("--cvn", action=argparse.BooleanOptionalAction, default=None, help=cvn_help)
    sb_help = "draw each (corpus, gender)'s frames evenly over its speakers (the default); --no-speaker-balance:"
    sb_help += " evenly over its frames (the rule until 2026-12-05)"
    ap.add_argument("--speaker-balance", action=argparse.BooleanOptionalAction, default=None, help=sb_help)
    cep_help = "static cepstra per frame, c0 included (default: the preset's, 13), at most its mel bands (23)"
    ap.add_argument("--cepstra", type=count(1, 4096), help=cep_help)
    ap.add_argument("--method", choices=("em", "map"), default="em", help="em (default) or map (GMM-UBM)")
    k_help = "--method map: UBM size"
    k_help += f" (default {MAP['ubm_components']})"
    r_help = f"--method map: relevance factor r (default {MAP['relevance_factor']:g})"
    ap.add_argument("--ubm-components", type=count(1, 4096), help=k_help)
    ap.add_argument("--relevance-factor", type=positive, help=r_help)
    aug_help = "add augmented copies of the training files, e.g. noise,reverb,codec,telephone (speechgmm.augment)"
    ap.add_argument("--augment", type=KINDS, help=aug_help)
    ch_help = f"also score every test file through these channels (copies drawn with seed {CHANNEL_SEED})"
    ap.add_argument("--channels", type=KINDS, help=ch_help)
    ap.add_argument("--cache", type=folder, help="folder caching the pool's features between runs")
    out_help = "also save the pool model (all adults but the TI test speakers) here"
    ap.add_argument("--out", type=output_path, help=out_help)
    ap.add_argument("--evaluate", metavar="MODEL", help="only score an existing gender model on each corpus's test set")
    return ap


def _config(args):
    """CONFIG with the command line's preset, --quick sizes, --cap, --components, --iterations and --seed."""
    conf = dict(CONFIG, preset=args.preset)
    if args.quick:
        conf.update({k: v for k, v in QUICK.items() if k != "speakers"})
    for key in ("cap", "components", "iterations", "seed"):
        if getattr(args, key) is not None:
            conf[key] = getattr(args, key)
    # options off by default enter the configuration (and the model header) only when used,
    # so the default run still writes the bundled model's exact header
    if args.cvn is not None:
        conf["cvn"] = args.cvn
    if args.speaker_balance is not None:
        conf["speaker_balance"] = args.speaker_balance
    if args.cepstra is not None:
        bands = FeatureConfig.preset(args.preset).n_mels
        if args.cepstra > bands:
            raise ConfigError(f"--cepstra {args.cepstra}: at most the {bands} mel bands of preset {args.preset!r}")
        conf["cepstra"] = args.cepstra
    if args.augment:
        conf["augment"] = list(args.augment)
    given = {k: getattr(args, k) for k in ("ubm_components", "relevance_factor") if getattr(args, k) is not None}
    if given and args.method != "map":  # they were ignored without a word
        raise ConfigError("--ubm-components and --relevance-factor go with --method map")
    if args.method == "map":
        conf.update(MAP, method="map")
        if args.quick:
            conf.update(ubm_components=16, ubm_iterations=3)
        conf.update(given)  # over --quick's sizes too, as --components
    return conf


def _front_end(conf) -> FeatureConfig:
    """The preset's front end, with --cvn / --no-cvn and --cepstra applied when given."""
    cfg = FeatureConfig.preset(conf["preset"])
    cfg = cfg.replace(cvn=conf["cvn"]) if "cvn" in conf else cfg
    return cfg.replace(n_mfcc=conf["cepstra"]) if "cepstra" in conf else cfg


def _data(args):
    """The pool's rows (the --quick subset with --quick)."""
    corpora = find_corpus(args.corpus).parent
    rows = pool_rows(corpora)
    check_files(rows, corpora)
    if args.quick:
        rows = _quick_subset(rows, QUICK["speakers"])
    return rows


def _test_adults(c):
    return lambda r: r["corpus"] == c and r["test"] and adult(r)


def _evaluate_pool(conf, rows, llr_pool):
    """Each corpus's test set with the pool model, then the TI test speakers' figures."""
    result = {"config": conf, "in_corpus": {}, "loco": {}}
    for c in CORPORA:
        result["in_corpus"][c] = report(rows, llr_pool, _test_adults(c))
    result.update(_ti_figures(rows, llr_pool))
    return result


def _ti_figures(rows, llr_pool):
    """The TI test speakers' file count, accuracy and confusion with the pool model."""
    # the final figure: the TI test speakers (never trained on), plain accuracy and confusion
    ti_rows = [i for i, r in enumerate(rows) if r["corpus"] == "asr_course" and r["test"]]
    truth = [rows[i]["gender"] for i in ti_rows]
    pred = ["female" if llr_pool[i] > 0 else "male" for i in ti_rows]
    labels = ["female", "male"]
    return {
        "n": len(ti_rows),
        "labels": labels,
        "accuracy": sum(p == t for p, t in zip(pred, truth)) / max(1, len(ti_rows)),
        "confusion": [[sum(1 for p, t in zip(pred, truth) if t == a and p == b) for b in labels] for a in labels],
    }


def _held_out(rows, model, scored, select):
    """Total scores, frames and true class indices of the selected files that have speech (``scored``:
    the model's :func:`utterance_scores` on the pool's features)."""
    totals, frames = scored
    sel = [i for i, r in enumerate(rows) if select(r) and frames[i] > 0]
    truth = np.array([model.labels_.index(rows[i]["gender"]) for i in sel], dtype=np.intp)
    return totals[sel], frames[sel], truth


def _inner_training_part(c):
    return lambda r: r["corpus"] == c and not r["test"] and adult(r)


def _calibrate(rows, feats, fit, channels=None) -> tuple[Calibration, dict]:
    """The pool model's posterior calibration, fitted on the inner protocol's held-out files: for each
    corpus, a model trained on the other corpora's training parts scores that corpus's training part
    (adults); the test sets play no part. The scale is rounded to 3 digits (a header that
    other CPUs, whose float32 rounding moves the fit by about 1e-4, reproduce).  Also returns the
    inner protocol's report per corpus (:func:`report`): how candidates are compared without the
    test sets (README, "What else was tried"); with ``channels`` ({kind: features of the copies}),
    also under ``inner[kind]``, the same models on those copies."""
    parts, inner = [], {}
    for c in CORPORA:
        m = fit(lambda r, c=c: r["corpus"] != c and not r["test"])
        totals, frames = utterance_scores(m, feats)
        inner[c] = report(rows, llr(m, totals, frames), _inner_training_part(c))
        parts.append(_held_out(rows, m, (totals, frames), _inner_training_part(c)))
        for kind, f in (channels or {}).items():
            inner.setdefault(kind, {})[c] = report(rows, scores(m, f), _inner_training_part(c))
    totals, frames, truth = (np.concatenate(a) for a in zip(*parts))
    cal = fit_calibration(totals, frames, truth, CALIBRATION_EXPONENT)
    return Calibration(float(f"{cal.scale:.3g}"), cal.exponent), inner


def _posterior_figures(totals, frames, truth, cal) -> dict:
    """Posterior quality (:func:`posterior_quality`), raw and calibrated, and the accuracy."""
    out = {
        "raw": posterior_quality(totals, truth),
        "calibrated": posterior_quality(cal.log_odds(totals, frames), truth),
    }
    out["accuracy"] = 1.0 - out["raw"]["errors"] / len(truth) if len(truth) else float("nan")
    return out


def _loco(result, rows, feats, fit, cal):
    """Leave-one-corpus-out: a model trained on the other corpora, tested on each corpus's test set."""
    result["loco_posteriors"] = {}
    calibrated, truths = [], []
    for c in CORPORA:
        m = fit(lambda r, c=c: r["corpus"] != c)
        scored = utterance_scores(m, feats)  # once: the balanced accuracy and the posteriors
        lr = llr(m, *scored)
        result["loco"][c] = report(rows, lr, _test_adults(c))
        totals, frames, truth = _held_out(rows, m, scored, _test_adults(c))
        result["loco_posteriors"][c] = _posterior_figures(totals, frames, truth, cal)
        calibrated.append(cal.log_odds(totals, frames))
        truths.append(truth)
        if c == "speechocean762_sample":
            is_child = lambda r, c=c: r["corpus"] == c and r["age_group"] == "child"  # noqa: E731
            result["children_loco"] = report(rows, lr, is_child)
    # how often a calibrated posterior is right, over the LOCO test sets together
    result["loco_reliability"] = reliability(np.concatenate(calibrated), np.concatenate(truths))


def _save_pool_model(out, pool_model, cfg, conf, rows, feats):
    """Write the bundled model's file (reproducible bit for bit)."""
    # reproducible file: fixed date unless SOURCE_DATE_EPOCH says otherwise; manifests named relative to the repo
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    n_files = sum(1 for r, x in zip(rows, feats) if x is not None and adult(r) and not r["test"])
    save_model(
        out,
        pool_model,
        cfg,
        {
            "label_column": "gender",
            "manifest": "data_manifest/{" + ",".join(CORPORA) + "}",
            "n_files": n_files,
            "training": dict(
                conf,
                method=conf.get("method", "em"),
                recipe="recipes/gender/run.py",
                data="pool adults, TI test speakers and per-corpus test sets held out",
            ),
        },
    )


def _print_inner(result):
    """The inner protocol: each corpus's training part, by a model trained on the other corpora's."""
    inner = result["inner"]
    bal = [inner[c]["balanced"] for c in CORPORA]
    print(
        "inner protocol (training parts only; each corpus's by a model of the other corpora's): "
        f"balanced accuracy mean {np.mean(bal):.4f}, worst corpus {min(bal):.4f}"
    )
    print(format_table([_line(c + " (inner)", inner[c]) for c in CORPORA], HEAD))
    for kind, ch in result["channels"].items():
        bal = [inner[kind][c]["balanced"] for c in CORPORA]
        per = " / ".join(f"{b:.3f}" for b in bal)
        print(
            f"through the {kind} channel (copies, seed {CHANNEL_SEED}): inner mean {np.mean(bal):.4f}, worst "
            f"{min(bal):.4f} ({per}); TI test speakers {ch['accuracy']:.4f}"
        )


def _print_tables(args, result):
    """The inner protocol's table, the per-corpus table (LOCO next to in-corpus with --loco) and the
    LOCO children's line."""
    _print_inner(result)
    if not args.loco:
        print(format_table([_line(c, result["in_corpus"][c]) for c in CORPORA], HEAD))
        return
    table = []
    for c in CORPORA:
        table.append(_line(c + " (LOCO)", result["loco"][c]))
        table.append(_line(c + " (in-corpus)", result["in_corpus"][c]))
    print(format_table(table, HEAD))
    _print_posteriors(result)
    ch = result.get("children_loco")
    if ch:
        print(
            f"children under 16 (speechocean762, all {ch['files']} files, LOCO model; not in the adult figures): "
            f"female recall {ch['female']:.3f}, male recall {ch['male']:.3f}"
        )


def _print_posteriors(result):
    """How sure the LOCO models are, with raw and with the pool model's calibrated posteriors."""
    cal = result["calibration"]
    rows = []
    for c, f in result["loco_posteriors"].items():
        raw, calib = f["raw"], f["calibrated"]
        rows.append(
            [
                c + " (LOCO)",
                f["accuracy"],
                raw["mean_posterior"],
                calib["mean_posterior"],
                raw["cross_entropy_bits"],
                calib["cross_entropy_bits"],
                f"{raw['sure_errors']} of {raw['errors']}",
                f"{calib['sure_errors']} of {calib['errors']}",
            ]
        )
    print(
        f"posteriors: raw, and calibrated (log-odds = {cal['scale']:g} x frames^{cal['exponent']:g} x mean LLR "
        f"per frame, fitted on the training parts of corpora the models did not see)"
    )
    head = [
        "corpus",
        "accuracy",
        "mean posterior raw",
        "calibrated",
        "cross-entropy bits raw",
        "calibrated",
        f"errors with posterior > {SURE} raw",
        "calibrated",
    ]
    print(format_table(rows, head))
    bins = result["loco_reliability"]
    print(f"calibrated posteriors of the LOCO test sets together ({sum(b['files'] for b in bins)} files):")
    table = [[f"{b['lo']:g}-{b['hi']:g}", b["files"], b["mean_posterior"], b["right"]] for b in bins]
    print(format_table(table, ["posterior", "files", "mean posterior", "right"]))


def _print_report(args, conf, result, secs):
    ti = result["in_corpus"]["asr_course"]
    cvn = " + cvn" if _front_end(conf).cvn else " (means only)"
    cvn += f", {conf['cepstra']} cepstra" if "cepstra" in conf else ""
    if conf.get("method") == "map":
        model = f"GMM-UBM K={conf['ubm_components']} r={conf['relevance_factor']:g}"
    else:
        model = f"K={conf['components']}"
    print(
        f"gender, pool of {len(CORPORA)} corpora, preset {conf['preset']}{cvn}, {model}, "
        f"cap {conf['cap']} frames per (corpus, gender){' [quick subset]' if args.quick else ''}"
    )
    _print_tables(args, result)
    print(
        f"TI test speakers ({ti['speakers']}, never trained on): accuracy {result['accuracy']:.4f} "
        f"({round(result['accuracy'] * result['n'])}/{result['n']}), balanced {ti['balanced']:.4f}; time {secs:.0f} s"
    )
    if args.out:
        print(f"model saved to {args.out}")
    if args.json:
        print(json.dumps(dict(result, seconds=secs)))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    t0 = time.time()
    conf = _config(args)
    rows = _data(args)
    if args.evaluate:
        return evaluate_only(args, rows)
    cfg = _front_end(conf)
    feats = features(rows, cfg, jobs=args.jobs, cache=args.cache)
    copies = {k: features(rows, cfg, args.jobs, args.cache, (k, conf["seed"])) for k in conf.get("augment", ())}
    channels = {k: features(rows, cfg, args.jobs, args.cache, (k, CHANNEL_SEED)) for k in args.channels or ()}

    def fit(select):
        def chosen(r):
            return adult(r) and select(r)

        groups = balanced_groups(rows, feats, chosen, conf["cap"], conf["seed"], copies, conf["speaker_balance"])
        if conf.get("method") == "map":
            r, k = conf["relevance_factor"], conf["ubm_components"]
            return train_map(groups, k, r, conf["ubm_iterations"], conf["seed"], jobs=args.jobs)
        return train(groups, conf["components"], conf["iterations"], conf["seed"], jobs=args.jobs)

    # the pool model: every adult but the test sets (so the TI test speakers are never seen)
    pool_model = fit(lambda r: not r["test"])
    pool_model.calibration_, inner = _calibrate(rows, feats, fit, channels)
    llr_pool = scores(pool_model, feats)
    result = _evaluate_pool(conf, rows, llr_pool)
    result["calibration"] = pool_model.calibration_.to_header()
    result["inner"] = inner
    result["channels"] = {k: _evaluate_pool(conf, rows, scores(pool_model, f)) for k, f in channels.items()}
    if args.loco:
        _loco(result, rows, feats, fit, pool_model.calibration_)
    result["children_in_corpus"] = report(rows, llr_pool, lambda r: r["age_group"] == "child" and r["test"])
    if args.out:
        _save_pool_model(args.out, pool_model, cfg, conf, rows, feats)
    _print_report(args, conf, result, time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main, f"recipes/{Path(__file__).parent.name}/run.py"))
