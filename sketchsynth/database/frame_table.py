"""The frame table (``frames.parquet``): one row per database frame, held as numpy columns.

It is read with pyarrow alone: pandas costs a quarter of a second to import, more than a
whole warm ``match`` spends on its search, and a match needs only a few columns as arrays.
:meth:`FrameTable.to_pandas` gives the DataFrame (``FrameDatabase.frames_``) to code that wants one.

Columns (see ``db/README.md``): ``recording`` (dictionary-encoded name), ``frame`` (int64),
``time_s`` (float64), ``source`` (str), ``usable`` (bool), ``reason`` (str), ``filled_points``
(int16), ``pupils_estimated`` (bool), ``n_people`` (int16).
"""

from __future__ import annotations

import numpy as np

from ..io.arrow import arrow_array, dictionary_column, is_primitive, to_numpy


REQUIRED = ("recording", "frame", "time_s", "usable", "reason", "filled_points")


class FrameTable:
    """Frame table columns as numpy arrays.

    Parameters
    ----------
    columns : dict of str -> np.ndarray, each shape (n_frames,)
        Every column but ``recording``; string columns as object arrays.
    codes : np.ndarray, shape (n_frames,), int32
        Each frame's recording, as an index into ``names``.
    names : list of str
        Recording names.
    """

    def __init__(self, columns: dict, codes: np.ndarray, names: list):
        self._columns = dict(columns)
        self.codes = np.asarray(codes, np.int32)
        self.names = [str(n) for n in names]
        self._recording = None

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def columns(self) -> list:
        return ["recording", *self._columns]

    def __contains__(self, name) -> bool:
        return name == "recording" or name in self._columns

    def __getitem__(self, name: str) -> np.ndarray:
        """A column as an array, shape (n_frames,); ``recording`` as an object array of names."""
        if name == "recording":
            if self._recording is None:
                self._recording = np.asarray(self.names, dtype=object)[self.codes] if len(self.names) else \
                    np.empty(len(self.codes), dtype=object)
            return self._recording
        col = self._columns[name]
        if not isinstance(col, np.ndarray):
            col = self._columns[name] = np.asarray(col.to_pylist(), dtype=object)
        return col

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(cls, path) -> "FrameTable":
        """Read ``frames.parquet`` (pyarrow; raises OSError/ValueError/KeyError/TypeError when damaged)."""
        import pyarrow.parquet as pq

        # ParquetFile, not read_table: the latter imports pyarrow.dataset, and with it pandas
        with pq.ParquetFile(path) as f:
            return cls.from_arrow(f.read())

    @classmethod
    def from_arrow(cls, table) -> "FrameTable":
        import pyarrow as pa

        if "recording" not in table.column_names:
            raise KeyError("recording")
        rec = table.column("recording").combine_chunks()
        if not pa.types.is_dictionary(rec.type):
            rec = rec.dictionary_encode()
        if rec.null_count:
            raise ValueError("recording names are missing")
        codes = to_numpy(rec.indices)
        names = rec.dictionary.to_pylist()
        cols = {}
        for name in table.column_names:
            if name == "recording":
                continue
            col = table.column(name).combine_chunks()
            if is_primitive(col):
                cols[name] = to_numpy(col)
            else:  # strings (and columns of other types): an object array when first asked for
                cols[name] = col
        return cls(cols, codes, names)

    def to_pandas(self):
        """A pandas DataFrame of the table, ``recording`` categorical."""
        import pandas as pd

        df = pd.DataFrame({"recording": pd.Categorical.from_codes(self.codes, categories=self.names)})
        for name in self._columns:
            df[name] = self[name]
        return df

    # ------------------------------------------------------------------ checks and summaries
    def problem(self, n_usable: int) -> str | None:
        """Whether the table has the columns and values a match relies on (``n_usable``: the manifest's)."""
        missing = [c for c in REQUIRED if c not in self]
        if missing:
            return f"columns {missing} are missing"
        if self["usable"].dtype != bool or not np.issubdtype(self["frame"].dtype, np.integer) or \
                not np.issubdtype(self["time_s"].dtype, np.floating):
            return "usable must be booleans, frame whole numbers and time_s numbers"
        if int(self["usable"].sum()) != n_usable:
            return f"{int(self['usable'].sum())} usable frames, the manifest says {n_usable}"
        return None

    def unusable_by_reason(self) -> dict:
        """{reason: count} over the unusable frames, most frequent first."""
        why, n = np.unique(self["reason"][~self["usable"]].astype(str), return_counts=True)
        order = np.argsort(-n, kind="stable")
        return {str(why[i]): int(n[i]) for i in order}


# ---------------------------------------------------------------------- writing
def write_frame_table(path, recording_codes, recording_names, frame, time_s, source, usable, reason_codes,
                      reasons, filled_points, pupils_estimated, n_people) -> None:
    """Write ``frames.parquet`` (the columns of the module docstring; ``source`` an Arrow string array,
    ``reason`` as codes into ``reasons``, stored as strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "recording": dictionary_column(recording_codes, recording_names),
        "frame": arrow_array(np.asarray(frame, np.int64)),
        "time_s": arrow_array(np.asarray(time_s, np.float64)),
        "source": source,
        "usable": arrow_array(np.asarray(usable, bool)),
        "reason": _strings_by_code(reasons, reason_codes),
        "filled_points": arrow_array(np.asarray(filled_points, np.int16)),
        "pupils_estimated": arrow_array(np.asarray(pupils_estimated, bool)),
        "n_people": arrow_array(np.asarray(n_people, np.int16)),
    })
    pq.write_table(table, path)


def _strings_by_code(strings, codes):
    """``strings[codes]`` as an Arrow string array, without a Python object per row."""
    from ..io._names import to_arrow

    encoded = [str(x).encode("utf-8") for x in strings]
    table = np.array(encoded, dtype=f"S{max(map(len, encoded), default=0) + 1}")
    return to_arrow(table[np.asarray(codes, np.intp)])
