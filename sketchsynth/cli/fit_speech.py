"""sketchsynth fit-speech: (re)fit a database's voice-to-mouth model with other settings."""

from __future__ import annotations

import time

import click

from .options import FLOAT, INT, db_option


@click.command("fit-speech")
@db_option
@click.option("--regressor", default="ridge+knn", show_default=True, metavar="NAME",
              help="ridge+knn (their mean), ridge, knn, mlp (torch extra), or a regressor registered in the "
                   "'sketchsynth.regressors' entry-point group.")
@click.option("--lookahead-ms", "--delay-ms", "delay_ms", type=FLOAT, default=480.0, show_default=True,
              help="Look-ahead of the audio context window (LSP's delay): the mouth moves before the sound. "
                   "sketchsynth live needs 120 (its default).")
@click.option("--past-ms", type=FLOAT, default=320.0, show_default=True, help="Audio context before the frame.")
@click.option("--components", "n_components", type=INT, default=400, show_default=True,
              help="PCA dimensions of the standardized audio context (the regressor's input).")
@click.option("--lle-neighbors", type=INT, default=10, show_default=True,
              help="Neighbours of the LLE projection onto the database's own features.")
@click.option("--lle-blend", type=FLOAT, default=1.0, show_default=True,
              help="LLE blend: 0 = no projection, 1 = the projection only; with --lle-auto the most an input gets.")
@click.option("--lle-auto/--lle-fixed", default=True, show_default=True,
              help="Project each input as much as its voice differs from the database's (none for the "
                   "database speaker's own voice), or always by --lle-blend.")
@click.option("--lle-reg", type=FLOAT, default=1e-3, show_default=True,
              help="Regularizer of the LLE weights, relative to the local Gram matrix's trace.")
@click.option("--alpha", type=FLOAT, default=None, help="Ridge penalty (ridge only; default the regressor's).")
@click.option("--neighbors", type=INT, default=None, help="Neighbours averaged (knn only; default the regressor's).")
@click.option("--other-voices/--own-voice-only", default=True, show_default=True,
              help="Refit the model for other people's voices too (its amplitude reference is measured with "
                   "this model's settings on held-out recordings).")
def command(db_path, regressor, delay_ms, past_ms, n_components, lle_neighbors, lle_blend, lle_auto, lle_reg, alpha,
            neighbors, other_voices):
    """Fit the database's speech model again, with other settings, and store it in the database.

    build-db fits one with the defaults whenever the recordings have sound;
    this replaces it (atomically; the manifest records the new checksum). The
    model maps LSP's log-mel front end, stacked from --past-ms before to
    --lookahead-ms after each frame, to the normalized jaw and lips.

    \b
    Example:
      sketchsynth fit-speech --db db/grid --regressor knn --lookahead-ms 200
      sketchsynth fit-speech --db db/grid --lookahead-ms 120      # for sketchsynth live
    """
    from ..database.frame_database import FrameDatabase
    from ..errors import ParameterError
    from ..targets.speech.model import SpeechModel
    from ..pipeline.build import fit_speech_model
    from ..targets.speech.audio_check import require_audio
    from ..io.locks import real_path, target_lock

    params = {}
    if alpha is not None:
        if regressor not in ("ridge", "ridge+knn"):
            raise ParameterError("--alpha is the ridge regressor's penalty; leave it out with --regressor "
                                 f"{regressor}")
        params["alpha"] = alpha
    if neighbors is not None:
        if regressor not in ("knn", "ridge+knn"):
            raise ParameterError(f"--neighbors belongs to the knn regressor; leave it out with --regressor {regressor}")
        params["n_neighbors"] = neighbors
    model = SpeechModel(regressor=regressor, regressor_params=params or None, delay_ms=delay_ms, past_ms=past_ms,
                        n_components=n_components, lle_neighbors=lle_neighbors, lle_reg=lle_reg,
                        lle_blend=lle_blend, lle_auto=lle_auto).check()
    t0 = time.perf_counter()
    with target_lock(real_path(db_path)):  # keyed on the database itself: every spelling of it shares the lock
        db = FrameDatabase.load(db_path)
        require_audio(db)
        model = fit_speech_model(db, db.path_, model.get_params(), other_voices=other_voices)
    written = "speech_model.npz" + (" and speech_model_voices.npz (other voices)" if other_voices else "")
    click.echo(f"Fitted {model.describe()} in {model.fit_seconds_:.1f} s ({time.perf_counter() - t0:.1f} s in all); "
               f"wrote {db.path_}/{written}")
