"""sketchsynth info: describe and verify a database."""

from __future__ import annotations

import json

import click

from .options import db_option


@click.command("info")
@db_option
@click.option("--verify", is_flag=True, help="Check every file's sha256, not only its size.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (without the etalon points).")
def command(db_path, verify, as_json):
    """Describe the database at --db and check its files.

    \b
    Example:
      sketchsynth info --db db/example --verify
    """
    from ..database.frame_database import FrameDatabase

    db = FrameDatabase.load(db_path, verify="sha256" if verify else "size")
    if as_json:
        man = dict(db.manifest_)
        man["etalon"] = {k: v for k, v in man["etalon"].items() if k != "points"}
        click.echo(json.dumps(man, indent=1))
        return
    if "speech_model.npz" in db.manifest_.get("files", {}):
        from ..targets.speech.model_store import require_model

        model = require_model(db)  # its own checksum: a damaged model names fit-speech
        click.echo(f"speech model: {model.describe()}")
    click.echo(f"{db.path_}: {db.summary()}")
    click.echo(f"checks passed ({'sha256' if verify else 'file sizes'}); format version "
               f"{db.manifest_['format_version']}, built by sketchsynth {db.manifest_['sketchsynth_version']} "
               f"on {db.manifest_['created']}")
