"""The one selection core: a target in, recorded frames out.

``match`` (a face), a speech match, ``say`` (text), ``evaluate`` and the demo all run
:func:`select`: the target's lattice (:func:`~sketchsynth.selection.lattice.build_lattice`: prefilter,
exact re-rank, extra terms), the Viterbi decoder over it, and the chosen sequence's statistics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


@dataclass
class Synthesis:
    """A target's selected frames, ready to be written.

    Attributes
    ----------
    track : Track
        The input shown beside the match (keypoints of shape (n_frames, 70, 3)): the input as read, or for
        speech and text the selected frames with their jaw and lips replaced by the target's.
    result : MatchResult
        Chosen rows (decoded), costs, candidates.
    stats : dict
        Frames, jumps per second, mean run length of the chosen sequence.
    per_frame : dict
        The same for the per-frame choice (what ``--smooth 0`` gives), and its mean target cost.
    params : dict
        What was asked: decoder parameters, the target's report (input filter, audio weight, LLE...).
    seconds : float
    target : Target
    matched_kp : np.ndarray, shape (n_frames, 70, 3), float32, optional
        The chosen frames in the input's pixels, once placed (:mod:`sketchsynth.outputs.placement`).
    summary : dict
        What the writer put in ``summary.json``.
    videos : object
        The writer's video writer, when it wrote videos.
    background : BackgroundPlan, optional
        The background take a composite video plays, chosen with the selection (``pose_weight``).
    """

    track: object
    result: object
    stats: dict
    per_frame: dict
    params: dict
    seconds: float = 0.0
    target: object = None
    matched_kp: np.ndarray | None = None
    summary: dict = field(default_factory=dict)
    videos: object = None
    background: object = None


def select(db, target, decoder=None, metric: str = "sum", k: int | None = None, search: str = "auto", ivf=None,
           exhaustive: bool = False, lattice=None, pose_weight: float | str | None = None,
           pose_join_weight: float | None = None) -> Synthesis:
    """Pick database frames for a target.

    Parameters
    ----------
    db : FrameDatabase
    target : Target
    decoder : ViterbiDecoder, optional
        Default ``ViterbiDecoder()``; ``smooth=0`` is the method's per-frame match.
    metric, k, search, ivf, exhaustive :
        The lattice's search (:func:`sketchsynth.selection.lattice.build_lattice`).
    lattice : Lattice, optional
        Built already for this target (an evaluation decodes one lattice with several decoders).
    pose_weight : float or "auto", optional
        For a composite video: choose its background take with the selection and weigh each candidate's
        head pose against the background's by this much (:func:`sketchsynth.selection.pose.add_pose_term`;
        0 chooses the take only; "auto": :func:`sketchsynth.selection.pose.default_pose_weight`). None: no
        background is planned.
    pose_join_weight : float, optional
        With ``pose_weight``: how much a pose jump between two joined frames costs (default
        :data:`sketchsynth.selection.pose.DEFAULT_POSE_JOIN_WEIGHT`).

    Returns
    -------
    Synthesis
        With ``target.matrices`` None (speech, text) the match is drawn in the selected frames' own
        pixels, and the "input" shown beside it is the selected frame with its jaw and lips replaced by
        the target's.
    """
    from .decode import ViterbiDecoder
    from .joins import path_joins, path_stats
    from .lattice import build_lattice
    from .result import MatchResult

    decoder = (decoder or ViterbiDecoder()).check(db)
    t0 = time.perf_counter()
    if lattice is None:
        lattice = build_lattice(db, target, k, metric, search, ivf, exhaustive, candidates=int(decoder.candidates))
    if not lattice.successors:
        # The lattice's costs hold a term only its candidates carry (phones): the decoder takes them all and
        # adds no recorded successors (they would be costed without it).
        params = {**decoder.get_params(), "candidates": lattice.candidates.shape[1], "successors": 0}
        if params["jump_cost"] is None:
            params.pop("jump_cost")
        decoder = ViterbiDecoder(**params)
    audio_term = lattice.features
    plan = None
    if pose_weight is not None and lattice.usable.sum() >= 2:
        from .pose import DEFAULT_POSE_JOIN_WEIGHT, add_pose_term, default_pose_weight

        jw = DEFAULT_POSE_JOIN_WEIGHT if pose_join_weight is None else float(pose_join_weight)
        pw = default_pose_weight(db) if pose_weight == "auto" else float(pose_weight)
        lattice, plan = add_pose_term(db, lattice, target.matrices, pw, int(decoder.candidates), jw)
    usable = lattice.usable
    if usable.sum() < 2:
        raise InputError(f"the input has {int(usable.sum())} usable frame(s) of {len(usable)}; synthesis needs "
                         "at least 2", target.audio)
    T = len(target)
    mats = target.matrices if target.matrices is not None else np.full((T, 2, 3), np.nan)
    kp_in = target.keypoints if target.keypoints is not None else np.zeros((T, 70, 3), np.float32)
    res = MatchResult(np.asarray(kp_in, np.float32), lattice.points, mats, usable, target.reason, lattice.weights,
                      lattice.rows, lattice.best, lattice.candidates, lattice.costs, lattice.metric, lattice.k,
                      lattice.exhaustive, {**target.timings, **lattice.timings}, search=lattice.search,
                      search_info=lattice.search_info)
    d = decoder.decode(db, lattice)
    res.frame_rows, res.frame_cost = res.rows, res.target_cost
    res.rows, res.target_cost = d.rows, d.target_cost
    res.join_cost, res.is_jump, res.decoding = d.join_cost, d.is_jump, d
    res.timings.update(d.timings)
    track = target.track
    if target.matrices is None:
        ok = res.rows >= 0
        res.matrices = np.where(ok[:, None, None], db.transforms_[np.maximum(res.rows, 0)], np.nan)
        track = speech_track(db, target, res)
        res.keypoints = track.keypoints
    stats = path_stats(res.is_jump, res.rows >= 0, d.segment_start, target.fps)
    per_frame = path_stats(path_joins(db, res.frame_rows, d.segment_start)[1], res.frame_rows >= 0,
                           d.segment_start, target.fps)
    per_frame["mean_target_cost"] = float(np.nanmean(res.frame_cost)) if (res.frame_rows >= 0).any() else None
    params = {**d.params, "input_filter": "none", **target.report, "total_cost": d.total_cost}
    if audio_term is not None:
        params["audio_weight_abs"] = audio_term.weight
    if plan is not None:
        params["pose_weight"] = plan.pose_weight
        params["pose_join_weight"] = jw if lattice.joins is not None else 0.0  # (none with pose weight 0)
    return Synthesis(track, res, stats, per_frame, params, time.perf_counter() - t0, target, background=plan)


def speech_track(db, target, res):
    """A stand-in input track for a target without a face: the selected frames with the target's jaw and lips.

    Where the target weighs no point (phones alone) the selected frame is shown as it is.
    """
    from ..database.normalize import Normalizer
    from ..layout import N_POINTS, SPEECH_POINTS
    from ..sources.recordings import Track

    ok = res.rows >= 0
    kp = np.zeros((len(target), N_POINTS, 3), np.float32)
    kp[ok] = db.keypoints_[res.rows[ok]]
    full = np.asarray(db.normalized_[res.rows[ok]], np.float32).copy()
    if target.weights[ok].any():
        full[:, SPEECH_POINTS] = target.points[ok][:, SPEECH_POINTS]
    kp[ok, :, :2] = Normalizer.inverse_transform(full, res.matrices[ok])
    extra = {}
    sizes = [(r["extra"].get("width"), r["extra"].get("height")) for r in db.recordings_
             if isinstance(r.get("extra"), dict) and r["extra"].get("width")]
    if sizes:
        extra = {"width": max(s[0] for s in sizes), "height": max(s[1] for s in sizes)}
    extra["duration"] = len(target) / target.fps
    return Track(target.name, target.audio or target.name, "audio", kp, target.frames, target.time_s,
                 np.ones(len(target), np.int16), [f"{target.name}#{i}" for i in range(len(target))], target.fps,
                 "database", video=None, extra=extra)
