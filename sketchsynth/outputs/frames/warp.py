"""--frames warp: each chosen frame warped so that its face sits where the input's head is."""

from __future__ import annotations

import numpy as np

from ..render import BLUE, WHITE, draw_sketch
from .fetch import fetch_db_frames, fill_matrices


# ---------------------------------------------------------------------- frames.mp4
def warp_matrices(db_transforms: np.ndarray, input_matrices: np.ndarray) -> np.ndarray:
    """Maps from database frame pixels to input frame pixels.

    Parameters
    ----------
    db_transforms : np.ndarray, shape (n, 2, 3)
        Database frames' image -> normalized maps (``db.transforms_[rows]``).
    input_matrices : np.ndarray, shape (n, 2, 3)
        Input frames' image -> normalized maps (``MatchResult.matrices``).

    Returns
    -------
    np.ndarray, shape (n, 2, 3), float64
        ``x_input = A[:, :2] @ x_db + A[:, 2]``; NaN where either map is.
    """
    from ...database.normalize import invert_matrices

    inv = invert_matrices(input_matrices)
    a = np.asarray(db_transforms, dtype=np.float64)
    lin = inv[:, :, :2] @ a[:, :, :2]
    off = (inv[:, :, :2] @ a[:, :, 2:])[..., 0] + inv[:, :, 2]
    return np.concatenate([lin, off[..., None]], axis=2)


def db_frame_images(db, rows_out: np.ndarray, input_matrices: np.ndarray, size: tuple[int, int],
                    matched_kp: np.ndarray | None = None, input_index: np.ndarray | None = None):
    """Images of ``frames.mp4``, one per output frame (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (-1: black frame).
    input_matrices : np.ndarray, shape (n_out, 2, 3)
        The input's image -> normalized map at each output frame.
    size : (width, height)
        Input frame size.
    matched_kp : np.ndarray, shape (n_frames, 70, 3), optional
        Matched keypoints in input pixels, drawn for rows of recordings without video.
    input_index : np.ndarray, shape (n_out,), optional
        Input frame of each output frame (for ``matched_kp``).

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    import cv2

    from ...io.video_fetch import decode_image

    w, h = size
    frames, _ = fetch_db_frames(db, rows_out)
    mats = fill_matrices(input_matrices)
    ok = rows_out >= 0
    warps = np.full((len(rows_out), 2, 3), np.nan)
    if ok.any():
        warps[ok] = warp_matrices(db.transforms_[rows_out[ok]], mats[ok])
    for k, r in enumerate(rows_out):
        img = np.zeros((h, w, 3), np.uint8)
        if r >= 0 and int(r) in frames and np.isfinite(warps[k]).all():
            cv2.warpAffine(decode_image(frames[int(r)]), warps[k], (w, h), dst=img, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        elif r >= 0 and matched_kp is not None and input_index is not None:
            img[:] = WHITE
            draw_sketch(img, matched_kp[input_index[k]], BLUE, 2)
        yield img


class WarpRenderer:
    """``--frames warp``: each chosen frame warped so that its face sits where the input's head is."""

    def __init__(self, **_):
        pass

    def render(self, job):
        return db_frame_images(job.db, job.rows_out, job.matrices, job.size, job.matched_kp, job.index), {}
