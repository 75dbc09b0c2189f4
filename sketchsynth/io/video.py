"""Read and write video files with PyAV (FFmpeg's libraries; no ffmpeg binary needed).

Reading:

- :func:`probe` describes a file (frame rate, frame count, size, audio, rotation)
  without decoding it; it demuxes the video packets, so the frame count and the
  variable-frame-rate flag are exact even when the container does not store them
  (MPEG program streams such as GRID's ``.mpg`` do not).
- :func:`iter_frames` decodes frame by frame and gives each frame's presentation
  time from its timestamp, so variable-frame-rate files keep their true timing.
- :func:`read_frames` / :func:`fetch_frames` return chosen frames by index or by
  time (recorded database frames fetched back for ``frames.mp4``).

Writing: :class:`VideoWriter` encodes H.264 (libx264, yuv420p, even dimensions)
and muxes an AAC track decoded and resampled from a source file, trimmed to the
video's duration.

Frames are ``uint8`` arrays in OpenCV's BGR order, shape (height, width, 3), or
(height, width) for ``fmt="gray"``, upright as a player shows them (a rotation
stored in the file's display matrix is applied).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..errors import InputError, ParameterError, require


FORMATS = ("bgr24", "rgb24", "gray")


def require_av():
    return require("av", "video", "video input and output")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found in a video file.

    Attributes
    ----------
    path : str
    fps : float
        Average frame rate (frames per second of presentation time).
    n_frames : int
        Video frames, counted from the demuxed packets.
    width, height : int
        Frame size as displayed (after rotation).
    duration : float
        Seconds from the first frame's start to the last frame's end.
    start_time : float
        Presentation time of the first frame, seconds.
    has_audio : bool
    audio_sample_rate : int or None
    audio_channels : int or None
    variable_frame_rate : bool
        True when frame intervals differ by more than timestamp rounding.
    rotation : int
        Counter-clockwise display rotation in degrees (0, 90, 180, 270).
    codec : str
    frame_times : np.ndarray, shape (n_frames,), float64
        Presentation time of every frame, seconds, increasing.
    """

    path: str
    fps: float
    n_frames: int
    width: int
    height: int
    duration: float
    start_time: float
    has_audio: bool
    audio_sample_rate: int | None
    audio_channels: int | None
    variable_frame_rate: bool
    rotation: int
    codec: str
    frame_times: np.ndarray = field(repr=False, compare=False)


def describe_av_error(e) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return " ".join(str(msg).split())[:120]


def check_media_file(path, what: str = "video") -> str:
    """``path`` as a string, or an :class:`InputError` when it is missing, a folder or empty.

    Checked before FFmpeg opens it, whose own messages for these cases are less clear.
    ``what`` names the expected content (``"video"``, ``"audio"``).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("no such file" if what == "video" else f"no such {what} file", path)
    if os.path.isdir(path):
        raise InputError(f"is a folder, not {'a video' if what == 'video' else 'an ' + what} file", path)
    if os.path.getsize(path) == 0:
        raise InputError(f"empty file (0 bytes), not {'a video' if what == 'video' else what}", path)
    return path


def open_container(path, av=None):
    """Open ``path`` for reading or raise an :class:`InputError` that says why not."""
    av = av or require_av()
    path = check_media_file(path, "video")
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.EOFError:
        raise InputError("holds no frames: the file ends right after its header (an empty or unfinished "
                         "recording)", path) from None
    except av.error.FFmpegError as e:
        with open(path, "rb") as fh:
            head = fh.read(12)
        if head[4:8] == b"ftyp":
            raise InputError(f"truncated or damaged MP4/MOV: FFmpeg cannot read its index "
                             f"({describe_av_error(e)}); re-export or re-download the file", path) from None
        raise InputError(f"not a video file FFmpeg can read ({describe_av_error(e)})", path) from None
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror})", path) from None


def _video_stream(container, path):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        if "audio" in kinds:
            raise InputError("audio-only file: it has no video stream (give a video with the speaker's face)",
                             path)
        if not kinds:
            raise InputError("holds no frames and no streams (an empty or unfinished recording)", path)
        raise InputError(f"not a video file (FFmpeg reads it as '{container.format.name}' with "
                         f"{', '.join(kinds)} streams only)", path)
    return container.streams.video[0]


def _rotation_of(frame) -> int:
    try:
        rot = float(frame.rotation)
    except (AttributeError, TypeError, ValueError):
        return 0
    if not np.isfinite(rot):
        return 0
    return int(round(rot / 90.0)) % 4 * 90


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file.

    Demuxes every video packet (no decoding) for the exact frame count and
    timestamps, and decodes the first frame to check that the stream is really
    video.

    Parameters
    ----------
    path : path

    Returns
    -------
    VideoInfo

    Raises
    ------
    InputError
        Missing file, not a video, audio only, no frames, or truncated (fewer
        packets than the container declares, or unreadable data).
    DependencyError
        PyAV is not installed.
    """
    av = require_av()
    path = os.fspath(path)
    with open_container(path, av) as c:
        vs = _video_stream(c, path)
        tb = vs.time_base
        declared = int(vs.frames or 0)
        pts = []
        try:
            for pk in c.demux(vs):
                if pk.size == 0:  # the flush packet at the end
                    continue
                pts.append(pk.pts if pk.pts is not None else pk.dts)
        except av.error.FFmpegError as e:
            raise InputError(f"truncated or damaged video: reading stopped after {len(pts)} frames "
                             f"({describe_av_error(e)})", path) from None
        if not pts:
            raise InputError("the video stream holds no frames", path)
        if declared and len(pts) < declared:
            raise InputError(f"truncated video: {len(pts)} of the {declared} frames its header declares "
                             "are in the file", path)
        audio = c.streams.audio[0] if c.streams.audio else None
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        codec = vs.codec_context.name
        times = _frame_times(pts, tb, float(rate) if rate else None)
    # Decoding the first frame rejects streams FFmpeg only pretends to understand.
    with open_container(path, av) as c:
        vs = c.streams.video[0]
        try:
            first = next(iter(c.decode(vs)), None)
        except av.error.FFmpegError as e:
            raise InputError(f"the video stream cannot be decoded ({describe_av_error(e)})", path) from None
        if first is None:
            raise InputError("the video stream holds no decodable frame", path)
        rotation = _rotation_of(first)
        width, height = first.width, first.height
    if rotation in (90, 270):
        width, height = height, width
    n = len(times)
    steps = np.diff(times)
    if n > 1:
        frame_dur = float(np.median(steps))
        span = float(times[-1] - times[0]) + frame_dur
    else:
        frame_dur = 1.0 / float(rate) if rate else 0.04
        span = frame_dur
    fps = float(rate) if rate and float(rate) > 0 else (n / span if span > 0 else 0.0)
    if n > 1 and span > 0 and fps > 0 and abs(fps - n / span) / fps > 0.01:  # header and timestamps disagree
        fps = n / span
    from .framerate import check_frame_rate

    fps = check_frame_rate(fps, "the video's frame rate", path)
    tick = float(tb) if tb else 0.0
    vfr = bool(n > 2 and (steps.max() - steps.min()) > 1.5 * tick + 0.02 * frame_dur)
    return VideoInfo(path=path, fps=fps, n_frames=n, width=int(width), height=int(height), duration=span,
                     start_time=float(times[0]), has_audio=audio is not None,
                     audio_sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
                     audio_channels=int(audio.codec_context.channels) if audio is not None else None,
                     variable_frame_rate=vfr, rotation=rotation, codec=codec, frame_times=times)


def probe_audio(path: str | os.PathLike) -> dict:
    """Check that a file holds decodable audio (for muxing it into output videos).

    Parameters
    ----------
    path : path
        Any container FFmpeg reads with an audio stream: wav, mp3, m4a, a video...

    Returns
    -------
    dict
        ``sample_rate``, ``channels`` and ``duration_s`` (None when unknown).

    Raises
    ------
    InputError
        Missing, empty, not audio, or an audio stream that does not decode.
    """
    av = require_av()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("no such audio file", path)
    if os.path.getsize(path) == 0:
        raise InputError("empty file (0 bytes), not audio", path)
    try:
        c = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"not an audio file FFmpeg can read ({describe_av_error(e)})", path) from None
    with c:
        if not c.streams.audio:
            raise InputError("has no audio stream to use as the output's sound", path)
        a = c.streams.audio[0]
        try:
            first = next(c.decode(a), None)
        except av.error.FFmpegError as e:
            raise InputError(f"its audio does not decode ({describe_av_error(e)})", path) from None
        if first is None:
            raise InputError("its audio stream holds no samples", path)
        duration = c.duration / 1e6 if c.duration else None
        return {"sample_rate": int(a.codec_context.sample_rate), "channels": int(a.codec_context.channels),
                "duration_s": duration}


def _frame_times(pts, time_base, rate) -> np.ndarray:
    """Presentation times (s) of the frames from packet timestamps, in display order."""
    p = np.array([np.nan if v is None else float(v) for v in pts], dtype=np.float64)
    if np.isnan(p).all():
        step = 1.0 / rate if rate else 0.04
        return np.arange(len(p)) * step
    if np.isnan(p).any():  # packets without timestamps: one frame interval after the previous
        step = (1.0 / rate) / float(time_base) if rate else np.nanmedian(np.diff(p[~np.isnan(p)]))
        for i in range(len(p)):
            if np.isnan(p[i]):
                p[i] = (p[i - 1] + step) if i > 0 else 0.0
    return np.sort(p) * float(time_base)


def _to_array(frame, fmt: str, rotation: int) -> np.ndarray:
    if fmt == "gray" and frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p",
                                               "yuvj444p", "gray"):
        # The luma plane is the grey image; taking it skips a colour conversion.
        plane = frame.planes[0]
        img = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
        img = np.ascontiguousarray(img)
    else:
        img = frame.to_ndarray(format=fmt)
    if rotation:
        img = np.ascontiguousarray(np.rot90(img, k=rotation // 90))
    return img


def iter_frames(path: str | os.PathLike, fmt: str = "bgr24", threads: int = 0,
                start: int = 0, stop: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Decode a video frame by frame.

    Parameters
    ----------
    path : path
    fmt : {"bgr24", "rgb24", "gray"}
        Pixel format of the arrays.
    threads : int
        Decoder threads (0: FFmpeg's choice; 1: single-threaded, for worker
        processes that already use every core).
    start, stop : int
        Frame index range to yield (decoding still starts at the beginning).

    Yields
    ------
    index : int
        0, 1, ... in display order.
    time_s : float
        Presentation time from the frame's timestamp (variable frame rates keep
        their timing).
    image : np.ndarray, shape (height, width, 3) or (height, width), uint8

    Raises
    ------
    InputError
        Unreadable, audio-only, or damaged part-way (the message names the frame).
    """
    if fmt not in FORMATS:
        raise ParameterError(f"frame format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    av = require_av()
    path = os.fspath(path)
    with open_container(path, av) as c:
        vs = _video_stream(c, path)
        if threads != 1:
            vs.thread_type = "AUTO"
            vs.thread_count = threads
        rate = vs.average_rate or vs.guessed_rate
        step = 1.0 / float(rate) if rate else 0.04
        i = 0
        last_t = None
        try:
            for frame in c.decode(vs):
                t = frame.time
                if t is None:  # no timestamp: one frame interval after the previous frame
                    t = 0.0 if last_t is None else last_t + step
                last_t = t
                if i >= start:
                    if stop is not None and i >= stop:
                        return
                    yield i, float(t), _to_array(frame, fmt, _rotation_of(frame))
                i += 1
        except av.error.FFmpegError as e:
            raise InputError(f"truncated or damaged video: decoding failed after {i} frames "
                             f"({describe_av_error(e)})", path) from None
        if i == 0:
            raise InputError("the video stream holds no decodable frame", path)


