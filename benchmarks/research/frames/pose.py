"""Head pose from 2-D face keypoints, the pose term of selection, and a pose-aware background choice.

Composite mode pastes a database frame's lower face onto a background frame; the paste only looks real when
the two heads have (nearly) the same pose. This module gives

- :func:`head_pose`: a 4-number pose per frame from its keypoints in its own image pixels -- yaw, pitch and
  roll proxies and log scale (no 3-D model; every number is a ratio of landmark distances, so it is the same
  for every camera);
- :class:`PoseTerm`: a target-cost term ``weight * |z(pose_bg[t]) - z(pose_db[r])|^2`` (z: standardized by
  the database's own spread) for output frame t and database row r. It is a
  :class:`sketchsynth.feature_term.FeatureTerm`, so the candidate re-rank and the Viterbi decoder
  (:func:`sketchsynth._kernels.viterbi_lattice`, recorded successors included) both apply it unchanged;
- :func:`choose_background`: the background take chosen jointly with the mouths: for each start of the
  (ping-pong) take, how cheaply every output frame finds a candidate whose target + pose cost is low, plus
  the head-motion fit of the old chooser.

Everything here works on keypoints only (no pixels), so the decision is made before any frame is decoded.
"""

from __future__ import annotations

import numpy as np

POSE_NAMES = ("yaw", "pitch", "roll", "log_scale")
POSE_DIM_WEIGHTS = (1.0, 1.0, 1.0, 0.35)
"""Relative weights of the standardized pose dimensions (scale is absorbed by the paste's similarity, so it
matters less: a different scale only changes the face's resolution)."""
DEFAULT_POSE_WEIGHT = 0.25
EDGE_WEIGHT = 2.0
EDGE_QUANTILES = (2.0, 98.0)
"""Background choice: cost (median target costs per output frame) of a background frame whose own geometry is
outside the database's p2-p98 range (see :func:`choose_background`)."""
"""The pose term's weight: a one-standard-deviation pose mismatch (database spread) on every dimension costs
this many median per-frame target costs. Measured on cnn2 validation (NOTES.md: 0, 0.25, 0.5, 1, 2)."""


def head_pose(keypoints: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll and log scale of faces from their keypoints.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n, 70, 2|3)
        Image pixels (OpenPose/iBUG order).

    Returns
    -------
    np.ndarray, shape (n, 4), float64
        ``yaw``: nose tip (30) x offset from the middle of the face outline's ends (0, 16), over their
        distance (about sin yaw / 2; positive: nose towards the image's right);
        ``pitch``: nose tip's height below the eye centre, over the inter-ocular distance (grows as the
        head tilts forward); ``roll``: angle of the outer eye corners' line (36 -> 45), radians;
        ``log_scale``: log inter-ocular distance in pixels. NaN where points are missing.
    """
    kp = np.asarray(keypoints, np.float64)[..., :2]
    v = kp[:, 45] - kp[:, 36]
    iod = np.linalg.norm(v, axis=1)
    roll = np.arctan2(v[:, 1], v[:, 0])
    c, s = np.cos(-roll), np.sin(-roll)
    eye = kp[:, 36:48].mean(axis=1)

    def rot(p):  # into the roll-free frame about the eye centre, in IOD units
        d = p - eye
        return np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1) / iod[:, None]

    nose, j0, j16 = rot(kp[:, 30]), rot(kp[:, 0]), rot(kp[:, 16])
    yaw = (nose[:, 0] - (j0[:, 0] + j16[:, 0]) / 2) / np.maximum(j16[:, 0] - j0[:, 0], 1e-6)
    pitch = nose[:, 1]
    with np.errstate(divide="ignore"):
        out = np.stack([yaw, pitch, roll, np.log(iod)], axis=1)
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


class PoseSpace:
    """Standardization of :func:`head_pose` by a database's own spread.

    Parameters
    ----------
    dim_weights : sequence of 4 floats
        Relative weights of yaw, pitch, roll, log scale after standardizing.

    Attributes
    ----------
    centre_, spread_ : np.ndarray, shape (4,)
        Median and robust standard deviation (1.4826 MAD, floored) of the database's usable frames.
    db_pose_ : np.ndarray, shape (n_db, 4)
        Every database row's pose (NaN: unusable).
    """

    def __init__(self, dim_weights=POSE_DIM_WEIGHTS):
        self.dim_weights = tuple(float(w) for w in dim_weights)

    def fit(self, db) -> "PoseSpace":
        self.db_pose_ = head_pose(db.keypoints_)
        ok = np.asarray(db.table_["usable"], bool) & np.isfinite(self.db_pose_).all(axis=1)
        p = self.db_pose_[ok]
        self.centre_ = np.median(p, axis=0)
        mad = np.median(np.abs(p - self.centre_), axis=0) * 1.4826
        self.spread_ = np.maximum(mad, np.array([0.005, 0.005, np.radians(0.5), 0.01]))
        return self

    def z(self, pose: np.ndarray) -> np.ndarray:
        """Standardized, weighted pose, shape (n, 4); NaN rows stay NaN."""
        return (np.asarray(pose, np.float64) - self.centre_) / self.spread_ * np.sqrt(self.dim_weights)


def pose_term(space: PoseSpace, bg_pose: np.ndarray, weight_abs: float):
    """The pose term as a :class:`sketchsynth.feature_term.FeatureTerm` (already scaled).

    Parameters
    ----------
    space : PoseSpace
        Fitted on the database.
    bg_pose : np.ndarray, shape (T, 4)
        Pose of the background frame shown at each output (= input) frame.
    weight_abs : float
        Target-cost units per squared standardized pose distance (``pose_weight * cost_unit``).

    Returns
    -------
    FeatureTerm
        ``query`` (T, 4), ``bank`` (n_db, 4), ``pos`` = arange (rows without a pose: -1).
    """
    from sketchsynth.feature_term import FeatureTerm

    bank = space.z(space.db_pose_)
    pos = np.where(np.isfinite(bank).all(axis=1), np.arange(len(bank)), -1).astype(np.int64)
    bank = np.nan_to_num(bank).astype(np.float32)
    q = np.nan_to_num(space.z(bg_pose)).astype(np.float32)
    t = FeatureTerm(q, bank, pos, beta=1.0)
    t.weight, t.missing = float(weight_abs), 16.0
    return t


def combine_terms(a, b):
    """One FeatureTerm whose weighted distance is the sum of ``a``'s and ``b``'s (either may be None)."""
    from sketchsynth.feature_term import FeatureTerm

    if a is None or a.weight == 0:
        return b
    if b is None or b.weight == 0:
        return a
    sa, sb = np.sqrt(a.weight), np.sqrt(b.weight)
    pos = np.where((a.pos >= 0) & (b.pos >= 0), np.arange(len(a.pos)), -1)
    bank = np.zeros((len(a.pos), a.bank.shape[1] + b.bank.shape[1]), np.float32)
    ok = pos >= 0
    bank[ok, :a.bank.shape[1]] = a.bank[a.pos[ok]] * sa
    bank[ok, a.bank.shape[1]:] = b.bank[b.pos[ok]] * sb
    q = np.concatenate([a.query * sa, b.query * sb], axis=1).astype(np.float32)
    t = FeatureTerm(q, bank, pos.astype(np.int64), beta=1.0)
    t.weight, t.missing = 1.0, a.weight * a.missing + b.weight * b.missing
    return t


def pingpong(n: int, n_out: int, start: int = 0) -> np.ndarray:
    """Indices 0..n-1 played from ``start`` forwards, then backwards, ... for ``n_out`` frames."""
    period = 2 * (n - 1) if n > 1 else 1
    t = (start + np.arange(n_out)) % period
    return np.where(t < n, t, period - t).astype(np.int64)


def choose_background(db, space: PoseSpace, cand: np.ndarray, cost: np.ndarray, usable: np.ndarray,
                      input_matrices: np.ndarray | None, pose_weight: float = DEFAULT_POSE_WEIGHT,
                      motion_weight: float = 1.0, step: int = 5, edge_weight: float | None = None,
                      edge_quantiles=None) -> dict | None:
    """The background take (recording, start) where the needed mouths exist in a compatible pose.

    For each recording with video and a usable face in every frame, and each start (every ``step`` frames,
    played ping-pong for the output's length), the score is

        mean_t min_k (cost[t, k] + pose_weight * cost_unit * |z(bg_t) - z(cand_tk)|^2) / cost_unit
        + motion_weight * head-motion misfit / its median over starts

    (the head-motion misfit is :func:`sketchsynth.composite.choose_background`'s; 0 without input maps,
    as for speech).

    Parameters
    ----------
    db : FrameDatabase
    space : PoseSpace
    cand, cost : np.ndarray, shape (T, K)
        Candidate rows (-1 pad) and target costs per output frame.
    usable : np.ndarray, shape (T,), bool
    input_matrices : np.ndarray, shape (T, 2, 3) or None
        The input's image -> normalized maps (head motion); None or NaN for speech.
    edge_weight : float
        Added per background frame (mean over the take, in cost units) whose own face geometry
        (:func:`mesh_composite.geometry`: nose-chin, jaw width, nose-lip over IOD) lies outside the
        database's ``edge_quantiles`` range: a background already at the edge of the speaker's range
        leaves no room for the pasted face (measured: jaw width re-tracked 0.03 IOD narrower).

    Returns
    -------
    dict or None
        ``recording``, ``rows`` (T,) database rows of the background, ``cost``, ``pose`` (T, 4),
        ``video``, ``scores`` (per start, for the notes).
    """
    from sketchsynth.composite import _motion_or_none, head_motion
    from sketchsynth.video_out import _db_videos

    T = len(cand)
    u = np.flatnonzero(usable & (cand[:, 0] >= 0))
    cost_unit = float(np.median(cost[u, 0])) if len(u) else 1.0
    zc = space.z(space.db_pose_[np.maximum(cand[u], 0)])              # (U, K, 4)
    cc = np.where(cand[u] >= 0, cost[u], np.inf) / max(cost_unit, 1e-12)
    want = None if input_matrices is None else _motion_or_none(input_matrices)
    edge_weight = EDGE_WEIGHT if edge_weight is None else edge_weight
    edge_quantiles = EDGE_QUANTILES if edge_quantiles is None else edge_quantiles
    from mesh_composite import geometry

    kp_all = np.asarray(db.keypoints_, np.float64)
    geo = geometry(kp_all)
    okg = np.asarray(db.table_["usable"], bool) & np.isfinite(geo).all(axis=1)
    glo, ghi = np.percentile(geo[okg], edge_quantiles, axis=0)
    edge = ((geo < glo) | (geo > ghi)).any(axis=1).astype(np.float64)
    videos = _db_videos(db)
    rec = db.table_["recording"]
    best, scores = None, []
    for name, path in videos.items():
        if path is None:
            continue
        rows = np.flatnonzero(rec == name)
        if len(rows) < 2 or not np.isfinite(db.transforms_[rows]).all():
            continue
        starts = list(range(0, max(1, len(rows) - 1), max(1, int(step))))
        fits, motions, takes = [], [], []
        for s in starts:
            take = rows[pingpong(len(rows), T, s)]
            zb = space.z(space.db_pose_[take])[u]                       # (U, 4)
            d = ((zc - zb[:, None, :]) ** 2).sum(axis=2)
            d = np.where(np.isfinite(d), d, 16.0)
            fit = float(np.mean(np.min(cc + pose_weight * d, axis=1))) + edge_weight * float(edge[take].mean())
            if want is None:
                mot = 0.0
            else:
                got = head_motion(db.transforms_[take])
                mot = float(((got - want) ** 2).mean())
            fits.append(fit)
            motions.append(mot)
            takes.append(take)
        motions = np.asarray(motions)
        mnorm = motions / max(float(np.median(motions)), 1e-12) if motions.any() else motions
        total = np.asarray(fits) + motion_weight * mnorm
        i = int(np.argmin(total))
        scores.append({"recording": name, "fit": fits, "motion": motions.tolist()})
        if best is None or total[i] < best["cost"]:
            best = {"recording": name, "rows": takes[i], "cost": float(total[i]), "video": path,
                    "start": int(starts[i]), "fit": float(fits[i]), "motion": float(motions[i])}
    if best is not None:
        best["pose"] = space.db_pose_[best["rows"]]
        best["scores"] = scores
    return best
