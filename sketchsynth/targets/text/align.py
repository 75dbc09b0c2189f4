"""Forced alignment of speech to its words and phones (pocketsphinx, offline).

pocketsphinx ships an English acoustic model (en-us, ARPAbet phones) and the CMU
pronouncing dictionary; :func:`align` aligns a recording to a known word
sequence in two passes (words, then phones and states), as pocketsphinx's own
alignment example does. Synthetic speech (espeak-ng) is far from the model's
training speech: it needs wider beams (``wide=True``) to align at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError, require
from .tts import EXTRA

SAMPLE_RATE = 16000
FRAME_S = 0.01
"""pocketsphinx's frame step (frate 100)."""


@dataclass
class Alignment:
    """Word and phone intervals of one recording, in seconds from its start.

    Attributes
    ----------
    words : list of (str, float, float)
        ``(word, start_s, end_s)``, silences as ``"sil"``.
    phones : list of (str, float, float)
        ``(ARPAbet phone without stress, start_s, end_s)``, silence as ``"SIL"``.
    """

    words: list = field(default_factory=list)
    phones: list = field(default_factory=list)


def words_of(text: str) -> list[str]:
    """Lower-case words of a transcript, punctuation dropped (apostrophes kept)."""
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w.strip("'")]


def read_audio(path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any audio (or a video's sound track) to mono int16 at ``rate`` Hz.

    The decoding is :func:`sketchsynth.io.audio.load_audio`'s (any channel count, the file's own
    timeline, one-line errors); the aligner wants 16-bit samples.

    Returns
    -------
    np.ndarray, shape (n_samples,), int16
    """
    from ...io.audio import load_audio

    return to_int16(load_audio(path, sr=rate), rate, rate)


def to_int16(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Float samples in [-1, 1] at ``rate`` -> int16 at ``target`` Hz (polyphase resampling)."""
    from math import gcd

    from scipy.signal import resample_poly

    x = np.asarray(samples, np.float64)
    if rate != target:
        g = gcd(int(rate), int(target))
        x = resample_poly(x, target // g, int(rate) // g)
    return (np.clip(x, -1, 1) * 32767).astype(np.int16)


class Aligner:
    """pocketsphinx forced aligner (one decoder, reused across recordings).

    Parameters
    ----------
    wide : bool
        Wider beams (1e-80 instead of pocketsphinx's defaults), for synthetic or
        noisy speech.
    """

    def __init__(self, wide: bool = False):
        self.wide = wide
        self._decoder = None

    def _dec(self):
        if self._decoder is None:
            ps = require("pocketsphinx", EXTRA, "forced alignment")
            kw = dict(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
            if self.wide:
                kw.update(beam=1e-80, wbeam=1e-60, pbeam=1e-80)
            self._decoder = ps.Decoder(**kw)
        return self._decoder

    def unknown_words(self, words) -> list[str]:
        """Words the bundled pronouncing dictionary lacks."""
        d = self._dec()
        return [w for w in words if d.lookup_word(w) is None]

    def align(self, audio: np.ndarray, words) -> Alignment:
        """Align 16 kHz int16 speech to a word sequence.

        Parameters
        ----------
        audio : np.ndarray, shape (n_samples,), int16
            Mono, 16 kHz (:func:`read_audio`, :func:`to_int16`).
        words : sequence of str
            The words spoken, in order (:func:`words_of`).

        Returns
        -------
        Alignment

        Raises
        ------
        InputError
            No words, words missing from the dictionary, or no alignment found.
        """
        words = [w.lower() for w in words]
        if not words:
            raise InputError("nothing to align: the transcript has no words")
        bad = self.unknown_words(words)
        if bad:
            raise InputError(f"word(s) not in the pronouncing dictionary: {', '.join(bad[:5])}; "
                             "spell numbers and abbreviations out")
        d = self._dec()
        raw = np.ascontiguousarray(audio, np.int16).tobytes()
        try:
            d.set_align_text(" ".join(words))
            d.start_utt()
            d.process_raw(raw, full_utt=True)
            d.end_utt()
            d.set_alignment()
            d.start_utt()
            d.process_raw(raw, full_utt=True)
            d.end_utt()
            al = d.get_alignment()
        except RuntimeError as e:
            raise InputError(f"forced alignment failed ({e})") from e
        if al is None:
            raise InputError("forced alignment found no path through the words (is this the right text?)")
        out = Alignment()
        for w in al:
            name = "sil" if w.name.startswith("<") or w.name.startswith("[") else re.sub(r"\(\d+\)$", "", w.name)
            out.words.append((name, w.start * FRAME_S, (w.start + w.duration) * FRAME_S))
            for p in w:
                out.phones.append((p.name, p.start * FRAME_S, (p.start + p.duration) * FRAME_S))
        if not any(w != "sil" for w, _, _ in out.words):
            raise InputError("forced alignment found no words in the audio")
        return out


def read_grid_align(path) -> list[tuple[str, float, float]]:
    """A GRID ``.align`` file as ``(word, start_s, end_s)`` (units of 1/25000 s; ``sil``/``sp`` as ``sil``)."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                # "sp" marks a short pause inside the sentence: silence too
                word = "sil" if parts[2] in ("sil", "sp") else parts[2]
                out.append((word, int(parts[0]) / 25000.0, int(parts[1]) / 25000.0))
    return out


def boundary_agreement(pred, ref, tolerance_s: float = 0.04) -> dict:
    """How well two word segmentations of the same words agree.

    Parameters
    ----------
    pred, ref : list of (word, start_s, end_s)
        Silences (``sil``) are ignored; the remaining words must be the same.
    tolerance_s : float

    Returns
    -------
    dict
        ``n`` boundaries compared (start and end of every word), ``mean_abs_ms``,
        ``median_abs_ms``, ``mean_signed_ms`` (pred - ref), ``within`` (fraction within ``tolerance_s``).
    """
    p = [(s, e) for w, s, e in pred if w != "sil"]
    r = [(s, e) for w, s, e in ref if w != "sil"]
    if len(p) != len(r) or not p:
        return {"n": 0, "mean_abs_ms": float("nan"), "median_abs_ms": float("nan"), "mean_signed_ms": float("nan"),
                "within": float("nan")}
    sd = (np.asarray(p) - np.asarray(r)).ravel()
    d = np.abs(sd)
    return {"n": int(d.size), "mean_abs_ms": float(d.mean() * 1000), "median_abs_ms": float(np.median(d) * 1000),
            "mean_signed_ms": float(sd.mean() * 1000), "within": float((d <= tolerance_s + 1e-9).mean())}
