"""Face-driven live: video frames in (a webcam or a file), the database's recorded frames of the same expression
out, frame by frame.

Chain per video frame: :meth:`sketchsynth.sources.tracker.FaceTracker.push` (the batch tracker's detect/follow loop)
-> :class:`sketchsynth.sources.filters.OneEuroStream` (the batch's default jitter filter, causal) ->
:func:`sketchsynth.targets.face.prepare_input` (the batch face target: normalized like the database, every seen
point weighted) -> :func:`sketchsynth.selection.candidates.candidates` (the batch prefilter and exact re-rank)
-> the fixed-lag decoder and frames of :class:`sketchsynth.live.engine.StreamEngine`.

Where the batch uses a whole-video statistic the stream uses a running one: the jump cost unit (running median of
the best target cost) and the filter's face scale (running median inter-ocular distance); given the batch values
(``cost_unit``, ``filter_scale``) and an unbounded lag the engine picks the frames ``sketchsynth match`` picks.
One batch rule cannot be followed live: when the detector misses a followed face twice in a row the batch tracker
marks the frames followed since faceless after the fact (:attr:`FaceTracker.withdrawn_`); live, they were used.
"""

from __future__ import annotations

import time

import numpy as np

from ..defaults import DEFAULT_CANDIDATES, DEFAULT_JUMP_COST, DEFAULT_SMOOTH
from ..errors import ParameterError
from .engine import DEFAULT_LAG_MS, StreamEngine
from .threads import freeze_heap


class FaceEngine(StreamEngine):
    """A face's video -> recorded frames, streaming.

    Parameters
    ----------
    db : FrameDatabase
    input_fps : float, optional
        The video's frame rate (the jitter filter's time step, and ``Frame.time_s`` when no time is given);
        default the database's.
    tracker : FaceTracker, optional
        Default ``FaceTracker()`` (the batch tracker's settings).
    jitter_filter : {"one-euro", "none"}
        The batch's default for tracked video is one-euro.
    lag_ms : float, optional
        Longest decoder wait, ms (default 80 = 2 frames at 25 fps); None: unbounded (decided at :meth:`finish`).
    smooth, candidates, jump_cost : float, int, float
        As ``sketchsynth match`` for a face (λ 0.5, 32, 1.5).
    k : int, optional
        Prefilter width (default: the batch's).
    search : {"auto", "exact", "ivf", "pq"}
        The batch's prefilter choice (``auto``: the IVF on databases of 20,000 usable frames or more).
    render, size, pose_weight, composite :
        As :class:`~sketchsynth.live.engine.LiveEngine`. ``Frame.keypoints`` is the selected frame as recorded.
    cost_window : int
    cost_unit, filter_scale : float, optional
        Fixed values of the running estimates (the batch's: exact batch reproduction with an unbounded lag).
    prune : bool
    backend : {"numba", "numpy"}
    retarget : {"auto", "on", "off"}
        Another person's face carried onto the speaker's (:class:`~sketchsynth.targets.retarget.StreamRetarget`,
        running statistics; ``auto``: when the driver is another person).
    """

    def __init__(self, db, input_fps: float | None = None, tracker=None, jitter_filter: str = "one-euro",
                 lag_ms: float | None = DEFAULT_LAG_MS, smooth: float = DEFAULT_SMOOTH,
                 candidates: int = DEFAULT_CANDIDATES, jump_cost: float = DEFAULT_JUMP_COST, k: int | None = None,
                 search: str = "auto", render: str = "sketch", size=None, cost_window: int = 250,
                 cost_unit: float | None = None, filter_scale: float | None = None, prune: bool = True,
                 backend: str = "numba", retarget: str = "auto", pose_weight: float | None = None,
                 composite: bool = False):
        self._init_decoder(db, lag_ms, smooth, candidates, jump_cost, render, size, cost_window, cost_unit, prune,
                           backend, pose_weight, composite)
        self.input_fps, self.tracker, self.jitter_filter, self.k, self.search = input_fps, tracker, jitter_filter, \
            k, search
        self.filter_scale, self.retarget = filter_scale, retarget

    def check(self):
        self._check_decoder()
        if self.jitter_filter not in ("one-euro", "none"):
            raise ParameterError(f"live jitter filter must be one-euro or none (savgol looks ahead), got "
                                 f"{self.jitter_filter!r}")
        if self.input_fps is not None and not (np.isfinite(self.input_fps) and 0 < self.input_fps <= 1000):
            raise ParameterError(f"the video's frame rate must be within 0-1000 fps, got {self.input_fps}")

    def start(self, shared: "FaceEngine | None" = None) -> "FaceEngine":
        """Reset the stream; returns self. ``shared``: a started engine on the same database whose frame source
        (and the database's memoized index) this one reuses."""
        from ..selection.ivf import resolve_search
        from ..sources.filters import OneEuroStream
        from ..sources.tracker import FaceTracker
        from ..targets.retarget import StreamRetarget

        self.check()
        self.ivf_ = resolve_search(self.db, self.search)
        self.tracker_ = (self.tracker if self.tracker is not None else FaceTracker()).start()
        fps = float(self.input_fps or self.fps)
        self.filter_ = None if self.jitter_filter == "none" else OneEuroStream(fps, self.filter_scale).start()
        self.retarget_ = StreamRetarget(self.retarget).fit(self.db)
        self._start_decoder(shared)
        if shared is None:  # the first engine of a process: what it loaded stays for the process's life
            self._warm()
            freeze_heap()
        self.n_, self.last_s_ = 0, 0.0
        self.started_ = True
        return self

    def _search(self, pts, usable, w):
        from ..selection.candidates import candidates

        return candidates(self.db, pts, usable, w, self.k, "sum", ivf=self.ivf_)

    def _warm(self):
        db = self.db
        pts = np.asarray(db.normalized_[db.usable_rows_[:1]], np.float32)
        w = db.weights_[None].astype(np.float64)
        cand, cost = self._search(pts, np.ones(1, bool), w)
        self._warm_decoder(cand[0], cost[0], pts[0], w[0])

    def push_frame(self, image: np.ndarray, time_s: float | None = None) -> list:
        """The next video frame: (height, width, 3) uint8 BGR or (height, width) grey; ``time_s`` its time
        (default: frame number / input fps) -> the frames decided now, in order."""
        import cv2

        if not self.started_:
            self.start()
        img = np.asarray(image)
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise ParameterError(f"a video frame must be (height, width[, 3]) uint8, got {img.shape} {img.dtype}")
        t0 = time.perf_counter()
        kp = self.tracker_.push(img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        t_track = time.perf_counter() - t0
        frames = self.push_keypoints(kp, time_s)
        self.timings_["track_s"] = t_track
        return frames

    def push_keypoints(self, keypoints: np.ndarray, time_s: float | None = None) -> list:
        """The next video frame's tracked keypoints (70, 3) float32 in image pixels (zeros: no face) -> the
        frames decided now."""
        from ..targets.face import prepare_input

        if not self.started_:
            self.start()
        k = self.n_
        self.n_ += 1
        t = k / float(self.input_fps or self.fps) if time_s is None else float(time_s)
        self.times_[k], self.last_s_ = t, t
        t0 = time.perf_counter()
        kp = np.asarray(keypoints, np.float32)
        if self.filter_ is not None:
            kp = self.filter_.push(kp)
        pts, _, usable, _, w = prepare_input(self.db, kp[None])
        pts = self.retarget_.push(pts, w, usable)
        t1 = time.perf_counter()
        if not usable[0]:
            decided, t2 = self._gap(k), t1
        else:
            cand, cost = self._search(pts, usable, w)
            t2 = time.perf_counter()
            ok = cand[0] >= 0
            decided = self._column(k, cand[0], cost[0], pts[0], w[0], full=bool((w[0] == self.db.weights_).all())) \
                if ok.any() else self._gap(k)
        t3 = time.perf_counter()
        frames = self._frames(decided, t)
        self.timings_ = {"target_s": t1 - t0, "search_s": t2 - t1, "decode_s": t3 - t2,
                         "frames_s": time.perf_counter() - t3}
        return frames

    def finish(self) -> list:
        """The frames still pending at the end of the video (the batch decoder's rule for the last ones)."""
        if not self.started_:
            return []
        self.started_ = False
        return self._frames([self._indices(self.dec_.finish())], self.last_s_)
