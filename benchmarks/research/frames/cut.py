"""Cut cnn2 into the database part and the driving parts (validation, held-out).

    PYTHONPATH=/work/proto python cut.py [--out work]

Splits (25 fps, 1,779 frames, 71.2 s): db = frames 0-1249 (0-50 s); val = 1250-1499 (50-60 s);
test = 1500-1778 (60-71.2 s, touched once). Each part is re-encoded H.264 crf 14 with its own slice of the
MP3 sound as AAC (sketchsynth's writer), so build-db and match read ordinary files.
"""
import argparse
from pathlib import Path

SRC = "/work/shared/data/videos/dfrf/cnn2_25fps.mp4"
PARTS = {"db": (0, 1250), "val": (1250, 1500), "test": (1500, 1779)}
FPS = 25.0


def frames_between(a, b):
    from sketchsynth.io.video import iter_frames
    for i, (_, _, img) in enumerate(iter_frames(SRC)):
        if i >= b:
            break
        if i >= a:
            yield img


def main():
    from sketchsynth.io.video import write_video
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="work")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (a, b) in PARTS.items():
        p = out / (f"cnn2_{name}.mp4" if name != "db" else "db_rec/cnn2_db.mp4")
        p.parent.mkdir(parents=True, exist_ok=True)
        info = write_video(p, frames_between(a, b), FPS, audio=SRC, audio_offset=a / FPS, crf=14)
        print(name, info)


if __name__ == "__main__":
    main()
