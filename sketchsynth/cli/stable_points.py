"""sketchsynth stable-points: which keypoints keep their distances to the others."""

from __future__ import annotations

import os
import time

import click

from .options import INT, fps_option, person_option


@click.command("stable-points")
@click.argument("recordings", type=click.Path())
@click.option("--measure", type=click.Choice(["std", "cv"]), default="std", show_default=True,
              help="Standard deviation of each distance over time, or its coefficient of variation "
                   "(std/mean, which favours points far from the rest).")
@click.option("--scale", type=click.Choice(["interocular", "none"]), default="interocular", show_default=True,
              help="Measure distances in units of each frame's inter-ocular distance (discounts zoom), "
                   "or in pixels.")
@click.option("--top", type=INT, default=10, show_default=True, help="Rows of the ranking to print (0: all).")
@click.option("--plot", "plot_path", type=click.Path(), default=None, help="Save a bar plot (.png or .pdf).")
@click.option("--csv", "csv_path", type=click.Path(), default=None, help="Save the full ranking as CSV.")
@click.option("--force", is_flag=True, help="Overwrite existing --plot / --csv files.")
@fps_option
@person_option
def command(recordings, measure, scale, top, plot_path, csv_path, fps, person, force):
    """Rank the 70 face points by how much their distances to all other points vary over time.

    The method this project implements found nose point 35 the most stable and
    used it as the normalization origin. Only usable frames (face found, all
    points present) count.

    \b
    Example:
      sketchsynth stable-points ../shared/data/henan/keypoints --plot stable.png
    """
    import numpy as np

    from ..database import quality
    from ..errors import InputError, ParameterError
    from ..sources.load import discover, load_tracks
    from ..layout import DEFAULT_ANCHORS
    from ..evaluation.stable import save_bar_plot, stable_points
    from ..io.storage import atomic_file, check_file_target

    if top < 0:
        raise ParameterError(f"--top must be >= 0, got {top}")
    if plot_path and not plot_path.lower().endswith((".png", ".pdf")):
        raise ParameterError(f"--plot must end in .png or .pdf: {plot_path}")
    protect = [(recordings, "the recordings")]
    outputs = [(p, what) for p, what in ((csv_path, "--csv file"), (plot_path, "--plot file")) if p]
    if csv_path and plot_path and os.path.abspath(csv_path) == os.path.abspath(plot_path):
        raise ParameterError("--csv and --plot name the same file")
    for p, what in outputs:  # before reading the recordings
        check_file_target(p, force=force, protect=protect, what=what)
    t0 = time.perf_counter()
    # Frame rate plays no part here; avoid demanding one.
    tracks = load_tracks(discover(recordings), fps=fps or 1.0, person=person)
    keep = []
    for t in tracks:
        clean, usable, _, _ = quality.assess_frames(t.keypoints, t.n_people, t.frames, DEFAULT_ANCHORS, 0.0, 0)
        keep.append(clean[usable & (t.keypoints[..., 2] > 0).all(axis=1)])
    kp = np.concatenate(keep)
    if len(kp) < 2:
        raise InputError("fewer than 2 frames with every point present; nothing to rank", recordings)
    table = stable_points(kp, scale=scale, measure=measure)
    dt = time.perf_counter() - t0
    click.echo(f"{len(kp)} frames from {len(tracks)} recording(s), {dt:.2f} s. "
               f"Most stable first (mean {measure} of distances to the other 69 points, "
               f"{'in inter-ocular units' if scale == 'interocular' else 'in pixels'}):")
    shown = table if top == 0 else table.head(top)
    for r in shown.itertuples():
        click.echo(f"{r.rank:3d}. point {r.point:2d} ({r.group:6s}) {r.variation:.4f}")
    p35 = int(table.index[table["point"] == 35][0]) + 1
    click.echo(f"Point 35 (the method's origin) ranks {p35} of 70.")
    if csv_path:
        with atomic_file(csv_path, force=force, protect=protect, what="--csv file") as tmp:
            table.to_csv(tmp, index=False)
        click.echo(f"Wrote {csv_path}")
    if plot_path:
        with atomic_file(plot_path, force=force, protect=protect, what="--plot file") as tmp:
            save_bar_plot(table, tmp, title=f"{recordings}: {len(kp)} frames, measure={measure}, scale={scale}")
        click.echo(f"Wrote {plot_path}")
