"""Face-driven live against the batch match of the same video (a bundled GRID s1 sentence), and its parts."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def face_batch(grid_example):
    """The held-out sentence matched as ``sketchsynth match`` does (tracked afresh, not from the seeded cache)."""
    pytest.importorskip("dlib")
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.sources.load import load_input
    from sketchsynth.sources.tracker import FaceTracker
    from sketchsynth.targets.face import face_target

    db = FrameDatabase.load(grid_example["db"])
    video = str(grid_example["input"])
    track = load_input(video, video_options={"cache": False})
    raw = FaceTracker(cache=False).track(video).keypoints
    syn = select(db, face_target(db, track), ViterbiDecoder())
    return db, video, track, raw, syn


def test_unbounded_lag_equals_batch_match(face_batch):
    """Grey frames through tracker, filter, target, search and decoder with an unbounded lag and the batch's two
    whole-video statistics: the frames the batch match picks, at the video's frame times."""
    from sketchsynth.io.video import iter_frames
    from sketchsynth.live.face import FaceEngine
    from sketchsynth.sources.filters import speed_scale

    db, video, track, raw, syn = face_batch
    e = FaceEngine(db, input_fps=track.fps, lag_ms=None, render="none",
                   cost_unit=syn.result.decoding.params["cost_unit"], filter_scale=speed_scale(raw)).start()
    frames, kps = [], []
    for _, t, gray in iter_frames(video, fmt="gray"):
        frames += e.push_frame(gray, t)
        kps.append(e.tracker_.to_openpose([e.tracker_.prev_])[0])
    frames += e.finish()
    assert np.array_equal(np.stack(kps), raw)  # the streaming tracker follows as the batch tracker does
    assert [f.index for f in frames] == list(range(len(track.keypoints)))
    assert np.array_equal([f.row for f in frames], syn.result.rows)
    assert np.allclose([f.time_s for f in frames], track.time_s)


def test_filter_stream_equals_batch_filter(face_batch):
    from sketchsynth.sources.filters import OneEuroStream, filter_keypoints, speed_scale

    *_, track, raw, _ = face_batch
    batch = filter_keypoints(raw, track.fps, "one-euro")
    s = OneEuroStream(track.fps, speed_scale(raw)).start()
    assert np.array_equal(np.stack([s.push(k) for k in raw]), batch)
    s = OneEuroStream(track.fps).start()  # running face scale: close, not equal
    assert np.abs(np.stack([s.push(k) for k in raw]) - batch).max() < 1.0


def test_lag_faceless_frames_and_bad_frames(face_batch):
    """BGR frames from OpenCV with a 2-frame lag: every frame out in order within the lag; frames without a face
    get no row (a blank image) and the stream goes on."""
    import cv2

    from sketchsynth.errors import ParameterError
    from sketchsynth.live.face import FaceEngine

    db, video, track, _, _ = face_batch
    cap = cv2.VideoCapture(video)
    images = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        images.append(img)
    cap.release()
    images[30:33] = [np.zeros_like(images[0])] * 3
    e = FaceEngine(db, input_fps=track.fps, lag_ms=80).start()
    frames = []
    for i, img in enumerate(images):
        got = e.push_frame(img)
        frames += got
        assert all(i / track.fps - f.time_s <= 0.08 + 1e-9 for f in got)
    frames += e.finish()
    assert [f.index for f in frames] == list(range(len(images)))
    rows = np.array([f.row for f in frames])
    assert (rows[30:33] == -1).all() and (rows[:30] >= 0).all() and (rows[34:] >= 0).all()
    assert frames[31].image.shape == (288, 360, 3) and (frames[31].image == 255).all()
    assert (frames[10].image < 128).any() and np.isfinite(frames[10].keypoints).all()
    with pytest.raises(ParameterError, match="uint8"):
        e.start().push_frame(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ParameterError, match="savgol"):
        FaceEngine(db, jitter_filter="savgol").start()


def test_live_face_of_another_person_is_retargeted(grid_example):
    """Another person's keypoints (the bundled henan reading) pushed live: their expression is carried onto the
    speaker's face once the stream has seen enough of it, and the chosen mouths follow theirs better than
    matched as given."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.evaluation.metrics import mouth_opening as opening
    from sketchsynth.live.face import FaceEngine
    from sketchsynth.sources.load import load_input

    from conftest import EXAMPLES

    db = FrameDatabase.load(grid_example["db"])
    track = load_input(str(EXAMPLES / "inputs" / "henan_03001-03300"))

    r = {}
    for mode in ("off", "auto"):
        e = FaceEngine(db, input_fps=track.fps, lag_ms=None, render="none", jitter_filter="none",
                       retarget=mode).start()
        frames = [f for k in track.keypoints for f in e.push_keypoints(k)] + e.finish()
        rows = np.array([f.row for f in frames])
        r[mode] = np.corrcoef(opening(db.keypoints_[rows]), opening(track.keypoints))[0, 1]
        assert e.retarget_.report_["applied"] == (mode == "auto")
    assert r["auto"] > r["off"] + 0.1, r
