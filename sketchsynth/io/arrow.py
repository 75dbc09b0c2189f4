"""Arrow arrays to and from numpy without pandas.

pyarrow imports pandas (a quarter of a second) the first time ``pa.array`` or ``Array.to_numpy``
is called, to recognize pandas objects; sketchsynth's commands make and read their columns from
buffers instead, so only the commands that want a DataFrame pay for pandas.
"""

from __future__ import annotations

import numpy as np

_NUMPY_TYPES = {"bool": np.bool_, "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
                "float": np.float32, "double": np.float64}


def is_primitive(arr) -> bool:
    """Whether :func:`to_numpy` takes ``arr``: a boolean or numeric Arrow array without nulls."""
    return str(arr.type) in _NUMPY_TYPES and not arr.null_count


def to_numpy(arr) -> np.ndarray:
    """A primitive Arrow array without nulls as a numpy array, from its buffers.

    (``Array.to_numpy`` imports pandas, which costs more than reading the whole table.)"""
    kind = str(arr.type)
    if kind not in _NUMPY_TYPES:
        raise TypeError(f"column of type {kind}")
    if arr.null_count:
        raise ValueError("a column has missing values")
    n, off = len(arr), arr.offset
    if n == 0:
        return np.zeros(0, _NUMPY_TYPES[kind])
    data = arr.buffers()[1]
    if kind == "bool":
        bits = np.frombuffer(data, np.uint8)
        return np.unpackbits(bits, bitorder="little")[off:off + n].astype(bool)
    dtype = np.dtype(_NUMPY_TYPES[kind])
    return np.frombuffer(data, dtype=dtype, count=n, offset=off * dtype.itemsize).copy()


_ARROW_TYPES = {np.dtype(np.int8): "int8", np.dtype(np.int16): "int16", np.dtype(np.int32): "int32",
                np.dtype(np.int64): "int64", np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def arrow_array(values: np.ndarray):
    """A numeric or boolean numpy array (n,) as an Arrow array, without nulls."""
    import pyarrow as pa

    v = np.ascontiguousarray(values)
    if v.dtype == bool:
        return pa.Array.from_buffers(pa.bool_(), len(v), [None, pa.py_buffer(np.packbits(v, bitorder="little"))])
    return pa.Array.from_buffers(getattr(pa, _ARROW_TYPES[v.dtype])(), len(v), [None, pa.py_buffer(v)])


def arrow_strings(values) -> object:
    """A sequence of str as an Arrow string array."""
    import pyarrow as pa

    data = [str(x).encode("utf-8", "backslashreplace") for x in values]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets.astype(np.int32)),
                                           pa.py_buffer(b"".join(data)))
    return pa.LargeStringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)))


def dictionary_column(codes: np.ndarray, names):
    """Codes (n,) into ``names`` as an Arrow dictionary array of strings."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(arrow_array(np.asarray(codes, np.int32)), arrow_strings(names))
