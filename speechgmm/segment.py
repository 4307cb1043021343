"""Who spoke when: find the speech in a long recording and label it over time.

The audio is streamed in blocks (soundfile blocks, channels averaged per block, rate
converted by ``soxr.ResampleStream``), so memory does not grow with the file's length; only
one byte per 10 ms frame (the speech decision) and the class scores per 0.1 s chunk are kept.

Per frame:

1. the model's own front end (:mod:`speechgmm.features`): static cepstra and log-energy of
   each 25 ms frame, Kaldi framing;
2. speech detection, shared with the front end (:class:`speechgmm.vad.SpeechDetector`,
   streaming): energy over a noise floor that follows the room noise, and a voicing test
   so that noise bursts are not taken for speech;
3. mean (and variance) normalisation over a sliding window of a few seconds of *speech*
   frames (not over the whole hour), deltas, and the per-frame log-likelihood of every class
   (:meth:`GMMClassifier.frame_scores`).

Per file: the speech decisions are smoothed (pauses shorter than ``min_pause`` bridged,
speech shorter than ``min_speech`` dropped), and the labels inside the speech are decoded by
Viterbi over 0.1 s chunks with a minimum duration per label and a switch penalty, lower at
a pause than inside continuous speech (speakers change at pauses). Segments are contiguous
runs of one label inside the speech.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from speechgmm._util import is_special
from speechgmm.errors import AudioError, ConfigError
from speechgmm.features import add_deltas, fill_digital_silence
from speechgmm.stream import BLOCK_SECONDS, FrameStream, audio_blocks

# -- defaults: one place ---------------------------------------------------------------------
#: shortest speech segment kept (s)
MIN_SPEECH = 0.2
#: shorter pauses inside speech are bridged (s)
MIN_PAUSE = 0.3
#: sliding window of the mean normalisation (s, centred; speech frames only)
CMN_WINDOW = 6.0
#: shortest run of one label (s)
MIN_LABEL = 1.0
#: Viterbi switch penalty in nats of (scaled) evidence, inside continuous speech / at a pause
SWITCH_PENALTY = 20.0
PAUSE_SWITCH_PENALTY = 4.0
#: frame log-likelihoods are correlated; they are scaled by this before decoding
SCORE_SCALE = 0.05
#: frames per label chunk (0.1 s at a 10 ms hop)
CHUNK = 10
#: largest accepted value of a duration option (s)
MAX_OPTION_SECONDS = 600.0


@dataclasses.dataclass(frozen=True)
class SegmentOptions:
    """Options of :func:`segment`; validated on construction (ConfigError, one line)."""

    min_speech: float = MIN_SPEECH
    min_pause: float = MIN_PAUSE
    cmn_window: float = CMN_WINDOW
    min_label: float = MIN_LABEL
    block_seconds: float = BLOCK_SECONDS

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{flag} must be a finite number of seconds, not {v!r}")
            if f.name in _MAY_BE_ZERO:
                if not (0 <= v <= MAX_OPTION_SECONDS):
                    raise ConfigError(f"{flag} must be >= 0 and <= {MAX_OPTION_SECONDS:g} seconds, not {v:g}")
            elif not (0 < v <= MAX_OPTION_SECONDS):
                raise ConfigError(f"{flag} must be > 0 and <= {MAX_OPTION_SECONDS:g} seconds, not {v:g}")


#: options where 0 means "none": keep every speech run, bridge no pause, no shortest label run
_MAY_BE_ZERO = ("min_speech", "min_pause", "min_label")


class Segmentation(NamedTuple):
    """Result of :func:`segment` for one file."""

    path: str
    duration: float  # seconds
    segments: list[tuple[float, float, str]]  # (start, end, label), seconds
    labels: list[str]  # the model's classes (and ``unknown`` with ``open_set``)

    def speaking_time(self) -> dict[str, float]:
        out = {lab: 0.0 for lab in self.labels}
        for a, b, lab in self.segments:
            out[lab] += b - a
        return out


# -- audio streaming -------------------------------------------------------------------------


def _file_info(path):
    from speechgmm.audio import STDIN, open_sound

    if str(path) == STDIN:  # read three times (length, blocks, plot), and streamed: a file is needed
        raise AudioError(f"{STDIN}: segment reads files, not standard input; save the audio to a file first")
    if isinstance(path, (str, os.PathLike)) and str(path) and is_special(path):
        raise AudioError(f"{path}: segment reads files, not pipes or devices; save the audio to a file first")
    with open_sound(path) as f:
        return int(f.samplerate), int(f.channels), int(f.frames)


def check_rate(path, file_sr: int, cfg, model_name: str = "the model") -> None:
    """The model's front end needs the band its filterbank analyses (up to ``fmax``, by default
    the Nyquist frequency of ``cfg.sr``); upsampling cannot add what the file lacks. Raise a
    one-line ConfigError naming the file and the model otherwise."""
    top = cfg.fmax if cfg.fmax > 0 else cfg.sr / 2 + cfg.fmax
    if file_sr / 2 < top - 1e-6:
        raise ConfigError(
            f"{path} is {file_sr} Hz audio but {model_name} analyses {cfg.sr} Hz audio up to "
            f"{top:g} Hz (needs audio of at least {2 * top:g} Hz)"
        )


# -- per-frame front end -------------------------------------------------------------------


# -- sliding mean normalisation, deltas, scores ---------------------------------------------


def _sliding_cmvn(C: np.ndarray, mask: np.ndarray, half: int, variance: bool) -> np.ndarray:
    """Subtract from each frame the mean of the speech frames (``mask``) within +-``half``
    frames (all frames of the window if none is speech); optionally divide by their std."""
    T = len(C)
    w = mask.astype(np.float64)
    Cm = C.astype(np.float64) * w[:, None]
    cs = np.concatenate([np.zeros((1, C.shape[1])), np.cumsum(Cm, axis=0)])
    cn = np.concatenate([[0.0], np.cumsum(w)])
    lo = np.clip(np.arange(T) - half, 0, T)
    hi = np.clip(np.arange(T) + half + 1, 0, T)
    n = cn[hi] - cn[lo]
    s = cs[hi] - cs[lo]
    ca = np.concatenate([np.zeros((1, C.shape[1])), np.cumsum(C, axis=0, dtype=np.float64)])
    none = n < 1
    mean = np.where(none[:, None], (ca[hi] - ca[lo]) / (hi - lo)[:, None], s / np.maximum(n, 1)[:, None])
    out = C - mean
    if variance:
        cq = np.concatenate([np.zeros((1, C.shape[1])), np.cumsum(Cm * C, axis=0)])
        aq = np.concatenate([np.zeros((1, C.shape[1])), np.cumsum(C.astype(np.float64) ** 2, axis=0)])
        sq = np.where(
            none[:, None], (aq[hi] - aq[lo]) / (hi - lo)[:, None], (cq[hi] - cq[lo]) / np.maximum(n, 1)[:, None]
        )
        sd = np.sqrt(np.maximum(sq - mean**2, 0.0))
        out = out / np.maximum(sd, 1e-5)
    return out.astype(np.float32)


class _Scorer:
    """Turns the frame stream into speech decisions and chunk class scores, block by block,
    with enough context on both sides that the result does not depend on the block size."""

    def __init__(self, clf, cfg, options: SegmentOptions):
        self.clf, self.cfg, self.opt = clf, cfg, options
        self.rate = 1000.0 / cfg.frame_shift_ms
        self.cmn_half = int(round(options.cmn_window * self.rate / 2))
        # the normalisation needs decisions +-cmn_half; deltas +-4
        self.ctx = max(self.cmn_half, cfg.delta_order * cfg.delta_window)
        self.block = max(CHUNK, int(options.block_seconds * self.rate) // CHUNK * CHUNK)
        self.parts: dict[str, list[np.ndarray]] = {}  # pending per-frame arrays by name
        self.have: dict[str, int] = {}  # frames received so far, by name
        self.start = 0  # index of the first pending frame
        self.next = 0  # first frame not yet decided
        self.speech: list[np.ndarray] = []
        self.chunks: list[np.ndarray] = []  # (n_chunks, n_classes) scores over speech frames
        self.counts: list[np.ndarray] = []  # speech frames per chunk

    def push(self, item: dict[str, np.ndarray], final=False):
        for k, v in item.items():
            self.parts.setdefault(k, []).append(v)
            self.have[k] = self.have.get(k, 0) + len(v)
        if "C" not in self.have:
            return
        end = min(self.have.values())
        while (end - self.next >= self.block + self.ctx) or (final and self.next < end):
            self._process(min(end, self.next + self.block), end)

    def _process(self, b, end):
        a = self.next
        lo, hi = max(0, a - self.ctx), min(end, b + self.ctx)
        off = self.start
        P = {k: np.concatenate(v) if len(v) > 1 else v[0] for k, v in self.parts.items()}
        sl = slice(lo - off, hi - off)
        cfg = self.cfg
        Cs, pitch = P["C"][sl], P["pitch"][sl] if "pitch" in P else None
        sp = P["speech"][sl]
        if cfg.vad:  # as the model's front end did (features.features_from_statics)
            Cs, pitch = fill_digital_silence(P["log_e"][sl], cfg, Cs, pitch)
        if cfg.cmn or cfg.cvn:
            Cs = _sliding_cmvn(Cs, sp, self.cmn_half, cfg.cvn)
        elif cfg.c0_norm:
            Cs = np.concatenate([_sliding_cmvn(Cs[:, :1], sp, self.cmn_half, False), Cs[:, 1:]], axis=1)
        if pitch is not None:
            Cs = np.concatenate([Cs, pitch], axis=1)

        X = add_deltas(Cs, cfg.delta_order, cfg.delta_window)[a - lo : b - lo]
        spb = sp[a - lo : b - lo]
        self.speech.append(spb)
        scores = np.zeros((len(X), len(self.clf.labels_)))
        if spb.any():
            scores[spb] = self.clf.frame_scores(X[spb])
        n = len(X)
        nc = -(-n // CHUNK)
        pad = nc * CHUNK - n
        if pad:
            scores = np.concatenate([scores, np.zeros((pad, scores.shape[1]))])
            spb = np.concatenate([spb, np.zeros(pad, bool)])
        self.chunks.append(scores.reshape(nc, CHUNK, -1).sum(1))
        self.counts.append(spb.reshape(nc, CHUNK).sum(1))
        self.next = b
        # keep only the context the next block needs
        keep_from = max(0, b - self.ctx)
        drop = keep_from - off
        if drop > 0:
            self.parts = {k: [v[drop:]] for k, v in P.items()}
            self.start = keep_from
        else:
            self.parts = {k: [v] for k, v in P.items()}


# -- smoothing and labelling ---------------------------------------------------------------


def _runs(mask: np.ndarray):
    """(start, end) index pairs of the True runs of ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _label_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of one value in ``labels`` that are not -1 (outside speech)."""
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change]).astype(int)
    ends = np.concatenate([change, [len(labels)]]).astype(int)
    return [(a, b) for a, b in zip(starts, ends) if len(labels) and labels[a] >= 0]


def smooth_speech(speech: np.ndarray, min_speech: int, min_pause: int) -> np.ndarray:
    """Bridge pauses shorter than ``min_pause`` frames, then drop speech runs shorter than
    ``min_speech`` frames."""
    s = speech.copy()
    a, b = _runs(~s)
    for x, y in zip(a, b):
        if 0 < x and y < len(s) and y - x < min_pause:
            s[x:y] = True
    a, b = _runs(s)
    for x, y in zip(a, b):
        if y - x < min_speech:
            s[x:y] = False
    return s


def viterbi_labels(
    scores: np.ndarray,
    pause_before: np.ndarray,
    min_len: int,
    switch: float = SWITCH_PENALTY,
    pause_switch: float = PAUSE_SWITCH_PENALTY,
) -> np.ndarray:
    """Most likely label sequence over chunks with a minimum run length.

    Parameters
    ----------
    scores : ndarray, shape (n, C)
        Evidence of each class per chunk (log domain).
    pause_before : ndarray of bool, shape (n,)
        A pause precedes chunk ``i``: a label change there costs ``pause_switch`` instead of
        ``switch``, and the minimum run length may be cut short there.
    min_len : int
        Minimum run length in chunks (within continuous speech).

    Returns
    -------
    ndarray of int, shape (n,)
    """
    n, C = scores.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    D = max(1, int(min_len))
    S = C * D  # state (c, d): d chunks into a run of class c, saturating at D - 1
    cls = np.repeat(np.arange(C), D)
    dur = np.tile(np.arange(D), C)
    NEG = -1e30
    delta = np.full(S, NEG)
    delta[dur == 0] = scores[0]
    back = np.zeros((n, S), dtype=np.int32)
    first = np.flatnonzero(dur == 0)
    idx = np.arange(S)
    prev_in_run = np.where(dur > 0, idx - 1, idx)
    for t in range(1, n):
        # staying in a run: (c, d-1) -> (c, d); (c, D-1) -> (c, D-1)
        stay = delta[prev_in_run].copy()
        stay_from = prev_in_run.copy()
        sat = dur == D - 1
        if D > 1:
            alt = delta[sat]  # (c, D-1) self loop
            better = alt > stay[sat]
            stay[sat] = np.where(better, alt, stay[sat])
            stay_from[sat] = np.where(better, idx[sat], stay_from[sat])
        stay[dur == 0] = NEG
        if D == 1:
            stay = delta.copy()
            stay_from = idx.copy()
        # switching: from a finished run (any state at a pause) of another class to (c', 0)
        pen = pause_switch if pause_before[t] else switch
        src = delta if pause_before[t] else np.where(sat, delta, NEG)
        nd = stay
        for c in range(C):
            other = cls != c
            j = int(np.argmax(np.where(other, src, NEG)))
            v = src[j] - pen
            s0 = first[c]
            if v > nd[s0]:
                nd[s0] = v
                stay_from[s0] = j
        back[t] = stay_from
        delta = nd + scores[t][cls]
    path = np.empty(n, dtype=np.int64)
    s = int(np.argmax(delta))
    for t in range(n - 1, -1, -1):
        path[t] = cls[s]
        s = back[t, s]
    return path


# -- driver ---------------------------------------------------------------------------------


def _model(model):
    """(classifier, FeatureConfig, name, header) from a path, a ModelFile or None (bundled gender model)."""
    if model is None or isinstance(model, (str, os.PathLike)):
        from speechgmm.commands._common import load_classifier

        mf = load_classifier(model)
        name = f"model {model}" if model is not None else "the bundled gender model"
        return mf.classifier, mf.feature_config, name, mf.header
    if hasattr(model, "classifier") and hasattr(model, "feature_config"):
        name = getattr(model, "name", None) or f"model {getattr(model, 'path', '')}".strip()
        if model.classifier is None:  # a UBM: no classes to label with (as load_classifier says of its path)
            raise ConfigError(f"{name}: a {getattr(model, 'kind', 'background')} model has no classes to label with")
        header = getattr(model, "header", None)
        return model.classifier, model.feature_config, name, header if isinstance(header, dict) else {}
    raise ConfigError(f"model must be a model file path or a loaded model file, not {type(model).__name__}")


def segment(
    path,
    model=None,
    options: Optional[SegmentOptions] = None,
    show_progress: bool = False,
    *,
    open_set: bool = False,
    threshold: Optional[float] = None,
) -> Segmentation:
    """Find the speech in ``path`` and label it with the classes of ``model``.

    Parameters
    ----------
    path : path-like
        Audio file of any length, rate and channel count (streamed).
    model : path-like or ModelFile, optional
        A classifier model (default: the bundled gender model).
    options : SegmentOptions, optional
    show_progress : bool
        Progress bar on a terminal.
    open_set : bool
        Label a segment ``unknown`` when no class is close enough: when the open-set score of its
        speech frames (as ``classify --open-set`` scores a file) stays below the model's stored
        threshold.  For speaker models: strangers in a recording of enrolled voices.
    threshold : float, optional
        Open-set threshold instead of the stored one (implies ``open_set``), e.g. ``2.0``.

    Raises
    ------
    AudioError
        Unreadable file, or shorter than one frame.
    ConfigError
        The model's front end cannot run on the file (its rate is below the model's); ``open_set``
        with a model that has no stored threshold and no ``threshold``.
    """
    from speechgmm.audio import ChannelPower, no_samples

    opt = options or SegmentOptions()
    clf, cfg, name, header = _model(model)
    rule = None
    if open_set or threshold is not None:
        from speechgmm.speakers import open_set_rule

        rule = open_set_rule(clf.labels_, header, threshold, name)
    file_sr, n_channels, n_samples = _file_info(path)
    check_rate(path, file_sr, cfg, name)
    duration = n_samples / file_sr if file_sr else 0.0
    if n_samples == 0:
        raise AudioError(no_samples(path))
    if n_samples * cfg.sr / max(file_sr, 1) < cfg.win_length:
        raise AudioError(
            f"{path}: too short ({duration * 1000:.1f} ms; at least one {cfg.frame_length_ms:g} ms frame is needed)"
        )
    power = ChannelPower(n_channels) if n_channels > 1 else None
    scorer = _score_stream(path, clf, cfg, opt, file_sr, duration, show_progress, power=power)
    channel = power.cancelled_channel(path) if power is not None else None
    if channel is not None:  # the channels cancel out when averaged: a second pass over the first audible one
        scorer = _score_stream(path, clf, cfg, opt, file_sr, duration, show_progress, channel=channel)
    if not scorer.speech:
        raise AudioError(f"{path}: too short (at least one {cfg.frame_length_ms:g} ms frame is needed)")
    if scorer.seconds < duration - 0.01:  # the header counts more than decodes (a truncated MP3)
        duration = scorer.seconds
    labels = list(clf.labels_)
    if rule is not None:
        from speechgmm.speakers import UNKNOWN

        labels.append(UNKNOWN)
    segs = _decode(
        np.concatenate(scorer.speech),
        np.concatenate(scorer.chunks),
        np.concatenate(scorer.counts),
        labels,
        cfg,
        opt,
        rule,
    )
    return Segmentation(str(path), float(duration), segs, labels)


def _score_stream(path, clf, cfg, opt, file_sr, duration, show_progress, *, channel=None, power=None):
    """One pass over the file: its frames' speech flags and class scores (a :class:`_Scorer`)."""
    from speechgmm._util import progress

    frames = FrameStream(cfg)
    scorer = _Scorer(clf, cfg, opt)
    seen = 0  # samples at the model's rate
    n_blocks = max(1, math.ceil(duration / opt.block_seconds))
    for y in progress(
        audio_blocks(path, cfg.sr, opt.block_seconds, channel=channel, power=power, remove_hum=cfg.vad),
        total=n_blocks + (file_sr != cfg.sr),
        desc=Path(path).name,
        enabled=None if show_progress else False,
    ):
        if len(y):
            seen += len(y)
            scorer.push(frames.push(y))
    scorer.push(frames.push(np.zeros(0, np.float32), final=True), final=True)
    scorer.seconds = seen / cfg.sr
    return scorer


def _open_set_pieces(lab_chunk: np.ndarray, chunks: np.ndarray, counts: np.ndarray, rule) -> np.ndarray:
    """``lab_chunk`` (decoded label per chunk, -1 outside speech) with each piece that is not close enough
    to its label relabelled ``n_classes`` (unknown).  A piece is a run of one decoded label between
    pauses (a segment); its mean scores per speech frame (``chunks``: summed frame scores per chunk,
    ``counts``: speech frames per chunk) are scored as ``classify --open-set`` scores a file's
    (:func:`speechgmm.speakers.open_set_scores`, for the decoded label) against ``rule = (threshold,
    t weight)``.  A piece without a scored frame is unknown.

    Pieces are decided one by one, not pooled over a turn of one decoded label: a stranger whose
    voice is nearest to the enrolled speaker they talk with is decoded as that speaker, turn after
    turn, and pooled with them the stranger's words were outweighed (tests/test_segment_open_set.py)."""
    from speechgmm.speakers import open_set_scores

    out = lab_chunk.copy()
    runs = _label_runs(lab_chunk)
    if not runs:
        return out
    n = np.array([counts[a:b].sum() for a, b in runs], np.float64)
    S = np.stack([chunks[a:b].sum(0) for a, b in runs]) / np.maximum(n, 1)[:, None]
    _, score = open_set_scores(S, rule[1], chosen=np.array([lab_chunk[a] for a, _ in runs]))
    for (a, b), s, k in zip(runs, score, n):
        if not (k > 0 and s >= rule[0]):
            out[a:b] = chunks.shape[1]
    return out


def _decode(speech, chunks, counts, labels, cfg, opt: SegmentOptions, rule=None):
    rate = 1000.0 / cfg.frame_shift_ms
    sp = smooth_speech(speech, max(1, int(round(opt.min_speech * rate))), max(1, int(round(opt.min_pause * rate))))
    T = len(sp)
    if not sp.any():
        return []
    # chunks touched by smoothed speech; a chunk with no detected speech frame inside bridged
    # speech carries no evidence (score 0)
    nc = len(chunks)
    pad = nc * CHUNK - T
    spc = np.concatenate([sp, np.zeros(pad, bool)]).reshape(nc, CHUNK).any(1)
    idx = np.flatnonzero(spc)
    ev = chunks[idx] * SCORE_SCALE
    ev -= ev.max(axis=1, keepdims=True)
    pause_before = np.zeros(len(idx), dtype=bool)
    if len(idx):
        pause_before[1:] = np.diff(idx) > 1
    path = viterbi_labels(ev, pause_before, int(round(opt.min_label * rate / CHUNK)))
    lab_chunk = np.full(nc, -1, dtype=np.int64)
    lab_chunk[idx] = path
    if rule is not None:
        lab_chunk = _open_set_pieces(lab_chunk, chunks, counts, rule)
    lab_frame = np.repeat(lab_chunk, CHUNK)[:T]
    lab_frame[~sp] = -1
    hop = cfg.hop_length / cfg.sr
    off = (cfg.win_length - cfg.hop_length) / 2 / cfg.sr
    return [
        (round(float(a * hop + off), 3), round(float(b * hop + off), 3), str(labels[lab_frame[a]]))
        for a, b in _label_runs(lab_frame)
    ]


def segment_file(
    path, model=None, *, open_set: bool = False, threshold: Optional[float] = None, **options
) -> list[tuple[float, float, str]]:
    """Speech segments of ``path`` as ``(start, end, label)`` in seconds (see :func:`segment`).

    ``model`` is a model file path or loaded model (default: the bundled gender model);
    ``open_set`` / ``threshold`` label segments of none of its classes ``unknown``; the other
    keyword options are those of :class:`SegmentOptions` (``min_speech``, ``min_pause``, ...).
    """
    if not isinstance(open_set, (bool, np.bool_)):  # QA: open_set="yes" (or "no") was taken as true
        raise ConfigError(f"open_set must be True or False, not {open_set!r}")
    return segment(path, model, SegmentOptions(**options), open_set=open_set, threshold=threshold).segments


def _bytes_escaped(text) -> str:
    """``text`` with the bytes of a file name that are not UTF-8 (Python holds them as lone surrogates,
    ``\\udcff``) written as ``\\xff``: the same bytes always give the same text, and it can be encoded."""
    text = str(text)
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else c for c in text)


def printable(text) -> str:
    """``text`` shown on one line: a tab, a newline or another control character as its escape (``\\t``,
    ``\\n``), a byte of a file name that is not UTF-8 as ``\\xff`` (the table's cells, the plot's titles)."""
    text = _bytes_escaped(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def rttm_file_id(path) -> str:
    """The RTTM file id of ``path``: its name without extension, whitespace as ``_`` (bytes that are not
    UTF-8 as ``\\xff``, as in the table)."""
    return rttm_name(Path(path).stem) if Path(path).stem.split() else "file"


def check_rttm_file_ids(paths) -> None:
    """ConfigError naming two of ``paths`` that would get the same RTTM file id (one RTTM of both would
    merge them)."""
    seen: dict[str, str] = {}
    for p in map(str, paths):
        fid = rttm_file_id(p)
        if fid in seen:
            raise ConfigError(
                f"{printable(seen[fid])} and {printable(p)}: both would be file '{fid}' in the RTTM, which scoring "
                "tools would merge; rename one, or segment them in separate runs"
            )
        seen[fid] = p


def check_rttm_labels(labels, model_name: str = "the model") -> None:
    """ConfigError naming two of ``labels`` that would get the same RTTM name (``Mary Ann`` and ``Mary_Ann``:
    :func:`rttm_name`), whose segments scoring tools would take for one speaker's."""
    seen: dict[str, str] = {}
    for lab in map(str, labels):
        name = rttm_name(lab)
        if name in seen and seen[name] != lab:
            raise ConfigError(
                f"{model_name}: the labels {printable(seen[name])!r} and {printable(lab)!r} would both be "
                f"'{name}' in the RTTM, which scoring tools would take for one speaker; rename one of them"
            )
        seen[name] = lab


def rttm_lines(result: Segmentation) -> list[str]:
    """NIST RTTM ``SPEAKER`` lines of one file (file id: :func:`rttm_file_id`; ConfigError when two of
    its labels share one RTTM name: :func:`check_rttm_labels`)."""
    check_rttm_labels(result.labels)
    fid = rttm_file_id(result.path)
    return [
        f"SPEAKER {fid} 1 {a:.3f} {b - a:.3f} <NA> <NA> {rttm_name(lab)} <NA> <NA>" for a, b, lab in result.segments
    ]


def rttm_name(label: str) -> str:
    """A class label as one RTTM field: whitespace as ``_`` (RTTM fields are separated by spaces), bytes
    of a file name that are not UTF-8 as ``\\xff``."""
    return "_".join(_bytes_escaped(label).split()) or "_"


#: frames read at a time by :func:`_envelope` (whatever the file's length)
ENVELOPE_BLOCK = 1 << 16


def _envelope(path, bins: int):
    """Peak absolute amplitude of ``bins`` equal slices of the file, streamed in blocks of at most
    ``ENVELOPE_BLOCK`` frames (memory does not grow with the file's length)."""
    from speechgmm.audio import open_sound, read_blocks

    with open_sound(path) as f:
        n = max(1, f.frames)
        step = max(1, -(-n // bins))
        out = np.zeros(-(-n // step), dtype=np.float32)
        pos = 0
        for blk in read_blocks(f, ENVELOPE_BLOCK):
            m = np.abs(blk).max(axis=1)
            i = pos // step  # the slice the block starts in; it may have begun in the block before
            starts = np.concatenate([[0], np.arange((i + 1) * step - pos, len(m), step)]).astype(np.intp)
            j = slice(i, i + len(starts))
            out[j] = np.maximum(out[j], np.maximum.reduceat(m, starts))
            pos += len(m)
        sr = f.samplerate
    return out, n / sr


#: colours of the labels in a plot: no grey (the waveform's, and ``unknown``'s), 20 distinct ones
_UNKNOWN_COLOUR = (0.62, 0.62, 0.62, 1.0)


def _label_colours(labels) -> dict:
    """A colour per label: ``unknown`` (open set) grey, which no other label gets; up to 20 others distinct
    (tab10 and the light half of tab20 without their greys, then two of tab20b), more spread over the hues."""
    import matplotlib
    from matplotlib.colors import hsv_to_rgb

    from speechgmm.speakers import UNKNOWN

    tab10, tab20, tab20b = (matplotlib.colormaps[name] for name in ("tab10", "tab20", "tab20b"))
    palette = [tab10(i) for i in range(10) if i != 7] + [tab20(2 * i + 1) for i in range(10) if i != 7]
    palette += [tab20b(1), tab20b(9)]
    named = [lab for lab in labels if lab != UNKNOWN]
    if len(named) > len(palette):
        palette = [(*hsv_to_rgb((k / len(named), 0.75, 0.85)), 1.0) for k in range(len(named))]
    out = {lab: palette[k] for k, lab in enumerate(named)}
    if UNKNOWN in labels:
        out[UNKNOWN] = _UNKNOWN_COLOUR
    return out


def segment_figure(results):
    """The matplotlib figure of :func:`plot_segments` (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from speechgmm.speakers import UNKNOWN

    present = {lab for r in results for _, _, lab in r.segments}  # the legend: labels with segments only
    labels = sorted(present - {UNKNOWN}) + [UNKNOWN] * (UNKNOWN in present)
    colours = _label_colours(labels)
    fig, axes = plt.subplots(len(results), 1, figsize=(12, 1.8 * len(results) + 0.6), squeeze=False)
    try:
        for ax, r in zip(axes[:, 0], results):
            env, dur = _envelope(r.path, 4000)
            peak = float(env.max()) if len(env) else 0.0
            t = np.linspace(0, dur, len(env))
            ax.fill_between(t, -env, env, color="0.45", linewidth=0)
            spans: dict[str, list] = {}
            for a, b, lab in r.segments:
                spans.setdefault(lab, []).append((a, b - a))
            for lab, xranges in spans.items():  # one collection per label: an axvspan each cost ~8 kB a segment
                ax.broken_barh(
                    xranges, (0, 1), transform=ax.get_xaxis_transform(), color=colours[lab], alpha=0.35, linewidth=0
                )
            ax.set_xlim(0, max(dur, 1e-3))
            top = peak if np.isfinite(peak) and peak > 0 else 1.0  # scaled to the file's peak
            ax.set_ylim(-1.05 * top, 1.05 * top)
            ax.set_yticks([])
            level = f"peak {20 * np.log10(peak):.1f} dBFS" if np.isfinite(peak) and peak > 0 else "silent"
            ax.set_title(f"{printable(Path(r.path).name)} ({level})", fontsize=9, loc="left")
        axes[-1, 0].set_xlabel("time (s)")
        if labels:
            fig.legend(
                handles=[Patch(color=colours[lab], alpha=0.5, label=printable(lab)) for lab in labels],
                loc="upper right",
                ncol=min(len(labels), 10),
                fontsize=8,
            )
    except BaseException:
        plt.close(fig)
        raise
    return fig


def plot_segments(results, output) -> None:
    """PNG of each file's waveform (peak envelope, scaled to the file's peak) with its segments coloured by
    label (needs matplotlib, the ``[plot]`` extra); written atomically."""
    from speechgmm._util import save_figure

    save_figure(segment_figure(results), output)
