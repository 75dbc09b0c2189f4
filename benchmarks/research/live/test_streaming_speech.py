"""Streaming log-mel and context windows equal the batch front end (pytest or python)."""
import numpy as np
from sketchsynth.io.audio import load_audio
from sketchsynth.speech.features import LogMel, frame_context
from streaming_speech import StreamingLogMel, StreamingContext

WAV = "/work/shared/data/grid_s1/video/bbaf3s.mp4"


def _stream(y, chunk, params, past, fut):
    sm = StreamingLogMel(**params).start()
    sc = StreamingContext(sm.hop_s, 25.0, past, fut, 0.04).start()
    mels, ks, Xs = [], [], []
    for a in range(0, len(y), chunk):
        m = sm.push(y[a:a + chunk]); mels.append(m)
        k, X = sc.push(m); ks.append(k); Xs.append(X)
    m = sm.finish(); mels.append(m)
    k, X = sc.push(m); ks.append(k); Xs.append(X)
    k, X = sc.finish(sm.n_samples_, sm.sr); ks.append(k); Xs.append(X)
    return np.concatenate(mels), np.concatenate(ks), np.concatenate([x for x in Xs if x.size])


def test_equal_batch():
    y = load_audio(WAV, 16000)
    front = LogMel()
    mel = front.transform(y)
    for chunk in (160, 320, 640, 97):
        for past, fut in ((0.32, 0.48), (0.32, 0.12), (0.32, 0.0)):
            smel, ks, X = _stream(y, chunk, front.get_params(), past, fut)
            assert smel.shape == mel.shape, (smel.shape, mel.shape)
            err = np.abs(smel - mel).max()
            assert err < 2e-3, err
            n = int(np.floor(len(y) / 16000 * 25 + 1e-9))
            Xb = frame_context(mel, front.times_, np.arange(n) / 25.0, past, fut, 0.04)
            # streaming may emit a frame past floor(duration * fps) when the look-ahead is already covered
            assert np.array_equal(ks[:n], np.arange(n)) and len(ks) <= n + 1
            assert np.abs(X[:n] - Xb).max() < 2e-3
    print("ok: max mel diff", err)


if __name__ == "__main__":
    test_equal_batch()
