import numpy as np

from sketchsynth import layout


def test_groups_cover_every_point_once():
    allpts = np.concatenate(list(layout.GROUPS.values()))
    assert sorted(allpts.tolist()) == list(range(layout.N_POINTS))


def test_default_weights_follow_the_method():
    w = layout.default_weights()
    assert w.dtype == np.float32 and w.shape == (70,)
    assert set(w[48:68]) == {10.0}
    assert set(w[36:48]) == {2.0} and set(w[68:70]) == {2.0}
    assert set(np.delete(w, np.r_[36:70])) == {1.0}


def test_render_chains_are_openposes():
    chains = [(int(idx[0]), int(idx[-1]), closed) for idx, closed in layout.CHAINS]
    assert chains == [(0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
                      (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True)]


def test_lips_first_order_starts_with_the_heaviest_points():
    order = layout.point_order_lips_first(layout.default_weights())
    assert set(order[:20]) == set(range(48, 68))
    assert sorted(order.tolist()) == list(range(70))


def test_estimated_pupils_are_eye_centroids():
    pts = np.zeros((1, 68, 2))
    pts[0, 36:42] = [[0, 0], [2, 0], [4, 0], [4, 2], [2, 2], [0, 2]]
    pts[0, 42:48] = pts[0, 36:42] + 10
    p = layout.estimate_pupils(pts)
    np.testing.assert_allclose(p[0], [[2, 1], [12, 11]])
