"""The speech front end and target, streamed: audio chunks in, per-video-frame targets out as soon as the
look-ahead allows.

Streaming twins of the batch stages, equal to them where the batch does not look at the whole input:

- :class:`StreamingLogMel` = :class:`sketchsynth.database.speech_features.LogMel` (librosa's framing,
  ``center=True`` with zero padding) frame by frame: mel frame i is centred on sample
  ``i * hop`` and needs samples up to ``i * hop + n_fft / 2``;
- :class:`StreamingContext` = :func:`sketchsynth.targets.speech.features.frame_context`: video frame k is
  ready once mel frames reach ``k / fps + look-ahead`` (plus one hop for the interpolation);
- :class:`StreamingSpeechTarget` = the speech model (standardize, PCA, LLE, regressor) and
  :func:`sketchsynth.targets.speech.target.speech_target`, with the LLE blend decided from a *running*
  voice estimate (the batch uses the median over the whole input).

Inherent latency of a frame: the look-ahead + ``n_fft / 2 / sr`` (16 ms, the STFT's right half-window) + up
to one hop (8.3 ms, the interpolation) + the input's chunking.

Each class: parameters at ``__init__``, ``start()``, ``push(chunk)`` -> what is ready, ``finish()``.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError


class StreamingLogMel:
    """Log-mel frames from audio chunks, identical (to float rounding) to the batch ``LogMel``.

    Parameters
    ----------
    sr, n_mels, fmin, fmax, n_fft, win_length, hop_length, log, eps
        As :class:`sketchsynth.database.speech_features.LogMel` (the database's ``audio_.info["features"]``).

    Attributes
    ----------
    n_frames_ : int
        Mel frames emitted so far; frame i is centred at ``i * hop_length / sr`` seconds.
    n_samples_ : int
        Samples received so far.
    """

    def __init__(self, sr=16000, n_mels=80, fmin=90.0, fmax=7600.0, n_fft=512, win_length=267, hop_length=133,
                 log="ln", eps=1e-6):
        self.sr, self.n_mels, self.fmin, self.fmax = int(sr), int(n_mels), float(fmin), float(fmax)
        self.n_fft, self.win_length, self.hop_length = int(n_fft), int(win_length), int(hop_length)
        self.log, self.eps = log, float(eps)

    def start(self) -> "StreamingLogMel":
        from ...database.speech_features import LogMel, hann_window

        self.front_ = LogMel(self.sr, self.n_mels, self.fmin, self.fmax, self.n_fft, self.win_length,
                             self.hop_length, self.log, self.eps)
        self.front_.filters()                              # a missing librosa shows at start, not mid-stream
        self.window_ = hann_window(self.n_fft, self.win_length)
        self.buf_ = np.zeros(self.n_fft // 2, np.float32)   # the centre padding (zeros, as pad_mode="constant")
        self.buf_start_ = -(self.n_fft // 2)               # sample index of buf_[0]
        self.n_frames_ = 0
        self.n_samples_ = 0
        return self

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sr

    def _frames(self, upto_sample_exclusive: int) -> np.ndarray:
        """Mel frames i whose window ends at or before ``upto`` (absolute sample index)."""
        h, half = self.hop_length, self.n_fft // 2
        # frame i uses samples [i*h - half, i*h + half)
        n_ready = (upto_sample_exclusive - half) // h + 1
        i0 = self.n_frames_
        if n_ready <= i0:
            return np.zeros((0, self.n_mels), np.float32)
        from ...database.speech_features import power_spectra

        S = self.front_.log_mel(power_spectra(self.buf_, self.window_, h, self.n_fft, n=n_ready - i0,
                                              first=i0 * h - half - self.buf_start_))
        self.n_frames_ = n_ready
        # drop samples no later frame needs
        keep_from = n_ready * h - half
        cut = keep_from - self.buf_start_
        if cut > 0:
            self.buf_ = self.buf_[cut:]
            self.buf_start_ = keep_from
        return S.astype(np.float32)

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Add mono samples (n,) at ``sr`` in [-1, 1]; returns the newly complete mel frames (m, n_mels), float32."""
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        self.buf_ = np.concatenate([self.buf_, chunk])
        self.n_samples_ += len(chunk)
        return self._frames(self.buf_start_ + len(self.buf_))

    def finish(self) -> np.ndarray:
        """The remaining frames (zero right padding): ``1 + n_samples // hop`` frames in all."""
        pad = self.n_fft // 2 + self.hop_length
        self.buf_ = np.concatenate([self.buf_, np.zeros(pad, np.float32)])
        total = 1 + self.n_samples_ // self.hop_length
        out = self._frames(self.buf_start_ + len(self.buf_))
        extra = self.n_frames_ - total
        if extra > 0:
            out = out[:len(out) - extra]
            self.n_frames_ = total
        return out


class StreamingContext:
    """Per-video-frame context windows from a stream of mel frames (``frame_context``, incrementally).

    Parameters
    ----------
    hop_s : float
        Mel frame spacing, seconds.
    fps : float
        Video frame rate.
    past_s, future_s, step_s : float
        Context before / after (the look-ahead) the frame and the spacing of stacked mel frames, s.

    Notes
    -----
    ``push(mel)`` returns (frame indices (n,), X (n, n_ctx * n_mels) float32) for the video frames
    whose look-ahead is now covered; ``finish(n_samples, sr)`` returns the rest of the
    ``floor(duration * fps)`` frames with edge padding, as the batch function pads.
    """

    def __init__(self, hop_s: float, fps: float = 25.0, past_s: float = 0.32, future_s: float = 0.48,
                 step_s: float = 0.04):
        self.hop_s, self.fps, self.past_s, self.future_s, self.step_s = hop_s, fps, past_s, future_s, step_s

    def start(self) -> "StreamingContext":
        from .features import context_offsets

        self.off_ = context_offsets(self.past_s, self.future_s, self.step_s)
        self.mel_ = np.zeros((0, 0), np.float32)
        self.mel_first_ = 0          # absolute index of mel_[0]
        self.n_mel_ = 0
        self.k_ = 0                  # next video frame
        return self

    def _rows(self, ks, n_total=None):
        t = ks[:, None] / self.fps + self.off_[None]
        pos = np.maximum(t / self.hop_s, 0.0)
        if n_total is not None:
            pos = np.minimum(pos, n_total - 1.0)
            i0 = np.minimum(pos.astype(np.int64), n_total - 2)
        else:
            i0 = pos.astype(np.int64)
        a = (pos - i0)[..., None].astype(np.float32)
        m0 = self.mel_[i0 - self.mel_first_]
        m1 = self.mel_[i0 + 1 - self.mel_first_]
        out = m0 * (1.0 - a) + m1 * a
        return np.ascontiguousarray(out.reshape(len(ks), -1), np.float32)

    def push(self, mel: np.ndarray):
        mel = np.asarray(mel, np.float32)
        if self.mel_.size == 0:
            self.mel_ = mel.copy()
        elif len(mel):
            self.mel_ = np.concatenate([self.mel_, mel])
        self.n_mel_ += len(mel)
        # frame k needs mel index floor((k/fps + future)/hop) + 1 < n_mel
        k_end = self.k_
        while True:
            need = int(np.floor((k_end / self.fps + self.off_[-1]) / self.hop_s + 1e-9)) + 1
            if need >= self.n_mel_:
                break
            k_end += 1
        ks = np.arange(self.k_, k_end)
        X = self._rows(ks) if len(ks) else np.zeros((0, len(self.off_) * max(mel.shape[1] if mel.ndim == 2 else 0, 0)),
                                                     np.float32)
        self.k_ = k_end
        self._trim()
        return ks, X

    def _trim(self):
        lo = int(np.floor(max(self.k_ / self.fps + self.off_[0], 0.0) / self.hop_s)) - 1
        cut = lo - self.mel_first_
        if cut > 0:
            self.mel_ = self.mel_[cut:]
            self.mel_first_ = lo

    def finish(self, n_samples: int, sr: int):
        n = max(1, int(np.floor(n_samples / sr * self.fps + 1e-9)))
        ks = np.arange(self.k_, n)
        X = self._rows(ks, n_total=self.n_mel_) if len(ks) else np.zeros((0, self.mel_.shape[1] * len(self.off_)),
                                                                         np.float32)
        self.k_ = n
        return ks, X


class RunningMedian:
    """Median of the last ``window`` values (all of them when None); ``prior`` until the first value."""

    def __init__(self, window: int | None = 250, prior: float = float("nan")):
        self.window, self.prior = window, prior
        self.values = []

    def add(self, xs) -> float:
        self.values.extend(np.asarray(xs, float).ravel().tolist())
        if self.window is not None and len(self.values) > 2 * self.window:
            self.values = self.values[-self.window:]
        return self.value

    @property
    def value(self) -> float:
        if not self.values:
            return self.prior
        v = self.values if self.window is None else self.values[-self.window:]
        return float(np.median(v))


class StreamingSpeechTarget:
    """Context windows -> predicted mouth -> selection target, per video frame, with a running voice estimate.

    Parameters
    ----------
    model : sketchsynth.targets.speech.model.SpeechModel
        A fitted model (its ``delay_ms`` is the look-ahead the context must use).
    mean_mouth : np.ndarray, shape (37, 2)
        ``model.mean_mouth(db)``.
    db_weights : np.ndarray, shape (70,)
        The database's point weights.
    voice_window : int or None
        Frames the running voice-distance median looks back over (None: since the start).
    gain, jaw_weight, inner_lip_weight, corner_weight : float, optional
        As :func:`sketchsynth.targets.speech.target.speech_target` (its defaults when None).
    blend : float, optional
        A fixed LLE blend instead of the running voice estimate (tests: the batch model's blend).
    closed : np.ndarray, shape (37, 2), optional
        The database's closed mouth (:func:`~sketchsynth.targets.speech.closure.closed_mouth`), needed when
        ``push`` is given closure strengths.

    Notes
    -----
    ``push(X, closure=None)`` with X (n, n_features) and closure strengths (n,) in 0-1 (as the batch target's
    ``closure``) returns (points (n, 70, 2) f32, weights (n, 70) f64, pred (n, 37, 2));
    ``blend_`` is the LLE blend of the last push.
    The batch model's LLE blend uses the median nearest-bank distance over the whole input; here it is
    the running median over the frames so far (``voice_window``), re-decided at every push.
    """

    def __init__(self, model, mean_mouth, db_weights, voice_window: int | None = 250, gain=None, jaw_weight=None,
                 inner_lip_weight=None, corner_weight=None, blend: float | None = None, closed=None):
        self.model, self.mean_mouth, self.db_weights = model, np.asarray(mean_mouth, np.float32), db_weights
        self.blend, self.closed = blend, closed
        self.voice_window = voice_window
        self.gain, self.jaw_weight = gain, jaw_weight
        self.inner_lip_weight, self.corner_weight = inner_lip_weight, corner_weight

    def start(self, lle_index=None) -> "StreamingSpeechTarget":
        """``lle_index``: a FAISS index over the bank's leading dimensions to share (else built here)."""
        import faiss

        from ...layout import GROUPS, INNER_LIPS, LIP_CORNERS, N_POINTS, SPEECH_POINTS
        from . import target as stages
        from .model import LLE_SEARCH_DIMS

        m = self.model
        if m.cmvn or m.long_ms > 0:
            raise ParameterError("this speech model normalizes over whole utterances (cmvn or long_ms) and cannot "
                                 "stream; fit one without: sketchsynth fit-speech --db DIR")
        self.d_ = min(LLE_SEARCH_DIMS, m.bank_.shape[1])
        if lle_index is None:
            lle_index = faiss.IndexFlatL2(self.d_)
            lle_index.add(np.ascontiguousarray(m.bank_[:, :self.d_], np.float32))
        self.lle_index_ = lle_index
        self.voice_ = RunningMedian(self.voice_window)
        self.blend_ = float('nan')
        g = stages.TARGET_GAIN if self.gain is None else float(self.gain)
        self.g_ = g
        w = np.zeros(N_POINTS)
        w[SPEECH_POINTS] = self.db_weights[SPEECH_POINTS]
        w[GROUPS["jaw"]] *= stages.JAW_WEIGHT if self.jaw_weight is None else self.jaw_weight
        w[INNER_LIPS] *= stages.INNER_LIP_WEIGHT if self.inner_lip_weight is None else self.inner_lip_weight
        w[list(LIP_CORNERS)] *= stages.CORNER_WEIGHT if self.corner_weight is None else self.corner_weight
        self.weights_ = w
        self.sp_ = np.asarray(SPEECH_POINTS)
        self.n_points_ = N_POINTS
        return self

    def push(self, X: np.ndarray, closure: np.ndarray | None = None):
        from .closure import close_mouth
        from .lle import barycentric_weights, mismatch_blend

        m = self.model
        n = len(X)
        if n == 0:
            return (np.zeros((0, self.n_points_, 2), np.float32), np.zeros((0, self.n_points_)),
                    np.zeros((0, len(self.sp_), 2), np.float32))
        Z = m.reduce(X)
        blend = 0.0
        if m.lle_blend > 0:
            k = min(int(m.lle_neighbors), len(m.bank_))
            dist, nb = self.lle_index_.search(np.ascontiguousarray(Z[:, :self.d_]), k)
            ratio = self.voice_.add(np.sqrt(np.maximum(dist[:, 0], 0))) / float(m.nn_scale_) \
                if (m.lle_auto and getattr(m, "nn_scale_", None)) else float("nan")
            blend = float(m.lle_blend) * (mismatch_blend(ratio) if np.isfinite(ratio) else 1.0) \
                if self.blend is None else float(self.blend)
            if blend > 0:
                nbz = np.asarray(m.bank_[nb], np.float64)
                w = barycentric_weights(Z, nbz, float(m.lle_reg))
                Z = (blend * np.einsum("nk,nkd->nd", w, nbz) + (1 - blend) * Z).astype(np.float32)
        self.blend_ = blend
        pred = np.asarray(m.regressor_.predict(Z), np.float32)
        pts = np.zeros((n, self.n_points_, 2), np.float32)
        pts[:, self.sp_] = pred if self.g_ == 1 else self.mean_mouth + self.g_ * (pred - self.mean_mouth)
        if closure is not None:
            if self.closed is None:
                raise ParameterError("closure strengths need the closed mouth: construct with closed=closed_mouth(db)")
            pts[:, self.sp_] = close_mouth(pts[:, self.sp_], closure, self.closed)
        return pts, np.broadcast_to(self.weights_, (n, self.n_points_)).copy(), pred

    def finish(self):
        return None


class FeatureStream:
    """The streaming form of the speech-features stage: mono samples in, the context windows of the video frames
    whose look-ahead has arrived out (:class:`~sketchsynth.targets.speech.inputs.AudioFeatures`).

    Parameters
    ----------
    front : LogMel
        The database's front end.
    model : SpeechModel
    fps : float
    """

    def __init__(self, front, model, fps: float):
        self.front, self.model, self.fps = front, model, float(fps)

    def start(self) -> "FeatureStream":
        m = self.model
        self.mel_ = StreamingLogMel(**self.front.get_params()).start()
        self.ctx_ = StreamingContext(self.mel_.hop_s, self.fps, m.past_ms / 1000, m.delay_ms / 1000,
                                     m.step_ms / 1000).start()
        return self

    def _out(self, ks, X, chunk):
        from .inputs import Audio, AudioFeatures

        return AudioFeatures(X, ks / self.fps, self.fps, Audio(chunk, self.mel_.sr, "", "stream"))

    def push(self, samples):
        """Mono samples (n,) float32, or an :class:`~sketchsynth.targets.speech.inputs.Audio` piece (a pipeline
        stream's chunk) -> the AudioFeatures of the frames now complete; their ``audio`` holds this chunk (what a
        target stream's closure reads)."""
        chunk = np.asarray(getattr(samples, "samples", samples), np.float32).reshape(-1)
        return self._out(*self.ctx_.push(self.mel_.push(chunk)), chunk)

    def finish(self):
        ks, X = self.ctx_.push(self.mel_.finish())
        k2, X2 = self.ctx_.finish(self.mel_.n_samples_, self.mel_.sr)
        if len(k2):
            ks, X = np.concatenate([ks, k2]), (np.concatenate([X, X2]) if len(ks) else X2)
        return self._out(ks, X, np.zeros(0, np.float32))


class TargetStream:
    """The streaming form of the speech-target stage: AudioFeatures of some frames in, their Target out.

    ``closure``: a started :class:`~sketchsynth.targets.speech.closure.StreamingClosure` fed with each piece's
    sound; None: the mouth is not closed at b, p and m.
    """

    def __init__(self, target: StreamingSpeechTarget, closure=None):
        self.target, self.closure = target, closure

    def push(self, feats):
        from ..target import Target

        ks = np.round(feats.time_s * feats.fps).astype(np.int64)
        strength = None
        if self.closure is not None:
            self.closure.push(feats.audio.samples)
            strength = self.closure.strength(ks)
        pts, w, pred = self.target.push(feats.X, strength)
        report = {"lle": {"blend": self.target.blend_}}
        if strength is not None:
            report["closure"] = {"frames_closing": int(np.sum(strength > 0))}
        T = len(pts)
        return Target(pts, w, np.ones(T, bool), np.full(T, "", object), None, ks, feats.time_s, feats.fps,
                      name="stream", prediction=pred, report=report)

    def finish(self):
        return None
