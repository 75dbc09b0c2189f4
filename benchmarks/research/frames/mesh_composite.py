"""``--frames composite`` by a landmark-driven triangle-mesh warp (drop-in for ``sketchsynth.composite``).

The old compositor warped the whole chosen frame by one affine map (the normalization's) onto the background
face: when the two heads' poses differ, that map stretches (up to 1.28x) and turns (up to 12 degrees) the
pasted lower face, and its jaw does not meet the background's (a doubled chin, a ghost jaw line). Here

1. the **destination geometry** is built from both faces: the background's jaw sides (1-5, 11-15), nose
   (27-35) and lower eye contour (cheeks), the chosen frame's mouth (48-67) and chin (6-10) carried over by
   the similarity ``S`` that best maps the chosen frame's rigid points (eye corners, nose) onto the
   background's (rotation + uniform scale + shift: no stretch); an outer ring of points 0.45 inter-ocular
   distances outside the jaw (and below the lower of the two chins) moves with ``S`` too;
2. a **fixed triangulation** of these points (Delaunay on a reference face, computed once) gives one affine
   map per triangle from destination to source pixels; they are rasterized into one dense map over the
   mask's bounding box and the chosen frame is **resampled once** (``cv2.remap``, bicubic);
3. the **mask** is the destination lower face (jaw 2-14 and nostrils, grown, and extended below the lower
   chin so the background's own chin never shows under a pasted one), feathered, and cut to the mesh;
4. **colour**: Lab mean and standard deviation of the warped patch set to the background's over the mask's
   rim (skin on both), gain clamped;
5. a **join** (a jump in the selection) dissolves over ``crossfade`` frames as a *morph*: the old stretch's
   continuation and the new frame are warped onto one interpolated mouth/chin geometry, so the two mouths
   coincide (no double mouth);
6. a **self-check** (:meth:`MeshCompositor.check`) on every paste, from keypoints only: the similarity's
   rotation and scale against the background, every triangle's stretch (ratio of its map's singular values)
   and orientation, and the pasted face's geometry (nose-to-chin, jaw width, nose-to-lip over the
   inter-ocular distance) against the database's own p0.5-p99.5 range.

The per-frame form is :meth:`MeshCompositor.render` (a live renderer can call it frame by frame);
:func:`composite_images` is the generator ``sketchsynth.video_out`` calls, with the old signature plus
``alternatives`` for the self-check's fallback.
"""

from __future__ import annotations

import numpy as np

from sketchsynth.composite import BACKGROUNDS, BLENDS, choose_background  # noqa: F401  (re-exported)
MESH_CROSSFADE = 2
"""Frames a join morphs over (the frozen compositor's 3 blurred the mouth: validation render loss 0.83 -> 0.86
with 2)."""

JAW_BG = (1, 2, 3, 4, 5, 11, 12, 13, 14, 15)
CHIN_SRC = (6, 7, 8, 9, 10)
NOSE_BG = tuple(range(27, 36))
EYES_BG = (36, 41, 40, 39, 42, 47, 46, 45)
MOUTH_SRC = tuple(range(48, 68))
MOUTH_SRC_IDX = np.arange(48, 68)
RIGID = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
"""Points ``S`` is fitted on: nose and eye corners (move with the skull, not with speech)."""
LANDMARKS = np.array(JAW_BG + CHIN_SRC + NOSE_BG + EYES_BG + MOUTH_SRC)
FROM_SRC = np.isin(LANDMARKS, CHIN_SRC + MOUTH_SRC)
RING_JAW = np.arange(0, 17)
GEOM_PAIRS = ((30, 8), (4, 12), (33, 51))
"""Nose-to-chin, jaw width, nose-to-lip: the geometry the check (and measure.py) compares, over the IOD."""
LOWER_OUTLINE = np.concatenate([np.arange(2, 15), np.arange(35, 30, -1)])


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping ``src`` (p, 2) onto ``dst`` (p, 2); (2, 3)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(a)
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1.0, d])
    r = u @ D @ vt
    scale = np.trace(np.diag(s) @ D) / max((a ** 2).sum() / len(a), 1e-12)
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - m[:, :2] @ ms
    return m


def affine_apply(m, xy):
    return np.asarray(xy, np.float64) @ m[:, :2].T + m[:, 2]


def affine_inverse(m):
    a = np.linalg.inv(m[:, :2])
    return np.concatenate([a, (-a @ m[:, 2])[:, None]], axis=1)


def iod(kp):
    return float(np.linalg.norm(kp[45, :2] - kp[36, :2]))


def geometry(kp: np.ndarray) -> np.ndarray:
    """Nose-to-chin, jaw width, nose-to-lip over the inter-ocular distance, shape (..., 3)."""
    kp = np.asarray(kp, np.float64)[..., :2]
    d = np.linalg.norm(kp[..., 45, :] - kp[..., 36, :], axis=-1)
    return np.stack([np.linalg.norm(kp[..., a, :] - kp[..., b, :], axis=-1) / d for a, b in GEOM_PAIRS], axis=-1)


class MeshCompositor:
    """Paste a chosen frame's lower face onto a background frame through a landmark-driven triangle mesh.

    Parameters
    ----------
    ring : float
        Distance of the outer ring from the jaw, in inter-ocular distances (IOD).
    mask_grow : float
        Growth of the lower-face outline for the mask, in IOD.
    feather : float
        Gaussian sigma of the mask's edge, in IOD.
    chin_margin : float
        The mask reaches this far (IOD) below the lower of the two chins.
    gain_clip : (float, float)
        Bounds of the Lab standard-deviation gain of the colour transfer.
    l_gain_clip : (float, float), optional
        Separate bounds for the lightness channel (default: ``gain_clip``); (1, 1) transfers only the mean
        lightness, keeping the pasted mouth's own contrast (its sharpness).
    interp : int
        cv2 interpolation of the single resampling (default bicubic).
    max_rotation_deg : float
        Self-check: largest |rotation| of ``S`` relative to the background... (the heads' roll difference).
    max_scale_ratio : float
        Self-check: ``S``'s scale may differ from 1 by at most this factor (both ways).
    max_stretch : float
        Self-check: largest ratio of singular values of any triangle's map, over ``S``'s (1 = no stretch).
    geometry_range : np.ndarray, shape (2, 3), optional
        Self-check: plausible (low, high) of :func:`geometry`; :meth:`fit` sets it from a database.
    follow : float
        Fraction (0-1) of the remaining difference between the target's mouth/chin shape and the chosen
        frame's that the mesh warps away (0: the chosen frame's mouth as recorded).
    max_follow : float
        Largest such displacement per point, in IOD (keeps teeth and lips from visibly stretching).
    """

    def __init__(self, ring: float = 0.45, mask_grow: float = 0.12, feather: float = 0.06, chin_margin: float = 0.1,
                 gain_clip=(0.8, 1.25), l_gain_clip=(1.0, 1.0), interp: int | None = None, max_rotation_deg: float = 6.0,
                 max_scale_ratio: float = 1.12, max_stretch: float = 1.5, geometry_range=None,
                 follow: float = 0.0, max_follow: float = 0.06):
        self.follow, self.max_follow = follow, max_follow
        self.ring, self.mask_grow, self.feather, self.chin_margin = ring, mask_grow, feather, chin_margin
        self.gain_clip = gain_clip
        self.l_gain_clip = l_gain_clip
        self.interp = interp
        self.max_rotation_deg, self.max_scale_ratio, self.max_stretch = max_rotation_deg, max_scale_ratio, max_stretch
        self.geometry_range = None if geometry_range is None else np.asarray(geometry_range, np.float64)
        self.tri_ = None

    # ------------------------------------------------------------------ setup
    def fit(self, db=None, reference: np.ndarray | None = None, quantiles=(0.5, 99.5)) -> "MeshCompositor":
        """Triangulate on a reference face and (with ``db``) set the plausible geometry range.

        Parameters
        ----------
        db : FrameDatabase, optional
            Its usable frames' keypoints give the geometry range and (without ``reference``) the
            reference face (the etalon row, else the first usable row).
        reference : np.ndarray, shape (70, 2|3), optional
        """
        from scipy.spatial import Delaunay

        if db is not None:
            kp = np.asarray(db.keypoints_, np.float64)
            ok = np.asarray(db.table_["usable"], bool) & np.isfinite(kp[..., :2]).all(axis=(1, 2))
            if self.geometry_range is None:
                g = geometry(kp[ok])
                self.geometry_range = np.percentile(g, quantiles, axis=0)
            if reference is None:
                r = int(getattr(db, "etalon_row_", -1))
                reference = kp[r if r >= 0 and ok[r] else np.flatnonzero(ok)[0]]
        ref = np.asarray(reference, np.float64)[:, :2]
        pts = np.concatenate([ref[LANDMARKS], self._ring(ref, ref[:, :2])])
        self.tri_ = Delaunay(pts).simplices.astype(np.int64)
        # The check looks at the triangles the mask shows: no eye/upper-cheek/top vertex, no upper ring.
        n_lm = len(LANDMARKS)
        upper = np.concatenate([np.flatnonzero(np.isin(LANDMARKS, (1, 15) + EYES_BG + (27, 28))),
                                n_lm + np.array([0, 1, 2, 14, 15, 16, 17, 18, 19])])
        self.check_tri_ = ~np.isin(self.tri_, upper).any(axis=1)
        return self

    def _ring(self, dst_kp, chin_kp):
        """Outer ring (17 + 3 points): jaw 0-16 pushed out from the face centre, and three under the chin."""
        d = iod(dst_kp)
        centre = dst_kp[[30, 33, 36, 45], :2].mean(0)
        jaw = dst_kp[RING_JAW, :2]
        v = jaw - centre
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        ring = jaw + v * self.ring * d
        low = max(dst_kp[8, 1], chin_kp[8, 1]) + (self.ring + self.chin_margin) * d
        ring[5:12, 1] = np.maximum(ring[5:12, 1], low - np.abs(np.arange(-3, 4)) * 0.05 * d)
        eyes = dst_kp[[36, 45], :2]
        top = np.stack([eyes[0] - v[0] * 0 + (eyes[0] - eyes[1]) * 0.25,
                        eyes[1] + (eyes[1] - eyes[0]) * 0.25, dst_kp[27, :2]])
        return np.concatenate([ring, top])

    # ------------------------------------------------------------------ geometry
    def plan(self, bg_kp: np.ndarray, src_kp: np.ndarray, mouth_from: list | None = None,
             residual: np.ndarray | None = None) -> dict:
        """Destination and source mesh points of one paste, and the similarity ``S`` (source -> output).

        Parameters
        ----------
        bg_kp : np.ndarray, shape (70, 2|3)
            Background frame's keypoints (output pixels).
        src_kp : np.ndarray, shape (70, 2|3)
            Chosen frame's keypoints (its own pixels).
        mouth_from : list of (np.ndarray (70, 2), float), optional
            For a morph: (keypoints already in output pixels, weight) pairs whose mouth/chin positions are
            averaged into the destination instead of this frame's own.
        residual : np.ndarray, shape (70, 2), optional
            Displacement (source pixels) of the mouth and chin points towards the target's shape
            (:meth:`residual`); scaled by ``follow`` and clipped to ``max_follow`` IOD per point.

        Returns
        -------
        dict
            ``S`` (2, 3), ``dst`` (n_mesh, 2), ``src`` (n_mesh, 2), ``dst_kp`` (70, 2): the pasted face's
            keypoints in output pixels (background's where the background's are used).
        """
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        sk = np.asarray(src_kp, np.float64)[:, :2]
        S = similarity(sk[list(RIGID)], bg[list(RIGID)])
        moved = sk.copy()
        if residual is not None and self.follow > 0:
            r = np.nan_to_num(np.asarray(residual, np.float64)[:, :2]) * self.follow
            lim = self.max_follow * iod(sk)
            n = np.linalg.norm(r, axis=1, keepdims=True)
            r = r * np.minimum(1.0, lim / np.maximum(n, 1e-9))
            idx = LANDMARKS[FROM_SRC]
            moved[idx] = sk[idx] + r[idx]
        carried = affine_apply(S, moved)
        if mouth_from:
            tot = sum(w for _, w in mouth_from)
            carried = sum(np.asarray(k, np.float64)[:, :2] * w for k, w in mouth_from) / tot
        dst_kp = bg.copy()
        src_idx = LANDMARKS[FROM_SRC]
        dst_kp[src_idx] = carried[src_idx]
        ring = self._ring(bg, dst_kp)
        dst = np.concatenate([dst_kp[LANDMARKS], ring])
        src = np.concatenate([sk[LANDMARKS], affine_apply(affine_inverse(S), ring)])
        return {"S": S, "dst": dst, "src": src, "dst_kp": dst_kp, "carried": carried}

    @staticmethod
    def residual(target_norm: np.ndarray, db_norm: np.ndarray, db_transform: np.ndarray) -> np.ndarray:
        """Where the target's points are relative to a database frame's, in that frame's pixels.

        Parameters
        ----------
        target_norm, db_norm : np.ndarray, shape (70, 2)
            Target and database frame in the database's normalized space.
        db_transform : np.ndarray, shape (2, 3)
            The database frame's image -> normalized map.

        Returns
        -------
        np.ndarray, shape (70, 2)
            Displacements in the database frame's pixels (NaN where the target has no point).
        """
        lin = np.asarray(db_transform, np.float64)[:, :2]
        d = np.asarray(target_norm, np.float64) - np.asarray(db_norm, np.float64)
        return d @ np.linalg.inv(lin).T

    def triangle_maps(self, dst: np.ndarray, src: np.ndarray) -> np.ndarray:
        """Per-triangle affine maps output -> source pixels, shape (n_tri, 2, 3)."""
        a = dst[self.tri_]                                   # (n, 3, 2)
        b = src[self.tri_]
        A = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)   # (n, 3, 3)
        with np.errstate(all="ignore"):
            m = np.linalg.solve(A, b)                         # (n, 3, 2): [x y 1] @ m = src
        return np.swapaxes(m, 1, 2)

    def check(self, bg_kp, src_kp, plan: dict | None = None, residual: np.ndarray | None = None) -> dict:
        """Is this paste plausible? From keypoints only (no pixels).

        Stretch is judged on the paste without ``residual`` (what the pose mismatch does to the lower
        face); folds (flipped triangles) and the geometry on the paste as drawn, with ``residual``.

        Returns
        -------
        dict
            ``ok`` (bool), ``rotation_deg``, ``scale``, ``stretch`` (max over the mask's triangles),
            ``flipped`` (triangles whose orientation differs between source and output), ``geometry`` (3,),
            ``reason`` (str, '' when ok).
        """
        p0 = self.plan(bg_kp, src_kp)
        p = plan or (self.plan(bg_kp, src_kp, residual=residual) if residual is not None else p0)
        S = p["S"]
        rot = float(np.degrees(np.arctan2(S[1, 0], S[0, 0])))
        scale = float(np.hypot(S[0, 0], S[1, 0]))
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        sk = np.asarray(src_kp, np.float64)[:, :2]
        # Scale relative to what the faces' own sizes say (the background's IOD over the source's).
        rel_scale = scale / max(iod(bg) / max(iod(sk), 1e-9), 1e-9)
        da = p["dst"][self.tri_]
        sa = p["src"][self.tri_]
        cross = lambda t: ((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                           - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0]))
        flipped = int((np.sign(cross(da)) != np.sign(cross(sa))).sum())
        m = self.triangle_maps(p0["dst"], p0["src"])[:, :, :2]          # output -> source
        sv = np.linalg.svd(m[self.check_tri_], compute_uv=False)
        stretch = float(np.nanmax(sv[:, 0] / np.maximum(sv[:, 1], 1e-9)))
        g = geometry(p["dst_kp"])
        reason = []
        if abs(rot - np.degrees(np.arctan2(*(bg[45] - bg[36])[::-1]) - np.arctan2(*(sk[45] - sk[36])[::-1]))) > 90:
            reason.append("rotation")  # (never: kept for symmetry with the roll check below)
        roll_bg = np.degrees(np.arctan2(bg[45, 1] - bg[36, 1], bg[45, 0] - bg[36, 0]))
        roll_src = np.degrees(np.arctan2(sk[45, 1] - sk[36, 1], sk[45, 0] - sk[36, 0]))
        droll = abs((roll_bg - roll_src + 180) % 360 - 180)
        if droll > self.max_rotation_deg:
            reason.append("rotation")
        if not (1 / self.max_scale_ratio <= rel_scale <= self.max_scale_ratio):
            reason.append("scale")
        if flipped:
            reason.append("flipped")
        if stretch > self.max_stretch:
            reason.append("stretch")
        if self.geometry_range is not None and ((g < self.geometry_range[0]) | (g > self.geometry_range[1])).any():
            reason.append("geometry")
        return {"ok": not reason, "rotation_deg": float(droll), "scale": rel_scale, "stretch": stretch,
                "flipped": flipped, "geometry": g, "reason": ",".join(dict.fromkeys(reason))}

    # ------------------------------------------------------------------ pixels
    def mask(self, plan: dict, size) -> tuple[np.ndarray, tuple]:
        """Feathered mask (float32, bbox-sized) and its bbox (x0, y0, x1, y1) in output pixels."""
        import cv2

        w, h = size
        kp = plan["dst_kp"]
        d = iod(kp)
        outline = kp[LOWER_OUTLINE].copy()
        # under the chin: reach below the lower of the two chins (the background's own must not show)
        chin_y = max(kp[8, 1], plan.get("bg_chin_y", kp[8, 1])) + self.chin_margin * d
        outline[4:9, 1] = np.maximum(outline[4:9, 1], chin_y - np.abs(np.arange(-2, 3)) * 0.04 * d)
        pad = (self.mask_grow + 3 * self.feather) * d + 4
        x0, y0 = np.floor(outline.min(0) - pad).astype(int)
        x1, y1 = np.ceil(outline.max(0) + pad).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        hard = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(hard, [np.round(outline - [x0, y0]).astype(np.int32)], 255, cv2.LINE_AA)
        g = max(1, int(round(self.mask_grow * d)))
        hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
        soft = cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), max(0.5, self.feather * d))
        return soft, (x0, y0, x1, y1)

    def warp(self, src_img: np.ndarray, plan: dict, box) -> tuple[np.ndarray, np.ndarray]:
        """The chosen frame resampled once into the box through the mesh: (patch (bh, bw, 3), covered (bh, bw))."""
        import cv2

        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        maps = self.triangle_maps(plan["dst"], plan["src"])                 # (n, 2, 3)
        label = np.zeros((bh, bw), np.int32)
        for i, t in enumerate(self.tri_):
            cv2.fillConvexPoly(label, np.round((plan["dst"][t] - [x0, y0]) * 16).astype(np.int32), i + 1,
                               lineType=cv2.LINE_8, shift=4)
        covered = label > 0
        mm = np.concatenate([np.zeros((1, 2, 3)), np.nan_to_num(maps)])[label]  # (bh, bw, 2, 3)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        mx = (mm[..., 0, 0] * xs + mm[..., 0, 1] * ys + mm[..., 0, 2]).astype(np.float32)
        my = (mm[..., 1, 0] * xs + mm[..., 1, 1] * ys + mm[..., 1, 2]).astype(np.float32)
        interp = cv2.INTER_CUBIC if self.interp is None else self.interp
        patch = cv2.remap(src_img, mx, my, interp, borderMode=cv2.BORDER_REPLICATE)
        h, w = src_img.shape[:2]
        covered &= (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
        return patch, covered

    def colour_match(self, fg: np.ndarray, bg: np.ndarray, region: np.ndarray) -> np.ndarray:
        """``fg``'s Lab mean and std over ``region`` set to ``bg``'s (gain clamped); arrays are box patches."""
        import cv2

        if region.sum() < 16:
            return fg
        a = cv2.cvtColor(fg, cv2.COLOR_BGR2LAB).astype(np.float32)
        b = cv2.cvtColor(bg, cv2.COLOR_BGR2LAB).astype(np.float32)
        ma, sa = a[region].mean(0), a[region].std(0) + 1e-3
        mb, sb = b[region].mean(0), b[region].std(0) + 1e-3
        gain = np.clip(sb / sa, *self.gain_clip)
        if self.l_gain_clip is not None:
            gain[0] = np.clip(sb[0] / sa[0], *self.l_gain_clip)
        return cv2.cvtColor(np.clip((a - ma) * gain + mb, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)

    def render(self, bg_img: np.ndarray, bg_kp: np.ndarray, layers: list) -> np.ndarray:
        """One output frame.

        Parameters
        ----------
        bg_img : np.ndarray, shape (h, w, 3), uint8
            Background frame (BGR).
        bg_kp : np.ndarray, shape (70, 2|3)
            Its keypoints.
        layers : list of (src_img, src_kp, weight[, residual])
            The chosen frame (and, during a join, the old stretch's continuation); weights sum to 1. All
            layers are warped onto one destination geometry (their mouths averaged by weight: a morph).

        Returns
        -------
        np.ndarray, shape (h, w, 3), uint8
        """
        h, w = bg_img.shape[:2]
        bg = np.asarray(bg_kp, np.float64)[:, :2]
        layers = [tuple(l) + (None,) * (4 - len(l)) for l in layers]
        plans = [self.plan(bg, k, residual=res) for _, k, _, res in layers]
        if len(layers) > 1:
            mouth = [(p["carried"], wt) for p, (_, _, wt, _) in zip(plans, layers)]
            plans = [self.plan(bg, k, mouth_from=mouth) for _, k, _, _ in layers]
        plans[0]["bg_chin_y"] = float(bg[8, 1])
        soft, box = self.mask(plans[0], (w, h))
        x0, y0, x1, y1 = box
        acc = None
        cov_all = None
        for (img, _, wt, _), p in zip(layers, plans):
            patch, cov = self.warp(img, p, box)
            acc = patch.astype(np.float32) * wt if acc is None else acc + patch.astype(np.float32) * wt
            cov_all = cov if cov_all is None else cov_all & cov
        fg = np.clip(acc + 0.5, 0, 255).astype(np.uint8)
        import cv2

        soft *= cv2.erode(cov_all.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
        bgp = bg_img[y0:y1, x0:x1]
        rim = (soft > 0.05) & (soft < 0.6)
        fg = self.colour_match(fg, bgp, rim)
        out = bg_img.copy()
        a = soft[..., None]
        out[y0:y1, x0:x1] = (fg.astype(np.float32) * a + bgp.astype(np.float32) * (1 - a) + 0.5).astype(np.uint8)
        return out


# ---------------------------------------------------------------------- selection-level self-check
def checked_rows(comp: MeshCompositor, db, rows_out: np.ndarray, bg_kp: np.ndarray, alternatives=None,
                 max_alternatives: int = 16, target_norm: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Replace implausible pastes by the nearest acceptable alternative.

    For each output frame whose paste fails :meth:`MeshCompositor.check`, try in order: the frame's
    other candidates (``alternatives[k]``, best target cost first, at most ``max_alternatives``), then
    holding the previous output frame's row (its mouth, re-warped onto this background frame). If none
    passes, the row with the fewest failed tests is kept.

    Parameters
    ----------
    comp : MeshCompositor (fitted)
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
    bg_kp : np.ndarray, shape (n_out, 70, 2|3)
    alternatives : sequence of np.ndarray, optional
        Candidate rows per output frame, best first.
    target_norm : np.ndarray, shape (n_out, 70, 2), optional
        The target (normalized space): with the compositor's ``follow`` the check sees the paste as it will
        be drawn, mouth moved towards the target.

    Returns
    -------
    rows : np.ndarray, shape (n_out,), int64
    report : dict
        ``checked``, ``implausible`` (first choice failed), ``replaced_candidate``, ``held_previous``,
        ``kept_implausible`` counts and ``reasons`` (reason -> count of first choices failing it).
    """
    rows = np.asarray(rows_out, np.int64).copy()
    kp = np.asarray(db.keypoints_, np.float64)

    def ok(k, row):
        res = None
        if target_norm is not None and comp.follow > 0 and np.isfinite(target_norm[k][MOUTH_SRC_IDX]).all():
            res = comp.residual(target_norm[k], db.normalized_[row], db.transforms_[row])
        return comp.check(bg_kp[k], kp[row], residual=res)

    rep = {"checked": 0, "implausible": 0, "replaced_candidate": 0, "held_previous": 0, "kept_implausible": 0,
           "reasons": {}}
    for k, r in enumerate(rows):
        if r < 0 or not np.isfinite(bg_kp[k][:, :2]).all():
            continue
        rep["checked"] += 1
        c = ok(k, r)
        if c["ok"]:
            continue
        rep["implausible"] += 1
        for why in c["reason"].split(","):
            rep["reasons"][why] = rep["reasons"].get(why, 0) + 1
        tried = []
        if alternatives is not None:
            tried = [int(a) for a in alternatives[k][:max_alternatives] if a >= 0 and a != r]
        done = False
        for a in tried:
            if ok(k, a)["ok"]:
                rows[k] = a
                rep["replaced_candidate"] += 1
                done = True
                break
        if not done and k > 0 and rows[k - 1] >= 0 and ok(k, rows[k - 1])["ok"]:
            rows[k] = rows[k - 1]
            rep["held_previous"] += 1
            done = True
        if not done:
            rep["kept_implausible"] += 1
    return rows, rep


def composite_images(db, rows_out: np.ndarray, frames: dict, background: dict, how: str = "feather",
                     crossfade: int = MESH_CROSSFADE, report: dict | None = None,
                     compositor: MeshCompositor | None = None, target_norm: np.ndarray | None = None):
    """Images of ``frames.mp4`` in ``composite`` mode (a generator); the old signature.

    Parameters are :func:`sketchsynth.composite.composite_images`'s (``how`` is accepted and ignored:
    the mesh paste is feathered), plus ``compositor`` (default: a :class:`MeshCompositor` fitted on
    ``db``) and ``target_norm`` (n_out, 70, 2), the target in the database's normalized space, for the
    compositor's ``follow``. Rows should already be self-checked (:func:`checked_rows`).

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    from sketchsynth.frame_joins import join_continuations
    from sketchsynth.io.video import decode_image

    comp = compositor or MeshCompositor().fit(db)
    rows = np.asarray(rows_out, np.int64)
    bg_kp = np.asarray(background["keypoints"], np.float64)
    kp = np.asarray(db.keypoints_, np.float64)
    prev, wt = join_continuations(db, rows, crossfade)
    if report is not None:
        report["masks_area"] = np.zeros(len(rows))
        report["matrices"] = np.full((len(rows), 2, 3), np.nan)   # the similarity S (db px -> output px)
    for k, r in enumerate(rows):
        bg = decode_image(background["images"][k])
        if r < 0 or int(r) not in frames or not np.isfinite(bg_kp[k][:, :2]).all():
            yield bg
            continue
        def res(row):
            if target_norm is None or comp.follow <= 0 or not np.isfinite(target_norm[k][MOUTH_SRC_IDX]).all():
                return None
            return comp.residual(target_norm[k], db.normalized_[row], db.transforms_[row])

        layers = [(decode_image(frames[int(r)]), kp[r], 1.0 - float(wt[k]), res(r))]
        if prev[k] >= 0 and int(prev[k]) in frames:
            layers.append((decode_image(frames[int(prev[k])]), kp[prev[k]], float(wt[k]), res(prev[k])))
        else:
            layers[0] = (layers[0][0], layers[0][1], 1.0, layers[0][3])
        if report is not None:
            report["matrices"][k] = comp.plan(bg_kp[k], kp[r])["S"]
        yield comp.render(bg, bg_kp[k], layers)
