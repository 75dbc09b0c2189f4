"""The database speaker's rhythm for a TTS voice: the lexicon of labelled words, the retiming, the time-warp."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli
from sketchsynth.targets.text import phones as P
from sketchsynth.targets.text.rhythm import Lexicon, fit_words


def _labels(words):
    """Per-frame (phone ids, words, labelled, recording) of ``[(word, [(phone, frames), ...]), ...]``."""
    ph, wd = [], []
    for w, seq in words:
        for p, n in seq:
            ph += [P.PHONE_ID[p]] * n
            wd += [w] * n
    n = len(ph)
    return np.array(ph, np.int16), np.array(wd, object), np.ones(n, bool), np.zeros(n, int)


def test_lexicon_keeps_each_words_commonest_phones_and_their_mean_shares():
    ph, wd, lab, rec = _labels([
        ("sil", [("SIL", 3)]),
        ("bin", [("B", 2), ("IH", 2), ("N", 4)]), ("sil", [("SIL", 1)]),
        ("bin", [("B", 4), ("IH", 2), ("N", 2)]), ("sil", [("SIL", 1)]),
        ("bin", [("P", 3), ("IH", 3), ("N", 3)]),  # a rarer pronunciation: not kept
        ("two", [("T", 1), ("UW", 3)]),
    ])
    lex = fit_words(ph, wd, lab, rec)
    assert set(lex) == {"bin", "two"}
    seq, shares, count = lex["bin"]
    assert seq == ("B", "IH", "N") and count == 2
    np.testing.assert_allclose(shares, [(2 / 8 + 4 / 8) / 2, 2 / 8, (4 / 8 + 2 / 8) / 2])
    assert lex["two"][0] == ("T", "UW") and np.isclose(lex["two"][1][0], 0.25)
    # a word seen once is dropped when two occurrences are asked for
    assert set(fit_words(ph, wd, lab, rec, min_count=2)) == {"bin"}
    # unlabelled frames and recording changes: a word split by a recording boundary is two words
    rec2 = rec.copy()
    rec2[np.flatnonzero(wd == "two")[2]:] = 1
    assert fit_words(ph, wd, lab, rec2)["two"][0] in (("T", "UW"), ("UW",))


def test_retime_lays_known_words_out_in_the_speakers_shares_and_gives_matching_knots():
    lex = Lexicon()
    lex.words_ = {"bin": (("B", "IH", "N"), np.array([0.5, 0.25, 0.25]), 3),
                  "at": (("AE", "T"), np.array([0.5, 0.5]), 3)}
    phones = [("B", 0.0, 0.1), ("IH", 0.1, 0.3), ("N", 0.3, 0.4),  # bin: same count -> inner knots
              ("AH", 0.4, 0.5), ("T", 0.5, 0.6), ("T", 0.6, 0.7),  # at: 3 phones vs 2 -> only its ends
              ("N", 0.7, 0.8), ("OW", 0.8, 1.0)]  # now: unknown, kept
    words = [("Bin", 0.0, 0.4), ("at", 0.4, 0.7), ("now", 0.7, 1.0)]
    out, src, dst = lex.retime(phones, words)
    assert [p for p, _, _ in out] == ["B", "IH", "N", "AE", "T", "N", "OW"]
    np.testing.assert_allclose([a for _, a, _ in out], [0.0, 0.2, 0.3, 0.4, 0.55, 0.7, 0.8])
    np.testing.assert_allclose([b for _, _, b in out][:3], [0.2, 0.3, 0.4])
    # the knots move bin's inner boundaries (0.1 -> 0.2, 0.3 -> 0.3) and keep every word end
    np.testing.assert_allclose(src, [0.0, 0.1, 0.3, 0.4, 0.4, 0.7, 0.7, 1.0])
    np.testing.assert_allclose(dst, [0.0, 0.2, 0.3, 0.4, 0.4, 0.7, 0.7, 1.0])
    assert "BIN," in lex and "now" not in lex


def _onset(y, sr, thr=0.05):
    return np.flatnonzero(np.abs(y) > thr)[0] / sr


def test_warp_audio_moves_sound_with_its_knots_keeps_pitch_and_silences_new_pauses():
    pytest.importorskip("librosa")
    from sketchsynth.targets.text.warp import warp_audio

    sr = 16000
    t = np.arange(sr) / sr
    x = np.where(t >= 0.3, 0.5 * np.sin(2 * np.pi * 220 * t), 0).astype(np.float32)
    # identity: the same sound
    y = warp_audio(x, sr, [0, 1], [0, 1])
    assert len(y) == sr and np.corrcoef(x[2000:-2000], y[2000:-2000])[0, 1] > 0.99
    # the first 0.3 s stretched to 0.6 s: the tone starts at 0.6 s, at the same pitch; the output is 1.3 s
    y = warp_audio(x, sr, [0, 0.3, 1], [0, 0.6, 1.3])
    assert len(y) == int(1.3 * sr) and abs(_onset(y, sr) - 0.6) < 0.07
    seg = y[int(0.8 * sr):int(1.2 * sr)]
    f = np.fft.rfftfreq(len(seg), 1 / sr)[np.argmax(np.abs(np.fft.rfft(seg)))]
    assert abs(f - 220) < 5
    # a pause the source did not have (an empty source span) is silent
    y = warp_audio(x, sr, [0, 0.6, 0.6, 1], [0, 0.6, 0.9, 1.3])
    assert np.abs(y[int(0.7 * sr):int(0.8 * sr)]).max() < 1e-3 and np.abs(y[int(1.0 * sr):]).max() > 0.3


def test_stretch_spans_moves_each_span_apart_and_keeps_pitch():
    pytest.importorskip("librosa")
    from sketchsynth.targets.text.warp import stretch_spans

    sr = 16000
    t = np.arange(sr) / sr
    x = np.where(t >= 0.3, 0.5 * np.sin(2 * np.pi * 220 * t), 0).astype(np.float32)
    y = stretch_spans(x, sr, [0, 0.3, 1], [0, 0.6, 1.3])
    assert len(y) == int(1.3 * sr) and abs(_onset(y, sr) - 0.6) < 0.07
    seg = y[int(0.8 * sr):int(1.2 * sr)]
    f = np.fft.rfftfreq(len(seg), 1 / sr)[np.argmax(np.abs(np.fft.rfft(seg)))]
    assert abs(f - 220) < 5


@pytest.fixture(scope="module")
def labelled_grid(grid_example, tmp_path_factory):
    """The bundled GRID database, copied, with phone labels."""
    pytest.importorskip("pocketsphinx")
    db = tmp_path_factory.mktemp("rhythm") / "db"
    shutil.copytree(grid_example["db"], db)
    r = CliRunner().invoke(cli, ["fit-phones", "--db", str(db), "--transcripts", str(grid_example["align"])])
    assert r.exit_code == 0, r.output
    return db


def test_lexicon_of_a_labelled_database_and_speaking_in_its_rhythm(labelled_grid, tmp_path):
    pytest.importorskip("espeakng_loader")
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.pipeline.text import Speak, resolve_rhythm

    db = FrameDatabase.load(labelled_grid)
    lex = Lexicon().fit(db)
    assert lex.words_["bin"][0] == ("B", "IH", "N") and lex.words_["blue"][0] == ("B", "L", "UW")
    assert all(np.isclose(s.sum(), 1) and (s > 0).all() for _, s, _ in lex.words_.values())
    assert resolve_rhythm(db, "auto", "auto") == "database" and resolve_rhythm(db, "auto", "audio") == "voice"
    # the stage's "auto" is the same rule: the speaker's rhythm only when the phones drive
    assert Speak(tmp_path, target="audio").fit(db).lexicon_ is None
    assert Speak(tmp_path, target="both").fit(db).lexicon_ is not None
    text = "bin blue at f two now"
    own = Speak(tmp_path / "a", rhythm="voice")
    said = Speak(tmp_path / "b", rhythm="database")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    v, d = own.fit(db).transform(text), said.fit(db).transform(text)
    assert own.lexicon_ is None and d.extra["rhythm"] == "database" and v.extra["rhythm"] == "voice"
    # same sound length (espeak-ng varies by a few samples between calls); the known words' phones are the
    # speaker's, at the speaker's shares of each word
    assert abs(len(d.samples16) - len(v.samples16)) < 0.01 * len(v.samples16)
    bin_ = [(p, a, b) for p, a, b in d.phones if a < 0.3 + 0.5]
    assert [p for p, _, _ in bin_[:3]] == list(lex.words_["bin"][0])
    span = bin_[2][2] - bin_[0][1]
    np.testing.assert_allclose([(b - a) / span for _, a, b in bin_[:3]], lex.words_["bin"][1], atol=1e-6)
    assert [p for p, _, _ in d.phones] != [p for p, _, _ in v.phones] or \
        not np.allclose([a for _, a, _ in d.phones], [a for _, a, _ in v.phones])


def test_say_records_its_rhythm_and_refuses_a_bad_one(labelled_grid, tmp_path):
    pytest.importorskip("espeakng_loader")
    out = tmp_path / "say"
    r = CliRunner().invoke(cli, ["say", "bin blue at f two now", "--db", str(labelled_grid), "--out", str(out),
                                 "--target", "phones"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "summary.json").read_text())["rhythm"] == "database"
    r = CliRunner().invoke(cli, ["say", "bin blue", "--db", str(labelled_grid), "--rhythm", "slow"])
    assert r.exit_code == 2 and "rhythm" in r.output


def test_phone_mouth_is_the_weighted_mean_of_the_best_candidates_and_follows_the_phones(labelled_grid):
    """The phones' own mouth: each frame's mean over its best candidates (checked against a plain loop), open for a
    vowel and closed for B/M/P."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.layout import SPEECH_POINTS
    from sketchsynth.evaluation.metrics import mouth_opening
    from sketchsynth.targets.text.target import PhoneTarget, frame_phones

    db = FrameDatabase.load(labelled_grid)
    pt = PhoneTarget().fit(db)
    said = frame_phones([("M", 0.0, 0.12), ("AA", 0.12, 0.4), ("P", 0.4, 0.52)], 15, 25.0)
    m = pt.mouth(said, top=5)
    assert m.shape == (15, len(SPEECH_POINTS), 2) and m.dtype == np.float32
    cand, cost = pt.transform(said)
    for t in (0, 5, 11):
        c, s = cand[t, :5], cost[t, :5] / pt.unit_
        w = np.exp(-(s - s.min()))
        ref = sum(wi * db.normalized_[ci][SPEECH_POINTS] for wi, ci in zip(w / w.sum(), c))
        np.testing.assert_allclose(m[t], ref, atol=1e-5)
    kp = np.zeros((15, 70, 3), np.float32)
    kp[:, SPEECH_POINTS, :2] = m
    kp[:, 36, :2] = db.normalized_[db.usable_rows_, 36].mean(axis=0)  # eye corners for the inter-ocular scale
    kp[:, 45, :2] = db.normalized_[db.usable_rows_, 45].mean(axis=0)
    opening = mouth_opening(kp)
    assert opening[5:8].mean() > 1.5 * max(opening[0:2].mean(), opening[11:14].mean()), opening
    with pytest.raises(Exception, match="top"):
        pt.mouth(said, top=0)


def test_both_target_blends_the_phones_mouth_into_the_predicted_one(labelled_grid, tmp_path):
    pytest.importorskip("espeakng_loader")
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.errors import ParameterError
    from sketchsynth.layout import SPEECH_POINTS
    from sketchsynth.pipeline.text import Speak, TextTarget
    from sketchsynth.targets.text.target import frame_phones

    db = FrameDatabase.load(labelled_grid)
    spoken = Speak(tmp_path).fit(db).transform("bin blue at f two now")
    plain = TextTarget("both", phone_mouth=0.0).fit(db).transform(spoken)
    half = TextTarget("both", phone_mouth=0.5).fit(db)
    mixed = half.transform(spoken)
    mouth = half.phone_target_.mouth(frame_phones(spoken.phones, len(mixed), plain.fps))
    np.testing.assert_allclose(mixed.points[:, SPEECH_POINTS], 0.5 * plain.points[:, SPEECH_POINTS] + 0.5 * mouth,
                               atol=1e-5)
    assert mixed.report["phone_mouth"] == 0.5 and not np.allclose(mixed.points, plain.points)
    with pytest.raises(ParameterError):
        TextTarget("both", phone_mouth=1.5).fit(db)
