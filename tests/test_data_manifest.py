"""The committed corpus manifests are exactly what the script regenerates, and complete."""

from __future__ import annotations

import csv
import subprocess
import sys

from _helpers import ROOT

MAN = ROOT / "data_manifest" / "asr_course"
POOL = ("librispeech_sample", "speechocean762_sample", "asterisk_prompts")


def test_regeneration_gives_committed_files(corpus, tmp_path):
    r = subprocess.run(
        [sys.executable, ROOT / "data_manifest" / "make_manifests.py", "--corpus", corpus.parent, "--out", tmp_path],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    for name in ("course_train.csv", "course_test.csv", "train.csv", "test.csv"):
        assert (tmp_path / "asr_course" / name).read_text() == (MAN / name).read_text(), name
    for name in POOL:
        assert (tmp_path / name / "all.csv").read_text() == (ROOT / "data_manifest" / name / "all.csv").read_text()


def test_pool_manifests(corpus):
    """Every file of the three other corpora, unique keys, existing paths, children marked."""
    counts = {"librispeech_sample": (351, 261), "speechocean762_sample": (378, 250), "asterisk_prompts": (293, 5)}
    for name in POOL:
        rows = list(csv.DictReader(open(ROOT / "data_manifest" / name / "all.csv")))
        assert (len(rows), len({r["speaker"] for r in rows})) == counts[name]
        assert len({r["utt"] for r in rows}) == len(rows)
        assert {r["gender"] for r in rows} == {"male", "female"}
        for r in rows:
            assert (corpus.parent / name / r["path"]).is_file(), r["path"]
            assert r["age_group"] == ("child" if r["age"] and int(r["age"]) < 16 else "adult")
    so = list(csv.DictReader(open(ROOT / "data_manifest" / "speechocean762_sample" / "all.csv")))
    adults = {r["speaker"]: r["gender"] for r in so if r["age_group"] == "adult"}
    assert sorted(adults.values()).count("male") == 56 and sorted(adults.values()).count("female") == 72


def test_counts_and_paths_exist(corpus):
    def rows(name):
        return list(csv.DictReader(open(MAN / name)))

    assert len(rows("course_train.csv")) == 330
    assert len(rows("course_test.csv")) == 110
    tr, te = rows("train.csv"), rows("test.csv")
    assert len(tr) == 2072
    assert len({r["speaker"] for r in tr}) == 95
    assert len(te) == 1606
    assert len({r["speaker"] for r in te}) == 73
    assert not ({r["speaker"] for r in tr} & {r["speaker"] for r in te})
    for name in ("course_train.csv", "course_test.csv", "train.csv", "test.csv"):
        for r in rows(name):
            assert (corpus / r["path"]).is_file(), r["path"]
    assert {r["gender"] for r in tr} == {"male", "female"}
    assert sorted({r["digit"] for r in te}) == sorted("123456789OZ")


def test_missing_corpus_is_a_clear_error(tmp_path):
    r = subprocess.run(
        [sys.executable, ROOT / "data_manifest" / "make_manifests.py", "--corpus", tmp_path, "--out", tmp_path / "o"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "corpus not found" in r.stderr
    assert "Traceback" not in r.stderr
