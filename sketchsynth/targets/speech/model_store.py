"""A database's speech model in its folder: fitted into it (atomically, listed in the manifest), opened once and checked."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from ...errors import DatabaseError
from .audio_check import require_audio
from .model import MODEL_FILE, SpeechModel


_MODELS = weakref.WeakKeyDictionary()
"""The speech model of each open database, loaded once (or set by :func:`use_model`)."""


def use_model(db, model: SpeechModel) -> SpeechModel:
    """Make ``model`` the one :func:`require_model` gives for ``db`` (an evaluation's refit)."""
    _MODELS[db] = model
    return model


def require_model(db) -> SpeechModel:
    """The database's fitted speech model, or a DatabaseError naming the command that fits one."""
    require_audio(db)
    model = _MODELS.get(db)
    if model is None and hasattr(db, "manifest_"):
        attached = getattr(db, "attached_", {}).get(MODEL_FILE)
        model = open_model(getattr(db, "path_", None), db.manifest_, data=attached)
        if model is not None:
            _MODELS[db] = model
    if model is None:
        where = getattr(db, "path_", None)
        raise DatabaseError(f"the database has no fitted speech model; fit one with: sketchsynth fit-speech --db "
                            f"{where or 'DIR'}", where)
    return model


def open_model(path, man: dict, verify: bool = True, data: bytes | None = None) -> SpeechModel | None:
    """The model listed in a manifest (checked against its size and sha256), or None.

    ``data``: the file's bytes, held by an in-memory database whose folder is gone.
    """
    import hashlib
    import io

    from ...io.storage import sha256_file

    meta = man.get("files", {}).get(MODEL_FILE)
    if meta is None:
        return None
    fix = f"refit it with: sketchsynth fit-speech --db {os.fspath(path) if path is not None else 'DIR'}"
    if data is not None:
        if len(data) != meta.get("bytes") or (verify and hashlib.sha256(data).hexdigest() != meta.get("sha256")):
            raise DatabaseError(f"{MODEL_FILE} fails its checksum (damaged or replaced); {fix}", path)
        return SpeechModel.load(io.BytesIO(data))
    f = Path(path) / MODEL_FILE
    if not f.is_file():
        raise DatabaseError(f"{MODEL_FILE} is missing; {fix}", path)
    if f.stat().st_size != meta.get("bytes") or (verify and sha256_file(f) != meta.get("sha256")):
        raise DatabaseError(f"{MODEL_FILE} fails its checksum (damaged or replaced); {fix}", path)
    return SpeechModel.load(f)


def fit_into(db, folder, model: SpeechModel | None = None) -> SpeechModel:
    """Fit ``model`` (default :class:`SpeechModel`) on ``db`` and store it in the database ``folder``.

    The model file is written beside the old one and renamed over it, then the
    manifest is replaced; a crash leaves the old model or the new one.
    """
    from ...database.sound import update_manifest

    model = (model or SpeechModel()).fit(db)
    folder = Path(folder)
    tmp = folder / f".{MODEL_FILE}.tmp"
    model.save(tmp)
    os.replace(tmp, folder / MODEL_FILE)
    update_manifest(folder, {MODEL_FILE: folder / MODEL_FILE},
                    {"speech_model": {**model.get_params(), "n_train": model.n_train_,
                                      "fit_seconds": round(model.fit_seconds_, 3),
                                      "fit_cpu_seconds": round(getattr(model, "fit_cpu_seconds_", float("nan")), 3)}})
    return use_model(db, model)


def fit_at_build(db, folder) -> None:
    """The database attachment (:mod:`sketchsynth.database.attachments`): fit the speech model when there is sound."""
    if getattr(db, "audio_", None) is not None:
        fit_into(db, folder)
