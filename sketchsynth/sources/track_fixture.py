"""Shipped face tracks: the tracker's own output for bundled videos, used to seed the track cache.

Tracking the demo's 7,500 bundled GRID frames takes about a minute on two
cores, so ``examples/grid_s1/tracks.npz`` ships what :class:`FaceTracker`
produced for them. dlib's 68 landmarks are whole pixels, so they are stored
exactly as ``int16``; the pupils (68, 69) and confidences are recomputed the
way the tracker computes them (:meth:`FaceTracker.to_openpose`), which makes
a seeded cache entry equal to the one tracking would write.

Seeding is honest: an entry is written only for a file whose SHA-256 equals
the one the fixture was made from, and only when the fixture's tracker
parameters and version equal the running tracker's cache parameters. Anything
else (an edited clip, a newer tracker) is simply tracked.

Fixture layout (one ``np.savez_compressed`` file): ``meta`` (JSON: tracker
parameters, model, and per video its name, sha256 and video properties) and
per video ``<name>/points`` (n_frames, 68, 2) int16 (0 without a face),
``<name>/face`` (n_frames,) bool, ``<name>/n_faces`` int16,
``<name>/detected`` bool, ``<name>/time_s`` float64, ``<name>/det_score`` float32
(dlib's detector score, NaN on followed frames).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_fixture(path, videos, tracker=None, progress=None) -> dict:
    """Track (or read from the cache) every video and store the tracks compactly.

    Parameters
    ----------
    path : path
        The ``.npz`` to write.
    videos : list of path
        The files shipped; each is named by its stem in the fixture.
    tracker : FaceTracker, optional
        Default parameters when omitted.

    Returns
    -------
    dict
        The fixture's ``meta``.
    """
    from .tracker import FaceTracker

    tracker = tracker or FaceTracker()
    arrays, entries = {}, []
    for v in videos:
        tv = tracker.track(v)
        if tv.det_score is None:  # cached before detector scores were kept: track again
            params = {k: val for k, val in tracker.get_params().items() if k != "cache"}
            tv = type(tracker)(**params, cache=False).track(v)
        name = Path(v).stem
        kp = tv.keypoints
        face = tv.n_faces > 0
        pts = np.where(face[:, None, None], kp[:, :68, :2], 0)
        if not np.array_equal(pts, np.round(pts)) or np.abs(pts).max(initial=0) > 32767:
            raise ValueError(f"{v}: landmarks are not whole pixels; the fixture stores dlib's integer output")
        arrays[f"{name}/points"] = pts.astype(np.int16)
        arrays[f"{name}/face"] = face
        arrays[f"{name}/n_faces"] = tv.n_faces.astype(np.int16)
        arrays[f"{name}/detected"] = tv.detected.astype(bool)
        arrays[f"{name}/time_s"] = tv.time_s.astype(np.float64)
        arrays[f"{name}/det_score"] = np.asarray(tv.det_score, np.float32)
        video = dict(tv.info["video"])
        video.pop("path", None)
        entries.append({"name": name, "sha256": file_sha256(v), "video": video})
        if progress:
            progress(1)
    meta = {"tracker": tracker.cache_params(), "model": tv.info.get("model") if videos else None, "videos": entries}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
    return meta


def fixture_track(z, name: str, meta_entry: dict, tracker_meta: dict, path: str):
    """The :class:`TrackedVideo` stored in an open fixture for one video."""
    from .track_cache import TrackedVideo
    from .tracker import FaceTracker

    pts = z[f"{name}/points"].astype(np.float64)
    face = z[f"{name}/face"]
    kp = FaceTracker.to_openpose([p if f else None for p, f in zip(pts, face)])
    info = {"video": {"path": os.path.abspath(path), **meta_entry["video"]}, "tracker": tracker_meta["tracker"],
            "model": tracker_meta["model"]}
    score = z[f"{name}/det_score"] if f"{name}/det_score" in z.files else None
    return TrackedVideo(kp, z[f"{name}/time_s"], z[f"{name}/n_faces"], z[f"{name}/detected"], info,
                        det_score=score)


def seed_track_cache(fixture, videos, tracker=None) -> dict:
    """Write cache entries for ``videos`` from ``fixture`` where it holds their real tracks.

    Parameters
    ----------
    fixture : path
        A file written by :func:`write_fixture`.
    videos : list of path
        Files to seed (matched to the fixture by stem, then checked by SHA-256).
    tracker : FaceTracker, optional
        The tracker whose cache is seeded (default parameters when omitted).

    Returns
    -------
    dict
        Counts: ``seeded`` (written), ``cached`` (already there), ``skipped``
        (not in the fixture, content differs, or other tracker parameters:
        these are tracked when used), and ``reason`` for a wholesale skip.
    """
    from .tracker import FaceTracker
    from .track_cache import cache_file, write_cache, cache_key

    tracker = tracker or FaceTracker()
    out = {"seeded": 0, "cached": 0, "skipped": 0, "reason": None}
    videos = [os.fspath(v) for v in videos]
    if not tracker.cache or not os.path.isfile(fixture):
        out["skipped"] = len(videos)
        out["reason"] = "track cache off" if not tracker.cache else "no fixture"
        return out
    params = tracker.cache_params()
    with np.load(fixture, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta["tracker"] != params:
            out["skipped"] = len(videos)
            out["reason"] = "the fixture was made with other tracker parameters or version"
            return out
        by_name = {e["name"]: e for e in meta["videos"]}
        for v in videos:
            entry = by_name.get(Path(v).stem)
            key = cache_key(v, params)
            if cache_file(key).is_file():
                out["cached"] += 1
            elif entry is None or file_sha256(v) != entry["sha256"]:
                out["skipped"] += 1
            else:
                write_cache(key, fixture_track(z, entry["name"], entry, meta, v))
                out["seeded"] += 1
    return out
