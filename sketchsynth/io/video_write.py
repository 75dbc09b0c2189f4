"""Video writing: H.264 frames with the sound muxed in as AAC (PyAV)."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from ..errors import InputError, ParameterError
from .video import require_av, describe_av_error, open_container


AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
"""Sample rates the AAC encoder accepts; other rates are resampled to 48 kHz."""


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
        self._av = require_av()
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
            raise InputError(f"cannot create the video file ({describe_av_error(e)})", self.path) from None
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
        src = open_container(self.audio, av)
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
