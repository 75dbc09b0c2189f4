"""Recordings opened for reading in chunks, so a database build never holds a whole take in memory.

A :class:`RecordingReader` knows a recording's length, frame numbers and frame
rate up front and hands out its keypoints a row range at a time. OpenPose folders
are listed once (file names kept as a compact byte array) and parsed chunk by
chunk; ``.npy`` arrays are memory-mapped; videos are tracked whole (their
keypoints are small) through :func:`sketchsynth.sources.load.load_tracks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .recordings import Recording, Track, find_fps_sidecar, resolve_fps


@dataclass(eq=False)
class RecordingReader:
    """One recording, readable by row ranges.

    Attributes
    ----------
    frames : np.ndarray, shape (n_frames,), int64
    time_s : np.ndarray, shape (n_frames,), float64
    """

    name: str
    path: str
    kind: str
    frames: np.ndarray
    time_s: np.ndarray
    fps: float
    fps_source: str
    pupils_estimated: bool = False
    video: str | None = None
    extra: dict = field(default_factory=dict)
    # exactly one source of keypoints:
    json_names: np.ndarray | None = None     # (n,) S: OpenPose file names (see list_frame_files(as_array=True))
    array: np.ndarray | None = None          # (n, 68|70, 2|3): landmarks (maybe a memory map)
    track: Track | None = None               # already in memory (video, or given by the caller)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def sources(self, start: int, stop: int) -> list[str]:
        """Per-frame source names for rows start:stop."""
        if self.json_names is not None:
            # Display names: undecodable bytes as backslash escapes (Arrow and CSV hold only valid UTF-8).
            return [bytes(n).decode("utf-8", "backslashreplace") for n in self.json_names[start:stop]]
        if self.track is not None:
            return list(self.track.sources[start:stop])
        base = os.path.basename(self.path)
        return [f"{base}#{f}" for f in self.frames[start:stop]]

    def source_array(self, start: int, stop: int):
        """Per-frame source names for rows start:stop, as an Arrow string array."""
        if self.json_names is not None:
            from ..io._names import to_arrow

            return to_arrow(self.json_names[start:stop])
        from ..io.arrow import arrow_strings

        return arrow_strings(self.sources(start, stop))

    def describe(self, first_row: int) -> dict:
        """The manifest entry of this recording."""
        return {"name": self.name, "path": os.path.abspath(self.path), "kind": self.kind, "fps": float(self.fps),
                "fps_source": self.fps_source, "n_frames": int(self.n_frames), "first_row": int(first_row),
                "pupils_estimated": bool(self.pupils_estimated), "video": self.video,
                **({"extra": self.extra} if self.extra else {})}


def reader_from_track(t: Track) -> RecordingReader:
    return RecordingReader(t.name, t.path, t.kind, np.asarray(t.frames, np.int64), np.asarray(t.time_s, np.float64),
                           float(t.fps), t.fps_source, bool(t.pupils_estimated), t.video, dict(t.extra), track=t)


def open_readers(recordings: list[Recording], fps: float | None = None, n_workers: int | None = None,
                 progress: bool = False, video_options: dict | None = None,
                 assume_fps: float | None = None) -> list[RecordingReader]:
    """Open every recording: list files, resolve frame rates, map arrays; track videos.

    Parameters
    ----------
    recordings : list of Recording
    fps : float, optional
        Frame rate of keypoint recordings without a sidecar.
    n_workers : int, optional
        Processes tracking videos (default: CPU count).
    video_options : dict, optional
        Passed to :func:`sketchsynth.sources.tracker.track_video_recording`; videos are
        tracked here, in parallel processes, each once (tracks are cached).
    assume_fps : float, optional
        Frame rate to assume (source ``"assumed"``) when neither a sidecar nor
        ``fps`` gives one; by default that is an error.

    Returns
    -------
    list of RecordingReader
    """
    from ..io.landmarks import open_landmark_file
    from ..io.openpose_files import list_frame_files, scan_folder
    from .recordings import check_fps

    check_fps(fps)
    readers: list[RecordingReader | None] = [None] * len(recordings)
    videos = []
    # The name parser is compiled when the whole job is large, not each folder (ten folders of
    # 7,820 files would otherwise be parsed by a regular expression, 0.2 s in all).
    listings = {i: scan_folder(rec.path) for i, rec in enumerate(recordings) if rec.kind == "openpose"}
    use_kernel = False
    if listings:
        from .._jit import worth_it
        from ..io._names import names_kernel

        use_kernel = worth_it(names_kernel, sum(map(len, listings.values())))
    for i, rec in enumerate(recordings):
        if rec.kind == "openpose":
            names, frames = list_frame_files(rec.path, as_array=True, listed=listings[i], use_kernel=use_kernel)
            rate, src = resolve_fps(rec, fps, assume_fps)
            readers[i] = RecordingReader(rec.name, rec.path, rec.kind, frames, frames / rate, rate, src,
                                         json_names=names)
        elif rec.kind == "landmarks":
            arr, frames, own_fps = open_landmark_file(rec.path)
            if own_fps is not None and find_fps_sidecar(rec) is None:
                rate, src = own_fps, "file"
            else:
                rate, src = resolve_fps(rec, fps, assume_fps)
            frames = np.arange(len(arr), dtype=np.int64) if frames is None else frames
            readers[i] = RecordingReader(rec.name, rec.path, rec.kind, frames, frames / rate, rate, src,
                                         pupils_estimated=arr.shape[1] == 68, array=arr)
        else:
            videos.append(i)
    if videos:
        from .tracking import track_video_recordings

        tracks = track_video_recordings([recordings[i] for i in videos], n_workers=n_workers, progress=progress,
                                        **(video_options or {}))
        for i, t in zip(videos, tracks):
            readers[i] = reader_from_track(t)
    return readers  # type: ignore[return-value]


def read_rows(segments, person="largest", n_workers: int | None = None):
    """Keypoints of several (reader, start, stop) row ranges, JSON parsed in one worker pool.

    Returns
    -------
    list of (keypoints, n_people)
        keypoints of shape (stop - start, 70, 3) float32 per segment.
    """
    from ..io.landmarks import to_openpose70
    from ..io.npy import read_npy_rows
    from ..io.openpose import read_openpose_files

    out: list = [None] * len(segments)
    json_idx = []
    for s, (r, a, b) in enumerate(segments):
        if r.json_names is not None:
            json_idx.append(s)
        elif r.track is not None:
            out[s] = (r.track.keypoints[a:b], r.track.n_people[a:b])
        else:
            # Read a memory-mapped .npy through the file: mapped pages would stay resident.
            block = read_npy_rows(r.path, a, b) if isinstance(r.array, np.memmap) else r.array[a:b]
            kp, _ = to_openpose70(np.asarray(block), r.path)
            out[s] = (kp, (kp[..., 2] > 0).any(axis=1).astype(np.int16))
    if json_idx:
        jobs = [(segments[s][0].path, segments[s][0].json_names[segments[s][1]:segments[s][2]]) for s in json_idx]
        for s, res in zip(json_idx, read_openpose_files(jobs, person=person, n_workers=n_workers)):
            out[s] = res
    return out
