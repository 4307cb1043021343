"""Audio loading and validation.

:func:`load_audio` reads any file soundfile understands (wav, flac, ogg, ...; 16/24/32-bit
integer or float; any number of channels), averages the channels, resamples with soxr to
the requested rate and rejects files that cannot give meaningful features.  Every
rejection is an :class:`~speechgmm.errors.AudioError` whose message names the file.

Only numpy, soundfile and soxr are imported: this module is on the classify path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import signal
import struct
import sys
import threading
import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from speechgmm.errors import AudioError, ConfigError, SpeechGMMWarning

#: peak amplitude (full scale = 1.0) below which a file counts as all silence (-80 dBFS)
SILENCE_PEAK = 1e-4

#: a multi-channel downmix whose RMS is this far below its loudest channel's (-20 dB) has
#: cancelled out (channels in opposite phase); the first channel is used instead.  Unrelated
#: channels average to about -3 dB, alike ones to 0 dB; channels in opposite phase whose gains
#: differ by 2 % average to -40 dB, by 20 % to -20 dB (at -40 dB, a 2 % mismatch of gain left a
#: man's file as a -46 dB residue that was called male at 0.52, a 5 % one female)
CANCEL_RATIO = 0.1

#: a file with more samples than this (frames x channels) that must be mixed down or resampled is
#: decoded block by block (BLOCK_FRAMES at a time), so memory follows the output (mono at the
#: target rate), not the file: an hour of 48 kHz stereo is 1.4 GB of samples, 115 MB at 8 kHz mono
LONG_FILE_SAMPLES = 1 << 24

#: how far (seconds) a region may end beyond the audio (rounding of segment times); more is an error
REGION_END_TOLERANCE = 0.02

#: the largest sample magnitude accepted (full scale is 1.0): float files written at integer scale
#: (32768, 2**31) still work; beyond this the float32 power spectrum overflows (x1e15 did)
MAX_SAMPLE = 1e10
BLOCK_FRAMES = 1 << 20

#: the path that means "read the audio from standard input"
STDIN = "-"

_DECODER_LOCK = threading.RLock()  # see decoder_quiet
_warned_rates = set()  # (file rate, target rate) pairs already warned about in this process


def no_samples(path) -> str:
    """The message for a file that holds no audio samples (an empty data chunk: a recorder that crashed
    before it wrote its header's sizes), for every command alike."""
    return f"{path}: contains no audio samples"


def _check_riff_truncation(fh, size: int, path) -> None:
    """Raise AudioError if a RIFF/WAVE file's data chunk claims more bytes than the file holds.

    libsndfile silently reads what is there, so a file cut short by a failed copy would
    otherwise pass as a shorter recording.  ``fh`` is a binary file object of ``size`` bytes.
    """
    fh.seek(0)
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
                    f"{path}: truncated WAV file (data chunk declares {clen} bytes, only {size - pos - 8} present)"
                )
            return
        pos += 8 + clen + (clen & 1)


@dataclasses.dataclass(frozen=True)
class PipedAudio:
    """A piped entry of a Kaldi ``wav.scp``: a shell command whose standard output is the audio
    (``flac -c -d -s 84-121123-0000.flac |``, ``sph2pipe -f wav -p -c 1 a.sph |``,
    ``sox in.mp3 -t wav - |``).  It stands where a path stands (:func:`load_audio`, manifests,
    feature extraction, the feature cache); the command runs, as Kaldi runs it, through the
    shell, in the folder ``cwd`` (the data dir's base folder), each time the audio is read.

    Attributes
    ----------
    command : str
        The command, without the trailing ``|``.
    key : str
        The recording id, which names the entry in messages.
    cwd : str
        Folder the command runs in (its relative paths start there).
    """

    command: str
    key: str
    cwd: str

    def __str__(self) -> str:
        return f"{self.key} ({self.command} |)"

    @property
    def name(self) -> str:
        return self.key

    def is_file(self) -> bool:  # unknown until the command runs; its errors name the entry then
        return True

    exists = is_file

    def resolve(self) -> PipedAudio:
        return self

    def named_files(self) -> list[str]:
        """The existing files that the command's words name (``cat a.wav``, ``sox in.mp3 -t wav -``),
        relative ones from ``cwd``: inputs that no output may replace."""
        import shlex

        try:
            words = shlex.split(self.command)
        except ValueError:  # unbalanced quotes: the shell will say so when the command runs
            words = self.command.split()
        paths = (os.path.join(self.cwd, w) for w in words if w and not w.startswith("-"))
        return [p for p in paths if os.path.isfile(p)]

    def read_bytes(self) -> bytes:
        """The command's standard output; AudioError naming the entry if the command fails or
        writes nothing."""
        import subprocess
        import tempfile

        # standard error goes to a file, so that standard output can be read bit by bit, at most
        # PIPE_LIMIT_BYTES of it, as standard input is (QA: 'cat /dev/zero |' was read until memory ran out)
        with tempfile.TemporaryFile() as errfile:
            try:  # in a process group of its own, which stopping speechgmm kills (kill_commands)
                proc = subprocess.Popen(
                    self.command, shell=True, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=errfile, start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                raise AudioError(f"{self}: cannot run the command ({exc.strerror})") from None
            _COMMANDS.add(proc.pid)
            try:
                with proc.stdout:
                    out = _read_bounded(proc.stdout, self)
                proc.wait()
            except AudioError:  # too much output: the command and what it started go
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            except BaseException:  # Ctrl-C, SIGTERM: the commands and what they started go too
                kill_commands()
                raise
            finally:
                _COMMANDS.discard(proc.pid)
            errfile.seek(max(0, errfile.seek(0, os.SEEK_END) - 4096))  # the end says why
            err = errfile.read()
        why = " ".join(err.decode(errors="replace").split())[-200:]
        if proc.returncode != 0:
            raise AudioError(f"{self}: the command failed (exit status {proc.returncode}){': ' + why if why else ''}")
        if not out:
            raise AudioError(f"{self}: the command wrote no audio{': ' + why if why else ''}")
        return out

    def files(self) -> list[str]:
        """The command's words that name existing files (relative to ``cwd``), as absolute paths:
        what the audio depends on (the feature cache keys on their sizes and times)."""
        import shlex

        try:
            words = shlex.split(self.command)
        except ValueError:
            words = self.command.split()
        return [os.path.abspath(os.path.join(self.cwd, w)) for w in words if os.path.isfile(os.path.join(self.cwd, w))]


#: process groups of the wav.scp commands running in this process (:meth:`PipedAudio.read_bytes`)
_COMMANDS: set[int] = set()


def kill_commands() -> None:
    """Kill the wav.scp commands this process is running, with everything they started (``sleep 9; cat
    x.wav |`` runs ``sleep`` under a shell): on SIGTERM, speechgmm's own processes end and the commands
    were left running."""
    for pid in list(_COMMANDS):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


#: The most a pipe, a device or standard input may give (bytes): it is read whole into memory, so an
#: endless one (``/dev/zero``, ``cat /dev/urandom |``) is refused at this size rather than read until
#: memory runs out.  512 MiB hold 46 minutes of 16-bit 48 kHz stereo; a longer recording is read from
#: a file, block by block.
PIPE_LIMIT_BYTES = 512 * 2**20


def _read_bounded(fh, name) -> bytes:
    """All of the pipe or device ``fh`` (reported as ``name``), at most :data:`PIPE_LIMIT_BYTES`."""
    chunks, total = [], 0
    while total <= PIPE_LIMIT_BYTES:
        chunk = fh.read(min(16 * 2**20, PIPE_LIMIT_BYTES + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise AudioError(
        f"{name}: a pipe or device gave more than {PIPE_LIMIT_BYTES // 2**20} MiB (is it endless?); "
        "save the audio to a file first"
    )


def _read_stdin() -> io.BytesIO:
    """The whole of standard input as a file object (for the path ``-``)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        raise AudioError(f"{STDIN}: standard input can only be read in the main process; use --jobs 1")
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        raise AudioError(f"{STDIN}: standard input is closed")
    if stdin.isatty():
        raise AudioError(f"{STDIN}: standard input is a terminal; pipe an audio file into it (... < file.wav)")
    data = _read_bounded(stdin.buffer if hasattr(stdin, "buffer") else stdin, STDIN)
    if not data:
        raise AudioError(f"{STDIN}: standard input is empty (0 bytes)")
    return io.BytesIO(data)


def _downmix(y: np.ndarray, path) -> np.ndarray:
    """Average the channels of ``y`` (n, channels); the first audible channel if they cancel out."""
    if y.shape[1] == 1:
        return y[:, 0]
    mono = y.mean(axis=1, dtype=np.float32)
    ch = _cancelled_channel(
        np.mean(np.square(mono, dtype=np.float64)),
        np.mean(np.square(y, dtype=np.float64), axis=0),
        np.max(np.abs(y), axis=0),
        path,
    )
    return mono if ch is None else np.ascontiguousarray(y[:, ch])


def _cancelled_channel(power_mix: float, power: np.ndarray, peak: np.ndarray, path) -> Optional[int]:
    """The channel to use instead of the average when the channels cancel out when averaged (their
    mean power ``power_mix`` is CANCEL_RATIO under the loudest channel's, from the channels'
    mean ``power`` and ``peak``), with a warning; None to keep the average."""
    rms = np.sqrt(power)
    if not np.all(np.isfinite(rms)) or rms.max() < SILENCE_PEAK:
        return None  # NaN or silence: reported as such by the caller
    if np.sqrt(power_mix) >= CANCEL_RATIO * rms.max():
        return None
    ch = int(np.argmax(peak >= SILENCE_PEAK))
    warnings.warn(
        f"{path}: the {len(power)} channels cancel out when averaged (opposite phase); using channel {ch + 1} alone",
        SpeechGMMWarning,
        stacklevel=4,
    )
    return ch


class ChannelPower:
    """Power of the channel average and of each channel, summed over the blocks of a stream (from
    :func:`mono_blocks`), to tell at its end whether the channels cancelled out when averaged."""

    def __init__(self, channels: int):
        self.n, self.mix = 0, 0.0
        self.power, self.peaks = np.zeros(channels), np.zeros(channels)

    def add(self, blk: np.ndarray, mono: np.ndarray) -> None:
        self.n += len(mono)
        self.mix += float(np.dot(mono, mono))  # float32 within a block, summed in float64
        for c in range(blk.shape[1]):  # column by column: reductions along axis 0 of (n, 2) are slow
            col = blk[:, c]
            self.power[c] += float(np.dot(col, col))
            self.peaks[c] = max(self.peaks[c], float(col.max()), -float(col.min()))

    def cancelled_channel(self, path) -> Optional[int]:
        """The channel to use instead of the average if the channels cancelled out (with the
        warning of :func:`load_audio`), else None."""
        if len(self.power) < 2 or self.n == 0:
            return None
        return _cancelled_channel(self.mix / self.n, self.power / self.n, self.peaks, path)


def _region_frames(file_sr: int, region: tuple[float, float], n: int) -> tuple[int, int]:
    """Sample indices ``[start, stop)`` of ``region`` seconds at ``file_sr`` Hz (an end of inf: ``n``)."""
    stop = n if region[1] == math.inf else int(round(region[1] * file_sr))
    return int(round(region[0] * file_sr)), stop


#: mains hum check (:func:`mains_hum`): a line at 50 or 60 Hz this far above its neighbourhood (dB) ...
MAINS_HUM_LINE_DB = 20.0
#: ... that holds at least this share of the power above 20 Hz (dB; -8: hum at about the speech's own
#: level) ...  None of the 4,700 files of the four corpora reaches it (the strongest, LibriSpeech files
#: with 60 Hz hum at about -9 dB, are classified right); hum at -12 dB moved a conversation's female share
#: from 73 to 40 %, and at -4 dB to 11 % (QA, 2026-12-03), with nothing said.
MAINS_HUM_SHARE_DB = -8.0
#: ... and is at least this loud (RMS, dBFS): faint hum in a quiet lead-in is no trouble
MAINS_HUM_MIN_DBFS = -50.0
#: seconds of audio the check looks at (the start of the file) ...
MAINS_HUM_SECONDS = 10.0
#: ... in Hann windows of this length (s; half overlapping): 2 Hz resolution, so TI's 0.3 s files are checked
MAINS_HUM_WINDOW = 0.25


#: hum removal (:class:`HumFilter`): every harmonic of the line up to this frequency (Hz) is notched too (hum
#: from a ground loop is a buzz of many harmonics, and speech in the same band hides the weaker ones from a
#: test) ...
MAINS_HUM_ALL_HZ = 500.0
#: ... and above it each harmonic that stands at least this far (dB) above the bins 10-30 Hz away ...
MAINS_HUM_HARMONIC_DB = 10.0
#: ... and holds at least this share of the power (1e-4: -40 dB)
MAINS_HUM_HARMONIC_SHARE = 1e-4
#: ... each by a notch this wide (Hz, at -3 dB).  A narrow notch rings: what it takes out of a speech onset
#: it gives back as a decaying tone that speech detection keeps as speech (TI files with notches of 3 Hz
#: at 50 Hz and harmonics up to 450 Hz and no hum: 28 % more speech frames).  Chosen on TI training
#: speakers, no hum / hum as loud as the speech: 3 Hz 0.919 / 0.927, 8 Hz 0.934 / 0.919, 16 Hz 0.942 /
#: 0.927, 24 Hz (half the band between harmonics) 0.946 / 0.931
MAINS_HUM_NOTCH_HZ = 16.0
#: ... starting from the steady state of the hum of the file's first this many seconds (:meth:`HumFilter._settle`)
MAINS_HUM_SETTLE_S = 0.2

#: rumble check (:func:`rumble`): the power between these frequencies (Hz; below the 50 Hz line and its
#: window's leakage, above what each frame's DC removal takes out) ...
RUMBLE_BAND_HZ = (14.0, 40.0)
#: ... holding at least this share of the power above 6 Hz (dB) ...  QA: a 40 Hz sine at the speech's
#: level (about -2 dB here) left half of 65 files "no speech detected", at -10 dB it cost 4 of them; speech
#: holds little there (TI at most -14 dB, speechocean762 -23 dB; LibriSpeech files with rumble of their own
#: up to -4 dB, asterisk -11 dB, are high-passed too)
RUMBLE_SHARE_DB = -10.0
#: ... and at least this loud (dBFS)
RUMBLE_MIN_DBFS = -50.0
#: rumble is taken out by a Butterworth high-pass of this order at this frequency (Hz): 28 dB down at
#: 40 Hz, 0.1 dB at 85 Hz (a low man's voice)
RUMBLE_CUTOFF_HZ = 60.0
RUMBLE_ORDER = 8


def _hum_spectrum(y: np.ndarray, sr: int):
    """Frequencies (Hz), summed power spectrum of Hann windows of :data:`MAINS_HUM_WINDOW` over the first
    :data:`MAINS_HUM_SECONDS` of ``y`` (half overlapping), and the power-to-mean-power factor; None for
    less than one window."""
    seg = int(MAINS_HUM_WINDOW * sr)
    y = np.asarray(y[: int(MAINS_HUM_SECONDS * sr)], dtype=np.float64)
    if len(y) < seg:
        return None
    win = np.hanning(seg)
    hop = seg // 2
    n = 1 + (len(y) - seg) // hop
    frames = np.lib.stride_tricks.as_strided(y, (n, seg), (y.strides[0] * hop, y.strides[0]), writeable=False)
    P = (np.abs(np.fft.rfft(frames * win, axis=1)) ** 2).sum(axis=0)
    # the power spectrum's scale: a sine of amplitude A gives a line of A**2 / 2 in mean power
    return np.fft.rfftfreq(seg, 1.0 / sr), P, 2.0 / (n * seg * float(np.sum(win**2)))


def _line(f, P, f0):
    """Power of the line within 4.5 Hz of ``f0`` and its height above the bins 10-30 Hz away (dB)."""
    near = np.abs(f - f0)
    line, ring = float(P[near <= 4.5].sum()), P[(near >= 10) & (near <= 30)]
    above = 10 * np.log10(max(line, 1e-300) / max(float(np.median(ring)) * np.sum(near <= 4.5), 1e-300))
    return line, above


def mains_hum(y: np.ndarray, sr: int) -> Optional[tuple[float, float]]:
    """``(frequency in Hz, share of the power above 20 Hz in dB)`` of strong mains hum at 50 or 60 Hz
    in the first :data:`MAINS_HUM_SECONDS` of ``y``, or None (also for less than one window of audio).

    A narrow line (Hann windows of :data:`MAINS_HUM_WINDOW`, half overlapping) at least
    :data:`MAINS_HUM_LINE_DB` above the median of the bins 10-30 Hz away, holding at least
    :data:`MAINS_HUM_SHARE_DB` of the power and at least :data:`MAINS_HUM_MIN_DBFS` loud: speech has
    no such line (voices are not that low, nor that steady).  Hum at 100 or 120 Hz (rectifiers) is
    not looked for: men's voices sit there.

    Examples
    --------
    >>> t = np.arange(8000 * 2) / 8000
    >>> mains_hum(0.1 * np.sin(2 * np.pi * 50 * t), 8000)[0]
    50.0
    >>> mains_hum(np.random.default_rng(0).standard_normal(16000) * 0.1, 8000) is None
    True
    """
    spec = _hum_spectrum(y, sr)
    return None if spec is None else _hum_in(*spec)


def rumble(y: np.ndarray, sr: int) -> Optional[float]:
    """The share of the power (dB) that rumble between :data:`RUMBLE_BAND_HZ` holds in the first
    :data:`MAINS_HUM_SECONDS` of ``y``, if it is at least :data:`RUMBLE_SHARE_DB` and
    :data:`RUMBLE_MIN_DBFS` loud; else None (also for less than one window of audio).

    Examples
    --------
    >>> t = np.arange(8000 * 2) / 8000
    >>> speech = 0.1 * np.sin(2 * np.pi * 200 * t)
    >>> rumble(speech, 8000) is None, round(rumble(speech + 0.1 * np.sin(2 * np.pi * 30 * t), 8000))
    (True, -3)
    """
    spec = _hum_spectrum(y, sr)
    return None if spec is None else _rumble_in(*spec)


def _rumble_in(f, P, to_power) -> Optional[float]:
    """:func:`rumble` of the spectrum :func:`_hum_spectrum` gave."""
    total = float(P[f >= 6].sum())
    low = float(P[(f >= RUMBLE_BAND_HZ[0]) & (f <= RUMBLE_BAND_HZ[1])].sum())
    if not total > 0 or not low > 0:
        return None
    share, dbfs = 10 * np.log10(low / total), 10 * np.log10(low * to_power)
    return float(share) if share >= RUMBLE_SHARE_DB and dbfs >= RUMBLE_MIN_DBFS else None


def _hum_in(f, P, to_power) -> Optional[tuple[float, float]]:
    """:func:`mains_hum` of the spectrum :func:`_hum_spectrum` gave."""
    total = float(P[f >= 20].sum())
    if not total > 0:
        return None
    for f0 in (50.0, 60.0):
        line, above = _line(f, P, f0)
        if above < MAINS_HUM_LINE_DB:
            continue
        # a buzz holds much of its power in the harmonics: those up to MAINS_HUM_ALL_HZ that stand
        # MAINS_HUM_HARMONIC_DB out count with the line (counting those 3 dB out too took one LibriSpeech
        # file of the pool, with -9 dB of 60 Hz hum, for strong hum)
        for k in range(2, int(MAINS_HUM_ALL_HZ // f0) + 1):
            power, height = _line(f, P, k * f0)
            line += power if height >= MAINS_HUM_HARMONIC_DB else 0.0
        share = 10 * np.log10(max(line, 1e-300) / total)
        dbfs = 10 * np.log10(max(line * to_power, 1e-300))
        if share >= MAINS_HUM_SHARE_DB and dbfs >= MAINS_HUM_MIN_DBFS:
            return f0, share
    return None


def _line_peak(f, P, centre: float) -> float:
    """The frequency of the strongest bin within 6 Hz of ``centre``, refined by a parabola through the
    log power of it and its neighbours (Hz)."""
    idx = np.flatnonzero(np.abs(f - centre) <= 6.0)
    i = int(idx[np.argmax(P[idx])])
    if 0 < i < len(P) - 1:
        a, b, c = np.log(np.maximum(P[i - 1 : i + 2], 1e-300))
        den = a - 2 * b + c
        if den < 0:
            return float(f[i] + 0.5 * (a - c) / den * (f[1] - f[0]))
    return float(f[i])


def _mains_frequency(y: np.ndarray, sr: int, coarse: float) -> float:
    """The hum's fundamental (Hz) within 0.6 Hz of ``coarse``, to about 0.002 Hz: the frequency whose
    multiples up to :data:`MAINS_HUM_ALL_HZ` hold the most power in one long (zero-padded) spectrum of the
    first :data:`MAINS_HUM_SECONDS` (a notch 0.2 Hz off the 8th harmonic leaves it at about -33 dB: the
    error of a 0.25 s window's peak, about 0.02 Hz, is multiplied by the harmonic's number)."""
    y = np.asarray(y[: int(MAINS_HUM_SECONDS * sr)], dtype=np.float64)
    nfft = 1 << max(20, int(np.ceil(np.log2(8 * len(y)))))
    P = np.abs(np.fft.rfft(y * np.hanning(len(y)), nfft)) ** 2
    ks = np.arange(1, 1 + max(1, int(MAINS_HUM_ALL_HZ // coarse)))
    grid = coarse + np.arange(-0.6, 0.6 + 1e-9, 0.002)
    idx = np.minimum(np.rint(np.outer(grid, ks) * nfft / sr).astype(np.int64), len(P) - 1)
    return float(grid[np.argmax(P[idx].sum(axis=1))])


def _hum_lines(y: np.ndarray, sr: int, f, P, nominal: float) -> list[float]:
    """The frequencies to notch for the hum found at ``nominal`` Hz in the spectrum ``f, P`` of ``y``."""
    base = _mains_frequency(y, sr, _line_peak(f, P, nominal))
    # the harmonics of a periodic hum sit at exact multiples (their own peaks, under speech, may not):
    # all up to MAINS_HUM_ALL_HZ (counted on the nominal 50 or 60 Hz), and higher ones that stand out and
    # hold a share of the power (a pure tone's numerical floor would let any harmonic stand out)
    total, every = float(P[f >= 20].sum()), int(MAINS_HUM_ALL_HZ // nominal)

    def stands_out(x):
        power, height = _line(f, P, x)
        return height >= MAINS_HUM_HARMONIC_DB and power >= MAINS_HUM_HARMONIC_SHARE * total

    lines = [k * base for k in range(1, int((sr / 2 - 40.0) // base) + 1)]
    return [x for k, x in enumerate(lines, 1) if k <= every or stands_out(x)]


class HumFilter:
    """Filters that take strong mains hum (:func:`mains_hum`) and rumble (:func:`rumble`) out of audio,
    block by block.

    The hum's line, its harmonics up to :data:`MAINS_HUM_ALL_HZ` and each higher one that stands
    :data:`MAINS_HUM_HARMONIC_DB` above its neighbourhood get
    a second-order IIR notch :data:`MAINS_HUM_NOTCH_HZ` wide, at multiples of the line's own peak (the
    mains frequency drifts, and the harmonics with it); rumble gets a high-pass (:data:`RUMBLE_CUTOFF_HZ`,
    order :data:`RUMBLE_ORDER`) after them.  They run as one cascade whose state carries over from
    block to block, so a file read in blocks is filtered exactly as if whole.  :meth:`found` returns None
    when there is neither.  ``frequencies`` are the notches (empty without hum), ``rumble_db`` the rumble's
    share of the power (None without rumble).

    Examples
    --------
    >>> t = np.arange(8000 * 2) / 8000
    >>> y = 0.1 * np.sin(2 * np.pi * 50.2 * t) + 0.01 * np.sin(2 * np.pi * 675 * t)
    >>> hum = HumFilter.found(y, 8000)
    >>> round(hum.frequency, 1), hum.frequencies[0] == hum.frequency
    (50.2, True)
    >>> out = hum(y)
    >>> bool(np.std(out[8000:]) < 0.012)  # the 675 Hz tone is what is left
    True
    """

    def __init__(self, frequencies, sr: int, share_db: Optional[float], rumble_db: Optional[float] = None):
        from scipy.signal import butter, iirnotch  # only for files with hum or rumble

        self.frequencies = [float(x) for x in frequencies]
        self.frequency = self.frequencies[0] if self.frequencies else None
        self.share_db, self.rumble_db, self.sr = share_db, rumble_db, int(sr)
        notches = [np.r_[b, a] for b, a in (iirnotch(x, x / MAINS_HUM_NOTCH_HZ, sr) for x in self.frequencies)]
        self._n_notches = len(notches)
        high = butter(RUMBLE_ORDER, RUMBLE_CUTOFF_HZ, "highpass", fs=sr, output="sos") if rumble_db is not None else []
        self._sos = np.array([*notches, *high]).reshape(-1, 6)
        self._zi = np.zeros((len(self._sos), 2))

    @property
    def removed(self) -> str:
        """What the filter did, for messages: "its mains hum is notched out", "its rumble is filtered out"."""
        if self.rumble_db is None:
            return "its mains hum is notched out"
        return "its mains hum and rumble are filtered out" if self.frequencies else "its rumble is filtered out"

    @classmethod
    def found(cls, y: np.ndarray, sr: int) -> Optional[HumFilter]:
        """The filter for the hum and the rumble in the first :data:`MAINS_HUM_SECONDS` of ``y``, or None."""
        spec = _hum_spectrum(y, sr)
        if spec is None:
            return None
        hum, low = _hum_in(*spec), _rumble_in(*spec)
        if hum is None and low is None:
            return None
        lines = [] if hum is None else _hum_lines(y, sr, spec[0], spec[1], hum[0])
        out = cls(lines, sr, None if hum is None else hum[1], low)
        out._settle(np.asarray(y[: int(MAINS_HUM_SETTLE_S * sr)], dtype=np.float64))
        return out

    def _settle(self, y: np.ndarray) -> None:
        """Start the cascade as if it had been running before the file began (a cascade at rest rings at the
        start, and a file of hum alone would become "speech" there): the notches in the steady state of the
        hum of ``y`` (each line's amplitude and phase, by projection over the file's first
        :data:`MAINS_HUM_SETTLE_S`: over longer, the small error of the estimated frequency turns the high
        harmonics' phases); the high-pass after running over the notched ``y`` mirrored in time (as
        ``filtfilt`` pads a signal), which ends where the file begins."""
        if self._n_notches:
            self._settle_notches(y)
        if len(self._sos) > self._n_notches and len(y) > 1:
            from scipy.signal import sosfilt, sosfilt_zi

            k = self._n_notches
            notched = sosfilt(self._sos[:k], y, zi=self._zi[:k].copy())[0] if k else y
            before = 2 * notched[0] - notched[:0:-1]  # odd extension, in time order, up to the first sample
            high = self._sos[k:]
            self._zi[k:] = sosfilt(high, before, zi=sosfilt_zi(high) * before[0])[1]

    def _settle_notches(self, y: np.ndarray) -> None:
        n = np.arange(len(y))
        w = 2 * np.pi * np.array(self.frequencies) / self.sr
        c = 2.0 / len(y) * np.exp(-1j * np.outer(w, n)) @ y  # complex amplitude of each line
        past = np.exp(1j * np.outer(w, [-1, -2]))  # e^{i w n} at n = -1, -2
        z = np.exp(-1j * w)
        for s, (b0, b1, b2, _, a1, a2) in enumerate(self._sos[: self._n_notches]):
            h = (b0 + b1 * z + b2 * z**2) / (1 + a1 * z + a2 * z**2)
            x1, x2 = np.real(c @ past)
            y1, y2 = np.real((c * h) @ past)
            self._zi[s] = (b1 * x1 - a1 * y1 + b2 * x2 - a2 * y2, b2 * x1 - a2 * y1)
            c = c * h

    def __call__(self, y: np.ndarray) -> np.ndarray:
        """``y`` (the next block of the file) with the hum notched out and the rumble high-passed, float32."""
        if not len(y):
            return np.zeros(0, np.float32)
        from scipy.signal import sosfilt

        out, self._zi = sosfilt(self._sos, np.asarray(y, dtype=np.float64), zi=self._zi)
        return out.astype(np.float32)


def check_mains_hum(path, y: np.ndarray, sr: int, remove: bool) -> Optional[HumFilter]:
    """A SpeechGMMWarning naming ``path`` when :func:`mains_hum` finds strong hum, or :func:`rumble` strong
    rumble, in ``y`` (the start of the file); with ``remove``, the :class:`HumFilter` to run over the whole
    file (None without either)."""
    if remove:
        filt = HumFilter.found(y, sr)
        hum = None if filt is None or filt.frequency is None else (filt.frequency, filt.share_db)
        low = None if filt is None else filt.rumble_db
    else:  # warn only: both checks read the one spectrum
        spec = _hum_spectrum(y, sr)
        filt, hum, low = None, *((None, None) if spec is None else (_hum_in(*spec), _rumble_in(*spec)))
    if hum is not None:
        head = f"{path}: strong mains hum at {round(hum[0]):g} Hz ({int(round(hum[1]))} dB of the power)"
        if filt is not None:
            lines = filt.frequencies
            tail = f"notched out ({len(lines)} line{'s' if len(lines) > 1 else ''}, {lines[0]:.1f}-{lines[-1]:.0f} Hz)"
        else:
            tail = "speech detection and labels may be wrong; filter it out first (e.g. a high-pass at 100 Hz)"
        warnings.warn(f"{head}: {tail}", SpeechGMMWarning, stacklevel=3)
    if low is not None:
        band = f"{RUMBLE_BAND_HZ[0]:g}-{RUMBLE_BAND_HZ[1]:g} Hz"
        head = f"{path}: strong rumble ({int(round(low))} dB of the power at {band})"
        cut = f"a high-pass at {RUMBLE_CUTOFF_HZ:g} Hz"
        tail = cut + " applied" if filt is not None else f"speech detection and labels may be wrong; apply {cut} first"
        warnings.warn(f"{head}: {tail}", SpeechGMMWarning, stacklevel=3)
    return filt


def load_audio(
    path: os.PathLike | str,
    sr: Optional[int] = None,
    check_silence: bool = True,
    region: Optional[tuple[float, float]] = None,
    channel: Optional[int] = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32, optionally resampled.

    Parameters
    ----------
    path : path-like
        Any format soundfile reads (wav, flac, ogg, ...), integer or float samples.
        ``"-"`` reads the audio from standard input (in the main process only).
    sr : int, optional
        Target sample rate in Hz.  ``None`` keeps the file's rate.  Resampling uses
        soxr (high quality).  Upsampling (a file below ``sr``) warns once per pair of
        rates, since the band above half the file's rate is missing.
    check_silence : bool
        Reject files whose peak is below :data:`SILENCE_PEAK` (-80 dBFS).
    region : (start, end), optional
        Read only these seconds of the file (a Kaldi ``segments`` row); the checks apply to them.
        An end of ``math.inf`` reads to the end of the file.  Example: ``(1.5, 4.0)``.
    channel : int, optional
        Read only this channel (from 0, e.g. ``1`` for the right channel of a stereo file) instead of
        the average of all channels.

    Returns
    -------
    y : ndarray, shape (n_samples,), float32
        Samples in [-1, 1] full scale; multi-channel files are averaged (if the average
        cancels out, as with channels in opposite phase, the first audible channel is
        used, with a warning).
    sr : int
        Sample rate of ``y`` in Hz.

    Raises
    ------
    AudioError
        Missing, unreadable, corrupt or truncated file; zero-length audio; NaN/inf
        samples; all-silent audio.

    Examples
    --------
    >>> y, sr = load_audio("examples/wideband_16k.wav", sr=8000)   # a 16 kHz file, resampled
    >>> sr, y.dtype, len(y) / sr
    (8000, dtype('float32'), 3.58)
    """
    _check_target_rate(sr)
    if region is not None:
        _check_region(region)
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or channel < 0):
        raise ConfigError(f"channel must be an integer >= 0 (0 is the first), not {channel!r}")
    fh, size, path = _open_input(path)
    y, file_sr, ready = _read_samples(fh, size, path, region, sr, check_silence, channel)
    if ready:  # a long file, mixed down, checked and resampled block by block
        return y, file_sr
    if y.shape[0] == 0:
        raise AudioError(no_samples(path))
    meter = ClipMeter(y.shape[1] if channel is None else 1)
    meter.add(y if channel is None else y[:, channel])
    y = _downmix(y, path) if channel is None else y[:, channel]
    _check_samples(y, path, check_silence)
    meter.warn(path)
    if sr is not None and int(sr) != int(file_sr):
        y, file_sr = _resample(y, file_sr, sr, path)
    return np.ascontiguousarray(y, dtype=np.float32), int(file_sr)


#: the lowest sample rate of a file that is resampled (upsampled) for a front end: below it, no speech band
#: fits, and upsampling a long file multiplies its size
MIN_SOURCE_RATE = 1000


def _check_target_rate(sr) -> None:
    """Raise ConfigError unless ``sr`` is None or an integer rate in [1000, 384000] Hz."""
    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 384000):
        raise ConfigError(f"sample rate must be an integer between 1000 and 384000 Hz, not {sr!r}")


def _check_region(region) -> None:
    """Raise ConfigError unless ``region`` is ``(start, end)`` seconds with ``0 <= start < end`` (end may be inf)."""
    try:
        if any(isinstance(t, (bool, str, bytes)) for t in region):  # float("0.1") and float(True) would pass
            raise TypeError
        start, end = (float(t) for t in region)
    except (TypeError, ValueError):
        start = end = math.nan
    if not (0 <= start < end and math.isfinite(start)):
        raise ConfigError(f"region must be (start, end) in seconds with 0 <= start < end, not {region!r}")


def _open_input(path):
    """``(binary file object, size in bytes, path as reported)`` of ``path`` (``-``: standard input)."""
    if isinstance(path, PipedAudio):
        data = path.read_bytes()
        return io.BytesIO(data), len(data), path
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ConfigError(f"an audio path must be a non-empty file name (str or path-like), not {path!r}")
    if str(path) == STDIN:
        fh = _read_stdin()
        return fh, len(fh.getvalue()), path
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.is_file():  # a pipe (/dev/stdin, a shell's <(...)) or a device: read once, as standard input
        try:
            with open(path, "rb") as fh:
                data = _read_bounded(fh, path)
        except OSError as exc:
            raise AudioError(f"{path}: cannot read ({exc.strerror})") from None
        if not data:
            raise AudioError(f"{path}: empty (the pipe or device gave 0 bytes)")
        return io.BytesIO(data), len(data), path
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise AudioError(f"{path}: cannot read file ({exc.strerror})") from None
    return fh, size, path


def _read_samples(
    fh, size: int, path, region: Optional[tuple[float, float]], sr: Optional[int], check_silence: bool, channel=None
) -> tuple[np.ndarray, int, bool]:
    """``(samples (n, channels) float32, file rate, False)`` of the open file ``fh``, which is
    closed; for a long file that needs mixing down or resampling, ``(mono float32 at sr, sr,
    True)``, read block by block (:func:`_read_long`)."""
    with _sound(fh, size, path) as f:
        file_sr, ch, n = int(f.samplerate), int(f.channels), int(f.frames)
        if sr is not None and file_sr < MIN_SOURCE_RATE:  # QA: a 400 kB file at 1 Hz, upsampled, ran out of memory
            raise AudioError(
                f"{path}: sample rate {file_sr} Hz: speech needs at least {MIN_SOURCE_RATE} Hz (is the header right?)"
            )
        if channel is not None and channel >= ch:
            raise AudioError(f"{path}: no channel {channel} ({ch} channel{'s' if ch > 1 else ''}; the first is 0)")
        start, stop = (0, n) if region is None else _region_frames(file_sr, region, n)
        if region is not None and (start >= n or stop > n + REGION_END_TOLERANCE * file_sr):
            where = "starts" if start >= n else "ends"
            at = region[0] if start >= n else region[1]
            raise AudioError(f"{path}: region {where} at {at:g} s, beyond the end of the audio ({n / file_sr:.3f} s)")
        stop = min(stop, n)
        out_sr = file_sr if sr is None else int(sr)
        count = -1 if region is None or region[1] == math.inf else max(0, stop - start)  # -1: to the end
        if max(0, stop - start) * ch > LONG_FILE_SAMPLES and (ch > 1 or out_sr != file_sr):
            return (*_read_long(f, path, start, count, out_sr, check_silence, channel), True)
        count = _seek(f, start, count)
        return f.read(count, dtype="float32", always_2d=True), file_sr, False


@contextlib.contextmanager
def _sound(fh, size: int, path):
    """The binary file ``fh`` (``size`` bytes) as an open ``soundfile.SoundFile``; both are
    closed on exit.  A truncated WAV, and anything libsndfile cannot open or decode, including
    inside the ``with`` body, becomes a one-line AudioError naming ``path``."""
    import soundfile as sf

    sf_error = getattr(sf, "LibsndfileError", RuntimeError)
    with fh:
        try:
            _check_riff_truncation(fh, size, path)
        except OSError as exc:
            raise AudioError(f"{path}: cannot read file ({exc.strerror})") from None
        try:
            fh.seek(0)
            with decoder_quiet():
                f = sf.SoundFile(fh)
        except (RuntimeError, sf_error, OSError, ValueError, TypeError, EOFError) as exc:
            raise _unreadable(path, exc) from None
        with f:
            try:
                yield _QuietDecoder(f) if f.format in ("MP3", "MPEG") else f
            except (RuntimeError, sf_error, OSError, EOFError) as exc:  # a block that cannot be decoded
                raise _unreadable(path, exc) from None


@contextlib.contextmanager
def decoder_quiet():
    """Run a decoder call with what its C library prints on file descriptor 2 dropped.

    libmpg123 (libsndfile's MP3 decoder) writes lines such as ``[src/libmpg123/layer3.c:...] error:
    dequantization failed!`` straight to descriptor 2, around the command's own one-line messages.  They
    are not passed on, not even as a warning: it also says ``part2_3_length ... too large`` after a seek
    into sound MP3s (QA: every MP3 that soundfile writes, read by ``segment``, whose audio was intact).
    What a damaged file does decode is judged as audio, like any other (silence, no speech, its
    length).  Python's own ``sys.stderr`` is flushed first, so nothing of ours is dropped."""
    with _DECODER_LOCK:  # one descriptor 2 per process: threads that decode MP3 take turns
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no descriptor 2 (a GUI, a closed stderr): nothing to drop
            yield
            return
        try:
            with open(os.devnull, "wb") as sink:
                os.dup2(sink.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietDecoder:
    """An open MP3 ``SoundFile`` whose reads and seeks run under :func:`decoder_quiet`."""

    def __init__(self, f):
        self._f = f

    def __getattr__(self, name):
        return getattr(self._f, name)

    def read(self, *args, **kwargs):
        with decoder_quiet():
            return self._f.read(*args, **kwargs)

    def seek(self, *args, **kwargs):
        with decoder_quiet():
            return self._f.seek(*args, **kwargs)


def read_blocks(f, blocksize: int, frames: int = -1):
    """Blocks ``(n, channels)`` float32 of the open SoundFile ``f`` from where it stands: ``frames`` of
    them (-1: to the end), at most ``blocksize`` each, ending early where the decoder does.

    Not ``SoundFile.blocks``: when a file holds fewer frames than its header says (a truncated MP3 whose
    Xing header counts the whole), that yields the unread rest of each block as it was in memory, and
    the same file gave "no speech" at one run and samples of 1e30 at the next (QA)."""
    left = int(f.frames) - int(f.tell()) if frames < 0 else int(frames)
    while left > 0:
        blk = f.read(min(int(blocksize), left), dtype="float32", always_2d=True)
        if len(blk) == 0:
            return
        left -= len(blk)
        yield blk


def _seek(f, frame: int, frames: int) -> int:
    """Move the open SoundFile ``f`` to ``frame``; return how many frames to read from there
    (``frames``, or the rest of the file for -1).  Some decoders cannot seek at all (GSM 6.10
    WAV, the format of many telephone systems' voicemail): those are read and discarded up to
    ``frame``, and the count is made explicit, as libsndfile then requires."""
    if f.seekable():
        f.seek(frame)
        return frames
    for left in range(frame, 0, -BLOCK_FRAMES):
        f.read(min(left, BLOCK_FRAMES), dtype="float32")
    return max(0, int(f.frames) - frame) if frames < 0 else frames


def _unreadable(path, exc) -> AudioError:
    why = " ".join(str(exc).split())
    if why.startswith("Error opening <") and ">: " in why:  # libsndfile names the file object, not the file
        why = why.split(">: ", 1)[1]
    if why.rstrip(".").endswith("Format not recognised"):
        why += " libsndfile reads WAV, FLAC, Ogg (Vorbis, Opus), MP3, AIFF and more; convert others, e.g. AAC/M4A"
        why += " with 'ffmpeg -i IN OUT.wav'"
    return AudioError(f"{path}: not a readable audio file ({why})")


def open_sound(path):
    """``with open_sound(path) as f:`` an open ``soundfile.SoundFile`` of ``path`` (``-``:
    standard input), after :func:`load_audio`'s checks, with its one-line errors: no such file,
    a directory, an empty or truncated file, not a readable audio file (also when a block
    cannot be decoded later).  For streaming a file block by block (:func:`mono_blocks`)."""
    return _sound(*_open_input(path))


def mono_blocks(f, sr: int, *, start: int = 0, frames: int = -1, channel: Optional[int] = None, block_frames=None):
    """Decode the open SoundFile ``f`` block by block from frame ``start`` (``frames`` of them,
    -1: to the end), mix each block down (channel average, or ``channel`` alone) and resample it
    to ``sr`` with a soxr stream.  Yields ``(block (n, channels), mono (n,), out)``, ``out`` the
    resampled mono audio (float32) it completes; a last ``(None, None, out)`` flushes the
    resampler.  The whole file is never in memory."""
    import soxr

    file_sr = int(f.samplerate)
    rs = soxr.ResampleStream(file_sr, int(sr), 1, dtype="float32", quality="HQ") if int(sr) != file_sr else None
    frames = _seek(f, start, frames)
    for blk in read_blocks(f, block_frames or BLOCK_FRAMES, frames):
        if channel is not None or blk.shape[1] == 1:
            mono = np.ascontiguousarray(blk[:, channel or 0])
        else:  # sum of columns: much faster than mean(axis=1) on an (n, 2) array
            mono = blk[:, 0].copy()
            for c in range(1, blk.shape[1]):
                mono += blk[:, c]
            mono *= np.float32(1.0 / blk.shape[1])
        yield blk, mono, (np.ascontiguousarray(rs.resample_chunk(mono, last=False)) if rs is not None else mono)
    if rs is not None:
        yield None, None, np.ascontiguousarray(rs.resample_chunk(np.zeros(0, np.float32), last=True))


def _read_long(f, path, start: int, frames: int, sr: int, check_silence: bool, only=None) -> tuple[np.ndarray, int]:
    """``frames`` samples from ``start`` (-1: to the end) of the open SoundFile ``f``, mixed
    down (or channel ``only``) and resampled to ``sr`` block by block (soxr stream), with
    :func:`load_audio`'s checks; ``(mono float32, sr)``.
    Channels that cancel out when averaged cost a second pass, over the channel used instead."""
    file_sr, ch = int(f.samplerate), int(f.channels)

    def passes(channel):
        return mono_blocks(f, sr, start=start, frames=frames, channel=channel)

    parts, stats, peak, meter = [], ChannelPower(ch), 0.0, ClipMeter(ch if only is None else 1, CLIP_STREAM_STEP)
    for blk, mono, out in passes(only):
        parts.append(out)
        if blk is not None:
            peak = max(peak, _check_samples(mono, path, check_silence=False))
            stats.add(blk, mono)
            meter.add(blk if only is None else mono)
    if stats.n == 0:
        raise AudioError(no_samples(path))
    channel = stats.cancelled_channel(path) if only is None else None
    if channel is not None:
        parts = [out for _, _, out in passes(channel)]
        peak = float(stats.peaks[channel])
    if check_silence and peak < SILENCE_PEAK:
        raise AudioError(_silence_message(path, peak))
    if file_sr < sr:
        _warn_upsampling(path, file_sr, sr)
    meter.warn(path)
    return np.concatenate(parts).astype(np.float32, copy=False), sr


#: clipping check (:class:`ClipMeter`): of the loud samples (at least this share of the peak: the speech's
#: body, not its pauses) ...
CLIP_BODY = 0.1
#: ... those within 0.1 % of their polarity's extreme (a converter's rails: 8-bit WAV's are +127/128 and -1,
#: and a DC offset added after clipping moves both) next to another such sample are its clipped plateaus;
#: a channel where they are at least this share is warned about.  The corpora's 4,700 files: at most
#: 0.26 %; a pure sine: 0.  Driven 6 / 12 / 20 dB into clipping (normalised to full scale first), 20
#: LibriSpeech files: median 1.0 / 8.1 / 24 %, 4 / 14 / 20 of them at 3 % or more; TI test files: median
#: 5.9 / 23 / 45 %, which lose (CLI-default digits / bundled gender) 0.5 / -1.0, 9.7 / 1.2 and 27.9 / 8.2
#: points (2026-12-04)
CLIPPED_SHARE = 0.03
#: ... when at least this many of its samples are loud (a file too short to classify is not also called clipped)
CLIP_MIN_BODY = 1000
#: files read in blocks count every this many-th run of samples (a plateau stays whole; counting them all
#: took about 5 % of `segment`'s time on 16 kHz audio, 0.018 s per minute of 48 kHz stereo) ...
CLIP_STREAM_STEP = 4
#: ... in runs of this many samples
_CLIP_RUN = 1024


class ClipMeter:
    """How clipped a recording is (:func:`clipped_share`), measured block by block: the rails are each
    polarity's extreme so far, and a block's loud samples are those above :data:`CLIP_BODY` of the peak so
    far (a quiet block after the speech has none, where its own peak would make all of it loud).  One
    meter per channel (a channel clipped alone is diluted by the mix).  A few comparisons per sample."""

    def __init__(self, channels: int = 1, step: int = 1):
        self.step = int(step)  # every step-th run of _CLIP_RUN samples (the streams)
        self.rail = np.zeros((channels, 2))  # most positive, most negative (as a magnitude) so far
        self.at_rail = np.zeros((channels, 2), dtype=np.int64)
        self.body = np.zeros(channels, dtype=np.int64)
        self.swing = np.full((channels, 2), [-np.inf, np.inf])  # highest and lowest sample so far

    def add(self, y: np.ndarray) -> None:
        """Count the samples ``y`` (shape (n,) or (n, channels)) of the next block."""
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if self.step > 1:  # the first of every `step` runs of _CLIP_RUN samples (a plateau stays whole)
            m = len(y) // (_CLIP_RUN * self.step) * _CLIP_RUN * self.step
            y = np.concatenate(
                [
                    y[:m].reshape(-1, self.step, _CLIP_RUN, y.shape[1])[:, 0].reshape(-1, y.shape[1]),
                    y[m : m + _CLIP_RUN],
                ]
            )
        if not len(y):
            return
        for c in range(y.shape[1]):
            x = np.ascontiguousarray(y[:, c])
            rail = self.rail[c]
            self.swing[c] = max(self.swing[c, 0], float(x.max())), min(self.swing[c, 1], float(x.min()))
            for side, top in enumerate((float(x.max()), -float(x.min()))):
                if 0.999 * top > rail[side]:  # a new rail: what was counted sits below it
                    self.at_rail[c, side] = 0
                rail[side] = max(rail[side], top)
            # a plateau: two neighbouring samples at the rail (a sine sampled at a multiple of its frequency
            # puts one sample on its crest every period, never two)
            for side, at in ((0, x >= np.float32(0.999 * rail[0])), (1, x <= np.float32(-0.999 * rail[1]))):
                if rail[side] > 0:
                    self.at_rail[c, side] += int(np.count_nonzero(at[1:] & at[:-1]))
            if rail.max() > 0:
                self.body[c] += int(np.count_nonzero(np.abs(x) >= np.float32(CLIP_BODY * rail.max())))

    def shares(self) -> list[tuple[int, float]]:
        """Per channel: (loud samples, share of them at a rail); with a ``step``, the samples it stands for."""
        out = []
        for body, rail, at, (high, low) in zip(self.body, self.rail, self.at_rail, self.swing):
            loud = rail >= CLIP_BODY * rail.max()  # a rail below the loud level holds no loud samples
            # a constant (a DC offset alone) sits at its rail throughout without being clipped
            if not high - low >= CLIP_BODY * rail.max():
                body = 0
            out.append((int(body) * self.step, min(1.0, float(at[loud].sum()) / body) if body else 0.0))
        return out

    def warn(self, path) -> None:
        """A SpeechGMMWarning naming ``path`` when a channel is clipped."""
        clipped = [(share, c) for c, (body, share) in enumerate(self.shares()) if body >= CLIP_MIN_BODY]
        share, c = max(clipped, default=(0.0, 0))
        if share >= CLIPPED_SHARE:
            which = f" (channel {c})" if len(self.rail) > 1 else ""
            warnings.warn(
                f"{path}: clipped{which} ({100 * share:.0f} % of the speech's samples at the peak level): the "
                f"recording was overdriven, and labels may be wrong (record at a lower level)",
                SpeechGMMWarning,
                stacklevel=3,
            )


def clipped_share(y: np.ndarray) -> float:
    """Share of the loud samples of mono ``y`` (at least :data:`CLIP_BODY` of its peak) that sit within 0.1 %
    of their polarity's extreme next to another such sample: 0-0.003 for speech recorded within range (and
    0 for a pure sine), 0.03 and more once it is driven into clipping.

    >>> sine = np.sin(2 * np.pi * 200 * np.arange(8000) / 8000)
    >>> round(clipped_share(sine), 2), round(clipped_share(np.clip(3 * sine, -1, 1)), 2)
    (0.0, 0.74)
    """
    meter = ClipMeter()
    meter.add(y)
    return float(meter.shares()[0][1])


def _silence_message(path, peak: float) -> str:
    db = 20 * np.log10(peak) if peak > 0 else float("-inf")
    return f"{path}: audio is all silence or too quiet to use (peak {db:.1f} dBFS)"


def _peak(y: np.ndarray) -> float:
    """The largest sample magnitude of ``y`` (NaN when it holds NaN; 0 when empty)."""
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(y))) if y.size else 0.0


def sample_problem(y: np.ndarray, peak: Optional[float] = None) -> Optional[str]:
    """What makes the samples ``y`` unusable (NaN / infinite, or far beyond full scale), or None;
    ``peak``: :func:`_peak` of ``y``, when the caller has it."""
    peak = _peak(y) if peak is None else peak
    if not np.isfinite(peak):
        return "contains NaN or infinite samples"
    if peak > MAX_SAMPLE:
        return f"samples reach {peak:.3g}, far beyond full scale (1.0; at most {MAX_SAMPLE:.0e} is accepted)"
    return None


def _check_samples(y: np.ndarray, path, check_silence: bool) -> float:
    """Raise AudioError if mono ``y`` holds unusable samples (:func:`sample_problem`) or
    (``check_silence``) is all silence; return its peak (one pass for every check)."""
    peak = _peak(y)
    problem = sample_problem(y, peak)
    if problem:
        raise AudioError(f"{path}: {problem}")
    if check_silence and peak < SILENCE_PEAK:
        raise AudioError(_silence_message(path, peak))
    return peak


def _resample(y: np.ndarray, file_sr: int, sr: int, path) -> tuple[np.ndarray, int]:
    """``y`` resampled from ``file_sr`` to ``sr`` Hz with soxr; upsampling warns once per pair of rates."""
    import soxr

    if file_sr < sr:
        _warn_upsampling(path, file_sr, sr)
    return soxr.resample(y, int(file_sr), int(sr), quality="HQ").astype(np.float32, copy=False), int(sr)


def warn_upsampling_once(paths, sr: int) -> None:
    """Give the upsampling warning of :func:`_resample` here, for every rate of ``paths`` below ``sr``
    (file headers only; unreadable files and pipes are left to the reader).  Called before worker
    processes are forked: they inherit the rates already warned about, so that a rate is warned about
    once per command, not once per worker."""
    import soundfile as sf

    for p in paths:
        p = getattr(p, "path", p)  # an AudioRegion: its recording
        if isinstance(p, PipedAudio):
            continue
        try:
            rate = sf.info(str(p)).samplerate
        except (RuntimeError, OSError, ValueError, TypeError, EOFError):
            continue
        if rate < sr:
            _warn_upsampling(p, rate, sr)


def _warn_upsampling(path, file_sr: int, sr: int) -> None:
    """Warn, once per pair of rates, that upsampled audio lacks the top of the band."""
    if (file_sr, sr) not in _warned_rates:
        _warned_rates.add((file_sr, sr))
        warnings.warn(
            f"{path}: {file_sr} Hz audio upsampled to {sr} Hz: nothing above {file_sr / 2:g} Hz, "
            f"the top of the front end's band is missing (warned once per rate)",
            SpeechGMMWarning,
            stacklevel=4,
        )
