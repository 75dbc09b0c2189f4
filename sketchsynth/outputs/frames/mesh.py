"""A landmark-driven triangle mesh: one paste's geometry, and the single resampling through it.

One affine map for a whole pasted lower face stretches and turns it when the two heads' poses differ (a
doubled chin, a ghost jaw line). :class:`MeshWarp` builds the paste's destination from both faces instead --
the background's jaw sides, nose and lower eye contour (the cheeks stay where the background head has them),
the chosen frame's mouth and chin carried over by the similarity ``S`` that best maps its rigid points (eye
corners, nose) onto the background's (rotation, uniform scale, shift: no stretch), and an outer ring outside
the jaw that moves with ``S`` -- and maps it piecewise: one affine map per triangle of a fixed triangulation,
rasterized into one dense map, so the chosen frame is resampled once (:func:`mesh_remap`).
"""

from __future__ import annotations

import numpy as np

from ...layout import (DEFAULT_STABLE_POINTS, EYE_OUTER_CORNERS, GROUPS, LIP_ORDER, MESH_CHIN, MESH_JAW_SIDES,
                       MESH_CENTRE, MESH_LOWER_EYES, MESH_NOSE, MESH_UPPER, MOUTH)
from ...database.normalize import apply_matrices

LANDMARKS = np.array(MESH_JAW_SIDES + MESH_CHIN + MESH_NOSE + MESH_LOWER_EYES + tuple(MOUTH))
"""The keypoints that are mesh vertices (the ring's 20 points follow them)."""
FROM_SRC = np.isin(LANDMARKS, MESH_CHIN + tuple(MOUTH))
"""Vertices placed by the chosen frame (mouth and chin); the others are the background's."""


def iod(kp: np.ndarray) -> float:
    """Inter-ocular distance of one face (70, 2|3), pixels."""
    a, b = EYE_OUTER_CORNERS
    return float(np.linalg.norm(np.asarray(kp, np.float64)[b, :2] - np.asarray(kp, np.float64)[a, :2]))


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping points ``src`` (p, 2) onto ``dst``; (2, 3)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    scale = np.trace(np.diag(s) @ d) / max((a ** 2).sum() / len(a), 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * (u @ d @ vt)
    m[:, 2] = md - m[:, :2] @ ms
    return m


def inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of one 2x3 affine map."""
    a = np.linalg.inv(m[:, :2])
    return np.concatenate([a, (-a @ m[:, 2])[:, None]], axis=1)


def triangle_maps(dst: np.ndarray, src: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Per-triangle affine maps from ``dst`` to ``src`` points, shape (n_tri, 2, 3) (NaN: degenerate)."""
    a, b = dst[tri], src[tri]
    A = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
    with np.errstate(all="ignore"):
        try:
            m = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:
            m = np.stack([np.linalg.lstsq(x, y, rcond=None)[0] for x, y in zip(A, b)])
    return np.swapaxes(m, 1, 2)


def mesh_remap(img: np.ndarray, dst: np.ndarray, src: np.ndarray, tri: np.ndarray, box, interp: int):
    """Resample ``img`` once so that points ``src`` land on ``dst``, piecewise affine, inside ``box``.

    Parameters
    ----------
    img : np.ndarray, shape (h, w, 3), uint8
    dst, src : np.ndarray, shape (p, 2)
        Output and source pixels of the mesh's vertices.
    tri : np.ndarray, shape (n_tri, 3), int
    box : (x0, y0, x1, y1)
        Output pixels drawn.
    interp : int
        cv2 interpolation.

    Returns
    -------
    patch : np.ndarray, shape (y1 - y0, x1 - x0, 3), uint8
    covered : np.ndarray, shape (y1 - y0, x1 - x0), bool
        Inside a triangle and inside ``img``.
    """
    import cv2

    x0, y0, x1, y1 = box
    maps = np.nan_to_num(triangle_maps(dst, src, tri))
    label = np.zeros((y1 - y0, x1 - x0), np.int32)
    for i, t in enumerate(tri):
        cv2.fillConvexPoly(label, np.round((dst[t] - [x0, y0]) * 16).astype(np.int32), i + 1, cv2.LINE_8, 4)
    mm = np.concatenate([np.zeros((1, 2, 3)), maps])[label]
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    mx = (mm[..., 0, 0] * xs + mm[..., 0, 1] * ys + mm[..., 0, 2]).astype(np.float32)
    my = (mm[..., 1, 0] * xs + mm[..., 1, 1] * ys + mm[..., 1, 2]).astype(np.float32)
    patch = cv2.remap(img, mx, my, interp, borderMode=cv2.BORDER_REPLICATE)
    h, w = img.shape[:2]
    return patch, (label > 0) & (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)


MAX_FOLLOW = 0.08
"""Default largest displacement of a mouth or chin point towards the target, inter-ocular distances (chosen on
moving-head validation parts with the self-check's geometry margin: docs/measurements.md)."""


class MeshWarp:
    """The mesh of a lower-face paste.

    Parameters
    ----------
    ring : float
        Distance of the outer ring from the jaw, in inter-ocular distances (IOD).
    chin_margin : float
        The ring reaches this far (IOD) below the lower of the two chins.
    follow : float
        Fraction (0-1) of the remaining difference between the target's mouth/chin shape and the chosen
        frame's that the mesh warps away (0: the chosen mouth as recorded).
    max_follow : float
        Largest such displacement per point, IOD (teeth and lips must not visibly stretch); lips never cross.

    Attributes
    ----------
    tri_ : np.ndarray, shape (n_tri, 3), int64
        Delaunay triangulation of the vertices on a reference face.
    lower_ : np.ndarray, shape (n_tri,), bool
        Triangles of the pasted region (no eye, upper-cheek or upper-ring vertex).
    """

    def __init__(self, ring: float = 0.45, chin_margin: float = 0.1, follow: float = 1.0,
                 max_follow: float = MAX_FOLLOW):
        self.ring, self.chin_margin, self.follow, self.max_follow = ring, chin_margin, follow, max_follow

    def fit(self, reference: np.ndarray) -> "MeshWarp":
        """Triangulate on ``reference`` (70, 2|3), a frontal face (the database's etalon frame)."""
        from scipy.spatial import Delaunay

        ref = np.asarray(reference, np.float64)[:, :2]
        pts = np.concatenate([ref[LANDMARKS], self.ring_points(ref, ref)])
        self.tri_ = Delaunay(pts).simplices.astype(np.int64)
        upper = np.concatenate([np.flatnonzero(np.isin(LANDMARKS, MESH_UPPER)),
                                len(LANDMARKS) + np.array([0, 1, 2, 14, 15, 16, 17, 18, 19])])
        self.lower_ = ~np.isin(self.tri_, upper).any(axis=1)
        return self

    def ring_points(self, dst_kp: np.ndarray, chin_kp: np.ndarray) -> np.ndarray:
        """Outer ring (20, 2): the jaw pushed out from the face centre, and three points above the eyes' line."""
        d = iod(dst_kp)
        jaw = dst_kp[GROUPS["jaw"], :2]
        v = jaw - dst_kp[list(MESH_CENTRE), :2].mean(0)
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        ring = jaw + v * self.ring * d
        chin = GROUPS["jaw"][8]
        low = max(dst_kp[chin, 1], chin_kp[chin, 1]) + (self.ring + self.chin_margin) * d
        ring[5:12, 1] = np.maximum(ring[5:12, 1], low - np.abs(np.arange(-3, 4)) * 0.05 * d)
        a, b = (dst_kp[i, :2] for i in EYE_OUTER_CORNERS)
        top = np.stack([a + (a - b) * 0.25, b + (b - a) * 0.25, dst_kp[MESH_NOSE[0], :2]])
        return np.concatenate([ring, top])

    def moved(self, src_kp: np.ndarray, residual: np.ndarray | None) -> np.ndarray:
        """The chosen frame's points with mouth and chin moved by ``follow`` x ``residual`` (its own pixels).

        Each point moves at most ``max_follow`` IOD, and never so far that lips cross (:data:`LIP_ORDER`,
        judged along the face's vertical, perpendicular to the eye line).
        """
        sk = np.asarray(src_kp, np.float64)[:, :2]
        out = sk.copy()
        if residual is None or self.follow <= 0:
            return out
        r = np.nan_to_num(np.asarray(residual, np.float64)[:, :2]) * self.follow
        n = np.linalg.norm(r, axis=1, keepdims=True)
        r *= np.minimum(1.0, self.max_follow * iod(sk) / np.maximum(n, 1e-9))
        a, b = EYE_OUTER_CORNERS
        e = sk[b] - sk[a]
        down = np.array([-e[1], e[0]]) / max(np.linalg.norm(e), 1e-9)   # image y grows downwards
        for _ in range(len(LIP_ORDER)):  # a pair's fix may undo a neighbour's: repeat (shrinking only)
            crossed = False
            for up, lo in LIP_ORDER:
                gap = (sk[lo] - sk[up]) @ down
                closing = (r[lo] - r[up]) @ down
                floor = min(gap, 0.0)  # a pair recorded crossed (tracker noise) may stay so, no worse
                if gap + closing < floor - 1e-9:
                    f = max(0.0, (floor - gap) / closing)  # closing < 0 here
                    r[lo] *= f
                    r[up] *= f
                    crossed = True
            if not crossed:
                break
        idx = LANDMARKS[FROM_SRC]
        out[idx] = sk[idx] + r[idx]
        return out

    def plan(self, bg_kp: np.ndarray, src_kp: np.ndarray, residual: np.ndarray | None = None,
             mouth_from: list | None = None) -> dict:
        """Destination and source vertices of one paste.

        Parameters
        ----------
        bg_kp : np.ndarray, shape (70, 2|3)
            The background frame's keypoints (output pixels).
        src_kp : np.ndarray, shape (70, 2|3)
            The chosen frame's (its own pixels).
        residual : np.ndarray, shape (70, 2), optional
            Displacement towards the target's mouth, source pixels (:func:`residual`).
        mouth_from : list of (np.ndarray (70, 2), float), optional
            For a morph: (keypoints in output pixels, weight) pairs whose weighted mean places mouth and chin.

        Returns
        -------
        dict
            ``S`` (2, 3) source -> output similarity, ``dst`` and ``src`` (n_vertices, 2), ``dst_kp`` (70, 2):
            the pasted face's keypoints in output pixels, ``carried`` (70, 2): the moved source points in
            output pixels.
        """
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        sk = np.asarray(src_kp, np.float64)[:, :2]
        rigid = list(DEFAULT_STABLE_POINTS)
        S = similarity(sk[rigid], bg[rigid])
        carried = apply_matrices(self.moved(sk, residual), S)
        if mouth_from:
            carried = sum(np.asarray(k, np.float64)[:, :2] * w for k, w in mouth_from) / sum(w for _, w in mouth_from)
        dst_kp = bg.copy()
        idx = LANDMARKS[FROM_SRC]
        dst_kp[idx] = carried[idx]
        ring = self.ring_points(bg, dst_kp)
        return {"S": S, "dst": np.concatenate([dst_kp[LANDMARKS], ring]),
                "src": np.concatenate([sk[LANDMARKS], apply_matrices(ring, inverse(S))]),
                "dst_kp": dst_kp, "carried": carried, "bg_chin_y": float(bg[GROUPS["jaw"][8], 1])}


def residual(target_norm: np.ndarray, db_norm: np.ndarray, db_transform: np.ndarray) -> np.ndarray:
    """Where the target's points are relative to a database frame's, in that frame's pixels.

    Parameters
    ----------
    target_norm, db_norm : np.ndarray, shape (70, 2)
        Target and database frame in the database's normalized space.
    db_transform : np.ndarray, shape (2, 3)
        The database frame's image -> normalized map.

    Returns
    -------
    np.ndarray, shape (70, 2), float64
        NaN where the target has no point.
    """
    d = np.asarray(target_norm, np.float64)[:, :2] - np.asarray(db_norm, np.float64)[:, :2]
    return d @ np.linalg.inv(np.asarray(db_transform, np.float64)[:, :2]).T


def mesh_residual(warp: MeshWarp, target_points: np.ndarray | None, db, row: int) -> np.ndarray | None:
    """:func:`residual` of database ``row`` towards one target frame (70, 2), or None when the warp does not
    follow the target or the target has no mouth there."""
    if target_points is None or warp.follow <= 0:
        return None
    t = np.asarray(target_points, np.float64)
    if not np.isfinite(t[LANDMARKS[FROM_SRC], :2]).all():
        return None
    return residual(t, db.normalized_[row], db.transforms_[row])
