"""Find recordings under a path and load each as a keypoint track.

A *recording* is one continuous take of the speaker:

- a folder of OpenPose JSON files (``*_keypoints.json``, frame number in the name);
- a ``.npy`` / ``.npz`` landmark array of shape (n_frames, 68|70, 2|3);
- a video file (tracked by :mod:`sketchsynth.sources.tracker`).

``discover`` accepts a single recording or a folder of them (searched
recursively; symlinked folders are followed once).

OpenPose JSON carries no frame rate. It comes from a sidecar file -- ``fps.txt``
holding one number, inside the recording folder, next to a landmark file as
``<name>.fps.txt``, or in a parent folder up to the root given -- or else from the
``fps`` argument (``--fps``). The track records which.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError, printable


VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".webm")
LANDMARK_EXTENSIONS = (".npy", ".npz")
FPS_SIDECAR = "fps.txt"


@dataclass
class Recording:
    """A recording found on disk, not yet read.

    Attributes
    ----------
    name : str
        Path relative to the folder given to :func:`discover` ('/'-separated).
    path : str
    kind : {"openpose", "landmarks", "video"}
    root : str
        The folder :func:`discover` searched, bounding the sidecar search.
    """

    name: str
    path: str
    kind: str
    root: str


@dataclass
class Track:
    """One recording's keypoints in frame order.

    Attributes
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        As read: image pixels and confidence, zeros where nothing was found.
    frames : np.ndarray, shape (n_frames,), int64
        Frame numbers (from file names, or 0... for arrays and videos).
    time_s : np.ndarray, shape (n_frames,), float64
    n_people : np.ndarray, shape (n_frames,), int16
    sources : list of str
        Per-frame source (file name, or ``"<file>#<frame>"``).
    fps : float
    fps_source : str
        ``"sidecar:<path>"``, ``"option"``, ``"container"`` (video) ...
    pupils_estimated : bool
    video : str or None
        Video file the frames come from (None for keypoint-only recordings).
    """

    name: str
    path: str
    kind: str
    keypoints: np.ndarray
    frames: np.ndarray
    time_s: np.ndarray
    n_people: np.ndarray
    sources: list
    fps: float
    fps_source: str
    pupils_estimated: bool = False
    video: str | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.frames)


def _has_json(folder: str) -> bool:
    try:
        return any(e.name.lower().endswith(".json") and e.is_file() for e in os.scandir(folder))
    except OSError:
        return False


def _kind_of_file(path: str) -> str | None:
    low = path.lower()
    if low.endswith(LANDMARK_EXTENSIONS):
        return "landmarks"
    if low.endswith(VIDEO_EXTENSIONS):
        return "video"
    return None


def discover(path: str | os.PathLike) -> list[Recording]:
    """Recordings at ``path``: one recording, or every recording below a folder.

    Parameters
    ----------
    path : path
        A folder of OpenPose JSON, a landmark array, a video, or a folder holding
        any mix of these (at any depth).

    Returns
    -------
    list of Recording
        Sorted by name.

    Raises
    ------
    InputError
        The path does not exist, cannot be read, or holds no recording.
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise InputError("no such file or folder", root)
    if os.path.isfile(root):
        kind = _kind_of_file(root)
        if kind is None:
            if root.lower().endswith(".json"):
                raise InputError("a single JSON file is not a recording: give the folder holding "
                                 "one *_keypoints.json per frame", root)
            raise InputError("not a recording: expected a folder of OpenPose JSON, a .npy/.npz "
                             "landmark array or a video file", root)
        stem = Path(root).stem
        return [Recording(printable(stem), root, kind, os.path.dirname(root) or ".")]
    if not os.access(root, os.R_OK | os.X_OK):
        raise InputError("folder is not readable (check its permissions)", root)
    if _has_json(root):
        return [Recording(printable(Path(os.path.abspath(root)).name), root, "openpose", root)]

    found: list[Recording] = []
    seen_real: set[str] = set()

    def walk(folder: str, rel: str):
        real = os.path.realpath(folder)
        if real in seen_real:  # a symlink loop or a folder linked twice
            return
        seen_real.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            raise InputError(f"cannot list folder ({e.strerror})", folder) from None
        for e in entries:
            if e.name.startswith("."):
                continue
            name = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir()
            except OSError:
                continue
            if is_dir:
                if not os.access(e.path, os.R_OK | os.X_OK):
                    raise InputError("folder is not readable (check its permissions)", e.path)
                if _has_json(e.path):
                    found.append(Recording(printable(name), e.path, "openpose", root))
                else:
                    walk(e.path, name)
            elif e.is_file():
                kind = _kind_of_file(e.name)
                if kind is not None:
                    found.append(Recording(printable(name.rsplit(".", 1)[0]), e.path, kind, root))

    walk(root, "")
    if not found:
        raise InputError("no recordings here: expected folders of OpenPose JSON "
                         "(*_keypoints.json), .npy/.npz landmark arrays or videos", root)
    found.sort(key=lambda r: r.name)
    return found


def _read_sidecar(path: str) -> float:
    from ..io.small_files import read_small_file

    try:
        text = read_small_file(path, 4096).decode("utf-8").strip()
        fps = float(text.split()[0])
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        raise InputError("frame-rate sidecar must hold one positive number, e.g. 30", path) from None
    from ..io.framerate import check_frame_rate

    return check_frame_rate(fps, "frame rate", path)


def find_fps_sidecar(rec: Recording) -> str | None:
    """Path of the frame-rate sidecar that applies to a recording, if any."""
    p = Path(rec.path)
    candidates = []
    if rec.kind == "openpose":
        candidates.append(p / FPS_SIDECAR)
        parent = p.parent
    else:
        candidates.append(p.with_name(p.stem + ".fps.txt"))
        parent = p.parent
    root = Path(os.path.abspath(rec.root))
    parent = Path(os.path.abspath(parent))
    while True:
        candidates.append(parent / FPS_SIDECAR)
        if parent == root or root not in parent.parents:
            break
        parent = parent.parent
    return next((os.fspath(c) for c in candidates if c.is_file()), None)


def resolve_fps(rec: Recording, fps: float | None, assume: float | None = None) -> tuple[float, str]:
    """Frame rate of a keypoint recording: its sidecar, else ``fps``, else ``assume``.

    Returns
    -------
    fps : float
    source : str
        ``"sidecar:<path>"``, ``"option"`` or ``"assumed"``.

    Raises
    ------
    InputError
        Neither a sidecar nor ``fps`` is given.
    """
    side = find_fps_sidecar(rec)
    if side is not None:
        return _read_sidecar(side), f"sidecar:{side}"
    if fps is None and assume is not None:
        return float(assume), "assumed"
    if fps is None:
        raise InputError(f"no frame rate: OpenPose JSON does not store one; pass --fps (e.g. --fps 30) "
                         f"or put a file '{FPS_SIDECAR}' holding it in the recording folder", rec.path)
    return float(fps), "option"


def check_fps(fps):
    """The --fps option checked like every other frame rate (see :func:`sketchsynth.io.framerate.check_frame_rate`)."""
    from ..io.framerate import check_frame_rate

    return None if fps is None else check_frame_rate(fps, "--fps", error=ParameterError)
