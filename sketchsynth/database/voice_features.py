"""A speaker-normalized log-mel: LSP's log-mel through a vocal-tract warp and a sliding mean/variance normalization.

A voice-to-mouth model fitted on one speaker's log-mel learns that speaker's voice as much as what is said:
another person's spectrum sits elsewhere (vocal-tract length, channel, loudness). Two classical remedies, both
here and both the same on the database's side and on an input's:

- sliding cepstral-mean-and-variance normalization (CMVN) of every band over ``±cmvn_s`` seconds (windows
  clipped at the ends), which removes the channel, the loudness and a good part of the voice's timbre;
- a piecewise-linear vocal-tract-length warp of the mel filterbank (``warp``), with which a database computes
  its features at several warps so that its model sees several "voices" of its speaker (an input uses warp 1).

:class:`NormalizedLogMel` is a speech feature extractor (``build-db --features log-mel-cmvn``, or a speech
model's own ``front_end``); it frames the STFT itself so that its streaming form (:meth:`NormalizedLogMel.stream`)
gives exactly the rows of :meth:`~NormalizedLogMel.transform`. Without warp and normalization it is
:class:`~sketchsynth.database.speech_features.LogMel` (to float32 precision).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, ParameterError
from .speech_features import LogMel


def sliding_cmvn(F: np.ndarray, half: int, var_norm: bool = True, floor: float = 1e-2, lo_hi=None) -> np.ndarray:
    """Mean (and variance) normalization of every column over a centred window of rows.

    Parameters
    ----------
    F : np.ndarray, shape (m, d)
    half : int
        Half-width of the window, rows; row i's window is rows ``max(0, i - half) .. min(m, i + half + 1)``;
        0 = the whole input.
    var_norm : bool
        Divide by the window's standard deviation too (floored at ``floor``, feature units).
    lo_hi : (np.ndarray, np.ndarray), optional
        Which rows to return, and their windows' ends (the streaming form: rows of a longer input).

    Returns
    -------
    np.ndarray, shape (m, d) (or the asked rows), float32
    """
    F = np.asarray(F, np.float64)
    m = len(F)
    c1 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F, 0)])
    c2 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F * F, 0)])
    if lo_hi is None:
        i = np.arange(m)
        h = half if half > 0 else m
        idx, lo, hi = i, np.clip(i - h, 0, m), np.clip(i + h + 1, 0, m)
    else:
        idx, lo, hi = lo_hi
    n = (hi - lo)[:, None]
    mu = (c1[hi] - c1[lo]) / n
    out = F[idx] - mu
    if var_norm:
        out /= np.maximum(np.sqrt(np.maximum((c2[hi] - c2[lo]) / n - mu * mu, 0)), floor)
    return out.astype(np.float32)


def warped_mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, warp: float) -> np.ndarray:
    """Mel filterbank for a vocal tract scaled by ``warp`` (piecewise-linear VTLN, as HTK's).

    Frequencies below 0.8 x Nyquist (scaled) map ``f -> warp * f``; above, a straight line joins that point to
    Nyquist, so the band stays covered. ``warp`` 1 is librosa's mel filterbank.

    Returns
    -------
    np.ndarray, shape (n_mels, n_fft // 2 + 1), float32
    """
    import librosa

    base = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    if warp == 1.0:
        return base.astype(np.float32)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    nyq = sr / 2
    cut = 0.8 * nyq * min(1.0, 1.0 / warp)
    warped = np.where(freqs <= cut, warp * freqs, warp * cut + (nyq - warp * cut) * (freqs - cut) / (nyq - cut))
    # base[:, k] weighs bin frequency freqs[k]; the warped filter weighs bin k by base at warped[k]
    return np.stack([np.interp(warped, freqs, b, left=0.0, right=0.0) for b in base]).astype(np.float32)


class NormalizedLogMel(LogMel):
    """LSP's log-mel at a vocal-tract warp, then sliding CMVN.

    Parameters
    ----------
    sr, n_mels, fmin, fmax, n_fft, win_length, hop_length, log, eps
        As :class:`~sketchsynth.database.speech_features.LogMel`.
    warp : float
        Vocal-tract warp of the filterbank (1 = none; 0.88 / 1.12 make a shorter / longer-sounding voice).
    cmvn_s : float or None
        Half-width of the normalization window, s (0 = the whole input; None = no normalization).
    var_norm : bool
        Variance normalization as well as mean removal.

    Attributes
    ----------
    times_ : np.ndarray, shape (n_frames,), float64
        Centre of each row of the last :meth:`transform`, s.
    """

    def __init__(self, sr: int = 16000, n_mels: int = 80, fmin: float = 90.0, fmax: float = 7600.0,
                 n_fft: int = 512, win_length: int = 267, hop_length: int = 133, log: str = "ln",
                 eps: float = 1e-6, warp: float = 1.0, cmvn_s: float | None = 1.5, var_norm: bool = True):
        super().__init__(sr, n_mels, fmin, fmax, n_fft, win_length, hop_length, log, eps)
        self.warp, self.cmvn_s, self.var_norm = warp, cmvn_s, var_norm

    def get_params(self) -> dict:
        return {**super().get_params(), "warp": self.warp, "cmvn_s": self.cmvn_s, "var_norm": self.var_norm}

    def __repr__(self):
        return "NormalizedLogMel(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def _check(self):
        super()._check()
        if not (np.isfinite(self.warp) and 0.5 <= self.warp <= 2):
            raise ParameterError(f"warp must be within 0.5-2, got {self.warp}")
        if self.cmvn_s is not None and not (np.isfinite(self.cmvn_s) and 0 <= self.cmvn_s <= 60):
            raise ParameterError(f"cmvn_s must be within 0-60 s (or None), got {self.cmvn_s}")

    @property
    def half_rows(self) -> int:
        """Half-width of the normalization window, rows (0: the whole input)."""
        return int(round(self.cmvn_s * self.sr / self.hop_length)) if self.cmvn_s else 0

    def power(self, y: np.ndarray, pad_start: bool = True, pad_end: bool = True) -> np.ndarray:
        """|STFT|^2, shape (m, n_fft // 2 + 1), float32: librosa's framing (``center=True``, zero padding of
        ``n_fft // 2`` at each end, a periodic Hann window of ``win_length`` centred in the frame). Without
        ``pad_end`` only the frames that lie inside the samples (the streaming form)."""
        y = np.asarray(y, np.float32).reshape(-1)
        h = self.n_fft // 2
        y = np.concatenate([np.zeros(h if pad_start else 0, np.float32), y, np.zeros(h if pad_end else 0, np.float32)])
        m = 1 + (len(y) - self.n_fft) // self.hop_length if len(y) >= self.n_fft else 0
        if m <= 0:
            return np.zeros((0, h + 1), np.float32)
        if getattr(self, "_window", None) is None:
            w = np.zeros(self.n_fft, np.float32)
            a = (self.n_fft - self.win_length) // 2
            w[a:a + self.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.win_length) / self.win_length)
            self._window = w
        frames = np.lib.stride_tricks.sliding_window_view(y, self.n_fft)[::self.hop_length][:m]
        return (np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2).astype(np.float32)

    def log_mel(self, P: np.ndarray) -> np.ndarray:
        """Log-mel rows of power spectra (m, n_fft // 2 + 1) at this warp, before normalization, (m, n_mels)."""
        if getattr(self, "_filters", None) is None:
            self._filters = warped_mel_filters(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax, self.warp)
        S = np.asarray(P, np.float64) @ self._filters.T.astype(np.float64)
        return np.log(S + self.eps) if self.log == "ln" else 10.0 * np.log10(S + self.eps)

    def transform(self, samples: np.ndarray) -> np.ndarray:
        """Normalized log-mel, shape (1 + n_samples // hop_length, n_mels), float32; sets :attr:`times_`.

        Raises
        ------
        InputError
            Fewer samples than one analysis window.
        """
        self._check()
        y = np.asarray(samples, np.float32).reshape(-1)
        if y.size < self.win_length:
            raise InputError(f"audio too short: {y.size} samples, fewer than one analysis window "
                             f"({1000 * self.win_length / self.sr:.1f} ms)")
        L = self.log_mel(self.power(y))
        self.times_ = np.arange(len(L)) * (self.hop_length / self.sr)
        if self.cmvn_s is None:
            return L.astype(np.float32)
        return sliding_cmvn(L, self.half_rows, self.var_norm)

    def stream(self) -> "StreamingLogMel":
        """The streaming form: ``push(samples)`` -> the rows now final (see :class:`StreamingLogMel`)."""
        self._check()
        if self.cmvn_s == 0:
            raise ParameterError("a whole-input normalization (cmvn_s=0) cannot stream; give a window in s")
        return StreamingLogMel(self)


class StreamingLogMel:
    """``push(chunk) -> (rows, times)`` of a :class:`NormalizedLogMel`; equal to its :meth:`transform` rows.

    A row is final once its STFT frame and the normalization window after it (``cmvn_s``) are complete;
    :meth:`finish` gives the rest. Latency: ``n_fft / 2`` samples + ``cmvn_s``.
    """

    def __init__(self, front: NormalizedLogMel):
        self.front = front
        self._y = np.zeros(front.n_fft // 2, np.float32)      # the zero padding before sample 0
        self._used = 0              # samples of _y consumed into rows (start of the next frame)
        self._raw = np.zeros((0, front.n_mels))
        self._done = 0              # rows returned
        self._base = 0              # input row of _raw[0]

    def _emit(self, ready: int, total: int):
        f = self.front
        idx = np.arange(self._done, max(ready, self._done))
        b = self._base                                      # _raw holds rows b.. of the input
        if f.cmvn_s is None:
            F = self._raw[idx - b].astype(np.float32)
        else:
            h = f.half_rows
            lo, hi = np.maximum(0, idx - h) - b, np.minimum(total, idx + h + 1) - b
            F = sliding_cmvn(self._raw, h, f.var_norm, lo_hi=(idx - b, lo, hi))
        self._done = max(ready, self._done)
        drop = max(0, self._done - (f.half_rows if f.cmvn_s is not None else 0) - b)   # rows no window needs
        self._raw, self._base = self._raw[drop:], b + drop
        return F, idx * (f.hop_length / f.sr)

    def _add(self, y):
        P = self.front.power(y, pad_start=False, pad_end=False)
        if len(P):
            self._raw = np.concatenate([self._raw, self.front.log_mel(P)])
        return len(P)

    def push(self, chunk: np.ndarray):
        """Append samples (float32 at ``sr``); returns (F (k, n_mels) float32, times (k,) s) of the rows now final."""
        f = self.front
        self._y = np.concatenate([self._y, np.asarray(chunk, np.float32).reshape(-1)])
        self._used += self._add(self._y[self._used:]) * f.hop_length
        keep = max(0, self._used - f.n_fft)                 # samples no later frame needs
        self._y, self._used = self._y[keep:], self._used - keep
        total = self._base + len(self._raw)
        return self._emit(total - f.half_rows if f.cmvn_s is not None else total, total)

    def finish(self):
        """The remaining rows at the end of the input (its final zero padding included)."""
        self._add(np.concatenate([self._y[self._used:], np.zeros(self.front.n_fft // 2, np.float32)]))
        total = self._base + len(self._raw)
        return self._emit(total, total)
