"""Compressed indexes (IVF-PQ) and streamed exact searches; builds on a Dask cluster."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchsynth import FrameDatabase, match
from sketchsynth.selection import exhaustive as exhaustive_search, search
from sketchsynth.errors import DatabaseError, ParameterError
from sketchsynth.selection.matching import agreement
from sketchsynth.selection.candidates import COMPRESSED_PREFILTER_K, DEFAULT_PREFILTER_K

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def pq_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("pq") / "example-pq"
    return FrameDatabase(index="ivfpq").build(EXAMPLES / "recordings", path=path)


@pytest.fixture(scope="module")
def flat_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("flat") / "example-flat"
    return FrameDatabase(index="flat").build(EXAMPLES / "recordings", path=path)


def test_compressed_index_is_recorded_and_matches_like_exhaustive(pq_db, flat_db, heldout):
    man = json.loads((pq_db.path_ / "manifest.json").read_text())
    assert man["index"]["kind"] == "ivfpq" and man["index"]["factory"].startswith("IVF")
    assert isinstance(man["files"]["index.faiss"]["crc32"], int)
    db = FrameDatabase.load(pq_db.path_)
    assert db.index_info_ == man["index"]
    # the same data files as the flat build; only the index differs
    fman = json.loads((flat_db.path_ / "manifest.json").read_text())
    for f in ("keypoints.npy", "normalized.npy", "transforms.npy", "frames.parquet"):
        assert man["files"][f]["sha256"] == fman["files"][f]["sha256"]
    kp = heldout.keypoints[:600]
    res = match(db, kp)
    assert res.search == "pq" and res.search_info["pq_frames"] > 0
    # a compressed prefilter is widened by default (its squared-distance top-256 misses the method's best
    # more often on big databases of near-copies); the flat one keeps 256; -k still wins
    assert res.k == COMPRESSED_PREFILTER_K and res.candidates.shape[1] == min(COMPRESSED_PREFILTER_K, db.n_usable_)
    assert match(flat_db, kp[:10]).k == DEFAULT_PREFILTER_K
    assert match(db, kp[:10], k=64).k == 64
    ex = match(flat_db, kp, exhaustive_search=True)
    assert agreement(res.rows, res.target_cost, ex.rows, ex.target_cost).mean() >= 0.98
    # exact on the compressed database streams every frame: the flat database's exact answer
    exact_pq = match(db, kp, search="exact")
    exact_flat = match(flat_db, kp, search="exact")
    assert agreement(exact_pq.rows, exact_pq.target_cost, exact_flat.rows, exact_flat.target_cost).all()
    with pytest.raises(ParameterError, match="compressed"):
        match(flat_db, kp[:10], search="pq")


def test_damaged_compressed_index_fails_its_crc32_before_faiss(pq_db, tmp_path):
    dst = tmp_path / "db"
    shutil.copytree(pq_db.path_, dst)
    f = dst / "index.faiss"
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0xFF  # same size: only the checksum can tell
    f.write_bytes(bytes(b))
    with pytest.raises(DatabaseError, match="crc32"):
        FrameDatabase.load(dst)


def test_streamed_exact_searches_equal_the_in_memory_ones(flat_db, heldout, monkeypatch):
    db = FrameDatabase.load(flat_db.path_)
    norm, _, ok = db.normalize(heldout.keypoints[:200])
    q = norm[ok]
    qw = np.broadcast_to(db.weights_, (len(q), 70)).astype(np.float64)
    qw[::3, 60:68] = 0  # some frames with missing points: the column-slice path
    vq = search.weighted_vectors(q, db.weights_)
    want = db.index_.search(vq, 32)[1]
    r0, c0 = exhaustive_search.exhaustive(db, q, qw, np.full(len(q), -1), np.full(len(q), np.inf), "sum")
    monkeypatch.setattr(search, "EXACT_BLOCK", 700)  # many blocks, read from the file
    assert search.is_streamed(db)
    got = search.exact_knn(db, vq, 32)
    assert (got == want).mean() > 0.999  # float32 ties may order differently
    r1, c1 = exhaustive_search.exhaustive(db, q, qw, np.full(len(q), -1), np.full(len(q), np.inf), "sum")
    assert np.allclose(c0, c1) and (r0 == r1).mean() > 0.99


def _sha(folder):
    man = json.loads((Path(folder) / "manifest.json").read_text())
    return {f: m["sha256"] for f, m in man["files"].items()}


def test_dask_local_cluster_builds_the_same_database(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    src = tmp_path / "videos"
    src.mkdir()
    for p in sorted((EXAMPLES / "grid_s1" / "recordings").glob("*.mp4"))[:3]:
        shutil.copy(p, src / p.name)
    # each build tracks from scratch: the workers really track
    monkeypatch.setenv("SKETCHSYNTH_CACHE", os.fspath(tmp_path / "cache-dask"))
    FrameDatabase().build(src, path=tmp_path / "db-dask", scheduler="local:2")
    monkeypatch.setenv("SKETCHSYNTH_CACHE", os.fspath(tmp_path / "cache-local"))
    FrameDatabase().build(src, path=tmp_path / "db-local")
    assert _sha(tmp_path / "db-dask") == _sha(tmp_path / "db-local")
    assert any((tmp_path / "cache-dask").rglob("*")), "the workers tracked (and cached) the videos"


def test_without_scheduler_nothing_of_dask_is_imported(tmp_path):
    code = ("import sys; from click.testing import CliRunner; from sketchsynth.cli import cli; "
            f"r = CliRunner().invoke(cli, ['build-db', {os.fspath(EXAMPLES / 'recordings')!r}, '--db', "
            f"{os.fspath(tmp_path / 'db')!r}]); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_bad_scheduler_is_a_clean_error(tmp_path):
    from click.testing import CliRunner

    from sketchsynth.cli import cli

    r = CliRunner().invoke(cli, ["build-db", os.fspath(EXAMPLES / "recordings"), "--db",
                                  os.fspath(tmp_path / "db"), "--scheduler", "local:zero"])
    assert r.exit_code == 2 and "local:N" in r.output and "Traceback" not in r.output


def test_a_scheduler_that_never_answers_is_a_clean_error_in_bounded_time(tmp_path, monkeypatch):
    """A server that accepts the connection and says nothing (not a dask scheduler, or a hung one): the build
    gives up after the connection timeout instead of waiting forever."""
    import socket

    pytest.importorskip("distributed")
    from click.testing import CliRunner

    from sketchsynth.cli import cli
    from sketchsynth.sources import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts the connections; nobody ever reads or answers
    try:  # before the bound this call never returned
        r = CliRunner().invoke(cli, ["build-db", os.fspath(EXAMPLES / "recordings"), "--db",
                                      os.fspath(tmp_path / "db"), "--scheduler",
                                      f"tcp://127.0.0.1:{silent.getsockname()[1]}"])
    finally:
        silent.close()
    assert r.exit_code == 2 and "did not answer" in r.stderr and "Traceback" not in r.output, r.output
    assert not (tmp_path / "db").exists()
