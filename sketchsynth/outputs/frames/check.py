"""The self-check of every paste: is it plausible, and if not, what is shown instead.

From keypoints only (before any pixel is decoded) :meth:`PasteCheck.check` judges one paste of a chosen
frame onto a background frame (:class:`~sketchsynth.outputs.frames.mesh.MeshWarp`): the heads' roll
difference, the similarity's scale against what the faces' sizes say, every pasted triangle's stretch (ratio of
its map's singular values) and orientation (a fold), and the pasted face's geometry (nose-to-chin, jaw width,
nose-to-lip over the inter-ocular distance) against the database's own p0.5-p99.5 range.
:func:`checked_rows` replaces a failing choice by the best passing alternative and counts what it did.
"""

from __future__ import annotations

import numpy as np

from ...database.pose import face_geometry, geometry_range
from ...layout import EYE_OUTER_CORNERS
from .mesh import iod, mesh_residual, triangle_maps

LESS_FOLLOW = (0.5, 0.0)
"""Shares of the mouth's follow tried on a failing paste before other frames are."""
GEOMETRY_MARGIN = 0.1
"""Default share of the database's geometry range a paste keeps clear of at each end (see :class:`PasteCheck`)."""
MAX_ALTERNATIVES = 16
"""Candidates of a frame tried, best target cost first, before holding the previous paste."""


class PasteCheck:
    """Limits of a plausible paste.

    Parameters
    ----------
    max_roll_deg : float
        Largest difference of the two heads' roll (eye-line angle), degrees.
    max_scale_ratio : float
        The similarity's scale may differ from the faces' inter-ocular ratio by this factor, either way.
    max_stretch : float
        Largest singular-value ratio of a pasted triangle's map, judged without the mouth's ``follow``
        (what the pose mismatch does to the lower face).
    geometry_margin : float
        Share of the database's geometry range kept clear inside each of its ends: a paste judged from
        keypoints just inside the range is often seen just outside it when the written frame is tracked.

    Attributes
    ----------
    geometry_range_ : np.ndarray, shape (2, 3)
        The database's own p0.5-p99.5 of :func:`sketchsynth.database.pose.face_geometry`, narrowed by
        ``geometry_margin``.
    """

    def __init__(self, max_roll_deg: float = 6.0, max_scale_ratio: float = 1.12, max_stretch: float = 1.5,
                 geometry_margin: float = GEOMETRY_MARGIN):
        self.max_roll_deg, self.max_scale_ratio, self.max_stretch = max_roll_deg, max_scale_ratio, max_stretch
        self.geometry_margin = geometry_margin

    def fit(self, db) -> "PasteCheck":
        lo, hi = geometry_range(db)
        pad = np.nan_to_num(self.geometry_margin * (hi - lo), nan=0.0, posinf=0.0)
        self.geometry_range_ = np.stack([lo + pad, hi - pad])
        return self

    def check(self, warp, bg_kp: np.ndarray, src_kp: np.ndarray, residual: np.ndarray | None = None) -> dict:
        """One paste's verdict.

        Parameters
        ----------
        warp : MeshWarp (fitted)
        bg_kp, src_kp : np.ndarray, shape (70, 2|3)
            Background keypoints (output pixels) and the chosen frame's (its own pixels).
        residual : np.ndarray, shape (70, 2), optional
            The mouth's ``follow`` displacement: folds and geometry are judged on the paste as drawn.

        Returns
        -------
        dict
            ``ok``, ``reason`` (comma-separated failed tests: rotation, scale, stretch, flipped, geometry),
            ``rotation_deg``, ``scale``, ``stretch``, ``flipped`` (triangle count), ``geometry`` (3,).
        """
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        sk = np.asarray(src_kp, np.float64)[:, :2]
        p0 = warp.plan(bg, sk)
        p = p0 if residual is None else warp.plan(bg, sk, residual=residual)
        S = p0["S"]
        scale = float(np.hypot(S[0, 0], S[1, 0])) / max(iod(bg) / max(iod(sk), 1e-9), 1e-9)
        a, b = EYE_OUTER_CORNERS
        roll = [np.degrees(np.arctan2(k[b, 1] - k[a, 1], k[b, 0] - k[a, 0])) for k in (bg, sk)]
        droll = abs((roll[0] - roll[1] + 180) % 360 - 180)
        tri = warp.tri_[warp.lower_]
        flipped = int((np.sign(_area(p["dst"][tri])) != np.sign(_area(p["src"][tri]))).sum())
        sv = np.linalg.svd(np.nan_to_num(triangle_maps(p0["dst"], p0["src"], tri)[:, :, :2]), compute_uv=False)
        stretch = float(np.max(sv[:, 0] / np.maximum(sv[:, 1], 1e-9))) if len(sv) else 1.0
        g = face_geometry(p["dst_kp"])
        lo, hi = self.geometry_range_
        reason = [name for name, bad in (
            ("rotation", droll > self.max_roll_deg),
            ("scale", not 1 / self.max_scale_ratio <= scale <= self.max_scale_ratio),
            ("stretch", stretch > self.max_stretch), ("flipped", flipped > 0),
            ("geometry", not ((g >= lo) & (g <= hi)).all())) if bad]
        return {"ok": not reason, "reason": ",".join(reason), "rotation_deg": float(droll), "scale": scale,
                "stretch": stretch, "flipped": flipped, "geometry": g}


def _area(t: np.ndarray) -> np.ndarray:
    """Signed doubled areas of triangles (n, 3, 2)."""
    return ((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
            - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0]))


def checked_rows(check: PasteCheck, warp, db, rows_out: np.ndarray, bg_kp: np.ndarray, alternatives=None,
                 target_points: np.ndarray | None = None, max_alternatives: int = MAX_ALTERNATIVES,
                 bg_rows: np.ndarray | None = None):
    """Rows with every implausible paste replaced by the nearest acceptable alternative.

    For an output frame whose paste fails, in order: the same frame with its mouth following the target less
    (half, then not at all: a fold the follow made), the frame's other candidates (best target cost first),
    then holding the previous output frame's row (its mouth re-warped onto this background frame), then the
    background frame's own lower face (``bg_rows``: a real frame, its mouth moved towards the target); these
    are tried at the full follow, then at half and none; when none passes, the first choice is kept with its
    mouth as recorded.

    Parameters
    ----------
    check : PasteCheck (fitted)
    warp : MeshWarp (fitted)
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
    bg_kp : np.ndarray, shape (n_out, 70, 2|3)
        The background's keypoints at each output frame (output pixels).
    alternatives : np.ndarray, shape (n_out, K), int64, optional
        Candidate rows per output frame, best first (-1 pads).
    target_points : np.ndarray, shape (n_out, 70, 2), optional
        The target in normalized space: with ``warp.follow`` the check sees the mouth as it will be drawn.
    bg_rows : np.ndarray, shape (n_out,), int64, optional
        The background's database rows (a database take), the last resort.

    Returns
    -------
    rows : np.ndarray, shape (n_out,), int64
    follow : np.ndarray, shape (n_out,), float64
        The share of ``warp.follow`` each paste keeps (1 unless the check reduced it).
    report : dict
        Counts: ``checked``, ``implausible`` (first choice failed), which splits into ``less_follow`` (the same
        frame, following less), ``replaced_candidate``, ``held_previous``, ``background_own`` and
        ``kept_implausible``; ``replacement_follows_less`` (of the replacements, those that follow less);
        ``reasons``: test -> first choices failing it.
    """
    rows = np.asarray(rows_out, np.int64).copy()
    kp = np.asarray(db.keypoints_, np.float64)

    follow = np.ones(len(rows))

    def verdict(k, row, share=1.0):
        res = None if target_points is None else mesh_residual(warp, target_points[k], db, row)
        if res is not None:
            res = res * share
        elif share < 1.0:
            return {"ok": False}  # nothing followed: less follow changes nothing
        return check.check(warp, bg_kp[k], kp[row], residual=res)

    rep = {"checked": 0, "implausible": 0, "less_follow": 0, "replaced_candidate": 0, "held_previous": 0,
           "background_own": 0, "kept_implausible": 0, "replacement_follows_less": 0, "reasons": {}}
    for k, r in enumerate(rows):
        if r < 0 or not np.isfinite(bg_kp[k][:, :2]).all() or not np.isfinite(kp[r][:, :2]).all():
            continue
        rep["checked"] += 1
        first = verdict(k, r)
        if first["ok"]:
            continue
        rep["implausible"] += 1
        for why in first["reason"].split(","):
            rep["reasons"][why] = rep["reasons"].get(why, 0) + 1
        share = next((f for f in LESS_FOLLOW if verdict(k, r, f)["ok"]), None)
        if share is not None:
            follow[k] = share
            rep["less_follow"] += 1
            continue
        tried = [] if alternatives is None else [int(a) for a in alternatives[k][:max_alternatives]
                                                 if a >= 0 and a != r and np.isfinite(kp[a][:, :2]).all()]
        options = [("replaced_candidate", a) for a in tried]
        if k > 0 and rows[k - 1] >= 0:
            options.append(("held_previous", int(rows[k - 1])))
        if bg_rows is not None and bg_rows[k] >= 0:
            options.append(("background_own", int(bg_rows[k])))
        # every other frame at the full follow before any at less: the target's mouth is worth a replacement
        pick = next(((what, a, f) for f in (1.0,) + LESS_FOLLOW for what, a in options if verdict(k, a, f)["ok"]),
                    None)
        if pick is not None:
            what, rows[k], follow[k] = pick
            rep[what] += 1
            rep["replacement_follows_less"] += pick[2] < 1.0
        else:
            follow[k] = 0.0  # nothing passes: the chosen mouth as recorded strays least from a real face
            rep["kept_implausible"] += 1
    return rows, follow, rep
