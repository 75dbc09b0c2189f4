"""Read recordings whole into tracks: the database build's readers, for callers that want every frame at once.

:func:`load_tracks` reads several recordings (videos are tracked, in parallel
and cached); :func:`load_input` reads one recording as a match input.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..layout import N_POINTS
from .readers import open_readers, read_rows
from .recordings import Recording, Track, discover


def load_tracks(recordings: list[Recording], fps: float | None = None, person="largest",
                n_workers: int | None = None, progress: bool = False, video_options: dict | None = None,
                assume_fps: float | None = None) -> list[Track]:
    """Read every recording into a :class:`Track`.

    Parameters
    ----------
    recordings : list of Recording
    fps : float, optional
        Frame rate of keypoint recordings without a sidecar.
    assume_fps : float, optional
        Frame rate to assume (source ``"assumed"``) when neither a sidecar nor
        ``fps`` gives one; by default that is an error.
    person : str or int
        Face choice when a JSON file lists several people (see
        :func:`sketchsynth.io.openpose.parse_frame`).
    n_workers : int, optional
        Threads reading JSON, processes tracking videos (default: CPU count).
    video_options : dict, optional
        Passed to :func:`sketchsynth.sources.tracker.track_video_recording` (tracker
        parameters, ``jitter_filter``...). Videos are tracked in parallel
        processes (``n_workers``), each once: tracks are cached.

    Returns
    -------
    list of Track
    """
    readers = open_readers(recordings, fps=fps, n_workers=n_workers, progress=progress, video_options=video_options,
                           assume_fps=assume_fps)
    whole = read_rows([(r, 0, r.n_frames) for r in readers], person=person, n_workers=n_workers)
    tracks = []
    for r, (kp, n_people) in zip(readers, whole):
        tracks.append(r.track if r.track is not None else
                      Track(r.name, r.path, r.kind, kp, r.frames, r.time_s, n_people, r.sources(0, r.n_frames),
                            r.fps, r.fps_source, r.pupils_estimated))
    for t in tracks:
        assert t.keypoints.shape[1:] == (N_POINTS, 3)
    return tracks


def load_input(path: str | os.PathLike, fps: float | None = None, person="largest",
               video_options: dict | None = None, assume_fps: float = 25.0, progress: bool = False) -> Track:
    """Read a match input: one recording (a folder of OpenPose JSON, an array, or a video).

    Unlike a database recording, an input without a known frame rate is still
    usable: ``assume_fps`` is taken and the track's ``fps_source`` says
    ``"assumed"``. ``progress`` shows a bar while a video input is tracked.

    Returns
    -------
    Track
        keypoints of shape (n_frames, 70, 3), float32.
    """
    recs = discover(path)
    if len(recs) != 1:
        raise InputError(f"holds {len(recs)} recordings; give one recording (a folder of JSON, "
                         "an array or a video) as the match input", path)
    return load_tracks(recs, fps=fps, person=person, video_options=video_options, assume_fps=assume_fps,
                       progress=progress)[0]
