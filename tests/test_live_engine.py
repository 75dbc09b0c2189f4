"""The live engine's parts against their batch twins, on the bundled GRID s1 database and a held-out sentence."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def grid(grid_example):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.io.audio import load_audio

    db = FrameDatabase.load(grid_example["db"])
    return db, load_audio(grid_example["input"], 16000)


def _batch_target(db, y):
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.targets.speech.inputs import Audio

    feats = SpeechFeatures().fit(db).transform(Audio(y, 16000, "", "held-out"))
    # live targets close at b/p/m with a causal cepstral mean: so does the batch twin
    return feats, SpeechTarget(closure_causal=True).fit(db).transform(feats)


def _lattice(db, target):
    from sketchsynth.selection.lattice import build_lattice

    return build_lattice(db, target, candidates=32)


def _face_target(db, n=150, seed=0):
    """Every point weighted (the decoder's triangle-inequality path): database frames plus noise."""
    from sketchsynth.targets.target import Target

    rng = np.random.default_rng(seed)
    rows = db.usable_rows_[10:10 + n]
    pts = np.asarray(db.normalized_[rows], np.float32) + rng.normal(0, 0.01, (n, 70, 2)).astype(np.float32)
    w = np.broadcast_to(db.weights_.astype(np.float64), (n, 70)).copy()
    return Target(pts, w, np.ones(n, bool), np.full(n, "", object), None, np.arange(n), np.arange(n) / 25.0, 25.0)


def _stream(db, lat, lam, jc, lag, backend="numba", seg=None, beam=np.inf, prune=True):
    from sketchsynth.selection.fixed_lag import FixedLagViterbi

    dec = FixedLagViterbi.from_db(db, lag=lag, smooth=lam, candidates=32, backend=backend, prune=prune).start()
    T = len(lat.candidates)
    out, delay = np.full(T, -1, np.int64), np.zeros(T, np.int64)
    full = (lat.weights == db.weights_[None]).all(axis=1)
    for t in range(T):
        d = dec.push(lat.candidates[t], lat.costs[t], lat.points[t], lat.weights[t], jc, beam=beam,
                     segment_start=bool(t == 0 or (seg is not None and seg[t])), full=bool(full[t]))
        out[d.t], delay[d.t] = d.rows, t - d.t
    d = dec.finish()
    out[d.t], delay[d.t] = d.rows, T - 1 - d.t
    assert (out >= 0).all()
    return out, delay


def _batch_rows(db, lat, lam, jc_units, seg=None, beam=None):
    from sketchsynth.selection.decode import ViterbiDecoder

    if seg is not None:
        lat.frames = np.arange(len(seg)) + np.cumsum(seg)  # a hole in the frame numbers starts a segment
    d = ViterbiDecoder(smooth=lam, candidates=32, jump_cost=jc_units, beam=beam).decode(db, lat)
    lat.frames = None
    return d.rows, d.params["cost_unit"]


@pytest.mark.parametrize("kind", ["speech", "face"])
def test_unbounded_lag_equals_batch_decoder(grid, kind):
    db, y = grid
    target = _batch_target(db, y)[1] if kind == "speech" else _face_target(db)
    lat = _lattice(db, target)
    T = len(lat.candidates)
    seg = np.zeros(T, bool)
    seg[T // 3] = True
    for lam in (0.0, 0.6, 2.0):
        for s in (None, seg):
            for beam in (None, 3.0):
                b, unit = _batch_rows(db, lat, lam, 1.5, s, beam)
                got, _ = _stream(db, lat, lam, 1.5 * unit, None, seg=s, beam=np.inf if beam is None else beam * unit)
                assert np.array_equal(b, got), (kind, lam, s is not None, beam, int((b != got).sum()))


def test_numba_step_equals_numpy_and_lag_bound(grid):
    db, y = grid
    lat = _lattice(db, _batch_target(db, y)[1])
    jc = 1.5 * float(np.median(lat.costs[:, 0]))
    for prune in (True, False):
        for lag in (0, 1, 3, None):
            a, da = _stream(db, lat, 0.6, jc, lag, "numba", prune=prune)
            b, dbb = _stream(db, lat, 0.6, jc, lag, "numpy", prune=prune)
            assert np.array_equal(a, b) and np.array_equal(da, dbb), (prune, lag)
            if lag is not None:
                assert da[:len(da) - lag - 1].max() <= lag  # never decided later than the lag
    # a lag forces decisions the unbounded decoder would take later
    _, d_un = _stream(db, lat, 0.6, jc, None)
    _, d_2 = _stream(db, lat, 0.6, jc, 2)
    assert d_un.max() > 2 >= d_2[:-3].max()


@pytest.mark.parametrize("chunk", [97, 320, 640])
def test_streamed_front_end_equals_batch(grid, chunk):
    from sketchsynth.database.speech_features import LogMel
    from sketchsynth.targets.speech.features import frame_context
    from sketchsynth.targets.speech.streaming import StreamingContext, StreamingLogMel

    _, y = grid
    front = LogMel()
    mel = front.transform(y)
    n = int(np.floor(len(y) / 16000 * 25 + 1e-9))
    for future in (0.48, 0.12, 0.0):
        sm = StreamingLogMel(**front.get_params()).start()
        sc = StreamingContext(sm.hop_s, 25.0, 0.32, future, 0.04).start()
        mels, ks, Xs = [], [], []
        for a in range(0, len(y), chunk):
            m = sm.push(y[a:a + chunk])
            k, X = sc.push(m)
            mels.append(m), ks.append(k), Xs.append(X)
        m = sm.finish()
        k, X = sc.push(m)
        mels.append(m), ks.append(k), Xs.append(X)
        k, X = sc.finish(sm.n_samples_, sm.sr)
        ks.append(k), Xs.append(X)
        smel, ks = np.concatenate(mels), np.concatenate(ks)
        X = np.concatenate([x for x in Xs if x.size])
        assert smel.shape == mel.shape and np.abs(smel - mel).max() < 2e-3
        Xb = frame_context(mel, front.times_, np.arange(n) / 25.0, 0.32, future, 0.04)
        assert np.array_equal(ks[:n], np.arange(n)) and len(ks) <= n + 1
        assert np.abs(X[:n] - Xb).max() < 2e-3


def test_stage_streams_equal_transform(grid):
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget

    db, y = grid
    feats, target = _batch_target(db, y)
    fs, ts = SpeechFeatures().fit(db).start(live=True), SpeechTarget().fit(db).start(live=True)
    Xs, pts = [], []
    for a in list(range(0, len(y), 320)) + [None]:
        f = fs.finish() if a is None else fs.push(y[a:a + 320])
        Xs.append(f.X)
        pts.append(ts.push(f).points)
    n = len(feats.X)
    assert np.abs(np.concatenate(Xs)[:n] - feats.X).max() < 2e-3
    # the speaker's own voice: the batch and the running voice estimate both leave the LLE off after the start
    got = np.concatenate(pts)[:n]
    assert np.abs(got[50:] - target.points[50:]).max() < 1e-2


def test_engine_unbounded_equals_select(grid):
    """Chunks of 20 ms through the whole engine, with an unbounded lag and the batch's cost unit and LLE blend:
    the frames select() picks."""
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select

    db, y = grid
    feats, target = _batch_target(db, y)
    syn = select(db, target, ViterbiDecoder(smooth=0.6))
    e = LiveEngine(db, lookahead_ms=None, lag_ms=None, render="none",
                   cost_unit=syn.result.decoding.params["cost_unit"], lle_blend=feats.timings["lle"]["blend"])
    frames = []
    for a in range(0, len(y), 320):
        frames += e.push_audio(y[a:a + 320])
    frames += e.finish()
    n = len(syn.result.rows)
    assert [f.index for f in frames][:n] == list(range(n))
    assert np.array_equal([f.row for f in frames][:n], syn.result.rows)


def test_engine_lag_and_frames(grid):
    from sketchsynth.errors import ParameterError
    from sketchsynth.live.engine import LiveEngine

    db, y = grid
    e = LiveEngine(db, lookahead_ms=None, lag_ms=80).start()
    model_ms = e.model_.delay_ms
    got = []
    for a in range(0, len(y), 320):
        for f in e.push_audio(y[a:a + 320]):
            got.append(f)
            # decided within look-ahead + STFT half window + interpolation hop + chunk + 2 frames of lag
            assert f.audio_s - f.time_s <= (model_ms + 16 + 9 + 20 + 80) / 1000 + 1e-6
    got += e.finish()
    assert [f.index for f in got] == list(range(len(got)))
    f = got[len(got) // 2]
    assert f.image.shape == (288, 360, 3) and f.image.dtype == np.uint8 and (f.image < 128).any()
    assert f.keypoints.shape == (70, 3) and np.isfinite(f.keypoints).all()
    with pytest.raises(ParameterError, match="fit-speech"):
        LiveEngine(db, lookahead_ms=model_ms + 40).start()


def test_the_first_engine_freezes_the_heap_and_later_garbage_is_collected(grid):
    """Full collections must not walk the loaded database during a stream (they paused it up to 76 ms): the first
    engine of a process freezes what it loaded; cycles made afterwards are still collected."""
    import gc
    import weakref

    from sketchsynth.live.engine import LiveEngine

    db, _ = grid
    gc.unfreeze()
    try:
        first = LiveEngine(db, lookahead_ms=None, lag_ms=80, render="none").start()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        LiveEngine(db, lookahead_ms=None, lag_ms=80, render="none").start(shared=first)
        # a session sharing the first engine freezes nothing more (frozen objects may still be freed: not ==)
        assert gc.get_freeze_count() <= frozen

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_composite_frames_are_one_background_take_with_the_chosen_mouths(grid):
    """render="composite": above the mouth every image is the background take's frame (played on, never a jump
    between takes); around the mouth it is the chosen frame's, and the mouth moves with the sound."""
    from sketchsynth.layout import GROUPS
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.selection.pose import pingpong

    db, y = grid
    e = LiveEngine(db, lookahead_ms=None, lag_ms=80, render="composite").start()
    frames = []
    for a in range(0, len(y), 320):
        frames += e.push_audio(y[a:a + 320])
    frames += e.finish()
    src = e.frames_
    take = set(np.asarray(db.table_["recording"])[src.background_].tolist())
    assert len(take) == 1 and len(src.background_) > 1
    assert {np.asarray(db.table_["recording"])[f.row] for f in frames if f.row >= 0} - take  # mouths from elsewhere
    diffs = []
    for f in frames:
        bg_row = src.background_[pingpong(len(src.background_), 1, src.background_start_ + f.index)[0]]
        bg = src.image(-1, f.keypoints, f.index)  # the background frame alone
        kp = db.keypoints_[bg_row]
        assert f.image.shape == bg.shape
        brows = int(kp[GROUPS["brows"], 1].min())
        assert np.array_equal(f.image[:brows], bg[:brows])       # outside the mask: the background's pixels
        diffs.append(np.abs(f.image[brows:].astype(int) - bg[brows:]).mean())
    assert np.mean(np.asarray(diffs) > 0.5) > 0.5                  # the mouth is pasted in most frames


def test_a_composite_prefers_heads_posed_like_its_background(grid):
    """Selecting for a composite (here without rendering, as live --out without a window does) weighs each
    frame's head pose against the background frame it will be pasted into: a heavy pose weight chooses heads
    closer in pose than none does, on the same sound."""
    from sketchsynth.database.pose import PoseSpace
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.live.frames import background_take
    from sketchsynth.selection.pose import pingpong

    db, y = grid
    bg, start = background_take(db)
    space = PoseSpace().fit(db)
    z = np.nan_to_num(space.z(space.db_pose_))

    def mismatch(weight):
        e = LiveEngine(db, lookahead_ms=None, lag_ms=80, render="none", composite=True, pose_weight=weight).start()
        frames = []
        for a in range(0, len(y), 320):
            frames += e.push_audio(y[a:a + 320])
        frames += e.finish()
        assert (e.pose_ is None) == (weight == 0)
        ok = [f for f in frames if f.row >= 0]
        rows = np.array([f.row for f in ok])
        shown = bg[pingpong(len(bg), 1, start + np.array([f.index for f in ok]))] if ok else rows
        return float(((z[rows] - z[shown]) ** 2).sum(axis=1).mean())

    assert mismatch(4.0) < mismatch(0.0)


def test_the_pose_term_needs_the_numba_decoder(grid):
    """The numpy reference decoder has no feature term: a composite selection on it says so at start, and runs
    without the term."""
    from sketchsynth.errors import ParameterError
    from sketchsynth.live.engine import LiveEngine

    db, _ = grid
    with pytest.raises(ParameterError, match="numba"):
        LiveEngine(db, lookahead_ms=None, render="none", composite=True, backend="numpy").start()
    assert LiveEngine(db, lookahead_ms=None, render="none", composite=True, backend="numpy",
                      pose_weight=0).start().pose_ is None


def test_composite_morphs_one_frame_after_a_jump_only(grid):
    """A jump morphs from the previous stretch's continuation to the new frame over one frame (as frames.mp4 does);
    a frame that continues its stretch is pasted alone."""
    from sketchsynth.live.frames import FrameSource

    db, _ = grid
    src = FrameSource(db, "composite").fit()
    rec = np.asarray(db.table_["recording"])
    ok = db.usable_rows_
    a = int(next(r for r in ok if r + 1 in set(ok.tolist()) and rec[r + 1] == rec[r]))
    b = int(next(r for r in ok if rec[r] != rec[a]))
    kp = np.zeros((70, 3), np.float32)
    assert np.array_equal(src.image(a + 1, kp, 5, previous=a), src.image(a + 1, kp, 5))       # goes on: alone
    jump, alone = src.image(b, kp, 5, previous=a), src.image(b, kp, 5)
    assert jump.shape == alone.shape and np.abs(jump.astype(int) - alone).mean() > 0.05          # a jump: morphed
