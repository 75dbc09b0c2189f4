"""Decide which frames of a track can be used, and fill short gaps of missing points.

A frame is unusable when nobody was found, when a normalization anchor has a
low confidence (anchors are never interpolated: the whole frame's geometry
hangs on them), or when other points are missing over a gap longer than
``max_gap`` frames. Unusable frames stay in the frame table with their reason.
"""

from __future__ import annotations

import numpy as np

from .layout import N_POINTS

NO_PERSON = "no_person"
ANCHOR_LOW_CONFIDENCE = "anchor_low_confidence"
MISSING_POINTS = "missing_points"
DEGENERATE_ANCHORS = "degenerate_anchors"


def interpolate_gaps(keypoints: np.ndarray, frames: np.ndarray, max_gap: int,
                     skip_points=()) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate points missing for at most ``max_gap`` consecutive frames.

    A gap is filled only between two frames where the point was seen, and only
    when the frame numbers in between are contiguous (no hole in the recording).

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        Confidence 0 marks a missing point.
    frames : np.ndarray, shape (n_frames,), int
    max_gap : int
        Longest run of missing frames to fill (0 disables filling).
    skip_points : sequence of int
        Points never filled (the normalization anchors).

    Returns
    -------
    filled : np.ndarray, shape (n_frames, 70, 3), float32
        Copy with gaps filled; a filled point gets the lower confidence of
        the two frames it was interpolated from.
    was_filled : np.ndarray, shape (n_frames, 70), bool
    """
    out = np.array(keypoints, dtype=np.float32, copy=True)
    was_filled = np.zeros(out.shape[:2], dtype=bool)
    if max_gap <= 0 or len(out) < 3:
        return out, was_filled
    present = out[..., 2] > 0
    frames = np.asarray(frames, dtype=np.int64)
    skip = set(int(p) for p in skip_points)
    for p in np.flatnonzero((~present).any(axis=0) & present.any(axis=0)):
        if p in skip:
            continue
        seen = np.flatnonzero(present[:, p])
        miss = np.flatnonzero(~present[:, p])
        pos = np.searchsorted(seen, miss)
        inner = (pos > 0) & (pos < len(seen))
        miss, pos = miss[inner], pos[inner]
        prev, nxt = seen[pos - 1], seen[pos]
        ok = (nxt - prev - 1 <= max_gap) & (frames[nxt] - frames[prev] == nxt - prev)
        miss, prev, nxt = miss[ok], prev[ok], nxt[ok]
        if miss.size == 0:
            continue
        a = ((frames[miss] - frames[prev]) / (frames[nxt] - frames[prev]))[:, None]
        out[miss, p, :2] = (1 - a) * out[prev, p, :2] + a * out[nxt, p, :2]
        out[miss, p, 2] = np.minimum(out[prev, p, 2], out[nxt, p, 2])
        was_filled[miss, p] = True
    return out, was_filled


def assess_frames(keypoints: np.ndarray, n_people: np.ndarray, frames: np.ndarray, anchors,
                  anchor_min_confidence: float, max_gap: int):
    """Usability of every frame of one track, after filling short gaps.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
    n_people : np.ndarray, shape (n_frames,)
    frames : np.ndarray, shape (n_frames,)
    anchors : sequence of int
        Normalization anchor points.
    anchor_min_confidence : float
        Frames whose anchors are below this confidence are unusable.
    max_gap : int
        See :func:`interpolate_gaps`.

    Returns
    -------
    clean : np.ndarray, shape (n_frames, 70, 3), float32
    usable : np.ndarray, shape (n_frames,), bool
    reason : np.ndarray, shape (n_frames,), object
        ``""`` for usable frames, else one of the reason constants.
    n_filled : np.ndarray, shape (n_frames,), int16
        Points filled by interpolation in each frame.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    assert kp.ndim == 3 and kp.shape[1:] == (N_POINTS, 3)
    anchors = list(anchors)
    no_person = (np.asarray(n_people) == 0) | ~(kp[..., 2] > 0).any(axis=1)
    low_anchor = ~no_person & (kp[:, anchors, 2] < anchor_min_confidence).any(axis=1)
    clean, filled = interpolate_gaps(kp, frames, max_gap, skip_points=anchors)
    missing = ~no_person & ~low_anchor & ~(clean[..., 2] > 0).all(axis=1)
    reason = np.full(len(kp), "", dtype=object)
    reason[missing] = MISSING_POINTS
    reason[low_anchor] = ANCHOR_LOW_CONFIDENCE
    reason[no_person] = NO_PERSON
    usable = reason == ""
    return clean, usable, reason, filled.sum(axis=1).astype(np.int16)
