"""FixedLagViterbi: unbounded lag == the batch decoder; numba == numpy reference at every lag (real GRID s1 data).

Run: PYTHONPATH=/work/proto:. python test_fixed_lag.py  (or pytest). Needs db_grid (see NOTES.md).
"""
import os

import numpy as np

from fixed_lag import FixedLagViterbi

DB = os.environ.get("LIVE_DB", "/work/research/live/db_grid")
HELDOUT = "/work/shared/data/grid_s1/video"


def _speech_lattice_inputs(db, names, k=32):
    """Speech targets of held-out sentences concatenated into one stream, and their candidates (batch code)."""
    from sketchsynth.io.audio import load_audio
    from sketchsynth.matching import candidates
    from sketchsynth.speech.features import LogMel
    from sketchsynth.speech_model import require_model
    from sketchsynth.stages import Audio, AudioFeatures, speech_target

    model = require_model(db)
    front = LogMel(**db.audio_.info["features"])
    y = np.concatenate([load_audio(os.path.join(HELDOUT, n), 16000) for n in names])
    mel = front.transform(y)
    n = int(np.floor(len(y) / 16000 * 25 + 1e-9))
    X = model.context(mel, front.times_, np.arange(n) / 25.0)
    feats = AudioFeatures(X, np.arange(n) / 25.0, 25.0, Audio(y, 16000, "", "stream"))
    pred = model.predict(X)
    tgt = speech_target(db, pred, feats)
    cand, cost = candidates(db, tgt.points, tgt.usable, tgt.weights, 256)
    return tgt.points, tgt.weights, cand[:, :k], cost[:, :k]


def _keypoint_lattice_inputs(db, n=300, seed=0):
    """Full-face targets (every point weighted: exercises the triangle-inequality skip): database frames + noise."""
    from sketchsynth.matching import candidates

    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, len(db.usable_rows_) - n))
    rows = db.usable_rows_[start:start + n]
    pts = np.asarray(db.normalized_[rows], np.float32) + rng.normal(0, 0.01, (n, 70, 2)).astype(np.float32)
    w = np.broadcast_to(db.weights_.astype(np.float64), (n, 70)).copy()
    cand, cost = candidates(db, pts, np.ones(n, bool), w, 256)
    return pts, w, cand[:, :32], cost[:, :32]


def _batch(db, pts, w, top, top_cost, lam, jc, seg_start=None, beam=np.inf):
    from sketchsynth import _kernels
    from sketchsynth.decode import usable_links
    from sketchsynth.feature_term import no_feature_args

    succ, prev = usable_links(db)
    T = len(top)
    seg = np.zeros(T, bool) if seg_start is None else seg_start.copy()
    seg[0] = True
    full = (w == db.weights_[None]).all(axis=1)
    rows_l, target_l, _, _, _, path = _kernels.viterbi_lattice(
        db.normalized_, succ, prev, np.ascontiguousarray(top), np.ascontiguousarray(top_cost), pts, w,
        db.weights_.astype(np.float64), db.point_order_, seg, full, lam, jc, 0, 0, 0 if lam == 0 else 32, beam,
        *no_feature_args(T, len(succ)))
    return rows_l[np.arange(T), path]


def _stream(db, pts, w, top, top_cost, lam, jc, lag, backend="numba", seg_start=None, beam=np.inf, prune=True):
    dec = FixedLagViterbi.from_db(db, lag=lag, smooth=lam, candidates=32, backend=backend, prune=prune).start()
    T = len(top)
    out = np.full(T, -1, np.int64)
    delay = np.zeros(T, np.int64)
    full = (w == db.weights_[None]).all(axis=1)
    for t in range(T):
        d = dec.push(top[t], top_cost[t], pts[t], w[t], jc, beam=beam,
                     segment_start=bool(t == 0 or (seg_start is not None and seg_start[t])), full=bool(full[t]))
        out[d.t] = d.rows
        delay[d.t] = t - d.t
    d = dec.finish()
    out[d.t] = d.rows
    delay[d.t] = T - 1 - d.t
    assert (out >= 0).all()
    return out, delay, dec


def _check_unbounded(db, pts, w, top, top_cost, label):
    for lam in (0.0, 0.6, 2.0):
        jc = 1.5 * float(np.median(top_cost[:, 0]))
        seg = np.zeros(len(top), bool)
        seg[[0, len(top) // 3]] = True
        for seg_start in (None, seg):
            for beam in (np.inf, 3 * jc):
                b = _batch(db, pts, w, top, top_cost, lam, jc, seg_start, beam)
                s, delay, dec = _stream(db, pts, w, top, top_cost, lam, jc, None, seg_start=seg_start, beam=beam)
                assert np.array_equal(b, s), (label, lam, (b != s).sum())
        print(f"{label}: unbounded lag == batch at lambda {lam} (T={len(top)}, max pending {dec.max_pending_}, "
              f"median decision delay {np.median(delay):.0f} frames, p95 {np.percentile(delay, 95):.0f})")


def test_unbounded_equals_batch():
    from sketchsynth import FrameDatabase

    db = FrameDatabase.load(DB)
    names = sorted(open("/work/research/live/heldout.txt").read().split())[:8]
    _check_unbounded(db, *_speech_lattice_inputs(db, names), "speech, 8 held-out sentences")
    _check_unbounded(db, *_keypoint_lattice_inputs(db), "full-face targets")


def test_numba_equals_numpy_and_lag_bound():
    from sketchsynth import FrameDatabase

    db = FrameDatabase.load(DB)
    names = sorted(open("/work/research/live/heldout.txt").read().split())[8:10]
    pts, w, top, top_cost = _speech_lattice_inputs(db, names)
    jc = 1.5 * float(np.median(top_cost[:, 0]))
    for prune in (True, False):
        for lag in (0, 1, 3, 8, None):
            a, da, _ = _stream(db, pts, w, top, top_cost, 0.6, jc, lag, "numba", prune=prune)
            b, db_, _ = _stream(db, pts, w, top, top_cost, 0.6, jc, lag, "numpy", prune=prune)
            assert np.array_equal(a, b), (lag, (a != b).sum())
            assert np.array_equal(da, db_)
            if lag is not None:
                assert da[:len(da) - lag - 1].max() <= lag   # never later than L (frames before the end)
    print("numba == numpy at lags 0, 1, 3, 8, unbounded, with and without pruning; decision delay never above the lag")


if __name__ == "__main__":
    test_numba_equals_numpy_and_lag_bound()
    test_unbounded_equals_batch()
