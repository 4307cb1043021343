"""Kaldi file I/O, through kaldiio.

Feature archives (``.ark`` + ``.scp``) are read and written with kaldiio; the two-column
text files of a Kaldi data dir (``wav.scp``, ``text``, ``utt2spk``) with a tiny parser.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, Tuple

import numpy as np

from speechgmm._util import atomic_output
from speechgmm.errors import ManifestError


def read_feats(path: os.PathLike | str) -> Dict[str, np.ndarray]:
    """Read a Kaldi feature ``.scp`` or ``.ark`` into ``{utt: (n_frames, n_dims) float32}``.

    Paths inside an scp are resolved as Kaldi does, relative to the current directory;
    when that fails they are retried relative to the scp's folder and its parent.
    """
    import kaldiio

    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    try:
        if path.suffix == ".scp":
            out = {}
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                key, loc = line.split(None, 1)
                loc = loc.strip()
                arkpath = loc.rsplit(":", 1)[0]
                for base in (Path("."), path.parent, path.parent.parent):
                    if (base / arkpath).is_file():
                        loc = str(base / loc)
                        break
                out[key] = np.asarray(kaldiio.load_mat(loc), dtype=np.float32)
            return out
        return {k: np.asarray(v, dtype=np.float32) for k, v in kaldiio.load_ark(str(path))}
    except (OSError, ValueError, RuntimeError) as exc:
        raise ManifestError(f"{path}: cannot read Kaldi features ({exc})") from None


def write_feats(ark_path: os.PathLike | str, items: Iterable[Tuple[str, np.ndarray]]) -> Path:
    """Write ``(utt, matrix)`` pairs to ``ark_path`` and its ``.scp`` twin, atomically.

    Both files are written to temporary names and renamed only when complete.

    Returns
    -------
    Path
        The scp path (``ark_path`` with suffix ``.scp``).
    """
    import kaldiio

    ark_path = Path(ark_path)
    scp_path = ark_path.with_suffix(".scp")
    with atomic_output(ark_path) as tmp_ark, atomic_output(scp_path) as tmp_scp:
        kaldiio.save_ark(str(tmp_ark), {u: np.asarray(m, dtype=np.float32) for u, m in items}, scp=str(tmp_scp))
        # kaldiio wrote offsets into the temporary ark name: point them at the final one
        lines = []
        for line in tmp_scp.read_text().splitlines():
            utt, loc = line.split(" ", 1)
            lines.append(f"{utt} {ark_path}:{loc.rsplit(':', 1)[1]}\n")
        tmp_scp.write_text("".join(lines))
    return scp_path


def read_two_column(path: os.PathLike | str) -> Dict[str, str]:
    """Read a Kaldi two-column file (``key value...``) into an ordered dict."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    out: Dict[str, str] = {}
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            raise ManifestError(f"{path}:{n}: expected 'key value', got {line.strip()!r}")
        if parts[0] in out:
            raise ManifestError(f"{path}:{n}: duplicate key {parts[0]!r}")
        out[parts[0]] = parts[1].strip()
    return out


def read_wav_scp(path: os.PathLike | str) -> Dict[str, Path]:
    """Read ``wav.scp``: ``{utt: absolute path}``; relative paths resolve against its folder.

    Piped entries (``sox ... |``) are not supported and raise ManifestError.
    """
    path = Path(path)
    out = {}
    for k, v in read_two_column(path).items():
        if v.endswith("|"):
            raise ManifestError(f"{path}: piped wav.scp entries are not supported ({k})")
        p = Path(v)
        out[k] = p if p.is_absolute() else (path.parent / p).resolve()
    return out


def read_text(path: os.PathLike | str) -> Dict[str, str]:
    """Read a Kaldi ``text`` (or ``utt2spk``) file: ``{utt: transcript}``."""
    return read_two_column(path)
