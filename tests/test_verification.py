"""EER / minDCF / DET."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from speechgmm.verification import eer, min_dcf, plot_det


def test_eer_hand_checked():
    # threshold between 1.0 and 1.5 rejects 1 of 3 targets and accepts 1 of 3 nontargets
    assert eer([1.0, 2.0, 3.0], [0.0, 0.5, 1.5]) == pytest.approx(1 / 3)
    assert eer([3, 4], [1, 2]) == 0.0
    assert eer([1], [2]) == 1.0


def test_eer_gaussian_matches_analytic():
    rng = np.random.default_rng(0)
    t, n = rng.normal(2, 1, 100_000), rng.normal(0, 1, 100_000)
    assert eer(t, n) == pytest.approx(norm.cdf(-1), abs=0.004)


def test_min_dcf_bounds_and_perfect():
    assert min_dcf([5, 6], [0, 1]) == 0.0
    rng = np.random.default_rng(1)
    v = min_dcf(rng.normal(0, 1, 1000), rng.normal(0, 1, 1000))
    assert 0.9 <= v <= 1.0  # useless scores cost about as much as the trivial system


def test_min_dcf_hand_checked():
    # DCF = 10 * 0.01 * p_miss + 1 * 0.99 * p_fa, normalised by min(0.1, 0.99) = 0.1
    # accept all: 0.99 -> 9.9; threshold in (0, 5): p_miss .5, p_fa 1 -> 10.4;
    # threshold in (5, 10): p_miss .5, p_fa 0 -> 0.5; reject all: 1.0   => minimum 0.5
    assert min_dcf([0.0, 10.0], [5.0]) == pytest.approx(0.5)


def test_det_png(tmp_path):
    rng = np.random.default_rng(2)
    p = tmp_path / "det.png"
    plot_det(rng.normal(2, 1, 300), rng.normal(0, 1, 3000), p)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- trial lists and scores (speechgmm.verification) -------------------------------------

from speechgmm.errors import ManifestError  # noqa: E402
from speechgmm.verification import Trial, read_trials, trial_files, verification_scores  # noqa: E402


def test_read_trials_plain_lines_and_tables(tmp_path):
    plain = tmp_path / "t.txt"
    plain.write_text("# comment\nalice a.wav target\n\nbob,/abs/b.wav,NONTARGET\n")
    assert read_trials(plain) == [Trial("alice", tmp_path / "a.wav", True), Trial("bob", Path("/abs/b.wav"), False)]
    for sep in (",", ";", "\t"):
        table = tmp_path / "t.csv"
        table.write_text(
            sep.join(["path", "target", "label"])
            + "\n"
            + sep.join(['"take 2, final.wav"', "target", "alice"])
            + "\n"
            + sep.join(['"x;y z.wav"', "nontarget", "bob"])
            + "\n"
        )
        assert read_trials(table, root=tmp_path / "r") == [
            Trial("alice", tmp_path / "r" / "take 2, final.wav", True),
            Trial("bob", tmp_path / "r" / "x;y z.wav", False),
        ]
    key = tmp_path / "k.csv"
    key.write_text("label,path,key\nalice,a b.wav,target\n")
    assert read_trials(key)[0].path == tmp_path / "a b.wav"


@pytest.mark.parametrize(
    "text, match",
    [
        ("alice my file.wav target\n", r"t\.txt:1: expected .*paths with spaces or commas need a CSV table"),
        ("alice a.wav maybe\n", r"t\.txt:1: the key must be target or nontarget, got 'maybe'"),
        ("label,path,target\nalice,a.wav,yes\n", r"t\.txt:2: the key must be target or nontarget, got 'yes'"),
        ("label,path\nalice,a.wav\n", r"t\.txt: a trials table needs a 'target' \(or 'key'\) column"),
        ("label,path,target\nalice,a.wav\n", r"t\.txt:2: 2 fields, the header has 3"),
        ("# nothing\n", r"t\.txt: no trials"),
        ("label,path,target\n", r"t\.txt: trials table has a header but no rows"),
        # were counted twice (or both ways) and moved EER and minDCF without a word
        ("alice a.wav target\nbob a.wav nontarget\nalice a.wav target\n", r"t\.txt:3: repeats the trial of line 1"),
        ("alice a.wav target\nalice a.wav nontarget\n", r"t\.txt:2: repeats the trial of line 1 \(alice .*a\.wav\)"),
        # one file under two names had been scored twice (QA)
        ("alice a.wav target\nalice ./sub/../a.wav target\n", r"t\.txt:2: repeats the trial of line 1"),
        # an empty path was "1 audio file(s) not found: ." and an empty label "not in the model: "
        ("label,path,target\nalice,a.wav,target\nbob, ,nontarget\n", r"t\.txt:3: empty 'path'"),
        ("label,path,target\n ,a.wav,target\n", r"t\.txt:2: empty 'label'"),
    ],
)
def test_read_trials_errors_name_file_and_line(tmp_path, text, match):
    t = tmp_path / "t.txt"
    t.write_text(text)
    with pytest.raises(ManifestError, match=match):
        read_trials(t)


class _Clf:
    def __init__(self, method, labels):
        self.method_, self.labels_ = method, labels


def test_verification_scores_em_and_map():
    """EM: claimed class minus the best other class, per frame; MAP: the claimed class's LLR."""
    totals = np.array([[10.0, 4.0, 6.0], [-3.0, 9.0, 0.0]])
    frames = np.array([2.0, 3.0])
    trials = [Trial("b", "y.wav", True), Trial("a", "x.wav", True), Trial("c", "x.wav", False)]
    assert trial_files(trials) == ["x.wav", "y.wav"]
    em = verification_scores(_Clf("em", ["a", "b", "c"]), totals, frames, trials)
    assert np.allclose(em, [3.0 - 0.0, 5.0 - 3.0, 3.0 - 5.0])
    mp = verification_scores(_Clf("map", ["a", "b", "c"]), totals, frames, trials)
    assert np.allclose(mp, [3.0, 5.0, 3.0])
    one = verification_scores(_Clf("em", ["a"]), totals[1:, :1], frames[1:], [Trial("a", "y.wav", False)])
    assert np.allclose(one, [-1.0])


def test_check_trials_names_every_unknown_label_at_once(tmp_path):
    from speechgmm.verification import check_trials

    (tmp_path / "a.wav").write_bytes(b"x")
    trials = [
        Trial("NOBODY", tmp_path / "a.wav", True),
        Trial("alice", tmp_path / "a.wav", False),
        Trial("GHOST", tmp_path / "a.wav", False),
    ]
    msg = r"^t\.csv: 2 label\(s\) not in the model: GHOST, NOBODY \(the model has: alice"
    with pytest.raises(ManifestError, match=msg):
        check_trials(trials, ["alice", "bob"], "t.csv")
    with pytest.raises(ManifestError, match="needs both target and nontarget"):
        check_trials(trials[1:2], ["alice"], "t.csv")
    with pytest.raises(ManifestError, match=r"t\.csv: 1 path\(s\) are folders, not audio files"):
        check_trials([Trial("alice", tmp_path, True)], ["alice"], "t.csv")  # was "not found"
    # QA: an unknown label and a missing file were told one run at a time
    both = [*trials, Trial("alice", tmp_path / "gone.wav", False)]
    with pytest.raises(ManifestError, match=r"2 label\(s\) not in the model: .*; 1 audio file\(s\) not found: .*gone"):
        check_trials(both, ["alice"], "t.csv")


def test_verify_reads_a_csv_trials_table_with_awkward_paths(gmm_dir, tmp_path):
    """The same trials as a plain list and as a CSV table of copies whose names hold spaces and
    commas give the same scores; --root help speaks of the trials file, not of a manifest."""
    import shutil

    from speechgmm.classifier import GMMClassifier
    from speechgmm.features import FeatureConfig, extract_files
    from speechgmm.kaldi import read_wav_scp
    from speechgmm.modelio import save_model

    from _helpers import run_cli

    wav = read_wav_scp(gmm_dir / "test" / "wav.scp")
    men = [p for p in wav.values() if "/MAN/" in str(p)][:6]
    women = [p for p in wav.values() if "/WOMAN/" in str(p)][:6]
    cfg = FeatureConfig()
    clf = GMMClassifier(2, max_iter=3, random_state=0).fit(
        extract_files(men[:4] + women[:4], cfg)[0], ["man"] * 4 + ["woman"] * 4
    )
    model = save_model(tmp_path / "g.npz", clf, cfg)
    probes = men[4:] + women[4:]
    (tmp_path / "odd").mkdir()
    odd = []
    for i, p in enumerate(probes):
        odd.append(tmp_path / "odd" / f"take {i}, {p.name}")
        shutil.copy(p, odd[-1])
    truth = ["man", "man", "woman", "woman"]
    plain = tmp_path / "plain.txt"
    plain.write_text(
        "".join(
            f"{lab} {p} {'target' if lab == t else 'nontarget'}\n"
            for p, t in zip(probes, truth)
            for lab in ("man", "woman")
        )
    )
    table = tmp_path / "table.csv"
    table.write_text(
        "label,path,target\n"
        + "".join(
            f'{lab},"odd/{p.name}",{"target" if lab == t else "nontarget"}\n'
            for p, t in zip(odd, truth)
            for lab in ("man", "woman")
        )
    )
    out = []
    for trials in (plain, table):
        scores = tmp_path / f"{trials.stem}.scores"
        r = run_cli("verify", "--model", model, "--trials", trials, "-o", scores)
        assert r.returncode == 0, r.stderr
        if trials is plain:
            out.append([float(line.rsplit(" ", 1)[1]) for line in scores.read_text().splitlines()])
        else:  # paths with spaces and commas: a CSV table, which reads back as the same trials (QA: it could not)
            import csv

            out.append([float(row["score"]) for row in csv.DictReader(open(scores))])
            assert read_trials(scores) == read_trials(table)
    assert out[0] == out[1] and len(out[0]) == 8
    bad = tmp_path / "bad.csv"
    bad.write_text(table.read_text().replace("\nman,", "\nNOBODY,").replace("\nwoman,", "\nGHOST,"))
    r = run_cli("verify", "--model", model, "--trials", bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "2 label(s) not in the model: GHOST, NOBODY" in r.stderr
    before = table.read_bytes()
    r = run_cli("verify", "--model", model, "--trials", table, "-o", table)
    assert r.returncode == 2 and "output path is an input" in r.stderr and table.read_bytes() == before
    help_text = run_cli("verify", "--help").stdout
    root_help = help_text[help_text.index("  --root DIR") :].split("--jobs")[0]
    assert "manifest" not in root_help and "trials file" in root_help
