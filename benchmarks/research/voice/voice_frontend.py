"""Speaker-independent speech front ends for the voice-to-mouth model, and mouth amplitude calibration.

Self-contained prototype (numpy, scipy, librosa, optional pocketsphinx / scikit-learn); meant to move into
``sketchsynth.speech`` with import-path changes only.

A front end turns 16 kHz mono speech into a feature matrix at a fixed frame rate plus each row's centre
time, the same definition on both sides:

- database side: :meth:`SpectralFrontEnd.database_features` over the recordings' own sound (build time);
- input side:    :meth:`SpectralFrontEnd.input_features` over a driving sound (match time), or the
  streaming form :class:`StreamingFrontEnd` (``push(chunk) -> ready rows``).

The rows then go through ``sketchsynth.speech.features.frame_context`` (context window per video frame) and
the speech model's PCA / LLE / regressor exactly as log-mel rows do.

Classes
-------
SpectralFrontEnd
    Log-mel (LSP's settings) -> optional per-input vocal-tract-length normalization (warp factor chosen by
    maximum likelihood under a GMM of the database's frames) -> optional cepstra -> sliding-window
    mean/variance normalization (CMVN). Database side optionally augmented with several warps.
PhoneFrontEnd
    pocketsphinx en-us phone recognition (allphone search) as one-hot phone classes per 10 ms frame.
AmplitudeCalibration
    Rescales a predicted mouth's deviation from the mean mouth so an unseen voice moves the mouth as much
    as the database speaker's own speech does.
StreamingFrontEnd
    ``push(chunk) -> ready rows`` form of SpectralFrontEnd's input side (equal rows).
SilenceClosure
    Closes the predicted mouth in the input's silences (energy-based; measured, not adopted: it lowered r).

Measured choices (NOTES.md): SpectralFrontEnd(cmvn_s=1.5, train_warps=(0.88, 1.0, 1.12)) with
AmplitudeCalibration(q=0.9, max_gain=3), reference 0.86 x the database's true opening spread.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000


# ---------------------------------------------------------------------------------------------- helpers
def sliding_cmvn(F: np.ndarray, half_frames: int, var_norm: bool = True, floor: float = 1e-2) -> np.ndarray:
    """Mean (and variance) normalization of each row over a centred window of rows.

    Parameters
    ----------
    F : np.ndarray, shape (m, d)
    half_frames : int
        Half-width of the window, rows; windows are clipped to the signal (row i: rows
        max(0, i - h) .. min(m, i + h + 1)). 0 = the whole signal (per-utterance CMVN).
    var_norm : bool
        Divide by the window's standard deviation too.
    floor : float
        Lower bound of the standard deviation, feature units.

    Returns
    -------
    np.ndarray, shape (m, d), float32
    """
    F = np.asarray(F, np.float64)
    m = len(F)
    if half_frames <= 0:
        mu = F.mean(0, keepdims=True)
        out = F - mu
        if var_norm:
            out /= np.maximum(F.std(0, keepdims=True), floor)
        return out.astype(np.float32)
    c1 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F, 0)])
    c2 = np.concatenate([np.zeros((1, F.shape[1])), np.cumsum(F * F, 0)])
    i = np.arange(m)
    lo = np.clip(i - half_frames, 0, m)
    hi = np.clip(i + half_frames + 1, 0, m)
    n = (hi - lo)[:, None]
    mu = (c1[hi] - c1[lo]) / n
    out = F - mu
    if var_norm:
        var = np.maximum((c2[hi] - c2[lo]) / n - mu * mu, 0)
        out /= np.maximum(np.sqrt(var), floor)
    return out.astype(np.float32)


def warped_mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, alpha: float) -> np.ndarray:
    """Mel filterbank for a vocal tract scaled by ``alpha`` (piecewise-linear VTLN, as in HTK).

    Frequencies below 0.8 x the Nyquist frequency map ``f -> alpha * f``; above, a straight line joins that
    point to (Nyquist, Nyquist), so the whole band stays covered. Implemented by evaluating the un-warped
    filterbank at the warped FFT-bin frequencies. ``alpha`` > 1 stretches the input's spectrum up (for a
    longer vocal tract than the database speaker's, e.g. a man driving a woman's database: alpha < 1).

    Returns
    -------
    np.ndarray, shape (n_mels, n_fft // 2 + 1), float32
    """
    import librosa

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    nyq = sr / 2
    cut = 0.8 * nyq * min(1.0, 1.0 / alpha)
    warped = np.where(freqs <= cut, alpha * freqs,
                      alpha * cut + (nyq - alpha * cut) * (freqs - cut) / max(nyq - cut, 1e-9))
    base = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    # base[:, k] is the weight at bin frequency freqs[k]; the warped filter weighs bin k by base at warped[k]
    out = np.empty_like(base)
    for j in range(n_mels):
        out[j] = np.interp(warped, freqs, base[j], left=0.0, right=0.0)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------- spectral
class SpectralFrontEnd:
    """Speaker-normalized spectral features: log-mel -> [VTLN] -> [cepstra] -> sliding CMVN.

    Parameters
    ----------
    sr, n_fft, win_length, hop_length, n_mels, fmin, fmax : LSP's log-mel settings
        (16 kHz, 512, 267, 133 samples = 1/60 s window and 1/120 s hop, 80 bands 90-7600 Hz).
    n_ceps : int or None
        None: log-mel bands; k: DCT-II cepstra 1..k (c0, the loudness, dropped).
    cmvn_s : float or None
        Half-width of the CMVN window, seconds (0: whole input; None: no normalization).
    var_norm : bool
        Variance normalization as well as mean removal.
    vtln : bool
        Choose a warp factor per input (:meth:`choose_warp`) among ``warp_grid``.
    warp_grid : sequence of float
        Candidate warp factors.
    train_warps : sequence of float
        Warps the database side is computed with (data augmentation; (1.0,) = none). Each warp makes a
        full copy of the training rows.
    n_gmm : int
        Components of the diagonal GMM that scores warps (fitted on database rows at warp 1).
    eps : float
        Power floor before the log.

    Attributes
    ----------
    gmm_ : sklearn.mixture.GaussianMixture
        Fitted by :meth:`fit` when ``vtln``.
    last_warp_ : float
        The warp the last :meth:`input_features` used.
    """

    def __init__(self, sr: int = SAMPLE_RATE, n_fft: int = 512, win_length: int = 267, hop_length: int = 133,
                 n_mels: int = 80, fmin: float = 90.0, fmax: float = 7600.0, n_ceps: int | None = None,
                 cmvn_s: float | None = 1.5, var_norm: bool = True, vtln: bool = False,
                 warp_grid=(0.80, 0.84, 0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12), train_warps=(1.0,),
                 n_gmm: int = 32, eps: float = 1e-6):
        self.sr, self.n_fft, self.win_length, self.hop_length = sr, n_fft, win_length, hop_length
        self.n_mels, self.fmin, self.fmax, self.n_ceps = n_mels, fmin, fmax, n_ceps
        self.cmvn_s, self.var_norm, self.vtln = cmvn_s, var_norm, vtln
        self.warp_grid, self.train_warps, self.n_gmm, self.eps = tuple(warp_grid), tuple(train_warps), n_gmm, eps
        self._fb = {}

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("sr", "n_fft", "win_length", "hop_length", "n_mels", "fmin", "fmax",
                                               "n_ceps", "cmvn_s", "var_norm", "vtln", "warp_grid", "train_warps",
                                               "n_gmm", "eps")}

    def __repr__(self):
        return "SpectralFrontEnd(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    # -- pieces
    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sr

    def power(self, y: np.ndarray, pad_start: bool = True, pad_end: bool = True) -> np.ndarray:
        """|STFT|^2, shape (m, n_fft // 2 + 1), float32; row i centred on sample i * hop_length.

        Zero padding of n_fft // 2 samples at each end (librosa's ``center=True``); a periodic Hann window
        of ``win_length`` samples centred in the ``n_fft`` frame. With ``pad_end`` False only the rows whose
        frame lies inside the samples are returned (the streaming form)."""
        y = np.asarray(y, np.float32).reshape(-1)
        h = self.n_fft // 2
        y = np.concatenate([np.zeros(h if pad_start else 0, np.float32), y,
                            np.zeros(h if pad_end else 0, np.float32)])
        m = 1 + (len(y) - self.n_fft) // self.hop_length if len(y) >= self.n_fft else 0
        if m <= 0:
            return np.zeros((0, h + 1), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(y, self.n_fft)[::self.hop_length][:m]
        return (np.abs(np.fft.rfft(frames * self._window(), axis=1)) ** 2).astype(np.float32)

    def _window(self) -> np.ndarray:
        if getattr(self, "_win", None) is None:
            w = np.zeros(self.n_fft, np.float32)
            a = (self.n_fft - self.win_length) // 2
            w[a:a + self.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.win_length) / self.win_length)
            self._win = w
        return self._win

    def filters(self, alpha: float = 1.0) -> np.ndarray:
        key = round(float(alpha), 4)
        if key not in self._fb:
            self._fb[key] = warped_mel_filters(self.sr, self.n_fft, self.n_mels, self.fmin, self.fmax, alpha)
        return self._fb[key]

    def _raw(self, P: np.ndarray, alpha: float) -> np.ndarray:
        """Log-mel (or cepstra) of a power spectrum at warp alpha, before normalization, (m, d)."""
        L = np.log(P @ self.filters(alpha).T + self.eps)
        if self.n_ceps:
            from scipy.fft import dct

            L = dct(L, type=2, norm="ortho", axis=1)[:, 1:1 + int(self.n_ceps)]
        return L

    def _normalize(self, L: np.ndarray) -> np.ndarray:
        if self.cmvn_s is None:
            return np.asarray(L, np.float32)
        return sliding_cmvn(L, int(round(self.cmvn_s / self.hop_s)), self.var_norm)

    def features(self, y: np.ndarray, alpha: float = 1.0):
        """Features of one sound at warp ``alpha``.

        Returns
        -------
        F : np.ndarray, shape (m, d), float32
        times : np.ndarray, shape (m,), float64
            Row centre times, seconds.
        """
        P = self.power(y)
        return self._normalize(self._raw(P, alpha)), np.arange(len(P)) * self.hop_s

    # -- database side
    def fit(self, waves) -> "SpectralFrontEnd":
        """Fit what the input side needs from the database's sound (the warp-scoring GMM); returns self.

        Parameters
        ----------
        waves : iterable of np.ndarray, each (n_samples,), float32 at ``sr``
        """
        if self.vtln:
            from sklearn.mixture import GaussianMixture

            rows = []
            rng = np.random.default_rng(0)
            for y in waves:
                F, _ = self.features(y)
                rows.append(F[rng.random(len(F)) < 0.08])
            X = np.concatenate(rows)
            X = X[self._speechy(X)]
            self.gmm_ = GaussianMixture(self.n_gmm, covariance_type="diag", max_iter=50, random_state=0,
                                        reg_covar=1e-3).fit(X[:40000])
        return self

    def database_features(self, waves):
        """Features of the database's recordings, one (F, times) per recording per training warp.

        Returns
        -------
        list of list of (np.ndarray (m, d) float32, np.ndarray (m,) float64)
            ``out[w][i]``: recording i at ``train_warps[w]``.
        """
        out = [[] for _ in self.train_warps]
        for y in waves:
            P = self.power(y)
            t = np.arange(len(P)) * self.hop_s
            for w, a in enumerate(self.train_warps):
                out[w].append((self._normalize(self._raw(P, a)), t))
        return out

    # -- input side
    @staticmethod
    def _speechy(F: np.ndarray) -> np.ndarray:
        """Rows worth scoring (not the quietest 30 %: silence says nothing of the vocal tract)."""
        e = F.mean(1) if F.shape[1] else np.zeros(len(F))
        return e >= np.quantile(e, 0.3) if len(F) > 10 else np.ones(len(F), bool)

    def choose_warp(self, P: np.ndarray) -> float:
        """The warp among ``warp_grid`` whose features the database GMM finds most likely (ML VTLN)."""
        best, score = 1.0, -np.inf
        L1 = self._normalize(self._raw(P, 1.0))
        keep = self._speechy(L1)
        for a in self.warp_grid:
            F = self._normalize(self._raw(P, a))[keep]
            s = float(np.mean(self.gmm_.score_samples(F[::2])))
            if s > score:
                best, score = float(a), s
        return best

    def input_features(self, y: np.ndarray, alpha: float | None = None):
        """Features of a driving sound (warp chosen per input when ``vtln``); sets ``last_warp_``.

        Returns
        -------
        F : np.ndarray, shape (m, d), float32
        times : np.ndarray, shape (m,), float64
        """
        P = self.power(y)
        if alpha is None:
            alpha = self.choose_warp(P) if self.vtln and hasattr(self, "gmm_") else 1.0
        self.last_warp_ = float(alpha)
        return self._normalize(self._raw(P, alpha)), np.arange(len(P)) * self.hop_s


class StreamingFrontEnd:
    """Streaming input side of a :class:`SpectralFrontEnd`: ``push(chunk)`` returns the rows now final.

    A row is final once its STFT frame and the CMVN window around it (``cmvn_s`` of look-ahead) are
    complete; :meth:`flush` returns the rest at the end of the input. The rows equal the offline
    :meth:`SpectralFrontEnd.input_features` rows (same framing, same clipped windows); the warp is fixed
    (``alpha``, e.g. chosen on the first seconds with :meth:`SpectralFrontEnd.choose_warp`).
    Latency: ``n_fft / 2`` samples + ``cmvn_s``.

    Parameters
    ----------
    front : SpectralFrontEnd
    alpha : float
    """

    def __init__(self, front: SpectralFrontEnd, alpha: float = 1.0):
        self.front, self.alpha = front, float(alpha)
        self._y = np.zeros(front.n_fft // 2, np.float32)   # the zero padding before sample 0
        self._used = 0            # padded samples consumed into STFT rows (start of the next frame)
        self._raw = []            # un-normalized rows (m, d)
        self._done = 0            # rows returned

    def _add_rows(self, y):
        f = self.front
        P = f.power(y, pad_start=False, pad_end=False)
        if len(P):
            self._raw.extend(f._raw(P, self.alpha))
        return len(P)

    def _emit(self, ready: int, total: int):
        f = self.front
        if ready <= self._done:
            d = len(self._raw[0]) if self._raw else 0
            return np.zeros((0, d), np.float32), np.zeros(0)
        R = np.asarray(self._raw, np.float64)
        h = int(round(f.cmvn_s / f.hop_s)) if f.cmvn_s else 0
        idx = np.arange(self._done, ready)
        if f.cmvn_s is None:
            Fn = R[idx].astype(np.float32)
        else:
            c1 = np.concatenate([np.zeros((1, R.shape[1])), np.cumsum(R, 0)])
            c2 = np.concatenate([np.zeros((1, R.shape[1])), np.cumsum(R * R, 0)])
            lo, hi = np.maximum(0, idx - h), np.minimum(total, idx + h + 1)
            n = (hi - lo)[:, None]
            mu = (c1[hi] - c1[lo]) / n
            Fn = R[idx] - mu
            if f.var_norm:
                Fn /= np.maximum(np.sqrt(np.maximum((c2[hi] - c2[lo]) / n - mu * mu, 0)), 1e-2)
            Fn = Fn.astype(np.float32)
        self._done = ready
        return Fn, idx * f.hop_s

    def push(self, chunk: np.ndarray):
        """Append samples (float32 at ``front.sr``); returns (F (k, d) float32, times (k,) s) of the rows now final."""
        f = self.front
        self._y = np.concatenate([self._y, np.asarray(chunk, np.float32).reshape(-1)])
        n = self._add_rows(self._y[self._used:])
        self._used += n * f.hop_length
        total = len(self._raw)
        h = int(round(f.cmvn_s / f.hop_s)) if f.cmvn_s else 0
        out = self._emit(max(0, total - h), total)
        keep = max(0, self._used - f.n_fft)        # drop samples no frame needs any more
        self._y, self._used = self._y[keep:], self._used - keep
        return out

    def flush(self):
        """The remaining rows at the end of the input (the final zero padding included)."""
        f = self.front
        n_in = len(self._y) - self._used            # samples not yet consumed
        tail = np.concatenate([self._y[self._used:], np.zeros(f.n_fft // 2, np.float32)])
        # offline row count: 1 + n_samples // hop; rows already made + rows of the padded tail
        self._add_rows(tail)
        total = len(self._raw)
        return self._emit(total, total)


# ---------------------------------------------------------------------------------------------- phones
PHONES = ("SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH",
          "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W",
          "Y", "Z", "ZH")


class PhoneFrontEnd:
    """pocketsphinx en-us phone recognition (allphone search, the bundled phone bigram) as one-hot rows.

    Speaker independence comes from pocketsphinx's multi-speaker acoustic model (and its own cepstral mean
    normalization); the cost is recognition errors (~40-50 % phone error rate on GRID-like speech).

    Parameters
    ----------
    beam, pbeam : float
        pocketsphinx beams (wider = slower, fewer search errors).
    lw : float
        Phone language-model weight.
    pip : float
        Phone insertion penalty (probability).
    smooth_frames : int
        Box smoothing of the one-hot rows, frames (0 = none).

    Attributes
    ----------
    hop_s : float
        0.01 s (pocketsphinx's frame rate).
    """

    hop_s = 0.01

    def __init__(self, beam: float = 1e-20, pbeam: float = 1e-20, lw: float = 2.0, pip: float = 0.3,
                 smooth_frames: int = 0):
        self.beam, self.pbeam, self.lw, self.pip, self.smooth_frames = beam, pbeam, lw, pip, smooth_frames
        self._dec = None

    def get_params(self) -> dict:
        return {"beam": self.beam, "pbeam": self.pbeam, "lw": self.lw, "pip": self.pip,
                "smooth_frames": self.smooth_frames}

    def _decoder(self):
        if self._dec is None:
            import os

            import pocketsphinx as ps

            mp = os.path.join(ps.get_model_path(), "en-us")
            self._dec = ps.Decoder(allphone=os.path.join(mp, "en-us-phone.lm.bin"), lw=self.lw, pip=self.pip,
                                   beam=self.beam, pbeam=self.pbeam, samprate=SAMPLE_RATE, loglevel="FATAL",
                                   bestpath=False)
        return self._dec

    def fit(self, waves) -> "PhoneFrontEnd":
        return self

    def input_features(self, y: np.ndarray):
        """One-hot phone classes, (m, 40) float32, m = ceil(duration / 10 ms); and row times (m,), s."""
        y = np.asarray(y, np.float32).reshape(-1)
        raw = (np.clip(y, -1, 1) * 32767).astype(np.int16).tobytes()
        d = self._decoder()
        d.start_utt()
        d.process_raw(raw, full_utt=True)
        d.end_utt()
        m = max(1, int(np.ceil(len(y) / SAMPLE_RATE / self.hop_s)))
        F = np.zeros((m, len(PHONES)), np.float32)
        F[:, 0] = 1
        idx = {p: i for i, p in enumerate(PHONES)}
        for s in d.seg():
            j = idx.get(s.word, 0)
            a, b = max(0, s.start_frame), min(m, s.end_frame + 1)
            F[a:b] = 0
            F[a:b, j] = 1
        if self.smooth_frames > 1:
            from scipy.ndimage import uniform_filter1d

            F = uniform_filter1d(F, self.smooth_frames, axis=0)
        return F, np.arange(m) * self.hop_s + self.hop_s / 2

    def database_features(self, waves):
        return [[self.input_features(y) for y in waves]]


class ConcatFrontEnd:
    """Several front ends side by side, resampled onto the first one's rows (linear interpolation)."""

    def __init__(self, parts, weights=None):
        self.parts = list(parts)
        self.weights = weights

    def fit(self, waves):
        waves = list(waves)
        for p in self.parts:
            p.fit(waves)
        return self

    @staticmethod
    def _onto(F, t, t0):
        return np.stack([np.interp(t0, t, F[:, j]) for j in range(F.shape[1])], 1).astype(np.float32)

    def _join(self, outs):
        F0, t0 = outs[0]
        w = self.weights or [1.0] * len(outs)
        cols = [F0 * w[0]] + [self._onto(F, t, t0) * wi for (F, t), wi in zip(outs[1:], w[1:])]
        return np.concatenate(cols, 1), t0

    def input_features(self, y):
        return self._join([p.input_features(y) for p in self.parts])

    def database_features(self, waves):
        waves = list(waves)
        per = [p.database_features(waves)[0] for p in self.parts]
        return [[self._join([pp[i] for pp in per]) for i in range(len(waves))]]


# ---------------------------------------------------------------------------------------------- amplitude
class AmplitudeCalibration:
    """Make an unseen voice's predicted mouth move as much as the database speaker's own predicted mouth.

    The regressor's prediction for another voice hugs the mean mouth (its features fall between the
    database's, and the ridge/kNN average shrinks them). This rescales the prediction's deviation from the
    mean mouth, per input, so that a robust spread of its mouth opening matches the spread the same model
    gives the database speaker's own (held-out) speech:

        s = clip(ref_spread_ / spread(input), 1, max_gain);  pred' = mean + s * (pred - mean)

    spread = difference of the ``q`` and ``1 - q`` quantiles of the predicted inner-lip opening (the 62-66
    distance in normalized units) over the input's frames.

    Parameters
    ----------
    q : float
        Upper quantile of the spread (0.9: the 10-90 % range).
    max_gain : float
        Largest scale applied.
    min_gain : float
        Smallest scale applied (1: never shrink).

    Attributes
    ----------
    mean_ : np.ndarray, shape (P, 2)
        Mean mouth the deviation is taken from.
    ref_spread_ : float
        Spread of the reference predictions' opening, normalized units.
    """

    def __init__(self, q: float = 0.9, max_gain: float = 3.0, min_gain: float = 1.0, upper=None, lower=None):
        self.q, self.max_gain, self.min_gain = q, max_gain, min_gain
        self.upper, self.lower = upper, lower

    def get_params(self) -> dict:
        return {"q": self.q, "max_gain": self.max_gain, "min_gain": self.min_gain}

    def opening(self, mouth: np.ndarray) -> np.ndarray:
        """Inner-lip opening of mouths (n, P, 2) given as SPEECH_POINTS (jaw 0-16, lips 48-67): (n,)."""
        m = np.asarray(mouth, np.float64)
        up, lo = (17 + 62 - 48, 17 + 66 - 48) if self.upper is None else (self.upper, self.lower)
        return np.linalg.norm(m[:, up] - m[:, lo], axis=-1)

    def spread(self, mouth: np.ndarray) -> float:
        o = self.opening(mouth)
        return float(np.quantile(o, self.q) - np.quantile(o, 1 - self.q))

    def fit(self, reference_pred: np.ndarray, mean: np.ndarray | None = None, groups=None) -> "AmplitudeCalibration":
        """Reference: predictions (n, P, 2) for the database speaker's own held-out speech.

        ``groups`` (n,): utterance labels; the spread is then the median of per-utterance spreads (the
        input side measures one input at a time)."""
        ref = np.asarray(reference_pred, np.float64)
        self.mean_ = ref.mean(0) if mean is None else np.asarray(mean, np.float64)
        if groups is None:
            self.ref_spread_ = self.spread(ref)
        else:
            g = np.asarray(groups)
            self.ref_spread_ = float(np.median([self.spread(ref[g == u]) for u in np.unique(g)]))
        return self

    def gain(self, pred: np.ndarray) -> float:
        s = self.spread(pred)
        return float(np.clip(self.ref_spread_ / max(s, 1e-9), self.min_gain, self.max_gain))

    def transform(self, pred: np.ndarray) -> np.ndarray:
        """Calibrated predictions, (n, P, 2) float32; sets ``last_gain_``."""
        self.last_gain_ = self.gain(pred)
        return (self.mean_ + self.last_gain_ * (np.asarray(pred, np.float64) - self.mean_)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- closures
class SilenceClosure:
    """Close the predicted mouth where the input is silent (speech/silence from the input's own energy).

    Energy per video frame = log of the summed mel power within +-20 ms; normalized per input between its
    5th and 95th percentiles (so it does not depend on the recording level); frames below ``threshold`` for
    at least ``min_frames`` in a row are silence. There the prediction is replaced by the database speaker's
    closed mouth (mean of the training frames whose opening is in the lowest ``closed_quantile``).

    Parameters
    ----------
    threshold : float
        Normalized energy (0 = the input's 5th percentile, 1 = its 95th) below which a frame is silent.
    min_frames : int
        Shortest silence, video frames.
    closed_quantile : float

    Attributes
    ----------
    closed_ : np.ndarray, shape (P, 2)
        The closed mouth (SPEECH_POINTS order: jaw 0-16, lips 48-67), normalized units.
    """

    def __init__(self, threshold: float = 0.15, min_frames: int = 3, closed_quantile: float = 0.1):
        self.threshold, self.min_frames, self.closed_quantile = threshold, min_frames, closed_quantile
        self._front = SpectralFrontEnd(cmvn_s=None)

    def get_params(self) -> dict:
        return {"threshold": self.threshold, "min_frames": self.min_frames, "closed_quantile": self.closed_quantile}

    def fit(self, mouths: np.ndarray) -> "SilenceClosure":
        """Database mouths (n, P, 2) in SPEECH_POINTS order; returns self."""
        m = np.asarray(mouths, np.float64)
        o = np.linalg.norm(m[:, 17 + 14] - m[:, 17 + 18], axis=-1)
        self.closed_ = m[o <= np.quantile(o, self.closed_quantile)].mean(0)
        return self

    def silence(self, y: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
        """Silent video frames of a driving sound, (T,) bool."""
        P = self._front.power(y)
        e = np.log(P @ self._front.filters(1.0).sum(0) + 1e-6)          # log mel-band power, (m,)
        t = np.arange(len(P)) * self._front.hop_s
        k = max(1, int(round(0.02 / self._front.hop_s)))
        e = np.convolve(e, np.ones(2 * k + 1) / (2 * k + 1), mode="same")
        ef = np.interp(frame_times, t, e)
        lo, hi = np.quantile(e, [0.05, 0.95])
        sil = (ef - lo) / max(hi - lo, 1e-9) < self.threshold
        out = np.zeros_like(sil)                                         # runs of >= min_frames only
        i = 0
        while i < len(sil):
            if sil[i]:
                j = i
                while j < len(sil) and sil[j]:
                    j += 1
                if j - i >= self.min_frames:
                    out[i:j] = True
                i = j
            else:
                i += 1
        return out

    def __call__(self, y, frame_times, pred):
        """(pred with silent frames closed (T, P, 2) float32, silence (T,) bool)."""
        sil = self.silence(y, frame_times)
        out = np.array(pred, np.float32, copy=True)
        out[sil] = self.closed_
        return out, sil
