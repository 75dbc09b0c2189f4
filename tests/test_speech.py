"""Speech-driven synthesis on real GRID s1 sentences: audio in the database, the fitted model, the CLI paths.

The clips are tracked here (CI starts with an empty track cache; ~0.3 s per 75-frame clip).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error

pytest.importorskip("librosa")
pytest.importorskip("av")

N_TRAIN, N_TEST = 32, 4


def _cli(*args):
    from sketchsynth.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def grid(shared_data, tmp_path_factory):
    """36 GRID s1 sentences (every 22nd of the 800): 32 in ``train/``, 4 held out in ``test/``."""
    names = sorted(p.name for p in (shared_data / "grid_s1" / "video").glob("*.mp4"))[::22][:N_TRAIN + N_TEST]
    base = tmp_path_factory.mktemp("grid")
    for sub, part in (("train", names[:N_TRAIN]), ("test", names[N_TRAIN:])):
        (base / sub).mkdir()
        for n in part:
            shutil.copy(shared_data / "grid_s1" / "video" / n, base / sub / n)
    return base


@pytest.fixture(scope="module")
def grid_db(grid):
    """A database of the 40 training sentences, built by the CLI (its speech model fitted on the way)."""
    db = grid / "db"
    r = _cli("build-db", grid / "train", "--db", db)
    assert r.exit_code == 0, r.output
    assert "audio: 32 of 32 recordings" in r.output and "speech model fitted" in r.output
    return db


def test_database_keeps_audio_aligned_to_frame_times(grid_db, grid, shared_data):
    """Frame t <-> audio time t/fps: the stored mel row of each frame is the clip's log-mel at the frame's time."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.audio import load_audio
    from sketchsynth.database.speech_features import LogMel

    db = FrameDatabase.load(grid_db, verify="sha256")
    man = db.manifest_
    assert man["format_version"] == 2 and {"audio.npy", "mel.npy", "mel_index.npy", "speech_model.npz"} <= set(
        man["files"])
    a = db.audio_
    e = a.recordings()[3]
    rows = np.flatnonzero(db.frames_["recording"].astype(str).to_numpy() == e["name"])
    t = db.frames_["time_s"].to_numpy()[rows]
    np.testing.assert_allclose(t, np.arange(75) / 25.0, atol=1e-3)  # GRID: 25 fps from the container
    mel = LogMel().transform(load_audio(grid / "train" / f"{e['name']}.mp4"))
    idx = a.mel_index[rows] - e["mel_first"]
    np.testing.assert_array_equal(idx, np.rint(t / a.hop_s).astype(int))
    np.testing.assert_allclose(a.mel[a.mel_index[rows]], mel[idx], atol=1e-4)
    np.testing.assert_array_equal(a.wave[e["wav_first"]:e["wav_first"] + 100],
                                  np.rint(load_audio(grid / "train" / f"{e['name']}.mp4")[:100] * 32767))
    # and the sound is where the words are: louder inside words than in the leading/trailing silence
    align = (shared_data / "grid_s1" / "align" / f"{e['name']}.align").read_text().split("\n")
    loud = a.mel[a.mel_index[rows]].mean(axis=1)
    word = np.zeros(75, bool)
    for line in align:
        parts = line.split()
        if len(parts) == 3 and parts[2] != "sil":
            word[int(parts[0]) // 1000:int(parts[1]) // 1000] = True
    assert loud[word].mean() > loud[~word].mean() + 1.0


def test_regressor_and_selection_beat_the_lower_bounds_on_heldout_sentences(grid):
    """The model fitted on 32 sentences predicts the held-out 4's mouth opening far better than the mean mouth."""
    from sketchsynth.sources.load import load_tracks
    from sketchsynth.sources.recordings import discover
    from sketchsynth.evaluation.speech import evaluate_speech

    tracks = load_tracks(discover(grid / "train")) + load_tracks(discover(grid / "test"))
    test_names = {p.stem for p in (grid / "test").glob("*.mp4")}
    held = sorted(test_names)
    rep = evaluate_speech(tracks, held, smooth_grid=(0.5,))
    rows = {r["name"]: r for r in rep.rows}
    reg, mean, rnd = rows["regressor alone"], rows["mean mouth (lower bound)"], rows["random frames (lower bound)"]
    from sketchsynth.defaults import DEFAULT_AUDIO_SMOOTH

    sel = rows[f"selected, Viterbi λ={DEFAULT_AUDIO_SMOOTH:g} (default)"]
    assert reg["opening_r"] > 0.6 and reg["opening_r"] > mean["opening_r"] + 0.2
    assert reg["lmd_norm"] < mean["lmd_norm"]
    assert sel["opening_r"] > rnd["opening_r"] + 0.4 and sel["lmd_norm"] < rnd["lmd_norm"]
    assert sel["jumps_per_s"] < rows["selected, per frame (λ=0)"]["jumps_per_s"]
    assert len(rep.sentences) == N_TEST


def test_match_speech_file_and_video_drive_audio(grid_db, grid, shared_data, tmp_path):
    wav = tmp_path / "speech.wav"
    shutil.copy(shared_data / "audio" / "1.wav", wav)
    out = tmp_path / "out_wav"
    r = _cli("match", wav, "--db", grid_db, "--out", out)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["drive"] == "audio" and "own pixels" in s["pixels"]
    assert s["pipeline"] == ["audio", "speech-features", "speech-target", "viterbi", "writer"]
    videos = json.loads((out / "videos.json").read_text())
    assert {"sketch.mp4", "frames.mp4"} <= set(videos["written"])
    assert all(v["audio_seconds"] > 0 for v in videos["written"].values())
    assert videos["fps"] == 25.0
    sel = (out / "selection.csv").read_text().splitlines()
    from sketchsynth.io.audio import audio_duration

    assert len(sel) - 1 == int(audio_duration(wav) * 25)
    # a video whose sound drives (its face is ignored)
    vid = next((grid / "test").glob("*.mp4"))
    out2 = tmp_path / "out_vid"
    r = _cli("match", vid, "--drive", "audio", "--db", grid_db, "--out", out2, "--smooth", "1", "--audio-weight", "0.5")
    assert r.exit_code == 0, r.output
    s = json.loads((out2 / "summary.json").read_text())
    assert s["frames"] == 75 and s["drive"] == "audio"
    assert s["smoothing"]["audio_weight"] == 0.5 and s["smoothing"]["audio_weight_abs"] > 0
    r = _cli("match", vid, "--drive", "audio", "--db", grid_db, "--out", tmp_path / "bad", "--audio-weight", "-1")
    assert r.exit_code == 2 and "--audio-weight" in r.output and not (tmp_path / "bad").exists()
    assert len(list((out2 / "matched").glob("*.json"))) == 75


def test_odd_rate_and_channels_are_resampled_not_refused(grid_db, shared_data, tmp_path):
    from scipy.io import wavfile

    from sketchsynth.io.audio import load_audio

    y = load_audio(shared_data / "audio" / "1.wav", 11025)
    three = np.stack([y, 0.5 * y, -y], axis=1)
    wav = tmp_path / "odd.wav"
    wavfile.write(wav, 11025, (three * 20000).astype(np.int16))
    r = _cli("match", wav, "--db", grid_db, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output


def test_fit_speech_refits_and_damaged_model_is_one_line(grid_db, tmp_path):
    db = tmp_path / "db"
    shutil.copytree(grid_db, db)
    before = json.loads((db / "manifest.json").read_text())["files"]["speech_model.npz"]["sha256"]
    r = _cli("fit-speech", "--db", db, "--regressor", "knn", "--delay-ms", "200")
    assert r.exit_code == 0, r.output
    man = json.loads((db / "manifest.json").read_text())
    assert man["speech_model"]["regressor"] == "knn" and man["speech_model"]["delay_ms"] == 200
    assert man["files"]["speech_model.npz"]["sha256"] != before
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.targets.speech.model_store import require_model

    assert require_model(FrameDatabase.load(db)).regressor == "knn"
    # damage the model: a one-line error naming fit-speech
    p = db / "speech_model.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    wav = next(Path(man["recordings"][0]["path"]).parent.glob("*.mp4"))
    one_line_error(_cli("match", wav, "--drive", "audio", "--db", db, "--out", tmp_path / "o"),
                   "speech_model.npz", "fit-speech")
    one_line_error(_cli("fit-speech", "--db", db, "--regressor", "nope"), "no speech regressor named 'nope'")


def test_bad_audio_inputs_are_one_line(grid_db, example_db, tmp_path, shared_data):
    from scipy.io import wavfile

    text = tmp_path / "notes.wav"
    text.write_text("this is not sound\n")
    one_line_error(_cli("match", text, "--db", grid_db, "--out", tmp_path / "a"), "notes.wav")
    silent = tmp_path / "silence.wav"
    wavfile.write(silent, 16000, np.zeros(32000, np.int16))
    one_line_error(_cli("match", silent, "--db", grid_db, "--out", tmp_path / "b"), "silent")
    short = tmp_path / "short.wav"
    wavfile.write(short, 16000, (np.random.default_rng(0).standard_normal(300) * 8000).astype(np.int16))
    one_line_error(_cli("match", short, "--db", grid_db, "--out", tmp_path / "c"), "too short")
    wav = tmp_path / "speech.wav"
    shutil.copy(shared_data / "audio" / "1.wav", wav)
    one_line_error(_cli("match", wav, "--db", example_db, "--out", tmp_path / "d"), "no sound", "build-db")
    one_line_error(_cli("fit-speech", "--db", example_db), "no sound", "build-db")
    # a database with sound but no fitted model (as an older build, or a removed model) names fit-speech
    db = tmp_path / "db"
    shutil.copytree(grid_db, db)
    man = json.loads((db / "manifest.json").read_text())
    del man["files"]["speech_model.npz"], man["speech_model"]
    (db / "manifest.json").write_text(json.dumps(man))
    (db / "speech_model.npz").unlink()
    one_line_error(_cli("match", wav, "--db", db, "--out", tmp_path / "e"), "no fitted speech model",
                   "sketchsynth fit-speech --db")
    assert not any((tmp_path / x).exists() for x in "abcde")


def test_keypoint_database_with_audio_beside_the_json(fadg0_dir, shared_data, tmp_path):
    """A JSON folder with sa1.wav beside it keeps its sound; one without says 'no audio', not a guess."""
    from sketchsynth.pipeline.build import build_database

    rec = tmp_path / "rec"
    for n in ("sa1", "sa2", "si1279"):
        shutil.copytree(fadg0_dir / n, rec / n)
    (rec / "fps.txt").write_text("25\n")
    shutil.copy(shared_data / "fadg0" / "audio" / "sa1.wav", rec / "sa1.wav")
    (rec / "sa2" / "audio.wav").write_bytes((shared_data / "fadg0" / "audio" / "sa2.wav").read_bytes())
    db = build_database(rec, path=tmp_path / "db")
    info = {e["name"]: e for e in db.manifest_["audio"]["recordings"]}
    assert "mel_count" in info["sa1"] and "mel_count" in info["sa2"]
    assert info["si1279"]["status"] == "no audio" and db.manifest_["audio"]["without_audio"] == ["si1279"]
    assert "without sound: si1279" in db.summary()
    assert db.manifest_["speech_model"]["n_train"] > 100


def test_speech_target_expands_the_prediction_from_the_mean_mouth(grid_db):
    """gain 1 keeps the prediction; gain g moves it g times as far from the training frames' mean mouth."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.errors import ParameterError
    from sketchsynth.layout import LIP_CORNERS, SPEECH_POINTS
    from sketchsynth.targets.speech.model_store import require_model
    from sketchsynth.targets.speech.inputs import Audio, AudioFeatures
    from sketchsynth.targets.speech.target import CORNER_WEIGHT, speech_target

    db = FrameDatabase.load(grid_db)
    model = require_model(db)
    want = np.asarray(db.normalized_[model.bank_rows_][:, SPEECH_POINTS], np.float64).mean(0)
    mean = model.mean_mouth(db)                                   # as saved by build-db's fit
    assert mean.shape == (len(SPEECH_POINTS), 2) and np.allclose(mean, want, atol=1e-4)
    model.mouth_mean_ = None                                      # a model file written before the field
    assert np.allclose(model.mean_mouth(db), want, atol=1e-4)
    pred = (mean + 0.01 * np.random.default_rng(0).normal(size=(20, *mean.shape))).astype(np.float32)
    feats = AudioFeatures(np.zeros((20, 1), np.float32), np.arange(20) / 25, 25.0,
                          Audio(np.zeros(1600, np.float32), 16000, "x.wav", "x"))
    same, far = speech_target(db, pred, feats, gain=1, audio_weight=0), speech_target(db, pred, feats, gain=2,
                                                                                     audio_weight=0)
    assert np.array_equal(same.points[:, SPEECH_POINTS], pred)
    assert np.allclose(far.points[:, SPEECH_POINTS] - mean, 2 * (pred - mean), atol=1e-6)
    assert np.array_equal(far.prediction, pred)                  # the prediction itself is kept
    corners = list(LIP_CORNERS)
    assert np.allclose(far.weights[:, corners], CORNER_WEIGHT * db.weights_[corners])
    assert np.allclose(speech_target(db, pred, feats, corner_weight=1, audio_weight=0).weights[:, corners],
                       db.weights_[corners])
    others = np.setdiff1d(np.arange(db.weights_.shape[0]), SPEECH_POINTS)
    assert (far.weights[:, others] == 0).all()
    with pytest.raises(ParameterError, match="gain"):
        speech_target(db, pred, feats, gain=0, audio_weight=0)


def test_lle_projection_follows_the_voice(grid_db, grid, shared_data, tmp_path):
    """The model projects another voice onto the database's features and leaves its own speaker's alone:
    held-out sentences of s1 stay below the ramp, another GRID speaker and another person's recording are
    above it; a model saved and loaded keeps the rule, and --lle-fixed turns it off."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.audio import load_audio
    from sketchsynth.database.speech_features import extractor_of
    from sketchsynth.targets.speech.lle import MISMATCH_HI, MISMATCH_LO, mismatch_blend
    from sketchsynth.targets.speech.model_file import load_model, save_model
    from sketchsynth.targets.speech.model_store import require_model

    assert mismatch_blend(1.0) == 0 and mismatch_blend(2.0) == 1 and mismatch_blend(float("nan")) == 1
    assert mismatch_blend((MISMATCH_LO + MISMATCH_HI) / 2) == pytest.approx(0.5)
    db = FrameDatabase.load(grid_db)
    model = require_model(db)
    assert model.lle_auto and model.nn_scale_ > 0
    front = extractor_of(db.audio_.info["features"])

    def projected(m, path):
        y = load_audio(path, 16000)
        X = m.context(front.transform(y), front.times_, np.arange(int(len(y) / 16000 * 25)) / 25)
        info = {}
        m.project(m.reduce(X), info)
        return info

    for p in sorted((grid / "test").glob("*.mp4")):
        info = projected(model, p)
        assert info["blend"] == 0 and info["voice_distance_ratio"] < MISMATCH_LO, (p.name, info)
    for p in (shared_data / "videos" / "grid" / "sbia1a.mpg", shared_data / "audio" / "03Fsi1201.wav"):
        info = projected(model, p)
        assert info["blend"] == 1 and info["voice_distance_ratio"] > MISMATCH_HI, (p.name, info)
    save_model(model, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.nn_scale_ == pytest.approx(model.nn_scale_)
    assert projected(again, shared_data / "audio" / "03Fsi1201.wav")["blend"] == 1
    again.lle_auto, again.lle_blend = False, 0.3
    assert projected(again, next((grid / "test").glob("*.mp4")))["blend"] == 0.3


def test_audio_term_finds_the_frames_that_sounded_alike(grid_db, grid, shared_data):
    """With a mouth target that says nothing (the mean mouth everywhere) and every frame a candidate, the
    audio term alone leads the selection to the database sentence whose own sound drives it while it
    speaks (its silences sound like every sentence's); without it, anywhere."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.errors import ParameterError
    from sketchsynth.io.audio import load_audio
    from sketchsynth.database.speech_features import extractor_of
    from sketchsynth.targets.speech.model_store import require_model
    from sketchsynth.selection.select import select
    from sketchsynth.targets.speech.inputs import Audio, AudioFeatures
    from sketchsynth.targets.speech.target import speech_target

    db = FrameDatabase.load(grid_db)
    model = require_model(db)
    name = sorted(p.stem for p in (grid / "train").glob("*.mp4"))[5]
    y = load_audio(grid / "train" / f"{name}.mp4", 16000)
    front = extractor_of(db.audio_.info["features"])
    times = np.arange(75) / 25.0
    X = model.context(front.transform(y), front.times_, times)
    feats = AudioFeatures(X, times, 25.0, Audio(y, 16000, name, name))
    flat = np.repeat(model.mean_mouth(db)[None], 75, 0)
    own = np.asarray(db.table_["recording"]) == name
    words = np.zeros(75, bool)
    for line in (shared_data / "grid_s1" / "align" / f"{name}.align").read_text().splitlines():
        a, b, w = line.split()
        if w != "sil":
            words[int(a) // 1000:int(b) // 1000] = True
    picked = {}
    for beta in (0.0, 50.0):
        target = speech_target(db, flat, feats, gain=1, audio_weight=beta)
        assert (target.features is None) == (beta == 0)
        syn = select(db, target, ViterbiDecoder(smooth=0.6), k=db.n_usable_)
        picked[beta] = own[syn.result.rows[words]].mean()
        assert syn.params["audio_weight"] == beta
    assert picked[50.0] > 0.9 and picked[0.0] < 0.3, picked
    with pytest.raises(ParameterError):
        speech_target(db, flat, feats, audio_weight=-1)


STAGE_MODULE = '''
import numpy as np
from sketchsynth.pipeline.stages import SpeechTarget
from sketchsynth.targets.speech.target import speech_target


class MeanMouthStage(SpeechTarget):
    """audio_features -> target: always the database's mean jaw and lips (a third party's stage)."""

    name = "mean-mouth"

    def predict(self, feats):
        from sketchsynth.layout import SPEECH_POINTS
        m = self.model_
        mean = np.asarray(self.db_.normalized_[m.bank_rows_][:, SPEECH_POINTS]).mean(0)
        open(MARKER, "w").write("used")
        return np.repeat(mean[None], len(feats.X), 0).astype(np.float32)
'''


def test_stage_from_entry_point_group_is_used_by_match(grid_db, shared_data, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "thirdparty_stage-0.1.dist-info").mkdir(parents=True)
    marker = tmp_path / "marker.txt"
    (site / "thirdparty_stage.py").write_text(f"MARKER = {str(marker)!r}\n" + textwrap.dedent(STAGE_MODULE))
    (site / "thirdparty_stage-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: thirdparty-stage\nVersion: 0.1\n")
    (site / "thirdparty_stage-0.1.dist-info" / "entry_points.txt").write_text(
        "[sketchsynth.stages]\nmean-mouth = thirdparty_stage:MeanMouthStage\n")
    monkeypatch.syspath_prepend(str(site))
    from sketchsynth.pipeline.registry import available

    assert "mean-mouth" in available()
    wav = tmp_path / "speech.wav"
    shutil.copy(shared_data / "audio" / "1.wav", wav)
    out = tmp_path / "out"
    r = _cli("match", wav, "--db", grid_db, "--out", out, "--stage", "mean-mouth", "--sketch-layout", "overlay")
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["pipeline"] == ["audio", "speech-features", "mean-mouth", "viterbi", "writer"]
    assert marker.read_text() == "used"
    one_line_error(_cli("match", wav, "--db", grid_db, "--out", tmp_path / "o2", "--stage", "missing-stage"),
                   "no stage named 'missing-stage'", "sketchsynth.stages")


def test_evaluate_drive_audio_cli(grid, tmp_path):
    names = sorted(p.stem for p in (grid / "train").glob("*.mp4"))[:12]
    rec = tmp_path / "rec"
    rec.mkdir()
    for n in names:
        (rec / f"{n}.mp4").symlink_to(grid / "train" / f"{n}.mp4")
    out = tmp_path / "eval"
    r = _cli("evaluate", rec, "--drive", "audio", "--holdout", "every:6:5", "--smooth-grid", "0.5", "--out", out)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in rep["sentences"]] == [names[5], names[11]]
    assert (out / "opening.png").stat().st_size > 1000 and "opening r" in (out / "report.md").read_text()
    # the --force rule holds on this path too: its own report is replaced, nothing else is touched
    r = _cli("evaluate", rec, "--drive", "audio", "--holdout", "every:6:5", "--smooth-grid", "0.5", "--out", out,
             "--force")
    assert r.exit_code == 0, r.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    for target, says in ((mine, "did not write"), (rec / "eval", "the recordings")):
        one_line_error(_cli("evaluate", rec, "--drive", "audio", "--out", target, "--force"), says)
    assert (mine / "notes.txt").read_text() == "the user's" and not (rec / "eval").exists()


def test_format_1_database_still_loads_without_sound(example_db, tmp_path):
    from sketchsynth.database.frame_database import FrameDatabase

    db = tmp_path / "v1"
    shutil.copytree(example_db, db)
    man = json.loads((db / "manifest.json").read_text())
    man["format_version"] = 1
    man.pop("audio", None)
    (db / "manifest.json").write_text(json.dumps(man))
    loaded = FrameDatabase.load(db, verify="sha256")
    assert loaded.audio_ is None and "no audio" in loaded.summary()


def test_a_database_with_little_sound_says_so(tmp_path):
    """Under two minutes of sound the speech model follows a voice loosely (measured): build-db and a
    sound-driven match warn, once, on stderr, and still succeed."""
    pytest.importorskip("av")
    pytest.importorskip("librosa")
    import shutil

    from click.testing import CliRunner

    from sketchsynth.cli import cli

    src = Path(__file__).parent.parent / "examples" / "grid_s1" / "recordings"
    rec = tmp_path / "rec"
    rec.mkdir()
    for p in sorted(src.glob("*.mp4"))[:3]:
        shutil.copy(p, rec / p.name)
    runner = CliRunner()
    r = runner.invoke(cli, ["build-db", str(rec), "--db", str(tmp_path / "db")])
    assert r.exit_code == 0, r.output
    assert r.stderr.count("warning:") == 1 and "s of sound" in r.stderr and "2 minutes" in r.stderr
    r = runner.invoke(cli, ["match", str(rec / sorted(p.name for p in rec.iterdir())[0]), "--drive", "audio",
                            "--db", str(tmp_path / "db"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert r.stderr.count("warning:") == 1 and "record more" in r.stderr
