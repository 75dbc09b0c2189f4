"""sketchsynth match: pick a database frame for every input frame."""

from __future__ import annotations

import os
import time

import click

from .options import db_option, force_option, fps_option, metric_option, person_option, tracker_kwargs, video_options


@click.command("match")
@click.argument("input_path", metavar="INPUT", type=click.Path())
@db_option
@click.option("--out", "out", type=click.Path(), default=None,
              help="Output folder (default: out/<input name>).")
@metric_option
@click.option("-k", "--prefilter-k", "k", type=int, default=256, show_default=True,
              help="FAISS candidates per frame, re-ranked with the exact metric.")
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
def command(input_path, db_path, out, metric, k, exhaustive, plot_frames, fps, person, force, video_opts,
            sketch_layout):
    """Match INPUT frame by frame against the database.

    INPUT is a folder of OpenPose JSON, a .npy/.npz landmark array or a video
    (tracked first; then sketch.mp4 and, when the database has recorded video,
    frames.mp4 are written too, with the input's audio). Writes
    OUT/selection.csv (input_frame, db_index, recording, frame, target_cost),
    the matched keypoints as OpenPose JSON in the input's image coordinates
    (OUT/matched/), and a comparison figure.

    \b
    Example:
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --db db/example --out out/sa1
    """
    from ..database import FrameDatabase
    from ..errors import ParameterError
    from ..io.recordings import load_input
    from ..matching import match
    from ..results import write_match_outputs
    from ..search import check_metric
    from ..video_out import MatchVideoWriter

    check_metric(metric)
    if k < 1:
        raise ParameterError(f"-k must be >= 1, got {k}")
    t0 = time.perf_counter()
    db = FrameDatabase.load(db_path)
    track = load_input(input_path, fps=fps, person=person, video_options=tracker_kwargs(video_opts))
    out = out or os.path.join("out", track.name.replace("/", "_"))
    result = match(db, track.keypoints, metric=metric, k=k, exhaustive_search=exhaustive)
    videos = MatchVideoWriter(db, result, track, layout=sketch_layout) if track.video else None
    summary = write_match_outputs(out, db, result, track, force=force, plot_frames=plot_frames or None,
                                  write_files=videos)
    cost = summary["mean_target_cost"]
    click.echo(f"Matched {summary['matched_frames']} of {summary['frames']} frames of {track.name} against "
               f"{db.n_usable_} database frames ({metric} metric, "
               f"{'exhaustive' if exhaustive else f'top-{k} prefilter'}) in {time.perf_counter() - t0:.2f} s; "
               f"mean target cost {cost:.4g}." if cost is not None else
               f"No input frame of {track.name} has a usable face; nothing matched.")
    click.echo(f"Wrote {out}/selection.csv, {out}/matched/ (OpenPose JSON) and "
               f"{', '.join(f'{out}/{p}' for p in summary['plots'])}")
    if videos is not None:
        click.echo(videos.summary_line(out))
