"""segment --open-set: strangers in a recording of enrolled voices are labelled ``unknown``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from _helpers import write_manifest

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "data_manifest" / "asr_course"
SR = 16000


@pytest.fixture(scope="module")
def family(corpus, tmp_path_factory):
    """Four LibriSpeech test-other speakers enrolled on their first 5 utterances (bundled UBM); a recording
    of turns of 2 other utterances by one of them and by a fifth speaker, who is not enrolled, between
    pauses of dither (-90 dBFS: the `speaker` front end has no mean normalisation, and white noise at -70
    or -50 dBFS already lowers the margins of these clean recordings by a quarter or by two thirds)."""
    from speechgmm.audio import load_audio

    from _helpers import run_cli

    libri = corpus.parent / "librispeech_sample"
    d = tmp_path_factory.mktemp("family")
    rows = [r for r in csv.DictReader(open(libri / "manifest.csv")) if r["subset"] == "test-other"]
    speakers = sorted({r["speaker"] for r in rows})[:5]
    enrolled, stranger = speakers[:4], speakers[4]
    utts = {s: sorted(r["path"] for r in rows if r["speaker"] == s) for s in speakers}
    man = write_manifest(d / "enrol.csv", [{"path": p, "speaker": s} for s in enrolled for p in utts[s][:5]])
    r = run_cli("train", man, "--root", libri, "--label-column", "speaker", "-o", d / "family.npz")
    assert r.returncode == 0 and "open-set threshold" in r.stdout, r.stderr
    rng = np.random.default_rng(5)
    parts, truth, t = [np.zeros(SR)], [], SR
    for k, who in enumerate([enrolled[0], stranger] * 2):
        for p in utts[who][5 + 2 * (k // 2) : 7 + 2 * (k // 2)]:
            y, _ = load_audio(libri / p, sr=SR)
            y = y / np.sqrt(np.mean(y**2)) * 0.05
            truth.append((t / SR, (t + len(y)) / SR, who if who in enrolled else "unknown"))
            parts += [y, np.zeros(int(rng.uniform(0.8, 1.5) * SR))]
            t += len(y) + len(parts[-1])
    x = np.concatenate(parts)
    x = x + rng.standard_normal(len(x)) * 10 ** (-90 / 20)
    sf.write(str(d / "dinner.wav"), x.astype(np.float32), SR, subtype="PCM_16")
    return {"dir": d, "model": d / "family.npz", "wav": d / "dinner.wav", "truth": truth, "enrolled": enrolled}


def _time_right(segments, truth):
    """Seconds of each truth label's span given that label, and the span's seconds, by label."""
    right, total = {}, {}
    for a, b, lab in truth:
        total[lab] = total.get(lab, 0.0) + b - a
        right[lab] = right.get(lab, 0.0) + sum(
            max(0.0, min(b, s1) - max(a, s0)) for s0, s1, hyp in segments if hyp == lab
        )
    return right, total


def test_strangers_are_unknown_and_enrolled_voices_keep_their_names(family):
    from speechgmm.segment import segment

    closed = segment(family["wav"], family["model"])
    opened = segment(family["wav"], family["model"], open_set=True)
    assert "unknown" not in closed.labels and opened.labels == [*closed.labels, "unknown"]
    assert all(lab != "unknown" for _, _, lab in closed.segments)
    right, total = _time_right(opened.segments, family["truth"])
    me = family["enrolled"][0]
    # without --open-set the stranger takes an enrolled name; with it, most of their time is unknown
    assert right["unknown"] > 0.6 * total["unknown"], (right, total)
    assert right[me] > 0.6 * total[me], (right, total)
    assert _time_right(closed.segments, family["truth"])[0].get("unknown", 0.0) == 0.0
    assert opened.speaking_time()["unknown"] > 0.5 * total["unknown"]


def test_the_threshold_decides(family):
    from speechgmm.segment import segment, segment_file

    closed = segment(family["wav"], family["model"]).segments
    assert segment_file(family["wav"], family["model"], threshold=-1000) == closed
    everyone = segment_file(family["wav"], family["model"], threshold=1000)
    assert [(a, b) for a, b, _ in everyone] == [(a, b) for a, b, _ in closed]
    assert {lab for _, _, lab in everyone} == {"unknown"}


def test_cli_open_set_table_json_and_rttm(family, cli):
    import json

    d = family["dir"]
    r = cli("segment", "--model", family["model"], "--open-set", "--json", "--rttm", d / "o.rttm", family["wav"])
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert "unknown" in obj["speaking_time"] and obj["speaking_time"]["unknown"] > 0
    assert any(s["label"] == "unknown" for s in obj["segments"])
    assert any(line.split()[7] == "unknown" for line in (d / "o.rttm").read_text().splitlines())
    r = cli("segment", "--model", family["model"], "--threshold", "nan", family["wav"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and r.stdout == "", r.stderr


def test_a_model_without_a_stored_threshold_is_one_error_before_any_file(family, cli, tmp_path):
    from _helpers import rewrite_model

    bare = rewrite_model(family["model"], tmp_path / "bare.npz", lambda h: h.pop("open_set"))
    r = cli("segment", "--model", bare, "--open-set", family["wav"], family["wav"])
    assert r.returncode == 2 and r.stdout == "", r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no stored open-set threshold" in lines[0] and "--threshold" in lines[0], lines
    r = cli("segment", "--model", bare, "--threshold", "2", family["wav"])
    assert r.returncode == 0, r.stderr


def test_each_piece_between_pauses_is_decided_on_its_own():
    """Two words of one decoded label across a pause: the one far enough from the other classes keeps its
    label, the other is unknown; a piece without scored frames is unknown."""
    from speechgmm.segment import _open_set_pieces

    lab = np.array([0, 0, -1, 0, 0, 1, 1])
    counts = np.array([10, 10, 0, 10, 10, 10, 0])
    ev = np.zeros((7, 3))
    ev[:2, 0] = 40.0  # word 1: margin 4 per frame
    ev[3:5, 0] = [10.0, 10.0]  # word 2, after a pause: margin 1
    ev[5, 1] = 50.0  # a label change without a pause: its own piece, margin 5
    assert list(_open_set_pieces(lab, ev, counts, (0.5, 0.0))) == [0, 0, -1, 0, 0, 1, 1]
    assert list(_open_set_pieces(lab, ev, counts, (3.0, 0.0))) == [0, 0, -1, 3, 3, 1, 1]
    assert list(_open_set_pieces(lab, ev, counts, (4.5, 0.0))) == [3, 3, -1, 3, 3, 1, 1]
    assert list(_open_set_pieces(lab, ev, counts, (6.0, 0.0))) == [3, 3, -1, 3, 3, 3, 3]
    silent = _open_set_pieces(np.array([2, 2]), np.zeros((2, 3)), np.array([0, 0]), (-1000.0, 0.0))
    assert list(silent) == [3, 3]


def test_classify_json_gives_the_open_set_score_it_decided_on(family, cli):
    """QA: 'classify --json' had no open-set score, so a user could not see how far a file was from the
    threshold when choosing --threshold."""
    import json

    wav, model = family["wav"], family["model"]
    r = cli("classify", "--json", "--model", model, wav)
    assert r.returncode == 0 and "open_set_score" not in json.loads(r.stdout), r.stderr
    r = cli("classify", "--json", "--open-set", "--model", model, wav)
    obj = json.loads(r.stdout)
    score = obj["open_set_score"]
    assert (obj["label"] == "unknown") == (score < obj["threshold"])
    for thr, unknown in ((score - 0.01, False), (score + 0.01, True)):
        obj = json.loads(cli("classify", "--json", "--threshold", f"{thr:.4f}", "--model", model, wav).stdout)
        assert obj["threshold"] == pytest.approx(thr) and (obj["label"] == "unknown") == unknown, obj
