"""Normalization on the real henan and fadg0 tracks."""

import numpy as np
import pytest

from sketchsynth import FrameDatabase, Normalizer
from sketchsynth.database.normalize_kernels import apply_affine
from sketchsynth.io.openpose import read_openpose_folder
from sketchsynth.database.normalize import apply_matrices, invert_matrices


@pytest.fixture(scope="module")
def henan_kp(henan_dir):
    return read_openpose_folder(henan_dir).keypoints


def test_etalon_is_the_frame_with_the_widest_anchor_triangle(henan_kp):
    norm = Normalizer().fit(henan_kp)
    spread = Normalizer.anchor_spread(henan_kp, (35, 40, 46))
    assert norm.etalon_index_ == int(np.argmax(spread))
    assert spread[norm.etalon_index_] > np.percentile(spread, 99.9)
    np.testing.assert_allclose(norm.etalon_[35], [0, 0])


def test_etalon_skips_unusable_frames(henan_kp):
    spread = Normalizer.anchor_spread(henan_kp, (35, 40, 46))
    usable = np.ones(len(henan_kp), bool)
    usable[np.argmax(spread)] = False
    norm = Normalizer().fit(henan_kp, usable)
    assert norm.etalon_index_ == int(np.argsort(spread)[-2])


def test_every_frame_lands_its_anchors_on_the_etalon(henan_kp):
    norm = Normalizer().fit(henan_kp)
    out, mats, ok = norm.transform(henan_kp)
    assert ok.all() and out.dtype == np.float32 and out.shape == (len(henan_kp), 70, 2)
    err = np.abs(out[:, [35, 40, 46]] - norm.etalon_[[35, 40, 46]]).max()
    assert err < 1e-3  # float32 output of pixel-sized numbers
    np.testing.assert_allclose(out[:, 35], 0, atol=1e-3)
    # the non-anchor points really moved: normalization is not a no-op
    assert np.abs(out[:, 48:68] - henan_kp[:, 48:68, :2]).mean() > 10


def test_inverse_maps_back_to_image_pixels(henan_kp):
    norm = Normalizer().fit(henan_kp)
    out, mats, _ = norm.transform(henan_kp[:500])
    back = Normalizer.inverse_transform(out, mats)
    np.testing.assert_allclose(back, henan_kp[:500, :, :2], atol=2e-3)


def test_similarity_mode_fits_stable_points_without_shear(henan_kp):
    norm = Normalizer(mode="similarity").fit(henan_kp)
    out, mats, ok = norm.transform(henan_kp[:300])
    assert ok.all()
    a = mats[:, :, :2]
    # rotation + uniform scale: [[a, -b], [b, a]]
    np.testing.assert_allclose(a[:, 0, 0], a[:, 1, 1])
    np.testing.assert_allclose(a[:, 0, 1], -a[:, 1, 0])
    resid = np.linalg.norm(out[:, list(norm.stable_points)] - norm.etalon_[list(norm.stable_points)], axis=-1)
    assert resid.mean() < 5  # px at the etalon's scale; a similarity cannot fit exactly
    back = Normalizer.inverse_transform(out, mats)
    np.testing.assert_allclose(back, henan_kp[:300, :, :2], atol=2e-3)


def test_degenerate_anchor_triangles_are_flagged_not_nan(henan_kp):
    kp = henan_kp[:4].copy()
    kp[1, 40, :2] = kp[1, 35, :2]                       # collapsed
    kp[2, 46, :2] = 2 * kp[2, 40, :2] - kp[2, 35, :2]   # collinear
    kp[3, [35, 40, 46], :2] = 0
    norm = Normalizer().fit(henan_kp)
    out, mats, ok = norm.transform(kp)
    assert ok.tolist() == [True, False, False, False]
    assert np.isnan(out[1:]).all() and np.isfinite(out[0]).all()
    assert not np.isinf(out).any()


def test_kernel_matches_numpy_reference(rng):
    for n, p in [(1, 70), (17, 70), (300, 5)]:
        pts = rng.normal(500, 200, size=(n, p, 3)).astype(np.float32)
        mats = rng.normal(size=(n, 2, 3))
        mats[0] = np.nan
        got = apply_affine(pts, mats)
        ref = apply_matrices(pts, mats)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-3)
        assert np.isnan(got[0]).all()


def test_invert_matrices_round_trip(rng):
    m = rng.normal(size=(50, 2, 3))
    pts = rng.normal(size=(50, 70, 2))
    np.testing.assert_allclose(apply_matrices(apply_matrices(pts, m), invert_matrices(m)), pts, atol=1e-8)


def test_database_normalizes_inputs_the_same_way(fadg0_dir):
    db = FrameDatabase(fps=25).build(fadg0_dir)
    kp = db.keypoints_[db.usable_rows_[:50]]
    out, _, ok = db.normalize(kp)
    assert ok.all()
    np.testing.assert_allclose(out, db.normalized_[db.usable_rows_[:50]], atol=1e-4)


def test_anchor_indices_are_a_parameter(henan_kp):
    norm = Normalizer(anchors=(30, 36, 45)).fit(henan_kp[:1000])
    out, _, ok = norm.transform(henan_kp[:1000])
    assert ok.all()
    np.testing.assert_allclose(out[:, [30, 36, 45]], np.broadcast_to(norm.etalon_[[30, 36, 45]], (1000, 3, 2)),
                               atol=1e-3)
