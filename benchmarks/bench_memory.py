"""Peak memory of build-db on long recordings: streaming keeps it bounded.

Builds databases from single landmark recordings of 250k and 1M frames (the real
henan track tiled, with 0.5 px noise per tile, written as a ``.npy`` of shape
(T, 70, 3)) in a fresh process each, and reports the peak resident memory.
What must grow with T is only the FAISS flat index (560 bytes per usable frame)
and a few bytes per frame of frame-table columns; the raw arrays (840 bytes per
frame in, 1.4 kB out) stream through a fixed-size chunk.

Run:  python benchmarks/bench_memory.py [--frames 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.fspath(Path(__file__).parent))
from _data import DB_RANGE, HENAN, henan_files  # noqa: E402

# VmHWM (this process's own peak RSS): ru_maxrss would carry the parent's peak across fork + exec.
CHILD = """
import sys, time, json
def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from sketchsynth import FrameDatabase
import sketchsynth.database.build, sketchsynth.selection.search, faiss, pandas, pyarrow.parquet
base = hwm_kb()
t = time.perf_counter()
db = FrameDatabase().build(sys.argv[1], path=sys.argv[2], force=True)
print(json.dumps({"seconds": time.perf_counter() - t, "usable": db.n_usable_, "imports_kb": base,
                  "peak_kb": hwm_kb()}))
"""


def make_long_recording(path: Path, n_frames: int, keypoints: np.ndarray | None = None) -> Path:
    """A (n_frames, 70, 3) float32 .npy tiled from real frames with per-tile noise; written in blocks.

    ``keypoints`` (shape (n, 70, 3)) are the frames to tile; default the henan take's frames 1-7820.
    """
    if path.exists() and np.load(path, mmap_mode="r").shape[0] == n_frames:
        return path
    kp = keypoints
    if kp is None:
        from sketchsynth.io.openpose import read_openpose_files

        src = henan_files(*DB_RANGE)
        (kp, _), = read_openpose_files([(HENAN, [p.name for p in src])])
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_frames, 70, 3))
    rng = np.random.default_rng(7)
    for a in range(0, n_frames, len(kp)):
        b = min(n_frames, a + len(kp))
        block = kp[: b - a].copy()
        block[..., :2] += rng.normal(0, 0.5, size=block[..., :2].shape).astype(np.float32)
        out[a:b] = block
    out.flush()
    del out
    path.with_name(path.stem + ".fps.txt").write_text("30")
    return path


def measure(npy: Path, db: Path) -> dict:
    """Build a database from ``npy`` in a fresh process: seconds, usable frames, peak memory (kB)."""
    r = subprocess.run([sys.executable, "-c", CHILD, os.fspath(npy), os.fspath(db)], check=True,
                       capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sketchsynth-bench"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sorted({args.frames // 4, args.frames}):
        npy = make_long_recording(work / f"long_{n}.npy", n)
        m = measure(npy, work / f"db_long_{n}")
        index_mb = m["usable"] * 140 * 4 / 2**20
        peak_mb = m["peak_kb"] / 1024
        raw_mb = n * 70 * 3 * 4 / 2**20
        rows.append({"frames": n, "seconds": m["seconds"], "peak_rss_mb": peak_mb,
                     "after_imports_mb": m["imports_kb"] / 1024, "index_mb": index_mb, "raw_input_mb": raw_mb})
        print(f"{n:>9,} frames: built in {m['seconds']:.1f} s, peak RSS {peak_mb:,.0f} MB "
              f"(after imports {m['imports_kb'] / 1024:,.0f} MB; FAISS index {index_mb:,.0f} MB; "
              f"raw input {raw_mb:,.0f} MB, database on disk {raw_mb * (1 + 2 / 3 + 0.57 + 2 / 3):,.0f} MB)")
    if len(rows) == 2:
        a, b = rows
        grow = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (b["frames"] - a["frames"]) * 1e6
        print(f"peak grows by {grow:,.0f} MB per million frames; the index alone by "
              f"{140 * 4 * 1e6 / 2**20:,.0f} MB; a whole-array build would add >= "
              f"{(70 * 3 * 4 + 70 * 2 * 4 * 2 + 48) * 1e6 / 2**20:,.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
