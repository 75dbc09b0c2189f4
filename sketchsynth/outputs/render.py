"""Draw face sketches: keypoints joined along OpenPose's render chains (OpenCV, antialiased)."""

from __future__ import annotations

import cv2
import numpy as np

from ..layout import CHAINS, PUPILS


BLACK = (0, 0, 0)
BLUE = (255, 0, 0)  # BGR: OpenCV's order
WHITE = (255, 255, 255)


def fit_box(frames: np.ndarray, size: tuple[int, int], margin: float = 0.08):
    """Scale and offset that fit all given frames' points into an image.

    Parameters
    ----------
    frames : np.ndarray, shape (n_frames, 70, 2|3) or (70, 2|3)
        NaN points are ignored.
    size : (width, height)
    margin : float
        Fraction of the image left free on each side.

    Returns
    -------
    scale : float
    offset : np.ndarray, shape (2,)
        ``pixel = point * scale + offset``.
    """
    xy = np.asarray(frames, dtype=np.float64)[..., :2].reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    w, h = size
    if len(xy) == 0:
        return 1.0, np.zeros(2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    scale = float(min(w * (1 - 2 * margin) / span[0], h * (1 - 2 * margin) / span[1]))
    offset = np.array([w, h]) / 2 - (lo + hi) / 2 * scale
    return scale, offset


def face_extent(keypoints: np.ndarray) -> np.ndarray | None:
    """The bounding box (x0, y0, x1, y1) float64 of a face's seen points: ``keypoints`` (70, 3) in pixels (seen:
    finite, confidence > 0); None with fewer than 3 seen."""
    kp = np.asarray(keypoints, np.float64)
    xy = kp[:, :2]
    seen = np.isfinite(xy).all(axis=1) & (kp[:, 2] > 0)
    if seen.sum() < 3:
        return None
    return np.concatenate([xy[seen].min(axis=0), xy[seen].max(axis=0)])


def draw_sketch(canvas: np.ndarray, keypoints: np.ndarray, color=BLACK, thickness: int = 2,
                scale: float = 1.0, offset=(0.0, 0.0), pupils: bool = True) -> np.ndarray:
    """Draw one frame's sketch onto ``canvas`` in place.

    Parameters
    ----------
    canvas : np.ndarray, shape (height, width, 3), uint8
        BGR image.
    keypoints : np.ndarray, shape (70, 2|3)
        Points with confidence 0 or NaN coordinates break the chain there.
    color : tuple of 3 int
        BGR.
    thickness : int
    scale, offset :
        ``pixel = point * scale + offset`` (see :func:`fit_box`).
    pupils : bool
        Draw points 68, 69 as dots.

    Returns
    -------
    np.ndarray
        ``canvas``.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    xy = kp[:, :2] * scale + np.asarray(offset, dtype=np.float64)
    seen = np.isfinite(xy).all(axis=1)
    if kp.shape[1] > 2:
        seen &= kp[:, 2] > 0
    shift = 4  # sub-pixel precision for antialiased lines
    pts = np.round(np.where(seen[:, None], xy, 0) * (1 << shift)).astype(np.int32)
    for idx, closed in CHAINS:
        chain = list(idx) + ([idx[0]] if closed else [])
        run: list[np.ndarray] = []
        for p in chain:
            if seen[p]:
                run.append(pts[p])
                continue
            if len(run) > 1:
                cv2.polylines(canvas, [np.array(run)], False, color, thickness, cv2.LINE_AA, shift)
            run = []
        if len(run) > 1:
            cv2.polylines(canvas, [np.array(run)], False, color, thickness, cv2.LINE_AA, shift)
    if pupils:
        for p in PUPILS:
            if seen[p]:
                cv2.circle(canvas, tuple(int(v) for v in pts[p]), max(1, thickness) << shift, color, -1,
                           cv2.LINE_AA, shift)
    return canvas


def render_sketch(keypoints: np.ndarray, size=(512, 512), color=BLACK, background=WHITE, thickness: int = 2,
                  fit: bool = True, overlay: np.ndarray | None = None, overlay_color=BLUE) -> np.ndarray:
    """Render one frame (optionally with a second one overlaid) to a new image.

    Parameters
    ----------
    keypoints : np.ndarray, shape (70, 2|3)
    size : (width, height)
    color, background : BGR tuples
    thickness : int
    fit : bool
        Scale the face(s) to fill the image; otherwise draw at pixel coordinates.
    overlay : np.ndarray, shape (70, 2|3), optional
        A second frame drawn in ``overlay_color`` (e.g. the match, in blue).

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8
        BGR image.
    """
    w, h = size
    canvas = np.empty((h, w, 3), dtype=np.uint8)
    canvas[:] = background
    frames = [keypoints] + ([overlay] if overlay is not None else [])
    scale, offset = fit_box(np.stack([np.asarray(f)[:, :2] for f in frames]), size) if fit else (1.0, (0, 0))
    draw_sketch(canvas, keypoints, color, thickness, scale, offset)
    if overlay is not None:
        draw_sketch(canvas, overlay, overlay_color, thickness, scale, offset)
    return canvas
