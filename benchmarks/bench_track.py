"""Video performance: face tracking per core, jitter before/after the filter, and `match input.mp4` end to end.

Everything is made from the real clips in ../shared/data and measured in this run:

1. **Tracking frames/s per core at 640x480** on talking-head video (speaker31 cropped to 4:3 and the fadg0
   sentences, both scaled to 640x480), one process, single-threaded decoding: the detector in every frame
   (``detect_every=1``) against following the face between detections (default ``detect_every=5``), each
   with and without the decoding, and decoding alone.
2. **Jitter**: mean magnitude of the second difference of the mouth points (48-67), in % of the
   inter-ocular distance, on the raw tracker output and after the default temporal filter, per clip.
3. **`sketchsynth match input.mp4` end to end** on 60 s of 25 fps 640x480 video with audio (real clips
   concatenated), in a fresh process with an empty track cache: decode, track, match (default smooth
   decoder), render and encode sketch.mp4 and frames.mp4. Reported as a ratio of the video's duration
   (target <= 2x on a 2-core machine). The database (real GRID, VoxCeleb2, HDTF clips, with their video) is
   built first and its build time reported separately.

Run:  python benchmarks/bench_track.py [--workdir DIR] [--skip-e2e] [--json FILE]
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
SIZE = (640, 480)

JITTER_CLIPS = ["fadg0/video/sa1.mp4", "fadg0/video/sa2.mp4", "fadg0/video/si1279.mp4", "fadg0/video/si1909.mp4",
                "fadg0/video/sx19.mp4", "fadg0/video/sx199.mp4", "speaker31/31.mp4"] + \
               [f"videos/grid/{n}.mpg" for n in ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza",
                                                 "pwij3p", "sbia1a")] + \
               [f"videos/voxceleb2/{n}.mp4" for n in ("00002", "00010", "00015", "00086", "00473", "620900105")] + \
               ["videos/hdtf/WDA_AlexandriaOcasioCortez_000.mp4"]

E2E_PARTS = ["speaker31/31.mp4", "fadg0/video/sx199.mp4", "fadg0/video/sx19.mp4", "fadg0/video/sa1.mp4",
             "fadg0/video/sa2.mp4", "fadg0/video/si1279.mp4", "fadg0/video/si1909.mp4",
             "videos/hdtf/WDA_AlexandriaOcasioCortez_000.mp4", "videos/voxceleb2/00015.mp4"]
E2E_DB = [f"videos/grid/{n}.mpg" for n in ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p",
                                          "sbia1a")] + \
         [f"videos/voxceleb2/{n}.mp4" for n in ("00002", "00010", "00086", "00473", "620900105")] + \
         ["videos/retalking/2.mp4", "videos/retalking/3.mp4"]


def to_640x480(img: np.ndarray) -> np.ndarray:
    """Centre-crop to 4:3 and scale to 640x480 (BGR)."""
    import cv2

    h, w = img.shape[:2]
    if w * 3 > h * 4:
        cw = h * 4 // 3
        img = img[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = w * 3 // 4
        img = img[(h - ch) // 2:(h - ch) // 2 + ch]
    return cv2.resize(img, SIZE, interpolation=cv2.INTER_AREA)


def concat_audio(parts: list[Path], seconds: list[float], path: Path, rate: int = 44100):
    """One WAV of each part's audio (silence where a part has none), each cut or padded to its video length."""
    import av

    chunks = []
    for p, sec in zip(parts, seconds):
        n = int(round(sec * rate))
        buf = np.zeros((2, n), np.float32)
        with av.open(str(p)) as c:
            if c.streams.audio:
                res = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
                pos = 0
                for fr in list(c.decode(c.streams.audio[0])) + [None]:
                    for o in res.resample(fr):
                        a = o.to_ndarray()[:, : max(0, n - pos)]
                        buf[:, pos:pos + a.shape[1]] = a
                        pos += a.shape[1]
        chunks.append(buf)
    audio = np.concatenate(chunks, axis=1)
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=rate)
        s.layout = "stereo"
        for i in range(0, audio.shape[1], 4096):
            f = av.AudioFrame.from_ndarray((np.clip(audio[:, i:i + 4096], -1, 1) * 32767).astype(np.int16)
                                           .T.reshape(1, -1), format="s16", layout="stereo")
            f.sample_rate = rate
            f.pts = i
            for pk in s.encode(f):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)


def make_640x480(parts: list[str], path: Path, max_seconds: float | None = None, audio: bool = True) -> dict:
    """Concatenate real clips, each cropped and scaled to 640x480, into one 25 fps H.264 (+ AAC) file."""
    from sketchsynth.io.video import iter_frames, probe
    from sketchsynth.io.video_write import write_video

    srcs = [SHARED / p for p in parts]
    limit = None if max_seconds is None else int(round(max_seconds * 25))
    seconds, frames = [], []
    for s in srcs:
        n = probe(s).n_frames
        if limit is not None:
            n = min(n, limit - sum(frames))
        frames.append(n)
        seconds.append(n / 25)
        if limit is not None and sum(frames) >= limit:
            break
    wav = path.with_suffix(".wav")
    if audio:
        concat_audio(srcs[:len(frames)], seconds, wav)

    def gen():
        for s, n in zip(srcs, frames):
            for _, _, img in iter_frames(s, stop=n):
                yield to_640x480(img)

    rep = write_video(path, gen(), 25.0, audio=wav if audio else None, crf=20)
    if audio:
        wav.unlink()
    return rep


def tracking_speed(path: Path) -> dict:
    """Frames/s of one process, single-threaded decoding: decoding alone and tracking in both modes."""
    from sketchsynth.io.video import iter_frames, probe
    from sketchsynth.sources.tracker import FaceTracker

    n = probe(path).n_frames
    t0 = time.perf_counter()
    for _ in iter_frames(path, fmt="gray", threads=1):
        pass
    dec = time.perf_counter() - t0
    out = {"frames": n, "decode_fps": n / dec}
    for name, every in (("detect_every_frame", 1), ("following_detect_every_5", 5)):
        tr = FaceTracker(detect_every=every, cache=False)
        tr._load()  # the model load (once per process) is not per-frame work
        t0 = time.perf_counter()
        tv = tr.track(path, threads=1)
        dt = time.perf_counter() - t0
        out[name] = {"fps_with_decoding": n / dt, "fps_tracker_only": n / max(dt - dec, 1e-9),
                     "ms_per_frame": 1e3 * dt / n, "frames_with_face": int((tv.n_faces > 0).sum()),
                     "detector_runs": int(tv.detected.sum())}
    return out


def jitter_table() -> list[dict]:
    from sketchsynth.layout import MOUTH, inter_ocular
    from sketchsynth.sources.tracker import FaceTracker
    from sketchsynth.sources.tracking import DEFAULT_FILTER, smooth_track

    def jitter(kp):
        ok = (kp[..., 2] > 0).all(axis=1)
        ok3 = ok[2:] & ok[1:-1] & ok[:-2]
        xy = kp[:, MOUTH, :2].astype(np.float64)
        d2 = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1).mean(axis=1)
        return float((d2[ok3] / inter_ocular(kp)[1:-1][ok3]).mean() * 100)

    rows = []
    tr = FaceTracker()  # default parameters, cached: the tracks build-db and match use
    for rel in JITTER_CLIPS:
        p = SHARED / rel
        if not p.is_file():
            continue
        tv = tr.track(p)
        fps = tv.info["video"]["fps"]
        raw = tv.keypoints
        filt = smooth_track(raw, fps, DEFAULT_FILTER)
        face = (raw[..., 2] > 0).all(axis=1)
        shift = np.linalg.norm(filt[face, :, :2] - raw[face, :, :2], axis=-1) / inter_ocular(raw[face])[:, None]
        rows.append({"clip": rel, "frames": len(raw), "frames_with_face": int(face.sum()),
                     "raw_pct_iod": jitter(raw), "filtered_pct_iod": jitter(filt),
                     "mean_shift_pct_iod": float(shift.mean() * 100)})
    return rows


def end_to_end(work: Path) -> dict:
    from sketchsynth.io.video import probe

    inp = work / "input60.mp4"
    if not inp.exists():
        make_640x480(E2E_PARTS, inp, max_seconds=60.0)
    info = probe(inp)
    recs = work / "db_recordings"
    if not recs.exists():
        recs.mkdir()
        for rel in E2E_DB:
            shutil.copy(SHARED / rel, recs / Path(rel).name)
    env = {**os.environ, "SKETCHSYNTH_CACHE": str(work / "cache-db")}
    cmd = [sys.executable, "-m", "sketchsynth.cli"]
    t0 = time.perf_counter()
    subprocess.run(cmd + ["build-db", str(recs), "--db", str(work / "db"), "--force"], check=True, env=env,
                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    build_s = time.perf_counter() - t0
    shutil.rmtree(work / "cache-input", ignore_errors=True)  # the input is tracked from scratch
    env["SKETCHSYNTH_CACHE"] = str(work / "cache-input")
    t0 = time.perf_counter()
    r = subprocess.run(cmd + ["match", str(inp), "--db", str(work / "db"), "--out", str(work / "out"), "--force"],
                       check=True, env=env, capture_output=True, text=True)
    match_s = time.perf_counter() - t0
    written = json.loads((work / "out" / "videos.json").read_text())["written"]
    return {"input_seconds": info.duration, "input_frames": info.n_frames, "input_size": [info.width, info.height],
            "db_build_s": build_s, "db_frames": int(json.loads((work / "db" / "manifest.json").read_text())
                                                   ["counts"]["frames"]),
            "match_s": match_s, "ratio_to_duration": match_s / info.duration,
            "videos": {k: {"frames": v["frames"], "width": v["width"], "height": v["height"],
                           "audio_seconds": round(v["audio_seconds"], 3)} for k, v in written.items()},
            "match_output": r.stdout.strip().splitlines()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sketchsynth-bench-video"))
    ap.add_argument("--skip-e2e", action="store_true", help="only tracking speed and jitter")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit(f"benchmark data needs {SHARED} (../shared/data beside the checkout)")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SKETCHSYNTH_CACHE", str(work / "cache"))
    report = {}

    print("1. Tracking at 640x480, one core (single-threaded decoding)")
    for name, parts in (("speaker31", ["speaker31/31.mp4"]),
                        ("fadg0", ["fadg0/video/sa1.mp4", "fadg0/video/sa2.mp4", "fadg0/video/si1909.mp4"])):
        clip = work / f"track640_{name}.mp4"
        if not clip.exists():
            make_640x480(parts, clip, max_seconds=12.0, audio=False)
        r = tracking_speed(clip)
        report[f"tracking_{name}"] = r
        print(f"   {name} ({r['frames']} frames): decoding alone {r['decode_fps']:.0f} frames/s")
        for mode in ("detect_every_frame", "following_detect_every_5"):
            m = r[mode]
            print(f"   {mode:26s} {m['fps_with_decoding']:6.0f} frames/s with decoding "
                  f"({m['ms_per_frame']:.2f} ms/frame), {m['fps_tracker_only']:6.0f} tracker only; "
                  f"face in {m['frames_with_face']}/{r['frames']}, detector ran {m['detector_runs']} times")

    print("2. Jitter of the mouth points (mean |2nd difference|, % inter-ocular distance), raw -> filtered")
    rows = jitter_table()
    report["jitter"] = rows
    for r in rows:
        print(f"   {r['clip']:48s} {r['frames']:4d} frames  {r['raw_pct_iod']:5.2f} -> {r['filtered_pct_iod']:5.2f} "
              f"({r['filtered_pct_iod'] / r['raw_pct_iod']:.2f}x; filter moves points "
              f"{r['mean_shift_pct_iod']:.2f}% IOD)")
    raw = np.mean([r["raw_pct_iod"] for r in rows])
    filt = np.mean([r["filtered_pct_iod"] for r in rows])
    print(f"   mean over {len(rows)} clips: {raw:.2f} -> {filt:.2f}")

    if not args.skip_e2e:
        print("3. sketchsynth match input.mp4, 60 s of 640x480 25 fps video, fresh process, empty track cache")
        e = end_to_end(work)
        report["end_to_end"] = e
        print(f"   database: {e['db_frames']} frames from {len(E2E_DB)} real clips, built in {e['db_build_s']:.1f} s")
        print(f"   match: {e['match_s']:.1f} s for {e['input_seconds']:.1f} s of video = "
              f"{e['ratio_to_duration']:.2f}x its duration (target <= 2x)")
        for k, v in e["videos"].items():
            print(f"   {k}: {v['frames']} frames {v['width']}x{v['height']}, audio {v['audio_seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
