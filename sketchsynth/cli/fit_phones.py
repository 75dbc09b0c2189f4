"""sketchsynth fit-phones: label a database's frames with phones by forced alignment."""

from __future__ import annotations

import click

from .options import db_option


@click.command("fit-phones")
@db_option
@click.option("--transcripts", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of <recording>.align (GRID), .txt or .lab transcripts (default: beside each recording).")
def command(db_path, transcripts):
    """Label every database frame with the phone spoken at it (needs the 'text' extra).

    Each recording's sound is force-aligned to its transcript with pocketsphinx's
    bundled English model; the labels go to DIR/phones.parquet, which `say`
    uses for phone targets. With GRID .align files as transcripts the word
    boundaries found are compared with theirs.

    \b
    Example:
      sketchsynth fit-phones --db db/grid --transcripts ../shared/data/grid_s1/align
    """
    from ..database.frame_database import FrameDatabase
    from ..errors import InputError, require
    from ..targets.text.store import label_database, save_phones
    from ..targets.text.tts import EXTRA

    from ..io.locks import real_path, target_lock

    require("pocketsphinx", EXTRA, "fit-phones (forced alignment)")
    with target_lock(real_path(db_path)):  # one writer of the database (fit-speech too), whatever its spelling
        db = FrameDatabase.load(db_path)
        phone, word, labelled, report = label_database(db, transcripts, progress=True)
        if not report["aligned"]:
            why = next(iter(report["skipped"].values()), "no recordings")
            raise InputError(f"no recording could be aligned (e.g. {why}); give their transcripts with "
                             "--transcripts", db_path)
        path = save_phones(db, phone, word, labelled, report, transcripts)
    click.echo(f"Aligned {len(report['aligned'])} of {len(report['aligned']) + len(report['skipped'])} recordings; "
               f"labelled {int(labelled.sum())} frames; wrote {path}")
    for name, why in list(report["skipped"].items())[:5]:
        click.echo(f"  skipped {name}: {why}")
    a = report.get("agreement")
    if a:
        click.echo(f"Word boundaries vs the .align files ({a['recordings']} recordings, {a['boundaries']} "
                   f"boundaries): mean |error| {a['mean_abs_ms']:.1f} ms, median {a['median_abs_ms']:.1f} ms, "
                   f"mean signed {a['mean_signed_ms']:+.1f} ms, "
                   f"{100 * a['within_20ms']:.1f}% within 20 ms, {100 * a['within_40ms']:.1f}% within 40 ms "
                   f"(one frame at 25 fps)")
