"""Joins between chosen database frames: recorded successors, join costs, jumps, run statistics.

Used by the decoder (:mod:`sketchsynth.selection.decode`), the selection's statistics and the evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..database.links import frame_distance, usable_links


@dataclass
class JoinTerm:
    """A cost added to every join: ``weight * |bank[x] - bank[b]|^2`` between the frame a join leads from
    (the jump's anchor) and the frame it leads to; ``weight * missing`` when either row's vector has a NaN.

    Attributes
    ----------
    bank : np.ndarray, shape (N, P), float32
        One vector per database row (e.g. standardized head pose).
    weight : float
        In join-cost units per squared distance.
    missing : float
        Squared distance charged to a row without a vector.
    """

    bank: np.ndarray
    weight: float
    missing: float

    def kernel_args(self) -> tuple:
        """(bank, weight, missing) as the decoder's kernels take them."""
        return np.ascontiguousarray(self.bank, np.float32), float(self.weight), float(self.missing)

    def cost(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The term between rows ``a`` and ``b`` (arrays of the same shape), float64."""
        d = ((self.bank[a].astype(np.float64) - self.bank[b]) ** 2).sum(-1)
        return self.weight * np.where(np.isnan(d), self.missing, d)


def no_join_args(n: int) -> tuple:
    """Kernel arguments for no join term, for a database of ``n`` rows."""
    return np.zeros((n, 0), np.float32), 0.0, 0.0


def path_joins(db, rows, segment_start, join: str = "successor", jump_cost: float = 0.0, metric: str = "sum",
               succ=None, term: JoinTerm | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    term : JoinTerm, optional
        Added to every join's distance (as the decoder did).

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
        d = np.where(follows, 0.0, frame_distance(db, anchor, b, metric)
                     + (0.0 if term is None else term.cost(anchor, b)))
    else:
        d = frame_distance(db, a, b, metric) + (0.0 if term is None else term.cost(a, b))
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
