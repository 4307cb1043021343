"""speechgmm segment's outputs (QA round 2, 2026-12-08): the plot's memory, colours and scale, outputs when
standard output goes away or the run is stopped, file names that are not UTF-8, labels in RTTM and the table."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from _helpers import ROOT, need_module, run_cli

WAV = ROOT / "examples" / "male_AH_1A.wav"


# -- the plot's envelope is streamed --------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [7.3, 31.1])
def test_plot_envelope_reads_the_file_in_bounded_blocks(seconds, tmp_path, monkeypatch):
    """QA: ``--plot`` read blocks of ceil(n / 4000) * 4096 frames, the whole file at once (2.43 GB for 41 min of
    48 kHz stereo, 92 MB without --plot).  Blocks must not grow with the file, and the envelope must still be
    the peak of each slice."""
    from speechgmm import audio
    from speechgmm.segment import _envelope

    sr = 48000
    n = int(seconds * sr)
    rng = np.random.default_rng(1)
    y = (rng.standard_normal((n, 2)) * np.linspace(0.01, 0.5, n)[:, None]).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(str(path), y, sr, subtype="FLOAT")
    sizes = []
    real = audio.read_blocks

    def spy(f, blocksize, frames=-1):
        for blk in real(f, blocksize, frames):
            sizes.append(len(blk))
            yield blk

    monkeypatch.setattr(audio, "read_blocks", spy)
    env, dur = _envelope(path, 4000)
    assert abs(dur - n / sr) < 1e-9
    assert len(sizes) > 1 and max(sizes) <= 1 << 17, max(sizes)  # the old code: one block of the whole file
    step = -(-n // 4000)
    m = np.abs(y).max(axis=1)
    want = np.array([m[i : i + step].max() for i in range(0, n, step)], np.float32)
    np.testing.assert_array_equal(env, want)


# -- the plot: colours, legend, scale --------------------------------------------------------------------


def _figure(results, monkeypatch):
    """The figure plot_segments saves."""
    need_module("matplotlib")
    from speechgmm import _util
    from speechgmm.segment import plot_segments

    got = []
    monkeypatch.setattr(_util, "save_figure", lambda fig, out: got.append(fig))
    plot_segments(results, "unused.png")
    return got[0]


def _span_colours(ax) -> list:
    """The face colour of each segment drawn on ``ax`` (a patch each, or collections after the waveform's)."""
    out = [p.get_facecolor() for p in ax.patches]
    for c in ax.collections[1:]:
        out += [c.get_facecolor()[0]] * len(c.get_paths())
    return out


def test_plot_colours_distinct_unknown_grey_legend_of_labels_present(tmp_path, monkeypatch):
    """QA: ``tab10(i % 10)`` gave the 11th label the 1st one's colour, ``unknown`` (--open-set) could share a
    speaker's, and the legend listed every class, also those with no segment."""
    import matplotlib.colors as mc

    from speechgmm.segment import Segmentation

    path = tmp_path / "a.wav"
    sf.write(str(path), np.zeros(16000 * 30, np.float32) + 0.1, 16000)
    labels = [f"spk{k:02d}" for k in range(25)] + ["unknown"]
    present = labels[:20] + ["unknown"]  # 5 labels without a segment
    segs = [(float(k), k + 0.8, lab) for k, lab in enumerate(present)]
    fig = _figure([Segmentation(str(path), 30.0, segs, labels)], monkeypatch)
    colours = [tuple(np.round(mc.to_rgb(c), 4)) for c in _span_colours(fig.axes[0])]
    assert len(colours) == len(present)
    assert len(set(colours[:-1])) == 20  # the 20 labels: distinct
    grey = colours[-1]
    assert grey[0] == grey[1] == grey[2] and grey not in colours[:-1]  # unknown: grey, no other label's
    assert all(not (c[0] == c[1] == c[2]) for c in colours[:-1])  # and no label is grey
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(texts) == sorted(present)


@pytest.mark.parametrize("peak", [0.01, 2.5])
def test_plot_is_scaled_to_the_file_peak(peak, tmp_path, monkeypatch):
    """QA: the y axis was fixed at +-1: a recording at -40 dB drew as a flat line, float audio above 1 was cut."""
    from speechgmm.segment import Segmentation

    path = tmp_path / "a.wav"
    t = np.arange(16000 * 5) / 16000
    sf.write(str(path), (peak * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000, subtype="FLOAT")
    fig = _figure([Segmentation(str(path), 5.0, [(1.0, 2.0, "male")], ["female", "male"])], monkeypatch)
    lo, hi = fig.axes[0].get_ylim()
    assert peak <= hi <= 1.2 * peak and lo == -hi


def test_plot_memory_does_not_grow_with_the_segments(tmp_path, monkeypatch):
    """An ``axvspan`` per segment cost ~8 kB each (25 MB more for 3,000 segments than for 300): a recording of
    hours has thousands."""
    import io
    import tracemalloc

    need_module("matplotlib")
    import matplotlib.pyplot as plt

    from speechgmm import _util
    from speechgmm.segment import Segmentation, plot_segments

    path = tmp_path / "a.wav"
    sf.write(str(path), np.full(16000 * 60, 0.1, np.float32), 16000)

    def save(fig, out):
        fig.savefig(io.BytesIO(), format="png", dpi=100)
        plt.close(fig)

    monkeypatch.setattr(_util, "save_figure", save)

    def peak(n):
        segs = [(k * 60 / n, k * 60 / n + 30 / n, ("female", "male")[k % 2]) for k in range(n)]
        tracemalloc.start()
        try:
            plot_segments([Segmentation(str(path), 60.0, segs, ["female", "male"])], "unused.png")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(10)  # imports and caches
    small, large = peak(300), peak(3000)
    assert large - small < 8e6, (small, large)


# -- names: not UTF-8, labels in RTTM and the table ------------------------------------------------------


def test_a_file_name_that_is_not_utf8(tmp_path):
    """QA: a name with the byte 0xff gave "internal error: UnicodeEncodeError" with --rttm and "TypeError:
    set_text()" with --plot (the table, --json and classify were right)."""
    need_module("matplotlib")
    odd = tmp_path / os.fsdecode(b"bad\xffname.wav")
    try:
        odd.write_bytes(WAV.read_bytes())
    except (OSError, UnicodeEncodeError):
        pytest.skip("the file system does not take names that are not UTF-8")
    rttm, png = tmp_path / "out.rttm", tmp_path / "out.png"
    r = run_cli("segment", "--rttm", rttm, "--plot", png, odd)
    assert r.returncode == 0, r.stderr
    ids = {line.split()[1] for line in rttm.read_text().splitlines()}
    assert ids == {"bad\\xffname"}  # the byte as in the table
    rows = [ln.split("\t") for ln in r.stdout.splitlines()[1:] if not ln.startswith("#")]
    assert rows and {row[0] for row in rows} == {str(tmp_path / "bad\\xffname.wav")}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_cli("segment", "--json", odd).returncode == 0


@pytest.fixture(scope="module")
def odd_labels_model(tmp_path_factory):
    """A tiny classifier of three labels: 'Mary Ann', 'Mary_Ann' (one RTTM name) and one with a tab."""
    from speechgmm.classifier import GMMClassifier
    from speechgmm.commands._common import load_classifier
    from speechgmm.features import extract_file
    from speechgmm.modelio import save_model

    cfg = load_classifier(None).feature_config
    files = sorted((ROOT / "examples").glob("*_*_*.wav"))[:3]
    X = [extract_file(f, cfg) for f in files]
    out = tmp_path_factory.mktemp("model") / "odd.npz"
    save_model(out, GMMClassifier(n_components=1, max_iter=2).fit(X, ["Mary Ann", "Mary_Ann", "Zo\tab"]), cfg)
    return out


def test_labels_that_would_share_an_rttm_name_are_refused(odd_labels_model, tmp_path):
    """QA: rttm_name wrote 'Mary Ann' as 'Mary_Ann' whatever a real 'Mary_Ann' label said: two speakers as one."""
    from speechgmm.errors import ConfigError
    from speechgmm.segment import Segmentation, rttm_lines

    rttm = tmp_path / "out.rttm"
    r = run_cli("segment", "--model", odd_labels_model, "--rttm", rttm, WAV)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "'Mary Ann'" in lines[0] and "'Mary_Ann'" in lines[0] and r.stdout == "" and not rttm.exists()
    res = Segmentation("x.wav", 3.0, [(0.0, 1.0, "Mary Ann"), (1.5, 2.0, "Mary_Ann")], ["Mary Ann", "Mary_Ann"])
    with pytest.raises(ConfigError, match="Mary_Ann"):
        rttm_lines(res)
    assert run_cli("segment", "--model", odd_labels_model, WAV).returncode == 0  # without --rttm: no clash


def test_summary_line_escapes_labels_as_the_rows_do(odd_labels_model):
    """QA: the speaking-time line printed a label's tab raw, the segment rows as ``\\t``."""
    r = run_cli("segment", "--model", odd_labels_model, WAV)
    assert r.returncode == 0, r.stderr
    summary = [ln for ln in r.stdout.splitlines() if ln.startswith("# ")]
    assert len(summary) == 1 and "\t" not in summary[0] and "Zo\\tab" in summary[0], summary
    rows = [ln.split("\t") for ln in r.stdout.splitlines()[1:] if not ln.startswith("#")]
    assert all(len(row) == 4 for row in rows)


# -- outputs when standard output goes away ----------------------------------------------------------


def _cmd(*args):
    return [sys.executable, "-m", "speechgmm", *map(str, args)]


def test_outputs_written_when_the_table_reader_goes_away(tmp_path):
    """QA: ``segment --rttm R --plot P FILE | head -1`` exited 0 and wrote neither R nor P."""
    need_module("matplotlib")
    rttm, png = tmp_path / "out.rttm", tmp_path / "out.png"
    proc = subprocess.Popen(
        _cmd("segment", "--rttm", rttm, "--plot", png, WAV), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(300) == 0, err
    assert err == ""
    assert rttm.read_text().startswith("SPEAKER male_AH_1A 1 ")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_closed_standard_output_is_one_line_and_outputs_are_written(tmp_path):
    """QA: ``segment --rttm R FILE >&-`` gave "internal error: AttributeError: 'NoneType' object has no attribute
    'flush'" and no RTTM."""
    rttm = tmp_path / "out.rttm"
    r = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', *_cmd("segment", "--rttm", rttm, WAV)],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "standard output is closed" in lines[0] and "internal error" not in lines[0]
    assert rttm.read_text().startswith("SPEAKER male_AH_1A 1 ")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_standard_output_is_named(tmp_path):
    """QA: ``segment FILE > /dev/full`` said "error: No space left on device", naming nothing."""
    rttm = tmp_path / "out.rttm"
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            _cmd("segment", "--rttm", rttm, WAV), stdout=full, stderr=subprocess.PIPE, text=True, timeout=300
        )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "standard output" in lines[0] and "No space left on device" in lines[0]
    assert rttm.read_text().startswith("SPEAKER male_AH_1A 1 ")


# -- a stop commits no output ------------------------------------------------------------------------


def test_a_stop_during_the_plot_leaves_every_output_as_it_was(tmp_path, monkeypatch, capsys):
    """QA: Ctrl-C / SIGTERM while the plot was drawn left a complete RTTM behind, an older one replaced."""
    need_module("matplotlib")
    from speechgmm import cli, segment

    rttm, png = tmp_path / "out.rttm", tmp_path / "out.png"
    rttm.write_text("old rttm\n")
    png.write_text("old png\n")

    def stop(*args, **kwargs):
        raise KeyboardInterrupt()  # Ctrl-C while the waveform is read for the plot

    monkeypatch.setattr(segment, "_envelope", stop)
    assert cli.main(["segment", "--rttm", str(rttm), "--plot", str(png), str(WAV)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert rttm.read_text() == "old rttm\n" and png.read_text() == "old png\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "out.rttm"]  # no temporary file left


# -- refused before any work -------------------------------------------------------------------------


def test_missing_matplotlib_is_refused_before_any_work(tmp_path):
    """QA: a missing matplotlib with --plot was reported after every file had been segmented (and the RTTM
    written)."""
    hide = tmp_path / "nompl"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "def find_spec(name, package=None):\n"
        "    return None if name.split('.')[0] == 'matplotlib' else _find(name, package)\n"
        "importlib.util.find_spec = find_spec\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    path = os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])
    rttm = tmp_path / "out.rttm"
    r = run_cli("segment", "--plot", tmp_path / "out.png", "--rttm", rttm, WAV, env={"PYTHONPATH": path})
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "needs matplotlib" in lines[0], r.stderr
    assert r.stdout == "" and not rttm.exists()


def test_standard_input_is_refused_before_the_table_header(cli):
    """QA: ``segment -`` printed the table's header before refusing standard input."""
    r = cli("segment", "-", input="RIFF")
    assert r.returncode == 2 and "reads files, not standard input" in r.stderr
    assert r.stdout == ""


def test_segment_file_takes_open_set_as_a_bool():
    """QA: segment_file(..., open_set="no") was taken as true."""
    from speechgmm import segment_file
    from speechgmm.errors import ConfigError

    with pytest.raises(ConfigError, match="open_set must be True or False, not 'no'"):
        segment_file(ROOT / "examples" / "male_AH_1A.wav", open_set="no")
    assert segment_file(ROOT / "examples" / "male_AH_1A.wav", open_set=False)
