"""Temporal filters against tracker jitter: kernel against reference, behaviour on the real henan take."""

from __future__ import annotations

import numpy as np
import pytest

from sketchsynth.sources import filter_kernels as _kernels
from sketchsynth.errors import ParameterError
from sketchsynth.sources.filters import _one_euro_reference, filter_keypoints


def _mouth_jitter(kp):
    """Mean second difference of points 48-67, shape (T, 70, 2|3) -> float."""
    m = kp[:, 48:68, :2].astype(np.float64)
    return np.linalg.norm(m[2:] - 2 * m[1:-1] + m[:-2], axis=-1).mean()


@pytest.fixture(scope="module")
def henan_track(henan_split):
    from sketchsynth.sources.load import discover, load_tracks

    return load_tracks(discover(henan_split["heldout"]))[0]


@pytest.mark.parametrize("T", [1, 2, 17, 400])
def test_one_euro_kernel_matches_reference(rng, T):
    xy = rng.normal(scale=5.0, size=(T, 70, 2)) + 200
    valid = rng.random((T, 70)) > 0.1
    restart = rng.random(T) > 0.95
    args = (xy, valid, restart, 1 / 25, 0.8, 3.0, 1.2, 60.0)
    np.testing.assert_allclose(_kernels.one_euro(*args), _one_euro_reference(*args), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("method, params", [("one-euro", {}), ("savgol", {}), ("savgol", {"window": 9,
                                                                                          "polyorder": 3})])
def test_filters_cut_the_mouth_jitter_of_real_tracks(henan_track, method, params):
    kp = henan_track.keypoints
    out = filter_keypoints(kp, henan_track.fps, method, frames=henan_track.frames, **params)
    assert out.shape == kp.shape and out.dtype == np.float32
    assert _mouth_jitter(out) < 0.5 * _mouth_jitter(kp)
    # ... without moving the points far: mean deviation under 1% of the inter-ocular distance (~196 px)
    assert np.linalg.norm(out[..., :2] - kp[..., :2], axis=-1).mean() < 2.0
    np.testing.assert_array_equal(out[..., 2], kp[..., 2])


@pytest.mark.parametrize("method", ["one-euro", "savgol"])
def test_undetected_points_are_left_alone(henan_track, method):
    kp = henan_track.keypoints[:300].copy()
    kp[100:110, 48:52] = 0  # OpenPose's "not detected"
    out = filter_keypoints(kp, 30.0, method)
    np.testing.assert_array_equal(out[100:110, 48:52], 0)
    assert np.abs(out[50:90, 48:52, :2] - kp[50:90, 48:52, :2]).max() > 0  # filtered elsewhere


@pytest.mark.parametrize("method", ["one-euro", "savgol"])
def test_still_and_steadily_moving_points(method):
    t = np.arange(60, dtype=np.float64)
    kp = np.ones((60, 70, 3), np.float32)
    kp[..., 0] = 100.0
    kp[..., 1] = (50 + 0.5 * t)[:, None]
    out = filter_keypoints(kp, 25.0, method)
    np.testing.assert_allclose(out[..., 0], 100.0, rtol=0, atol=1e-4)
    if method == "savgol":  # a local polynomial reproduces a line exactly
        np.testing.assert_allclose(out[..., 1], kp[..., 1], atol=1e-4)
    else:  # a causal filter lags a ramp, but by less than a few frames' motion
        assert np.abs(out[20:, :, 1] - kp[20:, :, 1]).max() < 2.0


def test_one_euro_restarts_after_a_hole_in_the_frame_numbers(rng):
    kp = np.ones((20, 70, 3), np.float32)
    kp[..., :2] = rng.normal(scale=3, size=(20, 70, 2)) + 100
    frames = np.r_[np.arange(10), np.arange(30, 40)]
    out = filter_keypoints(kp, 25.0, "one-euro", frames=frames)
    np.testing.assert_array_equal(out[[0, 10]], kp[[0, 10]])
    assert np.abs(out[11] - kp[11]).max() > 0


def test_none_is_a_copy(henan_track):
    kp = henan_track.keypoints[:10]
    out = filter_keypoints(kp, 30.0, "none")
    np.testing.assert_array_equal(out, kp)
    assert out is not kp


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "kalman"}, "filter must be one of"), ({"method": "one-euro", "window": 5}, "no parameter window"),
    ({"method": "one-euro", "min_cutoff": 0}, "min_cutoff"), ({"method": "one-euro", "beta": -1}, "beta"),
    ({"method": "savgol", "window": 4}, "odd number"), ({"method": "savgol", "window": 3, "polyorder": 3}, "odd"),
    ({"method": "savgol", "polyorder": 1.5}, "polyorder"), ({"method": "one-euro", "scale": "mm"}, "scale"),
])
def test_bad_filter_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        filter_keypoints(np.ones((10, 70, 3), np.float32), 25.0, **kwargs)


def test_bad_fps():
    with pytest.raises(ParameterError, match="fps"):
        filter_keypoints(np.ones((10, 70, 3), np.float32), 0.0)


def test_database_built_from_filtered_recordings(henan_split, tmp_path):
    from sketchsynth import FrameDatabase

    plain = FrameDatabase().build(henan_split["db"])
    smooth = FrameDatabase(track_filter="savgol").build(henan_split["db"])
    smooth.save(tmp_path / "db")
    loaded = FrameDatabase.load(tmp_path / "db")
    assert loaded.track_filter == "savgol" and loaded.manifest_["params"]["track_filter"] == "savgol"
    np.testing.assert_array_equal(loaded.keypoints_, plain.keypoints_)  # raw keypoints kept as read
    assert _mouth_jitter(smooth.normalized_) < 0.6 * _mouth_jitter(plain.normalized_)
    with pytest.raises(ParameterError, match="--filter"):
        FrameDatabase(track_filter="median").build(henan_split["db"])


def test_build_db_command_filter_option(fadg0_dir, tmp_path):
    import json

    from click.testing import CliRunner

    from sketchsynth.cli import cli

    db = tmp_path / "db"
    res = CliRunner().invoke(cli, ["build-db", str(fadg0_dir / "sa1"), "--db", str(db), "--fps", "25",
                                   "--filter", "savgol"])
    assert res.exit_code == 0, res.output
    assert json.loads((db / "manifest.json").read_text())["params"]["track_filter"] == "savgol"
