"""The demo's video path: one GRID speaker end to end.

``examples/grid_s1/recordings/`` holds 100 sentences of GRID speaker s1 (TRAIN
part of the fixed split; CC BY 4.0, see ``examples/grid_s1/ATTRIBUTION.md``)
and ``examples/grid_s1/inputs/`` three held-out TEST sentences of the same
speaker. :func:`run_video_demo` seeds the track cache from the shipped tracks
(``examples/grid_s1/tracks.npz``, the tracker's own output for these files:
nothing is re-tracked unless a file or the tracker changed), builds the
database, matches a held-out sentence and writes ``sketch.mp4`` and
``frames.mp4`` (the chosen mouths composited into one continuous take) with
the sentence's sound.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_INPUT = "bbas1s.mp4"


def video_example_paths(examples: str | os.PathLike | None = None) -> dict:
    """Where the bundled GRID s1 examples live (a source checkout's ``examples/grid_s1``).

    Returns
    -------
    dict
        ``recordings`` (folder of database clips), ``input`` (a held-out
        sentence), ``inputs`` (all held-out sentences) and ``tracks`` (the
        shipped track fixture).
    """
    root = (Path(examples) if examples else EXAMPLES) / "grid_s1"
    paths = {"recordings": root / "recordings", "input": root / "inputs" / DEMO_INPUT, "inputs": root / "inputs",
             "tracks": root / "tracks.npz"}
    for what, p in paths.items():
        if not p.exists():
            raise InputError(f"bundled example video {what} not found; run the demo from a source checkout "
                             "(git clone ... && pip install -e '.[video]')", p)
    return paths


def seed_example_tracks(paths: dict) -> dict:
    """Seed the track cache with the bundled clips' shipped tracks (:mod:`sketchsynth.sources.track_fixture`)."""
    from ..sources.track_fixture import seed_track_cache

    videos = sorted(paths["recordings"].glob("*.mp4")) + sorted(paths["inputs"].glob("*.mp4"))
    return seed_track_cache(paths["tracks"], videos)


def run_video_demo(db_path="db/example-video", out="out/demo-video", examples=None, log=print,
                   layout: str = "side-by-side", smooth: float | None = None, frames_mode: str | None = None) -> dict:
    """Build ``db_path`` from the bundled GRID s1 sentences and match a held-out one into ``out``.

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
        Join-cost weight of the smooth decoder (default: ``sketchsynth match``'s).
    frames_mode : {"composite", "full", "warp"}, optional
        frames.mp4's mode (default: ``sketchsynth match``'s).

    Returns
    -------
    dict
        ``db``, ``out``, the match ``summary``, the ``videos`` report and the
        track cache ``seeding`` counts.
    """
    from ..pipeline.build import build_database
    from ..selection.decode import DEFAULT_SMOOTH, ViterbiDecoder
    from ..errors import require
    from ..sources.load import load_input
    from ..outputs.synthesis import write_synthesis
    from ..selection.select import select
    from ..targets.face import face_target

    require("av", "video", "the video demo")
    require("dlib", "video", "the video demo")
    paths = video_example_paths(examples)
    t0 = time.perf_counter()
    seeded = seed_example_tracks(paths)
    db = build_database(paths["recordings"], path=db_path, force=True)
    t1 = time.perf_counter()
    how_tracked = (f"tracks from examples/grid_s1/tracks.npz ({seeded['seeded']} seeded, {seeded['cached']} "
                   f"cached, {seeded['skipped']} tracked)")
    log(f"1. Built {db_path} from {len(db.recordings_)} sentences of one GRID speaker (s1) in {t1 - t0:.1f} s, "
        f"{how_tracked}: {db.summary()}")
    track = load_input(paths["input"])
    smooth = DEFAULT_SMOOTH if smooth is None else float(smooth)
    syn = select(db, face_target(db, track), ViterbiDecoder(smooth=smooth))
    summary = write_synthesis(out, db, syn, force=True, sketch_layout=layout, frames_mode=frames_mode)
    t2 = time.perf_counter()
    how = f"smooth synthesis, lambda={smooth:g}" if smooth > 0 else "per-frame match"
    log(f"2. Matched {track.name} ({len(track)} frames at {track.fps:g} fps, a held-out sentence of the same "
        f"speaker; {how}) in {t2 - t1:.1f} s: mean target cost {summary['mean_target_cost']:.4g}, "
        f"{syn.stats['jumps_per_s']:.2f} jumps/s.")
    log(f"3. {syn.videos.summary_line(out)} Also {out}/selection.csv, {out}/matched/ and {out}/{summary['plots'][0]}.")
    speech = run_speech_step(db, paths["input"], f"{out}-speech", log, frames_mode)
    return {"db": db_path, "out": out, "summary": summary, "videos": syn.videos.report_, "seeding": seeded,
            "speech": speech}


def run_speech_step(db, sentence, out, log=print, frames_mode: str | None = None) -> dict:
    """Drive the same speaker's face by a held-out sentence's sound alone (its face is ignored).

    Returns the match summary, or ``{"skipped": reason}`` when the database has no
    fitted speech model (the ``speech`` extra, librosa, was not installed at build).
    """
    from ..errors import DatabaseError
    from ..targets.speech.model_store import require_model
    from ..pipeline.stages import Selector, Writer, audio_pipeline

    try:
        require_model(db)
    except DatabaseError as e:
        log(f"4. Speech-driven step skipped: {e.message}")
        return {"skipped": e.message}
    t0 = time.perf_counter()
    writer = Writer(out, force=True, frames_mode=frames_mode)
    syn = audio_pipeline(Selector(), writer).fit(db).run(os.fspath(sentence))
    log(f"4. Drove the face by the sound of {Path(sentence).name} alone (its face ignored: the speech model "
        f"fitted on the database predicts the mouth, the decoder picks recorded frames) in "
        f"{time.perf_counter() - t0:.1f} s: {syn.stats['jumps_per_s']:.2f} jumps/s. "
        f"{syn.videos.summary_line(out) if syn.videos is not None else ''}")
    return syn.summary
