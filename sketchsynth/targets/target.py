"""The value every target stage produces and the selection consumes: :class:`Target`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class Target:
    """What the selection aims at, one entry per output frame.

    A face, a mouth predicted from speech, and phones from text all become this; the
    selection (:func:`sketchsynth.selection.select.select`) knows nothing else of where
    a target came from.

    Attributes
    ----------
    points : np.ndarray, shape (T, 70, 2), float32
        Per-frame target in the database's normalized space (0 where ignored).
    weights : np.ndarray, shape (T, 70), float64
        Per-point weights (0 = ignored: e.g. everything but mouth and jaw for speech).
    usable : np.ndarray, shape (T,), bool
    reason : np.ndarray, shape (T,), object
        Why a frame is unusable ("" when usable).
    matrices : np.ndarray, shape (T, 2, 3), float64, or None
        The input's image -> normalized maps, to draw the match where the input's
        face is; None: draw in the selected frames' own pixels (speech, text).
    frames : np.ndarray, shape (T,), int64
        Input frame numbers; a hole starts a new decoding segment.
    time_s : np.ndarray, shape (T,), float64
    fps : float
    features : FeatureTerm, optional
        An extra target-cost term (:mod:`sketchsynth.targets.feature_term`): for speech, the distance
        between the input's and the database frames' audio features.
    phones : object, optional
        A phone term (:class:`sketchsynth.targets.text.target.PhoneTerm`): it offers its own candidates
        (phone-driven) or adds its cost to the keypoint candidates (``both``). Its ``lattice(db, lattice)``
        returns the lattice the decoder sees.
    keypoints : np.ndarray, shape (T, 70, 3), float32, optional
        The input face as read (image pixels, confidence), after any temporal filter.
    track : Track, optional
        The input as read (a keypoint source's track); None for sound and text.
    audio : str, optional
        The driving sound's file.
    name : str
    prediction : np.ndarray, shape (T, 37, 2), optional
        A speech target's predicted jaw and lips (:data:`sketchsynth.layout.SPEECH_POINTS`) before the
        target's gain.
    report : dict
        JSON values saying how the target was made (``input_filter``, ``audio_weight``, ``lle``...),
        copied into the match's ``summary.json``.
    timings : dict
        Seconds per step that made the target.
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
    phones: object = None
    keypoints: np.ndarray | None = None
    track: object = None
    audio: str | None = None
    name: str = "input"
    prediction: np.ndarray | None = None
    report: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.frames)

    def head(self, n: int) -> "Target":
        """The first ``n`` frames (the per-frame arrays cut, the rest shared)."""
        cut = {k: None if getattr(self, k) is None else getattr(self, k)[:n]
               for k in ("points", "weights", "usable", "reason", "matrices", "frames", "time_s", "keypoints",
                         "prediction")}
        return replace(self, **cut)
