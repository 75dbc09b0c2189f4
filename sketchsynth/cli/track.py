"""sketchsynth track: video -> OpenPose-style JSON, one file per frame."""

from __future__ import annotations

import time

import click

from .options import INT, force_option, tracker_kwargs, video_options


@click.command("track")
@click.argument("video", type=click.Path())
@click.option("--out", "out", type=click.Path(), required=True,
              help="Folder to write (replaced only with --force).")
@force_option
@video_options
@click.option("--downscale", default="auto", show_default=True,
              help="Shrink factor of the frame for face detection (0-1), or 'auto' (face about 90 px wide).")
@click.option("--upsample", type=INT, default=0, show_default=True,
              help="dlib upsampling when searching for a face; 1 finds faces down to ~40 px, 4x slower.")
def command(video, out, force, video_opts, downscale, upsample):
    """Track the face in VIDEO and write OpenPose-style JSON for every frame.

    Files are named as OpenPose names them, <video>_<frame:012d>_keypoints.json
    with frames counted from 0, holding the 70 face points (dlib's 68 in iBUG
    order plus the pupils as eye-contour centroids at confidence 0.5); frames
    without a face get "people": []. fps.txt records the frame rate, so the
    folder can be given to build-db or match as it is.

    \b
    Example:
      sketchsynth track ../shared/data/fadg0/video/sa1.mp4 --out tracked/sa1
      sketchsynth build-db tracked/ --db db/fadg0
    """
    import os

    import numpy as np

    from ..errors import InputError
    from ..io.openpose_write import write_openpose_folder
    from ..sources.recordings import Recording
    from ..outputs.results import safe_prefix
    from ..io.storage import atomic_directory, check_target
    from ..sources.tracking import track_video_recording

    t0 = time.perf_counter()
    if not os.path.isfile(video):
        raise InputError("no such video file" if not os.path.exists(video) else "not a file: give one video",
                         video)
    protect = [(video, "the video")]
    check_target(out, force=force, protect=protect, kind="track", error=InputError)  # before minutes of tracking
    stem = os.path.splitext(os.path.basename(video))[0]
    options = tracker_kwargs(video_opts)
    options["downscale"] = downscale if downscale == "auto" else _factor(downscale)
    options["upsample"] = upsample
    track = track_video_recording(Recording(stem, video, "video", os.path.dirname(video) or "."), progress=True,
                                  **options)
    face = (track.keypoints[..., 2] > 0).any(axis=1)
    # OpenPose writes "people": [] for a frame without a face; NaN asks the writer for exactly that.
    kp = np.where(face[:, None, None], track.keypoints, np.nan)
    with atomic_directory(out, force=force, error=InputError, kind="track", protect=protect) as tmp:
        names = write_openpose_folder(tmp, kp, frames=track.frames, prefix=safe_prefix(stem))
        (tmp / "fps.txt").write_text(f"{track.fps:.6g}\n")
    vfr = " (variable frame rate: timestamps averaged)" if track.extra.get("variable_frame_rate") else ""
    filt = track.extra.get("filter")
    click.echo(f"Tracked {len(track)} frames of {video} ({track.extra['width']}x{track.extra['height']}, "
               f"{track.fps:.4g} fps{vfr}) in {time.perf_counter() - t0:.1f} s: a face in {int(face.sum())} "
               f"frames, {len(track) - int(face.sum())} without; jitter filter "
               f"{filt['method'] if filt else 'off'}.")
    click.echo(f"Wrote {len(names)} OpenPose JSON files ({names[0]} ...) and fps.txt to {out}")


def _factor(text: str) -> float:
    from ..errors import ParameterError

    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"--downscale must be 'auto' or a number in (0, 1], got {text!r}") from None
