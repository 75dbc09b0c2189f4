"""Read and write OpenPose face keypoints (one JSON file per frame).

OpenPose writes ``<name>_<frame:012d>_keypoints.json`` with
``{"version": 1.3, "people": [{"face_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}``:
70 points x (x, y, confidence), ``0, 0, 0`` for a point it did not detect and an
empty ``people`` list when it found nobody.

Reading is the hot part of ``build-db`` (tens of thousands of small files), so
files are parsed with orjson and, for large folders, split over worker processes;
everything is still validated so a bad file is reported by name.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from ..errors import InputError, ParameterError
from ..layout import N_POINTS

MAX_COORDINATE = 1e6
"""Coordinates beyond this many pixels are treated as corrupt tracker output."""

PERSON_RULES = ("largest", "first", "confident")

_FRAME_RE = re.compile(r"(\d+)(?:_keypoints)?\.json$", re.IGNORECASE)


@dataclass
class OpenPoseFrames:
    """Face keypoints read from a folder of OpenPose JSON files.

    Attributes
    ----------
    keypoints : np.ndarray, shape (n_frames, 70, 3), float32
        x, y in image pixels and confidence; zeros where nobody was found.
    frames : np.ndarray, shape (n_frames,), int64
        Frame numbers taken from the file names, increasing.
    n_people : np.ndarray, shape (n_frames,), int16
        People (with a face) in each file.
    files : list of str
        File names (not paths), in frame order.
    """

    keypoints: np.ndarray
    frames: np.ndarray
    n_people: np.ndarray
    files: list


def frame_number(name: str) -> int | None:
    """Frame number in an OpenPose file name (``sa1_000_keypoints.json`` -> 0), or None."""
    m = _FRAME_RE.search(name)
    return int(m.group(1)) if m else None


def list_frame_files(folder: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """OpenPose JSON files of one recording, sorted by frame number (not lexically).

    Files named ``*_keypoints.json`` are preferred; if there are none, every
    ``*.json`` with a number in its name is taken.

    Returns
    -------
    names : list of str
    frames : np.ndarray, shape (n_files,), int64

    Raises
    ------
    InputError
        No JSON files, a name without a frame number, or a frame number twice.
    """
    folder = Path(folder)
    try:
        names = [e.name for e in os.scandir(folder) if e.name.lower().endswith(".json") and e.is_file()]
    except OSError as e:
        raise InputError(f"cannot list folder ({e.strerror})", folder) from None
    if not names:
        raise InputError("no OpenPose JSON files (*_keypoints.json) in this folder", folder)
    keyed = [n for n in names if n.lower().endswith("_keypoints.json")]
    if keyed:
        names = keyed
    numbers = [frame_number(n) for n in names]
    missing = [n for n, f in zip(names, numbers) if f is None]
    if missing:
        raise InputError(f"{missing[0]}: no frame number in the file name "
                         "(expected e.g. name_000000000012_keypoints.json)", folder)
    frames = np.asarray(numbers, dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    frames = frames[order]
    names = [names[i] for i in order]
    dup = np.flatnonzero(np.diff(frames) == 0)
    if dup.size:
        raise InputError(f"{names[dup[0]]} and {names[dup[0] + 1]} carry the same frame number "
                         f"{frames[dup[0]]}", folder)
    return names, frames


def _choose_person(faces: list, rule) -> int:
    if rule == "first" or len(faces) == 1:
        return 0
    if isinstance(rule, int):
        return rule if rule < len(faces) else -1
    scores = []
    for f in faces:
        seen = f[:, 2] > 0
        if not seen.any():
            scores.append(-1.0)
        elif rule == "confident":
            scores.append(float(f[seen, 2].mean()))
        else:  # largest: area of the detected points' bounding box
            xy = f[seen, :2]
            scores.append(float(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])))
    return int(np.argmax(scores))


def _bad(path, msg):
    return InputError(msg, path)


def parse_frame(data: bytes, path: str, person="largest") -> tuple[np.ndarray | None, int]:
    """Face keypoints of one OpenPose JSON document.

    Parameters
    ----------
    data : bytes
        File contents.
    path : str
        For error messages.
    person : {"largest", "first", "confident"} or int
        Which face to keep when there are several: the largest bounding box, the
        first listed, the highest mean confidence, or the one at this index.

    Returns
    -------
    face : np.ndarray, shape (70, 3), float32, or None when nobody was found
    n_people : int
        People with a face in the file.

    Raises
    ------
    InputError
        Invalid JSON, wrong structure, wrong number of values, non-numbers,
        NaN/inf, huge coordinates or negative confidence.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if not data.strip():
            what = "empty file"
        elif re.search(rb"\bNaN\b|\b-?Infinity\b", data):
            what = f"holds NaN or Infinity, which JSON does not allow ({msg})"
        elif "infinity" in msg:
            what = f"holds a number too large for a coordinate ({msg})"
        elif "end of data" in msg or not data.rstrip().endswith((b"}", b"]")):
            what = f"truncated or not valid JSON ({msg})"
        else:
            what = f"not valid JSON ({msg})"
        raise _bad(path, what) from None
    if not isinstance(doc, dict) or "people" not in doc:
        raise _bad(path, "not an OpenPose keypoint file (no 'people' list)")
    people = doc["people"]
    if not isinstance(people, list):
        raise _bad(path, "'people' is not a list")
    faces = []
    for i, p in enumerate(people):
        if not isinstance(p, dict):
            raise _bad(path, f"people[{i}] is not an object")
        raw = p.get("face_keypoints_2d")
        if raw is None or (isinstance(raw, list) and len(raw) == 0):
            continue  # a body without a face (face detection off or failed)
        if not isinstance(raw, list):
            raise _bad(path, f"people[{i}].face_keypoints_2d is not a list")
        if len(raw) == 1 and isinstance(raw[0], list):  # some writers nest one level
            raw = raw[0]
        if len(raw) != 3 * N_POINTS:
            raise _bad(path, f"people[{i}].face_keypoints_2d has {len(raw)} values, expected "
                             f"{3 * N_POINTS} ({N_POINTS} points x x, y, c)")
        try:
            face = np.array(raw)
        except ValueError:  # ragged nesting
            face = np.array(raw, dtype=object)
        if face.ndim != 1 or face.dtype.kind not in "fiu":
            v = next((v for v in raw if type(v) not in (float, int)), raw[0])
            raise _bad(path, f"people[{i}].face_keypoints_2d holds {type(v).__name__} "
                             f"{str(v)[:20]!r} where a number is expected")
        face = face.astype(np.float64).reshape(N_POINTS, 3)
        if not np.isfinite(face).all():
            raise _bad(path, f"people[{i}].face_keypoints_2d holds NaN or infinite values")
        if np.abs(face[:, :2]).max() > MAX_COORDINATE:
            raise _bad(path, f"people[{i}].face_keypoints_2d has a coordinate beyond "
                             f"{MAX_COORDINATE:g} px (corrupt tracker output?)")
        if face[:, 2].min() < 0:
            raise _bad(path, f"people[{i}].face_keypoints_2d has a negative confidence")
        if face[:, 2].max() <= 0:
            continue  # OpenPose writes all zeros for a face it could not fit
        faces.append(face.astype(np.float32))
    if not faces:
        return None, 0
    k = _choose_person(faces, person)
    if k < 0:
        return None, len(faces)
    return faces[k], len(faces)


def _read_bytes(path: str) -> bytes:
    # os.open/os.read skip the buffered-file object: a third of the cost per small file.
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = [os.read(fd, 1 << 16)]
        while len(parts[-1]) == 1 << 16 or (len(parts) > 1 and parts[-1]):
            parts.append(os.read(fd, 1 << 20))
            if not parts[-1]:
                break
        return b"".join(parts)
    finally:
        os.close(fd)


def _read_chunk(args):
    """Read and parse files: the numba scanner for the plain case, orjson for the rest.

    ``names`` may be str or bytes (a build keeps them as bytes: no per-frame objects).
    """
    from ._jsonscan import FALLBACK, scan

    folder, names, person = args
    if len(names) and isinstance(names[0], bytes):
        folder = os.fsencode(folder)
    blobs = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            blobs.append(_read_bytes(path))
        except OSError as e:
            raise InputError(f"cannot read ({e.strerror})", os.fsdecode(path)) from None
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    out, n_people, status = scan(b"".join(blobs), offsets, MAX_COORDINATE)
    for i in np.flatnonzero(status == FALLBACK):
        path = os.fsdecode(os.path.join(folder, names[i]))
        face, n = parse_frame(blobs[i], path, person)
        n_people[i] = n
        out[i] = 0 if face is None else face
    return out, n_people


_pool = None  # a process pool shared by successive reads (see worker_pool)


def _new_pool(n_workers):
    import concurrent.futures as cf
    import multiprocessing as mp

    from ._jsonscan import scan

    scan(b'{"people":[]}', np.array([0, 13]), MAX_COORDINATE)  # compile/load once, before forking
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"  # fork: no re-import
    from ..storage import close_inherited_locks

    return cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context(method),
                                  initializer=close_inherited_locks)


@contextlib.contextmanager
def worker_pool(n_workers: int | None = None):
    """Keep one process pool for every read inside the block (a build reads chunk after chunk)."""
    global _pool
    n_workers = n_workers or os.cpu_count() or 1
    if _pool is not None or n_workers <= 1:
        yield
        return
    _pool = _new_pool(n_workers)
    try:
        yield
    finally:
        pool, _pool = _pool, None
        pool.shutdown(cancel_futures=True)


def _parallel_map(fn, jobs, n_workers):
    """Run ``fn`` over jobs in worker processes (the shared pool if one is open)."""
    if _pool is not None:
        return list(_pool.map(fn, jobs))
    with _new_pool(n_workers) as ex:
        return list(ex.map(fn, jobs))


def check_person_rule(person):
    """Validate a ``person`` option: a rule name or a non-negative index."""
    if isinstance(person, str) and person.isdigit():
        person = int(person)
    if isinstance(person, int):
        if person < 0:
            raise ParameterError(f"--person index must be >= 0, got {person}")
        return person
    if person not in PERSON_RULES:
        raise ParameterError(f"--person must be one of {', '.join(PERSON_RULES)} or an index, got {person!r}")
    return person


def read_openpose_folder(folder: str | os.PathLike, person="largest", n_workers: int | None = None,
                         parallel_threshold: int = 4000) -> OpenPoseFrames:
    """Read one recording: a folder of OpenPose JSON files.

    Parameters
    ----------
    folder : path
    person : {"largest", "first", "confident"} or int
        See :func:`parse_frame`.
    n_workers : int, optional
        Processes used for large folders (default: CPU count).
    parallel_threshold : int
        Folders with fewer files are read in this process (process start-up
        would cost more than it saves).

    Returns
    -------
    OpenPoseFrames
        keypoints of shape (n_frames, 70, 3), float32.
    """
    names, frames = list_frame_files(folder)
    (keypoints, n_people), = read_openpose_files([(folder, names)], person, n_workers, parallel_threshold)
    return OpenPoseFrames(keypoints, frames, n_people, names)


def read_openpose_files(folder_jobs, person="largest", n_workers: int | None = None,
                        parallel_threshold: int = 4000):
    """Read several recordings' files, in worker processes when there are many.

    Parameters
    ----------
    folder_jobs : list of (folder, names)
        Files of each recording, already listed and sorted (str or bytes names).
    person : str or int
        See :func:`parse_frame`.
    n_workers : int, optional
        Processes (default: CPU count); a pool opened with :func:`worker_pool` is reused.
    parallel_threshold : int
        Fewer files than this are read in this process.

    Returns
    -------
    list of (keypoints, n_people)
        keypoints of shape (n_files, 70, 3) float32 per recording.
    """
    person = check_person_rule(person)
    n_workers = n_workers or os.cpu_count() or 1
    total = sum(len(n) for _, n in folder_jobs)
    if n_workers <= 1 or total < parallel_threshold:
        return [_read_chunk((os.fspath(f), n, person)) for f, n in folder_jobs]
    step = max(256, math.ceil(total / (4 * n_workers)))
    jobs, owner = [], []
    for r, (folder, names) in enumerate(folder_jobs):
        for i in range(0, len(names), step):
            jobs.append((os.fspath(folder), names[i:i + step], person))
            owner.append(r)
    parts = _parallel_map(_read_chunk, jobs, n_workers)
    out = []
    for r in range(len(folder_jobs)):
        mine = [p for p, o in zip(parts, owner) if o == r]
        if mine:
            out.append((np.concatenate([m[0] for m in mine]), np.concatenate([m[1] for m in mine])))
        else:
            out.append((np.zeros((0, N_POINTS, 3), np.float32), np.zeros(0, np.int16)))
    return out


def openpose_document(face: np.ndarray | None) -> dict:
    """The OpenPose JSON document (as a dict) for one frame's face.

    Parameters
    ----------
    face : np.ndarray, shape (70, 3), or None
        None, or any NaN coordinate, writes ``"people": []``.
    """
    if face is None or not np.isfinite(np.asarray(face, dtype=np.float64)[:, :2]).all():
        return {"version": 1.3, "people": []}
    face = np.asarray(face, dtype=np.float32)
    return {
        "version": 1.3,
        "people": [{
            "person_id": [-1],
            "pose_keypoints_2d": [],
            # float32 -> Python float keeps the exact float32 value, so reading
            # it back and casting to float32 gives the same bits.
            "face_keypoints_2d": face.reshape(-1).tolist(),
            "hand_left_keypoints_2d": [],
            "hand_right_keypoints_2d": [],
            "pose_keypoints_3d": [],
            "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [],
            "hand_right_keypoints_3d": [],
        }],
    }


def write_openpose_folder(folder: str | os.PathLike, keypoints: np.ndarray, frames=None,
                          prefix: str = "frame") -> list[str]:
    """Write one OpenPose JSON file per frame, named as OpenPose names them.

    Parameters
    ----------
    folder : path
        Created if missing.
    keypoints : np.ndarray, shape (n_frames, 70, 3)
        Frames with NaN coordinates are written with an empty ``people`` list.
    frames : array of int, optional
        Frame numbers for the names (default 0, 1, ...).
    prefix : str
        File names are ``<prefix>_<frame:012d>_keypoints.json``.

    Returns
    -------
    list of str
        The file names written.
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (N_POINTS, 3):
        raise ValueError(f"keypoints must have shape (n, {N_POINTS}, 3), got {keypoints.shape}")
    frames = np.arange(len(keypoints)) if frames is None else np.asarray(frames)
    os.makedirs(folder, exist_ok=True)
    names = []
    for f, face in zip(frames, keypoints):
        name = f"{prefix}_{int(f):012d}_keypoints.json"
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(orjson.dumps(openpose_document(face)))
        names.append(name)
    return names
