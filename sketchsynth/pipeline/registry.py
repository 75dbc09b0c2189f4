"""Stages by name: the built-in ones and any a package publishes in the entry-point group ``sketchsynth.stages``.

``match --stage NAME`` swaps a registered stage into the pipeline in place of the built-in stages spanning its
``input_kind`` to its ``output_kind``. The other replaceable parts have registries beside what they replace:
speech feature extractors (:data:`sketchsynth.database.speech_features.FEATURES`), speech regressors
(:data:`sketchsynth.targets.speech.regressors.REGRESSORS`) and frames renderers
(:data:`sketchsynth.outputs.frames.RENDERERS`).
"""

from __future__ import annotations

from ..errors import ParameterError
from ..registry import Registry
from .core import check_chain

STAGES = Registry("sketchsynth.stages", "stage", {
    "keypoints": "sketchsynth.pipeline.stages:KeypointSource",
    "normalize": "sketchsynth.pipeline.stages:Normalize",
    "audio": "sketchsynth.pipeline.stages:AudioSource",
    "speech-features": "sketchsynth.pipeline.stages:SpeechFeatures",
    "speech-target": "sketchsynth.pipeline.stages:SpeechTarget",
    "speak": "sketchsynth.pipeline.text:Speak",
    "text-target": "sketchsynth.pipeline.text:TextTarget",
    "viterbi": "sketchsynth.pipeline.stages:Selector",
    "writer": "sketchsynth.pipeline.stages:Writer",
})
"""Built-in stages by name (``module:attribute``, imported when asked for)."""


def available() -> list[str]:
    """Names of every stage :func:`make_stage` can make."""
    return STAGES.available()


def make_stage(name: str, **kwargs):
    """An instance of the stage registered under ``name``, with its options, checked for the protocol."""
    obj = STAGES.get(name)
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


def parse_stage_spec(spec: str) -> tuple[str, dict]:
    """``NAME`` or ``NAME:key=value,key=value`` -> (name, options); values are JSON (numbers, true, "text")
    or else plain text.

    Raises
    ------
    ParameterError
        An option without ``=``.
    """
    import json

    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ParameterError(f"--stage {spec!r}: options are key=value pairs separated by commas, got {item!r}")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return name.strip(), options


def stage_from_spec(spec: str):
    """The stage a ``--stage`` value names, made with its options (see :func:`parse_stage_spec`)."""
    name, options = parse_stage_spec(spec)
    try:
        return make_stage(name, **options)
    except TypeError as e:  # the stage's __init__ does not take these options
        raise ParameterError(f"--stage {spec!r}: {e}") from None
