"""End to end: the streaming engine with an unbounded lag and the batch cost unit selects what the batch pipeline
selects (speech model, target, prefilter, decoder), on held-out GRID s1 sentences.

Run: PYTHONPATH=/work/proto:. python test_engine_batch.py
"""
import numpy as np

from bench_live import load_stream, open_db, split_names


def test_engine_equals_batch():
    from sketchsynth.decode import ViterbiDecoder
    from sketchsynth.speech.features import LogMel
    from sketchsynth.speech_model import require_model
    from sketchsynth.stages import Audio, AudioFeatures, select, speech_target

    from engine import LiveEngine

    for delay in (480, 120):
        db = open_db(delay)
        for name in split_names("val", 6):
            y, _ = load_stream([name])
            model = require_model(db)
            front = LogMel(**db.audio_.info["features"])
            mel = front.transform(y)
            n = int(np.floor(len(y) / 16000 * 25 + 1e-9))
            X = model.context(mel, front.times_, np.arange(n) / 25.0)
            feats = AudioFeatures(X, np.arange(n) / 25.0, 25.0, Audio(y, 16000, "", name))
            syn = select(db, speech_target(db, model.predict(X, feats.timings), feats), ViterbiDecoder(smooth=0.6))
            unit = syn.result.decoding.params["cost_unit"]
            e = LiveEngine(db, lag=None, cost_unit=unit, lle_blend=feats.timings['lle']['blend']).start()
            rows = np.full(n + 1, -1)
            for a in range(0, len(y), 320):
                f = e.push(y[a:a + 320])
                rows[f.t] = f.rows
            f = e.finish()
            rows[f.t] = f.rows
            b = syn.result.rows
            same = float(np.mean(rows[:n] == b))
            print(f"delay {delay} {name}: {100 * same:.1f}% of {n} frames equal to batch "
                  f"(voice blend batch {feats.timings['lle']['blend']}, stream {np.median(e.target_.blends_)})")
            assert same == 1.0


if __name__ == "__main__":
    test_engine_equals_batch()
