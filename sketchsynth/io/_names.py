"""File-name tables of OpenPose recordings: frame numbers in numba, names as one byte array.

Listing a folder of 10k frame files costs little in system calls; the time went
into a regular expression, two string methods and an encoding per name. Here
the names are joined into one byte buffer (one encode), a kernel finds each
name's kind and frame number, and the sorted names stay a NumPy ``S`` array
(no per-name objects) that the reading kernel and the frame table take as is.
:func:`sketchsynth.io.openpose.frame_number` (the regular expression) is the
reference, and still decides for names with non-ASCII bytes.
"""

from __future__ import annotations

import os

import numba
import numpy as np

NOT_JSON, JSON, KEYPOINTS_JSON = 0, 1, 2
NO_NUMBER = -1
ASK_PYTHON = -2
"""Frame number left to the regular expression: a non-ASCII name (``\\d`` and
``str.lower`` see more than ASCII there) or a number too long for int64."""

_JSON = np.frombuffer(b".json", dtype=np.uint8)
_KEYPOINTS = np.frombuffer(b"_keypoints", dtype=np.uint8)


@numba.njit(cache=True, inline="always")
def _ends_with(buf, start, end, suffix):
    """buf[start:end] ends with the lower-case ASCII ``suffix``, ignoring case."""
    k = suffix.shape[0]
    if end - start < k:
        return False
    for q in range(k):
        c = buf[end - k + q]
        if 65 <= c <= 90:  # A-Z
            c += 32
        if c != suffix[q]:
            return False
    return True


@numba.njit(cache=True)
def names_kernel(buf, n, json_suffix, keypoints_suffix):
    """Kind and frame number of ``n`` NUL-terminated names laid end to end in ``buf``.

    Returns start (n,) int64 and length (n,) int64 of each name in ``buf``,
    kind (n,) int8 (NOT_JSON, JSON, KEYPOINTS_JSON) and frame (n,) int64 (the
    number of ``(\\d+)(?:_keypoints)?\\.json$``: NO_NUMBER, or ASK_PYTHON).
    """
    start = np.empty(n, dtype=np.int64)
    length = np.empty(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.int8)
    frame = np.full(n, NO_NUMBER, dtype=np.int64)
    pos = 0
    for i in range(n):
        a = pos
        ascii_only = True
        while buf[pos] != 0:
            if buf[pos] >= 128:
                ascii_only = False
            pos += 1
        b = pos
        pos += 1
        start[i] = a
        length[i] = b - a
        if not ascii_only:
            frame[i] = ASK_PYTHON
            continue
        if not _ends_with(buf, a, b, json_suffix):
            continue
        end = b - json_suffix.shape[0]
        kind[i] = JSON
        if _ends_with(buf, a, end, keypoints_suffix):
            kind[i] = KEYPOINTS_JSON
            if end - keypoints_suffix.shape[0] > a and 48 <= buf[end - keypoints_suffix.shape[0] - 1] <= 57:
                end -= keypoints_suffix.shape[0]  # the number sits before "_keypoints"
        # The regular expression's match: the run of digits that ends at ``end``.
        d = end
        while d > a and 48 <= buf[d - 1] <= 57:
            d -= 1
        if d == end:
            continue
        if end - d > 18:
            frame[i] = ASK_PYTHON
            continue
        value = 0
        for q in range(d, end):
            value = value * 10 + (buf[q] - 48)
        frame[i] = value
    return start, length, kind, frame


@numba.njit(cache=True)
def _gather(buf, start, length, table):
    for i in range(start.shape[0]):
        for q in range(length[i]):
            table[i, q] = buf[start[i] + q]


def parse_names(names: list[str]):
    """Kind and frame number of file names, and the names as one byte buffer.

    Parameters
    ----------
    names : list of str
        As ``os.scandir`` gives them (encoded here as ``os.fsencode`` would).

    Returns
    -------
    buf : np.ndarray, shape (n_bytes,), uint8
    start, length : np.ndarray, shape (n,), int64
        Where each name lies in ``buf``.
    kind : np.ndarray, shape (n,), int8
        NOT_JSON, JSON or KEYPOINTS_JSON (suffix ``.json`` / ``_keypoints.json``, any case).
    frame : np.ndarray, shape (n,), int64
        Frame number, NO_NUMBER, or ASK_PYTHON (kind is then not set either).
    """
    buf = np.frombuffer(os.fsencode("\0".join(names) + "\0"), dtype=np.uint8)
    start, length, kind, frame = names_kernel(buf, len(names), _JSON, _KEYPOINTS)
    return buf, start, length, kind, frame


def gather(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Names ``buf[start:start + length]`` as an ``S`` array whose items all end in a NUL byte.

    Returns
    -------
    np.ndarray, shape (n,), dtype ``S<longest + 1>``
    """
    width = int(length.max(initial=0)) + 1
    table = np.zeros((len(start), width), dtype=np.uint8)
    _gather(buf, start, length, table)
    return table.view(f"S{width}").reshape(len(start))


def to_arrow(names: np.ndarray):
    """An ``S`` array of file names as an Arrow string array, without a Python object per name.

    Names with non-ASCII bytes are decoded one by one, bytes that are not
    UTF-8 shown as backslash escapes (``\\xff``).
    """
    import pyarrow as pa

    width = names.dtype.itemsize
    table = np.ascontiguousarray(names).view(np.uint8).reshape(len(names), width)
    used = table != 0  # a file name holds no NUL byte: the rest is padding
    data = table[used]
    if (data >= 128).any():
        # undecodable bytes as backslash escapes: an Arrow string must be valid UTF-8
        from .arrow import arrow_strings

        return arrow_strings([bytes(n).decode("utf-8", "backslashreplace") for n in names])
    offsets = np.zeros(len(names) + 1, dtype=np.int32)
    np.cumsum(used.sum(axis=1), out=offsets[1:])
    return pa.StringArray.from_buffers(len(names), pa.py_buffer(offsets), pa.py_buffer(data))
