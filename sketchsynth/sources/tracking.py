"""Tracking recordings: one video through the cache and the tracker, many in a process pool with progress bars."""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError, ParameterError
from .recordings import Track
from .track_cache import TrackedVideo
from .track_cache import cache_key, read_cache
from .tracker import FaceTracker


# ---------------------------------------------------------------------- recordings
TRACK_OPTIONS = ("backend", "detect_every", "downscale", "upsample", "max_jump", "max_zoom", "min_contrast",
                 "max_missed", "cache")


def split_options(options: dict) -> tuple[dict, dict]:
    """Split ``track_video_recording`` options into tracker parameters and the rest."""
    tracker = {k: v for k, v in options.items() if k in TRACK_OPTIONS}
    rest = {k: v for k, v in options.items() if k not in TRACK_OPTIONS}
    return tracker, rest


DEFAULT_FILTER = "one-euro"
"""Temporal filter applied to tracked video by default (``jitter_filter=None`` turns it off)."""


def smooth_track(keypoints: np.ndarray, fps: float, method: str | None = DEFAULT_FILTER,
                 params: dict | None = None) -> np.ndarray:
    """Take the tracker's frame-to-frame jitter out with :func:`sketchsynth.sources.filters.filter_keypoints`.

    Parameters
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        Points with confidence 0 (frames without a face) are left untouched.
    fps : float
    method : str or None
        A method of :mod:`sketchsynth.sources.filters` (``"one-euro"``, ``"savgol"``), or
        None / ``"none"`` for no filtering.
    params : dict, optional
        The method's parameters.

    Returns
    -------
    np.ndarray, shape (n_frames, 70, 3), float32
    """
    if method is None or method == "none":
        return np.asarray(keypoints, np.float32)
    from .filters import filter_keypoints

    return filter_keypoints(keypoints, fps, method=method, **(params or {}))


def track_video_recording(rec, progress: bool = False, jitter_filter: str | None = DEFAULT_FILTER,
                          filter_params: dict | None = None, threads: int = 0, progress_callback=None,
                          require_face: bool = True, **tracker_options):
    """Track a video recording into a :class:`~sketchsynth.sources.recordings.Track`.

    Parameters
    ----------
    rec : Recording
        ``kind == "video"``.
    progress : bool
        Show a progress bar.
    jitter_filter : str or None
        Temporal filter for the tracked points (default ``"one-euro"``; None or
        ``"none"`` keeps the raw tracker output).
    filter_params : dict, optional
        Parameters of the filter.
    threads : int
        Decoder threads.
    progress_callback : callable(int), optional
        Receives frames done (worker processes report through it).
    require_face : bool
        Raise when no frame has a face (default); otherwise return the empty track.
    **tracker_options
        :class:`FaceTracker` parameters (``detect_every``, ``downscale``, ...).

    Returns
    -------
    Track
        keypoints (n_frames, 70, 3) float32, frames 0..n-1, ``time_s`` from the
        timestamps, ``fps`` from the container, ``video`` the file, and in
        ``extra`` the audio reference (``"audio"``: the file or None) and the
        video's properties.

    Raises
    ------
    InputError
        Not a readable video, or no face in any frame.
    """
    
    unknown = sorted(set(tracker_options) - set(TRACK_OPTIONS))
    if unknown:
        raise ParameterError(f"unknown video option(s) {', '.join(unknown)} (known: {', '.join(TRACK_OPTIONS)}, "
                             "jitter_filter, filter_params)")
    tracker = FaceTracker(**tracker_options)
    tv = tracker.track(rec.path, progress=progress, threads=threads, progress_callback=progress_callback)
    video = tv.info["video"]
    n = len(tv.keypoints)
    faces = int((tv.n_faces > 0).sum())
    if faces == 0 and require_face:
        raise InputError(f"no face found in any of its {n} frames (the tracker needs a frontal face at least "
                         "about 80 pixels wide; for small faces try upsample=1)", rec.path)
    kp = smooth_track(tv.keypoints, video["fps"], jitter_filter, filter_params)
    frames = np.arange(n, dtype=np.int64)
    base = os.path.basename(rec.path)
    extra = {"audio": os.path.abspath(rec.path) if video["has_audio"] else None,
             "audio_sample_rate": video["audio_sample_rate"], "width": video["width"], "height": video["height"],
             "start_time": video["start_time"], "duration": video["duration"],
             "variable_frame_rate": video["variable_frame_rate"], "rotation": video["rotation"],
             "frames_with_face": faces, "tracker": tv.info["tracker"],
             "weak_detection_frames": weak_detection_frames(tv),
             "filter": None if jitter_filter in (None, "none") else {"method": jitter_filter,
                                                                      **(filter_params or {})}}
    return Track(rec.name, rec.path, "video", kp, frames, tv.time_s.astype(np.float64),
                 (tv.n_faces > 0).astype(np.int16), [f"{base}#{f}" for f in frames], float(video["fps"]),
                 "container", pupils_estimated=True, video=os.path.abspath(rec.path), extra=extra)


MIN_DETECTOR_SCORE = 0.5
"""Frames whose face was last detected with a lower dlib score than this are weak fits (GRID s1's frontal
faces score 1.2-2.5; head.mp4's three-quarter and tilted views 0-0.4)."""


def weak_detection_frames(tv: TrackedVideo, min_score: float = MIN_DETECTOR_SCORE) -> list:
    """Frames (0-based) with a face whose latest detection scored below ``min_score``.

    A followed frame inherits the score of the detection it was followed from. Empty when the track
    holds no scores (cached before they were kept).
    """
    if tv.det_score is None:
        return []
    s = np.asarray(tv.det_score, np.float64)
    idx = np.where(np.isfinite(s), np.arange(len(s)), -1)
    last = np.maximum.accumulate(idx) if len(idx) else idx
    carried = np.where(last >= 0, s[np.maximum(last, 0)], np.nan)
    weak = (carried < min_score) & (np.asarray(tv.n_faces) > 0)
    return np.flatnonzero(weak).astype(int).tolist()


def _track_worker(args):
    rec, options, queue, slot = args

    def report(k):
        if queue is not None:
            queue.put((slot, k))

    try:
        return track_video_recording(rec, progress=False, threads=1, progress_callback=report, **options)
    finally:
        if queue is not None:
            queue.put((slot, None))


def track_video_recordings(recordings: list, n_workers: int | None = None, progress: bool = False,
                           **options) -> list:
    """Track several video recordings in parallel worker processes.

    Parameters
    ----------
    recordings : list of Recording
        Video recordings.
    n_workers : int, optional
        Processes (default: CPU count, at most one per video). Cached videos
        are read in this process.
    progress : bool
        One bar per video and an overall bar (frames).
    **options
        Passed to :func:`track_video_recording`.

    Returns
    -------
    list of Track
        In the order given.
    """
    import concurrent.futures as cf
    import multiprocessing as mp

    from ..io.video import probe

    if not recordings:
        return []
    tracker = FaceTracker(**split_options(options)[0])
    tracker.check()
    from tqdm.auto import tqdm

    # every file is checked (and its cached track looked up) before any tracking: a bad file fails at once;
    # with hundreds of videos this takes a while of its own, so it has its bar
    infos, out, todo = [], [None] * len(recordings), []
    for i, r in enumerate(tqdm(recordings, desc="checking videos", unit="video", leave=False,
                               disable=None if progress else True)):
        infos.append(probe(r.path))
        if tracker.cache and read_cache(cache_key(r.path, tracker.cache_params()), infos[i].n_frames) is not None:
            out[i] = track_video_recording(r, progress=False, **options)
        else:
            todo.append(i)
    n_workers = min(n_workers or os.cpu_count() or 1, len(todo))
    if n_workers <= 1:
        for i in todo:
            out[i] = track_video_recording(recordings[i], progress=progress, **options)
        return out
    recordings = [recordings[i] for i in todo]
    infos = [infos[i] for i in todo]
    bars, overall = {}, None
    if progress:
        overall = tqdm(total=sum(i.n_frames for i in infos), unit="frame", desc="tracking videos", position=0,
                       disable=None)
    import multiprocessing.managers

    from ..io.locks import close_inherited_locks

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    manager = None
    if progress:
        # Forked helpers must not keep a copy of build-db's lock (see close_inherited_locks).
        manager = multiprocessing.managers.SyncManager(ctx=ctx)
        manager.start(initializer=close_inherited_locks)
    queue = manager.Queue() if manager is not None else None
    try:
        with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=close_inherited_locks) as ex:
            futs = {ex.submit(_track_worker, (r, options, queue, i)): i for i, r in enumerate(recordings)}
            pending = set(futs)
            try:
                while pending:
                    done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                    for f in done:
                        out[todo[futs[f]]] = f.result()  # re-raises a worker's InputError here
                    _drain(queue, bars, overall, recordings, infos)
            except BaseException:
                for f in pending:  # do not start videos whose result will be thrown away
                    f.cancel()
                raise
            _drain(queue, bars, overall, recordings, infos)
    finally:
        for b in bars.values():
            b.close()
        if overall is not None:
            overall.close()
        if manager is not None:
            manager.shutdown()
    return out


def _drain(queue, bars, overall, recordings, infos):
    if queue is None:
        return
    import queue as _q

    from tqdm.auto import tqdm

    while True:
        try:
            slot, k = queue.get_nowait()
        except _q.Empty:
            return
        if k is None:
            if slot in bars:
                bars.pop(slot).close()
            continue
        if slot not in bars:
            used = {b.pos for b in bars.values()}
            pos = next(p for p in range(1, len(bars) + 2) if p not in used and -p not in used)
            bars[slot] = tqdm(total=infos[slot].n_frames, unit="frame", leave=False, position=pos,
                              desc=os.path.basename(recordings[slot].path), disable=None)
        bars[slot].update(k)
        overall.update(k)
