"""The temporary folders a killed run leaves beside its target: marked while written, removed by the next writer.

:func:`sketchsynth.io.storage.atomic_directory` writes a target into a sibling ``.<name>.tmp-<pid>-<random>``
(and moves a replaced one aside as ``.<name>.old-...``); a run killed meanwhile leaves it there. Each such
folder holds :data:`TEMP_MARKER` naming it, so the next writer (holding the target's lock) removes exactly those
and nothing of the user's. The marker is written before anything else goes in, is the last thing removed
(:func:`remove_temp`), and a replaced target is marked before it is moved aside: a kill at any moment leaves
either a marked folder or an empty one of the exact name (both removed by the next writer).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path


TEMP_MARKER = ".sketchsynth-tmp"
"""Inside every temporary folder: the name it has (or, in a target about to be moved aside, will have). Removed
from a new target after its rename into place. A folder a killed run left is recognised by it, or by being empty,
never by a name pattern alone."""


def mark_temp(folder: Path, name: str | None = None) -> None:
    """Write the marker naming ``name`` (default the folder's own) into ``folder``."""
    (folder / TEMP_MARKER).write_bytes(os.fsencode(name or folder.name))  # names need not be UTF-8


def remove_temp(folder: Path) -> None:
    """Remove a marked temporary folder, its marker last (a kill meanwhile leaves it marked, or empty)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == TEMP_MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.unlink(folder / TEMP_MARKER)
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def remove_stale_siblings(target: Path) -> list[str]:
    """Remove the temporary folders killed runs left beside ``target`` (call under the lock).

    Only a folder that sketchsynth created is removed: its name has exactly the form sketchsynth gives
    (``.<name>.tmp-<pid>-<8 hex>``), it holds :data:`TEMP_MARKER` naming it or nothing at all, and the process
    that made it is gone. Anything else beside the target is the user's and stays.
    """
    form = re.compile(re.escape(f".{target.name}.") + r"(?:tmp|old)-(\d{1,10})-[0-9a-f]{8}")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        m = form.fullmatch(name)
        p = target.parent / name
        if m is None or p.is_symlink() or not p.is_dir() or _alive(int(m.group(1))):
            continue
        try:
            if not any(os.scandir(p)):  # killed between its mkdir and its marker, or after its last file
                os.rmdir(p)
                removed.append(name)
                continue
            if (p / TEMP_MARKER).is_symlink() or (p / TEMP_MARKER).read_bytes() != os.fsencode(name):
                continue
        except OSError:
            continue
        remove_temp(p)
        removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
