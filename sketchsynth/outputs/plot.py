"""The method's comparison figure: input sketch (black) against matched sketch (blue) at t-1, t, t+1.

PNGs are drawn with OpenCV (:func:`comparison_image`): importing matplotlib costs about half a
second, a third of what ``sketchsynth match`` takes on 3,000 frames. PDFs, and anyone who wants
a matplotlib Figure, get :func:`comparison_figure`: the same panels, captions and legend.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ParameterError
from ..layout import CHAINS, PUPILS


INPUT_COLOR = "black"
MATCH_COLOR = "tab:blue"
_INPUT_BGR = (0, 0, 0)
_MATCH_BGR = (180, 119, 31)  # matplotlib's tab:blue, #1f77b4


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


def comparison_figure(input_kp: np.ndarray, matched_kp: np.ndarray, t: int, labels=None, costs=None, input_name="input",
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

    times, lo, hi, pad = _panels(input_kp, matched_kp, t)
    fig = Figure(figsize=(3.4 * len(times), 3.9), dpi=150)
    for k, i in enumerate(times):
        ax = fig.add_subplot(1, len(times), k + 1)
        _draw(ax, input_kp[i], INPUT_COLOR, input_name)
        if np.isfinite(matched_kp[i, :, :2]).any():
            _draw(ax, matched_kp[i], MATCH_COLOR, "match")
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(hi[1] + pad, lo[1] - pad)  # image coordinates: y grows downwards
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("\n".join(_caption(i, t, labels, costs, "−")), fontsize=8)
    fig.axes[0].legend(loc="lower left", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94) if title else None)
    return fig


def _panels(input_kp, matched_kp, t):
    """The panels' frames (t-1, t, t+1 where they exist) and the box all of them share: lo, hi (2,), pad."""
    n = len(input_kp)
    if n == 0:
        raise ParameterError("nothing to plot: the input has no frames")
    if not 0 <= t < n:
        raise ParameterError(f"frame {t} is outside the input (0-{n - 1})")
    times = [i for i in (t - 1, t, t + 1) if 0 <= i < n]
    both = np.concatenate([input_kp[times, :, :2], matched_kp[times, :, :2]]).reshape(-1, 2).astype(np.float64)
    both = both[np.isfinite(both).all(axis=1)]
    lo, hi = (both.min(axis=0), both.max(axis=0)) if len(both) else (np.zeros(2), np.ones(2))
    pad = 0.06 * (hi - lo).max()
    return times, lo, hi, pad


def _caption(i, t, labels, costs, minus):
    """A panel's caption lines: which frame, and what matched it at what cost."""
    rel = {t - 1: f"t{minus}1", t: "t", t + 1: "t+1"}[i]
    lines = [f"{rel}: input frame {i}"]
    second = labels[i] if labels is not None else ""
    if costs is not None and np.isfinite(costs[i]):
        second += f"  (cost {costs[i]:.3g})"
    if second:
        lines.append(second.strip() if labels is None else second)
    return lines


def comparison_image(input_kp: np.ndarray, matched_kp: np.ndarray, t: int, labels=None, costs=None, input_name="input",
                     title: str | None = None, dpi: int = 150) -> np.ndarray:
    """The comparison figure drawn with OpenCV, laid out as :func:`comparison_figure` lays it out.

    Parameters
    ----------
    input_kp, matched_kp, t, labels, costs, title :
        As for :func:`comparison_figure`.
    dpi : int
        Pixels per inch of the figure's 3.4 x 3.9 inch panels (150: 510 x 585 px each).

    Returns
    -------
    np.ndarray, shape (height, width, 3), uint8
        BGR image, white background.
    """
    import cv2

    from .render import draw_sketch

    times, lo, hi, pad = _panels(input_kp, matched_kp, t)
    u = dpi / 150  # layout below in pixels at 150 dpi
    width, height = int(round(3.4 * dpi * len(times))), int(round(3.9 * dpi))
    img = np.full((height, width, 3), 255, np.uint8)
    font, aa = cv2.FONT_HERSHEY_SIMPLEX, cv2.LINE_AA
    small, text_px = 0.5 * u, max(1, int(round(u)))

    def text(s, cx, y, scale):  # centred on cx, baseline at y
        (w, _), _ = cv2.getTextSize(s, font, scale, text_px)
        cv2.putText(img, s, (int(cx - w / 2), int(y)), font, scale, (0, 0, 0), text_px, aa)

    top = (60 if title else 20) * u + 2 * 19 * u  # room for the title and two caption lines
    bottom, side, gap = 12 * u, 22 * u, 22 * u
    pw = (width - 2 * side - gap * (len(times) - 1)) / len(times)
    ph = height - top - bottom
    span = np.maximum(hi - lo + 2 * pad, 1e-9)
    scale = min(pw / span[0], ph / span[1])  # equal aspect, as the figure's axes
    bw, bh = span * scale
    thick = max(1, int(round(2 * u)))  # about the figure's 1.4 pt lines at 150 dpi
    for k, i in enumerate(times):
        x0 = side + k * (pw + gap) + (pw - bw) / 2
        y0 = top + (ph - bh) / 2
        offset = np.array([x0, y0]) - (lo - pad) * scale
        panel_in = np.asarray(input_kp[i], np.float64)
        draw_sketch(img, panel_in, _INPUT_BGR, thick, scale, offset)
        if np.isfinite(matched_kp[i, :, :2]).any():
            draw_sketch(img, np.asarray(matched_kp[i], np.float64), _MATCH_BGR, thick, scale, offset)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + bw), int(y0 + bh)), (0, 0, 0), max(1, int(round(u))))
        lines = _caption(i, t, labels, costs, "-")
        for j, line in enumerate(lines):
            text(line, x0 + bw / 2, y0 - 8 * u - (len(lines) - 1 - j) * 19 * u, small)
        if k == 0:  # the legend, lower left inside the first panel
            for j, (name, color) in enumerate(((input_name, _INPUT_BGR), ("match", _MATCH_BGR))):
                y = int(y0 + bh - 30 * u + j * 18 * u)
                cv2.line(img, (int(x0 + 12 * u), y - int(4 * u)), (int(x0 + 40 * u), y - int(4 * u)), color, thick, aa)
                cv2.putText(img, name, (int(x0 + 48 * u), y), font, 0.45 * u, (0, 0, 0), text_px, aa)
    if title:
        text(title, width / 2, 30 * u, 0.6 * u)
    return img


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
    if path.lower().endswith(".png"):
        import cv2

        img = comparison_image(input_kp, matched_kp, t, **kwargs)
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise ParameterError(f"could not encode the comparison figure for {path}")
        with open(path, "wb") as fh:
            fh.write(buf.tobytes())
        return path
    fig = comparison_figure(input_kp, matched_kp, t, **kwargs)
    fig.savefig(path)
    return path
