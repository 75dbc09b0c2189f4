"""Offline face tracking: video -> 70 OpenPose face keypoints per frame.

The ``"dlib"`` backend finds faces with dlib's HOG detector and fits its 68-point
shape predictor (``shape_predictor_68_face_landmarks.dat`` from the
``face-recognition-models`` package). dlib's 68 points come in iBUG order, which
is OpenPose's points 0-67; the pupils 68 and 69 are the eye-contour centroids
(:func:`sketchsynth.layout.estimate_pupils`) with the lower confidence
:data:`sketchsynth.io.landmarks.ESTIMATED_PUPIL_CONFIDENCE`. The model was trained
on iBUG 300-W, whose terms exclude commercial use.

Speed. The detector costs about 17 ms on a 640x480 frame and the predictor under
1 ms, so the tracker detects only every ``detect_every`` frames, on a frame
shrunk so the face is about :data:`DETECT_FACE_PX` pixels wide, and in between
follows the face: the predictor is fitted in a box derived from the previous
frame's landmarks. It re-detects at once when following looks lost (the face
jumped or changed size, or the box holds a flat, featureless patch).

Tracked keypoints are cached (see :func:`cache_dir`), keyed by the file's size,
modification time and first megabyte and by the tracker's parameters, so a video
is tracked once.
"""

from __future__ import annotations

import os
from importlib.util import find_spec

import numpy as np

from ..errors import DependencyError, ParameterError, install_hint, require
from ..layout import N_LANDMARKS_68, N_POINTS
from .track_cache import TrackedVideo, cache_key, read_cache, video_meta, write_cache


BACKENDS = ("dlib",)
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
SYSTEM_MODEL_DIRS = ("/usr/share/dlib", "/usr/local/share/dlib")
"""Where Debian's ``libdlib-data`` and source installs put the model file."""

DETECT_FACE_PX = 90
"""Face width (pixels) the frame is shrunk to for detection once a face was seen.
dlib's HOG window is 80 px and its pyramid steps by 5/6; faces of 80-100 px were
found in every sampled frame of the clips in ../shared/data, while full-size
frames missed some (a 109 px GRID face fell between pyramid levels)."""

BLIND_MAX_SIDE = 640
"""Longest image side for detection when no face is being followed."""

TRACKER_VERSION = 2
"""Bumped when the tracker's output changes, so stale cache entries are not reused."""

POINT_CONFIDENCE = 1.0
"""dlib gives no per-point confidence: fitted points get this, missing faces 0."""

_LOADED: dict = {}  # model path -> (detector, predictor), per process


def find_model(name: str = MODEL_FILE) -> str:
    """Path of dlib's landmark model file.

    Looked up in the ``face_recognition_models`` package without importing it
    (its ``__init__`` needs ``pkg_resources``), then in the system folders
    where ``libdlib-data`` installs it.

    Raises
    ------
    DependencyError
        The package is not installed and no system copy exists.
    """
    places = []
    spec = find_spec("face_recognition_models")
    if spec is not None:
        places += [os.path.join(p, "models") for p in (spec.submodule_search_locations or [])]
    places += list(SYSTEM_MODEL_DIRS)
    for folder in places:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise DependencyError(f"face tracking needs dlib's landmark model {name} (from the 'face-recognition-models' "
                          f"package): {install_hint('video')}")


class FaceTracker:
    """Track one face through a video and give the OpenPose 70-point layout.

    Parameters
    ----------
    backend : {"dlib"}
    detect_every : int
        Run the face detector every this many frames (1: every frame); in
        between the face is followed from the previous landmarks.
    downscale : "auto" or float
        Shrink factor of the frame for detection (0 < f <= 1). ``"auto"`` shrinks
        it so a face already seen is about :data:`DETECT_FACE_PX` wide, and
        caps the image's long side at :data:`BLIND_MAX_SIDE` when searching.
    upsample : int
        dlib's upsampling steps when searching for a face not yet seen; 1 finds
        faces down to about 40 px, at four times the cost.
    max_jump : float
        Following is taken as lost when the face's centre moves more than this
        fraction of its width between frames ...
    max_zoom : float
        ... or its size changes by more than this factor.
    min_contrast : float
        ... or the face box's grey levels vary less than this (standard
        deviation, 0-255): a flat patch holds no face.
    max_missed : int
        Scheduled detections that may fail in a row while the face is still
        followed (a turned head the frontal detector misses); at the next
        failure the face counts as gone, and the frames followed since the
        first failure are marked faceless too (they may show background).
    cache : bool
        Read and write the track cache (:func:`cache_dir`).

    Attributes
    ----------
    model_path_ : str
        The landmark model used (set on first use).
    """

    def __init__(self, backend: str = "dlib", detect_every: int = 5, downscale="auto", upsample: int = 0,
                 max_jump: float = 0.25, max_zoom: float = 1.25, min_contrast: float = 6.0, max_missed: int = 1,
                 cache: bool = True):
        self.backend = backend
        self.detect_every = detect_every
        self.downscale = downscale
        self.upsample = upsample
        self.max_jump = max_jump
        self.max_zoom = max_zoom
        self.min_contrast = min_contrast
        self.max_missed = max_missed
        self.cache = cache

    def __repr__(self):
        p = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"FaceTracker({p})"

    def get_params(self) -> dict:
        return {"backend": self.backend, "detect_every": self.detect_every, "downscale": self.downscale,
                "upsample": self.upsample, "max_jump": self.max_jump, "max_zoom": self.max_zoom,
                "min_contrast": self.min_contrast, "max_missed": self.max_missed, "cache": self.cache}

    # ------------------------------------------------------------------ setup
    def check(self):
        if self.backend not in BACKENDS:
            raise ParameterError(f"tracker backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if int(self.detect_every) != self.detect_every or self.detect_every < 1:
            raise ParameterError(f"detect_every must be a whole number >= 1, got {self.detect_every}")
        if self.downscale != "auto":
            try:
                f = float(self.downscale)
            except (TypeError, ValueError):
                f = -1.0
            if not 0 < f <= 1:
                raise ParameterError(f"downscale must be 'auto' or a factor in (0, 1], got {self.downscale!r}")
        if int(self.upsample) != self.upsample or not 0 <= self.upsample <= 3:
            raise ParameterError(f"upsample must be 0, 1, 2 or 3, got {self.upsample}")
        if not (self.max_jump > 0 and self.max_zoom > 1 and self.min_contrast >= 0):
            raise ParameterError("max_jump must be > 0, max_zoom > 1 and min_contrast >= 0")
        if int(self.max_missed) != self.max_missed or self.max_missed < 0:
            raise ParameterError(f"max_missed must be a whole number >= 0, got {self.max_missed}")

    def _load(self):
        if getattr(self, "_predictor", None) is None:
            self.check()
            dlib = require("dlib", "video", "face tracking")
            self.model_path_ = find_model()
            self._dlib = dlib
            if self.model_path_ not in _LOADED:  # the model takes ~0.5 s to load: once per process
                _LOADED[self.model_path_] = (dlib.get_frontal_face_detector(), dlib.shape_predictor(self.model_path_))
            self._detector, self._predictor = _LOADED[self.model_path_]
        return self

    def __getstate__(self):  # dlib objects do not pickle; workers load their own
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def cache_params(self) -> dict:
        """The parameters that change the output (the cache key's part)."""
        p = self.get_params()
        p.pop("cache")
        p["version"] = TRACKER_VERSION
        return p

    # ------------------------------------------------------------------ detection
    def _detect_at(self, gray: np.ndarray, scale: float, upsample: int):
        """Faces as (left, top, right, bottom) in full-frame pixels, largest first."""
        import cv2

        img = gray
        if abs(scale - 1.0) > 1e-3:
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interp)
        rects, scores, _ = self._detector.run(img, int(upsample), 0.0)
        boxes = [np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float64) / scale for r in rects]
        order = sorted(range(len(boxes)), key=lambda i: -(boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
        self._last_score = float(scores[order[0]]) if order else float("nan")  # the largest face's
        return [boxes[i] for i in order]

    def _detect(self, gray: np.ndarray, face_width: float | None):
        """Detect faces; with a known face width the frame is shrunk to make it cheap."""
        h, w = gray.shape[:2]
        if self.downscale != "auto":
            scales = [float(self.downscale)]
        elif face_width is not None:
            s = float(np.clip(DETECT_FACE_PX / max(face_width, 1.0), 0.05, 1.0))
            scales = [s, s * 1.25]
        else:
            s0 = min(1.0, BLIND_MAX_SIDE / max(h, w))
            # Several scales: a face between two pyramid levels is missed at one scale, found at another.
            scales = [s0, s0 * 0.75, s0 * 0.55]
        for k, s in enumerate(scales):
            boxes = self._detect_at(gray, min(s, 1.0), self.upsample if face_width is None and k == 0 else 0)
            if boxes:
                return boxes
        return []

    # ------------------------------------------------------------------ landmarks
    def _fit(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        l, t, r, b = (int(round(v)) for v in box)
        shape = self._predictor(gray, self._dlib.rectangle(l, t, r, b))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    @staticmethod
    def _extent(pts: np.ndarray):
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return (lo + hi) / 2, hi - lo

    def _box_from_landmarks(self, pts: np.ndarray, rel: np.ndarray) -> np.ndarray:
        c, size = self._extent(pts)
        side = rel[2] * size[0]  # the detector's box is square
        cx, cy = c[0] + rel[0] * size[0], c[1] + rel[1] * size[1]
        return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])

    @staticmethod
    def _relation(box: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """Where the detector's box sits relative to the landmarks' extent: (dx, dy, width ratio)."""
        c, size = FaceTracker._extent(pts)
        size = np.maximum(size, 1.0)
        bc = (box[:2] + box[2:]) / 2
        return np.array([(bc[0] - c[0]) / size[0], (bc[1] - c[1]) / size[1], (box[2] - box[0]) / size[0]])

    def _lost(self, gray, prev: np.ndarray, pts: np.ndarray) -> bool:
        c0, s0 = self._extent(prev)
        c1, s1 = self._extent(pts)
        w0 = max(s0[0], 1.0)
        if np.linalg.norm(c1 - c0) > self.max_jump * w0:
            return True
        zoom = max(s1[0], 1.0) / w0
        if zoom > self.max_zoom or zoom < 1 / self.max_zoom:
            return True
        h, w = gray.shape[:2]
        lo = np.clip(np.floor(c1 - s1 / 2).astype(int), 0, [w, h])
        hi = np.clip(np.ceil(c1 + s1 / 2).astype(int), 0, [w, h])
        patch = gray[lo[1]:hi[1]:2, lo[0]:hi[0]:2]
        return patch.size < 16 or float(patch.std()) < self.min_contrast

    # ------------------------------------------------------------------ tracking
    def track_frames(self, frames, n_frames: int | None = None, progress=None):
        """Track a face through grey frames.

        ``frames``: grey images (height, width) uint8 in display order; ``n_frames`` (unused, kept for callers);
        ``progress(k)``: called with the frames done since its last call.

        Returns keypoints (n_frames, 70, 3) float32 (zeros where no face was found), n_faces (n_frames,) int16,
        detected (n_frames,) bool. The same loop as :meth:`push`, with :attr:`withdrawn_` applied.
        """
        self.start()
        pts68, n_faces, detected, scores = [], [], [], []
        for gray in frames:
            pts = self._step(gray)
            for k in self.withdrawn_:
                pts68[k], n_faces[k] = None, 0
            pts68.append(pts)
            n_faces.append(self.n_faces_)
            detected.append(self.detected_)
            scores.append(self.det_score_)
            if progress is not None and len(pts68) % 16 == 0:
                progress(16)
        if progress is not None and len(pts68) % 16:
            progress(len(pts68) % 16)
        self.det_scores_ = np.asarray(scores, np.float32)  # detector score per frame (NaN: followed)
        return self.to_openpose(pts68), np.asarray(n_faces, np.int16), np.asarray(detected, bool)

    def start(self) -> "FaceTracker":
        """Begin a stream of frames (:meth:`push` them one at a time, as they arrive); returns self."""
        self._load()
        # previous 68 points (None: no face followed); detector box vs landmark extent (refined at detections)
        self.prev_, self.rel_, self.since_, self.n_, self.missed_ = None, np.array([0.0, 0.1, 1.1]), 0, 0, []
        return self

    def push(self, gray: np.ndarray) -> np.ndarray:
        """Track the next grey frame (height, width) uint8 of the stream -> keypoints (70, 3) float32.

        Zeros without a face. Also sets ``n_faces_``, ``detected_``, ``det_score_`` of this frame and
        ``withdrawn_``: earlier frames of the stream (0-based) that :meth:`track_frames` marks faceless after
        this one, because the detector has now missed the face ``max_missed + 1`` times in a row and what was
        followed since may be background (a live caller has shown them already).
        """
        return self.to_openpose([self._step(gray)])[0]

    def _step(self, gray: np.ndarray):
        """One frame of the follow/detect loop: its 68 points (68, 2) float64, or None."""
        pts, prev, rel = None, self.prev_, self.rel_
        faces, was_detected, self.withdrawn_ = 0, False, range(0)
        if prev is None or self.since_ >= self.detect_every:
            width = None if prev is None else float(self._extent(prev)[1][0]) * rel[2]
            boxes = self._detect(gray, width)
            if boxes:
                box = boxes[0]
                pts = self._fit(gray, box)
                found = self._relation(box, pts)
                self.rel_ = rel = found if prev is None else 0.7 * rel + 0.3 * found
                faces, was_detected, self.missed_ = len(boxes), True, []
            elif prev is not None:
                self.missed_.append(self.n_)
                if len(self.missed_) > self.max_missed:
                    # The detector has not seen the face for a while: whatever was followed since its
                    # first miss may be background. Those frames become faceless, and so is this one.
                    self.withdrawn_ = range(self.missed_[0], self.n_)
                    prev, self.missed_ = None, []
            self.since_ = 0
        if pts is None and prev is not None:
            # Between detections, or when the detector missed a face it saw before (a turned head):
            # follow it, unless following looks lost.
            pts = self._fit(gray, self._box_from_landmarks(prev, rel))
            if self._lost(gray, prev, pts):
                pts = None
                if self.since_ > 0:  # lost between detections: look for the face now
                    boxes = self._detect(gray, float(self._extent(prev)[1][0]) * rel[2])
                    if boxes:
                        pts = self._fit(gray, boxes[0])
                        faces, was_detected, self.since_ = len(boxes), True, 0
            else:
                faces = 1
        self.since_, self.prev_, self.n_ = self.since_ + 1, pts, self.n_ + 1
        self.n_faces_, self.detected_ = faces, was_detected
        self.det_score_ = self._last_score if was_detected else np.nan
        return pts

    @staticmethod
    def to_openpose(pts68: list) -> np.ndarray:
        from ..io.landmarks import to_openpose70

        arr = np.full((len(pts68), N_LANDMARKS_68, 3), np.nan)
        for i, p in enumerate(pts68):
            if p is not None:
                arr[i, :, :2] = p
                arr[i, :, 2] = POINT_CONFIDENCE
        if not len(arr):
            return np.zeros((0, N_POINTS, 3), np.float32)
        kp, _ = to_openpose70(arr)
        return kp

    def track(self, path: str | os.PathLike, progress: bool = False, threads: int = 0,
              progress_callback=None) -> TrackedVideo:
        """Track the face through a video file (or return the cached track).

        Parameters
        ----------
        path : path
        progress : bool
            Show a tqdm bar.
        threads : int
            Decoder threads (see :func:`sketchsynth.io.video.iter_frames`).
        progress_callback : callable(int), optional
            Called with frames done (instead of a bar; used by worker processes).

        Returns
        -------
        TrackedVideo

        Raises
        ------
        InputError
            The file is not a readable video.
        DependencyError
            PyAV, dlib or the model file is missing.
        """
        from ..io.video import iter_frames, probe

        path = os.fspath(path)
        self.check()
        info = probe(path)
        key = cache_key(path, self.cache_params()) if self.cache else None
        if key is not None:
            hit = read_cache(key, info.n_frames)
            if hit is not None:
                if progress_callback is not None:
                    progress_callback(info.n_frames)
                return hit
        self._load()
        times = []

        def grey():
            for _, t, img in iter_frames(path, fmt="gray", threads=threads):
                times.append(t)
                yield img

        bar = None
        callback = progress_callback
        if progress and callback is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=info.n_frames, unit="frame", desc=f"tracking {os.path.basename(path)}", leave=False,
                       disable=None)  # None: quiet when stderr is not a terminal
            callback = bar.update
        try:
            kp, n_faces, detected = self.track_frames(grey(), info.n_frames, callback)
        finally:
            if bar is not None:
                bar.close()
        meta = {"video": video_meta(info), "tracker": self.cache_params(), "model": os.path.basename(self.model_path_)}
        out = TrackedVideo(kp, np.asarray(times, np.float64), n_faces, detected, meta,
                           det_score=getattr(self, "det_scores_", None))
        if key is not None:
            write_cache(key, out)
        return out


