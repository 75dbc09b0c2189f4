"""The exceptions sketchsynth raises for problems a user can fix.

Every error the CLI reports as one line derives from :class:`SketchSynthError`.
Messages name the file (or option) and the fix, e.g.
``henan/00417_keypoints.json: face_keypoints_2d has 204 values, expected 210 (70 points x x, y, c)``.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class SketchSynthError(Exception):
    """Base class of every error meant for the user (CLI exit code 2)."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        # Undecodable bytes of a file name (surrogate escapes) are shown as backslash escapes, so the
        # message can always be printed and written to JSON.
        self.path = None if path is None else printable(os.fspath(path))
        self.message = printable(message)
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


def printable(text) -> str:
    """``text`` (str, bytes or path) with undecodable file-name bytes as backslash escapes (lossless for display)."""
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class InputError(SketchSynthError):
    """A recording, keypoint file, video or audio input that cannot be used."""


class DatabaseError(SketchSynthError):
    """A frame database that is missing, locked, corrupt, or built with other settings."""


class ParameterError(SketchSynthError):
    """An option value that makes no sense (negative K, lambda < 0, unknown metric...)."""


class DependencyError(SketchSynthError):
    """An optional dependency that is not installed; the message names the extra."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or raise :class:`DependencyError` naming the extra.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"av"``.
    extra : str
        The pip extra that provides it, e.g. ``"video"``.
    purpose : str
        What needs it, for the message (``"video output"``).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise DependencyError(
            f"{purpose} needs the '{module}' package: {install_hint(extra)}"
        ) from e


def install_hint(extra: str) -> str:
    """How to install an extra, from a release and from a checkout."""
    return f"pip install 'sketchsynth[{extra}]' (from a checkout: pip install -e \".[{extra}]\")"
