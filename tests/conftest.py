"""Shared fixtures: the real data in ../shared/data (copied before anything writes) and bundled examples."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Track and search caches of the whole test session go to a temporary folder, never ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.getbasetemp() / "sketchsynth-cache"
        mp.setenv("SKETCHSYNTH_CACHE", str(path))
        yield path


def one_line_error(result, *fragments):
    """A CliRunner result that exited 2 with one stderr line containing every fragment; returns the line."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, read-only. Without it the tests that need it skip (the rest run on examples/);
    with SKETCHSYNTH_REQUIRE_DATA=1 (CI) its absence fails them instead."""
    if not SHARED.is_dir():
        why = (f"needs the full real data at {SHARED} (put ../shared/data beside the checkout, or set "
               "SKETCHSYNTH_SHARED_DATA); the bundled examples/ cover the rest")
        if os.environ.get("SKETCHSYNTH_REQUIRE_DATA") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return SHARED


@pytest.fixture(scope="session")
def henan_dir(shared_data, tmp_path_factory) -> Path:
    """A private copy of the henan take's OpenPose JSON (10,820 files, 30 fps)."""
    dst = tmp_path_factory.mktemp("henan") / "keypoints"
    shutil.copytree(shared_data / "henan" / "keypoints", dst)
    return dst


@pytest.fixture(scope="session")
def fadg0_dir(shared_data, tmp_path_factory) -> Path:
    """A private copy of the four fadg0 sentences' OpenPose JSON, with fps.txt = 25."""
    dst = tmp_path_factory.mktemp("fadg0") / "keypoints"
    shutil.copytree(shared_data / "fadg0" / "keypoints", dst)
    (dst / "fps.txt").write_text("25\n")
    return dst


def henan_frames(henan_dir: Path, lo: int, hi: int) -> list[Path]:
    """Files of henan frames lo..hi (inclusive, by frame number)."""
    out = []
    for p in sorted(henan_dir.iterdir()):
        if p.name.endswith("_keypoints.json") and lo <= int(p.name.split("_")[0]) <= hi:
            out.append(p)
    return out


@pytest.fixture(scope="session")
def henan_split(henan_dir, tmp_path_factory) -> dict:
    """The henan take split in time: frames 1-7820 for a database, 7821-11000 held out (3,000 files)."""
    base = tmp_path_factory.mktemp("henan_split")
    parts = {"db": (1, 7820), "heldout": (7821, 11000)}
    out = {}
    for name, (lo, hi) in parts.items():
        d = base / name
        d.mkdir()
        for p in henan_frames(henan_dir, lo, hi):
            os.link(p, d / p.name) if hasattr(os, "link") else shutil.copy(p, d / p.name)
        (d / "fps.txt").write_text("30\n")
        out[name] = d
    return out


@pytest.fixture(scope="session")
def henan_db(henan_split):
    """A database of henan frames 1-7820 (shared: tests must not change it)."""
    from sketchsynth import FrameDatabase

    return FrameDatabase().build(henan_split["db"])


@pytest.fixture(scope="session")
def heldout(henan_split):
    """The held-out henan frames 7821-11000 (3,000 files) as read."""
    from sketchsynth.io.openpose import read_openpose_folder

    return read_openpose_folder(henan_split["heldout"])


@pytest.fixture(scope="session")
def example_db(tmp_path_factory):
    """The demo database built from examples/recordings (3,000 henan frames)."""
    from sketchsynth import FrameDatabase

    path = tmp_path_factory.mktemp("dbs") / "example"
    db = FrameDatabase().build(EXAMPLES / "recordings")
    db.save(path)
    return path


@pytest.fixture(scope="session")
def grid_example(tmp_path_factory):
    """A database of the bundled GRID s1 sentences (speech model fitted; shared: copy it before changing it),
    a held-out sentence, and the sentences' word timings."""
    pytest.importorskip("av")
    pytest.importorskip("librosa")
    from sketchsynth.demo.video import seed_example_tracks, video_example_paths

    paths = video_example_paths()
    seed_example_tracks(paths)
    root = tmp_path_factory.mktemp("grid_example")
    db = root / "db"
    from click.testing import CliRunner

    from sketchsynth.cli import cli

    r = CliRunner().invoke(cli, ["build-db", str(paths["recordings"]), "--db", str(db)])
    assert r.exit_code == 0, r.output
    sentence = root / "bbas1s.mp4"
    shutil.copy(paths["input"], sentence)
    return {"db": db, "input": sentence, "align": EXAMPLES / "grid_s1" / "align"}


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def bundled_grid_db(tmp_path_factory, step: int, n_inputs: int | None = None):
    """A one-speaker database of every ``step``-th bundled GRID s1 sentence (tracks seeded from the shipped
    fixture, nothing tracked) and a folder of the bundled held-out inputs (the first ``n_inputs``); (path, inputs)."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.sources.track_fixture import seed_track_cache

    grid = EXAMPLES / "grid_s1"
    rec = tmp_path_factory.mktemp("grid") / "recordings"
    rec.mkdir()
    for p in sorted((grid / "recordings").glob("*.mp4"))[::step]:
        shutil.copy(p, rec / p.name)
    inputs = tmp_path_factory.mktemp("grid_inputs")
    for p in sorted((grid / "inputs").glob("*.mp4"))[:n_inputs]:
        shutil.copy(p, inputs / p.name)
    assert seed_track_cache(grid / "tracks.npz", list(rec.glob("*.mp4")) + list(inputs.glob("*.mp4")))["skipped"] == 0
    path = tmp_path_factory.mktemp("grid_db") / "db"
    FrameDatabase().build(rec, path=path, force=True)
    return path, inputs
