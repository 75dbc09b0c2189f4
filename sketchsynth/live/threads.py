"""One compute thread per live engine.

A live engine searches one frame at a time. FAISS's OpenMP threads spin after each single-query search and
starve the BLAS threads (even the speech model's small matrix product): with two threads on two cores a frame's
speech target cost 22 ms, with one 2 ms. A live process therefore runs its searches and its BLAS on one thread.
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
