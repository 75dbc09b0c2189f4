"""Live engine on a 60 s stream of held-out GRID s1 sentences, paced at real time, beside the batch pipeline.

Data (from the live research run): a database of 700 GRID s1 sentences, the 100 others held out (sorted; even
positions = validation, used to choose the defaults; odd = TEST), and speech models fitted with each look-ahead.
The stream = the first ``--sentences`` TEST sentences, each padded/trimmed to its 75 frames, concatenated.

Prints: end-to-end latency (frame k ready - the instant its audio sample was captured, k / fps after the start;
median, p95, max; the last second, decided by the end of the input, left out), emitted fps, frames not ready by
their time at playout delays 250/300/350 ms, CPU (% of one core, the engine's thread + the capture thread), the
selected frames' opening / width r against the tracked truth, and the same for the batch pipeline on the same
stream and model; then real-frame output speed (JPEG frame cache -> image -> JPEG; the recorded frames themselves
and the composite) at 360x288 and 512x512.

With ``--face`` the same sentences' videos drive instead (:class:`sketchsynth.live.face.FaceEngine`): a capture
thread decodes them one after the other and hands each frame over at its time (as a webcam would), the engine tracks,
matches and draws it; latency = frame k ready - the instant video frame k was captured. Prints the per-frame stage
times, latency, emitted fps, drops, CPU, and the selected frames' opening / width r against the driving face's own
tracked mouth, beside the batch match of the same tracked keypoints (the video's sound plays no part).

Run:
  python benchmarks/bench_live.py --data /work/research/live [--sentences 20] [--lookahead-ms 120] [--lag-ms 80]
      [--closure-weight 0]
  python benchmarks/bench_live.py --data /work/research/live --face [--sentences 20] [--lag-ms 80]
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time

import numpy as np

VIDEO = "/work/shared/data/grid_s1/video"


def load_stream(names):
    from sketchsynth.io.audio import load_audio
    from sketchsynth.sources.load import load_input

    ys, kps = [], []
    for n in names:
        tr = load_input(os.path.join(VIDEO, n))
        y = load_audio(os.path.join(VIDEO, n), 16000)
        want = int(round(len(tr.keypoints) / 25.0 * 16000))
        ys.append(np.pad(y, (0, max(0, want - len(y))))[:want].astype(np.float32))
        kps.append(np.asarray(tr.keypoints, np.float64))
    return np.concatenate(ys), np.concatenate(kps)


def scores(db, rows, truth):
    from sketchsynth.database.links import usable_links
    from sketchsynth.evaluation.metrics import lip_width, mouth_opening, pearson

    n = min(len(rows), len(truth))
    rows, truth = rows[:n], truth[:n]
    ok = np.isfinite(truth).all(axis=(1, 2)) & (truth[:, :, 2] > 0).any(axis=1) & (rows >= 0)
    shown = db.keypoints_[rows].astype(np.float64)
    succ, _ = usable_links(db)
    return {"opening_r": pearson(mouth_opening(shown[ok]), mouth_opening(truth[ok])),
            "width_r": pearson(lip_width(shown[ok]), lip_width(truth[ok])),
            "jumps_per_s": float((succ[rows[:-1]] != rows[1:]).sum() * 25.0 / n), "frames_scored": int(ok.sum())}


def batch_rows(db, y):
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.targets.speech.inputs import Audio

    t0 = time.perf_counter()
    feats = SpeechFeatures().fit(db).transform(Audio(y, 16000, "", "stream"))
    rows = select(db, SpeechTarget().fit(db).transform(feats), ViterbiDecoder(smooth=0.6)).result.rows
    return rows, time.perf_counter() - t0


def realtime(engine, y, chunk):
    """Chunks delivered by a capture thread when their last sample has been spoken; each frame JPEG-encoded."""
    import cv2

    T = int(np.floor(len(y) / 16000 * 25 + 1e-9))
    q: queue.Queue = queue.Queue()
    ready, rows = np.full(T + 2, np.nan), np.full(T + 2, -1, np.int64)
    start = time.perf_counter() + 0.2
    c0 = time.process_time()

    def capture():
        for a in range(0, len(y), chunk):
            dt = start + (a + chunk) / 16000 - time.perf_counter()
            if dt > 0:
                time.sleep(dt)
            q.put(y[a:a + chunk])
        q.put(None)

    threading.Thread(target=capture, daemon=True).start()
    while True:
        c = q.get()
        frames = engine.finish() if c is None else engine.push_audio(c)
        for f in frames:
            cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if f.index < len(ready):
                ready[f.index], rows[f.index] = time.perf_counter(), f.row
        if c is None:
            break
    cpu, wall = time.process_time() - c0, time.perf_counter() - start
    ready, rows = ready[:T], rows[:T]
    body = ((ready - (start + np.arange(T) / 25.0)) * 1000)[:T - 25]
    out = {"frames": T, "latency_ms_median": float(np.median(body)), "latency_ms_p95": float(np.percentile(body, 95)),
           "latency_ms_max": float(body.max()),
           "emitted_fps": float(len(body) / (np.nanmax(ready[:len(body)]) - start)),
           "cpu_pct_of_one_core": 100 * cpu / wall}
    for d in (250, 300, 350):
        out[f"dropped_pct_at_{d}ms"] = float(100 * np.mean(~(body <= d)))
    return rows, out


def face_batch_rows(db, truth):
    """``sketchsynth match``'s selection for the stream's tracked keypoints (tracked and filtered per sentence)."""
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.targets.face import keypoint_target

    t0 = time.perf_counter()
    rows = select(db, keypoint_target(db, truth.astype(np.float32), fps=25.0), ViterbiDecoder()).result.rows
    return rows, time.perf_counter() - t0


def face_realtime(engine, names):
    """Video frames handed over by a capture thread at their time (sentences back to back); each decided frame
    drawn as a sketch and JPEG-encoded."""
    import cv2

    from sketchsynth.io.video import iter_frames

    q: queue.Queue = queue.Queue()
    start = time.perf_counter() + 0.5
    c0 = time.process_time()

    def capture():
        k = 0
        for n in names:
            for _, _, img in iter_frames(os.path.join(VIDEO, n)):
                dt = start + k / 25.0 - time.perf_counter()
                if dt > 0:
                    time.sleep(dt)
                q.put((img, time.perf_counter()))
                k += 1
        q.put(None)

    threading.Thread(target=capture, daemon=True).start()
    ready, rows, captured, stages = {}, {}, {}, []
    k = 0
    while True:
        item = q.get()
        if item is None:
            frames = engine.finish()
        else:
            captured[k] = item[1]
            frames = engine.push_frame(item[0], k / 25.0)
            stages.append(dict(engine.timings_))
            k += 1
        for f in frames:
            cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            ready[f.index], rows[f.index] = time.perf_counter(), f.row
        if item is None:
            break
    cpu, wall = time.process_time() - c0, time.perf_counter() - start
    T = k
    body = np.array([1000 * (ready[i] - (start + i / 25.0)) for i in range(T - 3)])
    grab = np.array([1000 * (captured[i] - (start + i / 25.0)) for i in range(T)])
    out = {"frames": T, "latency_ms_median": float(np.median(body)), "latency_ms_p95": float(np.percentile(body, 95)),
           "latency_ms_max": float(body.max()), "handover_ms_median": float(np.median(grab)),
           "emitted_fps": float(len(body) / (max(ready[i] for i in range(len(body))) - start)),
           "cpu_pct_of_one_core": 100 * cpu / wall}
    for d in (100, 150, 200):
        out[f"dropped_pct_at_{d}ms"] = float(100 * np.mean(~(body <= d)))
    per = {name: 1000 * float(np.median([s.get(name, 0.0) for s in stages]))
           for name in ("track_s", "target_s", "search_s", "decode_s", "frames_s")}
    per["p95_total"] = 1000 * float(np.percentile([sum(s.values()) for s in stages], 95))
    return np.array([rows[i] for i in range(T)]), out, per


def face_main(a, names):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.live.face import FaceEngine

    _, truth = load_stream(names)
    db = FrameDatabase.load(os.path.join(a.data, "db_grid"))
    print(f"face stream: {len(names)} TEST sentences' videos, {len(truth) / 25:.1f} s; database {db.n_usable_} usable "
          f"frames; lag {a.lag_ms:g} ms")
    print("load:", os.getloadavg())
    b_rows, b_s = face_batch_rows(db, truth)
    print(f"batch match of the tracked keypoints (lambda 0.5): {scores(db, b_rows, truth)}, "
          f"{len(truth) / 25 / b_s:.0f}x real time (tracking not included)")
    engine = FaceEngine(db, input_fps=25.0, lag_ms=a.lag_ms).start()
    rows, rt, per = face_realtime(engine, names)
    print("live face, real time:", {k: round(v, 3) for k, v in rt.items()})
    print("per frame, median ms:", {k: round(v, 2) for k, v in per.items()})
    print("live selection:", scores(db, rows, truth), f"same rows as batch: {np.mean(rows == b_rows[:len(rows)]):.3f}")
    print("load:", os.getloadavg())


def frame_output(db, rows, size, render="frames"):
    """Real frames: the selected rows from a JPEG frame cache (``composite``: their mouths pasted into the
    background take), resized, re-encoded as JPEG (what a page gets); frames/s on one core."""
    import cv2

    from sketchsynth.live.frames import FrameSource

    src = FrameSource(db, render, size, rows=rows).fit()
    kp = np.zeros((70, 3), np.float32)
    t0 = time.perf_counter()
    for k, r in enumerate(rows):
        img = src.image(int(r), kp, k, previous=int(rows[k - 1]) if k else -1)
        cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return len(rows) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/research/live", help="db_grid/, models/, heldout.txt")
    ap.add_argument("--sentences", type=int, default=20)
    ap.add_argument("--lookahead-ms", type=float, default=120.0)
    ap.add_argument("--lag-ms", type=float, default=80.0)
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--closure-weight", type=float, default=None,
                    help="the live engine's closure at b/p/m (default: the package's; 0 = off)")
    ap.add_argument("--face", action="store_true", help="the sentences' videos drive instead of their sound")
    ap.add_argument("--frames", default="sketch", choices=["sketch", "composite", "frames"],
                    help="what the live run renders per frame (real frames read the database's videos first)")
    ap.add_argument("--pose-weight", type=float, default=None,
                    help="--frames composite: the pose term's weight (default: the package's; 0 = off)")
    a = ap.parse_args()
    if a.face:
        return face_main(a, sorted(open(os.path.join(a.data, "heldout.txt")).read().split())[1::2][:a.sentences])
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.targets.speech.model_file import load_model
    from sketchsynth.targets.speech.model_store import use_model

    names = sorted(open(os.path.join(a.data, "heldout.txt")).read().split())[1::2][:a.sentences]
    y, truth = load_stream(names)
    db = FrameDatabase.load(os.path.join(a.data, "db_grid"))
    use_model(db, load_model(os.path.join(a.data, "models", f"speech_d{int(a.lookahead_ms)}.npz")))
    print(f"stream: {len(names)} TEST sentences, {len(y) / 16000:.1f} s; database {db.n_usable_} usable frames; "
          f"look-ahead {a.lookahead_ms:g} ms, lag {a.lag_ms:g} ms, chunks {a.chunk_ms:g} ms")
    print("load:", os.getloadavg())
    b_rows, b_s = batch_rows(db, y)
    print(f"batch (whole input, lambda 0.6): {scores(db, b_rows, truth)}, {len(y) / 16000 / b_s:.0f}x real time")
    engine = LiveEngine(db, lookahead_ms=a.lookahead_ms, lag_ms=a.lag_ms, render=a.frames, pose_weight=a.pose_weight,
                        closure_weight=a.closure_weight)
    t0 = time.perf_counter()
    engine.start()
    print(f"engine start ({a.frames}): {time.perf_counter() - t0:.1f} s")
    engine.push_audio(y[:16000]), engine.finish()  # warm-up outside the measured run
    engine.start(shared=engine)
    rows, rt = realtime(engine, y, int(a.chunk_ms * 16))
    print("live, real time:", {k: round(v, 3) for k, v in rt.items()})
    print("live selection:", scores(db, rows, truth))
    for render in ("frames", "composite"):
        for size in ((360, 288), (512, 512)):
            print(f"real frames ({render}) {size[0]}x{size[1]}: {frame_output(db, rows, size, render):.0f} frames/s "
                  "(one core)")
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
