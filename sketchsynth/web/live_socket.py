"""The live tab's WebSocket: 16 kHz Int16 chunks in, the face's frames out, as the engine decides them.

Protocol (client -> server): text ``{"type": "start", "sr": 16000, "format": "kp"|"jpeg"|"composite"|"frames"}``
first, then binary Int16LE PCM chunks (even length, at most :data:`MAX_CHUNK_BYTES`), then text ``{"type": "stop"}``.
Server -> client: ``{"type": "ready", ...}``; per frame ``{"type": "frame", "t": k, "row": r, "pts": [...]}``
(``kp``: keypoints the page draws, ~1 KB) or binary 4-byte index + JPEG (``jpeg``: the sketch; ``composite``: the
real face, the chosen mouth pasted into one background take; ``frames``: the recorded frame);
``{"type": "error", "message": ...}`` before the server closes; ``{"type": "done"}`` after stop.

Bounds: a message over :data:`MAX_CHUNK_BYTES` closes the socket (aiohttp, code 1009); audio arriving more than
:data:`AHEAD_S` ahead of real time, or more than :data:`QUEUE_CHUNKS` chunks waiting, closes it; frames are
dropped while the client's socket buffer holds over :data:`SEND_BUFFER_LIMIT` bytes, and a client that has not
read for :data:`MAX_DROPPED_IN_A_ROW` frames is closed.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time

import numpy as np


MAX_CONNECTIONS = 64
"""Open WebSockets at most (each holds a little memory; beyond it a client gets HTTP 503)."""
MAX_CHUNK_BYTES = 16000
"""0.5 s of 16 kHz Int16 in one message at most."""
AHEAD_S = 2.0
QUEUE_CHUNKS = 100
SEND_BUFFER_LIMIT = 256 * 1024
SOCKET_SEND_BUFFER = 64 * 1024
MAX_DROPPED_IN_A_ROW = 75
RENDERS = {"kp": "none", "jpeg": "sketch", "composite": "composite", "frames": "frames"}


async def _hello(ws, state):
    """The start message, checked; (format, error message or None)."""
    from aiohttp import WSMsgType

    msg = await asyncio.wait_for(ws.receive(), timeout=10)
    try:
        hello = json.loads(msg.data) if msg.type == WSMsgType.TEXT and len(msg.data) < 4096 else None
    except ValueError:
        hello = None
    if not isinstance(hello, dict) or hello.get("type") != "start":
        return None, 'the first message must be {"type": "start", "sr": 16000}'
    if hello.get("sr") != 16000:
        return None, f"the sample rate must be 16000, got {str(hello.get('sr'))[:20]!r}"
    fmt = hello.get("format", "kp")
    if fmt not in RENDERS:
        return None, f"format must be one of {', '.join(RENDERS)}"
    if state.live >= state.max_live:
        return None, f"server busy: {state.max_live} live sessions already"
    return fmt, None


async def live_socket(request):
    from aiohttp import web

    from ..errors import SketchSynthError
    from .keys import STATE

    state = request.app[STATE]
    if state.connections >= MAX_CONNECTIONS:
        state.stats["refused"] += 1
        return web.Response(status=503, text="too many connections")
    ws = web.WebSocketResponse(max_msg_size=MAX_CHUNK_BYTES + 1024, heartbeat=10.0, compress=False)
    await ws.prepare(request)
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:  # a small kernel buffer: a client that does not read shows in ours, which is bounded
        import socket

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
    state.connections += 1
    engine = worker = None
    counted = False
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    try:
        fmt, problem = await _hello(ws, state)
        if problem:
            state.stats["closed_bad" if "busy" not in problem else "refused"] += 1
            await ws.send_json({"type": "error", "message": problem})
            return ws
        state.live += 1
        counted = True
        state.stats["sessions"] += 1
        loop = asyncio.get_running_loop()
        try:
            engine = await loop.run_in_executor(state.pool, state.engine, RENDERS[fmt])
        except SketchSynthError as e:  # e.g. real frames asked of a database whose videos are gone
            state.stats["closed_bad"] += 1
            await ws.send_json({"type": "error", "message": str(e)})
            return ws
        from ..layout import CHAINS

        w, h = engine.frames_.size_
        await ws.send_json({"type": "ready", "fps": engine.fps, "lookahead_ms": engine.model_.delay_ms,
                            "lag_ms": engine.lag_ms, "size": [int(w), int(h)],
                            "chains": [[int(i) for i in idx] + ([int(idx[0])] if closed else [])
                                       for idx, closed in CHAINS]})
        sent = {"sent": 0, "dropped": 0, "in_a_row": 0}
        worker = asyncio.create_task(_run(ws, state, engine, queue, fmt, sent))
        await _receive(ws, state, queue, worker, sent)
    except (asyncio.TimeoutError, ConnectionResetError):
        pass
    finally:
        if worker is not None and not worker.done():
            worker.cancel()
        if counted:
            state.live -= 1
        state.connections -= 1
        if not ws.closed:
            await ws.close()
    return ws


async def _receive(ws, state, queue, worker, sent):
    from aiohttp import WSMsgType

    t0, samples = time.perf_counter(), 0
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            b = msg.data
            if len(b) % 2:
                state.stats["closed_bad"] += 1
                await ws.send_json({"type": "error", "message": "audio chunks are Int16 PCM: an even length"})
                return
            x = np.frombuffer(b, "<i2").astype(np.float32) / 32768.0
            samples += len(x)
            if samples / 16000 > time.perf_counter() - t0 + AHEAD_S:
                state.stats["closed_flood"] += 1
                await ws.send_json({"type": "error", "message": "audio arrives faster than real time"})
                return
            try:
                queue.put_nowait(x)
            except asyncio.QueueFull:
                state.stats["closed_slow"] += 1
                await ws.send_json({"type": "error", "message": "the server cannot keep up; closing"})
                return
        elif msg.type == WSMsgType.TEXT:
            try:
                cmd = json.loads(msg.data) if len(msg.data) < 4096 else None
            except ValueError:
                cmd = None
            if isinstance(cmd, dict) and cmd.get("type") == "stop":
                await queue.put(None)
                await asyncio.wait_for(worker, timeout=30)
                await ws.send_json({"type": "done", "sent": sent["sent"], "dropped": sent["dropped"]})
                return
            state.stats["closed_bad"] += 1
            await ws.send_json({"type": "error", "message": "unknown message"})
            return
        else:
            return


async def _run(ws, state, engine, queue, fmt, sent):
    """Feed the engine from the queue (in the pool: it holds no lock the loop needs) and send what it decides."""
    loop = asyncio.get_running_loop()
    while True:
        chunk = await queue.get()
        frames = await loop.run_in_executor(state.pool, engine.finish if chunk is None else engine.push_audio,
                                            *(() if chunk is None else (chunk,)))
        ok = await _send(ws, state, frames, fmt, sent)
        if chunk is None:
            return
        if not ok:
            await ws.close(code=1008, message=b"client does not read")
            return


async def _send(ws, state, frames, fmt, sent) -> bool:
    import cv2

    for f in frames:
        transport = ws._writer.transport if getattr(ws, "_writer", None) is not None else None  # noqa: SLF001
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > SEND_BUFFER_LIMIT:  # the client is not reading: drop, never queue
            sent["dropped"] += 1
            sent["in_a_row"] += 1
            if sent["in_a_row"] > MAX_DROPPED_IN_A_ROW:
                state.stats["closed_slow"] += 1
                return False
            continue
        sent["in_a_row"] = 0
        if fmt == "kp":
            await ws.send_str(json.dumps({"type": "frame", "t": f.index, "row": f.row,
                                          "pts": np.round(f.keypoints[:, :2], 1).ravel().tolist()}))
        else:
            jpg = cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
            await ws.send_bytes(struct.pack("<I", f.index) + jpg)
        sent["sent"] += 1
    return True
