"""sketchsynth serve: the live socket and the batch tab over a real server on a free port, with hostile clients:
garbage, a wrong rate, 10 MB messages, a flood, a client that never reads, 50 connections at once, a wrong
token, an upload over the cap. The server keeps serving, its memory stays bounded, session folders go away."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading

import numpy as np
import pytest

aiohttp = pytest.importorskip("aiohttp")


class Server:
    """The app on 127.0.0.1:<free port>, run by an event loop on its own thread."""

    def __init__(self, db, token=None, **options):
        from aiohttp import web

        from sketchsynth.web.app import ServerState, make_app

        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.state = ServerState(db, token=token, lookahead_ms=None, **options)
            self.runner = web.AppRunner(make_app(self.state))
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(120)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    def stats(self):
        return asyncio.run(_get_json(self.url + "/stats"))


async def _get_json(url):
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.json()


@pytest.fixture(scope="module")
def server(grid_example):
    srv = Server(grid_example["db"], max_upload_mb=1.0)
    yield srv
    srv.stop()
    assert not os.path.exists(srv.state.root)  # every session folder went with the server


@pytest.fixture(scope="module")
def speech(grid_example):
    from sketchsynth.io.audio import load_audio

    y = load_audio(grid_example["input"], 16000)
    return (np.clip(y, -1, 1) * 32767).astype("<i2")


async def _live(url, pcm, fmt="kp", chunk=320, pace=True):
    """A well-behaved client: start, 20 ms chunks at real time, stop; the messages received."""
    got = []
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/ws/live") as ws:
        await ws.send_str(json.dumps({"type": "start", "sr": 16000, "format": fmt}))
        ready = await ws.receive_json(timeout=120)
        assert ready["type"] == "ready", ready

        async def reader():
            async for m in ws:
                got.append(m.data)
                if m.type == aiohttp.WSMsgType.TEXT and json.loads(m.data)["type"] in ("done", "error"):
                    return

        task = asyncio.create_task(reader())
        for a in range(0, len(pcm), chunk):
            await ws.send_bytes(pcm[a:a + chunk].tobytes())
            if pace:
                await asyncio.sleep(chunk / 16000)
        await ws.send_str(json.dumps({"type": "stop"}))
        await asyncio.wait_for(task, 60)
    return ready, got


def test_live_socket_sends_the_face_of_the_sound(server, speech):
    ready, got = asyncio.run(_live(server.url, speech))
    frames = [json.loads(m) for m in got if isinstance(m, str) and json.loads(m)["type"] == "frame"]
    n = int(len(speech) / 16000 * ready["fps"])
    assert [f["t"] for f in frames] == list(range(len(frames))) and len(frames) >= n - 1
    pts = np.array([f["pts"] for f in frames]).reshape(len(frames), 70, 2)
    opening = np.linalg.norm(pts[:, 62] - pts[:, 66], axis=1)
    energy = np.array([np.log(1e-6 + np.mean((speech[k * 640:(k + 1) * 640] / 32768.0) ** 2)) for k in range(len(pts))])
    assert opening.std() > 0.5 and np.corrcoef(opening, energy)[0, 1] > 0.3  # the mouth moves with the sound
    assert json.loads(got[-1])["type"] == "done"


@pytest.mark.parametrize("fmt", ["jpeg", "composite"])
def test_live_socket_jpeg_frames(server, speech, fmt):
    import cv2

    _, got = asyncio.run(_live(server.url, speech[:16000], fmt=fmt, pace=False, chunk=3200))
    images = [m for m in got if isinstance(m, bytes)]
    assert len(images) >= 20
    img = cv2.imdecode(np.frombuffer(images[5][4:], np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[2] == 3 and img.std() > 5
    if fmt == "composite":  # a real face in colour, not the sketch's white page
        assert (img.astype(int).max(axis=2) - img.min(axis=2)).mean() > 20


async def _hostile(url, first, then=None):
    """Connect, send ``first`` (and ``then``), return the error message and whether the server closed."""
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/ws/live", max_msg_size=0) as ws:
        await (ws.send_str(first) if isinstance(first, str) else ws.send_bytes(first))
        if then is not None:
            msg = await ws.receive(timeout=120)
            assert msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "ready"
            for m in then:
                await ws.send_bytes(m)
        msgs = []
        while True:
            m = await ws.receive(timeout=120)
            if m.type != aiohttp.WSMsgType.TEXT:
                return msgs, m.type, ws.close_code
            msgs.append(json.loads(m.data))


START = json.dumps({"type": "start", "sr": 16000, "format": "kp"})


@pytest.mark.parametrize("case, first, then, fragment", [
    ("garbage", b"\x00\xff" * 100, None, "first message"),
    ("garbage-text", "{not json", None, "first message"),
    ("wrong-rate", json.dumps({"type": "start", "sr": 44100}), None, "sample rate"),
    ("odd-bytes", START, [b"\x01\x02\x03"], "even length"),
    ("flood", START, [np.zeros(8000, "<i2").tobytes()] * 20, "faster than real time"),
])
def test_hostile_socket_messages_are_refused_and_closed(server, case, first, then, fragment):
    msgs, kind, _ = asyncio.run(_hostile(server.url, first, then))
    assert any(fragment in m.get("message", "") for m in msgs if m["type"] == "error"), (case, msgs)
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


def test_a_10_mb_message_closes_the_socket_not_the_server(server, speech):
    try:
        _, kind, code = asyncio.run(_hostile(server.url, START, [b"\0" * (10 << 20)]))
        assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and code == 1009
    except ConnectionError:
        pass  # the server closed the socket while the 10 MB were still being sent
    ready, got = asyncio.run(_live(server.url, speech[:8000], pace=False, chunk=1600))  # still serving
    assert ready["type"] == "ready"


def test_fifty_connections_and_a_client_that_never_reads(server, speech):
    """50 sockets at once that never read: the server refuses live sessions above its limit, drops a reader
    that does not read, and its memory and connection count come back."""
    rss0 = server.stats()["max_rss_mb"]

    async def crowd():
        async with aiohttp.ClientSession() as s:
            socks = [await s.ws_connect(server.url + "/ws/live") for _ in range(50)]
            for ws in socks:
                await ws.send_str(START)
            replies = []
            for ws in socks:
                m = await ws.receive(timeout=120)
                replies.append(json.loads(m.data)["type"] if m.type == aiohttp.WSMsgType.TEXT else "closed")
            for ws in socks:
                await ws.close()
            return replies

    replies = asyncio.run(crowd())
    assert replies.count("ready") <= server.state.max_live and replies.count("error") >= 50 - server.state.max_live
    # a raw client with a tiny receive buffer that sends sound at real time and never reads a frame
    import base64
    import time

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())

    def frame(opcode, payload):
        mask = os.urandom(4)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | len(payload)]) if len(payload) < 126 else
                                         bytes([0x80 | 126]) + len(payload).to_bytes(2, "big"))
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    s.sendall(frame(1, START.encode()))
    closed = False
    chunk = np.tile(speech[:640], 1).tobytes()
    t0 = time.monotonic()
    try:
        for _ in range(1500):  # up to 60 s of sound at real time
            s.sendall(frame(2, chunk))
            time.sleep(0.04 - ((time.monotonic() - t0) % 0.04))
            if server.stats()["closed_slow"] > 0:
                closed = True
                break
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    finally:
        s.close()
    assert closed
    for _ in range(100):
        if server.stats()["connections"] == 0:
            break
        time.sleep(0.1)
    st = server.stats()
    assert st["connections"] == 0 and st["live"] == 0
    assert st["max_rss_mb"] < rss0 * 1.5 + 200  # bounded: nothing buffered without limit


def test_batch_say_and_upload_limits(server, grid_example):
    async def go():
        async with aiohttp.ClientSession() as s:
            sid = (await (await s.post(server.url + "/batch/session")).json())["sid"]
            big = aiohttp.FormData()
            big.add_field("file", b"\0" * (2 << 20), filename="big.wav")
            r = await s.post(f"{server.url}/batch/upload?sid={sid}", data=big)
            assert r.status == 413
            bad = aiohttp.FormData()
            bad.add_field("file", b"x", filename="notes.txt")
            assert (await s.post(f"{server.url}/batch/upload?sid={sid}", data=bad)).status == 400
            assert not any(os.scandir(server.state.session_dir(sid)))  # nothing of the refused uploads stays
            ok = aiohttp.FormData()
            ok.add_field("file", grid_example["input"].read_bytes()[:900_000], filename="clip.mp4")
            r = await s.post(f"{server.url}/batch/upload?sid={sid}", data=ok)
            assert r.status == 200
            r = await s.post(f"{server.url}/batch/run?sid={sid}", json={"kind": "say", "text": "bin blue at f two now"})
            job = (await r.json())["job"]
            seen = []
            for _ in range(600):
                st = await (await s.get(f"{server.url}/batch/status?sid={sid}&job={job}")).json()
                seen.append(st["progress"])
                if st["state"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.5)
            assert st["state"] == "done", st
            assert seen == sorted(seen) and seen[-1] == 1.0
            assert "sketch.mp4" in st["files"] and "speech.wav" in st["files"]
            r = await s.get(f"{server.url}/batch/file?sid={sid}&job={job}&name=sketch.mp4")
            assert r.status == 200 and len(await r.read()) > 1000
            assert (await s.get(f"{server.url}/batch/file?sid={sid}&job={job}&name=../../etc/passwd")).status == 404
            assert (await s.get(f"{server.url}/batch/file?sid=someone-elses-session-id&job={job}&name=sketch.mp4")
                    ).status == 404
            folder = server.state.session_dir(sid)
            assert (await s.post(f"{server.url}/batch/end?sid={sid}")).status == 200
            assert not os.path.exists(folder)

    asyncio.run(go())


def test_a_non_local_server_wants_its_token(grid_example):
    srv = Server(grid_example["db"], token="s3cret-token")
    try:
        async def go():
            async with aiohttp.ClientSession() as s:
                assert (await s.get(srv.url + "/")).status == 403
                assert (await s.get(srv.url + "/?token=wrong")).status == 403
                r = await s.get(srv.url + "/?token=s3cret-token")
                assert r.status == 200 and "sketchsynth" in await r.text()
                with pytest.raises(aiohttp.WSServerHandshakeError):
                    await s.ws_connect(srv.url + "/ws/live")
        asyncio.run(go())
    finally:
        srv.stop()


def test_serve_cli_errors_are_one_line(grid_example, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from conftest import one_line_error
    from sketchsynth.cli import cli

    from sketchsynth.web import app as web_app

    monkeypatch.setattr(web_app, "serve", lambda *a, **k: (_ for _ in ()).throw(AssertionError("serve started")))
    one_line_error(CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "nothing")]), "no database")
    one_line_error(CliRunner().invoke(cli, ["serve", "--db", str(grid_example["db"]), "--port", "70000"]), "--port")
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if the web extra were not installed
    one_line_error(CliRunner().invoke(cli, ["serve", "--db", str(grid_example["db"])]), '".[web]"')


def test_real_frames_of_a_database_without_its_videos_is_an_error_message(tmp_path_factory, speech):
    """Asking for real frames when the database's videos are gone: the socket says why, the session count goes
    back, and the next session (keypoints) is served."""
    from conftest import bundled_grid_db

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.outputs.frames.fetch import db_videos
    from sketchsynth.pipeline.build import fit_speech_model

    path, _ = bundled_grid_db(tmp_path_factory, 8, 0)       # its recordings are copies: they may go
    fit_speech_model(FrameDatabase.load(path), path, other_voices=False)
    srv = Server(path)
    try:
        videos = [v for v in db_videos(FrameDatabase.load(path)).values() if v is not None]
        assert videos
        for video in videos:
            os.unlink(video)
        msgs, _, _ = asyncio.run(_hostile(srv.url, json.dumps({"type": "start", "sr": 16000,
                                                                 "format": "composite"})))
        assert msgs and msgs[-1]["type"] == "error" and "video" in msgs[-1]["message"]
        assert srv.state.live == 0
        ready, got = asyncio.run(_live(srv.url, speech[:8000], pace=False, chunk=1600))
        assert ready["type"] == "ready" and json.loads(got[-1])["type"] == "done"
    finally:
        srv.stop()


def test_two_sessions_asking_for_a_new_render_at_once_build_it_once(grid_example, monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.web.app import ServerState

    built, start = [], LiveEngine.start

    def slow_start(self, shared=None):
        if shared is None:
            built.append(1)
            time.sleep(0.3)  # widen the window two unguarded sessions would both pass through
        return start(self, shared)

    monkeypatch.setattr(LiveEngine, "start", slow_start)
    state = ServerState(grid_example["db"], lookahead_ms=None)
    try:
        with ThreadPoolExecutor(2) as pool:
            engines = list(pool.map(state.engine, ["none", "none"]))
        assert len(built) == 1 and all(e.started_ for e in engines)
    finally:
        state.close()
