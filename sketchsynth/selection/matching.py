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

from dataclasses import dataclass, field

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


@dataclass
class MatchResult:
    """What :func:`match` found for every input frame.

    Attributes
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        The input as read (image pixels).
    normalized : np.ndarray, shape (n_frames, 70, 2), float32
        Input in the database's normalized space (NaN where unusable).
    matrices : np.ndarray, shape (n_frames, 2, 3), float64
        Input image -> normalized maps.
    usable : np.ndarray, shape (n_frames,), bool
    reason : np.ndarray, shape (n_frames,), object
        Why an input frame is unusable ("" when usable).
    qweights : np.ndarray, shape (n_frames, 70), float64
        Point weights per frame (0 for points the input lacks).
    rows : np.ndarray, shape (n_frames,), int64
        Chosen database row, -1 for unusable input frames.
    target_cost : np.ndarray, shape (n_frames,), float64
        NaN for unusable input frames.
    candidates, candidate_costs : np.ndarray, shape (n_frames, k)
        Re-ranked candidates (database rows) and their exact costs, best first.
    decoding : Decoding or None
        When :func:`match` ran a decoder: its whole-sequence choice, which
        ``rows`` and ``target_cost`` then hold; the per-frame choice stays in
        ``frame_rows`` and ``frame_cost``.
    join_cost, is_jump : np.ndarray, shape (n_frames,), or None
        The decoding's join cost from the previous frame (NaN where none) and
        whether the choice leaves the previous choice's recording.
    search : {"exact", "ivf"}
        The prefilter used: the flat index or the approximate IVF index.
    search_info : dict
        How the prefilter ran: frames per path (``ivf_frames``,
        ``flat_frames``, ``column_slice_frames``) and, for the IVF, ``nlist``,
        ``nprobe``, where its index came from (``index``: memory, cache or
        built) and ``cache_file``.
    """

    keypoints: np.ndarray
    normalized: np.ndarray
    matrices: np.ndarray
    usable: np.ndarray
    reason: np.ndarray
    qweights: np.ndarray
    rows: np.ndarray
    target_cost: np.ndarray
    candidates: np.ndarray
    candidate_costs: np.ndarray
    metric: str
    k: int
    exhaustive: bool
    timings: dict = field(default_factory=dict)
    decoding: object = None
    frame_rows: np.ndarray | None = None
    frame_cost: np.ndarray | None = None
    join_cost: np.ndarray | None = None
    is_jump: np.ndarray | None = None
    search: str = "exact"
    search_info: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.rows)


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
