"""Time-warping speech onto other timings.

Two ways, measured on GRID s1's validation sentences said by espeak-ng and read by the speech model (opening r of
the audio target alone): :func:`warp_audio` runs one phase vocoder over the whole sound, so phone-long spans
stretch cleanly (0.73 with the speaker's rhythm, against 0.64 stretching each span apart); :func:`stretch_spans`
stretches each span apart, which reads better when the spans are whole words (0.77, against 0.73): the bench
lays a TTS reading onto a recorded one's word timings that way.
"""

from __future__ import annotations

import numpy as np

from ...errors import require
from .tts import EXTRA


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


def stretch_spans(samples: np.ndarray, sr: int, src_knots, dst_knots) -> np.ndarray:
    """Stretch each span between knots to its target length apart, keeping pitch (librosa's phase vocoder).

    Parameters
    ----------
    samples : np.ndarray, shape (n,), float32
    sr : int
    src_knots, dst_knots : array of float, same length, seconds

    Returns
    -------
    np.ndarray, shape (round(dst_knots[-1] * sr),), float32
    """
    librosa = require("librosa", EXTRA, "time-warping speech for say")
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


def warp_audio(samples: np.ndarray, sr: int, src_knots, dst_knots, frame_s: float = 0.128) -> np.ndarray:
    """Time-warp speech piecewise linearly between knots, keeping pitch: one phase vocoder over the whole sound.

    The output's frames read the input's STFT at the times the knots map them back to (magnitudes interpolated
    between input frames, phases advanced by each bin's measured frequency), so spans of a few tens of
    milliseconds (a phone) stretch as cleanly as long ones and no seam is made at a knot. A span whose source
    is empty (a pause the source did not have) is silent.

    Parameters
    ----------
    samples : np.ndarray, shape (n,), float32
    sr : int
    src_knots, dst_knots : array of float, same length, seconds, non-decreasing
        Matching times in the input and the output; ``dst_knots[-1]`` is the output's length.
    frame_s : float
        STFT window, seconds (a quarter of it is the hop; rounded up to a power of two in samples). On GRID s1's
        validation sentences 0.032 / 0.064 / 0.128 s gave `say` opening r 0.804 / 0.800 / 0.808.

    Returns
    -------
    np.ndarray, shape (round(dst_knots[-1] * sr),), float32
    """
    librosa = require("librosa", EXTRA, "time-warping speech for say")
    src = np.asarray(src_knots, np.float64)
    dst = np.asarray(dst_knots, np.float64)
    n_out = int(round(dst[-1] * sr))
    x = np.asarray(samples, np.float32)
    if n_out <= 0:
        return np.zeros(0, np.float32)
    if len(x) == 0:
        return np.zeros(n_out, np.float32)
    n_fft = 1 << int(np.ceil(np.log2(max(frame_s * sr, 16))))
    hop = n_fft // 4
    D = librosa.stft(x, n_fft=n_fft, hop_length=hop)
    n_in = D.shape[1]
    t_out = np.arange(1 + n_out // hop) * hop / sr
    # the input time each output frame reads: the inverse of the piecewise linear map dst -> src
    j = np.clip(np.searchsorted(dst, t_out, side="right") - 1, 0, len(dst) - 2)
    span = dst[j + 1] - dst[j]
    frac = np.where(span > 0, (t_out - dst[j]) / np.where(span > 0, span, 1), 0.0)
    t_in = src[j] + np.clip(frac, 0, 1) * (src[j + 1] - src[j])
    silent = (src[j + 1] - src[j]) * sr < 1  # (past the last knot, j is the last span: same rule)
    step = np.clip(t_in * sr / hop, 0, n_in - 1)
    i0 = np.minimum(step.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    a = (step - i0)[None]
    mag = (1 - a) * np.abs(D[:, i0]) + a * np.abs(D[:, i1])
    # each bin's phase advance per hop, measured between the two input frames read
    advance = np.linspace(0, np.pi * hop, D.shape[0])[:, None]
    dphi = np.angle(D[:, i1]) - np.angle(D[:, i0]) - advance
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    phase = np.angle(D[:, i0[:1]]) + np.cumsum(np.c_[np.zeros((D.shape[0], 1)), (advance + dphi)[:, :-1]], axis=1)
    out = mag * np.exp(1j * phase)
    out[:, silent] = 0
    y = librosa.istft(out.astype(np.complex64), hop_length=hop, n_fft=n_fft, length=n_out)
    return np.asarray(y, np.float32)
