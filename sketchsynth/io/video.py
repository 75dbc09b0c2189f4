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
from fractions import Fraction
from typing import Iterator

import numpy as np

from ..errors import InputError, ParameterError, require

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
"""Sample rates the AAC encoder accepts; other rates are resampled to 48 kHz."""

FORMATS = ("bgr24", "rgb24", "gray")


def _av():
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


def _describe_av_error(e) -> str:
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


def _open(path, av=None):
    """Open ``path`` for reading or raise an :class:`InputError` that says why not."""
    av = av or _av()
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
                             f"({_describe_av_error(e)}); re-export or re-download the file", path) from None
        raise InputError(f"not a video file FFmpeg can read ({_describe_av_error(e)})", path) from None
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
    av = _av()
    path = os.fspath(path)
    with _open(path, av) as c:
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
                             f"({_describe_av_error(e)})", path) from None
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
    with _open(path, av) as c:
        vs = c.streams.video[0]
        try:
            first = next(iter(c.decode(vs)), None)
        except av.error.FFmpegError as e:
            raise InputError(f"the video stream cannot be decoded ({_describe_av_error(e)})", path) from None
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
    av = _av()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("no such audio file", path)
    if os.path.getsize(path) == 0:
        raise InputError("empty file (0 bytes), not audio", path)
    try:
        c = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"not an audio file FFmpeg can read ({_describe_av_error(e)})", path) from None
    with c:
        if not c.streams.audio:
            raise InputError("has no audio stream to use as the output's sound", path)
        a = c.streams.audio[0]
        try:
            first = next(c.decode(a), None)
        except av.error.FFmpegError as e:
            raise InputError(f"its audio does not decode ({_describe_av_error(e)})", path) from None
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
    av = _av()
    path = os.fspath(path)
    with _open(path, av) as c:
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
                             f"({_describe_av_error(e)})", path) from None
        if i == 0:
            raise InputError("the video stream holds no decodable frame", path)


def frame_indices_at(frame_times: np.ndarray, times_s) -> np.ndarray:
    """Index of the frame shown at each time (nearest presentation time).

    Parameters
    ----------
    frame_times : np.ndarray, shape (n_frames,)
        Increasing presentation times (``VideoInfo.frame_times``).
    times_s : array_like, shape (n,)

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    ft = np.asarray(frame_times, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    pos = np.clip(np.searchsorted(ft, t), 1, max(len(ft) - 1, 1))
    lo = np.clip(pos - 1, 0, len(ft) - 1)
    hi = np.clip(pos, 0, len(ft) - 1)
    pick = np.where(np.abs(ft[hi] - t) < np.abs(t - ft[lo]), hi, lo)
    return pick.astype(np.int64)


def read_frames(path: str | os.PathLike, indices, fmt: str = "bgr24", encode: str | None = None,
                threads: int = 0) -> list:
    """Chosen frames of a video, decoded in one forward pass.

    Parameters
    ----------
    path : path
    indices : array_like of int, shape (n,)
        Frame indices (display order, as :func:`iter_frames` numbers them), in
        any order, repeats allowed.
    fmt : {"bgr24", "rgb24", "gray"}
    encode : {None, ".jpg", ".png"}
        Keep each frame compressed (OpenCV ``imencode``) instead of as an array:
        many full frames then fit in memory.
    threads : int
        Decoder threads (see :func:`iter_frames`).

    Returns
    -------
    list, length n
        ``np.ndarray`` of shape (height, width, 3) (or the encoded ``bytes``)
        per requested index; repeated indices share one object.

    Raises
    ------
    InputError
        An index beyond the video's last frame, or an unreadable file.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        return []
    if idx.min() < 0:
        raise ParameterError(f"frame index {int(idx.min())} is negative")
    wanted = np.unique(idx)
    wanted_set = set(int(i) for i in wanted)
    got: dict[int, object] = {}
    keep = _keeper(encode)
    for i, _, img in iter_frames(path, fmt, threads=threads, start=int(wanted[0]), stop=int(wanted[-1]) + 1):
        if i in wanted_set:
            got[i] = keep(img)
    missing = [i for i in wanted_set if i not in got]
    if missing:
        raise InputError(f"frame {min(missing)} is beyond the video's end ({len(got)} of the requested frames "
                         "exist); was the file replaced after it was tracked?", path)
    return [got[int(i)] for i in idx]


def fetch_frames(path: str | os.PathLike, times_s, fmt: str = "bgr24", encode: str | None = None) -> list:
    """The frames shown at the given presentation times (nearest frame), in one forward pass.

    Used to fetch recorded database frames back by their stored ``time_s``.
    Frames are matched by the timestamps of the decoded frames themselves (as
    :func:`iter_frames` reports them), so a decoder that drops a damaged frame
    cannot shift the answer by one.

    Parameters
    ----------
    path : path
    times_s : array_like, shape (n,)
        Seconds on the file's own timeline.
    fmt, encode :
        See :func:`read_frames`.

    Returns
    -------
    list, length n
        One frame (array, or bytes when ``encode`` is set) per time; repeated
        times share one object.
    """
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if t.size == 0:
        return []
    if not np.isfinite(t).all():
        raise ParameterError("frame times must be finite numbers")
    order = np.argsort(t, kind="stable")
    keep = _keeper(encode)
    out: list = [None] * len(t)
    k = 0  # next request, in time order
    prev = None  # (time, image) of the previous decoded frame
    for _, ft, img in iter_frames(path, fmt):
        if prev is not None:
            mid = (prev[0] + ft) / 2  # requests before the midpoint are nearer the previous frame
            item = None
            while k < len(order) and t[order[k]] < mid:
                item = item if item is not None else keep(prev[1])
                out[order[k]] = item
                k += 1
        if k == len(order):
            break
        prev = (ft, img)
    if k < len(order):  # at or after the last frame
        item = keep(prev[1])
        for j in order[k:]:
            out[j] = item
    return out


def _keeper(encode):
    if encode is None:
        return lambda img: img
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if encode == ".jpg" else []
    return lambda img: cv2.imencode(encode, img, params)[1].tobytes()


def decode_image(item) -> np.ndarray:
    """An image from :func:`read_frames`: arrays pass through, encoded bytes are decoded (BGR)."""
    if isinstance(item, np.ndarray):
        return item
    import cv2

    return cv2.imdecode(np.frombuffer(item, np.uint8), cv2.IMREAD_COLOR)


def _rate_fraction(fps: float) -> Fraction:
    from .framerate import check_frame_rate

    return Fraction(check_frame_rate(fps, "video frame rate", error=ParameterError)).limit_denominator(1001)


class VideoWriter:
    """Write H.264 video (libx264, yuv420p) with an optional AAC track from a source file.

    Parameters
    ----------
    path : path
        Output file (``.mp4`` recommended).
    fps : float
        Frame rate; frame ``i`` is shown at ``i / fps``.
    audio : path, optional
        A file whose first audio stream is decoded, resampled and muxed as AAC,
        trimmed to the video's duration (shorter audio simply ends earlier).
    audio_offset : float
        Time in the audio source (seconds on its timeline) that plays with the
        first video frame, usually the source video's first frame time.
    crf : int
        x264 constant rate factor (lower is better quality; 18-28 is sensible).
    preset : str
        x264 speed preset.
    audio_bitrate : int
        AAC bit rate, bits per second.

    Notes
    -----
    The frame size is taken from the first frame; odd widths or heights are
    padded by one replicated pixel row/column (yuv420p needs even sizes). Use
    it as a context manager: on an exception the partial file is deleted.
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio: str | os.PathLike | None = None,
                 audio_offset: float = 0.0, crf: int = 23, preset: str = "veryfast", audio_bitrate: int = 128000):
        self.path = os.fspath(path)
        self.fps = float(fps)
        self.audio = None if audio is None else os.fspath(audio)
        self.audio_offset = float(audio_offset)
        self.crf = crf
        self.preset = preset
        self.audio_bitrate = audio_bitrate
        self._rate = _rate_fraction(self.fps)
        self._av = _av()
        self._c = None
        self.n_frames_ = 0
        self.audio_samples_ = 0
        self.size_ = None

    def __repr__(self):
        return (f"VideoWriter(path={self.path!r}, fps={self.fps:g}, audio={self.audio!r}, crf={self.crf}, "
                f"preset={self.preset!r})")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._abort()

    # ------------------------------------------------------------------ setup
    def _start(self, width: int, height: int):
        av = self._av
        try:
            self._c = av.open(self.path, "w")
        except (av.error.FFmpegError, OSError) as e:
            raise InputError(f"cannot create the video file ({_describe_av_error(e)})", self.path) from None
        vs = self._c.add_stream("libx264", rate=self._rate)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": str(self.crf), "preset": self.preset}
        self._vs = vs
        self.size_ = (width, height)
        self._as = None
        if self.audio is not None:
            self._start_audio()

    def _start_audio(self):
        av = self._av
        src = _open(self.audio, av)
        if not src.streams.audio:
            src.close()
            raise InputError("has no audio stream to mux into the video", self.audio)
        a = src.streams.audio[0]
        rate = int(a.codec_context.sample_rate)
        rate = rate if rate in AAC_RATES else 48000
        channels = int(a.codec_context.channels or 0)
        # FFmpeg's resampler knows standard layouts up to 7.1; beyond (or an unnamed layout) sketchsynth
        # averages the channels to mono itself (a 9-channel track once failed with "Invalid argument").
        self._downmix = channels > 8 or channels < 1
        layout = "mono" if channels == 1 or self._downmix else "stereo"
        self._src = src
        self._src_frames = src.decode(a)
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._fifo = av.AudioFifo()
        self._as = self._c.add_stream("aac", rate=rate)
        self._as.layout = layout
        self._as.bit_rate = self.audio_bitrate
        self._arate = rate
        self._alayout = layout
        self._src_done = False
        self._src_pos = None  # samples of the source (at the output rate) consumed so far, from its time 0

    # ------------------------------------------------------------------ audio
    def _mono(self, frame):
        """``frame`` with its channels averaged (any count, any sample format), as fltp at its own rate."""
        av = self._av
        arr = frame.to_ndarray()
        ch = max(1, len(frame.layout.channels))
        if not frame.format.is_planar:
            arr = arr.reshape(-1, ch).T
        if arr.dtype.kind == "u":  # 8-bit PCM is unsigned around 128
            arr = (arr.astype(np.float32) - 128.0) / 128.0
        elif arr.dtype.kind == "i":
            arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
        mono = np.ascontiguousarray(arr.astype(np.float32).mean(axis=0)[None])
        f = av.AudioFrame.from_ndarray(mono, format="fltp", layout="mono")
        f.sample_rate = frame.sample_rate
        f.pts, f.time_base = frame.pts, frame.time_base
        return f

    def _silence(self, n: int):
        av = self._av
        ch = 1 if self._alayout == "mono" else 2
        f = av.AudioFrame.from_ndarray(np.zeros((ch, n), np.float32), format="fltp", layout=self._alayout)
        f.sample_rate = self._arate
        return f

    def _pull_source(self) -> bool:
        """Decode one more source frame into the FIFO; False when the source is exhausted."""
        av = self._av
        if self._src_done:
            return False
        try:
            frame = next(self._src_frames, None)
        except av.error.FFmpegError:
            frame = None  # a damaged audio tail ends the audio; the video is unaffected
        try:
            out = self._resampler.resample(self._mono(frame) if self._downmix and frame is not None else frame)
        except av.error.FFmpegError:
            if self._downmix or frame is None:
                raise InputError("cannot convert the audio for the video (unsupported channel layout or "
                                 "format)", self.audio) from None
            # A layout the resampler does not take: average the channels to mono from here on.
            self._downmix = True
            self._resampler = av.AudioResampler(format="fltp", layout=self._alayout, rate=self._arate)
            out = self._resampler.resample(self._mono(frame))  # None flushes the resampler
        if frame is None:
            self._src_done = True
        for f in out:
            n = f.samples
            if self._src_pos is None:
                t0 = frame.time if frame is not None and frame.time is not None else 0.0
                self._src_pos = int(round((t0 - self.audio_offset) * self._arate))
                if self._src_pos > 0:  # audio starts after the first video frame: lead with silence
                    self._fifo.write(self._silence(self._src_pos))
            start = self._src_pos
            self._src_pos += n
            if start >= 0:
                f.pts = None
                self._fifo.write(f)
            elif start + n > 0:  # drop the part before the first video frame
                arr = f.to_ndarray()[:, -(start + n):]
                g = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format="fltp", layout=self._alayout)
                g.sample_rate = self._arate
                self._fifo.write(g)
        return True

    def _encode_audio_until(self, t_end: float, final: bool = False):
        if self._as is None:
            return
        target = int(round(t_end * self._arate))
        chunk = self._as.codec_context.frame_size or 1024
        while True:
            need = min(chunk, target - self.audio_samples_)
            if need <= 0:
                break
            while self._fifo.samples < need and self._pull_source():
                pass
            if self._fifo.samples < need and not (final and self._fifo.samples > 0):
                if self._src_done:
                    break
                continue
            f = self._fifo.read(min(need, self._fifo.samples))
            if f is None:
                break
            f.pts = self.audio_samples_
            f.time_base = Fraction(1, self._arate)
            f.sample_rate = self._arate
            self.audio_samples_ += f.samples
            for p in self._as.encode(f):
                self._c.mux(p)
            if not final and f.samples < chunk:
                break

    # ------------------------------------------------------------------ video
    def write(self, image: np.ndarray):
        """Append one frame.

        Parameters
        ----------
        image : np.ndarray, shape (height, width, 3), uint8
            BGR; every frame must have the first frame's size.
        """
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"frame must be a (height, width, 3) uint8 BGR array, got {img.shape} {img.dtype}")
        h, w = img.shape[:2]
        if self._c is None:
            self._start(w + (w & 1), h + (h & 1))
            self._in_size = (w, h)
        elif (w, h) != self._in_size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self._in_size[0]}x"
                             f"{self._in_size[1]}")
        if (w & 1) or (h & 1):
            img = np.pad(img, ((0, h & 1), (0, w & 1), (0, 0)), mode="edge")
        import cv2

        # OpenCV's BT.601 limited-range conversion is what swscale would do, about 5x faster.
        yuv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2YUV_I420)
        frame = self._av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self.n_frames_
        frame.time_base = 1 / self._rate
        for p in self._vs.encode(frame):
            self._c.mux(p)
        self.n_frames_ += 1
        self._encode_audio_until(self.n_frames_ / float(self._rate))

    def close(self):
        """Flush the encoders, finish the audio up to the video's end, and close the file."""
        if self._c is None:
            raise InputError("no frames were written; a video needs at least one frame", self.path)
        self._encode_audio_until(self.n_frames_ / float(self._rate), final=True)
        for p in self._vs.encode():
            self._c.mux(p)
        if self._as is not None:
            for p in self._as.encode():
                self._c.mux(p)
            self._src.close()
        self._c.close()
        self._c = None

    def _abort(self):
        try:
            if self._c is not None:
                self._c.close()
            if getattr(self, "_as", None) is not None:
                self._src.close()
        except Exception:  # the file is being discarded; its close errors do not matter
            pass
        self._c = None
        if os.path.exists(self.path):
            os.remove(self.path)


def write_video(path: str | os.PathLike, frames, fps: float, audio: str | os.PathLike | None = None,
                audio_offset: float = 0.0, **options) -> dict:
    """Encode an iterable of BGR frames to H.264 (+ AAC from ``audio``).

    Parameters
    ----------
    path : path
    frames : iterable of np.ndarray, shape (height, width, 3), uint8
    fps : float
    audio : path, optional
        Source of the audio track (see :class:`VideoWriter`).
    audio_offset : float
        Source time playing with the first frame.
    **options
        ``crf``, ``preset``, ``audio_bitrate``.

    Returns
    -------
    dict
        ``path``, ``frames``, ``fps``, ``width``, ``height``, ``audio_seconds``.
    """
    with VideoWriter(path, fps, audio=audio, audio_offset=audio_offset, **options) as w:
        for img in frames:
            w.write(img)
    arate = getattr(w, "_arate", None)
    return {"path": os.fspath(path), "frames": w.n_frames_, "fps": float(w._rate), "width": w.size_[0],
            "height": w.size_[1], "audio_seconds": (w.audio_samples_ / arate) if arate else 0.0}
