"""Text-driven synthesis: TTS events, forced alignment, phone sets, phone targets, `say` and `fit-phones`.

The real-data tests use GRID s1 sentences of the fixed split (GUIDE.md): a small
database of TRAIN sentences, labelled by aligning their audio, and a TEST
sentence said from its words only.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import one_line_error
from sketchsynth.cli import cli
from sketchsynth.targets.text import phones as P

N_TRAIN = 24


def grid_split(shared):
    names = sorted(p.stem for p in (shared / "grid_s1" / "video").glob("*.mp4"))
    return ([n for i, n in enumerate(names) if i % 8 != 7], [n for i, n in enumerate(names) if i % 8 == 7])


# ------------------------------------------------------------------ phone sets (no extra needed)
def test_espeak_mnemonics_map_to_arpabet():
    assert P.espeak_to_arpabet("'aU") == ["AW"]
    assert P.espeak_to_arpabet("t#") == ["T"]
    assert P.espeak_to_arpabet("dZ") == ["JH"]
    assert P.espeak_to_arpabet(",oU") == ["OW"]
    assert P.espeak_to_arpabet("e@") == ["EH", "R"]
    assert P.espeak_to_arpabet("_:") == []
    assert P.normalize_arpabet("AH0") == "AH" and P.normalize_arpabet("<sil>") == "SIL"
    assert all(p in P.VISEME for p in P.ARPABET)


def test_frame_phones_segments_and_context():
    iv = [("B", 0.0, 0.08), ("IH", 0.08, 0.2), ("N", 0.2, 0.28)]
    fp = P.FramePhones.from_ids(P.frame_labels(iv, (np.arange(9) + 0.5) * 0.04))
    names = [P.ARPABET[i] for i in fp.phone]
    assert names == ["B", "B", "IH", "IH", "IH", "N", "N", "SIL", "SIL"]
    assert P.ARPABET[fp.left[3]] == "B" and P.ARPABET[fp.right[3]] == "N"
    assert P.ARPABET[fp.left[0]] == "SIL" and list(fp.position[2:5]) == [0.0, 0.5, 1.0]
    assert list(fp.length[:3]) == [2, 2, 3]
    # a recording boundary breaks a run and its context
    br = np.zeros(9, bool)
    br[3] = True
    fb = P.FramePhones.from_ids(fp.phone, br)
    assert fb.segment[3] != fb.segment[2] and P.ARPABET[fb.left[3]] == "SIL"


def test_warp_to_words_moves_each_word_into_its_target_interval():
    ph = [("B", 0.0, 0.1), ("IH", 0.1, 0.3), ("N", 0.3, 0.4), ("T", 0.5, 0.6), ("UW", 0.6, 0.8)]
    words = [("bin", 0.0, 0.4), ("two", 0.5, 0.8)]
    target = [("bin", 1.0, 1.8), ("two", 2.0, 2.3)]
    w = P.warp_to_words(ph, words, target)
    assert [p for p, _, _ in w] == ["B", "IH", "N", "T", "UW"]
    assert w[0][1] == pytest.approx(1.0) and w[2][2] == pytest.approx(1.8)
    assert w[1][1] == pytest.approx(1.2) and w[3][1] == pytest.approx(2.0) and w[4][2] == pytest.approx(2.3)


# ------------------------------------------------------------------ TTS
def test_tts_speaks_with_timed_phones_and_words():
    pytest.importorskip("espeakng_loader")
    from sketchsynth.targets.text.tts import synthesize

    sp = synthesize("bin blue at f two now")
    assert sp.sample_rate > 8000 and 0.8 < sp.duration_s < 3.0
    assert np.abs(sp.samples).max() > 0.05
    arpa = [p for p, _, _ in P.espeak_intervals(sp.phones)]
    assert arpa[:6] == ["B", "IH", "N", "B", "L", "UW"] and arpa[-2:] == ["N", "AW"]
    starts = [s for _, s, _ in sp.phones]
    assert starts == sorted(starts) and sp.phones[-1][2] <= sp.duration_s + 1e-6
    assert [w.lower() for w, _, _ in sp.words] == "bin blue at f two now".split()
    # the speech is where the phones say: louder inside the phones than in the pause after the last one
    sr = sp.sample_rate
    first = sp.phones[0]
    inside = np.abs(sp.samples[int(first[1] * sr):int(sp.phones[-1][2] * sr)]).mean()
    assert inside > 0.01
    slower = synthesize("bin blue at f two now", rate=100)
    assert slower.duration_s > 1.4 * sp.duration_s


# ------------------------------------------------------------------ alignment on real speech
@pytest.fixture(scope="module")
def grid_sentence(shared_data):
    _, test = grid_split(shared_data)
    return test[0]


def test_forced_alignment_agrees_with_grid_word_timings(shared_data, grid_sentence):
    pytest.importorskip("pocketsphinx")
    from sketchsynth.targets.text.align import Aligner, boundary_agreement, read_audio, read_grid_align

    ref = read_grid_align(shared_data / "grid_s1" / "align" / f"{grid_sentence}.align")
    words = [w for w, _, _ in ref if w != "sil"]
    al = Aligner().align(read_audio(shared_data / "grid_s1" / "video" / f"{grid_sentence}.mp4"), words)
    assert [w for w, _, _ in al.words if w != "sil"] == words
    a = boundary_agreement(al.words, ref)
    assert a["n"] == 2 * len(words)
    assert a["mean_abs_ms"] < 60 and a["within"] >= 0.6, a
    # a wrong transcript does not align as well
    phones = [p for p, _, _ in al.phones if p != "SIL"]
    assert len(phones) >= len(words) and all(p in P.PHONE_ID for p in phones)


def test_alignment_of_synthetic_speech_needs_and_gets_wide_beams():
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("espeakng_loader")
    from sketchsynth.targets.text.align import Aligner, to_int16
    from sketchsynth.targets.text.tts import synthesize

    text = "place red by g nine soon"
    sp = synthesize(text)
    al = Aligner(wide=True).align(to_int16(sp.samples, sp.sample_rate), text.split())
    tts_words = P.words_from_phones(P.espeak_intervals(sp.phones), sp.words)
    got = [(w, s, e) for w, s, e in al.words if w != "sil"]
    assert [w for w, _, _ in got] == text.split()
    # the aligner's word starts lie near the synthesizer's own (within 80 ms on average)
    d = np.abs(np.array([s for _, s, _ in got]) - np.array([s for _, s, _ in tts_words]))
    assert d.mean() < 0.08, d


# ------------------------------------------------------------------ a small GRID database with phones
@pytest.fixture(scope="module")
def grid_db(shared_data, tmp_path_factory):
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("av")
    train, _ = grid_split(shared_data)
    root = tmp_path_factory.mktemp("grid_text")
    rec = root / "recordings"
    rec.mkdir()
    for n in train[:N_TRAIN]:
        shutil.copy(shared_data / "grid_s1" / "video" / f"{n}.mp4", rec / f"{n}.mp4")
    align = root / "align"
    align.mkdir()
    for n in train[:N_TRAIN]:
        shutil.copy(shared_data / "grid_s1" / "align" / f"{n}.align", align / f"{n}.align")
    db = root / "db"
    r = CliRunner().invoke(cli, ["build-db", str(rec), "--db", str(db)])
    assert r.exit_code == 0, r.output
    return {"db": db, "align": align}


def test_fit_phones_labels_frames_and_reports_agreement(grid_db):
    r = CliRunner().invoke(cli, ["fit-phones", "--db", str(grid_db["db"]), "--transcripts", str(grid_db["align"])])
    assert r.exit_code == 0, r.output
    assert f"Aligned {N_TRAIN} of {N_TRAIN}" in r.output and "Word boundaries vs the .align files" in r.output
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.targets.text.store import load_phones

    db = FrameDatabase.load(grid_db["db"])
    fp, labelled, meta = load_phones(db)
    assert labelled.all() and meta["agreement"]["mean_abs_ms"] < 60
    names = {P.ARPABET[i] for i in fp.phone}
    assert {"B", "IH", "N", "L", "UW", "SIL"} <= names
    # speech vs silence per frame agrees with the .align files' own word timings
    from sketchsynth.targets.text.align import read_grid_align

    agree = []
    for name, rows in db.frames_.groupby("recording", observed=True).indices.items():
        ref = [(w, s, e) for w, s, e in read_grid_align(grid_db["align"] / f"{name}.align") if w != "sil"]
        mid = db.frames_["time_s"].to_numpy()[rows] + 0.02
        speech_ref = P.frame_labels([("AA", s, e) for _, s, e in ref], mid) != P.PHONE_ID["SIL"]
        agree.append((fp.phone[rows] != P.PHONE_ID["SIL"]) == speech_ref)
    assert np.concatenate(agree).mean() > 0.9


def _mouth_r(db, rows, truth):
    from sketchsynth.evaluation.metrics import mouth_opening, pearson

    return pearson(mouth_opening(db.keypoints_[rows]), mouth_opening(truth))


def test_phone_target_follows_the_true_mouth_of_a_heldout_sentence(grid_db, shared_data, grid_sentence):
    """Phones of a held-out sentence (from aligning its audio) select frames whose mouth opening follows the
    sentence's real mouth far better than random frames do."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.text.align import Aligner, read_audio, read_grid_align
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.targets.target import Target
    from sketchsynth.targets.text.target import PhoneTarget, PhoneTerm, frame_phones

    CliRunner().invoke(cli, ["fit-phones", "--db", str(grid_db["db"]), "--transcripts", str(grid_db["align"])])
    db = FrameDatabase.load(grid_db["db"])
    video = shared_data / "grid_s1" / "video" / f"{grid_sentence}.mp4"
    truth = load_input(video).keypoints
    words = [w for w, _, _ in read_grid_align(shared_data / "grid_s1" / "align" / f"{grid_sentence}.align")
             if w != "sil"]
    al = Aligner().align(read_audio(video), words)
    target = PhoneTarget().fit(db)
    fp = frame_phones(al.phones, len(truth), 25.0)
    cand, cost = target.transform(fp)
    assert all((np.diff(c[np.isfinite(c)]) >= 0).all() for c in cost)  # best first
    T = len(truth)
    phones_only = Target(np.zeros((T, 70, 2), np.float32), np.zeros((T, 70)), np.ones(T, bool),
                         np.full(T, "", object), None, np.arange(T), np.arange(T) / 25.0, 25.0,
                         phones=PhoneTerm(target, fp, only=True))
    res = select(db, phones_only, ViterbiDecoder(smooth=0.5)).result
    assert (res.candidates == cand).all() and res.decoding.params["successors"] == 0
    r = _mouth_r(db, res.rows, truth)
    rng = np.random.default_rng(0)
    r_rand = np.mean([_mouth_r(db, rng.choice(db.usable_rows_, len(truth)), truth) for _ in range(5)])
    assert r > 0.5 and r > r_rand + 0.3, (r, r_rand)
    assert res.is_jump.sum() < len(truth) / 3  # recorded stretches, not a jump every frame


def test_add_phone_term_keeps_both_candidate_sets(grid_db, shared_data, grid_sentence):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.lattice import build_lattice
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.face import keypoint_target
    from sketchsynth.targets.text.align import Aligner, read_audio, read_grid_align
    from sketchsynth.targets.text.target import PhoneTarget, PhoneTerm, frame_phones

    CliRunner().invoke(cli, ["fit-phones", "--db", str(grid_db["db"]), "--transcripts", str(grid_db["align"])])
    db = FrameDatabase.load(grid_db["db"])
    video = shared_data / "grid_s1" / "video" / f"{grid_sentence}.mp4"
    truth = load_input(video).keypoints
    face = keypoint_target(db, truth)
    res = build_lattice(db, face, k=32)
    words = [w for w, _, _ in read_grid_align(shared_data / "grid_s1" / "align" / f"{grid_sentence}.align")
             if w != "sil"]
    fp = frame_phones(Aligner().align(read_audio(video), words).phones, len(truth), 25.0)
    target = PhoneTarget().fit(db)
    face.phones = PhoneTerm(target, fp, weight=1.0)
    both = build_lattice(db, face, k=32)
    assert not both.successors  # the kernel knows no phone term: the decoder adds no successors
    u = np.flatnonzero(res.usable)
    t = u[len(u) // 2]
    c = both.candidates[t][both.candidates[t] >= 0]
    assert set(res.candidates[t][res.candidates[t] >= 0]) <= set(c) and len(set(c)) == len(c)
    # costs are keypoint + phone cost, recomputed independently for the best candidate
    from sketchsynth.selection.search import rerank

    kc = rerank(db, face.points[[t]], face.weights[[t]], both.candidates[[t], :1], "sum")[1][0, 0]
    sub = P.FramePhones(fp.phone[[t]], fp.left[[t]], fp.right[[t]], fp.segment[[t]], fp.position[[t]],
                        fp.length[[t]])
    pc = target.frame_costs(sub, both.candidates[[t], :1])[0, 0]
    assert both.costs[t, 0] == pytest.approx(kc + pc)
    assert (np.diff(both.costs[t][np.isfinite(both.costs[t])]) >= 0).all()


def test_say_with_phone_target_writes_outputs_with_the_speech(grid_db, tmp_path):
    pytest.importorskip("espeakng_loader")
    CliRunner().invoke(cli, ["fit-phones", "--db", str(grid_db["db"]), "--transcripts", str(grid_db["align"])])
    out = tmp_path / "say"
    r = CliRunner().invoke(cli, ["say", "bin blue at f two now", "--db", str(grid_db["db"]), "--out", str(out),
                                 "--target", "phones"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["target"] == "phones" and s["speech"] == "tts"
    import pandas as pd

    sel = pd.read_csv(out / "selection.csv")
    assert len(sel) >= 25 and (sel["db_index"] >= 0).all()
    assert (out / "sketch.mp4").is_file()
    import av

    with av.open(str(out / "sketch.mp4")) as c:
        assert c.streams.audio and c.streams.video


def test_say_audio_target_uses_the_speech_model(grid_db, tmp_path):
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("librosa")
    from sketchsynth.database.frame_database import FrameDatabase

    if "speech_model.npz" not in FrameDatabase.load(grid_db["db"]).manifest_.get("files", {}):
        pytest.fail("build-db of recordings with sound should fit the speech model")
    out = tmp_path / "say_audio"
    r = CliRunner().invoke(cli, ["say", "lay green with q one again", "--db", str(grid_db["db"]), "--out", str(out),
                                 "--target", "audio"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "summary.json").read_text())["target"] == "audio"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("text, fragments", [
    ("", ["text is empty"]),
    ("  ... !", ["text is empty"]),
    ("你好世界", ["cannot speak", "cjk"]),
])
def test_say_bad_text_is_one_line(text, fragments, tmp_path):
    r = CliRunner().invoke(cli, ["say", text, "--db", str(tmp_path / "nodb")])
    one_line_error(r, *fragments)


def test_say_unknown_voice_is_one_line(grid_db, tmp_path):
    pytest.importorskip("espeakng_loader")
    r = CliRunner().invoke(cli, ["say", "bin blue", "--db", str(grid_db["db"]), "--voice", "xx-nowhere",
                                 "--out", str(tmp_path / "o")])
    one_line_error(r, "unknown voice", "xx-nowhere")
    assert not (tmp_path / "o").exists()


def test_missing_text_extra_names_it(monkeypatch, tmp_path):
    import sys

    # an entry of None in sys.modules makes "import X" raise ImportError, as if X were not installed
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    r = CliRunner().invoke(cli, ["say", "bin blue", "--db", str(tmp_path / "nodb")])
    one_line_error(r, "pip install 'sketchsynth[text]'", 'pip install -e ".[text]"', "text-to-speech")
    r = CliRunner().invoke(cli, ["fit-phones", "--db", str(tmp_path / "nodb")])
    one_line_error(r, "pip install 'sketchsynth[text]'", "forced alignment")


def test_fit_phones_without_transcripts_is_one_line(grid_db, tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["fit-phones", "--db", str(grid_db["db"]), "--transcripts", str(empty)])
    one_line_error(r, "no recording has a transcript", "--transcripts")


def test_say_and_fit_phones_have_help_with_an_example():
    for name in ("say", "fit-phones"):
        r = CliRunner().invoke(cli, [name, "--help"])
        assert r.exit_code == 0 and "Example" in r.output and "sketchsynth " + name in r.output
