"""The vectors a database's FAISS index holds (points scaled by the square roots of their weights), and a flat index."""

from __future__ import annotations

import numpy as np


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
