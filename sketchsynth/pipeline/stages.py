"""The built-in stages (see :mod:`sketchsynth.pipeline.core`): thin wrappers over the library's own functions.

=====================  =========================  ================================================
stage                  kinds                      wraps
=====================  =========================  ================================================
KeypointSource         path -> keypoints          :func:`sketchsynth.sources.load.load_input`
Normalize              keypoints -> target        :func:`sketchsynth.targets.face.face_target`
AudioSource            path -> audio              :func:`sketchsynth.io.audio.load_audio`
SpeechFeatures         audio -> audio_features    the database's feature extractor + the model's context
SpeechTarget           audio_features -> target   the database's fitted speech model
Speak                  text -> speech             :func:`sketchsynth.targets.text.speak.speak`
TextTarget             speech -> target           the speech chain and/or the phone target
Selector               target -> selection        :func:`sketchsynth.selection.select.select`
Writer                 selection -> outputs       :func:`sketchsynth.outputs.synthesis.write_synthesis`
=====================  =========================  ================================================
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import DatabaseError, InputError, ParameterError
from .core import Pipeline, Stage


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
    """keypoints -> target: the input normalized like the database, all points weighted.

    Another person's face is carried onto the database speaker's (``retarget``,
    :mod:`sketchsynth.targets.retarget`). Streams frame by frame (retargeting by the driver's running statistics)
    unless a temporal filter, which looks ahead, is asked for.
    """

    name, input_kind, output_kind = "normalize", "keypoints", "target"

    def __init__(self, track_filter: str = "none", retarget: str = "auto"):
        self.track_filter, self.retarget = track_filter, retarget

    def transform(self, track):
        from ..targets.face import face_target

        return face_target(self.db_, track, self.track_filter, self.retarget)

    def start(self):
        return _Normalizing(self) if self.track_filter == "none" else super().start()


class _Normalizing:
    """Normalize's stream: frame by frame, another person's face retargeted by running statistics."""

    def __init__(self, stage):
        from ..targets.retarget import StreamRetarget

        self.stage, self.retarget = stage, StreamRetarget(stage.retarget).fit(stage.db_)

    def push(self, chunk):
        from ..targets.face import face_target

        target = face_target(self.stage.db_, chunk, "none", "off")
        target.points = self.retarget.push(target.points, target.weights, target.usable)
        target.report["retarget"] = dict(self.retarget.report_)
        return target

    def finish(self):
        return None


# ---------------------------------------------------------------------- audio input
class AudioSource(Stage):
    """path -> audio: any file FFmpeg reads with sound (a video's track too), resampled to 16 kHz mono."""

    name, input_kind, output_kind = "audio", "path", "audio"

    def transform(self, path):
        from pathlib import Path

        from ..database.sound import SAMPLE_RATE
        from ..io.audio import is_silent, load_audio
        from ..targets.speech.inputs import Audio

        y = load_audio(path, SAMPLE_RATE)
        fps = db_fps(self.db_)
        if len(y) < SAMPLE_RATE / fps:
            raise InputError(f"audio too short: {1000 * len(y) / SAMPLE_RATE:.1f} ms, less than one frame "
                             f"({1000 / fps:.0f} ms at the database's {fps:g} fps)", path)
        if is_silent(y, SAMPLE_RATE):
            raise InputError("the audio is silent (no speech to drive the face)", path)
        return Audio(y, SAMPLE_RATE, os.fspath(path), Path(path).stem)


class SpeechFeatures(Stage):
    """audio -> audio_features: the chosen speech model's front end, context windows per output frame.

    Parameters
    ----------
    voices : {"auto", "own", "other"}
        Which of the database's speech models reads the sound: ``auto`` chooses by the voice-distance ratio
        (:func:`sketchsynth.targets.speech.voices.route`: the database's own model for its speaker's voice, the
        model for other voices otherwise, when the database has one); ``own`` / ``other`` force one.
    """

    name, input_kind, output_kind = "speech-features", "audio", "audio_features"
    VOICES = ("auto", "own", "other")

    def __init__(self, voices: str = "auto"):
        self.voices = voices

    def fit(self, db):
        from ..targets.speech.model_store import other_voice_model, require_model

        if self.voices not in self.VOICES:
            raise ParameterError(f"voices must be one of {', '.join(self.VOICES)}, got {self.voices!r}")
        self.db_, self.model_ = db, require_model(db)
        self.other_ = other_voice_model(db) if self.voices != "own" else None
        if self.voices == "other" and self.other_ is None:
            raise DatabaseError("the database has no speech model for other voices; fit one with: sketchsynth "
                                f"fit-speech --db {getattr(db, 'path_', None) or 'DIR'}", getattr(db, "path_", None))
        return self

    def frame_times(self, audio) -> np.ndarray:
        """Output frame times, s: the sound's own, or every 1 / fps for as long as it lasts."""
        if audio.frame_times is not None:
            return np.asarray(audio.frame_times, np.float64)
        return np.arange(max(1, int(np.floor(audio.duration_s * db_fps(self.db_) + 1e-9)))) / db_fps(self.db_)

    def choose(self, audio, times):
        """(the model that reads this sound, the voice-distance ratio measured or None)."""
        from ..targets.speech.voices import route

        if self.voices == "other":
            return self.other_, None
        return route(self.db_, self.model_, self.other_, audio.samples, times, audio.sr)

    def transform(self, audio):
        from ..targets.speech.inputs import AudioFeatures

        t0 = time.perf_counter()
        times = self.frame_times(audio)
        model, ratio = self.choose(audio, times)
        X = model.features(self.db_, audio.samples, times)
        return AudioFeatures(X, times, db_fps(self.db_), audio, {"features_s": time.perf_counter() - t0},
                             model=model, voice_ratio=ratio)

    def start(self, live: bool = False):
        """The stage's stream. By default it equals :meth:`transform` on the whole input (chunks of audio in, the
        features at the end). ``live=True``: mono 16 kHz sample chunks in, the frames whose look-ahead has arrived
        out at once (the same features to float rounding; what ``sketchsynth live`` runs on). Live, the database's
        own model reads every voice: the model for other voices normalizes over 1.5 s on either side of a frame,
        more look-ahead than a conversation allows."""
        if not live:
            return super().start()
        from ..targets.speech.streaming import FeatureStream

        if self.voices == "other":
            raise ParameterError("the model for other voices needs 1.5 s of sound after each frame and cannot run "
                                 "live; leave voices at auto or own")
        return FeatureStream(self.model_.extractor(self.db_), self.model_, db_fps(self.db_)).start()


class SpeechTarget(Stage):
    """audio_features -> target: the predicted jaw and lips, weighted as the database weighs them; nothing else.

    Head pose, eyes and brows are left to the recorded frames (weight 0 there).

    Parameters
    ----------
    audio_weight : float, optional
        The audio-feature term's weight (:func:`sketchsynth.targets.speech.target.speech_target`).
    lle_blend : float, optional
        A fixed LLE projection blend instead of the model's voice-distance rule (a TTS voice uses 0.5).
    closure_weight, closure_threshold : float, optional
        Where the sound says b, p or m the target's mouth moves towards the database's closed mouth, by
        ``closure_weight`` times how far the phone model's probability of those phones lies above
        ``closure_threshold`` (:mod:`sketchsynth.targets.speech.closure`, its ``CLOSURE_WEIGHT`` and
        ``CLOSURE_THRESHOLD`` by default; weight 0 = off, and then pocketsphinx is not needed).
    closure_causal : bool
        The phone model removes the cepstral mean of the past only, as ``live`` must, instead of the centred one
        (the batch twin of the live target).
    """

    name, input_kind, output_kind = "speech-target", "audio_features", "target"

    def __init__(self, audio_weight: float | None = None, lle_blend: float | None = None,
                 closure_weight: float | None = None, closure_threshold: float | None = None,
                 closure_causal: bool = False):
        self.audio_weight, self.lle_blend, self.closure_causal = audio_weight, lle_blend, closure_causal
        self.closure_weight, self.closure_threshold = closure_weight, closure_threshold

    def fit(self, db):
        from ..targets.speech.closure import PhonePosteriors, closed_mouth, closure_settings
        from ..targets.speech.model_store import require_model

        model = require_model(db)
        self.own_ = model
        self.db_, self.model_ = db, model if self.lle_blend is None else model.with_blend(self.lle_blend)
        self.closure_params_ = closure_settings(self.closure_weight, self.closure_threshold)
        closing = self.closure_params_ is not None
        self.closed_ = closed_mouth(db) if closing else None
        self.phone_model_ = PhonePosteriors.shared() if closing else None  # a missing pocketsphinx says so here
        return self

    def closure(self, feats) -> np.ndarray | None:
        """(T,) how far each frame's mouth closes (None when off); records its time in ``feats.timings``."""
        if self.closure_params_ is None:
            return None
        from ..targets.speech.closure import closure_strength

        t0 = time.perf_counter()
        a = feats.audio
        p = self.phone_model_.closing_probability(a.samples, a.sr, feats.time_s, feats.fps, bool(self.closure_causal))
        feats.timings["closure_s"] = time.perf_counter() - t0
        return closure_strength(p, *self.closure_params_)

    def model_for(self, feats):
        """The model that reads ``feats``: the one SpeechFeatures chose (the own one with this stage's blend)."""
        model = getattr(feats, "model", None)
        return self.model_ if model is None or model is self.own_ else model

    def predict(self, feats) -> np.ndarray:
        """(T, 37, 2) normalized SPEECH_POINTS, calibrated in amplitude for another voice; records projection and
        regression timings (and the calibration's gain) in ``feats.timings``."""
        model = self.model_for(feats)
        if feats.reduced is None:
            feats.reduced = model.reduce(feats.X)
        pred = model.predict(feats.X, feats.timings, reduced=feats.reduced)
        if getattr(model, "calibration_", None) is not None:
            pred, feats.timings["amplitude_gain"] = model.calibration_.transform(pred)
        return pred

    def transform(self, feats):
        from ..targets.speech.target import speech_target

        pred = self.predict(feats)
        closing = self.closure(feats)
        tgt = speech_target(self.db_, pred, feats, audio_weight=self.audio_weight, model=self.model_for(feats),
                            closure=closing, closed=self.closed_)
        if closing is not None:
            w, thr = self.closure_params_
            tgt.report["closure"] = {"weight": w, "threshold": thr, "frames_closing": int(np.sum(closing > 0))}
        if getattr(feats, "model", None) is not None:
            tgt.report = {**tgt.report, "voice_ratio": feats.voice_ratio,
                          "voice_model": "own" if self.model_for(feats) is self.model_ else "other voices",
                          "amplitude_gain": feats.timings.get("amplitude_gain")}
        return tgt

    def start(self, live: bool = False):
        """The stage's stream: by default equal to :meth:`transform` on the whole input. ``live=True``: features
        of some frames in, their target out at once, the LLE blend from a running voice estimate, no audio
        term (it needs the whole input's statistics), the closure at b, p and m from the phone model with a
        causal cepstral mean (:class:`~sketchsynth.targets.speech.closure.StreamingClosure`) -- what
        ``sketchsynth live`` runs on."""
        if not live:
            return super().start()
        from ..targets.speech.closure import StreamingClosure
        from ..targets.speech.streaming import StreamingSpeechTarget, TargetStream

        m = self.model_
        fixed = None if m.lle_auto else float(m.lle_blend)
        target = StreamingSpeechTarget(m, m.mean_mouth(self.db_), self.db_.weights_, blend=fixed,
                                       closed=self.closed_).start()
        if self.closure_params_ is None:
            return TargetStream(target)
        closure = StreamingClosure(self.phone_model_, db_fps(self.db_), *self.closure_params_).start()
        return TargetStream(target, closure)


# ---------------------------------------------------------------------- selection and outputs
class Selector(Stage):
    """target -> selection: the FAISS prefilter, exact re-rank, and the Viterbi decoder."""

    name, input_kind, output_kind = "viterbi", "target", "selection"

    def __init__(self, decoder=None, metric="sum", k=None, search="auto", ivf=None, exhaustive=False,
                 pose_weight=None, pose_join_weight=None):
        self.decoder, self.metric, self.k, self.search, self.ivf = decoder, metric, k, search, ivf
        self.exhaustive, self.pose_weight, self.pose_join_weight = exhaustive, pose_weight, pose_join_weight

    def transform(self, target):
        from ..selection.select import select

        return select(self.db_, target, self.decoder, self.metric, self.k, self.search, self.ivf, self.exhaustive,
                      pose_weight=self.pose_weight, pose_join_weight=self.pose_join_weight)


class Writer(Stage):
    """selection -> outputs: selection.csv, matched/, plots, sketch.mp4 and frames.mp4 (with the sound).

    Parameters
    ----------
    out : path
    folder : OutputFolder, optional
        The output folder, opened by the caller before the work (:class:`sketchsynth.outputs.results.OutputFolder`).
    keep_audio : str, optional
        Keep a copy of ``audio`` in the output folder under this name (a TTS voice).
    seam_blend : int
        Frames over which each jump is blended away in the written keypoints (the selection does not change).
    Other parameters: see :func:`sketchsynth.outputs.synthesis.write_synthesis`.
    """

    name, input_kind, output_kind = "writer", "selection", "outputs"

    def __init__(self, out, force=False, plot_frames=None, sketch_layout="side-by-side", audio=None,
                 sketch_video=False, progress=False, summary_extra=None, protect=(), frames_mode=None,
                 background="auto", blend="feather", seam_blend=0, folder=None, keep_audio=None):
        self.out, self.force, self.plot_frames, self.sketch_layout = out, force, plot_frames, sketch_layout
        self.frames_mode, self.background, self.blend, self.seam_blend = frames_mode, background, blend, seam_blend
        self.protect = list(protect)
        self.audio, self.sketch_video, self.progress = audio, sketch_video, progress
        self.summary_extra = summary_extra or {}
        self.folder = folder
        self.keep_audio = keep_audio

    def transform(self, syn):
        from ..outputs.synthesis import write_synthesis

        extra = dict(self.summary_extra)
        audio, sketch_video = self.audio, self.sketch_video
        if syn.track.kind == "audio":
            # speech or text drives: the sound is the input's, the pixels are the selected frames' own
            audio, sketch_video = audio or syn.track.path, True
            extra.setdefault("drive", "audio")
            extra["pixels"] = "selected database frames' own pixels (no input face to place them on)"
            extra["sketch_input"] = "the selected frame with its jaw and lips replaced by the predicted ones"
        write_synthesis(self.out, self.db_, syn, force=self.force, plot_frames=self.plot_frames,
                        sketch_layout=self.sketch_layout, audio=audio, sketch_video=sketch_video,
                        progress=self.progress, summary_extra=extra, protect=self.protect,
                        frames_mode=self.frames_mode, background=self.background, blend=self.blend,
                        seam_blend=self.seam_blend,
                        folder=self.folder if getattr(self.folder, "tmp", None) is not None else None,
                        keep_audio=self.keep_audio)
        return syn


def keypoint_pipeline(source: KeypointSource, selector: Selector, writer: Writer | None = None,
                      track_filter="none", retarget: str = "auto") -> Pipeline:
    stages = [source, Normalize(track_filter, retarget), selector] + ([writer] if writer else [])
    return Pipeline(stages)


def audio_pipeline(selector: Selector, writer: Writer | None = None, audio_weight: float | None = None,
                   lle_blend: float | None = None, voices: str = "auto") -> Pipeline:
    stages = [AudioSource(), SpeechFeatures(voices), SpeechTarget(audio_weight, lle_blend), selector]
    return Pipeline(stages + ([writer] if writer else []))
