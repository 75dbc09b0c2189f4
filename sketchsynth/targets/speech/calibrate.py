"""Mouth amplitude for other voices: an unseen voice's predicted mouth made to move as much as the speaker's own.

A regressor's prediction for a voice it was not fitted on hugs the mean mouth (its features fall between the
database's, and the ridge and kNN averages shrink them): on half of the other people's clips measured, the
selected mouth moved a fifth to two thirds as much as their own. :class:`AmplitudeCalibration` scales the
prediction's deviation from the mean mouth, per input, so that the spread of its inner-lip opening reaches the
spread the database speaker's own unseen speech gets from the database's model:

    ``s = clip(ref_spread_ / spread(input), min_gain, max_gain)``;  ``pred' = mean_ + s (pred - mean_)``

with spread = the ``q`` - (1 - ``q``) quantile range of the opening over the input's frames, and
``ref_spread_`` = (median over the database's recordings of their true spread) x ``ref_factor_``, the factor
measured at fit time on a held-out fold of the database's own recordings (predicted spread / true spread;
:func:`sketchsynth.targets.speech.voices.heldout_spread_factor`).
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError


def opening(mouth: np.ndarray) -> np.ndarray:
    """Inner-lip opening (the mean gap of ``layout.INNER_LIP_PAIRS``) of mouths in SPEECH_POINTS order,
    (n, 37, 2) -> (n,), normalized units."""
    from ...layout import INNER_LIP_PAIRS, SPEECH_POINTS

    sp = list(SPEECH_POINTS)
    up, lo = [sp.index(p) for p, _ in INNER_LIP_PAIRS], [sp.index(q) for _, q in INNER_LIP_PAIRS]
    m = np.asarray(mouth, np.float64)
    return np.linalg.norm(m[:, up] - m[:, lo], axis=-1).mean(axis=1)


def recording_mouths(db, rows: np.ndarray) -> list:
    """The database's tracked normalized mouths over ``rows``, one array (n_i, 37, 2) float64 per recording."""
    from ...layout import SPEECH_POINTS

    rows = np.unique(np.asarray(rows, np.int64))
    rec = np.asarray(db.table_["recording"])[rows]
    return [np.asarray(db.normalized_[rows[rec == name]][:, SPEECH_POINTS], np.float64) for name in np.unique(rec)]


class AmplitudeCalibration:
    """Per-input gain on a predicted mouth's deviation from the mean mouth.

    Parameters
    ----------
    q : float
        Upper quantile of the spread (0.9: the 10-90 % range of the opening).
    max_gain, min_gain : float
        Bounds of the gain (``min_gain`` 1: a prediction is never shrunk).

    Attributes
    ----------
    mean_ : np.ndarray, shape (37, 2), float32
        The mean mouth the deviation is taken from (the model's ``mouth_mean_``).
    ref_spread_ : float
        Spread the calibrated opening aims at, normalized units.
    ref_factor_ : float
        The model's predicted spread over the true one on the speaker's own held-out speech.
    """

    def __init__(self, q: float = 0.9, max_gain: float = 3.0, min_gain: float = 1.0):
        self.q, self.max_gain, self.min_gain = q, max_gain, min_gain

    def get_params(self) -> dict:
        return {"q": self.q, "max_gain": self.max_gain, "min_gain": self.min_gain}

    def __repr__(self):
        return "AmplitudeCalibration(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def spread(self, mouth: np.ndarray) -> float:
        """The ``q`` quantile range of the opening of mouths (n, 37, 2), normalized units."""
        o = opening(mouth)
        return float(np.quantile(o, self.q) - np.quantile(o, 1 - self.q)) if len(o) else 0.0

    def fit(self, true_mouths, mean: np.ndarray, factor: float) -> "AmplitudeCalibration":
        """Fit the reference; returns self.

        Parameters
        ----------
        true_mouths : list of np.ndarray, each (n_i, 37, 2)
            The database recordings' own (tracked, normalized) mouths, one array per recording.
        mean : np.ndarray, shape (37, 2)
        factor : float
            Predicted / true spread on held-out recordings of the speaker.
        """
        if not (0.5 < self.q < 1 and 1 <= self.max_gain and 0 < self.min_gain <= self.max_gain):
            raise ParameterError(f"calibration needs 0.5 < q < 1 and 0 < min_gain <= max_gain, >= 1: {self!r}")
        spreads = [self.spread(m) for m in true_mouths if len(m) >= 2]
        if not spreads or not (np.isfinite(factor) and factor > 0):
            raise ParameterError("calibration: no recording to measure the opening's spread on")
        self.mean_ = np.asarray(mean, np.float32)
        self.ref_factor_ = float(factor)
        self.ref_spread_ = float(np.median(spreads)) * self.ref_factor_
        return self

    def gain(self, pred: np.ndarray) -> float:
        """The gain for one input's prediction (T, 37, 2)."""
        return float(np.clip(self.ref_spread_ / max(self.spread(pred), 1e-9), self.min_gain, self.max_gain))

    def transform(self, pred: np.ndarray) -> tuple[np.ndarray, float]:
        """(calibrated prediction (T, 37, 2) float32, the gain used)."""
        g = self.gain(pred)
        return (self.mean_ + g * (np.asarray(pred, np.float32) - self.mean_)).astype(np.float32), g

    def to_dict(self) -> dict:
        return {"params": self.get_params(), "ref_spread": self.ref_spread_, "ref_factor": self.ref_factor_,
                "mean": np.asarray(self.mean_, np.float64).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "AmplitudeCalibration":
        c = cls(**d["params"])
        c.ref_spread_, c.ref_factor_ = float(d["ref_spread"]), float(d["ref_factor"])
        c.mean_ = np.asarray(d["mean"], np.float32)
        return c
