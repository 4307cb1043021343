"""The streamed front end (speechgmm/stream.py): long recordings read in blocks give the whole-file features."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgmm.errors import AudioError
from speechgmm.features import FeatureConfig, extract_file
from speechgmm.stream import streamed_features

from _helpers import ROOT

EX = ROOT / "examples"
FILES = ["male_AH_1A.wav", "female_AK_3A.wav", "wideband_16k.wav"]


@pytest.mark.parametrize("preset", ["default", "speaker", "asr_course"])
@pytest.mark.parametrize("name", FILES)
def test_streamed_features_equal_the_whole_file_front_end(preset, name):
    """Under 10 s the speech detector sees one block either way, so the two must agree (8 kHz files as they
    are, the 16 kHz one through the stream resampler)."""
    cfg = FeatureConfig.preset(preset)
    a, b = extract_file(EX / name, cfg), streamed_features(EX / name, cfg)
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.allclose(a, b, atol=1e-3), float(np.abs(a - b).max())


def test_streamed_channels_that_cancel_use_one_channel(tmp_path):
    y, sr = sf.read(EX / "male_AH_1A.wav", dtype="float32")
    path = tmp_path / "opposite.wav"
    sf.write(path, np.stack([y, -y], axis=1), sr, subtype="FLOAT")
    cfg = FeatureConfig.preset("default")
    with pytest.warns(UserWarning, match="cancel out"):
        b = streamed_features(path, cfg)
    assert np.allclose(b, extract_file(EX / "male_AH_1A.wav", cfg), atol=1e-3)


@pytest.mark.parametrize(
    "signal, message",
    [
        (np.zeros(16000, np.float32), "all silence"),
        (np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32), "no speech"),
        (np.random.default_rng(1).normal(0, 0.1, 100).astype(np.float32), "too short"),
    ],
)
def test_streamed_errors_name_the_file_as_the_whole_file_ones_do(tmp_path, signal, message):
    path = tmp_path / "bad.wav"
    sf.write(path, signal, 8000, subtype="FLOAT")
    cfg = FeatureConfig.preset("default")
    with pytest.raises(AudioError) as whole:
        extract_file(path, cfg)
    with pytest.raises(AudioError) as streamed:
        streamed_features(path, cfg)
    assert message in str(whole.value) and message in str(streamed.value)
    assert str(streamed.value).startswith(f"{path}: ")


def test_long_files_are_streamed_by_every_whole_file_reader(monkeypatch, capsys):
    """classify (and train, evaluate, features) read a file longer than STREAM_SECONDS as a stream: a 2-hour
    file held whole took about 1 GB.  Made 'long' here by lowering the limits."""
    import speechgmm.features as features
    import speechgmm.stream as stream
    from speechgmm.cli import main

    assert main(["classify", "--json", str(EX / "wideband_16k.wav")]) == 0
    whole = capsys.readouterr().out
    calls = []
    real = stream.streamed_features

    def spy(path, cfg):
        calls.append(path)
        return real(path, cfg)

    monkeypatch.setattr(stream, "STREAM_SECONDS", 1.0)
    monkeypatch.setattr(features, "_LONG_FILE_BYTES", 0)
    monkeypatch.setattr(stream, "streamed_features", spy)
    assert main(["classify", "--json", str(EX / "wideband_16k.wav")]) == 0
    streamed = capsys.readouterr().out
    assert [str(p) for p in calls] == [str(EX / "wideband_16k.wav")]
    import json

    a, b = json.loads(whole), json.loads(streamed)
    assert a["label"] == b["label"] and a["frames"] == b["frames"]
    assert a["mean_scores"] == pytest.approx(b["mean_scores"], abs=1e-3)
    # a short file, a region of a recording and an augmented copy are never streamed
    monkeypatch.setattr(stream, "STREAM_SECONDS", 600.0)
    extract_file(EX / "wideband_16k.wav")
    assert len(calls) == 1
