"""sketch.mp4's frames: the input (black) and the match (blue) side by side or overlaid."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .render import BLACK, BLUE, draw_sketch


LAYOUTS = ("side-by-side", "overlay")


MAX_SKETCH_HEIGHT = 540
"""sketch.mp4 panels are shrunk to at most this height (line drawings need no more)."""


# ---------------------------------------------------------------------- sketch.mp4
def sketch_frames(input_kp: np.ndarray, matched_kp: np.ndarray, size: tuple[int, int], index: np.ndarray,
                  layout: str = "side-by-side", max_height: int = MAX_SKETCH_HEIGHT, thickness: int = 2,
                  input_name: str = "input"):
    """Images of ``sketch.mp4``, one per output frame (a generator).

    Parameters
    ----------
    input_kp, matched_kp : np.ndarray, shape (n_frames, 70, 3)
        Input and matched keypoints in the input's image pixels (NaN or
        confidence 0: not drawn).
    size : (width, height)
        Input frame size.
    index : np.ndarray, shape (n_out,), int
        Input frame shown at each output frame.
    layout : {"side-by-side", "overlay"}
    max_height : int
        Panels taller than this are scaled down.
    input_name : str
        The black sketch's label ("predicted mouth" when speech or text drove: there is no input face).

    Yields
    ------
    np.ndarray, shape (height, width or 2 * width, 3), uint8
        BGR.
    """
    import cv2

    if layout not in LAYOUTS:
        raise ParameterError(f"sketch layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    w, h = size
    scale = min(1.0, max_height / h)
    pw, ph = int(round(w * scale)), int(round(h * scale))
    panels = 1 if layout == "overlay" else 2
    for i in index:
        img = np.full((ph, pw * panels, 3), 255, np.uint8)
        left = img[:, :pw]  # views: drawing on them draws on img
        if layout == "overlay":
            # The match under the input, a little wider: where the two coincide (the lips, mostly) the
            # input must stay black, as the method draws it (drawn last, the match painted the input blue).
            draw_sketch(left, matched_kp[i], BLUE, thickness + 2, scale)
            draw_sketch(left, input_kp[i], BLACK, thickness, scale)
            _legend(left, [(input_name, BLACK), ("match", BLUE)])
        else:
            draw_sketch(left, input_kp[i], BLACK, thickness, scale)
            right = img[:, pw:]
            draw_sketch(right, matched_kp[i], BLUE, thickness, scale)
            _legend(left, [(input_name, BLACK)])
            _legend(right, [("match", BLUE)])
            cv2.line(img, (pw, 0), (pw, ph - 1), (200, 200, 200), 1)
        yield img


def keypoint_canvas(input_kp: np.ndarray, matched_kp: np.ndarray, margin: float = 0.05) -> tuple[int, int]:
    """Frame size for drawing keypoint-only input: the image area its points (and the matches') occupy.

    Parameters
    ----------
    input_kp, matched_kp : np.ndarray, shape (n_frames, 70, 3)

    Returns
    -------
    (width, height) : even numbers (H.264 needs them), at least 64
    """
    xy = np.concatenate([np.asarray(input_kp)[..., :2].reshape(-1, 2), np.asarray(matched_kp)[..., :2].reshape(-1, 2)])
    xy = xy[np.isfinite(xy).all(axis=1) & (xy > 0).any(axis=1)]
    if len(xy) == 0:
        return 64, 64
    w, h = np.ceil(xy.max(axis=0) * (1 + margin)).astype(int)
    return max(64, int(w) + int(w) % 2), max(64, int(h) + int(h) % 2)


def _legend(img, items):
    import cv2

    y = 18
    for text, color in items:
        cv2.putText(img, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
        y += 18


def input_name(track) -> str:
    """What the black sketch shows: the input face, or for speech and text the predicted mouth on the chosen frame."""
    return "predicted mouth" if getattr(track, "kind", None) == "audio" else "input"
