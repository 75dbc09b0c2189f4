"""Read speech audio with PyAV: any container FFmpeg reads, any rate, any channel count, as mono float32.

:func:`load_audio` decodes the first audio stream of a file (wav, flac, mp3, m4a, or a video's sound
track), downmixes it to mono and resamples it with FFmpeg's resampler (``av.AudioResampler``). Sample 0
sits at time 0 of the *container's* timeline -- the timeline video frame times (``Track.time_s``) are
on -- so audio features line up with video frames: a stream that starts late is led by zeros, one that
starts early is cut.

:func:`audio_duration` reads the duration without decoding; :func:`is_silent` tells a recording
without speech from one with speech.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError, ParameterError, require

# av sample formats -> numpy dtype and scale to [-1, 1]; planar formats end in "p".
_FORMATS = {"u8": (np.uint8, 128.0, 128.0), "s16": (np.int16, 0.0, 32768.0), "s32": (np.int32, 0.0, 2.0 ** 31),
            "s64": (np.int64, 0.0, 2.0 ** 63), "flt": (np.float32, 0.0, 1.0), "dbl": (np.float64, 0.0, 1.0)}


def _av():
    return require("av", "video", "audio input")


def _describe(e) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return " ".join(str(msg).split())[:120]


def _open_audio(path, av):
    from .video import check_media_file

    path = check_media_file(path, "audio")
    try:
        c = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as e:
        raise InputError(f"not an audio file FFmpeg can read ({_describe(e)})", path) from None
    if not c.streams.audio:
        c.close()
        # (FFmpeg reads even a text file as a "video" of ANSI art, so the kind of file cannot be told here)
        raise InputError("has no audio stream: not a sound file, or a silent video (give a file with the speech)",
                         path)
    return c


def _to_mono(frame) -> np.ndarray:
    """One decoded frame -> mono float32 in [-1, 1], for any sample format and channel count.

    The downmix is the plain channel mean, done here rather than by FFmpeg: its matrix needs a
    channel layout, and files with 9+ channels or an unspecified order have none it knows.
    """
    name = frame.format.name
    planar = name.endswith("p")
    dtype, offset, scale = _FORMATS[name.rstrip("p")]
    ch = max(1, len(frame.layout.channels)) if frame.layout is not None else 1
    n = frame.samples
    # Planes can be padded past n samples, hence the explicit lengths.
    if planar:
        x = np.stack([np.frombuffer(p, dtype=dtype)[:n] for p in frame.planes[:ch]]).astype(np.float64)
    else:
        x = np.frombuffer(frame.planes[0], dtype=dtype)[:n * ch].astype(np.float64).reshape(n, ch).T
    return ((x.mean(axis=0) - offset) / scale).astype(np.float32)


MIN_RATE = 4000
MAX_RATE = 384000
"""The audio sample rates accepted, Hz."""


def load_audio(path: str | os.PathLike, sr: int = 16000) -> np.ndarray:
    """Decode a file's first audio stream to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    path : path
        Any file FFmpeg reads with an audio stream: wav, flac, mp3, m4a, ogg, or a video.
    sr : int
        Output sample rate, Hz.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
        Samples in [-1, 1]; sample ``i`` plays at ``i / sr`` seconds on the container's timeline
        (the one video frame times are on).

    Raises
    ------
    InputError
        Missing, empty, not decodable, without an audio stream, or holding no samples.
    ParameterError
        ``sr`` not a positive integer.
    """
    if int(sr) != sr or sr <= 0:
        raise ParameterError(f"audio sample rate must be a positive integer, got {sr!r}")
    sr = int(sr)
    av = _av()
    path = os.fspath(path)
    chunks: list[np.ndarray] = []
    start = None
    with _open_audio(path, av) as c:
        stream = c.streams.audio[0]
        in_rate = int(stream.codec_context.sample_rate or 0)
        if in_rate <= 0:
            raise InputError("its audio stream declares no sample rate", path)
        if not MIN_RATE <= in_rate <= MAX_RATE:
            # a rate like 1 Hz is no recording of speech, and resampling it up allocates without bound
            raise InputError(f"its audio sample rate is {in_rate} Hz; speech is recorded at {MIN_RATE}-{MAX_RATE} Hz",
                             path)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)

        def push(mono, rate):
            f = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
            f.sample_rate = rate
            for g in resampler.resample(f):
                chunks.append(g.to_ndarray().reshape(-1).copy())

        try:
            for frame in c.decode(stream):
                if start is None:
                    start = float(frame.time) if frame.time is not None else 0.0
                if frame.samples:
                    push(_to_mono(frame), int(frame.sample_rate or in_rate))
        except av.error.FFmpegError as e:
            if not chunks:
                raise InputError(f"its audio does not decode ({_describe(e)})", path) from None
            # a damaged tail: keep what decoded, as players do
        for g in resampler.resample(None):
            chunks.append(g.to_ndarray().reshape(-1).copy())
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise InputError("its audio stream holds no samples", path)
    bad = ~np.isfinite(samples)
    if bad.any():
        if bad.mean() > 0.01:
            raise InputError(f"{100 * bad.mean():.0f}% of its audio samples are not numbers (NaN or infinite)", path)
        samples[bad] = 0.0  # a few damaged samples: silence in their place
    peak = float(np.abs(samples).max())
    if peak > 4.0:  # float formats may hold any scale (1e30...); decoders overshoot 1.0 only a little
        samples /= peak
    shift = int(round((start or 0.0) * sr))
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return np.ascontiguousarray(samples, dtype=np.float32)


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of a file's first audio stream in seconds, from the container (no decoding).

    Falls back to decoding when the container stores no duration (raw streams).

    Raises
    ------
    InputError
        As :func:`load_audio`.
    """
    av = _av()
    with _open_audio(path, av) as c:
        a = c.streams.audio[0]
        if a.duration is not None and a.time_base is not None:
            return float(a.duration * a.time_base)
        if c.duration:
            return c.duration / 1e6
    return len(load_audio(path, 16000)) / 16000.0


def is_silent(samples: np.ndarray, sr: int = 16000, threshold_db: float = -50.0, window_s: float = 0.05) -> bool:
    """Whether audio holds no speech: its loudest ``window_s`` window is below ``threshold_db`` dBFS.

    The loudest window, not the overall level, decides, so a short utterance in a long quiet
    recording still counts as sound.

    Parameters
    ----------
    samples : np.ndarray, shape (n_samples,)
        Mono audio in [-1, 1].
    sr : int
        Sample rate, Hz.
    threshold_db : float
        RMS level in dB relative to full scale (a sine of amplitude 1 is -3 dBFS).
    window_s : float
        Window length, seconds.

    Returns
    -------
    bool
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return True
    n = max(1, int(round(window_s * sr)))
    m = x.size // n
    frames = x[: m * n].reshape(m, n) if m else x[None, :]
    rms = np.sqrt(np.mean(frames ** 2, axis=1)).max()
    return bool(20 * np.log10(rms + 1e-12) < threshold_db)
