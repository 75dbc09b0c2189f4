"""A face drives: the input's keypoints normalized like the database's frames, every point weighted."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .target import Target


def prepare_input(db, keypoints: np.ndarray):
    """Normalize input frames and give each its point weights.

    Parameters
    ----------
    db : FrameDatabase
    keypoints : np.ndarray, shape (n_frames, 70, 3)

    Returns
    -------
    normalized : (n_frames, 70, 2) float32; matrices : (n_frames, 2, 3);
    usable : (n_frames,) bool; reason : (n_frames,) object; qweights : (n_frames, 70) float64
    """
    from ..database import quality

    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim != 3 or kp.shape[1:] != (70, 3):
        raise InputError(f"input keypoints have shape {kp.shape}, expected (n_frames, 70, 3)")
    anchors = list(db.normalizer_.anchors)
    conf = kp[..., 2]
    no_face = ~(conf > 0).any(axis=1)
    low_anchor = ~no_face & (conf[:, anchors] < db.anchor_min_confidence).any(axis=1)
    normalized, mats, ok = db.normalize(kp)
    # Of the fit gate only low confidence: a turned input head is still a pose to match (in-the-wild
    # inputs are often three-quarter views); turned heads are kept out of the database instead.
    reason = quality.fit_gate(kp, max_yaw=np.inf)[0]
    reason[~ok] = "degenerate_anchors"
    reason[low_anchor] = quality.ANCHOR_LOW_CONFIDENCE
    reason[no_face] = quality.NO_PERSON
    usable = reason == ""
    qweights = np.where(conf > 0, db.weights_[None].astype(np.float64), 0.0)
    # A usable frame still needs some weight to compare on.
    usable &= qweights.sum(axis=1) > 0
    normalized = np.where(usable[:, None, None], normalized, np.nan).astype(np.float32)
    # Missing points carry zero weight; zero their coordinates so kernels never see NaN.
    normalized = np.where((qweights > 0)[..., None] | ~usable[:, None, None], normalized, 0).astype(np.float32)
    return normalized, mats, usable, reason, qweights


def keypoint_target(db, keypoints: np.ndarray, frames=None, fps: float = float("nan")) -> Target:
    """The target of input keypoints, shape (T, 70, 3) in image pixels; ``frames`` their numbers (default 0..T-1)."""
    import time

    t0 = time.perf_counter()
    normalized, mats, usable, reason, qweights = prepare_input(db, keypoints)
    T = len(normalized)
    frames = np.arange(T, dtype=np.int64) if frames is None else np.asarray(frames)
    return Target(normalized, qweights, usable, reason, mats, frames, frames / fps, fps,
                  keypoints=np.asarray(keypoints, np.float32), timings={"normalize_s": time.perf_counter() - t0})


def face_target(db, track, track_filter: str = "none", retarget: str = "auto") -> Target:
    """The target of a face track: its frames normalized like the database's (another person's carried onto
    the database speaker's face, :mod:`sketchsynth.targets.retarget`).

    Parameters
    ----------
    db : FrameDatabase
    track : Track
        The input (:func:`sketchsynth.sources.load.load_input`), keypoints of shape (T, 70, 3).
    track_filter : {"none", "one-euro", "savgol"}
        Temporal filter applied to the input's keypoints first.
    retarget : {"auto", "on", "off"}
        Carry the driver's expression onto the speaker's face (``auto``: when the driver is another person).

    Returns
    -------
    Target
    """
    from ..sources.filters import filter_keypoints
    from .retarget import retarget_points

    kp = track.keypoints if track_filter == "none" else \
        filter_keypoints(track.keypoints, track.fps, track_filter, frames=track.frames)
    target = keypoint_target(db, kp, track.frames, float(track.fps))
    target.points, moved = retarget_points(db, target.points, target.weights, target.usable, retarget)
    target.time_s, target.track, target.name = np.asarray(track.time_s), track, track.name
    target.report = {"input_filter": track_filter, "retarget": moved}
    return target
