"""Reading a small file someone else may have put in place: only a regular file, never more than a limit.

A FIFO would block forever, ``/dev/zero`` or a sparse file of gigabytes would be read whole: a manifest, a
frame-rate sidecar or a list of names is checked before it is read.
"""

from __future__ import annotations

import os
import stat


class NotSmallFile(OSError):
    """The path is not a regular file, or is larger than asked."""


def read_small_file(path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes.

    Raises
    ------
    FileNotFoundError
    NotSmallFile
        Not a regular file (a FIFO, a device, a folder), or longer than ``limit``.
    OSError
        It cannot be read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotSmallFile("not a regular file")
        if st.st_size > limit:
            raise NotSmallFile(f"larger than {limit:,} bytes")
        chunks, total = [], 0
        while total <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - total))
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > limit:
            raise NotSmallFile(f"larger than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
