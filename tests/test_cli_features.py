"""`speechgmm features`: manifests / wav.scp in, Kaldi ark + scp out, bad files reported."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from speechgmm.commands.features import kaldi_keys
from speechgmm.features import FeatureConfig, extract_file
from speechgmm.kaldi import read_feats, read_wav_scp

from _helpers import need_module


def _tone(seconds=0.5, f=440.0, sr=8000):
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(int(f))
    # a rising and falling envelope, as a syllable has (a steady tone is no speech for the detector)
    env = np.sin(np.pi * t / seconds) ** 2
    return (0.3 * env * np.sin(2 * np.pi * f * t) + 0.001 * rng.standard_normal(t.size)).astype(np.float32)


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
    assert "a0.wav" not in r.stderr
    assert "Traceback" not in r.stderr
    assert "3 of 5 audio files are bad" in r.stderr
    assert not out.exists()
    assert not out.with_suffix(".scp").exists()
    assert not any(p.name.startswith(".bad.") for p in tmp_path.iterdir())  # no temp files left
    man.write_text("path\naudio/a0.wav\naudio/corrupt.wav\naudio/a1.wav\n")
    r = cli("features", man, "-o", out)
    assert r.returncode == 2 and "1 of 3 audio files is bad" in r.stderr, r.stderr  # was "1 of 3 audio file is"


def test_unknown_preset_fails_cleanly(small_set, tmp_path, cli):
    _, man = small_set
    r = cli("features", man, "-o", tmp_path / "x.ark", "--preset", "nope")
    assert r.returncode == 2
    assert "unknown preset" in r.stderr
    assert "Traceback" not in r.stderr


def test_kaldi_keys_are_ids_unchanged_or_refused():
    from speechgmm.errors import ManifestError

    assert kaldi_keys(["a_b", "c"], "m.csv") == ["a_b", "c"]
    for ids in (["has space", "has_space"], ["", "x"], ["tab\there"]):
        with pytest.raises(ManifestError, match=r"^m\.csv: 1 utterance id\(s\) empty or with whitespace"):
            kaldi_keys(ids, "m.csv")


def test_ids_kaldi_cannot_hold_are_refused_before_work(small_set, tmp_path, cli):
    """Issue 13 item 9: 'has space' used to become has_space and the real has_space has_space-2."""
    root, _ = small_set
    man = tmp_path / "ids.csv"
    man.write_text(f"utt,path\nhas space,{root / 'audio' / 'a0.wav'}\nhas_space,{root / 'audio' / 'a1.wav'}\n")
    out = tmp_path / "ids.ark"
    r = cli("features", man, "-o", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "ids.csv: 1 utterance id(s)" in r.stderr and "'has space'" in r.stderr
    assert not out.exists()


def test_features_of_a_segments_data_dir(gmm_dir, tmp_path, cli):
    """A Kaldi data dir with a segments file: one archive entry per segment, equal to the
    features of the original file that the segment cuts out of the recording."""
    import soundfile as sf

    src = read_wav_scp(gmm_dir / "test" / "wav.scp")
    keys = list(src)[:3]
    d = tmp_path / "data"
    d.mkdir()
    parts = [sf.read(src[k], dtype="int16")[0] for k in keys]
    sf.write(d / "rec.wav", np.concatenate(parts), 8000, subtype="PCM_16")
    edges = np.cumsum([0] + [len(p) for p in parts]) / 8000
    (d / "wav.scp").write_text("rec rec.wav\n")
    (d / "segments").write_text("".join(f"seg{i} rec {edges[i]} {edges[i + 1]}\n" for i in range(3)))
    out = tmp_path / "seg.ark"
    r = cli("features", d, "-o", out, "--jobs", "2")
    assert r.returncode == 0, r.stderr
    got = read_feats(out.with_suffix(".scp"))
    assert list(got) == ["seg0", "seg1", "seg2"]
    for i, k in enumerate(keys):
        assert np.array_equal(got[f"seg{i}"], extract_file(src[k], FeatureConfig.preset("default")))


def test_features_into_the_data_dir_kaldi_keeps_them_in(gmm_dir, tmp_path, cli):
    """-o data/feats.ark (Kaldi's own layout) was refused as "an input of this command" on a rerun, or
    when the dir already held a feats.scp: every file of the dir counted as an input, not just those read."""
    src = read_wav_scp(gmm_dir / "test" / "wav.scp")
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("".join(f"{k} {src[k]}\n" for k in list(src)[:2]))
    (d / "utt2dur").write_text("unrelated 1.0\n")
    for _ in range(2):
        r = cli("features", d, "-o", d / "feats.ark")
        assert r.returncode == 0, r.stderr
        assert list(read_feats(d / "feats.scp")) == list(src)[:2]
    r = cli("features", d, "-o", d / "wav.ark")  # its index would replace wav.scp, which is read
    assert r.returncode == 2 and "wav.scp" in r.stderr and "input" in r.stderr, r.stderr
    assert (d / "wav.scp").read_text().count("\n") == 2


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


def _segments_data_dir(gmm_dir, tmp_path):
    """A Kaldi data dir of 4 recordings, each 6 corpus utterances (digits 1 and 2) with 0.1 s gaps, cut out
    again by a segments file; and a CSV manifest of the original files in the same order."""
    from speechgmm.kaldi import read_text

    src, text = read_wav_scp(gmm_dir / "train" / "wav.scp"), read_text(gmm_dir / "train" / "text")
    keys = [k for k in src if text[k] in ("1", "2")][:24]
    d = tmp_path / "data"
    d.mkdir()
    seg, lab = [], []
    for r in range(4):
        parts = [sf.read(src[k], dtype="int16")[0] for k in keys[r::4]]
        gap = np.zeros(800, np.int16)
        sf.write(d / f"rec{r}.wav", np.concatenate([x for p in parts for x in (p, gap)]), 8000, subtype="PCM_16")
        t = 0
        for k, p in zip(keys[r::4], parts):
            seg.append(f"{k} rec{r} {t / 8000} {(t + len(p)) / 8000}\n")
            lab.append(f"{k} {text[k]}\n")
            t += len(p) + len(gap)
    (d / "wav.scp").write_text("".join(f"rec{r} rec{r}.wav\n" for r in range(4)))
    (d / "segments").write_text("".join(seg))
    (d / "text").write_text("".join(lab))
    files = tmp_path / "files.csv"
    order = [k for r in range(4) for k in keys[r::4]]  # the segments' order
    files.write_text("utt,path,label\n" + "".join(f"{k},{src[k]},{text[k]}\n" for k in order))
    return d, files


def _arrays(model):
    with np.load(model) as z:  # the header (JSON bytes) names a different manifest
        return {name: z[name] for name in z.files if z[name].dtype != np.uint8}


def test_train_and_evaluate_read_a_segments_data_dir(gmm_dir, tmp_path, cli):
    """train and evaluate on a data dir whose utterances are regions of 4 long recordings give the
    same model and the same report as on a manifest of the original files."""
    import json

    d, files = _segments_data_dir(gmm_dir, tmp_path)
    reports = []
    for man, model in ((d, tmp_path / "seg.npz"), (files, tmp_path / "files.npz")):
        r = cli("train", man, "-o", model, "-k", "2", "--iterations", "3")
        assert r.returncode == 0, r.stderr
        r = cli("evaluate", man, "--model", model, "--json")
        assert r.returncode == 0, r.stderr
        reports.append(json.loads(r.stdout.strip().splitlines()[-1]))
    a, b = _arrays(tmp_path / "seg.npz"), _arrays(tmp_path / "files.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert reports[0]["confusion"] == reports[1]["confusion"] and reports[0]["n"] == 24


def test_segments_data_dir_on_dask_and_with_cache(gmm_dir, tmp_path, cli):
    """Regions reach the Dask workers and the --cache archive as regions (not as their display string)."""
    need_module("dask.distributed")
    d, _ = _segments_data_dir(gmm_dir, tmp_path)
    base = ("train", d, "-k", "2", "--iterations", "3")
    for extra, name in (
        ((), "mem"),
        (("--cache", tmp_path / "cache"), "cache"),
        (("--dask", "local", "--dask-workers", "1"), "dask"),
    ):
        r = cli(*base, "-o", tmp_path / f"{name}.npz", *extra)
        assert r.returncode == 0, (name, r.stderr)
    mem = _arrays(tmp_path / "mem.npz")
    for name in ("cache", "dask"):
        other = _arrays(tmp_path / f"{name}.npz")
        assert all(np.allclose(mem[k], other[k], rtol=1e-4, atol=1e-4) for k in mem), name
    r = cli("evaluate", d, "--model", tmp_path / "mem.npz", "--dask", "local", "--dask-workers", "1")
    assert r.returncode == 0, r.stderr


def _piped(d, how):
    """Rewrite the data dir ``d``'s wav.scp so that every recording comes through a shell command
    run in ``d`` (``cat rec0.wav |``), as Kaldi recipes write them (``flac -c -d -s x.flac |``)."""
    scp = d / "wav.scp"
    rows = [line.split(maxsplit=1) for line in scp.read_text().splitlines()]
    scp.write_text("".join(f"{k} {how.format(v.strip())} |\n" for k, v in rows))


def test_piped_wav_scp_entries_are_run(gmm_dir, tmp_path, cli):
    """Piped wav.scp entries (with a segments file on top) give the same features, model and
    report as the plain files; train --cache keys on the files the command names."""
    import json

    d, _ = _segments_data_dir(gmm_dir, tmp_path)
    plain = tmp_path / "plain"
    shutil.copytree(d, plain)
    _piped(d, "cat {}")  # relative to the data dir: the command runs there
    for man, name in ((plain, "plain"), (d, "piped")):
        r = cli("features", man, "-o", tmp_path / f"{name}.ark", "--jobs", "2")
        assert r.returncode == 0, r.stderr
    a, b = read_feats(tmp_path / "plain.scp"), read_feats(tmp_path / "piped.scp")
    assert list(a) == list(b) and len(a) == 24 and all(np.array_equal(a[k], b[k]) for k in a)
    reports = []
    for man, name in ((plain, "plain"), (d, "piped")):
        r = cli(
            "train", man, "-o", tmp_path / f"{name}.npz", "-k", "2", "--iterations", "3", "--cache", tmp_path / name
        )
        assert r.returncode == 0, r.stderr
        r = cli("evaluate", man, "--model", tmp_path / f"{name}.npz", "--json")
        assert r.returncode == 0, r.stderr
        reports.append(json.loads(r.stdout.strip().splitlines()[-1]))
    m1, m2 = _arrays(tmp_path / "plain.npz"), _arrays(tmp_path / "piped.npz")
    assert m1.keys() == m2.keys() and all(np.array_equal(m1[k], m2[k]) for k in m1)
    assert reports[0]["confusion"] == reports[1]["confusion"]

    from speechgmm.manifest import read_manifest
    from speechgmm.sources import _cache_key

    paths = read_manifest(d).paths
    key = _cache_key(paths, FeatureConfig.preset("default"), (), 0)
    rec = d / "rec0.wav"
    rec.write_bytes(rec.read_bytes())  # rewritten: a new modification time
    import os

    os.utime(rec, ns=(rec.stat().st_atime_ns, rec.stat().st_mtime_ns + 10**9))
    assert _cache_key(paths, FeatureConfig.preset("default"), (), 0) != key


def test_failing_wav_scp_commands_are_one_line_errors(gmm_dir, tmp_path, cli):
    src = read_wav_scp(gmm_dir / "train" / "wav.scp")
    good = list(src.values())[:2]
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(
        f"a cat {good[0]} |\nb sh -c 'echo cannot open b.flac >&2; exit 3' |\nc true |\nd cat {good[1]} |\n"
    )
    out = tmp_path / "f.ark"
    r = cli("features", d, "-o", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = r.stderr.strip()
    assert "b (sh -c" in err and "exit status 3" in err and "cannot open b.flac" in err
    assert "c (true |): the command wrote no audio" in err
    assert "a (cat" not in err and "d (cat" not in err
    (d / "wav.scp").write_text("a |\n")
    r = cli("features", d, "-o", out)
    assert r.returncode == 2 and "empty command" in r.stderr and len(r.stderr.strip().splitlines()) == 1
