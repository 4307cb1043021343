"""speechgmm: speech classification with diagonal-covariance Gaussian mixture models.

MFCC front end -> one diagonal GMM per class trained by EM -> an utterance goes to
the class whose GMM gives it the highest total log-likelihood.

Heavy submodules are imported lazily so that ``import speechgmm`` and the command
line start fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    "DiagGMM": "speechgmm.gmm",
    "GMMStats": "speechgmm.gmm",
    "GMMClassifier": "speechgmm.classifier",
    "build_source": "speechgmm.sources",
    "InMemorySource": "speechgmm.sources",
    "ArkSource": "speechgmm.sources",
    "FeatureConfig": "speechgmm.features",
    "mfcc": "speechgmm.features",
    "extract_file": "speechgmm.features",
    "load_audio": "speechgmm.audio",
    "segment_file": "speechgmm.segment",
    "SpeechGMMError": "speechgmm.errors",
    "AudioError": "speechgmm.errors",
    "ManifestError": "speechgmm.errors",
    "ModelFileError": "speechgmm.errors",
    "InsufficientDataError": "speechgmm.errors",
    "ConfigError": "speechgmm.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'speechgmm' has no attribute {name!r}")


def __dir__():
    return __all__
