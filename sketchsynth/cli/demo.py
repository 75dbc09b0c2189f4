"""sketchsynth demo: the whole method on the bundled example data."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--db", "db_path", default="db/example", show_default=True, type=click.Path(),
              help="Database folder to (re)build.")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(), help="Output folder (replaced).")
def command(db_path, out):
    """Build db/example from the bundled henan excerpt and match a held-out stretch of it.

    Works offline from a fresh clone; replaces --db and --out if they exist.

    \b
    Example:
      sketchsynth demo && open out/demo/comparison.png
    """
    from ..demo import run_demo

    run_demo(db_path, out, log=click.echo)
