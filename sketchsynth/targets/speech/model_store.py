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
from .model_file import MODEL_FILE, OTHER_MODEL_FILE, load_model, save_model


_MODELS = weakref.WeakKeyDictionary()
"""The speech models of each open database by file name, loaded once (or set by :func:`use_model`)."""


def use_model(db, model: SpeechModel | None, file: str = MODEL_FILE) -> SpeechModel | None:
    """Make ``model`` the one :func:`require_model` (``file``) gives for ``db`` (an evaluation's refit; None:
    no model for other voices)."""
    _MODELS.setdefault(db, {})[file] = model
    return model


def other_voice_model(db) -> SpeechModel | None:
    """The database's model for other voices (:mod:`sketchsynth.targets.speech.voices`), or None without one."""
    models = _MODELS.setdefault(db, {})
    if OTHER_MODEL_FILE not in models:
        models[OTHER_MODEL_FILE] = None
        if hasattr(db, "manifest_") and OTHER_MODEL_FILE in db.manifest_.get("files", {}):
            models[OTHER_MODEL_FILE] = require_model(db, OTHER_MODEL_FILE)
    return models[OTHER_MODEL_FILE]


def require_model(db, file: str = MODEL_FILE) -> SpeechModel:
    """The database's fitted speech model (``file``), or a DatabaseError naming the command that fits one."""
    require_audio(db)
    model = _MODELS.get(db, {}).get(file)
    if model is None and hasattr(db, "manifest_"):
        attached = getattr(db, "attached_", {}).get(file)
        model = open_model(getattr(db, "path_", None), db.manifest_, data=attached, file=file)
        if model is not None:
            _MODELS.setdefault(db, {})[file] = model
    if model is None:
        where = getattr(db, "path_", None)
        raise DatabaseError(f"the database has no fitted speech model; fit one with: sketchsynth fit-speech --db "
                            f"{where or 'DIR'}", where)
    return model


def open_model(path, man: dict, verify: bool = True, data: bytes | None = None,
               file: str = MODEL_FILE) -> SpeechModel | None:
    """The model ``file`` listed in a manifest (checked against its size and sha256), or None.

    ``data``: the file's bytes, held by an in-memory database whose folder is gone.
    """
    import hashlib
    import io

    from ...io.storage import sha256_file

    meta = man.get("files", {}).get(file)
    if meta is None:
        return None
    fix = f"refit it with: sketchsynth fit-speech --db {os.fspath(path) if path is not None else 'DIR'}"
    # a refit interrupted between its steps lists the model it was replacing too: either file is whole
    accepted = [meta] + ([meta["replacing"]] if isinstance(meta.get("replacing"), dict) else [])
    if data is not None:
        digest = hashlib.sha256(data).hexdigest() if verify else None
        if not any(len(data) == m.get("bytes") and (not verify or digest == m.get("sha256")) for m in accepted):
            raise DatabaseError(f"{file} fails its checksum (damaged or replaced); {fix}", path)
        return load_model(io.BytesIO(data), file)
    f = Path(path) / file
    if os.path.islink(f) or not f.is_file():
        raise DatabaseError(f"{file} is missing (or a symbolic link); {fix}", path)
    size = f.stat().st_size
    digest = sha256_file(f) if verify else None
    if not any(size == m.get("bytes") and (not verify or digest == m.get("sha256")) for m in accepted):
        raise DatabaseError(f"{file} fails its checksum (damaged or replaced); {fix}", path)
    return load_model(f, file)


def fit_into(db, folder, model: SpeechModel | None = None, file: str = MODEL_FILE) -> SpeechModel:
    """Fit ``model`` (default :class:`SpeechModel`) on ``db`` and store it in the database ``folder`` as ``file``.

    The model file is written beside the old one and renamed over it, then the
    manifest is replaced; a crash leaves the old model or the new one.
    """
    from ...database.sound import update_manifest

    from ...io.storage import exclusive_temp, sha256_file

    model = (model or SpeechModel()).fit(db)
    folder = Path(folder)
    final = folder / file
    tmp = exclusive_temp(folder, file)
    cal = getattr(model, "calibration_", None)
    section = {file.removesuffix(".npz"): {**model.get_params(), "n_train": model.n_train_,
                                "fit_seconds": round(model.fit_seconds_, 3),
                                "fit_cpu_seconds": round(getattr(model, "fit_cpu_seconds_", float("nan")), 3),
                                **({"calibration": {k: v for k, v in cal.to_dict().items() if k != "mean"}}
                                   if cal is not None else {})}}
    try:
        save_model(model, tmp)
        old = json.loads((folder / "manifest.json").read_text()).get("files", {}).get(file)
        if old is not None:
            # First a manifest that accepts the old file and the new one, then the file, then the manifest of
            # the new one alone: a kill anywhere in between leaves a database whose model file passes its check.
            new = {"bytes": tmp.stat().st_size, "sha256": sha256_file(tmp)}
            update_manifest(folder, {}, {}, entries={file: {**new, "replacing": old}})
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    update_manifest(folder, {file: final}, section)
    return use_model(db, model, file)
