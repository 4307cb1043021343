#!/usr/bin/env python3
"""Regenerate the manifests of the shared corpora (the multi-corpus pool).

Writes, under ``data_manifest/`` (``--out``), one folder per corpus; every ``path`` is
relative to that corpus's folder (pass it as ``--root``):

``asr_course/``
  * ``course_train.csv``, ``course_test.csv`` -- the course's 330/110 utterance lists
    (``03-GMM-EM/{train,test}/wav.scp`` + ``text``): utt, path, label (the digit);
  * ``train.csv``, ``test.csv`` -- every file of the training / test speakers:
    utt, path, digit, take, speaker, gender.
``librispeech_sample/``, ``speechocean762_sample/``, ``asterisk_prompts/``
  * ``all.csv`` -- every file: utt, path, speaker, gender, age, age_group, language,
    sample_rate (from the corpus's own ``manifest.csv``; ``utt`` is speaker + file name,
    or the whole path when one voice has two files of that name).

Speakers under 16.  Children's voices carry little gender information before puberty, so
``age_group`` is ``child`` for speakers younger than :data:`ADULT_AGE` (only
``speechocean762_sample`` gives ages: 6-15 years for half its speakers) and ``adult``
otherwise (a corpus without ages -- audiobook readers, professional prompt voices -- is taken
as adults; ``age`` is then empty).  The gender recipe trains on adults only and reports
children separately, never inside the adult figures.

usage: python data_manifest/make_manifests.py [--corpus DIR] [--out DIR]   (DIR holds the
corpus folders; default $SPEECHGMM_CORPORA or ../shared/corpora)
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "train": "03-GMM-EM/train/isolated_digits_ti_train_endpt",
    "test": "03-GMM-EM/test/isolated_digits_ti_test_endpt",
}


def rows_course(root: Path, part: str):
    d = root / "03-GMM-EM" / part
    wav = dict(line.split(None, 1) for line in (d / "wav.scp").read_text().splitlines() if line.strip())
    text = dict(line.split(None, 1) for line in (d / "text").read_text().splitlines() if line.strip())
    for utt in sorted(wav):
        yield {"utt": utt, "path": f"03-GMM-EM/{part}/{wav[utt].strip()}", "label": text[utt].strip()}


def rows_speakers(root: Path, part: str):
    base = root / PARTS[part]
    for f in sorted(base.glob("*/*/*_endpt.wav")):
        gender, speaker, name = f.parent.parent.name, f.parent.name, f.name
        digit, take = name[0], name[1]
        yield {
            "utt": f"{speaker}_{digit}{take}",
            "path": f.relative_to(root).as_posix(),
            "digit": digit,
            "take": take,
            "speaker": speaker,
            "gender": "male" if gender == "MAN" else "female",
        }


def to_csv(rows) -> str:
    rows = list(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def build(root: Path) -> dict:
    """{file name: CSV text} for the corpus at ``root`` (the asr_course folder)."""
    out = {}
    for part in ("train", "test"):
        out[f"course_{part}.csv"] = to_csv(rows_course(root, part))
        out[f"{part}.csv"] = to_csv(rows_speakers(root, part))
    return out


#: the pool's other corpora and the language of those whose manifest has no language column
POOL = {"librispeech_sample": "en", "speechocean762_sample": "en", "asterisk_prompts": None}

#: speakers younger than this (years) are children (``age_group`` child)
ADULT_AGE = 16


def rows_pool(folder: Path, language):
    with open(folder / "manifest.csv", newline="") as fh:
        src = list(csv.DictReader(fh))

    def key(r):
        return r["speaker"], Path(r["path"]).name.split(".")[0]

    seen = {}
    for r in src:
        seen[key(r)] = seen.get(key(r), 0) + 1
    for r in sorted(src, key=lambda r: r["path"]):
        age, stem = r.get("age", ""), key(r)[1]
        if seen[key(r)] > 1:  # one voice, two files of that name (two languages): the path keeps them apart
            stem = r["path"].rsplit(".", 1)[0].replace("/", "_")
        yield {
            "utt": f"{r['speaker']}_{stem}",
            "path": r["path"],
            "speaker": r["speaker"],
            "gender": r["gender"],
            "age": age,
            "age_group": "child" if age and int(age) < ADULT_AGE else "adult",
            "language": r.get("language") or language,
            "sample_rate": r["sample_rate"],
        }


def build_all(corpora: Path) -> dict:
    """{relative output path: CSV text} for every corpus of the pool under ``corpora``."""
    out = {f"asr_course/{k}": v for k, v in build(corpora / "asr_course").items()}
    for name, language in POOL.items():
        out[f"{name}/all.csv"] = to_csv(rows_pool(corpora / name, language))
    return out


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from speechgmm._util import default_corpora

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None, help="folder holding asr_course/ and the other corpora")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: data_manifest/)")
    args = ap.parse_args(argv)
    corpora = args.corpus or default_corpora()
    missing = [
        n
        for n in ["asr_course"] + list(POOL)
        if not (corpora / n).is_dir()
        or not ((corpora / n / "03-GMM-EM").is_dir() or (corpora / n / "manifest.csv").is_file())
    ]
    if missing:
        print(f"make_manifests: error: corpus not found at {corpora / missing[0]}", file=sys.stderr)
        return 2
    for name, text in build_all(corpora).items():
        dest = args.out / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        print(f"{dest}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
