"""numba kernels for the hot loops. Private: callers check shapes and dtypes.

Each kernel has a plain-numpy twin (``*_reference`` in the module that calls it)
which the tests compare it with.

Metric codes: ``METRIC_SUM`` is the method's sum of weighted Euclidean point
distances, ``METRIC_SQ`` the weighted squared distance.
"""

from __future__ import annotations

import numba
import numpy as np


METRIC_SUM = 0
METRIC_SQ = 1


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
    """``fw * |fq - fbank[fpos[r]]|^2`` (``fw * fmiss`` where row r has no features; 0 when fw is 0)."""
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


@numba.njit(cache=True, parallel=True)
def candidate_costs(db, queries, qweights, cand, metric):
    """Exact target cost of each candidate.

    db (N, 70, 2) f32; queries (n, 70, 2) f32; qweights (n, 70) f64;
    cand (n, k) i64 rows of db, -1 = none -> cost inf. Returns (n, k) f64.
    """
    n, k = cand.shape
    out = np.empty((n, k), dtype=np.float64)
    for i in numba.prange(n):
        for j in range(k):
            c = cand[i, j]
            out[i, j] = np.inf if c < 0 else _frame_cost(db[c], queries[i], qweights[i], metric)
    return out


@numba.njit(cache=True, parallel=True)
def exhaustive_min(db_perm, queries_perm, qweights_perm, seed_cost, seed_row, metric):
    """True minimum of the target cost over every database row, with early abandoning.

    Points come pre-permuted heaviest first (lips), so a hopeless row is usually
    dropped after a few lip points; ``seed_cost`` (the prefilter's best) is the
    bound from the first row on.

    db_perm (M, 70, 2) f32; queries_perm (n, 70, 2) f32; qweights_perm (n, 70) f64;
    seed_cost (n,) f64; seed_row (n,) i64. Returns (best_row (n,) i64, best_cost (n,) f64).
    Ties keep the lowest row.
    """
    n = queries_perm.shape[0]
    m = db_perm.shape[0]
    n_pts = db_perm.shape[1]
    best_row = seed_row.copy()
    best_cost = seed_cost.copy()
    for i in numba.prange(n):
        q = queries_perm[i]
        w = qweights_perm[i]
        bound = best_cost[i]
        brow = best_row[i]
        for r in range(m):
            row = db_perm[r]
            acc = 0.0
            for p in range(n_pts):
                wp = w[p]
                if wp == 0.0:
                    continue
                dx = np.float64(row[p, 0]) - q[p, 0]
                dy = np.float64(row[p, 1]) - q[p, 1]
                d2 = dx * dx + dy * dy
                acc += wp * (np.sqrt(d2) if metric == METRIC_SUM else d2)
                if acc > bound:
                    break
            if acc < bound or (acc == bound and r < brow):
                bound = acc
                brow = r
        best_cost[i] = bound
        best_row[i] = brow
    return best_row, best_cost


JOIN_SUCCESSOR = 0
JOIN_METHOD = 1


@numba.njit(cache=True, inline="always")
def _join_extra(jbank, ra, rb, jw, jmiss):
    """``jw * |jbank[ra] - jbank[rb]|^2`` (``jw * jmiss`` when either row has NaN; 0 when jw is 0)."""
    if jw == 0.0:
        return 0.0
    acc = 0.0
    for d in range(jbank.shape[1]):
        x = np.float64(jbank[ra, d]) - jbank[rb, d]
        acc += x * x
    return jw * (jmiss if np.isnan(acc) else acc)


@numba.njit(cache=True, inline="always")
def _frame_dist_bounded(db, ra, rb, w, order, metric, bound, jbank, jw, jmiss):
    """Join distance between database rows ``ra`` and ``rb``: weighted point distance plus the join term
    (:func:`_join_extra`); inf as soon as it exceeds ``bound``.

    Points go heaviest first (``order``), so a hopeless pair is usually dropped on the lips.
    """
    a = db[ra]
    b = db[rb]
    acc = _join_extra(jbank, ra, rb, jw, jmiss)
    if acc > bound:
        return np.inf
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
    """out[:n] = np.argsort(values[:n], kind="stable") (values without NaN); tmp: scratch of n or more.

    Insertion-sorted runs of 16, merged bottom-up. Numba's own np.argsort costs about a second of
    compilation per install; this, a fraction of that, at the same speed for a column's few dozen states.
    """
    run = 16
    for i in range(n):
        out[i] = i
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            k = out[i]
            v = values[k]
            j = i
            while j > lo and values[out[j - 1]] > v:  # strictly greater: equal values keep their order
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
                if values[src[j]] < values[src[i]]:  # the right run's first only when strictly less
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
def viterbi_lattice(graph, lattice, params, features):
    """Build the candidate lattice step by step and run Viterbi over it.

    ``graph`` = (db, succ, prev, jweights, order, jbank, jw, jmiss): the database's frames, how they follow
    each other, and a join term (:class:`sketchsynth.selection.joins.JoinTerm`; ``jw`` 0: none);
    ``lattice`` = (top, top_cost, queries, qweights, seg_start, full): the input's candidates and target;
    ``params`` = (lam, jump_cost, join_mode, metric, n_succ, beam); ``features`` = (fq, fbank, fpos, fw, fmiss)
    (:meth:`sketchsynth.targets.feature_term.FeatureTerm.kernel_args`).

    Column t holds the top-K rows of input frame t (``top``, best first) followed by
    the recording successors of the ``n_succ`` best states of column t-1 (by
    accumulated cost) that are not there yet. Every state of column t-1 connects
    to every state of column t:

        score[t, b] = target[t, b] + min_a (score[t-1, a] + lam * join(a, b))

    join(a, b) = 0 when b is a's recording successor (``join_mode`` successor),
    else dist(succ(a) or a, b) + jump_cost, where dist is the weighted point distance plus
    ``jw * |jbank[x] - jbank[b]|^2`` (``jw * jmiss`` for a row with NaN); ``join_mode`` method: dist(a, b),
    plus jump_cost unless b is a's successor. The min scans a in increasing score
    and stops once score + lam * jump_cost cannot win (exact). Ties keep the
    predecessor, then the lower score rank. States more than ``beam`` above the
    column's best are pruned (inf).

    A feature term (``fw`` > 0) adds ``fw * |fq[t] - fbank[fpos[r]]|^2`` to the target
    cost of every state r, as ``top_cost`` must already hold for the top-K
    (:func:`_feature_cost`; ``fw * fmiss`` for rows without features).

    Where ``full[t]`` (input frame t has every point, so its target cost is the
    join's own distance to the input), there is no feature term, and the metric is ``sum`` (a true metric),
    the triangle inequality dist(x, b) >= |target(x) - target(b)| skips most
    pairs without computing their distance; it never changes the result.

    db (N, 70, 2) f32; succ, prev (N,) i64 usable successor / predecessor row or -1;
    top (T, K) i64; top_cost (T, K) f64; queries (T, 70, 2) f32; qweights (T, 70) f64;
    jweights (70,) f64; order (70,) i64; jbank (N, P) f32 (P may be 0 when jw is 0), jw, jmiss f64;
    seg_start (T,) bool (no join into it); full (T,) bool;
    fq (T, D) f32, fbank (M, D) f32, fpos (N,) i64 (-1: no features), fw, fmiss f64 (D may be 0 when fw is 0).
    Returns rows (T, W) i64, target (T, W) f64, score (T, W) f64, back (T, W) i32,
    width (T,) i32, path (T,) i32 state index per step; W = K + n_succ.
    """
    db, succ, prev, jweights, order, jbank, jw, jmiss = graph
    top, top_cost, queries, qweights, seg_start, full = lattice
    lam, jump_cost, join_mode, metric, n_succ, beam = params
    fq, fbank, fpos, fw, fmiss = features
    T, K = top.shape
    W = K + n_succ
    N = db.shape[0]
    rows = np.full((T, W), -1, dtype=np.int64)
    target = np.full((T, W), np.inf)
    score = np.full((T, W), np.inf)
    back = np.full((T, W), -1, dtype=np.int32)
    width = np.zeros(T, dtype=np.int32)
    path = np.full(T, -1, dtype=np.int32)
    pos_prev = np.full(N, -1, dtype=np.int32)
    pos_cur = np.full(N, -1, dtype=np.int32)
    rank = np.zeros(W, dtype=np.int64)
    rank_tmp = np.zeros(W, dtype=np.int64)
    s_ord = np.empty(W)  # previous column's scores, ascending
    anc_ord = np.empty(W, dtype=np.int64)  # ... their join anchors (successor, or the frame itself)
    ta_ord = np.empty(W)  # ... the anchors' target cost at step t (-1: not computed yet)
    for t in range(T):
        # pos_cur last held column t-2: clear it
        if t >= 2:
            for a in range(width[t - 2]):
                pos_cur[rows[t - 2, a]] = -1
        tp = max(t - 1, 0)
        joined = t > 0 and not seg_start[t] and width[tp] > 0
        w = lattice_step(db, succ, prev, jweights, order, jbank, jw, jmiss, top[t], top_cost[t], queries[t],
                         qweights[t], joined,
                         full[t], lam, jump_cost, join_mode, metric, n_succ, beam, fq[t], fbank, fpos, fw, fmiss,
                         rows[tp], score[tp], width[tp], rows[t], target[t], score[t], back[t],
                         pos_prev, pos_cur, rank, rank_tmp, s_ord, anc_ord, ta_ord)
        width[t] = w
        # backtrack each segment from its last step
        if t == T - 1 or seg_start[t + 1]:
            s = 0
            for b in range(1, w):
                if score[t, b] < score[t, s]:
                    s = b
            u = t
            while True:
                path[u] = s
                if u == 0 or seg_start[u]:
                    break
                s = back[u, s]
                u -= 1
        tmp = pos_prev
        pos_prev = pos_cur
        pos_cur = tmp
    return rows, target, score, back, width, path


@numba.njit(cache=True)
def lattice_step(db, succ, prev, jweights, order, jbank, jw, jmiss, top, top_cost, query, qweights, joined, full,
                 lam, jump_cost, join_mode, metric, n_succ, beam, fq, fbank, fpos, fw, fmiss, rows_p, score_p, width_p,
                 rows_c, target_c, score_c, back_c, pos_prev, pos_cur, rank, rank_tmp, s_ord, anc_ord, ta_ord):
    """Build and score one column of the lattice (:func:`viterbi_lattice`'s step; the streaming decoder's too).

    db (N, 70, 2) f32; succ, prev (N,) i64; jweights (70,) f64; order (70,) i64; jbank (N, P) f32, jw, jmiss:
    the join term (:func:`viterbi_lattice`); top (K,) i64 and top_cost
    (K,) f64: this input frame's candidates, best first; query (70, 2) f32; qweights (70,) f64; joined: the
    previous column exists in this segment; full: the query has every point (triangle skip allowed);
    fq (D,) f32, fbank, fpos, fw, fmiss: the feature term; rows_p (W,) i64, score_p (W,) f64, width_p: the
    previous column; rows_c (W,) i64, target_c, score_c (W,) f64, back_c (W,) i32: this column, written;
    pos_prev (N,) i32: positions of the previous column's rows (-1 elsewhere); pos_cur (N,) i32: all -1 on
    entry, positions of this column's rows on return; rank, rank_tmp (W,) i64, s_ord (W,) f64, anc_ord (W,)
    i64, ta_ord (W,) f64: scratch. Returns the column's width.
    """
    K = top.shape[0]
    for b in range(rows_c.shape[0]):
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
        # the previous column in score order, with each state's join anchor
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
                    jj = _frame_dist_bounded(db, p, rb, jweights, order, metric, np.inf, jbank, jw, jmiss)
                best = score_p[pa] + lam * jj
                bi = pa
            tb = target_c[b]
            for i in range(wp):
                sa = s_ord[i]
                if sa + lamjc >= best:
                    break  # sorted by score: nothing further can win
                a = rank[i]
                if a == pa:
                    continue
                anchor = anc_ord[i]
                if tri:
                    ta = ta_ord[i]
                    if ta < 0.0:  # computed once per step, when first needed
                        pc = pos_cur[anchor]
                        ta = target_c[pc] if pc >= 0 else _frame_cost(db[anchor], query, qweights, metric)
                        ta_ord[i] = ta
                    # shrunk a hair so rounding can never prune a pair that would win
                    lb = abs(ta - tb) * (1.0 - 1e-9)
                    if sa + lam * lb + lamjc >= best:
                        continue
                d = _frame_dist_bounded(db, anchor, rb, jweights, order, metric, (best - sa) / lam - jump_cost,
                                        jbank, jw, jmiss)
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
