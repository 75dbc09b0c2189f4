"""Smooth synthesis: choose the whole output sequence at once (Viterbi over a candidate lattice).

Per-frame matching picks each input frame's nearest database frame on its own,
so the synthesized sketch hops between distant moments of the recordings from
one frame to the next. As unit-selection speech synthesis does (Hunt & Black
1996), :class:`ViterbiDecoder` instead minimizes over the whole sequence

    sum_t target(t, s_t) + smooth * sum_t join(s_{t-1}, s_t)

where ``target`` is the lattice's target cost (:mod:`sketchsynth.selection.lattice`) (``sum`` or ``sq``
metric, the database's weights) and ``join`` the cost of putting database frame
``b`` after ``a``:

- ``join="successor"`` (default): 0 when ``b`` is ``a``'s recording successor
  (the next frame of the same take: playing the recording on costs nothing);
  otherwise the distance between ``a``'s successor and ``b`` -- how far the jump
  lands from where the recording would have gone (``a`` itself at a recording's
  end) -- plus ``jump_cost``.
- ``join="method"``: the method's proposal, the distance between the two
  consecutive frames ``a`` and ``b``, plus ``jump_cost`` unless ``b`` follows ``a``.

Distances use the target cost's metric and the database's full weights.

**Lattice.** Column ``t`` holds the ``candidates`` best frames of input frame t
by exact target cost (the prefilter + re-rank of :mod:`sketchsynth.selection.search`) and
the recording successors of the ``successors`` best states of column t-1 by
accumulated cost, so that continuing a recorded stretch is always possible, for
as long as it stays competitive, even when it has left the top-K. Memory is
O(T * (candidates + successors)). ``smooth=0`` needs no successors and gives
exactly the per-frame match.

**Unusable input frames** (no face, bad anchors) have no candidates: they split
the input into segments decoded independently, as do holes in the input's frame
numbers when they are given. The first frame of a segment has
no join (``join_cost`` NaN, never a jump) and the output there is unmatched,
as in per-frame matching.

Seams left after selection can be blended away in the written keypoints
(:func:`sketchsynth.outputs.placement.blend_seams`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..database.links import usable_links
from ..defaults import DEFAULT_CANDIDATES, DEFAULT_JUMP_COST, DEFAULT_SMOOTH  # noqa: F401  (re-exported)
from ..errors import ParameterError
from .joins import no_join_args, path_joins


# numba (via _kernels) loads on first use, so the CLI can read the defaults below cheaply.
JOINS = {"successor": 0, "method": 1}
"""Join cost variants and their codes in :func:`sketchsynth.selection.kernels.viterbi_lattice`."""


@dataclass
class Decoding:
    """The sequence a :class:`ViterbiDecoder` chose.

    Attributes
    ----------
    rows : np.ndarray, shape (n_frames,), int64
        Chosen database row per input frame, -1 for unusable input frames.
    target_cost : np.ndarray, shape (n_frames,), float64
        NaN for unusable frames.
    join_cost : np.ndarray, shape (n_frames,), float64
        Join cost from the previous frame's choice (unweighted by ``smooth``);
        NaN at segment starts and unusable frames.
    is_jump : np.ndarray, shape (n_frames,), bool
        The choice is not the recording successor of the previous frame's choice.
    segment_start : np.ndarray, shape (n_frames,), bool
        Usable frames whose previous input frame is unusable (or the first).
    total_cost : float
        sum(target_cost) + smooth * sum(join_cost) over usable frames.
    width : np.ndarray, shape (n_frames,), int32
        Lattice states per frame (0 for unusable frames).
    """

    rows: np.ndarray
    target_cost: np.ndarray
    join_cost: np.ndarray
    is_jump: np.ndarray
    segment_start: np.ndarray
    total_cost: float
    width: np.ndarray
    params: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class ViterbiDecoder:
    """Choose database frames for a whole input sequence, trading target cost against joins.

    Parameters
    ----------
    smooth : float
        Weight of the join cost (lambda >= 0); 0 reproduces the per-frame match.
    candidates : int
        Top-K frames by target cost per input frame (default 32).
    join : {"successor", "method"}
        Join cost (see the module docstring).
    jump_cost : float
        Constant added to the join cost of every jump (>= 0), in units of the
        input's median per-frame target cost (its best candidates' median cost),
        so that one setting carries over between databases, face sizes and metrics.
    beam : float, optional
        Drop lattice states whose accumulated cost exceeds their step's best by
        more than this many median per-frame target costs (approximate, faster);
        None keeps every state (exact).
    successors : int, optional
        Best states of each step whose recording successors join the next
        column (default: ``candidates``).
    """

    def __init__(self, smooth: float = DEFAULT_SMOOTH, candidates: int = DEFAULT_CANDIDATES,
                 join: str = "successor", jump_cost: float = DEFAULT_JUMP_COST, beam: float | None = None,
                 successors: int | None = None):
        self.smooth = smooth
        self.candidates = candidates
        self.join = join
        self.jump_cost = jump_cost
        self.beam = beam
        self.successors = successors

    def get_params(self) -> dict:
        return {"smooth": self.smooth, "candidates": self.candidates, "join": self.join,
                "jump_cost": self.jump_cost, "beam": self.beam, "successors": self.successors}

    def __repr__(self):
        return "ViterbiDecoder(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def check(self, db=None) -> "ViterbiDecoder":
        """Validate the parameters (and ``candidates`` against a database's usable frames).

        Raises
        ------
        ParameterError
        """
        if not (np.isfinite(self.smooth) and self.smooth >= 0):
            raise ParameterError(f"--smooth must be a number >= 0 (0 = per-frame match), got {self.smooth}")
        if int(self.candidates) != self.candidates or self.candidates < 1:
            raise ParameterError(f"--candidates must be a whole number >= 1, got {self.candidates}")
        if self.join not in JOINS:
            raise ParameterError(f"--join must be one of {', '.join(JOINS)}, got {self.join!r}")
        if not (np.isfinite(self.jump_cost) and self.jump_cost >= 0):
            raise ParameterError(f"--jump-cost must be a number >= 0, got {self.jump_cost}")
        if self.beam is not None and not (self.beam > 0):
            raise ParameterError(f"--beam must be > 0 (or left out for an exact search), got {self.beam}")
        if self.successors is not None and (int(self.successors) != self.successors or self.successors < 0):
            raise ParameterError(f"successors must be a whole number >= 0, got {self.successors}")
        if db is not None and self.candidates > db.n_usable_:
            raise ParameterError(f"--candidates {self.candidates} is larger than the database's "
                                 f"{db.n_usable_} usable frames; use at most {db.n_usable_}")
        return self

    def decode(self, db, lattice) -> Decoding:
        """Choose a database frame for every output frame of a lattice.

        Parameters
        ----------
        db : FrameDatabase
        lattice : Lattice
            From :func:`sketchsynth.selection.lattice.build_lattice` (at least ``candidates`` wide: the
            prefilter's width). Its ``frames`` (a hole starts a new segment, like an unusable frame),
            ``features`` (an extra target-cost term already in its costs, added here to the recorded
            successors) and ``successors`` (False: only the listed candidates) are honoured.

        Returns
        -------
        Decoding
        """
        from . import kernels as _kernels
        from .search import check_metric

        self.check(db)
        K = int(self.candidates)
        if lattice.candidates.shape[1] < K:
            raise ParameterError(f"--candidates {K} is wider than the prefilter's {lattice.candidates.shape[1]} "
                                 f"candidates; raise -k to at least {K}")
        t0 = time.perf_counter()
        usable = np.asarray(lattice.usable, bool) & (lattice.candidates[:, 0] >= 0)
        u = np.flatnonzero(usable)
        n = len(usable)
        top = np.ascontiguousarray(lattice.candidates[u, :K])
        top_cost = np.ascontiguousarray(lattice.costs[u, :K])
        if lattice.exhaustive:
            # The exhaustive search's choice leads the column (it may be outside the prefilter's list).
            top, top_cost = _prepend(top, top_cost, lattice.rows[u], lattice.best[u])
        seg_start = np.ones(len(u), dtype=bool)
        seg_start[1:] = np.diff(u) != 1
        if lattice.frames is not None:
            fr = np.asarray(lattice.frames, dtype=np.int64)
            if fr.shape != (n,):
                raise ParameterError(f"frames has shape {fr.shape}, expected ({n},)")
            seg_start[1:] |= np.diff(fr[u]) != 1
        succ, prev = usable_links(db)
        lam = float(self.smooth)
        n_succ = 0 if lam == 0 or not lattice.successors else int(K if self.successors is None else self.successors)
        metric = check_metric(lattice.metric)
        # The jump cost is given relative to the typical per-frame target cost, so one
        # setting carries over between databases (face sizes), metrics and inputs.
        cost_unit = float(np.median(top_cost[:, 0])) if len(u) else 0.0
        jump_cost = float(self.jump_cost) * cost_unit
        qweights = np.ascontiguousarray(lattice.weights[u], np.float64)
        jweights = db.weights_.astype(np.float64)
        full = (qweights == jweights[None]).all(axis=1)
        from ..targets.feature_term import no_feature_args

        features = lattice.features
        fargs = no_feature_args(len(u), len(succ)) if features is None else features.kernel_args(u)
        jargs = no_join_args(len(succ)) if lattice.joins is None else lattice.joins.kernel_args()
        rows_l, target_l, score_l, _, width_l, path = _kernels.viterbi_lattice(
            (db.normalized_, succ, prev, jweights, db.point_order_, *jargs),
            (top, top_cost, np.ascontiguousarray(lattice.points[u], np.float32), qweights, seg_start, full),
            (lam, jump_cost, JOINS[self.join], metric, n_succ, np.inf if self.beam is None else float(self.beam) *
             cost_unit), tuple(fargs))
        t1 = time.perf_counter()
        steps = np.arange(len(u))
        rows = np.full(n, -1, dtype=np.int64)
        rows[u] = rows_l[steps, path]
        target = np.full(n, np.nan)
        target[u] = target_l[steps, path]
        seg = np.zeros(n, dtype=bool)
        seg[u] = seg_start
        join_cost, is_jump = path_joins(db, rows, seg, self.join, jump_cost, lattice.metric, succ, lattice.joins)
        width = np.zeros(n, dtype=np.int32)
        width[u] = width_l
        total = float(np.nansum(target) + lam * np.nansum(join_cost))
        params = {**self.get_params(), "jump_cost_abs": jump_cost, "cost_unit": cost_unit}
        return Decoding(rows, target, join_cost, is_jump, seg, total, width, params,
                        {"decode_s": t1 - t0, "joins_s": time.perf_counter() - t1})


def _prepend(top, top_cost, rows, cost):
    """Put ``rows`` first in each row of ``top`` (dropping its duplicate or the last entry)."""
    K = top.shape[1]
    out = np.empty_like(top)
    out_c = np.empty_like(top_cost)
    for i in range(len(top)):
        keep = top[i] != rows[i]
        r = np.concatenate([[rows[i]], top[i][keep]])[:K]
        c = np.concatenate([[cost[i]], top_cost[i][keep]])[:K]
        out[i], out_c[i] = r, c
    return out, out_c


def _viterbi_reference(db, succ, prev, top, top_cost, queries, qweights, jweights, seg_start, lam, jump_cost,
                       join_mode, metric, n_succ, beam, fq=None, fbank=None, fpos=None, fw=0.0, fmiss=0.0,
                       joins=None):
    """Plain-numpy twin of :func:`sketchsynth.selection.kernels.viterbi_lattice` (tests only).

    Builds the same columns, fills the whole join matrix of every step and takes
    its minimum; same tie rule (predecessor first, then increasing score rank). ``joins``: a JoinTerm.
    """
    from . import kernels as _kernels

    T, K = top.shape
    W = K + n_succ
    pts = np.asarray(db, dtype=np.float64)
    rows = np.full((T, W), -1, dtype=np.int64)
    target = np.full((T, W), np.inf)
    score = np.full((T, W), np.inf)
    back = np.full((T, W), -1, dtype=np.int32)
    width = np.zeros(T, dtype=np.int32)
    path = np.full(T, -1, dtype=np.int32)

    def dist(a, b):
        d = np.linalg.norm(pts[a][:, None] - pts[b][None], axis=-1)
        d = ((d if metric == _kernels.METRIC_SUM else d ** 2) * jweights).sum(-1)
        return d if joins is None else d + joins.cost(*np.broadcast_arrays(np.asarray(a)[:, None], b[None]))

    for t in range(T):
        col = [r for r in dict.fromkeys(top[t].tolist()) if r >= 0]
        tc = [top_cost[t][list(top[t]).index(r)] for r in col]
        joined = t > 0 and not seg_start[t] and width[t - 1] > 0
        if joined:
            wp = width[t - 1]
            rank = np.argsort(score[t - 1, :wp], kind="stable")
            if lam > 0:
                for a in rank[:n_succ]:
                    if not np.isfinite(score[t - 1, a]):
                        break
                    s = succ[rows[t - 1, a]]
                    if s >= 0 and s not in col:
                        col.append(int(s))
                        d = np.linalg.norm(pts[s] - queries[t], axis=-1)
                        c = ((d if metric == _kernels.METRIC_SUM else d ** 2) * qweights[t]).sum()
                        if fw:
                            f = fpos[s]
                            c += fw * (((fq[t].astype(np.float64) - fbank[f]) ** 2).sum() if f >= 0 else fmiss)
                        tc.append(c)
        w = len(col)
        width[t] = w
        rows[t, :w] = col
        target[t, :w] = tc
        if not joined:
            score[t, :w] = target[t, :w]
        else:
            pr = rows[t - 1, :wp]
            sp = score[t - 1, :wp]
            if lam == 0:
                score[t, :w] = target[t, :w] + sp[rank[0]]
                back[t, :w] = rank[0]
            else:
                follows = succ[pr][:, None] == rows[t, :w][None]
                if join_mode == _kernels.JOIN_SUCCESSOR:
                    anchor = np.where(succ[pr] >= 0, succ[pr], pr)
                    J = np.where(follows, 0.0, dist(anchor, rows[t, :w]) + jump_cost)
                else:
                    J = dist(pr, rows[t, :w]) + np.where(follows, 0.0, jump_cost)
                total = sp[:, None] + lam * J
                for b in range(w):
                    pa = np.flatnonzero(follows[:, b])
                    order = list(pa) + [a for a in rank if a not in pa]
                    cand = total[order, b]
                    i = int(np.argmin(cand))
                    score[t, b] = target[t, b] + cand[i]
                    back[t, b] = order[i]
        if beam < np.inf:
            best = score[t, :w].min()
            score[t, :w] = np.where(score[t, :w] > best + beam, np.inf, score[t, :w])
        if t == T - 1 or seg_start[t + 1]:
            s = int(np.argmin(score[t, :w]))
            u = t
            while True:
                path[u] = s
                if u == 0 or seg_start[u]:
                    break
                s = back[u, s]
                u -= 1
    return rows, target, score, back, width, path


def step_reference(db, succ, prev, top, top_cost, query, qweights, jweights, joined, lam, jump_cost, join_mode,
                   metric, n_succ, beam, rows_p, score_p, width_p, W, joins=None):
    """Plain-numpy twin of :func:`sketchsynth.selection.kernels.lattice_step` (no feature term; tests and
    the streaming decoder's ``numpy`` backend): full join matrix, argmin per state. ``joins``: a JoinTerm.

    Returns rows (W,) i64, target (W,) f64, score (W,) f64, back (W,) i32, width.
    """
    from . import kernels as _kernels

    pts = np.asarray(db, np.float64)

    def dist(a, b):
        d = np.linalg.norm(pts[a][:, None] - pts[b][None], axis=-1)
        d = ((d if metric == _kernels.METRIC_SUM else d ** 2) * jweights).sum(-1)
        return d if joins is None else d + joins.cost(*np.broadcast_arrays(np.asarray(a)[:, None], b[None]))

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
                    tc.append(float(((d if metric == _kernels.METRIC_SUM else d ** 2) * qweights).sum()))
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
        if join_mode == _kernels.JOIN_SUCCESSOR:
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
