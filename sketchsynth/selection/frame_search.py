"""Candidates for a stream of targets that share one weight pattern (a live speech target: the mouth points).

The batch prefilter (:func:`sketchsynth.selection.search.knn_sq`) slices the database's vectors to the
pattern's coordinates at every call; a live engine calls it 25 times a second, so :class:`FrameSearch`
indexes the slice once. Ranking and costs are the batch ones: FAISS L2 in ``sqrt(db weights)`` space on the
pattern's coordinates, then the exact re-rank (:func:`sketchsynth.selection.search.rerank`).
"""

from __future__ import annotations

import numpy as np

from ..database.index_vectors import weighted_vectors
from .search import is_streamed, knn_sq, rerank


class FrameSearch:
    """Top-k database frames for targets weighing the points of one pattern.

    Parameters
    ----------
    db : FrameDatabase
    pattern : np.ndarray, shape (70,), bool
        The points the targets weigh.
    k : int
        Prefilter width (the batch lattice's default 256).
    metric : {"sum", "sq"}

    Attributes
    ----------
    index_ : faiss.IndexFlatL2 or None
        The pattern's column slice of the usable frames (None on a database too large to hold it: each
        search then streams the frames as the batch does).
    """

    def __init__(self, db, pattern, k: int = 256, metric: str = "sum"):
        self.db, self.pattern, self.k, self.metric = db, np.asarray(pattern, bool), int(k), metric

    def fit(self) -> "FrameSearch":
        """Index the usable frames' pattern columns; returns self."""
        import faiss

        self.cols_ = np.repeat(self.pattern, 2)
        self.index_ = None
        if not is_streamed(self.db):
            xb = np.ascontiguousarray(self.db.usable_vectors()[:, self.cols_])
            self.index_ = faiss.IndexFlatL2(xb.shape[1])
            self.index_.add(xb)
        return self

    def search(self, points: np.ndarray, weights: np.ndarray):
        """Candidates of targets with this pattern.

        Parameters
        ----------
        points : np.ndarray, shape (n, 70, 2), float32
            Normalized target points.
        weights : np.ndarray, shape (n, 70), float64
            Their weights (non-zero exactly on the pattern).

        Returns
        -------
        cand : np.ndarray, shape (n, k), int64
            Database rows, best first by exact target cost (-1 pads).
        cost : np.ndarray, shape (n, k), float64
        """
        db = self.db
        k = min(self.k, db.n_usable_)
        if self.index_ is None:
            ids = knn_sq(db, points, np.where(weights > 0, db.weights_[None], 0.0), k)
        else:
            vq = weighted_vectors(points, db.weights_)[:, self.cols_]
            _, pos = self.index_.search(np.ascontiguousarray(vq), k)
            ids = np.where(pos >= 0, db.usable_rows_[np.maximum(pos, 0)], -1)
        return rerank(db, points, weights, ids, self.metric)
