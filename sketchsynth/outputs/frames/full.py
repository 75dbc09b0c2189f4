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

A jump between takes is never shown as two faces overlaid (:func:`join_plan`): when the faces land within
:data:`MORPH_MAX` inter-ocular distances of each other it is a short warp-morph (both frames warped by one
full-frame triangle mesh onto the same interpolated face, then mixed: :func:`morph_frame`), else a cut.
"""

from __future__ import annotations

import numpy as np

from ...database.normalize import apply_matrices, invert_matrices
from ...layout import EYE_OUTER_CORNERS, FACE_CENTER_POINTS, N_LANDMARKS_68
from .joins import CROSSFADE_FRAMES, compose, smooth_series


CAMERA_SIGMA = 12.0
"""Frames of Gaussian smoothing of the camera's aim (the face centre's path)."""
ZOOM_WINDOW = 25
"""Frames over which the zoom looks ahead and back (running maximum) before smoothing."""
FULL_CROSSFADE = CROSSFADE_FRAMES
"""Frames a join morphs over in ``full`` mode."""
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
    cam = np.asarray(cam, np.float64)
    n = len(cam)
    src = np.broadcast_to(np.asarray(src_size, np.float64), (n, 2))
    out = np.broadcast_to(np.asarray(out_size, np.float64), (n, 2))
    inv = invert_matrices(cam)
    o = out / 2
    base = apply_matrices(o[:, None, :], inv)[:, 0]                   # where the output centre comes from
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


JOIN_STYLES = ("morph", "cut")
MORPH_MAX = 0.35
"""Largest jump (mean keypoint displacement in output pixels, inter-ocular distances) that is morphed; a larger
one is cut (a morph across a big head move would bend the whole picture)."""


def join_plan(db, rows: np.ndarray, mats: np.ndarray, frames: int = FULL_CROSSFADE, style: str = "morph",
              morph_max: float = MORPH_MAX) -> dict:
    """How every jump between takes is shown: a cut, or a warp-morph from the old stretch's continuation.

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_out,), int64
        Filled rows (>= 0).
    mats : np.ndarray, shape (n_out, 2, 3)
        Camera maps (database pixels -> output pixels).
    frames : int
        Morph length.
    style : {"morph", "cut"}

    Returns
    -------
    dict
        ``prev`` (n_out,) the continuation row morphed from (-1: none), ``prev_mat`` (n_out, 2, 3) its camera,
        ``weight`` (n_out,) its share, ``cuts`` and ``morphs`` (counts).
    """
    from ..timeline import recording_bounds

    n = len(rows)
    prev = np.full(n, -1, np.int64)
    prev_mat = np.full((n, 2, 3), np.nan)
    wt = np.zeros(n)
    bounds = recording_bounds(db)
    kp = np.asarray(db.keypoints_, np.float64)[:, :N_LANDMARKS_68, :2]
    cuts = morphs = 0
    for k in range(1, n):
        a, b = rows[k - 1], rows[k]
        if b == a or (b == a + 1 and b < bounds[a, 1]):
            continue
        cont = a + 1 if a + 1 < bounds[a, 1] else a
        old, new = apply_matrices(kp[cont], mats[k - 1]), apply_matrices(kp[b], mats[k])
        size = np.linalg.norm(new[EYE_OUTER_CORNERS[1]] - new[EYE_OUTER_CORNERS[0]])
        d = float(np.linalg.norm(old - new, axis=1).mean() / max(size, 1e-9))
        if style != "morph" or frames <= 0 or not d <= morph_max:
            cuts += 1
            continue
        morphs += 1
        for j in range(frames):
            kk, c = k + j, min(cont + j, bounds[a, 1] - 1)
            if kk >= n:
                break
            prev[kk], prev_mat[kk] = c, mats[k - 1]
            wt[kk] = 1.0 - (j + 1) / (frames + 1)
    return {"prev": prev, "prev_mat": prev_mat, "weight": wt, "cuts": cuts, "morphs": morphs}


def border_points(w: int, h: int, n: int = 4) -> np.ndarray:
    """Points along the output rectangle's border, corners included, shape (4 n, 2)."""
    t = np.linspace(0, 1, n, endpoint=False)
    return np.concatenate([np.stack([t * (w - 1), np.zeros(n)], 1), np.stack([np.full(n, w - 1.0), t * (h - 1)], 1),
                           np.stack([(1 - t) * (w - 1), np.full(n, h - 1.0)], 1),
                           np.stack([np.zeros(n), (1 - t) * (h - 1)], 1)])


def morph_frame(img, kp, mat, old, size, interp: int = 1) -> np.ndarray:
    """One output frame of a warp-morph: both frames warped onto the same interpolated face, then dissolved.

    Parameters
    ----------
    img : np.ndarray, shape (h, w, 3), uint8
        The new frame (its own pixels); ``kp`` (70, 2) its keypoints, ``mat`` (2, 3) its camera.
    old : (img, kp, mat, weight)
        The old stretch's continuation and its share.
    size : (width, height)

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8
        The faces coincide, so the dissolve changes texture, never shows two faces.
    """
    import cv2
    from scipy.spatial import Delaunay

    from .mesh import mesh_remap

    w, h = size
    oimg, okp, omat, ow = old
    pts = slice(0, N_LANDMARKS_68)
    target = ow * apply_matrices(okp[pts, :2], omat) + (1 - ow) * apply_matrices(kp[pts, :2], mat)
    border = border_points(w, h)
    dst = np.concatenate([target, border])
    tri = Delaunay(dst).simplices
    box = (0, 0, w, h)
    a, _ = mesh_remap(img, dst, np.concatenate([kp[pts, :2], apply_matrices(border, invert_matrices(mat[None])[0])]),
                      tri, box, interp)
    b, _ = mesh_remap(oimg, dst, np.concatenate([okp[pts, :2],
                                                 apply_matrices(border, invert_matrices(omat[None])[0])]),
                      tri, box, interp)
    return cv2.addWeighted(b, float(ow), a, 1.0 - float(ow), 0.0)


def full_frame_images(db, rows_out: np.ndarray, out_size, frames: dict, src_sizes: np.ndarray,
                      crossfade: int = FULL_CROSSFADE, report: dict | None = None, style: str = "morph"):
    """Images of ``frames.mp4`` in ``full`` mode (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (-1 are filled from the nearest chosen frame).
    out_size : (width, height)
    frames : dict
        Row -> image (:func:`sketchsynth.outputs.frames.fetch.fetch_db_frames`), continuation rows included
        (:func:`needed_rows`).
    src_sizes : np.ndarray, shape (n_db_rows, 2)
        Video size of every database row.
    crossfade : int
        Frames a join morphs over.
    report : dict, optional
        Receives ``matrices`` (n_out, 2, 3): database pixels -> output pixels; ``rows``; ``joins`` (counts of
        cuts and morphs) and ``join_plan``.
    style : {"morph", "cut"}
        A jump is a warp-morph when the faces are close enough (:data:`MORPH_MAX`), else a cut; or always a cut.

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    import cv2

    from ...io.video_fetch import decode_image

    rows = fill_rows(rows_out)
    w, h = (int(v) for v in out_size)
    mats = camera_matrices(db, rows, src_sizes[rows], (w, h))
    plan = join_plan(db, rows, mats, crossfade, style)
    if report is not None:
        report["matrices"] = mats
        report["rows"] = rows
        report["joins"] = {"style": style, "cuts": plan["cuts"], "morphs": plan["morphs"]}
        report["join_plan"] = plan
    kp = np.asarray(db.keypoints_, np.float64)
    for k, r in enumerate(rows):
        img = decode_image(frames[int(r)])
        c = int(plan["prev"][k])
        if c >= 0 and c in frames:
            yield morph_frame(img, kp[r], mats[k], (decode_image(frames[c]), kp[c], plan["prev_mat"][k],
                                                   plan["weight"][k]), (w, h))
        else:
            yield cv2.warpAffine(img, mats[k], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def needed_rows(db, rows: np.ndarray, crossfade: int = FULL_CROSSFADE) -> np.ndarray:
    """Rows whose images full mode may need: each row and its next ``crossfade`` + 1 recorded frames."""
    from ..timeline import recording_bounds

    rows = np.asarray(rows, np.int64)
    end = recording_bounds(db)[rows, 1] - 1
    return np.unique(np.concatenate([np.minimum(rows + j, end) for j in range(crossfade + 2)]))


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
    """``--frames full``: the chosen frames themselves under a smooth virtual camera that never shows a border;
    a jump between takes is a short warp-morph or a cut, never two faces overlaid.

    Parameters
    ----------
    joins : {"morph", "cut"}
    """

    def __init__(self, joins: str = "morph", **_):
        self.joins = joins

    def render(self, job):
        from .fetch import db_frame_sizes, fetch_db_frames

        db = job.db
        info: dict = {}
        rows = fill_rows(job.rows_out)
        frames, _ = fetch_db_frames(db, needed_rows(db, rows[rows >= 0]) if (rows >= 0).any() else rows)
        sizes = db_frame_sizes(db)
        out_size = tuple(int(v) for v in sizes[rows[0]]) if rows[0] >= 0 else job.size
        info["output_size"] = list(out_size)
        return full_frame_images(db, rows, out_size, frames, sizes, report=info, style=self.joins), info
