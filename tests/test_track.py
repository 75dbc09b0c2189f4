"""The dlib face tracker: agreement with OpenPose on fadg0, faces lost and missing, the cache, the CLI."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli
from sketchsynth.errors import DependencyError, InputError
from sketchsynth.io.openpose import read_openpose_folder
from sketchsynth.sources.load import Recording, discover, load_tracks
from sketchsynth.layout import MOUTH, inter_ocular

pytest.importorskip("av")
pytest.importorskip("dlib")
track = pytest.importorskip("sketchsynth.sources.tracker")
from sketchsynth.sources import track_cache, tracking  # noqa: E402

SENTENCES = ("sa1", "sa2", "si1279", "si1909")


@pytest.fixture(scope="module")
def fadg0_videos(shared_data, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("fadg0_video")
    for s in SENTENCES:
        shutil.copy(shared_data / "fadg0" / "video" / f"{s}.mp4", dst / f"{s}.mp4")
    return dst


def blank_video(path, n=12, size=(320, 240), level=128):
    from sketchsynth.io.video_write import write_video

    write_video(path, [np.full((size[1], size[0], 3), level, np.uint8)] * n, 25)
    return path


def spliced_video(src, path, blank):
    """``src``'s frames with the frames in ``blank`` (a range) replaced by a flat grey image."""
    from sketchsynth.io.video import iter_frames
    from sketchsynth.io.video_write import write_video

    frames = (np.full_like(img, 128) if i in blank else img for i, _, img in iter_frames(src, stop=60))
    write_video(path, frames, 25)
    return path


def mouth_jitter(kp):
    """Mean |second difference| of the mouth points, % of the inter-ocular distance."""
    ok = (kp[..., 2] > 0).all(axis=1)
    ok3 = ok[2:] & ok[1:-1] & ok[:-2]
    xy = kp[:, MOUTH, :2].astype(np.float64)
    d2 = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1).mean(axis=1)
    return float((d2[ok3] / inter_ocular(kp)[1:-1][ok3]).mean() * 100)


# ---------------------------------------------------------------------- agreement with OpenPose
@pytest.mark.parametrize("detect_every", [1, 5])
@pytest.mark.parametrize("sentence", SENTENCES)
def test_fadg0_tracking_agrees_with_shipped_openpose(sentence, detect_every, fadg0_videos, fadg0_dir):
    """Mean point error within 3% of the inter-ocular distance, overall and on the mouth.

    The JSON files count from 000, the video frames (as VidTIMIT's JPEGs) from 001; sa1 has one JSON file
    more than video frames, and there JSON k+1 is video frame k. The offset is checked, not assumed.
    """
    tv = track.FaceTracker(detect_every=detect_every).track(fadg0_videos / f"{sentence}.mp4")
    op = read_openpose_folder(fadg0_dir / sentence).keypoints
    kp = tv.keypoints
    assert (tv.n_faces > 0).all()

    def errors(offset):
        k = np.arange(len(kp))
        j = k + offset
        ok = (j >= 0) & (j < len(op))
        a, b = kp[k[ok]], op[j[ok]]
        return np.linalg.norm(a[:, :68, :2] - b[:, :68, :2], axis=-1) / inter_ocular(b)[:, None] * 100

    offset = len(op) - len(kp)
    assert offset == (1 if sentence == "sa1" else 0)
    err = errors(offset)
    assert err.mean() <= 3.0
    assert err[:, 48:68].mean() <= 3.0
    assert all(err.mean() < errors(o).mean() for o in (offset - 1, offset + 1))  # and it is the best offset
    # Pupils are eye-contour centroids, flagged with a lower confidence.
    assert (kp[:, :68, 2] == 1.0).all() and np.allclose(kp[:, 68:, 2], 0.5)


# ---------------------------------------------------------------------- missing model, dlib, face
def test_missing_model_is_a_dependency_error(monkeypatch, fadg0_videos, tmp_path):
    monkeypatch.setattr(track, "find_spec", lambda name: None)
    monkeypatch.setattr(track, "SYSTEM_MODEL_DIRS", ())
    with pytest.raises(DependencyError, match=r"pip install 'sketchsynth\[video\]'"):
        track.find_model()
    r = CliRunner().invoke(cli, ["track", str(fadg0_videos / "sa2.mp4"), "--out", str(tmp_path / "o"), "--no-cache"])
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "shape_predictor_68_face_landmarks.dat" in r.stderr and "sketchsynth[video]" in r.stderr
    assert not (tmp_path / "o").exists()


def test_missing_dlib_is_a_dependency_error(monkeypatch, fadg0_videos):
    import sys

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now fails
    with pytest.raises(DependencyError, match=r"'dlib'.*sketchsynth\[video\]"):
        track.FaceTracker(cache=False).track(fadg0_videos / "sa2.mp4")


def test_video_without_a_face(tmp_path):
    path = blank_video(tmp_path / "blank.mp4")
    tv = track.FaceTracker(cache=False).track(path)
    assert tv.keypoints.shape == (12, 70, 3) and not tv.keypoints.any() and not tv.n_faces.any()
    rec = Recording("blank", str(path), "video", str(tmp_path))
    with pytest.raises(InputError, match="no face found in any of its 12 frames"):
        tracking.track_video_recording(rec)
    r = CliRunner().invoke(cli, ["track", str(path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "no face found" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_frames_where_the_face_is_lost_are_flagged_not_fatal(fadg0_videos, tmp_path):
    path = spliced_video(fadg0_videos / "sa2.mp4", tmp_path / "lost.mp4", blank=range(20, 30))
    out = tmp_path / "tracked"
    r = CliRunner().invoke(cli, ["track", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    assert "a face in 50 frames, 10 without" in r.output
    doc = json.loads((out / "lost_000000000025_keypoints.json").read_text())
    assert doc["people"] == []
    frames = read_openpose_folder(out)
    assert (frames.n_people[20:30] == 0).all()
    assert (frames.n_people[:20] == 1).all() and (frames.n_people[30:] == 1).all()
    # build-db keeps those frames, marked unusable.
    db = tmp_path / "db"
    r = CliRunner().invoke(cli, ["build-db", str(path), "--db", str(db)])
    assert r.exit_code == 0, r.stderr
    assert "60 frames, 50 usable (unusable: 10 no_person)" in r.output


def test_face_leaving_the_picture_is_not_followed_into_the_background(fadg0_videos, shared_data, tmp_path):
    """Frames 20-49 show a textured part of another video (a body, no face): all of them are faceless,
    although following alone would have kept fitting landmarks to the texture."""
    import cv2

    from sketchsynth.io.video import iter_frames
    from sketchsynth.io.video_fetch import read_frames
    from sketchsynth.io.video_write import write_video

    texture = cv2.resize(read_frames(shared_data / "speaker31" / "31.mp4", [100])[0][400:720, 0:500], (512, 384))
    frames = (texture if 20 <= i < 50 else img for i, _, img in iter_frames(fadg0_videos / "sa2.mp4", stop=70))
    path = write_video(tmp_path / "away.mp4", frames, 25)["path"]
    for every in (1, 5):
        found = track.FaceTracker(detect_every=every, cache=False).track(path).n_faces > 0
        np.testing.assert_array_equal(found, (np.arange(70) < 20) | (np.arange(70) >= 50))


def test_largest_of_several_faces_is_tracked(fadg0_videos, tmp_path):
    """Two copies of the speaker side by side, the right one larger: the tracker takes the larger."""
    import cv2

    from sketchsynth.io.video import iter_frames
    from sketchsynth.io.video_write import write_video

    def two(img):
        small = cv2.resize(img, None, fx=0.6, fy=0.6)
        canvas = np.full((384, 512 + 320, 3), 90, np.uint8)
        canvas[:small.shape[0], :small.shape[1]] = small
        canvas[:, 320:] = img
        return canvas

    path = write_video(tmp_path / "two.mp4", (two(img) for _, _, img in iter_frames(fadg0_videos / "sa2.mp4",
                                                                                         stop=12)), 25)["path"]
    tv = track.FaceTracker(cache=False).track(path)
    assert tv.n_faces[0] == 2
    assert (tv.keypoints[:, 30, 0] > 320).all()  # nose tip on the large face, right half


# ---------------------------------------------------------------------- recordings, cache, parallel
def test_track_video_recording_gives_a_video_track(fadg0_videos):
    rec = discover(fadg0_videos / "sa2.mp4")[0]
    t = tracking.track_video_recording(rec)
    assert (t.kind, t.fps, t.fps_source, len(t)) == ("video", 25.0, "container", 103)
    np.testing.assert_array_equal(t.frames, np.arange(103))
    np.testing.assert_allclose(t.time_s, np.arange(103) * 0.04)
    assert t.video == str((fadg0_videos / "sa2.mp4").resolve()) and t.extra["audio"] == t.video
    assert t.keypoints.dtype == np.float32 and t.keypoints.shape == (103, 70, 3) and t.pupils_estimated


def test_variable_frame_rate_video_keeps_its_timestamps(shared_data, tmp_path):
    from sketchsynth.io.video import probe

    path = tmp_path / "vfr.mp4"
    shutil.copy(shared_data / "videos" / "retalking" / "1.mp4", path)
    t = tracking.track_video_recording(discover(path)[0])
    assert t.fps == pytest.approx(1350 / 61) and t.extra["variable_frame_rate"]
    np.testing.assert_allclose(t.time_s, probe(path).frame_times)
    assert (t.n_people == 1).all()


def test_jitter_filter_is_on_by_default_and_can_be_switched_off(fadg0_videos):
    rec = discover(fadg0_videos / "si1909.mp4")[0]
    raw = track.FaceTracker().track(rec.path).keypoints
    off = tracking.track_video_recording(rec, jitter_filter=None)
    on = tracking.track_video_recording(rec)
    np.testing.assert_array_equal(off.keypoints, raw)
    assert off.extra["filter"] is None and on.extra["filter"]["method"] == "one-euro"
    assert mouth_jitter(on.keypoints) < 0.7 * mouth_jitter(raw)
    # Filtering moves points by a fraction of the eye distance, not more.
    shift = np.linalg.norm(on.keypoints[..., :2] - raw[..., :2], axis=-1) / inter_ocular(raw)[:, None]
    assert shift.mean() < 0.02


def test_tracks_are_cached_by_file_and_parameters(fadg0_videos, tmp_path):
    path = tmp_path / "cache_probe.mp4"
    shutil.copy(fadg0_videos / "si1279.mp4", path)
    tr = track.FaceTracker()
    first = tr.track(path)
    again = tr.track(path)
    assert not first.from_cache and again.from_cache
    np.testing.assert_array_equal(first.keypoints, again.keypoints)
    assert not track.FaceTracker(detect_every=2).track(path).from_cache  # other parameters, other entry
    assert track.FaceTracker(detect_every=2).track(path).from_cache
    shutil.copy(fadg0_videos / "sa2.mp4", path)  # the file changed: tracked again
    assert not tr.track(path).from_cache
    entries = list(track_cache.cache_dir().glob("cache_probe-*.npz"))
    assert len(entries) == 3 and all(e.stat().st_size < 200_000 for e in entries)


def test_videos_of_a_folder_are_tracked_in_parallel_like_one_by_one(shared_data, tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    for name in ("brbk7n", "pwij3p", "lwbsza"):
        shutil.copy(shared_data / "videos" / "grid" / f"{name}.mpg", folder / f"{name}.mpg")
    recs = discover(folder)
    par = load_tracks(recs, n_workers=2, video_options={"cache": False})
    one = load_tracks(recs, n_workers=1, video_options={"cache": False})
    assert [t.name for t in par] == ["brbk7n", "lwbsza", "pwij3p"]
    for a, b in zip(par, one):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_a_bad_video_in_a_folder_fails_before_tracking(shared_data, tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    shutil.copy(shared_data / "videos" / "grid" / "brbk7n.mpg", folder / "good.mpg")
    (folder / "broken.mp4").write_bytes(b"\x00" * 5000)
    with pytest.raises(InputError, match="broken.mp4"):
        load_tracks(discover(folder), video_options={"cache": False})


# ---------------------------------------------------------------------- CLI
def test_cli_track_writes_openpose_json_that_reads_back(fadg0_videos, tmp_path):
    out = tmp_path / "sa2"
    runner = CliRunner()
    r = runner.invoke(cli, ["track", str(fadg0_videos / "sa2.mp4"), "--out", str(out), "--jitter-filter", "none"])
    assert r.exit_code == 0, r.output + r.stderr
    names = sorted(p.name for p in out.glob("*_keypoints.json"))
    assert names == [f"sa2_{i:012d}_keypoints.json" for i in range(103)]
    assert (out / "fps.txt").read_text().strip() == "25"
    back = read_openpose_folder(out)
    np.testing.assert_array_equal(back.frames, np.arange(103))
    raw = track.FaceTracker().track(fadg0_videos / "sa2.mp4").keypoints
    np.testing.assert_array_equal(back.keypoints, raw)  # float32 survives the JSON round trip exactly
    r = runner.invoke(cli, ["track", str(fadg0_videos / "sa2.mp4"), "--out", str(out)])
    assert r.exit_code == 2 and "--force" in r.stderr
    # The folder stands in for OpenPose output: build-db reads it, frame rate from fps.txt.
    r = runner.invoke(cli, ["build-db", str(out), "--db", str(tmp_path / "db")])
    assert r.exit_code == 0 and "25 fps from sidecar" in r.output


@pytest.mark.parametrize("args, fragment", [
    (["--detect-every", "0"], "detect_every"),
    (["--downscale", "2"], "downscale"),
    (["--downscale", "half"], "downscale"),
    (["--upsample", "7"], "upsample"),
])
def test_cli_track_rejects_bad_options(args, fragment, fadg0_videos, tmp_path):
    r = CliRunner().invoke(cli, ["track", str(fadg0_videos / "sa2.mp4"), "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2 and fragment in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_damaged_cache_entry_is_tracked_again(fadg0_videos, private_cache):
    tracker = track.FaceTracker()
    first = tracker.track(fadg0_videos / "si1279.mp4")
    entry = track_cache.cache_file(track_cache.cache_key(str(fadg0_videos / "si1279.mp4"), tracker.cache_params()))
    assert entry.is_file()
    entry.write_bytes(b"PK\x03\x04 not really a zip file")
    again = tracker.track(fadg0_videos / "si1279.mp4")
    assert not again.from_cache
    np.testing.assert_array_equal(again.keypoints, first.keypoints)
    assert tracker.track(fadg0_videos / "si1279.mp4").from_cache  # rewritten


def _entry(n, info=None):
    kp = np.zeros((n, 70, 3), np.float32)
    return track_cache.TrackedVideo(kp, np.arange(n) / 25.0, np.ones(n, np.int16), np.ones(n, bool),
                                    info if info is not None else {"video": {"n_frames": n}})


@pytest.mark.parametrize("planted", ["another-key", "ten-frames", "info-list", "times-backwards"])
def test_a_well_formed_but_wrong_cache_entry_is_not_trusted(planted, private_cache):
    """The cache folder is not sketchsynth's alone: an entry copied from another video, cut short, or with
    fields of the wrong kind is a miss (tracked again), never a wrong track or a crash."""
    key = "clip-" + "0" * 32
    tv = {"another-key": _entry(75), "ten-frames": _entry(10), "info-list": _entry(75, info=[1, 2]),
          "times-backwards": _entry(75)}[planted]
    if planted == "times-backwards":
        tv.time_s = tv.time_s[::-1].copy()
    track_cache.write_cache("clip-" + "1" * 32 if planted == "another-key" else key, tv)
    if planted == "another-key":  # the other video's entry, copied under this video's key
        shutil.copy(track_cache.cache_file("clip-" + "1" * 32), track_cache.cache_file(key))
    assert track_cache.read_cache(key, n_frames=75) is None
    track_cache.write_cache(key, _entry(75))
    assert track_cache.read_cache(key, n_frames=75) is not None  # the same entry, honest, is used


def test_a_video_edited_in_place_keeps_no_cached_track(tmp_path):
    """Same size, same modification time, same first MiB: other content is another key."""
    import os

    path = tmp_path / "v.mp4"
    data = bytearray(os.urandom(3 << 20))
    path.write_bytes(bytes(data))
    st = os.stat(path)
    before = track_cache.cache_key(str(path), {"p": 1})
    data[(2 << 20) + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert track_cache.cache_key(str(path), {"p": 1}) != before
