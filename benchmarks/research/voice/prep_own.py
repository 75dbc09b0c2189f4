"""The 100 held-out GRID s1 sentences (sorted names, i % 8 == 7: the fixed split every:8:7) as driver clips
with their own tracked mouths: tmp/own.npz (same layout as drivers.npz), for own-voice checks against the
database built from the other 700 (tmp/db_s1_700).

    PYTHONPATH=/work/proto nice -n 10 python prep_own.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    from sketchsynth.io.audio import load_audio
    from sketchsynth.sources.load import load_input
    from sketchsynth.speech.metrics import lip_width, mouth_opening

    flat = {}
    for name in open(os.path.join(HERE, "tmp", "s1_test_names.txt")).read().split():
        p = os.path.join(HERE, "tmp", "grid_s1_video", name + ".mp4")
        tr = load_input(p)
        kp = np.asarray(tr.keypoints, np.float64)
        face = kp[:, :, 2].max(axis=1) > 0
        n = "own/" + name
        flat[f"{n}|audio"] = load_audio(p, 16000).astype(np.float32)
        flat[f"{n}|time_s"] = np.asarray(tr.time_s, np.float64)
        flat[f"{n}|opening"] = np.where(face, mouth_opening(kp), np.nan)
        flat[f"{n}|width"] = np.where(face, lip_width(kp), np.nan)
        flat[f"{n}|fps"] = np.asarray(float(tr.fps))
    np.savez(os.path.join(HERE, "tmp", "own.npz"), **flat)


if __name__ == "__main__":
    main()
