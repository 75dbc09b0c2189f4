"""Benchmark data made from the real henan take in ../shared/data.

The method was built on a 75,120-frame database; the henan take has 10,820
frames. The benchmark database replicates henan frames 1-7820 (frames
7821-11000, 3,000 files, stay held out as the input) into copies, each with its
own small Gaussian keypoint noise (0.5 px, about the tracker's own jitter, so
copies are not exact duplicates; copy 0 is the original). Files keep the
originals' structure and size (body pose included, 3 decimals), so parsing costs
what real OpenPose output costs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
HENAN = SHARED / "henan" / "keypoints"
DB_RANGE = (1, 7820)
HELDOUT_RANGE = (7821, 11000)
BENCH_FRAMES = 75_120
NOISE_PX = 0.5


def henan_files(lo: int, hi: int) -> list[Path]:
    """henan JSON files with frame numbers lo..hi, in frame order."""
    if not HENAN.is_dir():
        raise SystemExit(f"benchmark data needs {HENAN} (../shared/data beside the checkout)")
    files = [p for p in HENAN.iterdir() if p.name.endswith("_keypoints.json")]
    files = [p for p in files if lo <= int(p.name.split("_")[0]) <= hi]
    return sorted(files, key=lambda p: int(p.name.split("_")[0]))


def _copy_plan(n_frames: int, n_src: int):
    """(copy number, number of frames) pieces adding up to n_frames."""
    plan, left, c = [], n_frames, 0
    while left > 0:
        take = min(n_src, left)
        plan.append((c, take))
        left -= take
        c += 1
    return plan


def make_bench_recordings(dst: Path, n_frames: int = BENCH_FRAMES, noise_px: float = NOISE_PX) -> Path:
    """Write the benchmark recordings as OpenPose JSON: dst/copy_XX/<frame>_keypoints.json (+ fps.txt).

    Reuses dst when it already holds the right number of files.
    """
    dst = Path(dst)
    stamp = dst / ".complete"
    if stamp.exists() and stamp.read_text().strip() == f"{n_frames} {noise_px}":
        return dst
    src = henan_files(*DB_RANGE)
    docs = [orjson.loads(p.read_bytes()) for p in src]
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "fps.txt").write_text("30\n")
    for c, take in _copy_plan(n_frames, len(src)):
        rng = np.random.default_rng(1000 + c)
        d = dst / f"copy_{c:02d}"
        d.mkdir(exist_ok=True)
        for p, doc in zip(src[:take], docs[:take]):
            face = np.asarray(doc["people"][0]["face_keypoints_2d"], dtype=np.float64).reshape(70, 3)
            if c:
                face[:, :2] += rng.normal(0, noise_px, size=(70, 2))
            out = dict(doc)
            person = dict(doc["people"][0])
            person["face_keypoints_2d"] = [round(float(v), 3) for v in face.reshape(-1)]
            out["people"] = [person]
            (d / p.name).write_bytes(orjson.dumps(out))
    stamp.write_text(f"{n_frames} {noise_px}")
    return dst


def make_heldout_folder(dst: Path) -> Path:
    """The held-out input (henan frames 7821-11000, 3,000 files) as a folder of its own, with fps.txt (30).

    Copies of the original files (the henan folder holds the database's frames too). Reuses dst when complete.
    """
    dst = Path(dst)
    stamp = dst / ".complete"
    src = henan_files(*HELDOUT_RANGE)
    if stamp.exists() and stamp.read_text().strip() == str(len(src)):
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    for p in src:
        (dst / p.name).write_bytes(p.read_bytes())
    (dst / "fps.txt").write_text("30\n")
    stamp.write_text(str(len(src)))
    return dst


def make_bench_db_tracks(n_frames: int = BENCH_FRAMES, noise_px: float = NOISE_PX) -> list:
    """The same recordings as :func:`make_bench_recordings`, in memory (list of Track)."""
    from sketchsynth.io.openpose import read_openpose_files
    from sketchsynth.sources.recordings import Track

    src = henan_files(*DB_RANGE)
    (kp, n_people), = read_openpose_files([(HENAN, [p.name for p in src])])
    frames = np.array([int(p.name.split("_")[0]) for p in src], dtype=np.int64)
    tracks = []
    for c, take in _copy_plan(n_frames, len(src)):
        rng = np.random.default_rng(1000 + c)
        k = kp[:take].copy()
        if c:
            k[..., :2] += rng.normal(0, noise_px, size=k[..., :2].shape).astype(np.float32)
            k[..., :2] = np.round(k[..., :2].astype(np.float64), 3).astype(np.float32)
        tracks.append(Track(f"copy_{c:02d}", os.fspath(HENAN), "openpose", k, frames[:take], frames[:take] / 30.0,
                            n_people[:take], [p.name for p in src[:take]], 30.0, "option"))
    return tracks


def heldout_input():
    """Held-out henan frames 7821-11000 (3,000 files) as a Track at 30 fps."""
    from sketchsynth.io.openpose import read_openpose_files
    from sketchsynth.sources.recordings import Track

    src = henan_files(*HELDOUT_RANGE)
    (kp, n_people), = read_openpose_files([(HENAN, [p.name for p in src])])
    frames = np.array([int(p.name.split("_")[0]) for p in src], dtype=np.int64)
    return Track("henan_heldout", os.fspath(HENAN), "openpose", kp, frames, frames / 30.0, n_people,
                 [p.name for p in src], 30.0, "option")


def timeit(fn, repeat: int = 1):
    """Best wall time of ``repeat`` calls, and the last result."""
    import time

    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
