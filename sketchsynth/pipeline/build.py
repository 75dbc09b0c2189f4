"""Building a database for the whole pipeline: its frames and sound (:mod:`sketchsynth.database`), then the speech
model fitted into it when the recordings have sound.

The database layer knows nothing of the speech model; this is where the two meet, so that ``sketchsynth
build-db`` leaves a database ready for audio- and text-driven matches.
"""

from __future__ import annotations


def build_database(source, path=None, db=None, progress: bool = False, video_options: dict | None = None,
                   force: bool = False, protect=(), scheduler: str | None = None, fit_speech: bool = True,
                   speech_params: dict | None = None, other_voices: bool = True):
    """Build ``db`` (default ``FrameDatabase()``) from ``source`` and fit its speech model when it has sound.

    The model is fitted on the database written, before the folder is put in place (a crash leaves the old
    database or the new one with its model), and listed in its manifest (:func:`fit_into`).

    Parameters
    ----------
    source, path, progress, video_options, force, protect, scheduler
        As :meth:`sketchsynth.database.frame_database.FrameDatabase.build`.
    db : FrameDatabase, optional
        The database to build, with its parameters.
    fit_speech : bool
        Fit the speech model (:class:`sketchsynth.targets.speech.model.SpeechModel`) when the recordings have
        sound; without it, only frames and sound.
    speech_params : dict, optional
        The speech model's parameters (default its own), e.g. ``{"delay_ms": 120}`` for ``sketchsynth live``.
    other_voices : bool
        Fit the model for other people's voices too (:mod:`sketchsynth.targets.speech.voices`).

    Returns
    -------
    FrameDatabase
        ``db``, built.
    """
    from ..database.frame_database import FrameDatabase

    import functools

    db = FrameDatabase() if db is None else db
    fit = functools.partial(fit_speech_model, params=speech_params, other_voices=other_voices)
    return db.build(source, progress=progress, video_options=video_options, path=path, force=force,
                    protect=protect, scheduler=scheduler, fitters=(fit,) if fit_speech else ())


def fit_own_speech_model(db, folder, params: dict | None = None):
    """Fit the speech model (``params``: its parameters, default its own) on ``db`` and keep it in its
    ``folder``, when the database has sound; returns the model (None without sound)."""
    if getattr(db, "audio_", None) is not None:
        from ..targets.speech.model import SpeechModel
        from ..targets.speech.model_store import fit_into

        return fit_into(db, folder, SpeechModel(**(params or {})).check())
    return None


def fit_speech_model(db, folder, params: dict | None = None, other_voices: bool = True):
    """:func:`fit_own_speech_model`, then (``other_voices``) the model for other voices, measured against a
    held-out fold of the own kind of model (``params``); returns the own model (None without sound)."""
    own = fit_own_speech_model(db, folder, params)
    if own is not None and other_voices:
        from ..targets.speech.voices import fit_other_voices_into

        fit_other_voices_into(db, folder, own.get_params())
    return own
