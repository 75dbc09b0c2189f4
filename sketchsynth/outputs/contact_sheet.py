"""plot --sheet: a contact sheet of input frames, their sketches and the matched database frames."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError, ParameterError
from .render import BLACK, BLUE, draw_sketch, face_extent
from .video import VIDEOS_JSON


# ---------------------------------------------------------------------- contact sheet
def contact_sheet(result_dir: str | os.PathLike, frames=None, path: str | os.PathLike | None = None,
                  panel: int = 240, force: bool = False) -> str:
    """A contact sheet of a video match: input frame, input sketch, matched sketch, database frame (and
    ``frames.mp4`` when it shows more than the database frame: composite, full).

    One row per chosen input frame; the first three panels show the same square around the input's face;
    the database frame is the recorded frame shown at that moment (after composite's self-check), and it and
    frames.mp4 are shown around their own face (whole, for a match written without the faces' boxes).

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
        problem = _meta_problem(meta, len(res["input"]))
        if problem:
            raise ValueError(problem)
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
    from ..io.storage import atomic_file, check_file_target, result_protect
    from ..io.ownership import may_rewrite, record_entry

    if not path:  # the default file in a match folder is sketchsynth's to rewrite, unless the user put it there
        force = force or may_rewrite(result_dir, "contact_sheet.png")
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
    out_imgs = None  # frames.mp4 itself, a fifth column, when it is not the database frame
    faces = [[None] * len(frames)] * 2  # the database frame's and frames.mp4's face boxes, where recorded
    if "frames.mp4" in meta["written"]:
        index = np.asarray(meta["input_index"])
        # The output frame showing each chosen input frame.
        k = [int(np.argmin(np.abs(index - t))) for t in frames]
        db_imgs = database_frames(meta.get("db_frames"), k) if meta.get("frames_mode") != "warp" else None
        if db_imgs is None:  # warp mode (the frame on the input's head), or a match written before
            db_imgs = read_frames(result_dir / "frames.mp4", k)
        else:
            out_imgs = read_frames(result_dir / "frames.mp4", k)
            faces = [_recorded_boxes(meta["db_frames"].get(key), k) for key in ("face", "shown_face")]
    titles = ("input frame", "input sketch", "matched sketch", "matched database frame") + \
        (() if out_imgs is None else ("frames.mp4",))
    sel = res["selection"]
    header = 26
    sheet = np.full((header + len(frames) * (panel + 22), len(titles) * panel, 3), 255, np.uint8)
    for c, title in enumerate(titles):
        cv2.putText(sheet, title, (c * panel + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK, 1, cv2.LINE_AA)
    for r, t in enumerate(frames):
        box = _face_box(inp[t], matched[t], (w, h))
        y0 = header + r * (panel + 22)
        sk_in = np.full((h, w, 3), 255, np.uint8)
        draw_sketch(sk_in, inp[t], BLACK, 2)
        sk_m = np.full((h, w, 3), 255, np.uint8)
        draw_sketch(sk_m, matched[t], BLUE, 2)
        row = (in_imgs[r], sk_in, sk_m, db_imgs[r]) + (() if out_imgs is None else (out_imgs[r],))
        for c, img in enumerate(row):
            if c >= 3 and img is not None and meta.get("frames_mode", "warp") != "warp":
                # full/composite frames are not in the input's coordinates: around their own face, else whole
                fh, fw = img.shape[:2]
                ext = faces[c - 3][r]
                side = float(max(fw, fh))
                own = _square(ext) if ext is not None else ((fw - side) / 2, (fh - side) / 2, side)
                sheet[y0:y0 + panel, c * panel:(c + 1) * panel] = _crop(img, own, panel)
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
    if Path(path).resolve().parent == result_dir.resolve():
        record_entry(result_dir, Path(path).name)
    return path


def _meta_problem(meta: dict, n_frames: int) -> str | None:
    """What is wrong with a ``videos.json`` read back (it may have been edited: nothing is trusted), or None."""
    size = meta.get("input_size")
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE for v in size)):
        return f"input_size must be two whole numbers in 1..{MAX_SIDE}"
    if meta["input_video"] is not None and not isinstance(meta["input_video"], str):
        return "input_video must be a path"
    if not isinstance(meta["written"], (list, dict)) or not all(isinstance(w, str) for w in meta["written"]):
        return "written must list file names"
    index = meta.get("input_index")
    if "frames.mp4" in meta["written"] and not (
            isinstance(index, list) and 0 < len(index) <= 4 * n_frames + 16
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n_frames for i in index)):
        return f"input_index must list output frames' input frames (0-{n_frames - 1})"
    return None


MAX_SIDE = 16384
"""The largest video side a contact sheet reads back (what the video writers accept)."""


def database_frames(sources, out_frames):
    """The recorded database frames shown at output frames ``out_frames`` (videos.json's ``db_frames``), or None
    when a video is gone or not recorded; a frame without a match is None."""
    from ..io.video_fetch import fetch_frames

    if not isinstance(sources, dict) or not {"videos", "video", "time_s"} <= set(sources):
        return None
    out = [None] * len(out_frames)
    try:
        for i, k in enumerate(out_frames):
            v, t = sources["video"][k], sources["time_s"][k]
            if v is None or v < 0 or t is None:
                continue
            path = sources["videos"][v]
            if not os.path.isfile(path):
                return None
            out[i] = fetch_frames(path, np.array([float(t)]))[0]
    except (IndexError, TypeError, ValueError):
        return None
    return out


def _recorded_boxes(boxes, out_frames) -> list:
    """videos.json's face boxes (x0, y0, x1, y1) at output frames ``out_frames``: each a (4,) float64 array, or
    None where none was recorded or the value is not one (the file may have been edited)."""
    out = []
    for k in out_frames:
        try:
            e = np.asarray(boxes[k], np.float64)
        except (IndexError, KeyError, TypeError, ValueError):
            e = None
        ok = e is not None and e.shape == (4,) and np.isfinite(e).all() and (e[2:] > e[:2]).all()
        out.append(e if ok else None)
    return out


def _square(extent):
    """A square (x0, y0, side) around a face's box (x0, y0, x1, y1), 1.6 times its extent."""
    lo, hi = np.asarray(extent[:2], np.float64), np.asarray(extent[2:], np.float64)
    c, side = (lo + hi) / 2, max(1.6 * float((hi - lo).max()), 16.0)
    return c[0] - side / 2, c[1] - side / 2, side


def _face_box(kp_in, kp_m, size):
    """A square (x0, y0, side) around the input's (else the match's) face, 1.6 times its extent."""
    w, h = size
    for kp in (kp_in, kp_m):
        ext = face_extent(kp)
        if ext is not None:
            return _square(ext)
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
