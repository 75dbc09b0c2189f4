"""The approximate (IVF) prefilter on the real henan take: agreement, the disk cache, the exact paths it keeps."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth import FrameDatabase, match
from sketchsynth.cli import cli
from sketchsynth.selection.matching import agreement
from sketchsynth.selection.exhaustive import exhaustive_reference
from sketchsynth.selection.ivf import IVFSearch, forget_ivf, ivf_cache_dir

# The henan database part has 7,820 frames; the default threshold (20,000) would keep it on the flat
# index, so these tests lower it to reach the IVF without building a 75k-frame database.
LOW = IVFSearch(min_frames=5000)


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path, henan_db):
    """A private, empty IVF cache for every test (never ~/.cache) and nothing held in memory."""
    monkeypatch.setenv("SKETCHSYNTH_CACHE", str(tmp_path / "cache"))
    forget_ivf(henan_db)
    yield tmp_path / "cache"
    forget_ivf(henan_db)


def _top_overlap(a, b, n=32):
    return np.mean([len(np.intersect1d(x[:n][x[:n] >= 0], y[:n])) / n for x, y in zip(a, b)])


def test_ivf_agrees_with_exhaustive_on_heldout_frames(henan_db, heldout):
    fast = match(henan_db, heldout.keypoints, metric="sum", ivf=LOW)
    exact = match(henan_db, heldout.keypoints, metric="sum", exhaustive_search=True, search="exact")
    flat = match(henan_db, heldout.keypoints, metric="sum", search="exact")
    assert fast.search == "ivf" and fast.search_info["ivf_frames"] == len(heldout.keypoints)
    same = agreement(fast.rows, fast.target_cost, exact.rows, exact.target_cost)
    overlap = _top_overlap(fast.candidates, flat.candidates)
    print(f"\nIVF (nprobe {fast.search_info['nprobe']} of {fast.search_info['nlist']}) agrees with the exhaustive "
          f"search on {same.mean():.2%} of {len(same)} held-out frames; top-32 overlap with the flat search "
          f"{overlap:.2%}")
    assert same.mean() >= 0.995
    assert overlap >= 0.98
    assert (exact.target_cost <= fast.target_cost + 1e-9).all()


def test_auto_keeps_the_flat_index_below_min_frames(henan_db, heldout):
    res = match(henan_db, heldout.keypoints[:30])  # default threshold: 20,000 usable frames
    assert res.search == "exact" and res.search_info["flat_frames"] == 30
    assert "ivf_index_s" not in res.timings


@pytest.mark.parametrize("metric", ["sum", "sq"])
def test_search_exact_equals_the_flat_index(henan_db, heldout, metric):
    """--search exact on a database where auto would take the IVF: FAISS's flat top-K, re-ranked."""
    from sketchsynth.selection.search import rerank
    from sketchsynth.database.index_vectors import weighted_vectors

    kp = heldout.keypoints[::30]
    res = match(henan_db, kp, metric=metric, k=64, search="exact", ivf=LOW)
    assert res.search == "exact"
    _, ids = henan_db.index_.search(weighted_vectors(res.normalized, henan_db.weights_), 64)
    cand, cost = rerank(henan_db, res.normalized, res.qweights, ids, metric)
    np.testing.assert_array_equal(res.candidates, cand)
    np.testing.assert_array_equal(res.candidate_costs, cost)
    if metric == "sq":  # the flat index is exact for the squared metric
        rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, res.normalized,
                                           res.qweights, "sq")
        np.testing.assert_allclose(res.target_cost, costs, rtol=1e-6)


def test_frames_with_missing_points_are_searched_exactly(henan_db, heldout):
    kp = heldout.keypoints[:40].copy()
    kp[::2, 60:68] = 0  # inner lips missing in every other frame
    res = match(henan_db, kp, metric="sq", k=16, search="ivf", ivf=LOW)
    assert res.search_info["column_slice_frames"] == 20 and res.search_info["ivf_frames"] == 20
    rows, costs = exhaustive_reference(henan_db.normalized_, henan_db.usable_rows_, res.normalized, res.qweights,
                                       "sq")
    np.testing.assert_allclose(res.target_cost[::2], costs[::2], rtol=1e-6)  # exact where points are missing
    assert (res.qweights[::2, 60:68] == 0).all()


def test_frames_whose_cells_hold_fewer_than_k_frames_fall_back_to_the_flat_index(henan_db, heldout):
    kp = heldout.keypoints[::300]
    few = IVFSearch(nprobe=1, min_frames=0)  # one cell of ~40 frames cannot give 500 candidates
    res = match(henan_db, kp, k=500, ivf=few)
    flat = match(henan_db, kp, k=500, search="exact")
    assert res.search == "ivf" and res.search_info["flat_frames"] == len(kp) and res.search_info["ivf_frames"] == 0
    np.testing.assert_array_equal(res.candidates, flat.candidates)
    assert (res.candidates >= 0).all()


def test_second_match_loads_the_cached_index(henan_db, heldout, cache):
    kp = heldout.keypoints[:200]
    first = match(henan_db, kp, ivf=LOW)
    assert first.search_info["index"] == "built"
    files = list((cache / "ivf").glob("ivf-*.npz"))
    assert [str(f) for f in files] == [first.search_info["cache_file"]]
    assert not list((cache / "ivf").glob(".*.tmp"))  # written atomically, nothing left over
    again = match(henan_db, kp, ivf=LOW)
    assert again.search_info["index"] == "memory"
    forget_ivf(henan_db)  # as a new process would: only the disk cache
    loaded = match(henan_db, kp, ivf=LOW)
    assert loaded.search_info["index"] == "cache"
    for r in (again, loaded):
        np.testing.assert_array_equal(r.candidates, first.candidates)
    # nprobe is a search-time setting: same training, same cache file
    assert match(henan_db, kp, ivf=IVFSearch(nprobe=4, min_frames=0)).search_info["index"] == "memory"


def test_a_reloaded_database_finds_the_cache(henan_db, heldout, tmp_path):
    """The key is the manifest's index.faiss checksum: the saved and reloaded database shares the entry."""
    match(henan_db, heldout.keypoints[:20], ivf=LOW)
    henan_db.save(tmp_path / "db")
    again = FrameDatabase.load(tmp_path / "db")
    res = match(again, heldout.keypoints[:20], ivf=LOW)
    assert res.search_info["index"] == "cache"


def _garbage(f):
    f.write_bytes(b"not an npz file")


def _truncated(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _flipped(f):
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip inside the stored arrays: the zip CRC catches it
    f.write_bytes(bytes(data))


def _other_training(f):
    with np.load(f) as z:
        meta = json.loads(str(z["meta"]))
        meta["niter"] += 1
        np.savez(f, centroids=z["centroids"], assign=z["assign"], meta=np.array(json.dumps(meta)))


def _cells_out_of_range(f):
    with np.load(f) as z:
        assign = z["assign"].copy()
        assign[0] = 10_000
        np.savez(f, centroids=z["centroids"], assign=assign, meta=z["meta"])


@pytest.mark.parametrize("damage", [_garbage, _truncated, _flipped, _other_training, _cells_out_of_range])
def test_a_damaged_cache_file_is_rebuilt(henan_db, heldout, damage, capfd):
    kp = heldout.keypoints[:200]
    first = match(henan_db, kp, ivf=LOW)
    f = first.search_info["cache_file"]
    forget_ivf(henan_db)
    from pathlib import Path

    damage(Path(f))
    capfd.readouterr()
    res = match(henan_db, kp, ivf=LOW)
    err = capfd.readouterr().err
    assert res.search_info["index"] == "built"
    assert len(err.strip().splitlines()) == 1 and "trained it again" in err and f in err
    np.testing.assert_array_equal(res.candidates, first.candidates)
    forget_ivf(henan_db)
    assert match(henan_db, kp, ivf=LOW).search_info["index"] == "cache"  # rewritten, good again


def test_an_unwritable_cache_never_fails_the_match(henan_db, heldout, tmp_path, monkeypatch, capfd):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SKETCHSYNTH_CACHE", str(blocker))
    kp = heldout.keypoints[:100]
    capfd.readouterr()
    first = match(henan_db, kp, ivf=LOW)
    forget_ivf(henan_db)
    second = match(henan_db, kp, ivf=LOW)
    err = capfd.readouterr().err
    assert first.search_info["index"] == second.search_info["index"] == "built"
    assert len(err.strip().splitlines()) == 1 and "cannot write the IVF cache" in err  # warned once
    np.testing.assert_array_equal(first.candidates, second.candidates)


def test_a_folder_in_place_of_the_cache_file_never_fails_the_match(henan_db, heldout, capfd):
    path = IVFSearch().cache_file(henan_db)
    path.mkdir(parents=True)  # unreadable as a file, and cannot be replaced by one
    capfd.readouterr()
    res = match(henan_db, heldout.keypoints[:50], ivf=LOW)
    err = capfd.readouterr().err
    assert res.search == "ivf" and res.search_info["index"] == "built"
    assert len(err.strip().splitlines()) == 1 and "unreadable" in err and "cannot write" in err
    assert not list(path.parent.glob(".*.tmp"))


def test_training_is_deterministic(henan_db, heldout, tmp_path, monkeypatch):
    arrays = []
    for name in ("a", "b"):
        monkeypatch.setenv("SKETCHSYNTH_CACHE", str(tmp_path / name))
        forget_ivf(henan_db)
        res = match(henan_db, heldout.keypoints[:10], ivf=LOW)
        assert res.search_info["index"] == "built"
        with np.load(res.search_info["cache_file"]) as z:
            arrays.append({k: z[k] for k in z.files})
    for k in arrays[0]:
        np.testing.assert_array_equal(arrays[0][k], arrays[1][k])


def test_cache_key_follows_the_training_parameters(henan_db):
    base = IVFSearch().cache_file(henan_db)
    assert base.parent == ivf_cache_dir()
    assert IVFSearch(nprobe=64).cache_file(henan_db) == base
    assert IVFSearch(nlist=64).cache_file(henan_db) != base
    assert IVFSearch(seed=7).cache_file(henan_db) != base


def test_database_without_a_checksum_is_keyed_by_its_vectors(henan_db, heldout, monkeypatch):
    with_manifest = IVFSearch().cache_file(henan_db)
    monkeypatch.delattr(henan_db, "manifest_")
    assert IVFSearch().cache_file(henan_db) != with_manifest
    first = match(henan_db, heldout.keypoints[:10], ivf=LOW)
    forget_ivf(henan_db)
    again = match(henan_db, heldout.keypoints[:10], ivf=LOW)
    assert first.search_info["index"] == "built" and again.search_info["index"] == "cache"
    assert again.search_info["cache_file"] == first.search_info["cache_file"]


@pytest.mark.parametrize("bad", [{"nprobe": 0}, {"nlist": 0}, {"nprobe": 2.5}, {"min_frames": -1},
                                 {"nprobe": "16"}, {"niter": float("nan")}])
def test_bad_ivf_parameters(henan_db, heldout, bad):
    from sketchsynth.errors import ParameterError

    with pytest.raises(ParameterError, match="must be a whole number"):
        match(henan_db, heldout.keypoints[:5], ivf=IVFSearch(**bad))


def test_unknown_search(henan_db, heldout):
    from sketchsynth.errors import ParameterError

    with pytest.raises(ParameterError, match="--search must be one of auto, exact, ivf"):
        match(henan_db, heldout.keypoints[:5], search="hnsw")


def test_cli_search_options_and_summary(example_db, tmp_path):
    from conftest import EXAMPLES

    runner = CliRunner()
    inp = EXAMPLES / "inputs" / "henan_03001-03300"
    outs = {}
    for search in ("exact", "ivf"):
        out = tmp_path / search
        r = runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(out), "--search", search,
                                "--nprobe", "8"])
        assert r.exit_code == 0, r.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["search"] == search
        outs[search] = summary
    assert "IVF (nprobe 8 of 75" in r.output  # 3,000 frames: 75 cells of 40 training frames
    info = outs["ivf"]["search_info"]
    assert info["ivf_frames"] > 250 and info["ivf_frames"] + info["flat_frames"] == 300  # few cells: some fall back
    assert outs["exact"]["search_info"]["flat_frames"] == 300
    auto = tmp_path / "auto"
    assert runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(auto)]).exit_code == 0
    assert json.loads((auto / "summary.json").read_text())["search"] == "exact"  # 3,000 frames: below 20,000
    bad = runner.invoke(cli, ["match", str(inp), "--db", str(example_db), "--out", str(tmp_path / "x"),
                              "--nprobe", "0"])
    assert bad.exit_code == 2 and "--nprobe must be a whole number >= 1" in bad.output
    assert not (tmp_path / "x").exists()
