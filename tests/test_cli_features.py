"""`speechgmm features`: manifests / wav.scp in, Kaldi ark + scp out, bad files reported."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from speechgmm.commands.features import kaldi_keys
from speechgmm.features import FeatureConfig, extract_file
from speechgmm.kaldi import read_feats, read_wav_scp


def _tone(seconds=0.5, f=440.0, sr=8000):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(int(f))
    return (0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture
def small_set(tmp_path):
    """Three good wavs in a sub-folder and a manifest with relative paths."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for i, f in enumerate((300.0, 500.0, 700.0)):
        sf.write(audio / f"a{i}.wav", _tone(f=f), 8000, subtype="PCM_16")
    man = tmp_path / "list.csv"
    man.write_text("path,label\naudio/a0.wav,x\naudio/a1.wav,y\naudio/a2.wav,x\n")
    return tmp_path, man


def test_manifest_relative_paths_and_keys_from_path(small_set, tmp_path, cli):
    root, man = small_set
    out = tmp_path / "out" / "f.ark"
    r = cli("features", man, "-o", out, "--preset", "asr_course", cwd="/")  # cwd elsewhere on purpose
    assert r.returncode == 0, r.stderr
    feats = read_feats(out.with_suffix(".scp"))
    assert list(feats) == ["audio/a0.wav", "audio/a1.wav", "audio/a2.wav"]
    cfg = FeatureConfig.preset("asr_course")
    for i in range(3):
        expect = extract_file(root / "audio" / f"a{i}.wav", cfg)
        assert np.allclose(feats[f"audio/a{i}.wav"], expect, atol=1e-5)


def test_id_column_gives_keys_and_tsv(small_set, tmp_path, cli):
    root, _ = small_set
    man = root / "list.tsv"
    man.write_text("utt\tpath\nu1\taudio/a2.wav\nu2\taudio/a0.wav\n")
    out = tmp_path / "g.ark"
    r = cli("features", man, "-o", out)
    assert r.returncode == 0, r.stderr
    feats = read_feats(out)  # the ark itself reads too
    assert list(feats) == ["u1", "u2"]
    assert feats["u1"].shape[1] == FeatureConfig.preset("default").dim


def test_bad_files_all_reported_nothing_written(small_set, tmp_path, cli):
    root, _ = small_set
    (root / "audio" / "corrupt.wav").write_bytes(b"not a wav file at all" * 20)
    sf.write(root / "audio" / "silent.wav", np.zeros(4000, np.float32), 8000, subtype="PCM_16")
    man = root / "bad.csv"
    man.write_text("path\naudio/a0.wav\naudio/corrupt.wav\naudio/missing.wav\naudio/silent.wav\naudio/a1.wav\n")
    out = tmp_path / "bad.ark"
    r = cli("features", man, "-o", out, "--jobs", "2")
    assert r.returncode == 2
    for name in ("corrupt.wav", "missing.wav", "silent.wav"):
        assert name in r.stderr
    assert "a0.wav" not in r.stderr and "Traceback" not in r.stderr
    assert "3 of 5" in r.stderr
    assert not out.exists() and not out.with_suffix(".scp").exists()
    assert not any(p.name.startswith(".bad.") for p in tmp_path.iterdir())  # no temp files left


def test_unknown_preset_fails_cleanly(small_set, tmp_path, cli):
    _, man = small_set
    r = cli("features", man, "-o", tmp_path / "x.ark", "--preset", "nope")
    assert r.returncode == 2 and "unknown preset" in r.stderr and "Traceback" not in r.stderr


def test_kaldi_keys_unique_without_whitespace():
    assert kaldi_keys(["a b", "a_b", "c"]) == ["a_b", "a_b-2", "c"]


def test_wav_scp_parallel_matches_serial(gmm_dir, tmp_path, cli):
    """A Kaldi wav.scp (paths relative to its folder) with --jobs 2: same keys, order and values
    as extracting one file at a time; the course preset matches the course's own feats.ark shape."""
    src = read_wav_scp(gmm_dir / "test" / "wav.scp")
    keys = list(src)[:12]
    scp = tmp_path / "data" / "wav.scp"
    scp.parent.mkdir()
    lines = []
    for k in keys:  # copy the audio so the wav.scp can use relative paths
        (scp.parent / "w").mkdir(exist_ok=True)
        shutil.copy(src[k], scp.parent / "w" / f"{k}")
        lines.append(f"{k} w/{k}\n")
    scp.write_text("".join(lines))
    out = tmp_path / "feats.ark"
    r = cli("features", scp, "-o", out, "--preset", "asr_course", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    got = read_feats(out.with_suffix(".scp"))
    assert list(got) == keys
    ref = read_feats(gmm_dir / "test" / "feats.scp")
    cfg = FeatureConfig.preset("asr_course")
    for k in keys:
        assert np.array_equal(got[k], extract_file(src[k], cfg))
        assert got[k].shape == ref[k].shape
