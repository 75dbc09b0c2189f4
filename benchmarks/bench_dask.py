"""Speed-up of build-db on a Dask cluster: 2 workers against 1, on real video recordings.

Builds a database from the first ``--videos`` GRID s1 sentences (../shared/data/grid_s1/video) with
``build-db --scheduler local:1`` and ``local:2``, each in a fresh process with an empty track cache
(SKETCHSYNTH_CACHE in a new temporary folder, so every video is really tracked on the workers), and
checks that both wrote the same data files (sha256 in the manifests).

Run:  python benchmarks/bench_dask.py [--videos 40]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.fspath(Path(__file__).parent))
from _scale_data import GRID_VIDEOS  # noqa: E402


def build(src: Path, db: Path, scheduler: str | None) -> float:
    cache = tempfile.mkdtemp(prefix="sketchsynth-cache-")
    env = {**os.environ, "SKETCHSYNTH_CACHE": cache}
    cmd = [sys.executable, "-m", "sketchsynth.cli", "build-db", os.fspath(src), "--db", os.fspath(db), "--force"]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    dt = time.perf_counter() - t
    shutil.rmtree(cache, ignore_errors=True)
    return dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sketchsynth-bench-dask"))
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    src = work / "videos"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for v in sorted(GRID_VIDEOS.glob("*.mp4"))[: args.videos]:
        os.symlink(v, src / v.name)
    times, sha = {}, {}
    for sched in ("local:1", "local:2"):
        db = work / f"db_{sched.replace(':', '')}"
        times[sched] = build(src, db, sched)
        man = json.loads((db / "manifest.json").read_text())
        sha[sched] = {f: m["sha256"] for f, m in man["files"].items()}
        print(f"{sched}: {times[sched]:.1f} s (end to end: interpreter, cluster start, tracking, build)", flush=True)
    same = sha["local:1"] == sha["local:2"]
    print(f"speed-up 2 workers / 1: {times['local:1'] / times['local:2']:.2f}x; identical data files: {same}")
    return times, same


if __name__ == "__main__":
    main()
