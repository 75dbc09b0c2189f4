"""Phone sets and per-frame phone labels.

Two phone sets meet here: espeak-ng's English mnemonics (what the TTS's phoneme
events name, e.g. ``'aU``, ``t#``, ``dZ``) and ARPAbet without stress, the set
of pocketsphinx's en-us model and the CMU dictionary (``AW``, ``T``, ``JH``).
Everything downstream speaks ARPAbet; :func:`espeak_to_arpabet` converts.
A coarser *viseme* class per phone (what the lips do) is the last back-off of
phone context matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIL = "SIL"

ARPABET = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
           "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
           "Z", "ZH", SIL)
PHONE_ID = {p: i for i, p in enumerate(ARPABET)}

# espeak-ng en mnemonics (stress marks and length variants stripped first) -> ARPAbet;
# r-coloured vowels and syllabic consonants become two phones.
_ESPEAK = {
    "p": ["P"], "b": ["B"], "t": ["T"], "d": ["D"], "k": ["K"], "g": ["G"], "f": ["F"], "v": ["V"],
    "T": ["TH"], "D": ["DH"], "s": ["S"], "z": ["Z"], "S": ["SH"], "Z": ["ZH"], "tS": ["CH"], "dZ": ["JH"],
    "h": ["HH"], "m": ["M"], "n": ["N"], "N": ["NG"], "l": ["L"], "r": ["R"], "w": ["W"], "j": ["Y"],
    "?": ["T"], "x": ["K"], "C": ["HH"], "W": ["W"],
    "a": ["AE"], "aa": ["AE"], "A:": ["AA"], "A": ["AA"], "0": ["AA"], "V": ["AH"], "@": ["AH"], "3:": ["ER"],
    "3": ["ER"], "I": ["IH"], "i": ["IY"], "i:": ["IY"], "U": ["UH"], "u:": ["UW"], "u": ["UW"], "E": ["EH"],
    "e": ["EY"], "eI": ["EY"], "aI": ["AY"], "aU": ["AW"], "OI": ["OY"], "oU": ["OW"], "o": ["OW"], "O:": ["AO"],
    "O": ["AO"], "e@": ["EH", "R"], "A@": ["AA", "R"], "O@": ["AO", "R"], "o@": ["AO", "R"], "I@": ["IH", "R"],
    "i@": ["IY", "AH"], "U@": ["UH", "R"], "aI@": ["AY", "ER"], "aU@": ["AW", "ER"], "@L": ["AH", "L"],
    "@r": ["ER"], "3r": ["ER"], "Vr": ["AH", "R"], "ju:": ["Y", "UW"], "aI3": ["AY", "ER"],
}

# What the lips do (after Jeffers & Barley / Video Rewrite's classes).
VISEME = {}
for _cls, _ph in {
    "bilabial": "P B M", "labiodental": "F V", "dental": "TH DH", "alveolar": "T D N S Z",
    "lateral": "L", "postalveolar": "SH ZH CH JH", "velar": "K G NG HH Y", "rounded": "W R UW UH OW OY",
    "open": "AA AE AH AW AY", "mid": "EH EY ER AO", "spread": "IH IY", "silence": SIL,
}.items():
    for _p in _ph.split():
        VISEME[_p] = _cls
VISEMES = tuple(sorted(set(VISEME.values())))
VISEME_ID = np.array([VISEMES.index(VISEME[p]) for p in ARPABET], dtype=np.int16)
"""Viseme class index of every phone id."""


def espeak_to_arpabet(name: str) -> list[str]:
    """ARPAbet phones for one espeak-ng phoneme mnemonic ([] for pauses).

    Stress (``'`` ``,``), length (``:`` only where it does not change the
    vowel) and variant marks (``#``, ``-``, digits) are dropped before lookup;
    unknown mnemonics fall back to their longest known prefix.
    """
    n = name.strip().lstrip("',%=")
    if not n or n.startswith("_"):
        return []
    n = n.replace("#", "").replace("-", "").replace("/", "")
    n = "".join(c for c in n if not c.isdigit() or c in "03")
    if n in _ESPEAK:
        return list(_ESPEAK[n])
    for cut in range(len(n) - 1, 0, -1):
        if n[:cut] in _ESPEAK:
            return list(_ESPEAK[n[:cut]])
    return []


def normalize_arpabet(name: str) -> str:
    """``AH0`` -> ``AH``, ``<sil>``/``sil``/``SIL``/``+NSN+`` -> ``SIL``."""
    n = name.strip().upper().rstrip("012")
    return n if n in PHONE_ID else SIL


def espeak_intervals(phones) -> list[tuple[str, float, float]]:
    """espeak-ng phone events ``(mnemonic, start_s, end_s)`` as ARPAbet intervals.

    A mnemonic that maps to several phones has its interval split evenly.
    """
    out = []
    for name, s, e in phones:
        arpa = espeak_to_arpabet(name)
        for i, p in enumerate(arpa):
            d = (e - s) / len(arpa)
            out.append((p, s + i * d, s + (i + 1) * d))
    return out


def warp_to_words(phones, words, targets) -> list[tuple[str, float, float]]:
    """Move phone intervals into other word timings, each word's phones stretched linearly.

    Parameters
    ----------
    phones : list of (phone, start_s, end_s)
        E.g. the TTS's ARPAbet intervals.
    words : list of (word, start_s, end_s)
        The same source's word intervals (silences excluded), in order.
    targets : list of (word, start_s, end_s)
        Where the words should be (e.g. a GRID ``.align`` file, silences excluded);
        the same number of words.

    Returns
    -------
    list of (phone, start_s, end_s)
        Every phone of word i mapped from ``words[i]``'s span onto ``targets[i]``'s.
    """
    if len(words) != len(targets):
        raise ValueError(f"{len(words)} words vs {len(targets)} target words")
    bounds = [w[1] for w in words[1:]] + [np.inf]
    out = []
    wi = 0
    starts = [w[1] for w in words]
    for p, s, e in phones:
        mid = 0.5 * (s + e)
        while wi + 1 < len(words) and mid >= bounds[wi]:
            wi += 1
        if mid < starts[0]:
            wi = 0
        ws, we = words[wi][1], words[wi][2]
        ts, te = targets[wi][1], targets[wi][2]
        scale = (te - ts) / max(we - ws, 1e-6)
        a = ts + (max(s, ws) - ws) * scale
        b = ts + (min(e, we) - ws) * scale
        if b > a:
            out.append((p, a, b))
    return out


def words_from_phones(phones, words) -> list[tuple[str, float, float]]:
    """Word intervals spanning each word's phones (espeak-ng's WORD events come early).

    ``words`` gives the order and the word boundaries' rough times; each word's
    span becomes the first start to the last end of the phones whose middles fall
    between its event and the next word's.
    """
    out = []
    for i, (w, s, _) in enumerate(words):
        nxt = words[i + 1][1] if i + 1 < len(words) else np.inf
        mine = [(a, b) for _, a, b in phones if s <= 0.5 * (a + b) < nxt]
        if mine:
            out.append((w, min(a for a, _ in mine), max(b for _, b in mine)))
    return out


@dataclass
class FramePhones:
    """Phone labels of a frame sequence, with each frame's place in its phone segment.

    Attributes (all shape (n_frames,))
    ----------
    phone, left, right : int16
        Phone id (:data:`ARPABET`) of the frame and of the segments before and
        after its own (``SIL`` at the ends).
    segment : int32
        Index of the frame's phone segment (a run of one phone), 0-based.
    position : float32
        Where in its segment the frame is, 0 (first frame) ... 1 (last).
    length : int32
        Its segment's length in frames.
    """

    phone: np.ndarray
    left: np.ndarray
    right: np.ndarray
    segment: np.ndarray
    position: np.ndarray
    length: np.ndarray

    def __len__(self):
        return len(self.phone)

    @classmethod
    def from_ids(cls, ids: np.ndarray, breaks: np.ndarray | None = None) -> "FramePhones":
        """Segments are runs of one phone id; ``breaks`` (bool per frame) start new ones
        (a new recording), with silence as the context across them."""
        ids = np.asarray(ids, np.int16)
        n = len(ids)
        start = np.ones(n, bool)
        start[1:] = ids[1:] != ids[:-1]
        rec_start = np.zeros(n, bool) if breaks is None else np.asarray(breaks, bool).copy()
        if n:
            rec_start[0] = True
        start |= rec_start
        seg = np.cumsum(start) - 1
        n_seg = int(seg[-1]) + 1 if n else 0
        seg_phone = ids[start]
        seg_len = np.bincount(seg, minlength=n_seg).astype(np.int32)
        seg_first = np.flatnonzero(start)
        seg_rec_start = rec_start[start]
        sil = PHONE_ID[SIL]
        left_seg = np.full(n_seg, sil, np.int16)
        right_seg = np.full(n_seg, sil, np.int16)
        if n_seg > 1:
            left_seg[1:] = np.where(seg_rec_start[1:], sil, seg_phone[:-1])
            right_seg[:-1] = np.where(seg_rec_start[1:], sil, seg_phone[1:])
        offset = np.arange(n) - seg_first[seg]
        length = seg_len[seg]
        position = np.where(length > 1, offset / np.maximum(length - 1, 1), 0.5).astype(np.float32)
        return cls(ids, left_seg[seg], right_seg[seg], seg.astype(np.int32), position, length)


def frame_labels(intervals, times_s: np.ndarray) -> np.ndarray:
    """Phone id at each time (the interval containing it; ``SIL`` outside all).

    Parameters
    ----------
    intervals : list of (phone, start_s, end_s)
        ARPAbet (or anything :func:`normalize_arpabet` accepts), non-overlapping.
    times_s : np.ndarray, shape (n_frames,)
        Frame times, seconds.

    Returns
    -------
    np.ndarray, shape (n_frames,), int16
    """
    t = np.asarray(times_s, np.float64)
    ids = np.full(len(t), PHONE_ID[SIL], np.int16)
    if not intervals:
        return ids
    iv = sorted(intervals, key=lambda x: x[1])
    starts = np.array([s for _, s, _ in iv])
    ends = np.array([e for _, _, e in iv])
    pid = np.array([PHONE_ID[normalize_arpabet(p)] for p, _, _ in iv], np.int16)
    j = np.searchsorted(starts, t, side="right") - 1
    ok = (j >= 0) & (t < ends[np.clip(j, 0, None)])
    ids[ok] = pid[j[ok]]
    return ids
