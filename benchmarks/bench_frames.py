"""frames.mp4 on held-out input: warp (the first version) vs full vs composite.

Database: the 700 TRAIN sentences of GRID s1 (fixed split: sort the 800 names, sentence i is TEST when
i % 8 == 7); inputs: TEST sentences, each matched with the default smooth decoder and written in every mode.
For each mode it prints

- unfilled: fraction of frames.mp4's pixels that are black (max channel <= 6) -- the warp's wedges; the real
  recording's own fraction is printed as the floor;
- change p99 ratio: 99th percentile over frames of the mean absolute pixel change from the previous frame,
  divided by the same figure of the real recording of that sentence (goal <= 1.5);
- speakers: distinct speakers among the database recordings shown (every GRID s1 recording is speaker s1);
- mouth LMD: frames.mp4 re-tracked by sketchsynth's tracker, mean distance of mouth points 48-67 to the
  sketch's (the chosen frames' keypoints mapped by the mode's own transform), px and % inter-ocular.

    python benchmarks/bench_frames.py [--n 6] [--modes warp,full,composite,composite-poisson]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))


def split(names):
    names = sorted(names)
    return ([n for i, n in enumerate(names) if i % 8 != 7], [n for i, n in enumerate(names) if i % 8 == 7])


def change_p99(path) -> float:
    from sketchsynth.io.video import iter_frames

    prev, d = None, []
    for _, _, img in iter_frames(path):
        x = img.astype(np.float32)
        if prev is not None:
            d.append(float(np.abs(x - prev).mean()))
        prev = x
    return float(np.percentile(d, 99))


def black_fraction(path) -> float:
    from sketchsynth.io.video import iter_frames

    n = tot = 0
    for _, _, img in iter_frames(path):
        n += int((img.max(axis=2) <= 6).sum())
        tot += img.shape[0] * img.shape[1]
    return n / tot


def output_keypoints(db, out: Path, meta: dict):
    """The sketch's keypoints in frames.mp4's pixels, shape (n_out, 70, 2) (NaN: none)."""
    from sketchsynth.database.normalize import apply_matrices
    from sketchsynth.outputs.frames.warp import warp_matrices
    from sketchsynth.outputs.frames.fetch import fill_matrices

    rows = np.asarray(meta.get("db_rows_shown", meta["db_rows"]), np.int64)  # after composite's self-check
    if (out / "frames_matrices.npy").exists():
        mats = np.load(out / "frames_matrices.npy")
        if meta["frames_mode"] == "full":
            from sketchsynth.outputs.frames.full import fill_rows

            rows = fill_rows(rows)
    else:
        inp = np.load(out.parent / f"{out.name}_input_matrices.npy")[np.asarray(meta["input_index"])]
        mats = warp_matrices(db.transforms_[np.maximum(rows, 0)], fill_matrices(inp))
    kp = np.full((len(rows), 70, 2), np.nan)
    ok = (rows >= 0) & np.isfinite(mats).all(axis=(1, 2))
    kp[ok] = apply_matrices(db.keypoints_[rows[ok]][:, :, :2], mats[ok])
    return kp


def mouth_lmd(video, sketch_kp):
    from sketchsynth.layout import EYE_OUTER_CORNERS, MOUTH
    from sketchsynth.sources.tracker import FaceTracker

    tv = FaceTracker(cache=False).track(video)
    got = tv.keypoints
    n = min(len(got), len(sketch_kp))
    got, want = got[:n], sketch_kp[:n]
    ok = (got[:, :, 2].max(axis=1) > 0) & np.isfinite(want).all(axis=(1, 2))
    d = np.linalg.norm(got[ok][:, MOUTH, :2] - want[ok][:, MOUTH], axis=2).mean(axis=1)
    iod = np.linalg.norm(want[ok][:, EYE_OUTER_CORNERS[0]] - want[ok][:, EYE_OUTER_CORNERS[1]], axis=1)
    return float(d.mean()), float((d / iod).mean() * 100), float(ok.mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6, help="TEST sentences (spread over the 100)")
    ap.add_argument("--modes", default="warp,full,composite,composite-poisson")
    ap.add_argument("--work", default=None)
    ap.add_argument("--strip", default=None, help="write input | sketch | full | composite of the first sentence")
    args = ap.parse_args(argv)

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.sources.load import load_input
    from sketchsynth.outputs.synthesis import write_synthesis
    from sketchsynth.selection.select import select
    from sketchsynth.targets.face import face_target

    vids = SHARED / "grid_s1" / "video"
    train, test = split(p.stem for p in vids.glob("*.mp4"))
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_frames_"))
    db_path = work / "db_train"
    t0 = time.perf_counter()
    if (db_path / "manifest.json").exists():
        db = FrameDatabase.load(db_path)
    else:
        rec = work / "train"
        rec.mkdir(parents=True, exist_ok=True)
        for n in train:
            if not (rec / f"{n}.mp4").exists():
                # copy2 keeps the modification time: the track cache's key, so the tracks cached for the
                # shared files are found (build-db does not follow symlinks).
                shutil.copy2(vids / f"{n}.mp4", rec / f"{n}.mp4")
        db = FrameDatabase().build(rec, path=db_path, force=True, progress=True)
    print(f"database: {len(db.recordings_)} TRAIN sentences of GRID s1, {db.n_frames_} frames "
          f"({db.n_usable_} usable) in {time.perf_counter() - t0:.1f} s", flush=True)
    picks = [test[int(i)] for i in np.linspace(0, len(test) - 1, args.n)]
    modes = args.modes.split(",")
    rows = {m: [] for m in modes}
    for name in picks:
        track = load_input(vids / f"{name}.mp4")
        target = face_target(db, track)
        syn = select(db, target, ViterbiDecoder())
        # composite plans its background take with the selection, as `match` does
        syn_planned = select(db, target, ViterbiDecoder(), pose_weight="auto")
        real_p99 = change_p99(vids / f"{name}.mp4")
        real_black = black_fraction(vids / f"{name}.mp4")
        for m in modes:
            mode, _, blend = m.partition("-")
            out = work / "out" / name / m
            tw = time.perf_counter()
            write_synthesis(out, db, syn_planned if mode == "composite" else syn, force=True, frames_mode=mode,
                            blend=blend or "feather")
            tw = time.perf_counter() - tw
            # beside the output, not in it: sketchsynth does not overwrite a folder holding files it did not write
            np.save(out.parent / f"{m}_input_matrices.npy", np.asarray(syn.result.matrices, np.float64))
            syn_used = syn_planned if mode == "composite" else syn
            meta = json.loads((out / "videos.json").read_text())
            video = out / "frames.mp4"
            used = {str(db.frames_["recording"].iloc[r]) for r in meta["db_rows"] if r >= 0}
            if mode == "composite" and meta.get("background", {}).get("take") not in (None, "input"):
                used.add(meta["background"]["take"])
            speakers = {"s1"} if all((vids / f"{u}.mp4").exists() for u in used) else {"?"}
            lmd_px, lmd_iod, tracked = mouth_lmd(video, output_keypoints(db, out, meta))
            r = {"sentence": name, "unfilled": black_fraction(video), "real_unfilled": real_black,
                 "p99": change_p99(video), "real_p99": real_p99, "speakers": len(speakers),
                 "recordings": len(used), "lmd_px": lmd_px, "lmd_iod": lmd_iod, "tracked": tracked,
                 "jumps_per_s": syn_used.stats["jumps_per_s"], "write_s": tw}
            r["ratio"] = r["p99"] / r["real_p99"]
            rows[m].append(r)
            print(f"  {name} {m:18s} unfilled {r['unfilled']:.4f} (real {real_black:.4f})  change p99 "
                  f"{r['p99']:.2f} vs real {real_p99:.2f} = {r['ratio']:.2f}x  speakers {r['speakers']} "
                  f"({r['recordings']} recordings)  mouth LMD {lmd_px:.2f} px = {lmd_iod:.2f}% IOD "
                  f"(re-tracked {tracked:.0%}), written in {tw:.1f} s", flush=True)
    print(f"\n{len(picks)} held-out GRID s1 TEST sentences vs the 700-sentence TRAIN database "
          f"(jumps/s {np.mean([r['jumps_per_s'] for r in rows[modes[0]]]):.2f}):")
    print("| mode | unfilled pixels | change p99 / real (median, max) | speakers | mouth LMD px (% IOD) | "
          "write s (sketch + frames) |")
    print("|---|---|---|---|---|---|")
    for m in modes:
        rs = rows[m]
        print(f"| {m} | {np.mean([r['unfilled'] for r in rs]):.4f} | {np.median([r['ratio'] for r in rs]):.2f}x, "
              f"{np.max([r['ratio'] for r in rs]):.2f}x | {max(r['speakers'] for r in rs)} | "
              f"{np.mean([r['lmd_px'] for r in rs]):.2f} ({np.mean([r['lmd_iod'] for r in rs]):.2f}%) | "
              f"{np.median([r['write_s'] for r in rs]):.1f} |")
    print(f"real recordings: unfilled {np.mean([r['real_unfilled'] for r in rows[modes[0]]]):.4f}")
    if args.strip:
        write_strip(work / "out" / picks[0], vids / f"{picks[0]}.mp4", args.strip)
        print(f"strip: {args.strip}")
    (work / "bench_frames.json").write_text(json.dumps(rows))
    return rows


def write_strip(folder: Path, real: Path, path: str, times=(12, 30, 48, 66), height: int = 144):
    """input | sketch | full | composite at a few frames, small (PNG)."""
    import cv2

    from sketchsynth.io.video_fetch import read_frames

    cols = [read_frames(real, list(times)),
            read_frames(folder / "composite" / "sketch.mp4", list(times)),
            read_frames(folder / "full" / "frames.mp4", list(times)),
            read_frames(folder / "composite" / "frames.mp4", list(times))]
    rows = []
    for k in range(len(times)):
        ims = [cv2.resize(c[k], (int(round(c[k].shape[1] * height / c[k].shape[0])), height),
                          interpolation=cv2.INTER_AREA) for c in cols]
        rows.append(np.hstack(ims))
    head = np.full((22, rows[0].shape[1], 3), 255, np.uint8)
    x = 0
    for title, im in zip(("input (held out)", "sketch: input black, match blue", "--frames full",
                          "--frames composite"), ims):
        cv2.putText(head, title, (x + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += im.shape[1]
    cv2.imwrite(path, np.vstack([head] + rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
