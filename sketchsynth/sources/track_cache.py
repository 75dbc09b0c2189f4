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
    """Key of a video's cached track: size, mtime and first MiB of the file, and the tracker's parameters."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    h.update(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "params": params},
                        sort_keys=True).encode())
    return f"{Path(path).stem[:40]}-{h.hexdigest()[:24]}"


def cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def read_cache(key: str) -> TrackedVideo | None:
    f = cache_file(key)
    if not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            out = TrackedVideo(z["keypoints"].astype(np.float32), z["time_s"], z["n_faces"], z["detected"],
                               json.loads(str(z["info"])), from_cache=True,
                               det_score=z["det_score"] if "det_score" in z.files else None)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged entry is re-tracked and rewritten
    n = len(out.time_s)
    if out.keypoints.shape != (n, N_POINTS, 3) or out.n_faces.shape != (n,) or out.detected.shape != (n,):
        return None
    if out.det_score is not None and out.det_score.shape != (n,):
        out.det_score = None
    return out


def write_cache(key: str, tv: TrackedVideo):
    f = cache_file(key)
    try:
        from ..io.storage import exclusive_temp

        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = exclusive_temp(f.parent, f.name)
        with open(tmp, "wb") as fh:
            extra = {} if tv.det_score is None else {"det_score": np.asarray(tv.det_score, np.float32)}
            np.savez_compressed(fh, keypoints=tv.keypoints, time_s=tv.time_s, n_faces=tv.n_faces,
                                detected=tv.detected, info=np.array(json.dumps(tv.info)), **extra)
        os.replace(tmp, f)
    except OSError:
        pass  # the cache is an optimisation: an unwritable cache folder only costs re-tracking
