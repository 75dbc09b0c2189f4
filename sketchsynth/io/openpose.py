"""Read and write OpenPose face keypoints (one JSON file per frame).

OpenPose writes ``<name>_<frame:012d>_keypoints.json`` with
``{"version": 1.3, "people": [{"face_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}``:
70 points x (x, y, confidence), ``0, 0, 0`` for a point it did not detect and an
empty ``people`` list when it found nobody.

Reading is the hot part of ``build-db`` (tens of thousands of small files), so a
numba kernel opens, reads and scans the common case without the GIL, on several
threads for large folders, and hands every other file to orjson; everything is
still validated so a bad file is reported by name.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass

import numpy as np
import orjson

from ..errors import InputError, ParameterError
from ..layout import N_POINTS
from .openpose_files import list_frame_files


MAX_COORDINATE = 1e6
"""Coordinates beyond this many pixels are treated as corrupt tracker output."""
MAX_FRAME_FILE_BYTES = 4 << 20
"""Largest OpenPose frame file read (4 MB). One person with body, face and hand keypoints takes about
5 KB (fadg0's files with body keypoints); this leaves room for hundreds of people. Larger files are
refused by their size, before they are read."""
MAX_CONFIDENCE = MAX_COORDINATE
"""Confidences beyond this are corrupt too (OpenPose writes 0-1; 1e308 once became inf in float32).
The numba scanner applies the same bound to both (it hands such files to the full parser, which words it)."""

PERSON_RULES = ("largest", "first", "confident")


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
        if face[:, 2].max() > MAX_CONFIDENCE:
            raise _bad(path, f"people[{i}].face_keypoints_2d has a confidence beyond {MAX_CONFIDENCE:g} "
                             "(expected 0-1; corrupt tracker output?)")
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
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if size > MAX_FRAME_FILE_BYTES:  # by its size, before reading it
            raise InputError(f"file of {size / 1e6:.1f} MB is too large for an OpenPose frame file (at most "
                             f"{MAX_FRAME_FILE_BYTES >> 20} MB)", path)
        parts = [os.read(fd, 1 << 16)]
        total = len(parts[0])
        while (len(parts[-1]) == 1 << 16 or (len(parts) > 1 and parts[-1])) and total <= MAX_FRAME_FILE_BYTES:
            parts.append(os.read(fd, 1 << 20))
            total += len(parts[-1])
            if not parts[-1]:
                break
        data = b"".join(parts)
        if len(data) > MAX_FRAME_FILE_BYTES:  # grew while read, or not a regular file
            raise InputError(f"file is too large for an OpenPose frame file (at most "
                             f"{MAX_FRAME_FILE_BYTES >> 20} MB)", path)
        return data
    finally:
        os.close(fd)


def _path(folder, name) -> str:
    """``folder/name`` as str, for either kind of name (str, bytes or numpy bytes)."""
    if isinstance(name, bytes):
        folder = os.fsencode(folder)
    return os.fsdecode(os.path.join(folder, name))


def _read_file(folder, name) -> bytes:
    try:
        return _read_bytes(_path(folder, name))
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror})", _path(folder, name)) from None


def _read_chunk(folder, names, person, faces, n_people):
    """Read and parse files: the numba reader for the plain case, orjson for the rest.

    Parameters
    ----------
    folder : str
    names : sequence of str or bytes, or np.ndarray of dtype ``S``
        File names in ``folder`` (a build keeps them as bytes: no per-frame objects).
    person : str or int
        See :func:`parse_frame`.
    faces : np.ndarray, shape (n_files, 70, 3), float32
        Filled: each file's face, zeros where there is none.
    n_people : np.ndarray, shape (n_files,), int16
        Filled.

    Raises
    ------
    InputError
        The first unreadable file in ``names`` if any, else the first invalid one.
    """
    from . import _jsonscan

    dir_fd = None
    if _jsonscan.KERNEL_READS:
        with contextlib.suppress(OSError):  # then every file goes through Python, which words the error
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    if dir_fd is None:
        return _read_chunk_python(folder, names, person, faces, n_people)
    status = np.empty(len(names), dtype=np.int8)
    try:
        _jsonscan.read(dir_fd, _jsonscan.name_table(names), MAX_COORDINATE, faces, n_people, status,
                       MAX_FRAME_FILE_BYTES)
    finally:
        os.close(dir_fd)
    # Files the kernel could not open or read, again from Python (all of them first:
    # an unreadable file is reported before an invalid one, as the Python reader does).
    retried = {i: _read_file(folder, names[i]) for i in np.flatnonzero(status == _jsonscan.UNREADABLE)}
    for i in np.flatnonzero(status != _jsonscan.OK):
        data = retried[i] if i in retried else _read_file(folder, names[i])
        face, n = parse_frame(data, _path(folder, names[i]), person)
        n_people[i] = n
        faces[i] = 0 if face is None else face


def _read_chunk_python(folder, names, person, faces, n_people):
    """:func:`_read_chunk` reading the files from Python, then scanning them in one call.

    The reader where the numba one cannot open files, and its reference in the tests.
    """
    from ._jsonscan import FALLBACK, scan

    blobs = [_read_file(folder, name) for name in names]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    out, npeo, status = scan(b"".join(blobs), offsets, MAX_COORDINATE)
    for i in np.flatnonzero(status == FALLBACK):
        face, npeo[i] = parse_frame(blobs[i], _path(folder, names[i]), person)
        out[i] = 0 if face is None else face
    faces[:] = out
    n_people[:] = npeo


def _read_chunk_orjson(folder, names, person, faces, n_people):
    """:func:`_read_chunk` with orjson for every file (:func:`parse_frame`): no kernel to compile.

    Every file is read before any is parsed, so an unreadable file is reported before an invalid one,
    as the other readers do.
    """
    blobs = [_read_file(folder, name) for name in names]
    for i, data in enumerate(blobs):
        face, n_people[i] = parse_frame(data, _path(folder, names[i]), person)
        faces[i] = 0 if face is None else face


def check_person_rule(person):
    """Validate a ``person`` option: a rule name or a non-negative index."""
    if isinstance(person, str) and person.isascii() and person.isdigit():
        if len(person) > 6:
            raise ParameterError(f"--person index must be a small whole number, got {person[:12]}...")
        person = int(person)
    if isinstance(person, int):
        if person < 0:
            raise ParameterError(f"--person index must be >= 0, got {person}")
        return person
    if person not in PERSON_RULES:
        raise ParameterError(f"--person must be one of {', '.join(PERSON_RULES)} or an index, got {person!r}")
    return person


def read_openpose_folder(folder: str | os.PathLike, person="largest", n_workers: int | None = None,
                         parallel_threshold: int = 1000) -> OpenPoseFrames:
    """Read one recording: a folder of OpenPose JSON files.

    Parameters
    ----------
    folder : path
    person : {"largest", "first", "confident"} or int
        See :func:`parse_frame`.
    n_workers : int, optional
        Threads used for large folders (default: CPU count).
    parallel_threshold : int
        Folders with fewer files are read on the calling thread.

    Returns
    -------
    OpenPoseFrames
        keypoints of shape (n_frames, 70, 3), float32.
    """
    names, frames = list_frame_files(folder)
    (keypoints, n_people), = read_openpose_files([(folder, names)], person, n_workers, parallel_threshold)
    return OpenPoseFrames(keypoints, frames, n_people, names)


def read_openpose_files(folder_jobs, person="largest", n_workers: int | None = None,
                        parallel_threshold: int = 1000):
    """Read several recordings' files, on several threads when there are many.

    Parameters
    ----------
    folder_jobs : list of (folder, names)
        Files of each recording, already listed and sorted (str or bytes names,
        or an array of dtype ``S``).
    person : str or int
        See :func:`parse_frame`.
    n_workers : int, optional
        Threads (default: CPU count). The numba reader releases the GIL, so they
        read and scan in parallel; only files it hands to orjson hold the GIL.
    parallel_threshold : int
        Fewer files than this are read on the calling thread.

    Returns
    -------
    list of (keypoints, n_people)
        keypoints of shape (n_files, 70, 3) float32 per recording.
    """
    import concurrent.futures as cf

    person = check_person_rule(person)
    n_workers = n_workers or os.cpu_count() or 1
    total = sum(len(n) for _, n in folder_jobs)
    out = [(np.empty((len(n), N_POINTS, 3), np.float32), np.empty(len(n), np.int16)) for _, n in folder_jobs]
    parallel = n_workers > 1 and total >= parallel_threshold
    # Jobs of about 10 ms (1,024 plain files): the threads stay busy to the end,
    # also when a job meets slow files (orjson's) or recordings differ in length.
    step = 1024 if parallel else max(1, total)
    jobs = [(os.fspath(folder), names[i:i + step], person, kp[i:i + step], npeo[i:i + step])
            for (folder, names), (kp, npeo) in zip(folder_jobs, out) for i in range(0, len(names), step)]
    from .._jit import worth_it
    from ._jsonscan import read_faces

    if not worth_it(read_faces, total):
        for job in jobs:  # compiling the scanner would cost more than it saves here
            _read_chunk_orjson(*job)
        return out
    if not parallel or len(jobs) == 1:
        for job in jobs:
            _read_chunk(*job)
        return out
    with cf.ThreadPoolExecutor(max_workers=n_workers) as ex:
        futures = [ex.submit(_read_chunk, *job) for job in jobs]
        try:
            for f in futures:
                f.result()  # the first failing job in file order raises
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return out


