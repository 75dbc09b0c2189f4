"""Live engine: audio chunks in, decided database frames out (target for ``sketchsynth/live/engine.py``).

Chain per push: :class:`~streaming_speech.StreamingLogMel` -> :class:`~streaming_speech.StreamingContext`
(look-ahead = the speech model's ``delay_ms``) -> :class:`~streaming_speech.StreamingSpeechTarget`
(running voice estimate -> LLE blend) -> :class:`FrameSearch` (FAISS prefilter on the target's
points + exact re-rank) -> :class:`~fixed_lag.FixedLagViterbi` (jump cost from a running median of
the best target cost, as the batch decoder's median over the whole input).

The engine does no I/O and keeps no clock: callers (the CLI's real-time loop, the web server, the
benchmarks) timestamp what goes in and what comes out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from fixed_lag import FixedLagViterbi
from streaming_speech import RunningMedian, StreamingContext, StreamingLogMel, StreamingSpeechTarget


class FrameSearch:
    """Top-k database frames for targets that all share one weight pattern (speech: mouth points only).

    The batch path (:func:`sketchsynth.search.knn_sq`) copies the column slice of the database's
    vectors for every call; a live engine calls it 25 times a second, so the slice is indexed once here.
    Ranking and costs are the batch ones: FAISS L2 in ``sqrt(db weights)`` space on the pattern's
    coordinates, then :func:`sketchsynth.search.rerank` with the target's own weights.

    Parameters
    ----------
    db : FrameDatabase
    pattern : np.ndarray, shape (70,), bool
        Points the targets weigh.
    k : int
        Prefilter width (batch default 256).
    metric : {"sum", "sq"}
    """

    def __init__(self, db, pattern, k: int = 256, metric: str = "sum"):
        self.db, self.pattern, self.k, self.metric = db, np.asarray(pattern, bool), int(k), metric

    def start(self) -> "FrameSearch":
        import faiss

        self.cols_ = np.repeat(self.pattern, 2)
        xb = np.ascontiguousarray(self.db.usable_vectors()[:, self.cols_])
        self.index_ = faiss.IndexFlatL2(xb.shape[1])
        self.index_.add(xb)
        return self

    def search(self, points: np.ndarray, weights: np.ndarray):
        """points (n, 70, 2) f32, weights (n, 70) -> (cand (n, k) i64, cost (n, k) f64), best first."""
        from sketchsynth.search import rerank, weighted_vectors

        vq = weighted_vectors(points, self.db.weights_)[:, self.cols_]
        _, pos = self.index_.search(np.ascontiguousarray(vq), min(self.k, self.index_.ntotal))
        ids = np.where(pos >= 0, self.db.usable_rows_[np.maximum(pos, 0)], -1)
        return rerank(self.db, points, weights, ids, self.metric)


@dataclass
class LiveFrames:
    """Frames decided by one push: video frame indices ``t`` (n,), database ``rows`` (n,), and per-push timings."""

    t: np.ndarray
    rows: np.ndarray
    timings: dict = field(default_factory=dict)


class LiveEngine:
    """Speech -> recorded frames, streaming.

    Parameters
    ----------
    db : FrameDatabase
    model : SpeechModel, optional
        Default: the database's. Its ``delay_ms`` is the look-ahead.
    lag : int or None
        Decoder lag in frames (None: unbounded, the batch result at :meth:`finish`).
    smooth, candidates, jump_cost : float, int, float
        Decoder settings (batch defaults for speech: 0.6, 32, 1.5 median target costs).
    prefilter_k : int
    cost_window : int
        Frames of the running median target cost that scales the jump cost.
    voice_window : int or None
        Frames of the running voice-distance median (LLE blend).
    cost_unit : float, optional
        A fixed target-cost unit for the jump cost (the batch decoder uses the median best cost of the
        whole input; with it and an unbounded lag the engine reproduces the batch selection). None:
        the running median over ``cost_window`` frames.
    lle_blend : float, optional
        A fixed LLE blend (None: decided from the running voice estimate).
    """

    def __init__(self, db, model=None, lag: int | None = 4, smooth: float = 0.6, candidates: int = 32,
                 jump_cost: float = 1.5, prefilter_k: int = 256, cost_window: int = 250,
                 voice_window: int | None = 250, backend: str = "numba", cost_unit: float | None = None,
                 lle_blend: float | None = None, prune: bool = True):
        self.db, self.model, self.lag, self.smooth = db, model, lag, smooth
        self.candidates, self.jump_cost, self.prefilter_k = candidates, jump_cost, prefilter_k
        self.cost_window, self.voice_window, self.backend = cost_window, voice_window, backend
        self.cost_unit, self.lle_blend, self.prune = cost_unit, lle_blend, prune

    @property
    def fps(self) -> float:
        return float(self.db.recordings_[0]["fps"])

    def start(self, shared: "LiveEngine | None" = None) -> "LiveEngine":
        """Reset the stream. ``shared``: a started engine on the same database and model whose read-only
        parts (FAISS indexes: ~15 MB for 52k frames) this one reuses -- one per server, not per session."""
        from sketchsynth.speech_model import require_model

        db = self.db
        m = self.model_ = self.model if self.model is not None else require_model(db)
        self.mel_ = StreamingLogMel(**db.audio_.info["features"]).start()
        self.ctx_ = StreamingContext(self.mel_.hop_s, self.fps, m.past_ms / 1000, m.delay_ms / 1000,
                                     m.step_ms / 1000).start()
        self.target_ = StreamingSpeechTarget(m, m.mean_mouth(db), db.weights_, self.voice_window, blend=self.lle_blend) \
            .start(None if shared is None else shared.target_.lle_index_)
        self.search_ = shared.search_ if shared is not None else \
            FrameSearch(db, self.target_.weights_ > 0, self.prefilter_k).start()
        self.dec_ = FixedLagViterbi.from_db(db, lag=self.lag, smooth=self.smooth, candidates=self.candidates,
                                            backend=self.backend, prune=self.prune).start()
        self.cost_ = RunningMedian(self.cost_window)
        if shared is None:
            self._warm(m)
        self.n_in_ = 0
        self.preds_ = {}
        return self

    def _warm(self, m):
        """Single-query FAISS searches: one OpenMP thread (2 threads spin: 22 ms -> 2 ms per frame here);
        build the lazily built indexes (kNN regressor) and load the numba kernels now, not on frame 0."""
        import faiss

        faiss.omp_set_num_threads(1)
        X = np.zeros((1, m.x_mean_.shape[0]), np.float32)
        m.regressor_.predict(m.reduce(X))
        pts = np.zeros((1, 70, 2), np.float32)
        pts[:, self.target_.sp_] = self.target_.mean_mouth
        self.search_.search(pts, self.target_.weights_[None])

    def _frames(self, ks, X) -> tuple[list, dict]:
        tm = {}
        t0 = time.perf_counter()
        pts, w, pred = self.target_.push(X)
        t1 = time.perf_counter()
        out_t, out_r = [], []
        if len(ks):
            cand, cost = self.search_.search(pts, w)
            t2 = time.perf_counter()
            for i, k in enumerate(ks):
                self.preds_[int(k)] = pred[i]
                unit = self.cost_.add([cost[i, 0]]) if self.cost_unit is None else float(self.cost_unit)
                d = self.dec_.push(cand[i], cost[i], pts[i], w[i], self.jump_cost * unit,
                                   segment_start=(k == 0))
                out_t.append(d.t)
                out_r.append(d.rows)
            t3 = time.perf_counter()
            tm = {"target_s": t1 - t0, "search_s": t2 - t1, "decode_s": t3 - t2}
        return out_t, out_r, tm

    def push(self, chunk: np.ndarray) -> LiveFrames:
        """Mono 16 kHz float32 samples (any length) -> the frames decided now."""
        t0 = time.perf_counter()
        mel = self.mel_.push(chunk)
        ks, X = self.ctx_.push(mel)
        t1 = time.perf_counter()
        ot, orows, tm = self._frames(ks, X)
        tm["features_s"] = t1 - t0
        return _frames(ot, orows, tm)

    def finish(self) -> LiveFrames:
        mel = self.mel_.finish()
        ks, X = self.ctx_.push(mel)
        ot, orows, _ = self._frames(ks, X)
        ks, X = self.ctx_.finish(self.mel_.n_samples_, self.mel_.sr)
        ot2, orows2, _ = self._frames(ks, X)
        d = self.dec_.finish()
        return _frames(ot + ot2 + [d.t], orows + orows2 + [d.rows], {})


def _frames(ts, rows, tm) -> LiveFrames:
    ts = [t for t in ts if len(t)]
    rows = [r for r in rows if len(r)]
    if not ts:
        return LiveFrames(np.zeros(0, np.int64), np.zeros(0, np.int64), tm)
    return LiveFrames(np.concatenate(ts), np.concatenate(rows), tm)
