"""The 70-point OpenPose face layout: the only module that knows keypoint indices.

OpenPose's face model writes 70 points: the iBUG-68 landmarks in their usual order
(0-based here, so iBUG's point 1 is our 0) followed by the two pupils, 68 (right
eye in the image's left half) and 69. dlib's 68-point predictor uses the same
order, so a 68-point track is points 0-67 of this layout.

Everything else in sketchsynth asks this module for groups, weights, anchor
points and render chains instead of writing indices itself.
"""

from __future__ import annotations

import numpy as np

N_POINTS = 70
"""Points per frame in the OpenPose face layout."""

N_LANDMARKS_68 = 68
"""Points in an iBUG-68 / dlib track (OpenPose points 0-67)."""

GROUPS: dict[str, np.ndarray] = {
    "jaw": np.arange(0, 17),
    "brows": np.arange(17, 27),
    "nose": np.arange(27, 36),
    "eyes": np.arange(36, 48),
    "lips": np.arange(48, 68),
    "pupils": np.arange(68, 70),
}
"""Named point groups (0-based, OpenPose face order)."""

RIGHT_EYE = np.arange(36, 42)
"""Contour of the eye on the image's left (subject's right eye)."""
LEFT_EYE = np.arange(42, 48)
OUTER_LIPS = np.arange(48, 60)
INNER_LIPS = np.arange(60, 68)
MOUTH = GROUPS["lips"]
PUPILS = GROUPS["pupils"]
SPEECH_POINTS = np.concatenate([GROUPS["jaw"], GROUPS["lips"]])
"""Points speech drives, predicted by :mod:`sketchsynth.targets.speech`: jaw 0-16 then lips 48-67 (37 points)."""
INNER_LIP_PAIRS = ((62, 66),)
"""Upper/lower inner-lip point pairs whose mean distance is the mouth opening: the middle pair 62-66, as
issue 10 defines the opening and as its baseline was measured (the three pairs 61-67, 62-66, 63-65 were used
by the first measurements; their mean is a little smoother)."""
LIP_CORNERS = (48, 54)
"""Outer lip corners, whose distance is the lip width."""

# OpenPose's face render pairs, grouped into polylines. Closed loops repeat
# nothing here; the renderer closes them.
CHAINS: tuple[tuple[np.ndarray, bool], ...] = (
    (np.arange(0, 17), False),   # jaw
    (np.arange(17, 22), False),  # right brow
    (np.arange(22, 27), False),  # left brow
    (np.arange(27, 31), False),  # nose bridge
    (np.arange(31, 36), False),  # nostrils
    (np.arange(36, 42), True),   # right eye
    (np.arange(42, 48), True),   # left eye
    (np.arange(48, 60), True),   # outer lips
    (np.arange(60, 68), True),   # inner lips
)
"""Render chains as ``(indices, closed)``; pupils are drawn as dots."""

LOWER_FACE = np.concatenate([np.arange(2, 15), np.arange(35, 30, -1)])
"""Outline of the lower face (jaw 2-14, then back along the nostrils 35-31): the region
``--frames composite`` pastes, as Video Rewrite pasted mouth and jaw."""

FACE_CENTER_POINTS = np.array([27, 28, 29, 30, 33, 36, 39, 42, 45])
"""Rigid points (nose bridge, nose tip, eye corners) whose mean is a face's centre."""

EYE_OUTER_CORNERS = (36, 45)
NOSE_TIP = 30
JAW_ENDS = (0, 16)
"""Ends of the face outline (beside the ears): their midpoint against the nose tip gives the head's yaw."""

GEOMETRY_PAIRS = (("nose_chin", 30, 8), ("jaw_width", 4, 12), ("nose_lip", 33, 51))
"""Distances (over the inter-ocular distance) that say whether a face's lower half has a plausible shape:
nose tip to chin, jaw width, nose base to upper lip. A paste onto a head in another pose stretches them."""

OUTER_LIP_GAPS = ((50, 58), (51, 57), (52, 56))
"""Upper/lower outer-lip pairs: their mean gap is a mouth opening a re-tracker measures reliably at a
distance (the inner lips are a few pixels apart there)."""

# The compositor's mesh (``--frames composite``): which points come from which face.
MESH_JAW_SIDES = (1, 2, 3, 4, 5, 11, 12, 13, 14, 15)
"""Jaw sides: kept where the background face has them (cheeks move with the head, not the mouth)."""
MESH_CHIN = (6, 7, 8, 9, 10)
"""Chin: follows the pasted mouth (it opens with the jaw)."""
MESH_NOSE = tuple(range(27, 36))
MESH_CENTRE = (30, 33, 36, 45)
"""Points whose mean is the centre the mesh's outer ring is pushed away from."""
MESH_LOWER_EYES = (36, 41, 40, 39, 42, 47, 46, 45)
"""Eye corners and lower lids: the mesh's upper edge (cheeks below them)."""
LIP_ORDER = ((61, 67), (62, 66), (63, 65), (51, 62), (66, 57))
"""(upper, lower) lip points that stay in this order down the face: inner lips, and each inner lip inside
its outer lip. A warp that moves the mouth must not make them cross (folded triangles)."""
MESH_UPPER = (1, 15, 36, 41, 40, 39, 42, 47, 46, 45, 27, 28)
"""Mesh vertices above the pasted region: triangles touching them are not judged by the paste check."""

DEFAULT_ANCHORS = (35, 40, 46)
"""The method's normalization anchors: its 'nose' and the two eyes' 'edge points'.

In OpenPose's 0-based numbering 35 is the left nostril edge and 40, 46 lie on the
lower eyelids; they are kept because the method used them.
"""

DEFAULT_STABLE_POINTS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
"""Points for the similarity-fit normalization: nose bridge and base, eye corners."""

LIP_WEIGHT = 10.0
EYE_WEIGHT = 2.0
OTHER_WEIGHT = 1.0


def default_weights() -> np.ndarray:
    """The method's point weights: lips 10, eyes and pupils 2, every other point 1.

    Returns
    -------
    np.ndarray, shape (70,), float32
    """
    w = np.full(N_POINTS, OTHER_WEIGHT, dtype=np.float32)
    w[GROUPS["eyes"]] = EYE_WEIGHT
    w[GROUPS["pupils"]] = EYE_WEIGHT
    w[GROUPS["lips"]] = LIP_WEIGHT
    return w


def point_order_lips_first(weights: np.ndarray) -> np.ndarray:
    """Point indices ordered by decreasing weight (lips first), for early abandoning.

    Parameters
    ----------
    weights : np.ndarray, shape (70,)

    Returns
    -------
    np.ndarray, shape (70,), int64
    """
    return np.argsort(-np.asarray(weights, dtype=np.float64), kind="stable").astype(np.int64)


def estimate_pupils(points68: np.ndarray) -> np.ndarray:
    """Pupils as eye-contour centroids, for trackers that give only 68 points.

    Parameters
    ----------
    points68 : np.ndarray, shape (n_frames, 68, 2) or (n_frames, 68, 3)

    Returns
    -------
    np.ndarray, shape (n_frames, 2, 2)
        x, y of points 68 and 69.
    """
    xy = np.asarray(points68)[..., :2]
    return np.stack([xy[:, RIGHT_EYE].mean(axis=1), xy[:, LEFT_EYE].mean(axis=1)], axis=1)


def inter_ocular(keypoints: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (points 36 and 45), a face-size unit.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)

    Returns
    -------
    np.ndarray, shape (n_frames,)
    """
    xy = np.asarray(keypoints)[..., :2]
    return np.linalg.norm(xy[:, 36] - xy[:, 45], axis=-1)


def group_of(point: int) -> str:
    """Name of the group a point belongs to (``"lips"``, ``"jaw"``...)."""
    for name, idx in GROUPS.items():
        if point in idx:
            return name
    raise IndexError(f"point {point} is outside the 70-point face layout")


def check_point_indices(indices, what: str) -> tuple[int, ...]:
    """Validate user-given point indices (anchors, stable points).

    Raises
    ------
    ParameterError
        When an index is outside 0-69 or repeated.
    """
    from .errors import ParameterError

    out = tuple(int(i) for i in indices)
    bad = [i for i in out if not 0 <= i < N_POINTS]
    if bad:
        raise ParameterError(f"{what}: point(s) {bad} outside 0-{N_POINTS - 1} (OpenPose face, 0-based)")
    if len(set(out)) != len(out):
        raise ParameterError(f"{what}: repeated point in {list(out)}")
    return out


def parse_weights(spec: str) -> np.ndarray:
    """Point weights from a short text, for options like ``--expect-weights``.

    Parameters
    ----------
    spec : str
        ``"default"`` (the method's: lips 10, eyes and pupils 2, others 1);
        ``group=value`` pairs changing the default (``"lips=5,eyes=1"``; groups
        jaw, brows, nose, eyes, lips, pupils, and ``all`` applied first); or 70
        comma-separated numbers in point order.

    Returns
    -------
    np.ndarray, shape (70,), float32

    Raises
    ------
    ParameterError
    """
    from .errors import ParameterError

    text = spec.replace(" ", "")
    if text in ("", "default"):
        return default_weights()
    parts = [p for p in text.split(",") if p]
    try:
        if all("=" not in p for p in parts):
            w = np.array([float(p) for p in parts], dtype=np.float32)
            if w.shape != (N_POINTS,):
                raise ParameterError(f"weights: got {w.size} numbers, expected {N_POINTS} (one per point) or "
                                     "group=value pairs like lips=10,eyes=2")
        else:
            pairs = dict(p.split("=", 1) for p in parts)
            unknown = sorted(set(pairs) - set(GROUPS) - {"all"})
            if unknown:
                raise ParameterError(f"weights: unknown group(s) {unknown}; use {', '.join(GROUPS)} or all")
            w = default_weights()
            if "all" in pairs:
                w[:] = float(pairs.pop("all"))
            for name, v in pairs.items():
                w[GROUPS[name]] = float(v)
    except ValueError:
        raise ParameterError(f"weights: cannot read {spec!r}; expected e.g. lips=10,eyes=2,pupils=2 or "
                             "70 numbers") from None
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ParameterError(f"weights: need non-negative numbers, not all zero, got {spec!r}")
    return w


def describe_weights(weights) -> str:
    """``"lips 10, eyes 2, ..."`` when every group has one weight, else the 70 numbers."""
    w = np.asarray(weights, dtype=np.float64)
    parts = []
    for name in ("lips", "eyes", "pupils", "jaw", "brows", "nose"):  # the method's emphasis first
        idx = GROUPS[name]
        vals = np.unique(w[idx])
        if len(vals) != 1:
            return "[" + ", ".join(f"{x:g}" for x in w) + "]"
        parts.append(f"{name} {vals[0]:g}")
    return ", ".join(parts)


def _mirror_permutation() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(17)]                       # jaw outline, end to end
    pairs += [(17 + i, 26 - i) for i in range(5)]                  # brows
    pairs += [(27 + i, 27 + i) for i in range(4)]                  # nose bridge (on the midline)
    pairs += [(31 + i, 35 - i) for i in range(5)]                  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]   # eye contours
    pairs += [(48 + i, 54 - i) for i in range(7)]                  # upper outer lip, corner to corner
    pairs += [(55, 59), (56, 58), (57, 57)]                        # lower outer lip
    pairs += [(60 + i, 64 - i) for i in range(5)]                  # upper inner lip
    pairs += [(65, 67), (66, 66)]                                  # lower inner lip
    pairs += [(68, 69)]                                            # pupils
    perm = np.arange(N_POINTS)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


MIRROR = _mirror_permutation()
"""Point permutation of a left-right flip: after negating x, point ``i`` of the mirrored face is
point ``MIRROR[i]`` of the original (an involution; midline points map to themselves)."""


def mirror_keypoints(keypoints: np.ndarray, axis_x: float | np.ndarray = 0.0) -> np.ndarray:
    """Left-right mirror image of faces, with points relabelled so the layout still holds.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
        Image pixels (and confidence, carried along).
    axis_x : float or np.ndarray of shape (n_frames,)
        x of the vertical mirror axis, in pixels (e.g. the image centre).

    Returns
    -------
    np.ndarray, same shape and dtype
        ``x -> 2 * axis_x - x``; missing points (confidence 0) stay missing.
    """
    kp = np.asarray(keypoints)
    out = kp[:, MIRROR].copy()
    ax = np.asarray(axis_x, dtype=np.float64).reshape(-1, 1) if np.ndim(axis_x) else float(axis_x)
    out[..., 0] = (2 * ax - out[..., 0]).astype(kp.dtype)
    if kp.shape[-1] == 3:
        out[..., 0] = np.where(out[..., 2] > 0, out[..., 0], 0)
    return out
