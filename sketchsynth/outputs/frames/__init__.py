"""The real-frame video (``frames.mp4``): one renderer per ``--frames`` mode, found by name.

A renderer is a class taking its options at construction (``background``, ``blend``... as keywords; it
ignores the ones it has no use for) with ``render(job)`` -> (an iterable of BGR uint8 images, one per
output frame, all of one size; a dict of what it did, merged into ``videos.json``). Built in: ``composite``
(:mod:`.composite`), ``full`` (:mod:`.full`), ``warp`` (:mod:`.warp`); others register in the entry-point
group ``sketchsynth.renderers``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...registry import Registry

RENDERERS = Registry("sketchsynth.renderers", "frames renderer", {
    "composite": "sketchsynth.outputs.frames.composite:CompositeRenderer",
    "full": "sketchsynth.outputs.frames.full:FullRenderer",
    "warp": "sketchsynth.outputs.frames.warp:WarpRenderer",
})
"""Frames renderers by name."""


@dataclass
class FramesJob:
    """What a renderer draws.

    Attributes
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        The database row shown at each output frame (-1: none).
    matrices : np.ndarray, shape (n_out, 2, 3), float64
        The input's image -> normalized map at each output frame (NaN without an input face).
    size : tuple of int
        The input's (width, height) in pixels.
    matched_kp : np.ndarray, shape (n_in, 70, 3), float32
        The chosen frames in the input's pixels, per input frame.
    index : np.ndarray, shape (n_out,), int64
        The input frame of each output frame.
    track : Track
        The input.
    plan : BackgroundPlan, optional
        The background take the selection was made for (composite plays it).
    target_points : np.ndarray, shape (n_in, 70, 2), float64, optional
        The target in the database's normalized space, per input frame (composite's mouth follows it).
    candidates : np.ndarray, shape (n_in, K), int64, optional
        Each input frame's candidate rows, best first (composite's alternatives to an implausible paste).
    """

    db: object
    rows_out: np.ndarray
    matrices: np.ndarray
    size: tuple
    matched_kp: np.ndarray
    index: np.ndarray
    track: object
    plan: object = None
    target_points: np.ndarray | None = None
    candidates: np.ndarray | None = None


def make_renderer(name: str, **options):
    """The renderer registered under ``name``, made with ``options``."""
    return RENDERERS.get(name)(**options)
