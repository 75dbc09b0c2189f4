"""FrameDatabase: every recorded frame, normalized once, with a FAISS index.

On disk (see ``db/README.md``)::

    db/NAME/
      manifest.json     format version, parameters, etalon, counts, recordings, sha256 of each file
      keypoints.npy     (N, 70, 3) float32  raw x, y, confidence as read
      normalized.npy    (N, 70, 2) float32  normalized x, y (NaN for unusable frames)
      transforms.npy    (N, 2, 3) float64   each frame's image -> normalized map
      frames.parquet    one row per frame: recording, frame, time_s, source, usable, reason, ...
      index.faiss       IndexIDMap2(IndexFlatL2) over sqrt(w)-weighted normalized usable frames, or on
                        large databases a compressed IVF (manifest "index"; see sketchsynth.database.indexes)
      audio.npy, mel.npy, mel_index.npy   the recordings' sound and log-mel (when they have sound;
                        see :mod:`sketchsynth.database.sound`)
      speech_model.npz  the fitted voice-to-mouth model (:mod:`sketchsynth.targets.speech.model`)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from .build import DATA_FILES, FORMAT, FORMAT_VERSION, READABLE_VERSIONS
from ..defaults import DEFAULT_DB  # noqa: F401  (re-exported: the default of save/load)
from ..errors import DatabaseError, InputError, ParameterError
from .frame_table import FrameTable
from ..layout import DEFAULT_ANCHORS, DEFAULT_STABLE_POINTS, N_POINTS, default_weights, point_order_lips_first
from .manifest import manifest_problem  # noqa: F401  (re-exported)
from .normalize import Normalizer
from ..io.storage import atomic_directory, sha256_file

MAX_GAP = 1000  # frames interpolated across at most (33 s at 30 fps: longer is no gap, it is a missing take)
MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))  # threads and processes beyond this only cost memory
MAX_MANIFEST_BYTES = 64 << 20  # a manifest lists recordings, not frames: far below this


class FrameDatabase:
    """A speaker's recorded frames, normalized and indexed for matching.

    Parameters
    ----------
    weights : array of shape (70,), optional
        Point weights; default the method's (lips 10, eyes 2, others 1).
    mode : {"affine", "similarity"}
        Normalization (see :class:`sketchsynth.database.normalize.Normalizer`).
    anchors : tuple of 3 int
        Normalization anchors, OpenPose 0-based; default (35, 40, 46).
    stable_points : tuple of int
        Points of the similarity fit.
    anchor_min_confidence : float
        Frames with an anchor below this confidence are unusable.
    max_gap : int
        Points missing for at most this many consecutive frames are interpolated.
    person : {"largest", "first", "confident"} or int
        Which face to keep when a JSON file lists several people.
    fps : float, optional
        Frame rate of keypoint recordings without an ``fps.txt`` sidecar.
    n_workers : int, optional
        Threads reading JSON, processes tracking videos (default: CPU count).
    track_filter : {"none", "one-euro", "savgol"}
        Temporal filter against tracker jitter applied to each recording before
        normalization (see :func:`sketchsynth.sources.filters.filter_keypoints`);
        ``keypoints_`` stays as read.
    fit_gate : {"auto", "on", "off"}
        Mark frames whose landmarks fail the fit gate unusable
        (:func:`sketchsynth.database.quality.fit_gate`); ``auto``: every test for recordings tracked
        from video, the low-confidence test for keypoint recordings.

    Attributes
    ----------
    keypoints_ : np.ndarray, shape (n_frames, 70, 3), float32
    normalized_ : np.ndarray, shape (n_frames, 70, 2), float32
    transforms_ : np.ndarray, shape (n_frames, 2, 3), float64
    table_ : FrameTable
        The frame table, one row per frame, as numpy columns (:mod:`sketchsynth.database.frame_table`).
    frames_ : pandas.DataFrame
        The same as a DataFrame (made on first use: pandas is imported only then).
    usable_rows_ : np.ndarray, shape (n_usable,), int64
    successor_ : np.ndarray, shape (n_frames,), int64
        Row of the next frame of the same recording (-1 at a recording's end or
        a hole in its frame numbers).
    weights_ : np.ndarray, shape (70,), float32
    normalizer_ : Normalizer
    index_ : faiss.Index
        Flat (exact), or compressed (IVF-PQ / IVF-SQ8) on large databases.
    index_info_ : dict
        What ``index_`` is: ``{"kind": "flat"}`` or the compressed index's parameters
        (:func:`sketchsynth.database.indexes.compressed_params`), as in the manifest.
    recordings_ : list of dict
    """

    def __init__(self, weights=None, mode: str = "affine", anchors=DEFAULT_ANCHORS,
                 stable_points=DEFAULT_STABLE_POINTS, anchor_min_confidence: float = 0.2, max_gap: int = 3,
                 person="largest", fps: float | None = None, n_workers: int | None = None,
                 track_filter: str = "none", fit_gate: str = "auto", index: str = "auto"):
        self.weights = weights
        self.mode = mode
        self.anchors = anchors
        self.stable_points = stable_points
        self.anchor_min_confidence = anchor_min_confidence
        self.max_gap = max_gap
        self.person = person
        self.fps = fps
        self.n_workers = n_workers
        self.track_filter = track_filter
        self.fit_gate = fit_gate
        self.index = index

    def __repr__(self):
        p = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"FrameDatabase({p})"

    def get_params(self) -> dict:
        return {"weights": None if self.weights is None else list(map(float, self.weights)), "mode": self.mode,
                "anchors": list(self.anchors), "stable_points": list(self.stable_points),
                "anchor_min_confidence": self.anchor_min_confidence, "max_gap": self.max_gap,
                "person": self.person, "fps": self.fps, "n_workers": self.n_workers,
                "track_filter": self.track_filter, "index": self.index}

    # ------------------------------------------------------------------ build
    def _check_params(self):
        w = default_weights() if self.weights is None else np.asarray(self.weights, dtype=np.float32)
        if w.shape != (N_POINTS,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ParameterError(f"weights must be {N_POINTS} non-negative numbers, not all zero")
        if not 0 <= self.anchor_min_confidence <= 1:
            raise ParameterError(f"anchor_min_confidence must be within 0-1, got {self.anchor_min_confidence}")
        if int(self.max_gap) != self.max_gap or not 0 <= self.max_gap <= MAX_GAP:
            # The build reads chunks with max_gap frames of context: an unbounded gap is unbounded memory.
            raise ParameterError(f"max_gap must be a whole number within 0-{MAX_GAP} frames, got {self.max_gap}")
        if self.n_workers is not None and (int(self.n_workers) != self.n_workers
                                           or not 1 <= self.n_workers <= MAX_WORKERS):
            raise ParameterError(f"--workers must be a whole number within 1-{MAX_WORKERS}, got {self.n_workers}")
        from ..sources.filters import METHODS

        if self.track_filter not in METHODS:
            raise ParameterError(f"--filter must be one of {', '.join(METHODS)}, got {self.track_filter!r}")
        from .indexes import check_index_kind

        check_index_kind(self.index)
        return w

    def build(self, source, progress: bool = False, video_options: dict | None = None, path=None,
              force: bool = False, protect=(), scheduler: str | None = None) -> "FrameDatabase":
        """Read recordings, assess and normalize every frame, and index the usable ones.

        The build streams: frames are read, assessed and normalized a chunk at a
        time into a folder (see :mod:`sketchsynth.database.build`), so memory stays bounded
        by the chunk size and the FAISS index, whatever the recordings' length.

        Parameters
        ----------
        source : path or list of Track
            A recording or a folder of recordings (see
            :func:`sketchsynth.sources.recordings.discover`), or tracks already read.
        progress : bool
            Show progress bars.
        video_options : dict, optional
            For video recordings: :func:`sketchsynth.sources.tracker.track_video_recording`
            options (``detect_every``, ``jitter_filter``...).
        path : path, optional
            Write the database there (atomically, as :meth:`save` does) and
            memory-map it; by default it is built in a temporary folder and held
            in memory.
        force : bool
            With ``path``: replace an existing database (only one sketchsynth
            wrote, see :func:`sketchsynth.io.storage.check_target`).
        protect : iterable of (path, label)
            More paths ``path`` must not be, contain or lie inside (the
            recordings given as ``source`` always are).
        scheduler : str, optional
            Read and track the recordings on a Dask cluster (``tcp://HOST:PORT``
            or ``local:N``; :mod:`sketchsynth.sources.distributed`); the database
            is the same as an in-process build's.

        Returns
        -------
        self
        """
        import shutil
        import tempfile

        from .build import build_database
        from ..sources.readers import open_readers, reader_from_track
        from ..sources.recordings import Track, discover
        from ..io.storage import atomic_directory

        w = self._check_params()
        normalizer = Normalizer(self.mode, self.anchors, self.stable_points)
        normalizer._check()
        if isinstance(source, (list, tuple)) and all(isinstance(t, Track) for t in source):
            readers = [reader_from_track(t) for t in source]
            self.source_ = None
        else:
            self.source_ = os.fspath(source)
            if scheduler is not None:
                from ..sources.distributed import read_on_cluster

                readers = [reader_from_track(t) for t in read_on_cluster(
                    discover(source), scheduler, fps=self.fps, person=self.person, n_threads=self.n_workers,
                    video_options=video_options, progress=progress)]
            else:
                readers = open_readers(discover(source), fps=self.fps, n_workers=self.n_workers,
                                       progress=progress, video_options=video_options)
        if not readers or sum(r.n_frames for r in readers) == 0:
            raise InputError("no frames in the recordings", self.source_)

        def write(folder):
            """Build into ``folder``; returns the FAISS index built (the same as index.faiss, not read back)."""
            try:
                index = build_database(readers, folder, w, normalizer, self.anchor_min_confidence, self.max_gap,
                                       person=self.person, n_workers=self.n_workers, progress=progress,
                                       track_filter=self.track_filter, return_index=True,
                                       fit_gate=self.fit_gate, index=self.index)[1]
                self._add_speech(folder, readers, index, progress)
                return index
            except InputError as e:
                if e.path is None and self.source_ is not None:
                    raise InputError(e.message, self.source_) from None
                raise

        if path is not None:
            protect = [*protect, (self.source_, "the recordings")]
            with atomic_directory(path, force=force, error=DatabaseError, kind="database", protect=protect) as tmp:
                index = write(tmp)
            self._adopt(FrameDatabase._open(path, verify="none", in_memory=False, index=index))
        else:
            tmp = tempfile.mkdtemp(prefix="sketchsynth-db-")
            try:
                index = write(tmp)
                self._adopt(FrameDatabase._open(tmp, verify="none", in_memory=True, index=index))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            del self.path_
        return self

    def _add_speech(self, folder, readers, index, progress: bool):
        """Keep the recordings' sound and fit the speech model when there is any (no flag: see speech_db)."""
        from .sound import add_audio

        section = add_audio(folder, readers, progress=progress)
        if section["with_audio"]:
            from ..targets.speech.model import fit_into

            fit_into(FrameDatabase._open(folder, verify="none", in_memory=False, index=index), folder)

    def _adopt(self, other: "FrameDatabase"):
        """Take the fitted state of a database just written and loaded."""
        for k, v in other.__dict__.items():
            if k.endswith("_") or k.startswith("_"):
                setattr(self, k, v)

    def _set_state(self, keypoints, normalized, transforms, table, weights, normalizer, recordings, index):
        from .index_vectors import build_index, weighted_vectors

        self.keypoints_ = keypoints
        self.normalized_ = np.ascontiguousarray(normalized, dtype=np.float32)
        self.transforms_ = transforms
        self.table_ = table
        self._frames_df = None
        self.weights_ = np.asarray(weights, dtype=np.float32)
        self.normalizer_ = normalizer
        self.recordings_ = recordings
        self.usable_rows_ = np.flatnonzero(table["usable"]).astype(np.int64)
        self.n_usable_ = int(len(self.usable_rows_))
        self.point_order_ = point_order_lips_first(self.weights_)
        codes = table.codes
        fr = table["frame"]
        nxt = np.arange(1, len(table) + 1, dtype=np.int64)
        cont = np.zeros(len(table), dtype=bool)
        cont[:-1] = (codes[1:] == codes[:-1]) & (fr[1:] == fr[:-1] + 1)
        self.successor_ = np.where(cont, nxt, -1)
        self._usable_vectors = None
        self._usable_perm = None
        self.index_info_ = {"kind": "flat"}
        if index is None:
            u = self.usable_rows_
            # every frame usable (the common case): no copy of the rows before weighting them
            frames = self.normalized_ if len(u) == len(self.normalized_) else self.normalized_[u]
            self._usable_vectors = weighted_vectors(frames, self.weights_)
            if not np.isfinite(self._usable_vectors).all():
                raise DatabaseError("normalized.npy holds non-finite points in usable frames (corrupt); rebuild "
                                    "the database with build-db --force", getattr(self, "path_", None))
            index = build_index(self._usable_vectors, self.usable_rows_)
        self.index_ = index

    def check_settings(self, weights=None, mode: str | None = None, anchors=None) -> None:
        """Fail unless this database was built with the settings a query expects.

        Parameters
        ----------
        weights : array of shape (70,), optional
        mode : {"affine", "similarity"}, optional
        anchors : tuple of 3 int, optional
            None leaves a setting unchecked.

        Raises
        ------
        DatabaseError
            Naming what differs and how to fix it.
        """
        from ..layout import describe_weights

        where = getattr(self, "path_", None)
        if weights is not None:
            want = np.asarray(weights, dtype=np.float32)
            if want.shape != self.weights_.shape or not np.allclose(want, self.weights_, rtol=1e-6, atol=0):
                raise DatabaseError(f"built with weights {describe_weights(self.weights_)}, but "
                                    f"{describe_weights(want)} were expected; rebuild it with those weights "
                                    "or match against a database that has them", where)
        if mode is not None and mode != self.normalizer_.mode:
            raise DatabaseError(f"built with {self.normalizer_.mode} normalization, but {mode} was expected; "
                                f"rebuild it with build-db --mode {mode}", where)
        if anchors is not None and tuple(anchors) != tuple(self.normalizer_.anchors):
            raise DatabaseError(f"built with normalization anchors {list(self.normalizer_.anchors)}, but "
                                f"{list(anchors)} were expected; rebuild it with build-db --anchors "
                                f"{','.join(map(str, anchors))}", where)

    @property
    def n_frames_(self) -> int:
        return len(self.table_)

    @property
    def frames_(self):
        """The frame table as a pandas DataFrame (``recording`` categorical), made on first use."""
        if getattr(self, "_frames_df", None) is None:
            self._frames_df = self.table_.to_pandas()
        return self._frames_df

    def usable_vectors(self) -> np.ndarray:
        """Usable frames in FAISS space, shape (n_usable, 140), float32 (cached)."""
        from .index_vectors import weighted_vectors

        if self._usable_vectors is None:
            u = self.usable_rows_
            # every frame usable (the common case): no copy of the rows before weighting them
            frames = self.normalized_ if len(u) == len(self.normalized_) else self.normalized_[u]
            self._usable_vectors = weighted_vectors(frames, self.weights_)
        return self._usable_vectors

    def usable_permuted(self) -> np.ndarray:
        """Usable normalized frames with points heaviest first, shape (n_usable, 70, 2) (cached)."""
        if self._usable_perm is None:
            self._usable_perm = np.ascontiguousarray(self.normalized_[self.usable_rows_][:, self.point_order_])
        return self._usable_perm

    def normalize(self, keypoints: np.ndarray):
        """Normalize input frames the way this database's frames were.

        Parameters
        ----------
        keypoints : np.ndarray, shape (n_frames, 70, 3)

        Returns
        -------
        normalized : np.ndarray, shape (n_frames, 70, 2), float32
        matrices : np.ndarray, shape (n_frames, 2, 3), float64
        ok : np.ndarray, shape (n_frames,), bool
        """
        return self.normalizer_.transform(keypoints)

    # ------------------------------------------------------------------ disk
    def manifest(self, folder) -> dict:
        """The manifest for this database's data files already written in ``folder``."""
        from .build import make_manifest

        et_row = getattr(self, "etalon_row_", -1)
        et = {"row": int(et_row), "points": self.normalizer_.etalon_.tolist()}
        if et_row >= 0:
            et["recording"] = str(self.table_["recording"][et_row])
            et["frame"] = int(self.table_["frame"][et_row])
            et["anchor_spread_px"] = float(Normalizer.anchor_spread(self.keypoints_[et_row:et_row + 1],
                                                                     self.normalizer_.anchors)[0])
        counts = {"frames": int(self.n_frames_), "usable": int(self.n_usable_), "recordings": len(self.recordings_),
                  "unusable_by_reason": self.table_.unusable_by_reason(),
                  "filled_points": int(self.table_["filled_points"].sum())}
        return make_manifest(self.weights_, self.normalizer_, self.anchor_min_confidence, self.max_gap, self.person,
                             self.track_filter, et, counts, self.recordings_, folder, index_info=self.index_info_)

    def save(self, path: str | os.PathLike = DEFAULT_DB, force: bool = False, protect=()) -> Path:
        """Write the database atomically (temporary folder, then rename).

        Parameters
        ----------
        path : path
            Database folder (default ``db/default``).
        force : bool
            Replace an existing database (only one sketchsynth wrote).
        protect : iterable of (path, label)
            Paths ``path`` must not be, contain or lie inside.

        Returns
        -------
        pathlib.Path
        """
        import faiss

        if not hasattr(self, "table_"):
            raise RuntimeError("FrameDatabase is not built: call build() or load() first")
        # Its own path may be rewritten (a loaded database's arrays are mapped from files the swap keeps).
        protect = [*protect, (getattr(self, "source_", None), "the recordings")]
        with atomic_directory(path, force=force, error=DatabaseError, kind="database", protect=protect) as tmp:
            np.save(tmp / "keypoints.npy", np.ascontiguousarray(self.keypoints_, np.float32))
            np.save(tmp / "normalized.npy", self.normalized_)
            np.save(tmp / "transforms.npy", np.ascontiguousarray(self.transforms_, np.float64))
            table = self.frames_.copy()
            table.to_parquet(tmp / "frames.parquet", index=False)
            faiss.write_index(self.index_, os.fspath(tmp / "index.faiss"))
            (tmp / "manifest.json").write_text(json.dumps(self.manifest(tmp), indent=1))
        self.path_ = Path(os.path.abspath(path))
        return self.path_

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_DB, verify: str = "size", in_memory: bool = False
             ) -> "FrameDatabase":
        """Open a database written by :meth:`save`.

        Parameters
        ----------
        path : path
        verify : {"size", "sha256", "none"}
            Check every data file's size (fast, default) or full sha256 against
            the manifest.
        in_memory : bool
            Read the arrays into memory instead of memory-mapping them.

        Raises
        ------
        DatabaseError
            Missing, from another format version, or failing its checks; the
            message says how to rebuild.
        """
        return cls._open(path, verify, in_memory)

    @classmethod
    def _open(cls, path, verify: str, in_memory: bool, index=None) -> "FrameDatabase":
        """:meth:`load`; ``index``, when given, is used instead of rebuilding the flat index (a build's own)."""
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
            if mpath.stat().st_size > MAX_MANIFEST_BYTES:
                raise DatabaseError(f"manifest.json is larger than {MAX_MANIFEST_BYTES >> 20} MB; {elsewhere}", path)
            man = json.loads(mpath.read_bytes())
        except FileNotFoundError:
            raise DatabaseError(f"manifest.json is missing: {elsewhere}", path) from None
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise DatabaseError(f"manifest.json is unreadable ({str(e)[:80]}): {elsewhere}", path) from None
        if not isinstance(man, dict) or man.get("format") != FORMAT:
            raise DatabaseError(f"not a sketchsynth database manifest: {elsewhere}", mpath)
        if man.get("format_version") not in READABLE_VERSIONS:
            raise DatabaseError(f"database format version {man.get('format_version')} (this sketchsynth "
                                f"{__version__} reads version {FORMAT_VERSION}); {rebuild}", path)
        files = man.get("files")
        from .sound import AUDIO_FILES, open_audio
        from ..targets.speech.model import MODEL_FILE

        allowed = set(DATA_FILES) | set(AUDIO_FILES) | {MODEL_FILE}
        if not isinstance(files, dict) or not set(DATA_FILES) <= set(files) or not set(files) <= allowed:
            names = sorted(map(str, files)) if isinstance(files, dict) else type(files).__name__
            for name in files if isinstance(files, dict) else ():
                if os.path.basename(str(name)) != name or name in ("", ".", ".."):
                    raise DatabaseError(f"manifest points outside the database folder ({name!r}); {rebuild}",
                                        mpath)
            raise DatabaseError(f"manifest lists files {names}, expected {list(DATA_FILES)} (and optionally "
                                f"{list(AUDIO_FILES) + [MODEL_FILE]}); {rebuild}", mpath)
        problem = manifest_problem(man)
        if problem is not None:
            raise DatabaseError(f"manifest.json is damaged: {problem}; {rebuild}", mpath)
        for name, meta in files.items():
            if name == MODEL_FILE:
                continue  # checked when the model is loaded: its damage names fit-speech, not a rebuild
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
            normalizer._check()
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
                 track_filter=params.get("track_filter", "none"))
        db.path_ = Path(os.path.abspath(path))
        db._set_state(keypoints, normalized, transforms, table, np.asarray(params["weights"], np.float32),
                      normalizer, man["recordings"], index)
        db.index_info_ = dict(man.get("index") or {"kind": "flat"})
        db.etalon_row_ = int(man["etalon"].get("row", -1))
        db.manifest_ = man
        db.path_ = Path(os.path.abspath(path))
        db.audio_ = open_audio(path, man, in_memory, read)
        db.speech_model_ = None
        if in_memory and db.audio_ is not None:
            from ..targets.speech.model import open_model

            db.speech_model_ = open_model(path, man)
        return db

    def summary(self) -> str:
        """A short human-readable description of the database."""
        unusable = ", ".join(f"{v} {k}" for k, v in self.table_.unusable_by_reason().items()) or "none"
        rec = ", ".join(f"{r['name']} ({r['n_frames']} frames, {r['fps']:g} fps from {r['fps_source']})"
                        for r in self.recordings_[:4])
        if len(self.recordings_) > 4:
            rec += f", ... ({len(self.recordings_)} recordings)"
        et = self.etalon_row_
        et_txt = f"{self.table_['recording'][et]} frame {self.table_['frame'][et]}" if et >= 0 else "stored"
        from .sound import describe_audio

        speech = describe_audio(getattr(self, "manifest_", {}))
        if "speech_model" in getattr(self, "manifest_", {}):
            speech += "; speech model fitted"
        return (f"{self.n_frames_} frames, {self.n_usable_} usable (unusable: {unusable}); {speech}; "
                f"{self.normalizer_.mode} normalization on points {list(self.normalizer_.anchors)}, "
                f"etalon {et_txt}; recordings: {rec}")
