"""Validation of a database's manifest.json: every field a load, ``match`` or ``info`` uses, in one place."""

from __future__ import annotations

import numpy as np

from ..layout import N_POINTS


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)


def _points_problem(v, what: str, count: int | None = None) -> str | None:
    if not isinstance(v, list) or not all(_is_int(i) and 0 <= i < N_POINTS for i in v) or len(set(v)) != len(v):
        return f"{what} must be distinct point numbers 0-{N_POINTS - 1}"
    if count is not None and len(v) != count:
        return f"{what} must be {count} points, has {len(v)}"
    return None


def manifest_problem(man: dict) -> str | None:
    """What is wrong with a manifest's fields (types, lengths, ranges, consistent counts), or None.

    The one place that validates every manifest field a load, ``match`` or
    ``info`` uses, so a hand-edited or damaged manifest is one clean error.
    """
    from ..sources.filters import METHODS
    from .normalize import MODES

    for key, kind in (("params", dict), ("etalon", dict), ("counts", dict), ("recordings", list)):
        if not isinstance(man.get(key), kind):
            return f"'{key}' must be a{'n object' if kind is dict else ' list'}"
    for key in ("sketchsynth_version", "created"):
        if not isinstance(man.get(key), str):
            return f"'{key}' must be a string"
    for name, meta in man["files"].items():
        if not isinstance(meta, dict) or not _is_int(meta.get("bytes")) or meta["bytes"] < 0 or \
                not isinstance(meta.get("sha256"), str) or len(meta["sha256"]) != 64:
            return f"files.{name} must hold 'bytes' (a whole number) and 'sha256' (64 hex digits)"
        if "crc32" in meta and not (_is_int(meta["crc32"]) and 0 <= meta["crc32"] < 1 << 32):
            return f"files.{name}.crc32 must be a 32-bit whole number"
    p = man["params"]
    w = p.get("weights")
    if not isinstance(w, list) or len(w) != N_POINTS or not all(_is_number(x) and x >= 0 for x in w) or \
            not sum(w) > 0:
        return f"params.weights must be {N_POINTS} finite numbers >= 0, not all 0"
    norm = p.get("normalization")
    if not isinstance(norm, dict) or norm.get("mode") not in MODES:
        return f"params.normalization.mode must be one of {', '.join(MODES)}"
    problem = _points_problem(norm.get("anchors"), "params.normalization.anchors", 3) or \
        _points_problem(norm.get("stable_points"), "params.normalization.stable_points")
    if problem:
        return problem
    if len(norm["stable_points"]) < 2:
        return "params.normalization.stable_points must be at least 2 points"
    if "max_condition" in norm and not (_is_number(norm["max_condition"]) and norm["max_condition"] > 0):
        return "params.normalization.max_condition must be a number > 0"
    if not (_is_number(p.get("anchor_min_confidence")) and 0 <= p["anchor_min_confidence"] <= 1):
        return "params.anchor_min_confidence must be a number within 0-1"
    if not (_is_int(p.get("max_gap")) and p["max_gap"] >= 0):
        return "params.max_gap must be a whole number >= 0"
    if not (isinstance(p.get("person"), str) or _is_int(p.get("person"))):
        return "params.person must be a rule name or a person index"
    if p.get("track_filter", "none") not in METHODS:
        return f"params.track_filter must be one of {', '.join(METHODS)}"
    c = man["counts"]
    if not (_is_int(c.get("frames")) and c["frames"] >= 0 and _is_int(c.get("usable"))
            and 0 <= c["usable"] <= c["frames"]):
        return "counts.frames and counts.usable must be whole numbers with 0 <= usable <= frames"
    e = man["etalon"]
    pts = e.get("points")
    if not (isinstance(pts, list) and len(pts) == N_POINTS and
            all(isinstance(q, list) and len(q) == 2 and all(_is_number(x) for x in q) for q in pts)):
        return f"etalon.points must be {N_POINTS} pairs of finite numbers"
    if not (_is_int(e.get("row", -1)) and -1 <= e.get("row", -1) < max(c["frames"], 1)):
        return "etalon.row must be a frame row of the database (or -1)"
    total = 0
    for i, r in enumerate(man["recordings"]):
        if not (isinstance(r, dict) and isinstance(r.get("name"), str) and _is_int(r.get("n_frames"))
                and r["n_frames"] >= 0 and _is_number(r.get("fps")) and r["fps"] > 0
                and isinstance(r.get("fps_source"), str)):
            return f"recordings[{i}] must hold name, n_frames, fps > 0 and fps_source"
        if r.get("video") is not None and not isinstance(r["video"], str):
            return f"recordings[{i}].video must be a path or null"
        if "extra" in r and not isinstance(r["extra"], dict):
            return f"recordings[{i}].extra must be an object"
        total += r["n_frames"]
    if total != c["frames"]:
        return f"the recordings hold {total} frames, counts.frames says {c['frames']}"
    return None
