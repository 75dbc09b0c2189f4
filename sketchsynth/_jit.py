"""Is a numba kernel ready to run without compiling it: compiled in this process, or in numba's cache?

Compiling costs once per install (the JSON scanner about 8 s of CPU, the file-name parser about 1 s);
loading a cached kernel about 0.1 s. For a few thousand files the plain Python readers (orjson) take
less than the compilation, so small jobs use them until a large job has compiled the kernel -- from
then on every job loads it. Both readers give the same results (the tests compare them).
"""

from __future__ import annotations

KERNEL_MIN_ITEMS = 10_000
"""Below this many items (files, names) a kernel that is not compiled yet is not compiled for them."""


def ready(dispatcher) -> bool:
    """Whether ``dispatcher`` (a ``numba.njit(cache=True)`` function) runs without compiling."""
    if dispatcher.signatures:
        return True
    try:  # an index for the current source (numba drops a stale one) lists the cached specializations
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001  numba's internals changed: assume ready, the kernel stays the default
        return True


def worth_it(dispatcher, n_items: int) -> bool:
    """Use the kernel for ``n_items`` items: it is ready, or the job is large enough to pay for compiling it."""
    return n_items >= KERNEL_MIN_ITEMS or ready(dispatcher)
