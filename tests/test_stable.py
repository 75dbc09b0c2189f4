import numpy as np

from sketchsynth.io.openpose import read_openpose_folder
from sketchsynth.evaluation.stable import _pair_moments, _pair_moments_reference, pair_variation, stable_points


def test_kernel_matches_numpy(rng):
    xy = rng.normal(100, 20, size=(333, 70, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 2, size=333)
    a = _pair_moments(xy, scale)
    b = _pair_moments_reference(xy, scale, chunk=50)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9)


def test_a_rigid_face_has_no_variation(rng):
    base = rng.normal(size=(70, 2)) * 50
    shifts = rng.normal(size=(50, 1, 2)) * 30
    for measure in ("std", "cv"):
        v = pair_variation(base[None] + shifts, scale="none", measure=measure)
        np.testing.assert_allclose(v, 0, atol=1e-4)


def test_the_moving_point_ranks_last(rng):
    base = rng.normal(size=(70, 2)) * 50
    frames = np.repeat(base[None], 100, axis=0)
    frames[:, 57, 1] += rng.normal(size=100) * 5  # a lower lip that moves
    table = stable_points(frames, scale="none")
    assert table["point"].iloc[-1] == 57 and table["group"].iloc[-1] == "lips"


def test_henan_ranking(henan_dir):
    kp = read_openpose_folder(henan_dir).keypoints
    table = stable_points(kp)
    assert len(table) == 70 and sorted(table["point"]) == list(range(70))
    assert (np.diff(table["variation"]) >= 0).all()
    # the lips (points 48-67) move most while speaking: they fill the bottom of the ranking
    assert set(table["point"].iloc[-10:]) <= set(range(48, 68)) | {8, 7, 9}
    # with the default measure the method's origin is among the stable points
    assert int(table.index[table["point"] == 35][0]) < 15
