"""sketchsynth demo: the whole method on the bundled example data."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--db", "db_path", default="db/example", show_default=True, type=click.Path(),
              help="Database folder to (re)build.")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(),
              help="Output folder (replaced); the video part writes <out>-video.")
@click.option("--no-video", is_flag=True, help="Skip the video part (the bundled GRID s1 sentences).")
def command(db_path, out, no_video):
    """Build db/example from the bundled henan excerpt and match a held-out stretch of it.

    Then, with the video extra installed, build db/example-video from 100
    bundled sentences of one GRID speaker (their shipped tracks seed the track
    cache) and match a held-out sentence of the same speaker, writing
    sketch.mp4 and frames.mp4 with its audio. Works offline from a fresh clone;
    replaces --db and --out (and their -video twins) if they exist.

    \b
    Example:
      sketchsynth demo && open out/demo/comparison.png
    """
    from ..demo.keypoints import run_demo

    run_demo(db_path, out, log=click.echo, video=not no_video)
