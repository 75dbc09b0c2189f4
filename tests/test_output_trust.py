"""What sketchsynth reads back from its own output folders is not trusted, and what it writes there never takes a
file the user put in place: a tampered ``videos.json``, a user's figure where ``plot`` would write its default
one, an output asked for inside a database."""

import json
import shutil

import pytest
from click.testing import CliRunner

from conftest import one_line_error
from sketchsynth import FrameDatabase
from sketchsynth.cli import cli


@pytest.fixture(scope="module")
def video_result(grid_example, tmp_path_factory):
    out = tmp_path_factory.mktemp("trust") / "run"
    r = CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--db", str(grid_example["db"]), "--out",
                                 str(out)])
    assert r.exit_code == 0, r.output + r.stderr
    return out


def _copy(src, dst, **edits):
    shutil.copytree(src, dst)
    if edits:
        meta = json.loads((dst / "videos.json").read_text())
        meta.update(edits)
        (dst / "videos.json").write_text(json.dumps(meta))
    return dst


@pytest.mark.parametrize("edit, fragment", [
    ({"input_size": [100000, 100000]}, "input_size"),
    ({"input_size": "360x288"}, "input_size"),
    ({"input_index": [0, 10 ** 12]}, "input_index"),
    ({"written": 7}, "written"),
])
def test_a_tampered_videos_json_is_one_line_not_an_allocation(video_result, tmp_path, edit, fragment):
    res = _copy(video_result, tmp_path / "r", **edit)
    one_line_error(CliRunner().invoke(cli, ["plot", str(res), "--frame", "3", "--sheet", str(tmp_path / "s.png")]),
                   "videos.json", fragment)
    assert not (tmp_path / "s.png").exists()


def test_plot_rewrites_its_own_default_figure_but_never_the_users(video_result, tmp_path):
    res = _copy(video_result, tmp_path / "r")
    runner = CliRunner()
    assert runner.invoke(cli, ["plot", str(res), "--frame", "3"]).exit_code == 0
    # its own figure, now listed as sketchsynth's: rewritten, and a later match --force may replace the folder
    assert runner.invoke(cli, ["plot", str(res), "--frame", "3"]).exit_code == 0
    mark = json.loads((res / ".sketchsynth-output").read_text())["sketchsynth"]["entries"]
    assert {"comparison_00003.png", "contact_sheet.png"} <= set(mark)
    (res / "comparison_00005.png").write_bytes(b"the user's own picture")
    one_line_error(runner.invoke(cli, ["plot", str(res), "--frame", "5"]), "comparison_00005.png", "exists")
    assert (res / "comparison_00005.png").read_bytes() == b"the user's own picture"


def test_no_output_lands_inside_a_database(grid_example, tmp_path):
    db = tmp_path / "db"
    shutil.copytree(grid_example["db"], db)
    (db / "notes").mkdir()
    runner = CliRunner()
    for args in (["stable-points", str(grid_example["input"].parent), "--csv", str(db / "manifest.json"), "--force"],
                 ["stable-points", str(grid_example["input"].parent), "--plot", str(db / "notes" / "p.png")],
                 ["match", str(grid_example["input"]), "--db", str(grid_example["db"]), "--out",
                  str(db / "notes" / "res")]):
        one_line_error(runner.invoke(cli, args), "inside the database")
    FrameDatabase.load(db, verify="sha256")
    assert sorted(p.name for p in (db / "notes").iterdir()) == []


def test_a_database_video_replaced_by_another_gives_no_wrong_frames(grid_example, tmp_path):
    """The manifest names each recording's video by path: a different video at that path (another size) is
    reported and frames.mp4 left out, never pasted from or indexed out of range."""
    import cv2
    import numpy as np

    other = tmp_path / "other.mp4"
    w = cv2.VideoWriter(str(other), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for i in range(80):
        w.write(np.full((48, 64, 3), i * 3 % 255, np.uint8))
    w.release()
    db = tmp_path / "db"
    shutil.copytree(grid_example["db"], db)
    man = json.loads((db / "manifest.json").read_text())
    for r in man["recordings"]:
        r["video"] = str(other)
    (db / "manifest.json").write_text(json.dumps(man))
    r = CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--db", str(db), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output + r.stderr
    assert "No frames.mp4" in r.output and "64x48" in r.output and "360x288" in r.output
    assert (tmp_path / "o" / "sketch.mp4").is_file() and not (tmp_path / "o" / "frames.mp4").exists()


def test_a_run_killed_between_its_rename_and_the_marker_leaves_a_folder_it_may_replace(tmp_path):
    """The temporary folder's marker is removed after the rename (a kill before it leaves a marked folder the
    next run removes); a marker a kill left in the finished folder names its temporary folder and is ours."""
    from sketchsynth.errors import SketchSynthError
    from sketchsynth.io.leftovers import TEMP_MARKER
    from sketchsynth.io.storage import atomic_directory

    target = tmp_path / "out"
    with atomic_directory(target, kind="match", what="output folder") as tmp:
        (tmp / "selection.csv").write_text("first")
    assert sorted(p.name for p in target.iterdir()) == [".sketchsynth-output", "selection.csv"]
    (target / TEMP_MARKER).write_bytes(b".out.tmp-123-0123abcd")
    with atomic_directory(target, force=True, kind="match", what="output folder") as tmp:
        (tmp / "selection.csv").write_text("second")
    assert (target / "selection.csv").read_text() == "second" and not (target / TEMP_MARKER).exists()
    (target / TEMP_MARKER).write_bytes(b"the user's notes")      # the same name, not ours
    with pytest.raises(SketchSynthError, match="did not write"):
        with atomic_directory(target, force=True, kind="match", what="output folder"):
            pass
    assert (target / "selection.csv").read_text() == "second"


def test_a_kill_while_a_temporary_folder_is_removed_leaves_it_recognisable(tmp_path, monkeypatch):
    """remove_temp takes the marker last, so a kill in the middle leaves a marked folder; the next writer removes
    it, and an empty folder of the exact name (a kill between mkdir and marker); never an unmarked full one."""
    import os

    from sketchsynth.io import leftovers

    dead = 999999  # above any pid_max here: no such process
    folder = tmp_path / f".out.tmp-{dead}-0123abcd"
    folder.mkdir()
    leftovers.mark_temp(folder)
    for name in ("a.npy", "b.npy", "c.npy"):
        (folder / name).write_bytes(b"x")
    gone, unlink = [], os.unlink

    def killed_after_two(path, *a, **k):
        if len(gone) == 2:
            raise KeyboardInterrupt
        gone.append(os.path.basename(path))
        unlink(path, *a, **k)

    monkeypatch.setattr(leftovers.os, "unlink", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        leftovers.remove_temp(folder)
    monkeypatch.undo()
    assert leftovers.TEMP_MARKER not in gone and (folder / leftovers.TEMP_MARKER).exists()
    empty = tmp_path / f".out.tmp-{dead}-89abcdef"
    empty.mkdir()
    users = tmp_path / f".out.tmp-{dead}-deadbeef"              # the right name, but no marker: not ours
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    assert sorted(leftovers.remove_stale_siblings(tmp_path / "out")) == sorted([folder.name, empty.name])
    assert not folder.exists() and not empty.exists() and (users / "notes.txt").exists()


def test_a_target_marked_before_it_is_moved_aside_is_still_ours(tmp_path):
    """A kill between marking the old target and moving it aside leaves it holding a marker that names its
    sibling-to-be: --force may still replace it."""
    from sketchsynth.io.leftovers import TEMP_MARKER
    from sketchsynth.io.storage import atomic_directory

    target = tmp_path / "out"
    with atomic_directory(target, kind="match", what="output folder") as tmp:
        (tmp / "selection.csv").write_text("first")
    (target / TEMP_MARKER).write_bytes(b".out.old-123-0123abcd")
    with atomic_directory(target, force=True, kind="match", what="output folder") as tmp:
        (tmp / "selection.csv").write_text("second")
    assert (target / "selection.csv").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and not (target / TEMP_MARKER).exists()
