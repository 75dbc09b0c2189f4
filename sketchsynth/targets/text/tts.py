"""Offline text-to-speech through libespeak-ng (bundled by the ``espeakng-loader`` wheel).

Speech samples and the synthesizer's own timed phoneme and word events come from
one call of espeak-ng's C API (ctypes): :func:`synthesize`. Nothing is
downloaded; the voice data ships inside the wheel.
"""

from __future__ import annotations

import ctypes
import threading
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError, ParameterError, require

EXTRA = "text"

# espeak_AUDIO_OUTPUT / espeak_EVENT_TYPE / option values from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_EV_WORD, _EV_SENTENCE, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = 1, 2, 5, 6, 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE = 1
_EE_OK = 0

DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 175
"""espeak-ng's own default speaking rate, words per minute."""
RATE_RANGE = (80, 450)


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Speech:
    """Synthetic speech and the synthesizer's timing of it.

    Attributes
    ----------
    samples : np.ndarray, shape (n_samples,), float32
        Mono speech in [-1, 1].
    sample_rate : int
        Hz (22050 for espeak-ng's voices).
    phones : list of (str, float, float)
        ``(espeak phoneme mnemonic, start_s, end_s)`` in speaking order; pauses
        are not listed (the gaps between phones are silence).
    words : list of (str, float, float)
        ``(word as written, start_s, end_s)``.
    voice, rate : str, int
    """

    samples: np.ndarray
    sample_rate: int
    phones: list = field(default_factory=list)
    words: list = field(default_factory=list)
    voice: str = DEFAULT_VOICE
    rate: int = DEFAULT_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)


class _Espeak:
    """The process's one espeak-ng instance (the library keeps global state)."""

    _lock = threading.Lock()
    _lib = None
    _rate = 0

    @classmethod
    def lib(cls):
        if cls._lib is None:
            loader = require("espeakng_loader", EXTRA, "text-to-speech")
            lib = ctypes.CDLL(loader.get_library_path())
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
            lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint),
                                         ctypes.c_void_p]
            # the data path is the folder holding espeak-ng-data
            import os

            data_parent = os.path.dirname(loader.get_data_path())
            rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(),
                                         _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
            if rate <= 0:
                raise InputError(f"espeak-ng could not start (data folder {data_parent})")
            cls._lib, cls._rate = lib, rate
        return cls._lib


def voices() -> list[str]:
    """Names of the voices the bundled espeak-ng data has (``en-us``, ``de``...)."""
    import os

    loader = require("espeakng_loader", EXTRA, "text-to-speech")
    root = os.path.join(loader.get_data_path(), "voices")
    names = set()
    for base, _, files in os.walk(os.path.join(loader.get_data_path(), "lang")):
        names.update(files)
    if os.path.isdir(root):
        for base, _, files in os.walk(root):
            names.update(files)
    return sorted(names)


# Which letters a voice's language is written in. espeak-ng reads letters of other scripts
# by switching language or spelling out "letter" names, which is not speech of the text.
_SCRIPTS = {"en": {"LATIN"}, "de": {"LATIN"}, "fr": {"LATIN"}, "es": {"LATIN"}, "it": {"LATIN"},
            "pt": {"LATIN"}, "nl": {"LATIN"}, "pl": {"LATIN"}, "sv": {"LATIN"}, "ru": {"CYRILLIC"},
            "uk": {"CYRILLIC"}, "el": {"GREEK"}, "cmn": {"CJK"}, "yue": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"},
            "ar": {"ARABIC"}, "he": {"HEBREW"}, "hi": {"DEVANAGARI"}, "ko": {"HANGUL"}}


MAX_TEXT_CHARS = 5000
"""The longest text ``say`` takes at once (about 5 minutes of speech; espeak-ng's C API fails on far longer)."""


def check_text(text: str, voice: str = DEFAULT_VOICE) -> str:
    """The text stripped, or an :class:`InputError` if the voice cannot speak it.

    Raises
    ------
    InputError
        Empty text (or only punctuation), text that is not UTF-8 or longer than :data:`MAX_TEXT_CHARS`, or
        letters of a script the voice's language is not written in (e.g. Chinese characters for ``en-us``).
    """
    text = (text or "").strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as lone surrogates
        raise InputError("the text is not valid UTF-8: give it in UTF-8") from None
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"the text has {len(text):,} characters; say at most {MAX_TEXT_CHARS:,} at a time "
                         "(split a longer text into several runs)")
    letters = [c for c in text if c.isalpha()]
    if not letters:
        raise InputError("the text is empty (nothing to say): give some words, e.g. sketchsynth say \"bin blue\"")
    lang = voice.split("-")[0].lower()
    allowed = _SCRIPTS.get(lang)
    if allowed:
        bad = [c for c in letters if not any(unicodedata.name(c, "?").startswith(s) for s in allowed)]
        if bad:
            raise InputError(f"the text has {len(bad)} letter(s) the voice {voice!r} cannot speak "
                             f"(e.g. {bad[0]!r}, {unicodedata.name(bad[0], '?').split()[0].lower()} script); "
                             f"use a voice for that language (--voice) or write the text in its script")
    return text


def synthesize(text: str, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE) -> Speech:
    """Speak a text with espeak-ng, with the timing of its phonemes and words.

    Parameters
    ----------
    text : str
        What to say (UTF-8; numbers and punctuation as espeak-ng reads them).
    voice : str
        espeak-ng voice name (``en-us``, ``en``, ``en-gb``...).
    rate : int
        Words per minute, 80-450.

    Returns
    -------
    Speech

    Raises
    ------
    InputError
        Empty text, a script the voice cannot speak.
    ParameterError
        Unknown voice, rate out of range.
    DependencyError
        The ``text`` extra is not installed.
    """
    text = check_text(text, voice)
    if not (RATE_RANGE[0] <= int(rate) <= RATE_RANGE[1]):
        raise ParameterError(f"--rate must be {RATE_RANGE[0]}-{RATE_RANGE[1]} words per minute, got {rate}")
    lib = _Espeak.lib()
    chunks: list[np.ndarray] = []
    events: list[tuple] = []

    def callback(wav, n, ev):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            e = ev[i]
            if e.type == _EV_PHONEME:
                events.append(("phone", e.id.string.decode("utf-8", "replace"), e.audio_position, e.sample))
            elif e.type == _EV_WORD:
                events.append(("word", (e.text_position, e.length), e.audio_position, e.sample))
            i += 1
        return 0

    cb = _CALLBACK(callback)
    with _Espeak._lock:
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise ParameterError(f"unknown voice {voice!r}: choose one espeak-ng knows, e.g. en-us, en-gb, de, fr")
        lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
        lib.espeak_SetSynthCallback(cb)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data)
        err = lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    if err != _EE_OK:
        raise InputError(f"espeak-ng could not speak the text (error {err})")
    sr = _Espeak._rate
    samples = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
    return Speech(samples, sr, *_timeline(events, text, len(samples) / sr), voice=voice, rate=int(rate))


def _timeline(events, text: str, duration: float):
    """Phone and word intervals from espeak-ng's event list (each runs to the next event)."""
    phones, words = [], []
    ph = [(name, pos / 1000.0) for kind, name, pos, _ in events if kind == "phone"]
    # a phone lasts until the next phone event; the last until the end of the speech
    for i, (name, t) in enumerate(ph):
        end = ph[i + 1][1] if i + 1 < len(ph) else duration
        if name.strip() and name.strip() != "_":
            phones.append((name.strip(), t, end))
    bchars = text.encode("utf-8")
    wd = [(span, pos / 1000.0) for kind, span, pos, _ in events if kind == "word"]
    for i, ((start, length), t) in enumerate(wd):
        # text_position counts characters from 1
        word = text[start - 1:start - 1 + length] if start > 0 else ""
        nxt = wd[i + 1][1] if i + 1 < len(wd) else duration
        words.append((word, t, nxt))
    del bchars
    return phones, words
