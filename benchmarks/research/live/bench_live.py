"""Measure the live engine on GRID s1 held-out sentences concatenated into one stream.

Split of the 100 held-out sentences (every 8th of the sorted 800, ``every:8:7``, never in db_grid):
sorted, even positions = VALIDATION (50), odd = TEST (50). A stream = N sentences, each trimmed/padded
to exactly its 75 frames (3.000 s) so frame k of the stream is frame k - 75 j of sentence j.

Modes
-----
offline  : chunks pushed as fast as possible; selected-frame opening r / width r vs the tracked truth,
           jumps/s, per-frame compute; plus the batch decoder on the same stream and model (reference).
realtime : chunks pushed at real time by a capture thread (like a sound card callback), engine in a
           worker thread, each decided frame rendered as a sketch and JPEG-encoded (the web path) or
           not; latency(k) = time frame k is ready - (stream start + k / fps) (the instant its audio
           sample was spoken); fps, drops against a fixed playout delay, CPU.

Run (examples):
  PYTHONPATH=/work/proto:. nice -n 10 python bench_live.py offline --split val --delay 120 --lag 4
  PYTHONPATH=/work/proto:. python bench_live.py realtime --split test --delay 120 --lag 2 --chunk-ms 20
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time

import numpy as np

VIDEO = "/work/shared/data/grid_s1/video"
HERE = os.path.dirname(os.path.abspath(__file__))


def split_names(split: str, n: int | None = None) -> list[str]:
    names = sorted(open(os.path.join(HERE, "heldout.txt")).read().split())
    names = names[0::2] if split == "val" else names[1::2]
    return names[:n] if n else names


def load_stream(names, fps=25.0):
    """Audio (16 kHz, each sentence exactly its frames' duration) and the truth keypoints (T, 70, 3) in pixels."""
    from sketchsynth.io.audio import load_audio
    from sketchsynth.sources.load import load_input

    ys, kps = [], []
    for n in names:
        tr = load_input(os.path.join(VIDEO, n))
        y = load_audio(os.path.join(VIDEO, n), 16000)
        want = int(round(len(tr.keypoints) / fps * 16000))
        y = np.pad(y, (0, max(0, want - len(y))))[:want]
        ys.append(y.astype(np.float32))
        kps.append(np.asarray(tr.keypoints, np.float64))
    return np.concatenate(ys), np.concatenate(kps)


def open_db(delay):
    from sketchsynth import FrameDatabase
    from sketchsynth.speech_model import SpeechModel

    db = FrameDatabase.load(os.path.join(HERE, "db_grid"))
    db.speech_model_ = SpeechModel.load(os.path.join(HERE, "models", f"speech_d{int(delay)}.npz"))
    return db


def scores(db, rows, truth_px):
    """Opening r, width r of the selected frames' own keypoints vs the truth, and jumps/s."""
    from sketchsynth.decode import usable_links
    from sketchsynth.speech.metrics import lip_width, mouth_opening, pearson

    ok = np.isfinite(truth_px).all(axis=(1, 2)) & (truth_px[:, :, 2] > 0).any(axis=1) & (rows >= 0)
    shown = db.keypoints_[rows].astype(np.float64)
    o, to = mouth_opening(shown[ok]), mouth_opening(truth_px[ok])
    w, tw = lip_width(shown[ok]), lip_width(truth_px[ok])
    succ, _ = usable_links(db)
    jumps = int((succ[rows[:-1]] != rows[1:]).sum())
    return {"opening_r": pearson(o, to), "width_r": pearson(w, tw), "jumps_per_s": jumps * 25.0 / len(rows),
            "frames_scored": int(ok.sum())}


def batch_rows(db, y):
    """The batch pipeline on the same stream (speech target + select with the speech default lambda 0.6)."""
    from sketchsynth.decode import ViterbiDecoder
    from sketchsynth.speech.features import LogMel
    from sketchsynth.speech_model import require_model
    from sketchsynth.stages import Audio, AudioFeatures, select, speech_target

    model = require_model(db)
    front = LogMel(**db.audio_.info["features"])
    mel = front.transform(y)
    n = int(np.floor(len(y) / 16000 * 25 + 1e-9))
    X = model.context(mel, front.times_, np.arange(n) / 25.0)
    feats = AudioFeatures(X, np.arange(n) / 25.0, 25.0, Audio(y, 16000, "", "stream"))
    pred = model.predict(X, feats.timings)
    tgt = speech_target(db, pred, feats)
    return select(db, tgt, ViterbiDecoder(smooth=0.6)).result.rows, feats.timings.get("lle")


def run_offline(db, y, lag, chunk, **eng):
    from engine import LiveEngine

    e = LiveEngine(db, lag=lag, **eng).start()
    T = int(np.floor(len(y) / 16000 * 25 + 1e-9))
    rows = np.full(T + 2, -1, np.int64)
    per_push = []
    t_all = time.perf_counter()
    for a in range(0, len(y), chunk):
        t0 = time.perf_counter()
        f = e.push(y[a:a + chunk])
        per_push.append((time.perf_counter() - t0, len(f.t), f.timings))
        rows[f.t] = f.rows
    f = e.finish()
    rows[f.t] = f.rows
    wall = time.perf_counter() - t_all
    keys = ("features_s", "target_s", "search_s", "decode_s")
    tot = {k: sum(p[2].get(k, 0.0) for p in per_push) for k in keys}
    return rows[:T], {"wall_s": wall, "ms_per_frame": 1000 * wall / T,
                      **{k.replace("_s", "_ms_per_frame"): 1000 * v / T for k, v in tot.items()},
                      "max_pending": e.dec_.max_pending_, "lle_blend_median": float(np.median(e.target_.blends_))}


def run_realtime(db, y, lag, chunk, render="jpeg", duration=None, **eng):
    """Real-time paced run. Returns per-frame ready times and summary."""
    import cv2

    from engine import LiveEngine
    from sketchsynth.render import render_sketch

    e = LiveEngine(db, lag=lag, **eng).start()
    # warm the kernels (numba, faiss) outside the measured run
    w = LiveEngine(db, lag=lag, **eng).start()
    w.push(y[:16000]); w.finish()
    sr = 16000
    if duration:
        y = y[:int(duration * sr)]
    T = int(np.floor(len(y) / sr * 25 + 1e-9))
    q: queue.Queue = queue.Queue(maxsize=1000)
    ready = np.full(T + 2, np.nan)
    rows = np.full(T + 2, -1, np.int64)
    sizes = []
    start = time.perf_counter() + 0.2
    c0 = time.process_time()

    def capture():
        for a in range(0, len(y), chunk):
            t_end = start + (a + chunk) / sr   # a chunk is delivered when its last sample has been spoken
            dt = t_end - time.perf_counter()
            if dt > 0:
                time.sleep(dt)
            q.put(y[a:a + chunk])
        q.put(None)

    th = threading.Thread(target=capture, daemon=True)
    th.start()
    kp = db.keypoints_
    while True:
        c = q.get()
        f = e.finish() if c is None else e.push(c)
        for t, r in zip(f.t, f.rows):
            if render != "none":
                img = render_sketch(kp[r], size=(360, 288))
                if render == "jpeg":
                    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
                    sizes.append(len(buf))
            if t < len(ready):
                ready[t] = time.perf_counter()
                rows[t] = r
        if c is None:
            break
    cpu = time.process_time() - c0
    wall = time.perf_counter() - start
    ready, rows = ready[:T], rows[:T]
    lat = (ready - (start + np.arange(T) / 25.0)) * 1000
    # the final frames are decided by finish() (end of input), not by the lag: leave out the last lag+1 s
    body = lat[:max(1, T - 25)]
    out = {"frames": T, "wall_s": wall, "cpu_s": cpu, "cpu_pct_of_one_core": 100 * cpu / wall,
           "latency_ms_median": float(np.median(body)), "latency_ms_p95": float(np.percentile(body, 95)),
           "latency_ms_max": float(body.max()),
           "emitted_fps": float((np.isfinite(body).sum()) / (np.nanmax(ready[:len(body)]) - start)),
           "jpeg_kb_mean": float(np.mean(sizes) / 1024) if sizes else None}
    for D in (250, 300, 350):
        out[f"dropped_pct_at_playout_{D}ms"] = float(100 * np.mean(~(body <= D)))
    return rows, out, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["offline", "realtime"])
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--sentences", type=int, default=20, help="sentences in the stream (20 = 60 s)")
    ap.add_argument("--delay", type=int, default=480, help="look-ahead of the speech model, ms")
    ap.add_argument("--lag", default="4", help="decoder lag, frames, or 'none'")
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--smooth", type=float, default=0.6)
    ap.add_argument("--render", default="jpeg", choices=["none", "sketch", "jpeg"])
    ap.add_argument("--batch", action="store_true", help="also run the batch decoder on the stream (offline)")
    ap.add_argument("--out", default=None, help="append the JSON result to this file")
    a = ap.parse_args()
    lag = None if a.lag == "none" else int(a.lag)
    db = open_db(a.delay)
    names = split_names(a.split, a.sentences)
    y, truth = load_stream(names)
    chunk = int(round(a.chunk_ms * 16))
    res = {"mode": a.mode, "split": a.split, "sentences": len(names), "delay_ms": a.delay, "lag": a.lag,
           "chunk_ms": a.chunk_ms, "smooth": a.smooth}
    if a.mode == "offline":
        rows, info = run_offline(db, y, lag, chunk, smooth=a.smooth)
        res.update(info)
        res.update(scores(db, rows, truth[:len(rows)]))
        if a.batch:
            b, lle = batch_rows(db, y)
            res["batch"] = scores(db, b, truth[:len(b)])
            res["batch"]["lle"] = lle
    else:
        rows, info, lat = run_realtime(db, y, lag, chunk, render=a.render, smooth=a.smooth)
        res["render"] = a.render
        res.update(info)
        res.update(scores(db, rows, truth[:len(rows)]))
    print(json.dumps(res))
    if a.out:
        with open(a.out, "a") as fh:
            fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
