"""Held-out evaluation: the method's protocol made reproducible.

Split the recordings into a database part and a held-out part, build the
database from the first, synthesize the second from it, and compare the output
with the held-out truth. Splits are by recording (``"sa1"``: the whole recording
is held out) or by a range of frame numbers within one (``"henan:7821-11000"``);
``"each"`` holds out every recording in turn (leave-one-out) and pools the
results. Held-out frames never reach the database (:func:`split_tracks` checks).

Metrics (over usable held-out frames; "normalized" = the database's normalized
space, where the etalon face's anchors sit):

- ``target_cost``: the method's per-frame cost of the chosen frames (mean).
- ``lmd_norm`` / ``lmd_px``: mouth landmark distance, the mean distance over the
  mouth points (48-67) between output and truth, normalized units / input pixels.
- ``face_dist``: weighted mean point distance over the whole face (normalized).
- ``velocity_error``: weighted mean distance between output and truth
  frame-to-frame displacements (normalized units per frame).
- ``jitter_px`` / ``truth_jitter_px``: mean magnitude of the second difference of the
  mouth points in input pixels, of the output and of the input's own track.
- ``jumps_per_s``, ``mean_run_frames``: how often the output leaves a recording.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .holdout import make_folds, split_tracks
from .sequence_metrics import pool, sequence_sums


DEFAULT_SMOOTH_GRID = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Join weights the report compares with the per-frame match (greedy, lambda = 0)."""


# ---------------------------------------------------------------------------- protocol
@dataclass
class Config:
    """One row of the report: how the held-out input is synthesized."""

    name: str
    smooth: float = 0.0
    jump_cost: float = 0.0
    input_filter: str = "none"
    db_filter: str = "none"
    seam_blend: int = 0
    join: str = "successor"
    curve: bool = False
    """Part of the lambda sweep (drawn as one line in the plot)."""

    def key(self):
        return (self.db_filter, self.input_filter)


@dataclass
class Report:
    """What :func:`evaluate` measured; ``rows`` is the table (one dict per config)."""

    rows: list
    folds: list
    settings: dict
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "folds": self.folds, "rows": self.rows, "timings_s": self.timings}


def default_configs(smooth=None, jump_cost=None, smooth_grid=DEFAULT_SMOOTH_GRID, filters=("one-euro", "savgol"),
                    seam_blend: int = 4, db_filter: str | None = "savgol") -> list[Config]:
    """Greedy, Viterbi over ``smooth_grid`` and, at the default lambda, seam blending and filters."""
    from ..selection.decode import DEFAULT_JUMP_COST, DEFAULT_SMOOTH

    lam = DEFAULT_SMOOTH if smooth is None else smooth
    jc = DEFAULT_JUMP_COST if jump_cost is None else jump_cost
    grid = sorted(set(float(x) for x in smooth_grid) | {float(lam)})
    out = [Config("greedy (per-frame)", 0.0, curve=True)]
    out += [Config(f"viterbi λ={g:g}, jump cost {jc:g}" + (" (default)" if g == lam else ""), g, jc, curve=True)
            for g in grid if g > 0]
    if jc > 0:
        # the join's distance term alone, for comparison with the jump cost's effect
        out.append(Config("viterbi λ=2, jump cost 0", 2.0, 0.0))
    if seam_blend:
        out.append(Config(f"viterbi λ={lam:g} + seam blend {seam_blend}", lam, jc, seam_blend=seam_blend))
    for f in filters or ():
        out.append(Config(f"viterbi λ={lam:g}, input {f}", lam, jc, input_filter=f))
    if db_filter and db_filter != "none":
        out.append(Config(f"greedy, db + input {db_filter}", 0.0, 0.0, input_filter=db_filter, db_filter=db_filter))
        out.append(Config(f"viterbi λ={lam:g}, db + input {db_filter}", lam, jc, input_filter=db_filter,
                          db_filter=db_filter))
    return out


def evaluate(tracks, holdout=None, configs=None, metric: str = "sum", candidates: int | None = None,
             guard: int = 0, db_params: dict | None = None, beam: float | None = None, progress=None,
             search: str = "auto", ivf=None) -> Report:
    """Build a database from part of the recordings, synthesize the rest, compare with the truth.

    Parameters
    ----------
    tracks : list of Track
        The recordings (see :func:`sketchsynth.sources.load.load_tracks`).
    holdout : list of str, optional
        See :func:`make_folds`.
    configs : list of Config, optional
        Default :func:`default_configs`.
    metric : {"sum", "sq"}
    candidates : int, optional
        Lattice top-K (default :data:`sketchsynth.selection.decode.DEFAULT_CANDIDATES`).
    guard : int
        See :func:`split_tracks`.
    db_params : dict, optional
        Passed to :class:`~sketchsynth.database.frame_database.FrameDatabase` (weights, mode, anchors...).
    beam : float, optional
        The decoders' beam (see :class:`~sketchsynth.selection.decode.ViterbiDecoder`).
    progress : callable(str), optional
        Called with a line per step.
    search : {"auto", "exact", "ivf"}
        The candidate search of every match (see :func:`sketchsynth.selection.matching.match`).
    ivf : IVFSearch, optional
        Its IVF parameters.

    Returns
    -------
    Report
    """
    from ..database.frame_database import FrameDatabase
    from ..outputs.placement import blend_seams
    from ..selection.decode import DEFAULT_CANDIDATES, ViterbiDecoder
    from ..selection.joins import ratio
    from ..selection.lattice import build_lattice
    from ..selection.select import select
    from ..targets.face import keypoint_target
    from ..sources.filters import filter_keypoints
    from ..selection.candidates import DEFAULT_PREFILTER_K
    from ..database.normalize import Normalizer

    configs = configs or default_configs()
    K = DEFAULT_CANDIDATES if candidates is None else candidates
    folds = make_folds(tracks, holdout)
    log = progress or (lambda s: None)
    sums = {i: [] for i in range(len(configs))}
    fold_info = []
    fps_all = []
    t_start = time.perf_counter()
    timings = {"build_db_s": 0.0, "match_s": 0.0, "decode_s": 0.0}
    for fold in folds:
        db_tracks, heldout = split_tracks(tracks, fold, guard)
        fold_info.append({"holdout": [str(h) for h in fold],
                          "database_frames": int(sum(len(t) for t in db_tracks)),
                          "heldout": [{"name": h.name, "frames": int(len(h)), "fps": float(h.fps)} for h in heldout]})
        dbs = {}
        for db_filter in dict.fromkeys(c.db_filter for c in configs):
            t0 = time.perf_counter()
            dbs[db_filter] = FrameDatabase(**(db_params or {}), track_filter=db_filter).build(db_tracks)
            timings["build_db_s"] += time.perf_counter() - t0
        for db_filter, db in dbs.items():
            ViterbiDecoder(candidates=K).check(db)
            log(f"fold {'+'.join(map(str, fold))}: database of {db.n_usable_} usable frames"
                f"{'' if db_filter == 'none' else f' (filter {db_filter})'}")
        for h in heldout:
            fps_all.append(h.fps)
            cache = {}
            for i, c in enumerate(configs):
                db = dbs[c.db_filter]
                if c.key() not in cache:
                    t0 = time.perf_counter()
                    kp_in = h.keypoints if c.input_filter == "none" else \
                        filter_keypoints(h.keypoints, h.fps, c.input_filter, frames=h.frames)
                    target = keypoint_target(db, kp_in, h.frames, h.fps)
                    lat = build_lattice(db, target, max(DEFAULT_PREFILTER_K, K), metric, search, ivf)
                    fold_info[-1].setdefault("search", lat.search)
                    truth_norm, _, ok = db.normalize(h.keypoints)
                    truth_norm = np.where(ok[:, None, None], truth_norm, np.nan)
                    cache[c.key()] = (target, lat, truth_norm)
                    timings["match_s"] += time.perf_counter() - t0
                target, lat, truth_norm = cache[c.key()]
                if lat.usable.sum() < 2:
                    raise InputError(f"held-out part {h.name} has {int(lat.usable.sum())} usable frames; "
                                     "need at least 2", h.path)
                t0 = time.perf_counter()
                dec = ViterbiDecoder(smooth=c.smooth, candidates=K, join=c.join, jump_cost=c.jump_cost, beam=beam)
                d = select(db, target, dec, lattice=lat).result.decoding
                timings["decode_s"] += time.perf_counter() - t0
                out_norm = blend_seams(db, d.rows, d.is_jump, c.seam_blend)
                ok = d.rows >= 0
                out_px = np.full((len(d.rows), 70, 3), np.nan)
                out_px[ok, :, :2] = Normalizer.inverse_transform(out_norm[ok], target.matrices[ok])
                sums[i].append(sequence_sums(db, d.rows, d.target_cost, out_norm, out_px, h.keypoints, truth_norm,
                                             d.segment_start))
        log(f"fold {'+'.join(map(str, fold))}: {len(configs)} configurations done")
    fps = float(np.mean(fps_all))
    rows = []
    for i, c in enumerate(configs):
        m = pool(sums[i], fps)
        rows.append({"name": c.name, "smooth": c.smooth, "jump_cost": c.jump_cost, "join": c.join,
                     "input_filter": c.input_filter, "db_filter": c.db_filter, "seam_blend": c.seam_blend,
                     "curve": c.curve, **m})
    base = next((r for r in rows if r["smooth"] == 0 and r["input_filter"] == "none"
                 and r["db_filter"] == "none"), None)
    for r in rows:
        if base:
            # Both safe at 0 (two identical takes match at cost 0, a perfect match makes no jumps).
            r["jump_reduction"] = (float("inf") if r["jumps_per_s"] == 0 and base["jumps_per_s"] > 0
                                   else ratio(base["jumps_per_s"], r["jumps_per_s"]))
            r["cost_rise"] = ratio(r["target_cost"], base["target_cost"]) - 1
    timings["total_s"] = time.perf_counter() - t_start
    settings = {"metric": metric, "candidates": K, "guard": guard, "fps": fps, "beam": beam, "search": search,
                "nprobe": None if ivf is None else ivf.nprobe,
                "database": {k: (np.asarray(v).tolist() if isinstance(v, (np.ndarray, tuple)) else v)
                             for k, v in (db_params or {}).items()}}
    return Report(rows, fold_info, settings, {k: round(v, 3) for k, v in timings.items()})


# ---------------------------------------------------------------------------- report files
def markdown_table(report: Report) -> str:
    """The report's table as GitHub markdown."""
    head = ("| configuration | jumps/s | × fewer jumps | mean run (frames) | target cost | cost rise "
            "| LMD (norm) | LMD (px) | face dist (norm) | velocity error (norm) | jitter px (truth) |")
    lines = [head, "|" + "|".join(["---"] * 11) + "|"]
    for r in report.rows:
        lines.append(
            f"| {r['name']} | {r['jumps_per_s']:.2f} | {r.get('jump_reduction', float('nan')):.2f} "
            f"| {r['mean_run_frames']:.1f} | {r['target_cost']:.4g} | {100 * r.get('cost_rise', float('nan')):+.1f}% "
            f"| {r['lmd_norm']:.3f} | {r['lmd_px']:.2f} | {r['face_dist']:.3f} | {r['velocity_error']:.3f} "
            f"| {r['jitter_px']:.2f} ({r['truth_jitter_px']:.2f}) |")
    return "\n".join(lines)


def save_lmd_plot(report: Report, path) -> str:
    """LMD (px) against jumps per second, one point per configuration."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=150)
    ax = fig.add_subplot(1, 1, 1)
    plain = [r for r in report.rows if r.get("curve")]
    plain.sort(key=lambda r: r["smooth"])
    ax.plot([r["jumps_per_s"] for r in plain], [r["lmd_px"] for r in plain], "o-", color="tab:blue",
            label="per-frame (λ=0) and Viterbi, λ sweep")
    for r in plain:
        ax.annotate(f"λ={r['smooth']:g}", (r["jumps_per_s"], r["lmd_px"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    other = [r for r in report.rows if r not in plain]
    for r in other:
        ax.plot([r["jumps_per_s"]], [r["lmd_px"]], "s", ms=5, label=r["name"])
    ax.set_xlabel("jumps per second (output leaves a recording)")
    ax.set_ylabel("mouth landmark distance (input pixels)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    return os.fspath(path)


def write_report(out, report: Report, force: bool = False, title: str = "", protect=()) -> dict:
    """Write ``report.md``, ``report.json`` and ``lmd_vs_jumps.png`` into ``out`` (atomically).

    ``protect``: paths ``out`` must not be, contain or lie inside (the recordings evaluated).

    Returns
    -------
    dict
        Paths written.
    """
    from ..io.storage import atomic_directory

    md = [f"# sketchsynth evaluation{': ' + title if title else ''}", ""]
    for f in report.folds:
        held = ", ".join(f"{h['name']} ({h['frames']} frames)" for h in f["heldout"])
        md.append(f"- held out: {held}; database: {f['database_frames']} frames")
    s = report.settings
    md += [f"- metric {s['metric']}, lattice top-{s['candidates']}, guard {s['guard']} frames, "
           f"fps {s['fps']:g}; jump cost in units of the median per-frame target cost", "",
           markdown_table(report), "",
           "LMD: mean distance over mouth points 48-67 between output and held-out truth; face dist: weighted "
           "mean point distance; velocity error: weighted mean distance between frame-to-frame displacements; "
           "jitter: mean second difference of the mouth points (output, and in brackets the input's own). "
           "Target cost is measured against the query as matched (the filtered input where a filter is "
           "named); every other column against the unfiltered held-out truth. Cost rise and × fewer jumps "
           "are relative to the per-frame match.", ""]
    with atomic_directory(out, force=force, error=InputError, kind="evaluate", protect=protect) as tmp:
        (tmp / "report.md").write_text("\n".join(md))
        (tmp / "report.json").write_text(json.dumps(report.to_dict(), indent=1))
        save_lmd_plot(report, tmp / "lmd_vs_jumps.png")
    return {"markdown": os.path.join(out, "report.md"), "json": os.path.join(out, "report.json"),
            "plot": os.path.join(out, "lmd_vs_jumps.png")}
