"""Read 68- or 70-point landmark tracks that other trackers write as arrays.

dlib, face-alignment and most iBUG-68 trackers give points 0-67 of the OpenPose
face layout in the same order; the pupils (68, 69) are then estimated as the
eye-contour centroids and flagged as estimated.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ..errors import InputError
from ..layout import N_LANDMARKS_68, N_POINTS, estimate_pupils
from .openpose import MAX_CONFIDENCE, MAX_COORDINATE

ESTIMATED_PUPIL_CONFIDENCE = 0.5
"""Pupils estimated from the eye contour get this fraction of the contour's confidence."""

_NPZ_KEYS = ("keypoints", "landmarks", "points", "face_keypoints_2d", "arr_0")


def to_openpose70(points: np.ndarray, path=None) -> tuple[np.ndarray, bool]:
    """Complete a 68- or 70-point track to the OpenPose face layout.

    Parameters
    ----------
    points : np.ndarray, shape (n_frames, 68|70, 2|3)
        x, y (and confidence). A frame that is all NaN means "no face"; a NaN
        point is a point the tracker missed (confidence 0).
    path : path, optional
        For error messages.

    Returns
    -------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        Missing points and faceless frames hold zeros, as OpenPose writes them.
    pupils_estimated : bool
        True when points 68 and 69 were computed from the eye contours.
    """
    pts = np.asarray(points)
    if pts.ndim != 3 or pts.shape[1] not in (N_LANDMARKS_68, N_POINTS) or pts.shape[2] not in (2, 3):
        raise InputError(f"landmark array has shape {pts.shape}, expected (n_frames, 68 or 70, 2 or 3)", path)
    if pts.dtype.kind not in "fiu":
        raise InputError(f"landmark array has dtype {pts.dtype}, expected numbers", path)
    if pts.shape[1:] == (N_POINTS, 3) and np.isfinite(pts).all():
        # The common case (our own arrays, OpenPose converted): checks only, one float32 copy.
        if np.abs(pts[..., :2]).max(initial=0) > MAX_COORDINATE:
            raise InputError(f"landmark array has a coordinate beyond {MAX_COORDINATE:g} px", path)
        if pts[..., 2].min(initial=0) < 0:
            raise InputError("landmark array has a negative confidence", path)
        if pts[..., 2].max(initial=0) > MAX_CONFIDENCE:
            raise InputError(f"landmark array has a confidence beyond {MAX_CONFIDENCE:g} (expected 0-1)", path)
        return np.array(pts, dtype=np.float32), False
    pts = pts.astype(np.float64)
    if np.isinf(pts).any():
        raise InputError("landmark array holds infinite values", path)
    finite = np.isfinite(pts).all(axis=-1)
    if np.abs(np.where(np.isfinite(pts[..., :2]), pts[..., :2], 0)).max(initial=0) > MAX_COORDINATE:
        raise InputError(f"landmark array has a coordinate beyond {MAX_COORDINATE:g} px", path)
    out = np.zeros((len(pts), N_POINTS, 3), dtype=np.float64)
    n = pts.shape[1]
    out[:, :n, :2] = np.where(finite[..., None], pts[..., :2], 0)
    if pts.shape[2] == 3:
        conf = np.where(finite, pts[..., 2], 0)
        if conf.min(initial=0) < 0:
            raise InputError("landmark array has a negative confidence", path)
        if conf.max(initial=0) > MAX_CONFIDENCE:
            raise InputError(f"landmark array has a confidence beyond {MAX_CONFIDENCE:g} (expected 0-1)", path)
        out[:, :n, 2] = conf
    else:
        out[:, :n, 2] = finite.astype(np.float64)
    estimated = n == N_LANDMARKS_68
    if estimated:
        pupils = estimate_pupils(out[:, :N_LANDMARKS_68])
        from ..layout import LEFT_EYE, RIGHT_EYE

        for k, eye in enumerate((RIGHT_EYE, LEFT_EYE)):
            seen = (out[:, eye, 2] > 0).all(axis=1)
            out[:, 68 + k, :2] = np.where(seen[:, None], pupils[:, k], 0)
            out[:, 68 + k, 2] = np.where(seen, ESTIMATED_PUPIL_CONFIDENCE * out[:, eye, 2].mean(axis=1), 0)
    return out.astype(np.float32), estimated


def open_landmark_file(path: str | os.PathLike):
    """Open a ``.npy`` / ``.npz`` landmark track without converting it (``.npy`` is memory-mapped).

    Returns
    -------
    points : np.ndarray, shape (n_frames, 68|70, 2|3)
        Possibly a read-only memory map; convert slices with :func:`to_openpose70`.
    frames : np.ndarray, shape (n_frames,), int64, or None
    fps : float or None
    """
    path = os.fspath(path)
    frames = fps = None
    try:
        if path.lower().endswith(".npz"):
            from .npy import read_npz

            with zipfile.ZipFile(path) as z:
                keys = [n[:-4] if n.endswith(".npy") else n for n in z.namelist()]
            tracks = [k for k in keys if k not in ("frames", "fps")]
            key = next((k for k in _NPZ_KEYS if k in keys), tracks[0] if len(tracks) == 1 else None)
            if key is None:
                raise InputError(f"npz holds arrays {keys}; name the track 'keypoints' or 'landmarks'", path)
            z = read_npz(path, names={key, "frames", "fps"})
            arr, frames, fps = z[key], z.get("frames"), z.get("fps")
        else:
            from .npy import load_npy

            arr = load_npy(path, mmap_mode="r")
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot read landmark array ({str(e).splitlines()[0][:200]})", path) from None
    if arr.ndim == 0 or len(arr) == 0:
        raise InputError("landmark array has no frames", path)
    if arr.ndim != 3 or arr.shape[1] not in (N_LANDMARKS_68, N_POINTS) or arr.shape[2] not in (2, 3):
        raise InputError(f"landmark array has shape {arr.shape}, expected (n_frames, 68 or 70, 2 or 3)", path)
    if frames is not None:
        frames = np.asarray(frames)
        if frames.shape != (len(arr),) or frames.dtype.kind not in "iu" or (np.diff(frames) <= 0).any():
            raise InputError(f"'frames' must be {len(arr)} increasing whole numbers", path)
        frames = frames.astype(np.int64)
    if fps is not None:
        if fps.size != 1 or fps.dtype.kind not in "iuf":
            raise InputError(f"'fps' must be one real number, not {fps.dtype} of shape {fps.shape}", path)
        fps = float(fps.reshape(-1)[0])
        from .framerate import check_frame_rate

        fps = check_frame_rate(fps, "'fps'", path)
    return arr, frames, fps
