"""Other voices: the speaker-normalized front end, the model for other voices, the choice per input, and the
evaluation mode that drives a database by other people's clips."""

import json

import numpy as np
import pytest

pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def grid_db(grid_example):
    from sketchsynth.database.frame_database import FrameDatabase

    return FrameDatabase.load(grid_example["db"])


@pytest.fixture(scope="module")
def sound(grid_example):
    from sketchsynth.io.audio import load_audio

    return load_audio(grid_example["input"], 16000)


def test_unwarped_filters_are_librosas_mel():
    import librosa

    from sketchsynth.database.voice_features import warped_mel_filters

    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=90, fmax=7600)
    assert np.allclose(warped_mel_filters(16000, 512, 80, 90, 7600, 1.0), ref)
    warped = warped_mel_filters(16000, 512, 80, 90, 7600, 1.12)
    # a longer vocal tract's filters sit lower in frequency: each band's weight centre moves down
    centre = lambda fb: (fb * np.arange(fb.shape[1])).sum(1) / fb.sum(1)  # noqa: E731
    assert np.all(centre(warped)[5:] < centre(ref)[5:])


def test_plain_front_end_is_the_log_mel(sound):
    from sketchsynth.database.speech_features import LogMel, make_extractor

    front, mel = make_extractor("log-mel-cmvn", cmvn_s=None), LogMel()
    plain, ref = front.transform(sound), mel.transform(sound)
    assert plain.shape == ref.shape and np.abs(plain - ref).max() < 1e-4
    assert np.array_equal(front.times_, mel.times_)


def test_sliding_cmvn_matches_a_window_by_window_computation(rng):
    from sketchsynth.database.voice_features import sliding_cmvn

    F = rng.normal(3, 2, (50, 4))
    out = sliding_cmvn(F, 5)
    for i in (0, 7, 49):
        w = F[max(0, i - 5):i + 6]
        assert np.allclose(out[i], (F[i] - w.mean(0)) / w.std(0), atol=1e-5)
    whole = sliding_cmvn(F, 0)
    assert np.allclose(whole.mean(0), 0, atol=1e-5) and np.allclose(whole.std(0), 1, atol=1e-4)


def test_calibration_brings_a_shrunken_mouth_to_the_reference_spread(rng):
    from sketchsynth.targets.speech.calibrate import AmplitudeCalibration, opening

    from sketchsynth.layout import SPEECH_POINTS

    lower = list(SPEECH_POINTS).index(66)
    truth = []
    for _ in range(5):                                   # the lower lip moves down by 0-4 units
        m = np.zeros((200, 37, 2))
        m[:, lower, 1] = 5 + rng.uniform(0, 4, 200)
        truth.append(m)
    mean = np.concatenate(truth).mean(0)
    cal = AmplitudeCalibration().fit(truth, mean, factor=0.8)
    assert cal.ref_spread_ == pytest.approx(np.median([cal.spread(t) for t in truth]) * 0.8)
    small = mean + 0.5 * (truth[0] - mean)
    out, gain = cal.transform(small)
    assert 1 < gain < cal.max_gain and cal.spread(out) == pytest.approx(cal.ref_spread_, rel=1e-4)
    tiny = mean + 0.01 * (truth[0] - mean)
    assert cal.transform(tiny)[1] == cal.max_gain
    big = mean + 3 * (truth[0] - mean)
    out, gain = cal.transform(big)          # never shrunk
    assert gain == 1 and np.allclose(opening(out), opening(big), atol=1e-4)
    again = AmplitudeCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again.ref_spread_ == cal.ref_spread_ and np.allclose(again.mean_, cal.mean_)


def test_the_model_for_other_voices_round_trips_its_front_end_and_calibration(grid_db, tmp_path, sound):
    from sketchsynth.targets.speech.model_file import load_model, save_model
    from sketchsynth.targets.speech.model_store import other_voice_model

    model = other_voice_model(grid_db)        # build-db fitted it
    assert model.front_end["name"] == "log-mel-cmvn" and model.augment_warps == (0.88, 1.0, 1.12)
    assert 0.3 < model.calibration_.ref_factor_ < 1.5
    save_model(model, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.get_params() == model.get_params()
    assert again.calibration_.ref_spread_ == model.calibration_.ref_spread_
    t = np.arange(50) / 25
    X = again.features(grid_db, sound, t)
    assert np.array_equal(X, model.features(grid_db, sound, t))
    assert np.allclose(again.predict(X), model.predict(X), atol=1e-5)


def test_own_voice_keeps_the_own_model_and_another_speaker_takes_the_other(grid_db, sound, shared_data):
    from sketchsynth.io.audio import load_audio
    from sketchsynth.targets.speech.model_store import other_voice_model, require_model
    from sketchsynth.targets.speech.voices import ROUTE_RATIO, route

    own, other = require_model(grid_db), other_voice_model(grid_db)
    t = np.arange(int(len(sound) / 16000 * 25)) / 25
    chosen, ratio = route(grid_db, own, other, sound, t)
    assert chosen is own and ratio < ROUTE_RATIO
    y = load_audio(shared_data / "videos" / "grid" / "lbax4n.mpg", 16000)   # another GRID speaker
    chosen, ratio = route(grid_db, own, other, y, np.arange(int(len(y) / 16000 * 25)) / 25)
    assert chosen is other and ratio >= ROUTE_RATIO


def test_the_other_voice_path_streams_to_its_whole_output(grid_db, shared_data):
    """The stage's default stream (chunks in, the features at the end) equals transform, routing included."""
    from sketchsynth.io.audio import load_audio
    from sketchsynth.pipeline.core import concat, split
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.targets.speech.inputs import Audio

    y = load_audio(shared_data / "videos" / "dfrf" / "cnn2_25fps.mp4", 16000)[:16 * 16000]
    audio = Audio(y, 16000, "cnn2", "cnn2")
    stage = SpeechFeatures("auto").fit(grid_db)
    whole = stage.transform(audio)
    assert whole.model is not stage.model_           # another voice
    stream = stage.start()
    outs = [stream.push(p) for p in split("audio", audio, [3000, 170000, 170001, 200000])]
    outs.append(stream.finish())
    got = concat("audio_features", outs)
    assert np.array_equal(got.X, whole.X) and np.array_equal(got.time_s, whole.time_s)
    tgt = SpeechTarget().fit(grid_db).transform(whole)
    assert tgt.report["voice_model"] == "other voices" and tgt.report["amplitude_gain"] >= 1


def test_evaluate_drives_a_database_by_other_peoples_clips(grid_example, shared_data, tmp_path):
    from click.testing import CliRunner

    from sketchsynth.cli import cli

    lst = tmp_path / "drivers.txt"
    lst.write_text(f"grid {shared_data / 'videos' / 'grid' / 'lbax4n.mpg'}\n"
                   f"grid {shared_data / 'videos' / 'grid' / 'pwij3p.mpg'}\n"
                   f"audio {shared_data / 'audio' / '1.wav'}\n")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"TEST": ["grid/lbax4n", "audio/1"]}))
    out = tmp_path / "report"
    r = CliRunner().invoke(cli, ["evaluate", str(lst), "--drive", "voices", "--db", str(grid_example["db"]),
                                 "--split", f"{split}:TEST", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["clips"]) == {"grid/lbax4n", "audio/1"}
    grid = rep["clips"]["grid/lbax4n"]
    assert -1 <= grid["opening_r"] <= 1 and grid["std_ratio"] > 0 and grid["voice_ratio"] > 0
    assert "opening_r" not in rep["clips"]["audio/1"] and rep["clips"]["audio/1"]["std_vs_speaker"] > 0
    assert rep["groups"]["pooled"]["clips"] == 2 and rep["groups"]["pooled"]["clips_with_face"] == 1
    assert "| **pooled** |" in (out / "report.md").read_text()
    r = CliRunner().invoke(cli, ["evaluate", str(lst), "--drive", "voices", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--db" in r.output
