"""The track cache: a video's face track kept under the cache folder, keyed on the video and the tracker's settings."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..layout import N_POINTS


@dataclass
class TrackedVideo:
    """What :meth:`FaceTracker.track` returns.

    Attributes
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        Image pixels and confidence; zeros in frames without a face.
    time_s : np.ndarray, shape (n_frames,), float64
        Presentation time of each frame (from its timestamp).
    n_faces : np.ndarray, shape (n_frames,), int16
        Faces the detector saw (1 on followed frames, 0 without a face).
    detected : np.ndarray, shape (n_frames,), bool
        Frames where the detector ran and found the face (others were followed).
    info : dict
        ``probe`` results and the tracker's parameters.
    from_cache : bool
    """

    keypoints: np.ndarray
    time_s: np.ndarray
    n_faces: np.ndarray
    detected: np.ndarray
    info: dict
    from_cache: bool = False
    det_score: np.ndarray | None = None
    """(n_frames,) float32: dlib's detector score where it found the face, NaN on followed frames; None for
    tracks cached before scores were kept (the landmarks are the same)."""


def cache_dir() -> Path:
    """Folder of cached tracks: ``$SKETCHSYNTH_CACHE/tracks`` (default ``~/.cache/sketchsynth/tracks``)."""
    root = os.environ.get("SKETCHSYNTH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sketchsynth")
    return Path(root) / "tracks"


def video_meta(info) -> dict:
    return {"path": os.path.abspath(info.path), "fps": info.fps, "n_frames": info.n_frames, "width": info.width,
            "height": info.height, "duration": info.duration, "start_time": info.start_time,
            "has_audio": info.has_audio, "audio_sample_rate": info.audio_sample_rate,
            "variable_frame_rate": info.variable_frame_rate, "rotation": info.rotation, "codec": info.codec}


# ---------------------------------------------------------------------- cache
def cache_key(path: str, params: dict) -> str:
    """Key of a video's cached track: the sha256 of the video's whole content and the tracker's parameters.

    The content, not its size and time: a video edited in place keeps both (and its first MiB) and must still
    be tracked again. Hashing runs at disk speed, far below the tracking it saves.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(4 << 20), b""):
            h.update(block)
    h.update(json.dumps({"params": params}, sort_keys=True).encode())
    return f"{Path(path).stem[:40]}-{h.hexdigest()[:32]}"


def cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


MAX_ENTRY_BYTES = 1 << 30
"""Largest cache member read back (an entry is the cache folder's, which anyone with access may change)."""


def read_cache(key: str, n_frames: int | None = None) -> TrackedVideo | None:
    """The cached track under ``key``, or None when there is none or it does not hold up.

    Nothing in the cache folder is trusted: an entry must name the key it was written under (a copy of another
    video's entry does not), be well formed (shapes, types, increasing times) and, with ``n_frames`` (the
    video's frame count as probed now), hold about that many frames. A rejected entry is tracked again and
    rewritten.
    """
    from ..io.npy import read_npz

    f = cache_file(key)
    if not f.is_file():
        return None
    try:
        z = read_npz(f, max_bytes=MAX_ENTRY_BYTES, kinds="biufU")
        info = json.loads(str(z["info"].astype(str))) if z["info"].dtype.kind == "U" else None
        out = TrackedVideo(z["keypoints"].astype(np.float32), z["time_s"].astype(np.float64), z["n_faces"],
                           z["detected"], info, from_cache=True, det_score=z.get("det_score"))
        stored_key = str(z["key"]) if "key" in z and z["key"].dtype.kind == "U" else None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # a damaged entry is re-tracked and rewritten
    return out if stored_key == key and _entry_problem(out, n_frames) is None else None


def _entry_problem(tv: TrackedVideo, n_frames: int | None) -> str | None:
    n = len(tv.time_s)
    if not isinstance(tv.info, dict) or not isinstance(tv.info.get("video"), dict):
        return "info"
    if tv.keypoints.shape != (n, N_POINTS, 3) or tv.n_faces.shape != (n,) or tv.detected.shape != (n,):
        return "shapes"
    if tv.n_faces.dtype.kind not in "iu" or tv.detected.dtype != bool or not np.isfinite(tv.keypoints).all():
        return "types"
    if n and (not np.isfinite(tv.time_s).all() or (np.diff(tv.time_s) <= 0).any()):
        return "times"
    if n_frames and not 0.9 * n_frames - 2 <= n <= 1.1 * n_frames + 2:
        return f"{n} frames for a video of {n_frames}"
    if tv.det_score is not None and tv.det_score.shape != (n,):
        tv.det_score = None
    return None


def write_cache(key: str, tv: TrackedVideo):
    f = cache_file(key)
    try:
        from ..io.storage import exclusive_temp

        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = exclusive_temp(f.parent, f.name)
        try:
            with open(tmp, "wb") as fh:
                extra = {} if tv.det_score is None else {"det_score": np.asarray(tv.det_score, np.float32)}
                np.savez_compressed(fh, keypoints=tv.keypoints, time_s=tv.time_s, n_faces=tv.n_faces,
                                    detected=tv.detected, info=np.array(json.dumps(tv.info)), key=np.array(key),
                                    **extra)
            os.replace(tmp, f)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError:
        pass  # the cache is an optimisation: an unwritable cache folder only costs re-tracking
