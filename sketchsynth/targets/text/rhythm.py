"""Speaking a word in the database speaker's rhythm: pronunciation and phone durations from its labelled frames.

A TTS voice says each word with its own phone durations (espeak-ng's are evenly paced); the speaker stretches
some phones and clips others, and which frames a phone target picks depends on where each phone falls. The
database's phone labels (``phones.parquet``, made by ``fit-phones``) hold every word the speaker said with the
phones the aligner found and how many frames each lasted. :class:`Lexicon` keeps, per word, its most frequent
phone sequence and that sequence's mean share of the word's duration per phone; :meth:`Lexicon.retime` lays a
word's phones out that way inside the word's own interval (the word boundaries do not move), and returns the
knots that time-warp the sound the same way, so the sound and the face stay in step. Words the database never
said keep the voice's own phones.

On GRID s1 (100 TRAIN sentences said by espeak-ng against a database of the other 600, docs/measurements.md)
this raised `say`'s opening r more than any setting of the selection did.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from ...errors import InputError
from .phones import ARPABET, PHONE_ID, SIL, normalize_arpabet


def word_key(word: str) -> str:
    """How a word is looked up: lower case, outer punctuation dropped (``"Bin,"`` -> ``"bin"``)."""
    return word.lower().strip(".,;:!?\"()[]{}")


class Lexicon:
    """Per word: the database speaker's phone sequence and relative phone durations.

    Parameters
    ----------
    min_count : int
        Occurrences of a word's most frequent phone sequence needed for it to be kept.

    Attributes
    ----------
    words_ : dict
        ``word -> (phones, shares, count)``: ARPAbet phones (tuple of str), each phone's mean share of the word's
        duration (np.ndarray, shape (n_phones,), float64, sums to 1), occurrences of that sequence.
    """

    def __init__(self, min_count: int = 1):
        self.min_count = min_count

    def fit(self, db, labels=None) -> "Lexicon":
        """Read the words from the database's phone labels (``labels``: ``(phone, word, labelled)`` per row
        instead of its ``phones.parquet``)."""
        from .store import load_labels

        phone, word, labelled = load_labels(db) if labels is None else labels
        phone = np.asarray(phone, np.int16)
        word = np.asarray(word, object)
        rec = np.asarray(db.table_["recording"])
        self.words_ = fit_words(phone, word, np.asarray(labelled, bool), rec, self.min_count)
        return self

    def __contains__(self, word: str) -> bool:
        return word_key(word) in self.words_

    def retime(self, phones, words) -> tuple[list, np.ndarray, np.ndarray]:
        """Lay each known word's phones out as the speaker says it, inside the word's interval.

        Parameters
        ----------
        phones : list of (phone, start_s, end_s)
            ARPAbet intervals (e.g. the TTS's).
        words : list of (word, start_s, end_s)
            The same speech's word intervals, in order (silences excluded).

        Returns
        -------
        phones : list of (phone, start_s, end_s)
            Known words: the lexicon's phones at its shares of the word's interval; other phones as given.
        src, dst : np.ndarray, shape (n_knots,), float64, non-decreasing
            Matching times before and after: each word's ends (unchanged) and, where the word had as many phones
            as the lexicon's, each inner phone boundary (:func:`sketchsynth.targets.text.warp.warp_audio` moves
            the sound with them).
        """
        out, src, dst = [], [], []
        taken = np.zeros(len(phones), bool)
        for w, ws, we in words:
            inside = [i for i, (_, a, b) in enumerate(phones)
                      if not taken[i] and ws - 1e-6 <= 0.5 * (a + b) <= we + 1e-6]
            taken[inside] = True
            mine = [phones[i] for i in inside]
            entry = self.words_.get(word_key(w))
            src.append(ws)
            dst.append(ws)
            if entry is None or we <= ws:
                out += mine
            else:
                seq, shares, _ = entry
                b = ws + np.r_[0.0, np.cumsum(shares)] * (we - ws)
                b[-1] = we
                out += [(p, float(b[i]), float(b[i + 1])) for i, p in enumerate(seq)]
                if len(mine) == len(seq):
                    src += [a for _, a, _ in mine[1:]]
                    dst += [float(t) for t in b[1:-1]]
            src.append(we)
            dst.append(we)
        out = sorted(out + [p for p, t in zip(phones, taken) if not t], key=lambda x: x[1])
        return out, np.maximum.accumulate(np.asarray(src, float)), np.maximum.accumulate(np.asarray(dst, float))


def fit_words(phone, word, labelled, recording, min_count: int = 1) -> dict:
    """:attr:`Lexicon.words_` from per-frame labels (each shape (n_frames,)): runs of one word within one
    recording are its occurrences, runs of one phone inside them its phones (frames counted)."""
    n = len(phone)
    if n == 0:
        return {}
    start = np.ones(n, bool)
    start[1:] = (word[1:] != word[:-1]) | (recording[1:] != recording[:-1])
    first = np.flatnonzero(start)
    ends = np.r_[first[1:], n]
    seen = defaultdict(list)
    sil = PHONE_ID[SIL]
    for a, e in zip(first, ends):
        if word[a] == "sil" or not labelled[a]:
            continue
        p = phone[a:e]
        s = np.ones(len(p), bool)
        s[1:] = p[1:] != p[:-1]
        ids = tuple(int(i) for i in p[s])
        if sil in ids:
            continue
        seen[word_key(str(word[a]))].append((ids, np.diff(np.r_[np.flatnonzero(s), len(p)])))
    out = {}
    for w, occ in seen.items():
        ids, count = Counter(o[0] for o in occ).most_common(1)[0]
        if count < min_count:
            continue
        frames = np.array([o[1] for o in occ if o[0] == ids], float)
        shares = (frames / frames.sum(axis=1, keepdims=True)).mean(axis=0)
        out[w] = (tuple(ARPABET[i] for i in ids), shares / shares.sum(), int(count))
    return out


def in_rhythm(lexicon: Lexicon, samples: np.ndarray, sr: int, phones, words) -> tuple[np.ndarray, list]:
    """Speech moved into the speaker's rhythm: (its samples time-warped, shape (n,), float32; its phones).

    ``words`` are the speech's word intervals (silences excluded); the sound keeps its length.
    """
    from .warp import warp_audio

    if not words:
        raise InputError("no words to time: the speech has no word intervals")
    phones = [(normalize_arpabet(p), a, b) for p, a, b in phones]
    new, src, dst = lexicon.retime(phones, words)
    end = len(samples) / float(sr)
    src, dst = np.r_[0.0, src, end], np.r_[0.0, dst, end]
    if np.array_equal(src, dst):
        return np.asarray(samples, np.float32), new
    y = warp_audio(np.asarray(samples, np.float32), int(sr), np.minimum(src, end), np.minimum(dst, end))
    return y, new
