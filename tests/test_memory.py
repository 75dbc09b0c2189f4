"""A long recording builds with bounded memory: only the FAISS index grows with its length."""

import os
import sys
from pathlib import Path

import pytest

from sketchsynth.io.openpose import read_openpose_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_memory import make_long_recording, measure  # noqa: E402  (the benchmark's own measurement)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for peak memory")
def test_peak_memory_grows_only_with_the_index(henan_dir, tmp_path):
    kp = read_openpose_folder(henan_dir).keypoints
    peaks = {}
    for n in (100_000, 400_000):
        npy = make_long_recording(tmp_path / f"long_{n}.npy", n, keypoints=kp)
        m = measure(npy, tmp_path / f"db_{n}")
        assert m["usable"] == n
        peaks[n] = m["peak_kb"] * 1024
        npy.unlink()
    per_frame = (peaks[400_000] - peaks[100_000]) / 300_000
    print(f"\npeak memory grows by {per_frame:.0f} bytes per frame (FAISS index: 560; raw in + out: 2,008)")
    # index (560 B) + frame-table columns; holding the arrays whole would add >= 2,000 B per frame
    assert per_frame < 1000
