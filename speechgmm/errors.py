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


class ConfigError(SpeechGMMError, ValueError):
    """An invalid option or configuration value (also a ValueError, so that ``except ValueError`` catches
    a bad argument to the Python API)."""


class SpeechGMMWarning(UserWarning):
    """Input that was used, but not as given (e.g. upsampled audio, a channel picked from a
    cancelling stereo mix).  The command line prints it as one line."""


# -- one place for each recurring message --------------------------------------------------


def bad_files_message(problems) -> str:
    """One line summarising per-file problems: the count, the first three, and how many more."""
    problems = list(problems)
    n = len(problems)
    more = f" (and {n - 3} more)" if n > 3 else ""
    return f"{n} bad audio file{'s' if n != 1 else ''}: " + "; ".join(problems[:3]) + more


def raise_bad_files(problems) -> None:
    """Raise one :class:`AudioError` naming the bad files, if there are any."""
    if problems:
        raise AudioError(bad_files_message(problems))


def too_few_frames(
    n_frames: int, n_components: int, what: str = "", flag: str = "--components"
) -> InsufficientDataError:
    """The error for fitting ``n_components`` Gaussians to ``n_frames`` frames (at least 2 per component).

    ``what`` names the data, e.g. ``"class 'yes' (12 files)"`` or ``"the UBM data"``; ``flag`` is the
    option that sets the count (``train --method map`` sizes its UBM with ``--ubm-components``).
    """
    subject = f"{what} has {n_frames} frames" if what else f"{n_frames} frames"
    return InsufficientDataError(
        f"{subject}, too few for {n_components} components (2 frames per component at the least, "
        f"{2 * n_components}; 10 or more fit well): use {flag} {max(1, n_frames // 10)} or add data"
    )


def need_two_classes(labels, where: str = "") -> InsufficientDataError:
    """The error for training a classifier on fewer than two classes (``where``: the manifest and column)."""
    prefix = f"{where}: " if where else ""
    return InsufficientDataError(
        f"{prefix}need at least 2 classes to train a classifier, got {sorted(map(str, labels))}"
    )
