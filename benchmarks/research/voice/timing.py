"""CPU cost of the chosen design on 60 s of speech (dfrf 0-60 s) and of fitting it on the 800-sentence database.

    PYTHONPATH=/work/proto:. nice -n 10 python timing.py
"""
import time

import numpy as np

from eval_drivers import db_reference_calibration
from frontend_model import FrontEndSpeechModel, baseline_context, voice_ratio
from voice_frontend import SpectralFrontEnd


def cpu(f, n=3):
    best = 1e9
    for _ in range(n):
        t0 = time.process_time()
        out = f()
        best = min(best, time.process_time() - t0)
    return best, out


def main():
    from sketchsynth.database import FrameDatabase
    from sketchsynth.io.audio import load_audio
    from sketchsynth.speech_model import require_model

    db = FrameDatabase.load("tmp/db_s1")
    base = require_model(db)
    t0, c0 = time.perf_counter(), time.process_time()
    m = FrontEndSpeechModel(SpectralFrontEnd(cmvn_s=1.5, train_warps=(0.88, 1.0, 1.12)), lle_blend=0.0,
                            regressor_params={"knn_components": 48}).fit(db)
    print(f"fit on {m.n_train_} rows (800 sentences x 3 warps): CPU {time.process_time() - c0:.1f} s "
          f"(front end {m.front_cpu_seconds_:.1f} s), wall {time.perf_counter() - t0:.1f} s")
    cal = db_reference_calibration(db, m)
    y = load_audio("/work/shared/data/videos/dfrf/cnn2_25fps.mp4", 16000)[:60 * 16000]
    t = np.arange(1500) / 25.0
    c, _ = cpu(lambda: m.front.input_features(y))
    print(f"60 s input, front end only: {c:.3f} s CPU")
    c, X = cpu(lambda: m.input_context(y, t))
    print(f"  + context windows: {c:.3f} s")
    c, Z = cpu(lambda: m.reduce(X))
    print(f"  PCA: {c:.3f} s")
    c, P = cpu(lambda: m.predict(X, {}, reduced=Z))
    print(f"  regressor (ridge + kNN 48-D over {len(m.bank_)} rows): {c:.3f} s")
    c, _ = cpu(lambda: cal.transform(P))
    print(f"  calibration: {c:.4f} s")
    c, _ = cpu(lambda: voice_ratio(base, base.reduce(baseline_context(db, y, t))))
    print(f"router (log-mel + the database model's PCA + voice-distance ratio, all frames): {c:.3f} s")
    c, _ = cpu(lambda: voice_ratio(base, base.reduce(baseline_context(db, y[:10 * 16000], t[:250]))))
    print(f"router on the first 10 s only: {c:.3f} s")


if __name__ == "__main__":
    main()
