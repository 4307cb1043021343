"""Manifests: CSV/TSV, Kaldi data dirs, path resolution and every error path."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgmm.errors import ManifestError
from speechgmm.manifest import read_manifest


@pytest.fixture
def audio_dir(tmp_path):
    d = tmp_path / "audio"
    d.mkdir()
    for n in ("a", "b", "c"):
        sf.write(d / f"{n}.wav", np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1, 8000)
    return d


def test_csv_relative_paths_resolve_against_manifest_folder(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,label,speaker\naudio/a.wav,yes,s1\naudio/b.wav,no,s2\n")
    man = read_manifest(m)
    assert man.paths == [audio_dir / "a.wav", audio_dir / "b.wav"]
    assert man.labels("label") == ["yes", "no"] and man.labels("speaker") == ["s1", "s2"]
    assert len(man.sha256) == 64


def test_tsv_with_id_and_root(tmp_path, audio_dir):
    m = tmp_path / "lists" / "m.tsv"
    m.parent.mkdir()
    m.write_text("utt\tpath\tlabel\nu1\taudio/c.wav\tx\nu2\taudio/a.wav\ty\n")
    man = read_manifest(m, root=tmp_path)
    assert man.utts == ["u1", "u2"] and man.paths[0] == audio_dir / "c.wav"


def test_kaldi_data_dir(tmp_path, audio_dir):
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {audio_dir / 'a.wav'}\nu2 ../audio/b.wav\n")
    (d / "text").write_text("u1 one\nu2 two\n")
    (d / "utt2spk").write_text("u1 s1\nu2 s2\n")
    man = read_manifest(d)
    assert man.labels("label") == ["one", "two"] and man.labels("speaker") == ["s1", "s2"]
    assert man.paths[1].name == "b.wav" and man.paths[1].is_file()
    assert read_manifest(d / "wav.scp").labels("label") == ["one", "two"]


def test_course_kaldi_dir(gmm_dir):
    man = read_manifest(gmm_dir / "train")
    assert len(man) == 330 and sorted(set(man.labels("label"))) == sorted("123456789OZ")


@pytest.mark.parametrize("text,match", [
    ("file,label\na.wav,x\n", "no 'path' column"),
    ("", "empty manifest"),
    ("path,label\n", "no rows"),
    ("path,label\naudio/a.wav,x,extra\n", "3 fields"),
    ("utt,path,label\nu,audio/a.wav,x\nu,audio/b.wav,y\n", "duplicate utterance ids: u"),
    ("path,label\naudio/a.wav,x\naudio/nope1.wav,y\naudio/nope2.wav,y\n", "2 audio file.s. not found: .*nope1.wav"),
])
def test_errors(tmp_path, audio_dir, text, match):
    m = tmp_path / "m.csv"
    m.write_text(text)
    with pytest.raises(ManifestError, match=match):
        read_manifest(m)


def test_missing_column_lists_available(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,gender\naudio/a.wav,f\n")
    with pytest.raises(ManifestError, match="no column 'label'.*gender"):
        read_manifest(m).labels("label")


def test_empty_label(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,label\naudio/a.wav,\n")
    with pytest.raises(ManifestError, match="empty 'label'"):
        read_manifest(m).labels("label")


def test_missing_manifest_and_binary(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "none.csv")
    b = tmp_path / "bin.csv"
    b.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ManifestError):
        read_manifest(b)


def test_many_missing_files_are_summarised(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,label\n" + "".join(f"x{i}.wav,a\n" for i in range(9)))
    with pytest.raises(ManifestError, match="9 audio file.s. not found.*and 4 more"):
        read_manifest(m)
