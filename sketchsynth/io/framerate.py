"""The one plausibility check of a frame rate, for --fps, fps.txt sidecars, landmark arrays and videos alike."""

from __future__ import annotations

import math

from ..errors import InputError

FPS_RANGE = (1.0, 1000.0)
"""Frame rates accepted anywhere (frames per second): below 1 or above 1000 is a typo or a broken header."""


def check_frame_rate(fps, what: str = "frame rate", path=None, error=InputError) -> float:
    """``fps`` as a float when it lies within :data:`FPS_RANGE`, else one clean error.

    Parameters
    ----------
    fps : number
    what : str
        How the message names it (``"--fps"``, ``"frame rate"``...).
    path : path, optional
        The file it came from.
    error : type
        :class:`InputError` for a file's value, ``ParameterError`` for an option.
    """
    lo, hi = FPS_RANGE
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise error(f"{what} must be a number of frames per second within {lo:g}-{hi:g}, got {fps!r}",
                    path) from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise error(f"{what} {value:g} is not plausible (expected {lo:g}-{hi:g} frames per second)", path)
    return value
