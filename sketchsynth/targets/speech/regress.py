"""Regressors from per-frame audio features to the normalized mouth and jaw.

Both map features ``X`` (n_frames, n_features) -- :func:`sketchsynth.targets.speech.features.frame_context`
windows -- to the normalized points :data:`sketchsynth.layout.SPEECH_POINTS` (jaw 0-16, lips
48-67), shape (n_frames, 37, 2), in the database's normalized coordinates.

- :class:`RidgeMouth`: standardized features -> ridge -> the first ``n_components`` principal
  components of the points (the components keep the prediction a plausible mouth shape).
- :class:`KNNMouth`: the mean points of the ``n_neighbors`` database frames whose features are
  nearest (after a PCA of the standardized features, for speed).
- :class:`RidgeKNNMouth`: the mean of the two, on features already reduced (the speech model's
  default, ``ridge+knn``).

Models save to ``.npz`` (plain arrays, parameters as a JSON string) and load with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from ...errors import InputError, ParameterError
from ...layout import SPEECH_POINTS


N_OUT = len(SPEECH_POINTS)


def training_xy(X, Y=None):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ParameterError(f"features must be a finite (n_frames, n_features) array, got shape {X.shape}")
    if Y is None:
        return X
    Y = np.asarray(Y, dtype=np.float32)
    if Y.shape[1:] != (N_OUT, 2) or len(Y) != len(X):
        raise ParameterError(f"targets must be ({len(X)}, {N_OUT}, 2) (SPEECH_POINTS x, y), got {Y.shape}")
    if not np.isfinite(Y).all():
        raise ParameterError("targets hold NaN: drop unusable frames before fitting")
    return X, Y.reshape(len(Y), -1)


def _pca(Z: np.ndarray, k: int | None):
    """Mean and the top-k principal directions (rows) of Z; all directions when k is None."""
    mean = Z.mean(axis=0)
    _, _, vt = np.linalg.svd((Z - mean).astype(np.float64), full_matrices=False)
    return mean.astype(np.float32), vt[:k].astype(np.float32) if k else vt.astype(np.float32)


class NpzModel:
    """save/load of fitted attributes as npz arrays; subclasses list them in ``_arrays``."""

    _params: tuple[str, ...] = ()
    _arrays: tuple[str, ...] = ()
    kind = ""

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._params}

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def _fitted(self):
        if not hasattr(self, self._arrays[0] + "_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")

    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters and fitted arrays to ``path`` (.npz, no pickle)."""
        self._fitted()
        arrays = {k: getattr(self, k + "_") for k in self._arrays}
        np.savez(path, kind=np.array(self.kind), params=np.array(json.dumps(self.get_params())), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a model :meth:`save` wrote.

        Raises
        ------
        InputError
            Not such a file, another model kind, or damaged.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["kind"]) != cls.kind:
                    raise InputError(f"holds a {str(z['kind'])!r} model, not {cls.kind!r}", path)
                m = cls(**json.loads(str(z["params"])))
                for k in cls._arrays:
                    setattr(m, k + "_", z[k])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"damaged or not a sketchsynth speech model ({type(e).__name__}: {e}); "
                             "refit it (sketchsynth fit-speech)", path) from None
        return m


class RidgeMouth(NpzModel):
    """Ridge regression from standardized features to PCA components of the mouth and jaw.

    Parameters
    ----------
    alpha : float
        Ridge penalty on standardized features (larger = smoother, less specific).
    n_components : int or None
        Principal components of the 74 point coordinates predicted; None predicts all.

    Attributes
    ----------
    x_mean_, x_scale_ : np.ndarray, shape (n_features,), float32
    y_mean_ : np.ndarray, shape (74,), float32
    components_ : np.ndarray, shape (n_components, 74), float32
    coef_ : np.ndarray, shape (n_features, n_components), float32
    """

    kind = "ridge-mouth"
    _params = ("alpha", "n_components")
    _arrays = ("coef", "x_mean", "x_scale", "y_mean", "components")

    def __init__(self, alpha: float = 1000.0, n_components: int | None = 20):
        self.alpha = alpha
        self.n_components = n_components

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "RidgeMouth":
        """Fit on features (n, n_features) and targets (n, 37, 2); returns self."""
        if not self.alpha >= 0:
            raise ParameterError(f"alpha must be >= 0, got {self.alpha}")
        X, Yf = training_xy(X, Y)
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = np.maximum(X.std(axis=0), 1e-6).astype(np.float32)
        Xs = (X - self.x_mean_) / self.x_scale_
        self.y_mean_, self.components_ = _pca(Yf, self.n_components)
        T = (Yf - self.y_mean_) @ self.components_.T
        G = Xs.T @ Xs
        G[np.diag_indices_from(G)] += self.alpha
        # Cholesky solve: G is symmetric positive definite for alpha > 0 (lstsq would cost more).
        try:
            self.coef_ = np.linalg.solve(G.astype(np.float64), (Xs.T @ T).astype(np.float64)).astype(np.float32)
        except np.linalg.LinAlgError:
            self.coef_ = np.linalg.lstsq(G.astype(np.float64), (Xs.T @ T).astype(np.float64),
                                         rcond=None)[0].astype(np.float32)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Features (n, n_features) -> points (n, 37, 2), float32, normalized coordinates."""
        self._fitted()
        X = training_xy(X)
        T = ((X - self.x_mean_) / self.x_scale_) @ self.coef_
        return (T @ self.components_ + self.y_mean_).reshape(len(X), N_OUT, 2)


class KNNMouth(NpzModel):
    """Mean mouth of the nearest database frames in (PCA-reduced, standardized) feature space.

    Parameters
    ----------
    n_neighbors : int
    n_components : int or None
        Feature PCA dimensions searched (None: all standardized features).
    weights : {"uniform", "distance"}
        Plain mean, or weights 1 / distance.

    Attributes
    ----------
    x_mean_, x_scale_ : np.ndarray, shape (n_features,)
    proj_ : np.ndarray, shape (n_features, n_components)
    bank_ : np.ndarray, shape (n_bank, n_components), float32
    targets_ : np.ndarray, shape (n_bank, 37, 2), float32
    """

    kind = "knn-mouth"
    _params = ("n_neighbors", "n_components", "weights")
    _arrays = ("bank", "targets", "x_mean", "x_scale", "proj")

    def __init__(self, n_neighbors: int = 10, n_components: int | None = 64, weights: str = "uniform"):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.weights = weights

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "KNNMouth":
        """Keep the features (n, n_features) and targets (n, 37, 2) of the bank; returns self."""
        if int(self.n_neighbors) != self.n_neighbors or self.n_neighbors < 1:
            raise ParameterError(f"n_neighbors must be a whole number >= 1, got {self.n_neighbors}")
        if self.weights not in ("uniform", "distance"):
            raise ParameterError(f"weights must be 'uniform' or 'distance', got {self.weights!r}")
        X, Yf = training_xy(X, Y)
        if len(X) < self.n_neighbors:
            raise ParameterError(f"n_neighbors {self.n_neighbors} > {len(X)} frames to fit on")
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = np.maximum(X.std(axis=0), 1e-6).astype(np.float32)
        Xs = (X - self.x_mean_) / self.x_scale_
        if self.n_components and self.n_components < X.shape[1]:
            # PCA directions from the covariance (n_features^2), cheaper than an SVD of the bank
            w, v = np.linalg.eigh((Xs.T @ Xs).astype(np.float64))
            self.proj_ = v[:, ::-1][:, : self.n_components].astype(np.float32)
        else:
            self.proj_ = np.eye(X.shape[1], dtype=np.float32)
        self.bank_ = np.ascontiguousarray(Xs @ self.proj_)
        self.targets_ = Yf.reshape(-1, N_OUT, 2)
        return self

    def _index(self):
        import faiss

        if getattr(self, "_faiss", None) is None or self._faiss.ntotal != len(self.bank_):
            self._faiss = faiss.IndexFlatL2(self.bank_.shape[1])
            self._faiss.add(np.ascontiguousarray(self.bank_, dtype=np.float32))
        return self._faiss

    def kneighbors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Squared distances and bank rows of the neighbours, each (n, n_neighbors)."""
        self._fitted()
        Z = np.ascontiguousarray(((training_xy(X) - self.x_mean_) / self.x_scale_) @ self.proj_, dtype=np.float32)
        return self._index().search(Z, int(self.n_neighbors))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Features (n, n_features) -> points (n, 37, 2), float32."""
        d2, idx = self.kneighbors(X)
        if self.weights == "uniform":
            w = np.ones_like(d2)
        else:
            w = 1.0 / np.maximum(np.sqrt(np.maximum(d2, 0)), 1e-6)
        w = w / w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkpc->npc", w, self.targets_[idx]).astype(np.float32)


class RidgeKNNMouth:
    """The mean of a ridge regressor's and a kNN's predictions.

    On GRID s1's validation fold the average beat either alone (benchmarks/speech_research.md): their
    errors differ (ridge smooths, kNN copies real mouths). The kNN searches the leading
    ``knn_components`` columns of its input as they are -- :class:`SpeechModel` feeds PCA components in
    order of variance, which re-standardizing would whiten (noise dimensions weighing as much as the
    main ones).

    Parameters
    ----------
    alpha : float
        Ridge penalty (:class:`sketchsynth.targets.speech.regress.RidgeMouth`).
    ridge_components : int
        Output PCA components of the ridge.
    n_neighbors : int
        kNN neighbours (their mouths are averaged).
    knn_components : int
        Leading input columns the kNN searches.

    Attributes
    ----------
    ridge_ : RidgeMouth
    bank_ : np.ndarray, shape (n, knn_components), float32
    targets_ : np.ndarray, shape (n, 37, 2), float32
    """

    kind = "ridge+knn-mouth"

    def __init__(self, alpha: float = 300.0, ridge_components: int = 20, n_neighbors: int = 10,
                 knn_components: int = 96):
        self.alpha, self.ridge_components = alpha, ridge_components
        self.n_neighbors, self.knn_components = n_neighbors, knn_components

    def get_params(self) -> dict:
        return {"alpha": self.alpha, "ridge_components": self.ridge_components, "n_neighbors": self.n_neighbors,
                "knn_components": self.knn_components}

    def fit(self, X, Y) -> "RidgeKNNMouth":
        if int(self.n_neighbors) != self.n_neighbors or not 1 <= self.n_neighbors <= len(X):
            raise ParameterError(f"n_neighbors must be a whole number within 1-{len(X)}, got {self.n_neighbors}")
        self.ridge_ = RidgeMouth(self.alpha, self.ridge_components).fit(X, Y)
        self.bank_ = np.ascontiguousarray(np.asarray(X)[:, :int(self.knn_components)], dtype=np.float32)
        self.targets_ = np.asarray(Y, np.float32)
        self._index = None
        return self

    def predict(self, X) -> np.ndarray:
        """Features (n, n_features) -> points (n, 37, 2), float32."""
        import faiss

        if getattr(self, "_index", None) is None:
            self._index = faiss.IndexFlatL2(self.bank_.shape[1])
            self._index.add(self.bank_)
        _, idx = self._index.search(np.ascontiguousarray(np.asarray(X)[:, :self.bank_.shape[1]], np.float32),
                                    int(self.n_neighbors))
        knn = self.targets_[idx].mean(axis=1)
        return (0.5 * (self.ridge_.predict(X) + knn)).astype(np.float32)

    def to_arrays(self) -> dict:
        return {**{f"ridge_{k}": getattr(self.ridge_, k + "_") for k in self.ridge_._arrays},
                "bank": self.bank_, "targets": self.targets_}

    @classmethod
    def from_arrays(cls, params: dict, arrays: dict) -> "RidgeKNNMouth":
        m = cls(**params)
        m.ridge_ = RidgeMouth(m.alpha, m.ridge_components)
        for k in m.ridge_._arrays:
            setattr(m.ridge_, k + "_", arrays["ridge_" + k])
        m.bank_, m.targets_, m._index = arrays["bank"], arrays["targets"], None
        return m
