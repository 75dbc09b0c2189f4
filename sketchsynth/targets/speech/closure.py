"""Closing the lips where the sound says b, p or m.

The speech models predict a mouth from spectral features and average over what the database says around a
sound; a bilabial's closure lasts 50-100 ms and leaves the prediction half open, so the selection rarely closes
the lips inside speech. pocketsphinx's en-us acoustic model (trained on many speakers) tells b, p and m from the
other phones for any voice: summed, its posteriors of B, P and M give each output frame a probability that the lips
are closed. A speech target then moves its lips' heights towards the database's closed mouth by that much
(:func:`close_mouth`); the prefilter and the decoder see a closed target and pick closed frames.

The front end is pocketsphinx's own (sphinx MFCC: 13 cepstra per 10 ms, a sliding cepstral mean over
:data:`CMN_HALF_S` either side, deltas and double deltas); a phone's score is the likelihood of its three
context-independent states (semi-continuous: each state a weighting of its phone's 128 Gaussians), a softmax over
the base phones with a flat prior gives the posteriors.

The centred mean looks 1.5 s ahead; a conversation cannot wait that long, so ``live`` removes the mean of the
past :data:`CAUSAL_MEAN_S` instead (:class:`StreamingClosure`; the batch gives the same with ``causal=True``).
A frame's probability is then ready 76 ms after its start (its second row's window and three rows of deltas),
inside the live look-ahead.
"""

from __future__ import annotations

import functools

import numpy as np

from ...database.speech_features import power_spectra
from ...database.voice_features import sliding_cmvn
from ...errors import ParameterError

CLOSURE_WEIGHT = 1.0
"""How far a frame whose sound is surely b, p or m moves its target mouth to the closed one (0-1)."""
CLOSURE_THRESHOLD = 0.3
"""Closing probability under which a frame's target is left as predicted. Chosen with :data:`CLOSURE_WEIGHT` on
GRID s1's validation sentences (docs/measurements.md, "Closures"): at the onsets of words starting with b or p
the selection closed the lips in 14% of cases, 25% at (1, 0.3) against the speaker's 22%; lower thresholds closed
more (32-40% at 0.15-0) and lost more width r; opening r stayed."""
CLOSING_PHONES = ("B", "P", "M")
CMN_HALF_S = 1.5
"""Half-width of the sliding cepstral mean, s: long enough to hold a few words, so a voice's own colour goes."""
CLOSED_OPENING = 0.05
"""Inner-lip opening (over the inter-ocular distance) under which a database frame counts as closed."""
CAUSAL_MEAN_S = 3.0
"""Length of the causal cepstral mean (the past only, from the first row heard). On GRID s1's validation sentences
the b/p-onset AUC of the closing probability was 0.885 with the centred mean, 0.864 with the past 1.5 s or 3 s;
as one continuous stream 0.874 / 0.861 / 0.863 (docs/measurements.md, "Closures")."""
ROWS_PER_FRAME = 2
"""Posterior rows averaged per output frame, evenly spaced inside it (at 25 fps 10 and 30 ms after its start):
the model's cost is per row, and two rows per 40 ms frame see a 50-100 ms closure."""
_CHUNK = 1024
_MODELS = {}


class PhonePosteriors:
    """Base-phone posteriors of 16 kHz speech under pocketsphinx's bundled en-us model.

    Attributes
    ----------
    names_ : list of str
        The base phones.
    """

    def __init__(self):
        from ...io.sphinx_model import read_model

        m = read_model()
        self.names_ = list(m.names)
        self._closing = [self.names_.index(n) for n in CLOSING_PHONES]
        self._streams = []
        for mu, var in zip(m.means, m.variances):
            prec = 1.0 / np.maximum(var.astype(np.float64), 1e-4)      # pocketsphinx's variance floor
            d = mu.shape[-1]
            const = -0.5 * (np.log(2 * np.pi / prec).sum(-1) + (mu ** 2 * prec).sum(-1))
            # log N(x) = const + x . (mu prec) - x^2 . prec / 2: one product of [x, x^2] with A
            a = np.concatenate([(mu * prec).reshape(-1, d).T, (-0.5 * prec).reshape(-1, d).T])
            self._streams.append((a.astype(np.float32), const.reshape(-1).astype(np.float32), d))
        self._weights = m.weights                                        # (streams, phones, gaussians, states)

    @classmethod
    def shared(cls) -> "PhonePosteriors":
        """One instance per process (reading the model takes ~0.3 s)."""
        if "en-us" not in _MODELS:
            _MODELS["en-us"] = cls()
        return _MODELS["en-us"]

    def features(self, samples: np.ndarray, causal: bool = False) -> np.ndarray:
        """The model's 39-D input (cepstra, deltas, double deltas), one row per 10 ms: row i covers samples
        [160 i, 160 i + 410). ``causal``: the mean of the past :data:`CAUSAL_MEAN_S` removed instead of the
        centred one. Returns (n_rows, 39) float32."""
        c = sphinx_mfcc(samples)
        if causal:
            return deltas(causal_mean_removed(c, int(round(CAUSAL_MEAN_S * 100))))
        return deltas(sliding_cmvn(c, int(round(CMN_HALF_S * 100)), var_norm=False))

    def log_posteriors(self, feats39: np.ndarray) -> np.ndarray:
        """(n, n_phones) natural-log posteriors of the base phones for rows of :meth:`features`."""
        n, k = len(feats39), self._weights.shape[2]
        out = np.zeros((n, len(self.names_)), np.float64)
        for a0 in range(0, n, _CHUNK):                                   # bounded memory: (chunk, phones * 128)
            x = feats39[a0:a0 + _CHUNK]
            states = 0.0
            for s, ((a, const, d), w) in enumerate(zip(self._streams, self._weights)):
                xs = x[:, s * d:(s + 1) * d]
                ll = (np.concatenate([xs, xs * xs], 1) @ a + const).reshape(len(x), -1, k)
                top = ll.max(-1, keepdims=True)
                mix = np.einsum("tpk,pks->tps", np.exp(ll - top), w)   # (chunk, phones, states)
                states = states + np.log(np.maximum(mix, 1e-30)) + top
            top = states.max(-1, keepdims=True)
            phone = np.log(np.exp(states - top).mean(-1)) + top[..., 0]    # the phone's states, equally likely
            top = phone.max(-1, keepdims=True)
            out[a0:a0 + len(x)] = phone - (np.log(np.exp(phone - top).sum(-1, keepdims=True)) + top)
        return out

    def row_probability(self, feats39: np.ndarray) -> np.ndarray:
        """P(b) + P(p) + P(m) of rows (n, 39) of :meth:`features`: (n,) float64."""
        post = np.exp(self.log_posteriors(feats39))
        return post[:, self._closing].sum(1)

    def frame_probability(self, feats39: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The closing probability of frames whose rows (T, :data:`ROWS_PER_FRAME`) of ``feats39`` are given
        (each row scored once): (T,) float32 in [0, 1]."""
        uniq, inv = np.unique(rows, return_inverse=True)
        p = self.row_probability(feats39[uniq])[inv.reshape(rows.shape)]
        return np.clip(p.mean(1), 0.0, 1.0).astype(np.float32)

    def closing_probability(self, samples: np.ndarray, sr: int, frame_times: np.ndarray, fps: float,
                            causal: bool = False) -> np.ndarray:
        """P(b) + P(p) + P(m) per output frame: the mean over :data:`ROWS_PER_FRAME` rows inside
        [t, t + 1 / fps). ``samples`` mono float in [-1, 1] at 16 kHz; ``causal`` as :meth:`features`; returns
        (T,) float32 in [0, 1]."""
        if sr != 16000:
            raise ParameterError(f"the phone model reads 16 kHz sound, got {sr} Hz")
        feats = self.features(samples, causal)
        rows = np.clip(frame_rows(frame_times, fps), 0, len(feats) - 1)
        return self.frame_probability(feats, rows)


def frame_rows(frame_times: np.ndarray, fps: float) -> np.ndarray:
    """The phone model's rows read for output frames starting at ``frame_times`` (T,) s: :data:`ROWS_PER_FRAME`
    evenly spaced inside each frame (row i is centred at sample 160 i + 205). (T, ROWS_PER_FRAME) int64,
    not clipped to the rows that exist."""
    t = np.asarray(frame_times, np.float64)
    offsets = (np.arange(ROWS_PER_FRAME) + 0.5) / ROWS_PER_FRAME / fps
    return np.rint(((t[:, None] + offsets) * 16000 - 205) / 160).astype(np.int64)


class StreamingClosure:
    """The closing probability of each video frame from 16 kHz chunks, with the causal cepstral mean: equal to
    ``closing_probability(..., causal=True)`` on the whole input for every frame it calls ready.

    Parameters
    ----------
    phone_model : PhonePosteriors, optional
        Default :meth:`PhonePosteriors.shared`.
    fps : float
        Video frame rate; frame k starts at k / fps s from the first sample.
    weight, threshold : float
        What :meth:`strength` makes of a probability (:func:`closure_strength`).

    Notes
    -----
    ``push(samples)`` returns (frame indices (n,) int64, probabilities (n,) float32) of the frames that became
    ready: frame k is ready once its rows and the 3 after them (the deltas) have arrived, 76 ms after k / fps
    at 25 fps. :meth:`probability` gives any frames from then on, reading a frame not ready yet from the rows
    that exist (as the batch reads the last frames of an input).
    """

    def __init__(self, phone_model: PhonePosteriors | None = None, fps: float = 25.0,
                 weight: float = CLOSURE_WEIGHT, threshold: float = CLOSURE_THRESHOLD):
        self.phone_model, self.fps, self.weight, self.threshold = phone_model, float(fps), weight, threshold

    def start(self) -> "StreamingClosure":
        self.pm_ = self.phone_model or PhonePosteriors.shared()
        self.n_mean_ = int(round(CAUSAL_MEAN_S * 100))
        self.raw_ = np.zeros(1)                  # samples from 160 * n_rows_ - 1 (int16 scale; a 0 before the first)
        self.n_samples_ = 0
        self.history_ = np.zeros((0, 13))      # the last n_mean_ - 1 cepstra (the causal mean's past)
        self.norm_ = np.zeros((0, 13), np.float32)  # mean-removed rows norm_first_ ...
        self.norm_first_ = 0
        self.n_rows_ = 0
        self.k_ = 0                              # first frame not ready
        self.ready_ = np.zeros(0, np.float32)   # probabilities of frames ready_first_ ... k_ - 1
        self.ready_first_ = 0
        return self

    def push(self, samples: np.ndarray):
        x = np.asarray(samples, np.float64).reshape(-1) * 32768.0
        self.n_samples_ += len(x)
        self.raw_ = np.concatenate([self.raw_, x])
        n_new = 1 + (len(self.raw_) - 1 - 410) // 160 if len(self.raw_) > 410 else 0
        if n_new > 0:
            c = mfcc_rows(pre_emphasized(self.raw_[1:], self.raw_[0]))[:n_new]
            self.raw_ = self.raw_[160 * n_new:]
            self.norm_ = np.concatenate([self.norm_, causal_mean_removed(c, self.n_mean_, self.history_)])
            self.history_ = np.concatenate([self.history_, c])[-(self.n_mean_ - 1):]
            self.n_rows_ += n_new
        k_end = self.k_
        while frame_rows(np.array([k_end / self.fps]), self.fps).max() + 3 < self.n_rows_:
            k_end += 1
        ks = np.arange(self.k_, k_end)
        p = self._compute(ks)
        self.ready_ = np.concatenate([self.ready_, p])
        self.k_ = k_end
        keep = max(0, int(frame_rows(np.array([self.k_ / self.fps]), self.fps).min()) - 3)
        if keep > self.norm_first_:
            self.norm_ = self.norm_[keep - self.norm_first_:]
            self.norm_first_ = keep
        return ks, p

    def _compute(self, ks: np.ndarray) -> np.ndarray:
        if not len(ks):
            return np.zeros(0, np.float32)
        if self.n_rows_ == 0:
            return np.zeros(len(ks), np.float32)
        rows = np.clip(frame_rows(ks / self.fps, self.fps), 0, self.n_rows_ - 1)
        uniq, inv = np.unique(rows, return_inverse=True)
        f = deltas(self.norm_, uniq, self.n_rows_ - 1, self.norm_first_)
        return self.pm_.frame_probability(f, inv.reshape(rows.shape))

    def probability(self, ks: np.ndarray) -> np.ndarray:
        """Closing probabilities (n,) float32 of frames ``ks`` (increasing, none before the first asked last
        time): stored for the ready ones, from the rows heard so far for the others."""
        ks = np.asarray(ks, np.int64)
        if not len(ks):
            return np.zeros(0, np.float32)
        drop = int(ks.min()) - self.ready_first_
        if drop > 0:
            self.ready_, self.ready_first_ = self.ready_[drop:], self.ready_first_ + drop
        out = np.zeros(len(ks), np.float32)
        ready = ks < self.k_
        out[ready] = self.ready_[ks[ready] - self.ready_first_]
        out[~ready] = self._compute(ks[~ready])
        return out

    def strength(self, ks: np.ndarray) -> np.ndarray:
        """How far frames ``ks`` (as :meth:`probability`) close, (n,) float32 (:func:`closure_strength`)."""
        return closure_strength(self.probability(ks), self.weight, self.threshold)

    def finish(self):
        return None


def closure_strength(p: np.ndarray, weight: float, threshold: float) -> np.ndarray:
    """How far each frame's mouth moves to the closed one: ``weight * clip((p - threshold) / (1 - threshold), 0, 1)``
    for closing probabilities ``p`` (T,). Returns (T,) float32."""
    if not (np.isfinite(weight) and 0 <= weight <= 1):
        raise ParameterError(f"the closure weight must lie in 0-1, got {weight}")
    if not (np.isfinite(threshold) and 0 <= threshold < 1):
        raise ParameterError(f"the closure threshold must lie in [0, 1), got {threshold}")
    return (weight * np.clip((np.asarray(p, np.float64) - threshold) / (1 - threshold), 0, 1)).astype(np.float32)


def closure_settings(weight: float | None = None, threshold: float | None = None) -> tuple | None:
    """The (weight, threshold) a speech target closes with -- :data:`CLOSURE_WEIGHT` and
    :data:`CLOSURE_THRESHOLD` where None -- checked as :func:`closure_strength` checks them; None when the weight
    is 0 (no closure: pocketsphinx not needed). Raises ParameterError."""
    w = CLOSURE_WEIGHT if weight is None else float(weight)
    thr = CLOSURE_THRESHOLD if threshold is None else float(threshold)
    closure_strength(np.zeros(0), w, thr)
    return (w, thr) if w > 0 else None


def closed_mouth(db) -> np.ndarray:
    """The database's mean closed mouth: normalized SPEECH_POINTS (37, 2) float32 averaged over the usable frames
    whose inner-lip opening lies under :data:`CLOSED_OPENING` (the closest tenth when none does)."""
    from ...layout import SPEECH_POINTS, inter_ocular
    from .calibrate import opening

    pts = np.asarray(db.normalized_[db.usable_rows_], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        o = opening(pts[:, SPEECH_POINTS]) / inter_ocular(pts)
    o = np.where(np.isfinite(o), o, np.inf)
    closed = o < CLOSED_OPENING
    if closed.sum() < 10:
        closed = o <= np.quantile(o, 0.1)
    return pts[closed][:, SPEECH_POINTS].mean(0).astype(np.float32)


def close_mouth(mouth: np.ndarray, strength: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """Mouths (T, 37, 2) whose heights move towards ``closed``'s (37, 2) by ``strength`` (T,) in 0-1; their x stay
    (closing the lips moves them up and down: a blend of the whole mouth cost the selected width on validation)."""
    s = np.asarray(strength, np.float32)[:, None]
    out = np.array(mouth, np.float32)
    out[..., 1] = (1 - s) * out[..., 1] + s * np.asarray(closed, np.float32)[None, :, 1]
    return out


# ---------------------------------------------------------------------- the sphinx front end
def sphinx_mfcc(samples: np.ndarray) -> np.ndarray:
    """pocketsphinx's default MFCC of 16 kHz sound: 13 cepstra per 10 ms row, (n_rows, 13) float32.

    Pre-emphasis 0.97, Hamming windows of 410 samples every 160, 512-point power spectra, 25 unit-area mel
    triangles on 130-6800 Hz (edges on FFT bins), log(x + 1e-4), orthonormal DCT-II, lifter 22.
    """
    x = np.asarray(samples, np.float64) * 32768.0                     # the model was trained on int16 scale
    if len(x) == 0:
        x = np.zeros(1)
    pe = pre_emphasized(x)
    if len(pe) < 410:
        pe = np.pad(pe, (0, 410 - len(pe)))
    return mfcc_rows(pe)


def pre_emphasized(x: np.ndarray, before: float = 0.0) -> np.ndarray:
    """Sound (n,) float64 with pocketsphinx's pre-emphasis, y[i] = x[i] - 0.97 x[i - 1]; ``before``: the sample
    before x[0] (0 at the start of the sound; a stream's last sample of the chunk before)."""
    return x - 0.97 * np.r_[before, x[:-1]]


def mfcc_rows(pe: np.ndarray) -> np.ndarray:
    """The cepstra (n, 13) float32 of every whole 410-sample window, every 160 samples, of pre-emphasized sound
    ``pe`` (int16 scale)."""
    window, mel_t, dct = _front_end()
    return (np.log(power_spectra(pe, window, 160, 512) @ mel_t + 1e-4) @ dct).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _front_end():
    """The constant parts of :func:`mfcc_rows` (built once: a stream calls it every chunk): the Hamming window
    (410,), the mel filters transposed (257, 25), the orthonormal DCT-II with the lifter folded in (25, 13)."""
    h = _mel_filters()
    nf = h.shape[0]
    dct = np.cos(np.pi / nf * np.arange(13)[:, None] * (np.arange(nf)[None] + 0.5))
    dct[0] *= np.sqrt(1.0 / nf)
    dct[1:] *= np.sqrt(2.0 / nf)
    lifter = 1 + 11 * np.sin(np.arange(13) * np.pi / 22)
    out = (np.hamming(410), np.ascontiguousarray(h.T), np.ascontiguousarray((dct * lifter[:, None]).T))
    for x in out:
        x.flags.writeable = False
    return out


def _mel_filters(n_filters: int = 25, low: float = 130.0, high: float = 6800.0) -> np.ndarray:
    """(25, 257) sphinx mel triangles over a 512-point spectrum at 16 kHz, each of unit area."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)                 # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)                   # noqa: E731
    step, df = (mel(high) - mel(low)) / (n_filters + 1), 16000 / 512
    h = np.zeros((n_filters, 257))
    f = np.arange(256) * df
    for i in range(n_filters):
        lo, mid, hi = (int(hz(mel(low) + (i + j) * step) / df + 0.5) * df for j in range(3))
        rise, fall = (f - lo) / (mid - lo), (hi - f) / (hi - mid)
        inside = (f >= lo) & (f <= hi)
        h[i, :256] = np.where(inside, np.minimum(rise, fall) * 2 / (hi - lo), 0.0)
    return h


def causal_mean_removed(c: np.ndarray, n: int, history: np.ndarray | None = None) -> np.ndarray:
    """Rows (m, d) minus the mean of the last ``n`` rows up to and including each (fewer at the start), the rows
    before ``c`` being ``history`` (h, d) (a stream's earlier rows; none by default). (m, d) float32."""
    h = np.zeros((0, c.shape[1])) if history is None else np.asarray(history)[len(history) - min(len(history), n - 1):]
    cs = np.concatenate([np.zeros((1, c.shape[1])), np.cumsum(np.concatenate([h, c]).astype(np.float64), 0)])
    t = np.arange(len(h), len(h) + len(c))
    a = np.maximum(t + 1 - n, 0)
    return (c - (cs[t + 1] - cs[a]) / (t + 1 - a)[:, None]).astype(np.float32)


def deltas(c: np.ndarray, rows: np.ndarray | None = None, last: int | None = None, first: int = 0) -> np.ndarray:
    """sphinx's ``1s_c_d_dd``: [c, c[t+2] - c[t-2], (c[t+3] - c[t-1]) - (c[t+1] - c[t-3])], ends repeated;
    (n, 13) -> (n, 39) float32. A stream's part: ``c`` holds rows ``first`` ... of a sequence ending at row
    ``last`` (default the last of ``c``); ``rows`` (absolute, default all of ``c``) are the ones returned."""
    last = first + len(c) - 1 if last is None else last
    rows = np.arange(first, first + len(c)) if rows is None else np.asarray(rows, np.int64)
    g = lambda k: c[np.clip(rows + k, 0, last) - first]                # noqa: E731
    return np.concatenate([g(0), g(2) - g(-2), (g(3) - g(-1)) - (g(1) - g(-3))], 1).astype(np.float32)
