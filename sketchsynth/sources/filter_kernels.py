"""The One-Euro filter's numba kernels (their plain-numpy twin is
:func:`sketchsynth.sources.filters.one_euro_reference`)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def one_euro(xy, valid, restart, dt, min_cutoff, beta, d_cutoff, scale):
    """One-Euro filter of every point's 2-D trajectory (Casiez et al. 2012).

    The cut-off follows the point's filtered speed (2-D, divided by ``scale``), so
    x and y of a point share it. A point restarts (output = input) at its first
    valid sample after an invalid one or after ``restart[t]``.

    xy (T, P, 2) f64; valid (T, P) bool; restart (T,) bool; dt, min_cutoff (Hz),
    beta, d_cutoff (Hz), scale: floats. Returns (T, P, 2) f64; invalid samples copied.
    """
    n, n_pts = valid.shape
    out = xy.copy()
    live = np.zeros(n_pts, np.bool_)
    h = np.zeros((n_pts, 2))
    dh = np.zeros((n_pts, 2))
    for t in range(n):
        one_euro_step(xy[t], valid[t], restart[t], dt, min_cutoff, beta, d_cutoff, scale, live, h, dh, out[t])
    return out


@numba.njit(cache=True)
def one_euro_step(xy, valid, restart, dt, min_cutoff, beta, d_cutoff, scale, live, h, dh, out):
    """One frame of :func:`one_euro` (a live stream filters frame by frame).

    xy (P, 2) f64, valid (P,) bool, restart bool; the state live (P,) bool, h and dh (P, 2) f64 (all zero at
    the start) is updated in place; out (P, 2) f64 receives the filtered points (invalid points untouched).
    """
    a_d = 1.0 / (1.0 + 1.0 / (2.0 * np.pi * d_cutoff * dt))
    for p in range(valid.shape[0]):
        if restart:
            live[p] = False
        if not valid[p]:
            live[p] = False
            continue
        x = xy[p, 0]
        y = xy[p, 1]
        if not live[p]:
            h[p, 0] = x
            h[p, 1] = y
            dh[p, 0] = 0.0
            dh[p, 1] = 0.0
            live[p] = True
        else:
            dh[p, 0] = a_d * (x - h[p, 0]) / dt + (1.0 - a_d) * dh[p, 0]
            dh[p, 1] = a_d * (y - h[p, 1]) / dt + (1.0 - a_d) * dh[p, 1]
            cutoff = min_cutoff + beta * np.sqrt(dh[p, 0] * dh[p, 0] + dh[p, 1] * dh[p, 1]) / scale
            a = 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * dt))
            h[p, 0] = a * x + (1.0 - a) * h[p, 0]
            h[p, 1] = a * y + (1.0 - a) * h[p, 1]
        out[p, 0] = h[p, 0]
        out[p, 1] = h[p, 1]
