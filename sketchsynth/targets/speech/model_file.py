"""A speech model on disk: ``speech_model.npz``, plain arrays (loaded with ``allow_pickle=False``) and its
parameters as JSON.

A database keeps its model in its folder, listed in the manifest with its sha256
(:mod:`sketchsynth.targets.speech.model_store`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import DatabaseError, InputError
from .model import SpeechModel


MODEL_FILE = "speech_model.npz"
"""The database's own-voice model."""
OTHER_MODEL_FILE = "speech_model_voices.npz"
"""The model for other voices (:mod:`sketchsynth.targets.speech.voices`)."""
MODEL_FORMAT = 1


def _regressor_arrays(reg) -> dict:
    """The regressor's state as arrays: its own npz (``save``) as bytes, ``to_arrays()``, or ``_arrays``."""
    import io

    if hasattr(reg, "save") and hasattr(type(reg), "load"):
        buf = io.BytesIO()
        reg.save(buf)
        return {"npz": np.frombuffer(buf.getvalue(), np.uint8)}
    if hasattr(reg, "to_arrays"):
        return dict(reg.to_arrays())
    return {k: getattr(reg, k + "_") for k in reg._arrays}


def _regressor_from_arrays(cls, params: dict, arrays: dict):
    import io

    if "npz" in arrays and hasattr(cls, "load"):
        return cls.load(io.BytesIO(arrays["npz"].tobytes()))
    if hasattr(cls, "from_arrays"):
        return cls.from_arrays(params, arrays)
    reg = cls(**params)
    for k in cls._arrays:
        setattr(reg, k + "_", arrays[k])
    return reg


def save_model(model, path) -> Path:
    """Write ``model`` as ``speech_model.npz`` (plain arrays; parameters as JSON)."""
    reg = {f"reg_{k}": np.asarray(v) for k, v in _regressor_arrays(model.regressor_).items()}
    reg_params = model.regressor_.get_params() if hasattr(model.regressor_, "get_params") else {}
    from ...io.npy import write_npz

    # No fit time in the file: its bytes must depend on the fit alone (the manifest keeps the time).
    meta = {"format": MODEL_FORMAT, "params": model.get_params(), "regressor_params_fitted": reg_params,
            "n_train": model.n_train_}
    if getattr(model, "calibration_", None) is not None:
        meta["calibration"] = model.calibration_.to_dict()
    with open(path, "wb") as fh:
        write_npz(fh, meta=np.array(json.dumps(meta)), x_mean=model.x_mean_, x_scale=model.x_scale_,
                  proj=model.proj_, bank=model.bank_, bank_rows=model.bank_rows_, mouth_mean=model.mouth_mean_,
                  nn_scale=np.float64(getattr(model, "nn_scale_", None) or np.nan), **reg)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def load_model(path, name: str = MODEL_FILE) -> SpeechModel:
    """Read a model :func:`save_model` wrote (``name``: the file's name in its database, for messages); damage
    raises DatabaseError naming fit-speech."""
    from .regressors import regressor_class

    where = os.path.dirname(os.path.abspath(path)) if isinstance(path, (str, os.PathLike)) else "DIR"
    fix = f"refit it with: sketchsynth fit-speech --db {where}"
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files}
        m = SpeechModel(**meta["params"])
        m.x_mean_, m.x_scale_, m.proj_ = arrays["x_mean"], arrays["x_scale"], arrays["proj"]
        m.bank_, m.bank_rows_ = arrays["bank"], arrays["bank_rows"]
        m.mouth_mean_ = arrays.get("mouth_mean")     # absent from older model files: see mean_mouth()
        scale = float(arrays["nn_scale"]) if "nn_scale" in arrays else float("nan")
        m.nn_scale_ = scale if np.isfinite(scale) and scale > 0 else None  # older files: a fixed blend
        m.n_train_, m.fit_seconds_ = int(meta["n_train"]), float(meta.get("fit_seconds", "nan"))
        reg = {k[4:]: v for k, v in arrays.items() if k.startswith("reg_")}
        m.calibration_ = None
        if meta.get("calibration"):
            from .calibrate import AmplitudeCalibration

            m.calibration_ = AmplitudeCalibration.from_dict(meta["calibration"])
        m.regressor_ = _regressor_from_arrays(regressor_class(m.regressor), meta["regressor_params_fitted"],
                                              reg)
    except (OSError, KeyError, ValueError, TypeError, EOFError, InputError) as e:
        raise DatabaseError(f"{name} is damaged ({type(e).__name__}); {fix}", path) from None
    return m
