"""The demo: build a database from the bundled henan excerpt and match a held-out stretch."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_paths(examples: str | os.PathLike | None = None) -> dict:
    """Where the bundled example data lives (a source checkout's ``examples/``)."""
    root = Path(examples) if examples else EXAMPLES
    paths = {"recordings": root / "recordings", "input": root / "inputs" / "henan_03001-03300"}
    for what, p in paths.items():
        if not p.exists():
            raise InputError(f"bundled example {what} not found; run the demo from a source checkout "
                             "(git clone ... && pip install -e .)", p)
    return paths


def run_demo(db_path="db/example", out="out/demo", examples=None, log=print, video: bool = True) -> dict:
    """Build ``db_path`` from the bundled recordings and match the bundled input into ``out``.

    Both are replaced if they exist (the demo is meant to be re-run). With
    ``video`` and the ``video`` extra installed, the video path runs too: one
    GRID speaker, a held-out sentence matched against 100 others
    (:func:`sketchsynth.demo.video.run_video_demo`, into ``<out>-video``).

    Returns
    -------
    dict
        Paths written and the match summary (``video``: the video part's, or the
        reason it was skipped).
    """
    from ..database.frame_database import FrameDatabase
    from ..selection.decode import ViterbiDecoder
    from ..errors import DependencyError
    from ..sources.load import load_input
    from ..outputs.synthesis import write_synthesis
    from ..selection.select import select
    from ..targets.face import face_target

    paths = example_paths(examples)
    t0 = time.perf_counter()
    db = FrameDatabase().build(paths["recordings"], path=db_path, force=True)
    t1 = time.perf_counter()
    log(f"1. Built {db_path} from {paths['recordings']} in {t1 - t0:.1f} s: {db.summary()}")
    track = load_input(paths["input"])
    syn = select(db, face_target(db, track), ViterbiDecoder())
    summary = write_synthesis(out, db, syn, force=True)
    t2 = time.perf_counter()
    log(f"2. Matched {track.name} ({len(track)} frames at {track.fps:g} fps, not in the database) in "
        f"{t2 - t1:.1f} s with smooth synthesis: mean target cost {summary['mean_target_cost']:.4g} (the method's "
        f"weighted sum of point distances; per-frame match {syn.per_frame['mean_target_cost']:.4g}), "
        f"{syn.stats['jumps_per_s']:.2f} jumps/s (per-frame match {syn.per_frame['jumps_per_s']:.2f}).")
    log(f"3. Wrote {out}/selection.csv, {out}/matched/ (OpenPose JSON in input coordinates), "
        f"{out}/{summary['plots'][0]} (input black, match blue at t-1, t, t+1) and {out}/summary.json.")
    report = {"db": db_path, "out": out, "summary": summary}
    if video:
        from .video import run_video_demo

        try:
            report["video"] = run_video_demo(f"{db_path}-video", f"{out}-video", examples,
                                             log=lambda line: log(f"[video] {line}"))
        except DependencyError as e:
            log(f"Video part skipped: {e}")
            report["video"] = str(e)
    return report
