"""Crash-safe directory writes: a lock beside the target, a temporary sibling, one rename.

A database or an output folder is written into ``.<name>.tmp-<pid>-<random>``
next to its final place and renamed into place only when complete, so a killed
run never leaves a half-written target. Replacing an existing folder swaps the
two atomically where the kernel can (Linux ``renameat2(RENAME_EXCHANGE)``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import secrets
import shutil
from pathlib import Path

from .errors import DatabaseError, SketchSynthError

_held_locks: dict[str, int] = {}


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def target_lock(target: str | os.PathLike, error=DatabaseError):
    """Hold an exclusive lock on ``target`` (re-entrant within this process).

    Raises
    ------
    DatabaseError
        Another process holds the lock.
    """
    import fcntl

    target = Path(os.path.abspath(target))
    key = os.fspath(target)
    if key in _held_locks:
        yield
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(target), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise error(f"cannot create lock file ({e.strerror})", _lock_path(target)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise error("another sketchsynth process is writing here (lock file "
                    f"{_lock_path(target).name}); wait for it to finish", target) from None
    _held_locks[key] = fd
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        del _held_locks[key]
        os.close(fd)  # releases the flock; the file itself stays (removing it races other lockers)


def close_inherited_locks():
    """In a forked worker: drop the copies of the parent's lock descriptors.

    A lock belongs to its open file description; a worker that kept a copy would
    hold the parent's lock after the parent was killed. Pass this as the
    ``initializer`` of every process pool.
    """
    for fd in _held_locks.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_locks.clear()


def remove_stale_siblings(target: Path) -> list[str]:
    """Delete temporary folders that killed runs left beside ``target`` (call under the lock)."""
    removed = []
    for prefix in (f".{target.name}.tmp-", f".{target.name}.old-"):
        for p in target.parent.glob(prefix + "*"):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _rename_exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux >= 3.15); False when unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or filesystem without it
        return False
    raise OSError(err, os.strerror(err), b)


def _fsync_dir(path: Path):
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, force: bool = False, error=DatabaseError, what="database"):
    """Yield a temporary directory that becomes ``target`` when the block succeeds.

    Parameters
    ----------
    target : path
    force : bool
        Replace an existing ``target``; otherwise an existing one is an error.
    error : type
        Exception class for user-facing problems.

    Raises
    ------
    SketchSynthError
        ``target`` exists and ``force`` is False, or it cannot be written.
    """
    target = Path(os.path.abspath(target))
    with target_lock(target, error=error):
        if target.exists() and not force:
            raise error(f"{what} exists; add --force to replace it", target)
        if target.exists() and not target.is_dir():
            raise error("exists and is not a folder; remove it or choose another path", target)
        remove_stale_siblings(target)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir(parents=True)
        except OSError as e:
            raise error(f"cannot write here ({e.strerror})", target.parent) from None
        try:
            yield tmp
            for f in tmp.iterdir():  # data on disk before the rename makes it visible
                if f.is_file():
                    with open(f, "rb") as fh:
                        os.fsync(fh.fileno())
            if target.exists():
                if _rename_exchange(os.fspath(tmp), os.fspath(target)):
                    shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old one
                else:
                    old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
                    os.rename(target, old)
                    os.rename(tmp, target)
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, target)
            _fsync_dir(target.parent)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, OSError) and not isinstance(e, SketchSynthError):
                raise error(f"writing failed ({e.strerror or e}); nothing was replaced", target) from None
            raise


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
