"""Audio features per video frame: LSP's log-mel front end, a context window with look-ahead, normalization.

The front end is Live Speech Portraits' (Lu et al. 2021): 16 kHz mono, 80 mel bands from 90 to
7600 Hz, 512-point FFT, a window of 1/60 s and a hop of 1/120 s, log power. It runs on librosa
(optional extra ``speech``).

A video frame at time ``t`` is described by the mel frames at ``t + offset`` for offsets from
``-past_s`` to ``+future_s``: the mouth moves *before* the sound it shapes (lips close before a
/b/ is heard), so the window looks ahead -- LSP delays its audio by 300 ms for the same reason.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, ParameterError, require


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


def context_offsets(past_s: float, future_s: float, step: float) -> np.ndarray:
    """Offsets (seconds) of the mel frames stacked for one video frame, from ``-past_s`` to ``+future_s``.

    Returns
    -------
    np.ndarray, shape (n_ctx,), float64
    """
    if past_s < 0 or future_s < 0 or step <= 0:
        raise ParameterError(f"context: need past_s, future_s >= 0 and step > 0, got {past_s}, {future_s}, {step}")
    lo = -int(round(past_s / step))
    hi = int(round(future_s / step))
    return np.arange(lo, hi + 1) * float(step)


def frame_context(mel: np.ndarray, mel_times: np.ndarray, frame_times: np.ndarray, past_s: float = 0.16,
                  future_s: float = 0.3, step: float = 0.04) -> np.ndarray:
    """Stack, for every video frame, the mel frames around its time.

    Parameters
    ----------
    mel : np.ndarray, shape (n_mel_frames, n_mels)
    mel_times : np.ndarray, shape (n_mel_frames,)
        Seconds, increasing (:attr:`LogMel.times_`).
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


class FeatureScaler:
    """Mean-variance normalization of features, optionally per utterance first (CMVN).

    Parameters
    ----------
    per_utterance : bool
        Subtract each utterance's own mean before the global scaling (removes channel and
        loudness differences between recordings; needs whole utterances at :meth:`transform`).
    eps : float
        Floor of the standard deviation.

    Attributes
    ----------
    mean_, scale_ : np.ndarray, shape (n_features,), float32
    """

    def __init__(self, per_utterance: bool = False, eps: float = 1e-3):
        self.per_utterance = per_utterance
        self.eps = eps

    def _center(self, X):
        X = np.asarray(X, dtype=np.float32)
        return X - X.mean(axis=0, keepdims=True) if self.per_utterance else X

    def fit(self, utterances) -> "FeatureScaler":
        """Fit on a list of per-utterance arrays, each (n_frames_i, n_features)."""
        Xs = [self._center(u) for u in utterances]
        X = np.concatenate(Xs)
        self.mean_ = X.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(X.std(axis=0), self.eps).astype(np.float32)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """One utterance (n_frames, n_features) -> normalized, float32."""
        if not hasattr(self, "mean_"):
            raise RuntimeError("FeatureScaler is not fitted")
        return ((self._center(X) - self.mean_) / self.scale_).astype(np.float32)

    def to_arrays(self) -> dict:
        return {"mean": self.mean_, "scale": self.scale_, "per_utterance": np.array(self.per_utterance)}

    @classmethod
    def from_arrays(cls, arrays) -> "FeatureScaler":
        s = cls(per_utterance=bool(arrays["per_utterance"]))
        s.mean_ = np.asarray(arrays["mean"], np.float32)
        s.scale_ = np.asarray(arrays["scale"], np.float32)
        return s
