"""Property tests (hypothesis): normalization round trips, readers only raise the project's errors."""

import json
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchsynth import Normalizer
from sketchsynth.errors import SketchSynthError
from sketchsynth.io.landmarks import to_openpose70
from sketchsynth.io.openpose import parse_frame, read_openpose_folder
from sketchsynth.database.normalize import apply_matrices

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def real_frames(henan_dir):
    return read_openpose_folder(henan_dir).keypoints[::50]


finite = st.floats(-1e3, 1e3, allow_nan=False)


@SETTINGS
@given(idx=st.integers(0, 200), a=finite, b=finite, c=finite, d=finite, tx=finite, ty=finite,
       mode=st.sampled_from(["affine", "similarity"]))
def test_inverse_after_forward_is_identity(real_frames, idx, a, b, c, d, tx, ty, mode):
    """Any invertible affine view of a real face normalizes and maps back exactly."""
    frame = real_frames[idx % len(real_frames)]
    m = np.array([[a, b, tx], [c, d, ty]]) / np.array([[100, 100, 1], [100, 100, 1]])
    kp = np.concatenate([apply_matrices(frame[None], m[None]), frame[None, :, 2:]], axis=-1)
    norm = Normalizer(mode=mode).fit(real_frames)
    out, mats, ok = norm.transform(kp)
    if not ok[0]:
        return  # degenerate: flagged, never NaN-in-disguise
    assert np.isfinite(out).all()
    back = Normalizer.inverse_transform(out.astype(np.float64), mats)
    scale = np.abs(kp[0, :, :2]).max() + 1
    np.testing.assert_allclose(back[0], kp[0, :, :2], atol=2e-6 * scale * max(1, np.linalg.cond(mats[0, :, :2])))


@SETTINGS
@given(idx=st.integers(0, 200), dx=finite, dy=finite)
def test_normalization_ignores_where_the_face_is(real_frames, idx, dx, dy):
    frame = real_frames[idx % len(real_frames)]
    moved = frame.copy()
    moved[:, :2] += np.float32([dx, dy])
    norm = Normalizer().fit(real_frames)
    a, _, _ = norm.transform(frame[None])
    b, _, _ = norm.transform(moved[None])
    np.testing.assert_allclose(a, b, atol=2e-3)  # float32 rounding of coordinates up to 2,000 px


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**70, 2**70)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=40)

faces = st.lists(st.floats(-5e6, 5e6, allow_nan=False) | st.integers(-10, 2000) | st.text(max_size=3) | st.none(),
                 min_size=0, max_size=215)
people_docs = st.fixed_dictionaries({"version": st.just(1.3), "people": st.lists(
    st.fixed_dictionaries({"face_keypoints_2d": faces}) | json_values, max_size=3)})


def _lattice(res, frames=None):
    """A per-frame match's candidates as the decoder's lattice."""
    from sketchsynth.selection.lattice import Lattice

    return Lattice(res.candidates, res.candidate_costs, res.usable, res.rows, res.target_cost, res.normalized,
                   res.qweights, res.metric, res.k, res.exhaustive, frames=frames)


def _through_both_readers(data: bytes):
    """parse_frame directly and the batch reader (numba scanner + fallback) on the same bytes."""
    results = []
    for fn in (lambda: parse_frame(data, "case.json"), lambda: _read_folder_of_one(data)):
        try:
            face, n = fn()
            results.append(("ok", None if face is None else np.asarray(face), n))
        except SketchSynthError as e:
            results.append(("error", str(e)))
    return results


def _read_folder_of_one(data):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "x_000_keypoints.json"), "wb") as fh:
            fh.write(data)
        fr = read_openpose_folder(d)
        face = fr.keypoints[0] if fr.n_people[0] else None
        return face, int(fr.n_people[0])


@SETTINGS
@given(doc=json_values | people_docs)
def test_arbitrary_json_only_raises_the_projects_errors(doc):
    data = json.dumps(doc).encode()  # the standard library also writes integers beyond 64 bits
    a, b = _through_both_readers(data)
    assert a[0] == b[0]
    if a[0] == "ok":
        assert a[2] == b[2]
        if a[1] is not None:
            np.testing.assert_array_equal(a[1], b[1])


@SETTINGS
@given(cut=st.integers(0, 4000), flip=st.integers(0, 4000), byte=st.integers(0, 255))
def test_damaged_real_files_only_raise_the_projects_errors(henan_dir, cut, flip, byte):
    data = bytearray((henan_dir / "00417_keypoints.json").read_bytes())
    if flip < len(data):
        data[flip] = byte
    data = bytes(data[: max(cut, 1)]) if cut < len(data) else bytes(data)
    a, b = _through_both_readers(data)
    assert a[0] == b[0], (a, b)
    if a[0] == "ok" and a[1] is not None:
        np.testing.assert_array_equal(a[1], b[1])


@SETTINGS
@given(arr=st.integers(1, 4).flatmap(lambda n: st.lists(
    st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=n * 68 * 2, max_size=n * 68 * 2)
    .map(lambda v: np.asarray(v, np.float32).reshape(n, 68, 2))))
def test_landmark_arrays_only_raise_the_projects_errors(arr):
    try:
        kp, est = to_openpose70(arr, "x.npy")
    except SketchSynthError:
        return
    assert kp.shape == (len(arr), 70, 3) and est and np.isfinite(kp).all()


@pytest.fixture(scope="module")
def small_db(henan_dir):
    """Three short real recordings (henan frames) with a hole: successors end inside and at the ends."""
    from sketchsynth import FrameDatabase
    from sketchsynth.sources.recordings import Track

    kp = read_openpose_folder(henan_dir).keypoints
    tracks = []
    for i, (a, b) in enumerate([(0, 80), (2000, 2060), (5000, 5100)]):
        k = kp[a:b].copy()
        frames = np.arange(b - a, dtype=np.int64)
        frames[40:] += 5  # a hole in the frame numbers: no successor across it
        tracks.append(Track(f"r{i}", "mem", "openpose", k, frames, frames / 30, np.ones(b - a, np.int16),
                            [f"{f}" for f in frames], 30.0, "option"))
    return FrameDatabase().build(tracks), kp


def _recomputed_cost(db, res, d, join, jump_abs, lam):
    """sum of target + lambda * join, straight from the definitions (not the decoder's helpers)."""
    rows = d.rows
    total = 0.0
    for t, r in enumerate(rows):
        if r < 0:
            continue
        dist = np.linalg.norm(db.normalized_[r].astype(np.float64) - res.normalized[t], axis=-1)
        total += float((dist * res.qweights[t]).sum())
        if t == 0 or d.segment_start[t] or rows[t - 1] < 0:
            continue
        a = rows[t - 1]
        nxt = db.successor_[a] if db.successor_[a] >= 0 and db.frames_["usable"].iloc[db.successor_[a]] else -1
        follows = nxt == r
        if join == "successor":  # continuing the recording is free; a jump costs its landing distance
            if follows:
                continue
            src = nxt if nxt >= 0 else a
        else:  # the method's: always the distance between the two frames
            src = a
        jd = np.linalg.norm(db.normalized_[src].astype(np.float64) - db.normalized_[r], axis=-1)
        total += lam * (float((jd * db.weights_).sum()) + (0.0 if follows else jump_abs))
    return total


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 10_000), n=st.integers(2, 40), lam=st.floats(0, 3), jump=st.floats(0, 3),
       join=st.sampled_from(["successor", "method"]), k=st.integers(1, 8), noise=st.floats(0, 3),
       drop=st.integers(-1, 39))
def test_decoded_path_costs_what_it_says(small_db, start, n, lam, jump, join, k, noise, drop):
    from sketchsynth import match
    from sketchsynth.selection.decode import ViterbiDecoder

    db, kp = small_db
    inp = kp[start:start + n].copy()
    if len(inp) < 2:
        return
    inp[..., :2] += np.float32(noise) * np.random.default_rng(start).normal(size=inp[..., :2].shape).astype(
        np.float32)
    if 0 <= drop < len(inp) and len(inp) > 3:
        inp[drop] = 0  # an unusable frame splits the sequence
    dec = ViterbiDecoder(smooth=lam, candidates=k, join=join, jump_cost=jump)
    res = match(db, inp, decoder=dec)
    d = res.decoding
    want = _recomputed_cost(db, res, d, join, d.params["jump_cost_abs"], lam)
    assert d.total_cost == pytest.approx(want, rel=1e-9, abs=1e-9)
    # and it is never worse, under its own objective, than the per-frame choice
    greedy = ViterbiDecoder(smooth=0.0, candidates=k).decode(db, _lattice(res))
    greedy_cost = _recomputed_cost(db, res, greedy, join, d.params["jump_cost_abs"], lam)
    assert d.total_cost <= greedy_cost + 1e-6 * max(1.0, greedy_cost)
