"""Every command through click's CliRunner, and the bad inputs of the foundation issue."""

import json
import shutil

import numpy as np
import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli

from conftest import EXAMPLES, one_line_error


@pytest.fixture
def runner():
    return CliRunner()


def ok(result):
    assert result.exit_code == 0, result.output + (result.stderr if result.stderr_bytes else "")
    return result


def test_help_lists_every_command_with_an_example(runner):
    out = ok(runner.invoke(cli, ["--help"])).output
    for name in ("build-db", "match", "plot", "stable-points", "info", "demo"):
        assert name in out
        sub = ok(runner.invoke(cli, [name, "--help"])).output
        assert "Example" in sub


@pytest.fixture
def sa_recordings(fadg0_dir, tmp_path):
    root = tmp_path / "recs"
    for s in ("sa1", "sa2", "si1909"):
        shutil.copytree(fadg0_dir / s, root / s)
    (root / "fps.txt").write_text("25")
    return root


def test_build_db_match_plot_info(runner, sa_recordings, fadg0_dir, tmp_path):
    db = tmp_path / "db" / "fadg0"
    out = ok(runner.invoke(cli, ["build-db", str(sa_recordings), "--db", str(db)])).output
    assert "340 frames" in out and (db / "manifest.json").exists()
    one_line_error(runner.invoke(cli, ["build-db", str(sa_recordings), "--db", str(db)]), "exists", "--force")
    ok(runner.invoke(cli, ["build-db", str(sa_recordings), "--db", str(db), "--force"]))
    assert "checks passed (sha256)" in ok(runner.invoke(cli, ["info", "--db", str(db), "--verify"])).output

    res = tmp_path / "res"
    out = ok(runner.invoke(cli, ["match", str(fadg0_dir / "si1279"), "--db", str(db), "--out", str(res),
                                 "--plot-frame", "10", "--plot-frame", "20"])).output
    assert "Matched 72 of 72 frames" in out
    sel = pd.read_csv(res / "selection.csv")
    assert list(sel.columns[:5]) == ["input_frame", "db_index", "recording", "frame", "target_cost"]
    assert len(sel) == 72 and sel["recording"].str.startswith("s").all()
    assert (res / "comparison_00010.png").stat().st_size > 10_000
    matched = sorted((res / "matched").iterdir())
    assert len(matched) == 72 and matched[0].name == "si1279_000000000001_keypoints.json"
    face = orjson.loads(matched[0].read_bytes())["people"][0]["face_keypoints_2d"]
    assert len(face) == 210

    ok(runner.invoke(cli, ["plot", str(res), "--frame", "5", "--out", str(tmp_path / "fig.pdf")]))
    assert (tmp_path / "fig.pdf").read_bytes()[:4] == b"%PDF"
    one_line_error(runner.invoke(cli, ["match", str(fadg0_dir / "si1279"), "--db", str(db), "--out", str(res)]),
                "exists", "--force")


def test_match_metrics_and_exhaustive(runner, example_db, tmp_path):
    inp = EXAMPLES / "inputs" / "henan_03001-03300"
    a = tmp_path / "a"
    b = tmp_path / "b"
    ok(runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(a), "--metric", "sq"]))
    ok(runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(b), "--exhaustive"]))
    sa, sb = pd.read_csv(a / "selection.csv"), pd.read_csv(b / "selection.csv")
    assert len(sa) == len(sb) == 300
    assert json.loads((b / "summary.json").read_text())["exhaustive"] is True


def test_stable_points_command(runner, fadg0_dir, tmp_path):
    out = ok(runner.invoke(cli, ["stable-points", str(fadg0_dir), "--plot", str(tmp_path / "s.png"),
                                 "--csv", str(tmp_path / "s.csv")])).output
    assert "Point 35 (the method's origin) ranks" in out
    table = pd.read_csv(tmp_path / "s.csv")
    assert sorted(table["point"]) == list(range(70))
    assert (tmp_path / "s.png").exists()


def test_demo_runs_from_the_bundled_examples(runner, tmp_path):
    out = ok(runner.invoke(cli, ["demo", "--db", str(tmp_path / "db"), "--out", str(tmp_path / "out")])).output
    assert "not in the database" in out
    assert (tmp_path / "out" / "comparison.png").exists() and (tmp_path / "out" / "selection.csv").exists()


# ---------------------------------------------------------------------------------------------- bad input
def _rec(fadg0_dir, tmp_path, n=6):
    d = tmp_path / "rec"
    d.mkdir()
    for p in sorted((fadg0_dir / "sa1").iterdir())[:n]:
        (d / p.name).write_bytes(p.read_bytes())
    (d / "fps.txt").write_text("25")
    return d


def _set_face(path, values):
    doc = orjson.loads(path.read_bytes())
    doc["people"][0]["face_keypoints_2d"] = values
    path.write_bytes(orjson.dumps(doc))


BAD_FILES = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:200]), "truncated or not valid JSON"),
    "malformed": (lambda p: p.write_bytes(b'{"people": [}'), "not valid JSON"),
    "wrong-length": (lambda p: _set_face(p, [1.0] * 204), "has 204 values, expected 210"),
    "nan": (lambda p: p.write_bytes(p.read_bytes().replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[NaN,', 1)),
            "holds NaN or Infinity"),
    "inf": (lambda p: p.write_bytes(p.read_bytes().replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[1e999,',
                                                           1)),
            "number too large"),
    "huge": (lambda p: _set_face(p, [5e7] + [1.0] * 209), "beyond 1e+06 px"),
    "negative-confidence": (lambda p: _set_face(p, [1.0, 1.0, -0.5] + [1.0] * 207), "negative confidence"),
    "string": (lambda p: _set_face(p, ["12.5"] + [1.0] * 209), "where a number is expected"),
    "empty-file": (lambda p: p.write_bytes(b""), "empty file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_json_is_one_clean_line_and_no_database(runner, fadg0_dir, tmp_path, case):
    rec = _rec(fadg0_dir, tmp_path)
    victim = sorted(rec.glob("*.json"))[3]
    damage, message = BAD_FILES[case]
    damage(victim)
    db = tmp_path / "db" / "x"
    line = one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(db)]), victim.name, message)
    assert line.startswith("sketchsynth: error:")
    assert not db.exists() and not db.parent.exists()  # no lock file, no folder made for it, left behind


def test_empty_folder(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(runner.invoke(cli, ["build-db", str(tmp_path / "empty"), "--db", str(tmp_path / "db")]),
                "empty", "no recordings here")


def test_folder_without_any_usable_frame(runner, fadg0_dir, tmp_path):
    rec = _rec(fadg0_dir, tmp_path)
    for p in rec.glob("*.json"):
        p.write_bytes(b'{"version":1.3,"people":[]}')
    one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "db")]),
                "no usable frame in 6 frames", "no_person")
    assert not (tmp_path / "db").exists()


def test_match_input_that_is_not_a_folder_of_json(runner, example_db, tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    one_line_error(runner.invoke(cli, ["match", str(txt), "--db", str(example_db)]), "notes.txt", "not a recording")
    one = tmp_path / "x_keypoints.json"
    one.write_text("{}")
    one_line_error(runner.invoke(cli, ["match", str(one), "--db", str(example_db)]), "single JSON file")
    one_line_error(runner.invoke(cli, ["match", str(tmp_path / "missing"), "--db", str(example_db)]),
                "no such file or folder")


def test_match_against_a_missing_database(runner, tmp_path):
    one_line_error(runner.invoke(cli, ["match", str(EXAMPLES / "inputs" / "henan_03001-03300"),
                                    "--db", str(tmp_path / "nodb"), "--out", str(tmp_path / "o")]),
                "no database here", "build-db")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--metric", "manhattan"], "--metric"),
    (["-k", "0"], "-k must be >= 1"),
    (["--plot-frame", "100000"], "--plot-frame 100000 is outside"),
])
def test_bad_option_values(runner, example_db, tmp_path, args, fragment):
    out = tmp_path / "o"
    one_line_error(runner.invoke(cli, ["match", str(EXAMPLES / "inputs" / "henan_03001-03300"), "--db",
                                    str(example_db), "--out", str(out), *args]), fragment)
    assert not out.exists()


def test_a_match_failing_after_its_output_was_opened_leaves_nothing(runner, example_db, tmp_path):
    """match opens its output folder (and creates matched/'s files) while it matches: a failure after that
    (here a plot frame outside the input, found when writing) leaves no folder, no temporary sibling, no lock
    held, and an earlier output it was to replace as it was."""
    inp = str(EXAMPLES / "inputs" / "henan_03001-03300")
    out = tmp_path / "o"
    ok(runner.invoke(cli, ["match", inp, "--db", str(example_db), "--out", str(out)]))
    before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    one_line_error(runner.invoke(cli, ["match", inp, "--db", str(example_db), "--out", str(out), "--force",
                                       "--plot-frame", "5000"]), "--plot-frame 5000 is outside")
    assert {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".o.lock") == ["o"]
    ok(runner.invoke(cli, ["match", inp, "--db", str(example_db), "--out", str(out), "--force"]))  # lock free


def test_bad_build_options(runner, fadg0_dir, tmp_path):
    rec = _rec(fadg0_dir, tmp_path)
    one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "d"), "--anchors", "35,40"]),
                "exactly 3 points")
    one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "d"), "--anchors", "35,40,99"]),
                "outside 0-69")
    one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "d"), "--fps", "-3"]), "--fps")
    one_line_error(runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "d"), "--person", "tallest"]),
                "--person")


def test_landmark_array_input(runner, example_db, tmp_path):
    with np.load(EXAMPLES / "recordings" / "henan_00001-03000.npz") as z:
        np.save(tmp_path / "track.npy", z["keypoints"][:50, :68, :2])
    res = tmp_path / "res"
    out = ok(runner.invoke(cli, ["match", str(tmp_path / "track.npy"), "--db", str(example_db), "--out", str(res)]))
    assert "Matched 50 of 50" in out.output
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 12, 2)))
    one_line_error(runner.invoke(cli, ["match", str(bad), "--db", str(example_db)]), "bad.npy", "shape (5, 12, 2)")


# ---------------------------------------------------------------- crashes on inputs that must work
def test_matching_an_input_that_is_in_the_database_and_evaluating_identical_takes(runner, fadg0_dir, tmp_path):
    """Target costs all 0 once ended in ZeroDivisionError after the outputs were written."""
    db = tmp_path / "db"
    ok(runner.invoke(cli, ["build-db", str(fadg0_dir / "sa1"), "--db", str(db)]))
    out = ok(runner.invoke(cli, ["match", str(fadg0_dir / "sa1"), "--db", str(db), "--out", str(tmp_path / "o")]))
    assert "mean target cost 0 (+0.0%)" in out.output and not out.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["mean_target_cost"] == 0
    twins = tmp_path / "twins"
    for name in ("a", "b"):
        shutil.copytree(fadg0_dir / "sa1", twins / name)
    res = ok(runner.invoke(cli, ["evaluate", str(twins), "--fps", "25", "--holdout", "b", "--out",
                                 str(tmp_path / "ev"), "--smooth-grid", "1", "--filters", "", "--db-filter", "none",
                                 "--seam-blend", "0"]))
    rows = json.loads((tmp_path / "ev" / "report.json").read_text())["rows"]
    assert all(r["cost_rise"] == 0 for r in rows) and not res.stderr


def test_seam_blend_longer_than_the_input_costs_no_more_memory(runner, example_db, tmp_path):
    """--seam-blend 1000000000 once allocated until killed; a blend longer than the input now simply works."""
    inp = EXAMPLES / "inputs" / "henan_03001-03300"
    for n, name in ((1_000_000_000, "huge"), (300, "input-length")):
        ok(runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(tmp_path / name),
                               "--seam-blend", str(n)]))
    a, b = (np.load(tmp_path / n / "matched_keypoints.npy") for n in ("huge", "input-length"))
    assert np.isfinite(a[..., :2]).sum() == np.isfinite(b[..., :2]).sum()


def test_non_utf8_file_names_work_everywhere(runner, fadg0_dir, tmp_path):
    import os

    root = os.fsencode(tmp_path) + b"/rec\xff"
    os.makedirs(root)
    for p in sorted((fadg0_dir / "sa1").glob("*_keypoints.json"))[:40]:
        with open(root + b"/x\xfe" + os.fsencode(p.name), "wb") as fh:
            fh.write(p.read_bytes())
    with open(root + b"/fps.txt", "w") as fh:
        fh.write("25")
    rec = os.fsdecode(root)
    ok(runner.invoke(cli, ["build-db", rec, "--db", str(tmp_path / "db")]))
    frames = pd.read_parquet(tmp_path / "db" / "frames.parquet")
    assert frames["recording"].iloc[0] == "rec\\xff" and frames["source"].iloc[0].startswith("x\\xfe")
    out = os.fsdecode(os.fsencode(tmp_path) + b"/out\xfd")
    ok(runner.invoke(cli, ["match", rec, "--db", str(tmp_path / "db"), "--out", out]))
    assert pd.read_csv(os.path.join(out, "selection.csv"))["recording"].iloc[0] == "rec\\xff"
    ok(runner.invoke(cli, ["stable-points", rec, "--csv", os.fsdecode(os.fsencode(tmp_path) + b"/s\xfc.csv")]))
    one_line_error(runner.invoke(cli, ["build-db", rec, "--db", str(tmp_path / "db")]), "db",
                   "exists")


def test_audio_with_many_channels_is_downmixed(runner, example_db, tmp_path):
    pytest.importorskip("av")
    import wave

    inp = EXAMPLES / "inputs" / "henan_03001-03300"
    for ch in (9, 12):
        path = tmp_path / f"ch{ch}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(ch)
            w.setsampwidth(2)
            w.setframerate(16000)
            t = np.arange(16000 * 3) / 16000
            w.writeframes((np.sin(2 * np.pi * 220 * t)[:, None] * np.ones(ch) * 8000).astype("<i2").tobytes())
        res = ok(runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(tmp_path / f"o{ch}"),
                                     "--audio", str(path)]))
        assert "with audio" in res.output
