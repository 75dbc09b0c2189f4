"""Fixed-lag streaming Viterbi over the selection lattice: push one input frame, get the decided frames back.

The batch decoder (:class:`~sketchsynth.selection.decode.ViterbiDecoder`) scores column ``t`` of the lattice
(input frame t's top-K candidates plus the recorded successors of column t-1's best states) as

    score[t, b] = target[t, b] + min_a (score[t-1, a] + lam * join(a, b))

and only its final backtrack needs the whole input. :class:`FixedLagViterbi` runs the same column kernel
(:func:`sketchsynth.selection.kernels.lattice_step`) one column per :meth:`~FixedLagViterbi.push` and
decides frames early:

- **convergence**: when every live state of the newest column traces back to one state of column u, the
  frames up to u are decided whatever comes next (exact);
- **fixed lag** ``L``: when column t arrives and frame t-L is still undecided, it is committed to the
  ancestor at t-L of column t's best state, and column t's states that do not descend from it are pruned,
  so the emitted frames always form one lattice path whose joins were costed. ``lag=None`` never commits:
  the output is then exactly the batch decoder's.

A frame is emitted at most ``lag`` columns after it was pushed, earlier when the paths converge.
:func:`sketchsynth.selection.decode.step_reference` is the column kernel's plain-numpy twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..errors import ParameterError
from .decode import JOINS, step_reference
from .joins import no_join_args
from .kernels import lattice_step
from .search import check_metric


@numba.njit(cache=True)
def _argmin_first(score, w):
    s = 0
    for b in range(1, w):
        if score[b] < score[s]:
            s = b
    return s


@numba.njit(cache=True)
def converged(back, score, width, t, lo, cap, mark):
    """Latest column u in [lo, t] through which every live state of column t passes.

    back (cap, W) i32, score (cap, W) f64, width (cap,) i32: ring buffers (column v at v % cap);
    lo: first undecided column; mark (W,) i64 scratch, all zero (left all zero). Returns (u, state at u), or (-1, -1).
    """
    c = t % cap
    w = width[c]
    cur = np.empty(w, np.int64)
    n = 0
    for b in range(w):
        if score[c, b] < np.inf:
            cur[n] = b
            n += 1
    if n == 0:
        return -1, -1
    v = t
    while True:
        if n == 1:
            return v, cur[0]
        if v <= lo:
            return -1, -1
        cv = v % cap
        m = 0
        for i in range(n):
            a = back[cv, cur[i]]
            if mark[a] == 0:
                mark[a] = 1
                cur[m] = a
                m += 1
        for i in range(m):  # mark stays all-zero between columns and calls
            mark[cur[i]] = 0
        n = m
        v -= 1


@numba.njit(cache=True)
def commit(back, score, width, t, u, cap, prune):
    """Commit column u (< t) to the ancestor of column t's best state; with ``prune``, prune column t's
    states that do not descend from it (the output stays one lattice path).

    Returns the committed state at column u.
    """
    c = t % cap
    w = width[c]
    best = _argmin_first(score[c], w)
    s = best
    for v in range(t, u, -1):
        s = back[v % cap, s]
    keep = s
    if not prune:
        return keep
    for b in range(w):
        if score[c, b] == np.inf:
            continue
        a = b
        for v in range(t, u, -1):
            a = back[v % cap, a]
        if a != keep:
            score[c, b] = np.inf
    return keep


@numba.njit(cache=True)
def backtrack(back, rows, target, u, s, lo, cap, out_rows, out_target):
    """Path from state s of column u back to column lo: out_*[v - lo] for v in [lo, u]."""
    for v in range(u, lo - 1, -1):
        cv = v % cap
        out_rows[v - lo] = rows[cv, s]
        out_target[v - lo] = target[cv, s]
        if v > lo:
            s = back[cv, s]


# ----------------------------------------------------------------------------- the streaming decoder
@dataclass
class Decision:
    """Frames decided by one push: input frame indices ``t`` (n,), chosen ``rows`` (n,) and their ``target`` cost."""

    t: np.ndarray
    rows: np.ndarray
    target: np.ndarray


class FixedLagViterbi:
    """Streaming unit-selection Viterbi: push one frame's candidates, get decided frames back.

    Parameters
    ----------
    db_points : np.ndarray, shape (N, 70, 2), float32
        The database's normalized frames (``db.normalized_``).
    succ, prev : np.ndarray, shape (N,), int64
        Usable recording successor / predecessor of every row, -1 for none
        (:func:`sketchsynth.database.links.usable_links`).
    jweights : np.ndarray, shape (70,), float64
        Join-cost point weights (``db.weights_``).
    order : np.ndarray, shape (70,), int64
        Points heaviest first (``db.point_order_``).
    lag : int or None
        Maximum decision delay in frames (0 = greedy, decide each frame as it arrives); None =
        unbounded: identical to the batch decoder.
    smooth : float
        lambda, the join-cost weight.
    candidates : int
        K, candidates per frame used from each push (the push may give more; the first K are used).
    successors : int, optional
        Recorded successors added per column (default K; 0 when ``smooth`` is 0).
    join : {"successor", "method"}
    metric : {"sum", "sq"}
    backend : {"numba", "numpy"}
        ``numpy`` uses :func:`step_reference` (tests only; no feature term).
    prune : bool
        After a fixed-lag commit, prune the states that do not descend from it (default): the emitted
        frames form one costed lattice path. False: emit the best partial path's frame and keep every
        state (the output may then join frames whose join was never costed).

    Notes
    -----
    Streaming protocol: :meth:`start`, then :meth:`push` per input frame (returns the frames it
    decided, in order, possibly none), then :meth:`finish` (decides the rest). Memory is
    O((undecided frames) * W): bounded by the lag, growing (doubling) only for an unbounded lag
    whose paths do not converge.
    """

    def __init__(self, db_points, succ, prev, jweights, order, lag=8, smooth=0.6, candidates=32,
                 successors=None, join="successor", metric="sum", backend="numba", prune=True):
        self.db_points = np.ascontiguousarray(db_points, np.float32)
        self.succ = np.ascontiguousarray(succ, np.int64)
        self.prev = np.ascontiguousarray(prev, np.int64)
        self.jweights = np.ascontiguousarray(jweights, np.float64)
        self.order = np.ascontiguousarray(order, np.int64)
        self.lag = None if lag is None else int(lag)
        self.smooth = float(smooth)
        self.candidates = int(candidates)
        self.successors = successors
        self.join = join
        self.metric = metric
        self.backend = backend
        self.prune = bool(prune)
        if self.lag is not None and self.lag < 0:
            raise ParameterError(f"the decoder's lag must be >= 0 frames or None, got {lag}")
        if backend not in ("numba", "numpy"):
            raise ParameterError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        if join not in JOINS:
            raise ParameterError(f"join must be one of {sorted(JOINS)}, got {join!r}")

    @classmethod
    def from_db(cls, db, **params) -> "FixedLagViterbi":
        """Build from a :class:`sketchsynth.FrameDatabase`."""
        from ..database.links import usable_links

        succ, prev = usable_links(db)
        return cls(db.normalized_, succ, prev, db.weights_.astype(np.float64), db.point_order_, **params)

    # ------------------------------------------------------------------ streaming API
    def start(self) -> "FixedLagViterbi":
        K = self.candidates
        self.n_succ_ = 0 if self.smooth == 0 else int(K if self.successors is None else self.successors)
        W = self.W_ = K + self.n_succ_
        cap = self.cap_ = max(8, (self.lag or 0) + 3)
        N = len(self.db_points)
        self._alloc(cap, W)
        self.pos_prev_ = np.full(N, -1, np.int32)
        self.pos_cur_ = np.full(N, -1, np.int32)
        self.rank_ = np.zeros(W, np.int64)
        self.rank_tmp_ = np.zeros(W, np.int64)
        self.s_ord_ = np.empty(W)
        self.anc_ord_ = np.empty(W, np.int64)
        self.ta_ord_ = np.empty(W)
        self.mark_ = np.zeros(W, np.int64)
        self.t_ = -1               # last pushed column
        self.lo_ = 0               # first undecided column
        self.seg_lo_ = 0           # first column of the current segment
        self.no_feat_ = (np.zeros(0, np.float32), np.zeros((0, 0), np.float32), np.full(N, -1, np.int64))
        self.no_join_ = no_join_args(N)
        self.jm_ = JOINS[self.join]
        self.mc_ = check_metric(self.metric)
        self.max_pending_ = 0
        return self

    def _alloc(self, cap, W):
        self.rows_ = np.full((cap, W), -1, np.int64)
        self.target_ = np.full((cap, W), np.inf)
        self.score_ = np.full((cap, W), np.inf)
        self.back_ = np.full((cap, W), -1, np.int32)
        self.width_ = np.zeros(cap, np.int32)

    def _grow(self):
        old = (self.rows_, self.target_, self.score_, self.back_, self.width_)
        ocap = self.cap_
        cap = self.cap_ = 2 * ocap
        self._alloc(cap, self.W_)
        for v in range(self.lo_, self.t_ + 1):
            for new, o in zip((self.rows_, self.target_, self.score_, self.back_, self.width_), old):
                new[v % cap] = o[v % ocap]

    def push(self, top, top_cost, query, qweights, jump_cost, beam=np.inf, segment_start=False, full=False,
             features=None) -> Decision:
        """Add input frame t's candidates; return the frames this decided.

        Parameters
        ----------
        top : np.ndarray, shape (>=K,), int64
            Candidate database rows, best first by target cost (-1 pads).
        top_cost : np.ndarray, shape (>=K,), float64
            Their target costs.
        query : np.ndarray, shape (70, 2), float32
            The normalized target (costs the recorded successors the column adds).
        qweights : np.ndarray, shape (70,), float64
            Its point weights.
        jump_cost, beam : float
            Absolute jump cost and beam (target-cost units) for this step's joins.
        segment_start : bool
            No join into this frame (decides every pending frame of the previous segment first).
        full : bool
            The query has every point with the join's weights (allows the exact triangle skip).
        features : tuple, optional
            (fq (D,) f32, fbank (M, D) f32, fpos (N,) i64, fw, fmiss): the feature term.

        Returns
        -------
        Decision
        """
        out = []
        t = self.t_ + 1
        if segment_start and t > self.lo_:
            out.append(self._flush())
        if t - self.lo_ + 1 > self.cap_:
            self._grow()
        cap = self.cap_
        c, p = t % cap, (t - 1) % cap
        joined = t > self.seg_lo_ and not segment_start and self.width_[p] > 0
        if segment_start:
            self.seg_lo_ = t
        K = self.candidates
        top = np.ascontiguousarray(top[:K], np.int64)
        top_cost = np.ascontiguousarray(top_cost[:K], np.float64)
        query = np.ascontiguousarray(query, np.float32)
        qweights = np.ascontiguousarray(qweights, np.float64)
        fq, fbank, fpos = self.no_feat_ if features is None else features[:3]
        fw, fmiss = (0.0, 0.0) if features is None else (float(features[3]), float(features[4]))
        if self.backend == "numba":
            w = lattice_step(self.db_points, self.succ, self.prev, self.jweights, self.order, *self.no_join_, top,
                             top_cost, query,
                             qweights, joined, full, self.smooth, float(jump_cost), self.jm_, self.mc_,
                             self.n_succ_, float(beam), fq, fbank, fpos, fw, fmiss,
                             self.rows_[p], self.score_[p], int(self.width_[p]), self.rows_[c], self.target_[c],
                             self.score_[c], self.back_[c], self.pos_prev_, self.pos_cur_, self.rank_,
                             self.rank_tmp_, self.s_ord_, self.anc_ord_, self.ta_ord_)
        else:
            if features is not None:
                raise ParameterError("the numpy backend has no feature term")
            r, tg, sc, bk, w = step_reference(self.db_points, self.succ, self.prev, top, top_cost, query, qweights,
                                              self.jweights, joined, self.smooth, float(jump_cost), self.jm_,
                                              self.mc_, self.n_succ_, float(beam), self.rows_[p], self.score_[p],
                                              int(self.width_[p]), self.W_)
            self.rows_[c], self.target_[c], self.score_[c], self.back_[c] = r, tg, sc, bk
            self.pos_cur_[r[:w]] = np.arange(w)
        self.width_[c] = w
        # column t-1's positions are no longer needed: clear them, then swap the two maps
        if t >= 1:
            wpv = self.width_[p]
            self.pos_prev_[self.rows_[p, :wpv]] = -1
        self.pos_prev_, self.pos_cur_ = self.pos_cur_, self.pos_prev_
        self.t_ = t
        out.append(self._decide())
        self.max_pending_ = max(self.max_pending_, self.t_ - self.lo_ + 1)
        return _cat(out)

    def finish(self) -> Decision:
        """Decide every pending frame (best final state, as the batch decoder does)."""
        return self._flush()

    # ------------------------------------------------------------------ decisions
    def _emit(self, u, s) -> Decision:
        n = u - self.lo_ + 1
        rows = np.empty(n, np.int64)
        tg = np.empty(n)
        backtrack(self.back_, self.rows_, self.target_, u, s, self.lo_, self.cap_, rows, tg)
        d = Decision(np.arange(self.lo_, u + 1), rows, tg)
        self.lo_ = u + 1
        return d

    def _flush(self) -> Decision:
        t = self.t_
        if t < self.lo_:
            return _empty()
        c = t % self.cap_
        s = _argmin_first(self.score_[c], self.width_[c])
        return self._emit(t, s)

    def _decide(self) -> Decision:
        t, cap = self.t_, self.cap_
        out = []
        u, s = converged(self.back_, self.score_, self.width_, t, self.lo_, cap, self.mark_)
        if u >= self.lo_:
            out.append(self._emit(u, s))
        if self.lag is not None and t - self.lag >= self.lo_:
            u = t - self.lag
            s = commit(self.back_, self.score_, self.width_, t, u, cap, self.prune)
            out.append(self._emit(u, s))
            # after pruning, the survivors may converge further
            if t >= self.lo_:
                u, s = converged(self.back_, self.score_, self.width_, t, self.lo_, cap, self.mark_)
                if u >= self.lo_:
                    out.append(self._emit(u, s))
        return _cat(out)


def _empty() -> Decision:
    return Decision(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def _cat(ds) -> Decision:
    ds = [d for d in ds if len(d.t)]
    if not ds:
        return _empty()
    if len(ds) == 1:
        return ds[0]
    return Decision(np.concatenate([d.t for d in ds]), np.concatenate([d.rows for d in ds]),
                    np.concatenate([d.target for d in ds]))
