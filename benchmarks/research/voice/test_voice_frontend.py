"""Checks of the prototype (pytest test_voice_frontend.py; PYTHONPATH=/work/proto:.)."""
import numpy as np

from voice_frontend import AmplitudeCalibration, SpectralFrontEnd, StreamingFrontEnd, sliding_cmvn, warped_mel_filters


def _speechlike(sec=4.0, sr=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(sec * sr)) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (env * (np.sin(2 * np.pi * 140 * t) + 0.3 * rng.standard_normal(t.size)) * 0.1).astype(np.float32)


def test_unwarped_filters_are_librosa_mel():
    import librosa

    a = warped_mel_filters(16000, 512, 80, 90.0, 7600.0, 1.0)
    b = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=90.0, fmax=7600.0)
    assert np.allclose(a, b, atol=1e-6)


def test_plain_front_end_is_lsp_logmel():
    from sketchsynth.speech.features import LogMel

    y = _speechlike()
    F, t = SpectralFrontEnd(cmvn_s=None).input_features(y)
    L = LogMel().transform(y)
    assert F.shape == L.shape and np.abs(F - L).max() < 1e-3


def test_streaming_equals_offline():
    y = _speechlike(6.0)
    f = SpectralFrontEnd(cmvn_s=1.0)
    F, t = f.input_features(y)
    s = StreamingFrontEnd(f)
    parts = [s.push(y[a:a + 1234]) for a in range(0, len(y), 1234)] + [s.flush()]
    G = np.concatenate([p[0] for p in parts])
    tg = np.concatenate([p[1] for p in parts])
    assert G.shape == F.shape and np.abs(G - F).max() < 1e-4 and np.allclose(tg, t)


def test_cmvn_whole_signal():
    X = np.random.default_rng(1).normal(3, 2, (500, 4))
    Y = sliding_cmvn(X, 0)
    assert np.allclose(Y.mean(0), 0, atol=1e-5) and np.allclose(Y.std(0), 1, atol=1e-4)


def test_calibration_scales_deviation_only_up():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(37, 2))
    ref = mean + rng.normal(size=(400, 37, 2))
    cal = AmplitudeCalibration(max_gain=3).fit(ref, mean=mean)
    small = mean + 0.5 * (ref - mean)
    out = cal.transform(small)
    assert abs(cal.last_gain_ - 2.0) < 0.2 and out.shape == small.shape
    assert cal.transform(ref).shape == ref.shape and cal.last_gain_ == 1.0


def test_model_save_load_roundtrip(tmp_path):
    """FrontEndSpeechModel keeps its front end through SpeechModel.save / load (plain arrays + JSON)."""
    from frontend_model import FrontEndSpeechModel
    from voice_frontend import SpectralFrontEnd

    m = FrontEndSpeechModel(SpectralFrontEnd(cmvn_s=1.5, train_warps=(0.88, 1.0, 1.12)), lle_blend=0.0)
    p = m.get_params()
    m2 = FrontEndSpeechModel(**p)
    assert m2.front.get_params() == m.front.get_params()
    import json
    assert json.loads(json.dumps(p))["front"]["class"] == "SpectralFrontEnd"
