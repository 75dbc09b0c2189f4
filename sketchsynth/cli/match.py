"""sketchsynth match: pick a database frame for every input frame."""

from __future__ import annotations

import os
import time

import click
import numpy as np

from .options import (check_expectations, db_option, expect_options, filter_option, force_option, fps_option,
                      metric_option, person_option, search_options, smoothing_options, tracker_kwargs,
                      video_options)


@click.command("match")
@click.argument("input_path", metavar="INPUT", type=click.Path())
@db_option
@click.option("--out", "out", type=click.Path(), default=None,
              help="Output folder (default: out/<input name>).")
@metric_option
@click.option("-k", "--prefilter-k", "k", type=int, default=256, show_default=True,
              help="FAISS candidates per frame, re-ranked with the exact metric.")
@search_options
@click.option("--exhaustive", is_flag=True,
              help="Search every database frame exactly (slower; the prefilter agrees on >99.5% of frames).")
@click.option("--plot-frame", "plot_frames", type=int, multiple=True,
              help="Input frame index (0-based) for a comparison figure; repeat for several. Default: middle.")
@fps_option
@person_option
@force_option
@video_options
@click.option("--sketch-layout", type=click.Choice(["side-by-side", "overlay"]), default="side-by-side",
              show_default=True, help="Video input: sketch.mp4 shows input and match side by side or overlaid.")
@smoothing_options
@click.option("--seam-blend", type=int, default=0, show_default=True, metavar="FRAMES",
              help="Blend each remaining jump away over this many frames in the written keypoints "
                   "(the selection does not change).")
@filter_option
@expect_options
def command(input_path, db_path, out, metric, k, search, nprobe, exhaustive, plot_frames, fps, person, force,
            video_opts, sketch_layout, smooth, candidates, join, jump_cost, beam, seam_blend, track_filter,
            expect_weights, expect_normalization):
    """Match INPUT against the database: the best database frame sequence for it.

    With --smooth 0 every input frame gets its nearest database frame on its
    own (the method's per-frame match). Otherwise the whole sequence is chosen
    at once (Viterbi), trading target cost against join cost, so the output
    plays recorded stretches instead of hopping between moments every frame.

    INPUT is a folder of OpenPose JSON, a .npy/.npz landmark array or a video
    (tracked first; then sketch.mp4 and, when the database has recorded video,
    frames.mp4 are written too, with the input's audio). Writes
    OUT/selection.csv (input_frame, db_index, recording, frame, target_cost,
    join_cost, is_jump), the matched keypoints as OpenPose JSON in the input's
    image coordinates (OUT/matched/), and a comparison figure.

    \b
    Example:
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --db db/example --out out/sa1
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --db db/example --smooth 0   # per-frame
    """
    from ..database import FrameDatabase
    from ..decode import ViterbiDecoder, path_stats
    from ..errors import ParameterError
    from ..filters import filter_keypoints
    from ..io.recordings import load_input
    from ..matching import match, matched_in_input_coords
    from ..results import write_match_outputs
    from ..search import IVFSearch, check_metric
    from ..video_out import MatchVideoWriter

    check_metric(metric)
    if k < 1:
        raise ParameterError(f"-k must be >= 1, got {k}")
    ivf = IVFSearch(nprobe=nprobe).check()
    if seam_blend < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {seam_blend}")
    decoder = ViterbiDecoder(smooth=smooth, candidates=candidates, join=join, jump_cost=jump_cost,
                             beam=beam).check()
    t0 = time.perf_counter()
    db = FrameDatabase.load(db_path)
    check_expectations(db, expect_weights, expect_normalization)
    decoder.check(db)
    track = load_input(input_path, fps=fps, person=person, video_options=tracker_kwargs(video_opts), progress=True)
    out = out or os.path.join("out", track.name.replace("/", "_"))
    keypoints = track.keypoints if track_filter == "none" else \
        filter_keypoints(track.keypoints, track.fps, track_filter, frames=track.frames)
    result = match(db, keypoints, metric=metric, k=k, exhaustive_search=exhaustive, decoder=decoder,
                   frames=track.frames, search=search, ivf=ivf)
    dec = result.decoding
    stats = path_stats(result.is_jump, result.rows >= 0, dec.segment_start, track.fps)
    greedy = path_stats(_jumps(db, result.frame_rows, dec.segment_start), result.frame_rows >= 0, dec.segment_start,
                        track.fps)
    matched_kp = matched_in_input_coords(db, result, seam_blend=seam_blend)
    videos = (MatchVideoWriter(db, result, track, matched_kp=matched_kp, layout=sketch_layout, progress=True)
              if track.video else None)
    smoothing = {**dec.params, "seam_blend": seam_blend, "input_filter": track_filter, **stats,
                 "per_frame_jumps_per_s": greedy["jumps_per_s"],
                 "per_frame_mean_target_cost": float(np.nanmean(result.frame_cost)), "total_cost": dec.total_cost}
    summary = write_match_outputs(out, db, result, track, force=force, plot_frames=plot_frames or None,
                                  extra_columns={"join_cost": result.join_cost, "is_jump": result.is_jump},
                                  summary_extra={"smoothing": smoothing}, matched_kp=matched_kp,
                                  write_files=videos)
    cost = summary["mean_target_cost"]
    click.echo(f"Matched {summary['matched_frames']} of {summary['frames']} frames of {track.name} against "
               f"{db.n_usable_} database frames ({metric} metric, "
               f"{'exhaustive' if exhaustive else f'top-{k} {_describe_search(result)} prefilter'}) in "
               f"{time.perf_counter() - t0:.2f} s; "
               f"mean target cost {cost:.4g}." if cost is not None else
               f"No input frame of {track.name} has a usable face; nothing matched.")
    if smooth > 0:
        rise = cost / smoothing["per_frame_mean_target_cost"] - 1
        click.echo(f"Smooth synthesis (λ={smooth:g}, top-{candidates} + successors, {join} join, jump cost "
                   f"{jump_cost:g}): {stats['frames']} frames, {stats['jumps_per_s']:.2f} jumps/s (per-frame "
                   f"match: {greedy['jumps_per_s']:.2f}), mean run {stats['mean_run_frames']:.1f} frames "
                   f"({stats['mean_run_s']:.2f} s), mean target cost {cost:.4g} ({100 * rise:+.1f}%).")
    else:
        click.echo(f"Per-frame match (--smooth 0): {stats['frames']} frames, {stats['jumps_per_s']:.2f} jumps/s, "
                   f"mean run {stats['mean_run_frames']:.1f} frames, mean target cost {cost:.4g}.")
    click.echo(f"Wrote {out}/selection.csv, {out}/matched/ (OpenPose JSON) and "
               f"{', '.join(f'{out}/{p}' for p in summary['plots'])}")
    if videos is not None:
        click.echo(videos.summary_line(out))


def _describe_search(result) -> str:
    """'exact' or 'IVF (nprobe 16 of 256, index from cache)' for the summary line."""
    if result.search != "ivf":
        return "exact"
    i = result.search_info
    how = {"built": "index trained now", "cache": "index from cache", "memory": "index in memory"}
    return (f"IVF (nprobe {i.get('nprobe')} of {i.get('nlist')}" +
            (f", {how[i['index']]}" if i.get("index") in how else "") + ")")


def _jumps(db, rows, segment_start):
    """Jump flags of a row sequence (the per-frame match's), for :func:`sketchsynth.decode.path_stats`."""
    from ..decode import path_joins

    return path_joins(db, rows, segment_start)[1]
