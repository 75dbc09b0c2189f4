"""Stages: one protocol for every step of a match, and a registry that third-party stages join.

A stage is a plain class with

- ``input_kind`` and ``output_kind``, each one of :data:`KINDS`;
- ``fit(db)`` -> self (stages that learn nothing from the database return self);
- ``transform(x)`` -> the output.

A :class:`Pipeline` chains stages whose kinds meet. ``sketchsynth match`` runs
the pipeline for its input's kind (:func:`pipeline_for`):

- keypoints: ``path -> keypoints`` (OpenPose JSON, arrays, the video tracker),
  ``keypoints -> target`` (normalization), ``target -> selection`` (FAISS
  prefilter + Viterbi), ``selection -> outputs`` (the writers);
- audio (a sound file, or a video with ``--drive audio``): ``path -> audio``,
  ``audio -> audio_features``, ``audio_features -> target`` (the database's
  fitted speech model), then the same selector and writers.

Stages are found by name: the built-in ones (:data:`BUILTIN`) and any object
published in the Python entry-point group ``sketchsynth.pipeline.stages``::

    # a third-party package's pyproject.toml
    [project.entry-points."sketchsynth.pipeline.stages"]
    my-mouth = "mypkg.stages:MyMouthStage"

``match --stage NAME`` swaps it into the pipeline in place of the built-in
stages spanning its ``input_kind`` to its ``output_kind``; ``fit-speech
--regressor NAME`` takes a registered regressor (``fit(X, Y)``, ``predict(X)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError

KINDS = ("path", "keypoints", "audio", "audio_features", "target", "selection", "outputs")
ENTRY_POINT_GROUP = "sketchsynth.pipeline.stages"


@dataclass
class Target:
    """What the selector needs to pick database frames.

    Attributes
    ----------
    points : np.ndarray, shape (T, 70, 2), float32
        Per-frame target in the database's normalized space (0 where ignored).
    weights : np.ndarray, shape (T, 70), float64
        Per-point weights (0 = ignored: e.g. everything but mouth and jaw for speech).
    usable : np.ndarray, shape (T,), bool
    reason : np.ndarray, shape (T,), object
        Why a frame is unusable ("" when usable).
    matrices : np.ndarray, shape (T, 2, 3), or None
        The input's image -> normalized maps, to draw the match where the input's
        face is; None: draw in the selected frames' own pixels.
    frames : np.ndarray, shape (T,), int64
    time_s : np.ndarray, shape (T,), float64
    fps : float
    features : FeatureTerm, optional
        An extra target-cost term (:mod:`sketchsynth.targets.feature_term`): for speech, the distance
        between the input's and the database frames' audio features.
    track : Track, optional
        The input as read (a keypoint source's track, or a stand-in for audio).
    audio : str, optional
        The driving sound's file.
    name : str
    """

    points: np.ndarray
    weights: np.ndarray
    usable: np.ndarray
    reason: np.ndarray
    matrices: np.ndarray | None
    frames: np.ndarray
    time_s: np.ndarray
    fps: float
    features: object = None
    track: object = None
    audio: str | None = None
    name: str = "input"
    extra: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.frames)


class Stage:
    """Base class of stages (optional: any class with the attributes and methods will do)."""

    name = "stage"
    input_kind = "path"
    output_kind = "outputs"

    def fit(self, db) -> "Stage":
        self.db_ = db
        return self

    def transform(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.input_kind} -> {self.output_kind})"


class Pipeline:
    """Stages run in order; each one's output kind is the next one's input kind.

    Parameters
    ----------
    stages : list of stage objects
    """

    def __init__(self, stages):
        self.stages = list(stages)
        check_chain(self.stages)

    @property
    def input_kind(self):
        return self.stages[0].input_kind

    @property
    def output_kind(self):
        return self.stages[-1].output_kind

    def names(self) -> list[str]:
        return [getattr(s, "name", type(s).__name__) for s in self.stages]

    def fit(self, db) -> "Pipeline":
        for s in self.stages:
            s.fit(db)
        return self

    def transform(self, x, upto: str | None = None):
        """Run the stages on ``x``; ``upto`` stops after the stage producing that kind."""
        for s in self.stages:
            x = s.transform(x)
            if upto is not None and s.output_kind == upto:
                break
        return x

    def replace(self, stage) -> "Pipeline":
        """Put ``stage`` in place of the stages spanning its input kind to its output kind."""
        i = next((k for k, s in enumerate(self.stages) if s.input_kind == stage.input_kind), None)
        j = next((k for k, s in enumerate(self.stages) if s.output_kind == stage.output_kind and
                  (i is None or k >= i)), None)
        if i is None or j is None:
            raise ParameterError(f"--stage {getattr(stage, 'name', stage)!r} turns {stage.input_kind} into "
                                 f"{stage.output_kind}, which this pipeline ({' -> '.join(self.names())}) "
                                 "has no place for")
        self.stages[i:j + 1] = [stage]
        check_chain(self.stages)
        return self


def check_chain(stages) -> None:
    """Raise ParameterError unless every stage declares known kinds and they meet."""
    for s in stages:
        for kind in (getattr(s, "input_kind", None), getattr(s, "output_kind", None)):
            if kind not in KINDS:
                raise ParameterError(f"stage {getattr(s, 'name', s)!r} declares kind {kind!r}; kinds are "
                                     f"{', '.join(KINDS)}")
    for a, b in zip(stages, stages[1:]):
        if a.output_kind != b.input_kind:
            raise ParameterError(f"stage {getattr(b, 'name', b)!r} takes {b.input_kind} but follows a stage "
                                 f"giving {a.output_kind}")


# ---------------------------------------------------------------------- registry
BUILTIN = {
    "openpose": "sketchsynth.pipeline.stages:KeypointSource",
    "keypoints": "sketchsynth.pipeline.stages:KeypointSource",
    "normalize": "sketchsynth.pipeline.stages:Normalize",
    "audio": "sketchsynth.pipeline.stages:AudioSource",
    "log-mel": "sketchsynth.pipeline.stages:SpeechFeatures",
    "speech-target": "sketchsynth.pipeline.stages:SpeechTarget",
    "viterbi": "sketchsynth.pipeline.stages:Selector",
    "writer": "sketchsynth.pipeline.stages:Writer",
    "ridge": "sketchsynth.targets.speech.regress:RidgeMouth",
    "knn": "sketchsynth.targets.speech.regress:KNNMouth",
    "mlp": "sketchsynth.targets.speech.neural:MLPMouth",
    "ridge+knn": "sketchsynth.targets.speech.regress:RidgeKNNMouth",
}
"""Built-in stages and regressors by name (``module:attribute``, imported when asked for)."""


def _load(target: str):
    import importlib

    mod, _, attr = target.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def entry_point_stages() -> dict:
    """{name: EntryPoint} of the ``sketchsynth.pipeline.stages`` group, as installed now."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every stage that :func:`get_stage` can load."""
    return sorted(set(BUILTIN) | set(entry_point_stages()))


def get_stage(name: str):
    """The class (or factory) registered under ``name``: built in, else from the entry-point group.

    Raises
    ------
    ParameterError
        No such stage, or it fails to import (the message says which).
    """
    if name in BUILTIN:
        return _load(BUILTIN[name])
    eps = entry_point_stages()
    if name not in eps:
        raise ParameterError(f"no stage named {name!r} (available: {', '.join(available())}; third-party stages "
                             f"register in the entry-point group '{ENTRY_POINT_GROUP}')")
    try:
        return eps[name].load()
    except Exception as e:  # a third party's import error, reported as one line
        raise ParameterError(f"stage {name!r} ({eps[name].value}) fails to load: {type(e).__name__}: {e}") from None


def regressor_class(name: str):
    """A regressor by name (``ridge``, ``knn``, or registered): a class with ``fit(X, Y)`` and ``predict(X)``."""
    cls = get_stage(name)
    if not (hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ParameterError(f"stage {name!r} is not a regressor (it needs fit(X, Y) and predict(X))")
    return cls


def make_stage(name: str, **kwargs):
    """An instance of the stage registered under ``name``, checked for the protocol."""
    obj = get_stage(name)
    stage = obj(**kwargs) if isinstance(obj, type) or callable(obj) else obj
    for attr in ("input_kind", "output_kind", "fit", "transform"):
        if not hasattr(stage, attr):
            raise ParameterError(f"stage {name!r} lacks {attr!r} (a stage declares input_kind/output_kind and has "
                                 "fit(db) and transform(x))")
    if not getattr(stage, "name", None) or stage.name == "stage":
        try:
            stage.name = name
        except AttributeError:
            pass
    check_chain([stage])
    return stage
