"""Phone labels of a database's frames: ``phones.parquet`` beside the database's own files.

``sketchsynth fit-phones --db DIR`` aligns every recording's sound to its
transcript (pocketsphinx, :mod:`sketchsynth.targets.text.align`) and labels each frame
with the phone and word at its middle. The file is optional and outside the
database's checksummed set (the database is usable without it); it records the
sha256 of the frame table it labels, so labels of a rebuilt database are
refused instead of silently misapplied.

``phones.parquet``: one row per database frame (row i = frame row i):
``phone`` (ARPAbet, ``SIL`` for silence and unlabelled frames), ``word``
(``sil``), ``labelled`` (bool: the recording was aligned); parquet metadata
``sketchsynth_phones``: JSON with ``frames_sha256``, ``transcripts`` and each
recording's word-boundary agreement when a GRID ``.align`` reference exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import DatabaseError, InputError
from .align import Aligner, boundary_agreement, read_audio, read_grid_align, words_of
from .phones import ARPABET, PHONE_ID, SIL, FramePhones, frame_labels

PHONES_FILE = "phones.parquet"
META_KEY = b"sketchsynth_phones"
TRANSCRIPT_EXTS = (".align", ".txt", ".lab")


def find_transcript(name: str, source_path: str, transcripts=None) -> str | None:
    """A recording's transcript: ``<stem>.align|.txt|.lab`` in ``transcripts`` or beside the recording."""
    stem = Path(name).stem if "." in Path(name).name else Path(name).name
    folders = ([Path(transcripts)] if transcripts else []) + [Path(source_path).parent, Path(source_path)]
    for folder in folders:
        for ext in TRANSCRIPT_EXTS:
            f = folder / (Path(stem).name + ext)
            if f.is_file():
                return os.fspath(f)
    return None


def read_transcript(path: str) -> tuple[list[str], list | None]:
    """Words of a transcript file, and the reference word timings of a GRID ``.align`` file (else None)."""
    if path.endswith(".align"):
        ref = read_grid_align(path)
        return [w for w, _, _ in ref if w != "sil"], ref
    return words_of(Path(path).read_text(errors="replace")), None


def recording_audio(db, rec: dict):
    """A recording's sound as 16 kHz int16: the database's own copy (``audio.npy``) when it has one,
    else decoded from the recording's file (:func:`sketchsynth.database.sound.find_audio`); None without sound."""
    from ...database.sound import find_audio
    from .align import to_int16

    audio = getattr(db, "audio_", None)
    if audio is not None:
        for e in audio.recordings():
            if e["name"] == rec.get("name"):
                return to_int16(audio.samples(e), 16000)
        return None
    src = find_audio(rec.get("kind", ""), rec.get("path", ""), rec.get("video"))
    return read_audio(src) if src else None


def label_database(db, transcripts=None, progress: bool = False) -> tuple:
    """Force-align every recording of a database and label its frames with phones.

    Parameters
    ----------
    db : FrameDatabase
    transcripts : path, optional
        Folder of ``<recording stem>.align|.txt|.lab`` (otherwise looked for beside each recording).
    progress : bool

    Returns
    -------
    phone : np.ndarray, shape (n_frames,), int16
        Phone id (:data:`sketchsynth.targets.text.phones.ARPABET`) of every database row.
    word : np.ndarray, shape (n_frames,), object
    labelled : np.ndarray, shape (n_frames,), bool
    report : dict
        ``recordings`` (aligned, skipped with the reason), ``agreement`` (word
        boundaries against GRID ``.align`` references, pooled), per recording.
    """
    from tqdm import tqdm

    table = db.frames_
    n = len(table)
    phone = np.full(n, PHONE_ID[SIL], np.int16)
    word = np.full(n, "sil", dtype=object)
    labelled = np.zeros(n, bool)
    aligner = Aligner()
    report = {"aligned": [], "skipped": {}, "per_recording": {}}
    diffs = []
    rec_codes = table["recording"].astype(str).to_numpy()
    by_name = {r["name"]: r for r in db.recordings_}
    names = list(dict.fromkeys(rec_codes))
    found = {n: find_transcript(n, by_name.get(n, {}).get("path", n), transcripts) for n in names}
    if not any(found.values()):
        where = f" in {os.fspath(transcripts)}" if transcripts else " beside it"
        raise InputError(f"no recording has a transcript (<name>.align, .txt or .lab{where}); "
                         "give a folder of them with --transcripts", transcripts)
    # disable=None: a bar on a terminal, nothing in a log
    for name in tqdm(names, desc="aligning", unit="recording", disable=None if progress else True):
        rec = by_name.get(name, {"name": name, "path": name})
        tpath = found[name]
        if tpath is None:
            report["skipped"][name] = "no transcript"
            continue
        try:
            sound = recording_audio(db, rec)
        except InputError as e:
            sound, report["skipped"][name] = None, str(e)
        if sound is None or not len(sound):
            report["skipped"].setdefault(name, "no sound")
            continue
        words, ref = read_transcript(tpath)
        try:
            al = aligner.align(sound, words)
        except InputError as e:
            report["skipped"][name] = str(e)
            continue
        rows = np.flatnonzero(rec_codes == name)
        fps = float(rec.get("fps") or 25.0)
        mid = table["time_s"].to_numpy()[rows] + 0.5 / fps
        phone[rows] = frame_labels(al.phones, mid)
        wid = frame_labels([("AA", s, e) for _, s, e in al.words], mid)  # which word interval holds the frame
        starts = np.array([s for _, s, _ in al.words])
        j = np.clip(np.searchsorted(starts, mid, side="right") - 1, 0, None)
        word[rows] = np.where(wid == PHONE_ID["AA"], np.array([w for w, _, _ in al.words], dtype=object)[j], "sil")
        labelled[rows] = True
        report["aligned"].append(name)
        if ref is not None:
            a = boundary_agreement(al.words, ref)
            report["per_recording"][name] = a
            p = [(s, e) for w, s, e in al.words if w != "sil"]
            r = [(s, e) for w, s, e in ref if w != "sil"]
            if a["n"]:
                diffs.append((np.asarray(p) - np.asarray(r)).ravel())
    if diffs:
        sd = np.concatenate(diffs)
        d = np.abs(sd)
        report["agreement"] = {"recordings": len(diffs), "boundaries": int(d.size),
                               "mean_signed_ms": float(sd.mean() * 1000),
                               "mean_abs_ms": float(d.mean() * 1000), "median_abs_ms": float(np.median(d) * 1000),
                               "within_20ms": float((d <= 0.02 + 1e-9).mean()),
                               "within_40ms": float((d <= 0.04 + 1e-9).mean())}
    return phone, word, labelled, report


def _frames_sha(db) -> str:
    return db.manifest_["files"]["frames.parquet"]["sha256"]


def save_phones(db, phone, word, labelled, report: dict, transcripts=None) -> Path:
    """Write ``phones.parquet`` into the database folder (atomically: a temporary file renamed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(db.path_) / PHONES_FILE
    meta = {"frames_sha256": _frames_sha(db), "transcripts": os.fspath(transcripts) if transcripts else None,
            **{k: v for k, v in report.items() if k != "per_recording"}}
    tab = pa.table({"phone": pa.array([ARPABET[i] for i in phone]).dictionary_encode(),
                    "word": pa.array(list(word)).dictionary_encode(), "labelled": pa.array(labelled)})
    tab = tab.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    from ...io.storage import exclusive_temp

    tmp = exclusive_temp(path.parent, PHONES_FILE)
    try:
        pq.write_table(tab, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def has_phone_labels(db) -> bool:
    """Whether the database folder holds phone labels (``fit-phones`` was run on it)."""
    return (Path(db.path_) / PHONES_FILE).is_file()


def load_labels(db) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A database's per-row labels as stored: phone ids (shape (n_frames,), int16, :data:`ARPABET`), words
    (object, ``"sil"`` between words) and ``labelled`` (bool).

    Raises
    ------
    DatabaseError
        No ``phones.parquet`` (the message names ``sketchsynth fit-phones``), or
        one made for another build of the database.
    """
    ids, word, labelled, _ = _read(db, words=True)
    return ids, word, labelled


def _read(db, words: bool = False):
    import pyarrow.parquet as pq

    path = Path(db.path_) / PHONES_FILE
    fix = f"sketchsynth fit-phones --db {db.path_} --transcripts DIR"
    if not path.is_file():
        raise DatabaseError(f"the database has no phone labels; make them with: {fix}", db.path_)
    try:
        tab = pq.read_table(path)
        meta = json.loads((tab.schema.metadata or {}).get(META_KEY, b"{}"))
        ph = tab.column("phone").to_pylist()
        labelled = np.asarray(tab.column("labelled").to_pylist(), bool)
        word = np.asarray(tab.column("word").to_pylist(), object) if words else None
    except Exception as e:  # pyarrow raises many kinds
        raise DatabaseError(f"{PHONES_FILE} is unreadable ({str(e)[:60]}); remake it with: {fix}", path) from None
    if len(ph) != db.n_frames_ or meta.get("frames_sha256") != _frames_sha(db):
        raise DatabaseError(f"{PHONES_FILE} labels another build of this database; remake it with: {fix}", path)
    return np.array([PHONE_ID.get(p, PHONE_ID[SIL]) for p in ph], np.int16), word, labelled, meta


def load_phones(db) -> tuple[FramePhones, np.ndarray, dict]:
    """Read a database's phone labels.

    Returns
    -------
    phones : FramePhones
        Per database row, segments broken at recording boundaries.
    labelled : np.ndarray, shape (n_frames,), bool
    meta : dict

    Raises
    ------
    DatabaseError
        As :func:`load_labels`.
    """
    ids, _, labelled, meta = _read(db)
    rec = db.table_["recording"]
    breaks = np.ones(len(rec), bool)
    breaks[1:] = rec[1:] != rec[:-1]
    # a hole in a recording's frames (or an unusable frame) is not continuous speech either
    breaks |= np.r_[True, db.successor_[:-1] != np.arange(1, len(rec))] if len(rec) else breaks
    return FramePhones.from_ids(ids, breaks), labelled, meta
