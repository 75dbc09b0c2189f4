"""sketchsynth: concatenative synthesis of talking-face sketches.

A speaker's recorded frames (70 OpenPose face keypoints each) are normalized and
stored once in a :class:`FrameDatabase`; a new input sequence is matched frame
by frame against it (:func:`match`), and the chosen frames are drawn as
sketches.
"""

from ._version import __version__
from .errors import DatabaseError, DependencyError, InputError, ParameterError, SketchSynthError

# Heavy modules (pandas, numba, faiss) load on first use so `sketchsynth --help` stays fast.
_LAZY = {"FrameDatabase": "database.frame_database", "Normalizer": "database.normalize", "match": "selection.matching",
         "MatchResult": "selection.matching"}

__all__ = ["__version__", "FrameDatabase", "Normalizer", "match", "MatchResult", "SketchSynthError",
           "InputError", "DatabaseError", "ParameterError", "DependencyError"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sketchsynth' has no attribute {name!r}")
