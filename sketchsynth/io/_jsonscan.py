"""A validating JSON scanner, in numba, for the common shape of OpenPose files.

``build-db`` reads tens of thousands of small JSON files; a general parser spends
most of its time building Python objects (body pose, hands...) that are thrown
away. This kernel checks the *whole* document against the JSON grammar and pulls
out only ``people[0].face_keypoints_2d``, many files per call.

It accepts only the plain case -- valid JSON, ASCII, zero or one person, a face of
0 or 210 numbers, every number exactly convertible (Clinger's fast path, so the
double equals the correctly rounded one a full parser gives), no duplicate keys
on the path -- and flags every other file for the orjson-based
:func:`sketchsynth.io.openpose.parse_frame`, which handles several people and
words the error messages. A test checks that both agree on real and corrupted
files.

:func:`read_faces` also reads the files (see :mod:`._syscalls`): a file then
costs three system calls and the scan, with the GIL released, so a build reads
on every core from threads.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from ._syscalls import AVAILABLE as KERNEL_READS  # noqa: F401  (callers read from Python where False)
from ._syscalls import close_fd, openat_read_only, read_into

OK = 0
FALLBACK = 1
UNREADABLE = 2

# container roles along the path root -> people -> person -> face
_OTHER, _ROOT, _PEOPLE, _PERSON, _FACE = 0, 1, 2, 3, 4
# what the grammar expects next
_VALUE, _KEY_OR_END, _KEY, _COLON, _COMMA_OR_END, _VALUE_OR_END = 0, 1, 2, 3, 4, 5

_POW10 = np.array([10.0 ** i for i in range(23)])
_PEOPLE_KEY = np.frombuffer(b"people", dtype=np.uint8)
_FACE_KEY = np.frombuffer(b"face_keypoints_2d", dtype=np.uint8)
N_VALUES = 210
MAX_DEPTH = 64


@numba.njit(cache=True, inline="always")
def _is_ws(c):
    return c == 32 or c == 10 or c == 13 or c == 9


@numba.njit(cache=True)
def _scan_one(buf, start, end, out, pow10, people_key, face_key):
    """Scan buf[start:end]; fill out (210,) with people[0]'s face. Returns (status, n_people, n_face)."""
    role = np.zeros(MAX_DEPTH, dtype=np.int8)
    is_obj = np.zeros(MAX_DEPTH, dtype=np.bool_)
    depth = 0
    expect = _VALUE
    key_people = False   # the last key read in the current object was "people" (root) / face (person)
    key_face = False
    seen_people = False
    n_people = 0
    n_face = -1          # values in people[0].face (-1: no face key seen)
    face_seen_in_person = False
    pos = start
    done = False
    while True:
        while pos < end and _is_ws(buf[pos]):
            pos += 1
        if pos >= end:
            break
        c = buf[pos]
        if done:
            return FALLBACK, 0, 0  # trailing content after the document
        if expect == _COLON:
            if c != 58:  # ':'
                return FALLBACK, 0, 0
            pos += 1
            expect = _VALUE
            continue
        if expect == _COMMA_OR_END:
            if c == 44:  # ','
                pos += 1
                expect = _KEY if is_obj[depth - 1] else _VALUE
                continue
            if (c == 125 and is_obj[depth - 1]) or (c == 93 and not is_obj[depth - 1]):
                depth -= 1
                pos += 1
                if depth == 0:
                    done = True
                expect = _COMMA_OR_END
                continue
            return FALLBACK, 0, 0
        if expect == _KEY_OR_END or expect == _KEY:
            if c == 125 and expect == _KEY_OR_END:  # '}' of an empty object
                depth -= 1
                pos += 1
                if depth == 0:
                    done = True
                expect = _COMMA_OR_END
                continue
            if c != 34:  # '"'
                return FALLBACK, 0, 0
            pos += 1
            k0 = pos
            escaped = False
            while pos < end:
                ch = buf[pos]
                if ch == 34:
                    break
                if ch < 32 or ch >= 128:
                    return FALLBACK, 0, 0
                if ch == 92:
                    escaped = True
                    pos += 1
                    if pos >= end:
                        return FALLBACK, 0, 0
                    e = buf[pos]
                    if e == 117:  # \uXXXX: surrogate rules are the full parser's business
                        return FALLBACK, 0, 0
                    elif not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114
                              or e == 116):
                        return FALLBACK, 0, 0
                pos += 1
            if pos >= end:
                return FALLBACK, 0, 0
            klen = pos - k0
            pos += 1
            r = role[depth - 1]
            key_people = False
            key_face = False
            if r == _ROOT or r == _PERSON:
                target = people_key if r == _ROOT else face_key
                if escaped:
                    return FALLBACK, 0, 0  # an escaped key might spell a name we care about
                if klen == target.shape[0]:
                    same = True
                    for q in range(klen):
                        if buf[k0 + q] != target[q]:
                            same = False
                            break
                    if same:
                        if r == _ROOT:
                            if seen_people:
                                return FALLBACK, 0, 0  # duplicate key: a full parser keeps the last
                            key_people = True
                        else:
                            if face_seen_in_person:
                                return FALLBACK, 0, 0
                            key_face = True
            expect = _COLON
            continue
        # a value is expected (_VALUE or _VALUE_OR_END)
        if c == 93 and expect == _VALUE_OR_END:  # ']' of an empty array
            depth -= 1
            pos += 1
            if depth == 0:
                done = True
            expect = _COMMA_OR_END
            continue
        parent = role[depth - 1] if depth > 0 else -1
        if c == 123 or c == 91:  # '{' or '['
            if depth >= MAX_DEPTH:
                return FALLBACK, 0, 0
            obj = c == 123
            new_role = _OTHER
            if parent == _FACE:
                return FALLBACK, 0, 0  # nested face values: the full parser decides
            if depth == 0:
                if not obj:
                    return FALLBACK, 0, 0
                new_role = _ROOT
            elif parent == _ROOT and key_people:
                if obj:
                    return FALLBACK, 0, 0  # 'people' must be a list
                new_role = _PEOPLE
                seen_people = True
            elif parent == _PEOPLE:
                if not obj:
                    return FALLBACK, 0, 0
                new_role = _PERSON
                n_people += 1
                face_seen_in_person = False
                if n_people > 1:
                    return FALLBACK, 0, 0  # several people: the full parser chooses
            elif parent == _PERSON and key_face:
                if obj:
                    return FALLBACK, 0, 0
                new_role = _FACE
                face_seen_in_person = True
                n_face = 0
            role[depth] = new_role
            is_obj[depth] = obj
            depth += 1
            key_people = False
            key_face = False
            pos += 1
            expect = _KEY_OR_END if obj else _VALUE_OR_END
            continue
        if parent == _ROOT and key_people:
            return FALLBACK, 0, 0  # 'people' is not a list
        if parent == _PERSON and key_face:
            return FALLBACK, 0, 0  # face is not a list
        if parent == _PEOPLE:
            return FALLBACK, 0, 0  # a person that is not an object
        key_people = False
        key_face = False
        if c == 34:  # string value
            pos += 1
            while pos < end:
                ch = buf[pos]
                if ch == 34:
                    break
                if ch < 32 or ch >= 128:
                    return FALLBACK, 0, 0
                if ch == 92:
                    pos += 1
                    if pos >= end:
                        return FALLBACK, 0, 0
                    e = buf[pos]
                    if e == 117:
                        return FALLBACK, 0, 0
                    elif not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114
                              or e == 116):
                        return FALLBACK, 0, 0
                pos += 1
            if pos >= end or parent == _FACE:
                return FALLBACK, 0, 0
            pos += 1
        elif c == 45 or (48 <= c <= 57):  # number
            neg = c == 45
            if neg:
                pos += 1
                if pos >= end:
                    return FALLBACK, 0, 0
            mant = 0
            ndig = 0
            frac = 0
            exact = True
            if buf[pos] == 48:
                pos += 1
                if pos < end and 48 <= buf[pos] <= 57:
                    return FALLBACK, 0, 0  # leading zero
            elif 49 <= buf[pos] <= 57:
                while pos < end and 48 <= buf[pos] <= 57:
                    if ndig < 18:
                        mant = mant * 10 + (buf[pos] - 48)
                        if mant > 0 or ndig > 0:
                            ndig += 1
                    else:
                        exact = False
                    pos += 1
            else:
                return FALLBACK, 0, 0
            if pos < end and buf[pos] == 46:  # '.'
                pos += 1
                if pos >= end or not (48 <= buf[pos] <= 57):
                    return FALLBACK, 0, 0
                while pos < end and 48 <= buf[pos] <= 57:
                    if ndig < 18:
                        mant = mant * 10 + (buf[pos] - 48)
                        frac += 1
                        if mant > 0 or ndig > 0:
                            ndig += 1
                    else:
                        exact = False
                    pos += 1
            ex = 0
            if pos < end and (buf[pos] == 101 or buf[pos] == 69):  # e E
                pos += 1
                eneg = False
                if pos < end and (buf[pos] == 43 or buf[pos] == 45):
                    eneg = buf[pos] == 45
                    pos += 1
                if pos >= end or not (48 <= buf[pos] <= 57):
                    return FALLBACK, 0, 0
                while pos < end and 48 <= buf[pos] <= 57:
                    if ex < 100000:
                        ex = ex * 10 + (buf[pos] - 48)
                    pos += 1
                if eneg:
                    ex = -ex
            if parent == _FACE:
                if n_face >= N_VALUES or not exact or mant >= (1 << 53):
                    return FALLBACK, 0, 0
                p10 = ex - frac
                if p10 > 22 or p10 < -22:
                    return FALLBACK, 0, 0
                v = np.float64(mant)
                v = v * pow10[p10] if p10 >= 0 else v / pow10[-p10]
                out[n_face] = -v if neg else v
                n_face += 1
        elif c == 116 or c == 102 or c == 110:  # true false null
            if parent == _FACE:
                return FALLBACK, 0, 0
            if c == 116:
                lit = "true"
            elif c == 102:
                lit = "false"
            else:
                lit = "null"
            n = len(lit)
            if pos + n > end:
                return FALLBACK, 0, 0
            for q in range(n):
                if buf[pos + q] != ord(lit[q]):
                    return FALLBACK, 0, 0
            pos += n
        else:
            return FALLBACK, 0, 0
        if depth == 0:
            done = True
        expect = _COMMA_OR_END
    if not done or depth != 0 or not seen_people:
        return FALLBACK, 0, 0
    if n_people == 1 and n_face != 0 and n_face != N_VALUES:
        return FALLBACK, 0, 0
    if n_people == 0 or n_face <= 0:
        return OK, 0, 0  # nobody, or a person without a face (OpenPose's face detector off/failed)
    return OK, n_people, n_face


@numba.njit(cache=True, inline="always")
def _store_face(tmp, n_face, n_people, max_coord, face_out):
    """Check a scanned face and copy it into ``face_out`` (70, 3) float32.

    Returns (status, n_people to record). ``face_out`` must hold zeros already.
    """
    if n_face == 0:
        return OK, 0
    conf_max = 0.0
    for p in range(70):
        x, y, cf = tmp[3 * p], tmp[3 * p + 1], tmp[3 * p + 2]
        if abs(x) > max_coord or abs(y) > max_coord or cf < 0:
            return FALLBACK, 0  # the full parser words the error
        if cf > conf_max:
            conf_max = cf
    if conf_max <= 0:
        return OK, 0  # OpenPose writes an all-zero face when it could not fit one
    for p in range(70):
        face_out[p, 0] = tmp[3 * p]
        face_out[p, 1] = tmp[3 * p + 1]
        face_out[p, 2] = tmp[3 * p + 2]
    return OK, n_people


@numba.njit(cache=True)
def scan_faces(buf, offsets, pow10, people_key, face_key, max_coord):
    """Scan many documents laid end to end in ``buf``.

    buf (B,) uint8; offsets (n+1,) int64 (document i is buf[offsets[i]:offsets[i+1]]).
    Returns faces (n, 70, 3) float32 (zeros when there is no face), n_people (n,) int16,
    status (n,) int8 (FALLBACK: hand the file to the full parser).
    """
    n = offsets.shape[0] - 1
    faces = np.zeros((n, 70, 3), dtype=np.float32)
    n_people = np.zeros(n, dtype=np.int16)
    status = np.zeros(n, dtype=np.int8)
    tmp = np.empty(N_VALUES, dtype=np.float64)
    for i in range(n):
        st, npeo, nface = _scan_one(buf, offsets[i], offsets[i + 1], tmp, pow10, people_key, face_key)
        if st == OK:
            st, npeo = _store_face(tmp, nface, npeo, max_coord, faces[i])
        status[i] = st
        n_people[i] = npeo
    return faces, n_people, status


@numba.njit(cache=True, nogil=True)
def read_faces(dir_fd, names, pow10, people_key, face_key, max_coord, faces, n_people, status):
    """Read and scan files, one after the other, without the GIL.

    dir_fd: the folder, open; names (n, w) uint8, NUL-terminated file names.
    Fills faces (n, 70, 3) float32, n_people (n,) int16 and status (n,) int8:
    OK, FALLBACK (hand the file to the full parser) or UNREADABLE (open or read
    failed: the caller retries it from Python, which words the error).
    """
    buf = np.empty(1 << 16, dtype=np.uint8)
    tmp = np.empty(N_VALUES, dtype=np.float64)
    for i in range(names.shape[0]):
        faces[i] = 0
        n_people[i] = 0
        fd = openat_read_only(dir_fd, names[i].ctypes)
        if fd < 0:
            status[i] = UNREADABLE
            continue
        size = 0
        while True:
            got = read_into(fd, buf[size:].ctypes, buf.shape[0] - size)
            if got < 0:
                size = -1
                break
            size += got
            if size < buf.shape[0]:
                break  # a short read of a regular file: its end (as os.read's callers assume)
            grown = np.empty(2 * buf.shape[0], dtype=np.uint8)
            grown[:size] = buf
            buf = grown
        close_fd(fd)
        if size < 0:
            status[i] = UNREADABLE
            continue
        st, npeo, nface = _scan_one(buf, 0, size, tmp, pow10, people_key, face_key)
        if st == OK:
            st, npeo = _store_face(tmp, nface, npeo, max_coord, faces[i])
        status[i] = st
        n_people[i] = npeo


def scan(buf: bytes, offsets: np.ndarray, max_coord: float):
    """Python entry: see :func:`scan_faces`.

    Returns
    -------
    faces : np.ndarray, shape (n, 70, 3), float32
    n_people : np.ndarray, shape (n,), int16
    status : np.ndarray, shape (n,), int8
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    return scan_faces(arr, np.asarray(offsets, dtype=np.int64), _POW10, _PEOPLE_KEY, _FACE_KEY, float(max_coord))


def read(dir_fd: int, names: np.ndarray, max_coord: float, faces: np.ndarray, n_people: np.ndarray,
         status: np.ndarray) -> None:
    """Python entry: see :func:`read_faces` (``names`` as made by :func:`name_table`)."""
    read_faces(np.int32(dir_fd), names, _POW10, _PEOPLE_KEY, _FACE_KEY, float(max_coord), faces, n_people, status)


def name_table(names) -> np.ndarray:
    """File names as rows of NUL-terminated bytes, shape (n, longest + 1), uint8.

    Parameters
    ----------
    names : sequence of str or bytes, or np.ndarray of dtype ``S``
    """
    arr = names if isinstance(names, np.ndarray) and names.dtype.kind == "S" else \
        np.array([os.fsencode(n) for n in names], dtype=bytes)
    arr = np.ascontiguousarray(arr)
    width = arr.dtype.itemsize
    table = np.zeros((len(arr), width + 1), dtype=np.uint8)
    if len(arr) and width:
        table[:, :width] = arr.view(np.uint8).reshape(len(arr), width)
    return table
