"""Audio loading and validation.

:func:`load_audio` reads any file soundfile understands (wav, flac, ogg, ...; 16/24/32-bit
integer or float; any number of channels), averages the channels, resamples with soxr to
the requested rate and rejects files that cannot give meaningful features.  Every
rejection is an :class:`~speechgmm.errors.AudioError` whose message names the file.

Only numpy, soundfile and soxr are imported: this module is on the classify path.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from speechgmm.errors import AudioError

#: peak amplitude (full scale = 1.0) below which a file counts as all silence (-80 dBFS)
SILENCE_PEAK = 1e-4


def _check_riff_truncation(path: Path) -> None:
    """Raise AudioError if a RIFF/WAVE file's data chunk claims more bytes than the file holds.

    libsndfile silently reads what is there, so a file cut short by a failed copy would
    otherwise pass as a shorter recording.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            if len(hdr) < 8:
                break
            cid, clen = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
            if cid == b"data":
                if clen != 0xFFFFFFFF and pos + 8 + clen > size:
                    raise AudioError(
                        f"{path}: truncated WAV file (data chunk declares {clen} bytes, "
                        f"only {size - pos - 8} present)"
                    )
                return
            pos += 8 + clen + (clen & 1)


def _region_frames(file_sr: int, region: Tuple[float, float]) -> Tuple[int, int]:
    """Sample indices ``[start, stop)`` of ``region`` seconds at ``file_sr`` Hz."""
    return int(round(region[0] * file_sr)), int(round(region[1] * file_sr))


def load_audio(path: os.PathLike | str, sr: Optional[int] = None, check_silence: bool = True,
               region: Optional[Tuple[float, float]] = None) -> Tuple[np.ndarray, int]:
    """Read an audio file as mono float32, optionally resampled.

    Parameters
    ----------
    path : path-like
        Any format soundfile reads (wav, flac, ogg, ...), integer or float samples.
    sr : int, optional
        Target sample rate in Hz.  ``None`` keeps the file's rate.  Resampling uses
        soxr (high quality).
    check_silence : bool
        Reject files whose peak is below :data:`SILENCE_PEAK` (-80 dBFS).
    region : (start, end), optional
        Read only these seconds of the file (a Kaldi ``segments`` row); the checks apply to them.

    Returns
    -------
    y : ndarray, shape (n_samples,), float32
        Samples in [-1, 1] full scale; multi-channel files are averaged.
    sr : int
        Sample rate of ``y`` in Hz.

    Raises
    ------
    AudioError
        Missing, unreadable, corrupt or truncated file; zero-length audio; NaN/inf
        samples; all-silent audio.

    Examples
    --------
    >>> y, sr = load_audio("examples/man_1.wav", sr=8000)   # doctest: +SKIP
    """
    import soundfile as sf

    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 384000):
        from speechgmm.errors import ConfigError

        raise ConfigError(f"sample rate must be an integer between 1000 and 384000 Hz, not {sr!r}")
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        _check_riff_truncation(path)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read file ({exc.strerror})") from None
    try:
        start, stop = (0, None) if region is None else _region_frames(sf.info(str(path)).samplerate, region)
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True, start=start, stop=stop)
    except (RuntimeError, sf.LibsndfileError if hasattr(sf, "LibsndfileError") else RuntimeError) as exc:
        msg = " ".join(str(exc).split())
        raise AudioError(f"{path}: not a readable audio file ({msg})") from None
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if y.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    y = y.mean(axis=1, dtype=np.float32) if y.shape[1] > 1 else y[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if check_silence:
        peak = float(np.max(np.abs(y)))
        if peak < SILENCE_PEAK:
            db = 20 * np.log10(peak) if peak > 0 else float("-inf")
            raise AudioError(f"{path}: audio is all silence (peak {db:.1f} dBFS)")
    if sr is not None and int(sr) != int(file_sr):
        import soxr

        y = soxr.resample(y, int(file_sr), int(sr), quality="HQ").astype(np.float32, copy=False)
        file_sr = int(sr)
    return np.ascontiguousarray(y, dtype=np.float32), int(file_sr)
