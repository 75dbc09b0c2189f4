"""Smooth synthesis: choose the whole output sequence at once (Viterbi over a candidate lattice).

Per-frame matching picks each input frame's nearest database frame on its own,
so the synthesized sketch hops between distant moments of the recordings from
one frame to the next. As unit-selection speech synthesis does (Hunt & Black
1996), :class:`ViterbiDecoder` instead minimizes over the whole sequence

    sum_t target(t, s_t) + smooth * sum_t join(s_{t-1}, s_t)

where ``target`` is :func:`sketchsynth.selection.matching.match`'s cost (``sum`` or ``sq``
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

**Seams.** :func:`blend_seams` optionally hides the remaining jumps in the output
keypoints (offset blending, the position part of motion matching's
inertialization); selection and costs do not change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..defaults import DEFAULT_CANDIDATES, DEFAULT_JUMP_COST, DEFAULT_SMOOTH  # noqa: F401  (re-exported)
from ..errors import ParameterError

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

    def decode(self, db, result, frames=None, features=None) -> Decoding:
        """Choose a database frame for every input frame of a per-frame match.

        Parameters
        ----------
        db : FrameDatabase
        result : MatchResult
            From :func:`sketchsynth.selection.matching.match` (its ``candidates`` must be at
            least ``candidates`` wide: the prefilter's width).
        frames : np.ndarray, shape (n_frames,), int, optional
            The input's frame numbers: a hole in them (the input itself jumps)
            starts a new segment, like an unusable frame.
        features : FeatureTerm, optional
            An extra target-cost term (:mod:`sketchsynth.targets.feature_term`), already scaled and already in
            ``result.candidate_costs``; the decoder adds it to the recorded successors it puts in the lattice.

        Returns
        -------
        Decoding
        """
        from . import kernels as _kernels
        from .search import check_metric

        self.check(db)
        K = int(self.candidates)
        if result.candidates.shape[1] < K:
            raise ParameterError(f"--candidates {K} is wider than the prefilter's {result.candidates.shape[1]} "
                                 f"candidates; raise -k to at least {K}")
        t0 = time.perf_counter()
        usable = np.asarray(result.usable, bool) & (result.candidates[:, 0] >= 0)
        u = np.flatnonzero(usable)
        n = len(usable)
        top = np.ascontiguousarray(result.candidates[u, :K])
        top_cost = np.ascontiguousarray(result.candidate_costs[u, :K])
        if result.exhaustive:
            # The exhaustive search's choice leads the column (it may be outside the prefilter's list).
            top, top_cost = _prepend(top, top_cost, result.rows[u], result.target_cost[u])
        seg_start = np.ones(len(u), dtype=bool)
        seg_start[1:] = np.diff(u) != 1
        if frames is not None:
            fr = np.asarray(frames, dtype=np.int64)
            if fr.shape != (n,):
                raise ParameterError(f"frames has shape {fr.shape}, expected ({n},)")
            seg_start[1:] |= np.diff(fr[u]) != 1
        succ, prev = usable_links(db)
        lam = float(self.smooth)
        n_succ = 0 if lam == 0 else int(K if self.successors is None else self.successors)
        metric = check_metric(result.metric)
        # The jump cost is given relative to the typical per-frame target cost, so one
        # setting carries over between databases (face sizes), metrics and inputs.
        cost_unit = float(np.median(top_cost[:, 0])) if len(u) else 0.0
        jump_cost = float(self.jump_cost) * cost_unit
        qweights = np.ascontiguousarray(result.qweights[u], np.float64)
        jweights = db.weights_.astype(np.float64)
        full = (qweights == jweights[None]).all(axis=1)
        from ..targets.feature_term import no_feature_args

        fargs = no_feature_args(len(u), len(succ)) if features is None else features.kernel_args(u)
        rows_l, target_l, score_l, _, width_l, path = _kernels.viterbi_lattice(
            db.normalized_, succ, prev, top, top_cost, np.ascontiguousarray(result.normalized[u], np.float32),
            qweights, jweights, db.point_order_, seg_start, full, lam, jump_cost, JOINS[self.join], metric, n_succ,
            np.inf if self.beam is None else float(self.beam) * cost_unit, *fargs)
        t1 = time.perf_counter()
        steps = np.arange(len(u))
        rows = np.full(n, -1, dtype=np.int64)
        rows[u] = rows_l[steps, path]
        target = np.full(n, np.nan)
        target[u] = target_l[steps, path]
        seg = np.zeros(n, dtype=bool)
        seg[u] = seg_start
        join_cost, is_jump = path_joins(db, rows, seg, self.join, jump_cost, result.metric, succ)
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


def path_joins(db, rows, segment_start, join: str = "successor", jump_cost: float = 0.0, metric: str = "sum",
               succ=None) -> tuple[np.ndarray, np.ndarray]:
    """Join cost and jump flag of every step of a chosen sequence.

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_frames,), int
        Chosen database rows, -1 for unusable input frames.
    segment_start : np.ndarray, shape (n_frames,), bool
    join : {"successor", "method"}
    jump_cost : float
    metric : {"sum", "sq"}
    succ : np.ndarray, optional
        :func:`usable_links`'s successors (computed when None).

    Returns
    -------
    join_cost : np.ndarray, shape (n_frames,), float64
        NaN where there is no previous chosen frame in the segment.
    is_jump : np.ndarray, shape (n_frames,), bool
    """
    if succ is None:
        succ, _ = usable_links(db)
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    join_cost = np.full(n, np.nan)
    is_jump = np.zeros(n, dtype=bool)
    t = np.flatnonzero((rows >= 0) & ~np.asarray(segment_start, bool))
    t = t[t > 0]
    t = t[rows[t - 1] >= 0]
    if t.size == 0:
        return join_cost, is_jump
    a, b = rows[t - 1], rows[t]
    follows = succ[a] == b
    is_jump[t] = ~follows
    if join == "successor":
        anchor = np.where(succ[a] >= 0, succ[a], a)
        d = np.where(follows, 0.0, frame_distance(db, anchor, b, metric))
    else:
        d = frame_distance(db, a, b, metric)
    join_cost[t] = d + np.where(follows, 0.0, jump_cost)
    return join_cost, is_jump


def path_stats(is_jump: np.ndarray, usable: np.ndarray, segment_start: np.ndarray, fps: float) -> dict:
    """Jumps per second and run lengths of a chosen sequence.

    A run is a stretch of consecutive output frames that plays one recording on
    frame by frame; it ends at a jump or at an unusable input frame.

    Parameters
    ----------
    is_jump, usable, segment_start : np.ndarray, shape (n_frames,), bool
    fps : float
        Input frame rate.

    Returns
    -------
    dict
        ``frames`` (usable), ``jumps``, ``jumps_per_s``, ``runs``, ``mean_run_frames``, ``mean_run_s``.
    """
    n = int(np.sum(usable))
    jumps = int(np.sum(is_jump & usable))
    runs = jumps + int(np.sum(segment_start & usable))
    fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else np.nan
    return {"frames": n, "jumps": jumps, "jumps_per_s": jumps * fps / n if n else np.nan, "runs": runs,
            "mean_run_frames": n / runs if runs else np.nan, "mean_run_s": n / runs / fps if runs else np.nan}


def ratio(a, b) -> float:
    """``a / b``, safe at 0: 1 when both are 0 (no change), NaN when only ``b`` is 0 or either is not finite."""
    a = float(a) if a is not None else float("nan")
    b = float(b) if b is not None else float("nan")
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("nan")
    if b == 0:
        return 1.0 if a == 0 else float("nan")
    return a / b


def blend_seams(db, rows: np.ndarray, is_jump: np.ndarray, frames: int) -> np.ndarray:
    """The chosen frames with every jump's offset blended away over ``frames`` frames.

    At a jump at t the output would leap from where the previous choice's
    recording was going (its successor, or itself at a recording's end) to the
    new frame. The difference (plus what is left of an earlier blend) is added
    to the new stream and faded out with a smoothstep over ``frames`` frames,
    so positions stay continuous and the new stream's motion comes through at
    once (offset inertialization).

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_frames,), int
        Chosen rows, -1 for unusable input frames (never blended across).
    is_jump : np.ndarray, shape (n_frames,), bool
    frames : int
        Blend length (0 returns the frames unchanged).

    Returns
    -------
    np.ndarray, shape (n_frames, 70, 2), float64
        Normalized points; NaN where ``rows`` is -1.
    """
    if int(frames) != frames or frames < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {frames}")
    rows = np.asarray(rows, dtype=np.int64)
    ok = rows >= 0
    pts = np.full((len(rows), db.normalized_.shape[1], 2), np.nan)
    pts[ok] = db.normalized_[rows[ok]]
    if frames == 0:
        return pts
    succ, _ = usable_links(db)
    # Only the first len(rows) + 1 steps of the fade can be used: a blend longer than the input costs no
    # more memory than one as long as it (--seam-blend 1000000000 once allocated until killed).
    s = np.arange(min(int(frames), len(rows)) + 1) / float(frames)
    fade = 1.0 - s * s * (3.0 - 2.0 * s)  # 1 at the jump, 0 after ``frames`` frames
    out = pts.copy()
    offset = np.zeros(pts.shape[1:])
    last = None
    # end of each frame's usable stretch (first unusable index after it)
    stop = np.searchsorted(np.flatnonzero(~ok), np.arange(len(rows)), side="right")
    ends = np.append(np.flatnonzero(~ok), len(rows))[stop]
    for t in np.flatnonzero(np.asarray(is_jump, bool) & ok):
        a = rows[t - 1]
        cont = succ[a] if succ[a] >= 0 else a
        left = offset * fade[t - last] if last is not None and t - last <= frames and ok[last:t].all() else 0.0
        offset = db.normalized_[cont] + left - pts[t]
        last = t
        hi = min(t + frames, ends[t])
        out[t:hi] = pts[t:hi] + offset[None] * fade[:hi - t, None, None]
    return out


def _viterbi_reference(db, succ, prev, top, top_cost, queries, qweights, jweights, seg_start, lam, jump_cost,
                       join_mode, metric, n_succ, beam, fq=None, fbank=None, fpos=None, fw=0.0, fmiss=0.0):
    """Plain-numpy twin of :func:`sketchsynth.selection.kernels.viterbi_lattice` (tests only).

    Builds the same columns, fills the whole join matrix of every step and takes
    its minimum; same tie rule (predecessor first, then increasing score rank).
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
        return ((d if metric == _kernels.METRIC_SUM else d ** 2) * jweights).sum(-1)

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
