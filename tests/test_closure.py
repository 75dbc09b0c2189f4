"""Closing the lips at b, p and m: the phone model's reader, its probabilities on a real sentence, and the speech
target that closes the selected mouth at a known bilabial onset."""

import sys

import numpy as np
import pytest

pytest.importorskip("pocketsphinx")

from sketchsynth.errors import DependencyError, ParameterError  # noqa: E402
from sketchsynth.targets.speech import closure  # noqa: E402


def align_words(path):
    """[(word, first frame, last frame)] of a GRID .align file (units of 1/25000 s; 25 fps)."""
    out = []
    for line in path.read_text().split("\n"):
        p = line.split()
        if len(p) == 3 and p[2] != "sil":
            out.append((p[2], int(p[0]) / 1000, int(p[1]) / 1000))
    return out


@pytest.fixture(scope="module")
def sentence(grid_example):
    """The held-out sentence "bin blue at s one soon": its 16 kHz sound, frame times and word timings."""
    from sketchsynth.io.audio import load_audio

    y = load_audio(grid_example["input"], 16000)
    n = int(len(y) / 16000 * 25)
    return y, np.arange(n) / 25.0, align_words(grid_example["align"] / "bbas1s.align")


def test_the_model_reader_finds_the_base_phones():
    model = closure.PhonePosteriors.shared()
    assert len(model.names_) == 42 and {"B", "P", "M", "SIL"} <= set(model.names_)


@pytest.mark.parametrize("mdef", [None, b"BMDF\x00\x00", b"not a model"])
def test_an_unreadable_model_folder_is_one_error(tmp_path, mdef):
    from sketchsynth.io.sphinx_model import read_model

    if mdef is not None:
        (tmp_path / "mdef").write_bytes(mdef)
    with pytest.raises(DependencyError, match="reinstall pocketsphinx"):
        read_model(str(tmp_path))


def test_closing_probability_peaks_at_the_bilabial_words(sentence):
    y, times, words = sentence
    p = closure.PhonePosteriors.shared().closing_probability(y, 16000, times, 25.0)
    assert p.shape == times.shape and np.all((p >= 0) & (p <= 1))

    def near(onset):  # the most b/p/m-like frame from 2 frames before a word's start to 3 after
        return p[max(0, int(onset) - 2):int(onset) + 4].max()

    bilabial = [near(a) for w, a, _ in words if w in ("bin", "blue")]
    other = [near(a) for w, a, _ in words if w in ("at", "s", "one", "soon")]
    assert min(bilabial) > max(other)


def test_close_mouth_moves_heights_only(rng):
    mouth = rng.normal(size=(5, 37, 2)).astype(np.float32)
    closed = rng.normal(size=(37, 2)).astype(np.float32)
    s = np.array([0, 0.25, 0.5, 1, 0], np.float32)
    out = closure.close_mouth(mouth, s, closed)
    np.testing.assert_array_equal(out[..., 0], mouth[..., 0])
    np.testing.assert_allclose(out[..., 1], (1 - s[:, None]) * mouth[..., 1] + s[:, None] * closed[:, 1], atol=1e-6)


@pytest.mark.parametrize("weight,threshold", [(-0.1, 0.3), (1.5, 0.3), (1, 1.0), (np.nan, 0.3)])
def test_closure_settings_are_checked(weight, threshold):
    with pytest.raises(ParameterError):
        closure.closure_strength(np.zeros(3), weight, threshold)


def test_a_missing_pocketsphinx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    monkeypatch.setattr(closure, "_MODELS", {})
    with pytest.raises(DependencyError, match=r"sketchsynth\[speech\]"):
        closure.PhonePosteriors.shared()


def test_the_closure_lowers_the_selected_opening_at_bilabial_onsets(grid_example, sentence):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.evaluation.metrics import mouth_opening
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.targets.speech.inputs import Audio

    db = FrameDatabase.load(grid_example["db"])
    y, times, words = sentence
    feats = SpeechFeatures().fit(db).transform(Audio(y, 16000, str(grid_example["input"]), "bbas1s",
                                                     frame_times=times))
    onsets = [a for w, a, _ in words if w in ("bin", "blue")]

    def least_opening(weight):
        target = SpeechTarget(closure_weight=weight).fit(db).transform(feats)
        rows = select(db, target, ViterbiDecoder(smooth=0.6)).result.rows
        o = mouth_opening(np.asarray(db.keypoints_[rows], np.float64))
        return np.array([o[max(0, int(a) - 2):int(a) + 4].min() for a in onsets]), target

    without, plain = least_opening(0.0)
    with_closure, closing = least_opening(1.0)
    assert "closure" not in plain.report and closing.report["closure"]["frames_closing"] > 0
    assert with_closure.sum() < without.sum()


def test_a_speech_match_closes_by_default_says_so_and_can_go_without(grid_example, tmp_path):
    import json

    from click.testing import CliRunner

    from sketchsynth.cli import cli

    def match(out, *extra):
        return CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--drive", "audio", "--db",
                                        str(grid_example["db"]), "--out", str(out), *extra])

    r = match(tmp_path / "on")
    assert r.exit_code == 0, r.output
    on = json.loads((tmp_path / "on" / "summary.json").read_text())["smoothing"]["closure"]
    assert on["weight"] == closure.CLOSURE_WEIGHT and on["frames_closing"] > 0
    r = match(tmp_path / "off", "--stage", "speech-target:closure_weight=0")
    assert r.exit_code == 0, r.output
    assert "closure" not in json.loads((tmp_path / "off" / "summary.json").read_text())["smoothing"]


def test_a_speech_match_without_pocketsphinx_says_how_to_get_it(grid_example, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from conftest import one_line_error
    from sketchsynth.cli import cli

    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    monkeypatch.setattr(closure, "_MODELS", {})
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--drive", "audio", "--db",
                                 str(grid_example["db"]), "--out", str(out)])
    one_line_error(r, "sketchsynth[speech]", "closure_weight=0")
    assert not out.exists()


@pytest.mark.parametrize("chunk", [320, 77, 4000])
def test_the_streamed_closing_probability_equals_the_causal_batch(sentence, chunk):
    """Chunks in, each frame's probability out as soon as its rows and their deltas have arrived: the batch with
    the causal mean on the whole input, and not the centred one."""
    y, times, _ = sentence
    model = closure.PhonePosteriors.shared()
    causal = model.closing_probability(y, 16000, times, 25.0, causal=True)
    assert np.abs(causal - model.closing_probability(y, 16000, times, 25.0)).max() > 0.05
    s = closure.StreamingClosure(model, 25.0).start()
    ks, ps = [], []
    for a in range(0, len(y), chunk):
        k, p = s.push(y[a:a + chunk])
        # ready 76 ms after the frame's start, or as soon as the chunk that brings it has arrived
        assert np.all(min(len(y), a + chunk) <= (k / 25.0 + 0.076) * 16000 + chunk)
        ks.append(k), ps.append(p)
    ks, ps = np.concatenate(ks), np.concatenate(ps)
    assert np.array_equal(ks, np.arange(len(ks))) and len(ks) >= len(times) - 2
    rest = np.arange(len(ks), len(times))
    got = np.r_[ps, s.probability(rest)]
    np.testing.assert_allclose(got, causal, atol=1e-5)
    # causal: the first second's probabilities do not depend on what is said later
    first = model.closing_probability(y[:16000 + 1216], 16000, times[:25], 25.0, causal=True)
    np.testing.assert_allclose(first, causal[:25], atol=1e-5)


def test_the_live_engine_closes_at_the_bilabial_onsets(grid_example, sentence):
    """The sentence said twice (the causal mean has heard 3 s by the second time, as in a conversation): the live
    engine's selected mouth at the second onsets of "bin" and "blue" closes further with the closure than without,
    and the live target stage closes there (and only where its report says)."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.evaluation.metrics import mouth_opening
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget

    db = FrameDatabase.load(grid_example["db"])
    y, times, words = sentence
    y = np.pad(y, (0, -len(y) % 640))               # whole frames, so the second time's frames fall as the first's
    shift = len(y) // 640
    y = np.r_[y, y]
    onsets = [a + shift for w, a, _ in words if w in ("bin", "blue")]

    def least_opening(weight):
        e = LiveEngine(db, lookahead_ms=None, render="none", closure_weight=weight)
        frames = [f for a in range(0, len(y), 320) for f in e.push_audio(y[a:a + 320])] + e.finish()
        o = mouth_opening(np.asarray(db.keypoints_[[f.row for f in frames]], np.float64))
        return np.array([o[int(a) - 2:int(a) + 4].min() for a in onsets])

    assert least_opening(1.0).sum() < least_opening(0.0).sum()

    fs, ts = SpeechFeatures().fit(db).start(live=True), SpeechTarget().fit(db).start(live=True)
    off = SpeechTarget(closure_weight=0.0).fit(db).start(live=True)
    closing, plain, pts = 0, [], []
    for a in list(range(0, len(y), 320)) + [None]:
        f = fs.finish() if a is None else fs.push(y[a:a + 320])
        t, t0 = ts.push(f), off.push(f)
        closing += t.report["closure"]["frames_closing"]
        assert "closure" not in t0.report
        pts.append(t.points), plain.append(t0.points)
    pts, plain = np.concatenate(pts), np.concatenate(plain)
    moved = np.abs(pts - plain).max(axis=(1, 2)) > 1e-4
    assert closing == moved.sum() > 0
    assert all(moved[int(a) - 2:int(a) + 4].any() for a in onsets)
