"""Build a frame database into a folder, streaming: memory stays bounded by the chunk size and the index.

Three passes over the frames, a chunk at a time:

1. read every recording (OpenPose JSON read and parsed on several threads) and
   append the raw keypoints to ``keypoints.npy``;
2. assess each frame (usable? short gaps filled) and score its anchor triangle,
   to choose the etalon;
3. normalize against the etalon, append to ``normalized.npy`` and
   ``transforms.npy``, and add the usable frames to the FAISS index.

Passes 2 and 3 read the raw rows back from disk in windows that overlap by
``max_gap + 1`` frames, so gap filling sees the same neighbours as a whole-take
pass would. Nothing per frame is kept as a Python object except, per chunk, the
source names on their way into an Arrow column. (Keeping the assessed rows in
memory between passes 2 and 3 for short builds, instead of assessing twice, was
tried and measured: no faster on the 2-core VM this was tuned on -- there,
touching fresh memory costs as much as the second assessment saves -- and
slower when memory had gone cold.)

Each data file is checksummed and flushed to disk on a background thread as soon
as it is complete, while the build goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from . import quality
from ..errors import InputError
from ..io.npy import NpyAppender, read_npy_rows
from ..io.storage import sha256_file
from ..layout import N_POINTS
from .manifest_make import make_manifest
from .normalize import Normalizer


CHUNK = 65_536
REASONS = ("", quality.NO_PERSON, quality.ANCHOR_LOW_CONFIDENCE, quality.MISSING_POINTS,
           quality.DEGENERATE_ANCHORS, quality.HEAD_TURNED, quality.IMPLAUSIBLE_SHAPE, quality.LOW_CONFIDENCE,
           quality.LOW_DETECTOR_SCORE)
_REASON_CODE = {r: i for i, r in enumerate(REASONS)}


def _windows(n: int, size: int, margin: int):
    """(lo, a, b, hi): core rows a:b of 0:n with context lo:hi."""
    for a in range(0, n, size):
        b = min(n, a + size)
        yield max(0, a - margin), a, b, min(n, b + margin)


def _progress(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=None if enabled else True, leave=False)


def build_database(readers, out_dir, weights: np.ndarray, normalizer: Normalizer, anchor_min_confidence: float,
                   max_gap: int, person="largest", n_workers: int | None = None, progress: bool = False,
                   track_filter: str = "none", chunk: int | None = None, return_index: bool = False,
                   fit_gate: str = "auto", index: str = "auto"):
    """Write a complete database into ``out_dir`` (which the caller renames into place).

    Parameters
    ----------
    readers : list of RecordingReader
    out_dir : path
        An empty folder.
    weights : np.ndarray, shape (70,), float32
    normalizer : Normalizer
        Unfitted; its etalon is chosen here.
    anchor_min_confidence, max_gap, person :
        See :class:`sketchsynth.database.frame_database.FrameDatabase`.
    track_filter : {"none", "one-euro", "savgol"}
        Temporal filter against tracker jitter, applied to each recording's
        assessed keypoints before normalizing. A filter needs a recording's whole
        history, so with a filter each recording is held in memory once (one at a
        time) and the filtered keypoints are spooled to a scratch file.
    chunk : int, optional
        Frames per block (default :data:`CHUNK`); bounds the working memory
        (about 2 kB per frame).
    return_index : bool
        Also return the FAISS index written to index.faiss (saves reading it back).
    fit_gate : {"auto", "on", "off"}
        The tracker fit gate (:func:`sketchsynth.database.quality.fit_gate`: head turned,
        shape implausible against these recordings' own shape statistics, low
        confidence); ``auto`` applies it to recordings tracked from video.
    index : {"auto", "flat", "ivfpq", "ivfsq8"}
        The index written (:mod:`sketchsynth.database.indexes`): the flat one, or a compressed IVF trained on
        a sample and filled in chunks read back from normalized.npy; auto: compressed from
        :data:`sketchsynth.database.indexes.AUTO_MIN_FRAMES` usable frames on.

    Returns
    -------
    dict
        The manifest written to ``out_dir/manifest.json``; with ``return_index``,
        a tuple (manifest, the faiss index).
    """
    from .indexes import check_index_kind

    check_index_kind(index)
    out = Path(out_dir)
    n = sum(r.n_frames for r in readers)
    if n == 0:
        raise InputError("no frames in the recordings")
    chunk = CHUNK if chunk is None else chunk
    with _FileFinisher(out) as finisher:
        manifest, index = _build(readers, out, n, weights, normalizer, anchor_min_confidence, max_gap, person,
                                 n_workers, progress, track_filter, chunk, finisher, fit_gate, index)
    return (manifest, index) if return_index else manifest


class _FileFinisher:
    """Checksum and fsync data files on a background thread (hashlib and fsync release the GIL).

    A file is either hashed once it is complete (:meth:`done`), or hashed from
    the bytes as they are written (:meth:`feed`, then :meth:`done`), which saves
    reading it back when it is written while a core is free. One worker thread
    keeps every file's updates in order. The caller's
    :func:`sketchsynth.io.storage.atomic_directory` still fsyncs every file before
    the rename; it then finds them on disk already.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.digests: dict = {}
        self._streams: dict = {}

    def __enter__(self):
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sketchsynth-finish")
        return self

    def __exit__(self, *exc):
        self._pool.shutdown(wait=True, cancel_futures=True)

    def feed(self, name: str):
        """A function to call with each block written to ``name``, in order (bytes-like, not changed later)."""
        h = self._streams[name] = hashlib.sha256()
        return lambda data: self._pool.submit(h.update, data)

    def done(self, name: str):
        """``name`` (in the folder) is complete: finish its checksum and flush it."""
        path = self.folder / name
        h = self._streams.pop(name, None)
        self.digests[name] = self._pool.submit(_finish_file, path, h)

    def sha256(self) -> dict:
        """{name: sha256 hex} of the files passed to :meth:`done`, once computed."""
        return {name: f.result() for name, f in self.digests.items()}


def _finish_file(path: Path, fed=None) -> str:
    digest = sha256_file(path) if fed is None else fed.hexdigest()
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return digest


def _build(readers, out, n, weights, normalizer, anchor_min_confidence, max_gap, person, n_workers, progress,
           track_filter, chunk, finisher, fit_gate="auto", index_kind="auto"):
    """:func:`build_database`'s body (``finisher`` hashes and flushes the files it is told are done)."""
    import faiss
    import pyarrow as pa

    from .frame_table import write_frame_table
    from ..sources.readers import read_rows
    from .index_vectors import weighted_vectors

    names = [r.name for r in readers]
    if len(set(names)) != len(names):
        raise InputError(f"two recordings share a name ({names}); rename one")
    first = np.concatenate([[0], np.cumsum([r.n_frames for r in readers])]).astype(np.int64)
    anchors = list(normalizer.anchors)

    # -- pass 1: raw keypoints ------------------------------------------------------------------------------
    raw = NpyAppender(out / "keypoints.npy", (n, N_POINTS, 3), np.float32)
    n_people = np.zeros(n, dtype=np.int16)
    sources = []
    with _progress(n, "reading", progress) as bar:
        pending, size = [], 0

        def flush():
            nonlocal pending, size
            segments = [(readers[r_i], a, b) for r_i, a, b in pending]
            for (r_i, a, b), (kp, npeo) in zip(pending, read_rows(segments, person=person, n_workers=n_workers)):
                raw.append(kp)
                row = first[r_i] + a
                n_people[row:row + b - a] = npeo
                sources.append(readers[r_i].source_array(a, b))
                bar.update(b - a)
            pending, size = [], 0

        for r_i, r in enumerate(readers):
            for a in range(0, r.n_frames, chunk):
                b = min(r.n_frames, a + chunk)
                pending.append((r_i, a, b))
                size += b - a
                if size >= chunk:
                    flush()
        flush()
    raw.close()
    finisher.done("keypoints.npy")

    # -- pass 2: usability and the etalon -------------------------------------------------------------------
    usable = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)
    filled = np.zeros(n, dtype=np.int16)
    spread = np.full(n, -np.inf)
    margin = int(max_gap) + 1

    gated, shape_model = _fit_gate_model(readers, first, out / "keypoints.npy", fit_gate, chunk)

    def assessed(r_i, lo, hi):
        r = readers[r_i]
        base = first[r_i]
        kp = read_npy_rows(out / "keypoints.npy", base + lo, base + hi)
        weak = np.asarray((r.extra or {}).get("weak_detection_frames") or [], np.int64)
        return quality.assess_frames(kp, n_people[base + lo:base + hi], r.frames[lo:hi], anchors,
                                     anchor_min_confidence, max_gap, shape_model=shape_model, gate=gated[r_i],
                                     weak_detections=weak[(weak >= lo) & (weak < hi)] - lo)

    scratch = out / ".filtered.npy"
    if track_filter != "none":
        from ..sources.filters import filter_keypoints

        spool = NpyAppender(scratch, (n, N_POINTS, 3), np.float32)
        for r_i, r in enumerate(readers):
            clean, *_ = assessed(r_i, 0, r.n_frames)
            spool.append(filter_keypoints(clean, r.fps, track_filter, frames=r.frames))
        spool.close()

    def cleaned(r_i, lo, a, b, hi):
        """Assessed (and filtered) keypoints of rows a:b of recording r_i, read with context lo:hi."""
        if track_filter != "none":
            return read_npy_rows(scratch, first[r_i] + a, first[r_i] + b)
        return assessed(r_i, lo, hi)[0][a - lo:b - lo]

    for r_i, r in enumerate(readers):
        for lo, a, b, hi in _windows(r.n_frames, chunk, margin):
            clean, ok, why, nf = assessed(r_i, lo, hi)
            s = slice(a - lo, b - lo)
            rows = slice(first[r_i] + a, first[r_i] + b)
            usable[rows], filled[rows] = ok[s], nf[s]
            reason[rows] = [_REASON_CODE[w] for w in why[s]]
            tri = clean[s][:, anchors, :2].astype(np.float64)
            cand = ok[s] & normalizer.triangle_ok(tri)
            spread[rows] = np.where(cand, Normalizer.anchor_spread(clean[s], anchors), -np.inf)
    if not usable.any():
        counts = {REASONS[c]: int(k) for c, k in zip(*np.unique(reason, return_counts=True))}
        raise InputError(f"no usable frame in {n} frames ({counts})")
    if not np.isfinite(spread).any():
        raise InputError(f"no frame with a usable anchor triangle {anchors} to take the etalon from")
    et_row = int(np.argmax(spread))
    et_rec = int(np.searchsorted(first, et_row, side="right") - 1)
    et_local = int(et_row - first[et_rec])
    et_xy = cleaned(et_rec, max(0, et_local - margin), et_local, et_local + 1,
                    min(readers[et_rec].n_frames, et_local + margin + 1))[0, :, :2].astype(np.float64)
    normalizer.set_etalon(et_xy - et_xy[anchors[0]])
    normalizer.etalon_index_ = et_row

    # -- pass 3: normalize and index ------------------------------------------------------------------------
    # (pass 3 runs on one core: the other hashes its output as it is written)
    norm_out = NpyAppender(out / "normalized.npy", (n, N_POINTS, 2), np.float32,
                           on_write=finisher.feed("normalized.npy"))
    mats_out = NpyAppender(out / "transforms.npy", (n, 2, 3), np.float64, on_write=finisher.feed("transforms.npy"))
    from .indexes import compressed_params, resolve_index_kind, train_sample_rows

    n_usable = int(usable.sum())
    kind = resolve_index_kind(index_kind, n_usable)
    if kind == "flat":
        index_info = {"kind": "flat"}
        flat = faiss.IndexFlatL2(2 * N_POINTS)
        # Reserve the final size up front: growing a std::vector chunk by chunk would
        # briefly hold the old and the doubled buffer, up to 3x the index.
        flat.codes.resize(n_usable * 2 * N_POINTS * 4)
        flat.codes.resize(0)
        index = faiss.IndexIDMap2(flat)
    else:
        # A compressed index never holds the flat vectors: collect a training sample during the pass,
        # train, then add every usable frame in chunks read back from normalized.npy.
        index_info = compressed_params(kind, n_usable)
        sample_rows = train_sample_rows(usable, index_info["train_size"], index_info["seed"])
        sample = np.zeros((len(sample_rows), 2 * N_POINTS), np.float32)
        sample_ok = np.zeros(len(sample_rows), bool)
        index = None
    with _progress(n, "normalizing", progress) as bar:
        for r_i, r in enumerate(readers):
            for lo, a, b, hi in _windows(r.n_frames, chunk, margin):
                clean = cleaned(r_i, lo, a, b, hi)
                rows = np.arange(first[r_i] + a, first[r_i] + b)
                normalized, mats, ok = normalizer.transform(clean)
                degenerate = usable[rows] & ~ok
                reason[rows[degenerate]] = _REASON_CODE[quality.DEGENERATE_ANCHORS]
                usable[rows] &= ok
                u = usable[rows]
                normalized[~u] = np.nan
                norm_out.append(normalized)
                mats_out.append(mats)
                if index is not None and u.any():
                    index.add_with_ids(weighted_vectors(normalized[u], weights), rows[u])
                elif index is None:
                    s0, s1 = np.searchsorted(sample_rows, [rows[0], rows[-1] + 1])
                    if s1 > s0:
                        local = sample_rows[s0:s1] - rows[0]
                        sample[s0:s1] = weighted_vectors(normalized[local], weights)
                        sample_ok[s0:s1] = u[local]
                bar.update(b - a)
    norm_out.close()
    mats_out.close()
    scratch.unlink(missing_ok=True)
    if index is None:
        index = _fill_compressed(out / "normalized.npy", usable, weights, index_info, sample[sample_ok], chunk,
                                 progress)
    faiss.write_index(index, os.fspath(out / "index.faiss"))
    # Only now: an fsync on ext4 stalls writes to other files meanwhile (the index's 40 MB took 10x longer).
    for name in ("normalized.npy", "transforms.npy", "index.faiss"):
        finisher.done(name)

    # -- frame table ----------------------------------------------------------------------------------------
    rec_codes = np.repeat(np.arange(len(readers), dtype=np.int32), [r.n_frames for r in readers])
    write_frame_table(out / "frames.parquet", rec_codes, names, np.concatenate([r.frames for r in readers]),
                      np.concatenate([r.time_s for r in readers]),
                      pa.chunked_array(sources, type=pa.string()).combine_chunks(), usable, reason, REASONS, filled,
                      np.repeat([r.pupils_estimated for r in readers], [r.n_frames for r in readers]), n_people)
    finisher.done("frames.parquet")

    recordings = [r.describe(first[i]) for i, r in enumerate(readers)]
    et_kp = read_npy_rows(out / "keypoints.npy", et_row, et_row + 1)
    etalon = {"row": et_row, "recording": names[et_rec], "frame": int(readers[et_rec].frames[et_local]),
              "anchor_spread_px": float(Normalizer.anchor_spread(et_kp, anchors)[0]),
              "points": normalizer.etalon_.tolist()}
    unusable = {REASONS[c]: int(k) for c, k in zip(*np.unique(reason[~usable], return_counts=True))}
    counts = {"frames": int(n), "usable": int(usable.sum()), "recordings": len(readers),
              "unusable_by_reason": unusable, "filled_points": int(filled.sum()),
              "fit_gate": {"mode": fit_gate, "recordings_gated": int(sum(g == "full" for g in gated)),
                           "shape_model": shape_model.to_dict() if shape_model is not None else {}}}
    manifest = make_manifest(weights, normalizer, anchor_min_confidence, max_gap, person, track_filter, etalon,
                             counts, recordings, out, digests=finisher.sha256(), index_info=index_info)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest, index


def _fit_gate_model(readers, first, keypoints_npy, fit_gate, chunk, max_frames: int = 20000):
    """Which recordings the fit gate applies to, and the shape statistics of their frames."""
    if fit_gate not in ("auto", "on", "off"):
        from ..errors import ParameterError

        raise ParameterError(f"fit_gate must be auto, on or off, got {fit_gate!r}")
    # auto: the whole gate for tracked video, only the confidence test for keypoint recordings (OpenPose's
    # confidences mean something; a turned head in a keypoint file was fitted by a tracker that knew it).
    gated = ["full" if fit_gate == "on" or (fit_gate == "auto" and r.kind == "video") else
             "confidence" if fit_gate == "auto" else False for r in readers]
    total = sum(r.n_frames for r, g in zip(readers, gated) if g == "full")
    if not total:
        return gated, None
    step = max(1, total // max_frames)
    sample = []
    for r_i, r in enumerate(readers):
        if gated[r_i] == "full":
            for a in range(0, r.n_frames, chunk):
                b = min(r.n_frames, a + chunk)
                sample.append(read_npy_rows(keypoints_npy, first[r_i] + a, first[r_i] + b)[::step])
    return gated, quality.ShapeModel().fit(np.concatenate(sample))


def _fill_compressed(normalized_path: Path, usable: np.ndarray, weights: np.ndarray, params: dict,
                     sample: np.ndarray, chunk: int, progress: bool):
    """Train a compressed index on ``sample`` and add every usable row of normalized.npy, a chunk at a time."""
    from .indexes import train_compressed
    from .index_vectors import weighted_vectors

    index = train_compressed(params, sample)
    n = len(usable)
    with _progress(n, "indexing", progress) as bar:
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            u = usable[a:b]
            if u.any():
                block = read_npy_rows(normalized_path, a, b)
                index.add_with_ids(weighted_vectors(block[u], weights), np.flatnonzero(u) + a)
            bar.update(b - a)
    return index


