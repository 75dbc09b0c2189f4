"""Cost of the model for other voices: fitting it on a database's sound, and reading 60 s of another voice.

The database: GRID s1's 800 sentences with sound (40 min; ``sketchsynth build-db ../shared/data/grid_s1/video
--db DB`` -- pass it with ``--db``). Measured in one run, CPU seconds (process time, all threads):

- fit: :func:`sketchsynth.targets.speech.voices.fit_other_voices` (the speaker-normalized features at three
  warps, PCA, ridge + kNN, and the own-kind model refitted without a held-out fold for the amplitude reference),
  beside the database's own model fitted in the same run; budget 120 s;
- 60 s of another voice (the first 60 s of the dfrf news anchor): the choice of model (the own model's
  log-mel and voice ratio on the first 10 s), the normalized features and context windows, PCA, ridge + kNN and
  the calibration, and the phone model's closing probabilities (the lips close at b, p, m) -- beside the own
  model reading the same 60 s; budget 3 s. Selection (Viterbi) is the same cost for both and not counted.

Run:  python benchmarks/bench_voice.py --db DB [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.fspath(ROOT))
SHARED = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIT_BUDGET_S, MATCH_BUDGET_S = 120.0, 3.0


def cpu(f, repeat=1):
    """(best CPU seconds over ``repeat`` calls, the last result)."""
    best, out = np.inf, None
    for _ in range(repeat):
        c = time.process_time()
        out = f()
        best = min(best, time.process_time() - c)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="a GRID s1 database with sound (800 sentences)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many reads of the 60 s")
    a = ap.parse_args()
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.audio import load_audio
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.targets.speech.inputs import Audio
    from sketchsynth.targets.speech.model import SpeechModel
    from sketchsynth.targets.speech.model_store import use_model
    from sketchsynth.targets.speech.model_file import OTHER_MODEL_FILE
    from sketchsynth.targets.speech.voices import fit_other_voices

    db = FrameDatabase.load(a.db)
    minutes = sum(len(db.audio_.samples(e)) for e in db.audio_.recordings()) / 16000 / 60
    own_fit, own = cpu(lambda: SpeechModel().fit(db))
    use_model(db, own)
    other_fit, other = cpu(lambda: fit_other_voices(db, own_params=own.get_params()))
    use_model(db, other, OTHER_MODEL_FILE)
    print(f"fit on {minutes:.1f} min of sound: own model {own_fit:.1f} s CPU; model for other voices "
          f"{other_fit:.1f} s CPU ({other_fit / own_fit:.2f} x the own model's; {other_fit / FIT_BUDGET_S:.2f} of the "
          f"{FIT_BUDGET_S:.0f} s budget)")

    y = load_audio(SHARED / "videos" / "dfrf" / "cnn2_25fps.mp4", 16000)[:60 * 16000]
    audio = Audio(y, 16000, "dfrf", "dfrf")
    rows = {}
    for voices in ("own", "auto"):
        feats, target = SpeechFeatures(voices).fit(db), SpeechTarget().fit(db)

        def read():
            f = feats.transform(audio)
            return f, target.predict(f), target.closure(f)

        read()    # warm: indexes built, numba compiled
        rows[voices], (f, _, _) = cpu(read, a.repeat)
        if voices == "auto":
            assert f.model is other, "the 60 s were not read as another voice"
    closure, _ = cpu(lambda: target.closure(f), a.repeat)
    print(f"the closing probabilities alone: {closure:.2f} s CPU of the 60 s")
    print(f"60 s of another voice: own model {rows['own']:.2f} s CPU; chosen + model for other voices "
          f"{rows['auto']:.2f} s CPU ({rows['auto'] / rows['own']:.2f} x the own model's; "
          f"{rows['auto'] / MATCH_BUDGET_S:.2f} of the {MATCH_BUDGET_S:.0f} s budget; voice ratio "
          f"{f.voice_ratio:.2f})")


if __name__ == "__main__":
    main()
