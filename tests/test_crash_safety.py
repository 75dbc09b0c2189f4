"""A killed or concurrent build-db never corrupts a database (issue: reliability)."""

import random
import signal
import subprocess
import sys
import time

import pytest

from sketchsynth import FrameDatabase

N_KILLS = 20


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
import sketchsynth.build, sketchsynth.database
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


def test_lock_file_does_not_block_a_later_build(fadg0_dir, tmp_path):
    db = tmp_path / "db"
    FrameDatabase(fps=25).build(fadg0_dir / "sa1", path=db)
    assert (tmp_path / ".db.lock").exists()  # left behind on purpose: removing it would race other lockers
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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".db.lock", "bad", "db"]
