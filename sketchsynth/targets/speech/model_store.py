"""A database's speech model in its folder: fitted into it (atomically, listed in the manifest), opened once and
checked."""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

from ...errors import DatabaseError
from .audio_check import require_audio
from .model import SpeechModel
from .model_file import MODEL_FILE, load_model, save_model


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
    # a refit interrupted between its steps lists the model it was replacing too: either file is whole
    accepted = [meta] + ([meta["replacing"]] if isinstance(meta.get("replacing"), dict) else [])
    if data is not None:
        digest = hashlib.sha256(data).hexdigest() if verify else None
        if not any(len(data) == m.get("bytes") and (not verify or digest == m.get("sha256")) for m in accepted):
            raise DatabaseError(f"{MODEL_FILE} fails its checksum (damaged or replaced); {fix}", path)
        return load_model(io.BytesIO(data))
    f = Path(path) / MODEL_FILE
    if os.path.islink(f) or not f.is_file():
        raise DatabaseError(f"{MODEL_FILE} is missing (or a symbolic link); {fix}", path)
    size = f.stat().st_size
    digest = sha256_file(f) if verify else None
    if not any(size == m.get("bytes") and (not verify or digest == m.get("sha256")) for m in accepted):
        raise DatabaseError(f"{MODEL_FILE} fails its checksum (damaged or replaced); {fix}", path)
    return load_model(f)


def fit_into(db, folder, model: SpeechModel | None = None) -> SpeechModel:
    """Fit ``model`` (default :class:`SpeechModel`) on ``db`` and store it in the database ``folder``.

    The model file is written beside the old one and renamed over it, then the
    manifest is replaced; a crash leaves the old model or the new one.
    """
    from ...database.sound import update_manifest

    from ...io.storage import exclusive_temp, sha256_file

    model = (model or SpeechModel()).fit(db)
    folder = Path(folder)
    final = folder / MODEL_FILE
    tmp = exclusive_temp(folder, MODEL_FILE)
    section = {"speech_model": {**model.get_params(), "n_train": model.n_train_,
                                "fit_seconds": round(model.fit_seconds_, 3),
                                "fit_cpu_seconds": round(getattr(model, "fit_cpu_seconds_", float("nan")), 3)}}
    try:
        save_model(model, tmp)
        old = json.loads((folder / "manifest.json").read_text()).get("files", {}).get(MODEL_FILE)
        if old is not None:
            # First a manifest that accepts the old file and the new one, then the file, then the manifest of
            # the new one alone: a kill anywhere in between leaves a database whose model file passes its check.
            new = {"bytes": tmp.stat().st_size, "sha256": sha256_file(tmp)}
            update_manifest(folder, {}, {}, entries={MODEL_FILE: {**new, "replacing": old}})
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    update_manifest(folder, {MODEL_FILE: final}, section)
    return use_model(db, model)
