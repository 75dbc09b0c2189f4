"""A speech target: the jaw and lips a speech model predicts, weighted as the database weighs them."""

from __future__ import annotations

import numpy as np

from ...defaults import DEFAULT_AUDIO_WEIGHT as AUDIO_WEIGHT
from ...errors import ParameterError
from ..target import Target


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


def speech_target(db, pred: np.ndarray, feats, jaw_weight: float | None = None,
                  inner_lip_weight: float | None = None, corner_weight: float | None = None,
                  gain: float | None = None, audio_weight: float | None = None, model=None,
                  closure: np.ndarray | None = None, closed: np.ndarray | None = None) -> Target:
    """A Target from predicted SPEECH_POINTS (T, 37, 2): weight on those points only.

    Parameters
    ----------
    jaw_weight, inner_lip_weight, corner_weight : float, optional
        Multipliers of the database's weights on the jaw (0-16), the inner lips (60-67) and the lip
        corners (defaults :data:`JAW_WEIGHT`, :data:`INNER_LIP_WEIGHT`, :data:`CORNER_WEIGHT`); every
        other point weighs 0.
    gain : float, optional
        Expansion of the prediction away from the speech model's mean mouth (default :data:`TARGET_GAIN`;
        1 = the prediction as it is). The target's ``prediction`` keeps the prediction itself.
    audio_weight : float, optional
        Relative weight of the audio term (default :data:`AUDIO_WEIGHT`; 0 = none): the distance between
        the input's and each database frame's audio features (the speech model's leading PCA dimensions)
        joins the target cost (:mod:`sketchsynth.targets.feature_term`; 1 makes its median equal the mouth term's).
    model : SpeechModel, optional
        The model that predicted (default: the database's).
    closure : np.ndarray, shape (T,), float, optional
        How far each frame's mouth moves (after the gain) to the database's closed mouth, 0-1
        (:mod:`sketchsynth.targets.speech.closure`: where the sound says b, p or m); None = not at all.
    closed : np.ndarray, shape (37, 2), optional
        The closed mouth (default :func:`~sketchsynth.targets.speech.closure.closed_mouth` of ``db``).
    """
    from ...layout import GROUPS, INNER_LIPS, LIP_CORNERS, N_POINTS, SPEECH_POINTS

    g = TARGET_GAIN if gain is None else float(gain)
    if not (np.isfinite(g) and g > 0):
        raise ParameterError(f"the speech target's gain must be > 0, got {gain}")
    T = len(pred)
    points = np.zeros((T, N_POINTS, 2), np.float32)
    if g == 1:
        points[:, SPEECH_POINTS] = pred
    else:
        from .model_store import require_model

        mean = (model or require_model(db)).mean_mouth(db)
        points[:, SPEECH_POINTS] = mean + g * (np.asarray(pred, np.float32) - mean)
    beta = AUDIO_WEIGHT if audio_weight is None else float(audio_weight)
    report = {"audio_weight": beta}
    if closure is not None:
        from .closure import close_mouth, closed_mouth

        closure = np.asarray(closure, np.float32)
        if closure.shape != (T,):
            raise ParameterError(f"{closure.shape} closure strengths for {T} frames")
        closed = closed_mouth(db) if closed is None else closed
        points[:, SPEECH_POINTS] = close_mouth(points[:, SPEECH_POINTS], closure, closed)
    weights = np.zeros((T, N_POINTS))
    weights[:, SPEECH_POINTS] = db.weights_[SPEECH_POINTS]
    weights[:, GROUPS["jaw"]] *= JAW_WEIGHT if jaw_weight is None else jaw_weight
    weights[:, INNER_LIPS] *= INNER_LIP_WEIGHT if inner_lip_weight is None else inner_lip_weight
    weights[:, list(LIP_CORNERS)] *= CORNER_WEIGHT if corner_weight is None else corner_weight
    term = None
    if beta != 0:
        from .audio_term import audio_term
        from .model_store import require_model

        model = model or require_model(db)
        if feats.reduced is None:
            feats.reduced = model.reduce(feats.X)
        term = audio_term(model, db, feats.reduced, beta)
    a = feats.audio
    if feats.timings.get("lle") is not None:
        report["lle"] = feats.timings["lle"]
    return Target(points, weights, np.ones(T, bool), np.full(T, "", object), None, np.arange(T, dtype=np.int64),
                  feats.time_s, feats.fps, features=term, audio=a.path, name=a.name, prediction=pred, report=report,
                  timings={k: v for k, v in feats.timings.items() if isinstance(v, (int, float))})
