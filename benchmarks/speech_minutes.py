"""How much sound the speech model needs: speech-driven opening r against minutes of training sound (GRID s1).

The first 50 sentences of GRID s1's fixed held-out part (every:8:7) drive databases built from N other
sentences (a fixed shuffle of the 700 training sentences; 3 s each), through ``sketchsynth evaluate --drive
audio``. Prints one row per N: minutes of sound, regressor-alone and selected (default λ) opening r, width r.
This is the measurement behind ``sketchsynth.database.sound.MIN_SPEECH_MINUTES`` and the warning build-db and
match give under it.

    python benchmarks/speech_minutes.py [--data ../shared/data/grid_s1/video] [--work /tmp/minutes]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

SIZES = (10, 20, 40, 80, 160, 320)


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(here.parent.parent / "shared" / "data" / "grid_s1" / "video"))
    ap.add_argument("--work", default="/tmp/sketchsynth-speech-minutes")
    args = ap.parse_args()
    videos = sorted(p.name for p in Path(args.data).glob("*.mpg")) or sorted(p.name for p in Path(args.data).glob("*.mp4"))
    held = [v for i, v in enumerate(videos) if i % 8 == 7][:50]
    train = [v for i, v in enumerate(videos) if i % 8 != 7]
    random.Random(0).shuffle(train)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "held.txt").write_text("\n".join(Path(v).stem for v in held) + "\n")
    print("| training sentences | minutes | regressor opening r | selected opening r | selected width r |")
    print("|---|---|---|---|---|")
    for n in SIZES:
        rec = work / f"rec_{n}"
        rec.mkdir(exist_ok=True)
        for v in train[:n] + held:
            if not (rec / v).exists():
                os.symlink(Path(args.data) / v, rec / v)
        out = work / f"out_{n}"
        subprocess.run([sys.executable, "-m", "sketchsynth.cli", "evaluate", str(rec), "--drive", "audio",
                        "--holdout", f"@{work / 'held.txt'}", "--out", str(out), "--force"], check=True,
                       stdout=subprocess.DEVNULL)
        rows = {r["name"]: r for r in json.loads((out / "report.json").read_text())["rows"]}
        reg = rows["regressor alone"]
        sel = next(r for name, r in rows.items() if name.endswith("(default)"))
        print(f"| {n} | {n * 3 / 60:.1f} | {reg['opening_r']:.3f} | {sel['opening_r']:.3f} | {sel['width_r']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
