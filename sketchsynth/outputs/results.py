"""Write and read a match's output folder.

::

    OUT/
      selection.csv          one row per input frame: input_frame, db_index, recording, frame, target_cost, ...
      matched/               the matched keypoints as OpenPose JSON, in the input's image coordinates
      input_keypoints.npy    (T, 70, 3) float32, the input as read
      matched_keypoints.npy  (T, 70, 3) float32, the matched frames in input coordinates (NaN: no match)
      comparison.png         input (black) vs match (blue) at t-1, t, t+1
      summary.json           what was matched against what, counts, costs, timings
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.openpose_write import write_openpose_folder
from ..io.storage import atomic_directory


def selection_table(db, result, input_frames: np.ndarray, extra: dict | None = None) -> dict:
    """One row per input frame; match fields empty (None / NaN) for frames without a usable face.

    Parameters
    ----------
    db : FrameDatabase
    result : MatchResult
    input_frames : np.ndarray, shape (n_frames,)
        Frame numbers of the input.
    extra : dict of column -> array, optional
        More per-frame columns (e.g. join costs).

    Returns
    -------
    dict of column name -> np.ndarray, shape (n_frames,)
        ``input_frame``, ``db_index``, ``recording``, ``frame``, ``target_cost``, the extra columns,
        ``input_reason``; integer columns as object arrays with None where there is no match.
    """
    rows = np.asarray(result.rows)
    ok = rows >= 0
    safe = np.maximum(rows, 0)

    def ints(values):
        out = np.full(len(rows), None, dtype=object)
        out[ok] = [int(v) for v in np.asarray(values)[ok]]
        return out

    rec = np.full(len(rows), None, dtype=object)
    rec[ok] = db.table_["recording"][rows[ok]]
    table = {"input_frame": np.asarray(input_frames, dtype=np.int64), "db_index": ints(rows),
             "recording": rec, "frame": ints(db.table_["frame"][safe]),
             "target_cost": np.where(ok, result.target_cost, np.nan)}
    for k, v in (extra or {}).items():
        table[k] = np.asarray(v)
    table["input_reason"] = np.where(result.usable, "", result.reason).astype(str)
    return table


def write_csv(path, table: dict, float_format: str = "%.6g") -> None:
    """Write a column table as CSV: a header, then one line per row; None and NaN are empty fields,
    floats use ``float_format``, booleans are True/False (as pandas writes them)."""
    import csv

    def cell(v):
        if v is None:
            return ""
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else float_format % v
        return v

    cols = list(table)
    values = [table[c].tolist() for c in cols]  # numpy scalars -> Python's (object columns stay as they are)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for row in zip(*values):
            w.writerow([cell(v) for v in row])


def _pick_plot_frame(result) -> int:
    u = np.flatnonzero(result.rows >= 0)
    if u.size == 0:
        return len(result.rows) // 2
    return int(u[len(u) // 2])


class OutputFolder:
    """A match's output folder opened before the match runs, so its slow part overlaps the match.

    Entering it takes the folder's lock and makes the temporary folder (as
    :func:`sketchsynth.io.storage.atomic_directory` does); :meth:`precreate` then
    creates the empty ``matched/`` files on a thread while the caller matches
    (3,000 files: 0.03 s on a quiet file system, 0.5-0.8 s right after a
    folder of as many was deleted, where ext4 skips recently freed inodes one by
    one). Leaving it without an error renames the folder into place; with an
    error nothing is left. :func:`write_match_outputs` writes into it.

    Parameters
    ----------
    out : path
    force : bool
    protect : iterable of (path, label)
        As for :func:`write_match_outputs`.
    """

    def __init__(self, out, force: bool = False, protect=()):
        self.out, self.force, self.protect = out, force, list(protect)
        self._thread = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "OutputFolder":
        self.tmp = self._stack.enter_context(atomic_directory(self.out, force=self.force, error=InputError,
                                                              kind="match", protect=self.protect))
        return self

    def precreate(self, track) -> None:
        """Start creating ``matched/``'s files for ``track`` (its frame numbers and name) on a thread."""
        from ..io.openpose_write import create_empty_files, openpose_names

        names = openpose_names(track.frames, safe_prefix(track.name))

        def run():
            with contextlib.suppress(OSError):  # the writer meets the same problem and reports it
                create_empty_files(self.tmp / "matched", names)

        self._thread = threading.Thread(target=run, name="sketchsynth-precreate", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __exit__(self, *exc):
        self.wait()
        return self._stack.__exit__(*exc)


def write_match_outputs(out: str | os.PathLike, db, result, track, force: bool = False,
                        plot_frames=None, extra_columns: dict | None = None, summary_extra: dict | None = None,
                        matched_kp: np.ndarray | None = None, write_files=None, protect=(),
                        folder: OutputFolder | None = None) -> dict:
    """Write the output folder of a match atomically.

    Parameters
    ----------
    out : path
    db : FrameDatabase
    result : MatchResult
    track : Track
        The input as read (frame numbers, name, fps).
    force : bool
        Replace an existing output folder.
    plot_frames : list of int, optional
        Input frame indices to draw comparison figures for (default: one in the middle).
    extra_columns : dict, optional
        More selection columns.
    summary_extra : dict, optional
        More summary entries.
    matched_kp : np.ndarray, shape (n_frames, 70, 3), optional
        Matched keypoints in input coordinates (default computed from ``result``).
    write_files : callable(tmpdir), optional
        Writes more files (e.g. videos) into the folder before it is renamed into place.
    protect : iterable of (path, label)
        Paths ``out`` must not be, contain or lie inside; the input and the
        database always are (see :func:`sketchsynth.io.storage.check_target`).
    folder : OutputFolder, optional
        Write into this folder, opened by the caller (who renames it into place
        by leaving it); ``out``, ``force`` and ``protect`` were its.

    Returns
    -------
    dict
        The summary (also written to ``summary.json``).
    """
    from .placement import matched_in_input_coords
    from .plot import save_comparison
    from .sketch_video import input_name

    if matched_kp is None:
        matched_kp = matched_in_input_coords(db, result)
    table = selection_table(db, result, track.frames, extra_columns)
    plot_frames = [_pick_plot_frame(result)] if plot_frames is None else list(plot_frames)
    for t in plot_frames:
        if not 0 <= t < len(result):
            raise InputError(f"--plot-frame {t} is outside the input (0-{len(result) - 1})")
    ok = result.rows >= 0
    labels = [f"db: {r} frame {f}" if o else "no match" for r, f, o in
              zip(table["recording"], table["frame"], ok)]
    summary = {
        "input": os.path.abspath(track.path),
        "input_fps": track.fps,
        "input_fps_source": track.fps_source,
        "database": os.fspath(getattr(db, "path_", "")),
        "metric": result.metric,
        "prefilter_k": result.k,
        "exhaustive": result.exhaustive,
        "search": result.search,
        "search_info": result.search_info,
        "frames": int(len(result)),
        "matched_frames": int(ok.sum()),
        "unmatched_frames": int((~ok).sum()),
        "mean_target_cost": float(np.nanmean(result.target_cost)) if ok.any() else None,
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        "plots": [f"comparison_{t:05d}.png" if len(plot_frames) > 1 else "comparison.png" for t in plot_frames],
    }
    summary.update(summary_extra or {})
    protect = [*protect, (track.path, "the match input"), (getattr(db, "path_", None), "the database being read")]
    opened = atomic_directory(out, force=force, error=InputError, kind="match", protect=protect) if folder is None \
        else contextlib.nullcontext(folder.tmp)
    with opened as tmp:
        if folder is not None:
            folder.wait()
        write_csv(tmp / "selection.csv", table)
        write_openpose_folder(tmp / "matched", np.where(np.isfinite(matched_kp), matched_kp, np.nan),
                              frames=track.frames, prefix=safe_prefix(track.name))
        np.save(tmp / "input_keypoints.npy", np.asarray(track.keypoints, np.float32))
        np.save(tmp / "matched_keypoints.npy", np.asarray(matched_kp, np.float32))
        for t, name in zip(plot_frames, summary["plots"]):
            who = input_name(track)
            save_comparison(tmp / name, track.keypoints, matched_kp, t, labels=labels, costs=result.target_cost,
                            input_name=who,
                            title=f"{track.name}: {who} (black) vs match (blue), metric {result.metric}")
        if write_files is not None:
            done = write_files(tmp)
            if isinstance(done, dict) and isinstance(done.get("summary"), dict):
                summary.update(done["summary"])  # what the videos' writer wants said (its self-check counts)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def safe_prefix(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "input"


def load_match_outputs(out: str | os.PathLike) -> dict:
    """Read back what :func:`write_match_outputs` wrote.

    Returns
    -------
    dict with ``input`` and ``matched`` (n_frames, 70, 3) arrays, ``selection``
    (DataFrame) and ``summary`` (dict).
    """
    out = Path(out)
    need = ["selection.csv", "input_keypoints.npy", "matched_keypoints.npy", "summary.json"]
    missing = [n for n in need if not (out / n).is_file()]
    if missing:
        raise InputError(f"not a sketchsynth match output (missing {', '.join(missing)}); "
                         "run sketchsynth match first", out)
    import pandas as pd

    try:
        from ..io.npy import load_npy

        res = {"input": load_npy(out / "input_keypoints.npy"), "matched": load_npy(out / "matched_keypoints.npy"),
               "selection": pd.read_csv(out / "selection.csv"),
               "summary": json.loads((out / "summary.json").read_bytes())}
    except (OSError, ValueError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise InputError(f"cannot read match output ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})",
                         out) from None
    n = len(res["selection"])
    for name in ("input", "matched"):
        a = res[name]
        if a.ndim != 3 or a.shape[1:] != (70, 3) or not np.issubdtype(a.dtype, np.floating):
            raise InputError(f"{name}_keypoints.npy has shape {a.shape} ({a.dtype}), expected (frames, 70, 3) "
                             "floats; run sketchsynth match again", out)
        if len(a) != n:
            raise InputError(f"the files disagree in length: selection.csv has {n} rows, {name}_keypoints.npy "
                             f"{len(a)} frames; run sketchsynth match again", out)
    need_cols = {"recording", "frame", "target_cost"}
    if not need_cols <= set(res["selection"].columns) or not isinstance(res["summary"], dict):
        raise InputError(f"selection.csv lacks columns {sorted(need_cols - set(res['selection'].columns))} or "
                         "summary.json is not an object; run sketchsynth match again", out)
    for col in ("frame", "target_cost"):
        if not pd.api.types.is_numeric_dtype(res["selection"][col]):
            raise InputError(f"selection.csv column {col} holds non-numbers; run sketchsynth match again", out)
    if n == 0:
        raise InputError("the match output has no frames", out)
    return res
