"""speechgmm train-ubm: a universal background model for MAP adaptation."""

from __future__ import annotations

from speechgmm.commands import _common
from speechgmm.options import RunOptions, UbmOptions, add_dataclass_arguments

HELP = "train a universal background model (UBM) on all files of a manifest"
DESCRIPTION = """\
Train one large GMM on the frames of every file of MANIFEST (labels are ignored), by
binary mixture splitting 1 -> 2 -> 4 ... -> K followed by EM. Use it with
'speechgmm train ... --ubm UBM.npz' to MAP-adapt one model per class from it.

The UBM should come from many speakers that are NOT the ones you will enroll. If MANIFEST
has a 'speaker' column, those speakers' statistics (and their two shortest files each) are
stored with the UBM as the cohort of score normalisation ('speechgmm verify --norm'); class
models trained with '--ubm' carry it along (not with --cache or a Dask cluster).

example:
  speechgmm train-ubm background.csv -o ubm.npz --components 256 --preset speaker
"""


def add_arguments(p) -> None:
    p.add_argument("manifest", metavar="MANIFEST", help="CSV/TSV manifest, Kaldi data dir or wav.scp")
    p.add_argument("-o", "--output", required=True, metavar="UBM.npz", help="UBM file to write")
    add_dataclass_arguments(p, UbmOptions)
    _common.add_root(p)
    _common.add_jobs(p, "feature extraction and training")
    _common.add_cache(p)
    _common.add_dask(p)


def run(args) -> int:
    from speechgmm.pipeline import train_ubm_from_manifest

    options = UbmOptions.from_args(args)
    run_opts = RunOptions.from_args(args)
    inputs = _common.manifest_inputs(args.manifest, run_opts.root)
    _common.check_output_path(args.output, inputs=inputs, suffix=".npz", cache_dir=run_opts.cache_dir)
    with _common.dask_session(args) as client:
        s = train_ubm_from_manifest(args.manifest, args.output, options, client=client, **run_opts.pipeline_kwargs())
    print(f"trained a {options.n_components}-component UBM on {s.files} files in {s.seconds:.1f} s -> {s.output}")
    return 0
