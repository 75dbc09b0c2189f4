"""Building, saving and loading frame databases on real recordings."""

import json
import shutil

import numpy as np
import orjson
import pandas as pd
import pytest

from sketchsynth import FrameDatabase
from sketchsynth.errors import DatabaseError, InputError
from sketchsynth.database.format import DATA_FILES, FORMAT_VERSION


@pytest.fixture(scope="module")
def mixed_recordings(fadg0_dir, henan_dir, tmp_path_factory):
    """fadg0 sentences (25 fps via fps.txt) and a henan excerpt (30 fps via its own fps.txt)."""
    root = tmp_path_factory.mktemp("mixed")
    shutil.copytree(fadg0_dir, root / "fadg0")
    h = root / "henan"
    h.mkdir()
    for p in sorted(henan_dir.iterdir())[:400]:
        (h / p.name).write_bytes(p.read_bytes())
    (h / "fps.txt").write_text("30")
    return root


def test_build_mixed_recordings(mixed_recordings):
    db = FrameDatabase().build(mixed_recordings)
    names = [r["name"] for r in db.recordings_]
    assert names == ["fadg0/sa1", "fadg0/sa2", "fadg0/si1279", "fadg0/si1909", "henan"]
    fps = {r["name"]: (r["fps"], r["fps_source"].split(":")[0]) for r in db.recordings_}
    assert fps["henan"] == (30.0, "sidecar") and fps["fadg0/sa1"] == (25.0, "sidecar")
    t = db.frames_
    assert len(t) == 120 + 103 + 72 + 117 + 400 == db.keypoints_.shape[0]
    assert {"recording", "frame", "time_s", "source", "usable", "reason"} <= set(t.columns)
    h = t[t["recording"] == "henan"]
    np.testing.assert_allclose(h["time_s"], h["frame"] / 30)
    assert db.normalized_.shape == (len(t), 70, 2) and db.normalized_.dtype == np.float32
    assert db.index_.ntotal == db.n_usable_ == t["usable"].sum()


def test_successor_follows_recording_and_frame_numbers(mixed_recordings):
    db = FrameDatabase().build(mixed_recordings)
    t = db.frames_
    rows = np.flatnonzero(db.successor_ >= 0)
    s = db.successor_[rows]
    assert (t["recording"].to_numpy()[rows] == t["recording"].to_numpy()[s]).all()
    assert (t["frame"].to_numpy()[s] == t["frame"].to_numpy()[rows] + 1).all()
    ends = t.groupby("recording", observed=True).tail(1).index
    assert (db.successor_[ends] == -1).all()


def _copy(src, dst, n=None):
    dst.mkdir(parents=True)
    for p in sorted(src.iterdir())[:n]:
        if p.suffix == ".json":
            dst.joinpath(p.name).write_bytes(p.read_bytes())


def test_unusable_frames_stay_in_the_table_with_a_reason(fadg0_dir, tmp_path):
    rec = tmp_path / "sa1"
    _copy(fadg0_dir / "sa1", rec, 30)
    files = sorted(rec.iterdir())
    (files[3]).write_bytes(b'{"version":1.3,"people":[]}')
    doc = orjson.loads(files[5].read_bytes())
    doc["people"][0]["face_keypoints_2d"][3 * 40 + 2] = 0.05            # low-confidence anchor
    files[5].write_bytes(orjson.dumps(doc))
    doc = orjson.loads(files[8].read_bytes())
    doc["people"][0]["face_keypoints_2d"][3 * 60: 3 * 61] = [0, 0, 0]   # one missing lip point
    files[8].write_bytes(orjson.dumps(doc))
    db = FrameDatabase(fps=25).build(rec)
    t = db.frames_
    assert t.loc[3, "reason"] == "no_person" and t.loc[5, "reason"] == "anchor_low_confidence"
    assert t.loc[8, "usable"] and t.loc[8, "filled_points"] == 1  # short gap interpolated
    prev, nxt = db.keypoints_[7, 60, :2], db.keypoints_[9, 60, :2]
    assert db.keypoints_[8, 60, 2] == 0  # raw keypoints stay as read
    np.testing.assert_allclose(db.normalizer_.inverse_transform(db.normalized_[8:9], db.transforms_[8:9])[0, 60],
                               (prev + nxt) / 2, atol=1e-2)
    assert t["usable"].sum() == 28 and db.n_usable_ == 28
    assert not np.isin([3, 5], db.usable_rows_).any()
    db0 = FrameDatabase(fps=25, max_gap=0).build(rec)
    assert db0.frames_.loc[8, "reason"] == "missing_points"


def test_save_load_round_trip(fadg0_dir, tmp_path):
    db = FrameDatabase(fps=25).build(fadg0_dir)
    path = db.save(tmp_path / "db")
    man = json.loads((path / "manifest.json").read_text())
    assert man["format_version"] == FORMAT_VERSION == 2 and man["counts"]["frames"] == len(db.frames_)
    assert set(man["files"]) == {"keypoints.npy", "normalized.npy", "transforms.npy", "frames.parquet",
                                 "index.faiss"}
    assert man["params"]["normalization"]["anchors"] == [35, 40, 46]
    assert man["etalon"]["recording"].startswith("sa") and len(man["etalon"]["points"]) == 70
    back = FrameDatabase.load(path, verify="sha256")
    np.testing.assert_array_equal(back.keypoints_, db.keypoints_)
    np.testing.assert_array_equal(back.normalized_, db.normalized_)
    pd.testing.assert_frame_equal(back.frames_, db.frames_)
    np.testing.assert_allclose(back.normalizer_.etalon_, db.normalizer_.etalon_, atol=1e-6)
    assert back.index_.ntotal == db.index_.ntotal
    np.testing.assert_array_equal(back.successor_, db.successor_)


def test_existing_database_needs_force_and_is_replaced_atomically(fadg0_dir, tmp_path):
    db = FrameDatabase(fps=25).build(fadg0_dir / "sa1")
    db.save(tmp_path / "db")
    with pytest.raises(DatabaseError, match="exists; add --force"):
        db.save(tmp_path / "db")
    db2 = FrameDatabase(fps=25).build(fadg0_dir / "sa2")
    db2.save(tmp_path / "db", force=True)
    assert FrameDatabase.load(tmp_path / "db").recordings_[0]["name"] == "sa2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # no temporary folder, no lock file left


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "normalized.npy").write_bytes((p / "normalized.npy").read_bytes()[:-100]), "truncated"),
    (lambda p: (p / "index.faiss").unlink(), "index.faiss is missing"),
    (lambda p: (p / "manifest.json").write_text("{"), "manifest.json is unreadable"),
])
def test_damaged_database_is_refused_with_a_rebuild_hint(fadg0_dir, tmp_path, damage, message):
    FrameDatabase(fps=25).build(fadg0_dir / "sa1").save(tmp_path / "db")
    damage(tmp_path / "db")
    with pytest.raises(DatabaseError, match=message) as e:
        FrameDatabase.load(tmp_path / "db")
    assert "build-db" in str(e.value)


def test_checksum_mismatch_is_found_by_full_verification(fadg0_dir, tmp_path):
    FrameDatabase(fps=25).build(fadg0_dir / "sa1").save(tmp_path / "db")
    p = tmp_path / "db" / "keypoints.npy"
    data = bytearray(p.read_bytes())
    data[-5] ^= 0xFF
    p.write_bytes(bytes(data))
    FrameDatabase.load(tmp_path / "db")  # sizes agree: the fast check passes
    with pytest.raises(DatabaseError, match="sha256"):
        FrameDatabase.load(tmp_path / "db", verify="sha256")


def test_fps_is_required_for_openpose_json(fadg0_dir, tmp_path):
    _copy(fadg0_dir / "sa1", tmp_path / "sa1", 5)
    with pytest.raises(InputError, match="--fps"):
        FrameDatabase().build(tmp_path / "sa1")
    db = FrameDatabase(fps=25).build(tmp_path / "sa1")
    assert db.recordings_[0]["fps_source"] == "option"


def test_landmark_arrays_get_estimated_pupils(henan_dir, tmp_path):
    from sketchsynth.io.openpose import read_openpose_folder

    kp = read_openpose_folder(henan_dir).keypoints[:200]
    np.save(tmp_path / "track.npy", kp[:, :68, :2])
    (tmp_path / "track.fps.txt").write_text("30")
    db = FrameDatabase().build(tmp_path / "track.npy")
    assert db.frames_["pupils_estimated"].all() and db.recordings_[0]["fps"] == 30
    est = db.keypoints_[:, 68, :2]
    np.testing.assert_allclose(est, kp[:, 36:42, :2].mean(axis=1), rtol=1e-5)
    assert (db.keypoints_[:, 68, 2] < 1).all()


@pytest.mark.parametrize("track_filter", ["none", "one-euro"])
def test_windows_of_a_streamed_build_write_the_bytes_of_one_window(henan_dir, tmp_path, monkeypatch, track_filter):
    """Assessing a recording in overlapping windows (long recordings) writes what assessing it whole does."""
    import sketchsynth.database.build as build
    from sketchsynth.io.openpose import read_openpose_folder

    kp = read_openpose_folder(henan_dir).keypoints[:5000].copy()
    rng = np.random.default_rng(7)
    for start in rng.integers(0, len(kp) - 6, 600):  # gaps of 1-5 frames, anchors too: filling and reasons vary
        kp[start:start + rng.integers(1, 6), rng.integers(0, 70)] = 0
    kp[1990:2010, 48:60] = 0  # a long gap across a window border
    for border in (1000, 3000):  # short gaps across borders: filled from both sides, as a whole-take pass would
        kp[border - 2:border + 1, 17:27] = 0
    np.save(tmp_path / "take.npy", kp)
    (tmp_path / "take.fps.txt").write_text("30")
    for name, chunk in (("whole", 10_000), ("windows", 1000)):  # one window, or five with neighbours' context
        monkeypatch.setattr(build, "CHUNK", chunk)
        FrameDatabase(track_filter=track_filter).build(tmp_path / "take.npy", path=tmp_path / name)
    for f in DATA_FILES:
        assert (tmp_path / "whole" / f).read_bytes() == (tmp_path / "windows" / f).read_bytes(), f
    a, b = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("whole", "windows"))
    a.pop("created"), b.pop("created")
    a["recordings"][0].pop("path"), b["recordings"][0].pop("path")
    assert a == b
    assert 0 < a["counts"]["usable"] < len(kp) and a["counts"]["filled_points"] > 0


def test_a_build_keeps_the_index_it_wrote(fadg0_dir, tmp_path):
    """build() hands over the FAISS index it built instead of reading index.faiss back: the same bytes."""
    import faiss

    db = FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "db")
    assert faiss.serialize_index(db.index_).tobytes() == (tmp_path / "db" / "index.faiss").read_bytes()
    assert db.index_.ntotal == db.n_usable_ > 0


def test_same_size_corruption_of_index_faiss_never_reaches_faiss(fadg0_dir, tmp_path):
    """Bytes flipped in the middle of index.faiss once segfaulted match (exit 139): the flat index is now
    rebuilt from normalized.npy, so match gives the intact database's answer; info --verify names the damage.
    Subprocesses, so a crash would fail the test rather than the run."""
    import subprocess
    import sys

    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "db")
    shutil.copytree(tmp_path / "db", tmp_path / "bad")
    f = tmp_path / "bad" / "index.faiss"
    b = bytearray(f.read_bytes())
    mid = len(b) // 2
    b[mid:mid + 256] = bytes(x ^ 0xFF for x in b[mid:mid + 256])
    f.write_bytes(bytes(b))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "sketchsynth.cli", *map(str, args)], capture_output=True,
                              text=True, timeout=300)

    for name in ("db", "bad"):
        r = cli("match", fadg0_dir / "sa2", "--db", tmp_path / name, "--out", tmp_path / f"out_{name}")
        assert r.returncode == 0, r.stderr
    a, c = (pd.read_csv(tmp_path / f"out_{n}" / "selection.csv") for n in ("db", "bad"))
    pd.testing.assert_frame_equal(a, c)
    r = cli("info", "--db", tmp_path / "bad", "--verify")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "index.faiss fails its sha256 check" in r.stderr


def test_manifest_fields_are_validated_in_one_place(fadg0_dir, tmp_path):
    from sketchsynth.database.manifest import manifest_problem

    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "db")
    good = json.loads((tmp_path / "db" / "manifest.json").read_text())
    assert manifest_problem(good) is None
    edits = {"weights": lambda m: m["params"].update(weights=[1.0] * 69),
             "anchors": lambda m: m["params"]["normalization"].update(anchors=[35, 40, 70]),
             "etalon": lambda m: m["etalon"].update(points=[[0.0, float("inf")]] * 70),
             "counts": lambda m: m["counts"].update(usable=-1),
             "recordings": lambda m: m["recordings"][0].update(name=None)}
    for what, fn in edits.items():
        m = json.loads(json.dumps(good))
        fn(m)
        problem = manifest_problem(m)
        assert problem is not None and (what in problem or what[:-1] in problem), (what, problem)
        (tmp_path / "db" / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(DatabaseError, match="manifest.json is damaged"):
            FrameDatabase.load(tmp_path / "db")
