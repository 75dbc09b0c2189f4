"""The Viterbi decoder: kernel against reference and brute force, and its behaviour on the real henan take."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sketchsynth.selection import kernels as _kernels
from sketchsynth.database.links import usable_links
from sketchsynth.outputs.placement import blend_seams
from sketchsynth.selection.decode import ViterbiDecoder, _viterbi_reference
from sketchsynth.selection.joins import JoinTerm, no_join_args, path_joins, path_stats
from sketchsynth.errors import ParameterError
from sketchsynth.targets.feature_term import FeatureTerm, no_feature_args, rerank_with
from sketchsynth.layout import default_weights, point_order_lips_first

JOIN_MODES = [_kernels.JOIN_SUCCESSOR, _kernels.JOIN_METHOD]
METRICS = [_kernels.METRIC_SUM, _kernels.METRIC_SQ]


def _lattice(res, frames=None):
    """A per-frame match's candidates as the decoder's lattice."""
    from sketchsynth.selection.lattice import Lattice

    return Lattice(res.candidates, res.candidate_costs, res.usable, res.rows, res.target_cost, res.normalized,
                   res.qweights, res.metric, res.k, res.exhaustive, frames=frames)


def _random_lattice(rng, T, K, n_rec=4, rec_len=12, missing=0.0):
    """A random database of short recordings and per-frame top-K lists with exact costs."""
    N = n_rec * rec_len
    db = rng.normal(size=(N, 70, 2)).astype(np.float32)
    # recordings move slowly, so successors are near each other as in real takes
    db = np.cumsum(db * 0.2, axis=0).astype(np.float32)
    succ = np.arange(1, N + 1, dtype=np.int64)
    succ[rec_len - 1::rec_len] = -1
    prev = np.full(N, -1, dtype=np.int64)
    prev[succ[succ >= 0]] = np.flatnonzero(succ >= 0)
    w = default_weights().astype(np.float64)
    queries = (db[rng.integers(0, N, T)] + rng.normal(scale=0.3, size=(T, 70, 2))).astype(np.float32)
    qweights = np.tile(w, (T, 1))
    qweights[rng.random((T, 70)) < missing] = 0.0
    full = (qweights == w).all(axis=1)
    return db, succ, prev, w, queries, qweights, full


def _top_k(db, queries, qweights, K, metric):
    from sketchsynth.selection.search import candidate_costs_reference

    T = len(queries)
    allrows = np.tile(np.arange(len(db)), (T, 1))
    cost = candidate_costs_reference(db, queries, qweights, allrows, "sum" if metric == 0 else "sq")
    order = np.argsort(cost, axis=1, kind="stable")[:, :K]
    return order.astype(np.int64), np.take_along_axis(cost, order, 1)


def _run(fn, db, succ, prev, top, top_cost, queries, qweights, w, seg, full, lam, jc, join, metric, n_succ, beam,
         fargs=None, joins=None):
    fargs = no_feature_args(len(top), len(db)) if fargs is None else fargs
    if fn is _kernels.viterbi_lattice:
        jargs = no_join_args(len(db)) if joins is None else joins.kernel_args()
        return fn((db, succ, prev, w, point_order_lips_first(w), *jargs), (top, top_cost, queries, qweights, seg, full),
                  (lam, jc, join, metric, n_succ, beam), tuple(fargs))
    return fn(db, succ, prev, top, top_cost, queries, qweights, w, seg, lam, jc, join, metric, n_succ, beam, *fargs,
              joins=joins)


def _random_join_term(rng, n, weight):
    """Random 4-d vectors per row (a few rows without one), as a pose join term."""
    bank = rng.normal(size=(n, 4)).astype(np.float32)
    bank[rng.random(n) < 0.1] = np.nan
    return JoinTerm(bank, weight, 16.0)


def _join(db, succ, w, a, b, jc, join, metric, joins=None):
    follows = succ[a] == b
    x = (succ[a] if succ[a] >= 0 else a) if join == _kernels.JOIN_SUCCESSOR else a
    d = np.linalg.norm(db[x].astype(np.float64) - db[b], axis=-1)
    d = ((d if metric == _kernels.METRIC_SUM else d ** 2) * w).sum()
    d += 0.0 if joins is None else float(joins.cost(np.array([x]), np.array([b]))[0])
    if join == _kernels.JOIN_SUCCESSOR:
        return 0.0 if follows else d + jc
    return d + (0.0 if follows else jc)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("join", JOIN_MODES)
def test_kernel_matches_reference_on_random_lattices(seed, join):
    rng = np.random.default_rng(seed)
    T, K = int(rng.integers(2, 40)), int(rng.integers(1, 7))
    metric = METRICS[seed % 2]
    db, succ, prev, w, q, qw, full = _random_lattice(rng, T, K, missing=0.02 * (seed % 3))
    top, top_cost = _top_k(db, q, qw, K, metric)
    seg = np.zeros(T, bool)
    seg[0] = True
    seg[rng.random(T) < 0.1] = True
    lam = [0.0, 0.3, 1.0, 4.0][seed % 4]
    jc = [0.0, 5.0, 40.0][seed % 3]
    n_succ = 0 if lam == 0 else int(rng.integers(0, 2 * K + 1))
    beam = np.inf if seed < 4 else 60.0
    args = (db, succ, prev, top, top_cost, q, qw, w, seg, full, lam, jc, join, metric, n_succ, beam)
    got = _run(_kernels.viterbi_lattice, *args)
    want = _run(_viterbi_reference, *args)
    names = ["rows", "target", "score", "back", "width", "path"]
    for name, g, r in zip(names, got, want):
        if name in ("target", "score"):
            np.testing.assert_allclose(g, r, rtol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(g, r, err_msg=name)


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_reference_with_a_feature_term(seed):
    """An extra per-(frame, row) term, as a speech target's audio term: the kernel adds it to the recorded
    successors it puts in the lattice exactly as the reference does."""
    rng = np.random.default_rng(50 + seed)
    T, K = int(rng.integers(5, 40)), int(rng.integers(2, 7))
    metric = METRICS[seed % 2]
    db, succ, prev, w, q, qw, full = _random_lattice(rng, T, K)
    qw[:, :17] = 0.0  # a partial target (no jaw), so no triangle-inequality shortcut applies
    full[:] = False
    D = 5
    bank = rng.normal(size=(len(db) - 3, D)).astype(np.float32)
    pos = np.arange(len(db), dtype=np.int64)
    pos[-3:] = -1  # three frames without features
    term = FeatureTerm(rng.normal(size=(T, D)).astype(np.float32), bank, pos, beta=1.0)
    top, top_cost = _top_k(db, q, qw, 3 * K, metric)
    t = np.arange(T)
    term.scaled(t, top[:, 0], top_cost[:, 0])
    assert term.weight > 0 and term.missing > 0
    top, top_cost = rerank_with(term, top, top_cost, t)
    top, top_cost = np.ascontiguousarray(top[:, :K]), np.ascontiguousarray(top_cost[:, :K])
    seg = np.zeros(T, bool)
    seg[0] = True
    args = (db, succ, prev, top, top_cost, q, qw, w, seg, full, [0.3, 1.0, 4.0][seed % 3], 5.0, JOIN_MODES[seed % 2],
            metric, K, np.inf)
    got = _run(_kernels.viterbi_lattice, *args, fargs=term.kernel_args(t))
    want = _run(_viterbi_reference, *args, fargs=term.kernel_args(t))
    for name, g, r in zip(["rows", "target", "score", "back", "width", "path"], got, want):
        if name in ("target", "score"):
            np.testing.assert_allclose(g, r, rtol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(g, r, err_msg=name)
    # every state's target cost is its keypoint cost plus the term
    rows, target, width = got[0], got[1], got[4]
    for i in range(T):
        r = rows[i, :width[i]]
        kp = _top_k_cost(db, q[i:i + 1], qw[i:i + 1], r[None], metric)[0]
        np.testing.assert_allclose(target[i, :width[i]], kp + term.weight * term.distances(np.full(1, i), r[None])[0],
                                   rtol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_reference_with_a_join_term(seed):
    """A join term (a pose distance between a jump's two frames, rows without a pose charged a fixed cost):
    kernel and reference choose and score the same, and a heavier term makes fewer pose jumps."""
    rng = np.random.default_rng(70 + seed)
    T, K = int(rng.integers(5, 40)), int(rng.integers(2, 7))
    metric = METRICS[seed % 2]
    db, succ, prev, w, q, qw, full = _random_lattice(rng, T, K)
    top, top_cost = _top_k(db, q, qw, K, metric)
    seg = np.zeros(T, bool)
    seg[0] = True
    joins = _random_join_term(rng, len(db), [0.5, 5.0, 50.0][seed % 3])
    args = (db, succ, prev, top, top_cost, q, qw, w, seg, full, [0.3, 1.0, 4.0][seed % 3], [0.0, 5.0][seed % 2],
            JOIN_MODES[(seed // 2) % 2], metric, K, np.inf)
    got = _run(_kernels.viterbi_lattice, *args, joins=joins)
    want = _run(_viterbi_reference, *args, joins=joins)
    for name, g, r in zip(["rows", "target", "score", "back", "width", "path"], got, want):
        if name in ("target", "score"):
            np.testing.assert_allclose(g, r, rtol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(g, r, err_msg=name)
    without = _run(_kernels.viterbi_lattice, *args)
    assert not np.array_equal(got[2], without[2])  # the term is charged


def test_feature_term_rerank_and_scale():
    rng = np.random.default_rng(3)
    bank = rng.normal(size=(10, 4)).astype(np.float32)
    pos = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, -1], np.int64)
    q = bank[[2, 7]].copy()
    term = FeatureTerm(q, bank, pos, beta=2.0)
    cand = np.array([[0, 2, 9, -1], [7, 1, 3, -1]], np.int64)
    cost = np.array([[1.0, 1.1, 1.2, np.inf], [1.0, 1.0, 1.0, np.inf]])
    term.scaled(np.arange(2), cand[:, 0], cost[:, 0])
    d0 = float(((q[0] - bank[0]) ** 2).sum())
    assert term.missing == pytest.approx(np.median([d0, 0.0]), rel=1e-6)
    assert term.weight == pytest.approx(2.0 * 1.0 / term.missing, rel=1e-6)
    c2, k2 = rerank_with(term, cand, cost, np.arange(2))
    assert c2[0, 0] == 2 and c2[1, 0] == 7  # their own features: distance 0
    assert c2[0, -1] == -1 and np.isinf(k2[0, -1])
    assert k2[0, list(c2[0]).index(9)] == pytest.approx(1.2 + term.weight * term.missing)
    with pytest.raises(ParameterError):
        FeatureTerm(q, bank, pos, beta=-1.0)


def test_stable_argsort_is_numpys():
    rng = np.random.default_rng(5)
    for n in [0, 1, 2, 15, 16, 17, 31, 33, 64, 100, 257, 1000]:
        for v in (rng.normal(size=n), rng.integers(0, 4, n).astype(float), np.where(rng.random(n) < 0.3, np.inf,
                                                                                   rng.normal(size=n))):
            out, tmp = np.full(n + 2, -7, np.int64), np.zeros(n + 2, np.int64)
            _kernels._stable_argsort(np.concatenate([v, [-1.0, 5.0]]), n, out, tmp)
            np.testing.assert_array_equal(out[:n], np.argsort(v, kind="stable"))


@pytest.mark.parametrize("seed", range(8))
def test_viterbi_finds_the_brute_force_optimum(seed):
    rng = np.random.default_rng(100 + seed)
    T, K = 4, 3
    metric = METRICS[seed % 2]
    join = JOIN_MODES[(seed // 2) % 2]
    db, succ, prev, w, q, qw, full = _random_lattice(rng, T, K, n_rec=3, rec_len=6)
    top, top_cost = _top_k(db, q, qw, K, metric)
    # some inputs follow a recording, so successor chains matter
    top[1:, 0] = np.where(succ[top[:-1, 0]] >= 0, succ[top[:-1, 0]], top[1:, 0])
    top_cost = _top_k_cost(db, q, qw, top, metric)
    seg = np.zeros(T, bool)
    seg[0] = True
    lam, jc = [0.5, 2.0][seed % 2], [0.0, 20.0][(seed // 4) % 2]
    joins = _random_join_term(rng, len(db), 3.0) if seed >= 4 else None
    rows, target, score, _, width, path = _kernels.viterbi_lattice(
        (db, succ, prev, w, point_order_lips_first(w), *(joins.kernel_args() if joins else no_join_args(len(db)))),
        (top, top_cost, q, qw, seg, full), (lam, jc, join, metric, 3, np.inf), tuple(no_feature_args(T, len(db))))
    best = np.inf
    for states in itertools.product(*[range(width[t]) for t in range(T)]):
        r = [rows[t, s] for t, s in enumerate(states)]
        c = sum(target[t, s] for t, s in enumerate(states))
        c += lam * sum(_join(db, succ, w, r[t - 1], r[t], jc, join, metric, joins) for t in range(1, T))
        best = min(best, c)
    assert score[T - 1, :width[T - 1]].min() == pytest.approx(best, rel=1e-9)
    chosen = [rows[t, path[t]] for t in range(T)]
    c = sum(target[t, path[t]] for t in range(T))
    c += lam * sum(_join(db, succ, w, chosen[t - 1], chosen[t], jc, join, metric, joins) for t in range(1, T))
    assert c == pytest.approx(best, rel=1e-9)


def _top_k_cost(db, q, qw, top, metric):
    from sketchsynth.selection.search import candidate_costs_reference

    return candidate_costs_reference(db, q, qw, top, "sum" if metric == 0 else "sq")


def test_successors_join_the_lattice():
    rng = np.random.default_rng(7)
    T, K = 30, 4
    db, succ, prev, w, q, qw, full = _random_lattice(rng, T, K)
    top, top_cost = _top_k(db, q, qw, K, 0)
    seg = np.zeros(T, bool)
    seg[0] = True
    rows, _, score, _, width, _ = _kernels.viterbi_lattice(
        (db, succ, prev, w, point_order_lips_first(w), *no_join_args(len(db))), (top, top_cost, q, qw, seg, full),
        (1.0, 0.0, 0, 0, K, np.inf),
        tuple(no_feature_args(T, len(db))))
    for t in range(1, T):
        col = set(rows[t, :width[t]].tolist())
        assert set(top[t].tolist()) <= col
        best_prev = rows[t - 1, np.argsort(score[t - 1, :width[t - 1]], kind="stable")[:K]]
        assert {int(succ[r]) for r in best_prev if succ[r] >= 0} <= col
        assert len(col) == width[t]  # no duplicates


# ---------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def henan_match(henan_db, henan_split):
    """A database of henan frames 1-7820 and the per-frame match of 600 held-out frames."""
    from sketchsynth import match
    from sketchsynth.sources.load import discover, load_tracks

    held = load_tracks(discover(henan_split["heldout"]))[0]
    return henan_db, held, match(henan_db, held.keypoints[:600])


@pytest.mark.parametrize("how", ["prefilter", "exhaustive", "sq"])
def test_smooth_zero_is_the_per_frame_match(henan_match, how):
    from sketchsynth import match

    db, held, res = henan_match
    if how != "prefilter":
        res = match(db, held.keypoints[:300], metric="sq" if how == "sq" else "sum",
                    exhaustive_search=how == "exhaustive")
    d = ViterbiDecoder(smooth=0.0).decode(db, _lattice(res))
    np.testing.assert_array_equal(d.rows, res.rows)
    np.testing.assert_array_equal(d.target_cost, res.target_cost)
    via_match = match(db, res.keypoints, metric=res.metric, exhaustive_search=res.exhaustive,
                      decoder=ViterbiDecoder(smooth=0.0))
    np.testing.assert_array_equal(via_match.rows, res.rows)
    np.testing.assert_array_equal(via_match.frame_rows, res.rows)


@pytest.mark.parametrize("smooth, jump_cost", [(0.5, 0.0), (0.5, 1.5), (2.0, 0.0)])
def test_smoothing_trades_target_cost_for_fewer_jumps(henan_match, smooth, jump_cost):
    db, held, res = henan_match
    greedy = ViterbiDecoder(smooth=0.0).decode(db, _lattice(res))
    d = ViterbiDecoder(smooth=smooth, jump_cost=jump_cost).decode(db, _lattice(res))
    assert d.is_jump.sum() < greedy.is_jump.sum() / 2
    assert np.nanmean(d.target_cost) > np.nanmean(greedy.target_cost)
    # optimal for its own objective: cheaper than the greedy path under it
    lam = smooth
    g_join, _ = path_joins(db, greedy.rows, greedy.segment_start, "successor", d.params["jump_cost_abs"])
    assert d.total_cost <= np.nansum(greedy.target_cost) + lam * np.nansum(g_join) + 1e-6


def test_recording_matched_against_itself_is_the_identity(henan_match):
    db, _, _ = henan_match
    from sketchsynth import match

    rows = np.arange(2000, 2300)
    res = match(db, db.keypoints_[rows])
    d = ViterbiDecoder(smooth=1.0, jump_cost=0.5).decode(db, _lattice(res))
    np.testing.assert_array_equal(d.rows, rows)
    assert not d.is_jump.any()
    np.testing.assert_array_equal(d.join_cost[1:], 0.0)
    # zero up to float32 re-normalization of the stored frames (typical costs here are ~500)
    np.testing.assert_allclose(d.target_cost, 0.0, atol=1e-2)
    assert d.total_cost == pytest.approx(np.sum(d.target_cost))


def test_unusable_frames_split_the_sequence(henan_match):
    db, held, _ = henan_match
    from sketchsynth import match

    kp = held.keypoints[:200].copy()
    kp[50:53] = 0  # OpenPose found nobody
    res = match(db, kp)
    d = ViterbiDecoder(smooth=0.5).decode(db, _lattice(res))
    assert (d.rows[50:53] == -1).all() and np.isnan(d.target_cost[50:53]).all()
    assert d.segment_start[0] and d.segment_start[53] and d.segment_start.sum() == 2
    assert not d.is_jump[[0, 53]].any() and np.isnan(d.join_cost[[0, 53]]).all()
    st = path_stats(d.is_jump, res.usable, d.segment_start, 30.0)
    assert st["frames"] == 197 and st["runs"] == d.is_jump.sum() + 2


def test_beam_is_approximate_but_close(henan_match):
    db, _, res = henan_match
    exact = ViterbiDecoder(smooth=0.5, jump_cost=1.0).decode(db, _lattice(res))
    wide = ViterbiDecoder(smooth=0.5, jump_cost=1.0, beam=1e12).decode(db, _lattice(res))
    np.testing.assert_array_equal(wide.rows, exact.rows)
    narrow = ViterbiDecoder(smooth=0.5, jump_cost=1.0, beam=1.0).decode(db, _lattice(res))
    assert narrow.total_cost >= exact.total_cost - 1e-6
    assert narrow.total_cost <= 1.1 * exact.total_cost


def test_seam_blend_is_continuous_and_fades(henan_match):
    db, _, res = henan_match
    d = ViterbiDecoder(smooth=0.5).decode(db, _lattice(res))
    raw = blend_seams(db, d.rows, d.is_jump, 0)
    out = blend_seams(db, d.rows, d.is_jump, 4)
    succ, _ = usable_links(db)
    t = np.flatnonzero(d.is_jump)
    t = t[(np.diff(np.append(t, len(d.rows))) > 4)]  # jumps with no other jump in their blend
    assert t.size
    for j in t[:20]:
        a = d.rows[j - 1]
        cont = succ[a] if succ[a] >= 0 else a
        # at the jump the output is where the previous stream was going (plus its own leftover blend)
        left = out[j - 1] - raw[j - 1]
        assert np.abs(out[j] - (db.normalized_[cont] + left * _fade_at(j, d.is_jump))).max() < 1e-3
        np.testing.assert_allclose(out[j + 4], raw[j + 4])
    # frames far from any jump are untouched
    far = np.ones(len(d.rows), bool)
    for j in np.flatnonzero(d.is_jump):
        far[j:j + 4] = False
    np.testing.assert_array_equal(out[far], raw[far])


def _fade_at(j, is_jump):
    prev = np.flatnonzero(is_jump[:j])
    if not prev.size or j - prev[-1] > 4:
        return 0.0
    s = (j - prev[-1]) / 4
    # the leftover at j is the previous offset faded one more step than at j-1
    s0 = (j - 1 - prev[-1]) / 4
    f = lambda x: 1 - x * x * (3 - 2 * x)  # noqa: E731
    return f(s) / f(s0) if f(s0) else 0.0


@pytest.mark.parametrize("kwargs, match_", [
    ({"smooth": -0.1}, "--smooth"), ({"candidates": 0}, "--candidates"), ({"join": "nearest"}, "--join"),
    ({"jump_cost": -1}, "--jump-cost"), ({"beam": 0}, "--beam"), ({"candidates": 10**7}, "larger than the database"),
])
def test_bad_parameters(henan_match, kwargs, match_):
    db, _, res = henan_match
    with pytest.raises(ParameterError, match=match_):
        ViterbiDecoder(**kwargs).decode(db, _lattice(res))


# ---------------------------------------------------------------------------- CLI
def _cli(args):
    from click.testing import CliRunner

    from sketchsynth.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _clean_error(res, fragment):
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def example_input():
    from conftest import EXAMPLES

    return EXAMPLES / "inputs" / "henan_03001-03300"


def test_match_command_smooths_and_reports(example_db, example_input, tmp_path):
    import json

    import pandas as pd

    from sketchsynth import FrameDatabase, match
    from sketchsynth.sources.load import load_input

    out = tmp_path / "smooth"
    res = _cli(["match", example_input, "--db", example_db, "--out", out, "--seam-blend", "3"])
    assert res.exit_code == 0, res.output
    assert "Matched 300 of 300 frames" in res.output and "jumps/s" in res.output and "mean run" in res.output
    sel = pd.read_csv(out / "selection.csv")
    assert {"join_cost", "is_jump"} <= set(sel.columns) and len(sel) == 300
    assert np.isnan(sel["join_cost"][0]) and not sel["is_jump"][0]
    assert (sel["join_cost"][~sel["is_jump"]].iloc[1:] == 0).all() and (sel["join_cost"][sel["is_jump"]] > 0).all()
    summary = json.loads((out / "summary.json").read_text())["smoothing"]
    assert summary["jumps_per_s"] < summary["per_frame_jumps_per_s"] / 3
    assert len(list((out / "matched").iterdir())) == 300

    flat = tmp_path / "flat"
    assert _cli(["match", example_input, "--db", example_db, "--out", flat, "--smooth", "0"]).exit_code == 0
    db = FrameDatabase.load(example_db)
    want = match(db, load_input(example_input).keypoints).rows
    np.testing.assert_array_equal(pd.read_csv(flat / "selection.csv")["db_index"], want)


@pytest.mark.parametrize("extra", [["--filter", "one-euro"], ["--join", "method", "--beam", "2"],
                                   ["--exhaustive", "--candidates", "8", "-k", "4"]])
def test_match_command_options(example_db, example_input, tmp_path, extra):
    res = _cli(["match", example_input, "--db", example_db, "--out", tmp_path / "o", *extra])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("args, fragment", [
    (["--smooth", "-0.5"], "--smooth"),
    (["--candidates", "3001"], "larger than the database's 3000 usable frames"),
    (["--expect-weights", "lips=5"], "built with weights lips 10"),
    (["--expect-normalization", "similarity"], "built with affine normalization"),
    (["--expect-normalization", "affine:35,39,42"], "anchors [35, 40, 46]"),
    (["--seam-blend", "-1"], "--seam-blend"),
])
def test_match_command_bad_options(example_db, example_input, tmp_path, args, fragment):
    out = tmp_path / "o"
    _clean_error(_cli(["match", example_input, "--db", example_db, "--out", out, *args]), fragment)
    assert not out.exists()


def test_match_command_expectations_that_hold(example_db, example_input, tmp_path):
    res = _cli(["match", example_input, "--db", example_db, "--out", tmp_path / "o", "--expect-weights", "default",
                "--expect-normalization", "affine:35,40,46"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("n_usable", [0, 1])
def test_match_command_needs_two_usable_frames(example_db, tmp_path, n_usable):
    from conftest import EXAMPLES

    with np.load(EXAMPLES / "recordings" / "henan_00001-03000.npz") as z:
        kp = z["keypoints"][:5].copy()
    kp[n_usable:] = 0
    np.save(tmp_path / "few.npy", kp)
    out = tmp_path / "o"
    _clean_error(_cli(["match", tmp_path / "few.npy", "--db", example_db, "--out", out]), "at least 2")
    assert not out.exists()


def test_a_hole_in_the_input_frame_numbers_starts_a_segment(henan_match):
    db, held, res = henan_match
    frames = np.arange(len(res.rows))
    frames[300:] += 100  # the input itself jumps 100 frames ahead here
    d = ViterbiDecoder().decode(db, _lattice(res, frames))
    assert d.segment_start[[0, 300]].all() and d.segment_start.sum() == 2
    assert not d.is_jump[300] and np.isnan(d.join_cost[300])
    with pytest.raises(ParameterError, match="frames has shape"):
        ViterbiDecoder().decode(db, _lattice(res, frames[:10]))
