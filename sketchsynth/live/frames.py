"""What a live frame looks like: the selected recording frame's keypoints with the predicted mouth, drawn as a
sketch; or real images: the selected recorded frame itself (``frames``), or its mouth pasted into one real
background take that plays on (``composite``, the batch compositor's mesh warp, colour match and feathered seam,
one frame at a time: the head stays one continuous recording instead of jumping between takes several times a
second).

Random access into a recording video costs ~60 ms a frame (seek + decode to the frame); a live stream jumps
between takes several times a second. Recorded images are therefore read once, JPEG-compressed, into a frame
cache (:meth:`FrameSource.fit` with ``render="frames"``), after which a frame costs a JPEG decode (~1 ms).
"""

from __future__ import annotations

import numpy as np

from ..errors import DatabaseError, ParameterError

RENDERS = ("sketch", "composite", "frames", "none")
BACKGROUND_FRAMES = 250
"""Frames the background take is chosen for (10 s at 25 fps); it then plays forwards and backwards for ever."""


def background_take(db) -> tuple:
    """The background take a live composite plays: its database rows (n,) int64 in order, and the index in them
    it starts at (chosen for :data:`BACKGROUND_FRAMES` frames, then played forwards and backwards).

    Raises
    ------
    DatabaseError
        No recording can play as the background.
    """
    from ..selection.pose import choose_background

    plan = choose_background(db, BACKGROUND_FRAMES)
    if plan is None:
        raise DatabaseError("no recording of the database can play as the background take (one needs its video "
                            "and a face in every frame); keep the recordings' videos where build-db found them, "
                            "or use the sketch", getattr(db, "path_", None))
    rows = np.flatnonzero(np.asarray(db.table_["recording"]) == plan.recording).astype(np.int64)
    return rows, int(plan.start)


class FrameSource:
    """Database rows -> keypoints and images for live frames.

    Parameters
    ----------
    db : FrameDatabase
    render : {"sketch", "composite", "frames", "none"}
    size : (width, height), optional
        Output image size (default: the recordings' largest). Sketches are drawn in the recording's pixels
        scaled to it; recorded frames are resized to it.
    rows : array of int, optional
        Real images: the rows to cache (default: every usable row).
    background : (rows, start), optional
        ``render="composite"``: the background take when already chosen (:func:`background_take`'s value, e.g.
        the one a live engine's pose term selected against); default: chosen in :meth:`fit`.

    Attributes
    ----------
    size_ : (width, height)
    cache_ : dict
        Real images: row -> JPEG bytes.
    background_ : np.ndarray, shape (n,), int64
        ``render="composite"``: the background take's rows, in order (``background_start_``: where it starts).
    compositor_ : Compositor
        ``render="composite"``: the batch compositor, its mesh fitted on the database's etalon frame.
    ends_ : np.ndarray, shape (n_frames,), int64
        ``render="composite"``: the end row of every row's recording (where a stretch cannot go on).
    """

    def __init__(self, db, render: str = "sketch", size=None, rows=None, background=None):
        self.db, self.render, self.size, self.rows, self.background = db, render, size, rows, background

    def fit(self, progress=None) -> "FrameSource":
        """Settle the size, and with ``render="frames"`` read the recorded images into the cache; returns self."""
        sizes = [(int(r["extra"]["width"]), int(r["extra"]["height"])) for r in self.db.recordings_
                 if isinstance(r.get("extra"), dict) and r["extra"].get("width")]
        native = (max(s[0] for s in sizes), max(s[1] for s in sizes)) if sizes else (512, 512)
        self.native_ = native
        self.size_ = tuple(int(v) for v in (self.size or native))
        self.cache_ = {}
        if self.render not in RENDERS:
            raise ParameterError(f"render must be one of {', '.join(RENDERS)}, got {self.render!r}")
        self.background_ = np.zeros(0, np.int64)
        if self.render == "composite":
            self._fit_background()
        if self.render in ("frames", "composite"):
            self._fill(progress)
        return self

    def _fit_background(self):
        from ..outputs.frames.composite import Compositor, fitted_warp
        from ..outputs.timeline import recording_bounds

        db = self.db
        rows, start = background_take(db) if self.background is None else self.background
        self.background_, self.background_start_ = np.asarray(rows, np.int64), int(start)
        self.compositor_ = Compositor(fitted_warp(db))
        self.ends_ = recording_bounds(db)[:, 1]

    def _fill(self, progress):
        from ..outputs.frames.fetch import db_videos
        from ..io.video_fetch import fetch_frames

        db = self.db
        rows = db.usable_rows_ if self.rows is None else np.unique(np.asarray(self.rows, np.int64))
        rows = np.union1d(rows, self.background_)
        rec = db.table_["recording"]
        times = np.asarray(db.table_["time_s"], np.float64)
        videos = db_videos(db)
        for name in dict.fromkeys(rec[rows]):
            mine = rows[rec[rows] == name]
            path = videos.get(name)
            if path is None:
                raise DatabaseError(f"the recording video of {name} is missing; live real frames need the "
                                    "database's videos (or use the sketch)", getattr(db, "path_", None))
            for r, img in zip(mine, fetch_frames(path, times[mine], encode=".jpg")):
                self.cache_[int(r)] = img
            if progress is not None:
                progress(len(mine))

    def keypoints(self, row: int, points: np.ndarray | None = None) -> np.ndarray:
        """Row's keypoints (70, 3) float32 in its recording's pixels, jaw and lips from ``points`` (70, 2)
        normalized, when given."""
        from ..database.normalize import Normalizer
        from ..layout import SPEECH_POINTS

        db = self.db
        kp = np.array(db.keypoints_[row], np.float32)
        if points is not None:
            full = np.array(db.normalized_[row], np.float32)
            full[SPEECH_POINTS] = points[SPEECH_POINTS]
            kp[:, :2] = Normalizer.inverse_transform(full[None], db.transforms_[row][None])[0]
        return kp

    def image(self, row: int, keypoints: np.ndarray, index: int = 0, points: np.ndarray | None = None,
              previous: int = -1) -> np.ndarray | None:
        """The frame's image (height, width, 3) uint8 BGR, or None with ``render="none"``; ``row`` -1 (no frame
        chosen): a blank page, or the composite's background alone.

        ``composite`` only: ``index``, the output frame's number (which background frame it shows); ``points``,
        the target (70, 2) normalized, whose mouth the pasted one follows; ``previous``, the row shown before
        (a jump from it morphs over one frame, as ``frames.mp4`` does).
        """
        if self.render == "none":
            return None
        if self.render == "composite":
            return self._composite(row, index, points, previous)
        w, h = self.size_
        if row < 0:  # no frame chosen: a blank page
            return np.full((h, w, 3), 255, np.uint8)
        if self.render == "sketch":
            from ..outputs.render import WHITE, draw_sketch

            canvas = np.empty((h, w, 3), np.uint8)
            canvas[:] = WHITE
            s = min(w / self.native_[0], h / self.native_[1])
            off = (np.array([w, h]) - s * np.array(self.native_)) / 2
            return draw_sketch(canvas, keypoints, scale=s, offset=off)
        return self._sized(self._decoded(row))

    def _stored(self, row: int) -> bytes:
        data = self.cache_.get(int(row))
        if data is None:
            raise DatabaseError(f"database row {row} is not in the live frame cache", getattr(self.db, "path_", None))
        return data

    def _decoded(self, row: int) -> np.ndarray:
        from ..io.video_fetch import decode_image

        return decode_image(self._stored(row))

    def _sized(self, img: np.ndarray) -> np.ndarray:
        import cv2

        w, h = self.size_
        if img.shape[1] != w or img.shape[0] != h:
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        return img

    def _composite(self, row: int, index: int, points, previous: int) -> np.ndarray:
        """Background take frame ``index`` (played forwards and backwards) with ``row``'s mouth pasted in; after a
        jump from ``previous``, its mouth's shape half way from ``previous``'s continuation (the batch's one-frame
        morph, :func:`sketchsynth.outputs.frames.joins.join_continuations`)."""
        from ..selection.pose import pingpong

        db = self.db
        bg_row = int(self.background_[pingpong(len(self.background_), 1, self.background_start_ + int(index))[0]])
        bg = self._decoded(bg_row)
        bg_kp = np.asarray(db.keypoints_[bg_row], np.float64)
        if row < 0 or not np.isfinite(bg_kp[:, :2]).all() or not np.isfinite(db.keypoints_[row][:, :2]).all():
            return self._sized(bg)
        layers = [self._layer(row, points, 1.0)]
        cont = int(previous) + 1               # where the previous stretch would have gone on
        jump = previous >= 0 and row != previous and not (row == cont and cont < self.ends_[previous])
        if jump and cont < self.ends_[previous] and cont in self.cache_ and \
                np.isfinite(db.keypoints_[cont][:, :2]).all():
            layers = [self._layer(row, points, 0.5), self._layer(cont, points, 0.5)]
        return self._sized(self.compositor_.render(bg, bg_kp, layers))

    def _layer(self, row: int, points, weight: float) -> tuple:
        from ..outputs.frames.mesh import mesh_residual

        # the JPEG as cached: the compositor decodes only the frame whose pixels it shows
        return (self._stored(row), np.asarray(self.db.keypoints_[row], np.float64), weight,
                mesh_residual(self.compositor_.warp, points, self.db, int(row)))
