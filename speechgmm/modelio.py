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

import dataclasses
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Optional

import numpy as np

from speechgmm import __version__
from speechgmm._util import atomic_output
from speechgmm.errors import ConfigError, ModelFileError

FORMAT = "speechgmm-model"
FORMAT_VERSION = 1


# -- one writer and one reader per object (files and Dask both use them) -----------------------
# A writer returns (header fields, arrays); a reader takes them back and validates them, raising
# a one-line ModelFileError that names ``where`` (the file, or "model" for objects in memory).


def gmm_to_arrays(g, prefix: str) -> dict[str, np.ndarray]:
    """A DiagGMM's parameters as float64 arrays ``{prefix}_weights``, ``_means``, ``_variances``."""
    return {
        f"{prefix}_{name}": np.asarray(getattr(g, f"{name}_"), np.float64) for name in ("weights", "means", "variances")
    }


def _damaged(where, what: str) -> ModelFileError:
    return ModelFileError(f"{where}: damaged model file ({what})")


def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _open_set_problem(rec) -> Optional[str]:
    """What is wrong with a header's ``open_set`` record, or None (QA: a threshold of text was an internal
    error in ``info``, a NaN one read as "no threshold", a non-numeric impostor score one in ``enroll``)."""
    if rec is None:
        return None
    if not isinstance(rec, dict):
        return "not an object"
    for key, ok in (
        ("threshold", _real),
        ("t_weight", lambda v: _real(v) and v >= 0),
        ("false_accept", lambda v: _real(v) and 0 < v < 1),
        ("impostor_trials", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
        ("impostor_scores", lambda v: isinstance(v, list) and all(map(_real, v))),
        ("impostor_labels", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
    ):
        if key in rec and not ok(rec[key]):
            return f"invalid {key} {str(rec[key])[:40]!r}"
    if rec.get("impostor_paired") and len(rec.get("impostor_labels", [])) != len(rec.get("impostor_scores", [])):
        return "impostor labels and scores differ in number"
    return None


def _check_gmm_arrays(where, prefix: str, w, mu, var, n_features: Optional[int]) -> None:
    from speechgmm.gmm import params_problem

    for name, a in (("weights", w), ("means", mu), ("variances", var)):
        if a.dtype.kind != "f":
            raise _damaged(where, f"{prefix} {name} are not floating point")
    problem = params_problem(w, mu, var, n_features)
    if problem:
        raise _damaged(where, f"{prefix}: {problem}")


def gmm_from_arrays(arrays, prefix: str, *, where="model", n_features: Optional[int] = None):
    """The DiagGMM stored under ``prefix`` in ``arrays``, validated (finite, shapes, weights, variances)."""
    from speechgmm.gmm import DiagGMM

    try:
        w, mu, var = (np.asarray(arrays[f"{prefix}_{n}"]) for n in ("weights", "means", "variances"))
    except KeyError as exc:
        raise _damaged(where, f"missing array {exc.args[0]}") from None
    _check_gmm_arrays(where, prefix, w, mu, var, n_features)
    return DiagGMM.from_params(w, mu, var)


def ubm_to_arrays(ubm) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A background DiagGMM (``kind="ubm"``): header fields and arrays."""
    header = dict(
        kind="ubm",
        n_components=int(ubm.n_components),
        n_features=int(ubm.means_.shape[1]),
        var_floor=float(ubm.var_floor),
    )
    arrays = gmm_to_arrays(ubm, "ubm")
    if hasattr(ubm, "var_floor_"):
        arrays["ubm_var_floor"] = np.asarray(ubm.var_floor_, np.float64)
    if getattr(ubm, "cohort_", None) is not None:  # its training speakers (speechgmm.speakers.Cohort)
        arrays.update(ubm.cohort_.to_arrays())
    return header, arrays


def ubm_from_arrays(header, arrays, *, where="model"):
    ubm = gmm_from_arrays(arrays, "ubm", where=where, n_features=header.get("n_features"))
    if "ubm_var_floor" in arrays:
        floor = np.asarray(arrays["ubm_var_floor"])
        if (
            floor.shape != ubm.means_.shape[1:]
            or floor.dtype.kind != "f"
            or not np.all(np.isfinite(floor))
            or np.any(floor <= 0)
        ):
            raise _damaged(where, "bad ubm_var_floor")
        ubm.var_floor_ = floor.astype(np.float64)
    ubm.var_floor = _number(header.get("var_floor", 1e-3), where, "var_floor")
    ubm.cohort_ = _cohort(arrays, where, ubm)
    return ubm


def _cohort(arrays, where, ubm):
    from speechgmm.speakers import Cohort

    cohort = Cohort.from_arrays(arrays, where)
    if cohort is not None and cohort.f.shape[1:] != ubm.means_.shape:
        raise _damaged(where, "cohort statistics differ from the UBM in size")
    return cohort


def classifier_to_arrays(clf) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A trained GMMClassifier: header fields (labels, method, priors, ...) and arrays (``c{i}_*``, ``ubm_*``)."""
    if not getattr(clf, "models_", None):
        raise ConfigError("cannot save an untrained classifier")
    arrays: dict[str, np.ndarray] = {}
    for i, g in enumerate(clf.models_):
        arrays.update(gmm_to_arrays(g, f"c{i}"))
    header: dict[str, Any] = dict(
        kind="classifier",
        method=clf.method_,
        labels=list(clf.labels_),
        n_components=[int(g.n_components) for g in clf.models_],
        n_features=int(clf.models_[0].means_.shape[1]),
        frames=clf.frames_,
        priors=clf.priors,
        top_c=int(clf.top_c),
    )
    if getattr(clf, "calibration_", None) is not None:
        header["calibration"] = clf.calibration_.to_header()
    if clf.method_ == "map":
        arrays.update(gmm_to_arrays(clf.ubm_, "ubm"))
        header.update(relevance_factor=float(clf.relevance_factor), adapt=clf.adapt)
        if getattr(clf, "cohort_", None) is not None:
            arrays.update(clf.cohort_.to_arrays())
    return header, arrays


def _number(v, where, name: str, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < lo:
        raise _damaged(where, f"{name} must be a finite number >= {lo:g}, not {v!r}")
    return float(v)


def _labels(header, arrays, where):
    labels = header.get("labels")
    if not isinstance(labels, list) or len(labels) < 1 or len(set(map(str, labels))) != len(labels):
        raise _damaged(where, "bad label list")
    n_arrays = sum(1 for k in arrays if k.startswith("c") and k.endswith("_weights"))
    if n_arrays != len(labels):
        raise _damaged(where, f"{len(labels)} labels but {n_arrays} class models")
    return [str(x) for x in labels]


def _priors(header, labels, where):
    priors = header.get("priors")
    if priors is None:
        return None
    if not isinstance(priors, dict) or set(priors) - set(labels):
        raise _damaged(where, "priors must map the model's labels to numbers")
    if not sum(_number(v, where, f"prior of {k!r}") for k, v in priors.items()) > 0:
        raise _damaged(where, "priors must not all be 0")
    return priors


def _calibration(header, where):
    from speechgmm.calibration import Calibration

    record = header.get("calibration")
    if record is None:
        return None
    try:
        return Calibration.from_header(record)
    except ConfigError as exc:
        raise _damaged(where, str(exc)) from None


def classifier_from_arrays(header, arrays, *, where="model"):
    """The GMMClassifier that :func:`classifier_to_arrays` wrote, validated."""
    from speechgmm.classifier import GMMClassifier
    from speechgmm.options import RELEVANCE_FACTOR

    labels = _labels(header, arrays, where)
    method = header.get("method", "em")
    if method not in ("em", "map"):
        raise _damaged(where, f"unknown method {method!r}")
    top_c = header.get("top_c", 5)
    if isinstance(top_c, bool) or not isinstance(top_c, int) or top_c < 1:
        raise _damaged(where, f"top_c must be a positive integer, not {top_c!r}")
    frames = header.get("frames") or {}
    if not isinstance(frames, dict) or not all(
        not isinstance(n, bool) and isinstance(n, int) and n >= 0 for n in frames.values()
    ):
        raise _damaged(where, "bad frame counts (whole numbers >= 0 per class)")
    D = header.get("n_features")
    clf = GMMClassifier(priors=_priors(header, labels, where), top_c=top_c)
    models = [gmm_from_arrays(arrays, f"c{i}", where=where, n_features=D) for i in range(len(labels))]
    ubm = gmm_from_arrays(arrays, "ubm", where=where, n_features=D) if method == "map" else None
    clf._set_fitted(labels, models, frames, method, ubm)
    clf.calibration_ = _calibration(header, where)
    if method == "map":
        clf.relevance_factor = _number(header.get("relevance_factor", RELEVANCE_FACTOR), where, "relevance_factor")
        clf.adapt = str(header.get("adapt", "m"))
        if any(m.n_components != clf.ubm_.n_components for m in clf.models_):
            raise _damaged(where, "MAP models differ from the UBM in size")
        clf.cohort_ = _cohort(arrays, where, clf.ubm_)
    return clf


def front_end_to_header(feature_config, n_features: Optional[int] = None) -> Optional[dict[str, Any]]:
    """``feature_config`` as header JSON (None for none); a ConfigError when it is no FeatureConfig or gives
    other than the ``n_features`` dimensions of the models (QA: such a file was written and then read back as
    "damaged")."""
    if feature_config is None:
        return None
    from speechgmm.features import FeatureConfig

    if not isinstance(feature_config, FeatureConfig):
        raise ConfigError(f"feature_config must be a FeatureConfig, not {type(feature_config).__name__}")
    if n_features is not None and feature_config.dim != n_features:
        raise ConfigError(
            f"the front end gives {feature_config.dim}-dimensional features but the models have {n_features} "
            "dimensions: save the front end the features were computed with"
        )
    return feature_config.to_dict()


def _version(text) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in str(text).split(".")[:3])
    except ValueError:
        return ()


def _newer(header) -> Optional[str]:
    """The writer's version if it is newer than this speechgmm, else None."""
    v = header.get("speechgmm_version")
    return str(v) if _version(v) > _version(__version__) else None


def front_end_from_header(header, *, where="model"):
    """The FeatureConfig stored in a header (None if there is none)."""
    from speechgmm.features import FeatureConfig

    d = header.get("features")
    if not d:
        return None
    newer = _newer(header)
    if newer and isinstance(d, dict):
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(FeatureConfig)})
        if unknown:
            raise ModelFileError(
                f"{where}: written by a newer speechgmm ({newer}) with front-end option(s) "
                f"{', '.join(unknown)}; upgrade speechgmm to use it"
            )
    try:
        return FeatureConfig.from_dict(d)
    except ConfigError as exc:
        raise _damaged(where, f"front end: {exc}") from None


# -- files -------------------------------------------------------------------------------------


#: The latest SOURCE_DATE_EPOCH a model file's date can hold (9999-12-31T23:59:59Z).
MAX_SOURCE_DATE_EPOCH = 253402300799


def source_date_epoch():
    """``SOURCE_DATE_EPOCH`` (the reproducible-builds convention), which fixes the date written into model
    files so that they are bit-identical: whole seconds since 1970-01-01 UTC, or None when unset or empty.
    ConfigError for any other value."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > MAX_SOURCE_DATE_EPOCH:
        raise ConfigError(
            f"SOURCE_DATE_EPOCH={value!r}: expected whole seconds since 1970-01-01 UTC "
            f"(0 to {MAX_SOURCE_DATE_EPOCH}), or unset it"
        )
    return int(value)


def _write(path, arrays: dict[str, np.ndarray], header: dict[str, Any]) -> Path:
    import datetime  # only when writing (cold start of classify)

    epoch = source_date_epoch()
    now = (
        datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
        if epoch is not None
        else datetime.datetime.now(datetime.timezone.utc)
    )
    header = dict(
        header,
        format=FORMAT,
        format_version=FORMAT_VERSION,
        speechgmm_version=__version__,
        created=header.get("created") or now.isoformat(timespec="seconds"),
    )
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    with atomic_output(path, suffix=".npz") as tmp:
        # like np.savez_compressed, but with fixed zip timestamps so equal models give equal bytes;
        # floating-point parameters are stored uncompressed (deflate saved 2 % of a 70-speaker model
        # and took most of the time of 'speechgmm enroll')
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, arr in dict(header=blob, **arrays).items():
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                floats = np.asarray(arr).dtype.kind == "f"
                info.compress_type = zipfile.ZIP_STORED if floats else zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
    return path


def save_model(path: os.PathLike | str, clf, feature_config=None, info: Optional[dict[str, Any]] = None) -> Path:
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
    fields, arrays = classifier_to_arrays(clf)
    header = dict(info or {}, **fields, features=front_end_to_header(feature_config, fields.get("n_features")))
    return _write(path, arrays, header)


def save_ubm(path: os.PathLike | str, ubm, feature_config=None, info: Optional[dict[str, Any]] = None) -> Path:
    """Write a background :class:`~speechgmm.gmm.DiagGMM` (``kind="ubm"``) atomically."""
    fields, arrays = ubm_to_arrays(ubm)
    header = dict(info or {}, **fields, features=front_end_to_header(feature_config, fields.get("n_features")))
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
        self.path, self.header, self.feature_config = path, header, feature_config
        self.classifier, self.ubm = classifier, ubm
        self.kind = header["kind"]


_NPZ_ERRORS = (
    zipfile.BadZipFile,
    ValueError,
    OSError,
    EOFError,
    KeyError,
    zipfile.LargeZipFile,
    RuntimeError,
    zlib.error,
    NotImplementedError,
    UnicodeDecodeError,
)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a model file; ModelFileError for anything that is not a readable .npz with a header."""
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file")
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
        with np.load(path, allow_pickle=False) as z:
            if "header" not in z.files:
                raise ModelFileError(f"{path}: not a speechgmm model file (no header)")
            return {k: z[k] for k in z.files}
    except _NPZ_ERRORS as exc:
        raise ModelFileError(
            f"{path}: not a speechgmm model file or damaged ({' '.join(str(exc).split())[:120]})"
        ) from None


def _read_header(path: Path, arrays, kind: Optional[str]) -> dict[str, Any]:
    try:
        header = json.loads(arrays["header"].astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise _damaged(path, "unreadable header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a speechgmm model file")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        newer = _newer(header) if isinstance(version, int) and version > FORMAT_VERSION else None
        hint = (
            f"written by a newer speechgmm ({newer}); upgrade"
            if newer
            else f"this speechgmm reads version {FORMAT_VERSION}"
        )
        raise ModelFileError(f"{path}: unsupported model format version {version!r} ({hint})")
    if header.get("kind") not in _READERS:
        raise ModelFileError(f"{path}: unknown model kind {header.get('kind')!r}")
    if kind is not None and header.get("kind") != kind:
        raise ModelFileError(f"{path}: is a {header.get('kind')!r} model, expected a {kind!r} model")
    return header


_READERS = {"classifier": classifier_from_arrays, "ubm": ubm_from_arrays}


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
    path = Path(path)
    arrays = _read_npz(path)
    header = _read_header(path, arrays, kind)
    fc = front_end_from_header(header, where=path)
    try:
        obj = _READERS[header["kind"]](header, arrays, where=path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _damaged(path, exc) from None
    D = header.get("n_features")
    if fc is not None and D is not None and fc.dim != D:
        raise _damaged(path, f"front end gives {fc.dim} dims, models have {D}")
    problem = _open_set_problem(header.get("open_set"))
    if problem:
        raise _damaged(path, f"open-set record: {problem}")
    if header["kind"] == "classifier":
        return ModelFile(path, header, obj, obj.ubm_, fc)
    return ModelFile(path, header, None, obj, fc)
