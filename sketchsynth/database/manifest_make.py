"""The manifest a build writes: format, parameters, etalon, counts, recordings and every file's checksum."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from .._version import __version__
from ..io.storage import sha256_file
from .format import DATA_FILES, FORMAT, FORMAT_VERSION
from .normalize import Normalizer


def make_manifest(weights, normalizer: Normalizer, anchor_min_confidence, max_gap, person, track_filter,
                  etalon: dict, counts: dict, recordings: list, folder, digests: dict | None = None,
                  index_info: dict | None = None) -> dict:
    """The manifest of a database whose data files are already in ``folder``.

    ``digests`` may give files' sha256 already computed; the others are read here. ``index_info``
    describes index.faiss (:mod:`sketchsynth.database.indexes`; default a flat index); its crc32 is recorded
    too, for :func:`sketchsynth.database.indexes.read_index` to check before deserializing.
    """
    from .indexes import INDEX_FILE, file_crc32

    digests = digests or {}
    files = {f: {"bytes": (Path(folder) / f).stat().st_size,
                 "sha256": digests[f] if f in digests else sha256_file(Path(folder) / f)}
             for f in DATA_FILES}
    files[INDEX_FILE]["crc32"] = file_crc32(Path(folder) / INDEX_FILE)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sketchsynth_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "params": {
            "weights": [float(x) for x in weights],
            "normalization": normalizer.get_params(),
            "anchor_min_confidence": float(anchor_min_confidence),
            "max_gap": int(max_gap),
            "person": person,
            "track_filter": track_filter,
        },
        "etalon": etalon,
        "counts": counts,
        "recordings": recordings,
        "files": files,
        "index": dict(index_info or {"kind": "flat"}),
    }
