"""Text-driven synthesis on held-out GRID s1 sentences (issue 12).

Fixed split (GUIDE.md): the 800 sentence names sorted, sentence i is TEST when
i % 8 == 7. The database is built from the 700 TRAIN videos and labelled with
phones by forced alignment (``sketchsynth fit-phones``, transcripts = the
``.align`` files); each TEST sentence is then *said* from its words only, and the
selected frames are compared frame by frame with the sentence's true (tracked)
mouth. So that the comparison is frame by frame, the TTS's phone events are
time-warped onto the sentence's ``.align`` word timings (each word's phones
stretched linearly into the word's interval).

Rows: the TTS's audio through the database's speech model (its audio time-warped
the same way, with a phase vocoder), with and without LLE projection onto the
database's own features; the TTS's phones as a phone target; both; the same three
for the sentence's real audio (phones from aligning it to its words: ``say
--audio``); the video-driven match of the true track (upper bound); the
mean-mouth frame and random frames (lower bounds).

Metrics, pooled over all TEST frames: Pearson r of the inner-lip opening (mean
of the ``layout.INNER_LIP_PAIRS`` distances (62-66) over the inter-ocular distance
36-45) and of the lip width (48-54 over inter-ocular), mouth LMD (points
48-67, mean distance in the true frame's pixels, the selected frames mapped
through the true frame's normalization), jumps per second.

VAL (``--split val``): the TRAIN sentences with i % 8 == 6 are said against a database of the other 600 TRAIN
sentences (its own phone labels and speech model), so settings are chosen without the TEST sentences.

Where the phones drive (``phones``, ``both`` rows) the TTS says each word in the database speaker's rhythm
(``--rhythm database``, what `say` does then: :mod:`sketchsynth.targets.text.rhythm`) or in espeak-ng's own
(``--rhythm voice``); the audio rows always read espeak-ng's own rhythm, as `say --target audio` does, its words
stretched onto the recorded timings one by one (:func:`sketchsynth.targets.text.warp.stretch_spans`).

    python benchmarks/bench_text.py [--split test|val] [--rhythm database|voice] [--db DIR] [--sentences 100]
        [--first 0] [--smooth 0.5] [--phone-weight 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
GRID = DATA / "grid_s1"


def split(which: str = "test"):
    """(database sentences, evaluated sentences): ``test`` = the 700 TRAIN / the 100 TEST; ``val`` = TRAIN's
    i % 8 == 6 sentences (100, i the index among all 800) evaluated against a database of the other 600."""
    names = sorted(p.stem for p in (GRID / "video").glob("*.mp4"))
    train = [n for i, n in enumerate(names) if i % 8 != 7]
    test = [n for i, n in enumerate(names) if i % 8 == 7]
    if which == "val":
        return [n for i, n in enumerate(names) if i % 8 not in (6, 7)], [n for i, n in enumerate(names)
                                                                          if i % 8 == 6]
    return train, test


def ensure_db(path: Path, train, other_voices: bool = True):
    """Build the TRAIN database (videos through the track cache) and its phone labels, once."""
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.pipeline.build import build_database
    from sketchsynth.targets.text.store import PHONES_FILE, label_database, save_phones

    if not (path / "manifest.json").is_file():
        rec = path.parent / (path.name + "-videos")
        rec.mkdir(parents=True, exist_ok=True)
        for n in train:
            link = rec / f"{n}.mp4"
            if not link.exists():
                link.symlink_to(GRID / "video" / f"{n}.mp4")
        build_database(rec, path=path, progress=True, other_voices=other_voices)
    db = FrameDatabase.load(path)
    if not (path / PHONES_FILE).is_file():
        ph, w, lab, rep = label_database(db, GRID / "align", progress=True)
        save_phones(db, ph, w, lab, rep, GRID / "align")
    return db


def mouth_measures(kp):
    """Inner-lip opening and lip width over the inter-ocular distance, (T,) each (speech.metrics's)."""
    from sketchsynth.evaluation.metrics import lip_width, mouth_opening

    return mouth_opening(kp), lip_width(kp)


def evaluate_rows(db, rows, truth, is_jump, fps):
    """Measures of one selection against the true track (rows -1 are skipped)."""
    from sketchsynth.database.normalize import Normalizer

    ok = (rows >= 0) & np.isfinite(truth[:, :, :2]).all(axis=(1, 2))
    _, mats, good = db.normalize(truth)
    ok &= good
    sel_kp = db.keypoints_[rows[ok]]
    op_s, wd_s = mouth_measures(sel_kp)
    op_t, wd_t = mouth_measures(truth[ok])
    drawn = Normalizer.inverse_transform(db.normalized_[rows[ok]], mats[ok])
    lmd = np.linalg.norm(drawn[:, 48:68] - truth[ok, 48:68, :2], axis=-1).mean(axis=1)
    return {"op_s": op_s, "op_t": op_t, "wd_s": wd_s, "wd_t": wd_t, "lmd": lmd,
            "jumps": int(np.asarray(is_jump)[ok].sum()) if is_jump is not None else 0, "frames": int(ok.sum()),
            "seconds": len(rows) / fps}


def pool(parts):
    from scipy.stats import pearsonr

    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("op_s", "op_t", "wd_s", "wd_t", "lmd")}
    secs = sum(p["seconds"] for p in parts)
    def r(a, b):  # undefined (None) for a constant selection, e.g. the mean-mouth frame
        return float(pearsonr(a, b)[0]) if np.ptp(a) > 0 and np.ptp(b) > 0 else None

    return {"opening_r": r(cat["op_s"], cat["op_t"]), "width_r": r(cat["wd_s"], cat["wd_t"]),
            "lmd_px": float(cat["lmd"].mean()), "jumps_per_s": sum(p["jumps"] for p in parts) / secs,
            "frames": int(sum(p["frames"] for p in parts))}


ROWS = {
    "tts_audio_nolle": "text: TTS audio -> speech model, no LLE projection",
    "tts_audio": "text: TTS audio -> speech model (its LLE blend)",
    "tts_audio_lle": "text: TTS audio -> LLE projection (blend 1) -> speech model",
    "tts_phones": "text: TTS phones -> phone target",
    "tts_both": "text: TTS audio + phones (both)",
    "tts_both_lle": "text: both, with LLE projection",
    "tts_audio_voices": "text: TTS audio -> the model for other voices",
    "tts_both_voices": "text: TTS audio through the model for other voices + phones (both)",
    "real_audio_nolle": "real audio -> speech model, no LLE projection",
    "real_audio": "real audio -> speech model (audio-driven match)",
    "real_phones": "real audio aligned to its words -> phone target (say --audio)",
    "real_both": "real audio + its aligned phones (both)",
    "video": "video-driven match of the true face (upper bound)",
    "mean": "the frame nearest the mean mouth (lower bound)",
    "random": "random database frames (lower bound)",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="the database (built there when absent; default "
                                                "~/.cache/sketchsynth/bench/grid_s1_train, _train600 for --split val)")
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="test: the 100 TEST sentences against the 700 TRAIN ones; val: 100 TRAIN sentences "
                         "(i %% 8 == 6) against the other 600, for choosing settings without looking at TEST")
    ap.add_argument("--sentences", type=int, default=100)
    ap.add_argument("--first", type=int, default=0, help="skip the first N TEST sentences (e.g. those used to "
                                                          "pick a setting)")
    ap.add_argument("--smooth", type=float, default=0.5)
    ap.add_argument("--phone-weight", type=float, default=3.0)
    ap.add_argument("--phone-mouth", type=float, default=None,
                    help="share of the phones' mouth in the both rows' target (default: say's)")
    ap.add_argument("--rhythm", choices=("database", "voice"), default="database",
                    help="the TTS's phone durations inside each word: the database speaker's (say's default) or "
                         "espeak-ng's own")
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--tuned", type=int, default=10,
                    help="also pool without the first N sentences (those a setting was picked on)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.io.audio import load_audio
    from sketchsynth.selection.matching import match
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.text.align import Aligner, read_grid_align, to_int16
    from sketchsynth.targets.text.phones import espeak_intervals, warp_to_words, words_from_phones
    from sketchsynth.pipeline.core import Pipeline
    from sketchsynth.pipeline.stages import Selector
    from sketchsynth.pipeline.text import TextTarget
    from sketchsynth.targets.text.rhythm import Lexicon
    from sketchsynth.targets.text.speak import Spoken
    from sketchsynth.targets.text.target import PhoneTarget
    from sketchsynth.targets.text.tts import synthesize
    from sketchsynth.targets.text.warp import stretch_spans, warp_audio, word_knots

    rows_wanted = [r for r in a.rows.split(",") if r]
    train, test = split(a.split)
    db_path = a.db or os.path.expanduser("~/.cache/sketchsynth/bench/grid_s1_train" +
                                         ("600" if a.split == "val" else ""))
    # the model for other voices is only read by the *_voices rows
    db = ensure_db(Path(db_path), train, other_voices=a.split == "test" or any(r.endswith("_voices")
                                                                               for r in rows_wanted))
    target = PhoneTarget().fit(db)
    lexicon = Lexicon().fit(db) if a.rhythm == "database" else None
    aligner = Aligner()
    rng = np.random.default_rng(0)
    usable = db.usable_rows_
    parts = {k: [] for k in rows_wanted}
    times = {k: 0.0 for k in rows_wanted}
    m = np.nanmean(db.normalized_[usable, 48:68], axis=0)
    mean_row = int(usable[np.argmin(np.abs(db.normalized_[usable, 48:68] - m).sum(axis=(1, 2)))])
    t_start = time.perf_counter()
    dec = ViterbiDecoder(smooth=a.smooth)
    done = 0
    for name in test[a.first:a.first + a.sentences]:
        video = GRID / "video" / f"{name}.mp4"
        truth_track = load_input(video)
        truth = truth_track.keypoints
        fps = truth_track.fps
        T = len(truth)
        dur = T / fps
        ref = [w for w in read_grid_align(GRID / "align" / f"{name}.align") if w[0] != "sil"]
        words = [w for w, _, _ in ref]
        sp = synthesize(" ".join(words))
        iv = espeak_intervals(sp.phones)
        tts_words = words_from_phones(iv, sp.words)
        if len(tts_words) != len(ref):
            print(f"{name}: TTS spoke {len(tts_words)} words for {len(ref)}; skipped", file=sys.stderr)
            continue
        done += 1
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sp.sample_rate, 16000)
        y = resample_poly(sp.samples.astype(np.float64), 16000 // g, sp.sample_rate // g).astype(np.float32)
        src, dst = word_knots(tts_words, ref, len(y) / 16000, dur)
        # the voice's own rhythm, its words laid onto the .align timings: what `say --target audio` reads
        tts_voice = Spoken(stretch_spans(y, 16000, src, dst), warp_to_words(iv, tts_words, ref), ref,
                           f"{name}-tts.wav", dur, "tts")
        tts_spoken = tts_voice
        if lexicon is not None:
            # as `say` does when phones drive: each word in the speaker's rhythm (word ends stay), then the words
            # onto the .align timings, in one time-warp (the rhythm's knots carried through the word warp)
            iv, k_src, k_dst = lexicon.retime(iv, tts_words)
            src, dst = np.r_[0.0, k_src, len(y) / 16000], np.interp(np.r_[0.0, k_dst, len(y) / 16000], src, dst)
            tts_spoken = Spoken(warp_audio(y, 16000, src, dst), warp_to_words(iv, tts_words, ref), ref,
                                f"{name}-tts.wav", dur, "tts")
        real = None
        if any(k.startswith("real") for k in rows_wanted):
            y_real = load_audio(video, 16000)[:int(round(dur * 16000))]
            al = aligner.align(to_int16(y_real, 16000), words)
            real = Spoken(np.asarray(y_real, np.float32), al.phones, al.words, f"{name}.wav", dur, "recording")
        for k in rows_wanted:
            t0 = time.perf_counter()
            if k == "video":
                mv = match(db, truth, decoder=dec)
                rows, jumps = mv.rows, mv.is_jump
            elif k == "random":
                rows, jumps = rng.choice(usable, size=T), np.ones(T, bool)
            elif k == "mean":
                rows, jumps = np.full(T, mean_row), np.zeros(T, bool)
            else:
                kind = k.split("_")[1]
                # each row reads the rhythm `say` would give its target (pipeline.text.resolve_rhythm)
                spoken = real if k.startswith("real") else tts_voice if kind == "audio" else tts_spoken
                blend = 1.0 if k.endswith("_lle") else 0.0 if k.endswith("_nolle") else None
                text = TextTarget(kind, phone_weight=a.phone_weight, lle_blend=blend, phone_target=target,
                                  voices="other" if k.endswith("_voices") else "own",
                                  **({} if a.phone_mouth is None else {"phone_mouth": a.phone_mouth}))
                syn = Pipeline([text, Selector(dec)]).fit(db).run(spoken)
                rows, jumps = syn.result.rows, syn.result.is_jump
                if len(rows) < T:
                    rows = np.r_[rows, np.full(T - len(rows), -1)]
                    jumps = np.r_[jumps, np.zeros(T - len(jumps), bool)]
                rows, jumps = rows[:T], jumps[:T]
            times[k] += time.perf_counter() - t0
            parts[k].append(evaluate_rows(db, rows, truth, jumps, fps))
    out = {k: pool(v) for k, v in parts.items() if v}
    rest = {k: pool(v[a.tuned:]) for k, v in parts.items() if len(v) > a.tuned} if a.tuned else {}
    out["_timings_s"] = {**{k: round(v, 2) for k, v in times.items()}, "total_s": time.perf_counter() - t_start,
                         "sentences": done}
    out["_params"] = {"smooth": a.smooth, "phone_weight": a.phone_weight, "rhythm": a.rhythm,
                      "phone_mouth": a.phone_mouth,
                      **target.get_params(),
                      "unit": target.unit_}
    print(f"GRID s1, {done} held-out {a.split.upper()} sentences (from #{a.first}), database = {len(train)} "
          f"TRAIN sentences{' (the others)' if a.split == 'val' else ''}, Viterbi λ={a.smooth}")
    def f(v):
        return "—" if v is None else f"{v:.3f}"

    print("| driven by | opening r | width r | LMD px | jumps/s |" +
          (f" opening r without the first {a.tuned} | width r | LMD px | jumps/s |" if rest else ""))
    print("|---|---|---|---|---|" + ("---|---|---|---|" if rest else ""))
    for k in rows_wanted:
        if k in out:
            line = f"| {ROWS[k]} |"
            for o in ([out[k]] + ([rest[k]] if k in rest else [])):
                line += f" {f(o['opening_r'])} | {f(o['width_r'])} | {o['lmd_px']:.2f} | {o['jumps_per_s']:.2f} |"
            print(line)
    print(json.dumps(out["_timings_s"]))
    if a.json:
        Path(a.json).write_text(json.dumps({**out, "_without_first": rest}, indent=1))
    return out


if __name__ == "__main__":
    main()
