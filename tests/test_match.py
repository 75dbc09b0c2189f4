"""Per-frame matching on the real henan take: prefilter vs exhaustive, kernels vs numpy."""

import numpy as np
import pytest

from sketchsynth import match
from sketchsynth.selection.kernels import candidate_costs, exhaustive_min
from sketchsynth.outputs.placement import matched_in_input_coords
from sketchsynth.selection.matching import agreement
from sketchsynth.targets.face import prepare_input
from sketchsynth.selection.search import candidate_costs_reference
from sketchsynth.selection.exhaustive import exhaustive_reference


def test_heldout_frames_are_not_in_the_database(henan_db, heldout):
    assert henan_db.frames_["frame"].max() < heldout.frames.min()
    assert len(heldout.frames) == 3000


def test_prefilter_agrees_with_exhaustive_on_heldout_frames(henan_db, heldout):
    fast = match(henan_db, heldout.keypoints, metric="sum")
    exact = match(henan_db, heldout.keypoints, metric="sum", exhaustive_search=True)
    assert fast.usable.all()
    same = agreement(fast.rows, fast.target_cost, exact.rows, exact.target_cost)
    rate = same.mean()
    gap = (fast.target_cost - exact.target_cost)[~same] / exact.target_cost[~same]
    print(f"\nprefilter top-{fast.k} agrees on {rate:.2%} of {len(same)} held-out frames; "
          f"relative cost gap on the others: {gap.mean() if gap.size else 0:.3%} mean, "
          f"{gap.max() if gap.size else 0:.3%} max")
    assert rate >= 0.995
    assert (exact.target_cost <= fast.target_cost + 1e-9).all()  # exhaustive is never worse


def test_exhaustive_equals_the_methods_plain_loop(henan_db, heldout):
    kp = heldout.keypoints[::150]
    res = match(henan_db, kp, metric="sum", exhaustive_search=True)
    rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, res.normalized, res.qweights,
                                       "sum")
    np.testing.assert_allclose(res.target_cost, costs, rtol=1e-9)
    assert agreement(res.rows, res.target_cost, rows, costs).all()


def test_sq_metric_is_exact_through_faiss(henan_db, heldout):
    kp = heldout.keypoints[::100]
    res = match(henan_db, kp, metric="sq", k=8)
    rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, res.normalized, res.qweights,
                                       "sq")
    np.testing.assert_allclose(res.target_cost, costs, rtol=1e-6)


def test_points_with_zero_confidence_get_zero_weight(henan_db, heldout):
    kp = heldout.keypoints[:40].copy()
    kp[::2, 60:68] = 0  # inner lips missing in every other frame
    res = match(henan_db, kp, metric="sq", k=16)
    assert res.usable.all()
    assert (res.qweights[::2, 60:68] == 0).all() and (res.qweights[1::2, 60:68] == 10).all()
    rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, res.normalized, res.qweights,
                                       "sq")
    np.testing.assert_allclose(res.target_cost, costs, rtol=1e-6)
    ex = match(henan_db, kp, metric="sum", exhaustive_search=True)
    rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, ex.normalized, ex.qweights,
                                       "sum")
    np.testing.assert_allclose(ex.target_cost, costs, rtol=1e-9)


def test_unusable_input_frames_get_no_match(henan_db, heldout):
    kp = heldout.keypoints[:10].copy()
    kp[2] = 0
    kp[4, 46, 2] = 0.01
    res = match(henan_db, kp)
    assert res.rows[2] == -1 and res.rows[4] == -1 and np.isnan(res.target_cost[[2, 4]]).all()
    assert res.reason[2] == "no_person" and res.reason[4] == "anchor_low_confidence"
    assert (res.rows[[0, 1, 3]] >= 0).all()


def test_matched_frames_are_drawn_where_the_input_face_is(henan_db, heldout):
    kp = heldout.keypoints[:50].copy()
    kp[:, :, :2] = kp[:, :, :2] * 0.5 + [40, -20]  # the input's face elsewhere and smaller
    res = match(henan_db, kp)
    out = matched_in_input_coords(henan_db, res)
    # the match's anchors sit on the input's anchors (affine normalization is exact there)
    np.testing.assert_allclose(out[:, [35, 40, 46], :2], kp[:, [35, 40, 46], :2], atol=1e-2)
    lips_err = np.linalg.norm(out[:, 48:68, :2] - kp[:, 48:68, :2], axis=-1).mean()
    assert lips_err < 3  # px at half scale: a close match, in the input's coordinates


def test_candidate_kernel_matches_numpy(rng):
    db = rng.normal(size=(300, 70, 2)).astype(np.float32)
    q = rng.normal(size=(25, 70, 2)).astype(np.float32)
    w = rng.uniform(0, 10, size=(25, 70))
    w[3, :10] = 0
    cand = rng.integers(-1, 300, size=(25, 12))
    for metric, code in (("sum", 0), ("sq", 1)):
        got = candidate_costs(db, q, w, cand, code)
        ref = candidate_costs_reference(db, q, w, cand, metric)
        np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_exhaustive_kernel_matches_numpy(rng):
    db = rng.normal(size=(500, 70, 2)).astype(np.float32)
    q = rng.normal(size=(30, 70, 2)).astype(np.float32)
    w = rng.uniform(0, 10, size=(30, 70))
    for metric, code in (("sum", 0), ("sq", 1)):
        rows_ref, cost_ref = exhaustive_reference(db, np.arange(500), q, w, metric)
        # seeded with a poor candidate: early abandoning must still find the minimum
        seed = np.zeros(30, np.int64)
        seed_cost = candidate_costs(db, q, w, seed[:, None], code)[:, 0]
        rows, cost = exhaustive_min(db, q, w, seed_cost, seed, code)
        np.testing.assert_array_equal(rows, rows_ref)
        np.testing.assert_allclose(cost, cost_ref, rtol=1e-10)


def test_prepare_input_rejects_wrong_shapes(henan_db):
    from sketchsynth.errors import InputError

    with pytest.raises(InputError, match="shape"):
        prepare_input(henan_db, np.zeros((3, 68, 3), np.float32))


def test_rerank_orders_by_cost_then_row(henan_db, heldout, rng):
    """Equal costs (duplicate frames) keep the lower row first, as a lexsort would."""
    from sketchsynth.selection.search import rerank

    res = match(henan_db, heldout.keypoints[:20], k=16)
    cand = res.candidates.copy()
    cand[:, 8:] = cand[:, :8]  # every candidate twice: a tie per pair
    cand = np.array([rng.permutation(c) for c in cand])
    cand[::3, -2:] = -1  # some pads (cost inf)
    got, cost = rerank(henan_db, res.normalized, res.qweights, cand, "sum")
    raw = candidate_costs(henan_db.normalized_, res.normalized, res.qweights, cand, 0)
    order = np.lexsort((cand, raw), axis=-1)
    np.testing.assert_array_equal(got, np.take_along_axis(cand, order, 1))
    np.testing.assert_array_equal(cost, np.take_along_axis(raw, order, 1))
