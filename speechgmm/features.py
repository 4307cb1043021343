"""MFCC front end, vectorised over whole utterances.

The pipeline follows Kaldi's ``compute-mfcc-feats`` (snip-edges framing, DC removal,
pre-emphasis, Povey window, power spectrum on a power-of-two FFT, triangular mel filters
on the ``1127 ln(1 + f/700)`` scale, log, DCT, liftering), then optional per-utterance
CMVN, ``add-deltas`` (window 2) and an energy VAD.  All frames are processed at once with
numpy; there is no Python loop over frames.

The whole configuration is a :class:`FeatureConfig`, a small dataclass that round-trips
through JSON so a model file carries the exact front end it was trained with.

Examples
--------
>>> from speechgmm.features import FeatureConfig, extract_file
>>> cfg = FeatureConfig.preset("asr_course")
>>> X = extract_file("examples/male_AH_1A.wav", cfg)
>>> X.shape, X.dtype
((40, 39), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import stat
from typing import Any, NamedTuple, Optional

import numpy as np

from speechgmm.errors import AudioError, ConfigError, raise_bad_files

_EPS = float(np.finfo(np.float32).eps)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class _Rule(NamedTuple):
    """Constraint on one :class:`FeatureConfig` field: its type and, for numbers, an interval."""

    kind: type  # bool, int, float or str
    lo: Optional[float] = None  # None: unbounded
    hi: Optional[float] = None
    bounds: str = "[]"  # "[" or "(": lo allowed or excluded; "]" or ")": the same for hi
    choices: tuple[str, ...] = ()  # allowed strings
    hint: str = ""  # appended to the message

    def coerce(self, v):
        """JSON numbers to the field's type (an integral number may stand for a float)."""
        return float(v) if self.kind is float and _is_real(v) else v

    def check(self, name: str, v) -> Optional[str]:
        """The problem with value ``v`` of field ``name``, or None."""
        if self.kind is bool:
            return None if isinstance(v, (bool, np.bool_)) else f"{name} must be true/false, not {v!r}"
        if self.kind is str:
            if isinstance(v, str) and (not self.choices or v in self.choices):
                return None
            return f"{name} must be {' or '.join(self.choices) if self.choices else 'a string'}, not {v!r}"
        fits = _is_int(v) if self.kind is int else _is_real(v) and math.isfinite(v)
        if fits and self._in_range(v):
            return None
        what = "an integer" if self.kind is int else "a finite number"
        return f"{name} must be {what}{self._range_text()}{self.hint}, not {v!r}"

    def _in_range(self, v) -> bool:
        lo_ok = self.lo is None or v > self.lo or (v == self.lo and self.bounds[0] == "[")
        hi_ok = self.hi is None or v < self.hi or (v == self.hi and self.bounds[1] == "]")
        return lo_ok and hi_ok

    def _range_text(self) -> str:
        parts = ([f"{'>=' if self.bounds[0] == '[' else '>'} {self.lo:g}"] if self.lo is not None else []) + (
            [f"{'<=' if self.bounds[1] == ']' else '<'} {self.hi:g}"] if self.hi is not None else []
        )
        return (" " + " and ".join(parts)) if parts else ""


_NUM, _POS, _NONNEG = _Rule(float), _Rule(float, 0, None, "(]"), _Rule(float, 0)

#: Every :class:`FeatureConfig` field and its constraint, checked by one loop in
#: ``__post_init__`` (so by ``from_dict`` too).  A new field needs one line here.
#: Rules between fields are in :func:`_cross_field_problems`.
_RULES: dict[str, _Rule] = {
    "sr": _Rule(int, 1000, 384000, hint=" Hz"),
    "frame_length_ms": _Rule(float, 0, 1000, "(]", hint=" ms"),
    "frame_shift_ms": _Rule(float, 0, 1000, "(]", hint=" ms"),
    "n_fft": _Rule(int, 0, hint=" (0 = next power of two)"),
    "window": _Rule(str, choices=("povey", "hamming", "hann")),
    "preemph": _Rule(float, 0, 1, "[)"),
    "remove_dc": _Rule(bool),
    "n_mels": _Rule(int, 1),
    "fmin": _NONNEG,
    "fmax": _NUM,
    "n_mfcc": _Rule(int, 1),
    "lifter": _NONNEG,
    "use_energy": _Rule(bool),
    "scale": _Rule(float, 0, 1e6, "(]"),  # Kaldi's 32768 for 16-bit samples; far above, float32 overflows
    "cmn": _Rule(bool),
    "cvn": _Rule(bool),
    "c0_norm": _Rule(bool),
    "delta_order": _Rule(int, 0, 2),
    "delta_window": _Rule(int, 1),
    "vad": _Rule(bool),
    "vad_threshold_db": _POS,
    "vad_floor_db": _NUM,
    "vad_method": _Rule(str, choices=("adaptive", "peak")),
    "pitch": _Rule(bool),
    "fmin_pitch": _NUM,
    "fmax_pitch": _NUM,
}


def _cross_field_problems(c: FeatureConfig) -> list[str]:
    """Rules between fields (each field already passed its own rule)."""
    problems = []
    if c.win_length < 2 or c.hop_length < 1:
        problems.append("frame length must span >= 2 samples and the shift >= 1 sample")
    elif c.n_fft and c.n_fft < c.win_length:
        problems.append("n_fft must be >= the window length in samples")
    if c.n_mfcc > c.n_mels:
        problems.append("need 1 <= n_mfcc <= n_mels")
    hi = c.fmax if c.fmax > 0 else c.sr / 2 + c.fmax
    if not (c.fmin < hi <= c.sr / 2 + 1e-6):
        problems.append(f"need 0 <= fmin < fmax <= sr/2 (fmin={c.fmin}, fmax={hi})")
    if c.pitch and not (0 < c.fmin_pitch < c.fmax_pitch < c.sr / 2):
        problems.append("need 0 < fmin_pitch < fmax_pitch < sr/2")
    elif c.pitch and c.win_length >= 2 and c.sr / c.fmax_pitch >= c.win_length - 2:
        problems.append(f"fmax_pitch must be above {c.sr / (c.win_length - 2):.0f} Hz: its period must fit in a frame")
    if c.vad and c.frame_shift_ms > c.frame_length_ms:
        problems.append("speech detection needs frame_shift_ms <= frame_length_ms")
    return problems


#: fields added after model files and caches existed, with the default that those files mean by leaving them out
_LATER_FIELDS = {"c0_norm": False}


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Front-end configuration (Kaldi option names in brackets).

    Parameters
    ----------
    sr : int
        Sample rate in Hz the audio is resampled to [--sample-frequency].
    frame_length_ms, frame_shift_ms : float
        Analysis window and hop in milliseconds [--frame-length, --frame-shift].
    n_fft : int
        FFT size; 0 means the next power of two of the window length (Kaldi's default).
    window : {"povey", "hamming", "hann"}
        Window function [--window-type].
    preemph : float
        Pre-emphasis coefficient [--preemphasis-coefficient].
    remove_dc : bool
        Subtract each frame's mean [--remove-dc-offset].
    n_mels : int
        Number of triangular mel filters [--num-mel-bins].
    fmin, fmax : float
        Filterbank edges in Hz; ``fmax <= 0`` means Nyquist plus ``fmax`` [--low-freq, --high-freq].
    n_mfcc : int
        Cepstra kept, including c0 [--num-ceps].
    lifter : float
        Cepstral liftering coefficient; 0 disables [--cepstral-lifter].
    use_energy : bool
        Replace c0 by the frame log-energy [--use-energy].
    scale : float
        Multiplier applied to [-1, 1] samples; 32768 reproduces Kaldi's int16 scaling.
    cmn, cvn : bool
        Per-utterance cepstral mean (and variance) normalisation of the static coefficients.
    c0_norm : bool
        Level normalisation: c0 (or the log-energy) minus its mean over the speech frames, the
        other cepstra left as they are.  A gain changes c0 alone (it adds a constant to every
        log-mel energy), so this takes the recording level out and keeps the spectral shape that
        identifies a speaker (the ``speaker_any_level`` preset; with ``cmn`` it changes nothing).
    delta_order : int
        0 (statics only), 1 (+delta) or 2 (+delta-delta) [add-deltas --delta-order].
    delta_window : int
        Half-width of the delta regression window [add-deltas --delta-window].
    vad : bool
        Drop frames whose log-energy is more than ``vad_threshold_db`` below the utterance's
        loudest frame (and below ``vad_floor_db`` dBFS).
    vad_threshold_db, vad_floor_db : float
        Thresholds of the ``peak`` VAD.
    vad_method : {"adaptive", "peak"}
        ``adaptive``: :func:`speechgmm.vad.detect_speech` (noise-floor tracking, hysteresis,
        voicing test, hangover; the presets use it).  ``peak``: frames within
        ``vad_threshold_db`` of the loudest frame and above ``vad_floor_db`` dBFS (what
        model files written before ``vad_method`` existed used; they keep it).
    pitch : bool
        Append two pitch features per frame (see :func:`pitch_features`): log F0 and the
        normalised autocorrelation peak (voicing strength), with their deltas.
    fmin_pitch, fmax_pitch : float
        F0 search range in Hz.
    """

    sr: int = 8000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    n_fft: int = 0
    window: str = "povey"
    preemph: float = 0.97
    remove_dc: bool = True
    n_mels: int = 23
    fmin: float = 20.0
    fmax: float = 0.0
    n_mfcc: int = 13
    lifter: float = 22.0
    use_energy: bool = False
    scale: float = 32768.0
    cmn: bool = True
    cvn: bool = False
    c0_norm: bool = False
    delta_order: int = 2
    delta_window: int = 2
    vad: bool = False
    vad_threshold_db: float = 40.0
    vad_floor_db: float = -60.0
    vad_method: str = "peak"
    pitch: bool = False
    fmin_pitch: float = 60.0
    fmax_pitch: float = 400.0

    def __post_init__(self):
        problems = [p for name, rule in _RULES.items() if (p := rule.check(name, getattr(self, name)))]
        if not problems:
            problems = _cross_field_problems(self)
        if problems:
            raise ConfigError("invalid feature configuration: " + "; ".join(problems))

    # derived quantities --------------------------------------------------------------
    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return int(round(self.sr * self.frame_length_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        """Frame shift in samples."""
        return int(round(self.sr * self.frame_shift_ms / 1000.0))

    @property
    def fft_size(self) -> int:
        return self.n_fft or 1 << max(0, (self.win_length - 1).bit_length())

    @property
    def dim(self) -> int:
        """Feature dimension: ``(n_mfcc + 2 * pitch) * (delta_order + 1)``."""
        return (self.n_mfcc + 2 * int(self.pitch)) * (self.delta_order + 1)

    # serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields (numpy scalars given to the constructor become Python ones);
        a field added later (:data:`_LATER_FIELDS`) only when it is not at its default, so that the files
        and caches of a front end that does not use it stay as they were written."""
        d = {k: v.item() if isinstance(v, np.generic) else v for k, v in dataclasses.asdict(self).items()}
        for k, default in _LATER_FIELDS.items():
            if d.get(k) == default:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        """Build from :meth:`to_dict` output; unknown keys or bad values raise ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError("feature configuration must be a JSON object")
        unknown = sorted(set(d) - set(_RULES))
        if unknown:
            raise ConfigError(f"unknown feature option(s): {', '.join(unknown)}")
        # JSON writes 20.0 as 20.0 but a hand-written file may say 20: numbers become floats here
        return cls(**{k: _RULES[k].coerce(v) for k, v in d.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes) -> FeatureConfig:
        return dataclasses.replace(self, **changes)

    def preset_name(self) -> Optional[str]:
        """The name of the preset this configuration equals (:data:`PRESETS`, in their order), or None."""
        return next((name for name in PRESETS if FeatureConfig.preset(name) == self), None)

    @classmethod
    def preset(cls, name: str) -> FeatureConfig:
        """Return a named preset (see :data:`PRESETS`)."""
        try:
            return cls(**PRESETS[name])
        except KeyError:
            raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(sorted(PRESETS))})") from None


#: Named front-end presets.
#:
#: All presets work at 8 kHz: telephone-band audio has nothing above 4 kHz, and wideband
#: (16/44.1/48 kHz) recordings are resampled down by soxr on loading, so one model serves
#: both kinds of input and the features of a phone call and of a studio recording of the
#: same voice are comparable.  Samples are scaled to the int16 range (``scale=32768``) as
#: Kaldi does, whatever the file's sample format, so c0/energy mean the same for every file.
#:
#: ``asr_course``  Kaldi MFCC exactly as the course computed ``03-GMM-EM/*/feats.ark``:
#:                 8 kHz, 25/10 ms, Povey window, 23 mel bins from 20 Hz to Nyquist, 13 cepstra
#:                 with c0 (no energy), lifter 22, per-utterance mean normalisation,
#:                 deltas + delta-deltas (39 dims); no dither (Kaldi's is random).  Checked
#:                 by ``benchmarks/match_kaldi.py`` (per-dim corr >= 0.998 on all 440 utts).
#: ``default``     the same plus speech detection (:mod:`speechgmm.vad`): pauses, room noise
#:                 and noise bursts are dropped, and the mean normalisation statistics come
#:                 from speech frames only.  The CLI default; best for word (keyword/digit) models.
#: ``gender``      ``default`` with variance normalisation too (over the speech frames): the bundled
#:                 gender model's front end, chosen on corpora it did not train on (README "Will it work
#:                 on my audio?"); on a single corpus ``default`` does as well or better.
#: ``speaker``     no CMN: the long-term spectral shape carries speaker and gender information
#:                 (CMN cost ~13 points of speaker-ID accuracy here); with speech detection
#:                 (``adaptive``), which keeps the weak speech sounds that the older ``peak`` energy
#:                 VAD (40 dB below the loudest frame) dropped: TI test speakers 0.9639 -> 0.9676,
#:                 s-norm EER 2.49 % -> 1.87 % (README "Recognise speakers").
PRESETS: dict[str, dict[str, Any]] = {
    "asr_course": {},
    "default": {"vad": True, "vad_method": "adaptive"},
    "gender": {"vad": True, "vad_method": "adaptive", "cvn": True},
    "speaker": {"cmn": False, "vad": True, "vad_method": "adaptive"},
    # the speaker front end with the recording level taken out (c0_norm): for enrolments and probes whose
    # levels differ; 1.5 points of TI identification lost, where each speaker's level is a cue (README)
    "speaker_any_level": {"cmn": False, "c0_norm": True, "vad": True, "vad_method": "adaptive"},
}


# --- building blocks -----------------------------------------------------------------


def as_config(config, default: str = "default") -> FeatureConfig:
    """``config`` as a FeatureConfig: None -> the preset ``default``, a preset name -> that preset.

    Anything else is a ConfigError naming its type (QA: a preset name or a dict reached an
    AttributeError deep inside the front end).
    """
    if config is None:
        return FeatureConfig.preset(default)
    if isinstance(config, str):
        return FeatureConfig.preset(config)
    if not isinstance(config, FeatureConfig):
        raise ConfigError(
            f"the front end must be a FeatureConfig or a preset name ({', '.join(PRESETS)}), "
            f"not {type(config).__name__}"
        )
    return config


def as_samples(y) -> np.ndarray:
    """``y`` as float32 samples in [-1, 1]: integer PCM is scaled by its full scale, as a WAV reader
    would (QA: int16 arrays went in 32768 times too loud): uint8 around 128, int8 by 128, other integers
    by 32768 when they fit in 16 bits (``np.array(list_of_int16_values)`` is int64), else by their
    type's.  Floats are taken as they are, as from a float WAV: in [-1, 1] for the level (c0) that models
    trained on files expect (QA: int16 values as floats raised the mean c0 of the ``speaker`` front end from 84
    to 184)."""
    y = np.asarray(y)
    if y.dtype == np.bool_ or not (np.issubdtype(y.dtype, np.number)):
        raise ConfigError(f"samples must be numbers, not {y.dtype}")
    if np.issubdtype(y.dtype, np.complexfloating):
        raise ConfigError("samples must be real, not complex")
    if np.issubdtype(y.dtype, np.integer):
        x = y.astype(np.float64)
        if np.issubdtype(y.dtype, np.unsignedinteger):
            half = float(np.iinfo(y.dtype).max // 2 + 1)
            return ((x - half) / half).astype(np.float32)
        peak = float(np.abs(x).max()) if x.size else 0.0
        full = 128.0 if y.dtype == np.int8 else 32768.0 if peak <= 32768 else -float(np.iinfo(y.dtype).min)
        return (x / full).astype(np.float32)
    return y.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=32)
def _window(kind: str, n: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float64)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * i / (n - 1))
    if kind == "povey":
        w = hann**0.85
    elif kind == "hamming":
        w = 0.54 - 0.46 * np.cos(2 * np.pi * i / (n - 1))
    else:
        w = hann
    return w.astype(np.float32)


def mel_scale(f):
    """Hz to mel, Kaldi/HTK natural-log form ``1127 ln(1 + f/700)``."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=32)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters as in Kaldi's ``MelBanks``.

    Returns
    -------
    ndarray, shape (n_fft // 2 + 1, n_mels), float32
        Weight of each FFT bin (rows; the Nyquist bin has weight 0) in each filter.
    """
    hi = fmax if fmax > 0 else sr / 2 + fmax
    lo_mel, hi_mel = mel_scale(fmin), mel_scale(hi)
    delta = (hi_mel - lo_mel) / (n_mels + 1)
    b = np.arange(n_mels)[:, None]
    left, center, right = lo_mel + b * delta, lo_mel + (b + 1) * delta, lo_mel + (b + 2) * delta
    nbins = n_fft // 2
    mel = mel_scale(np.arange(nbins) * (sr / n_fft))[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    w = np.where((mel > left) & (mel < right), np.where(mel <= center, up, down), 0.0)
    out = np.zeros((n_fft // 2 + 1, n_mels), dtype=np.float32)
    out[:nbins] = w.T
    return out


@functools.lru_cache(maxsize=32)
def _dct_lifter(n_mels: int, n_mfcc: int, lifter: float) -> np.ndarray:
    """Kaldi's DCT-II matrix (rows scaled sqrt(1/N), sqrt(2/N)) times the lifter; (n_mels, n_mfcc)."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    m = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    m[0] *= np.sqrt(0.5)
    if lifter:
        m *= (1.0 + 0.5 * lifter * np.sin(np.pi * np.arange(n_mfcc) / lifter))[:, None]
    return np.ascontiguousarray(m.T, dtype=np.float32)


def frame_signal(y: np.ndarray, win_length: int, hop_length: int) -> np.ndarray:
    """Split ``y`` into overlapping frames with Kaldi's snip-edges convention.

    Returns
    -------
    ndarray, shape (n_frames, win_length)
        ``n_frames = 1 + (len(y) - win_length) // hop_length``; a view, not a copy.
    """
    n = 1 + (len(y) - win_length) // hop_length
    if n < 1:
        return np.zeros((0, win_length), dtype=y.dtype)
    step = y.strides[0]
    return np.lib.stride_tricks.as_strided(y, (n, win_length), (step * hop_length, step), writeable=False)


@functools.lru_cache(maxsize=8)
def _delta_filters(order: int, window: int) -> tuple:
    """Kaldi add-deltas filters: order 1 is the regression filter, order k its k-fold convolution."""
    w = np.arange(-window, window + 1, dtype=np.float64)
    w /= 2.0 * np.sum(np.arange(1, window + 1) ** 2)
    filters = [np.array([1.0])]
    for _ in range(order):
        filters.append(np.convolve(filters[-1], w))
    return tuple(filters)


def add_deltas(X: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Append delta (and delta-delta) coefficients, as Kaldi ``add-deltas``.

    Edge frames are replicated.  Delta-deltas use the convolution of the delta filter with
    itself (a 9-tap filter for window 2), not the delta of deltas computed separately.

    Parameters
    ----------
    X : ndarray, shape (n_frames, n_dims)
    order : int
        Highest order (0, 1 or 2).
    window : int
        Half-width of the regression window (2 = five frames).

    Returns
    -------
    ndarray, shape (n_frames, n_dims * (order + 1)), float32
    """
    X = np.asarray(X, dtype=np.float32)
    if order == 0:
        return X
    T = X.shape[0]
    filters = _delta_filters(order, window)
    half = order * window
    # edge-clamped padding, then each output frame is a weighted sum of shifted copies
    P = np.concatenate([np.repeat(X[:1], half, 0), X, np.repeat(X[-1:], half, 0)]) if T else X
    out = [X]
    for f in filters[1:]:
        h = (len(f) - 1) // 2
        acc = np.zeros_like(X)
        for j, c in enumerate(f):
            if c != 0.0:
                start = half - h + j
                acc += np.float32(c) * P[start : start + T]
        out.append(acc)
    return np.concatenate(out, axis=1)


def cmvn(X: np.ndarray, variance: bool = False, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-utterance cepstral mean (and variance) normalisation.

    Parameters
    ----------
    X : ndarray, shape (n_frames, n_dims)
    variance : bool
        Also scale each dimension to unit variance.
    mask : ndarray of bool, shape (n_frames,), optional
        Frames used to compute the statistics (e.g. VAD speech frames).
    """
    if X.shape[0] == 0:
        return np.asarray(X, dtype=np.float32)
    ref = X if mask is None or not mask.any() else X[mask]
    X = X - ref.mean(axis=0, dtype=np.float64).astype(np.float32)
    if variance:
        sd = ref.std(axis=0, dtype=np.float64).astype(np.float32)
        X = X / np.maximum(sd, 1e-5)
    return X


def vad(log_energy: np.ndarray, threshold_db: float = 40.0, floor: Optional[float] = None) -> np.ndarray:
    """Energy VAD: keep frames within ``threshold_db`` of the utterance's loudest frame.

    Parameters
    ----------
    log_energy : ndarray, shape (n_frames,)
        Natural-log frame energy (sum of squared samples).
    threshold_db : float
        Frames more than this many dB below the loudest frame are dropped.
    floor : float, optional
        Absolute floor on ``log_energy``; frames at or below it are dropped too.

    Returns
    -------
    ndarray of bool, shape (n_frames,)
    """
    log_energy = np.asarray(log_energy)
    if log_energy.size == 0:
        return np.zeros(0, dtype=bool)
    db = (10.0 / np.log(10.0)) * log_energy
    keep = db >= db.max() - threshold_db
    if floor is not None:
        keep &= log_energy > floor
    return keep


def pitch_features(frames: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 400.0) -> np.ndarray:
    """Per-frame log F0 and voicing strength from the normalised autocorrelation.

    For each (DC-removed) frame the autocorrelation is computed with an FFT; the lag with
    the highest normalised autocorrelation in ``[sr / fmax, sr / fmin]`` gives F0
    (refined by parabolic interpolation).  Unvoiced frames get a low voicing value and an
    F0 that the GMM learns to discount through the joint density.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, win_length)
    sr : int
        Sample rate in Hz.
    fmin, fmax : float
        F0 search range in Hz.

    Returns
    -------
    ndarray, shape (n_frames, 2), float32
        Columns: ``log(F0 / Hz)``, normalised autocorrelation peak in [-1, 1].
    """
    n = frames.shape[1]
    nfft = 1 << (2 * n - 1).bit_length()
    spec = np.fft.rfft(frames.astype(np.float64), n=nfft, axis=1)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, n=nfft, axis=1)[:, :n]
    lo, hi = max(2, int(sr / fmax)), min(n - 2, int(np.ceil(sr / fmin)))
    # normalise by the overlap length (unbiased) and by energy
    lags = np.arange(n)
    rn = r[:, lo : hi + 1] / (n - lags[lo : hi + 1]) * n / np.maximum(r[:, :1], 1e-10)
    # prefer the shortest lag whose peak is close to the best one (avoids octave-down errors)
    best = rn.max(axis=1, keepdims=True)
    pad = np.pad(rn, ((0, 0), (1, 1)), mode="edge")
    is_peak = (rn >= pad[:, :-2]) & (rn >= pad[:, 2:]) & (rn >= 0.85 * best)
    k = np.argmax(is_peak, axis=1)
    peak = rn[np.arange(len(k)), k]
    # parabolic refinement around the peak
    left = rn[np.arange(len(k)), np.maximum(k - 1, 0)]
    right = rn[np.arange(len(k)), np.minimum(k + 1, rn.shape[1] - 1)]
    den = left - 2 * peak + right
    off = np.where(np.abs(den) > 1e-12, 0.5 * (left - right) / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
    lag = lo + k + np.clip(off, -0.5, 0.5)
    return np.stack([np.log(sr / lag), np.clip(peak, -1.0, 1.0)], axis=1).astype(np.float32)


#: the message for a file in which the speech detection finds nothing
NO_SPEECH = "no speech detected"


def speech_mask(y: np.ndarray, cfg: FeatureConfig, log_e: Optional[np.ndarray] = None) -> np.ndarray:
    """Speech frames of ``y`` (samples in [-1, 1] at ``cfg.sr``) by the front end's VAD.

    ``log_e``: the frames' natural-log energies at ``cfg.scale`` (computed if not given; the
    ``peak`` method uses them).
    """
    if cfg.vad_method == "adaptive":
        from speechgmm.vad import detect_speech

        return detect_speech(y, cfg.sr, cfg)
    if log_e is None:
        F = frame_signal(np.asarray(y, dtype=np.float32) * np.float32(cfg.scale), cfg.win_length, cfg.hop_length)
        F = F - F.mean(axis=1, keepdims=True)
        log_e = np.log(np.maximum(np.einsum("ij,ij->i", F, F), _EPS))
    # floor: a frame whose RMS is vad_floor_db below full scale
    floor = math.log(10 ** (cfg.vad_floor_db / 10) * cfg.win_length * cfg.scale**2)
    return vad(log_e, cfg.vad_threshold_db, floor)


#: an utterance whose loudest frame has an RMS below this (dB re full scale) is all silence
SILENCE_FRAME_DBFS = -70.0
#: ... and one with no speech detected whose loudest frame is below this may be speech recorded far too
#: quietly (speech peaking at -60 dBFS: 20 of 40 TI files and 11 of 60 LibriSpeech files "no speech"), and
#: is told so
QUIET_FRAME_DBFS = -45.0

#: frames processed per block: bounds the memory of long recordings (~4 MB per block at 8 kHz)
#: while keeping each numpy call large enough to be efficient
_BLOCK = 4096


def _cepstra_block(frames: np.ndarray, cfg: FeatureConfig):
    """Static cepstra of a block of frames.

    Parameters
    ----------
    frames : ndarray, shape (n, win_length), float32
        Scaled, DC-removed frames; modified in place.

    Returns
    -------
    C : ndarray, shape (n, n_mfcc), float32
    pitch : ndarray, shape (n, 2) or None
    """
    pitch = pitch_features(frames, cfg.sr, cfg.fmin_pitch, cfg.fmax_pitch) if cfg.pitch else None
    if cfg.preemph:
        p = np.float32(cfg.preemph)
        frames[:, 1:] -= p * frames[:, :-1]  # the product is a new array: no aliasing
        frames[:, 0] *= 1 - p
    # window straight into a zero-padded FFT buffer
    buf = np.zeros((frames.shape[0], cfg.fft_size), dtype=np.float32)
    np.multiply(frames, _window(cfg.window, cfg.win_length), out=buf[:, : cfg.win_length])
    # numpy's FFT (pocketfft, like scipy's): in float64 it runs as fast as scipy.fft does in
    # float32 (measured), and it keeps scipy.fft -- 0.3 s to import -- off the classify path
    spec = np.fft.rfft(buf.astype(np.float64), axis=1).astype(np.complex64)
    # |X|^2 @ fb == (re^2, im^2 interleaved) @ (fb with each row repeated): one in-place square
    sq = spec.view(np.float32)
    np.square(sq, out=sq)
    mel = sq @ _mel_filterbank_interleaved(cfg.sr, cfg.fft_size, cfg.n_mels, float(cfg.fmin), float(cfg.fmax))
    np.maximum(mel, _EPS, out=mel)
    np.log(mel, out=mel)
    return mel @ _dct_lifter(cfg.n_mels, cfg.n_mfcc, float(cfg.lifter)), pitch


@functools.lru_cache(maxsize=32)
def _mel_filterbank_interleaved(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """:func:`mel_filterbank` with every row repeated, for spectra viewed as (re, im) float pairs;
    shape (2 * (n_fft // 2 + 1), n_mels)."""
    return np.ascontiguousarray(np.repeat(mel_filterbank(sr, n_fft, n_mels, fmin, fmax), 2, axis=0))


def _static_features(y: np.ndarray, cfg: FeatureConfig):
    """Static cepstra, frame log-energies and optional pitch of a scaled signal, block by block.

    Returns
    -------
    C : ndarray, shape (n_frames, n_mfcc), float32
    log_e : ndarray, shape (n_frames,), float32
    pitch : ndarray, shape (n_frames, 2) or None
    """
    view = frame_signal(y, cfg.win_length, cfg.hop_length)
    n = view.shape[0]
    C = np.empty((n, cfg.n_mfcc), dtype=np.float32)
    log_e = np.empty(n, dtype=np.float32)
    pitch = np.empty((n, 2), dtype=np.float32) if cfg.pitch else None
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        frames = np.array(view[a:b], dtype=np.float32)
        if cfg.remove_dc:
            frames -= frames.mean(axis=1, keepdims=True)
        log_e[a:b] = np.log(np.maximum(np.einsum("ij,ij->i", frames, frames), _EPS))
        C[a:b], p = _cepstra_block(frames, cfg)
        if pitch is not None:
            pitch[a:b] = p
    return C, log_e, pitch


def mfcc(y: np.ndarray, sr: int, config: Optional[FeatureConfig] = None) -> np.ndarray:
    """MFCC (+ deltas) of a mono signal.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Samples: floats in [-1, 1], or integer PCM such as int16, scaled by its type's full scale
        (multiplied by ``config.scale`` after that).
    sr : int
        Sample rate of ``y`` in Hz; must equal ``config.sr`` (resample first, e.g. with
        :func:`speechgmm.audio.load_audio`).
    config : FeatureConfig or str, optional
        Front end, or a preset name (``"speaker"``); default ``FeatureConfig.preset("default")``.

    Returns
    -------
    ndarray, shape (n_frames, config.dim), float32

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    >>> mfcc(y, 8000, FeatureConfig.preset("asr_course")).shape  # noise: no speech for "default"
    (98, 39)
    """
    from speechgmm.audio import _check_target_rate, sample_problem

    cfg = as_config(config)
    _check_target_rate(sr)
    if sr is None or sr != cfg.sr:
        raise ConfigError(f"signal is {sr} Hz but the front end expects {cfg.sr} Hz; resample first")
    y = as_samples(y)
    if y.ndim != 1:
        raise ConfigError(f"mfcc expects a 1-D signal, got shape {y.shape}")
    if len(y) < cfg.win_length:
        raise AudioError(f"signal shorter than one frame ({len(y)} < {cfg.win_length} samples)")
    problem = sample_problem(y)
    if problem:
        raise AudioError(f"signal {problem}")
    C, log_e, pitch = _static_features(y * np.float32(cfg.scale), cfg)
    return features_from_statics(C, log_e, pitch, cfg, lambda: speech_mask(y, cfg, log_e))


def features_from_statics(C, log_e, pitch, cfg: FeatureConfig, speech) -> np.ndarray:
    """The end of the front end, shared by :func:`mfcc` and the streamed one
    (:func:`speechgmm.stream.streamed_features`): silence check, speech frames, mean
    normalisation, deltas.

    Parameters
    ----------
    C : ndarray, shape (n_frames, n_mfcc), float32
        Static cepstra (modified in place).
    log_e : ndarray, shape (n_frames,)
        Natural-log frame energies at ``cfg.scale``.
    pitch : ndarray, shape (n_frames, 2) or None
    speech : callable
        ``speech()`` gives the speech mask, shape (n_frames,); called only with ``cfg.vad``.

    Returns
    -------
    ndarray, shape (n_speech_frames, cfg.dim), float32
    """
    # loudest frame's RMS in dBFS: log_e is the log of the frame's sum of squares at `scale`
    loudest = 10.0 / math.log(10.0) * (float(log_e.max()) - math.log(cfg.win_length * cfg.scale**2))
    if loudest < SILENCE_FRAME_DBFS:
        raise AudioError(
            f"audio is all silence or too quiet to use (loudest {cfg.frame_length_ms:g} ms frame "
            f"{loudest:.1f} dBFS RMS, threshold {SILENCE_FRAME_DBFS:g})"
        )
    if cfg.use_energy:
        C[:, 0] = log_e
    mask = None
    if cfg.vad:
        mask = speech()
        if not mask.any():
            quiet = f" (its loudest frame is at {loudest:.0f} dBFS: speech that quiet needs more gain)"
            raise AudioError(NO_SPEECH + (quiet if loudest < QUIET_FRAME_DBFS else ""))
        C, pitch = fill_digital_silence(log_e, cfg, C, pitch)
    if cfg.cmn or cfg.cvn:
        C = cmvn(C, variance=cfg.cvn, mask=mask)
    elif cfg.c0_norm:
        C[:, :1] = cmvn(C[:, :1], mask=mask)
    if cfg.pitch:
        C = np.concatenate([C, pitch], axis=1)
    X = _deltas_of_kept(C, mask, cfg.delta_order, cfg.delta_window)
    if not np.all(np.isfinite(X)):  # e.g. a huge `scale` overflowing float32; no NaN leaves the front end
        raise AudioError("features are not finite (the samples times `scale` overflow float32)")
    return X


def fill_digital_silence(log_e: np.ndarray, cfg: FeatureConfig, *arrays: Optional[np.ndarray]) -> tuple:
    """``arrays`` (per-frame rows, e.g. the cepstra and the pitch features; None passes through) with the
    rows of digital-silence frames (RMS within :data:`speechgmm.vad.DIGITAL_SILENCE` of zero) replaced by
    the nearest other frame's: such a frame holds no signal, so next to it speech gets the deltas of a
    file's edge, as if the silence were not there (zeros around a file used to give the speech next to
    them deltas of c0 of 100 or more, and changed its digit).  The frames are found once for all arrays.

    Parameters
    ----------
    log_e : ndarray, shape (n_frames,)
        Natural-log frame energies (sum of squares at ``cfg.scale``, DC removed).
    *arrays : ndarray, shape (n_frames, n_dims), or None

    Returns
    -------
    tuple of the arrays, in their order
    """
    from speechgmm.vad import DIGITAL_SILENCE

    silent = log_e <= math.log(cfg.win_length * (DIGITAL_SILENCE * cfg.scale) ** 2)
    if not len(silent) or not silent.any() or silent.all():
        return arrays
    idx = np.arange(len(silent))
    keep = np.flatnonzero(~silent)
    pos = np.searchsorted(keep, idx)  # the first kept frame at or after each frame
    after = keep[np.minimum(pos, len(keep) - 1)]
    before = keep[np.maximum(pos - 1, 0)]
    nearest = np.where(silent, np.where(np.abs(idx - before) <= np.abs(after - idx), before, after), idx)
    return tuple(None if a is None else a[nearest] for a in arrays)


#: revision of the front end's computation, for feature caches (``train --cache``, the recipes): raised
#: when the same FeatureConfig gives other features, so that a cache made before is not reused.
#: 2: digital silence never speech, its frames filled before deltas (2026-12-03)
FRONT_END_REVISION = 2

#: frames per block of :func:`_deltas_of_kept` (a long recording's features are built block by block)
_DELTA_BLOCK = 65536


def _deltas_of_kept(C: np.ndarray, mask: Optional[np.ndarray], order: int, window: int) -> np.ndarray:
    """``add_deltas(C)[mask]`` (all frames without a mask), block by block with the filters' context,
    so that only the kept frames' features are ever held whole; equal to the one-piece computation."""
    T, half = len(C), order * window
    keep = np.ones(T, dtype=bool) if mask is None else mask
    out = np.empty((int(np.count_nonzero(keep)), C.shape[1] * (order + 1)), dtype=np.float32)
    at = 0
    for a in range(0, T, _DELTA_BLOCK):
        b = min(T, a + _DELTA_BLOCK)
        k = keep[a:b]
        if not k.any():
            continue
        lo, hi = max(0, a - half), min(T, b + half)
        D = add_deltas(C[lo:hi], order, window)[a - lo : a - lo + (b - a)]
        n = int(np.count_nonzero(k))
        out[at : at + n] = D[k]
        at += n
    return out


def _load(path, sr: int):
    """:func:`speechgmm.audio.load_audio` of a file or of an AudioRegion (whose errors name the region)."""
    from speechgmm.audio import load_audio
    from speechgmm.manifest import AudioRegion

    if not isinstance(path, AudioRegion):
        return load_audio(path, sr=sr)
    try:
        return load_audio(path.path, sr=sr, region=(path.start, path.end), channel=path.channel)
    except AudioError as exc:
        msg, head = str(exc), f"{path.path}: "
        raise AudioError(f"{path}: {msg[len(head) :] if msg.startswith(head) else msg}") from None


#: below this size (bytes) a file is not opened to ask its length (:func:`_long_file`)
_LONG_FILE_BYTES = 2_000_000


def _long_file(path) -> bool:
    """Whether ``path`` is a plain file longer than :data:`speechgmm.stream.STREAM_SECONDS`
    (read as a stream, so that memory does not grow with its length)."""
    from speechgmm.stream import STREAM_SECONDS

    if not isinstance(path, (str, os.PathLike)) or str(path) in ("", "-"):
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False  # load_audio names the problem
    if not stat.S_ISREG(st.st_mode) or st.st_size < _LONG_FILE_BYTES:
        return False
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # not a sound file, or a damaged one: load_audio names the problem
        return False
    return info.samplerate > 0 and info.frames / info.samplerate > STREAM_SECONDS


def extract_file(path: os.PathLike | str, config: Optional[FeatureConfig] = None, augment=None) -> np.ndarray:
    """Load ``path`` (resampled to ``config.sr``) and return its features.

    Parameters
    ----------
    path : path-like or :class:`speechgmm.manifest.AudioRegion`
        Audio file (see :func:`speechgmm.audio.load_audio`), or a region of one (only that
        region is read).
    config : FeatureConfig or str, optional
        Front end, or a preset name; default ``FeatureConfig.preset("default")``.
    augment : tuple (kind, seed, index), optional
        Features of an augmented copy instead (see :func:`speechgmm.augment.augment`).

    Returns
    -------
    ndarray, shape (n_frames, config.dim), float32

    Raises
    ------
    AudioError
        For every rejection of :func:`~speechgmm.audio.load_audio`, and for audio shorter
        than one analysis window.
    """
    cfg = as_config(config)
    if augment is not None:
        from speechgmm.augment import check_copy

        if isinstance(augment, (str, bytes)) or not isinstance(augment, (tuple, list)) or len(augment) != 3:
            raise ConfigError(f"augment must be a tuple (kind, seed, index), not {augment!r}")
        check_copy(*augment)
    if augment is None and _long_file(path):
        from speechgmm.stream import streamed_features

        return streamed_features(path, cfg)
    y, sr = _load(path, cfg.sr)
    from speechgmm.audio import check_mains_hum

    hum = check_mains_hum(path, y, sr, remove=cfg.vad)
    if hum is not None:
        y = hum(y)
    if len(y) < cfg.win_length:
        raise AudioError(
            f"{path}: too short ({len(y) / sr * 1000:.1f} ms; at least one {cfg.frame_length_ms:g} ms frame is needed)"
        )
    if augment is not None:
        from speechgmm.augment import augment as _augment

        kind, seed, index = augment
        y = _augment(y, sr, kind, seed, index)
    try:
        X = mfcc(y, sr, cfg)
    except AudioError as exc:
        err = front_end_error(path, exc, hum)
        if augment is not None:  # the copy failed, not the file (QA: the original was blamed)
            err = AudioError(f"{err} (in its {augment[0]} copy)")
        raise err from None
    if not np.all(np.isfinite(X)):  # cannot happen with finite input; keep NaN out of results regardless
        raise AudioError(f"{path}: features are not finite")
    return X


def front_end_error(path, exc: AudioError, removed=None) -> AudioError:
    """The one-line error naming ``path`` for the front end's ``exc``; ``removed``: the
    :class:`speechgmm.audio.HumFilter` that took the file's mains hum or rumble out first (None without),
    so a file of hum alone is silence, and is reported as no speech."""
    if removed is not None:
        why = "" if str(exc).startswith(NO_SPEECH) else f" ({exc})"
        return AudioError(f"{path}: {NO_SPEECH} once {removed.removed}{why}")
    return AudioError(f"{path}: {exc}")


@functools.lru_cache(maxsize=4)
def _config_from_json(text: str) -> FeatureConfig:
    return FeatureConfig.from_dict(json.loads(text))


class Job(NamedTuple):
    """One file's extraction: what a worker process receives."""

    path: Any  # path-like, or a region of a recording (:class:`speechgmm.manifest.AudioRegion`)
    config: Any  # FeatureConfig; its JSON when sent to another process (parsed once per worker)
    augment: Optional[tuple] = None  # (kind, seed, index) for an augmented copy


def _run_job(job: Job):
    """``(features, None)`` or ``(None, error message)``."""
    try:
        cfg = job.config if isinstance(job.config, FeatureConfig) else _config_from_json(job.config)
        return extract_file(job.path, cfg, job.augment), None
    except AudioError as exc:
        return None, str(exc)


def collect_features(
    paths,
    config: Optional[FeatureConfig] = None,
    jobs: int = 1,
    desc: str = "features",
    augment=None,
    first_index: int = 0,
):
    """Features of many files, in parallel over ``jobs`` processes, order preserved; bad files
    give ``None`` and a message.

    Parameters
    ----------
    paths : sequence of path-like (or :class:`~speechgmm.manifest.AudioRegion`)
    config : FeatureConfig, optional
    jobs : int
        Worker processes (1 = in this process).
    desc : str
        Progress-bar label (a bar is shown only on a terminal).
    augment : tuple (kind, seed), optional
        Features of augmented copies instead (:func:`speechgmm.augment.augment`); file ``i``
        of ``paths`` gets index ``first_index + i``.
    first_index : int
        Index of the first path in its manifest (keeps copies the same when files are
        processed in batches).

    Returns
    -------
    feats : list of ndarray or None, one per path
    problems : list of str
        One message per bad file, in order.
    """
    from speechgmm._util import progress

    cfg = as_config(config)
    paths = list(paths)
    parallel = bool(jobs and jobs > 1 and len(paths) > 1)
    # workers get the configuration as JSON (parsed once per worker), never a pickled object
    sent = cfg.to_json() if parallel else cfg
    work = [
        Job(p, sent, None if augment is None else (augment[0], int(augment[1]), first_index + i))
        for i, p in enumerate(paths)
    ]
    if parallel:
        from speechgmm._util import process_pool
        from speechgmm.audio import warn_upsampling_once

        warn_upsampling_once(paths, cfg.sr)
        with process_pool(jobs) as ex:
            results = list(
                progress(ex.map(_run_job, work, chunksize=max(1, len(work) // (8 * jobs))), total=len(work), desc=desc)
            )
    else:
        results = [_run_job(j) for j in progress(work, total=len(work), desc=desc)]
    return [r[0] for r in results], [r[1] for r in results if r[1] is not None]


def extract_files(
    paths,
    config: Optional[FeatureConfig] = None,
    jobs: int = 1,
    desc: str = "features",
    errors: str = "raise",
    augment=None,
    first_index: int = 0,
):
    """:func:`collect_features`, raising one AudioError naming every bad file by default.

    Parameters
    ----------
    errors : {"raise", "collect"}
        ``raise``: after trying every file, raise one AudioError naming all bad files
        (:func:`speechgmm.errors.raise_bad_files`).  ``collect``: as :func:`collect_features`.
    (the others as :func:`collect_features`)

    Returns
    -------
    feats : list of ndarray (or None), one per path
    problems : list of str
        One message per bad file (only with ``errors="collect"``).
    """
    if errors not in ("raise", "collect"):
        raise ConfigError(f"errors must be 'raise' or 'collect', not {errors!r}")
    feats, problems = collect_features(paths, config, jobs=jobs, desc=desc, augment=augment, first_index=first_index)
    if errors == "raise":
        raise_bad_files(problems)
    return feats, problems
