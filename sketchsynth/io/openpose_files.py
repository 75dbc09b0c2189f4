"""Finding an OpenPose folder's frame files and their frame numbers, in frame order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import InputError


_FRAME_RE = re.compile(r"(\d+)(?:_keypoints)?\.json$", re.IGNORECASE)


def frame_number(name: str) -> int | None:
    """Frame number in an OpenPose file name (``sa1_000_keypoints.json`` -> 0), or None."""
    m = _FRAME_RE.search(name)
    return int(m.group(1)) if m else None


def scan_folder(folder: str | os.PathLike) -> list[str]:
    """Names of the files in ``folder`` (not sorted); InputError when it cannot be listed."""
    try:
        return [e.name for e in os.scandir(folder) if e.is_file()]
    except OSError as e:
        raise InputError(f"cannot list folder ({e.strerror})", folder) from None


def list_frame_files(folder: str | os.PathLike, as_array: bool = False, listed: list[str] | None = None,
                     use_kernel: bool | None = None) -> tuple[list[str] | np.ndarray, np.ndarray]:
    """OpenPose JSON files of one recording, sorted by frame number (not lexically).

    Files named ``*_keypoints.json`` are preferred; if there are none, every
    ``*.json`` with a number in its name is taken.

    Parameters
    ----------
    folder : path
    as_array : bool
        Return the names as a NumPy ``S`` array (file-system bytes, each item
        ending in a NUL byte) instead of a list of str: what a build keeps.
    listed : list of str, optional
        :func:`scan_folder`'s listing of ``folder``, when already made.
    use_kernel : bool, optional
        Parse the names with the numba kernel; default: when it is compiled, or
        the folder is large enough to pay for compiling it (a job of many folders
        decides for all of them at once: :func:`sketchsynth._jit.worth_it`).

    Returns
    -------
    names : list of str, or np.ndarray of shape (n_files,), dtype ``S``
    frames : np.ndarray, shape (n_files,), int64

    Raises
    ------
    InputError
        No JSON files, a name without a frame number, or a frame number twice.
    """
    from . import _names

    folder = Path(folder)
    listed = scan_folder(folder) if listed is None else listed
    if use_kernel is None:
        from .._jit import worth_it

        use_kernel = worth_it(_names.names_kernel, len(listed))
    if use_kernel:
        buf, start, length, kind, frames = _names.parse_names(listed)
    else:  # a short listing: the regular expression costs less than compiling the parser
        buf = None
        kind = np.full(len(listed), _names.NOT_JSON, np.int8)
        frames = np.full(len(listed), _names.ASK_PYTHON, np.int64)
    for i in np.flatnonzero(frames == _names.ASK_PYTHON):  # non-ASCII names: as the regular expression says
        lower = listed[i].lower()
        kind[i] = (_names.KEYPOINTS_JSON if lower.endswith("_keypoints.json") else
                   _names.JSON if lower.endswith(".json") else _names.NOT_JSON)
        number = frame_number(listed[i])
        if number is not None and number >= 2**63:
            raise InputError(f"{listed[i]}: frame number {number} is too large (more than 63 bits)",
                             folder)
        frames[i] = _names.NO_NUMBER if number is None else number
    if not (kind != _names.NOT_JSON).any():
        raise InputError("no OpenPose JSON files (*_keypoints.json) in this folder", folder)
    keyed = kind == _names.KEYPOINTS_JSON
    take = np.flatnonzero(keyed if keyed.any() else kind != _names.NOT_JSON)
    missing = take[frames[take] == _names.NO_NUMBER]
    if missing.size:
        raise InputError(f"{listed[missing[0]]}: no frame number in the file name "
                         "(expected e.g. name_000000000012_keypoints.json)", folder)
    take = take[np.argsort(frames[take], kind="stable")]
    frames = frames[take]
    dup = np.flatnonzero(np.diff(frames) == 0)
    if dup.size:
        raise InputError(f"{listed[take[dup[0]]]} and {listed[take[dup[0] + 1]]} carry the same frame number "
                         f"{frames[dup[0]]}", folder)
    if as_array:
        if buf is None:
            encoded = [os.fsencode(listed[i]) for i in take]
            return np.array(encoded, dtype=f"S{max(map(len, encoded), default=0) + 1}"), frames
        return _names.gather(buf, start[take], length[take]), frames
    return [listed[i] for i in take], frames
