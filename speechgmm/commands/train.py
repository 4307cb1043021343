"""speechgmm train: one GMM per class from a labelled manifest."""

from __future__ import annotations

import math
import warnings

from speechgmm.commands import _common
from speechgmm.errors import SpeechGMMWarning
from speechgmm.options import MapOptions, RunOptions, TrainOptions, add_dataclass_arguments, defaults

DEFAULTS = defaults(TrainOptions)
#: a held-out cross-entropy this close to chance (share of log2 of the class count) gets a warning
CHANCE_SHARE = 0.95

HELP = "train a classifier (one GMM per label) from a manifest"
DESCRIPTION = f"""\
Train one diagonal-covariance GMM per label of MANIFEST and save them, with the front end,
in one model file (.npz, no pickle; written atomically).

MANIFEST is a CSV/TSV with a header containing 'path' and the label column (default
'label'), or a Kaldi data dir / wav.scp with 'text' (label) and 'utt2spk' (speaker).
Relative paths are relative to the manifest's folder (or --root).

Methods:
  auto (default) em when every class has at least 8 frames per component (K), map
       otherwise, and map for a speaker label column (speaker, spk, speaker_id); the
       choice and the reason are printed and stored in the model file;
  em   each class's GMM is trained by EM on that class's frames;
  map  each class model is MAP-adapted from a universal background model (--ubm UBM.npz
       from 'speechgmm train-ubm', or one trained here on the whole manifest) -- best when
       classes have little data each, e.g. speakers.
A speaker label column without --preset or --ubm also selects the 'speaker' front end;
with --method auto it adapts the speakers from the bundled background model (--ubm
bundled: 95 TI training speakers, 256 Gaussians; one for --preset speaker and one for
--preset speaker_any_level, for recordings whose levels differ), which tells enrolled
speakers from strangers far better than a UBM of the enrolled speakers themselves.

Defaults (K={DEFAULTS["n_components"]}, {DEFAULTS["max_iter"]} iterations, {DEFAULTS["init"]} init) were chosen by
cross-validation on the training speakers of the TI digits corpus.

examples:
  speechgmm train train.csv -o digits.npz
  speechgmm train train.csv -o gender.npz --label-column gender --preset speaker
  speechgmm train enroll.csv -o spk.npz --label-column speaker    # auto: MAP, bundled UBM
  speechgmm train enroll.csv -o spk.npz --label-column speaker --ubm ubm.npz
  speechgmm train train.csv -o digits.npz --augment noise,reverb   # noisy/reverberant use
"""


def add_arguments(p) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="CSV/TSV manifest, Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.npz", help="model file to write")
    add_dataclass_arguments(p, TrainOptions, skip=("method", "ubm", "ubm_components"))
    _common.add_root(p)
    _common.add_jobs(p, "feature extraction and training")
    _common.add_cache(p)
    g = p.add_argument_group("GMM-UBM / MAP adaptation")
    add_dataclass_arguments(g, TrainOptions, only=("method", "ubm", "ubm_components"))
    add_dataclass_arguments(g, MapOptions)
    _common.add_dask(p)


def run(args) -> int:
    from speechgmm.pipeline import train_from_manifest

    options = TrainOptions.from_args(args)
    run_opts = RunOptions.from_args(args)
    from speechgmm.speakers import BUNDLED_UBMS, ubm_path

    ubm = ubm_path(options.ubm, options.preset)
    inputs = [*_common.manifest_inputs(args.manifest, run_opts.root), ubm, *BUNDLED_UBMS.values()]
    _common.check_output_path(args.output, inputs=inputs, suffix=".npz", cache_dir=run_opts.cache_dir)
    with _common.dask_session(args) as client:
        s = train_from_manifest(args.manifest, args.output, options, client=client, **run_opts.pipeline_kwargs())
    print(f"method {s.method}: {s.method_reason}")
    cal = s.calibration or {}
    if cal.get("fitted"):
        ce = cal["cross_entropy_bits"]
        print(
            f"posteriors calibrated by {cal['how']} cross-validation: held-out cross-entropy "
            f"{ce['raw']:.3g} -> {ce['calibrated']:.3g} bits per file"
        )
        chance = math.log2(len(s.labels))
        if ce["calibrated"] >= CHANCE_SHARE * chance:  # the scale went to ~0: every posterior near 1/C
            warnings.warn(
                f"on held-out files the cross-validation models did no better than chance ({chance:.3g} bits "
                f"per file), so every posterior will be near 1/{len(s.labels)}: give more files per class, or a "
                f"smaller model (--components, --ubm-components)",
                SpeechGMMWarning,
                stacklevel=2,
            )
    elif cal:
        print(f"posteriors not calibrated: {cal['why']}")
    if s.open_set and s.open_set.get("threshold") is not None:
        print(f"open-set threshold {s.open_set['threshold']:.3f} ({s.open_set['impostor_trials']} impostor trials)")
    elif s.open_set is not None:
        from speechgmm.speakers import NO_OPEN_SET_WHY, pending_trials_note

        note = pending_trials_note(s.open_set.get("impostor_trials", 0))
        print(f"no open-set threshold stored ({NO_OPEN_SET_WHY}{note}); 'classify --open-set' will need --threshold T")
    print(
        f"trained {len(s.labels)} classes ({s.method}) on {s.files} files, "
        f"{sum(s.frames.values())} frames in {s.seconds:.1f} s -> {s.output}"
    )
    return 0
