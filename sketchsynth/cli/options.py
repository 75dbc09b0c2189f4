"""Options shared by several commands, defined once."""

from __future__ import annotations

import math
import re

import click

from ..defaults import DEFAULT_DB


class WholeNumber(click.ParamType):
    """A whole number written in ASCII digits, within +-10**9 (no 5,000-digit or overflowing values)."""

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        else:
            text = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,10}", text) or abs(int(text)) > 10 ** 9:
            self.fail(f"{text[:20]!r} is not a whole number within +-1,000,000,000", param, ctx)
        return int(text)


class FiniteNumber(click.ParamType):
    """A finite number (no nan, inf, or values beyond +-1e12)."""

    name = "number"

    def convert(self, value, param, ctx):
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{str(value)[:20]!r} is not a number", param, ctx)
        if not math.isfinite(x) or abs(x) > 1e12:
            self.fail(f"{str(value)[:20]!r} is not a finite number within +-1e12", param, ctx)
        return x


INT = WholeNumber()
FLOAT = FiniteNumber()



def db_option(f):
    return click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, type=click.Path(),
                        help="Database folder.")(f)


def force_option(f):
    return click.option("--force", is_flag=True, help="Replace the target if it exists.")(f)


def fps_option(f):
    return click.option("--fps", type=FLOAT, default=None,
                        help="Frame rate of OpenPose JSON / landmark recordings that have no fps.txt sidecar.")(f)


def person_option(f):
    return click.option("--person", default="largest", show_default=True,
                        help="Face to keep when a frame lists several people: largest, first, confident, "
                             "or an index.")(f)


def metric_option(f):
    return click.option("--metric", type=click.Choice(["sum", "sq"]), default="sum", show_default=True,
                        help="Target cost: the method's sum of weighted point distances, or weighted squared "
                             "distance.")(f)


def search_options(f):
    """The candidate search (exact flat index or approximate IVF), shared by match and evaluate."""
    f = click.option("--nprobe", type=INT, default=None, metavar="N",
                     help="IVF cells scanned per input frame: more is slower and closer to exact (default 16 "
                          "of 256; on a compressed database the value its manifest records).")(f)
    f = click.option("--search", "search", type=click.Choice(["auto", "exact", "ivf", "pq"]), default="auto",
                     show_default=True,
                     help="Candidate search before the exact re-rank: exact (every database frame), ivf "
                          "(approximate inverted-file index, trained at the first match on a database and "
                          "cached in $SKETCHSYNTH_CACHE), pq (the database's compressed index, build-db "
                          "--index ivfpq), or auto (the compressed index if the database has one, else ivf from "
                          "20,000 usable database frames on).")(f)
    return f


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

    f = click.option("--detect-every", type=INT, default=None, expose_value=False, callback=collect,
                     help="Video: run the face detector every N frames and follow the face in between "
                          "[default: 5; 1 detects in every frame].")(f)
    f = click.option("--jitter-filter", type=click.Choice(["one-euro", "savgol", "none"]), default=None,
                     expose_value=False, callback=collect,
                     help="Video: temporal filter against the tracker's jitter [default: one-euro; none: off].")(f)
    f = click.option("--no-cache", "no_cache", is_flag=True, default=None, expose_value=False, callback=collect,
                     help="Video: track again instead of reusing cached keypoints.")(f)
    return f


def tracker_kwargs(video_opts: dict | None) -> dict:
    """CLI video options -> keyword arguments of :func:`sketchsynth.sources.tracker.track_video_recording`."""
    opts = dict(video_opts or {})
    out = {}
    if opts.get("detect_every") is not None:
        out["detect_every"] = opts["detect_every"]
    if opts.get("jitter_filter") is not None:
        out["jitter_filter"] = None if opts["jitter_filter"] == "none" else opts["jitter_filter"]
    if opts.get("no_cache"):
        out["cache"] = False
    return out


def smoothing_options(f):
    """Options of the smooth (Viterbi) synthesis, shared by match and evaluate."""
    from ..defaults import DEFAULT_AUDIO_SMOOTH, DEFAULT_CANDIDATES, DEFAULT_JUMP_COST, DEFAULT_SMOOTH

    # applied last-first, so --help lists them in this order
    f = click.option("--beam", type=FLOAT, default=None,
                     help="Prune lattice states more than this many median target costs above their step's "
                          "best (faster, approximate) [default: exact].")(f)
    f = click.option("--jump-cost", type=FLOAT, default=DEFAULT_JUMP_COST, show_default=True,
                     help="Extra join cost of every jump, in units of the input's median per-frame target cost.")(f)
    f = click.option("--join", type=click.Choice(["successor", "method"]), default="successor", show_default=True,
                     help="Join cost: 0 for a recording's next frame, else distance from where the recording "
                          "would have gone (successor); or the distance between consecutive frames (method).")(f)
    f = click.option("--candidates", type=INT, default=DEFAULT_CANDIDATES, show_default=True,
                     help="Top-K database frames per input frame in the Viterbi lattice (recording successors "
                          "of the previous step's best states are added).")(f)
    f = click.option("--smooth", "smooth", type=FLOAT, default=None,
                     help="Weight λ of the join cost against the target cost; 0 = the per-frame match "
                          f"[default: {DEFAULT_SMOOTH:g}; {DEFAULT_AUDIO_SMOOTH:g} when speech drives].")(f)
    return f


def audio_weight_option(f):
    from ..defaults import DEFAULT_AUDIO_WEIGHT

    return click.option("--audio-weight", type=FLOAT, default=DEFAULT_AUDIO_WEIGHT, show_default=True,
                        help="When speech drives: weight of the audio term, the distance between the driving "
                             "sound's features and each database frame's own, against the predicted mouth's "
                             "(1 = equal medians; 0 = off). It keeps recorded stretches that sound alike: fewer "
                             "jumps.")(f)


def check_audio_weight(value: float) -> float:
    import math

    from ..errors import ParameterError

    if not (math.isfinite(value) and 0 <= value <= 100):
        raise ParameterError(f"--audio-weight must be within 0-100, got {value}")
    return value


def resolve_smooth(smooth, drive: str) -> float:
    """--smooth as given, else the default of what drives the match: "audio" (speech), anything else
    (a face, text: whose evaluation was measured at the face default) :data:`DEFAULT_SMOOTH`."""
    from ..defaults import DEFAULT_AUDIO_SMOOTH, DEFAULT_SMOOTH

    if smooth is not None:
        return smooth
    return DEFAULT_AUDIO_SMOOTH if drive == "audio" else DEFAULT_SMOOTH


def filter_option(f):
    return click.option("--filter", "track_filter", type=click.Choice(["none", "one-euro", "savgol"]),
                        default="none", show_default=True,
                        help="Temporal filter against tracker jitter on the input keypoints before matching "
                             "(video input is already filtered by the tracker, see --jitter-filter).")(f)


def expect_options(f):
    f = click.option("--expect-normalization", default=None,
                     help="Fail unless the database was built with this normalization: affine, similarity, "
                          "optionally with anchors (affine:35,40,46).")(f)
    f = click.option("--expect-weights", default=None,
                     help="Fail unless the database was built with these point weights: default, "
                          "group=value pairs (lips=10,eyes=2,...) or 70 numbers.")(f)
    return f


def parse_normalization(text: str | None):
    """'affine:35,40,46' -> ('affine', (35, 40, 46)); 'similarity' -> ('similarity', None)."""
    if text is None:
        return None, None
    from ..errors import ParameterError
    from ..database.normalize import MODES

    mode, _, anchors = text.replace(" ", "").partition(":")
    if mode not in MODES:
        raise ParameterError(f"--expect-normalization: mode must be one of {', '.join(MODES)}, got {mode!r}")
    pts = parse_points(anchors, "--expect-normalization anchors") if anchors else None
    if pts is not None and len(pts) != 3:
        raise ParameterError(f"--expect-normalization anchors: need exactly 3 points, got {list(pts)}")
    return mode, pts


def check_expectations(db, expect_weights: str | None, expect_normalization: str | None):
    """Raise DatabaseError when ``db`` was built otherwise than the options say."""
    from ..layout import parse_weights

    weights = None if expect_weights is None else parse_weights(expect_weights)
    mode, anchors = parse_normalization(expect_normalization)
    db.check_settings(weights=weights, mode=mode, anchors=anchors)
