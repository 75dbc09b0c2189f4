"""Another person's face drives: their expression, carried onto the database speaker's face.

Matching another person's normalized keypoints as they are asks the database for *their* face -- their jaw
width, lip thickness, the height of their mouth under the nose -- and the selection then follows the
identity more than the expression. The classical remedy (expression transfer) keeps only the driver's motion:
each point's deviation from the driver's own median shape, scaled by how much the speaker's face moves against
the driver's, added to the speaker's median shape. Six held-out pieces of another person's reading driving a
50 s database: the chosen frames' mouth opening followed the driver's at r 0.48 as given, 0.71 retargeted
(docs/measurements.md, "Another person's face").

The speaker's own face keeps its absolute target: :func:`identity_ratio` tells the two apart, the distance of the
driver's median shape from the database's in units of the database's own frame-to-median spread.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

RETARGET = ("auto", "on", "off")
IDENTITY_RATIO = 2.0
"""Identity ratio from which ``auto`` retargets. The speaker's own clips: GRID s1's 100 held-out sentences lie at
0.21-1.63 against a database of its other 700; a 71 s take's validation part at 0.98 / 1.34 / 1.82 against
databases of its first 50 / 30 / 18 s (a short database knows less of its speaker's range; retargeting the 18 s
case lowered its re-tracked r from 0.75 to 0.66). 23 clips of other people: 1.47-11.8; under 2 only 1 against the
50 s database (none against the 30 / 18 s ones) and 2 against GRID s1 (docs/measurements.md)."""
SCALE_RANGE = (0.5, 2.0)
"""Bounds of the motion scale: a driver who barely moves (or is badly tracked) is not blown up without end."""
SAMPLE_ROWS = 50_000
"""Database frames the speaker's shape statistics read at most (evenly spaced): enough for medians."""


def speaker_shape(db) -> dict:
    """The database speaker's median normalized face and how much it moves.

    Returns
    -------
    dict
        ``median`` (70, 2) float64, normalized units; ``spread`` float, the median over frames of the weighted
        RMS point distance to ``median``; ``motion`` float, the median over the 140 coordinates of their standard
        deviation.
    """
    rows = db.usable_rows_
    if len(rows) > SAMPLE_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, SAMPLE_ROWS).astype(np.int64)]
    X = np.asarray(db.normalized_[rows], np.float64)
    med = np.median(X, axis=0)
    w = np.asarray(db.weights_, np.float64)
    spread = float(np.median(np.sqrt((w * ((X - med) ** 2).sum(-1)).sum(-1) / w.sum())))
    return {"median": med, "spread": spread, "motion": float(np.median(X.std(axis=0)))}


def identity_ratio(db, shape: dict, median: np.ndarray) -> float:
    """How far a driver's median face (70, 2) lies from the speaker's, in units of the speaker's own spread."""
    w = np.asarray(db.weights_, np.float64)
    ok = np.isfinite(median).all(axis=1)
    d = ((median[ok] - shape["median"][ok]) ** 2).sum(-1)
    return float(np.sqrt((w[ok] * d).sum() / max(w[ok].sum(), 1e-12)) / max(shape["spread"], 1e-12))


def judge(db, shape: dict, centre: np.ndarray, deviation: np.ndarray, mode: str) -> dict:
    """Whether and how much to retarget a driver of this centre (70, 2) and per-coordinate deviation (70, 2)
    (NaN for points seen fewer than twice): ``identity_ratio``, ``scale``, ``applied``."""
    ratio = identity_ratio(db, shape, centre)
    dev = deviation[np.isfinite(deviation)]
    scale = float(np.clip(shape["motion"] / max(float(np.median(dev)) if dev.size else 0.0, 1e-12), *SCALE_RANGE))
    return {"mode": mode, "applied": bool(mode == "on" or (mode == "auto" and ratio >= IDENTITY_RATIO)),
            "identity_ratio": ratio, "scale": scale}


def retarget_points(db, points: np.ndarray, weights: np.ndarray, usable: np.ndarray, mode: str = "auto"):
    """A driver's normalized points carried onto the database speaker's face.

    Parameters
    ----------
    db : FrameDatabase
    points : np.ndarray, shape (T, 70, 2), float32
        The driver in the database's normalized space (0 where ignored).
    weights : np.ndarray, shape (T, 70)
        Point weights (0: the point is missing in that frame).
    usable : np.ndarray, shape (T,), bool
    mode : {"auto", "on", "off"}
        ``auto``: retarget when the driver's identity ratio is at least :data:`IDENTITY_RATIO`.

    Returns
    -------
    points : np.ndarray, shape (T, 70, 2), float32
        ``speaker median + scale * (points - driver median)`` where a point is seen (and seen in at least two
        frames), else as given.
    report : dict
        ``mode``, ``applied``, ``identity_ratio`` and ``scale`` (None when nothing could be measured).
    """
    if mode not in RETARGET:
        raise ParameterError(f"--retarget must be one of {', '.join(RETARGET)}, got {mode!r}")
    P = np.asarray(points, np.float32)
    report = {"mode": mode, "applied": False, "identity_ratio": None, "scale": None}
    seen = (np.asarray(weights) > 0) & np.asarray(usable, bool)[:, None]
    known = seen.sum(axis=0) >= 2  # points whose median and deviation mean something
    if mode == "off" or not known.any():
        return P, report
    X = np.where(seen[:, known, None], P[:, known].astype(np.float64), np.nan)
    centre, deviation = np.full((70, 2), np.nan), np.full((70, 2), np.nan)
    centre[known], deviation[known] = np.nanmedian(X, axis=0), np.nanstd(X, axis=0)
    shape = speaker_shape(db)
    report = judge(db, shape, centre, deviation, mode)
    if not report["applied"]:
        return P, report
    out = shape["median"][None] + report["scale"] * (P - centre[None])
    return np.where((seen & known)[..., None], out, P).astype(np.float32), report


WARMUP_FRAMES = 25
"""Usable frames a stream sees before it judges the driver's identity (until then it matches as given)."""


class StreamRetarget:
    """Retargeting in a stream (live, or a stage's ``push``): the driver's running mean face and motion so far.

    The batch reads medians over the whole input; a stream cannot wait, so from :data:`WARMUP_FRAMES` usable
    frames on it uses the mean and standard deviation of the frames seen, and decides ``auto`` on them again at
    every frame. The speaker's own face is not retargeted (its running identity ratio stays under
    :data:`IDENTITY_RATIO`), so its stream is the batch's.

    Parameters
    ----------
    mode : {"auto", "on", "off"}

    Attributes
    ----------
    shape_ : dict or None
        :func:`speaker_shape` of the database (None with ``mode="off"``).
    report_ : dict
        The latest decision (``mode``, ``applied``, ``identity_ratio``, ``scale``).
    """

    def __init__(self, mode: str = "auto"):
        self.mode = mode

    def fit(self, db) -> "StreamRetarget":
        if self.mode not in RETARGET:
            raise ParameterError(f"--retarget must be one of {', '.join(RETARGET)}, got {self.mode!r}")
        self.db_ = db
        self.shape_ = speaker_shape(db) if self.mode != "off" else None
        return self.start()

    def start(self) -> "StreamRetarget":
        """Forget the driver seen so far."""
        self.n_, self.s1_, self.s2_, self.frames_ = np.zeros(70), np.zeros((70, 2)), np.zeros((70, 2)), 0
        self.report_ = {"mode": self.mode, "applied": False, "identity_ratio": None, "scale": None}
        return self

    def push(self, points: np.ndarray, weights: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """The next frames' points (T, 70, 2) float32, retargeted by the statistics up to and including each."""
        P = np.array(points, np.float32)
        if self.mode == "off":
            return P
        seen = (np.asarray(weights) > 0) & np.asarray(usable, bool)[:, None]
        for t in range(len(P)):
            if not usable[t]:
                continue
            x = P[t].astype(np.float64)
            m = seen[t]
            self.n_ += m
            self.s1_[m] += x[m]
            self.s2_[m] += x[m] ** 2
            self.frames_ += 1
            known = self.n_ >= 2
            if self.frames_ < WARMUP_FRAMES or not known.any():
                continue
            mean, std = np.full((70, 2), np.nan), np.full((70, 2), np.nan)
            mean[known] = self.s1_[known] / self.n_[known, None]
            std[known] = np.sqrt(np.maximum(self.s2_[known] / self.n_[known, None] - mean[known] ** 2, 0))
            self.report_ = judge(self.db_, self.shape_, mean, std, self.mode)
            if self.report_["applied"]:
                out = self.shape_["median"] + self.report_["scale"] * (x - mean)
                P[t] = np.where((m & known)[:, None], out, P[t])
        return P
