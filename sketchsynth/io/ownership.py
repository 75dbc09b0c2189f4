"""What sketchsynth wrote: the marker in its output folders, and how a folder is recognised as its own."""

from __future__ import annotations

import os
from pathlib import Path

from .leftovers import TEMP_MARKER


OUTPUT_MARKER = ".sketchsynth-output"
"""A small JSON file, ``{"sketchsynth": {"kind": ..., "version": ..., "entries": [...]}}``, in every output
folder sketchsynth writes (match, evaluate, track): what ``--force`` may replace (the folder's entries as
written). A database is recognized by its manifest."""
DATABASE_EXTRA_FILES = ("manifest.json", "phones.parquet")
"""A database's files besides those its manifest lists: the manifest itself, and fit-phones' labels."""


DATABASE_FORMAT = "sketchsynth-frame-db"  # manifest.json's "format" (sketchsynth.database.build.FORMAT)


KIND_NAMES = {"database": "database", "match": "match output", "evaluate": "evaluation report",
               "track": "track output"}


def written_by_sketchsynth(folder: str | os.PathLike) -> str | None:
    """What sketchsynth wrote ``folder`` as: ``"database"``, an output kind (``"match"``...), or None.

    A database holds a manifest.json whose ``"format"`` is sketchsynth's; an
    output folder holds :data:`OUTPUT_MARKER`. Only these (or an empty folder)
    may be replaced with ``--force``.
    """
    import json

    folder = Path(folder)
    for name in ("manifest.json", OUTPUT_MARKER):
        f = folder / name
        try:
            if os.path.islink(f) or not f.is_file() or f.stat().st_size > 1 << 24:
                continue
            doc = json.loads(f.read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict):
            continue
        if name == "manifest.json" and doc.get("format") == DATABASE_FORMAT:
            return "database"
        mark = doc.get("sketchsynth")
        if name == OUTPUT_MARKER and isinstance(mark, dict) and isinstance(mark.get("kind"), str):
            return mark["kind"]
    return _legacy_output(folder)


def _legacy_output(folder: Path) -> str | None:
    """A match output or evaluation report written before the marker existed (sketchsynth 0.1), recognized by
    all of its own files. (A track output without the marker is never recognized: it looks exactly like a
    user's recording.)"""
    import json

    def has(*names):
        return all((folder / n).is_file() and not (folder / n).is_symlink() for n in names)

    try:
        if has("summary.json", "selection.csv", "input_keypoints.npy", "matched_keypoints.npy") and \
                (folder / "summary.json").stat().st_size < 1 << 24:
            doc = json.loads((folder / "summary.json").read_bytes())
            if isinstance(doc, dict) and {"input", "database", "metric", "matched_frames"} <= set(doc):
                return "match"
        if has("report.md", "report.json", "lmd_vs_jumps.png") and (folder / "report.json").stat().st_size < 1 << 24:
            doc = json.loads((folder / "report.json").read_bytes())
            if isinstance(doc, dict) and {"rows", "settings"} <= set(doc):
                return "evaluate"
    except (OSError, ValueError):
        return None
    return None


def write_output_marker(folder: str | os.PathLike, kind: str, ignore=()) -> None:
    """Mark ``folder`` as a sketchsynth output of ``kind`` (what ``--force`` may later replace), listing its
    entries but ``ignore``."""
    import json

    from .._version import __version__

    entries = sorted(set(os.listdir(folder)) - set(ignore)) + [OUTPUT_MARKER]
    (Path(folder) / OUTPUT_MARKER).write_text(json.dumps({"sketchsynth": {"kind": kind, "version": __version__,
                                                                          "entries": entries}}))


def own_entries(folder: str | os.PathLike) -> set[str]:
    """The entries an output folder's marker lists as sketchsynth's (empty when it has no readable marker)."""
    import json

    try:
        mark = json.loads((Path(folder) / OUTPUT_MARKER).read_bytes()).get("sketchsynth")
        listed = mark.get("entries") if isinstance(mark, dict) else None
    except (OSError, ValueError, AttributeError):
        return set()
    return {e for e in listed if isinstance(e, str)} if isinstance(listed, list) else set()


def may_rewrite(folder: str | os.PathLike, name: str) -> bool:
    """Whether sketchsynth may write ``name`` into the output folder ``folder`` without ``--force``: the folder
    is a sketchsynth output and ``name`` is absent or one of the entries it wrote there (a file the user saved
    into the folder is theirs)."""
    folder = Path(folder)
    kind = written_by_sketchsynth(folder)
    if kind is None or kind == "database":
        return False
    if not os.path.lexists(folder / name):
        return True
    own = own_entries(folder)
    return name in own if own else _legacy_output(folder) is not None


def record_entry(folder: str | os.PathLike, name: str) -> None:
    """Add ``name`` to the entries an output folder's marker lists (a figure ``plot`` wrote there is
    sketchsynth's: a later ``--force`` may replace it, and ``plot`` may rewrite it)."""
    import json
    import secrets

    folder = Path(folder)
    try:
        doc = json.loads((folder / OUTPUT_MARKER).read_bytes())
        mark = doc["sketchsynth"]
        entries = mark["entries"]
        if not isinstance(entries, list) or name in entries:
            return
    except (OSError, ValueError, KeyError, TypeError):
        return  # no marker listing entries: the folder counts as all sketchsynth's already
    mark["entries"] = sorted({e for e in entries if isinstance(e, str)} | {name})
    tmp = folder / f".{OUTPUT_MARKER}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(doc))
        os.replace(tmp, folder / OUTPUT_MARKER)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def foreign_entries(folder: str | os.PathLike, kind: str) -> list[str]:
    """Entries of a sketchsynth folder that sketchsynth did not write there (the user saved them since).

    A database's own are the files its manifest lists and :data:`DATABASE_EXTRA_FILES`; an output's, the
    entries its marker lists (an output written before markers listed entries counts as all its own).
    """
    import json

    folder = Path(folder)
    try:
        name = "manifest.json" if kind == "database" else OUTPUT_MARKER
        doc = json.loads((folder / name).read_bytes())
        present = set(os.listdir(folder))
    except (OSError, ValueError):
        return []
    if kind == "database":
        files = doc.get("files") if isinstance(doc, dict) else None
        own = set(files) if isinstance(files, dict) else set()
        own |= set(DATABASE_EXTRA_FILES)
    else:
        mark = doc.get("sketchsynth") if isinstance(doc, dict) else None
        listed = mark.get("entries") if isinstance(mark, dict) else None
        if not isinstance(listed, list):
            return []
        own = {e for e in listed if isinstance(e, str)}
    if _our_temp_marker(folder):
        own.add(TEMP_MARKER)
    return sorted(present - own)


def _our_temp_marker(folder: Path) -> bool:
    """Whether ``folder`` holds the marker naming one of its own temporary siblings (a run killed just after it
    was renamed into place, or just before it was to be moved aside)."""
    try:
        named = os.fsdecode((folder / TEMP_MARKER).read_bytes())
    except OSError:
        return False
    return named.startswith((f".{folder.name}.tmp-", f".{folder.name}.old-"))
