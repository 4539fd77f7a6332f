"""One exception hierarchy; every message is written for the person at the terminal.

A ``TrustgenError`` means trustgen could not do what was asked at all. Findings about an
image (a tampered manifest, no watermark) are evidence, never exceptions.
"""

from __future__ import annotations


class TrustgenError(Exception):
    """Base class: ``str(err)`` is one line fit to show a user."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(TrustgenError):
    """A file or argument the user gave cannot be used (missing, unreadable, wrong kind)."""


class OutputExistsError(InputError):
    """The output path exists and overwriting was not asked for."""


class ConfigError(TrustgenError):
    """Configuration (identity, trust settings, model folder) is missing or inconsistent."""


class PolicyError(ConfigError):
    """A policy file is malformed; the message names the file, line and field."""


class SigningError(TrustgenError):
    """Content credentials could not be created (refused certificate, unsupported format)."""


class WatermarkError(TrustgenError):
    """An image cannot carry or be read for a watermark (too small, unsupported mode)."""


class DependencyError(TrustgenError):
    """An optional dependency needed for this operation is not installed."""


def missing_extra(err: ImportError, what: str, extra: str = "generate") -> DependencyError:
    """The one-line error for ``what`` when the slim install lacks a library of an extra
    (torch and diffusers come with ``trustgen[generate]``; verification never needs them)."""
    return DependencyError(f"{what} needs `pip install 'trustgen[{extra}]'` "
                           f"({err.name or err} is not installed)")


def one_line(err: BaseException) -> str:
    """An exception's text folded onto one line (c2pa's messages span several)."""
    return " ".join(str(err).split())


def file_error(err: Exception, path, what: str = "reading") -> TrustgenError:
    """Any failure on one file as that file's one-line error: trustgen's own as it is (named
    for the file), anything else from a reader or decoder as "``what`` crashed" with its type.

    A batch, a worker or a command over many files turns each file's failure into its row
    with this and goes on; the type in the message keeps an unexpected one visible as a bug.
    """
    if isinstance(err, TrustgenError):
        return err if err.path or path is None else type(err)(err.message, path=path)
    why = ": ".join(filter(None, (type(err).__name__, one_line(err))))
    return InputError(f"{what} crashed: {why}", path=None if path is None else str(path))
