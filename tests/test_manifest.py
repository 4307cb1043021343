"""Manifests: CSV/TSV, Kaldi data dirs, path resolution and every error path."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgmm.errors import AudioError, ManifestError
from speechgmm.manifest import read_manifest


@pytest.fixture
def audio_dir(tmp_path):
    d = tmp_path / "audio"
    d.mkdir()
    for n in ("a", "b", "c"):
        sf.write(d / f"{n}.wav", np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1, 8000)
    return d


def test_csv_relative_paths_resolve_against_manifest_folder(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,label,speaker\naudio/a.wav,yes,s1\naudio/b.wav,no,s2\n")
    man = read_manifest(m)
    assert man.paths == [audio_dir / "a.wav", audio_dir / "b.wav"]
    assert man.labels("label") == ["yes", "no"]
    assert man.labels("speaker") == ["s1", "s2"]
    assert len(man.sha256) == 64


def test_tsv_with_id_and_root(tmp_path, audio_dir):
    m = tmp_path / "lists" / "m.tsv"
    m.parent.mkdir()
    m.write_text("utt\tpath\tlabel\nu1\taudio/c.wav\tx\nu2\taudio/a.wav\ty\n")
    man = read_manifest(m, root=tmp_path)
    assert man.utts == ["u1", "u2"]
    assert man.paths[0] == audio_dir / "c.wav"


def test_kaldi_data_dir(tmp_path, audio_dir):
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {audio_dir / 'a.wav'}\nu2 ../audio/b.wav\n")
    (d / "text").write_text("u1 one\nu2 two\n")
    (d / "utt2spk").write_text("u1 s1\nu2 s2\n")
    man = read_manifest(d)
    assert man.labels("label") == ["one", "two"]
    assert man.labels("speaker") == ["s1", "s2"]
    assert man.paths[1].name == "b.wav"
    assert man.paths[1].is_file()
    assert read_manifest(d / "wav.scp").labels("label") == ["one", "two"]


def test_kaldi_spk2gender_and_byte_order_marks(tmp_path, audio_dir):
    """spk2gender (Kaldi's usual gender file) gives the gender column through utt2spk; a UTF-8
    byte-order mark (a Windows editor's) is not part of the first key (was: 'u1' had no entry)."""
    from speechgmm.errors import SpeechGMMWarning

    d = tmp_path / "data"
    d.mkdir()
    bom = "\ufeff"
    (d / "wav.scp").write_text(f"{bom}u1 {audio_dir / 'a.wav'}\nu2 {audio_dir / 'b.wav'}\nu3 {audio_dir / 'c.wav'}\n")
    (d / "utt2spk").write_text(f"{bom}u1 s1\nu2 s2\nu3 s1\n")
    (d / "spk2gender").write_text(f"{bom}s1 f\ns2 m\n")
    man = read_manifest(d)
    assert man.utts == ["u1", "u2", "u3"]
    # Kaldi's m / f are the bundled gender model's classes (QA: evaluating it on a data dir found 'f', 'm')
    assert man.labels("gender") == ["female", "male", "female"]
    (d / "utt2gender").write_text("u1 m\nu2 F\nu3 other\n")  # per utterance wins, its m / f read alike (QA)
    assert read_manifest(d).labels("gender") == ["male", "female", "other"]
    (d / "utt2gender").unlink()
    (d / "spk2gender").write_text("s1 f\n")
    with pytest.raises(ManifestError, match=r"spk2gender: no entry for speaker s2"):
        read_manifest(d)
    (d / "utt2spk").unlink()  # spk2gender alone cannot be read: said, not ignored
    with pytest.warns(SpeechGMMWarning, match=r"spk2gender: not read: it needs utt2spk beside it"):
        assert "gender" not in read_manifest(d).columns


def test_csv_unclosed_quote_and_line_breaks_in_fields(tmp_path, audio_dir):
    """An unclosed quote swallowing the file was an internal error (csv's field limit); a quoted line
    break was dropped silently, joining two lines into one label."""
    m = tmp_path / "m.csv"
    m.write_text('path,label\naudio/a.wav,"yes\n' + "x" * 140000 + "\naudio/b.wav,no\n")
    with pytest.raises(ManifestError, match=r"m.csv:2: unreadable row .*check its quotes"):
        read_manifest(m)
    m.write_text('path,label\naudio/a.wav,yes\naudio/b.wav,"no\n')  # on the last row: was accepted (QA)
    with pytest.raises(ManifestError, match=r"m.csv:3: unreadable row \(unexpected end of data"):
        read_manifest(m)
    m.write_text("\n\npath,label\naudio/a.wav,yes\n")  # blank lines before the header: was "empty manifest"
    assert read_manifest(m).labels("label") == ["yes"]
    m.write_text('path,label\naudio/a.wav,"ye\ns"\naudio/b.wav,no\n')
    with pytest.raises(ManifestError, match=r"m.csv:2-3: a quoted field runs over several lines"):
        read_manifest(m)
    m.write_text('path,label\n"audio/a.wav","yes, sir"\n\naudio/b.wav,no\n')  # quotes on one line, blank line
    assert read_manifest(m).labels("label") == ["yes, sir", "no"]


def test_kaldi_labels_without_audio_are_left_out_with_a_warning(tmp_path, audio_dir):
    # were dropped without a word ("trained on 20 files" from a text of 40)
    from speechgmm.errors import SpeechGMMWarning

    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1 {audio_dir / 'a.wav'}\n")
    (d / "text").write_text("u1 one\nu2 two\nu3 three\n")
    with pytest.warns(SpeechGMMWarning, match=r"text: 2 utterance\(s\) not in wav.scp left out: u2, u3"):
        man = read_manifest(d)
    assert man.utts == ["u1"]


def test_course_kaldi_dir(gmm_dir):
    man = read_manifest(gmm_dir / "train")
    assert len(man) == 330
    assert sorted(set(man.labels("label"))) == sorted("123456789OZ")


@pytest.mark.parametrize(
    "text,match",
    [
        ("file,label\na.wav,x\n", "no 'path' column"),
        ("", "empty manifest"),
        ("path,label\n", "no rows"),
        ("path,label\naudio/a.wav,x,extra\n", "3 fields"),
        ("utt,path,label\nu,audio/a.wav,x\nu,audio/b.wav,y\n", "duplicate utterance ids: u"),
        ("path,label\naudio/a.wav,x\naudio/nope1.wav,y\naudio/nope2.wav,y\n", "2 audio file.s. not found: .*nope1.wav"),
        # an empty path is not the manifest's folder ("1 audio file(s) not found: <folder>")
        ("path,label\naudio/a.wav,x\n ,y\n", r"m.csv:3: empty 'path'"),
        ("path,label,gender,label\naudio/a.wav,x,f,y\n", r"duplicate column names in the header: 'label'$"),
        # two empty ids were "duplicate utterance ids: " with nothing after the colon
        ("utt,path,label\n,audio/a.wav,x\n,audio/b.wav,y\n", r"m.csv:2: empty 'utt'"),
        ("id,path,label\nu1,audio/a.wav,x\n  ,audio/b.wav,y\n", r"m.csv:3: empty 'id'"),
    ],
)
def test_errors(tmp_path, audio_dir, text, match):
    m = tmp_path / "m.csv"
    m.write_text(text)
    with pytest.raises(ManifestError, match=match):
        read_manifest(m)


def test_missing_column_lists_available(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,gender\naudio/a.wav,f\n")
    with pytest.raises(ManifestError, match="no column 'label'.*gender"):
        read_manifest(m).labels("label")


def test_empty_label(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path,label\naudio/a.wav,\n")
    with pytest.raises(ManifestError, match="empty 'label'"):
        read_manifest(m).labels("label")


def test_missing_manifest_and_binary(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "none.csv")
    b = tmp_path / "bin.csv"
    b.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ManifestError):
        read_manifest(b)


def test_many_missing_files_are_summarised(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,label\n" + "".join(f"x{i}.wav,a\n" for i in range(9)))
    with pytest.raises(ManifestError, match="9 audio file.s. not found.*and 4 more"):
        read_manifest(m)


# --- separators (issue 13) ----------------------------------------------------------------


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".txt"])
def test_comma_semicolon_and_tab_manifests(tmp_path, audio_dir, sep, suffix):
    m = tmp_path / f"m{suffix}"
    m.write_text(
        sep.join(["utt", "path", "label"])
        + "\n"
        + sep.join(["u1", "audio/a.wav", "yes"])
        + "\n"
        + sep.join(["u2", "audio/b.wav", "no"])
        + "\n"
    )
    man = read_manifest(m)
    assert man.utts == ["u1", "u2"] and man.paths == [audio_dir / "a.wav", audio_dir / "b.wav"]
    assert man.labels("label") == ["yes", "no"]


def test_quoted_field_holds_the_separator(tmp_path, audio_dir):
    (audio_dir / "x, y;z.wav").write_bytes((audio_dir / "a.wav").read_bytes())
    m = tmp_path / "m.csv"
    m.write_text('path;label\n"audio/x, y;z.wav";"a;b"\n')
    man = read_manifest(m)
    assert man.paths[0].name == "x, y;z.wav" and man.labels("label") == ["a;b"]


def test_unknown_separator_names_the_accepted_ones(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path|label\naudio/a.wav|x\n")
    with pytest.raises(ManifestError, match=r"m\.csv: no 'path' column .*separators accepted: comma, semicolon, tab"):
        read_manifest(m)


def test_ragged_row_names_its_line(tmp_path, audio_dir):
    m = tmp_path / "m.csv"
    m.write_text("path;label\n\naudio/a.wav;x\naudio/b.wav;y;z\n")
    with pytest.raises(ManifestError, match=r"m\.csv:4: 3 fields, the header has 2"):
        read_manifest(m)


# --- Kaldi segments files (issue 11) -------------------------------------------------------


@pytest.fixture
def segments_dir(tmp_path, gmm_dir):
    """A data dir whose one recording is two corpus utterances with 0.25 s of silence between;
    two segments cut them out again, with their known labels."""
    from speechgmm.kaldi import read_text, read_wav_scp

    wav, text = read_wav_scp(gmm_dir / "train" / "wav.scp"), read_text(gmm_dir / "train" / "text")
    keys = [k for k in wav if text[k] != text[next(iter(wav))]][:1] + [next(iter(wav))]
    parts = [sf.read(wav[k], dtype="int16")[0] for k in keys]
    gap = np.zeros(2000, np.int16)
    d = tmp_path / "data"
    (d / "rec").mkdir(parents=True)
    sf.write(d / "rec" / "r1.wav", np.concatenate([parts[0], gap, parts[1]]), 8000, subtype="PCM_16")
    t1 = (len(parts[0]) + len(gap)) / 8000
    (d / "wav.scp").write_text("r1 rec/r1.wav\n")
    (d / "segments").write_text(f"s1 r1 0 {len(parts[0]) / 8000}\ns2 r1 {t1} {t1 + len(parts[1]) / 8000}\n")
    (d / "text").write_text(f"s1 {text[keys[0]]}\ns2 {text[keys[1]]}\n")
    (d / "utt2spk").write_text("s1 a\ns2 b\n")
    return d, [wav[k] for k in keys], [text[k] for k in keys]


def test_segments_rows_are_regions_of_recordings(segments_dir):
    from speechgmm.manifest import AudioRegion

    d, originals, labels = segments_dir
    man = read_manifest(d)
    assert man.utts == ["s1", "s2"] and man.labels("label") == labels and man.labels("speaker") == ["a", "b"]
    assert all(isinstance(p, AudioRegion) and p.path == (d / "rec" / "r1.wav").resolve() for p in man.paths)
    assert man.paths[0].start == 0 and man.paths[1].start == pytest.approx((sf.info(originals[0]).frames + 2000) / 8000)
    seg = (d / "segments").read_text()
    (d / "segments").write_text(seg.replace("s1 r1 0 ", "s1 r1 0.01 "))
    assert read_manifest(d).sha256 != man.sha256  # the segments file is hashed
    (d / "segments").write_text(seg)
    (d / "utt2gender").write_text("s1 f\ns2 m\n")
    assert read_manifest(d).sha256 != man.sha256  # and utt2gender (it was not)


def test_segment_features_equal_the_original_files(segments_dir):
    from speechgmm.features import FeatureConfig, extract_file, extract_files

    d, originals, _ = segments_dir
    cfg = FeatureConfig()
    man = read_manifest(d)
    for jobs in (1, 2):
        feats, _ = extract_files(man.paths, cfg, jobs=jobs)
        for X, orig in zip(feats, originals):
            assert np.array_equal(X, extract_file(orig, cfg))
    whole = extract_file(d / "rec" / "r1.wav", cfg)
    assert whole.shape[0] > sum(f.shape[0] for f in feats)


def test_segments_channel_column_and_end_minus_one(segments_dir):
    # Kaldi's extract-segments reads an optional 5th column (the channel, from 0) and takes an end of -1
    # as "to the end of the recording"; both were refused ("expected 'utt-id recording-id start end'")
    from speechgmm.features import FeatureConfig, extract_file, extract_files

    d, originals, _ = segments_dir
    mono = sf.read(d / "rec" / "r1.wav", dtype="int16")[0]
    noise = (np.random.default_rng(0).standard_normal(len(mono)) * 3000).astype(np.int16)
    sf.write(d / "rec" / "r2.wav", np.stack([noise, mono], 1), 8000, subtype="PCM_16")  # the speech on channel 1
    (d / "wav.scp").write_text("r1 rec/r1.wav\nr2 rec/r2.wav\n")
    seg = (d / "segments").read_text().splitlines()
    t1 = seg[1].split()[2]
    (d / "segments").write_text(f"{seg[0].replace(' r1 ', ' r2 ')} 1\ns2 r2 {t1} -1 1\n")
    man = read_manifest(d)
    assert [p.channel for p in man.paths] == [1, 1] and man.paths[1].end == float("inf")
    assert "channel 1" in str(man.paths[0]) and "end" in str(man.paths[1])
    cfg = FeatureConfig()
    feats, _ = extract_files(man.paths, cfg, jobs=1)
    for X, orig in zip(feats, originals):
        assert np.array_equal(X, extract_file(orig, cfg))  # channel 1 alone, not the mix with the noise
    (d / "segments").write_text(f"{seg[0].replace(' r1 ', ' r2 ')} 2\n{seg[1].replace(' r1 ', ' r2 ')} 1\n")
    with pytest.raises(
        AudioError, match=r"r2.wav \[0-[0-9.]+ s, channel 2\]: no channel 2 \(2 channels; the first is 0\)"
    ):
        extract_files(read_manifest(d).paths, cfg, jobs=1)


@pytest.mark.parametrize(
    "line, match",
    [
        ("s1 r1 0.5 0.5", r"segments:2: need 0 <= start < end"),
        ("s1 r1 0 inf", r"segments:2: need 0 <= start < end \(or end -1: to the end\), got start 0 end inf"),
        ("s1 r1 nan 1", r"segments:2: need 0 <= start < end"),
        ("s1 r1 0.6 -1", r"segments:2: starts at 0.6 s, beyond the end of .*a.wav \(0.500 s\)"),
        ("s1 r1 0 0.2 x", r"segments:2: channel must be an integer >= 0 \(Kaldi counts from 0\), got 'x'"),
        ("s1 r1 0 0.2 -1", r"segments:2: channel must be an integer >= 0"),
        ("s1 r1 0 0.2 1 2", r"segments:2: expected 'utt-id recording-id start end \[channel\]'"),
        ("s1 r1 0.9 0.2", r"segments:2: need 0 <= start < end"),
        ("s1 r1 -1 0.2", r"segments:2: need 0 <= start < end"),
        ("s1 r9 0 0.2", r"segments:2: recording 'r9' is not in wav.scp"),
        ("s1 r1 0 99", r"segments:2: segment ends at 99 s, beyond the end of .*a.wav \(0.500 s\)"),
        ("s1 r1 0 x", r"segments:2: start and end must be numbers"),
        ("s1 r1 0", r"segments:2: expected 'utt-id recording-id start end \[channel\]'"),
    ],
)
def test_bad_segments_name_file_and_line(tmp_path, audio_dir, line, match):
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"r1 {audio_dir / 'a.wav'}\n")
    (d / "segments").write_text(f"s0 r1 0 0.2\n{line}\n")
    with pytest.raises(ManifestError, match=match) as e:
        read_manifest(d)
    assert "\n" not in str(e.value)


def test_one_wav_scp_parser(tmp_path, audio_dir):
    """kaldi.read_wav_scp and manifests read wav.scp the same way (relative to its folder)."""
    from speechgmm import kaldi, manifest

    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("u1 ../audio/a.wav\nu2 ~/x.wav\n")
    assert kaldi.read_wav_scp(d / "wav.scp")["u1"] == (audio_dir / "a.wav").resolve()
    assert manifest.read_wav_scp(d / "wav.scp")["u2"] == kaldi.read_wav_scp(d / "wav.scp")["u2"]
    (d / "wav.scp").write_text("u1 sox a.sph -t wav - |\n")
    from speechgmm.audio import PipedAudio

    want = PipedAudio("sox a.sph -t wav -", "u1", str(d.resolve()))
    assert kaldi.read_wav_scp(d / "wav.scp")["u1"] == want == read_manifest(d).paths[0]


@pytest.mark.parametrize("empty", ["wav.scp", "segments"])
def test_data_dir_without_utterances_is_refused(tmp_path, audio_dir, empty):
    # it gave a manifest of 0 rows, and train said "need at least 2 classes ..., got []"
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text(f"r1 {audio_dir / 'a.wav'}\n")
    if empty == "segments":
        (d / "segments").write_text("\n")
    else:
        (d / "wav.scp").write_text("\n")
    with pytest.raises(ManifestError, match=rf"{empty}: no utterances \(empty file\)"):
        read_manifest(d)


def test_rows_that_train_what_was_not_meant_are_warned_about(tmp_path):
    """The same file as ./a//x.wav and a/x.wav, with opposite labels, and Female next to female: all
    trained without a word (QA)."""
    import warnings

    from speechgmm.errors import SpeechGMMWarning
    from speechgmm.manifest import warn_about_labels

    (tmp_path / "a").mkdir()
    for n in ("x", "y"):
        sf.write(tmp_path / "a" / f"{n}.wav", np.zeros(800, np.float32), 8000)
    m = tmp_path / "m.csv"
    m.write_text("path,gender\na/x.wav,female\n./a//x.wav,male\na/y.wav,Female\n")
    man = read_manifest(m)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warn_about_labels(man, "gender", man.labels("gender"))
    said = [str(w.message) for w in got if issubclass(w.category, SpeechGMMWarning)]
    assert len(said) == 3, said
    assert "1 audio file(s) named by more than one row" in said[0] and "rows 1, 2" in said[0]
    assert "different 'gender' labels" in said[1] and "female / male" in said[1]
    assert "differ only in case" in said[2] and "Female / female" in said[2]
    m.write_text("path,gender\na/x.wav,female\na/y.wav,male\n")
    man = read_manifest(m)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        warn_about_labels(man, "gender", man.labels("gender"))
        assert not got
        warn_about_labels(man, "gender", man.labels("gender"), known=["Male"])  # a model enrolled into
    assert len(got) == 1 and "Male / male" in str(got[0].message)


def _kaldi_dir(tmp_path, audio_dir, utt2spk: str):
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)
    (d / "wav.scp").write_text("".join(f"u{i} {audio_dir / n}.wav\n" for i, n in enumerate("abc", 1)))
    (d / "text").write_text("u1 one two\nu2 two\nu3 three\n")  # a transcript may have words
    (d / "utt2spk").write_text(utt2spk)
    return d


def test_a_utt2spk_or_spk2gender_line_with_more_than_two_fields_is_refused_naming_its_line(tmp_path, audio_dir):
    """QA: 'u2 AC extra' in utt2spk gave a speaker called 'AC extra'."""
    d = _kaldi_dir(tmp_path, audio_dir, "u1 s1\nu2 s2 extra\nu3 s1\n")
    with pytest.raises(
        ManifestError, match=r"utt2spk:2: expected 'utterance speaker' \(2 fields\), got 3: u2 s2 extra"
    ):
        read_manifest(d)
    (d / "utt2spk").write_text("u1 s1\nu2 s2\nu3 s1\n")
    assert read_manifest(d).labels("label")[0] == "one two"
    (d / "spk2gender").write_text("s1 f\ns2 m x\n")
    with pytest.raises(ManifestError, match=r"spk2gender:2: expected 'speaker gender' \(2 fields\), got 3"):
        read_manifest(d)


def test_a_spk2utt_that_disagrees_with_utt2spk_is_refused_naming_the_first_disagreement(tmp_path, audio_dir):
    """QA: spk2utt was never read, so one that disagreed with utt2spk passed unnoticed."""
    from speechgmm.errors import SpeechGMMWarning

    d = _kaldi_dir(tmp_path, audio_dir, "u1 s1\nu2 s2\nu3 s1\n")
    (d / "spk2utt").write_text("s1 u1 u3\ns2 u2\n")
    assert read_manifest(d).labels("speaker") == ["s1", "s2", "s1"]
    for text, message in [
        ("s1 u1\ns2 u2 u3\n", r"spk2utt:2: utterance 'u3' of speaker 's2', but utt2spk has speaker 's1'"),
        ("s1 u1 u3\ns2 u2 u9\n", r"spk2utt:2: utterance 'u9' of speaker 's2', but utt2spk has no entry for it"),
        ("s1 u1 u3\n", r"spk2utt: no speaker lists utterance u2 \(of utt2spk\)"),
        ("s1 u1 u3\ns2 u2 u1\n", r"spk2utt:2: utterance 'u1' listed twice"),
    ]:
        (d / "spk2utt").write_text(text)
        with pytest.raises(ManifestError, match=message):
            read_manifest(d)
    (d / "utt2spk").unlink()
    with pytest.warns(SpeechGMMWarning, match=r"spk2utt: not read: it needs utt2spk beside it"):
        assert "speaker" not in read_manifest(d).columns


def test_the_same_audio_under_two_ids_with_the_same_label_is_warned_about(tmp_path, audio_dir):
    """QA: the same audio in two rows (other ids, the same label) trained twice without a word when the rows
    were a wav.scp command under two recording ids, or a file and a hard link to it."""
    import os
    import warnings

    from speechgmm.errors import SpeechGMMWarning
    from speechgmm.manifest import warn_about_labels

    def said(man):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            warn_about_labels(man, "label", man.labels("label"))
        return [str(w.message) for w in got if issubclass(w.category, SpeechGMMWarning)]

    d = tmp_path / "data"
    d.mkdir()
    a = audio_dir / "a.wav"
    (d / "wav.scp").write_text(f"r1 cat {a} |\nr2 cat {a} |\nr3 {audio_dir / 'b.wav'}\n")
    (d / "text").write_text("r1 x\nr2 x\nr3 y\n")
    (message,) = said(read_manifest(d))
    assert (
        f"1 audio file(s) named by more than one row, each counted as often as named: r1 (cat {a} |) (rows 1, 2)"
        in message
    )
    (d / "wav.scp").write_text(f"r1 cat {a} |\nr2 cat {audio_dir / 'c.wav'} |\nr3 {audio_dir / 'b.wav'}\n")
    assert said(read_manifest(d)) == []  # other commands
    os.link(a, audio_dir / "hard.wav")
    m = tmp_path / "m.csv"
    m.write_text(f"utt,path,label\nu1,{a},x\nu2,{audio_dir / 'hard.wav'},x\nu3,{audio_dir / 'b.wav'},y\n")
    (message,) = said(read_manifest(m))
    assert f"named by more than one row, each counted as often as named: {a} (rows 1, 2)" in message
