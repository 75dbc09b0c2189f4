"""Local web app prototype (target for ``sketchsynth/web/``): microphone in the browser -> the speaker's face.

Transport: one WebSocket per live session (aiohttp). The page captures 16 kHz mono PCM in an
AudioWorklet and sends Int16 chunks (20 ms); the server runs a :class:`engine.LiveEngine` per
session and sends every decided frame back, either as keypoints (JSON, drawn on a canvas by the
page: ~1 KB a frame, no server rendering) or as a JPEG sketch (binary: 4-byte frame index + JPEG).

Protocol (client -> server): text ``{"type": "start", "sr": 16000, "format": "kp"|"jpeg"}`` first,
then binary Int16LE PCM chunks (even length, <= MAX_CHUNK_BYTES), optionally text ``{"type": "stop"}``.
Server -> client: ``{"type": "ready", ...}``, then per frame ``{"type": "frame", "t": k, "row": r,
"pts": [...]}`` (kp) or binary (jpeg), and ``{"type": "error", "message": ...}`` before closing.

Safety: 127.0.0.1 by default; any other address requires the token printed at start (``?token=``).
Bounded everything: message size (aiohttp ``max_msg_size``), sessions (live engines) and connections,
per-session input queue (a client sending faster than real time, or a server that cannot keep up,
is closed), outgoing buffer (frames dropped while the client's socket buffer is full; a client that
never reads is closed). Engines share the database, model and FAISS indexes (read-only).

Run: PYTHONPATH=/work/proto:. python server.py --db db_grid --model models/speech_d120.npz --lag 2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from aiohttp import WSMsgType, web

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_CHUNK_BYTES = 16000        # 0.5 s of 16 kHz Int16 per message at most
MAX_LIVE = 3                   # live engines at once (2 cores)
MAX_CONNECTIONS = 64
AHEAD_S = 2.0                  # a client may be at most this far ahead of real time
QUEUE_CHUNKS = 100             # pending input chunks per session (2 s of 20 ms chunks)
SEND_BUFFER_LIMIT = 512 * 1024 # bytes waiting in the socket's buffer before frames are dropped
MAX_DROPPED_IN_A_ROW = 75      # 3 s of frames dropped in a row: the client does not read; close


class App:
    """Shared state: the database, a template engine whose read-only parts new sessions reuse."""

    def __init__(self, db_path, model_path=None, lag=2, token=None, workers=2):
        from sketchsynth import FrameDatabase
        from sketchsynth.layout import CHAINS
        from sketchsynth.speech_model import SpeechModel

        from engine import LiveEngine

        self.db = FrameDatabase.load(db_path)
        if model_path:
            self.db.speech_model_ = SpeechModel.load(model_path)
        self.lag = lag
        self.token = token
        self.template = LiveEngine(self.db, lag=lag).start()
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.live = 0
        self.connections = 0
        self.chains = [[int(i) for i in idx] + ([int(idx[0])] if closed else []) for idx, closed in CHAINS]
        self.stats = {"sessions": 0, "closed_slow": 0, "closed_flood": 0, "closed_bad": 0}

    def new_engine(self):
        from engine import LiveEngine

        return LiveEngine(self.db, lag=self.lag).start(shared=self.template)


@web.middleware
async def token_mw(request, handler):
    app: App = request.app["state"]
    if app.token is not None and request.query.get("token") != app.token:
        return web.Response(status=403, text="token required (printed when the server started)")
    return await handler(request)


async def index(request):
    return web.FileResponse(os.path.join(HERE, "static", "index.html"))


async def worklet(request):
    return web.FileResponse(os.path.join(HERE, "static", "capture-worklet.js"),
                            headers={"Content-Type": "application/javascript"})


def _render_jpeg(db, row):
    import cv2

    from sketchsynth.render import render_sketch

    img = render_sketch(db.keypoints_[row], size=(360, 288))
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


async def live(request):
    app: App = request.app["state"]
    if app.connections >= MAX_CONNECTIONS:
        return web.Response(status=503, text="too many connections")
    ws = web.WebSocketResponse(max_msg_size=MAX_CHUNK_BYTES + 1024, heartbeat=10.0, compress=False)
    await ws.prepare(request)
    app.connections += 1
    engine = None
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    worker = None
    try:
        msg = await asyncio.wait_for(ws.receive(), timeout=10)
        try:
            hello = json.loads(msg.data) if msg.type == WSMsgType.TEXT else None
        except ValueError:
            hello = None
        if not isinstance(hello, dict) or hello.get("type") != "start":
            app.stats["closed_bad"] += 1
            await ws.send_json({"type": "error", "message": "first message must be {\"type\": \"start\", ...}"})
            return ws
        if hello.get("sr") != 16000:
            app.stats["closed_bad"] += 1
            await ws.send_json({"type": "error", "message": f"sample rate must be 16000, got {hello.get('sr')!r}"})
            return ws
        fmt = hello.get("format", "kp")
        if fmt not in ("kp", "jpeg"):
            await ws.send_json({"type": "error", "message": "format must be kp or jpeg"})
            return ws
        if app.live >= MAX_LIVE:
            await ws.send_json({"type": "error", "message": "server busy: too many live sessions"})
            return ws
        app.live += 1
        app.stats["sessions"] += 1
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(app.pool, app.new_engine)
        m = engine.model_
        await ws.send_json({"type": "ready", "fps": engine.fps, "lookahead_ms": m.delay_ms, "lag": app.lag,
                            "chains": app.chains, "size": [360, 288]})
        state = {"dropped": 0, "in_a_row": 0, "sent": 0}
        kp = app.db.keypoints_

        async def send_frames(f):
            for t, r in zip(f.t.tolist(), f.rows.tolist()):
                tr = ws._writer.transport if ws._writer is not None else None   # noqa: SLF001
                if tr is None or tr.is_closing():
                    return False
                if tr.get_write_buffer_size() > SEND_BUFFER_LIMIT:
                    state["dropped"] += 1
                    state["in_a_row"] += 1
                    if state["in_a_row"] > MAX_DROPPED_IN_A_ROW:
                        app.stats["closed_slow"] += 1
                        return False
                    continue
                state["in_a_row"] = 0
                if fmt == "kp":
                    pts = np.round(kp[r, :, :2], 1).ravel().tolist()
                    await ws.send_str(json.dumps({"type": "frame", "t": t, "row": r, "pts": pts,
                                                  "server_ms": round(time.time() * 1000, 1)}))
                else:
                    jpg = await loop.run_in_executor(app.pool, _render_jpeg, app.db, r)
                    await ws.send_bytes(struct.pack("<I", t) + jpg)
                state["sent"] += 1
            return True

        async def run():
            while True:
                chunk = await queue.get()
                if chunk is None:
                    f = await loop.run_in_executor(app.pool, engine.finish)
                    await send_frames(f)
                    return
                f = await loop.run_in_executor(app.pool, engine.push, chunk)
                if not await send_frames(f):
                    await ws.close(code=1008, message=b"client does not read")
                    return

        worker = asyncio.create_task(run())
        t_start = time.perf_counter()
        samples = 0
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                b = msg.data
                if len(b) % 2 or len(b) > MAX_CHUNK_BYTES:
                    app.stats["closed_bad"] += 1
                    await ws.send_json({"type": "error", "message": "audio chunks: Int16 PCM, even length, "
                                        f"at most {MAX_CHUNK_BYTES} bytes"})
                    break
                x = np.frombuffer(b, "<i2").astype(np.float32) / 32768.0
                samples += len(x)
                if samples / 16000 > time.perf_counter() - t_start + AHEAD_S:
                    app.stats["closed_flood"] += 1
                    await ws.send_json({"type": "error", "message": "audio arrives faster than real time"})
                    break
                try:
                    queue.put_nowait(x)
                except asyncio.QueueFull:
                    app.stats["closed_slow"] += 1
                    await ws.send_json({"type": "error", "message": "server cannot keep up; closing"})
                    break
            elif msg.type == WSMsgType.TEXT:
                try:
                    cmd = json.loads(msg.data)
                except ValueError:
                    cmd = None
                if isinstance(cmd, dict) and cmd.get("type") == "stop":
                    await queue.put(None)
                    await asyncio.wait_for(worker, timeout=10)
                    await ws.send_json({"type": "done", "sent": state["sent"], "dropped": state["dropped"]})
                    break
                if isinstance(cmd, dict) and cmd.get("type") == "ping":
                    await ws.send_json({"type": "pong", "client_ms": cmd.get("client_ms")})
                    continue
                app.stats["closed_bad"] += 1
                await ws.send_json({"type": "error", "message": "unknown message"})
                break
            else:
                break
    except (asyncio.TimeoutError, ConnectionResetError):
        pass
    finally:
        if worker is not None and not worker.done():
            worker.cancel()
        if engine is not None:
            app.live -= 1
        app.connections -= 1
        if not ws.closed:
            await ws.close()
    return ws


async def stats(request):
    app: App = request.app["state"]
    import resource

    return web.json_response({**app.stats, "live": app.live, "connections": app.connections,
                              "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def make_app(state: App) -> web.Application:
    app = web.Application(middlewares=[token_mw], client_max_size=1024 * 1024)
    app["state"] = state
    app.router.add_get("/", index)
    app.router.add_get("/capture-worklet.js", worklet)
    app.router.add_get("/ws/live", live)
    app.router.add_get("/stats", stats)
    return app


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=os.path.join(HERE, "db_grid"))
    ap.add_argument("--model", default=os.path.join(HERE, "models", "speech_d120.npz"))
    ap.add_argument("--lag", type=int, default=2)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    a = ap.parse_args(argv)
    token = None if a.host in ("127.0.0.1", "localhost", "::1") else secrets.token_urlsafe(16)
    state = App(a.db, a.model, a.lag, token)
    url = f"http://{a.host}:{a.port}/" + (f"?token={token}" if token else "")
    print(f"serving on {url}", flush=True)
    web.run_app(make_app(state), host=a.host, port=a.port, print=None)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
