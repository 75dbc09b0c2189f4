"""POSIX file calls (``openat``, ``read``, ``close``) for numba kernels.

Reading tens of thousands of 2 kB files from Python costs about as much in
interpreter overhead (path joins, bytes objects, a list to join) as in the system
calls themselves, and holds the GIL throughout. Called from a ``nogil`` kernel, a
file costs its three system calls and nothing else, and several threads read at
once.

The functions are declared by their C names and resolved by the JIT linker
against the C library already loaded in the process (not through ctypes
pointers, whose addresses would keep numba from caching the kernels).
"""

from __future__ import annotations

import os

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

AVAILABLE = os.name == "posix" and hasattr(os, "O_DIRECTORY")
"""Whether kernels may use these calls (elsewhere callers read files from Python)."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)  # no fd leaks into a process forked meanwhile

_I8P = ir.IntType(8).as_pointer()
_INT = ir.IntType(32)
_SSIZE = ir.IntType(64)


def _libc(builder, name, ret, args, var_arg=False):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args, var_arg=var_arg), name)


@intrinsic
def openat_read_only(typingctx, dir_fd, path):
    """``openat(dir_fd, path, O_RDONLY | O_CLOEXEC)``: a descriptor, or -1.

    dir_fd : int32, a directory opened by the caller; path : voidptr to a
    NUL-terminated name (``array.ctypes``).
    """
    def codegen(context, builder, sig, args):
        fn = _libc(builder, "openat", _INT, [_INT, _I8P], var_arg=True)  # openat takes an optional mode
        return builder.call(fn, [args[0], args[1], ir.Constant(_INT, _OPEN_FLAGS)])

    return types.int32(types.int32, types.voidptr), codegen


@intrinsic
def read_into(typingctx, fd, buf, size):
    """``read(fd, buf, size)``: bytes read, 0 at the end of the file, -1 on an error."""
    def codegen(context, builder, sig, args):
        return builder.call(_libc(builder, "read", _SSIZE, [_INT, _I8P, _SSIZE]), args)

    return types.int64(types.int32, types.voidptr, types.int64), codegen


@intrinsic
def close_fd(typingctx, fd):
    """``close(fd)``."""
    def codegen(context, builder, sig, args):
        return builder.call(_libc(builder, "close", _INT, [_INT]), args)

    return types.int32(types.int32), codegen
