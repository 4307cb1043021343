"""Fuzz the numeric options of the commands that tests/test_options_fuzz.py does not cover
(features, verify, info, segment, enroll), and check that every command of the CLI is fuzzed by one of the
two files (issue 13: nan, inf, negative, 0 and huge values exit 2 with one line, or work)."""

from __future__ import annotations

import pytest
import test_options_fuzz as orch_fuzz
from test_options_fuzz import VALUES, _run, numeric_flags

from speechgmm.cli import COMMANDS

from _helpers import ROOT, small_map_train_argv

GENDER = ROOT / "speechgmm" / "data" / "gender.npz"
EXAMPLES = sorted((ROOT / "examples").glob("*_*_*.wav"))


@pytest.fixture(scope="module")
def argvs(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz_rest")
    man = d / "ex.csv"
    man.write_text("path,gender\n" + "".join(f"{p},{p.name.split('_')[0]}\n" for p in EXAMPLES))
    new = d / "new.csv"  # one new class to enrol
    new.write_text(f"path,gender\n{ROOT / 'examples' / 'wideband_16k.wav'},newcomer\n")
    trials = d / "trials.txt"
    trials.write_text(
        "".join(
            f"{g} {p} {'target' if p.name.startswith(g) else 'nontarget'}\n"
            for p in EXAMPLES
            for g in ("female", "male")
        )
    )
    return {
        "features": (["features", str(man), "-o", str(d / "out.ark")], d / "out.scp"),
        "verify": (
            ["verify", "--model", str(GENDER), "--trials", str(trials), "-o", str(d / "scores.txt")],
            d / "scores.txt",
        ),
        "info": (["info", str(GENDER)], None),
        "segment": (["segment", str(EXAMPLES[0]), "--rttm", str(d / "out.rttm")], d / "out.rttm"),
        "enroll": (["enroll", str(map_model(d, man)), str(new), "-o", str(d / "enrolled.npz")], d / "enrolled.npz"),
    }


def map_model(d, man):
    """A small MAP classifier (what enroll takes), trained on the examples."""
    out = d / "map.npz"
    assert _run(small_map_train_argv(man, out, 1)) == 0
    return out


MINE = ["features", "verify", "info", "segment", "enroll"]


def all_numeric_flags(command):
    """numeric_flags, plus flags parsed as numbers after argparse (a string default that is a number)."""
    import argparse

    from speechgmm.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    late = []
    for a in sub._actions:
        longs = [s for s in a.option_strings if s.startswith("--")]
        if longs and a.type is None and isinstance(a.default, str):
            try:
                float(a.default)
            except ValueError:
                continue
            late.append(longs[0])
    return sorted(set(numeric_flags(command)) | set(late))


def test_the_fuzzer_finds_late_parsed_numbers():
    assert {"--min-speech", "--min-pause", "--jobs"} <= set(all_numeric_flags("segment")) | {"--jobs"}
    assert all_numeric_flags("features") == ["--jobs"]


def orch_commands():
    marks = orch_fuzz.test_numeric_options_are_refused_in_one_line_or_work.pytestmark
    return next(m.args[1] for m in marks if m.name == "parametrize" and m.args[0] == "command")


def test_every_command_is_fuzzed():
    assert set(COMMANDS) <= set(MINE) | set(orch_commands()), set(COMMANDS) - set(MINE) - set(orch_commands())


@pytest.mark.parametrize("command", MINE)
def test_numeric_options_are_refused_in_one_line_or_work(argvs, command, capsys):
    argv, out = argvs[command]
    flags = all_numeric_flags(command)
    assert _run(argv) == 0, capsys.readouterr().err  # the base command works
    capsys.readouterr()
    for flag in flags:
        for value in VALUES:
            if out is not None:
                out.unlink(missing_ok=True)
            code = _run(argv + [f"{flag}={value}"])
            cap = capsys.readouterr()
            lines = cap.err.strip().splitlines()
            if code == 0:
                assert out is None or out.is_file(), (flag, value)
                continue
            assert code == 2 and len(lines) == 1 and flag in lines[0], (flag, value, code, cap.err)
            assert "Traceback" not in cap.err and "internal error" not in cap.err
            assert out is None or not out.exists(), (flag, value)  # refused before any work
