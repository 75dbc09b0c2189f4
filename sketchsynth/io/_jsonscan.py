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

This module is longer than the package's ~400-line rule on purpose: it is one numba kernel with its
hand-written number parser, and splitting it would split the grammar (``tests/test_structure.py`` names it).
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
_INT_POW10 = np.array([10 ** i for i in range(9)], dtype=np.int64)
# SWAR constants of _digits_value (simdjson's eight-digit parse)
_ASCII_ZEROS = np.uint64(0x3030303030303030)
_BYTES_0_4 = np.uint64(0x000000FF000000FF)
_PAIRS_01_45 = np.uint64(100 + (1_000_000 << 32))
_PAIRS_23_67 = np.uint64(1 + (10_000 << 32))
# and of _digit_run
_LOW_7_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)
_TENS_TO_BIT_7 = np.uint64(0x7676767676767676)
_BIT_7 = np.uint64(0x8080808080808080)
_BYTE_INDEX = np.uint64(0x0001020304050607)
_PEOPLE_KEY = np.frombuffer(b"people", dtype=np.uint8)
_FACE_KEY = np.frombuffer(b"face_keypoints_2d", dtype=np.uint8)
N_VALUES = 210
MAX_DEPTH = 64


@numba.njit(cache=True, inline="always")
def _is_ws(c):
    return c == 32 or c == 10 or c == 13 or c == 9


@numba.njit(cache=True, inline="always")
def _is_digit(c):
    return 48 <= c <= 57


@numba.njit(cache=True, inline="always")
def _skip_ws(buf, pos, end):
    while pos < end and _is_ws(buf[pos]):
        pos += 1
    return pos


@numba.njit(cache=True, inline="always")
def _string_end(buf, pos, end):
    """Skip a string whose opening quote is at buf[pos - 1].

    Returns (position after the closing quote, whether it holds an escape), or
    (-1, _) for anything the full parser should judge: a control character,
    non-ASCII, an unknown escape or a ``\\uXXXX`` escape (surrogate rules), no end.
    """
    escaped = False
    while pos < end:
        ch = buf[pos]
        if ch == 34:  # '"'
            return pos + 1, escaped
        if ch < 32 or ch >= 128:
            return -1, escaped
        if ch == 92:  # '\'
            escaped = True
            pos += 1
            if pos >= end:
                return -1, escaped
            e = buf[pos]
            if not (e == 34 or e == 92 or e == 47 or e == 98 or e == 102 or e == 110 or e == 114 or e == 116):
                return -1, escaped  # includes \u
        pos += 1
    return -1, escaped


@numba.njit(cache=True, inline="always")
def _digits_value(buf, pos, k):
    """Value of the ``k`` (1-8) ASCII digits at buf[pos:pos + k]; buf must hold 8 bytes from pos.

    SWAR: the 8 bytes as one little-endian word, the bytes after the digits
    shifted out, then digit pairs, quads and all eight combined by three
    multiplications. Unlike ``mant = mant * 10 + d`` per digit, no chain of
    multiplications (3 cycles each) runs through the digits.
    """
    at = np.uint64(pos)  # unsigned indices: no wrap-around test per byte, so the 8 reads become one load
    w = np.uint64(0)
    for q in range(8):
        w |= np.uint64(buf[at + np.uint64(q)]) << np.uint64(8 * q)
    w = (w ^ _ASCII_ZEROS) << np.uint64(8 * (8 - k))  # first digit in the lowest byte of the k kept
    w = w * np.uint64(10) + (w >> np.uint64(8))  # byte 2i: the pair of digits 2i, 2i+1
    w = ((w & _BYTES_0_4) * _PAIRS_01_45 + ((w >> np.uint64(16)) & _BYTES_0_4) * _PAIRS_23_67) >> np.uint64(32)
    return np.int64(w & np.uint64(0xFFFFFFFF))


@numba.njit(cache=True, inline="always")
def _digit_run(buf, pos, end):
    """How many ASCII digits follow from buf[pos] on, before ``end``: 8 bytes per step.

    A byte loop mispredicts where each run of digits ends (their lengths vary
    from number to number); a word finds it with a mask: after ``x = byte ^ '0'``
    a digit is a byte below 10, so ``(x & 0x7f) + 0x76`` sets bit 7 of every
    other byte, and the lowest set bit gives the run's length.
    """
    n = 0
    while pos + n + 8 <= end:
        at = np.uint64(pos + n)  # unsigned indices: the 8 reads become one load (see _digits_value)
        w = np.uint64(0)
        for q in range(8):
            w |= np.uint64(buf[at + np.uint64(q)]) << np.uint64(8 * q)
        x = w ^ _ASCII_ZEROS
        other = (((x & _LOW_7_BITS) + _TENS_TO_BIT_7) | x) & _BIT_7
        if other != np.uint64(0):
            lowest = other & (~other + np.uint64(1))  # 1 << (8 k + 7), k = digits before it
            return n + np.int64(((lowest >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))  # k, by a multiply
        n += 8
    while pos + n < end and _is_digit(buf[pos + n]):
        n += 1
    return n


@numba.njit(cache=True)
def _mantissa_digit_by_digit(buf, i0, i1, f0, f1):
    """(mantissa, digits after the point kept, exact) of the digits buf[i0:i1] '.' buf[f0:f1], any length.

    Keeps the first 18 significant digits; ``exact`` is False when more were dropped.
    """
    mant = 0
    ndig = 0
    frac = 0
    exact = True
    for q in range(i0, i1):
        if ndig < 18:
            mant = mant * 10 + (buf[q] - 48)
            if mant > 0:
                ndig += 1
        else:
            exact = False
    for q in range(f0, f1):
        if ndig < 18:
            mant = mant * 10 + (buf[q] - 48)
            frac += 1
            if mant > 0:
                ndig += 1
        else:
            exact = False
    return mant, frac, exact


@numba.njit(cache=True)
def _numbers(buf, pos, end, out, n_face, in_array):
    """Check the JSON number at buf[pos] (a '-' or a digit) and, in an array, the numbers after it.

    Parameters
    ----------
    in_array : bool
        Go on over ``, number`` as long as one follows (an array's values; in an
        OpenPose file nearly every byte); else stop after one number.
    n_face : int
        >= 0: the numbers are the face's, their values go to out[n_face:];
        -1: they are only checked.

    Returns
    -------
    (pos, n_face)
        ``pos`` is just past the last number (the caller judges what follows),
        or -1 to fall back: bad grammar, a value beyond Clinger's fast path, too
        many face values.

    Notes
    -----
    The grammar is spelled out here rather than in an inlined helper: with its
    several exits, such a helper kept an atomic reference-count increment and
    decrement on ``buf`` per number, about a third of the scan's time.
    """
    while True:
        neg = buf[pos] == 45
        if neg:
            pos += 1
            if pos >= end:
                return -1, n_face
        # digits: integer part buf[i0:i1], fraction buf[f0:f1]
        i0 = pos
        c = buf[pos]
        if c == 48:  # a leading 0 stands alone
            pos += 1
            if pos < end and _is_digit(buf[pos]):
                return -1, n_face
        elif _is_digit(c):
            pos += 1 + _digit_run(buf, pos + 1, end)
        else:
            return -1, n_face
        i1 = pos
        f0 = pos
        if pos < end and buf[pos] == 46:  # '.'
            pos += 1
            if pos >= end or not _is_digit(buf[pos]):
                return -1, n_face
            f0 = pos
            pos += _digit_run(buf, pos, end)
        f1 = pos
        ex = 0
        if pos < end and (buf[pos] == 101 or buf[pos] == 69):  # e E
            pos += 1
            eneg = False
            if pos < end and (buf[pos] == 43 or buf[pos] == 45):
                eneg = buf[pos] == 45
                pos += 1
            if pos >= end or not _is_digit(buf[pos]):
                return -1, n_face
            while pos < end and _is_digit(buf[pos]):
                if ex < 100000:
                    ex = ex * 10 + (buf[pos] - 48)
                pos += 1
            if eneg:
                ex = -ex
        if n_face >= 0:
            if n_face >= N_VALUES:
                return -1, n_face
            n_int = i1 - i0
            n_frac = f1 - f0
            if n_int <= 8 and n_frac <= 8 and max(i0, f0) + 8 <= buf.shape[0]:
                mant = _digits_value(buf, i0, n_int)  # the usual case: every digit kept, exactly
                if n_frac > 0:
                    mant = mant * _INT_POW10[n_frac] + _digits_value(buf, f0, n_frac)
                p10 = ex - n_frac
                exact = True
            else:
                mant, frac, exact = _mantissa_digit_by_digit(buf, i0, i1, f0, f1)
                p10 = ex - frac
            # Clinger's fast path: mantissa and power of ten both exact in a double,
            # so one multiplication or division rounds correctly.
            if not exact or mant >= (1 << 53) or p10 > 22 or p10 < -22:
                return -1, n_face
            v = np.float64(mant)
            v = v * _POW10[p10] if p10 >= 0 else v / _POW10[-p10]
            out[n_face] = -v if neg else v
            n_face += 1
        if not in_array:
            return pos, n_face
        q = pos  # ", number" next?
        while q < end and _is_ws(buf[q]):
            q += 1
        if q >= end or buf[q] != 44:  # ','
            return pos, n_face
        q += 1
        while q < end and _is_ws(buf[q]):
            q += 1
        if q >= end or not (buf[q] == 45 or _is_digit(buf[q])):
            return pos, n_face
        pos = q


@numba.njit(cache=True)
def _scan_one(buf, start, end, out, role, is_obj):
    """Scan buf[start:end]; fill out (210,) with people[0]'s face. Returns (status, n_people, n_face).

    role, is_obj (MAX_DEPTH,): the container stack, scratch space reused across documents.
    """
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
        pos = _skip_ws(buf, pos, end)
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
            k0 = pos + 1
            pos, escaped = _string_end(buf, k0, end)
            if pos < 0:
                return FALLBACK, 0, 0
            klen = pos - 1 - k0
            r = role[depth - 1]
            key_people = False
            key_face = False
            if r == _ROOT or r == _PERSON:
                target = _PEOPLE_KEY if r == _ROOT else _FACE_KEY
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
        if c == 45 or _is_digit(c):
            # np.int64(-1), not -1: a literal argument would compile _numbers twice (for Literal[int](-1)
            # while the types are being inferred, then for int64), seconds per install
            got, n_got = _numbers(buf, pos, end, out, n_face if parent == _FACE else np.int64(-1),
                                  depth > 0 and not is_obj[depth - 1])
            if got < 0:
                return FALLBACK, 0, 0
            pos = got
            if parent == _FACE:
                n_face = n_got
            if depth == 0:
                done = True
            expect = _COMMA_OR_END
            continue
        if c == 34:  # string value
            if parent == _FACE:
                return FALLBACK, 0, 0
            pos, _ = _string_end(buf, pos + 1, end)
            if pos < 0:
                return FALLBACK, 0, 0
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
def _store_face(tmp, n_face, n_people, max_coord, faces, i):
    """Check a scanned face and copy it into ``faces[i]`` (faces: (n, 70, 3) float32, row i zeros already).

    Returns (status, n_people to record).
    """
    if n_face == 0:
        return OK, 0
    conf_max = 0.0
    for p in range(70):
        x, y, cf = tmp[3 * p], tmp[3 * p + 1], tmp[3 * p + 2]
        if abs(x) > max_coord or abs(y) > max_coord or cf < 0 or cf > max_coord:
            return FALLBACK, 0  # the full parser words the error (confidences share the coordinates' bound)
        if cf > conf_max:
            conf_max = cf
    if conf_max <= 0:
        return OK, 0  # OpenPose writes an all-zero face when it could not fit one
    for p in range(70):
        faces[i, p, 0] = tmp[3 * p]
        faces[i, p, 1] = tmp[3 * p + 1]
        faces[i, p, 2] = tmp[3 * p + 2]
    return OK, n_people


@numba.njit(cache=True)
def scan_faces(buf, offsets, max_coord):
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
    role = np.zeros(MAX_DEPTH, dtype=np.int8)
    is_obj = np.zeros(MAX_DEPTH, dtype=np.bool_)
    for i in range(n):
        st, npeo, nface = _scan_one(buf, offsets[i], offsets[i + 1], tmp, role, is_obj)
        if st == OK:
            st, npeo = _store_face(tmp, nface, npeo, max_coord, faces, i)
        status[i] = st
        n_people[i] = npeo
    return faces, n_people, status


@numba.njit(cache=True, nogil=True)
def read_faces(dir_fd, names, max_coord, faces, n_people, status, max_bytes):
    """Read and scan files, one after the other, without the GIL.

    dir_fd: the folder, open; names (n, w) uint8, NUL-terminated file names.
    Fills faces (n, 70, 3) float32, n_people (n,) int16 and status (n,) int8:
    OK, FALLBACK (hand the file to the full parser) or UNREADABLE (open or read
    failed, or the file is larger than max_bytes: reading stops there, and the
    caller retries it from Python, which words the error).
    """
    buf = np.empty(1 << 16, dtype=np.uint8)
    tmp = np.empty(N_VALUES, dtype=np.float64)
    role = np.zeros(MAX_DEPTH, dtype=np.int8)
    is_obj = np.zeros(MAX_DEPTH, dtype=np.bool_)
    faces[:] = 0
    for i in range(names.shape[0]):
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
            if size > max_bytes:
                size = -1  # too large for a frame file: read no further
                break
            if size < buf.shape[0]:
                break  # a short read of a regular file: its end (as os.read's callers assume)
            grown = np.empty(2 * buf.shape[0], dtype=np.uint8)
            grown[:size] = buf
            buf = grown
        close_fd(fd)
        if size < 0:
            status[i] = UNREADABLE
            continue
        st, npeo, nface = _scan_one(buf, np.int64(0), size, tmp, role, is_obj)  # no literal: see _numbers
        if st == OK:
            st, npeo = _store_face(tmp, nface, npeo, max_coord, faces, i)
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
    return scan_faces(arr, np.asarray(offsets, dtype=np.int64), float(max_coord))


def read(dir_fd: int, names: np.ndarray, max_coord: float, faces: np.ndarray, n_people: np.ndarray,
         status: np.ndarray, max_bytes: int = 1 << 62) -> None:
    """Python entry: see :func:`read_faces` (``names`` as made by :func:`name_table`)."""
    read_faces(np.int32(dir_fd), names, float(max_coord), faces, n_people, status, np.int64(max_bytes))


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
