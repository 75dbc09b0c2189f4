"""Closures: do the selected frames close the lips where the speech does (silences, and words that start with b/p)?

Own voice: GRID s1's fixed held-out sentences (sorted names, every 8th from the 8th) driving a database of the 700
others; their word timings (``align/``) give the silences and the words that start with a bilabial (GRID's bin,
blue, place, please, put, by and the letters b and p). Other voices: the GRID speakers of
``benchmarks/voices/drivers.txt`` (no word timings: a silence is a frame whose sound lies 30 dB under the clip's
loudest tenth). The truth is each driver's own tracked face.

Per frame, the inner-lip opening (62-66 over the inter-ocular distance) of the selected database frame and of the
driver's face. Printed per driver group: silence frames (their first and last 2 frames left out: the lips move
there), their median opening (selected / truth), the share closed (opening under ``--closed``); word onsets, the
least opening from 80 ms before the word's start to 120 ms after it -- its median and the share closed -- for the
words that start with a bilabial and, beside them, for the others.

Also the own voice's opening r and width r (Pearson, frames pooled) of the selected frames against the truth.

    python benchmarks/closures.py --db DB [--closed 0.05] [--closure-weight 0]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
BILABIAL_WORDS = {"bin", "blue", "place", "please", "put", "by", "b", "p"}
FPS = 25.0


def selected_and_truth(db, path, closure_weight=None, widths=None):
    """(selected opening (n,), truth opening (n,), the sound (16 kHz)) of one driver clip; appends the (selected,
    truth) lip widths to ``widths``."""
    from sketchsynth.evaluation.metrics import lip_width, mouth_opening
    from sketchsynth.io.audio import load_audio
    from sketchsynth.pipeline.stages import SpeechFeatures, SpeechTarget
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.select import select
    from sketchsynth.sources.load import load_input
    from sketchsynth.targets.speech.inputs import Audio

    kp = np.asarray(load_input(path).keypoints, np.float64)
    truth = mouth_opening(kp)
    y = load_audio(path, 16000)
    times = np.arange(len(truth)) / FPS
    feats = SpeechFeatures().fit(db).transform(Audio(y, 16000, str(path), Path(path).stem, frame_times=times))
    target = SpeechTarget(closure_weight=closure_weight).fit(db).transform(feats)
    rows = select(db, target, ViterbiDecoder(smooth=0.6)).result.rows
    sel = np.asarray(db.keypoints_[np.maximum(rows, 0)], np.float64)
    shown = mouth_opening(sel)
    shown[rows < 0] = np.nan
    if widths is not None:
        widths.append((np.where(rows < 0, np.nan, lip_width(sel)), lip_width(kp)))
    return shown, truth, y


def inner(mask: np.ndarray, trim: int = 2) -> np.ndarray:
    """``mask`` without the first and last ``trim`` frames of each run."""
    out = mask.copy()
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        out[a:min(b, a + trim)] = False
        out[max(a, b - trim):b] = False
    return out


def align_marks(align: Path, n: int):
    """(silence mask (n,), onset frames of the words starting with a bilabial, of the other words) from a GRID
    .align file (units of 1/25000 s)."""
    sil, bilabial, other = np.zeros(n, bool), [], []
    for line in align.read_text().split("\n"):
        parts = line.split()
        if len(parts) != 3:
            continue
        a, b = int(parts[0]) / 1000, int(parts[1]) / 1000         # video frames
        if parts[2] == "sil":
            sil[int(np.ceil(a)):int(np.floor(b))] = True
        else:
            (bilabial if parts[2] in BILABIAL_WORDS else other).append(a)
    return sil, bilabial, other


def least_opening(opening: np.ndarray, onset: float) -> float:
    """The least opening from 2 frames before ``onset`` (frames) to 3 after it."""
    return float(np.nanmin(opening[max(0, int(np.floor(onset - 2))):min(len(opening), int(np.ceil(onset + 3)) + 1)]))


def energy_silence(y: np.ndarray, n: int) -> np.ndarray:
    """Frames whose sound lies 30 dB under the clip's loudest tenth, (n,) bool."""
    hop = int(16000 / FPS)
    e = np.array([10 * np.log10(1e-10 + np.mean(y[k * hop:(k + 1) * hop] ** 2)) for k in range(n)])
    return e < np.percentile(e, 90) - 30


def summary(name, pairs, onsets, closed):
    """One line: silence frames, and each kind of word onset, selected / truth."""
    s, t = (np.concatenate([p[i] for p in pairs]) for i in (0, 1))
    ok = np.isfinite(s) & np.isfinite(t)
    s, t = s[ok], t[ok]
    line = (f"{name}: silence frames {len(s)}: median opening selected {np.median(s):.3f} / truth {np.median(t):.3f}, "
            f"closed {100 * np.mean(s < closed):.0f}% / {100 * np.mean(t < closed):.0f}%")
    for kind, o in onsets.items():
        o = np.array(o, np.float64).reshape(-1, 2)
        o = o[np.isfinite(o).all(axis=1)]
        line += (f"; {kind} onsets {len(o)}: least opening {np.median(o[:, 0]):.3f} / {np.median(o[:, 1]):.3f}, "
                 f"closed {100 * np.mean(o[:, 0] < closed):.0f}% / {100 * np.mean(o[:, 1] < closed):.0f}%")
    print(line)


def pooled_r(pairs) -> float:
    """Pearson r of (selected, truth) series, frames pooled, NaN frames skipped."""
    s, t = (np.concatenate([p[i] for p in pairs]) for i in (0, 1))
    ok = np.isfinite(s) & np.isfinite(t)
    return float(np.corrcoef(s[ok], t[ok])[0, 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="a database of the 700 GRID s1 training sentences")
    ap.add_argument("--closed", type=float, default=0.05, help="opening under which the lips count as closed")
    ap.add_argument("--closure-weight", type=float, default=None,
                    help="the speech target's closure weight (default: the package's; 0 = no closing at b/p/m)")
    a = ap.parse_args()
    from sketchsynth.database.frame_database import FrameDatabase

    db = FrameDatabase.load(a.db)
    grid = DATA / "grid_s1"
    names = sorted(p.stem for p in (grid / "video").glob("*.mp4"))[7::8]
    pairs, onsets, series, widths = [], {"bilabial": [], "other word": []}, [], []
    for name in names:
        shown, truth, _ = selected_and_truth(db, grid / "video" / f"{name}.mp4", a.closure_weight, widths)
        series.append((shown, truth))
        sil, bilabial, other = align_marks(grid / "align" / f"{name}.align", len(truth))
        keep = inner(sil)
        pairs.append((shown[keep], truth[keep]))
        for kind, starts in (("bilabial", bilabial), ("other word", other)):
            onsets[kind] += [(least_opening(shown, a), least_opening(truth, a)) for a in starts]
    summary(f"own voice ({len(names)} held-out GRID s1 sentences)", pairs, onsets, a.closed)
    print(f"own voice: opening r {pooled_r(series):.3f}, width r {pooled_r(widths):.3f}")
    here = Path(__file__).resolve().parent / "voices"
    others = [(here / p.split()[1]).resolve() for p in (here / "drivers.txt").read_text().split("\n")
              if p.startswith("grid ")]
    pairs = []
    for path in others:
        shown, truth, y = selected_and_truth(db, path, a.closure_weight)
        keep = inner(energy_silence(y, len(truth)))
        pairs.append((shown[keep], truth[keep]))
    summary(f"other GRID speakers ({len(others)} clips, silence by energy)", pairs, {}, a.closed)


if __name__ == "__main__":
    main()
