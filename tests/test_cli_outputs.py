"""Output paths checked before any work (issue 13, items 5 and 6) and help texts (item 11), in-process."""

from __future__ import annotations

import json

import pytest

from speechgmm.cli import main

from _helpers import ROOT, run_cli, write_two_speaker_manifest


@pytest.fixture(scope="module")
def small(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    write_two_speaker_manifest(corpus, d / "m.csv")
    model = d / "model.npz"
    assert (
        main(["train", str(d / "m.csv"), "-o", str(model), "--label-column", "gender", "-k", "2", "--iterations", "2"])
        == 0
    )
    return d / "m.csv", model


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("command", ["train", "train-ubm"])
def test_output_equal_to_the_manifest_is_refused(small, command, capsys):
    man, _ = small
    before = man.read_bytes()
    extra = ["--label-column", "gender"] if command == "train" else []
    assert main([command, str(man), "-o", str(man), "-k", "2", *extra]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "is an input" in err[0] and str(man) in err[0]
    assert man.read_bytes() == before


def test_output_equal_to_the_ubm_is_refused(small, tmp_path, capsys):
    man, _ = small
    ubm = tmp_path / "ubm.npz"
    assert main(["train-ubm", str(man), "-o", str(ubm), "-k", "2", "--iterations", "1"]) == 0
    before = ubm.read_bytes()
    capsys.readouterr()
    assert main(["train", str(man), "-o", str(ubm), "--ubm", str(ubm), "--label-column", "gender"]) == 2
    assert "is an input" in _err(capsys)[0] and ubm.read_bytes() == before


def test_unwritable_output_folder_is_named_before_work(small, capsys):
    man, _ = small
    assert main(["train", str(man), "-o", "/proc/speechgmm-test.npz", "--label-column", "gender"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "cannot write to the folder /proc" in err[0], err
    assert main(["train", str(man), "-o", "/proc/nope/x.npz", "--label-column", "gender"]) == 2
    assert "cannot create the folder /proc/nope in /proc" in _err(capsys)[0]  # QA: named /proc only
    assert main(["train", str(man), "-o", f"{man}/sub/x.npz", "--label-column", "gender"]) == 2
    assert f"{man} is not a folder" in _err(capsys)[0]


def test_output_path_ending_in_a_slash_is_refused(small, tmp_path, capsys):
    # '--rttm out.rttm/' (or '-o model.npz/') silently wrote a file named out.rttm
    man, model = small
    wav = str(ROOT / "examples" / "male_AH_1A.wav")
    for argv in (
        ["segment", wav, "--rttm", f"{tmp_path}/out.rttm/"],
        ["train", str(man), "-o", f"{tmp_path}/m.npz/", "--label-column", "gender", "-k", "2"],
    ):
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert len(err) == 1 and "ends in '/'" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_output_without_npz_gets_a_warning(small, tmp_path, capsys):
    man, _ = small
    out = tmp_path / "model.bin"
    assert main(["train-ubm", str(man), "-o", str(out), "-k", "2", "--iterations", "1"]) == 0
    err = _err(capsys)
    assert out.is_file() and any("warning" in ln and "does not end in .npz" in ln for ln in err)


def test_bad_plot_path_refused_before_scoring_and_report_printed_first(small, tmp_path, capsys):
    man, model = small
    assert main(["evaluate", str(man), "-m", str(model), "--plot", "/proc/conf.png"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "cannot write to the folder /proc" in cap.err
    assert main(["evaluate", str(man), "-m", str(model), "--plot", str(man)]) == 2
    assert "is an input" in capsys.readouterr().err
    png = tmp_path / "c.png"
    assert main(["evaluate", str(man), "-m", str(model), "--json", "--plot", str(png)]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["n"] == 22 and png.read_bytes()[:4] == b"\x89PNG"


def test_classify_header_names_llr_for_map_models(small, corpus, tmp_path, capsys):
    man, model = small
    wav = next(iter(open(man).read().splitlines()[1:])).split(",")[1]
    assert main(["classify", wav, "-m", str(model)]) == 0
    assert "(mean log-likelihood per frame)" in capsys.readouterr().out
    spk = tmp_path / "map.npz"
    assert (
        main(
            [
                "train",
                str(man),
                "-o",
                str(spk),
                "--label-column",
                "gender",
                "--method",
                "map",
                "--ubm-components",
                "4",
                "--iterations",
                "2",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["classify", wav, "-m", str(spk)]) == 0
    assert "(mean log-likelihood ratio against the UBM per frame)" in capsys.readouterr().out


def test_help_texts(capsys):
    """--jobs says 'training' only where the command trains; --preset lists its choices."""
    for command, trains in [("train", True), ("train-ubm", True), ("classify", False), ("evaluate", False)]:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ("worker processes for feature extraction and training" in text) == trains, command
        if command.startswith("train"):
            assert "--preset {asr_course,default,gender,speaker,speaker_any_level}" in text


@pytest.mark.parametrize("command", ["classify", "evaluate"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "x", "1e30", "-1001"])
def test_threshold_must_be_a_finite_margin(command, value, tmp_path):
    args = ["examples/male_AH_1A.wav"] if command == "classify" else ["m.csv", "--model", "m.npz"]
    r = run_cli(command, *args, f"--threshold={value}", cwd=ROOT)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--threshold" in lines[0] and "finite number" in lines[0], r.stderr
    assert r.stdout == ""


@pytest.fixture
def victim(small, tmp_path):
    """A recording the manifest (and a trial list) names, which no output may overwrite."""
    import shutil

    man, model = small
    rows = open(man).read().splitlines()
    first = rows[1].split(",")
    wav = tmp_path / "take1.wav"
    shutil.copy(first[1], wav)
    rows[1] = ",".join([first[0], str(wav), *first[2:]])
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "trials.txt").write_text(f"male {first[1]} target\nfemale {first[1]} nontarget\n")
    return tmp_path / "m.csv", model, wav


@pytest.mark.parametrize(
    "argv",
    [
        ["train-ubm", "{man}", "-o", "{wav}", "-k", "2"],
        ["train", "{man}", "--label-column", "gender", "-o", "{wav}"],
        ["enroll", "{model}", "{man}", "-o", "{wav}"],
        ["evaluate", "{man}", "-m", "{model}", "--plot", "{wav}"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "-o", "{wav}"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "--det", "{wav}"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "--cohort", "{man}", "-o", "{man}"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "--cohort", "{man}", "--det", "{wav}"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "-o", "{out}", "--det", "{out}"],
    ],
)
def test_output_is_never_an_audio_file_of_the_inputs(victim, tmp_path, argv, capsys):
    """Not only the manifest and the model: the recordings that a manifest, a trial list or a cohort names
    are inputs too (an output over one replaced the recording with a model or a PNG, with a warning about
    the suffix); -o and --det of verify are two outputs."""
    man, model, wav = victim
    trials = tmp_path / "trials.txt"
    trials.write_text(trials.read_text() + f"male {wav} target\n")
    names = dict(man=man, model=model, wav=wav, trials=trials, out=tmp_path / "out.png")
    before = {p: p.read_bytes() for p in (man, wav, trials)}
    assert main([a.format(**names) for a in argv]) == 2
    err = _err(capsys)
    assert len(err) == 1 and ("is an input" in err[0] or "name the same file" in err[0]), err
    assert {p: p.read_bytes() for p in before} == before and not names["out"].exists()


def test_one_class_manifest_is_refused_before_any_audio_is_read(small, tmp_path, monkeypatch, capsys):
    """A manifest with one label in the column is named with the column before features are extracted."""
    import csv

    import speechgmm.sources

    man, _ = small
    rows = list(csv.DictReader(open(man)))
    one = tmp_path / "one.csv"
    with open(one, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r["gender"] == rows[0]["gender"])

    def no_audio(*a, **k):
        raise AssertionError("features extracted")

    monkeypatch.setattr(speechgmm.sources, "build_source", no_audio)
    assert main(["train", str(one), "--label-column", "gender", "-o", str(tmp_path / "g.npz")]) == 2
    err = _err(capsys)
    assert len(err) == 1 and str(one) in err[0] and "'gender'" in err[0] and "at least 2 classes" in err[0], err
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("root", ["/nonexistent-speechgmm-root", "{man}"])
def test_root_must_be_a_folder(small, tmp_path, root, capsys):
    man, model = small
    r = root.format(man=man)
    with pytest.raises(SystemExit) as e:  # a usage error, from the parser
        main(["evaluate", str(man), "--model", str(model), "--root", r])
    assert e.value.code == 2
    err = _err(capsys)
    assert len(err) == 1 and "--root" in err[0] and r in err[0] and "folder" in err[0], err


@pytest.mark.parametrize(
    "argv",
    [
        ["segment", "--rttm", "-", "{wav}"],
        ["segment", "--plot", "-", "{wav}"],
        ["train", "{man}", "--label-column", "gender", "-o", "-"],
        ["verify", "-m", "{model}", "--trials", "{trials}", "-o", "-"],
    ],
)
def test_an_output_named_dash_is_refused(victim, tmp_path, argv, capsys, monkeypatch):
    """'--rttm -' wrote a file named '-' in the current folder."""
    man, model, wav = victim
    monkeypatch.chdir(tmp_path)
    names = dict(man=man, model=model, wav=wav, trials=tmp_path / "trials.txt")
    assert main([a.format(**names) for a in argv]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "- :" not in err[0] and "not standard output" in err[0], err
    assert not (tmp_path / "-").exists()


def test_a_trials_folder_is_named_as_such(victim, tmp_path, capsys):
    _, model, _ = victim
    assert main(["verify", "-m", str(model), "--trials", str(tmp_path)]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "is a directory, not a trials file" in err[0], err


@pytest.fixture
def kaldi_dir(small, tmp_path):
    """A Kaldi data dir (wav.scp, utt2spk, spk2gender) of the small manifest's files."""
    import csv

    man, model = small
    d = tmp_path / "data"
    d.mkdir()
    rows = list(csv.DictReader(open(man)))
    spk = {r["path"]: f"s{i % 4}" for i, r in enumerate(rows)}
    gender = {spk[r["path"]]: r["gender"] for r in rows}
    (d / "wav.scp").write_text("".join(f"u{i} {r['path']}\n" for i, r in enumerate(rows)))
    (d / "utt2spk").write_text("".join(f"u{i} {spk[r['path']]}\n" for i, r in enumerate(rows)))
    (d / "spk2gender").write_text("".join(f"{s} {g}\n" for s, g in sorted(gender.items())))
    return d, model


@pytest.mark.parametrize("name", ["wav.scp", "utt2spk", "spk2gender"])
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "{data}", "--label-column", "gender", "-k", "2", "-o", "{out}"],
        ["train", "{data}/wav.scp", "--label-column", "gender", "-k", "2", "-o", "{out}"],
        ["train-ubm", "{data}", "-k", "2", "-o", "{out}"],
        ["evaluate", "{data}", "--label-column", "gender", "-m", "{model}", "--plot", "{out}"],
    ],
)
def test_output_is_never_a_file_of_a_kaldi_data_dir(kaldi_dir, argv, name, capsys):
    """Found by QA: `train DATA -o DATA/spk2gender` wrote a model over the data dir's own file (only the
    folder and the recordings were known as inputs), and `evaluate --plot DATA/wav.scp` a PNG."""
    d, model = kaldi_dir
    before = {p: p.read_bytes() for p in d.iterdir()}
    assert main([a.format(data=d, model=model, out=d / name) for a in argv]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "is an input" in err[0] and name in err[0], err
    assert {p: p.read_bytes() for p in d.iterdir()} == before


def test_labels_a_gender_model_lacks_do_not_suggest_an_open_set_threshold(kaldi_dir, capsys):
    """QA: labels spelt otherwise (utt2gender's m / f then; man / woman now, since m / f are read as male /
    female) against a gender model were told to give --threshold, and with it got a meaningless open-set
    report."""
    d, model = kaldi_dir
    n = len((d / "wav.scp").read_text().splitlines())
    (d / "utt2gender").write_text("".join(f"u{i} {('man', 'woman')[i % 2]}\n" for i in range(n)))
    assert main(["evaluate", str(d), "--label-column", "gender", "-m", str(model)]) == 2
    (err,) = _err(capsys)
    assert "labels man, woman of column 'gender' are not classes of the model" in err and "right column" in err
    assert "--threshold" not in err
