"""``sketchsynth live`` prototype (target: ``sketchsynth/cli/live.py`` + ``sketchsynth/live/player.py``).

Speech in (microphone via sounddevice, or ``--input speech.wav --realtime`` paced at real time), the
engine in a worker thread, a 25 fps display clock: display tick i (at start + D + i / fps) shows the newest
frame k <= i decided by then (a frame that is not ready repeats the previous one: a drop). What was shown is
written as ``sketch.mp4`` with the sound delayed by the playout delay D, so mouth and sound stay in sync.

Run:
  PYTHONPATH=/work/proto:. python live_cli.py --db db_grid --model models/speech_d120.npz --lag 2 \
      --input some.wav --realtime --out out_live/
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time

import numpy as np


class Player:
    """The display clock: which decided frame each 25 fps tick shows, and the drops.

    Parameters
    ----------
    fps : float
    playout_ms : float
        D: frame k is due at ``start + D + k / fps`` (its audio is played D late too).
    """

    def __init__(self, fps=25.0, playout_ms=300.0):
        self.fps, self.playout_ms = fps, playout_ms

    def start(self, t0: float) -> "Player":
        self.t0_ = t0
        self.ready_ = {}        # k -> (time ready, row)
        return self

    def push(self, ks, rows, now):
        for k, r in zip(ks, rows):
            self.ready_[int(k)] = (now, int(r))

    def finish(self, n_frames):
        """Shown row per tick (n_frames,), and per-tick drop flags (the due frame was not ready in time)."""
        D = self.playout_ms / 1000
        shown = np.full(n_frames, -1, np.int64)
        drop = np.zeros(n_frames, bool)
        last = -1
        for i in range(n_frames):
            due = self.t0_ + D + i / self.fps
            got = self.ready_.get(i)
            if got is not None and got[0] <= due:
                last = got[1]
            else:
                drop[i] = True
            shown[i] = last
        return shown, drop


def run(db, y, sr, lag, realtime=True, chunk_ms=20, playout_ms=300.0, device=None):
    from engine import LiveEngine

    e = LiveEngine(db, lag=lag).start()
    q: queue.Queue = queue.Queue(maxsize=500)
    n = int(chunk_ms * sr / 1000)
    start = time.perf_counter() + 0.1
    if device is not None:  # microphone
        import sounddevice as sd

        def cb(indata, frames, t, status):
            q.put_nowait(indata[:, 0].copy())
        stream = sd.InputStream(samplerate=sr, channels=1, blocksize=n, dtype="float32", callback=cb, device=device)
        stream.start()
    else:
        def feeder():
            for a in range(0, len(y), n):
                if realtime:
                    dt = start + (a + n) / sr - time.perf_counter()
                    if dt > 0:
                        time.sleep(dt)
                q.put(y[a:a + n])
            q.put(None)
        threading.Thread(target=feeder, daemon=True).start()
    player = Player(e.fps, playout_ms).start(start)
    while True:
        c = q.get()
        f = e.finish() if c is None else e.push(c)
        player.push(f.t, f.rows, time.perf_counter())
        if c is None:
            break
    T = int(np.floor(len(y) / sr * e.fps + 1e-9))
    return player.finish(T), player


def write_outputs(db, out, shown, y, sr, fps, playout_ms, size=(360, 288)):
    """sketch.mp4 of the shown frames (blank until the first), sound delayed by the playout delay."""
    import av

    from sketchsynth.render import render_sketch

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "sketch.mp4")
    lead = int(round(playout_ms / 1000 * fps))         # the first D of the take: nothing decided yet
    with av.open(path, "w") as c:
        vs = c.add_stream("libx264", rate=int(fps))
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        aus = c.add_stream("aac", rate=sr)
        blank = np.full((size[1], size[0], 3), 255, np.uint8)
        for i in range(lead + len(shown)):
            r = shown[i - lead] if i >= lead else -1
            img = blank if r < 0 else render_sketch(db.keypoints_[r], size=size)
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        delayed = np.concatenate([np.zeros(int(round(playout_ms / 1000 * sr)), np.float32), y]).astype(np.float32)
        for a in range(0, len(delayed), 1024):
            fr = av.AudioFrame.from_ndarray(delayed[None, a:a + 1024], format="flt", layout="mono")
            fr.sample_rate = sr
            for p in aus.encode(fr):
                c.mux(p)
        for p in aus.encode():
            c.mux(p)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="db_grid")
    ap.add_argument("--model", default="models/speech_d120.npz")
    ap.add_argument("--input", help="a sound file; without it, the microphone")
    ap.add_argument("--realtime", action="store_true", help="pace --input at real time")
    ap.add_argument("--seconds", type=float, default=10.0, help="microphone: record this long")
    ap.add_argument("--lag", type=int, default=2)
    ap.add_argument("--playout-ms", type=float, default=300.0)
    ap.add_argument("--out", default="out_live")
    a = ap.parse_args(argv)
    from sketchsynth import FrameDatabase
    from sketchsynth.io.audio import load_audio
    from sketchsynth.speech_model import SpeechModel

    db = FrameDatabase.load(a.db)
    db.speech_model_ = SpeechModel.load(a.model)
    if a.input:
        y = load_audio(a.input, 16000)
        (shown, drop), _ = run(db, y, 16000, a.lag, a.realtime, playout_ms=a.playout_ms)
    else:
        raise SystemExit("microphone capture: needs sounddevice + libportaudio2 and an input device (not here)")
    path = write_outputs(db, a.out, shown, y, 16000, 25.0, a.playout_ms)
    info = {"frames": len(shown), "dropped": int(drop.sum()), "dropped_pct": float(100 * drop.mean()),
            "playout_ms": a.playout_ms, "video": path}
    with open(os.path.join(a.out, "live.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
