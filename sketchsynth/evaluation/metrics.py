"""Measures of a speech-driven mouth against the recorded one (issue 10's definitions).

Opening and width are computed in the image pixels of the frame shown (for selected database
frames: that frame's own raw keypoints) and divided by the same frame's inter-ocular distance,
so they compare across face sizes.
"""

from __future__ import annotations

import numpy as np

from ..layout import INNER_LIP_PAIRS, LIP_CORNERS, inter_ocular


def mouth_opening(keypoints: np.ndarray) -> np.ndarray:
    """Inner-lip gap (the pairs of ``layout.INNER_LIP_PAIRS``: 62-66) over the inter-ocular distance.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 2|3)
        Image pixels.

    Returns
    -------
    np.ndarray, shape (n_frames,), float64
    """
    xy = np.asarray(keypoints)[..., :2].astype(np.float64)
    up, lo = [p for p, _ in INNER_LIP_PAIRS], [q for _, q in INNER_LIP_PAIRS]
    gap = np.linalg.norm(xy[:, up] - xy[:, lo], axis=-1).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # frames without a face (all zeros) give NaN
        return gap / inter_ocular(xy)


def lip_width(keypoints: np.ndarray) -> np.ndarray:
    """Distance between the lip corners 48 and 54 over the inter-ocular distance, shape (n_frames,)."""
    xy = np.asarray(keypoints)[..., :2].astype(np.float64)
    a, b = LIP_CORNERS
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.linalg.norm(xy[:, a] - xy[:, b], axis=-1) / inter_ocular(xy)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays over the pairs where both are finite (NaN if constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else float("nan")


def best_lag(true_seqs, pred_seqs, max_lag: int = 10) -> tuple[int, np.ndarray]:
    """Shift (frames) at the peak of the pooled cross-correlation of true and predicted sequences.

    A positive lag means the prediction comes late: ``pred[t + lag]`` follows ``true[t]`` best.

    Parameters
    ----------
    true_seqs, pred_seqs : lists of np.ndarray, each (n_frames_i,)
        One pair per utterance; shifts never cross utterances.
    max_lag : int

    Returns
    -------
    lag : int
    r : np.ndarray, shape (2 * max_lag + 1,)
        Pooled r at lags -max_lag..max_lag.
    """
    rs = []
    for s in range(-max_lag, max_lag + 1):
        ta, pa = [], []
        for t, p in zip(true_seqs, pred_seqs):
            n = len(t)
            if abs(s) >= n:
                continue
            ta.append(t[max(0, -s):n - max(0, s)])
            pa.append(p[max(0, s):n - max(0, -s) if s < 0 else n])
        rs.append(pearson(np.concatenate(ta), np.concatenate(pa)))
    rs = np.asarray(rs)
    return int(np.nanargmax(rs)) - max_lag, rs


def jumps_per_second(is_jump: np.ndarray, fps: float) -> float:
    """Jumps (choices that are not the previous choice's recording successor) per second."""
    j = np.asarray(is_jump, bool)
    return float(j.sum() * fps / max(1, len(j)))


def table_cell(x, fmt: str = ".3f") -> str:
    """A figure formatted for a report table; "–" for a missing or non-finite one."""
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, fmt)
