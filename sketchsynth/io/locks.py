"""The lock beside a target folder: one sketchsynth process writes a target at a time."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from pathlib import Path

from ..errors import DatabaseError


_held_locks: dict[str, int] = {}


def real_path(path: str | os.PathLike) -> Path:
    """The real path of ``path``: every symlink resolved, the last component's too."""
    return Path(os.path.realpath(os.path.abspath(path)))


def real_target(target: str | os.PathLike) -> Path:
    """``target`` with its parent folder's real path, the last component kept as given (it may be a symlink)."""
    target = Path(os.path.abspath(target))
    return Path(os.path.realpath(target.parent)) / target.name


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def target_lock(target: str | os.PathLike, error=DatabaseError):
    """Hold an exclusive lock on ``target`` (re-entrant within this process).

    The lock is ``.NAME.lock`` beside ``target``, keyed on the real path of the
    folder holding it (two spellings of one folder share one lock). It is opened
    without following a symlink and must be a regular file; nothing is written
    to it before the lock is held.

    Raises
    ------
    DatabaseError
        Another process holds the lock, or something other than a lock file sketchsynth made sits where the
        lock file goes.
    """
    try:
        target = real_target(target)
        made = [p for p in [target.parent, *target.parent.parents] if not os.path.lexists(p)]
        target.parent.mkdir(parents=True, exist_ok=True)
        target = real_target(target)  # the parent exists now: resolve it for real
    except OSError as e:
        raise error(f"cannot create the folder for it ({e.strerror})", target) from None
    key = os.fspath(target)
    if key in _held_locks:
        yield
        return
    lock = _lock_path(target)
    fd = _acquire(lock, target, error)
    _held_locks[key] = fd
    try:
        with contextlib.suppress(OSError):  # the pid is only informative
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        del _held_locks[key]
        # Removed while still held: a process that opened this file meanwhile finds, once it gets the lock, that
        # the path no longer leads to it, and starts again with a new file (see _acquire).
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
        for folder in made:  # the folders this call made for the target, if nothing ended up in them
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _acquire(lock: Path, target, error) -> int:
    """Open ``lock`` (never through a link) and take its flock; the descriptor."""
    import fcntl
    import stat

    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | \
        getattr(os, "O_NONBLOCK", 0)
    for _ in range(100):
        try:
            fd = os.open(lock, flags, 0o644)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(lock):
                raise error("the lock file is a symbolic link (not made by sketchsynth); refusing to use it: "
                            "choose another target folder", lock) from None
            raise error(f"cannot create lock file ({e.strerror})", lock) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise error("the lock file is not a regular file (not made by sketchsynth); refusing to use it: "
                            "choose another target folder", lock)
            if st.st_size and not re.fullmatch(rb"[0-9]{1,10}\n?", os.pread(fd, 32, 0)):
                # sketchsynth's lock files hold a process id at most: this one is somebody's file
                raise error("a file sketchsynth did not make has the lock file's name; it is left alone: move it, "
                            "or choose another target folder", lock)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise error("another sketchsynth process is writing here (lock file "
                            f"{lock.name}); wait for it to finish", target) from None
            try:
                now = os.stat(lock, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed it as we opened it: take the new one
    raise error("the lock file keeps changing; another process is writing here", target)


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
