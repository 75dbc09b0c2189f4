"""The audio term of a speech target: how alike an input's sound and each database frame's sound are."""

from __future__ import annotations

import weakref

import numpy as np

from ...errors import DatabaseError
from .model import BANK_DIMS_WITHOUT_LLE


AUDIO_TERM_DIMS = BANK_DIMS_WITHOUT_LLE
"""Leading PCA dimensions a speech target's audio term compares (the kNN regressor's, too)."""
_BANKS = weakref.WeakKeyDictionary()
"""Per speech model: its bank's leading dimensions and each database row's place in it, made once."""


def audio_term(model, db, reduced: np.ndarray, beta: float):
    """The audio term of a speech target: an input's :meth:`SpeechModel.reduce` features (T, n_components) against
    the database frames' own, on the leading :data:`AUDIO_TERM_DIMS` dimensions (a FeatureTerm)."""
    from ..feature_term import FeatureTerm

    d = min(AUDIO_TERM_DIMS, model.bank_.shape[1])
    cache = _BANKS.get(model)
    if cache is None or cache[0] != (d, len(db.normalized_)):
        pos = np.full(len(db.normalized_), -1, np.int64)
        rows = np.asarray(model.bank_rows_, np.int64)
        if len(rows) and rows.max() >= len(pos):
            raise DatabaseError("the speech model was fitted on another database (its frames are not all "
                                "here); refit it with: sketchsynth fit-speech --db DIR", getattr(db, "path_", None))
        pos[rows] = np.arange(len(rows))
        cache = _BANKS[model] = ((d, len(db.normalized_)), np.ascontiguousarray(model.bank_[:, :d], np.float32), pos)
    return FeatureTerm(np.ascontiguousarray(np.asarray(reduced)[:, :d], np.float32), cache[1], cache[2],
                       float(beta))
