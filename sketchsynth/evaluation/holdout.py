"""Held-out splits: which recordings (or stretches of them) a fold holds out, and the tracks on each side."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError


@dataclass
class Holdout:
    """What to hold out of one recording: all of it, or frames ``lo``..``hi`` (inclusive)."""

    recording: str
    lo: int | None = None
    hi: int | None = None

    def mask(self, frames: np.ndarray) -> np.ndarray:
        lo = -np.inf if self.lo is None else self.lo
        hi = np.inf if self.hi is None else self.hi
        return (frames >= lo) & (frames <= hi)

    def __str__(self):
        if self.lo is None and self.hi is None:
            return self.recording
        return f"{self.recording}:{'' if self.lo is None else self.lo}-{'' if self.hi is None else self.hi}"


_SPEC = re.compile(r"^(?P<name>.+?)(?::(?P<lo>\d*)-(?P<hi>\d*))?$")


def parse_holdout(spec: str) -> Holdout:
    """``"NAME"`` or ``"NAME:LO-HI"`` (frame numbers, inclusive; either end may be left out).

    Raises
    ------
    ParameterError
    """
    m = _SPEC.match(spec.strip())
    if not m or not m.group("name"):
        raise ParameterError(f"--holdout {spec!r}: expected NAME or NAME:FIRST-LAST (frame numbers), "
                             "e.g. henan:7821-11000")
    if len(m.group("lo") or "") > 12 or len(m.group("hi") or "") > 12:
        raise ParameterError(f"--holdout {spec[:40]!r}: frame numbers have at most 12 digits")
    lo = int(m.group("lo")) if m.group("lo") else None
    hi = int(m.group("hi")) if m.group("hi") else None
    if lo is not None and hi is not None and hi < lo:
        raise ParameterError(f"--holdout {spec!r}: last frame {hi} is before first frame {lo}")
    return Holdout(m.group("name"), lo, hi)


def subset_track(track, mask: np.ndarray, name: str | None = None):
    """A copy of a :class:`~sketchsynth.sources.recordings.Track` keeping the frames where ``mask`` is True."""
    t = copy.copy(track)
    mask = np.asarray(mask, bool)
    t.keypoints = track.keypoints[mask]
    t.frames = track.frames[mask]
    t.time_s = track.time_s[mask]
    t.n_people = track.n_people[mask]
    t.sources = [s for s, k in zip(track.sources, mask) if k]
    if name is not None:
        t.name = name
    return t


def default_holdouts(tracks) -> list[list[Holdout]]:
    """One recording: its last quarter of frames; several: the last recording by name."""
    if len(tracks) == 1:
        t = tracks[0]
        first = int(t.frames[int(len(t) * 0.75)])
        return [[Holdout(t.name, first, None)]]
    return [[Holdout(sorted(t.name for t in tracks)[-1])]]


def make_folds(tracks, holdout=None) -> list[list[Holdout]]:
    """Turn ``--holdout`` values into folds (each fold: what to hold out).

    Parameters
    ----------
    tracks : list of Track
    holdout : list of str, or None
        Specs for one fold (see :func:`parse_holdout`), ``["each"]`` for
        leave-one-recording-out, or None for :func:`default_holdouts`.
    """
    names = [t.name for t in tracks]
    if not holdout:
        return default_holdouts(tracks)
    holdout = [x for spec in holdout for x in expand_spec(spec, names)]
    if list(holdout) == ["each"]:
        if len(tracks) < 2:
            raise ParameterError("--holdout each needs at least 2 recordings (one recording: use NAME:FIRST-LAST)")
        return [[Holdout(n)] for n in sorted(names)]
    fold = [parse_holdout(s) if isinstance(s, str) else s for s in holdout]
    for h in fold:
        if h.recording not in names:
            shown = ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
            raise ParameterError(f"--holdout {h}: no recording named {h.recording!r} (recordings: {shown})")
    return [fold]


MAX_LIST_BYTES = 1 << 20
"""The largest ``--holdout @FILE`` list read (names of recordings: far below this)."""


def expand_spec(spec, names) -> list:
    """A --holdout value as a list of specs: ``every:N:R`` (the sorted recordings i with i % N == R, e.g.
    GRID s1's fixed split ``every:8:7``), ``@FILE`` (one recording name or NAME:FIRST-LAST per line), else itself.
    """
    if not isinstance(spec, str):
        return [spec]
    m = re.match(r"^every:([0-9]{1,9}):([0-9]{1,9})$", spec.strip())
    if m:
        n, r = int(m.group(1)), int(m.group(2))
        if n < 2 or r >= n:
            raise ParameterError(f"--holdout {spec}: expected every:N:R with N >= 2 and 0 <= R < N")
        return [x for i, x in enumerate(sorted(names)) if i % n == r]
    if spec.startswith("@"):
        import stat

        try:
            # a FIFO or a device would hang or never end: only a regular file of sensible size is read
            with open(spec[1:], "rb", buffering=0, opener=lambda p, f: os.open(p, f | os.O_NONBLOCK)) as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise ParameterError(f"--holdout {spec}: not a regular file (give a text file of recording "
                                         "names, one per line)")
                if st.st_size > MAX_LIST_BYTES:
                    raise ParameterError(f"--holdout {spec}: the list is larger than {MAX_LIST_BYTES >> 20} MB; "
                                         "give a text file of recording names, one per line")
                lines = fh.read(MAX_LIST_BYTES + 1).decode("utf-8").split()
        except (OSError, UnicodeDecodeError) as e:
            raise ParameterError(f"--holdout {spec}: cannot read the list of held-out recordings ({e})") from None
        if not lines:
            raise ParameterError(f"--holdout {spec}: the file lists no recording")
        return lines
    return [spec]


def split_tracks(tracks, fold: list[Holdout], guard: int = 0):
    """Cut recordings into a database part and a held-out part.

    Parameters
    ----------
    tracks : list of Track
    fold : list of Holdout
    guard : int
        Also keep this many frames on each side of a held-out range out of the
        database (frames next to a held-out one are near copies of it).

    Returns
    -------
    db_tracks : list of Track
        What may go into the database (recordings keep their names; a held-out
        range leaves a hole in the frame numbers, so no successor crosses it).
    heldout : list of Track
        One track per held-out piece, named ``"<recording>[first-last]"`` for ranges.

    Raises
    ------
    ParameterError
        A held-out range holds no frame, or nothing is left for the database.
    """
    if int(guard) != guard or guard < 0:
        raise ParameterError(f"--guard must be a whole number of frames >= 0, got {guard}")
    guard = min(int(guard), 1 << 40)  # beyond any recording's frame numbers; keeps int64 arithmetic exact
    by_name = {h.recording: [] for h in fold}
    for h in fold:
        by_name[h.recording].append(h)
    db_tracks, heldout = [], []
    for t in tracks:
        hs = by_name.get(t.name, [])
        out = np.zeros(len(t), bool)
        excluded = np.zeros(len(t), bool)
        for h in hs:
            m = h.mask(t.frames)
            if not m.any():
                raise ParameterError(f"--holdout {h}: no frame of {t.name} in that range "
                                     f"(its frames run {t.frames[0]}-{t.frames[-1]})")
            name = t.name if (h.lo is None and h.hi is None) else \
                f"{t.name}[{t.frames[m][0]}-{t.frames[m][-1]}]"
            heldout.append(subset_track(t, m, name))
            out |= m
            if guard:
                lo, hi = t.frames[m][0] - guard, t.frames[m][-1] + guard
                excluded |= (t.frames >= lo) & (t.frames <= hi)
        keep = ~(out | excluded)
        if keep.any():
            db_tracks.append(subset_track(t, keep))
    if not db_tracks:
        raise ParameterError("nothing left for the database: every frame is held out")
    # The guarantee the report rests on, checked rather than assumed.
    for h in heldout:
        base = h.name.split("[")[0]
        for d in db_tracks:
            if d.name == base and np.intersect1d(d.frames, h.frames).size:
                raise AssertionError(f"held-out frames of {base} leaked into the database")
    return db_tracks, heldout
