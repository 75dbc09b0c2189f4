"""``--frames full``: the chosen database frames themselves, filmed by a smooth virtual camera.

The camera aims at the chosen frames' face centre (mean of the rigid points
:data:`sketchsynth.layout.FACE_CENTER_POINTS`) smoothed over time with a
Gaussian, so it follows the face smoothly: at a jump between takes of one
fixed-camera session the face moves and the picture does not, and the aim
glides after it. (Locking the face to one place instead -- mapping every frame
onto the etalon's framing -- moves the whole picture at every jump: its
frame-change p99 was 5.2x the real recording's, against 2.8x for this camera (6 held-out sentences);
see ``benchmarks/bench_frames.py``.) Then each output frame is zoomed about its centre by the smallest factor
at which the output rectangle, pulled back into the source frame, lies inside
it: no unfilled pixel is ever shown. The zoom is smoothed too (a running
maximum, then a Gaussian, then never below the frame's own minimum).
"""

from __future__ import annotations

import numpy as np

from ...layout import FACE_CENTER_POINTS
from .joins import CROSSFADE_FRAMES, apply_affine, compose, join_continuations, smooth_series


CAMERA_SIGMA = 12.0
"""Frames of Gaussian smoothing of the camera's aim (the face centre's path)."""
ZOOM_WINDOW = 25
"""Frames over which the zoom looks ahead and back (running maximum) before smoothing."""
FULL_CROSSFADE = CROSSFADE_FRAMES
"""Frames a join dissolves over in ``full`` mode (the whole picture changes, not only the mouth)."""
EDGE_MARGIN = 1.0
"""Pixels kept away from the source frame's border (bilinear interpolation reads one pixel further)."""


def min_zoom(cam: np.ndarray, src_size, out_size, margin: float = EDGE_MARGIN) -> np.ndarray:
    """Smallest zoom about the output centre at which every output pixel comes from inside the source.

    Parameters
    ----------
    cam : np.ndarray, shape (n, 2, 3)
        Source pixels -> output pixels before zooming.
    src_size, out_size : (width, height) or arrays of shape (n, 2)
    margin : float

    Returns
    -------
    np.ndarray, shape (n,), float64
        >= 1; ``inf`` where the output centre itself maps outside the source.
    """
    from ...database.normalize import invert_matrices

    cam = np.asarray(cam, np.float64)
    n = len(cam)
    src = np.broadcast_to(np.asarray(src_size, np.float64), (n, 2))
    out = np.broadcast_to(np.asarray(out_size, np.float64), (n, 2))
    inv = invert_matrices(cam)
    o = out / 2
    base = apply_affine(inv, o[:, None, :])[:, 0]                     # where the output centre comes from
    corners = np.stack([-o, o * [1, -1], o, o * [-1, 1]], axis=1)     # corner offsets from the centre
    d = corners @ np.swapaxes(inv[:, :, :2], 1, 2)                    # their offsets in the source, at zoom 1
    lo, hi = margin, src - 1 - margin                                 # the source's valid pixel centres
    # base + d * u must lie in [lo, hi] for u = 1/zoom: each bound caps u.
    room_hi = (hi[:, None, :] - base[:, None, :])
    room_lo = (base[:, None, :] - lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(d > 0, room_hi / d, np.where(d < 0, room_lo / -d, np.inf))
    u = np.minimum(cap.min(axis=(1, 2)), 1.0)
    inside = (base >= lo).all(axis=1) & (base <= hi).all(axis=1)
    z = np.where(inside & (u > 0), 1.0 / np.maximum(u, 1e-9), np.inf)
    return np.maximum(z, 1.0)


def camera_matrices(db, rows_out: np.ndarray, src_sizes: np.ndarray, out_size, sigma: float = CAMERA_SIGMA,
                    zoom_window: int = ZOOM_WINDOW) -> np.ndarray:
    """Maps from each chosen database frame's pixels to the output's, camera smoothed and zoomed.

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (>= 0 everywhere; fill gaps first).
    src_sizes : np.ndarray, shape (n_out, 2)
        Width and height of each chosen frame's video.
    out_size : (width, height)
    sigma : float
        Camera smoothing (frames).
    zoom_window : int
        Running-maximum window of the zoom (frames).

    Returns
    -------
    np.ndarray, shape (n_out, 2, 3), float64
    """
    from scipy.ndimage import maximum_filter1d

    rows = np.asarray(rows_out, np.int64)
    kp = np.asarray(db.keypoints_[rows][:, FACE_CENTER_POINTS, :2], np.float64)
    centre = kp.mean(axis=1)
    bad = ~np.isfinite(centre).all(axis=1)
    if bad.all():
        centre[:] = np.asarray(src_sizes[0], np.float64) / 2
    elif bad.any():
        good = np.flatnonzero(~bad)
        for d in range(2):
            centre[bad, d] = np.interp(np.flatnonzero(bad), good, centre[good, d])
    # The camera's aim follows the face's path, smoothed: a cut between takes moves the face, not the
    # whole picture (the recordings share a fixed camera), and the aim drifts back over ~sigma frames.
    aim = smooth_series(centre, sigma)
    home = aim.mean(axis=0)
    cam = np.zeros((len(rows), 2, 3))
    cam[:, 0, 0] = cam[:, 1, 1] = 1.0
    cam[:, :, 2] = home - aim
    ref_size = np.asarray(src_sizes[0], np.float64)
    out = np.asarray(out_size, np.float64)
    k = float(min(out / ref_size))
    fit = np.array([[k, 0, (out[0] - k * ref_size[0]) / 2], [0, k, (out[1] - k * ref_size[1]) / 2]])
    cam = compose(np.broadcast_to(fit, cam.shape), cam)
    z_min = min_zoom(cam, src_sizes, out_size)
    z_min = np.where(np.isfinite(z_min), z_min, 4.0)  # the aim left the frame: zoom far in there
    z = maximum_filter1d(z_min, size=max(1, int(zoom_window)), mode="nearest")
    z = np.maximum(smooth_series(z, zoom_window / 4), z_min * (1 + 1e-6))
    c = out / 2
    zoom = np.zeros((len(z), 2, 3))
    zoom[:, 0, 0] = zoom[:, 1, 1] = z
    zoom[:, :, 2] = c * (1 - z[:, None])
    return compose(zoom, cam)


def full_frame_images(db, rows_out: np.ndarray, out_size, frames: dict, src_sizes: np.ndarray,
                      crossfade: int = FULL_CROSSFADE, report: dict | None = None):
    """Images of ``frames.mp4`` in ``full`` mode (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (-1 are filled from the nearest chosen frame).
    out_size : (width, height)
    frames : dict
        Row -> image (:func:`sketchsynth.outputs.video.fetch_db_frames`), continuation rows included.
    src_sizes : np.ndarray, shape (n_db_rows, 2) or callable
        Video size of every database row.
    crossfade : int
        Frames a join dissolves over.
    report : dict, optional
        Receives ``matrices`` (n_out, 2, 3): database pixels -> output pixels.

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    import cv2

    from ...io.video_fetch import decode_image

    rows = fill_rows(rows_out)
    w, h = (int(v) for v in out_size)
    mats = camera_matrices(db, rows, src_sizes[rows], (w, h))
    prev, wt = join_continuations(db, rows, crossfade)
    if report is not None:
        report["matrices"] = mats
        report["rows"] = rows
    for k, r in enumerate(rows):
        img = cv2.warpAffine(decode_image(frames[int(r)]), mats[k], (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        if prev[k] >= 0 and int(prev[k]) in frames:
            # The old stretch's next frame, through the camera of its last shown frame (same video size,
            # so inside the frame too; it moves on by one recorded frame, close to that camera).
            old = cv2.warpAffine(decode_image(frames[int(prev[k])]), mats[k - 1], (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
            img = cv2.addWeighted(old, float(wt[k]), img, 1.0 - float(wt[k]), 0.0)
        yield img


def fill_rows(rows_out: np.ndarray) -> np.ndarray:
    """Rows with -1 (no match) replaced by the nearest output frame's row; all -1 stays -1."""
    r = np.asarray(rows_out, np.int64).copy()
    ok = np.flatnonzero(r >= 0)
    if len(ok) == 0 or len(ok) == len(r):
        return r
    idx = np.arange(len(r))
    pos = np.clip(np.searchsorted(ok, idx), 0, len(ok) - 1)
    left = ok[np.maximum(pos - 1, 0)]
    right = ok[pos]
    r[r < 0] = np.where(np.abs(idx - left) <= np.abs(right - idx), r[left], r[right])[r < 0]
    return r


class FullRenderer:
    """``--frames full``: the chosen frames themselves under a smooth virtual camera that never shows a border."""

    def __init__(self, **_):
        pass

    def render(self, job):
        from .fetch import db_frame_sizes, fetch_db_frames

        db = job.db
        info: dict = {}
        rows = fill_rows(job.rows_out)
        prev, _ = join_continuations(db, rows, FULL_CROSSFADE)
        frames, _ = fetch_db_frames(db, np.concatenate([rows, prev]))
        sizes = db_frame_sizes(db)
        out_size = tuple(int(v) for v in sizes[rows[0]]) if rows[0] >= 0 else job.size
        info["output_size"] = list(out_size)
        return full_frame_images(db, rows, out_size, frames, sizes, report=info), info
