"""The database's FAISS index: flat (exact) or compressed (IVF with quantized codes), and how it is read.

A flat index holds every usable frame's 140 floats (560 bytes per frame: 5.6 GB at
10 million frames). From :data:`AUTO_MIN_FRAMES` usable frames on, ``build-db``
writes a compressed inverted-file index instead (``--index``): k-means cells
(``nlist``) and each frame as a short code (product quantization, ``IVFn,PQm``:
``m`` bytes; or 8-bit scalar quantization, ``IVFn,SQ8``: 140 bytes), plus its
8-byte id. It is trained on a fixed sample of the usable frames and filled in
chunks read back from ``normalized.npy``, so the build never holds the flat
vectors. A query scans its ``nprobe`` nearest cells; the candidates are then
re-ranked exactly against ``normalized.npy`` (memory-mapped: only the candidate
rows are read), which is what makes a lossy code good enough.

The kind, the FAISS factory string and the parameters are recorded in the
manifest (``index``), and index.faiss's crc32 in ``files.index.faiss.crc32``;
:func:`read_index`, the one place index.faiss is read, checks that crc32 before
FAISS sees the bytes (FAISS trusts its own format: a damaged file could crash
the process instead of failing cleanly).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..errors import DatabaseError, ParameterError


INDEX_KINDS = ("auto", "flat", "ivfpq", "ivfsq8")
"""``build-db --index`` choices: auto (flat below :data:`AUTO_MIN_FRAMES` usable frames, else ivfpq)."""
AUTO_MIN_FRAMES = 500_000
"""From this many usable frames on, ``--index auto`` writes a compressed index (a flat one: >= 280 MB)."""
INDEX_FILE = "index.faiss"


def check_index_kind(kind: str) -> str:
    if kind not in INDEX_KINDS:
        raise ParameterError(f"--index must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    return kind


def resolve_index_kind(kind: str, n_usable: int) -> str:
    """The index ``build-db --index KIND`` writes for a database of ``n_usable`` usable frames."""
    check_index_kind(kind)
    if kind == "auto":
        return "ivfpq" if n_usable >= AUTO_MIN_FRAMES else "flat"
    return kind


def compressed_params(kind: str, n_usable: int, dim: int = 140, seed: int = 1234) -> dict:
    """Parameters of a compressed index over ``n_usable`` frames (what the manifest records).

    ``nlist`` grows as about sqrt(N) (1,024 cells at 1M frames, 4,096 at 10M), so a cell holds about
    a thousand to a few thousand frames; ``nprobe`` (the default cells scanned per query, 16) and the PQ's
    ``m`` (35 bytes per frame) were chosen on the scale benchmark (``benchmarks/bench_scale.py``):
    IVF1024,PQ35 at nprobe 16 already gave recall@32 = 1.0 after the exact re-rank on 1M frames,
    as did nprobe 64 (2,000 held-out henan frames... see README).
    """
    nlist = int(2 ** np.clip(np.round(np.log2(np.sqrt(max(n_usable, 1)))), 4, 14))
    nlist = max(1, min(nlist, n_usable // 39))
    train_size = int(min(n_usable, max(40 * nlist, 50_000), 150_000))
    if kind == "ivfpq":
        m = dim // 4  # 4 coordinates (two points) per sub-quantizer: 35 bytes per frame
        # 256 centroids per sub-quantizer want >= 39 * 256 training vectors; fewer bits on small databases
        nbits = int(np.clip(np.floor(np.log2(max(train_size, 1) / 39)), 4, 8))
        factory = f"IVF{nlist},PQ{m}x{nbits}"
    elif kind == "ivfsq8":
        factory = f"IVF{nlist},SQ8"
    else:
        raise ParameterError(f"no compressed index kind {kind!r}")
    return {"kind": kind, "factory": factory, "nlist": nlist, "nprobe": int(min(nlist, 16)),
            "train_size": train_size, "seed": int(seed)}


def train_sample_rows(usable: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Database rows (sorted) of the training sample: ``size`` usable rows drawn with ``seed``."""
    rows = np.flatnonzero(usable)
    if size >= len(rows):
        return rows
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=size, replace=False))


def train_compressed(params: dict, sample: np.ndarray):
    """An empty compressed index trained on ``sample`` (shape (n, 140), float32, FAISS space)."""
    import faiss

    index = faiss.index_factory(sample.shape[1], params["factory"], faiss.METRIC_L2)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed = int(params["seed"])
    # k-means on the sample: cap FAISS's own subsampling to the sample we chose (deterministic)
    ivf.cp.max_points_per_centroid = max(1, -(-len(sample) // ivf.nlist))
    ivf.cp.niter = 10
    threads = faiss.omp_get_max_threads()
    if len(sample) < 20_000:
        # small trainings gain nothing from threads, and OpenMP's spinning barriers make them
        # crawl on a busy machine
        faiss.omp_set_num_threads(1)
    try:
        index.train(np.ascontiguousarray(sample, np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def set_nprobe(index, nprobe: int) -> int:
    """Cells scanned per query from now on (at most ``nlist``); returns the value set."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = int(max(1, min(nprobe, ivf.nlist)))
    return int(ivf.nprobe)


def file_crc32(path, block: int = 1 << 24) -> int:
    """crc32 of a file, read in 16 MB blocks (about 1 GB/s: a fast check before deserializing)."""
    crc = 0
    with open(path, "rb") as fh:
        while True:
            b = fh.read(block)
            if not b:
                return crc
            crc = zlib.crc32(b, crc)


def index_kind(man: dict) -> str:
    """The kind of a manifest's index ("flat" for databases written before compressed indexes)."""
    info = man.get("index") if isinstance(man, dict) else None
    return info.get("kind", "flat") if isinstance(info, dict) else "flat"


def read_index(path: Path, man: dict, rebuild: str):
    """The database's index from ``path/index.faiss``: checked against the manifest, then deserialized.

    Parameters
    ----------
    path : Path
        The database folder.
    man : dict
        Its manifest: ``files["index.faiss"]["crc32"]`` must be there and match the file's crc32
        before FAISS reads it; ``index`` says what kind of index it must be.
    rebuild : str
        Advice appended to errors.

    Raises
    ------
    DatabaseError
        Failing crc32, unreadable, or not the kind the manifest says.
    """
    import faiss

    f = Path(path) / INDEX_FILE
    meta = man.get("files", {}).get(INDEX_FILE, {})
    want = meta.get("crc32") if isinstance(meta, dict) else None
    if want is None:
        raise DatabaseError(f"the manifest has no crc32 for the compressed {INDEX_FILE}, so it cannot be checked "
                            f"before FAISS reads it; {rebuild}", path)
    try:
        data = np.fromfile(f, dtype=np.uint8)  # read once: the bytes checked are the bytes deserialized
    except OSError as e:
        raise DatabaseError(f"{INDEX_FILE} is unreadable ({e.strerror}); {rebuild}", path) from None
    if zlib.crc32(data) != want:
        raise DatabaseError(f"{INDEX_FILE} fails its crc32 check (corrupt); {rebuild}", path)
    try:
        index = faiss.deserialize_index(data)
    except (ValueError, RuntimeError) as e:
        raise DatabaseError(f"{INDEX_FILE} is unreadable ({str(e).splitlines()[0][:80]}); {rebuild}",
                            path) from None
    kind = index_kind(man)
    compressed = _is_ivf(index)
    if (kind == "flat") == compressed:
        raise DatabaseError(f"{INDEX_FILE} is not the {kind} index the manifest describes; {rebuild}", path)
    if compressed:
        set_nprobe(index, int(man["index"].get("nprobe", 16)))
    return index


def _is_ivf(index) -> bool:
    import faiss

    try:
        faiss.extract_index_ivf(index)
        return True
    except RuntimeError:
        return False
