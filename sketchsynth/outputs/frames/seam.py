"""Where a paste meets its background: the feathered lower-face mask, the colour match, the blend."""

from __future__ import annotations

import numpy as np

from ...layout import GROUPS, LOWER_FACE
from .mesh import iod

MASK_GROW = 0.12
"""The lower-face outline is grown by this many inter-ocular distances (covers chin and cheek differences)."""
FEATHER = 0.06
"""Gaussian sigma of the mask's soft edge, inter-ocular distances."""
CHIN_MARGIN = 0.1
"""The mask reaches this far (inter-ocular distances) below the lower of the two chins, so the background's
own chin never shows under a pasted one."""
GAIN_CLIP = (0.8, 1.25)
"""Bounds of the a/b channels' standard-deviation gain: lighting differs a little; a big gain repaints."""
LIGHTNESS_GAIN_CLIP = (1.0, 1.0)
"""The lightness channel is only shifted: a gain would change the mouth's contrast (its sharpness)."""


def paste_mask(dst_kp: np.ndarray, size, bg_chin_y: float | None = None, grow: float = MASK_GROW,
               feather: float = FEATHER, chin_margin: float = CHIN_MARGIN):
    """Feathered mask of a pasted lower face, cut to a box around it.

    Parameters
    ----------
    dst_kp : np.ndarray, shape (70, 2)
        The pasted face's keypoints, output pixels.
    size : (width, height)
    bg_chin_y : float, optional
        The background's own chin height (pixels): the mask reaches below the lower of the two chins.

    Returns
    -------
    mask : np.ndarray, shape (y1 - y0, x1 - x0), float32
        0-1.
    box : (x0, y0, x1, y1)
    """
    import cv2

    w, h = size
    d = iod(dst_kp)
    outline = np.asarray(dst_kp, np.float64)[LOWER_FACE, :2].copy()
    chin = float(dst_kp[GROUPS["jaw"][8], 1])
    low = max(chin, chin if bg_chin_y is None else bg_chin_y) + chin_margin * d
    mid = np.flatnonzero(np.isin(LOWER_FACE, GROUPS["jaw"][6:11]))  # the chin's five outline points
    outline[mid, 1] = np.maximum(outline[mid, 1], low - np.abs(np.arange(len(mid)) - len(mid) // 2) * 0.04 * d)
    pad = (grow + 3 * feather) * d + 4
    x0, y0 = np.floor(outline.min(0) - pad).astype(int)
    x1, y1 = np.ceil(outline.max(0) + pad).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), (0, 0, 0, 0)
    hard = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(hard, [np.round(outline - [x0, y0]).astype(np.int32)], 255, cv2.LINE_AA)
    g = max(1, int(round(grow * d)))
    hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    return cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), max(0.5, feather * d)), (x0, y0, x1, y1)


def colour_match(src: np.ndarray, dst: np.ndarray, region: np.ndarray, gain_clip=GAIN_CLIP,
                 lightness_gain_clip=LIGHTNESS_GAIN_CLIP) -> np.ndarray:
    """``src`` with its Lab mean and standard deviation over ``region`` set to ``dst``'s there (gains clipped).

    Parameters
    ----------
    src, dst : np.ndarray, shape (h, w, 3), uint8
        BGR.
    region : np.ndarray, shape (h, w), bool
        Where both show skin (the mask's rim).

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
    gain = np.clip(sb / sa, *gain_clip)
    gain[0] = np.clip(sb[0] / sa[0], *lightness_gain_clip)
    return cv2.cvtColor(np.clip((a - ma) * gain + mb, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def blend(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, how: str = "feather") -> np.ndarray:
    """Paste ``fg`` onto ``bg`` through ``mask`` (0-1); outside the mask the result is ``bg``.

    Parameters
    ----------
    fg, bg : np.ndarray, shape (h, w, 3), uint8
    mask : np.ndarray, shape (h, w), float32
    how : {"feather", "poisson"}
        Poisson: OpenCV's seamless cloning inside the mask (falls back to feathering at the image's edge).

    Returns
    -------
    np.ndarray, shape (h, w, 3), uint8
    """
    import cv2

    if how == "poisson":
        hard = (mask > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(hard)
        if len(xs) > 16 and xs.min() > 1 and ys.min() > 1 and xs.max() < bg.shape[1] - 2 and ys.max() < bg.shape[0] - 2:
            centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
            try:
                out = cv2.seamlessClone(fg, bg, hard, centre, cv2.NORMAL_CLONE)
            except cv2.error:
                out = None
            if out is not None:
                return np.where((mask > 0)[..., None], out, bg)
    a = mask[..., None]
    return (fg.astype(np.float32) * a + bg.astype(np.float32) * (1 - a) + 0.5).astype(np.uint8)
