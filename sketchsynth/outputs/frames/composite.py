"""``--frames composite``: the chosen frames' lower face pasted into one continuous background take.

The classic way of Video Rewrite (Bregler et al. 1997) and trajectory-guided
sample selection (Wang et al. 2010): a real take plays as the background --
by default the database recording whose head motion best fits the input's
(:func:`choose_background`), or with ``background="input"`` the input video
itself (dubbing) -- and in every output frame the chosen database frame is
warped onto it with the normalization's maps (``db.transforms_`` for the
chosen frame, the background frame's own image -> normalized map), then only
its lower face (:data:`sketchsynth.layout.LOWER_FACE`, both faces' outlines,
grown a little) is blended in through a feathered mask, colour-matched (mean
and standard deviation in Lab over the mask's feathered rim, where both show
skin), and joins are cross-faded over a few frames
(:func:`sketchsynth.outputs.frames.joins.join_continuations`). ``blend="poisson"``
uses OpenCV's seamless cloning instead of the feathered alpha.

Outside the mask every output pixel is the background's.
"""

from __future__ import annotations

import numpy as np

from ...layout import LOWER_FACE
from .joins import CROSSFADE_FRAMES, apply_affine, join_continuations, similarity_params


BLENDS = ("feather", "poisson")
BACKGROUNDS = ("auto", "input")
MASK_GROW = 0.12
"""The lower-face outline is grown by this fraction of the face's width (covers chin and cheek differences)."""
FEATHER = 0.08
"""Width of the mask's soft edge, as a fraction of the face's width."""


# ---------------------------------------------------------------------- background choice
def head_motion(matrices: np.ndarray) -> np.ndarray:
    """Head pose over time from image -> normalized maps: (x, y) of the nose anchor in face widths, log scale, angle.

    Parameters
    ----------
    matrices : np.ndarray, shape (n, 2, 3)
        Image -> normalized maps.

    Returns
    -------
    np.ndarray, shape (n, 4), float64
        Mean-removed over the sequence; translation divided by the mean face scale.
    """
    from ...database.normalize import invert_matrices

    inv = invert_matrices(np.asarray(matrices, np.float64))  # normalized -> image: the head's pose in the image
    centre = np.zeros((len(inv), 2))
    p = similarity_params(inv, centre)
    p = p[np.isfinite(p).all(axis=1)] if not np.isfinite(p).all() else p
    if len(p) == 0:
        return np.zeros((0, 4))
    scale = float(np.exp(p[:, 2].mean()))
    q = p - p.mean(axis=0)
    q[:, :2] /= max(scale, 1e-9) * 100.0  # normalized face widths are ~100 units of the etalon's pixels
    return q


def choose_background(db, input_matrices: np.ndarray, n_out: int) -> dict:
    """The database recording (and start frame) whose head motion best fits the input's.

    Recordings shorter than the output are played forwards and backwards
    (ping-pong), which never jumps. The fit is the mean squared difference of
    the mean-removed pose trajectories (:func:`head_motion`).

    Parameters
    ----------
    db : FrameDatabase
    input_matrices : np.ndarray, shape (n_out, 2, 3)
        The input's image -> normalized map at each output frame (NaN: none).
    n_out : int

    Returns
    -------
    dict
        ``recording`` (name), ``rows`` (n_out,) database rows to show, ``cost``.
    """
    from .fetch import db_videos

    videos = db_videos(db)
    rec = db.table_["recording"]
    want = _motion_or_none(input_matrices)
    best = None
    for name, path in videos.items():
        if path is None:
            continue
        rows = np.flatnonzero(rec == name)
        if len(rows) < 2 or not np.isfinite(db.transforms_[rows]).all():
            continue  # a background needs a usable face in every frame
        starts = range(0, max(1, len(rows) - n_out + 1), max(1, n_out // 4))
        for s in starts:
            take = rows[_pingpong(len(rows), n_out, s)]
            if want is None:
                cost = 0.0
            else:
                got = head_motion(db.transforms_[take])
                cost = float(((got - want) ** 2)[:, [0, 1, 3]].mean() + ((got - want) ** 2)[:, 2].mean())
            if best is None or cost < best["cost"]:
                best = {"recording": name, "rows": take, "cost": cost, "video": path}
    return best


def _motion_or_none(mats):
    m = np.asarray(mats, np.float64)
    ok = np.isfinite(m).all(axis=(1, 2))
    if ok.sum() < 2:
        return None
    from .fetch import fill_matrices

    return head_motion(fill_matrices(m))


def _pingpong(n: int, n_out: int, start: int = 0) -> np.ndarray:
    """Indices 0..n-1 played from ``start`` forwards, then backwards, ... for ``n_out`` frames."""
    period = 2 * (n - 1) if n > 1 else 1
    t = (start + np.arange(n_out)) % period
    return np.where(t < n, t, period - t).astype(np.int64)


# ---------------------------------------------------------------------- masks and blending
def lower_face_mask(points_list, size, grow: float = MASK_GROW, feather: float = FEATHER) -> np.ndarray:
    """Feathered mask (0-1) of the union of lower-face outlines, grown and blurred.

    Parameters
    ----------
    points_list : list of np.ndarray, shape (70, 2)
        Keypoints (output pixels) whose lower faces the mask covers.
    size : (width, height)
    grow, feather : float
        Fractions of the face width.

    Returns
    -------
    np.ndarray, shape (height, width), float32
    """
    import cv2

    w, h = size
    hard = np.zeros((h, w), np.uint8)
    width = 1.0
    for pts in points_list:
        pts = np.asarray(pts, np.float64)[:, :2]
        if not np.isfinite(pts[LOWER_FACE]).all():
            continue
        width = max(width, float(np.ptp(pts[LOWER_FACE, 0])))
        cv2.fillPoly(hard, [np.round(pts[LOWER_FACE]).astype(np.int32)], 255, cv2.LINE_AA)
    g = max(1, int(round(grow * width)))
    hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    f = max(1, int(round(feather * width)))
    soft = cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), f / 2.0)
    return soft


def colour_match(src: np.ndarray, dst: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``src`` with its Lab mean and standard deviation over ``region`` set to ``dst``'s there.

    Parameters
    ----------
    src, dst : np.ndarray, shape (h, w, 3), uint8
        BGR.
    region : np.ndarray, shape (h, w), bool

    Returns
    -------
    np.ndarray, shape (h, w, 3), uint8
    """
    import cv2

    if region.sum() < 16:
        return src
    a = cv2.cvtColor(src, cv2.COLOR_BGR2LAB).astype(np.float32)
    b = cv2.cvtColor(dst, cv2.COLOR_BGR2LAB).astype(np.float32)
    ma, sa = a[region].mean(axis=0), a[region].std(axis=0) + 1e-3
    mb, sb = b[region].mean(axis=0), b[region].std(axis=0) + 1e-3
    gain = np.clip(sb / sa, 0.8, 1.25)  # lighting differs a little; a big gain would repaint the mouth
    out = (a - ma) * gain + mb
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def blend(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, how: str = "feather") -> np.ndarray:
    """Paste ``fg`` onto ``bg`` through ``mask`` (0-1); outside the mask the result is ``bg``.

    Parameters
    ----------
    fg, bg : np.ndarray, shape (h, w, 3), uint8
    mask : np.ndarray, shape (h, w), float32
    how : {"feather", "poisson"}

    Returns
    -------
    np.ndarray, shape (h, w, 3), uint8
    """
    import cv2

    if how == "poisson":
        hard = (mask > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(hard)
        if len(xs) > 16 and xs.min() > 1 and ys.min() > 1 and xs.max() < bg.shape[1] - 2 and ys.max() < bg.shape[0] - 2:
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            centre = (int((x0 + x1 + 1) // 2), int((y0 + y1 + 1) // 2))
            try:
                out = cv2.seamlessClone(fg, bg, hard, centre, cv2.NORMAL_CLONE)
            except cv2.error:
                out = None
            if out is not None:
                return np.where((mask > 0)[..., None], out, bg)
    a = mask[..., None]
    return (fg.astype(np.float32) * a + bg.astype(np.float32) * (1 - a) + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------- the images
def composite_images(db, rows_out: np.ndarray, frames: dict, background: dict, how: str = "feather",
                     crossfade: int = CROSSFADE_FRAMES, report: dict | None = None):
    """Images of ``frames.mp4`` in ``composite`` mode (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Chosen database row per output frame (-1: the background alone).
    frames : dict
        Row -> image of the chosen (and continuation) database frames.
    background : dict
        ``images`` (list of n_out BGR arrays or encoded frames), ``matrices``
        (n_out, 2, 3) image -> normalized maps of the background frames,
        ``keypoints`` (n_out, 70, 2|3) their keypoints, ``size`` (w, h).
    how : {"feather", "poisson"}
    crossfade : int
    report : dict, optional
        Receives ``matrices`` (database pixels -> output pixels, NaN where the
        background is shown alone) and ``masks_area`` (fraction of pixels
        inside each frame's mask).

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    import cv2

    from ...io.video_fetch import decode_image
    from .warp import warp_matrices
    from .fetch import fill_matrices

    w, h = background["size"]
    rows = np.asarray(rows_out, np.int64)
    bg_m = fill_matrices(background["matrices"])
    bg_kp = np.asarray(background["keypoints"], np.float64)
    prev, wt = join_continuations(db, rows, crossfade)
    mats = np.full((len(rows), 2, 3), np.nan)
    ok = rows >= 0
    if ok.any():
        mats[ok] = warp_matrices(db.transforms_[rows[ok]], bg_m[ok])
    pm = np.full((len(rows), 2, 3), np.nan)
    okp = prev >= 0
    if okp.any():
        pm[okp] = warp_matrices(db.transforms_[prev[okp]], bg_m[okp])
    area = np.zeros(len(rows))
    if report is not None:
        report["matrices"] = mats
        report["masks_area"] = area
    ones = None
    for k, r in enumerate(rows):
        bg = decode_image(background["images"][k])
        if r < 0 or int(r) not in frames or not np.isfinite(mats[k]).all():
            yield bg
            continue
        src = decode_image(frames[int(r)])
        if ones is None or ones.shape != src.shape[:2]:
            ones = np.full(src.shape[:2], 255, np.uint8)
        fg = cv2.warpAffine(src, mats[k], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(ones, mats[k], (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
        pts = [apply_affine(mats[k], db.keypoints_[r][:, :2])]
        if np.isfinite(bg_kp[k]).all():
            pts.append(bg_kp[k][:, :2])
        if prev[k] >= 0 and int(prev[k]) in frames and np.isfinite(pm[k]).all():
            old = cv2.warpAffine(decode_image(frames[int(prev[k])]), pm[k], (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
            valid &= cv2.warpAffine(np.full(frames_shape(frames[int(prev[k])]), 255, np.uint8), pm[k], (w, h),
                                    flags=cv2.INTER_NEAREST, borderValue=0) > 0
            fg = cv2.addWeighted(old, float(wt[k]), fg, 1.0 - float(wt[k]), 0.0)
            pts.append(apply_affine(pm[k], db.keypoints_[prev[k]][:, :2]))
        mask = lower_face_mask(pts, (w, h))
        # Never paste pixels the warped frame does not cover (eroded: the blur must not reach them).
        mask *= cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
        rim = (mask > 0.05) & (mask < 0.6)
        fg = colour_match(fg, bg, rim)
        area[k] = float((mask > 0).mean())
        yield blend(fg, bg, mask, how)


def frames_shape(item):
    from ...io.video_fetch import decode_image

    return decode_image(item).shape[:2]


class CompositeRenderer:
    """``--frames composite``: the chosen mouths pasted into one continuous background take.

    Parameters
    ----------
    background : {"auto", "input"}
        The database take whose head motion fits the input best, or the input video itself (dubbing).
    blend : {"feather", "poisson"}
    """

    def __init__(self, background: str = "auto", blend: str = "feather", **_):
        self.background, self.blend = background, blend

    def render(self, job):
        from .fetch import db_frame_sizes, fetch_db_frames
        from .joins import join_continuations
        from .warp import db_frame_images

        db, rows_out, mats, size, index = job.db, job.rows_out, job.matrices, job.size, job.index
        info: dict = {}
        prev, _ = join_continuations(db, rows_out)
        bg = pick = None
        if self.background == "input" and job.track.video is not None:
            from ...io.video_fetch import read_frames

            bg = {"images": read_frames(job.track.video, index, encode=".jpg" if len(index) > 300 else None),
                  "matrices": mats, "keypoints": np.asarray(job.track.keypoints, np.float64)[index], "size": size}
            info["background"] = {"take": "input"}
            wanted = np.concatenate([rows_out, prev])
        else:
            pick = choose_background(db, mats, len(index))
            if pick is None:
                return db_frame_images(db, rows_out, mats, size, job.matched_kp, index), \
                    {"frames_mode_fallback": "warp"}
            wanted = np.concatenate([rows_out, prev, pick["rows"]])
            info["background"] = {"take": pick["recording"], "first_frame": int(db.table_["frame"][
                pick["rows"][0]]), "fit": pick["cost"]}
        frames, _ = fetch_db_frames(db, wanted)
        if bg is None:
            rows_bg = pick["rows"]
            bsize = tuple(int(v) for v in db_frame_sizes(db)[rows_bg[0]])
            bg = {"images": [frames[int(r)] for r in rows_bg], "matrices": db.transforms_[rows_bg],
                  "keypoints": db.keypoints_[rows_bg], "size": bsize}
        info["output_size"] = list(bg["size"])
        return composite_images(db, rows_out, frames, bg, how=self.blend, report=info), info
