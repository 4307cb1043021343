"""Manifests: which audio files, with which labels.

Accepted inputs
---------------
* CSV or TSV with a header row containing ``path`` and any label columns (``label``,
  ``speaker``, ``gender``, ...); an optional ``utt`` (or ``id``) column names each row.
  The separator is a comma, a semicolon or a tab: the one that makes the header hold a
  ``path`` column (a tab first for ``.tsv`` files).  Fields holding the separator are
  quoted as in any CSV: ``"my dir/a, b.wav"``.
* A Kaldi data dir (a folder with ``wav.scp`` and ``text`` and/or ``utt2spk``), or a
  ``wav.scp`` file with those files beside it.  ``text`` gives the column ``label``
  (also ``text``), ``utt2spk`` gives ``speaker``, ``utt2gender`` gives ``gender`` (or
  ``spk2gender`` with ``utt2spk``: its ``m`` / ``f`` read as ``male`` / ``female``); a ``spk2utt``
  beside ``utt2spk`` must say the same.
  With a ``segments`` file (``utt-id recording-id start end [channel]``, in seconds; end -1:
  to the end; channel from 0) each row is a region of a recording (an :class:`AudioRegion`),
  and ``wav.scp`` keys recordings.

Relative audio paths resolve against ``root`` when given, else against the manifest's
own folder.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

from speechgmm.audio import REGION_END_TOLERANCE, PipedAudio
from speechgmm.errors import ManifestError

PATH_COLUMN = "path"
ID_COLUMNS = ("utt", "id", "utt_id")
#: separators of CSV/TSV manifests, in the order they are tried
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
#: Kaldi's spk2gender says m or f; the gender column (and the bundled gender model) says male or female
SPK2GENDER = {"m": "male", "f": "female"}
#: Kaldi files that give label columns: file name -> column names
KALDI_LABEL_FILES = {"text": ("label", "text"), "utt2spk": ("speaker",), "utt2gender": ("gender",)}
#: a segment may end this far (seconds) beyond its recording (rounding in the tool that wrote it)
SEGMENT_END_TOLERANCE = REGION_END_TOLERANCE


@dataclasses.dataclass(frozen=True)
class AudioRegion:
    """The region ``[start, end)`` seconds of a recording (a row of a data dir with ``segments``).

    It stands where a path stands in :attr:`Manifest.paths`, so it reaches
    :func:`speechgmm.features.extract_file` through every caller unchanged; it is
    deliberately not path-like (``Path(region)`` fails instead of reading the whole recording).
    """

    path: Path
    start: float
    end: float  #: seconds; ``math.inf``: to the end of the recording (Kaldi's end time -1)
    channel: Optional[int] = None  #: read this channel alone (from 0, as Kaldi counts); None: average them

    def __str__(self) -> str:
        times = f"{self.start:g} s-end" if self.end == math.inf else f"{self.start:g}-{self.end:g} s"
        return f"{self.path} [{times}{'' if self.channel is None else f', channel {self.channel}'}]"

    @property
    def name(self) -> str:
        return self.path.name

    def is_file(self) -> bool:
        return self.path.is_file()

    def exists(self) -> bool:
        return self.path.exists()

    def resolve(self) -> AudioRegion:
        return dataclasses.replace(self, path=self.path.resolve())


Audio = Union[Path, AudioRegion, PipedAudio]


def portable(p):
    """``p`` as sent to another process or task: ``str`` for a path, an :class:`AudioRegion` or a
    :class:`~speechgmm.audio.PipedAudio` unchanged (their ``str()`` is for messages only)."""
    return p if isinstance(p, (AudioRegion, PipedAudio)) else str(p)


@dataclasses.dataclass
class Manifest:
    """Rows of a manifest.

    Attributes
    ----------
    source : Path
        The file or folder read.
    utts : list of str
        Unique row ids.
    paths : list of Path or AudioRegion
        Absolute audio paths, one per row (an :class:`AudioRegion` for a row of a Kaldi
        ``segments`` file).
    columns : dict of str to list of str
        Every other column (labels, speaker, gender, ...), one value per row.
    sha256 : str
        Hash of the manifest's bytes (recorded in model files).
    """

    source: Path
    utts: list[str]
    paths: list[Audio]
    columns: dict[str, list[str]]
    sha256: str

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self, column: str, needed_for: str = "") -> list[str]:
        """Values of ``column``; ManifestError naming the available columns if it is missing
        or if any value is empty (``needed_for``: what the column is read for, said then)."""
        if column not in self.columns:
            have = ", ".join(sorted(self.columns)) or "none"
            raise ManifestError(f"{self.source}: no column {column!r} (label columns present: {have})")
        vals = self.columns[column]
        empty = [self.utts[i] for i, v in enumerate(vals) if not v.strip()]
        if empty:
            raise ManifestError(f"{self.source}: empty {column!r} for {_some(empty)}{needed_for and '; ' + needed_for}")
        return vals

    def subset(self, idx) -> Manifest:
        idx = list(idx)
        return Manifest(
            self.source,
            [self.utts[i] for i in idx],
            [self.paths[i] for i in idx],
            {k: [v[i] for i in idx] for k, v in self.columns.items()},
            self.sha256,
        )


def _some(items: list[str], n: int = 5) -> str:
    head = ", ".join(str(x) for x in items[:n])
    return head + (f" and {len(items) - n} more" if len(items) > n else "")


def manifest_inputs(manifest, root=None) -> list:
    """A manifest (its files: a Kaldi data dir's wav.scp, text, utt2spk, ...) and the audio files it names:
    inputs that no output may replace (for :func:`speechgmm._util.check_output`)."""
    return [manifest, *manifest_files(manifest), *read_manifest(manifest, root=root, check_files=False).paths]


def unreadable_paths(paths) -> list[str]:
    """One message per kind of path in ``paths`` that names no audio file (folders; missing files), each
    naming the first few, for one error that lists them all; ``[]`` when every path is a file."""
    names = list(dict.fromkeys(str(getattr(p, "path", p)) for p in paths))
    folders = [n for n in names if Path(n).is_dir()]
    missing = [n for n in names if not Path(n).is_file() and not Path(n).is_dir()]
    problems = []
    if folders:
        problems.append(f"{len(folders)} path(s) are folders, not audio files: {_some(folders)}")
    if missing:
        problems.append(f"{len(missing)} audio file(s) not found: {_some(missing)}")
    return problems


def _hash_files(*files: Path) -> str:
    import hashlib  # only for --cache keys (cold start of classify)

    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def _resolve(p: str, base: Path) -> Path:
    q = Path(os.path.expanduser(p.strip()))
    return q if q.is_absolute() else base / q


def _table_error_hint() -> str:
    return "separators accepted: " + ", ".join(SEPARATORS.values())


def text_lines(path: Path, what: str = "manifest") -> list[str]:
    """The lines of the UTF-8 text file ``path`` (a byte-order mark dropped); a ManifestError naming the line
    of the first byte that is not UTF-8 (manifests, Kaldi files, trials: one rule; Kaldi files and trials had
    such bytes replaced, so a label or a path changed without a word)."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        n = data[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{path}:{n}: not a text {what} (binary or not UTF-8: byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    return text.splitlines()


def _read_text(path: Path) -> list[str]:
    return text_lines(path)


def _split(line: str, sep: str) -> list[str]:
    return [h.strip() for h in next(csv.reader([line], delimiter=sep), [])]


def sniff_separator(path: Path, header: str, required: str = PATH_COLUMN) -> str:
    """The separator (``,`` ``;`` or tab) that makes ``header`` hold the column ``required``.

    Tried in the order of :data:`SEPARATORS` (a tab first for ``.tsv``); ManifestError
    naming the accepted separators when none does.
    """
    order = list(SEPARATORS)
    if path.suffix.lower() == ".tsv":
        order.insert(0, order.pop(order.index("\t")))
    for sep in order:
        if required in _split(header, sep):
            return sep
    cols = max((_split(header, s) for s in order), key=len)
    raise ManifestError(
        f"{path}: no {required!r} column in the header (columns: {', '.join(cols)}; {_table_error_hint()})"
    )


def read_rows(
    path: Path, required: str = PATH_COLUMN, what: str = "manifest"
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and non-blank rows (with their line numbers) of a CSV/TSV file.

    ManifestError naming ``file:line`` for a row whose field count differs from the header's, a quoted
    field that runs over lines, or a row the csv module cannot read (an unclosed quote).
    """
    lines = _read_text(path)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)  # blank lines before the header
    if first is None:
        raise ManifestError(f"{path}: empty {what} (expected a header row with a {required!r} column)")
    # strict: an unclosed quote at the end of the file is an error, not a field that runs to the end
    reader = csv.reader(lines, delimiter=sniff_separator(path, lines[first], required), strict=True)
    rows, last = [], 0
    try:
        for _ in range(first):
            next(reader)
        header = [h.strip() for h in next(reader)]
        if len(set(header)) != len(header):
            twice = sorted({h for h in header if header.count(h) > 1})
            raise ManifestError(f"{path}: duplicate column names in the header: {', '.join(map(repr, twice))}")
        last = reader.line_num
        for row in reader:
            start, last = last + 1, reader.line_num  # the lines this row took
            if last > start:  # splitlines() took the line break out of the quoted field: refuse, not merge
                raise ManifestError(
                    f"{path}:{start}-{last}: a quoted field runs over several lines (a line break in a value?)"
                )
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ManifestError(f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
            rows.append((reader.line_num, [c.strip() for c in row]))
    except csv.Error as e:  # e.g. a field over the csv module's limit: an unclosed quote swallowed the rest
        raise ManifestError(f"{path}:{last + 1}: unreadable row ({e}; check its quotes)") from None
    if not rows:
        raise ManifestError(f"{path}: {what} has a header but no rows")
    return header, rows


def _columns(header: list[str], rows: list[list[str]], base: Path):
    """(utts, paths, other columns) of a table's rows; ids from the first of :data:`ID_COLUMNS`
    present, else the path as written."""
    pi = header.index(PATH_COLUMN)
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    utts = [r[header.index(id_col) if id_col else pi] for r in rows]
    paths: list[Audio] = [_resolve(r[pi], base) for r in rows]
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header) if h not in (PATH_COLUMN, id_col)}
    return utts, paths, columns


def _read_table(path: Path, base: Path):
    header, rows = read_rows(path)
    pi = header.index(PATH_COLUMN)
    ids = [header.index(c) for c in ID_COLUMNS if c in header][:1]  # the id column (as _columns picks it)
    for n, r in rows:
        for i in [pi, *ids]:
            if not r[i].strip():
                raise ManifestError(f"{path}:{n}: empty {header[i]!r}")
    return (*_columns(header, [r for _, r in rows], base), _hash_files(path))


def read_wav_scp(path: os.PathLike | str, base: Optional[os.PathLike | str] = None) -> dict[str, Path | PipedAudio]:
    """``{key: Path}`` from a Kaldi ``wav.scp``; relative paths join ``base`` (default: its folder).

    The one ``wav.scp`` parser (:func:`speechgmm.kaldi.read_wav_scp` calls it).  A piped entry
    (``flac -c -d -s x.flac |``) becomes a :class:`~speechgmm.audio.PipedAudio` that runs the
    command in ``base`` when the audio is read.
    """
    from speechgmm.kaldi import read_two_column

    path = Path(path)
    base = Path(base) if base is not None else path.parent
    wav = read_two_column(path)
    out = {}
    for k, v in wav.items():
        if v.endswith("|"):
            command = v[:-1].strip()
            if not command:
                raise ManifestError(f"{path}: entry {k!r} is an empty command ('|')")
            out[k] = PipedAudio(command, k, str(base.resolve()))
        else:
            out[k] = _resolve(v, base)
    return out


def _segment_row(seg: Path, n: int, line: str, wav: dict[str, Path]):
    """(utt, AudioRegion) of one ``segments`` line, or ManifestError naming ``seg:n``."""
    parts = line.split()
    if len(parts) not in (4, 5):
        raise ManifestError(f"{seg}:{n}: expected 'utt-id recording-id start end [channel]', got {line.strip()!r}")
    utt, rec, a, b = parts[:4]
    try:
        start, end = float(a), float(b)
    except ValueError:
        raise ManifestError(f"{seg}:{n}: start and end must be numbers (seconds), got {a!r} {b!r}") from None
    channel = None
    if len(parts) == 5:
        if not (parts[4].isascii() and parts[4].isdigit()):
            raise ManifestError(f"{seg}:{n}: channel must be an integer >= 0 (Kaldi counts from 0), got {parts[4]!r}")
        channel = int(parts[4])
    if rec not in wav:
        raise ManifestError(f"{seg}:{n}: recording {rec!r} is not in wav.scp")
    if not (math.isfinite(start) and math.isfinite(end)):  # 'inf' is not Kaldi's way to say "to the end"
        end = math.nan
    elif end == -1:  # Kaldi: to the end of the recording
        end = math.inf
    if math.isnan(end) or not 0 <= start < end:
        raise ManifestError(f"{seg}:{n}: need 0 <= start < end (or end -1: to the end), got start {a} end {b}")
    return utt, AudioRegion(wav[rec], start, end, channel)


def _recording_seconds(path: Path) -> Optional[float]:
    """Duration of a readable recording, else None (extraction reports unreadable files)."""
    import soundfile as sf

    if isinstance(path, PipedAudio):  # known only by running the command: not checked here
        return None
    try:
        return sf.info(str(path)).duration if path.is_file() else None
    except (RuntimeError, OSError, ValueError, TypeError, EOFError):
        return None


def read_segments(path: os.PathLike | str, wav: dict[str, Path]) -> tuple[list[str], list[AudioRegion]]:
    """Utterance ids and regions of a Kaldi ``segments`` file (``utt-id rec-id start end [channel]``;
    an end of -1 runs to the end of the recording, as in Kaldi's ``extract-segments``).

    ManifestError naming ``file:line`` for a malformed line, an unknown recording,
    ``end <= start``, or a segment that ends beyond its (readable) recording.
    """
    seg = Path(path)
    utts, regions, lines = [], [], []
    for n, line in enumerate(text_lines(seg, "Kaldi file"), 1):
        if line.strip():
            utt, region = _segment_row(seg, n, line, wav)
            utts.append(utt)
            regions.append(region)
            lines.append(n)
    durations: dict[Path, Optional[float]] = {}
    for n, r in zip(lines, regions):
        if r.path not in durations:
            durations[r.path] = _recording_seconds(r.path)
        dur = durations[r.path]
        if dur is not None and r.end == math.inf and r.start >= dur:
            raise ManifestError(f"{seg}:{n}: starts at {r.start:g} s, beyond the end of {r.path} ({dur:.3f} s)")
        if dur is not None and math.inf > r.end > dur + SEGMENT_END_TOLERANCE:
            raise ManifestError(f"{seg}:{n}: segment ends at {r.end:g} s, beyond the end of {r.path} ({dur:.3f} s)")
    return utts, regions


def _kaldi_gender(value: str) -> str:
    """Kaldi's ``m`` / ``f`` (either case) as ``male`` / ``female``, the bundled model's classes; others as given."""
    return SPK2GENDER.get(value.lower(), value)


def _one_word_values(f: Path, what: str) -> dict[str, str]:
    """A Kaldi file of ``key value`` lines whose value is one word (``utt2spk``, ``utt2gender``, ``spk2gender``):
    ManifestError naming ``file:line`` of a line with more fields (QA: 'AC extra' was a speaker)."""
    from speechgmm.kaldi import two_column_lines

    out = {}
    for n, key, value in two_column_lines(f):
        if len(value.split()) > 1:
            raise ManifestError(f"{f}:{n}: expected '{what}' (2 fields), got {len(value.split()) + 1}: {key} {value}")
        out[key] = value
    return out


def _check_spk2utt(f: Path, utt2spk: dict[str, str], where: Path) -> None:
    """``spk2utt`` must say what ``utt2spk`` says (Kaldi's validate_data_dir.sh checks it): ManifestError naming
    the first disagreement (QA: one that disagreed was never read)."""
    from speechgmm.kaldi import two_column_lines

    seen = set()
    for n, spk, value in two_column_lines(f):
        for utt in value.split():
            if utt in seen:
                raise ManifestError(f"{f}:{n}: utterance {utt!r} listed twice")
            seen.add(utt)
            if utt2spk.get(utt) != spk:
                says = f"speaker {utt2spk[utt]!r}" if utt in utt2spk else "no entry for it"
                raise ManifestError(f"{f}:{n}: utterance {utt!r} of speaker {spk!r}, but {where.name} has {says}")
    missing = [u for u in utt2spk if u not in seen]
    if missing:
        raise ManifestError(f"{f}: no speaker lists utterance {_some(missing)} (of {where.name})")


def _speaker_files(d: Path, columns: dict[str, list[str]]) -> None:
    """The files of a Kaldi data dir keyed by speaker, read through the ``speaker`` column (utt2spk):
    ``spk2gender`` gives ``gender`` when no ``utt2gender`` did; without utt2spk, it and ``spk2utt`` are not
    read, and a warning says so."""
    import warnings

    from speechgmm.errors import SpeechGMMWarning

    if (d / "spk2utt").is_file() and "speaker" not in columns:
        warnings.warn(f"{d / 'spk2utt'}: not read: it needs utt2spk beside it", SpeechGMMWarning, stacklevel=3)
    s2g = d / "spk2gender"
    if s2g.is_file() and "gender" not in columns:  # Kaldi's usual way to give gender
        if "speaker" not in columns:
            warnings.warn(f"{s2g}: not read: it needs utt2spk beside it", SpeechGMMWarning, stacklevel=3)
        else:
            m = _one_word_values(s2g, "speaker gender")
            missing = sorted({s for s in columns["speaker"] if s not in m})
            if missing:
                raise ManifestError(f"{s2g}: no entry for speaker {_some(missing)} (of utt2spk)")
            columns["gender"] = [_kaldi_gender(m[s]) for s in columns["speaker"]]


def _read_kaldi(d: Path, wav_scp: Path, base: Path):
    from speechgmm.kaldi import read_two_column

    for f in _kaldi_files(d, wav_scp)[1:]:  # read when present: one that is not a file is not skipped unsaid
        if f.exists() and not f.is_file():
            raise ManifestError(f"{f}: is a {'folder' if f.is_dir() else 'pipe or device'}, not a Kaldi {f.name} file")
    wav = read_wav_scp(wav_scp, base)
    seg = d / "segments"
    if seg.is_file():
        utts, paths = read_segments(seg, wav)
    else:
        utts, paths = list(wav), list(wav.values())
    if not utts:
        raise ManifestError(f"{seg if seg.is_file() else wav_scp}: no utterances (empty file)")
    columns: dict[str, list[str]] = {}
    for fname, cols in KALDI_LABEL_FILES.items():
        f = d / fname
        if f.is_file():
            m = read_two_column(f) if fname == "text" else _one_word_values(f, f"utterance {cols[0]}")
            if fname == "utt2spk" and (d / "spk2utt").is_file():
                _check_spk2utt(d / "spk2utt", m, f)
            missing = [u for u in utts if u not in m]
            if missing:
                raise ManifestError(f"{f}: no entry for {_some(missing)}")
            extra = sorted(set(m) - set(utts))
            if extra:  # Kaldi's fix_data_dir.sh drops them too, but not without a word
                import warnings

                from speechgmm.errors import SpeechGMMWarning

                where = "segments" if seg.is_file() else wav_scp.name
                warnings.warn(
                    f"{f}: {len(extra)} utterance(s) not in {where} left out: {_some(extra)}",
                    SpeechGMMWarning,
                    stacklevel=2,
                )
            for c in cols:
                columns[c] = [m[u] for u in utts]
            if fname == "utt2gender":  # Kaldi's m / f, as in spk2gender (QA: they stayed 'm' / 'f' here)
                columns["gender"] = [_kaldi_gender(g) for g in columns["gender"]]
    _speaker_files(d, columns)
    return utts, paths, columns, _hash_files(*_kaldi_files(d, wav_scp))


def _kaldi_files(d: Path, wav_scp: Path) -> list[Path]:
    """The files of a Kaldi data dir that a manifest is read from (those present or not)."""
    return [wav_scp, d / "segments", d / "spk2gender", *(d / f for f in KALDI_LABEL_FILES), d / "spk2utt"]


def _kaldi_location(path: Path) -> Optional[tuple[Path, Path]]:
    """``(data dir, wav.scp)`` when ``path`` is a Kaldi data dir or a ``wav.scp``; None for a table."""
    if path.is_dir():
        return path, path / "wav.scp"
    if path.name.endswith(".scp"):
        return path.parent, path
    return None


def manifest_files(path: os.PathLike | str) -> list[Path]:
    """The files that make up the manifest at ``path`` (a CSV/TSV file: itself; a Kaldi data dir or its
    ``wav.scp``: every file of it that is read), which no output may replace."""
    path = Path(path)
    kaldi = _kaldi_location(path)
    return [f for f in (_kaldi_files(*kaldi) if kaldi else [path]) if f.exists()]


def _read_any(path: Path, root):
    """(utts, paths, columns, sha256) of a manifest file, Kaldi data dir or wav.scp."""
    kaldi = _kaldi_location(path)
    if kaldi is None:
        return _read_table(path, Path(root) if root else path.parent)
    d, scp = kaldi
    if path.is_dir() and not scp.is_file():
        raise ManifestError(f"{path}: a Kaldi data dir needs a wav.scp")
    return _read_kaldi(d, scp, Path(root) if root else d)


def _duplicates(items: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    dups = []
    for u in items:
        seen[u] = seen.get(u, 0) + 1
        if seen[u] == 2:
            dups.append(u)
    return dups


def same_audio(p):
    """What two rows naming the same audio share: the file (its device and inode when it exists: a hard link
    or another spelling of the path is the same file; else its absolute normalised path), or a wav.scp command
    without its recording id (``cat a.wav |`` under two ids is the same audio twice), with the region of a
    segments row (QA: such rows trained twice without a word; a trials file's lines are compared so too)."""
    from speechgmm.audio import PipedAudio

    f = p.path if isinstance(p, AudioRegion) else p
    if isinstance(f, PipedAudio):
        what = ("command", f.command, f.cwd)
    else:
        try:
            st = os.stat(f)
            what = ("file", st.st_dev, st.st_ino)
        except (OSError, ValueError, TypeError):
            what = ("path", os.path.normpath(os.path.abspath(f)) if isinstance(f, (str, os.PathLike)) else str(f))
    return what if f is p else (what, p.start, p.end, p.channel)


def warn_about_labels(man: Manifest, column: str, labels: Sequence[str], known: Sequence[str] = ()) -> None:
    """Warn (one SpeechGMMWarning each) about training rows that most likely do not mean what they say:
    the same audio named by more than one row (it counts as often: a file written ``./a//b.wav`` once and
    ``a/b.wav`` once), with different labels too, and labels that differ only in case (``Female`` and
    ``female`` are two classes), also from the ``known`` labels of a model enrolled into (QA: each of these
    trained without a word)."""
    import warnings

    from speechgmm.errors import SpeechGMMWarning

    rows: dict[object, list[int]] = {}
    for i, p in enumerate(man.paths):
        rows.setdefault(same_audio(p), []).append(i)
    repeated = {str(man.paths[v[0]]): v for v in rows.values() if len(v) > 1}
    if repeated:
        warnings.warn(
            f"{man.source}: {len(repeated)} audio file(s) named by more than one row, each counted as often as "
            f"named: {_some([f'{k} (rows {_some([str(i + 1) for i in v], 3)})' for k, v in repeated.items()], 3)}",
            SpeechGMMWarning,
            stacklevel=2,
        )
        torn = {k: sorted({labels[i] for i in v}) for k, v in repeated.items() if len({labels[i] for i in v}) > 1}
        if torn:
            warnings.warn(
                f"{man.source}: {len(torn)} audio file(s) with different {column!r} labels in different rows: "
                + _some([f"{k} ({' / '.join(v)})" for k, v in torn.items()], 3),
                SpeechGMMWarning,
                stacklevel=2,
            )
    by_case: dict[str, set] = {}
    for lab in (*dict.fromkeys(labels), *known):
        by_case.setdefault(lab.casefold(), set()).add(lab)
    clash = [" / ".join(sorted(v)) for v in by_case.values() if len(v) > 1]
    if clash:
        warnings.warn(
            f"{man.source}: {column!r} labels that differ only in case are different classes: {_some(clash, 3)}",
            SpeechGMMWarning,
            stacklevel=2,
        )


def read_manifest(
    path: os.PathLike | str, root: Optional[os.PathLike | str] = None, check_files: bool = True
) -> Manifest:
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
        Missing manifest, no ``path`` column, ragged rows, duplicate ids, missing audio
        files, bad ``segments`` lines.
    """
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"{path}: no such manifest file or directory")
    utts, paths, columns, sha = _read_any(path, root)
    dups = _duplicates(utts)
    if dups:
        raise ManifestError(f"{path}: duplicate utterance ids: {_some(dups)}")
    if check_files:
        problems = unreadable_paths(p for p in paths if not p.is_file())
        if problems:
            raise ManifestError(f"{path}: " + "; ".join(problems))
    return Manifest(path, utts, [p.resolve() if p.exists() else p for p in paths], columns, sha)
