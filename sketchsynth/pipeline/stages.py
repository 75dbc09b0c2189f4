"""The built-in stages (see :mod:`sketchsynth.pipeline.core`): thin wrappers over the library's own functions.

=====================  ======================  ===================================================
stage                  kinds                   wraps
=====================  ======================  ===================================================
KeypointSource         path -> keypoints       :func:`sketchsynth.sources.load.load_input`
Normalize              keypoints -> target     :func:`sketchsynth.selection.matching.prepare_input`
AudioSource            path -> audio           :func:`sketchsynth.io.audio.load_audio`
SpeechFeatures         audio -> audio_features LogMel + :meth:`SpeechModel.context`
SpeechTarget           audio_features -> target  the database's fitted :class:`SpeechModel`
Selector               target -> selection     :func:`sketchsynth.selection.matching.candidates` + ViterbiDecoder
Writer                 selection -> outputs    :func:`sketchsynth.outputs.synthesis.write_synthesis`
=====================  ======================  ===================================================
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..defaults import DEFAULT_AUDIO_WEIGHT as AUDIO_WEIGHT
from ..errors import InputError, ParameterError
from .core import Pipeline, Target, Stage

JAW_WEIGHT = 0.0
"""Multiplier of the jaw's weight in a speech target. The jaw is predicted (and drawn), but on held-out
GRID s1 sentences selecting on the lips alone gave a better opening r of the selected frames (0.838 vs
0.830; their jaw follows their own lips)."""
INNER_LIP_WEIGHT = 1.0
"""Multiplier of the inner lips' weight in a speech target."""
CORNER_WEIGHT = 3.0
"""Multiplier of the lip corners' weight (:data:`sketchsynth.layout.LIP_CORNERS`) in a speech target: the lip
width is one distance between two of the twenty lip points, and without it the selection follows the opening and
lets the width go (GRID s1 validation fold, with :data:`TARGET_GAIN`: width r of the selected frames 0.547 at 1,
0.556 at 3, opening r unchanged; benchmarks/speech_selection_grid.py)."""
TARGET_GAIN = 1.75
"""How far a speech target moves the predicted mouth away from the mean mouth: ``mean + gain * (pred - mean)``.
A regressor's prediction shrinks towards the mean (on held-out GRID s1 sentences its lip width varies half as
much as the truth's), recorded frames do not; selecting on the shrunken mouth picks too-average frames. On the
validation fold gain 1.75 raised the selected frames' opening r 0.848 -> 0.854 and width r 0.505 -> 0.553."""


@dataclass
class Audio:
    """Driving sound: mono samples at ``sr`` Hz (float32 in [-1, 1]) and where they came from."""

    samples: np.ndarray
    sr: int
    path: str
    name: str

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sr


@dataclass
class AudioFeatures:
    """Per-video-frame context windows of a driving sound.

    Attributes
    ----------
    X : np.ndarray, shape (T, n_features), float32
    time_s : np.ndarray, shape (T,), float64
        Output frame times (``t / fps``).
    """

    X: np.ndarray
    time_s: np.ndarray
    fps: float
    audio: Audio
    timings: dict = field(default_factory=dict)
    reduced: np.ndarray | None = None
    """The speech model's PCA features of ``X``, shape (T, n_components), once computed."""


def db_fps(db) -> float:
    """The database's frame rate (of its first recording; output videos run at it)."""
    return float(db.recordings_[0]["fps"])


# ---------------------------------------------------------------------- keypoint input
class KeypointSource(Stage):
    """path -> keypoints: OpenPose JSON, a landmark array, or a video (tracked)."""

    name, input_kind, output_kind = "keypoints", "path", "keypoints"

    def __init__(self, fps=None, person="largest", video_options=None, progress=False):
        self.fps, self.person, self.video_options, self.progress = fps, person, video_options, progress

    def transform(self, path):
        from ..sources.load import load_input

        return load_input(path, fps=self.fps, person=self.person, video_options=self.video_options,
                          progress=self.progress)


class Normalize(Stage):
    """keypoints -> target: the input normalized like the database, all points weighted."""

    name, input_kind, output_kind = "normalize", "keypoints", "target"

    def __init__(self, track_filter: str = "none"):
        self.track_filter = track_filter

    def transform(self, track) -> Target:
        from ..sources.filters import filter_keypoints
        from ..selection.matching import prepare_input

        kp = track.keypoints if self.track_filter == "none" else \
            filter_keypoints(track.keypoints, track.fps, self.track_filter, frames=track.frames)
        normalized, mats, usable, reason, qweights = prepare_input(self.db_, kp)
        return Target(normalized, qweights, usable, reason, mats, np.asarray(track.frames), np.asarray(track.time_s),
                      float(track.fps), track=track, name=track.name,
                      extra={"keypoints": kp, "input_filter": self.track_filter})


# ---------------------------------------------------------------------- audio input
class AudioSource(Stage):
    """path -> audio: any file FFmpeg reads with sound (a video's track too), resampled to 16 kHz mono."""

    name, input_kind, output_kind = "audio", "path", "audio"

    def transform(self, path) -> Audio:
        from pathlib import Path

        from ..io.audio import is_silent, load_audio
        from ..database.sound import SAMPLE_RATE

        y = load_audio(path, SAMPLE_RATE)
        fps = db_fps(self.db_)
        if len(y) < SAMPLE_RATE / fps:
            raise InputError(f"audio too short: {1000 * len(y) / SAMPLE_RATE:.1f} ms, less than one frame "
                             f"({1000 / fps:.0f} ms at the database's {fps:g} fps)", path)
        if is_silent(y, SAMPLE_RATE):
            raise InputError("the audio is silent (no speech to drive the face)", path)
        return Audio(y, SAMPLE_RATE, os.fspath(path), Path(path).stem)


class SpeechFeatures(Stage):
    """audio -> audio_features: LSP's log-mel (the database's settings), context windows per output frame."""

    name, input_kind, output_kind = "log-mel", "audio", "audio_features"

    def fit(self, db):
        from ..targets.speech.model import require_model

        self.db_, self.model_ = db, require_model(db)
        return self

    def transform(self, audio: Audio) -> AudioFeatures:
        from ..targets.speech.features import LogMel

        t0 = time.perf_counter()
        params = self.db_.audio_.info["features"]
        front = LogMel(**params)
        mel = front.transform(audio.samples)
        fps = db_fps(self.db_)
        n = max(1, int(np.floor(audio.duration_s * fps + 1e-9)))
        times = np.arange(n) / fps
        X = self.model_.context(mel, front.times_, times)
        return AudioFeatures(X, times, fps, audio, {"features_s": time.perf_counter() - t0})


class SpeechTarget(Stage):
    """audio_features -> target: the predicted jaw and lips, weighted as the database weighs them; nothing else.

    Head pose, eyes and brows are left to the recorded frames (weight 0 there).
    """

    name, input_kind, output_kind = "speech-target", "audio_features", "target"

    def __init__(self, audio_weight: float | None = None):
        self.audio_weight = audio_weight

    def fit(self, db):
        from ..targets.speech.model import require_model

        self.db_, self.model_ = db, require_model(db)
        return self

    def predict(self, feats: AudioFeatures) -> np.ndarray:
        """(T, 37, 2) normalized SPEECH_POINTS; records projection/regression timings in ``feats.timings``."""
        if feats.reduced is None:
            feats.reduced = self.model_.reduce(feats.X)
        return self.model_.predict(feats.X, feats.timings, reduced=feats.reduced)

    def transform(self, feats: AudioFeatures) -> Target:
        return speech_target(self.db_, self.predict(feats), feats, audio_weight=self.audio_weight)


def speech_target(db, pred: np.ndarray, feats: AudioFeatures, jaw_weight: float | None = None,
                  inner_lip_weight: float | None = None, corner_weight: float | None = None,
                  gain: float | None = None, audio_weight: float | None = None) -> Target:
    """A Target from predicted SPEECH_POINTS (T, 37, 2): weight on those points only.

    Parameters
    ----------
    jaw_weight, inner_lip_weight, corner_weight : float, optional
        Multipliers of the database's weights on the jaw (0-16), the inner lips (60-67) and the lip
        corners (defaults :data:`JAW_WEIGHT`, :data:`INNER_LIP_WEIGHT`, :data:`CORNER_WEIGHT`); every
        other point weighs 0.
    gain : float, optional
        Expansion of the prediction away from the speech model's mean mouth (default :data:`TARGET_GAIN`;
        1 = the prediction as it is). ``extra["prediction"]`` keeps the prediction itself.
    audio_weight : float, optional
        Relative weight of the audio term (default :data:`AUDIO_WEIGHT`; 0 = none): the distance between
        the input's and each database frame's audio features (the speech model's leading PCA dimensions)
        joins the target cost (:mod:`sketchsynth.targets.feature_term`; 1 makes its median equal the mouth term's).
    """
    from ..layout import GROUPS, INNER_LIPS, LIP_CORNERS, N_POINTS, SPEECH_POINTS

    g = TARGET_GAIN if gain is None else float(gain)
    if not (np.isfinite(g) and g > 0):
        raise ParameterError(f"the speech target's gain must be > 0, got {gain}")
    T = len(pred)
    points = np.zeros((T, N_POINTS, 2), np.float32)
    if g == 1:
        points[:, SPEECH_POINTS] = pred
    else:
        from ..targets.speech.model import require_model

        mean = require_model(db).mean_mouth(db)
        points[:, SPEECH_POINTS] = mean + g * (np.asarray(pred, np.float32) - mean)
    weights = np.zeros((T, N_POINTS))
    weights[:, SPEECH_POINTS] = db.weights_[SPEECH_POINTS]
    weights[:, GROUPS["jaw"]] *= JAW_WEIGHT if jaw_weight is None else jaw_weight
    weights[:, INNER_LIPS] *= INNER_LIP_WEIGHT if inner_lip_weight is None else inner_lip_weight
    weights[:, list(LIP_CORNERS)] *= CORNER_WEIGHT if corner_weight is None else corner_weight
    beta = AUDIO_WEIGHT if audio_weight is None else float(audio_weight)
    term = None
    if beta != 0:
        from ..targets.speech.model import require_model

        model = require_model(db)
        if feats.reduced is None:
            feats.reduced = model.reduce(feats.X)
        term = model.audio_term(db, feats.reduced, beta)
    a = feats.audio
    return Target(points, weights, np.ones(T, bool), np.full(T, "", object), None, np.arange(T, dtype=np.int64),
                  feats.time_s, feats.fps, features=term, audio=a.path, name=a.name,
                  extra={"prediction": pred, "audio_weight": beta, "lle": feats.timings.get("lle"),
                         "timings": {k: v for k, v in feats.timings.items() if isinstance(v, (int, float))}})


# ---------------------------------------------------------------------- selection
class Selector(Stage):
    """target -> selection: the FAISS prefilter, exact re-rank, and the Viterbi decoder."""

    name, input_kind, output_kind = "viterbi", "target", "selection"

    def __init__(self, decoder=None, metric="sum", k=None, search="auto", ivf=None, exhaustive=False,
                 seam_blend=0):
        self.decoder, self.metric, self.k, self.search, self.ivf = decoder, metric, k, search, ivf
        self.exhaustive, self.seam_blend = exhaustive, seam_blend

    def transform(self, target: Target):
        return select(self.db_, target, self.decoder, self.metric, self.k, self.search, self.ivf, self.exhaustive,
                      self.seam_blend)


def select(db, target: Target, decoder=None, metric="sum", k=None, search="auto", ivf=None, exhaustive=False,
           seam_blend=0):
    """Pick database frames for a target; returns a :class:`sketchsynth.outputs.synthesis.Synthesis`.

    With ``target.matrices`` None (speech) the match is drawn in the selected
    frames' own pixels, and the "input" shown beside it is the selected frame
    with its jaw and lips replaced by the predicted ones.
    """
    from ..selection.decode import ViterbiDecoder, path_joins, path_stats
    from ..selection.matching import MatchResult, candidates, default_prefilter_k, matched_in_input_coords
    from ..selection.search import check_metric, exhaustive as exhaustive_search, resolve_search
    from ..outputs.synthesis import Synthesis

    check_metric(metric)
    decoder = (decoder or ViterbiDecoder()).check(db)
    ivf = resolve_search(db, search, ivf)
    k = max(int(default_prefilter_k(k, ivf)), int(decoder.candidates))
    t0 = time.perf_counter()
    info = {}
    cand, cost = candidates(db, target.points, target.usable, target.weights, k, metric, ivf=ivf, info=info)
    usable = target.usable & (cand[:, 0] >= 0)
    rows = np.where(usable, cand[:, 0], -1).astype(np.int64)
    best = np.where(usable, cost[:, 0], np.nan)
    if exhaustive and usable.any():
        u = np.flatnonzero(usable)
        rows[u], best[u] = exhaustive_search(db, target.points[u], target.weights[u], rows[u], best[u], metric)
    term = target.features if target.features is not None and target.features.beta > 0 else None
    if term is not None:
        from ..targets.feature_term import rerank_with

        u = np.flatnonzero(usable)
        term.scaled(u, cand[u, 0], cost[u, 0])
        cand[u], cost[u] = rerank_with(term, cand[u], cost[u], u)
        if exhaustive:  # the keypoint minimum, costed as the lattice costs it
            best[u] += term.weight * term.distances(u, rows[u][:, None])[:, 0]
        else:
            rows[u], best[u] = cand[u, 0], cost[u, 0]
    t1 = time.perf_counter()
    if usable.sum() < 2:
        raise InputError(f"the input has {int(usable.sum())} usable frame(s); synthesis needs at least 2",
                         target.audio)
    mats = target.matrices if target.matrices is not None else np.full((len(target), 2, 3), np.nan)
    kp_in = target.extra.get("keypoints", target.track.keypoints if target.track is not None else
                             np.zeros((len(target), 70, 3), np.float32))
    res = MatchResult(np.asarray(kp_in, np.float32), target.points, mats, usable, target.reason, target.weights,
                      rows, best, cand, cost, metric, int(k), bool(exhaustive),
                      {**target.extra.get("timings", {}), "search_s": t1 - t0},
                      search="exact" if ivf is None else ivf.name,
                      search_info={n: v for n, v in info.items() if n != "index_s"})
    if "index_s" in info:
        res.timings["ivf_index_s"] = info["index_s"]
    d = decoder.decode(db, res, frames=target.frames, features=term)
    res.frame_rows, res.frame_cost = res.rows, res.target_cost
    res.rows, res.target_cost = d.rows, d.target_cost
    res.join_cost, res.is_jump, res.decoding = d.join_cost, d.is_jump, d
    res.timings.update(d.timings)
    track = target.track
    if target.matrices is None:
        # draw in the selected frames' own pixels; the "input" is the predicted mouth on the selected head
        ok = res.rows >= 0
        res.matrices = np.where(ok[:, None, None], db.transforms_[np.maximum(res.rows, 0)], np.nan)
        track = speech_track(db, target, res)
        res.keypoints = track.keypoints
    stats = path_stats(res.is_jump, res.rows >= 0, d.segment_start, target.fps)
    per_frame = path_stats(path_joins(db, res.frame_rows, d.segment_start)[1], res.frame_rows >= 0,
                           d.segment_start, target.fps)
    per_frame["mean_target_cost"] = float(np.nanmean(res.frame_cost))
    matched = matched_in_input_coords(db, res, seam_blend=seam_blend)
    params = {**d.params, "seam_blend": int(seam_blend), "input_filter": target.extra.get("input_filter", "none"),
              "total_cost": d.total_cost}
    if "audio_weight" in target.extra:
        params["audio_weight"] = target.extra["audio_weight"]
        params["audio_weight_abs"] = term.weight if term is not None else 0.0
    if target.extra.get("lle") is not None:
        params["lle"] = target.extra["lle"]
    return Synthesis(track, res, matched, stats, per_frame, params, time.perf_counter() - t0)


def speech_track(db, target: Target, res):
    """A stand-in input track for a speech target: the selected frames with the predicted jaw and lips."""
    from ..layout import SPEECH_POINTS
    from ..database.normalize import Normalizer
    from ..sources.recordings import Track

    ok = res.rows >= 0
    kp = np.zeros((len(target), 70, 3), np.float32)
    kp[ok] = db.keypoints_[res.rows[ok]]
    pred = target.points[ok][:, SPEECH_POINTS]
    full = np.asarray(db.normalized_[res.rows[ok]], np.float32).copy()
    full[:, SPEECH_POINTS] = pred
    kp[ok, :, :2] = Normalizer.inverse_transform(full, res.matrices[ok])
    extra = {}
    sizes = [(r["extra"].get("width"), r["extra"].get("height")) for r in db.recordings_
             if isinstance(r.get("extra"), dict) and r["extra"].get("width")]
    if sizes:
        extra = {"width": max(s[0] for s in sizes), "height": max(s[1] for s in sizes)}
    extra["duration"] = len(target) / target.fps
    return Track(target.name, target.audio or target.name, "audio", kp, target.frames, target.time_s,
                 np.ones(len(target), np.int16), [f"{target.name}#{i}" for i in range(len(target))], target.fps,
                 "database", video=None, extra=extra)


# ---------------------------------------------------------------------- outputs
class Writer(Stage):
    """selection -> outputs: selection.csv, matched/, plots, sketch.mp4 and frames.mp4 (with the sound)."""

    name, input_kind, output_kind = "writer", "selection", "outputs"

    def __init__(self, out, force=False, plot_frames=None, sketch_layout="side-by-side", audio=None,
                 sketch_video=False, progress=False, summary_extra=None, protect=(), frames_mode=None,
                 background="auto", blend="feather"):
        self.out, self.force, self.plot_frames, self.sketch_layout = out, force, plot_frames, sketch_layout
        self.frames_mode, self.background, self.blend = frames_mode, background, blend
        self.protect = list(protect)
        self.audio, self.sketch_video, self.progress = audio, sketch_video, progress
        self.summary_extra = summary_extra or {}
        self.folder = None  # a results.OutputFolder the caller opened early, or None

    def transform(self, syn):
        from ..outputs.synthesis import write_synthesis

        extra = dict(self.summary_extra)
        audio, sketch_video = self.audio, self.sketch_video
        if syn.track.kind == "audio":
            # speech drives: the sound is the input's, the pixels are the selected frames' own
            audio, sketch_video = audio or syn.track.path, True
            extra.setdefault("drive", "audio")
            extra["pixels"] = "selected database frames' own pixels (no input face to place them on)"
            extra["sketch_input"] = "the selected frame with its jaw and lips replaced by the predicted ones"
        write_synthesis(self.out, self.db_, syn, force=self.force, plot_frames=self.plot_frames,
                        sketch_layout=self.sketch_layout, audio=audio, sketch_video=sketch_video,
                        progress=self.progress, summary_extra=extra, protect=self.protect,
                        frames_mode=self.frames_mode, background=self.background, blend=self.blend,
                        folder=self.folder)
        return syn


def keypoint_pipeline(source: KeypointSource, selector: Selector, writer: Writer | None = None,
                      track_filter="none") -> Pipeline:
    stages = [source, Normalize(track_filter), selector] + ([writer] if writer else [])
    return Pipeline(stages)


def audio_pipeline(selector: Selector, writer: Writer | None = None, audio_weight: float | None = None) -> Pipeline:
    stages = [AudioSource(), SpeechFeatures(), SpeechTarget(audio_weight), selector] + ([writer] if writer else [])
    return Pipeline(stages)
