"""Video in and out: probing, decoding by timestamp, H.264 + AAC writing, bad files, and match's videos."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli
from sketchsynth.errors import InputError
from sketchsynth.io.video import iter_frames, probe
from sketchsynth.io.video_fetch import fetch_frames, frame_indices_at, read_frames
from sketchsynth.io.video_write import write_video

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import BAD_VIDEOS, make_bad_video  # noqa: E402

from conftest import one_line_error  # noqa: E402

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def clips(shared_data, tmp_path_factory) -> dict:
    """Private copies of the real clips these tests use."""
    dst = tmp_path_factory.mktemp("clips")
    src = {"sa1": "fadg0/video/sa1.mp4", "head": "fadg0/video/head.mp4", "grid": "videos/grid/bbaf2n.mpg",
           "grid2": "videos/grid/lbax4n.mpg", "grid3": "videos/grid/lbbc2a.mpg",
           "vfr": "videos/retalking/1.mp4", "vox": "videos/voxceleb2/00010.mp4"}
    out = {}
    for k, rel in src.items():
        out[k] = dst / Path(rel).name
        shutil.copy(shared_data / rel, out[k])
    return out


def decoded_audio_seconds(path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate


# ---------------------------------------------------------------------- probe / decode
@pytest.mark.parametrize("clip, n, fps, size, audio_rate, vfr", [
    ("sa1", 119, 25.0, (512, 384), 32000, False),
    ("head", 346, 25.0, (512, 384), None, False),
    ("grid", 75, 25.0, (360, 288), 44100, False),   # MPEG-PS: the container declares no frame count
    ("vfr", 135, 1350 / 61, (700, 700), 44100, True),
    ("vox", 106, 25.0, (224, 224), 16000, False),
])
def test_probe_real_clips(clips, clip, n, fps, size, audio_rate, vfr):
    info = probe(clips[clip])
    assert info.n_frames == n
    assert info.fps == pytest.approx(fps, rel=1e-3)
    assert (info.width, info.height) == size
    assert info.has_audio == (audio_rate is not None)
    assert info.audio_sample_rate == audio_rate
    assert info.variable_frame_rate == vfr
    assert info.duration == pytest.approx(n / fps, rel=0.01)
    assert len(info.frame_times) == n and (np.diff(info.frame_times) > 0).all()


def test_iter_frames_keeps_the_timestamps_of_a_variable_frame_rate_file(clips):
    info = probe(clips["vfr"])
    got = [(i, t, img.shape) for i, t, img in iter_frames(clips["vfr"])]
    assert [g[0] for g in got] == list(range(135))
    times = np.array([g[1] for g in got])
    np.testing.assert_allclose(times, info.frame_times)
    steps = np.diff(times)
    assert steps.max() > 1.5 * steps.min()  # really variable: 1/30 s and 1/15 s intervals
    assert times[0] == pytest.approx(0.033, abs=1e-3)
    assert got[0][2] == (700, 700, 3)


def test_fetch_frames_returns_the_frame_shown_at_each_time(clips):
    frames = {i: img for i, _, img in iter_frames(clips["sa1"])}
    times = probe(clips["sa1"]).frame_times
    want = [57, 3, 57, 118, 0]
    got = fetch_frames(clips["sa1"], times[want] + 0.004)  # a little after the frame starts: still that frame
    for i, img in zip(want, got):
        np.testing.assert_array_equal(img, frames[i])
    assert got[0] is got[2]  # a repeated request is decoded once
    png = read_frames(clips["sa1"], [40], encode=".png")[0]
    import cv2
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), frames[40])


def test_frame_indices_at_picks_the_nearest_frame():
    ft = np.array([0.0, 0.04, 0.08, 0.2])
    np.testing.assert_array_equal(frame_indices_at(ft, [-1, 0.01, 0.03, 0.13, 0.15, 5]), [0, 0, 1, 2, 3, 3])


def test_read_frames_past_the_end_is_an_input_error(clips):
    with pytest.raises(InputError, match="beyond the video's end"):
        read_frames(clips["grid"], [10, 75])


def test_display_rotation_is_applied(clips, tmp_path):
    """A file storing frames turned clockwise with a 90 degree display rotation reads back upright."""
    src = [img for i, _, img in iter_frames(clips["sa1"], stop=6)]
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 384, 512, "yuv420p"
        s.set_display_rotation(90)
        for i, img in enumerate(src):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(img, k=-1)), format="bgr24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (512, 384, 90)
    back = [img for _, _, img in iter_frames(path)]
    assert back[3].shape == src[3].shape
    err = np.abs(back[3].astype(int) - src[3]).mean()
    wrong = np.abs(np.rot90(back[3], 2).astype(int) - src[3]).mean()
    assert err < 6 < wrong


# ---------------------------------------------------------------------- writing
@pytest.mark.parametrize("clip, fps, n, crop", [
    ("sa1", 25.0, 119, (383, 511)),   # odd size: padded to even for yuv420p
    ("sa1", 30.0, 60, (384, 512)),    # another rate: audio trimmed to 2 s of video
    ("grid", 25.0, 75, (288, 360)),   # MP2 audio 2.978 s, shorter than the 3 s of video
    ("vfr", 1350 / 61, 135, (700, 700)),
])
def test_writer_frame_count_fps_and_audio_duration(clips, tmp_path, clip, fps, n, crop):
    frames = (img[:crop[0], :crop[1]] for i, _, img in iter_frames(clips[clip], stop=n))
    src = probe(clips[clip])
    out = tmp_path / "out.mp4"
    rep = write_video(out, frames, fps, audio=clips[clip], audio_offset=src.start_time)
    info = probe(out)
    assert info.codec == "h264" and info.n_frames == rep["frames"] == n
    assert info.fps == pytest.approx(fps, rel=1e-4)
    assert (info.width, info.height) == (crop[1] + crop[1] % 2, crop[0] + crop[0] % 2)
    assert info.has_audio and info.audio_sample_rate == src.audio_sample_rate
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    audio_in_source = decoded_audio_seconds(clips[clip]) - src.start_time
    expected = min(n / fps, audio_in_source)
    assert decoded_audio_seconds(out) == pytest.approx(expected, abs=1024 / src.audio_sample_rate + 0.005)


def test_writer_without_audio_and_without_frames(tmp_path, clips):
    img = np.zeros((48, 64, 3), np.uint8)
    write_video(tmp_path / "silent.mp4", [img] * 5, 10)
    info = probe(tmp_path / "silent.mp4")
    assert (info.n_frames, info.has_audio) == (5, False)
    with pytest.raises(InputError, match="no frames"):
        write_video(tmp_path / "none.mp4", [], 25)
    with pytest.raises(InputError, match="no audio"):
        write_video(tmp_path / "x.mp4", [img], 25, audio=clips["head"])
    assert not (tmp_path / "x.mp4").exists()  # nothing half-written


# ---------------------------------------------------------------------- bad files
def _make_bad(kind, clips, tmp):
    return make_bad_video(kind, clips["sa1"], tmp)


BAD = BAD_VIDEOS


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_videos_raise_input_error(kind, clips, tmp_path):
    bad = _make_bad(kind, clips, tmp_path)
    with pytest.raises(InputError, match=BAD[kind]) as e:
        probe(bad)
    assert str(bad) in str(e.value)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_videos_on_the_command_line(kind, clips, tmp_path):
    bad = _make_bad(kind, clips, tmp_path)
    out = tmp_path / "tracked"
    one_line_error(CliRunner().invoke(cli, ["track", str(bad), "--out", str(out)]), BAD[kind], bad.name)
    assert not out.exists()


# ---------------------------------------------------------------------- match's videos
@pytest.fixture(scope="module")
def video_db(clips, tmp_path_factory):
    """A database built with the CLI from three GRID clips (tracked in parallel)."""
    root = tmp_path_factory.mktemp("videodb")
    recs = root / "recordings"
    recs.mkdir()
    for k in ("grid", "grid2", "grid3"):
        shutil.copy(clips[k], recs / Path(clips[k]).name)
    db = root / "db"
    r = CliRunner().invoke(cli, ["build-db", str(recs), "--db", str(db)])
    assert r.exit_code == 0, r.output + r.stderr
    assert "225 frames, 225 usable" in r.output
    return db


def test_database_remembers_video_timestamps_and_audio(video_db):
    from sketchsynth import FrameDatabase

    db = FrameDatabase.load(video_db)
    for rec in db.recordings_:
        assert rec["kind"] == "video" and rec["fps_source"] == "container" and Path(rec["video"]).is_file()
        assert rec["extra"]["audio"] == rec["video"] and rec["extra"]["filter"]["method"] == "one-euro"
    t = db.frames_[db.frames_["recording"] == "bbaf2n"]
    np.testing.assert_allclose(t["time_s"], np.arange(75) * 0.04, atol=1e-9)
    assert (t["frame"].to_numpy() == np.arange(75)).all()


@pytest.mark.parametrize("layout, width_factor", [("side-by-side", 2), ("overlay", 1)])
def test_match_video_writes_sketch_and_frames_videos(video_db, clips, tmp_path, layout, width_factor):
    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["match", str(clips["vox"]), "--db", str(video_db), "--out", str(out),
                                 "--sketch-layout", layout, "--frames", "warp"])  # warp: the input's frame size
    assert r.exit_code == 0, r.output + r.stderr
    assert "sketch.mp4" in r.output and "frames.mp4" in r.output
    src = probe(clips["vox"])
    for name, width in (("sketch.mp4", 224 * width_factor), ("frames.mp4", 224)):
        info = probe(out / name)
        assert (info.n_frames, info.width, info.height) == (106, width, 224)
        assert info.fps == pytest.approx(25.0)
        assert decoded_audio_seconds(out / name) == pytest.approx(min(106 / 25, decoded_audio_seconds(clips["vox"])),
                                                                 abs=1024 / src.audio_sample_rate + 0.005)
    meta = json.loads((out / "videos.json").read_text())
    sel = pd.read_csv(out / "selection.csv")
    assert meta["db_rows"] == sel["db_index"].tolist()  # same rate: the selection itself, frame by frame


def test_sketch_frames_draw_input_black_and_match_blue():
    from sketchsynth.outputs.sketch_video import sketch_frames

    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(100, 300, (3, 70, 2)), np.ones((3, 70, 1))], axis=2).astype(np.float32)
    match = kp.copy()
    match[..., :2] += 150
    match[1] = np.nan  # no match in frame 1

    def black(img):
        return int((img.sum(axis=-1) < 150).sum())

    def blue(img):
        return int(((img[..., 0] > 150) & (img[..., 2] < 100)).sum())

    side = list(sketch_frames(kp, match, (480, 400), np.array([0, 1, 2])))
    assert side[0].shape == (400, 960, 3)
    left, right = side[0][:, :480], side[0][:, 480:]
    assert black(left) > 500 and blue(left) == 0 and blue(right) > 500 and black(right) < 50
    assert blue(side[1][40:, 480:]) == 0  # nothing matched, nothing drawn (below the legend)
    over = next(sketch_frames(kp, match, (480, 400), np.array([2]), layout="overlay"))
    assert over.shape == (400, 480, 3) and black(over) > 500 and blue(over) > 500
    # Where the match coincides with the input (lips, mostly) the input stays black, the match shows around it.
    same = next(sketch_frames(kp, kp, (480, 400), np.array([0]), layout="overlay"))
    alone = next(sketch_frames(kp, kp * np.nan, (480, 400), np.array([0]), layout="overlay"))
    assert black(same[40:]) >= 0.9 * black(alone[40:]) and blue(same) > 500


def test_frames_video_shows_the_selected_database_frames_where_the_input_head_is(video_db, clips, tmp_path):
    """frames.mp4 frame t is DB frame rows[t] warped by inv(M_input[t]) o M_db[rows[t]]: its face
    lands on the input's face, so the warped database keypoints equal matched_in_input_coords."""
    from sketchsynth import FrameDatabase, match
    from sketchsynth.sources.load import load_input
    from sketchsynth.outputs.placement import matched_in_input_coords
    from sketchsynth.database.normalize import apply_matrices
    from sketchsynth.outputs.frames.warp import warp_matrices

    db = FrameDatabase.load(video_db)
    track = load_input(clips["sa1"])
    res = match(db, track.keypoints)
    ok = res.rows >= 0
    warps = warp_matrices(db.transforms_[res.rows[ok]], res.matrices[ok])
    moved = apply_matrices(db.keypoints_[res.rows[ok]], warps)
    np.testing.assert_allclose(moved, matched_in_input_coords(db, res)[ok, :, :2], atol=0.02)
    # ... and the anchors (35, 40, 46) land exactly on the input's anchors (affine normalization).
    np.testing.assert_allclose(moved[:, [35, 40, 46]], track.keypoints[ok][:, [35, 40, 46], :2], atol=0.02)


def test_plot_draws_a_contact_sheet_for_a_video_result(video_db, clips, tmp_path):
    import cv2

    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, ["match", str(clips["sa1"]), "--db", str(video_db), "--out", str(out)]).exit_code == 0
    r = runner.invoke(cli, ["plot", str(out), "--frame", "20", "--frame", "80", "--sheet", str(tmp_path / "s.png"),
                            "--out", str(tmp_path / "c_{t}.png")])
    assert r.exit_code == 0, r.output + r.stderr
    sheet = cv2.imread(str(tmp_path / "s.png"))
    assert sheet.shape[1] == 5 * 240 and sheet.shape[0] > 2 * 240  # composite: frames.mp4 beside the database frame
    panel = sheet[26:26 + 240, 3 * 240:]  # the database frame of the first row: a photo, not blank
    assert panel.std() > 20
    assert (tmp_path / "c_20.png").is_file() and (tmp_path / "c_80.png").is_file()


def test_keypoint_input_writes_no_videos_and_sheet_is_refused(video_db, fadg0_dir, tmp_path):
    out = tmp_path / "json"
    runner = CliRunner()
    r = runner.invoke(cli, ["match", str(fadg0_dir / "sa2"), "--db", str(video_db), "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    assert not (out / "sketch.mp4").exists() and not (out / "videos.json").exists()
    one_line_error(runner.invoke(cli, ["plot", str(out), "--sheet", str(tmp_path / "s.png")]), "video input")


def test_frames_video_is_skipped_when_database_videos_are_gone(video_db, clips, tmp_path):
    from sketchsynth import FrameDatabase, match
    from sketchsynth.sources.load import load_input
    from sketchsynth.outputs.results import write_match_outputs
    from sketchsynth.outputs.video import MatchVideoWriter

    db = FrameDatabase.load(video_db)
    for rec in db.recordings_:
        rec["video"] = str(tmp_path / "moved" / Path(rec["video"]).name)
    track = load_input(clips["grid"])
    res = match(db, track.keypoints)
    w = MatchVideoWriter(db, res, track)
    write_match_outputs(tmp_path / "run", db, res, track, write_files=w)
    assert (tmp_path / "run" / "sketch.mp4").is_file() and not (tmp_path / "run" / "frames.mp4").exists()
    assert "not found" in w.report_["skipped"]["frames.mp4"]
    assert "No frames.mp4" in w.summary_line("run")


# ---------------------------------------------------------------------- timeline resampling
class _FakeDB:
    """What resample_selection needs of a FrameDatabase: the frame table."""

    def __init__(self, recs):
        rows = [(name, i, i / fps) for name, n, fps in recs for i in range(n)]
        from sketchsynth.database.frame_table import FrameTable

        names = [name for name, _, _ in recs]
        self.table_ = FrameTable({"frame": np.array([r[1] for r in rows], np.int64),
                                  "time_s": np.array([r[2] for r in rows])},
                                 np.array([names.index(r[0]) for r in rows]), names)


def test_resample_selection_same_rate_is_the_selection():
    from sketchsynth.outputs.timeline import output_timeline, resample_selection

    db = _FakeDB([("a", 100, 25.0), ("b", 50, 25.0)])
    rows = np.array([5, 6, 7, -1, 120, 121, 40])
    times = np.arange(len(rows)) / 25
    out_t, idx = output_timeline(times, 25.0)
    np.testing.assert_array_equal(idx, np.arange(len(rows)))
    np.testing.assert_array_equal(resample_selection(db, rows, times, out_t), rows)


def test_resample_selection_plays_a_faster_database_at_its_own_speed():
    from sketchsynth.outputs.timeline import output_timeline, resample_selection

    db = _FakeDB([("a", 100, 50.0), ("b", 9, 50.0)])    # recorded at 50 fps; b is rows 100-108
    rows = np.array([10, 12, 14, 108])                  # input at 25 fps, one DB frame chosen per input frame
    times = np.arange(4) / 25
    out_t, _ = output_timeline(times, 50.0)             # rendered at 50 fps
    got = resample_selection(db, rows, times, out_t)
    # Between input frames the recording moves on by one 50 fps frame; at a recording's end it holds.
    np.testing.assert_array_equal(got, [10, 11, 12, 13, 14, 15, 108, 108])


def test_resample_selection_for_a_variable_frame_rate_input():
    from sketchsynth.outputs.timeline import output_timeline, resample_selection

    db = _FakeDB([("a", 200, 30.0)])
    times = np.array([0, 1, 2, 4, 5, 7]) / 30           # frames dropped: VFR
    rows = np.array([0, 1, 2, 4, 5, 7]) + 50
    out_t, idx = output_timeline(times, 30.0, duration=8 / 30)
    assert len(out_t) == 8 and idx[0] == 0 and idx[-1] == 5
    np.testing.assert_array_equal(resample_selection(db, rows, times, out_t), np.arange(8) + 50)


# ---------------------------------------------------------------------- the demo's video path
def test_video_demo_is_one_speaker_and_does_not_retrack(tmp_path):
    from conftest import EXAMPLES

    from sketchsynth.demo.video import run_video_demo

    bundle = EXAMPLES / "grid_s1"
    assert sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file()) < 12_000_000
    assert "CC BY 4.0" in (bundle / "ATTRIBUTION.md").read_text()
    lines = []
    r = run_video_demo(tmp_path / "db", tmp_path / "out", log=lines.append)
    assert len(lines) == 4 and "100 sentences of one GRID speaker" in lines[0]
    # the last step: the held-out sentence's sound alone drives the face (librosa is in the test extra)
    assert "sound of bbas1s.mp4 alone" in lines[3]
    for name in ("sketch.mp4", "frames.mp4"):
        assert probe(tmp_path / "out-speech" / name).has_audio
    assert r["speech"]["drive"] == "audio" and r["speech"]["matched_frames"] == 75
    assert r["seeding"]["skipped"] == 0  # every bundled clip's track came from the shipped fixture
    for name in ("sketch.mp4", "frames.mp4"):
        info = probe(tmp_path / "out" / name)
        assert (info.n_frames, info.fps, info.has_audio) == (75, 25.0, True)
    assert r["summary"]["matched_frames"] == 75
    assert r["videos"]["frames_mode"] == "composite"


def test_keypoint_input_with_an_audio_file_gets_a_sketch_video(video_db, fadg0_dir, shared_data, tmp_path):
    out = tmp_path / "with_audio"
    wav = shared_data / "fadg0" / "audio" / "sa1.wav"
    r = CliRunner().invoke(cli, ["match", str(fadg0_dir / "sa1"), "--db", str(video_db), "--out", str(out),
                                 "--audio", str(wav)])
    assert r.exit_code == 0, r.stderr
    info = probe(out / "sketch.mp4")
    assert info.n_frames == 120 and info.fps == 25 and info.has_audio
    assert abs(decoded_audio_seconds(out / "sketch.mp4") - 120 / 25) < 0.1  # trimmed to the video
    assert (out / "frames.mp4").exists()  # the database has video: its frames, where the input's head is
