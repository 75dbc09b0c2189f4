"""What a selection found for every input frame: MatchResult."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MatchResult:
    """What :func:`match` found for every input frame.

    Attributes
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        The input as read (image pixels).
    normalized : np.ndarray, shape (n_frames, 70, 2), float32
        Input in the database's normalized space (NaN where unusable).
    matrices : np.ndarray, shape (n_frames, 2, 3), float64
        Input image -> normalized maps.
    usable : np.ndarray, shape (n_frames,), bool
    reason : np.ndarray, shape (n_frames,), object
        Why an input frame is unusable ("" when usable).
    qweights : np.ndarray, shape (n_frames, 70), float64
        Point weights per frame (0 for points the input lacks).
    rows : np.ndarray, shape (n_frames,), int64
        Chosen database row, -1 for unusable input frames.
    target_cost : np.ndarray, shape (n_frames,), float64
        NaN for unusable input frames.
    candidates, candidate_costs : np.ndarray, shape (n_frames, k)
        Re-ranked candidates (database rows) and their exact costs, best first.
    decoding : Decoding or None
        When :func:`match` ran a decoder: its whole-sequence choice, which
        ``rows`` and ``target_cost`` then hold; the per-frame choice stays in
        ``frame_rows`` and ``frame_cost``.
    join_cost, is_jump : np.ndarray, shape (n_frames,), or None
        The decoding's join cost from the previous frame (NaN where none) and
        whether the choice leaves the previous choice's recording.
    search : {"exact", "ivf"}
        The prefilter used: the flat index or the approximate IVF index.
    search_info : dict
        How the prefilter ran: frames per path (``ivf_frames``,
        ``flat_frames``, ``column_slice_frames``) and, for the IVF, ``nlist``,
        ``nprobe``, where its index came from (``index``: memory, cache or
        built) and ``cache_file``.
    """

    keypoints: np.ndarray
    normalized: np.ndarray
    matrices: np.ndarray
    usable: np.ndarray
    reason: np.ndarray
    qweights: np.ndarray
    rows: np.ndarray
    target_cost: np.ndarray
    candidates: np.ndarray
    candidate_costs: np.ndarray
    metric: str
    k: int
    exhaustive: bool
    timings: dict = field(default_factory=dict)
    decoding: object = None
    frame_rows: np.ndarray | None = None
    frame_cost: np.ndarray | None = None
    join_cost: np.ndarray | None = None
    is_jump: np.ndarray | None = None
    search: str = "exact"
    search_info: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.rows)
