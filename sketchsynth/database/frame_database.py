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
      speech_model.npz  the fitted voice-to-mouth model (:mod:`sketchsynth.targets.speech.model_file`;
                        fitted by :func:`sketchsynth.pipeline.build.build_database`)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..defaults import DEFAULT_DB  # noqa: F401  (re-exported: the default of save/load)
from ..errors import DatabaseError, ParameterError
from ..io.storage import atomic_directory
from ..layout import DEFAULT_ANCHORS, DEFAULT_STABLE_POINTS, N_POINTS, default_weights, point_order_lips_first


MAX_GAP = 1000  # frames interpolated across at most (33 s at 30 fps: longer is no gap, it is a missing take)
MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))  # threads and processes beyond this only cost memory


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
    index : {"auto", "flat", "ivfpq", "ivfsq8"}
        The FAISS index kind (:mod:`sketchsynth.database.indexes`).
    features : str
        The speech feature extractor the recordings' sound is analysed with
        (:data:`sketchsynth.database.speech_features.FEATURES`; the input's sound goes through the same one).

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
                 track_filter: str = "none", fit_gate: str = "auto", index: str = "auto", features: str = "log-mel"):
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
        self.features = features

    def __repr__(self):
        p = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"FrameDatabase({p})"

    def get_params(self) -> dict:
        return {"weights": None if self.weights is None else list(map(float, self.weights)), "mode": self.mode,
                "anchors": list(self.anchors), "stable_points": list(self.stable_points),
                "anchor_min_confidence": self.anchor_min_confidence, "max_gap": self.max_gap,
                "person": self.person, "fps": self.fps, "n_workers": self.n_workers,
                "track_filter": self.track_filter, "index": self.index, "features": self.features}

    # ------------------------------------------------------------------ build
    def check_params(self) -> np.ndarray:
        """Validate the parameters; returns the point weights, shape (70,), float32 (raises ParameterError)."""
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
        from .speech_features import FEATURES

        FEATURES.get(self.features)  # an unknown extractor fails now, not after minutes of reading
        return w

    def build(self, source, progress: bool = False, video_options: dict | None = None, path=None,
              force: bool = False, protect=(), scheduler: str | None = None, fitters=()) -> "FrameDatabase":
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
        fitters : iterable of callables ``fit(db, folder)``
            Run on the database written to ``folder`` before it is put in place, to keep a model fitted on it
            there (:func:`sketchsynth.pipeline.build.build_database` passes the speech model's).

        Returns
        -------
        self
        """
        from .assemble import build_frame_database

        return build_frame_database(self, source, progress=progress, video_options=video_options, path=path,
                                    force=force, protect=protect, scheduler=scheduler, fitters=fitters)

    def adopt(self, other: "FrameDatabase"):
        """Take the fitted state of a database just written and loaded."""
        for k, v in other.__dict__.items():
            if k.endswith("_") or k.startswith("_"):
                setattr(self, k, v)

    def set_state(self, keypoints, normalized, transforms, table, weights, normalizer, recordings, index):
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

        from .manifest_make import database_manifest

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
            (tmp / "manifest.json").write_text(json.dumps(database_manifest(self, tmp), indent=1))
        self.path_ = Path(os.path.abspath(path))
        return self.path_

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_DB, verify: str = "size", in_memory: bool = False, index=None
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
        index : faiss.Index, optional
            The flat index a build has just made (instead of rebuilding it from ``normalized.npy``).

        Raises
        ------
        DatabaseError
            Missing, from another format version, or failing its checks; the
            message says how to rebuild.
        """
        from .open import open_database

        return open_database(cls, path, verify, in_memory, index)

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
            speech += "; speech model fitted" + (" (and one for other voices)" if "speech_model_voices" in
                                                  self.manifest_ else "")
        return (f"{self.n_frames_} frames, {self.n_usable_} usable (unusable: {unusable}); {speech}; "
                f"{self.normalizer_.mode} normalization on points {list(self.normalizer_.anchors)}, "
                f"etalon {et_txt}; recordings: {rec}")
