"""The stage protocol and :class:`Pipeline`: what ``match``, ``say``, ``evaluate`` and the demo run.

A stage is a class with

- ``name``, ``input_kind`` and ``output_kind`` (each one of :data:`KINDS`);
- its options as ``__init__`` parameters, stored unchanged;
- ``fit(db)`` -> self: what it needs of the database (attributes ending in ``_``);
- ``transform(x)`` -> the output, for the whole input;
- ``start()`` -> a stream with ``push(chunk)`` -> the output ready so far and ``finish()`` -> the rest.
  Fed the whole input in pieces, the concatenated output equals ``transform``'s (:func:`concat`). The
  base class's stream buffers and transforms at ``finish``; stages that can work frame by frame
  override it.

A :class:`Pipeline` chains stages whose kinds meet; :meth:`Pipeline.run` is the only place that runs
them. Third-party stages join through the registry (:mod:`sketchsynth.pipeline.registry`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

KINDS = {
    "text": "the text to say (str)",
    "path": "a file or folder to read (str or os.PathLike)",
    "keypoints": "a Track (sketchsynth.sources.recordings): keypoints (T, 70, 3) float32 in image pixels with "
                 "confidence, frame numbers, times in s, fps",
    "audio": "an Audio (sketchsynth.targets.speech.inputs): mono float32 samples in [-1, 1] at sr Hz",
    "audio_features": "an AudioFeatures (sketchsynth.targets.speech.inputs): X (T, n_features) float32, one row per "
                      "output frame, and their times",
    "speech": "a Spoken (sketchsynth.targets.text.speak): what is said, as 16 kHz samples and phone intervals",
    "target": "a Target (sketchsynth.targets.target): per output frame, normalized points (T, 70, 2), point "
              "weights (T, 70), usability, optional feature and phone terms",
    "selection": "a Synthesis (sketchsynth.selection.select): the chosen database rows, costs, statistics",
    "outputs": "the same Synthesis once written (its summary filled in)",
}
"""The kinds of value passed between stages, and what each one is."""


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

    def start(self) -> "BufferedStream":
        """A stream that keeps the pieces and transforms their concatenation at ``finish``."""
        return BufferedStream(self)

    def __repr__(self):
        return f"{type(self).__name__}({self.input_kind} -> {self.output_kind})"


class BufferedStream:
    """The streaming form of a stage that needs its whole input: nothing until ``finish``."""

    def __init__(self, stage):
        self.stage = stage
        self.parts = []

    def push(self, chunk):
        self.parts.append(chunk)
        return None

    def finish(self):
        if not self.parts:
            return None
        return self.stage.transform(concat(self.stage.input_kind, self.parts))


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

    def run(self, x, upto: str | None = None, start: str | None = None, before=None):
        """Run the stages on ``x``.

        Parameters
        ----------
        x : the first stage's input kind (or ``start``'s)
        upto : str, optional
            Stop after the stage producing this kind.
        start : str, optional
            Begin at the first stage taking this kind (``x`` is of it).
        before : callable, optional
            ``before(stage, x)`` is called before each stage (a command checks an input's size, or opens
            its output folder, once it knows what the stage gets).
        """
        stages = self.stages
        if start is not None:
            i = next((k for k, s in enumerate(stages) if s.input_kind == start), None)
            if i is None:
                raise ParameterError(f"no stage of {' -> '.join(self.names())} takes {start}")
            stages = stages[i:]
        for s in stages:
            if before is not None:
                before(s, x)
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


# ---------------------------------------------------------------------- pieces of a stream
def concat(kind: str, parts: list):
    """One value of ``kind`` from consecutive pieces (the inverse of :func:`split`)."""
    parts = [p for p in parts if p is not None]
    if kind not in CONCAT:
        if len(parts) != 1:
            raise ParameterError(f"a {kind} comes whole, not in {len(parts)} pieces")
        return parts[0]
    return CONCAT[kind](parts)


def split(kind: str, x, bounds) -> list:
    """Consecutive pieces of ``x`` between ``bounds`` (ascending frame or sample indices)."""
    if kind not in SPLIT:
        return [x]
    edges = [0, *[int(b) for b in bounds], None]
    return [SPLIT[kind](x, a, b) for a, b in zip(edges, edges[1:])]


def _cat(arrays):
    return None if arrays[0] is None else np.concatenate(arrays)


def _concat_track(parts):
    import copy

    t = copy.copy(parts[0])
    for f in ("keypoints", "frames", "time_s", "n_people"):
        setattr(t, f, np.concatenate([getattr(p, f) for p in parts]))
    t.sources = [s for p in parts for s in p.sources]
    return t


def _split_track(t, a, b):
    import copy

    c = copy.copy(t)
    for f in ("keypoints", "frames", "time_s", "n_people"):
        setattr(c, f, getattr(t, f)[a:b])
    c.sources = t.sources[a:b]
    return c


def _concat_audio(parts):
    from dataclasses import replace

    return replace(parts[0], samples=np.concatenate([p.samples for p in parts]))


def _split_audio(x, a, b):
    from dataclasses import replace

    return replace(x, samples=x.samples[a:b])


def _concat_features(parts):
    from dataclasses import replace

    return replace(parts[0], X=np.concatenate([p.X for p in parts]), time_s=np.concatenate([p.time_s for p in parts]),
                   reduced=_cat([p.reduced for p in parts]))


def _split_features(x, a, b):
    from dataclasses import replace

    return replace(x, X=x.X[a:b], time_s=x.time_s[a:b], reduced=None if x.reduced is None else x.reduced[a:b])


PER_FRAME_TARGET = ("points", "weights", "usable", "reason", "matrices", "frames", "time_s", "keypoints", "prediction")


def _concat_target(parts):
    from dataclasses import replace

    fields = {f: _cat([getattr(p, f) for p in parts]) for f in PER_FRAME_TARGET}
    if parts[0].features is not None:
        fields["features"] = replace(parts[0].features, query=np.concatenate([p.features.query for p in parts]))
    if parts[0].track is not None:
        fields["track"] = _concat_track([p.track for p in parts])
    return replace(parts[0], **fields)


def _split_target(x, a, b):
    from dataclasses import replace

    fields = {f: None if getattr(x, f) is None else getattr(x, f)[a:b] for f in PER_FRAME_TARGET}
    if x.features is not None:
        fields["features"] = replace(x.features, query=x.features.query[a:b])
    if x.track is not None:
        fields["track"] = _split_track(x.track, a, b)
    return replace(x, **fields)


CONCAT = {"keypoints": _concat_track, "audio": _concat_audio, "audio_features": _concat_features,
          "target": _concat_target}
SPLIT = {"keypoints": _split_track, "audio": _split_audio, "audio_features": _split_features,
         "target": _split_target}
