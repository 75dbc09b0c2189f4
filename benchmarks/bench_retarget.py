"""Another person's face drives a database: does the chosen mouth follow theirs? (``match --retarget``)

Drivers (each a face the database speaker is not):

- ``clips``: every clip of other people in ``benchmarks/voices/drivers.txt`` (GRID speakers, VidTIMIT fadg0,
  HDTF, retalking, VoxCeleb2; whole clips; the moving-head takes left out), tracked by sketchsynth's tracker;
- ``henan``: six 10 s pieces of the henan take's OpenPose keypoints (a Mandarin reading, 30 fps; frames
  4001-4300, 5001-5300, ... 9001-9300), never used to choose anything about retargeting;
- ``own``: the speaker's own held-out recordings given with ``--own`` (GRID s1: its held-out sentences), which
  ``auto`` must leave as they are.

For each driver and each ``--retarget`` mode the selection runs at match's defaults (face: λ 0.5) without
writing videos; the figure is Pearson r of the chosen frames' mouth opening (mean outer-lip gap over the
inter-ocular distance, in their own pixels) against the driver's own, each driver's mean removed, frames pooled
over the drivers of a set; the per-driver mean r and the identity ratio are printed beside it.

    python benchmarks/bench_retarget.py --db DB --set clips henan [--own DIR --own-every 8 --own-start 7] [--live]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_frames_motion import opening, other_drivers  # noqa: E402  (the same measures as the frames bench)
from sketchsynth.evaluation.voices import centred_r as pooled_r  # noqa: E402  (each driver's mean removed, pooled)

HENAN_PIECES = [(a, a + 299) for a in range(4001, 9002, 1000)]
MODES = ("off", "on", "auto")


def drivers(which: str, work: Path, own: Path | None, every: int, start: int) -> list:
    """(name, path) of a driver set."""
    if which == "clips":
        return [(f"{g}/{p.name}", p) for g, p in other_drivers(ROOT / "benchmarks" / "voices" / "drivers.txt")]
    if which == "henan":
        src = SHARED / "henan" / "keypoints"
        out = []
        for a, b in HENAN_PIECES:
            d = work / f"henan_{a:05d}-{b:05d}"
            d.mkdir(parents=True, exist_ok=True)
            for p in src.iterdir():
                if p.name.endswith("_keypoints.json") and a <= int(p.name.split("_")[0]) <= b:
                    shutil.copy(p, d / p.name)
            (d / "fps.txt").write_text("30\n")
            out.append((d.name, d))
        return out
    if which == "own":
        files = sorted(p for p in own.iterdir() if p.suffix in (".mp4", ".mpg", ".avi", ".mov"))
        return [(p.name, p) for p in files[start::every]]
    raise SystemExit(f"unknown set {which}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--set", nargs="+", default=["clips", "henan"], choices=["clips", "henan", "own"])
    ap.add_argument("--own", type=Path, help="folder of the speaker's own recordings (--set own)")
    ap.add_argument("--own-every", type=int, default=8)
    ap.add_argument("--own-start", type=int, default=7)
    ap.add_argument("--live", action="store_true",
                    help="also push each driver's keypoints through live's FaceEngine (80 ms lag; --retarget off, "
                         "and auto with running statistics): columns live_off, live_auto")
    ap.add_argument("--out", type=Path, help="write the per-driver figures as JSON here")
    a = ap.parse_args(argv)

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.face import face_target

    db = FrameDatabase.load(a.db)
    report = {"db": str(a.db), "sets": {}}
    with tempfile.TemporaryDirectory(prefix="bench-retarget-") as tmp:
        for which in a.set:
            rows, pairs = [], {m: [] for m in MODES}
            for name, path in drivers(which, Path(tmp), a.own, a.own_every, a.own_start):
                track = load_input(str(path))
                o_drv = opening(track.keypoints)
                row = {"driver": name, "frames": len(o_drv)}
                for mode in MODES:
                    target = face_target(db, track, retarget=mode)
                    chosen = select(db, target, ViterbiDecoder(smooth=0.5)).result.rows
                    o = opening(db.keypoints_[np.maximum(chosen, 0)])
                    o[chosen < 0] = np.nan
                    pairs[mode].append((o, o_drv))
                    row[mode] = pooled_r([(o, o_drv)])
                    rep = target.report["retarget"]
                    if mode == "auto":
                        row.update(identity_ratio=rep["identity_ratio"], scale=rep["scale"], applied=rep["applied"])
                for mode in ("off", "auto") if a.live else ():
                    from sketchsynth.live.face import FaceEngine

                    e = FaceEngine(db, input_fps=track.fps, render="none", jitter_filter="none",
                                   retarget=mode).start()
                    shown = [f for k in track.keypoints for f in e.push_keypoints(k)] + e.finish()
                    chosen = np.array([f.row if f.row is not None else -1 for f in shown], np.int64)
                    o = opening(db.keypoints_[np.maximum(chosen, 0)])
                    o[chosen < 0] = np.nan
                    pairs.setdefault(f"live_{mode}", []).append((o, o_drv))
                    row[f"live_{mode}"] = pooled_r([(o, o_drv)])
                rows.append(row)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
                      flush=True)
            summary = {m: {"pooled_r": round(pooled_r(pairs[m]), 3),
                           "mean_r": round(float(np.nanmean([r[m] for r in rows])), 3)} for m in pairs}
            summary["drivers"], summary["applied"] = len(rows), int(sum(r["applied"] for r in rows))
            print(which, json.dumps(summary), flush=True)
            report["sets"][which] = {"summary": summary, "drivers": rows}
    if a.out:
        a.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
