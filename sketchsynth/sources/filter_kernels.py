"""The One-Euro filter's numba kernel (its plain-numpy twin is
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
    a_d = 1.0 / (1.0 + 1.0 / (2.0 * np.pi * d_cutoff * dt))
    for p in range(n_pts):
        live = False
        hx = 0.0
        hy = 0.0
        dhx = 0.0
        dhy = 0.0
        for t in range(n):
            if restart[t]:
                live = False
            if not valid[t, p]:
                live = False
                continue
            x = xy[t, p, 0]
            y = xy[t, p, 1]
            if not live:
                hx = x
                hy = y
                dhx = 0.0
                dhy = 0.0
                live = True
            else:
                dhx = a_d * (x - hx) / dt + (1.0 - a_d) * dhx
                dhy = a_d * (y - hy) / dt + (1.0 - a_d) * dhy
                cutoff = min_cutoff + beta * np.sqrt(dhx * dhx + dhy * dhy) / scale
                a = 1.0 / (1.0 + 1.0 / (2.0 * np.pi * cutoff * dt))
                hx = a * x + (1.0 - a) * hx
                hy = a * y + (1.0 - a) * hy
            out[t, p, 0] = hx
            out[t, p, 1] = hy
    return out
