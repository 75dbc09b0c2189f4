"""The live engine: mono 16 kHz audio chunks in, the frames of the face speaking them out.

Chain per chunk: :class:`~sketchsynth.targets.speech.streaming.StreamingLogMel` ->
:class:`~sketchsynth.targets.speech.streaming.StreamingContext` (the speech model's look-ahead) ->
:class:`~sketchsynth.targets.speech.streaming.StreamingSpeechTarget` (LLE blend from a running voice estimate)
(its mouth closed where :class:`~sketchsynth.targets.speech.closure.StreamingClosure` hears b, p or m)
-> :class:`~sketchsynth.selection.frame_search.FrameSearch` (prefilter + exact re-rank) ->
:class:`~sketchsynth.selection.fixed_lag.FixedLagViterbi` (jump cost from a running median of the best target
cost, where the batch decoder takes the median over the whole input) -> a :class:`Frame` per decided video frame,
drawn as a sketch or shown as the recorded frame (:mod:`sketchsynth.live.frames`).

The engine does no I/O and keeps no clock: callers timestamp what goes in and what comes out. Frame ``k`` shows
the audio at ``k / fps`` seconds from the first sample pushed; it is decided at the earliest once the audio up to
``k / fps + look-ahead + 16 ms`` has arrived, and at the latest ``lag`` frames after that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from .threads import freeze_heap

DEFAULT_LOOKAHEAD_MS = 120.0
"""Look-ahead of the live speech model: on GRID s1's validation sentences 120 ms with a 2-frame lag gave the best
opening r within a 250 ms latency budget (docs/method.md, "Live")."""
DEFAULT_LAG_MS = 80.0
"""Longest wait of the fixed-lag decoder (2 frames at 25 fps)."""
DEFAULT_LIVE_SMOOTH = 0.6
"""λ of the live decoder (the batch speech default)."""
CHUNK_MS = 20.0
"""Audio chunk length the figures were measured with."""
SAMPLE_RATE = 16000


@dataclass
class Frame:
    """One decided video frame.

    Attributes
    ----------
    index : int
        Video frame number from the first sample pushed.
    time_s : float
        The audio time it shows: ``index / fps`` seconds from the first sample pushed.
    row : int
        The selected database row.
    keypoints : np.ndarray, shape (70, 3), float32
        The selected frame with the predicted jaw and lips, in its recording's pixels.
    audio_s : float
        Seconds of audio pushed when it was decided (``audio_s - time_s``: its latency in audio time).
    image : np.ndarray, shape (height, width, 3), uint8, optional
        BGR, when the engine renders.
    """

    index: int
    time_s: float
    row: int
    keypoints: np.ndarray
    audio_s: float
    image: np.ndarray | None = None


class StreamEngine:
    """What the live engines share: the fixed-lag decoder over one frame's candidates at a time, the running jump
    cost unit, and decided columns turned into :class:`Frame` objects (keypoints and image).

    Subclasses (:class:`LiveEngine` for speech, :class:`sketchsynth.live.face.FaceEngine` for a face) make each
    video frame's target and candidates and call :meth:`_column` (a usable frame) or :meth:`_gap` (none).
    """

    def _init_decoder(self, db, lag_ms, smooth, candidates, jump_cost, render, size, cost_window, cost_unit, prune,
                      backend, pose_weight, composite):
        self.db, self.lag_ms, self.smooth, self.candidates, self.jump_cost = db, lag_ms, smooth, candidates, jump_cost
        self.render, self.size, self.cost_window, self.cost_unit = render, size, cost_window, cost_unit
        self.prune, self.backend, self.pose_weight, self.composite = prune, backend, pose_weight, composite
        self.started_ = False

    @property
    def fps(self) -> float:
        """The database's frame rate."""
        return float(self.db.recordings_[0]["fps"])

    @property
    def lag_frames(self) -> int | None:
        return None if self.lag_ms is None else int(round(self.lag_ms * self.fps / 1000))

    def _check_decoder(self):
        from .frames import RENDERS

        if self.render not in RENDERS:
            raise ParameterError(f"render must be one of {', '.join(RENDERS)}, got {self.render!r}")
        if self.lag_ms is not None and not (np.isfinite(self.lag_ms) and 0 <= self.lag_ms <= 10000):
            raise ParameterError(f"--lag-ms must be within 0-10000, got {self.lag_ms}")
        if self.pose_weight is not None and not (np.isfinite(self.pose_weight) and 0 <= self.pose_weight <= 100):
            raise ParameterError(f"--pose-weight must be within 0-100, got {self.pose_weight}")

    def _start_decoder(self, shared=None):
        from ..selection.fixed_lag import FixedLagViterbi
        from ..targets.speech.streaming import RunningMedian
        from .frames import FrameSource
        from .threads import pin_threads

        self.frames_ = shared.frames_ if shared is not None else FrameSource(self.db, self.render, self.size).fit()
        self.dec_ = FixedLagViterbi.from_db(self.db, lag=self.lag_frames, smooth=self.smooth,
                                            candidates=self.candidates, backend=self.backend,
                                            prune=self.prune).start()
        self.cost_ = RunningMedian(self.cost_window)
        self.pose_ = None
        if self.render == "composite" or self.composite:
            from ..selection.pose import StreamingPoseTerm, default_pose_weight
            from .frames import background_take

            pw = default_pose_weight(self.db) if self.pose_weight is None else float(self.pose_weight)
            if pw > 0 and self.backend != "numba":
                raise ParameterError("the composite's pose term runs on the numba decoder; pass pose_weight=0 "
                                     "with the numpy backend")
            if pw > 0 and shared is not None and shared.pose_ is not None and shared.pose_.weight == pw:
                self.pose_ = shared.pose_
            elif pw > 0:
                f = self.frames_
                take = (f.background_, f.background_start_) if f.render == "composite" else background_take(self.db)
                self.pose_ = StreamingPoseTerm(*take, pw).fit(self.db)
        pin_threads()
        self.points_, self.times_, self.cols_, self.timings_ = {}, {}, {}, {}
        self.new_segment_ = True
        self.last_row_ = -1

    def _warm_decoder(self, cand, cost, pts, w):
        """Compile the decoder's kernels now, not on the first frame (a copy with its own buffers)."""
        import copy

        warm = copy.copy(self.dec_).start()
        for _ in range(2):
            warm.push(cand, cost, pts, w, 1.0)
        warm.finish()

    def _column(self, k, cand, cost, pts, w, full=False, keep_points=False) -> list:
        """Video frame k's candidates (K,) int64 / (K,) float64 and target pts (70, 2), weights w (70,) into the
        decoder -> decided (frame indices, rows) pairs."""
        self.cols_[self.dec_.t_ + 1] = int(k)  # decoder column -> video frame
        if keep_points:
            self.points_[int(k)] = pts
        unit = self.cost_.add([cost[0]]) if self.cost_unit is None else float(self.cost_unit)
        feats = None
        if self.pose_ is not None:  # the composite's background at frame k is known: prefer heads posed like it
            cand, cost, feats = self.pose_.column(k, cand, cost, unit)
        d = self.dec_.push(cand, cost, pts, w, self.jump_cost * unit, segment_start=self.new_segment_, full=full,
                           features=feats)
        self.new_segment_ = False
        return [self._indices(d)]

    def _gap(self, k) -> list:
        """Video frame k has no target: decide what is pending (as the batch decoder ends a segment there) and
        give k no row."""
        out = [self._indices(self.dec_.finish())]
        self.new_segment_ = True
        return out + [(np.array([int(k)]), np.array([-1]))]

    def _indices(self, d):
        return np.asarray([self.cols_.pop(c) for c in d.t.tolist()], np.int64), d.rows

    def _frames(self, decided, stream_s: float) -> list:
        out = []
        for ts, rows in decided:
            for k, r in zip(ts.tolist(), rows.tolist()):
                t = self.times_.pop(k, k / self.fps)
                pts = self.points_.pop(k, None)
                kp = np.zeros((70, 3), np.float32) if r < 0 else self.frames_.keypoints(r, pts)
                img = self.frames_.image(r, kp, k, pts, self.last_row_)
                self.last_row_ = r
                out.append(Frame(k, t, r, kp, stream_s, img))
        return out


class LiveEngine(StreamEngine):
    """Speech -> recorded frames, streaming.

    Parameters
    ----------
    db : FrameDatabase
    model : SpeechModel, optional
        Default: the database's. Its look-ahead (``delay_ms``) must equal ``lookahead_ms``.
    lookahead_ms : float, optional
        Audio after a frame its mouth may depend on (default 120; None: the model's).
    lag_ms : float, optional
        Longest decoder wait, ms (rounded to frames; default 80 = 2 frames at 25 fps); None: unbounded (the batch
        decoder's choice, decided at :meth:`finish`).
    smooth, candidates, jump_cost : float, int, float
        Decoder settings (λ 0.6, 32 candidates, jumps cost 1.5 median best target costs).
    prefilter_k : int
    render : {"sketch", "composite", "frames", "none"}
        What :attr:`Frame.image` holds: the sketch; the selected mouth pasted into one background take, or the
        recorded frame itself (both need the database's videos); or nothing.
    size : (width, height), optional
        Image size (default: the recordings' own). The sketch is drawn in the recording's pixels, scaled.
    cost_window, voice_window : int
        Frames of the running medians of the best target cost (jump cost unit) and of the voice distance (LLE
        blend).
    cost_unit, lle_blend : float, optional
        Fixed values instead of the running estimates (with them and an unbounded lag the engine reproduces the
        batch selection exactly).
    prune : bool
        After a fixed-lag commit keep only the states that descend from it (the output stays one costed path).
    backend : {"numba", "numpy"}
    closure_weight, closure_threshold : float, optional
        Closing the mouth at b, p and m, as the batch speech target does (defaults ``CLOSURE_WEIGHT`` and
        ``CLOSURE_THRESHOLD`` of :mod:`sketchsynth.targets.speech.closure`; weight 0 = off, pocketsphinx not needed).
    pose_weight : float, optional
        For a composite: how much a head posed unlike the background frame costs (the batch's pose term,
        :class:`~sketchsynth.selection.pose.StreamingPoseTerm`; default
        :func:`~sketchsynth.selection.pose.default_pose_weight`; 0 = off).
    composite : bool
        Select for a composite even when ``render`` is not one (the frames will be composited elsewhere, e.g.
        ``live --out`` without a window).
    """

    def __init__(self, db, model=None, lookahead_ms: float | None = DEFAULT_LOOKAHEAD_MS,
                 lag_ms: float | None = DEFAULT_LAG_MS, smooth: float = DEFAULT_LIVE_SMOOTH, candidates: int = 32,
                 jump_cost: float = 1.5, prefilter_k: int = 256, render: str = "sketch", size=None,
                 cost_window: int = 250, voice_window: int = 250, cost_unit: float | None = None,
                 lle_blend: float | None = None, prune: bool = True, backend: str = "numba",
                 closure_weight: float | None = None, closure_threshold: float | None = None,
                 pose_weight: float | None = None, composite: bool = False):
        self._init_decoder(db, lag_ms, smooth, candidates, jump_cost, render, size, cost_window, cost_unit, prune,
                           backend, pose_weight, composite)
        self.model, self.lookahead_ms, self.prefilter_k = model, lookahead_ms, prefilter_k
        self.voice_window, self.lle_blend = voice_window, lle_blend
        self.closure_weight, self.closure_threshold = closure_weight, closure_threshold

    def check(self):
        """Validate the parameters against the database and its model; returns the model. Raises ParameterError."""
        from ..targets.speech.model_store import require_model

        self._check_decoder()
        m = self.model if self.model is not None else require_model(self.db)
        if self.lookahead_ms is not None and float(m.delay_ms) != float(self.lookahead_ms):
            where = getattr(self.db, "path_", None) or "DIR"
            raise ParameterError(f"the speech model looks {m.delay_ms:g} ms ahead, not {self.lookahead_ms:g}; fit "
                                 f"one with: sketchsynth fit-speech --db {where} --lookahead-ms {self.lookahead_ms:g} "
                                 f"(or build it with build-db --lookahead-ms {self.lookahead_ms:g}; or pass --lookahead-ms "
                                 f"{m.delay_ms:g}, a {m.delay_ms:g} ms longer delay)")
        if m.cmvn or m.long_ms > 0:
            raise ParameterError("the speech model normalizes over whole utterances (cmvn or long_ms); live needs "
                                 "one fitted without: sketchsynth fit-speech --db DIR")
        from ..targets.speech.closure import closure_settings

        self.closure_params_ = closure_settings(self.closure_weight, self.closure_threshold)
        return m

    def start(self, shared: "LiveEngine | None" = None) -> "LiveEngine":
        """Reset the stream; returns self.

        ``shared``: a started engine on the same database and model whose read-only parts (FAISS indexes, the
        frame source) this one reuses: one copy per process, not per session.
        """
        from ..database.speech_features import LogMel, extractor_of
        from ..selection.frame_search import FrameSearch
        from ..targets.speech.closure import PhonePosteriors, StreamingClosure, closed_mouth
        from ..targets.speech.streaming import FeatureStream, StreamingSpeechTarget, TargetStream

        db = self.db
        m = self.model_ = self.check()
        front = extractor_of(db.audio_.info["features"])
        if type(front) is not LogMel:  # a normalized log-mel looks 1.5 s ahead: too far for a conversation
            raise ParameterError(f"live needs the log-mel front end; the database uses {front!r}")
        if int(front.sr) != SAMPLE_RATE:
            raise ParameterError(f"live takes {SAMPLE_RATE} Hz audio; the database's front end runs at {front.sr}")
        self.feats_ = FeatureStream(front, m, self.fps).start()
        closing = self.closure_params_ is not None
        closed = (shared.target_.closed if shared is not None and shared.target_.closed is not None
                  else closed_mouth(db)) if closing else None
        self.target_ = StreamingSpeechTarget(m, m.mean_mouth(db), db.weights_, self.voice_window,
                                             blend=self.lle_blend, closed=closed).start(
            None if shared is None else shared.target_.lle_index_)
        closure = (StreamingClosure(PhonePosteriors.shared(), self.fps, *self.closure_params_).start()
                   if closing else None)
        self.stream_ = TargetStream(self.target_, closure)
        self.search_ = shared.search_ if shared is not None else \
            FrameSearch(db, self.target_.weights_ > 0, self.prefilter_k).fit()
        self._start_decoder(shared)
        if shared is None:  # the first engine of a process: what it loaded stays for the process's life
            self._warm(m)
            freeze_heap()
        self.started_ = True
        return self

    def _warm(self, m):
        """Build the lazily built parts and compile the kernels now, not on the first frame."""
        X = np.zeros((1, m.x_mean_.shape[0]), np.float32)
        m.regressor_.predict(m.reduce(X))
        pts = np.zeros((1, 70, 2), np.float32)
        pts[:, self.target_.sp_] = self.target_.mean_mouth
        cand, cost = self.search_.search(pts, self.target_.weights_[None])
        self._warm_decoder(cand[0], cost[0], pts[0], self.target_.weights_)

    def _decide(self, f) -> list:
        """Features ``f`` (AudioFeatures of the frames whose look-ahead arrived) through target, search and
        decoder -> decided (t, rows) pairs."""
        t0 = time.perf_counter()
        tgt = self.stream_.push(f)
        t1 = time.perf_counter()
        out = []
        if len(tgt.frames):
            cand, cost = self.search_.search(tgt.points, tgt.weights)
            t2 = time.perf_counter()
            for i, k in enumerate(tgt.frames):
                out += self._column(k, cand[i], cost[i], tgt.points[i], tgt.weights[i], keep_points=True)
            self.timings_ = {"target_s": t1 - t0, "search_s": t2 - t1, "decode_s": time.perf_counter() - t2}
        return out

    def push_audio(self, chunk: np.ndarray) -> list:
        """Mono 16 kHz samples (any length; float32 in [-1, 1]) -> the frames decided now, in order."""
        if not self.started_:
            self.start()
        t0 = time.perf_counter()
        f = self.feats_.push(chunk)
        t1 = time.perf_counter()
        frames = self._frames(self._decide(f), self.feats_.mel_.n_samples_ / SAMPLE_RATE)
        self.timings_["features_s"] = t1 - t0
        self.timings_["frames_s"] = time.perf_counter() - t1 - sum(
            v for k, v in self.timings_.items() if k in ("target_s", "search_s", "decode_s"))
        return frames

    def finish(self) -> list:
        """The frames still pending at the end of the audio (the batch decoder's rule for the last ones)."""
        if not self.started_:
            return []
        decided = self._decide(self.feats_.finish())
        decided.append(self._indices(self.dec_.finish()))
        self.started_ = False
        return self._frames(decided, self.feats_.mel_.n_samples_ / SAMPLE_RATE)
