"""Audio loading: accepted formats and every rejection path."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgmm.audio import load_audio
from speechgmm.errors import AudioError, ConfigError
from speechgmm.features import FeatureConfig, extract_file

from _helpers import ROOT


def tone(sr=8000, dur=0.5, f=440.0, amp=0.3):
    t = np.arange(int(sr * dur)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.fixture
def wav(tmp_path):
    p = tmp_path / "ok.wav"
    sf.write(p, tone(), 8000, subtype="PCM_16")
    return p


def test_reads_pcm16(wav):
    y, sr = load_audio(wav)
    assert sr == 8000
    assert y.dtype == np.float32
    assert y.shape == (4000,)
    assert np.allclose(y, tone(), atol=1e-4)


def test_stereo_is_averaged(tmp_path):
    left, right = tone(f=300), tone(f=500, amp=0.1)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], 1), 8000, subtype="FLOAT")
    y, _ = load_audio(p)
    assert np.allclose(y, (left + right) / 2, atol=1e-6)


def test_float_44k_is_resampled(tmp_path):
    p = tmp_path / "hi.wav"
    sf.write(p, tone(sr=44100, f=500), 44100, subtype="FLOAT")
    y, sr = load_audio(p, sr=8000)
    assert sr == 8000
    assert abs(len(y) - 4000) <= 1
    # the 500 Hz tone survives resampling: dominant FFT bin at 500 Hz
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * 8000 / len(y) - 500) < 5


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_24"), ("WAV", "PCM_32"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_formats(tmp_path, fmt, subtype):
    p = tmp_path / f"x.{fmt.lower()}"
    sf.write(p, tone(), 8000, format=fmt, subtype=subtype)
    y, sr = load_audio(p)
    assert sr == 8000
    assert abs(len(y) - 4000) < 100
    assert np.corrcoef(y[:3900], tone()[:3900])[0, 1] > 0.99


def test_unseekable_gsm_wav(tmp_path, monkeypatch):
    """GSM 6.10 WAV (telephone voicemail) decodes but cannot seek: whole, a region, and the
    block-by-block path all read it, and segment streams it."""
    import speechgmm.audio as audio
    from speechgmm.segment import segment

    x = np.concatenate([np.zeros(800, np.float32), tone(dur=1.0), np.zeros(800, np.float32)])
    p = tmp_path / "voicemail.wav"
    sf.write(p, x, 8000, subtype="GSM610")
    assert not sf.SoundFile(p).seekable()
    y, sr = load_audio(p)
    assert sr == 8000 and len(y) == sf.info(p).frames
    assert np.corrcoef(y[1000:8000], x[1000:8000])[0, 1] > 0.9  # lossy, but the same tone
    r, _ = load_audio(p, region=(0.25, 0.75))
    assert np.array_equal(r, y[2000:6000])
    monkeypatch.setattr(audio, "LONG_FILE_SAMPLES", 1000)
    monkeypatch.setattr(audio, "BLOCK_FRAMES", 1500)
    w, sr = load_audio(p, sr=16000, region=(0.25, 0.75))
    assert sr == 16000 and abs(len(w) - 8000) <= 1
    assert isinstance(segment(p).segments, list)


def test_unknown_format_says_what_to_do(tmp_path):
    p = tmp_path / "memo.m4a"
    p.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    with pytest.raises(AudioError, match=r"memo\.m4a: not a readable audio file .*ffmpeg"):
        load_audio(p)


def test_missing(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(p)


def test_corrupt(tmp_path):
    p = tmp_path / "bad.wav"
    p.write_bytes(b"this is not audio at all" * 50)
    with pytest.raises(AudioError, match="not a readable audio file"):
        load_audio(p)


def test_truncated(tmp_path, wav):
    p = tmp_path / "cut.wav"
    p.write_bytes(wav.read_bytes()[:3000])
    with pytest.raises(AudioError, match="truncated"):
        load_audio(p)


def test_zero_samples(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0, np.float32), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(p)


def test_silent(tmp_path):
    p = tmp_path / "silent.wav"
    sf.write(p, np.zeros(8000, np.float32), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match="silence"):
        load_audio(p)


@pytest.mark.parametrize("bad, at, subtype", [(np.nan, 100, "FLOAT"), (np.inf, 5, "DOUBLE"), (-np.inf, 7, "FLOAT")])
def test_non_finite_samples(tmp_path, bad, at, subtype):
    y = tone()
    y[at] = bad
    p = tmp_path / "bad.wav"
    sf.write(p, y, 8000, subtype=subtype)
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_audio(p)


def test_too_short_for_one_frame(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, tone(dur=0.01), 8000, subtype="PCM_16")  # 80 samples < 200
    with pytest.raises(AudioError, match="too short"):
        extract_file(p, FeatureConfig.preset("default"))


def test_message_names_the_file(tmp_path):
    p = tmp_path / "named_file.wav"
    p.write_bytes(b"RIFF")
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert "named_file.wav" in str(e.value)
    assert "\n" not in str(e.value)


def test_silent_frames_rejected_by_extract_file(tmp_path):
    """Peak above the loader's -80 dBFS floor, but every frame is faint noise (~-75 dBFS RMS)."""
    y = (np.random.default_rng(0).standard_normal(8000) * 1.8e-4).astype(np.float32)
    p = tmp_path / "hiss.wav"
    sf.write(p, y, 8000, subtype="PCM_16")
    load_audio(p)  # the loader alone accepts it
    with pytest.raises(AudioError, match=r"hiss\.wav: audio is all silence or too quiet to use \(loudest 25 ms frame"):
        extract_file(p, FeatureConfig.preset("default"))
    # the same hiss with a word in it is fine
    y[3000:4000] += tone(dur=0.125)
    sf.write(p, y, 8000, subtype="PCM_16")
    assert extract_file(p, FeatureConfig.preset("default")).shape[0] > 0


@pytest.mark.parametrize("bad_sr", [0, -8000, 8000.5, "8000", True])
def test_bad_target_rate_is_a_config_error(wav, bad_sr):
    from speechgmm.errors import ConfigError

    with pytest.raises(ConfigError, match="sample rate"):
        load_audio(wav, sr=bad_sr)


def test_unsigned_8bit_and_upsampling(tmp_path):
    p = tmp_path / "u8.wav"
    sf.write(p, tone(sr=4000, f=300), 4000, subtype="PCM_U8")
    y, sr = load_audio(p, sr=8000)
    assert sr == 8000
    assert abs(len(y) - 4000) <= 1
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * 8000 / len(y) - 300) < 5


@pytest.fixture
def long_threshold(monkeypatch):
    """Make 'long' small, so that a 12 s file takes the block-by-block path."""
    import speechgmm.audio as audio

    monkeypatch.setattr(audio, "LONG_FILE_SAMPLES", 1 << 16)
    monkeypatch.setattr(audio, "BLOCK_FRAMES", 1 << 14)


def _speechlike_stereo(seconds=12.0, sr=48000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.standard_normal(len(t))
    return np.stack([left, 0.5 * left + 0.01 * rng.standard_normal(len(t))], axis=1).astype(np.float32)


def test_long_files_are_read_block_by_block(tmp_path, long_threshold):
    """A long stereo 48 kHz file is mixed down and resampled block by block: the same signal as
    the one-shot path, in a fraction of the memory the whole file would take."""
    import tracemalloc

    import soxr

    x = _speechlike_stereo()
    p = tmp_path / "long.flac"
    sf.write(p, x, 48000, subtype="PCM_24")
    ref = soxr.resample(sf.read(p, dtype="float32")[0].mean(axis=1), 48000, 8000, quality="HQ")
    tracemalloc.start()
    y, sr = load_audio(p, sr=8000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sr == 8000 and y.dtype == np.float32 and len(y) == len(ref)
    assert np.max(np.abs(y - ref)) < 1e-3
    assert peak < 0.35 * x.nbytes, (peak, x.nbytes)  # the whole file as float32 would be x.nbytes
    # a region of it, block by block too
    r, _ = load_audio(p, sr=8000, region=(2.0, 9.5))
    assert abs(len(r) - 7.5 * 8000) <= 1 and np.corrcoef(r[8000:-8000], y[24000:68000])[0, 1] > 0.999


def test_long_files_keep_the_checks(tmp_path, long_threshold):
    x = _speechlike_stereo()
    opposite = tmp_path / "opposite.wav"
    sf.write(opposite, np.stack([x[:, 0], -x[:, 0]], axis=1), 48000, subtype="FLOAT")
    with pytest.warns(UserWarning, match="cancel out when averaged.*channel 1"):
        y, _ = load_audio(opposite, sr=8000)
    assert np.sqrt(np.mean(y**2)) > 0.1
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, x * 1e-5, 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match="quiet.wav: audio is all silence"):
        load_audio(quiet, sr=8000)
    bad = x.copy()
    bad[400000, 1] = np.nan
    nan = tmp_path / "nan.wav"
    sf.write(nan, bad, 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: contains NaN or infinite samples"):
        load_audio(nan, sr=8000)


@pytest.mark.parametrize(
    "region",
    [(float("nan"), 0.2), (-1.0, 0.2), (0.3, 0.1), (0.1, 0.1), (0.1, float("nan")), (float("inf"), float("inf"))],
)
def test_bad_region_is_a_config_error(region):
    # NaN was a ValueError, a negative start "not a readable audio file (Internal psf_fseek() failed.)"
    with pytest.raises(ConfigError, match="region must be"):
        load_audio(ROOT / "examples" / "male_AH_1A.wav", region=region)


def _damaged_mp3s(tmp_path):
    """A speech MP3 cut to a third (its Xing header still counts the whole file) and one with bytes
    overwritten all through (libmpg123: "dequantization failed!")."""
    import soundfile as sf

    x, sr = sf.read(str(ROOT / "examples" / "female_AK_3A.wav"), dtype="float32")
    x = np.concatenate([np.zeros(sr // 2, np.float32), x, x, np.zeros(sr // 2, np.float32)])
    whole = tmp_path / "whole.mp3"
    sf.write(str(whole), x, sr, format="MP3")
    data = whole.read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) // 3])
    rng = np.random.default_rng(0)
    bad = bytearray(data)
    for i in range(200, len(bad), 37):
        bad[i] = int(rng.integers(256))
    (tmp_path / "garbled.mp3").write_bytes(bytes(bad))
    return tmp_path / "cut.mp3", tmp_path / "garbled.mp3"


def test_a_cut_mp3_reads_the_same_every_time(tmp_path):
    """SoundFile.blocks yielded the unread rest of each block as it was in memory when an MP3 decodes to
    fewer frames than its header says: `segment` on the same cut MP3 gave "no speech" at one run and
    "samples reach 1e30" at the next (QA)."""
    from speechgmm.audio import open_sound, read_blocks

    cut, _ = _damaged_mp3s(tmp_path)
    reads = []
    for _ in range(3):
        with open_sound(cut) as f:
            header = f.frames
            reads.append(np.concatenate(list(read_blocks(f, 4096))))
    assert 0 < len(reads[0]) < header  # the header promises more than decodes
    assert all(len(r) == len(reads[0]) and np.array_equal(r, reads[0]) for r in reads)
    assert np.abs(reads[0]).max() <= 1.5


@pytest.mark.parametrize("command", ["classify", "segment"])
def test_what_the_mp3_decoder_prints_stays_off_the_terminal(command, tmp_path):
    """libmpg123 wrote "[src/libmpg123/layer3.c:...] error: dequantization failed!" straight onto the
    terminal, next to the command's own one-line messages; a sound MP3 read through a seek gave such lines
    too, so they are not turned into a warning either."""
    import soundfile as sf

    from _helpers import run_cli

    x, sr = sf.read(str(ROOT / "examples" / "wideband_16k.wav"), dtype="float32")
    sound = tmp_path / "sound.mp3"
    sf.write(str(sound), np.tile(x, 30), sr, format="MP3")
    for path in (*_damaged_mp3s(tmp_path), sound):
        r = run_cli(command, str(path))
        lines = r.stderr.strip().splitlines()
        assert all(line.startswith(f"speechgmm {command}: ") for line in lines), r.stderr
        assert "libmpg123" not in r.stderr and "Xing" not in r.stderr and "Traceback" not in r.stderr
        assert r.returncode in (0, 2), (path, r.stderr)
        if path == sound:
            assert r.returncode == 0 and not lines, r.stderr


def test_a_file_at_an_absurd_sample_rate_is_refused_before_upsampling(tmp_path):
    """QA: 400 kB at 1 Hz, upsampled to 8 kHz, ran the whole batch out of memory; 100 Hz noise was 'male'."""
    noise = np.random.default_rng(0).standard_normal(2000).astype(np.float32) * 0.1
    for rate in (1, 100, 999):
        sf.write(tmp_path / f"r{rate}.wav", noise, rate)
        with pytest.raises(AudioError, match=rf"r{rate}.wav: sample rate {rate} Hz: speech needs at least 1000 Hz"):
            load_audio(tmp_path / f"r{rate}.wav", sr=8000)
        assert load_audio(tmp_path / f"r{rate}.wav")[1] == rate  # read as it is, it is still a sound file
    sf.write(tmp_path / "r1000.wav", noise, 1000)
    assert load_audio(tmp_path / "r1000.wav", sr=8000)[0].shape == (16000,)
