"""Held-out evaluation: the split never leaks, the report says what the default buys on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli
from sketchsynth.errors import ParameterError
from sketchsynth.evaluation.evaluate import Config, evaluate
from sketchsynth.evaluation.holdout import make_folds, parse_holdout, split_tracks


@pytest.fixture(scope="module")
def henan_tracks(henan_dir):
    from sketchsynth.sources.load import discover, load_tracks

    return load_tracks(discover(henan_dir), fps=30)


@pytest.fixture(scope="module")
def fadg0_tracks(fadg0_dir):
    from sketchsynth.sources.load import discover, load_tracks

    return load_tracks(discover(fadg0_dir))


def _leaks(db, heldout) -> int:
    """Held-out frames found in a built database, by (recording, frame) and by keypoint content."""
    table = db.frames_
    n = 0
    for h in heldout:
        base = h.name.split("[")[0]
        mine = table["recording"].astype(str).to_numpy() == base
        n += np.isin(table["frame"].to_numpy()[mine], h.frames).sum()
        raw = {k.tobytes() for k in np.asarray(db.keypoints_)}
        n += sum(k.tobytes() in raw for k in h.keypoints)
    return int(n)


@pytest.mark.parametrize("guard", [0, 5])
def test_time_split_leaks_nothing(henan_tracks, guard):
    from sketchsynth import FrameDatabase

    db_tracks, held = split_tracks(henan_tracks, [parse_holdout("keypoints:4001-5000")], guard=guard)
    assert [h.name for h in held] == ["keypoints[4001-5000]"] and len(held[0]) == 1000
    db = FrameDatabase().build(db_tracks)
    assert _leaks(db, held) == 0
    assert db.n_frames_ == 10820 - 1000 - 2 * guard
    # the hole left in the recording breaks its successor chain: no frame plays on into the held-out part
    fr = db.frames_["frame"].to_numpy()
    assert db.successor_[np.flatnonzero(fr == 4000 - guard)[0]] == -1


def test_recording_split_leaks_nothing(fadg0_tracks):
    from sketchsynth import FrameDatabase

    for fold in make_folds(fadg0_tracks, ["each"]):
        db_tracks, held = split_tracks(fadg0_tracks, fold)
        db = FrameDatabase().build(db_tracks)
        assert _leaks(db, held) == 0
        assert held[0].name not in set(db.frames_["recording"].astype(str))


@pytest.mark.parametrize("spec, match", [("keypoints:20-10", "before"), ("nosuch", "no recording named"),
                                          ("keypoints:20000-30000", "no frame")])
def test_bad_holdouts(henan_tracks, spec, match):
    with pytest.raises(ParameterError, match=match):
        split_tracks(henan_tracks, make_folds(henan_tracks, [spec])[0])


def test_holding_out_everything_is_refused(henan_tracks):
    with pytest.raises(ParameterError, match="nothing left"):
        split_tracks(henan_tracks, [parse_holdout("keypoints")])


def test_default_cuts_jumps_4x_at_most_50_percent_cost_on_henan(henan_tracks):
    """The issue's target: held-out henan frames 7821-11000 against a database of frames 1-7820."""
    from sketchsynth.selection.decode import DEFAULT_JUMP_COST, DEFAULT_SMOOTH

    rep = evaluate(henan_tracks, ["keypoints:7821-11000"],
                   [Config("greedy", 0.0), Config("default", DEFAULT_SMOOTH, DEFAULT_JUMP_COST)])
    greedy, default = rep.rows
    assert greedy["frames"] == default["frames"] == 3000
    assert default["jump_reduction"] >= 4.0
    assert default["cost_rise"] <= 0.5
    assert default["mean_run_frames"] > 4 * greedy["mean_run_frames"]
    assert greedy["lmd_px"] < default["lmd_px"] < 2 * greedy["lmd_px"]


def test_evaluate_command_writes_the_report(fadg0_dir, tmp_path):
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["evaluate", str(fadg0_dir), "--holdout", "each", "--out", str(out),
                                   "--smooth-grid", "0.5,2", "--filters", "savgol", "--db-filter", "none"])
    assert res.exit_code == 0, res.output
    assert "| greedy (per-frame) |" in res.output and "Wrote" in res.output
    rep = json.loads((out / "report.json").read_text())
    names = [r["name"] for r in rep["rows"]]
    assert names[0] == "greedy (per-frame)" and any("(default)" in n for n in names)
    assert len(rep["folds"]) == 4 and rep["rows"][0]["frames"] == sum(
        h["frames"] for f in rep["folds"] for h in f["heldout"])
    assert "| configuration |" in (out / "report.md").read_text()
    assert (out / "lmd_vs_jumps.png").stat().st_size > 10_000
    greedy = rep["rows"][0]
    smooth = [r for r in rep["rows"] if r["smooth"] == 2.0][0]
    assert smooth["jumps_per_s"] < greedy["jumps_per_s"]


@pytest.mark.parametrize("args, fragment", [
    (["--smooth", "-1"], "--smooth"), (["--holdout", "nosuch"], "no recording named"),
    (["--candidates", "100000"], "larger than the database"), (["--smooth-grid", "a,b"], "--smooth-grid"),
    (["--filters", "median"], "unknown filter"),
])
def test_evaluate_bad_options(fadg0_dir, tmp_path, args, fragment):
    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["evaluate", str(fadg0_dir), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
