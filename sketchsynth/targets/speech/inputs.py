"""The values of the speech chain: the driving sound (:class:`Audio`) and its features per output frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Audio:
    """Driving sound: mono samples at ``sr`` Hz (float32 in [-1, 1]) and where they came from."""

    samples: np.ndarray
    sr: int
    path: str
    name: str
    frame_times: np.ndarray | None = None
    """Output frame times in s when the sound belongs to video frames (a held-out recording's); None: every
    1 / fps from 0 for as long as the sound lasts."""

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
    model: object = None
    """The speech model whose front end made ``X`` (the database's own, or its model for other voices)."""
    voice_ratio: float | None = None
    """The voice-distance ratio the model was chosen by (None when not measured)."""
