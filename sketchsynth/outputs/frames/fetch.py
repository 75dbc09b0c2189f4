"""The recorded database frames a real-frame video needs, decoded once within a memory budget."""

from __future__ import annotations

import os

import numpy as np


FRAME_MEMORY_BUDGET = 256 << 20
"""Fetched database frames are kept as arrays up to this many bytes, JPEG-compressed beyond."""


def fill_matrices(matrices: np.ndarray) -> np.ndarray:
    """Input maps with NaN frames (no usable face) taken from the nearest frame that has one.

    Parameters
    ----------
    matrices : np.ndarray, shape (n, 2, 3)

    Returns
    -------
    np.ndarray, shape (n, 2, 3), float64
        Unchanged when no frame has a map.
    """
    m = np.asarray(matrices, dtype=np.float64).copy()
    ok = np.isfinite(m).all(axis=(1, 2))
    if ok.all() or not ok.any():
        return m
    good = np.flatnonzero(ok)
    pos = np.clip(np.searchsorted(good, np.arange(len(m))), 1, len(good) - 1) if len(good) > 1 else \
        np.zeros(len(m), np.int64)
    lo, hi = good[np.maximum(pos - 1, 0)], good[pos]
    nearest = np.where(np.abs(np.arange(len(m)) - lo) <= np.abs(hi - np.arange(len(m))), lo, hi)
    m[~ok] = m[nearest[~ok]]
    return m


def db_videos(db) -> dict:
    """Recording name -> (video path or None, exists)."""
    out = {}
    for r in db.recordings_:
        v = r.get("video")
        out[r["name"]] = v if v and os.path.isfile(v) else None
    return out


def video_problem(db, name: str) -> str | None:
    """Why recording ``name``'s recorded video cannot give its frames now, or None when it can.

    The manifest names the video by path only: it may have been moved, damaged, or replaced by another video
    (another size, fewer frames) since build-db, and its frames would then be the wrong ones, or out of range.
    """
    from ...errors import InputError
    from ...io.video import probe

    r = next((r for r in db.recordings_ if r["name"] == name), None)
    v = r.get("video") if r else None
    if not v:
        return "was not recorded (the database was built from keypoints)"
    if not os.path.isfile(v):
        return "is not found (moved since build-db?)"
    try:
        info = probe(v)
    except InputError as e:
        return f"cannot be read ({str(e).splitlines()[0][:80]})"
    extra = r.get("extra") or {}
    want = (extra.get("width"), extra.get("height"))
    if all(isinstance(x, int) for x in want) and (info.width, info.height) != want:
        return (f"is now a {info.width}x{info.height} video, not the {want[0]}x{want[1]} one the database was "
                "built from")
    if isinstance(r.get("n_frames"), int) and info.n_frames < r["n_frames"]:
        return f"now holds {info.n_frames} frames, fewer than the {r['n_frames']} the database was built from"
    return None


def fetch_db_frames(db, rows: np.ndarray, budget: int = FRAME_MEMORY_BUDGET) -> tuple[dict, list]:
    """Recorded images of database rows, one decoding pass per recording video.

    Parameters
    ----------
    db : FrameDatabase
    rows : array of int
        Rows wanted (repeats and -1 ignored).
    budget : int
        Bytes of frames to keep as arrays; beyond it frames are kept as JPEG.

    Returns
    -------
    frames : dict
        Row -> image (array or JPEG bytes; see :func:`sketchsynth.io.video.decode_image`).
    missing : list of str
        Recordings whose video is gone (their rows are not in ``frames``).
    """
    from ...io.video_fetch import fetch_frames

    rows = np.unique(np.asarray(rows, dtype=np.int64))
    rows = rows[rows >= 0]
    rec = db.table_["recording"]
    times = np.asarray(db.table_["time_s"], np.float64)
    videos = db_videos(db)
    sizes = {r["name"]: r.get("extra", {}) for r in db.recordings_}
    need = sum(int(sizes.get(rec[r], {}).get("width", 640)) * int(sizes.get(rec[r], {}).get("height", 480)) * 3
               for r in rows if videos.get(rec[r]))
    encode = ".jpg" if need > budget else None
    frames, missing = {}, []
    for name in dict.fromkeys(rec[rows]):
        mine = rows[rec[rows] == name]
        path = videos.get(name)
        if path is None:
            if any(r["name"] == name and r.get("video") for r in db.recordings_):
                missing.append(name)
            continue
        for r, img in zip(mine, fetch_frames(path, times[mine], encode=encode)):
            frames[int(r)] = img
    return frames, missing


def db_frame_sizes(db) -> np.ndarray:
    """(width, height) of every database row's recording video, shape (n_frames, 2), int64 (0: unknown)."""
    rec = db.table_["recording"]
    size = {r["name"]: (int((r.get("extra") or {}).get("width") or 0), int((r.get("extra") or {}).get("height") or 0))
            for r in db.recordings_}
    names, inv = np.unique(rec, return_inverse=True)
    table = np.array([size.get(n, (0, 0)) for n in names], np.int64).reshape(-1, 2)
    return table[inv]
