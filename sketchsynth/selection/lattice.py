"""The decoder's input: every output frame's candidate database frames and their target costs.

:func:`build_lattice` turns a :class:`~sketchsynth.targets.target.Target` into a :class:`Lattice`:
the FAISS prefilter and exact re-rank of the target's points (:mod:`sketchsynth.selection.search`),
optionally the exhaustive minimum, the target's audio-feature term, and its phone term. The decoder
(:class:`sketchsynth.selection.decode.ViterbiDecoder`) sees nothing but the lattice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from .search import rerank


@dataclass
class Lattice:
    """Candidates per output frame, best first.

    Attributes
    ----------
    candidates : np.ndarray, shape (T, K), int64
        Database rows, best first by target cost; -1 pads.
    costs : np.ndarray, shape (T, K), float64
        Their target costs (inf where padded).
    usable : np.ndarray, shape (T,), bool
        Frames with at least one candidate.
    rows, best : np.ndarray, shape (T,)
        The per-frame choice (int64, -1 where unusable) and its cost (float64, NaN where unusable):
        the first candidate, or the exhaustive search's minimum.
    points : np.ndarray, shape (T, 70, 2), float32
        The target in normalized space, with which the decoder costs the recorded successors it adds.
    weights : np.ndarray, shape (T, 70), float64
        The target's point weights.
    metric : {"sum", "sq"}
    k : int
        The prefilter's width.
    exhaustive : bool
        ``rows`` come from the exhaustive search (they lead each column when decoding).
    successors : bool
        The decoder may add recorded successors of its best states, costing them by ``points`` (and
        ``features``). False when ``costs`` hold a term only the candidates carry (phones).
    features : FeatureTerm, optional
        Already in ``costs``; the decoder adds it to the successors it puts in the lattice.
    frames : np.ndarray, shape (T,), int64, optional
        Input frame numbers (a hole starts a new segment).
    search : str
        The prefilter used (``exact``, ``ivf``, ``pq``; ``phones`` for phone candidates).
    search_info : dict
    timings : dict
    joins : JoinTerm, optional
        Added by the decoder to every join cost (:class:`sketchsynth.selection.joins.JoinTerm`).
    """

    candidates: np.ndarray
    costs: np.ndarray
    usable: np.ndarray
    rows: np.ndarray
    best: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    metric: str = "sum"
    k: int = 0
    exhaustive: bool = False
    successors: bool = True
    features: object = None
    frames: np.ndarray | None = None
    search: str = "exact"
    search_info: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    joins: object = None

    def __len__(self):
        return len(self.usable)


def build_lattice(db, target, k: int | None = None, metric: str = "sum", search: str = "auto", ivf=None,
                  exhaustive: bool = False, candidates: int = 0) -> Lattice:
    """The lattice of a target: prefilter + exact re-rank, then the target's extra terms.

    Parameters
    ----------
    db : FrameDatabase
    target : Target
    k : int, optional
        Prefilter width (default: :func:`sketchsynth.selection.candidates.default_prefilter_k`); widened to
        ``candidates``.
    metric : {"sum", "sq"}
    search : {"auto", "exact", "ivf", "pq"}
        See :func:`sketchsynth.selection.matching.match`.
    ivf : IVFSearch, optional
    exhaustive : bool
        Also find every frame's exact minimum over the whole database.
    candidates : int
        The decoder's column width (a phone term keeps this many keypoint candidates before adding its own).

    Returns
    -------
    Lattice
    """
    from .candidates import candidates as search_candidates, default_prefilter_k
    from .search import check_metric
    from .exhaustive import exhaustive as exhaustive_search
    from .ivf import resolve_search

    check_metric(metric)
    T = len(target)
    phones = target.phones
    if phones is not None and phones.only:
        lat = phone_lattice(db, target)
        lat.frames = target.frames
        return lat
    ivf = resolve_search(db, search, ivf)
    k = default_prefilter_k(k, ivf)
    if int(k) != k or k < 1:
        raise ParameterError(f"-k must be a whole number >= 1, got {k}")
    k = max(int(k), int(candidates))
    t0 = time.perf_counter()
    info = {}
    cand, cost = search_candidates(db, target.points, target.usable, target.weights, k, metric, ivf=ivf, info=info)
    usable = target.usable & (cand[:, 0] >= 0) if cand.shape[1] else np.zeros(T, bool)
    rows = np.where(usable, cand[:, 0] if cand.shape[1] else -1, -1).astype(np.int64)
    best = np.where(usable, cost[:, 0] if cost.shape[1] else np.nan, np.nan)
    timings = {"search_s": time.perf_counter() - t0}
    if "index_s" in info:  # getting the IVF index (trained, read from the cache or held in memory) is in search_s
        timings["ivf_index_s"] = info["index_s"]
    if exhaustive and usable.any():
        t1 = time.perf_counter()
        u = np.flatnonzero(usable)
        rows[u], best[u] = exhaustive_search(db, target.points[u], target.weights[u], rows[u], best[u], metric)
        timings["exhaustive_s"] = time.perf_counter() - t1
    term = target.features if target.features is not None and target.features.beta > 0 else None
    if term is not None:
        from ..targets.feature_term import rerank_with

        u = np.flatnonzero(usable)
        term.scaled(u, cand[u, 0], cost[u, 0])
        cand[u], cost[u] = rerank_with(term, cand[u], cost[u], u)
        if exhaustive:  # the keypoint minimum, costed as the lattice costs it
            best[u] += term.weight * term.distances(u, rows[u][:, None])[:, 0]
        else:
            rows[u], best[u] = cand[u, 0], cost[u, 0]
    lat = Lattice(cand, cost, usable, rows, best, target.points, target.weights, metric, int(k), bool(exhaustive),
                  True, term, target.frames, "exact" if ivf is None else ivf.name,
                  {n: v for n, v in info.items() if n != "index_s"}, timings)
    if phones is not None:
        lat = phone_lattice(db, target, lat, keep=int(candidates))
    return lat


def phone_lattice(db, target, lattice=None, keep: int = 0) -> Lattice:
    """The lattice of a target with a phone term (``target.phones``, a
    :class:`~sketchsynth.targets.text.target.PhoneTerm`).

    Parameters
    ----------
    db : FrameDatabase
    target : Target
        With ``phones`` set.
    lattice : Lattice, optional
        The keypoint target's (``only`` False); its first ``keep`` candidates are kept (all when 0).

    Returns
    -------
    Lattice
        Its costs hold the phone term, so the decoder adds no recorded successors (``successors``
        False); the phone candidates hold them wherever the database says the same phones in a row.
    """
    term = target.phones
    if len(term.phones) != len(target):
        raise ParameterError(f"{len(term.phones)} phone frames for {len(target)} target frames")
    if term.only:
        cand, cost = term.phone_target.transform(term.phones)
        T = len(cand)
        usable = cand[:, 0] >= 0 if cand.shape[1] else np.zeros(T, bool)
        return Lattice(cand, cost, usable, np.where(usable, cand[:, 0], -1), np.where(usable, cost[:, 0], np.nan),
                       np.zeros((T, 70, 2), np.float32), np.zeros((T, 70)), "sum", cand.shape[1], False, False,
                       search="phones")
    from dataclasses import replace

    cand, cost = _add_phone_candidates(db, lattice, keep, term.phones, term.phone_target, term.weight)
    return replace(lattice, candidates=cand, costs=cost, k=cand.shape[1], successors=False,
                   rows=np.where(lattice.usable, cand[:, 0], -1),
                   best=np.where(lattice.usable, cost[:, 0], np.nan))


def _add_phone_candidates(db, lattice, keep: int, inp, target, weight: float):
    """A keypoint lattice's first ``keep`` candidates plus the phone target's, costed by both.

    Returns
    -------
    cand : np.ndarray, shape (T, K), int64
        The union (keypoint costs computed exactly for the phone candidates), best first; -1 pads.
    cost : np.ndarray, shape (T, K), float64
        keypoint cost + weight * phone cost.
    """
    from ..targets.text.target import subset

    kc0 = lattice.candidates[:, :keep] if keep else lattice.candidates
    pc, _ = target.transform(inp)
    both = np.concatenate([kc0, pc], axis=1)
    both = np.where(both >= 0, both, -1)
    u = np.flatnonzero(lattice.usable)
    T, K = both.shape
    cand = np.full((T, K), -1, np.int64)
    cost = np.full((T, K), np.inf)
    if len(u):
        # unique per row, keeping -1 pads at the end
        srt = np.sort(np.where(both[u] >= 0, both[u], np.iinfo(np.int64).max), axis=1)
        dup = np.zeros_like(srt, bool)
        dup[:, 1:] = srt[:, 1:] == srt[:, :-1]
        srt[dup] = np.iinfo(np.int64).max
        srt = np.sort(srt, axis=1)
        srt[srt == np.iinfo(np.int64).max] = -1
        # drop unusable database rows: rerank and the decoder only know usable ones
        usable_db = np.asarray(db.table_["usable"], bool)
        srt = np.where((srt >= 0) & usable_db[np.where(srt >= 0, srt, 0)], srt, -1)
        srt = -np.sort(-srt, axis=1)  # valid rows first (descending puts -1 last)
        kc, kcost = rerank(db, lattice.points[u], lattice.weights[u], srt, lattice.metric)
        ph = target.frame_costs(subset(inp, u), kc)
        total = kcost + weight * ph
        total[kc < 0] = np.inf
        o = np.argsort(total, axis=1, kind="stable")
        cand[u] = np.take_along_axis(kc, o, 1)
        cost[u] = np.take_along_axis(total, o, 1)
    return cand, cost
