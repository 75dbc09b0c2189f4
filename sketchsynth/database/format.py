"""The database format: its name, version, and the data files every database holds."""

from __future__ import annotations


FORMAT = "sketchsynth-frame-db"


FORMAT_VERSION = 2


READABLE_VERSIONS = (1, 2)
"""Version 2 adds the optional audio files and speech model (:mod:`sketchsynth.database.sound`); version 1
databases still load, without sound."""


DATA_FILES = ("keypoints.npy", "normalized.npy", "transforms.npy", "frames.parquet", "index.faiss")


ATTACHED_FILES = ("speech_model.npz", "speech_model_voices.npz")
"""Files fitted on a database by a later stage and kept in its folder (the speech model,
:func:`sketchsynth.pipeline.build.build_database`): allowed in the manifest, checked by whoever loads them."""
