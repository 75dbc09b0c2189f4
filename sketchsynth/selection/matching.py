"""Per-frame matching, the method's way: for every input frame the nearest database frame.

Target cost between an input frame p and a database frame q (both normalized):

- ``metric="sum"`` (the method's): ``sum_i w_i * |p_i - q_i|``
- ``metric="sq"``: ``sum_i w_i * |p_i - q_i|^2``

with the database's weights, and weight 0 for points the input frame lacks
(confidence 0). FAISS's top-K on the squared metric is a prefilter and the K
candidates are re-ranked exactly; ``sq`` is exact with ``search="exact"`` (the
flat index). On large databases ``search="auto"`` (the default) uses an
approximate IVF index instead (:class:`sketchsynth.selection.search.IVFSearch`).
``exhaustive=True`` computes the true minimum over every usable frame.
"""

from __future__ import annotations

import numpy as np

from .result import MatchResult


def match(db, keypoints: np.ndarray, metric: str = "sum", k: int | None = None,
          exhaustive_search: bool = False, decoder=None, frames=None, search: str = "auto",
          ivf=None) -> MatchResult:
    """Pick the nearest database frame for each input frame, or the best sequence.

    Parameters
    ----------
    db : FrameDatabase
    keypoints : np.ndarray, shape (n_frames, 70, 3)
        Input frames in image pixels with confidence.
    metric : {"sum", "sq"}
    k : int, optional
        FAISS candidates per frame (the prefilter's width); None (default):
        :data:`COMPRESSED_PREFILTER_K` through a compressed index, else
        :data:`DEFAULT_PREFILTER_K`.
    exhaustive_search : bool
        Search every usable database frame (numba, early abandoning, seeded with
        the prefilter's best) instead of trusting the prefilter.
    decoder : ViterbiDecoder, optional
        Choose the whole sequence at once (:mod:`sketchsynth.selection.decode`); the
        prefilter is widened to the decoder's ``candidates`` if needed. Needs at
        least 2 usable input frames.
    frames : np.ndarray, shape (n_frames,), int, optional
        The input's frame numbers; with a decoder, a hole in them starts a new
        segment (no join across it).
    search : {"auto", "exact", "ivf", "pq"}
        The prefilter: ``exact`` searches the database's flat index (every
        frame); ``ivf`` an approximate inverted-file index trained at the first
        match on the database and cached (:class:`sketchsynth.selection.search.IVFSearch`);
        ``pq`` the database's own compressed index (built with ``--index
        ivfpq``); ``auto`` takes the compressed index when there is one, else
        the IVF on databases of at least ``ivf.min_frames`` usable frames, else
        the flat index (see :func:`sketchsynth.selection.search.resolve_search`). The
        re-rank is exact either way.
    ivf : IVFSearch, optional
        The IVF's parameters (``nprobe``, ``min_frames``...); default ``IVFSearch()``.

    Returns
    -------
    MatchResult
    """
    from ..targets.face import keypoint_target
    from .lattice import build_lattice

    target = keypoint_target(db, keypoints, frames)
    if decoder is not None:
        from .select import select

        return select(db, target, decoder, metric, k, search, ivf, exhaustive_search).result
    lat = build_lattice(db, target, k, metric, search, ivf, exhaustive_search)
    return MatchResult(target.keypoints, target.points, target.matrices, target.usable, target.reason, target.weights,
                       lat.rows, lat.best, lat.candidates, lat.costs, metric, lat.k, bool(exhaustive_search),
                       {**target.timings, **lat.timings}, search=lat.search, search_info=lat.search_info)


def agreement(rows_a, cost_a, rows_b, cost_b, rtol: float = 1e-9) -> np.ndarray:
    """Frames where two searches chose the same frame or frames of equal cost (ties).

    Returns
    -------
    np.ndarray, shape (n_frames,), bool
    """
    same = rows_a == rows_b
    tie = np.isclose(cost_a, cost_b, rtol=rtol, atol=0)
    return same | tie | (np.isnan(cost_a) & np.isnan(cost_b))
