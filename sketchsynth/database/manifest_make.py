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


def database_manifest(db, folder) -> dict:
    """The manifest for ``db``'s data files already written in ``folder`` (:meth:`FrameDatabase.save`)."""
    et_row = getattr(db, "etalon_row_", -1)
    et = {"row": int(et_row), "points": db.normalizer_.etalon_.tolist()}
    if et_row >= 0:
        et["recording"] = str(db.table_["recording"][et_row])
        et["frame"] = int(db.table_["frame"][et_row])
        et["anchor_spread_px"] = float(Normalizer.anchor_spread(db.keypoints_[et_row:et_row + 1],
                                                                 db.normalizer_.anchors)[0])
    counts = {"frames": int(db.n_frames_), "usable": int(db.n_usable_), "recordings": len(db.recordings_),
              "unusable_by_reason": db.table_.unusable_by_reason(),
              "filled_points": int(db.table_["filled_points"].sum())}
    return make_manifest(db.weights_, db.normalizer_, db.anchor_min_confidence, db.max_gap, db.person,
                         db.track_filter, et, counts, db.recordings_, folder, index_info=db.index_info_)
