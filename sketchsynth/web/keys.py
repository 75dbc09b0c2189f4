"""The application key under which the handlers find the server's shared state (aiohttp wants typed keys).

Imported by the handlers when they run, so that aiohttp (the ``web`` extra) is needed only by a server; the key is
made here, at import, because aiohttp names a key after the module that creates it."""

from __future__ import annotations

from aiohttp import web

STATE = web.AppKey("state", object)
"""The :class:`~sketchsynth.web.app.ServerState`."""
