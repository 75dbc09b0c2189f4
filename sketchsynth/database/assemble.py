"""Building a database from recordings: read them (here or on a Dask cluster), write the folder atomically,
keep the sound, run the caller's fitters on it, and open the result."""

from __future__ import annotations

import os

from ..errors import DatabaseError, InputError
from .normalize import Normalizer


def build_frame_database(db, source, progress: bool = False, video_options: dict | None = None, path=None,
                         force: bool = False, protect=(), scheduler: str | None = None, fitters=()):
    """What :meth:`FrameDatabase.build` does (see there); returns ``db``, fitted."""

    import shutil
    import tempfile

    from .build import build_database
    from ..sources.readers import open_readers, reader_from_track
    from ..sources.recordings import Track, discover
    from ..io.storage import atomic_directory

    w = db.check_params()
    normalizer = Normalizer(db.mode, db.anchors, db.stable_points)
    normalizer.check()
    if isinstance(source, (list, tuple)) and all(isinstance(t, Track) for t in source):
        readers = [reader_from_track(t) for t in source]
        db.source_ = None
    else:
        db.source_ = os.fspath(source)
        if scheduler is not None:
            from ..sources.distributed import read_on_cluster

            readers = [reader_from_track(t) for t in read_on_cluster(
                discover(source), scheduler, fps=db.fps, person=db.person, n_threads=db.n_workers,
                video_options=video_options, progress=progress)]
        else:
            readers = open_readers(discover(source), fps=db.fps, n_workers=db.n_workers,
                                   progress=progress, video_options=video_options)
    if not readers or sum(r.n_frames for r in readers) == 0:
        raise InputError("no frames in the recordings", db.source_)

    def write(folder):
        """Build into ``folder``; returns the FAISS index built (the same as index.faiss, not read back)."""
        try:
            index = build_database(readers, folder, w, normalizer, db.anchor_min_confidence, db.max_gap,
                                   person=db.person, n_workers=db.n_workers, progress=progress,
                                   track_filter=db.track_filter, return_index=True,
                                   fit_gate=db.fit_gate, index=db.index)[1]
            add_sound_and_fit(db, folder, readers, index, progress, fitters)
            return index
        except InputError as e:
            if e.path is None and db.source_ is not None:
                raise InputError(e.message, db.source_) from None
            raise

    if path is not None:
        protect = [*protect, (db.source_, "the recordings")]
        with atomic_directory(path, force=force, error=DatabaseError, kind="database", protect=protect) as tmp:
            index = write(tmp)
        db.adopt(type(db).load(path, verify="none", in_memory=False, index=index))
    else:
        tmp = tempfile.mkdtemp(prefix="sketchsynth-db-")
        try:
            index = write(tmp)
            db.adopt(type(db).load(tmp, verify="none", in_memory=True, index=index))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        del db.path_
    return db


def add_sound_and_fit(db, folder, readers, index, progress: bool, fitters=()):
    """Keep the recordings' sound (analysed by ``features``), then run each of ``fitters`` on the database written
    (see :meth:`FrameDatabase.build`)."""
    from .sound import add_audio

    add_audio(folder, readers, progress=progress, features=db.features)
    if fitters:
        written = type(db).load(folder, verify="none", in_memory=False, index=index)
        from tqdm.auto import tqdm

        # a fit takes seconds to minutes with nothing else to show: a bar that names it, per fitter
        for fit in tqdm(fitters, desc="fitting", unit="model", leave=False, disable=None if progress else True):
            fit(written, folder)
