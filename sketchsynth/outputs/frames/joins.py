"""Helpers shared by the real-frame video modes (:mod:`sketchsynth.outputs.frames.full`,
:mod:`sketchsynth.outputs.frames.composite`).

- affine maps between database frames and output pixels, composed;
- similarity parameters of an affine map (for smoothing a camera over time);
- cross-fades at joins: for the first frames after a jump, the frame the
  previous recorded stretch would have shown next (its recorded successor),
  so a jump dissolves over a few frames instead of cutting.
"""

from __future__ import annotations

import numpy as np

from ...database.normalize import apply_matrices

CROSSFADE_FRAMES = 3
"""Frames over which a join is cross-faded (the old stretch fades out over them)."""


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The map ``a`` after ``b`` (2x3 each, or stacks of them)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    lin = a[..., :2] @ b[..., :2]
    off = (a[..., :2] @ b[..., 2:])[..., 0] + a[..., 2]
    return np.concatenate([lin, off[..., None]], axis=-1)


def similarity_params(m: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The similarity nearest to affine maps, as (x, y, log scale, angle) of where ``centre`` goes.

    Parameters
    ----------
    m : np.ndarray, shape (n, 2, 3)
    centre : np.ndarray, shape (n, 2)
        A point of each source frame (its face centre).

    Returns
    -------
    np.ndarray, shape (n, 4), float64
        Image of ``centre``, log of the uniform scale, rotation in radians.
    """
    m = np.asarray(m, np.float64)
    lin = m[:, :, :2]
    a = (lin[:, 0, 0] + lin[:, 1, 1]) / 2
    b = (lin[:, 1, 0] - lin[:, 0, 1]) / 2
    scale = np.hypot(a, b)
    angle = np.arctan2(b, a)
    dst = apply_matrices(np.asarray(centre, np.float64)[:, None, :], m)[:, 0]
    return np.column_stack([dst, np.log(np.maximum(scale, 1e-9)), angle])


def smooth_series(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (offline, centred; edges reflected)."""
    from scipy.ndimage import gaussian_filter1d

    x = np.asarray(x, np.float64)
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    return gaussian_filter1d(x, sigma, axis=0, mode="nearest")


def join_continuations(db, rows_out: np.ndarray, n: int = CROSSFADE_FRAMES):
    """What each output frame cross-fades with after a jump.

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (-1: none).
    n : int
        Cross-fade length in frames (0: hard cuts).

    Returns
    -------
    prev_rows : np.ndarray, shape (n_out,), int64
        The previous stretch's continuation shown under the new frame (-1: none).
    weights : np.ndarray, shape (n_out,), float64
        Weight of ``prev_rows`` (1 -> only the old stretch; falls to 0 over ``n`` frames).
    """
    from ..timeline import recording_bounds

    rows = np.asarray(rows_out, np.int64)
    prev = np.full(len(rows), -1, np.int64)
    w = np.zeros(len(rows))
    if n <= 0 or len(rows) < 2:
        return prev, w
    bounds = recording_bounds(db)
    ok_t = np.isfinite(db.transforms_).all(axis=(1, 2))
    for k in range(1, len(rows)):
        a, b = rows[k - 1], rows[k]
        if a < 0 or b < 0 or b == a or b == a + 1 and b < bounds[a, 1]:
            continue
        for j in range(n):  # a jump at k: frames k..k+n-1 fade from a's continuation
            kk, cont = k + j, a + 1 + j
            if kk >= len(rows) or rows[kk] < 0 or cont >= bounds[a, 1] or not ok_t[cont]:
                break
            prev[kk] = cont  # a later jump inside this fade overwrites it
            w[kk] = 1.0 - (j + 1) / (n + 1)
    return prev, w
