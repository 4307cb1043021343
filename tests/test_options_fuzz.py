"""Fuzz the numeric options of the commands: nan, inf, negative, 0 and huge values must either
work or exit 2 with one line naming the option -- before any work starts (issue 13)."""

from __future__ import annotations

import argparse
import csv

import pytest

from speechgmm.cli import build_parser, main
from speechgmm.modelio import load_model

from _helpers import small_map_train_argv, write_two_speaker_manifest

VALUES = ["nan", "inf", "-inf", "-1", "0", "1e30", "1" + "0" * 30]


def numeric_flags(command: str):
    """Long flags of ``command`` whose value is a number (found from the parser itself)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    out = []
    for a in sub._actions:
        longs = [s for s in a.option_strings if s.startswith("--")]
        if not longs or a.type is None:
            continue
        if _accepts(a.type, "3") and not _accepts(a.type, "three"):  # a number flag
            out.append(longs[0])
    return out


def _accepts(convert, text) -> bool:
    try:
        convert(text)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return False
    return True


@pytest.fixture(scope="module")
def setup(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    write_two_speaker_manifest(corpus, d / "m.csv")
    model = d / "model.npz"
    assert (
        main(["train", str(d / "m.csv"), "-o", str(model), "--label-column", "gender", "-k", "2", "--iterations", "2"])
        == 0
    )
    wav = next(csv.DictReader(open(d / "m.csv")))["path"]  # absolute already
    return {
        "train": small_map_train_argv(d / "m.csv", d / "out.npz", 2),
        "train-ubm": ["train-ubm", str(d / "m.csv"), "-o", str(d / "out.npz"), "-k", "2", "--iterations", "1"],
        "evaluate": ["evaluate", str(d / "m.csv"), "-m", str(model), "--json"],
        "classify": ["classify", wav, "-m", str(model), "--json"],
    }, d


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse
        return exc.code


def test_the_fuzzer_finds_the_numeric_options():
    assert set(numeric_flags("train")) == {
        "--components",
        "--iterations",
        "--seed",
        "--jobs",
        "--ubm-components",
        "--relevance-factor",
        "--dask-workers",
    }
    assert set(numeric_flags("classify")) == {"--jobs", "--dask-workers", "--threshold"}


@pytest.mark.parametrize("command", ["train", "train-ubm", "evaluate", "classify"])
def test_numeric_options_are_refused_in_one_line_or_work(setup, command, capsys):
    argvs, d = setup
    flags = numeric_flags(command)
    assert flags
    for flag in flags:
        for value in VALUES:
            out = d / "out.npz"
            out.unlink(missing_ok=True)
            code = _run(argvs[command] + [f"{flag}={value}"])
            cap = capsys.readouterr()
            lines = cap.err.strip().splitlines()
            if code == 0:  # it worked: a model that loads, or results
                if command.startswith("train"):
                    load_model(out)
                else:
                    assert cap.out.strip(), (flag, value)
                continue
            assert code == 2 and len(lines) == 1 and flag in lines[0], (flag, value, code, cap.err)
            assert "Traceback" not in cap.err and "internal error" not in cap.err
            assert not out.exists(), (flag, value)  # refused before any work


@pytest.mark.parametrize("command", ["classify", "evaluate", "train", "train-ubm"])
@pytest.mark.parametrize("address", ["notaurl", "host:notaport", "foo://host:1", "tcp://host:0", "tcp://:8786"])
def test_a_malformed_scheduler_address_is_a_usage_error(command, address, capsys):
    """Dask's parser used to fail late with a bare ValueError ("internal error: ValueError: missing port")."""
    args = {
        "classify": ["never-read.wav"],
        "evaluate": ["never-read.csv", "--model", "never-read.npz"],
        "train": ["never-read.csv", "-o", "never-written.npz"],
        "train-ubm": ["never-read.csv", "-o", "never-written.npz"],
    }[command]
    with pytest.raises(SystemExit) as exc:
        main([command, "--scheduler", address, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "--scheduler" in err[0] and address in err[0], err


def test_negative_numbers_in_exponent_form_are_values_not_options(capsys):
    """'--threshold -1e2' and '--threshold -inf' were "expected one argument": argparse took them for options."""
    from _helpers import ROOT

    wav = str(ROOT / "examples" / "male_AH_1A.wav")
    assert main(["classify", "--open-set", "--threshold", "-1e2", wav]) == 0
    assert "male" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["classify", "--open-set", "--threshold", "-inf", wav])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "--threshold" in err[0] and "finite" in err[0], err
    with pytest.raises(SystemExit):  # a real option after a flag that takes a value is still an error
        main(["classify", "--threshold", "--json", wav])
    assert "expected one argument" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["1e308", "1e12", "1000001"])
def test_a_relevance_factor_that_keeps_every_model_at_the_ubm_is_refused(value, capsys, tmp_path):
    """r = 1e308 trained a 'model' equal to its UBM (chance on its own training files) and said nothing."""
    out = tmp_path / "never-written.npz"
    with pytest.raises(SystemExit) as exc:
        main(["train", "never-read.csv", "-o", str(out), "--label-column", "speaker", "--relevance-factor", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "--relevance-factor" in err[0] and "<= 1e+06" in err[0], err
    assert not out.exists()
