"""``--frames full`` with joins that are a cut or a short warp-morph, never two faces overlaid.

The frozen ``sketchsynth.frames_full`` dissolves every jump between takes over 3 frames: the old stretch's
continuation and the new frame are mixed pixel for pixel, and where the heads differ (pose, position, a
moving speaker) two faces show at once. Here, at every jump:

- the old continuation's keypoints and the new frame's are brought into output pixels (each through its own
  camera map, :func:`sketchsynth.frames_full.camera_matrices`, unchanged);
- if they differ by at most ``morph_max`` inter-ocular distances (mean over the face points), the jump is
  a **warp-morph** over ``frames`` frames: both images are warped by a full-frame triangle mesh (the 70
  keypoints plus 16 points on the output's border, fixed) onto the *same* interpolated keypoints
  ``L = w * L_old + (1 - w) * L_new`` and only then dissolved with weight ``w`` -- the faces coincide, so the
  dissolve changes texture, not geometry; each image is resampled once (its camera and the mesh composed
  into one map);
- otherwise (or with ``style="cut"``) it is a **cut**.

The per-frame form is :meth:`FullRenderer.render`; :func:`full_frame_images` is the generator with the
frozen module's signature (``crossfade`` = morph length).
"""

from __future__ import annotations

import numpy as np

from sketchsynth.frames_full import FULL_CROSSFADE, camera_matrices, fill_rows  # noqa: F401  (re-exported)

JOIN_STYLE = "morph"
MORPH_POINTS = np.arange(68)


def border_points(w: int, h: int, n: int = 4) -> np.ndarray:
    """Points along the output rectangle's border (corners included), shape (4 n, 2)."""
    t = np.linspace(0, 1, n, endpoint=False)
    top = np.stack([t * (w - 1), np.zeros(n)], 1)
    right = np.stack([np.full(n, w - 1.0), t * (h - 1)], 1)
    bottom = np.stack([(1 - t) * (w - 1), np.full(n, h - 1.0)], 1)
    left = np.stack([np.zeros(n), (1 - t) * (h - 1)], 1)
    return np.concatenate([top, right, bottom, left])


def mesh_remap(src_img: np.ndarray, dst: np.ndarray, src: np.ndarray, tri: np.ndarray, size, interp=None):
    """Resample ``src_img`` once so that points ``src`` (n, 2) land on ``dst`` (n, 2), piecewise affine.

    Pixels outside every triangle take the first triangle's... (the mesh must cover the output: include
    the output's border points). Returns (h, w, 3) uint8.
    """
    import cv2

    w, h = size
    a, b = dst[tri], src[tri]
    A = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
    with np.errstate(all="ignore"):
        m = np.nan_to_num(np.swapaxes(np.linalg.solve(A, b), 1, 2))     # (n, 2, 3) output -> source
    label = np.zeros((h, w), np.int32)
    for i, t in enumerate(tri):
        cv2.fillConvexPoly(label, np.round(dst[t] * 16).astype(np.int32), i, lineType=cv2.LINE_8, shift=4)
    mm = m[label]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx = (mm[..., 0, 0] * xs + mm[..., 0, 1] * ys + mm[..., 0, 2]).astype(np.float32)
    my = (mm[..., 1, 0] * xs + mm[..., 1, 1] * ys + mm[..., 1, 2]).astype(np.float32)
    return cv2.remap(src_img, mx, my, cv2.INTER_LINEAR if interp is None else interp,
                     borderMode=cv2.BORDER_REPLICATE)


class FullRenderer:
    """Joins of ``--frames full``: cut or warp-morph.

    Parameters
    ----------
    style : {"morph", "cut"}
    frames : int
        Morph length (output frames).
    morph_max : float
        Largest mean keypoint displacement (inter-ocular distances, output pixels) that is morphed; larger
        jumps are cut (a morph across a big head move would bend the whole picture).
    """

    def __init__(self, style: str = "morph", frames: int = FULL_CROSSFADE, morph_max: float = 0.35):
        self.style, self.frames, self.morph_max = style, int(frames), float(morph_max)

    def plan(self, db, rows: np.ndarray, mats: np.ndarray) -> dict:
        """Per output frame: the old continuation to morph from (-1: none) and its weight; counts.

        Parameters
        ----------
        rows : np.ndarray, shape (n_out,), int64
            Filled rows (>= 0).
        mats : np.ndarray, shape (n_out, 2, 3)
            Camera maps (database pixels -> output pixels).
        """
        from sketchsynth.frame_joins import apply_affine
        from sketchsynth.video_out import _recording_bounds

        n = len(rows)
        prev = np.full(n, -1, np.int64)
        prev_mat = np.full((n, 2, 3), np.nan)
        wt = np.zeros(n)
        bounds = _recording_bounds(db)
        kp = np.asarray(db.keypoints_, np.float64)[..., :2]
        cuts = morphs = 0
        for k in range(1, n):
            a, b = rows[k - 1], rows[k]
            if b == a or (b == a + 1 and b < bounds[a, 1]):
                continue
            cont = a + 1 if a + 1 < bounds[a, 1] else a
            old = apply_affine(mats[k - 1], kp[cont])
            new = apply_affine(mats[k], kp[b])
            d = float(np.linalg.norm(old[MORPH_POINTS] - new[MORPH_POINTS], axis=1).mean()
                      / max(np.linalg.norm(new[45] - new[36]), 1e-9))
            if self.style != "morph" or self.frames <= 0 or not d <= self.morph_max:
                cuts += 1
                continue
            morphs += 1
            for j in range(self.frames):
                kk, c = k + j, min(cont + j, bounds[a, 1] - 1)
                if kk >= n:
                    break
                prev[kk], prev_mat[kk] = c, mats[k - 1]
                wt[kk] = 1.0 - (j + 1) / (self.frames + 1)
        return {"prev": prev, "prev_mat": prev_mat, "weight": wt, "cuts": cuts, "morphs": morphs}

    def render(self, img, kp, mat, old=None, size=None):
        """One output frame.

        Parameters
        ----------
        img : np.ndarray, (h, w, 3) uint8
            The chosen database frame (its own pixels).
        kp : np.ndarray, (70, 2)
            Its keypoints.
        mat : np.ndarray, (2, 3)
            Its camera map (database pixels -> output pixels).
        old : (img, kp, mat, weight), optional
            The previous stretch's continuation, during a morph.
        size : (width, height)
        """
        import cv2
        from scipy.spatial import Delaunay

        from sketchsynth.frame_joins import apply_affine
        from mesh_composite import affine_apply, affine_inverse

        w, h = size
        if old is None:
            return cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        oimg, okp, omat, ow = old
        new_o = apply_affine(mat, kp[MORPH_POINTS])
        old_o = apply_affine(omat, okp[MORPH_POINTS])
        target = ow * old_o + (1 - ow) * new_o
        border = border_points(w, h)
        dst = np.concatenate([target, border])
        tri = Delaunay(dst).simplices
        a = mesh_remap(img, dst, np.concatenate([kp[MORPH_POINTS], affine_apply(affine_inverse(mat), border)]),
                       tri, size)
        b = mesh_remap(oimg, dst, np.concatenate([okp[MORPH_POINTS], affine_apply(affine_inverse(omat), border)]),
                       tri, size)
        return cv2.addWeighted(b, float(ow), a, 1.0 - float(ow), 0.0)


def full_frame_images(db, rows_out, out_size, frames: dict, src_sizes, crossfade: int = FULL_CROSSFADE,
                      report: dict | None = None, style: str | None = None):
    """Images of ``frames.mp4`` in ``full`` mode (a generator); the frozen module's signature.

    ``frames`` must hold the rows, and the continuation rows :meth:`FullRenderer.plan` asks for
    (:func:`needed_rows`).
    """
    from sketchsynth.io.video import decode_image

    rows = fill_rows(rows_out)
    w, h = (int(v) for v in out_size)
    mats = camera_matrices(db, rows, src_sizes[rows], (w, h))
    r = FullRenderer(style or JOIN_STYLE, crossfade)
    p = r.plan(db, rows, mats)
    if report is not None:
        report.update(matrices=mats, rows=rows, joins={"cuts": p["cuts"], "morphs": p["morphs"],
                                                       "style": r.style})
    kp = np.asarray(db.keypoints_, np.float64)[..., :2]
    for k, row in enumerate(rows):
        old = None
        if p["prev"][k] >= 0 and int(p["prev"][k]) in frames:
            c = int(p["prev"][k])
            old = (decode_image(frames[c]), kp[c], p["prev_mat"][k], p["weight"][k])
        yield r.render(decode_image(frames[int(row)]), kp[row], mats[k], old, (w, h))


def needed_rows(db, rows_out, crossfade: int = FULL_CROSSFADE) -> np.ndarray:
    """Rows whose images a morph may need: each row's next ``crossfade`` recorded frames."""
    rows = fill_rows(rows_out)
    extra = [rows]
    n = len(db.keypoints_)
    for j in range(1, crossfade + 2):
        extra.append(np.minimum(rows + j, n - 1))
    return np.unique(np.concatenate(extra))


def frames_images(writer, rows_out, size):
    """``MatchVideoWriter._frames_images`` for ``full`` (used by run.py's patch)."""
    from sketchsynth.video_out import db_frame_sizes, fetch_db_frames

    db = writer.db
    rows = fill_rows(rows_out)
    frames, _ = fetch_db_frames(db, needed_rows(db, rows))
    sizes = db_frame_sizes(db)
    out_size = tuple(int(v) for v in sizes[rows[0]]) if rows[0] >= 0 else size
    info = {"output_size": list(out_size)}
    return full_frame_images(db, rows, out_size, frames, sizes, report=info), info
