"""Audio features per video frame: LSP's log-mel front end, a context window with look-ahead, normalization.

The front end is Live Speech Portraits' (Lu et al. 2021): 16 kHz mono, 80 mel bands from 90 to
7600 Hz, 512-point FFT, a window of 1/60 s and a hop of 1/120 s, log power. It runs on librosa
(optional extra ``speech``).

No separate normalization stage: the regressors standardize their inputs with statistics of the
frames they are fitted on, and per-utterance mean removal (CMVN) lowered opening r from 0.847 to
0.832 on GRID s1 (benchmarks/speech_research.md).

A video frame at time ``t`` is described by the mel frames at ``t + offset`` for offsets from
``-past_s`` to ``+future_s``: the mouth moves *before* the sound it shapes (lips close before a
/b/ is heard), so the window looks ahead -- LSP delays its audio by 300 ms for the same reason.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ParameterError, require


class LogMel:
    """LSP's log-mel front end.

    Parameters
    ----------
    sr : int
        Sample rate the samples come at, Hz (LSP: 16000).
    n_mels : int
        Mel bands.
    fmin, fmax : float
        Band edges, Hz.
    n_fft : int
        FFT length, samples.
    win_length : int
        Analysis window, samples (267 = 1/60 s at 16 kHz).
    hop_length : int
        Hop, samples (133 = 1/120 s at 16 kHz).
    log : {"ln", "db"}
        ``"ln"``: natural log of power + ``eps``; ``"db"``: ``10 log10`` of it (the same up to a
        factor 4.34, which the normalization below removes).
    eps : float
        Floor added to the power before the log (keeps digital silence finite).

    Attributes
    ----------
    times_ : np.ndarray, shape (n_mel_frames,), float64
        Centre time of each mel frame of the last :meth:`transform`, seconds (frame ``i`` is
        centred on sample ``i * hop_length``).
    """

    def __init__(self, sr: int = 16000, n_mels: int = 80, fmin: float = 90.0, fmax: float = 7600.0,
                 n_fft: int = 512, win_length: int = 267, hop_length: int = 133, log: str = "ln",
                 eps: float = 1e-6):
        self.sr = sr
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.log = log
        self.eps = eps

    def __repr__(self):
        return (f"LogMel(sr={self.sr}, n_mels={self.n_mels}, fmin={self.fmin:g}, fmax={self.fmax:g}, "
                f"n_fft={self.n_fft}, win_length={self.win_length}, hop_length={self.hop_length}, "
                f"log={self.log!r})")

    def get_params(self) -> dict:
        return {"sr": self.sr, "n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax, "n_fft": self.n_fft,
                "win_length": self.win_length, "hop_length": self.hop_length, "log": self.log, "eps": self.eps}

    def _check(self):
        if self.log not in ("ln", "db"):
            raise ParameterError(f"log must be 'ln' or 'db', got {self.log!r}")
        if not 0 < self.win_length <= self.n_fft:
            raise ParameterError(f"win_length must be in 1..n_fft ({self.n_fft}), got {self.win_length}")
        if self.hop_length <= 0 or self.n_mels <= 0:
            raise ParameterError("hop_length and n_mels must be positive")
        if not 0 <= self.fmin < self.fmax <= self.sr / 2:
            raise ParameterError(f"need 0 <= fmin < fmax <= sr/2, got {self.fmin}, {self.fmax}, sr {self.sr}")

    def transform(self, samples: np.ndarray) -> np.ndarray:
        """Log-mel spectrogram.

        Parameters
        ----------
        samples : np.ndarray, shape (n_samples,)
            Mono audio at ``sr`` Hz in [-1, 1] (:func:`sketchsynth.io.audio.load_audio`).

        Returns
        -------
        np.ndarray, shape (n_mel_frames, n_mels), float32
            ``n_mel_frames = 1 + n_samples // hop_length``; also sets :attr:`times_`.

        Raises
        ------
        InputError
            Fewer samples than one analysis window.
        """
        self._check()
        librosa = require("librosa", "speech", "audio features")
        y = np.asarray(samples, dtype=np.float32).reshape(-1)
        if y.size < self.win_length:
            raise InputError(f"audio too short: {y.size} samples, fewer than one analysis window "
                             f"({self.win_length} samples = {1000 * self.win_length / self.sr:.1f} ms)")
        S = librosa.feature.melspectrogram(y=y, sr=self.sr, n_fft=self.n_fft, win_length=self.win_length,
                                           hop_length=self.hop_length, n_mels=self.n_mels, fmin=self.fmin,
                                           fmax=self.fmax, power=2.0, center=True)
        S = np.log(S + self.eps) if self.log == "ln" else 10.0 * np.log10(S + self.eps)
        self.times_ = np.arange(S.shape[1]) * (self.hop_length / self.sr)
        return np.ascontiguousarray(S.T, dtype=np.float32)


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

