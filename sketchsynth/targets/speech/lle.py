"""LLE manifold projection of audio features onto a speaker's own features (as in Live Speech Portraits).

LSP reconstructs each input feature vector from its K nearest neighbours among the target speaker's
features with locally linear embedding's barycentric weights (Roweis & Saul 2000) and blends the
reconstruction with the input, so features of another voice move onto the region of feature space
the speaker's mouth model was fitted on:

    w = argmin |x - sum_j w_j b_j|^2  subject to  sum_j w_j = 1
      = C^{-1} 1 / (1^T C^{-1} 1),  C = (B - x)(B - x)^T  (the K x K local Gram matrix)
    x' = blend * sum_j w_j b_j + (1 - blend) * x

C has rank <= D and is singular for near-duplicate neighbours (consecutive frames of a recording,
or K > D), so it is regularized: ``C += reg * trace(C) * I`` plus a tiny absolute floor, which keeps
exactly duplicate neighbours (trace 0) finite -- the weights are then uniform.
"""

from __future__ import annotations

import numpy as np

from ...errors import ParameterError


_ABS_EPS = 1e-12  # absolute ridge, in units of the features' mean squared norm: only matters when trace(C) == 0


def barycentric_weights(x: np.ndarray, neighbors: np.ndarray, reg: float = 1e-3) -> np.ndarray:
    """Regularized LLE reconstruction weights.

    Parameters
    ----------
    x : np.ndarray, shape (n, D)
        Points to reconstruct.
    neighbors : np.ndarray, shape (n, K, D)
        Each point's neighbours.
    reg : float
        Relative regularizer (times trace(C)).

    Returns
    -------
    np.ndarray, shape (n, K), float64
        Rows sum to 1.
    """
    x = np.asarray(x, dtype=np.float64)
    nb = np.asarray(neighbors, dtype=np.float64)
    Z = nb - x[:, None, :]                                  # (n, K, D)
    C = Z @ Z.transpose(0, 2, 1)                            # (n, K, K)
    K = C.shape[1]
    tr = np.trace(C, axis1=1, axis2=2)
    scale = np.mean(nb * nb) * nb.shape[2] + 1.0
    C[:, np.arange(K), np.arange(K)] += (reg * tr + _ABS_EPS * scale)[:, None]
    w = np.linalg.solve(C, np.ones((len(x), K, 1)))[..., 0]
    return w / w.sum(axis=1, keepdims=True)


MISMATCH_LO, MISMATCH_HI = 1.25, 1.5
"""Voice-distance ratios between which :func:`mismatch_blend` ramps from 0 to 1.

The ratio is an input's median distance from its frames' features to their nearest database
feature, over the database's own: the median distance from one of its frames to the nearest frame
recorded elsewhere (another recording, or more than 2 s away). On GRID s1 (a model fitted on 600
sentences): 100 held-out sentences of the same speaker 0.70-1.32 (5th-95th percentile; median 0.95,
max 1.46); 7 sentences of 7 other GRID speakers 1.55-2.19; 7 recordings of other people (16-48 kHz
wav) 1.62-2.90."""


def mismatch_blend(ratio: float, lo: float = MISMATCH_LO, hi: float = MISMATCH_HI) -> float:
    """How much of the LLE projection an input needs, from its voice-distance ratio (see :data:`MISMATCH_LO`).

    0 up to ``lo`` (the voice is the database speaker's own: the projection only blurs it -- on GRID s1's
    validation fold blend 0 / 0.5 / 1 gave own-voice selected-frame width r 0.567 / 0.553 / 0.538), 1 from
    ``hi`` on (another voice: opening r of 7 other speakers 0.539 / 0.550 / 0.588), linear between.
    """
    if not np.isfinite(ratio):
        return 1.0
    return float(np.clip((ratio - lo) / (hi - lo), 0.0, 1.0))


NN_SCALE_SAMPLE = 4000
"""Frames whose nearest other-moment neighbour sets :func:`own_nn_scale`."""
NN_SCALE_APART_S = 2.0
"""Frames of one recording closer in time than this are the same moment for :func:`own_nn_scale`."""


def own_nn_scale(bank: np.ndarray, recording: np.ndarray, time_s: np.ndarray, seed: int = 0) -> float | None:
    """Median distance from a bank frame to the nearest bank frame of another recording.

    How close the speaker's unseen speech comes to the bank: a frame's neighbours in its own recording
    are near-copies of it. A database of one recording takes its frames more than
    :data:`NN_SCALE_APART_S` apart instead. Measured on up to :data:`NN_SCALE_SAMPLE` frames among
    their 256 nearest.

    Parameters
    ----------
    bank : np.ndarray, shape (n, D)
        Features (the dimensions the LLE neighbour search runs on).
    recording : np.ndarray, shape (n,)
        Each frame's recording (any labels).
    time_s : np.ndarray, shape (n,)
        Each frame's time in its recording, s.

    Returns
    -------
    float, or None when no sampled frame has such a neighbour among its 256 nearest.
    """
    import faiss

    d = bank.shape[1]
    base = np.ascontiguousarray(bank, np.float32)
    if len(base) < 2:
        return None
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(base), min(NN_SCALE_SAMPLE, len(base)), replace=False)
    index = faiss.IndexFlatL2(d)
    index.add(base)
    dist, nb = index.search(base[sample], min(256, len(base)))
    if len(np.unique(recording)) > 1:
        other = recording[nb] != recording[sample, None]
    else:
        other = np.abs(time_s[nb] - time_s[sample, None]) > NN_SCALE_APART_S
    other &= nb >= 0
    has = other.any(axis=1)
    if not has.any():
        return None
    first = np.argmax(other[has], axis=1)
    scale = float(np.median(np.sqrt(np.maximum(dist[has][np.arange(has.sum()), first], 0))))
    return scale if scale > 0 else None


class LLEProjection:
    """Project features onto the locally linear span of a bank of the speaker's features.

    Parameters
    ----------
    n_neighbors : int
        K nearest bank features per input (LSP: 10).
    reg : float
        Regularizer relative to trace(C).
    blend : float
        1 = the reconstruction only, 0 = the input unchanged (LSP's blend ratio).

    Attributes
    ----------
    bank_ : np.ndarray, shape (n_bank, D), float32
    """

    def __init__(self, n_neighbors: int = 10, reg: float = 1e-3, blend: float = 1.0):
        self.n_neighbors = n_neighbors
        self.reg = reg
        self.blend = blend

    def __repr__(self):
        return f"LLEProjection(n_neighbors={self.n_neighbors}, reg={self.reg!r}, blend={self.blend!r})"

    def get_params(self) -> dict:
        return {"n_neighbors": self.n_neighbors, "reg": self.reg, "blend": self.blend}

    def fit(self, bank: np.ndarray) -> "LLEProjection":
        """Index the bank (n_bank, D) of the database's features; returns self."""
        if int(self.n_neighbors) != self.n_neighbors or self.n_neighbors < 1:
            raise ParameterError(f"n_neighbors must be a whole number >= 1, got {self.n_neighbors}")
        if not self.reg >= 0 or not 0 <= self.blend <= 1:
            raise ParameterError(f"need reg >= 0 and 0 <= blend <= 1, got {self.reg}, {self.blend}")
        bank = np.ascontiguousarray(bank, dtype=np.float32)
        if bank.ndim != 2 or len(bank) < self.n_neighbors or not np.isfinite(bank).all():
            raise ParameterError(f"bank must be a finite (n >= {self.n_neighbors}, D) array, got {bank.shape}")
        import faiss

        self.bank_ = bank
        self._index = faiss.IndexFlatL2(bank.shape[1])
        self._index.add(bank)
        return self

    def kneighbors(self, x: np.ndarray) -> np.ndarray:
        """Bank rows of each input's neighbours, (n, n_neighbors) int64."""
        if not hasattr(self, "bank_"):
            raise RuntimeError("LLEProjection is not fitted: call fit() first")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.bank_.shape[1]:
            raise ParameterError(f"features must be (n, {self.bank_.shape[1]}), got {x.shape}")
        return self._index.search(x, int(self.n_neighbors))[1]

    def transform(self, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Features (n, D) -> projected features (n, D), float32."""
        x = np.asarray(x, dtype=np.float32)
        out = np.empty_like(x)
        for a in range(0, len(x), chunk):
            xs = x[a:a + chunk]
            nb = self.bank_[self.kneighbors(xs)]
            w = barycentric_weights(xs, nb, self.reg)
            rec = np.einsum("nk,nkd->nd", w, nb)
            out[a:a + chunk] = self.blend * rec + (1.0 - self.blend) * xs
        return out
