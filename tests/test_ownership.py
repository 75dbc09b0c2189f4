"""Nothing of the user's is deleted or overwritten: temporary entries are found by what sketchsynth wrote into
them (never by a name pattern), --force replaces only what the previous run wrote, temporary files are created
exclusively, and a refit killed half-way leaves a database whose model passes its check."""

import json
from pathlib import Path
import os
import shutil

import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli

from conftest import EXAMPLES, one_line_error



def _cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("name", ["mydb", "*", "[a-z]"])
def test_folders_beside_the_target_that_look_temporary_are_the_users(tmp_path, name):
    proj = tmp_path / "proj"
    proj.mkdir()
    keep = [f".{name}.tmp-important", f".{name}.old-photos", f".{name}.tmp-1-deadbeef", ".q.tmp-keep",
            ".other.old-1-0badf00d"]
    for k in keep:
        (proj / k).mkdir()
        (proj / k / "photo.jpg").write_bytes(b"mine")
    r = _cli("build-db", EXAMPLES / "recordings", "--db", proj / name)
    assert r.exit_code == 0, r.output
    r = _cli("build-db", EXAMPLES / "recordings", "--db", proj / name, "--force")
    assert r.exit_code == 0, r.output
    for k in keep:
        assert (proj / k / "photo.jpg").read_bytes() == b"mine", k


def test_a_killed_runs_temporary_folder_is_removed_only_when_sketchsynth_marked_it(tmp_path):
    from sketchsynth.io.leftovers import TEMP_MARKER

    proj = tmp_path / "proj"
    proj.mkdir()
    dead = 2 ** 22 + 12345  # above any pid the kernel hands out here
    ours, theirs = proj / f".db.tmp-{dead}-0123abcd", proj / f".db.tmp-{dead}-4567abcd"
    for d in (ours, theirs):
        d.mkdir()
    (ours / TEMP_MARKER).write_bytes(os.fsencode(ours.name))
    (theirs / TEMP_MARKER).write_bytes(b"something else")
    r = _cli("build-db", EXAMPLES / "recordings", "--db", proj / "db")
    assert r.exit_code == 0, r.output
    assert not ours.exists() and theirs.exists()


def test_force_replaces_only_what_the_previous_run_wrote(tmp_path):
    db = tmp_path / "db"
    assert _cli("build-db", EXAMPLES / "recordings", "--db", db).exit_code == 0
    out = tmp_path / "res"
    inp = EXAMPLES / "inputs" / "henan_03001-03300"
    assert _cli("match", inp, "--db", db, "--out", out).exit_code == 0
    assert _cli("match", inp, "--db", db, "--out", out, "--force").exit_code == 0  # its own files: replaced
    (out / "my notes.txt").write_text("the user's")
    one_line_error(_cli("match", inp, "--db", db, "--out", out, "--force"), "my notes.txt", "did not write")
    assert (out / "my notes.txt").read_text() == "the user's" and (out / "selection.csv").is_file()
    (db / "keep.txt").write_text("the user's")
    one_line_error(_cli("build-db", EXAMPLES / "recordings", "--db", db, "--force"), "keep.txt")
    assert (db / "keep.txt").read_text() == "the user's" and (db / "manifest.json").is_file()


def test_temporary_files_are_new_files_never_followed_links(tmp_path):
    from sketchsynth.io.storage import exclusive_temp

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for planted in (".manifest.json.tmp", ".speech_model.npz.tmp"):
        (tmp_path / planted).symlink_to(victim)
    names = {exclusive_temp(tmp_path, "speech_model.npz").name for _ in range(20)}
    assert len(names) == 20 and not any(n.endswith(".tmp") for n in names)
    assert victim.read_text() == "precious"


def test_a_refit_killed_between_its_steps_leaves_a_model_that_loads(grid_example, tmp_path, monkeypatch):
    """Killed after the new model file is in place but before the manifest names it alone: the manifest
    already accepts it, so the database opens and the speech model loads."""
    from sketchsynth.database import sound
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.targets.speech import model_store

    db = tmp_path / "db"
    shutil.copytree(grid_example["db"], db)
    real = sound.update_manifest
    calls = []

    def dies_on_the_second_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands for the kill, after the model file was renamed into place
        return real(*args, **kwargs)

    monkeypatch.setattr(sound, "update_manifest", dies_on_the_second_call)
    from sketchsynth.targets.speech.model import SpeechModel

    with pytest.raises(KeyboardInterrupt):
        model_store.fit_into(FrameDatabase.load(db), db, SpeechModel(delay_ms=240))
    monkeypatch.undo()
    man = json.loads((db / "manifest.json").read_text())
    assert "replacing" in man["files"]["speech_model.npz"]
    loaded = FrameDatabase.load(db, verify="sha256")
    assert model_store.require_model(loaded).delay_ms == 240  # the new model, whole
    assert _cli("fit-speech", "--db", db).exit_code == 0  # and a later refit tidies the manifest
    assert "replacing" not in json.loads((db / "manifest.json").read_text())["files"]["speech_model.npz"]


def test_a_users_file_named_like_the_lock_is_left_alone(tmp_path):
    (tmp_path / ".db.lock").write_text("my shopping list")
    one_line_error(_cli("build-db", EXAMPLES / "recordings", "--db", tmp_path / "db"), "did not make", ".db.lock")
    assert (tmp_path / ".db.lock").read_text() == "my shopping list" and not (tmp_path / "db").exists()


def test_sound_at_any_float_scale_is_brought_back_to_speech_range(tmp_path):
    """A float WAV may hold 1e30: it is scaled back, never handed on (it would overflow the features)."""
    pytest.importorskip("av")
    import sys

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent / "corpus"))
    from make_corpus import _float_wav

    from sketchsynth.io.audio import load_audio

    t = np.arange(16000) / 16000
    y = load_audio(_float_wav(tmp_path / "loud.wav", 1e30 * np.sin(2 * np.pi * 220 * t)), 16000)
    assert np.isfinite(y).all() and 0.5 < np.abs(y).max() <= 1.0
