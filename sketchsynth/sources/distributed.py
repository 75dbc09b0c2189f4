"""Reading and tracking recordings on a Dask cluster (``build-db --scheduler``).

Each recording is one task: a worker opens it (:func:`sketchsynth.sources.readers.open_readers`:
lists the JSON files, maps a landmark array, or tracks a video with
:func:`sketchsynth.sources.tracker.track_video_recordings`), reads all its rows
(:func:`sketchsynth.sources.readers.read_rows`) and returns the recording as a
:class:`sketchsynth.sources.recordings.Track`. The client gathers the tracks in
the recordings' order and builds the database from them as an in-process build
would, so the data files (and their sha256) are the same.

Workers need the same sketchsynth version (and its video extra for videos)
installed, and read access to the recordings at the same paths. Dask is imported
only here, and this module only when a scheduler is given.
"""

from __future__ import annotations

import os
import re

from ..errors import InputError, ParameterError, require


def read_recording(rec, fps=None, person="largest", n_threads=None, video_options=None):
    """One recording read (or tracked) whole: the task a worker runs.

    Parameters
    ----------
    rec : Recording
    fps, person, video_options :
        As for :func:`sketchsynth.sources.readers.open_readers` and ``read_rows``.
    n_threads : int, optional
        Threads parsing JSON on the worker.

    Returns
    -------
    Track
    """
    from .readers import open_readers, read_rows
    from .recordings import Track

    # one decoder thread, as the in-process tracking pool's workers use: a worker is one core's share
    video_options = {"threads": 1, **(video_options or {})}
    (r,) = open_readers([rec], fps=fps, n_workers=1, video_options=video_options)
    if r.track is not None:
        return r.track
    (kp, n_people), = read_rows([(r, 0, r.n_frames)], person=person, n_workers=n_threads)
    return Track(r.name, r.path, r.kind, kp, r.frames, r.time_s, n_people, r.sources(0, r.n_frames), r.fps,
                 r.fps_source, r.pupils_estimated, r.video, dict(r.extra))


MAX_LOCAL_WORKERS = 64
"""The most worker processes ``local:N`` starts (each one a Python interpreter with the tracker loaded)."""
CONNECT_TIMEOUT_S = 30
"""How long a build waits for a scheduler to answer."""
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})")


def parse_scheduler(spec: str) -> tuple[str, object]:
    """``("local", N)`` for ``local:N``, ``("address", spec)`` for ``tcp://HOST:PORT`` (or ``tls://``)."""
    spec = str(spec).strip()
    if spec.startswith("local:"):
        n = spec[len("local:"):]
        if not (n.isascii() and n.isdigit()) or len(n) > 4 or not 1 <= int(n) <= MAX_LOCAL_WORKERS:
            raise ParameterError(f"--scheduler local:N needs 1 to {MAX_LOCAL_WORKERS} worker processes, got {spec!r}")
        return "local", int(n)
    m = _ADDRESS.fullmatch(spec)
    if m and 1 <= int(m.group(3)) <= 65535:
        return "address", spec
    raise ParameterError(f"--scheduler must be tcp://HOST:PORT (a running dask scheduler, port 1-65535) or "
                         f"local:N, got {spec!r}")


def _connect(client_cls, address: str):
    """A client of the scheduler at ``address``, or ``TimeoutError`` after :data:`CONNECT_TIMEOUT_S`.

    Dask's own timeout covers the TCP connection, not the handshake after it: a server that accepts and never
    answers would hold the build forever. The client is made on a daemon thread that is given up on."""
    import threading

    box = {}

    def connect():
        try:
            box["client"] = client_cls(address, timeout=CONNECT_TIMEOUT_S)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = e

    t = threading.Thread(target=connect, name="sketchsynth-dask-connect", daemon=True)
    t.start()
    t.join(CONNECT_TIMEOUT_S + 5)
    if t.is_alive():
        raise TimeoutError(f"it accepted the connection but did not answer within {CONNECT_TIMEOUT_S + 5} s; is "
                           "it a dask scheduler?")
    if "error" in box:
        raise box["error"]
    return box["client"]


class _Cluster:
    """A Dask client for ``spec``, with the local cluster it started (closed on exit)."""

    def __init__(self, spec: str):
        self.kind, self.value = parse_scheduler(spec)
        self.spec = spec

    def __enter__(self):
        require("distributed", "dask", "building on a Dask cluster (build-db --scheduler)")
        from distributed import Client, LocalCluster

        self.cluster = None
        try:
            if self.kind == "local":
                # one thread per worker process: tracking holds the interpreter lock
                self.cluster = LocalCluster(n_workers=self.value, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = _connect(Client, self.value)
        except (OSError, TimeoutError) as e:
            if self.cluster is not None:
                self.cluster.close()
            raise InputError(f"cannot reach the Dask scheduler ({str(e).splitlines()[0][:100]}); start one with "
                             "`dask scheduler` and workers with `dask worker ADDRESS`, or use --scheduler local:N",
                             self.spec) from None
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def read_on_cluster(recordings: list, scheduler: str, fps=None, person="largest", n_threads=None,
                    video_options=None, progress: bool = False) -> list:
    """Every recording read (videos tracked) on the cluster's workers, gathered in order.

    Parameters
    ----------
    recordings : list of Recording
    scheduler : str
        ``tcp://HOST:PORT`` of a running ``dask scheduler``, or ``local:N``.
    fps, person, n_threads, video_options :
        See :func:`read_recording`.
    progress : bool
        A bar over the recordings.

    Returns
    -------
    list of Track
        In the order of ``recordings``.

    Raises
    ------
    InputError
        A recording a worker could not read (the worker's own message), or the
        scheduler could not be reached.
    """
    from tqdm import tqdm

    with _Cluster(scheduler) as client:
        from distributed import as_completed

        futures = [client.submit(read_recording, rec, fps, person, n_threads, video_options, pure=False,
                                 key=f"sketchsynth-read-{i}-{os.urandom(4).hex()}")
                   for i, rec in enumerate(recordings)]
        index = {f.key: i for i, f in enumerate(futures)}
        out = [None] * len(recordings)
        try:
            with tqdm(total=len(futures), desc="reading on the cluster", unit="recording",
                      disable=None if progress else True, leave=False) as bar:
                for f in as_completed(futures):
                    out[index[f.key]] = f.result()  # re-raises a worker's InputError here
                    f.release()
                    bar.update(1)
        except BaseException:
            client.cancel(futures)
            raise
    return out
