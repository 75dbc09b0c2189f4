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


WRITE_ERRNOS = {"ENOSPC": "the disk is full: free some space and run again",
                "EDQUOT": "the disk quota is used up: free some space and run again",
                "EFBIG": "the file-size limit was reached (ulimit -f, or the file system's own): raise it or "
                         "write elsewhere",
                "EACCES": "permission denied: choose a folder you can write to",
                "EPERM": "the operation is not permitted here: choose a folder you can write to",
                "EROFS": "the file system is read-only: choose a folder on a writable one"}
"""What a write's ``OSError`` means for the user, by errno name."""


def write_failure(e: OSError) -> str | None:
    """One phrase saying what a failed write's ``e`` means and what to do, or None when its errno is not one
    :data:`WRITE_ERRNOS` knows."""
    import errno

    code = getattr(e, "errno", None)
    if code is None and "requested and" in str(e) and "written" in str(e):
        # numpy's tofile (np.save) reports a short write without an errno: the disk or the limit ran out
        return ("the write was cut short: the disk is full or the file-size limit was reached; free some space "
                "(or raise the limit) and run again")
    return WRITE_ERRNOS.get(errno.errorcode.get(code or -1, ""))
