"""WebSocket client checks against a running server.py: real-time latency per format, and abuse cases.

Run (server already running on 127.0.0.1:8765):
  PYTHONPATH=/work/proto:. python ws_client_test.py latency --seconds 30 --format kp
  PYTHONPATH=/work/proto:. python ws_client_test.py abuse
"""
import argparse
import asyncio
import json
import os
import struct
import time

import aiohttp
import numpy as np

URL = "http://127.0.0.1:8765"


def stream_pcm(seconds):
    from bench_live import load_stream, split_names

    y, _ = load_stream(split_names("test", int(np.ceil(seconds / 3))))
    y = y[:int(seconds * 16000)]
    return (np.clip(y, -1, 1) * 32767).astype("<i2")


async def latency(seconds, fmt, chunk_ms=20):
    pcm = stream_pcm(seconds)
    n = int(chunk_ms * 16)
    arrive = {}
    async with aiohttp.ClientSession() as s, s.ws_connect(URL + "/ws/live", max_msg_size=0) as ws:
        await ws.send_str(json.dumps({"type": "start", "sr": 16000, "format": fmt}))
        ready = await ws.receive_json()
        assert ready["type"] == "ready", ready
        start = time.perf_counter() + 0.1

        async def reader():
            async for m in ws:
                if m.type == aiohttp.WSMsgType.TEXT:
                    d = json.loads(m.data)
                    if d["type"] == "frame":
                        arrive[d["t"]] = time.perf_counter()
                    elif d["type"] == "done":
                        return d
                elif m.type == aiohttp.WSMsgType.BINARY:
                    arrive[struct.unpack("<I", m.data[:4])[0]] = time.perf_counter()

        rd = asyncio.create_task(reader())
        for a in range(0, len(pcm), n):
            dt = start + (a + n) / 16000 - time.perf_counter()
            if dt > 0:
                await asyncio.sleep(dt)
            await ws.send_bytes(pcm[a:a + n].tobytes())
        await ws.send_str(json.dumps({"type": "stop"}))
        done = await asyncio.wait_for(rd, 30)
    T = int(len(pcm) / 640)
    ks = np.array(sorted(k for k in arrive if k < T - 25))
    lat = np.array([(arrive[k] - (start + k / 25)) * 1000 for k in ks])
    out = {"format": fmt, "seconds": seconds, "frames": T, "received": len(arrive), "done": done,
           "latency_ms_median": float(np.median(lat)), "latency_ms_p95": float(np.percentile(lat, 95)),
           "dropped_pct_at_playout_350ms": float(100 * (1 - np.mean(lat <= 350)) if len(lat) else 100)}
    print(json.dumps(out))
    return out


async def abuse():
    res = {}
    async with aiohttp.ClientSession() as s:
        # 1 garbage first message
        async with s.ws_connect(URL + "/ws/live") as ws:
            await ws.send_bytes(os.urandom(1000))
            m = await ws.receive()
            res["garbage_first"] = m.data if m.type == aiohttp.WSMsgType.TEXT else str(m.type)
        # 2 wrong sample rate
        async with s.ws_connect(URL + "/ws/live") as ws:
            await ws.send_str(json.dumps({"type": "start", "sr": 44100}))
            res["wrong_sr"] = (await ws.receive()).data
        # 3 odd-length garbage audio after a good start
        async with s.ws_connect(URL + "/ws/live") as ws:
            await ws.send_str(json.dumps({"type": "start", "sr": 16000}))
            await ws.receive()
            await ws.send_bytes(os.urandom(641))
            res["odd_bytes"] = (await ws.receive()).data
        # 4 a 10 MB message
        async with s.ws_connect(URL + "/ws/live") as ws:
            await ws.send_str(json.dumps({"type": "start", "sr": 16000}))
            await ws.receive()
            try:
                await ws.send_bytes(b"\0" * (10 * 1024 * 1024))
                m = await ws.receive()
                res["10MB"] = f"{m.type} {m.data} {m.extra}"
            except Exception as e:  # noqa: BLE001
                res["10MB"] = f"client error {type(e).__name__}"
        # 5 flooding faster than real time (random noise)
        async with s.ws_connect(URL + "/ws/live") as ws:
            await ws.send_str(json.dumps({"type": "start", "sr": 16000}))
            await ws.receive()
            for _ in range(500):
                if ws.closed:
                    break
                await ws.send_bytes((np.random.randn(320) * 3000).astype("<i2").tobytes())
            m = await ws.receive()
            while m.type == aiohttp.WSMsgType.TEXT and json.loads(m.data)["type"] == "frame":
                m = await ws.receive()
            res["flood"] = m.data if m.type == aiohttp.WSMsgType.TEXT else str(m.type)
        # 6 fifty connections at once, each sends a start and 1 s of audio in real time, never reads
        async def one(i):
            try:
                async with s.ws_connect(URL + "/ws/live") as ws:
                    await ws.send_str(json.dumps({"type": "start", "sr": 16000, "format": "jpeg"}))
                    for _ in range(50):
                        await ws.send_bytes((np.random.randn(320) * 3000).astype("<i2").tobytes())
                        await asyncio.sleep(0.02)
                    return "ok"
            except Exception as e:  # noqa: BLE001
                return type(e).__name__
        t0 = time.perf_counter()
        outs = await asyncio.gather(*[one(i) for i in range(50)])
        res["fifty"] = {o: outs.count(o) for o in set(outs)}
        res["fifty_s"] = round(time.perf_counter() - t0, 2)
        await asyncio.sleep(1)
        async with s.get(URL + "/stats") as r:
            res["stats_after"] = await r.json()
    print(json.dumps(res, indent=1))
    return res


async def rtt(n=200):
    """WebSocket round trip on this machine: n pings through an open live session."""
    async with aiohttp.ClientSession() as s, s.ws_connect(URL + "/ws/live") as ws:
        await ws.send_str(json.dumps({"type": "start", "sr": 16000}))
        await ws.receive_json()
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            await ws.send_str(json.dumps({"type": "ping", "client_ms": i}))
            while True:
                m = await ws.receive_json()
                if m["type"] == "pong":
                    break
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.01)
    print(json.dumps({"rtt_ms_median": float(np.median(out)), "rtt_ms_p95": float(np.percentile(out, 95))}))


async def never_reads(seconds=40):
    """A raw-socket WebSocket client that sends audio at real time for ``seconds`` and never reads anything
    (a 4 KB receive buffer): the server must drop frames, then close it; its memory must stay flat."""
    import base64
    import socket

    def frame(payload: bytes, opcode: int) -> bytes:   # a masked client frame
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    pcm = stream_pcm(min(seconds, 60))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", 8765))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    sock.sendall(frame(json.dumps({"type": "start", "sr": 16000, "format": "jpeg"}).encode(), 1))
    t0 = time.perf_counter()
    closed_after = None
    sock.settimeout(0.05)
    for a in range(0, int(seconds * 16000), 320):
        try:
            b = (pcm[a % len(pcm):a % len(pcm) + 320]).tobytes()
            sock.send(frame(b, 2))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            closed_after = time.perf_counter() - t0
            break
        await asyncio.sleep(0.02)
    sock.close()
    await asyncio.sleep(0.5)
    async with aiohttp.ClientSession() as s, s.get(URL + "/stats") as r:
        st = await r.json()
    print(json.dumps({"closed_after_s": closed_after, "stats": st}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency", "abuse", "rtt", "never-reads"])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--format", default="kp")
    a = ap.parse_args()
    asyncio.run({"latency": lambda: latency(a.seconds, a.format), "abuse": abuse, "rtt": rtt,
                 "never-reads": lambda: never_reads(a.seconds)}[a.what]())

