"""Defaults shared by the library and the command line; a standard-library import only, so that
``sketchsynth --help`` and option parsing load no numpy, pandas or numba."""

import os

DEFAULT_DB = os.path.join("db", "default")
"""The database folder when ``--db`` is not given."""

# The smooth decoder's (sketchsynth.selection.decode re-exports them).
DEFAULT_SMOOTH = 0.5
"""Default weight of the join cost against the target cost, chosen with ``sketchsynth evaluate``:
with :data:`DEFAULT_JUMP_COST` it cut jumps 5.3x for +28% mean target cost on a held-out
stretch of the henan take (30 fps), and 5.0x for +29% on the fadg0 sentences held out one
at a time (25 fps); the join's distance term alone (jump cost 0) needs lambda = 2 for 4.7x at +39%."""
DEFAULT_AUDIO_SMOOTH = 0.6
"""λ of audio-driven matching (``match speech.wav``'s and ``evaluate --drive audio``'s default --smooth).
With ``sketchsynth.pipeline.stages.TARGET_GAIN`` and ``CORNER_WEIGHT`` on GRID s1's validation fold: 0.5 -> 5.7
jumps/s, 0.6 -> 5.5, 0.75 -> 4.7 (opening r 0.853, 0.853, 0.852; width r 0.556, 0.553, 0.546)."""
DEFAULT_AUDIO_WEIGHT = 0.0
"""Relative weight of the audio term of a speech-driven match (``--audio-weight``): the distance between
the driving sound's features and each database frame's own, against the mouth term (1 = equal medians)."""
DEFAULT_CANDIDATES = 32
"""Top-K frames per input frame in the lattice."""
DEFAULT_JUMP_COST = 1.5
"""Constant added to every jump's join cost, in units of the input's median per-frame target cost."""
