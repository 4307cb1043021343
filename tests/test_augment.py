"""Augmented copies for multi-condition training: deterministic, at the stated SNR / RT60."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.augment import (
    KINDS,
    RT60_S,
    SNR_DB,
    add_noise,
    augment,
    coloured_noise,
    parse_kinds,
    room_impulse_response,
    snr_db,
)
from speechgmm.errors import ConfigError


def speechlike(n=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 8000
    y = 0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(n)
    return y.astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_copies_are_deterministic_and_keep_length_and_level(kind):
    y = speechlike()
    a, b = augment(y, 8000, kind, seed=3, index=7), augment(y, 8000, kind, seed=3, index=7)
    assert np.array_equal(a, b)
    assert a.dtype == np.float32
    assert a.shape == y.shape
    assert not np.array_equal(a, augment(y, 8000, kind, seed=3, index=8))
    assert not np.array_equal(a, augment(y, 8000, kind, seed=4, index=7))
    assert np.all(np.abs(a) <= 1.0)
    rms = lambda x: np.sqrt(np.mean(x.astype(np.float64) ** 2))  # noqa: E731
    assert 0.9 < rms(a) / rms(y) < 1.2


def test_noise_is_at_the_drawn_snr():
    y = speechlike()
    snrs = [snr_db(y, augment(y, 8000, "noise", 0, i).astype(np.float64) - y) for i in range(20)]
    assert SNR_DB[0] - 0.2 <= min(snrs)
    assert max(snrs) <= SNR_DB[1] + 0.2
    assert max(snrs) - min(snrs) > 3  # drawn per file, not one fixed level
    rng = np.random.default_rng(0)
    assert abs(snr_db(y, add_noise(y, 15.0, rng) - y) - 15.0) < 0.1


def test_pink_noise_has_more_power_at_low_frequencies():
    rng = np.random.default_rng(0)
    for exponent, lo_over_hi in [(0.0, (0.7, 1.4)), (1.0, (5.0, np.inf))]:
        x = coloured_noise(1 << 16, rng, exponent)
        p = np.abs(np.fft.rfft(x)) ** 2
        ratio = p[100:1000].mean() / p[10000:20000].mean()
        assert lo_over_hi[0] < ratio < lo_over_hi[1], (exponent, ratio)
        assert np.isclose(np.sqrt(np.mean(x**2)), 1.0)


def test_room_impulse_response_decays_60_db_in_rt60():
    rt60 = 0.4
    ir = room_impulse_response(8000, rt60, np.random.default_rng(0))
    assert len(ir) == int(rt60 * 8000)
    assert np.isclose(np.sum(ir**2), 1.0)
    e = ir[1:] ** 2  # the diffuse tail
    first, last = e[:400].mean(), e[-400:].mean()
    assert 45 < 10 * np.log10(first / last) < 65
    assert RT60_S[0] < RT60_S[1]


def test_bad_kinds():
    assert parse_kinds("noise, reverb") == ("noise", "reverb")
    assert parse_kinds("") == ()
    for empty in (",", "noise,", ",reverb", "noise,,reverb", " , "):
        with pytest.raises(ConfigError, match="empty augmentation kind"):
            parse_kinds(empty)
    with pytest.raises(ConfigError, match="echo"):
        parse_kinds("noise,echo")
    with pytest.raises(ConfigError, match="twice"):
        parse_kinds("noise,noise")
    with pytest.raises(ConfigError, match="unknown"):
        augment(speechlike(), 8000, "echo")


def test_extract_files_copies_do_not_depend_on_batching_or_processes():
    from pathlib import Path

    from speechgmm.features import extract_files

    paths = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.wav"))
    full = extract_files(paths, augment=("reverb", 1))[0]
    tail = extract_files(paths[2:], augment=("reverb", 1), first_index=2, jobs=2)[0]
    for a, b in zip(full[2:], tail):
        assert np.array_equal(a, b)
    clean = extract_files(paths[:1])[0][0]
    assert full[0].shape == clean.shape
    assert not np.allclose(full[0], clean)


def test_codec_copy_is_an_mp3_round_trip():
    """The codec copy is aligned with the original (no decoder delay: a delayed copy would not
    correlate) and carries the coding noise of its bit rate: more at a higher compression level."""
    from speechgmm.augment import mp3_round_trip

    rng = np.random.default_rng(0)
    y = (speechlike() + 0.05 * rng.standard_normal(8000)).astype(np.float32)
    snr = {}
    for level in (0.5, 0.9):
        z = mp3_round_trip(y, 8000, level)
        assert z.shape == y.shape and z.dtype == np.float32 and np.corrcoef(y, z)[0, 1] > 0.9
        snr[level] = snr_db(y, z.astype(np.float64) - y)
    assert 10 < snr[0.9] < snr[0.5] - 3 < 40, snr
    with pytest.raises(ConfigError, match="10000 Hz"):
        mp3_round_trip(y, 10000, 0.5)
