"""How a database's frames follow each other: recorded successors among usable frames, and frame distances."""

from __future__ import annotations

import numpy as np


def usable_links(db) -> tuple[np.ndarray, np.ndarray]:
    """Recording successor and predecessor of every row, among usable frames only.

    Returns
    -------
    succ : np.ndarray, shape (n_frames,), int64
        ``db.successor_`` where that frame is usable, else -1.
    prev : np.ndarray, shape (n_frames,), int64
        The row whose usable successor this row is, else -1.
    """
    usable = np.asarray(db.table_["usable"], bool)
    succ = np.asarray(db.successor_, dtype=np.int64)
    ok = succ >= 0
    ok[ok] = usable[succ[ok]]
    ok &= usable
    succ = np.where(ok, succ, -1)
    prev = np.full(len(succ), -1, dtype=np.int64)
    prev[succ[ok]] = np.flatnonzero(ok)
    return succ, prev


def frame_distance(db, a: np.ndarray, b: np.ndarray, metric: str = "sum") -> np.ndarray:
    """Weighted distance between database frames, with the database's full weights.

    Parameters
    ----------
    db : FrameDatabase
    a, b : np.ndarray, shape (n,), int
        Database rows.
    metric : {"sum", "sq"}

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    d = np.linalg.norm(db.normalized_[a].astype(np.float64) - db.normalized_[b], axis=-1)
    return ((d if metric == "sum" else d ** 2) * db.weights_).sum(-1)
