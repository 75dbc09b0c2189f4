"""The web app: shared state (the database and the live engines' read-only parts), the token check, the routes.

Security model: the server listens on 127.0.0.1 unless told otherwise; on any other address every request and
socket must carry the token printed at start (``?token=``). Every buffer is bounded (message size, input queue,
outgoing socket buffer, upload size, sessions, connections); each browser tab is its own session with its own
engine and temporary folder, removed when the session ends and when the server stops.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServerState:
    """What every session shares.

    Parameters
    ----------
    db_path : path of the database
    token : str or None
        Required on every request when not None.
    max_live : int
        Live sessions (engines) at once: each takes about a third of a core.
    max_upload_mb : float
        Largest upload of the batch tab.
    lookahead_ms, lag_ms : float or None
        The live engines' (see :class:`sketchsynth.live.engine.LiveEngine`); None look-ahead: the model's own.
    """

    def __init__(self, db_path, token=None, max_live: int = 3, max_upload_mb: float = 200.0,
                 lookahead_ms: float | None = None, lag_ms: float = 80.0, max_jobs: int = 1):
        from ..database.frame_database import FrameDatabase

        self.db_path, self.token, self.max_live = os.fspath(db_path), token, max_live
        self.max_upload = int(max_upload_mb * (1 << 20))
        self.lookahead_ms, self.lag_ms = lookahead_ms, lag_ms
        self.db = FrameDatabase.load(db_path)
        self.templates = {}
        self.template_lock = threading.Lock()  # two sessions asking for a new render at once build it once
        self.pool = ThreadPoolExecutor(max_workers=max(2, max_live))
        self.jobs = asyncio.Semaphore(max_jobs)
        self.live = self.connections = 0
        self.stats = {"sessions": 0, "closed_slow": 0, "closed_flood": 0, "closed_bad": 0, "refused": 0}
        self.root = tempfile.mkdtemp(prefix="sketchsynth-serve-")
        self.sessions = {}

    def engine(self, render: str):
        """A new live engine sharing the template's indexes (the template is made on first use, per render)."""
        from ..live.engine import LiveEngine

        kw = dict(lookahead_ms=self.lookahead_ms, lag_ms=self.lag_ms, render=render)
        with self.template_lock:
            if render not in self.templates:
                self.templates[render] = LiveEngine(self.db, **kw).start()
        return LiveEngine(self.db, **kw).start(shared=self.templates[render])

    def session_dir(self, sid: str) -> str:
        """The session's own temporary folder (made on first use, inside the server's)."""
        path = os.path.join(self.root, sid)
        os.makedirs(path, exist_ok=True)
        return path

    def end_session(self, sid: str) -> None:
        shutil.rmtree(os.path.join(self.root, sid), ignore_errors=True)
        self.sessions.pop(sid, None)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)


def make_app(state: ServerState):
    """The aiohttp application of ``state``."""
    from aiohttp import web

    from .batch import add_batch_routes
    from .keys import STATE
    from .live_socket import live_socket

    @web.middleware
    async def token_check(request, handler):
        if state.token is not None and not secrets.compare_digest(request.query.get("token", ""), state.token):
            return web.Response(status=403, text="token required (printed when the server started)")
        return await handler(request)

    static = resources.files("sketchsynth.web") / "static"

    async def index(request):
        return web.Response(text=(static / "index.html").read_text(), content_type="text/html")

    async def worklet(request):
        return web.Response(text=(static / "capture-worklet.js").read_text(), content_type="application/javascript")

    async def stats(request):
        import resource

        return web.json_response({**state.stats, "live": state.live, "connections": state.connections,
                                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})

    async def on_cleanup(app):
        state.close()

    app = web.Application(middlewares=[token_check], client_max_size=state.max_upload + (1 << 20))
    app[STATE] = state
    app.router.add_get("/", index)
    app.router.add_get("/capture-worklet.js", worklet)
    app.router.add_get("/ws/live", live_socket)
    app.router.add_get("/stats", stats)
    add_batch_routes(app)
    app.on_cleanup.append(on_cleanup)
    return app


def serve(db_path, host: str = "127.0.0.1", port: int = 8765, **options) -> None:
    """Run the app until interrupted; a non-local ``host`` gets a token, printed with the address."""
    from aiohttp import web

    token = None if host in LOCAL_HOSTS else secrets.token_urlsafe(16)
    state = ServerState(db_path, token=token, **options)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/" + (f"?token={token}" if token else "")
    print(f"sketchsynth serve: open {url}  (Ctrl-C stops)", flush=True)
    web.run_app(make_app(state), host=host, port=port, print=None)
