"""sketchsynth serve: the local web app (live microphone tab, batch tab)."""

from __future__ import annotations

import click

from .options import FLOAT, INT, db_option


@click.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any other than this machine's own needs the token printed at start.")
@click.option("--port", type=INT, default=8765, show_default=True)
@click.option("--max-upload-mb", type=FLOAT, default=200.0, show_default=True, help="Largest upload of the batch tab.")
@click.option("--max-live", type=INT, default=3, show_default=True,
              help="Live sessions at once (each takes about a third of a core).")
@click.option("--lookahead-ms", type=FLOAT, default=None,
              help="The live engine's look-ahead [default: the database's speech model's own; 120 ms models "
                   "(build-db --lookahead-ms 120) give about 250 ms latency].")
@click.option("--lag-ms", type=FLOAT, default=80.0, show_default=True,
              help="Longest wait of the live decoder before it commits to a frame.")
def command(db_path, host, port, max_upload_mb, max_live, lookahead_ms, lag_ms):
    """Serve a local web page: talk into the browser's microphone and watch the database's face speak, or
    upload a video or a sound (or type a text) and get the sketch and real-frame videos (needs the 'web' extra).

    \b
    Examples:
      sketchsynth serve --db db/grid                 # then open http://127.0.0.1:8765/
      sketchsynth serve --db db/grid --host 0.0.0.0  # other machines: with the token printed at start
    """
    from ..errors import ParameterError, require

    require("aiohttp", "web", "sketchsynth serve")
    if not 1 <= port <= 65535:
        raise ParameterError(f"--port must be within 1-65535, got {port}")
    if not 0 < max_upload_mb <= 100_000:
        raise ParameterError(f"--max-upload-mb must be within 0-100000, got {max_upload_mb:g}")
    if not 1 <= max_live <= 64:
        raise ParameterError(f"--max-live must be within 1-64, got {max_live}")
    from ..database.frame_database import FrameDatabase
    from ..targets.speech.model_store import require_model
    from ..web.app import serve

    require_model(FrameDatabase.load(db_path))  # a database the live tab cannot drive fails now, in one line
    serve(db_path, host=host, port=port, max_upload_mb=max_upload_mb, max_live=max_live,
          lookahead_ms=lookahead_ms, lag_ms=lag_ms)
