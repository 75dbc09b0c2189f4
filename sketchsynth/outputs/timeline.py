"""The output video's timeline: one frame every 1/fps of the input's duration, and the database row shown at each."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


# ---------------------------------------------------------------------- timeline
def output_timeline(time_s: np.ndarray, fps: float, duration: float | None = None):
    """Constant-rate output times and the input frame shown at each.

    Parameters
    ----------
    time_s : np.ndarray, shape (n_frames,)
        Input presentation times (increasing; variable frame rate allowed).
    fps : float
        Output frame rate.
    duration : float, optional
        Input duration (default: last time minus first plus one average frame).

    Returns
    -------
    out_times : np.ndarray, shape (n_out,), float64
        Output frame times on the input's timeline.
    input_index : np.ndarray, shape (n_out,), int64
        Input frame nearest to each output time.
    """
    from ..io.video_fetch import frame_indices_at

    t = np.asarray(time_s, dtype=np.float64)
    if len(t) == 0:
        raise InputError("the input has no frames to render")
    if duration is None:
        duration = (t[-1] - t[0]) + (float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / fps)
    n_out = max(1, int(round(duration * fps)))
    out_times = t[0] + np.arange(n_out) / fps
    return out_times, frame_indices_at(t, out_times)


def resample_selection(db, rows: np.ndarray, input_times: np.ndarray, out_times: np.ndarray) -> np.ndarray:
    """Database rows to show at output times, advancing through recordings in real time.

    An output time between input frames shows the chosen database frame's
    recording moved on by the time elapsed since that input frame, so that a
    database recorded at another frame rate plays at its own speed. With output
    times equal to the input's this is the selection itself.

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_frames,), int64
        Chosen database row per input frame (-1: none).
    input_times : np.ndarray, shape (n_frames,)
    out_times : np.ndarray, shape (n_out,)

    Returns
    -------
    np.ndarray, shape (n_out,), int64
        Database row per output frame (-1 where the input frame had none).
    """
    from ..io.video_fetch import frame_indices_at

    rows = np.asarray(rows, dtype=np.int64)
    t_in = np.asarray(input_times, dtype=np.float64)
    t_out = np.asarray(out_times, dtype=np.float64)
    # The input frame on screen at each output time: the last one that started.
    idx = np.clip(np.searchsorted(t_in, t_out + 1e-6, side="right") - 1, 0, len(t_in) - 1)
    r = rows[idx]
    out = np.full(len(t_out), -1, dtype=np.int64)
    ok = r >= 0
    if not ok.any():
        return out
    db_times = np.asarray(db.table_["time_s"], np.float64)
    bounds = recording_bounds(db)
    first, last = bounds[r[ok], 0], bounds[r[ok], 1]
    want = db_times[r[ok]] + (t_out[ok] - t_in[idx[ok]])
    res = np.empty(ok.sum(), dtype=np.int64)
    for k, (a, b, w) in enumerate(zip(first, last, want)):
        res[k] = a + frame_indices_at(db_times[a:b], [w])[0]
    out[ok] = res
    return out


def recording_bounds(db) -> np.ndarray:
    """(first row, end row) of every row's recording, shape (n_frames, 2)."""
    codes = db.table_.codes
    change = np.flatnonzero(np.diff(codes) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(codes)]])
    seg = np.repeat(np.arange(len(starts)), ends - starts)
    return np.stack([starts[seg], ends[seg]], axis=1)
