"""Audio-driven selection settings on GRID s1's validation fold (or TEST), through the library's own path.

The fold is benchmarks/speech_research.md's: sentences sorted by name, i % 8 == 7 is TEST; inside TRAIN
(j their index among TRAIN) j % 7 == 6 is the validation set and the rest is fitted. ``--eval test``
fits all of TRAIN and scores TEST (run it once, for settings chosen on validation).

The database and speech model are built once (as ``sketchsynth evaluate --drive audio`` does per fold,
with the model's defaults unless ``--model`` says otherwise); each setting then builds a target from the
same predictions (:func:`sketchsynth.pipeline.stages.speech_target`), selects with
:func:`sketchsynth.pipeline.stages.select` and a :class:`~sketchsynth.selection.decode.ViterbiDecoder`, and is scored with
the evaluate command's measures (opening and width r pooled over frames, lag, jumps/s).

    python benchmarks/speech_selection_grid.py --eval val --grid "gain=1,1.75;corners=1,3;smooth=0.5,1"
    python benchmarks/speech_selection_grid.py --dump val.npz   # per-sentence series, for a closer look
    python benchmarks/speech_selection_grid.py --grid "lle=0,0.5,1" --others ../shared/data/videos/grid
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
                         "multiplier), inner (inner-lip multiplier), audio (the audio term's relative weight), lle "
                         "(a fixed LLE blend at prediction time instead of the model's rule); unset ones take the "
                         "library's defaults")
    ap.add_argument("--model", default="{}", help="SpeechModel parameters as JSON")
    ap.add_argument("--others", default=None,
                    help="recordings of other speakers to drive the same database, scored as a second set "
                         "(e.g. ../shared/data/videos/grid: 8 GRID sentences of 8 other speakers)")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--dump", help="write per-sentence true / regressor / selected opening and width (npz)")
    args = ap.parse_args(argv)

    from scipy.ndimage import gaussian_filter1d

    from sketchsynth.database.frame_database import FrameDatabase
    from sketchsynth.selection.decode import ViterbiDecoder
    from sketchsynth.selection.joins import path_joins, path_stats
    from sketchsynth.defaults import DEFAULT_AUDIO_SMOOTH, DEFAULT_CANDIDATES, DEFAULT_JUMP_COST
    from sketchsynth.io.audio import load_audio
    from sketchsynth.layout import INNER_LIP_PAIRS, LIP_CORNERS, SPEECH_POINTS
    from sketchsynth.database.normalize import Normalizer
    from sketchsynth.targets.face import prepare_input
    from sketchsynth.sources.load import discover, load_tracks
    from sketchsynth.database.speech_features import extractor_of
    from sketchsynth.evaluation.metrics import best_lag, lip_width, mouth_opening, pearson
    from sketchsynth.database.sound import find_audio
    from sketchsynth.targets.speech.model import SpeechModel
    from sketchsynth.targets.speech.model_store import use_model
    from sketchsynth.pipeline.stages import Audio, AudioFeatures, select, speech_target

    t0 = time.perf_counter()
    tracks = load_tracks(discover(args.videos), progress=True)
    fit, held = split(tracks, args.eval)
    db = FrameDatabase().build(fit)
    model = use_model(db, SpeechModel(**json.loads(args.model)).fit(db))
    print(f"fit {len(fit)} sentences ({db.n_usable_} usable frames), {len(held)} held out; "
          f"{model.describe()}; {time.perf_counter() - t0:.0f} s", flush=True)
    sets = {"held-out": held}
    if args.others:
        own = {t.name for t in tracks}  # LipNet's samples include one of s1's own sentences (bbaf2n): not another voice
        sets["other speakers"] = [t for t in load_tracks(discover(args.others), progress=True) if t.name not in own]
    front = extractor_of(db.audio_.info["features"])

    def prepare(tracks_):
        out = []
        for h in tracks_:
            y = load_audio(find_audio(h.kind, h.path, h.video), 16000)
            X = model.context(front.transform(y), front.times_, h.time_s)
            tn, tm, ok, _, _ = prepare_input(db, h.keypoints)
            truth = np.asarray(h.keypoints, np.float64)[ok]
            feats = AudioFeatures(X, np.asarray(h.time_s), float(h.fps), Audio(y, 16000, h.path, h.name),
                                  reduced=model.reduce(X))
            out.append({"h": h, "feats": feats, "ok": ok, "tn": tn, "tm": tm, "to": mouth_opening(truth),
                        "tw": lip_width(truth)})
        return out

    inputs = {k: prepare(v) for k, v in sets.items()}
    default_blend, default_auto = model.lle_blend, model.lle_auto
    predicted = {}

    def predictions(blend):
        """Per set, per input: the predicted mouth with the fixed LLE blend ``blend`` (None: the model's own
        rule), and the regressor-alone r."""
        if blend not in predicted:
            if blend is not None:
                model.lle_blend, model.lle_auto = blend, False
            res = {}
            for k, items in inputs.items():
                preds, placed = [], []
                for it in items:
                    pred = model.predict(it["feats"].X, reduced=it["feats"].reduced)
                    full = np.where(np.isfinite(it["tn"]), it["tn"], 0).astype(np.float32)[it["ok"]]
                    full[:, SPEECH_POINTS] = pred[it["ok"]]
                    preds.append(pred)
                    placed.append(Normalizer.inverse_transform(full, it["tm"][it["ok"]]).astype(np.float64))
                to_all = np.concatenate([i["to"] for i in items])
                tw_all = np.concatenate([i["tw"] for i in items])
                print(f"[{k}] regressor alone, LLE blend {'model' if blend is None else blend}: opening_r="
                      f"{pearson(np.concatenate([mouth_opening(p) for p in placed]), to_all):.3f} width_r="
                      f"{pearson(np.concatenate([lip_width(p) for p in placed]), tw_all):.3f}", flush=True)
                res[k] = (preds, placed)
            predicted[blend] = res
            model.lle_blend, model.lle_auto = default_blend, default_auto
        return predicted[blend]

    print(f"prepared {sum(map(len, inputs.values()))} inputs; {time.perf_counter() - t0:.0f} s", flush=True)
    rows, dump = [], {}
    for gi, s in enumerate(parse_grid(args.grid)):
        preds_by_set = predictions(float(s["lle"]) if "lle" in s else None)
        for k, items in inputs.items():
            o_all, w_all, to_all, tw_all, jumps, n = [], [], [], [], 0, 0
            for it, pred, placed in zip(items, *preds_by_set[k]):
                h, ok = it["h"], it["ok"]
                p = pred if not s.get("sigma") else gaussian_filter1d(pred, s["sigma"], axis=0, mode="nearest")
                target = speech_target(db, p.astype(np.float32), it["feats"], jaw_weight=s.get("jaw"),
                                       inner_lip_weight=s.get("inner"), corner_weight=s.get("corners"),
                                       gain=s.get("gain"), audio_weight=s.get("audio"))
                dec = ViterbiDecoder(smooth=s.get("smooth", DEFAULT_AUDIO_SMOOTH),
                                     jump_cost=s.get("jump", DEFAULT_JUMP_COST),
                                     candidates=int(s.get("cand", DEFAULT_CANDIDATES)))
                r = select(db, target, dec).result.rows
                shown = db.keypoints_[r].astype(np.float64)[ok]
                o_all.append(mouth_opening(shown)), w_all.append(lip_width(shown))
                to_all.append(it["to"]), tw_all.append(it["tw"])
                if gi == 0 and k == "held-out":
                    dump[f"{h.name}/true_width"], dump[f"{h.name}/true_opening"] = it["tw"], it["to"]
                    dump[f"{h.name}/pred_width"], dump[f"{h.name}/pred_opening"] = lip_width(placed), \
                        mouth_opening(placed)
                    dump[f"{h.name}/sel_width"], dump[f"{h.name}/sel_opening"] = w_all[-1], o_all[-1]
                    # the same in the database's normalized coordinates (the normalization fixes the scale)
                    truth_n = np.asarray(it["tn"][ok], np.float64)
                    full = truth_n.copy()
                    full[:, SPEECH_POINTS] = pred[ok]
                    sel_n = np.asarray(db.normalized_[r], np.float64)[ok]
                    for tag, arr in (("true", truth_n), ("pred", full), ("sel", sel_n)):
                        dump[f"{h.name}/{tag}_width_norm"] = _dist(arr, LIP_CORNERS)
                        dump[f"{h.name}/{tag}_opening_norm"] = _dist(arr, INNER_LIP_PAIRS[0])
                seg = np.zeros(len(h), bool)
                seg[0] = True
                jumps += path_stats(path_joins(db, r, seg)[1], np.ones(len(h), bool), seg, h.fps)["jumps"]
                n += int(ok.sum())
            lag, _ = best_lag(to_all, o_all, max_lag=10)
            row = {"set": k, **s, "opening_r": pearson(np.concatenate(o_all), np.concatenate(to_all)),
                   "width_r": pearson(np.concatenate(w_all), np.concatenate(tw_all)), "lag": int(lag),
                   "jumps_per_s": jumps * 25.0 / n}
            rows.append(row)
            print(" ".join(f"{k2}={v:.3f}" if isinstance(v, float) else f"{k2}={v}" for k2, v in row.items()),
                  flush=True)
    if args.dump:
        np.savez(args.dump, **dump)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
