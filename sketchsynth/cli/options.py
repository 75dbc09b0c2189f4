"""Options shared by several commands, defined once."""

from __future__ import annotations

import click

from ..database import DEFAULT_DB


def db_option(f):
    return click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
                        help="Database folder.")(f)


def force_option(f):
    return click.option("--force", is_flag=True, help="Replace the target if it exists.")(f)


def fps_option(f):
    return click.option("--fps", type=float, default=None,
                        help="Frame rate of OpenPose JSON / landmark recordings that have no fps.txt sidecar.")(f)


def person_option(f):
    return click.option("--person", default="largest", show_default=True,
                        help="Face to keep when a frame lists several people: largest, first, confident, "
                             "or an index.")(f)


def metric_option(f):
    return click.option("--metric", type=click.Choice(["sum", "sq"]), default="sum", show_default=True,
                        help="Target cost: the method's sum of weighted point distances, or weighted squared "
                             "distance.")(f)


def parse_points(text: str | None, what: str):
    """'35,40,46' -> (35, 40, 46); None stays None."""
    if text is None:
        return None
    from ..errors import ParameterError
    from ..layout import check_point_indices

    try:
        pts = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise ParameterError(f"{what}: expected comma-separated point numbers like 35,40,46, got {text!r}") from None
    return check_point_indices(pts, what)


def video_options(f):
    """Options of the face tracker used on video inputs; the command receives them as ``video_opts`` (a dict)."""
    def collect(ctx, param, value):
        opts = ctx.params.setdefault("video_opts", {})
        if value is not None:
            opts[param.name] = value
        return value

    f = click.option("--detect-every", type=int, default=None, expose_value=False, callback=collect,
                     help="Video: run the face detector every N frames and follow the face in between "
                          "[default: 5; 1 detects in every frame].")(f)
    f = click.option("--jitter-filter", type=click.Choice(["one-euro", "savgol", "none"]), default=None,
                     expose_value=False, callback=collect,
                     help="Video: temporal filter against the tracker's jitter [default: one-euro; none: off].")(f)
    f = click.option("--no-cache", "no_cache", is_flag=True, default=None, expose_value=False, callback=collect,
                     help="Video: track again instead of reusing cached keypoints.")(f)
    return f


def tracker_kwargs(video_opts: dict | None) -> dict:
    """CLI video options -> keyword arguments of :func:`sketchsynth.track.track_video_recording`."""
    opts = dict(video_opts or {})
    out = {}
    if opts.get("detect_every") is not None:
        out["detect_every"] = opts["detect_every"]
    if opts.get("jitter_filter") is not None:
        out["jitter_filter"] = None if opts["jitter_filter"] == "none" else opts["jitter_filter"]
    if opts.get("no_cache"):
        out["cache"] = False
    return out
