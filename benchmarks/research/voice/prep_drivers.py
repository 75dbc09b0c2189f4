"""Track the driver clips (other people), cut long ones into pieces, write the VALIDATION/TEST split.

Output: tmp/drivers.npz  -- per clip: audio (16 kHz float32), frame times (s), truth opening and width
(inner lips 62-66 / inter-ocular, lip corners / inter-ocular, NaN where no face), fps; and split.json.

Split rule (written down before any measurement): clips sorted by name inside each group, alternate
clips -> VAL (even index) / TEST (odd index). Long takes are cut into pieces first (dfrf: 10 s pieces,
speaker31: 2 pieces of ~12 s, hdtf: 2 pieces of 4 s) and the pieces alternate the same way.
GRID bbaf2n is s1's own sentence and is excluded; fadg0/head.mp4 has no sound and is excluded.

    PYTHONPATH=/work/proto nice -n 10 python prep_drivers.py
"""
import glob
import json
import os
import sys

import numpy as np

D = "/work/shared/data"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tmp")


def groups():
    g = {
        "grid": [p for p in sorted(glob.glob(f"{D}/videos/grid/*.mpg")) if "bbaf2n" not in p],
        "fadg0": [p for p in sorted(glob.glob(f"{D}/fadg0/video/*.mp4")) if "head" not in p],
        "hdtf": sorted(glob.glob(f"{D}/videos/hdtf/*.mp4")),
        "retalking": sorted(glob.glob(f"{D}/videos/retalking/*.mp4")),
        "voxceleb2": sorted(glob.glob(f"{D}/videos/voxceleb2/*.mp4")),
        "dfrf": [f"{D}/videos/dfrf/cnn2_25fps.mp4"],
        "speaker31": [f"{D}/speaker31/31.mp4"],
    }
    return g


PIECE_S = {"dfrf": 10.0, "speaker31": 12.2, "hdtf": 4.0}


def main():
    from sketchsynth.io.audio import load_audio
    from sketchsynth.speech.metrics import lip_width, mouth_opening
    from sketchsynth.sources.load import load_input

    clips, split = {}, {"VAL": [], "TEST": []}
    for grp, paths in groups().items():
        names = []
        for p in paths:
            tr = load_input(p)
            y = load_audio(p, 16000)
            kp = np.asarray(tr.keypoints, np.float64)
            face = kp[:, :, 2].max(axis=1) > 0 if kp.shape[2] == 3 else np.ones(len(kp), bool)
            o = np.where(face, mouth_opening(kp), np.nan)
            w = np.where(face, lip_width(kp), np.nan)
            t = np.asarray(tr.time_s, np.float64)
            base = os.path.splitext(os.path.basename(p))[0]
            piece = PIECE_S.get(grp)
            cuts = [(0.0, 1e9)] if piece is None else [(a, a + piece) for a in np.arange(0, t[-1] - 2.0, piece)]
            for i, (a, b) in enumerate(cuts):
                m = (t >= a) & (t < b)
                if m.sum() < 40:
                    continue
                n = f"{grp}/{base}" + (f"#{i}" if piece else "")
                ia, ib = int(a * 16000), int(min(b, t[m][-1] + 1.0 / tr.fps) * 16000)
                clips[n] = dict(audio=y[ia:ib].astype(np.float32), time_s=t[m] - a, opening=o[m], width=w[m],
                                fps=float(tr.fps), keypoints=kp[m].astype(np.float32))
                names.append(n)
                print(n, int(m.sum()), "frames", f"{(ib - ia) / 16000:.1f} s", "face", np.isfinite(o[m]).mean(),
                      file=sys.stderr)
        for i, n in enumerate(sorted(names)):
            split["VAL" if i % 2 == 0 else "TEST"].append(n)
    flat = {}
    for n, c in clips.items():
        for k, v in c.items():
            flat[f"{n}|{k}"] = np.asarray(v)
    np.savez(os.path.join(OUT, "drivers.npz"), **flat)
    with open(os.path.join(os.path.dirname(OUT), "split.json"), "w") as f:
        json.dump(split, f, indent=1)
    print(json.dumps(split, indent=1))


if __name__ == "__main__":
    main()
