"""Audio-driven selection settings on GRID s1's validation fold (or TEST), through the library's own path.

The fold is benchmarks/speech_research.md's: sentences sorted by name, i % 8 == 7 is TEST; inside TRAIN
(j their index among TRAIN) j % 7 == 6 is the validation set and the rest is fitted. ``--eval test``
fits all of TRAIN and scores TEST (run it once, for settings chosen on validation).

The database and speech model are built once (as ``sketchsynth evaluate --drive audio`` does per fold,
with the model's defaults unless ``--model`` says otherwise); each setting then builds a target from the
same predictions (:func:`sketchsynth.stages.speech_target`), selects with
:func:`sketchsynth.stages.select` and a :class:`~sketchsynth.decode.ViterbiDecoder`, and is scored with
the evaluate command's measures (opening and width r pooled over frames, lag, jumps/s).

    python benchmarks/speech_selection_grid.py --eval val --grid "gain=1,1.75;corners=1,3;smooth=0.5,1"
    python benchmarks/speech_selection_grid.py --dump val.npz   # per-sentence series, for a closer look
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

SHARED = os.environ.get("SKETCHSYNTH_SHARED_DATA",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))


def split(tracks, which):
    tracks = sorted(tracks, key=lambda t: t.name)
    train = [t for i, t in enumerate(tracks) if i % 8 != 7]
    if which == "test":
        return train, [t for i, t in enumerate(tracks) if i % 8 == 7]
    return [t for j, t in enumerate(train) if j % 7 != 6], [t for j, t in enumerate(train) if j % 7 == 6]


def _dist(kp, pair):
    a, b = pair
    return np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=1)


def parse_grid(text):
    axes = {}
    for part in filter(None, text.split(";")):
        k, v = part.split("=")
        axes[k.strip()] = [float(x) for x in v.split(",")]
    keys = list(axes)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(axes[k] for k in keys))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", default=os.path.join(SHARED, "grid_s1", "video"))
    ap.add_argument("--eval", choices=("val", "test"), default="val")
    ap.add_argument("--grid", default="smooth=0.5",
                    help="settings: corners (multiplier of the lip corners' weight), gain (expansion of the "
                         "prediction from the mean mouth), smooth (λ), jump (jump cost), cand (Viterbi "
                         "candidates), sigma (Gaussian smoothing of the prediction, frames), jaw (jaw weight "
                         "multiplier), inner (inner-lip multiplier); unset ones take the library's defaults")
    ap.add_argument("--model", default="{}", help="SpeechModel parameters as JSON")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--dump", help="write per-sentence true / regressor / selected opening and width (npz)")
    args = ap.parse_args(argv)

    from scipy.ndimage import gaussian_filter1d

    from sketchsynth.database import FrameDatabase
    from sketchsynth.decode import ViterbiDecoder, path_joins, path_stats
    from sketchsynth.defaults import DEFAULT_AUDIO_SMOOTH, DEFAULT_CANDIDATES, DEFAULT_JUMP_COST
    from sketchsynth.io.audio import load_audio
    from sketchsynth.layout import INNER_LIP_PAIRS, LIP_CORNERS, SPEECH_POINTS
    from sketchsynth.normalize import Normalizer
    from sketchsynth.matching import prepare_input
    from sketchsynth.sources.load import discover, load_tracks
    from sketchsynth.speech.features import LogMel
    from sketchsynth.speech.metrics import best_lag, lip_width, mouth_opening, pearson
    from sketchsynth.speech_db import find_audio
    from sketchsynth.speech_model import SpeechModel
    from sketchsynth.stages import Audio, AudioFeatures, select, speech_target

    t0 = time.perf_counter()
    tracks = load_tracks(discover(args.videos), progress=True)
    fit, held = split(tracks, args.eval)
    db = FrameDatabase().build(fit)
    model = db.speech_model_ = SpeechModel(**json.loads(args.model)).fit(db)
    print(f"fit {len(fit)} sentences ({db.n_usable_} usable frames), {len(held)} held out; "
          f"{model.describe()}; {time.perf_counter() - t0:.0f} s", flush=True)
    front = LogMel(**db.audio_.info["features"])
    inputs, placed, norm_truth = [], [], []
    for h in held:
        y = load_audio(find_audio(h.kind, h.path, h.video), 16000)
        X = model.context(front.transform(y), front.times_, h.time_s)
        tn, tm, ok, _, _ = prepare_input(db, h.keypoints)
        truth = np.asarray(h.keypoints, np.float64)[ok]
        pred = model.predict(X)
        full = np.where(np.isfinite(tn), tn, 0).astype(np.float32)[ok]
        full[:, SPEECH_POINTS] = pred[ok]
        placed.append(Normalizer.inverse_transform(full, tm[ok]).astype(np.float64))
        norm_truth.append(np.asarray(tn[ok], np.float64))
        inputs.append((h, pred, AudioFeatures(X, np.asarray(h.time_s), float(h.fps),
                                                           Audio(y, 16000, h.path, h.name)),
                       ok, mouth_opening(truth), lip_width(truth)))
    print(f"predicted {len(inputs)} held-out sentences; {time.perf_counter() - t0:.0f} s", flush=True)
    to_all, tw_all = np.concatenate([i[4] for i in inputs]), np.concatenate([i[5] for i in inputs])
    print(f"regressor alone: opening_r={pearson(np.concatenate([mouth_opening(p) for p in placed]), to_all):.3f} "
          f"width_r={pearson(np.concatenate([lip_width(p) for p in placed]), tw_all):.3f}", flush=True)

    rows, dump = [], {}
    for i, (h, _, _, _, to, tw) in enumerate(inputs):
        dump[f"{h.name}/true_width"], dump[f"{h.name}/true_opening"] = tw, to
        dump[f"{h.name}/pred_width"], dump[f"{h.name}/pred_opening"] = lip_width(placed[i]), mouth_opening(placed[i])
        # the same in the database's normalized coordinates (no division: the normalization fixes the scale)
        full = np.array(norm_truth[i])
        full[:, SPEECH_POINTS] = inputs[i][1][inputs[i][3]]
        for tag, arr in (("true", norm_truth[i]), ("pred", full)):
            dump[f"{h.name}/{tag}_width_norm"] = _dist(arr, LIP_CORNERS)
            dump[f"{h.name}/{tag}_opening_norm"] = _dist(arr, INNER_LIP_PAIRS[0])
    for gi, s in enumerate(parse_grid(args.grid)):
        o_all, w_all, to_all, tw_all, jumps, n = [], [], [], [], 0, 0
        for h, pred, feats, ok, to, tw in inputs:
            p = pred if not s.get("sigma") else gaussian_filter1d(pred, s["sigma"], axis=0, mode="nearest")
            target = speech_target(db, p.astype(np.float32), feats, jaw_weight=s.get("jaw"),
                                   inner_lip_weight=s.get("inner"), corner_weight=s.get("corners"),
                                   gain=s.get("gain"))
            dec = ViterbiDecoder(smooth=s.get("smooth", DEFAULT_AUDIO_SMOOTH),
                                 jump_cost=s.get("jump", DEFAULT_JUMP_COST), candidates=int(s.get("cand", DEFAULT_CANDIDATES)))
            r = select(db, target, dec).result.rows
            shown = db.keypoints_[r].astype(np.float64)[ok]
            o_all.append(mouth_opening(shown)), w_all.append(lip_width(shown))
            if gi == 0:
                dump[f"{h.name}/sel_width"], dump[f"{h.name}/sel_opening"] = w_all[-1], o_all[-1]
                sel_n = np.asarray(db.normalized_[r], np.float64)[ok]
                dump[f"{h.name}/sel_width_norm"] = _dist(sel_n, LIP_CORNERS)
                dump[f"{h.name}/sel_opening_norm"] = _dist(sel_n, INNER_LIP_PAIRS[0])
            to_all.append(to), tw_all.append(tw)
            seg = np.zeros(len(h), bool)
            seg[0] = True
            jumps += path_stats(path_joins(db, r, seg)[1], np.ones(len(h), bool), seg, h.fps)["jumps"]
            n += int(ok.sum())
        lag, _ = best_lag(to_all, o_all, max_lag=10)
        row = {**s, "opening_r": pearson(np.concatenate(o_all), np.concatenate(to_all)),
               "width_r": pearson(np.concatenate(w_all), np.concatenate(tw_all)), "lag": int(lag),
               "jumps_per_s": jumps * 25.0 / n}
        rows.append(row)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    if args.dump:
        np.savez(args.dump, **dump)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
