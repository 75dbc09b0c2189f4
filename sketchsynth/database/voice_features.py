"""A speaker-normalized log-mel: LSP's log-mel through a vocal-tract warp and a sliding mean/variance normalization.

A voice-to-mouth model fitted on one speaker's log-mel learns that speaker's voice as much as what is said:
another person's spectrum sits elsewhere (vocal-tract length, channel, loudness). Two classical remedies, both
here and both the same on the database's side and on an input's:

- sliding cepstral-mean-and-variance normalization (CMVN) of every band over ``±cmvn_s`` seconds (windows
  clipped at the ends), which removes the channel, the loudness and a good part of the voice's timbre;
- a piecewise-linear vocal-tract-length warp of the mel filterbank (``warp``), with which a database computes
  its features at several warps so that its model sees several "voices" of its speaker (an input uses warp 1).

:class:`NormalizedLogMel` is a speech feature extractor (``build-db --features log-mel-cmvn``, or a speech
model's own ``front_end``); only its filterbank differs from the log-mel's. It does not stream: the normalization
looks 1.5 s ahead. Without warp and normalization it is :class:`~sketchsynth.database.speech_features.LogMel`.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ParameterError
from .speech_features import LogMel, mel_filters


def sliding_cmvn(F: np.ndarray, half: int, var_norm: bool = True, floor: float = 1e-2) -> np.ndarray:
    """Mean (and variance) normalization of every column over a centred window of rows.

    Parameters
    ----------
    F : np.ndarray, shape (m, d)
    half : int
        Half-width of the window, rows; row i's window is rows ``max(0, i - half) .. min(m, i + half + 1)``;
        0 = the whole input.
    var_norm : bool
        Divide by the window's standard deviation too (floored at ``floor``, feature units).

    Returns
    -------
    np.ndarray, shape (m, d), float32
    """
    F = np.asarray(F, np.float64)
    m = len(F)
    c1 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F, 0)])
    c2 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F * F, 0)])
    i = np.arange(m)
    h = half if half > 0 else m
    lo, hi = np.clip(i - h, 0, m), np.clip(i + h + 1, 0, m)
    n = (hi - lo)[:, None]
    mu = (c1[hi] - c1[lo]) / n
    out = F - mu
    if var_norm:
        out /= np.maximum(np.sqrt(np.maximum((c2[hi] - c2[lo]) / n - mu * mu, 0)), floor)
    return out.astype(np.float32)


@functools.lru_cache(maxsize=8)
def warped_mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, warp: float) -> np.ndarray:
    """Mel filterbank for a vocal tract scaled by ``warp`` (piecewise-linear VTLN, as HTK's).

    Frequencies below 0.8 x Nyquist (scaled) map ``f -> warp * f``; above, a straight line joins that point to
    Nyquist, so the band stays covered. ``warp`` 1 is librosa's mel filterbank.

    Returns
    -------
    np.ndarray, shape (n_mels, n_fft // 2 + 1), float64 (read-only: cached)
    """
    base = mel_filters(sr, n_fft, n_mels, fmin, fmax)
    if warp == 1.0:
        return base
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    nyq = sr / 2
    cut = 0.8 * nyq * min(1.0, 1.0 / warp)
    warped = np.where(freqs <= cut, warp * freqs, warp * cut + (nyq - warp * cut) * (freqs - cut) / (nyq - cut))
    # base[:, k] weighs bin frequency freqs[k]; the warped filter weighs bin k by base at warped[k]
    out = np.stack([np.interp(warped, freqs, b, left=0.0, right=0.0) for b in base])
    out.flags.writeable = False
    return out


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

    def check(self):
        super().check()

        def number(v):
            return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and np.isfinite(v)

        if not (number(self.warp) and 0.5 <= self.warp <= 2):
            raise ParameterError(f"warp must be within 0.5-2, got {self.warp!r}")
        if self.cmvn_s is not None and not (number(self.cmvn_s) and 0 <= self.cmvn_s <= 60):
            raise ParameterError(f"cmvn_s must be within 0-60 s (or None), got {self.cmvn_s!r}")

    @property
    def half_rows(self) -> int:
        """Half-width of the normalization window, rows (0: the whole input)."""
        return int(round(self.cmvn_s * self.sr / self.hop_length)) if self.cmvn_s else 0

    def filters(self) -> np.ndarray:
        """The mel filterbank at this warp, (n_mels, n_fft // 2 + 1) float64."""
        return warped_mel_filters(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax, self.warp)

    def transform(self, samples: np.ndarray) -> np.ndarray:
        """Normalized log-mel, shape (1 + n_samples // hop_length, n_mels), float32; sets :attr:`times_`.

        Raises
        ------
        InputError
            Fewer samples than one analysis window.
        """
        L = super().transform(samples)
        return L if self.cmvn_s is None else sliding_cmvn(L, self.half_rows, self.var_norm)
