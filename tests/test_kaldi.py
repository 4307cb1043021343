"""Kaldi file I/O (speechgmm.kaldi): feature archives and the two-column files of a data dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechgmm.errors import ManifestError
from speechgmm.kaldi import ArkFeatures, read_feats, read_text, read_wav_scp, write_feats


def test_write_feats_round_trip_and_scp_points_at_final_ark(tmp_path):
    rng = np.random.default_rng(6)
    items = [
        ("u2", rng.standard_normal((7, 39)).astype(np.float32)),
        ("u1", rng.standard_normal((3, 39)).astype(np.float32)),
    ]
    scp = write_feats(tmp_path / "f.ark", items)
    assert scp == tmp_path / "f.scp"
    assert [ln.split()[0] for ln in scp.read_text().splitlines()] == ["u2", "u1"]
    assert all(ln.split()[1].startswith(str(tmp_path / "f.ark") + ":") for ln in scp.read_text().splitlines())
    for got in (read_feats(scp), read_feats(tmp_path / "f.ark")):
        assert list(got) == ["u2", "u1"]
        for k, m in items:
            assert np.array_equal(got[k], m)


def test_write_feats_is_atomic(tmp_path):
    def items():
        yield "a", np.zeros((2, 3), np.float32)
        raise RuntimeError("extraction failed half-way")

    (tmp_path / "f.ark").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        write_feats(tmp_path / "f.ark", items())
    assert (tmp_path / "f.ark").read_bytes() == b"old"  # previous output untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.ark"]  # no scp, no temp files


def test_read_wav_scp_and_text(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("b sub/b.wav\na /abs/a.wav\n\n")
    (d / "text").write_text("b  SEVEN  EIGHT\na ZERO\n")
    assert read_wav_scp(d / "wav.scp") == {"b": (d / "sub" / "b.wav").resolve(), "a": Path("/abs/a.wav")}
    assert read_text(d / "text") == {"b": "SEVEN  EIGHT", "a": "ZERO"}
    (d / "dup").write_text("a x\na y\n")
    with pytest.raises(ManifestError, match="duplicate key 'a'"):
        read_text(d / "dup")
    (d / "pipe.scp").write_text("a sox a.sph -t wav - |\nb |\n")
    with pytest.raises(ManifestError, match="'b' is an empty command"):
        read_wav_scp(d / "pipe.scp")
    with pytest.raises(ManifestError, match="no such file"):
        read_text(d / "missing")


def test_read_feats_rejects_garbage(tmp_path):
    p = tmp_path / "bad.ark"
    p.write_bytes(b"utt1 \x00Bxx garbage")
    with pytest.raises(ManifestError, match="bad.ark"):
        read_feats(p)


def test_read_feats_resolves_scp_paths_relative_to_the_scp(tmp_path, monkeypatch):
    """Kaldi writes ark paths relative to the directory it ran in; read_feats also tries the scp's folder."""
    d = tmp_path / "data"
    d.mkdir()
    m = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_feats(d / "feats.ark", [("u", m)])
    monkeypatch.chdir(d)
    (d / "rel.scp").write_text((d / "feats.scp").read_text().replace(str(d / "feats.ark"), "feats.ark"))
    monkeypatch.chdir(tmp_path)  # "feats.ark" is not in the current directory
    assert np.array_equal(read_feats(d / "rel.scp")["u"], m)


def test_ark_features_and_ark_source_resolve_scp_paths_as_read_feats_does(tmp_path, monkeypatch):
    """QA: ``ArkSource('.../03-GMM-EM/train/feats.scp')`` (which says ``train/feats.ark``) failed with
    FileNotFoundError 'train/feats.ark', while read_feats found it (relative to the scp's parent)."""
    from speechgmm import ArkSource, DiagGMM

    rng = np.random.default_rng(3)
    items = [(f"u{i}", rng.standard_normal((30, 2)).astype(np.float32)) for i in range(4)]
    d = tmp_path / "data" / "train"
    d.mkdir(parents=True)
    scp = write_feats(d / "feats.ark", items)
    scp.write_text(scp.read_text().replace(str(d / "feats.ark"), "train/feats.ark"))  # as the course's
    monkeypatch.chdir(tmp_path)  # "train/feats.ark" is not under the current directory
    got = list(ArkFeatures(scp))
    assert all(np.array_equal(g, m) for g, (_, m) in zip(got, items))
    assert all(np.array_equal(g, read_feats(scp)[k]) for g, (k, _) in zip(got, items))
    assert DiagGMM(2, random_state=0).fit(ArkSource(scp)).weights_.shape == (2,)


def test_an_scp_entry_that_cannot_be_read_is_a_manifest_error_naming_its_line(tmp_path):
    """QA: an offset past the end of the archive gave a bare AssertionError, a wrong one a UnicodeDecodeError
    (read_feats named the scp but not the line; ArkSource named nothing)."""
    from speechgmm import ArkSource, DiagGMM

    m = np.arange(40, dtype=np.float32).reshape(20, 2)
    scp = write_feats(tmp_path / "f.ark", [("a", m), ("b", m)])
    ark, size = tmp_path / "f.ark", (tmp_path / "f.ark").stat().st_size
    good = scp.read_text().splitlines()[0]
    for loc, why in [
        (f"{ark}:{size + 10}", rf"offset {size + 10} is past the end of {ark} \({size} bytes\)"),
        (f"{ark}:1", f"no Kaldi matrix at offset 1 of {ark}"),
        (f"{tmp_path / 'gone.ark'}:15", f"{tmp_path / 'gone.ark'}: No such file or directory"),
    ]:
        (tmp_path / "bad.scp").write_text(f"{good}\nb {loc}\n")
        message = rf"^{tmp_path / 'bad.scp'}:2: cannot read Kaldi features \({why}\)$"
        with pytest.raises(ManifestError, match=message):
            read_feats(tmp_path / "bad.scp")
        with pytest.raises(ManifestError, match=message):
            DiagGMM(1).fit(ArkSource(tmp_path / "bad.scp"))


def test_ark_features_streams_the_chosen_keys_in_order(tmp_path):
    rng = np.random.default_rng(7)
    items = [(f"u{i}", rng.standard_normal((i + 2, 4)).astype(np.float32)) for i in range(5)]
    scp = write_feats(tmp_path / "f.ark", items)
    stream = ArkFeatures(scp, ["u3", "u0"])
    assert len(stream) == 2
    got = list(stream)
    assert np.array_equal(got[0], items[3][1])
    assert np.array_equal(got[1], items[0][1])
    assert [x.shape[0] for x in ArkFeatures(scp)] == [2, 3, 4, 5, 6]


def test_bytes_that_are_not_utf8_are_refused_naming_the_line(tmp_path):
    """QA: Kaldi files had such bytes replaced (a class 'caf\\ufffd', a path that no longer named its file),
    while a CSV manifest with the same bytes was refused."""
    from speechgmm.kaldi import read_two_column
    from speechgmm.verification import read_trials

    text = tmp_path / "text"
    text.write_bytes(b"AC-1A one\nAC-2A caf\xe9\n")
    with pytest.raises(ManifestError, match=r"text:2: not a text Kaldi file .*0xe9"):
        read_text(text)
    (tmp_path / "utt2spk").write_bytes("\ufeffAC-1A AC\n".encode())  # a byte-order mark is still fine
    assert read_two_column(tmp_path / "utt2spk") == {"AC-1A": "AC"}
    trials = tmp_path / "trials.txt"
    trials.write_bytes(b"AC a.wav target\nAC b\xff.wav nontarget\n")
    with pytest.raises(ManifestError, match=r"trials.txt:2: not a text trials file"):
        read_trials(trials)
