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
