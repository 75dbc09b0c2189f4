"""Any voice drives the face: a second speech model for voices other than the database speaker's, and the choice.

The database's own model reads LSP's log-mel of its speaker, which says as much about the voice as about what is
said; another person's speech lands between its frames. For them a database keeps a second model
(``speech_model_voices.npz``) on a speaker-normalized front end
(:class:`~sketchsynth.database.voice_features.NormalizedLogMel`: log-mel with sliding mean and variance
normalization over ±1.5 s), fitted on the speaker's sound at three vocal-tract warps (0.88, 1, 1.12: three
"voices" of one speaker), without LLE, with an :class:`~sketchsynth.targets.speech.calibrate.AmplitudeCalibration`
so that the mouth moves as much as for the speaker's own speech.

Per input the database's own model measures how far the voice lies from its speaker's
(:meth:`SpeechModel.voice_ratio` on the first :data:`ROUTE_SECONDS`); below :data:`ROUTE_RATIO` the own model
drives (the speaker's own voice keeps exactly what it had), otherwise the model for other voices.
Measured in docs/measurements.md ("Other voices").
"""

from __future__ import annotations

import numpy as np

from ...errors import DatabaseError
from .model import SpeechModel


OTHER_VOICES = {"front_end": {"name": "log-mel-cmvn", "cmvn_s": 1.5}, "augment_warps": (0.88, 1.0, 1.12),
                "lle_blend": 0.0, "regressor_params": {"knn_components": 48}}
"""The model for other voices. Chosen on the validation clips of other people (docs/measurements.md): CMVN
log-mel alone 0.290 pooled opening r, with the three warps 0.318, kNN on 48 PCA dimensions instead of 96 as good
(0.320) at half the search cost; LLE on these features did not help."""
ROUTE_RATIO = 1.5
"""Voice-distance ratio from which an input is another voice: GRID s1's own held-out sentences lie at 0.72-1.51
(5th-95th percentile), every other voice measured at 1.64 or more."""
ROUTE_SECONDS = 10.0
"""Sound the choice is made on (the start of the input): the ratio settles within seconds."""
HELDOUT_EVERY = 8
"""Every how many recordings one is held out to measure the calibration's reference factor."""


def heldout_spread_factor(db, cal, own_params: dict | None = None) -> tuple[float, int]:
    """How much the own model's prediction moves against the truth on the speaker's own unseen recordings.

    A model of the database's own kind (``own_params``, default the :class:`SpeechModel` defaults) is fitted on
    all recordings but every :data:`HELDOUT_EVERY`-th, and predicts those; the factor is the median predicted
    opening spread over the median true one (``cal.spread``). Returns (factor, held-out recordings); (1.0, 0)
    when the database has fewer than two recordings with sound.
    """
    names = sorted({e["name"] for e in db.audio_.recordings()})
    held = names[HELDOUT_EVERY - 1::HELDOUT_EVERY] or names[-1:]
    if len(names) < 2:
        return 1.0, 0
    fold = SpeechModel(**(own_params or {})).fit(db, recordings=set(names) - set(held))
    X, Y, rows = SpeechModel(**(own_params or {})).training_data(db, recordings=set(held))
    pred = fold.predict(X)
    rec = np.asarray(db.table_["recording"])[rows]
    pairs = [(cal.spread(pred[rec == n]), cal.spread(Y[rec == n])) for n in held if (rec == n).sum() >= 2]
    p, t = np.median([a for a, _ in pairs]), np.median([b for _, b in pairs])
    if not (t > 0 and p > 0):
        raise DatabaseError("the held-out recordings' mouths do not move: cannot calibrate the mouth's amplitude",
                            getattr(db, "path_", None))
    return float(p / t), len(pairs)


def other_voices_model(db, own_params: dict | None = None) -> SpeechModel:
    """An unfitted model for other voices (:data:`OTHER_VOICES`) with the amplitude factor measured on ``db``
    (:func:`heldout_spread_factor`; ``own_params``: the own model's parameters)."""
    from .calibrate import AmplitudeCalibration

    factor, _ = heldout_spread_factor(db, AmplitudeCalibration(), own_params)
    return SpeechModel(**{**OTHER_VOICES, "amplitude_factor": factor})


def fit_other_voices(db, own_params: dict | None = None) -> SpeechModel:
    """:func:`other_voices_model` fitted on ``db`` (its amplitude calibration included)."""
    return other_voices_model(db, own_params).fit(db)


def fit_other_voices_into(db, folder, own_params: dict | None = None) -> SpeechModel:
    """:func:`fit_other_voices` stored in the database ``folder`` (``speech_model_voices.npz``)."""
    from .model_file import OTHER_MODEL_FILE
    from .model_store import fit_into

    return fit_into(db, folder, other_voices_model(db, own_params), OTHER_MODEL_FILE)


def route(db, own: SpeechModel, other: SpeechModel | None, samples: np.ndarray, frame_times: np.ndarray,
          sr: int = 16000) -> tuple[SpeechModel, float | None]:
    """The model that drives one input: (``own`` or ``other``, the voice-distance ratio measured).

    The ratio is the own model's on the frames of the first :data:`ROUTE_SECONDS` of sound; without ``other``
    (or without a ratio) the own model drives.
    """
    if other is None:
        return own, None
    t = np.asarray(frame_times, np.float64)
    first = t[t < ROUTE_SECONDS] if np.any(t < ROUTE_SECONDS) else t[:1]
    # the context looks ahead: the sound a little past the frames used, so that they are the whole input's
    end = int(min(len(samples), (first[-1] + own.delay_ms / 1000 + 0.1) * sr))
    ratio = own.voice_ratio(own.reduce(own.features(db, samples[:max(end, 1)], first)))
    if ratio is None or ratio < ROUTE_RATIO:
        return own, ratio
    return other, ratio
