"""What a live frame looks like: the selected recording frame's keypoints with the predicted mouth, drawn as a
sketch or shown as the recorded image.

Random access into a recording video costs ~60 ms a frame (seek + decode to the frame); a live stream jumps
between takes several times a second. Recorded images are therefore read once, JPEG-compressed, into a frame
cache (:meth:`FrameSource.fit` with ``render="frames"``), after which a frame costs a JPEG decode (~1 ms).
"""

from __future__ import annotations

import numpy as np

from ..errors import DatabaseError


class FrameSource:
    """Database rows -> keypoints and images for live frames.

    Parameters
    ----------
    db : FrameDatabase
    render : {"sketch", "frames", "none"}
    size : (width, height), optional
        Output image size (default: the recordings' largest). Sketches are drawn in the recording's pixels
        scaled to it; recorded frames are resized to it.
    rows : array of int, optional
        ``render="frames"``: the rows to cache (default: every usable row).

    Attributes
    ----------
    size_ : (width, height)
    cache_ : dict
        ``render="frames"``: row -> JPEG bytes.
    """

    def __init__(self, db, render: str = "sketch", size=None, rows=None):
        self.db, self.render, self.size, self.rows = db, render, size, rows

    def fit(self, progress=None) -> "FrameSource":
        """Settle the size, and with ``render="frames"`` read the recorded images into the cache; returns self."""
        sizes = [(int(r["extra"]["width"]), int(r["extra"]["height"])) for r in self.db.recordings_
                 if isinstance(r.get("extra"), dict) and r["extra"].get("width")]
        native = (max(s[0] for s in sizes), max(s[1] for s in sizes)) if sizes else (512, 512)
        self.native_ = native
        self.size_ = tuple(int(v) for v in (self.size or native))
        self.cache_ = {}
        if self.render == "frames":
            self._fill(progress)
        return self

    def _fill(self, progress):
        from ..outputs.frames.fetch import db_videos
        from ..io.video_fetch import fetch_frames

        db = self.db
        rows = db.usable_rows_ if self.rows is None else np.unique(np.asarray(self.rows, np.int64))
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

    def image(self, row: int, keypoints: np.ndarray) -> np.ndarray | None:
        """The frame's image (height, width, 3) uint8 BGR, or None with ``render="none"``."""
        import cv2

        if self.render == "none":
            return None
        w, h = self.size_
        if self.render == "sketch":
            from ..outputs.render import WHITE, draw_sketch

            canvas = np.empty((h, w, 3), np.uint8)
            canvas[:] = WHITE
            s = min(w / self.native_[0], h / self.native_[1])
            off = (np.array([w, h]) - s * np.array(self.native_)) / 2
            return draw_sketch(canvas, keypoints, scale=s, offset=off)
        data = self.cache_.get(int(row))
        if data is None:
            raise DatabaseError(f"database row {row} is not in the live frame cache", getattr(self.db, "path_", None))
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img.shape[1] != w or img.shape[0] != h:
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        return img
