"""Scale-benchmark recordings (1M-10M frames) made from the real tracks in ../shared/data.

Sources (real, nothing synthesized from scratch):

- henan frames 1-7820 (OpenPose JSON, 30 fps); frames 7821-11000 stay held out as the input;
- the 800 GRID s1 sentences (25 fps), tracked by sketchsynth's tracker (read from the track cache,
  ``$SKETCHSYNTH_CACHE/tracks``, when the videos were tracked before; else tracked now).

A database of N frames is a sequence of *sessions* -- alternately a henan session (the 7,820 frames) and a
GRID session (the 800 sentences one after another, about 60,000 frames) -- until N frames are written; each
session is a variant of its source, with its own seed:

- *time-warped*: resampled at a speed drawn from 0.8-1.25x, piecewise (a new speed every 2 s of output),
  x and y linearly interpolated between the neighbouring recorded frames (confidence: the smaller of the two);
- *mirrored* with probability 1/2: left-right flipped about the session's mean x, points relabelled with
  :data:`sketchsynth.layout.MIRROR`;
- *noisy*: Gaussian noise of 0.3 px on x and y (about the tracker's own jitter; variants are never
  exact duplicates);
- session 0 (henan) and session 1 (GRID) are the originals, unwarped, unmirrored, without noise.

Each session is one ``.npy`` landmark recording of shape (T, 70, 3) float32 with a ``NAME.fps.txt``
sidecar, written block-wise (memory stays small whatever N).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from _data import DB_RANGE, HENAN, SHARED, henan_files

GRID_VIDEOS = SHARED / "grid_s1" / "video"
NOISE_PX = 0.3
SPEED_RANGE = (0.8, 1.25)
WARP_PIECE_S = 2.0


def henan_source():
    """henan frames 1-7820: keypoints (7820, 70, 3) float32 and the frame rate."""
    from sketchsynth.io.openpose import read_openpose_files

    src = henan_files(*DB_RANGE)
    (kp, _), = read_openpose_files([(HENAN, [p.name for p in src])])
    return kp, 30.0


def grid_source():
    """The 800 GRID s1 sentences tracked (cached tracks when present), concatenated in name order.

    Returns
    -------
    keypoints : np.ndarray, shape (~60000, 70, 3), float32
    fps : float
    """
    from sketchsynth.sources.recordings import Recording
    from sketchsynth.sources.tracking import track_video_recordings

    videos = sorted(glob.glob(os.fspath(GRID_VIDEOS / "*.mp4")))
    if not videos:
        raise SystemExit(f"scale benchmark needs the GRID s1 videos in {GRID_VIDEOS}")
    recs = [Recording(Path(v).stem, v, "video", os.fspath(GRID_VIDEOS)) for v in videos]
    tracks = track_video_recordings(recs, n_workers=2, progress=False)
    return np.concatenate([t.keypoints for t in tracks]).astype(np.float32), float(tracks[0].fps)


def variant(kp: np.ndarray, fps: float, seed: int, original: bool = False) -> np.ndarray:
    """One session: ``kp`` (T, 70, 3) time-warped, maybe mirrored, with noise (see the module doc)."""
    if original:
        return kp
    rng = np.random.default_rng(seed)
    n = len(kp)
    # piecewise-constant speed: source time advanced per output frame
    piece = int(WARP_PIECE_S * fps)
    t, pos = [], 0.0
    while pos < n - 1:
        s = rng.uniform(*SPEED_RANGE)
        steps = pos + s * np.arange(piece)
        steps = steps[steps <= n - 1]
        t.append(steps)
        pos = steps[-1] + s
    t = np.concatenate(t)
    i0 = np.floor(t).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    f = (t - i0).astype(np.float32)[:, None]
    a, b = kp[i0], kp[i1]
    out = np.empty((len(t), 70, 3), np.float32)
    out[..., :2] = a[..., :2] * (1 - f[..., None]) + b[..., :2] * f[..., None]
    out[..., 2] = np.minimum(a[..., 2], b[..., 2])
    present = out[..., 2] > 0
    out[..., :2] += rng.normal(0, NOISE_PX, size=out[..., :2].shape).astype(np.float32)
    if rng.random() < 0.5:
        from sketchsynth.layout import mirror_keypoints

        axis = float(np.nanmean(np.where(present, out[..., 0], np.nan)))
        out = mirror_keypoints(out, axis)
    out[~present] = 0
    return out


def make_scale_recordings(dst: Path, n_frames: int, log=print) -> Path:
    """Write sessions adding up to ``n_frames`` frames into ``dst`` (reused when already complete)."""
    dst = Path(dst)
    stamp = dst / ".complete"
    key = f"{n_frames} {NOISE_PX} {SPEED_RANGE} v1"
    if stamp.exists() and stamp.read_text().strip() == key:
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.glob("session_*"):
        old.unlink()
    sources = [henan_source(), grid_source()]
    left, s = n_frames, 0
    while left > 0:
        kp, fps = sources[s % 2]
        v = variant(kp, fps, seed=10_000 + s, original=s < 2)[:left]
        name = f"session_{s:04d}_{'henan' if s % 2 == 0 else 'grid'}"
        np.save(dst / f"{name}.npy", np.ascontiguousarray(v, np.float32))
        (dst / f"{name}.fps.txt").write_text(f"{fps:g}\n")
        left -= len(v)
        s += 1
        if s % 20 == 0:
            log(f"  {n_frames - left:,} of {n_frames:,} frames written ({s} sessions)")
    stamp.write_text(key)
    return dst
