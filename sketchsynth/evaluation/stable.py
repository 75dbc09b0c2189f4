"""Stable-point analysis: which keypoints keep their distances to the rest of the face.

For every pair of points (i, j) the distance d_ij(t) is followed over all usable
frames; its variation is its standard deviation over time (by default in units of
the frame's inter-ocular distance), or optionally the coefficient of variation
std/mean. A point's score is the mean variation of its distances to every other point: the smaller, the more
rigidly the point moves with the face -- a good normalization anchor. The method
this project implements found nose point 35 the most stable on its data.

The per-pair statistics are accumulated in one pass (numba, parallel over
pairs), so tens of thousands of frames take well under a second.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from ..layout import N_POINTS, group_of, inter_ocular


@numba.njit(cache=True, parallel=True)
def _pair_moments(xy, scale):
    """Shifted first and second moments of every pair's distance over frames.

    xy (T, P, 2) f32; scale (T,) f64 divides each frame's distances. Sums are taken
    of d - d0 (d0: the pair's distance in frame 0), which keeps the variance free of
    cancellation. Returns d0, s1, s2 of shape (P, P) f64, symmetric, zero diagonal.
    """
    t_n, p_n = xy.shape[0], xy.shape[1]
    d0 = np.zeros((p_n, p_n))
    s1 = np.zeros((p_n, p_n))
    s2 = np.zeros((p_n, p_n))
    for i in numba.prange(p_n):
        for j in range(i + 1, p_n):
            ref = 0.0
            a = 0.0
            b = 0.0
            for t in range(t_n):
                dx = np.float64(xy[t, i, 0]) - xy[t, j, 0]
                dy = np.float64(xy[t, i, 1]) - xy[t, j, 1]
                d = np.sqrt(dx * dx + dy * dy) / scale[t]
                if t == 0:
                    ref = d
                a += d - ref
                b += (d - ref) * (d - ref)
            d0[i, j] = ref
            d0[j, i] = ref
            s1[i, j] = a
            s1[j, i] = a
            s2[i, j] = b
            s2[j, i] = b
    return d0, s1, s2


def _pair_moments_reference(xy, scale, chunk: int = 2048):
    """Plain-numpy twin of :func:`_pair_moments`, chunked over frames (tests only)."""
    def dist(c, s):
        c = c.astype(np.float64)
        return np.linalg.norm(c[:, :, None] - c[:, None, :], axis=-1) / s[:, None, None]

    d0 = dist(xy[:1], scale[:1])[0]
    p_n = xy.shape[1]
    s1 = np.zeros((p_n, p_n))
    s2 = np.zeros((p_n, p_n))
    for a in range(0, len(xy), chunk):
        d = dist(xy[a:a + chunk], scale[a:a + chunk]) - d0
        s1 += d.sum(0)
        s2 += (d * d).sum(0)
    return d0, s1, s2


MEASURES = ("std", "cv")
SCALES = ("interocular", "none")


def pair_variation(keypoints: np.ndarray, scale: str = "interocular", measure: str = "std") -> np.ndarray:
    """How much every pair's distance varies over time.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
        Usable frames only (every point present).
    scale : {"interocular", "none"}
        Divide each frame's distances by its inter-ocular distance first, so a
        head moving towards the camera does not count as instability (and the
        result is in inter-ocular units, comparable across recordings).
    measure : {"std", "cv"}
        Standard deviation of the distance, or its coefficient of variation
        (std / mean), which favours points far from the rest (the jaw outline).

    Returns
    -------
    np.ndarray, shape (70, 70), float64
        Zero on the diagonal.
    """
    from ..errors import ParameterError

    if scale not in SCALES:
        raise ParameterError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if measure not in MEASURES:
        raise ParameterError(f"--measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    xy = np.ascontiguousarray(np.asarray(keypoints)[..., :2], dtype=np.float32)
    if scale == "interocular":
        s = inter_ocular(xy).astype(np.float64)
        s = np.where(s > 0, s, np.nan)
    else:
        s = np.ones(len(xy))
    good = np.isfinite(s)
    xy, s = xy[good], s[good]
    n = max(len(xy), 1)
    d0, s1, s2 = _pair_moments(xy, s)
    mean = d0 + s1 / n
    std = np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0))
    if measure == "cv":
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.where(mean > 0, std / mean, 0.0)
    np.fill_diagonal(std, 0)
    return std


def stable_points(keypoints: np.ndarray, scale: str = "interocular", measure: str = "std") -> pd.DataFrame:
    """Rank the 70 points by how stable their distances to all other points are.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
    scale, measure : str
        See :func:`pair_variation`.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, point, group, variation`` (mean variation of the point's
        distances to the other 69), most stable first.
    """
    cv = pair_variation(keypoints, scale, measure)
    score = cv.sum(axis=1) / (N_POINTS - 1)
    order = np.argsort(score, kind="stable")
    return pd.DataFrame({"rank": np.arange(1, N_POINTS + 1), "point": order,
                         "group": [group_of(int(p)) for p in order], "variation": score[order]})


def save_bar_plot(table: pd.DataFrame, path: str, title: str = "") -> str:
    """Bar plot of every point's variation, by point index, coloured by group.

    Parameters
    ----------
    table : DataFrame from :func:`stable_points`
    path : .png or .pdf
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    t = table.sort_values("point")
    colors = {"jaw": "tab:gray", "brows": "tab:brown", "nose": "tab:red", "eyes": "tab:green",
              "lips": "tab:blue", "pupils": "tab:olive"}
    fig = Figure(figsize=(11, 3.6), dpi=130)
    ax = fig.add_subplot()
    ax.bar(t["point"], t["variation"], color=[colors[g] for g in t["group"]])
    best = table.iloc[0]
    ax.annotate(f"most stable: {int(best['point'])}", (best["point"], best["variation"]),
                xytext=(0, 18), textcoords="offset points", ha="center", fontsize=8,
                arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlabel("point (OpenPose face, 0-based)")
    ax.set_ylabel("variation of distances to other points")
    ax.set_xticks(range(0, N_POINTS, 5))
    ax.set_xlim(-1, N_POINTS)
    for g, c in colors.items():
        ax.bar([np.nan], [np.nan], color=c, label=g)
    ax.legend(fontsize=7, ncols=6, frameon=False, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path
