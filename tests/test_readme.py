"""README.md stays true: its test command is CI's, and its shell commands run as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from _helpers import ROOT

README = (ROOT / "README.md").read_text()


def sh_blocks():
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def commands():
    """The README's shell commands, one per line, without their ``pip install ... &&`` steps."""
    out = [ln.strip() for b in sh_blocks() for ln in b.splitlines() if ln.strip() and not ln.startswith("#")]
    return [without_install(c) for c in out if without_install(c)]


def section_command(title):
    """The one sh command of the README section ``## title``."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.S | re.M)
    assert m, f"README needs a '## {title}' section"
    blocks = re.findall(r"```sh\n(.*?)```", m.group(1), flags=re.S)
    assert len(blocks) == 1 and len(blocks[0].strip().splitlines()) == 1, f"'## {title}' needs one sh command"
    return blocks[0].strip()


def without_install(cmd):
    """``cmd`` minus its leading ``... pip install ... &&`` step."""
    return " && ".join(p for p in cmd.split(" && ") if "pip install" not in p).strip()


def test_ci_runs_the_readme_test_command():
    cmd = section_command("Run the tests")
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == cmd, (ci[-1], cmd)
    # it works alone on a fresh clone: it installs the test extra itself, then runs pytest
    install, run = cmd.split(" && ")
    assert re.fullmatch(r"python3 -m pip install -e '\.\[test\]'", install), install
    assert run == "python3 -m pytest -q"
    assert not any("pip install" in ln for ln in ci[:-1]), "CI must not install more than the README says"


def test_readme_main_job_command_installs_and_runs():
    cmd = section_command("Install and run the main job: classify wav files")
    install, run = cmd.split(" && ")
    assert re.fullmatch(r"python3 -m pip install -e \.", install), install
    assert run == "speechgmm classify examples/*.wav"


# import name -> distribution name, where they differ
DIST = {
    "sklearn": "scikit-learn",
    "kaldi_native_fbank": "kaldi-native-fbank",
    "distributed": "dask",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "pyannote": "pyannote.metrics",
}


def test_test_extra_has_what_the_tests_import():
    """Every third-party module the tests import is a runtime dependency or in the ``test`` extra,
    so the README's test command alone is enough on a fresh machine."""
    import ast

    if not hasattr(sys, "stdlib_module_names"):
        import pytest

        pytest.skip("needs Python 3.10+ (sys.stdlib_module_names)")
    text = (ROOT / "pyproject.toml").read_text()

    def names(block):
        return {re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0].lower() for d in re.findall(r'"([^"]+)"', block)}

    deps = names(re.search(r"^dependencies = \[(.*?)^\]", text, flags=re.S | re.M).group(1))
    test = names(re.search(r"^test = \[(.*?)^\]", text, flags=re.S | re.M).group(1))
    local = {p.stem for p in (ROOT / "tests").glob("*.py")} | {"speechgmm", "recipes", "benchmarks"}
    missing = set()
    for f in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            )
            for m in mods:
                top = m.split(".")[0]
                if top in sys.stdlib_module_names or top in local:
                    continue
                if DIST.get(top, top).lower().replace("_", "-") not in deps | test:
                    missing.add(f"{f.name}: {top}")
    assert "pytest" in test
    assert not missing, sorted(missing)


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
        r = subprocess.run(
            ["bash", "-c", "set -e; " + cmd.replace("speechgmm ", f"{sys.executable} -m speechgmm ", 1)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, (cmd, r.stderr)
        assert "Traceback" not in r.stderr
        if cmd == "speechgmm classify examples/*.wav":
            # the labels shown in the README are what the bundled model says
            shown = re.search(r"```text\n(file +label.*?)```", README, flags=re.S).group(1).splitlines()[1:]
            got = r.stdout.splitlines()[1:]
            assert [ln.split()[:2] for ln in shown] == [ln.split()[:2] for ln in got]
        ran += 1
    assert ran >= 8
    assert (tmp_path / "digits.npz").is_file()
    assert (tmp_path / "confusion.png").is_file()
    assert (tmp_path / "feats" / "test.scp").is_file()
