"""The batch tab: upload a video or a sound, or type a text; ``match`` or ``say`` runs on it, the page follows its
progress and plays (and offers for download) the sketch and real-frame videos.

Each run is the command line's own (``python -m sketchsynth.cli match|say``) in a child process: the same code
path as the CLI, a crash or a runaway input cannot take the server down, and a run can be stopped. Uploads are
streamed to the session's temporary folder with a size cap and never leave it; results are served from there by
name only. The progress bar is an estimate from the input's length (the run's real time over its measured cost),
finished when the run ends.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
import time

from ..database.sound import AUDIO_EXTENSIONS
from ..sources.recordings import VIDEO_EXTENSIONS

EXTENSIONS = VIDEO_EXTENSIONS + AUDIO_EXTENSIONS
"""What an upload may be: what build-db and match read."""
RESULTS = ("sketch.mp4", "frames.mp4", "speech.wav")
MAX_TEXT_CHARS = 5000
RUN_TIMEOUT_S = 1800
SESSION_IDLE_S = 3600
_SID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _session(request):
    from aiohttp import web

    from .keys import STATE

    state = request.app[STATE]
    sid = request.query.get("sid", "")
    if not _SID.fullmatch(sid) or sid not in state.sessions:
        raise web.HTTPNotFound(text="no such session (reload the page)")
    state.sessions[sid]["seen"] = time.monotonic()
    return state, sid, state.sessions[sid]


async def new_session(request):
    from aiohttp import web

    from .keys import STATE

    state = request.app[STATE]
    now = time.monotonic()
    for old in [s for s, v in state.sessions.items() if now - v["seen"] > SESSION_IDLE_S]:
        state.end_session(old)  # a tab closed without saying so
    sid = secrets.token_urlsafe(18)
    state.sessions[sid] = {"seen": now, "jobs": {}, "upload": None}
    return web.json_response({"sid": sid, "max_upload_mb": state.max_upload / (1 << 20)})


async def end_session(request):
    from aiohttp import web

    state, sid, sess = _session(request)
    for job in sess["jobs"].values():
        if job.get("proc") is not None and job["proc"].returncode is None:
            job["proc"].kill()
    state.end_session(sid)
    return web.json_response({"ended": True})


async def upload(request):
    """Stream the multipart field ``file`` to the session folder, refusing it past the size cap."""
    from aiohttp import web

    state, sid, sess = _session(request)
    reader = await request.multipart()
    field = await reader.next()
    if field is None or field.name != "file":
        raise web.HTTPBadRequest(text="send one file in the field 'file'")
    ext = os.path.splitext(field.filename or "")[1].lower()
    if ext not in EXTENSIONS:
        raise web.HTTPBadRequest(text=f"a video or a sound file please ({', '.join(EXTENSIONS)})")
    path = os.path.join(state.session_dir(sid), "input" + ext)
    size = 0
    with open(path, "wb") as fh:
        while chunk := await field.read_chunk(1 << 16):
            size += len(chunk)
            if size > state.max_upload:
                fh.close()
                os.unlink(path)
                raise web.HTTPRequestEntityTooLarge(max_size=state.max_upload, actual_size=size)
            fh.write(chunk)
    sess["upload"] = path
    return web.json_response({"bytes": size})


async def run(request):
    from aiohttp import web

    state, sid, sess = _session(request)
    body = await request.json()
    kind = body.get("kind") if isinstance(body, dict) else None
    job = secrets.token_hex(4)
    out = os.path.join(state.session_dir(sid), f"run-{job}")
    cmd = [sys.executable, "-m", "sketchsynth.cli"]
    if kind == "match":
        if not sess["upload"]:
            raise web.HTTPBadRequest(text="upload a video or a sound first")
        cmd += ["match", sess["upload"], "--db", state.db_path, "--out", out]
        expected = 10 + 2 * _duration(sess["upload"])
    elif kind == "say":
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise web.HTTPBadRequest(text=f"type a text of 1 to {MAX_TEXT_CHARS} characters")
        cmd += ["say", text, "--db", state.db_path, "--out", out]
        expected = 15 + len(text) / 5
    else:
        raise web.HTTPBadRequest(text="kind must be match or say")
    sess["jobs"][job] = {"state": "queued", "out": out, "expected": expected, "message": ""}
    asyncio.get_running_loop().create_task(_execute(state, sess["jobs"][job], cmd))
    return web.json_response({"job": job})


def _duration(path) -> float:
    try:
        from ..io.audio import load_audio

        return len(load_audio(path, 16000)) / 16000
    except Exception:  # noqa: BLE001 - only an estimate for the progress bar; the run reports the real problem
        return 10.0


async def _execute(state, job, cmd):
    async with state.jobs:  # one run at a time on a small machine; the others wait, shown as queued
        job["state"], job["t0"] = "running", time.monotonic()
        try:
            proc = job["proc"] = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                                      stderr=asyncio.subprocess.PIPE)
        except OSError as e:  # the run could not even start: say so instead of staying "running"
            job["state"], job["message"] = "failed", f"could not start the run ({e.strerror or e})"
            return
        try:
            out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
        except asyncio.TimeoutError:
            proc.kill()
            out, err = b"", b"the run took too long and was stopped"
        text = (err or out).decode("utf-8", "replace").strip().splitlines()
        job["state"] = "done" if proc.returncode == 0 else "failed"
        job["message"] = (text[-1] if text else "")[:500]


async def status(request):
    from aiohttp import web

    state, sid, sess = _session(request)
    job = sess["jobs"].get(request.query.get("job", ""))
    if job is None:
        raise web.HTTPNotFound(text="no such run")
    progress = 1.0 if job["state"] in ("done", "failed") else 0.0 if job["state"] == "queued" else \
        min(0.95, (time.monotonic() - job["t0"]) / job["expected"])
    files = [n for n in RESULTS if os.path.isfile(os.path.join(job["out"], n))] if job["state"] == "done" else []
    return web.json_response({"state": job["state"], "progress": round(progress, 3), "message": job["message"],
                              "files": files})


async def result(request):
    from aiohttp import web

    state, sid, sess = _session(request)
    job = sess["jobs"].get(request.query.get("job", ""))
    name = request.query.get("name", "")
    if job is None or name not in RESULTS or not os.path.isfile(os.path.join(job["out"], name)):
        raise web.HTTPNotFound(text="no such file")
    return web.FileResponse(os.path.join(job["out"], name),
                            headers={"Content-Disposition": f'inline; filename="{name}"'})


def add_batch_routes(app) -> None:
    app.router.add_post("/batch/session", new_session)
    app.router.add_post("/batch/end", end_session)
    app.router.add_post("/batch/upload", upload)
    app.router.add_post("/batch/run", run)
    app.router.add_get("/batch/status", status)
    app.router.add_get("/batch/file", result)
