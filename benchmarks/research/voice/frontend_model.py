"""The speech model on a pluggable front end (database side: the recordings' sound; input side: a driving sound).

:class:`FrontEndSpeechModel` is sketchsynth's :class:`~sketchsynth.speech_model.SpeechModel` (context windows ->
PCA -> LLE -> ridge+kNN) whose per-frame rows come from any front end of :mod:`voice_frontend` instead of the
stored log-mel. Only ``training_data`` and the input-side feature call change; PCA, LLE, regressors, the
voice-distance ratio and ``speech_target`` work unchanged.

:func:`route` is the per-input choice: the database's own model (log-mel) for the database speaker's own
voice, the speaker-independent model otherwise, decided by the existing voice-distance ratio.
"""
from __future__ import annotations

import time

import numpy as np

from sketchsynth.speech_model import SpeechModel, require_audio


class FrontEndSpeechModel(SpeechModel):
    """SpeechModel over a pluggable front end.

    Parameters
    ----------
    front : object
        A front end with ``fit(waves)``, ``database_features(waves) -> [[(F, t), ...] per warp]`` and
        ``input_features(y) -> (F, t)`` (:mod:`voice_frontend`).
    **kw
        :class:`SpeechModel` parameters (``cmvn`` must stay False: the front end normalizes).
    """

    def __init__(self, front=None, **kw):
        super().__init__(**kw)
        if isinstance(front, dict):          # as saved by get_params(): {"class": name, "params": {...}}
            front = front_end_from_params(front)
        self.front = front

    def get_params(self) -> dict:
        p = super().get_params()
        p["front"] = {"class": type(self.front).__name__, "params": self.front.get_params()}
        return p

    def __repr__(self):
        return "FrontEndSpeechModel(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def training_data(self, db):
        from sketchsynth.layout import SPEECH_POINTS

        audio = require_audio(db)
        names, times, usable = db.table_["recording"], db.table_["time_s"], db.table_["usable"]
        firsts = {r["name"]: (int(r["first_row"]), int(r["n_frames"])) for r in db.recordings_}
        entries, rows = [], []
        for e in audio.recordings():
            a, n = firsts[e["name"]]
            r = np.arange(a, a + n)
            r = r[usable[r] & (audio.mel_index[r] >= 0) & (names[r] == e["name"])]
            if len(r):
                entries.append(e)
                rows.append(r)
        waves = [audio.samples(e) for e in entries]
        t0 = time.process_time()
        self.front.fit(waves)
        per_warp = self.front.database_features(waves)
        self.front_cpu_seconds_ = time.process_time() - t0
        Xs, R = [], []
        for feats in per_warp:
            for (F, t), r in zip(feats, rows):
                Xs.append(self.context(F, t, times[r]))
                R.append(r)
        R = np.concatenate(R)
        Y = np.asarray(db.normalized_[R][:, SPEECH_POINTS], np.float32)
        return np.concatenate(Xs), Y, R

    def input_context(self, y: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
        """Context windows of a driving sound (16 kHz float32) at the given frame times, (T, n_features)."""
        F, t = self.front.input_features(y)
        return self.context(F, t, frame_times)


def front_end_from_params(spec: dict):
    """A front end from ``{"class": name, "params": {...}}`` (what :meth:`FrontEndSpeechModel.get_params` saves).

    Only the parameters are saved; the warp-scoring GMM of a ``vtln`` front end is refitted by ``fit``."""
    import voice_frontend as vf

    cls = {"SpectralFrontEnd": vf.SpectralFrontEnd, "PhoneFrontEnd": vf.PhoneFrontEnd}[spec["class"]]
    params = dict(spec["params"])
    for k in ("warp_grid", "train_warps"):
        if k in params:
            params[k] = tuple(params[k])
    return cls(**params)


def baseline_context(db, y, frame_times):
    """The frozen model's own input features (LSP log-mel of the database's settings)."""
    from sketchsynth.speech.features import LogMel
    from sketchsynth.speech_model import require_model

    front = LogMel(**db.audio_.info["features"])
    mel = front.transform(y)
    return require_model(db).context(mel, front.times_, frame_times)


def voice_ratio(model, Z: np.ndarray) -> float:
    """The voice-distance ratio of reduced features (T, n_components) against ``model``'s bank."""
    info = {}
    model.project(Z, info)
    return float(info.get("voice_distance_ratio") or np.nan)


ROUTE_RATIO = 1.5
"""Voice-distance ratio (of the database's own log-mel model) from which an input counts as another voice.
sketchsynth.speech.lle.MISMATCH_HI: GRID s1 held-out sentences 0.72-1.53 (5th-95th pct. well below 1.5),
other voices 1.55-3.4 on every clip measured here."""


def route(db, y: np.ndarray, frame_times: np.ndarray, other, threshold: float = ROUTE_RATIO):
    """Pick the model for one driving sound: the database's own log-mel model when the voice is the database
    speaker's (voice-distance ratio below ``threshold``), else ``other`` (a fitted FrontEndSpeechModel).

    Returns
    -------
    model : SpeechModel
    X : np.ndarray, shape (T, n_features)
        That model's context windows for the input.
    ratio : float
        The voice-distance ratio measured with the database's own model.
    """
    from sketchsynth.speech_model import require_model

    base = require_model(db)
    Xb = baseline_context(db, y, frame_times)
    ratio = voice_ratio(base, base.reduce(Xb))
    if np.isfinite(ratio) and ratio < threshold:
        return base, Xb, ratio
    return other, other.input_context(y, frame_times), ratio
