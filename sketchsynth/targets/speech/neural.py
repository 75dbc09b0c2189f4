"""An MLP from audio context windows to the normalized mouth and jaw, trained on CPU with torch.

Training needs the optional extra ``torch`` (``pip install torch==2.13.0``: other torch
requirements pull a multi-GB CUDA build). Prediction runs in numpy, so a fitted model loads and
predicts without torch. The model is saved as an ``.npz`` of its weight arrays (no torch.save,
no pickle).

Architecture: standardized features -> fixed PCA projection (``n_components``; it makes an epoch
~6x cheaper than a first layer on the raw 1,680-dimensional windows) -> ``hidden`` layers of
ReLU with dropout -> the 74 standardized point coordinates. The loss is the squared error weighted
like the selection's target cost (lips 10, jaw 1), so the model spends its capacity where the
selection looks.
"""

from __future__ import annotations

import time
import zipfile

import numpy as np

from ...errors import ParameterError, require
from ...layout import GROUPS, SPEECH_POINTS
from .regress import N_OUT, NpzModel, training_xy


class MLPMouth(NpzModel):
    """Multi-layer perceptron audio -> mouth, fitted with Adam on CPU.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    n_components : int
        PCA dimensions of the standardized features fed to the network.
    dropout : float
        Dropout after every hidden layer (training only).
    epochs : int
        Passes over the training frames (stops earlier at ``max_seconds``).
    batch_size : int
    lr : float
        Adam learning rate (cosine-decayed to 0 over the epochs).
    weight_decay : float
        AdamW decoupled weight decay.
    seed : int
        Seeds torch and the batch order: refitting gives the same model.
    max_seconds : float
        Wall-clock training budget.
    point_weights : sequence of 37 float, optional
        Loss weight of each SPEECH_POINTS point; default lips 10, jaw 1.
    n_threads : int
        torch threads while training. One by default: on a shared 2-core machine under load,
        two threads ran an epoch 12x slower than one (their pool spins waiting for each other).

    Attributes
    ----------
    x_mean_, x_scale_ : np.ndarray, shape (n_features,)
    proj_ : np.ndarray, shape (n_features, n_components)
    y_mean_, y_scale_ : np.ndarray, shape (74,)
    weights_ : list of (W (n_in, n_out), b (n_out,)) float32 pairs, saved as ``W0, b0, W1, ...``
    n_epochs_ : int
        Epochs actually run.
    """

    kind = "mlp-mouth"
    _params = ("hidden", "n_components", "dropout", "epochs", "batch_size", "lr", "weight_decay", "seed",
               "max_seconds", "point_weights", "n_threads")
    _arrays = ("x_mean", "x_scale", "proj", "y_mean", "y_scale", "layers")

    def __init__(self, hidden=(512, 512), n_components: int = 256, dropout: float = 0.1, epochs: int = 30,
                 batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
                 max_seconds: float = 120.0, point_weights=None, n_threads: int = 1):
        self.hidden = hidden
        self.n_components = n_components
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.max_seconds = max_seconds
        self.point_weights = point_weights
        self.n_threads = n_threads

    def get_params(self) -> dict:
        p = super().get_params()
        p["hidden"] = [int(h) for h in p["hidden"]]
        if p["point_weights"] is not None:
            p["point_weights"] = [float(w) for w in p["point_weights"]]
        return p

    def fit(self, X: np.ndarray, Y: np.ndarray, progress=None) -> "MLPMouth":
        """Train on features (n, n_features) and targets (n, 37, 2); returns self."""
        torch = require("torch", "torch", "the neural audio-to-mouth model")
        if not all(int(h) >= 1 for h in self.hidden) or not 0 <= self.dropout < 1 or self.epochs < 1:
            raise ParameterError(f"MLPMouth: need hidden widths >= 1, 0 <= dropout < 1, epochs >= 1 ({self!r})")
        X, Yf = training_xy(X, Y)
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = np.maximum(X.std(axis=0), 1e-6).astype(np.float32)
        Xs = (X - self.x_mean_) / self.x_scale_
        k = min(int(self.n_components), X.shape[1])
        _, v = np.linalg.eigh((Xs.T @ Xs).astype(np.float64))
        # scaled to unit variance, so the network sees inputs of one size whatever the PCA rank
        Z = Xs @ v[:, ::-1][:, :k]
        zs = np.maximum(Z.std(axis=0), 1e-6)
        self.proj_ = (v[:, ::-1][:, :k] / zs).astype(np.float32)
        Z = (Z / zs).astype(np.float32)
        self.y_mean_ = Yf.mean(axis=0)
        self.y_scale_ = np.full(Yf.shape[1], Yf.std(axis=0).mean(), np.float32)  # one scale: keeps shapes
        T = ((Yf - self.y_mean_) / self.y_scale_).astype(np.float32)
        pw = (np.where(np.isin(SPEECH_POINTS, GROUPS["lips"]), 10.0, 1.0) if self.point_weights is None
              else np.asarray(self.point_weights, np.float64))
        if pw.shape != (N_OUT,) or not (pw >= 0).all() or pw.sum() <= 0:
            raise ParameterError(f"point_weights: need {N_OUT} non-negative weights, got shape {pw.shape}")
        loss_w = torch.tensor(np.repeat(pw / pw.mean(), 2), dtype=torch.float32)

        threads = torch.get_num_threads()
        torch.set_num_threads(int(self.n_threads))
        try:
            self._train(torch, Z, T, loss_w, progress)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, torch, Z, T, loss_w, progress):
        torch.manual_seed(int(self.seed))
        gen = np.random.default_rng(int(self.seed))
        layers, n_in = [], Z.shape[1]
        for h in self.hidden:
            layers += [torch.nn.Linear(n_in, int(h)), torch.nn.ReLU(), torch.nn.Dropout(self.dropout)]
            n_in = int(h)
        layers.append(torch.nn.Linear(n_in, T.shape[1]))
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = int(self.epochs) * int(np.ceil(len(Z) / self.batch_size))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
        Zt, Tt = torch.from_numpy(Z), torch.from_numpy(T)
        t0 = time.monotonic()
        self.n_epochs_ = 0
        net.train()
        for epoch in range(int(self.epochs)):
            order = torch.from_numpy(gen.permutation(len(Z)))
            for a in range(0, len(Z), int(self.batch_size)):
                b = order[a:a + int(self.batch_size)]
                opt.zero_grad()
                loss = (((net(Zt[b]) - Tt[b]) ** 2) * loss_w).mean()
                loss.backward()
                opt.step()
                sched.step()
            self.n_epochs_ = epoch + 1
            if progress is not None:
                progress(epoch, float(loss.detach()))
            if time.monotonic() - t0 > self.max_seconds:
                break
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        self.weights_ = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in lin]

    # the layer list is stored as flat arrays W0, b0, W1, b1, ... in the npz
    @property
    def layers_(self):
        return np.array(len(self.weights_))

    def save(self, path) -> None:
        """Write parameters and weight arrays to ``path`` (.npz, no pickle)."""
        import json

        self._fitted()
        arrays = {k: getattr(self, k + "_") for k in self._arrays}
        for i, (W, b) in enumerate(self.weights_):
            arrays[f"W{i}"], arrays[f"b{i}"] = W, b
        np.savez(path, kind=np.array(self.kind), params=np.array(json.dumps(self.get_params())), **arrays)

    @classmethod
    def load(cls, path) -> "MLPMouth":
        """Read a model :meth:`save` wrote (no torch needed)."""
        from ...errors import InputError

        m = cls.__new__(cls)
        try:
            with np.load(path, allow_pickle=False) as z:
                import json

                if str(z["kind"]) != cls.kind:
                    raise InputError(f"holds a {str(z['kind'])!r} model, not {cls.kind!r}", path)
                m.__init__(**json.loads(str(z["params"])))
                for k in ("x_mean", "x_scale", "proj", "y_mean", "y_scale"):
                    setattr(m, k + "_", z[k])
                m.weights_ = [(z[f"W{i}"], z[f"b{i}"]) for i in range(int(z["layers"]))]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"damaged or not a sketchsynth speech model ({type(e).__name__}: {e}); "
                             "refit it (sketchsynth fit-speech)", path) from None
        return m

    def _fitted(self):
        if not hasattr(self, "weights_"):
            raise RuntimeError("MLPMouth is not fitted: call fit() first")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Features (n, n_features) -> points (n, 37, 2), float32 (numpy forward pass)."""
        self._fitted()
        h = (((training_xy(X) - self.x_mean_) / self.x_scale_) @ self.proj_).astype(np.float32)
        for i, (W, b) in enumerate(self.weights_):
            h = h @ W + b
            if i < len(self.weights_) - 1:
                h = np.maximum(h, 0.0)
        return (h * self.y_scale_ + self.y_mean_).reshape(len(h), N_OUT, 2).astype(np.float32)
