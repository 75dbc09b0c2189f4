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
from sketchsynth.normalize import apply_matrices

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
