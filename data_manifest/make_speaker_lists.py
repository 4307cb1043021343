#!/usr/bin/env python3
"""Write the speaker lists of the README's "Recognise speakers" walk-through.

From ``data_manifest/asr_course/test.csv`` (the 73 TI test speakers), under
``data_manifest/asr_course/speakers/`` (paths relative to the ``asr_course`` folder):

* ``enroll50.csv`` -- takes A of 50 speakers drawn with seed 0 (the ones enrolled first);
* ``enroll23.csv`` -- takes A of the other 23 (enrolled later with ``speechgmm enroll``);
* ``probes.csv``   -- takes B of all 73 (0.47 s of speech each);
* ``trials.txt``   -- verification trials: every probe against its own speaker and 10 others
  drawn with seed 0 (803 target, 8,030 non-target trials).

usage: python data_manifest/make_speaker_lists.py
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "asr_course"


def write(path: Path, rows) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> int:
    rows = list(csv.DictReader(open(HERE / "test.csv", newline="")))
    speakers = sorted({r["speaker"] for r in rows})
    rng = random.Random(0)
    first = set(rng.sample(speakers, 50))
    out = HERE / "speakers"
    out.mkdir(exist_ok=True)
    a = [r for r in rows if r["take"] == "A"]
    b = [r for r in rows if r["take"] == "B"]
    write(out / "enroll50.csv", [r for r in a if r["speaker"] in first])
    write(out / "enroll23.csv", [r for r in a if r["speaker"] not in first])
    write(out / "probes.csv", b)
    lines = []
    for r in b:
        others = rng.sample([s for s in speakers if s != r["speaker"]], 10)
        lines.append(f"{r['speaker']} {r['path']} target")
        lines.extend(f"{s} {r['path']} nontarget" for s in others)
    (out / "trials.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
