"""frames.mp4 of a speaker who moves: is it still one real face? Measured on the written, re-tracked video.

Data: ``videos/dfrf/cnn2_25fps.mp4`` (25 fps, 1,779 frames, a broadcast-style take with head motion), cut into
the database part (frames 0-1249, 0-50 s), the validation part (1250-1499, 50-60 s; every setting is chosen
here) and the held-out part (1500-1778, 60-71.2 s; run once). Each part is re-encoded H.264 crf 14 with its
own slice of the sound, so build-db and match read ordinary files. ``--take speaker31``: a second moving-head
take (``speaker31/31.mp4``, 1280x720), its first 18.2 s the database and its last 6.1 s a held-out part;
``--take cnn2short`` / ``cnn2mid``: cnn2's validation part against a database of its first 18 s / 30 s (settings
for short databases). ``--take speaker31b`` / ``cnn2b``: second folds, fixed before they were run, each
take's start driving a database of its end (speaker31: 0-6.1 s against 6.1-24.3 s; cnn2: 0-11.2 s against
21.2-71.2 s); once run, the check's fallback order was chosen on them. ``--take speaker31c`` / ``cnn2c``: third
folds, fixed before that choice, of seconds that had never driven anything (speaker31: 6.1-12.1 s against
12.1-24.3 s; cnn2: 11.2-21.2 s against cnn2b's database). ``--take speaker31d`` / ``cnn2d``: fourth folds, the
last seconds that had never driven (speaker31: 12.1-18.2 s against its first 12.1 s; cnn2: 21.2-31.2 s against
31.2-71.2 s), run once with the settings chosen before them. ``--take fadg0``: a fifth fold, another speaker
and a database of several recordings (VidTIMIT fadg0: her head-rotation take, without sound, and five sentences;
her sentence sx199 drives), run once. ``run others``: every clip of other people in
``benchmarks/voices/drivers.txt`` (GRID speakers, VidTIMIT fadg0, HDTF, retalking, VoxCeleb2; whole clips; the
moving-head takes themselves left out) drives the take's database, by face or by sound: ``match input.mp4`` with
another person, the take's moving head as the background; r pooled over the clips with each clip's mean
removed, sharpness and change as ratios to the database recording's own mouth.

    python benchmarks/bench_frames_motion.py prepare --work W            # cut + build-db (W/db_cnn2)
    python benchmarks/bench_frames_motion.py run val face --work W [-- MATCH OPTIONS]
    python benchmarks/bench_frames_motion.py run val speech --work W     # driven by the part's own sound
    python benchmarks/bench_frames_motion.py run val face --work W --renderer interp=lanczos   # a setting tried
    python benchmarks/bench_frames_motion.py run others face|speech --work W   # other people drive the take

Figures (one JSON line per run; frames.mp4 and the real recording of the same seconds are both tracked by
sketchsynth's own tracker, default settings):

- ``r_retracked``: Pearson r of the mouth opening (mean outer-lip gap over the inter-ocular distance,
  :data:`sketchsynth.layout.OUTER_LIP_GAPS`) re-tracked on frames.mp4 against the real recording's (the
  driver); ``r_chosen``: the same on the shown database frames' own keypoints (before rendering);
- ``implausible``: share of frames whose geometry (nose-chin, jaw width, nose-lip over the inter-ocular
  distance) is outside the database recording's own re-tracked p0.5-p99.5 (no face found counts);
  ``implausible_real``: the real recording's own share;
- ``sharpness_ratio``: median variance of the Laplacian of the grey mouth box (lips grown by 0.3 IOD),
  frames.mp4 over the real recording;
- ``change_p99_ratio``: p99 of the mean absolute change from the previous frame inside the mouth box, ratio;
- ``render_sharpness``: frames.mp4's mouth sharpness over the shown database frames' own (what rendering and
  the codec keep; the selection set aside);
- ``write_x_realtime``: frames.mp4's duration over the wall time of fetching, rendering and encoding it
  (>= 1: faster than real time), at the database's 512x512, 25 fps;
- ``frames_check``: the self-check's counts (summary.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
CNN2 = SHARED / "videos" / "dfrf" / "cnn2_25fps.mp4"
FPS = 25.0
BOX_GROW = 0.3


@dataclass(frozen=True)
class Take:
    """A moving-head recording cut into parts: ``parts`` maps db / val / test to frame ranges [a, b)."""

    name: str
    source: Path
    parts: dict
    files: tuple = ()
    """Whole recordings that form the database instead of a cut of ``source`` (which is then the test part)."""
    group: str = ""
    """The speaker's group in ``benchmarks/voices/drivers.txt``, left out of ``run others`` (they are not other
    people); the moving-head takes' groups are left out always (:data:`OTHER_GROUPS_LEFT_OUT`)."""

    def part_path(self, work: Path, part: str) -> Path:
        if self.files and part == "db":
            return work / f"{self.name}_rec" / self.files[0].name
        if self.name == "cnn2":  # the first take's files keep their names, so earlier work folders still serve
            return work / ("db_rec/cnn2_db.mp4" if part == "db" else f"cnn2_{part}.mp4")
        return work / (f"{self.name}_rec/{self.name}_db.mp4" if part == "db" else f"{self.name}_{part}.mp4")

    def db_dir(self, work: Path) -> Path:
        return work / f"db_{self.name}"

    def db_videos(self, work: Path) -> list:
        """The database's recording videos (one, or ``files``)."""
        if self.files:
            return [work / f"{self.name}_rec" / f.name for f in self.files]
        return [self.part_path(work, "db")]


TAKES = {t.name: t for t in (
    Take("cnn2", CNN2, {"db": (0, 1250), "val": (1250, 1500), "test": (1500, 1779)}),
    # a second take, never used to choose a setting: its last quarter is a held-out part only
    Take("speaker31", SHARED / "speaker31" / "31.mp4", {"db": (0, 455), "test": (455, 607)}),
    # cnn2 with a database as short as speaker31's (18 s) or 30 s, to choose settings for short databases
    Take("cnn2short", CNN2, {"db": (0, 455), "val": (1250, 1500)}),
    Take("cnn2mid", CNN2, {"db": (0, 750), "val": (1250, 1500)}),
    # second folds: each take's start drives a database of its end (the start was never a driver before)
    Take("speaker31b", SHARED / "speaker31" / "31.mp4", {"db": (152, 607), "test": (0, 152)}),
    Take("cnn2b", CNN2, {"db": (529, 1779), "test": (0, 279)}),
    # third folds, for settings chosen on the second: seconds that never drove anything
    Take("cnn2c", CNN2, {"db": (529, 1779), "test": (279, 529)}),
    Take("speaker31c", SHARED / "speaker31" / "31.mp4", {"db": (303, 607), "test": (152, 303)}),
    # fourth folds: the last seconds that never drove anything, each against the take's seconds after (cnn2) or
    # before (speaker31) them
    Take("cnn2d", CNN2, {"db": (779, 1779), "test": (529, 779)}),
    Take("speaker31d", SHARED / "speaker31" / "31.mp4", {"db": (0, 303), "test": (303, 455)}),
    # fifth fold, another speaker: VidTIMIT fadg0's head-rotation take (no sound) and five sentences as the
    # database (6 recordings, 34 s), her sentence sx199 (5.8 s) driving; fixed before any of it was run
    Take("fadg0", SHARED / "fadg0" / "video" / "sx199.mp4", {"test": (0, 144)},
         tuple(SHARED / "fadg0" / "video" / f"{s}.mp4" for s in ("head", "sa1", "sa2", "si1279", "si1909", "sx19")),
         "fadg0"),
)}


def prepare(take: Take, work: Path):
    """Cut the source into its parts and build the database from the first part."""
    from sketchsynth.io.video import iter_frames
    from sketchsynth.io.video_write import write_video

    for src, dst in zip(take.files, take.db_videos(work)):  # whole recordings: as they are
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    for name, (a, b) in take.parts.items():
        p = take.part_path(work, name)
        if p.exists() or (name == "db" and take.files):
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        frames = (img for i, (_, _, img) in enumerate(iter_frames(str(take.source))) if a <= i < b)
        write_video(p, frames, FPS, audio=str(take.source), audio_offset=a / FPS, crf=14)
    if not take.db_dir(work).exists():
        subprocess.run([sys.executable, "-m", "sketchsynth.cli", "build-db", str(take.part_path(work, "db").parent),
                        "--db", str(take.db_dir(work))], check=True)


# ---------------------------------------------------------------------- measuring a written video
def track(path, cache=True) -> np.ndarray:
    from sketchsynth.sources.tracker import FaceTracker

    return np.asarray(FaceTracker(cache=cache).track(str(path)).keypoints, np.float64)


def has_face(kp):
    return kp[:, :68, 2].max(axis=1) > 0


def opening(kp):
    from sketchsynth.layout import OUTER_LIP_GAPS, inter_ocular

    o = np.mean([np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=-1) for a, b in OUTER_LIP_GAPS], axis=0)
    o = o / inter_ocular(kp)
    o[~has_face(kp)] = np.nan
    return o


def geometry(kp):
    from sketchsynth.database.pose import face_geometry

    g = face_geometry(kp)
    g[~has_face(kp)] = np.nan
    return g


def pearson(a, b):
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], float), np.asarray(b[:n], float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() >= 3 else float("nan")


def implausible(g, lo, hi) -> float:
    with np.errstate(invalid="ignore"):
        return float((~np.isfinite(g).all(axis=1) | (g < lo).any(axis=1) | (g > hi).any(axis=1)).mean())


def region_stats(video, kp):
    """Per frame: variance of the Laplacian of the grey mouth box, and mean |change| there from the last frame."""
    import cv2

    from sketchsynth.io.video import iter_frames
    from sketchsynth.layout import MOUTH, inter_ocular

    sharp, change, prev, box = [], [], None, None
    d = inter_ocular(kp)
    for i, (_, _, img) in enumerate(iter_frames(str(video))):
        if i >= len(kp):
            break
        h, w = img.shape[:2]
        if has_face(kp[i:i + 1])[0]:
            m, g = kp[i, MOUTH, :2], BOX_GROW * d[i]
            box = np.array([max(0, m[:, 0].min() - g), max(0, m[:, 1].min() - g), min(w, m[:, 0].max() + g),
                            min(h, m[:, 1].max() + g)]).astype(int)
        elif box is None:
            box = np.array([w // 3, h // 2, 2 * w // 3, 5 * h // 6])
        x0, y0, x1, y1 = box
        sharp.append(float(cv2.Laplacian(cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32),
                                         cv2.CV_32F).var()))
        if prev is not None:
            change.append(float(np.abs(img[y0:y1, x0:x1].astype(np.float32)
                                       - prev[y0:y1, x0:x1].astype(np.float32)).mean()))
        prev = img
    return np.asarray(sharp), np.asarray(change)


def chosen_sharpness(db, rows) -> float:
    """Median mouth-box sharpness of the shown database frames themselves (what rendering starts from)."""
    import cv2

    from sketchsynth.layout import MOUTH, inter_ocular
    from sketchsynth.outputs.frames.fetch import fetch_db_frames
    from sketchsynth.io.video_fetch import decode_image

    rows = rows[rows >= 0]
    frames, _ = fetch_db_frames(db, rows)
    kp = np.asarray(db.keypoints_, np.float64)
    out = []
    for r in rows:
        img = decode_image(frames[int(r)])
        m, g = kp[r, MOUTH, :2], BOX_GROW * inter_ocular(kp[r:r + 1])[0]
        x0, y0 = np.maximum(0, m.min(0) - g).astype(int)
        x1, y1 = (m.max(0) + g).astype(int)
        grey = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32)
        out.append(float(cv2.Laplacian(grey, cv2.CV_32F).var()))
    return float(np.median(out))


def figures(out_dir: Path, real: Path, db_videos: list, db_dir: Path, other: bool = False) -> dict:
    """The figures of one written output against its driver ``real``; ``other``: the driver is another person,
    so the sharpness and change ratios are to the database recordings' own mouth (same speaker, same size)
    and the driver's own geometry is not judged against the speaker's range."""
    from sketchsynth.database.frame_database import FrameDatabase

    meta = json.loads((out_dir / "videos.json").read_text())
    summary = json.loads((out_dir / "summary.json").read_text())
    kp_dbs = [track(v) for v in db_videos]
    g_db = geometry(np.concatenate(kp_dbs))
    g_db = g_db[np.isfinite(g_db).all(axis=1)]
    lo, hi = np.percentile(g_db, [0.5, 99.5], axis=0)
    kp_real, kp_out = track(real), track(out_dir / "frames.mp4", cache=False)
    n = min(len(kp_real), len(kp_out))
    kp_real, kp_out = kp_real[:n], kp_out[:n]
    o_real = opening(kp_real)
    res = {"frames": n, "r_retracked": pearson(opening(kp_out), o_real)}
    rows = np.asarray(meta.get("db_rows_shown", meta["db_rows"]), np.int64)[:n]
    db = FrameDatabase.load(db_dir)
    kc = np.asarray(db.keypoints_, np.float64)[np.maximum(rows, 0)].copy()
    kc[..., 2] = 1.0
    oc = opening(kc)
    oc[rows < 0] = np.nan
    res["r_chosen"] = pearson(oc, o_real)
    res["openings"] = {"retracked": opening(kp_out).tolist(), "driver": o_real.tolist(), "chosen": oc.tolist()}
    res["implausible"] = implausible(geometry(kp_out), lo, hi)
    s_out, c_out = region_stats(out_dir / "frames.mp4", kp_out)
    if other:
        stats = [region_stats(v, kp) for v, kp in zip(db_videos, kp_dbs)]
        s_real, c_real = (np.concatenate([st[i] for st in stats]) for i in (0, 1))
    else:
        res["implausible_real"] = implausible(geometry(kp_real), lo, hi)
        s_real, c_real = region_stats(real, kp_real)
    res["sharpness_ratio"] = float(np.median(s_out) / np.median(s_real))
    res["change_p99_ratio"] = float(np.percentile(c_out, 99) / np.percentile(c_real, 99))
    # what rendering and the codec keep of the chosen frames' own sharpness (selection set aside)
    res["render_sharpness"] = float(np.median(s_out) / chosen_sharpness(db, rows))
    w = meta["written"]["frames.mp4"]
    res["write_x_realtime"] = float(w["frames"] / w["fps"] / w["seconds"]) if w.get("seconds") else None
    res["size"] = [w["width"], w["height"]]
    res["frames_check"] = summary.get("frames_check")
    res["joins"] = summary.get("joins")
    return res


TUNED = """
import sys
import sketchsynth.outputs.frames.composite as c
from sketchsynth.outputs.frames import RENDERERS
class Tuned(c.CompositeRenderer):
    def __init__(self, **kw):
        super().__init__(**{**kw, **OPTIONS})
c.Tuned = Tuned
RENDERERS.builtin["composite"] = "sketchsynth.outputs.frames.composite:Tuned"
from sketchsynth.cli import main
sys.argv = ["sketchsynth"] + sys.argv[1:]
main()
"""


def run(take: Take, part: str, drive: str, work: Path, tag: str, match_args: list,
        renderer: dict | None = None) -> dict:
    """One match on a part, then its figures; ``renderer``: composite renderer options to try (a sweep)."""
    stem = f"{tag}_{part}_{drive}" if take.name == "cnn2" else f"{take.name}_{tag}_{part}_{drive}"
    out = work / stem
    args = ["match", str(take.part_path(work, part)), "--db", str(take.db_dir(work)), "--out", str(out), "--force",
            *(["--drive", "audio"] if drive == "speech" else []), *match_args]
    code = TUNED.replace("OPTIONS", repr(renderer or {}))
    subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.DEVNULL)
    res = {"tag": tag, "part": part, "drive": drive, "args": " ".join(match_args), "renderer": renderer or {},
           **figures(out, take.part_path(work, part), take.db_videos(work), take.db_dir(work))}
    (work / f"{stem}.json").write_text(json.dumps(res))
    return res


OTHER_GROUPS_LEFT_OUT = ("dfrf", "speaker31")
"""The moving-head takes themselves: their held-out parts are the takes' own runs."""


def other_drivers(listing: Path, own: tuple = ()) -> list:
    """(group, path) of every clip of other people in a drivers list (``benchmarks/voices/drivers.txt``: GROUP PATH
    [PIECE_SECONDS], paths relative to it), whole clips, the moving-head takes and the ``own`` groups (the
    take's speaker) left out."""
    out = []
    for line in listing.read_text().splitlines():
        f = line.split("#")[0].split()
        if len(f) >= 2 and f[0] not in OTHER_GROUPS_LEFT_OUT + tuple(own):
            out.append((f[0], (listing.parent / f[1]).resolve()))
    return out


def within_clip_r(runs: list, key: str) -> float:
    """Pearson r of ``key``'s opening against the driver's, each clip's mean removed, frames pooled."""
    from sketchsynth.evaluation.voices import centred_r

    return centred_r([(np.asarray(r["openings"][key], float), np.asarray(r["openings"]["driver"], float))
                      for r in runs])


def run_others(take: Take, drive: str, work: Path, tag: str, match_args: list, renderer: dict,
               listing: Path) -> dict:
    """Other people's clips drive the take's database (its moving head is the background); per clip and pooled."""
    runs = []
    for group, path in other_drivers(listing, (take.group,) if take.group else ()):
        stem = f"{take.name}_{tag}_others_{drive}_{group}_{path.stem}"
        out = work / stem
        args = ["match", str(path), "--db", str(take.db_dir(work)), "--out", str(out), "--force",
                *(["--drive", "audio"] if drive == "speech" else []), *match_args]
        code = TUNED.replace("OPTIONS", repr(renderer or {}))
        subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.DEVNULL)
        res = {"group": group, "clip": path.name,
               **figures(out, path, take.db_videos(work), take.db_dir(work), other=True)}
        runs.append(res)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()
                          if k not in ("openings", "frames_check", "joins")}), flush=True)
    pooled = {"tag": tag, "take": take.name, "drive": drive, "clips": len(runs),
              "frames": int(sum(r["frames"] for r in runs)),
              "r_retracked_pooled": within_clip_r(runs, "retracked"), "r_chosen_pooled": within_clip_r(runs, "chosen"),
              "implausible": float(np.average([r["implausible"] for r in runs], weights=[r["frames"] for r in runs])),
              **{f"{k}_median": float(np.median([r[k] for r in runs]))
                 for k in ("sharpness_ratio", "change_p99_ratio", "render_sharpness")},
              "change_p99_ratio_max": float(max(r["change_p99_ratio"] for r in runs))}
    (work / f"{take.name}_{tag}_others_{drive}.json").write_text(json.dumps({"pooled": pooled, "clips": runs}))
    return pooled


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["prepare", "run"])
    ap.add_argument("part", nargs="?", choices=["val", "test", "others"],
                    help="others: every clip of other people in --drivers drives the take's database")
    ap.add_argument("drive", nargs="?", choices=["face", "speech"], default="face")
    ap.add_argument("--work", type=Path, default=Path("bench_frames_motion"))
    ap.add_argument("--take", choices=sorted(TAKES), default="cnn2",
                    help="the moving-head take (speaker31, speaker31b|c|d, cnn2b|c|d, fadg0: held-out parts only, no "
                         "validation part)")
    ap.add_argument("--tag", default="run")
    ap.add_argument("--drivers", type=Path, default=ROOT / "benchmarks" / "voices" / "drivers.txt",
                    help="the clips of other people for 'others' (GROUP PATH lines)")
    ap.add_argument("--renderer", action="append", default=[], metavar="KEY=VALUE",
                    help="a composite renderer option to try (interp=lanczos, crossfade=1, follow=0.5, check=0)")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    extra = argv[cut + 1:]
    take = TAKES[a.take]
    if a.part is not None and a.part != "others" and a.part not in take.parts:
        sys.exit(f"the {a.take} take has no {a.part} part (parts: {', '.join(p for p in take.parts if p != 'db')})")
    if not take.source.is_file():
        sys.exit(f"{take.source} not found: set SKETCHSYNTH_SHARED_DATA")
    a.work.mkdir(parents=True, exist_ok=True)
    if a.what == "prepare":
        prepare(take, a.work)
        return
    opts = {}
    for kv in a.renderer:
        k, _, v = kv.partition("=")
        opts[k] = v if k in ("interp", "morph") else float(v) if "." in v else int(v)
    if a.part == "others":
        res = run_others(take, a.drive, a.work, a.tag, extra, opts, a.drivers)
    else:
        res = run(take, a.part, a.drive, a.work, a.tag, extra, opts)
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items() if k != "openings"}))


if __name__ == "__main__":
    main()
