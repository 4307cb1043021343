#!/usr/bin/env python3
"""Regenerate the manifests of the shared ``asr_course`` corpus.

Writes, under ``data_manifest/asr_course/`` (paths relative to the ``asr_course`` folder):

* ``course_train.csv``, ``course_test.csv`` -- the course's 330/110 utterance lists
  (``03-GMM-EM/{train,test}/wav.scp`` + ``text``): utt, path, label (the digit);
* ``train.csv``, ``test.csv`` -- every file of the training / test speakers:
  utt, path, digit, take, speaker, gender.

usage: python data_manifest/make_manifests.py [--corpus DIR]   (DIR holds asr_course/;
default $SPEECHGMM_CORPORA or ../shared/corpora)
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {"train": "03-GMM-EM/train/isolated_digits_ti_train_endpt", "test": "03-GMM-EM/test/isolated_digits_ti_test_endpt"}


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
        yield {"utt": f"{speaker}_{digit}{take}", "path": f.relative_to(root).as_posix(), "digit": digit,
               "take": take, "speaker": speaker, "gender": "male" if gender == "MAN" else "female"}


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


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from speechgmm._util import default_corpora

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None, help="folder holding asr_course/")
    ap.add_argument("--out", type=Path, default=HERE / "asr_course", help="output folder")
    args = ap.parse_args(argv)
    root = (args.corpus or default_corpora()) / "asr_course"
    if not (root / "03-GMM-EM").is_dir():
        print(f"make_manifests: error: corpus not found at {root}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in build(root).items():
        (args.out / name).write_text(text)
        print(f"{args.out / name}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
