"""Candidate retrieval: FAISS top-K on the weighted squared metric, exact re-rank.

The FAISS index holds every usable database frame as the 140-vector
``sqrt(w_i) * (x_i, y_i)`` so that its L2 distance is the weighted squared
distance ``sum_i w_i |p_i - q_i|^2``. The method's own metric, the weighted sum of
point distances ``sum_i w_i |p_i - q_i|``, is not an L2 distance; FAISS's top-K
serves as a prefilter and the candidates are re-ranked exactly.

Input points with confidence 0 get weight 0 for their frame. Frames sharing the
same set of missing points are searched together on the remaining coordinates
(FAISS brute force on a column slice), so the squared metric stays exact.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .errors import ParameterError

METRICS = {"sum": _kernels.METRIC_SUM, "sq": _kernels.METRIC_SQ}


def check_metric(metric: str) -> int:
    if metric not in METRICS:
        raise ParameterError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return METRICS[metric]


def weighted_vectors(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Flatten frames into FAISS space.

    Parameters
    ----------
    points : np.ndarray, shape (n_frames, 70, 2)
        Normalized coordinates.
    weights : np.ndarray, shape (70,) or (n_frames, 70)

    Returns
    -------
    np.ndarray, shape (n_frames, 140), float32, C-contiguous
        L2 distance between two rows = weighted squared distance of the frames.
    """
    w = np.sqrt(np.asarray(weights, dtype=np.float32))
    v = np.asarray(points, dtype=np.float32)[..., :2] * w[..., None]
    return np.ascontiguousarray(v.reshape(len(v), -1), dtype=np.float32)


def build_index(vectors: np.ndarray, ids: np.ndarray):
    """A flat (exact) L2 FAISS index over ``vectors`` that returns database rows.

    Parameters
    ----------
    vectors : np.ndarray, shape (n_usable, 140), float32
    ids : np.ndarray, shape (n_usable,), int64
        Database row of each vector.
    """
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatL2(vectors.shape[1]))
    index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    return index


def knn_sq(db, queries: np.ndarray, qweights: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` nearest usable database frames by weighted squared distance.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
        Normalized input frames (all finite).
    qweights : np.ndarray, shape (n, 70)
        The database's weights, with 0 for points missing in the input.
    k : int

    Returns
    -------
    np.ndarray, shape (n, k), int64
        Database rows, nearest first by FAISS's float32 distance; -1 pads
        when fewer than ``k`` frames exist.
    """
    import faiss

    n = len(queries)
    k = min(k, db.n_usable_)
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or k == 0:
        return out
    full = qweights > 0
    patterns, inverse = np.unique(full, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    vq = weighted_vectors(queries, db.weights_)
    for p_i, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse == p_i)
        if pattern.all():
            _, ids = db.index_.search(np.ascontiguousarray(vq[rows]), k)
        elif not pattern.any():
            continue  # nothing to compare: no candidates
        else:
            cols = np.repeat(pattern, 2)
            xb = np.ascontiguousarray(db.usable_vectors()[:, cols])
            _, pos = faiss.knn(np.ascontiguousarray(vq[rows][:, cols]), xb, k)
            ids = np.where(pos >= 0, db.usable_rows_[np.maximum(pos, 0)], -1)
        out[rows] = ids
    return out


def rerank(db, queries, qweights, cand, metric: str):
    """Exact target costs of candidates, sorted best first.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
    qweights : np.ndarray, shape (n, 70)
    cand : np.ndarray, shape (n, k), int64
        Database rows (-1 = none).
    metric : {"sum", "sq"}

    Returns
    -------
    cand : np.ndarray, shape (n, k), int64
        Re-ordered by exact cost (ties: lower row first).
    cost : np.ndarray, shape (n, k), float64
        inf where there is no candidate.
    """
    code = check_metric(metric)
    cost = _kernels.candidate_costs(db.normalized_, np.ascontiguousarray(queries, np.float32),
                                    np.ascontiguousarray(qweights, np.float64), cand, code)
    if not cand.size:
        return cand, cost
    # A plain argsort is ~10x faster than lexsort on (3000, 256); only rows where two different
    # candidates tie on cost need the lexsort's tie-break (lower row first).
    order = np.argsort(cost, axis=-1)
    c_sorted = np.take_along_axis(cost, order, 1)
    r_sorted = np.take_along_axis(cand, order, 1)
    ties = np.flatnonzero(((c_sorted[:, 1:] == c_sorted[:, :-1]) & (r_sorted[:, 1:] != r_sorted[:, :-1])).any(1))
    if ties.size:
        order[ties] = np.lexsort((cand[ties], cost[ties]), axis=-1)
    return np.take_along_axis(cand, order, 1), np.take_along_axis(cost, order, 1)


def candidate_costs_reference(db_points, queries, qweights, cand, metric: str) -> np.ndarray:
    """Plain-numpy twin of :func:`sketchsynth._kernels.candidate_costs` (tests only)."""
    d = np.linalg.norm(db_points[np.maximum(cand, 0)].astype(np.float64)
                       - queries[:, None].astype(np.float64), axis=-1)
    d = d if metric == "sum" else d ** 2
    cost = (d * qweights[:, None, :]).sum(-1)
    return np.where(cand < 0, np.inf, cost)


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
    dbp = db.usable_permuted()
    pos_of_row = np.full(len(db.normalized_), -1, dtype=np.int64)
    pos_of_row[db.usable_rows_] = np.arange(db.n_usable_)
    seed_pos = np.where(seed_rows >= 0, pos_of_row[np.maximum(seed_rows, 0)], 0)
    seed_costs = np.where(seed_rows >= 0, seed_costs, np.inf).astype(np.float64)
    qp = np.ascontiguousarray(np.asarray(queries, np.float32)[:, order])
    wp = np.ascontiguousarray(np.asarray(qweights, np.float64)[:, order])
    pos, cost = _kernels.exhaustive_min(dbp, qp, wp, seed_costs, seed_pos.astype(np.int64), code)
    return db.usable_rows_[pos], cost


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
