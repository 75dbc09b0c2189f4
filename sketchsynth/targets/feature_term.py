"""An extra term of the target cost: how far a database frame's features are from the input frame's.

Keypoint distance alone cannot tell apart database frames whose mouths look alike but were
recorded saying different things; a speech-driven match can: it has the input's sound and the
database has its own. :class:`FeatureTerm` adds, for input frame t and database row r,

    weight * |query[t] - bank[pos[r]]|^2

to the target cost (``weight * missing`` for rows without features). The selector re-ranks the
prefilter's candidates with it (:func:`rerank_with`) and the decoder adds it to every lattice state
(:func:`sketchsynth.selection.kernels.viterbi_lattice`), recorded successors included, so the two agree.

The weight is set relative to the input's own costs (:meth:`FeatureTerm.scaled`), as the decoder's
jump cost is: ``beta`` = 1 makes the term's median over the input's best candidates equal to their
median keypoint cost, so one ``beta`` carries over between databases and inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError


@dataclass
class FeatureTerm:
    """Per-input-frame features against per-database-row features.

    Attributes
    ----------
    query : np.ndarray, shape (T, D), float32
        The input's features, one row per input frame.
    bank : np.ndarray, shape (M, D), float32
        Database features.
    pos : np.ndarray, shape (n_db_frames,), int64
        Row of ``bank`` for each database row; -1 where a frame has none (no sound).
    beta : float
        Relative weight (see :meth:`scaled`); 0 disables the term.
    weight : float
        Absolute weight in target-cost units; set by :meth:`scaled`.
    missing : float
        Squared distance charged to rows without features (before ``weight``); set by :meth:`scaled`.
    """

    query: np.ndarray
    bank: np.ndarray
    pos: np.ndarray
    beta: float
    weight: float = 0.0
    missing: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.beta) and self.beta >= 0):
            raise ParameterError(f"the feature term's weight must be >= 0, got {self.beta}")
        if self.query.ndim != 2 or self.bank.ndim != 2 or self.query.shape[1] != self.bank.shape[1]:
            raise ParameterError(f"feature shapes disagree: input {self.query.shape}, database {self.bank.shape}")

    def distances(self, t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Squared feature distances, unweighted: input frames ``t`` (n,) against database ``rows`` (n, k).

        Rows without features (and -1 padding) get ``missing``. Returns (n, k) float64.
        """
        rows = np.asarray(rows)
        p = np.where(rows >= 0, self.pos[np.maximum(rows, 0)], -1)
        q = np.asarray(self.query[np.asarray(t)], np.float64)
        out = np.full(rows.shape, float(self.missing))
        for j in range(rows.shape[1]):  # column by column: (n, D) at a time, not (n, k, D)
            ok = p[:, j] >= 0
            if ok.any():
                d = q[ok] - self.bank[p[ok, j]]
                out[ok, j] = np.einsum("nd,nd->n", d, d)
        return out

    def scaled(self, t: np.ndarray, best_rows: np.ndarray, best_cost: np.ndarray) -> "FeatureTerm":
        """Set ``weight`` and ``missing`` from the input's best candidates (input frames ``t``, their
        best database rows and keypoint costs): ``weight = beta * median(cost) / median(distance)``,
        ``missing`` = the median distance. Returns self."""
        rows = np.asarray(best_rows)
        has = rows >= 0
        has[has] = self.pos[rows[has]] >= 0
        d = self.distances(np.asarray(t)[has], rows[has][:, None])[:, 0]
        med_d = float(np.median(d)) if len(d) else 0.0
        med_c = float(np.median(best_cost)) if len(best_cost) else 0.0
        self.missing = med_d
        self.weight = float(self.beta) * med_c / med_d if med_d > 0 and med_c > 0 else 0.0
        return self

    def kernel_args(self, t: np.ndarray):
        """(fq, fbank, fpos, fw, fmiss): the kernel arguments of input frames ``t``
        (:func:`sketchsynth.selection.kernels.viterbi_lattice`)."""
        return (np.ascontiguousarray(self.query[t], np.float32), np.ascontiguousarray(self.bank, np.float32),
                np.ascontiguousarray(self.pos, np.int64), float(self.weight), float(self.missing))


def no_feature_args(T: int, n_db: int):
    """Kernel arguments meaning "no feature term"."""
    return (np.zeros((T, 0), np.float32), np.zeros((0, 0), np.float32), np.full(n_db, -1, np.int64), 0.0, 0.0)


def rerank_with(term: FeatureTerm, cand: np.ndarray, cost: np.ndarray, t: np.ndarray, weight: float | None = None):
    """Add the term to the candidates' costs and re-sort each row, best first.

    Parameters
    ----------
    cand : np.ndarray, shape (n, k), int64
        Candidate database rows of input frames ``t`` (-1 pads, cost inf).
    cost : np.ndarray, shape (n, k), float64
    t : np.ndarray, shape (n,), int
        The input frames the rows belong to.
    weight : float, optional
        The term's weight (default ``term.weight``; a stream scales it by a running cost unit).

    Returns
    -------
    (cand, cost), re-sorted, cost including the term.
    """
    total = cost + (term.weight if weight is None else weight) * term.distances(t, cand)
    total[cand < 0] = np.inf
    order = np.argsort(total, axis=1, kind="stable")
    return np.take_along_axis(cand, order, 1), np.take_along_axis(total, order, 1)
