"""Stream ``.npy`` files row block by row block: no memory map, so a long build's memory stays its own.

Mapped file pages count in a process's resident memory for as long as the map
lives; reading and writing blocks through a file handle keeps them in the page
cache instead, where the kernel can drop them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np


class NpyAppender:
    """Write a ``.npy`` of known shape row block by row block (no memory map, no full array).

    ``on_write``, if given, is called with every piece of bytes written, in
    order (the header first), e.g. to checksum the file without reading it back;
    it gets the appended arrays' memory, which it may read later (on another
    thread): blocks must not be changed once appended.
    """

    def __init__(self, path, shape, dtype, on_write=None):
        self.path = Path(path)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._on_write = on_write
        self._fh = open(self.path, "wb")
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": self.shape})
        self._write(header.getvalue())
        self.offset = self._fh.tell()

    def _write(self, data):
        self._fh.write(data)
        if self._on_write is not None:
            self._on_write(data)

    def append(self, block: np.ndarray):
        """Write rows; with ``on_write``, ``block`` must not change afterwards (it may be read later)."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        assert block.shape[1:] == self.shape[1:]
        # The array's own memory, not a tobytes() copy: copying 50 MB cost 3x the write itself.
        self._write(block.reshape(-1).view(np.uint8))
        self.rows += len(block)

    def close(self):
        self._fh.flush()
        self._fh.close()
        if self.rows != self.shape[0]:
            raise RuntimeError(f"{self.path.name}: wrote {self.rows} rows, header says {self.shape[0]}")


def read_npy_rows(path, start: int, stop: int) -> np.ndarray:
    """Rows start:stop of a ``.npy`` file, read (not mapped) into memory."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(fh)
        row = int(np.prod(shape[1:])) * dtype.itemsize
        fh.seek(fh.tell() + start * row)
        out = np.fromfile(fh, dtype=dtype, count=(stop - start) * int(np.prod(shape[1:])))
    return out.reshape((stop - start,) + tuple(shape[1:]))


def check_npy(path) -> tuple[tuple, np.dtype, int]:
    """Validate a ``.npy`` file's header before anything maps or reads it.

    numpy trusts the header: a damaged one can ask for a negative or huge shape
    (an ``OverflowError``, or a map beyond the file) or a dtype it cannot parse.
    This checks it is a numeric, C-ordered array whose data is exactly what the
    rest of the file holds.

    Returns
    -------
    shape : tuple of int
    dtype : np.dtype
    offset : int
        Where the data starts.

    Raises
    ------
    ValueError
        One line naming what is wrong.
    """
    with open(path, "rb") as fh:
        return _checked_header(fh, os.fstat(fh.fileno()).st_size)


def _checked_header(fh, size: int, kinds: str = "biuf") -> tuple[tuple, np.dtype, int]:
    """:func:`check_npy`'s checks on an open stream of ``size`` bytes, positioned at the magic string."""
    fmt = np.lib.format
    try:
        start = fh.tell()
        version = fmt.read_magic(fh)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell() - start
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, TypeError...
        raise ValueError(f"damaged .npy header ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})") \
            from None
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"damaged .npy header (shape {shape!r})")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"dtype {dtype}: expected numbers")
    if fortran and len(shape) > 1:
        raise ValueError("Fortran-ordered array (expected C order)")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size - offset != need:
        raise ValueError(f"the header says {shape} {dtype} ({need} bytes of data) but the file holds "
                         f"{size - offset} (truncated or damaged)")
    return tuple(shape), dtype, offset


MAX_NPZ_MEMBER_BYTES = 1 << 30
"""An ``.npz`` member is decompressed into memory: 1 GiB is 14 h of 70-point float32 frames at 25 fps (a longer
track belongs in a memory-mapped ``.npy``); beyond it a declared size is a damaged file or a zip bomb."""


def read_npz(path, names=None, max_bytes: int = MAX_NPZ_MEMBER_BYTES, kinds: str = "biuf") -> dict:
    """The numeric arrays of an ``.npz``, each checked before it is allocated.

    ``np.load`` trusts a member's header (a declared (1e8, 70, 3) over 60 frames asks for GBs) and inflates a zip
    bomb whole. Here every member's header is validated as :func:`check_npy` does, against the size the archive
    declares for it, and that size is bounded before anything is read.

    Parameters
    ----------
    path : path of the ``.npz``
    names : iterable of str, optional
        Member names (without ``.npy``) to read; default all.
    max_bytes : int
        Largest uncompressed member accepted.
    kinds : str
        dtype kinds accepted (numbers by default; ``"U"`` adds text, never objects).

    Returns
    -------
    dict of str -> np.ndarray

    Raises
    ------
    ValueError
        One line naming the member and what is wrong (also for a damaged archive).
    """
    import zipfile

    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if names is not None and name not in names:
                    continue
                if info.file_size > max_bytes:
                    raise ValueError(f"member {name!r} is {info.file_size / 2 ** 30:.1f} GiB uncompressed "
                                     f"(at most {max_bytes / 2 ** 30:.0f} GiB; save a long track as .npy)")
                with zf.open(info) as member:
                    try:
                        shape, dtype, _ = _checked_header(member, info.file_size, kinds)
                    except ValueError as e:
                        raise ValueError(f"member {name!r}: {e}") from None
                    arr = np.empty(shape, dtype)
                    view = memoryview(arr.reshape(-1).view(np.uint8))
                    got = 0
                    while got < len(view):  # into the array itself: no second copy of a large member
                        n = member.readinto(view[got:got + (16 << 20)])
                        if not n:
                            raise ValueError(f"member {name!r} is truncated")
                        got += n
                out[name] = arr
    except zipfile.BadZipFile as e:
        raise ValueError(f"damaged .npz ({e})") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as e:
        raise ValueError(f"unreadable .npz ({type(e).__name__}: {str(e)[:80]})") from None
    return out


def load_npy(path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` of a ``.npy`` whose header :func:`check_npy` has validated first (no pickles)."""
    check_npy(path)
    return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)


def write_npz(fh, **arrays) -> None:
    """Write arrays as an uncompressed ``.npz`` whose bytes depend on the arrays alone.

    ``np.savez`` stamps every member with the current time, so the same model
    saved twice has two checksums; a database's files must not (an in-process
    and a distributed build of the same recordings are checked to be equal).

    Parameters
    ----------
    fh : binary file object, open for writing
    **arrays : np.ndarray
        Written in sorted order of their names, each as ``NAME.npy``.
    """
    import zipfile

    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)
