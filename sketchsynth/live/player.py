"""Running a live engine against a clock: audio from a file (paced or not) or the microphone, frames shown at 25 fps.

The display clock: frame ``k`` is due at ``start + playout + k / fps``, where ``start`` is when the first sample
was captured (spoken) and ``playout`` the delay given to the sound too, so mouth and sound stay in sync. A frame
that is not ready by its due time is a drop: the previous frame stays on screen.
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from ..errors import InputError
from .engine import CHUNK_MS, SAMPLE_RATE


class Player:
    """Which decided frame each display tick shows, and the drops.

    Parameters
    ----------
    fps : float
    playout_ms : float
        Frame k is due at ``t0 + playout + k / fps``.
    """

    def __init__(self, fps: float = 25.0, playout_ms: float = 300.0):
        self.fps, self.playout_ms = float(fps), float(playout_ms)

    def start(self, t0: float) -> "Player":
        self.t0_ = t0
        self.ready_ = {}  # k -> (time ready, Frame)
        self.released_ = -1
        return self

    def release(self, k: int) -> None:
        """Drop the images of frames up to ``k`` (shown): a session keeps each frame's row and keypoints, not its
        pixels (60 s at 360x288 would hold 470 MB)."""
        for i in range(self.released_ + 1, k + 1):
            got = self.ready_.get(i)
            if got is not None:
                got[1].image = None
        self.released_ = max(self.released_, k)

    def due(self, k: int) -> float:
        return self.t0_ + self.playout_ms / 1000 + k / self.fps

    def push(self, frames, now: float):
        for f in frames:
            if f.index <= self.released_:  # decided after its tick: it will never be shown
                f.image = None
            self.ready_[int(f.index)] = (now, f)

    def finish(self, n_frames: int):
        """Shown frame per tick (a list of n_frames Frames or None before the first) and drop flags (n_frames,)."""
        shown, drop, last = [], np.zeros(n_frames, bool), None
        for i in range(n_frames):
            got = self.ready_.get(i)
            if got is not None and got[0] <= self.due(i):
                last = got[1]
            else:
                drop[i] = True
            shown.append(last)
        return shown, drop


def file_chunks(y: np.ndarray, realtime: bool, start: float, chunk_ms: float = CHUNK_MS):
    """A thread feeding ``y`` in chunks into a queue (None at the end), each when its last sample "was spoken"
    (``realtime``) or at once."""
    q: queue.Queue = queue.Queue(maxsize=0 if not realtime else 1000)
    n = int(round(chunk_ms * SAMPLE_RATE / 1000))

    def feed():
        for a in range(0, len(y), n):
            if realtime:
                dt = start + (a + n) / SAMPLE_RATE - time.perf_counter()
                if dt > 0:
                    time.sleep(dt)
            q.put(y[a:a + n])
        q.put(None)

    threading.Thread(target=feed, daemon=True).start()
    return q


class Microphone:
    """Microphone chunks into a queue (sounddevice / PortAudio), for ``seconds`` or until :meth:`stop`."""

    def __init__(self, device=None, seconds: float | None = None, chunk_ms: float = CHUNK_MS):
        self.device, self.seconds, self.chunk_ms = device, seconds, chunk_ms

    def start(self):
        from ..errors import DependencyError, install_hint

        try:
            import sounddevice as sd
        except (ImportError, OSError) as e:  # OSError: the package is there, PortAudio (libportaudio2) is not
            raise DependencyError(f"the microphone needs sounddevice and PortAudio ({e}): {install_hint('live')}; "
                                  "on Debian also: apt-get install libportaudio2") from None
        self.q_: queue.Queue = queue.Queue(maxsize=2000)
        self.samples_ = []
        n = int(round(self.chunk_ms * SAMPLE_RATE / 1000))

        def cb(indata, frames, t, status):
            c = indata[:, 0].copy()
            self.samples_.append(c)
            try:
                self.q_.put_nowait(c)
            except queue.Full:
                pass

        try:
            self.stream_ = sd.InputStream(samplerate=SAMPLE_RATE, channels=1, blocksize=n, dtype="float32",
                                          callback=cb, device=self.device)
            self.stream_.start()
        except Exception as e:  # PortAudio reports a missing device or rate as its own error types
            raise InputError(f"cannot open the microphone ({' '.join(str(e).split())}); plug one in, pick one with "
                             "--device, or use --input FILE", self.device) from None
        self.t0_ = time.perf_counter()
        if self.seconds is not None:
            threading.Timer(self.seconds, self.stop).start()
        return self.q_

    def stop(self):
        if getattr(self, "stream_", None) is not None:
            self.stream_.stop()
            self.stream_.close()
            self.stream_ = None
            self.q_.put(None)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.samples_) if self.samples_ else np.zeros(0, np.float32)


def run(engine, chunks: queue.Queue, start: float, player: Player, on_tick=None, push=None, drain: bool = True
        ) -> int:
    """Push chunks until None; record when frames are ready; call ``on_tick(frame)`` for the frame due now.

    ``push(chunk) -> frames``: default ``engine.push_audio`` (chunks of samples); a face engine's chunks are
    (image, time_s) pairs for ``engine.push_frame``. ``drain``: after the input ends, keep showing the frames
    still due (the last ``playout`` of a paced input), each at its time. Returns the number of samples (or video
    frames) pushed.
    """
    n = 0
    shown = -1
    while True:
        c = chunks.get()
        frames = engine.finish() if c is None else (engine.push_audio(c) if push is None else push(*c))
        now = time.perf_counter()
        player.push(frames, now)
        if c is not None:
            n += len(c) if push is None else 1
        if on_tick is not None:
            k = int(np.floor((now - start - player.playout_ms / 1000) * player.fps))
            while k >= 0 and k not in player.ready_:
                k -= 1
            if k > shown:
                shown = k
                on_tick(player.ready_[k][1])
                player.release(k)
        if c is None:
            if on_tick is not None and drain and player.ready_:
                for k in range(shown + 1, max(player.ready_) + 1):
                    dt = player.due(k) - time.perf_counter()
                    if dt > 0:
                        time.sleep(dt)
                    if k in player.ready_:
                        on_tick(player.ready_[k][1])
                        player.release(k)
            return n
