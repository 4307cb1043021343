"""speechgmm segment's outputs (QA round 2, 2026-12-08): the plot's memory, colours and scale, outputs when
standard output goes away or the run is stopped, file names that are not UTF-8, labels in RTTM and the table."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from _helpers import ROOT

WAV = ROOT / "examples" / "male_AH_1A.wav"


# -- the plot's envelope is streamed --------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [7.3, 31.1])
def test_plot_envelope_reads_the_file_in_bounded_blocks(seconds, tmp_path, monkeypatch):
    """QA: ``--plot`` read blocks of ceil(n / 4000) * 4096 frames, the whole file at once (2.43 GB for 41 min of
    48 kHz stereo, 92 MB without --plot).  Blocks must not grow with the file, and the envelope must still be
    the peak of each slice."""
    from speechgmm import audio
    from speechgmm.segment import _envelope

    sr = 48000
    n = int(seconds * sr)
    rng = np.random.default_rng(1)
    y = (rng.standard_normal((n, 2)) * np.linspace(0.01, 0.5, n)[:, None]).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(str(path), y, sr, subtype="FLOAT")
    sizes = []
    real = audio.read_blocks

    def spy(f, blocksize, frames=-1):
        for blk in real(f, blocksize, frames):
            sizes.append(len(blk))
            yield blk

    monkeypatch.setattr(audio, "read_blocks", spy)
    env, dur = _envelope(path, 4000)
    assert abs(dur - n / sr) < 1e-9
    assert len(sizes) > 1 and max(sizes) <= 1 << 17, max(sizes)  # the old code: one block of the whole file
    step = -(-n // 4000)
    m = np.abs(y).max(axis=1)
    want = np.array([m[i : i + step].max() for i in range(0, n, step)], np.float32)
    np.testing.assert_array_equal(env, want)
