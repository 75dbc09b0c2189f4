"""The method's comparison figure: input sketch (black) against matched sketch (blue) at t-1, t, t+1."""

from __future__ import annotations

import os

import numpy as np

from .errors import ParameterError
from .layout import CHAINS, PUPILS

INPUT_COLOR = "black"
MATCH_COLOR = "tab:blue"


def _draw(ax, kp, color, label=None, lw=1.4):
    kp = np.asarray(kp, dtype=np.float64)
    seen = np.isfinite(kp[:, :2]).all(axis=1) & ((kp[:, 2] > 0) if kp.shape[1] > 2 else True)
    first = True
    for idx, closed in CHAINS:
        chain = list(idx) + ([idx[0]] if closed else [])
        xy = np.where(seen[chain, None], kp[chain, :2], np.nan)  # NaN breaks the line at missing points
        ax.plot(xy[:, 0], xy[:, 1], color=color, lw=lw, label=label if first else None,
                solid_capstyle="round")
        first = False
    p = [i for i in PUPILS if seen[i]]
    if p:
        ax.plot(kp[p, 0], kp[p, 1], "o", color=color, ms=2.5)


def comparison_figure(input_kp: np.ndarray, matched_kp: np.ndarray, t: int, labels=None, costs=None,
                      title: str | None = None):
    """Build the comparison figure for frames t-1, t, t+1.

    Parameters
    ----------
    input_kp : np.ndarray, shape (n_frames, 70, 3)
        Input frames, image pixels.
    matched_kp : np.ndarray, shape (n_frames, 70, 3)
        Matched frames in the same coordinates (NaN where nothing matched).
    t : int
        Centre frame (index into the arrays); clipped so all three panels exist.
    labels : sequence of str, optional
        Per-frame caption of the match (e.g. ``"henan 1234"``).
    costs : np.ndarray, shape (n_frames,), optional
        Target cost per frame, shown in the captions.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    n = len(input_kp)
    if n == 0:
        raise ParameterError("nothing to plot: the input has no frames")
    if not 0 <= t < n:
        raise ParameterError(f"frame {t} is outside the input (0-{n - 1})")
    times = [i for i in (t - 1, t, t + 1) if 0 <= i < n]
    fig = Figure(figsize=(3.4 * len(times), 3.9), dpi=150)
    both = np.concatenate([input_kp[times, :, :2], matched_kp[times, :, :2]]).reshape(-1, 2)
    both = both[np.isfinite(both).all(axis=1)]
    lo, hi = (both.min(axis=0), both.max(axis=0)) if len(both) else (np.zeros(2), np.ones(2))
    pad = 0.06 * (hi - lo).max()
    for k, i in enumerate(times):
        ax = fig.add_subplot(1, len(times), k + 1)
        _draw(ax, input_kp[i], INPUT_COLOR, "input")
        if np.isfinite(matched_kp[i, :, :2]).any():
            _draw(ax, matched_kp[i], MATCH_COLOR, "match")
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(hi[1] + pad, lo[1] - pad)  # image coordinates: y grows downwards
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        rel = {t - 1: "t−1", t: "t", t + 1: "t+1"}[i]
        cap = f"{rel}: input frame {i}"
        if labels is not None:
            cap += f"\n{labels[i]}"
        if costs is not None and np.isfinite(costs[i]):
            cap += f"  (cost {costs[i]:.3g})"
        ax.set_title(cap, fontsize=8)
    fig.axes[0].legend(loc="lower left", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94) if title else None)
    return fig


def save_comparison(path: str | os.PathLike, input_kp, matched_kp, t: int, **kwargs) -> str:
    """Write the comparison figure to PNG or PDF (by the file extension).

    Parameters
    ----------
    path : path ending in .png or .pdf
    input_kp, matched_kp : np.ndarray, shape (n_frames, 70, 3)
    t : int

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    if not path.lower().endswith((".png", ".pdf")):
        raise ParameterError(f"plot file must end in .png or .pdf: {path}")
    fig = comparison_figure(input_kp, matched_kp, t, **kwargs)
    fig.savefig(path)
    return path
