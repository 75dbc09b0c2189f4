"""Opening a database folder: the manifest checked, every file verified, the arrays mapped or read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import DatabaseError, ParameterError
from ..io.small_files import NotSmallFile, read_small_file
from ..io.storage import sha256_file
from ..layout import N_POINTS
from .format import ATTACHED_FILES, DATA_FILES, FORMAT, FORMAT_VERSION, READABLE_VERSIONS
from .frame_table import FrameTable
from .manifest import manifest_problem
from .normalize import Normalizer


MAX_MANIFEST_BYTES = 64 << 20  # a manifest lists recordings, not frames: far below this


def open_database(cls, path, verify: str, in_memory: bool, index=None):
    """Open a database folder as ``cls`` (:meth:`FrameDatabase.load`); ``index``, when given, is used instead of
    rebuilding the flat index (a build's own).
    """
    path = Path(path)
    from ..errors import printable

    # Advice for a damaged database sketchsynth wrote (its manifest is there: --force may replace it).
    rebuild = "rebuild it with: sketchsynth build-db RECORDINGS --db " + printable(path) + " --force"
    # A folder without sketchsynth's manifest may hold the user's files: never advise --force there.
    elsewhere = "this is not a sketchsynth database; build one into a new folder: sketchsynth build-db " \
                "RECORDINGS --db NEW_FOLDER"
    mpath = path / "manifest.json"
    if not path.is_dir():
        raise DatabaseError("no database here (build one with: sketchsynth build-db RECORDINGS --db "
                            f"{printable(path)})", path)
    try:
        man = json.loads(read_small_file(mpath, MAX_MANIFEST_BYTES))
    except FileNotFoundError:
        raise DatabaseError(f"manifest.json is missing: {elsewhere}", path) from None
    except NotSmallFile as e:
        raise DatabaseError(f"manifest.json is {e}: {elsewhere}", path) from None
    except RecursionError:  # nested beyond any manifest's depth
        raise DatabaseError(f"manifest.json is unreadable (nested too deep): {elsewhere}", path) from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DatabaseError(f"manifest.json is unreadable ({str(e)[:80]}): {elsewhere}", path) from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise DatabaseError(f"not a sketchsynth database manifest: {elsewhere}", mpath)
    if man.get("format_version") not in READABLE_VERSIONS:
        raise DatabaseError(f"database format version {man.get('format_version')} (this sketchsynth "
                            f"{__version__} reads version {FORMAT_VERSION}); {rebuild}", path)
    files = man.get("files")
    from .sound import AUDIO_FILES, open_audio

    allowed = set(DATA_FILES) | set(AUDIO_FILES) | set(ATTACHED_FILES)
    if not isinstance(files, dict) or not set(DATA_FILES) <= set(files) or not set(files) <= allowed:
        names = sorted(map(str, files)) if isinstance(files, dict) else type(files).__name__
        for name in files if isinstance(files, dict) else ():
            if os.path.basename(str(name)) != name or name in ("", ".", ".."):
                raise DatabaseError(f"manifest points outside the database folder ({name!r}); {rebuild}",
                                    mpath)
        raise DatabaseError(f"manifest lists files {names}, expected {list(DATA_FILES)} (and optionally "
                            f"{list(AUDIO_FILES) + list(ATTACHED_FILES)}); {rebuild}", mpath)
    problem = manifest_problem(man)
    if problem is not None:
        raise DatabaseError(f"manifest.json is damaged: {problem}; {rebuild}", mpath)
    for name, meta in files.items():
        if (path / name).is_symlink():  # a database's files are its own: a link may point anywhere
            raise DatabaseError(f"{name} is a symbolic link, not a file of this database; {rebuild}", path)
        if name in ATTACHED_FILES:
            continue  # checked by whoever loads it: its damage names its own fix, not a rebuild
        f = path / name
        if not f.is_file():
            raise DatabaseError(f"{name} is missing; {rebuild}", path)
        if verify in ("size", "sha256") and f.stat().st_size != meta.get("bytes"):
            raise DatabaseError(f"{name} has {f.stat().st_size} bytes, manifest says {meta.get('bytes')} "
                                f"(truncated or replaced); {rebuild}", path)
        if verify == "sha256" and sha256_file(f) != meta.get("sha256"):
            raise DatabaseError(f"{name} fails its sha256 check (corrupt); {rebuild}", path)
    def read(name, fn):
        try:
            return fn(path / name)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise DatabaseError(f"{name} is unreadable ({str(e).splitlines()[0][:80]}); {rebuild}",
                                path) from None

    mode = None if in_memory else "r"
    from ..io.npy import load_npy

    keypoints = read("keypoints.npy", lambda f: np.asarray(load_npy(f, mmap_mode=mode)))
    normalized = read("normalized.npy", lambda f: np.asarray(load_npy(f, mmap_mode=mode)))
    transforms = read("transforms.npy", lambda f: np.asarray(load_npy(f, mmap_mode=mode)))
    dtypes = {"keypoints.npy": (keypoints, np.float32), "normalized.npy": (normalized, np.float32),
              "transforms.npy": (transforms, np.float64)}
    for name, (arr, want) in dtypes.items():
        if arr.dtype != want:
            raise DatabaseError(f"{name} holds {arr.dtype}, expected {np.dtype(want)}; {rebuild}", path)
    table = read("frames.parquet", FrameTable.read)
    # The flat index.faiss is never handed to FAISS: a same-size corruption of it could crash the
    # process (FAISS trusts its own format). It is rebuilt from normalized.npy instead, which is
    # faster than checksumming the file and deserializing it (72 vs 111 ms on 75,120 frames). A
    # compressed index cannot be rebuilt cheaply: its bytes are crc32-checked before FAISS sees them.
    from .indexes import index_kind, read_index

    if index is None and index_kind(man) != "flat":
        index = read_index(path, man, rebuild)
    try:
        params = man["params"]
        norm = params["normalization"]
        normalizer = Normalizer(norm["mode"], tuple(norm["anchors"]), tuple(norm["stable_points"]),
                                norm.get("max_condition", 8.0))
        normalizer.check()
        normalizer.set_etalon(np.asarray(man["etalon"]["points"], np.float64))
        n = int(man["counts"]["frames"])
    except (ValueError, KeyError, TypeError, ParameterError) as e:
        raise DatabaseError(f"manifest.json is incomplete ({str(e)[:60]}); {rebuild}", path) from None
    shapes = {"keypoints.npy": (keypoints.shape, (n, N_POINTS, 3)),
              "normalized.npy": (normalized.shape, (n, N_POINTS, 2)),
              "transforms.npy": (transforms.shape, (n, 2, 3))}
    for name, (got, want) in shapes.items():
        if got != want:
            raise DatabaseError(f"{name} has shape {got}, expected {want}; {rebuild}", path)
    if len(table) != n or (index is not None and index.ntotal != man["counts"]["usable"]):
        raise DatabaseError(f"frame table or index does not match the manifest's counts; {rebuild}", path)
    table_problem = table.problem(man["counts"]["usable"])
    if table_problem is not None:
        raise DatabaseError(f"frames.parquet is damaged: {table_problem}; {rebuild}", path)
    db = cls(weights=params["weights"], mode=norm["mode"], anchors=tuple(norm["anchors"]),
             stable_points=tuple(norm["stable_points"]), anchor_min_confidence=params["anchor_min_confidence"],
             max_gap=params["max_gap"], person=params["person"],
             track_filter=params.get("track_filter", "none"),
             features=((man.get("audio") or {}).get("features") or {}).get("name", "log-mel"))
    db.path_ = Path(os.path.abspath(path))
    db.set_state(keypoints, normalized, transforms, table, np.asarray(params["weights"], np.float32),
                  normalizer, man["recordings"], index)
    db.index_info_ = dict(man.get("index") or {"kind": "flat"})
    db.etalon_row_ = int(man["etalon"].get("row", -1))
    db.manifest_ = man
    db.path_ = Path(os.path.abspath(path))
    db.audio_ = open_audio(path, man, in_memory, read)
    # an in-memory database outlives its folder: keep the attached files for whoever loads them
    db.attached_ = {name: (path / name).read_bytes() for name in ATTACHED_FILES
                    if in_memory and name in files and (path / name).is_file()}
    return db
