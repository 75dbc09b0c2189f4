"""Audio -> mouth stages on real GRID s1 sentences: audio decoding, feature alignment, LLE, regressors."""

from __future__ import annotations

import numpy as np
import pytest

from sketchsynth.errors import InputError, ParameterError
from sketchsynth.layout import SPEECH_POINTS

pytest.importorskip("librosa")
pytest.importorskip("av")

# The fixed split of the 800 sentences (sorted, i % 8 == 7 is TEST); a few of each side suffice here.
N_FIT, N_HELD = 40, 10


@pytest.fixture(scope="module")
def grid_names(shared_data):
    names = sorted(p.stem for p in (shared_data / "grid_s1" / "video").glob("*.mp4"))
    assert len(names) == 800
    train = [n for i, n in enumerate(names) if i % 8 != 7]
    test = [n for i, n in enumerate(names) if i % 8 == 7]
    return train[:N_FIT], test[:N_HELD]


@pytest.fixture(scope="module")
def grid_tracks(shared_data, grid_names):
    """The chosen sentences tracked by sketchsynth's own tracker (cached per test session)."""
    from sketchsynth.sources.recordings import Recording
    from sketchsynth.sources.tracking import track_video_recordings

    video = shared_data / "grid_s1" / "video"
    names = grid_names[0] + grid_names[1]
    recs = [Recording(n, str(video / f"{n}.mp4"), "video", str(video)) for n in names]
    return {t.name: t for t in track_video_recordings(recs, n_workers=2, progress=False)}


@pytest.fixture(scope="module")
def grid_mel(shared_data, grid_names):
    from sketchsynth.io.audio import load_audio
    from sketchsynth.database.speech_features import LogMel

    lm = LogMel()
    out = {}
    for n in grid_names[0] + grid_names[1]:
        out[n] = (lm.transform(load_audio(shared_data / "grid_s1" / "video" / f"{n}.mp4")), lm.times_.copy())
    return out


# ------------------------------------------------------------------------------------------------ audio
def test_load_audio_real_video_and_any_channel_layout(shared_data, tmp_path):
    """A GRID mp4's AAC track decodes to 16 kHz mono of the video's length; 9 channels at 22.05 kHz give the same."""
    from scipy.io import wavfile

    from sketchsynth.io.audio import audio_duration, is_silent, load_audio

    mp4 = shared_data / "grid_s1" / "video" / "bbaf2n.mp4"
    x = load_audio(mp4)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) / 16000 - 3.0) < 0.05 and abs(audio_duration(mp4) - 3.0) < 0.05
    assert not is_silent(x) and is_silent(np.zeros(16000, np.float32))
    # The same speech as 9 int16 channels at 22,050 Hz (one channel carries it, the others are silent).
    y = load_audio(mp4, sr=22050)
    nine = np.zeros((len(y), 9), np.int16)
    nine[:, 4] = np.round(y * 9 * 32767 / max(1.0, 9 * np.abs(y).max())).astype(np.int16)
    wavfile.write(tmp_path / "nine.wav", 22050, nine)
    z = load_audio(tmp_path / "nine.wav")
    n = min(len(x), len(z))
    assert abs(len(z) - len(x)) <= 20
    assert np.corrcoef(x[:n], z[:n])[0, 1] > 0.99  # same waveform, same timing (no shift)


def test_load_audio_refuses_non_audio_in_one_line(shared_data, tmp_path):
    from sketchsynth.io.audio import load_audio

    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a sound\n" * 50)
    for p, what in [(tmp_path / "empty.wav", "empty file"), (tmp_path / "notes.txt", "no audio stream"),
                    (shared_data / "fadg0" / "video" / "head.mp4", "no audio stream"),
                    (tmp_path / "missing.wav", "no such")]:
        with pytest.raises(InputError) as e:
            load_audio(p)
        assert what in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------------ features
def test_logmel_front_end_shape_and_times():
    from sketchsynth.database.speech_features import LogMel

    lm = LogMel()
    S = lm.transform(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32))
    assert S.shape == (1 + 16000 // 133, 80) and S.dtype == np.float32
    assert np.allclose(np.diff(lm.times_), 133 / 16000)
    with pytest.raises(InputError, match="too short"):
        lm.transform(np.zeros(100, np.float32))


def _lag_energy_vs_opening(grid_tracks, grid_mel, names, shift_s=0.0):
    """Lag (frames) of the peak correlation of the audio energy at the frame times and the tracked opening."""
    from sketchsynth.targets.speech.features import frame_context
    from sketchsynth.evaluation.metrics import best_lag, mouth_opening

    energy, opening = [], []
    for n in names:
        mel, t = grid_mel[n]
        e = np.log(np.exp(mel.astype(np.float64)).sum(axis=1, keepdims=True))
        energy.append(frame_context(e, t + shift_s, grid_tracks[n].time_s, 0.0, 0.0, 0.04)[:, 0])
        opening.append(mouth_opening(grid_tracks[n].keypoints))
    return best_lag(energy, opening, max_lag=8)[0]


def test_features_align_frame_t_with_audio_time_t_over_fps(grid_tracks, grid_mel, grid_names):
    """Sound energy sampled at frame times follows the tracked mouth at lag 0; delaying the audio 200 ms moves it 5 frames."""
    names = grid_names[1]
    lag = _lag_energy_vs_opening(grid_tracks, grid_mel, names)
    assert abs(lag) <= 1
    late = _lag_energy_vs_opening(grid_tracks, grid_mel, names, shift_s=0.2)
    assert abs((late - lag) - (-5)) <= 1


def test_frame_context_windows_are_interpolated_in_time():
    from sketchsynth.targets.speech.features import context_offsets, frame_context

    mel_t = np.arange(100) / 120.0
    mel = np.stack([mel_t, -mel_t], axis=1).astype(np.float32)        # a feature equal to its own time
    X = frame_context(mel, mel_t, np.array([0.0, 0.4, 0.8]), past_s=0.08, future_s=0.3, step=0.04)
    off = context_offsets(0.08, 0.3, 0.04)
    assert X.shape == (3, len(off) * 2) and off[0] == pytest.approx(-0.08) and off[-1] == pytest.approx(0.28)
    t = np.clip(np.array([0.0, 0.4, 0.8])[:, None] + off, 0, mel_t[-1])  # edge padding
    assert np.allclose(X[:, 0::2], t, atol=1e-6)


def test_window_mean_is_the_mean_of_the_mel_frames_in_the_window():
    from sketchsynth.targets.speech.features import window_mean

    rng = np.random.default_rng(1)
    mel_t = np.arange(500) / 120.0
    mel = rng.normal(size=(500, 3)).astype(np.float32)
    frames = np.array([-1.0, 0.0, 0.5, 2.0, 4.1, 9.0])                 # outside, edges, inside
    got = window_mean(mel, mel_t, frames, 0.75)
    for i, t in enumerate(frames):
        inside = (mel_t >= t - 0.75) & (mel_t <= t + 0.75)
        want = mel[inside].mean(0) if inside.any() else mel[0 if t < 0 else -1]
        assert np.allclose(got[i], want, atol=1e-5), (t, got[i], want)
    with pytest.raises(ParameterError):
        window_mean(mel, mel_t, frames, 0.0)


# ------------------------------------------------------------------------------------------------ LLE
def test_lle_weights_sum_to_one_and_reconstruct_a_point_in_their_span(grid_mel, grid_names):
    from sketchsynth.targets.speech.lle import LLEProjection, barycentric_weights

    bank = np.concatenate([grid_mel[n][0] for n in grid_names[0][:5]])     # real log-mel frames, 80-D
    lle = LLEProjection(n_neighbors=10, reg=1e-9).fit(bank)
    held = grid_mel[grid_names[1][0]][0][::7]
    nb = lle.kneighbors(held)
    w = barycentric_weights(held, bank[nb], lle.reg)
    assert np.allclose(w.sum(axis=1), 1.0)
    # a point built as an affine combination of its 10 neighbours is rebuilt exactly from them
    rng = np.random.default_rng(1)
    a = rng.dirichlet(np.ones(10), size=len(held))
    inside = np.einsum("nk,nkd->nd", a, bank[nb])
    w2 = barycentric_weights(inside, bank[nb], 1e-9)
    rec = np.einsum("nk,nkd->nd", w2, bank[nb])
    assert np.abs(rec - inside).max() < 1e-4 * np.abs(inside).max()
    proj = lle.transform(held)
    assert proj.shape == held.shape and np.isfinite(proj).all()
    assert np.allclose(LLEProjection(blend=0.0).fit(bank).transform(held), held)


def test_lle_regularizer_keeps_duplicate_neighbours_finite(grid_mel, grid_names):
    from sketchsynth.targets.speech.lle import LLEProjection, barycentric_weights

    frame = grid_mel[grid_names[0][0]][0][30]
    dup = np.repeat(frame[None], 10, axis=0)
    near = dup + np.r_[1e-3, np.zeros(79)] * np.arange(10)[:, None]   # rank-1 neighbourhood
    for nbrs in (dup, near):
        for reg in (1e-3, 0.0):
            w = barycentric_weights(frame[None], nbrs[None], reg)
            assert np.isfinite(w).all() and np.allclose(w.sum(), 1.0)
    assert np.allclose(barycentric_weights(frame[None], dup[None], 1e-3), 0.1)
    bank = np.concatenate([dup, grid_mel[grid_names[0][1]][0]])
    out = LLEProjection(10).fit(bank).transform(frame[None])
    assert np.allclose(out, frame, atol=1e-4)


# ------------------------------------------------------------------------------------------------ regressors
def training_xy(grid_tracks, grid_mel, names, normalizer):
    from sketchsynth.targets.speech.features import frame_context

    Xs, Ys, kps = [], [], []
    for n in names:
        tr = grid_tracks[n]
        mel, t = grid_mel[n]
        X = frame_context(mel, t, tr.time_s, 0.32, 0.48, 0.04)
        norm, _, ok = normalizer.transform(tr.keypoints)
        ok &= (tr.keypoints[:, :, 2] > 0).all(axis=1)
        Xs.append(X[ok]), Ys.append(norm[ok][:, SPEECH_POINTS]), kps.append(tr.keypoints[ok])
    return np.concatenate(Xs), np.concatenate(Ys), np.concatenate(kps)


@pytest.fixture(scope="module")
def fitted_data(grid_tracks, grid_mel, grid_names):
    from sketchsynth.database.normalize import Normalizer

    fit, held = grid_names
    kp = np.concatenate([grid_tracks[n].keypoints for n in fit])
    normalizer = Normalizer().fit(kp, (kp[:, :, 2] > 0).all(axis=1))
    return training_xy(grid_tracks, grid_mel, fit, normalizer), training_xy(grid_tracks, grid_mel, held, normalizer)


def _lip_error(pred, Y):
    from sketchsynth.layout import GROUPS

    lips = np.isin(SPEECH_POINTS, GROUPS["lips"])
    return float(((pred[:, lips] - Y[:, lips]) ** 2).sum(-1).mean())


@pytest.mark.parametrize("kind", ["ridge", "knn", "mlp"])
def test_regressor_beats_the_mean_mouth_on_held_out_sentences(fitted_data, kind, tmp_path):
    from sketchsynth.evaluation.metrics import pearson
    from sketchsynth.targets.speech.regress import KNNMouth, RidgeMouth

    (X, Y, _), (Xh, Yh, _) = fitted_data
    if kind == "ridge":
        model = RidgeMouth(alpha=1000.0, n_components=20)
    elif kind == "knn":
        model = KNNMouth(n_neighbors=10, n_components=64)
    else:
        pytest.importorskip("torch")
        from sketchsynth.targets.speech.neural import MLPMouth

        model = MLPMouth(hidden=(256,), n_components=64, epochs=40, seed=0, max_seconds=30)
    assert model.fit(X, Y) is model
    pred = model.predict(Xh)
    assert pred.shape == (len(Xh), len(SPEECH_POINTS), 2)
    mean_mouth = np.broadcast_to(Y.mean(axis=0), Yh.shape)
    assert _lip_error(pred, Yh) < 0.75 * _lip_error(mean_mouth, Yh)
    # inner-lip opening (normalized coordinates) follows the held-out truth
    i61, i67 = [int(np.flatnonzero(SPEECH_POINTS == p)[0]) for p in (62, 66)]
    gap = lambda P: np.linalg.norm(P[:, i61] - P[:, i67], axis=-1)  # noqa: E731
    assert pearson(gap(pred), gap(Yh)) > 0.6
    # save -> load (npz, no pickle) predicts the same
    model.save(tmp_path / "m.npz")
    again = type(model).load(tmp_path / "m.npz")
    assert np.allclose(again.predict(Xh[:50]), pred[:50], atol=1e-4)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_damaged_model_file_is_one_line_input_error(tmp_path):
    from sketchsynth.targets.speech.regress import KNNMouth, RidgeMouth

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="damaged"):
        RidgeMouth.load(bad)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 8)), rng.normal(size=(30, len(SPEECH_POINTS), 2))
    RidgeMouth().fit(X, Y).save(tmp_path / "ridge.npz")
    with pytest.raises(InputError, match="not 'knn-mouth'"):
        KNNMouth.load(tmp_path / "ridge.npz")
