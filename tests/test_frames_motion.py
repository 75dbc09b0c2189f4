"""Real frames of a speaker who moves: head pose, the mesh paste and its self-check, full-mode joins, the sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("av")
pytest.importorskip("dlib")

from conftest import EXAMPLES, bundled_grid_db, one_line_error  # noqa: E402

from sketchsynth.cli import cli  # noqa: E402

GRID = EXAMPLES / "grid_s1"


@pytest.fixture(scope="module")
def grid_db(tmp_path_factory):
    """A one-speaker database of 12 bundled GRID s1 sentences, tracks seeded from the shipped fixture."""
    from sketchsynth.database.frame_database import FrameDatabase

    path, inputs = bundled_grid_db(tmp_path_factory, 8, 1)
    return FrameDatabase.load(path), inputs


@pytest.fixture(scope="module")
def cnn2(shared_data, tmp_path_factory):
    """A moving-head speaker: a database of cnn2's first 6 s, and 2 s from its 50th second as the input."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.video import iter_frames
    from sketchsynth.io.video_write import write_video

    src = shared_data / "videos" / "dfrf" / "cnn2_25fps.mp4"
    work = tmp_path_factory.mktemp("cnn2")
    (work / "rec").mkdir()
    for path, (a, b) in ((work / "rec" / "db.mp4", (0, 150)), (work / "input.mp4", (1250, 1300))):
        frames = (img for i, (_, _, img) in enumerate(iter_frames(str(src))) if a <= i < b)
        write_video(path, frames, 25.0, audio=str(src), audio_offset=a / 25.0, crf=14)
    return FrameDatabase().build(work / "rec", path=work / "db", force=True), work / "input.mp4"


# ---------------------------------------------------------------------- head pose
def test_head_pose_follows_an_in_plane_turn_and_nothing_else(grid_db):
    from sketchsynth.database.pose import face_geometry, head_pose

    kp = np.asarray(grid_db[0].keypoints_[:40], np.float64)[..., :2]
    a, s = np.radians(10.0), 1.3
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    moved = kp @ rot.T + [17.0, -5.0]
    p, q = head_pose(kp), head_pose(moved)
    assert np.allclose(q[:, :2], p[:, :2], atol=1e-9)                       # yaw, pitch
    assert np.allclose(q[:, 2] - p[:, 2], a, atol=1e-9)                     # roll
    assert np.allclose(q[:, 3] - p[:, 3], np.log(s), atol=1e-9)             # scale
    assert np.allclose(face_geometry(moved), face_geometry(kp))
    turned = kp.copy()
    e = kp[:, 45] - kp[:, 36]
    turned[:, 30] += 5.0 * e / np.linalg.norm(e, axis=1, keepdims=True)  # the nose tip along the eyes' line:
    # yaw grows, pitch stays
    assert (head_pose(turned)[:, 0] > p[:, 0]).all() and np.allclose(head_pose(turned)[:, 1], p[:, 1])


def test_pose_term_prefers_the_background_pose_and_reranks_the_lattice(grid_db):
    from sketchsynth.database.pose import PoseSpace
    from sketchsynth.selection.pose import pose_term

    db = grid_db[0]
    space = PoseSpace().fit(db)
    T = 5
    bg_rows = np.arange(T)
    term = pose_term(space, space.db_pose_[bg_rows], 1.0)
    z = space.z(space.db_pose_)
    far = int(np.nanargmax(((z - z[0]) ** 2).sum(axis=1)))
    d = term.distances(np.arange(T), np.stack([bg_rows, np.full(T, far)], axis=1))
    assert np.allclose(d[:, 0], 0.0) and (d[:, 1] > d[:, 0]).all()


def test_the_streaming_pose_term_is_the_batch_term_one_frame_at_a_time(grid_db):
    """Live composite: a frame's column is re-ranked exactly as the batch re-ranks a lattice row with the pose
    term of the background frame it will show, and the decoder gets that same term for the successors."""
    from sketchsynth.database.pose import PoseSpace
    from sketchsynth.selection.pose import StreamingPoseTerm, pingpong, pose_term
    from sketchsynth.targets.feature_term import rerank_with

    db = grid_db[0]
    rec = np.asarray(db.table_["recording"])
    bg = np.flatnonzero(rec == rec[0]).astype(np.int64)
    live = StreamingPoseTerm(bg, start=3, weight=0.5).fit(db)
    rng = np.random.default_rng(0)
    cand = np.concatenate([rng.choice(db.usable_rows_, 12, replace=False), [-1]]).astype(np.int64)
    cost = np.concatenate([np.sort(rng.uniform(1, 2, 12)), [np.inf]])
    k, unit = 40, 2.0
    index = int(pingpong(len(bg), 1, 3 + k)[0])
    space = PoseSpace().fit(db)
    want_c, want_cost = rerank_with(pose_term(space, space.db_pose_[bg], 0.5 * unit), cand[None], cost[None],
                                    np.array([index]))
    got_c, got_cost, (fq, fbank, fpos, fw, fmiss) = live.column(k, cand, cost, unit)
    assert np.array_equal(got_c, want_c[0]) and np.allclose(got_cost, want_cost[0])
    assert fw == 1.0 and np.allclose(fq, np.nan_to_num(space.z(space.db_pose_[bg[index]][None]))[0])
    assert np.allclose(fbank[fpos[got_c[0]]], np.nan_to_num(space.z(space.db_pose_[got_c[0]][None]))[0])
    # a heavy weight puts the background frame itself first, though its own target cost is the worst
    worst = np.concatenate([cand[:-1], [bg[index]]])
    c, _, _ = StreamingPoseTerm(bg, start=3, weight=100.0).fit(db).column(k, worst, np.linspace(1, 2, 13), 1.0)
    assert c[0] == bg[index]


def test_select_plans_the_background_and_the_pose_term_pulls_the_choice_to_it(grid_db):
    from sketchsynth.database.pose import PoseSpace
    from sketchsynth.selection.select import select
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.face import face_target

    db, inputs = grid_db
    target = face_target(db, load_input(sorted(inputs.glob("*.mp4"))[0]))
    plain = select(db, target)
    off = select(db, target, pose_weight=0.0)
    assert plain.background is None and off.background is not None
    assert np.array_equal(off.result.rows, plain.result.rows)  # weight 0: the take is chosen, costs untouched
    assert off.params["pose_join_weight"] == 0.0
    space = PoseSpace().fit(db)

    def mismatch(syn):
        z = space.z(space.db_pose_)
        bg = syn.background.rows
        ok = syn.result.rows >= 0
        return float(((z[syn.result.rows[ok]] - z[bg[ok]]) ** 2).sum(axis=1).mean())

    strong = select(db, target, pose_weight=4.0)
    assert strong.params["pose_weight"] == 4.0 and strong.background.rows.shape == (len(target),)
    assert mismatch(strong) < mismatch(off)


def test_the_pose_join_term_charges_pose_jumps_between_joined_frames(grid_db):
    """The join side charges a jump by the pose distance between its two frames: the decoder's joins carry
    it (its reported join costs grow by exactly that), and a heavy weight makes the pose jump less."""
    from sketchsynth.database.pose import PoseSpace
    from sketchsynth.selection.joins import path_joins
    from sketchsynth.selection.select import select
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.face import face_target

    db, inputs = grid_db
    target = face_target(db, load_input(sorted(inputs.glob("*.mp4"))[0]))
    z = PoseSpace().fit(db)
    z = z.z(z.db_pose_)

    def jumps(syn):
        rows, jump = syn.result.rows, syn.result.is_jump
        t = np.flatnonzero(jump)
        return float(np.nansum(((z[rows[t]] - z[rows[t - 1]]) ** 2).sum(axis=1)))

    off = select(db, target, pose_weight=0.25, pose_join_weight=0.0)
    on = select(db, target, pose_weight=0.25, pose_join_weight=50.0)
    assert on.params["pose_join_weight"] == 50.0 and off.params["pose_join_weight"] == 0.0
    assert jumps(on) < jumps(off)
    # the reported join costs are the keypoint joins plus the term, on the jumps only
    d = on.result.decoding
    plain, _ = path_joins(db, on.result.rows, d.segment_start, "successor", d.params["jump_cost_abs"])
    extra = on.result.join_cost - plain
    assert (extra[on.result.is_jump] > 0).any() and np.allclose(extra[~on.result.is_jump & np.isfinite(extra)], 0)


# ---------------------------------------------------------------------- the mesh paste and its check
def test_a_frame_pasted_onto_itself_is_unchanged_and_plausible(grid_db):
    from sketchsynth.outputs.frames.check import PasteCheck
    from sketchsynth.outputs.frames.composite import fitted_warp

    db = grid_db[0]
    warp, check = fitted_warp(db, follow=0.0), PasteCheck().fit(db)
    kp = np.asarray(db.keypoints_[10], np.float64)
    plan = warp.plan(kp, kp)
    assert np.allclose(plan["S"], [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    assert np.allclose(plan["dst_kp"], kp[:, :2])
    verdict = check.check(warp, kp, kp)
    assert verdict["ok"] and verdict["flipped"] == 0 and verdict["stretch"] < 1.01


def test_a_paste_onto_a_rolled_head_is_flagged(grid_db):
    from sketchsynth.outputs.frames.check import PasteCheck
    from sketchsynth.outputs.frames.composite import fitted_warp

    db = grid_db[0]
    warp, check = fitted_warp(db), PasteCheck().fit(db)
    kp = np.asarray(db.keypoints_[10], np.float64)[:, :2]
    a = np.radians(12.0)
    c = kp[30]
    rolled = (kp - c) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + c
    assert "rotation" in check.check(warp, rolled, kp)["reason"]


def test_the_geometry_margin_narrows_the_plausible_range_and_flags_a_paste_at_its_edge(grid_db):
    from sketchsynth.database.pose import face_geometry, geometry_range
    from sketchsynth.outputs.frames.check import PasteCheck
    from sketchsynth.outputs.frames.composite import fitted_warp

    db = grid_db[0]
    lo, hi = geometry_range(db)
    narrow = PasteCheck(geometry_margin=0.25).fit(db).geometry_range_
    assert np.allclose(narrow, [lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo)])
    # the frame nearest the range's edge in some measure: inside the plain range, outside the narrowed one
    g = face_geometry(db.keypoints_)
    inside = np.isfinite(g).all(1) & ((g >= lo) & (g <= hi)).all(1)
    edge = np.minimum(g - lo, hi - g) / (hi - lo)
    k = int(np.flatnonzero(inside)[np.argmin(edge[inside].min(1))])
    kp = np.asarray(db.keypoints_[k], np.float64)
    warp = fitted_warp(db, follow=0.0)
    assert PasteCheck(geometry_margin=0.0).fit(db).check(warp, kp, kp)["ok"]
    assert "geometry" in PasteCheck(geometry_margin=0.25).fit(db).check(warp, kp, kp)["reason"]


def test_follow_moves_the_mouth_towards_the_target_but_lips_never_cross(grid_db):
    from sketchsynth.layout import LIP_ORDER
    from sketchsynth.outputs.frames.composite import fitted_warp
    from sketchsynth.outputs.frames.mesh import iod

    db = grid_db[0]
    warp = fitted_warp(db, follow=1.0)
    kp = np.asarray(db.keypoints_[10], np.float64)[:, :2]
    res = np.zeros((70, 2))
    res[[65, 66, 67, 56, 57, 58], 1] = -50.0  # the lower lip pulled far up, through the upper
    moved = warp.moved(kp, res)
    e = kp[45] - kp[36]
    down = np.array([-e[1], e[0]]) / np.linalg.norm(e)  # down the face, perpendicular to the eyes' line
    for up, lo in LIP_ORDER:
        assert (moved[lo] - moved[up]) @ down >= min((kp[lo] - kp[up]) @ down, 0.0) - 1e-6
    assert (np.linalg.norm(moved - kp, axis=1) <= warp.max_follow * iod(kp) + 1e-9).all()
    assert moved[57, 1] < kp[57, 1] - 1.0  # the outer lip did move up, as far as allowed
    res[:] = 0
    res[57, 1] = 2.0  # a small opening is followed exactly
    assert np.allclose(warp.moved(kp, res)[57], kp[57] + [0, 2.0])


class RowsCheck:
    """A check that passes exactly the rows it is given (the fallback logic alone)."""

    def __init__(self, good):
        self.good = set(good)
        self.kp = None

    def check(self, warp, bg_kp, src_kp, residual=None):
        ok = any(np.array_equal(src_kp, self.kp[r]) for r in self.good)
        return {"ok": ok, "reason": "" if ok else "geometry"}


def test_self_check_replaces_by_a_candidate_else_holds_the_previous_paste(grid_db):
    from sketchsynth.outputs.frames.check import checked_rows

    db = grid_db[0]
    check = RowsCheck({1, 2, 5})
    check.kp = np.asarray(db.keypoints_, np.float64)
    bg = np.asarray(db.keypoints_[:4], np.float64)
    rows = np.array([1, 3, 4, 6])
    alts = np.array([[1, 9, -1], [3, 7, 5], [4, 8, -1], [6, 8, -1]])
    out, _, rep = checked_rows(check, None, db, rows, bg, alts)
    # frame 1: its candidate 5 passes; frame 2: none does, the previous paste (5) is held; frame 3: 5 again
    assert out.tolist() == [1, 5, 5, 5]
    assert rep["implausible"] == 3 and rep["replaced_candidate"] == 1 and rep["held_previous"] == 2
    check.good = {1}
    out, _, rep = checked_rows(check, None, db, np.array([1, 3]), bg[:2], None)
    assert out.tolist() == [1, 1] and rep["held_previous"] == 1
    check.good = {2}  # nothing passes but the background frame's own (row 2 is the background at frame 1)
    out, _, rep = checked_rows(check, None, db, np.array([3, 4]), bg[:2], None, bg_rows=np.array([7, 2]))
    assert out.tolist() == [3, 2] and rep["background_own"] == 1 and rep["kept_implausible"] == 1
    check.good = set()
    out, _, rep = checked_rows(check, None, db, np.array([3, 4]), bg[:2], None)
    assert out.tolist() == [3, 4] and rep["kept_implausible"] == 2


class StillMouthCheck(RowsCheck):
    """Passes its rows only when their mouth is not moved (no residual, or a zero one)."""

    def check(self, warp, bg_kp, src_kp, residual=None):
        still = residual is None or not np.abs(residual).any()
        return {"ok": still and super().check(warp, bg_kp, src_kp)["ok"], "reason": "geometry"}


def test_self_check_follows_less_on_a_replacement_before_keeping_a_failing_paste(grid_db):
    """A replacement that passes only with its mouth as recorded is taken at follow 0; when nothing passes,
    the first choice is kept with its mouth as recorded."""
    from sketchsynth.outputs.frames.check import checked_rows
    from sketchsynth.outputs.frames.composite import fitted_warp

    db = grid_db[0]
    check = StillMouthCheck({5})
    check.kp = np.asarray(db.keypoints_, np.float64)
    target = np.asarray(db.normalized_[[40, 60]], np.float64)[..., :2]  # other mouths: a nonzero follow
    bg = np.asarray(db.keypoints_[:2], np.float64)
    warp = fitted_warp(db)
    out, follow, rep = checked_rows(check, warp, db, np.array([3, 4]), bg, np.array([[3, 5], [4, 8]]), target)
    assert out.tolist() == [5, 5] and follow.tolist() == [0.0, 0.0]
    assert rep["replaced_candidate"] == 1 and rep["held_previous"] == 1 and rep["replacement_follows_less"] == 2
    assert rep["less_follow"] == 0  # row 3 fails at every follow: not counted as following less
    check.good = set()
    out, follow, rep = checked_rows(check, warp, db, np.array([3]), bg[:1], np.array([[3, 5]]), target[:1])
    assert out.tolist() == [3] and follow.tolist() == [0.0] and rep["kept_implausible"] == 1


# ---------------------------------------------------------------------- full mode: joins
def test_full_mode_morph_never_shows_two_faces(grid_db):
    """Two frames whose faces sit 20 px apart, each with a bright dot on its nose tip: every morph frame
    shows one dot (the faces coincide), where a dissolve would show two."""
    import cv2

    from sketchsynth.outputs.frames.full import morph_frame

    db = grid_db[0]
    kp_new = np.asarray(db.keypoints_[5], np.float64)
    kp_old = kp_new.copy()
    kp_old[:, 0] += 20.0
    eye = np.eye(2, 3)

    def dotted(kp):
        img = np.zeros((288, 360, 3), np.uint8)
        cv2.circle(img, tuple(int(v) for v in np.round(kp[30, :2])), 3, (255, 255, 255), -1)
        return img

    for w in (0.75, 0.5, 0.25):
        out = morph_frame(dotted(kp_new), kp_new, eye, (dotted(kp_old), kp_old, eye, w), (360, 288))
        n, _ = cv2.connectedComponents((out.max(axis=2) > 100).astype(np.uint8))
        assert n - 1 == 1, w
        ys, xs = np.nonzero(out.max(axis=2) > 100)
        assert abs(xs.mean() - (kp_new[30, 0] + 20.0 * w)) < 2.0  # where the interpolated face has its nose


def test_full_mode_cuts_a_big_jump_and_morphs_a_small_one(grid_db):
    from sketchsynth.outputs.frames.full import MORPH_MAX, join_plan

    db = grid_db[0]
    rec = np.asarray(db.table_["recording"])
    a, b = (np.flatnonzero(rec == n) for n in list(dict.fromkeys(rec))[:2])
    rows = np.concatenate([a[:10], b[20:30]])
    eye = np.broadcast_to(np.eye(2, 3), (20, 2, 3)).copy()
    small = join_plan(db, rows, eye, 3)
    assert small["morphs"] + small["cuts"] == 1
    far = eye.copy()
    far[10:, :, 2] += 5 * MORPH_MAX * 100  # the new take lands far away in the picture: cut
    big = join_plan(db, rows, far, 3)
    assert big["cuts"] == 1 and (big["prev"] < 0).all()
    assert join_plan(db, rows, eye, 3, style="cut")["cuts"] == 1


# ---------------------------------------------------------------------- a moving head, end to end
def test_composite_on_a_moving_head_checks_every_paste_and_shows_database_frames(cnn2, tmp_path):
    import cv2

    from sketchsynth.io.video import probe
    from sketchsynth.io.video_fetch import fetch_frames

    db, clip = cnn2
    out = tmp_path / "m"
    r = CliRunner().invoke(cli, ["match", str(clip), "--db", str(db.path_), "--out", str(out)])
    assert r.exit_code == 0, r.output + str(r.exception)
    summary = json.loads((out / "summary.json").read_text())
    meta = json.loads((out / "videos.json").read_text())
    chk = summary["frames_check"]
    fallbacks = ("less_follow", "replaced_candidate", "held_previous", "background_own", "kept_implausible")
    assert chk["checked"] == 50 and chk["implausible"] == sum(chk[k] for k in fallbacks)
    from sketchsynth.selection.pose import DEFAULT_POSE_WEIGHT, FULL_POSE_FRAMES, default_pose_weight

    w = default_pose_weight(db)  # a 6 s database: weaker than a long one's
    assert w == pytest.approx(DEFAULT_POSE_WEIGHT * (db.n_usable_ / FULL_POSE_FRAMES) ** 2) and 0 < w < 0.25
    assert summary["smoothing"]["pose_weight"] == pytest.approx(w) and meta["background"]["pose_weight"] == \
        pytest.approx(w)
    assert summary["smoothing"]["pose_join_weight"] == 0.25
    info = probe(out / "frames.mp4")
    assert (info.width, info.height) == (512, 512) and meta["written"]["frames.mp4"]["seconds"] > 0
    # the sheet's "matched database frame" is the recorded frame shown, not the composited output; both are
    # shown around their own face (the box of the shown row's points, and the same mapped into frames.mp4)
    src = meta["db_frames"]
    row = meta["db_rows_shown"][10]
    kp = db.keypoints_[row]
    face, shown_face = np.array(src["face"][10]), np.array(src["shown_face"][10])
    assert np.allclose(face, [*kp[:, :2].min(axis=0), *kp[:, :2].max(axis=0)], atol=0.06)
    m = np.load(out / "frames_matrices.npy")[10]
    moved = kp[:, :2] @ m[:, :2].T + m[:, 2]
    assert np.allclose(shown_face, [*moved.min(axis=0), *moved.max(axis=0)], atol=0.06)
    sheet_path = tmp_path / "sheet.png"
    r = CliRunner().invoke(cli, ["plot", str(out), "--frame", "10", "--sheet", str(sheet_path)])
    assert r.exit_code == 0, r.output
    sheet = cv2.imread(str(sheet_path))
    assert sheet.shape[1] == 5 * 240
    panel, panel_out = (sheet[26:26 + 240, c * 240:(c + 1) * 240].astype(float) for c in (3, 4))

    def around(img, box):  # the square 1.6 times the face box, resized to the panel
        c, side = (box[:2] + box[2:]) / 2, 1.6 * (box[2:] - box[:2]).max()
        s = 240 / side
        a = np.array([[s, 0, -(c[0] - side / 2) * s], [0, s, -(c[1] - side / 2) * s]])
        return cv2.warpAffine(img, a, (240, 240), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                              borderValue=(255, 255, 255)).astype(float)

    want = fetch_frames(src["videos"][src["video"][10]], np.array([src["time_s"][10]]))[0]
    composite = fetch_frames(out / "frames.mp4", np.array([10 / 25.0]))[0]
    assert np.abs(panel - around(want, face)).mean() < 2.0
    assert np.abs(panel_out - around(composite, shown_face)).mean() < 2.0  # and frames.mp4 beside it
    assert np.abs(panel - around(composite, face)).mean() > np.abs(panel - around(want, face)).mean()


def test_pose_weight_must_be_a_number_at_least_zero(cnn2, tmp_path):
    db, clip = cnn2
    r = CliRunner().invoke(cli, ["match", str(clip), "--db", str(db.path_), "--out", str(tmp_path / "x"),
                                 "--pose-weight", "-1"])
    one_line_error(r, "--pose-weight")
    r = CliRunner().invoke(cli, ["match", str(clip), "--db", str(db.path_), "--out", str(tmp_path / "x"),
                                 "--pose-join-weight", "nan"])
    one_line_error(r, "--pose-join-weight")
