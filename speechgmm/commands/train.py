"""speechgmm train: one GMM per class from a labelled manifest."""
from __future__ import annotations

from speechgmm.commands import _common
from speechgmm.pipeline import DEFAULTS

HELP = "train a classifier (one GMM per label) from a manifest"
DESCRIPTION = f"""\
Train one diagonal-covariance GMM per label of MANIFEST and save them, with the front end,
in one model file (.npz, no pickle; written atomically).

MANIFEST is a CSV/TSV with a header containing 'path' and the label column (default
'label'), or a Kaldi data dir / wav.scp with 'text' (label) and 'utt2spk' (speaker).
Relative paths are relative to the manifest's folder (or --root).

Two methods:
  em   (default) each class's GMM is trained by EM on that class's frames;
  map  each class model is MAP-adapted from a universal background model (--ubm UBM.npz
       from 'speechgmm train-ubm', or one trained here on the whole manifest) -- best when
       classes have little data each, e.g. speakers.

Defaults (K={DEFAULTS['components']}, {DEFAULTS['iterations']} iterations, {DEFAULTS['init']} init) were chosen by
cross-validation on the training speakers of the TI digits corpus.

examples:
  speechgmm train train.csv -o digits.npz
  speechgmm train train.csv -o gender.npz --label-column gender --preset speaker
  speechgmm train enroll.csv -o spk.npz --label-column speaker --ubm ubm.npz
  speechgmm train train.csv -o digits.npz --augment noise,reverb   # noisy/reverberant use
"""


def add_arguments(p) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="CSV/TSV manifest, Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.npz", help="model file to write")
    p.add_argument("--label-column", default="label", metavar="COL", help="column holding the class label (default: label)")
    p.add_argument("--components", "-k", type=_common.positive_int, default=DEFAULTS["components"], metavar="K",
                   help=f"Gaussians per class (default {DEFAULTS['components']})")
    p.add_argument("--iterations", type=_common.positive_int, default=DEFAULTS["iterations"], metavar="N",
                   help=f"EM iterations (default {DEFAULTS['iterations']})")
    p.add_argument("--init", choices=["kmeans", "split", "random"], default=DEFAULTS["init"],
                   help=f"initialisation (default {DEFAULTS['init']})")
    p.add_argument("--preset", default=None, help="front end: default, asr_course, speaker (default: default, "
                                                   "or the UBM's with --ubm)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="random seed (default 0)")
    p.add_argument("--augment", default="", metavar="KINDS",
                   help="multi-condition training: also train on a noisy and/or reverberant copy of every file "
                        "(noise, reverb, or noise,reverb); helps when the audio to classify is noisier or more "
                        "reverberant than the training audio")
    _common.add_root(p)
    _common.add_jobs(p)
    _common.add_cache(p)
    g = p.add_argument_group("GMM-UBM / MAP adaptation")
    g.add_argument("--method", choices=["em", "map"], default="em", help="em (default) or map")
    g.add_argument("--ubm", metavar="UBM.npz", help="background model from 'speechgmm train-ubm' (implies --method map)")
    g.add_argument("--ubm-components", type=_common.positive_int, default=DEFAULTS["ubm_components"], metavar="K",
                   help=f"size of the UBM trained here when --method map has no --ubm (default {DEFAULTS['ubm_components']})")
    g.add_argument("--relevance-factor", type=float, default=DEFAULTS["relevance_factor"], metavar="R",
                   help=f"MAP relevance factor (default {DEFAULTS['relevance_factor']:g}: best in cross-validation on the corpus's training speakers)")
    g.add_argument("--adapt", default="m", metavar="PARAMS", help="parameters to adapt: m, mw, mwv, ... (default m)")
    _common.add_dask(p)


def run(args) -> int:
    from speechgmm.augment import parse_kinds
    from speechgmm.pipeline import train_from_manifest

    _common.check_output_path(args.output)
    client = _common.dask_client(args)
    try:
        s = train_from_manifest(args.manifest, args.output, label_column=args.label_column,
                                components=args.components, iterations=args.iterations, init=args.init,
                                preset=args.preset, seed=args.seed, jobs=args.jobs, root=args.root,
                                method=args.method, ubm_path=args.ubm, ubm_components=args.ubm_components,
                                relevance_factor=args.relevance_factor, adapt=args.adapt, client=client,
                                cache_dir=args.cache, augment=parse_kinds(args.augment))
    finally:
        if client is not None:
            client.close()
    frames = s["frames"]
    print(f"trained {len(s['labels'])} classes ({s['method']}) on {s['files']} files, "
          f"{sum(frames.values())} frames in {s['seconds']:.1f} s -> {s['output']}")
    return 0
