"""README.md stays true: its test command is CI's, and its shell commands run as written."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys


from conftest import ROOT

README = (ROOT / "README.md").read_text()


def sh_blocks():
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def commands():
    return [ln.strip() for b in sh_blocks() for ln in b.splitlines() if ln.strip() and not ln.startswith("#")]


def test_ci_runs_the_readme_test_command():
    m = re.search(r"## Run the tests\s+```sh\n(.+?)\n```", README, flags=re.S)
    assert m, "README needs a '## Run the tests' section with one sh command"
    cmd = m.group(1).strip()
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == cmd, (ci[-1], cmd)
    assert any("pip install" in ln and ".[test]" in ln for ln in ci)


def test_readme_scripts_exist_and_explain_themselves():
    for cmd in commands():
        words = shlex.split(cmd)
        if words[0] == "python" and words[1].endswith(".py"):
            script = ROOT / words[1]
            assert script.is_file(), cmd
            r = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=ROOT)
            assert r.returncode == 0, (cmd, r.stderr)
            for flag in (w for w in words[2:] if w.startswith("--")):
                assert flag in r.stdout, (cmd, flag)


def test_readme_speechgmm_commands_run(corpus, tmp_path):
    """Every `speechgmm ...` line of the README's sh blocks, in order, in a scratch folder.

    (Recipes and benchmarks are run by tests/test_recipes.py and tests/test_benchmarks.py.)
    """
    for name in ("examples", "data_manifest"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = dict(os.environ, SPEECHGMM_CORPORA=str(corpus.parent))
    ran = 0
    for cmd in commands():
        if not cmd.startswith("speechgmm "):
            continue
        r = subprocess.run(["bash", "-c", "set -e; " + cmd.replace("speechgmm ", f"{sys.executable} -m speechgmm ", 1)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (cmd, r.stderr)
        assert "Traceback" not in r.stderr
        if cmd == "speechgmm classify examples/*.wav":
            # the labels shown in the README are what the bundled model says
            shown = re.search(r"```text\n(file +label.*?)```", README, flags=re.S).group(1).splitlines()[1:]
            got = r.stdout.splitlines()[1:]
            assert [ln.split()[:2] for ln in shown] == [ln.split()[:2] for ln in got]
        ran += 1
    assert ran >= 8
    assert (tmp_path / "digits.npz").is_file() and (tmp_path / "confusion.png").is_file()
    assert (tmp_path / "feats" / "test.scp").is_file()
