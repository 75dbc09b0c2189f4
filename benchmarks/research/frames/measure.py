"""Measure a written frames.mp4 against the real recording of the same moments (issue 21's four figures).

    PYTHONPATH=/work/proto python measure.py OUT_DIR --real REAL.mp4 --db-video DB.mp4 [--db DBDIR] [--json F]

OUT_DIR is a ``sketchsynth match`` output folder (frames.mp4, videos.json). REAL.mp4 is the real recording of
the driving part (the driver: what the speaker really did at those moments); DB.mp4 the database recording,
whose own re-tracked geometry range defines "plausible". Every video is tracked with sketchsynth's built-in
tracker (:class:`sketchsynth.sources.tracker.FaceTracker`, default settings, no jitter filter), so the
output and the real recording are measured the same way.

Figures
-------
- ``r_retracked``: Pearson r between the mouth opening (mean outer-lip gap 50-58, 51-57, 52-56 over the
  inter-ocular distance 36-45, :data:`OPEN_PAIRS`) re-tracked on frames.mp4 and the driver's (the real
  recording's track). ``r_chosen``: the same for the chosen database frames' own keypoints (what survives
  is r_retracked / r_chosen).
- ``implausible``: share of frames whose geometry -- nose-to-chin (30-8), jaw width (4-12), nose-to-lip
  (33-51), each over the inter-ocular distance -- lies outside the database recording's own p0.5-p99.5 range
  on any of the three (a frame where the tracker finds no face counts as implausible). Printed beside it:
  the real recording's own share (``implausible_real``).
- ``sharpness_ratio``: median over frames of the variance of the Laplacian of the grey mouth region (box around
  points 48-67 grown by 0.3 IOD), output / real.
- ``change_p99_ratio``: 99th percentile over frames of the mean absolute BGR change from the previous frame
  inside the current frame's mouth box, output / real.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

GEOM_PAIRS = {"nose_chin": (30, 8), "jaw_width": (4, 12), "nose_lip": (33, 51)}
BOX_GROW = 0.3


def track(path, cache=True):
    from sketchsynth.sources.tracker import FaceTracker

    return np.asarray(FaceTracker(cache=cache).track(str(path)).keypoints, np.float64)


def has_face(kp):
    return kp[:, :68, 2].max(axis=1) > 0


def iod(kp):
    return np.linalg.norm(kp[:, 36, :2] - kp[:, 45, :2], axis=-1)


def geometry(kp):
    """(n, 3) nose-chin, jaw width, nose-lip over IOD (NaN: no face)."""
    d = iod(kp)
    g = np.stack([np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=-1) / d for a, b in GEOM_PAIRS.values()], 1)
    g[~has_face(kp)] = np.nan
    return g


OPEN_PAIRS = ((50, 58), (51, 57), (52, 56))
"""Outer-lip pairs whose mean gap over the IOD is the opening (the inner-lip gap 62-66 of this anchor is
2-3 px and drowns in tracker noise: its r between the filtered input and the raw track is 0.89, the chosen
keypoints' 0.40; with the outer lips 0.94 and 0.82, the issue's "r 0.84-0.87 in keypoints")."""


def opening(kp):
    o = np.mean([np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=-1) for a, b in OPEN_PAIRS], axis=0) / iod(kp)
    o[~has_face(kp)] = np.nan
    return o


def pearson(a, b):
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], float), np.asarray(b[:n], float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def implausible_share(g, lo, hi):
    bad = ~np.isfinite(g).all(axis=1) | (g < lo).any(axis=1) | (g > hi).any(axis=1)
    return float(bad.mean()), bad


def mouth_boxes(kp, size):
    """(n, 4) x0, y0, x1, y1 ints of the mouth region; previous frame's box where no face."""
    w, h = size
    boxes = np.zeros((len(kp), 4), np.int64)
    last = np.array([w // 3, h // 2, 2 * w // 3, 5 * h // 6])
    ok = has_face(kp)
    d = iod(kp)
    for i in range(len(kp)):
        if ok[i]:
            m = kp[i, 48:68, :2]
            g = BOX_GROW * d[i]
            last = np.array([max(0, m[:, 0].min() - g), max(0, m[:, 1].min() - g),
                             min(w, m[:, 0].max() + g), min(h, m[:, 1].max() + g)]).astype(np.int64)
        boxes[i] = last
    return boxes


def region_stats(video, kp):
    """Per-frame Laplacian variance of the grey mouth box and mean abs change there from the previous frame."""
    import cv2

    from sketchsynth.io.video import iter_frames

    sharp, change = [], []
    prev = None
    boxes = None
    for i, (_, _, img) in enumerate(iter_frames(str(video))):
        if i >= len(kp):
            break
        if boxes is None:
            boxes = mouth_boxes(kp, (img.shape[1], img.shape[0]))
        x0, y0, x1, y1 = boxes[i]
        patch = img[y0:y1, x0:x1]
        grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float32)
        sharp.append(float(cv2.Laplacian(grey, cv2.CV_32F).var()))
        if prev is not None:
            change.append(float(np.abs(patch.astype(np.float32) - prev[y0:y1, x0:x1].astype(np.float32)).mean()))
        prev = img
    return np.asarray(sharp), np.asarray(change)


def figures(out_dir, real, db_video, db_dir=None):
    out_dir = Path(out_dir)
    meta = json.loads((out_dir / "videos.json").read_text())
    kp_db = track(db_video)
    g_db = geometry(kp_db)
    g_db = g_db[np.isfinite(g_db).all(axis=1)]
    lo, hi = np.percentile(g_db, 0.5, axis=0), np.percentile(g_db, 99.5, axis=0)
    kp_real = track(real)
    kp_out = track(out_dir / "frames.mp4", cache=False)
    n = min(len(kp_real), len(kp_out))
    kp_real, kp_out = kp_real[:n], kp_out[:n]
    o_real, o_out = opening(kp_real), opening(kp_out)
    res = {"frames": int(n), "r_retracked": pearson(o_out, o_real)}
    if db_dir is not None and "db_rows" in meta:
        from sketchsynth.database import FrameDatabase

        db = FrameDatabase.load(db_dir)
        rows = np.asarray(meta["db_rows"], np.int64)[:n]
        kc = np.asarray(db.keypoints_, np.float64)[np.maximum(rows, 0)]
        oc = opening(np.concatenate([kc[..., :2], np.ones(kc.shape[:2] + (1,))], -1))
        oc[rows < 0] = np.nan
        res["r_chosen"] = pearson(oc, o_real)
    res["implausible"], bad = implausible_share(geometry(kp_out), lo, hi)
    res["implausible_real"], _ = implausible_share(geometry(kp_real), lo, hi)
    res["no_face_out"] = float((~has_face(kp_out)).mean())
    s_out, c_out = region_stats(out_dir / "frames.mp4", kp_out)
    s_real, c_real = region_stats(real, kp_real)
    res["sharpness_ratio"] = float(np.median(s_out) / np.median(s_real))
    res["change_p99_ratio"] = float(np.percentile(c_out, 99) / np.percentile(c_real, 99))
    res["change_p99_out"], res["change_p99_real"] = float(np.percentile(c_out, 99)), float(np.percentile(c_real, 99))
    res["geometry_range"] = {k: [float(a), float(b)] for k, a, b in zip(GEOM_PAIRS, lo, hi)}
    res["bad_frames"] = np.flatnonzero(bad).tolist()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--real", required=True)
    ap.add_argument("--db-video", required=True)
    ap.add_argument("--db", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    res = figures(a.out_dir, a.real, a.db_video, a.db)
    short = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items() if k not in ("bad_frames",)}
    print(json.dumps(short))
    if a.json:
        Path(a.json).write_text(json.dumps(res))


if __name__ == "__main__":
    main()
