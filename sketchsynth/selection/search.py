"""Candidate retrieval: FAISS top-K on the weighted squared metric, exact re-rank.

The FAISS index holds every usable database frame as the 140-vector
``sqrt(w_i) * (x_i, y_i)`` so that its L2 distance is the weighted squared
distance ``sum_i w_i |p_i - q_i|^2``. The method's own metric, the weighted sum of
point distances ``sum_i w_i |p_i - q_i|``, is not an L2 distance; FAISS's top-K
serves as a prefilter and the candidates are re-ranked exactly.

Input points with confidence 0 get weight 0 for their frame. Frames sharing the
same set of missing points are searched together on the remaining coordinates
(FAISS brute force on a column slice), so the squared metric stays exact.

**Approximate prefilter.** On a large database the flat search is bound by the
N distances it must produce per input frame. :class:`IVFSearch` (FAISS
``IndexIVFFlat``: k-means cells, only the ``nprobe`` cells nearest to the query
scanned) finds nearly the same top-K in a fraction of the time; the exact
re-rank then picks among them as before. It is not part of the database (which
is immutable and checksummed, and whose build time is budgeted): it is trained
at the first match on a database and cached under ``$SKETCHSYNTH_CACHE/ivf``
(default ``~/.cache/sketchsynth/ivf``), keyed by the sha256 of the database's
``index.faiss`` and the IVF's parameters. The cache holds only what training
learns (cell centroids and each frame's cell); the vectors come from the
database. ``search="auto"`` uses it on databases of at least
:attr:`IVFSearch.min_frames` usable frames; ``search="exact"`` keeps the flat
index. Frames with missing points always take the exact column-slice path
(an IVF cannot search a subset of the coordinates).

**Compressed databases.** A database built with a compressed index
(:mod:`sketchsynth.database.indexes`: IVF-PQ or IVF-SQ8, the default from 500,000 usable
frames on) holds no flat vectors: ``search="auto"`` (or ``"pq"``) searches its
index (:class:`CompressedSearch`), and every exact search (``"exact"``, the
column-slice path, ``exhaustive``) streams the usable frames from
``normalized.npy`` in blocks of :data:`EXACT_BLOCK` rows instead of holding
them. The re-rank reads only the candidates' rows of the memory-mapped
``normalized.npy``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import kernels as _kernels
from ..errors import ParameterError

METRICS = {"sum": _kernels.METRIC_SUM, "sq": _kernels.METRIC_SQ}
SEARCHES = ("auto", "exact", "ivf", "pq")
"""Candidate searches: ``auto`` (the database's compressed index if it has one, else the IVF on large
databases, else exact), ``exact`` (every frame), ``ivf`` (cached IVF-flat), ``pq`` (the compressed index)."""
EXACT_BLOCK = 262_144
"""Usable frames per block of a streamed exact search (147 MB of float32 vectors)."""


def check_metric(metric: str) -> int:
    if metric not in METRICS:
        raise ParameterError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return METRICS[metric]


def weighted_vectors(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Flatten frames into FAISS space.

    Parameters
    ----------
    points : np.ndarray, shape (n_frames, 70, 2)
        Normalized coordinates.
    weights : np.ndarray, shape (70,) or (n_frames, 70)

    Returns
    -------
    np.ndarray, shape (n_frames, 140), float32, C-contiguous
        L2 distance between two rows = weighted squared distance of the frames.
    """
    w = np.sqrt(np.asarray(weights, dtype=np.float32))
    v = np.asarray(points, dtype=np.float32)[..., :2] * w[..., None]
    return np.ascontiguousarray(v.reshape(len(v), -1), dtype=np.float32)


def build_index(vectors: np.ndarray, ids: np.ndarray):
    """A flat (exact) L2 FAISS index over ``vectors`` that returns database rows.

    Parameters
    ----------
    vectors : np.ndarray, shape (n_usable, 140), float32
    ids : np.ndarray, shape (n_usable,), int64
        Database row of each vector.
    """
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatL2(vectors.shape[1]))
    index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    return index


def knn_sq(db, queries: np.ndarray, qweights: np.ndarray, k: int, ivf: "IVFSearch | None" = None,
           info: dict | None = None) -> np.ndarray:
    """Rows of the ``k`` nearest usable database frames by weighted squared distance.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
        Normalized input frames (all finite).
    qweights : np.ndarray, shape (n, 70)
        The database's weights, with 0 for points missing in the input.
    k : int
    ivf : IVFSearch, optional
        Search the frames that have every point through this approximate index
        (:meth:`IVFSearch.search`); None (default) searches the flat index, exactly.
        Frames with missing points take the exact column-slice path either way.
    info : dict, optional
        Receives how many frames each path searched (``ivf_frames``,
        ``flat_frames``, ``column_slice_frames``) and, with ``ivf``, what
        :meth:`IVFSearch.index` reports.

    Returns
    -------
    np.ndarray, shape (n, k), int64
        Database rows, nearest first by FAISS's float32 distance; -1 pads
        when fewer than ``k`` frames exist.
    """
    import faiss

    info = {} if info is None else info
    for name in ("ivf_frames", "flat_frames", "column_slice_frames"):
        info.setdefault(name, 0)
    n = len(queries)
    k = min(k, db.n_usable_)
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or k == 0:
        return out
    full = qweights > 0
    # Rows of 70 bools packed into 9 bytes: np.unique(axis=0) on those is ~10x faster than on the bools.
    packed = np.packbits(full, axis=1)
    _, first, inverse = np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel(), return_index=True,
                                  return_inverse=True)
    patterns = full[first]
    inverse = inverse.reshape(-1)
    vq = weighted_vectors(queries, db.weights_)
    for p_i, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse == p_i)
        if pattern.all():
            if ivf is not None:
                ids = ivf.search(db, np.ascontiguousarray(vq[rows]), k, info)
            else:
                ids = exact_knn(db, vq[rows], k)
                info["flat_frames"] += len(rows)
        elif not pattern.any():
            continue  # nothing to compare: no candidates
        else:
            cols = np.repeat(pattern, 2)
            if _streamed(db):
                ids = exact_knn(db, vq[rows], k, cols)
            else:
                xb = np.ascontiguousarray(db.usable_vectors()[:, cols])
                _, pos = faiss.knn(np.ascontiguousarray(vq[rows][:, cols]), xb, k)
                ids = np.where(pos >= 0, db.usable_rows_[np.maximum(pos, 0)], -1)
            info["column_slice_frames"] += len(rows)
        out[rows] = ids
    return out


def _compressed(db) -> bool:
    return getattr(db, "index_info_", {"kind": "flat"}).get("kind", "flat") != "flat"


def _streamed(db) -> bool:
    """Whether exact searches stream the frames in blocks (a compressed or a large database)."""
    return _compressed(db) or db.n_usable_ > EXACT_BLOCK


def usable_blocks(db, block: int = EXACT_BLOCK):
    """The usable frames a block at a time, without holding them all.

    Yields
    ------
    rows : np.ndarray, shape (m,), int64
        Database rows, ascending.
    points : np.ndarray, shape (m, 70, 2), float32
        Their normalized points, read with ``pread`` from the database's
        normalized.npy when it is on disk (mapped pages would stay resident),
        else sliced from memory.
    """
    from ..io.npy import read_npy_rows

    path = getattr(db, "path_", None)
    f = None if path is None else os.path.join(path, "normalized.npy")
    use_file = f is not None and isinstance(getattr(db.normalized_, "base", None), np.memmap) and os.path.isfile(f)
    u = db.usable_rows_
    for a in range(0, len(u), block):
        rows = u[a:a + block]
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        pts = read_npy_rows(f, lo, hi) if use_file else np.asarray(db.normalized_[lo:hi])
        yield rows, pts[rows - lo]


def exact_knn(db, vectors: np.ndarray, k: int, cols: np.ndarray | None = None) -> np.ndarray:
    """Exact ``k`` nearest usable database rows by L2 in FAISS space (the weighted squared distance).

    Parameters
    ----------
    db : FrameDatabase
    vectors : np.ndarray, shape (n, 140), float32
        Queries (:func:`weighted_vectors`).
    k : int
        At most ``db.n_usable_``.
    cols : np.ndarray, shape (140,), bool, optional
        Compare only these coordinates (points missing in the queries left out).

    Returns
    -------
    np.ndarray, shape (n, k), int64
        Database rows, nearest first. The flat index when the database has one
        and ``cols`` is None; otherwise the usable frames streamed block by block
        (:func:`usable_blocks`) through ``faiss.knn``, best ``k`` kept.
    """
    import faiss

    q = np.ascontiguousarray(vectors, np.float32)
    if cols is None and not _compressed(db):
        return db.index_.search(q, k)[1]
    if cols is not None:
        q = np.ascontiguousarray(q[:, cols])
    best_d = np.full((len(q), k), np.inf, np.float32)
    best_i = np.full((len(q), k), -1, np.int64)
    for rows, pts in usable_blocks(db):
        xb = weighted_vectors(pts, db.weights_)
        xb = np.ascontiguousarray(xb if cols is None else xb[:, cols])
        kk = min(k, len(xb))
        d, pos = faiss.knn(q, xb, kk)
        d_all = np.concatenate([best_d, d], axis=1)
        i_all = np.concatenate([best_i, np.where(pos >= 0, rows[np.maximum(pos, 0)], -1)], axis=1)
        # stable: on equal distances the earlier (lower) rows stay first
        order = np.argsort(d_all, axis=1, kind="stable")[:, :k]
        best_d = np.take_along_axis(d_all, order, 1)
        best_i = np.take_along_axis(i_all, order, 1)
    return best_i


class CompressedSearch:
    """Approximate top-K through the database's own compressed index (IVF-PQ / IVF-SQ8).

    Parameters
    ----------
    nprobe : int, optional
        Cells scanned per input frame; default the one the database's
        manifest records (chosen at build time for its size).
    """

    name = "pq"

    def __init__(self, nprobe: int | None = None):
        self.nprobe = nprobe

    def __repr__(self):
        return f"CompressedSearch(nprobe={self.nprobe!r})"

    def search(self, db, vectors: np.ndarray, k: int, info: dict | None = None) -> np.ndarray:
        """Approximate ``k`` nearest database rows of query vectors (shape (n, 140), float32).

        Returns
        -------
        np.ndarray, shape (n, k), int64
            Database rows, nearest first by the codes' approximate distance. A
            frame whose scanned cells hold fewer than ``k`` frames is searched
            exactly instead, so no row is padded.
        """
        from ..database.indexes import set_nprobe

        info = {} if info is None else info
        meta = db.index_info_
        nprobe = set_nprobe(db.index_, int(meta.get("nprobe", 16) if self.nprobe is None else self.nprobe))
        _, ids = db.index_.search(np.ascontiguousarray(vectors, np.float32), k)
        short = np.flatnonzero(ids[:, k - 1] < 0) if k else np.empty(0, np.int64)
        if short.size:
            ids[short] = exact_knn(db, vectors[short], k)
        info.update({"index": meta.get("factory", meta.get("kind")), "nlist": meta.get("nlist"), "nprobe": nprobe})
        info["pq_frames"] = info.get("pq_frames", 0) + len(ids) - len(short)
        info["flat_frames"] = info.get("flat_frames", 0) + len(short)
        return ids


# ---------------------------------------------------------------------------- approximate prefilter (IVF)
_CACHE_FORMAT = 1
_warned: set = set()


def ivf_cache_dir() -> Path:
    """Folder of cached IVF training: ``$SKETCHSYNTH_CACHE/ivf`` (default ``~/.cache/sketchsynth/ivf``).

    The same root as the video tracker's cache (:func:`sketchsynth.sources.tracker.cache_dir`).
    """
    root = os.environ.get("SKETCHSYNTH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sketchsynth")
    return Path(root) / "ivf"


def check_search(search: str) -> str:
    if search not in SEARCHES:
        raise ParameterError(f"--search must be one of {', '.join(SEARCHES)}, got {search!r}")
    return search


def resolve_search(db, search: str = "auto", ivf: "IVFSearch | None" = None) -> "IVFSearch | None":
    """The approximate index a search should use on ``db``, or None for the exact flat index.

    Parameters
    ----------
    db : FrameDatabase
    search : {"auto", "exact", "ivf", "pq"}
        ``auto`` takes the database's compressed index when it has one, else
        the IVF when ``db`` has at least ``ivf.min_frames`` usable frames (where
        it pays), else the flat index. On a compressed database ``ivf`` and
        ``pq`` both mean its compressed index (it is an IVF; there are no flat
        vectors to train another on) and ``exact`` streams every frame.
    ivf : IVFSearch, optional
        Its parameters (default ``IVFSearch()``); its ``nprobe`` also applies
        to a compressed index (default: the manifest's).

    Returns
    -------
    IVFSearch, CompressedSearch or None
    """
    check_search(search)
    if _compressed(db):
        if search == "exact":
            return None
        return CompressedSearch(None if ivf is None else ivf.check().nprobe)
    if search == "pq":
        raise ParameterError("--search pq needs a database built with a compressed index (build-db --index "
                             "ivfpq); this one has the flat index: use --search auto, ivf or exact")
    ivf = (IVFSearch() if ivf is None else ivf).check()
    if search == "exact" or (search == "auto" and db.n_usable_ < ivf.min_frames):
        return None
    return ivf


def forget_ivf(db) -> None:
    """Drop the IVF indexes held in memory for ``db`` (the disk cache stays); benchmarks time cold loads so."""
    db.__dict__.pop("_ivf_indexes", None)


class IVFSearch:
    """Approximate top-K by weighted squared distance: FAISS ``IndexIVFFlat``, trained lazily and cached.

    k-means splits the database's vectors (see :func:`weighted_vectors`) into
    ``nlist`` cells; a query scans only its ``nprobe`` nearest cells. Training is
    deterministic (fixed seed and sample) and happens at the first search on a
    database; its result (centroids and each frame's cell, a few hundred KB) is
    cached on disk (:func:`ivf_cache_dir`) under a key made of the sha256 of the
    database's ``index.faiss`` (from its manifest; a database without one is
    keyed by a digest of its vectors) and the training parameters, and in
    memory on the database object. A missing, corrupt or unwritable cache
    only costs training again (one warning on stderr); it never fails a search.

    Parameters
    ----------
    nprobe : int
        Cells scanned per input frame (search time only, not part of the cache
        key). 16 of 256: on the 75,120-frame benchmark database (henan copies,
        ``benchmarks/bench_decode.py``) the re-ranked per-frame choice agreed
        with the exhaustive search on 99.87% of 3,000 held-out henan frames
        (12: 99.73%, 8: 98.73%, 24: 99.97%; the flat search: 99.97%) and the
        top-32 after re-rank overlapped the flat search's by 99.70%.
    nlist : int
        k-means cells; lowered to ``n_usable // train_per_list`` on small
        databases (at least 1).
    min_frames : int
        ``search="auto"`` uses the IVF on databases with at least this many
        usable frames; below, the flat search is fast anyway.
    train_per_list : int
        Training vectors per cell, sampled from the database (FAISS wants at
        least 39 per centroid).
    niter : int
        k-means iterations.
    seed : int
        Seed of the training sample and of k-means.
    cache : bool
        Read and write the disk cache; False trains in memory only.
    """

    name = "ivf"

    def __init__(self, nprobe: int = 16, nlist: int = 256, min_frames: int = 20_000, train_per_list: int = 40,
                 niter: int = 10, seed: int = 1234, cache: bool = True):
        self.nprobe = nprobe
        self.nlist = nlist
        self.min_frames = min_frames
        self.train_per_list = train_per_list
        self.niter = niter
        self.seed = seed
        self.cache = cache

    def get_params(self) -> dict:
        return {"nprobe": self.nprobe, "nlist": self.nlist, "min_frames": self.min_frames,
                "train_per_list": self.train_per_list, "niter": self.niter, "seed": self.seed, "cache": self.cache}

    def __repr__(self):
        return "IVFSearch(" + ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()) + ")"

    def check(self) -> "IVFSearch":
        """Raise ParameterError for values that make no sense; return self."""
        for name, low in (("nprobe", 1), ("nlist", 1), ("min_frames", 0), ("train_per_list", 1), ("niter", 1)):
            v = getattr(self, name)
            whole = (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) or \
                (isinstance(v, float) and v.is_integer())
            if not whole or v < low:
                opt = "--nprobe" if name == "nprobe" else f"IVF {name}"
                raise ParameterError(f"{opt} must be a whole number >= {low}, got {v!r}")
        return self

    def n_cells(self, n_usable: int) -> int:
        """Cells used on a database of ``n_usable`` frames."""
        return int(max(1, min(self.nlist, n_usable // self.train_per_list)))

    def _training_params(self, db) -> dict:
        return {"format": _CACHE_FORMAT, "n_usable": int(db.n_usable_), "dim": 2 * len(db.weights_),
                "nlist": self.n_cells(db.n_usable_), "train_per_list": int(self.train_per_list),
                "niter": int(self.niter), "seed": int(self.seed)}

    def cache_file(self, db) -> Path:
        """Where this IVF's training on ``db`` is cached (see :func:`ivf_cache_dir`)."""
        key = json.dumps({"database": _database_digest(db), **self._training_params(db)}, sort_keys=True)
        return ivf_cache_dir() / f"ivf-{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"

    def index(self, db, info: dict | None = None):
        """The trained IVF index over ``db``'s usable frames (from memory, the disk cache, or trained now).

        Parameters
        ----------
        db : FrameDatabase
        info : dict, optional
            Receives ``index`` ("memory", "cache" or "built"), ``index_s``
            (seconds spent getting it), ``nlist`` and ``cache_file``.

        Returns
        -------
        faiss.IndexIVFFlat
            Its ids are database rows.
        """
        t0 = time.perf_counter()
        info = {} if info is None else info
        params = self._training_params(db)
        memo = db.__dict__.setdefault("_ivf_indexes", {})
        memo_key = json.dumps(params, sort_keys=True)
        source = "memory"
        if memo_key in memo:
            index, path = memo[memo_key]
        else:
            path = self.cache_file(db) if self.cache else None
            vectors, ids = _indexed_vectors(db)
            problems = []
            trained = _read_ivf_cache(path, params, problems) if path is not None else None
            source = "cache"
            if trained is None:
                source = "built"
                trained = _train_ivf(vectors, params["nlist"], self.train_per_list, self.niter, self.seed)
                if path is not None:
                    _write_ivf_cache(path, *trained, params, problems)
            index = _assemble_ivf(vectors, ids, *trained)
            memo[memo_key] = index, path
            if problems:
                _warn_once(f"{path}", "; ".join(problems))
        info.update({"index": source, "index_s": info.get("index_s", 0.0) + time.perf_counter() - t0,
                     "nlist": params["nlist"], "nprobe": int(min(self.nprobe, params["nlist"])),
                     "cache_file": None if path is None else os.fspath(path)})
        return index

    def search(self, db, vectors: np.ndarray, k: int, info: dict | None = None) -> np.ndarray:
        """Approximate ``k`` nearest database rows of query vectors.

        Parameters
        ----------
        db : FrameDatabase
        vectors : np.ndarray, shape (n, 140), float32
            Queries in FAISS space (:func:`weighted_vectors`, every point present).
        k : int
            At most ``db.n_usable_``.
        info : dict, optional
            See :meth:`index`; also counts ``ivf_frames`` and ``flat_frames``.

        Returns
        -------
        np.ndarray, shape (n, k), int64
            Database rows, nearest first by FAISS's float32 distance. A frame
            whose scanned cells hold fewer than ``k`` frames is searched
            exactly instead (flat index), so no row is padded.
        """
        import faiss

        info = {} if info is None else info
        index = self.index(db, info)
        params = faiss.SearchParametersIVF()
        params.nprobe = int(min(self.nprobe, index.nlist))
        _, ids = index.search(np.ascontiguousarray(vectors, np.float32), k, params=params)
        short = np.flatnonzero(ids[:, k - 1] < 0) if k else np.empty(0, np.int64)
        if short.size:
            ids[short] = exact_knn(db, vectors[short], k)
        info["ivf_frames"] = info.get("ivf_frames", 0) + len(ids) - len(short)
        info["flat_frames"] = info.get("flat_frames", 0) + len(short)
        return ids


def _database_digest(db) -> str:
    """What identifies ``db``'s indexed vectors: the manifest's sha256 of ``index.faiss`` (free), or,
    for a database without one, a sha256 of the vectors and ids themselves (~50 ms on 75k frames)."""
    try:
        digest = db.manifest_["files"]["index.faiss"]["sha256"]
    except (AttributeError, KeyError, TypeError):
        digest = None
    if isinstance(digest, str) and digest:
        return f"index.faiss:{digest}"
    x, ids = _indexed_vectors(db)
    h = hashlib.sha256(np.ascontiguousarray(ids, np.int64))
    h.update(np.ascontiguousarray(x, np.float32))
    return f"vectors:{h.hexdigest()}"


def _indexed_vectors(db):
    """The usable frames' vectors and database rows, as the exact index holds them.

    Returns
    -------
    vectors : np.ndarray, shape (n_usable, 140), float32
        A view of the flat index's own storage when it is the usual
        ``IndexIDMap2(IndexFlatL2)`` (no copy; the vectors the cache key's
        ``index.faiss`` checksum covers), else computed from ``normalized_``.
    ids : np.ndarray, shape (n_usable,), int64
    """
    import faiss

    idmap = faiss.downcast_index(db.index_)
    flat = faiss.downcast_index(idmap.index) if isinstance(idmap, faiss.IndexIDMap2) else None
    if isinstance(flat, faiss.IndexFlat) and flat.ntotal == db.n_usable_ and flat.metric_type == faiss.METRIC_L2:
        x = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        return x, faiss.vector_to_array(idmap.id_map).astype(np.int64)
    if getattr(db, "_usable_vectors", None) is not None:
        return db._usable_vectors, db.usable_rows_
    return weighted_vectors(db.normalized_[db.usable_rows_], db.weights_), db.usable_rows_


def _train_ivf(vectors: np.ndarray, nlist: int, train_per_list: int, niter: int, seed: int):
    """k-means cells of ``vectors`` and each vector's cell.

    Returns
    -------
    centroids : np.ndarray, shape (nlist, d), float32
    assign : np.ndarray, shape (n,), int32
    """
    import faiss

    n, d = vectors.shape
    if nlist == 1:  # nothing to cluster (and FAISS would warn about too few training points)
        return vectors.mean(axis=0, dtype=np.float64)[None].astype(np.float32), np.zeros(n, np.int32)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, nlist * train_per_list), replace=False))
    km = faiss.Kmeans(d, nlist, niter=niter, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(vectors[sample]))
    _, assign = km.index.search(vectors, 1)
    return np.ascontiguousarray(km.centroids, np.float32), assign[:, 0].astype(np.int32)


def _assemble_ivf(vectors: np.ndarray, ids: np.ndarray, centroids: np.ndarray, assign: np.ndarray):
    """An ``IndexIVFFlat`` holding ``vectors`` (ids ``ids``) in the cells ``assign`` says, without searching."""
    import faiss

    nlist, d = centroids.shape
    quantizer = faiss.IndexFlatL2(d)
    quantizer.add(np.ascontiguousarray(centroids, np.float32))
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_L2)
    # The IVF must own its quantizer: the Python wrapper does not keep it alive, and a freed
    # quantizer crashes the first search.
    index.own_fields = True
    quantizer.this.disown()
    x = np.ascontiguousarray(vectors, np.float32)
    xids = np.ascontiguousarray(ids, np.int64)
    cells = np.ascontiguousarray(assign, np.int64)
    # add_core with the known cells skips the quantizer search that add() would repeat; swig_ptr
    # holds no reference, so x, xids and cells stay bound here until the call returns.
    index.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(xids), faiss.swig_ptr(cells))
    return index


def _read_ivf_cache(path: Path, params: dict, problems: list):
    """(centroids, assign) from a cache file, or None when it is missing or does not fit (noted in ``problems``)."""
    try:
        # Read nothing larger than the arrays this database needs could be (centroids, cells, metadata).
        expected = 4 * params["nlist"] * params["dim"] + 4 * params["n_usable"] + (1 << 16)
        if path.stat().st_size > 2 * expected:
            problems.append(f"cached IVF index {path} is larger than it can be; trained it again")
            return None
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            centroids, assign = z["centroids"], z["assign"]
    except (FileNotFoundError, NotADirectoryError):
        return None  # not trained yet: the normal first match, nothing to say
    except Exception:  # noqa: BLE001 - zip, npy, JSON and the file system each raise their own; train again
        problems.append(f"cached IVF index {path} is unreadable; trained it again")
        return None
    ok = (meta == params and centroids.dtype == np.float32 and assign.dtype == np.int32
          and centroids.shape == (params["nlist"], params["dim"]) and assign.shape == (params["n_usable"],)
          and np.isfinite(centroids).all() and (assign.size == 0 or (assign.min() >= 0
                                                                     and assign.max() < params["nlist"])))
    if not ok:
        problems.append(f"cached IVF index {path} does not fit this database; trained it again")
        return None
    return centroids, assign


def _write_ivf_cache(path: Path, centroids: np.ndarray, assign: np.ndarray, params: dict, problems: list):
    """Write the training atomically (temporary file, then rename); failure is only noted."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, centroids=centroids, assign=assign, meta=np.array(json.dumps(params, sort_keys=True)))
        os.replace(tmp, path)
    except OSError as e:
        problems.append(f"cannot write the IVF cache {path} ({e.strerror or e}); it is trained again at every "
                        "run (set SKETCHSYNTH_CACHE to a writable folder)")
        try:
            tmp.unlink()
        except OSError:
            pass


def _warn_once(key: str, message: str) -> None:
    """One line on stderr per problem and process: the cache is an optimisation, not worth more noise."""
    if key in _warned:
        return
    _warned.add(key)
    print(f"sketchsynth: warning: {message}", file=sys.stderr)


def rerank(db, queries, qweights, cand, metric: str):
    """Exact target costs of candidates, sorted best first.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
    qweights : np.ndarray, shape (n, 70)
    cand : np.ndarray, shape (n, k), int64
        Database rows (-1 = none).
    metric : {"sum", "sq"}

    Returns
    -------
    cand : np.ndarray, shape (n, k), int64
        Re-ordered by exact cost (ties: lower row first).
    cost : np.ndarray, shape (n, k), float64
        inf where there is no candidate.
    """
    code = check_metric(metric)
    cost = _kernels.candidate_costs(db.normalized_, np.ascontiguousarray(queries, np.float32),
                                    np.ascontiguousarray(qweights, np.float64), cand, code)
    if not cand.size:
        return cand, cost
    # A plain argsort is ~10x faster than lexsort on (3000, 256); only rows where two different
    # candidates tie on cost need the lexsort's tie-break (lower row first).
    order = np.argsort(cost, axis=-1)
    c_sorted = np.take_along_axis(cost, order, 1)
    r_sorted = np.take_along_axis(cand, order, 1)
    ties = np.flatnonzero(((c_sorted[:, 1:] == c_sorted[:, :-1]) & (r_sorted[:, 1:] != r_sorted[:, :-1])).any(1))
    if ties.size:
        tied = np.lexsort((cand[ties], cost[ties]), axis=-1)
        r_sorted[ties] = np.take_along_axis(cand[ties], tied, 1)
        c_sorted[ties] = np.take_along_axis(cost[ties], tied, 1)
    return r_sorted, c_sorted


def candidate_costs_reference(db_points, queries, qweights, cand, metric: str) -> np.ndarray:
    """Plain-numpy twin of :func:`sketchsynth.selection.kernels.candidate_costs` (tests only)."""
    d = np.linalg.norm(db_points[np.maximum(cand, 0)].astype(np.float64)
                       - queries[:, None].astype(np.float64), axis=-1)
    d = d if metric == "sum" else d ** 2
    cost = (d * qweights[:, None, :]).sum(-1)
    return np.where(cand < 0, np.inf, cost)


def exhaustive(db, queries, qweights, seed_rows, seed_costs, metric: str):
    """True best database frame for each query over all usable frames.

    Parameters
    ----------
    db : FrameDatabase
    queries : np.ndarray, shape (n, 70, 2), float32
    qweights : np.ndarray, shape (n, 70)
    seed_rows, seed_costs : np.ndarray, shape (n,)
        A known candidate (the prefilter's best) and its exact cost: the
        starting bound for early abandoning.
    metric : {"sum", "sq"}

    Returns
    -------
    rows : np.ndarray, shape (n,), int64
    costs : np.ndarray, shape (n,), float64
    """
    code = check_metric(metric)
    order = db.point_order_
    if _streamed(db):
        return _exhaustive_streamed(db, queries, qweights, seed_rows, seed_costs, code)
    dbp = db.usable_permuted()
    pos_of_row = np.full(len(db.normalized_), -1, dtype=np.int64)
    pos_of_row[db.usable_rows_] = np.arange(db.n_usable_)
    seed_pos = np.where(seed_rows >= 0, pos_of_row[np.maximum(seed_rows, 0)], 0)
    seed_costs = np.where(seed_rows >= 0, seed_costs, np.inf).astype(np.float64)
    qp = np.ascontiguousarray(np.asarray(queries, np.float32)[:, order])
    wp = np.ascontiguousarray(np.asarray(qweights, np.float64)[:, order])
    pos, cost = _kernels.exhaustive_min(dbp, qp, wp, seed_costs, seed_pos.astype(np.int64), code)
    return db.usable_rows_[pos], cost


def _exhaustive_streamed(db, queries, qweights, seed_rows, seed_costs, code):
    """:func:`exhaustive` over the usable frames a block at a time (:func:`usable_blocks`)."""
    order = db.point_order_
    best_rows = np.asarray(seed_rows, np.int64).copy()
    best = np.where(best_rows >= 0, seed_costs, np.inf).astype(np.float64)
    qp = np.ascontiguousarray(np.asarray(queries, np.float32)[:, order])
    wp = np.ascontiguousarray(np.asarray(qweights, np.float64)[:, order])
    for rows, pts in usable_blocks(db):
        dbp = np.ascontiguousarray(pts[:, order])
        # seed position -1: a tie with the bound keeps the earlier block's (lower) row
        pos, cost = _kernels.exhaustive_min(dbp, qp, wp, best, np.full(len(qp), -1, np.int64), code)
        better = pos >= 0
        best_rows[better], best[better] = rows[pos[better]], cost[better]
    return best_rows, best


def exhaustive_reference(db_points, usable_rows, queries, qweights, metric: str):
    """The method's straightforward loop: for each input frame, every database frame.

    Plain numpy, one input frame at a time; the baseline the benchmarks time.

    Parameters
    ----------
    db_points : np.ndarray, shape (N, 70, 2)
    usable_rows : np.ndarray, shape (M,), int64
    queries : np.ndarray, shape (n, 70, 2)
    qweights : np.ndarray, shape (n, 70)

    Returns
    -------
    rows, costs : np.ndarray, shape (n,)
    """
    pts = np.asarray(db_points, dtype=np.float64)[usable_rows]
    rows = np.empty(len(queries), dtype=np.int64)
    costs = np.empty(len(queries))
    for i, (q, w) in enumerate(zip(np.asarray(queries, np.float64), np.asarray(qweights, np.float64))):
        d = np.sqrt(((pts - q) ** 2).sum(-1))
        c = ((d if metric == "sum" else d ** 2) * w).sum(-1)
        j = int(np.argmin(c))
        rows[i], costs[i] = usable_rows[j], c[j]
    return rows, costs
