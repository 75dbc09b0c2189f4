"""Video outputs of a match on a video input: sketch.mp4, frames.mp4 and the contact sheet.

- ``sketch.mp4``: the input's sketch (black) and the match (blue) in the input's
  image coordinates, side by side or overlaid.
- ``frames.mp4``: the recorded database frames in the chosen order, each warped
  so that its face sits where the input's head is. A database frame's
  image -> normalized map is ``db.transforms_[row]`` and the input frame's is
  ``MatchResult.matrices[t]``; the warp is the second's inverse after the first.
  Frames of keypoint-only recordings (no video) are drawn as blue sketches.

Both are H.264 + AAC with the input's audio, trimmed to the video's length, at
the input's frame rate. The output timeline is resampled from timestamps, so a
variable-frame-rate input and a database recorded at another frame rate both
play at their true speed (:func:`resample_selection`).

``videos.json`` in the output folder records what was written, for
:func:`contact_sheet` and ``sketchsynth plot``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .sketch_video import LAYOUTS, input_name, keypoint_canvas, sketch_frames
from .timeline import output_timeline, resample_selection


VIDEOS_JSON = "videos.json"
FRAMES_CRF = 12
"""frames.mp4's x264 quality. The codec is where most of the mouth's detail goes: on the moving-head validation
folds frames.mp4 kept 0.91-0.97 of the shown frames' mouth-region sharpness at 16 and 0.97-1.03 at 12 (0.97-1.05
at 10), for files of 1.25 / 2.2 / 2.9 MB per 10 s at 512x512 (docs/measurements.md)."""
FRAMES_MATRICES = "frames_matrices.npy"
DEFAULT_FRAMES_MODE = "composite"


def check_frames_options(frames_mode: str, background: str, blend: str):
    from .frames import RENDERERS
    from .frames.composite import BACKGROUNDS, BLENDS

    RENDERERS.get(frames_mode)  # raises, naming the renderers there are
    if background not in BACKGROUNDS:
        raise ParameterError(f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    if blend not in BLENDS:
        raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")


def db_frame_sources(db, rows, matrices=None) -> dict:
    """Where each output frame's chosen database frame is recorded: ``videos`` (paths) and per output frame
    ``video`` (index into them, -1: none), ``time_s`` and ``face``, the frame's face box (x0, y0, x1, y1) in its
    own pixels, or None -- so the contact sheet can show the frame itself, around the face. ``matrices``
    (n_out, 2, 3): database pixels -> frames.mp4 pixels per output frame; with them ``shown_face`` is the same
    face's box in frames.mp4."""
    from ..database.normalize import apply_matrices
    from .frames.fetch import db_videos
    from .render import face_extent

    videos = db_videos(db)
    names = [n for n, v in videos.items() if v]
    pos = {n: i for i, n in enumerate(names)}
    rec = db.table_["recording"]
    t = np.asarray(db.table_["time_s"], np.float64)
    rows = np.asarray(rows, np.int64)
    which = [pos.get(rec[r], -1) if r >= 0 else -1 for r in rows]
    kp = np.asarray(db.keypoints_, np.float64)[np.maximum(rows, 0)]

    def boxes(points):
        ext = [face_extent(p) if r >= 0 else None for p, r in zip(points, rows)]
        return [None if e is None or not np.isfinite(e).all() else np.round(e, 1).tolist() for e in ext]

    out = {"videos": [os.path.abspath(videos[n]) for n in names], "video": which,
           "time_s": [float(t[r]) if r >= 0 else None for r in rows], "face": boxes(kp)}
    if matrices is not None and len(matrices) == len(rows):
        moved = kp.copy()
        moved[..., :2] = apply_matrices(kp, matrices)
        out["shown_face"] = boxes(moved)
    return out


# ---------------------------------------------------------------------- the match's videos
class MatchVideoWriter:
    """Writes a video match's ``sketch.mp4``, ``frames.mp4`` and ``videos.json`` into a folder.

    Pass an instance as ``write_files`` to
    :func:`sketchsynth.outputs.results.write_match_outputs`: it is called with the
    output's temporary folder, so the videos appear atomically with the rest.

    Parameters
    ----------
    db : FrameDatabase
    result : MatchResult
    track : Track
        The input. A keypoint-only input (OpenPose JSON, arrays) gets a canvas
        that holds all its points, and no audio unless ``audio`` names a file.
    matched_kp : np.ndarray, shape (n_frames, 70, 3), optional
        Matched keypoints in input pixels (default from ``rows``).
    rows : np.ndarray, shape (n_frames,), optional
        Chosen database rows (default ``result.rows``; pass a smooth decoding's).
    layout : {"side-by-side", "overlay"}
        sketch.mp4's arrangement.
    frames_video : bool
        Write frames.mp4 when the database has recorded video.
    audio : bool or path
        True: mux the input video's audio; False: none; a path: mux that file's
        audio instead, starting with the first input frame (check it first with
        :func:`sketchsynth.io.video.probe_audio`).
    crf : int
        x264 quality of sketch.mp4.
    frames_crf : int
        x264 quality of frames.mp4 (real pixels: finer than the sketch's).
    progress : bool
        Show a progress bar per video.
    frames_mode : str
        The frames renderer (:data:`sketchsynth.outputs.frames.RENDERERS`): the chosen mouths pasted
        into one continuous background take (``composite``), the frames themselves under a smooth
        virtual camera (``full``), each frame warped onto the input's head (``warp``), or a registered one.
    background : {"auto", "input"}
        Composite's background: the database recording whose head motion fits
        the input's best, or the input video itself (dubbing).
    blend : {"feather", "poisson"}
        Composite's blending.
    keep_audio : str, optional
        Copy ``audio`` (a file) into the output folder under this name and mux that copy (a sound that exists
        only for this output, such as a TTS voice); ``videos.json`` then names the copy.
    plan : BackgroundPlan, optional
        The background take the selection was made for (:func:`sketchsynth.selection.pose.add_pose_term`);
        composite plays it.

    Attributes
    ----------
    report_ : dict
        What was written (also saved as ``videos.json``), after the call.
    """

    def __init__(self, db, result, track, matched_kp=None, rows=None, layout: str = "side-by-side",
                 frames_video: bool = True, audio=True, crf: int = 23, progress: bool = False,
                 frames_mode: str = DEFAULT_FRAMES_MODE, background: str = "auto", blend: str = "feather",
                 keep_audio: str | None = None, plan=None, frames_crf: int = FRAMES_CRF):
        self.db = db
        self.result = result
        self.track = track
        self.matched_kp = matched_kp
        self.rows = rows
        self.layout = layout
        self.frames_video = frames_video
        self.audio = audio
        self.crf = crf
        self.progress = progress
        self.frames_mode = frames_mode
        self.background = background
        self.blend = blend
        self.keep_audio = keep_audio
        self.plan, self.frames_crf = plan, frames_crf
        check_frames_options(frames_mode, background, blend)
        if layout not in LAYOUTS:
            raise ParameterError(f"sketch layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")

    def __call__(self, folder) -> dict:
        from ..io.video_write import write_video
        from .placement import matched_in_input_coords

        folder = Path(folder)
        tr, res = self.track, self.result
        rows = res.rows if self.rows is None else np.asarray(self.rows, dtype=np.int64)
        matched = (matched_in_input_coords(self.db, res, rows) if self.matched_kp is None
                   else np.asarray(self.matched_kp, np.float32))
        ex = tr.extra or {}
        size = (int(ex.get("width") or 0), int(ex.get("height") or 0))
        if min(size) <= 0 and tr.video is not None:
            from ..io.video import probe

            info = probe(tr.video)
            size = (info.width, info.height)
        elif min(size) <= 0:
            size = keypoint_canvas(tr.keypoints, matched)
        fps = float(tr.fps)
        out_times, index = output_timeline(tr.time_s, fps, ex.get("duration"))
        if isinstance(self.audio, (str, os.PathLike)):
            audio, offset = os.fspath(self.audio), 0.0  # an audio file of its own starts with the first frame
            if self.keep_audio:  # a sound that exists only for this output (a TTS voice) is kept with it
                import shutil

                shutil.copyfile(audio, folder / self.keep_audio)
                audio = os.fspath(folder / self.keep_audio)
        else:
            audio = ex.get("audio") if self.audio else None
            offset = float(tr.time_s[0])
        report = {"fps": fps, "frames": int(len(out_times)),
                  "input_video": os.path.abspath(tr.video) if tr.video else None,
                  "input_size": list(size), "start_time": offset,
                  "audio": self.keep_audio if self.keep_audio and audio else audio,
                  "input_index": index.tolist(), "layout": self.layout, "written": {}, "skipped": {}}
        kp_in = np.asarray(tr.keypoints, np.float32)
        report["written"]["sketch.mp4"] = write_video(
            folder / "sketch.mp4", self._bar(sketch_frames(kp_in, matched, size, index, self.layout,
                                                           input_name=input_name(tr)),
                                             len(index), "sketch.mp4"), fps,
            audio=audio, audio_offset=offset, crf=self.crf)
        has_video = any(r.get("video") for r in self.db.recordings_)
        if not self.frames_video:
            report["skipped"]["frames.mp4"] = "turned off"
        elif not has_video:
            report["skipped"]["frames.mp4"] = "the database was built from keypoints only (no recorded video)"
        else:
            from .frames.fetch import video_problem

            rows_out = resample_selection(self.db, rows, tr.time_s, out_times)
            used = sorted(set(self.db.table_["recording"][rows_out[rows_out >= 0]]))
            gone = {name: why for name in used if (why := video_problem(self.db, name))}
            if gone:
                name, why = next(iter(gone.items()))
                more = f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""
                report["skipped"]["frames.mp4"] = f"the recorded video of {name}{more} {why}"
            else:
                mats = np.asarray(res.matrices, np.float64)[index]
                t0 = time.perf_counter()
                images, info = self._frames_images(rows_out, mats, size, matched, index)
                report["written"]["frames.mp4"] = write_video(
                    folder / "frames.mp4", self._bar(images, len(index), "frames.mp4"), fps,
                    audio=audio, audio_offset=offset, crf=self.frames_crf)
                # fetching the database frames, rendering and encoding: the speed a live use would need
                report["written"]["frames.mp4"]["seconds"] = time.perf_counter() - t0
                report["db_rows"] = rows_out.tolist()
                report["frames_mode"] = self.frames_mode
                report["db_frames"] = db_frame_sources(self.db, info.get("db_rows_shown", rows_out),
                                                       info.get("matrices"))
                report.update({k: v for k, v in info.items() if k not in ("matrices", "rows", "masks_area", "join_plan")})
                if "frames_check" in info or "joins" in info:
                    report["summary"] = {k: info[k] for k in ("frames_check", "joins") if k in info}
                if "matrices" in info:  # database pixels -> frames.mp4 pixels, for measuring the output
                    np.save(folder / FRAMES_MATRICES, np.asarray(info["matrices"], np.float64))
        for v in report["written"].values():
            v["path"] = os.path.basename(v["path"])
        (folder / VIDEOS_JSON).write_text(json.dumps(report))
        self.report_ = report
        return report

    def _frames_images(self, rows_out, mats, size, matched, index):
        """The frames.mp4 images of the chosen renderer, and a dict it fills with what it did."""
        from .frames import FramesJob, make_renderer

        renderer = make_renderer(self.frames_mode, background=self.background, blend=self.blend)
        return renderer.render(FramesJob(self.db, rows_out, mats, size, matched, index, self.track, self.plan,
                                         np.asarray(self.result.normalized, np.float64), self.result.candidates))

    def _bar(self, frames, total, name):
        if not self.progress:
            return frames
        from tqdm.auto import tqdm

        return tqdm(frames, total=total, unit="frame", desc=f"writing {name}", leave=False,
                    disable=None)  # None: quiet when stderr is not a terminal

    def summary_line(self, out) -> str:
        """One sentence for the CLI: which videos were written (and why one was not)."""
        rep = getattr(self, "report_", None)
        if rep is None:
            return "No videos written."
        done = [f"{out}/{name} ({v['frames']} frames at {v['fps']:.4g} fps, {v['width']}x{v['height']}"
                f"{', with audio' if v['audio_seconds'] > 0 else ''})" for name, v in rep["written"].items()]
        text = "Wrote " + " and ".join(done) + "."
        for name, why in rep["skipped"].items():
            text += f" No {name}: {why}."
        return text


