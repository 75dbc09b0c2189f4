"""Whether a database has the sound a speech model needs."""

from __future__ import annotations


from ...errors import DatabaseError


# ---------------------------------------------------------------------- the model in a database folder
def require_audio(db):
    """The database's audio, or a DatabaseError naming the fix."""
    audio = getattr(db, "audio_", None)
    if audio is None:
        where = getattr(db, "path_", None)
        raise DatabaseError("the database has no sound (its recordings had no audio, or it was built by an older "
                            "sketchsynth); rebuild it from recordings with sound: sketchsynth build-db RECORDINGS "
                            f"--db {where or 'DIR'} --force", where)
    return audio
