"""A live process's settings: one compute thread per engine, and a garbage collector that does not pause it.

A live engine searches one frame at a time. FAISS's OpenMP threads spin after each single-query search and
starve the BLAS threads (even the speech model's small matrix product): with two threads on two cores a frame's
speech target cost 22 ms, with one 2 ms. A live process therefore runs its searches and its BLAS on one thread.

Python's full (generation 2) collection walks every object the process holds -- a loaded database's tables and
models are millions -- and paused a 60 s live stream 4 times, up to 76 ms each: a frame late at playout.
Once an engine is loaded, :func:`freeze_heap` moves what exists into the collector's permanent generation, so a
full collection walks only what the stream itself allocated since.
"""

from __future__ import annotations

_LIMITS = []


def pin_threads() -> None:
    """Run FAISS and the BLAS on one thread in this process (idempotent)."""
    import faiss

    faiss.omp_set_num_threads(1)
    if not _LIMITS:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # without it the BLAS keeps its threads: slower, still correct
            return
        _LIMITS.append(threadpool_limits(limits=1))


def freeze_heap() -> None:
    """Collect once, then leave every object alive now out of later collections (``gc.freeze``); call when an
    engine has loaded and warmed up."""
    import gc

    gc.collect()
    gc.freeze()
