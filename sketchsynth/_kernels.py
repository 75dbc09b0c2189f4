"""numba kernels for the hot loops. Private: callers check shapes and dtypes.

Each kernel has a plain-numpy twin (``*_reference`` in the module that calls it)
which the tests compare it with.

Metric codes: ``METRIC_SUM`` is the method's sum of weighted Euclidean point
distances, ``METRIC_SQ`` the weighted squared distance.
"""

from __future__ import annotations

import numba
import numpy as np

METRIC_SUM = 0
METRIC_SQ = 1


@numba.njit(cache=True, inline="always")
def _frame_cost(a, b, w, metric):
    acc = 0.0
    for p in range(a.shape[0]):
        wp = w[p]
        if wp == 0.0:
            continue
        dx = np.float64(a[p, 0]) - b[p, 0]
        dy = np.float64(a[p, 1]) - b[p, 1]
        d2 = dx * dx + dy * dy
        acc += wp * (np.sqrt(d2) if metric == METRIC_SUM else d2)
    return acc


@numba.njit(cache=True, parallel=True)
def candidate_costs(db, queries, qweights, cand, metric):
    """Exact target cost of each candidate.

    db (N, 70, 2) f32; queries (n, 70, 2) f32; qweights (n, 70) f64;
    cand (n, k) i64 rows of db, -1 = none -> cost inf. Returns (n, k) f64.
    """
    n, k = cand.shape
    out = np.empty((n, k), dtype=np.float64)
    for i in numba.prange(n):
        for j in range(k):
            c = cand[i, j]
            out[i, j] = np.inf if c < 0 else _frame_cost(db[c], queries[i], qweights[i], metric)
    return out


@numba.njit(cache=True, parallel=True)
def exhaustive_min(db_perm, queries_perm, qweights_perm, seed_cost, seed_row, metric):
    """True minimum of the target cost over every database row, with early abandoning.

    Points come pre-permuted heaviest first (lips), so a hopeless row is usually
    dropped after a few lip points; ``seed_cost`` (the prefilter's best) is the
    bound from the first row on.

    db_perm (M, 70, 2) f32; queries_perm (n, 70, 2) f32; qweights_perm (n, 70) f64;
    seed_cost (n,) f64; seed_row (n,) i64. Returns (best_row (n,) i64, best_cost (n,) f64).
    Ties keep the lowest row.
    """
    n = queries_perm.shape[0]
    m = db_perm.shape[0]
    n_pts = db_perm.shape[1]
    best_row = seed_row.copy()
    best_cost = seed_cost.copy()
    for i in numba.prange(n):
        q = queries_perm[i]
        w = qweights_perm[i]
        bound = best_cost[i]
        brow = best_row[i]
        for r in range(m):
            row = db_perm[r]
            acc = 0.0
            for p in range(n_pts):
                wp = w[p]
                if wp == 0.0:
                    continue
                dx = np.float64(row[p, 0]) - q[p, 0]
                dy = np.float64(row[p, 1]) - q[p, 1]
                d2 = dx * dx + dy * dy
                acc += wp * (np.sqrt(d2) if metric == METRIC_SUM else d2)
                if acc > bound:
                    break
            if acc < bound or (acc == bound and r < brow):
                bound = acc
                brow = r
        best_cost[i] = bound
        best_row[i] = brow
    return best_row, best_cost


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
