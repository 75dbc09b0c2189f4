"""Chosen frames of a video: by index or by time, kept raw or JPEG-encoded in memory."""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError, ParameterError
from .video import iter_frames


def frame_indices_at(frame_times: np.ndarray, times_s) -> np.ndarray:
    """Index of the frame shown at each time (nearest presentation time).

    Parameters
    ----------
    frame_times : np.ndarray, shape (n_frames,)
        Increasing presentation times (``VideoInfo.frame_times``).
    times_s : array_like, shape (n,)

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    ft = np.asarray(frame_times, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    pos = np.clip(np.searchsorted(ft, t), 1, max(len(ft) - 1, 1))
    lo = np.clip(pos - 1, 0, len(ft) - 1)
    hi = np.clip(pos, 0, len(ft) - 1)
    pick = np.where(np.abs(ft[hi] - t) < np.abs(t - ft[lo]), hi, lo)
    return pick.astype(np.int64)


def read_frames(path: str | os.PathLike, indices, fmt: str = "bgr24", encode: str | None = None,
                threads: int = 0) -> list:
    """Chosen frames of a video, decoded in one forward pass.

    Parameters
    ----------
    path : path
    indices : array_like of int, shape (n,)
        Frame indices (display order, as :func:`iter_frames` numbers them), in
        any order, repeats allowed.
    fmt : {"bgr24", "rgb24", "gray"}
    encode : {None, ".jpg", ".png"}
        Keep each frame compressed (OpenCV ``imencode``) instead of as an array:
        many full frames then fit in memory.
    threads : int
        Decoder threads (see :func:`iter_frames`).

    Returns
    -------
    list, length n
        ``np.ndarray`` of shape (height, width, 3) (or the encoded ``bytes``)
        per requested index; repeated indices share one object.

    Raises
    ------
    InputError
        An index beyond the video's last frame, or an unreadable file.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return []
    if idx.min() < 0:
        raise ParameterError(f"frame index {int(idx.min())} is negative")
    wanted = np.unique(idx)
    wanted_set = set(int(i) for i in wanted)
    got: dict[int, object] = {}
    keep = _keeper(encode)
    for i, _, img in iter_frames(path, fmt, threads=threads, start=int(wanted[0]), stop=int(wanted[-1]) + 1):
        if i in wanted_set:
            got[i] = keep(img)
    missing = [i for i in wanted_set if i not in got]
    if missing:
        raise InputError(f"frame {min(missing)} is beyond the video's end ({len(got)} of the requested frames "
                         "exist); was the file replaced after it was tracked?", path)
    return [got[int(i)] for i in idx]


def fetch_frames(path: str | os.PathLike, times_s, fmt: str = "bgr24", encode: str | None = None) -> list:
    """The frames shown at the given presentation times (nearest frame), in one forward pass.

    Used to fetch recorded database frames back by their stored ``time_s``.
    Frames are matched by the timestamps of the decoded frames themselves (as
    :func:`iter_frames` reports them), so a decoder that drops a damaged frame
    cannot shift the answer by one.

    Parameters
    ----------
    path : path
    times_s : array_like, shape (n,)
        Seconds on the file's own timeline.
    fmt, encode :
        See :func:`read_frames`.

    Returns
    -------
    list, length n
        One frame (array, or bytes when ``encode`` is set) per time; repeated
        times share one object.
    """
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if t.size == 0:
        return []
    if not np.isfinite(t).all():
        raise ParameterError("frame times must be finite numbers")
    order = np.argsort(t, kind="stable")
    keep = _keeper(encode)
    out: list = [None] * len(t)
    k = 0  # next request, in time order
    prev = None  # (time, image) of the previous decoded frame
    for _, ft, img in iter_frames(path, fmt):
        if prev is not None:
            mid = (prev[0] + ft) / 2  # requests before the midpoint are nearer the previous frame
            item = None
            while k < len(order) and t[order[k]] < mid:
                item = item if item is not None else keep(prev[1])
                out[order[k]] = item
                k += 1
        if k == len(order):
            break
        prev = (ft, img)
    if k < len(order):  # at or after the last frame
        item = keep(prev[1])
        for j in order[k:]:
            out[j] = item
    return out


def _keeper(encode):
    if encode is None:
        return lambda img: img
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if encode == ".jpg" else []
    return lambda img: cv2.imencode(encode, img, params)[1].tobytes()


def decode_image(item) -> np.ndarray:
    """An image from :func:`read_frames`: arrays pass through, encoded bytes are decoded (BGR)."""
    if isinstance(item, np.ndarray):
        return item
    import cv2

    return cv2.imdecode(np.frombuffer(item, np.uint8), cv2.IMREAD_COLOR)
