"""Speech feature extractors: the frames of sound a speech model reads, on the database's side and the input's.

A database computes its recordings' features once at build (:mod:`sketchsynth.database.sound`, kept in
``mel.npy``), with the extractor named in its manifest; an input's sound goes through the same extractor
(:func:`make_extractor`), so both sides always agree. The built-in one is Live Speech Portraits' (Lu et al.
2021): 16 kHz mono, 80 mel bands from 90 to 7600 Hz, 512-point FFT, a window of 1/60 s and a hop of
1/120 s, log power, librosa's mel filters (optional extra ``speech``).

:func:`power_spectra` is the one short-time power spectrum of the package: the batch log-mel, the streamed one
(:mod:`sketchsynth.targets.speech.streaming`), the normalized one and the phone model's cepstra
(:mod:`sketchsynth.targets.speech.closure`) all frame their sound through it.

Other extractors register in the entry-point group ``sketchsynth.features``. An extractor is a class
whose ``__init__`` takes its parameters (``sr`` among them) and which has ``get_params()``,
``hop_length`` and ``win_length`` (samples), and ``transform(samples)`` -> (n_frames, n_dims) float32
that sets ``times_`` (each frame's centre, in s).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import DatabaseError, InputError, ParameterError, require
from ..registry import Registry


FEATURES = Registry("sketchsynth.features", "speech feature extractor",
                    {"log-mel": "sketchsynth.database.speech_features:LogMel",
                     "log-mel-cmvn": "sketchsynth.database.voice_features:NormalizedLogMel"})
"""Speech feature extractors by name."""
DEFAULT_FEATURES = "log-mel"

POWER_BLOCK = 4096
"""Frames transformed at once by :func:`power_spectra`: bounds its memory (an hour of sound at LSP's hop is
430,000 frames)."""


def power_spectra(x: np.ndarray, window: np.ndarray, hop: int, n_fft: int, n: int | None = None,
                  first: int = 0) -> np.ndarray:
    """Power spectra of windowed frames of a signal.

    Parameters
    ----------
    x : np.ndarray, shape (n_samples,)
        The sound (any scale); frame ``i`` is ``x[first + i * hop : first + i * hop + len(window)]``.
    window : np.ndarray, shape (w,), w <= n_fft
        Multiplies each frame; the frame is zero-padded to ``n_fft`` after it.
    hop : int
        Samples between frames.
    n_fft : int
        FFT length, samples.
    n : int or None
        Frames wanted (None: every frame that lies wholly inside ``x``).
    first : int
        Sample where frame 0 starts.

    Returns
    -------
    np.ndarray, shape (n, n_fft // 2 + 1), float32 for float32 ``x``, else float64
        ``|rfft(frame * window, n_fft)|^2``.
    """
    x = np.asarray(x).reshape(-1)
    # float32 sound is transformed in float32 (as librosa does, at half the cost)
    window = np.asarray(window, np.float32 if x.dtype == np.float32 else np.float64)
    w = len(window)
    if n is None:
        n = max(0, 1 + (len(x) - first - w) // hop) if len(x) - first >= w else 0
    out = np.empty((n, n_fft // 2 + 1), window.dtype)
    if n == 0:
        return out
    frames = np.lib.stride_tricks.sliding_window_view(x[first:first + (n - 1) * hop + w], w)[::hop]
    for a in range(0, n, POWER_BLOCK):
        spec = np.fft.rfft(frames[a:a + POWER_BLOCK] * window, n_fft)
        out[a:a + len(spec)] = spec.real ** 2 + spec.imag ** 2
    return out


@functools.lru_cache(maxsize=8)
def hann_window(n_fft: int, win_length: int) -> np.ndarray:
    """librosa's STFT window: a periodic Hann of ``win_length`` samples centred in ``n_fft`` zeros, (n_fft,)
    float64 (read-only: cached)."""
    w = np.zeros(n_fft)
    a = (n_fft - win_length) // 2
    w[a:a + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=8)
def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa's (Slaney) mel filterbank, (n_mels, n_fft // 2 + 1) float64 (read-only: cached)."""
    librosa = require("librosa", "speech", "audio features")
    f = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float64)
    f.flags.writeable = False
    return f


def make_extractor(name: str = DEFAULT_FEATURES, **params):
    """An extractor by registry name, with its parameters (``sr`` 16000 unless given)."""
    cls = FEATURES.get(name)
    try:
        front = cls(**{"sr": 16000, **params})
    except TypeError as e:
        raise ParameterError(f"speech feature extractor {name!r} does not take these parameters: {e}") from None
    for attr in ("transform", "get_params", "hop_length", "win_length"):
        if not hasattr(front, attr):
            raise ParameterError(f"speech feature extractor {name!r} lacks {attr!r} (see "
                                 "sketchsynth.database.speech_features)")
    if hasattr(front, "check"):  # before any filter bank is allocated from the parameters
        front.check()
    return front


def extractor_of(section: dict):
    """The extractor a database's manifest ``audio.features`` section names (log-mel when it names none)."""
    params = dict(section or {})
    name = params.pop("name", DEFAULT_FEATURES)
    try:
        return make_extractor(name, **params)
    except ParameterError as e:
        raise DatabaseError(f"the database's sound was analysed with {name!r}, which cannot be made here: {e}; "
                            "install the package that provides it, or rebuild the database") from None


def extractor_section(front, name: str) -> dict:
    """What a manifest keeps of an extractor: its registry name and parameters."""
    return {"name": name, **front.get_params()}


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

    LIMITS = {"sr": (4000, 192000), "n_mels": (1, 512), "n_fft": (16, 1 << 16), "win_length": (1, 1 << 16),
              "hop_length": (1, 1 << 16)}
    """Bounds that keep a damaged or hand-edited manifest from asking for gigabytes of filters."""

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

    def check(self):
        """Raise :class:`ParameterError` for parameters out of their bounds (:attr:`LIMITS`)."""
        for name, (lo, hi) in self.LIMITS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ParameterError(f"{name} must be a whole number in {lo}..{hi}, got {v!r}")
        for name in ("fmin", "fmax", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ParameterError(f"{name} must be a finite number, got {v!r}")
        if self.log not in ("ln", "db"):
            raise ParameterError(f"log must be 'ln' or 'db', got {self.log!r}")
        if not 0 < self.win_length <= self.n_fft:
            raise ParameterError(f"win_length must be in 1..n_fft ({self.n_fft}), got {self.win_length}")
        if not 0 <= self.fmin < self.fmax <= self.sr / 2:
            raise ParameterError(f"need 0 <= fmin < fmax <= sr/2, got {self.fmin}, {self.fmax}, sr {self.sr}")
        if not 0 < self.eps < 1:
            raise ParameterError(f"eps must be in (0, 1), got {self.eps!r}")

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
        self.check()
        y = np.asarray(samples, dtype=np.float32).reshape(-1)
        if y.size < self.win_length:
            raise InputError(f"audio too short: {y.size} samples, fewer than one analysis window "
                             f"({self.win_length} samples = {1000 * self.win_length / self.sr:.1f} ms)")
        L = self.log_mel(self.power(y))
        self.times_ = np.arange(len(L)) * (self.hop_length / self.sr)
        return np.ascontiguousarray(L, dtype=np.float32)

    def power(self, y: np.ndarray) -> np.ndarray:
        """Power spectra of mono sound (n_samples,), (1 + n_samples // hop_length, n_fft // 2 + 1) float32, framed
        as librosa's STFT (``center=True``: ``n_fft // 2`` zeros at each end, frame i centred on sample
        ``i * hop_length``)."""
        h = self.n_fft // 2
        y = np.concatenate([np.zeros(h, np.float32), np.asarray(y, np.float32).reshape(-1), np.zeros(h, np.float32)])
        return power_spectra(y, hann_window(self.n_fft, self.win_length), self.hop_length, self.n_fft)

    def filters(self) -> np.ndarray:
        """The mel filterbank, (n_mels, n_fft // 2 + 1) float64."""
        return mel_filters(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax)

    def log_mel(self, P: np.ndarray) -> np.ndarray:
        """Log-mel rows (m, n_mels) of power spectra ``P`` (m, n_fft // 2 + 1), in ``P``'s float type."""
        P = np.asarray(P)
        S = P @ self.filters().T.astype(P.dtype)
        return np.log(S + self.eps) if self.log == "ln" else 10.0 * np.log10(S + self.eps)
