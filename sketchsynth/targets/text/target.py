"""Phone targets for the Viterbi selector: unit selection by phone and context.

As in Video Rewrite and Text2Video's phoneme dictionary, a frame to be spoken
as phone P between L and R is best shown by a database frame recorded saying
P between L and R, at the same relative place in the phone. :class:`PhoneTarget`
(a stage: ``fit(db)`` then ``transform(phones)``) scores every phone segment of
the database against every input segment

    score = c_phone + c_left + c_right + duration_weight * |log(len_db / len_in)|

with c_phone 0 for the same phone, ``viseme_cost`` for another phone of the
same viseme class, ``other_cost`` otherwise, and c_left / c_right 0 for the
same neighbour, ``context_cost / 2`` for one of its viseme class,
``context_cost`` otherwise: the triphone -> diphone -> phone -> viseme back-off
as one graded score. Each input frame's candidates are the frames at its
relative position (± ``spread`` frames) in the ``segments`` best-scoring
segments, costed

    cost = unit * (1 + score + position_weight * |pos_db - pos_in|)

``unit`` is the database's median frame-to-successor distance (its
target-cost scale), so the decoder's join and jump costs (weighted keypoint
distances) are in the same units. Recorded successors are in the candidates
wherever the database says the same phones in a row, which is what lets the
decoder play recorded stretches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError, ParameterError
from .phones import VISEME_ID, FramePhones, frame_labels

DEFAULT_SEGMENTS = 32
MOUTH_TOP = 16
"""Candidates averaged into :meth:`PhoneTarget.mouth` (8 / 16 / 32 gave the same opening r on GRID s1's
validation sentences, docs/measurements.md)."""


class PhoneTarget:
    """Stage turning per-frame phones into the selector's candidates and costs.

    An estimator (``fit(db)`` -> self, ``transform(phones)``); :class:`PhoneTerm` puts it in a target.

    Parameters
    ----------
    segments : int
        Database phone segments kept per input segment.
    spread : int
        Frames either side of the position-matched frame also offered (lets the
        decoder keep a recording's own timing instead of time-warping).
    viseme_cost, other_cost, context_cost, duration_weight, position_weight : float
        Terms of the score (see the module docstring).

    Attributes
    ----------
    db_phones_ : FramePhones
        The database's labels (per row).
    unit_ : float
        Cost unit: median weighted distance between database frames and their successors.
    """

    def __init__(self, segments: int = DEFAULT_SEGMENTS, spread: int = 1, viseme_cost: float = 1.5,
                 other_cost: float = 4.0, context_cost: float = 0.5, duration_weight: float = 0.5,
                 position_weight: float = 1.0):
        self.segments = segments
        self.spread = spread
        self.viseme_cost = viseme_cost
        self.other_cost = other_cost
        self.context_cost = context_cost
        self.duration_weight = duration_weight
        self.position_weight = position_weight

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in ("segments", "spread", "viseme_cost", "other_cost", "context_cost",
                                              "duration_weight", "position_weight")}

    def fit(self, db, phones: FramePhones | None = None) -> "PhoneTarget":
        """Read the database's phone labels (``phones.parquet``, or ``phones`` given) and its cost scale."""
        from ...database.links import frame_distance

        if int(self.segments) != self.segments or self.segments < 1:
            raise ParameterError(f"segments must be a whole number >= 1, got {self.segments}")
        if int(self.spread) != self.spread or self.spread < 0:
            raise ParameterError(f"spread must be a whole number >= 0, got {self.spread}")
        self.db_ = db
        if phones is None:
            from .store import load_phones

            phones, labelled, _ = load_phones(db)
        else:
            labelled = np.ones(len(phones), bool)
        if len(phones) != db.n_frames_:
            raise ParameterError(f"{len(phones)} phone labels for a database of {db.n_frames_} frames")
        self.db_phones_ = phones
        usable = np.asarray(db.table_["usable"], bool) & labelled
        self.usable_ = usable
        seg = phones.segment
        n_seg = int(seg.max()) + 1 if len(seg) else 0
        first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
        self.seg_start_ = first
        self.seg_len_ = phones.length[first]
        self.seg_phone_ = phones.phone[first]
        self.seg_left_ = phones.left[first]
        self.seg_right_ = phones.right[first]
        # a segment is offered only when all its frames can be shown
        ok = np.bincount(seg, weights=usable, minlength=n_seg) == self.seg_len_
        self.seg_ok_ = ok
        a = np.flatnonzero((db.successor_ >= 0) & usable)
        a = a[np.isin(db.successor_[a], np.flatnonzero(usable))]
        rng = np.random.default_rng(0)
        a = rng.choice(a, size=min(len(a), 20000), replace=False) if len(a) else a
        d = frame_distance(db, a, db.successor_[a]) if len(a) else np.ones(1)
        self.unit_ = float(np.median(d)) if np.median(d) > 0 else 1.0
        return self

    # -- scores -------------------------------------------------------------------------------------
    def _term(self, a, b, same, vis):
        return np.where(a == b, 0.0, np.where(VISEME_ID[a] == VISEME_ID[b], vis, same))

    def segment_scores(self, phone: int, left: int, right: int, length: int, segs=None) -> np.ndarray:
        """Score of database segments (all, or ``segs``) for one input segment (lower is better)."""
        s = slice(None) if segs is None else segs
        p, l, r, n = self.seg_phone_[s], self.seg_left_[s], self.seg_right_[s], self.seg_len_[s]
        c = self._term(p, phone, self.other_cost, self.viseme_cost)
        c = c + self._term(l, left, self.context_cost, self.context_cost / 2)
        c = c + self._term(r, right, self.context_cost, self.context_cost / 2)
        return c + self.duration_weight * np.abs(np.log(n / max(int(length), 1)))

    def transform(self, inp: FramePhones) -> tuple[np.ndarray, np.ndarray]:
        """Candidates and costs per input frame.

        Parameters
        ----------
        inp : FramePhones
            The input's phones, one per output frame.

        Returns
        -------
        cand : np.ndarray, shape (n_frames, K), int64
            Database rows, best first; -1 pads. K = segments * (2 * spread + 1).
        cost : np.ndarray, shape (n_frames, K), float64
            inf where padded.
        """
        S = int(min(self.segments, int(self.seg_ok_.sum())))
        if S < 1:
            raise InputError("the database has no labelled usable phone segments (run sketchsynth fit-phones)")
        offsets = np.arange(-int(self.spread), int(self.spread) + 1)
        K = S * len(offsets)
        T = len(inp)
        cand = np.full((T, K), -1, np.int64)
        cost = np.full((T, K), np.inf)
        ok = np.flatnonzero(self.seg_ok_)
        first = np.flatnonzero(np.r_[True, inp.segment[1:] != inp.segment[:-1]]) if T else []
        for f0 in first:
            sel = inp.segment == inp.segment[f0]
            sc = self.segment_scores(inp.phone[f0], inp.left[f0], inp.right[f0], inp.length[f0], ok)
            top = np.argpartition(sc, S - 1)[:S] if S < len(sc) else np.arange(len(sc))
            segs, sc = ok[top], sc[top]
            for t in np.flatnonzero(sel):
                u = inp.position[t]
                L = self.seg_len_[segs]
                base = np.rint(u * (L - 1)).astype(np.int64)
                pos = np.clip(base[:, None] + offsets[None], 0, (L - 1)[:, None])
                rel = np.where(L[:, None] > 1, pos / np.maximum(L[:, None] - 1, 1), 0.5)
                c = self.unit_ * (1 + sc[:, None] + self.position_weight * np.abs(rel - u))
                rows = (self.seg_start_[segs][:, None] + pos).ravel()
                c = c.ravel()
                rows, idx = np.unique(rows, return_index=True)  # clipping can repeat a frame
                c = c[idx]
                o = np.argsort(c, kind="stable")
                cand[t, :len(o)] = rows[o]
                cost[t, :len(o)] = c[o]
        return cand, cost

    def mouth(self, inp: FramePhones, top: int = MOUTH_TOP) -> np.ndarray:
        """The mouth the database shows for each input frame's phone in its context and place: the mean of its
        ``top`` best candidates' normalized jaw and lips, each weighted by ``exp(-(score - best score))`` (the
        score is the cost over :attr:`unit_`; a triphone at the same place in its phone weighs most).

        Parameters
        ----------
        inp : FramePhones
        top : int

        Returns
        -------
        np.ndarray, shape (n_frames, 37, 2), float32
            Normalized :data:`sketchsynth.layout.SPEECH_POINTS`.
        """
        from ...layout import SPEECH_POINTS

        if int(top) != top or top < 1:
            raise ParameterError(f"top must be a whole number >= 1, got {top}")
        cand, cost = self.transform(inp)
        cand, cost = cand[:, :int(top)], cost[:, :int(top)]
        ok = cand >= 0
        s = np.where(ok, cost / self.unit_, np.inf)
        w = np.where(ok, np.exp(-(s - s.min(axis=1, keepdims=True))), 0.0)
        w /= w.sum(axis=1, keepdims=True)
        pts = self.db_.normalized_[:, SPEECH_POINTS]
        return np.einsum("tk,tkpd->tpd", w, pts[np.where(ok, cand, 0)]).astype(np.float32)

    def frame_costs(self, inp: FramePhones, rows: np.ndarray) -> np.ndarray:
        """The phone cost of given database rows for each input frame (for adding to another target).

        Parameters
        ----------
        inp : FramePhones
        rows : np.ndarray, shape (n_frames, K), int64 (-1: none)

        Returns
        -------
        np.ndarray, shape (n_frames, K), float64 (inf for -1 and unlabelled rows)
        """
        rows = np.asarray(rows, np.int64)
        out = np.full(rows.shape, np.inf)
        ok = rows >= 0
        r = np.where(ok, rows, 0)
        seg = self.db_phones_.segment[r]
        t_idx = np.broadcast_to(np.arange(len(inp))[:, None], rows.shape)
        c = self._term(self.seg_phone_[seg], inp.phone[t_idx], self.other_cost, self.viseme_cost)
        c = c + self._term(self.seg_left_[seg], inp.left[t_idx], self.context_cost, self.context_cost / 2)
        c = c + self._term(self.seg_right_[seg], inp.right[t_idx], self.context_cost, self.context_cost / 2)
        c = c + self.duration_weight * np.abs(np.log(self.seg_len_[seg] / np.maximum(inp.length[t_idx], 1)))
        c = c + self.position_weight * np.abs(self.db_phones_.position[r] - inp.position[t_idx])
        good = ok & self.usable_[r]
        out[good] = (self.unit_ * (1 + c))[good]
        return out


def frame_phones(intervals, n_frames: int, fps: float) -> FramePhones:
    """Per-frame phones of ``n_frames`` frames at ``fps`` (each labelled at its middle) from ARPAbet intervals."""
    times = (np.arange(int(n_frames)) + 0.5) / float(fps)
    return FramePhones.from_ids(frame_labels(intervals, times))


@dataclass
class PhoneTerm:
    """Phones as a term of a :class:`~sketchsynth.targets.target.Target` (its ``phones``).

    Parameters
    ----------
    phone_target : PhoneTarget
        Fitted on the database.
    phones : FramePhones
        The input's phones, one per output frame.
    weight : float
        Weight of the phone cost against the keypoint cost (``only`` False).
    only : bool
        The phones alone drive: the term offers the candidates (the target's points weigh nothing);
        else it adds its candidates to the keypoint target's and costs all of them by both
        (:func:`sketchsynth.selection.lattice.phone_lattice`).
    """

    phone_target: PhoneTarget
    phones: FramePhones
    weight: float = 1.0
    only: bool = False


def subset(inp: FramePhones, idx) -> FramePhones:
    """The phones of frames ``idx``."""
    return FramePhones(inp.phone[idx], inp.left[idx], inp.right[idx], inp.segment[idx], inp.position[idx],
                       inp.length[idx])
