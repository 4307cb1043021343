"""Speech detection in the front end: presets, classify's speech_seconds, no-speech and short-speech files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechgmm.audio import load_audio
from speechgmm.augment import pad_with_pauses
from speechgmm.errors import AudioError
from speechgmm.features import PRESETS, FeatureConfig, extract_file, mfcc

from _helpers import ROOT, run_cli, write_manifest

MAN = ROOT / "data_manifest" / "asr_course"
SR = 8000


def test_asr_course_preset_has_no_speech_detection():
    """The course's Kaldi features: every frame, statistics over every frame."""
    cfg = FeatureConfig.preset("asr_course")
    assert PRESETS["asr_course"] == {} and cfg == FeatureConfig() and not cfg.vad
    for name in PRESETS:
        if name != "asr_course":
            assert FeatureConfig.preset(name).vad
    assert FeatureConfig.preset("default").vad_method == "adaptive"


def test_model_files_without_vad_method_keep_the_peak_vad():
    d = FeatureConfig.preset("speaker").to_dict()
    d.pop("vad_method")
    assert FeatureConfig.from_dict(d).vad_method == "peak"


@pytest.fixture(scope="module")
def ti(corpus):
    rows = list(csv.DictReader(open(MAN / "test.csv")))[::97]
    return [(corpus / r["path"], load_audio(corpus / r["path"], sr=SR)[0]) for r in rows]


def test_padding_changes_little_with_the_default_preset(ti):
    """Pauses around the speech: the default front end's features barely move (CMN over speech
    frames); asr_course's move a lot (its mean includes the pauses)."""
    cfg, course = FeatureConfig.preset("default"), FeatureConfig.preset("asr_course")
    moved_default, moved_course = [], []
    for i, (_, y) in enumerate(ti):
        x = pad_with_pauses(y, SR, 1.5, 1.5, -45.0, seed=i)
        a, b = mfcc(y, SR, cfg), mfcc(x, SR, cfg)
        moved_default.append(abs(a[:, 1:13].mean(0) - b[:, 1:13].mean(0)).mean())
        c, d = mfcc(y, SR, course), mfcc(x, SR, course)
        assert d.shape[0] > c.shape[0] + 250  # every frame kept
        moved_course.append(abs(c[:, 1:13].mean(0)).mean() - abs(d[:, 1:13].mean(0)).mean())
        # quiet pauses: about the same frames (hangover adds a few); under -45 dBFS room tone the
        # weakest fricatives of some words are lost
        quiet = mfcc(pad_with_pauses(y, SR, 1.5, 1.5, -60.0, seed=i), SR, cfg)
        assert abs(a.shape[0] - quiet.shape[0]) <= 0.3 * a.shape[0]
    assert np.mean(moved_default) < 1.0


def test_no_speech_file_error():
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    for y in (0.05 * rng.standard_normal(2 * SR), 0.2 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t)):
        with pytest.raises(AudioError, match="no speech detected"):
            mfcc(y.astype(np.float32), SR, FeatureConfig.preset("default"))


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
    """A small digit model with the CLI defaults' front end (speech detection)."""
    d = tmp_path_factory.mktemp("sd")
    rows = [r for r in csv.DictReader(open(MAN / "train.csv")) if r["speaker"] in ("AC", "AE", "AG", "BH")]
    write_manifest(d / "train.csv", rows, corpus)
    out = d / "digits.npz"
    r = run_cli(
        "train", d / "train.csv", "-o", out, "--label-column", "digit", "--components", "2", "--iterations", "3"
    )
    assert r.returncode == 0, r.stderr
    return out


def test_classify_reports_speech_seconds_and_bad_files(model, ti, tmp_path):
    path, y = ti[0]
    padded = tmp_path / "padded.wav"
    sf.write(padded, pad_with_pauses(y, SR, 2.0, 2.0, -50.0, seed=3), SR, subtype="PCM_16")
    noise = tmp_path / "noise.wav"
    sf.write(noise, (0.05 * np.random.default_rng(1).standard_normal(3 * SR)).astype(np.float32), SR)
    # a real word cut to 60 ms of its loudest part, between pauses
    F = np.lib.stride_tricks.sliding_window_view(y, 800)[::80]
    k = int(np.argmax((F**2).sum(1))) * 80
    short = tmp_path / "short.wav"
    sf.write(short, pad_with_pauses(y[k : k + 480] * np.hanning(480).astype(np.float32), SR, 1.0, 1.0, -60.0), SR)
    r = run_cli("classify", "--model", model, "--json", path, noise, padded, short)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [o["path"] for o in objs] == [str(path), str(padded)]
    a, b = objs
    assert abs(a["speech_seconds"] - b["speech_seconds"]) <= 0.15 and b["speech_seconds"] < len(y) / SR + 0.2
    err = r.stderr.strip().splitlines()
    assert len(err) == 2, r.stderr
    assert "noise.wav: no speech detected" in r.stderr and "gain" not in r.stderr  # loud noise: no hint
    assert "short.wav: only" in r.stderr and "s of speech detected" in r.stderr


def test_speech_too_quiet_to_detect_is_told_to_need_more_gain(model, tmp_path):
    """QA: speech at -50 dBFS (a recorder's gain far too low) was only "no speech detected"."""
    y, sr = sf.read(ROOT / "examples" / "female_AP_8A.wav", dtype="float32")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, y / np.abs(y).max() * np.float32(10 ** (-50 / 20)), sr, subtype="FLOAT")
    r = run_cli("classify", "--model", model, quiet, ROOT / "examples" / "female_AK_3A.wav")
    assert r.returncode == 2 and len(r.stdout.splitlines()) == 2  # the other file is still classified
    assert r.stderr.strip().splitlines() == [
        f"speechgmm classify: error: {quiet}: no speech detected (its loudest frame is at -58 dBFS: speech "
        "that quiet needs more gain)"
    ], r.stderr


def test_extract_file_names_the_file(tmp_path):
    p = tmp_path / "hum.wav"
    t = np.arange(SR) / SR
    sf.write(p, (0.3 * np.sin(2 * np.pi * 60 * t)).astype(np.float32), SR)
    with pytest.raises(AudioError, match=r"hum\.wav: no speech detected"):
        extract_file(p, FeatureConfig.preset("speaker").replace(vad_method="adaptive"))


def test_mp3_with_pauses_classifies_like_the_wav(ti, tmp_path):
    """An MP3 of a recording with pauses: the decoder's delay puts digital silence in front,
    which must not turn the pauses into speech.  The bundled model reads both files alike,
    `classify` and `segment` both."""
    wavs, mp3s = [], []
    for i, (_, y) in enumerate(ti[:4]):
        x = pad_with_pauses(y, SR, 1.5, 1.0, -50.0, seed=i)
        wavs.append(tmp_path / f"f{i}.wav")
        mp3s.append(tmp_path / f"f{i}.mp3")
        sf.write(wavs[-1], x, SR, subtype="PCM_16")
        sf.write(mp3s[-1], x, SR, format="MP3", bitrate_mode="CONSTANT", compression_level=0.9)
    assert np.abs(sf.read(mp3s[0])[0][:200]).max() < 1e-3  # the encoder delay: (near) digital silence
    r = run_cli("classify", "--json", *wavs, *mp3s)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    for w, m, (_, y) in zip(objs[:4], objs[4:], ti):
        assert abs(w["speech_seconds"] - m["speech_seconds"]) <= 0.1, (w, m)
        assert m["speech_seconds"] < len(y) / SR + 0.2, m
    r = run_cli("segment", "--json", *mp3s)
    assert r.returncode == 0, r.stderr
    for o, (_, y) in zip(map(json.loads, r.stdout.splitlines()), ti):
        speech = sum(s["end"] - s["start"] for s in o["segments"])
        assert 0.5 * len(y) / SR < speech < len(y) / SR + 0.3, o


def _with_hum(y, sr, f0, peak):
    t = np.arange(len(y)) / sr
    return (y + peak * (np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 3 * f0 * t)) / 1.5).astype(np.float32)


def test_strong_mains_hum_is_warned_about_and_recordings_are_not(corpus, tmp_path):
    """QA: hum at the speech's level gave "no speech detected", or moved a conversation's female share
    from 73 to 11 %, without a word.  Now classify and segment (streamed, in blocks shorter than the
    check's 10 s) name the file, also for a TI digit of 0.5 s; clean recordings, LibriSpeech's own mild
    60 Hz hum included, and faint hum in a quiet lead-in (QA: "strong" at -50 dB), are not."""
    from speechgmm.audio import mains_hum

    libri = corpus.parent / "librispeech_sample"
    rows = list(csv.DictReader(open(libri / "manifest.csv")))[::7]
    assert rows and not [r["path"] for r in rows if mains_hum(*load_audio(libri / r["path"], sr=SR))]
    y, sr = load_audio(libri / rows[0]["path"], sr=SR)
    peak = float(np.max(np.abs(y)))
    assert mains_hum(_with_hum(y, sr, 60, 0.01 * peak), sr) is None  # mild hum, as in the corpus
    # QA: a buzz of equal harmonics as loud as the speech holds -13 dB in its 50 Hz line alone
    t = np.arange(len(y)) / sr
    buzz = sum(np.sin(2 * np.pi * 50 * k * t + k) for k in range(1, 11))
    buzz *= float(np.sqrt(np.mean(y**2) / np.mean(buzz**2)))
    assert mains_hum(y + buzz, sr)[0] == 50
    for f0 in (50, 60):
        found = mains_hum(_with_hum(y, sr, f0, 0.5 * peak), sr)
        assert found is not None and found[0] == f0 and found[1] <= 0
    hum, clean = tmp_path / "hum.wav", tmp_path / "clean.wav"
    sf.write(hum, _with_hum(y, sr, 50, 0.5 * peak), sr, subtype="FLOAT")
    sf.write(clean, y, sr, subtype="FLOAT")
    r = run_cli("classify", hum, clean)
    warned = [ln for ln in r.stderr.splitlines() if "mains hum" in ln]
    assert len(warned) == 1 and "hum.wav: strong mains hum at 50 Hz" in warned[0] and "notched out" in warned[0]
    man = write_manifest(tmp_path / "hum.csv", [{"path": str(hum)}])
    r = run_cli("features", "--preset", "asr_course", man, "-o", tmp_path / "f.ark")  # no speech detection, no notches
    assert [ln for ln in r.stderr.splitlines() if "mains hum" in ln and "high-pass" in ln], r.stderr
    from speechgmm.segment import SegmentOptions, segment

    with pytest.warns(Warning, match=r"hum.wav: strong mains hum at 50 Hz"):
        segment(hum, None, SegmentOptions(block_seconds=0.7))
    ti = sorted((corpus / "03-GMM-EM" / "test" / "isolated_digits_ti_test_endpt" / "MAN").iterdir())[0]
    d, dsr = load_audio(sorted(ti.glob("*.wav"))[0], sr=SR)
    assert len(d) < SR and mains_hum(d, dsr) is None
    assert mains_hum(_with_hum(d, dsr, 50, float(np.max(np.abs(d)))), dsr)[0] == 50  # short files are checked
    quiet = np.concatenate([np.zeros(5 * sr, np.float32), y])
    lead = _with_hum(quiet, sr, 50, 10 ** (-60 / 20))  # -60 dBFS hum, alone in the lead-in's 5 s
    assert mains_hum(lead, sr) is None


def _buzz(n, sr, f0):
    """Unit-RMS mains buzz: ``f0`` and harmonics 2-8 at 1/k (a ground loop)."""
    t = np.arange(n) / sr
    x = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 9))
    return x / np.sqrt(np.mean(x**2))


def test_mains_hum_is_notched_out_where_there_is_speech_detection(corpus, tmp_path):
    """Hum as loud as the speech (a 50.15 Hz buzz with harmonics) moved speech detection and labels; the
    front end of every preset with speech detection now notches the line and its harmonics out, so the
    file is heard as without hum, in classify (whole file) and segment (in blocks: the same filter)."""
    from speechgmm.audio import HumFilter
    from speechgmm.segment import SegmentOptions, segment
    from speechgmm.stream import audio_blocks

    libri = corpus.parent / "librispeech_sample"
    rows = [r for r in csv.DictReader(open(libri / "manifest.csv")) if r["subset"] == "train-clean-100"][:8]
    paths, wanted = [], []
    for k, r in enumerate(rows):
        y, sr = load_audio(libri / r["path"], sr=16000)
        hum = _buzz(len(y), sr, 50.15 if k % 2 else 59.85) * float(np.sqrt(np.mean(y**2)))
        for tag, x in (("clean", y), ("hum", y + hum)):
            paths.append(tmp_path / f"{k}_{tag}.wav")
            sf.write(paths[-1], np.clip(x, -1, 1), sr, subtype="FLOAT")
    r = run_cli("classify", "--json", *paths)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    # one buzz stands 19.7 dB above its neighbourhood, under the check's 20 dB (a male voice at 70-90 Hz)
    notched = [p for p in paths[1::2] if f"{p}: strong mains hum" in r.stderr]
    assert r.stderr.count("notched out") == len(notched) >= len(rows) - 1
    for clean, hummed in zip(objs[::2], objs[1::2]):
        wanted.append(clean["label"])
        if Path(hummed["path"]) not in notched:
            continue
        assert hummed["label"] == clean["label"], (clean, hummed)
        assert abs(hummed["speech_seconds"] - clean["speech_seconds"]) <= 0.2 * clean["speech_seconds"], (clean, hummed)
    # left in (the filter switched off), the same hum changes labels or speech: what the notches are for
    from unittest import mock

    with mock.patch.object(HumFilter, "found", classmethod(lambda cls, y, sr: None)):
        off = [extract_file(p, FeatureConfig.preset("gender")) for p in paths[1::2]]
    on = [extract_file(p, FeatureConfig.preset("gender")) for p in paths[1::2]]
    clean = [extract_file(p, FeatureConfig.preset("gender")) for p in paths[::2]]
    assert sum(abs(len(a) - len(c)) for a, c in zip(on, clean)) < sum(abs(len(a) - len(c)) for a, c in zip(off, clean))
    # block by block (segment's stream) the filter gives the whole file's samples
    y = load_audio(paths[1], sr=16000)[0]
    whole = HumFilter.found(y, 16000)(y)
    with pytest.warns(Warning, match="notched out"):
        blocks = np.concatenate(list(audio_blocks(paths[1], 16000, 0.7, remove_hum=True)))
    np.testing.assert_allclose(blocks, whole, atol=1e-6)
    with pytest.warns(Warning, match="notched out"):
        seg = segment(paths[1], None, SegmentOptions(block_seconds=0.7))
    times = seg.speaking_time()
    assert max(times, key=times.get) == wanted[0]


def test_clipped_recordings_are_warned_about_and_recordings_within_range_are_not(ti, corpus, tmp_path):
    """An overdriven recording (TI digits driven 20 dB into clipping: digits 0.72, gender 0.87 instead of
    0.997 / 0.953) is named in a warning; the corpora's own files, none above 0.4 % at the peak, are not."""
    from speechgmm.audio import CLIPPED_SHARE, clipped_share

    libri = corpus.parent / "librispeech_sample"
    for r in list(csv.DictReader(open(libri / "manifest.csv")))[::9]:
        assert clipped_share(load_audio(libri / r["path"])[0]) < CLIPPED_SHARE / 10
    assert all(clipped_share(y) < CLIPPED_SHARE / 10 for _, y in ti[:40])
    y = ti[0][1] / np.max(np.abs(ti[0][1]))
    hot, fine = tmp_path / "hot.wav", tmp_path / "fine.wav"
    sf.write(hot, np.clip(10 * y, -1, 1), SR, subtype="PCM_16")
    sf.write(fine, 0.9 * y, SR, subtype="PCM_16")
    r = run_cli("classify", hot, fine)
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stderr.splitlines() if "clipped" in ln]
    assert len(warned) == 1 and "hot.wav: clipped (" in warned[0] and "overdriven" in warned[0], r.stderr
    from speechgmm.segment import SegmentOptions, segment

    with pytest.warns(Warning, match=r"hot\.wav: clipped"):  # streamed: each block against its own peak
        segment(hot, None, SegmentOptions(block_seconds=0.2))


def test_clipping_is_measured_per_polarity_and_channel_and_not_against_a_quiet_blocks_own_peak(ti, tmp_path):
    """QA: an 8-bit WAV's rails (+127/128, -1), one clipped channel of a stereo file and a DC offset added
    after clipping went unwarned; a long 48 kHz stereo file (read block by block) whose speech is followed
    by dither was called clipped, each quiet block measured against its own peak."""
    from speechgmm.audio import load_audio

    y = ti[0][1] / np.max(np.abs(ti[0][1]))
    hot = np.clip(10 * y, -1, 1)
    cases = {
        "u8.wav": (hot, "PCM_U8"),
        "dc.wav": (0.5 * hot + 0.45, "FLOAT"),
        "left.wav": (np.stack([hot, 0.3 * y], axis=1), "PCM_16"),
    }
    for name, (x, subtype) in cases.items():
        sf.write(tmp_path / name, x, SR, subtype=subtype)
        with pytest.warns(Warning, match=rf"{name}: clipped"):
            load_audio(tmp_path / name)
    rng = np.random.default_rng(0)
    sr, speech = 48000, load_audio(ti[0][0], sr=48000)[0]
    tail = rng.integers(-1, 2, 3 * 60 * sr).astype(np.float32) / 32768
    x = np.concatenate([np.tile(0.5 * speech / np.max(np.abs(speech)), 40), tail])
    sf.write(tmp_path / "long.wav", np.stack([x, x], axis=1), sr, subtype="PCM_16")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all
        load_audio(tmp_path / "long.wav", sr=SR)
    # QA: a file of a DC offset alone was "clipped (100 %)", then "all silence": it sits at its rail unclipped
    sf.write(tmp_path / "dc_only.wav", np.full(SR, 0.01, np.float32), SR, subtype="FLOAT")
    r = run_cli("classify", tmp_path / "dc_only.wav")
    assert r.returncode == 2 and "all silence" in r.stderr and "clipped" not in r.stderr, r.stderr


def test_notches_reach_500_hz_and_a_long_file_of_hum_alone_is_no_speech(tmp_path):
    """QA: exact 50 Hz hum was measured at 50.001 Hz, so its 10th harmonic fell just above 500 Hz and was left
    in; a pure tone's numerical floor made every harmonic up to 4 kHz 'stand out'; a file of hum alone read
    as a stream (over 10 minutes) said "too quiet" instead of no speech."""
    from speechgmm.audio import HumFilter

    t = np.arange(2 * SR) / SR
    assert len(HumFilter.found(0.3 * np.sin(2 * np.pi * 50 * t), SR).frequencies) == 10  # 50 .. 500 Hz
    assert len(HumFilter.found(0.3 * np.sin(2 * np.pi * 60 * t), SR).frequencies) == 8  # 60 .. 480 Hz
    long = tmp_path / "long_hum.wav"
    sf.write(long, 0.1 * np.sin(2 * np.pi * 50.1 * np.arange(610 * SR) / SR), SR, subtype="PCM_16")
    r = run_cli("classify", long)
    assert r.returncode == 2 and "long_hum.wav: no speech detected once its mains hum is notched out" in r.stderr
    assert r.stderr.count("no speech detected") == 1 and "Traceback" not in r.stderr


def test_rumble_is_high_passed_before_speech_detection(tmp_path):
    """QA: a 40 Hz sine at the speech's level (traffic, a fan, wind on the microphone) left 30 of 65 files
    "no speech detected", at +6 dB 61: speech detection measured the rumble with the speech."""
    from speechgmm.audio import HumFilter, rumble

    results = {}
    for name in ("female_AK_3A", "male_AH_1A"):
        y, sr = sf.read(ROOT / "examples" / f"{name}.wav", dtype="float32")
        t = np.arange(len(y)) / sr
        level = np.sqrt(np.mean(y[np.abs(y) > 0.01] ** 2))
        p = tmp_path / f"{name}_rumble.wav"
        sf.write(p, y + np.float32(level * 2**0.5) * np.sin(2 * np.pi * 40 * t).astype(np.float32), sr, subtype="FLOAT")
        r = run_cli("classify", "--json", p)
        assert r.returncode == 0, r.stderr
        assert "strong rumble" in r.stderr and "high-pass at 60 Hz applied" in r.stderr
        results[name] = json.loads(r.stdout)["label"]
    assert results == {"female_AK_3A": "female", "male_AH_1A": "male"}
    # speech has no such power there; the filter, block by block, equals the filter over the whole file
    y, sr = sf.read(ROOT / "examples" / "female_AK_3A.wav", dtype="float32")
    assert rumble(y, sr) is None and HumFilter.found(y, sr) is None
    t = np.arange(3 * SR) / SR
    x = 0.05 * np.random.default_rng(0).standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 25 * t)
    whole, blocks = HumFilter.found(x, SR), HumFilter.found(x, SR)
    assert whole.rumble_db is not None and whole.frequencies == []
    out = np.concatenate([blocks(x[a : a + 5000]) for a in range(0, len(x), 5000)])
    assert np.allclose(out, whole(x), atol=1e-6)
    assert np.sqrt(np.mean(out[: SR // 10] ** 2)) < 0.06  # primed: no ringing start, the 25 Hz line gone
    # rumble alone is no speech, and says why
    alone = tmp_path / "rumble_alone.wav"
    sf.write(alone, (0.3 * np.sin(2 * np.pi * 30 * t)).astype(np.float32), SR)
    r = run_cli("classify", alone)
    assert r.returncode == 2 and "rumble_alone.wav: no speech detected once its rumble is filtered out" in r.stderr
