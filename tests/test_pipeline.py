"""The stage protocol, Pipeline.run, the one selection core, and every built-in stage's streaming form.

Runs on the data bundled in examples/ (100 GRID s1 sentences with their tracks, 3,000 henan frames).
"""

import dataclasses
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli
from sketchsynth.pipeline.core import Pipeline, concat, split
from sketchsynth.pipeline.registry import available, make_stage
from sketchsynth.pipeline.stages import (AudioSource, KeypointSource, Normalize, Selector, SpeechFeatures,
                                         SpeechTarget, Writer)
from sketchsynth.selection.decode import ViterbiDecoder
from sketchsynth.selection.select import select

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def grid(grid_example):
    from sketchsynth.database.frame_database import FrameDatabase

    return FrameDatabase.load(grid_example["db"])


def _same(a, b, path="value"):
    """Assert two stage outputs are equal, field by field (arrays exactly, NaN where NaN)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            if f.name in ("timings", "seconds"):
                continue
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, path
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=path)
        else:
            assert (a == b).all(), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        # a stream judges the driver's identity on running statistics (targets.retarget.StreamRetarget): the
        # same decision, other figures
        running = ("identity_ratio", "scale") if path.endswith("[retarget]") else ()
        for k in a:
            if k not in ("timings", "features_s") + running:
                _same(a[k], b[k], f"{path}[{k}]")
    elif hasattr(a, "__dict__") and hasattr(a, "keypoints"):  # a Track
        for k in ("keypoints", "frames", "time_s", "n_people"):
            _same(getattr(a, k), getattr(b, k), f"{path}.{k}")
        assert a.sources == b.sources and a.name == b.name, path
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b or a is b, (path, a, b)


def _streamed(stage, x, rng):
    """The stage's streaming form fed ``x`` in pieces of random sizes; the outputs concatenated."""
    n = {"keypoints": lambda v: len(v.keypoints), "audio": lambda v: len(v.samples),
         "audio_features": lambda v: len(v.X), "target": len}.get(stage.input_kind)
    bounds = []
    if n is not None:
        size = n(x)
        bounds = np.unique(rng.integers(1, max(size, 2), size=rng.integers(1, 6)))
    stream = stage.start()
    outs = [stream.push(piece) for piece in split(stage.input_kind, x, bounds)]
    outs.append(stream.finish())
    return concat(stage.output_kind, outs)


def test_every_builtin_stage_streams_to_its_whole_array_output(grid, grid_example, tmp_path):
    """Fed the whole input in pieces of random sizes, a stage's stream gives what transform gives."""
    rng = np.random.default_rng(7)
    src = grid_example["input"]
    chain = [KeypointSource(), Normalize(), Selector(ViterbiDecoder())]
    speech = [AudioSource(), SpeechFeatures(), SpeechTarget(), Selector(ViterbiDecoder())]
    seen = set()
    for stages in (chain, speech):
        x = src
        for stage in stages:
            stage.fit(grid)
            whole = stage.transform(x)
            for _ in range(3):
                _same(whole, _streamed(stage, x, rng), type(stage).__name__)
            seen.add(type(stage).__name__)
            x = whole
    writer = Writer(tmp_path / "out", sketch_video=False).fit(grid)
    syn = _streamed(writer, x, rng)
    assert (tmp_path / "out" / "selection.csv").is_file() and syn.summary["frames"] == len(x.result.rows)
    seen.add("Writer")
    builtin = {type(make_stage(n)).__name__ for n in available() if n not in ("writer", "speak")}
    # the text stages stream in test_the_text_stages_stream_too
    assert builtin <= seen | {"TextTarget"}, builtin - seen


def test_normalize_streams_frame_by_frame(grid, grid_example):
    """Normalize's stream answers every piece at once: a live face needs no look-ahead."""
    track = KeypointSource().fit(grid).transform(grid_example["input"])
    stage = Normalize().fit(grid)
    stream = stage.start()
    first = stream.push(split("keypoints", track, [10])[0])
    assert len(first) == 10
    np.testing.assert_array_equal(first.points, stage.transform(track).points[:10])


def test_pipeline_run_starts_and_stops_at_kinds(grid, grid_example):
    pipe = Pipeline([KeypointSource(), Normalize(), Selector(ViterbiDecoder())]).fit(grid)
    target = pipe.run(grid_example["input"], upto="target")
    syn = pipe.run(target, start="target")
    assert syn.result.rows.shape == (len(target),)
    seen = []
    pipe.run(grid_example["input"], before=lambda stage, x: seen.append((stage.name, type(x).__name__)))
    assert [s for s, _ in seen] == ["keypoints", "normalize", "viterbi"]


def test_select_is_what_match_runs_and_a_lattice_can_be_decoded_again(grid, grid_example):
    """match(decoder=...) is select on the face target; select given the lattice decodes it without a search."""
    from sketchsynth.selection.lattice import build_lattice
    from sketchsynth.selection.matching import match
    from sketchsynth.targets.face import face_target

    track = KeypointSource().fit(grid).transform(grid_example["input"])
    target = face_target(grid, track)
    dec = ViterbiDecoder(smooth=0.5)
    syn = select(grid, target, dec)
    assert (match(grid, track.keypoints, decoder=dec, frames=track.frames).rows == syn.result.rows).all()
    lat = build_lattice(grid, target, candidates=dec.candidates)
    again = select(grid, target, dec, lattice=lat)
    assert (again.result.rows == syn.result.rows).all()
    per_frame = select(grid, target, ViterbiDecoder(smooth=0), lattice=lat)
    assert (per_frame.result.rows == lat.rows).all()  # λ = 0 is the per-frame match


@pytest.mark.parametrize("target", ["auto", "audio", "phones", "both"])
def test_say_every_target_on_a_database_with_speech_and_phones(grid_example, tmp_path, target):
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("pocketsphinx")
    db = tmp_path / "db"
    shutil.copytree(grid_example["db"], db)
    r = CliRunner().invoke(cli, ["fit-phones", "--db", str(db), "--transcripts", str(grid_example["align"])])
    assert r.exit_code == 0, r.output
    out = tmp_path / "say"
    r = CliRunner().invoke(cli, ["say", "bin blue at f two now", "--db", str(db), "--out", str(out),
                                 "--target", target])
    assert r.exit_code == 0, r.output
    import json

    s = json.loads((out / "summary.json").read_text())
    assert s["target"] == ("both" if target == "auto" else target)
    assert (out / "sketch.mp4").stat().st_size > 1000 and (out / "selection.csv").is_file()


def test_a_stage_named_on_the_command_line_takes_its_options(grid_example, tmp_path):
    import json

    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--drive", "audio", "--db",
                                 str(grid_example["db"]), "--out", str(out), "--stage",
                                 "speech-target:audio_weight=0.25"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["smoothing"]["audio_weight"] == 0.25 and "speech-target" in s["pipeline"]
    r = CliRunner().invoke(cli, ["match", str(grid_example["input"]), "--drive", "audio", "--db",
                                 str(grid_example["db"]), "--out", str(tmp_path / "o2"), "--stage",
                                 "speech-target:no_such_option=1"])
    assert r.exit_code == 2 and "no_such_option" in r.output


def test_the_text_stages_stream_too(grid, tmp_path):
    """Speak and TextTarget take their input whole (a text, what was said): their streams give it at finish."""
    pytest.importorskip("espeakng_loader")
    from sketchsynth.pipeline.text import Speak, TextTarget

    speak = Speak(tmp_path).fit(grid)
    whole = speak.transform("bin blue at f two now")
    streamed = _streamed(speak, "bin blue at f two now", np.random.default_rng(0))
    # espeak-ng's output varies by a few samples between calls: the same words, the same length within 1%
    assert [w[0] for w in whole.words] == [w[0] for w in streamed.words]
    assert abs(len(whole.samples16) - len(streamed.samples16)) < 0.01 * len(whole.samples16)
    target = TextTarget("audio").fit(grid)
    _same(target.transform(whole), _streamed(target, whole, np.random.default_rng(0)), "TextTarget")


def test_say_keeps_its_voice_and_starts_and_ends_at_rest(grid_example, tmp_path):
    """The TTS sound is kept in the output (videos.json names it there), and the face begins and ends with the
    mouth at rest: quiet padding around the voice, so the first and last frames are not mid-word."""
    import json

    pytest.importorskip("espeakng_loader")
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.evaluation.metrics import mouth_opening
    from sketchsynth.io.audio import load_audio

    out = tmp_path / "say"
    r = CliRunner().invoke(cli, ["say", "bin blue at f two now", "--db", str(grid_example["db"]), "--out",
                                 str(out), "--target", "audio"])
    assert r.exit_code == 0, r.output
    videos = json.loads((out / "videos.json").read_text())
    assert videos["audio"] == "speech.wav" and (out / "speech.wav").is_file()
    y = load_audio(out / "speech.wav", 16000)
    assert np.abs(y[:3200]).max() < 1e-3 and np.abs(y[-3200:]).max() < 1e-3  # 0.2 s of quiet at both ends
    db = FrameDatabase.load(grid_example["db"])
    rows = np.loadtxt(out / "selection.csv", delimiter=",", skiprows=1, usecols=1).astype(int)
    opening = mouth_opening(np.asarray(db.keypoints_[rows], np.float64))
    assert opening[:3].mean() < np.median(opening) and opening[-3:].mean() < np.median(opening)
