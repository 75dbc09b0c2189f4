"""The OpenCV sketch renderer."""

import numpy as np

from sketchsynth.outputs.render import BLACK, BLUE, WHITE, draw_sketch, fit_box, render_sketch


def test_render_fits_the_face_and_draws_lines(example_db):
    from sketchsynth import FrameDatabase

    db = FrameDatabase.load(example_db)
    kp = db.keypoints_[100]
    img = render_sketch(kp, size=(320, 240), thickness=2)
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    ink = (img < 128).all(axis=2)
    assert 500 < ink.sum() < 0.2 * ink.size  # lines, not a filled picture
    ys, xs = np.nonzero(ink)
    # fitted: the sketch spans most of the canvas height, inside the margins
    assert ys.min() > 5 and ys.max() < 235 and ys.max() - ys.min() > 150
    assert xs.min() > 5 and xs.max() < 315


def test_overlay_is_drawn_in_its_own_colour():
    kp = np.zeros((70, 3), np.float32)
    kp[:, 0] = np.linspace(10, 200, 70)
    kp[:, 1] = np.linspace(10, 150, 70)
    kp[:, 2] = 1
    other = kp.copy()
    other[:, 1] += 40
    img = render_sketch(kp, size=(256, 256), overlay=other, background=WHITE)
    blue = (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)
    black = (img < 60).all(axis=2)
    assert blue.sum() > 100 and black.sum() > 100


def test_missing_points_break_the_chain():
    kp = np.zeros((70, 3), np.float32)
    kp[0:17, 0] = np.arange(17) * 10 + 20
    kp[0:17, 1] = 100
    kp[0:17, 2] = 1
    full = draw_sketch(np.full((200, 220, 3), 255, np.uint8), kp, BLACK, 1, pupils=False)
    kp[8, 2] = 0  # the chin point not detected: no line through it
    gap = draw_sketch(np.full((200, 220, 3), 255, np.uint8), kp, BLACK, 1, pupils=False)
    assert (full[98:103, 95:105] < 128).any() and not (gap[98:103, 95:105] < 128).any()


def test_fit_box_ignores_nan_points():
    kp = np.full((70, 2), np.nan)
    kp[:3] = [[0, 0], [100, 50], [50, 100]]
    scale, offset = fit_box(kp, (200, 200), margin=0.0)
    assert scale == 2.0 and np.allclose(offset, [0, 0])
    assert BLUE == (255, 0, 0)  # BGR, as OpenCV draws
