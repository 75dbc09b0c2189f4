"""Fast checks of the prototype modules on the cnn2 validation database (skipped when it is not built).

    PYTHONPATH=/work/proto:/work/research/frames python -m pytest -q tests/
"""
from pathlib import Path

import numpy as np
import pytest

DB = Path(__file__).resolve().parents[1] / "work" / "db_cnn2"


@pytest.fixture(scope="module")
def db():
    if not (DB / "manifest.json").exists():
        pytest.skip("work/db_cnn2 not built (cut.py + build-db)")
    from sketchsynth.database import FrameDatabase

    return FrameDatabase.load(DB)


def test_pose_identity_and_roll():
    import pose as P

    rng = np.random.default_rng(0)
    kp = rng.normal(size=(1, 70, 2)) * 20 + 200
    p0 = P.head_pose(kp)
    th = np.radians(10)
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    p1 = P.head_pose((kp - 200) @ R.T * 1.5 + 200)
    assert np.isclose(p1[0, 2] - p0[0, 2], th)                       # roll follows the rotation
    assert np.allclose(p1[0, :2], p0[0, :2])                         # yaw, pitch are rotation/scale free
    assert np.isclose(p1[0, 3] - p0[0, 3], np.log(1.5))


def test_same_frame_paste_is_identity_and_plausible(db):
    import mesh_composite as MC

    comp = MC.MeshCompositor().fit(db)
    kp = np.asarray(db.keypoints_[100], np.float64)
    c = comp.check(kp, kp)
    assert c["ok"] and c["stretch"] < 1.0001 and c["rotation_deg"] < 1e-6
    img = (np.random.default_rng(1).random((512, 512, 3)) * 255).astype(np.uint8)
    out = comp.render(img, kp, [(img, kp, 1.0)])
    # colour transfer of an image onto itself is the identity; the cubic resampling at integer offsets too
    assert np.abs(out.astype(int) - img.astype(int)).mean() < 1.0


def test_check_flags_rotation(db):
    import mesh_composite as MC

    comp = MC.MeshCompositor().fit(db)
    kp = np.asarray(db.keypoints_[100], np.float64)[:, :2]
    c0 = kp.mean(0)
    th = np.radians(15)
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = comp.check(kp, (kp - c0) @ R.T + c0)
    assert not c["ok"] and "rotation" in c["reason"]


def test_full_morph_covers_frame(db):
    import full_morph as F

    img = np.full((512, 512, 3), 128, np.uint8)
    kp = np.asarray(db.keypoints_[100], np.float64)[:, :2]
    mat = np.array([[1.05, 0, -10], [0, 1.05, -12.0]])
    r = F.FullRenderer()
    out = r.render(img, kp, mat, old=(img, kp + 3, mat, 0.5), size=(512, 512))
    assert out.shape == (512, 512, 3) and (out == 128).all()        # no hole, no border pulled in
