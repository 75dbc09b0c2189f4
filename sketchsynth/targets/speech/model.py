"""A database's own voice-to-mouth model: fitted on its recordings, saved beside them as ``speech_model.npz``.

The model chains the speech stages of :mod:`sketchsynth.targets.speech`:

1. LSP's log-mel front end (stored in the database at build time, recomputed
   for an input) stacked per video frame over ``[t - past, t + delay]``
   (:func:`~sketchsynth.targets.speech.features.frame_context`; ``delay`` is LSP's
   look-ahead, 300 ms);
2. standardization and a PCA to ``n_components`` dimensions (the space the LLE
   bank lives in, small enough to search 60 s of input in a fraction of a second);
3. LLE projection onto the database's own features (K neighbours, found on the
   leading 64 PCA dimensions, regularized barycentric weights over all of them;
   ``lle_blend`` = 1 the reconstruction only, 0 off) --
   applied to inputs only, as LSP does, never to the frames it was fitted on;
   with ``lle_auto`` only as much as the input's voice needs: none for the
   database speaker's own voice, all of ``lle_blend`` for another's
   (:func:`sketchsynth.targets.speech.lle.mismatch_blend`);
4. a regressor from the (projected) features to the normalized jaw + lips
   (:data:`sketchsynth.layout.SPEECH_POINTS`): ``ridge``, ``knn`` or a third-party
   regressor registered in the ``sketchsynth.pipeline.stages`` entry-point group.

``speech_model.npz`` (:mod:`sketchsynth.targets.speech.model_file`) holds plain arrays (loaded with
``allow_pickle=False``) and its parameters as JSON; the manifest lists it with its own sha256, checked at
every load, so a damaged file is a one-line error naming ``fit-speech``.
"""

from __future__ import annotations

import time

import numpy as np

from ...errors import DatabaseError, ParameterError


LLE_SEARCH_DIMS = 64
"""Leading PCA dimensions the LLE neighbour search runs on."""
BANK_DIMS_WITHOUT_LLE = 96
"""Leading PCA dimensions a model without LLE keeps in its bank: what the audio term and the voice ratio read
(a 400-dimensional bank would be 95 MB of a 40-minute database's file for nothing)."""


class SpeechModel:
    """Audio features -> normalized jaw and lips, fitted on one database.

    Parameters
    ----------
    regressor : str
        ``"ridge+knn"`` (the mean of both, default), ``"ridge"``, ``"knn"``, ``"mlp"`` or the name of a
        stage in the ``sketchsynth.pipeline.stages``
        entry-point group (a class with ``fit(X, Y)``, ``predict(X)``, and
        ``to_arrays()`` / ``from_arrays(params, arrays)`` or an ``_arrays`` tuple).
    regressor_params : dict, optional
        Its constructor's keyword arguments.
    delay_ms : float
        Look-ahead of the context window (LSP's delay: 300 ms; 480 ms did better on GRID s1's
        validation fold, benchmarks/speech_research.md), ms.
    past_ms : float
        Context before the frame, ms.
    step_ms : float
        Spacing of the stacked mel frames, ms.
    n_components : int
        PCA dimensions of the standardized context (the regressor's input).
    lle_neighbors : int
    lle_reg : float
        Regularizer of the barycentric weights, relative to the local Gram trace.
    lle_blend : float
        0 = no projection, 1 = the projection only (with ``lle_auto``: the most an input gets).
    lle_auto : bool
        Blend each input as much as its voice differs from the database's: its median nearest-feature
        distance over ``nn_scale_`` (:func:`sketchsynth.targets.speech.lle.mismatch_blend`); False: always
        ``lle_blend``.
    cmvn : bool
        Subtract each recording's (each input's) mean log-mel spectrum first (removes channel and
        loudness differences between takes).
    long_ms : float
        0, or the half-width (ms) of a long window whose mean log-mel spectrum is appended to every
        frame's context: the sentence-level part of the sound, which the lip width follows.
    front_end : dict, optional
        The model's own feature extractor, ``{"name": registry name, **parameters}``
        (:data:`sketchsynth.database.speech_features.FEATURES`), computed from the database's recorded sound at
        fit time and from an input's sound at match time; None: the database's stored features (``mel.npy``).
    augment_warps : tuple of float
        With ``front_end``: the database side is computed at each of these vocal-tract warps (the extractor's
        ``warp`` parameter) and the regressor fitted on all of them -- several "voices" of the speaker; the LLE
        bank and the audio term keep the rows of warp 1 (or the first warp).
    amplitude_factor : float, optional
        Fit an amplitude calibration for other voices (``calibration_``) whose reference is the recordings'
        median opening spread times this factor: the own kind of model's predicted over true spread on the
        speaker's held-out recordings (:func:`sketchsynth.targets.speech.voices.heldout_spread_factor`).

    Attributes
    ----------
    x_mean_, x_scale_ : np.ndarray, shape (n_features,), float32
    proj_ : np.ndarray, shape (n_features, n_components), float32
    bank_ : np.ndarray, shape (n_bank, n_components), float32
        The database frames' projected features (the LLE bank).
    bank_rows_ : np.ndarray, shape (n_bank,), int64
        Their database rows.
    mouth_mean_ : np.ndarray, shape (37, 2), float32
        Mean normalized SPEECH_POINTS of the training frames (what a speech target's gain expands from).
    nn_scale_ : float
        Median distance (leading LLE_SEARCH_DIMS dimensions) from a training frame to the nearest bank
        frame of another recording: how close the speaker's own unseen speech lies to the bank
        (:func:`sketchsynth.targets.speech.lle.own_nn_scale`).
    regressor_ : object
    calibration_ : AmplitudeCalibration or None
        With ``amplitude_factor``: the gain a prediction gets (:mod:`sketchsynth.targets.speech.calibrate`).
    fit_seconds_ : float
    """

    def __init__(self, regressor: str = "ridge+knn", regressor_params: dict | None = None, delay_ms: float = 480.0,
                 past_ms: float = 320.0, step_ms: float = 40.0, n_components: int = 400, lle_neighbors: int = 10,
                 lle_reg: float = 1e-3, lle_blend: float = 1.0, cmvn: bool = False,
                 long_ms: float = 0.0, lle_auto: bool = True, front_end: dict | None = None,
                 augment_warps=(1.0,), amplitude_factor: float | None = None):
        self.regressor = regressor
        self.regressor_params = regressor_params
        self.delay_ms = delay_ms
        self.past_ms = past_ms
        self.step_ms = step_ms
        self.n_components = n_components
        self.lle_neighbors = lle_neighbors
        self.lle_reg = lle_reg
        self.lle_blend = lle_blend
        self.lle_auto = lle_auto
        self.cmvn = cmvn
        self.long_ms = long_ms
        self.front_end = front_end
        self.augment_warps = tuple(augment_warps)
        self.amplitude_factor = amplitude_factor

    def get_params(self) -> dict:
        return {"regressor": self.regressor, "regressor_params": self.regressor_params, "delay_ms": self.delay_ms,
                "past_ms": self.past_ms, "step_ms": self.step_ms, "n_components": self.n_components,
                "lle_neighbors": self.lle_neighbors, "lle_reg": self.lle_reg, "lle_blend": self.lle_blend,
                "lle_auto": self.lle_auto,
                "cmvn": self.cmvn, "long_ms": self.long_ms, "front_end": self.front_end,
                "augment_warps": list(self.augment_warps), "amplitude_factor": self.amplitude_factor}

    def __repr__(self):
        return "SpeechModel(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def check(self) -> "SpeechModel":
        """Validate the parameters (and that the regressor exists); raises ParameterError."""
        from .regressors import regressor_class

        for name, option in (("delay_ms", "--lookahead-ms"), ("past_ms", "--past-ms")):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 <= v <= 2000):
                raise ParameterError(f"{option} must be within 0-2000 ms, got {v}")
        if not (np.isfinite(self.long_ms) and 0 <= self.long_ms <= 10000):
            raise ParameterError(f"--long-ms must be within 0-10000 ms, got {self.long_ms}")
        if not (np.isfinite(self.step_ms) and 5 <= self.step_ms <= 500):
            raise ParameterError(f"step must be within 5-500 ms, got {self.step_ms}")
        if int(self.lle_neighbors) != self.lle_neighbors or self.lle_neighbors < 1:
            raise ParameterError(f"--lle-neighbors must be a whole number >= 1, got {self.lle_neighbors}")
        if not 0 <= self.lle_blend <= 1:
            raise ParameterError(f"--lle-blend must be within 0-1, got {self.lle_blend}")
        if not isinstance(self.lle_auto, (bool, np.bool_)):
            raise ParameterError(f"lle_auto must be true or false, got {self.lle_auto!r}")
        if int(self.n_components) != self.n_components or self.n_components < 1:
            raise ParameterError(f"n_components must be a whole number >= 1, got {self.n_components}")
        regressor_class(self.regressor)
        if self.front_end is not None:
            if not isinstance(self.front_end, dict) or not isinstance(self.front_end.get("name"), str):
                raise ParameterError(f"front_end must be {{'name': extractor, **parameters}}, got {self.front_end!r}")
            self.extractor(None)
        if not self.augment_warps or not all(np.isfinite(w) and 0.5 <= w <= 2 for w in self.augment_warps):
            raise ParameterError(f"augment_warps must be warps within 0.5-2, got {self.augment_warps}")
        if self.front_end is None and tuple(self.augment_warps) != (1.0,):
            raise ParameterError("augment_warps needs a front_end whose extractor takes a warp")
        f = self.amplitude_factor
        if f is not None and (isinstance(f, bool) or not isinstance(f, (int, float)) or not np.isfinite(f) or f <= 0):
            raise ParameterError(f"amplitude_factor must be a number above 0 (or None), got {f!r}")
        return self

    # ------------------------------------------------------------------ features
    def extractor(self, db, warp: float | None = None):
        """The feature extractor of the model's input side: its ``front_end`` (at ``warp``), or the database's."""
        from ...database.speech_features import extractor_of, make_extractor

        if self.front_end is None:
            return extractor_of(db.audio_.info["features"])
        params = {k: v for k, v in self.front_end.items() if k != "name"}
        if warp is not None and warp != 1.0:
            params["warp"] = float(warp)
        return make_extractor(self.front_end["name"], **params)

    def features(self, db, samples: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
        """Context windows of a sound (16 kHz mono float32) at the given frame times, (n_frames, n_features)."""
        front = self.extractor(db)
        F = front.transform(samples)
        return self.context(F, front.times_, frame_times)

    def context(self, mel: np.ndarray, mel_times: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
        """Per-frame context windows, shape (n_frames, n_ctx * 80), float32."""
        from .features import frame_context, window_mean

        if self.cmvn:
            mel = np.asarray(mel, np.float32) - np.asarray(mel, np.float32).mean(axis=0, keepdims=True)
        X = frame_context(mel, mel_times, frame_times, self.past_ms / 1000, self.delay_ms / 1000,
                          self.step_ms / 1000)
        if self.long_ms > 0:
            X = np.concatenate([X, window_mean(mel, mel_times, frame_times, self.long_ms / 1000)], axis=1)
        return X

    def reduce(self, X: np.ndarray) -> np.ndarray:
        """Context windows (n, n_features) -> standardized PCA features (n, n_components), float32."""
        if X.shape[1] != self.x_mean_.shape[0]:
            raise DatabaseError(f"the speech model expects {self.x_mean_.shape[0]} features per frame, the front "
                                f"end gives {X.shape[1]} (fitted by another sketchsynth version); refit it with: "
                                "sketchsynth fit-speech --db DIR")
        return np.ascontiguousarray(((X - self.x_mean_) / self.x_scale_) @ self.proj_, dtype=np.float32)

    def training_data(self, db, recordings=None):
        """Context windows X (n, n_features), normalized SPEECH_POINTS Y (n, 37, 2) and database rows (n,) of the
        usable frames with sound (:func:`~sketchsynth.targets.speech.features.training_windows`)."""
        from .features import training_windows

        return training_windows(self, db, recordings)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, db, recordings=None) -> "SpeechModel":
        """Fit on a database's usable frames that have sound (of ``recordings`` only, when given); returns self."""
        from .regressors import regressor_class

        self.check()
        t0, c0 = time.perf_counter(), time.process_time()
        X, Y, rows = self.training_data(db, recordings)
        self.x_mean_ = X.mean(axis=0).astype(np.float32)
        self.x_scale_ = np.maximum(X.std(axis=0), 1e-3).astype(np.float32)
        # Standardized and projected in place (what reduce() computes): the windows are held once, not 3 times.
        X -= self.x_mean_
        X /= self.x_scale_
        k = min(int(self.n_components), X.shape[1], len(X))
        # PCA from the covariance (n_features^2 memory), cheaper than an SVD of the frames
        _, v = np.linalg.eigh((X.T @ X).astype(np.float64))
        self.proj_ = np.ascontiguousarray(v[:, ::-1][:, :k], dtype=np.float32)
        Z = np.ascontiguousarray(X @ self.proj_, dtype=np.float32)
        del X
        self.regressor_ = regressor_class(self.regressor)(**(self.regressor_params or {})).fit(Z, Y)
        self.mouth_mean_ = Y.astype(np.float64).mean(axis=0).astype(np.float32)
        n = len(rows) // len(self.augment_warps)
        w = self.augment_warps.index(1.0) if 1.0 in self.augment_warps else 0
        Z, rows = Z[w * n:(w + 1) * n], rows[w * n:(w + 1) * n]   # the bank: the database's own voice once
        if self.lle_blend <= 0:
            Z = Z[:, :BANK_DIMS_WITHOUT_LLE]
        self.bank_, self.bank_rows_ = np.ascontiguousarray(Z), rows.astype(np.int64)
        from .lle import own_nn_scale

        self.nn_scale_ = own_nn_scale(Z[:, :LLE_SEARCH_DIMS], np.asarray(db.table_.codes)[rows],
                                      np.asarray(db.table_["time_s"])[rows])
        self.n_train_ = int(len(rows))
        self.fit_seconds_ = time.perf_counter() - t0
        self.fit_cpu_seconds_ = time.process_time() - c0
        self._lle = None
        self.calibration_ = None
        if self.amplitude_factor is not None:
            from .calibrate import AmplitudeCalibration, recording_mouths

            self.calibration_ = AmplitudeCalibration().fit(recording_mouths(db, rows), self.mouth_mean_,
                                                           float(self.amplitude_factor))
        return self

    def project(self, Z: np.ndarray, info: dict | None = None) -> np.ndarray:
        """LLE projection of reduced features onto the bank, blended by ``lle_blend`` (n, n_components).

        With ``lle_auto`` (and a model that knows ``nn_scale_``) the blend is ``lle_blend`` times
        :func:`~sketchsynth.targets.speech.lle.mismatch_blend` of the input's voice-distance ratio; ``info``
        receives ``{"blend": used, "voice_distance_ratio": ratio}``."""
        info = {} if info is None else info
        info["blend"], info["voice_distance_ratio"] = 0.0, None
        if self.lle_blend <= 0 or not len(Z):
            return Z
        from .lle import barycentric_weights

        # Neighbours are searched on the leading PCA dimensions (most of the variance, a fraction of the
        # cost: 60 s of input against 75k frames in ~0.1 s); the weights reconstruct all of them.
        d = min(LLE_SEARCH_DIMS, self.bank_.shape[1])
        self._bank_index()
        from .lle import mismatch_blend

        k = min(int(self.lle_neighbors), len(self.bank_))
        near, nbs = [], []
        for a in range(0, len(Z), 4096):
            dist, nb = self._lle.search(np.ascontiguousarray(Z[a:a + 4096, :d]), k)
            near.append(np.sqrt(np.maximum(dist[:, 0], 0)))
            nbs.append(nb)
        blend = float(self.lle_blend)
        scale = getattr(self, "nn_scale_", None)
        if self.lle_auto and scale:
            ratio = float(np.median(np.concatenate(near))) / float(scale)
            blend *= mismatch_blend(ratio)
            info["voice_distance_ratio"] = ratio
        info["blend"] = blend
        if blend <= 0:
            return Z
        out = np.empty_like(Z)
        for i, a in enumerate(range(0, len(Z), 4096)):
            z = Z[a:a + 4096]
            nbz = np.asarray(self.bank_[nbs[i]], np.float64)
            w = barycentric_weights(z, nbz, float(self.lle_reg))
            out[a:a + 4096] = blend * np.einsum("nk,nkd->nd", w, nbz) + (1 - blend) * z
        return out

    def _bank_index(self):
        """The FAISS index of the bank's leading LLE_SEARCH_DIMS dimensions, made once."""
        import faiss

        if getattr(self, "_lle", None) is None:
            d = min(LLE_SEARCH_DIMS, self.bank_.shape[1])
            self._lle = faiss.IndexFlatL2(d)
            self._lle.add(np.ascontiguousarray(self.bank_[:, :d], dtype=np.float32))
        return self._lle

    def voice_ratio(self, Z: np.ndarray) -> float | None:
        """How far an input's voice lies from the database's: the median distance of its reduced features
        (n, n_components) to their nearest bank frame over ``nn_scale_`` (about 1 for the database speaker's
        own unseen speech); None for a model that does not know ``nn_scale_``."""
        scale = getattr(self, "nn_scale_", None)
        if not scale or not len(Z):
            return None
        d = min(LLE_SEARCH_DIMS, self.bank_.shape[1])
        dist, _ = self._bank_index().search(np.ascontiguousarray(Z[:, :d], dtype=np.float32), 1)
        return float(np.median(np.sqrt(np.maximum(dist[:, 0], 0)))) / float(scale)

    def predict(self, X: np.ndarray, timings: dict | None = None, reduced: np.ndarray | None = None) -> np.ndarray:
        """Context windows (n, n_features) -> normalized SPEECH_POINTS (n, 37, 2), float32.

        ``reduced``: :meth:`reduce` of ``X`` when already computed."""
        t = {} if timings is None else timings
        t0 = time.perf_counter()
        lle = {}
        Z = self.project(self.reduce(X) if reduced is None else reduced, lle)
        t1 = time.perf_counter()
        t["lle"] = lle
        Y = np.asarray(self.regressor_.predict(Z), np.float32)
        t["projection_s"] = t1 - t0
        t["regression_s"] = time.perf_counter() - t1
        return Y

    def with_blend(self, blend: float) -> "SpeechModel":
        """A copy with a fixed LLE blend instead of the voice-distance rule (a TTS voice's)."""
        import copy

        if float(blend) > 0 and self.bank_.shape[1] < self.proj_.shape[1]:
            raise ParameterError("this speech model was fitted without LLE and keeps no bank to project onto; "
                                 "refit it with an LLE blend: sketchsynth fit-speech --db DIR")
        m = copy.copy(self)
        m.lle_blend, m.lle_auto = float(blend), False
        m._lle = None if float(blend) != float(self.lle_blend) else getattr(self, "_lle", None)
        return m

    def mean_mouth(self, db) -> np.ndarray:
        """Mean normalized SPEECH_POINTS of the training frames, shape (37, 2), float32."""
        if getattr(self, "mouth_mean_", None) is None:
            from ...layout import SPEECH_POINTS

            rows = np.asarray(self.bank_rows_)
            self.mouth_mean_ = np.asarray(db.normalized_[rows][:, SPEECH_POINTS, :2], np.float64).mean(0) \
                .astype(np.float32)
        return self.mouth_mean_

    def describe(self) -> str:
        return (f"{self.regressor} regressor on {self.n_train_} frames, context -{self.past_ms:g}..+{self.delay_ms:g}"
                f" ms, {self.proj_.shape[1]} PCA dims, LLE K={self.lle_neighbors} blend "
                + (f"by voice (0-{self.lle_blend:g})" if self.lle_auto and getattr(self, "nn_scale_", None)
                   else f"{self.lle_blend:g}"))


