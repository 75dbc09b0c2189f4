"""Crash-safe directory writes: a lock beside the target, a temporary sibling, one rename.

A database or an output folder is written into ``.<name>.tmp-<pid>-<random>``
next to its final place and renamed into place only when complete, so a killed
run never leaves a half-written target. Replacing an existing folder swaps the
two atomically where the kernel can (Linux ``renameat2(RENAME_EXCHANGE)``). The temporary folders a
killed run left are recognised and removed by :mod:`sketchsynth.io.leftovers`.
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

from ..errors import DatabaseError, InputError, SketchSynthError, write_failure
from .leftovers import TEMP_MARKER, mark_temp, remove_stale_siblings, remove_temp
from .locks import real_path, real_target, target_lock
from .ownership import KIND_NAMES, OUTPUT_MARKER, foreign_entries, write_output_marker, written_by_sketchsynth



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


def _relation(t: Path, q: Path) -> str | None:
    if t == q:
        return "is"
    if q in t.parents:
        return "lies inside"
    if t in q.parents:
        return "contains"
    return None


def _check_protected(target, protect, what, error, folder: bool):
    """Refuse a target that is, contains or lies inside a protected path (real paths, symlinks resolved)."""
    spellings = {real_target(target), real_path(target)}
    checks = [(p, label) for p, label in protect if p is not None]
    checks.append((os.getcwd(), "the current folder"))
    for p, label in checks:
        q = real_path(p)
        for t in spellings:
            rel = _relation(t, q)
            if rel is None or (label == "the current folder" and rel == "lies inside"):
                continue
            if label == "the current folder" and not folder:
                continue
            raise error(f"this {what} {rel} {label} ({display_path(q)}); sketchsynth never writes there, "
                        "even with --force: choose another path", target)


def _check_not_in_database(target, what, error) -> None:
    """Refuse a target inside a sketchsynth database: a database holds only what build-db and fit-speech wrote
    (an output there would break its checksums or be taken for one of its files)."""
    here = real_target(target).parent
    for folder in [here, *here.parents][:64]:
        if (folder / "manifest.json").is_file() and written_by_sketchsynth(folder) == "database":
            raise error(f"this {what} would lie inside the database {display_path(folder)}; sketchsynth never "
                        "writes outputs there, even with --force: choose another path", target)


def check_target(target: str | os.PathLike, force: bool = False, protect=(), kind: str = "database",
                 error=DatabaseError) -> None:
    """Refuse to write the folder ``target`` unless the ``--force`` rule allows it.

    Rule: a new folder may be written. An existing one is replaced only with
    ``force``, and only when it is empty or sketchsynth wrote it as the same
    kind (a database's manifest, an output's :data:`OUTPUT_MARKER`). A target
    that is, contains or lies inside a protected path (the inputs, the database
    being read), or is or contains the current folder, is always refused.

    Parameters
    ----------
    target : path
    force : bool
    protect : iterable of (path, label)
        Paths never to touch, e.g. ``[(recordings, "the recordings")]``.
    kind : {"database", "match", "evaluate", "track"}
    error : type

    Raises
    ------
    SketchSynthError
        One line saying why, never advising a command that would delete user data.
    """
    what = KIND_NAMES.get(kind, kind)
    _check_protected(target, protect, what, error, folder=True)
    _check_not_in_database(target, what, error)
    tgt = real_target(target)
    if os.path.islink(tgt):
        raise error("is a symbolic link; give the real folder path instead", target)
    if not os.path.lexists(tgt):
        return
    if not tgt.is_dir():
        raise error(f"exists and is not a folder; choose another path for the {what}", target)
    try:
        empty = not any(os.scandir(tgt))
    except OSError as e:
        raise error(f"cannot read the existing folder ({e.strerror}); choose another path", target) from None
    owner = written_by_sketchsynth(tgt)
    if not empty and owner is None:
        mark = "sketchsynth manifest.json" if kind == "database" else f"{OUTPUT_MARKER} marker"
        raise error(f"exists and holds files sketchsynth did not write (no {mark}); it is never replaced, "
                    f"even with --force: choose another path for the {what}", target)
    if not empty and owner != kind:
        raise error(f"exists and holds a sketchsynth {KIND_NAMES.get(owner, owner)}, not a {what}; it is not "
                    f"replaced: choose another path", target)
    if not force:
        raise error(f"{what} exists; add --force to replace it", target)
    foreign = foreign_entries(tgt, kind) if not empty else []
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise error(f"holds {foreign[0]!r}{more}, which sketchsynth did not write there; it is not replaced, even "
                    f"with --force: move {'them' if more else 'it'} out first, or choose another path", target)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, force: bool = False, error=DatabaseError, what="database",
                     kind: str | None = None, protect=()):
    """Yield a temporary directory that becomes ``target`` when the block succeeds.

    Parameters
    ----------
    target : path
    force : bool
        Replace an existing ``target`` (only what :func:`check_target` allows).
    error : type
        Exception class for user-facing problems.
    what : str
        Unused name kept for callers; the kind's name is used in messages.
    kind : {"database", "match", "evaluate", "track"}, optional
        What is written (default ``"database"``); output kinds get
        :data:`OUTPUT_MARKER` written into the folder.
    protect : iterable of (path, label)
        Paths the target must not be, contain or lie inside (see :func:`check_target`).

    Raises
    ------
    SketchSynthError
        ``target`` may not be written or replaced, or it cannot be written.
    """
    kind = kind or "database"
    check_target(target, force=force, protect=protect, kind=kind, error=error)  # before a lock file is made
    with target_lock(target, error=error):
        check_target(target, force=force, protect=protect, kind=kind, error=error)  # again, now it is ours
        target = real_target(target)
        remove_stale_siblings(target)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir(parents=True)
            mark_temp(tmp)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise error(f"cannot write here ({write_failure(e) or e.strerror})", target.parent) from None
        try:
            yield tmp
            if kind != "database":
                write_output_marker(tmp, kind, ignore=(TEMP_MARKER,))
            for f in tmp.iterdir():  # data on disk before the rename makes it visible
                if f.is_file():
                    with open(f, "rb") as fh:
                        os.fsync(fh.fileno())
            # The marker goes with the folder and is removed after the rename; the old target is marked, under
            # the name it will have, before it is moved aside. A run killed anywhere leaves marked temporary
            # folders (the next writer removes them), or a target holding a marker that names one of them
            # (ours: see ownership.foreign_entries).
            if target.exists():
                mark_temp(target, tmp.name)
                if _rename_exchange(os.fspath(tmp), os.fspath(target)):
                    aside = tmp  # now holds the old one
                else:
                    aside = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
                    mark_temp(target, aside.name)
                    os.rename(target, aside)
                    os.rename(tmp, target)
            else:
                aside = None
                os.rename(tmp, target)
            with contextlib.suppress(OSError):  # a marker left is recognised as ours
                (target / TEMP_MARKER).unlink()
            _fsync_dir(target.parent)
            if aside is not None:
                remove_temp(aside)
        except BaseException as e:
            remove_temp(tmp)
            if isinstance(e, OSError) and not isinstance(e, SketchSynthError):
                raise error(f"writing failed ({write_failure(e) or e.strerror or e}); nothing was replaced",
                            target) from None
            raise


def check_file_target(path: str | os.PathLike, force: bool = False, protect=(), what: str = "file",
                      error=InputError) -> Path:
    """Refuse to write the file ``path`` unless allowed: its folder exists, it is no folder, it is not (and
    does not lie inside) a protected path, and an existing file is overwritten only with ``force``."""
    p = real_target(path)
    _check_protected(path, protect, what, error, folder=False)
    _check_not_in_database(path, what, error)
    if not p.parent.is_dir():
        raise error(f"folder {display_path(p.parent)} does not exist; create it first or choose another path",
                    path)
    if p.is_dir():
        raise error(f"is a folder; give a file name for the {what}", path)
    if os.path.lexists(p) and not force:
        raise error(f"{what} exists; choose another name, or add --force to overwrite it", path)
    return p


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, force: bool = False, protect=(), what: str = "file", error=InputError):
    """Yield a temporary path beside ``path`` (same suffix) that replaces ``path`` when the block succeeds.

    The temporary file is ``.<stem>.tmp-<pid>-<random><suffix>`` in the same
    folder (so the rename is atomic, and writers that pick a format by suffix
    still do); it is removed when the block fails. See
    :func:`check_file_target` for what may be written.
    """
    p = check_file_target(path, force=force, protect=protect, what=what, error=error)
    tmp = p.parent / f".{p.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{p.suffix}"
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, SketchSynthError):
            raise error(f"writing failed ({write_failure(e) or e.strerror or e}); nothing was replaced",
                        path) from None
        raise


def exclusive_temp(folder: str | os.PathLike, name: str) -> Path:
    """A new empty file ``.<name>.tmp-<pid>-<random>`` in ``folder``, created exclusively and never through a
    symbolic link (O_EXCL | O_NOFOLLOW), for writing beside ``name`` and renaming over it."""
    folder = Path(folder)
    for _ in range(8):
        tmp = folder / f".{name}.tmp-{os.getpid()}-{secrets.token_hex(6)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {folder / name}")


def result_protect(result_dir: str | os.PathLike, input_path=None) -> list:
    """What writing figures of a match output must never overwrite: the files it is read from, and its input."""
    result_dir = Path(result_dir)
    files = ["selection.csv", "input_keypoints.npy", "matched_keypoints.npy", "summary.json", "videos.json",
             "sketch.mp4", "frames.mp4", "matched", OUTPUT_MARKER]
    out = [(result_dir / f, "a file of the match output") for f in files]
    if input_path:
        out.append((input_path, "the match's input"))
    return out


def display_path(path: str | os.PathLike) -> str:
    """A path for messages and JSON: undecodable bytes of a file name shown as backslash escapes."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
