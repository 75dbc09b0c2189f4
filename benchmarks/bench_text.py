"""Text-driven synthesis on held-out GRID s1 sentences (issue 12).

Fixed split (GUIDE.md): the 800 sentence names sorted, sentence i is TEST when
i % 8 == 7. The database is built from the 700 TRAIN videos and labelled with
phones by forced alignment (``sketchsynth fit-phones``, transcripts = the
``.align`` files); each TEST sentence is then *said* from its words only, and the
selected frames are compared frame by frame with the sentence's true (tracked)
mouth. So that the comparison is frame by frame, the TTS's phone events are
time-warped onto the sentence's ``.align`` word timings (each word's phones
stretched linearly into the word's interval).

Rows: phone targets from the TTS (the text path), phone targets from aligning
the sentence's real audio to its words (``say --audio``), the video-driven match
of the true track (upper bound), and per-frame / mean / random lower bounds.
Audio-driven rows (TTS audio through the speech pipeline, "both", real-audio
driving) need the speech branch's regressor (see README).

Metrics, pooled over all TEST frames: Pearson r of the inner-lip opening (mean
of the (61,67), (62,66), (63,65) distances over the inter-ocular distance
36-45) and of the lip width (48-54 over inter-ocular), mouth LMD (points
48-67, mean distance in the true frame's pixels, the selected frames mapped
through the true frame's normalization), jumps per second.

    python benchmarks/bench_text.py [--db DIR] [--sentences 100] [--smooth 0.5]
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


def split():
    names = sorted(p.stem for p in (GRID / "video").glob("*.mp4"))
    train = [n for i, n in enumerate(names) if i % 8 != 7]
    test = [n for i, n in enumerate(names) if i % 8 == 7]
    return train, test


def ensure_db(path: Path, train):
    """Build the TRAIN database (videos through the track cache) and its phone labels, once."""
    from sketchsynth.database import FrameDatabase
    from sketchsynth.text.store import PHONES_FILE, label_database, save_phones

    if not (path / "manifest.json").is_file():
        rec = path.parent / (path.name + "-videos")
        rec.mkdir(parents=True, exist_ok=True)
        for n in train:
            link = rec / f"{n}.mp4"
            if not link.exists():
                link.symlink_to(GRID / "video" / f"{n}.mp4")
        FrameDatabase().build(rec, path=path, progress=True)
    db = FrameDatabase.load(path)
    if not (path / PHONES_FILE).is_file():
        ph, w, lab, rep = label_database(db, GRID / "align", progress=True)
        save_phones(db, ph, w, lab, rep, GRID / "align")
    return db


def mouth_measures(kp):
    """Inner-lip opening and lip width over the inter-ocular distance, (T,) each."""
    from sketchsynth import layout

    kp = np.asarray(kp, np.float64)[..., :2]
    pairs = getattr(layout, "INNER_LIP_PAIRS", ((61, 67), (62, 66), (63, 65)))
    io = np.linalg.norm(kp[:, 36] - kp[:, 45], axis=-1)
    op = np.mean([np.linalg.norm(kp[:, a] - kp[:, b], axis=-1) for a, b in pairs], axis=0)
    wd = np.linalg.norm(kp[:, 48] - kp[:, 54], axis=-1)
    return op / io, wd / io


def evaluate_rows(db, rows, truth, is_jump, fps):
    """Measures of one selection against the true track (rows -1 are skipped)."""
    from sketchsynth.normalize import Normalizer

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
    return {"opening_r": float(pearsonr(cat["op_s"], cat["op_t"])[0]),
            "width_r": float(pearsonr(cat["wd_s"], cat["wd_t"])[0]),
            "lmd_px": float(cat["lmd"].mean()), "jumps_per_s": sum(p["jumps"] for p in parts) / secs,
            "frames": int(sum(p["frames"] for p in parts))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.path.expanduser("~/.cache/sketchsynth/bench/grid_s1_train"))
    ap.add_argument("--sentences", type=int, default=100)
    ap.add_argument("--smooth", type=float, default=0.5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    from sketchsynth.decode import ViterbiDecoder
    from sketchsynth.matching import match
    from sketchsynth.sources.load import load_input
    from sketchsynth.text.align import Aligner, read_audio, read_grid_align
    from sketchsynth.text.phones import espeak_intervals, warp_to_words, words_from_phones
    from sketchsynth.text.target import PhoneTarget, decode_phones, frame_phones
    from sketchsynth.text.tts import synthesize

    train, test = split()
    db = ensure_db(Path(a.db), train)
    target = PhoneTarget().fit(db)
    aligner = Aligner()
    rng = np.random.default_rng(0)
    usable = db.usable_rows_
    parts = {k: [] for k in ("tts_phones", "tts_phones_frame", "audio_phones", "video", "random", "mean")}
    times = {"tts_s": 0.0, "target_s": 0.0, "decode_s": 0.0, "align_s": 0.0}
    mean_row = None
    t_start = time.perf_counter()
    for name in test[:a.sentences]:
        truth_track = load_input(GRID / "video" / f"{name}.mp4")
        truth = truth_track.keypoints
        fps = truth_track.fps
        T = len(truth)
        ref = [w for w in read_grid_align(GRID / "align" / f"{name}.align") if w[0] != "sil"]
        words = [w for w, _, _ in ref]
        t0 = time.perf_counter()
        sp = synthesize(" ".join(words))
        iv = espeak_intervals(sp.phones)
        tts_words = words_from_phones(iv, sp.words)
        times["tts_s"] += time.perf_counter() - t0
        if len(tts_words) != len(ref):
            print(f"{name}: TTS spoke {len(tts_words)} words for {len(ref)}; skipped", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        fp = frame_phones(warp_to_words(iv, tts_words, ref), T, fps)
        cand, cost = target.transform(fp)
        t1 = time.perf_counter()
        res = decode_phones(db, cand, cost, smooth=a.smooth)
        times["target_s"] += t1 - t0
        times["decode_s"] += time.perf_counter() - t1
        parts["tts_phones"].append(evaluate_rows(db, res.rows, truth, res.is_jump, fps))
        seg = np.ones(T, bool)
        from sketchsynth.decode import path_joins

        fr = np.where(cand[:, 0] >= 0, cand[:, 0], -1)
        parts["tts_phones_frame"].append(evaluate_rows(db, fr, truth, path_joins(db, fr, np.r_[True, fr[1:] < 0] if T
                                                                                  else seg)[1], fps))
        t0 = time.perf_counter()
        al = aligner.align(read_audio(GRID / "video" / f"{name}.mp4"), words)
        times["align_s"] += time.perf_counter() - t0
        fa = frame_phones(al.phones, T, fps)
        ca, co = target.transform(fa)
        ra = decode_phones(db, ca, co, smooth=a.smooth)
        parts["audio_phones"].append(evaluate_rows(db, ra.rows, truth, ra.is_jump, fps))
        mv = match(db, truth, decoder=ViterbiDecoder(smooth=a.smooth))
        parts["video"].append(evaluate_rows(db, mv.rows, truth, mv.is_jump, fps))
        rr = rng.choice(usable, size=T)
        parts["random"].append(evaluate_rows(db, rr, truth, np.ones(T, bool), fps))
        if mean_row is None:
            m = np.nanmean(db.normalized_[usable, 48:68], axis=0)
            d = np.abs(db.normalized_[usable, 48:68] - m).sum(axis=(1, 2))
            mean_row = int(usable[np.argmin(d)])
        parts["mean"].append(evaluate_rows(db, np.full(T, mean_row), truth, np.zeros(T, bool), fps))
    out = {k: pool(v) for k, v in parts.items() if v}
    out["_timings_s"] = {**times, "total_s": time.perf_counter() - t_start, "sentences": len(parts["tts_phones"])}
    out["_params"] = {"smooth": a.smooth, **target.get_params(), "unit": target.unit_}
    labels = {"tts_phones": f"text -> TTS phones (warped onto .align words) -> phone target, Viterbi λ={a.smooth}",
              "tts_phones_frame": "same, best candidate per frame (no decoder)",
              "audio_phones": f"real audio aligned to its words -> phone target, Viterbi λ={a.smooth}",
              "video": f"video-driven match of the true track, λ={a.smooth} (upper bound)",
              "random": "random database frames (lower bound)",
              "mean": "the database frame nearest the mean mouth (lower bound)"}
    print("| rows | opening r | width r | LMD px | jumps/s |")
    print("|---|---|---|---|---|")
    for k, lab in labels.items():
        if k in out:
            o = out[k]
            print(f"| {lab} | {o['opening_r']:.3f} | {o['width_r']:.3f} | {o['lmd_px']:.2f} | {o['jumps_per_s']:.2f} |")
    print(json.dumps(out["_timings_s"]))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
