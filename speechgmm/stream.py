"""The front end over a stream: a file read in blocks, so that its length does not set the memory.

``segment`` labels an hour of audio block by block (:func:`audio_blocks`, :class:`FrameStream`);
``classify`` and every other whole-file reader use :func:`streamed_features` for recordings longer
than :data:`STREAM_SECONDS`.  Only the static cepstra (13 floats per 10 ms frame) are kept, never
the samples, and the features are those of :func:`speechgmm.features.mfcc` on the whole file: the
same frames, mean normalisation over the whole file's speech frames, deltas.  They differ from
the in-memory front end only where the stream resampler (``soxr.ResampleStream``) and the speech
detector, fed 10 s at a time, round differently (about 0.5 % of the speech decisions).
"""

from __future__ import annotations

import numpy as np

from speechgmm.errors import AudioError

#: audio read per block (s of the file)
BLOCK_SECONDS = 30.0

#: audio per SpeechDetector call (s), independent of the read block so decisions are too
_DETECTOR_BLOCK = 10.0

#: files longer than this (s) are read as a stream by the whole-file front end: a 2-hour file
#: held whole, with its framing and speech detection, took about 1 GB
STREAM_SECONDS = 600.0


def audio_blocks(
    path, sr: int, block_seconds: float = BLOCK_SECONDS, *, channel=None, power=None, remove_hum=False, hums=None
):
    """Yield the file as mono float32 blocks at ``sr`` Hz (channels averaged, or ``channel``
    alone; soxr HQ stream resampling; :func:`speechgmm.audio.mono_blocks`); the whole file is
    never in memory.  ``power`` (an :class:`speechgmm.audio.ChannelPower`) sums the channels' power.
    Strong mains hum in the first 10 s is warned about (:func:`speechgmm.audio.check_mains_hum`), and
    with ``remove_hum`` notched out of every block, as the whole-file front end does: the blocks of
    those 10 s are held back until the check has seen them (and the filter is appended to the list
    ``hums``, when given).  A clipped file is warned about at its end
    (:class:`speechgmm.audio.ClipMeter`, per channel)."""
    from speechgmm.audio import (
        CLIP_STREAM_STEP,
        MAINS_HUM_SECONDS,
        ClipMeter,
        check_mains_hum,
        mono_blocks,
        open_sound,
        sample_problem,
    )

    head, have, hum = [], 0, None  # the start of the file, for the mains-hum check

    def checked():
        nonlocal hum
        hum = check_mains_hum(path, np.concatenate(head), sr, remove_hum)
        if hum is not None and hums is not None:
            hums.append(hum)
        return [hum(b) for b in head] if hum is not None else head

    with open_sound(path) as f:
        meter = ClipMeter(1 if channel is not None else int(f.channels), CLIP_STREAM_STEP)  # over the whole file
        blocks = mono_blocks(f, sr, channel=channel, block_frames=max(1, int(block_seconds * f.samplerate)))
        for blk, mono, out in blocks:
            problem = None if mono is None else sample_problem(mono)
            if problem:
                raise AudioError(f"{path}: {problem}")
            if power is not None and blk is not None:
                power.add(blk, mono)
            if blk is not None:
                meter.add(blk if channel is None else mono)
            if head is None:
                yield hum(out) if hum is not None else out
                continue
            head.append(out)
            have += len(out)
            if have >= MAINS_HUM_SECONDS * sr:
                yield from checked()
                head = None
    if head:
        yield from checked()
    meter.warn(path)


class FrameStream:
    """Cut a stream of sample blocks into the front end's frames (Kaldi snip-edges, exactly as
    for the whole signal) and compute each frame's static cepstra and log-energy; run the speech
    detector (:class:`speechgmm.vad.SpeechDetector`, framed the same way) on the same stream.

    ``push(y)`` returns ``{name: per-frame array}`` for the frames completed so far (``"C"``,
    ``"log_e"``, ``"pitch"`` with ``cfg.pitch``, ``"speech"``); the detector's decisions may lag
    behind the features: it is fed fixed blocks of ``_DETECTOR_BLOCK`` seconds, so its decisions
    do not depend on how the file is read.  ``detector``: its settings (default: the front end's
    detector, :func:`speechgmm.vad.detector_config`), or False for no speech detection.
    """

    def __init__(self, cfg, detector=None):
        self.cfg = cfg
        self.tail = np.zeros(0, np.float32)
        from speechgmm.vad import SpeechDetector, detector_config

        if detector is None:
            detector = detector_config(cfg)
        self.det = SpeechDetector(cfg.sr, detector) if detector is not False else None
        self.det_buf: list[np.ndarray] = []
        self.det_n = 0
        self.det_block = int(round(_DETECTOR_BLOCK * cfg.sr))

    def _detect(self, y, final):
        out = []
        if len(y):
            self.det_buf.append(y)
            self.det_n += len(y)
        while self.det_n >= self.det_block or (final and self.det_n):
            buf = np.concatenate(self.det_buf)
            k = min(self.det_block, len(buf))
            out.append(self.det.process(buf[:k]))
            self.det_buf = [buf[k:]] if k < len(buf) else []
            self.det_n = len(buf) - k
        return np.concatenate(out) if out else np.zeros(0, bool)

    def push(self, y: np.ndarray, final: bool = False) -> dict[str, np.ndarray]:
        from speechgmm.features import _static_features

        cfg = self.cfg
        out: dict[str, np.ndarray] = {"speech": self._detect(y, final)} if self.det is not None else {}
        buf = np.concatenate([self.tail, y]) if len(self.tail) else y
        win, hop = cfg.win_length, cfg.hop_length
        if len(buf) < win:
            self.tail = buf
            return out
        n = 1 + (len(buf) - win) // hop
        used = buf[: (n - 1) * hop + win] * np.float32(cfg.scale)
        self.tail = np.array(buf[n * hop :], dtype=np.float32)
        C, log_e, pitch = _static_features(used, cfg)
        if cfg.use_energy:
            C[:, 0] = log_e
        out["C"], out["log_e"] = C, log_e
        if pitch is not None:
            out["pitch"] = pitch
        return out


def _stream(path, cfg, detector=None, channel=None, power=None, hums=None) -> dict[str, np.ndarray]:
    """One pass over ``path``: every per-frame array of a :class:`FrameStream`, whole."""
    fs = FrameStream(cfg, detector)
    parts: dict[str, list[np.ndarray]] = {}
    for y in audio_blocks(path, cfg.sr, channel=channel, power=power, remove_hum=cfg.vad, hums=hums):
        for k, v in (fs.push(y) if len(y) else {}).items():
            parts.setdefault(k, []).append(v)
    for k, v in fs.push(np.zeros(0, np.float32), final=True).items():
        parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def streamed_features(path, cfg) -> np.ndarray:
    """:func:`speechgmm.features.mfcc` of a whole file, read as a stream (see the module).

    Returns
    -------
    ndarray, shape (n_frames, cfg.dim), float32

    Raises
    ------
    AudioError
        As :func:`speechgmm.features.extract_file` (unreadable, too short, all silence, no
        speech), naming ``path``.
    """
    import dataclasses

    from speechgmm.audio import ChannelPower, _warn_upsampling, open_sound
    from speechgmm.features import features_from_statics, front_end_error

    with open_sound(path) as f:
        channels, file_sr = int(f.channels), int(f.samplerate)
    if file_sr < cfg.sr:
        _warn_upsampling(path, file_sr, cfg.sr)
    adaptive = cfg.vad and cfg.vad_method == "adaptive"
    power = ChannelPower(channels) if channels > 1 else None
    detector = None if adaptive else False
    hums = []  # the hum filter, when the file's mains hum or rumble was filtered out
    s = _stream(path, cfg, detector, power=power, hums=hums)
    channel = power.cancelled_channel(path) if power is not None else None
    if channel is not None:  # the channels cancel out when averaged: the first audible one alone
        hums.clear()
        s = _stream(path, cfg, detector, channel=channel, hums=hums)
    if "C" not in s:
        raise AudioError(f"{path}: too short (at least one {cfg.frame_length_ms:g} ms frame is needed)")
    n = len(s["C"])

    def mask():
        if not adaptive:
            from speechgmm.features import speech_mask

            return speech_mask(None, cfg, s["log_e"])
        from speechgmm.vad import detector_config

        m, vad = s["speech"][:n], detector_config(cfg)
        if not m.any() and vad.min_voiced_frames > 0:  # as detect_speech: energy decisions if nothing is voiced
            m = _stream(path, cfg, dataclasses.replace(vad, min_voiced_frames=0), channel=channel)["speech"][:n]
        return m

    try:
        return features_from_statics(s["C"], s["log_e"], s.get("pitch"), cfg, mask)
    except AudioError as exc:
        raise front_end_error(path, exc, hums[0] if hums else None) from None
