"""Live closures at b/p/m: the phone model with a causal cepstral mean, and the live engine's selected mouth.

``--auc``: on GRID s1's validation sentences (sorted, the i-th with i % 8 == 6; the fixed split holds out
i % 8 == 7) the most b/p/m-like frame from 80 ms before a word's start to 120 ms after it, for words
that start with b or p against the others (AUC; the share over 0.3), with the cepstral mean centred (1.5 s either
side, the batch's), or of the past 1.5 s or 3 s (live); each sentence alone, and all of them as one stream (as live
hears a conversation).

``--live``: the live engine (look-ahead 120 ms, lag 80 ms, 20 ms chunks fed as fast as they go) on the live
benchmark's held-out sentences (``--part``: ``val`` = even positions of the sorted 100 held out, ``test`` = odd;
database and 120 ms speech model as :mod:`bench_live`) as one stream, closure off and on: opening r, width r,
jumps/s, the least opening around word onsets and the share closed (under 0.05) at b/p onsets, other onsets and in
silences (2 frames at each end of a silence left out), selected / the speaker's tracked truth; CPU.

    python benchmarks/live_closures.py --auc
    python benchmarks/live_closures.py --live --data /work/research/live --part val
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_live import load_stream, scores  # noqa: E402
from closures import DATA, align_marks, inner, least_opening  # noqa: E402


def auc(pos, neg) -> float:
    r = np.argsort(np.argsort(np.r_[pos, neg]))
    return float((r[:len(pos)].sum() - len(pos) * (len(pos) - 1) / 2) / (len(pos) * len(neg)))


def window_max(p, onset):
    return float(p[max(0, int(np.floor(onset - 2))):min(len(p), int(np.ceil(onset + 3)) + 1)].max())


def closing(model, y, times, mean):
    """Closing probability per frame at ``times`` with the cepstral mean ``mean`` ("centred" or rows of the past)."""
    from sketchsynth.database.voice_features import sliding_cmvn
    from sketchsynth.targets.speech import closure as C

    c = C.sphinx_mfcc(y)
    c = sliding_cmvn(c, 150, var_norm=False) if mean == "centred" else C.causal_mean_removed(c, int(mean))
    f = C.deltas(c)
    return model.frame_probability(f, np.clip(C.frame_rows(times, 25.0), 0, len(f) - 1))


def auc_main():
    from sketchsynth.io.audio import load_audio
    from sketchsynth.targets.speech.closure import PhonePosteriors

    grid = DATA / "grid_s1"
    names = sorted(p.stem for p in (grid / "video").glob("*.mp4"))
    val = names[6::8]
    ys = [load_audio(grid / "video" / f"{n}.mp4", 16000) for n in val]
    nf = [int(np.floor(len(y) / 16000 * 25 + 1e-9)) for y in ys]
    marks = [align_marks(grid / "align" / f"{n}.align", k) for n, k in zip(val, nf)]
    starts = np.r_[0, np.cumsum([len(y) for y in ys])] / 16000
    model = PhonePosteriors.shared()
    print(f"{len(val)} VAL sentences, b/p onsets {sum(len(m[1]) for m in marks)}, "
          f"other onsets {sum(len(m[2]) for m in marks)}")
    for label, mean in (("centred 1.5 s either side", "centred"), ("past 1.5 s", 150), ("past 3 s", 300)):
        line = f"{label}:"
        for mode in ("each sentence", "one stream"):
            if mode == "each sentence":
                P = [closing(model, y, np.arange(k) / 25.0, mean) for y, k in zip(ys, nf)]
            else:
                t = np.concatenate([s + np.arange(k) / 25.0 for s, k in zip(starts, nf)])
                P = np.split(closing(model, np.concatenate(ys), t, mean), np.cumsum(nf)[:-1])
            bp = np.array([window_max(p, o) for p, m in zip(P, marks) for o in m[1]])
            ot = np.array([window_max(p, o) for p, m in zip(P, marks) for o in m[2]])
            line += (f" {mode} AUC {auc(bp, ot):.3f} (over 0.3: b/p {100 * np.mean(bp > 0.3):.0f}%, "
                     f"others {100 * np.mean(ot > 0.3):.0f}%);")
        print(line)


def live_main(a):
    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.evaluation.metrics import mouth_opening
    from sketchsynth.live.engine import LiveEngine
    from sketchsynth.targets.speech.model_file import load_model
    from sketchsynth.targets.speech.model_store import use_model

    names = sorted(open(os.path.join(a.data, "heldout.txt")).read().split())[1 if a.part == "test" else 0::2]
    parts = [load_stream([n]) for n in names]
    y, truth = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    starts = np.r_[0, np.cumsum([len(p[1]) for p in parts])]
    db = FrameDatabase.load(os.path.join(a.data, "db_grid"))
    use_model(db, load_model(os.path.join(a.data, "models", "speech_d120.npz")))
    T = len(truth)
    sil, onsets = np.zeros(T, bool), {"b/p": [], "other": []}
    for j, n in enumerate(names):
        s, bp, ot = align_marks(DATA / "grid_s1" / "align" / n.replace(".mp4", ".align"), starts[j + 1] - starts[j])
        sil[starts[j]:starts[j + 1]] = s
        onsets["b/p"] += [starts[j] + o for o in bp]
        onsets["other"] += [starts[j] + o for o in ot]
    keep = inner(sil)
    true_o = mouth_opening(truth)
    print(f"{len(names)} {a.part} sentences, {T} frames")
    for w in (0.0, None):
        e = LiveEngine(db, lookahead_ms=120, lag_ms=80, render="none", closure_weight=w).start()
        t0 = time.process_time()
        frames = [f for i in range(0, len(y), 320) for f in e.push_audio(y[i:i + 320])] + e.finish()
        cpu = time.process_time() - t0
        rows = np.full(T, -1, np.int64)
        for f in frames[:T]:
            rows[f.index] = f.row
        o = mouth_opening(db.keypoints_[rows].astype(np.float64))
        line = f"closure {'off' if w == 0 else 'on'}: {scores(db, rows, truth)}; CPU {cpu:.1f} s for {T / 25:.0f} s"
        for kind, at in onsets.items():
            s, t = (np.array([least_opening(x, i) for i in at]) for x in (o, true_o))
            ok = np.isfinite(s) & np.isfinite(t)
            line += (f"\n  {kind} onsets {ok.sum()}: least opening {np.median(s[ok]):.3f} / {np.median(t[ok]):.3f}, "
                     f"closed {100 * np.mean(s[ok] < 0.05):.0f}% / {100 * np.mean(t[ok] < 0.05):.0f}%")
        ok = keep & np.isfinite(o) & np.isfinite(true_o)
        line += (f"\n  silences {ok.sum()}: closed {100 * np.mean(o[ok] < 0.05):.0f}% / "
                 f"{100 * np.mean(true_o[ok] < 0.05):.0f}%")
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--auc", action="store_true", help="the closing probability's AUC, centred vs causal mean")
    ap.add_argument("--live", action="store_true", help="the live engine's selected mouth, closure off and on")
    ap.add_argument("--data", default="/work/research/live", help="db_grid/, models/, heldout.txt (as bench_live)")
    ap.add_argument("--part", choices=["val", "test"], default="val")
    a = ap.parse_args()
    if a.auc:
        auc_main()
    if a.live:
        live_main(a)


if __name__ == "__main__":
    main()
