"""Drive the GRID s1 database by other people's sound; score the selected frames against their own mouths.

    PYTHONPATH=/work/proto:. nice -n 10 python eval_drivers.py --front CONFIG [--calib] --set VAL [--tag NAME]

CONFIG names a front end in CONFIGS below ("baseline" = the frozen database model, log-mel). Writes
results/<tag>_<set>.json with per-clip and pooled figures:
  r      Pearson r of the selected frames' inner-lip opening (62-66 / inter-ocular, the selected database
         frame's own pixels) with the driver's own tracked opening, each clip's mean removed, pooled;
  ratio  per clip std(selected opening) / std(driver opening); median over clips;
  r_reg  the same r for the regressor's prediction (normalized units) -- no selection.
"""
import argparse
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
import sys  # noqa: E402

sys.path.insert(0, HERE)
from voice_frontend import AmplitudeCalibration, ConcatFrontEnd, PhoneFrontEnd, SpectralFrontEnd  # noqa: E402

CONFIGS = {
    "mel_cmvn_utt": lambda: SpectralFrontEnd(cmvn_s=0.0),
    "mel_cmvn15": lambda: SpectralFrontEnd(cmvn_s=1.5),
    "mel_cmn15": lambda: SpectralFrontEnd(cmvn_s=1.5, var_norm=False),
    "mfcc20_cmvn15": lambda: SpectralFrontEnd(n_ceps=20, cmvn_s=1.5),
    "mfcc13_cmvn15": lambda: SpectralFrontEnd(n_ceps=13, cmvn_s=1.5),
    "mel_cmvn15_vtln": lambda: SpectralFrontEnd(cmvn_s=1.5, vtln=True),
    "mfcc20_cmvn15_vtln": lambda: SpectralFrontEnd(n_ceps=20, cmvn_s=1.5, vtln=True),
    "mel_cmvn15_aug": lambda: SpectralFrontEnd(cmvn_s=1.5, train_warps=(0.88, 1.0, 1.12)),
    "mfcc20_cmvn15_aug": lambda: SpectralFrontEnd(n_ceps=20, cmvn_s=1.5, train_warps=(0.88, 1.0, 1.12)),
    "mel8_cmvn15": lambda: SpectralFrontEnd(n_mels=8, cmvn_s=1.5),
    "mel16_cmvn15": lambda: SpectralFrontEnd(n_mels=16, cmvn_s=1.5),
    "mel8_cmvn15_vtln": lambda: SpectralFrontEnd(n_mels=8, cmvn_s=1.5, vtln=True, n_gmm=16),
    "mel_plain": lambda: SpectralFrontEnd(cmvn_s=None),
    "mel_cmvn15_aug5": lambda: SpectralFrontEnd(cmvn_s=1.5, train_warps=(0.84, 0.92, 1.0, 1.08, 1.16)),
    "phones": lambda: PhoneFrontEnd(),
    "phones_s5": lambda: PhoneFrontEnd(smooth_frames=5),
    "phones_mel8": lambda: ConcatFrontEnd([PhoneFrontEnd(), SpectralFrontEnd(n_mels=8, cmvn_s=1.5)], [1.0, 0.5]),
    "phones_mfcc20": lambda: ConcatFrontEnd([SpectralFrontEnd(n_ceps=20, cmvn_s=1.5), PhoneFrontEnd()], [1.0, 3.0]),
}


def load_clips(names, file="drivers.npz"):
    z = np.load(os.path.join(HERE, "tmp", file))
    if names is None:
        names = sorted({k.split("|")[0] for k in z.files})
    return {n: {k: z[f"{n}|{k}"] for k in ("audio", "time_s", "opening", "width", "fps")} for n in names}


def raw_r(pairs):
    a = np.concatenate([o for o, _ in pairs])
    b = np.concatenate([t for _, t in pairs])
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def centred_r(pairs):
    a, b = [], []
    for o, t in pairs:
        ok = np.isfinite(o) & np.isfinite(t)
        a.append(o[ok] - o[ok].mean())
        b.append(t[ok] - t[ok].mean())
    a, b = np.concatenate(a), np.concatenate(b)
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def db_reference_calibration(db, model, ref_scale=0.86, **kw):
    """AmplitudeCalibration whose reference is the database's TRUE per-sentence opening spread (median of the
    recordings' 10-90 % ranges) times ``ref_scale``: the ratio of the model's prediction spread on the
    speaker's own held-out speech to the true spread (0.86 on GRID s1, every:8:7, baseline model: 5.44 / 6.31).
    So an unseen voice's prediction moves as much as the speaker's own voice's prediction does."""
    from sketchsynth.layout import SPEECH_POINTS
    from sketchsynth.stages import TARGET_GAIN

    rows = np.asarray(model.bank_rows_)
    rows = np.unique(rows)
    Y = np.asarray(db.normalized_[rows][:, SPEECH_POINTS], np.float64)
    rec = np.asarray(db.table_.codes)[rows]
    cal = AmplitudeCalibration(**kw).fit(Y, mean=model.mean_mouth(db), groups=rec)
    cal.ref_spread_ *= ref_scale
    return cal


def run(db, model, clips, calib=None, use_baseline=False, router=None, smooth=None, closure=None):
    from sketchsynth.decode import ViterbiDecoder
    from sketchsynth.defaults import DEFAULT_AUDIO_SMOOTH
    from sketchsynth.speech.metrics import lip_width, mouth_opening
    from sketchsynth.stages import Audio, AudioFeatures, select, speech_target

    from frontend_model import baseline_context

    base = db.speech_model_
    out = {}
    for n, c in clips.items():
        y, t = c["audio"], c["time_s"].astype(np.float64)
        t0 = time.process_time()
        m = model
        info = {}
        if use_baseline:
            X = baseline_context(db, y, t)
            m = base
        elif isinstance(model, list):
            preds = []
            for mm in model:
                Xi = baseline_context(db, y, t) if mm is base else mm.input_context(y, t)
                ti = {}
                preds.append(mm.predict(Xi, ti, reduced=mm.reduce(Xi)))
                if mm is base:
                    X = Xi
            if not any(mm is base for mm in model):
                X = Xi
            m = model[0]
        else:
            if router is not None:
                Xb = baseline_context(db, y, t)
                ib = {}
                base.project(base.reduce(Xb), ib)
                info["base_ratio"] = ib.get("voice_distance_ratio")
                if ib.get("voice_distance_ratio") is not None and ib["voice_distance_ratio"] < router:
                    X, m = Xb, base
                else:
                    X = model.input_context(y, t)
            else:
                X = model.input_context(y, t)
        Z = m.reduce(X)
        tm = {}
        pred = np.mean(preds, 0).astype(np.float32) if isinstance(model, list) else m.predict(X, tm, reduced=Z)
        gain = 1.0
        if calib is not None and (m is not base or isinstance(model, list)):
            pred = calib.transform(pred)
            gain = calib.last_gain_
        if closure is not None and m is not base:
            pred, sil = closure(y, t, pred)
            info["silence_frac"] = float(sil.mean())
        cpu = time.process_time() - t0
        db.speech_model_ = m
        feats = AudioFeatures(X, t, float(c["fps"]), Audio(y, 16000, n, n), reduced=Z)
        target = speech_target(db, pred, feats)
        rows = select(db, target, ViterbiDecoder(smooth=DEFAULT_AUDIO_SMOOTH if smooth is None else smooth)
                      ).result.rows
        db.speech_model_ = base
        o_sel = mouth_opening(db.keypoints_[rows].astype(np.float64))
        w_sel = lip_width(db.keypoints_[rows].astype(np.float64))
        o_reg = np.linalg.norm(pred[:, 17 + 14] - pred[:, 17 + 18], axis=-1)
        tr = c["opening"]
        ok = np.isfinite(tr)
        out[n] = {"r": centred_r([(o_sel, tr)]), "r_reg": centred_r([(o_reg, tr)]),
                  "ratio": float(np.nanstd(o_sel[ok]) / np.nanstd(tr[ok])), "gain": gain,
                  "lle": tm.get("lle"), "warp": getattr(getattr(m, "front", None), "last_warp_", None),
                  "features_predict_cpu_s": cpu, "dur_s": len(y) / 16000, **info,
                  "_o_sel": o_sel, "_o_reg": o_reg, "_tr": tr, "_w_sel": w_sel, "_tw": c["width"]}
    return out


def summarize(res):
    groups = sorted({n.split("/")[0] for n in res})
    s = {}
    for g in groups + ["POOLED"]:
        ns = [n for n in res if g == "POOLED" or n.startswith(g + "/")]
        s[g] = {"n_clips": len(ns), "r": centred_r([(res[n]["_o_sel"], res[n]["_tr"]) for n in ns]),
                "r_reg": centred_r([(res[n]["_o_reg"], res[n]["_tr"]) for n in ns]),
                "std_ratio_median": float(np.median([res[n]["ratio"] for n in ns])),
                "opening_r_raw_pooled": raw_r([(res[n]["_o_sel"], res[n]["_tr"]) for n in ns]),
                "width_r_raw_pooled": raw_r([(res[n]["_w_sel"], res[n]["_tw"]) for n in ns])}
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=os.path.join(HERE, "tmp", "db_s1"))
    ap.add_argument("--front", default="baseline")
    ap.add_argument("--set", default="VAL")
    ap.add_argument("--calib", action="store_true")
    ap.add_argument("--calib-max", type=float, default=3.0)
    ap.add_argument("--calib-scale", type=float, default=0.86)
    ap.add_argument("--router", type=float, default=None, help="baseline model below this voice ratio")
    ap.add_argument("--lle-blend", type=float, default=1.0)
    ap.add_argument("--lle-auto", type=int, default=1)
    ap.add_argument("--smooth", type=float, default=None)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--closure", type=float, default=None, help="SilenceClosure threshold (0-1)")
    ap.add_argument("--regressor", default=None)
    ap.add_argument("--knn-components", type=int, default=None)
    a = ap.parse_args()
    from sketchsynth.database import FrameDatabase
    from sketchsynth.speech_model import require_model

    from frontend_model import FrontEndSpeechModel

    db = FrameDatabase.load(a.db)
    base = require_model(db)
    if a.set == "OWN":   # GRID s1 every:8:7: database of the 700 others, the 100 held-out sentences drive it
        clips = load_clips(None, "own.npz")
    else:
        split = json.load(open(os.path.join(HERE, "split.json")))
        clips = load_clips(split[a.set])
    fit_info = {}
    if a.front == "baseline":
        model = base
    elif "+" in a.front:
        kw = {"regressor_params": {"knn_components": a.knn_components}} if a.knn_components else {}
        model = [base if f == "baseline" else
                 FrontEndSpeechModel(CONFIGS[f](), lle_blend=a.lle_blend, lle_auto=bool(a.lle_auto), **kw).fit(db)
                 for f in a.front.split("+")]
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        kw = {"regressor": a.regressor} if a.regressor else {}
        if a.knn_components:
            kw["regressor_params"] = {"knn_components": a.knn_components}
        model = FrontEndSpeechModel(CONFIGS[a.front](), lle_blend=a.lle_blend, lle_auto=bool(a.lle_auto), **kw).fit(db)
        fit_info = {"fit_wall_s": time.perf_counter() - t0, "fit_cpu_s": time.process_time() - c0,
                    "front_cpu_s": model.front_cpu_seconds_, "n_train": model.n_train_}
        print("fit", fit_info, flush=True)
    calib = db_reference_calibration(db, model[0] if isinstance(model, list) else model, max_gain=a.calib_max,
                                     ref_scale=a.calib_scale) if a.calib else None
    if a.regressor:
        pass
    closure = None
    if a.closure:
        from voice_frontend import SilenceClosure
        from sketchsynth.layout import SPEECH_POINTS
        m0 = model[0] if isinstance(model, list) else model
        rows = np.unique(np.asarray(m0.bank_rows_))
        closure = SilenceClosure(threshold=a.closure).fit(np.asarray(db.normalized_[rows][:, SPEECH_POINTS], np.float64))
    res = run(db, model, clips, calib, use_baseline=a.front == "baseline", router=a.router, smooth=a.smooth,
              closure=closure)
    np.savez(os.path.join(HERE, "results", f"{(a.tag or a.front + ('_calib' if a.calib else ''))}_{a.set}_series.npz"),
             **{f"{n}|{k}": v for n, d in res.items() for k, v in d.items() if k.startswith("_")})
    summ = summarize(res)
    tag = a.tag or (a.front + ("_calib" if a.calib else ""))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    per = {n: {k: v for k, v in d.items() if not k.startswith("_")} for n, d in res.items()}
    cpu60 = 60 * sum(d["features_predict_cpu_s"] for d in per.values()) / sum(d["dur_s"] for d in per.values())
    json.dump({"args": vars(a), "fit": fit_info, "summary": summ, "cpu_per_60s": cpu60, "clips": per},
              open(os.path.join(HERE, "results", f"{tag}_{a.set}.json"), "w"), indent=1, default=float)
    print(f"== {tag} on {a.set}: features+predict CPU per 60 s {cpu60:.2f} s")
    for g, v in summ.items():
        print(f"{g:10s} n={v['n_clips']:2d}  r_sel={v['r']:.3f}  r_reg={v['r_reg']:.3f}  "
              f"std_ratio={v['std_ratio_median']:.2f}  raw_open_r={v['opening_r_raw_pooled']:.3f} "
              f"raw_width_r={v['width_r_raw_pooled']:.3f}")
    for n, d in (per.items() if a.set != "OWN" else []):
        print(f"  {n:40s} r={d['r']:.3f} ratio={d['ratio']:.2f} gain={d['gain']:.2f} "
              f"vr={(d['lle'] or {}).get('voice_distance_ratio') or float('nan'):.2f} warp={d['warp']}")


if __name__ == "__main__":
    main()
