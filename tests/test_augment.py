"""Augmented copies for multi-condition training: deterministic, at the stated SNR / RT60."""

from __future__ import annotations

import numpy as np
import pytest

from speechgmm.augment import (
    KINDS,
    RT60_S,
    SNR_DB,
    TELEPHONE_HIGH_HZ,
    TELEPHONE_LOW_HZ,
    add_noise,
    augment,
    coloured_noise,
    mu_law,
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


def _band_power(y, sr, lo, hi):
    p = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    return p[(f >= lo) & (f < hi)].sum()


@pytest.mark.parametrize("sr", [8000, 16000])
def test_telephone_copies_lose_what_a_phone_line_does_not_carry(sr):
    """The band below the drawn lower edge and above the upper one is gone; the speech band stays; about half
    of the copies are mu-law companded (their quantisation noise sets them apart from the plain band-pass)."""
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(sr * 2)).astype(np.float32)  # white: every band has power
    companded = 0
    for i in range(40):
        z = augment(y, sr, "telephone", seed=0, index=i)
        keep = _band_power(z, sr, 800, 2500) / _band_power(y, sr, 800, 2500)
        assert 0.5 < keep < 4.0, keep  # brought back to its level: the band kept is louder
        assert _band_power(z, sr, 0, 100) < 1e-2 * _band_power(y, sr, 0, 100)  # mu-law noise is white
        if sr == 8000:  # the edge kept below 3.8 kHz
            assert _band_power(z, sr, 3800, 4000) < 0.05 * _band_power(y, sr, 3800, 4000)
        else:
            assert _band_power(z, sr, 5000, 8000) < 1e-2 * _band_power(y, sr, 5000, 8000)
        levels = np.unique(np.round(np.abs(z[np.abs(z) > 1e-6]).astype(np.float64), 9))
        companded += len(levels) <= 128  # mu-law to 8 bits: at most 128 magnitudes
    assert 10 <= companded <= 30, companded
    assert TELEPHONE_LOW_HZ[1] < 800 and TELEPHONE_HIGH_HZ[0] > 2500  # the band checked above is always kept


def test_mu_law_keeps_quiet_samples_finer_than_loud_ones():
    x = np.array([0.001, 0.0011, 0.5, 0.501])
    z = mu_law(x)
    assert z[0] != z[1]  # two quiet samples 1e-4 apart stay apart
    assert z[2] == z[3]  # two loud ones 1e-3 apart do not
    assert np.all(np.abs(z - x) <= 0.02 * np.maximum(np.abs(x), 0.01))


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


def test_a_dc_offset_does_not_set_the_level_of_the_noise():
    """The noise was scaled to the RMS of the samples with their DC offset: speech at half level plus a
    0.2 offset got noise 10-20 dB too loud, its noisy copies held no speech, and training failed."""
    y = speechlike()
    y -= y.mean()
    offset = y + 0.2
    for kind in ("noise", "reverb", "telephone"):
        a, b = augment(y, 8000, kind, 0, 3), augment(offset, 8000, kind, 0, 3)
        assert abs(np.std(a) - np.std(b)) < 0.05 * np.std(a), kind  # the same level of copy, offset or not
