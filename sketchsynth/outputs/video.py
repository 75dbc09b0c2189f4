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
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError
from .render import BLACK, BLUE, WHITE, draw_sketch

LAYOUTS = ("side-by-side", "overlay")
VIDEOS_JSON = "videos.json"
FRAMES_MATRICES = "frames_matrices.npy"
FRAMES_MODES = ("composite", "full", "warp")
DEFAULT_FRAMES_MODE = "composite"
MAX_SKETCH_HEIGHT = 540
"""sketch.mp4 panels are shrunk to at most this height (line drawings need no more)."""
FRAME_MEMORY_BUDGET = 256 << 20
"""Fetched database frames are kept as arrays up to this many bytes, JPEG-compressed beyond."""


# ---------------------------------------------------------------------- timeline
def output_timeline(time_s: np.ndarray, fps: float, duration: float | None = None):
    """Constant-rate output times and the input frame shown at each.

    Parameters
    ----------
    time_s : np.ndarray, shape (n_frames,)
        Input presentation times (increasing; variable frame rate allowed).
    fps : float
        Output frame rate.
    duration : float, optional
        Input duration (default: last time minus first plus one average frame).

    Returns
    -------
    out_times : np.ndarray, shape (n_out,), float64
        Output frame times on the input's timeline.
    input_index : np.ndarray, shape (n_out,), int64
        Input frame nearest to each output time.
    """
    from ..io.video_fetch import frame_indices_at

    t = np.asarray(time_s, dtype=np.float64)
    if len(t) == 0:
        raise InputError("the input has no frames to render")
    if duration is None:
        duration = (t[-1] - t[0]) + (float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / fps)
    n_out = max(1, int(round(duration * fps)))
    out_times = t[0] + np.arange(n_out) / fps
    return out_times, frame_indices_at(t, out_times)


def resample_selection(db, rows: np.ndarray, input_times: np.ndarray, out_times: np.ndarray) -> np.ndarray:
    """Database rows to show at output times, advancing through recordings in real time.

    An output time between input frames shows the chosen database frame's
    recording moved on by the time elapsed since that input frame, so that a
    database recorded at another frame rate plays at its own speed. With output
    times equal to the input's this is the selection itself.

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (n_frames,), int64
        Chosen database row per input frame (-1: none).
    input_times : np.ndarray, shape (n_frames,)
    out_times : np.ndarray, shape (n_out,)

    Returns
    -------
    np.ndarray, shape (n_out,), int64
        Database row per output frame (-1 where the input frame had none).
    """
    from ..io.video_fetch import frame_indices_at

    rows = np.asarray(rows, dtype=np.int64)
    t_in = np.asarray(input_times, dtype=np.float64)
    t_out = np.asarray(out_times, dtype=np.float64)
    # The input frame on screen at each output time: the last one that started.
    idx = np.clip(np.searchsorted(t_in, t_out + 1e-6, side="right") - 1, 0, len(t_in) - 1)
    r = rows[idx]
    out = np.full(len(t_out), -1, dtype=np.int64)
    ok = r >= 0
    if not ok.any():
        return out
    db_times = np.asarray(db.table_["time_s"], np.float64)
    bounds = _recording_bounds(db)
    first, last = bounds[r[ok], 0], bounds[r[ok], 1]
    want = db_times[r[ok]] + (t_out[ok] - t_in[idx[ok]])
    res = np.empty(ok.sum(), dtype=np.int64)
    for k, (a, b, w) in enumerate(zip(first, last, want)):
        res[k] = a + frame_indices_at(db_times[a:b], [w])[0]
    out[ok] = res
    return out


def _recording_bounds(db) -> np.ndarray:
    """(first row, end row) of every row's recording, shape (n_frames, 2)."""
    codes = db.table_.codes
    change = np.flatnonzero(np.diff(codes) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(codes)]])
    seg = np.repeat(np.arange(len(starts)), ends - starts)
    return np.stack([starts[seg], ends[seg]], axis=1)


# ---------------------------------------------------------------------- sketch.mp4
def sketch_frames(input_kp: np.ndarray, matched_kp: np.ndarray, size: tuple[int, int], index: np.ndarray,
                  layout: str = "side-by-side", max_height: int = MAX_SKETCH_HEIGHT, thickness: int = 2):
    """Images of ``sketch.mp4``, one per output frame (a generator).

    Parameters
    ----------
    input_kp, matched_kp : np.ndarray, shape (n_frames, 70, 3)
        Input and matched keypoints in the input's image pixels (NaN or
        confidence 0: not drawn).
    size : (width, height)
        Input frame size.
    index : np.ndarray, shape (n_out,), int
        Input frame shown at each output frame.
    layout : {"side-by-side", "overlay"}
    max_height : int
        Panels taller than this are scaled down.

    Yields
    ------
    np.ndarray, shape (height, width or 2 * width, 3), uint8
        BGR.
    """
    import cv2

    if layout not in LAYOUTS:
        raise ParameterError(f"sketch layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    w, h = size
    scale = min(1.0, max_height / h)
    pw, ph = int(round(w * scale)), int(round(h * scale))
    panels = 1 if layout == "overlay" else 2
    for i in index:
        img = np.full((ph, pw * panels, 3), 255, np.uint8)
        left = img[:, :pw]  # views: drawing on them draws on img
        if layout == "overlay":
            # The match under the input, a little wider: where the two coincide (the lips, mostly) the
            # input must stay black, as the method draws it (drawn last, the match painted the input blue).
            draw_sketch(left, matched_kp[i], BLUE, thickness + 2, scale)
            draw_sketch(left, input_kp[i], BLACK, thickness, scale)
            _legend(left, [("input", BLACK), ("match", BLUE)])
        else:
            draw_sketch(left, input_kp[i], BLACK, thickness, scale)
            right = img[:, pw:]
            draw_sketch(right, matched_kp[i], BLUE, thickness, scale)
            _legend(left, [("input", BLACK)])
            _legend(right, [("match", BLUE)])
            cv2.line(img, (pw, 0), (pw, ph - 1), (200, 200, 200), 1)
        yield img


def keypoint_canvas(input_kp: np.ndarray, matched_kp: np.ndarray, margin: float = 0.05) -> tuple[int, int]:
    """Frame size for drawing keypoint-only input: the image area its points (and the matches') occupy.

    Parameters
    ----------
    input_kp, matched_kp : np.ndarray, shape (n_frames, 70, 3)

    Returns
    -------
    (width, height) : even numbers (H.264 needs them), at least 64
    """
    xy = np.concatenate([np.asarray(input_kp)[..., :2].reshape(-1, 2), np.asarray(matched_kp)[..., :2].reshape(-1, 2)])
    xy = xy[np.isfinite(xy).all(axis=1) & (xy > 0).any(axis=1)]
    if len(xy) == 0:
        return 64, 64
    w, h = np.ceil(xy.max(axis=0) * (1 + margin)).astype(int)
    return max(64, int(w) + int(w) % 2), max(64, int(h) + int(h) % 2)


def _legend(img, items):
    import cv2

    y = 18
    for text, color in items:
        cv2.putText(img, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
        y += 18


# ---------------------------------------------------------------------- frames.mp4
def warp_matrices(db_transforms: np.ndarray, input_matrices: np.ndarray) -> np.ndarray:
    """Maps from database frame pixels to input frame pixels.

    Parameters
    ----------
    db_transforms : np.ndarray, shape (n, 2, 3)
        Database frames' image -> normalized maps (``db.transforms_[rows]``).
    input_matrices : np.ndarray, shape (n, 2, 3)
        Input frames' image -> normalized maps (``MatchResult.matrices``).

    Returns
    -------
    np.ndarray, shape (n, 2, 3), float64
        ``x_input = A[:, :2] @ x_db + A[:, 2]``; NaN where either map is.
    """
    from ..database.normalize import invert_matrices

    inv = invert_matrices(input_matrices)
    a = np.asarray(db_transforms, dtype=np.float64)
    lin = inv[:, :, :2] @ a[:, :, :2]
    off = (inv[:, :, :2] @ a[:, :, 2:])[..., 0] + inv[:, :, 2]
    return np.concatenate([lin, off[..., None]], axis=2)


def fill_matrices(matrices: np.ndarray) -> np.ndarray:
    """Input maps with NaN frames (no usable face) taken from the nearest frame that has one.

    Parameters
    ----------
    matrices : np.ndarray, shape (n, 2, 3)

    Returns
    -------
    np.ndarray, shape (n, 2, 3), float64
        Unchanged when no frame has a map.
    """
    m = np.asarray(matrices, dtype=np.float64).copy()
    ok = np.isfinite(m).all(axis=(1, 2))
    if ok.all() or not ok.any():
        return m
    good = np.flatnonzero(ok)
    pos = np.clip(np.searchsorted(good, np.arange(len(m))), 1, len(good) - 1) if len(good) > 1 else \
        np.zeros(len(m), np.int64)
    lo, hi = good[np.maximum(pos - 1, 0)], good[pos]
    nearest = np.where(np.abs(np.arange(len(m)) - lo) <= np.abs(hi - np.arange(len(m))), lo, hi)
    m[~ok] = m[nearest[~ok]]
    return m


def _db_videos(db) -> dict:
    """Recording name -> (video path or None, exists)."""
    out = {}
    for r in db.recordings_:
        v = r.get("video")
        out[r["name"]] = v if v and os.path.isfile(v) else None
    return out


def fetch_db_frames(db, rows: np.ndarray, budget: int = FRAME_MEMORY_BUDGET) -> tuple[dict, list]:
    """Recorded images of database rows, one decoding pass per recording video.

    Parameters
    ----------
    db : FrameDatabase
    rows : array of int
        Rows wanted (repeats and -1 ignored).
    budget : int
        Bytes of frames to keep as arrays; beyond it frames are kept as JPEG.

    Returns
    -------
    frames : dict
        Row -> image (array or JPEG bytes; see :func:`sketchsynth.io.video.decode_image`).
    missing : list of str
        Recordings whose video is gone (their rows are not in ``frames``).
    """
    from ..io.video_fetch import fetch_frames

    rows = np.unique(np.asarray(rows, dtype=np.int64))
    rows = rows[rows >= 0]
    rec = db.table_["recording"]
    times = np.asarray(db.table_["time_s"], np.float64)
    videos = _db_videos(db)
    sizes = {r["name"]: r.get("extra", {}) for r in db.recordings_}
    need = sum(int(sizes.get(rec[r], {}).get("width", 640)) * int(sizes.get(rec[r], {}).get("height", 480)) * 3
               for r in rows if videos.get(rec[r]))
    encode = ".jpg" if need > budget else None
    frames, missing = {}, []
    for name in dict.fromkeys(rec[rows]):
        mine = rows[rec[rows] == name]
        path = videos.get(name)
        if path is None:
            if any(r["name"] == name and r.get("video") for r in db.recordings_):
                missing.append(name)
            continue
        for r, img in zip(mine, fetch_frames(path, times[mine], encode=encode)):
            frames[int(r)] = img
    return frames, missing


def db_frame_images(db, rows_out: np.ndarray, input_matrices: np.ndarray, size: tuple[int, int],
                    matched_kp: np.ndarray | None = None, input_index: np.ndarray | None = None):
    """Images of ``frames.mp4``, one per output frame (a generator).

    Parameters
    ----------
    db : FrameDatabase
    rows_out : np.ndarray, shape (n_out,), int64
        Database row per output frame (-1: black frame).
    input_matrices : np.ndarray, shape (n_out, 2, 3)
        The input's image -> normalized map at each output frame.
    size : (width, height)
        Input frame size.
    matched_kp : np.ndarray, shape (n_frames, 70, 3), optional
        Matched keypoints in input pixels, drawn for rows of recordings without video.
    input_index : np.ndarray, shape (n_out,), optional
        Input frame of each output frame (for ``matched_kp``).

    Yields
    ------
    np.ndarray, shape (height, width, 3), uint8
    """
    import cv2

    from ..io.video_fetch import decode_image

    w, h = size
    frames, _ = fetch_db_frames(db, rows_out)
    mats = fill_matrices(input_matrices)
    ok = rows_out >= 0
    warps = np.full((len(rows_out), 2, 3), np.nan)
    if ok.any():
        warps[ok] = warp_matrices(db.transforms_[rows_out[ok]], mats[ok])
    for k, r in enumerate(rows_out):
        img = np.zeros((h, w, 3), np.uint8)
        if r >= 0 and int(r) in frames and np.isfinite(warps[k]).all():
            cv2.warpAffine(decode_image(frames[int(r)]), warps[k], (w, h), dst=img, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        elif r >= 0 and matched_kp is not None and input_index is not None:
            img[:] = WHITE
            draw_sketch(img, matched_kp[input_index[k]], BLUE, 2)
        yield img


def db_frame_sizes(db) -> np.ndarray:
    """(width, height) of every database row's recording video, shape (n_frames, 2), int64 (0: unknown)."""
    rec = db.table_["recording"]
    size = {r["name"]: (int((r.get("extra") or {}).get("width") or 0), int((r.get("extra") or {}).get("height") or 0))
            for r in db.recordings_}
    names, inv = np.unique(rec, return_inverse=True)
    table = np.array([size.get(n, (0, 0)) for n in names], np.int64).reshape(-1, 2)
    return table[inv]


def check_frames_options(frames_mode: str, background: str, blend: str):
    from .frames.composite import BACKGROUNDS, BLENDS

    if frames_mode not in FRAMES_MODES:
        raise ParameterError(f"frames mode must be one of {', '.join(FRAMES_MODES)}, got {frames_mode!r}")
    if background not in BACKGROUNDS:
        raise ParameterError(f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    if blend not in BLENDS:
        raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")


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
        x264 quality.
    progress : bool
        Show a progress bar per video.
    frames_mode : {"composite", "full", "warp"}
        How frames.mp4 shows the recorded frames: pasted into one continuous
        background take (:mod:`sketchsynth.outputs.frames.composite`), the frames themselves
        under a smooth virtual camera (:mod:`sketchsynth.outputs.frames.full`), or each
        frame warped onto the input's head (the first version; shows borders).
    background : {"auto", "input"}
        Composite's background: the database recording whose head motion fits
        the input's best, or the input video itself (dubbing).
    blend : {"feather", "poisson"}
        Composite's blending.

    Attributes
    ----------
    report_ : dict
        What was written (also saved as ``videos.json``), after the call.
    """

    def __init__(self, db, result, track, matched_kp=None, rows=None, layout: str = "side-by-side",
                 frames_video: bool = True, audio=True, crf: int = 23, progress: bool = False,
                 frames_mode: str = DEFAULT_FRAMES_MODE, background: str = "auto", blend: str = "feather"):
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
        else:
            audio = ex.get("audio") if self.audio else None
            offset = float(tr.time_s[0])
        report = {"fps": fps, "frames": int(len(out_times)),
                  "input_video": os.path.abspath(tr.video) if tr.video else None,
                  "input_size": list(size), "start_time": offset, "audio": audio,
                  "input_index": index.tolist(), "layout": self.layout, "written": {}, "skipped": {}}
        kp_in = np.asarray(tr.keypoints, np.float32)
        report["written"]["sketch.mp4"] = write_video(
            folder / "sketch.mp4", self._bar(sketch_frames(kp_in, matched, size, index, self.layout),
                                             len(index), "sketch.mp4"), fps,
            audio=audio, audio_offset=offset, crf=self.crf)
        has_video = any(r.get("video") for r in self.db.recordings_)
        if not self.frames_video:
            report["skipped"]["frames.mp4"] = "turned off"
        elif not has_video:
            report["skipped"]["frames.mp4"] = "the database was built from keypoints only (no recorded video)"
        else:
            missing = [r["name"] for r in self.db.recordings_ if r.get("video") and not os.path.isfile(r["video"])]
            rows_out = resample_selection(self.db, rows, tr.time_s, out_times)
            used = set(self.db.table_["recording"][rows_out[rows_out >= 0]])
            gone = sorted(used & set(missing))
            if gone:
                report["skipped"]["frames.mp4"] = (f"recorded video of {', '.join(gone[:3])} not found "
                                                   f"(moved since build-db?)")
            else:
                mats = np.asarray(res.matrices, np.float64)[index]
                images, info = self._frames_images(rows_out, mats, size, matched, index)
                report["written"]["frames.mp4"] = write_video(
                    folder / "frames.mp4", self._bar(images, len(index), "frames.mp4"), fps,
                    audio=audio, audio_offset=offset, crf=self.crf)
                report["db_rows"] = rows_out.tolist()
                report["frames_mode"] = self.frames_mode
                report.update({k: v for k, v in info.items() if k not in ("matrices", "rows", "masks_area")})
                if "matrices" in info:  # database pixels -> frames.mp4 pixels, for measuring the output
                    np.save(folder / FRAMES_MATRICES, np.asarray(info["matrices"], np.float64))
        for v in report["written"].values():
            v["path"] = os.path.basename(v["path"])
        (folder / VIDEOS_JSON).write_text(json.dumps(report))
        self.report_ = report
        return report

    def _frames_images(self, rows_out, mats, size, matched, index):
        """The frames.mp4 generator of the chosen mode, and a dict it fills with what it did."""
        from .frames.joins import join_continuations

        info: dict = {}
        db = self.db
        if self.frames_mode == "warp":
            return db_frame_images(db, rows_out, mats, size, matched, index), info
        if self.frames_mode == "full":
            from .frames.full import FULL_CROSSFADE, fill_rows, full_frame_images

            rows = fill_rows(rows_out)
            prev, _ = join_continuations(db, rows, FULL_CROSSFADE)
            frames, _ = fetch_db_frames(db, np.concatenate([rows, prev]))
            sizes = db_frame_sizes(db)
            out_size = tuple(int(v) for v in sizes[rows[0]]) if rows[0] >= 0 else size
            info["output_size"] = list(out_size)
            return full_frame_images(db, rows, out_size, frames, sizes, report=info), info
        from .frames.composite import choose_background, composite_images

        prev, _ = join_continuations(db, rows_out)
        bg = pick = None
        if self.background == "input" and self.track.video is not None:
            from ..io.video_fetch import read_frames

            bg = {"images": read_frames(self.track.video, index, encode=".jpg" if len(index) > 300 else None),
                  "matrices": mats, "keypoints": np.asarray(self.track.keypoints, np.float64)[index],
                  "size": size}
            info["background"] = {"take": "input"}
            wanted = np.concatenate([rows_out, prev])
        else:
            pick = choose_background(db, mats, len(index))
            if pick is None:
                return db_frame_images(db, rows_out, mats, size, matched, index), {"frames_mode_fallback": "warp"}
            wanted = np.concatenate([rows_out, prev, pick["rows"]])
            info["background"] = {"take": pick["recording"], "first_frame": int(db.table_["frame"][
                pick["rows"][0]]), "fit": pick["cost"]}
        frames, _ = fetch_db_frames(db, wanted)
        if bg is None:
            rows_bg = pick["rows"]
            bsize = tuple(int(v) for v in db_frame_sizes(db)[rows_bg[0]])
            bg = {"images": [frames[int(r)] for r in rows_bg], "matrices": db.transforms_[rows_bg],
                  "keypoints": db.keypoints_[rows_bg], "size": bsize}
        info["output_size"] = list(bg["size"])
        return composite_images(db, rows_out, frames, bg, how=self.blend, report=info), info

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


# ---------------------------------------------------------------------- contact sheet
def contact_sheet(result_dir: str | os.PathLike, frames=None, path: str | os.PathLike | None = None,
                  panel: int = 240, force: bool = False) -> str:
    """A contact sheet of a video match: input frame, input sketch, matched sketch, database frame.

    One row per chosen input frame; every panel shows the same square around
    the input's face (the database frame as warped into ``frames.mp4``).

    Parameters
    ----------
    result_dir : path
        Output folder of ``sketchsynth match`` on a video input.
    frames : list of int, optional
        Input frame indices (default: five spread over the matched frames).
    path : path, optional
        Image file (.png or .jpg; default ``RESULT/contact_sheet.png``).
    panel : int
        Panel side in pixels.
    force : bool
        Overwrite an existing file (the default file in a folder sketchsynth
        marked as its match output is always rewritten).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    InputError
        Not a video match result, or its input video is gone.
    """
    import cv2

    from ..io.video_fetch import read_frames
    from .results import load_match_outputs

    result_dir = Path(result_dir)
    res = load_match_outputs(result_dir)
    meta_path = result_dir / VIDEOS_JSON
    if not meta_path.is_file():
        raise InputError("not a video match result (no videos.json): the contact sheet needs a match on a "
                         "video input", result_dir)
    try:
        meta = json.loads(meta_path.read_bytes())
        if not isinstance(meta, dict) or not {"input_video", "input_size", "written"} <= set(meta):
            raise ValueError("fields missing")
    except (OSError, ValueError) as e:
        raise InputError(f"videos.json is unreadable ({str(e)[:80]}); run sketchsynth match again",
                         meta_path) from None
    inp, matched = res["input"], res["matched"]
    n = len(inp)
    if frames is None or len(frames) == 0:
        ok = np.flatnonzero(np.isfinite(matched[:, :, :2]).all(axis=(1, 2)))
        pool = ok if len(ok) else np.arange(n)
        frames = [int(pool[int(round(q * (len(pool) - 1)))]) for q in np.linspace(0.1, 0.9, min(5, len(pool)))]
    frames = [int(t) for t in frames]
    bad = [t for t in frames if not 0 <= t < n]
    if bad:
        raise ParameterError(f"frame {bad[0]} is outside the input (0-{n - 1})")
    from ..io.storage import atomic_file, check_file_target, result_protect, written_by_sketchsynth

    if not path:
        force = force or written_by_sketchsynth(result_dir) == "match"
    path = os.fspath(path) if path else os.fspath(result_dir / "contact_sheet.png")
    if not path.lower().endswith((".png", ".jpg", ".jpeg")):
        raise ParameterError(f"contact sheet file must end in .png or .jpg: {path}")
    protect = result_protect(result_dir, meta.get("input_video"))
    check_file_target(path, force=force, protect=protect, what="contact sheet")
    video = meta["input_video"]
    if video is not None and not os.path.isfile(video):
        raise InputError("the match's input video is gone; the contact sheet shows its frames", video)
    w, h = meta["input_size"]
    in_imgs = read_frames(video, frames) if video is not None else [None] * len(frames)
    db_imgs = [None] * len(frames)
    if "frames.mp4" in meta["written"]:
        index = np.asarray(meta["input_index"])
        # The output frame showing each chosen input frame.
        k = [int(np.argmin(np.abs(index - t))) for t in frames]
        db_imgs = read_frames(result_dir / "frames.mp4", k)
    sel = res["selection"]
    header = 26
    sheet = np.full((header + len(frames) * (panel + 22), 4 * panel, 3), 255, np.uint8)
    for c, title in enumerate(("input frame", "input sketch", "matched sketch", "matched database frame")):
        cv2.putText(sheet, title, (c * panel + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK, 1, cv2.LINE_AA)
    for r, t in enumerate(frames):
        box = _face_box(inp[t], matched[t], (w, h))
        y0 = header + r * (panel + 22)
        sk_in = np.full((h, w, 3), 255, np.uint8)
        draw_sketch(sk_in, inp[t], BLACK, 2)
        sk_m = np.full((h, w, 3), 255, np.uint8)
        draw_sketch(sk_m, matched[t], BLUE, 2)
        for c, img in enumerate((in_imgs[r], sk_in, sk_m, db_imgs[r])):
            if c == 3 and img is not None and meta.get("frames_mode", "warp") != "warp":
                # full/composite frames are not in the input's coordinates: show the whole frame.
                fh, fw = img.shape[:2]
                side = float(max(fw, fh))
                sheet[y0:y0 + panel, c * panel:(c + 1) * panel] = _crop(img, ((fw - side) / 2, (fh - side) / 2,
                                                                               side), panel)
                continue
            sheet[y0:y0 + panel, c * panel:(c + 1) * panel] = (
                _crop(img, box, panel) if img is not None
                else _placeholder(panel, "keypoint input" if c == 0 else "no database video"))
        rec, fr = sel["recording"].iloc[t], sel["frame"].iloc[t]
        cap = (f"input frame {t}: db {rec} frame {int(fr)}, cost {sel['target_cost'].iloc[t]:.3g}"
               if isinstance(rec, str) else f"input frame {t}: no match")
        cv2.putText(sheet, cap, (6, y0 + panel + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BLACK, 1, cv2.LINE_AA)
    with atomic_file(path, force=force, protect=protect, what="contact sheet") as tmp:
        if not cv2.imwrite(os.fspath(tmp), sheet):
            raise InputError("cannot write the contact sheet here", path)
    return path


def _face_box(kp_in, kp_m, size):
    """A square (x0, y0, side) around the input's (else the match's) face, 1.6 times its extent."""
    w, h = size
    for kp in (kp_in, kp_m):
        xy = np.asarray(kp, np.float64)[:, :2]
        seen = np.isfinite(xy).all(axis=1) & (np.asarray(kp)[:, 2] > 0)
        if seen.sum() >= 3:
            lo, hi = xy[seen].min(axis=0), xy[seen].max(axis=0)
            c, side = (lo + hi) / 2, 1.6 * float((hi - lo).max())
            side = max(side, 16.0)
            return c[0] - side / 2, c[1] - side / 2, side
    side = float(min(w, h))
    return (w - side) / 2, (h - side) / 2, side


def _crop(img, box, panel):
    """The square ``box`` of ``img`` (padded white outside the frame), resized to panel x panel."""
    import cv2

    x0, y0, side = box
    s = panel / side
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]])
    return cv2.warpAffine(img, m, (panel, panel), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))


def _placeholder(panel, text):
    import cv2

    img = np.full((panel, panel, 3), 230, np.uint8)
    cv2.putText(img, text, (8, panel // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
    return img
