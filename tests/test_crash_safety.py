"""A killed or concurrent build-db never corrupts a database (issue: reliability)."""

import contextlib
import random
import signal
import subprocess
import sys
import time

import pytest

from sketchsynth import FrameDatabase

N_KILLS = 20


@contextlib.contextmanager
def _lock_held_elsewhere(target: str):
    """Another process holding sketchsynth's lock on ``target`` (a Python expression) for the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom sketchsynth.io.locks import real_path, target_lock\n"
         f"with target_lock({target}):\n    print('held', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def _build_cmd(rec, db):
    return [sys.executable, "-m", "sketchsynth.cli", "build-db", str(rec), "--db", str(db), "--force", "--fps", "30"]


def _strays(db):
    if not db.parent.exists():
        return []
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(f".{db.name}.") and
                  not p.name.endswith(".lock"))


def _timed_build(cmd, db):
    """Run a build; returns (its seconds, seconds its temporary folder existed)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    appeared = gone = None
    while p.poll() is None:
        if appeared is None and _strays(db):
            appeared = time.perf_counter()
        elif appeared is not None and gone is None and not _strays(db):
            gone = time.perf_counter()
        time.sleep(0.001)
    assert p.returncode == 0
    end = time.perf_counter()
    return end - t0, (gone or end) - (appeared or t0)


def test_sigkill_at_random_moments_never_corrupts(henan_dir, tmp_path):
    db = tmp_path / "db" / "henan"
    # The first build in a fresh install compiles the JSON scanner (several seconds once); time a warm one,
    # so the kills below are spread over a build as long as the ones they interrupt.
    _timed_build(_build_cmd(henan_dir, db), db)
    full, writing = _timed_build(_build_cmd(henan_dir, db), db)
    before = FrameDatabase.load(db, verify="sha256").manifest_["created"]
    rng = random.Random(1234)
    killed_mid_write = 0
    for i in range(N_KILLS):
        left = set(_strays(db))
        p = subprocess.Popen(_build_cmd(henan_dir, db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 2:  # aimed at the write, a short part of the run (interpreter start and imports take most)
            while not set(_strays(db)) - left and p.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, writing))
        else:
            time.sleep(rng.uniform(0.05, full))
        if set(_strays(db)) - left:
            killed_mid_write += 1
        p.send_signal(signal.SIGKILL)
        p.wait()
        # whatever the moment, the database is the old one or a complete new one, checksums verified
        loaded = FrameDatabase.load(db, verify="sha256")
        assert loaded.n_frames_ == 10_820
    print(f"\n{N_KILLS} kills ({killed_mid_write} while a temporary database was being written); "
          f"full build {full:.1f} s, of which {writing:.1f} s with a temporary database; database intact "
          "after every kill")
    assert killed_mid_write >= 3  # the kills really landed inside writes
    subprocess.run(_build_cmd(henan_dir, db), check=True, capture_output=True)
    assert _strays(db) == []  # the next run cleaned what the killed ones left
    assert FrameDatabase.load(db, verify="sha256").manifest_["created"] >= before


# The CLI with a build's imports done, run when told: the build itself (10k frames) is over sooner than the
# imports of a process started meanwhile would be.
_WAITING_CLI = """
import sys
import sketchsynth.database.build, sketchsynth.database.frame_database
from sketchsynth.cli import main
print("ready", flush=True)
sys.stdin.readline()
main(sys.argv[1:])
"""


def test_two_builds_of_one_target_one_wins(henan_dir, tmp_path):
    db = tmp_path / "db" / "henan"
    second = subprocess.Popen([sys.executable, "-c", _WAITING_CLI] + _build_cmd(henan_dir, db)[3:],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert second.stdout.readline().strip() == "ready"
    first = subprocess.Popen(_build_cmd(henan_dir, db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not _strays(db) and first.poll() is None and time.time() < deadline:
        time.sleep(0.005)  # the first build holds the lock once it writes its temporary folder
    if first.poll() is not None:
        second.kill()
        second.communicate()
        pytest.skip("first build finished before the second could start")
    _, second_err = second.communicate("go\n")
    out, err = first.communicate()
    assert first.returncode == 0, err
    assert second.returncode == 2
    lines = second_err.strip().splitlines()
    assert len(lines) == 1 and "another sketchsynth process is writing here" in lines[0]
    assert FrameDatabase.load(db, verify="sha256").n_frames_ == 10_820


def test_lock_file_is_removed_and_a_stale_one_does_not_block_a_later_build(fadg0_dir, tmp_path):
    db = tmp_path / "db"
    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=db)
    assert not (tmp_path / ".db.lock").exists()  # removed while still held (a later locker checks its inode)
    (tmp_path / ".db.lock").write_text("12345\n")  # as a killed run leaves it
    FrameDatabase(fps=25).build(fadg0_dir / "sa2", path=db, force=True)
    assert FrameDatabase.load(db).recordings_[0]["name"] == "sa2"


def test_failed_build_leaves_the_old_database(fadg0_dir, tmp_path):
    db = tmp_path / "db"
    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=db)
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in sorted((fadg0_dir / "sa2").iterdir())[:5]:
        (bad / p.name).write_bytes(p.read_bytes())
    (bad / "sa2_002_keypoints.json").write_bytes(b'{"people": [')
    from sketchsynth.errors import InputError

    with pytest.raises(InputError):
        FrameDatabase(fps=25).build(bad, path=db, force=True)
    assert FrameDatabase.load(db, verify="sha256").recordings_[0]["name"] == "sa1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "db"]  # no temporary folder, no lock left


# ---------------------------------------------------------------- the --force rule, the lock file
def test_force_replaces_only_what_sketchsynth_wrote(fadg0_dir, tmp_path, monkeypatch):
    from sketchsynth.errors import DatabaseError, InputError
    from sketchsynth.database.format import FORMAT
    from sketchsynth.io.storage import atomic_directory
    from sketchsynth.io.ownership import DATABASE_FORMAT, OUTPUT_MARKER, written_by_sketchsynth

    assert DATABASE_FORMAT == FORMAT
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    for kind in ("database", "match", "evaluate", "track"):
        with pytest.raises(Exception, match="never replaced, even with --force"):
            with atomic_directory(user, force=True, kind=kind, error=InputError):
                pass
    assert (user / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty, force=True, kind="match", error=InputError) as tmp:
        (tmp / "a.txt").write_text("1")
    assert written_by_sketchsynth(empty) == "match" and (empty / OUTPUT_MARKER).is_file()
    with atomic_directory(empty, force=True, kind="match", error=InputError) as tmp:  # its own: replaced
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in empty.iterdir()) == [OUTPUT_MARKER, "b.txt"]
    with pytest.raises(InputError, match="match output, not a database"):
        with atomic_directory(empty, force=True, kind="database", error=InputError):
            pass
    db = FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "db")
    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "db", force=True)
    assert written_by_sketchsynth(tmp_path / "db") == "database" and db.n_usable_ > 0
    (tmp_path / "inner").mkdir()
    monkeypatch.chdir(tmp_path / "inner")
    for target, fragment in [(tmp_path / "inner", "is the current folder"), (tmp_path, "contains the current"),
                             (fadg0_dir / "sa1", "is the recordings"), (fadg0_dir / "sa1" / "x", "lies inside")]:
        with pytest.raises(DatabaseError, match=fragment):
            FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=target, force=True)
    # a symlink spelling of the recordings is the recordings
    (tmp_path / "alias").symlink_to(fadg0_dir / "sa1")
    with pytest.raises(DatabaseError, match="recordings"):
        FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=tmp_path / "alias" / "db")


def test_lock_file_refuses_a_planted_symlink_fifo_or_folder(tmp_path):
    import os

    from sketchsynth.errors import DatabaseError
    from sketchsynth.io.locks import target_lock

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".db.lock").symlink_to(victim)
    with pytest.raises(DatabaseError, match="symbolic link"):
        with target_lock(tmp_path / "db"):
            pass
    assert victim.read_text() == "precious\n"
    os.mkfifo(tmp_path / ".fifo.lock")
    with pytest.raises(DatabaseError, match="not a regular file"):
        with target_lock(tmp_path / "fifo"):
            pass
    (tmp_path / ".dir.lock").mkdir()
    with pytest.raises(DatabaseError, match="lock file"):
        with target_lock(tmp_path / "dir"):
            pass


def test_lock_keys_on_the_real_path(tmp_path):
    """Two spellings of one folder (a symlinked parent, '..') share one lock: a second process cannot take it."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    with _lock_held_elsewhere(repr(str(real / "db"))):
        for spelling in (tmp_path / "alias" / "db", tmp_path / "real" / ".." / "real" / "db"):
            r = subprocess.run([*_build_cmd(tmp_path / "nowhere", spelling)], capture_output=True, text=True)
            assert r.returncode == 2 and "another sketchsynth process is writing here" in r.stderr, r.stderr
    assert sorted(p.name for p in real.iterdir()) == [".db.lock"]


def test_output_files_are_written_atomically_and_overwritten_only_with_force(tmp_path):
    from sketchsynth.errors import InputError
    from sketchsynth.io.storage import atomic_file

    f = tmp_path / "table.csv"
    f.write_text("the user's\n")
    with pytest.raises(InputError, match="exists; choose another name, or add --force"):
        with atomic_file(f):
            pass
    with pytest.raises(RuntimeError):
        with atomic_file(f, force=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert f.read_text() == "the user's\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    with atomic_file(f, force=True) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv"
        tmp.write_text("new\n")
    assert f.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    with pytest.raises(InputError, match="lies inside the recordings"):
        with atomic_file(tmp_path / "x.csv", protect=[(tmp_path, "the recordings")]):
            pass


def test_outputs_written_before_the_marker_are_still_recognized(tmp_path):
    """A match output of sketchsynth 0.1 (no marker) is recognized by all of its files; a lookalike is not."""
    import json

    from sketchsynth.io.ownership import written_by_sketchsynth

    old = tmp_path / "old_run"
    old.mkdir()
    for name in ("selection.csv", "input_keypoints.npy", "matched_keypoints.npy"):
        (old / name).write_bytes(b"x")
    (old / "summary.json").write_text(json.dumps({"input": "a", "database": "b", "metric": "sum",
                                                  "matched_frames": 3}))
    assert written_by_sketchsynth(old) == "match"
    (old / "summary.json").write_text(json.dumps({"input": "a"}))
    assert written_by_sketchsynth(old) is None
    rec = tmp_path / "tracked"  # an old track output is indistinguishable from a recording: never recognized
    rec.mkdir()
    (rec / "fps.txt").write_text("25")
    (rec / "x_000000000000_keypoints.json").write_text('{"people": []}')
    assert written_by_sketchsynth(rec) is None


def test_every_spelling_of_a_database_shares_one_writer_lock(tmp_path):
    """fit-speech and fit-phones write into an existing database: a symlink to it and its real path lock the
    same file, so two of them cannot rewrite its model or manifest at once."""
    from sketchsynth.errors import DatabaseError
    from sketchsynth.io.locks import real_path, target_lock

    db = tmp_path / "db"
    db.mkdir()
    (tmp_path / "link").symlink_to(db)
    with _lock_held_elsewhere(f"real_path({str(tmp_path / 'link')!r})"):
        with pytest.raises(DatabaseError, match="another"):
            with target_lock(real_path(db)):
                pass


def test_a_database_that_cannot_be_written_is_one_line(grid_example, tmp_path, monkeypatch):
    """fit-speech on a read-only database (simulated: the tests run as root, which permissions do not stop):
    one line naming why and where, exit 2, the database as it was."""
    import errno
    import os
    import shutil

    from click.testing import CliRunner

    from conftest import one_line_error
    from sketchsynth import FrameDatabase
    from sketchsynth.cli import cli

    db = tmp_path / "db"
    shutil.copytree(grid_example["db"], db)
    real_open = os.open

    def read_only(path, flags, *a, **k):
        if os.fspath(path).startswith(os.fspath(db)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    line = one_line_error(CliRunner().invoke(cli, ["fit-speech", "--db", str(db)]), "permission denied")
    assert str(db) in line
    monkeypatch.undo()
    FrameDatabase.load(db, verify="sha256")
    assert sorted(p.name for p in db.iterdir() if p.name.startswith(".")) == []
