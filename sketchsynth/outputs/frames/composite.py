"""``--frames composite``: the chosen frames' lower face pasted into one continuous background take.

The classic way of Video Rewrite (Bregler et al. 1997) and trajectory-guided sample selection (Wang et al.
2010): a real take plays as the background -- the database take chosen with the selection
(:class:`~sketchsynth.selection.pose.BackgroundPlan`: where the needed mouths exist in a compatible head pose),
or with ``background="input"`` the input video itself (dubbing) -- and in every output frame

1. the paste is checked (:mod:`.check`) and an implausible one replaced by the best acceptable candidate, or
   the previous paste held;
2. the chosen frame's lower face is warped onto the background face by a landmark-driven triangle mesh
   (:mod:`.mesh`): the background's jaw, nose and cheeks, the chosen frame's mouth and chin (moved a little
   towards the target's shape, ``follow``), resampled once;
3. it is colour-matched (Lab, over the mask's rim where both show skin) and blended through a feathered mask
   (:mod:`.seam`);
4. a jump in the selection morphs over ``crossfade`` frames: the mouth's geometry moves from the old stretch's
   continuation to the new frame's through an interpolated shape; ``morph="warp"`` shows one of the two
   frames warped onto it (the one weighing more), ``"dissolve"`` both, mixed.

Outside the mask every output pixel is the background's.
"""

from __future__ import annotations

import numpy as np

from ...io.video_fetch import decode_image
from .check import GEOMETRY_MARGIN
from .mesh import MAX_FOLLOW, MeshWarp, mesh_remap, mesh_residual
from .seam import blend, colour_match, paste_mask

BLENDS = ("feather", "poisson")
BACKGROUNDS = ("auto", "input")
MORPH_FRAMES = 1
"""Frames a join morphs over (moving-head validation, dissolving: rendering kept 0.85 of the chosen frames' mouth
sharpness over 2 frames, 0.90 over 1, 0.96 cutting, which flickered more)."""
MORPHS = ("warp", "dissolve")
"""How a join's frame shows two mouths on one interpolated geometry. Averaging two mouths' pixels halves
their fine detail (moving-head validation, 1-frame morph: rendering kept 0.91 of the chosen frames' mouth
sharpness dissolving, 0.95 warping one frame; mouth-region change p99 0.83x / 1.01x of the real recording's)."""
INTERPOLATIONS = {"linear": 1, "cubic": 2, "lanczos": 4}
"""cv2 interpolation codes of the single resampling."""


class Compositor:
    """Pastes layers (a chosen frame, and during a join the old stretch's continuation) onto a background frame.

    Parameters
    ----------
    warp : MeshWarp (fitted)
    how : {"feather", "poisson"}
    interp : str
        The resampling's interpolation (:data:`INTERPOLATIONS`).
    morph : {"warp", "dissolve"}
        :data:`MORPHS`.
    """

    def __init__(self, warp: MeshWarp, how: str = "feather", interp: str = "cubic", morph: str = "warp"):
        self.warp, self.how, self.interp, self.morph = warp, how, interp, morph

    def render(self, bg_img: np.ndarray, bg_kp: np.ndarray, layers: list) -> np.ndarray:
        """One output frame.

        Parameters
        ----------
        bg_img : np.ndarray, shape (h, w, 3), uint8
        bg_kp : np.ndarray, shape (70, 2|3)
            The background face (output pixels).
        layers : list of (image, keypoints (70, 2|3), weight, residual or None)
            The image as stored (a BGR array, or encoded bytes decoded only if this frame shows its pixels).
            Weights sum to 1; all layers' mouths are averaged by weight into one destination geometry (a
            morph), onto which the heaviest layer is warped (``morph="warp"``, ties: the first) or all are
            warped and mixed (``"dissolve"``).

        Returns
        -------
        np.ndarray, shape (h, w, 3), uint8
        """
        import cv2

        h, w = bg_img.shape[:2]
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        plans = [self.warp.plan(bg, kp, residual=res) for _, kp, _, res in layers]
        if len(layers) > 1:
            mouth = [(p["carried"], wt) for p, (_, _, wt, _) in zip(plans, layers)]
            plans = [self.warp.plan(bg, kp, mouth_from=mouth) for _, kp, _, _ in layers]
        soft, box = paste_mask(plans[0]["dst_kp"], (w, h), plans[0]["bg_chin_y"])
        x0, y0, x1, y1 = box
        if soft.size == 0:
            return bg_img
        if self.morph == "warp" and len(layers) > 1:
            # the morph moves the mouth's geometry only: one image keeps its texture (a dissolve of two
            # mouths averages their detail away)
            keep = max(range(len(layers)), key=lambda i: (layers[i][2], -i))
            layers, plans = [layers[keep][:2] + (1.0,) + layers[keep][3:]], [plans[keep]]
        acc, cov_all = None, None
        for (img, _, wt, _), p in zip(layers, plans):
            patch, cov = mesh_remap(decode_image(img), p["dst"], p["src"], self.warp.tri_, box,
                                    INTERPOLATIONS[self.interp])
            acc = patch.astype(np.float32) * wt if acc is None else acc + patch.astype(np.float32) * wt
            cov_all = cov if cov_all is None else cov_all & cov
        fg = patch if len(layers) == 1 else np.clip(acc + 0.5, 0, 255).astype(np.uint8)
        # Never paste pixels the warped frame does not cover (eroded: the feather must not reach them).
        soft *= cv2.erode(cov_all.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
        bgp = bg_img[y0:y1, x0:x1]
        fg = colour_match(fg, bgp, (soft > 0.05) & (soft < 0.6))
        out = bg_img.copy()
        out[y0:y1, x0:x1] = blend(fg, bgp, soft, self.how)
        return out


def fitted_warp(db, follow: float = 1.0, max_follow: float = MAX_FOLLOW) -> MeshWarp:
    """A :class:`MeshWarp` triangulated on the database's etalon frame (else its first usable one)."""
    from ...database.pose import usable_rows

    ok = usable_rows(db)
    r = getattr(db, "etalon_row_", None)
    r = -1 if r is None else int(r)
    ref = db.keypoints_[r if 0 <= r < len(ok) and ok[r] else int(np.flatnonzero(ok)[0])]
    return MeshWarp(follow=follow, max_follow=max_follow).fit(ref)


def composite_images(db, rows_out: np.ndarray, frames: dict, background: dict, how: str = "feather",
                     crossfade: int = MORPH_FRAMES, report: dict | None = None, warp: MeshWarp | None = None,
                     target_points: np.ndarray | None = None, interp: str = "cubic", follow=None,
                     morph: str = "warp"):
    """Images of ``frames.mp4`` in ``composite`` mode (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Chosen database row per output frame (-1: the background alone); already checked
        (:func:`~sketchsynth.outputs.frames.check.checked_rows`).
    frames : dict
        Row -> image of the chosen (and continuation) database frames.
    background : dict
        ``images`` (n_out BGR arrays or encoded frames), ``keypoints`` (n_out, 70, 2|3) their faces, ``size``.
    how : {"feather", "poisson"}
    crossfade : int
        Frames a join morphs over.
    report : dict, optional
        Receives ``matrices`` (n_out, 2, 3): each chosen frame's similarity into the output (database pixels
        -> output pixels, NaN where the background shows alone).
    warp : MeshWarp, optional
        Default: :func:`fitted_warp`.
    target_points : np.ndarray, shape (n_out, 70, 2), optional
        The target per output frame (normalized space), which the mouth follows.
    interp : str
    follow : np.ndarray, shape (n_out,), optional
        Share of the warp's follow each frame keeps (the self-check's; default 1).
    morph : {"warp", "dissolve"}

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    from .joins import join_continuations

    warp = warp or fitted_warp(db)
    comp = Compositor(warp, how, interp, morph)
    rows = np.asarray(rows_out, np.int64)
    bg_kp = np.asarray(background["keypoints"], np.float64)
    kp = np.asarray(db.keypoints_, np.float64)
    prev, wt = join_continuations(db, rows, crossfade)
    mats = np.full((len(rows), 2, 3), np.nan)
    if report is not None:
        report["matrices"] = mats
    for k, r in enumerate(rows):
        bg = decode_image(background["images"][k])
        if r < 0 or int(r) not in frames or not np.isfinite(bg_kp[k][:, :2]).all() or \
                not np.isfinite(kp[r][:, :2]).all():
            yield bg
            continue
        tp = None if target_points is None else target_points[k]
        share = 1.0 if follow is None else float(follow[k])

        def towards(row):
            res = mesh_residual(warp, tp, db, row)
            return None if res is None else res * share

        layers = [(frames[int(r)], kp[r], 1.0, towards(int(r)))]
        c = int(prev[k])
        if c >= 0 and c in frames and np.isfinite(kp[c][:, :2]).all():
            layers[0] = layers[0][:2] + (1.0 - float(wt[k]),) + layers[0][3:]
            layers.append((frames[c], kp[c], float(wt[k]), towards(c)))
        mats[k] = warp.plan(bg_kp[k], kp[r])["S"]
        yield comp.render(bg, bg_kp[k], layers)


class CompositeRenderer:
    """``--frames composite``: the chosen mouths pasted into one continuous background take.

    Parameters
    ----------
    background : {"auto", "input"}
        The database take planned with the selection (or, without a plan, the one whose head motion fits the
        input's best), or the input video itself (dubbing).
    blend : {"feather", "poisson"}
    check : bool
        Self-check every paste and replace implausible ones (:mod:`.check`).
    follow : float
        Share of the remaining mouth difference to the target the mesh warps away (0-1).
    interp : {"linear", "cubic", "lanczos"}
    crossfade : int
        Frames a join morphs over.
    morph : {"warp", "dissolve"}
        :data:`MORPHS`.
    check_margin : float
        :class:`~sketchsynth.outputs.frames.check.PasteCheck`'s ``geometry_margin``.
    max_follow : float
        :class:`~sketchsynth.outputs.frames.mesh.MeshWarp`'s ``max_follow``, inter-ocular distances.
    own_fallback : bool
        When no candidate passes the self-check and the previous paste cannot be held, show the background
        frame's own lower face (its mouth moved towards the target) rather than the implausible paste.
    """

    def __init__(self, background: str = "auto", blend: str = "feather", check: bool = True, follow: float = 1.0,
                 interp: str = "cubic", crossfade: int = MORPH_FRAMES, own_fallback: bool = True,
                 morph: str = "warp", check_margin: float = GEOMETRY_MARGIN, max_follow: float = MAX_FOLLOW,
                 **_):
        self.background, self.blend, self.check, self.follow = background, blend, check, follow
        self.check_margin, self.max_follow = check_margin, max_follow
        self.interp, self.crossfade, self.own_fallback, self.morph = interp, crossfade, own_fallback, morph

    def render(self, job):
        from ...selection.pose import choose_background
        from .check import PasteCheck, checked_rows
        from .fetch import db_frame_sizes, fetch_db_frames
        from .joins import join_continuations
        from .warp import db_frame_images

        db, rows_out, mats, size, index = job.db, np.asarray(job.rows_out, np.int64), job.matrices, job.size, \
            np.asarray(job.index)
        n = len(rows_out)
        info: dict = {}
        if self.background == "input" and job.track.video is not None:
            bg_rows = None
            bg_kp = np.asarray(job.track.keypoints, np.float64)[index]
            info["background"] = {"take": "input"}
        else:
            plan = job.plan or choose_background(db, n, input_matrices=mats)
            if plan is None:
                return db_frame_images(db, rows_out, mats, size, job.matched_kp, index), \
                    {"frames_mode_fallback": "warp"}
            bg_rows = plan.rows_for(db, n)
            bg_kp = np.asarray(db.keypoints_, np.float64)[bg_rows]
            info["background"] = plan.describe(db)
        warp = fitted_warp(db, self.follow, self.max_follow)
        tp = None if job.target_points is None else np.asarray(job.target_points, np.float64)[index]
        follow = None
        if self.check:
            alts = None if job.candidates is None else np.asarray(job.candidates)[index]
            check = PasteCheck(geometry_margin=self.check_margin).fit(db)
            rows_out, follow, info["frames_check"] = checked_rows(check, warp, db, rows_out, bg_kp, alts, tp,
                                                                  bg_rows=bg_rows if self.own_fallback else None)
        prev, _ = join_continuations(db, rows_out, self.crossfade)
        wanted = [rows_out, prev] + ([] if bg_rows is None else [bg_rows])
        frames, _ = fetch_db_frames(db, np.concatenate(wanted))
        if bg_rows is None:
            from ...io.video_fetch import read_frames

            bg = {"images": read_frames(job.track.video, index, encode=".jpg" if len(index) > 300 else None),
                  "keypoints": bg_kp, "size": size}
        else:
            bg = {"images": [frames[int(r)] for r in bg_rows], "keypoints": bg_kp,
                  "size": tuple(int(v) for v in db_frame_sizes(db)[bg_rows[0]])}
        info["output_size"] = list(bg["size"])
        info["db_rows_shown"] = rows_out.tolist()
        return composite_images(db, rows_out, frames, bg, self.blend, self.crossfade, info, warp, tp,
                                self.interp, follow, self.morph), info

