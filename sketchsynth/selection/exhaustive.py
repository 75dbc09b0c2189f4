"""The exhaustive search: every usable database frame costed exactly (numba, early abandoning), seeded with the
prefilter's best."""

from __future__ import annotations

import numpy as np

from . import kernels as _kernels
from .search import check_metric, is_streamed, usable_blocks


def exhaustive(db, queries, qweights, seed_rows, seed_costs, metric: str):
    """True best database frame for each query over all usable frames.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
    qweights : np.ndarray, shape (n, 70)
    seed_rows, seed_costs : np.ndarray, shape (n,)
        A known candidate (the prefilter's best) and its exact cost: the
        starting bound for early abandoning.
    metric : {"sum", "sq"}

    Returns
    -------
    rows : np.ndarray, shape (n,), int64
    costs : np.ndarray, shape (n,), float64
    """
    code = check_metric(metric)
    order = db.point_order_
    if is_streamed(db):
        return _exhaustive_streamed(db, queries, qweights, seed_rows, seed_costs, code)
    dbp = db.usable_permuted()
    pos_of_row = np.full(len(db.normalized_), -1, dtype=np.int64)
    pos_of_row[db.usable_rows_] = np.arange(db.n_usable_)
    seed_pos = np.where(seed_rows >= 0, pos_of_row[np.maximum(seed_rows, 0)], 0)
    seed_costs = np.where(seed_rows >= 0, seed_costs, np.inf).astype(np.float64)
    qp = np.ascontiguousarray(np.asarray(queries, np.float32)[:, order])
    wp = np.ascontiguousarray(np.asarray(qweights, np.float64)[:, order])
    pos, cost = _kernels.exhaustive_min(dbp, qp, wp, seed_costs, seed_pos.astype(np.int64), code)
    return db.usable_rows_[pos], cost


def _exhaustive_streamed(db, queries, qweights, seed_rows, seed_costs, code):
    """:func:`exhaustive` over the usable frames a block at a time (:func:`usable_blocks`)."""
    order = db.point_order_
    best_rows = np.asarray(seed_rows, np.int64).copy()
    best = np.where(best_rows >= 0, seed_costs, np.inf).astype(np.float64)
    qp = np.ascontiguousarray(np.asarray(queries, np.float32)[:, order])
    wp = np.ascontiguousarray(np.asarray(qweights, np.float64)[:, order])
    for rows, pts in usable_blocks(db):
        dbp = np.ascontiguousarray(pts[:, order])
        # seed position -1: a tie with the bound keeps the earlier block's (lower) row
        pos, cost = _kernels.exhaustive_min(dbp, qp, wp, best, np.full(len(qp), -1, np.int64), code)
        better = pos >= 0
        best_rows[better], best[better] = rows[pos[better]], cost[better]
    return best_rows, best


def exhaustive_reference(db_points, usable_rows, queries, qweights, metric: str):
    """The method's straightforward loop: for each input frame, every database frame.

    Plain numpy, one input frame at a time; the baseline the benchmarks time.

    Parameters
    ----------
    db_points : np.ndarray, shape (N, 70, 2)
    usable_rows : np.ndarray, shape (M,), int64
    queries : np.ndarray, shape (n, 70, 2)
    qweights : np.ndarray, shape (n, 70)

    Returns
    -------
    rows, costs : np.ndarray, shape (n,)
    """
    pts = np.asarray(db_points, dtype=np.float64)[usable_rows]
    rows = np.empty(len(queries), dtype=np.int64)
    costs = np.empty(len(queries))
    for i, (q, w) in enumerate(zip(np.asarray(queries, np.float64), np.asarray(qweights, np.float64))):
        d = np.sqrt(((pts - q) ** 2).sum(-1))
        c = ((d if metric == "sum" else d ** 2) * w).sum(-1)
        j = int(np.argmin(c))
        rows[i], costs[i] = usable_rows[j], c[j]
    return rows, costs
