"""The layout's mirror permutation on real faces."""

import numpy as np

from sketchsynth import layout
from sketchsynth.database.normalize import Normalizer


def test_mirror_permutation_is_an_involution_that_swaps_sides():
    m = layout.MIRROR
    assert sorted(m.tolist()) == list(range(layout.N_POINTS))
    assert (m[m] == np.arange(layout.N_POINTS)).all()
    assert set(m[layout.RIGHT_EYE].tolist()) == set(layout.LEFT_EYE.tolist())
    assert (m[layout.MOUTH] >= 48).all() and (m[layout.MOUTH] < 68).all()
    for p in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):  # the midline
        assert m[p] == p


def test_mirrored_real_face_is_a_plausible_face(heldout):
    kp = heldout.keypoints[:200]
    ax = 320.0
    mir = layout.mirror_keypoints(kp, ax)
    assert np.allclose(layout.mirror_keypoints(mir, ax), kp, atol=1e-3)
    # after the flip, the subject's right eye (36-41) is again on the image's left of the left eye (42-47)
    ok = (kp[..., 2] > 0).all(1)
    assert (mir[ok][:, layout.RIGHT_EYE, 0].mean(1) < mir[ok][:, layout.LEFT_EYE, 0].mean(1)).all()
    # and normalizes as well as the original: positive-orientation anchor triangle, finite points
    norm = Normalizer().fit(mir[ok])
    pts, _, good = norm.transform(mir[ok])
    assert good.mean() > 0.99 and np.isfinite(pts[good]).all()
