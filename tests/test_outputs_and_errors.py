"""Failures found by QA on 2026-12-07: temporary files left by a stop signal, a traceback after SIGTERM,
endless pipes read into memory, exit statuses, and errors that named the wrong thing."""

from __future__ import annotations

import io
import os
import signal
import sys

import pytest

from _helpers import ROOT, run_cli, write_manifest

EXAMPLES = sorted((ROOT / "examples").glob("*male_*.wav"))


def _stop_right_after_creating(monkeypatch):
    """Make os.open raise KeyboardInterrupt just after it has created its file: a stop signal landing there."""
    real_open = os.open

    def open_then_stop(path, flags, *args, **kw):
        fd = real_open(path, flags, *args, **kw)
        os.close(fd)
        raise KeyboardInterrupt()

    monkeypatch.setattr(os, "open", open_then_stop)


def test_a_stop_just_after_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    """mkstemp named its file only after creating it, so a stop between the two left ``.o.npz.XXXX.tmp``
    (QA: 20 of 50 runs of train stopped at that moment); the write test left ``.speechgmm-write-test.*``."""
    from speechgmm._util import atomic_output, writable_folder

    _stop_right_after_creating(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(tmp_path / "o.npz"):
            pass
    with pytest.raises(KeyboardInterrupt):
        writable_folder(tmp_path / "model.npz")
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == []


def test_atomic_output_keeps_only_the_finished_file(tmp_path):
    from speechgmm._util import atomic_output

    with atomic_output(tmp_path / "o.txt") as tmp:
        tmp.write_text("done")
        assert tmp.parent == tmp_path and tmp.exists()
    assert sorted(os.listdir(tmp_path)) == ["o.txt"] and (tmp_path / "o.txt").read_text() == "done"
    mode = (tmp_path / "o.txt").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # normal permissions, not mkstemp's 0600


def test_after_a_stop_what_it_leaves_half_done_prints_no_traceback(capsys):
    """QA: SIGTERM while numpy.savez wrote the model printed "Exception ignored in: ZipFile.__del__ ...
    ValueError" after "terminated (SIGTERM)": only KeyboardInterrupt was kept quiet."""
    from speechgmm import cli

    class Unraisable:
        exc_type, exc_value, exc_traceback = ValueError, ValueError("Can't close the ZIP file"), None
        err_msg, object = "Exception ignored in", None

    shown = []
    saved = sys.unraisablehook
    try:
        sys.unraisablehook = shown.append  # the hook in place before the stop
        cli._swallow_stop_in_callbacks()
        sys.unraisablehook(Unraisable())
    finally:
        sys.unraisablehook = saved
    assert shown == [] and capsys.readouterr().err == ""


def test_an_endless_pipe_or_device_is_refused_not_read_until_memory_runs_out(monkeypatch):
    """QA: ``classify /dev/zero`` took 23.7 GB and was killed by the kernel (exit 137, no message)."""
    from speechgmm import audio
    from speechgmm.errors import AudioError

    monkeypatch.setattr(audio, "PIPE_LIMIT_BYTES", 3 * 2**20)
    with pytest.raises(AudioError, match=r"^/dev/zero: a pipe or device gave more than 3 MiB"):
        audio._open_input("/dev/zero")
    wav = EXAMPLES[0].read_bytes()
    assert audio._read_bounded(io.BytesIO(wav), "-") == wav  # a pipe under the limit: read whole


def test_an_endless_wav_scp_command_is_refused_at_the_pipe_limit_naming_the_recording(monkeypatch, tmp_path):
    """QA: ``cat /dev/zero |`` in a wav.scp was read until memory ran out ('train kd/zero': "out of memory",
    no entry named); the command's output gets the limit of standard input, and the command is stopped."""
    from speechgmm import audio
    from speechgmm.errors import AudioError

    monkeypatch.setattr(audio, "PIPE_LIMIT_BYTES", 3 * 2**20)
    with pytest.raises(
        AudioError, match=r"^r1 \(head -c 5000000 /dev/zero \|\): a pipe or device gave more than 3 MiB"
    ):
        audio.PipedAudio("head -c 5000000 /dev/zero", "r1", str(tmp_path)).read_bytes()
    assert audio._COMMANDS == set()
    wav = EXAMPLES[0]
    assert audio.PipedAudio(f"cat {wav}; echo chatter >&2", "r2", str(tmp_path)).read_bytes() == wav.read_bytes()
    with pytest.raises(AudioError, match=r"^r3 .*: the command failed \(exit status 3\): no such thing$"):
        audio.PipedAudio("echo no such thing >&2; exit 3", "r3", str(tmp_path)).read_bytes()


def _example_manifest(path, extra=()):
    rows = [{"path": str(p), "gender": p.name.split("_")[0]} for p in EXAMPLES]
    return write_manifest(path, rows + [{"path": str(e), "gender": "male"} for e in extra])


def test_an_output_in_the_cache_folder_or_the_cache_folder_itself_is_refused_before_any_work(tmp_path):
    """QA: ``-o CACHE/features-<hash>.ark`` replaced the feature archive by a model; ``-o newcache --cache
    newcache`` trained in full, then failed: ".newcache.2223f31f0dcd.npz.tmp: Is a directory"."""
    from speechgmm.errors import ConfigError
    from speechgmm.pipeline import train_from_manifest

    man = _example_manifest(tmp_path / "m.csv")
    cache = tmp_path / "cache"
    cache.mkdir()
    ark = cache / "features-0123.ark"
    ark.write_bytes(b"features")
    args = ["--label-column", "gender", "--components", "1", "--calibration", "none"]
    for out, cache_arg, why in [
        (ark, cache, f"is in the --cache folder {cache}"),
        (tmp_path / "new", tmp_path / "new", "is the --cache folder"),
        (tmp_path / "link" / "m.npz", f"{cache}/", f"is in the --cache folder {cache}/"),
    ]:
        if out.parent.name == "link":
            out.parent.symlink_to(cache)
        r = run_cli("train", man, *args, "-o", out, "--cache", cache_arg)
        assert r.returncode == 2 and r.stderr.strip().endswith(f"error: {out}: output path {why}; choose another -o")
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        with pytest.raises(ConfigError, match="choose another output"):
            train_from_manifest(man, out, cache_dir=cache_arg)
    assert ark.read_bytes() == b"features" and not (tmp_path / "new").exists()
    assert sorted(f.name for f in cache.iterdir()) == [ark.name]  # nothing extracted


def _killed_by_the_system():
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does


def test_a_worker_process_killed_by_the_system_is_one_line_not_an_internal_error(tmp_path):
    """QA: SIGKILL of one worker of ``train --jobs 2`` (as the out-of-memory killer does) gave "internal error:
    BrokenProcessPool ... please report it"."""
    from speechgmm._util import process_pool
    from speechgmm.errors import SpeechGMMError

    with pytest.raises(SpeechGMMError, match=r"^one of the 2 worker processes died \(killed by the system, perhaps"):
        with process_pool(2) as ex:
            ex.submit(_killed_by_the_system).result()
    d = tmp_path / "kd"
    d.mkdir()
    a, b, c, e = EXAMPLES[:4]
    # the shell's parent is the worker reading the entry
    (d / "wav.scp").write_text(f"r0 {a}\nr1 kill -9 $PPID; cat {b} |\nr2 {c}\nr3 {e}\n")
    (d / "text").write_text("r0 m\nr1 f\nr2 m\nr3 f\n")
    r = run_cli("train", d, "-o", tmp_path / "m.npz", "--jobs", "2", "--components", "1", "--calibration", "none")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "one of the 2 worker processes died" in r.stderr and "try --jobs 1" in r.stderr, r.stderr
    assert not (tmp_path / "m.npz").exists()


def test_map_options_with_em_are_warned_about_and_not_recorded(tmp_path):
    """QA: ``--method em --relevance-factor 8 --adapt mwv`` trained EM models, and the header said adapt=mwv."""
    from speechgmm.modelio import load_model

    man = _example_manifest(tmp_path / "m.csv")
    args = ["--label-column", "gender", "--components", "1", "--calibration", "none", "--method", "em"]
    r = run_cli("train", man, *args, "--relevance-factor", "8", "--adapt", "mwv", "-o", tmp_path / "em.npz")
    assert r.returncode == 0, r.stderr
    assert "--relevance-factor ignored: only for --method map" in r.stderr
    assert "--adapt ignored: only for --method map" in r.stderr
    training = load_model(tmp_path / "em.npz").header["training"]
    assert training["method"] == "em" and training["adapt"] is None and training["relevance_factor"] is None
    assert "adapt=mwv" not in run_cli("info", tmp_path / "em.npz").stdout


def test_an_empty_speaker_cell_says_it_is_needed_for_the_calibration_before_any_work(tmp_path):
    """QA: one empty 'speaker' cell blocked ``train --label-column digit`` (after training) with "empty 'speaker'
    for AE_1A", not saying why a speaker is needed for a digit classifier."""
    rows = [{"path": str(p), "gender": p.name.split("_")[0], "speaker": p.name.split("_")[1]} for p in EXAMPLES]
    rows[0]["speaker"] = ""
    man = write_manifest(tmp_path / "m.csv", rows)
    args = ["--label-column", "gender", "--components", "1", "-o", tmp_path / "g.npz"]
    r = run_cli("train", man, *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    why = "; the speakers split the files for the cross-validated calibration (or give --calibration none)"
    assert r.stderr.strip().endswith(f"empty 'speaker' for {EXAMPLES[0]}{why}"), r.stderr
    assert "method" not in r.stdout  # before any training
    r = run_cli("train", man, *args, "--calibration", "none")
    assert r.returncode == 0, r.stderr


def test_files_the_system_refuses_exit_2_naming_the_file(tmp_path):
    """QA: a model written to a full disk exited 1 (the exit status of our own bugs), not 2."""
    man = _example_manifest(tmp_path / "m.csv")
    args = ["--label-column", "gender", "--components", "1", "--calibration", "none"]
    r = run_cli("train", man, *args, "-o", "/dev/full")
    assert r.returncode == 2 and "/dev/full: No space left on device" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_a_folder_in_a_manifest_is_called_a_folder(tmp_path):
    """QA: a folder listed in a manifest was reported as "not found"."""
    (tmp_path / "dir.wav").mkdir()
    man = _example_manifest(tmp_path / "m.csv", [tmp_path / "dir.wav", tmp_path / "gone.wav"])
    r = run_cli("train", man, "--label-column", "gender", "-o", tmp_path / "g.npz", "--components", "1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"1 path(s) are folders, not audio files: {tmp_path / 'dir.wav'}" in r.stderr
    assert f"1 audio file(s) not found: {tmp_path / 'gone.wav'}" in r.stderr
    assert not (tmp_path / "g.npz").exists()


def test_too_few_frames_for_the_ubm_names_the_ubm_flag(tmp_path):
    """QA: ``train --method map --ubm-components 65536`` said "use --components 61", an option MAP ignores."""
    man = _example_manifest(tmp_path / "m.csv")
    args = ["--label-column", "gender", "--method", "map", "--ubm-components", "4096", "--calibration", "none"]
    r = run_cli("train", man, *args, "-o", tmp_path / "g.npz")
    assert r.returncode == 2 and "too few for 4096 components" in r.stderr, r.stderr
    assert "use --ubm-components " in r.stderr and "use --components" not in r.stderr, r.stderr
    r = run_cli("train-ubm", man, "--components", "4096", "-o", tmp_path / "u.npz")
    assert r.returncode == 2 and "use --components " in r.stderr, r.stderr  # train-ubm's own flag


def test_a_kaldi_data_dir_file_that_is_a_folder_is_named(tmp_path):
    """QA: a ``segments`` folder was skipped without a word, and the error then blamed ``text``."""
    d = tmp_path / "data"
    (d / "segments").mkdir(parents=True)
    (d / "wav.scp").write_text(f"recA {EXAMPLES[0]}\n")
    (d / "text").write_text("recA 1\n")
    r = run_cli("features", d, "-o", tmp_path / "f.ark")
    assert r.returncode == 2 and f"{d / 'segments'}: is a folder, not a Kaldi segments file" in r.stderr, r.stderr
    (d / "segments").rmdir()
    (d / "utt2spk").mkdir()
    r = run_cli("features", d, "-o", tmp_path / "f.ark")
    assert r.returncode == 2 and f"{d / 'utt2spk'}: is a folder, not a Kaldi utt2spk file" in r.stderr, r.stderr


def test_the_python_training_functions_never_write_over_their_inputs(tmp_path):
    """QA: train_from_manifest('g.csv', 'g.csv', ...) replaced the manifest with a model (the command line
    refused it), and so did an audio file of the manifest given as the output."""
    from speechgmm.errors import ConfigError
    from speechgmm.options import TrainOptions, UbmOptions
    from speechgmm.pipeline import train_from_manifest, train_ubm_from_manifest

    man = _example_manifest(tmp_path / "m.csv")
    audio = tmp_path / "a.wav"
    audio.write_bytes(EXAMPLES[0].read_bytes())
    man2 = _example_manifest(tmp_path / "m2.csv", [audio])
    before = {p: p.read_bytes() for p in (man, man2, audio)}
    opts = TrainOptions(n_components=1, label_column="gender", calibration="none")
    for manifest, output in ((man, man), (man2, audio), (man2, tmp_path / "." / "m2.csv")):
        with pytest.raises(ConfigError, match="output path is an input"):
            train_from_manifest(str(manifest), str(output), opts)
        with pytest.raises(ConfigError, match="output path is an input"):
            train_ubm_from_manifest(manifest, output, UbmOptions(n_components=1))
    with pytest.raises(ConfigError, match="cannot write there"):  # before any work, not an OSError after it
        train_from_manifest(man, man / "x.npz", opts)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "m.csv", "m2.csv"]


def test_wrong_types_in_the_python_api_are_named(tmp_path):
    """QA: None, a dict of options, jobs='x' or labels None gave TypeError / AttributeError or trained a class
    called 'None'."""
    import numpy as np

    from speechgmm.classifier import GMMClassifier
    from speechgmm.errors import ConfigError
    from speechgmm.modelio import load_model
    from speechgmm.pipeline import train_from_manifest
    from speechgmm.segment import segment_file
    from speechgmm.speakers import BUNDLED_UBM_PATH

    man = _example_manifest(tmp_path / "m.csv")
    out = tmp_path / "g.npz"
    cases = [
        (lambda: train_from_manifest(None, out), "manifest must be a non-empty path"),
        (lambda: train_from_manifest(man, None), "output: an output must be a non-empty file name"),
        (lambda: train_from_manifest(man, out, {"n_components": 4}), "options must be a TrainOptions, not dict"),
        (lambda: train_from_manifest(man, out, jobs="x"), "--jobs"),
        (lambda: train_from_manifest(man, out, root=5), "--root"),
    ]
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(50, 3)).astype(np.float32) for _ in range(4)]
    cases += [
        (lambda: GMMClassifier(n_components=1).fit(None, ["a", "b"]), "X must be a sequence"),
        (lambda: GMMClassifier(n_components=1).fit(X, [None, None, "b", "b"]), r"y\[0\] is None"),
        (lambda: GMMClassifier(n_components=1).fit(X, ["a", "", "b", "b"]), r"y\[1\] is ''"),
        (lambda: GMMClassifier(n_components=1).fit(X, ["a", "a", "b", "b"]).predict(None), "sequence of feature"),
        (lambda: segment_file(EXAMPLES[0], load_model(BUNDLED_UBM_PATH)), "has no classes to label with"),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError, match=message):
            call()
    assert not out.exists()


def test_an_output_to_standard_output_goes_after_what_was_printed(tmp_path):
    """QA: ``segment --rttm /dev/stdout FILE > o.txt`` left only the RTTM in o.txt (the rename replaced the
    file behind standard output), and ``| cat`` failed naming a temporary file under /proc."""
    import subprocess

    with open(tmp_path / "o.txt", "w") as fh:
        r = subprocess.run(
            [sys.executable, "-m", "speechgmm", "segment", "--rttm", "/dev/stdout", EXAMPLES[0]],
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = (tmp_path / "o.txt").read_text()
    assert text.startswith("path\tstart\tend\tlabel\n") and text.rstrip().splitlines()[-1].startswith("SPEAKER ")
    r = run_cli("segment", "--rttm", "/dev/stdout", EXAMPLES[0])  # standard output is a pipe
    assert r.returncode == 0 and r.stderr == "" and "\nSPEAKER " in r.stdout and r.stdout.startswith("path"), r
    assert sorted(os.listdir(tmp_path)) == ["o.txt"]


def test_segment_table_rows_stay_rows_whatever_the_file_name(tmp_path):
    """QA: a tab or a newline in a file name broke the tab-separated table (RTTM and JSON were right)."""
    odd = tmp_path / "tab\there\nnewline.wav"
    odd.write_bytes(EXAMPLES[0].read_bytes())
    r = run_cli("segment", odd)
    assert r.returncode == 0, r.stderr
    rows = [ln.split("\t") for ln in r.stdout.splitlines() if not ln.startswith(("#", "path\t"))]
    assert rows and all(len(row) == 4 for row in rows), r.stdout
    assert rows[0][0] == str(odd).replace("\t", "\\t").replace("\n", "\\n")


def _kaldi_dir_with_a_piped_entry(tmp_path):
    d = tmp_path / "kd"
    (d / "aud").mkdir(parents=True)
    for name, src in (("a.wav", EXAMPLES[0]), ("b.wav", EXAMPLES[-1])):
        (d / "aud" / name).write_bytes(src.read_bytes())
    (d / "wav.scp").write_text("r0 aud/a.wav\nr1 cat aud/b.wav |\n")
    (d / "utt2gender").write_text("r0 m\nr1 f\n")
    return d


def test_audio_named_by_a_piped_command_or_through_a_link_is_an_input(tmp_path):
    """QA: ``train kd -o kd/aud/b.wav`` replaced b.wav when wav.scp read it through ``cat aud/b.wav |``, and
    ``features man.csv -o link.ark`` wrote the archive over the audio file the link named."""
    d = _kaldi_dir_with_a_piped_entry(tmp_path)
    before = (d / "aud" / "b.wav").read_bytes()
    r = run_cli("train", d, "--label-column", "gender", "-o", d / "aud" / "b.wav", "-k", "1", "--calibration", "none")
    assert r.returncode == 2 and "output path is an input" in r.stderr, r.stderr
    (tmp_path / "link.ark").symlink_to(d / "aud" / "a.wav")
    man = _example_manifest(tmp_path / "m.csv", [d / "aud" / "a.wav"])
    r = run_cli("features", man, "-o", tmp_path / "link.ark")
    assert r.returncode == 2 and "output path is an input" in r.stderr, r.stderr
    r = run_cli("features", d, "-o", tmp_path / "link.ark")
    assert r.returncode == 2 and "output path is an input" in r.stderr, r.stderr
    assert (d / "aud" / "b.wav").read_bytes() == before and (d / "aud" / "a.wav").read_bytes() == EXAMPLES[
        0
    ].read_bytes()


def test_utt2gender_m_and_f_are_the_bundled_models_classes(tmp_path):
    """QA: spk2gender's m / f were read as male / female, utt2gender's stayed m / f (not the model's classes)."""
    from speechgmm.manifest import read_manifest

    d = _kaldi_dir_with_a_piped_entry(tmp_path)
    assert read_manifest(d).labels("gender") == ["male", "female"]
    r = run_cli("evaluate", d, "--model", ROOT / "speechgmm" / "data" / "gender.npz", "--json")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("value", ["abc", "99999999999999", "-5"])
def test_a_bad_source_date_epoch_is_one_line_before_any_work(tmp_path, value):
    """QA: SOURCE_DATE_EPOCH='' or 'abc' was an internal error (NumPy's f2py reads it on import too)."""
    man = _example_manifest(tmp_path / "m.csv")
    args = ["train", man, "--label-column", "gender", "-k", "1", "--calibration", "none", "-o", tmp_path / "g.npz"]
    r = run_cli(*args, env={"SOURCE_DATE_EPOCH": value})
    assert r.returncode == 2 and "SOURCE_DATE_EPOCH" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "g.npz").exists()
    r = run_cli(*args, env={"SOURCE_DATE_EPOCH": ""})  # empty: unset
    assert r.returncode == 0, r.stderr


def test_other_names_of_standard_output_are_written_through_it(tmp_path):
    """QA: a link to /dev/stdout (or ../../dev/stdout) as -o replaced the file behind standard output, losing
    what was printed; with a pipe it named a temporary file under /proc."""
    import subprocess

    man = _example_manifest(tmp_path / "m.csv")
    (tmp_path / "mystdout").symlink_to("/dev/stdout")
    args = ["train", man, "--label-column", "gender", "-k", "1", "--calibration", "none", "-o", tmp_path / "mystdout"]
    (tmp_path / "o.bin").write_bytes(b"PRE\n")
    with open(tmp_path / "o.bin", "ab") as fh:
        r = subprocess.run([sys.executable, "-m", "speechgmm", *map(str, args)], stdout=fh, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "o.bin").read_bytes()
    assert data.startswith(b"PRE\n") and b"PK" in data and b"trained 2 classes" in data
    r = subprocess.run([sys.executable, "-m", "speechgmm", *map(str, args)], capture_output=True)  # a pipe
    assert r.returncode == 0 and b"PK" in r.stdout and b"trained 2 classes" in r.stdout, r.stderr


def test_an_archive_that_cannot_be_written_leaves_no_index(tmp_path):
    """QA: features -o full.ark, a link to /dev/full, failed but left full.scp pointing into it."""
    (tmp_path / "full.ark").symlink_to("/dev/full")
    r = run_cli("features", _example_manifest(tmp_path / "m.csv"), "-o", tmp_path / "full.ark")
    assert r.returncode == 2 and "/dev/full" in r.stderr, r.stderr
    assert not (tmp_path / "full.scp").exists()
