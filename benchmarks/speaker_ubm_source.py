#!/usr/bin/env python3
"""Where the speakers' UBM comes from: the bundled one, or one trained on the enrolment itself.

`speechgmm train MANIFEST --label-column speaker` adapts the speakers from the bundled background
model (95 TI training speakers) with `--method auto`, the default; `--method map` trains the UBM on
the same manifest.  This script compares the two on enrolments from every corpus of the pool, with
strangers among the probes, through the command line as a user runs it:

  ti        TI test speakers: the 50 of data_manifest/asr_course/speakers/enroll50.csv (takes A),
            probes: every take B of the 73 test speakers
  libri10   LibriSpeech test-other's 10 speakers: first 5 utterances enrolled, last 5 probed, plus one
            utterance of each of 50 train-clean-100 speakers (every other one, sorted) as strangers
  libri4    the first 4 of those speakers (the other 6 and the 50 are strangers)
  so10      speechocean762: 10 adults with two sentences (seed 0), the first enrolled; probes: their
            second sentence and the second sentence of 40 other such adults
  ast4      asterisk: 4 of the 5 voices, every other prompt (at most 15) enrolled; probes: the other
            prompts of all 5 voices (files in which no speech is found are left out)

Per enrolment and UBM: enrolled probes correct and strangers 'unknown' at the stored threshold, and
closed-set identification.  usage: python benchmarks/speaker_ubm_source.py [--corpus DIR] [--only NAME,...]
[--preset speaker_any_level]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "recipes"))  # recipes/_common.py: the corpus finder
from _common import find_corpus  # noqa: E402

MAN = ROOT / "data_manifest"


def rows(name):
    return list(csv.DictReader(open(MAN / name, newline="")))


def by_speaker(rs):
    out: dict[str, list[dict]] = {}
    for r in rs:
        out.setdefault(r["speaker"], []).append(r)
    return out


def write(path, items, root):
    """A manifest of (relative path, speaker) pairs with absolute paths under ``root``."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "speaker"])
        for p, s in items:
            w.writerow([str(root / p), s])


def ti(corpus):
    root = corpus / "asr_course"
    pick = lambda name: [(r["path"], r["speaker"]) for r in rows(f"asr_course/speakers/{name}")]  # noqa: E731
    return root, pick("enroll50.csv"), pick("probes.csv")


def libri(corpus, n):
    rs = rows("librispeech_sample/all.csv")
    spk = by_speaker(rs)
    ten = sorted(s for s in spk if "test-other" in spk[s][0]["path"])
    clean = sorted(s for s in spk if "train-clean" in spk[s][0]["path"])[1::2][:50]
    enrol = [(r["path"], s) for s in ten[:n] for r in spk[s][:5]]
    probes = [(r["path"], s) for s in ten for r in spk[s][5:]] + [(spk[s][0]["path"], s) for s in clean]
    return corpus / "librispeech_sample", enrol, probes


def so(corpus):
    spk = by_speaker(r for r in rows("speechocean762_sample/all.csv") if r["age_group"] == "adult")
    two = sorted(s for s in spk if len(spk[s]) == 2)
    two = [two[i] for i in np.random.default_rng(0).permutation(len(two))]
    enrol = [(spk[s][0]["path"], s) for s in two[:10]]
    probes = [(spk[s][1]["path"], s) for s in two[:50]]
    return corpus / "speechocean762_sample", enrol, probes


def ast(corpus):
    spk = by_speaker(rows("asterisk_prompts/all.csv"))
    voices = sorted(spk)
    enrol = [(r["path"], v) for v in voices[:4] for r in spk[v][0::2][:15]]
    probes = [(r["path"], v) for v in voices for r in spk[v][1::2]]
    return corpus / "asterisk_prompts", enrol, probes


def speechgmm(*args):
    p = subprocess.run([sys.executable, "-m", "speechgmm", *map(str, args)], capture_output=True, text=True)
    return p


def measure(name, root, enrol, probes, tmp, preset=None):
    write(tmp / f"{name}_enrol.csv", enrol, root)
    # probes in which no speech is found (the prompt set's tones) are left out, as a user would
    keep = [(p, s) for p, s in probes if speechgmm("classify", root / p).returncode == 0] if name == "ast4" else probes
    write(tmp / f"{name}_probes.csv", keep, root)
    out = {}
    for method, what in (("map", "UBM of the enrolled speakers"), ("auto", "bundled UBM")):
        model = tmp / f"{name}_{method}.npz"
        more = ["--preset", preset] if preset else []
        p = speechgmm(
            "train", tmp / f"{name}_enrol.csv", "--label-column", "speaker", "--method", method, *more, "-o", model
        )
        if p.returncode:
            raise SystemExit(p.stderr)
        p = speechgmm("evaluate", tmp / f"{name}_probes.csv", "--model", model, "--json")
        if p.returncode:
            raise SystemExit(p.stderr)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        out[what] = r
        print(
            f"{name:8s} {what:28s} enrolled correct {100 * r['enrolled_correct']:5.1f} %  strangers unknown "
            f"{100 * r['strangers_unknown']:5.1f} %  closed set {r['closed_set_accuracy']:.3f}  "
            f"({r['n_enrolled_probes']} + {r['n_stranger_probes']} probes)",
            flush=True,
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--only", default=None, help="comma-separated: ti,libri10,libri4,so10,ast4")
    ap.add_argument("--preset", default=None, help="train --preset (speaker_any_level: its own bundled UBM)")
    args = ap.parse_args(argv)
    corpus = find_corpus(args.corpus).parent  # the folder of every corpus (find_corpus names asr_course)
    sets = {
        "ti": lambda: ti(corpus),
        "libri10": lambda: libri(corpus, 10),
        "libri4": lambda: libri(corpus, 4),
        "so10": lambda: so(corpus),
        "ast4": lambda: ast(corpus),
    }
    names = args.only.split(",") if args.only else list(sets)
    unknown = [n for n in names if n not in sets]
    if unknown:
        raise SystemExit(f"unknown set(s): {', '.join(unknown)} (choose from {', '.join(sets)})")
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for n in names:
            results[n] = measure(n, *sets[n](), Path(d), args.preset)
    print(
        json.dumps(
            {
                n: {
                    k: {x: v[x] for x in ("enrolled_correct", "strangers_unknown", "closed_set_accuracy")}
                    for k, v in r.items()
                }
                for n, r in results.items()
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
