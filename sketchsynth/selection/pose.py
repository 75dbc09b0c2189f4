"""Pose-aware selection for a composite video: the background take, and a pose term in the costs.

``--frames composite`` pastes each chosen frame's lower face into one continuous background take. The paste
only looks real when both heads have nearly the same pose (Video Rewrite, Bregler et al. 1997, chose its mouth
samples so). :func:`add_pose_term` therefore, before the Viterbi decoder runs,

1. chooses the background take (:func:`choose_background`) where the needed mouths exist in a compatible
   pose: for each recording and start, how cheaply every output frame finds a candidate whose target + pose
   cost is low, plus the head-motion fit to the input's, plus how often the background's own face is at the
   edge of the speaker's range (a paste there has no room);
2. adds the pose term ``w * cost_unit * |z(pose of the background frame at t) - z(pose of row r)|^2``
   (z: :class:`sketchsynth.database.pose.PoseSpace`) as a :class:`~sketchsynth.targets.feature_term.FeatureTerm`:
   the candidates are re-ranked with it, and the decoder adds it to every lattice state, recorded successors
   included;
3. adds its join side, ``w_join * cost_unit * |z(x) - z(b)|^2`` between the frame a jump leads from (the
   recorded successor of the previous choice) and the frame it leads to, as a
   :class:`~sketchsynth.selection.joins.JoinTerm`: the pasted head does not jump in pose from one frame to the
   next even where the background's pose leaves room for either.

``cost_unit`` is the median best target cost of the input (as the decoder's jump cost is scaled), so one
weight carries over between databases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..database.pose import PoseSpace, face_geometry, usable_rows

DEFAULT_POSE_WEIGHT = 0.25
"""The pose term's weight for a database of :data:`FULL_POSE_FRAMES` usable frames or more: a
one-standard-deviation pose mismatch on every dimension costs this many median target costs. Measured on a
moving-head take's validation part with a 50 s database (0, 0.25, 0.5, 1, 2): above 0.25 the mouths suffer
(opening r falls fast), at 0 the pastes are stretched."""
FULL_POSE_FRAMES = 1250
"""Usable frames from which :data:`DEFAULT_POSE_WEIGHT` holds; below, :func:`default_pose_weight` falls with the
square of the share. A short database holds each mouth in few poses, so weighing poses costs the mouths more
(the same validation part against databases of the take's first 18 s / 30 s: re-tracked opening r 0.78 / 0.72
at weight 0, 0.75 / 0.77 at this rule's 0.033 / 0.09, 0.64 / 0.74 at 0.25)."""
DEFAULT_POSE_JOIN_WEIGHT = 0.25
"""The pose term's join side: a one-standard-deviation pose jump on every dimension between two joined frames
costs this many median target costs (before the smoothing weight). Measured on a moving-head take's validation
part (0, 0.25, 0.5, 1, 4): every weight kept the re-tracked opening r (face-driven 0.83, speech-driven
0.28-0.33); 0.25 had the fewest implausible frames face-driven (2.4% against 5.2% at 0) and fewer
speech-driven (1.6% against 2.0%); above 1 the chosen mouths fit their targets less."""
EDGE_WEIGHT = 2.0
"""Background choice: cost (in median target costs) of showing a background frame whose own geometry is
outside the database's :data:`EDGE_QUANTILES` (5 or 10 helped the speech-driven validation, broke the
face-driven one)."""
EDGE_WEIGHT_NO_MOTION = 5.0
"""The same for an input without a face (speech, text): no head motion to fit, so the background's own range
weighs more (speech-driven validation: implausible frames 3.6-4.4% at 2, 2.0% at 5)."""
EDGE_QUANTILES = (2.0, 98.0)
START_STEP = 5
"""Background starts tried, every this many frames of a recording."""
MISSING_POSE = 16.0
"""Squared standardized pose distance charged to a row without a pose."""


@dataclass
class BackgroundPlan:
    """The background take a composite video plays, chosen with the selection.

    Attributes
    ----------
    recording : str
    start : int
        Offset into the recording's rows where the take starts (played forwards, then backwards, ...).
    rows : np.ndarray, shape (T,), int64
        The background's database row at each target frame.
    cost : float
        Its score (lower is better).
    pose_weight : float
        The pose term's weight used (0: none).
    """

    recording: str
    start: int
    rows: np.ndarray
    cost: float
    pose_weight: float = 0.0

    def rows_for(self, db, n: int) -> np.ndarray:
        """The take's database rows for ``n`` output frames (the same take, replayed from its start)."""
        rec = np.flatnonzero(np.asarray(db.table_["recording"]) == self.recording)
        return rec[pingpong(len(rec), n, self.start)]

    def describe(self, db) -> dict:
        return {"take": self.recording, "first_frame": int(db.table_["frame"][self.rows[0]]), "fit": self.cost,
                "pose_weight": self.pose_weight}


def default_pose_weight(db) -> float:
    """The pose term's default weight for a database: :data:`DEFAULT_POSE_WEIGHT`, less below
    :data:`FULL_POSE_FRAMES` usable frames."""
    share = min(1.0, float(db.n_usable_) / FULL_POSE_FRAMES)
    return DEFAULT_POSE_WEIGHT * share ** 2


def pingpong(n: int, n_out: int, start: int = 0) -> np.ndarray:
    """Indices 0..n-1 played from ``start`` forwards, then backwards, ... for ``n_out`` frames (never jumps)."""
    period = 2 * (n - 1) if n > 1 else 1
    t = (start + np.arange(n_out)) % period
    return np.where(t < n, t, period - t).astype(np.int64)


def head_motion(matrices: np.ndarray) -> np.ndarray:
    """Head pose over time from image -> normalized maps: (x, y) of the face in face widths, log scale, angle.

    Parameters
    ----------
    matrices : np.ndarray, shape (n, 2, 3)
        Image -> normalized maps (finite).

    Returns
    -------
    np.ndarray, shape (n, 4), float64
        Mean-removed over the sequence; translation divided by the mean face scale.
    """
    from ..database.normalize import invert_matrices

    inv = invert_matrices(np.asarray(matrices, np.float64))  # normalized -> image: the head in the image
    a = (inv[:, 0, 0] + inv[:, 1, 1]) / 2
    b = (inv[:, 1, 0] - inv[:, 0, 1]) / 2
    p = np.column_stack([inv[:, :, 2], np.log(np.maximum(np.hypot(a, b), 1e-9)), np.arctan2(b, a)])
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) == 0:
        return np.zeros((0, 4))
    scale = float(np.exp(p[:, 2].mean()))
    q = p - p.mean(axis=0)
    q[:, :2] /= max(scale, 1e-9) * 100.0  # normalized face widths are ~100 units of the etalon's pixels
    return q


def input_motion(matrices) -> np.ndarray | None:
    """:func:`head_motion` of an input's maps, gaps filled from the nearest frame; None with < 2 faces."""
    if matrices is None:
        return None
    m = np.asarray(matrices, np.float64)
    ok = np.isfinite(m).all(axis=(1, 2))
    if ok.sum() < 2:
        return None
    good = np.flatnonzero(ok)
    near = good[np.clip(np.searchsorted(good, np.arange(len(m))), 0, len(good) - 1)]
    return head_motion(np.where(ok[:, None, None], m, m[near]))


def background_takes(db):
    """(recording name, its rows) of every recording that can be a background: video, a face in every frame."""
    import os

    rec = np.asarray(db.table_["recording"])
    for r in db.recordings_:
        v = r.get("video")
        if not v or not os.path.isfile(v):
            continue
        rows = np.flatnonzero(rec == r["name"])
        if len(rows) >= 2 and np.isfinite(db.transforms_[rows]).all():
            yield r["name"], rows


def choose_background(db, n: int, space: PoseSpace | None = None, cand=None, cost=None, input_matrices=None,
                      pose_weight: float = DEFAULT_POSE_WEIGHT, edge_weight: float | None = None,
                      step: int = START_STEP) -> BackgroundPlan | None:
    """The background take (recording, start) where the needed mouths exist in a compatible pose.

    Score of a take (lower is better), each part in median target costs::

        mean_t min_k (cost[t, k] + pose_weight * cost_unit * |z(bg_t) - z(cand[t, k])|^2) / cost_unit
        + head-motion misfit to the input's / its median over starts      (0 without input maps: speech)
        + edge_weight * share of the take's frames whose geometry is outside the database's p2-p98

    Without candidates only the last two parts count.

    Parameters
    ----------
    db : FrameDatabase
    n : int
        Output frames.
    space : PoseSpace, optional
        Fitted on ``db`` (fitted here when None).
    cand, cost : np.ndarray, shape (n, K), optional
        Candidate rows (-1 pads) and their target costs per output frame.
    input_matrices : np.ndarray, shape (n, 2, 3), optional
        The input's image -> normalized maps (NaN: no face).
    edge_weight : float, optional
        Default :data:`EDGE_WEIGHT`, or :data:`EDGE_WEIGHT_NO_MOTION` without input maps.

    Returns
    -------
    BackgroundPlan or None
        None when no recording can be a background.
    """
    space = space if space is not None else PoseSpace().fit(db)
    fit_part = None
    if cand is not None and pose_weight >= 0:
        u = np.flatnonzero(cand[:, 0] >= 0)
        if len(u):
            cost_unit = max(float(np.median(cost[u, 0])), 1e-12)
            zc = space.z(space.db_pose_[np.maximum(cand[u], 0)])                 # (U, K, 4)
            cc = np.where(cand[u] >= 0, cost[u], np.inf) / cost_unit
            fit_part = (u, zc, cc)
    want = input_motion(input_matrices)
    if edge_weight is None:
        edge_weight = EDGE_WEIGHT if want is not None else EDGE_WEIGHT_NO_MOTION
    geo = face_geometry(db.keypoints_)
    ok = usable_rows(db) & np.isfinite(geo).all(axis=1)
    lo, hi = np.percentile(geo[ok], EDGE_QUANTILES, axis=0) if ok.any() else (geo.min(0), geo.max(0))
    with np.errstate(invalid="ignore"):
        edge = (~np.isfinite(geo).all(axis=1) | (geo < lo).any(axis=1) | (geo > hi).any(axis=1)).astype(float)
    best = None
    for name, rows in background_takes(db):
        starts = list(range(0, max(1, len(rows) - 1), max(1, int(step))))
        fits, motions, takes = [], [], []
        for s in starts:
            take = rows[pingpong(len(rows), n, s)]
            fit = edge_weight * float(edge[take].mean())
            if fit_part is not None:
                u, zc, cc = fit_part
                d = ((zc - space.z(space.db_pose_[take])[u][:, None, :]) ** 2).sum(axis=2)
                d = np.where(np.isfinite(d), d, MISSING_POSE)
                fit += float(np.mean(np.min(cc + pose_weight * d, axis=1)))
            motions.append(0.0 if want is None else float(((head_motion(db.transforms_[take]) - want) ** 2).mean()))
            fits.append(fit)
            takes.append(take)
        mot = np.asarray(motions)
        med = float(np.median(mot))
        total = np.asarray(fits) + (mot / med if med > 0 else mot)
        i = int(np.argmin(total))
        if best is None or total[i] < best.cost:
            best = BackgroundPlan(name, int(starts[i]), takes[i], float(total[i]), float(pose_weight))
    return best


def pose_term(space: PoseSpace, bg_pose: np.ndarray, weight_abs: float):
    """The pose term as a :class:`~sketchsynth.targets.feature_term.FeatureTerm`, already weighted.

    Parameters
    ----------
    space : PoseSpace
        Fitted on the database.
    bg_pose : np.ndarray, shape (T, 4)
        Pose of the background frame shown at each target frame.
    weight_abs : float
        Target-cost units per squared standardized pose distance.
    """
    from ..targets.feature_term import FeatureTerm

    bank = space.z(space.db_pose_)
    pos = np.where(np.isfinite(bank).all(axis=1), np.arange(len(bank)), -1).astype(np.int64)
    t = FeatureTerm(np.nan_to_num(space.z(bg_pose)).astype(np.float32), np.nan_to_num(bank).astype(np.float32),
                    pos, beta=1.0)
    t.weight, t.missing = float(weight_abs), MISSING_POSE
    return t


class StreamingPoseTerm:
    """The pose term one output frame at a time, for a live composite: its background take is known ahead, so
    each frame's candidates are re-ranked as :func:`add_pose_term` re-ranks a lattice, and the fixed-lag decoder
    adds the same term to the recorded successors it considers.

    Parameters
    ----------
    background_rows : np.ndarray, shape (n,), int64
        The background take's database rows, in order.
    start : int
        The take's frame output frame 0 shows (it then plays forwards and backwards, :func:`pingpong`).
    weight : float
        The term's weight, in jump cost units: one standard deviation of pose mismatch on every dimension costs
        ``weight`` median best target costs (:data:`DEFAULT_POSE_WEIGHT`; :func:`default_pose_weight`).

    Attributes
    ----------
    term_ : FeatureTerm
        :func:`pose_term` of the take's poses, weight 1 (each column scales it by the running cost unit).
    """

    def __init__(self, background_rows: np.ndarray, start: int = 0, weight: float = DEFAULT_POSE_WEIGHT):
        self.background_rows, self.start, self.weight = background_rows, start, weight

    def fit(self, db) -> "StreamingPoseTerm":
        space = PoseSpace().fit(db)
        self.term_ = pose_term(space, space.db_pose_[np.asarray(self.background_rows, np.int64)], 1.0)
        return self

    def column(self, k: int, cand: np.ndarray, cost: np.ndarray, unit: float):
        """Output frame ``k``'s column: candidates (K,) int64 and target costs (K,) float64 -> the same re-sorted
        with the term added, and the decoder's feature tuple (:meth:`FixedLagViterbi.push`); ``unit``: the
        running median best target cost."""
        from ..targets.feature_term import rerank_with

        t = self.term_
        index = pingpong(len(t.query), 1, int(self.start) + int(k))  # (1,) int64: the background frame shown
        w = float(self.weight) * float(unit)
        c, total = rerank_with(t, np.asarray(cand)[None], np.asarray(cost, np.float64)[None], index, weight=w)
        fq, fbank, fpos, _, miss = t.kernel_args(index)
        return c[0], total[0], (fq[0], fbank, fpos, w, miss)


def combine_terms(a, b):
    """One FeatureTerm whose weighted distance is the sum of ``a``'s and ``b``'s (either may be None)."""
    from ..targets.feature_term import FeatureTerm

    if a is None or a.weight == 0:
        return b
    if b is None or b.weight == 0:
        return a
    sa, sb = np.sqrt(a.weight), np.sqrt(b.weight)
    n = len(a.pos)
    ok = (a.pos >= 0) & (b.pos >= 0)
    bank = np.zeros((n, a.bank.shape[1] + b.bank.shape[1]), np.float32)
    bank[ok, :a.bank.shape[1]] = a.bank[a.pos[ok]] * sa
    bank[ok, a.bank.shape[1]:] = b.bank[b.pos[ok]] * sb
    t = FeatureTerm(np.concatenate([a.query * sa, b.query * sb], axis=1).astype(np.float32), bank,
                    np.where(ok, np.arange(n), -1).astype(np.int64), beta=1.0)
    t.weight, t.missing = 1.0, a.weight * a.missing + b.weight * b.missing
    return t


def add_pose_term(db, lattice, matrices=None, weight: float = DEFAULT_POSE_WEIGHT, width: int | None = None,
                  join_weight: float = DEFAULT_POSE_JOIN_WEIGHT):
    """Choose the background take for a lattice and add the pose term to it.

    Parameters
    ----------
    db : FrameDatabase
    lattice : Lattice
    matrices : np.ndarray, shape (T, 2, 3), optional
        The input's image -> normalized maps (head motion); None for speech and text.
    weight : float
        The pose term's weight (0: the background is chosen, the costs are left alone).
    width : int, optional
        Candidates per frame the background choice looks at (default: all).
    join_weight : float
        The join side's weight (0: none).

    Returns
    -------
    (Lattice, BackgroundPlan or None)
        The lattice re-ranked with the term, its ``features`` carrying it (with any term it had), its
        ``joins`` the join side.
    """
    from ..targets.feature_term import rerank_with
    from .joins import JoinTerm

    K = lattice.candidates.shape[1] if width is None else min(int(width), lattice.candidates.shape[1])
    usable = lattice.usable
    cand = np.where(usable[:, None], lattice.candidates[:, :K], -1)
    space = PoseSpace().fit(db)
    plan = choose_background(db, len(lattice), space, cand, lattice.costs[:, :K], matrices, weight)
    if plan is None or weight <= 0 or not usable.any():
        return lattice, plan
    u = np.flatnonzero(usable)
    unit = float(np.median(lattice.costs[u, 0]))
    term = pose_term(space, space.db_pose_[plan.rows], weight * unit)
    cand, cost = lattice.candidates.copy(), lattice.costs.copy()
    cand[u], cost[u] = rerank_with(term, cand[u], cost[u], u)
    best = lattice.best.copy()
    rows = lattice.rows.copy()
    if lattice.exhaustive:
        best[u] += term.weight * term.distances(u, rows[u][:, None])[:, 0]
    else:
        rows[u], best[u] = cand[u, 0], cost[u, 0]
    joins = None
    if join_weight > 0:
        joins = JoinTerm(space.z(space.db_pose_).astype(np.float32), float(join_weight) * unit, MISSING_POSE)
    lat = replace(lattice, candidates=cand, costs=cost, rows=rows, best=best,
                  features=combine_terms(lattice.features, term), joins=joins)
    return lat, plan
