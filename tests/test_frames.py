"""Real-frame videos (--frames full|composite), the shipped GRID s1 tracks, and the tracker fit gate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("av")
pytest.importorskip("dlib")

from conftest import EXAMPLES, bundled_grid_db, SHARED  # noqa: E402

from sketchsynth.cli import cli  # noqa: E402

GRID = EXAMPLES / "grid_s1"


@pytest.fixture(scope="module")
def grid_db(tmp_path_factory):
    """A one-speaker database of 24 bundled GRID s1 sentences, tracks seeded from the shipped fixture."""
    return bundled_grid_db(tmp_path_factory, 4)


# ---------------------------------------------------------------------- the shipped tracks
def test_shipped_tracks_are_the_trackers_own_output(tmp_path):
    from sketchsynth.sources.track_fixture import fixture_track
    from sketchsynth.sources.tracker import FaceTracker

    clip = GRID / "inputs" / "pbbi8n.mp4"
    fresh = FaceTracker(cache=False).track(clip)
    with np.load(GRID / "tracks.npz") as z:
        meta = json.loads(str(z["meta"]))
        assert meta["tracker"] == FaceTracker().cache_params()
        entry = next(e for e in meta["videos"] if e["name"] == "pbbi8n")
        shipped = fixture_track(z, "pbbi8n", entry, meta, str(clip))
    np.testing.assert_array_equal(shipped.keypoints, fresh.keypoints)
    np.testing.assert_array_equal(shipped.detected, fresh.detected)
    np.testing.assert_array_equal(shipped.time_s, fresh.time_s)
    np.testing.assert_array_equal(shipped.det_score, fresh.det_score)  # NaN on followed frames, both
    assert np.isfinite(fresh.det_score[fresh.detected]).all() and np.isnan(fresh.det_score[~fresh.detected]).all()


def test_seeding_skips_a_changed_clip_and_other_tracker_parameters(tmp_path):
    from sketchsynth.sources.track_fixture import seed_track_cache
    from sketchsynth.sources.tracker import FaceTracker

    same = tmp_path / "bbas1s.mp4"
    shutil.copy(GRID / "inputs" / "bbas1s.mp4", same)
    edited = tmp_path / "swwv8p.mp4"
    data = bytearray((GRID / "inputs" / "swwv8p.mp4").read_bytes())
    data[-100] ^= 0xFF
    edited.write_bytes(bytes(data))
    other = seed_track_cache(GRID / "tracks.npz", [same], FaceTracker(detect_every=1))
    assert other["seeded"] == 0 and "parameters" in other["reason"]
    r = seed_track_cache(GRID / "tracks.npz", [same, edited])
    assert (r["seeded"] + r["cached"], r["skipped"]) == (1, 1)


def test_examples_are_one_speaker_from_the_train_split_and_attributed():
    names = sorted(p.stem for p in (SHARED / "grid_s1" / "video").glob("*.mp4"))
    if len(names) == 800:
        test = {n for i, n in enumerate(names) if i % 8 == 7}
        assert not test & {p.stem for p in (GRID / "recordings").glob("*.mp4")}
        assert {p.stem for p in (GRID / "inputs").glob("*.mp4")} <= test
    assert len(list((GRID / "recordings").glob("*.mp4"))) == 100
    assert sum(p.stat().st_size for p in GRID.rglob("*") if p.is_file()) < 12_000_000
    text = (GRID / "ATTRIBUTION.md").read_text()
    assert "Cooke" in text and "CC BY 4.0" in text


# ---------------------------------------------------------------------- --frames
def test_full_mode_never_shows_an_unfilled_pixel(grid_db, tmp_path):
    import cv2

    from sketchsynth.database.frame_database import FrameDatabase

    db_path, inputs = grid_db
    out = tmp_path / "full"
    r = CliRunner().invoke(cli, ["match", str(inputs / "swwv8p.mp4"), "--db", str(db_path), "--out", str(out),
                                 "--frames", "full"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "videos.json").read_text())
    assert meta["frames_mode"] == "full"
    mats = np.load(out / "frames_matrices.npy")
    rows = np.asarray(meta["db_rows"])
    db = FrameDatabase.load(db_path)
    w, h = meta["output_size"]
    ones = np.full((288, 360), 255, np.uint8)
    for m in mats:  # every output pixel comes from inside the recorded frame
        assert (cv2.warpAffine(ones, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0).all()
    # The camera only zooms in (never out) and moves smoothly although the chosen frames jump between
    # takes: the aim (where the output centre comes from) moves less than 1% of the frame per frame,
    # while the faces it follows jump by more.
    from sketchsynth.database.normalize import apply_matrices, invert_matrices
    from sketchsynth.layout import FACE_CENTER_POINTS

    scale = np.sqrt(np.abs(np.linalg.det(mats[:, :, :2])))
    assert (scale >= 0.999).all()
    aim = apply_matrices(np.array([[w / 2, h / 2]])[None].repeat(len(mats), 0), invert_matrices(mats))[:, 0]
    faces = db.keypoints_[rows][:, FACE_CENTER_POINTS, :2].mean(axis=1)
    assert len(np.flatnonzero(np.diff(rows) != 1)) >= 2
    assert np.abs(np.diff(aim, axis=0)).max() < 0.01 * w < np.abs(np.diff(faces, axis=0)).max()
    assert len(rows) == 75


def test_composite_keeps_the_background_outside_the_mask(grid_db):
    import cv2

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.video_fetch import decode_image
    from sketchsynth.layout import LOWER_FACE
    from sketchsynth.outputs.frames.composite import MORPH_FRAMES, composite_images, fitted_warp
    from sketchsynth.outputs.frames.fetch import fetch_db_frames
    from sketchsynth.database.normalize import apply_matrices
    from sketchsynth.outputs.frames.mesh import iod
    from sketchsynth.outputs.frames.seam import CHIN_MARGIN, FEATHER, MASK_GROW

    db = FrameDatabase.load(grid_db[0])
    rec = db.frames_["recording"].astype(str).to_numpy()
    names = list(dict.fromkeys(rec))
    bg_rows = np.flatnonzero(rec == names[0])[:30]
    # Paste another recording's frames, with a jump in the middle (morphed from the first stretch's continuation).
    src = np.flatnonzero(rec == names[1])
    rows = np.concatenate([src[10:25], src[50:65]])
    frames, _ = fetch_db_frames(db, np.concatenate([rows, src[25:30], bg_rows]))
    bg = {"images": [frames[int(r)] for r in bg_rows], "keypoints": db.keypoints_[bg_rows], "size": (360, 288)}
    rep = {}
    warp = fitted_warp(db)
    out = list(composite_images(db, rows, frames, bg, report=rep, warp=warp))
    changed_inside = 0
    for k, img in enumerate(out):
        back = decode_image(bg["images"][k])
        pts = [apply_matrices(db.keypoints_[rows[k]][:, :2], rep["matrices"][k]), db.keypoints_[bg_rows[k]][:, :2]]
        if 15 <= k < 15 + MORPH_FRAMES:  # morphed with the first stretch's recorded continuation
            cont = src[25 + k - 15]
            pts.append(apply_matrices(db.keypoints_[cont][:, :2],
                                      warp.plan(bg["keypoints"][k], db.keypoints_[cont])["S"]))
        region = np.zeros((288, 360), np.uint8)
        for p in pts:
            cv2.fillPoly(region, [np.round(p[LOWER_FACE]).astype(np.int32)], 255)
        g = int(round((MASK_GROW + CHIN_MARGIN + 3 * FEATHER) * iod(pts[1]))) + 3
        region = cv2.dilate(region, np.ones((2 * g + 1, 2 * g + 1), np.uint8)) > 0
        diff = np.abs(img.astype(int) - back.astype(int)).max(axis=2)
        assert (diff[~region] == 0).all(), k
        changed_inside += int((diff[region] > 8).sum() > 100)
    assert changed_inside >= 25  # the mouth was pasted in nearly every frame


def test_match_frames_options_on_the_cli(grid_db, tmp_path):
    db_path, inputs = grid_db
    out = tmp_path / "dub"
    r = CliRunner().invoke(cli, ["match", str(inputs / "bbas1s.mp4"), "--db", str(db_path), "--out", str(out),
                                 "--frames", "composite", "--background", "input"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "videos.json").read_text())
    assert meta["frames_mode"] == "composite" and meta["background"]["take"] == "input"
    assert meta["written"]["frames.mp4"]["frames"] == 75
    r = CliRunner().invoke(cli, ["match", str(inputs / "bbas1s.mp4"), "--db", str(db_path), "--out",
                                 str(tmp_path / "bad"), "--frames", "mosaic"])
    assert r.exit_code == 2 and "mosaic" in r.output
    assert "--frames" in CliRunner().invoke(cli, ["match", "--help"]).output


# ---------------------------------------------------------------------- the fit gate
def test_fit_gate_flags_turned_heads_and_keeps_frontal_frames(shared_data, tmp_path):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.database.quality import HEAD_TURNED, LOW_DETECTOR_SCORE, fit_gate
    from sketchsynth.sources.tracker import FaceTracker

    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(shared_data / "fadg0" / "video" / "head.mp4", rec / "head.mp4")
    kp = FaceTracker().track(rec / "head.mp4").keypoints
    face = kp[:, :, 2].max(axis=1) > 0
    reason, score = fit_gate(kp[face])
    yaw = np.abs(score["yaw_deg"])
    # head.mp4 starts frontal, then turns to either side: the turns are flagged, the frontal start kept.
    assert (reason[:25] == "").all()
    assert (reason == HEAD_TURNED).mean() > 0.25
    assert yaw.max() > 45
    db = FrameDatabase().build(rec, path=tmp_path / "db", force=True)
    counts = json.loads((tmp_path / "db" / "manifest.json").read_text())["counts"]
    assert counts["unusable_by_reason"].get(HEAD_TURNED, 0) == int((reason == HEAD_TURNED).sum())
    # The tilted views the detector found only weakly are flagged too, never the frontal start.
    weak = db.frames_["reason"].to_numpy() == LOW_DETECTOR_SCORE
    assert weak.sum() >= 10 and not weak[:25].any()
    assert not np.isin(np.flatnonzero(face)[reason == HEAD_TURNED], db.usable_rows_).any()


def test_fit_gate_keeps_frontal_grid_frames():
    from sketchsynth.database.quality import ShapeModel, fit_gate
    from sketchsynth.sources.track_fixture import fixture_track

    from sketchsynth.sources.tracking import weak_detection_frames

    with np.load(GRID / "tracks.npz") as z:
        meta = json.loads(str(z["meta"]))
        tracks = [fixture_track(z, e["name"], e, meta, "x") for e in meta["videos"]]
    kps = [t.keypoints for t in tracks]
    assert sum(len(weak_detection_frames(t)) for t in tracks) < 0.01 * sum(len(k) for k in kps)
    db = np.concatenate(kps[:100])
    model = ShapeModel().fit(db)
    for kp in (db, np.concatenate(kps[100:])):
        face = kp[:, :, 2].max(axis=1) > 0
        reason, _ = fit_gate(kp[face], model)
        assert (reason != "").mean() < 0.01


def test_fit_gate_flags_low_confidence_openpose_frames(fadg0_dir, tmp_path):
    from sketchsynth.io.openpose import read_openpose_folder
    from sketchsynth.database.quality import LOW_CONFIDENCE, fit_gate

    kp = read_openpose_folder(fadg0_dir / "sa1").keypoints.copy()
    assert (fit_gate(kp)[0] == "").all()
    kp[5:9, :, 2] = 0.25  # OpenPose unsure of the whole face (anchors still above --anchor-min-confidence)
    reason = fit_gate(kp)[0]
    assert (reason[5:9] == LOW_CONFIDENCE).all() and (np.delete(reason, range(5, 9)) == "").all()
    # build-db marks them unusable and counts them (keypoint recordings get the confidence test by default).
    from sketchsynth.database.frame_database import FrameDatabase

    rec = tmp_path / "rec"
    rec.mkdir()
    np.save(rec / "sa1_low.npy", kp)
    db = FrameDatabase(fps=25).build(rec, path=tmp_path / "db", force=True)
    counts = json.loads((tmp_path / "db" / "manifest.json").read_text())["counts"]
    assert counts["unusable_by_reason"] == {LOW_CONFIDENCE: 4}
    assert not np.isin([5, 6, 7, 8], db.usable_rows_).any()


def test_composite_join_morph_warps_one_frame_where_a_dissolve_mixes_two(grid_db):
    """At a jump, the morph frame moves the mouth's geometry (it differs from pasting the new frame alone); the
    default shows one frame's pixels on it, so its mouth keeps more fine detail than a dissolve of both."""
    import cv2

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.layout import MOUTH
    from sketchsynth.outputs.frames.composite import composite_images, fitted_warp
    from sketchsynth.outputs.frames.fetch import fetch_db_frames

    db = FrameDatabase.load(grid_db[0])
    rec = db.frames_["recording"].astype(str).to_numpy()
    names = list(dict.fromkeys(rec))
    bg_rows = np.flatnonzero(rec == names[0])[:6]
    src = np.flatnonzero(rec == names[1])
    rows = np.concatenate([src[10:13], src[50:53]])                      # a jump at output frame 3
    frames, _ = fetch_db_frames(db, np.concatenate([rows, src[13:16], bg_rows]))
    bg = {"images": [frames[int(r)] for r in bg_rows], "keypoints": db.keypoints_[bg_rows], "size": (360, 288)}
    warp = fitted_warp(db)

    def frame3(**kw):
        return list(composite_images(db, rows, frames, bg, warp=warp, **kw))[3]

    def detail(img):
        m = db.keypoints_[bg_rows[3]][MOUTH, :2]
        x0, y0 = (m.min(0) - 8).astype(int)
        x1, y1 = (m.max(0) + 8).astype(int)
        return cv2.Laplacian(cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F).var()

    warped, mixed, alone = frame3(), frame3(morph="dissolve"), frame3(crossfade=0)
    assert np.abs(warped.astype(int) - alone).mean() > 0.05              # the geometry moved
    assert np.abs(warped.astype(int) - mixed).mean() > 0.05              # not the dissolve
    assert detail(warped) > detail(mixed)
