"""A selection's outputs written (:func:`write_synthesis`), and the lines a command prints about them."""

from __future__ import annotations

import os

from ..errors import ParameterError


def write_synthesis(out, db, syn, force: bool = False, plot_frames=None,
                    sketch_layout: str = "side-by-side", audio=None, sketch_video: bool = False,
                    progress: bool = False, summary_extra: dict | None = None, protect=(),
                    frames_mode: str | None = None, background: str = "auto", blend: str = "feather",
                    seam_blend: int = 0, folder=None, keep_audio: str | None = None) -> dict:
    """Write a synthesis's output folder atomically (see :mod:`sketchsynth.outputs.results`).

    Parameters
    ----------
    out : path
    db : FrameDatabase
    syn : Synthesis
    force : bool
        Replace an existing folder.
    plot_frames : list of int, optional
        Input frames to draw comparison figures for.
    sketch_layout : {"side-by-side", "overlay"}
    audio : path, optional
        Sound for the videos instead of the input video's own; with a
        keypoint-only input it makes ``sketch.mp4`` (and ``frames.mp4``) be written.
    sketch_video : bool
        Write ``sketch.mp4`` for a keypoint-only input even without audio.
    progress : bool
    summary_extra : dict, optional
        More summary entries (e.g. what drove the match, the stages run).
    protect : iterable of (path, label)
        Paths ``out`` must not be, contain or lie inside (the input, ``audio``
        and the database always are).
    frames_mode, background, blend :
        How ``frames.mp4`` shows the recorded frames (see
        :class:`sketchsynth.outputs.video.MatchVideoWriter`); default composite.
    seam_blend : int
        Frames over which each jump is blended away in the written keypoints (:mod:`.placement`).
    folder : sketchsynth.outputs.results.OutputFolder, optional
        Write into this folder, already opened by the caller.
    keep_audio : str, optional
        Keep a copy of ``audio`` in the folder under this name (a sound made only for this output).

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from .placement import matched_in_input_coords
    from .results import write_match_outputs

    if int(seam_blend) != seam_blend or seam_blend < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {seam_blend}")
    track, result = syn.track, syn.result
    syn.matched_kp = matched_in_input_coords(db, result, seam_blend=seam_blend)
    syn.params["seam_blend"] = int(seam_blend)
    if audio is not None:
        from ..io.video import probe_audio

        probe_audio(audio)  # fail before any work is written, with a line naming the file
    videos = None
    if track.video or audio is not None or sketch_video:
        from .video import DEFAULT_FRAMES_MODE, MatchVideoWriter

        videos = MatchVideoWriter(db, result, track, matched_kp=syn.matched_kp, layout=sketch_layout,
                                  audio=audio if audio is not None else True, progress=progress,
                                  frames_mode=frames_mode or DEFAULT_FRAMES_MODE, background=background,
                                  blend=blend, keep_audio=keep_audio, plan=syn.background)
    smoothing = {**syn.params, **syn.stats, "per_frame_jumps_per_s": syn.per_frame["jumps_per_s"],
                 "per_frame_mean_target_cost": syn.per_frame["mean_target_cost"]}
    syn.summary = write_match_outputs(out, db, result, track, force=force, plot_frames=plot_frames or None,
                                      extra_columns={"join_cost": result.join_cost, "is_jump": result.is_jump},
                                      summary_extra={"smoothing": smoothing, **(summary_extra or {})},
                                      matched_kp=syn.matched_kp, write_files=videos,
                                      protect=[*protect, (audio, "the --audio file")], folder=folder)
    syn.videos = videos
    return syn.summary


def describe_search(result) -> str:
    """'exact' or 'IVF (nprobe 16 of 256, index from cache)'."""
    i = result.search_info
    if result.search == "pq":
        return f"{i.get('index')} (nprobe {i.get('nprobe')} of {i.get('nlist')})"
    if result.search != "ivf":
        return "exact"
    how = {"built": "index trained now", "cache": "index from cache", "memory": "index in memory"}
    return (f"IVF (nprobe {i.get('nprobe')} of {i.get('nlist')}" +
            (f", {how[i['index']]}" if i.get("index") in how else "") + ")")


def describe(db, syn, out) -> list[str]:
    """A few lines saying what was matched, how smooth it came out, and what was written where."""
    from ..selection.joins import ratio

    track, result, s = syn.track, syn.result, syn.summary
    cost = s.get("mean_target_cost")
    how = "exhaustive" if result.exhaustive else f"top-{result.k} {describe_search(result)} prefilter"
    best = syn.per_frame.get("mean_target_cost")
    lines = [f"Matched {s['matched_frames']} of {s['frames']} frames of {track.name} against {db.n_usable_} "
             f"database frames ({result.metric} metric, {how}) in {syn.seconds:.2f} s; mean target cost of each "
             f"frame's best match {best:.4g}." if cost is not None and best is not None else
             f"No input frame of {track.name} has a usable face; nothing matched."]
    p, st = syn.params, syn.stats
    if p.get("smooth", 0) > 0 and cost is not None:
        rise = ratio(cost, syn.per_frame["mean_target_cost"]) - 1  # both 0 when the input is in the database
        lines.append(f"Smooth synthesis (λ={p['smooth']:g}, top-{p['candidates']} + successors, {p['join']} join, "
                     f"jump cost {p['jump_cost']:g}): {st['frames']} frames, {st['jumps_per_s']:.2f} jumps/s "
                     f"(per-frame match: {syn.per_frame['jumps_per_s']:.2f}), mean run {st['mean_run_frames']:.1f} "
                     f"frames ({st['mean_run_s']:.2f} s), mean target cost {cost:.4g} ({100 * rise:+.1f}%).")
    elif cost is not None:
        lines.append(f"Per-frame match (--smooth 0): {st['frames']} frames, {st['jumps_per_s']:.2f} jumps/s, "
                     f"mean run {st['mean_run_frames']:.1f} frames, mean target cost {cost:.4g}.")
    lle = p.get("lle")
    if lle:
        r = lle.get("voice_distance_ratio")
        voice = "" if r is None else (f"; voice distance {r:.2f}x the database's own: " +
                                      ("its speaker" if lle["blend"] == 0 else "another voice"))
        lines.append(f"Speech: LLE projection onto the database's features, blend {lle['blend']:.2f}{voice}; audio "
                     f"term weight {p.get('audio_weight', 0):g}.")
    moved = p.get("retarget")
    if moved and moved.get("applied"):
        lines.append(f"Another person's face (identity {moved['identity_ratio']:.2f}x the speaker's own spread): its "
                     f"expression was carried onto the speaker's face, motion x{moved['scale']:.2f} (--retarget).")
    lines.append(f"Wrote {out}/selection.csv, {out}/matched/ (OpenPose JSON) and "
                 f"{', '.join(os.path.join(str(out), p) for p in s['plots'])}")
    if syn.videos is not None:
        lines.append(syn.videos.summary_line(out))
    return lines
