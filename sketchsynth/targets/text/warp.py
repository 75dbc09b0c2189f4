"""Time-warping speech onto other timings (to compare a TTS reading with a recorded one frame by frame)."""

from __future__ import annotations

import numpy as np

from ...errors import require


def word_knots(words, targets, end_src: float, end_dst: float):
    """Matching time knots of two readings of the same words: 0, each word's start and end, the end.

    Parameters
    ----------
    words, targets : list of (word, start_s, end_s)
        Same words in the same order (silences excluded).
    end_src, end_dst : float
        Durations of the two readings, seconds.

    Returns
    -------
    src, dst : np.ndarray, shape (2 * n_words + 2,), float64, non-decreasing
    """
    src = [0.0] + [t for _, s, e in words for t in (s, e)] + [end_src]
    dst = [0.0] + [t for _, s, e in targets for t in (s, e)] + [end_dst]
    return np.maximum.accumulate(np.asarray(src)), np.maximum.accumulate(np.asarray(dst))


def warp_audio(samples: np.ndarray, sr: int, src_knots, dst_knots) -> np.ndarray:
    """Stretch each span between knots to its target length, keeping pitch (librosa's phase vocoder).

    Parameters
    ----------
    samples : np.ndarray, shape (n,), float32
    sr : int
    src_knots, dst_knots : array of float, same length, seconds

    Returns
    -------
    np.ndarray, shape (round(dst_knots[-1] * sr),), float32
    """
    librosa = require("librosa", "speech", "time-warping speech")
    out = []
    x = np.asarray(samples, np.float32)
    for (a, b), (c, d) in zip(zip(src_knots[:-1], src_knots[1:]), zip(dst_knots[:-1], dst_knots[1:])):
        n_dst = int(round(d * sr)) - int(round(c * sr))
        if n_dst <= 0:
            continue
        seg = x[int(round(a * sr)):int(round(b * sr))]
        if len(seg) < 64:
            out.append(np.zeros(n_dst, np.float32))
            continue
        y = librosa.effects.time_stretch(seg, rate=len(seg) / n_dst) if abs(len(seg) - n_dst) > 1 else seg
        y = y[:n_dst] if len(y) >= n_dst else np.pad(y, (0, n_dst - len(y)))
        out.append(y.astype(np.float32))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
