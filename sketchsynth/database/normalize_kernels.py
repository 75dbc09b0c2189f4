"""The normalization's numba kernel: one affine map per frame (twin:
:func:`sketchsynth.database.normalize.apply_matrices`)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, parallel=True)
def apply_affine(points, mats):
    """x' = M[:, :2] @ x + M[:, 2] per frame, in one pass.

    points (n, P, C>=2) f32; mats (n, 2, 3) f64. Returns (n, P, 2) f32; NaN matrices give NaN.
    """
    n, p_n = points.shape[0], points.shape[1]
    out = np.empty((n, p_n, 2), dtype=np.float32)
    for i in numba.prange(n):
        a, b, c = mats[i, 0, 0], mats[i, 0, 1], mats[i, 0, 2]
        d, e, f = mats[i, 1, 0], mats[i, 1, 1], mats[i, 1, 2]
        for p in range(p_n):
            x = np.float64(points[i, p, 0])
            y = np.float64(points[i, p, 1])
            out[i, p, 0] = a * x + b * y + c
            out[i, p, 1] = d * x + e * y + f
    return out
