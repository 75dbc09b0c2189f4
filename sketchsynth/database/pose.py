"""Head pose and lower-face geometry of faces, from their 2-D keypoints alone.

A composite video pastes a database frame's lower face onto another (background) frame; the paste only looks
real when both heads have nearly the same pose, and the pasted face keeps a shape the speaker really has.
This module measures both on keypoints (no 3-D model, no pixels): every number is a ratio of landmark
distances or an angle, so it is the same whatever the camera's distance. It is cheap (vectorized over every
database row), so a database computes it on demand instead of storing it.
"""

from __future__ import annotations

import numpy as np

from ..layout import EYE_OUTER_CORNERS, GEOMETRY_PAIRS, JAW_ENDS, LEFT_EYE, NOSE_TIP, RIGHT_EYE

POSE_NAMES = ("yaw", "pitch", "roll", "log_scale")
POSE_DIM_WEIGHTS = (1.0, 1.0, 1.0, 0.35)
"""Relative weights of the standardized pose dimensions; scale matters less (the paste's similarity absorbs
it: a different scale only changes the pasted face's resolution)."""
GEOMETRY_QUANTILES = (0.5, 99.5)
"""The database's own range of :func:`face_geometry` that counts as plausible (percentiles)."""


def head_pose(keypoints: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll and log scale of faces.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n, 70, 2|3)
        Image pixels, OpenPose face order.

    Returns
    -------
    np.ndarray, shape (n, 4), float64
        ``yaw``: the nose tip's x offset from the middle of the face outline's ends, over their distance
        (about sin(yaw) / 2; positive: nose towards the image's right); ``pitch``: the nose tip's height below
        the eyes' centre in inter-ocular distances (grows as the head tilts forward); ``roll``: angle of the
        outer eye corners' line, radians; ``log_scale``: log inter-ocular distance in pixels. Computed after
        removing the roll, so yaw and pitch do not change when the head only turns in the image plane.
        NaN rows where points are missing.
    """
    kp = np.asarray(keypoints, np.float64)[..., :2]
    a, b = EYE_OUTER_CORNERS
    v = kp[:, b] - kp[:, a]
    iod = np.linalg.norm(v, axis=1)
    roll = np.arctan2(v[:, 1], v[:, 0])
    c, s = np.cos(-roll), np.sin(-roll)
    eye = kp[:, np.concatenate([RIGHT_EYE, LEFT_EYE])].mean(axis=1)
    with np.errstate(all="ignore"):
        def upright(p):  # the roll-free frame about the eyes' centre, in inter-ocular distances
            d = p - eye
            return np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1) / iod[:, None]

        nose, left, right = upright(kp[:, NOSE_TIP]), upright(kp[:, JAW_ENDS[0]]), upright(kp[:, JAW_ENDS[1]])
        yaw = (nose[:, 0] - (left[:, 0] + right[:, 0]) / 2) / np.maximum(right[:, 0] - left[:, 0], 1e-6)
        out = np.stack([yaw, nose[:, 1], roll, np.log(iod)], axis=1)
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


def face_geometry(keypoints: np.ndarray) -> np.ndarray:
    """Nose-to-chin, jaw width and nose-to-lip distances over the inter-ocular distance.

    Parameters
    ----------
    keypoints : np.ndarray, shape (..., 70, 2|3)

    Returns
    -------
    np.ndarray, shape (..., 3), float64
        In the order of :data:`sketchsynth.layout.GEOMETRY_PAIRS`; NaN where points are missing.
    """
    kp = np.asarray(keypoints, np.float64)[..., :2]
    a, b = EYE_OUTER_CORNERS
    with np.errstate(all="ignore"):
        d = np.linalg.norm(kp[..., b, :] - kp[..., a, :], axis=-1)
        return np.stack([np.linalg.norm(kp[..., i, :] - kp[..., j, :], axis=-1) / d
                         for _, i, j in GEOMETRY_PAIRS], axis=-1)


def usable_rows(db) -> np.ndarray:
    """Database rows with a usable face and every keypoint finite, shape (n_db,), bool."""
    kp = np.asarray(db.keypoints_, np.float64)[..., :2]
    return np.asarray(db.table_["usable"], bool) & np.isfinite(kp).all(axis=(1, 2))


def geometry_range(db, quantiles=GEOMETRY_QUANTILES) -> np.ndarray:
    """The database's own (low, high) percentiles of :func:`face_geometry`, shape (2, 3), float64."""
    ok = usable_rows(db)
    if not ok.any():
        return np.array([[-np.inf] * 3, [np.inf] * 3])
    return np.percentile(face_geometry(db.keypoints_[ok]), quantiles, axis=0)


class PoseSpace:
    """:func:`head_pose` standardized by a database's own spread.

    Parameters
    ----------
    dim_weights : sequence of 4 floats
        Relative weights of yaw, pitch, roll, log scale after standardizing.

    Attributes
    ----------
    centre_, spread_ : np.ndarray, shape (4,)
        Median and robust standard deviation (1.4826 MAD, floored) over the database's usable frames.
    db_pose_ : np.ndarray, shape (n_db, 4)
        Every database row's pose (NaN: none).
    """

    def __init__(self, dim_weights=POSE_DIM_WEIGHTS):
        self.dim_weights = tuple(float(w) for w in dim_weights)

    def __repr__(self):
        return f"PoseSpace(dim_weights={self.dim_weights})"

    def fit(self, db) -> "PoseSpace":
        self.db_pose_ = head_pose(db.keypoints_)
        ok = usable_rows(db) & np.isfinite(self.db_pose_).all(axis=1)
        p = self.db_pose_[ok] if ok.any() else np.zeros((1, 4))
        self.centre_ = np.median(p, axis=0)
        mad = np.median(np.abs(p - self.centre_), axis=0) * 1.4826
        self.spread_ = np.maximum(mad, np.array([0.005, 0.005, np.radians(0.5), 0.01]))
        return self

    def z(self, pose: np.ndarray) -> np.ndarray:
        """Standardized, weighted poses, shape (n, 4); NaN rows stay NaN."""
        return (np.asarray(pose, np.float64) - self.centre_) / self.spread_ * np.sqrt(self.dim_weights)
