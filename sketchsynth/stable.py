"""Stable-point analysis: which keypoints keep their distances to the rest of the face.

For every pair of points (i, j) the distance d_ij(t) is followed over all usable
frames; its variation is the coefficient of variation std/mean. A point's score is
the mean variation of its distances to every other point: the smaller, the more
rigidly the point moves with the face -- a good normalization anchor. The method
this project implements found nose point 35 the most stable on its data.

The per-pair statistics are accumulated in one pass (numba, parallel over
pairs), so tens of thousands of frames take well under a second.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .layout import N_POINTS, group_of, inter_ocular


@numba.njit(cache=True, parallel=True)
def _pair_moments(xy, scale):
    """Sum and sum of squares of every pair's distance over frames.

    xy (T, P, 2) f32; scale (T,) f64 divides each frame's distances.
    Returns s1, s2 of shape (P, P) f64 (upper triangle filled, mirrored).
    """
    t_n, p_n = xy.shape[0], xy.shape[1]
    s1 = np.zeros((p_n, p_n))
    s2 = np.zeros((p_n, p_n))
    for i in numba.prange(p_n):
        for j in range(i + 1, p_n):
            a = 0.0
            b = 0.0
            for t in range(t_n):
                dx = np.float64(xy[t, i, 0]) - xy[t, j, 0]
                dy = np.float64(xy[t, i, 1]) - xy[t, j, 1]
                d = np.sqrt(dx * dx + dy * dy) / scale[t]
                a += d
                b += d * d
            s1[i, j] = a
            s1[j, i] = a
            s2[i, j] = b
            s2[j, i] = b
    return s1, s2


def _pair_moments_reference(xy, scale, chunk: int = 2048):
    """Plain-numpy twin of :func:`_pair_moments`, chunked over frames (tests only)."""
    p_n = xy.shape[1]
    s1 = np.zeros((p_n, p_n))
    s2 = np.zeros((p_n, p_n))
    for a in range(0, len(xy), chunk):
        c = xy[a:a + chunk].astype(np.float64)
        d = np.linalg.norm(c[:, :, None] - c[:, None, :], axis=-1) / scale[a:a + chunk, None, None]
        s1 += d.sum(0)
        s2 += (d * d).sum(0)
    np.fill_diagonal(s1, 0)
    np.fill_diagonal(s2, 0)
    return s1, s2


def pair_variation(keypoints: np.ndarray, scale: str = "none") -> np.ndarray:
    """Coefficient of variation of every pair's distance over time.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
        Usable frames only (every point present).
    scale : {"none", "interocular"}
        Divide each frame's distances by its inter-ocular distance first, so a
        head moving towards the camera does not count as instability.

    Returns
    -------
    np.ndarray, shape (70, 70), float64
        Zero on the diagonal.
    """
    xy = np.ascontiguousarray(np.asarray(keypoints)[..., :2], dtype=np.float32)
    if scale == "interocular":
        s = inter_ocular(xy).astype(np.float64)
        s = np.where(s > 0, s, np.nan)
    elif scale == "none":
        s = np.ones(len(xy))
    else:
        from .errors import ParameterError

        raise ParameterError(f"--scale must be 'none' or 'interocular', got {scale!r}")
    good = np.isfinite(s)
    xy, s = xy[good], s[good]
    n = len(xy)
    s1, s2 = _pair_moments(xy, s)
    mean = s1 / max(n, 1)
    var = np.maximum(s2 / max(n, 1) - mean ** 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(mean > 0, np.sqrt(var) / mean, 0.0)
    np.fill_diagonal(cv, 0)
    return cv


def stable_points(keypoints: np.ndarray, scale: str = "none") -> pd.DataFrame:
    """Rank the 70 points by how stable their distances to all other points are.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
    scale : {"none", "interocular"}
        See :func:`pair_variation`.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank, point, group, variation`` (mean coefficient of variation
        of the point's distances to the other 69), most stable first.
    """
    cv = pair_variation(keypoints, scale)
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
    ax.set_ylabel("mean CV of distances to other points")
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
