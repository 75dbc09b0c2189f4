"""The demo's video path: build a database from bundled GRID clips and match another clip.

``examples/videos/recordings/`` holds seven GRID corpus sentences (CC BY 4.0,
see ``examples/README.md``) and ``examples/videos/sbia1a.mp4`` an eighth, not in
the database. :func:`run_video_demo` tracks the faces (cached after the first
run), builds the database, matches the held-out clip and writes
``sketch.mp4`` and ``frames.mp4`` with its audio.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def video_example_paths(examples: str | os.PathLike | None = None) -> dict:
    """Where the bundled video examples live (a source checkout's ``examples/videos``).

    Returns
    -------
    dict
        ``recordings`` (folder of database clips) and ``input`` (the held-out clip).
    """
    root = (Path(examples) if examples else EXAMPLES) / "videos"
    paths = {"recordings": root / "recordings", "input": root / "sbia1a.mp4"}
    for what, p in paths.items():
        if not p.exists():
            raise InputError(f"bundled example video {what} not found; run the demo from a source checkout "
                             "(git clone ... && pip install -e '.[video]')", p)
    return paths


def run_video_demo(db_path="db/example-video", out="out/demo-video", examples=None, log=print,
                   layout: str = "side-by-side", smooth: float | None = None) -> dict:
    """Build ``db_path`` from the bundled GRID clips and match the held-out clip into ``out``.

    Both are replaced if they exist. Needs the ``video`` extra (PyAV, dlib and
    the landmark model).

    Parameters
    ----------
    db_path, out : path
    examples : path, optional
        An ``examples`` folder other than the checkout's.
    log : callable(str)
        Receives one line per step.
    layout : {"side-by-side", "overlay"}
        sketch.mp4's arrangement.
    smooth : float, optional
        Join-cost weight of the smooth decoder (default: ``sketchsynth match``'s);
        0 matches every frame on its own, as the method did.

    Returns
    -------
    dict
        ``db``, ``out``, the match ``summary`` and the ``videos`` report (frames,
        fps, size and audio length of each video written).
    """
    from .database import FrameDatabase
    from .decode import DEFAULT_SMOOTH, ViterbiDecoder
    from .sources.load import load_input
    from .synthesis import synthesize, write_synthesis

    paths = video_example_paths(examples)
    t0 = time.perf_counter()
    db = FrameDatabase().build(paths["recordings"], path=db_path, force=True)
    t1 = time.perf_counter()
    log(f"1. Tracked the faces of {len(db.recordings_)} GRID clips in {paths['recordings']} and built {db_path} "
        f"in {t1 - t0:.1f} s: {db.summary()}")
    track = load_input(paths["input"])
    smooth = DEFAULT_SMOOTH if smooth is None else float(smooth)
    syn = synthesize(db, track, decoder=ViterbiDecoder(smooth=smooth))
    summary = write_synthesis(out, db, syn, force=True, sketch_layout=layout)
    t2 = time.perf_counter()
    how = f"smooth synthesis, lambda={smooth:g}" if smooth > 0 else "per-frame match"
    log(f"2. Tracked and matched {track.name} ({len(track)} frames at {track.fps:g} fps, a clip not in the "
        f"database; {how}) in {t2 - t1:.1f} s: mean target cost {summary['mean_target_cost']:.4g}, "
        f"{syn.stats['jumps_per_s']:.2f} jumps/s.")
    log(f"3. {syn.videos.summary_line(out)} Also {out}/selection.csv, {out}/matched/ and {out}/{summary['plots'][0]}.")
    return {"db": db_path, "out": out, "summary": summary, "videos": syn.videos.report_}
