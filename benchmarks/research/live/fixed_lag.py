"""Fixed-lag streaming Viterbi over the unit-selection lattice (target for ``sketchsynth/selection/``).

The batch decoder (:func:`sketchsynth._kernels.viterbi_lattice`) builds column ``t`` of the lattice
from input frame t's top-K candidates plus the recording successors of the ``n_succ`` best states of
column t-1, and scores

    score[t, b] = target[t, b] + min_a (score[t-1, a] + lam * join(a, b))

Only the final backtrack needs the whole input. :class:`FixedLagViterbi` runs the same recursion one
column per :meth:`~FixedLagViterbi.push` and decides frames early:

- **convergence**: when every live state of the newest column traces back to one state of column u,
  frames up to u are decided whatever comes next (exact: no later input can change them);
- **fixed lag** ``L``: when column t arrives and frame t-L is still undecided, it is committed to the
  ancestor at t-L of column t's best state; states of column t that do not descend from that ancestor
  are pruned (score inf), so the emitted frames always form one lattice path whose joins were costed.
  ``lag=None`` (unbounded) never commits: the output is then exactly the batch decoder's.

Each frame is emitted at most ``lag`` columns after it was pushed, earlier when paths converge.

The numba column kernel :func:`lattice_step` is a verbatim one-column copy of ``viterbi_lattice``'s
loop body (same tie rules: recorded predecessor first, then increasing score rank; same triangle-
inequality skip); :func:`step_reference` is its plain-numpy twin (full join matrix, argmin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

METRIC_SUM = 0
METRIC_SQ = 1
JOIN_SUCCESSOR = 0
JOIN_METHOD = 1


# ----------------------------------------------------------------------------- numba kernels
@numba.njit(cache=True, inline="always")
def _frame_cost(a, b, w, metric):
    acc = 0.0
    for p in range(a.shape[0]):
        wp = w[p]
        if wp == 0.0:
            continue
        dx = np.float64(a[p, 0]) - b[p, 0]
        dy = np.float64(a[p, 1]) - b[p, 1]
        d2 = dx * dx + dy * dy
        acc += wp * (np.sqrt(d2) if metric == METRIC_SUM else d2)
    return acc


@numba.njit(cache=True, inline="always")
def _feature_cost(fq, fbank, fpos, r, fw, fmiss):
    if fw == 0.0:
        return 0.0
    p = fpos[r]
    if p < 0:
        return fw * fmiss
    acc = 0.0
    for d in range(fq.shape[0]):
        x = np.float64(fq[d]) - fbank[p, d]
        acc += x * x
    return fw * acc


@numba.njit(cache=True, inline="always")
def _frame_dist_bounded(db, ra, rb, w, order, metric, bound):
    a = db[ra]
    b = db[rb]
    acc = 0.0
    for i in range(order.shape[0]):
        p = order[i]
        dx = np.float64(a[p, 0]) - b[p, 0]
        dy = np.float64(a[p, 1]) - b[p, 1]
        d2 = dx * dx + dy * dy
        acc += w[p] * (np.sqrt(d2) if metric == METRIC_SUM else d2)
        if acc > bound:
            return np.inf
    return acc


@numba.njit(cache=True)
def _stable_argsort(values, n, out, tmp):
    """out[:n] = np.argsort(values[:n], kind="stable") (insertion-sorted runs of 16, merged)."""
    run = 16
    for i in range(n):
        out[i] = i
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            k = out[i]
            v = values[k]
            j = i
            while j > lo and values[out[j - 1]] > v:
                out[j] = out[j - 1]
                j -= 1
            out[j] = k
    src, dst = out, tmp
    in_out = True
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if values[src[j]] < values[src[i]]:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        in_out = not in_out
        width *= 2
    if not in_out:
        for i in range(n):
            out[i] = src[i]


@numba.njit(cache=True)
def lattice_step(db, succ, prev, top, top_cost, query, qweights, jweights, order, joined, full,
                 lam, jump_cost, join_mode, metric, n_succ, beam, fq, fbank, fpos, fw, fmiss,
                 rows_p, score_p, width_p, rows_c, target_c, score_c, back_c,
                 pos_prev, pos_cur, rank, rank_tmp, s_ord, anc_ord, ta_ord):
    """Build and score one lattice column (``viterbi_lattice``'s loop body for one t).

    db (N, 70, 2) f32; succ, prev (N,) i64; top (K,) i64 and top_cost (K,) f64: this frame's candidates,
    best first; query (70, 2) f32; qweights (70,) f64; jweights (70,) f64; order (70,) i64;
    joined: column t-1 exists in this segment; full: query has every point (triangle skip allowed);
    fq (D,) f32, fbank (M, D) f32, fpos (N,) i64, fw, fmiss: the optional feature term;
    rows_p, score_p (W,) and width_p: column t-1; rows_c, target_c, score_c (W,) f64, back_c (W,) i32:
    column t, written; pos_prev (N,) i32: positions of column t-1's rows (-1 elsewhere); pos_cur (N,)
    i32: all -1 on entry, positions of column t's rows on return; rank... ta_ord: scratch of W.
    Returns the column's width.
    """
    K = top.shape[0]
    W = rows_c.shape[0]
    for b in range(W):
        rows_c[b] = -1
        target_c[b] = np.inf
        score_c[b] = np.inf
        back_c[b] = -1
    w = 0
    for j in range(K):
        r = top[j]
        if r < 0 or pos_cur[r] >= 0:
            continue
        rows_c[w] = r
        target_c[w] = top_cost[j]
        pos_cur[r] = w
        w += 1
    wp = width_p if joined else 0
    if joined:
        _stable_argsort(score_p, wp, rank, rank_tmp)
        if lam > 0.0:
            for i in range(min(n_succ, wp)):
                a = rank[i]
                if score_p[a] == np.inf:
                    break
                s = succ[rows_p[a]]
                if s >= 0 and pos_cur[s] < 0:
                    rows_c[w] = s
                    target_c[w] = _frame_cost(db[s], query, qweights, metric) + \
                        _feature_cost(fq, fbank, fpos, s, fw, fmiss)
                    pos_cur[s] = w
                    w += 1
    best_col = np.inf
    if joined and lam > 0.0:
        for i in range(wp):
            a = rank[i]
            s_ord[i] = score_p[a]
            ra = rows_p[a]
            anc_ord[i] = succ[ra] if (join_mode == JOIN_SUCCESSOR and succ[ra] >= 0) else ra
            ta_ord[i] = -1.0
    tri = full and metric == METRIC_SUM and fw == 0.0
    lamjc = lam * jump_cost
    for b in range(w):
        if not joined:
            score_c[b] = target_c[b]
        elif lam == 0.0:
            a = rank[0]
            score_c[b] = target_c[b] + score_p[a]
            back_c[b] = a
        else:
            rb = rows_c[b]
            best = np.inf
            bi = -1
            p = prev[rb]
            pa = pos_prev[p] if p >= 0 else -1
            if pa >= 0 and score_p[pa] < np.inf:
                jj = 0.0
                if join_mode == JOIN_METHOD:
                    jj = _frame_dist_bounded(db, p, rb, jweights, order, metric, np.inf)
                best = score_p[pa] + lam * jj
                bi = pa
            tb = target_c[b]
            for i in range(wp):
                sa = s_ord[i]
                if sa + lamjc >= best:
                    break
                a = rank[i]
                if a == pa:
                    continue
                anchor = anc_ord[i]
                if tri:
                    ta = ta_ord[i]
                    if ta < 0.0:
                        pc = pos_cur[anchor]
                        ta = target_c[pc] if pc >= 0 else _frame_cost(db[anchor], query, qweights, metric)
                        ta_ord[i] = ta
                    lb = abs(ta - tb) * (1.0 - 1e-9)
                    if sa + lam * lb + lamjc >= best:
                        continue
                d = _frame_dist_bounded(db, anchor, rb, jweights, order, metric, (best - sa) / lam - jump_cost)
                c = sa + lam * (d + jump_cost)
                if c < best:
                    best = c
                    bi = a
            score_c[b] = target_c[b] + best
            back_c[b] = bi
        if score_c[b] < best_col:
            best_col = score_c[b]
    if beam < np.inf:
        for b in range(w):
            if score_c[b] > best_col + beam:
                score_c[b] = np.inf
    return w


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


# ----------------------------------------------------------------------------- numpy reference
def step_reference(db, succ, prev, top, top_cost, query, qweights, jweights, joined, lam, jump_cost, join_mode,
                   metric, n_succ, beam, rows_p, score_p, width_p, W):
    """Plain-numpy twin of :func:`lattice_step` (no feature term): full join matrix, argmin per state.

    Returns rows (W,) i64, target (W,) f64, score (W,) f64, back (W,) i32, width.
    """
    pts = np.asarray(db, np.float64)

    def dist(a, b):
        d = np.linalg.norm(pts[a][:, None] - pts[b][None], axis=-1)
        return ((d if metric == METRIC_SUM else d ** 2) * jweights).sum(-1)

    col, tc = [], []
    for r, c in zip(top.tolist(), top_cost.tolist()):
        if r >= 0 and r not in col:
            col.append(r)
            tc.append(c)
    wp = width_p if joined else 0
    if joined:
        rank = np.argsort(score_p[:wp], kind="stable")
        if lam > 0:
            for a in rank[:n_succ]:
                if not np.isfinite(score_p[a]):
                    break
                s = int(succ[rows_p[a]])
                if s >= 0 and s not in col:
                    col.append(s)
                    d = np.linalg.norm(pts[s] - query, axis=-1)
                    tc.append(float(((d if metric == METRIC_SUM else d ** 2) * qweights).sum()))
    w = len(col)
    rows = np.full(W, -1, np.int64)
    target = np.full(W, np.inf)
    score = np.full(W, np.inf)
    back = np.full(W, -1, np.int32)
    rows[:w], target[:w] = col, tc
    if not joined:
        score[:w] = target[:w]
    elif lam == 0:
        score[:w] = target[:w] + score_p[rank[0]]
        back[:w] = rank[0]
    else:
        pr = rows_p[:wp]
        sp = score_p[:wp]
        follows = succ[pr][:, None] == rows[:w][None]
        if join_mode == JOIN_SUCCESSOR:
            anchor = np.where(succ[pr] >= 0, succ[pr], pr)
            J = np.where(follows, 0.0, dist(anchor, rows[:w]) + jump_cost)
        else:
            J = dist(pr, rows[:w]) + np.where(follows, 0.0, jump_cost)
        total = sp[:, None] + lam * J
        for b in range(w):
            pa = list(np.flatnonzero(follows[:, b] & np.isfinite(sp)))
            order = pa + [a for a in rank if a not in pa]
            cand = total[order, b]
            i = int(np.argmin(cand))
            score[b] = target[b] + cand[i]
            back[b] = order[i] if np.isfinite(cand[i]) else -1
    if beam < np.inf and w:
        best = score[:w].min()
        score[:w] = np.where(score[:w] > best + beam, np.inf, score[:w])
    return rows, target, score, back, w


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
        (:func:`sketchsynth.decode.usable_links`).
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
            raise ValueError(f"lag must be >= 0 or None, got {lag}")
        if backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")

    @classmethod
    def from_db(cls, db, **params) -> "FixedLagViterbi":
        """Build from a :class:`sketchsynth.FrameDatabase`."""
        from sketchsynth.decode import usable_links

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
        self.jm_ = 0 if self.join == "successor" else 1
        self.mc_ = METRIC_SUM if self.metric == "sum" else METRIC_SQ
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
            w = lattice_step(self.db_points, self.succ, self.prev, top, top_cost, query, qweights, self.jweights,
                             self.order, joined, full, self.smooth, float(jump_cost), self.jm_, self.mc_,
                             self.n_succ_, float(beam), fq, fbank, fpos, fw, fmiss,
                             self.rows_[p], self.score_[p], int(self.width_[p]), self.rows_[c], self.target_[c],
                             self.score_[c], self.back_[c], self.pos_prev_, self.pos_cur_, self.rank_,
                             self.rank_tmp_, self.s_ord_, self.anc_ord_, self.ta_ord_)
        else:
            if features is not None:
                raise ValueError("the numpy backend has no feature term")
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
