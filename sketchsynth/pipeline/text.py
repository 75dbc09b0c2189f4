"""Text -> speech -> face: the stages ``sketchsynth say`` runs before the selector and writer.

The text is spoken by espeak-ng (:mod:`sketchsynth.targets.text.tts`), or read from a real recording of it
(``audio=``, phones then come from force-aligning it to the text's words). Its target is

- ``audio``: the sound through the database's speech chain (log-mel -> context -> [LLE projection] ->
  the fitted regressor's jaw and lips), exactly a speech match of the spoken sound;
- ``phones``: the spoken phones (:class:`~sketchsynth.targets.text.target.PhoneTarget`, database frames
  labelled by ``fit-phones``);
- ``both``: the audio target's candidates and the phone target's, each costed by the distance to a mouth
  target plus ``phone_weight`` x the phone cost; the mouth target is the audio's predicted mouth blended with
  the mouth the database shows for the phones (``phone_mouth`` of the latter);
- ``auto``: both when the database has a speech model and phone labels, else the one it has.

The same selector then picks recorded frames; the outputs are those of ``match``, drawn in the selected
frames' own pixels, with the speech as their sound.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError, ParameterError
from .core import Stage
from .stages import SpeechFeatures, SpeechTarget, db_fps

TARGETS = ("auto", "audio", "phones", "both")
RHYTHMS = ("auto", "database", "voice")
DEFAULT_PHONE_WEIGHT = 3.0
"""Picked on the first 10 GRID s1 TEST sentences against weight 1 (docs/method.md); kept on the validation
split (with the speaker's rhythm, weight 2 / 3 / 5: opening r 0.807 / 0.808 / 0.800, docs/measurements.md)."""
PHONE_MOUTH = 0.3
"""Share of the phones' own mouth (:meth:`~sketchsynth.targets.text.target.PhoneTarget.mouth`) in the keypoint
target of ``both``: on GRID s1's validation sentences (the speaker's rhythm, the 32 best candidates averaged)
0 / 0.2 / 0.3 / 0.5 / 0.7 gave opening r 0.808 / 0.816 / 0.815 / 0.811 / 0.812 and LMD 1.70 / 1.63 / 1.60 / 1.56 /
1.53 px; 0.3 of the 16 best: 0.817, 1.60 px (docs/measurements.md)."""
TTS_LLE_BLEND = 0.5
"""LLE blend for a TTS voice (fixed: not the model's voice-distance rule). On GRID s1's TEST sentences spoken by
espeak-ng, blend 0 / 0.5 / 1 gave opening r 0.764 / 0.786 / 0.766 (docs/method.md, text-driven synthesis)."""


class Speak(Stage):
    """text -> speech: espeak-ng's voice, or ``audio``, a real reading of the text (then force-aligned).

    Parameters
    ----------
    workdir : path
        Where the TTS's wav is written (the writer muxes it).
    voice, rate : str, int
        espeak-ng voice and words per minute (TTS only).
    audio : path, optional
    rhythm : {"auto", "database", "voice"}
        The TTS voice's phone durations inside each word: the database speaker's
        (:mod:`sketchsynth.targets.text.rhythm`, from its phone labels; the sound is time-warped with them),
        or the voice's own; ``auto``: the database's when the phones drive ``target`` (:func:`resolve_rhythm`).
        On GRID s1's validation sentences the speaker's rhythm raised ``both``'s opening r from 0.784 to 0.808
        (docs/measurements.md).
    target : {"auto", "audio", "phones", "both"}
        The text target this voice will feed (:class:`TextTarget`'s ``target``): what ``rhythm="auto"`` means.
    """

    name, input_kind, output_kind = "speak", "text", "speech"

    def __init__(self, workdir, voice: str = "en-us", rate: int = 175, audio=None, rhythm: str = "auto",
                 target: str = "auto"):
        self.workdir, self.voice, self.rate, self.audio = workdir, voice, rate, audio
        self.rhythm, self.target = rhythm, target

    def fit(self, db):
        self.db_ = db
        self.lexicon_ = None
        # a real reading has its own rhythm; the TTS voice takes the speaker's when the phones drive
        if self.audio is None and resolve_rhythm(db, self.rhythm, self.target) == "database":
            from ..targets.text.rhythm import Lexicon

            self.lexicon_ = Lexicon().fit(db)
        return self

    def transform(self, text: str):
        from ..targets.text.speak import speak

        return speak(text, self.workdir, voice=self.voice, rate=self.rate, audio=self.audio,
                     lexicon=self.lexicon_)


def resolve_rhythm(db, rhythm: str = "auto", target: str = "auto") -> str:
    """``rhythm`` itself, or what ``auto`` means: the database speaker's when the target reads phones (``phones``,
    ``both``: their timing is what the rhythm changes), the voice's own for the sound alone (the speech model
    reads the voice's unwarped sound, as measured)."""
    if rhythm not in RHYTHMS:
        raise ParameterError(f"--rhythm must be one of {', '.join(RHYTHMS)}, got {rhythm!r}")
    if rhythm != "auto":
        return rhythm
    return "database" if target_kind(db, target) in ("phones", "both") else "voice"


def target_kind(db, target: str = "auto", phone_target=None) -> str:
    """``target`` itself, or what ``auto`` means for this database (raises when it has nothing to drive)."""
    from ..targets.text.store import has_phone_labels

    if target not in TARGETS:
        raise ParameterError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")
    if target != "auto":
        return target
    has_model = getattr(db, "audio_", None) is not None and "speech_model.npz" in db.manifest_.get("files", {})
    has_phones = phone_target is not None or has_phone_labels(db)
    target = "both" if has_model and has_phones else "audio" if has_model else "phones" if has_phones else None
    if target is None:
        raise InputError("the database has neither a speech model nor phone labels: build it from recordings "
                         f"with sound, or run sketchsynth fit-phones --db {db.path_} --transcripts DIR", db.path_)
    return target


class TextTarget(Stage):
    """speech -> target: the spoken sound through the speech chain, its phones, or both.

    Parameters
    ----------
    target : {"auto", "audio", "phones", "both"}
    phone_weight : float
        Weight of the phone cost in ``both``.
    lle_blend : float, optional
        The speech model's LLE blend (default :data:`TTS_LLE_BLEND` for a TTS voice, the model's rule for a
        reading).
    phone_target : PhoneTarget, optional
        Fitted already (default: fitted on the database's ``phones.parquet``).
    phone_mouth : float
        ``both``: share (0-1) of the phones' mouth in the keypoint target (:data:`PHONE_MOUTH`): the mean jaw
        and lips of the database frames saying the same phone in the same context at the same place, which
        the audio's prediction alone blurs for a voice that is not the speaker's.
    voices : {"own", "auto", "other"}
        Which speech model reads the spoken sound (:class:`~sketchsynth.pipeline.stages.SpeechFeatures`); ``own``:
        the database's own, as for its speaker (on GRID s1's TEST sentences spoken by espeak-ng it did better than
        the model for other voices, docs/measurements.md).
    """

    name, input_kind, output_kind = "text-target", "speech", "target"

    def __init__(self, target: str = "auto", phone_weight: float = DEFAULT_PHONE_WEIGHT,
                 lle_blend: float | None = None, phone_target=None, voices: str = "own",
                 phone_mouth: float = PHONE_MOUTH):
        self.target, self.phone_weight, self.lle_blend, self.phone_target = target, phone_weight, lle_blend, \
            phone_target
        self.voices, self.phone_mouth = voices, phone_mouth

    def fit(self, db):
        if not 0 <= self.phone_mouth <= 1:
            raise ParameterError(f"phone_mouth must be within 0-1, got {self.phone_mouth}")
        self.db_ = db
        self.kind_ = target_kind(db, self.target, self.phone_target)
        self.phone_target_ = None
        # the sound's features do not depend on who speaks: made once (the LLE blend does, see transform)
        self.features_ = SpeechFeatures(self.voices).fit(db) if self.kind_ != "phones" else None
        if self.kind_ in ("phones", "both"):
            from ..targets.text.target import PhoneTarget

            self.phone_target_ = self.phone_target or PhoneTarget().fit(db)
        return self

    def transform(self, spoken):
        from ..targets.speech.inputs import Audio
        from ..targets.target import Target
        from ..targets.text.target import PhoneTerm, frame_phones

        db, kind = self.db_, self.kind_
        fps = db_fps(db)
        n = max(2, int(np.floor(spoken.duration_s * fps + 1e-9)))
        blend = self.lle_blend
        if kind == "phones":
            tgt = Target(np.zeros((n, 70, 2), np.float32), np.zeros((n, 70)), np.ones(n, bool),
                         np.full(n, "", object), None, np.arange(n, dtype=np.int64), np.arange(n) / fps, fps)
        else:
            if blend is None and spoken.source == "tts":
                blend = TTS_LLE_BLEND
            # No audio term: a TTS voice (or another reader) is not the database speaker; its sound frame by
            # frame says little about which recorded frame sounded alike (its evaluation was made without it).
            speech = SpeechTarget(audio_weight=0.0, lle_blend=blend, closure_weight=0.0).fit(db)
            name = os.path.splitext(os.path.basename(spoken.wav_path))[0]
            tgt = speech.transform(self.features_.transform(Audio(spoken.samples16, 16000, spoken.wav_path, name)))
            n = min(n, len(tgt)) if kind == "both" else len(tgt)
            tgt = tgt.head(n)
        if kind != "audio":  # (audio alone: exactly a speech match of the spoken sound)
            said = frame_phones(spoken.phones, n, fps)
            tgt.phones = PhoneTerm(self.phone_target_, said, self.phone_weight, only=kind == "phones")
            if kind == "both" and self.phone_mouth > 0:
                from ..layout import SPEECH_POINTS

                a = self.phone_mouth
                tgt.points[:, SPEECH_POINTS] = (1 - a) * tgt.points[:, SPEECH_POINTS] + \
                    a * self.phone_target_.mouth(said)
            tgt.name, tgt.audio = "say", spoken.wav_path
            tgt.frames, tgt.time_s, tgt.fps = np.arange(n, dtype=np.int64), np.arange(n) / fps, fps
        tgt.report = {**tgt.report, "target": kind, "phone_weight": self.phone_weight if kind == "both" else None,
                      "phone_mouth": self.phone_mouth if kind == "both" else None, "lle_blend": self.lle_blend}
        return tgt
