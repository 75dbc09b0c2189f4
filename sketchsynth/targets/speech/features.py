"""Audio features per video frame: a context window with look-ahead over the sound's feature frames.

The feature frames come from the database's extractor (:mod:`sketchsynth.database.speech_features`,
LSP's log-mel by default).

No separate normalization stage: the regressors standardize their inputs with statistics of the
frames they are fitted on, and per-utterance mean removal (CMVN) lowered opening r from 0.847 to
0.832 on GRID s1 (benchmarks/speech_research.md).

A video frame at time ``t`` is described by the mel frames at ``t + offset`` for offsets from
``-past_s`` to ``+future_s``: the mouth moves *before* the sound it shapes (lips close before a
/b/ is heard), so the window looks ahead -- LSP delays its audio by 300 ms for the same reason.
"""

from __future__ import annotations

import numpy as np

from ...errors import DatabaseError, ParameterError
from ...layout import SPEECH_POINTS
from .audio_check import require_audio


def window_mean(mel: np.ndarray, mel_times: np.ndarray, frame_times: np.ndarray, half_s: float) -> np.ndarray:
    """Mean mel spectrum over ``[t - half_s, t + half_s]`` around every video frame time ``t``.

    The slow, sentence-level part of the sound (loudness, voice quality, the speaking style of a take),
    which a few hundred ms of context do not see. Windows are clipped to the audio.

    Parameters
    ----------
    mel : np.ndarray, shape (n_mel_frames, n_mels)
    mel_times, frame_times : np.ndarray, shapes (n_mel_frames,), (n_frames,)
        Seconds, as in :func:`frame_context`.
    half_s : float
        Half-width of the window, seconds (> 0).

    Returns
    -------
    np.ndarray, shape (n_frames, n_mels), float32
    """
    mel = np.asarray(mel, dtype=np.float64)
    mt = np.asarray(mel_times, dtype=np.float64)
    t = np.asarray(frame_times, dtype=np.float64)
    if half_s <= 0:
        raise ParameterError(f"window_mean: half_s must be > 0, got {half_s}")
    csum = np.concatenate([np.zeros((1, mel.shape[1])), np.cumsum(mel, axis=0)])
    lo = np.clip(np.searchsorted(mt, t - half_s, side="left"), 0, len(mt) - 1)
    hi = np.clip(np.searchsorted(mt, t + half_s, side="right"), lo + 1, len(mt))
    return ((csum[hi] - csum[lo]) / (hi - lo)[:, None]).astype(np.float32)


def context_offsets(past_s: float, future_s: float, step: float) -> np.ndarray:
    """Offsets (seconds) of the mel frames stacked for one video frame: multiples of ``step`` within
    ``[-past_s, +future_s]``.

    Returns
    -------
    np.ndarray, shape (n_ctx,), float64
    """
    if past_s < 0 or future_s < 0 or step <= 0:
        raise ParameterError(f"context: need past_s, future_s >= 0 and step > 0, got {past_s}, {future_s}, {step}")
    lo = -int(np.floor(past_s / step + 1e-9))   # never more context than asked for
    hi = int(np.floor(future_s / step + 1e-9))
    return np.arange(lo, hi + 1) * float(step)


def frame_context(mel: np.ndarray, mel_times: np.ndarray, frame_times: np.ndarray, past_s: float = 0.32,
                  future_s: float = 0.48, step: float = 0.04) -> np.ndarray:
    """Stack, for every video frame, the mel frames around its time.

    Parameters
    ----------
    mel : np.ndarray, shape (n_mel_frames, n_mels)
    mel_times : np.ndarray, shape (n_mel_frames,)
        Seconds, evenly spaced and increasing (:attr:`LogMel.times_`).
    frame_times : np.ndarray, shape (n_frames,)
        Video frame times, seconds, on the audio's timeline (``Track.time_s``).
    past_s, future_s : float
        Context before and after the frame, seconds; ``future_s`` is the look-ahead.
    step : float
        Spacing of the stacked mel frames, seconds (0.04 = one 25 fps frame).

    Returns
    -------
    np.ndarray, shape (n_frames, n_ctx * n_mels), float32
        Row ``k`` is the mel spectrum linearly interpolated at ``frame_times[k] + offsets``,
        offsets ordered from the past to the future; times outside the audio take the first or
        last mel frame (edge padding).
    """
    mel = np.asarray(mel, dtype=np.float32)
    mt = np.asarray(mel_times, dtype=np.float64)
    if mel.ndim != 2 or len(mt) != len(mel) or len(mel) == 0:
        raise ParameterError(f"mel must be (n_mel_frames, n_mels) with one time per row, got {mel.shape}, {mt.shape}")
    off = context_offsets(past_s, future_s, step)
    t = np.asarray(frame_times, dtype=np.float64)[:, None] + off[None, :]       # (n_frames, n_ctx)
    if len(mt) == 1:
        return np.repeat(mel[None], t.size, 0).reshape(len(t), -1)
    hop = (mt[-1] - mt[0]) / (len(mt) - 1)
    pos = np.clip((t - mt[0]) / hop, 0.0, len(mt) - 1.0)
    i0 = np.minimum(pos.astype(np.int64), len(mt) - 2)
    a = (pos - i0)[..., None].astype(np.float32)
    out = mel[i0] * (1.0 - a) + mel[i0 + 1] * a                                # (n_frames, n_ctx, n_mels)
    return np.ascontiguousarray(out.reshape(len(t), -1), dtype=np.float32)


def training_windows(model, db, recordings=None):
    """Context windows and targets of the database's usable frames with sound, as a speech model reads them.

    Parameters
    ----------
    model : SpeechModel
        Its context, ``front_end`` and ``augment_warps``.
    db : FrameDatabase
        With sound.
    recordings : collection of str, optional
        Only these recordings (a held-out fold's complement).

    Returns
    -------
    X : np.ndarray, shape (n, n_features), float32
    Y : np.ndarray, shape (n, 37, 2), float32
        Normalized SPEECH_POINTS.
    rows : np.ndarray, shape (n,), int64
        With ``augment_warps``, the rows once per warp, warp after warp.
    """
    audio = require_audio(db)
    names = db.table_["recording"]
    times = db.table_["time_s"]
    usable = db.table_["usable"]
    firsts = {r["name"]: (int(r["first_row"]), int(r["n_frames"])) for r in db.recordings_}
    fronts = [None] if model.front_end is None else [model.extractor(db, w) for w in model.augment_warps]
    entries = []
    for e in audio.recordings():
        if recordings is not None and e["name"] not in recordings:
            continue
        a, n = firsts[e["name"]]
        r = np.arange(a, a + n)
        r = r[usable[r] & (audio.mel_index[r] >= 0) & (names[r] == e["name"])]
        if len(r):
            entries.append((e, r))
    if not entries:
        raise DatabaseError("no usable frame has sound to fit the speech model on", getattr(db, "path_", None))
    rows = np.concatenate([r for _, r in entries])
    n, X, at = len(rows), None, 0
    # Filled in place: blocks concatenated at the end would hold every window twice.
    for e, r in entries:
        if fronts[0] is None:
            mel, mt = audio.recording_mel(e)
            blocks = [model.context(np.asarray(mel), mt, times[r])]
        else:
            y = audio.samples(e)
            blocks = [model.context(front.transform(y), front.times_, times[r]) for front in fronts]
        for j, block in enumerate(blocks):
            if X is None:
                X = np.empty((n * len(fronts), block.shape[1]), block.dtype)
            X[j * n + at:j * n + at + len(r)] = block
        at += len(r)
    rows = np.tile(rows, len(fronts))
    Y = np.asarray(db.normalized_[rows][:, SPEECH_POINTS], np.float32)
    return X, Y, rows
