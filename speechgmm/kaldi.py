"""Kaldi file I/O, through kaldiio.

Feature archives (``.ark`` + ``.scp``) are read and written with kaldiio; the two-column
text files of a Kaldi data dir (``wav.scp``, ``text``, ``utt2spk``) with a tiny parser.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from speechgmm._util import atomic_output
from speechgmm.errors import ConfigError, ManifestError
from speechgmm.gmm import FeatureStream


def read_feats(path: os.PathLike | str) -> dict[str, np.ndarray]:
    """Read a Kaldi feature ``.scp`` or ``.ark`` into ``{utt: (n_frames, n_dims) float32}``.

    Paths inside an scp are resolved as :func:`scp_locations` says (as Kaldi does, then against the
    scp's folder and its parent); an entry that cannot be read is a ManifestError naming its line.
    """
    import kaldiio

    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    if path.suffix == ".scp":
        return {key: load_entry(path, n, loc) for key, (n, loc) in scp_locations(path).items()}
    try:
        return {k: np.asarray(v, dtype=np.float32) for k, v in kaldiio.load_ark(str(path))}
    except (OSError, ValueError, RuntimeError, AssertionError) as exc:
        why = " ".join(str(exc).split()) or "not a Kaldi archive"
        raise ManifestError(f"{path}: cannot read Kaldi features ({why})") from None


def scp_locations(scp: os.PathLike | str) -> dict[str, tuple[int, str]]:
    """``{utt: (line number, location)}`` of a feature ``.scp`` (``utt ark_path:offset``), the one place that
    resolves its archive paths: as Kaldi does, relative to the current directory; when that names no file,
    relative to the scp's folder, then to its parent (the course's ``train/feats.scp`` says
    ``train/feats.ark``).  A path found is made absolute (worker processes may read it); one found nowhere
    is kept, and reading it names the line."""
    scp = Path(scp)
    out = {}
    for n, key, loc in two_column_lines(scp):
        arkpath = loc.rsplit(":", 1)[0]
        for base in (Path("."), scp.parent, scp.parent.parent):
            if (base / arkpath).is_file():
                loc = os.path.abspath(base / loc)
                break
        out[key] = (n, loc)
    return out


def load_entry(scp, n: int, loc: str) -> np.ndarray:
    """The matrix at ``loc`` (``ark_path:offset``, line ``n`` of ``scp``) as float32; a ManifestError naming
    ``scp:n`` if it cannot be read (no such archive, an offset past its end or not at a matrix)."""
    import kaldiio

    try:
        return np.asarray(kaldiio.load_mat(loc), dtype=np.float32)
    except (UnicodeDecodeError, AssertionError, EOFError):  # kaldiio's words for a wrong offset
        arkpath, _, offset = loc.rpartition(":")
        size = os.path.getsize(arkpath) if os.path.isfile(arkpath) else None
        if offset.isdigit() and size is not None and int(offset) >= size:
            why = f"offset {offset} is past the end of {arkpath} ({size} bytes)"
        else:
            why = f"no Kaldi matrix at offset {offset} of {arkpath}"
    except OSError as exc:
        why = f"{exc.filename or loc}: {exc.strerror or exc}"
    except (ValueError, RuntimeError) as exc:
        why = " ".join(str(exc).split()) or f"no Kaldi matrix at {loc}"
    raise ManifestError(f"{scp}:{n}: cannot read Kaldi features ({why})")


def write_feats(ark_path: os.PathLike | str, items: Iterable[tuple[str, np.ndarray]]) -> Path:
    """Write ``(utt, matrix)`` pairs to ``ark_path`` and its ``.scp`` twin, atomically.

    Both files are written to temporary names and renamed only when complete.

    Raises
    ------
    ManifestError
        An utterance id that is empty or holds whitespace.
    ConfigError
        A matrix that is not 1- or 2-dimensional, or holds NaN or infinite values (the error
        names the utterance; nothing is written).

    Returns
    -------
    Path
        The scp path (``ark_path`` with suffix ``.scp``).
    """
    import kaldiio

    ark_path = Path(ark_path)
    scp_path = ark_path.with_suffix(".scp")
    # the archive is committed first (the inner context), so an archive that cannot be written leaves no
    # index pointing into it (QA: -o full.ark, a link to /dev/full, left full.scp behind)
    with atomic_output(scp_path) as tmp_scp, atomic_output(ark_path) as tmp_ark:
        # streamed: one matrix in memory at a time; offsets point into the final ark name
        with open(tmp_ark, "wb") as fa, open(tmp_scp, "w") as fs:
            for utt, mat in items:
                if not utt or any(c.isspace() for c in utt):
                    raise ManifestError(f"{ark_path}: utterance id {utt!r} is empty or contains whitespace")
                with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: caught below
                    mat = np.asarray(mat, dtype=np.float32)
                if mat.ndim not in (1, 2):
                    raise ConfigError(
                        f"{ark_path}: utterance {utt!r} is a {mat.ndim}-dimensional array; "
                        "Kaldi holds vectors and matrices"
                    )
                if not np.all(np.isfinite(mat)):
                    bad = np.argwhere(~np.isfinite(mat.reshape(len(mat), -1)))[0]
                    raise ConfigError(
                        f"{ark_path}: utterance {utt!r} has NaN or infinite features "
                        f"(first at frame {bad[0]}); nothing written"
                    )
                fa.write(utt.encode("utf-8") + b" ")
                fs.write(f"{utt} {ark_path}:{fa.tell()}\n")
                kaldiio.save_mat(fa, mat)
    return scp_path


def two_column_lines(path: os.PathLike | str) -> list[tuple[int, str, str]]:
    """``(line number, key, value)`` of every line of a Kaldi two-column file (``key value...``), blank lines
    left out; ManifestError naming the line of one without a value or of a key seen before."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    from speechgmm.manifest import text_lines

    out, seen = [], set()
    # a byte-order mark (some Windows editors write one) is not part of the first key
    for n, line in enumerate(text_lines(path, "Kaldi file"), 1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            raise ManifestError(f"{path}:{n}: expected 'key value', got {line.strip()!r}")
        if parts[0] in seen:
            raise ManifestError(f"{path}:{n}: duplicate key {parts[0]!r}")
        seen.add(parts[0])
        out.append((n, parts[0], parts[1].strip()))
    return out


def read_two_column(path: os.PathLike | str) -> dict[str, str]:
    """Read a Kaldi two-column file (``key value...``) into an ordered dict."""
    return {key: value for _, key, value in two_column_lines(path)}


def read_wav_scp(path: os.PathLike | str) -> dict[str, Path]:
    """Read ``wav.scp``: ``{utt: absolute path}``; relative paths resolve against its folder.

    Piped entries (``sox ... |``) are not supported and raise ManifestError.  The parser is
    :func:`speechgmm.manifest.read_wav_scp` (one for manifests and this).
    """
    from speechgmm.manifest import read_wav_scp as _read

    return {k: p.resolve() for k, p in _read(path).items()}


def read_text(path: os.PathLike | str) -> dict[str, str]:
    """Read a Kaldi ``text`` (or ``utt2spk``) file: ``{utt: transcript}``."""
    return read_two_column(path)


class ArkFeatures(FeatureStream):
    """Features in a Kaldi archive, read one utterance at a time (a :class:`~speechgmm.gmm.FeatureStream`).

    EM over an ``ArkFeatures`` keeps only one utterance and one E-step chunk in memory, so
    models can be trained on corpora larger than RAM.  It pickles as (scp path, keys), so
    worker processes read the archive themselves.

    Parameters
    ----------
    scp : path-like
        Index written by :func:`write_feats` (or Kaldi).
    keys : sequence of str, optional
        Subset and order of utterances (default: all, in scp order).
    """

    def __init__(self, scp, keys=None):
        self.scp = Path(scp)
        index = scp_locations(self.scp)
        self.keys = list(keys) if keys is not None else list(index)
        missing = [k for k in self.keys if k not in index]
        if missing:
            raise ManifestError(f"{self.scp}: no entry for {', '.join(missing[:5])}")
        self._loc = [index[k] for k in self.keys]

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):
        for n, loc in self._loc:
            yield load_entry(self.scp, n, loc)

    def __getstate__(self):
        return {"scp": str(self.scp), "keys": self.keys, "_loc": self._loc}

    def __setstate__(self, d):
        self.scp, self.keys, self._loc = Path(d["scp"]), d["keys"], d["_loc"]
