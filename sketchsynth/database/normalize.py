"""Normalization: make frames of different head positions comparable.

The method's rule (``mode="affine"``):

1. translate every frame so that the origin point (35) is at (0, 0);
2. apply the linear map that sends the frame's other two anchors (40, 46) onto
   the *etalon*'s, so all three anchors coincide with the etalon's.

The etalon is the usable database frame with the largest sum of pairwise
distances between the three anchors -- the most frontal, largest face.

``mode="similarity"`` fits rotation + uniform scale + shift over several stable
points (least squares) instead: it cannot shear a face, at the price of the
anchors no longer landing exactly on the etalon's.

Every frame's map is kept as a 2x3 matrix ``M`` (``x_norm = M[:, :2] @ x + M[:, 2]``),
so a matched frame can be drawn back into the input's image coordinates with
:meth:`Normalizer.inverse_transform`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..layout import DEFAULT_ANCHORS, DEFAULT_STABLE_POINTS, check_point_indices


MODES = ("affine", "similarity")


class Normalizer:
    """Map frames into the etalon's coordinates.

    Parameters
    ----------
    mode : {"affine", "similarity"}
        The method's three-anchor affine map, or a similarity fit over
        ``stable_points``.
    anchors : tuple of 3 int
        OpenPose 0-based indices; the first is moved to the origin. Default
        (35, 40, 46), the method's choice.
    stable_points : tuple of int
        Points of the similarity fit (ignored in affine mode).
    max_condition : float
        A frame whose anchor map has a condition number above this (collinear or
        collapsed anchor triangle) is degenerate and left unnormalized. Real faces
        give about 1-1.5.

    Attributes
    ----------
    etalon_index_ : int
        Row of the etalon among the frames given to :meth:`fit`.
    etalon_ : np.ndarray, shape (70, 2), float64
        The etalon frame translated so that ``anchors[0]`` is the origin: the
        normalized space's reference.
    """

    def __init__(self, mode: str = "affine", anchors=DEFAULT_ANCHORS, stable_points=DEFAULT_STABLE_POINTS,
                 max_condition: float = 8.0):
        self.mode = mode
        self.anchors = tuple(anchors)
        self.stable_points = tuple(stable_points)
        self.max_condition = max_condition

    def __repr__(self):
        return (f"Normalizer(mode={self.mode!r}, anchors={self.anchors}, "
                f"stable_points={self.stable_points}, max_condition={self.max_condition})")

    def check(self):
        from ..errors import ParameterError

        if self.mode not in MODES:
            raise ParameterError(f"normalization mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if len(self.anchors) != 3:
            raise ParameterError(f"anchors: need exactly 3 points, got {list(self.anchors)}")
        check_point_indices(self.anchors, "anchors")
        if self.mode == "similarity":
            pts = check_point_indices(self.stable_points, "stable points")
            if len(pts) < 2:
                raise ParameterError("stable points: the similarity fit needs at least 2 points")

    @staticmethod
    def anchor_spread(keypoints: np.ndarray, anchors) -> np.ndarray:
        """Sum of pairwise distances among the anchors of each frame (the etalon score).

        Parameters
        ----------
        keypoints : np.ndarray, shape (n_frames, 70, 2|3)
        anchors : 3 ints

        Returns
        -------
        np.ndarray, shape (n_frames,), float64
        """
        a = np.asarray(keypoints)[:, list(anchors), :2].astype(np.float64)
        return (np.linalg.norm(a[:, 0] - a[:, 1], axis=-1) + np.linalg.norm(a[:, 0] - a[:, 2], axis=-1)
                + np.linalg.norm(a[:, 1] - a[:, 2], axis=-1))

    def fit(self, keypoints: np.ndarray, usable: np.ndarray | None = None) -> "Normalizer":
        """Choose the etalon among the usable frames whose anchors are not degenerate.

        Parameters
        ----------
        keypoints : np.ndarray, shape (n_frames, 70, 3) or (n_frames, 70, 2)
            Database frames in image pixels.
        usable : np.ndarray, shape (n_frames,), bool, optional

        Returns
        -------
        self
        """
        self.check()
        kp = np.asarray(keypoints)
        ok = np.ones(len(kp), bool) if usable is None else np.asarray(usable, bool).copy()
        spread = self.anchor_spread(kp, self.anchors)
        # A degenerate triangle (collinear anchors) must not become the reference.
        ok &= self.triangle_ok(kp[:, list(self.anchors), :2].astype(np.float64))
        ok &= np.isfinite(spread)
        if not ok.any():
            raise InputError("no usable frame to take the etalon from (every frame lacks a face "
                             "or has low-confidence or degenerate anchors)")
        spread = np.where(ok, spread, -np.inf)
        self.etalon_index_ = int(np.argmax(spread))
        et = kp[self.etalon_index_, :, :2].astype(np.float64)
        self.etalon_ = et - et[self.anchors[0]]
        return self

    def set_etalon(self, etalon: np.ndarray) -> "Normalizer":
        """Use a stored etalon (loading a database) instead of fitting one.

        Parameters
        ----------
        etalon : np.ndarray, shape (70, 2)
            Etalon in normalized coordinates (origin point at 0, 0).
        """
        self.check()
        self.etalon_ = np.asarray(etalon, dtype=np.float64)
        self.etalon_index_ = -1
        return self

    def triangle_ok(self, tri: np.ndarray) -> np.ndarray:
        """Non-degenerate anchor triangles, shape (n, 3, 2) -> (n,) bool."""
        u = np.nan_to_num(tri[:, 1] - tri[:, 0], nan=0.0, posinf=0.0, neginf=0.0)
        v = np.nan_to_num(tri[:, 2] - tri[:, 0], nan=0.0, posinf=0.0, neginf=0.0)
        # singular values of the 2x2 matrix [u v] in closed form (an SVD per frame is slow)
        tr = (u * u).sum(1) + (v * v).sum(1)
        det = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        s_max = np.sqrt((tr + np.sqrt(np.maximum(tr * tr - 4 * det * det, 0.0))) / 2)
        s_min = det / np.where(s_max > 0, s_max, 1.0)
        return np.isfinite(tri).all(axis=(1, 2)) & (s_min > 1e-9) & (s_max <= self.max_condition * s_min)

    def transform_matrices(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each frame's map into normalized space.

        Parameters
        ----------
        keypoints : np.ndarray, shape (n_frames, 70, 3) or (n_frames, 70, 2)

        Returns
        -------
        matrices : np.ndarray, shape (n_frames, 2, 3), float64
            ``x_norm = M[:, :2] @ x + M[:, 2]``; NaN where ``ok`` is False.
        ok : np.ndarray, shape (n_frames,), bool
            False for degenerate anchor geometry.
        """
        if not hasattr(self, "etalon_"):
            raise RuntimeError("Normalizer is not fitted: call fit() or set_etalon() first")
        kp = np.asarray(keypoints)
        n = len(kp)
        mats = np.full((n, 2, 3), np.nan)
        if self.mode == "affine":
            a0, a1, a2 = self.anchors
            tri = kp[:, [a0, a1, a2], :2].astype(np.float64)  # only the anchors matter here
            ok = self.triangle_ok(tri)
            P = np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]], axis=-1)  # (n, 2, 2), columns
            E = np.stack([self.etalon_[a1] - self.etalon_[a0], self.etalon_[a2] - self.etalon_[a0]], axis=-1)
            A = E[None] @ np.linalg.inv(P[ok])  # sends the frame's anchor vectors onto the etalon's
            mats[ok, :, :2] = A
            mats[ok, :, 2] = self.etalon_[a0] - (A @ tri[ok, 0, :, None])[..., 0]
        else:
            idx = list(self.stable_points)
            xy = kp[:, idx, :2].astype(np.float64)
            src = xy[..., 0] + 1j * xy[..., 1]            # (n, m) complex points
            dst = self.etalon_[idx, 0] + 1j * self.etalon_[idx, 1]
            src_c = src - src.mean(axis=1, keepdims=True)
            dst_c = dst - dst.mean()
            denom = (np.abs(src_c) ** 2).sum(axis=1)
            ok = np.isfinite(denom) & (denom > 1e-9 * np.maximum(1.0, (np.abs(dst_c) ** 2).sum()))
            # least-squares rotation+scale as one complex factor (Umeyama in 2-D)
            a = np.where(ok, (np.conj(src_c) * dst_c[None]).sum(axis=1) / np.where(ok, denom, 1.0), np.nan)
            t = dst.mean() - a * src.mean(axis=1)
            ok &= np.isfinite(a) & (np.abs(a) > 0)
            mats[ok, 0, 0], mats[ok, 0, 1] = a.real[ok], -a.imag[ok]
            mats[ok, 1, 0], mats[ok, 1, 1] = a.imag[ok], a.real[ok]
            mats[ok, 0, 2], mats[ok, 1, 2] = t.real[ok], t.imag[ok]
        return mats, ok

    def transform(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalize frames.

        Parameters
        ----------
        keypoints : np.ndarray, shape (n_frames, 70, 3) or (n_frames, 70, 2)
            Image pixels (confidence ignored here).

        Returns
        -------
        normalized : np.ndarray, shape (n_frames, 70, 2), float32
            NaN for degenerate frames.
        matrices : np.ndarray, shape (n_frames, 2, 3), float64
        ok : np.ndarray, shape (n_frames,), bool
        """
        from .normalize_kernels import apply_affine

        mats, ok = self.transform_matrices(keypoints)
        kp = np.ascontiguousarray(keypoints, dtype=np.float32)
        return apply_affine(kp, mats), mats, ok

    @staticmethod
    def inverse_transform(normalized: np.ndarray, matrices: np.ndarray) -> np.ndarray:
        """Map normalized points back to image pixels with each frame's own matrix.

        Parameters
        ----------
        normalized : np.ndarray, shape (n_frames, 70, 2)
        matrices : np.ndarray, shape (n_frames, 2, 3)
            The matrices :meth:`transform` returned for the frames whose image
            coordinates are wanted (e.g. the *input* frames, to draw matches
            where the input's face is).

        Returns
        -------
        np.ndarray, shape (n_frames, 70, 2), float64
        """
        return apply_matrices(normalized, invert_matrices(matrices))

    def get_params(self) -> dict:
        return {"mode": self.mode, "anchors": list(self.anchors), "stable_points": list(self.stable_points),
                "max_condition": self.max_condition}


def apply_matrices(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Apply 2x3 affine matrices: one per frame, or one for all points.

    Parameters
    ----------
    points : np.ndarray, shape (n_frames, n_points, 2|3) or (n_points, 2|3)
    matrices : np.ndarray, shape (n_frames, 2, 3) or (2, 3)
        A single (2, 3) map applies to every point.

    Returns
    -------
    np.ndarray, shape (..., n_points, 2), float64

    Notes
    -----
    :func:`sketchsynth.database.normalize_kernels.apply_affine` is the float32 kernel that
    :meth:`Normalizer.transform` uses; this is its plain-numpy twin.
    """
    pts = np.asarray(points)
    x, y = pts[..., 0].astype(np.float64), pts[..., 1].astype(np.float64)
    m = np.asarray(matrices, dtype=np.float64)[..., None, :, :]  # (..., 1, 2, 3) broadcasts over points
    out = np.empty(np.broadcast_shapes(x.shape, m.shape[:-2]) + (2,))
    out[..., 0] = m[..., 0, 0] * x + m[..., 0, 1] * y + m[..., 0, 2]
    out[..., 1] = m[..., 1, 0] * x + m[..., 1, 1] * y + m[..., 1, 2]
    return out


def invert_matrices(matrices: np.ndarray) -> np.ndarray:
    """Inverse of each 2x3 affine matrix, shape (n, 2, 3) -> (n, 2, 3); NaN stays NaN."""
    m = np.asarray(matrices, dtype=np.float64)
    out = np.full_like(m, np.nan)
    ok = np.isfinite(m).all(axis=(1, 2))
    ok[ok] = np.abs(np.linalg.det(m[ok, :, :2])) > 1e-12
    inv = np.linalg.inv(m[ok, :, :2])
    out[ok, :, :2] = inv
    out[ok, :, 2] = -(inv @ m[ok, :, 2, None])[..., 0]
    return out
