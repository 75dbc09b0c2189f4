"""Video in and out of a live session: a webcam or a video file as the driving face, a virtual webcam as a
display other programs (video calls, OBS) can pick up."""

from __future__ import annotations

import os
import queue
import threading
import time

from ..errors import DependencyError, InputError, install_hint


class VideoSource:
    """Frames of a webcam (``spec`` a number: OpenCV's camera index) or a video file (PyAV, the batch reader).

    Attributes (after :meth:`open`)
    ----------
    fps_ : float
        The frame rate (a webcam's as reported, 25 when it reports none).
    path_ : str or None
        The file, None for a webcam.
    """

    def __init__(self, spec: str, seconds: float | None = None):
        self.spec, self.seconds = str(spec), seconds

    @property
    def is_camera(self) -> bool:
        return self.spec.strip().isdigit()

    def open(self) -> "VideoSource":
        if self.is_camera:
            import cv2

            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its own no-device lines; ours is one
            try:
                self.cap_ = cv2.VideoCapture(int(self.spec))
            finally:
                cv2.utils.logging.setLogLevel(level)
            if not self.cap_.isOpened():
                raise InputError(f"cannot open camera {self.spec} (no such video device here); plug one in, pick "
                                 "another number, or give a video file to --face", f"camera {self.spec}")
            fps = float(self.cap_.get(cv2.CAP_PROP_FPS) or 0)
            self.fps_, self.path_ = fps if 1 <= fps <= 240 else 25.0, None
        else:
            from ..io.video import probe

            info = probe(self.spec)  # InputError (one line) for a missing or unreadable file
            self.fps_, self.path_, self.info_ = float(info.fps), os.path.abspath(self.spec), info
        return self

    def start(self, realtime: bool, start: float) -> queue.Queue:
        """A thread putting (BGR frame, time_s) into a queue, None at the end. A file's frames come at their
        time after ``start`` (``realtime``) or at once; a webcam's as captured (time from ``start``)."""
        q: queue.Queue = queue.Queue(maxsize=1000 if realtime or self.is_camera else 0)
        self.stop_ = threading.Event()

        def feed():
            try:
                for img, t in (self._camera(start) if self.is_camera else self._file()):
                    if realtime and not self.is_camera:
                        dt = start + t - time.perf_counter()
                        if dt > 0:
                            time.sleep(dt)
                    if self.stop_.is_set() or (self.seconds is not None and t >= self.seconds):
                        break
                    q.put((img, t))
            finally:
                q.put(None)

        threading.Thread(target=feed, daemon=True).start()
        return q

    def _file(self):
        from ..io.video import iter_frames

        for _, t, img in iter_frames(self.path_):
            yield img, t

    def _camera(self, start):
        try:
            while not self.stop_.is_set():
                ok, img = self.cap_.read()
                if not ok:
                    break
                yield img, time.perf_counter() - start
        finally:
            self.cap_.release()

    def stop(self):
        if getattr(self, "stop_", None) is not None:
            self.stop_.set()
        elif getattr(self, "cap_", None) is not None:  # opened, never started
            self.cap_.release()


class VirtualCamera:
    """Frames sent to a virtual webcam through pyvirtualcam (v4l2loopback on Linux, OBS's on Windows and macOS)."""

    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height, self.fps = int(width), int(height), float(fps)

    @staticmethod
    def require():
        """pyvirtualcam, or a one-line DependencyError naming the extra."""
        try:
            import pyvirtualcam
        except ImportError:
            raise DependencyError(f"--virtual-camera needs the pyvirtualcam package: {install_hint('virtualcam')}") from None
        return pyvirtualcam

    def open(self) -> "VirtualCamera":
        pyvirtualcam = self.require()
        try:
            self.cam_ = pyvirtualcam.Camera(self.width, self.height, self.fps, fmt=pyvirtualcam.PixelFormat.BGR)
        except Exception as e:  # pyvirtualcam reports a missing device as RuntimeError, its backends differ
            raise DependencyError(f"no virtual camera device ({' '.join(str(e).split())}); on Linux load "
                                  "v4l2loopback: sudo modprobe v4l2loopback devices=1 exclusive_caps=1; on Windows "
                                  "or macOS install OBS (its virtual camera)") from None
        return self

    def send(self, frame):
        if frame.image is not None:
            self.cam_.send(frame.image)

    def close(self):
        if getattr(self, "cam_", None) is not None:
            self.cam_.close()
            self.cam_ = None
