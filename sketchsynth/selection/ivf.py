"""The approximate prefilters: an IVF index trained at the first match and cached, and a database's own compressed
index; which one a search uses."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..database.index_vectors import weighted_vectors
from ..errors import ParameterError
from .search import exact_knn, is_compressed


SEARCHES = ("auto", "exact", "ivf", "pq")
"""Candidate searches: ``auto`` (the database's compressed index if it has one, else the IVF on large
databases, else exact), ``exact`` (every frame), ``ivf`` (cached IVF-flat), ``pq`` (the compressed index)."""


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
    if is_compressed(db):
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


_warned: set = set()


def _warn_once(key: str, message: str) -> None:
    """One line on stderr per problem and process: the cache is an optimisation, not worth more noise."""
    if key in _warned:
        return
    _warned.add(key)
    print(f"sketchsynth: warning: {message}", file=sys.stderr)
