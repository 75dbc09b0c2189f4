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
    fmt = np.lib.format
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, TypeError...
        raise ValueError(f"damaged .npy header ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})") \
            from None
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"damaged .npy header (shape {shape!r})")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"dtype {dtype}: expected numbers")
    if fortran and len(shape) > 1:
        raise ValueError("Fortran-ordered array (expected C order)")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size - offset != need:
        raise ValueError(f"the header says {shape} {dtype} ({need} bytes of data) but the file holds "
                         f"{size - offset} (truncated or damaged)")
    return tuple(shape), dtype, offset


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
