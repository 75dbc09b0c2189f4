"""How examples/grid_s1 was made (kept for reproducibility; needs ../shared/data).

Takes 100 TRAIN sentences (every 7th of the 700 TRAIN names of the fixed split:
sort the 800 names, sentence i is TEST when i % 8 == 7) as the demo database's
recordings, and 3 TEST sentences as held-out inputs; copies the mp4 files and
writes ``tracks.npz`` with sketchsynth's own tracker output for all of them
(:mod:`sketchsynth.sources.track_fixture`).

    python examples/grid_s1/make_examples.py [../shared/data/grid_s1]
"""

import shutil
import sys
from pathlib import Path

from sketchsynth.sources.track_fixture import write_fixture

HERE = Path(__file__).resolve().parent


def split(names):
    names = sorted(names)
    train = [n for i, n in enumerate(names) if i % 8 != 7]
    test = [n for i, n in enumerate(names) if i % 8 == 7]
    return train, test


def main(src):
    src = Path(src)
    names = [p.stem for p in (src / "video").glob("*.mp4")]
    train, test = split(names)
    chosen = {"recordings": train[::7][:100], "inputs": [test[0], test[50], test[99]]}
    shipped = []
    for folder, picked in chosen.items():
        (HERE / folder).mkdir(exist_ok=True)
        for n in picked:
            dst = HERE / folder / f"{n}.mp4"
            shutil.copyfile(src / "video" / f"{n}.mp4", dst)
            (HERE / "align").mkdir(exist_ok=True)
            shutil.copyfile(src / "align" / f"{n}.align", HERE / "align" / f"{n}.align")
            shipped.append(dst)
    # Track the shared originals (the cache already holds them), store under the shipped names.
    meta = write_fixture(HERE / "tracks.npz", [src / "video" / p.name for p in shipped])
    print(f"{len(shipped)} videos, fixture {HERE / 'tracks.npz'} ({(HERE / 'tracks.npz').stat().st_size >> 10} KB), "
          f"tracker {meta['tracker']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[1] / ".." / "shared" / "data" / "grid_s1")
