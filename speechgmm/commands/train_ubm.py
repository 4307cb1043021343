"""speechgmm train-ubm: a universal background model for MAP adaptation."""
from __future__ import annotations

from speechgmm.commands import _common
from speechgmm.pipeline import DEFAULTS

HELP = "train a universal background model (UBM) on all files of a manifest"
DESCRIPTION = """\
Train one large GMM on the frames of every file of MANIFEST (labels are ignored), by
binary mixture splitting 1 -> 2 -> 4 ... -> K followed by EM. Use it with
'speechgmm train ... --ubm UBM.npz' to MAP-adapt one model per class from it.

The UBM should come from many speakers that are NOT the ones you will enroll.

example:
  speechgmm train-ubm background.csv -o ubm.npz --components 256 --preset speaker
"""


def add_arguments(p) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="CSV/TSV manifest, Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="UBM.npz", help="UBM file to write")
    p.add_argument("--components", "-k", type=_common.positive_int, default=DEFAULTS["ubm_components"], metavar="K",
                   help=f"Gaussians (default {DEFAULTS['ubm_components']})")
    p.add_argument("--iterations", type=_common.positive_int, default=10, metavar="N",
                   help="EM iterations after splitting (default 10)")
    p.add_argument("--init", choices=["split", "kmeans", "random"], default="split", help="initialisation (default split)")
    p.add_argument("--preset", default="speaker", help="front end (default: speaker, no CMN)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--augment", default="", metavar="KINDS",
                   help="also train on a noisy and/or reverberant copy of every file (noise, reverb, or noise,reverb)")
    _common.add_root(p)
    _common.add_jobs(p)
    _common.add_cache(p)
    _common.add_dask(p)


def run(args) -> int:
    import time

    from speechgmm.augment import parse_kinds
    from speechgmm.manifest import read_manifest
    from speechgmm.modelio import save_ubm
    from speechgmm.pipeline import augmented_features, manifest_features, train_ubm

    t0 = time.time()
    _common.check_output_path(args.output)
    kinds = parse_kinds(args.augment)
    cfg = _common.feature_config(args.preset)
    man = read_manifest(args.manifest, root=args.root)
    client = _common.dask_client(args)
    try:
        if client is not None:
            from speechgmm.distributed import augmented_items, train_ubm_distributed
            from speechgmm.gmm import DiagGMM

            gmm = DiagGMM(args.components, max_iter=args.iterations, tol=0, init=args.init, random_state=args.seed)
            ubm = train_ubm_distributed(client, augmented_items(man.paths, kinds, args.seed), cfg, gmm)
        else:
            if args.cache:
                from speechgmm.kaldi import ArkFeatures
                from speechgmm.pipeline import cache_features

                keys, scp = cache_features(man, cfg, args.cache, jobs=args.jobs, augment=kinds, seed=args.seed)
                feats = ArkFeatures(scp, keys)
            else:
                feats = manifest_features(man, cfg, jobs=args.jobs)
                if kinds:
                    feats = feats + augmented_features(man, cfg, kinds, args.seed, jobs=args.jobs)
            ubm = train_ubm(feats, args.components, args.iterations, args.seed, init=args.init)
    finally:
        if client is not None:
            client.close()
    save_ubm(args.output, ubm, cfg, {"manifest": str(man.source), "manifest_sha256": man.sha256, "n_files": len(man),
                                      "training": {"iterations": args.iterations, "init": args.init, "seed": args.seed,
                                                   "augment": list(kinds)}})
    print(f"trained a {args.components}-component UBM on {len(man)} files in {time.time() - t0:.1f} s -> {args.output}")
    return 0
