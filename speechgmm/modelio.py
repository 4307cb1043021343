"""Model files: one ``.npz`` of plain arrays plus a JSON header, never pickle.

Layout (all arrays float64 unless noted)::

    header                uint8   UTF-8 JSON (format, version, kind, labels, front end, ...)
    c{i}_weights          (K_i,)  class i's GMM
    c{i}_means            (K_i, D)
    c{i}_variances        (K_i, D)
    ubm_weights, ubm_means, ubm_variances    (MAP classifiers and UBM files)

``kind`` is ``"classifier"`` (per-class GMMs) or ``"ubm"`` (a single background GMM).
Files are written atomically and validated on load: any damage or a foreign file gives a
:class:`~speechgmm.errors.ModelFileError` with a one-line reason.
"""
from __future__ import annotations

import datetime
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from speechgmm import __version__
from speechgmm._util import atomic_output
from speechgmm.errors import ConfigError, ModelFileError

FORMAT = "speechgmm-model"
FORMAT_VERSION = 1


def _gmm_arrays(prefix: str, g) -> Dict[str, np.ndarray]:
    return {f"{prefix}_weights": np.asarray(g.weights_, np.float64), f"{prefix}_means": np.asarray(g.means_, np.float64),
            f"{prefix}_variances": np.asarray(g.variances_, np.float64)}


def _write(path, arrays: Dict[str, np.ndarray], header: Dict[str, Any]) -> Path:
    # SOURCE_DATE_EPOCH (reproducible-builds convention) fixes the date for bit-identical files
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else \
        datetime.datetime.now(datetime.timezone.utc)
    header = dict(header, format=FORMAT, format_version=FORMAT_VERSION, speechgmm_version=__version__,
                  created=header.get("created") or now.isoformat(timespec="seconds"))
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    with atomic_output(path, suffix=".npz") as tmp:
        # like np.savez_compressed, but with fixed zip timestamps so equal models give equal bytes
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, arr in dict(header=blob, **arrays).items():
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return path


def save_model(path: os.PathLike | str, clf, feature_config=None, info: Optional[Dict[str, Any]] = None) -> Path:
    """Write a trained :class:`~speechgmm.classifier.GMMClassifier` to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        Destination ``.npz``.
    clf : GMMClassifier
    feature_config : FeatureConfig
        The front end the features were computed with (stored in full).
    info : dict, optional
        Extra JSON-able header fields (label column, manifest hash, training options, ...).
    """
    if not getattr(clf, "models_", None):
        raise ConfigError("cannot save an untrained classifier")
    arrays: Dict[str, np.ndarray] = {}
    for i, g in enumerate(clf.models_):
        arrays.update(_gmm_arrays(f"c{i}", g))
    header: Dict[str, Any] = dict(info or {})
    header.update(kind="classifier", method=clf.method_, labels=list(clf.labels_),
                  n_components=[int(g.n_components) for g in clf.models_],
                  n_features=int(clf.models_[0].means_.shape[1]), frames=clf.frames_,
                  priors=clf.priors, top_c=int(clf.top_c),
                  features=feature_config.to_dict() if feature_config is not None else None)
    if clf.method_ == "map":
        arrays.update(_gmm_arrays("ubm", clf.ubm_))
        header.update(relevance_factor=float(clf.relevance_factor), adapt=clf.adapt)
    return _write(path, arrays, header)


def save_ubm(path: os.PathLike | str, ubm, feature_config=None, info: Optional[Dict[str, Any]] = None) -> Path:
    """Write a background :class:`~speechgmm.gmm.DiagGMM` (``kind="ubm"``) atomically."""
    header = dict(info or {})
    header.update(kind="ubm", n_components=int(ubm.n_components), n_features=int(ubm.means_.shape[1]),
                  var_floor=float(ubm.var_floor),
                  features=feature_config.to_dict() if feature_config is not None else None)
    arrays = _gmm_arrays("ubm", ubm)
    if hasattr(ubm, "var_floor_"):
        arrays["ubm_var_floor"] = np.asarray(ubm.var_floor_, np.float64)
    return _write(path, arrays, header)


class ModelFile:
    """A loaded, validated model file.

    Attributes
    ----------
    header : dict
    kind : {"classifier", "ubm"}
    feature_config : FeatureConfig
    classifier : GMMClassifier or None
    ubm : DiagGMM or None
    """

    def __init__(self, path, header, classifier, ubm, feature_config):
        self.path, self.header, self.classifier, self.ubm, self.feature_config = path, header, classifier, ubm, feature_config
        self.kind = header["kind"]


def _gmm_from(path, z, prefix: str, D: Optional[int]):
    from speechgmm.gmm import DiagGMM

    try:
        w, mu, var = (z[f"{prefix}_{n}"] for n in ("weights", "means", "variances"))
    except KeyError as exc:
        raise ModelFileError(f"{path}: damaged model file (missing array {exc.args[0]})") from None
    for name, a in (("weights", w), ("means", mu), ("variances", var)):
        if a.dtype.kind != "f":
            raise ModelFileError(f"{path}: damaged model file ({prefix} {name} are not floating point)")
        if not np.all(np.isfinite(a)):
            raise ModelFileError(f"{path}: damaged model file ({prefix} {name} contain NaN/inf)")
    K = w.shape[0] if w.ndim == 1 else -1
    if K < 1 or mu.ndim != 2 or mu.shape[0] != K or var.shape != mu.shape or (D is not None and mu.shape[1] != D):
        raise ModelFileError(f"{path}: damaged model file (inconsistent shapes for {prefix})")
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6 or np.any(var <= 0):
        raise ModelFileError(f"{path}: damaged model file ({prefix}: weights must sum to 1, variances be > 0)")
    g = DiagGMM(n_components=K)
    g.weights_, g.means_, g.variances_ = w.astype(np.float64), mu.astype(np.float64), var.astype(np.float64)
    return g


def load_model(path: os.PathLike | str, kind: Optional[str] = None) -> ModelFile:
    """Read and validate a model file written by :func:`save_model` or :func:`save_ubm`.

    Parameters
    ----------
    path : path-like
    kind : {"classifier", "ubm"}, optional
        Require this kind of model.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupted or foreign file; unsupported version; wrong kind.
    """
    from speechgmm.classifier import GMMClassifier
    from speechgmm.features import FeatureConfig

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file ({exc.strerror or exc})") from None
    if magic != b"PK\x03\x04":  # every .npz is a zip archive
        what = "an empty file" if not magic else "not an .npz archive"
        raise ModelFileError(f"{path}: not a speechgmm model file ({what})")
    try:
        z = np.load(path, allow_pickle=False)
        if not hasattr(z, "files"):
            raise ModelFileError(f"{path}: not a speechgmm model file (a bare .npy array)")
        with z:
            if "header" not in z.files:
                raise ModelFileError(f"{path}: not a speechgmm model file (no header)")
            arrays = {k: z[k] for k in z.files}
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zipfile.LargeZipFile, RuntimeError,
            zlib.error, NotImplementedError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not a speechgmm model file or damaged ({' '.join(str(exc).split())[:120]})") from None
    try:
        header = json.loads(arrays["header"].astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise ModelFileError(f"{path}: damaged model file (unreadable header)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a speechgmm model file")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported model format version {header.get('format_version')!r} "
                             f"(this speechgmm reads version {FORMAT_VERSION})")
    if kind is not None and header.get("kind") != kind:
        raise ModelFileError(f"{path}: is a {header.get('kind')!r} model, expected a {kind!r} model")
    try:
        fc = FeatureConfig.from_dict(header["features"]) if header.get("features") else None
    except ConfigError as exc:
        raise ModelFileError(f"{path}: damaged model file (front end: {exc})") from None
    D = header.get("n_features")
    clf = ubm = None
    try:
        if header.get("kind") == "ubm":
            ubm = _gmm_from(path, arrays, "ubm", D)
            if "ubm_var_floor" in arrays:
                ubm.var_floor_ = arrays["ubm_var_floor"].astype(np.float64)
            ubm.var_floor = float(header.get("var_floor", 1e-3))
        elif header.get("kind") == "classifier":
            labels = header["labels"]
            if not isinstance(labels, list) or len(labels) < 1 or len(set(labels)) != len(labels):
                raise ModelFileError(f"{path}: damaged model file (bad label list)")
            clf = GMMClassifier(priors=header.get("priors"), top_c=int(header.get("top_c", 5)))
            clf.labels_ = [str(x) for x in labels]
            clf.models_ = [_gmm_from(path, arrays, f"c{i}", D) for i in range(len(labels))]
            clf.frames_ = header.get("frames") or {}
            clf.method_ = header.get("method", "em")
            if clf.method_ == "map":
                clf.ubm_ = ubm = _gmm_from(path, arrays, "ubm", D)
                clf.relevance_factor = float(header.get("relevance_factor", 16.0))
                clf.adapt = header.get("adapt", "m")
                if any(m.n_components != ubm.n_components for m in clf.models_):
                    raise ModelFileError(f"{path}: damaged model file (MAP models differ from the UBM in size)")
        else:
            raise ModelFileError(f"{path}: unknown model kind {header.get('kind')!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged model file ({exc})") from None
    if fc is not None and D is not None and fc.dim != D:
        raise ModelFileError(f"{path}: damaged model file (front end gives {fc.dim} dims, models have {D})")
    return ModelFile(path, header, clf, ubm, fc)
