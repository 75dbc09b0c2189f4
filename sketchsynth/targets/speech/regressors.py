"""Speech regressors by name: built in, or published in the entry-point group ``sketchsynth.regressors``.

A regressor is a class with ``fit(X, Y)`` -> self and ``predict(X)``, X (n, n_features) and Y (n, 74): the
normalized jaw and lips (:data:`sketchsynth.layout.SPEECH_POINTS`) flattened.
"""

from __future__ import annotations

from ...errors import ParameterError
from ...registry import Registry


REGRESSORS = Registry("sketchsynth.regressors", "speech regressor", {
    "ridge": "sketchsynth.targets.speech.regress:RidgeMouth",
    "knn": "sketchsynth.targets.speech.regress:KNNMouth",
    "ridge+knn": "sketchsynth.targets.speech.regress:RidgeKNNMouth",
    "mlp": "sketchsynth.targets.speech.neural:MLPMouth",
})


def regressor_class(name: str):
    """A regressor class by name (``ridge``, ``knn``, ``ridge+knn``, ``mlp``, or registered)."""
    cls = REGRESSORS.get(name)
    if not (hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ParameterError(f"{name!r} is not a regressor (it needs fit(X, Y) and predict(X))")
    return cls
