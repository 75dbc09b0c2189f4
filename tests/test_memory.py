"""A long recording builds with bounded memory: only the FAISS index grows with its length."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sketchsynth.io.openpose import read_openpose_folder

CHILD = """
import sys, json
def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from sketchsynth import FrameDatabase
import sketchsynth.build, sketchsynth.search, faiss, pandas, pyarrow.parquet
base = hwm_kb()
db = FrameDatabase().build(sys.argv[1], path=sys.argv[2], force=True)
print(json.dumps({"base": base, "peak": hwm_kb(), "usable": db.n_usable_}))
"""


def _long_npy(path, n, kp):
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 70, 3))
    rng = np.random.default_rng(0)
    for a in range(0, n, len(kp)):
        b = min(n, a + len(kp))
        block = kp[: b - a].copy()
        block[..., :2] += rng.normal(0, 0.5, size=block[..., :2].shape).astype(np.float32)
        out[a:b] = block
    out.flush()
    del out
    (path.parent / (path.stem + ".fps.txt")).write_text("30")
    return path


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for peak memory")
def test_peak_memory_grows_only_with_the_index(henan_dir, tmp_path):
    kp = read_openpose_folder(henan_dir).keypoints
    peaks = {}
    for n in (100_000, 400_000):
        npy = _long_npy(tmp_path / f"long_{n}.npy", n, kp)
        r = subprocess.run([sys.executable, "-c", CHILD, str(npy), str(tmp_path / f"db_{n}")], check=True,
                           capture_output=True, text=True)
        m = json.loads(r.stdout.strip().splitlines()[-1])
        assert m["usable"] == n
        peaks[n] = m["peak"] * 1024
        npy.unlink()
    per_frame = (peaks[400_000] - peaks[100_000]) / 300_000
    print(f"\npeak memory grows by {per_frame:.0f} bytes per frame (FAISS index: 560; raw in + out: 2,008)")
    # index (560 B) + frame-table columns; holding the arrays whole would add >= 2,000 B per frame
    assert per_frame < 1000
