"""Decide which frames of a track can be used, and fill short gaps of missing points.

A frame is unusable when nobody was found, when a normalization anchor has a
low confidence (anchors are never interpolated: the whole frame's geometry
hangs on them), or when other points are missing over a gap longer than
``max_gap`` frames. Unusable frames stay in the frame table with their reason.

The fit gate (:func:`fit_gate`) marks frames whose landmarks cannot be a good
fit: a head turned away from the camera (yaw estimated from the landmarks:
the nose tip's offset from the outer eye corners' midpoint, :func:`estimate_yaw`;
dlib's frontal model puts a frontal-looking set on profile and three-quarter
faces), a shape the database's own shape statistics find implausible
(:class:`ShapeModel`: reconstruction error of the Procrustes-aligned shape by
its main PCA modes), a low mean confidence (OpenPose input), or a face that dlib's
detector found only with a low score (tracked video).
"""

from __future__ import annotations

import numpy as np

from ..layout import N_POINTS


NO_PERSON = "no_person"
ANCHOR_LOW_CONFIDENCE = "anchor_low_confidence"
MISSING_POINTS = "missing_points"
DEGENERATE_ANCHORS = "degenerate_anchors"
HEAD_TURNED = "head_turned"
IMPLAUSIBLE_SHAPE = "implausible_shape"
LOW_CONFIDENCE = "low_confidence"
LOW_DETECTOR_SCORE = "low_detector_score"

MAX_YAW_DEG = 25.0
"""Frames whose estimated yaw exceeds this are unusable (frontal GRID s1 frames reach 19 degrees)."""
NOSE_DEPTH = 0.4
"""Nose tip's depth in front of the outer eye corners, in units of their distance (a typical adult face):
under weak perspective the nose's offset from their midpoint is ``NOSE_DEPTH * tan(yaw)`` eye distances."""
MIN_MEAN_CONFIDENCE = 0.3
"""Frames whose detected points' mean confidence is below this are unusable (OpenPose input)."""
SHAPE_MODES = 8
SHAPE_GROUPS = ("jaw", "brows", "nose", "eyes")
"""Point groups the shape statistics judge. Not the lips: rare mouth shapes (a broad smile, rounded 'oo'
lips) are what a lip-sync database needs; with the lips 103 of 52,496 GRID s1 TRAIN frames were flagged,
many of them such mouths; without, 66, most of them frames the video decoder smeared (pbio7a)."""
SHAPE_MAD_FACTOR = 10.0
"""A shape is implausible when its residual exceeds the median by this many (scaled) MADs."""


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
                  anchor_min_confidence: float, max_gap: int, shape_model: "ShapeModel | None" = None,
                  gate=False, weak_detections=None):
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
    shape_model : ShapeModel, optional
        The database's shape statistics for the fit gate.
    gate : bool or "confidence"
        Apply the fit gate (:func:`fit_gate`) to frames that pass the other tests; ``"confidence"``: only
        its low-confidence test.
    weak_detections : array of int, optional
        Rows (0-based, in this block) whose face the detector found only with a low score
        (:func:`sketchsynth.sources.tracker.weak_detection_frames`); with ``gate`` they fail too.

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
    if gate == "confidence":
        reason[:] = fit_gate(kp, None, max_yaw=np.inf)[0]
    elif gate:
        reason[:] = fit_gate(kp, shape_model)[0]
        if weak_detections is not None and len(weak_detections):
            w = np.asarray(weak_detections, np.int64)
            w = w[(w >= 0) & (w < len(kp))]
            reason[w[reason[w] == ""]] = LOW_DETECTOR_SCORE
    reason[missing] = MISSING_POINTS
    reason[low_anchor] = ANCHOR_LOW_CONFIDENCE
    reason[no_person] = NO_PERSON
    usable = reason == ""
    return clean, usable, reason, filled.sum(axis=1).astype(np.int16)


# ---------------------------------------------------------------------- the fit gate
def estimate_yaw(keypoints: np.ndarray) -> np.ndarray:
    """Head yaw from the landmarks: the nose tip's offset from the outer eye corners' midpoint.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)

    Returns
    -------
    np.ndarray, shape (n_frames,), float64
        Degrees (sign: towards the image's right positive); NaN without the points.
    """
    from ..layout import EYE_OUTER_CORNERS, NOSE_TIP

    # only the three points, in float64: a whole chunk in float64 would be 1.7 kB per frame
    xy = np.asarray(keypoints)[:, [EYE_OUTER_CORNERS[0], EYE_OUTER_CORNERS[1], NOSE_TIP], :2].astype(np.float64)
    a, b = xy[:, 0], xy[:, 1]
    d = b - a
    eye = np.linalg.norm(d, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        off = ((xy[:, 2] - (a + b) / 2) * d).sum(axis=1) / eye ** 2
        yaw = np.degrees(np.arctan(off / NOSE_DEPTH))
    if np.asarray(keypoints).shape[-1] > 2:
        c = np.asarray(keypoints)[..., 2]
        seen = (c[:, list(EYE_OUTER_CORNERS) + [NOSE_TIP]] > 0).all(axis=1)
        yaw = np.where(seen, yaw, np.nan)
    return np.where(eye > 1e-6, yaw, np.nan)


def _procrustes(xy: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Shapes centred, scaled to unit RMS radius and (with ``ref``) rotated onto it; (n, p, 2) -> (n, p, 2)."""
    x = xy - xy.mean(axis=1, keepdims=True)
    x /= np.maximum(np.sqrt((x ** 2).sum(axis=(1, 2), keepdims=True) / x.shape[1]), 1e-9)
    if ref is None:
        return x
    # Optimal rotation per frame (2-D: closed form from the cross-covariance).
    sxx = (x * ref[None]).sum(axis=(1, 2))
    sxy = (x[..., 0] * ref[None, :, 1] - x[..., 1] * ref[None, :, 0]).sum(axis=1)
    th = np.arctan2(sxy, sxx)
    c, s = np.cos(th)[:, None], np.sin(th)[:, None]
    return np.stack([c * x[..., 0] - s * x[..., 1], s * x[..., 0] + c * x[..., 1]], axis=-1)


class ShapeModel:
    """The database's own shape statistics: PCA of Procrustes-aligned landmark shapes.

    Parameters
    ----------
    n_modes : int
        Principal modes kept; a shape's residual is what they cannot explain.
    groups : tuple of str
        Point groups of :data:`sketchsynth.layout.GROUPS` judged (default: all but lips and pupils).
    mad_factor : float
        Threshold: median residual + this many scaled MADs.
    max_fit_frames : int
        Frames sampled (evenly) to fit on.

    Attributes
    ----------
    mean_ : (n_points, 2); components_ : (n_modes, 2 * n_points); threshold_ : float; median_ : float
    """

    def __init__(self, n_modes: int = SHAPE_MODES, mad_factor: float = SHAPE_MAD_FACTOR,
                 max_fit_frames: int = 20000, groups=SHAPE_GROUPS):
        self.groups = tuple(groups)
        self.n_modes = n_modes
        self.mad_factor = mad_factor
        self.max_fit_frames = max_fit_frames

    def fit(self, keypoints: np.ndarray) -> "ShapeModel":
        """Fit on frames of shape (n, 70, 3) (frames without every landmark are ignored)."""
        pts = self._points()
        kp = np.asarray(keypoints, np.float64)
        ok = (kp[:, pts, 2] > 0).all(axis=1) & np.isfinite(kp[:, pts, :2]).all(axis=(1, 2))
        kp = kp[ok][:, pts, :2]
        if len(kp) > self.max_fit_frames:
            kp = kp[np.linspace(0, len(kp) - 1, self.max_fit_frames).astype(int)]
        if len(kp) < max(20, 2 * self.n_modes):
            self.mean_ = None
            return self
        x = _procrustes(kp)
        mean = x.mean(axis=0)
        for _ in range(2):
            mean = _procrustes(mean[None])[0]
            x = _procrustes(kp, mean)
            mean = x.mean(axis=0)
        self.mean_ = _procrustes(mean[None])[0]
        x = _procrustes(kp, self.mean_).reshape(len(kp), -1) - self.mean_.reshape(-1)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        self.components_ = vt[:self.n_modes]
        r = self._residual_aligned(x)
        self.median_ = float(np.median(r))
        mad = float(np.median(np.abs(r - self.median_))) * 1.4826
        self.threshold_ = self.median_ + self.mad_factor * max(mad, 1e-6)
        return self

    def _points(self):
        from ..layout import GROUPS

        return np.concatenate([GROUPS[g] for g in self.groups])

    def _residual_aligned(self, x):
        proj = x @ self.components_.T @ self.components_
        return np.sqrt(((x - proj) ** 2).sum(axis=1) / (x.shape[1] // 2))

    def residual(self, keypoints: np.ndarray) -> np.ndarray:
        """Residual RMS (unit-radius shape units) per frame, shape (n,); NaN where landmarks are missing."""
        kp = np.asarray(keypoints, np.float64)
        out = np.full(len(kp), np.nan)
        if getattr(self, "mean_", None) is None or not len(kp):
            return out
        pts = self._points()
        ok = (kp[:, pts, 2] > 0).all(axis=1) & np.isfinite(kp[:, pts, :2]).all(axis=(1, 2))
        if ok.any():
            x = _procrustes(kp[ok][:, pts, :2], self.mean_).reshape(int(ok.sum()), -1) - self.mean_.reshape(-1)
            out[ok] = self._residual_aligned(x)
        return out

    def to_dict(self) -> dict:
        if getattr(self, "mean_", None) is None:
            return {}
        return {"n_modes": self.n_modes, "groups": list(self.groups), "median": self.median_,
                "threshold": self.threshold_}


def fit_gate(keypoints: np.ndarray, shape_model: ShapeModel | None = None, max_yaw: float = MAX_YAW_DEG,
             min_confidence: float = MIN_MEAN_CONFIDENCE):
    """Frames whose landmarks fail the fit gate, and why.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3)
    shape_model : ShapeModel, optional
        Fitted on the database's frames; without it shapes are not judged.
    max_yaw : float
        Degrees; ``inf`` turns the yaw test off.
    min_confidence : float
        Mean confidence of the detected points below which a frame fails.

    Returns
    -------
    reason : np.ndarray, shape (n_frames,), object
        ``""`` where the frame passes, else HEAD_TURNED, IMPLAUSIBLE_SHAPE or LOW_CONFIDENCE.
    score : dict of np.ndarray, shape (n_frames,)
        ``yaw_deg``, ``shape_residual`` (NaN without a model), ``mean_confidence``.
    """
    kp = np.asarray(keypoints, np.float32)
    conf = kp[..., 2]
    seen = conf > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(seen.any(axis=1), (conf * seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1), np.nan)
    yaw = estimate_yaw(kp)
    resid = shape_model.residual(kp) if shape_model is not None else np.full(len(kp), np.nan)
    reason = np.full(len(kp), "", dtype=object)
    if shape_model is not None and getattr(shape_model, "mean_", None) is not None:
        reason[resid > shape_model.threshold_] = IMPLAUSIBLE_SHAPE
    reason[np.abs(yaw) > max_yaw] = HEAD_TURNED
    reason[mean_conf < min_confidence] = LOW_CONFIDENCE
    return reason, {"yaw_deg": yaw, "shape_residual": resid, "mean_confidence": mean_conf}
