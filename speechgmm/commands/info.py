"""speechgmm info: describe a model file."""

from __future__ import annotations

from speechgmm.commands import _common

HELP = "show what a model file contains and how it was trained"
DESCRIPTION = """\
Print a model file's classes, mixture sizes, feature front end and training record
(manifest and its hash, options, date, speechgmm version). --json prints the header.

example:
  speechgmm info digits.npz
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.npz", help="model or UBM file")
    p.add_argument("--json", action="store_true", help="print the header as JSON")


def run(args) -> int:
    from speechgmm.modelio import load_model

    mf = load_model(args.model)
    h = mf.header
    if args.json:
        _common.print_json(h)
        return 0
    written = f"speechgmm {h.get('speechgmm_version') or '(version unknown)'}"
    when = f" on {h['created']}" if h.get("created") else ""  # a hand-made or stripped header may lack it
    print(f"{args.model}: speechgmm {h['kind']} model (format {h['format_version']}, written by {written}{when})")
    if mf.kind == "classifier":
        clf = mf.classifier
        ks = sorted(set(h["n_components"]))
        print(f"  classes      {len(clf.labels_)}: {' '.join(clf.labels_)} (column {h.get('label_column')!r})")
        extra = f" (relevance factor {h.get('relevance_factor')}, adapt {h.get('adapt')!r}, top-{clf.top_c} scoring)"
        print(f"  method       {clf.method_}" + (extra if clf.method_ == "map" else ""))
        print(f"  components   {', '.join(map(str, ks))} per class, {h['n_features']} dims")
        fr = h.get("frames") or {}
        if fr:
            print(f"  train frames {sum(fr.values())} ({min(fr.values())}..{max(fr.values())} per class)")
        _open_set_lines(h, getattr(clf, "cohort_", None))
        cal = getattr(clf, "calibration_", None)
        cv = (h.get("training") or {}).get("calibration_cv")
        if cal is not None:
            print(
                f"  posteriors   calibrated: log-odds = {cal.scale:g} x frames^{cal.exponent:g} x mean score per frame"
            )
        enrolled = [e for e in h.get("enrolled") or [] if isinstance(e, dict)]
        if isinstance(cv, dict) and cv.get("fitted") and isinstance(cv.get("cross_entropy_bits"), dict):
            ce = cv["cross_entropy_bits"]
            kept = ", kept when classes were enrolled" if enrolled and cal is not None else ""
            print(
                f"               (fitted by {cv.get('how')} cross-validation on {cv.get('files')} training "
                f"files{kept}: held-out cross-entropy {ce.get('raw')} -> {ce.get('calibrated')} bits per file)"
            )
        elif isinstance(cv, dict) and cv.get("why"):
            print(f"  posteriors   raw (not calibrated: {cv['why']})")
    else:
        print(f"  components   {h['n_components']}, {h['n_features']} dims")
        _open_set_lines({}, getattr(mf.ubm, "cohort_", None))
    if h.get("manifest"):
        sha = h.get("manifest_sha256", "")[:16]
        print(f"  manifest     {h['manifest']} (sha256 {sha}..., {h.get('n_files')} files)")
    for e in h.get("enrolled") or []:
        if isinstance(e, dict):
            changed = [f"{len(e.get(k) or [])} {k}" for k in ("added", "replaced") if e.get(k)]
            sha = str(e.get("manifest_sha256", ""))[:16]
            print(
                f"  enrolled     {' and '.join(changed) or 'nothing'} from {e.get('manifest')} (sha256 {sha}..., "
                f"{e.get('n_files')} files)"
            )
    if h.get("training"):
        # a MAP model's class models have the UBM's size: the EM-only -k value would read as theirs
        unused = {"components"} if h["training"].get("method") == "map" else set()
        unused.add("calibration_cv")  # shown with the posteriors
        items = [f"{k}={v}" for k, v in h["training"].items() if v is not None and k not in unused]
        print("  training     " + ", ".join(items))
    fc = h.get("features") or {}
    cfg = mf.feature_config
    if cfg is None or not fc:  # classify refuses such a file: say so here too
        print("  front end    none: the model file has no front-end configuration (classify refuses it)")
        return 0
    name = cfg.preset_name()
    kind = f"preset {name!r}: " if name else "(no preset): "
    print("  front end    " + kind + ", ".join(f"{k}={v}" for k, v in fc.items()))
    return 0


def _open_set_lines(h: dict, cohort) -> None:
    """The stored open-set threshold (``classify --open-set``) and the cohort (``verify --norm``), if any."""
    rec = h.get("open_set")
    if isinstance(rec, dict) and rec.get("threshold") is not None:
        print(
            f"  open set     threshold {rec['threshold']:.4f} ({rec.get('score', 'margin')}; lets "
            f"{100 * rec.get('false_accept', 0):g} % of {rec.get('impostor_trials')} leave-one-speaker-out "
            f"impostor trials through)"
        )
    elif h.get("method") == "map":
        from speechgmm.speakers import pending_trials_note

        stored = rec.get("impostor_trials", 0) if isinstance(rec, dict) else 0
        print(
            f"  open set     no stored threshold (classify --open-set needs --threshold T{pending_trials_note(stored)})"
        )
    if cohort is not None:
        print(
            f"  cohort       {len(cohort.speakers)} speakers, {len(cohort.utts)} utterances "
            f"(verify --norm z|t|s; default s)"
        )
