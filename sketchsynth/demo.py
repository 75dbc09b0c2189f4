"""The demo: build a database from the bundled henan excerpt and match a held-out stretch."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_paths(examples: str | os.PathLike | None = None) -> dict:
    """Where the bundled example data lives (a source checkout's ``examples/``)."""
    root = Path(examples) if examples else EXAMPLES
    paths = {"recordings": root / "recordings", "input": root / "inputs" / "henan_03001-03300"}
    for what, p in paths.items():
        if not p.exists():
            raise InputError(f"bundled example {what} not found; run the demo from a source checkout "
                             "(git clone ... && pip install -e .)", p)
    return paths


def run_demo(db_path="db/example", out="out/demo", examples=None, log=print) -> dict:
    """Build ``db_path`` from the bundled recordings and match the bundled input into ``out``.

    Both are replaced if they exist (the demo is meant to be re-run).

    Returns
    -------
    dict
        Paths written and the match summary.
    """
    from .database import FrameDatabase
    from .io.recordings import load_input
    from .matching import match
    from .results import write_match_outputs

    paths = example_paths(examples)
    t0 = time.perf_counter()
    db = FrameDatabase().build(paths["recordings"], path=db_path, force=True)
    t1 = time.perf_counter()
    log(f"1. Built {db_path} from {paths['recordings']} in {t1 - t0:.1f} s: {db.summary()}")
    track = load_input(paths["input"])
    result = match(db, track.keypoints, metric="sum")
    summary = write_match_outputs(out, db, result, track, force=True)
    t2 = time.perf_counter()
    log(f"2. Matched {track.name} ({len(track)} frames at {track.fps:g} fps, not in the database) in "
        f"{t2 - t1:.1f} s: mean target cost {summary['mean_target_cost']:.4g} (method's weighted sum of "
        f"point distances, normalized units).")
    log(f"3. Wrote {out}/selection.csv, {out}/matched/ (OpenPose JSON in input coordinates), "
        f"{out}/{summary['plots'][0]} (input black, match blue at t-1, t, t+1) and {out}/summary.json.")
    return {"db": db_path, "out": out, "summary": summary}
