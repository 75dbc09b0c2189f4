"""Where the chosen frames are drawn: in the input's image pixels, with the seams optionally blended away."""

from __future__ import annotations

import numpy as np

from ..database.links import usable_links
from ..database.normalize import Normalizer
from ..errors import ParameterError
from ..selection.joins import path_joins


def matched_in_input_coords(db, result, rows: np.ndarray | None = None,
                            seam_blend: int = 0) -> np.ndarray:
    """The chosen database frames drawn where the input's face is.

    Parameters
    ----------
    db : FrameDatabase
    result : MatchResult
        Its ``rows``, ``matrices`` and ``is_jump``.
    rows : np.ndarray, shape (n_frames,), optional
        Database rows to map (default ``result.rows``); -1 gives NaN.
    seam_blend : int
        Blend every jump's offset away over this many frames
        (:func:`blend_seams`); 0 draws the frames as stored.

    Returns
    -------
    np.ndarray, shape (n_frames, 70, 3), float32
        x, y in input image pixels (inverse of the input frame's normalization
        applied to the database frame's normalized points) and the database
        frame's confidence; NaN rows where nothing was chosen.
    """
    rows = result.rows if rows is None else rows
    out = np.full((len(rows), 70, 3), np.nan, dtype=np.float32)
    ok = rows >= 0
    if ok.any():
        if seam_blend:
            if rows is result.rows and result.is_jump is not None:
                is_jump = result.is_jump  # the decoder's, which knows the input's segments
            else:
                seg = np.ones(len(rows), bool)
                seg[1:] = rows[:-1] < 0
                _, is_jump = path_joins(db, rows, seg)
            norm = blend_seams(db, rows, is_jump, seam_blend)[ok]
        else:
            norm = db.normalized_[rows[ok]]
        pts = Normalizer.inverse_transform(norm, result.matrices[ok])
        out[ok, :, :2] = pts
        out[ok, :, 2] = db.keypoints_[rows[ok], :, 2]
    return out


def blend_seams(db, rows: np.ndarray, is_jump: np.ndarray, frames: int) -> np.ndarray:
    """The chosen frames with every jump's offset blended away over ``frames`` frames.

    At a jump at t the output would leap from where the previous choice's
    recording was going (its successor, or itself at a recording's end) to the
    new frame. The difference (plus what is left of an earlier blend) is added
    to the new stream and faded out with a smoothstep over ``frames`` frames,
    so positions stay continuous and the new stream's motion comes through at
    once (offset inertialization).

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_frames,), int
        Chosen rows, -1 for unusable input frames (never blended across).
    is_jump : np.ndarray, shape (n_frames,), bool
    frames : int
        Blend length (0 returns the frames unchanged).

    Returns
    -------
    np.ndarray, shape (n_frames, 70, 2), float64
        Normalized points; NaN where ``rows`` is -1.
    """
    if int(frames) != frames or frames < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {frames}")
    rows = np.asarray(rows, dtype=np.int64)
    ok = rows >= 0
    pts = np.full((len(rows), db.normalized_.shape[1], 2), np.nan)
    pts[ok] = db.normalized_[rows[ok]]
    if frames == 0:
        return pts
    succ, _ = usable_links(db)
    # Only the first len(rows) + 1 steps of the fade can be used: a blend longer than the input costs no
    # more memory than one as long as it (--seam-blend 1000000000 once allocated until killed).
    s = np.arange(min(int(frames), len(rows)) + 1) / float(frames)
    fade = 1.0 - s * s * (3.0 - 2.0 * s)  # 1 at the jump, 0 after ``frames`` frames
    out = pts.copy()
    offset = np.zeros(pts.shape[1:])
    last = None
    # end of each frame's usable stretch (first unusable index after it)
    stop = np.searchsorted(np.flatnonzero(~ok), np.arange(len(rows)), side="right")
    ends = np.append(np.flatnonzero(~ok), len(rows))[stop]
    for t in np.flatnonzero(np.asarray(is_jump, bool) & ok):
        a = rows[t - 1]
        cont = succ[a] if succ[a] >= 0 else a
        left = offset * fade[t - last] if last is not None and t - last <= frames and ok[last:t].all() else 0.0
        offset = db.normalized_[cont] + left - pts[t]
        last = t
        hi = min(t + frames, ends[t])
        out[t:hi] = pts[t:hi] + offset[None] * fade[:hi - t, None, None]
    return out
