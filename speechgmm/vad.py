"""Speech detection that adapts to the noise floor and the recording level.

One decision per 10 ms frame, framed exactly as the MFCC front end frames the signal
(25 ms window, 10 ms hop, Kaldi snip-edges: frame ``t`` covers samples
``[t * hop, t * hop + win)``), so the mask can index feature frames directly.

The detector works in three steps, all vectorised over a block of frames:

1. **Energy above the noise floor.**  Each frame's RMS level in dBFS is compared with a
   noise floor tracked as the minimum of the (3-frame smoothed) level over the last
   ``floor_window_s`` seconds (*minimum statistics*), ignoring frames that touch digital
   silence (exact or near zeros: MP3 decoder delay, muted or zero-padded stretches).  Because the floor follows the
   recording, pauses at -60 or -45 dBFS, a constant hum and a 20 dB change of gain all give
   the same decisions; a fixed threshold gets at least one of them wrong.  A frame is
   *active* when it is ``off_db`` above the floor, and a run of active frames is kept only
   if it reaches ``on_db`` above the floor somewhere (hysteresis).
2. **Voicing.**  A run of active frames is speech only if it holds at least
   ``min_voiced_frames`` voiced frames: the normalised autocorrelation of the
   pre-emphasised frame peaks above ``voicing`` at a pitch lag (60-400 Hz).  This rejects
   bursts of noise (door slams, rustle, wind, white or pink noise), which are loud but
   aperiodic.  Unvoiced consonants inside a word are kept with the run they belong to.
3. **Steady sounds.**  Speech changes its spectrum within a tenth of a second, even in a held
   vowel, whose pitch drifts.  Held chords, organ, the notes of a tune do not: a frame whose
   spectral shape (log power over STEADY_BAND_HZ) is ``steady_similarity`` alike that of the
   frame ``steady_lag_ms`` before marks both as steady, and where steady frames are at least
   ``steady_share`` of the active frames of the ``steady_window_ms`` around a frame (and
   ``steady_min_ms`` in all), the frame is not speech, voiced or not.  Over 2 s, at most a
   quarter of the frames of speech are steady; of the 4,700 files of the four corpora, not
   one frame of speech is lost to this test.  Pure tones are not caught (the noise between
   their lines makes two frames unalike; a held vowel whose energy sits in its first two
   harmonics would look like them otherwise).
4. **Hangover.**  Kept runs are extended by ``hangover_ms`` on both sides (weak word onsets
   and endings), and pauses shorter than ``min_pause_ms`` between two kept runs are filled.

:class:`SpeechDetector` does the same on a stream, block by block, carrying the floor, the
framing remainder and any run open at the block's end to the next block, so a long recording
is processed in bounded memory.  :func:`detect_speech` is the whole-signal form (one block).

Only numpy is imported (the module is on the classify path).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> sr = 8000
>>> t = np.arange(sr) / sr
>>> buzz = 0.3 * np.sign(np.sin(2 * np.pi * (120 * t + 40 * t**2))) * np.hanning(sr)  # voiced, pitch rising
>>> room = 10 ** (-60 / 20) * rng.standard_normal(sr)                                 # -60 dBFS room noise
>>> y = np.concatenate([room, buzz + room[:sr], room]).astype(np.float32)
>>> m = detect_speech(y, sr)
>>> m.shape, bool(m[:90].any()), bool(m[140:160].all()), bool(m[-90:].any())
((298,), False, True, False)
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from speechgmm.errors import ConfigError

_TINY = 1e-12
#: digital silence: a run of at least DIGITAL_SILENCE_MS of samples within DIGITAL_SILENCE of zero
#: (about one 16-bit step).  MP3 decoder delay, muted or gated stretches, zero padding: frames
#: touching it, and the DIGITAL_SILENCE_GUARD_MS on either side (a decoder's fade in and out,
#: about 100 ms for MP3 at 8 kHz), say nothing about the room noise, so the noise floor ignores
#: them (a floor at digital zero makes every room-noise frame look like speech)
DIGITAL_SILENCE = 1.5 / 32768
DIGITAL_SILENCE_MS = 2.0
DIGITAL_SILENCE_GUARD_MS = 200.0
#: a frame this quiet (RMS, dBFS: within DIGITAL_SILENCE of zero throughout) is never speech, not even by
#: hangover or a bridged pause: its log-mel energies sit on the numerical floor, so its cepstra are far
#: from any speech (0.1 s of zeros around TI test files turned 7 % of them into other digits)
DIGITAL_SILENCE_DBFS = 20.0 * math.log10(DIGITAL_SILENCE)
#: the floor window needs this much audio away from digital silence for the guard to apply
DIGITAL_SILENCE_MIN_CLEAN_MS = 500.0
#: the band (Hz) whose spectral shape the steady-sound test compares: above most mains hum and rumble,
#: below the top of telephone audio
STEADY_BAND_HZ = (300.0, 3400.0)


@dataclasses.dataclass(frozen=True)
class VadConfig:
    """Speech-detector settings.

    Parameters
    ----------
    frame_length_ms, frame_shift_ms : float
        Framing (must match the front end that uses the mask).
    floor_window_s : float
        The noise floor is the minimum smoothed frame level over this many past seconds
        (at the start of a stream: over the first ``floor_window_s`` seconds).
    floor_below_peak_db, modulation_db : float
        Where the level in the window varies by at least ``modulation_db`` (as speech does;
        steady noise and hum do not), the floor is at least ``floor_below_peak_db`` below the
        window's loudest frame: a stretch without pauses, such as an end-pointed file, has no
        floor to measure.
    on_db, off_db : float
        Hysteresis: a run of frames at least ``off_db`` above the floor is kept if it
        reaches ``on_db`` above it.
    min_level_dbfs : float
        Frames below this RMS level (dBFS) are never speech (digital silence, dither).
    voicing : float
        Normalised autocorrelation a frame needs at a pitch lag to count as voiced.
    min_voiced_frames : int
        Voiced frames (followed by another voiced frame) a run needs to count as speech
        (rejects noise bursts); 0 disables the voicing test (energy only).
    voiced_share : float
        ... and voiced frames must be at least this share of the run's loud frames.
    hangover_ms : float
        Kept runs are extended by this much on both sides.
    min_pause_ms : float
        Pauses shorter than this between kept runs are filled.
    attach_ms : float
        A loud run without voicing is kept when it is this close to a kept voiced run (the
        unvoiced consonants of a word separated from it by a closure) and lasts at most
        ``attach_max_ms`` (longer aperiodic runs are noise).
    fmin, fmax : float
        Pitch range (Hz) of the voicing test.
    steady_similarity, steady_lag_ms, steady_window_ms, steady_share, steady_min_ms : float
        Steady sounds are not speech.  A frame whose spectral shape (``frame_shapes``) has a
        similarity of at least ``steady_similarity`` with the frame ``steady_lag_ms`` before it
        marks both and the frames between as steady, and where steady frames are at least
        ``steady_share`` of the loud frames in the ``steady_window_ms`` around a frame, and
        ``steady_min_ms`` in all (tones, beeps, held chords, an organ, notes of music), the frame
        is left out, voiced or not.  Speech changes its
        spectrum within a tenth of a second, even in a held vowel, whose pitch drifts: over 2 s,
        at most a quarter of its frames are steady.  ``steady_share=0`` turns the test off.
    """

    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    floor_window_s: float = 3.0
    floor_below_peak_db: float = 20.0
    modulation_db: float = 8.0
    on_db: float = 12.0
    off_db: float = 6.0
    min_level_dbfs: float = -75.0
    voicing: float = 0.4
    min_voiced_frames: int = 2
    voiced_share: float = 0.1
    hangover_ms: float = 50.0
    min_pause_ms: float = 100.0
    attach_ms: float = 300.0
    attach_max_ms: float = 400.0
    fmin: float = 60.0
    fmax: float = 400.0
    steady_similarity: float = 0.9
    steady_lag_ms: float = 100.0
    steady_window_ms: float = 2000.0
    steady_share: float = 0.5
    steady_min_ms: float = 600.0

    def __post_init__(self):
        _check_numbers(self)
        problems = [message for rule, message in _VAD_RULES if not rule(self)]
        if problems:
            raise ConfigError("invalid speech-detector settings: " + "; ".join(problems))

    def frames(self, ms: float) -> int:
        return int(round(ms / self.frame_shift_ms))


def _check_numbers(cfg) -> None:
    """Every setting must be a finite int or float (not a bool)."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"invalid speech-detector setting {f.name}={v!r}: must be a finite number")


def _whole_number(v) -> bool:
    return v >= 0 and int(v) == v


#: (rule the settings must satisfy, message when they do not), checked in this order
_VAD_RULES = (
    (lambda c: 0 < c.frame_shift_ms <= c.frame_length_ms <= 1000, "need 0 < frame_shift_ms <= frame_length_ms <= 1000"),
    (lambda c: 0 < c.floor_window_s <= 600, "floor_window_s must be in (0, 600]"),
    (
        lambda c: 0 < c.floor_below_peak_db <= 200 and 0 <= c.modulation_db <= 200,
        "floor_below_peak_db must be in (0, 200] and modulation_db in [0, 200]",
    ),
    (lambda c: 0 <= c.off_db <= c.on_db <= 100, "need 0 <= off_db <= on_db <= 100"),
    (lambda c: -200 < c.min_level_dbfs < 0, "min_level_dbfs must be in (-200, 0)"),
    (lambda c: 0 <= c.voiced_share <= 1, "voiced_share must be in [0, 1]"),
    (lambda c: 0 <= c.voicing < 1, "voicing must be in [0, 1)"),
    (lambda c: _whole_number(c.min_voiced_frames), "min_voiced_frames must be a whole number >= 0"),
    (
        lambda c: min(c.hangover_ms, c.min_pause_ms, c.attach_ms, c.attach_max_ms) >= 0,
        "hangover_ms, min_pause_ms, attach_ms and attach_max_ms must be >= 0",
    ),
    (lambda c: 0 < c.fmin < c.fmax, "need 0 < fmin < fmax"),
    (
        lambda c: (
            0 < c.steady_similarity <= 1
            and 0 < c.steady_lag_ms <= 1000
            and 0 <= c.steady_min_ms <= c.steady_window_ms <= 60000
            and 0 <= c.steady_share <= 1
        ),
        "need 0 < steady_similarity <= 1, 0 < steady_lag_ms <= 1000, 0 <= steady_min_ms <= steady_window_ms <= 60000"
        " and 0 <= steady_share <= 1",
    ),
)


def detector_config(config) -> VadConfig:
    """The detector settings for ``config``: a VadConfig as it is, the defaults for None, and for a
    FeatureConfig (anything with its framing fields) the defaults with its framing.  The one place
    that turns a front end into its detector (the whole-file front end and the streamed one)."""
    if config is None:
        return VadConfig()
    if isinstance(config, VadConfig):
        return config
    # a FeatureConfig (or anything with its framing fields): same framing, default detector
    try:
        return VadConfig(frame_length_ms=float(config.frame_length_ms), frame_shift_ms=float(config.frame_shift_ms))
    except AttributeError:
        raise ConfigError(f"speech-detector config must be a VadConfig, not {type(config).__name__}") from None


def _frames(y: np.ndarray, win: int, hop: int) -> np.ndarray:
    n = 1 + (len(y) - win) // hop
    if n < 1:
        return np.zeros((0, win), dtype=y.dtype)
    return np.lib.stride_tricks.as_strided(y, (n, win), (y.strides[0] * hop, y.strides[0]), writeable=False)


def _dc_removed(frames: np.ndarray) -> np.ndarray:
    x = np.asarray(frames, dtype=np.float32)
    return x - x.mean(axis=1, keepdims=True)


def _pre_emphasised(x: np.ndarray) -> np.ndarray:
    """Frames ``x`` (DC removed) pre-emphasised (0.95): whitens low-frequency noise (rumble, brown noise)
    that would otherwise correlate at short lags or fill the low bins; speech keeps its periodicity."""
    p = np.empty_like(x)
    p[:, 1:] = x[:, 1:] - 0.95 * x[:, :-1]
    p[:, 0] = 0.05 * x[:, 0]
    return p


def frame_levels(frames: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 400.0, voicing: bool = True):
    """Level (RMS dBFS, DC removed) and voicing (peak normalised autocorrelation at a pitch
    lag, of the pre-emphasised frame) of each frame.

    Returns
    -------
    level : ndarray, shape (n,), float32
    voiced : ndarray, shape (n,), float32 (zeros if ``voicing`` is false)
    """
    x = _dc_removed(frames)
    n, win = x.shape
    power = np.einsum("ij,ij->i", x, x) / max(win, 1)
    level = (10.0 * np.log10(np.maximum(power, _TINY))).astype(np.float32)
    if not voicing or n == 0:
        return level, np.zeros(n, dtype=np.float32)
    p = _pre_emphasised(x)
    # (averaging samples down to 4 kHz would cut the FFT work but aliases the pre-emphasised
    # highs into the pitch band: measured, it blurs the speech / noise separation)
    q = 1
    rate, w = sr / q, p.shape[1]
    lo, hi = max(2, int(rate / fmax)), min(w - 2, int(math.ceil(rate / fmin)))
    if hi <= lo:
        return level, np.zeros(n, dtype=np.float32)
    nfft = _fft_size(w + hi)
    spec = np.fft.rfft(p, n=nfft, axis=1)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, n=nfft, axis=1)[:, : hi + 1]
    lags = np.arange(lo, hi + 1)
    # unbiased normalisation by the overlap, relative to the zero-lag energy
    rn = r[:, lo:] * (w / (w - lags))[None, :] / np.maximum(r[:, :1], _TINY)
    return level, np.clip(rn.max(axis=1), 0.0, 1.0).astype(np.float32)


def frame_shapes(frames: np.ndarray, sr: int) -> np.ndarray:
    """Spectral shape of each frame, shape (n, n_bins), float32: the log power spectrum of the pre-emphasised,
    Hann-windowed frame over STEADY_BAND_HZ, mean removed and scaled to unit length (zeros for a frame without
    signal there), so that the dot product of two frames' shapes is their spectral similarity.  (A window of
    its own, not the voicing test's rectangular FFT: its leakage fills the valleys between a held note's
    partials differently as the note decays, and blurs how alike two frames are.)"""
    p = _pre_emphasised(_dc_removed(frames))
    w = p.shape[1]
    m = _fft_size(w)
    b0, b1 = (int(round(f * m / sr)) for f in STEADY_BAND_HZ)
    band = np.fft.rfft(p * _hann(w), n=m, axis=1)[:, b0 : min(b1, m // 2)]
    S = np.log(np.maximum(band.real**2 + band.imag**2, _TINY)).astype(np.float32)
    S -= S.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(S, axis=1, keepdims=True)
    return np.where(norm > 1e-6, S / np.maximum(norm, 1e-6), 0.0).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


def _fft_size(n: int) -> int:
    """Smallest 2^a 3^b >= n (pocketfft is fast on those; 384 instead of 512 for 8 kHz frames)."""
    best, p3 = 1 << max(0, (n - 1).bit_length()), 1
    while p3 < n:
        p3 *= 3
        m = p3
        while m < n:
            m *= 2
        best = min(best, m)
    return best


def _reduce(win: np.ndarray, *reducers) -> list:
    """Each reducer (``f(block, axis=1)``) over the rows of ``win``, 4096 rows at a time: numpy
    copies a strided window before reducing it, and one pass serves all reducers."""
    out = [np.empty(len(win), dtype=win.dtype) for _ in reducers]
    for a in range(0, len(win), 4096):
        block = win[a : a + 4096]
        for o, f in zip(out, reducers):
            o[a : a + 4096] = f(block, axis=1)
    return out


def _max_finite(block: np.ndarray, axis: int) -> np.ndarray:
    """Row maxima ignoring +inf (the values left out of the floor), -inf if none is left."""
    return np.where(np.isinf(block), -np.inf, block).max(axis=axis)


def _runs(mask: np.ndarray):
    """Start and end (exclusive) indices of the runs of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


class SpeechDetector:
    """Streaming speech detector (see the module docstring for the method).

    Parameters
    ----------
    sr : int
        Sample rate of the blocks in Hz.
    config : VadConfig or FeatureConfig, optional
        Detector settings; a FeatureConfig contributes its framing only.

    ``process(block)`` takes the next block of samples (1-D, any length, in [-1, 1]) and
    returns one bool per frame completed by it, so the concatenated outputs of all blocks
    equal one call on the whole signal up to decisions near block boundaries (a run that
    straddles a boundary is decided with what has been seen; hangover carries over).
    """

    def __init__(self, sr: int, config=None):
        self.config = cfg = detector_config(config)
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not (1000 <= int(sr) <= 384000):
            raise ConfigError(f"sample rate must be an integer between 1000 and 384000 Hz, not {sr!r}")
        self.sr = int(sr)
        self.win = int(round(self.sr * cfg.frame_length_ms / 1000.0))
        self.hop = int(round(self.sr * cfg.frame_shift_ms / 1000.0))
        self.n_floor = max(1, cfg.frames(cfg.floor_window_s * 1000.0))
        self._tail = np.zeros(0, dtype=np.float32)  # samples not yet consumed by a frame start
        self._hist = np.zeros(0, dtype=np.float32)  # smoothed levels of the last n_floor frames
        self._hist_unguarded = np.zeros(0, dtype=np.float32)  # the same, guard 0 (see _floor)
        self._hist_n = np.zeros(0, dtype=np.float32)  # 1 where _hist holds a measured level
        self._last = np.zeros(0, dtype=np.float32)  # last 2 raw levels (for smoothing)
        self._last_silent = np.zeros(0, dtype=bool)  # digital silence flags of the last guard + 2 frames
        self._hist_hi = np.zeros(0, dtype=np.float32)  # smoothed levels, digital silence included (for the peak)
        self.silence_run = max(1, int(round(self.sr * DIGITAL_SILENCE_MS / 1000.0)))
        self.silence_guard = cfg.frames(DIGITAL_SILENCE_GUARD_MS)
        self._open = None  # run open at the end of the last block:
        # dict(qualified=bool, voiced=int, peak_above=float)
        self._hang = 0  # hangover frames still owed to the next block
        self._gap = None  # frames since the last kept frame (None: none yet)
        self.frames_seen = 0
        # steady-sound test: the lag in frames (even: frames are tested every other frame), the shapes of
        # the tested frames of the last lag frames (absolute index, shape), and the steady flags of the
        # last half window (the frames after a block's end are not seen yet: its last half window is
        # decided on the frames it has)
        self.steady_lag = max(2, 2 * int(round(cfg.frames(cfg.steady_lag_ms) / 2)))
        self.steady_half = max(1, cfg.frames(cfg.steady_window_ms) // 2)
        self.steady_min = max(1, cfg.frames(cfg.steady_min_ms))
        self._shape_idx = np.zeros(0, dtype=np.int64)
        self._shape_vec = np.zeros((0, 0), dtype=np.float32)
        self._steady_hist = (np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))  # (steady, active)

    # ------------------------------------------------------------------------------------
    def _new_frames(self, block: np.ndarray) -> np.ndarray:
        y = np.concatenate([self._tail, np.asarray(block, dtype=np.float32).ravel()])
        F = _frames(y, self.win, self.hop)
        consumed = F.shape[0] * self.hop
        self._tail = y[consumed:].copy()
        return F

    def _floor(self, level: np.ndarray, silent: np.ndarray) -> np.ndarray:
        """Noise floor per frame: running minimum of the smoothed level over the last n_floor
        frames, leaving out smoothed levels that involve a frame within the guard of digital
        silence (on the far side of a block boundary, only the frames already seen count)."""
        cfg = self.config
        k = len(self._last)
        raw = np.concatenate([self._last, level]).astype(np.float64)
        touched = np.concatenate([self._last_silent, silent])
        g, k2 = self.silence_guard, len(self._last_silent)
        # causal 3-frame mean in the power domain: single-frame dips do not pull the floor down
        c = np.concatenate([[0.0], np.cumsum(10.0 ** (raw / 10.0))])
        t = np.concatenate([[0], np.cumsum(touched)])
        j = np.arange(k, len(raw))
        lo = np.maximum(0, j - 2)
        smooth = (10.0 * np.log10(np.maximum((c[j + 1] - c[lo]) / (j + 1 - lo), _TINY))).astype(np.float32)
        jt = np.arange(k2, len(touched))  # the same frames, indexed in ``touched``

        def away(guard):  # smoothed levels with no digital silence within ``guard`` frames, else inf
            n_silent = t[np.minimum(len(touched), jt + guard + 1)] - t[np.maximum(0, jt - 2 - guard)]
            return np.where(n_silent == 0, smooth, np.float32(np.inf))

        clean, unguarded = away(g), away(0)
        self._last, self._last_silent = raw[-2:].astype(np.float32), touched[-(g + 2) :].copy()
        W, need = self.n_floor, min(self.n_floor, self.config.frames(DIGITAL_SILENCE_MIN_CLEAN_MS))
        measured = np.isfinite(clean).astype(np.float32)
        if len(self._hist) == 0:
            # start of the stream: look ahead over the first window, for its quietest frame and for its
            # loudest (kept in the history's newest slot, which stays in view until the window holds the
            # frames themselves).  With the peak so far only, a lead-in pause whose own level moved by
            # modulation_db looked like speech and had its floor put floor_below_peak_db under itself: the
            # whole pause was speech (in 37 of 95 speechocean762 files, every 4th: about their first 0.5 s)
            self._hist = np.full(W - 1, float(clean[:W].min()), dtype=np.float32)
            peak = float(_max_finite(clean[None, :W], axis=1)[0])
            if W > 2 and np.isfinite(peak):
                self._hist[-1] = peak
            self._hist_n = np.full(W - 1, float(measured[:W].sum() >= need), dtype=np.float32)
            self._hist_unguarded = np.full(W - 1, float(unguarded[:W].min()), dtype=np.float32)
            self._hist_hi = np.full(W - 1, float(smooth[:W].max()), dtype=np.float32)
        lo, hi = _reduce(self._window(clean, "_hist"), np.min, _max_finite)
        # too little audio away from digital silence to measure the room (a short clip after an
        # MP3 decoder's delay, speech between the silences of a noise gate): every frame that
        # does not touch the silence counts (the histories are kept either way)
        (n_measured,) = _reduce(self._window(measured, "_hist_n"), np.sum)
        few = n_measured < need
        w_unguarded, w_all = self._window(unguarded, "_hist_unguarded"), self._window(smooth, "_hist_hi")
        if few.any():
            lo = np.where(few, _reduce(w_unguarded, np.min)[0], lo)
            hi = np.where(few, _reduce(w_all, np.max)[0], hi)
        # a stretch without pauses (an end-pointed file) has no floor to measure: where the
        # level moves as speech does (range >= modulation_db) the floor is kept at least
        # floor_below_peak_db under the loudest frame; steady noise or hum (small range) keeps
        # its measured floor
        lo = np.where(np.isinf(lo), hi - cfg.floor_below_peak_db, lo)
        floor = np.where(hi - lo >= cfg.modulation_db, np.minimum(lo, hi - cfg.floor_below_peak_db), lo)
        return np.maximum(floor, cfg.min_level_dbfs - cfg.on_db)

    def _window(self, values: np.ndarray, hist: str) -> np.ndarray:
        """The last n_floor values for each new value, a strided view of shape (len(values),
        n_floor); the history is kept in ``self.<hist>``."""
        W = self.n_floor
        past = getattr(self, hist)
        ext = np.concatenate([past[len(past) - (W - 1) :] if W > 1 else past[:0], values])
        setattr(self, hist, ext[len(ext) - (W - 1) :].copy() if W > 1 else ext[:0].copy())
        return _frames(ext, W, 1) if W > 1 else ext[:, None]

    def process(self, block) -> np.ndarray:
        """Decisions (bool, one per frame) for the frames completed by ``block``."""
        cfg = self.config
        F = self._new_frames(block)
        n = F.shape[0]
        self.frames_seen += n
        if n == 0:
            return np.zeros(0, dtype=bool)
        level, silent = self._levels(F)
        above = level - self._floor(level, silent)
        active = (above >= cfg.off_db) & (level >= cfg.min_level_dbfs)
        strong = active & (above >= cfg.on_db)
        is_voiced = self._voiced(F, strong) if cfg.min_voiced_frames > 0 else strong
        steady = self._steady(F, active) if cfg.steady_share > 0 else None
        if steady is not None and steady.any():  # a tone, a held chord, music: not speech, voiced or not
            active &= ~steady
            strong &= ~steady
            is_voiced &= ~steady
        kept = self._kept_runs(active, strong, is_voiced)
        self._fill_pauses(kept)
        out = self._hangover(kept)
        out &= level > DIGITAL_SILENCE_DBFS
        self._carry(kept)
        return out

    def _levels(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame levels, and whether each frame touches digital silence (a run of at least
        ``silence_run`` samples within DIGITAL_SILENCE of zero); 4096 frames at a time keep
        memory bounded for long blocks."""
        n = F.shape[0]
        level = np.empty(n, dtype=np.float32)
        silent = np.empty(n, dtype=bool)
        r = self.silence_run
        for a in range(0, n, 4096):
            b = min(n, a + 4096)
            level[a:b] = frame_levels(F[a:b], self.sr, voicing=False)[0]
            near = np.abs(F[a:b]) <= DIGITAL_SILENCE
            silent[a:b] = False
            rows = np.flatnonzero(np.count_nonzero(near, axis=1) >= r)  # candidates (usually none)
            if len(rows) and r <= near.shape[1]:
                c = np.zeros((len(rows), near.shape[1] + 1), dtype=np.int32)
                np.cumsum(near[rows], axis=1, out=c[:, 1:])
                silent[a + rows] = (c[:, r:] - c[:, :-r] == r).any(axis=1)
        return level, silent

    def _voiced(self, F: np.ndarray, strong: np.ndarray) -> np.ndarray:
        """Frames that pass the voicing test (needs ``frames_seen`` already counting this block)."""
        cfg = self.config
        n = F.shape[0]
        # the voicing test only where it can matter: frames well above the floor
        # (on every other frame: the voicing of speech lasts tens of ms, and the FFTs are
        # most of the detector's time)
        idx = np.flatnonzero(strong & ((np.arange(n) + self.frames_seen - n) % 2 == 0))
        hv = np.zeros(len(idx), dtype=bool)
        for a in range(0, len(idx), 4096):
            sel = idx[a : a + 4096]
            hv[a : a + len(sel)] = frame_levels(F[sel], self.sr, cfg.fmin, cfg.fmax)[1] >= cfg.voicing
        # a tested frame counts as voiced only when the next tested frame, 2 frames later, is
        # voiced too: speech is voiced for tens of ms at a stretch, noise reaches the
        # threshold in isolated frames
        pair = hv[:-1] & hv[1:] & (np.diff(idx) == 2)
        is_voiced = np.zeros(n, dtype=bool)
        is_voiced[idx[:-1][pair]] = True
        return is_voiced

    def _steady(self, F: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Active frames of this block in steady sound: each tested frame (every other active frame)
        whose shape is ``steady_similarity`` alike the tested frame ``steady_lag`` before it marks both
        and the frames between as steady, and an active frame is left out where steady frames are
        ``steady_share`` of the active frames in the window around it (pauses do not dilute a tune
        that ends in one) and ``steady_min`` in all."""
        n = F.shape[0]
        base = self.frames_seen - n
        idx = np.flatnonzero(active & ((np.arange(n) + base) % 2 == 0))
        shapes = [frame_shapes(F[idx[a : a + 4096]], self.sr) for a in range(0, len(idx), 4096)]
        tested = idx + base
        cfg, L, h = self.config, self.steady_lag, self.steady_half
        marked = np.zeros(n, dtype=bool)
        if shapes:
            shapes = np.concatenate(shapes)
            if self._shape_vec.shape[1] != shapes.shape[1]:
                self._shape_idx, self._shape_vec = np.zeros(0, dtype=np.int64), shapes[:0]
            all_idx = np.concatenate([self._shape_idx, tested])
            all_vec = np.concatenate([self._shape_vec, shapes])
            keep = all_idx >= base + n - L
            self._shape_idx, self._shape_vec = all_idx[keep], all_vec[keep]
            pos = np.minimum(np.searchsorted(all_idx, tested - L), len(all_idx) - 1)
            has = all_idx[pos] == tested - L
            sim = np.einsum("ij,ij->i", all_vec[pos[has]], shapes[has])
            ends = tested[has][sim >= cfg.steady_similarity] - base
            if len(ends):
                cover = np.zeros(n + 1, dtype=np.int32)  # +1 where a marked span starts, -1 after it ends
                np.add.at(cover, np.maximum(ends - L, 0), 1)
                np.add.at(cover, ends + 1, -1)
                marked = (np.cumsum(cover[:n]) > 0) & active
        past_marked, past_active = self._steady_hist
        ext_m, ext_a = np.concatenate([past_marked, marked]), np.concatenate([past_active, active])
        cut = max(0, len(ext_m) - h)
        self._steady_hist = (ext_m[cut:], ext_a[cut:])
        if not marked.any() and not past_marked.any():
            return np.zeros(n, dtype=bool)
        # share of steady frames among the active frames of the window [t - h, t + h] around each frame
        cm, ca = (np.concatenate([[0], np.cumsum(a)]) for a in (ext_m, ext_a))
        j = np.arange(len(past_marked), len(ext_m))
        lo, hi = np.maximum(0, j - h), np.minimum(len(ext_m), j + h + 1)
        n_steady = cm[hi] - cm[lo]
        return active & (n_steady >= cfg.steady_share * (ca[hi] - ca[lo])) & (n_steady >= self.steady_min)

    def _kept_runs(self, active: np.ndarray, strong: np.ndarray, is_voiced: np.ndarray) -> np.ndarray:
        """Frames of the active runs that count as speech; remembers a run open at the block's end."""
        cfg = self.config
        n = len(active)
        starts, ends = _runs(active)
        cs = np.concatenate([[0], np.cumsum(strong)])
        cv = np.concatenate([[0], np.cumsum(is_voiced)])
        kept = np.zeros(n, dtype=bool)
        n_strong, n_voiced = cs[ends] - cs[starts], cv[ends] - cv[starts]
        if len(starts) and starts[0] == 0 and self._open is not None:  # continues the last block's open run
            n_strong[0] += self._open["strong"]
            n_voiced[0] += self._open["voiced"]
        # enough voiced frames, and a share of the run's loud frames (a long burst of noise reaches the
        # voicing threshold now and then; speech is voiced for a good part of its loud frames)
        good = (n_strong > 0) & (n_voiced >= np.maximum(cfg.min_voiced_frames, cfg.voiced_share * n_strong / 2))
        # an unvoiced run next to speech (the /s/ of "six", a final /t/) belongs to it
        cand = (n_strong > 0) & ~good & (ends - starts <= cfg.frames(cfg.attach_max_ms))
        self._attach(starts, ends, good, cand)
        for s, e in zip(starts[good], ends[good]):
            kept[s:e] = True
        self._remember_open(starts, ends, cs, cv)
        return kept

    def _attach(self, starts: np.ndarray, ends: np.ndarray, good: np.ndarray, cand: np.ndarray) -> None:
        """Mark as good (in place) the candidate runs within ``attach_ms`` of a good run."""
        near = self.config.frames(self.config.attach_ms)
        if not (cand.any() and near):
            return
        gs, ge = starts[good], ends[good]
        far = near + 1
        for i in np.flatnonzero(cand):
            k = np.searchsorted(gs, starts[i])
            if k > 0:
                left = starts[i] - ge[k - 1]
            else:
                left = starts[i] + self._gap if self._gap is not None else far
            right = gs[k] - ends[i] if k < len(gs) else far
            if min(left, right) <= near:
                good[i] = True

    def _remember_open(self, starts: np.ndarray, ends: np.ndarray, cs: np.ndarray, cv: np.ndarray) -> None:
        """Remember a run open at the block's end (its strong and voiced frame counts so far)."""
        n = len(cs) - 1
        if not (len(ends) and ends[-1] == n):
            self._open = None
            return
        s = starts[-1]
        prev = self._open if (s == 0 and self._open is not None) else {"strong": 0, "voiced": 0}
        self._open = {"strong": int(cs[n] - cs[s]) + prev["strong"], "voiced": int(cv[n] - cv[s]) + prev["voiced"]}

    def _fill_pauses(self, kept: np.ndarray) -> None:
        """Fill (in place) short pauses between kept runs (a pause that began in the last block too)."""
        gap_max = self.config.frames(self.config.min_pause_ms)
        ks, ke = _runs(kept)
        for j in range(len(ks)):
            if j:
                if ks[j] - ke[j - 1] <= gap_max:
                    kept[ke[j - 1] : ks[j]] = True
            elif self._gap is not None and self._gap + ks[0] <= gap_max:
                kept[: ks[0]] = True

    def _hangover(self, kept: np.ndarray) -> np.ndarray:
        """Hangover on both sides of the kept runs, and what is owed from the last block."""
        n = len(kept)
        h = self.config.frames(self.config.hangover_ms)
        out = kept.copy()
        if h:
            ks, ke = _runs(kept)
            for s, e in zip(ks, ke):
                out[max(0, s - h) : s] = True
                out[e : min(n, e + h)] = True
            if self._hang:
                out[: min(n, self._hang)] = True
        return out

    def _carry(self, kept: np.ndarray) -> None:
        """Carry the hangover owed and the frames since the last kept frame to the next block."""
        n = len(kept)
        h = self.config.frames(self.config.hangover_ms)
        if kept.any():
            since = n - 1 - int(np.flatnonzero(kept)[-1])
            self._hang = max(0, h - since)
            self._gap = since
        else:
            self._hang = max(0, self._hang - n)
            self._gap = None if self._gap is None else self._gap + n


def detect_speech(y: np.ndarray, sr: int, config=None) -> np.ndarray:
    """Speech / non-speech decision per frame of a whole signal.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    config : VadConfig or FeatureConfig, optional

    Returns
    -------
    ndarray of bool, shape (n_frames,)
        ``n_frames = 1 + (len(y) - win) // hop`` (0 if ``y`` is shorter than one window).

    Notes
    -----
    If no run of frames passes the voicing test, the energy decisions are returned instead, when
    they hold at most MAX_UNVOICED_SECONDS (a short file of nothing but voiceless sounds is more
    likely a whispered, creaky or clipped word, such as an end-pointed "six", than noise bursts
    alone; seconds of them are noise); :class:`SpeechDetector` on a stream has no such fallback.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ConfigError(f"detect_speech expects a 1-D signal, got shape {y.shape}")
    det = SpeechDetector(sr, config)
    mask = det.process(y)
    if not mask.any() and det.config.min_voiced_frames > 0:
        # nothing passed the voicing test: a whispered, creaky or very short utterance is more
        # likely than a file of noise bursts, so fall back to the energy decisions (steady
        # noise, hum and silence still give nothing)
        energy = SpeechDetector(sr, dataclasses.replace(det.config, min_voiced_frames=0)).process(y)
        if speech_seconds(energy, det.config) <= MAX_UNVOICED_SECONDS:
            mask = energy
    return mask


#: the most speech :func:`detect_speech` takes from the energy decisions alone, when nothing is voiced: the
#: longest such file of the four corpora is an end-pointed TI "six" of 1.04 s; QA's files of white-noise
#: bursts (6.2 s) and of brown noise (3.1 s) had been classified
MAX_UNVOICED_SECONDS = 1.5


#: a file with less detected speech than this is not classified (its posterior would mean nothing)
MIN_SPEECH_SECONDS = 0.2


def short_speech_message(path, seconds: float) -> str:
    """The per-file message for too little speech to classify."""
    return (
        f"{path}: only {seconds:.2f} s of speech detected; at least {MIN_SPEECH_SECONDS:g} s is needed to classify it"
    )


def speech_seconds(mask: np.ndarray, config=None) -> float:
    """Seconds of speech in a frame mask (frames x shift)."""
    cfg = detector_config(config)
    return float(np.count_nonzero(mask)) * cfg.frame_shift_ms / 1000.0
