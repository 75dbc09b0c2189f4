"""sketchsynth live from a held-out GRID sentence: the shown frames written with the sound; bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error


def _live(*args):
    from sketchsynth.cli import cli

    return CliRunner().invoke(cli, ["live", *map(str, args)])


def test_live_writes_what_it_showed(grid_example, tmp_path):
    from sketchsynth.io.video import probe

    out = tmp_path / "shown.mp4"
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--realtime", "--no-show",
              "--lookahead-ms", 480, "--playout-ms", 1000, "--out", out)
    assert r.exit_code == 0, r.output
    assert "frames" in r.output and "latency median" in r.output
    info = probe(out)
    assert info.width == 360 and info.height == 288 and abs(info.fps - 25) < 0.01
    assert 70 <= info.n_frames <= 76 and info.has_audio
    assert not list(tmp_path.glob(".live-*"))  # no temp file left


def test_live_writes_the_real_face_without_a_window(grid_example, tmp_path, monkeypatch):
    """--frames composite --out with no window: the file shows the real face (the loop itself renders nothing),
    pasted into the background take the selection's pose term chose its mouths for (chosen once)."""
    import sketchsynth.selection.pose as pose
    from sketchsynth.io.video_fetch import fetch_frames

    chosen = []
    choose = pose.choose_background
    monkeypatch.setattr(pose, "choose_background", lambda *a, **k: chosen.append(choose(*a, **k)) or chosen[-1])
    out = tmp_path / "face.mp4"
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show", "--lookahead-ms", 480,
              "--frames", "composite", "--out", out)
    assert r.exit_code == 0, r.output
    img = fetch_frames(out, np.array([1.0]))[0].astype(int)
    assert (img.max(axis=2) - img.min(axis=2)).mean() > 20   # colour: a recorded face, not the sketch's white page
    assert len(chosen) == 1 and chosen[0] is not None


def test_the_player_keeps_no_pixels_of_shown_frames():
    from sketchsynth.live.engine import Frame
    from sketchsynth.live.player import Player

    p = Player().start(0.0)
    p.push([Frame(k, k / 25, 0, np.zeros((70, 3), np.float32), 0.0, np.zeros((4, 4, 3), np.uint8))
            for k in range(5)], 0.0)
    p.release(2)
    assert [p.ready_[k][1].image is None for k in range(5)] == [True, True, True, False, False]
    p.release(4)
    assert all(p.ready_[k][1].image is None for k in range(5)) and p.ready_[4][1].row == 0
    p.push([Frame(1, 1 / 25, 0, np.zeros((70, 3), np.float32), 0.0, np.zeros((4, 4, 3), np.uint8))], 0.0)
    assert p.ready_[1][1].image is None                  # decided after its tick: never shown, never kept


def test_live_fast_and_options(grid_example, tmp_path):
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show", "--lookahead-ms", 480,
              "--lag-ms", 0)
    assert r.exit_code == 0, r.output
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show", "--lookahead-ms", 480,
              "--closure-weight", 0)
    assert r.exit_code == 0, r.output
    r = _live("--help")
    assert r.exit_code == 0 and "Examples" in r.output and "--lookahead-ms" in r.output


def test_live_bad_input_is_one_line(grid_example, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    db = grid_example["db"]
    cases = [
        (["--db", tmp_path / "nothing", "--input", grid_example["input"]], "nothing"),
        (["--db", db, "--input", bad, "--lookahead-ms", 480], "bad.wav"),
        (["--db", db, "--input", grid_example["input"]], "fit-speech"),          # the model looks 480 ms ahead
        (["--db", db, "--input", grid_example["input"], "--lookahead-ms", 480, "--out", tmp_path / "x.avi"], ".mp4"),
        (["--db", db, "--input", grid_example["input"], "--lookahead-ms", 480, "--lag-ms", -1], "lag"),
        (["--db", db, "--input", grid_example["input"], "--lookahead-ms", 480, "--closure-weight", 1.5],
         "closure weight"),
    ]
    for args, fragment in cases:
        r = _live(*args, "--no-show")
        assert r.exit_code == 2, (args, r.output)
        one_line_error(r, fragment)
    assert not (tmp_path / "x.avi").exists()


def test_live_without_pocketsphinx_says_how_to_get_it(grid_example, monkeypatch):
    import sys

    from sketchsynth.targets.speech import closure

    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    monkeypatch.setattr(closure, "_MODELS", {})
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show", "--lookahead-ms", 480)
    assert r.exit_code == 2, r.output
    one_line_error(r, "sketchsynth[speech]", "--closure-weight 0")
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show", "--lookahead-ms", 480,
              "--closure-weight", 0)
    assert r.exit_code == 0, r.output


def test_live_microphone_missing_is_one_line(grid_example, monkeypatch):
    """No microphone here (or no PortAudio): a one-line error naming the fix, exit 2."""
    import sketchsynth.live.player as player

    class NoDevice(player.Microphone):
        def start(self):
            from sketchsynth.errors import InputError

            raise InputError("cannot open the microphone (no input device); plug one in, pick one with --device, "
                             "or use --input FILE")

    monkeypatch.setattr(player, "Microphone", NoDevice)
    r = _live("--db", grid_example["db"], "--lookahead-ms", 480, "--no-show", "--seconds", 1)
    assert r.exit_code == 2
    one_line_error(r, "microphone")


def test_build_db_fits_the_live_model(grid_example, tmp_path):
    """build-db --lookahead-ms 120 leaves a database `live` runs on at its defaults (no refit needed)."""
    import shutil

    from sketchsynth.cli import cli

    rec = tmp_path / "rec"
    rec.mkdir()
    src = sorted((grid_example["align"].parent / "recordings").glob("*.mp4"))[:4]
    for p in src:
        shutil.copy(p, rec / p.name)
    r = CliRunner().invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "db"), "--lookahead-ms", "120"])
    assert r.exit_code == 0, r.output
    r = _live("--db", tmp_path / "db", "--input", grid_example["input"], "--no-show")
    assert r.exit_code == 0, r.output
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--no-show")  # a 480 ms model
    assert r.exit_code == 2 and "build-db --lookahead-ms 120" in r.stderr


def test_live_face_writes_what_it_showed(grid_example, tmp_path):
    """A bundled GRID sentence's video drives the face at its own pace; --out holds every frame and its sound."""
    pytest.importorskip("dlib")
    from sketchsynth.io.video import probe

    out = tmp_path / "face.mp4"
    r = _live("--db", grid_example["db"], "--face", grid_example["input"], "--realtime", "--no-show",
              "--playout-ms", 1000, "--out", out)
    assert r.exit_code == 0, r.output
    assert "75 frames (3.0 s of video)" in r.output and "0 not ready" in r.output
    info = probe(out)
    assert info.width == 360 and info.height == 288 and abs(info.fps - 25) < 0.01
    assert info.n_frames == 75 and info.has_audio
    assert not list(tmp_path.glob(".live-*"))


def test_live_face_and_virtual_camera_errors_are_one_line(grid_example, tmp_path, monkeypatch):
    import sys
    import types

    db, video = grid_example["db"], grid_example["input"]
    cases = [
        (["--face", "97"], "camera 97"),                                  # no such webcam
        (["--face", tmp_path / "none.mp4"], "none.mp4"),
        (["--face", video, "--input", video], "--face and --input"),
        (["--face", video, "--virtual-camera"], "pyvirtualcam"),           # not installed here
    ]
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # an import of it fails, installed or not
    for args, fragment in cases:
        r = _live("--db", db, *args, "--no-show")
        one_line_error(r, fragment)

    class NoDevice:
        def __init__(self, *a, **k):
            raise RuntimeError("'v4l2loopback' module not found or no device")

    fake = types.SimpleNamespace(Camera=NoDevice, PixelFormat=types.SimpleNamespace(BGR="BGR"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    r = _live("--db", db, "--face", video, "--virtual-camera", "--no-show", "--out", tmp_path / "v.mp4")
    one_line_error(r, "v4l2loopback", "modprobe")
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".live-*"))


def test_live_sends_each_shown_frame_to_the_virtual_camera(grid_example, monkeypatch):
    """A virtual camera (pyvirtualcam's API, faked: no v4l2loopback device here) gets every frame the window
    would show, at the camera's size, in colour."""
    import sys
    import types

    got = []

    class Camera:
        def __init__(self, width, height, fps, fmt=None):
            self.size, self.fps, self.fmt = (width, height), fps, fmt

        def send(self, image):
            got.append((self.size, image.shape, image.dtype, self.fmt))

        def close(self):
            got.append("closed")

    monkeypatch.setitem(sys.modules, "pyvirtualcam", types.SimpleNamespace(
        Camera=Camera, PixelFormat=types.SimpleNamespace(BGR="BGR")))
    r = _live("--db", grid_example["db"], "--input", grid_example["input"], "--realtime", "--no-show",
              "--virtual-camera", "--frames", "composite", "--lookahead-ms", 480, "--playout-ms", 1000)
    assert r.exit_code == 0, r.output
    assert got[-1] == "closed" and len(got) - 1 >= 60                   # ~3 s at 25 fps, a few ticks may merge
    (w, h), shape, dtype, fmt = got[0]
    assert shape == (h, w, 3) and dtype == np.uint8 and fmt == "BGR"
