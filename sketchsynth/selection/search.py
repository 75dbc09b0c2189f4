"""Candidate retrieval: FAISS top-K on the weighted squared metric, exact re-rank.

The FAISS index holds every usable database frame as the 140-vector
``sqrt(w_i) * (x_i, y_i)`` so that its L2 distance is the weighted squared
distance ``sum_i w_i |p_i - q_i|^2``. The method's own metric, the weighted sum of
point distances ``sum_i w_i |p_i - q_i|``, is not an L2 distance; FAISS's top-K
serves as a prefilter and the candidates are re-ranked exactly.

Input points with confidence 0 get weight 0 for their frame. Frames sharing the
same set of missing points are searched together on the remaining coordinates
(FAISS brute force on a column slice), so the squared metric stays exact.

**Approximate prefilter.** On a large database the flat search is bound by the
N distances it must produce per input frame. :class:`~sketchsynth.selection.ivf.IVFSearch` (FAISS
``IndexIVFFlat``: k-means cells, only the ``nprobe`` cells nearest to the query
scanned) finds nearly the same top-K in a fraction of the time; the exact
re-rank then picks among them as before. It is not part of the database (which
is immutable and checksummed, and whose build time is budgeted): it is trained
at the first match on a database and cached under ``$SKETCHSYNTH_CACHE/ivf``
(default ``~/.cache/sketchsynth/ivf``), keyed by the sha256 of the database's
``index.faiss`` and the IVF's parameters. The cache holds only what training
learns (cell centroids and each frame's cell); the vectors come from the
database. ``search="auto"`` uses it on databases of at least
:attr:`~sketchsynth.selection.ivf.IVFSearch.min_frames` usable frames; ``search="exact"`` keeps the flat
index. Frames with missing points always take the exact column-slice path
(an IVF cannot search a subset of the coordinates).

**Compressed databases.** A database built with a compressed index
(:mod:`sketchsynth.database.indexes`: IVF-PQ or IVF-SQ8, the default from 500,000 usable
frames on) holds no flat vectors: ``search="auto"`` (or ``"pq"``) searches its
index (:class:`CompressedSearch`), and every exact search (``"exact"``, the
column-slice path, ``exhaustive``) streams the usable frames from
``normalized.npy`` in blocks of :data:`EXACT_BLOCK` rows instead of holding
them. The re-rank reads only the candidates' rows of the memory-mapped
``normalized.npy``.
"""

from __future__ import annotations

import os

import numpy as np

from . import kernels as _kernels
from ..database.index_vectors import weighted_vectors
from ..errors import ParameterError


METRICS = {"sum": _kernels.METRIC_SUM, "sq": _kernels.METRIC_SQ}
EXACT_BLOCK = 262_144
"""Usable frames per block of a streamed exact search (147 MB of float32 vectors)."""


def check_metric(metric: str) -> int:
    if metric not in METRICS:
        raise ParameterError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return METRICS[metric]


def knn_sq(db, queries: np.ndarray, qweights: np.ndarray, k: int, ivf=None,
           info: dict | None = None) -> np.ndarray:
    """Rows of the ``k`` nearest usable database frames by weighted squared distance.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
        Normalized input frames (all finite).
    qweights : np.ndarray, shape (n, 70)
        The database's weights, with 0 for points missing in the input.
    k : int
    ivf : IVFSearch or CompressedSearch, optional
        Search the frames that have every point through this approximate index
        (:meth:`IVFSearch.search`); None (default) searches the flat index, exactly.
        Frames with missing points take the exact column-slice path either way.
    info : dict, optional
        Receives how many frames each path searched (``ivf_frames``,
        ``flat_frames``, ``column_slice_frames``) and, with ``ivf``, what
        :meth:`IVFSearch.index` reports.

    Returns
    -------
    np.ndarray, shape (n, k), int64
        Database rows, nearest first by FAISS's float32 distance; -1 pads
        when fewer than ``k`` frames exist.
    """
    import faiss

    info = {} if info is None else info
    for name in ("ivf_frames", "flat_frames", "column_slice_frames"):
        info.setdefault(name, 0)
    n = len(queries)
    k = min(k, db.n_usable_)
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or k == 0:
        return out
    full = qweights > 0
    # Rows of 70 bools packed into 9 bytes: np.unique(axis=0) on those is ~10x faster than on the bools.
    packed = np.packbits(full, axis=1)
    _, first, inverse = np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel(), return_index=True,
                                  return_inverse=True)
    patterns = full[first]
    inverse = inverse.reshape(-1)
    vq = weighted_vectors(queries, db.weights_)
    for p_i, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse == p_i)
        if pattern.all():
            if ivf is not None:
                ids = ivf.search(db, np.ascontiguousarray(vq[rows]), k, info)
            else:
                ids = exact_knn(db, vq[rows], k)
                info["flat_frames"] += len(rows)
        elif not pattern.any():
            continue  # nothing to compare: no candidates
        else:
            cols = np.repeat(pattern, 2)
            if is_streamed(db):
                ids = exact_knn(db, vq[rows], k, cols)
            else:
                xb = np.ascontiguousarray(db.usable_vectors()[:, cols])
                _, pos = faiss.knn(np.ascontiguousarray(vq[rows][:, cols]), xb, k)
                ids = np.where(pos >= 0, db.usable_rows_[np.maximum(pos, 0)], -1)
            info["column_slice_frames"] += len(rows)
        out[rows] = ids
    return out


def is_compressed(db) -> bool:
    return getattr(db, "index_info_", {"kind": "flat"}).get("kind", "flat") != "flat"


def is_streamed(db) -> bool:
    """Whether exact searches stream the frames in blocks (a compressed or a large database)."""
    return is_compressed(db) or db.n_usable_ > EXACT_BLOCK


def usable_blocks(db, block: int = EXACT_BLOCK):
    """The usable frames a block at a time, without holding them all.

    Yields
    ------
    rows : np.ndarray, shape (m,), int64
        Database rows, ascending.
    points : np.ndarray, shape (m, 70, 2), float32
        Their normalized points, read with ``pread`` from the database's
        normalized.npy when it is on disk (mapped pages would stay resident),
        else sliced from memory.
    """
    from ..io.npy import read_npy_rows

    path = getattr(db, "path_", None)
    f = None if path is None else os.path.join(path, "normalized.npy")
    use_file = f is not None and isinstance(getattr(db.normalized_, "base", None), np.memmap) and os.path.isfile(f)
    u = db.usable_rows_
    for a in range(0, len(u), block):
        rows = u[a:a + block]
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        pts = read_npy_rows(f, lo, hi) if use_file else np.asarray(db.normalized_[lo:hi])
        yield rows, pts[rows - lo]


def exact_knn(db, vectors: np.ndarray, k: int, cols: np.ndarray | None = None) -> np.ndarray:
    """Exact ``k`` nearest usable database rows by L2 in FAISS space (the weighted squared distance).

    Parameters
    ----------
    db : FrameDatabase
    vectors : np.ndarray, shape (n, 140), float32
        Queries (:func:`weighted_vectors`).
    k : int
        At most ``db.n_usable_``.
    cols : np.ndarray, shape (140,), bool, optional
        Compare only these coordinates (points missing in the queries left out).

    Returns
    -------
    np.ndarray, shape (n, k), int64
        Database rows, nearest first. The flat index when the database has one
        and ``cols`` is None; otherwise the usable frames streamed block by block
        (:func:`usable_blocks`) through ``faiss.knn``, best ``k`` kept.
    """
    import faiss

    q = np.ascontiguousarray(vectors, np.float32)
    if cols is None and not is_compressed(db):
        return db.index_.search(q, k)[1]
    if cols is not None:
        q = np.ascontiguousarray(q[:, cols])
    best_d = np.full((len(q), k), np.inf, np.float32)
    best_i = np.full((len(q), k), -1, np.int64)
    for rows, pts in usable_blocks(db):
        xb = weighted_vectors(pts, db.weights_)
        xb = np.ascontiguousarray(xb if cols is None else xb[:, cols])
        kk = min(k, len(xb))
        d, pos = faiss.knn(q, xb, kk)
        d_all = np.concatenate([best_d, d], axis=1)
        i_all = np.concatenate([best_i, np.where(pos >= 0, rows[np.maximum(pos, 0)], -1)], axis=1)
        # stable: on equal distances the earlier (lower) rows stay first
        order = np.argsort(d_all, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(d_all, order, 1)
        best_i = np.take_along_axis(i_all, order, 1)
    return best_i


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
        tied = np.lexsort((cand[ties], cost[ties]), axis=-1)
        r_sorted[ties] = np.take_along_axis(cand[ties], tied, 1)
        c_sorted[ties] = np.take_along_axis(cost[ties], tied, 1)
    return r_sorted, c_sorted


def candidate_costs_reference(db_points, queries, qweights, cand, metric: str) -> np.ndarray:
    """Plain-numpy twin of :func:`sketchsynth.selection.kernels.candidate_costs` (tests only)."""
    d = np.linalg.norm(db_points[np.maximum(cand, 0)].astype(np.float64)
                       - queries[:, None].astype(np.float64), axis=-1)
    d = d if metric == "sum" else d ** 2
    cost = (d * qweights[:, None, :]).sum(-1)
    return np.where(cand < 0, np.inf, cost)


