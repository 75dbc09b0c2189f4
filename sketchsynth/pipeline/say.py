"""Text -> speech -> face: what ``sketchsynth say`` does.

The text is spoken by espeak-ng (:mod:`sketchsynth.targets.text.tts`), or read from a
real recording of it (``audio=``, phones then come from force-aligning it to
the text's words). Two targets can drive the selector:

- ``audio``: the sound through the database's speech pipeline
  (:mod:`sketchsynth.pipeline.stages`: log-mel -> context -> [LLE projection] -> the
  fitted regressor's jaw and lips);
- ``phones``: the spoken phones as a :class:`~sketchsynth.targets.text.target.PhoneTarget`
  (database frames labelled by ``fit-phones``);
- ``both``: the audio target's candidates and the phone target's, each costed
  by the predicted-mouth distance plus ``phone_weight`` x the phone cost.

The same Viterbi decoder then picks recorded frames; the outputs are those of
``match`` (selection.csv, matched/, plots, sketch.mp4, frames.mp4) with the
speech muxed in, drawn in the selected frames' own pixels.
"""

from __future__ import annotations

import os
import time
import wave
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ParameterError
from ..targets.text.phones import espeak_intervals

TARGETS = ("auto", "audio", "phones", "both")
DEFAULT_PHONE_WEIGHT = 3.0
TTS_LLE_BLEND = 0.5
"""LLE blend for a TTS voice (fixed: not the model's voice-distance rule). On GRID s1's TEST sentences spoken by
espeak-ng, blend 0 / 0.5 / 1 gave opening r 0.764 / 0.786 / 0.766 (README, text-driven synthesis)."""
"""Picked on the first 10 GRID s1 TEST sentences against weight 1 (see README)."""


@dataclass
class Spoken:
    """What is said: 16 kHz samples for the speech model, phone intervals, and a sound file to mux."""

    samples16: np.ndarray
    phones: list
    words: list
    wav_path: str
    duration_s: float
    source: str
    extra: dict = field(default_factory=dict)


def write_wav(path, samples: np.ndarray, rate: int) -> None:
    """Mono float samples in [-1, 1] -> 16-bit PCM wav."""
    x = (np.clip(np.asarray(samples, np.float64), -1, 1) * 32767).astype("<i2")
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(x.tobytes())


def speak(text: str, workdir, voice: str = "en-us", rate: int = 175, audio=None) -> Spoken:
    """Speak ``text`` (TTS) or take ``audio`` as its reading; phones from the TTS or from alignment.

    Parameters
    ----------
    text : str
    workdir : path
        Where the TTS's wav is written (for muxing).
    voice, rate : str, int
        espeak-ng voice and words per minute (TTS only).
    audio : path, optional
        A real recording of the text.
    """
    from ..targets.text.align import Aligner, to_int16, words_of
    from ..targets.text.tts import check_text, synthesize

    if audio is None:
        sp = synthesize(text, voice, rate)
        wav = os.path.join(os.fspath(workdir), "tts.wav")
        write_wav(wav, sp.samples, sp.sample_rate)
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sp.sample_rate), 16000)
        y16 = resample_poly(sp.samples.astype(np.float64), 16000 // g, int(sp.sample_rate) // g).astype(np.float32)
        phones = espeak_intervals(sp.phones)
        return Spoken(y16, phones, sp.words, wav, sp.duration_s, "tts",
                      {"voice": voice, "rate": int(rate), "tts_sample_rate": sp.sample_rate})
    from ..io.audio import load_audio

    check_text(text, "en-us")
    words = words_of(text)
    y16 = load_audio(audio, 16000)
    al = Aligner().align(to_int16(y16, 16000), words)
    return Spoken(np.asarray(y16, np.float32), al.phones, al.words, os.fspath(audio), len(y16) / 16000.0,
                  "recording", {"aligned_words": al.words})


def _audio_target(db, spoken: Spoken, lle_blend: float | None = None):
    """The speech pipeline's target for the spoken samples (the database's fitted model)."""
    from .stages import Audio, SpeechFeatures, SpeechTarget

    feats = SpeechFeatures().fit(db)
    # No audio term: a TTS voice (or another reader) is not the database speaker; its sound frame by frame
    # says little about which recorded frame sounded alike (its evaluation was made without it).
    tgt = SpeechTarget(audio_weight=0.0).fit(db)
    if lle_blend is None and spoken.source == "tts":
        lle_blend = TTS_LLE_BLEND
    if lle_blend is not None:
        # a what-if on the fitted model (TTS voice vs the database's): change the blend, drop the cached projection
        tgt.model_ = _with_blend(tgt.model_, lle_blend)
        feats.model_ = tgt.model_
    a = Audio(spoken.samples16, 16000, spoken.wav_path, os.path.splitext(os.path.basename(spoken.wav_path))[0])
    return tgt.transform(feats.transform(a))


def _with_blend(model, blend: float):
    import copy

    m = copy.copy(model)
    m.lle_blend, m.lle_auto = float(blend), False
    m._lle = None if float(blend) != float(getattr(model, "lle_blend", 0)) else getattr(model, "_lle", None)
    return m


def select_text(db, spoken: Spoken, target: str = "auto", decoder=None, phone_target=None,
                phone_weight: float = DEFAULT_PHONE_WEIGHT, lle_blend: float | None = None, k: int | None = None,
                search: str = "auto", name: str = "say"):
    """Choose database frames for spoken text; returns a :class:`sketchsynth.outputs.synthesis.Synthesis`.

    Parameters
    ----------
    db : FrameDatabase
    spoken : Spoken
    target : {"auto", "audio", "phones", "both"}
        ``auto``: both when the database has a speech model and phone labels, else the one it has.
    decoder : ViterbiDecoder, optional
    phone_target : PhoneTarget, optional
        Fitted on ``db`` (default: fitted here from its ``phones.parquet``).
    phone_weight : float
        Weight of the phone cost in ``both``.
    lle_blend : float, optional
        Override the speech model's LLE projection blend (0: none, 1: full).
    """
    from ..selection.decode import DEFAULT_JUMP_COST, ViterbiDecoder, path_joins, path_stats
    from ..selection.matching import MatchResult, candidates as kp_candidates, matched_in_input_coords
    from .core import Target
    from .stages import db_fps, speech_track
    from ..outputs.synthesis import Synthesis
    from ..targets.text.store import PHONES_FILE
    from ..targets.text.target import PhoneTarget, add_phone_term, frame_phones, phone_result

    if target not in TARGETS:
        raise ParameterError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")
    has_model = getattr(db, "audio_", None) is not None and (
        getattr(db, "speech_model_", None) is not None or "speech_model.npz" in db.manifest_.get("files", {}))
    has_phones = phone_target is not None or (db.path_ / PHONES_FILE).is_file()
    if target == "auto":
        target = "both" if has_model and has_phones else "audio" if has_model else "phones" if has_phones else None
        if target is None:
            raise InputError("the database has neither a speech model nor phone labels: build it from recordings "
                             f"with sound, or run sketchsynth fit-phones --db {db.path_} --transcripts DIR",
                             db.path_)
    t0 = time.perf_counter()
    fps = db_fps(db)
    n = max(2, int(np.floor(spoken.duration_s * fps + 1e-9)))
    decoder = decoder or ViterbiDecoder()
    if target in ("phones", "both") and phone_target is None:
        phone_target = PhoneTarget().fit(db)
    fp = frame_phones(spoken.phones, n, fps) if target != "audio" else None
    if target == "phones":
        cand, cost = phone_target.transform(fp)
        res = phone_result(db, cand, cost)
        tgt = None
    else:
        tgt = _audio_target(db, spoken, lle_blend)
        if target == "audio":
            # exactly the audio-driven match (``sketchsynth match speech.wav``) of the spoken sound
            from .stages import select

            syn = select(db, tgt, decoder, k=k, search=search)
            syn.params.update({"target": "audio", "phone_weight": None, "lle_blend": lle_blend})
            syn.phones = None
            return syn
        if len(tgt) != n:  # the speech features count frames the same way; guard against rounding
            n = min(n, len(tgt))
            fp = None if fp is None else frame_phones(spoken.phones, n, fps)
            tgt = _trim(tgt, n)
        from ..selection.search import resolve_search

        K = max(int(k), int(decoder.candidates))
        ivf = resolve_search(db, search, None)
        cand, cost = kp_candidates(db, tgt.points, tgt.usable, tgt.weights, K, "sum", ivf=ivf)
        usable = tgt.usable & (cand[:, 0] >= 0)
        res = MatchResult(np.zeros((n, 70, 3), np.float32), tgt.points, np.full((n, 2, 3), np.nan), usable,
                          tgt.reason, tgt.weights, np.where(usable, cand[:, 0], -1),
                          np.where(usable, cost[:, 0], np.nan), cand[:, :decoder.candidates],
                          cost[:, :decoder.candidates], "sum", int(decoder.candidates), False,
                          dict(tgt.extra.get("timings", {})))
        if target == "both":
            res = add_phone_term(db, res, fp, phone_target, phone_weight)
    K = res.candidates.shape[1]
    # The lattice's added recording successors would be costed by the keypoint target alone (the
    # kernel knows no phone term), so with a phone term only the listed candidates enter it; the
    # phone candidates hold the recorded successors wherever the database says the same phones.
    succ = None if target == "audio" else 0
    dec = ViterbiDecoder(smooth=decoder.smooth, candidates=K, join=decoder.join, jump_cost=decoder.jump_cost
                         if decoder.jump_cost is not None else DEFAULT_JUMP_COST, beam=decoder.beam, successors=succ)
    if res.usable.sum() < 2:
        raise InputError(f"only {int(res.usable.sum())} frame(s) could be targeted; the text is too short")
    d = dec.decode(db, res)
    res.frame_rows, res.frame_cost = res.rows, res.target_cost
    res.rows, res.target_cost, res.join_cost, res.is_jump, res.decoding = d.rows, d.target_cost, d.join_cost, \
        d.is_jump, d
    ok = res.rows >= 0
    res.matrices = np.where(ok[:, None, None], db.transforms_[np.maximum(res.rows, 0)], np.nan)
    if tgt is None:
        pts = np.zeros((n, 70, 2), np.float32)
        pts[ok] = db.normalized_[res.rows[ok]]
        tgt = Target(pts, np.zeros((n, 70)), np.ones(n, bool), np.full(n, "", object), None,
                     np.arange(n, dtype=np.int64), np.arange(n) / fps, fps)
    tgt.name, tgt.audio = name, spoken.wav_path
    tgt.frames, tgt.time_s, tgt.fps = np.arange(n, dtype=np.int64), np.arange(n) / fps, fps
    track = speech_track(db, tgt, res)
    res.keypoints = track.keypoints
    stats = path_stats(res.is_jump, ok, d.segment_start, fps)
    per_frame = path_stats(path_joins(db, res.frame_rows, d.segment_start)[1], res.frame_rows >= 0,
                           d.segment_start, fps)
    per_frame["mean_target_cost"] = float(np.nanmean(res.frame_cost))
    matched = matched_in_input_coords(db, res)
    params = {**d.params, "seam_blend": 0, "input_filter": "none", "total_cost": d.total_cost, "target": target,
              "phone_weight": phone_weight if target == "both" else None, "lle_blend": lle_blend}
    syn = Synthesis(track, res, matched, stats, per_frame, params, time.perf_counter() - t0)
    syn.phones = fp
    return syn


def _trim(tgt, n):
    from dataclasses import replace

    return replace(tgt, points=tgt.points[:n], weights=tgt.weights[:n], usable=tgt.usable[:n], reason=tgt.reason[:n],
                   frames=tgt.frames[:n], time_s=tgt.time_s[:n])
