"""Manifests: which audio files, with which labels.

Accepted inputs
---------------
* CSV or TSV with a header row containing ``path`` and any label columns (``label``,
  ``speaker``, ``gender``, ...); an optional ``utt`` (or ``id``) column names each row.
  The delimiter is taken from the extension (``.tsv`` = tab) or sniffed from the header.
* A Kaldi data dir (a folder with ``wav.scp`` and ``text`` and/or ``utt2spk``), or a
  ``wav.scp`` file with those files beside it.  ``text`` gives the column ``label``
  (also ``text``), ``utt2spk`` gives ``speaker``.

Relative audio paths resolve against ``root`` when given, else against the manifest's
own folder.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Dict, List, Optional

from speechgmm.errors import ManifestError

PATH_COLUMN = "path"
ID_COLUMNS = ("utt", "id", "utt_id")


@dataclasses.dataclass
class Manifest:
    """Rows of a manifest.

    Attributes
    ----------
    source : Path
        The file or folder read.
    utts : list of str
        Unique row ids.
    paths : list of Path
        Absolute audio paths, one per row.
    columns : dict of str to list of str
        Every other column (labels, speaker, gender, ...), one value per row.
    sha256 : str
        Hash of the manifest's bytes (recorded in model files).
    """

    source: Path
    utts: List[str]
    paths: List[Path]
    columns: Dict[str, List[str]]
    sha256: str

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self, column: str) -> List[str]:
        """Values of ``column``; ManifestError naming the available columns if it is missing
        or if any value is empty."""
        if column not in self.columns:
            have = ", ".join(sorted(self.columns)) or "none"
            raise ManifestError(f"{self.source}: no column {column!r} (label columns present: {have})")
        vals = self.columns[column]
        empty = [self.utts[i] for i, v in enumerate(vals) if not v.strip()]
        if empty:
            raise ManifestError(f"{self.source}: empty {column!r} for {_some(empty)}")
        return vals

    def subset(self, idx) -> "Manifest":
        idx = list(idx)
        return Manifest(self.source, [self.utts[i] for i in idx], [self.paths[i] for i in idx],
                        {k: [v[i] for i in idx] for k, v in self.columns.items()}, self.sha256)


def _some(items: List[str], n: int = 5) -> str:
    head = ", ".join(str(x) for x in items[:n])
    return head + (f" and {len(items) - n} more" if len(items) > n else "")


def _hash_files(*files: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def _resolve(p: str, base: Path) -> Path:
    q = Path(os.path.expanduser(p.strip()))
    return q if q.is_absolute() else base / q


def _read_table(path: Path, base: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not a text manifest (binary or not UTF-8)") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ManifestError(f"{path}: empty manifest (expected a header row with a 'path' column)")
    if path.suffix.lower() == ".tsv" or ("\t" in lines[0] and "," not in lines[0]):
        delim = "\t"
    else:
        delim = ","
    reader = csv.reader(lines, delimiter=delim)
    header = [h.strip() for h in next(reader)]
    if PATH_COLUMN not in header:
        raise ManifestError(f"{path}: no 'path' column in the header (columns: {', '.join(header)})")
    if len(set(header)) != len(header):
        raise ManifestError(f"{path}: duplicate column names in the header")
    rows = []
    for n, row in enumerate(reader, 2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ManifestError(f"{path}:{n}: {len(row)} fields, the header has {len(header)}")
        rows.append([c.strip() for c in row])
    if not rows:
        raise ManifestError(f"{path}: manifest has a header but no rows")
    pi = header.index(PATH_COLUMN)
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    paths = [_resolve(r[pi], base) for r in rows]
    if id_col:
        utts = [r[header.index(id_col)] for r in rows]
    else:
        utts = [r[pi] for r in rows]
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header) if h not in (PATH_COLUMN, id_col)}
    return utts, paths, columns, _hash_files(path)


def _read_kaldi(d: Path, wav_scp: Path, base: Path):
    from speechgmm.kaldi import read_two_column

    wav = read_two_column(wav_scp)
    for k, v in wav.items():
        if v.endswith("|"):
            raise ManifestError(f"{wav_scp}: piped entries are not supported ({k})")
    utts = list(wav)
    paths = [_resolve(wav[u], base) for u in utts]
    columns: Dict[str, List[str]] = {}
    for fname, cols in (("text", ("label", "text")), ("utt2spk", ("speaker",)), ("utt2gender", ("gender",))):
        f = d / fname
        if f.is_file():
            m = read_two_column(f)
            missing = [u for u in utts if u not in m]
            if missing:
                raise ManifestError(f"{f}: no entry for {_some(missing)}")
            for c in cols:
                columns[c] = [m[u] for u in utts]
    return utts, paths, columns, _hash_files(wav_scp, d / "text", d / "utt2spk")


def read_manifest(path: os.PathLike | str, root: Optional[os.PathLike | str] = None, check_files: bool = True) -> Manifest:
    """Read a CSV/TSV manifest, a Kaldi data dir or a ``wav.scp``.

    Parameters
    ----------
    path : path-like
        Manifest file or Kaldi data dir.
    root : path-like, optional
        Folder that relative audio paths are relative to (default: the manifest's folder).
    check_files : bool
        Fail (listing them) if audio files do not exist.

    Returns
    -------
    Manifest

    Raises
    ------
    ManifestError
        Missing manifest, no ``path`` column, ragged rows, duplicate ids, missing audio files.
    """
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"{path}: no such manifest file or directory")
    if path.is_dir():
        scp = path / "wav.scp"
        if not scp.is_file():
            raise ManifestError(f"{path}: a Kaldi data dir needs a wav.scp")
        base = Path(root) if root else path
        utts, paths, columns, sha = _read_kaldi(path, scp, base)
    elif path.name.endswith(".scp"):
        base = Path(root) if root else path.parent
        utts, paths, columns, sha = _read_kaldi(path.parent, path, base)
    else:
        base = Path(root) if root else path.parent
        utts, paths, columns, sha = _read_table(path, base)
    seen: Dict[str, int] = {}
    dups = []
    for u in utts:
        seen[u] = seen.get(u, 0) + 1
        if seen[u] == 2:
            dups.append(u)
    if dups:
        raise ManifestError(f"{path}: duplicate utterance ids: {_some(dups)}")
    if check_files:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ManifestError(f"{path}: {len(missing)} audio file(s) not found: {_some(missing)}")
    return Manifest(path, utts, [p.resolve() if p.exists() else p for p in paths], columns, sha)
