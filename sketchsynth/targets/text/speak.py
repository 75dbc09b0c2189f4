"""What is said: text spoken by espeak-ng (or a real reading of it), as 16 kHz samples and phone intervals."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass, field

import numpy as np

from .phones import espeak_intervals

QUIET_S = 0.3
"""Silence around a TTS voice (s): the face starts and ends at rest, with a closed mouth."""


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


def speak(text: str, workdir, voice: str = "en-us", rate: int = 175, audio=None, lexicon=None) -> Spoken:
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
    lexicon : Lexicon, optional
        The TTS voice says the words it knows in the database speaker's rhythm
        (:mod:`sketchsynth.targets.text.rhythm`: its phones and durations, the sound time-warped with them).
    """
    from .align import Aligner, to_int16, words_of
    from .tts import check_text, synthesize

    if audio is None:
        sp = synthesize(text, voice, rate)
        phones = espeak_intervals(sp.phones)
        tts_samples = sp.samples.astype(np.float32)
        if lexicon is not None and sp.words:
            from .phones import words_from_phones
            from .rhythm import in_rhythm

            tts_samples, phones = in_rhythm(lexicon, tts_samples, sp.sample_rate, phones,
                                            words_from_phones(phones, sp.words))
        # silence before and after, so the face starts and ends with the mouth at rest, not mid-word
        pad = np.zeros(int(round(QUIET_S * sp.sample_rate)), np.float32)
        samples = np.concatenate([pad, tts_samples, pad])
        wav = os.path.join(os.fspath(workdir), "tts.wav")
        write_wav(wav, samples, sp.sample_rate)
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sp.sample_rate), 16000)
        y16 = resample_poly(samples.astype(np.float64), 16000 // g, int(sp.sample_rate) // g).astype(np.float32)
        lead = len(pad) / sp.sample_rate
        phones = [(p, a + lead, b + lead) for p, a, b in phones]
        words = [(w, a + lead, b + lead) for w, a, b in sp.words]
        return Spoken(y16, phones, words, wav, len(samples) / sp.sample_rate, "tts",
                      {"voice": voice, "rate": int(rate), "tts_sample_rate": sp.sample_rate, "quiet_s": QUIET_S,
                       "rhythm": "database" if lexicon is not None else "voice"})
    from ...io.audio import load_audio

    check_text(text, "en-us")
    words = words_of(text)
    y16 = load_audio(audio, 16000)
    al = Aligner().align(to_int16(y16, 16000), words)
    return Spoken(np.asarray(y16, np.float32), al.phones, al.words, os.fspath(audio), len(y16) / 16000.0,
                  "recording", {"aligned_words": al.words})
