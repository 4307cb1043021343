"""Exception types raised by speechgmm.

Every error that a user can cause (bad audio, bad manifest, bad model file, too
little data) is a :class:`SpeechGMMError`.  The command line turns these into a
single line on stderr and a non-zero exit status; it never shows a traceback for
them.  Messages name the file concerned and the problem, e.g.
``"data/a.wav: audio is all silence (peak -92.1 dBFS)"``.
"""


class SpeechGMMError(Exception):
    """Base class of every error caused by user input or data."""


class AudioError(SpeechGMMError):
    """An audio file is missing, unreadable, empty, silent, too short or invalid."""


class ManifestError(SpeechGMMError):
    """A manifest / Kaldi data dir is malformed (missing columns, unknown paths, duplicates)."""


class ModelFileError(SpeechGMMError):
    """A model file is missing, damaged, foreign or of an unsupported version."""


class InsufficientDataError(SpeechGMMError):
    """Too little data to estimate the requested model (e.g. fewer frames than needed for K components)."""


class ConfigError(SpeechGMMError):
    """An invalid option or configuration value."""
