"""Candidates of every output frame: the FAISS prefilter's top-K re-ranked with the exact target cost."""

from __future__ import annotations

import numpy as np

from .search import check_metric, knn_sq, rerank


DEFAULT_PREFILTER_K = 256
"""FAISS candidates re-ranked per frame; on the henan take it agreed with the
exhaustive search on 99.9% of held-out frames (top-128: 99.6%)."""


COMPRESSED_PREFILTER_K = 512
"""The same through a database's compressed (IVF-PQ) index: on the 10M-frame scale benchmark, whose
database holds ~150 near-copies of every henan frame, the top-256 by squared distance missed the
method's sum-of-distances best on 3% of frames, the top-512 on 0.7%, for ~15% more search time
(benchmarks/bench_scale.py, README)."""


def default_prefilter_k(k, ivf) -> int:
    """``k`` itself, or (``k`` None) the default width for the prefilter ``ivf`` resolves to."""
    if k is not None:
        return k
    return COMPRESSED_PREFILTER_K if getattr(ivf, "name", None) == "pq" else DEFAULT_PREFILTER_K


def candidates(db, normalized, usable, qweights, k: int | None = None, metric: str = "sum",
               ivf=None, info: dict | None = None):
    """Exactly-costed candidates for the usable input frames.

    Parameters
    ----------
    db : FrameDatabase
    normalized : np.ndarray, shape (n_frames, 70, 2), float32
    usable : np.ndarray, shape (n_frames,), bool
    qweights : np.ndarray, shape (n_frames, 70)
    k : int, optional
        Prefilter width; None: :func:`default_prefilter_k` for ``ivf``.
    metric : {"sum", "sq"}
    ivf : IVFSearch, optional
        Approximate prefilter (see :func:`sketchsynth.selection.search.knn_sq`); None: the flat index.
    info : dict, optional
        Receives :func:`sketchsynth.selection.search.knn_sq`'s report.

    Returns
    -------
    cand : np.ndarray, shape (n_frames, k), int64
        Database rows, best first by exact cost; -1 pads.
    cost : np.ndarray, shape (n_frames, k), float64
    """
    check_metric(metric)
    k = min(int(default_prefilter_k(k, ivf)), db.n_usable_)
    n = len(normalized)
    cand = np.full((n, k), -1, dtype=np.int64)
    cost = np.full((n, k), np.inf)
    rows = np.flatnonzero(usable)
    if rows.size:
        c = knn_sq(db, normalized[rows], qweights[rows], k, ivf=ivf, info=info)
        cand[rows], cost[rows] = rerank(db, normalized[rows], qweights[rows], c, metric)
    return cand, cost
